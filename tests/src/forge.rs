//! A local stand-in for a git forge (we cannot reach GitHub from tests): bare repositories in a
//! temporary directory, served over git's smart HTTP protocol by the real `git http-backend` (run as
//! a CGI program, so clones and pushes go through the same code paths as against a real forge, both
//! protocol v0 and v2), and GitHub's `POST /repos/{owner}/{repo}/pulls` under `/api/v3`, which wants
//! the API token the forge issued and a `User-Agent`, and checks the branches exist, as GitHub does.
//!
//! Tests inspect what was pushed with the git CLI on the bare repositories ([`Forge::branches`],
//! [`Forge::commits_on`], [`Forge::diff_of`], [`Forge::file_at`]) and what was asked of the API
//! with [`Forge::pull_requests`].

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use base64::Engine;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// The identity (and date) of every commit [`Forge::create_repo`] makes, fixed so shas are too.
const IDENTITY: [(&str, &str); 6] = [
    ("GIT_AUTHOR_NAME", "Forge Fixture"),
    ("GIT_AUTHOR_EMAIL", "fixture@forge.test"),
    ("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z"),
    ("GIT_COMMITTER_NAME", "Forge Fixture"),
    ("GIT_COMMITTER_EMAIL", "fixture@forge.test"),
    ("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z"),
];

/// A pull request the API was asked to open (and opened).
#[derive(Clone, Debug)]
pub struct PullRequestSeen {
    /// The owner in the URL.
    pub owner: String,
    /// The repository in the URL.
    pub repo: String,
    /// The number the forge gave it (per repository, from 1).
    pub number: u64,
    /// `title`.
    pub title: String,
    /// `head`, as sent (GitHub also takes `owner:branch`).
    pub head: String,
    /// `base`.
    pub base: String,
    /// `body` (optional for GitHub).
    pub body: Option<String>,
    /// The `Authorization` header it came with.
    pub authorization: Option<String>,
    /// The `User-Agent` header it came with.
    pub user_agent: Option<String>,
}

#[derive(Clone)]
struct Shared {
    /// Holds `<owner>/<name>.git`; `GIT_PROJECT_ROOT` of `git http-backend`.
    root: PathBuf,
    /// `http://127.0.0.1:<port>`.
    url: String,
    api_token: String,
    /// The token git requests must carry, if any.
    git_token: Arc<Mutex<Option<String>>>,
    /// The status pull-request requests get instead of being served, if any.
    pull_failure: Arc<Mutex<Option<StatusCode>>>,
    pulls: Arc<Mutex<Vec<PullRequestSeen>>>,
}

/// The running forge. Dropping it stops the server and deletes the repositories.
pub struct Forge {
    port: u16,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
    // Last: deleted after the server stops.
    _dir: tempfile::TempDir,
}

impl Drop for Forge {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Forge {
    /// Starts it on a free loopback port, with no repositories.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("forge directory");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let shared = Shared {
            root: dir.path().to_owned(),
            url: format!("http://127.0.0.1:{port}"),
            api_token: format!("ghs_{}", uuid::Uuid::new_v4().simple()),
            git_token: Arc::default(),
            pull_failure: Arc::default(),
            pulls: Arc::default(),
        };
        let app = Router::new()
            .route("/git/{*path}", any(git_http))
            .route("/api/v3/repos/{owner}/{repo}/pulls", post(open_pull_request))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("forge server");
        });
        Self { port, shared, server, _dir: dir }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The REST API's base URL, as GitHub Enterprise spells it: `http://127.0.0.1:<port>/api/v3`.
    pub fn api_base(&self) -> String {
        format!("{}/api/v3", self.shared.url)
    }

    /// The token the API wants as `Authorization: Bearer <token>` (random per forge).
    pub fn api_token(&self) -> String {
        self.shared.api_token.clone()
    }

    /// The clone URL of `<owner>/<name>` (whether or not it exists).
    pub fn clone_url(&self, owner: &str, name: &str) -> String {
        format!("{}/git/{owner}/{name}.git", self.shared.url)
    }

    /// Makes every git request (clone and fetch too, as for a private repository) carry
    /// `Authorization: Basic base64("x-access-token:<token>")` or `Authorization: Bearer <token>`;
    /// others get 401 with `WWW-Authenticate: Basic realm="forge"`. By default git needs nothing.
    pub fn require_token(&self, token: &str) {
        *self.shared.git_token.lock().expect("lock") = Some(token.to_owned());
    }

    /// Makes pull-request requests answer `status` (with a GitHub-shaped JSON message) without
    /// opening or recording anything, until [`Forge::accept_pull_requests`].
    pub fn fail_pull_requests(&self, status: u16) {
        let status = StatusCode::from_u16(status).expect("an HTTP status");
        *self.shared.pull_failure.lock().expect("lock") = Some(status);
    }

    /// Undoes [`Forge::fail_pull_requests`].
    pub fn accept_pull_requests(&self) {
        *self.shared.pull_failure.lock().expect("lock") = None;
    }

    /// The pull requests opened so far, oldest first.
    pub fn pull_requests(&self) -> Vec<PullRequestSeen> {
        self.shared.pulls.lock().expect("lock").clone()
    }

    /// Creates the bare repository `<owner>/<name>` with one commit on `main` holding `files`
    /// (`(path, content)`; paths may contain directories), open to pushes over HTTP, and returns
    /// its clone URL. The commit's author, committer and date are fixed.
    pub fn create_repo(&self, owner: &str, name: &str, files: &[(&str, &str)]) -> String {
        for part in [owner, name] {
            assert!(!part.is_empty() && !part.contains(['/', '\\']) && part != "." && part != "..", "a plain name: {part:?}");
        }
        let bare = self.repo_path(owner, name);
        assert!(!bare.exists(), "{owner}/{name} exists already");
        let work = tempfile::tempdir().expect("work directory");
        git(work.path(), &["init", "--quiet", "--initial-branch=main"]);
        for (path, content) in files {
            let file = work.path().join(path);
            std::fs::create_dir_all(file.parent().expect("a parent")).expect("directories");
            std::fs::write(&file, content).expect("write file");
        }
        git(work.path(), &["add", "--all"]);
        git(work.path(), &["commit", "--quiet", "--allow-empty", "--message", "Initial commit"]);
        std::fs::create_dir_all(bare.parent().expect("owner directory")).expect("owner directory");
        git(work.path(), &["clone", "--quiet", "--bare", ".", bare.to_str().expect("UTF-8 path")]);
        // Without it, `git http-backend` refuses pushes unless the web server authenticated the user
        // (`REMOTE_USER`).
        git(&bare, &["config", "http.receivepack", "true"]);
        // The bare clone remembers the work directory as `origin`; the forge's repository has none.
        git(&bare, &["remote", "remove", "origin"]);
        self.clone_url(owner, name)
    }

    /// The repository's branches, sorted.
    pub fn branches(&self, owner: &str, name: &str) -> Vec<String> {
        let out = git(&self.repo_path(owner, name), &["for-each-ref", "--format=%(refname:strip=2)", "refs/heads/"]);
        let mut branches: Vec<String> = out.lines().map(str::to_owned).collect();
        branches.sort();
        branches
    }

    /// The shas of the commits reachable from `branch`, newest first. Panics if there is no such branch.
    pub fn commits_on(&self, owner: &str, name: &str, branch: &str) -> Vec<String> {
        let out = git(&self.repo_path(owner, name), &["rev-list", &format!("refs/heads/{branch}"), "--"]);
        out.lines().map(str::to_owned).collect()
    }

    /// The patch a commit (a sha, or any revision) introduces, without its message: `git show --patch`.
    pub fn diff_of(&self, owner: &str, name: &str, sha: &str) -> String {
        git(&self.repo_path(owner, name), &["show", "--format=", "--patch", sha, "--"])
    }

    /// The content of `path` at `rev` (a branch, sha, ...), or `None` if either does not exist.
    pub fn file_at(&self, owner: &str, name: &str, rev: &str, path: &str) -> Option<String> {
        try_git(&self.repo_path(owner, name), &["show", &format!("{rev}:{path}")]).ok()
    }

    fn repo_path(&self, owner: &str, name: &str) -> PathBuf {
        self.shared.root.join(owner).join(format!("{name}.git"))
    }
}

/// `git args` in `dir` without the user's or the system's configuration, with the fixed identity.
fn hermetic_git(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new("git");
    command
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .envs(IDENTITY)
        .stdin(Stdio::null());
    command
}

/// Runs git in `dir` ([`hermetic_git`]); its stdout, or why it failed.
fn try_git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = hermetic_git(dir, args).output().expect("run git");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("git {args:?} in {}: {}\n{}", dir.display(), out.status, String::from_utf8_lossy(&out.stderr)))
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    try_git(dir, args).unwrap_or_else(|e| panic!("{e}"))
}

/// Whether `Authorization` carries `token` as a forge accepts it for git: Basic with user
/// `x-access-token` (what GitHub wants for app tokens), or Bearer.
fn carries_token(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|a| a.to_str().ok()) else { return false };
    if let Some(bearer) = value.strip_prefix("Bearer ") {
        return bearer == token;
    }
    let Some(basic) = value.strip_prefix("Basic ") else { return false };
    let decoded = base64::engine::general_purpose::STANDARD.decode(basic.trim()).ok().and_then(|d| String::from_utf8(d).ok());
    decoded.is_some_and(|d| d.strip_prefix("x-access-token:") == Some(token))
}

/// Git's smart HTTP protocol: hands the request to `git http-backend` as a CGI program.
async fn git_http(State(s): State<Shared>, UrlPath(path): UrlPath<String>, request: Request) -> Response {
    let required = s.git_token.lock().expect("lock").clone();
    if let Some(token) = required
        && !carries_token(request.headers(), &token)
    {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"forge\"")], "Authentication required\n").into_response();
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return (StatusCode::BAD_REQUEST, "unreadable request body\n").into_response();
    };
    let headers = &parts.headers;
    let header_or_empty = |name: HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let git_protocol = header_or_empty(HeaderName::from_static("git-protocol"));
    let mut command = tokio::process::Command::new("git");
    command
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &s.root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", &s.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", format!("/{path}"))
        .env("QUERY_STRING", parts.uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", header_or_empty(header::CONTENT_TYPE))
        // The whole body is read already (hyper undid any chunking), so its length is known.
        .env("CONTENT_LENGTH", body.len().to_string())
        // `gzip` for larger fetch requests from git clients; http-backend inflates it itself.
        .env("HTTP_CONTENT_ENCODING", header_or_empty(header::CONTENT_ENCODING))
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REMOTE_USER", "forge-user")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if !git_protocol.is_empty() {
        // http-backend turns `HTTP_GIT_PROTOCOL` into `GIT_PROTOCOL` itself; both, to be sure.
        command.env("HTTP_GIT_PROTOCOL", &git_protocol).env("GIT_PROTOCOL", &git_protocol);
    }
    let mut child = command.spawn().expect("run git http-backend");
    let mut stdin = child.stdin.take().expect("stdin");
    // Written while the output is read: upload-pack may answer before it has read everything.
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let output = child.wait_with_output().await.expect("git http-backend");
    let _ = writer.await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.trim().is_empty() {
        eprintln!("forge: git http-backend {} /{path}: {}", parts.method, stderr.trim());
    }
    cgi_response(&output.stdout).unwrap_or_else(|| {
        let message = format!("git http-backend answered no CGI response ({}): {stderr}", output.status);
        (StatusCode::INTERNAL_SERVER_ERROR, message).into_response()
    })
}

/// A CGI program's output as an HTTP response: header lines (`Status: 404 Not Found` sets the
/// status, 200 without one), a blank line, then the body.
fn cgi_response(out: &[u8]) -> Option<Response> {
    let (head, body) = [&b"\r\n\r\n"[..], b"\n\n"]
        .iter()
        .filter_map(|sep| out.windows(sep.len()).position(|w| w == *sep).map(|at| (at, sep.len())))
        .min()
        .map(|(at, len)| (&out[..at], &out[at + len..]))?;
    let mut response = Response::builder().status(StatusCode::OK);
    for line in std::str::from_utf8(head).ok()?.lines() {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next()?.parse().ok()?;
            response = response.status(StatusCode::from_u16(code).ok()?);
        } else {
            response = response.header(HeaderName::from_bytes(name.trim().as_bytes()).ok()?, HeaderValue::from_str(value).ok()?);
        }
    }
    response.body(Body::from(body.to_vec())).ok()
}

fn api_error(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// GitHub's "create a pull request", as far as a repository agent uses it.
async fn open_pull_request(State(s): State<Shared>, UrlPath((owner, repo)): UrlPath<(String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let user_agent = header(header::USER_AGENT);
    if user_agent.is_none() {
        let message = "Request forbidden by administrative rules. Please make sure your request has a User-Agent header";
        return (StatusCode::FORBIDDEN, message).into_response();
    }
    let authorization = header(header::AUTHORIZATION);
    if authorization.as_deref().and_then(|a| a.strip_prefix("Bearer ")) != Some(s.api_token.as_str()) {
        return api_error(StatusCode::UNAUTHORIZED, json!({"message": "Bad credentials"}));
    }
    let failure = *s.pull_failure.lock().expect("lock");
    if let Some(status) = failure {
        return api_error(status, json!({"message": status.canonical_reason().unwrap_or("Error")}));
    }
    let bare = s.root.join(&owner).join(format!("{repo}.git"));
    if [&owner, &repo].iter().any(|p| p.contains(['/', '\\']) || p.starts_with('.')) || !bare.is_dir() {
        return api_error(StatusCode::NOT_FOUND, json!({"message": "Not Found"}));
    }
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&body) else {
        return api_error(StatusCode::BAD_REQUEST, json!({"message": "Problems parsing JSON"}));
    };
    let field = |name: &str| request.get(name).and_then(Value::as_str).map(str::to_owned);
    let (title, head, base) = (field("title"), field("head"), field("base"));
    let mut errors = Vec::new();
    for (name, value) in [("title", &title), ("head", &head), ("base", &base)] {
        if value.as_deref().is_none_or(str::is_empty) {
            errors.push(json!({"resource": "PullRequest", "field": name, "code": "missing_field"}));
        }
    }
    // GitHub takes `head` as `branch` or `owner:branch`.
    let branch_exists = |branch: &str| try_git(&bare, &["rev-parse", "--verify", "--quiet", &format!("refs/heads/{branch}")]).is_ok();
    let head_branch = head.as_deref().map(|h| h.split_once(':').map_or(h, |(_, b)| b)).unwrap_or_default().to_owned();
    if errors.is_empty() {
        for (name, branch) in [("head", head_branch.as_str()), ("base", base.as_deref().unwrap_or_default())] {
            if !branch_exists(branch) {
                errors.push(json!({"resource": "PullRequest", "field": name, "code": "invalid"}));
            }
        }
    }
    if !errors.is_empty() {
        let documentation = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request";
        return api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "Validation Failed", "errors": errors, "documentation_url": documentation}),
        );
    }
    let (title, head, base) = (title.unwrap_or_default(), head.unwrap_or_default(), base.unwrap_or_default());
    let number = {
        let mut pulls = s.pulls.lock().expect("lock");
        let number = pulls.iter().filter(|p| p.owner == owner && p.repo == repo).count() as u64 + 1;
        pulls.push(PullRequestSeen {
            owner: owner.clone(),
            repo: repo.clone(),
            number,
            title: title.clone(),
            head: head.clone(),
            base: base.clone(),
            body: field("body"),
            authorization,
            user_agent,
        });
        number
    };
    let html_url = format!("{}/{owner}/{repo}/pull/{number}", s.url);
    let response = json!({
        "number": number,
        "html_url": html_url,
        "url": format!("{}/api/v3/repos/{owner}/{repo}/pulls/{number}", s.url),
        "state": "open",
        "title": title,
        "body": field("body"),
        "head": {"ref": head_branch, "label": head},
        "base": {"ref": base},
    });
    (StatusCode::CREATED, Json(response)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a git client command in `dir` (hermetic, like the forge's own), returning its stderr.
    fn client(dir: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Result<String, String> {
        let out = hermetic_git(dir, args).envs(extra_env.iter().copied()).output().expect("run git");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.success() { Ok(stderr) } else { Err(format!("git {args:?}: {}\n{stderr}", out.status)) }
    }

    /// Runs git client commands off the async runtime's threads, since the forge serves them on it.
    async fn client_async(dir: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Result<String, String> {
        let (dir, args) = (dir.to_owned(), args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
        let extra: Vec<(String, String)> = extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            client(&dir, &args, &extra)
        })
        .await
        .expect("git client task")
    }

    #[tokio::test]
    async fn clone_push_and_open_a_pull_request() {
        let forge = Forge::start().await;
        let url = forge.create_repo("acme", "widgets", &[("README.md", "# Widgets\n"), ("src/lib.rs", "pub fn answer() -> u32 {\n    41\n}\n")]);
        assert_eq!(url, format!("http://{}/git/acme/widgets.git", forge.host()));
        assert_eq!(forge.branches("acme", "widgets"), ["main"]);
        let initial = forge.commits_on("acme", "widgets", "main");
        assert_eq!(initial.len(), 1);
        assert_eq!(forge.file_at("acme", "widgets", "main", "README.md").as_deref(), Some("# Widgets\n"));
        assert_eq!(forge.file_at("acme", "widgets", "main", "missing.txt"), None);

        let work = tempfile::tempdir().expect("client directory");
        let clone = ["-c", "protocol.version=2", "clone", "--quiet", "--depth", "1", &url, "widgets"];
        let trace = client_async(work.path(), &clone, &[("GIT_TRACE_PACKET", "1")]).await.expect("clone");
        assert!(trace.contains("git< version 2"), "the server spoke protocol v2: {trace}");
        let checkout = work.path().join("widgets");
        assert_eq!(std::fs::read_to_string(checkout.join("README.md")).expect("cloned file"), "# Widgets\n");
        // Protocol v0 as well (what older clients, and push, speak).
        let refs = client_async(&checkout, &["-c", "protocol.version=0", "ls-remote", "--heads", "origin"], &[]).await;
        refs.expect("ls-remote over protocol v0");

        std::fs::write(checkout.join("src/lib.rs"), "pub fn answer() -> u32 {\n    42\n}\n").expect("edit");
        client(&checkout, &["checkout", "--quiet", "-b", "feature"], &[]).expect("branch");
        client(&checkout, &["commit", "--quiet", "--all", "--message", "Fix the answer"], &[]).expect("commit");
        client_async(&checkout, &["push", "--quiet", "origin", "HEAD:refs/heads/feature"], &[]).await.expect("push");

        assert_eq!(forge.branches("acme", "widgets"), ["feature", "main"]);
        let feature = forge.commits_on("acme", "widgets", "feature");
        assert_eq!(feature.len(), 2, "the new commit on top of the initial one");
        assert_eq!(feature[1], initial[0]);
        let diff = forge.diff_of("acme", "widgets", &feature[0]);
        assert!(diff.contains("-    41\n+    42\n"), "{diff}");
        assert!(!diff.contains("Fix the answer"), "no commit message: {diff}");
        assert_eq!(forge.file_at("acme", "widgets", "feature", "src/lib.rs").as_deref(), Some("pub fn answer() -> u32 {\n    42\n}\n"));

        let http = reqwest::Client::new();
        let pulls = format!("{}/repos/acme/widgets/pulls", forge.api_base());
        let request = json!({"title": "Fix the answer", "head": "feature", "base": "main", "body": "It is 42."});
        let answer = http.post(&pulls).bearer_auth(forge.api_token()).header("User-Agent", "code4me-test").json(&request).send().await.expect("POST");
        assert_eq!(answer.status(), 201);
        let answer: Value = answer.json().await.expect("JSON");
        assert_eq!(answer["number"], 1);
        assert_eq!(answer["html_url"], format!("http://{}/acme/widgets/pull/1", forge.host()));
        assert_eq!(answer["state"], "open");
        assert_eq!(answer["head"]["ref"], "feature");
        assert_eq!(answer["base"]["ref"], "main");
        let seen = forge.pull_requests();
        assert_eq!(seen.len(), 1);
        assert_eq!((seen[0].owner.as_str(), seen[0].repo.as_str(), seen[0].title.as_str()), ("acme", "widgets", "Fix the answer"));
        assert_eq!((seen[0].head.as_str(), seen[0].base.as_str(), seen[0].body.as_deref()), ("feature", "main", Some("It is 42.")));
        assert_eq!(seen[0].authorization, Some(format!("Bearer {}", forge.api_token())));

        // Refusals, none recorded.
        let post = |token: &str, body: &Value| http.post(&pulls).bearer_auth(token).header("User-Agent", "code4me-test").json(body).send();
        let wrong = post("ghs_wrong", &request).await.expect("POST");
        assert_eq!(wrong.status(), 401);
        assert_eq!(wrong.json::<Value>().await.expect("JSON"), json!({"message": "Bad credentials"}));
        let unknown = post(&forge.api_token(), &json!({"title": "t", "head": "nope", "base": "main"})).await.expect("POST");
        assert_eq!(unknown.status(), 422);
        let unknown: Value = unknown.json().await.expect("JSON");
        assert_eq!((unknown["message"].as_str(), unknown["errors"][0]["field"].as_str()), (Some("Validation Failed"), Some("head")));
        let missing = http.post(format!("{}/repos/acme/gadgets/pulls", forge.api_base())).bearer_auth(forge.api_token());
        let missing = missing.header("User-Agent", "code4me-test").json(&request).send().await.expect("POST");
        assert_eq!(missing.status(), 404);
        let no_agent = http.post(&pulls).bearer_auth(forge.api_token()).json(&request).send().await.expect("POST");
        assert_eq!(no_agent.status(), 403);
        forge.fail_pull_requests(500);
        assert_eq!(post(&forge.api_token(), &request).await.expect("POST").status(), 500);
        forge.accept_pull_requests();
        assert_eq!(forge.pull_requests().len(), 1);
        let second = post(&forge.api_token(), &request).await.expect("POST");
        assert_eq!(second.json::<Value>().await.expect("JSON")["number"], 2);
    }

    #[tokio::test]
    async fn git_requests_need_the_token_once_required() {
        let forge = Forge::start().await;
        let url = forge.create_repo("acme", "private", &[("a.txt", "a\n")]);
        forge.require_token("s3cret");
        let work = tempfile::tempdir().expect("client directory");

        let refused = client_async(work.path(), &["clone", "--quiet", &url, "anonymous"], &[]).await.expect_err("refused");
        assert!(refused.contains("Authentication failed") || refused.contains("could not read Username"), "{refused}");
        let wrong = "Authorization: Basic ".to_owned() + &base64::engine::general_purpose::STANDARD.encode("x-access-token:nope");
        client_async(work.path(), &["-c", &format!("http.extraHeader={wrong}"), "clone", "--quiet", &url, "wrong"], &[]).await.expect_err("refused");

        let basic = "Authorization: Basic ".to_owned() + &base64::engine::general_purpose::STANDARD.encode("x-access-token:s3cret");
        client_async(work.path(), &["-c", &format!("http.extraHeader={basic}"), "clone", "--quiet", &url, "basic"], &[]).await.expect("clone");
        // The token in the URL, as agents often push.
        let checkout = work.path().join("basic");
        std::fs::write(checkout.join("a.txt"), "b\n").expect("edit");
        client(&checkout, &["commit", "--quiet", "--all", "--message", "Change a"], &[]).expect("commit");
        let with_token = url.replace("http://", "http://x-access-token:s3cret@");
        client_async(&checkout, &["push", "--quiet", &with_token, "HEAD:refs/heads/change"], &[]).await.expect("push");
        assert_eq!(forge.branches("acme", "private"), ["change", "main"]);

        let bearer = "http.extraHeader=Authorization: Bearer s3cret";
        client_async(work.path(), &["-c", bearer, "clone", "--quiet", &url, "bearer"], &[]).await.expect("clone with a bearer token");
    }

    /// Git clients gzip fetch requests over 1 KiB (here: 30 `want` lines); http-backend inflates them.
    #[tokio::test]
    async fn a_gzipped_fetch_request_is_served() {
        let forge = Forge::start().await;
        let url = forge.create_repo("acme", "many", &[("a.txt", "a\n")]);
        let work = tempfile::tempdir().expect("client directory");
        client_async(work.path(), &["clone", "--quiet", &url, "first"], &[]).await.expect("clone");
        let first = work.path().join("first");
        let mut refspecs = Vec::new();
        for i in 0..30 {
            client(&first, &["commit", "--quiet", "--allow-empty", "--message", &format!("Empty {i}")], &[]).expect("commit");
            let sha = client_stdout(&first, &["rev-parse", "HEAD"]);
            refspecs.push(format!("{}:refs/heads/b{i}", sha.trim()));
        }
        let mut push = vec!["push", "--quiet", "origin"];
        push.extend(refspecs.iter().map(String::as_str));
        client_async(&first, &push, &[]).await.expect("push 30 branches");
        assert_eq!(forge.branches("acme", "many").len(), 31);

        let trace = client_async(work.path(), &["-c", "protocol.version=0", "clone", "--quiet", &url, "second"], &[("GIT_TRACE_CURL", "1")])
            .await
            .expect("clone all branches");
        assert!(trace.to_ascii_lowercase().contains("content-encoding: gzip"), "a gzipped request body was sent");
        assert!(work.path().join("second/a.txt").exists());
    }

    fn client_stdout(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git").args(args).current_dir(dir).output().expect("run git");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
