//! TLS client settings that trust what the operator trusts: the system's certificate
//! store plus the certificates in an operator's CA file. Universities often run Prosody
//! and their directory with certificates from an internal CA, and a stock jitsi-meet
//! install has Prosody present a self-signed certificate that is itself the trust anchor
//! (see [`OperatorTrust`]). One rustls (0.23) serves tokio-xmpp, ldap3 and us.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
pub use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::{
    CertificateError, DigitallySignedStruct, Error as TlsError, OtherError, RootCertStore,
    SignatureScheme,
};

/// The system's roots and every certificate in the PEM file `ca_file`; an error names
/// the file and what is wrong with it (unreadable, no certificate, not parsable).
pub fn client_config_with_ca(ca_file: &Path) -> Result<ClientConfig, String> {
    client_config(Some(ca_file))
}

/// The system's roots, plus every certificate in `ca_file` when given.
pub fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, String> {
    let verifier = OperatorTrust::new(ca_file)?;
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// ring, the one provider every TLS client here is built with (tokio-xmpp, ldap3, sqlx).
fn provider() -> Arc<tokio_rustls::rustls::crypto::CryptoProvider> {
    Arc::new(tokio_rustls::rustls::crypto::ring::default_provider())
}

/// Trusts a server the way Jicofo (Java) and OpenSSL do: a chain up to a trusted root, as
/// rustls checks it; or a server certificate that is itself one of the trusted
/// certificates, CA flag or not, when it is valid now and for the name asked for.
///
/// Why: jitsi-meet's packages make the auth host's certificate with `prosodyctl cert
/// generate`, which writes self-signed certificates with `basicConstraints = CA:TRUE`,
/// and make Jicofo and the bridge trust it by putting it into the system store. webpki
/// refuses a CA certificate presented as a server's own (`CaUsedAsEndEntity`), even when
/// it is a trust anchor, so without this no stock jitsi-meet Prosody could be reached.
/// The handshake signature is always checked against the presented certificate's key.
#[derive(Debug)]
pub struct OperatorTrust {
    chains: Arc<WebPkiServerVerifier>,
    /// The exact certificates the operator trusts (DER), for the comparison above.
    anchors: HashSet<Vec<u8>>,
}

impl OperatorTrust {
    pub fn new(ca_file: Option<&Path>) -> Result<Self, String> {
        let mut roots = RootCertStore::empty();
        let mut anchors = HashSet::new();
        for cert in rustls_native_certs::load_native_certs().certs {
            if roots.add(cert.clone()).is_ok() {
                anchors.insert(cert.to_vec());
            }
        }
        if let Some(ca_file) = ca_file {
            let mut added = 0;
            for cert in CertificateDer::pem_file_iter(ca_file)
                .map_err(|e| format!("cannot read {}: {e}", ca_file.display()))?
            {
                let cert = cert.map_err(|e| format!("{}: {e}", ca_file.display()))?;
                roots
                    .add(cert.clone())
                    .map_err(|e| format!("{}: not a usable certificate: {e}", ca_file.display()))?;
                anchors.insert(cert.to_vec());
                added += 1;
            }
            if added == 0 {
                return Err(format!("{}: no certificate in it", ca_file.display()));
            }
        }
        if roots.is_empty() {
            return Err(
                "no trusted certificate at all: the system's store is empty and no ca_file is set"
                    .to_owned(),
            );
        }
        let chains = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| format!("cannot set up certificate checks: {e}"))?;
        Ok(Self { chains, anchors })
    }

    /// The presented certificate is one the operator trusts as it is: valid now and for
    /// `server_name`.
    fn trusted_as_anchor(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), Refused> {
        let seen = Seen::of(end_entity);
        if !self.anchors.contains(end_entity.as_ref()) {
            return Err(Refused::Untrusted(seen));
        }
        let cert = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|e| Refused::Unreadable(e.to_string()))?;
        if cert.verify_is_valid_for_subject_name(server_name).is_err() {
            return Err(Refused::WrongName(seen, server_name.to_str().into_owned()));
        }
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        if now < seen.not_before || now > seen.not_after {
            return Err(Refused::Expired(seen));
        }
        Ok(())
    }
}

impl ServerCertVerifier for OperatorTrust {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let by_chain = self.chains.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        let error = match by_chain {
            Ok(verified) => return Ok(verified),
            Err(error) => error,
        };
        match self.trusted_as_anchor(end_entity, server_name, now) {
            Ok(()) => Ok(ServerCertVerified::assertion()),
            // Not one of ours either: rustls's own word, unless it is the chain it could
            // not build, which we say in words that name the certificate and the fix.
            Err(refused @ Refused::Untrusted(_))
                if matches!(
                    error,
                    TlsError::InvalidCertificate(
                        CertificateError::UnknownIssuer | CertificateError::Other(_)
                    )
                ) =>
            {
                Err(refused.into_tls_error(server_name))
            }
            Err(Refused::Untrusted(_)) => Err(error),
            Err(refused) => Err(refused.into_tls_error(server_name)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.chains.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.chains.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chains.supported_verify_schemes()
    }
}

/// What a refused server certificate looked like, for the operator.
#[derive(Debug, Clone)]
struct Seen {
    subject: String,
    issuer: String,
    self_signed: bool,
    sha256: String,
    not_before: i64,
    not_after: i64,
}

impl Seen {
    fn of(cert: &CertificateDer<'_>) -> Self {
        use sha2::Digest;
        let sha256 = sha2::Sha256::digest(cert.as_ref())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        match x509_parser::parse_x509_certificate(cert.as_ref()) {
            Ok((_, parsed)) => Self {
                subject: parsed.subject().to_string(),
                issuer: parsed.issuer().to_string(),
                self_signed: parsed.subject() == parsed.issuer(),
                sha256,
                not_before: parsed.validity().not_before.timestamp(),
                not_after: parsed.validity().not_after.timestamp(),
            },
            Err(_) => Self {
                subject: "(unreadable)".into(),
                issuer: "(unreadable)".into(),
                self_signed: false,
                sha256,
                not_before: i64::MIN,
                not_after: i64::MIN,
            },
        }
    }

    fn describe(&self) -> String {
        let issued = if self.self_signed {
            "self-signed".to_owned()
        } else {
            format!("issued by \"{}\"", self.issuer)
        };
        format!("\"{}\" ({issued}, SHA-256 {})", self.subject, self.sha256)
    }
}

/// Why a server certificate was refused, in words that name it and the fix.
#[derive(Debug, Clone)]
enum Refused {
    Untrusted(Seen),
    WrongName(Seen, String),
    Expired(Seen),
    Unreadable(String),
}

impl Refused {
    fn into_tls_error(self, server_name: &ServerName<'_>) -> TlsError {
        let text = match &self {
            Refused::Untrusted(seen) => {
                let name = server_name.to_str();
                format!(
                    "the server presented the certificate {}, which nothing here trusts \
                     (neither the system's certificate store nor ca_file holds it or its \
                     issuer). On a jitsi-meet machine it is /etc/prosody/certs/{name}.crt: \
                     copy it here and set ca_file = \"/etc/prosody/certs/{name}.crt\" for this \
                     shard, or trust it the jitsi-meet way (link it into \
                     /usr/local/share/ca-certificates/ as {name}.crt and run \
                     update-ca-certificates)",
                    seen.describe()
                )
            }
            Refused::WrongName(seen, name) => format!(
                "the server presented the trusted certificate {}, but it is not valid for \
                 {name} (the domain of the service account)",
                seen.describe()
            ),
            Refused::Expired(seen) => format!(
                "the server presented the trusted certificate {}, which is not valid now \
                 (expired or not yet valid): renew it on the Prosody machine (prosodyctl cert \
                 generate) and trust the new one",
                seen.describe()
            ),
            Refused::Unreadable(why) => format!("the server's certificate cannot be read: {why}"),
        };
        TlsError::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
            CertificateRefused(text),
        ))))
    }
}

/// A refused server certificate, in words for the operator. Found again in an error's
/// sources with [`certificate_refusal`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct CertificateRefused(pub String);

/// Whether `error` (or one of its sources) is a TLS failure, and in which words: our own
/// sentence for a refused certificate, rustls's otherwise.
pub fn tls_failure(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(refused) = error.downcast_ref::<CertificateRefused>() {
            return Some(refused.0.clone());
        }
        if let Some(tls) = error.downcast_ref::<TlsError>() {
            if let TlsError::InvalidCertificate(CertificateError::Other(OtherError(inner))) = tls {
                if let Some(refused) = inner.downcast_ref::<CertificateRefused>() {
                    return Some(refused.0.clone());
                }
            }
            return Some(format!("TLS failed: {tls}"));
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(found) = tls_failure(inner) {
                    return Some(found);
                }
            }
        }
        next = error.source();
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A self-signed certificate as `prosodyctl cert generate` writes it: `CA:TRUE`,
    /// valid for a year from now (`openssl`, which scripts/test installs).
    fn self_signed(dir: &Path, host: &str) -> CertificateDer<'static> {
        let crt = dir.join(format!("{host}.crt"));
        let status = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365",
            ])
            .arg("-keyout")
            .arg(dir.join(format!("{host}.key")))
            .arg("-out")
            .arg(&crt)
            .args(["-subj", &format!("/CN={host}")])
            .args(["-addext", &format!("subjectAltName=DNS:{host}")])
            .args(["-addext", "basicConstraints=CA:TRUE"])
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl (scripts/test installs it)");
        assert!(status.success());
        CertificateDer::from_pem_file(&crt).unwrap()
    }

    fn verify(
        trust: &OperatorTrust,
        cert: &CertificateDer<'_>,
        name: &str,
        now: UnixTime,
    ) -> Result<(), String> {
        let name = ServerName::try_from(name.to_owned()).unwrap();
        trust
            .verify_server_cert(cert, &[], &name, &[], now)
            .map(|_| ())
            .map_err(|e| {
                let text = tls_failure(&e).unwrap();
                // Every refusal is rustls's "invalid certificate", so no handshake
                // goes on with it.
                assert!(matches!(e, TlsError::InvalidCertificate(_)), "{e:?}");
                text
            })
    }

    #[test]
    fn a_trusted_self_signed_ca_certificate_is_accepted_for_its_name_only_and_only_while_valid() {
        let dir = tempfile::tempdir().unwrap();
        let cert = self_signed(dir.path(), "auth.meet.test");
        let other = self_signed(dir.path(), "other.test");
        let file = dir.path().join("auth.meet.test.crt");
        let trust = OperatorTrust::new(Some(&file)).unwrap();
        let now = UnixTime::now();
        // What webpki alone refuses (CaUsedAsEndEntity): trusted as the operator said.
        assert_eq!(verify(&trust, &cert, "auth.meet.test", now), Ok(()));
        let wrong = verify(&trust, &cert, "meet.test", now).unwrap_err();
        assert!(wrong.contains("not valid for meet.test"), "{wrong}");
        let later = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            now.as_secs() + 400 * 24 * 3600,
        ));
        let expired = verify(&trust, &cert, "auth.meet.test", later).unwrap_err();
        assert!(expired.contains("not valid now"), "{expired}");
        // Another self-signed certificate: nothing trusts it; the words name it and the fix.
        let refused = verify(&trust, &other, "other.test", now).unwrap_err();
        assert!(
            refused.contains("CN=other.test")
                && refused.contains("self-signed")
                && refused.contains("SHA-256 ")
                && refused.contains("ca_file = \"/etc/prosody/certs/other.test.crt\"")
                && refused.contains("update-ca-certificates"),
            "{refused}"
        );
        // Without the file, the system's store alone does not hold it (a machine without
        // any store is refused at the start instead).
        if let Ok(system_only) = OperatorTrust::new(None) {
            assert!(verify(&system_only, &cert, "auth.meet.test", now).is_err());
        }
    }

    #[test]
    fn files_without_certificates_are_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("rk-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = client_config_with_ca(&empty).err().unwrap();
        assert!(err.contains("no certificate"), "{err}");
        let err = client_config_with_ca(&dir.join("missing.pem"))
            .err()
            .unwrap();
        assert!(err.contains("cannot read"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
