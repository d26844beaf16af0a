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
//! deadline (`trace::paths` on that one host: its bounds are per host).
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
use crate::plan::{HostLine, Plan, Role, Target};
use crate::rdns;
use crate::report::{self, Finding, InputCounts, LocalFacts, MxLookup, TargetReport};
use crate::resolve;
use crate::runner::{self, Bounds};
use crate::tls::Trust;
use crate::trace;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch, OnceCell};
use tokio::task::JoinSet;
use tokio::time::Instant;

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
    /// Progress of the probes on stderr (a run of one host on a terminal).
    pub progress: bool,
    /// This machine's facts, read when a host first needs them (see [`Run::facts`]).
    pub local_facts: OnceCell<Arc<LocalFacts>>,
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
                if !deliver(joined, &mut names, &events).await {
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
                    if !deliver(joined, &mut names, &events).await {
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
        set.spawn(async move { (i, check_host(&r, t, &[], deadline, false, s).await) });
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
            let report = check_host(&run, t, &run.domains, deadline, run.progress, stop).await;
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
                set.spawn(async move { (i, check_host(&r, t, &l, deadline, false, s).await) });
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
            lookup.policy = promises.map(Box::new);
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
    progress: bool,
    mut stop: watch::Receiver<bool>,
) -> TargetReport {
    let plan = &run.plan;
    let resolved = resolve::resolve_target(t, plan.family, &run.dns, deadline, &run.local).await;
    let questions = rdns::questions(&plan.names, plan.family, std::slice::from_ref(&resolved));
    let (mut report, names) = tokio::join!(
        runner::probe_target(
            plan,
            resolved,
            run.trust.clone(),
            &run.bounds,
            progress,
            deadline
        ),
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
        paths = trace::paths(plan, one, &run.dns, deadline) => paths,
        () = stopped => trace::Paths::default(),
    };
    paths.fill(0, &mut report);
    report
}

/// How many distinct hosts a run remembers to skip a duplicate: the last
/// 65,536, as their 64-bit hash (about 1 MiB). A host seen again after that
/// many others is checked again, never wrongly skipped (but for a collision
/// of the 64-bit hash); `sort -u` the list for an exact count.
pub const SEEN_HOSTS: usize = 1 << 16;

/// The hosts seen lately, to skip duplicates in bounded memory.
struct Seen {
    order: std::collections::VecDeque<u64>,
    set: std::collections::HashSet<u64>,
    cap: usize,
}

impl Seen {
    fn new(cap: usize) -> Seen {
        Seen {
            order: std::collections::VecDeque::new(),
            set: std::collections::HashSet::new(),
            cap,
        }
    }

    /// Remember `host`; false when it was seen lately.
    fn first(&mut self, host: &str) -> bool {
        let h = crate::plan::host_hash(host);
        if self.set.contains(&h) {
            return false;
        }
        if self.order.len() == self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.order.push_back(h);
        self.set.insert(h);
        true
    }
}

/// What the feeder has done so far, shared with the run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fed {
    /// What became of the lines of --hosts-file.
    pub input: InputCounts,
    /// Hosts (mail domains) handed to the run, arguments and lines.
    pub hosts: u64,
}

/// The hosts to check, as units, handed to `units` one by one on a thread
/// of its own (a read of stdin blocks): the HOST arguments, then the lines
/// of --hosts-file, read as the run takes them (the channel's capacity is
/// the lookahead). Each host once (see [`SEEN_HOSTS`]), only this --shard's,
/// a bad line reported on stderr with its number and counted. Returns the
/// control hosts, and the counts (read them when the run is over).
pub fn feed(plan: Arc<Plan>, units: mpsc::Sender<Unit>) -> (Vec<Target>, Arc<Mutex<Fed>>) {
    let controls: Vec<Target> = plan
        .targets
        .iter()
        .filter(|t| t.role == Role::Control)
        .cloned()
        .collect();
    let fed = Arc::new(Mutex::new(Fed::default()));
    let counts = fed.clone();
    let spawned = std::thread::Builder::new()
        .name("mailport-hosts".into())
        .spawn(move || feed_all(&plan, &units, &counts));
    if let Err(e) = spawned {
        eprintln!("mailport: error: cannot start reading the hosts: {e}");
    }
    (controls, fed)
}

fn feed_all(plan: &Plan, units: &mpsc::Sender<Unit>, fed: &Mutex<Fed>) {
    let count = |f: &dyn Fn(&mut Fed)| {
        if let Ok(mut fed) = fed.lock() {
            f(&mut fed)
        }
    };
    let mut seen = Seen::new(SEEN_HOSTS);
    for t in plan.targets.iter().filter(|t| t.role == Role::Control) {
        seen.first(&t.key());
    }
    // Hand one host on; false when the run takes no more.
    let mut send = |t: Target| -> bool {
        if !seen.first(&t.key()) {
            count(&|f| f.input.duplicates += 1);
            return true;
        }
        if plan.shard.is_some_and(|s| !s.takes(&t.host)) {
            count(&|f| f.input.other_shards += 1);
            return true;
        }
        count(&|f| f.hosts += 1);
        let unit = if plan.names.mx {
            Unit::Domain(t)
        } else {
            Unit::Host(t)
        };
        units.blocking_send(unit).is_ok()
    };
    for t in plan.targets.iter().filter(|t| t.role == Role::Target) {
        if !send(t.clone()) {
            return;
        }
    }
    let Some(file) = &plan.hosts_file else {
        return;
    };
    let shown = file.shown();
    let lines = match file.open() {
        Ok(lines) => lines,
        Err(e) => {
            eprintln!("mailport: error: cannot read --hosts-file {shown}: {e}");
            return;
        }
    };
    for line in lines {
        let (number, line) = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("mailport: error: cannot read --hosts-file {shown}: {e}");
                return;
            }
        };
        count(&|f| f.input.lines += 1);
        let why = match line {
            HostLine::Skip => continue,
            HostLine::Bad(why) => why,
            HostLine::Host(raw) => match plan.host_of_line(&raw) {
                Ok(t) => {
                    if !send(t) {
                        return;
                    }
                    continue;
                }
                Err(e) => format!("{e:#}"),
            },
        };
        count(&|f| f.input.bad_lines += 1);
        eprintln!("mailport: --hosts-file {shown} line {number}: {why}; skipped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_skipped_within_the_window_only() {
        let mut seen = Seen::new(3);
        assert!(seen.first("a.example"));
        assert!(!seen.first("a.example"));
        assert!(seen.first("b.example"));
        assert!(seen.first("c.example"));
        assert!(!seen.first("a.example"), "still in the window");
        assert!(seen.first("d.example"));
        // a.example left the window: checked again, never wrongly skipped.
        assert!(seen.first("a.example"));
        assert!(seen.order.len() <= 3 && seen.set.len() <= 3);
    }
}
