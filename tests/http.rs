//! Webmail probes (80 and 443) against fake servers replaying nginx and
//! Apache recordings (fixtures/http/): one GET /, status line and headers
//! read, the body never.

use crate::support::certs::{CertKind, TestPki};
use crate::support::phases;
use crate::support::server::{FakeServer, Step};
use crate::support::{check, HOST};
use std::sync::Arc;
use std::time::Duration;

fn fx(dir: &str, file: &str) -> Step {
    Step::Fixture(Box::leak(format!("http/{dir}/{file}").into_boxed_str()))
}

/// A server config that offers ALPN h2 and http/1.1, like nginx and Apache.
fn with_alpn(cfg: Arc<rustls::ServerConfig>, protocols: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let mut cfg = (*cfg).clone();
    cfg.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
    Arc::new(cfg)
}

/// Answer GET / with a recorded response, then wait for the client to close.
fn answer(response: Step) -> Vec<Step> {
    vec![
        Step::Expect("GET / HTTP/1.1"),
        Step::Expect("Host: mail.example.test"),
        response,
        Step::ExpectClose,
    ]
}

#[test]
fn nginx_on_80_redirects_to_https() {
    let server = FakeServer::one(answer(fx("nginx-1.22.1", "response_80")));
    let run = check(server.port(), "http", None, &[]);
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(p["protocol"], "http");
    assert_eq!(p["http"]["status"], 301);
    assert_eq!(p["http"]["location"], "https://mail.example.test/");
    assert_eq!(p["http"]["server"], "nginx/1.22.1");
    assert_eq!(p["software"], "nginx/1.22.1");
    assert!(p["tls"].is_null());
    assert_eq!(phases(&p), ["connect", "http_request"]);
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
    let server = FakeServer::one(answer(fx("apache-2.4.71", "response_80")));
    let run = check(server.port(), "http", None, &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(p["http"]["status"], 200);
    assert_eq!(p["http"]["server"], "Apache/2.4.71 (Debian)");
    assert!(p["http"]["location"].is_null());
    assert_eq!(run.finding_codes(), ["http_no_redirect"]);
    let f = &run.json()["findings"][0];
    assert_eq!(f["severity"], "warn");
    assert!(f["message"].as_str().unwrap().contains("200 OK"), "{f:#}");
    assert_eq!(run.code, 0);
    let strict = check_fail_on_warn(fx("apache-2.4.71", "response_80"));
    assert_eq!(strict, 1, "--fail-on warn makes the warning fail");
}

fn check_fail_on_warn(response: Step) -> i32 {
    let server = FakeServer::one(answer(response));
    let run = check(server.port(), "http", None, &["--fail-on", "warn"]);
    server.finish();
    run.code
}

#[test]
fn a_server_that_closes_without_answering_is_closed() {
    let server = FakeServer::one(vec![Step::Expect("GET / HTTP/1.1"), Step::Close]);
    let run = check(server.port(), "http", None, &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "closed", "{p:#}");
    assert_eq!(p["failed_phase"], "http_request");
    assert!(p["detail"].as_str().unwrap().contains("without answering"));
    assert_eq!(run.code, 1);
}

#[test]
fn a_server_that_never_answers_is_reply_timeout() {
    let server = FakeServer::one(vec![Step::Expect("GET / HTTP/1.1"), Step::Hang]);
    let run = check(server.port(), "http", None, &["--reply-timeout", "1s"]);
    drop(server);
    let p = run.probe();
    assert_eq!(p["outcome"], "reply_timeout", "{p:#}");
    assert_eq!(p["failed_phase"], "http_request");
}

#[test]
fn a_non_http_answer_is_a_protocol_mismatch() {
    let server = FakeServer::one(vec![
        Step::Fixture("smtp/postfix-3.7.11/greeting"),
        Step::ExpectClose,
    ]);
    let run = check(server.port(), "http", None, &[]);
    drop(server);
    let p = run.probe();
    assert_eq!(p["outcome"], "protocol_mismatch", "{p:#}");
    assert_eq!(p["peer_protocol"], "smtp");
    assert_eq!(run.code, 1);
}

#[test]
fn garbage_instead_of_a_status_line_is_a_protocol_mismatch() {
    let server = FakeServer::one(vec![
        Step::Expect("GET / HTTP/1.1"),
        Step::send("hello there\r\n"),
        Step::ExpectClose,
    ]);
    let run = check(server.port(), "http", None, &[]);
    drop(server);
    let p = run.probe();
    assert_eq!(p["outcome"], "protocol_mismatch", "{p:#}");
    assert_eq!(p["peer_protocol"], "unknown");
    assert!(p["detail"].as_str().unwrap().contains("hello there"));
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
    second.extend(answer(fx("nginx-1.22.1", "response_443")));
    let server = FakeServer::start(vec![vec![Step::StartTls(tls), Step::ExpectClose], second]);
    let run = check(server.port(), "https", Some(ca.path()), &[]);
    let lines = server.lines();
    server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(p["tls"]["alpn"], "h2");
    assert_eq!(p["tls"]["verdict"], "valid");
    assert_eq!(p["http"]["status"], 200);
    assert_eq!(p["http"]["hsts"], "max-age=31536000; includeSubDomains");
    assert_eq!(
        phases(&p),
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
    second.extend(answer(fx("apache-2.4.71", "response_443")));
    let server = FakeServer::start(vec![vec![Step::StartTls(tls), Step::ExpectClose], second]);
    let run = check(server.port(), "https", Some(ca.path()), &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(p["tls"]["alpn"], "h2");
    assert!(p["http"]["hsts"].is_null());
    assert_eq!(run.finding_codes(), ["hsts_missing"]);
    assert_eq!(run.json()["findings"][0]["severity"], "info");
    assert_eq!(run.code, 0);
}

#[test]
fn a_server_choosing_http11_gets_the_get_on_the_same_connection() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let tls = with_alpn(pki.server_config(CertKind::Good, &[HOST]), &[b"http/1.1"]);
    let mut script = vec![Step::StartTls(tls)];
    script.extend(answer(fx("nginx-1.22.1", "response_443")));
    let server = FakeServer::one(script);
    let run = check(server.port(), "https", Some(ca.path()), &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(p["tls"]["alpn"], "http/1.1");
    assert_eq!(phases(&p), ["connect", "tls_handshake", "http_request"]);
}

#[test]
fn plaintext_http_on_443_is_a_protocol_mismatch() {
    let server = FakeServer::one(vec![
        Step::Pause(Duration::from_millis(200)),
        Step::send("HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nConnection: close\r\n\r\n"),
        Step::ExpectClose,
    ]);
    let run = check(server.port(), "https", None, &[]);
    drop(server);
    let p = run.probe();
    assert_eq!(p["outcome"], "protocol_mismatch", "{p:#}");
    assert_eq!(p["peer_protocol"], "http");
    assert_eq!(p["failed_phase"], "tls_handshake");
    assert_eq!(run.code, 1);
}

#[test]
fn an_untrusted_certificate_on_443_is_reported() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let tls = pki.server_config(CertKind::UnknownCa, &[HOST]);
    let mut script = vec![Step::StartTls(tls)];
    script.extend(answer(fx("nginx-1.22.1", "response_443")));
    let server = FakeServer::one(script);
    let run = check(server.port(), "https", Some(ca.path()), &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(p["tls"]["verdict"], "untrusted");
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
    let run = check(server.port(), "http", None, &[]);
    drop(server);
    let p = run.probe();
    assert_eq!(p["outcome"], "bad_reply", "{p:#}");
    assert!(p["detail"].as_str().unwrap().contains("header"));
}

#[test]
fn interim_1xx_answers_are_skipped_for_the_final_one() {
    let server = FakeServer::one(answer(Step::send(
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
         HTTP/1.1 301 Moved Permanently\r\nLocation: https://mail.example.test/\r\n\r\n",
    )));
    let run = check(server.port(), "http", None, &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["http"]["status"], 301, "{p:#}");
    assert!(run.finding_codes().is_empty(), "{:?}", run.finding_codes());
    assert_eq!(run.code, 0);
}
