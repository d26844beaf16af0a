//! Which TLS versions a server speaks, when rustls (TLS 1.2 and 1.3 only)
//! cannot tell. A server of only TLS 1.0/1.1 answers rustls's ClientHello
//! with a `protocol_version` or `handshake_failure` alert, or just closes:
//! mailport then sends a ClientHello of its own on a second connection that
//! offers TLS 1.0 to 1.2 and the cipher suites older servers use, reads the
//! answer's record header and the ServerHello's version and cipher suite (or
//! an alert), and closes. The handshake is never continued.
//!
//! The builder and the parser are pure; [`ask`] does the one exchange,
//! bounded in bytes ([`MAX_ANSWER`]) and in time.

use crate::net::quote;
use crate::report::{SafeText, TlsAnswer, TlsVersions};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Most bytes of the server's answer that are read.
pub const MAX_ANSWER: usize = 4096;

/// TLS 1.0, as in the record layer of an old-style ClientHello.
const TLS10: u16 = 0x0301;
/// TLS 1.2: the highest version the ClientHello offers (legacy client_version).
const TLS12: u16 = 0x0303;
/// The largest record TLS allows (2^14 plus expansion).
const MAX_RECORD: usize = 16_384 + 2_048;

/// The cipher suites offered, most common among older servers first: RSA
/// key exchange with AES-CBC and 3DES, ECDHE and DHE with AES-CBC, then the
/// AEAD suites a TLS 1.2 server would choose (so that such a server shows
/// which suite it prefers), and the renegotiation SCSV.
const SUITES: &[u16] = &[
    0xc013, // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    0xc014, // TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
    0xc009, // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
    0xc00a, // TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
    0x0033, // TLS_DHE_RSA_WITH_AES_128_CBC_SHA
    0x0039, // TLS_DHE_RSA_WITH_AES_256_CBC_SHA
    0x002f, // TLS_RSA_WITH_AES_128_CBC_SHA
    0x0035, // TLS_RSA_WITH_AES_256_CBC_SHA
    0x000a, // TLS_RSA_WITH_3DES_EDE_CBC_SHA
    0xc02f, // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    0xc030, // TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    0xc02b, // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    0xc02c, // TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    0x009c, // TLS_RSA_WITH_AES_128_GCM_SHA256
    0x009d, // TLS_RSA_WITH_AES_256_GCM_SHA384
    0x00ff, // TLS_EMPTY_RENEGOTIATION_INFO_SCSV
];

/// x25519, secp256r1, secp384r1, secp521r1.
const GROUPS: &[u16] = &[0x001d, 0x0017, 0x0018, 0x0019];

/// RSA PKCS#1 and ECDSA with SHA-256/384/512 and SHA-1, RSA-PSS.
const SIGNATURE_ALGORITHMS: &[u16] = &[
    0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0201, 0x0203,
];

/// A version as people write it: `TLS 1.0`.
pub fn version_name(version: u16) -> String {
    match version {
        0x0300 => "SSL 3.0".to_string(),
        0x0301 => "TLS 1.0".to_string(),
        0x0302 => "TLS 1.1".to_string(),
        0x0303 => "TLS 1.2".to_string(),
        0x0304 => "TLS 1.3".to_string(),
        other => format!("0x{other:04x}"),
    }
}

/// A cipher suite by its IANA name, or its number.
pub fn suite_name(suite: u16) -> String {
    rustls::CipherSuite::from(suite)
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("0x{suite:04x}"))
}

/// An alert as the TLS RFCs write it: `protocol_version`.
pub fn alert_name(description: u8) -> String {
    let alert = rustls::AlertDescription::from(description);
    match alert.as_str() {
        Some(_) => crate::tls::alert_name(alert),
        None => format!("alert {description}"),
    }
}

/// Whether rustls (with the ring provider mailport uses) offers `suite`.
pub fn rustls_offers(suite: u16) -> bool {
    rustls::crypto::ring::default_provider()
        .cipher_suites
        .iter()
        .any(|s| u16::from(s.suite()) == suite)
}

/// The server name to send in SNI: a DNS name, never an address literal.
fn sni_name(name: &str) -> Option<&str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let dns = !name.is_empty()
        && name.len() <= 253
        && name.parse::<std::net::IpAddr>().is_err()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    dns.then_some(name)
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// `body` prefixed by its length in two bytes.
fn with_len16(out: &mut Vec<u8>, body: &[u8]) {
    put_u16(out, body.len() as u16);
    out.extend_from_slice(body);
}

fn extension(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    put_u16(out, kind);
    with_len16(out, body);
}

fn u16_list(items: &[u16]) -> Vec<u8> {
    let mut list = Vec::with_capacity(items.len() * 2);
    for &i in items {
        put_u16(&mut list, i);
    }
    let mut out = Vec::with_capacity(list.len() + 2);
    with_len16(&mut out, &list);
    out
}

/// A ClientHello in one record: record version TLS 1.0, client_version TLS
/// 1.2, no supported_versions extension (so a server picks at most TLS 1.2),
/// the suites above, SNI with `name` when it is a DNS name,
/// supported_groups, ec_point_formats and signature_algorithms.
pub fn client_hello(name: &str, random: [u8; 32]) -> Vec<u8> {
    let mut ext = Vec::new();
    if let Some(host) = sni_name(name) {
        let mut entry = vec![0u8]; // host_name
        with_len16(&mut entry, host.as_bytes());
        let mut list = Vec::new();
        with_len16(&mut list, &entry);
        extension(&mut ext, 0x0000, &list);
    }
    extension(&mut ext, 0x000a, &u16_list(GROUPS));
    extension(&mut ext, 0x000b, &[1, 0]); // uncompressed
    extension(&mut ext, 0x000d, &u16_list(SIGNATURE_ALGORITHMS));

    let mut body = Vec::new();
    put_u16(&mut body, TLS12);
    body.extend_from_slice(&random);
    body.push(0); // no session id
    body.extend_from_slice(&u16_list(SUITES));
    body.extend_from_slice(&[1, 0]); // compression: null
    with_len16(&mut body, &ext);

    let mut hs = vec![1u8]; // client_hello
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);

    let mut record = vec![0x16];
    put_u16(&mut record, TLS10);
    with_len16(&mut record, &hs);
    record
}

/// What the start of the server's answer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A ServerHello: the version it chose and, when it came whole, its cipher suite.
    ServerHello {
        version: u16,
        suite: Option<u16>,
    },
    Alert {
        level: u8,
        description: u8,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// More bytes are needed (only when `at_end` is false).
    Incomplete,
    /// Not a TLS record at all.
    NotTls,
    /// A TLS record, but not a well-formed ServerHello or alert.
    Malformed(&'static str),
}

/// Parse the start of a server's answer to a ClientHello: the first
/// record's header, then the ServerHello's version and cipher suite, or an
/// alert. `at_end`: no more bytes will come (EOF, the byte limit, time).
/// Reads only the first record; any bytes give a value or an error.
pub fn parse_answer(bytes: &[u8], at_end: bool) -> Result<Answer, ParseError> {
    let more = |why| {
        if at_end {
            Err(ParseError::Malformed(why))
        } else {
            Err(ParseError::Incomplete)
        }
    };
    if bytes.first().is_some_and(|&t| !(0x14..=0x17).contains(&t))
        || bytes.get(1).is_some_and(|&major| major != 0x03)
    {
        return Err(ParseError::NotTls);
    }
    if bytes.len() < 5 {
        return if bytes.is_empty() && !at_end {
            Err(ParseError::Incomplete)
        } else {
            more("the answer ends inside a record header")
        };
    }
    let len = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
    if len == 0 || len > MAX_RECORD {
        return Err(ParseError::Malformed("a record of impossible length"));
    }
    let fragment = &bytes[5..bytes.len().min(5 + len)];
    // When the record is whole, a short message is malformed, not incomplete.
    let short = |why| {
        if fragment.len() == len {
            Err(ParseError::Malformed(why))
        } else {
            more(why)
        }
    };
    match bytes[0] {
        0x15 => match fragment {
            [level, description, ..] => Ok(Answer::Alert {
                level: *level,
                description: *description,
            }),
            _ => short("an alert record shorter than an alert"),
        },
        0x16 => {
            let Some(&kind) = fragment.first() else {
                return short("an empty handshake record");
            };
            if kind != 2 {
                return Err(ParseError::Malformed(
                    "the first handshake message is not a ServerHello",
                ));
            }
            if fragment.len() < 6 {
                return short("a ServerHello cut before its version");
            }
            let version = u16::from_be_bytes([fragment[4], fragment[5]]);
            // type(1) length(3) version(2) random(32) session_id_length(1)
            let suite = fragment.get(38).and_then(|&sid| {
                let at = 39 + usize::from(sid);
                fragment
                    .get(at..at + 2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]))
            });
            match suite {
                Some(_) => Ok(Answer::ServerHello { version, suite }),
                // Whole, or all there will be: the version is enough.
                None if at_end || fragment.len() == len => {
                    Ok(Answer::ServerHello { version, suite })
                }
                None => Err(ParseError::Incomplete),
            }
        }
        _ => Err(ParseError::Malformed(
            "a record that is neither a handshake nor an alert",
        )),
    }
}

/// What the exchange got: the parsed answer, or how it ended without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    Answer(Answer),
    Closed,
    Reset,
    Timeout,
    /// The start of what the server sent, quoted.
    NotTls(SafeText),
    Malformed(&'static str),
}

/// Send `hello` on `stream` and read the answer: at most [`MAX_ANSWER`]
/// bytes, within `limit`, stopping as soon as it parses.
pub async fn ask<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    hello: &[u8],
    limit: Duration,
) -> Heard {
    let exchange = async {
        if let Err(e) = stream.write_all(hello).await {
            return io_end(&e);
        }
        let mut buf = vec![0u8; MAX_ANSWER];
        let mut n = 0;
        loop {
            match stream.read(&mut buf[n..]).await {
                Ok(0) if n == 0 => return Heard::Closed,
                Ok(0) => return judge(&buf[..n], true),
                Ok(k) => n += k,
                Err(e) if n == 0 => return io_end(&e),
                Err(_) => return judge(&buf[..n], true),
            }
            match parse_answer(&buf[..n], n == buf.len()) {
                Err(ParseError::Incomplete) => continue,
                _ => return judge(&buf[..n], n == buf.len()),
            }
        }
    };
    tokio::time::timeout(limit, exchange)
        .await
        .unwrap_or(Heard::Timeout)
}

fn io_end(e: &std::io::Error) -> Heard {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionReset | ConnectionAborted => Heard::Reset,
        _ => Heard::Closed,
    }
}

fn judge(bytes: &[u8], at_end: bool) -> Heard {
    match parse_answer(bytes, at_end) {
        Ok(answer) => Heard::Answer(answer),
        Err(ParseError::NotTls) => Heard::NotTls(quote(bytes, 80)),
        Err(ParseError::Malformed(why)) => Heard::Malformed(why),
        Err(ParseError::Incomplete) => Heard::Malformed("the answer ends early"),
    }
}

/// How rustls's own handshake failed, in a way a server of only older TLS
/// makes it fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// A `protocol_version` or `handshake_failure` alert (its name).
    Alert(String),
    /// Closed before any byte came back.
    Closed,
    /// Reset before any byte came back.
    Reset,
    /// The server answered rustls with a ServerHello of an older version:
    /// the answer is known without a second connection.
    OldHello(Answer),
}

/// Whether a failed handshake (rustls's error `e`, the first bytes the
/// server sent `sniffed`) looks like a server of only older TLS.
pub fn shape(e: &std::io::Error, sniffed: &[u8]) -> Option<Shape> {
    use rustls::{AlertDescription, Error as TlsError};
    if let Ok(hello @ Answer::ServerHello { version, .. }) = parse_answer(sniffed, true) {
        if version < TLS12 {
            return Some(Shape::OldHello(hello));
        }
    }
    match e.get_ref().and_then(|i| i.downcast_ref::<TlsError>()) {
        Some(TlsError::AlertReceived(
            alert @ (AlertDescription::ProtocolVersion | AlertDescription::HandshakeFailure),
        )) => Some(Shape::Alert(crate::tls::alert_name(*alert))),
        Some(_) => None,
        None if !sniffed.is_empty() => None,
        None => match e.kind() {
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::BrokenPipe => {
                Some(Shape::Closed)
            }
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                Some(Shape::Reset)
            }
            _ => None,
        },
    }
}

/// The ClientHello's random: from the system's secure generator (through
/// ring), or the clock if that fails; nothing depends on it, since the
/// handshake is never continued.
pub fn random() -> [u8; 32] {
    let mut out = [0u8; 32];
    let provider = rustls::crypto::ring::default_provider();
    if provider.secure_random.fill(&mut out).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        out[..16].copy_from_slice(&now.to_be_bytes());
    }
    out
}

/// Why the exchange gave no ServerHello or alert, for the phase's record;
/// `None` when it did.
pub fn no_answer(heard: &Heard, limit: Duration) -> Option<String> {
    match heard {
        Heard::Answer(_) => None,
        Heard::Closed => Some("the server closed the connection on it too".to_string()),
        Heard::Reset => Some("the server reset the connection on it too".to_string()),
        Heard::Timeout => Some(format!("no answer within {}", crate::phase::secs(limit))),
        Heard::NotTls(said) => Some(format!("the answer is not TLS: \"{said}\"")),
        Heard::Malformed(why) => Some(format!("the answer is not valid TLS: {why}")),
    }
}

/// The report's record of what was heard.
pub fn facts(heard: &Heard, second_connection: bool) -> TlsVersions {
    let mut v = TlsVersions {
        answer: TlsAnswer::Malformed,
        version: None,
        cipher_suite: None,
        alert: None,
        second_connection,
    };
    v.answer = match heard {
        Heard::Answer(Answer::ServerHello { version, suite }) => {
            v.version = Some(version_name(*version));
            v.cipher_suite = suite.map(suite_name);
            TlsAnswer::ServerHello
        }
        Heard::Answer(Answer::Alert { description, .. }) => {
            v.alert = Some(alert_name(*description));
            TlsAnswer::Alert
        }
        Heard::Closed => TlsAnswer::Closed,
        Heard::Reset => TlsAnswer::Reset,
        Heard::Timeout => TlsAnswer::Timeout,
        Heard::NotTls(_) => TlsAnswer::NotTls,
        Heard::Malformed(_) => TlsAnswer::Malformed,
    };
    v
}

/// What the server did to rustls's handshake, for the words of the detail.
fn to_rustls(shape: &Shape) -> String {
    match shape {
        Shape::Alert(alert) => {
            format!("it answered mailport's TLS 1.2/1.3 handshake with a {alert} alert")
        }
        Shape::Closed => "it closed the connection on mailport's TLS 1.2/1.3 handshake".to_string(),
        Shape::Reset => "it reset the connection on mailport's TLS 1.2/1.3 handshake".to_string(),
        Shape::OldHello(Answer::ServerHello { version, .. }) => format!(
            "it answered mailport's TLS 1.2/1.3 handshake with a {} ServerHello",
            version_name(*version)
        ),
        Shape::OldHello(Answer::Alert { description, .. }) => format!(
            "it answered mailport's TLS 1.2/1.3 handshake with a {} alert",
            alert_name(*description)
        ),
    }
}

/// "only TLS 1.0": what a server that chose `version` while TLS 1.2 was
/// offered speaks.
fn only(version: u16) -> String {
    match version {
        0x0301 => "only TLS 1.0".to_string(),
        0x0302 => "only TLS 1.1 and older".to_string(),
        other => format!("only {}", version_name(other)),
    }
}

const OURS: &str =
    "a ClientHello of mailport's own offering TLS 1.0 to 1.2 and older cipher suites";

/// The probe's detail once the versions are known. `before`: the detail of
/// rustls's failed handshake. `Some(words, true)` replaces that failure
/// with a TLS failure that names the cause; `Some(words, false)` adds what
/// was learnt to the failure as it is.
pub fn explain(before: &str, shape: &Shape, heard: &Heard) -> (String, bool) {
    let rustls = to_rustls(shape);
    match heard {
        Heard::Answer(Answer::ServerHello { version, suite }) if *version < TLS12 => {
            let suite = suite
                .map(|s| format!(", cipher suite {}", suite_name(s)))
                .unwrap_or_default();
            let how = match shape {
                Shape::OldHello(_) => format!("{rustls}{suite}"),
                _ => format!(
                    "{rustls}, and answered {OURS} with {}{suite}",
                    version_name(*version)
                ),
            };
            (
                format!(
                    "the server speaks {}, which mailport (and current mail clients and servers) no longer accept; enable TLS 1.2 or later ({how})",
                    only(*version)
                ),
                true,
            )
        }
        Heard::Answer(Answer::ServerHello {
            version: TLS12,
            suite: Some(suite),
        }) if !rustls_offers(*suite) => (
            format!(
                "the server speaks TLS 1.2 but none of the cipher suites rustls offers (ECDHE key exchange with AES-GCM or ChaCha20-Poly1305): {rustls}, and chose {} from {OURS}; enable ECDHE with AES-GCM cipher suites",
                suite_name(*suite)
            ),
            true,
        ),
        Heard::Answer(Answer::ServerHello { version, suite }) => (
            format!(
                "{before}; yet the server answered {OURS} with {}{}, so neither the TLS version nor the cipher suites are the cause: its log says why it refused mailport's handshake",
                version_name(*version),
                suite
                    .map(|s| format!(" and {}", suite_name(s)))
                    .unwrap_or_default()
            ),
            false,
        ),
        Heard::Answer(Answer::Alert { description, .. }) => (
            format!(
                "{before}; {OURS} got a {} alert too: the server shares no TLS version and cipher suite even with older clients, or it refuses this client",
                alert_name(*description)
            ),
            false,
        ),
        Heard::Closed | Heard::Reset => (
            format!(
                "{before}; {OURS} was {} too, so it is not a matter of TLS 1.0/1.1: the server may refuse this client, or its TLS is broken (its log says why)",
                if *heard == Heard::Closed { "closed" } else { "reset" }
            ),
            false,
        ),
        Heard::Timeout => (format!("{before}; {OURS} got no answer in time"), false),
        Heard::NotTls(said) => (
            format!("{before}; {OURS} was answered with \"{said}\", which is not TLS"),
            false,
        ),
        Heard::Malformed(why) => (
            format!("{before}; the answer to {OURS} was not valid TLS ({why})"),
            false,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn server_hello(version: u16, sid: &[u8], suite: u16) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend_from_slice(&[7u8; 32]);
        body.push(sid.len() as u8);
        body.extend_from_slice(sid);
        body.extend_from_slice(&suite.to_be_bytes());
        body.push(0);
        let mut hs = vec![2, 0, 0, body.len() as u8];
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 0x03, 0x01, 0, hs.len() as u8];
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn the_client_hello_offers_tls_1_0_to_1_2_without_supported_versions() {
        let hello = client_hello("mail.example.org", [9; 32]);
        assert_eq!(&hello[..3], &[0x16, 0x03, 0x01]);
        let len = usize::from(u16::from_be_bytes([hello[3], hello[4]]));
        assert_eq!(hello.len(), 5 + len);
        assert_eq!(hello[5], 1, "client_hello");
        let hs_len = u32::from_be_bytes([0, hello[6], hello[7], hello[8]]) as usize;
        assert_eq!(hs_len, len - 4);
        assert_eq!(&hello[9..11], &[0x03, 0x03], "client_version TLS 1.2");
        assert_eq!(&hello[11..43], &[9; 32]);
        assert_eq!(hello[43], 0, "no session id");
        let suites_len = usize::from(u16::from_be_bytes([hello[44], hello[45]]));
        let suites: Vec<u16> = hello[46..46 + suites_len]
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        for s in [0x002f, 0x0035, 0xc013, 0xc014, 0x000a] {
            assert!(suites.contains(&s), "{s:04x}");
        }
        // Extensions: walk them.
        let mut at = 46 + suites_len;
        assert_eq!(&hello[at..at + 2], &[1, 0], "null compression");
        at += 2;
        let ext_len = usize::from(u16::from_be_bytes([hello[at], hello[at + 1]]));
        at += 2;
        assert_eq!(at + ext_len, hello.len());
        let mut kinds = Vec::new();
        while at < hello.len() {
            let kind = u16::from_be_bytes([hello[at], hello[at + 1]]);
            let l = usize::from(u16::from_be_bytes([hello[at + 2], hello[at + 3]]));
            if kind == 0 {
                assert!(hello[at + 4..at + 4 + l].ends_with(b"mail.example.org"));
            }
            kinds.push(kind);
            at += 4 + l;
        }
        assert_eq!(kinds, [0x0000, 0x000a, 0x000b, 0x000d]);
        assert!(!kinds.contains(&0x002b), "no supported_versions");
    }

    #[test]
    fn no_sni_for_an_address_or_a_strange_name() {
        for name in [
            "192.0.2.1",
            "2001:db8::1",
            "",
            "bad name",
            "a\u{e9}.example",
        ] {
            let hello = client_hello(name, [0; 32]);
            let plain = client_hello("", [0; 32]);
            assert_eq!(hello, plain, "{name}");
        }
        assert_eq!(sni_name("mail.example.org."), Some("mail.example.org"));
    }

    #[test]
    fn a_server_hello_gives_its_version_and_suite() {
        let rec = server_hello(0x0301, &[1; 32], 0x002f);
        assert_eq!(
            parse_answer(&rec, false),
            Ok(Answer::ServerHello {
                version: 0x0301,
                suite: Some(0x002f)
            })
        );
        // Cut before the suite: wait for more, or take the version at the end.
        let cut = &rec[..5 + 4 + 2 + 10];
        assert_eq!(parse_answer(cut, false), Err(ParseError::Incomplete));
        assert_eq!(
            parse_answer(cut, true),
            Ok(Answer::ServerHello {
                version: 0x0301,
                suite: None
            })
        );
        assert_eq!(parse_answer(&rec[..8], false), Err(ParseError::Incomplete));
        assert!(matches!(
            parse_answer(&rec[..8], true),
            Err(ParseError::Malformed(_))
        ));
        // More records after it (Certificate...) do not matter.
        let mut more = rec.clone();
        more.extend_from_slice(&[0x16, 0x03, 0x01, 0x40, 0x00, 11]);
        assert!(matches!(
            parse_answer(&more, false),
            Ok(Answer::ServerHello {
                version: 0x0301,
                ..
            })
        ));
    }

    #[test]
    fn an_alert_and_what_is_not_tls() {
        assert_eq!(
            parse_answer(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46], false),
            Ok(Answer::Alert {
                level: 2,
                description: 70
            })
        );
        assert_eq!(
            parse_answer(&[0x15, 0x03], false),
            Err(ParseError::Incomplete)
        );
        assert_eq!(parse_answer(b"", false), Err(ParseError::Incomplete));
        assert!(matches!(
            parse_answer(b"", true),
            Err(ParseError::Malformed(_))
        ));
        assert_eq!(
            parse_answer(b"421 Too many connections\r\n", false),
            Err(ParseError::NotTls)
        );
        assert_eq!(parse_answer(&[0x16, 0x02], false), Err(ParseError::NotTls));
        assert!(matches!(
            parse_answer(&[0x16, 0x03, 0x01, 0x00, 0x00], false),
            Err(ParseError::Malformed(_))
        ));
        assert!(matches!(
            parse_answer(&[0x16, 0x03, 0x01, 0xff, 0xff], false),
            Err(ParseError::Malformed(_))
        ));
        assert!(matches!(
            parse_answer(&[0x17, 0x03, 0x03, 0x00, 0x01, 0], false),
            Err(ParseError::Malformed(_))
        ));
        // A handshake that starts with another message.
        assert!(matches!(
            parse_answer(&[0x16, 0x03, 0x03, 0x00, 0x04, 11, 0, 0, 0], false),
            Err(ParseError::Malformed(_))
        ));
        assert_eq!(alert_name(70), "protocol_version");
        assert_eq!(alert_name(40), "handshake_failure");
        assert_eq!(alert_name(250), "alert 250");
        assert_eq!(suite_name(0x002f), "TLS_RSA_WITH_AES_128_CBC_SHA");
        assert_eq!(suite_name(0x7a7a), "0x7a7a");
        assert!(rustls_offers(0xc02f));
        assert!(!rustls_offers(0x002f));
    }

    #[test]
    fn the_words_name_the_version_or_what_was_learnt() {
        let hello = |version, suite| Heard::Answer(Answer::ServerHello { version, suite });
        let closed = "the server closed the connection during the TLS handshake";
        let (words, replace) = explain(closed, &Shape::Closed, &hello(0x0301, Some(0x002f)));
        assert!(replace);
        assert!(
            words.starts_with("the server speaks only TLS 1.0, which mailport (and current mail clients and servers) no longer accept; enable TLS 1.2 or later"),
            "{words}"
        );
        assert!(words.contains("closed the connection"), "{words}");
        assert!(words.contains("TLS_RSA_WITH_AES_128_CBC_SHA"), "{words}");
        let (words, _) = explain(closed, &Shape::Closed, &hello(0x0302, None));
        assert!(
            words.starts_with("the server speaks only TLS 1.1 and older"),
            "{words}"
        );
        let (words, replace) = explain(
            closed,
            &Shape::Alert("handshake_failure".into()),
            &hello(0x0303, Some(0x002f)),
        );
        assert!(replace);
        assert!(
            words.starts_with(
                "the server speaks TLS 1.2 but none of the cipher suites rustls offers"
            ),
            "{words}"
        );
        let (words, replace) = explain(closed, &Shape::Closed, &hello(0x0303, Some(0xc02f)));
        assert!(!replace);
        assert!(
            words.starts_with(closed) && words.contains("neither the TLS version"),
            "{words}"
        );
        let alert = Heard::Answer(Answer::Alert {
            level: 2,
            description: 40,
        });
        let (words, replace) = explain(closed, &Shape::Closed, &alert);
        assert!(
            !replace && words.contains("handshake_failure alert too"),
            "{words}"
        );
        for heard in [
            Heard::Closed,
            Heard::Reset,
            Heard::Timeout,
            Heard::NotTls("x".into()),
            Heard::Malformed("y"),
        ] {
            let (words, replace) = explain(closed, &Shape::Reset, &heard);
            assert!(!replace && words.starts_with(closed), "{words}");
        }
        let sniffed = Shape::OldHello(Answer::ServerHello {
            version: 0x0301,
            suite: None,
        });
        let (words, _) = explain(closed, &sniffed, &hello(0x0301, None));
        assert!(
            words.ends_with(
                "(it answered mailport's TLS 1.2/1.3 handshake with a TLS 1.0 ServerHello)"
            ),
            "{words}"
        );
    }

    #[test]
    fn shapes_of_an_old_only_server() {
        use std::io::{Error, ErrorKind};
        let eof = Error::new(ErrorKind::UnexpectedEof, "eof");
        assert_eq!(shape(&eof, b""), Some(Shape::Closed));
        assert_eq!(
            shape(&eof, b"220 hello"),
            None,
            "plaintext is another failure"
        );
        let reset = Error::new(ErrorKind::ConnectionReset, "rst");
        assert_eq!(shape(&reset, b""), Some(Shape::Reset));
        let alert = |a| Error::new(ErrorKind::InvalidData, rustls::Error::AlertReceived(a));
        assert_eq!(
            shape(&alert(rustls::AlertDescription::ProtocolVersion), b""),
            Some(Shape::Alert("protocol_version".into()))
        );
        assert_eq!(
            shape(&alert(rustls::AlertDescription::HandshakeFailure), b""),
            Some(Shape::Alert("handshake_failure".into()))
        );
        assert_eq!(
            shape(&alert(rustls::AlertDescription::CertificateRequired), b""),
            None
        );
        let old = server_hello(0x0301, &[], 0x002f);
        let incompatible = Error::new(
            ErrorKind::InvalidData,
            rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::ServerDoesNotSupportTls12Or13,
            ),
        );
        assert!(matches!(
            shape(&incompatible, &old),
            Some(Shape::OldHello(Answer::ServerHello {
                version: 0x0301,
                ..
            }))
        ));
        let modern = server_hello(0x0303, &[], 0xc02f);
        assert_eq!(shape(&eof, &modern), None);
    }

    #[tokio::test]
    async fn ask_reads_the_answer_and_stops() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let srv = tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            let n = server.read(&mut buf).await.unwrap();
            assert!(n > 5);
            assert_eq!(buf[0], 0x16);
            server
                .write_all(&server_hello(0x0302, &[3; 8], 0x0035))
                .await
                .unwrap();
            // The server goes on sending; the client stops at the ServerHello.
            let _ = server.write_all(&[0x16; 8192]).await;
        });
        let heard = ask(
            &mut client,
            &client_hello("x.example", [0; 32]),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(
            heard,
            Heard::Answer(Answer::ServerHello {
                version: 0x0302,
                suite: Some(0x0035)
            })
        );
        drop(client);
        srv.await.unwrap();
        // Nothing at all before the limit.
        let (mut client, _server) = tokio::io::duplex(64 * 1024);
        let heard = ask(&mut client, b"x", Duration::from_millis(50)).await;
        assert_eq!(heard, Heard::Timeout);
        // An endless stream of bytes that never completes a record.
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let mut header = vec![0x16, 0x03, 0x01, 0x3f, 0xff, 2, 0, 0, 0x20, 3, 1];
            header.extend_from_slice(&[0u8; 32]);
            header.push(32);
            let _ = server.write_all(&header).await;
            let _ = server.write_all(&[0u8; 8192]).await;
        });
        let heard = ask(&mut client, b"x", Duration::from_secs(5)).await;
        assert!(matches!(heard, Heard::Answer(_)), "{heard:?}");
    }

    proptest! {
        #[test]
        fn any_bytes_give_a_value_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..600), at_end in any::<bool>()) {
            let _ = parse_answer(&bytes, at_end);
            if let Ok(Answer::ServerHello { .. }) = parse_answer(&bytes, at_end) {
                prop_assert!(bytes.len() >= 11);
            }
        }

        #[test]
        fn a_tls_looking_start_gives_a_value_or_an_error(
            kind in 0x14u8..=0x17,
            minor in any::<u8>(),
            rest in proptest::collection::vec(any::<u8>(), 0..300),
            at_end in any::<bool>(),
        ) {
            let mut bytes = vec![kind, 0x03, minor];
            bytes.extend_from_slice(&rest);
            let _ = parse_answer(&bytes, at_end);
        }

        #[test]
        fn a_server_hello_always_parses(version in any::<u16>(), suite in any::<u16>(), sid in proptest::collection::vec(any::<u8>(), 0..33)) {
            let rec = server_hello(version, &sid, suite);
            prop_assert_eq!(parse_answer(&rec, false), Ok(Answer::ServerHello { version, suite: Some(suite) }));
        }
    }
}
