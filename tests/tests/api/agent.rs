//! The repository agent end to end: the real server and worker, real `git` in a bubblewrap
//! sandbox against a local forge (smart HTTP through `git http-backend`, and a stand-in for the
//! pull-request API), a stand-in OpenAI-compatible provider whose answer each test sets (the one
//! third-party model service we cannot reach), and the real local model.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::routing::post;
use code4me_tests::TestApp;
use code4me_tests::app::Options;
use code4me_tests::forge::Forge;
use code4me_tests::plugin::Plugin;
use code4me_tests::wait::wait_for;
use code4me_tests::worker::Worker;
use serde_json::{Value, json};

const STAGES: [&str; 10] = ["validation", "sandbox_init", "clone", "analysis", "ai_processing", "apply", "commit", "push", "pr_creation", "complete"];

/// What the stand-in provider answers, and how long it takes.
#[derive(Clone, Default)]
struct Script {
    answer: Arc<Mutex<String>>,
    delay: Arc<Mutex<Duration>>,
    prompts: Arc<Mutex<Vec<Value>>>,
}

async fn stand_in_provider() -> (String, Script) {
    let script = Script::default();
    let shared = script.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |Json(body): Json<Value>| {
            let script = shared.clone();
            async move {
                script.prompts.lock().expect("lock").push(body);
                let delay = *script.delay.lock().expect("lock");
                tokio::time::sleep(delay).await;
                let content = script.answer.lock().expect("lock").clone();
                Json(json!({"id": "c", "object": "chat.completion", "model": "stand-in",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/v1"), script)
}

/// A stack with a forge, a stand-in provider and one worker taking agent runs.
struct AgentStack {
    app: TestApp,
    forge: Forge,
    script: Script,
    sandboxes: PathBuf,
    worker: Option<Worker>,
    worker_env: Vec<(&'static str, String)>,
}

impl AgentStack {
    async fn start(extra: &[(&'static str, String)]) -> Self {
        let forge = Forge::start().await;
        let (provider_url, script) = stand_in_provider().await;
        let providers = json!([{"name": "standin", "base_url": provider_url, "models": {"*": "stand-in"}}]).to_string();
        let sandboxes = std::env::temp_dir().join(format!("code4me-agent-test-{}", uuid::Uuid::new_v4()));
        let mut worker_env: Vec<(&'static str, String)> = vec![
            ("PROVIDERS", providers.clone()),
            ("AGENT_ALLOWED_HOSTS", forge.host()),
            ("AGENT_FORGE_API_URLS", format!("{}={}", forge.host(), forge.api_base())),
            ("AGENT_FORGE_TOKENS", format!("{}={}", forge.host(), forge.api_token())),
            ("AGENT_SANDBOX_DIR", sandboxes.display().to_string()),
            ("AGENT_BUBBLEWRAP", "required".into()),
            ("AGENT_COMMAND_TIMEOUT_SECONDS", "30".into()),
        ];
        worker_env.extend(extra.iter().cloned());
        let app = TestApp::spawn_with(Options::default().env("PROVIDERS", &providers).env("AGENT_DISCONNECT_GRACE_SECONDS", "2")).await;
        let worker = Worker::start_with(&app, "agent-worker", &worker_env).await;
        Self { app, forge, script, sandboxes, worker: Some(worker), worker_env }
    }

    fn answer(&self, text: &str) {
        *self.script.answer.lock().expect("lock") = text.to_owned();
    }

    async fn user(&self, email: &str) -> Plugin {
        self.app.signed_up(email, false).await.0
    }

    /// `POST /api/agent/code`; the status and, for a stream, its events (read to the end).
    async fn run(&self, user: &Plugin, body: Value) -> (u16, Vec<Value>, Option<String>) {
        let mut request = self.app.client.post(self.app.url("/api/agent/code")).json(&body).timeout(Duration::from_secs(240));
        if let Some(cookies) = user.cookie_header() {
            request = request.header("cookie", cookies);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let run_id = response.headers().get("x-agent-run-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = response.text().await.expect("body");
        (status, if status == 200 { parse_sse(&text) } else { vec![serde_json::from_str(&text).unwrap_or(Value::String(text))] }, run_id)
    }

    /// Runs left in the sandbox directory (no instance directory may hold a run's directory).
    fn leftover_sandboxes(&self) -> Vec<String> {
        let mut left = Vec::new();
        for instance in std::fs::read_dir(&self.sandboxes).into_iter().flatten().flatten() {
            // Each instance directory holds its worker's `.lock`; a run is a directory.
            for run in std::fs::read_dir(instance.path()).into_iter().flatten().flatten().filter(|e| e.path().is_dir()) {
                left.push(run.path().display().to_string());
            }
        }
        left
    }
}

impl Drop for AgentStack {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.sandboxes);
    }
}

/// `id:`/`data:` blocks of a server-sent event stream, as the events' JSON with the id checked.
fn parse_sse(text: &str) -> Vec<Value> {
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let mut id = None;
        let mut data = String::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if data.is_empty() {
            continue;
        }
        let event: Value = serde_json::from_str(&data).expect("event JSON");
        assert_eq!(id.as_deref(), Some(event["seq"].to_string().as_str()), "the SSE id is the event's seq");
        events.push(event);
    }
    events
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// Exactly one final event, the last, an error whose message contains `needle`.
fn assert_one_error(events: &[Value], needle: &str) -> Value {
    let finals: Vec<&Value> = events.iter().filter(|e| e["type"] == "error" || e["type"] == "success").collect();
    assert_eq!(finals.len(), 1, "one final event: {events:#?}");
    let last = events.last().expect("events");
    assert_eq!(last["type"], "error", "{events:#?}");
    assert!(last["message"].as_str().expect("message").contains(needle), "expected {needle:?} in {last}");
    last.clone()
}

const EDIT: &str =
    "I will add a docstring.\n=== FILE: src/util.py\ndef add(a, b):\n    \"\"\"Returns the sum of a and b.\"\"\"\n    return a + b\n=== END FILE\n";

#[tokio::test]
async fn a_run_clones_edits_pushes_a_branch_and_opens_a_pull_request_reporting_every_stage() {
    let stack = AgentStack::start(&[]).await;
    let url = stack.forge.create_repo("acme", "calc", &[("README.md", "# Calc\n"), ("src/util.py", "def add(a, b):\n    return a + b\n")]);
    stack.answer(EDIT);
    let mut user = stack.user("agent@example.com").await;

    let (status, events, run_id) =
        stack.run(&user, json!({"repo_url": url, "prompt": "Add a docstring to add in src/util.py", "provider": "standin"})).await;
    assert_eq!(status, 200, "{events:?}");
    let run_id = run_id.expect("X-Agent-Run-Id");
    assert!(events.iter().all(|e| e["request_id"] == run_id.as_str()), "every event names the run");

    // Every stage, in order, with rising progress and consecutive sequence numbers.
    let mut stages: Vec<&str> = events.iter().map(|e| e["stage"].as_str().expect("stage")).collect();
    stages.dedup();
    assert_eq!(stages, STAGES, "{events:#?}");
    let progress: Vec<u64> = events.iter().map(|e| e["progress"].as_u64().expect("progress")).collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]) && progress.last() == Some(&100), "{progress:?}");
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().expect("seq")).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    for stage in &STAGES[..9] {
        assert!(events.iter().any(|e| e["stage"] == *stage && e["elapsed_ms"].is_u64()), "{stage} reports its duration");
    }
    let timings: Vec<String> =
        events.iter().filter(|e| e["elapsed_ms"].is_u64()).map(|e| format!("{}={}ms", e["stage"].as_str().unwrap(), e["elapsed_ms"])).collect();
    eprintln!("agent stage timings: {}", timings.join(" "));

    // The thinking log holds the prompt sent and the raw answer.
    let thinking = of_type(&events, "thinking");
    assert!(thinking.iter().any(|e| e["details"]["prompt"].as_str().is_some_and(|p| p.contains("def add(a, b)"))), "{thinking:#?}");
    assert!(thinking.iter().any(|e| e["details"]["answer"].as_str().is_some_and(|a| a.contains("Returns the sum"))));

    // The branch upstream has one new commit whose diff is the diff event's.
    let success = events.last().expect("events");
    assert_eq!(success["type"], "success", "{success}");
    let branch = success["branch"].as_str().expect("branch");
    assert!(branch.starts_with("code4me/add-a-docstring"), "{branch}");
    assert!(stack.forge.branches("acme", "calc").contains(&branch.to_owned()));
    let commits = stack.forge.commits_on("acme", "calc", branch);
    let main = stack.forge.commits_on("acme", "calc", "main");
    assert_eq!(commits.len(), main.len() + 1, "one commit on top of main");
    assert_eq!(commits[0], success["commit"].as_str().expect("commit"));
    let diff = of_type(&events, "diff")[0]["diff"].as_str().expect("diff").to_owned();
    let upstream = stack.forge.diff_of("acme", "calc", &commits[0]);
    let changed = |d: &str| {
        d.lines()
            .filter(|l| (l.starts_with('+') || l.starts_with('-')) && !l.starts_with("+++") && !l.starts_with("---"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(changed(&diff), changed(&upstream));
    assert!(diff.contains("+    \"\"\"Returns the sum of a and b.\"\"\""), "{diff}");

    // The pull request: title, head and base, with the forge's token.
    let pulls = stack.forge.pull_requests();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].title, "Add a docstring to add in src/util.py");
    assert_eq!((pulls[0].head.as_str(), pulls[0].base.as_str()), (branch, "main"));
    assert_eq!(pulls[0].authorization.as_deref(), Some(format!("Bearer {}", stack.forge.api_token()).as_str()));
    assert!(success["pr_url"].as_str().expect("pr_url").ends_with("/acme/calc/pull/1"));
    assert!(stack.leftover_sandboxes().is_empty(), "{:?}", stack.leftover_sandboxes());

    // Stage timings and the provider's latency as metrics (the in-process worker records into
    // the server's recorder here; a worker process serves its own at WORKER_METRICS_ADDR).
    let metrics = stack.app.get("/metrics").await.text().await.expect("metrics");
    for stage in ["clone", "ai_processing", "push", "pr_creation"] {
        assert!(
            metrics.lines().any(|l| l.starts_with("agent_stage_seconds") && l.contains(&format!("stage=\"{stage}\""))),
            "{stage} timed:\n{metrics}"
        );
    }
    assert!(metrics.lines().any(|l| l.starts_with("agent_provider_seconds") && l.contains("provider=\"standin\"")), "{metrics}");

    // The run list and the stored log; replay after Last-Event-ID sends only what came later.
    let listed = user.call(reqwest::Method::GET, "/api/agent/runs", None).await;
    assert_eq!(listed.body["runs"][0]["run_id"], run_id.as_str());
    assert_eq!(listed.body["runs"][0]["status"], "succeeded");
    assert_eq!(listed.body["runs"][0]["pr_url"], success["pr_url"]);
    let detail = user.call(reqwest::Method::GET, &format!("/api/agent/runs/{run_id}"), None).await;
    assert_eq!(detail.body["events"].as_array().expect("events").len(), events.len());
    let mut replay =
        stack.app.client.get(stack.app.url(&format!("/api/agent/runs/{run_id}"))).header("accept", "text/event-stream").header("last-event-id", "5");
    replay = replay.header("cookie", user.cookie_header().expect("cookies"));
    let replayed = parse_sse(&replay.send().await.expect("replay").text().await.expect("body"));
    assert_eq!(replayed.first().and_then(|e| e["seq"].as_u64()), Some(6));
    assert_eq!(replayed.len(), events.len() - 5);

    for bad in ["-1", "99999999999999999999", "x"] {
        let refused = stack
            .app
            .client
            .get(stack.app.url(&format!("/api/agent/runs/{run_id}")))
            .header("accept", "text/event-stream")
            .header("last-event-id", bad);
        let refused = refused.header("cookie", user.cookie_header().expect("cookies")).send().await.expect("refused");
        assert_eq!(refused.status().as_u16(), 422, "Last-Event-ID {bad}");
    }
    let mut beyond = stack
        .app
        .client
        .get(stack.app.url(&format!("/api/agent/runs/{run_id}")))
        .header("accept", "text/event-stream")
        .header("last-event-id", "999");
    beyond = beyond.header("cookie", user.cookie_header().expect("cookies")).timeout(Duration::from_secs(30));
    assert!(parse_sse(&beyond.send().await.expect("beyond").text().await.expect("body")).is_empty(), "an ended run's stream ends");

    // Another user sees none of it.
    let mut other = stack.user("other@example.com").await;
    assert_eq!(other.call(reqwest::Method::GET, &format!("/api/agent/runs/{run_id}"), None).await.status, 404);
    assert_eq!(other.call(reqwest::Method::DELETE, &format!("/api/agent/runs/{run_id}"), None).await.status, 404);
    assert_eq!(other.call(reqwest::Method::GET, "/api/agent/runs", None).await.body["runs"], json!([]));
}

#[tokio::test]
async fn bad_requests_and_refused_repositories_end_cleanly() {
    let mut stack = AgentStack::start(&[("AGENT_MAX_REPO_BYTES", "200000".to_owned())]).await;
    let mut user = stack.user("refused@example.com").await;
    let url = stack.forge.create_repo("acme", "small", &[("a.txt", "old\n")]);

    // Before any run: who and what.
    let anonymous =
        stack.app.client.post(stack.app.url("/api/agent/code")).json(&json!({"repo_url": url, "prompt": "x"})).send().await.expect("request");
    assert_eq!(anonymous.status().as_u16(), 401);
    for body in [
        json!({"prompt": "x"}),
        json!({"repo_url": url, "prompt": ""}),
        json!({"repo_url": url, "prompt": "a\u{0}b"}),
        json!({"repo_url": 7, "prompt": "x"}),
        json!([]),
    ] {
        let (status, _, run) = stack.run(&user, body.clone()).await;
        assert_eq!((status, run), (422, None), "{body}");
    }
    assert_eq!(user.call(reqwest::Method::GET, "/api/agent/runs/not-a-uuid", None).await.status, 422);

    // Each refusal is one error event at its stage, and no sandbox is left.
    let cases: Vec<(Value, &str, &str, &str)> = vec![
        (
            json!({"repo_url": "https://example.com/a/b.git", "prompt": "x", "provider": "standin"}),
            "",
            "validation",
            "not an allowed repository host",
        ),
        (json!({"repo_url": "/tmp", "prompt": "x", "provider": "standin"}), "", "validation", "AGENT_ALLOW_LOCAL"),
        (json!({"repo_url": url, "prompt": "x", "provider": "nobody-knows"}), "", "validation", "no provider is named"),
        (
            json!({"repo_url": format!("http://{}/git/acme/missing.git", stack.forge.host()), "prompt": "x", "provider": "standin"}),
            "",
            "clone",
            "git clone failed",
        ),
        (json!({"repo_url": url, "prompt": "x", "provider": "standin"}), "I would rather not.", "ai_processing", "no edits in the expected format"),
        (
            json!({"repo_url": url, "prompt": "x", "provider": "standin"}),
            "=== FILE: ../escape.txt\nx\n=== END FILE\n",
            "ai_processing",
            "refused path",
        ),
        (
            json!({"repo_url": url, "prompt": "x", "provider": "standin"}),
            "=== FILE: .git/config\nx\n=== END FILE\n",
            "ai_processing",
            "nothing is written under .git",
        ),
        (
            json!({"repo_url": url, "prompt": "x", "provider": "standin"}),
            "```diff\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-not there\n+new\n```\n",
            "apply",
            "does not apply",
        ),
        (json!({"repo_url": url, "prompt": "x", "provider": "standin"}), "=== FILE: a.txt\nold\n=== END FILE\n", "apply", "change nothing"),
    ];
    for (body, answer, stage, needle) in cases {
        stack.answer(answer);
        let (status, events, _) = stack.run(&user, body.clone()).await;
        assert_eq!(status, 200, "{body}");
        let error = assert_one_error(&events, needle);
        assert_eq!(error["stage"], stage, "{body}: {error}");
        assert!(stack.leftover_sandboxes().is_empty(), "{body}: {:?}", stack.leftover_sandboxes());
    }

    // A repository over the size limit is stopped while it clones.
    let blob: String = (0..40_000).map(|i| format!("{:x}", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40)).collect();
    let big = stack.forge.create_repo("acme", "big", &[("blob.txt", &blob)]);
    let (_, events, _) = stack.run(&user, json!({"repo_url": big, "prompt": "x", "provider": "standin"})).await;
    assert_eq!(assert_one_error(&events, "larger than the limit")["stage"], "clone");

    // An allowed host where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    stack.worker.take().expect("worker").stop().await;
    let unreachable = format!("http://127.0.0.1:{closed}/acme/small.git");
    let mut env = stack.worker_env.clone();
    env.push(("AGENT_ALLOWED_HOSTS", format!("{},127.0.0.1:{closed}", stack.forge.host())));
    let _worker = Worker::start_with(&stack.app, "agent-worker-2", &env).await;
    let (_, events, _) = stack.run(&user, json!({"repo_url": unreachable, "prompt": "x", "provider": "standin"})).await;
    assert_eq!(assert_one_error(&events, "git clone failed")["stage"], "clone");
    assert!(stack.leftover_sandboxes().is_empty());
    assert!(stack.forge.pull_requests().is_empty(), "no refused run opened a pull request");
}

#[tokio::test]
async fn cancelling_a_run_or_leaving_its_stream_stops_it_and_removes_its_sandbox() {
    let stack = AgentStack::start(&[]).await;
    let mut user = stack.user("cancel@example.com").await;
    let user_ref = &user;
    let url = stack.forge.create_repo("acme", "slow", &[("a.txt", "a\n")]);
    stack.answer(EDIT);
    *stack.script.delay.lock().expect("lock") = Duration::from_secs(60);

    // DELETE while the model thinks.
    let run = {
        let stack = &stack;
        let user = user_ref;
        let url = url.clone();
        async move { stack.run(user, json!({"repo_url": url, "prompt": "x", "provider": "standin"})).await }
    };
    let cancel = async {
        let run_id: uuid::Uuid = wait_for("the model to be asked", Duration::from_secs(60), async || {
            if stack.script.prompts.lock().expect("lock").is_empty() {
                return None;
            }
            sqlx::query_scalar("SELECT run_id FROM agent_run WHERE status = 'running'").fetch_optional(&stack.app.db).await.expect("run")
        })
        .await;
        assert!(!stack.leftover_sandboxes().is_empty(), "the running run has its sandbox");
        let cancelled = stack
            .app
            .client
            .delete(stack.app.url(&format!("/api/agent/runs/{run_id}")))
            .header("cookie", user_ref.cookie_header().expect("cookies"))
            .send()
            .await
            .expect("delete");
        assert_eq!(cancelled.status().as_u16(), 202);
        run_id
    };
    let ((status, events, _), run_id) = tokio::join!(run, cancel);
    assert_eq!(status, 200);
    assert_one_error(&events, "cancelled");
    let status: String =
        sqlx::query_scalar("SELECT status FROM agent_run WHERE run_id = $1").bind(run_id).fetch_one(&stack.app.db).await.expect("status");
    assert_eq!(status, "cancelled");
    assert!(stack.leftover_sandboxes().is_empty());
    assert_eq!(user.call(reqwest::Method::DELETE, &format!("/api/agent/runs/{run_id}"), None).await.status, 409, "an ended run cannot be cancelled");

    // A client that goes away: the run is cancelled after the grace period.
    stack.script.prompts.lock().expect("lock").clear();
    let mut request = stack.app.client.post(stack.app.url("/api/agent/code")).json(&json!({"repo_url": url, "prompt": "y", "provider": "standin"}));
    request = request.header("cookie", user.cookie_header().expect("cookies"));
    let response = request.send().await.expect("request");
    let run_id: uuid::Uuid = response.headers()["x-agent-run-id"].to_str().expect("id").parse().expect("uuid");
    wait_for("the model to be asked", Duration::from_secs(60), async || (!stack.script.prompts.lock().expect("lock").is_empty()).then_some(())).await;
    drop(response);
    let status: String = wait_for("the abandoned run to be cancelled", Duration::from_secs(60), async || {
        sqlx::query_scalar("SELECT status FROM agent_run WHERE run_id = $1 AND status <> 'running'")
            .bind(run_id)
            .fetch_optional(&stack.app.db)
            .await
            .expect("status")
    })
    .await;
    assert_eq!(status, "cancelled");
    wait_for("the sandbox to go", Duration::from_secs(10), async || stack.leftover_sandboxes().is_empty().then_some(())).await;
}

#[tokio::test]
async fn a_worker_killed_mid_run_leaves_an_error_event_and_no_sandbox() {
    let mut stack = AgentStack::start(&[]).await;
    let user = stack.user("killed@example.com").await;
    let url = stack.forge.create_repo("acme", "crash", &[("a.txt", "a\n")]);
    stack.answer(EDIT);
    *stack.script.delay.lock().expect("lock") = Duration::from_secs(600);

    let mut request = stack.app.client.post(stack.app.url("/api/agent/code")).json(&json!({"repo_url": url, "prompt": "x", "provider": "standin"}));
    request = request.header("cookie", user.cookie_header().expect("cookies"));
    let response = request.send().await.expect("request");
    let run_id = response.headers()["x-agent-run-id"].to_str().expect("id").to_owned();
    wait_for("the model to be asked", Duration::from_secs(60), async || (!stack.script.prompts.lock().expect("lock").is_empty()).then_some(())).await;
    stack.worker.take().expect("worker").kill();
    *stack.script.delay.lock().expect("lock") = Duration::ZERO;
    let _second = Worker::start_with(&stack.app, "agent-worker-2", &stack.worker_env).await;

    // The stream (still open, on the server) carries the run's end.
    let events = parse_sse(&tokio::time::timeout(Duration::from_secs(120), response.text()).await.expect("the stream ends").expect("body"));
    let error = assert_one_error(&events, "stopped");
    assert_eq!(error["request_id"], run_id.as_str());
    wait_for("no sandbox left", Duration::from_secs(120), async || stack.leftover_sandboxes().is_empty().then_some(())).await;
    assert!(stack.forge.branches("acme", "crash").iter().all(|b| !b.starts_with("code4me/")), "nothing pushed");
}

#[tokio::test]
async fn the_local_model_makes_a_small_edit_through_the_whole_path() {
    let stack = AgentStack::start(&[("AGENT_MAX_NEW_TOKENS", "48".to_owned())]).await;
    let user = stack.user("local@example.com").await;
    let url = stack.forge.create_repo("acme", "local", &[("README.md", "# Local\n\nA small project.\n"), ("main.py", "print('hi')\n")]);
    let (status, events, _) = stack.run(&user, json!({"repo_url": url, "prompt": "Improve README.md", "provider": "local"})).await;
    assert_eq!(status, 200);
    let last = events.last().expect("events");
    let timings: Vec<String> =
        events.iter().filter(|e| e["elapsed_ms"].is_u64()).map(|e| format!("{}={}ms", e["stage"].as_str().unwrap(), e["elapsed_ms"])).collect();
    eprintln!("local model agent stage timings: {}", timings.join(" "));
    let answered = events.iter().find(|e| e["stage"] == "ai_processing" && e["elapsed_ms"].is_u64()).expect("the model answered");
    assert_eq!(answered["details"]["provider"], "local");
    assert_eq!(answered["details"]["edits"], json!(["README.md"]));
    // The model may write README.md back unchanged: then the run ends cleanly at apply.
    match last["type"].as_str() {
        Some("success") => assert!(stack.forge.branches("acme", "local").contains(&last["branch"].as_str().expect("branch").to_owned())),
        _ => assert_eq!(assert_one_error(&events, "change nothing")["stage"], "apply"),
    }
    assert!(stack.leftover_sandboxes().is_empty());
}

#[tokio::test]
async fn one_user_has_at_most_three_runs_in_flight() {
    let stack = AgentStack::start(&[]).await;
    let mut user = stack.user("busy@example.com").await;
    let url = stack.forge.create_repo("acme", "busy", &[("a.txt", "a\n")]);
    *stack.script.delay.lock().expect("lock") = Duration::from_secs(600);
    let start = async || {
        let request = stack.app.client.post(stack.app.url("/api/agent/code")).json(&json!({"repo_url": url, "prompt": "x", "provider": "standin"}));
        request.header("cookie", user.cookie_header().expect("cookies")).send().await.expect("request")
    };
    // Three open streams (one running, two queued behind it on the one-run worker).
    let streams = vec![start().await, start().await, start().await];
    assert!(streams.iter().all(|r| r.status() == 200));
    let fourth = start().await;
    assert_eq!(fourth.status().as_u16(), 429);
    assert!(fourth.text().await.expect("body").contains("3 agent runs"));
    let others = stack.user("not-busy@example.com").await;
    let request = stack.app.client.post(stack.app.url("/api/agent/code")).json(&json!({"repo_url": url, "prompt": "x", "provider": "standin"}));
    let theirs = request.header("cookie", others.cookie_header().expect("cookies")).send().await.expect("request");
    assert_eq!(theirs.status(), 200, "the cap is per user");
    for stream in &streams {
        let run_id = stream.headers()["x-agent-run-id"].to_str().expect("id").to_owned();
        assert_eq!(user.call(reqwest::Method::DELETE, &format!("/api/agent/runs/{run_id}"), None).await.status, 202);
    }
    let run_id = theirs.headers()["x-agent-run-id"].to_str().expect("id").to_owned();
    let mut others = others;
    assert_eq!(others.call(reqwest::Method::DELETE, &format!("/api/agent/runs/{run_id}"), None).await.status, 202);
    for stream in streams {
        let events = parse_sse(&stream.text().await.expect("body"));
        assert_one_error(&events, "cancelled");
    }
    assert_one_error(&parse_sse(&theirs.text().await.expect("body")), "cancelled");
}

#[tokio::test]
async fn a_lost_run_is_reaped_and_a_worker_that_lost_its_run_writes_nothing_more() {
    use code4me_shared::agent::RunStatus;
    use code4me_worker::agent::run_row::{self, Claim, Outcome};

    let stack = AgentStack::start(&[]).await;
    let (_, user_id) = stack.app.signed_up("lost@example.com", false).await;
    let insert = |run_id: uuid::Uuid, started_secs_ago: f64| {
        sqlx::query(
            "INSERT INTO agent_run (run_id, user_id, repo_url, prompt, status, worker_id, started_at) \
             VALUES ($1, $2, 'https://github.com/a/b', 'x', 'running', 'gone/1', now() - make_interval(secs => $3))",
        )
        .bind(run_id)
        .bind(user_id)
        .bind(started_secs_ago)
        .execute(&stack.app.db)
    };
    let (old, recent) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    insert(old, 7200.0).await.expect("old run");
    insert(recent, 60.0).await.expect("recent run");

    assert_eq!(run_row::reap(&stack.app.db, Duration::from_secs(300)).await.expect("reap"), 1, "only the run far past the deadline");
    let (status, event): (String, Value) =
        sqlx::query_as("SELECT r.status, e.event FROM agent_run r JOIN agent_run_event e USING (run_id) WHERE run_id = $1")
            .bind(old)
            .fetch_one(&stack.app.db)
            .await
            .expect("reaped");
    assert_eq!(status, "failed");
    assert_eq!((event["type"].as_str(), event["seq"].as_i64()), (Some("error"), Some(1)));

    // The recent run's job comes back to another worker, which takes it over: the first worker's
    // late close changes nothing.
    assert_eq!(run_row::claim(&stack.app.db, recent, "new/2").await.expect("claim"), Claim::Abandoned { cancel_requested: false });
    let late = Outcome { branch: Some("code4me/late".into()), ..Outcome::default() };
    assert!(
        !run_row::close(&stack.app.db, recent, "gone/1", RunStatus::Succeeded, &late).await.expect("close"),
        "the old worker holds the run no more"
    );
    assert!(run_row::close(&stack.app.db, recent, "new/2", RunStatus::Failed, &Outcome::default()).await.expect("close"));
    let branch: Option<String> =
        sqlx::query_scalar("SELECT branch FROM agent_run WHERE run_id = $1").bind(recent).fetch_one(&stack.app.db).await.expect("row");
    assert_eq!(branch, None);
}

#[tokio::test]
async fn a_stream_ends_when_its_caller_signs_out_and_the_run_then_stops() {
    let stack = AgentStack::start(&[]).await;
    let mut user = stack.user("leaver@example.com").await;
    let url = stack.forge.create_repo("acme", "leave", &[("a.txt", "a\n")]);
    stack.answer(EDIT);
    *stack.script.delay.lock().expect("lock") = Duration::from_secs(600);
    let request = stack.app.client.post(stack.app.url("/api/agent/code")).json(&json!({"repo_url": url, "prompt": "x", "provider": "standin"}));
    let response = request.header("cookie", user.cookie_header().expect("cookies")).send().await.expect("request");
    let run_id: uuid::Uuid = response.headers()["x-agent-run-id"].to_str().expect("id").parse().expect("uuid");
    wait_for("the model to be asked", Duration::from_secs(60), async || (!stack.script.prompts.lock().expect("lock").is_empty()).then_some(())).await;

    let old_cookies = user.cookie_header().expect("cookies");
    assert_eq!(user.deactivate().await.status, 200, "signed out");
    // The open stream notices at its next heartbeat and ends without the run's final event.
    let text = tokio::time::timeout(Duration::from_secs(30), response.text()).await.expect("the stream ends").expect("body");
    assert!(parse_sse(&text).iter().all(|e| e["type"] != "success"), "{text}");
    let status: String = wait_for("the run to stop", Duration::from_secs(60), async || {
        sqlx::query_scalar("SELECT status FROM agent_run WHERE run_id = $1 AND status <> 'running'")
            .bind(run_id)
            .fetch_optional(&stack.app.db)
            .await
            .expect("status")
    })
    .await;
    assert_eq!(status, "cancelled");
    // And it cannot be reopened with the old cookie.
    let again = stack.app.client.get(stack.app.url(&format!("/api/agent/runs/{run_id}"))).header("accept", "text/event-stream");
    let again = again.header("cookie", old_cookies).send().await.expect("again");
    assert_eq!(again.status().as_u16(), 401);
}
