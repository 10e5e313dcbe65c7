//! Configuration: built-in defaults, then a TOML file (`--config`), then `ROOMKEEPER_…`
//! environment variables, then command-line flags, each overriding the one before.
//! Unknown keys and bad values stop the start with a message naming the key and the
//! place it came from. Every key is documented in `deploy/roomkeeper.example.toml`.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use roomkeeper_auth::{SessionConfig, ThrottleConfig};
use roomkeeper_jitsi::JitsiConfig;
use roomkeeper_mail::MailConfig;
use roomkeeper_recordings::RecordingsConfig;
use roomkeeper_store::DatabaseConfig;
use roomkeeper_web::{HttpConfig, RoomsConfig};
use serde::{Deserialize, Serialize};

/// Environment variables with our prefix that are not configuration keys.
const ENV_NOT_KEYS: &[&str] = &["config"];

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub recordings: RecordingsConfig,
    pub rooms: RoomsConfig,
    pub sessions: SessionConfig,
    pub login_throttle: ThrottleConfig,
    pub log: LogConfig,
    pub email: MailConfig,
    pub jitsi: JitsiConfig,
    pub login: roomkeeper_auth::LoginConfig,
    pub ldap: roomkeeper_auth::LdapConfig,
    /// OpenID providers, each a `[[oidc]]` table; the login page shows a button for each.
    pub oidc: Vec<roomkeeper_auth::OidcProviderConfig>,
    /// Password for the `admin` account created at first start when no administrator
    /// exists. Without it a random one is generated and printed once in the log.
    pub initial_admin_password: Option<String>,
    pub initial_admin_password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing filter such as `info` or `roomkeeper=debug,info`. `RUST_LOG` wins.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// Values given as command-line flags; `None` leaves the configured value alone.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("configuration: {0}")]
    Invalid(Box<figment::Error>),
    #[error("configuration key {key}: cannot read {path}: {source}")]
    SecretFile {
        key: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration key {key}: {message}")]
    Value { key: &'static str, message: String },
}

impl Config {
    /// Loads from the layers above, using the process environment.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile(path.to_owned()));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(
            Env::prefixed("ROOMKEEPER_")
                .ignore(ENV_NOT_KEYS)
                .split("__"),
        );
        if let Some(listen) = &overrides.listen {
            figment = figment.merge(("http.listen", listen));
        }
        if let Some(url) = &overrides.database_url {
            figment = figment.merge(("database.url", url));
        }
        if let Some(format) = overrides.log_format {
            let name = match format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            };
            figment = figment.merge(("log.format", name));
        }
        let mut config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))?;
        config.read_secret_files()?;
        config.validate()?;
        Ok(config)
    }

    /// `…_file` keys win over their plain counterparts: a secret in a file (systemd
    /// credentials, Docker/Kubernetes secrets) stays out of the environment and `ps`.
    fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        if let Some(path) = &self.database.url_file {
            self.database.url = read_secret("database.url_file", path)?;
        }
        for shard in &mut self.jitsi.shards {
            if let Some(path) = &shard.password_file {
                shard.password = Some(read_secret("jitsi.shards.password_file", path)?);
            }
        }
        if let Some(path) = &self.recordings.s3.secret_access_key_file {
            self.recordings.s3.secret_access_key =
                Some(read_secret("recordings.s3.secret_access_key_file", path)?);
        }
        if let Some(path) = &self.recordings.ingest_token_file {
            let token = read_secret("recordings.ingest_token_file", path)?;
            if token.len() < 32 {
                return Err(ConfigError::Value {
                    key: "recordings.ingest_token_file",
                    message: "the token must be at least 32 characters".into(),
                });
            }
            self.recordings.ingest_token = Some(token);
        }
        if let Some(path) = &self.ldap.service_password_file {
            self.ldap.service_password = Some(read_secret("ldap.service_password_file", path)?);
        }
        for provider in &mut self.oidc {
            if let Some(path) = &provider.client_secret_file {
                provider.client_secret = Some(read_secret("oidc.client_secret_file", path)?);
            }
        }
        if let Some(path) = &self.email.password_file {
            self.email.password = Some(read_secret("email.password_file", path)?);
        }
        if let Some(path) = &self.initial_admin_password_file {
            // A one-time password: operators delete it after the first login, and the
            // packaged configuration still names it. Needed only while no administrator
            // exists (start-up says so then).
            if path.exists() {
                self.initial_admin_password =
                    Some(read_secret("initial_admin_password_file", path)?);
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.http.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Value {
                key: "http.listen",
                message: format!(
                    "{:?} is not an address and port such as 127.0.0.1:8470",
                    self.http.listen
                ),
            });
        }
        if let Some(metrics) = &self.http.metrics_listen {
            if metrics.parse::<std::net::SocketAddr>().is_err() {
                return Err(ConfigError::Value {
                    key: "http.metrics_listen",
                    message: format!(
                        "{metrics:?} is not an address and port such as 10.0.0.5:9470"
                    ),
                });
            }
        }
        if let Some(url) = &self.http.public_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::Value {
                    key: "http.public_url",
                    message: format!("{url:?} must start with https:// (or http://)"),
                });
            }
        }
        if let Err(message) = self.http.operator_networks() {
            return Err(ConfigError::Value {
                key: "http.operator_networks",
                message,
            });
        }
        if let Err(message) = self.http.trusted_proxies() {
            return Err(ConfigError::Value {
                key: "http.trusted_proxies",
                message,
            });
        }
        let url = self.database.url.trim();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Value {
                key: "database.url",
                message: format!(
                    "{:?} must start with sqlite:// or postgres://",
                    roomkeeper_store::redact_url(url)
                ),
            });
        }
        if self.sessions.idle_timeout_minutes == 0 || self.sessions.absolute_timeout_hours == 0 {
            return Err(ConfigError::Value {
                key: "sessions",
                message: "timeouts must be at least 1".into(),
            });
        }
        if !(1..=roomkeeper_auth::TOKEN_MAX_DAYS_LIMIT).contains(&self.sessions.token_max_days) {
            return Err(ConfigError::Value {
                key: "sessions.token_max_days",
                message: format!(
                    "must be 1 to {} (days)",
                    roomkeeper_auth::TOKEN_MAX_DAYS_LIMIT
                ),
            });
        }
        if self.login_throttle.window_minutes == 0 || self.login_throttle.max_failures_per_user == 0
        {
            return Err(ConfigError::Value {
                key: "login_throttle",
                message: "window_minutes and max_failures_per_user must be at least 1".into(),
            });
        }
        if let Err((key, message)) = self.jitsi.check() {
            return Err(ConfigError::Value { key, message });
        }
        if let Err((key, message)) = self.ldap.check() {
            return Err(ConfigError::Value { key, message });
        }
        for (i, provider) in self.oidc.iter().enumerate() {
            provider
                .check()
                .map_err(|(key, message)| ConfigError::Value { key, message })?;
            if self.oidc[..i].iter().any(|p| p.name == provider.name) {
                return Err(ConfigError::Value {
                    key: "oidc.name",
                    message: format!("{:?} is used by two providers", provider.name),
                });
            }
        }
        if let Err((key, message)) = self.recordings.check() {
            return Err(ConfigError::Value { key, message });
        }
        if let Err((key, message)) = self.email.check() {
            return Err(ConfigError::Value { key, message });
        }
        if let Err(message) = self.rooms.bases() {
            return Err(ConfigError::Value {
                key: "rooms.meeting_urls",
                message,
            });
        }
        if let Some(password) = &self.initial_admin_password {
            if let Err(e) = roomkeeper_domain::NewPassword::parse(password) {
                return Err(ConfigError::Value {
                    key: "initial_admin_password",
                    message: e.to_string(),
                });
            }
        }
        Ok(())
    }
}

fn read_secret(key: &'static str, path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
        key,
        path: path.to_owned(),
        source,
    })?;
    // Editors and `echo` leave a trailing newline that is never part of the secret.
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

#[cfg(test)]
// figment's Jail closures return its (large) error type; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    /// Loads `toml` with the given `ROOMKEEPER_…` variables inside a figment `Jail`,
    /// which serialises tests touching the environment and restores it afterwards.
    fn load(toml: &str, env: &[(&str, &str)], overrides: &Overrides) -> Result<Config, String> {
        let mut result = Err(String::new());
        Jail::expect_with(|jail| {
            jail.create_file("roomkeeper.toml", toml)?;
            for (key, value) in env {
                jail.set_env(format!("ROOMKEEPER_{key}"), value);
            }
            result = Config::load(Some(Path::new("roomkeeper.toml")), overrides)
                .map_err(|e| e.to_string());
            Ok(())
        });
        result
    }

    #[test]
    fn no_file_gives_the_embedded_defaults() {
        Jail::expect_with(|_| {
            let config = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(config.http.listen, "127.0.0.1:8470");
            assert_eq!(config.database.url, "sqlite://./data/roomkeeper.db");
            assert_eq!(config.recordings.dir, PathBuf::from("./data/recordings"));
            Ok(())
        });
    }

    #[test]
    fn file_then_environment_then_flags() {
        let toml = "[http]\nlisten = \"127.0.0.1:1111\"\n[database]\nurl = \"sqlite://file.db\"\n[log]\nlevel = \"debug\"\n";
        let config = load(toml, &[], &Overrides::default()).unwrap();
        assert_eq!(
            (config.http.listen.as_str(), config.log.level.as_str()),
            ("127.0.0.1:1111", "debug")
        );
        let env = [("HTTP__LISTEN", "127.0.0.1:2222")];
        let config = load(toml, &env, &Overrides::default()).unwrap();
        assert_eq!(config.http.listen, "127.0.0.1:2222");
        assert_eq!(config.database.url, "sqlite://file.db");
        let flags = Overrides {
            listen: Some("127.0.0.1:3333".into()),
            ..Overrides::default()
        };
        assert_eq!(
            load(toml, &env, &flags).unwrap().http.listen,
            "127.0.0.1:3333"
        );
        let env = [("INITIAL_ADMIN_PASSWORD", "a long enough password")];
        let config = load("", &env, &Overrides::default()).unwrap();
        assert_eq!(
            config.initial_admin_password.as_deref(),
            Some("a long enough password")
        );
    }

    #[test]
    fn unknown_keys_are_refused_naming_the_key_and_the_source() {
        let err = load(
            "[http]\nlisen = \"127.0.0.1:1\"\n",
            &[],
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            err.contains("lisen") && err.contains("roomkeeper.toml"),
            "{err}"
        );
        let err = load("", &[("HTTP__PORT", "80")], &Overrides::default()).unwrap_err();
        assert!(
            err.contains("port")
                && err.contains("ROOMKEEPER_")
                && err.contains("environment variable"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_are_refused_naming_the_key() {
        let err = load(
            "[sessions]\nidle_timeout_minutes = \"soon\"\n",
            &[],
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.contains("idle_timeout_minutes"), "{err}");
        let err = load(
            "[http]\nlisten = \"everywhere\"\n",
            &[],
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.contains("http.listen"), "{err}");
        for days in ["0", "3661"] {
            let err = load(
                &format!("[sessions]\ntoken_max_days = {days}\n"),
                &[],
                &Overrides::default(),
            )
            .unwrap_err();
            assert!(err.contains("sessions.token_max_days"), "{err}");
        }
        let err = load(
            "[database]\nurl = \"mysql://x\"\n",
            &[],
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.contains("database.url"), "{err}");
        let err = load(
            "initial_admin_password = \"short\"\n",
            &[],
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.contains("initial_admin_password"), "{err}");
    }

    #[test]
    fn openid_providers_are_tables_checked_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("oidc-secret");
        std::fs::write(&secret, "the client secret\n").unwrap();
        let provider = |name: &str, issuer: &str| {
            format!(
                "[[oidc]]\nname = {name:?}\nlabel = \"University\"\nissuer = {issuer:?}\n\
                 client_id = \"rk\"\nclient_secret_file = {:?}\n",
                secret.display().to_string()
            )
        };
        let two = provider("uni", "https://login.example.org")
            + &provider("guests", "http://127.0.0.1:9");
        let config = load(&two, &[], &Overrides::default()).unwrap();
        assert_eq!(config.oidc.len(), 2);
        assert_eq!(
            config.oidc[0].client_secret.as_deref(),
            Some("the client secret")
        );
        assert_eq!(config.oidc[1].username_claim, "preferred_username");
        for (bad, key) in [
            (provider("uni", "http://login.example.org"), "oidc.issuer"),
            (provider("Uni", "https://login.example.org"), "oidc.name"),
            (
                provider("uni", "https://a.example") + &provider("uni", "https://b.example"),
                "oidc.name",
            ),
        ] {
            let err = load(&bad, &[], &Overrides::default()).unwrap_err();
            assert!(err.contains(key), "{bad}: {err}");
        }
    }

    #[test]
    fn secrets_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("db-url");
        std::fs::write(&secret, "postgres://rk:s3cret@db/rk\n").unwrap();
        let toml = format!(
            "[database]\nurl_file = {:?}\n",
            secret.display().to_string()
        );
        let config = load(&toml, &[], &Overrides::default()).unwrap();
        assert_eq!(config.database.url, "postgres://rk:s3cret@db/rk");
        // The one-time password file is deleted after the first login: its absence is
        // fine (start-up refuses only while no administrator exists)...
        let gone = load(
            "initial_admin_password_file = \"/nonexistent/pw\"\n",
            &[],
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(gone.initial_admin_password, None);
        // ...one that cannot be read is not.
        let unreadable = format!(
            "initial_admin_password_file = {:?}\n",
            dir.path().display().to_string()
        );
        let err = load(&unreadable, &[], &Overrides::default()).unwrap_err();
        assert!(err.contains("initial_admin_password_file"), "{err}");
    }

    /// Every key path in a figment dictionary, dotted.
    fn key_paths(dict: &figment::value::Dict, prefix: &str, out: &mut Vec<String>) {
        for (key, value) in dict {
            let path = format!("{prefix}{key}");
            match value.as_dict() {
                Some(inner) => key_paths(inner, &format!("{path}."), out),
                None => out.push(path),
            }
        }
    }

    #[test]
    fn the_example_file_documents_every_key_with_its_default() {
        use figment::providers::Serialized;
        let example = include_str!("../../../deploy/roomkeeper.example.toml");
        // Set keys hold exactly the defaults...
        let parsed: Config = Figment::from(Toml::string(example)).extract().unwrap();
        assert_eq!(format!("{parsed:?}"), format!("{:?}", Config::default()));
        // ...and every key is there, the optional ones as a commented-out line.
        let uncommented: String = example
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with(|c: char| c.is_ascii_lowercase())
                        && rest.contains(" = ") =>
                {
                    rest
                }
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let dict = |f: Figment| f.extract::<figment::value::Dict>().unwrap();
        let (mut documented, mut known) = (Vec::new(), Vec::new());
        key_paths(
            &dict(Figment::from(Toml::string(&uncommented))),
            "",
            &mut documented,
        );
        key_paths(
            &dict(Figment::from(Serialized::defaults(Config::default()))),
            "",
            &mut known,
        );
        documented.sort();
        known.sort();
        assert_eq!(documented, known);
        let optional: Config = Figment::from(Toml::string(&uncommented)).extract().unwrap();
        assert!(optional.http.public_url.is_some() && optional.initial_admin_password.is_some());
    }
}
