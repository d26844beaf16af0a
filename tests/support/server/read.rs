//! Reading from the client: bounded lines (at most `MAX_LINE` bytes), with
//! deadlines, every line recorded in the transcript.

use std::time::Duration;

use tokio::time::Instant;

use super::conn::{Conn, ReadLine};
use super::{BUF_CAP, MAX_LINE};

impl Conn {
    /// Read one line, recording it. Bounded by `MAX_LINE` and `timeout`.
    pub(super) async fn read_line(&mut self, timeout: Duration) -> ReadLine {
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
    pub(super) async fn fill(&mut self, deadline: Instant) -> bool {
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
    pub(super) async fn read_until_eof(&mut self, limit: Duration) -> bool {
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
    pub(super) async fn pause_watching(&mut self, interval: Duration) {
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
    pub(super) fn take_line(&mut self) -> Option<(Vec<u8>, bool)> {
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
    pub(super) fn flush_buffer(&mut self) {
        while let Some((raw, _)) = self.take_line() {
            self.record(&raw);
        }
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            self.record(&rest);
        }
    }
}
