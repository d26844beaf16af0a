//! The safety rules every transcript is checked against: mailport never
//! sends mail, never sends credentials, and after a refused STARTTLS says
//! nothing but QUIT (or IMAP LOGOUT).

use super::step::Line;

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

pub(super) fn is_starttls_command(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let first = words.next().unwrap_or("");
    let second = words.next().unwrap_or("");
    first.eq_ignore_ascii_case("STARTTLS")
        || first.eq_ignore_ascii_case("STLS")
        || second.eq_ignore_ascii_case("STARTTLS")
}

pub(super) fn is_refusal(reply: &str) -> bool {
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
