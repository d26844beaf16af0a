//! `--format nagios`: the monitoring plugins' status line, perfdata and
//! exit statuses (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), as the
//! monitoring-plugins development guidelines define them.

use regex::Regex;

use crate::support::certs::{CertKind, TestPki};
use crate::support::cmd::{Mailport, Run};
use crate::support::dialogs;
use crate::support::ports::closed_port;
use crate::support::server::FakeServer;
use crate::support::HOST;

/// The guidelines' grammar of one perfdata item:
/// `'label'=value[UOM];[warn];[crit];[min];[max]`; a label in quotes holds
/// anything but `'` and `=`, unquoted anything but space too; the value is a
/// number or `U`; UOM one of s, ms, us, %, B, KB, MB, TB, c, or none; a
/// threshold is a range `[@][start:][end]`.
fn perf_item() -> Regex {
    let label = r"(?:'[^'=]+'|[^'= ]+)";
    let number = r"-?[0-9]+(?:\.[0-9]+)?";
    let range = format!(r"@?(?:(?:{number}|~):)?(?:{number})?");
    Regex::new(&format!(
        r"^{label}=(?:{number}(?:s|ms|us|%|B|KB|MB|TB|c)?|U)(?:;(?:{range})?(?:;(?:{range})?(?:;(?:{number})?(?:;(?:{number})?)?)?)?)?$"
    ))
    .unwrap()
}

/// The status line split: (state, text, perfdata items), every item checked
/// against the grammar.
#[track_caller]
fn status_line(run: &Run) -> (String, String, Vec<String>) {
    let first = run.stdout.lines().next().unwrap_or_default();
    let head =
        Regex::new(r"^MAILPORT (OK|WARNING|CRITICAL|UNKNOWN) - ([^|]+?)(?: \| (.+))?$").unwrap();
    let caps = head
        .captures(first)
        .unwrap_or_else(|| panic!("not a plugin status line: {first:?}\n{}", run.stdout));
    let items: Vec<String> = caps
        .get(3)
        .map(|p| p.as_str().split(' ').map(String::from).collect())
        .unwrap_or_default();
    let grammar = perf_item();
    for item in &items {
        assert!(
            grammar.is_match(item),
            "perfdata {item:?} breaks the grammar"
        );
    }
    for later in run.stdout.lines().skip(1) {
        assert!(!later.contains('|'), "long output with a '|': {later:?}");
    }
    (caps[1].to_string(), caps[2].to_string(), items)
}

fn nagios(cmd: Mailport) -> Mailport {
    cmd.args(["--format", "nagios"])
}

#[test]
fn r16_nagios_ok_exits_0_with_time_and_certificate_days() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(dialogs::smtp_healthy(
        HOST,
        pki.server_config(CertKind::Good, &[HOST]),
    ));
    let run = nagios(
        Mailport::check(HOST)
            .loopback()
            .at(server.port(), "smtp")
            .ca(Some(ca.path()))
            .fast_timeouts(),
    )
    .run();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let (state, text, perf) = status_line(&run);
    assert_eq!(state, "OK");
    assert!(
        text.starts_with(&format!("{HOST}: 1 probes, 1 ok")),
        "{text}"
    );
    let port = server.port();
    let time = Regex::new(&format!(r"^'smtp_{port}_time'=[0-9]+\.[0-9]{{3}}s;;;0$")).unwrap();
    assert!(perf.iter().any(|p| time.is_match(p)), "{perf:?}");
    let days = Regex::new(&format!(r"^'smtp_{port}_cert_days'=[0-9]+;21:;0:$")).unwrap();
    assert!(perf.iter().any(|p| days.is_match(p)), "{perf:?}");
    assert_eq!(run.stdout.lines().count(), 1, "no findings: {}", run.stdout);
    server.finish();
}

#[test]
fn r16_nagios_warning_exits_1_even_without_fail_on_warn() {
    let server = FakeServer::smtp(dialogs::smtp_without_starttls());
    let run = nagios(
        Mailport::check(HOST)
            .loopback()
            .at(server.port(), "smtp")
            .fast_timeouts(),
    )
    .run();
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let (state, text, perf) = status_line(&run);
    assert_eq!(state, "WARNING");
    assert!(text.contains("starttls_not_offered_relay"), "{text}");
    assert_eq!(perf.len(), 1, "a time, no certificate: {perf:?}");
    assert!(
        run.stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("WARN starttls_not_offered_relay ")),
        "the finding as long output:\n{}",
        run.stdout
    );
    server.finish();
}

#[test]
fn r16_nagios_critical_exits_2_with_an_undetermined_time() {
    let port = closed_port();
    let run = nagios(
        Mailport::check(HOST)
            .loopback()
            .at(port, "smtp")
            .connect_timeout("1s"),
    )
    .run();
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let (state, text, perf) = status_line(&run);
    assert_eq!(state, "CRITICAL");
    assert!(text.contains(&format!("smtp/{port} refused")), "{text}");
    assert_eq!(perf, vec![format!("'smtp_{port}_time'=U;;;0")]);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn r16_nagios_bad_input_is_unknown_3_not_usage_error_2() {
    // Rejected by clap while parsing, by the plan, and a missing argument.
    for args in [
        &["check", HOST, "--timeout", "5x", "--format", "nagios"][..],
        &["check", "bad host!", "--format=nagios"][..],
        &["check", "--format", "nagios"][..],
    ] {
        let run = Mailport::new().args(args).run();
        assert_eq!(run.code, 3, "{args:?}: {}\n{}", run.stdout, run.stderr);
        let (state, text, perf) = status_line(&run);
        assert_eq!(state, "UNKNOWN", "{args:?}");
        assert!(
            !text.is_empty() && perf.is_empty(),
            "{args:?}: {}",
            run.stdout
        );
        assert_eq!(run.stdout.lines().count(), 1, "{args:?}: {}", run.stdout);
    }
    // Without it, the same input is the usual usage error.
    let run = Mailport::new()
        .args(["check", HOST, "--timeout", "5x"])
        .run();
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
}

#[test]
fn r16_perfdata_grammar_rejects_what_the_guidelines_forbid() {
    let g = perf_item();
    for good in [
        "'a b'=1s;;;0",
        "x=U",
        "t=0.5s;1;2;0;10",
        "d=-3;21:;0:",
        "c=5c;@1:2",
    ] {
        assert!(g.is_match(good), "{good}");
    }
    for bad in ["'a'b'=1", "a=1days", "a b=1", "a=", "a=1;;;;;"] {
        assert!(!g.is_match(bad), "{bad}");
    }
}
