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
