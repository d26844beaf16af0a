//! Sockets and bounded reads. Every byte a server sends is read through
//! [`LineIo`], which enforces a per-line byte limit; callers enforce the
//! per-reply line and byte limits, and [`crate::phase::Recorder`] the time.

pub use crate::escape::{escape, quote};
use crate::phase::Failure;
use crate::report::{IcmpFacts, Outcome};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// Longest line accepted from a server, terminator included.
pub const MAX_LINE_BYTES: usize = 4096;
/// Most lines accepted in one reply (an SMTP multi-line reply, an IMAP response).
pub const MAX_REPLY_LINES: usize = 256;
/// Most bytes accepted in one reply.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// How many leading bytes of a connection are kept to name the protocol it speaks.
const SNIFF_BYTES: usize = 256;

pub mod errqueue;
mod tape;
pub use tape::Tape;

/// How a connection is made: a probe's defaults, or, for a trace, a TTL
/// (hop limit) and a fixed source port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    pub ttl: Option<u32>,
    pub source_port: Option<u16>,
}

/// A connection attempt under way: the SYN is sent, the socket kept, so
/// that when the attempt fails (or the caller gives up waiting) the ICMP
/// error it drew can still be read from the socket's error queue.
pub struct Connecting {
    stream: TcpStream,
    dest: SocketAddr,
}

impl Connecting {
    /// Make the socket (ICMP errors queued: IP_RECVERR / IPV6_RECVERR, set
    /// before connect) and send the SYN. An error the kernel returns at once
    /// (no route, a local policy) is the failure.
    pub fn start(dest: SocketAddr, opts: ConnectOptions) -> Result<Connecting, Failure> {
        use socket2::{Domain, Protocol, SockAddr, Socket, Type};
        let fail = |e: io::Error| connect_failure(&e, None, dest.ip());
        let socket = Socket::new(Domain::for_address(dest), Type::STREAM, Some(Protocol::TCP))
            .map_err(fail)?;
        socket.set_nonblocking(true).map_err(fail)?;
        // Without it the connection still works; only the ICMP details are missing.
        let _ = errqueue::enable(&socket, dest.is_ipv6());
        if let Some(ttl) = opts.ttl {
            if dest.is_ipv6() {
                socket.set_unicast_hops_v6(ttl).map_err(fail)?;
            } else {
                socket.set_ttl_v4(ttl).map_err(fail)?;
            }
        }
        if let Some(port) = opts.source_port {
            // The port of the trace's previous attempt, closed a moment ago.
            socket.set_reuse_address(true).map_err(fail)?;
            let any: IpAddr = if dest.is_ipv6() {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            };
            socket
                .bind(&SockAddr::from(SocketAddr::new(any, port)))
                .map_err(fail)?;
        }
        match socket.connect(&SockAddr::from(dest)) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => {
                let icmp = errqueue::icmp(&socket);
                return Err(connect_failure(&e, icmp, dest.ip()));
            }
        }
        let stream = TcpStream::from_std(std::net::TcpStream::from(socket)).map_err(fail)?;
        Ok(Connecting { stream, dest })
    }

    /// Wait until the handshake completes or fails; a failure carries the
    /// ICMP error that caused it, when one was queued. The caller bounds
    /// the time.
    pub async fn established(&self) -> Result<(), Failure> {
        loop {
            self.stream
                .writable()
                .await
                .map_err(|e| connect_failure(&e, None, self.dest.ip()))?;
            let error = match self.stream.take_error() {
                Ok(None) => match self.stream.peer_addr() {
                    Ok(_) => return Ok(()),
                    // Woken before the handshake ended: wait again.
                    Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                        let _ = self.stream.try_io(tokio::io::Interest::WRITABLE, || {
                            Err::<(), _>(io::ErrorKind::WouldBlock.into())
                        });
                        continue;
                    }
                    Err(e) => e,
                },
                Ok(Some(e)) | Err(e) => e,
            };
            return Err(connect_failure(&error, self.icmp(), self.dest.ip()));
        }
    }

    /// The ICMP error queued on the socket, if any (read once: the queue is drained).
    pub fn icmp(&self) -> Option<IcmpFacts> {
        errqueue::icmp(&self.stream)
    }

    /// The local port the kernel chose (or the one asked for).
    pub fn local_port(&self) -> Option<u16> {
        self.stream.local_addr().ok().map(|a| a.port())
    }

    pub fn into_stream(self) -> TcpStream {
        // Small commands must leave at once: with Nagle, an EHLO sent right after
        // the TLS Finished waits for a delayed ACK (~40 ms) and skews the timings.
        let _ = self.stream.set_nodelay(true);
        self.stream
    }
}

/// ACK what has come in at once, and the next few segments too (Linux's
/// TCP_QUICKACK). Set right after a TLS handshake: a server that sends its
/// session tickets and then its first reply as two small writes holds the
/// reply (Nagle) until the tickets are ACKed, and a delayed ACK costs ~40 ms
/// on every TLS probe of Postfix and skews the reply times reported.
pub fn ack_now(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
}

/// Open a TCP connection; socket errors are classified into outcomes.
/// The caller bounds the time (a SYN that is never answered).
pub async fn connect(addr: SocketAddr) -> Result<TcpStream, Failure> {
    let attempt = Connecting::start(addr, ConnectOptions::default())?;
    attempt.established().await?;
    Ok(attempt.into_stream())
}

/// A connect that timed out, though an ICMP error was queued meanwhile (a
/// kernel that treats it as a soft error and keeps retrying): the failure
/// says who answered.
pub fn timeout_with_icmp(f: Failure, icmp: IcmpFacts, dest: IpAddr) -> Failure {
    Failure {
        detail: format!(
            "{}; an ICMP error came back meanwhile: {}",
            f.detail,
            icmp.words(Some(dest))
        ),
        icmp: Some(Box::new(icmp)),
        ..f
    }
}

/// The addresses of this machine's interfaces (getifaddrs); empty if unreadable.
pub fn local_addresses() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter_map(|i| {
            let a = i.address?;
            if let Some(v4) = a.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect()
}

/// The symbolic name of an errno value (`ECONNREFUSED`), from nix's table.
pub fn errno_name(errno: i32) -> Option<String> {
    match nix::errno::Errno::from_raw(errno) {
        nix::errno::Errno::UnknownErrno => None,
        e => Some(format!("{e:?}")),
    }
}

fn connect_failure(e: &io::Error, icmp: Option<IcmpFacts>, dest: IpAddr) -> Failure {
    let errno = e.raw_os_error();
    let (outcome, words) = match errno {
        Some(libc::ECONNREFUSED) => (
            Outcome::Refused,
            // With IP_RECVERR set, an ICMP port-unreachable would have been queued.
            if cfg!(target_os = "linux") {
                "connection refused: the host answered with a TCP RST, so nothing listens on the port (or a firewall rejects it with a TCP reset)"
            } else {
                "connection refused: nothing listens on the port, or a firewall rejects it"
            },
        ),
        Some(libc::EHOSTUNREACH) => (
            Outcome::Unreachable,
            "no route to host: an ICMP host-unreachable or administratively-prohibited answer",
        ),
        Some(libc::ENETUNREACH) => (Outcome::Unreachable, "network unreachable"),
        // The handshake completed and the RST came before connect() returned.
        Some(libc::ECONNRESET) | Some(libc::ECONNABORTED) => (
            Outcome::Reset,
            "the server accepted the connection and reset it at once",
        ),
        Some(libc::EACCES) | Some(libc::EPERM) => (
            Outcome::Unreachable,
            "connection not permitted by this machine (a local firewall or security policy)",
        ),
        Some(libc::ETIMEDOUT) => (
            Outcome::ConnectTimeout,
            "the kernel gave up waiting for an answer to the SYN",
        ),
        Some(libc::EADDRNOTAVAIL) | Some(libc::EAFNOSUPPORT) => (
            Outcome::Unreachable,
            "this machine cannot connect to that address (no address of that family configured?)",
        ),
        _ => (Outcome::Unreachable, "the connection failed"),
    };
    // Who answered, and what, says more than the errno's own words.
    let words = match &icmp {
        Some(i) if outcome != Outcome::Reset => i.words(Some(dest)),
        _ => words.to_string(),
    };
    let name = errno.and_then(errno_name);
    Failure {
        errno,
        icmp: icmp.map(Box::new),
        ..Failure::new(
            outcome,
            match name {
                Some(n) => format!("{words} ({n})"),
                None => format!("{words}: {e}"),
            },
        )
    }
}

/// Classify an I/O error that happened after the connection was made.
pub fn io_failure(e: &io::Error, doing: &str) -> Failure {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Failure::new(
            Outcome::Reset,
            format!("the server reset the connection while {doing}"),
        ),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe => Failure::new(
            Outcome::Closed,
            format!("the server closed the connection while {doing}"),
        ),
        _ => Failure::new(
            Outcome::Closed,
            format!("connection error while {doing}: {e}"),
        ),
    }
}

/// What the first bytes of a connection say about the protocol spoken there.
pub fn identify(bytes: &[u8]) -> Option<&'static str> {
    let starts = |p: &[u8]| bytes.len() >= p.len() && bytes[..p.len()].eq_ignore_ascii_case(p);
    if bytes.len() >= 2 && (0x14..=0x17).contains(&bytes[0]) && bytes[1] == 0x03 {
        return Some("tls");
    }
    if starts(b"SSH-") {
        return Some("ssh");
    }
    if starts(b"HTTP/") || starts(b"<!DOCTYPE") || starts(b"<html") {
        return Some("http");
    }
    if starts(b"* OK") || starts(b"* PREAUTH") || starts(b"* BYE") {
        return Some("imap");
    }
    if starts(b"+OK") || starts(b"-ERR") {
        return Some("pop3");
    }
    if bytes.len() >= 4
        && bytes[..3].iter().all(u8::is_ascii_digit)
        && matches!(bytes[3], b' ' | b'-' | b'\r' | b'\n')
    {
        let head =
            String::from_utf8_lossy(&bytes[..bytes.len().min(SNIFF_BYTES)]).to_ascii_lowercase();
        if head.contains("ftp") {
            return Some("ftp");
        }
        return Some("smtp");
    }
    None
}

/// The failure for a line that does not belong to `expected` (smtp, imap,
/// pop3): another protocol when the connection's first bytes name one,
/// else a bad reply from a server that did speak `expected` so far.
pub fn not_the_protocol(expected: &str, first: &[u8], line: &[u8], doing: &str) -> Failure {
    let shown = quote(line, 80);
    let name = expected.to_uppercase();
    match identify(first) {
        Some(p) if p != expected => Failure::mismatch(
            p,
            format!(
                "the port speaks {}, not {name}: \"{shown}\"",
                p.to_uppercase()
            ),
        ),
        _ if line.is_empty() => {
            Failure::new(Outcome::BadReply, format!("an empty line while {doing}"))
        }
        // The port spoke the protocol so far: a malformed line is a bad reply.
        Some(_) => Failure::new(
            Outcome::BadReply,
            format!("a line that is not {name} while {doing}: \"{shown}\""),
        ),
        None => Failure::mismatch(
            "unknown",
            format!("the server's answer is not {name} while {doing}: \"{shown}\""),
        ),
    }
}

/// An error from [`LineIo::read_line`].
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    /// The server closed the connection; `partial` holds an unterminated tail.
    Eof {
        partial: Vec<u8>,
    },
    /// A line longer than [`MAX_LINE_BYTES`]; holds its start.
    TooLong {
        start: Vec<u8>,
    },
}

impl ReadError {
    /// The failure this read error means while `doing` something.
    pub fn failure(&self, doing: &str) -> Failure {
        match self {
            ReadError::Io(e) => io_failure(e, doing),
            ReadError::Eof { partial } if partial.is_empty() => Failure::new(
                Outcome::Closed,
                format!("the server closed the connection while {doing}"),
            ),
            ReadError::Eof { partial } => Failure::new(
                Outcome::Closed,
                format!(
                    "the server closed the connection in the middle of a line while {doing}: \"{}\"",
                    quote(partial, 80)
                ),
            ),
            ReadError::TooLong { start } => Failure::new(
                Outcome::BadReply,
                format!(
                    "a line longer than {MAX_LINE_BYTES} bytes while {doing}, starting \"{}\"",
                    quote(start, 60)
                ),
            ),
        }
    }
}

/// A connection read line by line through a fixed-size buffer.
pub struct LineIo<S> {
    stream: S,
    buf: Vec<u8>,
    len: usize,
    /// The first bytes the server sent on this stream.
    pub first: Vec<u8>,
    /// `-vv`: where the lines sent and read are written down.
    tape: Option<Tape>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> LineIo<S> {
    pub fn new(stream: S) -> LineIo<S> {
        LineIo {
            stream,
            buf: vec![0; MAX_LINE_BYTES],
            len: 0,
            first: Vec::new(),
            tape: None,
        }
    }

    /// Write every line sent and read on this stream down on `tape` (`-vv`).
    pub fn with_tape(mut self, tape: Option<Tape>) -> LineIo<S> {
        self.tape = tape;
        self
    }

    /// The tape this stream writes on, to go on with it on the next stream.
    pub fn tape(&self) -> Option<Tape> {
        self.tape.clone()
    }

    /// Go on with a connection whose first bytes were already read (inside
    /// TLS after STARTTLS): those bytes, not the first ones inside TLS, say
    /// which protocol the port speaks, so a bad reply there is a bad reply,
    /// not another protocol.
    pub fn continuing(stream: S, first: Vec<u8>) -> LineIo<S> {
        LineIo {
            first,
            ..LineIo::new(stream)
        }
    }

    /// Read one line, without its CRLF or LF.
    pub async fn read_line(&mut self) -> Result<Vec<u8>, ReadError> {
        use tokio::io::AsyncReadExt;
        loop {
            if let Some(pos) = self.buf[..self.len].iter().position(|&b| b == b'\n') {
                let mut line = self.buf[..pos].to_vec();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.buf.copy_within(pos + 1..self.len, 0);
                self.len -= pos + 1;
                if let Some(tape) = &self.tape {
                    tape.received(&line);
                }
                return Ok(line);
            }
            if self.len == self.buf.len() {
                if let Some(tape) = &self.tape {
                    tape.received(&self.buf[..self.len]);
                    tape.note(&format!("a line longer than {MAX_LINE_BYTES} bytes"));
                }
                return Err(ReadError::TooLong {
                    start: self.buf[..80].to_vec(),
                });
            }
            let n = self
                .stream
                .read(&mut self.buf[self.len..])
                .await
                .map_err(ReadError::Io)?;
            if n == 0 {
                if let Some(tape) = &self.tape {
                    if self.len > 0 {
                        tape.received(&self.buf[..self.len]);
                    }
                    tape.note("the server closed the connection");
                }
                return Err(ReadError::Eof {
                    partial: self.buf[..self.len].to_vec(),
                });
            }
            if self.first.len() < SNIFF_BYTES {
                let take = n.min(SNIFF_BYTES - self.first.len());
                self.first
                    .extend_from_slice(&self.buf[self.len..self.len + take]);
            }
            self.len += n;
        }
    }

    /// Bytes received but not yet read as lines.
    pub fn pending(&self) -> usize {
        self.len
    }

    /// The bytes received but not yet read as lines.
    pub fn pending_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Drop bytes the server sent without being asked; returns how many.
    pub fn discard_pending(&mut self) -> usize {
        std::mem::take(&mut self.len)
    }

    /// Write one command line (CRLF added) and flush.
    pub async fn send(&mut self, line: &str) -> io::Result<()> {
        if let Some(tape) = &self.tape {
            tape.sent(line);
        }
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.stream.write_all(&bytes).await?;
        self.stream.flush().await
    }

    /// Give the stream back, dropping any bytes the server sent ahead of time
    /// (they must never be read as if they came inside TLS). Returns how many were dropped.
    pub fn into_inner(self) -> (S, usize) {
        (self.stream, self.len)
    }

    pub fn get_ref(&self) -> &S {
        &self.stream
    }
}

/// How many of a connection's first bytes [`Sniff`] keeps: a whole line of
/// what a port spoke instead of TLS (e.g. a plaintext `421` with its reason).
const SNIFF_KEEP: usize = 512;

/// A stream wrapper that keeps the first bytes read, so a failed TLS handshake
/// can say what the port spoke instead.
pub struct Sniff<S> {
    inner: S,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl<S> Sniff<S> {
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn new(inner: S) -> (Sniff<S>, Arc<Mutex<Vec<u8>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        (
            Sniff {
                inner,
                seen: seen.clone(),
            },
            seen,
        )
    }
}

/// A stream whose pending ACK can be sent at once ([`ack_now`]).
pub trait AckNow {
    fn ack_now(&self);
}

impl AckNow for TcpStream {
    fn ack_now(&self) {
        ack_now(self)
    }
}

impl<S: AsyncRead + AckNow + Unpin> AsyncRead for Sniff<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                // A TLS record that gave no plaintext yet (a session ticket)
                // is ACKed now, not after the delayed-ACK timer.
                self.inner.ack_now();
            }
            if let Ok(mut seen) = self.seen.lock() {
                if seen.len() < SNIFF_KEEP {
                    let take = new.len().min(SNIFF_KEEP - seen.len());
                    seen.extend_from_slice(&new[..take]);
                }
            }
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Sniff<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, b)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifies_protocols_by_their_first_bytes() {
        assert_eq!(identify(b"SSH-2.0-OpenSSH_9.2p1\r\n"), Some("ssh"));
        assert_eq!(identify(b"HTTP/1.1 400 Bad Request\r\n"), Some("http"));
        assert_eq!(
            identify(b"* OK [CAPABILITY IMAP4rev1] ready\r\n"),
            Some("imap")
        );
        assert_eq!(identify(b"+OK Dovecot ready.\r\n"), Some("pop3"));
        assert_eq!(identify(b"220 mail.example.test ESMTP\r\n"), Some("smtp"));
        assert_eq!(identify(b"220 ProFTPD Server ready\r\n"), Some("ftp"));
        assert_eq!(identify(&[0x16, 0x03, 0x03, 0x00, 0x2a]), Some("tls"));
        assert_eq!(identify(&[0x15, 0x03, 0x01, 0x00, 0x02]), Some("tls"));
        assert_eq!(identify(b"hello"), None);
        assert_eq!(identify(b""), None);
    }

    #[test]
    fn quotes_drop_the_line_end_and_cut_at_a_word_with_an_ellipsis() {
        assert_eq!(quote(b"220 ok\r\n", 80), "220 ok");
        assert_eq!(quote(b"first\r\nsecond\r\n", 80), "first");
        assert_eq!(
            quote(
                b"couriertls: /etc/courier/imapd.pem: No such file or directory",
                40
            ),
            "couriertls: /etc/courier/imapd.pem: No…"
        );
        assert_eq!(quote(&[b'x'; 50], 10), "xxxxxxxxxx…");
        // Never half a character.
        assert_eq!(quote("ééééé".as_bytes(), 5), "éé…");
        assert_eq!(quote(b"", 10), "");
    }

    #[test]
    fn escape_neutralises_control_bytes() {
        assert_eq!(escape(b"220 ok\r\n"), "220 ok\\r\\n");
        assert_eq!(escape(b"a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(escape(b"\xff\x00x"), "\\xff\\u{0}x");
        assert_eq!(escape("été".as_bytes()), "été");
        assert_eq!(escape("a\u{202e}b".as_bytes()), "a\\u{202e}b");
    }

    #[tokio::test]
    async fn lines_are_split_and_bounded() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let long = vec![b'x'; MAX_LINE_BYTES + 10];
        tokio::spawn(async move {
            server.write_all(b"one\r\ntwo\nthree\r\n").await.unwrap();
            server.write_all(&long).await.unwrap();
        });
        let mut io = LineIo::new(client);
        assert_eq!(io.read_line().await.unwrap(), b"one");
        assert_eq!(io.read_line().await.unwrap(), b"two");
        assert_eq!(io.read_line().await.unwrap(), b"three");
        assert!(matches!(
            io.read_line().await,
            Err(ReadError::TooLong { .. })
        ));
        assert_eq!(&io.first[..4], b"one\r");
    }

    #[tokio::test]
    async fn eof_keeps_the_partial_line() {
        let (client, mut server) = tokio::io::duplex(1024);
        server.write_all(b"22").await.unwrap();
        drop(server);
        let mut io = LineIo::new(client);
        match io.read_line().await {
            Err(ReadError::Eof { partial }) => assert_eq!(partial, b"22"),
            other => panic!("{other:?}"),
        }
    }
}
