//! The command line: `serve`, `migrate`, `check-config`, `ingest`, `backup`, `restore`,
//! `migrate-to` and `user …`.

use roomkeeper_domain::Refusal;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use roomkeeper_auth::{PasswordHasher, random_password};
use roomkeeper_domain::{Clock, NewPassword, Username};
use roomkeeper_store::{NewUser, Store, User};

use std::sync::Arc;

use roomkeeper_usecases::accounts;

use crate::app::open_store;
use crate::config::{Config, LogFormat, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "roomkeeper",
    version,
    about = "Control over Jitsi-Meet rooms for the people who own them.",
    long_about = "Roomkeeper lets lecturers register their Jitsi-Meet rooms and, for a running \
        meeting, see who is moderator, revoke or grant moderator and remove a password from \
        outside the meeting. With no configuration it uses SQLite in ./data and listens on \
        127.0.0.1:8470."
)]
pub struct Cli {
    /// TOML configuration file (see deploy/roomkeeper.example.toml).
    #[arg(
        long,
        short,
        global = true,
        env = "ROOMKEEPER_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// Overrides http.listen, e.g. 127.0.0.1:8470.
    #[arg(long, global = true, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Overrides database.url: sqlite://PATH or postgres://USER:PASS@HOST/DB.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Log as human-readable text or as one JSON object per line.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web service (migrates the database first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check the configuration and print a summary (no secrets); exit 1 if it is invalid.
    CheckConfig,
    /// Manage local accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Take in a finished Jibri session directory (what deploy/jibri/finalize.sh calls).
    /// Its videos are moved into recordings storage (copied when on another filesystem
    /// or to S3) and Jibri's files removed once stored. Safe to run again.
    Ingest {
        /// The session directory, holding metadata.json and the video files.
        dir: PathBuf,
    },
    /// Copy the SQLite database into a new FILE while the service runs (a consistent
    /// snapshot). PostgreSQL: use pg_dump (docs/OPERATIONS.md).
    Backup {
        /// Where the copy goes; must not exist yet.
        file: PathBuf,
    },
    /// Put a backup in place of the SQLite database and migrate it. Stop the service
    /// first; start it again afterwards.
    Restore {
        /// A file made by `roomkeeper backup`.
        file: PathBuf,
    },
    /// Copy this installation's SQLite database into an empty PostgreSQL database, then
    /// point database.url at it (docs/OPERATIONS.md). Stop the service first.
    MigrateTo {
        /// A file holding the PostgreSQL URL (it holds a password: not on the command
        /// line, where `ps` shows it).
        url_file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a local account. Prints a one-time password unless --password-stdin is given.
    Add {
        username: String,
        /// Name shown in the pages (defaults to the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Set a new password. Prints a one-time password unless --password-stdin is given.
    /// Ends all sessions of the account.
    SetPassword {
        username: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Make an account administrator (on) or not (off).
    Admin {
        username: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Disable an account: it cannot log in and all its sessions end at once. Someone
    /// who owns rooms needs --transfer-rooms-to or --release-rooms: their rooms would
    /// otherwise be left with nobody to manage them.
    Disable {
        username: String,
        /// Give the rooms the account owns to this user first.
        #[arg(long, value_name = "USERNAME", conflicts_with = "release_rooms")]
        transfer_rooms_to: Option<String>,
        /// Release the rooms the account owns first.
        #[arg(long)]
        release_rooms: bool,
    },
    /// Enable a disabled account again.
    Enable { username: String },
    /// Let the directory (LDAP) log in to an account it did not make, e.g. one an OpenID
    /// provider made for the same person. Only after checking that it is that person:
    /// the account's rooms and rights become theirs.
    LinkDirectory { username: String },
    /// List all accounts.
    List,
}

#[derive(Debug, Args)]
pub struct PasswordSource {
    /// Read the password from standard input (first line) instead of generating a
    /// one-time password; the account can keep it.
    #[arg(long)]
    password_stdin: bool,
}

/// Where the Debian package puts the configuration: what commands read when neither
/// `--config` nor `ROOMKEEPER_CONFIG` names one (an operator running `roomkeeper backup`
/// as root in /root must not get a new empty database in ./data).
pub const INSTALLED_CONFIG: &str = "/etc/roomkeeper/roomkeeper.toml";

impl Cli {
    /// The configuration file to read: the one named, else `installed` if it exists,
    /// else none (built-in defaults: SQLite in ./data).
    pub fn config_file(&self, installed: &Path) -> Option<PathBuf> {
        self.config
            .clone()
            .or_else(|| installed.exists().then(|| installed.to_owned()))
    }

    pub fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen.clone(),
            database_url: self.database_url.clone(),
            log_format: self.log_format,
        }
    }
}

/// A password and whether it must be changed at next login (generated ones must).
async fn choose_password(
    source: &PasswordSource,
) -> anyhow::Result<(String, bool, Option<String>)> {
    if source.password_stdin {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .context("cannot read the password from standard input")?;
        let password = input.lines().next().unwrap_or_default().to_owned();
        NewPassword::parse(&password)?;
        let hash = PasswordHasher::hash(password).await?;
        Ok((hash, false, None))
    } else {
        let password = random_password();
        let hash = PasswordHasher::hash(password.clone()).await?;
        Ok((hash, true, Some(password)))
    }
}

/// The use cases as the command line runs them: no Jitsi connection, no email (nothing
/// the command line does tells anyone by mail).
fn use_cases(
    config: &Config,
    store: Arc<dyn Store>,
    clock: Clock,
) -> anyhow::Result<roomkeeper_usecases::UseCases> {
    let recordings = crate::app::open_recordings(config, store.clone(), clock.clone())?;
    Ok(crate::app::compose(
        config,
        store,
        clock,
        Arc::new(roomkeeper_jitsi::Shards::new(Vec::new())),
        recordings,
        crate::app::Composed {
            instance: roomkeeper_usecases::UseCases::new_instance_id(),
            mail_enabled: false,
        },
    ))
}

async fn find(store: &dyn Store, username: &str) -> anyhow::Result<User> {
    let name = Username::parse(username)?;
    match store.user_by_name(&name).await? {
        Some(user) => Ok(user),
        None => bail!("there is no account {name}"),
    }
}

pub async fn run_user_command(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let clock = Clock::default();
    let uc = use_cases(config, store.clone(), clock.clone())?;
    let store = &*store;
    match command {
        UserCommand::Add {
            username,
            display_name,
            admin,
            password,
        } => {
            let username = Username::parse(&username)?;
            let (hash, must_change, shown) = choose_password(&password).await?;
            let user = match store
                .create_user(
                    &NewUser {
                        username: username.clone(),
                        display_name,
                        password_hash: Some(hash),
                        is_admin: admin,
                        must_change_password: must_change,
                    },
                    clock.now(),
                )
                .await
            {
                Err(roomkeeper_store::Error::Conflict(
                    roomkeeper_store::Conflict::UsernameTaken,
                )) => {
                    bail!("the account {username} already exists")
                }
                other => other?,
            };
            println!(
                "added {}{}",
                user.username,
                if admin { " (administrator)" } else { "" }
            );
            if let Some(password) = shown {
                println!("one-time password (must be changed at first login): {password}");
            }
        }
        UserCommand::SetPassword { username, password } => {
            let user = find(store, &username).await?;
            let (hash, must_change, shown) = choose_password(&password).await?;
            accounts::set_password(&uc, &user, &hash, must_change).await?;
            println!(
                "password of {} changed; its sessions have ended",
                user.username
            );
            if let Some(password) = shown {
                println!("one-time password (must be changed at next login): {password}");
            }
        }
        UserCommand::Admin { username, state } => {
            let user = find(store, &username).await?;
            accounts::set_admin(&uc, None, user.id, state == "on").await?;
            println!(
                "{} is {}an administrator",
                user.username,
                if state == "on" { "" } else { "no longer " }
            );
        }
        UserCommand::Disable {
            username,
            transfer_rooms_to,
            release_rooms,
        } => {
            let user = find(store, &username).await?;
            let owned = accounts::rooms_owned_by(&uc, &user.username).await?;
            let rooms = match (&transfer_rooms_to, release_rooms) {
                (Some(to), _) => accounts::OwnedRooms::TransferTo(to),
                (None, true) => accounts::OwnedRooms::Release,
                (None, false) => accounts::OwnedRooms::Refuse,
            };
            // The command line acts as the system: the audit log shows no person.
            match accounts::disable(&uc, None, user.id, rooms).await {
                Err(roomkeeper_usecases::Error::Refused {
                    refusal: Refusal::OwnsRooms,
                    message,
                }) => bail!("{message} (--transfer-rooms-to USERNAME or --release-rooms)"),
                Err(roomkeeper_usecases::Error::Refused {
                    refusal: Refusal::TransferToSelf,
                    ..
                }) => bail!("--transfer-rooms-to must name someone else"),
                other => other?,
            }
            for room in &owned {
                match rooms {
                    accounts::OwnedRooms::TransferTo(to) => {
                        println!("room {} now belongs to {to}", room.name);
                    }
                    _ => println!("room {} released", room.name),
                }
            }
            println!("{} is disabled; all its sessions have ended", user.username);
        }
        UserCommand::Enable { username } => {
            let user = find(store, &username).await?;
            accounts::enable(&uc, user.id).await?;
            println!("{} is enabled", user.username);
        }
        UserCommand::LinkDirectory { username } => {
            let user = find(store, &username).await?;
            match accounts::link_directory(&uc, user.id).await {
                Err(roomkeeper_usecases::Error::Refused { message, .. }) => bail!("{message}"),
                Ok(true) => println!("{} now logs in through the directory", user.username),
                Ok(false) => println!("{} already logs in through the directory", user.username),
                Err(other) => return Err(other.into()),
            }
        }
        UserCommand::List => {
            println!("{:<32} {:<8} {:<8} NAME", "USERNAME", "ADMIN", "STATUS");
            for user in store.list_users().await? {
                println!(
                    "{:<32} {:<8} {:<8} {}",
                    user.username,
                    if user.is_admin { "yes" } else { "no" },
                    if user.disabled { "disabled" } else { "active" },
                    user.display_name()
                );
            }
        }
    }
    Ok(())
}

/// What `check-config` prints: the effective values an operator may want to confirm.
pub fn describe(config: &Config) -> String {
    format!(
        "configuration is valid\n\
         http.listen          = {}\n\
         http.public_url      = {}\n\
         database.url         = {}\n\
         recordings.dir       = {}\n\
         sessions             = idle {} min, absolute {} h, API tokens at most {} days\n\
         login_throttle       = {} per user / {} per address in {} min\n\
         rooms.meeting_urls   = {}\n\
         email                = {}\n\
         log                  = {:?}, {}",
        config.http.listen,
        config.http.public_url.as_deref().unwrap_or("(not set)"),
        roomkeeper_store::redact_url(&config.database.url),
        config.recordings.dir.display(),
        config.sessions.idle_timeout_minutes,
        config.sessions.absolute_timeout_hours,
        config.sessions.token_max_days,
        config.login_throttle.max_failures_per_user,
        config.login_throttle.max_failures_per_address,
        config.login_throttle.window_minutes,
        if config.rooms.meeting_urls.is_empty() {
            "(none: names only)".to_owned()
        } else {
            config.rooms.meeting_urls.join(", ")
        },
        if config.email.enabled() {
            format!(
                "{}:{} ({:?})",
                config.email.smtp_host, config.email.smtp_port, config.email.security
            )
        } else {
            "off".to_owned()
        },
        config.log.format,
        config.log.level,
    )
}

/// `check-config`'s look at each configured Prosody it can reach within `limit`: connected,
/// companion module, version, and whether the service account owns the rooms (with the
/// line to add when not). `Ok(false)` when a Prosody that answers is misconfigured or
/// cannot be used: a certificate nothing here trusts, a refused login.
pub async fn check_prosody(
    config: &Config,
    limit: std::time::Duration,
    out: &mut impl std::io::Write,
) -> anyhow::Result<bool> {
    use roomkeeper_jitsi::RoomOwnership;
    let mut fine = true;
    for shard_config in &config.jitsi.shards {
        let password = shard_config.password.clone().unwrap_or_default();
        let shard = roomkeeper_jitsi::XmppShard::connect(shard_config.clone(), password)
            .with_context(|| format!("jitsi shard {:?}", shard_config.name))?;
        let label = format!(
            "jitsi {} ({})",
            shard_config.name, shard_config.xmpp_address
        );
        match shard.wait_online_or_problem(limit).await {
            // Connected; the module and ownership are asked right after.
            Ok(true) if shard.wait_online(limit).await => {}
            Ok(_) => {
                let why = shard
                    .problem()
                    .map_or_else(String::new, |problem| format!(" ({problem})"));
                writeln!(
                    out,
                    "{label}: not reachable within {} s, not checked{why}",
                    limit.as_secs()
                )?;
                continue;
            }
            // It answers, but cannot be trusted or logged in to: not "down".
            Err(problem) => {
                fine = false;
                writeln!(out, "{label}: {problem}")?;
                continue;
            }
        }
        let ownership = match shard.room_ownership() {
            RoomOwnership::Owner => "yes",
            RoomOwnership::NotOwner => "NO",
            RoomOwnership::Unknown => "unknown until a meeting runs (no companion module)",
        };
        writeln!(
            out,
            "{label}: connected, Prosody {}, companion module {}, owner of the rooms: {ownership}",
            shard
                .prosody_version()
                .as_deref()
                .unwrap_or("(version unknown)"),
            if shard.has_companion() {
                "loaded"
            } else {
                "missing"
            },
        )?;
        if let Some(mismatch) = shard.module_mismatch() {
            fine = false;
            writeln!(out, "  {mismatch}")?;
        }
        if shard.room_ownership() == RoomOwnership::NotOwner {
            fine = false;
            writeln!(
                out,
                "  removing passwords and ending meetings will be refused: {}",
                roomkeeper_jitsi::not_owner_help(shard.prosody_version().as_deref())
            )?;
        }
    }
    Ok(fine)
}

/// `roomkeeper ingest DIR`: prints one line per recording, exits 1 with the reason when
/// the session cannot be taken in (Jibri's files are then left where they are).
pub async fn run_ingest(config: &Config, dir: &std::path::Path) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let recordings = crate::app::open_recordings(config, store, Clock::default())?;
    let stored = recordings
        .ingest_dir(dir, true)
        .await
        .with_context(|| format!("cannot ingest {}", dir.display()))?;
    for recording in stored {
        println!(
            "{} {} {}",
            recording.id,
            recording.room_name.as_deref().unwrap_or("(unassigned)"),
            recording.source_file
        );
    }
    Ok(())
}

/// `roomkeeper backup FILE`.
pub async fn run_backup(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    store.back_up_to(file).await?;
    println!("Backed up the database to {}.", file.display());
    Ok(())
}

/// `roomkeeper migrate-to URL_FILE`.
pub async fn run_migrate_to(config: &Config, url_file: &Path) -> anyhow::Result<()> {
    if roomkeeper_store::sqlite_file(&config.database.url).is_none() {
        bail!("database.url is not SQLite: there is nothing to move to PostgreSQL");
    }
    let target = std::fs::read_to_string(url_file)
        .with_context(|| format!("cannot read {}", url_file.display()))?;
    let target = target.trim();
    if !(target.starts_with("postgres://") || target.starts_with("postgresql://")) {
        bail!(
            "{} does not hold a postgres:// URL: nothing was copied",
            url_file.display()
        );
    }
    let copied = roomkeeper_store::transfer::sqlite_to_postgres(&config.database.url, target)
        .await
        .with_context(|| format!("copying to {}", roomkeeper_store::redact_url(target)))?;
    for (table, rows) in &copied.tables {
        println!("{table}: {rows} rows");
    }
    println!(
        "Copied to {}. Now set `[database] url_file = \"{}\"` and start the service; \
         keep the SQLite file until you are content.",
        roomkeeper_store::redact_url(target),
        url_file.display()
    );
    Ok(())
}

/// `roomkeeper restore FILE`.
pub async fn run_restore(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    if !config.database.url.trim().starts_with("sqlite:") {
        anyhow::bail!(
            "database.url is not SQLite: restore a PostgreSQL dump with pg_restore or psql, \
             then run `roomkeeper migrate` (docs/OPERATIONS.md)"
        );
    }
    // Brought up to this version's schema, with the replaced database's owner and mode.
    roomkeeper_store::restore_sqlite(&config.database.url, file).await?;
    println!(
        "Restored {} and brought it up to date. Start the service again.",
        file.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_read_the_installed_configuration_unless_another_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let installed = dir.path().join("roomkeeper.toml");
        let cli = Cli::try_parse_from(["roomkeeper", "backup", "copy.db"]).unwrap();
        // Nothing installed (a developer's checkout): built-in defaults.
        assert_eq!(cli.config_file(&installed), None);
        std::fs::write(&installed, "").unwrap();
        assert_eq!(cli.config_file(&installed), Some(installed.clone()));
        let named =
            Cli::try_parse_from(["roomkeeper", "--config", "mine.toml", "backup", "copy.db"])
                .unwrap();
        assert_eq!(
            named.config_file(&installed),
            Some(PathBuf::from("mine.toml"))
        );
    }
}
