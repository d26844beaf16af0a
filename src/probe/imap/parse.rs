//! The IMAP wire format: lines, tagged responses, capability lists and
//! greetings; pure parsers (and one bounded reader) with their tests.

use crate::net::{escape, LineIo, MAX_REPLY_BYTES, MAX_REPLY_LINES};
use crate::phase::Failure;
use crate::report::{Outcome, SafeText};
use tokio::io::{AsyncRead, AsyncWrite};

/// Most capability atoms kept from one list.
pub const MAX_CAPABILITIES: usize = 256;

/// The status of a greeting or of a tagged completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
    PreAuth,
    Bye,
}

/// One line of server output, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// `* ...`: the text after `* `.
    Untagged(&'a [u8]),
    /// `+ ...`: a continuation request.
    Continuation,
    /// `TAG STATUS text`.
    Tagged {
        tag: &'a [u8],
        status: Option<Status>,
        text: &'a [u8],
    },
}

/// Classify a line; `None` when it is not IMAP at all.
pub fn parse_line(line: &[u8]) -> Option<Line<'_>> {
    if let Some(rest) = line.strip_prefix(b"* ") {
        return Some(Line::Untagged(rest));
    }
    if line == b"+" || line.starts_with(b"+ ") {
        return Some(Line::Continuation);
    }
    let space = line.iter().position(|&b| b == b' ')?;
    let tag = &line[..space];
    // A tag is an astring without '+': printable ASCII, no specials.
    let tag_ok = !tag.is_empty()
        && tag.iter().all(|&b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        });
    if !tag_ok {
        return None;
    }
    let rest = &line[space + 1..];
    let (word, text) = match rest.iter().position(|&b| b == b' ') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    Some(Line::Tagged {
        tag,
        status: status_of(word),
        text,
    })
}

fn status_of(word: &[u8]) -> Option<Status> {
    let upper = word.to_ascii_uppercase();
    Some(match upper.as_slice() {
        b"OK" => Status::Ok,
        b"NO" => Status::No,
        b"BAD" => Status::Bad,
        b"PREAUTH" => Status::PreAuth,
        b"BYE" => Status::Bye,
        _ => return None,
    })
}

/// A complete response to one tagged command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The untagged lines, without their `* `.
    pub untagged: Vec<Vec<u8>>,
    pub status: Status,
    /// The tagged line, whole.
    pub line: Vec<u8>,
}

impl Response {
    /// The tagged line as display text.
    pub fn text(&self) -> SafeText {
        escape(&self.line)
    }
}

/// Read the response to the command tagged `tag`: untagged lines bounded in
/// number and bytes, then the tagged completion (time is bounded by the caller).
pub async fn read_response<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut LineIo<S>,
    tag: &str,
    doing: &str,
) -> Result<Response, Failure> {
    let mut untagged: Vec<Vec<u8>> = Vec::new();
    let mut bytes = 0usize;
    loop {
        let line = match io.read_line().await {
            Ok(l) => l,
            Err(e) => {
                let mut f = e.failure(doing);
                if let Some(bye) = untagged.iter().find(|l| starts_with_word(l, b"BYE")) {
                    f.detail = format!("{} after \"* {}\"", f.detail, crate::net::quote(bye, 80));
                }
                return Err(f);
            }
        };
        bytes += line.len() + 2;
        if bytes > MAX_REPLY_BYTES {
            return Err(Failure::new(
                Outcome::BadReply,
                format!("more than {MAX_REPLY_BYTES} bytes in one response while {doing}"),
            ));
        }
        match parse_line(&line) {
            Some(Line::Untagged(rest)) => untagged.push(rest.to_vec()),
            Some(Line::Tagged {
                tag: t,
                status: Some(status @ (Status::Ok | Status::No | Status::Bad)),
                ..
            }) if t.eq_ignore_ascii_case(tag.as_bytes()) => {
                return Ok(Response {
                    untagged,
                    status,
                    line,
                })
            }
            Some(Line::Tagged { tag: t, .. }) if t.eq_ignore_ascii_case(tag.as_bytes()) => {
                return Err(Failure::new(
                    Outcome::BadReply,
                    format!(
                        "the completion of {tag} is neither OK, NO nor BAD while {doing}: \"{}\"",
                        crate::net::quote(&line, 80)
                    ),
                ))
            }
            Some(Line::Tagged { .. }) => {
                return Err(Failure::new(
                    Outcome::BadReply,
                    format!(
                        "a response with another tag than {tag} while {doing}: \"{}\"",
                        crate::net::quote(&line, 80)
                    ),
                ))
            }
            Some(Line::Continuation) => {
                return Err(Failure::new(
                    Outcome::BadReply,
                    format!("an unexpected continuation request (+) while {doing}"),
                ))
            }
            None => return Err(not_imap(&io.first, &line, doing)),
        }
        if untagged.len() > MAX_REPLY_LINES {
            return Err(Failure::new(
                Outcome::BadReply,
                format!("more than {MAX_REPLY_LINES} untagged lines in one response while {doing}"),
            ));
        }
    }
}

fn starts_with_word(line: &[u8], word: &[u8]) -> bool {
    line.len() >= word.len()
        && line[..word.len()].eq_ignore_ascii_case(word)
        && matches!(line.get(word.len()), None | Some(b' '))
}

fn not_imap(first: &[u8], line: &[u8], doing: &str) -> Failure {
    crate::net::not_the_protocol("imap", first, line, doing)
}

/// What a capability list says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caps {
    /// Every capability atom, escaped, as sent.
    pub words: Vec<SafeText>,
    pub starttls: bool,
    pub login_disabled: bool,
    /// The `AUTH=` mechanisms, upper-cased.
    pub auth: Vec<SafeText>,
}

/// Read a capability list (the text after `CAPABILITY`).
pub fn parse_caps(list: &[u8]) -> Caps {
    let mut caps = Caps::default();
    for word in list.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        if caps.words.len() >= MAX_CAPABILITIES {
            break;
        }
        let upper = word.to_ascii_uppercase();
        match upper.as_slice() {
            b"STARTTLS" => caps.starttls = true,
            b"LOGINDISABLED" => caps.login_disabled = true,
            _ => {
                if let Some(mech) = upper.strip_prefix(b"AUTH=").filter(|m| !m.is_empty()) {
                    let mech = escape(mech);
                    if !caps.auth.contains(&mech) {
                        caps.auth.push(mech);
                    }
                }
            }
        }
        caps.words.push(escape(word));
    }
    caps
}

/// The capability list of a CAPABILITY response: its untagged CAPABILITY lines.
pub fn caps_of(resp: &Response) -> Option<Caps> {
    let mut list: Vec<u8> = Vec::new();
    let mut seen = false;
    for line in &resp.untagged {
        if starts_with_word(line, b"CAPABILITY") {
            seen = true;
            list.push(b' ');
            list.extend_from_slice(&line[b"CAPABILITY".len()..]);
        }
    }
    seen.then(|| parse_caps(&list))
}

/// The `[CAPABILITY ...]` response code of a greeting, if it carries one.
pub fn greeting_caps(text: &[u8]) -> Option<Caps> {
    let rest = text.strip_prefix(b"[")?;
    if !starts_with_word(rest, b"CAPABILITY") {
        return None;
    }
    let end = rest.iter().position(|&b| b == b']').unwrap_or(rest.len());
    Some(parse_caps(&rest[b"CAPABILITY".len()..end]))
}

/// A greeting: its status and the human-readable text after any response code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    pub status: Status,
    pub caps: Option<Caps>,
    /// The text after the status and any `[...]` response code.
    pub text: SafeText,
}

/// Parse a greeting line; `None` when it is not an IMAP greeting.
pub fn parse_greeting(line: &[u8]) -> Option<Greeting> {
    let Some(Line::Untagged(rest)) = parse_line(line) else {
        return None;
    };
    let (word, after) = match rest.iter().position(|&b| b == b' ') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let status = match status_of(word)? {
        s @ (Status::Ok | Status::PreAuth | Status::Bye) => s,
        _ => return None,
    };
    let caps = greeting_caps(after);
    let text = match after.strip_prefix(b"[") {
        Some(code) => match code.iter().position(|&b| b == b']') {
            Some(end) => &code[end + 1..],
            None => &[][..],
        },
        None => after,
    };
    Some(Greeting {
        status,
        caps,
        text: escape(text.trim_ascii()),
    })
}

/// Read the greeting line and parse it (time is bounded by the caller).
pub async fn read_greeting<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut LineIo<S>,
) -> Result<(Vec<u8>, Greeting), Failure> {
    let doing = "waiting for the greeting";
    let line = io.read_line().await.map_err(|e| e.failure(doing))?;
    match parse_greeting(&line) {
        Some(g) => Ok((line, g)),
        None => Err(not_imap(&io.first, &line, doing)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{names, NameSlot};

    fn greeting_name(text: &str) -> Option<String> {
        names::greeting_name(text, NameSlot::FreeText)
    }

    fn software(text: &str) -> Option<String> {
        names::software(text, super::super::SOFTWARE)
    }

    #[test]
    fn lines_are_classified() {
        assert_eq!(
            parse_line(b"* OK ready"),
            Some(Line::Untagged(&b"OK ready"[..]))
        );
        assert_eq!(parse_line(b"+ go ahead"), Some(Line::Continuation));
        assert_eq!(
            parse_line(b"a2 NO [PRIVACYREQUIRED] no TLS"),
            Some(Line::Tagged {
                tag: b"a2",
                status: Some(Status::No),
                text: b"[PRIVACYREQUIRED] no TLS"
            })
        );
        assert_eq!(
            parse_line(b"A1 bad"),
            Some(Line::Tagged {
                tag: b"A1",
                status: Some(Status::Bad),
                text: b""
            })
        );
        assert_eq!(parse_line(b"220 mail ESMTP").map(|_| ()), Some(()));
        assert_eq!(parse_line(b"hello"), None);
        assert_eq!(parse_line(b""), None);
        assert_eq!(parse_line(b"(x) OK"), None);
    }

    #[test]
    fn greetings() {
        let g = parse_greeting(
            b"* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS LOGINDISABLED] Dovecot (Debian) ready.",
        )
        .unwrap();
        assert_eq!(g.status, Status::Ok);
        let caps = g.caps.unwrap();
        assert!(caps.starttls && caps.login_disabled);
        assert!(caps.auth.is_empty());
        assert_eq!(g.text, "Dovecot (Debian) ready.");
        assert_eq!(software(&g.text).as_deref(), Some("Dovecot"));
        assert_eq!(greeting_name(&g.text), None);

        let g = parse_greeting(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] mail.example.test Cyrus IMAP 3.6.1-Debian-3.6.1-4+deb12u5 server ready").unwrap();
        assert_eq!(
            software(&g.text).as_deref(),
            Some("Cyrus IMAP 3.6.1-Debian-3.6.1-4+deb12u5")
        );
        assert_eq!(greeting_name(&g.text).as_deref(), Some("mail.example.test"));

        let g =
            parse_greeting(b"* OK Courier-IMAP ready. Copyright 1998-2019 Double Precision, Inc.")
                .unwrap();
        assert_eq!(g.caps, None);
        assert_eq!(software(&g.text).as_deref(), Some("Courier-IMAP"));
        assert_eq!(greeting_name(&g.text), None);

        assert_eq!(
            parse_greeting(b"* BYE too many connections")
                .unwrap()
                .status,
            Status::Bye
        );
        assert_eq!(
            parse_greeting(b"* PREAUTH welcome").unwrap().status,
            Status::PreAuth
        );
        assert_eq!(parse_greeting(b"* NO go away"), None);
        assert_eq!(parse_greeting(b"+OK Dovecot ready."), None);
        assert_eq!(parse_greeting(b"a1 OK"), None);
        // An unterminated response code leaves no text.
        assert_eq!(parse_greeting(b"* OK [ALERT oops").unwrap().text, "");
    }

    #[test]
    fn capability_lists() {
        let c = parse_caps(b" IMAP4rev1 AUTH=PLAIN auth=login AUTH=PLAIN AUTH= STARTTLS");
        assert_eq!(c.auth, vec!["PLAIN", "LOGIN"]);
        assert!(c.starttls);
        assert!(!c.login_disabled);
        assert_eq!(c.words.len(), 6);
        let many: Vec<u8> = b"X ".repeat(MAX_CAPABILITIES + 50);
        assert_eq!(parse_caps(&many).words.len(), MAX_CAPABILITIES);
        let resp = Response {
            untagged: vec![
                b"CAPABILITY IMAP4rev1 LOGINDISABLED".to_vec(),
                b"OK [ALERT] hi".to_vec(),
                b"capability STARTTLS".to_vec(),
            ],
            status: Status::Ok,
            line: b"a1 OK done".to_vec(),
        };
        let c = caps_of(&resp).unwrap();
        assert_eq!(c.words, vec!["IMAP4rev1", "LOGINDISABLED", "STARTTLS"]);
        assert!(c.login_disabled && c.starttls);
        let none = Response {
            untagged: vec![b"CAPABILITYX".to_vec()],
            ..resp
        };
        assert_eq!(caps_of(&none), None);
    }

    #[tokio::test]
    async fn responses_are_matched_by_tag_and_bounded() {
        use tokio::io::AsyncWriteExt;
        let (client, mut server) = tokio::io::duplex(1 << 16);
        server
            .write_all(
                b"* CAPABILITY IMAP4rev1\r\n* OK still here\r\na1 OK done\r\nzz OK other\r\n",
            )
            .await
            .unwrap();
        let mut io = LineIo::new(client);
        let r = read_response(&mut io, "a1", "testing").await.unwrap();
        assert_eq!(r.untagged.len(), 2);
        assert_eq!(r.status, Status::Ok);
        let f = read_response(&mut io, "a2", "testing").await.unwrap_err();
        assert_eq!(f.outcome, Outcome::BadReply);
        assert!(f.detail.contains("another tag"), "{}", f.detail);

        let (client, mut server) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            for _ in 0..MAX_REPLY_LINES + 10 {
                if server.write_all(b"* OK x\r\n").await.is_err() {
                    return;
                }
            }
        });
        let mut io = LineIo::new(client);
        let f = read_response(&mut io, "a1", "testing").await.unwrap_err();
        assert!(f.detail.contains("untagged lines"), "{}", f.detail);
    }

    #[tokio::test]
    async fn eof_after_bye_says_so() {
        use tokio::io::AsyncWriteExt;
        let (client, mut server) = tokio::io::duplex(1024);
        server.write_all(b"* BYE shutting down\r\n").await.unwrap();
        drop(server);
        let mut io = LineIo::new(client);
        let f = read_response(&mut io, "a1", "testing").await.unwrap_err();
        assert_eq!(f.outcome, Outcome::Closed);
        assert!(f.detail.contains("BYE shutting down"), "{}", f.detail);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_line_is_classified_without_panic(line in proptest::collection::vec(any::<u8>(), 0..600)) {
                let _ = parse_line(&line);
                if let Some(g) = parse_greeting(&line) {
                    prop_assert!(!g.text.chars().any(|c| c.is_control()));
                    if let Some(c) = g.caps {
                        prop_assert!(c.words.len() <= MAX_CAPABILITIES);
                    }
                    let _ = software(&g.text);
                    let _ = greeting_name(&g.text);
                }
            }

            #[test]
            fn a_rendered_tagged_line_parses_back(
                tag in "[A-Za-z0-9.]{1,8}",
                status in prop_oneof![Just(Status::Ok), Just(Status::No), Just(Status::Bad), Just(Status::PreAuth), Just(Status::Bye)],
                text in "[ -~]{0,80}",
            ) {
                let word = format!("{status:?}").to_ascii_uppercase();
                let line = format!("{tag} {word} {text}");
                prop_assert_eq!(
                    parse_line(line.as_bytes()),
                    Some(Line::Tagged { tag: tag.as_bytes(), status: Some(status), text: text.as_bytes() })
                );
                let untagged = format!("* {word} {text}");
                prop_assert_eq!(parse_line(untagged.as_bytes()), Some(Line::Untagged(&untagged.as_bytes()[2..])));
            }

            #[test]
            fn a_rendered_greeting_parses_back(
                status in prop_oneof![Just(Status::Ok), Just(Status::PreAuth), Just(Status::Bye)],
                atoms in proptest::option::of(proptest::collection::vec("[A-Za-z0-9=+-]{1,12}", 0..20)),
                text in "[ -~]{0,60}",
            ) {
                let word = format!("{status:?}").to_ascii_uppercase();
                let code = match &atoms {
                    Some(atoms) => format!("[CAPABILITY {}] ", atoms.join(" ")),
                    None => String::new(),
                };
                let text = if atoms.is_none() { text.trim_start_matches('[').to_string() } else { text };
                let line = format!("* {word} {code}{text}");
                let g = parse_greeting(line.as_bytes()).unwrap();
                prop_assert_eq!(g.status, status);
                prop_assert_eq!(g.caps.map(|c| c.words), atoms.map(|a| a.into_iter().map(SafeText::from).collect::<Vec<_>>()));
                prop_assert_eq!(g.text, text.trim());
            }

            #[test]
            fn any_byte_stream_ends_in_a_response_or_a_failure(bytes in proptest::collection::vec(any::<u8>(), 0..9000)) {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let result = rt.block_on(async {
                    use tokio::io::AsyncWriteExt;
                    let (client, mut server) = tokio::io::duplex(1 << 16);
                    server.write_all(&bytes).await.unwrap();
                    drop(server);
                    let mut io = LineIo::new(client);
                    read_response(&mut io, "a1", "testing").await
                });
                match result {
                    Ok(resp) => {
                        prop_assert!(resp.untagged.len() <= MAX_REPLY_LINES);
                        if let Some(c) = caps_of(&resp) {
                            prop_assert!(c.words.iter().all(|w| !w.chars().any(|ch| ch.is_control())));
                        }
                    }
                    Err(f) => prop_assert!(!f.detail.is_empty()),
                }
            }
        }

        // Each case runs a runtime and a stream: fewer cases keep the suite fast.
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn a_rendered_response_reads_back(
                untagged in proptest::collection::vec("[ -~]{0,60}", 0..40),
                status in prop_oneof![Just(Status::Ok), Just(Status::No), Just(Status::Bad)],
                text in "[ -~]{0,40}",
            ) {
                let tagged = format!("a1 {} {text}", format!("{status:?}").to_ascii_uppercase());
                let mut wire = String::new();
                for u in &untagged {
                    wire.push_str(&format!("* {u}\r\n"));
                }
                wire.push_str(&format!("{tagged}\r\n"));
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                let got = rt.block_on(async {
                    use tokio::io::AsyncWriteExt;
                    let (client, mut server) = tokio::io::duplex(1 << 16);
                    server.write_all(wire.as_bytes()).await.unwrap();
                    read_response(&mut LineIo::new(client), "a1", "testing").await
                });
                prop_assert_eq!(got, Ok(Response {
                    untagged: untagged.iter().map(|u| u.as_bytes().to_vec()).collect(),
                    status,
                    line: tagged.into_bytes(),
                }));
            }
        }
    }
}
