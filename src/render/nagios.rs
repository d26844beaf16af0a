//! The monitoring plugins' format (`--format nagios`): one status line with
//! performance data, then the findings as long output, as the
//! monitoring-plugins development guidelines define them
//! (<https://www.monitoring-plugins.org/doc/guidelines.html>):
//!
//! ```text
//! MAILPORT CRITICAL - 1 fail, 0 warn: smtp/25 connect_timeout | 'smtp_25_time'=U;;;0 'imaps_993_time'=0.012s;;;0 ...
//! FAIL connect_timeout smtp/25 192.0.2.25: ...
//! ```
//!
//! Perfdata: `'label'=value[UOM];[warn];[crit];[min];[max]`, one per probe
//! (its time in seconds, `U` when it did not get an answer) and one per
//! certificate (days left, no unit, warn below 21 days, critical once expired).
//! The state comes from the caller (`exit::nagios`); this file only writes it.

use crate::report::{Finding, Outcome, ProbeResult, Report, Role, Severity, TargetReport};
use std::io::{self, Write};

/// The plugin states and their exit statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }

    pub fn code(self) -> u8 {
        self as u8
    }
}

/// A certificate with fewer days left than this is a warning in the perfdata
/// thresholds (the `cert_expiring` rule's limit).
const CERT_WARN_DAYS: i64 = crate::diagnose::EXPIRY_WARN_DAYS;
/// At most this many findings are named on the status line.
const NAMED: usize = 3;

/// The whole plugin output for a finished report.
pub fn render(report: &Report, state: State, out: &mut dyn Write) -> io::Result<()> {
    let perf = perfdata(report);
    let mut line = format!("MAILPORT {} - {}", state.as_str(), summary(report, state));
    if !perf.is_empty() {
        line.push_str(" | ");
        line.push_str(&perf.join(" "));
    }
    writeln!(out, "{line}")?;
    for f in &report.findings {
        writeln!(out, "{}", long_line(f))?;
    }
    Ok(())
}

/// The line for a run that could not be done (bad input, an internal error):
/// `MAILPORT UNKNOWN - why`.
pub fn unknown(why: &str, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "MAILPORT {} - {}", State::Unknown.as_str(), clean(why))
}

fn summary(report: &Report, state: State) -> String {
    let s = &report.summary;
    let hosts: Vec<&str> = targets(report).map(|t| t.host.as_str()).collect();
    let who = match hosts.as_slice() {
        [one] => format!("{}: ", clean(one)),
        many => format!("{} hosts: ", many.len()),
    };
    let counts = format!(
        "{} probes, {} ok, {} fail, {} warn",
        s.probes, s.verdicts.ok, s.fail, s.warn
    );
    if state == State::Ok || state == State::Unknown && s.fail + s.warn == 0 {
        return format!("{who}{counts}");
    }
    let worst = if s.fail > 0 {
        Severity::Fail
    } else {
        Severity::Warn
    };
    let mut named: Vec<String> = Vec::new();
    for f in report.findings.iter().filter(|f| f.severity == worst) {
        let name = match (&f.service, f.port) {
            (Some(service), Some(port)) => format!("{service}/{port} {}", f.code.as_str()),
            _ => f.code.as_str().to_string(),
        };
        // The same failure on each address of a host is named once.
        if !named.contains(&name) {
            named.push(name);
        }
    }
    let mut shown = named
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if named.len() > NAMED {
        shown.push_str(&format!(", +{} more", named.len() - NAMED));
    }
    format!("{who}{counts}: {}", clean(&shown))
}

fn targets(report: &Report) -> impl Iterator<Item = &TargetReport> {
    report.targets.iter().filter(|t| t.role == Role::Target)
}

/// One finding of the long output: `FAIL code service/port address: message`.
fn long_line(f: &Finding) -> String {
    let mut place = vec![f.host.clone()];
    if let (Some(service), Some(port)) = (&f.service, f.port) {
        place.push(format!("{service}/{port}"));
    }
    if let Some(a) = f.address.filter(|a| a.to_string() != f.host) {
        place.push(a.to_string());
    }
    clean(&format!(
        "{} {} {}: {}",
        f.severity.as_str().to_uppercase(),
        f.code.as_str(),
        place.join(" "),
        f.message
    ))
}

/// The performance data of the probes of the checked hosts (not the control hosts).
fn perfdata(report: &Report) -> Vec<String> {
    let several_hosts = targets(report).count() > 1;
    let mut out = Vec::new();
    for t in targets(report) {
        let several_addresses = t.addresses.len() > 1;
        // A probe that had no address to connect to (the name did not resolve) has no data.
        for p in t.probes.iter().filter(|p| p.address.is_some()) {
            let mut base = String::new();
            if several_hosts {
                base.push_str(&t.host);
                base.push('_');
            }
            if several_addresses {
                if let Some(a) = p.address {
                    base.push_str(&a.to_string());
                    base.push('_');
                }
            }
            base.push_str(&format!("{}_{}", p.service, p.port));
            out.push(format!(
                "{}={};;;0",
                label(&format!("{base}_time")),
                time(p)
            ));
            let leaf = p.tls.as_ref().and_then(|tls| tls.chain.first());
            if let Some(leaf) = leaf {
                out.push(format!(
                    "{}={};{CERT_WARN_DAYS}:;0:",
                    label(&format!("{base}_cert_days")),
                    leaf.days_left
                ));
            }
        }
    }
    out
}

/// A probe's time in seconds, or `U` (undetermined) when it got no answer.
fn time(p: &ProbeResult) -> String {
    if p.outcome == Outcome::Ok && p.address.is_some() {
        format!("{:.3}s", p.total_ms as f64 / 1000.0)
    } else {
        "U".into()
    }
}

/// A label, quoted: the guidelines allow any character but `'` and `=` in it.
fn label(text: &str) -> String {
    let safe: String = text
        .chars()
        .map(|c| match c {
            '\'' | '=' | '|' => '_',
            c if c.is_whitespace() || c.is_control() => '_',
            c => c,
        })
        .collect();
    format!("'{safe}'")
}

/// Plugin text: one line, no `|` (it starts the perfdata).
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '|' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_text_are_safe() {
        assert_eq!(label("smtp_25_time"), "'smtp_25_time'");
        assert_eq!(label("a b='c|d"), "'a_b__c_d'");
        assert_eq!(clean("a|b\nc"), "a/b c");
    }
}
