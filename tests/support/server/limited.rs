//! A fake server with a per-client connection limit, like Exim's
//! `smtp_accept_max_per_host`: several listeners (e.g. a plain SMTP port and
//! an implicit-TLS one) share one count of open connections. A connection
//! that finds `limit` connections open gets the refusal line in plaintext
//! (also on an implicit-TLS listener: Exim answers before TLS), a
//! half-close, and is read until the client closes; any other runs its
//! listener's script. The server records the most connections it saw open
//! at once, and checks the safety rules over every connection's transcript.
//!
//! ```ignore
//! let server = LimitedServer::start(vec![smtp_script, smtps_script], 2, EXIM_421);
//! let [smtp, smtps] = server.ports()[..] else { unreachable!() };
//! // run mailport against both ports
//! let seen = server.finish();
//! assert_eq!(seen.turned_away, 1);
//! ```

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::runtime::{run_connection, Script};
use super::state::Shared;
use super::step::Step;
use super::FINISH_WAIT;

/// Exim's answer to a connection beyond `smtp_accept_max_per_host`, as sent.
pub const EXIM_421: &str = "421 Too many concurrent SMTP connections from this IP address\r\n";

/// What the server saw, once finished.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The most connections open at the same moment.
    pub max_open: usize,
    /// Connections answered with the refusal.
    pub turned_away: usize,
    /// Connections that ran their listener's script.
    pub served: usize,
}

#[derive(Default)]
struct Count {
    open: usize,
    max_open: usize,
    turned_away: usize,
    served: usize,
}

pub struct LimitedServer {
    ports: Vec<u16>,
    shared: Arc<Shared>,
    count: Arc<Mutex<Count>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    checked: bool,
}

impl LimitedServer {
    /// One listener per script on 127.0.0.1; at most `limit` connections
    /// open at once over all of them; `refusal` for the others.
    pub fn start(listeners: Vec<Vec<Step>>, limit: usize, refusal: &str) -> LimitedServer {
        let mut bound = Vec::new();
        for script in listeners {
            let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .expect("limited server: bind 127.0.0.1:0");
            listener
                .set_nonblocking(true)
                .expect("limited server: set_nonblocking");
            bound.push((listener, script));
        }
        let ports = bound
            .iter()
            .map(|(l, _)| l.local_addr().expect("limited server: local_addr").port())
            .collect();
        let shared = Arc::new(Shared::new(&[]));
        let count = Arc::new(Mutex::new(Count::default()));
        let refusal = refusal.as_bytes().to_vec();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (thread_shared, thread_count) = (Arc::clone(&shared), Arc::clone(&count));
        let thread = std::thread::Builder::new()
            .name("limited-server".to_string())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("limited server: tokio runtime");
                runtime.block_on(async move {
                    for (listener, script) in bound {
                        tokio::spawn(accept_loop(
                            listener,
                            script,
                            limit,
                            refusal.clone(),
                            Arc::clone(&thread_shared),
                            Arc::clone(&thread_count),
                        ));
                    }
                    let _ = rx.await;
                });
            })
            .expect("limited server: spawn thread");
        LimitedServer {
            ports,
            shared,
            count,
            shutdown: Some(tx),
            thread: Some(thread),
            checked: false,
        }
    }

    /// The listeners' ports, in the order of their scripts.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Wait (at most 15 s) until every connection's script ended, stop the
    /// server, check the scripts and the safety rules, and say what it saw.
    #[track_caller]
    pub fn finish(mut self) -> Seen {
        self.checked = true;
        self.wait_and_stop();
        self.assert_ok();
        let count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        Seen {
            max_open: count.max_open,
            turned_away: count.turned_away,
            served: count.served,
        }
    }

    fn wait_and_stop(&mut self) {
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
        drop(state);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                self.shared
                    .lock()
                    .failures
                    .push("the limited server's thread panicked".to_string());
            }
        }
    }

    #[track_caller]
    fn assert_ok(&self) {
        let state = self.shared.lock();
        let problems = state.problems(0);
        if problems.is_empty() {
            return;
        }
        let report = state.report((Ipv4Addr::LOCALHOST, self.ports[0]).into());
        drop(state);
        panic!(
            "limited server on ports {:?}: {} problem(s):\n  - {}\n{report}",
            self.ports,
            problems.len(),
            problems.join("\n  - ")
        );
    }
}

impl Drop for LimitedServer {
    fn drop(&mut self) {
        if self.checked || std::thread::panicking() {
            self.wait_and_stop();
            return;
        }
        self.checked = true;
        self.wait_and_stop();
        self.assert_ok();
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    script: Vec<Step>,
    limit: usize,
    refusal: Vec<u8>,
    shared: Arc<Shared>,
    count: Arc<Mutex<Count>>,
) {
    let listener =
        tokio::net::TcpListener::from_std(listener).expect("limited server: tokio listener");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let admitted = {
            let mut c = count.lock().unwrap_or_else(|e| e.into_inner());
            if c.open >= limit {
                c.turned_away += 1;
                false
            } else {
                c.open += 1;
                c.max_open = c.max_open.max(c.open);
                c.served += 1;
                true
            }
        };
        let steps = if admitted {
            script.clone()
        } else {
            vec![
                Step::Send(refusal.clone()),
                Step::HalfClose,
                Step::ExpectClose,
            ]
        };
        let idx = {
            let mut state = shared.lock();
            state.accepted += 1;
            state.done.push(false);
            state.progress.push("connected".to_string());
            state.done.len() - 1
        };
        let (shared, count) = (Arc::clone(&shared), Arc::clone(&count));
        tokio::spawn(async move {
            run_connection(idx, stream, Script::prepare(steps), shared).await;
            if admitted {
                count.lock().unwrap_or_else(|e| e.into_inner()).open -= 1;
            }
        });
    }
}
