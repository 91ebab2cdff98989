// The web editor's entry (`/editor`): the projects the user is a member of, and a new one; a project
// opens at `/editor/{project_id}` (src/editor/Workspace.tsx). The editor is a client of the same
// pipeline as the plugin: its completions, acceptances and chats are research telemetry too.
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, unwrap } from "../api/client";
import { messageOf } from "../api/errors";
import { useAuth } from "../auth";
import { Notice } from "../components/Notice";
import { useLoad } from "../components/useLoad";
import { Workspace } from "../editor/Workspace";
import { dateTime } from "../format";

export function Editor() {
  const { projectId } = useParams();
  const { user } = useAuth();
  if (!user) return null;
  return projectId ? <Workspace key={projectId} projectId={projectId} user={user} /> : <Projects />;
}

function Projects() {
  const projects = useLoad(() => unwrap(api.GET("/api/editor/projects")), []);
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const navigate = useNavigate();

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const created = await unwrap(api.POST("/api/project/create", { body: { project_name: name.trim() } }));
      navigate(`/editor/${created.project_token}`);
    } catch (e) {
      setError(messageOf(e));
    }
  };

  return (
    <>
      <div className="page-head">
        <h1>Editor</h1>
      </div>
      <p className="hint">
        Edit a project's files together in the browser, with inline completions from the local model, chat and AI actions. Every suggestion
        and acceptance is recorded like the plugin's.
      </p>
      <section className="panel" aria-labelledby="projects-heading" data-testid="projects">
        <h2 id="projects-heading">Your projects</h2>
        {projects.state.status === "loading" && <p className="placeholder">Loading…</p>}
        {projects.state.status === "error" && <p className="error-box">{projects.state.message}</p>}
        {projects.state.status === "ready" &&
          (projects.state.data.projects.length === 0 ? (
            <p className="empty">No projects yet: create one below.</p>
          ) : (
            <ul className="project-list">
              {projects.state.data.projects.map((p) => (
                <li key={p.project_id}>
                  <Link to={`/editor/${p.project_id}`}>{p.project_name}</Link> <span className="hint">{p.is_owner ? "owner" : "member"} · {dateTime(p.created_at)}</span>
                </li>
              ))}
            </ul>
          ))}
        <form onSubmit={(e) => void create(e)} className="inline-form">
          <label htmlFor="project-name">New project</label>
          <input id="project-name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
          <button type="submit" disabled={!name.trim()}>
            Create
          </button>
        </form>
        <Notice notice={error ? { tone: "bad", text: error } : null} />
      </section>
    </>
  );
}
