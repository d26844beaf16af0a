//! Test support: the one way to run mailport ([`cmd::Mailport`]), the
//! report as a consumer reads it ([`report`]), a scripted fake mail server
//! ([`server`]), a throw-away PKI, an in-process DNS server and helpers for
//! closed and filtered ports. Everything talks to loopback only.

pub mod certs;
pub mod cmd;
pub mod dialogs;
pub mod dns;
pub mod dnssec;
pub mod ports;
pub mod report;
mod rss;
pub mod schema;
pub mod server;

use std::path::{Path, PathBuf};

use cmd::Mailport;

/// Absolute path of `fixtures/<path>` in the package directory.
pub fn fixture_path(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
}

/// The bytes of `fixtures/<path>` (relative to `CARGO_MANIFEST_DIR`).
///
/// Panics, naming the full path, if the file cannot be read.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = fixture_path(path);
    match std::fs::read(&full) {
        Ok(bytes) => bytes,
        Err(e) => panic!(
            "test fixture {path:?} could not be read from {}: {e}",
            full.display()
        ),
    }
}

/// The test host name; certificates are issued for it.
pub const HOST: &str = "mail.example.test";

/// `mailport check mail.example.test --json` against `port` on 127.0.0.1
/// spoken as `service`, with 2 s timeouts and `--ca-file` if given; add to
/// it, then `.run()`.
pub fn check_fake(port: u16, service: &str, ca: Option<&Path>) -> Mailport {
    Mailport::check(HOST)
        .loopback()
        .at(port, service)
        .ca(ca)
        .fast_timeouts()
        .json()
}
