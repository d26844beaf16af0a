//! IMAP probes (143 with STARTTLS, 993 and the obsolete 585 with implicit TLS)
//! against fake servers replaying Dovecot, Courier and Cyrus recordings
//! (fixtures/imap/). Every fake server also checks the safety rules when it
//! is dropped: no LOGIN or AUTHENTICATE, nothing but LOGOUT after a refused
//! STARTTLS.

use crate::support::certs::{CertKind, TestPki};
use crate::support::dialogs::{self, Recorded};
use crate::support::report::Probe;
use crate::support::server::{FakeServer, Step};
use crate::support::{check_fake, HOST};

/// Run a recorded STARTTLS dialog on 143; the probe, findings, exit code, transcript.
fn on_143(dir: &'static str) -> (Probe, Vec<String>, i32, Vec<String>) {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server =
        FakeServer::one(Recorded::imap(dir).starttls(pki.server_config(CertKind::Good, &[HOST])));
    let run = check_fake(server.port(), "imap", Some(ca.path())).run();
    let transcript = server.finish();
    (run.probe(), run.finding_codes(), run.code, transcript)
}

#[test]
fn dovecot_on_143_with_starttls_is_ok_and_logins_wait_for_tls() {
    let (p, findings, code, transcript) = on_143("dovecot-2.3.19.1");
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(code, 0);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(p.protocol, "imap");
    assert_eq!(p.software.as_deref(), Some("Dovecot"));
    assert_eq!(p.starttls_offered, Some(true));
    assert_eq!(p.login_disabled, Some(true));
    assert_eq!(p.login_plain, Some(false));
    assert_eq!(p.login_tls, Some(true));
    assert!(p.auth_plain.is_empty());
    assert_eq!(p.auth_tls, ["PLAIN", "LOGIN"]);
    assert!(p.capabilities_plain.contains(&"LOGINDISABLED".to_string()));
    assert_eq!(
        p.starttls_reply.as_deref(),
        Some("a2 OK Begin TLS negotiation now.")
    );
    assert_eq!(p.tls().verdict, "valid");
    assert_eq!(
        p.phase_names(),
        [
            "connect",
            "greeting",
            "starttls",
            "tls_handshake",
            "capabilities_tls",
            "quit"
        ]
    );
    // The greeting carried the capabilities: no a1 CAPABILITY, nothing else.
    assert_eq!(transcript, ["a2 STARTTLS", "a3 CAPABILITY", "a4 LOGOUT"]);
}

#[test]
fn courier_on_143_offers_login_before_tls() {
    let (p, findings, code, _) = on_143("courier-imap-5.0.13");
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(p.software.as_deref(), Some("Courier-IMAP"));
    assert_eq!(p.login_disabled, Some(false));
    assert_eq!(p.login_plain, Some(true));
    assert!(p.auth_plain.is_empty());
    assert_eq!(p.auth_tls, ["PLAIN"]);
    assert_eq!(findings, ["login_before_tls"]);
    assert_eq!(code, 1);
}

#[test]
fn cyrus_on_143_offers_only_challenge_response_before_tls() {
    let (p, findings, code, _) = on_143("cyrus-3.6.1");
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(
        p.software.as_deref(),
        Some("Cyrus IMAP 3.6.1-Debian-3.6.1-4+deb12u5")
    );
    assert_eq!(p.greeting_name.as_deref(), Some(HOST));
    assert_eq!(p.login_disabled, Some(true));
    let before = &p.auth_plain;
    assert!(before.contains(&"CRAM-MD5".to_string()), "{before:?}");
    assert!(!before.contains(&"PLAIN".to_string()), "{before:?}");
    assert!(p.auth_tls.contains(&"PLAIN".to_string()));
    assert_eq!(findings, ["auth_before_tls_hashed"]);
    assert_eq!(code, 0, "a warning does not fail at the default level");
}

#[test]
fn dovecot_with_plaintext_auth_allowed_is_login_before_tls() {
    let (p, findings, code, _) = on_143("dovecot-2.3.19.1-plaintext");
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(p.auth_plain, ["PLAIN", "LOGIN"]);
    assert_eq!(findings, ["login_before_tls"]);
    assert_eq!(p.login_plain, Some(true));
    assert_eq!(code, 1);
}

#[test]
fn implicit_tls_on_993_is_ok_for_all_three() {
    for (dir, software) in [
        ("dovecot-2.3.19.1-imaps", "Dovecot"),
        ("courier-imap-5.0.13-imaps", "Courier-IMAP"),
        (
            "cyrus-3.6.1-imaps",
            "Cyrus IMAP 3.6.1-Debian-3.6.1-4+deb12u5",
        ),
    ] {
        let pki = TestPki::new();
        let ca = pki.ca_file();
        let server = FakeServer::one(
            Recorded::imap(dir).implicit(pki.server_config(CertKind::Good, &[HOST])),
        );
        let run = check_fake(server.port(), "imaps", Some(ca.path())).run();
        let transcript = server.finish();
        let p = run.probe();
        assert_eq!(p.outcome, "ok", "{dir}: {p:#}");
        assert_eq!(p.software.as_deref(), Some(software), "{dir}");
        assert_eq!(p.tls_mode, "implicit");
        assert_eq!(p.tls().verdict, "valid");
        assert!(p.auth_tls.contains(&"PLAIN".to_string()), "{dir}");
        assert!(p.login_plain.is_none());
        assert_eq!(
            p.phase_names(),
            ["connect", "tls_handshake", "greeting", "quit"]
        );
        assert_eq!(transcript, ["a4 LOGOUT"], "{dir}");
        assert!(
            run.finding_codes().is_empty(),
            "{dir}: {:?}",
            run.finding_codes()
        );
        assert_eq!(run.code, 0);
    }
}

#[test]
fn a_greeting_without_capabilities_makes_us_ask() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let dir = "dovecot-2.3.19.1-imaps";
    let server = FakeServer::one(vec![
        Step::StartTls(pki.server_config(CertKind::Good, &[HOST])),
        Step::send("* OK IMAP4rev1 Service Ready\r\n"),
        Step::Expect("a1 CAPABILITY"),
        Recorded::imap(dir).reply("capability"),
        Step::Expect("a4 LOGOUT"),
        Recorded::imap(dir).reply("logout"),
    ]);
    let run = check_fake(server.port(), "imaps", Some(ca.path())).run();
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(transcript, ["a1 CAPABILITY", "a4 LOGOUT"]);
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
    assert_eq!(p.auth_tls, ["PLAIN", "LOGIN"]);
}

#[test]
fn legacy_585_is_probed_only_when_asked_for() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::one(
        Recorded::imap("dovecot-2.3.19.1-imaps")
            .implicit(pki.server_config(CertKind::Good, &[HOST])),
    );
    let run = check_fake(server.port(), "imap4-ssl", Some(ca.path())).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.service, "imap4-ssl", "{p:#}");
    assert_eq!(p.outcome, "ok");
    assert_eq!(p.tls_mode, "implicit");
    assert_eq!(run.code, 0);
}

#[test]
fn starttls_not_advertised_fails_and_we_only_log_out() {
    let server = FakeServer::one(vec![
        Step::send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"),
        Step::Expect("a4 LOGOUT"),
        Step::send("* BYE bye\r\na4 OK done\r\n"),
    ]);
    let run = check_fake(server.port(), "imap", None).run();
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "starttls_unavailable", "{p:#}");
    assert_eq!(p.starttls_offered, Some(false));
    assert_eq!(p.failed_phase.as_deref(), Some("starttls"));
    assert_eq!(transcript, ["a4 LOGOUT"]);
    let findings = run.finding_codes();
    assert!(
        findings.contains(&"starttls_unavailable".to_string()),
        "{findings:?}"
    );
    assert!(
        findings.contains(&"login_before_tls".to_string()),
        "{findings:?}"
    );
    assert_eq!(run.code, 1);
}

#[test]
fn starttls_refused_with_no_or_bad_is_unavailable_and_then_only_logout() {
    for refusal in [
        "a2 NO [UNAVAILABLE] TLS is broken\r\n",
        "a2 BAD unknown command\r\n",
    ] {
        let server = FakeServer::one(vec![
            Recorded::imap("dovecot-2.3.19.1").reply("greeting"),
            Step::Expect("a2 STARTTLS"),
            Step::send(refusal),
            Step::Expect("a4 LOGOUT"),
            Recorded::imap("dovecot-2.3.19.1").reply("logout"),
        ]);
        let run = check_fake(server.port(), "imap", None).run();
        let transcript = server.finish();
        let p = run.probe();
        assert_eq!(p.outcome, "starttls_unavailable", "{p:#}");
        assert_eq!(p.failed_phase.as_deref(), Some("starttls"));
        let detail = p.detail();
        assert!(detail.contains("refused STARTTLS"), "{detail}");
        assert!(detail.contains(refusal.trim_end()), "{detail}");
        assert_eq!(transcript, ["a2 STARTTLS", "a4 LOGOUT"]);
        assert_eq!(run.code, 1);
    }
}

#[test]
fn greeting_bye_is_rejected_and_we_send_nothing() {
    let server = FakeServer::one(vec![
        Step::send("* BYE Server shutting down for maintenance\r\n"),
        Step::Close,
    ]);
    let run = check_fake(server.port(), "imap", None).run();
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "rejected", "{p:#}");
    assert_eq!(p.failed_phase.as_deref(), Some("greeting"));
    assert!(p.detail().contains("shutting down for maintenance"));
    assert!(transcript.is_empty(), "{transcript:?}");
    assert_eq!(run.code, 1);
}

#[test]
fn a_server_that_never_greets_is_greeting_timeout() {
    // The second connection is the check for TLS on the port, which also gets silence.
    let server = FakeServer::start(dialogs::silent_thrice());
    let run = check_fake(server.port(), "imap", None)
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
fn implicit_tls_on_143_is_a_protocol_mismatch() {
    let pki = TestPki::new();
    let tls = pki.server_config(CertKind::Good, &[HOST]);
    // The greeting's connection, then mailport's TLS and HTTP checks at once.
    let server = FakeServer::start(vec![
        vec![Step::StartTls(tls.clone())],
        vec![Step::StartTls(tls.clone())],
        vec![Step::StartTls(tls)],
    ]);
    let run = check_fake(server.port(), "imap", None)
        .greeting_timeout("1s")
        .run();
    let p = run.probe();
    drop(server);
    assert_eq!(p.outcome, "protocol_mismatch", "{p:#}");
    assert_eq!(p.peer_protocol.as_deref(), Some("tls"));
    assert!(p.detail().contains("like 993"));
}

#[test]
fn plaintext_on_993_is_a_protocol_mismatch_naming_imap() {
    let server = FakeServer::one(vec![
        Recorded::imap("dovecot-2.3.19.1").reply("greeting"),
        Step::ExpectClose,
    ]);
    let run = check_fake(server.port(), "imaps", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "protocol_mismatch", "{p:#}");
    assert_eq!(p.peer_protocol.as_deref(), Some("imap"));
    assert_eq!(p.failed_phase.as_deref(), Some("tls_handshake"));
    assert_eq!(run.code, 1);
}

#[test]
fn an_smtp_server_on_143_is_a_protocol_mismatch() {
    let server = FakeServer::one(vec![
        Recorded::smtp("postfix-3.7.11").reply("greeting"),
        Step::ExpectClose,
    ]);
    let run = check_fake(server.port(), "imap", None).run();
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "protocol_mismatch", "{p:#}");
    assert_eq!(p.peer_protocol.as_deref(), Some("smtp"));
    assert!(transcript.is_empty(), "{transcript:?}");
}

#[test]
fn an_expired_certificate_on_993_is_reported_and_the_dialog_goes_on() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::one(
        Recorded::imap("dovecot-2.3.19.1-imaps")
            .implicit(pki.server_config(CertKind::Expired, &[HOST])),
    );
    let run = check_fake(server.port(), "imaps", Some(ca.path())).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(p.tls().verdict, "expired");
    assert!(!p.capabilities_tls.is_empty());
    assert_eq!(run.finding_codes(), ["cert_expired"]);
    assert_eq!(run.code, 1);
}

#[test]
fn a_wrong_name_after_starttls_is_reported() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::one(
        Recorded::imap("dovecot-2.3.19.1")
            .starttls(pki.server_config(CertKind::WrongName, &[HOST])),
    );
    let run = check_fake(server.port(), "imap", Some(ca.path())).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(p.tls().verdict, "name_mismatch");
    assert_eq!(run.finding_codes(), ["cert_name_mismatch"]);
}

#[test]
fn untagged_floods_are_bounded() {
    let server = FakeServer::one(vec![
        Step::send("* OK IMAP4rev1 ready\r\n"),
        Step::Expect("a1 CAPABILITY"),
        Step::SendForever(b"* OK still thinking\r\n".to_vec()),
    ]);
    let run = check_fake(server.port(), "imap", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "bad_reply", "{p:#}");
    assert!(p.detail().contains("untagged lines"));
}

#[test]
fn preauth_on_the_plaintext_port_is_its_own_failure_and_we_send_no_starttls() {
    let server = FakeServer::one(vec![
        Step::send("* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] logged in as you\r\n"),
        Step::Expect("a4 LOGOUT"),
        Step::send("* BYE bye\r\na4 OK done\r\n"),
    ]);
    let run = check_fake(server.port(), "imap", None).run();
    let transcript = server.finish();
    assert_eq!(transcript, ["a4 LOGOUT"], "no STARTTLS after PREAUTH");
    let p = run.probe();
    assert!(p.preauth);
    assert_eq!(p.outcome, "starttls_unavailable", "{p:#}");
    let findings = run.finding_codes();
    assert!(
        findings.contains(&"preauth_plaintext".to_string()),
        "{findings:?}"
    );
    assert!(
        !findings.contains(&"login_before_tls".to_string()),
        "{findings:?}"
    );
    assert_eq!(run.code, 1);
}
