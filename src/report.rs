//! The report model: plain serde data. The JSON output is this model
//! serialised; the text output is a view of it. Nothing here does I/O.

use crate::codes::Code;
pub use crate::codes::Severity;
use crate::plan::Plan;
pub use crate::plan::{Command, Role};
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
    /// The check's deadline passed before the probe could start.
    NotRun,
    /// mailport itself failed inside the probe (a bug).
    InternalError,
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
        Outcome::NotRun,
        Outcome::InternalError,
    ];

    /// This outcome's row in the codes table.
    pub fn code(self) -> Code {
        match self {
            Outcome::Ok => Code::Ok,
            Outcome::Refused => Code::Refused,
            Outcome::Unreachable => Code::Unreachable,
            Outcome::ConnectTimeout => Code::ConnectTimeout,
            Outcome::Reset => Code::Reset,
            Outcome::Closed => Code::Closed,
            Outcome::GreetingTimeout => Code::GreetingTimeout,
            Outcome::Rejected => Code::Rejected,
            Outcome::ProtocolMismatch => Code::ProtocolMismatch,
            Outcome::StarttlsUnavailable => Code::StarttlsUnavailable,
            Outcome::TlsFailed => Code::TlsFailed,
            Outcome::ReplyTimeout => Code::ReplyTimeout,
            Outcome::BadReply => Code::BadReply,
            Outcome::DnsFailed => Code::DnsFailed,
            Outcome::NotRun => Code::NotRun,
            Outcome::InternalError => Code::InternalError,
        }
    }

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
            Outcome::NotRun => "not_run",
            Outcome::InternalError => "internal_error",
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
    /// How many certificates the server sent, when that is more than the chain keeps (16).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chain_sent: Option<usize>,
}

/// The head of the answer to `GET /` (the body is never read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpFacts {
    /// As in the status line, e.g. `HTTP/1.1`.
    pub version: String,
    pub status: u16,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server: Option<String>,
    /// The Strict-Transport-Security header, as sent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hsts: Option<String>,
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
    /// Capabilities before TLS, escaped as sent: for SMTP the EHLO reply lines,
    /// for IMAP the capability atoms, for POP3 the CAPA lines.
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
    /// IMAP: the greeting was `* PREAUTH`: a session authenticated without credentials.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub preauth: bool,
    /// IMAP: whether LOGINDISABLED was advertised before TLS.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub login_disabled: Option<bool>,
    /// IMAP and POP3: whether the protocol's own plaintext password login
    /// (IMAP LOGIN without LOGINDISABLED, POP3 USER) is offered before TLS.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub login_plain: Option<bool>,
    /// The same, inside TLS.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub login_tls: Option<bool>,
    /// HTTP: what the answer to `GET /` said.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub http: Option<HttpFacts>,
    /// Things worth knowing that are not failures.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub notes: Vec<String>,
}

impl ProbeResult {
    /// What the probed service is for, from the services table.
    pub fn role(&self) -> Option<crate::service::Role> {
        crate::service::by_name(&self.service).map(|s| s.role)
    }

    /// A probe of `service` on `port` that has not run yet: outcome `ok`, nothing recorded.
    pub fn new(
        service: &crate::service::Service,
        port: u16,
        address: Option<IpAddr>,
    ) -> ProbeResult {
        ProbeResult {
            service: service.name.to_string(),
            port,
            protocol: service.protocol,
            tls_mode: service.tls,
            address,
            outcome: Outcome::Ok,
            detail: None,
            failed_phase: None,
            phases: Vec::new(),
            total_ms: 0,
            connect: None,
            peer_protocol: None,
            greeting: None,
            greeting_ms: None,
            greeting_name: None,
            software: None,
            capabilities_plain: Vec::new(),
            capabilities_tls: Vec::new(),
            auth_plain: Vec::new(),
            auth_tls: Vec::new(),
            starttls_offered: None,
            starttls_stripped: false,
            starttls_reply: None,
            tls: None,
            preauth: false,
            login_disabled: None,
            login_plain: None,
            login_tls: None,
            http: None,
            notes: Vec::new(),
        }
    }
}

/// Where the addresses of a target came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionSource {
    /// The host was an address.
    Literal,
    /// --resolve.
    Override,
    Dns,
}

/// How the addresses of a target were found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub source: ResolutionSource,
    pub status: DnsStatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    pub ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    /// The host as the user gave it.
    pub host: String,
    /// The Unicode form of an international host name whose `host` is its ASCII (xn--) form.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub host_unicode: Option<String>,
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
    /// Reverse DNS of the addresses (PTR, forward confirmation) and, for a mail
    /// domain, its MX. Absent for a control host.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dns: Option<TargetDns>,
}

/// How one DNS question was answered. A missing record (`nxdomain`, `no_data`)
/// and a lookup that failed (`timeout`, `servfail`, `refused`, `failed`) mean
/// different things and are reported differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsStatus {
    /// Records of the asked type came back.
    Found,
    /// The name does not exist.
    Nxdomain,
    /// The name exists, without records of the asked type.
    NoData,
    /// No answer in time.
    Timeout,
    /// The server answered SERVFAIL.
    Servfail,
    /// The server answered REFUSED.
    Refused,
    /// Anything else: no server listening, a malformed answer, another response code.
    Failed,
}

impl DnsStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DnsStatus::Found => "found",
            DnsStatus::Nxdomain => "nxdomain",
            DnsStatus::NoData => "no_data",
            DnsStatus::Timeout => "timeout",
            DnsStatus::Servfail => "servfail",
            DnsStatus::Refused => "refused",
            DnsStatus::Failed => "failed",
        }
    }

    /// The answer says the record does not exist (as opposed to: no usable answer).
    pub fn is_negative(self) -> bool {
        matches!(self, DnsStatus::Nxdomain | DnsStatus::NoData)
    }

    /// No usable answer came back: nothing can be concluded about the record.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            DnsStatus::Timeout | DnsStatus::Servfail | DnsStatus::Refused | DnsStatus::Failed
        )
    }
}

/// The DNS side of a target: reverse DNS of each address, and MX facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetDns {
    /// Who answered: `system` (the system's resolver, with the name servers it
    /// uses) or the `--dns-server` address, asked directly.
    pub resolver: String,
    /// One entry per address that was checked, in the order of `addresses`.
    pub reverse: Vec<ReverseDns>,
    /// Addresses whose reverse DNS was not checked, with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub skipped: Vec<SkippedAddress>,
    /// Set when the host was found as an MX host of a mail domain (--mx).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mx_of: Option<MxOf>,
    /// The MX lookup of the host's own name, made when it has no address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mx: Option<MxLookup>,
}

/// Reverse DNS of one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReverseDns {
    pub address: IpAddr,
    /// The name asked for, e.g. `25.2.0.192.in-addr.arpa`.
    pub query: String,
    /// How the PTR question was answered.
    pub status: DnsStatus,
    /// What went wrong, in words, when the status is not `found`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    pub ms: u64,
    /// Each name of the PTR answer with its forward confirmation.
    pub names: Vec<PtrName>,
}

/// One PTR name and whether it resolves back to the address (FCrDNS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtrName {
    /// The name, without the trailing dot.
    pub name: String,
    /// A for an IPv4 address, AAAA for IPv6.
    pub record_type: String,
    /// How the forward question was answered.
    pub status: DnsStatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// The addresses the name resolves to.
    pub addresses: Vec<IpAddr>,
    /// True when `addresses` contains the address: forward-confirmed reverse DNS.
    pub confirmed: bool,
    pub ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedAddress {
    pub address: IpAddr,
    pub reason: String,
}

/// The host is an MX host of this domain, with this preference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MxOf {
    pub domain: String,
    pub preference: u16,
    /// True when the domain has no MX and its own address is used (RFC 5321 5.1).
    #[serde(default)]
    pub implicit: bool,
}

/// The MX records of a mail domain, lowest preference first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MxLookup {
    pub domain: String,
    pub status: DnsStatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    pub ms: u64,
    /// A null MX (RFC 7505) is the exchange `.`.
    pub records: Vec<MxRecord>,
    /// Who answered, as in `TargetDns::resolver`.
    pub resolver: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MxRecord {
    pub preference: u16,
    /// The host name without the trailing dot; `.` for a null MX.
    pub exchange: String,
}

impl MxLookup {
    /// The domain publishes a null MX: it accepts no mail (RFC 7505).
    pub fn is_null(&self) -> bool {
        self.records.iter().any(|r| r.exchange == ".")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: Code,
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
    /// The command that made the report.
    #[serde(default)]
    pub command: Command,
    /// RFC 3339.
    pub started_at: String,
    pub duration_ms: u64,
    /// The MX lookups of the mail domains given with --mx, in the order given.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub domains: Vec<MxLookup>,
    pub targets: Vec<TargetReport>,
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

impl Report {
    /// Put a finished run together. The summary counts the targets' probes
    /// (control hosts are evidence, not subjects) and the findings.
    pub fn assemble(
        plan: &Plan,
        started: time::OffsetDateTime,
        duration: std::time::Duration,
        domains: Vec<MxLookup>,
        targets: Vec<TargetReport>,
        findings: Vec<Finding>,
        exit_code: u8,
    ) -> Report {
        let probes: Vec<&ProbeResult> = targets
            .iter()
            .filter(|t| t.role == Role::Target)
            .flat_map(|t| &t.probes)
            .collect();
        let ok = probes.iter().filter(|p| p.outcome == Outcome::Ok).count();
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        let summary = Summary {
            probes: probes.len(),
            ok,
            not_ok: probes.len() - ok,
            info: count(Severity::Info),
            warn: count(Severity::Warn),
            fail: count(Severity::Fail),
            exit_code,
            fail_on: plan.fail_on,
        };
        Report {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo {
                name: "mailport".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            command: plan.command,
            started_at: started
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            duration_ms: duration.as_millis() as u64,
            domains,
            targets,
            findings,
            summary,
        }
    }

    pub fn probes(&self) -> impl Iterator<Item = (&TargetReport, &ProbeResult)> {
        self.targets
            .iter()
            .flat_map(|t| t.probes.iter().map(move |p| (t, p)))
    }
}
