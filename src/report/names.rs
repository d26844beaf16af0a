//! The DNS facts of a report: how each question was answered, reverse DNS
//! with forward confirmation, and MX records.

use crate::escape::SafeText;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

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
    pub detail: Option<SafeText>,
    pub ms: u64,
    /// Each name of the PTR answer with its forward confirmation.
    pub names: Vec<PtrName>,
}

/// One PTR name and whether it resolves back to the address (FCrDNS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtrName {
    /// The name, without the trailing dot.
    pub name: SafeText,
    /// A for an IPv4 address, AAAA for IPv6.
    pub record_type: String,
    /// How the forward question was answered.
    pub status: DnsStatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<SafeText>,
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
    pub detail: Option<SafeText>,
    pub ms: u64,
    /// A null MX (RFC 7505) is the exchange `.`.
    pub records: Vec<MxRecord>,
    /// Who answered, as in `TargetDns::resolver`.
    pub resolver: String,
    /// The domain's TLS promises (MTA-STS, TLS-RPT, DANE): `mailport
    /// policy`, and `check --mx`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub policy: Option<Box<super::DomainPolicy>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MxRecord {
    pub preference: u16,
    /// The host name without the trailing dot; `.` for a null MX.
    pub exchange: SafeText,
}

impl MxLookup {
    /// The domain publishes a null MX: it accepts no mail (RFC 7505).
    pub fn is_null(&self) -> bool {
        self.records.iter().any(|r| r.exchange == ".")
    }

    /// The hosts that receive the domain's mail: its MX hosts in order, or
    /// the domain itself when it has no MX record (RFC 5321 5.1, implicit MX).
    pub fn mx_hosts(&self) -> Vec<String> {
        if self.status == DnsStatus::NoData {
            return vec![self.domain.clone()];
        }
        let mut hosts: Vec<String> = Vec::new();
        for r in self.records.iter().filter(|r| r.exchange != ".") {
            if !hosts.iter().any(|h| r.exchange == *h) {
                hosts.push(r.exchange.to_string());
            }
        }
        hosts
    }
}
