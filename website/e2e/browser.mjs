// What the browser suites share: Debian's Chromium (no outside network), signing in through the
// form, and a page watcher that turns uncaught errors, console errors and Content-Security-Policy
// refusals into failures.
import { chromium } from "playwright-core";

export const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Headless Chromium from Debian, kept off Google's services (our machines have no outside network). */
export function launch() {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}

/** Signs in through the form at `baseUrl` and waits for the dashboard. */
export async function signIn(page, baseUrl, { email, password }) {
  await page.goto(`${baseUrl}/`);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("signed-in").waitFor();
}

/**
 * Collects what goes wrong on `page` into `problems`: uncaught errors, console errors (but a failed
 * request's own line) and anything the Content-Security-Policy refuses.
 */
export async function watchPage(page, problems) {
  page.on("pageerror", (error) => problems.push(`uncaught error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) problems.push(`console error: ${message.text()}`);
    if (message.text().startsWith("Refused to")) problems.push(`CSP: ${message.text()}`);
  });
  // Reported by the page itself too (an init script runs outside the page's policy).
  await page.exposeFunction("__reportCspViolation", (what) => problems.push(`CSP violation: ${what}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) =>
      window.__reportCspViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`));
  });
}
