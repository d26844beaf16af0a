//! r14: hostile input that is not a mail server's: a DNS answer holding
//! terminal control sequences, control characters in arguments, a device as
//! a file. The text output holds no byte below 0x20 but newline, the JSON no
//! such character, and nothing is quoted back raw.

use crate::support::cmd::{Mailport, Run};
use crate::support::dns::DnsServer;

/// No byte below 0x20 other than newline (NO_COLOR is set: mailport writes
/// no colour codes), and no DEL.
#[track_caller]
fn assert_clean_text(what: &str, bytes: &[u8]) {
    if let Some(b) = bytes
        .iter()
        .find(|&&b| (b < 0x20 && b != b'\n') || b == 0x7f)
    {
        panic!(
            "{what} holds the raw byte {b:#04x}: {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

/// No string in the JSON holds a control character.
#[track_caller]
fn assert_clean_json(v: &serde_json::Value, path: &str) {
    match v {
        serde_json::Value::String(s) => assert!(
            !s.chars().any(char::is_control),
            "raw control character in {path}: {s:?}"
        ),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| assert_clean_json(v, &format!("{path}[{i}]"))),
        serde_json::Value::Object(o) => o
            .iter()
            .for_each(|(k, v)| assert_clean_json(v, &format!("{path}.{k}"))),
        _ => {}
    }
}

#[track_caller]
fn assert_clean_run(what: &str, run: &Run) {
    assert_clean_text(&format!("{what}: stdout"), &run.stdout_bytes);
    assert_clean_text(&format!("{what}: stderr"), run.stderr.as_bytes());
}

/// A PTR name holding `ESC ] 0 ; … BEL` and `ESC [ 2 J` from the in-process
/// DNS server: shown escaped in text and JSON, in the name and in every
/// message about it (the forward lookup of that name, its error words).
#[test]
fn r14_a_ptr_name_with_terminal_controls_is_shown_escaped() {
    let dns = DnsServer::start();
    let ptr = |json: bool| {
        let mut cmd = Mailport::ptr(&["192.0.2.66"]).args([
            "--dns-server",
            &dns.arg(),
            "--dns-timeout",
            "2s",
        ]);
        if json {
            cmd = cmd.arg("--json");
        }
        cmd.run()
    };
    let text = ptr(false);
    assert_clean_run("ptr (text)", &text);
    assert!(text.stdout.contains("evil"), "{}", text.stdout);
    assert!(text.stdout.contains("title"), "{}", text.stdout);

    let json = ptr(true);
    assert_clean_run("ptr --json", &json);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_clean_json(&v, "$");
    let name = v["targets"][0]["dns"]["reverse"][0]["names"][0]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("a PTR name in {v:#}"));
    assert!(name.starts_with("evil") && name.contains("title"), "{name}");
    assert!(
        name.contains('\\'),
        "the controls are visible escapes: {name}"
    );
    assert_eq!(json.code, text.code);

    // An MX of that name: the name and the error words about it (the DNS
    // library's "is not a DNS name: Malformed label: …") stay escaped.
    for format in ["text", "json"] {
        let run = Mailport::check("hostile.example.test")
            .args(["--mx", "--dns-server", &dns.arg(), "--dns-timeout", "2s"])
            .args(["--service", "smtp", "--timeout", "1s", "--format", format])
            .run();
        assert_clean_run(&format!("check --mx ({format})"), &run);
        assert!(run.stdout.contains("evil"), "{}", run.stdout);
        if format == "json" {
            let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
            assert_clean_json(&v, "$");
        }
    }
}

/// Control characters (ESC, CR, LF, BEL) in each argument that is quoted
/// back: the error is one line, escaped, exit 2, and nothing is sent.
#[test]
fn r14_control_characters_in_arguments_are_quoted_escaped() {
    let evil = "x\x1b]0;owned\x07\x1b[2J\r\nMAIL FROM:<a@b>";
    let cases: Vec<(&str, Mailport)> = vec![
        ("host", Mailport::check(evil)),
        (
            "--tls-name",
            Mailport::check("127.0.0.1").args(["--tls-name", evil]),
        ),
        (
            "--ehlo",
            Mailport::check("127.0.0.1").args(["--ehlo", evil]),
        ),
        ("explain", Mailport::new().args(["explain", evil])),
        (
            "--service",
            Mailport::check("127.0.0.1").args(["--service", evil]),
        ),
    ];
    for (what, cmd) in cases {
        let run = cmd.run();
        assert_eq!(run.code, 2, "{what}: {}", run.stderr);
        assert_clean_run(what, &run);
        let error = run.stderr.trim_end();
        assert!(
            !error.contains('\n'),
            "{what}: the error spans lines: {error}"
        );
        assert!(error.contains("\\u{1b}"), "{what}: {error}");
    }

    // A hosts-file line: reported with its number, escaped, and skipped.
    let run = Mailport::new()
        .arg("check")
        .args(["--service", "smtp", "--timeout", "1s", "--format", "jsonl"])
        .hosts_on_stdin(format!("{evil}\n"))
        .run();
    assert_clean_run("--hosts-file line", &run);
    assert!(run.stderr.contains("line 1"), "{}", run.stderr);
    assert!(run.stderr.contains("\\u{1b}"), "{}", run.stderr);
}

/// `--ca-file /dev/zero` and `--hosts-file /dev/urandom`: refused at once as
/// not regular files (before, /dev/zero was read at about 1 GB/s until killed).
#[test]
fn r14_a_device_as_a_file_is_refused_at_once() {
    for (option, path) in [("--ca-file", "/dev/zero"), ("--hosts-file", "/dev/urandom")] {
        let start = std::time::Instant::now();
        let run = Mailport::check("127.0.0.1").args([option, path]).run();
        assert_eq!(run.code, 2, "{option}: {}", run.stderr);
        assert!(
            run.stderr.contains("not a regular file"),
            "{option}: {}",
            run.stderr
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        assert_clean_run(option, &run);
    }
}

/// A certificate at every edge at once (a negative serial, a subject that is
/// not UTF-8 with ESC in it and a 40,000-byte OU, an otherName SAN): its
/// facts are shown escaped and cut, in `-v` text and in JSON, and the
/// negative serial is its own finding.
#[test]
fn r14_a_certificate_at_every_edge_is_shown_escaped_and_cut() {
    use crate::support::certs::TestPki;
    use crate::support::dialogs::Recorded;
    use crate::support::server::FakeServer;
    use crate::support::HOST;

    let pki = TestPki::new();
    let ca = pki.ca_file();
    let serve = || {
        FakeServer::smtp(
            Recorded::smtp("postfix-3.7.11-smtps").implicit(pki.odd_leaf_config(&[HOST])),
        )
    };
    let check = |port: u16| {
        Mailport::check(HOST)
            .loopback()
            .at(port, "submissions")
            .ca(Some(ca.path()))
            .fast_timeouts()
    };

    let server = serve();
    let run = check(server.port()).json().run();
    server.finish();
    assert_clean_run("check --json", &run);
    let v = run.json();
    assert_clean_json(&v, "$");
    let probe = run.probe();
    assert_eq!(probe.outcome, "ok", "{probe:#}");
    let leaf = &probe.tls().chain[0];
    assert!(leaf.serial_negative, "{leaf:#?}");
    assert!(leaf.subject.contains("\\xff\\xfe"), "{}", leaf.subject);
    assert!(leaf.subject.contains("\\u{1b}[2J"), "{}", leaf.subject);
    assert!(!leaf.subject.contains("X509Error"), "{}", leaf.subject);
    assert!(
        leaf.subject.ends_with('…'),
        "cut: {} bytes",
        leaf.subject.len()
    );
    assert!(
        leaf.subject.len() < 1_000,
        "cut: {} bytes",
        leaf.subject.len()
    );
    assert!(
        leaf.sans
            .iter()
            .any(|s| s == "othername:1.3.6.1.4.1.311.20.2.3:<unsupported>"),
        "{:?}",
        leaf.sans
    );
    assert!(
        run.finding_codes()
            .contains(&"cert_serial_negative".to_string()),
        "{:?}",
        run.finding_codes()
    );

    let server = serve();
    let run = check(server.port()).arg("-v").run();
    server.finish();
    assert_clean_run("check -v", &run);
    assert!(run.stdout.contains("\\xff\\xfe"), "{}", run.stdout);
    assert!(
        run.stdout.lines().all(|l| l.chars().count() < 1_000),
        "a line of the 40,000-byte subject: {}",
        run.stdout.len()
    );
}
