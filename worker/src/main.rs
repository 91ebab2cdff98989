//! `code4me-worker`: parses settings and runs the worker until Ctrl-C or SIGTERM, or fetches model
//! weights into the model directory (the only command that uses the network).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use code4me_shared::settings::{self, EnvSource, WorkerSettings};
use code4me_shared::{logging, shutdown};
use code4me_worker::fetch::{self, FetchRequest};

/// Command line of the worker binary; the worker itself is configured through the environment.
#[derive(Parser)]
#[command(version, about = "Code4me-RS worker")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Consume the queues and serve the models (the default).
    Run,
    /// Download a model from the Hugging Face hub into MODEL_CACHE_DIR (hub cache layout, resumable),
    /// where a `model_name` row with the same name finds it. Without --file: the safetensors checkpoint.
    FetchModel {
        /// Hub repository, e.g. bigcode/starcoder2-3b.
        repo_id: String,
        /// A file to fetch (repeatable), e.g. a GGUF quantisation.
        #[arg(long = "file")]
        files: Vec<String>,
        /// The model directory.
        #[arg(long, env = "MODEL_CACHE_DIR", default_value = settings::DEFAULT_MODEL_CACHE_DIR)]
        cache_dir: PathBuf,
        /// Hub address (a mirror, or a local server).
        #[arg(long, env = "HF_ENDPOINT", default_value = fetch::DEFAULT_ENDPOINT)]
        endpoint: String,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    code4me_worker::model::memory::tune_allocator();
    match Cli::parse().command.unwrap_or(Command::Run) {
        Command::Run => run().await,
        Command::FetchModel { repo_id, files, cache_dir, endpoint, quiet } => {
            // Read from the environment only, so the token never shows in the process list.
            let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty());
            let request = FetchRequest { repo_id, files, cache_dir, endpoint, token, progress: !quiet };
            let snapshot = tokio::task::spawn_blocking(move || fetch::fetch_model(&request)).await??;
            println!("{}", snapshot.display());
            Ok(())
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let settings = WorkerSettings::from_env(&EnvSource::from_process())?;
    logging::init(settings.log_format);
    if let Err(error) = code4me_worker::run(settings, shutdown::signal()).await {
        tracing::error!(error = format!("{error:#}"), "worker stopped");
        return Err(error);
    }
    Ok(())
}
