//! The probe stage: every address of every resolved target × every probe of
//! the plan, all at once, bounded by --max-probes in all and by
//! --max-per-address to one address, each under its own phase timeouts and
//! the run's deadline. A probe that a server's per-client connection limit
//! turned away is run once more, alone, after the other probes to its
//! address. Each target comes back together with its probes, in the plan's
//! order.

use crate::escape::{escape_str, safe_text};
use crate::phase::secs;
use crate::plan::{Plan, Probe};
use crate::probe::ProbeSpec;
use crate::report::{Outcome, ProbeResult, TargetReport};
use crate::resolve::ResolvedTarget;
use crate::tls::Trust;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

mod bounds;
mod live;
use bounds::Slots;
pub use bounds::{Bounds, PROBES_KEPT, PROBE_BYTES_KEPT, PROBE_MAX_AGE};
pub use live::{Live, Pending};

/// Before a retry, time for the server to count mailport's other
/// connections to the address as closed (Exim reaps its children, Postfix's
/// anvil hears of the disconnect, a little after the close).
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// A retry is not started with less time than this left, even when the
/// connect and greeting timeouts are shorter.
const MIN_RETRY_TIME: Duration = Duration::from_secs(1);

/// Where a probe's result goes: (target, address, probe) in the plan's order.
type Key = (usize, usize, usize);

/// A probe task that panicked: a bug in mailport, reported as such rather than
/// left out of the report.
fn panicked(spec: &ProbeSpec, why: &str) -> ProbeResult {
    ProbeResult {
        outcome: Outcome::InternalError,
        detail: Some(escape_str(&format!(
            "mailport failed inside this probe ({why}); this is a bug in mailport, please report it"
        ))),
        ..ProbeResult::new(spec.service, spec.addr.port(), Some(spec.addr.ip()))
    }
}

/// A probe that could not run because the host name did not resolve.
fn unresolved(p: &Probe, detail: Option<String>) -> ProbeResult {
    ProbeResult {
        outcome: Outcome::DnsFailed,
        detail: detail.map(|d| escape_str(&d)),
        requested: p.requested,
        ..ProbeResult::new(p.service, p.port, None)
    }
}

/// What one task runs: its address, whether it retries, and its probes (one
/// first attempt, or the retries of one address one after another).
struct Task {
    addr: IpAddr,
    retry: bool,
    rows: Vec<(Key, ProbeSpec)>,
}

/// A probe turned away by a per-client connection limit, waiting for the
/// other probes to its address to end.
struct Waiting {
    key: Key,
    spec: ProbeSpec,
    first: ProbeResult,
}

/// Run the limited probes of one address again, one at a time, when the
/// other probes to the address are done. `others`: whether mailport had other
/// connections to the address when they were turned away.
async fn retry_alone(waiting: Vec<Waiting>, slots: Slots, others: bool) -> Vec<(Key, ProbeResult)> {
    let mut out = Vec::with_capacity(waiting.len());
    for w in waiting {
        let t = w.spec.timeouts;
        let needed = (t.connect + t.greeting).max(MIN_RETRY_TIME);
        let left = w
            .spec
            .deadline
            .saturating_duration_since(Instant::now() + RETRY_PAUSE);
        if left < needed {
            let mut first = w.first;
            first.notes.push(escape_str(&format!(
                "not retried: only {} were left before the check's deadline (--deadline), and a retry needs the connect and greeting timeouts ({})",
                secs(left),
                secs(needed)
            )));
            out.push((w.key, first));
            continue;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
        let retry = slots.run_once(&w.spec, true).await;
        out.push((w.key, retried(w.first, retry, others)));
    }
    out
}

/// The retry's result, saying what happened to the first attempt.
fn retried(first: ProbeResult, mut retry: ProbeResult, others: bool) -> ProbeResult {
    let first_words = first.detail.unwrap_or_default();
    let why = if others {
        "while mailport had other connections open to this address"
    } else {
        "though mailport had no other connection open to this address (other clients at your address may hold the server's connections)"
    };
    retry.retried = true;
    retry.notes.insert(
        0,
        safe_text!(
            "the first attempt was turned away {}: {}; this is the result of one retry, made alone after mailport's other probes to the address",
            why,
            first_words
        ),
    );
    if retry.outcome == Outcome::ConnectionLimited {
        let again = retry.detail.take().unwrap_or_default();
        retry.detail = Some(safe_text!(
            "{}; turned away again when retried alone: the server allows fewer connections from this address than one probe needs, or other clients at your address (a NAT, a mail client) hold them",
            again
        ));
    }
    retry
}

/// Run every probe of `plan` on `targets`, within the run's `bounds`; the
/// reports come back in the order of `targets`, each with its probes ordered
/// by address, then by the plan's probes.
pub async fn probe_all(
    plan: &Plan,
    targets: Vec<ResolvedTarget>,
    trust: Arc<Trust>,
    bounds: &Bounds,
    deadline: Instant,
) -> Vec<TargetReport> {
    let mut results = run_jobs(plan, &targets, trust, bounds, deadline)
        .await
        .into_iter()
        .peekable();
    let mut reports = Vec::with_capacity(targets.len());
    for (ti, t) in targets.into_iter().enumerate() {
        let mut probes = Vec::new();
        while let Some((_, r)) = results.next_if(|((i, _, _), _)| *i == ti) {
            probes.push(r);
        }
        reports.push(target_report(plan, t, probes));
    }
    reports
}

/// Run every probe of `plan` on one target, within the run's `bounds`.
pub async fn probe_target(
    plan: &Plan,
    target: ResolvedTarget,
    trust: Arc<Trust>,
    bounds: &Bounds,
    deadline: Instant,
) -> TargetReport {
    let targets = std::slice::from_ref(&target);
    let results = run_jobs(plan, targets, trust, bounds, deadline).await;
    target_report(plan, target, results.into_iter().map(|(_, r)| r).collect())
}

/// Every probe of every target, sorted by (target, address, probe).
async fn run_jobs(
    plan: &Plan,
    targets: &[ResolvedTarget],
    trust: Arc<Trust>,
    bounds: &Bounds,
    deadline: Instant,
) -> Vec<(Key, ProbeResult)> {
    let mut jobs = Vec::new();
    for (ti, t) in targets.iter().enumerate() {
        for (ai, addr) in t.addresses.iter().enumerate() {
            for (pi, p) in plan.probes_of(&t.target).iter().enumerate() {
                let spec = ProbeSpec {
                    addr: SocketAddr::new(*addr, p.port),
                    service: p.service,
                    tls_name: t.target.tls_name.clone(),
                    ehlo: plan.ehlo.clone(),
                    timeouts: plan.timeouts,
                    deadline,
                    trust: trust.clone(),
                    transcript: plan.transcript,
                };
                jobs.push(((ti, ai, pi), spec));
            }
        }
    }
    let total = jobs.len();
    // How many first attempts to each address have not ended yet (and, in
    // `sizes`, how many there are in all); the probes a connection limit
    // turned away, waiting for them.
    let mut pending: HashMap<IpAddr, usize> = HashMap::new();
    let mut waiting: HashMap<IpAddr, Vec<Waiting>> = HashMap::new();
    let mut set = JoinSet::new();
    // What each task runs, so that a task that panicked still has its rows.
    let mut tasks: HashMap<tokio::task::Id, Task> = HashMap::new();
    for (key, spec) in jobs {
        let addr = spec.addr.ip();
        *pending.entry(addr).or_default() += 1;
        let slots = bounds.slots(addr);
        let task_spec = spec.clone();
        let id = set
            .spawn(async move { vec![(key, slots.run_once(&task_spec, false).await)] })
            .id();
        tasks.insert(
            id,
            Task {
                addr,
                retry: false,
                rows: vec![(key, spec)],
            },
        );
    }
    let sizes = pending.clone();
    let mut results: Vec<(Key, ProbeResult)> = Vec::with_capacity(total);
    while let Some(joined) = set.join_next_with_id().await {
        let id = match &joined {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        let Some(Task { addr, retry, rows }) = tasks.remove(&id) else {
            continue;
        };
        let done = match joined {
            Ok((_, done)) => done,
            Err(e) => {
                let why = if e.is_panic() {
                    "it panicked"
                } else {
                    "it was cancelled"
                };
                rows.iter()
                    .map(|(key, spec)| (*key, panicked(spec, why)))
                    .collect()
            }
        };
        for (key, result) in done {
            let spec = rows.iter().find(|(k, _)| *k == key).map(|(_, s)| s);
            match spec {
                Some(spec) if !retry && result.outcome == Outcome::ConnectionLimited => {
                    waiting.entry(addr).or_default().push(Waiting {
                        key,
                        spec: spec.clone(),
                        first: result,
                    });
                }
                _ => results.push((key, result)),
            }
        }
        if !retry {
            let left = pending.entry(addr).or_default();
            *left = left.saturating_sub(1);
            if *left == 0 {
                if let Some(batch) = waiting.remove(&addr) {
                    // Were other connections of mailport's open to the address?
                    let others = sizes.get(&addr).copied().unwrap_or(0) > 1
                        && plan.limits.max_per_address > 1;
                    let rows = batch.iter().map(|w| (w.key, w.spec.clone())).collect();
                    let slots = bounds.slots(addr);
                    let id = set
                        .spawn(async move { retry_alone(batch, slots, others).await })
                        .id();
                    tasks.insert(
                        id,
                        Task {
                            addr,
                            retry: true,
                            rows,
                        },
                    );
                }
            }
        }
    }
    results.sort_by_key(|(k, _)| *k);
    for ((ti, _, pi), r) in &mut results {
        r.requested = plan.probes_of(&targets[*ti].target)[*pi].requested;
    }
    results
}

/// A target's report with its probes; a target without an address gets a
/// `dns_failed` row for each probe of the plan (every probe is present).
fn target_report(plan: &Plan, t: ResolvedTarget, mut probes: Vec<ProbeResult>) -> TargetReport {
    if t.addresses.is_empty() {
        probes.extend(
            plan.probes_of(&t.target)
                .iter()
                .map(|p| unresolved(p, t.resolution.detail.as_ref().map(|d| d.to_string()))),
        );
    }
    TargetReport {
        host_unicode: crate::plan::unicode_form(&t.target.host),
        host: t.target.host,
        role: t.target.role,
        tls_name: t.target.tls_name,
        addresses: t.addresses,
        resolution: t.resolution,
        local_addresses: t.local_addresses,
        probes,
        dns: None,
        traces: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::SERVICES;

    /// A target verified against this name makes its probes panic (test builds only).
    pub(super) const PANIC_NAME: &str = "panic.mailport.invalid";

    /// A probe task that panics is a bug of mailport: it is an internal_error
    /// row of the report, never a row silently missing.
    #[tokio::test]
    async fn a_probe_that_panics_is_an_internal_error_row() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "mailport",
            "check",
            "127.0.0.1",
            "--port",
            "9/smtp",
            "--port",
            "9/pop3",
        ])
        .unwrap();
        let crate::cli::Command::Check(args) = cli.command else {
            panic!("not check")
        };
        let plan = Plan::from_args(&args).unwrap();
        let mut target = plan.targets[0].clone();
        target.tls_name = PANIC_NAME.into();
        let resolved = ResolvedTarget {
            target,
            addresses: vec!["127.0.0.1".parse().unwrap()],
            local_addresses: vec![],
            resolution: crate::report::Resolution {
                source: crate::report::ResolutionSource::Literal,
                status: crate::report::DnsStatus::Found,
                detail: None,
                ms: 0,
            },
        };
        let trust = Arc::new(Trust::load(None).unwrap());
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let bounds = Bounds::new(plan.limits);
        let reports = probe_all(&plan, vec![resolved], trust, &bounds, deadline).await;
        let probes = &reports[0].probes;
        assert_eq!(probes.len(), 2, "every probe has its row: {probes:#?}");
        for p in probes {
            assert_eq!(p.outcome, Outcome::InternalError, "{p:#?}");
            assert!(
                p.detail.as_deref().unwrap().contains("it panicked"),
                "{p:#?}"
            );
            assert_eq!(p.port, 9);
        }
    }

    #[test]
    fn the_default_sweep_runs_all_at_once_to_one_address() {
        // DESIGN.md: a host whose every port is filtered takes about one
        // timeout, so the default per-address bound must not queue the sweep.
        let sweep = SERVICES.iter().filter(|s| s.default).count();
        assert!(usize::from(crate::cli::DEFAULT_MAX_PER_ADDRESS) >= sweep);
    }

    fn probe(outcome: Outcome, detail: &str) -> ProbeResult {
        ProbeResult {
            outcome,
            detail: Some(escape_str(detail)),
            ..ProbeResult::new(&SERVICES[0], 25, Some("192.0.2.1".parse().unwrap()))
        }
    }

    #[test]
    fn a_retry_says_what_happened_to_the_first_attempt() {
        let first = probe(
            Outcome::ConnectionLimited,
            "the server turned the connection away …: \"421 Too many concurrent SMTP connections from this IP address\"",
        );
        let ok = retried(
            first.clone(),
            ProbeResult::new(&SERVICES[0], 25, None),
            true,
        );
        assert!(ok.retried);
        assert_eq!(ok.outcome, Outcome::Ok);
        assert!(ok.notes[0].contains("421 Too many concurrent SMTP connections"));
        assert!(ok.notes[0].contains("other connections open"));

        let again = retried(first.clone(), first, false);
        assert_eq!(again.outcome, Outcome::ConnectionLimited);
        assert!(again
            .detail
            .as_deref()
            .unwrap()
            .contains("turned away again"));
        assert!(again.notes[0].contains("no other connection"));
    }
}
