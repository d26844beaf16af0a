//! POP3 probes (110 with STLS, 995 with implicit TLS) against fake servers
//! replaying Dovecot, Courier and Cyrus recordings (fixtures/pop3/). Every
//! fake server also checks the safety rules when it is dropped: no USER,
//! PASS or AUTH, nothing but QUIT after a refused STLS.

use crate::support::certs::{CertKind, TestPki};
use crate::support::server::{FakeServer, Step};
use crate::support::{check, HOST};
use crate::support::{phases, strings};
use serde_json::Value;
use std::sync::Arc;

fn fx(dir: &str, file: &str) -> Step {
    Step::Fixture(Box::leak(format!("pop3/{dir}/{file}").into_boxed_str()))
}

fn stls_dialog(dir: &str, tls: Arc<rustls::ServerConfig>) -> Vec<Step> {
    vec![
        fx(dir, "greeting"),
        Step::Expect("CAPA"),
        fx(dir, "capa"),
        Step::Expect("STLS"),
        fx(dir, "stls"),
        Step::StartTls(tls),
        Step::Expect("CAPA"),
        fx(dir, "capa_tls"),
        Step::Expect("QUIT"),
        fx(dir, "quit"),
    ]
}

fn implicit_dialog(dir: &str, tls: Arc<rustls::ServerConfig>) -> Vec<Step> {
    vec![
        Step::StartTls(tls),
        fx(dir, "greeting"),
        Step::Expect("CAPA"),
        fx(dir, "capa"),
        Step::Expect("QUIT"),
        fx(dir, "quit"),
    ]
}

fn on_110(dir: &str) -> (Value, Vec<String>, i32, Vec<String>) {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::one(stls_dialog(dir, pki.server_config(CertKind::Good, &[HOST])));
    let run = check(server.port(), "pop3", Some(ca.path()), &[]);
    let transcript = server.finish();
    (run.probe(), run.finding_codes(), run.code, transcript)
}

#[test]
fn dovecot_on_110_with_stls_is_ok_and_user_waits_for_tls() {
    let (p, findings, code, transcript) = on_110("dovecot-2.3.19.1");
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(code, 0);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(p["protocol"], "pop3");
    assert_eq!(p["software"], "Dovecot");
    assert_eq!(p["starttls_offered"], true);
    assert_eq!(p["login_plain"], false);
    assert_eq!(p["login_tls"], true);
    assert!(strings(&p["auth_plain"]).is_empty());
    assert_eq!(strings(&p["auth_tls"]), ["PLAIN", "LOGIN"]);
    assert!(strings(&p["capabilities_plain"]).contains(&"STLS".to_string()));
    assert!(strings(&p["capabilities_tls"]).contains(&"USER".to_string()));
    assert_eq!(p["tls"]["verdict"], "valid");
    assert_eq!(
        phases(&p),
        [
            "connect",
            "greeting",
            "capabilities",
            "starttls",
            "tls_handshake",
            "capabilities_tls",
            "quit"
        ]
    );
    assert_eq!(transcript, ["CAPA", "STLS", "CAPA", "QUIT"]);
}

#[test]
fn courier_on_110_offers_user_before_stls() {
    let (p, findings, code, _) = on_110("courier-imap-5.0.13");
    assert_eq!(p["outcome"], "ok", "{p:#}");
    // Courier's greeting ("+OK Hello there.") names nothing; CAPA's IMPLEMENTATION does.
    assert_eq!(p["software"], "Courier Mail Server");
    assert_eq!(p["login_plain"], true);
    assert_eq!(findings, ["login_before_tls"]);
    assert_eq!(code, 1);
}

#[test]
fn cyrus_on_110_offers_only_challenge_response_before_stls() {
    let (p, findings, code, _) = on_110("cyrus-3.6.1");
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(p["software"], "Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5");
    assert_eq!(p["greeting_name"], HOST);
    assert_eq!(p["login_plain"], false);
    assert!(strings(&p["auth_plain"]).contains(&"CRAM-MD5".to_string()));
    assert!(strings(&p["auth_tls"]).contains(&"PLAIN".to_string()));
    assert_eq!(findings, ["auth_before_tls_hashed"]);
    assert_eq!(code, 0);
}

#[test]
fn dovecot_with_plaintext_auth_allowed_is_login_before_tls() {
    let (p, findings, code, _) = on_110("dovecot-2.3.19.1-plaintext");
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(p["login_plain"], true);
    assert_eq!(strings(&p["auth_plain"]), ["PLAIN", "LOGIN"]);
    assert_eq!(findings, ["login_before_tls"]);
    assert_eq!(code, 1);
}

#[test]
fn implicit_tls_on_995_is_ok_for_all_three() {
    for (dir, software) in [
        ("dovecot-2.3.19.1-pop3s", "Dovecot"),
        ("courier-imap-5.0.13-pop3s", "Courier Mail Server"),
        (
            "cyrus-3.6.1-pop3s",
            "Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5",
        ),
    ] {
        let pki = TestPki::new();
        let ca = pki.ca_file();
        let server = FakeServer::one(implicit_dialog(
            dir,
            pki.server_config(CertKind::Good, &[HOST]),
        ));
        let run = check(server.port(), "pop3s", Some(ca.path()), &[]);
        let transcript = server.finish();
        let p = run.probe();
        assert_eq!(p["outcome"], "ok", "{dir}: {p:#}");
        assert_eq!(p["software"], software, "{dir}");
        assert_eq!(p["login_tls"], true, "{dir}");
        assert_eq!(
            phases(&p),
            [
                "connect",
                "tls_handshake",
                "greeting",
                "capabilities",
                "quit"
            ]
        );
        assert_eq!(transcript, ["CAPA", "QUIT"], "{dir}");
        assert!(
            run.finding_codes().is_empty(),
            "{dir}: {:?}",
            run.finding_codes()
        );
        assert_eq!(run.code, 0);
    }
}

#[test]
fn no_capa_is_a_fact_and_stls_is_tried_anyway() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::one(vec![
        Step::send("+OK POP3 server ready\r\n"),
        Step::Expect("CAPA"),
        Step::send("-ERR unknown command\r\n"),
        Step::Expect("STLS"),
        Step::send("+OK begin TLS\r\n"),
        Step::StartTls(pki.server_config(CertKind::Good, &[HOST])),
        Step::Expect("CAPA"),
        Step::send("-ERR unknown command\r\n"),
        Step::Expect("QUIT"),
        Step::send("+OK bye\r\n"),
    ]);
    let run = check(server.port(), "pop3", Some(ca.path()), &[]);
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert!(p["starttls_offered"].is_null());
    assert!(p["login_plain"].is_null());
    let notes = strings(&p["notes"]);
    assert!(notes.iter().any(|n| n.contains("no CAPA")), "{notes:?}");
    assert_eq!(transcript, ["CAPA", "STLS", "CAPA", "QUIT"]);
    assert_eq!(run.code, 0);
}

#[test]
fn stls_not_advertised_fails_and_we_only_quit() {
    let server = FakeServer::one(vec![
        Step::send("+OK ready\r\n"),
        Step::Expect("CAPA"),
        Step::send("+OK\r\nTOP\r\nUSER\r\nUIDL\r\n.\r\n"),
        Step::Expect("QUIT"),
        Step::send("+OK bye\r\n"),
    ]);
    let run = check(server.port(), "pop3", None, &[]);
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "starttls_unavailable", "{p:#}");
    assert_eq!(p["starttls_offered"], false);
    assert_eq!(p["failed_phase"], "starttls");
    assert_eq!(transcript, ["CAPA", "QUIT"]);
    let findings = run.finding_codes();
    assert!(findings.contains(&"starttls_unavailable".to_string()));
    assert!(findings.contains(&"login_before_tls".to_string()));
    assert_eq!(run.code, 1);
}

#[test]
fn stls_refused_is_unavailable_and_then_only_quit() {
    let dir = "dovecot-2.3.19.1";
    let server = FakeServer::one(vec![
        fx(dir, "greeting"),
        Step::Expect("CAPA"),
        fx(dir, "capa"),
        Step::Expect("STLS"),
        Step::send("-ERR [SYS/TEMP] TLS initialization failed.\r\n"),
        Step::Expect("QUIT"),
        fx(dir, "quit"),
    ]);
    let run = check(server.port(), "pop3", None, &[]);
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "starttls_unavailable", "{p:#}");
    assert_eq!(p["failed_phase"], "starttls");
    assert!(p["detail"]
        .as_str()
        .unwrap()
        .contains("TLS initialization failed"));
    assert_eq!(transcript, ["CAPA", "STLS", "QUIT"]);
    assert_eq!(run.code, 1);
}

#[test]
fn greeting_err_is_rejected() {
    let server = FakeServer::one(vec![
        Step::send("-ERR [SYS/TEMP] Too many connections\r\n"),
        Step::Expect("QUIT"),
        Step::send("+OK\r\n"),
    ]);
    let run = check(server.port(), "pop3", None, &[]);
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "rejected", "{p:#}");
    assert_eq!(p["failed_phase"], "greeting");
    assert!(p["detail"]
        .as_str()
        .unwrap()
        .contains("Too many connections"));
    assert_eq!(transcript, ["QUIT"]);
    assert_eq!(run.code, 1);
}

#[test]
fn a_server_that_never_greets_is_greeting_timeout() {
    let server = FakeServer::start(vec![vec![Step::Hang], vec![Step::Hang]]);
    let run = check(
        server.port(),
        "pop3",
        None,
        &["--greeting-timeout", "1s", "--reply-timeout", "1s"],
    );
    let p = run.probe();
    let lines = server.lines();
    drop(server);
    assert_eq!(p["outcome"], "greeting_timeout", "{p:#}");
    assert!(
        lines.iter().all(|l| l.conn != 0),
        "we spoke first: {lines:?}"
    );
    assert_eq!(run.code, 1);
}

#[test]
fn plaintext_on_995_is_a_protocol_mismatch_naming_pop3() {
    let server = FakeServer::one(vec![fx("dovecot-2.3.19.1", "greeting"), Step::ExpectClose]);
    let run = check(server.port(), "pop3s", None, &[]);
    drop(server);
    let p = run.probe();
    assert_eq!(p["outcome"], "protocol_mismatch", "{p:#}");
    assert_eq!(p["peer_protocol"], "pop3");
    assert_eq!(p["failed_phase"], "tls_handshake");
}

#[test]
fn an_imap_server_on_110_is_a_protocol_mismatch() {
    let server = FakeServer::one(vec![
        Step::Fixture("imap/dovecot-2.3.19.1/greeting"),
        Step::ExpectClose,
    ]);
    let run = check(server.port(), "pop3", None, &[]);
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "protocol_mismatch", "{p:#}");
    assert_eq!(p["peer_protocol"], "imap");
    assert!(transcript.is_empty(), "{transcript:?}");
}

#[test]
fn a_self_signed_certificate_on_995_is_reported() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::one(implicit_dialog(
        "courier-imap-5.0.13-pop3s",
        pki.server_config(CertKind::SelfSigned, &[HOST]),
    ));
    let run = check(server.port(), "pop3s", Some(ca.path()), &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(p["tls"]["verdict"], "self_signed");
    assert_eq!(run.finding_codes(), ["cert_self_signed"]);
    assert_eq!(run.code, 1);
}

#[test]
fn an_endless_capa_list_is_bounded() {
    let server = FakeServer::one(vec![
        Step::send("+OK ready\r\n"),
        Step::Expect("CAPA"),
        Step::send("+OK\r\n"),
        Step::SendForever(b"X-JUNK\r\n".to_vec()),
    ]);
    let run = check(server.port(), "pop3", None, &[]);
    drop(server);
    let p = run.probe();
    assert_eq!(p["outcome"], "bad_reply", "{p:#}");
}
