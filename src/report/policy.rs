//! A mail domain's promises about TLS, as found: its MTA-STS record and
//! policy (RFC 8461), its TLS-RPT record (RFC 8460), and its DANE records
//! (RFC 7672). Filled by `policy/` (the lookups and the HTTPS fetch), judged
//! by `diagnose/policy.rs` against what each MX address served on port 25.
//! Every text here came from outside and is escaped before it is stored.

use super::{Dane, DnsStatus};
use crate::escape::SafeText;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What `mailport policy DOMAIN` (and `check --mx`) found about a mail
/// domain's TLS promises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainPolicy {
    pub mta_sts: MtaSts,
    pub tls_rpt: TlsRpt,
    /// DANE: the TLSA records of each MX host and how its addresses matched
    /// them (`dane.rs`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dane: Option<Dane>,
}

/// One TXT lookup: its answer's strings (each record's character-strings
/// joined, escaped), or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxtLookup {
    /// The name asked, e.g. `_mta-sts.example.org`.
    pub name: String,
    pub status: DnsStatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<SafeText>,
    pub ms: u64,
    /// Each TXT record, its strings joined, escaped; at most 16, each cut at 1024 bytes.
    pub records: Vec<SafeText>,
}

/// MTA-STS (RFC 8461): the `_mta-sts` TXT record, the policy fetched over
/// HTTPS as a sender fetches it, and each MX host matched against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtaSts {
    pub txt: TxtLookup,
    /// The `id` of the one `v=STSv1` record, when there is exactly one valid one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    /// What is wrong with the TXT record(s), in words (two STSv1 records, a bad id...).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub txt_errors: Vec<String>,
    /// The policy's fetch, made when the one `v=STSv1` TXT record is valid.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fetch: Option<PolicyFetch>,
    /// The policy as parsed, when the fetch returned one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub policy: Option<StsPolicy>,
    /// Each MX host of the domain against the policy's `mx` patterns.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub mx: Vec<StsMxMatch>,
}

impl MtaSts {
    /// The domain publishes MTA-STS: a `v=STSv1` TXT record exists (valid or not).
    pub fn published(&self) -> bool {
        self.txt.records.iter().any(|r| is_version(r, "STSv1"))
    }
}

/// How the fetch of `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchOutcome {
    /// A 200 with `text/plain` within the size limit.
    Ok,
    /// `mta-sts.DOMAIN` has no address.
    DnsFailed,
    /// No TCP connection (refused, timed out, unreachable).
    ConnectFailed,
    /// The certificate is not valid for `mta-sts.DOMAIN` (WebPKI).
    CertificateInvalid,
    /// The TLS handshake failed for another reason.
    TlsFailed,
    /// A 3xx: RFC 8461 forbids following redirects.
    Redirect,
    /// Another status than 200.
    HttpStatus,
    /// The Content-Type is not `text/plain`.
    ContentType,
    /// The body is larger than the limit (64 KiB).
    TooLarge,
    /// No complete answer in time.
    Timeout,
    /// The answer is not HTTP/1.x as it should be.
    BadResponse,
}

impl FetchOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            FetchOutcome::Ok => "ok",
            FetchOutcome::DnsFailed => "dns_failed",
            FetchOutcome::ConnectFailed => "connect_failed",
            FetchOutcome::CertificateInvalid => "certificate_invalid",
            FetchOutcome::TlsFailed => "tls_failed",
            FetchOutcome::Redirect => "redirect",
            FetchOutcome::HttpStatus => "http_status",
            FetchOutcome::ContentType => "content_type",
            FetchOutcome::TooLarge => "too_large",
            FetchOutcome::Timeout => "timeout",
            FetchOutcome::BadResponse => "bad_response",
        }
    }
}

/// The HTTPS fetch of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFetch {
    pub url: String,
    pub outcome: FetchOutcome,
    /// What went wrong, in words (escaped), when the outcome is not ok.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// The address the policy was fetched from.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub address: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_type: Option<String>,
    /// The Location of a redirect (not followed).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    /// Bytes of body read.
    pub bytes: u64,
    pub ms: u64,
}

/// An MTA-STS policy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StsMode {
    Enforce,
    Testing,
    None,
}

impl StsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StsMode::Enforce => "enforce",
            StsMode::Testing => "testing",
            StsMode::None => "none",
        }
    }
}

/// The policy file, as parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsPolicy {
    /// The mode, when it is one of the three.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mode: Option<StsMode>,
    /// The `mx` patterns, escaped, in order.
    pub mx: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_age: Option<u64>,
    /// What breaks RFC 8461's syntax, in words; the policy is invalid if any.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<String>,
}

/// One MX host against the policy's patterns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsMxMatch {
    pub mx: String,
    /// The first pattern that covers it; absent: not covered.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pattern: Option<String>,
}

/// TLS-RPT (RFC 8460): the `_smtp._tls` TXT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsRpt {
    pub txt: TxtLookup,
    /// The report addresses (`mailto:` or `https:` URIs) of the one valid record.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub rua: Vec<String>,
    /// What is wrong with the record(s), in words.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<String>,
}

impl TlsRpt {
    /// A `v=TLSRPTv1` record exists (valid or not).
    pub fn published(&self) -> bool {
        self.txt.records.iter().any(|r| is_version(r, "TLSRPTv1"))
    }
}

/// A TXT record whose first field is `v=VERSION` (RFC 8461 and 8460 both
/// say a record that does not start so is not theirs).
pub fn is_version(record: &str, version: &str) -> bool {
    let first = record.split(';').next().unwrap_or("").trim();
    first
        .split_once('=')
        .is_some_and(|(k, v)| k.trim() == "v" && v.trim() == version)
}
