//! What one probe found: its outcome, phases, and the facts of the dialog.

use crate::codes::Code;
use crate::escape::SafeText;
use crate::service::{Protocol, TlsMode};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

pub use super::connect::*;
pub use super::tls::*;

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
    pub error: Option<SafeText>,
}

/// The head of the answer to `GET /` (the body is never read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpFacts {
    /// As in the status line, e.g. `HTTP/1.1`.
    pub version: String,
    pub status: u16,
    pub reason: SafeText,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<SafeText>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server: Option<SafeText>,
    /// The Strict-Transport-Security header, as sent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hsts: Option<SafeText>,
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
    pub detail: Option<SafeText>,
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
    pub greeting: Option<SafeText>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub greeting_ms: Option<u64>,
    /// The host name the server announced in its greeting.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub greeting_name: Option<SafeText>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub software: Option<SafeText>,
    /// Capabilities before TLS, escaped as sent: for SMTP the EHLO reply lines,
    /// for IMAP the capability atoms, for POP3 the CAPA lines.
    pub capabilities_plain: Vec<SafeText>,
    /// Capability lines after TLS.
    pub capabilities_tls: Vec<SafeText>,
    pub auth_plain: Vec<SafeText>,
    pub auth_tls: Vec<SafeText>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub starttls_offered: Option<bool>,
    /// True when the capability list shows STARTTLS masked by a middlebox (e.g. `XXXXXXXA`).
    #[serde(default)]
    pub starttls_stripped: bool,
    /// The server's reply to STARTTLS (STLS): its yes, or its refusal.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub starttls_reply: Option<SafeText>,
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
    pub notes: Vec<SafeText>,
    /// The first attempt was turned away by the server's per-client
    /// connection limit and this result is the retry's (a note says why).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub retried: bool,
    /// `-vv`: the dialogue, swaks-style (`-> ` sent, `<- ` received,
    /// escaped, `== ` events), at most 100 lines and 8 KiB.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub transcript: Vec<SafeText>,
    /// This result was made for another host of the run, the same probe
    /// (address, port, service, TLS name): shared, not probed again.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub shared: bool,
}

impl ProbeResult {
    /// About how many bytes this result holds, inline and in its text: the
    /// weight of an entry of the run's cache of probes.
    pub fn weight(&self) -> usize {
        fn text(s: &str) -> usize {
            s.len() + 24
        }
        fn opt<T: AsRef<str>>(s: &Option<T>) -> usize {
            s.as_ref().map_or(0, |s| text(s.as_ref()))
        }
        fn all<T: AsRef<str>>(v: &[T]) -> usize {
            v.iter().map(|s| text(s.as_ref())).sum()
        }
        let tls = self.tls.as_ref().map_or(0, |t| {
            let chain: usize = t
                .chain
                .iter()
                .map(|c| 256 + text(&c.subject) + text(&c.issuer) + text(&c.serial) + all(&c.sans))
                .sum();
            // The DANE digests of the relay port: four hex strings a certificate.
            let digests = t.digests.len() * (4 * 24 + 64 + 128 + 64 + 128);
            // And the chain's DER, for DANE-TA's signature check.
            let der = t.presented.as_ref().map_or(0, |p| p.weight());
            256 + chain + digests + der + opt(&t.verdict_detail)
        });
        let phases: usize = self.phases.iter().map(|p| 48 + opt(&p.error)).sum();
        std::mem::size_of::<ProbeResult>()
            + opt(&self.detail)
            + opt(&self.greeting)
            + opt(&self.greeting_name)
            + opt(&self.software)
            + opt(&self.starttls_reply)
            + all(&self.capabilities_plain)
            + all(&self.capabilities_tls)
            + all(&self.auth_plain)
            + all(&self.auth_tls)
            + all(&self.notes)
            + phases
            + tls
            // The connect, HTTP and TLS versions facts, a few fields each.
            + 512
    }

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
            transcript: Vec::new(),
            retried: false,
            shared: false,
        }
    }
}
