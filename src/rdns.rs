//! The DNS checks stage, run beside the probes: the reverse DNS of each
//! address (PTR, then the forward confirmation of each PTR name) and the MX
//! of a name that has no address. This module decides what to ask and
//! gathers the answers; the lookups are in `dns/`, and the rules that judge
//! the answers are in `diagnose/names.rs`.

use crate::dns::{self, Dns};
use crate::plan::{Family, NameChecks, Role};
use crate::report::{
    DnsStatus, MxLookup, MxOf, ResolutionSource, ReverseDns, SkippedAddress, TargetDns,
    TargetReport,
};
use crate::resolve::ResolvedTarget;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Why the reverse DNS of `addr` is not checked, or `None` when it is.
///
/// Without --dns-server only public addresses are checked: a receiver never
/// sees a loopback, private or documentation address, and asking the system's
/// resolver about one says nothing about mail (hickory-resolver even answers
/// 127.0.0.0/8 with `localhost` by itself).
pub fn skip_reason(addr: IpAddr, every_address: bool) -> Option<String> {
    if every_address {
        return None;
    }
    let kind = match addr {
        IpAddr::V4(a) => v4_kind(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => v4_kind(v4),
            None => v6_kind(a),
        },
    }?;
    Some(format!(
        "{addr} is {kind}, never seen by other mail servers; --dns-server checks it anyway"
    ))
}

fn v4_kind(a: Ipv4Addr) -> Option<&'static str> {
    let o = a.octets();
    Some(if a.is_loopback() {
        "a loopback address"
    } else if a.is_private() {
        "a private address (RFC 1918)"
    } else if a.is_link_local() {
        "a link-local address"
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        "a shared address (RFC 6598, carrier-grade NAT)"
    } else if a.is_documentation() {
        "a documentation address (RFC 5737)"
    } else if a.is_unspecified() || a.is_broadcast() || o[0] == 0 || o[0] >= 240 {
        "a reserved address"
    } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
        "a benchmarking address (RFC 2544)"
    } else {
        return None;
    })
}

fn v6_kind(a: Ipv6Addr) -> Option<&'static str> {
    let s = a.segments();
    Some(if a.is_loopback() || a.is_unspecified() {
        "a loopback address"
    } else if (s[0] & 0xfe00) == 0xfc00 {
        "a unique local address (RFC 4193)"
    } else if (s[0] & 0xffc0) == 0xfe80 {
        "a link-local address"
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        "a documentation address (RFC 3849)"
    } else {
        return None;
    })
}

/// The answers of the DNS checks, each asked once however many targets share it.
#[derive(Debug, Clone, Default)]
pub struct NameFacts {
    /// Who answered, as in `TargetDns::resolver`.
    pub resolver: String,
    pub every_address: bool,
    pub reverse_of: BTreeMap<IpAddr, ReverseDns>,
    /// The MX lookups of names that have no address.
    pub mx_of_name: BTreeMap<String, MxLookup>,
}

/// The questions of the DNS checks.
#[derive(Debug, Clone, Default)]
pub struct Questions {
    every_address: bool,
    /// Addresses whose reverse DNS is asked.
    reverse: Vec<IpAddr>,
    /// Names without an address whose MX is asked.
    mx: Vec<String>,
}

/// What to ask: the reverse DNS of every target address (public ones only
/// unless `names.every_address`), and the MX of a name that has no address
/// (so the report can suggest --mx). Control hosts are evidence, not
/// subjects: their names are not checked.
pub fn questions(names: &NameChecks, family: Family, targets: &[ResolvedTarget]) -> Questions {
    let subjects = || targets.iter().filter(|t| t.target.role == Role::Target);
    let mut wanted: Vec<IpAddr> = Vec::new();
    for t in subjects() {
        for a in &t.addresses {
            if skip_reason(*a, names.every_address).is_none() && !wanted.contains(a) {
                wanted.push(*a);
            }
        }
    }
    // A name with no address may be a mail domain: its MX says so. Not when
    // -4/-6 filtered its addresses away, and not for MX hosts themselves.
    let mx = subjects()
        .filter(|t| {
            t.addresses.is_empty()
                && t.resolution.source == ResolutionSource::Dns
                && t.resolution.status == DnsStatus::NoData
                && family == Family::Any
                && !names.mx
        })
        .map(|t| t.target.host.clone())
        .collect();
    Questions {
        every_address: names.every_address,
        reverse: wanted,
        mx,
    }
}

/// Ask the questions, every answer by `deadline`.
pub async fn ask(questions: Questions, dns: &Dns, deadline: Instant) -> NameFacts {
    let mut set = JoinSet::new();
    for addr in questions.reverse {
        let dns = dns.clone();
        set.spawn(async move { Lookup::Reverse(dns::reverse(&dns, addr, deadline).await) });
    }
    for host in questions.mx {
        let dns = dns.clone();
        set.spawn(async move { Lookup::Mx(dns::mx(&dns, &host, deadline).await) });
    }
    let mut facts = NameFacts {
        resolver: dns.describe(),
        every_address: questions.every_address,
        ..NameFacts::default()
    };
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Lookup::Reverse(r)) => {
                facts.reverse_of.insert(r.address, r);
            }
            Ok(Lookup::Mx(m)) => {
                facts.mx_of_name.insert(m.domain.clone(), m);
            }
            Err(_) => {}
        }
    }
    facts
}

impl NameFacts {
    /// The DNS side of one target (`None` for a control host).
    pub fn for_target(&self, t: &TargetReport, domains: &[MxLookup]) -> Option<TargetDns> {
        if t.role != Role::Target {
            return None;
        }
        let mut reverse = Vec::new();
        let mut skipped = Vec::new();
        for a in &t.addresses {
            match skip_reason(*a, self.every_address) {
                Some(reason) => skipped.push(SkippedAddress {
                    address: *a,
                    reason,
                }),
                None => {
                    if let Some(r) = self.reverse_of.get(a) {
                        reverse.push(r.clone());
                    }
                }
            }
        }
        Some(TargetDns {
            resolver: self.resolver.clone(),
            reverse,
            skipped,
            mx_of: mx_of(domains, &t.host),
            mx: self.mx_of_name.get(&t.host).cloned(),
        })
    }
}

enum Lookup {
    Reverse(ReverseDns),
    Mx(MxLookup),
}

/// The first mail domain whose MX names `host` (or that is `host` itself, without MX).
fn mx_of(domains: &[MxLookup], host: &str) -> Option<MxOf> {
    domains.iter().find_map(|d| {
        if let Some(r) = d.records.iter().find(|r| r.exchange == host) {
            Some(MxOf {
                domain: d.domain.clone(),
                preference: r.preference,
                implicit: false,
            })
        } else if d.domain == host && d.status == DnsStatus::NoData {
            Some(MxOf {
                domain: d.domain.clone(),
                preference: 0,
                implicit: true,
            })
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::MxRecord;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_checked_unless_asked() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "192.0.2.25",
            "198.51.100.1",
            "203.0.113.9",
            "0.1.2.3",
            "::1",
            "fd00::1",
            "fe80::1",
            "2001:db8::25",
            "::ffff:10.0.0.1",
        ] {
            assert!(skip_reason(ip(a), false).is_some(), "{a}");
            assert!(skip_reason(ip(a), true).is_none(), "{a}");
        }
        for a in [
            "8.8.8.8",
            "100.128.0.1",
            "2a00:1450:4001::1b",
            "::ffff:8.8.8.8",
        ] {
            assert!(skip_reason(ip(a), false).is_none(), "{a}");
        }
        let why = skip_reason(ip("127.0.0.1"), false).unwrap();
        assert!(
            why.contains("loopback") && why.contains("--dns-server"),
            "{why}"
        );
    }

    #[test]
    fn mx_hosts_know_their_domain() {
        let d = MxLookup {
            domain: "example.test".into(),
            status: DnsStatus::Found,
            detail: None,
            ms: 1,
            records: vec![
                MxRecord {
                    preference: 10,
                    exchange: "a.example.test".into(),
                },
                MxRecord {
                    preference: 20,
                    exchange: "b.example.test".into(),
                },
            ],
            resolver: "system".into(),
            policy: None,
        };
        let implicit = MxLookup {
            domain: "nomx.example.test".into(),
            status: DnsStatus::NoData,
            records: vec![],
            ..d.clone()
        };
        let all = [d, implicit];
        assert_eq!(mx_of(&all, "b.example.test").unwrap().preference, 20);
        assert!(mx_of(&all, "nomx.example.test").unwrap().implicit);
        assert!(mx_of(&all, "other.example.test").is_none());
    }
}
