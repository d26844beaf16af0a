//! What the server thread and the test share: progress, failures, the
//! transcript; and the report of every problem `finish()` panics with.

use std::net::SocketAddr;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::runtime::Script;
use super::safety::safety_violations;
use super::step::{ClientHello, Line};
use super::FINISH_WAIT;

pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) changed: Condvar,
}

impl Shared {
    pub(super) fn new(scripts: &[Script]) -> Shared {
        Shared {
            state: Mutex::new(State {
                done: vec![false; scripts.len()],
                progress: vec!["not connected yet".to_string(); scripts.len()],
                ..State::default()
            }),
            changed: Condvar::new(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
pub(super) struct State {
    pub(super) accepted: usize,
    pub(super) unexpected: usize,
    pub(super) done: Vec<bool>,
    pub(super) progress: Vec<String>,
    pub(super) failures: Vec<String>,
    pub(super) lines: Vec<Line>,
    pub(super) handshakes: usize,
    pub(super) handshake_errors: Vec<String>,
    pub(super) hellos: Vec<ClientHello>,
    pub(super) notes: Vec<String>,
}

impl State {
    pub(super) fn problems(&self, scripts: usize) -> Vec<String> {
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

    pub(super) fn report(&self, addr: SocketAddr) -> String {
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
