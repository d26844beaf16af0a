//! TLS with rustls and the ring provider. The verifier records the chain and
//! the real verification verdict, then lets the handshake go on, so a bad
//! certificate is reported with all its details instead of cutting the probe short.

use crate::net::{escape, identify, quote};
use crate::phase::Failure;
use crate::plan::CaFile;
use crate::report::{CertVerdict, Outcome, TlsFacts};
use anyhow::Context as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError,
    PeerIncompatible, RootCertStore, SignatureScheme,
};
use std::io;
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
        })
    }

    /// A connector for one probe, and the verifier that records what it saw.
    pub fn connector(&self, alpn: &[&[u8]]) -> (TlsConnector, Arc<RecordingVerifier>) {
        let recorder = Arc::new(RecordingVerifier {
            inner: self.verifier.clone(),
            provider: self.provider.clone(),
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

/// Build the TLS facts after a completed handshake.
pub fn facts(
    conn: &rustls::ClientConnection,
    seen: Option<Seen>,
    trust: &Trust,
    name: &str,
    now: i64,
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
        verdict_detail,
        verified_name: name.to_string(),
        chain_sent,
    }
}

fn verdict_of(
    err: &TlsError,
    der: &[CertificateDer<'static>],
    chain: &[crate::report::CertFacts],
    trust: &Trust,
    name: &str,
) -> (CertVerdict, String) {
    let leaf = &chain[0];
    // Which certificate of the chain a date belongs to: the leaf, or one above it.
    let which = |date: &str| match chain
        .iter()
        .position(|c| c.not_after == date || c.not_before == date)
    {
        Some(0) | None => "the certificate".to_string(),
        Some(i) => format!("the chain's certificate {} ({})", i, chain[i].subject),
    };
    let days = |secs: i64| match secs.div_euclid(86_400) {
        0 => "less than a day".to_string(),
        1 => "1 day".to_string(),
        d => format!("{d} days"),
    };
    match err {
        TlsError::InvalidCertificate(ce) => match ce {
            CertificateError::ExpiredContext { time, not_after } => {
                let date = crate::cert::rfc3339(not_after.as_secs() as i64);
                let ago = time.as_secs() as i64 - not_after.as_secs() as i64;
                (
                    CertVerdict::Expired,
                    format!("{} expired on {date} ({} ago)", which(&date), days(ago)),
                )
            }
            CertificateError::Expired => (
                CertVerdict::Expired,
                "a certificate of the chain has expired".to_string(),
            ),
            CertificateError::NotValidYetContext { time, not_before } => {
                let date = crate::cert::rfc3339(not_before.as_secs() as i64);
                let until = not_before.as_secs() as i64 - time.as_secs() as i64;
                (
                    CertVerdict::NotYetValid,
                    format!("{} is not valid before {date} (in {})", which(&date), days(until)),
                )
            }
            CertificateError::NotValidYet => (
                CertVerdict::NotYetValid,
                "a certificate of the chain is not valid yet".to_string(),
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                (
                    CertVerdict::NameMismatch,
                    format!(
                        "the certificate is not valid for {name}; it names {}",
                        if leaf.sans.is_empty() {
                            format!("only the subject {}", leaf.subject)
                        } else {
                            leaf.sans.join(", ")
                        }
                    ),
                )
            }
            CertificateError::UnknownIssuer => unknown_issuer(der, chain, trust),
            // webpki's CaUsedAsEndEntity reaches us only inside Other(..): a
            // certificate with CA:TRUE presented as the server's own, which is
            // what `openssl req -x509` makes by default.
            CertificateError::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => (
                if leaf.self_issued {
                    CertVerdict::SelfSigned
                } else {
                    CertVerdict::Invalid
                },
                format!(
                    "the server's certificate ({}) is a CA certificate (basic constraints CA:TRUE), which cannot serve as a server certificate even when trusted; make one without CA:TRUE",
                    leaf.subject
                ),
            ),
            CertificateError::BadSignature => (
                CertVerdict::Invalid,
                "a signature in the chain does not verify".to_string(),
            ),
            CertificateError::BadEncoding => (
                CertVerdict::Invalid,
                "a certificate of the chain is malformed".to_string(),
            ),
            CertificateError::Revoked => (
                CertVerdict::Invalid,
                "a certificate of the chain is revoked".to_string(),
            ),
            CertificateError::UnhandledCriticalExtension => (
                CertVerdict::Invalid,
                "a certificate of the chain has a critical extension no client understands"
                    .to_string(),
            ),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => (
                CertVerdict::Invalid,
                "the certificate is not meant for TLS servers (its extended key usage lacks serverAuth)"
                    .to_string(),
            ),
            other => (
                CertVerdict::Invalid,
                format!("the certificate was refused: {other:?}"),
            ),
        },
        other => (
            CertVerdict::Invalid,
            format!("the certificate was refused: {other}"),
        ),
    }
}

fn unknown_issuer(
    der: &[CertificateDer<'static>],
    chain: &[crate::report::CertFacts],
    trust: &Trust,
) -> (CertVerdict, String) {
    let top_facts = &chain[chain.len() - 1];
    let top = crate::cert::names_der(der[der.len() - 1].as_ref());
    match top {
        Some((subject, issuer)) if subject == issuer && chain.len() == 1 => (
            CertVerdict::SelfSigned,
            format!(
                "the certificate is self-signed ({}) and not in the trust store",
                top_facts.subject
            ),
        ),
        Some((subject, issuer)) if subject == issuer => (
            CertVerdict::Untrusted,
            format!(
                "the chain ends at the root {}, which is not in the trust store (native roots plus --ca-file)",
                top_facts.subject
            ),
        ),
        // A complete chain up to a CA whose root is simply not trusted here
        // (servers rightly leave the root out): untrusted, not incomplete.
        Some((_, issuer)) if chain.len() > 1 && top_facts.is_ca && !trust.anchor_subjects.contains(&issuer) => (
            CertVerdict::Untrusted,
            format!(
                "the chain ends at {}, issued by {}, a root that is not in the trust store (native roots plus --ca-file)",
                top_facts.subject, top_facts.issuer
            ),
        ),
        // The issuer is neither sent nor trusted. A certificate from a public
        // CA says where its issuer can be fetched (AIA caIssuers): then an
        // intermediate is missing. Without that, a private CA looks the same.
        Some((_, issuer)) if !trust.anchor_subjects.contains(&issuer) => {
            match crate::cert::ca_issuers_url(der[der.len() - 1].as_ref()) {
                Some(url) => (
                    CertVerdict::IncompleteChain,
                    format!(
                        "the server did not send the certificate of the issuer {}, which is not a trusted root; the certificate says it can be fetched from {url}: an intermediate certificate is missing from the chain the server sends",
                        top_facts.issuer
                    ),
                ),
                None => (
                    CertVerdict::UnknownIssuer,
                    format!(
                        "the issuer {} is not in your trust store and the server did not send it: either the chain is incomplete or the CA is private (then pass it with --ca-file)",
                        top_facts.issuer
                    ),
                ),
            }
        }
        _ => (
            CertVerdict::Untrusted,
            format!(
                "no chain to a trusted root could be built from the certificates sent (issuer {})",
                top_facts.issuer
            ),
        ),
    }
}

/// The failure of a server that asked for a client certificate, got none
/// and ended the session: `how` it ended (an alert, a close).
pub fn client_cert_required(how: &str) -> Failure {
    Failure::new(
        Outcome::TlsFailed,
        format!(
            "the server requires a client certificate: it asked for one in the TLS handshake, mailport sends none, and the server then {how}"
        ),
    )
}

/// Classify a failed handshake. `sniffed` holds the first bytes the server
/// sent; `cert_asked`: the server asked for a client certificate.
pub fn handshake_failure(e: &io::Error, sniffed: &[u8], cert_asked: bool) -> Failure {
    if cert_asked {
        let tls = e.get_ref().and_then(|i| i.downcast_ref::<TlsError>());
        match (tls, e.kind()) {
            (Some(TlsError::AlertReceived(alert)), _) => {
                return client_cert_required(&format!(
                    "ended the handshake with a {} alert",
                    alert_name(*alert)
                ))
            }
            (None, io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe) => {
                return client_cert_required("closed the connection")
            }
            (None, io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted) => {
                return client_cert_required("reset the connection")
            }
            _ => {}
        }
    }
    let f = not_tls_or_failed(e, sniffed);
    match f.outcome {
        // What the server said instead of TLS, for a caller that quotes it.
        Outcome::ProtocolMismatch if !sniffed.is_empty() => f.with_reply(quote(sniffed, 120)),
        // TLS records, then text: a server that gave up on TLS (an alert) and
        // then said why in plaintext (Courier: "-ERR STARTTLS failed: ...
        // couriertls: ...pem: No such file or directory").
        _ => match text_after_tls_records(sniffed) {
            Some(text) => f.with_reply(quote(text, 160)),
            None => f,
        },
    }
}

/// The bytes after the complete TLS records that start `bytes`, when there
/// is at least one record and what follows is printable text.
fn text_after_tls_records(bytes: &[u8]) -> Option<&[u8]> {
    let mut rest = bytes;
    let mut records = 0;
    while let [0x14..=0x17, 0x03, _, hi, lo, ..] = rest {
        let len = 5 + usize::from(u16::from_be_bytes([*hi, *lo]));
        if rest.len() < len {
            return None;
        }
        rest = &rest[len..];
        records += 1;
    }
    let printable = rest
        .iter()
        .take(16)
        .all(|b| b.is_ascii_graphic() || matches!(b, b' ' | b'\r' | b'\n' | b'\t'));
    (records > 0 && !rest.is_empty() && printable).then_some(rest)
}

fn not_tls_or_failed(e: &io::Error, sniffed: &[u8]) -> Failure {
    let peer = identify(sniffed);
    let first_line = || quote(sniffed, 120);
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<TlsError>()) {
        return match tls {
            TlsError::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge) => {
                Failure::new(
                    Outcome::TlsFailed,
                    "the server sent a handshake message larger than TLS allows (64 KiB): most often a certificate chain with a huge list of names",
                )
            }
            TlsError::InvalidMessage(_) | TlsError::InappropriateMessage { .. } => match peer {
                Some(p) if p != "tls" => Failure::mismatch(
                    p,
                    format!(
                        "the port does not speak TLS: it answered the TLS handshake in {} (\"{}\")",
                        p.to_uppercase(),
                        first_line()
                    ),
                ),
                _ if sniffed.is_empty() || peer == Some("tls") => Failure::new(
                    Outcome::TlsFailed,
                    format!("the TLS handshake failed: {tls}"),
                ),
                _ => Failure::mismatch(
                    "unknown",
                    format!(
                        "the port does not speak TLS: it answered the TLS handshake with \"{}\"",
                        first_line()
                    ),
                ),
            },
            TlsError::AlertReceived(alert) => Failure::new(Outcome::TlsFailed, alert_words(*alert)),
            TlsError::PeerIncompatible(p) => {
                Failure::new(Outcome::TlsFailed, incompatible_words(p))
            }
            other => Failure::new(
                Outcome::TlsFailed,
                format!("the TLS handshake failed: {other}"),
            ),
        };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => match peer {
            Some(p) if p != "tls" => Failure::mismatch(
                p,
                format!(
                    "the port does not speak TLS: it sent {} (\"{}\") and closed",
                    p.to_uppercase(),
                    first_line()
                ),
            ),
            None if !sniffed.is_empty() => Failure::mismatch(
                "unknown",
                format!(
                    "the port does not speak TLS: it sent \"{}\" and closed",
                    first_line()
                ),
            ),
            _ => Failure::new(
                Outcome::TlsFailed,
                "the server closed the connection during the TLS handshake",
            ),
        },
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Failure::new(
            Outcome::Reset,
            "the server reset the connection during the TLS handshake",
        ),
        _ => Failure::new(Outcome::TlsFailed, format!("the TLS handshake failed: {e}")),
    }
}

/// An alert as the TLS RFCs write it: `certificate_required`.
pub fn alert_name(alert: AlertDescription) -> String {
    snake_case(&format!("{alert:?}"))
}

/// rustls's names (`CertificateRequired`) as the TLS RFCs write them.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn alert_words(alert: AlertDescription) -> String {
    match alert {
        AlertDescription::HandshakeFailure => "the server refused the handshake (handshake_failure alert): no TLS version or cipher suite in common; the server may offer only obsolete TLS 1.0/1.1 or weak ciphers".to_string(),
        AlertDescription::ProtocolVersion => "the server refused every TLS version we offer (protocol_version alert): it supports only TLS older than 1.2".to_string(),
        AlertDescription::UnrecognisedName => "the server has no certificate for the name we sent in SNI (unrecognized_name alert)".to_string(),
        AlertDescription::InternalError => "the server failed inside its TLS stack (internal_error alert): check its certificate and key configuration".to_string(),
        other => format!("the server ended the handshake with a {other:?} alert"),
    }
}

fn incompatible_words(p: &PeerIncompatible) -> String {
    match p {
        PeerIncompatible::ServerDoesNotSupportTls12Or13 => {
            "the server speaks only TLS older than 1.2, which is obsolete and refused".to_string()
        }
        PeerIncompatible::NoCipherSuitesInCommon => {
            "no cipher suite in common: the server offers only obsolete or weak ciphers".to_string()
        }
        other => format!("the server's TLS is incompatible: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_after_an_alert_is_the_servers_words() {
        let courier = b"\x15\x03\x03\x00\x02\x01\x00-ERR STARTTLS failed: couriertls: x.pem: No such file or directory\n";
        assert!(text_after_tls_records(courier)
            .unwrap()
            .starts_with(b"-ERR STARTTLS failed"));
        // Only records, records cut short, or no record at all: nothing to quote.
        assert_eq!(
            text_after_tls_records(b"\x15\x03\x03\x00\x02\x01\x00"),
            None
        );
        assert_eq!(text_after_tls_records(b"\x16\x03\x03\x40\x00\x02"), None);
        assert_eq!(text_after_tls_records(b"-ERR no"), None);
        assert_eq!(
            text_after_tls_records(b"\x15\x03\x03\x00\x02\x01\x00\x00\xff\x17"),
            None
        );
    }
}
