// Plays the JetBrains plugin's start-up against a running server, with the plugin's exact bodies and
// cookie habits, and checks every status and message byte for byte:
//   create → authenticate → acquire → create project → activate → update preferences → get user → deactivate
// Usage: node tests/conformance/plugin_startup.mjs [BASE_URL]   (default http://127.0.0.1:8008)
// Runs in ./test.sh (end-to-end stage) and works against ./run.sh.

import { pluginClient } from "./plugin_client.mjs";

const base = process.argv[2] ?? process.env.BASE_URL ?? "http://127.0.0.1:8008";
const { jar, call, check, expectReply, failures } = pluginClient(base);

const email = `plugin-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
const password = "Conformance1";

expectReply("sign-up with the plugin's six fields", await call("POST", "/api/user/create",
  { email, name: "Plugin Tester", password, config_id: 1, token: "", provider: "no_provider" }),
  201, "User created successfully. Please check your email for verification.");

const login = await call("POST", "/api/user/authenticate", { email, password, provider: "no_provider", token: "" });
expectReply("authenticate with provider no_provider", login, 200, "User authenticated successfully via email and password.");
check("auth_token cookie equals user.auth_token", jar.get("auth_token") === login.json?.user?.auth_token, JSON.stringify(login.json?.user));
check("config is the HOCON string", typeof login.json?.config === "string" && login.json.config.includes("languages"), typeof login.json?.config);
check("password is masked", login.json?.user?.password === "**********", login.json?.user?.password);

const acquired = await call("GET", "/api/session/acquire");
expectReply("acquire session", acquired, 200, "Session acquired successfully");
check("session_token cookie set", jar.get("session_token") === acquired.json?.session_token, acquired.text);

const created = await call("POST", "/api/project/create", { project_name: "conformance" });
expectReply("create project", created, 201, "Project created successfully.");
const project = created.json?.project_token;

expectReply("activate project", await call("PUT", "/api/project/activate", { project_id: project }), 200, "Project activated successfully.");

const updated = await call("PUT", "/api/user/update", { preference: {
  store_context: true, store_behavioral_telemetry: true, store_contextual_telemetry: true,
  enabled_modules: ["BehavioralTelemetryAggregator"], module_values: { TypingSpeed: "10" } } });
expectReply("update preferences", updated, 201, "User is updated successfully.");
check("enabled_modules comes back as a JSON string", updated.json?.user?.preference?.enabled_modules === '["BehavioralTelemetryAggregator"]',
  JSON.stringify(updated.json?.user?.preference));

expectReply("get user", await call("GET", "/api/user/get"), 200, "User information retrieved successfully.");
expectReply("deactivate session", await call("PUT", "/api/session/deactivate/"), 200, "Session deactivated successfully.");
check("cookies cleared", !jar.has("auth_token") && !jar.has("session_token"), [...jar.keys()].join(","));

jar.set("auth_token", login.json?.user?.auth_token);
expectReply("the old token is dead", await call("GET", "/api/user/get"), 401,
  "Authentication token not found! You are not authenticated or your token has expired. Login before you can perform this action.");

console.log(failures() === 0 ? "plugin start-up conformance: all checks passed" : `plugin start-up conformance: ${failures()} check(s) failed`);
process.exit(failures() === 0 ? 0 : 1);
