//! Loopback ports that misbehave on purpose: one that refuses connections
//! (RST, ECONNREFUSED) and one that silently drops SYNs (connect times out),
//! the way a firewall that drops packets looks to a client.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

/// How long a probe connection may take before it counts as dropped.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);
/// How many probe connections `filtered_port` tries before giving up.
const MAX_PROBES: usize = 8;

/// A loopback port with nothing listening on it: connecting gets
/// ECONNREFUSED. (Bind `127.0.0.1:0`, note the port, release it. Another
/// process could in theory grab the port in between; on a test machine
/// the kernel does not hand it out again that quickly.)
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local_addr").port();
    drop(listener);
    port
}

/// A loopback port whose listener never accepts and whose accept queue is
/// full, so the kernel drops every new SYN and a connect to `port` times out.
///
/// Everything (listener and the connections that fill the queue) is held
/// by this value; dropping it releases the port.
pub struct FilteredPort {
    /// The port that swallows SYNs.
    pub port: u16,
    listener: Socket,
    held: Vec<Socket>,
}

impl FilteredPort {
    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }
}

impl std::fmt::Debug for FilteredPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilteredPort")
            .field("port", &self.port)
            .field("listener", &self.listener.local_addr().ok())
            .field("held", &self.held.len())
            .finish()
    }
}

/// See [`FilteredPort`]. Listens with a backlog of 0 (never accepting),
/// then opens client connections with a 300 ms connect timeout until one
/// times out (at most 8 tries); the ones that completed are kept alive.
/// Panics if no probe timed out, since then the port is not filtered.
pub fn filtered_port() -> FilteredPort {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket()");
    let any = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
    listener.bind(&any.into()).expect("bind 127.0.0.1:0");
    listener.listen(0).expect("listen(0)");
    let addr = listener
        .local_addr()
        .expect("local_addr")
        .as_socket()
        .expect("an IP socket address");

    let mut held = Vec::new();
    let mut outcomes = Vec::new();
    for _ in 0..MAX_PROBES {
        let client = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket()");
        match client.connect_timeout(&addr.into(), PROBE_TIMEOUT) {
            Ok(()) => {
                outcomes.push("connected".to_string());
                held.push(client);
            }
            Err(e) if is_timeout(&e) => {
                // The queue is full: this SYN went unanswered. Dropping the
                // half-open client socket is fine, the listener never saw it.
                return FilteredPort {
                    port: addr.port(),
                    listener,
                    held,
                };
            }
            Err(e) => outcomes.push(format!("error: {e}")),
        }
    }
    panic!(
        "filtered_port(): no connection to {addr} timed out after {MAX_PROBES} tries \
         (listen backlog 0 should make the kernel drop SYNs once the accept queue is full); \
         probe outcomes: {outcomes:?}"
    );
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}
