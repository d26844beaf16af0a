//! Exit status, like grep and diff: 0 nothing failed (at the --fail-on level),
//! 1 something failed, 2 mailport could not do its job, 130 interrupted.

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
}
