//! What one probe found: its outcome, phases, and the facts of the dialog.

use crate::codes::Code;
use crate::service::{Protocol, TlsMode};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

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
    /// The server turned the connection away because it limits the
    /// connections of one client, even when the probe was retried alone.
    ConnectionLimited,
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
        Outcome::ConnectionLimited,
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
            Outcome::ConnectionLimited => Code::ConnectionLimited,
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
            Outcome::ConnectionLimited => "connection_limited",
        }
    }
}

/// A probe's overall verdict, worst last.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No warning or failure about the probe (information at most).
    #[default]
    Ok,
    /// A port of the default sweep that refused while others answered.
    NotOffered,
    Warn,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::NotOffered => "not_offered",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
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
    /// A third connection, made at the same time as the TLS sniff, that
    /// checks whether the port speaks HTTP (`HEAD / HTTP/1.0`).
    HttpSniff,
    /// After a TLS handshake that failed the way a server of only older TLS
    /// fails: a second connection with a ClientHello of mailport's own that
    /// offers TLS 1.0 to 1.2, read up to the ServerHello's version and closed.
    TlsVersions,
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
            Phase::HttpSniff => "http_sniff",
            Phase::TlsVersions => "tls_versions",
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
    pub result: ConnectResult,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub errno: Option<i32>,
    pub ms: u64,
    /// The ICMP error the connect attempt drew, read from the socket's error
    /// queue (Linux: IP_RECVERR): who answered, and what.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub icmp: Option<IcmpFacts>,
}

/// An ICMP error that answered a SYN, as the kernel queued it
/// (`sock_extended_err`), with the address of the device that sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IcmpFacts {
    /// `icmp` (IPv4) or `icmp6`.
    pub protocol: IcmpProtocol,
    #[serde(rename = "type")]
    pub icmp_type: u8,
    pub code: u8,
    /// The type and code in words (`port-unreachable`, `admin-prohibited`,
    /// `time-exceeded`, …; `type T code C` for others).
    pub name: String,
    /// The offender: the address that sent the ICMP error (SO_EE_OFFENDER).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from: Option<IpAddr>,
    /// The offender's PTR name, when it has one and it was asked (only with
    /// --dns-server, or for a public address).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IcmpProtocol {
    Icmp,
    Icmp6,
}

/// What an ICMP error says, for the rules and the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpKind {
    /// Destination unreachable, port: a firewall's REJECT (TCP answers a
    /// closed port with a RST, never with this).
    PortUnreachable,
    /// Administratively, host or net prohibited: a filter's REJECT.
    Prohibited,
    /// Host, net or address unreachable: routing, or a host that is down.
    NoRoute,
    /// TTL (hop limit) exceeded in transit: the answer of a router on the way.
    TimeExceeded,
    Other,
}

impl IcmpFacts {
    /// The facts of one queued error; the name comes from the type and code.
    pub fn new(protocol: IcmpProtocol, icmp_type: u8, code: u8, from: Option<IpAddr>) -> IcmpFacts {
        IcmpFacts {
            protocol,
            icmp_type,
            code,
            name: icmp_name(protocol, icmp_type, code),
            from,
            from_name: None,
        }
    }

    pub fn kind(&self) -> IcmpKind {
        match (self.protocol, self.icmp_type, self.code) {
            (IcmpProtocol::Icmp, 3, 3) | (IcmpProtocol::Icmp6, 1, 4) => IcmpKind::PortUnreachable,
            (IcmpProtocol::Icmp, 3, 9 | 10 | 13) | (IcmpProtocol::Icmp6, 1, 1 | 5 | 6) => {
                IcmpKind::Prohibited
            }
            (IcmpProtocol::Icmp, 3, _) | (IcmpProtocol::Icmp6, 1, _) => IcmpKind::NoRoute,
            (IcmpProtocol::Icmp, 11, _) | (IcmpProtocol::Icmp6, 3, _) => IcmpKind::TimeExceeded,
            _ => IcmpKind::Other,
        }
    }

    /// The offender as shown: its address, with its PTR name when known.
    pub fn sender(&self) -> String {
        match (&self.from, &self.from_name) {
            (Some(a), Some(n)) => format!("{a} ({n})"),
            (Some(a), None) => a.to_string(),
            (None, _) => "an unknown sender".to_string(),
        }
    }

    /// What the error means for a connection to `dest`, in words: who
    /// answered and what (the name, when known, follows the address).
    pub fn words(&self, dest: Option<IpAddr>) -> String {
        let who = self.sender();
        let at_dest = self.from.is_some() && self.from == dest;
        let place = if at_dest {
            "the host itself or a firewall that answers in its name"
        } else {
            "a device on the path, not the server"
        };
        let name = &self.name;
        match self.kind() {
            IcmpKind::PortUnreachable => format!(
                "connection refused by a firewall rule (ICMP {name} from {who}: {place}; a port that nothing listens on answers with a TCP RST instead)"
            ),
            IcmpKind::Prohibited => format!(
                "connection administratively prohibited by {who} (ICMP {name}: a firewall rule there rejects it; {place})"
            ),
            IcmpKind::NoRoute => format!(
                "no route to host: {who} answered ICMP {name} (the host is down, or that network cannot reach it)"
            ),
            IcmpKind::TimeExceeded => format!(
                "the SYN's TTL ran out at {who} (ICMP {name}): a routing loop, or a path longer than the TTL"
            ),
            IcmpKind::Other => format!("the connection failed: {who} answered ICMP {name}"),
        }
    }
}

/// ICMP (RFC 792, RFC 1812) and ICMPv6 (RFC 4443) errors in words.
pub fn icmp_name(protocol: IcmpProtocol, icmp_type: u8, code: u8) -> String {
    let known = match (protocol, icmp_type, code) {
        (IcmpProtocol::Icmp, 3, 0) => "net-unreachable",
        (IcmpProtocol::Icmp, 3, 1) => "host-unreachable",
        (IcmpProtocol::Icmp, 3, 2) => "protocol-unreachable",
        (IcmpProtocol::Icmp, 3, 3) => "port-unreachable",
        (IcmpProtocol::Icmp, 3, 4) => "fragmentation-needed",
        (IcmpProtocol::Icmp, 3, 5) => "source-route-failed",
        (IcmpProtocol::Icmp, 3, 6) => "net-unknown",
        (IcmpProtocol::Icmp, 3, 7) => "host-unknown",
        (IcmpProtocol::Icmp, 3, 9) => "net-prohibited",
        (IcmpProtocol::Icmp, 3, 10) => "host-prohibited",
        (IcmpProtocol::Icmp, 3, 11) => "net-unreachable-for-tos",
        (IcmpProtocol::Icmp, 3, 12) => "host-unreachable-for-tos",
        (IcmpProtocol::Icmp, 3, 13) => "admin-prohibited",
        (IcmpProtocol::Icmp, 3, 14) => "host-precedence-violation",
        (IcmpProtocol::Icmp, 3, 15) => "precedence-cutoff",
        (IcmpProtocol::Icmp, 11, 0) => "time-exceeded",
        (IcmpProtocol::Icmp, 11, 1) => "reassembly-time-exceeded",
        (IcmpProtocol::Icmp6, 1, 0) => "no-route",
        (IcmpProtocol::Icmp6, 1, 1) => "admin-prohibited",
        (IcmpProtocol::Icmp6, 1, 2) => "beyond-scope",
        (IcmpProtocol::Icmp6, 1, 3) => "address-unreachable",
        (IcmpProtocol::Icmp6, 1, 4) => "port-unreachable",
        (IcmpProtocol::Icmp6, 1, 5) => "policy-failed",
        (IcmpProtocol::Icmp6, 1, 6) => "reject-route",
        (IcmpProtocol::Icmp6, 2, _) => "packet-too-big",
        (IcmpProtocol::Icmp6, 3, 0) => "time-exceeded",
        (IcmpProtocol::Icmp6, 3, 1) => "reassembly-time-exceeded",
        _ => return format!("type {icmp_type} code {code}"),
    };
    known.to_string()
}

/// How a connect attempt ended, as one word in the report: `connected`,
/// `timeout` (our limit passed, the SYN was never answered), or the socket
/// error's name (`ECONNREFUSED`, `EHOSTUNREACH`, …; `errno N` for one without a name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ConnectResult {
    Connected,
    Timeout,
    Error(String),
}

impl ConnectResult {
    pub fn as_str(&self) -> &str {
        match self {
            ConnectResult::Connected => "connected",
            ConnectResult::Timeout => "timeout",
            ConnectResult::Error(name) => name,
        }
    }
}

impl From<String> for ConnectResult {
    fn from(text: String) -> ConnectResult {
        match text.as_str() {
            "connected" => ConnectResult::Connected,
            "timeout" => ConnectResult::Timeout,
            _ => ConnectResult::Error(text),
        }
    }
}

impl From<ConnectResult> for String {
    fn from(r: ConnectResult) -> String {
        r.as_str().to_string()
    }
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
    /// The user asked for this service by name or port (--service, --port);
    /// false for a port of the default sweep.
    #[serde(default)]
    pub requested: bool,
    pub outcome: Outcome,
    /// The probe's overall verdict: the worst of its wire outcome and of the
    /// findings about it (a certificate, a login before TLS…), set when the
    /// report is assembled.
    #[serde(default)]
    pub verdict: Verdict,
    /// The code of the finding that sets the verdict, when there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub verdict_code: Option<Code>,
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
    /// The server's reply to STARTTLS (STLS): its yes, or its refusal.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub starttls_reply: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tls: Option<TlsFacts>,
    /// After a failed TLS handshake that looked like a server of only older
    /// TLS: which version it does speak (see [`TlsVersions`]).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tls_versions: Option<TlsVersions>,
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
    /// The first attempt was turned away by the server's per-client
    /// connection limit and this result is the retry's (a note says why).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub retried: bool,
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
            requested: false,
            outcome: Outcome::Ok,
            verdict: Verdict::Ok,
            verdict_code: None,
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
            tls_versions: None,
            preauth: false,
            login_disabled: None,
            login_plain: None,
            login_tls: None,
            http: None,
            notes: Vec::new(),
            retried: false,
        }
    }
}
