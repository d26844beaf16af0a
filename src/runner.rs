//! Runs the plan: resolve every target, then every probe at once (bounded
//! concurrency), each under its own phase timeouts and the overall deadline.

use crate::plan::{Family, Plan, Target};
use crate::probe::{run_probe, Ehlo, ProbeSpec};
use crate::report::{Outcome, ProbeResult, Resolution, TargetReport};
use crate::tls::Trust;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// At most this many probes run at the same moment, by default (--max-probes).
pub const MAX_CONCURRENT_PROBES: usize = 64;
/// A probe is not started with less time than this left before the deadline.
const MIN_PROBE_TIME: std::time::Duration = std::time::Duration::from_millis(100);

fn not_run(spec: &ProbeSpec, max_probes: usize) -> ProbeResult {
    ProbeResult {
        outcome: Outcome::NotRun,
        detail: Some(format!(
            "the check's deadline passed before this probe could start (at most {max_probes} probes run at once: --max-probes)"
        )),
        ..ProbeResult::new(spec.service, spec.addr.port(), Some(spec.addr.ip()))
    }
}

pub async fn execute(
    plan: &Plan,
    trust: Arc<Trust>,
    progress: bool,
    deadline: Instant,
) -> Vec<TargetReport> {
    let dns = crate::dnsclient::Dns::new(&plan.names.dns);
    let mut targets = resolve_all(plan, &dns, deadline).await;
    // Reverse DNS and MX run alongside the probes.
    let names = tokio::spawn(crate::rdns::check_targets(
        plan.clone(),
        dns,
        targets.clone(),
        deadline,
    ));

    let ehlo = match &plan.ehlo {
        Some(name) => Ehlo::Name(name.clone()),
        None => crate::plan::local_fqdn().map_or(Ehlo::AddressLiteral, Ehlo::Name),
    };
    let mut jobs = Vec::new();
    for (ti, (target, t)) in plan.targets.iter().zip(&targets).enumerate() {
        for (ai, addr) in t.addresses.iter().enumerate() {
            for (pi, p) in plan.probes.iter().enumerate() {
                let spec = ProbeSpec {
                    addr: SocketAddr::new(*addr, p.port),
                    service: p.service,
                    tls_name: target.tls_name.clone(),
                    ehlo: ehlo.clone(),
                    timeouts: plan.timeouts,
                    deadline,
                    trust: trust.clone(),
                };
                jobs.push(((ti, ai, pi), spec));
            }
        }
    }
    let total = jobs.len();
    let max_probes = plan.max_probes;
    let limit = Arc::new(Semaphore::new(max_probes));
    let mut set = JoinSet::new();
    for (key, spec) in jobs {
        let limit = limit.clone();
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            // A probe that waited for a slot past the deadline did not run:
            // it must not pass for a server that never answered.
            if spec.deadline.saturating_duration_since(Instant::now()) < MIN_PROBE_TIME {
                return (key, not_run(&spec, max_probes));
            }
            (key, run_probe(&spec).await)
        });
    }
    let mut results: Vec<((usize, usize, usize), ProbeResult)> = Vec::with_capacity(total);
    while let Some(joined) = set.join_next().await {
        // A probe that panicked is a bug in mailport; it must not take the report down.
        if let Ok(done) = joined {
            results.push(done);
        }
        if progress {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\rmailport: {}/{} probes done", results.len(), total);
            let _ = err.flush();
        }
    }
    if progress {
        let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
    }
    results.sort_by_key(|(k, _)| *k);
    for ((ti, _, _), r) in results {
        targets[ti].probes.push(r);
    }
    if let Ok(names) = names.await {
        for (t, dns) in targets.iter_mut().zip(names) {
            t.dns = dns;
        }
    }
    // Every probe is present in the report, even one that could not run.
    for (ti, t) in targets.iter_mut().enumerate() {
        if t.addresses.is_empty() {
            let detail = t.resolution.detail.clone();
            for p in &plan.probes {
                t.probes
                    .push(unresolved(p, &plan.targets[ti], detail.clone()));
            }
        }
    }
    targets
}

fn unresolved(p: &crate::plan::Probe, _target: &Target, detail: Option<String>) -> ProbeResult {
    ProbeResult {
        outcome: Outcome::DnsFailed,
        detail,
        ..ProbeResult::new(p.service, p.port, None)
    }
}

async fn resolve_all(
    plan: &Plan,
    dns: &crate::dnsclient::Dns,
    deadline: Instant,
) -> Vec<TargetReport> {
    let mut set = JoinSet::new();
    for (i, t) in plan.targets.iter().cloned().enumerate() {
        let dns = dns.clone();
        let family = plan.family;
        set.spawn(async move {
            let (addrs, resolution) = if let Some(ip) = t.literal {
                (vec![ip], fixed("literal"))
            } else if !t.overrides.is_empty() {
                (t.overrides.clone(), fixed("override"))
            } else {
                crate::dns::resolve(&dns, &t.host, deadline).await
            };
            (i, filter_family(t, addrs, resolution, family))
        });
    }
    let mut out: Vec<(usize, TargetReport)> = Vec::new();
    while let Some(Ok(done)) = set.join_next().await {
        out.push(done);
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}

fn fixed(source: &str) -> Resolution {
    Resolution {
        source: source.into(),
        status: "found".into(),
        detail: None,
        ms: 0,
    }
}

fn filter_family(
    t: Target,
    addrs: Vec<IpAddr>,
    mut resolution: Resolution,
    family: Family,
) -> TargetReport {
    let total = addrs.len();
    let addrs: Vec<IpAddr> = addrs
        .into_iter()
        .filter(|a| match family {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        })
        .collect();
    if addrs.is_empty() && total > 0 {
        resolution.status = "no_data".into();
        resolution.detail = Some(format!(
            "{} has no {} address",
            t.host,
            if family == Family::V4 { "IPv4" } else { "IPv6" }
        ));
    }
    let local = crate::net::local_addresses();
    TargetReport {
        host_unicode: crate::plan::unicode_form(&t.host),
        host: t.host,
        role: t.role,
        tls_name: t.tls_name,
        local_addresses: addrs
            .iter()
            .filter(|a| a.is_loopback() || local.contains(a))
            .copied()
            .collect(),
        addresses: addrs,
        resolution,
        probes: Vec::new(),
        dns: None,
    }
}
