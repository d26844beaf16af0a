//! The walks a run made so far, shared by its hosts: the same walk (an
//! address, its failing ports, the control port it is compared with, and
//! why it is made: `--trace` or a timeout beside a working port) is made
//! once per run, as the same probe is (`cache.rs`). The 5,000 domains behind
//! one filtered MX cost one trace of it, not 5,000 (each up to
//! [`TRACE_BOUND`](super::TRACE_BOUND) of walks and SYNs at that server);
//! a host that asks while another walks waits for that walk, never past its
//! own time. The PTR names of the hops are not part of it: each host names
//! them (`paths`), from the run's DNS cache.
//!
//! A walk that its host's deadline cut short (or that had no time to start)
//! is that host's only: the next host, with more time, walks again. A walk
//! dropped by Ctrl-C is never stored.

use super::walk::{unwalked, walk};
use super::Job;
use crate::cache::{Cache, Made};
use crate::report::{Trace, TraceEnd, TraceReason};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How many walks a run keeps to share ([`Traces`]): 128 of the last
/// distinct walks and the other 128 of the generation before (see
/// `cache.rs`). Only addresses with a filtered port are walked, a few per
/// host at most, so this holds the filtered MX hosts a run meets again and
/// again; a walk is about 1 KiB a port (its hops), so at most a few hundred
/// KiB.
pub const TRACES_KEPT: usize = 256;
/// And at most about this many bytes of them: the heaviest walk (3 failing
/// ports and the control, 16 hops each, every hop with its ICMP name) is
/// about 15 KiB.
pub const TRACE_BYTES_KEPT: usize = 1 << 20;
/// A walk is not shared any more after this long in a run, as a probe: the
/// next host to ask walks again.
pub const TRACE_MAX_AGE: Duration = Duration::from_secs(300);
/// How long past its own end a host waits for another host's walk of the
/// same address (less than the stage's margin before the deadline).
const WAIT_MARGIN: Duration = Duration::from_millis(100);

/// What decides a walk's result: the address and the ports walked (with the
/// services they are shown as), the control port, and the reason (the
/// trace mode). The bounds are the run's constants; the time left is the
/// host's, and a walk it cut is not kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SameWalk {
    address: IpAddr,
    failing: Vec<(String, u16)>,
    control: Option<(String, u16)>,
    reason: TraceReason,
}

/// The walks made so far in a run, shared by all its hosts: one walk for
/// every host that needs it, those asking at once waiting for it, in a
/// bounded cache ([`TRACES_KEPT`], [`TRACE_BYTES_KEPT`], [`TRACE_MAX_AGE`]).
#[derive(Clone)]
pub struct Traces {
    made: Arc<Cache<SameWalk, Vec<Trace>>>,
}

impl Default for Traces {
    fn default() -> Traces {
        Traces::new()
    }
}

impl Traces {
    pub fn new() -> Traces {
        Traces {
            made: Arc::new(Cache::new(
                TRACES_KEPT,
                TRACE_BYTES_KEPT,
                |traces: &Vec<Trace>| traces.iter().map(Trace::weight).sum(),
                TRACE_MAX_AGE,
            )),
        }
    }

    /// How many walks are kept.
    pub fn len(&self) -> usize {
        self.made.len()
    }

    pub fn is_empty(&self) -> bool {
        self.made.is_empty()
    }

    /// `job`'s traces: walked now until `end`, or shared with the host that
    /// walked them (then marked `shared`). `by_deadline`: `end` is the
    /// host's deadline, not the stage's bound, so a walk it cuts short is
    /// not kept. A host waiting for another's walk gives up at its own
    /// `end`: its traces are then empty, cut short by its time.
    pub(super) async fn walk_once(&self, job: &Job, end: Instant, by_deadline: bool) -> Vec<Trace> {
        let started = Instant::now();
        let key = SameWalk {
            address: job.address,
            failing: job.failing.clone(),
            control: job.control.clone(),
            reason: job.reason,
        };
        let once = self.made.get_or_make(key, || async {
            let traces = walk(job, end).await;
            let cut = traces
                .iter()
                .any(|t| matches!(t.end, TraceEnd::TimeBound | TraceEnd::NoTime));
            if by_deadline && cut {
                Made::Once(traces)
            } else {
                Made::Keep(traces)
            }
        });
        // The walk keeps `end` itself; this bounds the wait for another's.
        match tokio::time::timeout_at(end + WAIT_MARGIN, once).await {
            Ok((mut traces, shared)) => {
                for t in &mut traces {
                    t.shared = shared;
                }
                traces
            }
            Err(_) => unwalked(job, started, end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::HopReply;
    use socket2::{Domain, Socket, Type};
    use std::net::{SocketAddr, TcpListener};

    fn job(failing: u16, control: Option<u16>) -> Job {
        Job {
            target: 0,
            address: "127.0.0.1".parse().unwrap(),
            failing: vec![("smtp".into(), failing)],
            control: control.map(|p| ("submission".into(), p)),
            reason: TraceReason::Auto,
        }
    }

    fn closed_port() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    /// A loopback port that drops SYNs: a listener with a backlog of 0
    /// whose queue is full (held connections), never accepting.
    fn filtered_port() -> (u16, Socket, Vec<Socket>) {
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        listener.bind(&any.into()).unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        let mut held = Vec::new();
        for _ in 0..8 {
            let c = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            if c.connect_timeout(&addr.into(), Duration::from_millis(300))
                .is_err()
            {
                return (addr.port(), listener, held);
            }
            held.push(c);
        }
        panic!("no connection to {addr} timed out: the port is not filtered");
    }

    /// Two hosts tracing one address at once: one walk (the same source
    /// ports in both, which two walks could not have), the second host's
    /// copy marked shared; one entry kept.
    #[tokio::test]
    async fn two_hosts_tracing_one_address_at_once_make_one_walk() {
        let open = TcpListener::bind("127.0.0.1:0").unwrap();
        let job = job(closed_port(), Some(open.local_addr().unwrap().port()));
        let traces = Traces::new();
        let end = Instant::now() + Duration::from_secs(3);
        let (a, b) = tokio::join!(
            traces.walk_once(&job, end, false),
            traces.walk_once(&job, end, false)
        );
        assert_eq!((a.len(), b.len()), (1, 1), "{a:#?} {b:#?}");
        let (a, b) = (&a[0], &b[0]);
        assert_eq!(a.hops[0].reply, HopReply::Refused, "{a:#?}");
        assert_eq!((a.shared, b.shared), (false, true));
        assert!(a.source_port.is_some() && a.control_source_port.is_some());
        assert_eq!(
            (a.source_port, a.control_source_port),
            (b.source_port, b.control_source_port)
        );
        assert_eq!(a.hops, b.hops);
        assert_eq!(traces.len(), 1);
        // A host that asks later takes it too.
        let c = traces.walk_once(&job, end, false).await;
        assert!(c[0].shared && c[0].source_port == a.source_port, "{c:#?}");
        // Another control port is another walk.
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut job2 = job.clone();
        job2.control = Some(("submissions".into(), other.local_addr().unwrap().port()));
        assert!(!traces.walk_once(&job2, end, false).await[0].shared);
        assert_eq!(traces.len(), 2);
    }

    /// A walk its host's deadline cut (here: no time to start) is not kept:
    /// the next host walks again, and that walk is kept.
    #[tokio::test]
    async fn a_walk_cut_by_its_hosts_deadline_is_not_shared() {
        let open = TcpListener::bind("127.0.0.1:0").unwrap();
        let job = job(closed_port(), Some(open.local_addr().unwrap().port()));
        let traces = Traces::new();
        let soon = Instant::now() + Duration::from_millis(10);
        let cut = traces.walk_once(&job, soon, true).await;
        assert_eq!(cut[0].end, TraceEnd::NoTime);
        let later = Instant::now() + Duration::from_secs(3);
        let walked = traces.walk_once(&job, later, true).await;
        assert!(!walked[0].shared, "{walked:#?}");
        assert_eq!(walked[0].end, TraceEnd::Done, "{walked:#?}");
        assert_eq!(walked[0].hops[0].reply, HopReply::Refused);
        assert!(traces.walk_once(&job, later, true).await[0].shared);
    }

    /// A host whose time runs out while another host walks its address
    /// stops waiting at its own end (its traces empty, cut short, not
    /// shared); the walk goes on for the host that makes it.
    #[tokio::test]
    async fn a_host_waits_for_anothers_walk_only_until_its_own_end() {
        let (port, _listener, _held) = filtered_port();
        let job = job(port, None);
        let traces = Traces::new();
        let start = Instant::now();
        let long = start + Duration::from_secs(4);
        let short = start + Duration::from_millis(700);
        let waiter = async {
            // The maker starts first.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let t = traces.walk_once(&job, short, true).await;
            (t, start.elapsed())
        };
        let (made, (waited, took)) = tokio::join!(traces.walk_once(&job, long, false), waiter);
        assert!(
            took < Duration::from_millis(700) + WAIT_MARGIN + Duration::from_millis(200),
            "{took:?}"
        );
        assert_eq!(waited[0].end, TraceEnd::TimeBound, "{waited:#?}");
        assert!(waited[0].hops.is_empty() && !waited[0].shared);
        // Silent twice in a row (no control to compare with): done.
        assert_eq!(made[0].end, TraceEnd::Done, "{made:#?}");
        assert_eq!(made[0].hops.len(), 2, "{made:#?}");
        assert!(made[0].hops.iter().all(|h| h.reply == HopReply::Silent));
        assert!(!made[0].shared);
    }

    /// The heaviest walk weighs what it holds, and the cache keeps dozens
    /// of them at least.
    #[test]
    fn the_heaviest_walk_weighs_about_15_kib() {
        use crate::report::Hop;
        let hop = |ttl| Hop {
            ttl,
            reply: HopReply::TimeExceeded,
            from: Some("192.0.2.1".parse().unwrap()),
            from_name: None,
            icmp: Some("time-exceeded".into()),
            error: None,
            ms: 1,
        };
        let hops: Vec<Hop> = (1..=16).map(hop).collect();
        let t = Trace {
            address: "192.0.2.1".parse().unwrap(),
            service: "submissions".into(),
            port: 465,
            source_port: Some(1),
            hops: hops.clone(),
            control_service: Some("submission".into()),
            control_port: Some(587),
            control_source_port: Some(2),
            control_hops: hops,
            reason: TraceReason::Auto,
            end: TraceEnd::MaxHops,
            ms: 6000,
            bound_ms: 6000,
            hop_wait_ms: 1000,
            max_hops: 16,
            shared: false,
        };
        let walk = 3 * t.weight();
        assert!((8_000..20_000).contains(&walk), "{walk}");
        assert!(TRACE_BYTES_KEPT / walk >= 50, "{walk}");
    }
}
