//! A scripted fake server for driving the real `mailport` binary in tests.
//!
//! Modelled on xh's `tests/server/mod.rs`: the server runs on its own OS
//! thread with a current-thread tokio runtime and listens on
//! `127.0.0.1:0`, so ordinary synchronous `#[test]` functions can start it,
//! run the binary (with [`crate::support::cmd::Mailport`]) against
//! [`FakeServer::port`], and then call [`FakeServer::finish`] to get the
//! transcript of what the client sent.
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
//! let run = Mailport::check(HOST).at(server.port(), "smtp").run();
//! assert_eq!(server.finish(), ["EHLO mailport.invalid", "QUIT"]);
//! ```
//!
//! The parts: [`step`] (what a script says), [`runtime`] (the thread, the
//! accept loop, one task per connection), [`conn`] and [`read`] (running a
//! script on one connection, bounded line reading), [`tls`] (the plain or
//! TLS stream and the server side of STARTTLS), [`state`] (what the tasks
//! share and how problems are reported) and [`safety`] (the rules every
//! transcript is checked against).

mod conn;
mod limited;
mod oldtls;
mod read;
mod runtime;
pub mod safety;
mod state;
mod step;
mod tls;

pub use limited::{LimitedServer, Seen, EXIM_421};
pub use step::{ClientHello, Line, Modern, Step};

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use runtime::{serve, Script};
use state::Shared;

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
        Self::start_on(Ipv4Addr::LOCALHOST.into(), connections)
    }

    /// The same on another loopback address (`::1`).
    pub fn start_on(ip: std::net::IpAddr, connections: Vec<Vec<Step>>) -> FakeServer {
        Self::start_at(SocketAddr::new(ip, 0), connections)
    }

    /// [`FakeServer::start`] on another loopback address and port (e.g.
    /// `[::1]` on the port of a server on 127.0.0.1: one host, two families).
    pub fn start_at(at: SocketAddr, connections: Vec<Vec<Step>>) -> FakeServer {
        let scripts: Vec<Script> = connections.into_iter().map(Script::prepare).collect();
        let listener = std::net::TcpListener::bind(at)
            .unwrap_or_else(|e| panic!("fake server: bind {at}: {e}"));
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

    /// How many TLS handshakes succeeded so far.
    pub fn tls_handshakes(&self) -> usize {
        self.shared.lock().handshakes
    }

    /// The ClientHellos that `Step::OldTls` read so far, in order.
    pub fn client_hellos(&self) -> Vec<ClientHello> {
        self.shared.lock().hellos.clone()
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
