use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use roomkeeper::cli::{Cli, Command, describe, run_user_command};
use roomkeeper::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(config.log.level.clone()));
    // Logs go to stderr: stdout is the commands' output, which scripts read
    // (`roomkeeper ingest` prints one line per recording). The journal takes both.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let file = cli.config_file(std::path::Path::new(roomkeeper::cli::INSTALLED_CONFIG));
    let source = match &file {
        Some(file) => file.display().to_string(),
        None => format!(
            "none (--config, ROOMKEEPER_CONFIG or {}): built-in defaults",
            roomkeeper::cli::INSTALLED_CONFIG
        ),
    };
    let config = match Config::load(file.as_deref(), &cli.overrides()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("roomkeeper: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::CheckConfig = cli.command {
        println!("configuration: {source}");
        println!("{}", describe(&config));
        let mut out = std::io::stdout();
        let storage = roomkeeper::paths::report(&config, &mut out).unwrap_or(false);
        // Prosody that is up is asked too; one that is not is only mentioned.
        return match roomkeeper::cli::check_prosody(&config, Duration::from_secs(5), &mut out).await
        {
            Ok(true) if storage => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("roomkeeper: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    init_logging(&config);
    // Which database a command works on follows from this: said before it does anything.
    tracing::info!(configuration = %source, "configuration");
    let result = match cli.command {
        Command::Serve => serve(&config).await,
        Command::Migrate => roomkeeper::app::open_store(&config).await.map(|store| {
            tracing::info!(backend = ?store.backend(), "database is up to date");
        }),
        Command::User(command) => run_user_command(&config, command).await,
        Command::Ingest { dir } => roomkeeper::cli::run_ingest(&config, &dir).await,
        Command::Backup { file } => roomkeeper::cli::run_backup(&config, &file).await,
        Command::Restore { file } => roomkeeper::cli::run_restore(&config, &file).await,
        Command::MigrateTo { url_file } => {
            roomkeeper::cli::run_migrate_to(&config, &url_file).await
        }
        Command::CheckConfig => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roomkeeper: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let state = roomkeeper::prepare(config, roomkeeper_domain::Clock::default()).await?;
    let listener = tokio::net::TcpListener::bind(&config.http.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.http.listen))?;
    let url = config
        .http
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.http.listen));
    tracing::info!("Roomkeeper is running: open {url} to log in");
    roomkeeper::serve(listener, state, config, roomkeeper::shutdown_signal()).await?;
    Ok(())
}
