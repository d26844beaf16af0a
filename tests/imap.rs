//! IMAP probes (143 with STARTTLS, 993 and the obsolete 585 with implicit TLS)
//! against fake servers replaying Dovecot, Courier and Cyrus recordings
//! (fixtures/imap/). Every fake server also checks the safety rules when it
//! is dropped: no LOGIN or AUTHENTICATE, nothing but LOGOUT after a refused
//! STARTTLS.

use crate::support::certs::{CertKind, TestPki};
use crate::support::server::{FakeServer, Step};
use crate::support::{check, HOST};
use crate::support::{phases, strings};
use serde_json::Value;
use std::sync::Arc;

fn fx(dir: &str, file: &str) -> Step {
    Step::Fixture(Box::leak(format!("imap/{dir}/{file}").into_boxed_str()))
}

/// The STARTTLS dialog of a recorded server whose greeting carries its
/// capabilities (all three do), so mailport never needs `a1 CAPABILITY`.
fn starttls_dialog(dir: &str, tls: Arc<rustls::ServerConfig>) -> Vec<Step> {
    vec![
        fx(dir, "greeting"),
        Step::Expect("a2 STARTTLS"),
        fx(dir, "starttls"),
        Step::StartTls(tls),
        Step::Expect("a3 CAPABILITY"),
        fx(dir, "capability_tls"),
        Step::Expect("a4 LOGOUT"),
        fx(dir, "logout"),
    ]
}

fn implicit_dialog(dir: &str, tls: Arc<rustls::ServerConfig>) -> Vec<Step> {
    vec![
        Step::StartTls(tls),
        fx(dir, "greeting"),
        Step::Expect("a4 LOGOUT"),
        fx(dir, "logout"),
    ]
}

/// Run a recorded STARTTLS dialog on 143; the probe, findings, exit code, transcript.
fn on_143(dir: &str) -> (Value, Vec<String>, i32, Vec<String>) {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::one(starttls_dialog(
        dir,
        pki.server_config(CertKind::Good, &[HOST]),
    ));
    let run = check(server.port(), "imap", Some(ca.path()), &[]);
    let transcript = server.finish();
    (run.probe(), run.finding_codes(), run.code, transcript)
}

#[test]
fn dovecot_on_143_with_starttls_is_ok_and_logins_wait_for_tls() {
    let (p, findings, code, transcript) = on_143("dovecot-2.3.19.1");
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(code, 0);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(p["protocol"], "imap");
    assert_eq!(p["software"], "Dovecot");
    assert_eq!(p["starttls_offered"], true);
    assert_eq!(p["login_disabled"], true);
    assert_eq!(p["login_plain"], false);
    assert_eq!(p["login_tls"], true);
    assert!(strings(&p["auth_plain"]).is_empty());
    assert_eq!(strings(&p["auth_tls"]), ["PLAIN", "LOGIN"]);
    assert!(strings(&p["capabilities_plain"]).contains(&"LOGINDISABLED".to_string()));
    assert_eq!(p["starttls_reply"], "a2 OK Begin TLS negotiation now.");
    assert_eq!(p["tls"]["verdict"], "valid");
    assert_eq!(
        phases(&p),
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
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(p["software"], "Courier-IMAP");
    assert_eq!(p["login_disabled"], false);
    assert_eq!(p["login_plain"], true);
    assert!(strings(&p["auth_plain"]).is_empty());
    assert_eq!(strings(&p["auth_tls"]), ["PLAIN"]);
    assert_eq!(findings, ["login_before_tls"]);
    assert_eq!(code, 1);
}

#[test]
fn cyrus_on_143_offers_only_challenge_response_before_tls() {
    let (p, findings, code, _) = on_143("cyrus-3.6.1");
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(p["software"], "Cyrus IMAP 3.6.1-Debian-3.6.1-4+deb12u5");
    assert_eq!(p["greeting_name"], HOST);
    assert_eq!(p["login_disabled"], true);
    let before = strings(&p["auth_plain"]);
    assert!(before.contains(&"CRAM-MD5".to_string()), "{before:?}");
    assert!(!before.contains(&"PLAIN".to_string()), "{before:?}");
    assert!(strings(&p["auth_tls"]).contains(&"PLAIN".to_string()));
    assert_eq!(findings, ["auth_before_tls_hashed"]);
    assert_eq!(code, 0, "a warning does not fail at the default level");
}

#[test]
fn dovecot_with_plaintext_auth_allowed_is_login_before_tls() {
    let (p, findings, code, _) = on_143("dovecot-2.3.19.1-plaintext");
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(strings(&p["auth_plain"]), ["PLAIN", "LOGIN"]);
    assert_eq!(findings, ["login_before_tls"]);
    assert_eq!(p["login_plain"], true);
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
        let server = FakeServer::one(implicit_dialog(
            dir,
            pki.server_config(CertKind::Good, &[HOST]),
        ));
        let run = check(server.port(), "imaps", Some(ca.path()), &[]);
        let transcript = server.finish();
        let p = run.probe();
        assert_eq!(p["outcome"], "ok", "{dir}: {p:#}");
        assert_eq!(p["software"], software, "{dir}");
        assert_eq!(p["tls_mode"], "implicit");
        assert_eq!(p["tls"]["verdict"], "valid");
        assert!(
            strings(&p["auth_tls"]).contains(&"PLAIN".to_string()),
            "{dir}"
        );
        assert!(p["login_plain"].is_null());
        assert_eq!(phases(&p), ["connect", "tls_handshake", "greeting", "quit"]);
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
        fx(dir, "capability"),
        Step::Expect("a4 LOGOUT"),
        fx(dir, "logout"),
    ]);
    let run = check(server.port(), "imaps", Some(ca.path()), &[]);
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(transcript, ["a1 CAPABILITY", "a4 LOGOUT"]);
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
    assert_eq!(strings(&p["auth_tls"]), ["PLAIN", "LOGIN"]);
}

#[test]
fn legacy_585_is_probed_only_when_asked_for() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::one(implicit_dialog(
        "dovecot-2.3.19.1-imaps",
        pki.server_config(CertKind::Good, &[HOST]),
    ));
    let run = check(server.port(), "imap4-ssl", Some(ca.path()), &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["service"], "imap4-ssl", "{p:#}");
    assert_eq!(p["outcome"], "ok");
    assert_eq!(p["tls_mode"], "implicit");
    assert_eq!(run.code, 0);
}

#[test]
fn starttls_not_advertised_fails_and_we_only_log_out() {
    let server = FakeServer::one(vec![
        Step::send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"),
        Step::Expect("a4 LOGOUT"),
        Step::send("* BYE bye\r\na4 OK done\r\n"),
    ]);
    let run = check(server.port(), "imap", None, &[]);
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "starttls_unavailable", "{p:#}");
    assert_eq!(p["starttls_offered"], false);
    assert_eq!(p["failed_phase"], "starttls");
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
            fx("dovecot-2.3.19.1", "greeting"),
            Step::Expect("a2 STARTTLS"),
            Step::send(refusal),
            Step::Expect("a4 LOGOUT"),
            fx("dovecot-2.3.19.1", "logout"),
        ]);
        let run = check(server.port(), "imap", None, &[]);
        let transcript = server.finish();
        let p = run.probe();
        assert_eq!(p["outcome"], "starttls_unavailable", "{p:#}");
        assert_eq!(p["failed_phase"], "starttls");
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains("refused STARTTLS"), "{detail}");
        assert!(detail.contains(refusal.trim_end()), "{detail}");
        assert_eq!(transcript, ["a2 STARTTLS", "a4 LOGOUT"]);
        assert_eq!(run.code, 1);
    }
}

#[test]
fn greeting_bye_is_rejected_and_we_send_nothing() {
    let server = FakeServer::one(vec![
        Step::send("* BYE Too many connections from your IP\r\n"),
        Step::Close,
    ]);
    let run = check(server.port(), "imap", None, &[]);
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "rejected", "{p:#}");
    assert_eq!(p["failed_phase"], "greeting");
    assert!(p["detail"]
        .as_str()
        .unwrap()
        .contains("Too many connections"));
    assert!(transcript.is_empty(), "{transcript:?}");
    assert_eq!(run.code, 1);
}

#[test]
fn a_server_that_never_greets_is_greeting_timeout() {
    // The second connection is the check for TLS on the port, which also gets silence.
    let server = FakeServer::start(vec![vec![Step::Hang], vec![Step::Hang]]);
    let run = check(
        server.port(),
        "imap",
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
fn implicit_tls_on_143_is_a_protocol_mismatch() {
    let pki = TestPki::new();
    let tls = pki.server_config(CertKind::Good, &[HOST]);
    let server = FakeServer::start(vec![
        vec![Step::StartTls(tls.clone())],
        vec![Step::StartTls(tls)],
    ]);
    let run = check(server.port(), "imap", None, &["--greeting-timeout", "1s"]);
    let p = run.probe();
    drop(server);
    assert_eq!(p["outcome"], "protocol_mismatch", "{p:#}");
    assert_eq!(p["peer_protocol"], "tls");
    assert!(p["detail"].as_str().unwrap().contains("like 993"));
}

#[test]
fn plaintext_on_993_is_a_protocol_mismatch_naming_imap() {
    let server = FakeServer::one(vec![fx("dovecot-2.3.19.1", "greeting"), Step::ExpectClose]);
    let run = check(server.port(), "imaps", None, &[]);
    drop(server);
    let p = run.probe();
    assert_eq!(p["outcome"], "protocol_mismatch", "{p:#}");
    assert_eq!(p["peer_protocol"], "imap");
    assert_eq!(p["failed_phase"], "tls_handshake");
    assert_eq!(run.code, 1);
}

#[test]
fn an_smtp_server_on_143_is_a_protocol_mismatch() {
    let server = FakeServer::one(vec![
        Step::Fixture("smtp/postfix-3.7.11/greeting"),
        Step::ExpectClose,
    ]);
    let run = check(server.port(), "imap", None, &[]);
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "protocol_mismatch", "{p:#}");
    assert_eq!(p["peer_protocol"], "smtp");
    assert!(transcript.is_empty(), "{transcript:?}");
}

#[test]
fn an_expired_certificate_on_993_is_reported_and_the_dialog_goes_on() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::one(implicit_dialog(
        "dovecot-2.3.19.1-imaps",
        pki.server_config(CertKind::Expired, &[HOST]),
    ));
    let run = check(server.port(), "imaps", Some(ca.path()), &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(p["tls"]["verdict"], "expired");
    assert!(!strings(&p["capabilities_tls"]).is_empty());
    assert_eq!(run.finding_codes(), ["cert_expired"]);
    assert_eq!(run.code, 1);
}

#[test]
fn a_wrong_name_after_starttls_is_reported() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::one(starttls_dialog(
        "dovecot-2.3.19.1",
        pki.server_config(CertKind::WrongName, &[HOST]),
    ));
    let run = check(server.port(), "imap", Some(ca.path()), &[]);
    server.finish();
    let p = run.probe();
    assert_eq!(p["outcome"], "ok", "{p:#}");
    assert_eq!(p["tls"]["verdict"], "name_mismatch");
    assert_eq!(run.finding_codes(), ["cert_name_mismatch"]);
}

#[test]
fn untagged_floods_are_bounded() {
    let server = FakeServer::one(vec![
        Step::send("* OK IMAP4rev1 ready\r\n"),
        Step::Expect("a1 CAPABILITY"),
        Step::SendForever(b"* OK still thinking\r\n".to_vec()),
    ]);
    let run = check(server.port(), "imap", None, &[]);
    drop(server);
    let p = run.probe();
    assert_eq!(p["outcome"], "bad_reply", "{p:#}");
    assert!(p["detail"].as_str().unwrap().contains("untagged lines"));
}

#[test]
fn preauth_on_the_plaintext_port_is_its_own_failure_and_we_send_no_starttls() {
    let server = FakeServer::one(vec![
        Step::send("* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] logged in as you\r\n"),
        Step::Expect("a4 LOGOUT"),
        Step::send("* BYE bye\r\na4 OK done\r\n"),
    ]);
    let run = check(server.port(), "imap", None, &[]);
    let transcript = server.finish();
    assert_eq!(transcript, ["a4 LOGOUT"], "no STARTTLS after PREAUTH");
    let p = run.probe();
    assert_eq!(p["preauth"], true);
    assert_eq!(p["outcome"], "starttls_unavailable", "{p:#}");
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
