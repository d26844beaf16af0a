//! The text view of names: mail domains' MX, and each address's reverse DNS.

use super::{wrap, Paint, ADDR_COL};
use crate::report::{DnsStatus, MxLookup, Report, ReverseDns, TargetReport};
use std::io::{self, Write};

/// Where the text of a reverse-DNS row starts.
const TEXT_COL: usize = 2 + ADDR_COL + 2;

/// The MX lookups of --mx, before the targets.
pub(super) fn domains(report: &Report, out: &mut dyn Write, p: &Paint) -> io::Result<()> {
    for d in &report.domains {
        domain(d, out, p)?;
    }
    if !report.domains.is_empty() && !report.targets.is_empty() {
        writeln!(out)?;
    }
    Ok(())
}

/// One mail domain's MX lookup.
pub(super) fn domain(d: &MxLookup, out: &mut dyn Write, p: &Paint) -> io::Result<()> {
    let line = format!(
        "{} MX (via {}): {}",
        p.bold(&d.domain),
        d.resolver,
        mx_words(d)
    );
    for (i, l) in wrap(&line, 4, p.width).iter().enumerate() {
        // The first line starts at the margin, the others are indented.
        writeln!(out, "{}", if i == 0 { &l[4..] } else { l })?;
    }
    if let Some(policy) = &d.policy {
        super::policy::render(policy, out, p)?;
    }
    Ok(())
}

fn mx_words(d: &MxLookup) -> String {
    if d.status != DnsStatus::Found {
        let why = d.detail.clone().unwrap_or_default();
        return match d.status {
            DnsStatus::NoData => "none; its own address is used (implicit MX)".into(),
            s => format!("lookup {}: {why}", s.as_str()),
        };
    }
    let list: Vec<String> = d
        .records
        .iter()
        .map(|r| {
            if r.exchange == "." {
                format!("{} . (null MX: accepts no mail)", r.preference)
            } else {
                format!("{} {}", r.preference, r.exchange)
            }
        })
        .collect();
    list.join(", ")
}

/// ` (MX 10 of example.org)` after the name of an MX host.
pub(super) fn mx_of_label(t: &TargetReport) -> String {
    match t.dns.as_ref().and_then(|d| d.mx_of.as_ref()) {
        Some(m) if m.implicit => format!(" (implicit MX of {})", m.domain),
        Some(m) => format!(" (MX {} of {})", m.preference, m.domain),
        None => String::new(),
    }
}

/// The reverse-DNS rows of a target, under a heading naming the resolver.
pub(super) fn reverse(
    t: &TargetReport,
    heading: bool,
    out: &mut dyn Write,
    p: &Paint,
) -> io::Result<()> {
    let Some(dns) = &t.dns else {
        return Ok(());
    };
    if dns.reverse.is_empty() && dns.skipped.is_empty() {
        return Ok(());
    }
    if heading {
        writeln!(
            out,
            "{}",
            p.bold(&format!("Reverse DNS via {}", dns.resolver))
        )?;
    }
    for a in &t.addresses {
        if let Some(r) = dns.reverse.iter().find(|r| r.address == *a) {
            row(&a.to_string(), &ptr_words(r), out, p)?;
        } else if let Some(s) = dns.skipped.iter().find(|s| s.address == *a) {
            row(
                &a.to_string(),
                &format!("not checked: {}", s.reason),
                out,
                p,
            )?;
        }
    }
    Ok(())
}

/// `mailport ptr`: one heading, then a row per address.
pub(super) fn ptr_report(report: &Report, out: &mut dyn Write, p: &Paint) -> io::Result<()> {
    if let Some(dns) = report.targets.iter().find_map(|t| t.dns.as_ref()) {
        writeln!(
            out,
            "{}",
            p.bold(&format!("Reverse DNS via {}", dns.resolver))
        )?;
    }
    for t in &report.targets {
        reverse(t, false, out, p)?;
    }
    Ok(())
}

fn row(addr: &str, text: &str, out: &mut dyn Write, p: &Paint) -> io::Result<()> {
    let first = if addr.len() > ADDR_COL {
        writeln!(out, "  {addr}")?;
        " ".repeat(TEXT_COL)
    } else {
        format!("  {addr:<ADDR_COL$}  ")
    };
    let mut lines = wrap(text, TEXT_COL, p.width).into_iter();
    if let Some(l) = lines.next() {
        writeln!(out, "{first}{}", &l[TEXT_COL..])?;
    }
    for l in lines {
        writeln!(out, "{l}")?;
    }
    Ok(())
}

fn ptr_words(r: &ReverseDns) -> String {
    let why = r.detail.clone().unwrap_or_else(|| r.status.as_str().into());
    if r.status.is_failure() {
        return format!("PTR lookup failed ({}): {why}", r.status.as_str());
    }
    if r.names.is_empty() {
        return format!("no PTR: {why}");
    }
    r.names
        .iter()
        .map(|n| {
            let addrs = n
                .addresses
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" ");
            let verdict = if n.confirmed {
                format!("confirmed ({} {addrs})", n.record_type)
            } else if n.status.is_failure() {
                format!(
                    "unconfirmed: {} lookup {}",
                    n.record_type,
                    n.status.as_str()
                )
            } else if n.addresses.is_empty() {
                format!(
                    "NOT confirmed: no {} record ({})",
                    n.record_type,
                    n.status.as_str()
                )
            } else {
                format!("NOT confirmed: {} {addrs}", n.record_type)
            };
            format!("{} {verdict}", n.name)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
