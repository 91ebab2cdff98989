//! A client that talks like the JetBrains plugin: the plugin's exact request bodies, and a cookie
//! jar fed by `Set-Cookie` (an empty value deletes, as browsers and the plugin's CookieManager do).

use reqwest::Method;
use serde_json::{Value, json};

/// A response, read.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body (`Value::Null` when the body is not JSON).
    pub body: Value,
    /// Raw body text.
    pub text: String,
    /// `Set-Cookie` header values.
    pub set_cookies: Vec<String>,
}

impl Reply {
    /// The `message` field.
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

/// The plugin's view of one server.
pub struct Plugin {
    client: reqwest::Client,
    base: String,
    /// Cookie `auth_token`.
    pub auth_token: Option<String>,
    /// Cookie `session_token`.
    pub session_token: Option<String>,
    /// Cookie `project_token`.
    pub project_token: Option<String>,
}

impl Plugin {
    /// A plugin with an empty cookie jar.
    pub fn new(client: reqwest::Client, base: &str) -> Self {
        Self { client, base: base.to_owned(), auth_token: None, session_token: None, project_token: None }
    }

    /// Points the plugin at another server instance (same jar).
    pub fn use_server(&mut self, base: &str) {
        self.base = base.to_owned();
    }

    /// The `Cookie` header the plugin sends (also for WebSocket handshakes).
    pub fn cookie_header(&self) -> Option<String> {
        let jar = [("auth_token", &self.auth_token), ("session_token", &self.session_token), ("project_token", &self.project_token)];
        let parts: Vec<String> = jar.iter().filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={v}"))).collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Sends a request with the jar's cookies and records the cookies the server sets.
    pub async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(cookies) = self.cookie_header() {
            request = request.header("cookie", cookies);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request reaches the server");
        let status = response.status().as_u16();
        let set_cookies: Vec<String> = response.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
        for cookie in &set_cookies {
            let Some((name, rest)) = cookie.split_once('=') else { continue };
            let value = rest.split(';').next().unwrap_or_default().to_owned();
            let slot = match name {
                "auth_token" => &mut self.auth_token,
                "session_token" => &mut self.session_token,
                "project_token" => &mut self.project_token,
                _ => continue,
            };
            *slot = (!value.is_empty()).then_some(value);
        }
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, body, text, set_cookies }
    }

    /// Sends a body-less request with the jar's cookies and returns the response as it is (for
    /// headers and non-JSON bodies such as file downloads).
    pub async fn raw(&mut self, method: Method, path: &str) -> reqwest::Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(cookies) = self.cookie_header() {
            request = request.header("cookie", cookies);
        }
        request.send().await.expect("request reaches the server")
    }

    /// Sign-up exactly as the plugin sends it (all six fields).
    pub async fn sign_up(&mut self, email: &str, name: &str, password: &str) -> Reply {
        let body = json!({"email": email, "name": name, "password": password, "config_id": 1, "token": "", "provider": "no_provider"});
        self.call(Method::POST, "/api/user/create", Some(body)).await
    }

    /// Log-in exactly as the plugin sends it.
    pub async fn log_in(&mut self, email: &str, password: &str) -> Reply {
        let body = json!({"email": email, "password": password, "provider": "no_provider", "token": ""});
        self.call(Method::POST, "/api/user/authenticate", Some(body)).await
    }

    /// `GET /api/session/acquire`.
    pub async fn acquire_session(&mut self) -> Reply {
        self.call(Method::GET, "/api/session/acquire", None).await
    }

    /// `POST /api/project/create`.
    pub async fn create_project(&mut self, name: &str) -> Reply {
        self.call(Method::POST, "/api/project/create", Some(json!({"project_name": name}))).await
    }

    /// `PUT /api/project/activate`.
    pub async fn activate_project(&mut self, project_id: &str) -> Reply {
        self.call(Method::PUT, "/api/project/activate", Some(json!({"project_id": project_id}))).await
    }

    /// The preference update the plugin sends after login (nested lists and objects included).
    pub async fn update_preferences(&mut self, store_context: bool) -> Reply {
        let body = json!({"preference": {
            "store_context": store_context, "store_behavioral_telemetry": true, "store_contextual_telemetry": true,
            "enabled_modules": ["BehavioralTelemetryAggregator", "contextAggregator"],
            "module_values": {"TypingSpeed": "10"},
        }});
        self.call(Method::PUT, "/api/user/update", Some(body)).await
    }

    /// `GET /api/user/get`.
    pub async fn get_user(&mut self) -> Reply {
        self.call(Method::GET, "/api/user/get", None).await
    }

    /// `PUT /api/session/deactivate/` (with the slash, as the plugin sends it).
    pub async fn deactivate(&mut self) -> Reply {
        self.call(Method::PUT, "/api/session/deactivate/", None).await
    }

    /// Sign-up, log-in, session and a fresh project: where most plugin tests start. Returns the
    /// project id.
    pub async fn signed_in_with_project(&mut self, email: &str, password: &str) -> String {
        assert_eq!(self.sign_up(email, "Test User", password).await.status, 201);
        assert_eq!(self.log_in(email, password).await.status, 200);
        assert_eq!(self.acquire_session().await.status, 200);
        let created = self.create_project("demo").await;
        assert_eq!(created.status, 201, "{}", created.text);
        created.body["project_token"].as_str().expect("project token").to_owned()
    }
}

/// A `RequestCompletion` body as the plugin sends it, storing everything.
pub fn completion_body(model_ids: &[i64], prefix: &str) -> Value {
    json!({
        "model_ids": model_ids,
        "context": {"prefix": prefix, "suffix": "\n", "file_name": "main.py", "selected_text": "", "context_files": ["*"]},
        "contextual_telemetry": {"version_id": 3, "trigger_type_id": 2, "language_id": 47, "file_path": "/p/main.py",
                                 "caret_line": 3, "document_char_length": 120, "relative_document_position": 0.5},
        "behavioral_telemetry": {"time_since_last_shown": 1200, "time_since_last_accepted": 5000, "typing_speed": 4.5},
        "store_context": true, "store_contextual_telemetry": true, "store_behavioral_telemetry": true,
    })
}
