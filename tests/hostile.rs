//! Servers that send too much, too slowly or garbage: every probe ends with a
//! clear outcome, within its timeout, in bounded memory.

use crate::support::server::{FakeServer, Step};
use crate::support::{check, mailport_with_rss, Run};
use std::time::Duration;

/// What a server sends may cost mailport at most this much memory over a
/// plain refused probe (both measured the same way, in the same run).
const RSS_MARGIN_KIB: i64 = 4 * 1024;

/// Peak RSS of a probe of a closed port: the baseline.
fn baseline_rss_kib() -> i64 {
    let port = format!("{}/smtp", crate::support::ports::closed_port());
    let (_, rss) = mailport_with_rss(&["check", "127.0.0.1", "--port", &port, "--json"]);
    rss
}

/// Run a check like `support::check` and measure its peak memory.
fn hostile_check(port: u16, service: &str, extra: &[&str]) -> (Run, i64) {
    let spec = format!("{port}/{service}");
    let resolve = format!("{}:127.0.0.1", crate::support::HOST);
    let mut args = vec![
        "check",
        crate::support::HOST,
        "--resolve",
        &resolve,
        "--port",
        &spec,
        "--json",
        "--timeout",
        "2s",
        "--greeting-timeout",
        "2s",
        "--reply-timeout",
        "2s",
    ];
    args.extend_from_slice(extra);
    mailport_with_rss(&args)
}

fn assert_bounded((run, rss): (Run, i64), outcome: &str, detail: &str, max_ms: u64) {
    let p = run.probe();
    assert_eq!(p["outcome"], outcome, "{p:#}");
    let words = p["detail"].as_str().unwrap_or("");
    assert!(words.contains(detail), "{words}");
    let ms = p["total_ms"].as_u64().unwrap();
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
    let run = hostile_check(server.port(), "smtp", &[]);
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
    let run = hostile_check(server.port(), "smtp", &[]);
    drop(server);
    assert_bounded(run, "bad_reply", "longer than 4096 bytes", 2000);
}

#[test]
fn a_thousand_continuation_lines_are_a_bad_reply() {
    let mut greeting = "220-mail.example.test\r\n".repeat(1000);
    greeting.push_str("220 ready\r\n");
    let server = FakeServer::smtp(vec![Step::send(&greeting), Step::ExpectClose]);
    let run = hostile_check(server.port(), "smtp", &[]);
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
    let run = hostile_check(server.port(), "submission", &[]);
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
    ]);
    let run = hostile_check(
        server.port(),
        "smtp",
        &["--greeting-timeout", "1s", "--reply-timeout", "500ms"],
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
    let run = check(server.port(), "smtp", None, &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "rejected");
    let greeting = p["greeting"].as_str().unwrap();
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
    let pki = crate::support::certs::TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(vec![
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250 STARTTLS\r\n"),
        Step::Expect("STARTTLS"),
        // An injected reply in the same segment as the 220 (CVE-2011-0411 style).
        Step::send("220 ready\r\n250 injected\r\n"),
        Step::StartTls(pki.server_config(
            crate::support::certs::CertKind::Good,
            &[crate::support::HOST],
        )),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250 AUTH PLAIN\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 bye\r\n"),
    ]);
    let run = check(server.port(), "submission", Some(ca.path()), &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert!(
        p["notes"][0].as_str().unwrap().contains("discarded"),
        "{p:#}"
    );
    assert_eq!(p["auth_tls"][0], "PLAIN");
}

fn implicit_tls_server(tls: std::sync::Arc<rustls::ServerConfig>) -> FakeServer {
    FakeServer::smtp(vec![
        Step::StartTls(tls),
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO"),
        Step::send("250 mail.example.test\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 bye\r\n"),
    ])
}

#[test]
fn a_chain_of_fifty_certificates_is_reported_in_part_and_says_so() {
    let pki = crate::support::certs::TestPki::new();
    let ca = pki.ca_file();
    let server = implicit_tls_server(pki.long_chain_config(&[crate::support::HOST], 49));
    let run = check(server.port(), "submissions", Some(ca.path()), &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(p["tls"]["chain_sent"], 50);
    assert_eq!(p["tls"]["chain"].as_array().unwrap().len(), 16);
}

#[test]
fn a_certificate_with_thousands_of_names_lists_a_hundred() {
    // About 60 KB of SANs: under TLS's 64 KiB handshake message limit.
    let pki = crate::support::certs::TestPki::new();
    let ca = pki.ca_file();
    let server = implicit_tls_server(pki.many_sans_config(&[crate::support::HOST], 2300));
    let run = check(server.port(), "submissions", Some(ca.path()), &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "ok", "{p:#}");
    let sans = p["tls"]["chain"][0]["sans"].as_array().unwrap();
    assert_eq!(sans.len(), 101);
    assert_eq!(sans[100], "(and 2201 more)");
}

#[test]
fn a_100_kb_san_list_ends_the_handshake_with_a_clear_reason() {
    let pki = crate::support::certs::TestPki::new();
    let ca = pki.ca_file();
    let tls = pki.many_sans_config(&[crate::support::HOST], 4000);
    let server = FakeServer::smtp(vec![Step::StartTls(tls)]);
    let run = check(server.port(), "submissions", Some(ca.path()), &[]);
    drop(server);
    let p = run.probe();
    assert_eq!(p["outcome"], "tls_failed", "{p:#}");
    assert_eq!(p["failed_phase"], "tls_handshake");
    assert!(p["detail"].as_str().unwrap().contains("64 KiB"), "{p:#}");
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
    let run = check(server.port(), "submission", None, &[]);
    drop(server);
    let p = run.probe();
    assert_eq!(p["outcome"], "reset", "{p:#}");
    assert_eq!(p["failed_phase"], "capabilities");
}

#[test]
fn a_reset_in_the_middle_of_the_tls_handshake_is_reset() {
    let server = FakeServer::smtp(vec![
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250 STARTTLS\r\n"),
        Step::Expect("STARTTLS"),
        Step::send("220 go ahead\r\n"),
        Step::Pause(Duration::from_millis(200)),
        Step::Reset,
    ]);
    let run = check(server.port(), "submission", None, &[]);
    drop(server);
    let p = run.probe();
    assert_eq!(p["outcome"], "reset", "{p:#}");
    assert_eq!(p["failed_phase"], "tls_handshake");
}

#[test]
fn a_half_close_after_the_greeting_is_closed() {
    let server = FakeServer::smtp(vec![
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Close,
    ]);
    let run = check(server.port(), "smtp", None, &[]);
    drop(server);
    let p = run.probe();
    assert_eq!(p["outcome"], "closed", "{p:#}");
    assert_eq!(p["failed_phase"], "capabilities");
}

#[test]
fn garbage_instead_of_tls_after_starttls_is_tls_failed() {
    let server = FakeServer::smtp(vec![
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250 STARTTLS\r\n"),
        Step::Expect("STARTTLS"),
        Step::send("220 go ahead\r\n"),
        Step::Pause(Duration::from_millis(200)),
        Step::send("this is not TLS at all\r\n"),
        Step::ExpectClose,
    ]);
    let run = check(server.port(), "submission", None, &[]);
    drop(server);
    let p = run.probe();
    assert_eq!(p["outcome"], "tls_failed", "{p:#}");
    assert!(
        p["detail"].as_str().unwrap().contains("accepted STARTTLS"),
        "{p:#}"
    );
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
    let run = check(server.port(), "smtp", None, &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "starttls_unavailable", "{p:#}");
    assert_eq!(p["capabilities_plain"][1], "250 8BITMIME");
    assert!(
        p["notes"][0].as_str().unwrap().contains("nobody asked for"),
        "{p:#}"
    );
}
