//! Issue 12's missing findings and the causes in the server's words, each
//! against a fake server, asserted in the JSON report and in the text
//! output: the code, its severity and the wording.

use crate::support::certs::{CertKind, TestPki};
use crate::support::check_fake;
use crate::support::cmd::Run;
use crate::support::dialogs;
use crate::support::server::{FakeServer, Step};
use crate::support::HOST;
use std::path::Path;

/// Serve `scripts` twice and run the same check against them twice: once
/// with `--json`, once as text. Returns (json run, text run).
fn json_and_text(scripts: Vec<Vec<Step>>, service: &str, ca: Option<&Path>) -> (Run, Run) {
    let mut both = scripts.clone();
    both.extend(scripts);
    let server = FakeServer::start(both);
    let json = check_fake(server.port(), service, ca).run();
    let text = crate::support::cmd::Mailport::check(HOST)
        .loopback()
        .at(server.port(), service)
        .ca(ca)
        .fast_timeouts()
        .run();
    server.finish();
    (json, text)
}

#[test]
fn r12_submission_without_auth_even_after_tls_warns() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let script = vec![
        Step::send("220 mail.example.test ESMTP Postfix\r\n"),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n"),
        Step::Expect("STARTTLS"),
        Step::send("220 2.0.0 Ready to start TLS\r\n"),
        Step::StartTls(pki.server_config(CertKind::Good, &[HOST])),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 2.0.0 Bye\r\n"),
    ];
    let (json, text) = json_and_text(vec![script], "submission", Some(ca.path()));
    let report = json.report();
    assert_eq!(report.first_probe().outcome, "ok");
    let f = report.finding("submission_no_auth");
    assert_eq!(f.severity, "warn");
    assert!(f.message.contains("offers no AUTH"), "{}", f.message);
    assert!(f.message.contains("cannot log in"), "{}", f.message);
    assert!(f.hint.contains("smtpd_sasl_auth_enable"), "{}", f.hint);
    assert_eq!(json.code, 0, "a warning alone does not fail the check");
    let shown = Run::text_finding(&text, "submission_no_auth");
    assert!(shown.contains("WARN"), "{shown}");
    assert!(shown.contains("cannot log in"), "{shown}");
}

#[test]
fn r12_https_redirecting_to_http_warns_of_the_loop() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let mut script = vec![Step::StartTls(pki.server_config(CertKind::Good, &[HOST]))];
    script.extend(dialogs::http_answer(Step::send(
        "HTTP/1.1 301 Moved Permanently\r\nServer: nginx/1.22.1\r\n\
         Location: http://mail.example.test/\r\n\
         Strict-Transport-Security: max-age=31536000\r\nContent-Length: 0\r\n\r\n",
    )));
    let (json, text) = json_and_text(vec![script], "https", Some(ca.path()));
    let report = json.report();
    assert_eq!(report.first_probe().outcome, "ok");
    let f = report.finding("https_redirects_to_http");
    assert_eq!(f.severity, "warn");
    assert!(
        f.message
            .contains("301 Moved Permanently to http://mail.example.test/"),
        "{}",
        f.message
    );
    assert!(f.message.contains("loop"), "{}", f.message);
    assert!(f.hint.contains("X-Forwarded-Proto"), "{}", f.hint);
    let shown = Run::text_finding(&text, "https_redirects_to_http");
    assert!(shown.contains("WARN"), "{shown}");
    assert!(shown.contains("to http://mail.example.test/"), "{shown}");
}

/// The finding `starttls_refused` of a run: severity and quoted refusal.
#[track_caller]
fn assert_refused(json: &Run, text: &Run, severity: &str, quoted: &str) {
    let report = json.report();
    let p = report.first_probe();
    assert_eq!(p.outcome, "starttls_unavailable", "{p:#}");
    assert_eq!(p.starttls_reply.as_deref(), Some(quoted), "{p:#}");
    assert_eq!(report.codes(), ["starttls_refused"]);
    let f = report.finding("starttls_refused");
    assert_eq!(f.severity, severity);
    assert!(f.message.contains("but refused it"), "{}", f.message);
    assert!(
        f.message.contains(&format!("\"{quoted}\"")),
        "{}",
        f.message
    );
    assert!(!f.message.contains("\\r"), "{}", f.message);
    let shown = Run::text_finding(text, "starttls_refused");
    assert!(shown.contains(&severity.to_uppercase()), "{shown}");
    assert!(shown.contains(quoted), "{shown}");
}

#[test]
fn r12_starttls_offered_then_refused_with_454_is_its_own_finding() {
    let script = |service_quit: &'static str| {
        vec![
            Step::send("220 mail.example.test ESMTP Exim 4.96\r\n"),
            Step::Expect("EHLO"),
            Step::send("250-mail.example.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n"),
            Step::Expect("STARTTLS"),
            Step::send("454 4.7.0 TLS not available due to local problem\r\n"),
            Step::Expect(service_quit),
            Step::send("221 Bye\r\n"),
        ]
    };
    let quoted = "454 4.7.0 TLS not available due to local problem";
    // On the relay port: a warning (senders fall back to plaintext), not "not offered".
    let (json, text) = json_and_text(vec![script("QUIT")], "smtp", None);
    assert_refused(&json, &text, "warn", quoted);
    let f = json.report().finding("starttls_refused").clone();
    assert!(f.message.contains("offers STARTTLS"), "{}", f.message);
    assert!(f.hint.starts_with("Exim:"), "{}", f.hint);
    // On submission: a failure.
    let (json, text) = json_and_text(vec![script("QUIT")], "submission", None);
    assert_refused(&json, &text, "fail", quoted);
    assert_eq!(json.code, 1);
}

#[test]
fn r12_imap_no_and_pop3_err_to_starttls_are_starttls_refused() {
    let imap = vec![
        Step::send("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Courier-IMAP ready.\r\n"),
        Step::Expect("a2 STARTTLS"),
        Step::send("a2 NO [ALERT] TLS support not available\r\n"),
        Step::Expect("a4 LOGOUT"),
        Step::send("* BYE bye\r\na4 OK done\r\n"),
    ];
    let (json, text) = json_and_text(vec![imap], "imap", None);
    assert_refused(
        &json,
        &text,
        "fail",
        "a2 NO [ALERT] TLS support not available",
    );
    let pop3 = vec![
        Step::send("+OK Dovecot ready.\r\n"),
        Step::Expect("CAPA"),
        Step::send("+OK\r\nCAPA\r\nSTLS\r\nSASL\r\n.\r\n"),
        Step::Expect("STLS"),
        Step::send("-ERR [SYS/TEMP] TLS initialization failed.\r\n"),
        Step::Expect("QUIT"),
        Step::send("+OK bye\r\n"),
    ];
    let (json, text) = json_and_text(vec![pop3], "pop3", None);
    assert_refused(
        &json,
        &text,
        "fail",
        "-ERR [SYS/TEMP] TLS initialization failed.",
    );
    let f = json.report().finding("starttls_refused").clone();
    assert!(f.message.contains("offers STLS"), "{}", f.message);
    assert!(f.hint.starts_with("Dovecot:"), "{}", f.hint);
}

#[test]
fn r12_a_server_requiring_a_client_certificate_is_tls_failed_saying_so() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        // The handshake fails on the server's side: the script's last step.
        let server = FakeServer::one(vec![Step::StartTls(
            pki.client_auth_config(&[HOST], version),
        )]);
        let json = check_fake(server.port(), "submissions", Some(ca.path())).run();
        let errors = server.tls_handshake_errors();
        drop(server);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let p = json.probe();
        assert_eq!(p.outcome, "tls_failed", "{version:?} {p:#}");
        assert!(
            p.detail()
                .starts_with("the server requires a client certificate"),
            "{version:?}: {}",
            p.detail()
        );
        assert!(p.detail().contains("mailport sends none"), "{}", p.detail());
        let report = json.report();
        let f = report.finding("tls_failed");
        assert_eq!(f.severity, "fail");
        assert!(!f.hint.contains("rate limit"), "{}", f.hint);
        assert!(!report.codes().contains(&"closed"), "{:?}", report.codes());
    }
    let server = FakeServer::one(vec![Step::StartTls(
        pki.client_auth_config(&[HOST], &rustls::version::TLS13),
    )]);
    let text = crate::support::cmd::Mailport::check(HOST)
        .loopback()
        .at(server.port(), "submissions")
        .ca(Some(ca.path()))
        .fast_timeouts()
        .run();
    drop(server);
    let shown = Run::text_finding(&text, "tls_failed");
    assert!(shown.contains("FAIL"), "{shown}");
    assert!(shown.contains("requires a client certificate"), "{shown}");
}

#[test]
fn r12_courier_s_plaintext_cause_after_starttls_is_quoted() {
    let cause = "couriertls: /etc/courier/imapd.pem: No such file or directory";
    let greeting = "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Courier-IMAP ready.\r\n";
    // The cause after the yes, in its own segment (answering the ClientHello),
    // and in the same segment as the yes (ahead of the handshake).
    let apart = vec![
        Step::send(greeting),
        Step::Expect("a2 STARTTLS"),
        Step::send("a2 OK Begin SSL/TLS negotiation now.\r\n"),
        Step::Pause(std::time::Duration::from_millis(200)),
        Step::send(&format!("{cause}\n")),
        Step::Close,
    ];
    let together = vec![
        Step::send(greeting),
        Step::Expect("a2 STARTTLS"),
        Step::send(&format!(
            "a2 OK Begin SSL/TLS negotiation now.\r\n{cause}\n"
        )),
        Step::Close,
    ];
    for script in [apart, together] {
        let (json, text) = json_and_text(vec![script], "imap", None);
        let report = json.report();
        let p = report.first_probe();
        assert_eq!(p.outcome, "tls_failed", "{p:#}");
        assert!(
            p.detail()
                .ends_with(&format!("it wrote, in plaintext: \"{cause}\"")),
            "{}",
            p.detail()
        );
        assert!(!p.detail().contains("InvalidContentType"), "{}", p.detail());
        let f = report.finding("tls_failed");
        assert!(f.message.contains(cause), "{}", f.message);
        assert!(f.hint.starts_with("Courier:"), "{}", f.hint);
        let shown = Run::text_finding(&text, "tls_failed");
        assert!(shown.contains("FAIL"), "{shown}");
        assert!(shown.contains("No such file or directory"), "{shown}");
    }
}

#[test]
fn r12_a_cisco_masked_greeting_names_the_middlebox_and_its_setting() {
    let script = vec![
        Step::send("220 ******************************************************\r\n"),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250 8BITMIME\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 Bye\r\n"),
    ];
    let (json, text) = json_and_text(vec![script], "smtp", None);
    let report = json.report();
    assert_eq!(report.codes(), ["smtp_inspection_middlebox"]);
    let f = report.finding("smtp_inspection_middlebox");
    assert_eq!(f.severity, "warn");
    assert!(f.message.contains("Cisco PIX/ASA"), "{}", f.message);
    assert!(f.message.contains("inspect esmtp"), "{}", f.message);
    assert!(f.message.contains("fixup smtp"), "{}", f.message);
    assert!(!f.hint.contains("opportunistic"), "{}", f.hint);
    assert!(f.hint.contains("no inspect esmtp"), "{}", f.hint);
    let shown = Run::text_finding(&text, "smtp_inspection_middlebox");
    assert!(shown.contains("WARN"), "{shown}");
    assert!(shown.contains("inspect esmtp"), "{shown}");
}

#[test]
fn r12_quoted_server_lines_carry_no_cr_and_long_ones_end_in_an_ellipsis() {
    let long = format!("554 {}\r\n", "word ".repeat(40));
    let script = vec![Step::send(&format!("hello {long}")), Step::ExpectClose];
    let server = FakeServer::one(script);
    let run = check_fake(server.port(), "smtp", None).run();
    drop(server);
    let p = run.probe();
    assert!(!p.detail().contains("\\r"), "{}", p.detail());
    assert!(p.detail().contains("word…\""), "{}", p.detail());
}

#[test]
fn r12_a_silent_smtp_port_that_answers_http_is_named_http() {
    let scripts = vec![
        // The greeting never comes: a web server waits for a request.
        vec![Step::Hang],
        // The TLS check: the ClientHello is not a request line it can end.
        vec![Step::Hang],
        // The HTTP check.
        vec![
            Step::Expect("HEAD / HTTP/1.0"),
            Step::send("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Length: 0\r\n\r\n"),
            Step::ExpectClose,
        ],
    ];
    let mut both = scripts.clone();
    both.extend(scripts);
    let server = FakeServer::start(both);
    let json = check_fake(server.port(), "smtp", None)
        .greeting_timeout("1s")
        .run();
    let text = crate::support::cmd::Mailport::check(HOST)
        .loopback()
        .at(server.port(), "smtp")
        .fast_timeouts()
        .greeting_timeout("1s")
        .run();
    let lines = server.finish_lines();
    assert!(
        lines.iter().all(|l| l.conn % 3 != 0),
        "we spoke before the greeting: {lines:?}"
    );
    let report = json.report();
    let p = report.first_probe();
    assert_eq!(p.outcome, "protocol_mismatch", "{p:#}");
    assert_eq!(p.peer_protocol.as_deref(), Some("http"));
    assert!(
        p.detail().starts_with("this port speaks HTTP, not SMTP"),
        "{}",
        p.detail()
    );
    assert!(p.detail().contains("\"HTTP/1.1 200 OK\""), "{}", p.detail());
    assert_eq!(
        p.phase_names(),
        ["connect", "greeting", "tls_sniff", "http_sniff"]
    );
    let f = report.finding("protocol_mismatch");
    assert_eq!(f.severity, "fail");
    let shown = Run::text_finding(&text, "protocol_mismatch");
    assert!(shown.contains("FAIL"), "{shown}");
    assert!(shown.contains("this port speaks HTTP"), "{shown}");
}
