//! Exit status, like grep and diff: 0 nothing failed (at the --fail-on level),
//! 1 something failed, 2 mailport could not do its job, 130 interrupted.

use crate::render::nagios::State;
use crate::report::{Finding, Severity};

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
