//! `-v`: each probe's details, every phase, the dialog, the chain.

use super::*;

pub(super) fn details(pr: &ProbeResult, out: &mut dyn Write, p: &Paint) -> io::Result<()> {
    writeln!(out)?;
    let addr = pr
        .address
        .map(|a| a.to_string())
        .unwrap_or_else(|| "-".into());
    writeln!(
        out,
        "{} {} {}: {}",
        p.bold(&pr.service),
        pr.port,
        addr,
        p.outcome(pr.outcome, pr.outcome.as_str())
    )?;
    let mut lines: Vec<(String, String)> = Vec::new();
    if let Some(d) = &pr.detail {
        lines.push(("why".into(), d.clone()));
    }
    if !pr.phases.is_empty() {
        let phases: Vec<String> = pr
            .phases
            .iter()
            .map(|ph| {
                format!(
                    "{} {}{}",
                    ph.phase.as_str(),
                    ms(ph.ms),
                    if ph.ok { "" } else { " ✗" }
                )
            })
            .collect();
        lines.push(("phases".into(), phases.join(", ")));
    }
    if let Some(c) = &pr.connect {
        let mut s = c.result.as_str().to_string();
        if let Some(l) = &c.local_addr {
            s.push_str(&format!(" from {l}"));
        }
        if let Some(i) = &c.icmp {
            s.push_str(&format!(
                "; ICMP {} (type {} code {}) from {}",
                i.name,
                i.icmp_type,
                i.code,
                i.sender()
            ));
        }
        lines.push(("connect".into(), s));
    }
    if let Some(g) = &pr.greeting {
        lines.push(("greeting".into(), g.clone()));
    }
    if let Some(s) = &pr.software {
        lines.push(("software".into(), s.clone()));
    }
    if let Some(h) = &pr.http {
        let mut s = format!("{} {} {}", h.version, h.status, h.reason);
        if let Some(l) = &h.location {
            s.push_str(&format!("; Location: {l}"));
        }
        if let Some(hsts) = &h.hsts {
            s.push_str(&format!("; Strict-Transport-Security: {hsts}"));
        }
        lines.push(("http".into(), s.trim_end().to_string()));
    }
    // SMTP keeps whole EHLO lines (code and greeting line first); IMAP and
    // POP3 capabilities are already one per entry.
    let smtp = pr.protocol == crate::service::Protocol::Smtp;
    let keywords = |caps: &[String]| -> String {
        caps.iter()
            .skip(usize::from(smtp))
            .map(|l| {
                if smtp {
                    l.get(4..).unwrap_or("")
                } else {
                    l.as_str()
                }
            })
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !pr.capabilities_plain.is_empty() {
        lines.push(("before TLS".into(), keywords(&pr.capabilities_plain)));
    }
    if !pr.capabilities_tls.is_empty() {
        lines.push(("after TLS".into(), keywords(&pr.capabilities_tls)));
    }
    if let Some(tls) = &pr.tls {
        let mut s = format!("{} {}", tls.version, tls.cipher_suite);
        if let Some(a) = &tls.alpn {
            s.push_str(&format!(" ALPN {a}"));
        }
        lines.push(("tls".into(), s));
        let mut v = format!("{} for {}", tls.verdict.as_str(), tls.verified_name);
        if let Some(d) = &tls.verdict_detail {
            v.push_str(&format!(": {d}"));
        }
        lines.push(("verdict".into(), v));
        if let Some(n) = tls.chain_sent {
            lines.push((
                "chain".into(),
                format!(
                    "the server sent {n} certificates; the first {} are shown",
                    tls.chain.len()
                ),
            ));
        }
        for (i, c) in tls.chain.iter().enumerate() {
            lines.push((
                format!("cert {i}"),
                format!(
                    "{}; issuer {}; {}; valid {} to {} ({} days, {} left); {} {} bits; {}",
                    c.subject,
                    c.issuer,
                    if c.sans.is_empty() {
                        "no SANs".to_string()
                    } else {
                        c.sans.join(" ")
                    },
                    c.not_before,
                    c.not_after,
                    c.lifetime_days,
                    c.days_left,
                    c.key_type,
                    c.key_bits,
                    c.signature_algorithm
                ),
            ));
        }
    }
    for n in &pr.notes {
        lines.push(("note".into(), n.clone()));
    }
    for (k, v) in lines {
        let text = format!("{k:>10}: {v}");
        let mut wrapped = wrap(&text, 12, p.width).into_iter();
        if let Some(first) = wrapped.next() {
            writeln!(out, "{first}")?;
        }
        for line in wrapped {
            writeln!(out, "{line}")?;
        }
    }
    if !pr.transcript.is_empty() {
        writeln!(out, "{:>10}:", "dialogue")?;
    }
    // -vv: each line from column 5, a line too long for the width goes on from column 8.
    for entry in &pr.transcript {
        for (i, line) in wrap(entry, 7, p.width).iter().enumerate() {
            let line = if i == 0 { &line[3..] } else { line.as_str() };
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}
