//! The rustls client config for `https://` URLs: the webpki roots, or only the CAs of the
//! `ca_file`, and a hint for a certificate the server sent that those roots do not trust.

use std::path::Path;
use std::sync::Arc;

use evhost_sdk::Error;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// The config for `ca_file` (already resolved), or the webpki roots without one.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, Error> {
    let roots = match ca_file {
        None => RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
        Some(path) => ca_roots(path)?,
    };
    // The provider named, not the process default: the host may load other Rust plugins
    // whose rustls picked a different one.
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Every certificate of the PEM file at `path`, each one a trust anchor.
fn ca_roots(path: &Path) -> Result<RootCertStore, Error> {
    let shown = path.display();
    let fix = "set `ca_file` to a PEM file with the CA's certificate (-----BEGIN CERTIFICATE-----)";
    let bad = |what: String| Error::config(format!("`ca_file` {shown}: {what}; {fix}"));
    let text = std::fs::read(path).map_err(|e| bad(format!("cannot read it ({e})")))?;
    pem_roots(&text).map_err(bad)
}

/// The certificates of a PEM text, or what is wrong with it.
fn pem_roots(text: &[u8]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for (k, cert) in CertificateDer::pem_slice_iter(text).enumerate() {
        let cert = cert.map_err(|e| format!("not valid PEM ({e})"))?;
        roots.add(cert).map_err(|e| format!("certificate {} is not a usable CA certificate ({e})", k + 1))?;
    }
    if roots.is_empty() {
        return Err("it holds no certificate".to_owned());
    }
    Ok(roots)
}

/// What to do about a request that failed because the server's certificate was refused,
/// or `None` when `error` is something else.
pub fn certificate_hint(error: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    let mut next = Some(error);
    while let Some(error) = next {
        // ureq wraps the handshake's rustls error in an io::Error, whose `source` skips it.
        let tls = error
            .downcast_ref::<rustls::Error>()
            .or_else(|| error.downcast_ref::<std::io::Error>()?.get_ref()?.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(_)) = tls {
            return Some(
                "the server's TLS certificate was refused; if a private CA issued it, set `ca_file` to that CA's PEM file",
            );
        }
        next = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(body: &str) -> String {
        format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
    }

    #[test]
    fn bad_pem_is_explained() {
        assert_eq!(pem_roots(b"hello").unwrap_err(), "it holds no certificate");
        let key_only = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert_eq!(pem_roots(key_only.as_bytes()).unwrap_err(), "it holds no certificate");
        let error = pem_roots(pem("not base64!").as_bytes()).unwrap_err();
        assert!(error.starts_with("not valid PEM ("), "{error}");
        let error = pem_roots(pem("AAAA").as_bytes()).unwrap_err();
        assert!(error.starts_with("certificate 1 is not a usable CA certificate ("), "{error}");
        let error = pem_roots("-----BEGIN CERTIFICATE-----\nAAAA\n".as_bytes()).unwrap_err();
        assert!(error.starts_with("not valid PEM ("), "{error}");
    }
}
