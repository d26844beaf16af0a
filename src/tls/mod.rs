//! TLS with rustls and the ring provider. The verifier records the chain and
//! the real verification verdict, then lets the handshake go on, so a bad
//! certificate is reported with all its details instead of cutting the probe short.

mod failure;
mod verdict;

pub use failure::{alert_name, client_cert_required, handshake_failure, snake_case};
use verdict::verdict_of;

use crate::net::escape;
use crate::plan::CaFile;
use crate::report::{CertVerdict, TlsFacts};
use anyhow::Context as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError, RootCertStore,
    SignatureScheme,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio_rustls::TlsConnector;

/// Most certificates of a chain that are parsed and reported.
pub const MAX_CHAIN: usize = 16;

/// The trust anchors a check verifies against: native roots plus `--ca-file`.
pub struct Trust {
    provider: Arc<CryptoProvider>,
    /// A client config builder with the provider and its protocol versions
    /// checked once, here, rather than at every probe.
    builder: rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>,
    /// None when there is no trust anchor at all: every chain is then untrusted.
    verifier: Option<Arc<WebPkiServerVerifier>>,
    /// DER subjects of the anchors, to tell an untrusted root from a missing intermediate.
    anchor_subjects: Vec<Vec<u8>>,
    pub native_roots: usize,
    pub extra_roots: usize,
    /// --at: certificates are verified, and their days left counted, as of
    /// this UNIX time instead of now.
    at: Option<i64>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("native_roots", &self.native_roots)
            .field("extra_roots", &self.extra_roots)
            .finish()
    }
}

impl Trust {
    /// The system's roots and the --ca-file certificates (already read by the plan).
    pub fn load(ca: Option<&CaFile>) -> anyhow::Result<Trust> {
        Trust::load_at(ca, None)
    }

    /// [`Trust::load`], verifying as of the UNIX time `at` (--at) instead of now.
    pub fn load_at(ca: Option<&CaFile>, at: Option<i64>) -> anyhow::Result<Trust> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (native_roots, _) = roots.add_parsable_certificates(native.certs);
        let mut extra_roots = 0;
        if let Some(ca) = ca {
            for cert in &ca.certs {
                roots.add(cert.clone()).with_context(|| {
                    format!(
                        "--ca-file {}: a certificate is not a usable trust anchor",
                        ca.path.display()
                    )
                })?;
                extra_roots += 1;
            }
        }
        let anchor_subjects = roots
            .roots
            .iter()
            .map(|a| a.subject.as_ref().to_vec())
            .collect();
        let verifier = if roots.is_empty() {
            None
        } else {
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .context("cannot build the certificate verifier")?,
            )
        };
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("the TLS provider lacks the default protocol versions")?;
        Ok(Trust {
            provider,
            builder,
            verifier,
            anchor_subjects,
            native_roots,
            extra_roots,
            at,
        })
    }

    /// The moment certificates are judged at, in UNIX seconds: --at, or now.
    pub fn now(&self) -> i64 {
        self.at
            .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp())
    }

    /// A connector for one probe, and the verifier that records what it saw.
    pub fn connector(&self, alpn: &[&[u8]]) -> (TlsConnector, Arc<RecordingVerifier>) {
        let recorder = Arc::new(RecordingVerifier {
            inner: self.verifier.clone(),
            provider: self.provider.clone(),
            at: self
                .at
                .and_then(|t| u64::try_from(t).ok())
                .map(|s| UnixTime::since_unix_epoch(std::time::Duration::from_secs(s))),
            seen: Mutex::new(None),
            client_cert_asked: AtomicBool::new(false),
        });
        let mut config = self
            .builder
            .clone()
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_client_cert_resolver(Arc::new(NoClientCert(recorder.clone())));
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        // A config serves one connection: no session to resume (each
        // handshake is a full one, its certificate verified), and none of
        // the default session cache's memory held while it lasts.
        config.resumption = rustls::client::Resumption::disabled();
        (TlsConnector::from(Arc::new(config)), recorder)
    }
}

/// What the verifier saw: the chain as presented and the verification result.
pub struct Seen {
    pub chain: Vec<CertificateDer<'static>>,
    /// How many certificates the server sent (the chain keeps at most MAX_CHAIN).
    pub sent: usize,
    pub result: Result<(), TlsError>,
}

/// Records the chain and the real verdict, and never fails the handshake on the verdict.
pub struct RecordingVerifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    /// --at: the moment the chain is verified at, instead of the handshake's.
    at: Option<UnixTime>,
    seen: Mutex<Option<Seen>>,
    /// The server sent a CertificateRequest (mailport never sends a certificate).
    client_cert_asked: AtomicBool,
}

/// Sends no client certificate, and notes that the server asked for one:
/// rustls asks the resolver exactly when a CertificateRequest came.
#[derive(Debug)]
struct NoClientCert(Arc<RecordingVerifier>);

impl ResolvesClientCert for NoClientCert {
    fn resolve(
        &self,
        _: &[&[u8]],
        _: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.client_cert_asked.store(true, Ordering::Relaxed);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

impl std::fmt::Debug for RecordingVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordingVerifier")
    }
}

impl RecordingVerifier {
    pub fn take(&self) -> Option<Seen> {
        self.seen.lock().ok().and_then(|mut s| s.take())
    }

    /// Whether the server asked for a client certificate (mailport sent none).
    pub fn client_cert_asked(&self) -> bool {
        self.client_cert_asked.load(Ordering::Relaxed)
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let now = self.at.unwrap_or(now);
        let result = match &self.inner {
            Some(inner) => inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
                .map(|_| ()),
            None => Err(TlsError::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        };
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(
            intermediates
                .iter()
                .take(MAX_CHAIN - 1)
                .map(|c| c.clone().into_owned()),
        );
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(Seen {
                chain,
                sent: intermediates.len() + 1,
                result,
            });
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The name to send in SNI and verify against: a DNS name or an IP address.
pub fn server_name(name: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(name.to_string())
        .map_err(|_| format!("'{name}' is not a valid name to verify a certificate against"))
}

/// Build the TLS facts after a completed handshake; `digests`: keep each
/// certificate's digests too (the SMTP relay port, for DANE).
pub fn facts(
    conn: &rustls::ClientConnection,
    seen: Option<Seen>,
    trust: &Trust,
    name: &str,
    now: i64,
    digests: bool,
) -> TlsFacts {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_string(),
    };
    let cipher_suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_else(|| "unknown".to_string());
    let alpn = conn.alpn_protocol().map(escape);
    let chain_sent = seen.as_ref().map(|s| s.sent).filter(|&n| n > MAX_CHAIN);
    let presented = match &seen {
        Some(seen) if digests => Some(crate::report::PresentedChain {
            certs: seen.chain.clone(),
            at: now,
        }),
        _ => None,
    };
    let digests = match &seen {
        Some(seen) if digests => seen
            .chain
            .iter()
            .map(|c| crate::cert::digests(c.as_ref()))
            .collect(),
        _ => Vec::new(),
    };
    let (chain, verdict, verdict_detail) = match seen {
        Some(seen) => {
            let chain: Vec<_> = seen
                .chain
                .iter()
                .map(|c| crate::cert::facts(c.as_ref(), now))
                .collect();
            let (verdict, detail) = match &seen.result {
                Ok(()) => (CertVerdict::Valid, None),
                Err(e) => {
                    let (v, d) = verdict_of(e, &seen.chain, &chain, trust, name);
                    (v, Some(d))
                }
            };
            (chain, verdict, detail)
        }
        None => (
            Vec::new(),
            CertVerdict::Invalid,
            Some("the server presented no certificate".to_string()),
        ),
    };
    TlsFacts {
        version,
        cipher_suite,
        alpn,
        chain,
        verdict,
        // rustls's words quote the certificate's names: escaped as a whole.
        verdict_detail: verdict_detail.map(|d| crate::escape::escape_str(&d)),
        verified_name: name.to_string(),
        chain_sent,
        digests,
        presented,
    }
}
