//! `roomkeeper-prosody-setup`: makes a jitsi-meet Prosody ready for Roomkeeper, as the
//! `roomkeeper-prosody` package does when it is installed (docs/JITSI-SETUP.md).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

mod lua;
mod setup;

/// Sets up a jitsi-meet Prosody for Roomkeeper: loads its companion module, registers
/// its service account (roomkeeper@auth.DOMAIN) with a generated password, and makes
/// that account an admin of the conference, breakout and lobby components. Run it again
/// at any time: it changes only what is missing. --remove takes out exactly what it
/// added.
#[derive(Debug, Parser)]
#[command(name = "roomkeeper-prosody-setup", version)]
struct Cli {
    /// Prosody's main configuration (prosodyctl reads it; its conf.avail/ holds
    /// jitsi-meet's site file).
    #[arg(long, default_value = "/etc/prosody/prosody.cfg.lua")]
    prosody_config: PathBuf,
    /// jitsi-meet's site configuration. Default: the one file in conf.avail/ beside
    /// --prosody-config with Component "conference.DOMAIN" and VirtualHost "auth.DOMAIN".
    #[arg(long)]
    site_config: Option<PathBuf>,
    /// Where the account's password goes (root only); copy it to the Roomkeeper machine.
    #[arg(long, default_value = "/etc/prosody/roomkeeper/password")]
    password_file: PathBuf,
    /// Where Prosody finds mod_roomkeeper.lua.
    #[arg(long, default_value = setup::PLUGIN_DIR)]
    plugin_dir: String,
    /// The prosodyctl to register the account with.
    #[arg(long, default_value = "prosodyctl")]
    prosodyctl: PathBuf,
    /// Print the change as a diff; touch nothing.
    #[arg(long)]
    dry_run: bool,
    /// Leave restarting Prosody (which ends running meetings) to the operator.
    #[arg(long)]
    no_restart: bool,
    /// Take out what an earlier run added (the account and its password stay).
    #[arg(long)]
    remove: bool,
    /// Like --remove, and delete the account and its password too.
    #[arg(long, conflicts_with = "remove")]
    purge: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = setup::Options {
        prosody_config: cli.prosody_config,
        site_config: cli.site_config,
        password_file: cli.password_file,
        plugin_dir: cli.plugin_dir,
        prosodyctl: cli.prosodyctl,
        dry_run: cli.dry_run,
        no_restart: cli.no_restart,
    };
    let result = if cli.remove || cli.purge {
        setup::remove(&options, cli.purge)
    } else {
        setup::configure(&options)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("roomkeeper-prosody-setup: {error:#}");
            ExitCode::FAILURE
        }
    }
}
