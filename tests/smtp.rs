//! SMTP probes against scripted fake servers on loopback that replay
//! greetings and EHLO replies recorded from real servers (fixtures/smtp/).
//! Every fake server also checks the safety rules (no DATA, no AUTH, nothing
//! but QUIT after a refused STARTTLS) when it is dropped.

use crate::support::certs::{CertKind, TestPki};
use crate::support::cmd::Mailport;
use crate::support::dialogs::{self, Recorded};
use crate::support::ports::{closed_port, filtered_port};
use crate::support::report::Probe;
use crate::support::server::{FakeServer, Step};
use crate::support::{check_fake, HOST};

fn healthy_starttls(dir: &'static str, service: &str) -> (Probe, i32, Vec<String>) {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server =
        FakeServer::smtp(Recorded::smtp(dir).starttls(pki.server_config(CertKind::Good, &[HOST])));
    let run = check_fake(server.port(), service, Some(ca.path())).run();
    let transcript = server.finish();
    (run.probe(), run.code, transcript)
}

#[test]
fn postfix_on_25_with_starttls_is_ok_and_verified() {
    let (p, code, transcript) = healthy_starttls("postfix-3.7.11", "smtp");
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(code, 0);
    assert_eq!(p.software.as_deref(), Some("Postfix"));
    assert_eq!(p.greeting_name.as_deref(), Some("mail.example.test"));
    assert_eq!(p.starttls_offered, Some(true));
    assert_eq!(p.tls().version, "TLSv1.3");
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
    let before = &p.capabilities_plain;
    assert!(before.iter().any(|l| l.contains("STARTTLS")), "{before:?}");
    assert!(!p.capabilities_tls.is_empty());
    // We spoke only after the greeting, and exactly this.
    assert_eq!(transcript.len(), 4, "{transcript:?}");
    assert!(transcript[0].starts_with("EHLO "));
    assert_eq!(transcript[1], "STARTTLS");
    assert!(transcript[2].starts_with("EHLO "));
    assert_eq!(transcript[3], "QUIT");
}

#[test]
fn exim_on_25_with_starttls_is_ok() {
    let (p, code, _) = healthy_starttls("exim-4.96", "smtp");
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(code, 0);
    assert!(
        p.software.as_deref().unwrap_or("").starts_with("Exim 4.96"),
        "{:?}",
        p.software
    );
    assert_eq!(p.tls().verdict, "valid");
}

/// Debian 12's OpenSMTPD answers STARTTLS with 220 and then aborts the
/// handshake with an internal_error alert (its key fails to load under
/// OpenSSL 3; see fixtures/README.md). Replayed: greeting, EHLO, 220, alert.
#[test]
fn opensmtpd_aborting_the_handshake_after_starttls_is_tls_failed() {
    let opensmtpd = Recorded::smtp("opensmtpd-6.8.0p2");
    let server = FakeServer::smtp(vec![
        opensmtpd.reply("greeting"),
        Step::Expect("EHLO "),
        opensmtpd.reply("ehlo"),
        Step::Expect("STARTTLS"),
        opensmtpd.reply("starttls"),
        // After the ClientHello, a TLS record: fatal alert, internal_error (80).
        Step::Pause(std::time::Duration::from_millis(300)),
        Step::Send(vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50]),
        Step::ExpectClose,
    ]);
    let run = check_fake(server.port(), "smtp", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "tls_failed", "{p:#}");
    assert_eq!(p.failed_phase.as_deref(), Some("tls_handshake"));
    assert_eq!(p.software.as_deref(), Some("OpenSMTPD"));
    assert_eq!(p.starttls_offered, Some(true));
    assert!(p.detail().contains("internal_error"), "{:?}", p.detail);
    assert_eq!(run.code, 1);
}

#[test]
fn postfix_submission_on_587_offers_auth_only_after_tls() {
    let (p, code, _) = healthy_starttls("postfix-3.7.11-submission", "submission");
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(code, 0);
    assert_eq!(p.service, "submission");
    assert_eq!(p.tls_mode, "required");
    assert!(p.auth_plain.is_empty());
    let after = &p.auth_tls;
    assert!(after.contains(&"PLAIN".to_string()), "{after:?}");
}

#[test]
fn submission_offering_plain_auth_before_tls_is_a_finding() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(vec![
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n"),
        Step::Expect("STARTTLS"),
        Step::send("220 go ahead\r\n"),
        Step::StartTls(pki.server_config(CertKind::Good, &[HOST])),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250 AUTH PLAIN LOGIN\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 bye\r\n"),
    ]);
    let run = check_fake(server.port(), "submission", Some(ca.path())).run();
    server.finish();
    assert_eq!(run.probe().outcome, "ok");
    assert_eq!(run.probe().auth_plain, ["PLAIN", "LOGIN"]);
    assert!(run.finding_codes().contains(&"auth_before_tls".to_string()));
    assert_eq!(run.code, 1);
}

#[test]
fn submissions_on_465_with_implicit_tls_is_ok() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(
        Recorded::smtp("postfix-3.7.11-smtps").implicit(pki.server_config(CertKind::Good, &[HOST])),
    );
    let run = check_fake(server.port(), "submissions", Some(ca.path())).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(run.code, 0);
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
    assert_eq!(p.tls().verdict, "valid");
    assert!(p.capabilities_plain.is_empty());
    assert!(!p.capabilities_tls.is_empty());
}

#[test]
fn exim_on_465_is_ok() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(
        Recorded::smtp("exim-4.96-smtps").implicit(pki.server_config(CertKind::Good, &[HOST])),
    );
    let run = check_fake(server.port(), "submissions", Some(ca.path())).run();
    server.finish();
    assert_eq!(run.probe().outcome, "ok", "{:#}", run.probe());
}

#[test]
fn starttls_not_advertised_on_587_fails_and_we_only_quit() {
    let server = FakeServer::smtp(dialogs::smtp_without_starttls());
    let run = check_fake(server.port(), "submission", None).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "starttls_unavailable", "{p:#}");
    assert_eq!(p.starttls_offered, Some(false));
    assert_eq!(p.failed_phase.as_deref(), Some("starttls"));
    assert_eq!(run.code, 1);
}

#[test]
fn starttls_not_advertised_on_25_is_only_a_warning() {
    let server = FakeServer::smtp(dialogs::smtp_without_starttls());
    let run = check_fake(server.port(), "smtp", None).run();
    server.finish();
    assert_eq!(run.probe().outcome, "starttls_unavailable");
    assert_eq!(run.finding_codes(), ["starttls_not_offered_relay"]);
    assert_eq!(run.report().findings[0].severity, "warn");
    assert_eq!(run.code, 0);
}

#[test]
fn starttls_masked_by_a_middlebox_is_named() {
    let server = FakeServer::smtp(vec![
        Step::send("220 ****************************\r\n"),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250-XXXXXXXA\r\n250 8BITMIME\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 Bye\r\n"),
    ]);
    let run = check_fake(server.port(), "submission", None).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "starttls_unavailable");
    assert!(p.starttls_stripped);
    assert_eq!(run.finding_codes(), ["starttls_stripped"]);
}

#[test]
fn starttls_answered_454_is_unavailable_with_the_servers_words() {
    let server = FakeServer::smtp(vec![
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250 STARTTLS\r\n"),
        Step::Expect("STARTTLS"),
        Step::send("454 4.7.0 TLS not available due to local problem\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 Bye\r\n"),
    ]);
    let run = check_fake(server.port(), "submission", None).run();
    server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "starttls_unavailable");
    assert!(p.detail().contains("454 4.7.0 TLS not available"));
    assert_eq!(p.failed_phase.as_deref(), Some("starttls"));
}

fn rejected_greeting(greeting: &'static str) -> Probe {
    let server = FakeServer::smtp(vec![
        Step::send(greeting),
        Step::Expect("QUIT"),
        Step::send("221 Bye\r\n"),
    ]);
    let run = check_fake(server.port(), "smtp", None).run();
    let transcript = server.finish();
    assert_eq!(transcript, ["QUIT"], "only QUIT after a refusal");
    assert_eq!(run.code, 1);
    run.probe()
}

#[test]
fn greeting_554_is_rejected_not_a_tls_failure() {
    let p = rejected_greeting("554 5.7.1 mail.example.test: Client host rejected: blocked\r\n");
    assert_eq!(p.outcome, "rejected");
    assert_eq!(p.failed_phase.as_deref(), Some("greeting"));
    assert!(p.detail().contains("Client host rejected"));
    assert!(p.tls.is_none());
}

/// A 421 whose words do not say that the server limits connections per
/// client is a refusal like any other: not retried (one connection only).
#[test]
fn greeting_421_is_rejected_with_the_servers_words() {
    let p = rejected_greeting("421 4.3.2 Service not available\r\n");
    assert_eq!(p.outcome, "rejected");
    assert!(p.detail().contains("421 4.3.2 Service not available"));
}

#[test]
fn a_server_that_never_greets_is_greeting_timeout_and_we_never_speak_first() {
    // The second connection is the check for TLS on the port, which also gets silence.
    let server = FakeServer::start(dialogs::silent_thrice());
    let run = check_fake(server.port(), "smtp", None)
        .greeting_timeout("1s")
        .reply_timeout("1s")
        .run();
    let p = run.probe();
    let lines = server.lines();
    drop(server);
    assert_eq!(p.outcome, "greeting_timeout", "{p:#}");
    assert_eq!(p.failed_phase.as_deref(), Some("greeting"));
    assert!(
        lines.iter().all(|l| l.conn != 0),
        "we spoke before the greeting: {lines:?}"
    );
    assert_eq!(run.code, 1);
}

#[test]
fn a_closed_port_is_refused() {
    let port = closed_port();
    let run = check_fake(port, "smtp", None).run();
    let p = run.probe();
    assert_eq!(p.outcome, "refused");
    assert_eq!(p.connect.as_ref().unwrap().result, "ECONNREFUSED");
    assert_eq!(run.code, 1);
}

#[test]
fn a_reset_after_accept_is_reset() {
    let server = FakeServer::smtp(vec![Step::Reset]);
    let run = check_fake(server.port(), "smtp", None).run();
    server.finish();
    assert_eq!(run.probe().outcome, "reset", "{:#}", run.probe());
}

#[test]
fn an_ssh_banner_on_the_smtp_port_is_a_protocol_mismatch() {
    let server = FakeServer::smtp(vec![
        Step::send("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
        Step::ExpectClose,
    ]);
    let run = check_fake(server.port(), "smtp", None).run();
    let transcript = server.finish();
    let p = run.probe();
    assert_eq!(p.outcome, "protocol_mismatch", "{p:#}");
    assert_eq!(p.peer_protocol.as_deref(), Some("ssh"));
    assert!(transcript.is_empty(), "{transcript:?}");
}

#[test]
fn tls_spoken_on_a_plaintext_port_is_a_protocol_mismatch() {
    let pki = TestPki::new();
    let tls = pki.server_config(CertKind::Good, &[HOST]);
    // The greeting's connection, then mailport's TLS and HTTP checks at once.
    let server = FakeServer::start(vec![
        vec![Step::StartTls(tls.clone())],
        vec![Step::StartTls(tls.clone())],
        vec![Step::StartTls(tls)],
    ]);
    let run = check_fake(server.port(), "submission", None)
        .greeting_timeout("1s")
        .run();
    let p = run.probe();
    eprintln!("{p:#}");
    drop(server);
    assert_eq!(p.outcome, "protocol_mismatch", "{p:#}");
    assert_eq!(p.peer_protocol.as_deref(), Some("tls"));
    assert!(p.detail().contains("implicit TLS"));
    assert_eq!(run.code, 1);
}

#[test]
fn plaintext_on_465_is_a_protocol_mismatch_naming_smtp() {
    let server = FakeServer::smtp(vec![
        Step::send("220 mail.example.test ESMTP Postfix\r\n"),
        Step::ExpectClose,
    ]);
    let run = check_fake(server.port(), "submissions", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "protocol_mismatch", "{p:#}");
    assert_eq!(p.peer_protocol.as_deref(), Some("smtp"));
    assert_eq!(p.failed_phase.as_deref(), Some("tls_handshake"));
}

#[test]
fn probes_run_at_once_three_filtered_ports_take_one_timeout() {
    let ports = [filtered_port(), filtered_port(), filtered_port()];
    let run = ports
        .iter()
        .fold(Mailport::check(HOST).loopback().json(), |cmd, p| {
            cmd.at(p.port, "smtp")
        })
        .connect_timeout("1s")
        .run();
    let report = run.report();
    let probes = report.probes();
    assert_eq!(probes.len(), 3);
    for p in probes {
        assert_eq!(p.outcome, "connect_timeout", "{p:#}");
        assert_eq!(p.connect.as_ref().unwrap().result, "timeout");
        let ms = p.phases[0].ms;
        assert!((900..2000).contains(&ms), "connect phase took {ms} ms");
    }
    // Sequential probes would need three timeouts (3 s) at least.
    let total = report.duration_ms;
    assert!(total < 2500, "three 1 s timeouts took {total} ms in all");
    // On this machine a timeout can only be this machine's doing.
    let codes = run.finding_codes();
    assert!(codes.contains(&"local_firewall".to_string()), "{codes:?}");
    assert!(
        !codes.contains(&"host_unreachable_or_filtered".to_string()),
        "{codes:?}"
    );
    assert_eq!(run.code, 1);
}

#[test]
fn the_deadline_cuts_a_long_phase_short() {
    // No time is left for the TLS check on a second connection.
    let server = FakeServer::smtp(vec![Step::Hang]);
    let run = check_fake(server.port(), "smtp", None)
        .greeting_timeout("30s")
        .args(["--deadline", "1s"])
        .run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "greeting_timeout", "{p:#}");
    assert!(p.detail().contains("deadline"), "{p:#}");
    assert!(p.total_ms < 3000);
}

#[test]
fn probes_that_cannot_start_before_the_deadline_are_not_run_not_timeouts() {
    // Two probes at a time, three filtered ports, a one-second deadline: the
    // third waits for a slot past the deadline and never starts.
    let ports = [filtered_port(), filtered_port(), filtered_port()];
    let run = ports
        .iter()
        .fold(Mailport::check(HOST).loopback().json(), |cmd, p| {
            cmd.at(p.port, "smtp")
        })
        .connect_timeout("5s")
        .args(["--deadline", "1s", "--max-probes", "2"])
        .run();
    let report = run.report();
    let outcomes: Vec<&str> = report.probes().iter().map(|p| p.outcome.as_str()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "connect_timeout").count(),
        2,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == "not_run").count(),
        1,
        "{outcomes:?}"
    );
    assert!(run.finding_codes().contains(&"not_run".to_string()));
    assert!(report.duration_ms < 2500);
    assert_eq!(run.code, 1);
}

#[test]
fn ehlo_refused_with_421_is_rejected_and_with_502_no_starttls_then_quit() {
    let server = FakeServer::smtp(vec![
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO"),
        Step::send("421 4.7.0 too many connections, closing\r\n"),
        Step::Close,
    ]);
    let run = check_fake(server.port(), "submission", None).run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "rejected", "{p:#}");
    assert_eq!(p.failed_phase.as_deref(), Some("capabilities"));
    assert!(p.detail().contains("421 4.7.0"));

    let server = FakeServer::smtp(vec![
        Step::send("220 old.example.test SMTP\r\n"),
        Step::Expect("EHLO"),
        Step::send("502 5.5.1 command not implemented\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 bye\r\n"),
    ]);
    let run = check_fake(server.port(), "submission", None).run();
    let transcript = server.finish();
    assert_eq!(
        run.probe().outcome,
        "starttls_unavailable",
        "{:#}",
        run.probe()
    );
    assert_eq!(transcript.last().map(String::as_str), Some("QUIT"));
}
