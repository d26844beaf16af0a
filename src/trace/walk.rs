//! One address's walks: connections with rising TTL to its failing ports
//! and, beside them, to its control port, one TTL per round (see `trace.rs`).

use super::{Job, HOP_WAIT, MAX_HOPS, MIN_TIME, SILENT_IN_A_ROW};
use crate::net::{errno_name, ConnectOptions, Connecting};
use crate::phase::Failure;
use crate::report::{Hop, HopReply, IcmpKind, Outcome, Trace, TraceEnd};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// One port's walk.
struct Walker {
    service: String,
    port: u16,
    source_port: Option<u16>,
    hops: Vec<Hop>,
    done: bool,
    silent_run: usize,
}

impl Walker {
    fn new((service, port): &(String, u16)) -> Walker {
        Walker {
            service: service.clone(),
            port: *port,
            source_port: None,
            hops: Vec::new(),
            done: false,
            silent_run: 0,
        }
    }
}

/// Walk the failing ports of one address and its control port, one TTL per
/// round, all of them side by side, until every walk is done, MAX_HOPS, or `end`.
pub(super) async fn walk(job: &Job, end: Instant) -> Vec<Trace> {
    let started = Instant::now();
    let bound = end.saturating_duration_since(started);
    let mut control = job.control.as_ref().map(Walker::new);
    let mut failing: Vec<Walker> = job.failing.iter().map(Walker::new).collect();
    let mut how = TraceEnd::MaxHops;
    if bound < MIN_TIME {
        how = TraceEnd::NoTime;
    } else {
        for ttl in 1..=MAX_HOPS {
            let active = control.iter().chain(&failing).any(|w| !w.done);
            if !active {
                how = TraceEnd::Done;
                break;
            }
            let wait = HOP_WAIT.min(end.saturating_duration_since(Instant::now()));
            if wait < Duration::from_millis(50) {
                how = TraceEnd::TimeBound;
                break;
            }
            // This round's attempts: index 0 is the control, 1.. the failing ports.
            let mut set = JoinSet::new();
            for (i, w) in control
                .iter()
                .map(|w| (0usize, w))
                .chain(failing.iter().enumerate().map(|(i, w)| (i + 1, w)))
            {
                if w.done {
                    continue;
                }
                let dest = SocketAddr::new(job.address, w.port);
                let source = w.source_port;
                set.spawn(async move { (i, hop(dest, ttl, source, wait).await) });
            }
            let mut results: Vec<(usize, (Hop, Option<u16>))> = Vec::new();
            while let Some(joined) = set.join_next().await {
                if let Ok(r) = joined {
                    results.push(r);
                }
            }
            results.sort_by_key(|(i, _)| *i);
            let mut control_hop: Option<HopReply> = None;
            for (i, (h, port)) in results {
                let w = if i == 0 {
                    control.as_mut()
                } else {
                    failing.get_mut(i - 1)
                };
                let Some(w) = w else { continue };
                if w.source_port.is_none() {
                    w.source_port = port;
                }
                if i == 0 {
                    control_hop = Some(h.reply);
                }
                w.hops.push(h);
            }
            if let Some(c) = control.as_mut() {
                if c.hops
                    .last()
                    .is_some_and(|h| h.ttl == ttl && h.reply.is_end())
                {
                    c.done = true;
                }
            }
            // The TTL at which the control reached the destination.
            let reached = control.as_ref().and_then(|c| {
                c.hops
                    .iter()
                    .find(|h| matches!(h.reply, HopReply::Connected | HopReply::Refused))
                    .map(|h| h.ttl)
            });
            for w in failing.iter_mut().filter(|w| !w.done) {
                let Some(h) = w.hops.last().filter(|h| h.ttl == ttl) else {
                    continue;
                };
                if h.reply.is_end() {
                    w.done = true;
                } else if h.reply == HopReply::Silent {
                    // A hop that is silent for both ports is a router that
                    // never answers, not the block.
                    if control_hop != Some(HopReply::Silent) {
                        w.silent_run += 1;
                    }
                } else {
                    w.silent_run = 0;
                }
                if w.silent_run >= SILENT_IN_A_ROW || reached.is_some_and(|n| ttl >= n) {
                    w.done = true;
                }
            }
            if ttl == MAX_HOPS && control.iter().chain(&failing).all(|w| w.done) {
                how = TraceEnd::Done;
            }
        }
    }
    records(job, control, failing, how, started, bound)
}

/// `job`'s traces with no walk at all: this host waited for another host's
/// walk of the same address (`shared.rs`) until its own time ran out.
pub(super) fn unwalked(job: &Job, started: Instant, end: Instant) -> Vec<Trace> {
    let bound = end.saturating_duration_since(started);
    let how = if bound < MIN_TIME {
        TraceEnd::NoTime
    } else {
        TraceEnd::TimeBound
    };
    let control = job.control.as_ref().map(Walker::new);
    let failing = job.failing.iter().map(Walker::new).collect();
    records(job, control, failing, how, started, bound)
}

/// One trace of each failing port's walk, beside the control's.
fn records(
    job: &Job,
    control: Option<Walker>,
    failing: Vec<Walker>,
    how: TraceEnd,
    started: Instant,
    bound: Duration,
) -> Vec<Trace> {
    let ms = started.elapsed().as_millis() as u64;
    failing
        .into_iter()
        .map(|w| Trace {
            address: job.address,
            service: w.service,
            port: w.port,
            source_port: w.source_port,
            hops: w.hops,
            control_service: control.as_ref().map(|c| c.service.clone()),
            control_port: control.as_ref().map(|c| c.port),
            control_source_port: control.as_ref().and_then(|c| c.source_port),
            control_hops: control.as_ref().map(|c| c.hops.clone()).unwrap_or_default(),
            reason: job.reason,
            end: how,
            ms,
            bound_ms: bound.as_millis() as u64,
            hop_wait_ms: HOP_WAIT.as_millis() as u64,
            max_hops: MAX_HOPS,
            shared: false,
        })
        .collect()
}

/// One connection attempt to `dest` with `ttl`, from `source_port` when
/// given; returns what it drew and the source port it used.
async fn hop(
    dest: SocketAddr,
    ttl: u8,
    source_port: Option<u16>,
    wait: Duration,
) -> (Hop, Option<u16>) {
    let start = Instant::now();
    let opts = ConnectOptions {
        ttl: Some(u32::from(ttl)),
        source_port,
    };
    let attempt = match Connecting::start(dest, opts) {
        // The port was taken meanwhile by someone else: a new one.
        Err(f) if source_port.is_some() && f.errno == Some(libc::EADDRINUSE) => Connecting::start(
            dest,
            ConnectOptions {
                source_port: None,
                ..opts
            },
        ),
        other => other,
    };
    let attempt = match attempt {
        Ok(a) => a,
        Err(f) => return (from_failure(ttl, &f, dest, start), None),
    };
    let port = attempt.local_port();
    let h = match tokio::time::timeout(wait, attempt.established()).await {
        Ok(Ok(())) => {
            // Reached: closed at once with a reset, nothing sent.
            let stream = attempt.into_stream();
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            drop(stream);
            hop_of(ttl, HopReply::Connected, Some(dest.ip()), start)
        }
        Ok(Err(f)) => from_failure(ttl, &f, dest, start),
        Err(_) => match attempt.icmp() {
            Some(i) => {
                let f = Failure {
                    icmp: Some(Box::new(i)),
                    ..Failure::new(Outcome::ConnectTimeout, "")
                };
                from_failure(ttl, &f, dest, start)
            }
            None => hop_of(ttl, HopReply::Silent, None, start),
        },
    };
    (h, port)
}

fn hop_of(ttl: u8, reply: HopReply, from: Option<IpAddr>, start: Instant) -> Hop {
    Hop {
        ttl,
        reply,
        from,
        from_name: None,
        icmp: None,
        error: None,
        ms: start.elapsed().as_millis() as u64,
    }
}

/// What a failed attempt drew: the ICMP error when one was queued, else what the errno says.
fn from_failure(ttl: u8, f: &Failure, dest: SocketAddr, start: Instant) -> Hop {
    if let Some(i) = &f.icmp {
        let reply = match i.kind() {
            IcmpKind::TimeExceeded => HopReply::TimeExceeded,
            IcmpKind::PortUnreachable | IcmpKind::Prohibited => HopReply::Rejected,
            IcmpKind::NoRoute | IcmpKind::Other => HopReply::Unreachable,
        };
        return Hop {
            icmp: Some(i.name.clone()),
            ..hop_of(ttl, reply, i.from, start)
        };
    }
    let name = f
        .errno
        .map(|e| errno_name(e).unwrap_or_else(|| format!("errno {e}")));
    let (reply, from) = match f.errno {
        Some(libc::ECONNREFUSED) | Some(libc::ECONNRESET) => (HopReply::Refused, Some(dest.ip())),
        Some(libc::EHOSTUNREACH) | Some(libc::ENETUNREACH) => (HopReply::Unreachable, None),
        _ => (HopReply::Error, None),
    };
    Hop {
        error: if reply == HopReply::Refused {
            None
        } else {
            name.map(|n| crate::escape::escape_str(&n))
        },
        ..hop_of(ttl, reply, from, start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::TraceReason;

    #[tokio::test]
    async fn a_walk_to_a_port_nothing_listens_on_ends_at_once_with_a_reset() {
        // Loopback is one hop: TTL 1 reaches it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap().port();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let job = Job {
            target: 0,
            address: "127.0.0.1".parse().unwrap(),
            failing: vec![("smtp".into(), closed)],
            control: Some(("submission".into(), open)),
            reason: TraceReason::Asked,
        };
        let traces = walk(&job, Instant::now() + Duration::from_secs(3)).await;
        let t = &traces[0];
        assert_eq!(t.end, TraceEnd::Done, "{t:#?}");
        assert_eq!(t.hops.len(), 1, "{t:#?}");
        assert_eq!(t.hops[0].reply, HopReply::Refused);
        assert_eq!(t.control_hops[0].reply, HopReply::Connected);
        assert_eq!(t.control_reached(), Some(1));
        assert!(t.source_port.is_some() && t.control_source_port.is_some());
        assert!(t.ms < 1000, "{t:#?}");
    }

    #[tokio::test]
    async fn a_walk_with_no_time_left_says_so() {
        let job = Job {
            target: 0,
            address: "127.0.0.1".parse().unwrap(),
            failing: vec![("smtp".into(), 9)],
            control: None,
            reason: TraceReason::Asked,
        };
        let traces = walk(&job, Instant::now() + Duration::from_millis(10)).await;
        assert_eq!(traces[0].end, TraceEnd::NoTime);
        assert!(traces[0].hops.is_empty());
    }
}
