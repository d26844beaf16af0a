//! Self-tests of the test support code, with plain std/rustls clients (not
//! the mailport binary): the fake server's scripting, transcript and safety
//! checks, the misbehaving ports, and the test PKI.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;

use crate::support::certs::{CertKind, TestPki};
use crate::support::ports::{closed_port, filtered_port};
use crate::support::server::safety::safety_violations;
use crate::support::server::{FakeServer, Line, Step};

const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

fn connect(server: &FakeServer) -> TcpStream {
    let stream = TcpStream::connect(server.addr()).expect("connect to fake server");
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream
}

/// Read one line byte by byte (so nothing after it is consumed), without CRLF.
fn read_line(reader: &mut dyn Read) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match reader.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) => panic!("client read failed after {line:?}: {e}"),
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).expect("server sent UTF-8")
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else {
        "<non-string panic>".to_string()
    }
}

/// Run `f` (which should panic) and return its panic message.
fn expect_panic(f: impl FnOnce()) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => panic!("expected a panic, but there was none"),
        Err(payload) => panic_message(payload),
    }
}

#[test]
fn smtp_dialog_round_trips() {
    let server = FakeServer::smtp(vec![
        Step::send("220 mx.example.test ESMTP\r\n"),
        Step::Expect("EHLO"),
        Step::send("250-mx.example.test\r\n250 SIZE 1000\r\n"),
        Step::Expect("quit"),
        Step::send("221 bye\r\n"),
    ]);
    let mut c = connect(&server);
    assert_eq!(read_line(&mut c), "220 mx.example.test ESMTP");
    c.write_all(b"EHLO client.test\r\n").unwrap();
    assert_eq!(read_line(&mut c), "250-mx.example.test");
    assert_eq!(read_line(&mut c), "250 SIZE 1000");
    c.write_all(b"QUIT\r\n").unwrap();
    assert_eq!(read_line(&mut c), "221 bye");
    drop(c);
    assert_eq!(server.finish(), ["EHLO client.test", "QUIT"]);
}

#[test]
fn expect_mismatch_makes_finish_panic() {
    let server = FakeServer::smtp(vec![
        Step::send("220 hi\r\n"),
        Step::Expect("EHLO"),
        Step::send("250 ok\r\n"),
    ]);
    let mut c = connect(&server);
    assert_eq!(read_line(&mut c), "220 hi");
    c.write_all(b"HELO old.client\r\n").unwrap();
    // The failed step ends the connection: the client sees EOF, not "250 ok".
    assert_eq!(read_line(&mut c), "");
    drop(c);
    let message = expect_panic(|| {
        server.finish();
    });
    assert!(
        message.contains(r#"expected a line starting with "EHLO", got "HELO old.client""#),
        "{message}"
    );
}

#[test]
fn data_breaks_the_safety_rules() {
    let server = FakeServer::smtp(vec![
        Step::send("220 hi\r\n"),
        Step::Expect("DATA"),
        Step::send("354 go on\r\n"),
    ]);
    let mut c = connect(&server);
    read_line(&mut c);
    c.write_all(b"DATA\r\n").unwrap();
    assert_eq!(read_line(&mut c), "354 go on");
    drop(c);
    let message = expect_panic(|| {
        server.finish();
    });
    assert!(
        message.contains(r#"SAFETY: connection #0 sent "DATA""#),
        "{message}"
    );
}

#[test]
fn anything_but_quit_after_refused_starttls_breaks_the_safety_rules() {
    let script = || {
        vec![
            Step::send("220 hi\r\n"),
            Step::Expect("STARTTLS"),
            Step::send("454 4.7.0 TLS not available\r\n"),
            Step::Expect(""),
            Step::send("221 bye\r\n"),
        ]
    };
    let run = |after: &str| {
        let server = FakeServer::smtp(script());
        let mut c = connect(&server);
        read_line(&mut c);
        c.write_all(b"STARTTLS\r\n").unwrap();
        assert!(read_line(&mut c).starts_with("454"));
        c.write_all(format!("{after}\r\n").as_bytes()).unwrap();
        read_line(&mut c);
        drop(c);
        server
    };
    assert_eq!(run("QUIT").finish(), ["STARTTLS", "QUIT"]);
    let server = run("EHLO again");
    let message = expect_panic(|| {
        server.finish();
    });
    assert!(
        message.contains(r#"sent "EHLO again" after its STARTTLS was refused"#),
        "{message}"
    );
}

#[test]
fn safety_rules_flag_mail_and_credentials_only() {
    let line = |text: &str| Line {
        conn: 0,
        tls: true,
        text: text.to_string(),
        after_refused_starttls: false,
    };
    for bad in [
        "MAIL FROM:<a@example.test>",
        "rcpt TO:<b@example.test>",
        "DATA",
        "AUTH PLAIN AGFAYg==",
        "USER alice",
        "PASS secret",
        "a1 LOGIN alice secret",
        "a2 authenticate PLAIN",
    ] {
        assert_eq!(safety_violations(&[line(bad)]).len(), 1, "{bad:?}");
    }
    for good in [
        "EHLO mailport.invalid",
        "STARTTLS",
        "QUIT",
        "a1 CAPABILITY",
        "a2 LOGOUT",
        "CAPA",
        "STLS",
        "GET / HTTP/1.1",
        "User-Agent: mailport",
        "",
    ] {
        assert_eq!(safety_violations(&[line(good)]), Vec::<String>::new());
    }
}

#[test]
fn imap_wildcard_tag_is_echoed() {
    let server = FakeServer::one(vec![
        Step::send("* OK IMAP ready\r\n"),
        Step::Expect("* CAPABILITY"),
        Step::send("* CAPABILITY IMAP4rev1 STARTTLS\r\n{tag} OK done\r\n"),
        Step::Expect("* LOGOUT"),
        Step::send("* BYE\r\n{tag} OK bye\r\n"),
    ]);
    let mut c = connect(&server);
    read_line(&mut c);
    c.write_all(b"x7 CAPABILITY\r\n").unwrap();
    assert_eq!(read_line(&mut c), "* CAPABILITY IMAP4rev1 STARTTLS");
    assert_eq!(read_line(&mut c), "x7 OK done");
    c.write_all(b"x8 LOGOUT\r\n").unwrap();
    assert_eq!(read_line(&mut c), "* BYE");
    assert_eq!(read_line(&mut c), "x8 OK bye");
    drop(c);
    assert_eq!(server.finish(), ["x7 CAPABILITY", "x8 LOGOUT"]);
}

#[test]
fn unexpected_extra_connection_is_reported() {
    let server = FakeServer::one(vec![Step::send("220 hi\r\n")]);
    let mut first = connect(&server);
    assert_eq!(read_line(&mut first), "220 hi");
    let mut second = connect(&server);
    assert_eq!(
        read_line(&mut second),
        "",
        "extra connection is closed at once"
    );
    drop((first, second));
    let message = expect_panic(|| {
        server.finish();
    });
    assert!(
        message.contains("1 unexpected extra connection"),
        "{message}"
    );
}

#[test]
fn hang_reset_slow_and_send_forever() {
    let server = FakeServer::start(vec![
        vec![Step::Hang],
        vec![Step::send("220 hi\r\n"), Step::Reset],
        vec![Step::Slow {
            bytes: b"220 slow\r\n".to_vec(),
            interval: Duration::from_millis(20),
        }],
        vec![Step::SendForever(vec![b'x'; 1000])],
    ]);

    // Hang: nothing comes; the client gives up and closes.
    let mut c = connect(&server);
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let err = c.read(&mut [0u8; 16]).unwrap_err();
    assert!(matches!(
        err.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));
    drop(c);

    // Reset: the client sees ECONNRESET after the greeting.
    let mut c = connect(&server);
    assert_eq!(read_line(&mut c), "220 hi");
    let mut rest = [0u8; 16];
    let err = loop {
        match c.read(&mut rest) {
            Ok(0) => panic!("expected a reset, got a clean EOF"),
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    drop(c);

    // Slow: one byte every 20 ms.
    let mut c = connect(&server);
    let started = Instant::now();
    assert_eq!(read_line(&mut c), "220 slow");
    assert!(started.elapsed() >= Duration::from_millis(150));
    drop(c);

    // SendForever: read a little, then go away; the server stops quietly.
    let mut c = connect(&server);
    let mut some = [0u8; 5000];
    c.read_exact(&mut some).unwrap();
    assert!(some.iter().all(|b| *b == b'x'));
    c.shutdown(Shutdown::Both).unwrap();
    drop(c);

    assert_eq!(server.finish(), Vec::<String>::new());
}

#[test]
fn close_and_expect_close() {
    let server = FakeServer::start(vec![
        vec![Step::send("hi\r\n"), Step::Close],
        vec![Step::send("bye\r\n"), Step::ExpectClose],
    ]);
    let mut c = connect(&server);
    assert_eq!(read_line(&mut c), "hi");
    assert_eq!(read_line(&mut c), "", "Close gives the client a clean EOF");
    drop(c);
    let mut c = connect(&server);
    assert_eq!(read_line(&mut c), "bye");
    c.write_all(b"QUIT\r\nunterminated").unwrap();
    drop(c);
    assert_eq!(server.finish(), ["QUIT", "unterminated"]);
}

#[test]
fn failed_handshake_with_steps_left_is_a_failure() {
    let pki = TestPki::new();
    let config = pki.server_config(CertKind::WrongName, &["mail.example.test"]);
    let server = FakeServer::one(vec![Step::StartTls(config), Step::Expect("HELLO")]);
    let mut sock = connect(&server);
    assert!(handshake(&pki, "mail.example.test", &mut sock).is_err());
    drop(sock);
    let message = expect_panic(|| {
        server.finish();
    });
    assert!(message.contains("TLS handshake failed"), "{message}");
}

#[test]
fn closed_port_refuses() {
    let port = closed_port();
    let err = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn filtered_port_times_out() {
    let filtered = filtered_port();
    let started = Instant::now();
    let err = TcpStream::connect_timeout(&filtered.addr(), Duration::from_millis(500)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(started.elapsed() >= Duration::from_millis(450));
}

#[test]
#[should_panic(expected = "fixtures/no/such/fixture")]
fn missing_fixture_panics_with_its_path() {
    crate::support::fixture("no/such/fixture");
}

#[test]
fn ca_file_holds_the_root_pem() {
    let pki = TestPki::new();
    let file = pki.ca_file();
    let pem = std::fs::read_to_string(file.path()).unwrap();
    assert_eq!(pem, pki.ca_pem());
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
}

fn client_config(pki: &TestPki) -> Arc<rustls::ClientConfig> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(pki.root_store())
    .with_no_client_auth();
    Arc::new(config)
}

/// Handshake with `sock` as `name`; the rustls error if it fails.
fn handshake(
    pki: &TestPki,
    name: &str,
    sock: &mut TcpStream,
) -> Result<rustls::ClientConnection, rustls::Error> {
    let name = ServerName::try_from(name.to_string()).unwrap();
    let mut conn = rustls::ClientConnection::new(client_config(pki), name).unwrap();
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(sock) {
            let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
            return Err(inner
                .cloned()
                .unwrap_or_else(|| panic!("handshake failed with a non-TLS error: {e}")));
        }
    }
    Ok(conn)
}

#[test]
fn tls_good_certificate_handshakes() {
    let pki = TestPki::new();
    let config = pki.server_config(CertKind::Good, &["mail.example.test"]);
    let server = FakeServer::one(vec![
        Step::StartTls(config),
        Step::Expect("HELLO"),
        Step::send("WORLD\r\n"),
    ]);
    let mut sock = connect(&server);
    let conn = handshake(&pki, "mail.example.test", &mut sock).expect("handshake");
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(b"HELLO\r\n").unwrap();
    assert_eq!(read_line(&mut tls), "WORLD");
    tls.conn.send_close_notify();
    tls.flush().unwrap();
    drop(tls);
    assert_eq!(server.tls_handshakes(), 1);
    assert_eq!(server.finish(), ["HELLO"]);
}

#[test]
fn starttls_lines_are_marked_tls() {
    let pki = TestPki::new();
    let config = pki.server_config(CertKind::Good, &["mail.example.test", "127.0.0.1"]);
    let server = FakeServer::smtp(vec![
        Step::send("220 hi\r\n"),
        Step::Expect("EHLO"),
        Step::send("250 STARTTLS\r\n"),
        Step::Expect("STARTTLS"),
        Step::send("220 go ahead\r\n"),
        Step::StartTls(config),
        Step::Expect("EHLO"),
        Step::send("250 ok\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 bye\r\n"),
    ]);
    let mut sock = connect(&server);
    read_line(&mut sock);
    sock.write_all(b"EHLO c\r\n").unwrap();
    read_line(&mut sock);
    sock.write_all(b"STARTTLS\r\n").unwrap();
    assert_eq!(read_line(&mut sock), "220 go ahead");
    let conn = handshake(&pki, "127.0.0.1", &mut sock).expect("handshake (IP SAN)");
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(b"EHLO c\r\n").unwrap();
    assert_eq!(read_line(&mut tls), "250 ok");
    tls.write_all(b"QUIT\r\n").unwrap();
    assert_eq!(read_line(&mut tls), "221 bye");
    drop(tls);
    let lines = server.transcript_tls();
    server.finish();
    assert_eq!(
        lines,
        [
            (false, "EHLO c".to_string()),
            (false, "STARTTLS".to_string()),
            (true, "EHLO c".to_string()),
            (true, "QUIT".to_string()),
        ]
    );
}

#[test]
fn tls_bad_certificates_fail_with_the_expected_error() {
    use rustls::CertificateError as E;
    let pki = TestPki::new();
    type Check = fn(&rustls::Error) -> bool;
    let cases: [(CertKind, Check); 6] = [
        (CertKind::Expired, |e| {
            matches!(
                e,
                rustls::Error::InvalidCertificate(E::Expired | E::ExpiredContext { .. })
            )
        }),
        (CertKind::NotYetValid, |e| {
            matches!(
                e,
                rustls::Error::InvalidCertificate(E::NotValidYet | E::NotValidYetContext { .. })
            )
        }),
        (CertKind::WrongName, |e| {
            matches!(
                e,
                rustls::Error::InvalidCertificate(
                    E::NotValidForName | E::NotValidForNameContext { .. }
                )
            )
        }),
        (CertKind::MissingIntermediate, |e| {
            matches!(e, rustls::Error::InvalidCertificate(E::UnknownIssuer))
        }),
        (CertKind::SelfSigned, |e| {
            matches!(e, rustls::Error::InvalidCertificate(E::UnknownIssuer))
        }),
        (CertKind::UnknownCa, |e| {
            matches!(e, rustls::Error::InvalidCertificate(E::UnknownIssuer))
        }),
    ];
    for (kind, expected) in cases {
        let config = pki.server_config(kind, &["mail.example.test"]);
        let server = FakeServer::one(vec![Step::StartTls(config)]);
        let mut sock = connect(&server);
        let err = handshake(&pki, "mail.example.test", &mut sock)
            .err()
            .unwrap_or_else(|| panic!("{kind:?}: handshake unexpectedly succeeded"));
        assert!(expected(&err), "{kind:?}: unexpected error {err:?}");
        drop(sock);
        // The server records the failed handshake; as the last step it is no failure.
        server.finish();
    }
}

#[test]
fn failed_handshake_is_recorded_by_the_server() {
    let pki = TestPki::new();
    let config = pki.server_config(CertKind::Expired, &["mail.example.test"]);
    let server = FakeServer::one(vec![Step::StartTls(config)]);
    let mut sock = connect(&server);
    assert!(handshake(&pki, "mail.example.test", &mut sock).is_err());
    drop(sock);
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    while server.tls_handshake_errors().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let errors = server.tls_handshake_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(server.tls_handshakes(), 0);
    server.finish();
}
