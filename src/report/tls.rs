//! What a TLS handshake showed: version, cipher, the chain and its verdict,
//! and the versions an old server speaks.

use crate::escape::SafeText;
use serde::{Deserialize, Serialize};

/// The verification verdict for a presented certificate chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertVerdict {
    Valid,
    Expired,
    NotYetValid,
    NameMismatch,
    SelfSigned,
    Untrusted,
    IncompleteChain,
    /// The issuer is neither sent nor trusted, and the certificate does not
    /// say where to fetch it: a missing intermediate or a private CA.
    UnknownIssuer,
    /// Anything else the verifier refused (bad signature, unsupported algorithm, revoked …).
    Invalid,
}

impl CertVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            CertVerdict::Valid => "valid",
            CertVerdict::Expired => "expired",
            CertVerdict::NotYetValid => "not_yet_valid",
            CertVerdict::NameMismatch => "name_mismatch",
            CertVerdict::SelfSigned => "self_signed",
            CertVerdict::Untrusted => "untrusted",
            CertVerdict::IncompleteChain => "incomplete_chain",
            CertVerdict::Invalid => "invalid",
            CertVerdict::UnknownIssuer => "unknown_issuer",
        }
    }
}

/// One certificate as presented by the server. `Default` is the empty
/// certificate: what an unparseable one keeps beside its subject.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertFacts {
    pub subject: SafeText,
    pub issuer: SafeText,
    pub serial: String,
    pub sans: Vec<SafeText>,
    pub not_before: String,
    pub not_after: String,
    /// Whole days until not_after; negative once expired.
    pub days_left: i64,
    /// Whole days from not_before to not_after (CA/B Forum: at most 200 from
    /// March 2026, 100 from March 2027, 47 from March 2029).
    pub lifetime_days: i64,
    pub key_type: String,
    pub key_bits: u32,
    pub signature_algorithm: String,
    pub self_issued: bool,
    pub is_ca: bool,
    /// The serial number is negative (its DER integer's first bit is set),
    /// which RFC 5280 forbids and some clients refuse (Go since 1.23).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub serial_negative: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFacts {
    pub version: String,
    pub cipher_suite: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alpn: Option<SafeText>,
    /// The chain in the order the server sent it, leaf first.
    pub chain: Vec<CertFacts>,
    pub verdict: CertVerdict,
    /// The verifier's own words, when the verdict is not `valid`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub verdict_detail: Option<SafeText>,
    /// The name the certificate was verified against.
    pub verified_name: String,
    /// How many certificates the server sent, when that is more than the chain keeps (16).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chain_sent: Option<usize>,
    /// On the SMTP relay port, the digests of each certificate of `chain`
    /// (in its order), for DANE.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub digests: Vec<super::dane::CertDigests>,
    /// On the SMTP relay port, the chain itself (DER) and the moment it was
    /// judged at, for DANE-TA's signature check; not in the report.
    #[serde(skip)]
    pub presented: Option<super::PresentedChain>,
}

/// Which TLS versions a server speaks, asked after rustls's handshake failed
/// the way a server of only older TLS fails it (a `protocol_version` or
/// `handshake_failure` alert, or a close or reset before any ServerHello):
/// the answer to a ClientHello of mailport's own offering TLS 1.0 to 1.2 and
/// the cipher suites older servers use, never continued past the ServerHello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsVersions {
    pub answer: TlsAnswer,
    /// The version the server chose in its ServerHello, e.g. `TLS 1.0`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<String>,
    /// The cipher suite it chose, by its IANA name (`0x....` when unknown).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cipher_suite: Option<String>,
    /// The alert it sent instead, e.g. `handshake_failure`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alert: Option<String>,
    /// True when the answer came on a second connection; false when the
    /// server had already answered rustls's own ClientHello with an older
    /// version's ServerHello (no second connection was needed).
    pub second_connection: bool,
}

/// What the server did with that ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsAnswer {
    ServerHello,
    Alert,
    Closed,
    Reset,
    Timeout,
    /// Bytes that are not a TLS record.
    NotTls,
    /// A TLS record that does not hold a well-formed ServerHello or alert.
    Malformed,
    /// The second connection (or, on a STARTTLS port, its dialog up to the
    /// server's yes to STARTTLS) did not get that far.
    NoConnection,
}

impl TlsVersions {
    /// The server chose a version older than TLS 1.2 while TLS 1.2 was
    /// offered: it speaks nothing newer.
    pub fn obsolete_only(&self) -> bool {
        self.answer == TlsAnswer::ServerHello
            && matches!(
                self.version.as_deref(),
                Some("SSL 3.0" | "TLS 1.0" | "TLS 1.1")
            )
    }
}
