//! The report model: plain serde data. The JSON output is this model
//! serialised; the text output is a view of it. Nothing here does I/O.

use crate::service::{Protocol, TlsMode};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Bumped when a field is removed or changes meaning; adding fields does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// What happened to one probe, decided by the first phase that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Refused,
    Unreachable,
    ConnectTimeout,
    Reset,
    Closed,
    GreetingTimeout,
    Rejected,
    ProtocolMismatch,
    StarttlsUnavailable,
    TlsFailed,
    ReplyTimeout,
    BadReply,
    DnsFailed,
}

impl Outcome {
    pub const ALL: &'static [Outcome] = &[
        Outcome::Ok,
        Outcome::Refused,
        Outcome::Unreachable,
        Outcome::ConnectTimeout,
        Outcome::Reset,
        Outcome::Closed,
        Outcome::GreetingTimeout,
        Outcome::Rejected,
        Outcome::ProtocolMismatch,
        Outcome::StarttlsUnavailable,
        Outcome::TlsFailed,
        Outcome::ReplyTimeout,
        Outcome::BadReply,
        Outcome::DnsFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Unreachable => "unreachable",
            Outcome::ConnectTimeout => "connect_timeout",
            Outcome::Reset => "reset",
            Outcome::Closed => "closed",
            Outcome::GreetingTimeout => "greeting_timeout",
            Outcome::Rejected => "rejected",
            Outcome::ProtocolMismatch => "protocol_mismatch",
            Outcome::StarttlsUnavailable => "starttls_unavailable",
            Outcome::TlsFailed => "tls_failed",
            Outcome::ReplyTimeout => "reply_timeout",
            Outcome::BadReply => "bad_reply",
            Outcome::DnsFailed => "dns_failed",
        }
    }
}

/// A step of a probe's dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Connect,
    TlsHandshake,
    Greeting,
    Capabilities,
    Starttls,
    CapabilitiesTls,
    HttpRequest,
    Quit,
    /// A second connection, made after a silent greeting, that checks whether the port speaks TLS.
    TlsSniff,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Connect => "connect",
            Phase::TlsHandshake => "tls_handshake",
            Phase::Greeting => "greeting",
            Phase::Capabilities => "capabilities",
            Phase::Starttls => "starttls",
            Phase::CapabilitiesTls => "capabilities_tls",
            Phase::HttpRequest => "http_request",
            Phase::Quit => "quit",
            Phase::TlsSniff => "tls_sniff",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseRecord {
    pub phase: Phase,
    pub ms: u64,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// How a connect attempt ended at the socket level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectFacts {
    /// The local address the kernel chose for the connection, when it connected.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub local_addr: Option<String>,
    /// `timeout` (our deadline passed, the SYN was never answered), or the errno's name
    /// (`ECONNREFUSED`, `EHOSTUNREACH`, …), or `connected`.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub errno: Option<i32>,
    pub ms: u64,
}

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
        }
    }
}

/// One certificate as presented by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertFacts {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub sans: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    /// Whole days until not_after; negative once expired.
    pub days_left: i64,
    pub key_type: String,
    pub key_bits: u32,
    pub signature_algorithm: String,
    pub self_issued: bool,
    pub is_ca: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFacts {
    pub version: String,
    pub cipher_suite: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alpn: Option<String>,
    /// The chain in the order the server sent it, leaf first.
    pub chain: Vec<CertFacts>,
    pub verdict: CertVerdict,
    /// The verifier's own words, when the verdict is not `valid`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub verdict_detail: Option<String>,
    /// The name the certificate was verified against.
    pub verified_name: String,
}

/// One probe: one service on one port of one address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub service: String,
    pub port: u16,
    pub protocol: Protocol,
    pub tls_mode: TlsMode,
    /// The address probed; null when the host name did not resolve.
    pub address: Option<IpAddr>,
    pub outcome: Outcome,
    /// What went wrong, in words, when the outcome is not `ok`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failed_phase: Option<Phase>,
    pub phases: Vec<PhaseRecord>,
    pub total_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub connect: Option<ConnectFacts>,
    /// The protocol the port was seen to speak, when it was not the expected one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub peer_protocol: Option<String>,
    /// The greeting as sent (all lines), escaped for display.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub greeting: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub greeting_ms: Option<u64>,
    /// The host name the server announced in its greeting.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub greeting_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub software: Option<String>,
    /// Capability lines before TLS, raw as sent (for SMTP: the EHLO reply lines).
    pub capabilities_plain: Vec<String>,
    /// Capability lines after TLS.
    pub capabilities_tls: Vec<String>,
    pub auth_plain: Vec<String>,
    pub auth_tls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub starttls_offered: Option<bool>,
    /// True when the capability list shows STARTTLS masked by a middlebox (e.g. `XXXXXXXA`).
    #[serde(default)]
    pub starttls_stripped: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub starttls_reply: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tls: Option<TlsFacts>,
    /// Things worth knowing that are not failures.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub notes: Vec<String>,
}

/// How the addresses of a target were found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// `literal` (the host was an address), `override` (--resolve) or `dns`.
    pub source: String,
    /// One of found, nxdomain, no_data, timeout, servfail, refused, failed.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    pub ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    /// The host as the user gave it.
    pub host: String,
    /// `target`, or `control`: a reference host probed on the same ports (--control).
    #[serde(default)]
    pub role: Role,
    /// The name certificates are verified against.
    pub tls_name: String,
    pub addresses: Vec<IpAddr>,
    pub resolution: Resolution,
    /// The addresses among `addresses` that belong to this machine (loopback or a local interface).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub local_addresses: Vec<IpAddr>,
    pub probes: Vec<ProbeResult>,
}

/// Why a host is in the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A host the user asked to check.
    #[default]
    Target,
    /// A reference host probed on the same ports, to tell a block on this side from one at the server.
    Control,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warn,
    Fail,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: String,
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub address: Option<IpAddr>,
    pub message: String,
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub probes: usize,
    pub ok: usize,
    pub not_ok: usize,
    pub info: usize,
    pub warn: usize,
    pub fail: usize,
    /// The exit status this report leads to (0, 1).
    pub exit_code: u8,
    pub fail_on: Severity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: ToolInfo,
    /// RFC 3339.
    pub started_at: String,
    pub duration_ms: u64,
    pub targets: Vec<TargetReport>,
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

impl Report {
    pub fn probes(&self) -> impl Iterator<Item = (&TargetReport, &ProbeResult)> {
        self.targets
            .iter()
            .flat_map(|t| t.probes.iter().map(move |p| (t, p)))
    }
}
