//! The text of this machine's facts: who ran mailport, what listens on the
//! mail ports, csf.conf's mail settings, and the firewall rules read (or why
//! they could not be).

use super::{wrap, Paint};
use crate::report::{LocalFacts, ReadStatus, SourceRead};
use std::io::{self, Write};

fn status(s: &SourceRead) -> String {
    match (s.status, &s.detail) {
        (ReadStatus::Read, _) => "read".to_string(),
        (ReadStatus::NotFound, _) => "not found".to_string(),
        (st, Some(d)) => format!("{}: {d}", st.as_str().replace('_', " ")),
        (st, None) => st.as_str().replace('_', " "),
    }
}

fn lines(p: &Paint, out: &mut dyn Write, text: &str, indent: usize) -> io::Result<()> {
    for line in wrap(text, indent, p.width) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

pub(super) fn render(l: &LocalFacts, out: &mut dyn Write, p: &Paint) -> io::Result<()> {
    let me = &l.process;
    let group = me
        .group
        .as_ref()
        .map(|g| format!(" ({g})"))
        .unwrap_or_default();
    lines(
        p,
        out,
        &format!(
            "{} {}: mailport ran as {}, gid {}{group}",
            p.bold("This machine"),
            l.host,
            me.describe(),
            me.gid
        ),
        0,
    )?;
    if let Some(ls) = &l.listeners {
        let read: Vec<String> = ls
            .sources
            .iter()
            .map(|s| format!("{} {}", s.source, status(s)))
            .collect();
        lines(
            p,
            out,
            &format!("Listening mail ports ({}):", read.join(", ")),
            2,
        )?;
        for port in [25, 587, 465, 143, 993, 110, 995] {
            let name = crate::service::by_port(port).map_or("", |s| s.name);
            let addrs: Vec<String> = ls
                .sockets
                .iter()
                .filter(|s| s.port == port)
                .map(|s| s.address.to_string())
                .collect();
            let where_ = if addrs.is_empty() {
                "-".to_string()
            } else {
                addrs.join(", ")
            };
            // The columns, then the addresses, wrapped under themselves.
            let head = format!("    {name:<11} {port:>5}  ");
            let mut rows = wrap(&where_, head.len(), p.width);
            if let Some(first) = rows.first_mut() {
                *first = format!("{head}{}", first.trim_start());
            }
            for row in rows {
                writeln!(out, "{row}")?;
            }
        }
    }
    let csf = &l.csf;
    let head = match csf.status {
        ReadStatus::Read => format!("ConfigServer Firewall ({}):", csf.path),
        _ => format!(
            "ConfigServer Firewall: {} {}",
            csf.path,
            status(&SourceRead {
                source: csf.path.clone(),
                status: csf.status,
                detail: csf.detail.clone(),
            })
        ),
    };
    lines(p, out, &head, 2)?;
    for s in &csf.settings {
        lines(p, out, &format!("line {:<5} {}", s.line, s.text), 4)?;
    }
    lines(p, out, "Firewall rules on mail ports:", 2)?;
    let mut shown: Vec<&str> = Vec::new();
    for src in &l.firewall {
        if shown.contains(&src.read.source.as_str()) && src.rules.is_empty() {
            continue;
        }
        shown.push(&src.read.source);
        lines(
            p,
            out,
            &format!(
                "{}: {}{}",
                src.read.source,
                status(&src.read),
                if src.read.status == ReadStatus::Read && src.rules.is_empty() {
                    " (none)"
                } else {
                    ""
                }
            ),
            4,
        )?;
        for r in &src.rules {
            lines(
                p,
                out,
                &format!("{} {} #{}: {}", r.table, r.chain, r.position, r.text),
                6,
            )?;
        }
    }
    Ok(())
}
