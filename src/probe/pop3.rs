//! The POP3 dialog: greeting, CAPA, STLS, CAPA again, QUIT. Never USER, PASS,
//! APOP or AUTH; never a byte before the server's greeting; after a refused
//! STLS nothing but QUIT.
//!
//! A server without CAPA (RFC 2449) answers it with `-ERR`: that is recorded
//! as a note, not a failure. Such a server cannot advertise STLS, so on a
//! STLS port mailport then tries STLS anyway: it is harmless, and it is the
//! only way to learn whether the server can protect a login.

use super::{send, Dialog, GreetingText, NameSlot, ProbeSpec, Refusal, Stream};
use crate::net::{escape, LineIo, MAX_REPLY_BYTES, MAX_REPLY_LINES};
use crate::phase::Failure;
use crate::report::{Outcome, Phase, ProbeResult, SafeText};
use std::fmt;
use std::net::IpAddr;
use tokio::io::{AsyncRead, AsyncWrite};

/// A command, whose `Display` is its wire form without CRLF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Capa,
    Stls,
    Quit,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::Quit => "QUIT",
        })
    }
}

/// The status indicator that starts every POP3 response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Err,
}

/// The status of a response line, `None` when it is not POP3.
pub fn parse_status(line: &[u8]) -> Option<Status> {
    let word_end = |n: usize| matches!(line.get(n), None | Some(b' '));
    if line.len() >= 3 && line[..3].eq_ignore_ascii_case(b"+OK") && word_end(3) {
        Some(Status::Ok)
    } else if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"-ERR") && word_end(4) {
        Some(Status::Err)
    } else {
        None
    }
}

/// What a CAPA list says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capa {
    /// Every capability line, escaped, as sent.
    pub lines: Vec<SafeText>,
    pub stls: bool,
    /// `USER`: the USER/PASS plaintext login.
    pub user: bool,
    /// The `SASL` mechanisms, upper-cased.
    pub sasl: Vec<SafeText>,
    /// `IMPLEMENTATION`: the server software, when the server says.
    pub implementation: Option<SafeText>,
}

/// Read the capability lines of a CAPA response (without `+OK` and `.`).
pub fn parse_capa(lines: &[Vec<u8>]) -> Capa {
    let mut capa = Capa::default();
    for line in lines {
        capa.lines.push(escape(line));
        let text = String::from_utf8_lossy(line);
        let mut words = text.split_ascii_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        match keyword.to_ascii_uppercase().as_str() {
            "STLS" => capa.stls = true,
            "USER" => capa.user = true,
            "SASL" => {
                for mech in words.map(|w| escape(w.to_ascii_uppercase().as_bytes())) {
                    if !capa.sasl.contains(&mech) && capa.sasl.len() < 32 {
                        capa.sasl.push(mech);
                    }
                }
            }
            "IMPLEMENTATION" => {
                let rest = text[keyword.len()..].trim();
                if !rest.is_empty() {
                    capa.implementation = Some(escape(rest.as_bytes()));
                }
            }
            _ => {}
        }
    }
    capa
}

/// Read one single-line response.
async fn read_line<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut LineIo<S>,
    doing: &str,
) -> Result<(Status, Vec<u8>), Failure> {
    let line = io.read_line().await.map_err(|e| e.failure(doing))?;
    match parse_status(&line) {
        Some(s) => Ok((s, line)),
        None => Err(not_pop3(&io.first, &line, doing)),
    }
}

/// Read the lines of a multi-line response after its `+OK` line, up to the
/// terminating `.`, dot-unstuffed, bounded in lines and bytes.
pub async fn read_multiline<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut LineIo<S>,
    doing: &str,
) -> Result<Vec<Vec<u8>>, Failure> {
    let mut lines = Vec::new();
    let mut bytes = 0usize;
    loop {
        let line = io.read_line().await.map_err(|e| e.failure(doing))?;
        bytes += line.len() + 2;
        if bytes > MAX_REPLY_BYTES {
            return Err(Failure::new(
                Outcome::BadReply,
                format!("more than {MAX_REPLY_BYTES} bytes in one response while {doing}"),
            ));
        }
        if line == b"." {
            return Ok(lines);
        }
        let line = match line.strip_prefix(b".") {
            Some(rest) => rest.to_vec(),
            None => line,
        };
        lines.push(line);
        if lines.len() > MAX_REPLY_LINES {
            return Err(Failure::new(
                Outcome::BadReply,
                format!("more than {MAX_REPLY_LINES} lines in one response while {doing}"),
            ));
        }
    }
}

fn not_pop3(first: &[u8], line: &[u8], doing: &str) -> Failure {
    crate::net::not_the_protocol("pop3", first, line, doing)
}

/// The server software a POP3 greeting may name.
const SOFTWARE: &[(&str, &str)] = &[
    ("Dovecot", "Dovecot"),
    ("Cyrus POP3", "Cyrus POP3"),
    ("Courier-POP3", "Courier"),
    ("Microsoft Exchange", "Microsoft Exchange"),
    ("Zimbra", "Zimbra"),
    ("Qpopper", "Qpopper"),
    ("Gpop", "Gmail"),
    ("Stalwart", "Stalwart"),
    ("hMailServer", "hMailServer"),
    ("MDaemon", "MDaemon"),
    ("Kerio", "Kerio Connect"),
    ("maddy", "maddy"),
    ("mox", "mox"),
];

/// The POP3 side of the dialog: CAPA, STLS, QUIT. The capabilities are
/// `None` when the server has no CAPA.
pub(crate) struct Pop3;

impl Dialog for Pop3 {
    type Greeting = (Status, Vec<u8>);
    /// The CAPA list, or the `-ERR` line of a server without CAPA.
    type Answer = Result<Capa, Vec<u8>>;
    type Caps = Option<Capa>;

    const IMPLICIT_PORT: &'static str = "995";
    const WITH_STARTTLS: &'static str = "POP3 with STLS";
    const FIRST_COMMAND: &'static str = "CAPA";
    const STARTTLS_COMMAND: &'static str = "STLS";
    const STARTTLS: &'static str = "STLS";
    const STARTTLS_YES: &'static str = "+OK";
    const NAME_SLOT: NameSlot = NameSlot::FreeText;
    const SOFTWARE: &'static [(&'static str, &'static str)] = SOFTWARE;

    fn new(_: &ProbeSpec, _: Option<IpAddr>) -> Pop3 {
        Pop3
    }

    async fn read_greeting<S: Stream>(
        &self,
        io: &mut LineIo<S>,
    ) -> Result<(Status, Vec<u8>), Failure> {
        read_line(io, "waiting for the greeting").await
    }

    fn greeting_text((_, line): &(Status, Vec<u8>)) -> GreetingText {
        let shown = escape(line);
        let words = shown.get(4..).unwrap_or("").trim_start().to_string();
        GreetingText {
            shown,
            name_from: words.clone(),
            software_from: words,
        }
    }

    fn judge_greeting(
        (status, line): (Status, Vec<u8>),
        _: &mut ProbeResult,
    ) -> Result<Option<Option<Capa>>, Refusal> {
        if status == Status::Ok {
            return Ok(None);
        }
        Err(Refusal {
            failure: Failure::new(
                Outcome::Rejected,
                format!(
                    "the server refused the session in its greeting: \"{}\"",
                    escape(&line)
                ),
            ),
            goodbye: true,
        })
    }

    async fn ask_capabilities<S: Stream>(
        &self,
        io: &mut LineIo<S>,
        _: Phase,
    ) -> Result<Result<Capa, Vec<u8>>, Failure> {
        send(io, Command::Capa).await?;
        let (status, line) = read_line(io, "waiting for the reply to CAPA").await?;
        match status {
            Status::Ok => {
                let lines = read_multiline(io, "reading the CAPA list").await?;
                Ok(Ok(parse_capa(&lines)))
            }
            Status::Err => Ok(Err(line)),
        }
    }

    fn judge_capabilities(
        &self,
        answer: Result<Capa, Vec<u8>>,
        phase: Phase,
        res: &mut ProbeResult,
    ) -> Result<Option<Capa>, Refusal> {
        Ok(match answer {
            Ok(capa) => Some(capa),
            Err(line) => {
                let when = if phase == Phase::CapabilitiesTls {
                    " inside TLS"
                } else {
                    ""
                };
                res.notes.push(crate::escape::safe_text!(
                    "the server has no CAPA command{} (RFC 2449): it answered \"{}\"",
                    when,
                    crate::net::quote(&line, 80)
                ));
                None
            }
        })
    }

    fn record_caps(capa: Option<Capa>, tls: bool, res: &mut ProbeResult) {
        let Some(capa) = capa else {
            return;
        };
        if res.software.is_none() {
            res.software = capa.implementation;
        }
        if tls {
            res.capabilities_tls = capa.lines;
            res.auth_tls = capa.sasl;
            res.login_tls = Some(capa.user);
        } else {
            res.capabilities_plain = capa.lines;
            res.auth_plain = capa.sasl;
            res.starttls_offered = Some(capa.stls);
            res.login_plain = Some(capa.user);
        }
    }

    /// Without CAPA, STLS is tried anyway (see the module's note).
    fn no_starttls(capa: &Option<Capa>, _: &ProbeResult) -> Option<&'static str> {
        capa.as_ref()
            .is_some_and(|c| !c.stls)
            .then_some("the server does not offer STLS in its CAPA list")
    }

    async fn starttls<S: Stream>(
        &self,
        io: &mut LineIo<S>,
        capa: &Option<Capa>,
    ) -> Result<SafeText, Failure> {
        send(io, Command::Stls).await?;
        let (status, line) = read_line(io, "waiting for the reply to STLS").await?;
        if status == Status::Ok {
            return Ok(escape(&line));
        }
        let why = if capa.is_none() {
            "the server has no CAPA and refused STLS"
        } else {
            "the server refused STLS"
        };
        Err(Failure::new(
            Outcome::StarttlsUnavailable,
            format!("{why}: \"{}\"", escape(&line)),
        )
        .with_reply(escape(&line)))
    }

    async fn goodbye<S: Stream>(&self, io: &mut LineIo<S>) -> Result<(), Failure> {
        send(io, Command::Quit).await?;
        read_line(io, "waiting for the reply to QUIT")
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn software(text: &str) -> Option<String> {
        crate::probe::names::software(text, SOFTWARE)
    }

    fn lines(text: &[&str]) -> Vec<Vec<u8>> {
        text.iter().map(|l| l.as_bytes().to_vec()).collect()
    }

    #[test]
    fn statuses() {
        assert_eq!(parse_status(b"+OK Dovecot ready."), Some(Status::Ok));
        assert_eq!(parse_status(b"+OK"), Some(Status::Ok));
        assert_eq!(parse_status(b"-ERR no"), Some(Status::Err));
        assert_eq!(parse_status(b"-err"), Some(Status::Err));
        assert_eq!(parse_status(b"+OKAY"), None);
        assert_eq!(parse_status(b"* OK imap"), None);
        assert_eq!(parse_status(b""), None);
    }

    #[test]
    fn capa_lists() {
        let c = parse_capa(&lines(&[
            "TOP",
            "USER",
            "SASL PLAIN login PLAIN",
            "STLS",
            "IMPLEMENTATION Courier Mail Server",
        ]));
        assert!(c.stls && c.user);
        assert_eq!(c.sasl, vec!["PLAIN", "LOGIN"]);
        assert_eq!(c.implementation.as_deref(), Some("Courier Mail Server"));
        assert_eq!(c.lines.len(), 5);
        // Dovecot before TLS with plaintext logins disabled: an empty SASL line.
        let c = parse_capa(&lines(&["SASL", "STLS", ""]));
        assert!(c.sasl.is_empty() && !c.user && c.stls);
    }

    #[test]
    fn greeting_software() {
        assert_eq!(
            software("Dovecot (Debian) ready.").as_deref(),
            Some("Dovecot")
        );
        assert_eq!(
            software(
                "mail.example.test Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5 server ready <1.2@mail>"
            )
            .as_deref(),
            Some("Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5")
        );
        assert_eq!(software("Hello there."), None);
    }

    #[tokio::test]
    async fn multiline_is_unstuffed_and_bounded() {
        use tokio::io::AsyncWriteExt;
        let (client, mut server) = tokio::io::duplex(1 << 16);
        server
            .write_all(b"TOP\r\n..dotted\r\n.\r\nnext\r\n")
            .await
            .unwrap();
        let mut io = LineIo::new(client);
        let got = read_multiline(&mut io, "testing").await.unwrap();
        assert_eq!(got, lines(&["TOP", ".dotted"]));

        let (client, mut server) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            for _ in 0..MAX_REPLY_LINES + 10 {
                if server.write_all(b"X\r\n").await.is_err() {
                    return;
                }
            }
        });
        let mut io = LineIo::new(client);
        let f = read_multiline(&mut io, "testing").await.unwrap_err();
        assert_eq!(f.outcome, Outcome::BadReply);
    }

    #[test]
    fn commands_render_their_wire_form() {
        assert_eq!(Command::Capa.to_string(), "CAPA");
        assert_eq!(Command::Stls.to_string(), "STLS");
        assert_eq!(Command::Quit.to_string(), "QUIT");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_capa_list_is_read_without_panic(lines in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..40)) {
                let c = parse_capa(&lines);
                prop_assert!(c.sasl.len() <= 32);
                prop_assert!(c.lines.iter().all(|l| !l.chars().any(|ch| ch.is_control())));
                let _ = parse_status(lines.first().map(Vec::as_slice).unwrap_or_default());
            }

            #[test]
            fn any_byte_stream_ends_in_a_list_or_a_failure(bytes in proptest::collection::vec(any::<u8>(), 0..9000)) {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let result = rt.block_on(async {
                    use tokio::io::AsyncWriteExt;
                    let (client, mut server) = tokio::io::duplex(1 << 16);
                    server.write_all(&bytes).await.unwrap();
                    drop(server);
                    let mut io = LineIo::new(client);
                    read_multiline(&mut io, "testing").await
                });
                match result {
                    Ok(lines) => prop_assert!(lines.len() <= MAX_REPLY_LINES),
                    Err(f) => prop_assert!(!f.detail.is_empty()),
                }
            }

            #[test]
            fn greeting_software_never_panics(text in "\\PC{0,200}") {
                let _ = software(&text);
            }

            #[test]
            fn any_status_line_parses_or_not(line in proptest::collection::vec(any::<u8>(), 0..300)) {
                if let Some(status) = parse_status(&line) {
                    let word: &[u8] = if status == Status::Ok { b"+OK" } else { b"-ERR" };
                    prop_assert!(line[..word.len()].eq_ignore_ascii_case(word));
                }
            }

            #[test]
            fn a_rendered_status_line_parses_back(ok in any::<bool>(), text in "[ -~]{0,80}") {
                let (word, status) = if ok { ("+OK", Status::Ok) } else { ("-ERR", Status::Err) };
                prop_assert_eq!(parse_status(word.as_bytes()), Some(status));
                let line = format!("{word} {text}");
                prop_assert_eq!(parse_status(line.as_bytes()), Some(status));
            }
        }

        // Each case runs a runtime and a stream: fewer cases keep the suite fast.
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn a_dot_stuffed_list_reads_back(lines in proptest::collection::vec("[ -~]{0,60}", 0..60)) {
                let mut wire = String::new();
                for l in &lines {
                    if l.starts_with('.') {
                        wire.push('.');
                    }
                    wire.push_str(l);
                    wire.push_str("\r\n");
                }
                wire.push_str(".\r\n");
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let got = rt.block_on(async {
                    use tokio::io::AsyncWriteExt;
                    let (client, mut server) = tokio::io::duplex(1 << 16);
                    server.write_all(wire.as_bytes()).await.unwrap();
                    read_multiline(&mut LineIo::new(client), "testing").await
                });
                let want: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
                prop_assert_eq!(got, Ok(want));
            }
        }
    }
}
