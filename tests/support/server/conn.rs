//! One connection running its script, step by step.

use std::sync::Arc;
use std::time::Duration;

use super::runtime::Script;
use super::safety::{is_refusal, is_starttls_command};
use super::state::Shared;
use super::step::{Line, Step};
use super::tls::Io;
use super::{CLOSE_WAIT, HANG_LIMIT, MAX_LINE, READ_TIMEOUT, SEND_FOREVER_LIMIT, WRITE_TIMEOUT};

pub(super) enum ReadLine {
    Line(String),
    TooLong(String),
    Eof(String),
    Timeout,
}

pub(super) struct Conn {
    pub(super) idx: usize,
    pub(super) io: Io,
    /// Bytes read but not yet taken as lines (at most `BUF_CAP`).
    pub(super) buf: Vec<u8>,
    /// The client closed (EOF) or the connection failed.
    pub(super) peer_gone: bool,
    pub(super) tls: bool,
    /// Tag of the last IMAP command matched by a wildcard `Expect`.
    pub(super) tag: Option<String>,
    /// The client sent STARTTLS/STLS and the server has not answered yet.
    pub(super) starttls_pending: bool,
    pub(super) starttls_refused: bool,
    pub(super) shared: Arc<Shared>,
}

impl Conn {
    pub(super) async fn run(&mut self, script: Script) -> Result<(), String> {
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

    pub(super) async fn step(&mut self, step: Step, last: bool) -> Result<(), String> {
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
            Step::OldTls {
                version,
                suite,
                modern,
            } => self.old_tls(version, suite, modern).await,
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

    pub(super) async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
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

    pub(super) async fn expect(&mut self, pattern: &str) -> Result<(), String> {
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
    pub(super) fn matches(&mut self, pattern: &str, line: &str) -> bool {
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

    /// Append a client line to the transcript and track STARTTLS.
    pub(super) fn record(&mut self, raw: &[u8]) -> String {
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
    pub(super) fn note_server_write(&mut self, bytes: &[u8]) {
        if !std::mem::take(&mut self.starttls_pending) {
            return;
        }
        if is_refusal(&String::from_utf8_lossy(bytes)) {
            self.starttls_refused = true;
        }
    }

    pub(super) fn substitute_tag(&self, bytes: Vec<u8>) -> Vec<u8> {
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

    pub(super) fn note(&self, note: String) {
        self.shared
            .lock()
            .notes
            .push(format!("#{}: {note}", self.idx));
    }
}

pub(super) fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

pub(super) fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
