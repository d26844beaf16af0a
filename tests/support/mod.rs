//! Test support: a scripted fake mail server, a throw-away PKI and
//! helpers for closed and filtered ports. Everything talks to loopback only.

pub mod certs;
pub mod ports;
pub mod server;

use std::path::PathBuf;

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
