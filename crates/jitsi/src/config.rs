use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum XmppSecurity {
    /// STARTTLS (Prosody's default on port 5222), trusting the system's certificate
    /// store and `ca_file`; a self-signed certificate that is itself trusted there (as
    /// jitsi-meet's packages make and trust it) is accepted for the name it carries.
    #[default]
    Starttls,
    /// Plain TCP: only to Prosody on this machine (127.0.0.1).
    Plain,
}

/// One Jitsi deployment (one Prosody). `[[jitsi.shards]]` in the configuration.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShardConfig {
    /// A short name for logs and pages.
    pub name: String,
    /// Prosody's client port, e.g. `127.0.0.1:5222`.
    pub xmpp_address: String,
    #[serde(default)]
    pub security: XmppSecurity,
    /// A PEM file of certificates trusted for STARTTLS besides the system's store: an
    /// internal CA, or Prosody's own self-signed certificate (on a jitsi-meet machine
    /// `/etc/prosody/certs/auth.DOMAIN.crt`).
    pub ca_file: Option<PathBuf>,
    /// The Jitsi domain, e.g. `meet.example.org`.
    pub domain: String,
    /// The service account, e.g. `roomkeeper@auth.meet.example.org`.
    pub account: String,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    /// The MUC component. Default: `conference.<domain>`.
    pub muc_domain: Option<String>,
    /// Occupants that are services, not people (bare JIDs or whole domains).
    /// Default: `focus@auth.<domain>`, the `recorder.<domain>` and the account itself.
    #[serde(default)]
    pub service_jids: Vec<String>,
    /// How long an IQ (its turn on the connection included) waits for Prosody before
    /// the action answers "unreachable". Default 1500: under the 2 s promised to people.
    /// A suspended stream (tokio-xmpp reconnects quietly, without an event) shows up only
    /// as an unanswered IQ, so this is also how fast a dead connection is noticed.
    #[serde(default = "default_answer_timeout_ms")]
    pub answer_timeout_ms: u64,
}

fn default_answer_timeout_ms() -> u64 {
    1500
}

impl ShardConfig {
    pub fn muc_domain(&self) -> String {
        self.muc_domain
            .clone()
            .unwrap_or_else(|| format!("conference.{}", self.domain))
    }

    /// The MUC domain of a room: `conference.<tenant>.<domain>` for tenant rooms, the
    /// form Jitsi addresses (replies to the internal `[tenant]room` form come back
    /// rewritten, and IQ tracking would miss them).
    pub fn room_jid(&self, room: &roomkeeper_domain::RoomName) -> String {
        let muc = self.muc_domain();
        match room.tenant() {
            Some(tenant) => {
                let (service, rest) = muc.split_once('.').unwrap_or((muc.as_str(), ""));
                format!("{}@{service}.{tenant}.{rest}", room.room())
            }
            None => format!("{}@{muc}", room.room()),
        }
    }

    /// The canonical room (`room` or `tenant/room`) of a room JID on this shard: plain,
    /// `conference.TENANT.DOMAIN` or Jitsi's internal `[tenant]room` form (what a module
    /// inside Prosody sees behind mod_muc_domain_mapper).
    pub fn room_of_jid(&self, room_jid: &str) -> Option<String> {
        let (node, host) = room_jid.split_once('@')?;
        let muc = self.muc_domain();
        let name = if host == muc {
            match node.strip_prefix('[').and_then(|n| n.split_once(']')) {
                Some((tenant, room)) => format!("{tenant}/{room}"),
                None => node.to_owned(),
            }
        } else {
            let (service, rest) = muc.split_once('.')?;
            let tenant = host
                .strip_prefix(service)?
                .strip_prefix('.')?
                .strip_suffix(rest)?
                .strip_suffix('.')?;
            format!("{tenant}/{node}")
        };
        roomkeeper_domain::RoomName::from_canonical(&name)
            .ok()
            .map(|r| r.canonical())
    }

    /// Whether a bare JID belongs to a service occupant.
    pub fn is_service(&self, bare_jid: &str) -> bool {
        let defaults = [
            format!("focus@auth.{}", self.domain),
            format!("recorder.{}", self.domain),
            format!("jigasi@auth.{}", self.domain),
            self.account.clone(),
        ];
        let domain_of = bare_jid.split_once('@').map_or(bare_jid, |(_, d)| d);
        defaults
            .iter()
            .chain(&self.service_jids)
            .any(|s| s == bare_jid || s == domain_of)
    }
}

/// The `[jitsi]` section: the deployments Roomkeeper controls.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JitsiConfig {
    pub shards: Vec<ShardConfig>,
}

impl JitsiConfig {
    /// Problems an operator must fix before start, as (key, message).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        for shard in &self.shards {
            let host = shard
                .xmpp_address
                .rsplit_once(':')
                .map_or(shard.xmpp_address.as_str(), |(h, _)| h);
            if shard.security == XmppSecurity::Plain
                && !matches!(host, "127.0.0.1" | "localhost" | "[::1]")
            {
                return Err((
                    "jitsi.shards.security",
                    format!(
                        "shard {:?}: \"plain\" is allowed only to Prosody on 127.0.0.1",
                        shard.name
                    ),
                ));
            }
            if let Some(ca_file) = &shard.ca_file {
                if shard.security == XmppSecurity::Plain {
                    return Err((
                        "jitsi.shards.ca_file",
                        format!(
                            "shard {:?}: ca_file needs security = \"starttls\"",
                            shard.name
                        ),
                    ));
                }
                let dns = tokio_xmpp::connect::DnsConfig::addr(&shard.xmpp_address);
                if let Err(problem) = crate::tls::StartTls::new(dns, Some(ca_file)) {
                    return Err((
                        "jitsi.shards.ca_file",
                        format!("shard {:?}: {problem}", shard.name),
                    ));
                }
            }
            if shard.password.is_none() {
                return Err((
                    "jitsi.shards.password_file",
                    format!(
                        "shard {:?}: give the service account's password (password_file)",
                        shard.name
                    ),
                ));
            }
            if shard.account.parse::<tokio_xmpp::jid::BareJid>().is_err() {
                return Err((
                    "jitsi.shards.account",
                    format!("shard {:?}: {:?} is not a JID", shard.name, shard.account),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard() -> ShardConfig {
        ShardConfig {
            name: "main".into(),
            xmpp_address: "127.0.0.1:5222".into(),
            security: XmppSecurity::Plain,
            ca_file: None,
            domain: "meet.example.org".into(),
            account: "roomkeeper@auth.meet.example.org".into(),
            password: None,
            password_file: None,
            muc_domain: None,
            service_jids: Vec::new(),
            answer_timeout_ms: 1500,
        }
    }

    #[test]
    fn room_jids_map_back_to_canonical_names() {
        let shard = shard();
        for (jid, canonical) in [
            ("logic@conference.meet.example.org", Some("logic")),
            // What a module behind mod_muc_domain_mapper sees for a tenant room.
            (
                "[physics]quantum@conference.meet.example.org",
                Some("physics/quantum"),
            ),
            (
                "quantum@conference.physics.meet.example.org",
                Some("physics/quantum"),
            ),
            ("logic@conference.other.org", None),
            ("logic@breakout.meet.example.org", None),
            ("no-at-sign", None),
        ] {
            assert_eq!(shard.room_of_jid(jid).as_deref(), canonical, "{jid}");
        }
        for name in ["logic", "physics/quantum", "my%20room"] {
            let room = roomkeeper_domain::RoomName::from_canonical(name).unwrap();
            assert_eq!(
                shard.room_of_jid(&shard.room_jid(&room)).as_deref(),
                Some(name)
            );
        }
    }

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let mut config = shard();
        config.password = Some("secret".into());
        config.security = XmppSecurity::Starttls;
        config.ca_file = Some("/nonexistent/ca.pem".into());
        let jitsi = JitsiConfig {
            shards: vec![config.clone()],
        };
        let (key, message) = jitsi.check().unwrap_err();
        assert_eq!(key, "jitsi.shards.ca_file");
        assert!(message.contains("/nonexistent/ca.pem"), "{message}");
        let empty = std::env::temp_dir().join(format!("rk-empty-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        config.ca_file = Some(empty.clone());
        let (_, message) = JitsiConfig {
            shards: vec![config.clone()],
        }
        .check()
        .unwrap_err();
        assert!(message.contains("no certificate"), "{message}");
        std::fs::remove_file(&empty).unwrap();
        config.security = XmppSecurity::Plain;
        let (_, message) = JitsiConfig {
            shards: vec![config],
        }
        .check()
        .unwrap_err();
        assert!(message.contains("starttls"), "{message}");
    }

    #[test]
    fn services_are_not_people() {
        let shard = shard();
        assert!(shard.is_service("focus@auth.meet.example.org"));
        assert!(shard.is_service("recorder@recorder.meet.example.org"));
        assert!(shard.is_service("roomkeeper@auth.meet.example.org"));
        assert!(!shard.is_service("abc123@meet.example.org"));
    }
}
