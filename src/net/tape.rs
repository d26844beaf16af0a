//! `-vv`: a probe's dialogue as it went over the wire, swaks-style:
//! `-> ` what mailport sent, `<- ` what the server sent (escaped: control
//! characters and invalid bytes become visible), `== ` what happened
//! between (connected, TLS started). Bounded in lines, in bytes and in the
//! length of one line. mailport never sends a credential, so there is none
//! to hide.

use crate::escape;
use std::sync::{Arc, Mutex};

/// At most this many lines of one probe's transcript.
pub const TAPE_LINES: usize = 100;
/// At most this many bytes of one probe's transcript, all lines together.
pub const TAPE_BYTES: usize = 8 * 1024;
/// One line of the transcript is cut ("…") past this many bytes of the wire.
pub const TAPE_LINE_BYTES: usize = 160;

/// A probe's transcript, shared by the streams of its connection (plaintext,
/// then TLS after STARTTLS). Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct Tape(Arc<Mutex<Log>>);

#[derive(Debug, Default)]
struct Log {
    lines: Vec<String>,
    bytes: usize,
    cut: bool,
}

impl Tape {
    pub fn new() -> Tape {
        Tape::default()
    }

    /// A line mailport sent (a request of several lines is split).
    pub fn sent(&self, text: &str) {
        for line in text.split("\r\n").filter(|l| !l.is_empty()) {
            self.push(format!(
                "-> {}",
                escape::quote(line.as_bytes(), TAPE_LINE_BYTES)
            ));
        }
    }

    /// A line the server sent, without its line end.
    pub fn received(&self, line: &[u8]) {
        self.push(format!("<- {}", escape::quote(line, TAPE_LINE_BYTES)));
    }

    /// What happened between the lines (mailport's own words).
    pub fn note(&self, text: &str) {
        self.push(format!(
            "== {}",
            escape::quote(text.as_bytes(), 2 * TAPE_LINE_BYTES)
        ));
    }

    fn push(&self, line: String) {
        let Ok(mut log) = self.0.lock() else { return };
        if log.cut {
            return;
        }
        if log.lines.len() + 1 >= TAPE_LINES || log.bytes + line.len() > TAPE_BYTES {
            log.cut = true;
            log.lines.push(format!(
                "== transcript cut here (at most {TAPE_LINES} lines, {} KiB)",
                TAPE_BYTES / 1024
            ));
            return;
        }
        log.bytes += line.len();
        log.lines.push(line);
    }

    /// The transcript so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.lines.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_bytes_are_escaped_and_the_transcript_is_bounded() {
        let tape = Tape::new();
        tape.sent("EHLO client.example");
        tape.received(b"250-mail.example\x1b[31m\x07 hi\xff");
        tape.sent("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let lines = tape.lines();
        assert_eq!(lines[0], "-> EHLO client.example");
        assert_eq!(lines[1], "<- 250-mail.example\\u{1b}[31m\\u{7} hi\\xff");
        assert_eq!(lines[2..], ["-> GET / HTTP/1.1", "-> Host: x"]);
        tape.received(&[b'a'; 1000]);
        assert!(tape.lines()[4].ends_with('…'));
        assert!(tape.lines()[4].len() < TAPE_LINE_BYTES + 10);
        for _ in 0..500 {
            tape.received(b"250-PIPELINING");
        }
        let lines = tape.lines();
        assert_eq!(lines.len(), TAPE_LINES);
        assert!(lines.last().unwrap().starts_with("== transcript cut here"));
        assert!(lines.iter().map(String::len).sum::<usize>() <= TAPE_BYTES + 100);
    }
}
