//! Cross-cutting auth conventions: duplicate cookies, security headers, rate limits, admin tools.

use code4me_tests::TestApp;
use code4me_tests::app::Options;
use serde_json::json;

#[tokio::test]
async fn with_duplicate_cookies_the_last_value_wins_as_the_plugin_relies_on() {
    let app = TestApp::spawn().await;
    let mut plugin = app.plugin();
    plugin.sign_up("dup@example.com", "Dup", "Password1").await;
    plugin.log_in("dup@example.com", "Password1").await;
    let good = plugin.auth_token.clone().expect("token");
    let header = format!("auth_token=00000000-0000-4000-8000-000000000000; auth_token={good}");
    let response = app.client.get(app.url("/api/user/get")).header("cookie", header).send().await.expect("send");
    assert_eq!(response.status(), 200);
    let reversed = format!("auth_token={good}; auth_token=00000000-0000-4000-8000-000000000000");
    let response = app.client.get(app.url("/api/user/get")).header("cookie", reversed).send().await.expect("send");
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn responses_carry_security_headers_and_hsts_only_over_https() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/health").await;
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    assert!(response.headers().contains_key("referrer-policy"));
    assert!(!response.headers().contains_key("strict-transport-security"));

    let https = TestApp::spawn_with(Options::default().env("COOKIE_SECURE", "true")).await;
    assert!(https.get("/api/health").await.headers().contains_key("strict-transport-security"));
    let mut plugin = https.plugin();
    plugin.sign_up("sec@example.com", "Sec", "Password1").await;
    let login = plugin.log_in("sec@example.com", "Password1").await;
    assert!(login.set_cookies.iter().all(|c| c.contains("Secure")), "{:?}", login.set_cookies);
}

/// Runs the real server binary as a second process on this app's database and Redis.
fn server_process(app: &TestApp) -> (std::process::Child, String) {
    let port = code4me_tests::process::free_port();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_code4me-server-cli"));
    command.env_clear().stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    for key in [
        "DB_HOST",
        "DB_PORT",
        "DB_USER",
        "DB_PASSWORD",
        "DB_NAME",
        "REDIS_HOST",
        "REDIS_PORT",
        "PASSWORD_HASH_MEMORY_KIB",
        "PASSWORD_HASH_ITERATIONS",
        "MAX_REQUEST_RATE_PER_HOUR_CONFIG",
        "WEBSITE_DIST_DIR",
    ] {
        if let Some(value) = app.env.raw(key) {
            command.env(key, value);
        }
    }
    command.env("SERVER_HOST", "127.0.0.1").env("SERVER_PORT", port.to_string());
    let child = command.spawn().expect("start the server binary");
    code4me_tests::redis_server::wait_for_port(port, std::time::Duration::from_secs(30));
    (child, format!("http://127.0.0.1:{port}"))
}

#[tokio::test]
async fn the_rate_limit_is_shared_by_server_processes() {
    let app = TestApp::spawn_with(Options::default().env("MAX_REQUEST_RATE_PER_HOUR_CONFIG", r#"{"/api/user/authenticate": 3}"#)).await;
    let (mut process, second) = server_process(&app);
    let body = json!({"email": "rl@example.com", "password": "Password1"});
    let mut statuses = Vec::new();
    for base in [&app.address, &second, &app.address, &second] {
        let response = app.client.post(format!("{base}/api/user/authenticate")).json(&body).send().await.expect("send");
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
            assert_eq!(response.json::<serde_json::Value>().await.expect("json"), json!({"message": "Too many requests. Please try again later."}));
        }
    }
    assert_eq!(statuses, [401, 401, 401, 429], "three allowed per hour across both processes");
    // Other paths keep their own budget, and probes are never limited.
    let other = app.client.get(app.url("/api/user/get")).send().await.expect("send");
    assert_eq!(other.status(), 401);
    for _ in 0..5 {
        assert_eq!(app.get("/api/health").await.status(), 200);
    }
    let _ = process.kill();
    let _ = process.wait();
}

#[tokio::test]
async fn x_forwarded_for_counts_only_behind_a_trusted_proxy() {
    let options = Options::default().env("MAX_REQUEST_RATE_PER_HOUR_CONFIG", r#"{"/api/user/authenticate": 1}"#).env("TRUSTED_PROXIES", "127.0.0.1");
    let app = TestApp::spawn_with(options).await;
    let body = json!({"email": "xff@example.com", "password": "Password1"});
    let call = |ip: &'static str| {
        let request = app.client.post(app.url("/api/user/authenticate")).header("x-forwarded-for", ip).json(&body);
        async move { request.send().await.expect("send").status().as_u16() }
    };
    assert_eq!(call("198.51.100.1").await, 401);
    assert_eq!(call("198.51.100.2").await, 401, "another client behind the proxy has its own budget");
    assert_eq!(call("198.51.100.1").await, 429);

    let untrusted = TestApp::spawn_with(Options::default().env("MAX_REQUEST_RATE_PER_HOUR_CONFIG", r#"{"/api/user/authenticate": 1}"#)).await;
    let send = |ip: &'static str| {
        let request = untrusted.client.post(untrusted.url("/api/user/authenticate")).header("x-forwarded-for", ip).json(&body);
        async move { request.send().await.expect("send").status().as_u16() }
    };
    assert_eq!(send("198.51.100.1").await, 401);
    assert_eq!(send("198.51.100.2").await, 429, "without a trusted proxy the header is ignored");
}

#[tokio::test]
async fn the_admin_bootstrap_creates_an_admin_who_can_log_in_and_promotes_on_restart() {
    let options = Options::default().env("ADMIN_EMAIL", "root@example.com").env("ADMIN_PASSWORD", "Rootpass1");
    let app = TestApp::spawn_with(options).await;
    let login = app.plugin().log_in("root@example.com", "Rootpass1").await;
    assert_eq!(login.status, 200);
    assert_eq!(login.body["user"]["is_admin"], json!(true));
    assert_eq!(login.body["user"]["verified"], json!(true));

    // An existing non-admin named in ADMIN_EMAIL is promoted when a server starts.
    app.plugin().sign_up("boss@example.com", "Boss", "Password1").await;
    let env = app.env.clone().with("ADMIN_EMAIL", "boss@example.com").with("ADMIN_PASSWORD", "Whatever1");
    let settings = code4me_shared::settings::ServerSettings::from_env(&env).expect("settings");
    code4me_server::startup::build_state(settings).await.expect("bootstrap");
    let promoted = app.plugin().log_in("boss@example.com", "Password1").await;
    assert_eq!(promoted.body["user"]["is_admin"], json!(true), "promoted, password unchanged");
}

#[tokio::test]
async fn the_admin_cli_creates_and_promotes_accounts() {
    let app = TestApp::spawn().await;
    app.plugin().sign_up("cli@example.com", "Cli", "Password1").await;
    let binary = env!("CARGO_BIN_EXE_code4me-server-cli");
    let run = |args: &[&str]| {
        let mut command = std::process::Command::new(binary);
        command.args(args).env_clear().env("STARTUP_CONNECT_TIMEOUT_SECONDS", "5").env("LOG_FORMAT", "pretty");
        for key in ["DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME", "PASSWORD_HASH_MEMORY_KIB", "PASSWORD_HASH_ITERATIONS"] {
            command.env(key, app.env.raw(key).unwrap_or_default());
        }
        command.output().expect("run the server binary")
    };
    let promoted = run(&["admin", "promote", "--email", "cli@example.com"]);
    assert!(promoted.status.success(), "{}", String::from_utf8_lossy(&promoted.stderr));
    let created = run(&["admin", "create-user", "--email", "ops@example.com", "--name", "Ops Team", "--password", "Opspass12"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    assert!(String::from_utf8_lossy(&created.stdout).starts_with("Created("), "{}", String::from_utf8_lossy(&created.stdout));
    let admins: Vec<String> =
        sqlx::query_scalar("SELECT email FROM \"user\" WHERE is_admin ORDER BY email").fetch_all(&app.db).await.expect("admins");
    assert_eq!(admins, ["cli@example.com", "ops@example.com"]);
    let missing = run(&["admin", "promote", "--email", "nobody@example.com"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no account"), "{}", String::from_utf8_lossy(&missing.stderr));
}
