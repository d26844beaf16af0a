//! The text view of a mail domain's TLS promises (MTA-STS, TLS-RPT, DANE), under its MX line.

use super::{wrap, Paint, WIDTH};
use crate::report::{DnsStatus, DomainPolicy, FetchOutcome, TxtLookup};
use std::io::{self, Write};

/// Where the words of a policy row start.
const COL: usize = 12;

pub(super) fn render(d: &DomainPolicy, out: &mut dyn Write, p: &Paint) -> io::Result<()> {
    row("MTA-STS", &mta_sts(d), out, p)?;
    let sts = &d.mta_sts;
    for m in &sts.mx {
        let words = match &m.pattern {
            Some(pat) => format!("MX {}: covered by mx: {pat}", m.mx),
            None => format!("MX {}: NOT covered by the policy", m.mx),
        };
        row("", &words, out, p)?;
    }
    row("TLS-RPT", &tls_rpt(d), out, p)?;
    if let Some(dane) = &d.dane {
        for (label, words) in super::dane::rows(dane) {
            row(label, &words, out, p)?;
        }
    }
    Ok(())
}

fn row(label: &str, words: &str, out: &mut dyn Write, p: &Paint) -> io::Result<()> {
    for (i, line) in wrap(words, COL, WIDTH).iter().enumerate() {
        if i == 0 {
            let head = format!("  {label:<w$}", w = COL - 2);
            writeln!(out, "{}{}", p.bold(&head), &line[COL..])?;
        } else {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// A TXT lookup that did not answer: its status and words; `None` when it did (records or none).
fn failed(t: &TxtLookup) -> Option<String> {
    (t.status.is_failure() && t.status != DnsStatus::Nxdomain).then(|| {
        format!(
            "{}: lookup {}: {}",
            t.name,
            t.status.as_str(),
            t.detail.clone().unwrap_or_default()
        )
    })
}

fn mta_sts(d: &DomainPolicy) -> String {
    let sts = &d.mta_sts;
    if let Some(words) = failed(&sts.txt) {
        return words;
    }
    if !sts.published() {
        return format!("none (no v=STSv1 record at {})", sts.txt.name);
    }
    let mut parts = Vec::new();
    match &sts.id {
        Some(id) => parts.push(format!("id {id}")),
        None => parts.push(format!("record invalid: {}", sts.txt_errors.join("; "))),
    }
    match (&sts.fetch, &sts.policy) {
        (Some(f), _) if f.outcome != FetchOutcome::Ok => parts.push(format!(
            "policy not fetched ({}): {}",
            f.outcome.as_str(),
            f.detail.clone().unwrap_or_default()
        )),
        (_, Some(pol)) if !pol.errors.is_empty() => {
            parts.push(format!("policy invalid: {}", pol.errors.join("; ")))
        }
        (_, Some(pol)) => {
            parts.push(format!("mode {}", pol.mode.map_or("?", |m| m.as_str())));
            if let Some(age) = pol.max_age {
                parts.push(format!("max_age {age}"));
            }
            if !pol.mx.is_empty() {
                parts.push(format!("mx: {}", pol.mx.join(", ")));
            }
        }
        _ => {}
    }
    parts.join("; ")
}

fn tls_rpt(d: &DomainPolicy) -> String {
    let rpt = &d.tls_rpt;
    if let Some(words) = failed(&rpt.txt) {
        return words;
    }
    if !rpt.errors.is_empty() {
        return format!("record invalid: {}", rpt.errors.join("; "));
    }
    if rpt.rua.is_empty() {
        return format!("none (no v=TLSRPTv1 record at {})", rpt.txt.name);
    }
    format!("reports to {}", rpt.rua.join(", "))
}
