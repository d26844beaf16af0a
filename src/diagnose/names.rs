//! Rules on names: reverse DNS (a missing PTR, a PTR that does not resolve
//! back, a generic PTR, several PTRs, a lookup that failed), the SMTP
//! greeting's name against the PTR, the certificate's names, and the MX of
//! mail domains. Pure: report facts in, findings out.

use super::{finding, is_relay};
use crate::codes::Code;
use crate::report::{
    DnsStatus, Finding, MxLookup, ProbeResult, ReverseDns, SafeText, TargetReport,
};
use crate::service::Protocol;
use std::net::IpAddr;

/// Findings about the mail domains given with --mx.
pub fn mail_domains(domains: &[MxLookup]) -> Vec<Finding> {
    let mut out = Vec::new();
    for d in domains {
        let mut f = |code: Code, message: String| {
            out.push(Finding::new(
                code,
                &d.domain,
                crate::escape::escape_str(&message),
            ));
        };
        if d.is_null() {
            let others = d.records.iter().filter(|r| r.exchange != ".").count();
            let mut m = format!(
                "{} publishes a null MX (MX 0 .): it declares that it accepts no mail",
                d.domain
            );
            if others > 0 {
                m.push_str(&format!(
                    "; it also has {others} other MX record(s), which RFC 7505 forbids beside a null MX"
                ));
            }
            f(Code::MxNull, m);
        } else if d.status == DnsStatus::NoData {
            f(
                Code::MxMissing,
                format!(
                    "{} has no MX record; senders fall back to its own address (implicit MX), which is checked instead",
                    d.domain
                ),
            );
        } else if d.status != DnsStatus::Found {
            let why = d.detail.clone().unwrap_or_else(|| d.status.as_str().into());
            let m = if d.status == DnsStatus::Nxdomain {
                format!("the mail domain {} does not exist: {why}", d.domain)
            } else {
                format!(
                    "the MX lookup of {} failed ({}): {why}",
                    d.domain,
                    d.status.as_str()
                )
            };
            f(Code::DnsFailed, m);
        }
    }
    out
}

/// The words of a target's `dns_failed`, with a pointer to --mx when the
/// name has no address but has MX records: a mail domain, not a host.
pub(super) fn with_mx_suggestion(t: &TargetReport, words: String) -> String {
    let Some(mx) = t.dns.as_ref().and_then(|d| d.mx.as_ref()) else {
        return words;
    };
    let hosts: Vec<&str> = mx
        .records
        .iter()
        .filter(|r| r.exchange != ".")
        .map(|r| r.exchange.as_str())
        .collect();
    if mx.is_null() {
        format!("{words}; it publishes a null MX (MX 0 .): a domain that accepts no mail")
    } else if hosts.is_empty() {
        words
    } else {
        format!(
            "{words}, but it has MX records ({}): it is a mail domain, not a host; check its mail servers with `mailport check {} --mx`",
            hosts.join(", "),
            t.host
        )
    }
}

/// Every name rule for one target.
pub(super) fn target_findings(t: &TargetReport, out: &mut Vec<Finding>) {
    let Some(dns) = &t.dns else {
        return;
    };
    for r in &dns.reverse {
        reverse_findings(t, r, out);
        let relay: Vec<&ProbeResult> = t
            .probes
            .iter()
            .filter(|p| p.address == Some(r.address) && is_relay(p) && p.protocol == Protocol::Smtp)
            .collect();
        for p in relay {
            greeting_findings(t, r, p, out);
            certificate_findings(t, r, p, out);
        }
    }
}

fn at(mut f: Finding, addr: IpAddr) -> Finding {
    f.address = Some(addr);
    f
}

/// PTR missing, not confirmed, generic, several; or the lookup failed.
fn reverse_findings(t: &TargetReport, r: &ReverseDns, out: &mut Vec<Finding>) {
    let addr = r.address;
    let why = || r.detail.clone().unwrap_or_else(|| r.status.as_str().into());
    if r.status.is_failure() {
        out.push(at(
            finding(
                t,
                None,
                Code::PtrLookupFailed,
                format!(
                    "the PTR lookup of {addr} failed ({}): {}; whether a PTR exists is unknown",
                    r.status.as_str(),
                    why()
                ),
            ),
            addr,
        ));
        return;
    }
    if r.names.is_empty() {
        out.push(at(
            finding(
                t,
                None,
                Code::PtrMissing,
                format!("{addr} has no PTR record: {}", why()),
            ),
            addr,
        ));
        return;
    }
    if r.names.len() > 1 {
        let names: Vec<&str> = r.names.iter().map(|n| n.name.as_str()).collect();
        out.push(at(
            finding(
                t,
                None,
                Code::PtrMultiple,
                format!(
                    "{addr} has {} PTR records: {}",
                    names.len(),
                    names.join(", ")
                ),
            ),
            addr,
        ));
    }
    if !r.names.iter().any(|n| n.confirmed) {
        let undecided: Vec<String> = r
            .names
            .iter()
            .filter(|n| n.status.is_failure())
            .map(|n| {
                format!(
                    "the {} lookup of {} failed ({}): {}",
                    n.record_type,
                    n.name,
                    n.status.as_str(),
                    n.detail.clone().unwrap_or_default()
                )
            })
            .collect();
        if undecided.is_empty() {
            let parts: Vec<String> = r
                .names
                .iter()
                .map(|n| {
                    if n.addresses.is_empty() {
                        n.detail
                            .as_ref()
                            .map(SafeText::to_string)
                            .unwrap_or_else(|| {
                                format!("{} has no {} record", n.name, n.record_type)
                            })
                    } else {
                        format!(
                            "{} resolves to {}, not to {addr}",
                            n.name,
                            n.addresses
                                .iter()
                                .map(IpAddr::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                })
                .collect();
            out.push(at(
                finding(
                    t,
                    None,
                    Code::PtrNotConfirmed,
                    format!(
                        "the PTR of {addr} does not resolve back to it: {}",
                        parts.join("; ")
                    ),
                ),
                addr,
            ));
        } else {
            out.push(at(
                finding(
                    t,
                    None,
                    Code::PtrLookupFailed,
                    format!(
                        "cannot tell whether the PTR of {addr} resolves back to it: {}",
                        undecided.join("; ")
                    ),
                ),
                addr,
            ));
        }
    }
    for n in &r.names {
        if let Some(reason) = generic_reason(&n.name, addr) {
            out.push(at(
                finding(
                    t,
                    None,
                    Code::PtrGeneric,
                    format!(
                        "the PTR name {} of {addr} looks like a provider's generic name for a dynamic or pool address: {reason}",
                        n.name
                    ),
                ),
                addr,
            ));
        }
    }
}

/// The name in the first line of the EHLO reply (`250-mx.example.org ...`).
pub fn ehlo_name(p: &ProbeResult) -> Option<SafeText> {
    let first = p
        .capabilities_plain
        .first()
        .or_else(|| p.capabilities_tls.first())?;
    let word = first.get(4..)?.split_ascii_whitespace().next()?;
    // A word of escaped text, escaped again (a no-op) to keep its type.
    is_domain_name(word)
        .then(|| crate::escape::escape_str(&word.trim_end_matches('.').to_ascii_lowercase()))
}

fn is_domain_name(word: &str) -> bool {
    word.contains('.')
        && !word.starts_with('[')
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// The names the server announces: greeting, then EHLO, once each.
fn announced(p: &ProbeResult) -> Vec<(&'static str, SafeText)> {
    let mut out: Vec<(&'static str, SafeText)> = Vec::new();
    let greeting = p.greeting_name.clone().filter(|n| is_domain_name(n));
    for (what, name) in [("greeting", greeting), ("EHLO reply", ehlo_name(p))] {
        if let Some(n) = name {
            if !out.iter().any(|(_, m)| m.eq_ignore_ascii_case(&n)) {
                out.push((what, n));
            }
        }
    }
    out
}

/// The greeting and EHLO names against the PTR: information only.
fn greeting_findings(t: &TargetReport, r: &ReverseDns, p: &ProbeResult, out: &mut Vec<Finding>) {
    if r.names.is_empty() {
        return;
    }
    let ptr: Vec<&str> = r.names.iter().map(|n| n.name.as_str()).collect();
    let differing: Vec<String> = announced(p)
        .into_iter()
        .filter(|(_, n)| !ptr.iter().any(|m| m.eq_ignore_ascii_case(n)))
        .map(|(what, n)| format!("{n} in its {what}"))
        .collect();
    if differing.is_empty() {
        return;
    }
    out.push(finding(
        t,
        Some(p),
        Code::PtrGreetingMismatch,
        format!(
            "the server announces {}, but the PTR of {} names {}. Not a receiver requirement: receivers check that a PTR exists and resolves back, not that it matches the greeting",
            differing.join(" and "),
            r.address,
            ptr.join(", ")
        ),
    ));
}

/// The certificate on the relay port should cover the greeting name, the PTR
/// name and the host that was checked (the verified name has its own verdict).
fn certificate_findings(t: &TargetReport, r: &ReverseDns, p: &ProbeResult, out: &mut Vec<Finding>) {
    let Some(tls) = &p.tls else {
        return;
    };
    let Some(leaf) = tls.chain.first() else {
        return;
    };
    let mut wanted: Vec<(String, String)> = Vec::new();
    let mut want = |what: &str, name: &str| {
        if !name.eq_ignore_ascii_case(&tls.verified_name)
            && !wanted.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            wanted.push((name.to_ascii_lowercase(), what.to_string()));
        }
    };
    if t.host.parse::<IpAddr>().is_err() {
        want("the host checked", &t.host);
    }
    for (what, n) in announced(p) {
        want(&format!("the {what} name"), &n);
    }
    for n in &r.names {
        want("the PTR name", &n.name);
    }
    let missing: Vec<String> = wanted
        .into_iter()
        .filter(|(n, _)| !covers(&leaf.sans, n))
        .map(|(n, what)| format!("{n} ({what})"))
        .collect();
    if missing.is_empty() {
        return;
    }
    let names: Vec<&str> = leaf
        .sans
        .iter()
        .filter_map(|s| s.strip_prefix("DNS:"))
        .collect();
    out.push(finding(
        t,
        Some(p),
        Code::CertNameNotCovered,
        format!(
            "the certificate names {} but not {}",
            if names.is_empty() {
                "no host".to_string()
            } else {
                names.join(", ")
            },
            missing.join(", ")
        ),
    ));
}

/// Does a certificate with these SANs (`DNS:name`, `DNS:*.domain`) cover `name`?
pub fn covers(sans: &[SafeText], name: &str) -> bool {
    let name = name.trim_end_matches('.');
    sans.iter()
        .filter_map(|s| s.strip_prefix("DNS:"))
        .any(|san| {
            let san = san.trim_end_matches('.');
            if let Some(domain) = san.strip_prefix("*.") {
                name.split_once('.').is_some_and(|(label, rest)| {
                    !label.is_empty() && rest.eq_ignore_ascii_case(domain)
                })
            } else {
                san.eq_ignore_ascii_case(name)
            }
        })
}

/// Words that providers put in the names of dynamic and pool addresses.
const POOL_WORDS: &[&str] = &[
    "dynamic",
    "dyn",
    "dynip",
    "dhcp",
    "pool",
    "dsl",
    "adsl",
    "vdsl",
    "xdsl",
    "cable",
    "ppp",
    "pppoe",
    "dialup",
    "dial",
    "broadband",
    "residential",
    "customer",
    "cust",
    "cpe",
];

/// Why `name` looks like a generic PTR of `addr`, if it does: it carries the
/// address's digits (192-0-2-25, 25.2.0.192, c0000219, 2001-db8--25), or a
/// word providers use for dynamic pools. The last two labels (the provider's
/// own domain) are not looked at.
pub fn generic_reason(name: &str, addr: IpAddr) -> Option<String> {
    let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
    let host_part = labels[..labels.len().saturating_sub(2)].join(".");
    if host_part.is_empty() {
        return None;
    }
    let lower = host_part.to_ascii_lowercase();
    let tokens: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    let carries = match addr {
        IpAddr::V4(a) => {
            let o = a.octets().map(u32::from);
            let digits: Vec<u32> = lower
                .split(|c: char| !c.is_ascii_digit())
                .filter(|d| !d.is_empty() && d.len() <= 3)
                .filter_map(|d| d.parse().ok())
                .collect();
            let forward = [o[0], o[1], o[2], o[3]];
            let backward = [o[3], o[2], o[1], o[0]];
            let runs = |pat: &[u32]| digits.windows(pat.len()).any(|w| w == pat);
            let hex = format!("{:08x}", u32::from(a));
            let padded = format!("{:03}{:03}{:03}{:03}", o[0], o[1], o[2], o[3]);
            let whole = u32::from(a).to_string();
            runs(&forward)
                || runs(&backward)
                || runs(&forward[1..])
                || tokens
                    .iter()
                    .any(|t| t.ends_with(&hex) || *t == padded || *t == whole)
        }
        IpAddr::V6(a) => {
            let nonzero: Vec<u16> = a.segments().into_iter().filter(|s| *s != 0).collect();
            let present = nonzero
                .iter()
                .filter(|s| {
                    tokens
                        .iter()
                        .any(|t| t.len() <= 4 && u16::from_str_radix(t, 16).ok() == Some(**s))
                })
                .count();
            let nibbles = format!("{:032x}", u128::from(a));
            (present >= 2 && present >= nonzero.len().min(3))
                || tokens.iter().any(|t| t.contains(&nibbles))
        }
    };
    if carries {
        return Some(format!("{host_part} carries the digits of {addr}"));
    }
    tokens
        .iter()
        .find(|t| POOL_WORDS.contains(t))
        .map(|w| format!("it has the word '{w}', typical of dynamic address pools"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::diagnose;
    use crate::report::Severity;
    use crate::report::{
        CertFacts, CertVerdict, MxRecord, PtrName, Resolution, Role, TargetDns, TlsFacts,
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn name(n: &str, rtype: &str, status: DnsStatus, addrs: &[&str], confirm: &str) -> PtrName {
        let addresses: Vec<IpAddr> = addrs.iter().map(|a| ip(a)).collect();
        PtrName {
            name: crate::escape::escape_str(n),
            record_type: rtype.into(),
            status,
            detail: (status != DnsStatus::Found)
                .then(|| format!("{n}: {}", status.as_str()).into()),
            confirmed: addresses.contains(&ip(confirm)),
            addresses,
            ms: 1,
        }
    }

    fn rev(addr: &str, status: DnsStatus, names: Vec<PtrName>) -> ReverseDns {
        ReverseDns {
            address: ip(addr),
            query: "x.in-addr.arpa".into(),
            status,
            detail: (status != DnsStatus::Found).then(|| status.as_str().into()),
            ms: 1,
            names,
        }
    }

    fn smtp(addr: &str, greeting: Option<&str>, ehlo: Option<&str>) -> ProbeResult {
        ProbeResult {
            total_ms: 1,
            greeting_name: greeting.map(crate::escape::escape_str),
            capabilities_plain: ehlo
                .map(|e| vec![format!("250-{e}").into(), "250 STARTTLS".into()])
                .unwrap_or_default(),
            ..ProbeResult::new(crate::service::by_name("smtp").unwrap(), 25, Some(ip(addr)))
        }
    }

    fn target(addr: &str, reverse: Vec<ReverseDns>, probes: Vec<ProbeResult>) -> TargetReport {
        TargetReport {
            host: "mail.example.test".into(),
            host_unicode: None,
            role: Role::Target,
            tls_name: "mail.example.test".into(),
            addresses: vec![ip(addr)],
            resolution: Resolution {
                source: crate::report::ResolutionSource::Dns,
                status: DnsStatus::Found,
                detail: None,
                ms: 1,
            },
            local_addresses: vec![],
            probes,
            dns: Some(TargetDns {
                resolver: "127.0.0.1:53".into(),
                reverse,
                skipped: vec![],
                mx_of: None,
                mx: None,
            }),
            traces: Vec::new(),
        }
    }

    fn findings(t: TargetReport) -> Vec<(String, Severity)> {
        let mut out = Vec::new();
        target_findings(&t, &mut out);
        for f in &out {
            assert_eq!(f.severity, f.code.severity(), "{}", f.code);
            assert!(!f.hint.is_empty());
        }
        out.into_iter()
            .map(|f| (f.code.as_str().to_string(), f.severity))
            .collect()
    }

    fn codes_of(t: TargetReport) -> Vec<String> {
        findings(t).into_iter().map(|(c, _)| c).collect()
    }

    const A: &str = "192.0.2.25";

    #[test]
    fn a_confirmed_ptr_matching_the_greeting_is_no_finding() {
        let t = target(
            A,
            vec![rev(
                A,
                DnsStatus::Found,
                vec![name("mail.example.test", "A", DnsStatus::Found, &[A], A)],
            )],
            vec![smtp(
                A,
                Some("mail.example.test"),
                Some("mail.example.test"),
            )],
        );
        assert!(findings(t).is_empty());
    }

    #[test]
    fn no_ptr_is_ptr_missing_and_fails() {
        for status in [DnsStatus::Nxdomain, DnsStatus::NoData] {
            let f = findings(target(A, vec![rev(A, status, vec![])], vec![]));
            assert_eq!(f, vec![("ptr_missing".to_string(), Severity::Fail)]);
        }
        assert!(Code::PtrMissing.hint().contains("450 4.7.1"));
    }

    #[test]
    fn a_lookup_that_failed_is_not_a_missing_ptr() {
        for status in [
            DnsStatus::Timeout,
            DnsStatus::Servfail,
            DnsStatus::Refused,
            DnsStatus::Failed,
        ] {
            let c = codes_of(target(A, vec![rev(A, status, vec![])], vec![]));
            assert_eq!(c, vec!["ptr_lookup_failed"], "{status:?}");
        }
    }

    #[test]
    fn a_ptr_name_without_the_address_is_not_confirmed() {
        let other = name(
            "mail.example.test",
            "A",
            DnsStatus::Found,
            &["192.0.2.99"],
            A,
        );
        let none = name("gone.example.test", "A", DnsStatus::Nxdomain, &[], A);
        for n in [other, none] {
            let f = findings(target(A, vec![rev(A, DnsStatus::Found, vec![n])], vec![]));
            assert_eq!(f, vec![("ptr_not_confirmed".to_string(), Severity::Fail)]);
        }
        // A forward lookup that timed out proves nothing either way.
        let slow = name("mail.example.test", "A", DnsStatus::Timeout, &[], A);
        assert_eq!(
            codes_of(target(
                A,
                vec![rev(A, DnsStatus::Found, vec![slow])],
                vec![]
            )),
            vec!["ptr_lookup_failed"]
        );
    }

    #[test]
    fn two_ptrs_warn_and_one_confirmed_is_enough() {
        let good = name("mail.example.test", "A", DnsStatus::Found, &[A], A);
        let bad = name(
            "www.example.test",
            "A",
            DnsStatus::Found,
            &["192.0.2.80"],
            A,
        );
        let f = findings(target(
            A,
            vec![rev(A, DnsStatus::Found, vec![good, bad])],
            vec![],
        ));
        assert_eq!(f, vec![("ptr_multiple".to_string(), Severity::Warn)]);
    }

    #[test]
    fn a_generic_ptr_warns() {
        let n = name("192-0-2-25.dsl.example.net", "A", DnsStatus::Found, &[A], A);
        let f = findings(target(A, vec![rev(A, DnsStatus::Found, vec![n])], vec![]));
        assert_eq!(f, vec![("ptr_generic".to_string(), Severity::Warn)]);
    }

    #[test]
    fn generic_names() {
        let v4 = ip("192.0.2.25");
        for n in [
            "192-0-2-25.dsl.example.net",
            "25.2.0.192.dynamic.example.net",
            "host-0-2-25.example.net",
            "ip192.0.2.25.static.example.net",
            "c0000219.cust.example.net",
            "192000002025.example.net",
            "pool-a.example.net",
            "x.dhcp.example.net",
        ] {
            assert!(generic_reason(n, v4).is_some(), "{n}");
        }
        for n in [
            "mail.example.net",
            "mx25.example.net",
            "smtp-2.example.net",
            "192-0-2-25.net",
        ] {
            assert!(generic_reason(n, v4).is_none(), "{n}");
        }
        let v6 = ip("2001:db8::25");
        assert!(generic_reason("2001-db8--25.pool6.example.net", v6).is_some());
        assert!(generic_reason("20010db8000000000000000000000025.example.net", v6).is_some());
        assert!(generic_reason("mail6.example.net", v6).is_none());
        assert!(generic_reason("127-0-0-6.dyn.example.test", ip("127.0.0.6")).is_some());
    }

    #[test]
    fn a_greeting_other_than_the_ptr_is_information_only() {
        let n = name("mx.example.test", "A", DnsStatus::Found, &[A], A);
        let t = target(
            A,
            vec![rev(A, DnsStatus::Found, vec![n])],
            vec![smtp(
                A,
                Some("mail.example.test"),
                Some("mail.example.test"),
            )],
        );
        let mut out = Vec::new();
        target_findings(&t, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].code, Code::PtrGreetingMismatch);
        assert_eq!(out[0].severity, Severity::Info);
        assert_eq!(out[0].port, Some(25));
        assert!(out[0].message.contains("mail.example.test in its greeting"));
        assert!(out[0].message.contains("Not a receiver requirement"));
        // The EHLO name alone differing counts too; same names in any case do not.
        let n = name("mx.example.test", "A", DnsStatus::Found, &[A], A);
        let t = target(
            A,
            vec![rev(A, DnsStatus::Found, vec![n])],
            vec![smtp(A, Some("MX.example.test"), Some("other.example.test"))],
        );
        assert_eq!(codes_of(t), vec!["ptr_greeting_mismatch"]);
    }

    #[test]
    fn ehlo_names_come_from_the_first_reply_line() {
        let p = smtp(A, None, Some("mx.example.test Hello [192.0.2.1]"));
        assert_eq!(ehlo_name(&p).as_deref(), Some("mx.example.test"));
        let p = smtp(A, None, Some("[192.0.2.25]"));
        assert_eq!(ehlo_name(&p), None);
        assert_eq!(ehlo_name(&smtp(A, None, None)), None);
    }

    fn with_cert(mut p: ProbeResult, sans: &[&str]) -> ProbeResult {
        p.tls = Some(TlsFacts {
            version: "TLSv1.3".into(),
            cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
            alpn: None,
            chain: vec![CertFacts {
                subject: "CN=x".into(),
                issuer: "CN=ca".into(),
                serial: "01".into(),
                sans: sans.iter().map(|s| format!("DNS:{s}").into()).collect(),
                days_left: 90,
                lifetime_days: 90,
                key_type: "EC".into(),
                key_bits: 256,
                signature_algorithm: "ecdsa".into(),
                ..CertFacts::default()
            }],
            verdict: CertVerdict::Valid,
            verdict_detail: None,
            verified_name: "mail.example.test".into(),
            chain_sent: None,
            digests: Vec::new(),
            presented: None,
        });
        p
    }

    #[test]
    fn the_certificate_should_cover_the_greeting_and_ptr_names() {
        let n = || name("mx.example.test", "A", DnsStatus::Found, &[A], A);
        let covered = with_cert(
            smtp(A, Some("mx.example.test"), None),
            &["mail.example.test", "mx.example.test"],
        );
        let t = target(A, vec![rev(A, DnsStatus::Found, vec![n()])], vec![covered]);
        assert!(findings(t).is_empty());
        let wildcard = with_cert(
            smtp(A, Some("mx.example.test"), None),
            &["mail.example.test", "*.example.test"],
        );
        let t = target(A, vec![rev(A, DnsStatus::Found, vec![n()])], vec![wildcard]);
        assert!(findings(t).is_empty());
        let narrow = with_cert(
            smtp(A, Some("mx.example.test"), None),
            &["mail.example.test"],
        );
        let t = target(A, vec![rev(A, DnsStatus::Found, vec![n()])], vec![narrow]);
        let mut out = Vec::new();
        target_findings(&t, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].code, Code::CertNameNotCovered);
        assert_eq!(out[0].severity, Severity::Info);
        assert!(
            out[0]
                .message
                .contains("mx.example.test (the greeting name)"),
            "{}",
            out[0].message
        );
    }

    #[test]
    fn covering_names() {
        let sans: Vec<SafeText> = vec!["DNS:*.example.test".into(), "DNS:mail.example.org".into()];
        assert!(covers(&sans, "mx.example.test"));
        assert!(covers(&sans, "MAIL.example.org."));
        assert!(!covers(&sans, "example.test"));
        assert!(!covers(&sans, "a.b.example.test"));
        assert!(!covers(&["IP:192.0.2.1".into()], "192.0.2.1"));
    }

    fn domain(status: DnsStatus, records: &[(u16, &str)]) -> MxLookup {
        MxLookup {
            domain: "example.test".into(),
            status,
            detail: (status != DnsStatus::Found).then(|| status.as_str().into()),
            ms: 1,
            records: records
                .iter()
                .map(|(p, e)| MxRecord {
                    preference: *p,
                    exchange: e.to_string().into(),
                })
                .collect(),
            resolver: "system".into(),
            policy: None,
        }
    }

    #[test]
    fn mail_domain_rules() {
        let c = |d: MxLookup| -> Vec<(String, Severity)> {
            mail_domains(&[d])
                .into_iter()
                .map(|f| (f.code.as_str().to_string(), f.severity))
                .collect()
        };
        assert!(c(domain(DnsStatus::Found, &[(10, "mx.example.test")])).is_empty());
        assert_eq!(
            c(domain(DnsStatus::Found, &[(0, ".")])),
            vec![("mx_null".into(), Severity::Fail)]
        );
        assert_eq!(
            c(domain(DnsStatus::NoData, &[])),
            vec![("mx_missing".into(), Severity::Warn)]
        );
        for s in [DnsStatus::Nxdomain, DnsStatus::Timeout, DnsStatus::Servfail] {
            assert_eq!(
                c(domain(s, &[])),
                vec![("dns_failed".into(), Severity::Fail)]
            );
        }
        let mixed = mail_domains(&[domain(
            DnsStatus::Found,
            &[(0, "."), (10, "mx.example.test")],
        )]);
        assert!(mixed[0].message.contains("RFC 7505"));
    }

    #[test]
    fn a_mail_domain_given_as_a_host_points_at_mx() {
        let mut t = target(A, vec![], vec![]);
        t.host = "example.test".into();
        t.addresses.clear();
        t.resolution.status = DnsStatus::NoData;
        t.resolution.detail = Some("example.test exists but has no A or AAAA record".into());
        t.dns.as_mut().unwrap().mx = Some(domain(DnsStatus::Found, &[(10, "mx.example.test")]));
        let f = diagnose(&[t]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, Code::DnsFailed);
        assert!(
            f[0].message.contains("mailport check example.test --mx"),
            "{}",
            f[0].message
        );
        assert!(f[0].message.contains("mx.example.test"));
    }
}
