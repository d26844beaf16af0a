//! `-vv`: each probe's dialogue as it went over the wire, swaks-style
//! (`-> ` sent, `<- ` received, `== ` events), server bytes escaped, bounded.

use crate::support::certs::{CertKind, TestPki};
use crate::support::cmd::Mailport;
use crate::support::dialogs;
use crate::support::server::{FakeServer, Step};
use crate::support::HOST;

#[test]
fn r16_vv_writes_a_starttls_dialogue_down_in_json_and_text() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::start(vec![
        dialogs::smtp_healthy(HOST, pki.server_config(CertKind::Good, &[HOST])),
        dialogs::smtp_healthy(HOST, pki.server_config(CertKind::Good, &[HOST])),
    ]);
    let base = Mailport::check(HOST)
        .loopback()
        .at(server.port(), "smtp")
        .ca(Some(ca.path()))
        .fast_timeouts()
        .arg("-vv");
    let run = base.clone().json().run();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let t = run.probe().transcript;
    let port = server.port();
    let expected = [
        format!("== connected to 127.0.0.1:{port}"),
        format!("<- 220 {HOST} ESMTP Postfix"),
        "-> EHLO ".to_string(),
        format!("<- 250-{HOST}"),
        "<- 250-STARTTLS".to_string(),
        "<- 250 8BITMIME".to_string(),
        "-> STARTTLS".to_string(),
        "<- 220 2.0.0 Ready to start TLS".to_string(),
        format!("== TLS started with {HOST} (TLSv1."),
        "-> EHLO ".to_string(),
        format!("<- 250-{HOST}"),
        "<- 250 AUTH PLAIN LOGIN".to_string(),
        "-> QUIT".to_string(),
        "<- 221 2.0.0 Bye".to_string(),
    ];
    assert_eq!(t.len(), expected.len(), "{t:#?}");
    for (line, start) in t.iter().zip(&expected) {
        assert!(
            line.starts_with(start.as_str()),
            "{line:?} should start with {start:?}\n{t:#?}"
        );
    }
    assert!(t[8].contains("certificate valid"), "{}", t[8]);

    // The same dialogue in the text, after the probe's details.
    let run = base.run();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let text = &run.stdout;
    assert!(
        text.contains("  dialogue:\n    == connected to 127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("\n    -> STARTTLS\n    <- 220 2.0.0 Ready to start TLS\n"),
        "{text}"
    );
    server.finish();
}

#[test]
fn r16_transcript_shows_server_control_bytes_escaped() {
    let script = || {
        vec![
            Step::Send(b"220 evil.example \x1b]0;owned\x07\x1b[2J\xff ESMTP\r\n".to_vec()),
            Step::Expect("EHLO"),
            Step::send("250-evil.example\r\n250 8BITMIME\r\n"),
            Step::Expect("QUIT"),
            Step::send("221 Bye\r\n"),
        ]
    };
    let server = FakeServer::start(vec![script(), script()]);
    let cmd = Mailport::check(HOST)
        .loopback()
        .at(server.port(), "smtp")
        .fast_timeouts()
        .arg("-vv");
    let run = cmd.clone().json().run();
    let t = run.probe().transcript;
    let greeting = t
        .iter()
        .find(|l| l.starts_with("<- 220"))
        .expect("the greeting");
    assert_eq!(
        greeting,
        "<- 220 evil.example \\u{1b}]0;owned\\u{7}\\u{1b}[2J\\xff ESMTP"
    );
    let run = cmd.run();
    assert!(
        run.stdout.contains("<- 220 evil.example \\u{1b}]0;owned"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains('\x1b') && !run.stdout.contains('\x07'),
        "{}",
        run.stdout
    );
    server.finish();
}

#[test]
fn r16_no_transcript_without_vv() {
    let server = FakeServer::smtp(dialogs::smtp_without_starttls());
    let run = Mailport::check(HOST)
        .loopback()
        .at(server.port(), "smtp")
        .fast_timeouts()
        .arg("-v")
        .json()
        .run();
    assert!(run.probe().transcript.is_empty(), "{}", run.stdout);
    assert!(!run.stdout.contains("\"transcript\""), "{}", run.stdout);
    server.finish();
}
