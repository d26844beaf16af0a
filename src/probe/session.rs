//! One probe's session: what it was asked (the spec), what it has done (the
//! recorder's phases) and what it has learned (the result). The steps every
//! protocol shares live here: connect, TLS handshake, the TLS sniff after a
//! silent greeting, the STARTTLS upgrade, unsolicited bytes.

use super::oldtls::{self, Heard, Shape};
use super::ProbeSpec;
use crate::escape::escape_str;
use crate::net::{self, LineIo, Sniff};
use crate::phase::{secs, Failure, Recorder};
use crate::report::{
    ConnectFacts, ConnectResult, Outcome, Phase, ProbeResult, SafeText, TlsAnswer, TlsVersions,
};
use crate::service::{Role, TlsMode};
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
    /// The last TLS handshake's server asked for a client certificate.
    client_cert_asked: bool,
    /// On a STARTTLS port, rustls's handshake failed the way a server of only
    /// older TLS fails it: the dialog driver asks which versions it speaks,
    /// on a second connection through the dialog (see [`Session::ask_versions`]).
    versions_pending: Option<Shape>,
    /// The versions were asked already: once per probe.
    versions_asked: bool,
    /// `-vv`: the dialogue, written down by the streams it goes over.
    pub tape: Option<net::Tape>,
}

impl<'a> Session<'a> {
    pub fn new(spec: &'a ProbeSpec) -> Session<'a> {
        Session {
            spec,
            rec: Recorder::new(spec.deadline),
            res: ProbeResult::new(spec.service, spec.addr.port(), Some(spec.addr.ip())),
            client_cert_asked: false,
            versions_pending: None,
            versions_asked: false,
            tape: spec.transcript.then(net::Tape::new),
        }
    }

    /// The result, with the first failure (if any) as its outcome.
    pub fn finish(self, result: Result<(), Failure>) -> ProbeResult {
        let Session {
            rec, mut res, tape, ..
        } = self;
        if let (Some(tape), Err(f)) = (&tape, &result) {
            tape.note(&format!("{}: {}", f.outcome.as_str(), f.detail));
        }
        // Lines of escaped text, escaped again (a no-op) to keep their type.
        res.transcript = tape
            .map(|t| t.lines().iter().map(|l| escape_str(l)).collect())
            .unwrap_or_default();
        if let Err(f) = result {
            res.outcome = f.outcome;
            // Failure details quote servers: escaped as a whole when stored.
            res.detail = Some(escape_str(&f.detail));
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

    /// A note; escaped as a whole when stored.
    pub fn note(&mut self, text: String) {
        self.res.notes.push(escape_str(&text));
    }

    /// The connect phase, with the socket-level facts recorded: how it
    /// ended, and the ICMP error it drew, read from the socket's error queue.
    pub async fn connect(&mut self) -> Result<TcpStream, Failure> {
        let start = Instant::now();
        let (addr, limit) = (self.spec.addr, self.spec.timeouts.connect);
        let attempt = net::Connecting::start(addr, net::ConnectOptions::default());
        let waited = self
            .step(Phase::Connect, limit, async {
                match &attempt {
                    Ok(a) => a.established().await,
                    Err(f) => Err(f.clone()),
                }
            })
            .await;
        let result = match (attempt, waited) {
            (Ok(a), Ok(())) => Ok(a.into_stream()),
            // Our limit passed; an ICMP error may still have been queued.
            (Ok(a), Err(f)) if f.icmp.is_none() && f.errno.is_none() => match a.icmp() {
                Some(icmp) => {
                    let f = net::timeout_with_icmp(f, icmp, addr.ip());
                    self.rec.fail_current(&f.detail);
                    Err(f)
                }
                None => Err(f),
            },
            (_, Err(f)) => Err(f),
            (Err(f), Ok(())) => Err(f),
        };
        let ms = start.elapsed().as_millis() as u64;
        if let (Some(tape), Ok(_)) = (&self.tape, &result) {
            tape.note(&format!("connected to {addr}"));
        }
        self.res.connect = Some(match &result {
            Ok(stream) => ConnectFacts {
                local_addr: stream.local_addr().ok().map(|a| a.to_string()),
                result: ConnectResult::Connected,
                errno: None,
                ms,
                icmp: None,
            },
            Err(f) => ConnectFacts {
                local_addr: None,
                result: match f.errno {
                    Some(e) => ConnectResult::Error(
                        net::errno_name(e).unwrap_or_else(|| format!("errno {e}")),
                    ),
                    None => ConnectResult::Timeout,
                },
                errno: f.errno,
                ms,
                icmp: f.icmp.as_deref().cloned(),
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
        // How the handshake failed, when that is how a server of only older
        // TLS makes it fail.
        let mut old_shape = None;
        let result = self
            .step(Phase::TlsHandshake, spec.timeouts.reply, async {
                connector.connect(name, sniff).await.map_err(|e| {
                    let sniffed = seen.lock().map(|s| s.clone()).unwrap_or_default();
                    // A plaintext "421 Too many connections" instead of a
                    // ServerHello: the port does speak TLS, just not to us now.
                    if let Some(f) = super::limit::limited_before_tls(&sniffed) {
                        return f;
                    }
                    let cert_asked = verifier.client_cert_asked();
                    if !cert_asked {
                        old_shape = oldtls::shape(&e, &sniffed);
                    }
                    tls::handshake_failure(&e, &sniffed, cert_asked)
                })
            })
            .await;
        let stream = match (result, old_shape) {
            (Ok(stream), _) => stream,
            (Err(f), None) => return Err(f),
            (Err(f), Some(shape)) => return Err(self.old_tls(f, shape).await),
        };
        net::ack_now(stream.get_ref().0.get_ref());
        self.client_cert_asked = verifier.client_cert_asked();
        let now = spec.trust.now();
        let facts = tls::facts(
            stream.get_ref().1,
            verifier.take(),
            &spec.trust,
            &spec.tls_name,
            now,
            spec.service.role == Role::Relay,
        );
        if let Some(tape) = &self.tape {
            tape.note(&format!(
                "TLS started with {} ({}, {}, certificate {})",
                spec.tls_name,
                facts.version,
                facts.cipher_suite,
                facts.verdict.as_str()
            ));
        }
        self.res.tls = Some(facts);
        Ok(stream)
    }

    /// rustls's handshake failed with `f` the way a server of only older TLS
    /// makes it fail (`shape`): find out which version the server speaks.
    /// When its answer to rustls already said so, that is the answer; on an
    /// implicit-TLS port a second connection asks; on a STARTTLS port the
    /// dialog driver does (it knows the dialog up to STARTTLS).
    async fn old_tls(&mut self, f: Failure, shape: Shape) -> Failure {
        if self.versions_asked {
            return f;
        }
        if let Shape::OldHello(answer) = &shape {
            self.versions_asked = true;
            let heard = Heard::Answer(*answer);
            self.res.tls_versions = Some(oldtls::facts(&heard, false));
            return learnt(f, &shape, &heard);
        }
        if self.spec.service.tls != TlsMode::Implicit {
            self.versions_pending = Some(shape);
            return f;
        }
        let spec = self.spec;
        let open = async move {
            let limit = spec.timeouts.connect;
            match tokio::time::timeout(limit, net::connect(spec.addr)).await {
                Ok(Ok(tcp)) => Ok(tcp),
                Ok(Err(f)) => Err(f.detail),
                Err(_) => Err(format!(
                    "no answer to the connection attempt within {}",
                    secs(limit)
                )),
            }
        };
        self.ask_versions(f, shape, open).await
    }

    /// On a STARTTLS port: how rustls's handshake failed, when it failed the
    /// way a server of only older TLS makes it fail and the versions are
    /// still to be asked (with [`Session::ask_versions`]).
    pub fn take_versions_pending(&mut self) -> Option<Shape> {
        self.versions_pending.take()
    }

    /// Ask which TLS versions the server speaks: a ClientHello of
    /// mailport's own offering TLS 1.0 to 1.2, on the connection `open`
    /// makes (for a STARTTLS port, through the dialog up to the server's yes
    /// to STARTTLS), the answer read up to the ServerHello's version, then
    /// closed. Within the reply timeout and the probe's deadline; recorded
    /// as the `tls_versions` phase and in the result. Returns the failure
    /// `f` of rustls's handshake, in the words of what was learnt.
    pub async fn ask_versions<F>(&mut self, f: Failure, shape: Shape, open: F) -> Failure
    where
        F: Future<Output = Result<TcpStream, String>>,
    {
        self.versions_asked = true;
        let budget = self.rec.remaining();
        if budget < Duration::from_millis(200) {
            return f;
        }
        let start = Instant::now();
        let reply = self.spec.timeouts.reply;
        let hello = oldtls::client_hello(&self.spec.tls_name, oldtls::random());
        let asked = tokio::time::timeout(budget, async {
            let mut tcp = open.await?;
            Ok::<_, String>(oldtls::ask(&mut tcp, &hello, reply).await)
        })
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "the probe's deadline ({}) passed first",
                secs(budget)
            ))
        });
        match asked {
            Err(why) => {
                let why =
                    format!("mailport could not ask which TLS versions the server speaks: {why}");
                self.rec
                    .record(Phase::TlsVersions, start, Some(why.clone()));
                self.res.tls_versions = Some(TlsVersions {
                    answer: TlsAnswer::NoConnection,
                    version: None,
                    cipher_suite: None,
                    alert: None,
                    second_connection: true,
                });
                Failure {
                    detail: format!("{}; {why}", f.detail),
                    ..f
                }
            }
            Ok(heard) => {
                self.rec
                    .record(Phase::TlsVersions, start, oldtls::no_answer(&heard, reply));
                self.res.tls_versions = Some(oldtls::facts(&heard, true));
                learnt(f, &shape, &heard)
            }
        }
    }

    /// The first exchange inside TLS failed with `f`. In TLS 1.3 the client
    /// finishes its handshake before the server has judged it: a server that
    /// asked for a client certificate, got none and alerts or closes shows
    /// that here, not in the handshake. Then that is the failure.
    pub fn inside_tls(&mut self, f: Failure) -> Failure {
        if !self.client_cert_asked || !matches!(f.outcome, Outcome::Closed | Outcome::Reset) {
            return f;
        }
        let how = match f.detail.split_once("received fatal alert: ") {
            Some((_, alert)) => format!(
                "ended the session with a {} alert",
                tls::snake_case(alert.trim())
            ),
            None if f.outcome == Outcome::Reset => "reset the connection".to_string(),
            None => "closed the connection".to_string(),
        };
        let failure = tls::client_cert_required(&how);
        self.rec.fail_current(&failure.detail);
        failure
    }

    /// After a silent greeting on a plaintext port: does the port speak TLS
    /// from the first byte, or HTTP (a server that waits for a request)?
    /// Two more connections, opened one after the other and tried at once:
    /// a TLS handshake, and `HEAD / HTTP/1.0`; bounded in bytes, and in time
    /// by one budget for all of it: --sniff-timeout, never more than
    /// --reply-timeout nor past the deadline (0: no second look).
    async fn sniff_silent_port(&mut self) -> Sniffed {
        let spec = self.spec;
        let budget = sniff_budget(spec.timeouts, self.rec.remaining());
        if budget < MIN_SNIFF {
            return Sniffed::Nothing;
        }
        let start = Instant::now();
        let end = start + budget;
        let connect = || tokio::time::timeout_at(end, net::connect(spec.addr));
        // One after the other, so the server accepts them in this order.
        let for_tls = connect().await.ok().and_then(Result::ok);
        let for_http = connect().await.ok().and_then(Result::ok);
        let (tls, http) = tokio::join!(
            tokio::time::timeout_at(end, try_tls(spec, for_tls)),
            tokio::time::timeout_at(end, try_http(for_http)),
        );
        let tls = tls.ok().flatten();
        self.rec.record(
            Phase::TlsSniff,
            start,
            tls.is_none()
                .then(|| "the port did not answer a TLS handshake either".to_string()),
        );
        if let Some(facts) = tls {
            if facts.is_some() {
                self.res.tls = facts;
            }
            return Sniffed::Tls;
        }
        let http = http.ok().flatten();
        let said = http.as_deref().filter(|b| net::identify(b) == Some("http"));
        self.rec.record(
            Phase::HttpSniff,
            start,
            said.is_none()
                .then(|| "the port did not answer HEAD / either".to_string()),
        );
        match said {
            Some(bytes) => Sniffed::Http(net::quote(bytes, 80)),
            None => Sniffed::Nothing,
        }
    }

    /// A greeting that never came on a plaintext port: if the port answers a TLS
    /// handshake on a second connection, it speaks implicit TLS (like `like`),
    /// not `protocol` with STARTTLS; if it answers an HTTP request, it is a
    /// web server. The first connection must be closed already.
    pub async fn silent_greeting(
        &mut self,
        silent: Failure,
        like: &str,
        protocol: &str,
    ) -> Failure {
        match self.sniff_silent_port().await {
            Sniffed::Tls => Failure::mismatch(
                "tls",
                format!(
                    "the port speaks TLS from the first byte (implicit TLS, like {like}), not {protocol}; {}",
                    silent.detail
                ),
            ),
            Sniffed::Http(status) => Failure::mismatch(
                "http",
                format!(
                    "this port speaks HTTP, not {}: it sent no greeting and answered HEAD / with \"{status}\" (a web server, or a port forward to one)",
                    self.spec.service.protocol.as_str().to_uppercase()
                ),
            ),
            Sniffed::Nothing => silent,
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
        let tape = io.tape();
        let ahead = io.pending_bytes().to_vec();
        let (tcp, early) = io.into_inner();
        if early > 0 {
            self.note(format!(
                "the server sent {early} bytes after its {yes} to {command}, before the TLS handshake; they were discarded"
            ));
        }
        // Plaintext where TLS should begin is the server's own account of
        // why it cannot (Courier: "couriertls: ...pem: No such file or
        // directory"): quote it, whether it came ahead of the handshake or
        // as the answer to it.
        let said = (!ahead.is_empty() && net::identify(&ahead) != Some("tls"))
            .then(|| net::quote(&ahead, 120));
        if said.is_some() {
            // The server said why in plaintext: no need to ask it more.
            self.versions_asked = true;
        }
        let tls = self
            .handshake(tcp, &[])
            .await
            .map_err(|f| match (said, f.outcome) {
                (
                    Some(words),
                    Outcome::TlsFailed
                    | Outcome::Closed
                    | Outcome::Reset
                    | Outcome::ProtocolMismatch,
                ) => plaintext_after_yes(command, yes, &words),
                (_, Outcome::TlsFailed) if f.reply.is_some() => {
                    plaintext_after_yes(command, yes, f.reply.as_deref().unwrap_or_default())
                }
                (_, Outcome::ProtocolMismatch) => match &f.reply {
                    Some(words) => plaintext_after_yes(command, yes, words),
                    None => Failure::new(
                        Outcome::TlsFailed,
                        format!(
                            "the server accepted {command} but did not speak TLS after it: {}",
                            f.detail
                        ),
                    ),
                },
                _ => f,
            })?;
        Ok(LineIo::continuing(tls, first).with_tape(tape))
    }
}

/// rustls's failure `f`, in the words of what the server's answer to
/// mailport's own ClientHello (`heard`) showed.
fn learnt(f: Failure, shape: &Shape, heard: &Heard) -> Failure {
    let (words, names_the_cause) = oldtls::explain(&f.detail, shape, heard);
    if names_the_cause {
        Failure::new(Outcome::TlsFailed, words)
    } else {
        Failure { detail: words, ..f }
    }
}

/// A second look shorter than this is not taken.
const MIN_SNIFF: Duration = Duration::from_millis(100);

/// The time the second look at a silent port may take: --sniff-timeout,
/// within --reply-timeout (it is a TLS handshake) and what is `left` of the
/// probe's deadline.
fn sniff_budget(t: crate::plan::Timeouts, left: Duration) -> Duration {
    t.sniff.min(t.reply).min(left)
}

/// What a silent port turned out to speak.
enum Sniffed {
    Tls,
    /// HTTP: the first line of its answer, quoted.
    Http(SafeText),
    Nothing,
}

/// A TLS handshake on `stream`: `Some` when the port speaks TLS (with the
/// facts of a completed handshake, or none after an alert), `None` if not.
async fn try_tls(
    spec: &ProbeSpec,
    stream: Option<TcpStream>,
) -> Option<Option<crate::report::TlsFacts>> {
    let stream = stream?;
    let name = tls::server_name(&spec.tls_name).ok()?;
    let (connector, verifier) = spec.trust.connector(&[]);
    match connector.connect(name, stream).await {
        Ok(tls_stream) => {
            let now = spec.trust.now();
            Some(Some(tls::facts(
                tls_stream.get_ref().1,
                verifier.take(),
                &spec.trust,
                &spec.tls_name,
                now,
                spec.service.role == Role::Relay,
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
}

/// `HEAD / HTTP/1.0` on `stream`: the start of the answer (at most 512
/// bytes, up to the first line's end), if any came.
async fn try_http(stream: Option<TcpStream>) -> Option<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = stream?;
    stream.write_all(b"HEAD / HTTP/1.0\r\n\r\n").await.ok()?;
    let mut buf = vec![0u8; 512];
    let mut n = 0;
    while n < buf.len() && !buf[..n].contains(&b'\n') {
        match stream.read(&mut buf[n..]).await {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    buf.truncate(n);
    (n > 0).then_some(buf)
}

/// The server said yes to STARTTLS and then wrote `words` in plaintext instead of TLS.
fn plaintext_after_yes(command: &str, yes: &str, words: &str) -> Failure {
    Failure::new(
        Outcome::TlsFailed,
        format!(
            "the server accepted {command} ({yes}) but did not speak TLS after it; it wrote, in plaintext: \"{words}\""
        ),
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Timeouts;

    #[test]
    fn the_second_look_fits_the_users_timeouts_and_the_deadline() {
        let s = Duration::from_secs;
        let t = |sniff, reply| Timeouts {
            connect: s(5),
            greeting: s(2),
            reply: s(reply),
            sniff: s(sniff),
        };
        assert_eq!(sniff_budget(t(2, 10), s(60)), s(2), "--sniff-timeout");
        assert_eq!(
            sniff_budget(t(5, 1), s(60)),
            s(1),
            "never past --reply-timeout"
        );
        assert_eq!(
            sniff_budget(t(2, 10), s(1)),
            s(1),
            "never past the deadline"
        );
        assert_eq!(sniff_budget(t(0, 10), s(60)), Duration::ZERO, "0: none");
    }
}
