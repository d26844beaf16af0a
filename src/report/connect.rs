//! How a connect attempt ended: the socket's verdict and the ICMP message
//! behind it, read from the error queue.

use crate::escape::SafeText;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

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
    pub from_name: Option<SafeText>,
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
