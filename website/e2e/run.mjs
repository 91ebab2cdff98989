// End-to-end check of the served website and docs in a real browser (Debian's Chromium, headless,
// driven by playwright-core). Needs a running server with demo data and an admin:
//   BASE_URL (default http://127.0.0.1:8008), E2E_ADMIN_EMAIL / E2E_ADMIN_PASSWORD.
// Numbers on the pages are compared with the very API responses the pages received.
// Screenshots go to website/test-results/ (or E2E_ARTIFACTS_DIR) as test artifacts.
// E2E_SECRETS_FILE (optional): every API key and auth token the run used is appended there, one a
// line, so scripts/e2e.sh can check that none of them reached the server's or worker's logs.
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { launch, signIn as signInAt, watchPage } from "./browser.mjs";

const baseUrl = process.env.BASE_URL ?? "http://127.0.0.1:8008";
const artifacts = process.env.E2E_ARTIFACTS_DIR ?? join(import.meta.dirname, "..", "test-results");
const admin = { email: process.env.E2E_ADMIN_EMAIL, password: process.env.E2E_ADMIN_PASSWORD };
if (!admin.email || !admin.password) throw new Error("set E2E_ADMIN_EMAIL and E2E_ADMIN_PASSWORD (an admin account of the server)");
mkdirSync(artifacts, { recursive: true });

// The dashboard's number formats (website/src/format.ts), to read what a page must show.
const percent = (rate) => (rate == null ? "–" : `${(rate * 100).toFixed(1)}%`);
const count = (n) => (n == null ? "–" : Math.round(n).toLocaleString("en-US"));
const score = (x) => (x == null ? "–" : x.toFixed(3));
const pValue = (p) => (p == null ? "–" : p < 0.001 ? "< 0.001" : p.toFixed(3));
const millis = (ms) => (ms == null ? "–" : ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

// A non-admin account to sign in with, created through the API as the plugin would.
const user = { email: `e2e-${Date.now()}@example.com`, password: "Browser123" };
const signUp = await fetch(`${baseUrl}/api/user/create`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ email: user.email, name: "Browser Tester", password: user.password, config_id: 1 }),
});
if (signUp.status !== 201) throw new Error(`could not create the e2e account: ${signUp.status} ${await signUp.text()}`);

/** Notes a key or token the run used, for the log check of scripts/e2e.sh. */
function recordSecret(secret) {
  if (process.env.E2E_SECRETS_FILE && secret) appendFileSync(process.env.E2E_SECRETS_FILE, `${secret}\n`);
}

/** Notes the auth token cookie(s) a browser context holds. */
async function recordAuthTokens(context) {
  for (const cookie of await context.cookies(baseUrl)) {
    if (cookie.name === "auth_token") recordSecret(cookie.value);
  }
}

/** Calls `GET /api/usage` with an API key (no cookies), returning the status. */
async function usageWithKey(key) {
  const response = await fetch(`${baseUrl}/api/usage?period=week`, { headers: { authorization: `Bearer ${key}` } });
  await response.arrayBuffer();
  return response.status;
}

/** Sums the figures of the chart's number table (every endpoint, every day). */
async function chartTotal(page) {
  const cells = await page.getByTestId("usage-chart").locator(".chart-data tbody td").allTextContents();
  return cells.reduce((sum, cell) => sum + (cell.trim() === "–" ? 0 : Number(cell.replaceAll(",", ""))), 0);
}

function expectEqual(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: the page shows "${actual}", the API said "${expected}"`);
}

/** Signs in through the form and waits for the dashboard. */
async function signIn(page, account) {
  await signInAt(page, baseUrl, account);
  await recordAuthTokens(page.context());
}

/** Opens `path` and returns the JSON body of the first response whose URL contains `endpoint`. */
async function openAndCapture(page, path, endpoint) {
  const response = page.waitForResponse((r) => r.url().includes(endpoint) && r.status() === 200);
  await page.goto(`${baseUrl}${path}`);
  return (await response).json();
}

/** Fails when any panel of the page shows an error (after its requests have settled). */
async function expectNoPanelErrors(page) {
  await page.waitForLoadState("networkidle");
  const errors = await page.locator(".error-box").allTextContents();
  if (errors.length > 0) throw new Error(`panels show errors: ${errors.join(" | ")}`);
}

/** The text of a test id, trimmed. */
async function text(page, testId) {
  return (await page.getByTestId(testId).first().textContent()).trim();
}

const checks = [
  {
    name: "signed out: the landing page shows the server as healthy",
    async run(page) {
      await page.goto(`${baseUrl}/`);
      await page.getByRole("heading", { name: "Code4me-RS" }).waitFor();
      const summary = page.getByTestId("health-summary");
      await summary.waitFor();
      expectEqual(await summary.textContent(), "All systems operational", "health summary");
      await page.screenshot({ path: join(artifacts, "login.png"), fullPage: true });
    },
  },
  {
    name: "a user signs in, stays signed in across a reload, sees only their own data and no admin pages, and logs out",
    async run(page) {
      await page.goto(`${baseUrl}/`);
      await page.getByLabel("E-mail").fill(user.email);
      await page.getByLabel("Password").fill("wrong-password");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("alert").filter({ hasText: "Invalid email or password!" }).waitFor();
      await page.getByLabel("Password").fill(user.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByTestId("signed-in").filter({ hasText: "Browser Tester" }).waitFor();
      await recordAuthTokens(page.context());
      await page.getByText("These are your own numbers").waitFor();
      const nav = page.getByRole("navigation", { name: "Dashboard pages" });
      if ((await nav.getByRole("link", { name: "Studies" }).count()) !== 0) throw new Error("a non-admin sees the Studies page");
      await page.goto(`${baseUrl}/config`);
      await page.getByRole("heading", { name: "Admins only" }).waitFor();
      await page.reload();
      await page.getByTestId("signed-in").waitFor();
      await page.getByRole("button", { name: "Log out" }).click();
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      await page.reload();
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
    },
  },
  {
    name: "a user creates an API key, copies it once, uses it, sees the usage the API reports, and revokes it",
    async run(page) {
      const uses = 3;
      await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
      await signIn(page, user);
      await page.getByRole("navigation", { name: "Dashboard pages" }).getByRole("link", { name: "API keys & usage" }).click();
      await page.getByRole("heading", { level: 1, name: "API keys & usage" }).waitFor();
      await page.getByTestId("keys-empty").waitFor();

      const form = page.getByTestId("new-key");
      await form.getByLabel("Name").fill("Browser key");
      await form.getByLabel(/^Expires after/).fill("30");
      const creating = page.waitForResponse((r) => r.url().endsWith("/api/keys") && r.request().method() === "POST");
      await form.getByRole("button", { name: "Create key" }).click();
      const created = await (await creating).json();
      recordSecret(created.key);
      if (!/^c4m_[A-Za-z0-9]{40}$/.test(created.key)) throw new Error(`unexpected key shape (prefix ${created.prefix})`);
      expectEqual(await text(page, "created-key"), created.key, "the key shown once");
      await page.getByTestId("key-once").filter({ hasText: "shown only this once" }).waitFor();
      await form.getByRole("button", { name: "Copy" }).click();
      await page.getByTestId("copy-state").filter({ hasText: "Copied" }).waitFor();
      const clipboard = await page.evaluate(() => navigator.clipboard.readText());
      if (clipboard !== created.key) throw new Error("the clipboard does not hold the new key");

      // The key works: each call is admitted and metered (the worker writes the rows a moment later).
      for (let i = 0; i < uses; i += 1) {
        const status = await usageWithKey(created.key);
        if (status !== 200) throw new Error(`GET /api/usage with the new key answered ${status}`);
      }
      let report;
      const deadline = Date.now() + 20_000;
      for (;;) {
        report = await (await page.request.get(`${baseUrl}/api/usage?period=week`)).json();
        if (report.totals.requests >= uses) break;
        if (Date.now() > deadline) throw new Error(`usage still shows ${report.totals.requests} of ${uses} requests after 20 s`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expectEqual(report.totals.requests, uses, "metered requests (API)");

      // After a reload the list shows the key's prefix, never the key; the page's numbers are the API's.
      const shown = page.waitForResponse((r) => r.url().includes("/api/usage?period=week") && r.ok());
      await page.reload();
      const body = await (await shown).json();
      const row = page.getByTestId(`key-${created.id}`);
      await row.waitFor();
      expectEqual(await text(page, `key-prefix-${created.id}`), `${created.prefix}…`, "the listed key");
      if ((await page.content()).includes(created.key)) throw new Error("the page still shows the key after a reload");
      const listed = await (await page.request.get(`${baseUrl}/api/keys`)).text();
      if (listed.includes(created.key)) throw new Error("GET /api/keys returns the key itself");
      expectEqual(body.totals.requests, uses, "metered requests (the page's report)");
      expectEqual(await text(page, "usage-requests"), count(body.totals.requests), "requests");
      expectEqual(await text(page, "usage-errors"), count(body.totals.errors), "errors");
      expectEqual(await text(page, "usage-prompt-tokens"), count(body.totals.prompt_tokens), "prompt tokens");
      expectEqual(await text(page, "usage-generated-tokens"), count(body.totals.generated_tokens), "generated tokens");
      await page.getByTestId("usage-chart").locator(".recharts-bar-rectangle").first().waitFor();
      expectEqual(await chartTotal(page), body.totals.requests, "requests in the chart");
      expectEqual(await text(page, "quota-tier"), body.quota.tier, "tier");
      for (const window of ["requests_per_hour", "requests_per_day", "tokens_per_day"]) {
        const { used, limit } = body.quota[window];
        expectEqual(await text(page, `quota-${window}-used`), `${count(used)} / ${count(limit)}`, `quota ${window}`);
      }
      if (body.quota.requests_per_day.used < uses) throw new Error(`the daily quota counts ${body.quota.requests_per_day.used} of ${uses} requests`);
      await expectNoPanelErrors(page);
      await page.screenshot({ path: join(artifacts, "api-keys.png"), fullPage: true });

      // The period selector asks for the month: thirty days on the chart, the same requests.
      const month = page.waitForResponse((r) => r.url().includes("/api/usage?period=month") && r.ok());
      await page.getByRole("combobox", { name: /^Period/ }).selectOption("month");
      const monthBody = await (await month).json();
      await page.getByTestId("usage-chart").waitFor();
      expectEqual(await page.getByTestId("usage-chart").locator(".chart-data tbody tr").count(), 30, "days in the month chart");
      expectEqual(await chartTotal(page), monthBody.totals.requests, "requests in the month chart");

      // Revoked (after confirming), the key is refused at once.
      page.once("dialog", (dialog) => void dialog.accept());
      await row.getByRole("button", { name: /^Revoke/ }).click();
      await page.getByTestId("key-notice").filter({ hasText: created.prefix }).waitFor();
      await page.getByTestId("keys-empty").waitFor();
      const after = await usageWithKey(created.key);
      if (after !== 401) throw new Error(`a revoked key answered ${after}, not 401`);
    },
  },
  {
    name: "a client-side route serves the dashboard",
    async run(page) {
      const response = await page.goto(`${baseUrl}/usage/acceptance`);
      if (response?.status() !== 200) throw new Error(`status ${response?.status()}`);
      await page.getByRole("heading", { name: "Code4me-RS" }).waitFor();
    },
  },
  {
    name: "admin: overview KPIs match the dashboard endpoint and the activity chart draws",
    admin: true,
    async run(page) {
      const dashboard = await openAndCapture(page, "/", "/api/analytics/overview/dashboard");
      await page.getByTestId("kpi-total-queries").waitFor();
      if (dashboard.overview.total_queries === 0) throw new Error("the demo data gave the dashboard no queries");
      expectEqual(await text(page, "kpi-total-queries"), count(dashboard.overview.total_queries), "total queries");
      expectEqual(await text(page, "kpi-active-users"), count(dashboard.overview.active_users), "active users");
      expectEqual(await text(page, "kpi-acceptance-rate"), percent(dashboard.overview.overall_acceptance_rate), "acceptance rate");
      await page.getByTestId("activity").locator(".recharts-line").first().waitFor();
      await expectNoPanelErrors(page);
      await page.screenshot({ path: join(artifacts, "overview.png"), fullPage: true });
      // Every period works, the shortest included (engagement then reads the last 7 days).
      await page.getByRole("combobox", { name: /^Period/ }).selectOption("1d");
      await page.getByRole("heading", { name: "Engagement, last 7 days" }).waitFor();
      await expectNoPanelErrors(page);
    },
  },
  {
    name: "admin: usage shows acceptance with the API's intervals and latency percentiles",
    admin: true,
    async run(page) {
      const rates = await openAndCapture(page, "/usage", "/api/analytics/usage/acceptance-rates");
      const first = rates.data[0];
      if (!first) throw new Error("no acceptance rates in the demo data");
      const pct = (x) => (x * 100).toFixed(1);
      const expected = `${pct(first.acceptance_rate)}% (${pct(first.confidence_interval.lower)}–${pct(first.confidence_interval.upper)}%)`;
      await page.getByTestId(`acceptance-${first.group_name}`).waitFor();
      expectEqual(await text(page, `acceptance-${first.group_name}`), expected, `acceptance of ${first.group_name}`);
      await page.getByTestId("acceptance-rates").locator(".recharts-errorBar").first().waitFor();
      await page.getByTestId("latency").locator("table").waitFor();
      await page.getByTestId("queries-over-time").locator(".recharts-bar-rectangle").first().waitFor();
      await expectNoPanelErrors(page);
      await page.screenshot({ path: join(artifacts, "usage.png"), fullPage: true });
    },
  },
  {
    name: "admin: models are compared side by side as the API reports them",
    admin: true,
    async run(page) {
      const comparison = await openAndCapture(page, "/models", "/api/analytics/models/comparison");
      const model = comparison.data[0];
      if (!model) throw new Error("no models in the comparison");
      const cell = `compare-${model.model_id}-Acceptance rate`;
      await page.getByTestId(cell).waitFor();
      expectEqual(await text(page, cell), percent(model.metrics.acceptance_rate), `${model.model_name} acceptance`);
      expectEqual(await text(page, `compare-${model.model_id}-Generations`), count(model.metrics.total_generations), "generations");
      await page.getByTestId("model-trends").locator(".recharts-line").first().waitFor();
      await page.getByTestId("ground-truth").locator("table").waitFor();
      await expectNoPanelErrors(page);
      await page.screenshot({ path: join(artifacts, "models.png"), fullPage: true });
    },
  },
  {
    name: "admin: calibration shows the reliability diagram with its diagonal, the API's ECE and Brier scores",
    admin: true,
    async run(page) {
      const brier = page.waitForResponse((r) => r.url().includes("/api/analytics/calibration/brier-score") && r.ok());
      const reliability = await openAndCapture(page, "/calibration", "/api/analytics/calibration/reliability-diagram");
      const model = reliability.data[0];
      if (!model) throw new Error("no calibration data");
      await page.getByTestId("ece-value").waitFor();
      expectEqual(await text(page, "ece-value"), score(model.expected_calibration_error), "ECE");
      const diagram = page.getByTestId("reliability");
      await diagram.locator(".recharts-reference-line").waitFor();
      await diagram.locator(".recharts-scatter-symbol").first().waitFor();
      const brierBody = await (await brier).json();
      const row = brierBody.data[0];
      expectEqual(await text(page, `brier-${row.group_name}`), score(row.brier_score), `Brier of ${row.group_name}`);
      await page.getByTestId("confidence-histogram").locator(".recharts-bar-rectangle").first().waitFor();
      await expectNoPanelErrors(page);
      await page.screenshot({ path: join(artifacts, "calibration.png"), fullPage: true });
    },
  },
  {
    name: "admin: the research page shows the API's effort figures, code survival and latency by stage",
    admin: true,
    async run(page) {
      const effortResponse = page.waitForResponse((r) => r.url().includes("/api/analytics/research/effort") && r.ok());
      const stagesResponse = page.waitForResponse((r) => r.url().includes("/api/analytics/research/latency-stages") && r.ok());
      const survival = await openAndCapture(page, "/research", "/api/analytics/research/code-survival");
      const effort = await (await effortResponse).json();
      await page.getByTestId("effort-shown-rate").waitFor();
      expectEqual(await text(page, "effort-shown-rate"), percent(effort.shown_rate), "shown / requested");
      expectEqual(await text(page, "effort-acceptance-per-shown"), percent(effort.acceptance_per_shown), "accepted / shown");
      expectEqual(await text(page, "effort-suggested-share"), percent(effort.suggested_share_of_new_code), "share of new code");
      const point = survival.data.find((p) => p.generations > 0);
      if (!point) throw new Error("no code survival in the demo data");
      const label = point.checkpoint_seconds < 60 ? `${point.checkpoint_seconds} s` : `${Math.round(point.checkpoint_seconds / 60)} min`;
      expectEqual(await text(page, `survival-${label}-n`), count(point.generations), `completions scored after ${label}`);
      await page.getByTestId("code-survival").locator(".recharts-bar-rectangle").first().waitFor();
      const stages = (await (await stagesResponse).json()).data[0];
      if (!stages) throw new Error("no latency stages in the demo data");
      expectEqual(
        await text(page, `stages-${stages.model_name}-prefill`),
        `${millis(stages.prefill.p50_ms)} / ${millis(stages.prefill.p90_ms)}`,
        `${stages.model_name} prefill p50 / p90`,
      );
      await expectNoPanelErrors(page);
      await page.screenshot({ path: join(artifacts, "research.png"), fullPage: true });
    },
  },
  {
    name: "admin: a study is created, activated, evaluated and ended; the finished demo study's p-value matches the API",
    admin: true,
    async run(page) {
      await page.goto(`${baseUrl}/studies`);
      const form = page.getByTestId("new-study");
      const name = `Browser study ${Date.now()}`;
      await form.getByLabel("Name").fill(name);
      await form.getByLabel("Description").fill("Created by the browser test");
      // Starting tomorrow, so it is created inactive (a study whose start has come is active at once).
      await form.getByLabel("Starts").fill(new Date(Date.now() + 86_400_000).toISOString().slice(0, 16));
      await form.getByLabel("Baseline config").selectOption("1");
      await form.getByRole("checkbox", { name: "config 2" }).check();
      await form.getByRole("button", { name: "Create study" }).click();
      await page.getByTestId("study-notice").filter({ hasText: "Study created successfully" }).waitFor();
      const row = page.getByRole("row").filter({ hasText: name });
      await row.getByText("inactive", { exact: true }).waitFor();
      await row.getByRole("button", { name: /^Activate/ }).click();
      await page.getByTestId("study-notice").filter({ hasText: /' activated successfully/ }).waitFor();
      await row.getByText("active", { exact: true }).waitFor();
      await row.getByRole("button", { name: /^Evaluate/ }).click();
      await page.getByTestId("evaluation").getByText(name).waitFor();
      await page.getByTestId("arm-1").getByText("baseline").first().waitFor();
      await page.getByTestId("evaluation-warnings").waitFor(); // a new study has too few generations per arm

      // The demo's finished study has data: its p-value is the API's.
      const demoRow = page.getByRole("row").filter({ hasText: "Retrieval context" });
      const evaluation = page.waitForResponse((r) => r.url().includes("/evaluation") && r.ok());
      await demoRow.getByRole("button", { name: /^Evaluate/ }).click();
      const body = await (await evaluation).json();
      const arm = body.results.find((r) => !r.is_baseline);
      await page.getByTestId("evaluation").getByText("Retrieval context").waitFor();
      expectEqual(await text(page, `arm-${arm.config_id}-p`), pValue(arm.vs_baseline.p_value), "p-value of the demo study");
      const robust = arm.vs_baseline.robust;
      expectEqual(await text(page, `arm-${arm.config_id}-robust-p`), robust ? pValue(robust.holm_p_value) : "–", "per-user p-value of the demo study");
      await page.getByTestId("sample-ratio").waitFor();
      await expectNoPanelErrors(page);
      await page.screenshot({ path: join(artifacts, "studies.png"), fullPage: true });

      await row.getByRole("button", { name: /^Deactivate/ }).click();
      await page.getByTestId("study-notice").filter({ hasText: "deactivated successfully" }).waitFor();
    },
  },
  {
    name: "admin: a config is created, an invalid edit is refused in place, models and languages are listed",
    admin: true,
    async run(page) {
      await page.goto(`${baseUrl}/config`);
      await page.getByRole("button", { name: "New config…" }).click();
      const editor = page.getByLabel("New config (HOCON)");
      await editor.fill("config {\n  retrieval { enabled = false }\n}\n");
      await page.getByRole("button", { name: "Create config" }).click();
      const saved = await page.getByTestId("config-saved").textContent();
      const id = /Saved config (\d+)/.exec(saved)?.[1];
      if (!id) throw new Error(`no config id in "${saved}"`);
      const edit = page.getByLabel(`Config ${id} (HOCON)`);
      await edit.fill("config {\n  retrieval { max_chunks = \n");
      await page.getByRole("button", { name: "Save config" }).click();
      const error = page.getByTestId("config-error");
      await error.filter({ hasText: "Invalid config" }).waitFor();
      if ((await edit.getAttribute("aria-invalid")) !== "true") throw new Error("the editor is not marked invalid");
      await page.getByTestId("models").locator("tbody tr").first().waitFor();
      await page.getByText(/\d+ languages the plugin can report/).click();
      await page.getByRole("list", { name: "Languages" }).getByText("Python", { exact: true }).waitFor();
      await page.getByTestId("models").locator("tbody tr").first().waitFor();
      await page.screenshot({ path: join(artifacts, "config.png"), fullPage: true });
    },
  },
  {
    name: "admin: the keyboard reaches every page and the layout fits a phone",
    admin: true,
    async run(page) {
      await page.goto(`${baseUrl}/`);
      await page.getByTestId("kpi-total-queries").waitFor();
      let reached = false;
      for (let i = 0; i < 15 && !reached; i += 1) {
        await page.keyboard.press("Tab");
        reached = await page.evaluate(() => document.activeElement?.textContent === "Calibration");
      }
      if (!reached) throw new Error("Tab never reached the Calibration link");
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { level: 1, name: "Calibration" }).waitFor();

      await page.setViewportSize({ width: 390, height: 844 });
      for (const path of ["/", "/research", "/keys", "/studies", "/config"]) {
        await page.goto(`${baseUrl}${path}`);
        await page.getByRole("heading", { level: 1 }).first().waitFor();
        await page.waitForLoadState("networkidle");
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        if (overflow > 1) throw new Error(`${path} is ${overflow}px wider than a phone screen`);
      }
      await page.goto(`${baseUrl}/`);
      await page.getByTestId("kpi-total-queries").waitFor();
      await page.screenshot({ path: join(artifacts, "overview-narrow.png"), fullPage: true });
    },
  },
  {
    name: "API docs render offline with our endpoints",
    async run(page) {
      await page.goto(`${baseUrl}/docs/`);
      await page.locator(".swagger-ui .info .title").filter({ hasText: "Code4me-RS" }).waitFor();
      await page.locator(".opblock-summary-path", { hasText: "/api/health" }).first().waitFor();
      await page.screenshot({ path: join(artifacts, "docs.png"), fullPage: true });
    },
  },
];

const browser = await launch();
let failures = 0;
try {
  // Admin checks share one signed-in browser context; the others start signed out.
  const adminContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const signInPage = await adminContext.newPage();
  await signIn(signInPage, admin);
  await signInPage.close();
  for (const check of checks) {
    const context = check.admin ? adminContext : await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(baseUrl) && !request.url().startsWith("data:")) problems.push(`request left the server: ${request.url()}`);
    });
    await watchPage(page, problems);
    // Every page of the website carries the policy (the docs UI is served outside it).
    page.on("response", (response) => {
      const url = new URL(response.url());
      const isPage = response.request().resourceType() === "document" && url.origin === new URL(baseUrl).origin;
      if (isPage && !url.pathname.startsWith("/docs") && !response.headers()["content-security-policy"]) {
        problems.push(`no Content-Security-Policy on ${url.pathname}`);
      }
    });
    try {
      page.setDefaultTimeout(20_000);
      await check.run(page);
      if (problems.length > 0) throw new Error(problems.join("; "));
      console.log(`ok   - ${check.name}`);
    } catch (error) {
      failures += 1;
      console.log(`FAIL - ${check.name}: ${error.message}`);
      await page.screenshot({ path: join(artifacts, `failed-${failures}.png`), fullPage: true }).catch(() => {});
    } finally {
      await recordAuthTokens(context).catch(() => {});
      await page.close();
      if (!check.admin) await context.close();
    }
  }
} finally {
  await browser.close();
}
console.log(`${checks.length - failures}/${checks.length} browser checks passed; screenshots in ${artifacts}`);
process.exit(failures === 0 ? 0 : 1);
