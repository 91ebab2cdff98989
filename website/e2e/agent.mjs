// End-to-end check of the repository agent's page (/agent) in Debian's Chromium against the real
// stack: a user starts a run on a local repository (AGENT_ALLOW_LOCAL on this stack) with the real
// local model, watches its stages arrive live, sees the diff and the pushed branch, and the branch
// is in the repository. Then the run's stored log is compared with what the page showed.
//   BASE_URL, E2E_AGENT_REPO (a bare repository the worker's sandbox account may write),
//   E2E_ARTIFACTS_DIR (screenshots; default website/test-results).
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launch, signIn, watchPage } from "./browser.mjs";

const base = process.env.BASE_URL ?? "http://127.0.0.1:8008";
const repo = process.env.E2E_AGENT_REPO;
if (!repo) throw new Error("E2E_AGENT_REPO must name a bare repository");
const artifacts = process.env.E2E_ARTIFACTS_DIR ?? join(import.meta.dirname, "..", "test-results");
mkdirSync(artifacts, { recursive: true });

const user = { email: `agent-${Date.now()}@example.com`, name: "Agent User", password: "AgentUser123" };
const created = await fetch(`${base}/api/user/create`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ ...user, config_id: 1 }),
});
if (created.status !== 201) throw new Error(`could not create the account: ${created.status} ${await created.text()}`);

const browser = await launch();
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await watchPage(page, problems);
  await signIn(page, base, user);
  await page.getByRole("link", { name: "Agent", exact: true }).click();
  await page.getByLabel("Repository URL").fill(repo);
  await page.getByLabel("What to change").fill("Describe calc.py in README.md");
  await page.getByRole("button", { name: "Start run" }).click();

  // Stages arrive while the run works: the progress bar rises to 100 and the run succeeds.
  const seen = new Set();
  const deadline = Date.now() + 180_000;
  const success = page.getByTestId("run-success");
  while (!(await success.isVisible()) && Date.now() < deadline) {
    const failure = page.getByTestId("run-failure");
    if (await failure.isVisible()) throw new Error(`the run failed: ${await failure.innerText()}`);
    const value = await page.getByRole("progressbar").getAttribute("aria-valuenow").catch(() => null);
    if (value !== null) seen.add(Number(value));
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!(await success.isVisible())) throw new Error("the run did not succeed within 180 s");
  const progress = [...seen].sort((a, b) => a - b);
  console.log(`progress values seen live: ${progress.join(", ")}`);
  if (progress.length < 2) throw new Error(`the progress bar did not move while the run worked: ${progress}`);
  const finalProgress = await page.getByRole("progressbar").getAttribute("aria-valuenow");
  if (finalProgress !== "100") throw new Error(`final progress ${finalProgress}, not 100`);

  const diff = await page.getByTestId("run-diff").innerText();
  if (!diff.includes("README.md")) throw new Error(`the diff does not touch README.md:\n${diff}`);
  const stages = await page.getByTestId("run-stages").innerText();
  for (const label of ["Clone", "Push"]) if (!stages.includes(label)) throw new Error(`stage ${label} not listed:\n${stages}`);
  const outcome = await success.innerText();
  const branch = outcome.match(/code4me\/[a-z0-9-]+/)?.[0];
  if (!branch) throw new Error(`no branch in the outcome: ${outcome}`);
  await page.screenshot({ path: join(artifacts, "agent.png"), fullPage: true });

  // The branch is in the repository, with the commit the page shows.
  const branches = execFileSync("git", ["-c", "safe.directory=*", "-C", repo, "branch", "--list", branch], { encoding: "utf8" });
  if (!branches.includes(branch)) throw new Error(`${branch} is not in ${repo}`);

  // The run list shows it, succeeded; its stored log ends with the success the page showed.
  const row = page.getByRole("row").filter({ hasText: repo });
  await row.getByText("succeeded").first().waitFor();
  const runs = await page.evaluate(async () => (await (await fetch("/api/agent/runs")).json()).runs);
  const run = runs[0];
  if (run.status !== "succeeded" || run.branch !== branch) throw new Error(`stored run: ${JSON.stringify(run)}`);
  const detail = await page.evaluate(async (id) => (await fetch(`/api/agent/runs/${id}`)).json(), run.run_id);
  const last = detail.events.at(-1);
  if (last.type !== "success" || last.branch !== branch) throw new Error(`stored log ends with ${JSON.stringify(last)}`);
  const timings = detail.events.filter((e) => e.elapsed_ms !== undefined).map((e) => `${e.stage}=${e.elapsed_ms}ms`);
  console.log(`agent stage timings (real model, stack build): ${timings.join(" ")}`);
  if (problems.length) throw new Error(`the page reported problems:\n${problems.join("\n")}`);
  console.log("agent page: a run started, streamed live, succeeded, and its branch is upstream");
} finally {
  await browser.close();
}
