//! POP3 probes (110 with STLS, 995 with implicit TLS) against fake servers
//! replaying Dovecot, Courier and Cyrus recordings (fixtures/pop3/). Every
//! fake server also checks the safety rules when it is dropped: no USER,
//! PASS or AUTH, nothing but QUIT after a refused STLS.

use crate::support::certs::{CertKind, TestPki};
use crate::support::dialogs::{self, Recorded};
use crate::support::report::Probe;
use crate::support::server::{FakeServer, Step};
use crate::support::{check_fake, HOST};

fn on_110(dir: &'static str) -> (Probe, Vec<String>, i32, Vec<String>) {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server =
        FakeServer::one(Recorded::pop3(dir).starttls(pki.server_config(CertKind::Good, &[HOST])));
    let run = check_fake(server.port(), "pop3", Some(ca.path())).run();
    let transcript = server.finish();
    (run.probe(), run.finding_codes(), run.code, transcript)
}

#[test]
fn dovecot_on_110_with_stls_is_ok_and_user_waits_for_tls() {
    let (p, findings, code, transcript) = on_110("dovecot-2.3.19.1");
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(code, 0);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(p.protocol, "pop3");
    assert_eq!(p.software.as_deref(), Some("Dovecot"));
    assert_eq!(p.starttls_offered, Some(true));
    assert_eq!(p.login_plain, Some(false));
    assert_eq!(p.login_tls, Some(true));
    assert!(p.auth_plain.is_empty());
    assert_eq!(p.auth_tls, ["PLAIN", "LOGIN"]);
    assert!(p.capabilities_plain.contains(&"STLS".to_string()));
    assert!(p.capabilities_tls.contains(&"USER".to_string()));
    assert_eq!(p.tls().verdict, "valid");
    assert_eq!(
        p.phase_names(),
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
    assert_eq!(p.outcome, "ok", "{p:#}");
    // Courier's greeting ("+OK Hello there.") names nothing; CAPA's IMPLEMENTATION does.
    assert_eq!(p.software.as_deref(), Some("Courier Mail Server"));
    assert_eq!(p.login_plain, Some(true));
    assert_eq!(findings, ["login_before_tls"]);
    // r12: USER is advertised, not known to be accepted (Courier refuses it
    // before STLS when POP3_TLS_REQUIRED=1): a warning, so exit 0.
    assert_eq!(p.verdict, "warn", "{p:#}");
    assert_eq!(code, 0);
}

#[test]
fn cyrus_on_110_offers_only_challenge_response_before_stls() {
    let (p, findings, code, _) = on_110("cyrus-3.6.1");
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(
        p.software.as_deref(),
        Some("Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5")
    );
    assert_eq!(p.greeting_name.as_deref(), Some(HOST));
    assert_eq!(p.login_plain, Some(false));
    assert!(p.auth_plain.contains(&"CRAM-MD5".to_string()));
    assert!(p.auth_tls.contains(&"PLAIN".to_string()));
    assert_eq!(findings, ["auth_before_tls_hashed"]);
    assert_eq!(code, 0);
}

#[test]
fn dovecot_with_plaintext_auth_allowed_is_login_before_tls() {
    let (p, findings, code, _) = on_110("dovecot-2.3.19.1-plaintext");
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(p.login_plain, Some(true));
    assert_eq!(p.auth_plain, ["PLAIN", "LOGIN"]);
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
        let server = FakeServer::one(
            Recorded::pop3(dir).implicit(pki.server_config(CertKind::Good, &[HOST])),
        );
        let run = check_fake(server.port(), "pop3s", Some(ca.path())).run();
        let transcript = server.finish();
        let p = run.probe();
        assert_eq!(p.outcome, "ok", "{dir}: {p:#}");
        assert_eq!(p.software.as_deref(), Some(software), "{dir}");
        assert_eq!(p.login_tls, Some(true), "{dir}");
        assert_eq!(
            p.phase_names(),
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
    let run = check_fake(server.port(), "pop3", Some(ca.path())).run();
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert!(p.starttls_offered.is_none());
    assert!(p.login_plain.is_none());
    let notes = &p.notes;
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
    let run = check_fake(server.port(), "pop3", None).run();
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "starttls_unavailable", "{p:#}");
    assert_eq!(p.starttls_offered, Some(false));
    assert_eq!(p.failed_phase.as_deref(), Some("starttls"));
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
        Recorded::pop3(dir).reply("greeting"),
        Step::Expect("CAPA"),
        Recorded::pop3(dir).reply("capa"),
        Step::Expect("STLS"),
        Step::send("-ERR [SYS/TEMP] TLS initialization failed.\r\n"),
        Step::Expect("QUIT"),
        Recorded::pop3(dir).reply("quit"),
    ]);
    let run = check_fake(server.port(), "pop3", None).run();
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "starttls_unavailable", "{p:#}");
    assert_eq!(p.failed_phase.as_deref(), Some("starttls"));
    assert!(p.detail().contains("TLS initialization failed"));
    assert_eq!(transcript, ["CAPA", "STLS", "QUIT"]);
    assert_eq!(run.code, 1);
}

#[test]
fn greeting_err_is_rejected() {
    let server = FakeServer::one(vec![
        Step::send("-ERR [SYS/TEMP] Service temporarily unavailable\r\n"),
        Step::Expect("QUIT"),
        Step::send("+OK\r\n"),
    ]);
    let run = check_fake(server.port(), "pop3", None).run();
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "rejected", "{p:#}");
    assert_eq!(p.failed_phase.as_deref(), Some("greeting"));
    assert!(p.detail().contains("Service temporarily unavailable"));
    assert_eq!(transcript, ["QUIT"]);
    assert_eq!(run.code, 1);
}

#[test]
fn a_server_that_never_greets_is_greeting_timeout() {
    let server = FakeServer::start(dialogs::silent_thrice());
    let run = check_fake(server.port(), "pop3", None)
        .greeting_timeout("1s")
        .reply_timeout("1s")
        .run();
    let p = run.probe();
    let lines = server.lines();
    drop(server);
    assert_eq!(p.outcome, "greeting_timeout", "{p:#}");
    assert!(
        lines.iter().all(|l| l.conn != 0),
        "we spoke first: {lines:?}"
    );
    assert_eq!(run.code, 1);
}

#[test]
fn plaintext_on_995_is_a_protocol_mismatch_naming_pop3() {
    let server = FakeServer::one(vec![
        Recorded::pop3("dovecot-2.3.19.1").reply("greeting"),
        Step::ExpectClose,
    ]);
    let run = check_fake(server.port(), "pop3s", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "protocol_mismatch", "{p:#}");
    assert_eq!(p.peer_protocol.as_deref(), Some("pop3"));
    assert_eq!(p.failed_phase.as_deref(), Some("tls_handshake"));
}

#[test]
fn an_imap_server_on_110_is_a_protocol_mismatch() {
    let server = FakeServer::one(vec![
        Recorded::imap("dovecot-2.3.19.1").reply("greeting"),
        Step::ExpectClose,
    ]);
    let run = check_fake(server.port(), "pop3", None).run();
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "protocol_mismatch", "{p:#}");
    assert_eq!(p.peer_protocol.as_deref(), Some("imap"));
    assert!(transcript.is_empty(), "{transcript:?}");
}

#[test]
fn a_self_signed_certificate_on_995_is_reported() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::one(
        Recorded::pop3("courier-imap-5.0.13-pop3s")
            .implicit(pki.server_config(CertKind::SelfSigned, &[HOST])),
    );
    let run = check_fake(server.port(), "pop3s", Some(ca.path())).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(p.tls().verdict, "self_signed");
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
    let run = check_fake(server.port(), "pop3", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "bad_reply", "{p:#}");
}
