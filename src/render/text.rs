//! Text for a terminal: one line per probe, then findings with hints, within
//! the terminal's width (80 when piped; at least 60): words wrapped by their
//! display width (textwrap, unicode-width), never cut unless longer than a line.

use crate::codes::Code;
use crate::report::{
    CertVerdict, Finding, LocalFacts, MxLookup, Outcome, ProbeResult, Report, RunRecord, Severity,
    TargetReport,
};
use crate::report::{Command, Hop, HopReply, ResolutionSource, Role, Trace, TraceEnd, Verdict};
use std::io::{self, Write};

mod dane;
mod details;
mod local;
mod names;
mod policy;
mod trace;

use details::details;
use trace::trace;

/// The width when it is not a terminal's (piped, a file).
pub const WIDTH: usize = 80;
/// The narrowest text: the probe table's compact form fits it.
pub const MIN_WIDTH: usize = 60;
/// Addresses up to this long share the probe table; longer ones head their own group.
const ADDR_COL: usize = 16;

#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
    pub verbose: bool,
    /// `-q`: only the findings and the summary line.
    pub quiet: bool,
    /// Columns to fit in (0: [`WIDTH`]); never below [`MIN_WIDTH`].
    pub width: usize,
}

struct Paint {
    color: bool,
    width: usize,
}

impl Paint {
    fn new(style: Style) -> Paint {
        Paint {
            color: style.color,
            width: if style.width == 0 {
                WIDTH
            } else {
                style.width.max(MIN_WIDTH)
            },
        }
    }
    fn wrap(&self, style: anstyle::Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
    fn bold(&self, t: &str) -> String {
        self.wrap(anstyle::Style::new().bold(), t)
    }
    fn fg(&self, color: anstyle::AnsiColor, t: &str) -> String {
        self.wrap(anstyle::Style::new().fg_color(Some(color.into())), t)
    }
    fn severity(&self, s: Severity, t: &str) -> String {
        use anstyle::AnsiColor::{Cyan, Red, Yellow};
        match s {
            Severity::Fail => self.wrap(anstyle::Style::new().bold().fg_color(Some(Red.into())), t),
            Severity::Warn => self.wrap(
                anstyle::Style::new().bold().fg_color(Some(Yellow.into())),
                t,
            ),
            Severity::Info => self.fg(Cyan, t),
        }
    }
    /// Green when `ok`, else red.
    fn pass(&self, ok: bool, t: &str) -> String {
        use anstyle::AnsiColor::{Green, Red};
        self.fg(if ok { Green } else { Red }, t)
    }
    fn outcome(&self, o: Outcome, t: &str) -> String {
        self.pass(o == Outcome::Ok, t)
    }
    fn verdict(&self, v: Verdict, t: &str) -> String {
        use anstyle::AnsiColor::{Green, Red, Yellow};
        match v {
            Verdict::Ok => self.fg(Green, t),
            Verdict::NotOffered => self.wrap(anstyle::Style::new().dimmed(), t),
            Verdict::Warn => self.fg(Yellow, t),
            Verdict::Fail => self.fg(Red, t),
        }
    }
    /// A certificate's cell: green when valid, red when not.
    fn cert(&self, v: CertVerdict, t: &str) -> String {
        self.pass(v == CertVerdict::Valid, t)
    }
    /// The probe table's compact form: the address above its rows.
    fn narrow(&self) -> bool {
        self.width < WIDTH
    }
}

pub fn render(report: &Report, out: &mut dyn Write, style: Style) -> io::Result<()> {
    let p = Paint::new(style);
    if !style.quiet {
        names::domains(report, out, &p)?;
    }
    if report.command == Command::Ptr && !style.quiet {
        names::ptr_report(report, out, &p)?;
    }
    let targets = if report.command == Command::Ptr {
        &[][..]
    } else {
        &report.targets[..]
    };
    // -q: only the findings and the summary line.
    let targets = if style.quiet { &[][..] } else { targets };
    for (i, t) in targets.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        target(t, out, &p)?;
        if style.verbose {
            for probe in &t.probes {
                details(probe, out, &p)?;
            }
        }
    }
    if let Some(l) = report.local.as_ref().filter(|_| !style.quiet) {
        if !targets.is_empty() {
            writeln!(out)?;
        }
        local::render(l, out, &p)?;
    }
    if !report.findings.is_empty() {
        if !style.quiet {
            writeln!(out)?;
        }
        writeln!(out, "{}", p.bold("Findings"))?;
        let mut hinted: Vec<Code> = Vec::new();
        for f in &report.findings {
            let repeat = hinted.contains(&f.code);
            finding(f, report.targets.len() > 1, repeat, out, &p)?;
            hinted.push(f.code);
        }
    }
    let s = &report.summary;
    if !style.quiet || !report.findings.is_empty() {
        writeln!(out)?;
    }
    if let Some(at) = &report.certificates_at {
        writeln!(out, "certificates verified as of {at} (--at)")?;
    }
    let secs = report.duration_ms as f64 / 1000.0;
    let line = match report.command {
        Command::Local => format!(
            "findings: {} fail, {} warn, {} info; {secs:.1}s; exit {}",
            s.fail, s.warn, s.info, s.exit_code
        ),
        Command::Ptr => format!(
            "{} addresses; findings: {} fail, {} warn, {} info; {secs:.1}s; exit {}",
            report.targets.len(),
            s.fail,
            s.warn,
            s.info,
            s.exit_code
        ),
        _ => {
            let v = &s.verdicts;
            let mut counts = vec![format!("{} ok", v.ok)];
            if v.not_offered > 0 {
                counts.push(format!("{} not offered", v.not_offered));
            }
            counts.push(format!("{} warn", v.warn));
            counts.push(format!("{} fail", v.fail));
            format!(
                "{} probes: {}; findings: {} fail, {} warn, {} info; {secs:.1}s; exit {}",
                s.probes,
                counts.join(", "),
                s.fail,
                s.warn,
                s.info,
                s.exit_code
            )
        }
    };
    for l in wrap(&line, 0, p.width) {
        writeln!(out, "{l}")?;
    }
    Ok(())
}

/// One host of a run written host by host: its table, this machine's facts
/// when they are given (once a run, on the first host they explain), then
/// its findings. `hinted`: the codes whose hint was written already in the run.
pub fn host(
    t: &TargetReport,
    local: Option<&LocalFacts>,
    findings: &[Finding],
    first: bool,
    hinted: &mut Vec<Code>,
    out: &mut dyn Write,
    style: Style,
) -> io::Result<()> {
    let p = Paint::new(style);
    if style.quiet {
        return host_findings(findings, hinted, out, &p);
    }
    if !first {
        writeln!(out)?;
    }
    target(t, out, &p)?;
    if style.verbose {
        for probe in &t.probes {
            details(probe, out, &p)?;
        }
    }
    if let Some(l) = local {
        writeln!(out)?;
        local::render(l, out, &p)?;
        if !findings.is_empty() {
            writeln!(out)?;
        }
    }
    host_findings(findings, hinted, out, &p)
}

/// One --mx mail domain of a run written host by host: its MX lookup and its findings.
pub fn domain(
    d: &MxLookup,
    findings: &[Finding],
    first: bool,
    hinted: &mut Vec<Code>,
    out: &mut dyn Write,
    style: Style,
) -> io::Result<()> {
    let p = Paint::new(style);
    if style.quiet {
        return host_findings(findings, hinted, out, &p);
    }
    if !first {
        writeln!(out)?;
    }
    names::domain(d, out, &p)?;
    host_findings(findings, hinted, out, &p)
}

fn host_findings(
    findings: &[Finding],
    hinted: &mut Vec<Code>,
    out: &mut dyn Write,
    p: &Paint,
) -> io::Result<()> {
    for f in findings {
        let repeat = hinted.contains(&f.code);
        finding(f, false, repeat, out, p)?;
        if !repeat {
            hinted.push(f.code);
        }
    }
    Ok(())
}

/// The last lines of a run written host by host.
pub fn run_summary(r: &RunRecord, out: &mut dyn Write, style: Style) -> io::Result<()> {
    let p = Paint::new(style);
    let s = &r.summary;
    let v = &s.verdicts;
    let mut counts = vec![format!("{} ok", v.ok)];
    if v.not_offered > 0 {
        counts.push(format!("{} not offered", v.not_offered));
    }
    counts.push(format!("{} warn", v.warn));
    counts.push(format!("{} fail", v.fail));
    let mut hosts = format!("{} hosts", r.hosts);
    if r.domains > 0 {
        hosts = format!("{} domains, {hosts}", r.domains);
    }
    writeln!(out)?;
    let line = format!(
        "{} probes: {}; findings: {} fail, {} warn, {} info",
        s.probes,
        counts.join(", "),
        s.fail,
        s.warn,
        s.info,
    );
    for l in wrap(&line, 0, p.width) {
        writeln!(out, "{l}")?;
    }
    let i = &r.input;
    if i.bad_lines + i.duplicates + i.other_shards > 0 {
        let line = format!(
            "--hosts-file: {} lines; skipped: {} bad (see above), {} duplicates, {} in other shards",
            i.lines, i.bad_lines, i.duplicates, i.other_shards
        );
        for l in wrap(&line, 0, p.width) {
            writeln!(out, "{l}")?;
        }
    }
    if r.interrupted {
        let line = format!(
            "{}: {} hosts under way were cut, the hosts after them were not checked",
            p.severity(Severity::Warn, "interrupted (Ctrl-C)"),
            r.unfinished
        );
        for l in wrap(&line, 0, p.width) {
            writeln!(out, "{l}")?;
        }
    }
    let line = format!(
        "{hosts}; {:.1}s; exit {}",
        r.duration_ms as f64 / 1000.0,
        r.exit_code
    );
    for l in wrap(&line, 0, p.width) {
        writeln!(out, "{l}")?;
    }
    Ok(())
}

fn target(t: &TargetReport, out: &mut dyn Write, p: &Paint) -> io::Result<()> {
    let mut head = p.bold(&t.host);
    if let Some(unicode) = &t.host_unicode {
        head.push_str(&format!(" ({unicode})"));
    }
    head.push_str(&names::mx_of_label(t));
    if t.role == crate::report::Role::Control {
        head.push_str(" [control host: evidence only]");
    }
    if t.tls_name != t.host {
        head.push_str(&format!(" (certificates checked for {})", t.tls_name));
    }
    match t.resolution.source {
        ResolutionSource::Literal => {}
        source if !t.addresses.is_empty() => {
            let list: Vec<String> = t.addresses.iter().map(|a| a.to_string()).collect();
            let via = if source == ResolutionSource::Override {
                " (--resolve)"
            } else {
                ""
            };
            head.push_str(&format!(" → {}{via}", list.join(", ")));
        }
        _ => head.push_str(&format!(
            ": no address ({})",
            t.resolution
                .detail
                .as_deref()
                .unwrap_or(t.resolution.status.as_str())
        )),
    }
    for line in wrap(&head, 0, p.width) {
        writeln!(out, "{line}")?;
    }
    let grouped = p.narrow()
        || t.probes
            .iter()
            .filter_map(|pr| pr.address)
            .any(|a| a.to_string().len() > ADDR_COL);
    if t.probes.is_empty() {
        // Nothing was probed (a null MX, --mx lookups that failed): no table.
    } else if grouped {
        let mut last = None;
        for probe in &t.probes {
            if probe.address != last {
                let addr = probe
                    .address
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "-".into());
                writeln!(out, "  {addr}")?;
                writeln!(out, "  {}", header(false, p.narrow()))?;
                last = probe.address;
            }
            writeln!(out, "  {}", row(probe, false, t.role == Role::Control, p))?;
        }
    } else {
        writeln!(out, "{}", header(true, false))?;
        for probe in &t.probes {
            writeln!(out, "{}", row(probe, true, t.role == Role::Control, p))?;
        }
    }
    names::reverse(t, true, out, p)?;
    for tr in &t.traces {
        trace(tr, out, p)?;
    }
    Ok(())
}

fn header(with_addr: bool, narrow: bool) -> String {
    let addr = if with_addr {
        format!("{:<ADDR_COL$}  ", "ADDRESS")
    } else {
        String::new()
    };
    if narrow {
        return format!(
            "{:<11} {:>5} {:<20} {:<3} {:<9} {:>5}",
            "SERVICE", "PORT", "RESULT", "TLS", "CERT", "TIME"
        );
    }
    format!(
        "{:<11} {:>5}  {addr}{:<20} {:<4} {:<9} {:>7}",
        "SERVICE", "PORT", "RESULT", "TLS", "CERT", "TIME"
    )
    .trim_end()
    .to_string()
}

fn row(pr: &ProbeResult, with_addr: bool, control: bool, p: &Paint) -> String {
    let addr = if with_addr {
        let a = pr
            .address
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into());
        format!("{a:<ADDR_COL$}  ")
    } else {
        String::new()
    };
    // The RESULT cell shows the worst verdict: the wire outcome, or, when the
    // wire was fine, the finding that is not (an expired certificate…).
    let result = match (pr.outcome, pr.verdict, pr.verdict_code) {
        (_, Verdict::NotOffered, _) => "not offered".to_string(),
        (Outcome::Ok, Verdict::Warn | Verdict::Fail, Some(code)) => code.as_str().to_string(),
        (o, _, _) => o.as_str().to_string(),
    };
    let result = truncate(&result, 20);
    let tls = pr
        .tls
        .as_ref()
        .map(|t| t.version.trim_start_matches("TLSv").to_string())
        .unwrap_or_else(|| "-".into());
    let cert = match &pr.tls {
        Some(t) => p.cert(t.verdict, &format!("{:<9}", cert_cell(t))),
        None => format!("{:<9}", "-"),
    };
    let time = if pr.address.is_none() {
        "-".to_string()
    } else {
        ms(pr.total_ms)
    };
    // A control host's row is coloured by its wire outcome, or red when its
    // certificate fails; a host's by its verdict (which counts the certificate).
    let cert_fails = pr
        .tls
        .as_ref()
        .is_some_and(|t| t.verdict != CertVerdict::Valid);
    let result = if control && cert_fails {
        p.verdict(Verdict::Fail, &format!("{result:<20}"))
    } else if control {
        p.outcome(pr.outcome, &format!("{result:<20}"))
    } else {
        p.verdict(pr.verdict, &format!("{result:<20}"))
    };
    let service = truncate(&pr.service, 11);
    if p.narrow() {
        return format!(
            "{service:<11} {:>5} {result} {tls:<3} {cert} {time:>5}",
            pr.port
        )
        .trim_end()
        .to_string();
    }
    format!(
        "{service:<11} {:>5}  {addr}{result} {tls:<4} {cert} {time:>7}",
        pr.port
    )
}

fn cert_cell(t: &crate::report::TlsFacts) -> String {
    match t.verdict {
        CertVerdict::Valid => t
            .chain
            .first()
            .map(|c| format!("{}d", c.days_left))
            .unwrap_or_else(|| "valid".into()),
        CertVerdict::Expired => "EXPIRED".into(),
        CertVerdict::NotYetValid => "NOT-YET".into(),
        CertVerdict::NameMismatch => "WRONGNAME".into(),
        CertVerdict::SelfSigned => "SELF-SIGN".into(),
        CertVerdict::Untrusted => "UNTRUSTED".into(),
        CertVerdict::IncompleteChain => "NO-CHAIN".into(),
        CertVerdict::Invalid => "INVALID".into(),
        CertVerdict::UnknownIssuer => "NO-ISSUER".into(),
    }
}

fn finding(
    f: &Finding,
    with_host: bool,
    repeat: bool,
    out: &mut dyn Write,
    p: &Paint,
) -> io::Result<()> {
    let mut place = Vec::new();
    // A finding about the name itself (dns_failed, mx_*) names it even alone.
    if with_host || (f.service.is_none() && f.address.is_none()) {
        place.push(f.host.clone());
    }
    if let (Some(s), Some(port)) = (&f.service, f.port) {
        place.push(format!("{s}/{port}"));
    }
    if let Some(a) = f.address.filter(|a| a.to_string() != f.host || !with_host) {
        place.push(a.to_string());
    }
    let label = format!("{:<4}", f.severity.as_str().to_uppercase());
    let mut head = format!(
        "{}  {}",
        p.severity(f.severity, &label),
        p.bold(f.code.as_str())
    );
    if !place.is_empty() {
        head.push(' ');
        head.push_str(&place.join(" "));
    }
    writeln!(out, "{head}")?;
    for line in wrap(&f.message, 6, p.width) {
        writeln!(out, "{line}")?;
    }
    let hint = if repeat {
        "as above".to_string()
    } else {
        f.hint.clone()
    };
    for line in wrap(&format!("hint: {hint}"), 6, p.width) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// Wrap words to `width` columns by their display width (wide characters
/// count two; colour codes nothing); every line is indented by `indent`,
/// runs of spaces become one. A word is cut only when it is longer than a line.
pub fn wrap(text: &str, indent: usize, width: usize) -> Vec<String> {
    let pad = " ".repeat(indent);
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    let text = words.join(" ");
    let options = textwrap::Options::new(width.max(indent + 1))
        .initial_indent(&pad)
        .subsequent_indent(&pad)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .break_words(true);
    let lines: Vec<String> = textwrap::wrap(&text, options)
        .into_iter()
        .map(|l| l.into_owned())
        .collect();
    if lines.is_empty() {
        vec![pad]
    } else {
        lines
    }
}

/// Columns `text` takes on a terminal (colour codes take none).
pub fn display_width(text: &str) -> usize {
    textwrap::core::display_width(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_within_width() {
        let text = "the server does not offer STARTTLS in its EHLO reply and this sentence is long enough to wrap twice over the eighty column limit of a terminal";
        let lines = wrap(text, 6, 80);
        assert!(lines.len() >= 2);
        for l in &lines {
            assert!(l.chars().count() <= 80, "{l}");
            assert!(l.starts_with("      "));
        }
        let long = "x".repeat(200);
        for l in wrap(&long, 4, 80) {
            assert!(l.chars().count() <= 80);
        }
        assert_eq!(wrap("", 2, 80), vec!["  ".to_string()]);
    }

    #[test]
    fn header_fits() {
        assert!(header(true, false).len() <= WIDTH);
        assert!(header(false, false).len() + 2 <= WIDTH);
        assert!(header(false, true).len() + 2 <= MIN_WIDTH);
    }
}
