//! A server's per-client connection limit, seen by mailport's own concurrent
//! probes: the probes it turned away passed when retried alone.

use super::finding;
use crate::codes::Code;
use crate::report::{Finding, Outcome, ProbeResult, TargetReport};
use std::net::IpAddr;

/// One `connection_limit_seen` per address whose limit turned a probe away
/// that then passed its retry. A retry turned away again is the probe's own
/// `connection_limited` outcome.
pub fn limit_findings(t: &TargetReport, out: &mut Vec<Finding>) {
    let passed = |p: &&ProbeResult| p.retried && p.outcome != Outcome::ConnectionLimited;
    let mut addresses: Vec<IpAddr> = t
        .probes
        .iter()
        .filter(passed)
        .filter_map(|p| p.address)
        .collect();
    addresses.sort();
    addresses.dedup();
    for addr in addresses {
        let probes: Vec<&ProbeResult> = t
            .probes
            .iter()
            .filter(passed)
            .filter(|p| p.address == Some(addr))
            .collect();
        let ports: Vec<String> = probes
            .iter()
            .map(|p| format!("{} {}", p.service, p.port))
            .collect();
        let message = format!(
            "{addr} limits concurrent connections per client: it turned away mailport's connection to {} while other probes to the address were running, and let it through when retried alone",
            ports.join(", ")
        );
        // The software comes from the retry, whose greeting got through.
        out.push(finding(
            t,
            probes.first().copied(),
            Code::ConnectionLimitSeen,
            message,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Resolution, Role};

    fn probe(port: u16, outcome: Outcome, retried: bool) -> ProbeResult {
        let service = crate::service::by_port(port).unwrap();
        ProbeResult {
            outcome,
            retried,
            software: Some("Exim 4.96".into()),
            ..ProbeResult::new(service, port, Some("192.0.2.1".parse().unwrap()))
        }
    }

    fn target(probes: Vec<ProbeResult>) -> TargetReport {
        TargetReport {
            host: "mail.example.org".into(),
            host_unicode: None,
            role: Role::Target,
            tls_name: "mail.example.org".into(),
            addresses: vec!["192.0.2.1".parse().unwrap()],
            resolution: Resolution {
                source: crate::report::ResolutionSource::Literal,
                status: crate::report::DnsStatus::Found,
                detail: None,
                ms: 0,
            },
            local_addresses: Vec::new(),
            probes,
            dns: None,
            traces: Vec::new(),
        }
    }

    #[test]
    fn a_limit_that_a_retry_got_through_is_one_info_per_address_with_the_softwares_setting() {
        let t = target(vec![
            probe(25, Outcome::Ok, false),
            probe(587, Outcome::Ok, true),
            probe(465, Outcome::Ok, true),
        ]);
        let mut out = Vec::new();
        limit_findings(&t, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].code, Code::ConnectionLimitSeen);
        assert_eq!(out[0].severity, crate::codes::Severity::Info);
        assert!(out[0].message.contains("submission 587, submissions 465"));
        assert!(out[0].hint.contains("smtp_accept_max_per_host"));
    }

    #[test]
    fn no_finding_without_a_retry_or_when_the_retry_was_turned_away_too() {
        let t = target(vec![
            probe(25, Outcome::Ok, false),
            probe(465, Outcome::ConnectionLimited, true),
        ]);
        let mut out = Vec::new();
        limit_findings(&t, &mut out);
        assert!(out.is_empty());
    }
}
