//! Pure rules: a report's targets in, findings out. No I/O, no clock.

use crate::codes;
use crate::report::{CertVerdict, Finding, Outcome, ProbeResult, Severity, TargetReport};
use crate::service::TlsMode;
use std::net::IpAddr;

/// A greeting slower than this is a finding.
pub const SLOW_GREETING_MS: u64 = 5_000;
/// A valid certificate with fewer days left than this is a finding.
pub const EXPIRY_WARN_DAYS: i64 = 21;

pub fn diagnose(targets: &[TargetReport]) -> Vec<Finding> {
    let mut out = Vec::new();
    for t in targets {
        if t.addresses.is_empty() {
            // One finding for the name, not one per probe that could not run.
            let words = t
                .resolution
                .detail
                .clone()
                .unwrap_or_else(|| t.resolution.status.clone());
            out.push(finding(t, None, "dns_failed", Severity::Fail, words));
            continue;
        }
        for p in &t.probes {
            probe_findings(t, p, &mut out);
        }
        cross_port_findings(t, &mut out);
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

fn finding(
    t: &TargetReport,
    p: Option<&ProbeResult>,
    code: &str,
    severity: Severity,
    message: String,
) -> Finding {
    Finding {
        severity,
        code: code.to_string(),
        host: t.host.clone(),
        service: p.map(|p| p.service.clone()),
        port: p.map(|p| p.port),
        address: p.and_then(|p| p.address),
        message,
        hint: codes::hint(code).to_string(),
    }
}

fn probe_findings(t: &TargetReport, p: &ProbeResult, out: &mut Vec<Finding>) {
    let detail = p.detail.clone().unwrap_or_default();
    match p.outcome {
        Outcome::Ok => {}
        Outcome::StarttlsUnavailable if p.starttls_stripped => {
            out.push(finding(
                t,
                Some(p),
                "starttls_stripped",
                Severity::Fail,
                detail,
            ));
        }
        Outcome::StarttlsUnavailable if p.tls_mode == TlsMode::Opportunistic => {
            out.push(finding(
                t,
                Some(p),
                "starttls_not_offered_relay",
                Severity::Warn,
                detail,
            ));
        }
        other => out.push(finding(t, Some(p), other.as_str(), Severity::Fail, detail)),
    }

    let plaintext_auth: Vec<&str> = p
        .auth_plain
        .iter()
        .map(String::as_str)
        .filter(|m| matches!(*m, "PLAIN" | "LOGIN"))
        .collect();
    if !plaintext_auth.is_empty() {
        out.push(finding(
            t,
            Some(p),
            "auth_before_tls",
            Severity::Fail,
            format!(
                "AUTH {} is offered before STARTTLS",
                plaintext_auth.join(" ")
            ),
        ));
    } else if !p.auth_plain.is_empty() {
        out.push(finding(
            t,
            Some(p),
            "auth_before_tls_hashed",
            Severity::Warn,
            format!("AUTH {} is offered before STARTTLS", p.auth_plain.join(" ")),
        ));
    }

    if let Some(ms) = p.greeting_ms.filter(|&ms| ms > SLOW_GREETING_MS) {
        out.push(finding(
            t,
            Some(p),
            "greeting_slow",
            Severity::Warn,
            format!("the greeting came after {:.1} s", ms as f64 / 1000.0),
        ));
    }

    if let Some(tls) = &p.tls {
        let code = match tls.verdict {
            CertVerdict::Valid => None,
            CertVerdict::Expired => Some("cert_expired"),
            CertVerdict::NotYetValid => Some("cert_not_yet_valid"),
            CertVerdict::NameMismatch => Some("cert_name_mismatch"),
            CertVerdict::SelfSigned => Some("cert_self_signed"),
            CertVerdict::Untrusted => Some("cert_untrusted"),
            CertVerdict::IncompleteChain => Some("cert_incomplete_chain"),
            CertVerdict::Invalid => Some("cert_invalid"),
        };
        if let Some(code) = code {
            let words = tls.verdict_detail.clone().unwrap_or_default();
            out.push(finding(t, Some(p), code, Severity::Fail, words));
        } else if let Some(leaf) = tls.chain.first().filter(|l| l.days_left < EXPIRY_WARN_DAYS) {
            out.push(finding(
                t,
                Some(p),
                "cert_expiring_soon",
                Severity::Warn,
                format!(
                    "the certificate expires on {} ({} days left)",
                    leaf.not_after, leaf.days_left
                ),
            ));
        }
    }
}

/// Rules that compare the probes of one address.
fn cross_port_findings(t: &TargetReport, out: &mut Vec<Finding>) {
    let mut addresses: Vec<IpAddr> = t.probes.iter().filter_map(|p| p.address).collect();
    addresses.dedup();
    for addr in addresses {
        let probes: Vec<&ProbeResult> = t
            .probes
            .iter()
            .filter(|p| p.address == Some(addr))
            .collect();
        let connected =
            |p: &&ProbeResult| p.connect.as_ref().is_some_and(|c| c.result == "connected");
        let all = |o: Outcome| probes.len() > 1 && probes.iter().all(|p| p.outcome == o);
        let mut f = |code: &str, message: String| {
            let mut f = finding(t, None, code, Severity::Fail, message);
            f.address = Some(addr);
            out.push(f);
        };
        if all(Outcome::ConnectTimeout) {
            f(
                "host_unreachable_or_filtered",
                format!("all {} ports of {addr} timed out", probes.len()),
            );
        } else if all(Outcome::Refused) {
            f(
                "no_service_listening",
                format!(
                    "all {} ports of {addr} refused the connection",
                    probes.len()
                ),
            );
        } else {
            let port25_timeout = probes
                .iter()
                .any(|p| p.port == 25 && p.outcome == Outcome::ConnectTimeout);
            let submission_ok: Vec<String> = probes
                .iter()
                .filter(|p| matches!(p.port, 587 | 465) && connected(p))
                .map(|p| p.port.to_string())
                .collect();
            if port25_timeout && !submission_ok.is_empty() {
                f(
                    "port25_blocked",
                    format!(
                        "port 25 of {addr} timed out while port {} connected",
                        submission_ok.join(" and ")
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ConnectFacts, Resolution};
    use crate::service::Protocol;

    fn probe(port: u16, outcome: Outcome) -> ProbeResult {
        ProbeResult {
            service: match port {
                25 => "smtp",
                587 => "submission",
                _ => "submissions",
            }
            .to_string(),
            port,
            protocol: Protocol::Smtp,
            tls_mode: match port {
                25 => TlsMode::Opportunistic,
                587 => TlsMode::Required,
                _ => TlsMode::Implicit,
            },
            address: Some("192.0.2.1".parse().unwrap()),
            outcome,
            detail: Some("words".into()),
            failed_phase: None,
            phases: vec![],
            total_ms: 1,
            connect: Some(ConnectFacts {
                local_addr: None,
                result: if matches!(outcome, Outcome::ConnectTimeout) {
                    "timeout".into()
                } else if outcome == Outcome::Refused {
                    "ECONNREFUSED".into()
                } else {
                    "connected".into()
                },
                errno: None,
                ms: 1,
            }),
            peer_protocol: None,
            greeting: None,
            greeting_ms: None,
            greeting_name: None,
            software: None,
            capabilities_plain: vec![],
            capabilities_tls: vec![],
            auth_plain: vec![],
            auth_tls: vec![],
            starttls_offered: None,
            starttls_stripped: false,
            starttls_reply: None,
            tls: None,
            notes: vec![],
        }
    }

    fn target(probes: Vec<ProbeResult>) -> TargetReport {
        TargetReport {
            host: "mail.example.test".into(),
            tls_name: "mail.example.test".into(),
            addresses: vec!["192.0.2.1".parse().unwrap()],
            resolution: Resolution {
                source: "literal".into(),
                status: "found".into(),
                detail: None,
                ms: 0,
            },
            probes,
        }
    }

    fn codes(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn only_port_25_timing_out_is_port25_blocked() {
        let t = target(vec![
            probe(25, Outcome::ConnectTimeout),
            probe(587, Outcome::Ok),
            probe(465, Outcome::Ok),
        ]);
        let f = diagnose(&[t]);
        assert!(codes(&f).contains(&"port25_blocked"), "{f:?}");
        assert!(codes(&f).contains(&"connect_timeout"));
    }

    #[test]
    fn everything_timing_out_is_filtered_not_port25() {
        let t = target(vec![
            probe(25, Outcome::ConnectTimeout),
            probe(587, Outcome::ConnectTimeout),
            probe(465, Outcome::ConnectTimeout),
        ]);
        let f = diagnose(&[t]);
        assert!(codes(&f).contains(&"host_unreachable_or_filtered"));
        assert!(!codes(&f).contains(&"port25_blocked"));
    }

    #[test]
    fn everything_refused_is_no_service_listening() {
        let t = target(vec![
            probe(25, Outcome::Refused),
            probe(587, Outcome::Refused),
        ]);
        assert!(codes(&diagnose(&[t])).contains(&"no_service_listening"));
    }

    #[test]
    fn missing_starttls_on_25_is_a_warning_and_on_587_a_failure() {
        let t = target(vec![
            probe(25, Outcome::StarttlsUnavailable),
            probe(587, Outcome::StarttlsUnavailable),
        ]);
        let f = diagnose(&[t]);
        let on = |port| f.iter().find(|f| f.port == Some(port)).unwrap();
        assert_eq!(on(25).severity, Severity::Warn);
        assert_eq!(on(25).code, "starttls_not_offered_relay");
        assert_eq!(on(587).severity, Severity::Fail);
        assert_eq!(on(587).code, "starttls_unavailable");
    }

    #[test]
    fn stripped_starttls_is_named() {
        let mut p = probe(587, Outcome::StarttlsUnavailable);
        p.starttls_stripped = true;
        assert_eq!(
            codes(&diagnose(&[target(vec![p])])),
            vec!["starttls_stripped"]
        );
    }

    #[test]
    fn plaintext_auth_before_tls_fails_and_hashed_warns() {
        let mut p = probe(587, Outcome::Ok);
        p.auth_plain = vec!["PLAIN".into(), "LOGIN".into()];
        let f = diagnose(&[target(vec![p])]);
        assert_eq!(codes(&f), vec!["auth_before_tls"]);
        assert_eq!(f[0].severity, Severity::Fail);
        let mut p = probe(587, Outcome::Ok);
        p.auth_plain = vec!["CRAM-MD5".into()];
        let f = diagnose(&[target(vec![p])]);
        assert_eq!(codes(&f), vec!["auth_before_tls_hashed"]);
        assert_eq!(f[0].severity, Severity::Warn);
    }

    #[test]
    fn slow_greeting_warns() {
        let mut p = probe(25, Outcome::Ok);
        p.greeting_ms = Some(6_200);
        let f = diagnose(&[target(vec![p])]);
        assert_eq!(codes(&f), vec!["greeting_slow"]);
        assert!(f[0].message.contains("6.2"));
        let mut p = probe(25, Outcome::Ok);
        p.greeting_ms = Some(800);
        assert!(diagnose(&[target(vec![p])]).is_empty());
    }

    #[test]
    fn findings_are_sorted_worst_first_and_carry_hints() {
        let mut p = probe(25, Outcome::Ok);
        p.greeting_ms = Some(9_000);
        let t = target(vec![p, probe(587, Outcome::Refused)]);
        let f = diagnose(&[t]);
        assert_eq!(f[0].severity, Severity::Fail);
        assert!(f.iter().all(|f| !f.hint.is_empty()));
    }
}
