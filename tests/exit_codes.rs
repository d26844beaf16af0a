//! Exit status, like grep and diff: 0 nothing failed (at the --fail-on
//! level), 1 something failed, 2 mailport could not do its job. Also the
//! shape of usage errors, `explain`, and `check --help`.

use std::io::Write;

use clap::CommandFactory;

use crate::support::certs::{CertKind, TestPki};
use crate::support::cmd::{Mailport, Run};
use crate::support::dialogs;
use crate::support::ports::closed_port;
use crate::support::server::FakeServer;
use crate::support::HOST;

/// What no error output may ever contain.
const NEVER_ON_STDERR: &[&str] = &[
    "panicked",
    "RUST_BACKTRACE",
    "stack backtrace",
    "Error {",
    "Custom {",
    "Os {",
    "kind:",
];

fn resolve_arg() -> String {
    format!("{HOST}:127.0.0.1")
}

/// Run mailport, assert the status, and return (stdout, stderr).
#[track_caller]
fn run(args: &[&str], expected: i32) -> (String, String) {
    let run = assert_status(Mailport::new().args(args), expected);
    (run.stdout, run.stderr)
}

/// Run `cmd`, assert its status and that stderr holds nothing of a crash.
#[track_caller]
fn assert_status(cmd: Mailport, expected: i32) -> Run {
    let args = cmd.argv();
    let run = cmd.run();
    let (stdout, stderr) = (&run.stdout, &run.stderr);
    assert_eq!(
        run.code, expected,
        "exit status of mailport {args:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    for bad in NEVER_ON_STDERR {
        assert!(
            !stderr.contains(bad),
            "mailport {args:?}: stderr contains {bad:?}:\n{stderr}"
        );
    }
    run
}

// ---- 0 and 1 ------------------------------------------------------------

#[test]
fn healthy_server_exits_0() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(dialogs::smtp_healthy(
        HOST,
        pki.server_config(CertKind::Good, &[HOST]),
    ));
    let cmd = Mailport::check(HOST)
        .loopback()
        .at(server.port(), "smtp")
        .ca(Some(ca.path()))
        .fast_timeouts();
    let Run { stdout, stderr, .. } = assert_status(cmd, 0);
    assert!(
        stderr.is_empty(),
        "nothing on stderr when not a terminal:\n{stderr}"
    );
    assert!(stdout.contains(HOST), "{stdout}");
    server.finish();
}

#[test]
fn failed_probe_exits_1() {
    let port = format!("{}/smtp", closed_port());
    let resolve = resolve_arg();
    let (stdout, stderr) = run(
        &[
            "check",
            HOST,
            "--resolve",
            &resolve,
            "--port",
            &port,
            "--timeout",
            "1s",
        ],
        1,
    );
    assert!(stdout.contains("refused"), "{stdout}");
    assert!(
        stderr.is_empty(),
        "a failed probe is a result, not an error:\n{stderr}"
    );
}

#[test]
fn unresolvable_host_exits_1_not_2() {
    // The target failing is a finding (exit 1); mailport itself did its job.
    let (stdout, _) = run(&["check", "nonexistent.invalid", "--timeout", "1s"], 1);
    assert!(stdout.contains("dns_failed"), "{stdout}");
}

#[test]
fn warning_exits_0_by_default_and_1_with_fail_on_warn() {
    // Port 25 (spoken on a custom port) without STARTTLS: a warning only.
    let server = FakeServer::start(vec![
        dialogs::smtp_without_starttls(),
        dialogs::smtp_without_starttls(),
    ]);
    let base = Mailport::check(HOST)
        .loopback()
        .at(server.port(), "smtp")
        .fast_timeouts()
        .json();

    let run = assert_status(base.clone(), 0);
    let report = run.report();
    let findings = &report.findings;
    assert_eq!(findings.len(), 1, "{}", run.stdout);
    assert_eq!(findings[0].code, "starttls_not_offered_relay");
    assert_eq!(findings[0].severity, "warn");
    assert_eq!(report.summary.exit_code, 0);
    assert_eq!(report.summary.fail_on, "fail");

    let run = assert_status(base.args(["--fail-on", "warn"]), 1);
    let report = run.report();
    assert_eq!(report.summary.exit_code, 1);
    assert_eq!(report.summary.fail_on, "warn");

    let transcript = server.finish();
    assert_eq!(
        transcript.len(),
        4,
        "EHLO and QUIT twice, no STARTTLS: {transcript:?}"
    );
}

// ---- 2: mailport could not do its job ----------------------------------

/// Who reports a bad input: mailport itself (one line, `mailport: error: ...`)
/// or clap, while parsing the command line (`error: ...`, then usage).
#[derive(Debug, Clone, Copy)]
enum By {
    Mailport,
    Clap,
    /// clap's answer to a missing subcommand: the help, on stderr.
    ClapHelp,
}

/// Assert a usage error: status 2, nothing on stdout, and a clear message
/// that contains `needle`.
#[track_caller]
fn assert_usage_error(args: &[&str], by: By, needle: &str) {
    let (stdout, stderr) = run(args, 2);
    assert!(stdout.is_empty(), "mailport {args:?}: stdout:\n{stdout}");
    match by {
        By::Mailport => {
            assert!(
                stderr.starts_with("mailport: error: "),
                "mailport {args:?}: stderr must start with 'mailport: error: ':\n{stderr}"
            );
            assert_eq!(
                stderr.lines().count(),
                1,
                "mailport {args:?}: one line on stderr:\n{stderr}"
            );
            assert!(stderr.ends_with('\n'));
        }
        By::ClapHelp => {
            assert!(
                stderr.contains("Usage: mailport"),
                "mailport {args:?}: usage on stderr:\n{stderr}"
            );
        }
        By::Clap => {
            assert!(
                stderr.starts_with("error: "),
                "mailport {args:?}: clap's usage error:\n{stderr}"
            );
            assert!(
                stderr.contains("--help"),
                "mailport {args:?}: points at --help:\n{stderr}"
            );
        }
    }
    assert!(
        stderr.contains(needle),
        "mailport {args:?}: stderr should contain {needle:?}:\n{stderr}"
    );
}

#[test]
fn bad_input_exits_2_with_one_clear_line() {
    let long_label = format!("{}.example.org", "a".repeat(300));
    let label_64 = format!("{}.example.org", "b".repeat(64));
    let missing_ca = std::env::temp_dir().join("mailport-test-no-such-dir/ca.pem");
    let missing_ca = missing_ca.display().to_string();
    let mut empty_ca = tempfile::NamedTempFile::new().expect("temp file");
    empty_ca
        .write_all(b"this is not a certificate\n")
        .expect("write temp file");
    let empty_ca = empty_ca.into_temp_path();
    let empty_ca_path = empty_ca.display().to_string();
    let closed = format!("{}/smtp", closed_port());
    let resolve = resolve_arg();
    let mut empty_hosts = tempfile::NamedTempFile::new().expect("temp file");
    empty_hosts
        .write_all(b"# only a comment\n\n")
        .expect("write temp file");
    let empty_hosts = empty_hosts.into_temp_path();
    let empty_hosts_path = empty_hosts.display().to_string();
    let missing_hosts = std::env::temp_dir()
        .join("mailport-test-no-such-dir/hosts.txt")
        .display()
        .to_string();

    // Valid except for the one thing under test; nothing here may reach the
    // network (a mistaken success would only meet a closed loopback port).
    let ok_host = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "check",
            HOST,
            "--resolve",
            resolve.as_str(),
            "--timeout",
            "1s",
        ]
        .map(String::from)
        .to_vec();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let host_only = |host: &str| -> Vec<String> {
        ["check", host, "--port", closed.as_str(), "--timeout", "1s"]
            .map(String::from)
            .to_vec()
    };
    let with = |mut v: Vec<String>, extra: &[&str]| -> Vec<String> {
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };

    let cases: Vec<(&str, Vec<String>, By, &str)> = vec![
        (
            "space in the host name",
            host_only("exa mple.org"),
            By::Mailport,
            "'exa mple.org' is not a valid host name",
        ),
        (
            "a URL as the host",
            host_only("https://mail.example.org/webmail"),
            By::Mailport,
            "mailport check mail.example.org",
        ),
        ("empty host", host_only(""), By::Mailport, "empty"),
        (
            "an IPv6 literal with -4",
            vec!["check".into(), "::1".into(), "-4".into()],
            By::Mailport,
            "is an IPv6 address, but -4",
        ),
        (
            "300-character label",
            host_only(&long_label),
            By::Mailport,
            "is not a valid host name",
        ),
        (
            "64-character label",
            host_only(&label_64),
            By::Mailport,
            "at most 63",
        ),
        (
            "email address as the host",
            host_only("postmaster@example.org"),
            By::Mailport,
            "email address",
        ),
        (
            "host with a port that is no standard one",
            vec!["check".into(), "mail.example.org:2525".into()],
            By::Mailport,
            "-s smtp",
        ),
        (
            "unknown service",
            ok_host(&["--service", "gopher"]),
            By::Mailport,
            "unknown service 'gopher'",
        ),
        (
            "port out of range",
            ok_host(&["--port", "70000/smtp"]),
            By::Mailport,
            "out of range",
        ),
        (
            "port spec without a service",
            ok_host(&["--port", "2525"]),
            By::Mailport,
            "PORT/NAME",
        ),
        (
            "missing --hosts-file",
            vec![
                "check".into(),
                "--hosts-file".into(),
                missing_hosts.clone(),
                "--port".into(),
                closed.clone(),
            ],
            By::Mailport,
            "cannot read --hosts-file",
        ),
        (
            "a --hosts-file without a host",
            vec![
                "check".into(),
                "--hosts-file".into(),
                empty_hosts_path.clone(),
                "--port".into(),
                closed.clone(),
            ],
            By::Mailport,
            "lists no host",
        ),
        (
            "an IPv6 address with a zone",
            host_only("fe80::1%eth0"),
            By::Mailport,
            "zone",
        ),
        (
            "--json and --format text together",
            ok_host(&["--json", "--format", "text"]),
            By::Clap,
            "--format",
        ),
        (
            "missing --ca-file",
            with(ok_host(&["--port"]), &[&closed, "--ca-file", &missing_ca]),
            By::Mailport,
            "cannot read --ca-file",
        ),
        (
            "--ca-file without a certificate",
            with(
                ok_host(&["--port"]),
                &[&closed, "--ca-file", &empty_ca_path],
            ),
            By::Mailport,
            "holds no certificate",
        ),
        (
            "--resolve without an address",
            host_only(HOST)
                .into_iter()
                .chain(["--resolve".into(), HOST.into()])
                .collect(),
            By::Mailport,
            "expected HOST:ADDR",
        ),
        (
            "--resolve with a name for an address",
            host_only(HOST)
                .into_iter()
                .chain(["--resolve".into(), format!("{HOST}:mail.example.net")])
                .collect(),
            By::Mailport,
            "expected HOST:ADDR",
        ),
        (
            "--resolve for a host that is not checked",
            host_only(HOST)
                .into_iter()
                .chain(["--resolve".into(), "other.example.test:127.0.0.1".into()])
                .collect(),
            By::Mailport,
            "not one of the hosts",
        ),
        (
            "bad --ehlo",
            with(ok_host(&["--port"]), &[&closed, "--ehlo", "not a name"]),
            By::Mailport,
            "--ehlo",
        ),
        ("unknown option", ok_host(&["--bogus"]), By::Clap, "--bogus"),
        (
            "duration over a day",
            ok_host(&["--timeout", "25h"]),
            By::Clap,
            "25h",
        ),
        (
            "negative duration",
            ok_host(&["--greeting-timeout=-1s"]),
            By::Clap,
            "-1s",
        ),
        (
            "unknown --fail-on level",
            ok_host(&["--fail-on", "info"]),
            By::Clap,
            "info",
        ),
        (
            "-4 with -6",
            ok_host(&["-4", "-6"]),
            By::Clap,
            "cannot be used with",
        ),
        ("no host", vec!["check".into()], By::Clap, "<HOST>"),
        ("no command", vec![], By::ClapHelp, "check"),
        (
            "unknown command",
            vec!["sendmail".into(), HOST.into()],
            By::Clap,
            "sendmail",
        ),
    ];
    for (what, args, by, needle) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        eprintln!("case: {what}");
        assert_usage_error(&args, *by, needle);
    }
}

#[test]
fn explain_exits_0_for_a_known_code_and_2_for_an_unknown_one() {
    let (stdout, stderr) = run(&["explain", "connect_timeout"], 0);
    assert!(stderr.is_empty(), "{stderr}");
    assert!(stdout.starts_with("connect_timeout"), "{stdout}");
    for title in ["What it means", "Usual causes", "What to do"] {
        assert!(stdout.contains(title), "{title}:\n{stdout}");
    }
    assert!(
        stdout.lines().all(|l| l.chars().count() <= 80),
        "fits 80 columns:\n{stdout}"
    );

    let (stdout, _) = run(&["explain", "connect-timeout", "--json"], 0);
    let explained: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(explained[0]["code"], "connect_timeout");

    let (stdout, _) = run(&["explain"], 0);
    assert!(stdout.contains("starttls_not_offered_relay"), "{stdout}");

    assert_usage_error(&["explain", "nope"], By::Mailport, "unknown code 'nope'");
    // r16: a typo gets the nearest code, still with exit 2.
    assert_usage_error(
        &["explain", "conect-timeout"],
        By::Mailport,
        "unknown code 'conect-timeout'; did you mean `connect_timeout`?",
    );
    let (_, stderr) = run(&["explain", "nope"], 2);
    assert!(!stderr.contains("did you mean"), "{stderr}");
}

#[test]
fn help_and_version_exit_0() {
    let (stdout, _) = run(&["--version"], 0);
    assert_eq!(stdout, format!("mailport {}\n", env!("CARGO_PKG_VERSION")));
    let (stdout, _) = run(&["--help"], 0);
    assert!(
        stdout.contains("check") && stdout.contains("explain"),
        "{stdout}"
    );
}

// ---- --help -------------------------------------------------------------

fn check_help() -> String {
    let output = Mailport::new()
        .args(["check", "--help"])
        // Pin the wrap width: clap reads COLUMNS when stdout is not a terminal.
        .env("COLUMNS", "100")
        .run();
    assert_eq!(output.code, 0);
    assert!(output.stderr.is_empty());
    String::from_utf8(output.stdout_bytes).expect("UTF-8")
}

#[test]
fn check_help_snapshot() {
    insta::assert_snapshot!("check_help", check_help());
}

#[test]
fn check_help_states_every_default_and_has_examples() {
    let help = check_help();
    // Wrapping may break a line anywhere a space is: compare with spaces collapsed.
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for default in [
        "[default: all but imap4-ssl]",
        "[default: 5s]",
        "[default: 15s]",
        "[default: 10s]",
        "[default: 60s]",
        "[default: the HOST as given]",
        "[default: this machine's host name",
        "[default: fail]",
        "[default: text]",
        "[default: auto]",
    ] {
        assert!(
            flat.contains(default),
            "check --help lacks {default:?}:\n{help}"
        );
    }
    // And every default clap knows of is shown, whatever is added later.
    let cli = mailport::cli::Cli::command();
    let check = cli.find_subcommand("check").expect("check subcommand");
    for arg in check.get_arguments() {
        let values: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if values.is_empty() {
            continue;
        }
        let shown = format!("[default: {}]", values.join(", "));
        assert!(
            flat.contains(&shown),
            "--{}: check --help lacks {shown:?}",
            arg.get_id()
        );
    }
    assert!(help.contains("Examples:"), "{help}");
    assert!(flat.contains("mailport check mail.example.org"), "{help}");
    assert!(flat.contains("Exit status: 0"), "{help}");
    // The short help stays short.
    let (short, _) = run(&["check", "-h"], 0);
    assert!(short.lines().count() < help.lines().count());
}

#[test]
fn hosts_come_from_a_file_too_and_ipv6_works_with_and_without_brackets() {
    let closed = format!("{}/smtp", closed_port());
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(b"# loopback twice\n127.0.0.1\n\n  [::1]  \n")
        .expect("write temp file");
    let out = Mailport::check("::1")
        .arg("--hosts-file")
        .arg(file.path())
        .port(closed)
        .json()
        .run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = out.report();
    let hosts: Vec<&str> = report.targets.iter().map(|t| t.host.as_str()).collect();
    // "::1" given twice (bare and bracketed) is one target.
    assert_eq!(hosts, ["::1", "127.0.0.1"]);
}
