//! The connection's stream, plain or inside TLS, and the server side of a
//! TLS handshake (`Step::StartTls`).

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::conn::Conn;
use super::HANDSHAKE_TIMEOUT;

/// The connection, plain or inside TLS, or closed by a `Reset`/`Close`.
pub(super) enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Closed,
}

pub(super) fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the script already closed this connection",
    )
}

impl Io {
    pub(super) async fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.read(out).await,
            Io::Tls(s) => s.read(out).await,
            Io::Closed => Err(closed_error()),
        }
    }

    pub(super) async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Io::Plain(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            Io::Tls(s) => {
                s.write_all(data).await?;
                s.flush().await
            }
            Io::Closed => Err(closed_error()),
        }
    }

    pub(super) async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Io::Plain(s) => s.shutdown().await,
            Io::Tls(s) => s.shutdown().await,
            Io::Closed => Ok(()),
        }
    }

    pub(super) fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Io::Plain(s) => Some(s),
            Io::Tls(s) => Some(s.get_ref().0),
            Io::Closed => None,
        }
    }
}

impl Conn {
    pub(super) async fn start_tls(
        &mut self,
        config: Arc<rustls::ServerConfig>,
        last: bool,
    ) -> Result<(), String> {
        if self.peer_gone {
            return Err("the client had already closed the connection".to_string());
        }
        if !self.buf.is_empty() {
            let n = self.buf.len();
            self.flush_buffer();
            return Err(format!(
                "the client sent {n} bytes after STARTTLS, before the TLS handshake"
            ));
        }
        let stream = match std::mem::replace(&mut self.io, Io::Closed) {
            Io::Plain(stream) => stream,
            Io::Tls(stream) => {
                self.io = Io::Tls(stream);
                return Err("the connection is already inside TLS".to_string());
            }
            Io::Closed => return Err(closed_error().to_string()),
        };
        self.starttls_pending = false;
        let acceptor = TlsAcceptor::from(config);
        let error = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => {
                self.io = Io::Tls(Box::new(tls));
                self.tls = true;
                self.shared.lock().handshakes += 1;
                return Ok(());
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no handshake within {HANDSHAKE_TIMEOUT:?}"),
        };
        self.peer_gone = true;
        self.shared
            .lock()
            .handshake_errors
            .push(format!("#{}: {error}", self.idx));
        if last {
            Ok(())
        } else {
            Err(format!(
                "TLS handshake failed ({error}) but the script has more steps"
            ))
        }
    }
}
