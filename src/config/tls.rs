//! TLS material: PEM certificate chains and keys → rustls server and client configurations.
//!
//! Owns loading and checking certificate files at config time, so a bad cert fails
//! `check-config` rather than the first handshake.
//! Must not: fall back to plaintext, or skip server-certificate verification for upstreams.
//! Invariant: a returned server config advertises ALPN h2 and http/1.1.

use super::raw::RawTls;
use super::Problems;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(p: &mut Problems<'_>, key: &str, file: &str) -> Option<Vec<CertificateDer<'static>>> {
    let path = p.file_path(key, file, true);
    if !path.is_file() {
        return None;
    }
    match CertificateDer::pem_file_iter(&path).and_then(|it| it.collect::<Result<Vec<_>, _>>()) {
        Ok(c) if !c.is_empty() => Some(c),
        Ok(_) => {
            p.add(key, format!("{} holds no PEM certificate", path.display()));
            None
        }
        Err(e) => {
            p.add(key, format!("{}: {e}", path.display()));
            None
        }
    }
}

pub(super) fn server_config(
    p: &mut Problems<'_>,
    key: &str,
    t: &RawTls,
) -> Option<Arc<rustls::ServerConfig>> {
    let chain = certs(p, &format!("{key}.cert"), &t.cert);
    let key_path = p.file_path(&format!("{key}.key"), &t.key, true);
    let pk = if key_path.is_file() {
        PrivateKeyDer::from_pem_file(&key_path)
            .map_err(|e| {
                p.add(
                    &format!("{key}.key"),
                    format!("{}: no usable private key: {e}", key_path.display()),
                )
            })
            .ok()
    } else {
        None
    };
    let (chain, pk) = (chain?, pk?);
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| p.add(key, e.to_string()))
        .ok()?;
    match builder.with_no_client_auth().with_single_cert(chain, pk) {
        Ok(mut c) => {
            c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Some(Arc::new(c))
        }
        Err(e) => {
            p.add(
                key,
                format!("certificate and key do not form a usable pair: {e}"),
            );
            None
        }
    }
}

pub(crate) fn client_config(
    p: &mut Problems<'_>,
    key: &str,
    ca_file: Option<&str>,
) -> Option<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(f) => {
            for c in certs(p, key, f)? {
                if let Err(e) = roots.add(c) {
                    p.add(key, format!("not a usable CA certificate: {e}"));
                    return None;
                }
            }
        }
    }
    let c = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| p.add(key, e.to_string()))
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // ALPN for upstreams is set by the connector from the HTTP versions it enables.
    Some(Arc::new(c))
}
