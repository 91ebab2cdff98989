//! `code4me-server`: parses settings and runs the server (or applies migrations and exits).

use anyhow::Context;
use clap::{Parser, Subcommand};
use code4me_server::services::auth::password::PasswordHasher;
use code4me_server::services::{admin, demo};
use code4me_server::{router, startup};
use code4me_shared::settings::{EnvSource, ServerSettings};
use code4me_shared::{connect, logging, shutdown};

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
    /// Manage administrators and tiers (upstream needs raw SQL for this).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Fill a fresh install with realistic demo telemetry (refuses a database that has queries).
    DemoData {
        /// Users to create (demo-user-NNN@example.com).
        #[arg(long, default_value_t = 40)]
        users: usize,
        /// Days of history, ending now.
        #[arg(long, default_value_t = 30)]
        days: i64,
        /// Mean queries per user on a working day.
        #[arg(long, default_value_t = 25)]
        queries_per_day: usize,
        /// Random seed (the same options give the same data).
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Print the OpenAPI document (what `/openapi.json` serves) and exit; the website's typed
    /// client is generated from it.
    Openapi,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin account, or promote the existing account with this e-mail.
    CreateUser {
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// Display name (3..50 characters).
        #[arg(long, default_value = "admin")]
        name: String,
        /// Password; read from standard input when omitted (keeps it out of the process list).
        #[arg(long)]
        password: Option<String>,
    },
    /// Make an existing account admin.
    Promote {
        /// E-mail address of the account.
        #[arg(long)]
        email: String,
    },
    /// Set an account's tier (quotas of its API keys); servers apply it within a minute.
    SetTier {
        /// E-mail address of the account.
        #[arg(long)]
        email: String,
        /// free, pro or enterprise.
        #[arg(long)]
        tier: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = ServerSettings::from_env(&EnvSource::from_process())?;
    logging::init(settings.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Admin(command) => {
            let pool = connect::connect_postgres(&settings.database, settings.startup_connect_timeout).await?;
            connect::MIGRATOR.run(&pool).await.context("applying database migrations")?;
            match command {
                AdminCommand::CreateUser { email, name, password } => {
                    let password = match password {
                        Some(p) => p,
                        None => {
                            let mut line = String::new();
                            std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
                            line.trim_end_matches(['\r', '\n']).to_owned()
                        }
                    };
                    let hasher = PasswordHasher::new(settings.password_hash)?;
                    let outcome = admin::ensure_admin(&pool, &hasher, &email, &name, &password).await?;
                    println!("{outcome:?}");
                }
                AdminCommand::Promote { email } => {
                    let user_id = admin::promote(&pool, &email).await?;
                    println!("Promoted({user_id})");
                }
                AdminCommand::SetTier { email, tier } => {
                    let user_id = admin::set_tier_by_email(&pool, &email, &tier).await?;
                    println!("TierSet({user_id}, {tier})");
                }
            }
        }
        Command::DemoData { users, days, queries_per_day, seed } => {
            let pool = connect::connect_postgres(&settings.database, settings.startup_connect_timeout).await?;
            connect::MIGRATOR.run(&pool).await.context("applying database migrations")?;
            let hasher = PasswordHasher::new(settings.password_hash)?;
            let options = demo::DemoOptions { users, days, queries_per_day, seed };
            let summary = demo::fill(&pool, &hasher, options).await?;
            println!(
                "demo data: {} users (password {}), {} queries, {} generations, {} ground truths, one finished study",
                summary.users,
                demo::DEMO_PASSWORD,
                summary.queries,
                summary.generations,
                summary.ground_truths
            );
        }
        Command::Openapi => println!("{}", router::openapi().to_pretty_json()?),
        Command::Migrate => {
            let pool = connect::connect_postgres(&settings.database, settings.startup_connect_timeout).await?;
            connect::MIGRATOR.run(&pool).await.context("applying database migrations")?;
            tracing::info!("migrations applied");
        }
        Command::Serve => {
            let address = format!("{}:{}", settings.host, settings.port);
            let state = startup::build_state(settings).await?;
            let listener =
                tokio::net::TcpListener::bind(&address).await.with_context(|| format!("cannot listen on {address} (set SERVER_HOST/SERVER_PORT)"))?;
            tracing::info!(address = %listener.local_addr()?, "code4me-server listening");
            startup::run(listener, state, shutdown::signal()).await?;
            tracing::info!("code4me-server stopped");
        }
    }
    Ok(())
}
