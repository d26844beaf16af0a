//! Issue 12: a server that speaks only TLS 1.0/1.1. rustls (TLS 1.2 and 1.3)
//! sees a bare close or an alert; mailport then asks which versions the
//! server speaks with a ClientHello of its own on one more connection (on
//! a STARTTLS port through the same dialog up to the yes), and says so.
//!
//! The fake (`Step::OldTls`) closes, alerts or answers old on a ClientHello
//! with supported_versions (rustls always sends it), and answers a
//! ServerHello of its version to one without it (mailport's own).

use crate::support::cmd::{Mailport, Run};
use crate::support::schema::valid_report;
use crate::support::server::{FakeServer, Modern, Step};
use crate::support::{check_fake, HOST};

const RSA_AES128_SHA: u16 = 0x002f;

fn old(version: u16, modern: Modern) -> Step {
    Step::OldTls {
        version,
        suite: RSA_AES128_SHA,
        modern,
    }
}

const TLS10_ONLY: &str = "the server speaks only TLS 1.0, which mailport (and current mail clients and servers) no longer accept; enable TLS 1.2 or later";

#[test]
fn r12_a_tls_1_0_only_server_that_closes_is_named_tls_1_0_only() {
    // rustls's handshake, then mailport's own ClientHello; twice (JSON, text).
    let scripts = vec![vec![old(0x0301, Modern::Close)]; 4];
    let server = FakeServer::start(scripts);
    let json = check_fake(server.port(), "submissions", None).run();
    let text = Mailport::check(HOST)
        .loopback()
        .at(server.port(), "submissions")
        .fast_timeouts()
        .run();
    let hellos = server.client_hellos();
    server.finish();

    // What went over the wire: rustls's ClientHello, then one without
    // supported_versions that offers up to TLS 1.2 and the old suites.
    assert_eq!(hellos.len(), 4, "{hellos:#?}");
    assert!(hellos[0].supported_versions, "{:?}", hellos[0]);
    let ours = &hellos[1];
    assert!(!ours.supported_versions, "{ours:?}");
    assert_eq!(ours.record_version, 0x0301);
    assert_eq!(ours.client_version, 0x0303);
    assert_eq!(ours.sni.as_deref(), Some(HOST));
    for suite in [0x002f, 0x0035, 0xc013, 0xc014, 0x000a] {
        assert!(ours.suites.contains(&suite), "{suite:04x}: {ours:?}");
    }

    let report = valid_report(&json);
    assert_eq!(json.code, 1, "{}", json.stdout);
    let p = report.first_probe();
    assert_eq!(p.outcome, "tls_failed", "{p:#}");
    assert!(p.detail().starts_with(TLS10_ONLY), "{}", p.detail());
    assert!(
        p.detail()
            .contains("closed the connection on mailport's TLS 1.2/1.3 handshake"),
        "{}",
        p.detail()
    );
    assert!(
        p.detail().contains("TLS_RSA_WITH_AES_128_CBC_SHA"),
        "{}",
        p.detail()
    );
    assert_eq!(p.failed_phase.as_deref(), Some("tls_handshake"));
    assert_eq!(
        p.phase_names(),
        ["connect", "tls_handshake", "tls_versions"]
    );
    assert!(p.phases[2].ok, "{p:#}");
    let v = p.tls_versions.as_ref().expect("tls_versions");
    assert_eq!(v.answer, "server_hello");
    assert_eq!(v.version.as_deref(), Some("TLS 1.0"));
    assert_eq!(
        v.cipher_suite.as_deref(),
        Some("TLS_RSA_WITH_AES_128_CBC_SHA")
    );
    assert!(v.second_connection);
    assert!(p.tls.is_none());
    assert_eq!(p.verdict, "fail");
    assert_eq!(p.verdict_code.as_deref(), Some("tls_obsolete_only"));

    assert_eq!(report.codes(), ["tls_obsolete_only"]);
    let f = report.finding("tls_obsolete_only");
    assert_eq!(f.severity, "fail");
    assert!(f.message.starts_with(TLS10_ONLY), "{}", f.message);
    assert!(f.hint.contains("Enable TLS 1.2"), "{}", f.hint);

    assert_eq!(text.code, 1);
    let shown = Run::text_finding(&text, "tls_obsolete_only");
    assert!(shown.contains("FAIL"), "{shown}");
    assert!(shown.contains("speaks only TLS 1.0"), "{shown}");
    assert!(shown.contains("enable TLS 1.2 or later"), "{shown}");
}

#[test]
fn r12_a_protocol_version_alert_to_rustls_and_tls_1_1_to_ours() {
    let server = FakeServer::start(vec![
        vec![old(0x0302, Modern::Alert(70))],
        vec![old(0x0302, Modern::Alert(70))],
    ]);
    let json = check_fake(server.port(), "imaps", None).run();
    server.finish();
    let report = valid_report(&json);
    let p = report.first_probe();
    assert_eq!(p.outcome, "tls_failed", "{p:#}");
    assert!(
        p.detail().starts_with(
            "the server speaks only TLS 1.1 and older, which mailport (and current mail clients and servers) no longer accept; enable TLS 1.2 or later"
        ),
        "{}",
        p.detail()
    );
    assert!(
        p.detail().contains("with a protocol_version alert"),
        "{}",
        p.detail()
    );
    let v = p.tls_versions.as_ref().unwrap();
    assert_eq!(v.version.as_deref(), Some("TLS 1.1"));
    assert_eq!(report.codes(), ["tls_obsolete_only"]);
    assert_eq!(json.code, 1);
}

#[test]
fn r12_an_old_server_hello_to_rustls_needs_no_second_connection() {
    // OpenSSL 1.0.0's way: it answers rustls too, with its own version.
    let server = FakeServer::one(vec![old(0x0301, Modern::ServerHello)]);
    let json = check_fake(server.port(), "pop3s", None).run();
    let hellos = server.client_hellos();
    server.finish();
    assert_eq!(hellos.len(), 1, "{hellos:#?}");
    let report = valid_report(&json);
    let p = report.first_probe();
    assert_eq!(p.outcome, "tls_failed", "{p:#}");
    assert!(p.detail().starts_with(TLS10_ONLY), "{}", p.detail());
    assert!(
        p.detail()
            .contains("answered mailport's TLS 1.2/1.3 handshake with a TLS 1.0 ServerHello"),
        "{}",
        p.detail()
    );
    assert_eq!(p.phase_names(), ["connect", "tls_handshake"]);
    let v = p.tls_versions.as_ref().unwrap();
    assert!(!v.second_connection);
    assert_eq!(v.version.as_deref(), Some("TLS 1.0"));
    assert_eq!(report.codes(), ["tls_obsolete_only"]);
}

#[test]
fn r12_tls_1_2_with_only_old_cipher_suites_says_so() {
    let server = FakeServer::start(vec![
        vec![old(0x0303, Modern::Alert(40))],
        vec![old(0x0303, Modern::Alert(40))],
    ]);
    let json = check_fake(server.port(), "submissions", None).run();
    server.finish();
    let report = valid_report(&json);
    let p = report.first_probe();
    assert_eq!(p.outcome, "tls_failed", "{p:#}");
    assert!(
        p.detail()
            .starts_with("the server speaks TLS 1.2 but none of the cipher suites rustls offers"),
        "{}",
        p.detail()
    );
    assert!(
        p.detail().contains("chose TLS_RSA_WITH_AES_128_CBC_SHA"),
        "{}",
        p.detail()
    );
    assert_eq!(
        p.tls_versions.as_ref().unwrap().version.as_deref(),
        Some("TLS 1.2")
    );
    assert_eq!(report.codes(), ["tls_failed"]);
    assert_eq!(report.finding("tls_failed").severity, "fail");
}

#[test]
fn r12_a_server_that_closes_on_every_client_hello_is_not_called_old() {
    let server = FakeServer::start(vec![
        vec![
            Step::Pause(std::time::Duration::from_millis(100)),
            Step::Close
        ];
        2
    ]);
    let json = check_fake(server.port(), "submissions", None).run();
    server.finish();
    let report = valid_report(&json);
    let p = report.first_probe();
    assert_eq!(p.outcome, "tls_failed", "{p:#}");
    assert!(
        p.detail()
            .starts_with("the server closed the connection during the TLS handshake; "),
        "{}",
        p.detail()
    );
    assert!(p.detail().contains("was closed too"), "{}", p.detail());
    assert!(!p.detail().contains("speaks only"), "{}", p.detail());
    let v = p.tls_versions.as_ref().unwrap();
    assert_eq!(v.answer, "closed");
    assert!(!p.phases[2].ok, "{p:#}");
    assert_eq!(report.codes(), ["tls_failed"]);
}

#[test]
fn r12_a_tls_1_0_only_server_behind_starttls_is_asked_through_the_dialog() {
    let script = || {
        vec![
            Step::send("220 mail.example.test ESMTP Postfix\r\n"),
            Step::Expect("EHLO"),
            Step::send("250-mail.example.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n"),
            Step::Expect("STARTTLS"),
            Step::send("220 2.0.0 Ready to start TLS\r\n"),
            old(0x0301, Modern::Close),
        ]
    };
    let server = FakeServer::start(vec![script(), script(), script(), script()]);
    let json = check_fake(server.port(), "submission", None).run();
    let text = Mailport::check(HOST)
        .loopback()
        .at(server.port(), "submission")
        .fast_timeouts()
        .run();
    let hellos = server.client_hellos();
    let lines = server.finish_lines();
    assert!(hellos[0].supported_versions && !hellos[1].supported_versions);
    // The second connection says only what the first said up to STARTTLS.
    let of = |conn: usize| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.conn == conn)
            .map(|l| l.text.split_whitespace().next().unwrap_or("").to_string())
            .take(2)
            .collect()
    };
    assert_eq!(of(0), ["EHLO", "STARTTLS"]);
    assert_eq!(of(1), ["EHLO", "STARTTLS"]);

    let report = valid_report(&json);
    let p = report.first_probe();
    assert_eq!(p.outcome, "tls_failed", "{p:#}");
    assert!(p.detail().starts_with(TLS10_ONLY), "{}", p.detail());
    assert_eq!(
        p.phase_names(),
        [
            "connect",
            "greeting",
            "capabilities",
            "starttls",
            "tls_handshake",
            "tls_versions"
        ]
    );
    assert_eq!(report.codes(), ["tls_obsolete_only"]);
    let f = report.finding("tls_obsolete_only");
    assert!(f.hint.starts_with("Postfix:"), "{}", f.hint);
    assert_eq!(json.code, 1);
    let shown = Run::text_finding(&text, "tls_obsolete_only");
    assert!(shown.contains("FAIL"), "{shown}");
    assert!(shown.contains("speaks only TLS 1.0"), "{shown}");
}
