//! Webmail probes (80 and 443) against fake servers replaying nginx and
//! Apache recordings (fixtures/http/): one GET /, status line and headers
//! read, the body never.

use crate::support::certs::{CertKind, TestPki};
use crate::support::dialogs::{http_answer, with_alpn, Recorded};
use crate::support::server::{FakeServer, Step};
use crate::support::{check_fake, HOST};
use std::time::Duration;

#[test]
fn nginx_on_80_redirects_to_https() {
    let server = FakeServer::one(Recorded::http("nginx-1.22.1").answer("response_80"));
    let run = check_fake(server.port(), "http", None).run();
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(p.protocol, "http");
    assert_eq!(p.http().status, 301);
    assert_eq!(
        p.http().location.as_deref(),
        Some("https://mail.example.test/")
    );
    assert_eq!(p.http().server.as_deref(), Some("nginx/1.22.1"));
    assert_eq!(p.software.as_deref(), Some("nginx/1.22.1"));
    assert!(p.tls.is_none());
    assert_eq!(p.phase_names(), ["connect", "http_request"]);
    assert!(run.finding_codes().is_empty(), "{:?}", run.finding_codes());
    assert_eq!(run.code, 0);
    // One request, with Host and Connection: close, and nothing more.
    assert_eq!(transcript[0], "GET / HTTP/1.1");
    assert_eq!(transcript[1], "Host: mail.example.test");
    assert!(
        transcript.iter().any(|l| l == "Connection: close"),
        "{transcript:?}"
    );
    assert!(
        transcript[2].starts_with("User-Agent: mailport/"),
        "{transcript:?}"
    );
    assert_eq!(
        transcript.iter().filter(|l| l.starts_with("GET")).count(),
        1
    );
}

#[test]
fn apache_200_on_80_is_a_warning() {
    let server = FakeServer::one(Recorded::http("apache-2.4.71").answer("response_80"));
    let run = check_fake(server.port(), "http", None).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(p.http().status, 200);
    assert_eq!(p.http().server.as_deref(), Some("Apache/2.4.71 (Debian)"));
    assert!(p.http().location.is_none());
    assert_eq!(run.finding_codes(), ["http_no_redirect"]);
    let report = run.report();
    let f = &report.findings[0];
    assert_eq!(f.severity, "warn");
    assert!(f.message.contains("200 OK"), "{f:#?}");
    assert_eq!(run.code, 0);
    let strict = check_fail_on_warn(Recorded::http("apache-2.4.71").reply("response_80"));
    assert_eq!(strict, 1, "--fail-on warn makes the warning fail");
}

fn check_fail_on_warn(response: Step) -> i32 {
    let server = FakeServer::one(http_answer(response));
    let run = check_fake(server.port(), "http", None)
        .args(["--fail-on", "warn"])
        .run();
    server.finish();
    run.code
}

#[test]
fn a_server_that_closes_without_answering_is_closed() {
    let server = FakeServer::one(vec![Step::Expect("GET / HTTP/1.1"), Step::Close]);
    let run = check_fake(server.port(), "http", None).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "closed", "{p:#}");
    assert_eq!(p.failed_phase.as_deref(), Some("http_request"));
    assert!(p.detail().contains("without answering"));
    assert_eq!(run.code, 1);
}

#[test]
fn a_server_that_never_answers_is_reply_timeout() {
    let server = FakeServer::one(vec![Step::Expect("GET / HTTP/1.1"), Step::Hang]);
    let run = check_fake(server.port(), "http", None)
        .reply_timeout("1s")
        .run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "reply_timeout", "{p:#}");
    assert_eq!(p.failed_phase.as_deref(), Some("http_request"));
}

#[test]
fn a_non_http_answer_is_a_protocol_mismatch() {
    let server = FakeServer::one(vec![
        Recorded::smtp("postfix-3.7.11").reply("greeting"),
        Step::ExpectClose,
    ]);
    let run = check_fake(server.port(), "http", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "protocol_mismatch", "{p:#}");
    assert_eq!(p.peer_protocol.as_deref(), Some("smtp"));
    assert_eq!(run.code, 1);
}

#[test]
fn garbage_instead_of_a_status_line_is_a_protocol_mismatch() {
    let server = FakeServer::one(vec![
        Step::Expect("GET / HTTP/1.1"),
        Step::send("hello there\r\n"),
        Step::ExpectClose,
    ]);
    let run = check_fake(server.port(), "http", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "protocol_mismatch", "{p:#}");
    assert_eq!(p.peer_protocol.as_deref(), Some("unknown"));
    assert!(p.detail().contains("hello there"));
}

/// nginx chooses h2: the first connection only records it, the GET goes over
/// a second connection that offers http/1.1 alone.
#[test]
fn nginx_on_443_chooses_h2_and_the_get_goes_over_http11() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let tls = with_alpn(
        pki.server_config(CertKind::Good, &[HOST]),
        &[b"h2", b"http/1.1"],
    );
    let mut second = vec![Step::StartTls(tls.clone())];
    second.extend(Recorded::http("nginx-1.22.1").answer("response_443"));
    let server = FakeServer::start(vec![vec![Step::StartTls(tls), Step::ExpectClose], second]);
    let run = check_fake(server.port(), "https", Some(ca.path())).run();
    let lines = server.lines();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(p.tls().alpn.as_deref(), Some("h2"));
    assert_eq!(p.tls().verdict, "valid");
    assert_eq!(p.http().status, 200);
    assert_eq!(
        p.http().hsts.as_deref(),
        Some("max-age=31536000; includeSubDomains")
    );
    assert_eq!(
        p.phase_names(),
        [
            "connect",
            "tls_handshake",
            "connect",
            "tls_handshake",
            "http_request"
        ]
    );
    assert!(lines.iter().all(|l| l.conn == 1 && l.tls), "{lines:?}");
    assert!(run.finding_codes().is_empty(), "{:?}", run.finding_codes());
    assert_eq!(run.code, 0);
}

#[test]
fn apache_on_443_without_hsts_is_an_info() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let tls = with_alpn(
        pki.server_config(CertKind::Good, &[HOST]),
        &[b"h2", b"http/1.1"],
    );
    let mut second = vec![Step::StartTls(tls.clone())];
    second.extend(Recorded::http("apache-2.4.71").answer("response_443"));
    let server = FakeServer::start(vec![vec![Step::StartTls(tls), Step::ExpectClose], second]);
    let run = check_fake(server.port(), "https", Some(ca.path())).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(p.tls().alpn.as_deref(), Some("h2"));
    assert!(p.http().hsts.is_none());
    assert_eq!(run.finding_codes(), ["hsts_missing"]);
    assert_eq!(run.report().findings[0].severity, "info");
    assert_eq!(run.code, 0);
}

#[test]
fn a_server_choosing_http11_gets_the_get_on_the_same_connection() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let tls = with_alpn(pki.server_config(CertKind::Good, &[HOST]), &[b"http/1.1"]);
    let mut script = vec![Step::StartTls(tls)];
    script.extend(Recorded::http("nginx-1.22.1").answer("response_443"));
    let server = FakeServer::one(script);
    let run = check_fake(server.port(), "https", Some(ca.path())).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(p.tls().alpn.as_deref(), Some("http/1.1"));
    assert_eq!(
        p.phase_names(),
        ["connect", "tls_handshake", "http_request"]
    );
}

#[test]
fn plaintext_http_on_443_is_a_protocol_mismatch() {
    let server = FakeServer::one(vec![
        Step::Pause(Duration::from_millis(200)),
        Step::send("HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nConnection: close\r\n\r\n"),
        Step::ExpectClose,
    ]);
    let run = check_fake(server.port(), "https", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "protocol_mismatch", "{p:#}");
    assert_eq!(p.peer_protocol.as_deref(), Some("http"));
    assert_eq!(p.failed_phase.as_deref(), Some("tls_handshake"));
    assert_eq!(run.code, 1);
}

#[test]
fn an_untrusted_certificate_on_443_is_reported() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let tls = pki.server_config(CertKind::UnknownCa, &[HOST]);
    let mut script = vec![Step::StartTls(tls)];
    script.extend(Recorded::http("nginx-1.22.1").answer("response_443"));
    let server = FakeServer::one(script);
    let run = check_fake(server.port(), "https", Some(ca.path())).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(p.tls().verdict, "untrusted");
    assert_eq!(run.finding_codes(), ["cert_untrusted"]);
    assert_eq!(run.code, 1);
}

#[test]
fn endless_headers_are_bounded() {
    let server = FakeServer::one(vec![
        Step::Expect("GET / HTTP/1.1"),
        Step::send("HTTP/1.1 200 OK\r\n"),
        Step::SendForever(b"X-Filler: abcdefghijklmnopqrstuvwxyz\r\n".to_vec()),
    ]);
    let run = check_fake(server.port(), "http", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "bad_reply", "{p:#}");
    assert!(p.detail().contains("header"));
}

#[test]
fn interim_1xx_answers_are_skipped_for_the_final_one() {
    let server = FakeServer::one(http_answer(Step::send(
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
         HTTP/1.1 301 Moved Permanently\r\nLocation: https://mail.example.test/\r\n\r\n",
    )));
    let run = check_fake(server.port(), "http", None).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.http().status, 301, "{p:#}");
    assert!(run.finding_codes().is_empty(), "{:?}", run.finding_codes());
    assert_eq!(run.code, 0);
}
