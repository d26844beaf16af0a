//! JSON: the report model, serialised.

use serde::Serialize;
use std::io::{self, Write};

pub fn render<T: Serialize>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| match e.io_error_kind() {
        // Keep the I/O kind, so a closed pipe (`mailport … | head`) is seen as one.
        Some(kind) => io::Error::from(kind),
        None => io::Error::other(e),
    })?;
    writeln!(out)
}
