//! The run of a check over its hosts, host by host: each host goes resolve →
//! probe (and its DNS checks beside) → trace → diagnose on its own,
//! concurrently with the others, and comes out as an [`Event`] as soon as it
//! is done, so
//! that the caller can print it and drop it. Memory stays flat however many
//! hosts a run checks: hosts are taken from the input only as slots free up
//! ([`Run::units_in_flight`]), all of them share one bound on probes
//! (--max-probes) and one per address (--max-per-address), and nothing of a
//! host is kept once its event is sent.
//!
//! The cross-host rules need the control hosts (--control): they are started
//! first, beside the first hosts, and a host is diagnosed once they are done.
//!
//! A unit of work is a host, or with --mx a mail domain: its MX lookup, then
//! its MX hosts. A run that prints one report (JSON, or text for one host)
//! has one deadline for everything (`Run::deadline`); a run that prints host
//! by host gives each unit its own --deadline from the moment it starts.
//!
//! The trace is a step of each host, after its probes, under the host's
//! deadline (`trace::paths` on that one host: its bounds are per host); the
//! walks are the run's, as the probes are: the hosts behind one filtered
//! address share its walk ([`Run::traces`]).
//! This machine's facts (`local::gather`) are the run's, not a host's: they
//! are read at most once, by the first host that has a failed SMTP probe
//! (`local::wanted`), kept in [`Run::facts`], and every such host is then
//! explained by them (`smtp_blocked_for_user`).
//!
//! When `stop` turns true (Ctrl-C) no unit and no probe is started any more
//! (a probe waiting for its slot ends as not run); units still under way get
//! [`GRACE`] to end, then they are cut and counted, never half-reported.

use crate::codes::Code;
use crate::diagnose::{self, Controls};
use crate::dns::{self, Dns};
use crate::exit;
use crate::local;
use crate::plan::{Plan, Target};
use crate::rdns;
use crate::report::{self, Finding, LocalFacts, MxLookup, TargetReport};
use crate::resolve;
use crate::runner::{self, Bounds};
use crate::tls::Trust;
use crate::trace;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, OnceCell};
use tokio::task::JoinSet;
use tokio::time::Instant;

mod feed;
pub mod progress;
pub use feed::{feed, Fed, SEEN_HOSTS};
pub use progress::Progress;

/// How long the units under way may take to end after Ctrl-C.
pub const GRACE: Duration = Duration::from_secs(1);

/// What a run needs, shared by its units.
pub struct Run {
    pub plan: Arc<Plan>,
    pub dns: Dns,
    pub trust: Arc<Trust>,
    pub bounds: Arc<Bounds>,
    /// This machine's addresses.
    pub local: Arc<Vec<IpAddr>>,
    /// One deadline for the whole run, or `None`: each unit has its own.
    pub deadline: Option<Instant>,
    /// The MX lookups made before the run (--mx, one report), for `mx_of`.
    pub domains: Arc<Vec<MxLookup>>,
    /// The progress line on stderr (a terminal), fed by the run's events.
    pub progress: Option<Arc<Progress>>,
    /// This machine's facts, read when a host first needs them (see [`Run::facts`]).
    pub local_facts: OnceCell<Arc<LocalFacts>>,
    /// The walks of the traces made so far, shared by the hosts (`trace::Traces`).
    pub traces: trace::Traces,
}

/// One unit of work.
#[derive(Debug, Clone)]
pub enum Unit {
    /// A host to check.
    Host(Target),
    /// --mx: a mail domain, whose MX hosts are checked.
    Domain(Target),
}

/// Where an event goes in a run's single report: control hosts after the
/// hosts, units in input order, an --mx domain's hosts after its lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Order {
    pub control: bool,
    pub unit: u64,
    pub sub: usize,
}

/// A part of the run that is done.
#[derive(Debug)]
pub enum Event {
    /// A host, diagnosed; its probes' verdicts are set.
    Host {
        order: Order,
        report: Box<TargetReport>,
        /// Worst first; none for a control host.
        findings: Vec<Finding>,
        /// The exit status this host alone leads to.
        exit_code: u8,
        /// This machine's facts, when they explain a failed probe of this
        /// host (`smtp_blocked_for_user`); the same for every host of a run.
        local: Option<Arc<LocalFacts>>,
    },
    /// An --mx mail domain's MX lookup, sent before its hosts.
    Domain {
        order: Order,
        lookup: MxLookup,
        findings: Vec<Finding>,
        exit_code: u8,
    },
    /// A unit that failed inside mailport (a bug): it has no report.
    Lost { host: String, why: String },
}

/// How a run ended.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ended {
    /// `stop` was seen.
    pub interrupted: bool,
    /// Units under way when the grace after `stop` ran out, cut.
    pub unfinished: u64,
}

impl Run {
    /// How many units are under way at once: enough to keep every probe
    /// slot busy while the next hosts resolve, and no more, so that memory
    /// does not grow with the number of hosts.
    pub fn units_in_flight(plan: &Plan) -> usize {
        let per_unit = plan.probes.len().max(1);
        (2 * plan.limits.max_probes.div_ceil(per_unit)).clamp(2, 1024)
    }

    fn deadline(&self) -> Instant {
        self.deadline
            .unwrap_or_else(|| Instant::now() + self.plan.limits.deadline)
    }

    /// This machine's facts (without its listeners: `check` is about
    /// connecting out), read once for the run by the first host that asks.
    /// They are read on a blocking thread (files, `iptables-save`, `nft`).
    pub async fn facts(&self) -> Arc<LocalFacts> {
        self.local_facts
            .get_or_init(|| async {
                let plan = self.plan.clone();
                match tokio::task::spawn_blocking(move || local::gather(&plan.local, false)).await {
                    Ok(facts) => Arc::new(facts),
                    // A bug of mailport's: the host is lost (Event::Lost), as any panic.
                    Err(e) => std::panic::resume_unwind(e.into_panic()),
                }
            })
            .await
            .clone()
    }
}

/// Check `controls` and every unit that `units` yields, sending each part to
/// `events` as it is done, until `units` ends (or `stop`).
pub async fn run(
    run: Arc<Run>,
    controls: Vec<Target>,
    mut units: mpsc::Receiver<Unit>,
    events: mpsc::Sender<Event>,
    mut stop: watch::Receiver<bool>,
) -> Ended {
    let (evidence_tx, evidence) = watch::channel::<Option<Arc<Controls>>>(None);
    let mut set: JoinSet<Vec<Event>> = JoinSet::new();
    let mut names: std::collections::HashMap<tokio::task::Id, String> =
        std::collections::HashMap::new();
    if controls.is_empty() {
        let _ = evidence_tx.send(Some(Arc::new(diagnose::controls(&[]))));
    } else {
        let (r, s) = (run.clone(), stop.clone());
        let id = set
            .spawn(async move { check_controls(r, controls, evidence_tx, s).await })
            .id();
        names.insert(id, "the control hosts".into());
    }
    let max = Run::units_in_flight(&run.plan);
    let mut feeding = true;
    let mut listening = true;
    let mut ended = Ended::default();
    let mut unit_index = 0u64;
    while feeding || !set.is_empty() {
        tokio::select! {
            changed = stop.changed(), if listening => {
                match changed {
                    Ok(()) if *stop.borrow() => {
                        ended.interrupted = true;
                        break;
                    }
                    Ok(()) => {}
                    Err(_) => listening = false,
                }
            }
            joined = set.join_next_with_id(), if !set.is_empty() => {
                if !deliver(joined, &mut names, &events, run.progress.as_deref()).await {
                    return ended;
                }
            }
            unit = units.recv(), if feeding && set.len() < max => {
                match unit {
                    Some(unit) => {
                        let name = match &unit {
                            Unit::Host(t) | Unit::Domain(t) => t.host.clone(),
                        };
                        let (r, e, i) = (run.clone(), evidence.clone(), unit_index);
                        let s = stop.clone();
                        let id = set.spawn(async move { check_unit(r, unit, i, e, s).await }).id();
                        names.insert(id, name);
                        unit_index += 1;
                    }
                    None => feeding = false,
                }
            }
        }
    }
    if ended.interrupted {
        run.bounds.close();
        let grace = tokio::time::sleep(GRACE);
        tokio::pin!(grace);
        while !set.is_empty() {
            tokio::select! {
                joined = set.join_next_with_id() => {
                    if !deliver(joined, &mut names, &events, run.progress.as_deref()).await {
                        return ended;
                    }
                }
                _ = &mut grace => break,
            }
        }
        ended.unfinished = set.len() as u64;
        set.abort_all();
    }
    ended
}

type Joined = Option<Result<(tokio::task::Id, Vec<Event>), tokio::task::JoinError>>;

/// Send a finished unit's events on; false when nobody listens any more.
async fn deliver(
    joined: Joined,
    names: &mut std::collections::HashMap<tokio::task::Id, String>,
    events: &mpsc::Sender<Event>,
    progress: Option<&Progress>,
) -> bool {
    let done = match joined {
        Some(Ok((id, done))) => {
            names.remove(&id);
            done
        }
        Some(Err(e)) => {
            let host = names.remove(&e.id()).unwrap_or_default();
            let why = if e.is_panic() {
                "mailport failed while checking it (it panicked); this is a bug in mailport, please report it"
            } else {
                "its check was cancelled"
            };
            vec![Event::Lost {
                host,
                why: why.into(),
            }]
        }
        None => return true,
    };
    for event in done {
        if let Some(p) = progress {
            p.event(&event);
        }
        if events.send(event).await.is_err() {
            return false;
        }
    }
    true
}

/// The control hosts, all at once; their evidence is published for the
/// hosts' diagnosis, and their reports are events like the hosts'.
async fn check_controls(
    run: Arc<Run>,
    controls: Vec<Target>,
    evidence: watch::Sender<Option<Arc<Controls>>>,
    stop: watch::Receiver<bool>,
) -> Vec<Event> {
    let deadline = run.deadline();
    let mut set = JoinSet::new();
    for (i, t) in controls.into_iter().enumerate() {
        let (r, s) = (run.clone(), stop.clone());
        set.spawn(async move { (i, check_host(&r, t, &[], deadline, s).await) });
    }
    let mut reports = Vec::new();
    while let Some(joined) = set.join_next().await {
        if let Ok(done) = joined {
            reports.push(done);
        }
    }
    reports.sort_by_key(|(i, _)| *i);
    let reports: Vec<TargetReport> = reports.into_iter().map(|(_, r)| r).collect();
    let _ = evidence.send(Some(Arc::new(diagnose::controls(&reports))));
    reports
        .into_iter()
        .enumerate()
        .map(|(i, report)| Event::Host {
            order: Order {
                control: true,
                unit: i as u64,
                sub: 0,
            },
            report: Box::new(report),
            findings: Vec::new(),
            exit_code: exit::OK,
            local: None,
        })
        .collect()
}

/// One unit, from its name to its diagnosed reports.
async fn check_unit(
    run: Arc<Run>,
    unit: Unit,
    index: u64,
    evidence: watch::Receiver<Option<Arc<Controls>>>,
    stop: watch::Receiver<bool>,
) -> Vec<Event> {
    let deadline = run.deadline();
    let order = |sub| Order {
        control: false,
        unit: index,
        sub,
    };
    match unit {
        Unit::Host(t) => {
            let report = check_host(&run, t, &run.domains, deadline, stop).await;
            let controls = controls_of(evidence).await;
            vec![host_event(&run, order(0), report, &controls, Vec::new()).await]
        }
        Unit::Domain(domain) => {
            let mut lookup = dns::mx(&run.dns, &domain.host, deadline).await;
            let mut targets = Vec::new();
            resolve::mx_targets(&run.plan, &domain, &lookup, &mut targets);
            let lookups = Arc::new(vec![lookup.clone()]);
            let mut set = JoinSet::new();
            for (i, t) in targets.into_iter().enumerate() {
                let (r, l, s) = (run.clone(), lookups.clone(), stop.clone());
                set.spawn(async move { (i, check_host(&r, t, &l, deadline, s).await) });
            }
            let hosts = async {
                let mut reports = std::collections::BTreeMap::new();
                while let Some(joined) = set.join_next().await {
                    reports.extend(joined.ok());
                }
                reports.into_values().collect::<Vec<_>>()
            };
            let (plan, dns, trust) = (&run.plan, &run.dns, &run.trust);
            let promises = crate::policy::for_domain(plan, dns, trust, &lookup, deadline);
            let (reports, promises) = tokio::join!(hosts, promises);
            lookup.policy = promises.map(|p| Box::new(p.dane_matched(&reports)));
            let controls = controls_of(evidence).await;
            let (findings, about_hosts) = diagnose::domain_findings(&lookup, &reports);
            let exit_code = exit::status(&findings, run.plan.fail_on);
            let mut out = vec![Event::Domain {
                order: order(0),
                lookup,
                findings,
                exit_code,
            }];
            for (i, (report, mine)) in reports.into_iter().zip(about_hosts).enumerate() {
                out.push(host_event(&run, order(i + 1), report, &controls, mine).await);
            }
            out
        }
    }
}

/// The control hosts' evidence, once they are done (none if they failed).
async fn controls_of(mut evidence: watch::Receiver<Option<Arc<Controls>>>) -> Arc<Controls> {
    match evidence.wait_for(Option::is_some).await {
        Ok(c) => c
            .clone()
            .unwrap_or_else(|| Arc::new(diagnose::controls(&[]))),
        Err(_) => Arc::new(diagnose::controls(&[])),
    }
}

/// One host diagnosed: the rules, then, for a mail port that did not
/// connect, what this machine's own firewall says (read once for the run).
async fn host_event(
    run: &Run,
    order: Order,
    mut report: TargetReport,
    controls: &Controls,
    policy: Vec<Finding>,
) -> Event {
    let mut findings = diagnose::diagnose_target(&report, controls);
    findings.extend(policy);
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let mut local = None;
    let one = std::slice::from_ref(&report);
    if local::wanted(one) {
        let facts = run.facts().await;
        findings = diagnose::local::explain_failures(findings, one, &facts);
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        // Shown only when they explain a failure; otherwise they would only
        // repeat, for every host with a closed port 25, what `mailport local` says.
        local = findings
            .iter()
            .any(|f| f.code == Code::SmtpBlockedForUser)
            .then_some(facts);
    }
    report::set_verdicts(&mut report, &findings);
    let exit_code = exit::status(&findings, run.plan.fail_on);
    Event::Host {
        order,
        report: Box::new(report),
        findings,
        exit_code,
        local,
    }
}

/// One host: resolve, then its probes and its DNS checks at once, then the
/// trace of the ports the probes found failing (cut short by `stop`: the
/// host is reported without it).
async fn check_host(
    run: &Run,
    t: Target,
    domains: &[MxLookup],
    deadline: Instant,
    mut stop: watch::Receiver<bool>,
) -> TargetReport {
    let plan = &run.plan;
    let resolved = resolve::resolve_target(t, plan.family, &run.dns, deadline, &run.local).await;
    let questions = rdns::questions(&plan.names, plan.family, std::slice::from_ref(&resolved));
    let (mut report, names) = tokio::join!(
        runner::probe_target(plan, resolved, run.trust.clone(), &run.bounds, deadline),
        rdns::ask(questions, &run.dns, deadline),
    );
    report.dns = names.for_target(&report, domains);
    // Where a failing port is blocked, after the probes found it failing.
    let one = std::slice::from_ref(&report);
    let stopped = async {
        if stop.wait_for(|s| *s).await.is_err() {
            // Nobody can stop this run (`ptr`, or no Ctrl-C handler).
            std::future::pending::<()>().await;
        }
    };
    let paths = tokio::select! {
        paths = trace::paths(plan, one, &run.dns, &run.traces, deadline) => paths,
        () = stopped => trace::Paths::default(),
    };
    paths.fill(0, &mut report);
    report
}
