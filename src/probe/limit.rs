//! A server that limits how many connections one client may hold at once
//! (Exim smtp_accept_max_per_host, Postfix smtpd_client_connection_count_limit,
//! a login-process limit) turns the extra connection away in its own words:
//! `421 Too many concurrent SMTP connections from this IP address`. That is
//! not a refusal of mailport's address and not a port speaking the wrong
//! protocol: it is `connection_limited`, and the runner tries the probe again
//! once the other probes to the address are done.

use crate::net::escape;
use crate::phase::Failure;
use crate::report::Outcome;

/// Most bytes of a refusal's text that are read for its words.
const TEXT_LIMIT: usize = 512;

/// Whether a refusal's text says that the server limits the connections of
/// one client (case-insensitive): "too many (concurrent) connections",
/// "concurrent/simultaneous connections", "connection limit", "maximum
/// number of connections", "connections per host/IP". Blocklist words
/// ("from this IP ... refused") alone are not enough.
pub fn says_limited(text: &str) -> bool {
    let end = text
        .char_indices()
        .nth(TEXT_LIMIT)
        .map_or(text.len(), |(i, _)| i);
    let lower = text[..end].to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let connection = |w: &str| {
        matches!(
            w,
            "connection" | "connections" | "session" | "sessions" | "clients"
        )
    };
    // "too many" followed, within three words, by what there are too many of.
    let too_many = words.windows(2).enumerate().any(|(i, pair)| {
        pair == ["too", "many"]
            && words[i + 2..]
                .iter()
                .take(3)
                .any(|w| connection(w) || matches!(*w, "concurrent" | "simultaneous" | "parallel"))
    });
    let phrases = [
        "concurrent connection",
        "concurrent smtp connection",
        "concurrent session",
        "simultaneous connection",
        "parallel connection",
        "connection limit",
        "connections limit",
        "connection count limit",
        "maximum number of connections",
        "maximum number of concurrent",
        "max connections",
        "connections per host",
        "connections per ip",
        "connections per client",
        "connections from user+ip exceeded",
    ];
    too_many || phrases.iter().any(|p| lower.contains(p))
}

/// The failure for a greeting that refused the session in `text` (SMTP
/// 4xx/5xx, IMAP `* BYE`, POP3 `-ERR`, as shown), when its words say the
/// server limits connections per client.
pub fn limited_greeting(text: &str) -> Option<Failure> {
    says_limited(text).then(|| {
        Failure::new(
            Outcome::ConnectionLimited,
            format!(
                "the server turned the connection away because it limits concurrent connections per client: \"{text}\""
            ),
        )
    })
}

/// On an implicit-TLS port, the first bytes the server sent where a TLS
/// ServerHello was expected: a plaintext refusal (`421 `, `* BYE`, `-ERR`)
/// whose words say the server limits connections per client. Exim sends
/// its `421` before TLS starts.
pub fn limited_before_tls(sniffed: &[u8]) -> Option<Failure> {
    let end = sniffed
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(sniffed.len());
    let line = &sniffed[..end.min(TEXT_LIMIT)];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let refusal = line.starts_with(b"421 ")
        || line.starts_with(b"421-")
        || line.starts_with(b"* BYE")
        || line.starts_with(b"-ERR");
    let text = String::from_utf8_lossy(line);
    (refusal && says_limited(&text)).then(|| {
        Failure::new(
            Outcome::ConnectionLimited,
            format!(
                "the server answered in plaintext before TLS, turning the connection away because it limits concurrent connections per client: \"{}\"",
                escape(line)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_words_of_real_servers_are_recognised() {
        for text in [
            // Exim smtp_accept_max_per_host
            "421 Too many concurrent SMTP connections from this IP address; please try again later.",
            "421 Too many concurrent SMTP connections from this IP address",
            // Postfix smtpd_client_connection_count_limit (anvil)
            "421 4.7.0 mail.example.org Error: too many connections from 192.0.2.7",
            // Exchange MaxInboundConnectionPerSource
            "421 4.3.2 The maximum number of concurrent connections has exceeded a limit, closing transmission channel",
            // Dovecot mail_max_userip_connections, a login-process limit
            "-ERR [SYS/TEMP] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=10)",
            "* BYE Too many simultaneous connections",
            "421 4.4.5 Too many connections",
            "421 Connection limit reached for your address",
            "421 4.7.0 too many open connections, try later",
            "421 4.7.0 TOO MANY CONNECTIONS",
        ] {
            assert!(says_limited(text), "{text}");
            assert!(limited_greeting(text).is_some(), "{text}");
        }
    }

    #[test]
    fn other_refusals_are_not_limits() {
        for text in [
            "421 4.3.2 Service not available",
            "421 Service not available, closing transmission channel",
            "421 Mail from this IP address refused, see https://www.spamhaus.org",
            "554 5.7.1 Client host rejected: cannot find your hostname",
            "421 Too many errors on this connection",
            "421 4.7.0 too many messages, slow down",
            "* BYE server shutting down",
            "-ERR maintenance",
            "",
        ] {
            assert!(!says_limited(text), "{text}");
        }
    }

    #[test]
    fn a_plaintext_limit_before_tls_is_recognised_from_its_first_line() {
        let f = limited_before_tls(
            b"421 Too many concurrent SMTP connections from this IP address\r\n",
        )
        .unwrap();
        assert_eq!(f.outcome, Outcome::ConnectionLimited);
        assert!(f
            .detail
            .contains("\"421 Too many concurrent SMTP connections from this IP address\""));
        assert!(!f.detail.contains("\\r"), "{}", f.detail);
        assert!(limited_before_tls(b"* BYE Too many connections from your IP\r\n").is_some());
        // Not a refusal line, or a refusal without the words, or TLS itself.
        assert!(limited_before_tls(b"220 mail.example.test too many connections\r\n").is_none());
        assert!(limited_before_tls(b"421 4.3.2 Service not available\r\n").is_none());
        assert!(limited_before_tls(&[0x16, 0x03, 0x03, 0x00, 0x2a]).is_none());
        assert!(limited_before_tls(b"").is_none());
        // Bounded: a huge line is read no further than its start.
        let mut long = b"421 ".to_vec();
        long.extend(std::iter::repeat_n(b'x', 100_000));
        long.extend_from_slice(b" too many connections\r\n");
        assert!(limited_before_tls(&long).is_none());
    }
}
