//! What `roomkeeper-prosody-setup` changes on a jitsi-meet Prosody, and how it takes
//! exactly that back out. Every edit it makes is written down in a state file beside the
//! password file, so that removal touches only what it added: an admin an operator put
//! there by hand, or a line jitsi-meet's template already had, stays.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::lua::{Added, Config};

/// Where Prosody finds the module once the package is installed.
pub const PLUGIN_DIR: &str = "/usr/share/roomkeeper/prosody/";
/// The account's name on the auth host.
pub const ACCOUNT: &str = "roomkeeper";

/// The line Prosody 13 needs for MUC admins to be room owners (0.12 behaved so always),
/// with a comment saying who put it there and why.
pub const OWNERS_LINES: &str = "-- Added by roomkeeper-prosody-setup: Prosody 13 makes the admins of a MUC component \
owners of its rooms only with this (jitsi-meet's own template has it too).\n\
component_admins_as_room_owners = true\n\n";

/// Where the parts are and what may be done.
#[derive(Debug, Clone)]
pub struct Options {
    pub prosody_config: PathBuf,
    pub site_config: Option<PathBuf>,
    pub password_file: PathBuf,
    pub plugin_dir: String,
    pub prosodyctl: PathBuf,
    pub dry_run: bool,
    pub no_restart: bool,
}

impl Options {
    /// Beside the password: what was added (JSON), and the account's JID in a file of
    /// its own, for the package's purge (a shell script).
    fn state_file(&self) -> PathBuf {
        self.password_file
            .with_file_name("roomkeeper-prosody-setup.json")
    }

    fn account_file(&self) -> PathBuf {
        self.password_file.with_file_name("account")
    }
}

/// One change to one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "edit", rename_all = "snake_case")]
pub enum Edit {
    ListItem {
        file: PathBuf,
        section: Option<String>,
        key: String,
        value: String,
        added: Added,
    },
    GlobalLines {
        file: PathBuf,
        lines: String,
    },
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct State {
    account: Option<String>,
    edits: Vec<Edit>,
}

/// A file as it is and as it will be.
#[derive(Debug, Clone)]
pub struct Change {
    pub file: PathBuf,
    pub before: String,
    pub after: String,
}

/// The jitsi-meet site: its file and its domain.
#[derive(Debug, Clone)]
pub struct Site {
    pub file: PathBuf,
    pub domain: String,
}

/// jitsi-meet's file for the domain: `conf.avail/DOMAIN.cfg.lua` beside the Prosody
/// configuration, the one with `Component "conference.DOMAIN"` and `VirtualHost
/// "auth.DOMAIN"`.
pub fn find_site(options: &Options) -> anyhow::Result<Site> {
    if let Some(file) = &options.site_config {
        let text = read(file)?;
        let domain = site_domain(
            &Config::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?,
        )
        .with_context(|| {
            format!(
                "{} has no Component \"conference.DOMAIN\" with a VirtualHost \"auth.DOMAIN\": \
                     is it jitsi-meet's site configuration?",
                file.display()
            )
        })?;
        return Ok(Site {
            file: file.clone(),
            domain,
        });
    }
    let dir = options
        .prosody_config
        .parent()
        .unwrap_or(Path::new("/etc/prosody"))
        .join("conf.avail");
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.to_string_lossy().ends_with(".cfg.lua") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if let Some(domain) = Config::parse(&text).ok().as_ref().and_then(site_domain) {
                found.push(Site { file: path, domain });
            }
        }
    }
    found.sort_by(|a, b| a.file.cmp(&b.file));
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!(
            "no jitsi-meet site configuration in {} (a file with Component \"conference.DOMAIN\" \
             and VirtualHost \"auth.DOMAIN\"): install jitsi-meet first, or name the file with \
             --site-config",
            dir.display()
        ),
        _ => bail!(
            "several jitsi-meet sites in {}: {}; choose one with --site-config",
            dir.display(),
            found
                .iter()
                .map(|s| s.file.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn site_domain(config: &Config) -> Option<String> {
    let names = config.section_names();
    names.iter().find_map(|name| {
        let domain = name.strip_prefix("conference.")?;
        names
            .iter()
            .any(|n| n == &format!("auth.{domain}"))
            .then(|| domain.to_owned())
    })
}

fn read(file: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

fn parse(file: &Path) -> anyhow::Result<Config> {
    Config::parse(&read(file)?).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
}

/// Prosody's version as `prosodyctl about` tells it (`0.12.3`, `13.0.1`).
pub fn prosody_version(options: &Options) -> Option<String> {
    let output = Command::new(&options.prosodyctl)
        .arg("--config")
        .arg(&options.prosody_config)
        .arg("about")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("Prosody "))
        .find(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|v| v.trim().to_owned())
}

/// The changes that make the site ready for Roomkeeper, as edited texts per file (only
/// files that change) and the edits for the state file.
pub fn plan(
    options: &Options,
    site: &Site,
    version: Option<&str>,
) -> anyhow::Result<(Vec<Change>, Vec<Edit>)> {
    let account = format!("{ACCOUNT}@auth.{}", site.domain);
    let mut site_config = parse(&site.file)?;
    let main_config = if options.prosody_config.exists() && options.prosody_config != site.file {
        Some(parse(&options.prosody_config)?)
    } else {
        None
    };
    let mut main_after = main_config.clone();
    let mut edits = Vec::new();
    let mut add = |config: &mut Config,
                   file: &Path,
                   section: Option<&str>,
                   key: &str,
                   value: &str|
     -> anyhow::Result<()> {
        if let Some((edited, added)) = config
            .add_to_list(section, key, value)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
        {
            *config = edited;
            edits.push(Edit::ListItem {
                file: file.to_owned(),
                section: section.map(str::to_owned),
                key: key.to_owned(),
                value: value.to_owned(),
                added,
            });
        }
        Ok(())
    };

    // Where Prosody finds the module: the plugin_paths that is there (jitsi-meet's site
    // file has one); a second one elsewhere would replace it.
    let in_site = site_config.sets(None, "plugin_paths");
    match (&mut main_after, in_site) {
        (Some(main), false) if main.sets(None, "plugin_paths") => {
            add(
                main,
                &options.prosody_config,
                None,
                "plugin_paths",
                &options.plugin_dir,
            )?;
        }
        _ => add(
            &mut site_config,
            &site.file,
            None,
            "plugin_paths",
            &options.plugin_dir,
        )?,
    }

    let conference = format!("conference.{}", site.domain);
    for component in [
        conference.clone(),
        format!("breakout.{}", site.domain),
        format!("lobby.{}", site.domain),
    ] {
        if site_config.has_section(&component) {
            add(
                &mut site_config,
                &site.file,
                Some(&component),
                "admins",
                &account,
            )?;
            // Everywhere a display name is shown: in the lobby and breakout rooms the
            // module only takes join codes out of names.
            add(
                &mut site_config,
                &site.file,
                Some(&component),
                "modules_enabled",
                "roomkeeper",
            )?;
        }
    }

    // Roomkeeper's lobby must never hold Jibri: jitsi-meet's own whitelist, which its
    // template carries commented out, for the recorders' domain.
    if site_config.has_section(&format!("lobby.{}", site.domain))
        && site_config.has_section(&site.domain)
    {
        add(
            &mut site_config,
            &site.file,
            Some(&site.domain),
            "muc_lobby_whitelist",
            &format!("recorder.{}", site.domain),
        )?;
    }

    // Prosody 13 (or one whose version cannot be told) needs this for the account to own
    // the rooms; global, at the top, where no section can swallow it.
    for (config, file, section) in [
        (Some(&site_config), &site.file, None),
        (Some(&site_config), &site.file, Some(conference.as_str())),
        (main_after.as_ref(), &options.prosody_config, None),
    ] {
        if config
            .and_then(|c| c.scalar(section, "component_admins_as_room_owners"))
            .as_deref()
            == Some("false")
        {
            bail!(
                "{} sets component_admins_as_room_owners = false: Roomkeeper's account must own \
                 the rooms to remove passwords and end meetings; set it to true",
                file.display()
            );
        }
    }
    let is_012 = version.is_some_and(|v| v.starts_with("0."));
    let owners_set = site_config.sets(None, "component_admins_as_room_owners")
        || site_config.sets(Some(&conference), "component_admins_as_room_owners")
        || main_after
            .as_ref()
            .is_some_and(|m| m.sets(None, "component_admins_as_room_owners"));
    if !is_012 && !owners_set {
        site_config = site_config
            .insert_global_lines(OWNERS_LINES)
            .map_err(|e| anyhow::anyhow!("{}: {e}", site.file.display()))?;
        edits.push(Edit::GlobalLines {
            file: site.file.clone(),
            lines: OWNERS_LINES.to_owned(),
        });
    }

    let mut changed = Vec::new();
    let site_before = read(&site.file)?;
    if site_config.text() != site_before {
        changed.push(Change {
            file: site.file.clone(),
            before: site_before,
            after: site_config.text().to_owned(),
        });
    }
    if let (Some(before), Some(after)) = (main_config, main_after) {
        if before.text() != after.text() {
            changed.push(Change {
                file: options.prosody_config.clone(),
                before: before.text().to_owned(),
                after: after.text().to_owned(),
            });
        }
    }
    Ok((changed, edits))
}

/// Takes out what the edits added, as far as it is still there.
pub fn unplan(edits: &[Edit]) -> anyhow::Result<Vec<Change>> {
    let mut files: Vec<(PathBuf, String, Config)> = Vec::new();
    for edit in edits.iter().rev() {
        let file = match edit {
            Edit::ListItem { file, .. } | Edit::GlobalLines { file, .. } => file,
        };
        if !files.iter().any(|(f, _, _)| f == file) {
            if !file.exists() {
                continue;
            }
            let config = parse(file)?;
            files.push((file.clone(), config.text().to_owned(), config));
        }
        let Some((_, _, config)) = files.iter_mut().find(|(f, _, _)| f == file) else {
            continue;
        };
        let edited = match edit {
            Edit::ListItem {
                section,
                key,
                value,
                added,
                ..
            } => config.remove_from_list(section.as_deref(), key, value, *added),
            Edit::GlobalLines { lines, .. } => config.remove_lines(lines),
        }
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        if let Some(edited) = edited {
            *config = edited;
        }
    }
    Ok(files
        .into_iter()
        .filter(|(_, before, after)| before != after.text())
        .map(|(file, before, after)| Change {
            file,
            before,
            after: after.text().to_owned(),
        })
        .collect())
}

/// The changes as `diff -u` shows them.
pub fn diff(changed: &[Change]) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let mut all = String::new();
    for Change {
        file,
        before,
        after,
    } in changed
    {
        let (old, new) = (dir.path().join("old"), dir.path().join("new"));
        std::fs::write(&old, before)?;
        std::fs::write(&new, after)?;
        let label = file.display().to_string();
        let output = Command::new("diff")
            .args(["-u", "--label", &label, "--label", &label])
            .arg(&old)
            .arg(&new)
            .output()
            .context("cannot run diff")?;
        all.push_str(&String::from_utf8_lossy(&output.stdout));
    }
    Ok(all)
}

/// Writes a file in place of another, keeping its owner and mode (Prosody reads its
/// configuration as the prosody user).
fn replace_file(file: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta =
        std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    let temp = file.with_extension("roomkeeper-new");
    std::fs::write(&temp, text).with_context(|| format!("cannot write {}", temp.display()))?;
    std::fs::set_permissions(&temp, meta.permissions())?;
    // Only root may give a file away; anyone else keeps it as theirs.
    let _ = std::os::unix::fs::chown(&temp, Some(meta.uid()), Some(meta.gid()));
    std::fs::rename(&temp, file).with_context(|| format!("cannot replace {}", file.display()))?;
    Ok(())
}

fn load_state(options: &Options) -> anyhow::Result<State> {
    match std::fs::read_to_string(options.state_file()) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("{} is damaged", options.state_file().display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", options.state_file().display())),
    }
}

fn save_state(options: &Options, state: &State) -> anyhow::Result<()> {
    ensure_private_dir(&options.state_file())?;
    std::fs::write(options.state_file(), serde_json::to_string_pretty(state)?)?;
    Ok(())
}

/// The directory of a secret: root's only (0700) when we make it.
fn ensure_private_dir(file: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(dir) = file.parent() {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot make {}", dir.display()))?;
        }
    }
    Ok(())
}

/// The account's password: the one in the file, or a new one written there (0600) first.
fn password(options: &Options) -> anyhow::Result<(String, bool)> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Ok(existing) = std::fs::read_to_string(&options.password_file) {
        let existing = existing.trim().to_owned();
        if !existing.is_empty() {
            return Ok((existing, false));
        }
    }
    let mut random = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut random))
        .context("cannot read /dev/urandom")?;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let made: String = random
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    ensure_private_dir(&options.password_file)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&options.password_file)
        .with_context(|| format!("cannot write {}", options.password_file.display()))?;
    writeln!(file, "{made}")?;
    Ok((made, true))
}

/// `prosodyctl adduser` (or `passwd` when the account exists), the password on standard
/// input, never on a command line. `Ok(false)`: Prosody 13 creates accounts through the
/// running server, and it is not running.
fn register(options: &Options, account: &str, password: &str) -> anyhow::Result<bool> {
    let run = |command: &str| -> anyhow::Result<(bool, String)> {
        use std::io::Write;
        let mut child = Command::new(&options.prosodyctl)
            .arg("--config")
            .arg(&options.prosody_config)
            .args([command, account])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {}", options.prosodyctl.display()))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(format!("{password}\n{password}\n").as_bytes())?;
        }
        let output = child.wait_with_output()?;
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok((output.status.success(), said))
    };
    let (mut succeeded, mut said) = run("adduser")?;
    if said.contains("already exists") {
        (succeeded, said) = run("passwd")?;
    }
    if said.contains("Unable to connect to server") {
        return Ok(false);
    }
    if !succeeded {
        bail!("prosodyctl could not register {account}: {said}");
    }
    if said.to_lowercase().contains("error") {
        bail!("prosodyctl could not register {account}: {said}");
    }
    Ok(true)
}

/// Restarts Prosody when it runs under systemd; says what to do otherwise.
fn restart(options: &Options) {
    if options.no_restart {
        println!(
            "Prosody must be restarted to load the change, which ends the meetings running \
             on it: restart it yourself when no meeting runs (systemctl restart prosody)."
        );
        return;
    }
    println!("Restarting Prosody to load the change: this ends the meetings running on it.");
    let restarted = Command::new("systemctl")
        .args(["try-restart", "prosody.service"])
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !restarted {
        println!("  Prosody could not be restarted here (no systemd?): restart it yourself.");
    }
}

/// Sets the site up. Prints what it does; with `dry_run`, only the diff.
pub fn configure(options: &Options) -> anyhow::Result<()> {
    let site = find_site(options)?;
    let account = format!("{ACCOUNT}@auth.{}", site.domain);
    let version = prosody_version(options);
    let (changed, edits) = plan(options, &site, version.as_deref())?;
    println!(
        "jitsi-meet site {} (domain {}), Prosody {}",
        site.file.display(),
        site.domain,
        version
            .as_deref()
            .unwrap_or("(version unknown: set up as for 13)")
    );
    if options.dry_run {
        if changed.is_empty() {
            println!("Nothing to change in the configuration.");
        } else {
            print!("{}", diff(&changed)?);
        }
        if !options.password_file.exists() {
            println!(
                "Would register {account} with a new password, written to {} (root only).",
                options.password_file.display()
            );
        }
        return Ok(());
    }
    let mut state = load_state(options)?;
    state.account = Some(account.clone());
    for change in &changed {
        replace_file(&change.file, &change.after)?;
        println!("Changed {}.", change.file.display());
    }
    for edit in edits {
        if !state.edits.contains(&edit) {
            state.edits.push(edit);
        }
    }
    save_state(options, &state)?;
    std::fs::write(options.account_file(), format!("{account}\n"))?;
    if changed.is_empty() {
        println!("Nothing to change in the configuration.");
    } else {
        restart(options);
    }
    let (password, new) = password(options)?;
    if register(options, &account, &password)? {
        println!(
            "{account} is registered; its password is in {}{}.",
            options.password_file.display(),
            if new { " (new)" } else { "" }
        );
    } else {
        println!(
            "Prosody 13 creates accounts through the running server, and it is not running: \
             start Prosody, then run roomkeeper-prosody-setup again (nothing else changes)."
        );
    }
    println!(
        "On the Roomkeeper machine: copy {} there as the shard's password_file, and \
         /etc/prosody/certs/auth.{domain}.crt as its ca_file (or trust it as jitsi-meet does); \
         let it reach this machine on TCP port 5222.",
        options.password_file.display(),
        domain = site.domain
    );
    Ok(())
}

/// Takes out what `configure` added; with `purge` also the account and its password.
pub fn remove(options: &Options, purge: bool) -> anyhow::Result<()> {
    let mut state = load_state(options)?;
    let changed = unplan(&state.edits)?;
    if options.dry_run {
        print!("{}", diff(&changed)?);
        return Ok(());
    }
    for change in &changed {
        replace_file(&change.file, &change.after)?;
        println!("Changed {} back.", change.file.display());
    }
    state.edits.clear();
    if !changed.is_empty() {
        restart(options);
    }
    if !purge {
        save_state(options, &state)?;
        return Ok(());
    }
    if let Some(account) = &state.account {
        let status = Command::new(&options.prosodyctl)
            .arg("--config")
            .arg(&options.prosody_config)
            .args(["deluser", account])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => println!("Removed the account {account}."),
            _ => println!("Could not remove the account {account}: prosodyctl deluser {account}"),
        }
    }
    for file in [
        options.password_file.clone(),
        options.state_file(),
        options.account_file(),
    ] {
        let _ = std::fs::remove_file(file);
    }
    if let Some(dir) = options.password_file.parent() {
        let _ = std::fs::remove_dir(dir);
    }
    Ok(())
}
