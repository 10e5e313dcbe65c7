//! The directories the service writes, checked before it serves and by `check-config`.
//!
//! The packaged unit lets the service write only `/var/lib/roomkeeper`
//! (`ProtectSystem=strict`): a `recordings.dir` on another volume, a watched Jibri
//! directory or a database elsewhere is read-only to it until a drop-in adds it to
//! `ReadWritePaths=`. Without this check every ingest would fail later, one by one.

use std::path::{Path, PathBuf};

use crate::Config;

/// The packaged unit, where Debian puts it, and where `systemctl edit` puts drop-ins.
pub const UNIT: &str = "roomkeeper.service";
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// A directory the service must be able to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenDir {
    /// The configuration key that names it.
    pub key: &'static str,
    pub dir: PathBuf,
    /// Made at start when missing (recordings.dir); the others must exist.
    pub made_if_missing: bool,
}

/// Every directory the configuration has the service write.
pub fn written_dirs(config: &Config) -> Vec<WrittenDir> {
    // Staging of uploads lives under recordings.dir with S3 storage, too.
    let mut dirs = vec![WrittenDir {
        key: "recordings.dir",
        dir: config.recordings.dir.clone(),
        made_if_missing: true,
    }];
    if let Some(watched) = &config.recordings.watch_dir {
        // Ingested sessions are removed from it; read-only, every rescan would hash
        // them again.
        dirs.push(WrittenDir {
            key: "recordings.watch_dir",
            dir: watched.clone(),
            made_if_missing: false,
        });
    }
    if let Some(file) = roomkeeper_store::sqlite_file(&config.database.url) {
        let dir = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        dirs.push(WrittenDir {
            key: "database.url",
            dir,
            made_if_missing: true,
        });
    }
    dirs
}

/// Whether this process can make and remove a file in `place.dir`. With `make`, a
/// missing directory is made first where the service would make it; without (a check
/// that must change nothing, perhaps run as root), its nearest existing parent is tried
/// instead. The error names the key, the directory and the cure.
pub fn check_writable(place: &WrittenDir, make: bool) -> Result<(), String> {
    let tried = (|| {
        let mut dir = place.dir.clone();
        if place.made_if_missing {
            if make {
                std::fs::create_dir_all(&dir)?;
            } else {
                dir = nearest_existing(&dir);
            }
        }
        let probe = dir.join(format!(".roomkeeper-write-check-{}", std::process::id()));
        std::fs::File::create(&probe)?;
        std::fs::remove_file(&probe)
    })();
    tried.map_err(|e| {
        format!(
            "{} {} is not writable for this service ({e}). Make it the service user's \
             (chown -R roomkeeper: {dir}); under systemd also let the unit write it: \
             `systemctl edit roomkeeper`, add the two lines\n    [Service]\n    \
             ReadWritePaths={dir}\nand restart (docs/OPERATIONS.md, \"Storage elsewhere\")",
            place.key,
            place.dir.display(),
            dir = place.dir.display(),
        )
    })
}

/// `dir`, or the nearest of its parents that exists (where it would be made).
fn nearest_existing(dir: &Path) -> PathBuf {
    let mut dir = dir;
    while !dir.exists() {
        dir = match dir.parent() {
            // A relative path's last parent is "": the working directory.
            Some(parent) if parent.as_os_str().is_empty() => Path::new("."),
            Some(parent) => parent,
            None => Path::new("/"),
        };
    }
    dir.to_owned()
}

/// The paths the installed unit may write (`ReadWritePaths=` of the unit and its
/// drop-ins, in systemd's order), or None when no unit is installed here.
pub fn unit_writable_paths() -> Option<Vec<PathBuf>> {
    let dirs: Vec<PathBuf> = UNIT_DIRS.iter().map(PathBuf::from).collect();
    unit_writable_paths_in(&dirs)
}

fn unit_writable_paths_in(unit_dirs: &[PathBuf]) -> Option<Vec<PathBuf>> {
    // The first directory holding the unit wins; drop-ins from all of them apply, the
    // ones of a same-named file in an earlier directory replacing later ones, and are
    // read in the order of their file names.
    let unit = unit_dirs
        .iter()
        .map(|d| d.join(UNIT))
        .find(|f| f.is_file())?;
    let mut drop_ins: std::collections::BTreeMap<std::ffi::OsString, PathBuf> = Default::default();
    for dir in unit_dirs.iter().rev() {
        let Ok(entries) = std::fs::read_dir(dir.join(format!("{UNIT}.d"))) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "conf") {
                drop_ins.insert(entry.file_name(), path);
            }
        }
    }
    let mut paths = Vec::new();
    for file in std::iter::once(unit).chain(drop_ins.into_values()) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for line in text.lines() {
            let Some(value) = line.trim().strip_prefix("ReadWritePaths=") else {
                continue;
            };
            if value.trim().is_empty() {
                // An empty assignment resets the list.
                paths.clear();
            }
            for word in value.split_whitespace() {
                // "-": ignored when missing; "+": outside a root directory.
                paths.push(PathBuf::from(word.trim_start_matches(['-', '+'])));
            }
        }
    }
    Some(paths)
}

/// Whether `dir` lies under one of `writable`.
pub fn covered(dir: &Path, writable: &[PathBuf]) -> bool {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    writable.iter().any(|w| {
        let w = std::fs::canonicalize(w).unwrap_or_else(|_| w.clone());
        dir.starts_with(&w)
    })
}

/// `check-config`'s report on the written directories; false when one is not usable.
pub fn report(config: &Config, out: &mut impl std::io::Write) -> std::io::Result<bool> {
    let unit = unit_writable_paths();
    let mut usable = true;
    for place in written_dirs(config) {
        match check_writable(&place, false) {
            Ok(()) if !place.dir.exists() => writeln!(
                out,
                "{} {}: made at start (its parent is writable)",
                place.key,
                place.dir.display()
            )?,
            Ok(()) => writeln!(out, "{} {}: writable", place.key, place.dir.display())?,
            Err(message) => {
                usable = false;
                writeln!(out, "{message}")?;
                continue;
            }
        }
        if let Some(writable) = &unit {
            if !covered(&place.dir, writable) {
                usable = false;
                writeln!(
                    out,
                    "{} {} is read-only to the installed unit (not under its \
                     ReadWritePaths): `systemctl edit roomkeeper`, add the two lines\n    \
                     [Service]\n    ReadWritePaths={}\nand restart",
                    place.key,
                    place.dir.display(),
                    place.dir.display()
                )?;
            }
        }
    }
    if rustix::process::geteuid().is_root() {
        writeln!(
            out,
            "(checked as root, who may write anywhere: `runuser -u roomkeeper -- roomkeeper \
             check-config` checks as the service)"
        )?;
    }
    Ok(usable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_units_writable_paths_are_the_units_and_its_drop_ins() {
        let root = tempfile::tempdir().unwrap();
        let (etc, lib) = (root.path().join("etc"), root.path().join("lib"));
        let dirs = [etc.clone(), lib.clone()];
        assert_eq!(unit_writable_paths_in(&dirs), None, "nothing installed");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(
            lib.join(UNIT),
            "[Service]\nProtectSystem=strict\nReadWritePaths=/var/lib/roomkeeper\n",
        )
        .unwrap();
        let only_state = unit_writable_paths_in(&dirs).unwrap();
        assert_eq!(only_state, [PathBuf::from("/var/lib/roomkeeper")]);
        assert!(covered(
            Path::new("/var/lib/roomkeeper/recordings"),
            &only_state
        ));
        assert!(!covered(Path::new("/srv/recordings"), &only_state));
        assert!(!covered(
            Path::new("/var/lib/roomkeeper-other"),
            &only_state
        ));

        // What `systemctl edit roomkeeper` makes, and a package's drop-in it overrides.
        std::fs::create_dir_all(etc.join(format!("{UNIT}.d"))).unwrap();
        std::fs::create_dir_all(lib.join(format!("{UNIT}.d"))).unwrap();
        std::fs::write(
            etc.join(format!("{UNIT}.d/override.conf")),
            "[Service]\nReadWritePaths=/srv/recordings -/mnt/jibri\n",
        )
        .unwrap();
        std::fs::write(
            lib.join(format!("{UNIT}.d/override.conf")),
            "[Service]\nReadWritePaths=/never\n",
        )
        .unwrap();
        let with_drop_in = unit_writable_paths_in(&dirs).unwrap();
        assert_eq!(
            with_drop_in,
            ["/var/lib/roomkeeper", "/srv/recordings", "/mnt/jibri"].map(PathBuf::from)
        );
        assert!(covered(Path::new("/srv/recordings"), &with_drop_in));
        assert!(covered(Path::new("/mnt/jibri/recordings"), &with_drop_in));

        // An empty assignment starts the list afresh.
        std::fs::write(
            etc.join(format!("{UNIT}.d/zz-reset.conf")),
            "[Service]\nReadWritePaths=\nReadWritePaths=/data\n",
        )
        .unwrap();
        assert_eq!(
            unit_writable_paths_in(&dirs).unwrap(),
            [PathBuf::from("/data")]
        );
    }

    #[test]
    fn a_directory_that_cannot_be_written_is_named_with_its_cure() {
        let root = tempfile::tempdir().unwrap();
        let writable = WrittenDir {
            key: "recordings.dir",
            dir: root.path().join("made/here"),
            made_if_missing: true,
        };
        // A check changes nothing; the start makes the directory.
        check_writable(&writable, false).unwrap();
        assert!(!root.path().join("made").exists());
        check_writable(&writable, true).unwrap();
        assert!(writable.dir.is_dir());
        assert_eq!(std::fs::read_dir(&writable.dir).unwrap().count(), 0);
        // A relative path whose directory does not exist yet is tried in the working
        // directory, not in `/`.
        assert_eq!(nearest_existing(Path::new("db")), PathBuf::from("."));
        assert_eq!(
            nearest_existing(Path::new("data/recordings")),
            PathBuf::from(".")
        );
        // Under a file (what root, who may write anywhere, can still fail on).
        std::fs::write(root.path().join("a-file"), "").unwrap();
        let blocked = WrittenDir {
            key: "recordings.watch_dir",
            dir: root.path().join("a-file/jibri"),
            made_if_missing: false,
        };
        let message = check_writable(&blocked, false).unwrap_err();
        assert!(
            message.starts_with("recordings.watch_dir ")
                && message.contains("ReadWritePaths=")
                && message.contains("a-file/jibri"),
            "{message}"
        );
    }
}
