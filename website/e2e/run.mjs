// End-to-end check of the served website and docs in a real browser (Debian's Chromium, headless,
// driven by playwright-core). Needs a running server: BASE_URL (default http://127.0.0.1:8008).
// Screenshots go to website/test-results/ (or E2E_ARTIFACTS_DIR) as test artifacts.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const baseUrl = process.env.BASE_URL ?? "http://127.0.0.1:8008";
const artifacts = process.env.E2E_ARTIFACTS_DIR ?? join(import.meta.dirname, "..", "test-results");
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
mkdirSync(artifacts, { recursive: true });

// An account to sign in with, created through the API as the plugin would.
const email = `e2e-${Date.now()}@example.com`;
const password = "Browser123";
const signUp = await fetch(`${baseUrl}/api/user/create`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ email, name: "Browser Tester", password, config_id: 1 }),
});
if (signUp.status !== 201) throw new Error(`could not create the e2e account: ${signUp.status} ${await signUp.text()}`);

const checks = [
  {
    name: "dashboard shows the server as healthy",
    async run(page) {
      await page.goto(`${baseUrl}/`);
      await page.getByRole("heading", { name: "Code4me-RS" }).waitFor();
      const summary = page.getByTestId("health-summary");
      await summary.waitFor();
      const text = await summary.textContent();
      if (text !== "All systems operational") throw new Error(`health summary was "${text}"`);
      await page.screenshot({ path: join(artifacts, "dashboard.png"), fullPage: true });
    },
  },
  {
    name: "signing in, staying signed in across a reload, and logging out",
    async run(page) {
      await page.goto(`${baseUrl}/`);
      await page.getByLabel("E-mail").fill(email);
      await page.getByLabel("Password").fill("wrong-password");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("alert").filter({ hasText: "Invalid email or password!" }).waitFor();
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByTestId("signed-in").filter({ hasText: "Browser Tester" }).waitFor();
      await page.screenshot({ path: join(artifacts, "signed-in.png"), fullPage: true });
      await page.reload();
      await page.getByTestId("signed-in").waitFor();
      await page.getByRole("button", { name: "Log out" }).click();
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      await page.reload();
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
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
    name: "API docs render offline with our endpoints",
    async run(page) {
      await page.goto(`${baseUrl}/docs/`);
      await page.locator(".swagger-ui .info .title").filter({ hasText: "Code4me-RS" }).waitFor();
      await page.locator(".opblock-summary-path", { hasText: "/api/health" }).first().waitFor();
      await page.screenshot({ path: join(artifacts, "docs.png"), fullPage: true });
    },
  },
];

const browser = await chromium.launch({
  executablePath,
  headless: true,
  // Our machines have no outside network: keep Chromium from trying to reach Google's services.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
let failures = 0;
try {
  for (const check of checks) {
    const page = await browser.newPage();
    const externalRequests = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(baseUrl) && !request.url().startsWith("data:")) externalRequests.push(request.url());
    });
    try {
      page.setDefaultTimeout(15_000);
      await check.run(page);
      if (externalRequests.length > 0) throw new Error(`requests left the server: ${externalRequests.join(", ")}`);
      console.log(`ok   - ${check.name}`);
    } catch (error) {
      failures += 1;
      console.log(`FAIL - ${check.name}: ${error.message}`);
      await page.screenshot({ path: join(artifacts, `failed-${failures}.png`), fullPage: true }).catch(() => {});
    } finally {
      await page.close();
    }
  }
} finally {
  await browser.close();
}
console.log(`${checks.length - failures}/${checks.length} browser checks passed; screenshots in ${artifacts}`);
process.exit(failures === 0 ? 0 : 1);
