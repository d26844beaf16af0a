//! The steps of a connection script, and the client lines of a transcript.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// One step of a connection script.
#[derive(Clone)]
pub enum Step {
    /// Write these bytes. `{tag}` is replaced by the tag of the last IMAP
    /// command matched by a wildcard `Expect("* ...")`.
    Send(Vec<u8>),
    /// Write the bytes of `fixtures/<path>` (loaded when the server starts;
    /// a missing fixture panics there). `{tag}` is replaced as for `Send`.
    Fixture(&'static str),
    /// Read one line (at most 4096 bytes, 10 s timeout) and require that it
    /// starts with this text, ASCII case-insensitively (CRLF is stripped
    /// first). A pattern starting with `"* "` matches an IMAP command with
    /// any tag: `Expect("* CAPABILITY")` matches `a1 CAPABILITY` and
    /// remembers `a1` for `{tag}` in later `Send`s.
    Expect(&'static str),
    /// TLS handshake as the server; the rest of the script runs inside TLS.
    /// A failed handshake is recorded (see [`FakeServer::tls_handshake_errors`])
    /// and ends the connection; it is a script failure only if more steps
    /// follow.
    StartTls(Arc<rustls::ServerConfig>),
    /// Send nothing; wait until the client closes (EOF or error) or 60 s pass.
    Hang,
    /// Close with a TCP RST (SO_LINGER 0, then drop).
    Reset,
    /// Shut down the write side (close_notify first inside TLS) and drop.
    Close,
    /// Half-close: shut down the write side (close_notify first inside TLS)
    /// but keep the connection, so later steps still read what the client
    /// sends (e.g. `Expect`, `ExpectClose`).
    HalfClose,
    /// Write one byte per `interval`; stop quietly when the client goes away.
    Slow { bytes: Vec<u8>, interval: Duration },
    /// Write this chunk again and again until the client goes away or
    /// 64 MiB were sent.
    SendForever(Vec<u8>),
    /// Read until EOF (10 s timeout); what is read goes to the transcript.
    ExpectClose,
    /// Send nothing for this long (e.g. to let the client's TLS ClientHello arrive).
    Pause(Duration),
    /// A server of old TLS: read one ClientHello record (at most 16 KiB,
    /// 10 s timeout; see [`super::FakeServer::client_hellos`]). A ClientHello
    /// with the supported_versions extension (a TLS 1.3 client, such as
    /// rustls) gets `modern`; one without it gets a ServerHello of `version`
    /// with the cipher suite `suite`, and the connection is closed. The
    /// handshake never goes further.
    OldTls {
        version: u16,
        suite: u16,
        modern: Modern,
    },
}

/// What [`Step::OldTls`] does to a ClientHello with supported_versions.
#[derive(Clone, Copy, Debug)]
pub enum Modern {
    /// Close the connection without a byte (what the lab saw).
    Close,
    /// Send a fatal alert with this description (70: protocol_version,
    /// 40: handshake_failure), then close.
    Alert(u8),
    /// The same ServerHello as to an old client (OpenSSL 1.0.0's way).
    ServerHello,
}

/// A ClientHello as [`Step::OldTls`] saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHello {
    pub conn: usize,
    /// The record layer's version.
    pub record_version: u16,
    /// The legacy client_version.
    pub client_version: u16,
    pub supported_versions: bool,
    pub sni: Option<String>,
    pub suites: Vec<u16>,
}

impl Step {
    /// `Step::Send` of a text.
    pub fn send(text: &str) -> Step {
        Step::Send(text.as_bytes().to_vec())
    }
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Send(bytes) => write!(f, "Send(\"{}\")", escape(bytes, 80)),
            Step::Fixture(path) => write!(f, "Fixture({path:?})"),
            Step::Expect(pattern) => write!(f, "Expect({pattern:?})"),
            Step::StartTls(_) => write!(f, "StartTls"),
            Step::Hang => write!(f, "Hang"),
            Step::Reset => write!(f, "Reset"),
            Step::Close => write!(f, "Close"),
            Step::HalfClose => write!(f, "HalfClose"),
            Step::Slow { bytes, interval } => {
                write!(f, "Slow(\"{}\", every {interval:?})", escape(bytes, 80))
            }
            Step::SendForever(bytes) => write!(f, "SendForever(\"{}\")", escape(bytes, 40)),
            Step::ExpectClose => write!(f, "ExpectClose"),
            Step::Pause(d) => write!(f, "Pause({d:?})"),
            Step::OldTls {
                version,
                suite,
                modern,
            } => write!(
                f,
                "OldTls(0x{version:04x}, suite 0x{suite:04x}, modern: {modern:?})"
            ),
        }
    }
}

/// One line the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Index of the connection (0 = first accepted).
    pub conn: usize,
    /// Whether the line came inside TLS.
    pub tls: bool,
    /// The line, lossily decoded, without its CRLF.
    pub text: String,
    /// Whether the line came after a STARTTLS the server refused.
    pub after_refused_starttls: bool,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.tls { "tls" } else { "plain" };
        let refused = if self.after_refused_starttls {
            " (after refused STARTTLS)"
        } else {
            ""
        };
        write!(f, "#{} {mode:5} C: {:?}{refused}", self.conn, self.text)
    }
}

pub(super) fn escape(bytes: &[u8], max: usize) -> String {
    let shown = &bytes[..bytes.len().min(max)];
    let mut out = shown.escape_ascii().to_string();
    if bytes.len() > max {
        out.push_str(&format!("... ({} bytes)", bytes.len()));
    }
    out
}
