//! Where is it blocked? Pure rules over a TCP trace: the failing port's walk
//! beside the control port's, compared hop by hop (`trace.rs` made them).
//!
//! - silent even at TTL 1 while the control port hears from hop 1: the SYN
//!   never left this machine (`blocked_locally`);
//! - answered up to hop k, silent after it, while the control goes further:
//!   a filter at hop k or just after it (`blocked_at_hop`); so is a reject
//!   (ICMP prohibited, port-unreachable) from a router on the way;
//! - answered up to the last router, silent where the control connects: the
//!   destination or its last router (`blocked_at_destination`).

use super::finding;
use crate::codes::Code;
use crate::report::{Finding, Hop, HopReply, ProbeResult, TargetReport, Trace};

pub fn trace_findings(t: &TargetReport, out: &mut Vec<Finding>) {
    for tr in &t.traces {
        let Some((code, message)) = verdict(tr) else {
            continue;
        };
        let p: Option<&ProbeResult> = t.probes.iter().find(|p| {
            p.address == Some(tr.address) && p.port == tr.port && p.service == tr.service
        });
        let mut f = finding(t, p, code, message);
        f.address = Some(tr.address);
        out.push(f);
    }
}

/// A hop's sender as shown: its address, with its PTR name when known.
fn at(h: &Hop) -> String {
    match (&h.from, &h.from_name) {
        (Some(a), Some(n)) => format!("{a} ({n})"),
        (Some(a), None) => a.to_string(),
        (None, _) => "an unknown address".to_string(),
    }
}

const LIMITS_HOP: &str = "Limits: a router may stay silent because it rate-limits ICMP or never \
     answers, and load balancing (ECMP) can send two ports different ways; mailport keeps one \
     source port per walk and compares each hop with the control port's at the same TTL, so a \
     second run that agrees is good evidence.";

/// What one trace shows, if it shows where the port is blocked.
pub fn verdict(tr: &Trace) -> Option<(Code, String)> {
    let port = format!("port {} ({}) of {}", tr.port, tr.service, tr.address);
    let control = match (&tr.control_service, tr.control_port) {
        (Some(s), Some(p)) => format!("port {p} ({s})"),
        _ => return None,
    };
    let reached = tr.control_reached();

    // An answer from the end of the failing walk: the destination (then the
    // probe's own outcome says it all), or a filter on the way that rejects.
    if let Some(h) = tr.hops.iter().find(|h| h.reply.is_end()) {
        let on_the_way = h.from.is_some_and(|a| a != tr.address);
        if !(on_the_way && matches!(h.reply, HopReply::Rejected | HopReply::Unreachable)) {
            return None;
        }
        // Where the sender sits on the control's path, when it shows there.
        let index = tr
            .control_hops
            .iter()
            .find(|c| c.from == h.from && c.reply == HopReply::TimeExceeded)
            .map_or(h.ttl, |c| c.ttl);
        return Some((
            Code::BlockedAtHop,
            format!(
                "{port} is rejected at hop {index} by {} (ICMP {}), while {control} passes it: a filter on that device rejects the port. An early hop is your own network, your ISP or your VPS provider. Limits: a firewall may answer with another address than its own.",
                at(h),
                h.icmp.as_deref().unwrap_or("error")
            ),
        ));
    }

    // The last TTL the failing port was answered at by a router; the walk
    // must have been silent after it.
    let last = tr
        .hops
        .iter()
        .filter(|h| h.reply == HopReply::TimeExceeded)
        .map(|h| h.ttl)
        .max()
        .unwrap_or(0);
    let silent_after = tr
        .hops
        .iter()
        .filter(|h| h.ttl > last)
        .all(|h| h.reply == HopReply::Silent);
    let next = tr.hop(last + 1)?;
    if !silent_after || next.reply != HopReply::Silent {
        return None;
    }

    if last == 0 {
        let c1 = tr.control_hop(1)?;
        return match c1.reply {
            HopReply::TimeExceeded => Some((
                Code::BlockedLocally,
                format!(
                    "{port} gets no answer at any TTL, not even 1, while {control} is answered by hop 1 ({}): the SYN never left this machine, so a firewall here drops it (an OUTPUT rule, ConfigServer Firewall's SMTP_BLOCK, an owner match that spares root). Limits: a first router that filters the port before it counts hops (rare, some home routers) looks the same, and so would a lost ICMP answer at TTL 1; run it again to confirm.",
                    at(c1)
                ),
            )),
            HopReply::Connected | HopReply::Refused => Some((
                Code::BlockedAtDestination,
                format!(
                    "{port} gets no answer at TTL 1, where {control} already reaches the destination: the destination is the next hop, so the trace cannot tell its firewall from this machine's own (check this machine's OUTPUT rules too)."
                ),
            )),
            _ => None,
        };
    }

    let last_hop = tr.hop(last)?;
    match reached {
        Some(n) if last + 1 == n => Some((
            Code::BlockedAtDestination,
            format!(
                "{port} is answered up to the last router, hop {last} ({}), and silent at hop {n}, where {control} connects: the destination's own firewall drops the port, or its last router does (a trace cannot tell those two apart: both are on the destination's side). Limits: a destination that rate-limits or drops only some SYNs looks the same for a moment; run it again to confirm.",
                at(last_hop)
            ),
        )),
        Some(n) if last + 1 < n => Some((
            Code::BlockedAtHop,
            format!(
                "{port} is answered up to hop {last} ({}) and silent from hop {} on, while {control} goes on to the destination at hop {n}: a filter at hop {last} (in its forwarding) or just after it drops the port. An early hop is your own network, your ISP or your VPS provider. {LIMITS_HOP}",
                at(last_hop),
                last + 1
            ),
        )),
        Some(_) => None,
        // The control did not reach the destination in time: only a
        // control answer at the next hop places the block.
        None => {
            let c = tr.control_hop(last + 1)?;
            (c.reply == HopReply::TimeExceeded).then(|| {
                (
                    Code::BlockedAtHop,
                    format!(
                        "{port} is answered up to hop {last} ({}) and silent from hop {} on, while {control} is answered there by {}: a filter at hop {last} (in its forwarding) or just after it drops the port. An early hop is your own network, your ISP or your VPS provider. {LIMITS_HOP}",
                        at(last_hop),
                        last + 1,
                        at(c)
                    ),
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{TraceEnd, TraceReason};
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Hops from a compact spec: "r:ADDR" time-exceeded, "*" silent, "c"
    /// connected, "x:ADDR" rejected (admin-prohibited).
    fn hops(spec: &[&str]) -> Vec<Hop> {
        spec.iter()
            .enumerate()
            .map(|(i, s)| {
                let (reply, from, icmp) = match s.split_once(':') {
                    Some(("r", a)) => (HopReply::TimeExceeded, Some(ip(a)), Some("time-exceeded")),
                    Some(("x", a)) => (HopReply::Rejected, Some(ip(a)), Some("admin-prohibited")),
                    _ if *s == "c" => (HopReply::Connected, Some(ip("192.0.2.1")), None),
                    _ => (HopReply::Silent, None, None),
                };
                Hop {
                    ttl: i as u8 + 1,
                    reply,
                    from,
                    from_name: None,
                    icmp: icmp.map(String::from),
                    error: None,
                    ms: 1,
                }
            })
            .collect()
    }

    fn trace(failing: &[&str], control: &[&str]) -> Trace {
        Trace {
            address: ip("192.0.2.1"),
            service: "smtp".into(),
            port: 25,
            source_port: Some(40000),
            hops: hops(failing),
            control_service: Some("submission".into()),
            control_port: Some(587),
            control_source_port: Some(40001),
            control_hops: hops(control),
            reason: TraceReason::Auto,
            end: TraceEnd::Done,
            ms: 2000,
            bound_ms: 6000,
            hop_wait_ms: 1000,
            max_hops: 16,
            shared: false,
        }
    }

    #[test]
    fn silent_at_ttl_1_while_the_control_hears_hop_1_is_blocked_locally() {
        let (code, m) = verdict(&trace(&["*", "*"], &["r:10.0.0.1", "r:10.0.1.1", "c"])).unwrap();
        assert_eq!(code, Code::BlockedLocally);
        assert!(
            m.contains("never left this machine") && m.contains("10.0.0.1"),
            "{m}"
        );
        assert!(m.contains("Limits"), "{m}");
    }

    #[test]
    fn answered_to_hop_1_then_silent_is_blocked_at_hop_1() {
        let mut tr = trace(
            &["r:10.0.0.1", "*", "*"],
            &["r:10.0.0.1", "r:10.0.1.1", "c"],
        );
        tr.hops[0].from_name = Some("gw.isp.example".into());
        let (code, m) = verdict(&tr).unwrap();
        assert_eq!(code, Code::BlockedAtHop);
        assert!(m.contains("up to hop 1 (10.0.0.1 (gw.isp.example))"), "{m}");
        assert!(m.contains("destination at hop 3"), "{m}");
        assert!(m.contains("ECMP") && m.contains("rate-limits"), "{m}");
    }

    #[test]
    fn answered_to_the_last_router_is_blocked_at_destination() {
        let (code, m) = verdict(&trace(
            &["r:10.0.0.1", "r:10.0.1.1", "*"],
            &["r:10.0.0.1", "r:10.0.1.1", "c"],
        ))
        .unwrap();
        assert_eq!(code, Code::BlockedAtDestination);
        assert!(m.contains("cannot tell those two apart"), "{m}");
        // Next to the destination: said to be ambiguous.
        let (code, m) = verdict(&trace(&["*"], &["c"])).unwrap();
        assert_eq!(code, Code::BlockedAtDestination);
        assert!(
            m.contains("cannot tell its firewall from this machine's"),
            "{m}"
        );
    }

    #[test]
    fn a_router_that_never_answers_is_a_hole_not_the_block() {
        // Hop 2 is silent for both ports: the block is after hop 3.
        let (code, m) = verdict(&trace(
            &["r:10.0.0.1", "*", "r:10.0.2.1", "*", "*"],
            &[
                "r:10.0.0.1",
                "*",
                "r:10.0.2.1",
                "r:10.0.3.1",
                "r:10.0.4.1",
                "c",
            ],
        ))
        .unwrap();
        assert_eq!(code, Code::BlockedAtHop);
        assert!(m.contains("up to hop 3 (10.0.2.1)"), "{m}");
    }

    #[test]
    fn a_reject_from_a_router_names_it_at_its_place_on_the_path() {
        let (code, m) = verdict(&trace(
            &["r:10.0.0.1", "x:10.0.1.1"],
            &["r:10.0.0.1", "r:10.0.1.1", "c"],
        ))
        .unwrap();
        assert_eq!(code, Code::BlockedAtHop);
        assert!(
            m.contains("rejected at hop 2 by 10.0.1.1 (ICMP admin-prohibited)"),
            "{m}"
        );
    }

    #[test]
    fn nothing_is_concluded_without_evidence() {
        // No control port.
        let mut tr = trace(&["*", "*"], &[]);
        tr.control_port = None;
        tr.control_service = None;
        assert_eq!(verdict(&tr), None);
        // The control is silent at hop 1 too.
        assert_eq!(verdict(&trace(&["*", "*"], &["*", "*"])), None);
        // The failing port reached the destination (it works now).
        assert_eq!(
            verdict(&trace(&["r:10.0.0.1", "c"], &["r:10.0.0.1", "c"])),
            None
        );
        // Cut before any silence.
        assert_eq!(verdict(&trace(&["r:10.0.0.1"], &["r:10.0.0.1"])), None);
        // The control did not get further either.
        assert_eq!(
            verdict(&trace(&["r:10.0.0.1", "*", "*"], &["r:10.0.0.1", "*", "*"])),
            None
        );
        // An empty trace (no time).
        assert_eq!(verdict(&trace(&[], &[])), None);
    }
}
