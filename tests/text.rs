//! The text report as a person reads it: one line per probe within 80
//! columns, findings with hints, no colour with NO_COLOR.

use crate::support::certs::{CertKind, TestPki};
use crate::support::cmd::Mailport;
use crate::support::dialogs::{self, Recorded};
use crate::support::ports::{closed_port, filtered_port};
use crate::support::server::FakeServer;
use crate::support::HOST;

#[test]
fn a_mixed_report_fits_80_columns_and_names_every_problem() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let relay = FakeServer::smtp(
        Recorded::smtp("postfix-3.7.11").starttls(pki.server_config(CertKind::Good, &[HOST])),
    );
    let submission = FakeServer::smtp(dialogs::smtp_without_starttls());
    let submissions = FakeServer::smtp(
        Recorded::smtp("exim-4.96-smtps").implicit(pki.server_config(CertKind::Expired, &[HOST])),
    );
    let filtered = filtered_port();
    let run = Mailport::check(HOST)
        .loopback()
        .ca(Some(ca.path()))
        .connect_timeout("1s")
        .at(relay.port(), "smtp")
        .at(submission.port(), "submission")
        .at(submissions.port(), "submissions")
        .at(filtered.port, "smtp")
        .run();
    let (p_relay, p_sub, p_subs) = (relay.port(), submission.port(), submissions.port());
    relay.finish();
    submission.finish();
    submissions.finish();
    println!("{}", run.stdout);
    assert_eq!(run.code, 1);
    for line in run.stdout.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
        assert!(!line.contains('\x1b'), "colour with NO_COLOR: {line:?}");
    }
    let out = &run.stdout;
    assert!(
        out.contains("mail.example.test → 127.0.0.1 (--resolve)"),
        "{out}"
    );
    let row = |port: &str| {
        out.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(port))
            .unwrap_or_else(|| panic!("no row for {port}:\n{out}"))
            .to_string()
    };
    let relay_row = row(&p_relay.to_string());
    assert!(
        relay_row.starts_with("smtp") && relay_row.contains(" ok "),
        "{relay_row}"
    );
    assert!(relay_row.contains("1.3"), "{relay_row}");
    assert!(row(&p_sub.to_string()).contains("starttls_unavailable"));
    // r12: the wire is fine, the certificate is not: the RESULT cell says so.
    let subs_row = row(&p_subs.to_string());
    assert!(subs_row.contains("EXPIRED"), "{subs_row}");
    assert!(subs_row.contains("cert_expired"), "{subs_row}");
    assert!(!subs_row.contains(" ok "), "{subs_row}");
    assert!(row(&filtered.port.to_string()).contains("connect_timeout"));
    for code in ["starttls_unavailable", "cert_expired", "connect_timeout"] {
        assert!(out.contains(code), "{code} missing:\n{out}");
    }
    assert!(out.contains("hint: "));
    assert!(out.contains("4 probes: 1 ok, 0 warn, 3 fail"), "{out}");
}

#[test]
fn verbose_details_fit_80_columns_and_show_the_dialog() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(
        Recorded::smtp("exim-4.96").starttls(pki.server_config(CertKind::Good, &[HOST])),
    );
    let run = Mailport::check(HOST)
        .loopback()
        .at(server.port(), "smtp")
        .ca(Some(ca.path()))
        .arg("-v")
        .run();
    server.finish();
    println!("{}", run.stdout);
    assert_eq!(run.code, 0);
    for line in run.stdout.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
    for needle in [
        "greeting: 220 mail.example.test ESMTP Exim 4.96",
        "software: Exim 4.96",
        "before TLS:",
        "after TLS:",
        "AUTH",
        "TLSv1.3",
        "verdict: valid for mail.example.test",
        "cert 0:",
        "phases: connect",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle} missing:\n{}",
            run.stdout
        );
    }
}

#[test]
fn long_ipv6_addresses_get_their_own_heading() {
    // 2001:db8::/32 is documentation space; the probe only needs to fail, and
    // --resolve keeps DNS out of it. The connect is refused or unreachable at
    // once on a machine without a route to it, and never leaves loopback.
    let run = Mailport::check("mail.example.test")
        .resolve("mail.example.test", "::1")
        .resolve("mail.example.test", "127.0.0.1")
        .connect_timeout("1s")
        .args(["-s", "smtp"])
        .run();
    for line in run.stdout.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
    assert!(run.stdout.contains("::1"));
}

fn refused_check(color: &str, no_color: bool) -> String {
    let cmd = Mailport::check("127.0.0.1")
        .at(closed_port(), "smtp")
        .args(["--color", color]);
    let cmd = if no_color {
        cmd.env("NO_COLOR", "1")
    } else {
        cmd.env_remove("NO_COLOR")
    };
    let out = cmd.run();
    assert_eq!(out.code, 1);
    String::from_utf8(out.stdout_bytes).unwrap()
}

#[test]
fn colour_only_when_asked_or_on_a_terminal_and_never_with_no_color() {
    assert!(refused_check("always", false).contains("\x1b[31m"));
    // r16: an explicit --color always wins over NO_COLOR (no-color.org:
    // per-invocation flags override it); under auto NO_COLOR still wins.
    assert!(refused_check("always", true).contains('\x1b'));
    assert!(!refused_check("auto", true).contains('\x1b'));
    // Not a terminal: auto means no colour.
    assert!(!refused_check("auto", false).contains('\x1b'));
    assert!(!refused_check("never", false).contains('\x1b'));
}

#[test]
fn a_closed_stdout_pipe_is_not_an_error() {
    // Like `mailport check … --json | head -0`: the reader is gone before we write.
    let port = closed_port();
    for format in ["--json", "--verbose"] {
        let out = Mailport::check("127.0.0.1")
            .at(port, "smtp")
            .arg(format)
            .run_with_stdout_closed();
        let stderr = &out.stderr;
        assert!(!stderr.contains("error"), "{format}: {stderr}");
        assert_eq!(out.code, 0, "{format}: {stderr}");
    }
}

#[test]
fn an_international_name_is_checked_in_ascii_and_shown_in_both_forms() {
    let cmd = Mailport::check("bücher.example")
        .loopback()
        .at(closed_port(), "smtp");
    let run = cmd.clone().run();
    assert!(
        run.stdout
            .contains("xn--bcher-kva.example (bücher.example)"),
        "{}",
        run.stdout
    );
    let run = cmd.json().run();
    let report = run.report();
    let t = &report.targets[0];
    assert_eq!(t.host, "xn--bcher-kva.example");
    assert_eq!(t.host_unicode.as_deref(), Some("bücher.example"));
    assert_eq!(run.code, 1);
}
