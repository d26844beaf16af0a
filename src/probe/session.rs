//! One probe's session: what it was asked (the spec), what it has done (the
//! recorder's phases) and what it has learned (the result). The steps every
//! protocol shares live here: connect, TLS handshake, the TLS sniff after a
//! silent greeting, the STARTTLS upgrade, unsolicited bytes.

use super::ProbeSpec;
use crate::net::{self, LineIo, Sniff};
use crate::phase::{Failure, Recorder};
use crate::report::{ConnectFacts, ConnectResult, Outcome, Phase, ProbeResult};
use crate::tls;
use std::future::Future;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

pub(crate) struct Session<'a> {
    pub spec: &'a ProbeSpec,
    pub rec: Recorder,
    pub res: ProbeResult,
}

impl<'a> Session<'a> {
    pub fn new(spec: &'a ProbeSpec) -> Session<'a> {
        Session {
            spec,
            rec: Recorder::new(spec.deadline),
            res: ProbeResult::new(spec.service, spec.addr.port(), Some(spec.addr.ip())),
        }
    }

    /// The result, with the first failure (if any) as its outcome.
    pub fn finish(self, result: Result<(), Failure>) -> ProbeResult {
        let Session { rec, mut res, .. } = self;
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

    /// One phase under its own limit: see [`Recorder::step`].
    pub async fn step<T, F>(&mut self, phase: Phase, limit: Duration, fut: F) -> Result<T, Failure>
    where
        F: Future<Output = Result<T, Failure>>,
    {
        self.rec.step(phase, limit, fut).await
    }

    pub fn note(&mut self, text: String) {
        self.res.notes.push(text);
    }

    /// The connect phase, with the socket-level facts recorded.
    pub async fn connect(&mut self) -> Result<TcpStream, Failure> {
        let start = Instant::now();
        let (addr, limit) = (self.spec.addr, self.spec.timeouts.connect);
        let result = self.step(Phase::Connect, limit, net::connect(addr)).await;
        let ms = start.elapsed().as_millis() as u64;
        self.res.connect = Some(match &result {
            Ok(stream) => ConnectFacts {
                local_addr: stream.local_addr().ok().map(|a| a.to_string()),
                result: ConnectResult::Connected,
                errno: None,
                ms,
            },
            Err(f) => ConnectFacts {
                local_addr: None,
                result: match f.errno {
                    Some(e) => ConnectResult::Error(
                        net::errno_name(e)
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("errno {e}")),
                    ),
                    None => ConnectResult::Timeout,
                },
                errno: f.errno,
                ms,
            },
        });
        result
    }

    /// The TLS handshake phase over `stream`; on success the TLS facts are recorded.
    pub async fn handshake(
        &mut self,
        stream: TcpStream,
        alpn: &[&[u8]],
    ) -> Result<TlsStream<Sniff<TcpStream>>, Failure> {
        let spec = self.spec;
        let name =
            tls::server_name(&spec.tls_name).map_err(|e| Failure::new(Outcome::TlsFailed, e))?;
        let (connector, verifier) = spec.trust.connector(alpn);
        let (sniff, seen) = Sniff::new(stream);
        let stream = self
            .step(Phase::TlsHandshake, spec.timeouts.reply, async {
                connector.connect(name, sniff).await.map_err(|e| {
                    let sniffed = seen.lock().map(|s| s.clone()).unwrap_or_default();
                    // A plaintext "421 Too many connections" instead of a
                    // ServerHello: the port does speak TLS, just not to us now.
                    super::limit::limited_before_tls(&sniffed)
                        .unwrap_or_else(|| tls::handshake_failure(&e, &sniffed))
                })
            })
            .await?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.res.tls = Some(tls::facts(
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
    async fn sniff_tls(&mut self) -> bool {
        let spec = self.spec;
        let budget = self
            .rec
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
                self.rec.record(Phase::TlsSniff, start, None);
                if facts.is_some() {
                    self.res.tls = facts;
                }
                true
            }
            _ => {
                self.rec.record(
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
    pub async fn silent_greeting(
        &mut self,
        silent: Failure,
        like: &str,
        protocol: &str,
    ) -> Failure {
        if self.sniff_tls().await {
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
    pub fn unsolicited<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut LineIo<S>,
        before: &str,
    ) {
        let n = io.discard_pending();
        if n > 0 {
            self.note(format!(
                "the server sent {n} bytes nobody asked for before our {before}; they were discarded"
            ));
        }
    }

    /// Hand a plaintext connection over to TLS after the server said `yes` to
    /// `command` (STARTTLS, STLS): bytes it sent ahead are dropped, never read as
    /// if they came inside TLS; what follows that is not TLS is broken TLS, not
    /// another protocol; the connection's first bytes carry over.
    pub async fn upgrade(
        &mut self,
        io: LineIo<TcpStream>,
        command: &str,
        yes: &str,
    ) -> Result<LineIo<TlsStream<Sniff<TcpStream>>>, Failure> {
        let first = io.first.clone();
        let (tcp, early) = io.into_inner();
        if early > 0 {
            self.note(format!(
                "the server sent {early} bytes after its {yes} to {command}, before the TLS handshake; they were discarded"
            ));
        }
        let tls = self
            .handshake(tcp, &[])
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
