//! The probe stage: every address of every resolved target × every probe of
//! the plan, all at once (bounded by --max-probes), each under its own phase
//! timeouts and the run's deadline. Each target comes back together with its
//! probes, in the plan's order.

use crate::plan::{Plan, Probe};
use crate::probe::{run_probe, ProbeSpec};
use crate::report::{Outcome, ProbeResult, TargetReport};
use crate::resolve::ResolvedTarget;
use crate::tls::Trust;
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

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

/// A probe task that panicked: a bug in mailport, reported as such rather than
/// left out of the report.
fn panicked(spec: &ProbeSpec, why: &str) -> ProbeResult {
    ProbeResult {
        outcome: Outcome::InternalError,
        detail: Some(format!(
            "mailport failed inside this probe ({why}); this is a bug in mailport, please report it"
        )),
        ..ProbeResult::new(spec.service, spec.addr.port(), Some(spec.addr.ip()))
    }
}

/// A probe that could not run because the host name did not resolve.
fn unresolved(p: &Probe, detail: Option<String>) -> ProbeResult {
    ProbeResult {
        outcome: Outcome::DnsFailed,
        detail,
        requested: p.requested,
        ..ProbeResult::new(p.service, p.port, None)
    }
}

/// Run every probe of `plan` on `targets`; the reports come back in the order
/// of `targets`, each with its probes ordered by address, then by the plan's probes.
pub async fn probe_all(
    plan: &Plan,
    targets: Vec<ResolvedTarget>,
    trust: Arc<Trust>,
    progress: bool,
    deadline: Instant,
) -> Vec<TargetReport> {
    let mut jobs = Vec::new();
    for (ti, t) in targets.iter().enumerate() {
        for (ai, addr) in t.addresses.iter().enumerate() {
            for (pi, p) in plan.probes.iter().enumerate() {
                let spec = ProbeSpec {
                    addr: SocketAddr::new(*addr, p.port),
                    service: p.service,
                    tls_name: t.target.tls_name.clone(),
                    ehlo: plan.ehlo.clone(),
                    timeouts: plan.timeouts,
                    deadline,
                    trust: trust.clone(),
                };
                jobs.push(((ti, ai, pi), spec));
            }
        }
    }
    let total = jobs.len();
    let max_probes = plan.limits.max_probes;
    let limit = Arc::new(Semaphore::new(max_probes));
    let mut set = JoinSet::new();
    // The spec of each task, so that a task that panicked still has its row.
    let mut specs = HashMap::new();
    for (key, spec) in jobs {
        let limit = limit.clone();
        let task_spec = spec.clone();
        let id = set
            .spawn(async move {
                let _permit = limit.acquire_owned().await;
                // A probe that waited for a slot past the deadline did not run:
                // it must not pass for a server that never answered.
                if task_spec.deadline.saturating_duration_since(Instant::now()) < MIN_PROBE_TIME {
                    return (key, not_run(&task_spec, max_probes));
                }
                (key, run_probe(&task_spec).await)
            })
            .id();
        specs.insert(id, (key, spec));
    }
    let mut results: Vec<((usize, usize, usize), ProbeResult)> = Vec::with_capacity(total);
    while let Some(joined) = set.join_next_with_id().await {
        match joined {
            Ok((_, done)) => results.push(done),
            Err(e) => {
                if let Some((key, spec)) = specs.get(&e.id()) {
                    let why = if e.is_panic() {
                        "it panicked"
                    } else {
                        "it was cancelled"
                    };
                    results.push((*key, panicked(spec, why)));
                }
            }
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
    let mut results = results.into_iter().peekable();
    let mut reports = Vec::with_capacity(targets.len());
    for (ti, t) in targets.into_iter().enumerate() {
        let mut probes = Vec::new();
        while let Some(((_, _, pi), mut r)) = results.next_if(|((i, _, _), _)| *i == ti) {
            r.requested = plan.probes[pi].requested;
            probes.push(r);
        }
        // Every probe is present in the report, even one that could not run.
        if t.addresses.is_empty() {
            probes.extend(
                plan.probes
                    .iter()
                    .map(|p| unresolved(p, t.resolution.detail.clone())),
            );
        }
        reports.push(TargetReport {
            host_unicode: crate::plan::unicode_form(&t.target.host),
            host: t.target.host,
            role: t.target.role,
            tls_name: t.target.tls_name,
            addresses: t.addresses,
            resolution: t.resolution,
            local_addresses: t.local_addresses,
            probes,
            dns: None,
        });
    }
    reports
}
