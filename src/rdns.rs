//! Reverse DNS and names: the PTR of each address, the forward confirmation
//! of each PTR name (FCrDNS: its A/AAAA must contain the address), and the MX
//! records of mail domains (--mx). This module asks and records; the rules
//! that judge the answers are in diagnose.rs.

use crate::dnsclient::{self, Dns, DnsConfig};
use crate::plan::{Family, Plan, Target};
use crate::report::{
    DnsStatus, MxLookup, MxOf, MxRecord, PtrName, ReverseDns, Role, SkippedAddress, TargetDns,
    TargetReport,
};
use hickory_resolver::proto::rr::RecordType;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// At most this many names of one PTR answer are forward-checked.
pub const MAX_PTR_NAMES: usize = 8;

/// What the name checks of a plan need: where DNS questions go, and how far to go.
#[derive(Debug, Clone, Default)]
pub struct NameChecks {
    pub dns: DnsConfig,
    /// Check the reverse DNS of every address, not only of public ones
    /// (with --dns-server, and for `mailport ptr`).
    pub every_address: bool,
    /// --mx: the hosts are mail domains; their MX hosts are checked.
    pub mx: bool,
    /// The --resolve overrides, for MX hosts found at run time.
    pub overrides: BTreeMap<String, Vec<IpAddr>>,
    /// The MX lookups of the mail domains, once `expand_mx` has run.
    pub domains: Vec<MxLookup>,
}

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

/// The PTR of `addr` and the forward confirmation of each of its names.
pub async fn reverse(dns: &Dns, addr: IpAddr, deadline: Instant) -> ReverseDns {
    let query = dnsclient::reverse_name(addr);
    let answer = dns.query(&query, RecordType::PTR, deadline).await;
    let mut names: Vec<String> = answer.ptr_names();
    // In a stable order: the order of records in an answer means nothing.
    names.sort();
    names.truncate(MAX_PTR_NAMES);
    let mut set = JoinSet::new();
    for (i, name) in names.into_iter().enumerate() {
        let dns = dns.clone();
        set.spawn(async move { (i, forward(&dns, name, addr, deadline).await) });
    }
    let mut checked: Vec<(usize, PtrName)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        if let Ok(done) = joined {
            checked.push(done);
        }
    }
    checked.sort_by_key(|(i, _)| *i);
    let status = if answer.status == DnsStatus::Found && checked.is_empty() {
        DnsStatus::NoData
    } else {
        answer.status
    };
    ReverseDns {
        address: addr,
        query: dnsclient::display_name(&query),
        status,
        detail: answer.detail,
        ms: answer.ms,
        names: checked.into_iter().map(|(_, n)| n).collect(),
    }
}

/// Does `name` resolve back to `addr`? Asks A for an IPv4 address, AAAA for IPv6.
async fn forward(dns: &Dns, name: String, addr: IpAddr, deadline: Instant) -> PtrName {
    let rtype = if addr.is_ipv4() {
        RecordType::A
    } else {
        RecordType::AAAA
    };
    let answer = match dnsclient::fqdn(&name) {
        Ok(n) => dns.query(&n, rtype, deadline).await,
        Err(e) => dnsclient::Answer {
            status: DnsStatus::Failed,
            records: Vec::new(),
            detail: Some(e),
            ms: 0,
        },
    };
    let addresses = answer.addresses();
    PtrName {
        confirmed: addresses.contains(&addr),
        name,
        record_type: rtype.to_string(),
        status: answer.status,
        detail: answer.detail,
        addresses,
        ms: answer.ms,
    }
}

/// The MX records of `domain`, lowest preference first.
pub async fn mx_lookup(dns: &Dns, domain: &str, deadline: Instant) -> MxLookup {
    let answer = match dnsclient::fqdn(domain) {
        Ok(n) => dns.query(&n, RecordType::MX, deadline).await,
        Err(e) => dnsclient::Answer {
            status: DnsStatus::Failed,
            records: Vec::new(),
            detail: Some(e),
            ms: 0,
        },
    };
    MxLookup {
        domain: domain.to_string(),
        status: answer.status,
        records: answer
            .mx()
            .into_iter()
            .map(|(preference, exchange)| MxRecord {
                preference,
                exchange,
            })
            .collect(),
        detail: answer.detail,
        ms: answer.ms,
        resolver: dns.describe(),
    }
}

/// --mx: look up the MX of each mail domain and check its MX hosts instead,
/// in preference order. A domain without MX records is checked itself (the
/// implicit MX of RFC 5321 5.1); a null MX, or a failed lookup, leaves nothing
/// to probe for that domain (diagnosis reports it from `plan.names.domains`).
pub async fn expand_mx(plan: &mut Plan, deadline: Instant) {
    if !plan.names.mx {
        return;
    }
    let dns = Dns::new(&plan.names.dns);
    let domains: Vec<Target> = plan
        .targets
        .iter()
        .filter(|t| t.role == Role::Target)
        .cloned()
        .collect();
    let mut set = JoinSet::new();
    for (i, t) in domains.iter().enumerate() {
        let dns = dns.clone();
        let host = t.host.clone();
        set.spawn(async move { (i, mx_lookup(&dns, &host, deadline).await) });
    }
    let mut lookups: Vec<(usize, MxLookup)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        if let Ok(done) = joined {
            lookups.push(done);
        }
    }
    lookups.sort_by_key(|(i, _)| *i);
    let mut targets: Vec<Target> = Vec::new();
    for (i, lookup) in &lookups {
        let domain = &domains[*i];
        let explicit_tls = (domain.tls_name != domain.host).then(|| domain.tls_name.clone());
        match lookup.status {
            DnsStatus::Found => {
                for r in lookup.records.iter().filter(|r| r.exchange != ".") {
                    if targets.iter().any(|t| t.host == r.exchange) {
                        continue;
                    }
                    targets.push(Target {
                        host: r.exchange.clone(),
                        literal: None,
                        overrides: plan
                            .names
                            .overrides
                            .get(&r.exchange)
                            .cloned()
                            .unwrap_or_default(),
                        tls_name: explicit_tls.clone().unwrap_or_else(|| r.exchange.clone()),
                        role: Role::Target,
                    });
                }
            }
            DnsStatus::NoData if !targets.iter().any(|t| t.host == domain.host) => {
                targets.push(domain.clone());
            }
            _ => {}
        }
    }
    targets.extend(
        plan.targets
            .iter()
            .filter(|t| t.role != Role::Target)
            .cloned(),
    );
    plan.targets = targets;
    plan.names.domains = lookups.into_iter().map(|(_, l)| l).collect();
}

/// The DNS side of each target (`None` for a control host): reverse DNS of
/// every address, looked up once per address however many targets share it,
/// and the MX of a name that has no address (so the report can suggest --mx).
pub async fn check_targets(
    plan: Plan,
    dns: Dns,
    targets: Vec<TargetReport>,
    deadline: Instant,
) -> Vec<Option<TargetDns>> {
    let names = &plan.names;
    let mut wanted: Vec<IpAddr> = Vec::new();
    for t in targets.iter().filter(|t| t.role == Role::Target) {
        for a in &t.addresses {
            if skip_reason(*a, names.every_address).is_none() && !wanted.contains(a) {
                wanted.push(*a);
            }
        }
    }
    let mut set = JoinSet::new();
    for addr in wanted {
        let dns = dns.clone();
        set.spawn(async move { Lookup::Reverse(reverse(&dns, addr, deadline).await) });
    }
    // A name with no address may be a mail domain: its MX says so. Not when
    // -4/-6 filtered its addresses away, and not for MX hosts themselves.
    for t in targets.iter().filter(|t| {
        t.role == Role::Target
            && t.addresses.is_empty()
            && t.resolution.source == "dns"
            && t.resolution.status == DnsStatus::NoData.as_str()
            && plan.family == Family::Any
            && !names.mx
    }) {
        let dns = dns.clone();
        let host = t.host.clone();
        set.spawn(async move { Lookup::Mx(mx_lookup(&dns, &host, deadline).await) });
    }
    let mut reverse_of: BTreeMap<IpAddr, ReverseDns> = BTreeMap::new();
    let mut mx_of_name: BTreeMap<String, MxLookup> = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Lookup::Reverse(r)) => {
                reverse_of.insert(r.address, r);
            }
            Ok(Lookup::Mx(m)) => {
                mx_of_name.insert(m.domain.clone(), m);
            }
            Err(_) => {}
        }
    }
    let resolver = dns.describe();
    targets
        .iter()
        .map(|t| {
            if t.role != Role::Target {
                return None;
            }
            let mut reverse = Vec::new();
            let mut skipped = Vec::new();
            for a in &t.addresses {
                match skip_reason(*a, names.every_address) {
                    Some(reason) => skipped.push(SkippedAddress {
                        address: *a,
                        reason,
                    }),
                    None => {
                        if let Some(r) = reverse_of.get(a) {
                            reverse.push(r.clone());
                        }
                    }
                }
            }
            Some(TargetDns {
                resolver: resolver.clone(),
                reverse,
                skipped,
                mx_of: mx_of(&names.domains, &t.host),
                mx: mx_of_name.get(&t.host).cloned(),
            })
        })
        .collect()
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
