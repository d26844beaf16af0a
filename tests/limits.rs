//! mailport's own concurrency against servers that limit connections per
//! client (issue 12): Exim's `smtp_accept_max_per_host` answers the extra
//! connection with a plaintext `421 Too many concurrent SMTP connections from
//! this IP address`, also on its implicit-TLS port. The probe it turned away
//! is retried alone, after the other probes to the address; --max-per-address
//! bounds how many connections mailport holds to one address at once.

use std::time::Duration;

use crate::support::certs::{CertKind, TestPki};
use crate::support::cmd::{Mailport, Run};
use crate::support::dialogs::Recorded;
use crate::support::schema::valid_report;
use crate::support::server::{FakeServer, LimitedServer, Seen, Step, EXIM_421};
use crate::support::{check_fake, HOST};

/// How long each admitted connection holds its slot before it greets, so
/// that mailport's concurrent connections overlap on a loaded machine too.
const HOLD: Duration = Duration::from_millis(300);

/// Exim on a STARTTLS port (25 or 587) and on 465, each holding its slot a
/// little before the dialog.
fn exim_scripts(pki: &TestPki) -> Vec<Vec<Step>> {
    let tls = || pki.server_config(CertKind::Good, &[HOST]);
    let held = |script: Vec<Step>| {
        let mut steps = vec![Step::Pause(HOLD)];
        steps.extend(script);
        steps
    };
    vec![
        held(Recorded::smtp("exim-4.96").starttls(tls())),
        held(Recorded::smtp("exim-4.96").starttls(tls())),
        held(Recorded::smtp("exim-4.96-smtps").implicit(tls())),
    ]
}

/// 25, 587 and 465 of one Exim on 127.0.0.1 (custom ports) that lets
/// `limit` connections in at once; more `args` for mailport.
fn check_exim(limit: usize, args: &[&str]) -> (Run, Seen) {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = LimitedServer::start(exim_scripts(&pki), limit, EXIM_421);
    let ports = server.ports().to_vec();
    let run = Mailport::check(HOST)
        .loopback()
        .at(ports[0], "smtp")
        .at(ports[1], "submission")
        .at(ports[2], "submissions")
        .ca(Some(ca.path()))
        .fast_timeouts()
        .args(args)
        .json()
        .run();
    (run, server.finish())
}

#[track_caller]
fn assert_limit_retried(run: &Run, seen: &Seen, limit: usize) {
    let report = valid_report(run);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(seen.served, 3, "{seen:?}");
    assert_eq!(seen.turned_away, 3 - limit, "{seen:?}");
    assert!(seen.max_open <= limit, "{seen:?}");
    for p in report.probes() {
        assert_eq!(p.outcome, "ok", "{p:#}");
    }
    let retried: Vec<_> = report.probes().iter().filter(|p| p.retried).collect();
    assert_eq!(retried.len(), 3 - limit, "{}", run.stdout);
    for p in retried {
        assert!(
            p.noted("421 Too many concurrent SMTP connections from this IP address"),
            "{p:#}"
        );
        assert!(p.noted("other connections open"), "{p:#}");
        assert_eq!(p.software.as_deref(), Some("Exim 4.96"));
    }
    let f = report.finding("connection_limit_seen");
    assert_eq!(f.severity, "info");
    assert!(f.hint.contains("smtp_accept_max_per_host"), "{}", f.hint);
    assert!(!report.codes().contains(&"rejected"));
    assert!(!report.codes().contains(&"protocol_mismatch"));
}

#[test]
fn r12_exim_limit_of_two_the_extra_probe_is_retried_alone_and_every_probe_is_ok() {
    let (run, seen) = check_exim(2, &[]);
    assert_limit_retried(&run, &seen, 2);
}

#[test]
fn r12_exim_limit_of_one_two_probes_are_retried_one_after_the_other_and_all_are_ok() {
    let (run, seen) = check_exim(1, &[]);
    assert_limit_retried(&run, &seen, 1);
}

#[test]
fn r12_a_server_that_always_answers_the_limit_is_connection_limited_after_one_retry() {
    // Limit 0: every connection gets Exim's 421, on 25 in the greeting and on
    // 465 in plaintext where the TLS ServerHello was expected.
    let server = LimitedServer::start(vec![vec![], vec![]], 0, EXIM_421);
    let ports = server.ports().to_vec();
    let run = Mailport::check(HOST)
        .loopback()
        .at(ports[0], "smtp")
        .at(ports[1], "submissions")
        .fast_timeouts()
        .json()
        .run();
    let seen = server.finish();
    assert_eq!(
        seen.turned_away, 4,
        "each probe and its one retry: {seen:?}"
    );
    assert_eq!(seen.served, 0);
    let report = run.report();
    for p in report.probes() {
        assert_eq!(p.outcome, "connection_limited", "{p:#}");
        assert!(p.retried, "{p:#}");
        assert!(p.detail().contains("turned away again"), "{p:#}");
        assert!(
            p.detail()
                .contains("421 Too many concurrent SMTP connections from this IP address"),
            "{p:#}"
        );
        assert!(p.noted("the first attempt was turned away"), "{p:#}");
    }
    let smtps = report.probe("submissions");
    assert!(smtps.peer_protocol.is_none(), "{smtps:#}");
    // A warning: the server is up and answers; the port was not checked further.
    assert_eq!(report.finding("connection_limited").severity, "warn");
    assert!(!report.codes().contains(&"connection_limit_seen"));
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn r12_max_per_address_1_runs_the_probes_to_one_address_one_at_a_time() {
    let (run, seen) = check_exim(100, &["--max-per-address", "1"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(seen.max_open, 1, "{seen:?}");
    assert_eq!((seen.served, seen.turned_away), (3, 0));
    let report = run.report();
    assert!(report
        .probes()
        .iter()
        .all(|p| p.outcome == "ok" && !p.retried));
}

#[test]
fn r12_by_default_the_probes_to_one_address_run_at_once() {
    let (run, seen) = check_exim(100, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(seen.max_open, 3, "{seen:?}");
}

#[test]
fn r12_max_per_address_must_be_1_to_1024() {
    for bad in ["0", "1025", "many"] {
        let run = Mailport::check(HOST).args(["--max-per-address", bad]).run();
        assert_eq!(run.code, 2, "--max-per-address {bad}: {}", run.stderr);
        assert!(run.stderr.contains("--max-per-address"), "{}", run.stderr);
    }
}

/// IMAP `* BYE` and POP3 `-ERR` in the words of a connection limit: the
/// probe is retried once (a second connection) and stays connection_limited.
#[test]
fn r12_imap_bye_and_pop3_err_about_too_many_connections_are_limits_too() {
    for (service, refusal, after) in [
        (
            "imap",
            "* BYE Too many connections from your IP\r\n",
            vec![Step::Close],
        ),
        (
            "pop3",
            "-ERR [SYS/TEMP] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=10)\r\n",
            vec![Step::Expect("QUIT"), Step::send("+OK\r\n")],
        ),
    ] {
        let script = || {
            let mut steps = vec![Step::send(refusal)];
            steps.extend(after.clone());
            steps
        };
        let server = FakeServer::start(vec![script(), script()]);
        let run = check_fake(server.port(), service, None).run();
        server.finish();
        let p = run.probe();
        assert_eq!(p.outcome, "connection_limited", "{p:#}");
        assert!(p.retried, "{p:#}");
        assert_eq!(p.failed_phase.as_deref(), Some("greeting"));
        assert!(p.detail().contains(refusal.trim_end()), "{p:#}");
        // The only probe to the address: the limit was held by someone else.
        assert!(p.noted("no other connection open"), "{p:#}");
    }
}

/// No retry when the deadline leaves less than the connect and greeting
/// timeouts: the first answer stands, and a note says why.
#[test]
fn r12_no_retry_without_the_time_for_one_and_the_note_says_so() {
    let server = LimitedServer::start(vec![vec![]], 0, EXIM_421);
    let run = Mailport::check(HOST)
        .loopback()
        .at(server.ports()[0], "smtp")
        .fast_timeouts()
        .args(["--deadline", "3s"])
        .json()
        .run();
    let seen = server.finish();
    assert_eq!(seen.turned_away, 1, "{seen:?}");
    let p = run.probe();
    assert_eq!(p.outcome, "connection_limited", "{p:#}");
    assert!(!p.retried, "{p:#}");
    assert!(p.noted("not retried"), "{p:#}");
    assert!(p.noted("--deadline"), "{p:#}");
}
