//! Text from outside made safe to show: server bytes, DNS answers, file
//! contents and arguments. Valid UTF-8 stays; control characters, bidi
//! controls and invalid bytes become visible escapes, so nothing from outside
//! can drive a terminal or break a line. The ground floor: imports nothing.
//!
//! [`SafeText`] is the report's type for any text that may hold outside
//! words: it can only be made by escaping ([`escape`], [`quote`], [`shown`]),
//! from a literal (`&'static str`), or with [`safe_text!`] from a format
//! string whose arguments are themselves safe ([`SafeArg`]). A `String` from
//! a server cannot become one without passing through the escaping step.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::ops::Deref;

/// Text safe to show: outside text escaped, or text mailport wrote itself.
/// Serialised as a plain string.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SafeText(String);

impl SafeText {
    /// The empty text.
    pub const fn new() -> SafeText {
        SafeText(String::new())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Append safe text.
    pub fn push(&mut self, more: &SafeText) {
        self.0.push_str(&more.0);
    }

    /// Append mailport's own words.
    pub fn push_ours(&mut self, words: &'static str) {
        self.0.push_str(words);
    }

    /// Safe pieces joined by one of our separators.
    pub fn join<'a>(pieces: impl IntoIterator<Item = &'a SafeText>, sep: &'static str) -> SafeText {
        let mut out = SafeText::new();
        for (i, p) in pieces.into_iter().enumerate() {
            if i > 0 {
                out.push_ours(sep);
            }
            out.push(p);
        }
        out
    }

    /// Cut to `max` characters, with "…" when longer.
    pub fn cut_chars(mut self, max: usize) -> SafeText {
        if let Some((at, _)) = self.0.char_indices().nth(max) {
            self.0.truncate(at);
            self.0.push('…');
        }
        self
    }

    /// Only for [`safe_text!`], whose arguments are checked to be [`SafeArg`].
    #[doc(hidden)]
    pub fn from_checked_format(text: String) -> SafeText {
        SafeText(text)
    }
}

/// A literal is mailport's own text.
impl From<&'static str> for SafeText {
    fn from(words: &'static str) -> SafeText {
        SafeText(words.to_string())
    }
}

/// Unit tests build report values from `String`s: escaped, like any text.
#[cfg(test)]
impl From<String> for SafeText {
    fn from(text: String) -> SafeText {
        escape_str(&text)
    }
}

impl PartialEq<String> for SafeText {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl Deref for SafeText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SafeText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for SafeText {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SafeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for SafeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for SafeText {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for SafeText {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<SafeText> for &str {
    fn eq(&self, other: &SafeText) -> bool {
        *self == other.0
    }
}

/// Read back (tests read reports): whatever the text, it is escaped again,
/// which leaves text that is already safe unchanged.
impl<'de> Deserialize<'de> for SafeText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SafeText, D::Error> {
        String::deserialize(d).map(|s| escape(s.as_bytes()))
    }
}

/// A value that may be an argument of [`safe_text!`]: its `Display` writes
/// nothing from outside unescaped. Not implemented for `String` or `&str`
/// of any lifetime shorter than `'static`.
pub trait SafeArg: fmt::Display {}

impl SafeArg for SafeText {}
impl SafeArg for &'static str {}
impl<T: SafeArg + ?Sized> SafeArg for &T {}
macro_rules! safe_args {
    ($($t:ty),*) => { $(impl SafeArg for $t {})* };
}
safe_args!(
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    bool,
    std::net::IpAddr,
    std::net::Ipv4Addr,
    std::net::Ipv6Addr,
    std::net::SocketAddr
);

/// The argument itself, once the compiler has checked it is a [`SafeArg`].
#[doc(hidden)]
pub fn safe_arg<T: SafeArg + ?Sized>(arg: &T) -> &T {
    arg
}

/// Whether a format string names no variable (`{name}`): [`safe_text!`]
/// checks every argument, which an inline capture would slip past.
#[doc(hidden)]
pub const fn names_no_variable(format: &str) -> bool {
    let b = format.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' {
            if i + 1 < b.len() && b[i + 1] == b'{' {
                i += 2;
                continue;
            }
            if i + 1 < b.len() && (b[i + 1].is_ascii_alphabetic() || b[i + 1] == b'_') {
                return false;
            }
        }
        i += 1;
    }
    true
}

/// `format!` for the report: mailport's own format string, each argument a
/// [`SafeArg`] (escaped text, numbers, addresses, literals), given after the
/// string (the string may not name a variable, `{name}`). Makes a [`SafeText`].
macro_rules! safe_text {
    ($format:literal $(, $arg:expr)* $(,)?) => {{
        const _: () = assert!(
            $crate::escape::names_no_variable($format),
            "safe_text!: pass every value as an argument, so that it is checked to be safe"
        );
        $crate::escape::SafeText::from_checked_format(format!(
            $format $(, $crate::escape::safe_arg(&$arg))*
        ))
    }};
}
pub(crate) use safe_text;

/// Show server bytes safely: valid UTF-8 stays, control characters and
/// invalid bytes become escapes, so nothing a server sends can drive a terminal.
pub fn escape(bytes: &[u8]) -> SafeText {
    SafeText(escape_string(bytes))
}

fn escape_string(bytes: &[u8]) -> String {
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

/// Outside text that is already a `str`, escaped ([`escape`]).
pub fn escape_str(text: &str) -> SafeText {
    escape(text.as_bytes())
}

/// A server's words quoted in a message: the first line of `bytes` without
/// its CR/LF, escaped, and when longer than `max` bytes cut at a word
/// boundary (or a character boundary, for one long word) with "…".
pub fn quote(bytes: &[u8], max: usize) -> SafeText {
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
    out.push_ours("…");
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// An argument or other user text as quoted back in an error message:
/// escaped, and cut to 80 characters with "…".
pub fn shown(text: &str) -> SafeText {
    const MAX: usize = 80;
    let cut: String = text.chars().take(MAX).collect();
    let long = cut.len() < text.len();
    let mut out = escape(cut.as_bytes());
    if long {
        out.push_ours("…");
    }
    out
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
        assert_eq!(
            safe_text!("{} said \"{}\"", 7, escape(b"\x1b[2J")),
            "7 said \"\\u{1b}[2J\""
        );
        assert!(names_no_variable("{} {:>5} {0} {{x}}"));
        assert!(!names_no_variable("{host}"));
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
