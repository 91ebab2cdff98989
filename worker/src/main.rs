//! `code4me-worker`: parses settings and runs the worker until Ctrl-C or SIGTERM.

use code4me_shared::{logging, shutdown};
use code4me_shared::settings::{EnvSource, WorkerSettings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = WorkerSettings::from_env(&EnvSource::from_process())?;
    logging::init(settings.log_format);
    if let Err(error) = code4me_worker::run(settings, shutdown::signal()).await {
        tracing::error!(error = format!("{error:#}"), "worker stopped");
        return Err(error);
    }
    Ok(())
}
