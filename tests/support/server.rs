//! A scripted fake server for driving the real `mailport` binary in tests.
//!
//! Modelled on xh's `tests/server/mod.rs`: the server runs on its own OS
//! thread with a current-thread tokio runtime and listens on
//! `127.0.0.1:0`, so ordinary synchronous `#[test]` functions can start it,
//! run the binary (via `assert_cmd`) against [`FakeServer::port`], and then
//! call [`FakeServer::finish`] to get the transcript of what the client sent.
//!
//! Each accepted connection gets the next script (a `Vec<Step>`). Every step
//! either completes or records a failure; a failure ends that connection and
//! is reported by `finish()` (or by `Drop` when `finish()` was not called),
//! together with the safety rules mailport must keep: it never sends mail,
//! never authenticates, and never goes on after a refused STARTTLS.
//!
//! ```ignore
//! let server = FakeServer::smtp(vec![
//!     Step::Fixture("smtp/postfix-3.7.11/greeting"),
//!     Step::Expect("EHLO"),
//!     Step::send("250-mx.example.test\r\n250 STARTTLS\r\n"),
//!     Step::Expect("QUIT"),
//!     Step::send("221 bye\r\n"),
//! ]);
//! Command::cargo_bin("mailport").unwrap()
//!     .args(["smtp", "127.0.0.1", "--port", &server.port().to_string()])
//!     .assert()
//!     .success();
//! assert_eq!(server.finish(), ["EHLO mailport.invalid", "QUIT"]);
//! ```

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Longest line (including CRLF) an `Expect` reads; longer input is cut
/// into pieces of this size.
pub const MAX_LINE: usize = 4096;
/// How long `Expect` and `ExpectClose` wait for the client.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one write may block (client not reading).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the TLS handshake of `StartTls` may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `Hang` waits for the client to give up.
pub const HANG_LIMIT: Duration = Duration::from_secs(60);
/// How long the server waits for the client to close after a script's last step.
pub const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// How long `finish()` / `Drop` wait for all scripts to run to their end.
pub const FINISH_WAIT: Duration = Duration::from_secs(15);
/// Upper bound of what `SendForever` writes.
pub const SEND_FOREVER_LIMIT: usize = 64 * 1024 * 1024;

/// Most bytes held unread in a connection's buffer.
const BUF_CAP: usize = 2 * MAX_LINE;

/// Client lines whose first word is one of these break the safety rules
/// (sending mail or credentials), in or out of TLS.
const FORBIDDEN_COMMANDS: &[&str] = &[
    "DATA",
    "BDAT",
    "MAIL",
    "RCPT",
    "AUTH",
    "PASS",
    "USER",
    "AUTHORIZATION:",
];
/// IMAP commands (second word, after the tag) that break the safety rules.
const FORBIDDEN_IMAP_COMMANDS: &[&str] = &["LOGIN", "AUTHENTICATE"];

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

/// A scripted fake server on `127.0.0.1:<random port>`; see the module docs.
pub struct FakeServer {
    addr: SocketAddr,
    scripts: usize,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    checked: bool,
}

impl FakeServer {
    /// Serve one script per expected connection, in the order the
    /// connections are accepted. Connections beyond the scripts are
    /// accepted, closed at once and counted as unexpected (a failure).
    pub fn start(connections: Vec<Vec<Step>>) -> FakeServer {
        let scripts: Vec<Script> = connections.into_iter().map(Script::prepare).collect();
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .expect("fake server: bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("fake server: set_nonblocking");
        let addr = listener.local_addr().expect("fake server: local_addr");
        let count = scripts.len();
        let shared = Arc::new(Shared::new(&scripts));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("fake-server-{}", addr.port()))
            .spawn(move || serve(listener, scripts, thread_shared, rx))
            .expect("fake server: spawn thread");
        FakeServer {
            addr,
            scripts: count,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
            checked: false,
        }
    }

    /// A server for a single connection.
    pub fn one(script: Vec<Step>) -> FakeServer {
        Self::start(vec![script])
    }

    /// A server for a single (SMTP) connection; same as [`FakeServer::one`].
    pub fn smtp(script: Vec<Step>) -> FakeServer {
        Self::start(vec![script])
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every line the client sent so far, in order (CRLF stripped).
    pub fn transcript(&self) -> Vec<String> {
        self.shared
            .lock()
            .lines
            .iter()
            .map(|l| l.text.clone())
            .collect()
    }

    /// Like [`FakeServer::transcript`], with `true` for lines sent inside TLS.
    pub fn transcript_tls(&self) -> Vec<(bool, String)> {
        self.shared
            .lock()
            .lines
            .iter()
            .map(|l| (l.tls, l.text.clone()))
            .collect()
    }

    /// Every line the client sent so far, with its connection and TLS state.
    pub fn lines(&self) -> Vec<Line> {
        self.shared.lock().lines.clone()
    }

    /// How many connections were accepted so far (expected or not).
    pub fn connections(&self) -> usize {
        self.shared.lock().accepted
    }

    /// How many TLS handshakes succeeded so far.
    pub fn tls_handshakes(&self) -> usize {
        self.shared.lock().handshakes
    }

    /// The failed TLS handshakes so far, as `#<conn>: <error>`.
    pub fn tls_handshake_errors(&self) -> Vec<String> {
        self.shared.lock().handshake_errors.clone()
    }

    /// Wait (at most 15 s) until every script ran to its end, check the
    /// scripts and the safety rules, stop the server and return the
    /// transcript. Panics, with a full report, on any problem.
    #[track_caller]
    pub fn finish(mut self) -> Vec<String> {
        self.checked = true;
        self.wait_for_scripts();
        self.stop();
        self.assert_ok();
        self.transcript()
    }

    /// Like [`FakeServer::finish`], but every line with its connection and
    /// TLS state.
    #[track_caller]
    pub fn finish_lines(mut self) -> Vec<Line> {
        self.checked = true;
        self.wait_for_scripts();
        self.stop();
        self.assert_ok();
        self.lines()
    }

    fn wait_for_scripts(&self) {
        if self.scripts == 0 {
            return;
        }
        let deadline = std::time::Instant::now() + FINISH_WAIT;
        let mut state = self.shared.lock();
        while !state.done.iter().all(|d| *d) {
            let now = std::time::Instant::now();
            if now >= deadline {
                break;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread itself shows up as a failure below.
            if thread.join().is_err() {
                self.shared
                    .lock()
                    .failures
                    .push("the fake server thread panicked".to_string());
            }
        }
    }

    #[track_caller]
    fn assert_ok(&self) {
        let state = self.shared.lock();
        let problems = state.problems(self.scripts);
        if problems.is_empty() {
            return;
        }
        let report = state.report(self.addr);
        drop(state);
        panic!(
            "fake server on {}: {} problem(s):\n  - {}\n{report}",
            self.addr,
            problems.len(),
            problems.join("\n  - ")
        );
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if self.checked || std::thread::panicking() {
            self.stop();
            return;
        }
        self.checked = true;
        self.wait_for_scripts();
        self.stop();
        self.assert_ok();
    }
}

impl fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .field("scripts", &self.scripts)
            .finish_non_exhaustive()
    }
}

/// A script ready to run: fixtures loaded, step descriptions kept for messages.
struct Script {
    steps: Vec<Step>,
    descriptions: Vec<String>,
}

impl Script {
    fn prepare(steps: Vec<Step>) -> Script {
        let descriptions = steps.iter().map(|s| format!("{s:?}")).collect();
        let steps = steps
            .into_iter()
            .map(|step| match step {
                Step::Fixture(path) => Step::Send(super::fixture(path)),
                Step::SendForever(chunk) if chunk.is_empty() => {
                    panic!("fake server: SendForever needs a non-empty chunk")
                }
                other => other,
            })
            .collect();
        Script {
            steps,
            descriptions,
        }
    }
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn new(scripts: &[Script]) -> Shared {
        Shared {
            state: Mutex::new(State {
                done: vec![false; scripts.len()],
                progress: vec!["not connected yet".to_string(); scripts.len()],
                ..State::default()
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct State {
    accepted: usize,
    unexpected: usize,
    done: Vec<bool>,
    progress: Vec<String>,
    failures: Vec<String>,
    lines: Vec<Line>,
    handshakes: usize,
    handshake_errors: Vec<String>,
    notes: Vec<String>,
}

impl State {
    fn problems(&self, scripts: usize) -> Vec<String> {
        let mut problems = Vec::new();
        if scripts > 0 && self.accepted == 0 {
            problems.push("fake server was never reached (no connection accepted)".to_string());
        }
        for (i, done) in self.done.iter().enumerate() {
            if !done {
                problems.push(format!(
                    "script for connection #{i} did not run to its end within {FINISH_WAIT:?} \
                     (at: {})",
                    self.progress[i]
                ));
            }
        }
        problems.extend(self.failures.iter().cloned());
        if self.unexpected > 0 {
            problems.push(format!(
                "{} unexpected extra connection(s) beyond the {scripts} script(s)",
                self.unexpected
            ));
        }
        problems.extend(safety_violations(&self.lines));
        problems
    }

    fn report(&self, addr: SocketAddr) -> String {
        let mut out = format!(
            "fake server {addr}: {} connection(s) accepted, {} TLS handshake(s) ok\n",
            self.accepted, self.handshakes
        );
        out.push_str("transcript (client lines):\n");
        if self.lines.is_empty() {
            out.push_str("  (none)\n");
        }
        for line in &self.lines {
            out.push_str(&format!("  {line}\n"));
        }
        for e in &self.handshake_errors {
            out.push_str(&format!("TLS handshake failed: {e}\n"));
        }
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        out
    }
}

/// The safety rules over a transcript: no mail, no credentials, nothing but
/// QUIT (or IMAP LOGOUT) after a refused STARTTLS.
pub fn safety_violations(lines: &[Line]) -> Vec<String> {
    let mut out = Vec::new();
    for line in lines {
        let mut words = line.text.split_whitespace();
        let first = words.next().unwrap_or("").to_ascii_uppercase();
        let second = words.next().unwrap_or("").to_ascii_uppercase();
        let where_ = if line.tls {
            "inside TLS"
        } else {
            "in plain text"
        };
        if FORBIDDEN_COMMANDS.contains(&first.as_str()) {
            out.push(format!(
                "SAFETY: connection #{} sent {:?} {where_} (mailport must never send mail or credentials)",
                line.conn, line.text
            ));
        } else if FORBIDDEN_IMAP_COMMANDS.contains(&second.as_str()) {
            out.push(format!(
                "SAFETY: connection #{} sent IMAP {:?} {where_} (mailport must never log in)",
                line.conn, line.text
            ));
        }
        if line.after_refused_starttls && first != "QUIT" && second != "LOGOUT" {
            out.push(format!(
                "SAFETY: connection #{} sent {:?} after its STARTTLS was refused (only QUIT allowed)",
                line.conn, line.text
            ));
        }
    }
    out
}

/// The server thread: a current-thread runtime accepting until shutdown.
fn serve(
    listener: std::net::TcpListener,
    scripts: Vec<Script>,
    shared: Arc<Shared>,
    shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("fake server: tokio runtime");
    runtime.block_on(accept_loop(listener, scripts, shared, shutdown));
    // Dropping the runtime drops (and so closes) every open connection.
    drop(runtime);
}

async fn accept_loop(
    listener: std::net::TcpListener,
    scripts: Vec<Script>,
    shared: Arc<Shared>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let listener =
        tokio::net::TcpListener::from_std(listener).expect("fake server: tokio listener");
    let mut scripts = scripts.into_iter();
    let mut next = 0usize;
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                shared.lock().notes.push(format!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let idx = next;
        next += 1;
        let script = scripts.next();
        {
            let mut state = shared.lock();
            state.accepted += 1;
            if script.is_none() {
                state.unexpected += 1;
            }
        }
        shared.changed.notify_all();
        match script {
            Some(script) => spawn_connection(idx, stream, script, Arc::clone(&shared)),
            None => drop(stream),
        }
    }
}

/// Run one script on its own task; a panic in it becomes a recorded failure.
fn spawn_connection(idx: usize, stream: TcpStream, script: Script, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let task = tokio::spawn(run_connection(idx, stream, script, Arc::clone(&shared)));
    tokio::spawn(async move {
        if let Err(e) = task.await {
            let mut state = shared.lock();
            state
                .failures
                .push(format!("connection #{idx}: script task died: {e}"));
            state.done[idx] = true;
            drop(state);
            shared.changed.notify_all();
        }
    });
}

async fn run_connection(idx: usize, stream: TcpStream, script: Script, shared: Arc<Shared>) {
    let mut conn = Conn {
        idx,
        io: Io::Plain(stream),
        buf: Vec::with_capacity(BUF_CAP),
        peer_gone: false,
        tls: false,
        tag: None,
        starttls_pending: false,
        starttls_refused: false,
        shared: Arc::clone(&shared),
    };
    let result = conn.run(script).await;
    conn.flush_buffer();
    drop(conn);
    let mut state = shared.lock();
    if let Err(failure) = result {
        state.failures.push(failure);
    }
    state.progress[idx] = "ended".to_string();
    state.done[idx] = true;
    drop(state);
    shared.changed.notify_all();
}

/// The connection, plain or inside TLS, or closed by a `Reset`/`Close`.
enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Closed,
}

fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the script already closed this connection",
    )
}

impl Io {
    async fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.read(out).await,
            Io::Tls(s) => s.read(out).await,
            Io::Closed => Err(closed_error()),
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Io::Plain(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            Io::Tls(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            Io::Closed => Err(closed_error()),
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Io::Plain(s) => s.shutdown().await,
            Io::Tls(s) => s.shutdown().await,
            Io::Closed => Ok(()),
        }
    }

    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Io::Plain(s) => Some(s),
            Io::Tls(s) => Some(s.get_ref().0),
            Io::Closed => None,
        }
    }
}

enum ReadLine {
    Line(String),
    TooLong(String),
    Eof(String),
    Timeout,
}

struct Conn {
    idx: usize,
    io: Io,
    /// Bytes read but not yet taken as lines (at most `BUF_CAP`).
    buf: Vec<u8>,
    /// The client closed (EOF) or the connection failed.
    peer_gone: bool,
    tls: bool,
    /// Tag of the last IMAP command matched by a wildcard `Expect`.
    tag: Option<String>,
    /// The client sent STARTTLS/STLS and the server has not answered yet.
    starttls_pending: bool,
    starttls_refused: bool,
    shared: Arc<Shared>,
}

impl Conn {
    async fn run(&mut self, script: Script) -> Result<(), String> {
        let count = script.steps.len();
        for (i, (step, what)) in script
            .steps
            .into_iter()
            .zip(&script.descriptions)
            .enumerate()
        {
            self.shared.lock().progress[self.idx] = format!("step {i} {what}");
            let last = i + 1 == count;
            if let Err(msg) = self.step(step, last).await {
                return Err(format!(
                    "connection #{} step {i} {what} failed: {msg}",
                    self.idx
                ));
            }
        }
        if !self.peer_gone && !matches!(self.io, Io::Closed) {
            self.shared.lock().progress[self.idx] =
                "script done, waiting for the client to close".to_string();
            if !self.read_until_eof(CLOSE_WAIT).await {
                self.note(format!(
                    "client did not close within {CLOSE_WAIT:?} after the script ended"
                ));
            }
        }
        Ok(())
    }

    async fn step(&mut self, step: Step, last: bool) -> Result<(), String> {
        match step {
            Step::Send(bytes) => {
                if self.peer_gone {
                    return Err("the client had already closed the connection".to_string());
                }
                let bytes = self.substitute_tag(bytes);
                self.note_server_write(&bytes);
                self.write(&bytes).await
            }
            Step::Fixture(path) => Err(format!("fixture {path:?} was not loaded")),
            Step::Expect(pattern) => self.expect(pattern).await,
            Step::StartTls(config) => self.start_tls(config, last).await,
            Step::Hang => {
                if !self.peer_gone {
                    self.read_until_eof(HANG_LIMIT).await;
                }
                Ok(())
            }
            Step::Reset => {
                if let Some(tcp) = self.io.tcp() {
                    socket2::SockRef::from(tcp)
                        .set_linger(Some(Duration::ZERO))
                        .map_err(|e| format!("SO_LINGER 0 failed: {e}"))?;
                }
                self.io = Io::Closed;
                Ok(())
            }
            Step::Close => {
                let _ = tokio::time::timeout(WRITE_TIMEOUT, self.io.shutdown()).await;
                self.io = Io::Closed;
                Ok(())
            }
            Step::HalfClose => {
                match tokio::time::timeout(WRITE_TIMEOUT, self.io.shutdown()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("half-close failed: {e}")),
                    Err(_) => Err(format!("half-close blocked for {WRITE_TIMEOUT:?}")),
                }
            }
            Step::Pause(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Step::Slow { bytes, interval } => {
                self.note_server_write(&bytes);
                for (i, byte) in bytes.iter().enumerate() {
                    if self.peer_gone {
                        break;
                    }
                    match tokio::time::timeout(WRITE_TIMEOUT, self.io.write_all(&[*byte])).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => self.peer_gone = true,
                        Err(_) => return Err(format!("write blocked for {WRITE_TIMEOUT:?}")),
                    }
                    if i + 1 < bytes.len() && !self.peer_gone {
                        self.pause_watching(interval).await;
                    }
                }
                Ok(())
            }
            Step::SendForever(chunk) => {
                let mut sent = 0usize;
                while sent < SEND_FOREVER_LIMIT && !self.peer_gone {
                    match tokio::time::timeout(WRITE_TIMEOUT, self.io.write_all(&chunk)).await {
                        Ok(Ok(())) => sent += chunk.len(),
                        Ok(Err(_)) => self.peer_gone = true,
                        Err(_) => {
                            return Err(format!(
                                "the client neither read nor closed for {WRITE_TIMEOUT:?} \
                                 (after {sent} bytes)"
                            ))
                        }
                    }
                }
                Ok(())
            }
            Step::ExpectClose => {
                if self.read_until_eof(READ_TIMEOUT).await {
                    Ok(())
                } else {
                    Err(format!(
                        "the client did not close the connection within {READ_TIMEOUT:?}"
                    ))
                }
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        match tokio::time::timeout(WRITE_TIMEOUT, self.io.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.peer_gone = true;
                Err(format!("write failed: {e}"))
            }
            Err(_) => Err(format!(
                "write blocked for {WRITE_TIMEOUT:?} (client not reading)"
            )),
        }
    }

    async fn expect(&mut self, pattern: &str) -> Result<(), String> {
        match self.read_line(READ_TIMEOUT).await {
            ReadLine::Line(line) => {
                if self.matches(pattern, &line) {
                    Ok(())
                } else {
                    Err(format!(
                        "expected a line starting with {pattern:?}, got {line:?}"
                    ))
                }
            }
            ReadLine::TooLong(start) => Err(format!(
                "expected a line starting with {pattern:?}, got a line longer than \
                 {MAX_LINE} bytes starting {:?}",
                truncate(&start, 80)
            )),
            ReadLine::Eof(partial) if partial.is_empty() => Err(format!(
                "expected a line starting with {pattern:?}, but the client closed the connection"
            )),
            ReadLine::Eof(partial) => Err(format!(
                "expected a line starting with {pattern:?}, but the client closed the connection \
                 after an unterminated {partial:?}"
            )),
            ReadLine::Timeout => Err(format!(
                "expected a line starting with {pattern:?}, but nothing came within {READ_TIMEOUT:?}"
            )),
        }
    }

    /// Case-insensitive prefix match; `"* rest"` matches `<any tag> rest`.
    fn matches(&mut self, pattern: &str, line: &str) -> bool {
        if let Some(rest) = pattern.strip_prefix("* ") {
            let Some((tag, command)) = line.split_once(' ') else {
                return false;
            };
            if tag.is_empty() || !starts_with_ignore_case(command, rest) {
                return false;
            }
            self.tag = Some(tag.to_string());
            true
        } else {
            starts_with_ignore_case(line, pattern)
        }
    }

    async fn start_tls(
        &mut self,
        config: Arc<rustls::ServerConfig>,
        last: bool,
    ) -> Result<(), String> {
        if self.peer_gone {
            return Err("the client had already closed the connection".to_string());
        }
        if !self.buf.is_empty() {
            let n = self.buf.len();
            self.flush_buffer();
            return Err(format!(
                "the client sent {n} bytes after STARTTLS, before the TLS handshake"
            ));
        }
        let stream = match std::mem::replace(&mut self.io, Io::Closed) {
            Io::Plain(stream) => stream,
            Io::Tls(stream) => {
                self.io = Io::Tls(stream);
                return Err("the connection is already inside TLS".to_string());
            }
            Io::Closed => return Err(closed_error().to_string()),
        };
        self.starttls_pending = false;
        let acceptor = TlsAcceptor::from(config);
        let error = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => {
                self.io = Io::Tls(Box::new(tls));
                self.tls = true;
                self.shared.lock().handshakes += 1;
                return Ok(());
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no handshake within {HANDSHAKE_TIMEOUT:?}"),
        };
        self.peer_gone = true;
        self.shared
            .lock()
            .handshake_errors
            .push(format!("#{}: {error}", self.idx));
        if last {
            Ok(())
        } else {
            Err(format!(
                "TLS handshake failed ({error}) but the script has more steps"
            ))
        }
    }

    /// Read one line, recording it. Bounded by `MAX_LINE` and `timeout`.
    async fn read_line(&mut self, timeout: Duration) -> ReadLine {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((raw, complete)) = self.take_line() {
                let text = self.record(&raw);
                return if complete {
                    ReadLine::Line(text)
                } else {
                    ReadLine::TooLong(text)
                };
            }
            if self.peer_gone {
                let rest = std::mem::take(&mut self.buf);
                let text = if rest.is_empty() {
                    String::new()
                } else {
                    self.record(&rest)
                };
                return ReadLine::Eof(text);
            }
            if !self.fill(deadline).await {
                return ReadLine::Timeout;
            }
        }
    }

    /// Read once into the buffer; false on timeout. EOF or an error sets
    /// `peer_gone`.
    async fn fill(&mut self, deadline: Instant) -> bool {
        let mut chunk = [0u8; MAX_LINE];
        let room = BUF_CAP.saturating_sub(self.buf.len()).min(chunk.len());
        if room == 0 {
            // Cannot happen: callers take lines first, leaving < MAX_LINE.
            tokio::time::sleep_until(deadline).await;
            return false;
        }
        match tokio::time::timeout_at(deadline, self.io.read(&mut chunk[..room])).await {
            Err(_) => false,
            Ok(Ok(0)) | Ok(Err(_)) => {
                self.peer_gone = true;
                true
            }
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// Record everything until EOF; true if EOF came before `limit`.
    async fn read_until_eof(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            while let Some((raw, _)) = self.take_line() {
                self.record(&raw);
            }
            if self.peer_gone {
                self.flush_buffer();
                return true;
            }
            if !self.fill(deadline).await {
                return false;
            }
        }
    }

    /// Sleep for `interval`, but notice (and buffer) what the client sends
    /// meanwhile, and whether it goes away.
    async fn pause_watching(&mut self, interval: Duration) {
        let deadline = Instant::now() + interval;
        while !self.peer_gone && Instant::now() < deadline {
            if self.buf.len() >= MAX_LINE {
                tokio::time::sleep_until(deadline).await;
                return;
            }
            if !self.fill(deadline).await {
                return;
            }
        }
    }

    /// The next complete line (with its LF) or, if none within `MAX_LINE`
    /// bytes, a `MAX_LINE` piece (`false`).
    fn take_line(&mut self) -> Option<(Vec<u8>, bool)> {
        let window = self.buf.len().min(MAX_LINE);
        if let Some(pos) = self.buf[..window].iter().position(|&b| b == b'\n') {
            return Some((self.buf.drain(..=pos).collect(), true));
        }
        if self.buf.len() >= MAX_LINE {
            return Some((self.buf.drain(..MAX_LINE).collect(), false));
        }
        None
    }

    /// Record whatever is still buffered (complete lines and a partial one).
    fn flush_buffer(&mut self) {
        while let Some((raw, _)) = self.take_line() {
            self.record(&raw);
        }
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            self.record(&rest);
        }
    }

    /// Append a client line to the transcript and track STARTTLS.
    fn record(&mut self, raw: &[u8]) -> String {
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = String::from_utf8_lossy(raw).into_owned();
        let line = Line {
            conn: self.idx,
            tls: self.tls,
            text: text.clone(),
            after_refused_starttls: self.starttls_refused,
        };
        self.shared.lock().lines.push(line);
        if is_starttls_command(&text) {
            self.starttls_pending = true;
        }
        text
    }

    /// If the client asked for STARTTLS, decide from the server's answer
    /// whether it was refused (SMTP 4xx/5xx, POP3 -ERR, IMAP tagged NO/BAD).
    fn note_server_write(&mut self, bytes: &[u8]) {
        if !std::mem::take(&mut self.starttls_pending) {
            return;
        }
        if is_refusal(&String::from_utf8_lossy(bytes)) {
            self.starttls_refused = true;
        }
    }

    fn substitute_tag(&self, bytes: Vec<u8>) -> Vec<u8> {
        const PLACEHOLDER: &[u8] = b"{tag}";
        let Some(tag) = &self.tag else {
            return bytes;
        };
        if !bytes.windows(PLACEHOLDER.len()).any(|w| w == PLACEHOLDER) {
            return bytes;
        }
        let mut out = Vec::with_capacity(bytes.len() + tag.len());
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            if rest.starts_with(PLACEHOLDER) {
                out.extend_from_slice(tag.as_bytes());
                rest = &rest[PLACEHOLDER.len()..];
            } else {
                out.push(rest[0]);
                rest = &rest[1..];
            }
        }
        out
    }

    fn note(&self, note: String) {
        self.shared
            .lock()
            .notes
            .push(format!("#{}: {note}", self.idx));
    }
}

fn is_starttls_command(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let first = words.next().unwrap_or("");
    let second = words.next().unwrap_or("");
    first.eq_ignore_ascii_case("STARTTLS")
        || first.eq_ignore_ascii_case("STLS")
        || second.eq_ignore_ascii_case("STARTTLS")
}

fn is_refusal(reply: &str) -> bool {
    if reply.starts_with('4') || reply.starts_with('5') || reply.starts_with("-ERR") {
        return true;
    }
    reply.lines().any(|line| {
        let mut words = line.split_whitespace();
        let tag = words.next().unwrap_or("");
        let status = words.next().unwrap_or("");
        tag != "*"
            && tag != "+"
            && (status.eq_ignore_ascii_case("NO") || status.eq_ignore_ascii_case("BAD"))
    })
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn escape(bytes: &[u8], max: usize) -> String {
    let shown = &bytes[..bytes.len().min(max)];
    let mut out = shown.escape_ascii().to_string();
    if bytes.len() > max {
        out.push_str(&format!("... ({} bytes)", bytes.len()));
    }
    out
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
