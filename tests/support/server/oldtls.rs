//! `Step::OldTls`: the server side of a TLS handshake from before TLS 1.2,
//! as far as its ServerHello: read one ClientHello, answer or close.

use tokio::time::Instant;

use super::conn::Conn;
use super::step::{ClientHello, Modern};
use super::READ_TIMEOUT;

/// Most bytes of a ClientHello record read (a header and 16 KiB).
const MAX_HELLO: usize = 5 + 16 * 1024;

impl Conn {
    pub(super) async fn old_tls(
        &mut self,
        version: u16,
        suite: u16,
        modern: Modern,
    ) -> Result<(), String> {
        let deadline = Instant::now() + READ_TIMEOUT;
        let mut record = std::mem::take(&mut self.buf);
        let want = loop {
            if record.len() >= 5 {
                let len = usize::from(u16::from_be_bytes([record[3], record[4]]));
                if record.len() >= 5 + len || 5 + len > MAX_HELLO {
                    break 5 + len;
                }
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.io.read(&mut chunk)).await {
                Err(_) => return Err("no ClientHello within the read timeout".to_string()),
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.peer_gone = true;
                    return Err(format!(
                        "the client closed after {} bytes, before a whole ClientHello",
                        record.len()
                    ));
                }
                Ok(Ok(n)) => record.extend_from_slice(&chunk[..n]),
            }
        };
        if want > MAX_HELLO {
            return Err(format!("a ClientHello record of {want} bytes"));
        }
        let hello = parse_client_hello(self.idx, &record[..want])
            .ok_or_else(|| format!("not a ClientHello: {:02x?}", &record[..want.min(16)]))?;
        let is_modern = hello.supported_versions;
        self.shared.lock().hellos.push(hello);
        let answer = match (is_modern, modern) {
            (true, Modern::Close) => None,
            (true, Modern::Alert(description)) => {
                Some(vec![0x15, 0x03, 0x01, 0, 2, 2, description])
            }
            (false, _) | (true, Modern::ServerHello) => Some(server_hello(version, suite)),
        };
        if let Some(bytes) = answer {
            self.write(&bytes).await?;
        }
        let _ = tokio::time::timeout(super::WRITE_TIMEOUT, self.io.shutdown()).await;
        // Wait for the client to go away, so the close is not a reset.
        self.read_until_eof(super::CLOSE_WAIT).await;
        self.buf.clear();
        self.io = super::tls::Io::Closed;
        Ok(())
    }
}

/// A ServerHello record of `version` choosing `suite`, no extensions.
pub fn server_hello(version: u16, suite: u16) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&[0x42; 32]);
    body.push(0); // no session id
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0); // null compression
    let mut hs = vec![2, 0, 0, body.len() as u8];
    hs.extend_from_slice(&body);
    let mut record = vec![0x16];
    record.extend_from_slice(&version.to_be_bytes());
    record.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    record.extend_from_slice(&hs);
    record
}

/// The parts of a ClientHello record the tests look at.
fn parse_client_hello(conn: usize, record: &[u8]) -> Option<ClientHello> {
    let be16 = |b: &[u8], at: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
    };
    if *record.first()? != 0x16 || *record.get(5)? != 1 {
        return None;
    }
    let record_version = be16(record, 1)?;
    let body = record.get(9..)?;
    let client_version = be16(body, 0)?;
    let mut at = 2 + 32;
    at += 1 + usize::from(*body.get(at)?);
    let suites_len = usize::from(be16(body, at)?);
    let suites = body
        .get(at + 2..at + 2 + suites_len)?
        .chunks(2)
        .filter_map(|c| be16(c, 0))
        .collect();
    at += 2 + suites_len;
    at += 1 + usize::from(*body.get(at)?);
    let mut hello = ClientHello {
        conn,
        record_version,
        client_version,
        supported_versions: false,
        sni: None,
        suites,
    };
    let Some(ext_len) = be16(body, at) else {
        return Some(hello);
    };
    let exts = body.get(at + 2..at + 2 + usize::from(ext_len))?;
    let mut i = 0;
    while i + 4 <= exts.len() {
        let kind = be16(exts, i)?;
        let len = usize::from(be16(exts, i + 2)?);
        let data = exts.get(i + 4..i + 4 + len)?;
        match kind {
            0x002b => hello.supported_versions = true,
            // server_name_list(2) type(1) length(2) name
            0x0000 => {
                hello.sni = data
                    .get(5..)
                    .map(|n| String::from_utf8_lossy(n).into_owned())
            }
            _ => {}
        }
        i += 4 + len;
    }
    Some(hello)
}
