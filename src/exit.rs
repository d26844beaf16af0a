//! Exit status, like grep and diff: 0 nothing failed (at the --fail-on level),
//! 1 something failed, 2 mailport could not do its job, 130 interrupted;
//! with `--format nagios` the monitoring plugins' 0-3.

use crate::escape::shown;
use crate::render::nagios::State;
use crate::report::{Finding, Severity};
use std::process::ExitCode;

pub const OK: u8 = 0;
pub const FAILED: u8 = 1;
pub const ERROR: u8 = 2;
/// Interrupted (Ctrl-C, SIGINT): 128 + 2, as shells report it.
pub const INTERRUPTED: u8 = 130;

/// The status for a finished check.
pub fn status(findings: &[Finding], fail_on: Severity) -> u8 {
    if findings.iter().any(|f| f.severity >= fail_on) {
        FAILED
    } else {
        OK
    }
}

/// The monitoring plugins' state (`--format nagios`) for a finished check whose
/// normal status is `status`: a fail finding is CRITICAL, a warning WARNING
/// (whatever --fail-on says), an interrupted run or a host that could not be
/// checked UNKNOWN. Bad input never gets here: `main` answers it UNKNOWN too.
pub fn nagios(findings: &[Finding], status: u8) -> State {
    if status != OK && status != FAILED {
        State::Unknown
    } else if findings.iter().any(|f| f.severity == Severity::Fail) {
        State::Critical
    } else if findings.iter().any(|f| f.severity == Severity::Warn) {
        State::Warning
    } else {
        State::Ok
    }
}

/// A command line clap refused: in the monitoring plugins' format (`nagios`)
/// an UNKNOWN line on stdout and 3; else clap's usage error (2), with an
/// over-long value it quotes cut short (escaped, "…"). Help and version
/// (clap's "errors" on stdout) are printed as usual.
pub fn refused_command_line(e: clap::Error, nagios: bool) -> ExitCode {
    if nagios && e.use_stderr() {
        // clap's message up to its usage and tip, on one line.
        let text = e.to_string();
        let message: Vec<&str> = text
            .lines()
            .take_while(|l| !l.starts_with("Usage:") && !l.trim_start().starts_with("tip:"))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let message = message.join(" ");
        return nagios_unknown(&format!("usage: {}", message.trim_start_matches("error: ")));
    }
    exit_quoting_short(e)
}

/// `MAILPORT UNKNOWN - why` on stdout, and its status, 3.
pub fn nagios_unknown(why: &str) -> ExitCode {
    let _ = crate::render::nagios::unknown(why, &mut std::io::stdout());
    ExitCode::from(State::Unknown.code())
}

/// clap's usage error, with an over-long value it quotes cut short (escaped, "…").
fn exit_quoting_short(e: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue};
    let long = match e.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) if shown(v) != *v => Some(v.clone()),
        _ => None,
    };
    match long {
        Some(value) => {
            let text = e.to_string().replace(&value, &shown(&value));
            eprint!("{text}");
            ExitCode::from(e.exit_code() as u8)
        }
        None => {
            let _ = e.print();
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// `--format nagios` (or `--format=nagios`) on the command line, looked for
/// before it is parsed, so that a usage error can be answered in that format.
pub fn nagios_asked(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    let args: Vec<_> = args.collect();
    args.iter().enumerate().any(|(i, a)| {
        a == "--format=nagios"
            || (a == "--format" && args.get(i + 1).is_some_and(|n| n == "nagios"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(severity: Severity) -> Finding {
        Finding {
            severity,
            code: crate::codes::Code::Ok,
            host: "h".into(),
            service: None,
            port: None,
            address: None,
            message: String::new(),
            hint: String::new(),
            tlsrpt_result: None,
        }
    }

    #[test]
    fn levels() {
        assert_eq!(status(&[], Severity::Fail), OK);
        assert_eq!(status(&[f(Severity::Info)], Severity::Warn), OK);
        assert_eq!(status(&[f(Severity::Warn)], Severity::Fail), OK);
        assert_eq!(status(&[f(Severity::Warn)], Severity::Warn), FAILED);
        assert_eq!(status(&[f(Severity::Fail)], Severity::Fail), FAILED);
    }

    #[test]
    fn nagios_states() {
        assert_eq!(nagios(&[], OK), State::Ok);
        assert_eq!(nagios(&[f(Severity::Info)], OK), State::Ok);
        assert_eq!(nagios(&[f(Severity::Warn)], OK), State::Warning);
        assert_eq!(
            nagios(&[f(Severity::Warn), f(Severity::Fail)], FAILED),
            State::Critical
        );
        assert_eq!(nagios(&[], INTERRUPTED), State::Unknown);
        assert_eq!(nagios(&[f(Severity::Fail)], ERROR), State::Unknown);
    }
}
