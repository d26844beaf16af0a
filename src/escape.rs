//! Text from outside made safe to show: server bytes, DNS answers, file
//! contents and arguments. Valid UTF-8 stays; control characters, bidi
//! controls and invalid bytes become visible escapes, so nothing from outside
//! can drive a terminal or break a line. The ground floor: imports nothing.

/// Show server bytes safely: valid UTF-8 stays, control characters and
/// invalid bytes become escapes, so nothing a server sends can drive a terminal.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                c if c.is_control() || is_bidi_control(c) => {
                    out.push_str(&format!("\\u{{{:x}}}", c as u32))
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A server's words quoted in a message: the first line of `bytes` without
/// its CR/LF, escaped, and when longer than `max` bytes cut at a word
/// boundary (or a character boundary, for one long word) with "…".
pub fn quote(bytes: &[u8], max: usize) -> String {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let line = bytes[..end].trim_ascii_end();
    if line.len() <= max {
        return escape(line);
    }
    let mut cut = max;
    while cut > 0 && (line[cut] & 0xc0) == 0x80 {
        cut -= 1;
    }
    if let Some(space) = line[..cut].iter().rposition(|&b| b == b' ') {
        if space >= max / 2 {
            cut = space;
        }
    }
    let mut out = escape(line[..cut].trim_ascii_end());
    out.push('…');
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// An argument or other user text as quoted back in an error message:
/// escaped, and cut to 80 characters with "…".
pub fn shown(text: &str) -> String {
    const MAX: usize = 80;
    let mut cut: String = text.chars().take(MAX).collect();
    let long = cut.len() < text.len();
    cut = escape(cut.as_bytes());
    if long {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_shown_escaped_and_cut() {
        assert_eq!(shown("mail.example.org"), "mail.example.org");
        assert_eq!(
            shown("a\x1b]0;x\x07\r\nMAIL FROM"),
            "a\\u{1b}]0;x\\u{7}\\r\\nMAIL FROM"
        );
        let long = "x".repeat(200);
        let s = shown(&long);
        assert_eq!(s.chars().count(), 81);
        assert!(s.ends_with('…'));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any bytes in, nothing raw out: no control or bidi character, and
            /// quotes and arguments stay within their length.
            #[test]
            fn nothing_raw_comes_out(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
                let raw = |t: &str| t.chars().any(|c| c.is_control() || is_bidi_control(c));
                prop_assert!(!raw(&escape(&bytes)));
                let q = quote(&bytes, 60);
                prop_assert!(!raw(&q));
                let text = String::from_utf8_lossy(&bytes);
                let s = shown(&text);
                prop_assert!(!raw(&s));
            }
        }
    }
}
