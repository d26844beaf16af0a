//! The trace stage, after the probes: where on the path is a port blocked?
//!
//! For a port that timed out while another port of the same address
//! connected (or, with --trace, every port whose connection failed), connect
//! with rising TTL (1, 2, 3 …) to the failing port and, beside it, to the
//! port that works, and read from each socket's error queue who answered:
//! a router's ICMP time-exceeded, the destination, a filter's reject, or
//! nothing. The rules that read two walks side by side are pure, in
//! `diagnose/trace.rs`. No root is needed (Linux 5.8 and later).
//!
//! Each port's walk keeps one source port for all its TTLs, so that the
//! walk is one flow for load balancers that hash on the ports (ECMP). The
//! kernel allows one connection per address-and-port pair at a time, so a
//! walk tries one TTL after the other; the walks of the failing ports and
//! of the control port, and those of every address, run side by side, one
//! TTL per round. A walk stops at the destination, at an answer from a
//! filter, or after [`SILENT_IN_A_ROW`] silent hops where the control port's
//! walk got answers; the control's walk goes on to the destination. The
//! whole stage keeps [`TRACE_BOUND`] (within --deadline), and
//! naming the hops that answered (PTR, only with --dns-server or for public
//! addresses, like the reverse-DNS checks) keeps [`NAMES_BOUND`] after it.
//!
//! This stage also names the senders of the probes' own ICMP errors.
//!
//! A run of several hosts traces each host on its own (`fleet.rs`), after
//! that host's probes and within its deadline: the bounds above are a host's.
//! But the same walks (an address, its failing ports, the control port, why
//! they are traced) are made once per run, as the probes are: the hosts
//! behind one filtered MX share its trace ([`Traces`], `shared.rs`), the
//! walks (`walk.rs`) sending their SYNs to that server once.

use crate::dns::{self, Dns};
use crate::plan::{Plan, Role, TraceMode};
use crate::rdns::skip_reason;
use crate::report::{ConnectResult, Outcome, ProbeResult, TargetReport, Trace, TraceReason};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

mod shared;
mod walk;
pub use shared::{Traces, TRACES_KEPT, TRACE_BYTES_KEPT, TRACE_MAX_AGE};

/// The most TTLs a walk tries.
pub const MAX_HOPS: u8 = 16;
/// How long one TTL waits for an answer.
pub const HOP_WAIT: Duration = Duration::from_secs(1);
/// The whole trace stage: every walk of every address, side by side.
pub const TRACE_BOUND: Duration = Duration::from_secs(6);
/// Naming the hops and ICMP senders (PTR) after the walks.
pub const NAMES_BOUND: Duration = Duration::from_secs(2);
/// A failing port's walk stops after this many silent hops in a row (where
/// the control port's walk was answered).
pub const SILENT_IN_A_ROW: usize = 2;
/// At most this many addresses of a host are traced (each host of a run is
/// traced on its own, after its probes)…
pub const MAX_ADDRESSES: usize = 4;
/// …and at most this many failing ports of one address.
pub const MAX_PORTS: usize = 3;
/// At most this many addresses are named.
const MAX_NAMES: usize = 32;
/// A trace is not started with less time than this before the deadline.
const MIN_TIME: Duration = Duration::from_millis(500);
/// The trace ends this long before the run's deadline, for the report.
const DEADLINE_MARGIN: Duration = Duration::from_millis(200);
/// The control port, when several connected: the submission ports first,
/// which providers leave open when they block 25.
const CONTROL_PREFERENCE: &[u16] = &[587, 465, 443, 993, 995, 143, 110, 80, 25];

/// What to trace at one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The target's index in the report.
    pub target: usize,
    pub address: IpAddr,
    /// (service, port) of each failing port.
    pub failing: Vec<(String, u16)>,
    pub control: Option<(String, u16)>,
    pub reason: TraceReason,
}

fn connected(p: &ProbeResult) -> bool {
    p.connect
        .as_ref()
        .is_some_and(|c| c.result == ConnectResult::Connected)
}

fn timed_out(p: &ProbeResult) -> bool {
    p.outcome == Outcome::ConnectTimeout
        && p.connect
            .as_ref()
            .is_some_and(|c| c.result == ConnectResult::Timeout)
}

/// Which ports of which addresses to trace: with `Auto`, a port that timed
/// out while another port of its address connected; with `Always`, every
/// port whose connect failed. Never an address of this machine (no path to
/// walk) nor a control host.
pub fn jobs(mode: TraceMode, targets: &[TargetReport]) -> Vec<Job> {
    let mut out = Vec::new();
    if mode == TraceMode::Never {
        return out;
    }
    for (ti, t) in targets.iter().enumerate() {
        if t.role != Role::Target {
            continue;
        }
        for addr in &t.addresses {
            if t.local_addresses.contains(addr) || out.len() >= MAX_ADDRESSES {
                continue;
            }
            let probes: Vec<&ProbeResult> = t
                .probes
                .iter()
                .filter(|p| p.address == Some(*addr))
                .collect();
            let ok: Vec<&&ProbeResult> = probes.iter().filter(|p| connected(p)).collect();
            let mut failing: Vec<(String, u16)> = Vec::new();
            for p in &probes {
                let wanted = match mode {
                    TraceMode::Auto => timed_out(p) && !ok.is_empty(),
                    _ => p.connect.is_some() && !connected(p),
                };
                if wanted && !failing.iter().any(|(_, port)| *port == p.port) {
                    failing.push((p.service.clone(), p.port));
                }
            }
            failing.truncate(MAX_PORTS);
            if failing.is_empty() {
                continue;
            }
            let control = CONTROL_PREFERENCE
                .iter()
                .find_map(|port| ok.iter().find(|p| p.port == *port))
                .or_else(|| ok.first())
                .map(|p| (p.service.clone(), p.port));
            out.push(Job {
                target: ti,
                address: *addr,
                failing,
                control,
                reason: if mode == TraceMode::Always {
                    TraceReason::Asked
                } else {
                    TraceReason::Auto
                },
            });
        }
    }
    out
}

/// The traces made and the names found, to be joined to the targets.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    traces: Vec<(usize, Trace)>,
    names: BTreeMap<IpAddr, crate::report::SafeText>,
}

impl Paths {
    /// Put the traces of target `index` into it, and the PTR names into
    /// its traces' hops and its probes' ICMP senders.
    pub fn fill(&self, index: usize, t: &mut TargetReport) {
        t.traces = self
            .traces
            .iter()
            .filter(|(i, _)| *i == index)
            .map(|(_, tr)| tr.clone())
            .collect();
        let name = |a: &Option<IpAddr>| a.and_then(|a| self.names.get(&a).cloned());
        for tr in &mut t.traces {
            for h in tr.hops.iter_mut().chain(tr.control_hops.iter_mut()) {
                h.from_name = name(&h.from);
            }
        }
        for p in &mut t.probes {
            if let Some(i) = p.connect.as_mut().and_then(|c| c.icmp.as_mut()) {
                i.from_name = name(&i.from);
            }
        }
    }
}

/// Trace what `jobs` says and name who answered, by the stage's bounds and
/// never after `deadline`. A walk that another host of the run made (or is
/// making) is not made again: its traces are shared (`made`).
pub async fn paths(
    plan: &Plan,
    targets: &[TargetReport],
    dns: &Dns,
    made: &Traces,
    deadline: Instant,
) -> Paths {
    let jobs = jobs(plan.trace, targets);
    let last = deadline.checked_sub(DEADLINE_MARGIN).unwrap_or(deadline);
    let own = Instant::now() + TRACE_BOUND;
    let end = last.min(own);
    // The host's deadline, not the stage's own bound, ends the walks: a
    // walk it cuts short is this host's only (another may have more time).
    let by_deadline = last < own;
    let mut set = JoinSet::new();
    for job in jobs {
        let made = made.clone();
        set.spawn(async move { (job.target, made.walk_once(&job, end, by_deadline).await) });
    }
    let mut traces = Vec::new();
    while let Some(joined) = set.join_next().await {
        if let Ok((ti, found)) = joined {
            traces.extend(found.into_iter().map(|t| (ti, t)));
        }
    }
    // Stable order: by target, address, port.
    traces.sort_by_key(|(ti, t)| (*ti, t.address, t.port));

    let mut wanted: Vec<IpAddr> = Vec::new();
    let answered = traces
        .iter()
        .flat_map(|(_, t)| t.hops.iter().chain(&t.control_hops))
        .filter_map(|h| h.from);
    let offenders = targets
        .iter()
        .filter(|t| t.role == Role::Target)
        .flat_map(|t| &t.probes)
        .filter_map(|p| p.connect.as_ref()?.icmp.as_ref()?.from);
    for a in offenders.chain(answered) {
        if skip_reason(a, plan.names.every_address).is_none()
            && !wanted.contains(&a)
            && wanted.len() < MAX_NAMES
        {
            wanted.push(a);
        }
    }
    let mut names = BTreeMap::new();
    if !wanted.is_empty() {
        let until = last.min(Instant::now() + NAMES_BOUND);
        let mut set = JoinSet::new();
        for a in wanted {
            let dns = dns.clone();
            set.spawn(async move { (a, dns::ptr_name(&dns, a, until).await) });
        }
        // The lookups keep `until` themselves; this is the stage's own guard.
        let _ = tokio::time::timeout_at(until + Duration::from_millis(50), async {
            while let Some(joined) = set.join_next().await {
                if let Ok((a, Some(n))) = joined {
                    names.insert(a, n);
                }
            }
        })
        .await;
    }
    Paths { traces, names }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ConnectFacts, DnsStatus, Resolution, ResolutionSource};

    fn probe(port: u16, result: ConnectResult) -> ProbeResult {
        let outcome = match result {
            ConnectResult::Connected => Outcome::Ok,
            ConnectResult::Timeout => Outcome::ConnectTimeout,
            ConnectResult::Error(_) => Outcome::Unreachable,
        };
        ProbeResult {
            outcome,
            connect: Some(ConnectFacts {
                local_addr: None,
                result,
                errno: None,
                ms: 1,
                icmp: None,
            }),
            ..ProbeResult::new(
                crate::service::by_port(port).unwrap(),
                port,
                Some("192.0.2.1".parse().unwrap()),
            )
        }
    }

    fn target(probes: Vec<ProbeResult>) -> TargetReport {
        TargetReport {
            host: "mail.example.test".into(),
            host_unicode: None,
            role: Role::Target,
            tls_name: "mail.example.test".into(),
            local_addresses: vec![],
            addresses: vec!["192.0.2.1".parse().unwrap()],
            resolution: Resolution {
                source: ResolutionSource::Literal,
                status: DnsStatus::Found,
                detail: None,
                ms: 0,
            },
            probes,
            dns: None,
            traces: Vec::new(),
        }
    }

    #[test]
    fn a_port_that_timed_out_beside_one_that_connected_is_traced_against_it() {
        let t = target(vec![
            probe(25, ConnectResult::Timeout),
            probe(465, ConnectResult::Timeout),
            probe(993, ConnectResult::Connected),
            probe(587, ConnectResult::Connected),
            probe(110, ConnectResult::Error("EHOSTUNREACH".into())),
        ]);
        let j = jobs(TraceMode::Auto, std::slice::from_ref(&t));
        assert_eq!(j.len(), 1);
        assert_eq!(
            j[0].failing,
            [("smtp".into(), 25), ("submissions".into(), 465)]
        );
        assert_eq!(j[0].control, Some(("submission".into(), 587)));
        assert_eq!(j[0].reason, TraceReason::Auto);
        // --trace: every failed connect, the unreachable one too.
        let j = jobs(TraceMode::Always, std::slice::from_ref(&t));
        assert_eq!(j[0].failing.len(), 3);
        assert_eq!(j[0].reason, TraceReason::Asked);
        assert!(jobs(TraceMode::Never, std::slice::from_ref(&t)).is_empty());
    }

    #[test]
    fn no_trace_without_a_working_port_unless_asked_and_never_to_this_machine() {
        let all = target(vec![
            probe(25, ConnectResult::Timeout),
            probe(587, ConnectResult::Timeout),
        ]);
        assert!(jobs(TraceMode::Auto, std::slice::from_ref(&all)).is_empty());
        let asked = jobs(TraceMode::Always, std::slice::from_ref(&all));
        assert_eq!(asked[0].control, None);
        let mut local = target(vec![
            probe(25, ConnectResult::Timeout),
            probe(587, ConnectResult::Connected),
        ]);
        local.local_addresses = local.addresses.clone();
        assert!(jobs(TraceMode::Always, &[local.clone()]).is_empty());
        local.local_addresses.clear();
        local.role = Role::Control;
        assert!(jobs(TraceMode::Always, &[local]).is_empty());
    }
}
