//! A TCP trace in the text report: the failing port and the working port side by side, hop by hop.

use super::*;

/// One cell of a trace table: who answered at that TTL, and how.
fn hop_cell(h: &Hop) -> String {
    let who = |h: &Hop| match (&h.from, &h.from_name) {
        (Some(a), Some(n)) => format!("{a} {n}"),
        (Some(a), None) => a.to_string(),
        (None, _) => "?".to_string(),
    };
    match h.reply {
        HopReply::TimeExceeded => who(h),
        HopReply::Silent => "*".to_string(),
        HopReply::Connected => "connected".to_string(),
        HopReply::Refused => "refused (RST)".to_string(),
        HopReply::Rejected | HopReply::Unreachable => match (&h.icmp, &h.error) {
            (Some(i), _) => format!("{i} from {}", who(h)),
            (None, Some(e)) => format!("{} ({e})", h.reply.as_str()),
            (None, None) => h.reply.as_str().to_string(),
        },
        HopReply::Error => format!("error ({})", h.error.as_deref().unwrap_or("?")),
    }
}

/// A trace: the failing port's hops beside the control port's, one TTL a line.
pub(super) fn trace(tr: &Trace, out: &mut dyn Write, p: &Paint) -> io::Result<()> {
    writeln!(out)?;
    let beside = match (&tr.control_service, tr.control_port) {
        (Some(s), Some(port)) => format!(" beside {port} ({s})"),
        _ => " (no port of the address connected to compare with)".to_string(),
    };
    let head = format!(
        "{} {} port {} ({}){beside}: {}, bound {}",
        p.bold("Trace to"),
        tr.address,
        tr.port,
        tr.service,
        ms(tr.ms),
        ms(tr.bound_ms)
    );
    for line in wrap(&head, 0, p.width) {
        writeln!(out, "{line}")?;
    }
    let col = |port: Option<u16>, source: Option<u16>| match (port, source) {
        (Some(port), Some(s)) => format!("port {port} from :{s}"),
        (Some(port), None) => format!("port {port}"),
        _ => String::new(),
    };
    let control = tr.control_port.is_some();
    let left = col(Some(tr.port), tr.source_port);
    let right = col(tr.control_port, tr.control_source_port);
    // Two columns of hops side by side share the width (36 each at 80).
    let hop_col = p.width.saturating_sub(8) / 2;
    let line = |ttl: &str, a: &str, b: &str| {
        let a = truncate(a, if control { hop_col } else { 2 * hop_col });
        if control {
            format!("  {ttl:>3}  {a:<hop_col$} {}", truncate(b, hop_col))
                .trim_end()
                .to_string()
        } else {
            format!("  {ttl:>3}  {a}")
        }
    };
    writeln!(out, "{}", line("TTL", &left, &right))?;
    let rows = tr
        .hops
        .iter()
        .chain(&tr.control_hops)
        .map(|h| h.ttl)
        .max()
        .unwrap_or(0);
    for ttl in 1..=rows {
        let a = tr.hop(ttl).map(hop_cell).unwrap_or_default();
        let b = tr.control_hop(ttl).map(hop_cell).unwrap_or_default();
        writeln!(out, "{}", line(&ttl.to_string(), &a, &b))?;
    }
    let end = match tr.end {
        TraceEnd::Done => None,
        TraceEnd::MaxHops => Some(format!("stopped after {} hops", tr.max_hops)),
        TraceEnd::TimeBound => Some("cut short by the trace's time bound".to_string()),
        TraceEnd::NoTime => Some("not run: too little time left before --deadline".to_string()),
    };
    if let Some(end) = end {
        writeln!(out, "       ({end})")?;
    }
    Ok(())
}
