//! `code4me-server`: parses settings and runs the server (or applies migrations and exits).

use anyhow::Context;
use clap::{Parser, Subcommand};
use code4me_server::startup;
use code4me_shared::{connect, logging, shutdown};
use code4me_shared::settings::{EnvSource, ServerSettings};

/// Command line of the server binary; everything else is configured through the environment.
#[derive(Parser)]
#[command(version, about = "Code4me-RS API server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP on SERVER_HOST:SERVER_PORT (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = ServerSettings::from_env(&EnvSource::from_process())?;
    logging::init(settings.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            let pool = connect::connect_postgres(&settings.database, settings.startup_connect_timeout).await?;
            connect::MIGRATOR.run(&pool).await.context("applying database migrations")?;
            tracing::info!("migrations applied");
        }
        Command::Serve => {
            let address = format!("{}:{}", settings.host, settings.port);
            let state = startup::build_state(settings).await?;
            let listener = tokio::net::TcpListener::bind(&address)
                .await
                .with_context(|| format!("cannot listen on {address} (set SERVER_HOST/SERVER_PORT)"))?;
            tracing::info!(address = %listener.local_addr()?, "code4me-server listening");
            startup::run(listener, state, shutdown::signal()).await?;
            tracing::info!("code4me-server stopped");
        }
    }
    Ok(())
}
