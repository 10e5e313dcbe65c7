//! TLS client settings that trust the system's roots plus the certificates in an
//! operator's CA file: universities often run Prosody and their directory with
//! certificates from an internal CA. One rustls (0.23) serves tokio-xmpp, ldap3 and us.

use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
pub use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::RootCertStore;

/// The system's roots and every certificate in the PEM file `ca_file`; an error names
/// the file and what is wrong with it (unreadable, no certificate, not a CA).
pub fn client_config_with_ca(ca_file: &Path) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let mut added = 0;
    for cert in CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| format!("cannot read {}: {e}", ca_file.display()))?
    {
        let cert = cert.map_err(|e| format!("{}: {e}", ca_file.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: not a CA certificate: {e}", ca_file.display()))?;
        added += 1;
    }
    if added == 0 {
        return Err(format!("{}: no certificate in it", ca_file.display()));
    }
    Ok(ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
