//! The SMTP dialog: greeting, EHLO, STARTTLS, EHLO again, QUIT. Never MAIL,
//! RCPT, DATA or AUTH; never a byte before the server's 220.

use super::{send, Dialog, GreetingText, NameSlot, ProbeSpec, Refusal, Stream};
use crate::net::{escape, LineIo, MAX_REPLY_BYTES, MAX_REPLY_LINES};
use crate::phase::Failure;
use crate::report::{Outcome, Phase, ProbeResult, SafeText};
use crate::service::TlsMode;
use std::fmt;
use std::net::IpAddr;
use tokio::io::{AsyncRead, AsyncWrite};

/// A command, whose `Display` is its wire form without CRLF.
enum Command<'a> {
    Ehlo(&'a str),
    StartTls,
    Quit,
}

impl fmt::Display for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Ehlo(name) => write!(f, "EHLO {name}"),
            Command::StartTls => f.write_str("STARTTLS"),
            Command::Quit => f.write_str("QUIT"),
        }
    }
}

/// One SMTP reply: its code and its raw lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<Vec<u8>>,
}

impl Reply {
    /// The reply as display text: lines escaped, joined with " / ".
    pub fn text(&self) -> SafeText {
        let lines: Vec<SafeText> = self.lines.iter().map(|l| escape(l)).collect();
        SafeText::join(&lines, " / ")
    }

    /// The text of each line after the code and separator.
    pub fn texts(&self) -> impl Iterator<Item = &[u8]> {
        self.lines
            .iter()
            .map(|l| if l.len() > 4 { &l[4..] } else { &[][..] })
    }
}

/// Why a reply line is not SMTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Not three digits 2xx–5xx followed by space, hyphen or the end.
    Malformed,
}

/// Parse the start of a reply line: its code and whether it is the last line.
pub fn parse_line(line: &[u8]) -> Result<(u16, bool), LineError> {
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return Err(LineError::Malformed);
    }
    if !(b'2'..=b'5').contains(&line[0]) || line[1] > b'9' {
        return Err(LineError::Malformed);
    }
    let code =
        (line[0] - b'0') as u16 * 100 + (line[1] - b'0') as u16 * 10 + (line[2] - b'0') as u16;
    match line.get(3) {
        None | Some(b' ') => Ok((code, true)),
        Some(b'-') => Ok((code, false)),
        Some(_) => Err(LineError::Malformed),
    }
}

/// Read one whole reply, bounded in lines and bytes (time is bounded by the caller).
pub async fn read_reply<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut LineIo<S>,
    doing: &str,
) -> Result<Reply, Failure> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut bytes = 0usize;
    loop {
        let line = io.read_line().await.map_err(|e| e.failure(doing))?;
        bytes += line.len() + 2;
        let (code, last) = match parse_line(&line) {
            Ok(v) => v,
            Err(_) if lines.is_empty() => return Err(not_smtp(&io.first, &line, doing)),
            Err(_) => {
                return Err(Failure::new(
                    Outcome::BadReply,
                    format!(
                        "a malformed line in the middle of a reply while {doing}: \"{}\"",
                        crate::net::quote(&line, 80)
                    ),
                ))
            }
        };
        if let Some(first) = lines.first() {
            if parse_line(first).map(|(c, _)| c) != Ok(code) {
                return Err(Failure::new(
                    Outcome::BadReply,
                    format!("the lines of one reply carry different codes while {doing}"),
                ));
            }
        }
        lines.push(line);
        if bytes > MAX_REPLY_BYTES {
            return Err(Failure::new(
                Outcome::BadReply,
                format!("more than {MAX_REPLY_BYTES} bytes in one reply while {doing}"),
            ));
        }
        if last {
            return Ok(Reply { code, lines });
        }
        if lines.len() >= MAX_REPLY_LINES {
            return Err(Failure::new(
                Outcome::BadReply,
                format!("more than {MAX_REPLY_LINES} lines in one reply while {doing}"),
            ));
        }
    }
}

fn not_smtp(first: &[u8], line: &[u8], doing: &str) -> Failure {
    crate::net::not_the_protocol("smtp", first, line, doing)
}

/// What an EHLO reply says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EhloReply {
    /// Every line, escaped, as sent (code included).
    pub lines: Vec<SafeText>,
    pub starttls: bool,
    /// STARTTLS masked by a middlebox: a keyword such as `XXXXXXXA`.
    pub stripped: bool,
    pub auth: Vec<SafeText>,
}

/// Read the capabilities out of a 250 reply to EHLO.
pub fn parse_ehlo(reply: &Reply) -> EhloReply {
    let mut ehlo = EhloReply {
        lines: reply.lines.iter().map(|l| escape(l)).collect(),
        ..EhloReply::default()
    };
    for text in reply.texts().skip(1) {
        let text = String::from_utf8_lossy(text);
        let mut words = text.split_ascii_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        let upper = keyword.to_ascii_uppercase();
        if upper == "STARTTLS" {
            ehlo.starttls = true;
        } else if is_masked_starttls(&upper) {
            ehlo.stripped = true;
        } else if upper == "AUTH" || upper.starts_with("AUTH=") {
            let first = upper.strip_prefix("AUTH=").filter(|m| !m.is_empty());
            for mech in first
                .into_iter()
                .map(str::to_string)
                .chain(words.map(|w| w.to_ascii_uppercase()))
            {
                if !ehlo.auth.iter().any(|a| a.as_str() == mech) && ehlo.auth.len() < 32 {
                    ehlo.auth.push(escape(mech.as_bytes()));
                }
            }
        }
    }
    ehlo
}

/// Cisco's ESMTP inspection rewrites `STARTTLS` as `XXXXXXXA`: same length, Xs.
fn is_masked_starttls(upper: &str) -> bool {
    upper.len() == 8 && upper.starts_with("XXXX") && upper.chars().all(|c| c == 'X' || c == 'A')
}

/// The server software an SMTP greeting may name.
const SOFTWARE: &[(&str, &str)] = &[
    ("Postfix", "Postfix"),
    ("OpenSMTPD", "OpenSMTPD"),
    ("Exim", "Exim"),
    ("Sendmail", "Sendmail"),
    ("Microsoft ESMTP MAIL Service", "Microsoft Exchange"),
    ("Haraka", "Haraka"),
    ("Stalwart", "Stalwart"),
    ("Maddy", "maddy"),
    ("mox", "mox"),
    ("qmail", "qmail"),
    ("Zimbra", "Zimbra"),
    ("MailEnable", "MailEnable"),
    ("hMailServer", "hMailServer"),
    ("Chasquid", "chasquid"),
    ("smtpd", "smtpd"),
];

/// The SMTP side of the dialog: EHLO, STARTTLS, QUIT.
pub(crate) struct Smtp {
    /// The name announced in EHLO.
    ehlo: String,
    implicit: bool,
}

impl Dialog for Smtp {
    type Greeting = Reply;
    type Answer = Reply;
    type Caps = EhloReply;

    const IMPLICIT_PORT: &'static str = "465";
    const WITH_STARTTLS: &'static str = "SMTP with STARTTLS";
    const FIRST_COMMAND: &'static str = "EHLO";
    const STARTTLS_COMMAND: &'static str = "STARTTLS";
    const STARTTLS: &'static str = "STARTTLS";
    const STARTTLS_YES: &'static str = "220";
    const NAME_SLOT: NameSlot = NameSlot::Domain;
    const SOFTWARE: &'static [(&'static str, &'static str)] = SOFTWARE;

    fn new(spec: &ProbeSpec, local: Option<IpAddr>) -> Smtp {
        Smtp {
            ehlo: spec.ehlo.for_local(local),
            implicit: spec.service.tls == TlsMode::Implicit,
        }
    }

    async fn read_greeting<S: Stream>(&self, io: &mut LineIo<S>) -> Result<Reply, Failure> {
        read_reply(io, "waiting for the greeting").await
    }

    fn greeting_text(reply: &Reply) -> GreetingText {
        let first = reply.texts().next().unwrap_or_default();
        GreetingText {
            shown: reply.text(),
            name_from: String::from_utf8_lossy(first).into_owned(),
            software_from: reply.text().into_string(),
        }
    }

    fn judge_greeting(reply: Reply, _: &mut ProbeResult) -> Result<Option<EhloReply>, Refusal> {
        if reply.code == 220 {
            return Ok(None);
        }
        let text = reply.text();
        let failure = if (400..600).contains(&reply.code) {
            Failure::new(
                Outcome::Rejected,
                format!("the server refused the session in its greeting: \"{text}\""),
            )
        } else {
            Failure::new(
                Outcome::BadReply,
                format!("the greeting carries an unexpected code: \"{text}\""),
            )
        };
        Err(Refusal {
            failure,
            goodbye: true,
        })
    }

    async fn ask_capabilities<S: Stream>(
        &self,
        io: &mut LineIo<S>,
        _: Phase,
    ) -> Result<Reply, Failure> {
        send(io, Command::Ehlo(&self.ehlo)).await?;
        read_reply(io, "waiting for the reply to EHLO").await
    }

    fn judge_capabilities(
        &self,
        reply: Reply,
        phase: Phase,
        _: &mut ProbeResult,
    ) -> Result<EhloReply, Refusal> {
        if reply.code == 250 {
            return Ok(parse_ehlo(&reply));
        }
        let text = reply.text();
        let failure = if reply.code < 500 {
            // 421 and other 4xx: the server turns us away, for now.
            Failure::new(
                Outcome::Rejected,
                format!("the server refused EHLO for now: \"{text}\""),
            )
        } else if self.implicit || phase == Phase::CapabilitiesTls {
            Failure::new(
                Outcome::Rejected,
                format!("the server refused EHLO: \"{text}\""),
            )
        } else {
            // A HELO-only server has no extensions, so no STARTTLS.
            Failure::new(
                Outcome::StarttlsUnavailable,
                format!(
                    "the server refused EHLO, so it offers no extension and no STARTTLS: \"{text}\""
                ),
            )
        };
        // After 421 the server closes; otherwise say goodbye.
        Err(Refusal {
            failure,
            goodbye: reply.code != 421,
        })
    }

    fn record_caps(ehlo: EhloReply, tls: bool, res: &mut ProbeResult) {
        if tls {
            res.capabilities_tls = ehlo.lines;
            res.auth_tls = ehlo.auth;
        } else {
            res.capabilities_plain = ehlo.lines;
            res.auth_plain = ehlo.auth;
            res.starttls_offered = Some(ehlo.starttls);
            res.starttls_stripped = ehlo.stripped;
        }
    }

    fn no_starttls(ehlo: &EhloReply, _: &ProbeResult) -> Option<&'static str> {
        match (ehlo.starttls, ehlo.stripped) {
            (true, _) => None,
            (false, true) => Some("STARTTLS is masked in the EHLO reply (XXXXXXXA): a middlebox, such as a firewall's ESMTP inspection, stripped it"),
            (false, false) => Some("the server does not offer STARTTLS in its EHLO reply"),
        }
    }

    async fn starttls<S: Stream>(
        &self,
        io: &mut LineIo<S>,
        _: &EhloReply,
    ) -> Result<SafeText, Failure> {
        send(io, Command::StartTls).await?;
        let reply = read_reply(io, "waiting for the reply to STARTTLS").await?;
        if reply.code == 220 {
            Ok(reply.text())
        } else {
            Err(Failure::new(
                Outcome::StarttlsUnavailable,
                format!("the server refused STARTTLS: \"{}\"", reply.text()),
            )
            .with_reply(reply.text()))
        }
    }

    async fn goodbye<S: Stream>(&self, io: &mut LineIo<S>) -> Result<(), Failure> {
        send(io, Command::Quit).await?;
        read_reply(io, "waiting for the reply to QUIT")
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::names;

    fn greeting_name(reply: &Reply) -> Option<String> {
        names::greeting_name(&Smtp::greeting_text(reply).name_from, NameSlot::Domain)
    }

    fn software(text: &str) -> Option<String> {
        names::software(text, SOFTWARE)
    }

    fn reply(lines: &[&str]) -> Reply {
        let (code, _) = parse_line(lines[0].as_bytes()).unwrap();
        Reply {
            code,
            lines: lines.iter().map(|l| l.as_bytes().to_vec()).collect(),
        }
    }

    #[test]
    fn reply_lines() {
        assert_eq!(parse_line(b"220 mail ESMTP"), Ok((220, true)));
        assert_eq!(parse_line(b"250-PIPELINING"), Ok((250, false)));
        assert_eq!(parse_line(b"250"), Ok((250, true)));
        assert_eq!(parse_line(b"554 5.7.1 no"), Ok((554, true)));
        assert_eq!(parse_line(b"2x0 hello"), Err(LineError::Malformed));
        assert_eq!(parse_line(b"99"), Err(LineError::Malformed));
        assert_eq!(parse_line(b""), Err(LineError::Malformed));
        assert_eq!(parse_line(b"120 wait"), Err(LineError::Malformed));
        assert_eq!(parse_line(b"650 x"), Err(LineError::Malformed));
        assert_eq!(parse_line(b"220_x"), Err(LineError::Malformed));
        assert_eq!(parse_line(b"SSH-2.0-OpenSSH"), Err(LineError::Malformed));
    }

    #[test]
    fn ehlo_capabilities() {
        let e = parse_ehlo(&reply(&[
            "250-mail.example.test",
            "250-PIPELINING",
            "250-SIZE 10240000",
            "250-STARTTLS",
            "250-AUTH PLAIN LOGIN",
            "250-AUTH=PLAIN LOGIN",
            "250 8BITMIME",
        ]));
        assert!(e.starttls);
        assert!(!e.stripped);
        assert_eq!(e.auth, vec!["PLAIN", "LOGIN"]);
        assert_eq!(e.lines.len(), 7);
        assert_eq!(e.lines[3], "250-STARTTLS");
    }

    #[test]
    fn masked_starttls_is_seen_as_stripped() {
        let e = parse_ehlo(&reply(&[
            "250-mail.example.test",
            "250-XXXXXXXA",
            "250 8BITMIME",
        ]));
        assert!(!e.starttls);
        assert!(e.stripped);
        let e = parse_ehlo(&reply(&["250-mail.example.test", "250 XXXXXXXX"]));
        assert!(e.stripped);
    }

    #[test]
    fn the_first_ehlo_line_is_not_a_capability() {
        let e = parse_ehlo(&reply(&["250-STARTTLS hello", "250 8BITMIME"]));
        assert!(!e.starttls);
    }

    #[test]
    fn greeting_names_and_software() {
        let r = reply(&["220 mail.example.test ESMTP Postfix (Debian/GNU)"]);
        assert_eq!(greeting_name(&r).as_deref(), Some("mail.example.test"));
        assert_eq!(software(&r.text()).as_deref(), Some("Postfix"));
        let r = reply(&["220 mx.example.org ESMTP Exim 4.96 Mon, 23 Nov 2026 10:00:00 +0000"]);
        assert_eq!(software(&r.text()).as_deref(), Some("Exim 4.96"));
        let r = reply(&["220 mx.example.org ESMTP OpenSMTPD"]);
        assert_eq!(software(&r.text()).as_deref(), Some("OpenSMTPD"));
        let r = reply(&["220 welcome"]);
        assert_eq!(greeting_name(&r), None);
        assert_eq!(software(&r.text()), None);
        let r = reply(&["220-mx1.example.org ESMTP", "220 ready"]);
        assert_eq!(greeting_name(&r).as_deref(), Some("mx1.example.org"));
    }

    #[test]
    fn commands_render_their_wire_form() {
        assert_eq!(
            Command::Ehlo("client.example").to_string(),
            "EHLO client.example"
        );
        assert_eq!(Command::StartTls.to_string(), "STARTTLS");
        assert_eq!(Command::Quit.to_string(), "QUIT");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_line_parses_or_errs_and_codes_stay_in_range(line in proptest::collection::vec(any::<u8>(), 0..600)) {
                if let Ok((code, _)) = parse_line(&line) {
                    prop_assert!((200..=599).contains(&code));
                }
            }

            #[test]
            fn a_rendered_line_parses_back(code in 200u16..600, last in any::<bool>(), text in "[ -~]{0,80}") {
                let line = format!("{code}{}{text}", if last { ' ' } else { '-' });
                prop_assert_eq!(parse_line(line.as_bytes()), Ok((code, last)));
            }

            #[test]
            fn rendered_ehlo_capabilities_read_back(
                starttls in any::<bool>(),
                mechs in proptest::collection::btree_set("[A-Z0-9-]{1,12}", 0..8),
                other in proptest::collection::vec("X-[A-Z]{1,10}( [ -~]{0,20})?", 0..10),
            ) {
                let mechs: Vec<String> = mechs.into_iter().collect();
                let mut caps = other.clone();
                if starttls {
                    caps.push("STARTTLS".to_string());
                }
                if !mechs.is_empty() {
                    caps.push(format!("AUTH {}", mechs.join(" ")));
                }
                let mut lines = vec![b"250-mail.example.test".to_vec()];
                lines.extend(caps.iter().map(|c| format!("250-{c}").into_bytes()));
                lines.push(b"250 8BITMIME".to_vec());
                let e = parse_ehlo(&Reply { code: 250, lines: lines.clone() });
                prop_assert_eq!(e.starttls, starttls);
                prop_assert!(!e.stripped);
                prop_assert_eq!(e.auth, mechs);
                prop_assert_eq!(e.lines.len(), lines.len());
            }

            #[test]
            fn any_ehlo_reply_is_read_without_panic(lines in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 1..40)) {
                let mut lines = lines;
                lines[0] = b"250-mail.example.test".to_vec();
                let e = parse_ehlo(&Reply { code: 250, lines });
                prop_assert!(e.auth.len() <= 32);
                for l in &e.lines {
                    prop_assert!(!l.chars().any(|c| c.is_control()));
                }
            }

            #[test]
            fn any_byte_stream_ends_in_a_reply_or_a_failure(bytes in proptest::collection::vec(any::<u8>(), 0..9000)) {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let result = rt.block_on(async {
                    use tokio::io::AsyncWriteExt;
                    let (client, mut server) = tokio::io::duplex(1 << 16);
                    server.write_all(&bytes).await.unwrap();
                    drop(server);
                    let mut io = LineIo::new(client);
                    read_reply(&mut io, "testing").await
                });
                match result {
                    Ok(reply) => {
                        prop_assert!(reply.lines.len() <= crate::net::MAX_REPLY_LINES);
                        prop_assert!((200..=599).contains(&reply.code));
                    }
                    Err(f) => prop_assert!(!f.detail.is_empty()),
                }
            }

            #[test]
            fn escape_never_lets_a_control_character_through(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let shown = crate::net::escape(&bytes);
                prop_assert!(!shown.chars().any(|c| c.is_control()));
                let _ = crate::net::identify(&bytes);
            }

            #[test]
            fn greeting_names_and_software_never_panic(text in "\\PC{0,200}") {
                let line = format!("220 {text}");
                let r = Reply { code: 220, lines: vec![line.clone().into_bytes()] };
                let _ = greeting_name(&r);
                let _ = software(&line);
            }
        }

        // Each case runs a runtime and a stream: fewer cases keep the suite fast.
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn a_rendered_reply_reads_back(code in 200u16..600, texts in proptest::collection::vec("[ -~]{0,60}", 1..20)) {
                let n = texts.len();
                let lines: Vec<Vec<u8>> = texts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| format!("{code}{}{t}", if i + 1 == n { ' ' } else { '-' }).into_bytes())
                    .collect();
                let wire: Vec<u8> = lines.iter().flat_map(|l| [&l[..], b"\r\n"].concat()).collect();
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let got = rt.block_on(async {
                    use tokio::io::AsyncWriteExt;
                    let (client, mut server) = tokio::io::duplex(1 << 16);
                    server.write_all(&wire).await.unwrap();
                    read_reply(&mut LineIo::new(client), "testing").await
                });
                prop_assert_eq!(got, Ok(Reply { code, lines }));
            }
        }
    }
}
