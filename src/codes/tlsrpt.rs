//! RFC 8460's words for a failed TLS delivery, one per code that is one.

use serde::{Deserialize, Serialize};

/// RFC 8460's result types (section 4.3, and the IANA registry "STARTTLS
/// Validation Result Types"): the words a TLS-RPT report uses for a failed
/// delivery attempt. A code that means one of them carries it, so that
/// mailport's findings can be joined with the TLS-RPT reports a domain
/// receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsRptResult {
    /// The MX did not offer STARTTLS (or it could not be used).
    StarttlsNotSupported,
    /// The certificate does not name the MX host.
    CertificateHostMismatch,
    CertificateExpired,
    /// The certificate does not chain to a trusted root.
    CertificateNotTrusted,
    /// Any other failure to negotiate or validate TLS.
    ValidationFailure,
    /// DANE: no usable TLSA record matches, or the TLSA records are invalid.
    TlsaInvalid,
    /// DANE: the TLSA records could not be validated with DNSSEC.
    DnssecInvalid,
    /// DANE: TLSA records are required but none could be used.
    DaneRequired,
    /// MTA-STS: the policy could not be fetched.
    StsPolicyFetchError,
    /// MTA-STS: the policy (or its TXT record) is malformed.
    StsPolicyInvalid,
    /// MTA-STS: the policy host's certificate failed WebPKI validation.
    StsWebpkiInvalid,
}

impl TlsRptResult {
    /// The result type as RFC 8460 writes it (kebab-case).
    pub fn as_str(self) -> &'static str {
        match self {
            TlsRptResult::StarttlsNotSupported => "starttls-not-supported",
            TlsRptResult::CertificateHostMismatch => "certificate-host-mismatch",
            TlsRptResult::CertificateExpired => "certificate-expired",
            TlsRptResult::CertificateNotTrusted => "certificate-not-trusted",
            TlsRptResult::ValidationFailure => "validation-failure",
            TlsRptResult::TlsaInvalid => "tlsa-invalid",
            TlsRptResult::DnssecInvalid => "dnssec-invalid",
            TlsRptResult::DaneRequired => "dane-required",
            TlsRptResult::StsPolicyFetchError => "sts-policy-fetch-error",
            TlsRptResult::StsPolicyInvalid => "sts-policy-invalid",
            TlsRptResult::StsWebpkiInvalid => "sts-webpki-invalid",
        }
    }
}
