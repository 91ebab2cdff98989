//! `code4me-server`: parses settings and runs the server (or applies migrations and exits).

use anyhow::Context;
use clap::{Parser, Subcommand};
use code4me_server::services::auth::password::PasswordHasher;
use code4me_server::services::log_analysis::{self, Analyzer, source, text};
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
    /// Read our JSON logs (LOG_FORMAT=json).
    #[command(subcommand)]
    Logs(LogsCommand),
}

#[derive(Subcommand)]
enum LogsCommand {
    /// Report errors by kind, latency by route and stage, the slowest requests, provider success
    /// rates and a 0-100 health score with its reasons.
    Analyze {
        /// Only lines of the last DURATION: a whole number and s, m, h, d or w (30m, 1h, 2d).
        #[arg(long, value_name = "DURATION", value_parser = log_analysis::parse_since)]
        since: Option<chrono::TimeDelta>,
        /// Print the report as one JSON object (the body of GET /api/agent/health).
        #[arg(long)]
        json: bool,
        /// Log files, `-` for standard input; default LOG_FILES, else
        /// $C4M_DATA_DIR/logs/server.log and worker.log (those that exist).
        files: Vec<std::path::PathBuf>,
    },
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
        Command::Logs(LogsCommand::Analyze { since, json, files }) => {
            let now = chrono::Utc::now();
            let mut analyzer = Analyzer::new(since.and_then(|window| now.checked_sub_signed(window)));
            if files.is_empty() {
                // The default files: those that exist; none at all is an error worth a message.
                let existing: Vec<_> = settings.health.log_files.iter().filter(|f| f.is_file()).collect();
                if existing.is_empty() {
                    let looked: Vec<_> = settings.health.log_files.iter().map(|f| f.display().to_string()).collect();
                    anyhow::bail!("no log file at {} (set LOG_FILES or C4M_DATA_DIR, or name files; - reads standard input)", looked.join(", "));
                }
                for file in existing {
                    source::feed_file(&mut analyzer, file, None).with_context(|| format!("reading {}", file.display()))?;
                }
            }
            for file in &files {
                if file.as_os_str() == "-" {
                    source::feed_stdin(&mut analyzer).context("reading standard input")?;
                } else {
                    source::feed_file(&mut analyzer, file, None).with_context(|| format!("reading {}", file.display()))?;
                }
            }
            let report = analyzer.finish(now);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", text::render(&report));
            }
        }
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
