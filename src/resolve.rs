//! The resolve stage: the plan's hosts → the targets to probe, each with its
//! addresses. With --mx the mail domains' MX hosts become the targets (in
//! preference order); every name is then resolved to A/AAAA unless it is an
//! address or has --resolve overrides. Returns new values; the plan is never
//! rewritten.

use crate::dns::{self, Dns};
use crate::plan::{Family, Plan, Role, Target};
use crate::report::{DnsStatus, MxLookup, Resolution, ResolutionSource};
use std::net::IpAddr;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// A target with the addresses to probe.
#[derive(Debug, Clone)]
pub struct ResolvedTarget {
    pub target: Target,
    pub addresses: Vec<IpAddr>,
    /// The addresses among `addresses` that belong to this machine (loopback or a local interface).
    pub local_addresses: Vec<IpAddr>,
    pub resolution: Resolution,
}

/// Resolve one target: its address, its --resolve overrides, or A/AAAA,
/// keeping the addresses of `family`. `local`: this machine's addresses.
pub async fn resolve_target(
    t: Target,
    family: Family,
    dns: &Dns,
    deadline: Instant,
    local: &[IpAddr],
) -> ResolvedTarget {
    let (addrs, resolution) = if let Some(ip) = t.literal {
        (vec![ip], fixed(ResolutionSource::Literal))
    } else if !t.overrides.is_empty() {
        (t.overrides.clone(), fixed(ResolutionSource::Override))
    } else {
        dns::host_addresses(dns, &t.host, deadline).await
    };
    in_family(t, addrs, resolution, family, local)
}

fn fixed(source: ResolutionSource) -> Resolution {
    Resolution {
        source,
        status: DnsStatus::Found,
        detail: None,
        ms: 0,
    }
}

/// Keep the addresses of the family asked for (-4 / -6).
fn in_family(
    target: Target,
    addrs: Vec<IpAddr>,
    mut resolution: Resolution,
    family: Family,
    local: &[IpAddr],
) -> ResolvedTarget {
    let total = addrs.len();
    let addresses: Vec<IpAddr> = addrs.into_iter().filter(|a| family.admits(a)).collect();
    if addresses.is_empty() && total > 0 {
        resolution.status = DnsStatus::NoData;
        resolution.detail = Some(crate::escape::escape_str(&format!(
            "{} has no {} address",
            target.host,
            if family == Family::V4 { "IPv4" } else { "IPv6" }
        )));
    }
    ResolvedTarget {
        local_addresses: addresses
            .iter()
            .filter(|a| a.is_loopback() || local.contains(a))
            .copied()
            .collect(),
        addresses,
        resolution,
        target,
    }
}

/// --mx: look up the MX of each mail domain (all at once); its MX hosts are
/// the targets, in preference order, each once. A domain without MX records is checked itself (the
/// implicit MX of RFC 5321 5.1); a null MX, or a failed lookup, leaves nothing
/// to probe for that domain (diagnosis reports it from the lookups).
pub async fn expand_mx(
    plan: &Plan,
    domains: &[Target],
    dns: &Dns,
    deadline: Instant,
) -> (Vec<Target>, Vec<MxLookup>) {
    let mut set = JoinSet::new();
    for (i, t) in domains.iter().enumerate() {
        let dns = dns.clone();
        let host = t.host.clone();
        set.spawn(async move { (i, dns::mx(&dns, &host, deadline).await) });
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
        mx_targets(plan, &domains[*i], lookup, &mut targets);
    }
    (targets, lookups.into_iter().map(|(_, l)| l).collect())
}

/// --mx: the targets one mail domain's MX lookup gives, in preference order,
/// added to `targets` unless already there: its MX hosts, or the domain
/// itself when it has no MX records (the implicit MX of RFC 5321 5.1); a
/// null MX, or a failed lookup, adds nothing.
pub fn mx_targets(plan: &Plan, domain: &Target, lookup: &MxLookup, targets: &mut Vec<Target>) {
    let explicit_tls = (domain.tls_name != domain.host).then(|| domain.tls_name.clone());
    match lookup.status {
        DnsStatus::Found => {
            for r in lookup.records.iter().filter(|r| r.exchange != ".") {
                let exchange = r.exchange.to_string();
                if targets.iter().any(|t| t.host == exchange) {
                    continue;
                }
                targets.push(Target {
                    only: None,
                    host: exchange.clone(),
                    literal: None,
                    overrides: plan
                        .names
                        .overrides
                        .get(&exchange)
                        .cloned()
                        .unwrap_or_default(),
                    tls_name: explicit_tls.clone().unwrap_or(exchange),
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
