//! A probe takes plain data and returns plain data: it never prints, and a
//! failure of the server is an outcome in the result, never an `Err`.

pub mod http;
pub mod imap;
mod limit;
mod names;
mod oldtls;
pub mod pop3;
mod session;
pub mod smtp;

use crate::escape::escape_str;
use crate::net::LineIo;
use crate::phase::Failure;
use crate::report::{Outcome, Phase, ProbeResult, SafeText};
use crate::service::{Protocol, Service, TlsMode};
use crate::tls::Trust;
pub(crate) use names::NameSlot;
use names::{greeting_name, software};
pub(crate) use session::{send, Session};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

pub use crate::plan::{Ehlo, Timeouts};

/// Everything one probe needs.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub addr: SocketAddr,
    pub service: &'static Service,
    /// The name certificates are verified against (and sent in SNI).
    pub tls_name: String,
    /// What we announce in EHLO.
    pub ehlo: Ehlo,
    pub timeouts: Timeouts,
    pub deadline: Instant,
    pub trust: Arc<Trust>,
    /// `-vv`: write the dialogue down (`ProbeResult::transcript`).
    pub transcript: bool,
}

/// Run one probe to its end; the result always comes back.
pub async fn run_probe(spec: &ProbeSpec) -> ProbeResult {
    let mut s = Session::new(spec);
    let result = match spec.service.protocol {
        Protocol::Smtp => converse::<smtp::Smtp>(&mut s).await,
        Protocol::Imap => converse::<imap::Imap>(&mut s).await,
        Protocol::Pop3 => converse::<pop3::Pop3>(&mut s).await,
        Protocol::Http => http::run(&mut s).await,
    };
    s.finish(result)
}

/// A stream a dialog runs over: plaintext TCP, or TLS after STARTTLS.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin {}
impl<S: AsyncRead + AsyncWrite + Unpin> Stream for S {}

/// What the server said that ends the dialog, and whether to say goodbye
/// after it (not after SMTP 421 or IMAP `* BYE`: the server is gone).
pub(crate) struct Refusal {
    pub failure: Failure,
    pub goodbye: bool,
}

/// A greeting as the report shows it, and the text its host name and its
/// software are read from.
pub(crate) struct GreetingText {
    pub shown: SafeText,
    pub name_from: String,
    pub software_from: String,
}

/// One mail protocol's side of the dialog that [`converse`] drives: greeting,
/// capabilities, STARTTLS, capabilities inside TLS, goodbye. Its methods read
/// and write the wire (each inside the phase the driver times) or judge what
/// was read; the driver records phases and decides the order.
pub(crate) trait Dialog: Sized {
    /// A greeting, read whole.
    type Greeting;
    /// The answer to the capabilities command, before it is judged.
    type Answer;
    /// What a capability list says.
    type Caps: Clone;

    /// The implicit-TLS port of this protocol and the name of its plaintext
    /// form, for a plaintext port that speaks TLS from the first byte.
    const IMPLICIT_PORT: &'static str;
    const WITH_STARTTLS: &'static str;
    /// What the server is waiting for after its greeting, and before
    /// STARTTLS, as notes about unsolicited bytes name it.
    const FIRST_COMMAND: &'static str;
    const STARTTLS_COMMAND: &'static str;
    /// The STARTTLS verb and the server's yes to it.
    const STARTTLS: &'static str;
    const STARTTLS_YES: &'static str;
    /// Where a greeting names the server's host: see [`NameSlot`].
    const NAME_SLOT: NameSlot;
    /// The software names a greeting may carry: `(words, name)`.
    const SOFTWARE: &'static [(&'static str, &'static str)];

    /// The dialog for one connection (`local`: this end's address).
    fn new(spec: &ProbeSpec, local: Option<IpAddr>) -> Self;

    /// Read the greeting (the driver bounds it in time).
    async fn read_greeting<S: Stream>(&self, io: &mut LineIo<S>)
        -> Result<Self::Greeting, Failure>;
    fn greeting_text(greeting: &Self::Greeting) -> GreetingText;
    /// Accept the greeting (with the capabilities it carries, if any) or refuse it.
    fn judge_greeting(
        greeting: Self::Greeting,
        res: &mut ProbeResult,
    ) -> Result<Option<Self::Caps>, Refusal>;

    /// Ask for the capabilities in `phase` and read the answer.
    async fn ask_capabilities<S: Stream>(
        &self,
        io: &mut LineIo<S>,
        phase: Phase,
    ) -> Result<Self::Answer, Failure>;
    fn judge_capabilities(
        &self,
        answer: Self::Answer,
        phase: Phase,
        res: &mut ProbeResult,
    ) -> Result<Self::Caps, Refusal>;
    /// Put the capabilities into the result: those seen before TLS, or inside it.
    fn record_caps(caps: Self::Caps, tls: bool, res: &mut ProbeResult);
    /// Why STARTTLS must not be tried, given the plaintext capabilities.
    fn no_starttls(caps: &Self::Caps, res: &ProbeResult) -> Option<&'static str>;

    /// Send STARTTLS and read the answer: the server's yes, shown, or the
    /// failure (`starttls_unavailable` when the server says no).
    async fn starttls<S: Stream>(
        &self,
        io: &mut LineIo<S>,
        caps: &Self::Caps,
    ) -> Result<SafeText, Failure>;
    /// Say goodbye and read the answer.
    async fn goodbye<S: Stream>(&self, io: &mut LineIo<S>) -> Result<(), Failure>;
}

/// The one dialog driver: connect; TLS first on an implicit-TLS port; the
/// greeting; the capabilities; on a plaintext port STARTTLS, the handshake
/// and the capabilities again; goodbye.
async fn converse<D: Dialog>(s: &mut Session<'_>) -> Result<(), Failure> {
    let tcp = s.connect().await?;
    let d = D::new(s.spec, tcp.local_addr().ok().map(|a| a.ip()));
    if s.spec.service.tls == TlsMode::Implicit {
        let tls = s.handshake(tcp, &[]).await?;
        let mut io = LineIo::new(tls).with_tape(s.tape.clone());
        let greeted = match greeting(&d, s, &mut io).await {
            Err(f) => return Err(s.inside_tls(f)),
            Ok(greeted) => greeted,
        };
        s.unsolicited(&mut io, D::FIRST_COMMAND);
        let caps = capabilities(&d, s, &mut io, Phase::Capabilities, greeted).await?;
        D::record_caps(caps, true, &mut s.res);
        goodbye(&d, s, &mut io).await;
        return Ok(());
    }

    let mut io = LineIo::new(tcp).with_tape(s.tape.clone());
    let greeted = match greeting(&d, s, &mut io).await {
        Err(f) if f.outcome == Outcome::GreetingTimeout => {
            drop(io);
            return Err(s
                .silent_greeting(f, D::IMPLICIT_PORT, D::WITH_STARTTLS)
                .await);
        }
        other => other?,
    };
    s.unsolicited(&mut io, D::FIRST_COMMAND);
    let caps = capabilities(&d, s, &mut io, Phase::Capabilities, greeted).await?;
    D::record_caps(caps.clone(), false, &mut s.res);
    if let Some(why) = D::no_starttls(&caps, &s.res) {
        s.rec.skip(Phase::Starttls, why);
        goodbye(&d, s, &mut io).await;
        return Err(Failure::new(Outcome::StarttlsUnavailable, why));
    }

    // A yes sent ahead of our STARTTLS must not be taken for the answer.
    s.unsolicited(&mut io, D::STARTTLS_COMMAND);
    let limit = s.spec.timeouts.reply;
    let yes = match s
        .step(Phase::Starttls, limit, d.starttls(&mut io, &caps))
        .await
    {
        Ok(yes) => yes,
        Err(f) => {
            if f.outcome == Outcome::StarttlsUnavailable {
                s.res.starttls_reply = f.reply.clone();
                goodbye(&d, s, &mut io).await;
            }
            return Err(f);
        }
    };
    s.res.starttls_reply = Some(yes);
    let mut io = match s.upgrade(io, D::STARTTLS, D::STARTTLS_YES).await {
        Ok(io) => io,
        Err(f) => {
            return Err(match s.take_versions_pending() {
                // Which TLS versions does it speak? Ask on a second
                // connection, through the same dialog up to the yes.
                Some(shape) => {
                    let spec = s.spec;
                    s.ask_versions(f, shape, to_starttls::<D>(spec)).await
                }
                None => f,
            });
        }
    };
    let caps = match capabilities(&d, s, &mut io, Phase::CapabilitiesTls, None).await {
        Err(f) => return Err(s.inside_tls(f)),
        Ok(caps) => caps,
    };
    D::record_caps(caps, true, &mut s.res);
    goodbye(&d, s, &mut io).await;
    Ok(())
}

/// A second connection through the plaintext dialog up to the server's yes
/// to STARTTLS, for a ClientHello of mailport's own: each step under its own
/// timeout, nothing recorded (the caller records the whole as one phase).
/// The plaintext connection, or why it did not get there.
async fn to_starttls<D: Dialog>(spec: &ProbeSpec) -> Result<tokio::net::TcpStream, String> {
    use tokio::time::timeout;
    let t = spec.timeouts;
    let late = |what: &str, limit: Duration| {
        format!(
            "the second connection got no {what} within {}",
            crate::phase::secs(limit)
        )
    };
    let tcp = timeout(t.connect, crate::net::connect(spec.addr))
        .await
        .map_err(|_| late("connection", t.connect))?
        .map_err(|f| format!("the second connection failed: {}", f.detail))?;
    let d = D::new(spec, tcp.local_addr().ok().map(|a| a.ip()));
    // The judges fill a result: this one is thrown away.
    let mut scratch = ProbeResult::new(spec.service, spec.addr.port(), Some(spec.addr.ip()));
    let refused = |r: Refusal| format!("the second connection was refused: {}", r.failure.detail);
    let failed = |f: Failure| format!("the second connection failed: {}", f.detail);
    let mut io = LineIo::new(tcp);
    let greeting = timeout(t.greeting, d.read_greeting(&mut io))
        .await
        .map_err(|_| late("greeting", t.greeting))?
        .map_err(failed)?;
    let caps = match D::judge_greeting(greeting, &mut scratch).map_err(refused)? {
        Some(caps) => caps,
        None => {
            let phase = Phase::Capabilities;
            let answer = timeout(t.reply, d.ask_capabilities(&mut io, phase))
                .await
                .map_err(|_| late("capabilities", t.reply))?
                .map_err(failed)?;
            d.judge_capabilities(answer, phase, &mut scratch)
                .map_err(refused)?
        }
    };
    if let Some(why) = D::no_starttls(&caps, &scratch) {
        return Err(format!("the second connection: {why}"));
    }
    io.discard_pending();
    timeout(t.reply, d.starttls(&mut io, &caps))
        .await
        .map_err(|_| late(&format!("answer to {}", D::STARTTLS), t.reply))?
        .map_err(failed)?;
    Ok(io.into_inner().0)
}

/// The greeting phase: read, record what it says, judge.
async fn greeting<D: Dialog, S: Stream>(
    d: &D,
    s: &mut Session<'_>,
    io: &mut LineIo<S>,
) -> Result<Option<D::Caps>, Failure> {
    let start = Instant::now();
    let limit = s.spec.timeouts.greeting;
    let greeting = s.step(Phase::Greeting, limit, d.read_greeting(io)).await?;
    s.res.greeting_ms = Some(start.elapsed().as_millis() as u64);
    let text = D::greeting_text(&greeting);
    s.res.greeting = Some(text.shown);
    s.res.greeting_name = greeting_name(&text.name_from, D::NAME_SLOT).map(|n| escape_str(&n));
    s.res.software = software(&text.software_from, D::SOFTWARE).map(|n| escape_str(&n));
    match D::judge_greeting(greeting, &mut s.res) {
        Ok(caps) => Ok(caps),
        Err(mut refusal) => {
            // A refusal that says the server limits connections per client is
            // not a verdict on this address: the runner retries it alone.
            if refusal.failure.outcome == Outcome::Rejected {
                if let Some(f) = s.res.greeting.as_deref().and_then(limit::limited_greeting) {
                    refusal.failure = f;
                }
            }
            Err(refused(d, s, io, refusal).await)
        }
    }
}

/// The capabilities phase, unless the greeting carried them already.
async fn capabilities<D: Dialog, S: Stream>(
    d: &D,
    s: &mut Session<'_>,
    io: &mut LineIo<S>,
    phase: Phase,
    greeted: Option<D::Caps>,
) -> Result<D::Caps, Failure> {
    if let Some(caps) = greeted {
        return Ok(caps);
    }
    let limit = s.spec.timeouts.reply;
    let answer = s.step(phase, limit, d.ask_capabilities(io, phase)).await?;
    match d.judge_capabilities(answer, phase, &mut s.res) {
        Ok(caps) => Ok(caps),
        Err(refusal) => Err(refused(d, s, io, refusal).await),
    }
}

/// The phase just recorded fails with the refusal; goodbye if the server is still there.
async fn refused<D: Dialog, S: Stream>(
    d: &D,
    s: &mut Session<'_>,
    io: &mut LineIo<S>,
    refusal: Refusal,
) -> Failure {
    s.rec.fail_current(&refusal.failure.detail);
    if refusal.goodbye {
        goodbye(d, s, io).await;
    }
    refusal.failure
}

/// Say goodbye; a server that does not answer is no failure of the probe.
async fn goodbye<D: Dialog, S: Stream>(d: &D, s: &mut Session<'_>, io: &mut LineIo<S>) {
    let limit = s.spec.timeouts.reply.min(Duration::from_secs(2));
    let _ = s.step(Phase::Quit, limit, d.goodbye(io)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ehlo_arguments() {
        let name = Ehlo::Name("client.example.org".to_string());
        assert_eq!(name.for_local(None), "client.example.org");
        let literal = Ehlo::AddressLiteral;
        assert_eq!(
            literal.for_local(Some("192.0.2.7".parse().unwrap())),
            "[192.0.2.7]"
        );
        assert_eq!(
            literal.for_local(Some("2001:db8::1".parse().unwrap())),
            "[IPv6:2001:db8::1]"
        );
        assert_eq!(literal.for_local(None), "[127.0.0.1]");
    }
}
