//! Pure rules: a report's targets in, findings out. No I/O, no clock.

use crate::codes::Code;
use crate::escape::escape_str;
use crate::report::{
    CertVerdict, ConnectResult, Finding, IcmpFacts, IcmpKind, Outcome, ProbeResult, Role, SafeText,
    Severity, TargetReport,
};
use crate::service::{Protocol, Role as ServiceRole, TlsMode};
use std::net::IpAddr;

mod dane;
mod limits;
pub mod local;
mod names;
mod policy;
mod ports;
mod trace;
pub use names::mail_domains;
pub use policy::{domain_findings, policy_findings};
use ports::{control_verdict, cross_port_findings, Control};

/// A greeting slower than this is a finding.
pub const SLOW_GREETING_MS: u64 = 5_000;
/// A valid certificate with fewer days left than this is a finding.
pub const EXPIRY_WARN_DAYS: i64 = 21;

pub fn diagnose(targets: &[TargetReport]) -> Vec<Finding> {
    let evidence = controls(targets);
    let mut out = Vec::new();
    for t in targets {
        out.extend(diagnose_target(t, &evidence));
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// What the control hosts (--control) say, read once for a run: the rules
/// about one host compare it with them.
#[derive(Debug, Clone)]
pub struct Controls {
    verdict: Control,
    names: Vec<String>,
}

/// The evidence of the control hosts among `reports` (other reports are ignored).
pub fn controls(reports: &[TargetReport]) -> Controls {
    let (verdict, names) = control_verdict(reports);
    Controls { verdict, names }
}

/// The findings about one host, worst first, given what the control hosts
/// say. Control hosts are evidence, not subjects: their own problems raise
/// no finding.
pub fn diagnose_target(t: &TargetReport, controls: &Controls) -> Vec<Finding> {
    let mut out = Vec::new();
    if t.role != Role::Target {
        return out;
    }
    if t.addresses.is_empty() {
        // One finding for the name, not one per probe that could not run.
        let words = t
            .resolution
            .detail
            .clone()
            .map(SafeText::into_string)
            .unwrap_or_else(|| t.resolution.status.as_str().to_string());
        let words = names::with_mx_suggestion(t, words);
        out.push(finding(t, None, Code::DnsFailed, words));
        return out;
    }
    for p in &t.probes {
        probe_findings(t, p, &mut out);
    }
    limits::limit_findings(t, &mut out);
    cross_port_findings(t, (controls.verdict, &controls.names), &mut out);
    trace::trace_findings(t, &mut out);
    names::target_findings(t, &mut out);
    policy::family_findings(t, &mut out);
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// A finding about `t` (and probe `p`); `message` is escaped here.
fn finding(
    t: &TargetReport,
    p: Option<&ProbeResult>,
    code: Code,
    message: impl AsRef<str>,
) -> Finding {
    let mut f = Finding::new(code, &t.host, escape_str(message.as_ref()))
        .on(p.map(|p| p.service.clone()), p.map(|p| p.port))
        .at(p.and_then(|p| p.address));
    f.hint = code.hint_for(p.and_then(software)).to_string();
    // TLS-RPT speaks of delivery to the MX: the relay port, or the domain.
    f.tlsrpt_result = f.tlsrpt_result.filter(|_| p.is_none_or(is_relay));
    f
}

/// A refused port of the default sweep on an address whose other ports
/// answer is a service this host does not offer, not a failure. Not when the
/// user asked for the service, and not for port 25 of a host checked as a
/// domain's MX (--mx), which must receive mail.
fn not_offered(t: &TargetReport, p: &ProbeResult) -> bool {
    let mx = t.dns.as_ref().is_some_and(|d| d.mx_of.is_some());
    let must_answer = p.requested || (mx && is_relay(p) && p.port == 25);
    !must_answer
        && p.address.is_some()
        && t.probes
            .iter()
            .any(|q| q.address == p.address && connected(q))
}

/// The server software a probe identified: from the greeting, or for HTTP the Server header.
fn software(p: &ProbeResult) -> Option<&str> {
    p.software
        .as_deref()
        .or_else(|| p.http.as_ref().and_then(|h| h.server.as_deref()))
}

fn probe_findings(t: &TargetReport, p: &ProbeResult, out: &mut Vec<Finding>) {
    let detail = p.detail.clone().unwrap_or_default();
    match p.outcome {
        Outcome::Ok => {}
        Outcome::Refused if not_offered(t, p) => {
            let addr = p.address.map(|a| a.to_string()).unwrap_or_default();
            out.push(finding(
                t,
                Some(p),
                Code::ServiceNotOffered,
                format!(
                    "port {} ({}) of {addr} refused the connection while other ports of the address answered: \
                     {} is not offered here ({}); if it should run here, it is down",
                    p.port,
                    p.service,
                    p.service,
                    refusal_words(p)
                ),
            ));
        }
        Outcome::Refused | Outcome::Unreachable if icmp(p).is_some() => {
            out.push(finding(t, Some(p), p.outcome.code(), connect_words(p)));
        }
        Outcome::StarttlsUnavailable if p.preauth => {
            out.push(finding(t, Some(p), Code::PreauthPlaintext, detail));
        }
        Outcome::StarttlsUnavailable if p.starttls_stripped => {
            out.push(finding(t, Some(p), Code::StarttlsStripped, detail));
        }
        Outcome::StarttlsUnavailable if masked_greeting(p) => {
            let words = format!("{}; {detail}", middlebox_words(p));
            out.push(finding(t, Some(p), Code::SmtpInspectionMiddlebox, words));
        }
        Outcome::StarttlsUnavailable if p.starttls_reply.is_some() => {
            out.push(starttls_refused(t, p));
        }
        Outcome::StarttlsUnavailable if p.tls_mode == TlsMode::Opportunistic => {
            out.push(finding(t, Some(p), Code::StarttlsNotOfferedRelay, detail));
        }
        // The versions it speaks are known: the fix is to enable TLS 1.2.
        Outcome::TlsFailed if p.tls_versions.as_ref().is_some_and(|v| v.obsolete_only()) => {
            out.push(finding(t, Some(p), Code::TlsObsoleteOnly, detail));
        }
        Outcome::GreetingTimeout if is_relay(p) => out.push(finding(
            t,
            Some(p),
            Code::GreetingTimeout,
            format!(
                "{detail}; sending MTAs wait up to 5 minutes for a greeting (RFC 5321 4.5.3.2), \
                 so mail may still arrive: raise --greeting-timeout to see whether it greets at all"
            ),
        )),
        other => out.push(finding(t, Some(p), other.code(), detail)),
    }
    if p.outcome != Outcome::StarttlsUnavailable && masked_greeting(p) && !p.starttls_stripped {
        out.push(finding(
            t,
            Some(p),
            Code::SmtpInspectionMiddlebox,
            middlebox_words(p),
        ));
    }

    // SMTP here; IMAP and POP3 logins in `login_findings`.
    let smtp = p.protocol == Protocol::Smtp;
    let plaintext_auth: Vec<&str> = p
        .auth_plain
        .iter()
        .map(SafeText::as_str)
        .filter(|m| matches!(*m, "PLAIN" | "LOGIN"))
        .collect();
    if smtp && !plaintext_auth.is_empty() {
        out.push(finding(
            t,
            Some(p),
            Code::AuthBeforeTls,
            format!(
                "AUTH {} is offered before STARTTLS",
                plaintext_auth.join(" ")
            ),
        ));
    } else if smtp && !p.auth_plain.is_empty() {
        out.push(finding(
            t,
            Some(p),
            Code::AuthBeforeTlsHashed,
            format!("AUTH {} is offered before STARTTLS", p.auth_plain.join(" ")),
        ));
    }
    login_findings(t, p, out);
    http_findings(t, p, out);
    submission_auth_findings(t, p, out);

    if let Some(ms) = p.greeting_ms.filter(|&ms| ms > SLOW_GREETING_MS) {
        out.push(finding(
            t,
            Some(p),
            Code::GreetingSlow,
            format!("the greeting came after {:.1} s", ms as f64 / 1000.0),
        ));
    }

    if let Some(tls) = &p.tls {
        let code = match tls.verdict {
            CertVerdict::Valid => None,
            CertVerdict::Expired => Some(Code::CertExpired),
            CertVerdict::NotYetValid => Some(Code::CertNotYetValid),
            CertVerdict::NameMismatch => Some(Code::CertNameMismatch),
            CertVerdict::SelfSigned => Some(Code::CertSelfSigned),
            CertVerdict::Untrusted => Some(Code::CertUntrusted),
            CertVerdict::IncompleteChain => Some(Code::CertIncompleteChain),
            CertVerdict::Invalid => Some(Code::CertInvalid),
            CertVerdict::UnknownIssuer => Some(Code::CertUnknownIssuer),
        };
        if let Some(code) = code {
            let words = tls.verdict_detail.clone().unwrap_or_default();
            out.push(name_mismatch_on_relay(p, finding(t, Some(p), code, words)));
            // The verifier stops at the first problem: a wrong name behind an
            // untrusted or expired chain would only show after that is fixed.
            let name = &tls.verified_name;
            if let Some(leaf) = tls.chain.first().filter(|l| {
                tls.verdict != CertVerdict::NameMismatch
                    && !names::covers(&l.sans, name)
                    && !l
                        .sans
                        .iter()
                        .any(|s| s.strip_prefix("IP:") == Some(name.as_str()))
            }) {
                let f = finding(
                    t,
                    Some(p),
                    Code::CertNameMismatch,
                    format!(
                        "the certificate is not valid for {name} either; it names {}",
                        if leaf.sans.is_empty() {
                            format!("only the subject {}", leaf.subject)
                        } else {
                            leaf.sans.join(", ")
                        }
                    ),
                );
                out.push(name_mismatch_on_relay(p, f));
            }
        } else if let Some(leaf) = tls.chain.first().filter(|l| l.days_left < EXPIRY_WARN_DAYS) {
            out.push(finding(
                t,
                Some(p),
                Code::CertExpiringSoon,
                format!(
                    "the certificate expires on {} ({} days left)",
                    leaf.not_after, leaf.days_left
                ),
            ));
        }
        if let Some(leaf) = tls.chain.first().filter(|l| l.serial_negative) {
            out.push(finding(
                t,
                Some(p),
                Code::CertSerialNegative,
                format!(
                    "the certificate's serial number {} is negative, which RFC 5280 forbids; Go programs (1.23 and later) refuse such a certificate",
                    leaf.serial
                ),
            ));
        }
    }
}

/// An SMTP greeting whose text is masked with asterisks (`220 ****…`): what
/// Cisco PIX/ASA SMTP inspection makes of the server's banner.
fn masked_greeting(p: &ProbeResult) -> bool {
    let Some(g) = p
        .greeting
        .as_deref()
        .filter(|_| p.protocol == Protocol::Smtp)
    else {
        return false;
    };
    let text = g.get(4..).unwrap_or_default();
    let text = text.split(" / ").next().unwrap_or_default();
    let stars = text.chars().filter(|&c| c == '*').count();
    let shown = text.chars().filter(|c| !c.is_whitespace()).count();
    stars >= 8 && stars * 10 >= shown * 8
}

fn middlebox_words(p: &ProbeResult) -> String {
    format!(
        "the greeting \"{}\" is masked with asterisks: a Cisco PIX/ASA firewall's SMTP inspection (inspect esmtp, formerly fixup smtp) sits in front of the server and rewrites the dialog",
        p.greeting.as_deref().unwrap_or_default()
    )
}

/// STARTTLS (STLS) sent and refused: not "not offered", a server whose
/// TLS is broken. Quotes the refusal. On the relay port, where senders fall
/// back to plaintext, a warning; elsewhere a failure.
fn starttls_refused(t: &TargetReport, p: &ProbeResult) -> Finding {
    let command = if p.protocol == Protocol::Pop3 {
        "STLS"
    } else {
        "STARTTLS"
    };
    let offered = match p.starttls_offered {
        Some(true) => "offers",
        _ => "was asked for",
    };
    let reply = p.starttls_reply.as_deref().unwrap_or_default();
    let mut f = finding(
        t,
        Some(p),
        Code::StarttlsRefused,
        format!("the server {offered} {command} but refused it: \"{reply}\""),
    );
    if p.tls_mode == TlsMode::Opportunistic {
        f.severity = Severity::Warn;
        f.message.push_ours(
            "; senders fall back to plaintext, so mail to this server travels unencrypted",
        );
    }
    f
}

/// A submission port is for mail clients, who must log in to send: one
/// that offers no AUTH even inside TLS turns every client away. Only
/// judged when the capabilities inside TLS were read.
fn submission_auth_findings(t: &TargetReport, p: &ProbeResult, out: &mut Vec<Finding>) {
    if !is_submission(p)
        || p.protocol != Protocol::Smtp
        || p.outcome != Outcome::Ok
        || p.capabilities_tls.is_empty()
        || !p.auth_tls.is_empty()
        || !p.auth_plain.is_empty()
    {
        return;
    }
    let tls = match p.tls_mode {
        TlsMode::Implicit => "inside TLS",
        _ => "before or after STARTTLS",
    };
    out.push(finding(
        t,
        Some(p),
        Code::SubmissionNoAuth,
        format!(
            "port {} offers no AUTH {tls}: mail clients cannot log in to send mail here",
            p.port
        ),
    ));
}

/// A certificate for another name on the SMTP relay port is a warning, not a
/// failure: senders there use opportunistic TLS and most of them do not check
/// names. Those that do are named.
fn name_mismatch_on_relay(p: &ProbeResult, mut f: Finding) -> Finding {
    if f.code == Code::CertNameMismatch && p.tls_mode == TlsMode::Opportunistic {
        f.severity = Severity::Warn;
        f.message.push_ours(
            "; on the relay port most senders use opportunistic TLS and deliver anyway, \
             but senders that check names (an MTA-STS policy in enforce mode, DANE) will not",
        );
    }
    f
}

/// IMAP and POP3: a password login offered before TLS, by the protocol's own
/// command (IMAP LOGIN without LOGINDISABLED, POP3 USER) or by SASL.
fn login_findings(t: &TargetReport, p: &ProbeResult, out: &mut Vec<Finding>) {
    let (login, sasl, before) = match p.protocol {
        Protocol::Imap => ("LOGIN (no LOGINDISABLED)", "AUTH=", "STARTTLS"),
        Protocol::Pop3 => ("USER", "SASL ", "STLS"),
        _ => return,
    };
    // After PREAUTH no login is needed at all: preauth_plaintext says it.
    if p.tls_mode == TlsMode::Implicit || p.preauth {
        return;
    }
    let mut offered: Vec<String> = Vec::new();
    if p.login_plain == Some(true) {
        offered.push(login.to_string());
    }
    offered.extend(
        p.auth_plain
            .iter()
            .filter(|m| matches!(m.as_str(), "PLAIN" | "LOGIN"))
            .map(|m| format!("{sasl}{m}")),
    );
    // POP3's USER carries only the name: a server that refuses it before STLS
    // (Courier with POP3_TLS_REQUIRED=1 still lists it) never sees the
    // password. mailport sends no credential to find out, so it says what it
    // saw, and what decides the rest.
    let user_only = p.protocol == Protocol::Pop3 && offered.len() == 1 && offered[0] == login;
    if user_only {
        let mut f = finding(
            t,
            Some(p),
            Code::LoginBeforeTls,
            format!(
                "USER is advertised before {before}: a client that uses it sends its name unencrypted, \
                 and its password too unless the server refuses USER before TLS \
                 (a setting mailport cannot see without sending a credential)"
            ),
        );
        f.severity = Severity::Warn;
        out.push(f);
    } else if !offered.is_empty() {
        out.push(finding(
            t,
            Some(p),
            Code::LoginBeforeTls,
            format!(
                "{} advertised before {before}: a client that uses it sends its password unencrypted, \
                 even if the server then refuses the login",
                offered.join(", ")
            ),
        ));
    } else if !p.auth_plain.is_empty() {
        out.push(finding(
            t,
            Some(p),
            Code::AuthBeforeTlsHashed,
            format!(
                "{} mechanisms offered before {before}: {}",
                sasl.trim_end_matches(['=', ' ']),
                p.auth_plain.join(" ")
            ),
        ));
    }
}

/// Webmail: port 80 should redirect to HTTPS; 443 should send HSTS.
fn http_findings(t: &TargetReport, p: &ProbeResult, out: &mut Vec<Finding>) {
    let Some(h) = &p.http else {
        return;
    };
    let redirect = (300..400).contains(&h.status);
    if p.tls_mode == TlsMode::None {
        let to_https = redirect
            && h.location.as_deref().is_some_and(|l| {
                l.get(..8)
                    .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
            });
        if !to_https {
            let message = match &h.location {
                Some(l) if redirect => {
                    format!("port {} redirects to {l}, not to HTTPS", p.port)
                }
                _ => format!(
                    "port {} answers GET / with {} {} instead of a redirect to HTTPS",
                    p.port, h.status, h.reason
                ),
            };
            out.push(finding(t, Some(p), Code::HttpNoRedirect, message));
        }
    }
    let to_http = redirect
        && h.location.as_deref().is_some_and(|l| {
            l.get(..7)
                .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
        });
    if p.tls_mode == TlsMode::Implicit && to_http {
        out.push(finding(
            t,
            Some(p),
            Code::HttpsRedirectsToHttp,
            format!(
                "port {} (HTTPS) answers GET / with {} {} to {}: back to plain HTTP, which usually redirects to HTTPS again, a loop browsers stop with \"too many redirects\"",
                p.port,
                h.status,
                h.reason,
                h.location.as_deref().unwrap_or_default()
            ),
        ));
    }
    if h.status >= 500 {
        out.push(finding(
            t,
            Some(p),
            Code::HttpServerError,
            format!(
                "GET / on port {} answered {} {}",
                p.port, h.status, h.reason
            ),
        ));
    }
    if p.tls_mode == TlsMode::Implicit && h.hsts.is_none() {
        out.push(finding(
            t,
            Some(p),
            Code::HstsMissing,
            format!("port {} sends no Strict-Transport-Security header", p.port),
        ));
    }
}

/// The ICMP error a probe's connect drew, if any.
fn icmp(p: &ProbeResult) -> Option<&IcmpFacts> {
    p.connect.as_ref().and_then(|c| c.icmp.as_ref())
}

/// Why a port refused, as far as the socket said: a firewall's ICMP
/// port-unreachable (naming who sent it), or a TCP RST.
fn refusal_words(p: &ProbeResult) -> String {
    match icmp(p) {
        Some(i) if i.kind() == IcmpKind::PortUnreachable => format!(
            "a firewall rule rejects it: ICMP port-unreachable from {}",
            i.sender()
        ),
        Some(i) => format!("ICMP {} from {}", i.name, i.sender()),
        None => "the host answered with a TCP RST: nothing listens, or a firewall rejects it with a reset".to_string(),
    }
}

/// A failed connect in words, from its facts: who answered with which ICMP
/// error (the offender's PTR name when it has one), and the errno.
fn connect_words(p: &ProbeResult) -> String {
    match (icmp(p), &p.connect) {
        (Some(i), Some(c)) => format!("{} ({})", i.words(p.address), c.result.as_str()),
        _ => p
            .detail
            .as_ref()
            .map(SafeText::to_string)
            .unwrap_or_default(),
    }
}

fn is_relay(p: &ProbeResult) -> bool {
    p.role() == Some(ServiceRole::Relay)
}

fn is_submission(p: &ProbeResult) -> bool {
    p.role() == Some(ServiceRole::Submission)
}

fn connected(p: &ProbeResult) -> bool {
    p.connect
        .as_ref()
        .is_some_and(|c| c.result == ConnectResult::Connected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Code;
    use crate::report::Severity;
    use crate::report::{ConnectFacts, DnsStatus, Resolution, TlsFacts};

    fn probe(port: u16, outcome: Outcome) -> ProbeResult {
        let service = crate::service::by_port(port).unwrap();
        ProbeResult {
            outcome,
            detail: Some("words".into()),
            total_ms: 1,
            connect: Some(ConnectFacts {
                local_addr: None,
                result: if matches!(outcome, Outcome::ConnectTimeout) {
                    ConnectResult::Timeout
                } else if outcome == Outcome::Refused {
                    ConnectResult::Error("ECONNREFUSED".into())
                } else {
                    ConnectResult::Connected
                },
                errno: None,
                ms: 1,
                icmp: None,
            }),
            ..ProbeResult::new(service, port, Some("192.0.2.1".parse().unwrap()))
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
                source: crate::report::ResolutionSource::Literal,
                status: DnsStatus::Found,
                detail: None,
                ms: 0,
            },
            probes,
            dns: None,
            traces: Vec::new(),
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
    fn every_port_of_this_machine_refused_is_still_no_service_listening() {
        let mut t = target(vec![
            probe(25, Outcome::Refused),
            probe(587, Outcome::Refused),
        ]);
        t.local_addresses = t.addresses.clone();
        assert_eq!(codes(&diagnose(&[t])).last(), Some(&"no_service_listening"));
    }

    #[test]
    fn a_relay_on_a_custom_port_is_no_port25_block() {
        let mut relay = probe(25, Outcome::ConnectTimeout);
        relay.port = 2525;
        let t = target(vec![relay, probe(587, Outcome::Ok)]);
        assert!(!codes(&diagnose(&[t])).contains(&"port25_blocked"));
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
        assert_eq!(on(25).code, Code::StarttlsNotOfferedRelay);
        assert_eq!(on(587).severity, Severity::Fail);
        assert_eq!(on(587).code, Code::StarttlsUnavailable);
    }

    #[test]
    fn a_refused_starttls_is_not_called_not_offered() {
        let mut relay = probe(25, Outcome::StarttlsUnavailable);
        relay.starttls_offered = Some(true);
        relay.starttls_reply = Some("454 4.7.0 TLS not available".into());
        let mut sub = relay.clone();
        sub.port = 587;
        sub.service = "submission".into();
        sub.tls_mode = TlsMode::Required;
        let f = diagnose(&[target(vec![relay, sub])]);
        assert_eq!(codes(&f), vec!["starttls_refused", "starttls_refused"]);
        let on = |port| f.iter().find(|f| f.port == Some(port)).unwrap();
        assert_eq!(on(587).severity, Severity::Fail);
        assert_eq!(on(25).severity, Severity::Warn);
        assert!(on(25).message.contains("\"454 4.7.0 TLS not available\""));
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
    fn a_submission_port_without_auth_even_inside_tls_warns() {
        let mut p = probe(587, Outcome::Ok);
        p.capabilities_tls = vec!["250-mail.example.test".into(), "250 8BITMIME".into()];
        p.software = Some("Postfix".into());
        let f = diagnose(&[target(vec![p.clone()])]);
        assert_eq!(codes(&f), vec!["submission_no_auth"]);
        assert_eq!(f[0].severity, Severity::Warn);
        assert!(f[0].message.contains("cannot log in"), "{}", f[0].message);
        assert!(
            f[0].hint.contains("smtpd_sasl_auth_enable"),
            "{}",
            f[0].hint
        );
        // AUTH inside TLS: nothing; the relay port needs none.
        p.auth_tls = vec!["PLAIN".into()];
        assert!(diagnose(&[target(vec![p])]).is_empty());
        let mut relay = probe(25, Outcome::Ok);
        relay.capabilities_tls = vec!["250 mail.example.test".into()];
        assert!(diagnose(&[target(vec![relay])]).is_empty());
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
        let mut refused = probe(587, Outcome::Refused);
        refused.requested = true;
        let t = target(vec![p, refused]);
        let f = diagnose(&[t]);
        assert_eq!(f[0].severity, Severity::Fail);
        assert!(f.iter().all(|f| !f.hint.is_empty()));
    }

    /// A probe of another protocol, on its standard port.
    fn other(service: &str, outcome: Outcome) -> ProbeResult {
        let svc = crate::service::by_name(service).unwrap();
        let mut p = probe(svc.port, outcome);
        p.service = svc.name.to_string();
        p.protocol = svc.protocol;
        p.tls_mode = svc.tls;
        p
    }

    fn http(status: u16, location: Option<&str>, hsts: Option<&str>) -> crate::report::HttpFacts {
        crate::report::HttpFacts {
            version: "HTTP/1.1".into(),
            status,
            reason: "Reason".into(),
            location: location.map(crate::escape::escape_str),
            server: Some("nginx".into()),
            hsts: hsts.map(crate::escape::escape_str),
        }
    }

    #[test]
    fn imap_login_before_starttls_fails_with_its_own_code() {
        let mut p = other("imap", Outcome::Ok);
        p.login_disabled = Some(false);
        p.login_plain = Some(true);
        p.auth_plain = vec!["PLAIN".into()];
        let generic = diagnose(&[target(vec![p.clone()])]);
        assert!(
            !generic[0].hint.contains("disable_plaintext_auth"),
            "no software found, no Dovecot setting: {}",
            generic[0].hint
        );
        p.software = Some("Dovecot".into());
        let f = diagnose(&[target(vec![p])]);
        assert_eq!(codes(&f), vec!["login_before_tls"]);
        assert_eq!(f[0].severity, Severity::Fail);
        assert!(
            f[0].message
                .contains("LOGIN (no LOGINDISABLED), AUTH=PLAIN"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].hint.contains("disable_plaintext_auth"),
            "{}",
            f[0].hint
        );
        // LOGINDISABLED and no AUTH= before TLS (Dovecot's default): nothing.
        let mut p = other("imap", Outcome::Ok);
        p.login_disabled = Some(true);
        p.login_plain = Some(false);
        assert!(diagnose(&[target(vec![p])]).is_empty());
    }

    #[test]
    fn pop3_user_before_stls_warns_and_hashed_sasl_warns() {
        // r12: USER carries only the name; Courier with POP3_TLS_REQUIRED=1
        // lists it and refuses it. Said as seen: advertised, a warning.
        let mut p = other("pop3", Outcome::Ok);
        p.login_plain = Some(true);
        p.software = Some("Courier".into());
        let f = diagnose(&[target(vec![p.clone()])]);
        assert_eq!(codes(&f), vec!["login_before_tls"]);
        assert_eq!(f[0].severity, Severity::Warn);
        assert!(
            f[0].message.starts_with("USER is advertised before STLS"),
            "{}",
            f[0].message
        );
        assert!(f[0].hint.contains("POP3_TLS_REQUIRED"), "{}", f[0].hint);
        // With SASL PLAIN too, the password itself would cross: a failure.
        p.auth_plain = vec!["PLAIN".into()];
        let f = diagnose(&[target(vec![p])]);
        assert_eq!(f[0].severity, Severity::Fail);
        assert!(f[0].message.contains("advertised"), "{}", f[0].message);
        let mut p = other("pop3", Outcome::Ok);
        p.login_plain = Some(false);
        p.auth_plain = vec!["CRAM-MD5".into(), "SCRAM-SHA-1".into()];
        let f = diagnose(&[target(vec![p])]);
        assert_eq!(codes(&f), vec!["auth_before_tls_hashed"]);
        assert_eq!(f[0].severity, Severity::Warn);
        assert_eq!(
            f[0].message,
            "SASL mechanisms offered before STLS: CRAM-MD5 SCRAM-SHA-1"
        );
    }

    #[test]
    fn logins_inside_implicit_tls_are_no_finding() {
        let mut p = other("imaps", Outcome::Ok);
        p.login_tls = Some(true);
        p.auth_tls = vec!["PLAIN".into()];
        assert!(diagnose(&[target(vec![p])]).is_empty());
    }

    #[test]
    fn imap_without_starttls_is_a_failure() {
        let p = other("imap", Outcome::StarttlsUnavailable);
        let f = diagnose(&[target(vec![p])]);
        assert_eq!(codes(&f), vec!["starttls_unavailable"]);
        assert_eq!(f[0].severity, Severity::Fail);
    }

    #[test]
    fn port_80_should_redirect_to_https() {
        let mut p = other("http", Outcome::Ok);
        p.http = Some(http(301, Some("https://mail.example.test/"), None));
        assert!(diagnose(&[target(vec![p])]).is_empty());
        let mut p = other("http", Outcome::Ok);
        p.http = Some(http(200, None, None));
        let f = diagnose(&[target(vec![p])]);
        assert_eq!(codes(&f), vec!["http_no_redirect"]);
        assert_eq!(f[0].severity, Severity::Warn);
        assert!(f[0].message.contains("with 200 Reason"), "{}", f[0].message);
        let mut p = other("http", Outcome::Ok);
        p.http = Some(http(302, Some("http://mail.example.test/webmail"), None));
        let f = diagnose(&[target(vec![p])]);
        assert_eq!(codes(&f), vec!["http_no_redirect"]);
        assert!(
            f[0].message.contains("redirects to http://"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn https_redirecting_to_http_warns() {
        let mut p = other("https", Outcome::Ok);
        p.http = Some(http(
            301,
            Some("http://mail.example.test/"),
            Some("max-age=1"),
        ));
        let f = diagnose(&[target(vec![p])]);
        assert_eq!(codes(&f), vec!["https_redirects_to_http"]);
        assert_eq!(f[0].severity, Severity::Warn);
        assert!(
            f[0].message.contains("to http://mail.example.test/"),
            "{}",
            f[0].message
        );
        let mut p = other("https", Outcome::Ok);
        p.http = Some(http(
            302,
            Some("https://mail.example.test/webmail/"),
            Some("max-age=1"),
        ));
        assert!(diagnose(&[target(vec![p])]).is_empty());
    }

    #[test]
    fn https_without_hsts_is_info_and_5xx_warns() {
        let mut p = other("https", Outcome::Ok);
        p.http = Some(http(200, None, Some("max-age=31536000")));
        assert!(diagnose(&[target(vec![p])]).is_empty());
        let mut p = other("https", Outcome::Ok);
        p.http = Some(http(502, None, None));
        let f = diagnose(&[target(vec![p])]);
        assert_eq!(codes(&f), vec!["http_server_error", "hsts_missing"]);
        assert_eq!(f[1].severity, Severity::Info);
    }

    fn control(probes: Vec<ProbeResult>) -> TargetReport {
        let mut t = target(probes);
        t.host = "mx.control.test".into();
        t.role = Role::Control;
        t
    }

    #[test]
    fn port25_timing_out_here_and_at_the_control_is_an_outbound_block() {
        let t = target(vec![
            probe(25, Outcome::ConnectTimeout),
            probe(587, Outcome::Ok),
        ]);
        let c = control(vec![
            probe(25, Outcome::ConnectTimeout),
            probe(587, Outcome::StarttlsUnavailable),
        ]);
        let f = diagnose(&[t, c]);
        let c = codes(&f);
        assert!(c.contains(&"outbound_port25_blocked"), "{f:?}");
        assert!(!c.contains(&"port25_blocked"));
        // The control host's own problems raise nothing.
        assert!(!c.contains(&"starttls_unavailable"));
        assert!(f.iter().all(|f| f.host == "mail.example.test"));
    }

    #[test]
    fn a_control_whose_port25_connects_puts_the_block_at_the_server() {
        let t = target(vec![
            probe(25, Outcome::ConnectTimeout),
            probe(587, Outcome::Ok),
        ]);
        let c = control(vec![probe(25, Outcome::Ok), probe(587, Outcome::Ok)]);
        let f = diagnose(&[t, c]);
        let blocked = f
            .iter()
            .find(|f| f.code == Code::Port25Blocked)
            .expect("port25_blocked");
        assert!(
            blocked.message.contains("at or near mail.example.test"),
            "{}",
            blocked.message
        );
        assert!(!codes(&f).contains(&"outbound_port25_blocked"));
    }

    #[test]
    fn a_control_that_times_out_everywhere_proves_nothing() {
        let t = target(vec![
            probe(25, Outcome::ConnectTimeout),
            probe(587, Outcome::Ok),
        ]);
        let c = control(vec![
            probe(25, Outcome::ConnectTimeout),
            probe(587, Outcome::ConnectTimeout),
        ]);
        let f = diagnose(&[t, c]);
        assert!(codes(&f).contains(&"port25_blocked"));
        assert!(!codes(&f).contains(&"outbound_port25_blocked"));
    }

    #[test]
    fn a_timeout_to_this_machine_is_the_local_firewall() {
        let mut t = target(vec![
            probe(25, Outcome::ConnectTimeout),
            probe(587, Outcome::Ok),
        ]);
        t.local_addresses = t.addresses.clone();
        let f = diagnose(&[t]);
        assert!(codes(&f).contains(&"local_firewall"));
        // No network in between: no port-25 block is claimed.
        assert!(!codes(&f).contains(&"port25_blocked"), "{f:?}");
        let t = target(vec![
            probe(25, Outcome::ConnectTimeout),
            probe(587, Outcome::Ok),
        ]);
        assert!(!codes(&diagnose(&[t])).contains(&"local_firewall"));
    }

    #[test]
    fn a_silent_25_beside_a_greeting_587_is_greeting_withheld() {
        let mut sub = probe(587, Outcome::Ok);
        sub.greeting = Some("220 mail.example.test ESMTP".into());
        let t = target(vec![probe(25, Outcome::GreetingTimeout), sub]);
        let f = diagnose(&[t]);
        assert!(codes(&f).contains(&"greeting_withheld"), "{f:?}");
        let t = target(vec![
            probe(25, Outcome::GreetingTimeout),
            probe(587, Outcome::GreetingTimeout),
        ]);
        assert!(!codes(&diagnose(&[t])).contains(&"greeting_withheld"));
    }

    fn with_icmp(
        mut p: ProbeResult,
        ty: u8,
        code: u8,
        from: &str,
        name: Option<&str>,
    ) -> ProbeResult {
        let mut icmp = IcmpFacts::new(
            crate::report::IcmpProtocol::Icmp,
            ty,
            code,
            Some(from.parse().unwrap()),
        );
        icmp.from_name = name.map(crate::escape::escape_str);
        if let Some(c) = p.connect.as_mut() {
            c.icmp = Some(icmp);
            if ty == 3 && code == 13 {
                c.result = ConnectResult::Error("EHOSTUNREACH".into());
            }
        }
        p
    }

    #[test]
    fn an_icmp_refusal_is_a_firewall_rule_and_a_rst_is_nothing_listening() {
        let mut asked = with_icmp(probe(25, Outcome::Refused), 3, 3, "192.0.2.1", None);
        asked.requested = true;
        let f = diagnose(&[target(vec![asked, probe(587, Outcome::Ok)])]);
        let r = f.iter().find(|f| f.code == Code::Refused).unwrap();
        assert!(
            r.message.contains("refused by a firewall rule"),
            "{}",
            r.message
        );
        assert!(
            r.message.contains("port-unreachable from 192.0.2.1"),
            "{}",
            r.message
        );
        assert!(r.message.contains("the host itself"), "{}", r.message);

        // Not asked for: not offered, with the same evidence.
        let swept = with_icmp(probe(110, Outcome::Refused), 3, 3, "192.0.2.1", None);
        let f = diagnose(&[target(vec![swept, probe(587, Outcome::Ok)])]);
        let n = f
            .iter()
            .find(|f| f.code == Code::ServiceNotOffered)
            .unwrap();
        assert!(
            n.message
                .contains("a firewall rule rejects it: ICMP port-unreachable from 192.0.2.1"),
            "{}",
            n.message
        );
        let f = diagnose(&[target(vec![
            probe(110, Outcome::Refused),
            probe(587, Outcome::Ok),
        ])]);
        let n = f
            .iter()
            .find(|f| f.code == Code::ServiceNotOffered)
            .unwrap();
        assert!(n.message.contains("TCP RST"), "{}", n.message);
    }

    #[test]
    fn an_admin_prohibited_names_the_device_and_its_ptr_name() {
        let p = with_icmp(
            probe(25, Outcome::Unreachable),
            3,
            13,
            "10.0.2.2",
            Some("r1.isp.example"),
        );
        let f = diagnose(&[target(vec![p, probe(587, Outcome::Ok)])]);
        let u = f.iter().find(|f| f.code == Code::Unreachable).unwrap();
        assert!(
            u.message
                .contains("administratively prohibited by 10.0.2.2 (r1.isp.example)"),
            "{}",
            u.message
        );
        assert!(
            u.message.contains("a device on the path, not the server"),
            "{}",
            u.message
        );
        assert!(u.message.ends_with("(EHOSTUNREACH)"), "{}", u.message);
    }

    #[test]
    fn every_code_a_rule_can_raise_is_documented() {
        let mut t = target(vec![
            probe(25, Outcome::ConnectTimeout),
            probe(587, Outcome::Ok),
            probe(465, Outcome::Refused),
        ]);
        t.local_addresses = t.addresses.clone();
        for f in diagnose(&[t]) {
            assert_eq!(f.severity, f.code.severity(), "{}", f.code);
        }
    }

    fn with_tls(verdict: CertVerdict, days_left: i64) -> ProbeResult {
        let mut p = probe(465, Outcome::Ok);
        p.tls = Some(crate::report::TlsFacts {
            version: "TLSv1.3".into(),
            cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
            alpn: None,
            chain: vec![crate::report::CertFacts {
                subject: "CN=mail.example.test".into(),
                issuer: "CN=ca".into(),
                serial: "01".into(),
                sans: vec!["DNS:mail.example.test".into()],
                not_before: "2026-01-01T00:00:00Z".into(),
                not_after: "2027-01-01T00:00:00Z".into(),
                days_left,
                lifetime_days: 365,
                key_type: "EC".into(),
                key_bits: 256,
                signature_algorithm: "ecdsa-with-SHA256".into(),
                ..crate::report::CertFacts::default()
            }],
            verdict,
            verdict_detail: (verdict != CertVerdict::Valid).then(|| "the verifier's words".into()),
            verified_name: "mail.example.test".into(),
            chain_sent: None,
            digests: Vec::new(),
            presented: None,
        });
        p
    }

    #[test]
    fn every_certificate_verdict_is_its_own_failing_finding() {
        for (verdict, code) in [
            (CertVerdict::Expired, "cert_expired"),
            (CertVerdict::NotYetValid, "cert_not_yet_valid"),
            (CertVerdict::NameMismatch, "cert_name_mismatch"),
            (CertVerdict::SelfSigned, "cert_self_signed"),
            (CertVerdict::Untrusted, "cert_untrusted"),
            (CertVerdict::IncompleteChain, "cert_incomplete_chain"),
            (CertVerdict::Invalid, "cert_invalid"),
        ] {
            let f = diagnose(&[target(vec![with_tls(verdict, 90)])]);
            assert_eq!(codes(&f), vec![code], "{verdict:?}");
            assert_eq!(f[0].severity, Severity::Fail);
            assert_eq!(f[0].message, "the verifier's words");
        }
        assert!(diagnose(&[target(vec![with_tls(CertVerdict::Valid, 90)])]).is_empty());
    }

    #[test]
    fn a_wrong_name_behind_an_untrusted_chain_is_reported_too() {
        let mut p = with_tls(CertVerdict::Untrusted, 90);
        if let Some(tls) = p.tls.as_mut() {
            tls.verified_name = "other.example.test".into();
        }
        let f = diagnose(&[target(vec![p])]);
        assert_eq!(codes(&f), vec!["cert_untrusted", "cert_name_mismatch"]);
        // A covered name adds nothing.
        let f = diagnose(&[target(vec![with_tls(CertVerdict::Untrusted, 90)])]);
        assert_eq!(codes(&f), vec!["cert_untrusted"]);
    }

    #[test]
    fn a_valid_certificate_close_to_expiry_warns() {
        let f = diagnose(&[target(vec![with_tls(
            CertVerdict::Valid,
            EXPIRY_WARN_DAYS - 1,
        )])]);
        assert_eq!(codes(&f), vec!["cert_expiring_soon"]);
        assert_eq!(f[0].severity, Severity::Warn);
        assert!(f[0].message.contains("20 days left"), "{}", f[0].message);
        // An expired one is cert_expired, not also expiring soon.
        let f = diagnose(&[target(vec![with_tls(CertVerdict::Expired, -3)])]);
        assert_eq!(codes(&f), vec!["cert_expired"]);
    }

    #[test]
    fn a_wrong_name_on_the_relay_port_is_a_warning_that_names_who_checks() {
        let tls = |verdict| TlsFacts {
            version: "TLSv1_3".into(),
            cipher_suite: "x".into(),
            alpn: None,
            chain: vec![],
            verdict,
            verdict_detail: Some("the certificate is not valid for mail.example.test".into()),
            verified_name: "mail.example.test".into(),
            chain_sent: None,
            digests: Vec::new(),
            presented: None,
        };
        let mut relay = probe(25, Outcome::Ok);
        relay.tls = Some(tls(CertVerdict::NameMismatch));
        let mut submission = probe(587, Outcome::Ok);
        submission.tls = Some(tls(CertVerdict::NameMismatch));
        let f = diagnose(&[target(vec![relay, submission])]);
        let on = |port| f.iter().find(|f| f.port == Some(port)).unwrap();
        assert_eq!(on(25).code, Code::CertNameMismatch);
        assert_eq!(on(25).severity, Severity::Warn);
        assert!(on(25).message.contains("MTA-STS"), "{}", on(25).message);
        assert_eq!(on(587).severity, Severity::Fail);
        assert!(!on(587).message.contains("MTA-STS"));
    }

    /// r12: a closed port of the default sweep is "not offered", not a FAIL.
    #[test]
    fn r12_a_refused_port_of_the_default_sweep_is_not_offered() {
        let sweep = |port, outcome| probe(port, outcome);
        let t = target(vec![
            sweep(25, Outcome::Ok),
            sweep(587, Outcome::Ok),
            sweep(110, Outcome::Refused),
        ]);
        let f = diagnose(std::slice::from_ref(&t));
        let pop = f.iter().find(|f| f.port == Some(110)).unwrap();
        assert_eq!(pop.code, Code::ServiceNotOffered);
        assert_eq!(pop.severity, Severity::Info);
        assert!(
            pop.message.contains("if it should run here, it is down"),
            "{}",
            pop.message
        );
        // Asked for by name or port: a failure.
        let mut asked = t.clone();
        asked.probes[2].requested = true;
        let f = diagnose(&[asked]);
        assert_eq!(
            f.iter().find(|f| f.port == Some(110)).unwrap().code,
            Code::Refused
        );
        // Nothing answers at all: no_service_listening, and each refusal a failure.
        let none = target(vec![
            sweep(25, Outcome::Refused),
            sweep(110, Outcome::Refused),
        ]);
        let f = diagnose(&[none]);
        assert!(f.iter().any(|f| f.code == Code::NoServiceListening));
        assert!(f.iter().all(|f| f.code != Code::ServiceNotOffered));
        // Port 25 of a domain's MX must answer.
        let mut mx = target(vec![sweep(25, Outcome::Refused), sweep(587, Outcome::Ok)]);
        mx.dns = Some(crate::report::TargetDns {
            resolver: "system".into(),
            reverse: vec![],
            skipped: vec![],
            mx_of: Some(crate::report::MxOf {
                domain: "example.test".into(),
                preference: 10,
                implicit: false,
            }),
            mx: None,
        });
        let f = diagnose(&[mx]);
        assert_eq!(
            f.iter().find(|f| f.port == Some(25)).unwrap().code,
            Code::Refused
        );
    }

    /// r12: a silent relay port is said in the terms of the senders, who wait 5 minutes.
    #[test]
    fn r12_a_greeting_timeout_on_the_relay_port_says_mtas_wait_five_minutes() {
        let f = diagnose(&[target(vec![probe(25, Outcome::GreetingTimeout)])]);
        assert_eq!(f[0].code, Code::GreetingTimeout);
        assert!(f[0].message.contains("5 minutes"), "{}", f[0].message);
        let f = diagnose(&[target(vec![probe(587, Outcome::GreetingTimeout)])]);
        assert!(!f[0].message.contains("5 minutes"), "{}", f[0].message);
    }

    /// A server of only TLS 1.0/1.1 is its own finding, with a hint for its
    /// software; TLS 1.2 with other cipher suites stays tls_failed.
    #[test]
    fn a_server_of_only_old_tls_is_tls_obsolete_only() {
        use crate::report::{TlsAnswer, TlsVersions};
        let answered = |version: &str| {
            let mut p = probe(465, Outcome::TlsFailed);
            p.detail = Some("the server speaks only TLS 1.0, which ...".into());
            p.software = Some("Postfix".into());
            p.tls_versions = Some(TlsVersions {
                answer: TlsAnswer::ServerHello,
                version: Some(version.into()),
                cipher_suite: Some("TLS_RSA_WITH_AES_128_CBC_SHA".into()),
                alert: None,
                second_connection: true,
            });
            p
        };
        for v in ["TLS 1.0", "TLS 1.1", "SSL 3.0"] {
            let f = diagnose(&[target(vec![answered(v)])]);
            assert_eq!(codes(&f), ["tls_obsolete_only"], "{v}");
            assert_eq!(f[0].severity, Severity::Fail);
            assert!(f[0].hint.contains("smtpd_tls_protocols"), "{}", f[0].hint);
        }
        let f = diagnose(&[target(vec![answered("TLS 1.2")])]);
        assert_eq!(codes(&f), ["tls_failed"]);
        let mut alert = answered("TLS 1.0");
        if let Some(v) = alert.tls_versions.as_mut() {
            v.answer = TlsAnswer::Alert;
        }
        assert_eq!(codes(&diagnose(&[target(vec![alert])])), ["tls_failed"]);
    }

    /// r14: a negative serial is a warning that says who refuses it.
    #[test]
    fn r14_a_negative_serial_is_a_warning() {
        let mut p = with_tls(CertVerdict::Valid, 300);
        if let Some(tls) = p.tls.as_mut() {
            tls.chain[0].serial_negative = true;
        }
        let f = diagnose(&[target(vec![p])]);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].code, Code::CertSerialNegative);
        assert_eq!(f[0].severity, Severity::Warn);
        assert!(f[0].message.contains("Go"), "{}", f[0].message);
        assert!(diagnose(&[target(vec![with_tls(CertVerdict::Valid, 300)])]).is_empty());
    }
}
