//! A failed TLS handshake, classified: not TLS at all, an alert, no common
//! version or cipher, a client certificate required, the server's own words.

use crate::net::{identify, quote};
use crate::phase::Failure;
use crate::report::Outcome;
use rustls::{AlertDescription, Error as TlsError, PeerIncompatible};
use std::io;

/// The failure of a server that asked for a client certificate, got none
/// and ended the session: `how` it ended (an alert, a close).
pub fn client_cert_required(how: &str) -> Failure {
    Failure::new(
        Outcome::TlsFailed,
        format!(
            "the server requires a client certificate: it asked for one in the TLS handshake, mailport sends none, and the server then {how}"
        ),
    )
}

/// Classify a failed handshake. `sniffed` holds the first bytes the server
/// sent; `cert_asked`: the server asked for a client certificate.
pub fn handshake_failure(e: &io::Error, sniffed: &[u8], cert_asked: bool) -> Failure {
    if cert_asked {
        let tls = e.get_ref().and_then(|i| i.downcast_ref::<TlsError>());
        match (tls, e.kind()) {
            (Some(TlsError::AlertReceived(alert)), _) => {
                return client_cert_required(&format!(
                    "ended the handshake with a {} alert",
                    alert_name(*alert)
                ))
            }
            (None, io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe) => {
                return client_cert_required("closed the connection")
            }
            (None, io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted) => {
                return client_cert_required("reset the connection")
            }
            _ => {}
        }
    }
    let f = not_tls_or_failed(e, sniffed);
    match f.outcome {
        // What the server said instead of TLS, for a caller that quotes it.
        Outcome::ProtocolMismatch if !sniffed.is_empty() => f.with_reply(quote(sniffed, 120)),
        // TLS records, then text: a server that gave up on TLS (an alert) and
        // then said why in plaintext (Courier: "-ERR STARTTLS failed: ...
        // couriertls: ...pem: No such file or directory").
        _ => match text_after_tls_records(sniffed) {
            Some(text) => f.with_reply(quote(text, 160)),
            None => f,
        },
    }
}

/// The bytes after the complete TLS records that start `bytes`, when there
/// is at least one record and what follows is printable text.
fn text_after_tls_records(bytes: &[u8]) -> Option<&[u8]> {
    let mut rest = bytes;
    let mut records = 0;
    while let [0x14..=0x17, 0x03, _, hi, lo, ..] = rest {
        let len = 5 + usize::from(u16::from_be_bytes([*hi, *lo]));
        if rest.len() < len {
            return None;
        }
        rest = &rest[len..];
        records += 1;
    }
    let printable = rest
        .iter()
        .take(16)
        .all(|b| b.is_ascii_graphic() || matches!(b, b' ' | b'\r' | b'\n' | b'\t'));
    (records > 0 && !rest.is_empty() && printable).then_some(rest)
}

fn not_tls_or_failed(e: &io::Error, sniffed: &[u8]) -> Failure {
    let peer = identify(sniffed);
    let first_line = || quote(sniffed, 120);
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<TlsError>()) {
        return match tls {
            TlsError::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge) => {
                Failure::new(
                    Outcome::TlsFailed,
                    "the server sent a handshake message larger than TLS allows (64 KiB): most often a certificate chain with a huge list of names",
                )
            }
            TlsError::InvalidMessage(_) | TlsError::InappropriateMessage { .. } => match peer {
                Some(p) if p != "tls" => Failure::mismatch(
                    p,
                    format!(
                        "the port does not speak TLS: it answered the TLS handshake in {} (\"{}\")",
                        p.to_uppercase(),
                        first_line()
                    ),
                ),
                _ if sniffed.is_empty() || peer == Some("tls") => Failure::new(
                    Outcome::TlsFailed,
                    format!("the TLS handshake failed: {tls}"),
                ),
                _ => Failure::mismatch(
                    "unknown",
                    format!(
                        "the port does not speak TLS: it answered the TLS handshake with \"{}\"",
                        first_line()
                    ),
                ),
            },
            TlsError::AlertReceived(alert) => Failure::new(Outcome::TlsFailed, alert_words(*alert)),
            TlsError::PeerIncompatible(p) => {
                Failure::new(Outcome::TlsFailed, incompatible_words(p))
            }
            other => Failure::new(
                Outcome::TlsFailed,
                format!("the TLS handshake failed: {other}"),
            ),
        };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => match peer {
            Some(p) if p != "tls" => Failure::mismatch(
                p,
                format!(
                    "the port does not speak TLS: it sent {} (\"{}\") and closed",
                    p.to_uppercase(),
                    first_line()
                ),
            ),
            None if !sniffed.is_empty() => Failure::mismatch(
                "unknown",
                format!(
                    "the port does not speak TLS: it sent \"{}\" and closed",
                    first_line()
                ),
            ),
            _ => Failure::new(
                Outcome::TlsFailed,
                "the server closed the connection during the TLS handshake",
            ),
        },
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Failure::new(
            Outcome::Reset,
            "the server reset the connection during the TLS handshake",
        ),
        _ => Failure::new(Outcome::TlsFailed, format!("the TLS handshake failed: {e}")),
    }
}

/// An alert as the TLS RFCs write it: `certificate_required`.
pub fn alert_name(alert: AlertDescription) -> String {
    snake_case(&format!("{alert:?}"))
}

/// rustls's names (`CertificateRequired`) as the TLS RFCs write them.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn alert_words(alert: AlertDescription) -> String {
    match alert {
        AlertDescription::HandshakeFailure => "the server refused the handshake (handshake_failure alert): no TLS version or cipher suite in common; the server may offer only obsolete TLS 1.0/1.1 or weak ciphers".to_string(),
        AlertDescription::ProtocolVersion => "the server refused every TLS version we offer (protocol_version alert): it supports only TLS older than 1.2".to_string(),
        AlertDescription::UnrecognisedName => "the server has no certificate for the name we sent in SNI (unrecognized_name alert)".to_string(),
        AlertDescription::InternalError => "the server failed inside its TLS stack (internal_error alert): check its certificate and key configuration".to_string(),
        other => format!("the server ended the handshake with a {other:?} alert"),
    }
}

fn incompatible_words(p: &PeerIncompatible) -> String {
    match p {
        PeerIncompatible::ServerDoesNotSupportTls12Or13 => {
            "the server speaks only TLS older than 1.2, which is obsolete and refused".to_string()
        }
        PeerIncompatible::NoCipherSuitesInCommon => {
            "no cipher suite in common: the server offers only obsolete or weak ciphers".to_string()
        }
        other => format!("the server's TLS is incompatible: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_after_an_alert_is_the_servers_words() {
        let courier = b"\x15\x03\x03\x00\x02\x01\x00-ERR STARTTLS failed: couriertls: x.pem: No such file or directory\n";
        assert!(text_after_tls_records(courier)
            .unwrap()
            .starts_with(b"-ERR STARTTLS failed"));
        // Only records, records cut short, or no record at all: nothing to quote.
        assert_eq!(
            text_after_tls_records(b"\x15\x03\x03\x00\x02\x01\x00"),
            None
        );
        assert_eq!(text_after_tls_records(b"\x16\x03\x03\x40\x00\x02"), None);
        assert_eq!(text_after_tls_records(b"-ERR no"), None);
        assert_eq!(
            text_after_tls_records(b"\x15\x03\x03\x00\x02\x01\x00\x00\xff\x17"),
            None
        );
    }
}
