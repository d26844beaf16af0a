//! Servers that send too much, too slowly or garbage: every probe ends with a
//! clear outcome, within its timeout, in bounded memory.

use crate::support::certs::{CertKind, TestPki};
use crate::support::cmd::{Mailport, Run};
use crate::support::dialogs::{self, Proto};
use crate::support::ports::closed_port;
use crate::support::server::{FakeServer, Step};
use crate::support::{check_fake, HOST};
use std::time::Duration;

/// What a server sends may cost mailport at most this much memory over a
/// plain refused probe (both measured the same way, in the same run).
const RSS_MARGIN_KIB: i64 = 4 * 1024;

/// Peak RSS of a probe of a closed port: the baseline.
fn baseline_rss_kib() -> i64 {
    let (_, rss) = Mailport::check("127.0.0.1")
        .at(closed_port(), "smtp")
        .json()
        .run_measuring_rss();
    rss
}

/// A check like `support::check_fake`, its peak memory measured.
fn hostile_check(cmd: Mailport) -> (Run, i64) {
    cmd.run_measuring_rss()
}

fn assert_bounded((run, rss): (Run, i64), outcome: &str, detail: &str, max_ms: u64) {
    let p = run.probe();
    assert_eq!(p.outcome, outcome, "{p:#}");
    let words = p.detail.as_deref().unwrap_or("");
    assert!(words.contains(detail), "{words}");
    let ms = p.total_ms;
    assert!(ms < max_ms, "took {ms} ms");
    let base = baseline_rss_kib();
    assert!(
        rss < base + RSS_MARGIN_KIB,
        "mailport peaked at {rss} KiB against a server that floods it; a refused probe takes {base} KiB"
    );
    assert_eq!(run.code, 1);
}

#[test]
fn an_endless_line_is_a_bad_reply_at_once() {
    let server = FakeServer::smtp(vec![Step::SendForever(
        b"220-aaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
    )]);
    let run = hostile_check(check_fake(server.port(), "smtp", None));
    drop(server);
    assert_bounded(run, "bad_reply", "longer than 4096 bytes", 2000);
}

#[test]
fn a_megabyte_greeting_is_a_bad_reply() {
    let mut greeting = b"220 ".to_vec();
    greeting.extend(std::iter::repeat_n(b'x', 1 << 20));
    greeting.extend_from_slice(b"\r\n");
    // Repeated until mailport goes away: it hangs up after 4 KiB, mid-write.
    let server = FakeServer::smtp(vec![Step::SendForever(greeting)]);
    let run = hostile_check(check_fake(server.port(), "smtp", None));
    drop(server);
    assert_bounded(run, "bad_reply", "longer than 4096 bytes", 2000);
}

#[test]
fn a_thousand_continuation_lines_are_a_bad_reply() {
    let mut greeting = "220-mail.example.test\r\n".repeat(1000);
    greeting.push_str("220 ready\r\n");
    let server = FakeServer::smtp(vec![Step::send(&greeting), Step::ExpectClose]);
    let run = hostile_check(check_fake(server.port(), "smtp", None));
    drop(server);
    assert_bounded(run, "bad_reply", "more than 256 lines", 2000);
}

#[test]
fn a_hundred_thousand_ehlo_lines_end_the_probe() {
    let mut ehlo = "250-X-FILLER\r\n".repeat(100_000);
    ehlo.push_str("250 STARTTLS\r\n");
    // Sent until mailport hangs up: it stops reading at 256 lines, so a
    // plain Send of 1.4 MB would meet the reset of that hang-up.
    let server = FakeServer::smtp(vec![
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO"),
        Step::SendForever(ehlo.into_bytes()),
    ]);
    let run = hostile_check(check_fake(server.port(), "submission", None));
    drop(server);
    assert_bounded(run, "bad_reply", "more than 256 lines", 2000);
}

#[test]
fn a_slowloris_greeting_ends_at_the_greeting_timeout() {
    let server = FakeServer::start(vec![
        vec![Step::Slow {
            bytes: b"220 mail.example.test ESMTP slowly\r\n".to_vec(),
            interval: Duration::from_millis(200),
        }],
        vec![Step::Hang],
        vec![Step::Hang],
    ]);
    let run = hostile_check(
        check_fake(server.port(), "smtp", None)
            .greeting_timeout("1s")
            .reply_timeout("500ms"),
    );
    drop(server);
    assert_bounded(run, "greeting_timeout", "no greeting within 1.0s", 3000);
}

#[test]
fn control_characters_from_a_server_are_shown_escaped() {
    let server = FakeServer::smtp(vec![
        Step::Send(b"554 \x1b[31mred\x00 \xff\r\n".to_vec()),
        Step::Expect("QUIT"),
        Step::send("221 bye\r\n"),
    ]);
    let run = check_fake(server.port(), "smtp", None).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "rejected");
    let greeting = p.greeting.as_deref().unwrap();
    assert!(
        !greeting.contains('\x1b') && !greeting.contains('\0'),
        "{greeting:?}"
    );
    assert!(
        greeting.contains("\\u{1b}[31mred\\u{0} \\xff"),
        "{greeting}"
    );
}

#[test]
fn bytes_sent_after_starttls_220_are_discarded_not_read_as_tls() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(vec![
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250 STARTTLS\r\n"),
        Step::Expect("STARTTLS"),
        // An injected reply in the same segment as the 220 (CVE-2011-0411 style).
        Step::send("220 ready\r\n250 injected\r\n"),
        Step::StartTls(pki.server_config(CertKind::Good, &[HOST])),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250 AUTH PLAIN\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 bye\r\n"),
    ]);
    let run = check_fake(server.port(), "submission", Some(ca.path())).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert!(p.notes[0].contains("discarded"), "{p:#}");
    assert_eq!(p.auth_tls[0], "PLAIN");
}

#[test]
fn a_chain_of_fifty_certificates_is_reported_in_part_and_says_so() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(dialogs::smtp_implicit(pki.long_chain_config(&[HOST], 49)));
    let run = check_fake(server.port(), "submissions", Some(ca.path())).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(p.tls().chain_sent, Some(50));
    assert_eq!(p.tls().chain.len(), 16);
}

#[test]
fn a_certificate_with_thousands_of_names_lists_a_hundred() {
    // About 60 KB of SANs: under TLS's 64 KiB handshake message limit.
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(dialogs::smtp_implicit(pki.many_sans_config(&[HOST], 2300)));
    let run = check_fake(server.port(), "submissions", Some(ca.path())).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    let sans = &p.tls().chain[0].sans;
    assert_eq!(sans.len(), 101);
    assert_eq!(sans[100], "(and 2201 more)");
}

#[test]
fn a_100_kb_san_list_ends_the_handshake_with_a_clear_reason() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let tls = pki.many_sans_config(&[HOST], 4000);
    let server = FakeServer::smtp(vec![Step::StartTls(tls)]);
    let run = check_fake(server.port(), "submissions", Some(ca.path())).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "tls_failed", "{p:#}");
    assert_eq!(p.failed_phase.as_deref(), Some("tls_handshake"));
    assert!(p.detail().contains("64 KiB"), "{p:#}");
}

#[test]
fn a_reset_in_the_middle_of_a_reply_is_reset() {
    let server = FakeServer::smtp(vec![
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250-PIPEL"),
        Step::Pause(Duration::from_millis(100)),
        Step::Reset,
    ]);
    let run = check_fake(server.port(), "submission", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "reset", "{p:#}");
    assert_eq!(p.failed_phase.as_deref(), Some("capabilities"));
}

#[test]
fn a_reset_in_the_middle_of_the_tls_handshake_is_reset() {
    let mut script = dialogs::until_starttls_accepted(Proto::Smtp);
    script.extend([Step::Pause(Duration::from_millis(200)), Step::Reset]);
    // A bare reset is how some servers of only TLS 1.0/1.1 end rustls's
    // handshake: mailport asks once more, through the dialog, with a
    // ClientHello of its own (tests/old_tls.rs). Reset again, it stays reset.
    let server = FakeServer::start(vec![script.clone(), script]);
    let run = check_fake(server.port(), "submission", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "reset", "{p:#}");
    assert_eq!(p.failed_phase.as_deref(), Some("tls_handshake"));
    assert!(p.detail().contains("was reset too"), "{p:#}");
    assert_eq!(p.tls_versions.as_ref().unwrap().answer, "reset", "{p:#}");
}

#[test]
fn a_half_close_after_the_greeting_is_closed() {
    let server = FakeServer::smtp(vec![
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Close,
    ]);
    let run = check_fake(server.port(), "smtp", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "closed", "{p:#}");
    assert_eq!(p.failed_phase.as_deref(), Some("capabilities"));
}

#[test]
fn garbage_instead_of_tls_after_starttls_is_tls_failed() {
    let mut script = dialogs::until_starttls_accepted(Proto::Smtp);
    script.extend([
        Step::Pause(Duration::from_millis(200)),
        Step::send("this is not TLS at all\r\n"),
        Step::ExpectClose,
    ]);
    let server = FakeServer::smtp(script);
    let run = check_fake(server.port(), "submission", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "tls_failed", "{p:#}");
    assert!(p.detail().contains("accepted STARTTLS"), "{p:#}");
}

#[test]
fn a_server_that_talks_before_it_is_asked_is_noted_and_ignored() {
    let server = FakeServer::smtp(vec![
        Step::send("220 mail.example.test ESMTP\r\n250 unsolicited\r\n"),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250 8BITMIME\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 bye\r\n"),
    ]);
    let run = check_fake(server.port(), "smtp", None).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "starttls_unavailable", "{p:#}");
    assert_eq!(p.capabilities_plain[1], "250 8BITMIME");
    assert!(p.notes[0].contains("nobody asked for"), "{p:#}");
}
