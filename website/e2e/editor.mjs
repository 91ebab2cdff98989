// End-to-end checks of the web editor (/editor) in Debian's Chromium against the real stack: ghost-text
// completions from the real model and their telemetry, two users editing one file live through two
// server processes, a non-member refused, chat, an AI action and its undo, and — in a second run
// after scripts/e2e.sh restarted the server — the document intact.
//   E2E_PHASE=live:          BASE_URL (server 1), BASE_URL_2 (server 2, same PostgreSQL and Redis)
//   E2E_PHASE=after-restart: the same, after server 1 was restarted
// The phases share E2E_STATE_FILE (accounts, project, expected text). Screenshots and the measured
// figures (keystroke-to-ghost-text p50, edit-to-peer latency, the editor route's initial JS) go to
// E2E_ARTIFACTS_DIR (default website/test-results).
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { launch, signIn, watchPage } from "./browser.mjs";

const phase = process.env.E2E_PHASE ?? "live";
const base1 = process.env.BASE_URL ?? "http://127.0.0.1:8008";
const base2 = process.env.BASE_URL_2 ?? base1;
const artifacts = process.env.E2E_ARTIFACTS_DIR ?? join(import.meta.dirname, "..", "test-results");
const stateFile = process.env.E2E_STATE_FILE ?? join(artifacts, "editor-state.json");
mkdirSync(artifacts, { recursive: true });
const FILE = "main.py";

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function account(role) {
  const user = { email: `editor-${role}-${Date.now()}@example.com`, name: `Editor ${role}`, password: "Editor123" };
  const response = await fetch(`${base1}/api/user/create`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...user, config_id: 1 }),
  });
  if (response.status !== 201) throw new Error(`could not create the ${role} account: ${response.status} ${await response.text()}`);
  return user;
}

/** The editor's document as the user sees it: its lines, without ghost text or collaborators' labels. */
async function docText(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll(".cm-content .cm-line")]
      .map((line) => {
        const copy = line.cloneNode(true);
        copy.querySelectorAll(".cm-ghost-text, .cm-ySelectionInfo, .cm-ySelectionCaret, .cm-widgetBuffer").forEach((n) => n.remove());
        return copy.textContent;
      })
      .join("\n"),
  );
}

/** Waits up to `ms` for the page's document to be `expected`. */
async function waitForText(page, expected, ms) {
  const deadline = Date.now() + ms;
  let text = await docText(page);
  while (text !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    text = await docText(page);
  }
  if (text !== expected) throw new Error(`expected the document ${JSON.stringify(expected.slice(0, 80))}, the page shows ${JSON.stringify(text.slice(0, 80))}`);
}

async function openFile(page, base, projectId) {
  await page.goto(`${base}/editor/${projectId}?file=${encodeURIComponent(FILE)}`);
  await page.getByTestId("room-status").filter({ hasText: "connected" }).waitFor();
  await page.locator(".cm-content").waitFor();
}

/** Waits until the suggestion on screen has its stored query (the generation finished), returning its id. */
async function settledSuggestion(page) {
  await page.locator(".cm-ghost-text").waitFor({ timeout: 30_000 });
  const line = page.getByTestId("editor-line");
  await page.waitForFunction(() => {
    const el = document.querySelector("[data-testid=editor-line]");
    return el?.dataset.suggestion === "shown" && el.dataset.queryId && !el.dataset.queryId.startsWith("pending:");
  }, null, { timeout: 30_000 });
  return line.getAttribute("data-query-id");
}

/**
 * Polls `had_generation.was_accepted` of `queryId` in the stack's PostgreSQL (psql: E2E_PSQL and
 * the DB_* variables scripts/infra.sh exports) until it is `accepted`.
 */
async function expectStoredAcceptance(queryId, accepted) {
  const env = { ...process.env, PGPASSWORD: process.env.DB_PASSWORD };
  const args = ["-h", process.env.DB_HOST, "-p", process.env.DB_PORT, "-U", process.env.DB_USER, "-d", process.env.DB_NAME, "-tAc",
    `SELECT was_accepted FROM had_generation WHERE meta_query_id = '${queryId}'`];
  const want = accepted ? "t" : "f";
  const deadline = Date.now() + 20_000;
  let last = "";
  while (Date.now() < deadline) {
    last = execFileSync(process.env.E2E_PSQL ?? "psql", args, { env, encoding: "utf8" }).trim();
    if (last === want) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`had_generation.was_accepted of ${queryId} never became ${accepted} (last: ${JSON.stringify(last)})`);
}

const checks = [];
const check = (name, run) => checks.push({ name, run });

const browser = await launch();
const problems = [];
const contexts = [];
async function newPage(base, user) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  await watchPage(page, problems);
  await signIn(page, base, user);
  for (const cookie of await context.cookies(base)) {
    if (cookie.name === "auth_token" && process.env.E2E_SECRETS_FILE) appendFileSync(process.env.E2E_SECRETS_FILE, `${cookie.value}\n`);
  }
  return page;
}

const metrics = {};
let state;
let owner;
let member;

if (phase === "live") {
  state = { owner: await account("owner"), member: await account("member"), stranger: await account("stranger") };

  check("the owner creates a project and a file, and adds a member by e-mail", async () => {
    owner = await newPage(base1, state.owner);
    await owner.getByRole("link", { name: "Editor" }).click();
    await owner.getByTestId("projects").getByText("No projects yet").waitFor();
    await owner.getByLabel("New project").fill("Editor e2e");
    await owner.getByRole("button", { name: "Create" }).click();
    await owner.waitForURL(/\/editor\/[0-9a-f-]{36}/);
    state.projectId = owner.url().match(/\/editor\/([0-9a-f-]{36})/)[1];
    await owner.getByText("Create a file to start.").waitFor();
    await owner.getByLabel("New file").fill(FILE);
    await owner.getByRole("button", { name: "Create" }).click();
    await owner.getByTestId("room-status").filter({ hasText: "connected" }).waitFor();
    await owner.getByLabel("Add by e-mail").fill(state.member.email);
    await owner.getByRole("button", { name: "Add" }).click();
    await owner.getByText(`${state.member.name} can now edit this project.`).waitFor();
    // The initial JavaScript of the editor route: every script a fresh load of it fetched.
    await owner.reload();
    await owner.locator(".cm-content").waitFor();
    const scripts = await owner.evaluate(() =>
      performance.getEntriesByType("resource").map((r) => r.name).filter((name) => new URL(name).pathname.endsWith(".js")),
    );
    const bodies = await Promise.all(scripts.map(async (url) => (await owner.request.get(url)).body()));
    metrics.editor_route_js_bytes = bodies.reduce((sum, b) => sum + b.length, 0);
    metrics.editor_route_js_gzip_bytes = bodies.reduce((sum, b) => sum + gzipSync(b).length, 0);
    metrics.editor_route_js_files = scripts.length;
  });

  check("ghost text from the real model: Tab accepts (stored as accepted), typing over it rejects", async () => {
    const editor = owner.locator(".cm-content");
    await editor.click();
    await owner.keyboard.type("def fibonacci(n):\n");
    await settledSuggestion(owner);
    await owner.screenshot({ path: join(artifacts, "editor-ghost-text.png") });
    // Keystroke to ghost text: dismiss, type one character, time until the new ghost text shows.
    const samples = [];
    for (const key of ["#", " ", "r", "e", "t", "u", "r"]) {
      await owner.keyboard.press("Escape");
      await owner.locator(".cm-ghost-text").waitFor({ state: "detached" });
      const started = Date.now();
      await owner.keyboard.type(key);
      await owner.locator(".cm-ghost-text").waitFor({ timeout: 30_000 });
      samples.push(Date.now() - started);
      await settledSuggestion(owner);
    }
    metrics.keystroke_to_ghost_ms_p50 = median(samples);
    metrics.keystroke_to_ghost_ms_samples = samples;
    // Accept after partial typing: the suggestion's own first character keeps it, Tab takes the rest.
    let queryId = await settledSuggestion(owner);
    const ghost = await owner.locator(".cm-ghost-text").textContent();
    const before = await docText(owner);
    if (/^\S./s.test(ghost)) {
      await owner.keyboard.type(ghost[0]);
      const rest = await owner.locator(".cm-ghost-text").textContent();
      if (rest !== ghost.slice(1)) throw new Error(`typing the suggestion's first character left ${JSON.stringify(rest)} of ${JSON.stringify(ghost)}`);
      metrics.accepted_after_partial_typing = true;
    }
    await owner.keyboard.press("Tab");
    await owner.getByTestId("editor-line").filter({ hasText: "Suggestion accepted." }).waitFor();
    const after = await docText(owner);
    if (after.length !== before.length + ghost.length) throw new Error(`the accepted text is not the suggestion: ${JSON.stringify(after)} after ${JSON.stringify(before)} + ${JSON.stringify(ghost)}`);
    await expectStoredAcceptance(queryId, true);
    // Typing something else over a suggestion rejects it: it stays "not accepted".
    await owner.keyboard.press("Enter");
    queryId = await settledSuggestion(owner);
    const next = await owner.locator(".cm-ghost-text").textContent();
    await owner.keyboard.type(next.startsWith("Z") ? "Q" : "Z");
    await owner.getByTestId("editor-line").filter({ hasText: "Suggestion dismissed." }).waitFor();
    await expectStoredAcceptance(queryId, false);
    // Leave the file as plain, known code for the collaboration checks.
    await owner.keyboard.press("Escape");
    await owner.keyboard.press("Control+a");
    await owner.keyboard.press("Delete");
    await owner.keyboard.type("def add(a, b):\n    return a + b\n", { delay: 5 });
    await owner.keyboard.press("Escape");
  });

  check("two members on two servers: edits arrive within 1 s, concurrent edits converge, cursors show", async () => {
    member = await newPage(base2, state.member);
    await openFile(member, base2, state.projectId);
    await member.getByTestId("presence").getByText(state.owner.name).waitFor();
    await owner.getByTestId("presence").getByText(state.member.name).waitFor();
    const ownerText = await docText(owner);
    if ((await docText(member)) !== ownerText) throw new Error("the member does not see the owner's document");
    // One edit, timed from the keystroke to its appearance on the other server's page.
    const delays = [];
    for (const word of ["alpha", "beta", "gamma"]) {
      await owner.locator(".cm-content").click();
      await owner.keyboard.press("Control+End");
      const started = Date.now();
      await owner.keyboard.type(`# ${word}`);
      await member.waitForFunction((w) => document.querySelector(".cm-content")?.textContent.includes(`# ${w}`), word, { timeout: 1_000 });
      delays.push(Date.now() - started);
      await owner.keyboard.press("Escape");
      await owner.keyboard.press("Enter");
      await owner.keyboard.press("Escape");
    }
    metrics.edit_to_peer_ms_p50 = median(delays);
    // Both type at the start of the file at once.
    await member.locator(".cm-content").click();
    await Promise.all([owner.keyboard.press("Control+Home"), member.keyboard.press("Control+Home")]);
    const length = (await docText(owner)).length;
    await Promise.all([owner.keyboard.type("OWNER"), member.keyboard.type("MEMBER")]);
    await Promise.all([owner.keyboard.press("Escape"), member.keyboard.press("Escape")]);
    const deadline = Date.now() + 3_000;
    let a = "";
    let b = "";
    while (Date.now() < deadline) {
      [a, b] = [await docText(owner), await docText(member)];
      if (a === b && a.length === length + 11) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (a !== b || a.length !== length + 11) throw new Error(`the documents did not converge: ${JSON.stringify(a.slice(0, 40))} vs ${JSON.stringify(b.slice(0, 40))}`);
    // Each sees the other's caret.
    await member.locator(".cm-ySelectionCaret").first().waitFor();
    await owner.locator(".cm-ySelectionCaret").first().waitFor();
    await owner.screenshot({ path: join(artifacts, "editor-collaborators.png") });
    state.text = a;
  });

  check("someone who is not a member is refused", async () => {
    const stranger = await newPage(base1, state.stranger);
    await stranger.goto(`${base1}/editor/${state.projectId}?file=${FILE}`);
    await stranger.getByTestId("editor-refused").filter({ hasText: "not a member" }).waitFor();
    if ((await stranger.locator(".cm-content").count()) !== 0) throw new Error("a non-member got an editor");
  });

  check("chat streams an answer about the file", async () => {
    await owner.getByLabel("Question").fill("What does add return?");
    await owner.keyboard.press("Enter");
    const answer = owner.getByTestId("chat-answer").last();
    // Streaming: text shows while the answer is still coming.
    await owner.waitForFunction(() => {
      const all = document.querySelectorAll("[data-testid=chat-answer]");
      const last = all[all.length - 1];
      return last && (last.getAttribute("aria-busy") === "false" || last.textContent.replace("…", "").trim().length > 0);
    }, null, { timeout: 60_000 });
    metrics.chat_streamed = (await answer.getAttribute("aria-busy")) === "true";
    await owner.waitForFunction(() => {
      const all = document.querySelectorAll("[data-testid=chat-answer]");
      return all[all.length - 1]?.getAttribute("aria-busy") === "false";
    }, null, { timeout: 90_000 });
    if ((await answer.getAttribute("class")).includes("chat-failed")) throw new Error(`the chat failed: ${await answer.textContent()}`);
    if (!(await answer.textContent()).trim()) throw new Error("the chat answer is empty");
    await owner.screenshot({ path: join(artifacts, "editor-chat.png") });
  });

  check("an AI action replaces the selection, and Mod-Z undoes it", async () => {
    await owner.locator(".cm-content").click();
    await owner.keyboard.press("Escape");
    const before = await docText(owner);
    await owner.keyboard.press("Control+a");
    await owner.getByRole("button", { name: "Document" }).click();
    await owner.getByTestId("editor-line").filter({ hasText: /replaced the selection|nothing was replaced/ }).waitFor({ timeout: 120_000 });
    const line = await owner.getByTestId("editor-line").textContent();
    if (!line.includes("replaced the selection")) throw new Error(line);
    const documented = await docText(owner);
    if (documented === before) throw new Error("the document did not change");
    await member.waitForFunction((t) => document.querySelector(".cm-content")?.textContent.includes(t.split("\n")[0]), documented, { timeout: 2_000 });
    await owner.locator(".cm-content").focus();
    await owner.keyboard.press("Control+z");
    await waitForText(owner, before, 3_000);
    // The member (on the other server) has the undo too: it was stored before it was relayed.
    await waitForText(member, before, 2_000);
    state.text = before;
  });
} else {
  state = JSON.parse(readFileSync(stateFile, "utf8"));
  check("after a server restart the document is intact, on both servers", async () => {
    owner = await newPage(base1, state.owner);
    await openFile(owner, base1, state.projectId);
    await owner.keyboard.press("Escape");
    const text = await docText(owner);
    if (text !== state.text) throw new Error(`the document changed across the restart: ${JSON.stringify(text)} vs ${JSON.stringify(state.text)}`);
    member = await newPage(base2, state.member);
    await openFile(member, base2, state.projectId);
    if ((await docText(member)) !== state.text) throw new Error("the second server shows another document");
  });

  check("at phone width the editor stacks its columns and the page does not scroll sideways", async () => {
    await owner.setViewportSize({ width: 390, height: 844 });
    await owner.locator(".cm-content").waitFor();
    const overflow = await owner.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 1) throw new Error(`the page is ${overflow} px wider than the screen`);
    const [tree, code] = [await owner.getByTestId("file-tree").boundingBox(), await owner.getByTestId("code-editor").boundingBox()];
    if (!(tree && code && code.y > tree.y)) throw new Error("the file tree and the code are not stacked");
    await owner.screenshot({ path: join(artifacts, "editor-narrow.png"), fullPage: true });
  });
}

let failures = 0;
try {
  for (const { name, run } of checks) {
    try {
      await run();
      if (problems.length > 0) throw new Error(problems.splice(0).join("; "));
      console.log(`ok   - editor: ${name}`);
    } catch (error) {
      failures += 1;
      console.log(`FAIL - editor: ${name}: ${error.message}`);
      for (const [i, page] of [owner, member].entries()) await page?.screenshot({ path: join(artifacts, `editor-failed-${failures}-${i}.png`) }).catch(() => {});
      if (phase === "live") break; // later checks build on earlier ones
    }
  }
} finally {
  for (const context of contexts) await context.close().catch(() => {});
  await browser.close();
}
if (phase === "live") writeFileSync(stateFile, JSON.stringify(state));
if (Object.keys(metrics).length > 0) {
  writeFileSync(join(artifacts, "editor-metrics.json"), JSON.stringify(metrics, null, 2));
  console.log(JSON.stringify({ editor_metrics: metrics }));
}
process.exit(failures === 0 ? 0 : 1);
