//! The text report as a person reads it: one line per probe within 80
//! columns, findings with hints, no colour with NO_COLOR.

use crate::support::certs::{CertKind, TestPki};
use crate::support::mailport;
use crate::support::ports::filtered_port;
use crate::support::server::{FakeServer, Step};
use crate::support::HOST;

fn fx(path: &'static str) -> Step {
    Step::Fixture(path)
}

#[test]
fn a_mixed_report_fits_80_columns_and_names_every_problem() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let relay = FakeServer::smtp(vec![
        fx("smtp/postfix-3.7.11/greeting"),
        Step::Expect("EHLO"),
        fx("smtp/postfix-3.7.11/ehlo"),
        Step::Expect("STARTTLS"),
        fx("smtp/postfix-3.7.11/starttls"),
        Step::StartTls(pki.server_config(CertKind::Good, &[HOST])),
        Step::Expect("EHLO"),
        fx("smtp/postfix-3.7.11/ehlo_tls"),
        Step::Expect("QUIT"),
        fx("smtp/postfix-3.7.11/quit"),
    ]);
    let submission = FakeServer::smtp(vec![
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250 8BITMIME\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 bye\r\n"),
    ]);
    let submissions = FakeServer::smtp(vec![
        Step::StartTls(pki.server_config(CertKind::Expired, &[HOST])),
        fx("smtp/exim-4.96-smtps/greeting"),
        Step::Expect("EHLO"),
        fx("smtp/exim-4.96-smtps/ehlo"),
        Step::Expect("QUIT"),
        fx("smtp/exim-4.96-smtps/quit"),
    ]);
    let filtered = filtered_port();
    let ports = [
        format!("{}/smtp", relay.port()),
        format!("{}/submission", submission.port()),
        format!("{}/submissions", submissions.port()),
        format!("{}/smtp", filtered.port),
    ];
    let resolve = format!("{HOST}:127.0.0.1");
    let ca_path = ca.path().display().to_string();
    let mut args = vec![
        "check",
        HOST,
        "--resolve",
        &resolve,
        "--ca-file",
        &ca_path,
        "--timeout",
        "1s",
    ];
    for p in &ports {
        args.extend(["--port", p.as_str()]);
    }
    let run = mailport(&args);
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
    assert!(row(&p_subs.to_string()).contains("EXPIRED"));
    assert!(row(&filtered.port.to_string()).contains("connect_timeout"));
    for code in ["starttls_unavailable", "cert_expired", "connect_timeout"] {
        assert!(out.contains(code), "{code} missing:\n{out}");
    }
    assert!(out.contains("hint: "));
    assert!(out.contains("4 probes: 2 ok, 2 not ok"), "{out}");
}

#[test]
fn verbose_details_fit_80_columns_and_show_the_dialog() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(vec![
        fx("smtp/exim-4.96/greeting"),
        Step::Expect("EHLO"),
        fx("smtp/exim-4.96/ehlo"),
        Step::Expect("STARTTLS"),
        fx("smtp/exim-4.96/starttls"),
        Step::StartTls(pki.server_config(CertKind::Good, &[HOST])),
        Step::Expect("EHLO"),
        fx("smtp/exim-4.96/ehlo_tls"),
        Step::Expect("QUIT"),
        fx("smtp/exim-4.96/quit"),
    ]);
    let resolve = format!("{HOST}:127.0.0.1");
    let port = format!("{}/smtp", server.port());
    let ca_path = ca.path().display().to_string();
    let run = mailport(&[
        "check",
        HOST,
        "--resolve",
        &resolve,
        "--port",
        &port,
        "--ca-file",
        &ca_path,
        "-v",
    ]);
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
    let run = mailport(&[
        "check",
        "mail.example.test",
        "--resolve",
        "mail.example.test:::1",
        "--resolve",
        "mail.example.test:127.0.0.1",
        "--timeout",
        "1s",
        "-s",
        "smtp",
    ]);
    for line in run.stdout.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
    assert!(run.stdout.contains("::1"));
}

fn refused_check(color: &str, no_color: bool) -> String {
    let port = format!("{}/smtp", crate::support::ports::closed_port());
    let mut cmd = assert_cmd::Command::cargo_bin("mailport").unwrap();
    cmd.args(["check", "127.0.0.1", "--port", &port, "--color", color]);
    if no_color {
        cmd.env("NO_COLOR", "1");
    } else {
        cmd.env_remove("NO_COLOR");
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn colour_only_when_asked_or_on_a_terminal_and_never_with_no_color() {
    assert!(refused_check("always", false).contains("\x1b[31m"));
    assert!(!refused_check("always", true).contains('\x1b'));
    // Not a terminal: auto means no colour.
    assert!(!refused_check("auto", false).contains('\x1b'));
    assert!(!refused_check("never", false).contains('\x1b'));
}

#[test]
fn a_closed_stdout_pipe_is_not_an_error() {
    // Like `mailport check … --json | head -0`: the reader is gone before we write.
    let port = format!("{}/smtp", crate::support::ports::closed_port());
    for format in ["--json", "--verbose"] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mailport"))
            .args(["check", "127.0.0.1", "--port", &port, format])
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("error"), "{format}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{format}: {stderr}");
    }
}

#[test]
fn an_international_name_is_checked_in_ascii_and_shown_in_both_forms() {
    let port = format!("{}/smtp", crate::support::ports::closed_port());
    let args = |json: bool| {
        let mut a = vec![
            "check".to_string(),
            "bücher.example".into(),
            "--resolve".into(),
            "bücher.example:127.0.0.1".into(),
            "--port".into(),
            port.clone(),
        ];
        if json {
            a.push("--json".into());
        }
        a
    };
    let text_args = args(false);
    let run = mailport(&text_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        run.stdout
            .contains("xn--bcher-kva.example (bücher.example)"),
        "{}",
        run.stdout
    );
    let json_args = args(true);
    let run = mailport(&json_args.iter().map(String::as_str).collect::<Vec<_>>());
    let t = &run.json()["targets"][0];
    assert_eq!(t["host"], "xn--bcher-kva.example");
    assert_eq!(t["host_unicode"], "bücher.example");
    assert_eq!(run.code, 1);
}
