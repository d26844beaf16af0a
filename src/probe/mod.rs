//! A probe takes plain data and returns plain data: it never prints, and a
//! failure of the server is an outcome in the result, never an `Err`.

pub mod http;
pub mod imap;
pub mod pop3;
pub mod smtp;

use crate::net::{self, LineIo, Sniff};
use crate::phase::{Failure, Recorder};
use crate::report::{ConnectFacts, Outcome, Phase, ProbeResult};
use crate::service::{Protocol, Service};
use crate::tls::{self, Trust};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

/// Per-phase time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Until the TCP handshake completes.
    pub connect: Duration,
    /// From connected until the server's greeting is complete.
    pub greeting: Duration,
    /// For each later reply, and for a TLS handshake.
    pub reply: Duration,
}

/// Everything one probe needs.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub addr: SocketAddr,
    pub service: &'static Service,
    /// The name certificates are verified against (and sent in SNI).
    pub tls_name: String,
    /// The name we announce in EHLO; by default derived from the connection.
    pub ehlo_name: Option<String>,
    pub timeouts: Timeouts,
    pub deadline: Instant,
    pub trust: Arc<Trust>,
}

/// Run one probe to its end; the result always comes back.
pub async fn run_probe(spec: &ProbeSpec) -> ProbeResult {
    let mut rec = Recorder::new(spec.deadline);
    let mut res = ProbeResult::new(spec.service, spec.addr.port(), Some(spec.addr.ip()));
    let result = match spec.service.protocol {
        Protocol::Smtp => smtp::run(spec, &mut rec, &mut res).await,
        Protocol::Imap => imap::run(spec, &mut rec, &mut res).await,
        Protocol::Pop3 => pop3::run(spec, &mut rec, &mut res).await,
        Protocol::Http => http::run(spec, &mut rec, &mut res).await,
    };
    if let Err(f) = result {
        res.outcome = f.outcome;
        res.detail = Some(f.detail);
        if f.peer_protocol.is_some() {
            res.peer_protocol = f.peer_protocol;
        }
        res.failed_phase = rec.first_failed();
    }
    res.total_ms = rec.elapsed_ms();
    res.phases = rec.phases;
    res
}

/// The software a greeting names: the first of `known` (`(words, name)`,
/// matched word by word, case-insensitively) found in `text`, with the version
/// that follows it when the next word starts with a digit.
pub(crate) fn known_software(text: &str, known: &[(&str, &str)]) -> Option<String> {
    let words: Vec<&str> = text
        .split_ascii_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '-'))
        .collect();
    for (needle, name) in known {
        let needle: Vec<&str> = needle.split(' ').collect();
        let Some(i) = words.windows(needle.len()).position(|w| {
            w.iter()
                .zip(&needle)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
        }) else {
            continue;
        };
        let version = words
            .get(i + needle.len())
            .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()));
        return Some(match version {
            Some(v) => format!("{name} {v}"),
            None => name.to_string(),
        });
    }
    None
}

/// The connect phase, with the socket-level facts recorded.
pub(crate) async fn connect(
    spec: &ProbeSpec,
    rec: &mut Recorder,
    res: &mut ProbeResult,
) -> Result<TcpStream, Failure> {
    let start = Instant::now();
    let result = rec
        .step(
            Phase::Connect,
            spec.timeouts.connect,
            net::connect(spec.addr),
        )
        .await;
    let ms = start.elapsed().as_millis() as u64;
    res.connect = Some(match &result {
        Ok(stream) => ConnectFacts {
            local_addr: stream.local_addr().ok().map(|a| a.to_string()),
            result: "connected".to_string(),
            errno: None,
            ms,
        },
        Err(f) => ConnectFacts {
            local_addr: None,
            result: match f.errno {
                Some(e) => net::errno_name(e)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("errno {e}")),
                None => "timeout".to_string(),
            },
            errno: f.errno,
            ms,
        },
    });
    result
}

/// The TLS handshake phase over `stream`; on success the TLS facts are recorded.
pub(crate) async fn handshake(
    spec: &ProbeSpec,
    rec: &mut Recorder,
    res: &mut ProbeResult,
    phase: Phase,
    stream: TcpStream,
    alpn: &[&[u8]],
) -> Result<TlsStream<Sniff<TcpStream>>, Failure> {
    let name = tls::server_name(&spec.tls_name).map_err(|e| Failure::new(Outcome::TlsFailed, e))?;
    let (connector, verifier) = spec.trust.connector(alpn);
    let (sniff, seen) = Sniff::new(stream);
    let stream = rec
        .step(phase, spec.timeouts.reply, async {
            connector.connect(name, sniff).await.map_err(|e| {
                let sniffed = seen.lock().map(|s| s.clone()).unwrap_or_default();
                tls::handshake_failure(&e, &sniffed)
            })
        })
        .await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    res.tls = Some(tls::facts(
        stream.get_ref().1,
        verifier.take(),
        &spec.trust,
        &spec.tls_name,
        now,
    ));
    Ok(stream)
}

/// After a silent greeting on a plaintext port: does the port speak TLS from
/// the first byte? One more connection, one handshake, bounded in time.
pub(crate) async fn sniff_tls(spec: &ProbeSpec, rec: &mut Recorder, res: &mut ProbeResult) -> bool {
    let budget = rec
        .remaining()
        .min(spec.timeouts.reply)
        .min(Duration::from_secs(5));
    if budget < Duration::from_millis(500) {
        return false;
    }
    let start = Instant::now();
    let attempt = tokio::time::timeout(budget, async {
        let stream = net::connect(spec.addr).await.ok()?;
        let name = tls::server_name(&spec.tls_name).ok()?;
        let (connector, verifier) = spec.trust.connector(&[]);
        match connector.connect(name, stream).await {
            Ok(tls_stream) => {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                Some(Some(tls::facts(
                    tls_stream.get_ref().1,
                    verifier.take(),
                    &spec.trust,
                    &spec.tls_name,
                    now,
                )))
            }
            Err(e) => {
                let alert = e
                    .get_ref()
                    .and_then(|i| i.downcast_ref::<rustls::Error>())
                    .is_some_and(|t| matches!(t, rustls::Error::AlertReceived(_)));
                alert.then_some(None)
            }
        }
    })
    .await;
    match attempt {
        Ok(Some(facts)) => {
            rec.record(Phase::TlsSniff, start, None);
            if facts.is_some() {
                res.tls = facts;
            }
            true
        }
        _ => {
            rec.record(
                Phase::TlsSniff,
                start,
                Some("the port did not answer a TLS handshake either".to_string()),
            );
            false
        }
    }
}

/// A greeting that never came on a plaintext port: if the port answers a TLS
/// handshake on a second connection, it speaks implicit TLS (like `like`),
/// not `protocol` with STARTTLS. The first connection must be closed already.
pub(crate) async fn silent_greeting(
    spec: &ProbeSpec,
    rec: &mut Recorder,
    res: &mut ProbeResult,
    silent: Failure,
    like: &str,
    protocol: &str,
) -> Failure {
    if sniff_tls(spec, rec, res).await {
        Failure::mismatch(
            "tls",
            format!(
                "the port speaks TLS from the first byte (implicit TLS, like {like}), not {protocol}; {}",
                silent.detail
            ),
        )
    } else {
        silent
    }
}

/// Drop what a server sent before it was asked (pipelining abuse, a
/// pre-greeting talker), so it is never read as the answer to `before`;
/// say so in a note.
pub(crate) fn unsolicited<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut LineIo<S>,
    res: &mut ProbeResult,
    before: &str,
) {
    let n = io.discard_pending();
    if n > 0 {
        res.notes.push(format!(
            "the server sent {n} bytes nobody asked for before our {before}; they were discarded"
        ));
    }
}

/// Hand a plaintext connection over to TLS after the server said `yes` to
/// `command` (STARTTLS, STLS): bytes it sent ahead are dropped, never read as
/// if they came inside TLS; what follows that is not TLS is broken TLS, not
/// another protocol; the connection's first bytes carry over.
pub(crate) async fn upgrade(
    spec: &ProbeSpec,
    rec: &mut Recorder,
    res: &mut ProbeResult,
    io: LineIo<TcpStream>,
    command: &str,
    yes: &str,
) -> Result<LineIo<TlsStream<Sniff<TcpStream>>>, Failure> {
    let first = io.first.clone();
    let (tcp, early) = io.into_inner();
    if early > 0 {
        res.notes.push(format!(
            "the server sent {early} bytes after its {yes} to {command}, before the TLS handshake; they were discarded"
        ));
    }
    let tls = handshake(spec, rec, res, Phase::TlsHandshake, tcp, &[])
        .await
        .map_err(|f| match f.outcome {
            Outcome::ProtocolMismatch => Failure::new(
                Outcome::TlsFailed,
                format!(
                    "the server accepted {command} but did not speak TLS after it: {}",
                    f.detail
                ),
            ),
            _ => f,
        })?;
    Ok(LineIo::continuing(tls, first))
}

/// Write one command (its `Display` is the wire line, CRLF added by LineIo).
pub(crate) async fn send<S, C>(io: &mut LineIo<S>, cmd: C) -> Result<(), Failure>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: std::fmt::Display,
{
    let line = cmd.to_string();
    io.send(&line)
        .await
        .map_err(|e| net::io_failure(&e, &format!("sending {line}")))
}
