//! Rules that compare the probes of one address, and with the control hosts
//! (--control): a port-25 block, a host that is down or filtered, nothing
//! listening, a greeting withheld, a firewall on this machine.

use super::*;

/// What the control hosts (--control) say about port 25 from this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Control {
    /// No control host, or nothing conclusive.
    Unknown,
    /// A control host's port 25 connected: the path from here works.
    Port25Open,
    /// Every control host's port 25 timed out while its other ports connected.
    Port25Blocked,
}

pub(super) fn control_verdict(targets: &[TargetReport]) -> (Control, Vec<String>) {
    let controls: Vec<&TargetReport> = targets.iter().filter(|t| t.role == Role::Control).collect();
    let names = controls.iter().map(|t| t.host.clone()).collect();
    let open = controls
        .iter()
        .any(|t| t.probes.iter().any(|p| is_relay(p) && connected(p)));
    let blocked = controls.iter().any(|t| {
        let relay: Vec<&ProbeResult> = t.probes.iter().filter(|p| is_relay(p)).collect();
        !relay.is_empty()
            && relay.iter().all(|p| p.outcome == Outcome::ConnectTimeout)
            && t.probes.iter().any(|p| !is_relay(p) && connected(p))
    });
    let verdict = if open {
        Control::Port25Open
    } else if blocked {
        Control::Port25Blocked
    } else {
        Control::Unknown
    };
    (verdict, names)
}

/// Rules that compare the probes of one address, and with the control hosts.
pub(super) fn cross_port_findings(
    t: &TargetReport,
    control: (Control, &[String]),
    out: &mut Vec<Finding>,
) {
    let mut addresses: Vec<IpAddr> = t.probes.iter().filter_map(|p| p.address).collect();
    addresses.dedup();
    for addr in addresses {
        // Probes that never ran say nothing about the address.
        let probes: Vec<&ProbeResult> = t
            .probes
            .iter()
            .filter(|p| p.address == Some(addr) && p.outcome != Outcome::NotRun)
            .collect();
        let all = |o: Outcome| probes.len() > 1 && probes.iter().all(|p| p.outcome == o);
        let mut f = |code: Code, message: String| {
            let mut f = finding(t, None, code, message);
            f.address = Some(addr);
            out.push(f);
        };
        // Port-25 blocks are a policy of providers and firewalls on port 25
        // itself: a relay probed on a custom port says nothing about them.
        let relay_timeout = probes
            .iter()
            .any(|p| is_relay(p) && p.port == 25 && p.outcome == Outcome::ConnectTimeout);
        let relay_port = 25;
        let submission_ok: Vec<String> = probes
            .iter()
            .filter(|p| is_submission(p) && connected(p))
            .map(|p| p.port.to_string())
            .collect();
        let local = t.local_addresses.contains(&addr);
        if local && probes.iter().any(|p| p.outcome == Outcome::ConnectTimeout) {
            f(
                Code::LocalFirewall,
                format!(
                    "{addr} is an address of this machine, yet a connection to it timed out: only this machine can have dropped it"
                ),
            );
        }
        // To an address of this machine nothing on the network is involved:
        // the timeout rules about blocks on the path do not apply.
        if relay_timeout && !local && control.0 == Control::Port25Blocked {
            f(
                Code::OutboundPort25Blocked,
                format!(
                    "port {relay_port} of {addr} timed out, and so did port 25 of the control host {} while its other ports connected: the block is on your side",
                    control.1.join(", ")
                ),
            );
        } else if all(Outcome::ConnectTimeout) && !local {
            f(
                Code::HostUnreachableOrFiltered,
                format!("all {} ports of {addr} timed out", probes.len()),
            );
        } else if all(Outcome::Refused) {
            let rejected = probes
                .iter()
                .filter(|p| icmp(p).is_some_and(|i| i.kind() == IcmpKind::PortUnreachable))
                .count();
            let why = match rejected {
                0 => " (each with a TCP RST: nothing listens)".to_string(),
                n if n == probes.len() => format!(
                    " (each with an ICMP port-unreachable: a firewall rule rejects them; {})",
                    probes
                        .iter()
                        .find_map(|p| icmp(p))
                        .map(|i| format!("from {}", i.sender()))
                        .unwrap_or_default()
                ),
                n => format!(
                    " ({n} of them with an ICMP port-unreachable: a firewall rule rejects those)"
                ),
            };
            f(
                Code::NoServiceListening,
                format!(
                    "all {} ports of {addr} refused the connection{why}",
                    probes.len()
                ),
            );
        } else if relay_timeout && !local && !submission_ok.is_empty() {
            let mut message = format!(
                "port {relay_port} of {addr} timed out while port{} {} connected",
                if submission_ok.len() > 1 { "s" } else { "" },
                submission_ok.join(" and ")
            );
            if control.0 == Control::Port25Open {
                message.push_str(&format!(
                    "; port 25 of the control host {} connected from here, so the block is at or near {}",
                    control.1.join(", "),
                    t.host
                ));
            }
            f(Code::Port25Blocked, message);
        }
        let relay_silent = probes
            .iter()
            .find(|p| is_relay(p) && p.outcome == Outcome::GreetingTimeout);
        let greeted: Vec<String> = probes
            .iter()
            .filter(|p| is_submission(p) && p.greeting.is_some())
            .map(|p| p.port.to_string())
            .collect();
        if let (Some(relay), false) = (relay_silent, greeted.is_empty()) {
            f(
                Code::GreetingWithheld,
                format!(
                    "port {} of {addr} accepts connections but never greets, while port {} greets",
                    relay.port,
                    greeted.join(" and ")
                ),
            );
        }
    }
}
