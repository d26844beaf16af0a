//! What the fake servers say: dialogs replayed from recordings of real
//! servers (`fixtures/<protocol>/<server>/`, see fixtures/README.md) and
//! synthetic ones, written once here for the protocol, hostile, matrix and
//! report tests. A test that needs one odd reply builds its own script
//! inline; a dialog used by two tests lives here.

use std::sync::Arc;

use super::server::Step;

type Tls = Arc<rustls::ServerConfig>;

/// The mail and web protocols mailport speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Smtp,
    Imap,
    Pop3,
    Http,
}

impl Proto {
    fn dir(self) -> &'static str {
        match self {
            Proto::Smtp => "smtp",
            Proto::Imap => "imap",
            Proto::Pop3 => "pop3",
            Proto::Http => "http",
        }
    }
}

/// Send the bytes of `fixtures/<path>`.
pub fn fixture(path: &str) -> Step {
    Step::Fixture(Box::leak(path.to_string().into_boxed_str()))
}

// ------------------------------------------------------------ recorded --

/// A recorded server: the replies in `fixtures/<protocol>/<dir>/`.
#[derive(Debug, Clone, Copy)]
pub struct Recorded {
    proto: Proto,
    dir: &'static str,
}

impl Recorded {
    pub fn smtp(dir: &'static str) -> Recorded {
        Recorded {
            proto: Proto::Smtp,
            dir,
        }
    }

    pub fn imap(dir: &'static str) -> Recorded {
        Recorded {
            proto: Proto::Imap,
            dir,
        }
    }

    pub fn pop3(dir: &'static str) -> Recorded {
        Recorded {
            proto: Proto::Pop3,
            dir,
        }
    }

    pub fn http(dir: &'static str) -> Recorded {
        Recorded {
            proto: Proto::Http,
            dir,
        }
    }

    /// Send the recorded reply `file` (`greeting`, `ehlo`, `capa`, ...).
    pub fn reply(&self, file: &str) -> Step {
        fixture(&format!("{}/{}/{file}", self.proto.dir(), self.dir))
    }

    /// The whole dialog on a STARTTLS port, `tls` after the server's yes.
    /// IMAP: the recorded greetings carry the capabilities (all of ours
    /// do), so mailport never needs `a1 CAPABILITY`.
    pub fn starttls(&self, tls: Tls) -> Vec<Step> {
        let r = |file| self.reply(file);
        match self.proto {
            Proto::Smtp => vec![
                r("greeting"),
                Step::Expect("EHLO "),
                r("ehlo"),
                Step::Expect("STARTTLS"),
                r("starttls"),
                Step::StartTls(tls),
                Step::Expect("EHLO "),
                r("ehlo_tls"),
                Step::Expect("QUIT"),
                r("quit"),
            ],
            Proto::Imap => vec![
                r("greeting"),
                Step::Expect("a2 STARTTLS"),
                r("starttls"),
                Step::StartTls(tls),
                Step::Expect("a3 CAPABILITY"),
                r("capability_tls"),
                Step::Expect("a4 LOGOUT"),
                r("logout"),
            ],
            Proto::Pop3 => vec![
                r("greeting"),
                Step::Expect("CAPA"),
                r("capa"),
                Step::Expect("STLS"),
                r("stls"),
                Step::StartTls(tls),
                Step::Expect("CAPA"),
                r("capa_tls"),
                Step::Expect("QUIT"),
                r("quit"),
            ],
            Proto::Http => panic!("HTTP has no STARTTLS"),
        }
    }

    /// The whole dialog on an implicit-TLS port served with `tls`.
    pub fn implicit(&self, tls: Tls) -> Vec<Step> {
        let r = |file| self.reply(file);
        let mut script = vec![Step::StartTls(tls)];
        script.extend(match self.proto {
            Proto::Smtp => vec![
                r("greeting"),
                Step::Expect("EHLO "),
                r("ehlo"),
                Step::Expect("QUIT"),
                r("quit"),
            ],
            Proto::Imap => vec![r("greeting"), Step::Expect("a4 LOGOUT"), r("logout")],
            Proto::Pop3 => vec![
                r("greeting"),
                Step::Expect("CAPA"),
                r("capa"),
                Step::Expect("QUIT"),
                r("quit"),
            ],
            Proto::Http => self.answer("response_443"),
        });
        script
    }

    /// HTTP: `GET /` answered with the recorded `response` file.
    pub fn answer(&self, response: &str) -> Vec<Step> {
        assert_eq!(self.proto, Proto::Http, "answer() is for HTTP");
        http_answer(self.reply(response))
    }
}

/// Answer `GET /` (with the Host header of the test host) with `response`,
/// then wait for the client to close.
pub fn http_answer(response: Step) -> Vec<Step> {
    vec![
        Step::Expect("GET / HTTP/1.1"),
        Step::Expect("Host: mail.example.test"),
        response,
        Step::ExpectClose,
    ]
}

/// A server config that offers these ALPN protocols (nginx and Apache
/// offer `h2` and `http/1.1`).
pub fn with_alpn(cfg: Tls, protocols: &[&[u8]]) -> Tls {
    let mut cfg = (*cfg).clone();
    cfg.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
    Arc::new(cfg)
}

// ----------------------------------------------------------- synthetic --

/// A healthy SMTP dialog of a server calling itself `name`: EHLO with
/// STARTTLS, `tls`, EHLO again with AUTH only after TLS, QUIT.
pub fn smtp_healthy(name: &str, tls: Tls) -> Vec<Step> {
    vec![
        Step::send(&format!("220 {name} ESMTP Postfix\r\n")),
        Step::Expect("EHLO"),
        Step::send(&format!("250-{name}\r\n250-STARTTLS\r\n250 8BITMIME\r\n")),
        Step::Expect("STARTTLS"),
        Step::send("220 2.0.0 Ready to start TLS\r\n"),
        Step::StartTls(tls),
        Step::Expect("EHLO"),
        Step::send(&format!("250-{name}\r\n250 AUTH PLAIN LOGIN\r\n")),
        Step::Expect("QUIT"),
        Step::send("221 2.0.0 Bye\r\n"),
    ]
}

/// An SMTP server that does not offer STARTTLS: greeting, EHLO, QUIT.
pub fn smtp_without_starttls() -> Vec<Step> {
    vec![
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO"),
        Step::send("250-mail.example.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 2.0.0 Bye\r\n"),
    ]
}

/// The shortest good SMTP dialog on an implicit-TLS port served with `tls`.
pub fn smtp_implicit(tls: Tls) -> Vec<Step> {
    vec![
        Step::StartTls(tls),
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO "),
        Step::send("250 mail.example.test\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 bye\r\n"),
    ]
}

/// The shortest good dialog of `proto` on an implicit-TLS port served
/// with `tls` (SMTP: [`smtp_implicit`]).
pub fn implicit(proto: Proto, tls: Tls) -> Vec<Step> {
    if proto == Proto::Smtp {
        return smtp_implicit(tls);
    }
    let mut script = vec![Step::StartTls(tls)];
    script.extend(match proto {
        Proto::Smtp => unreachable!(),
        Proto::Imap => vec![
            Step::send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"),
            Step::Expect("a4 LOGOUT"),
            Step::send("* BYE bye\r\na4 OK done\r\n"),
        ],
        Proto::Pop3 => vec![
            Step::send("+OK Dovecot ready.\r\n"),
            Step::Expect("CAPA"),
            Step::send("+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"),
            Step::Expect("QUIT"),
            Step::send("+OK bye\r\n"),
        ],
        Proto::Http => vec![
            Step::Expect("GET / HTTP/1.1"),
            Step::send("HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=31536000\r\n\r\n"),
            Step::ExpectClose,
        ],
    });
    script
}

/// A normal dialog of `proto` up to and including the server's yes to
/// STARTTLS; the TLS handshake comes next.
pub fn until_starttls_accepted(proto: Proto) -> Vec<Step> {
    match proto {
        Proto::Smtp => vec![
            Step::send("220 mail.example.test ESMTP\r\n"),
            Step::Expect("EHLO"),
            Step::send("250-mail.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"),
            Step::Expect("STARTTLS"),
            Step::send("220 2.0.0 Ready to start TLS\r\n"),
        ],
        Proto::Imap => vec![
            Step::send("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n"),
            Step::Expect("a2 STARTTLS"),
            Step::send("a2 OK Begin TLS negotiation now.\r\n"),
        ],
        Proto::Pop3 => vec![
            Step::send("+OK Dovecot ready.\r\n"),
            Step::Expect("CAPA"),
            Step::send("+OK\r\nCAPA\r\nSTLS\r\nSASL\r\n.\r\n"),
            Step::Expect("STLS"),
            Step::send("+OK Begin TLS negotiation now.\r\n"),
        ],
        Proto::Http => panic!("HTTP has no STARTTLS"),
    }
}

/// The command mailport asks for capabilities with inside TLS.
pub fn capability_command(proto: Proto) -> &'static str {
    match proto {
        Proto::Smtp => "EHLO",
        Proto::Imap => "a3 CAPABILITY",
        Proto::Pop3 => "CAPA",
        Proto::Http => panic!("HTTP has no STARTTLS"),
    }
}

/// A port that never greets, then silence again on the two connections
/// mailport opens to check for TLS and for HTTP on it.
pub fn silent_thrice() -> Vec<Vec<Step>> {
    vec![vec![Step::Hang], vec![Step::Hang], vec![Step::Hang]]
}
