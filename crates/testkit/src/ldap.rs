//! A real directory for login tests: Debian's `slapd` (installed by `scripts/test`) on a
//! free loopback port, with a small tree under `dc=example,dc=org`:
//! `uid=ada` (Ada Lovelace), `uid=bob` (member of `cn=roomkeeper-admins,ou=groups`),
//! `uid=Carol` (upper case in the directory), `uid=dan` (who never logs in), and the
//! service account `cn=reader`. Course groups: `cn=logic-teachers` has ada and the group
//! `cn=logic-tutors` (nested), which has Carol and dan. As at many universities, only
//! the service account reads the groups (people read the admin group, for the binding
//! without a service account, and the people).
//! Stopped (by its process id) when dropped.

use std::process::{Child, Command, Stdio};

use crate::listening::{ATTEMPTS, NotListening, free_port, wait_until_listening};
use anyhow::{Context, ensure};

pub const BASE: &str = "dc=example,dc=org";
pub const PEOPLE: &str = "ou=people,dc=example,dc=org";
pub const ADMINS: &str = "cn=roomkeeper-admins,ou=groups,dc=example,dc=org";
pub const READER: &str = "cn=reader,dc=example,dc=org";
pub const GROUPS: &str = "ou=groups,dc=example,dc=org";
pub const LOGIC_TEACHERS: &str = "cn=logic-teachers,ou=groups,dc=example,dc=org";
pub const LOGIC_TUTORS: &str = "cn=logic-tutors,ou=groups,dc=example,dc=org";
/// A `groupOfUniqueNames` (members in `uniqueMember`): ada.
pub const LOGIC_EXAMINERS: &str = "cn=logic-examiners,ou=groups,dc=example,dc=org";
const ADMIN: &str = "cn=admin,dc=example,dc=org";
const ADMIN_PASSWORD: &str = "admin password";
pub const READER_PASSWORD: &str = "reader password";
/// Every person's password is their uid followed by this.
pub const PASSWORD_SUFFIX: &str = " secret password";

pub struct Slapd {
    pub port: u16,
    /// Where it answers LDAPS (TLS from the first byte).
    pub tls_port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Slapd {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(false).await
    }

    /// With OpenLDAP's `memberof` overlay, as directories that record membership on the
    /// members (`memberOf`) are set up; every group's members have it (groups inside
    /// groups too).
    pub async fn start_with_member_of() -> anyhow::Result<Self> {
        let slapd = Self::start_with(true).await?;
        // slapadd bypasses overlays: writing each group's members again has the overlay
        // record them.
        let (connection, mut ldap) = ldap3::LdapConnAsync::new(&slapd.url()).await?;
        ldap3::drive!(connection);
        ldap.simple_bind(ADMIN, ADMIN_PASSWORD).await?.success()?;
        for group in [ADMINS, LOGIC_TUTORS, LOGIC_TEACHERS] {
            let (entries, _) = ldap
                .search(group, ldap3::Scope::Base, "(objectClass=*)", vec!["member"])
                .await?
                .success()?;
            let entry = ldap3::SearchEntry::construct(
                entries.into_iter().next().context("the group is there")?,
            );
            let members: std::collections::HashSet<&str> = entry
                .attrs
                .get("member")
                .map(|m| m.iter().map(String::as_str).collect())
                .unwrap_or_default();
            ldap.modify(group, vec![ldap3::Mod::Replace("member", members)])
                .await?
                .success()?;
        }
        ldap.unbind().await?;
        Ok(slapd)
    }

    async fn start_with(member_of: bool) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let path = dir.path();
        std::fs::create_dir_all(path.join("config"))?;
        std::fs::create_dir_all(path.join("data"))?;
        // Its certificate is for localhost, from a CA only the tests know (ca.crt).
        crate::tls::make_certificates(path, "localhost", "DNS:localhost,IP:127.0.0.1")?;
        let config = format!(
            "dn: cn=config\nobjectClass: olcGlobal\ncn: config\nolcPidFile: {dir}/slapd.pid\n\
             olcTLSCACertificateFile: {dir}/ca.crt\nolcTLSCertificateFile: {dir}/localhost.crt\n\
             olcTLSCertificateKeyFile: {dir}/localhost.key\n\n\
             dn: cn=module{{0}},cn=config\nobjectClass: olcModuleList\ncn: module{{0}}\n\
             olcModulePath: /usr/lib/ldap\nolcModuleLoad: back_mdb\n{member_of_module}\n\
             dn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema\n\n\
             include: file:///etc/ldap/schema/core.ldif\n\n\
             include: file:///etc/ldap/schema/cosine.ldif\n\n\
             include: file:///etc/ldap/schema/inetorgperson.ldif\n\n\
             dn: olcDatabase={{-1}}frontend,cn=config\nobjectClass: olcDatabaseConfig\n\
             objectClass: olcFrontendConfig\nolcDatabase: {{-1}}frontend\n\n\
             dn: olcDatabase={{0}}config,cn=config\nobjectClass: olcDatabaseConfig\n\
             olcDatabase: {{0}}config\n\n\
             dn: olcDatabase={{1}}mdb,cn=config\nobjectClass: olcDatabaseConfig\n\
             objectClass: olcMdbConfig\nolcDatabase: {{1}}mdb\nolcSuffix: {BASE}\n\
             olcRootDN: {ADMIN}\nolcRootPW: {ADMIN_PASSWORD}\nolcDbDirectory: {dir}/data\n\
             olcAccess: {{0}}to attrs=userPassword by self read by anonymous auth by * none\n\
             olcAccess: {{1}}to dn.base=\"{ADMINS}\" by users read by * none\n\
             olcAccess: {{2}}to dn.subtree=\"{GROUPS}\" by dn.exact=\"{READER}\" read by * none\n\
             olcAccess: {{3}}to * by users read by * none\n{member_of_overlay}",
            dir = path.display(),
            member_of_module = if member_of {
                "olcModuleLoad: memberof\n"
            } else {
                ""
            },
            member_of_overlay = if member_of {
                "\ndn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config\n\
                 objectClass: olcOverlayConfig\nobjectClass: olcMemberOf\n\
                 olcOverlay: {0}memberof\nolcMemberOfGroupOC: groupOfNames\n\
                 olcMemberOfMemberAD: member\nolcMemberOfMemberOfAD: memberOf\n"
            } else {
                ""
            },
        );
        let mut data = format!(
            "dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
             dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n\n\
             dn: {READER}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n\
             cn: reader\nuserPassword: {READER_PASSWORD}\n\n\
             dn: {ADMINS}\nobjectClass: groupOfNames\ncn: roomkeeper-admins\nmember: uid=bob,{PEOPLE}\n\n\
             dn: {LOGIC_TUTORS}\nobjectClass: groupOfNames\ncn: logic-tutors\n\
             member: uid=Carol,{PEOPLE}\nmember: uid=dan,{PEOPLE}\n\n\
             dn: {LOGIC_TEACHERS}\nobjectClass: groupOfNames\ncn: logic-teachers\n\
             member: uid=ada,{PEOPLE}\nmember: {LOGIC_TUTORS}\n\n\
             dn: {LOGIC_EXAMINERS}\nobjectClass: groupOfUniqueNames\ncn: logic-examiners\n\
             uniqueMember: uid=ada,{PEOPLE}\n\n"
        );
        for (uid, name) in [
            ("ada", "Ada Lovelace"),
            ("bob", "Bob Admin"),
            ("Carol", "Carol Case"),
            ("dan", "Dan Never"),
        ] {
            data.push_str(&format!(
                "dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {name}\n\
                 sn: {name}\nmail: {lower}@example.org\nuserPassword: {uid}{PASSWORD_SUFFIX}\n\n",
                lower = uid.to_lowercase()
            ));
        }
        std::fs::write(path.join("config.ldif"), config)?;
        std::fs::write(path.join("data.ldif"), data)?;
        for (number, file) in [("0", "config.ldif"), ("1", "data.ldif")] {
            let output = Command::new("slapadd")
                .args(["-n", number, "-F"])
                .arg(path.join("config"))
                .arg("-l")
                .arg(path.join(file))
                .output()
                .context("slapadd (Debian's slapd; scripts/test installs it)")?;
            ensure!(
                output.status.success(),
                "slapadd {file}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let mut slapd = Self {
            port: free_port()?,
            tls_port: free_port()?,
            dir,
            child: None,
        };
        let mut attempt = 1;
        loop {
            match slapd.run().await {
                Ok(()) => return Ok(slapd),
                Err(NotListening::Exited { .. }) if attempt < ATTEMPTS => {
                    attempt += 1;
                    slapd.port = free_port()?;
                    slapd.tls_port = free_port()?;
                }
                Err(other) => return Err(other.into()),
            }
        }
    }

    async fn run(&mut self) -> Result<(), NotListening> {
        let child = Command::new("slapd")
            .arg("-h")
            .arg(format!(
                "ldap://127.0.0.1:{}/ ldaps://127.0.0.1:{}/",
                self.port, self.tls_port
            ))
            .arg("-F")
            .arg(self.dir.path().join("config"))
            .args(["-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| NotListening::Io {
                what: "slapd (Debian's slapd; scripts/test installs it)".into(),
                error,
            })?;
        let child = self.child.insert(child);
        wait_until_listening(child, self.port, "slapd").await?;
        wait_until_listening(child, self.tls_port, "slapd").await
    }

    /// Freezes the server (SIGSTOP to its process id): connections are accepted by the
    /// kernel but never answered, as with a hung directory. `resume` thaws it.
    /// Returns once every thread of slapd is stopped: the signal is delivered to each
    /// thread when it next runs, and on a busy machine a worker answered one more bind
    /// after `kill` had returned.
    pub fn pause(&self) -> anyhow::Result<()> {
        self.signal("-STOP")?;
        let pid = self.child.as_ref().context("slapd is not running")?.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let stopped = std::fs::read_dir(format!("/proc/{pid}/task"))?
                .flatten()
                .all(|task| {
                    // `PID (comm) STATE ...`; comm may hold spaces, the state follows ')'.
                    std::fs::read_to_string(task.path().join("stat"))
                        .ok()
                        .and_then(|stat| {
                            stat.rsplit_once(')')
                                .and_then(|(_, rest)| rest.trim_start().chars().next())
                        })
                        .is_some_and(|state| state == 'T' || state == 't')
                });
            if stopped {
                return Ok(());
            }
            ensure!(std::time::Instant::now() < deadline, "slapd did not stop");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    pub fn resume(&self) -> anyhow::Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let pid = self.child.as_ref().context("slapd is not running")?.id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()?;
        ensure!(status.success(), "kill {signal} {pid} failed");
        Ok(())
    }

    /// Stops the server (an unreachable directory), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// LDAPS by the name its certificate is for.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://localhost:{}", self.tls_port)
    }

    /// The CA that signed its certificate (for `ldap.ca_file`).
    pub fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// Roomkeeper's `[ldap]` binding with a DN template, admins from the group.
    pub fn template_config(&self) -> roomkeeper_auth::LdapConfig {
        roomkeeper_auth::LdapConfig {
            url: self.url(),
            bind_dn_template: Some(format!("uid={{username}},{PEOPLE}")),
            admin_group_dn: Some(ADMINS.into()),
            ..Default::default()
        }
    }

    /// Roomkeeper's `[ldap]` searching as the service account first.
    pub fn search_config(&self) -> roomkeeper_auth::LdapConfig {
        roomkeeper_auth::LdapConfig {
            url: self.url(),
            search_base: Some(PEOPLE.into()),
            service_bind_dn: Some(READER.into()),
            service_password: Some(READER_PASSWORD.into()),
            admin_group_dn: Some(ADMINS.into()),
            ..Default::default()
        }
    }
}

impl Slapd {
    /// [`Slapd::search_config`] with course groups: found under `ou=groups`, and
    /// looked for at each sign-in.
    pub fn group_config(&self) -> roomkeeper_auth::LdapConfig {
        roomkeeper_auth::LdapConfig {
            group_search_base: Some(GROUPS.into()),
            ..self.search_config()
        }
    }

    /// Adds `member` (a DN) to `group` in the directory, as its administrator would.
    pub async fn add_member(&self, group: &str, member: &str) -> anyhow::Result<()> {
        self.change_member(group, ldap3::Mod::Add("member", [member].into()))
            .await
    }

    /// Takes `member` out of `group`.
    pub async fn remove_member(&self, group: &str, member: &str) -> anyhow::Result<()> {
        self.change_member(group, ldap3::Mod::Delete("member", [member].into()))
            .await
    }

    /// The values of `attribute` (operational ones too) of the entry `dn`, read as the
    /// directory's administrator.
    pub async fn values(&self, dn: &str, attribute: &str) -> anyhow::Result<Vec<String>> {
        let (connection, mut ldap) = ldap3::LdapConnAsync::new(&self.url()).await?;
        ldap3::drive!(connection);
        ldap.simple_bind(ADMIN, ADMIN_PASSWORD).await?.success()?;
        let (entries, _) = ldap
            .search(dn, ldap3::Scope::Base, "(objectClass=*)", vec![attribute])
            .await?
            .success()?;
        ldap.unbind().await?;
        Ok(entries
            .into_iter()
            .next()
            .map(ldap3::SearchEntry::construct)
            .and_then(|mut e| e.attrs.remove(attribute))
            .unwrap_or_default())
    }

    async fn change_member(&self, group: &str, change: ldap3::Mod<&str>) -> anyhow::Result<()> {
        let (connection, mut ldap) = ldap3::LdapConnAsync::new(&self.url()).await?;
        ldap3::drive!(connection);
        ldap.simple_bind(ADMIN, ADMIN_PASSWORD).await?.success()?;
        ldap.modify(group, vec![change]).await?.success()?;
        ldap.unbind().await?;
        Ok(())
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
