// Upstream's end-to-end flow, black-box against a running stack with the default model (5, SmolLM2):
//   create → authenticate → acquire → create project → activate → completion → feedback → ground truth
//   → multi-file update → chat → chat history → delete
// with the plugin's bodies and cookie habits, checking statuses, message strings and shapes.
// Usage: node tests/conformance/plugin_flow.mjs [BASE_URL]   (default http://127.0.0.1:8008)
// Runs in ./test.sh (end-to-end stage, release binaries) and works against ./run.sh.

import { pluginClient } from "./plugin_client.mjs";

const base = process.argv[2] ?? process.env.BASE_URL ?? "http://127.0.0.1:8008";
const { call, check, expectReply, failures } = pluginClient(base);

const email = `flow-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
const password = "Conformance1";
const telemetry = { version_id: 3, trigger_type_id: 1, language_id: 47, file_path: "/demo/main.py", caret_line: 1, document_char_length: 40, relative_document_position: 0.5 };

expectReply("create", await call("POST", "/api/user/create", { email, name: "Flow Tester", password, config_id: 1, token: "", provider: "no_provider" }),
  201, "User created successfully. Please check your email for verification.");
expectReply("authenticate", await call("POST", "/api/user/authenticate", { email, password, provider: "no_provider", token: "" }),
  200, "User authenticated successfully via email and password.");
expectReply("acquire", await call("GET", "/api/session/acquire"), 200, "Session acquired successfully");
const created = await call("POST", "/api/project/create", { project_name: "flow" });
expectReply("create project", created, 201, "Project created successfully.");
expectReply("activate project", await call("PUT", "/api/project/activate", { project_id: created.json?.project_token }), 200, "Project activated successfully.");

const completion = await call("POST", "/api/completion/request", {
  model_ids: [5],
  context: { prefix: "def fibonacci(n):\n    ", suffix: "\n", file_name: "main.py", selected_text: "", context_files: ["*"] },
  contextual_telemetry: telemetry, behavioral_telemetry: { time_since_last_shown: 1000, time_since_last_accepted: 3000, typing_speed: 4 },
  store_context: true, store_contextual_telemetry: true, store_behavioral_telemetry: true,
});
expectReply("completion", completion, 200, "Completions generated successfully. Ready for display in your IDE.");
const item = completion.json?.data?.completions?.[0];
check("model 5 answered", item?.model_id === 5 && typeof item?.completion === "string" && item?.confidence > 0, JSON.stringify(item));
const queryId = completion.json?.data?.meta_query_id;

expectReply("feedback", await call("POST", "/api/completion/feedback", { meta_query_id: queryId, model_id: 5, was_accepted: true, ground_truth: null }),
  200, "Feedback recorded successfully.");
expectReply("ground truth", await call("POST", "/api/completion/feedback", { meta_query_id: queryId, model_id: 5, was_accepted: true, ground_truth: "return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)" }),
  200, "Feedback recorded successfully.");
const fetched = await call("GET", `/api/completion/${queryId}`);
check("the query can be read back", fetched.status === 200 && fetched.json?.data?.completions?.[0]?.completion === item?.completion, fetched.text.slice(0, 300));

const updated = await call("POST", "/api/completion/multi-file-context/update", { context_updates: { "util.py": [
  { change_type: "insert", start_line: 0, end_line: 0, new_lines: ["import math", "def area(r):", "    return math.pi * r * r"] },
] } });
expectReply("multi-file update", updated, 200, "Multi-file context updated successfully.");
check("the whole context comes back", JSON.stringify(updated.json?.data) === JSON.stringify({ "util.py": ["import math", "def area(r):", "    return math.pi * r * r"] }), updated.text);

const chatId = crypto.randomUUID();
const chat = await call("POST", "/api/chat/request", {
  model_ids: [5], chat_id: chatId, messages: [["user", "What does fibonacci(10) return?"]],
  context: { prefix: "def fibonacci(n):\n    ", suffix: "", file_name: "main.py" },
  contextual_telemetry: telemetry, behavioral_telemetry: {}, web_enabled: false,
  store_context: true, store_contextual_telemetry: true, store_behavioral_telemetry: true,
});
check("chat", chat.status === 200 && chat.json?.chat_id === chatId && chat.json?.history?.[0]?.assistant_responses?.[0]?.model_id === 5, chat.text.slice(0, 300));

const history = await call("GET", "/api/chat/get/1");
check("chat history shows the chat", history.status === 200 && history.json?.items?.some((c) => c.chat_id === chatId), history.text.slice(0, 300));
expectReply("delete chat", await call("DELETE", `/api/chat/delete/${chatId}`), 200, "Chat deleted successfully");
const after = await call("GET", "/api/chat/get/1");
check("the chat is gone", after.status === 200 && !after.json?.items?.some((c) => c.chat_id === chatId), after.text.slice(0, 300));

if (failures() > 0) {
  console.log(`${failures()} check(s) failed`);
  process.exit(1);
}
console.log("upstream end-to-end flow: all checks passed");
