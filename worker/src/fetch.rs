//! `code4me-worker fetch-model`: the one place that downloads weights. It fills `MODEL_CACHE_DIR`
//! in the Hugging Face cache layout (`models--org--name/{blobs,snapshots,refs}`), which the model
//! catalog reads without any network. Downloads go through hf-hub's sync API: a progress bar per
//! file, and an interrupted file resumes from its `.part` blob on the next run.

use std::path::{Path, PathBuf};

use anyhow::Context;
use hf_hub::api::sync::{ApiBuilder, ApiRepo};
use hf_hub::{Repo, RepoType};

/// Where the hub is, unless `--endpoint` or `HF_ENDPOINT` says otherwise.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// One `fetch-model` invocation.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    /// Hub repository, e.g. `bigcode/starcoder2-3b`; also the `model_name` row that will find it.
    pub repo_id: String,
    /// Files to fetch; empty means the safetensors checkpoint (config, tokenizer, weights).
    pub files: Vec<String>,
    /// `MODEL_CACHE_DIR`.
    pub cache_dir: PathBuf,
    /// Hub address.
    pub endpoint: String,
    /// Access token for gated repositories (`HF_TOKEN`).
    pub token: Option<String>,
    /// Draw progress bars on stderr.
    pub progress: bool,
}

/// Downloads (or finds already complete) every wanted file and returns the snapshot directory.
pub fn fetch_model(request: &FetchRequest) -> anyhow::Result<PathBuf> {
    let api = ApiBuilder::new()
        .with_cache_dir(request.cache_dir.clone())
        .with_endpoint(request.endpoint.trim_end_matches('/').to_owned())
        .with_token(request.token.clone())
        .with_progress(request.progress)
        .with_retries(3)
        .build()
        .context("setting up the hub client")?;
    let repo = api.repo(Repo::new(request.repo_id.clone(), RepoType::Model));
    let files = if request.files.is_empty() { checkpoint_files(&repo, &request.repo_id)? } else { request.files.clone() };
    let mut snapshot = None;
    for file in &files {
        // `get` returns a file already in the snapshot and downloads (or resumes) the others.
        let path = repo.get(file).with_context(|| format!("fetching {file} from {}", request.repo_id))?;
        snapshot = snapshot_dir(&path, file);
    }
    snapshot.context("nothing was fetched")
}

/// The files of a safetensors checkpoint in the repository's listing; a GGUF-only repository is an
/// error that names its GGUF files, since which quantisation to fetch is the user's choice.
fn checkpoint_files(repo: &ApiRepo, repo_id: &str) -> anyhow::Result<Vec<String>> {
    let info = repo.info().with_context(|| format!("listing the files of {repo_id}"))?;
    let names: Vec<String> = info.siblings.into_iter().map(|s| s.rfilename).collect();
    let wanted: Vec<String> = names.iter().filter(|n| is_checkpoint_file(n)).cloned().collect();
    if wanted.iter().any(|n| n.ends_with(".safetensors")) {
        return Ok(wanted);
    }
    let ggufs: Vec<&str> = names.iter().map(String::as_str).filter(|n| n.ends_with(".gguf")).collect();
    if ggufs.is_empty() {
        anyhow::bail!("{repo_id} has neither safetensors weights nor GGUF files");
    }
    anyhow::bail!("{repo_id} holds GGUF files; pick one with --file: {}", ggufs.join(", "))
}

/// Top-level files a candle safetensors runtime reads.
fn is_checkpoint_file(name: &str) -> bool {
    !name.contains('/')
        && (matches!(name, "config.json" | "generation_config.json" | "tokenizer.json" | "tokenizer_config.json" | "special_tokens_map.json")
            || name.ends_with(".safetensors")
            || name.ends_with(".safetensors.index.json"))
}

/// `<snapshot>/<file>` → `<snapshot>` (a file name may contain folders).
fn snapshot_dir(path: &Path, file: &str) -> Option<PathBuf> {
    let depth = Path::new(file).components().count();
    path.ancestors().nth(depth).map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_is_its_config_tokenizer_and_safetensors_shards() {
        for keep in ["config.json", "tokenizer.json", "model-00001-of-00002.safetensors", "model.safetensors.index.json"] {
            assert!(is_checkpoint_file(keep), "{keep}");
        }
        for skip in ["README.md", "onnx/model.onnx", "pytorch_model.bin", "model.Q4_K_M.gguf", "sub/config.json"] {
            assert!(!is_checkpoint_file(skip), "{skip}");
        }
    }

    #[test]
    fn the_snapshot_is_above_the_file_however_deep() {
        let snapshot = Path::new("/m/models--a--b/snapshots/abc");
        assert_eq!(snapshot_dir(&snapshot.join("config.json"), "config.json").as_deref(), Some(snapshot));
        assert_eq!(snapshot_dir(&snapshot.join("1_Pooling/config.json"), "1_Pooling/config.json").as_deref(), Some(snapshot));
    }

    /// A stand-in for the hub's two endpoints (repository listing and `resolve` with ranges), serving
    /// a tiny checkpoint and remembering every `Range` asked for.
    mod fake_hub {
        use std::collections::BTreeMap;
        use std::hash::{Hash, Hasher};
        use std::sync::{Arc, Mutex};

        use axum::extract::{Path, State};
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::{IntoResponse, Response};
        use axum::routing::get;
        use axum::{Json, Router};

        pub const COMMIT: &str = "5eed0123456789abcdef";

        #[derive(Clone, Default)]
        pub struct Hub {
            pub files: Arc<BTreeMap<String, Vec<u8>>>,
            pub ranges: Arc<Mutex<Vec<(String, String)>>>,
        }

        pub fn etag(bytes: &[u8]) -> String {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut hasher);
            format!("{:016x}{:08x}", hasher.finish(), bytes.len())
        }

        /// Serves on a free port from a thread of its own; returns the endpoint.
        pub fn start(hub: Hub) -> String {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let address = listener.local_addr().expect("address");
            listener.set_nonblocking(true).expect("nonblocking");
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async move {
                    let app = Router::new()
                        .route("/api/models/{org}/{name}/revision/main", get(listing))
                        .route("/{org}/{name}/resolve/main/{*file}", get(resolve))
                        .with_state(hub);
                    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    axum::serve(listener, app).await.expect("serve");
                });
            });
            format!("http://{address}")
        }

        async fn listing(State(hub): State<Hub>, Path((org, name)): Path<(String, String)>) -> Response {
            let siblings: Vec<serde_json::Value> = if name == "gguf-only" {
                ["README.md", "model.Q4_1.gguf", "model.Q8_0.gguf"].iter().map(|f| serde_json::json!({"rfilename": f})).collect()
            } else {
                hub.files.keys().chain(["README.md".to_owned()].iter()).map(|f| serde_json::json!({"rfilename": f})).collect()
            };
            let _ = org;
            Json(serde_json::json!({"sha": COMMIT, "siblings": siblings})).into_response()
        }

        async fn resolve(State(hub): State<Hub>, Path((_org, _name, file)): Path<(String, String, String)>, headers: HeaderMap) -> Response {
            let Some(bytes) = hub.files.get(&file) else { return StatusCode::NOT_FOUND.into_response() };
            let range = headers.get("range").and_then(|v| v.to_str().ok()).unwrap_or("bytes=0-").to_owned();
            hub.ranges.lock().expect("ranges").push((file.clone(), range.clone()));
            let (start, end) = range.trim_start_matches("bytes=").split_once('-').expect("a byte range");
            let start: usize = start.parse().expect("start");
            let end: usize = if end.is_empty() { bytes.len() - 1 } else { end.parse().expect("end") };
            let body = bytes[start..=end].to_vec();
            let mut reply = (StatusCode::PARTIAL_CONTENT, body).into_response();
            let headers = reply.headers_mut();
            headers.insert("content-range", format!("bytes {start}-{end}/{}", bytes.len()).parse().expect("header"));
            headers.insert("etag", format!("\"{}\"", etag(bytes)).parse().expect("header"));
            headers.insert("x-repo-commit", COMMIT.parse().expect("header"));
            reply
        }
    }

    fn checkpoint_hub() -> fake_hub::Hub {
        let dir = tempfile::tempdir().expect("tmp");
        crate::model::starcoder2::write_tiny_checkpoint(dir.path(), 256);
        let files = std::fs::read_dir(dir.path())
            .expect("checkpoint")
            .map(|e| e.expect("entry").path())
            .map(|p| (p.file_name().expect("name").to_string_lossy().into_owned(), std::fs::read(&p).expect("read")))
            .collect();
        fake_hub::Hub { files: std::sync::Arc::new(files), ..Default::default() }
    }

    #[test]
    fn fetch_model_fills_the_cache_the_catalog_reads_and_resumes_a_partial_file() {
        use crate::model::LoadOptions;
        use crate::model::catalog::{Catalog, ModelRow};

        let hub = checkpoint_hub();
        let endpoint = fake_hub::start(hub.clone());
        let cache = tempfile::tempdir().expect("tmp");
        // An earlier run died half-way through the weights.
        let weights = &hub.files["model.safetensors"];
        let half = weights.len() / 2;
        let blobs = cache.path().join("models--tiny--remote-starcoder2/blobs");
        std::fs::create_dir_all(&blobs).expect("blobs");
        std::fs::write(blobs.join(format!("{}.part", fake_hub::etag(weights))), &weights[..half]).expect("partial");

        let request = FetchRequest {
            repo_id: "tiny/remote-starcoder2".into(),
            files: Vec::new(),
            cache_dir: cache.path().to_path_buf(),
            endpoint,
            token: None,
            progress: false,
        };
        let snapshot = fetch_model(&request).expect("fetched");
        assert_eq!(snapshot, cache.path().join("models--tiny--remote-starcoder2/snapshots").join(fake_hub::COMMIT));
        for (name, bytes) in hub.files.iter() {
            assert_eq!(&std::fs::read(snapshot.join(name)).expect("fetched file"), bytes, "{name} arrives intact");
        }
        assert!(!snapshot.join("README.md").exists(), "only the checkpoint's files");
        let weight_ranges: Vec<String> =
            hub.ranges.lock().expect("ranges").iter().filter(|(f, r)| f == "model.safetensors" && r != "bytes=0-0").map(|(_, r)| r.clone()).collect();
        assert_eq!(weight_ranges, vec![format!("bytes={half}-")], "the download resumed where the partial file ended");

        let asked = hub.ranges.lock().expect("ranges").len();
        fetch_model(&request).expect("fetched again");
        assert_eq!(hub.ranges.lock().expect("ranges").len(), asked, "a complete snapshot is not downloaded again");

        let row = ModelRow {
            id: 11,
            name: "tiny/remote-starcoder2".into(),
            instruction_tuned: false,
            prompt_templates: serde_json::json!({"fim_template": {"single_file_template": "{prefix}"}}),
            model_parameters: serde_json::json!({"max_new_tokens": 4}),
        };
        let catalog = Catalog::load(&[row], cache.path(), &LoadOptions::with_threads(1));
        assert_eq!(catalog.available(), vec![11], "the worker finds the fetched model offline");
    }

    #[test]
    fn a_gguf_repository_asks_which_file_and_an_unreachable_hub_is_an_error() {
        let endpoint = fake_hub::start(checkpoint_hub());
        let cache = tempfile::tempdir().expect("tmp");
        let request = |repo_id: &str, endpoint: &str| FetchRequest {
            repo_id: repo_id.into(),
            files: Vec::new(),
            cache_dir: cache.path().to_path_buf(),
            endpoint: endpoint.into(),
            token: None,
            progress: false,
        };
        let error = format!("{:#}", fetch_model(&request("tiny/gguf-only", &endpoint)).expect_err("refused"));
        assert!(error.contains("--file: model.Q4_1.gguf, model.Q8_0.gguf"), "{error}");
        let error = format!("{:#}", fetch_model(&request("tiny/remote-starcoder2", "http://127.0.0.1:9")).expect_err("refused"));
        assert!(error.contains("listing the files of tiny/remote-starcoder2"), "{error}");
    }
}
