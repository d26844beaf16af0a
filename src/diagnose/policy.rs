//! Rules on a mail domain's TLS promises (MTA-STS, TLS-RPT) against what
//! each address of each MX served on port 25; and the rule on one MX host
//! whose IPv4 and IPv6 addresses answer differently. Pure: report facts in,
//! findings out. Each failure names its RFC 8460 result type.

use super::{finding, is_relay};
use crate::codes::{Code, TlsRptResult};
use crate::report::{
    CertVerdict, DomainPolicy, FetchOutcome, Finding, MxLookup, Outcome, ProbeResult, Severity,
    StsMode, TargetReport,
};
use crate::service::Protocol;
use std::net::IpAddr;

/// A finding about the domain itself.
fn domain_finding(domain: &str, code: Code, message: String) -> Finding {
    Finding::new(code, domain, crate::escape::escape_str(&message))
}

/// The findings about the promises of the domain of `lookup`, given the
/// reports of its MX hosts (`hosts`; others are ignored).
pub fn policy_findings(lookup: &MxLookup, hosts: &[TargetReport]) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(policy) = lookup.policy.as_deref() else {
        return out;
    };
    let domain = lookup.domain.as_str();
    mta_sts(domain, policy, hosts, &mut out);
    tls_rpt(domain, policy, &mut out);
    if let Some(dane) = &policy.dane {
        super::dane::dane_findings(dane, hosts, &mut out);
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

/// The findings of one --mx mail domain (its MX lookup, its promises),
/// split: those about the domain itself, worst first, and those about each
/// of its MX hosts `hosts`, in their order.
pub fn domain_findings(
    lookup: &MxLookup,
    hosts: &[TargetReport],
) -> (Vec<Finding>, Vec<Vec<Finding>>) {
    let mut per_host = vec![Vec::new(); hosts.len()];
    let mut domain = super::mail_domains(std::slice::from_ref(lookup));
    for f in policy_findings(lookup, hosts) {
        match hosts.iter().position(|t| t.host == f.host) {
            Some(i) => per_host[i].push(f),
            None => domain.push(f),
        }
    }
    domain.sort_by_key(|f| std::cmp::Reverse(f.severity));
    (domain, per_host)
}

fn mta_sts(domain: &str, policy: &DomainPolicy, hosts: &[TargetReport], out: &mut Vec<Finding>) {
    let sts = &policy.mta_sts;
    if !sts.txt_errors.is_empty() {
        out.push(domain_finding(
            domain,
            Code::MtaStsTxtInvalid,
            format!(
                "the MTA-STS record of {domain} ({}) is not usable: {}",
                sts.txt.name,
                sts.txt_errors.join("; ")
            ),
        ));
    }
    let Some(fetch) = &sts.fetch else {
        return;
    };
    if fetch.outcome != FetchOutcome::Ok {
        let code = match fetch.outcome {
            FetchOutcome::Redirect => Code::MtaStsRedirect,
            FetchOutcome::ContentType => Code::MtaStsContentType,
            FetchOutcome::TooLarge => Code::MtaStsTooLarge,
            FetchOutcome::CertificateInvalid => Code::MtaStsWebpkiInvalid,
            _ => Code::MtaStsFetchFailed,
        };
        let why = fetch.detail.clone().unwrap_or_default();
        out.push(domain_finding(
            domain,
            code,
            format!(
                "{domain} publishes MTA-STS ({}), but its policy at {} cannot be used: {why}",
                sts.txt.name, fetch.url
            ),
        ));
        return;
    }
    let Some(p) = &sts.policy else {
        return;
    };
    if !p.errors.is_empty() {
        out.push(domain_finding(
            domain,
            Code::MtaStsPolicyInvalid,
            format!(
                "the MTA-STS policy at {} is invalid, so senders ignore it: {}",
                fetch.url,
                p.errors.join("; ")
            ),
        ));
        return;
    }
    // Senders apply a policy only with a valid TXT record beside it.
    let mode = match p.mode {
        Some(m @ (StsMode::Enforce | StsMode::Testing)) if sts.id.is_some() => m,
        _ => return,
    };
    let (severity, consequence) = if mode == StsMode::Enforce {
        (
            Severity::Fail,
            "in enforce mode, senders that enforce MTA-STS (Gmail, Microsoft...) stop delivering mail to it",
        )
    } else {
        (
            Severity::Warn,
            "in testing mode senders still deliver, and report the failure by TLS-RPT",
        )
    };
    for m in &sts.mx {
        if m.pattern.is_none() {
            let mut f = domain_finding(
                domain,
                Code::MtaStsMxNotCovered,
                format!(
                    "the MX host {} of {domain} matches none of the MTA-STS policy's mx patterns ({}); {consequence}",
                    m.mx,
                    p.mx.join(", ")
                ),
            );
            f.host = m.mx.clone();
            f.severity = severity;
            out.push(f);
            continue;
        }
        let Some(t) = hosts.iter().find(|t| t.host.eq_ignore_ascii_case(&m.mx)) else {
            continue;
        };
        for probe in t.probes.iter().filter(|p| is_smtp_relay(p)) {
            if let Some((result, why)) = sender_failure(probe) {
                let mut f = finding(
                    t,
                    Some(probe),
                    Code::MtaStsMxCertificate,
                    format!(
                        "{} port {} of {}, covered by {domain}'s MTA-STS policy: {why}; {consequence}",
                        probe.address.map(|a| a.to_string()).unwrap_or_default(),
                        probe.port,
                        m.mx
                    ),
                );
                f.severity = severity;
                f.tlsrpt_result = Some(result);
                out.push(f);
            }
        }
    }
}

fn is_smtp_relay(p: &ProbeResult) -> bool {
    is_relay(p) && p.protocol == Protocol::Smtp && p.address.is_some()
}

/// What an MTA-STS sender finds wrong on a connected port-25 probe, with
/// its RFC 8460 result type; `None` when it would deliver (or could not
/// connect at all, which MTA-STS does not judge).
fn sender_failure(p: &ProbeResult) -> Option<(TlsRptResult, String)> {
    match p.outcome {
        Outcome::StarttlsUnavailable => Some((
            TlsRptResult::StarttlsNotSupported,
            "STARTTLS cannot be used".into(),
        )),
        Outcome::TlsFailed => Some((
            TlsRptResult::ValidationFailure,
            format!(
                "the TLS handshake failed ({})",
                p.detail.clone().unwrap_or_default()
            ),
        )),
        _ => {
            let tls = p.tls.as_ref()?;
            let result = match tls.verdict {
                CertVerdict::Valid => return None,
                CertVerdict::NameMismatch => TlsRptResult::CertificateHostMismatch,
                CertVerdict::Expired => TlsRptResult::CertificateExpired,
                CertVerdict::SelfSigned
                | CertVerdict::Untrusted
                | CertVerdict::IncompleteChain
                | CertVerdict::UnknownIssuer => TlsRptResult::CertificateNotTrusted,
                _ => TlsRptResult::ValidationFailure,
            };
            let why = tls
                .verdict_detail
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_else(|| "the certificate is not valid".into());
            Some((result, why))
        }
    }
}

fn tls_rpt(domain: &str, policy: &DomainPolicy, out: &mut Vec<Finding>) {
    let rpt = &policy.tls_rpt;
    if !rpt.errors.is_empty() {
        out.push(domain_finding(
            domain,
            Code::TlsrptInvalid,
            format!(
                "the TLS-RPT record of {domain} ({}) is not usable: {}",
                rpt.txt.name,
                rpt.errors.join("; ")
            ),
        ));
    } else if !rpt.published() && (policy.mta_sts.published() || dane_published(policy)) {
        let what = match (policy.mta_sts.published(), dane_published(policy)) {
            (true, true) => "MTA-STS and DANE",
            (true, false) => "MTA-STS",
            _ => "DANE (TLSA records)",
        };
        out.push(domain_finding(
            domain,
            Code::TlsrptMissing,
            format!(
                "{domain} publishes {what} but no TLS-RPT record at {}: senders have nowhere to report failed TLS deliveries",
                rpt.txt.name
            ),
        ));
    }
}

/// Some MX host of the domain publishes TLSA records.
fn dane_published(policy: &DomainPolicy) -> bool {
    policy.dane.as_ref().is_some_and(|d| d.published())
}

/// One MX host whose IPv4 and IPv6 addresses answer differently on the
/// relay port: STARTTLS on one family only, or another certificate.
pub fn family_findings(t: &TargetReport, out: &mut Vec<Finding>) {
    let relay: Vec<&ProbeResult> = t
        .probes
        .iter()
        .filter(|p| is_smtp_relay(p) && p.outcome != Outcome::NotRun && p.greeting.is_some())
        .collect();
    let v4: Vec<&&ProbeResult> = relay
        .iter()
        .filter(|p| p.address.is_some_and(|a| a.is_ipv4()))
        .collect();
    let v6: Vec<&&ProbeResult> = relay
        .iter()
        .filter(|p| p.address.is_some_and(|a| a.is_ipv6()))
        .collect();
    let (Some(a), Some(b)) = (v4.first(), v6.first()) else {
        return;
    };
    let addr = |p: &ProbeResult| p.address.map_or(String::new(), |a: IpAddr| a.to_string());
    let leaf = |p: &ProbeResult| {
        p.tls
            .as_ref()
            .and_then(|t| t.chain.first())
            .map(|c| (c.issuer.clone(), c.serial.clone()))
    };
    let mut differences = Vec::new();
    if a.starttls_offered != b.starttls_offered {
        let on = if a.starttls_offered == Some(true) {
            a
        } else {
            b
        };
        differences.push(format!("only {} offers STARTTLS", addr(on)));
    } else if let (Some(x), Some(y)) = (leaf(a), leaf(b)) {
        if x != y {
            differences.push(format!(
                "{} presents the certificate with serial {} (issuer {}), {} the one with serial {} (issuer {})",
                addr(a),
                x.1,
                x.0,
                addr(b),
                y.1,
                y.0
            ));
        }
    }
    if differences.is_empty() {
        return;
    }
    let mut f = finding(
        t,
        Some(b),
        Code::MxFamilyMismatch,
        format!(
            "the IPv4 and IPv6 addresses of {} answer differently on port {}: {}",
            t.host,
            b.port,
            differences.join("; ")
        ),
    );
    f.address = None;
    out.push(f);
}
