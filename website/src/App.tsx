// The dashboard: a sign-in page until someone is signed in, then the research pages behind a
// navigation bar. Studies and Config are for admins; everyone else sees only their own data (API keys,
// usage and agent runs are everyone's own).
import { lazy, Suspense, useEffect } from "react";
import { NavLink, Route, Routes, useLocation } from "react-router";
import { useAuth } from "./auth";
import { ServerStatus } from "./components/ServerStatus";
import { Login } from "./Login";

// Pages load on first visit: the sign-in page does not wait for the chart library.
const Overview = lazy(() => import("./pages/Overview").then((m) => ({ default: m.Overview })));
const Usage = lazy(() => import("./pages/Usage").then((m) => ({ default: m.Usage })));
const Models = lazy(() => import("./pages/Models").then((m) => ({ default: m.Models })));
const Calibration = lazy(() => import("./pages/Calibration").then((m) => ({ default: m.Calibration })));
const Research = lazy(() => import("./pages/Research").then((m) => ({ default: m.Research })));
const Studies = lazy(() => import("./pages/Studies").then((m) => ({ default: m.Studies })));
const Config = lazy(() => import("./pages/Config").then((m) => ({ default: m.Config })));
const ApiKeys = lazy(() => import("./pages/ApiKeys").then((m) => ({ default: m.ApiKeys })));
const Editor = lazy(() => import("./pages/Editor").then((m) => ({ default: m.Editor })));
const Agent = lazy(() => import("./pages/Agent").then((m) => ({ default: m.Agent })));

/** The pages, in navigation order. */
const PAGES = [
  { path: "/", label: "Overview", element: <Overview />, admin: false },
  { path: "/usage", label: "Usage", element: <Usage />, admin: false },
  { path: "/models", label: "Models", element: <Models />, admin: false },
  { path: "/calibration", label: "Calibration", element: <Calibration />, admin: false },
  { path: "/research", label: "Research", element: <Research />, admin: false },
  { path: "/keys", label: "API keys & usage", element: <ApiKeys />, admin: false },
  { path: "/editor", label: "Editor", element: <Editor />, admin: false },
  { path: "/agent", label: "Agent", element: <Agent />, admin: false },
  { path: "/studies", label: "Studies", element: <Studies />, admin: true },
  { path: "/config", label: "Config", element: <Config />, admin: true },
];

export function App() {
  const { user, checking, signOut } = useAuth();
  const location = useLocation();
  // `/editor/{project_id}` is the Editor page too.
  const page = PAGES.find((p) => p.path === location.pathname || (p.path !== "/" && location.pathname.startsWith(`${p.path}/`)));
  useEffect(() => {
    document.title = user && page ? `${page.label} · Code4me-RS` : "Code4me-RS";
  }, [user, page]);

  if (checking) {
    return (
      <main className="page" aria-busy="true">
        <p role="status">Checking sign-in…</p>
      </main>
    );
  }

  if (!user) {
    return (
      <main className="page narrow">
        <header>
          <h1>Code4me-RS</h1>
          <p className="lede">
            Self-hostable code-completion research platform: local models for developers, every completion, acceptance and ground
            truth for researchers.
          </p>
        </header>
        <Login />
        <ServerStatus />
        <DeveloperLinks />
      </main>
    );
  }

  const pages = PAGES.filter((p) => !p.admin || user.is_admin);
  return (
    <div className="shell">
      <a className="skip-link" href="#content">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Code4me-RS</span>
        <nav aria-label="Dashboard pages">
          <ul>
            {pages.map((p) => (
              <li key={p.path}>
                {/* The period and user filter travel with the reader from page to page. */}
                <NavLink to={{ pathname: p.path, search: location.search }} end={p.path === "/"}>
                  {p.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="account" data-testid="signed-in">
          <span>
            {user.name}
            {user.is_admin ? " · admin" : ""}
          </span>
          <button type="button" className="secondary" onClick={() => void signOut()}>
            Log out
          </button>
        </div>
      </header>
      <main id="content" className={page?.path === "/editor" ? "page wide" : "page"}>
        <Suspense
          fallback={
            <p role="status" className="placeholder">
              Loading…
            </p>
          }
        >
          <Routes>
            {PAGES.map((p) => (
              <Route key={p.path} path={p.path} element={p.admin && !user.is_admin ? <AdminOnly /> : p.element} />
            ))}
            <Route path="/editor/:projectId" element={<Editor />} />
            <Route path="*" element={<NotFound />} />
          </Routes>
        </Suspense>
        <footer className="footer">
          <ServerStatus compact />
          <DeveloperLinks />
        </footer>
      </main>
    </div>
  );
}

function DeveloperLinks() {
  return (
    <nav aria-label="Developer links" className="dev-links">
      <a href="/docs/">API documentation</a>
      <a href="/openapi.json">OpenAPI document</a>
      <a href="/metrics">Prometheus metrics</a>
    </nav>
  );
}

function AdminOnly() {
  return (
    <section className="panel" role="alert">
      <h1>Admins only</h1>
      <p>This page manages the platform for everyone; ask an administrator for access.</p>
    </section>
  );
}

function NotFound() {
  return (
    <section className="panel">
      <h1>Page not found</h1>
      <p>
        <NavLink to="/">Back to the overview</NavLink>
      </p>
    </section>
  );
}
