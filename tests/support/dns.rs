//! A real DNS server inside the test process: hickory-server on
//! `127.0.0.1:0` (UDP and TCP on one port), serving the zone files in
//! `fixtures/dns/*.zone` (each named after its origin), and misbehaving on
//! purpose as `fixtures/dns/misbehave.txt` says: SERVFAIL for some names, no
//! answer at all for others. Like `FakeServer` it runs on its own thread with
//! its own runtime, so a plain `#[test]` points the real binary at it with
//! `--dns-server`. It never forwards anything: names outside its zones are
//! answered REFUSED.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{MX, PTR};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::file::{FileConfig, FileZoneHandler};
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType};
use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::oneshot;

use super::fixture_path;

/// A running test DNS server; stopped when dropped.
pub struct DnsServer {
    addr: SocketAddr,
    /// Every question asked so far: (name, lower case with the dot; type).
    asked: Asked,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DnsServer {
    /// Serve every zone of `fixtures/dns/` with the misbehaviour rules.
    pub fn start() -> DnsServer {
        let handler = Misbehaving::load(&fixture_path("dns"));
        let asked = handler.asked.clone();
        Self::run(handler, asked)
    }

    /// Serve with `handler` on `127.0.0.1:<random port>` (UDP and TCP); its
    /// questions are not counted.
    pub fn serve<H: RequestHandler>(handler: H) -> DnsServer {
        Self::run(handler, Asked::default())
    }

    fn run<H: RequestHandler>(handler: H, asked: Asked) -> DnsServer {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the DNS server");
            runtime.block_on(async move {
                // The UDP port's TCP twin may be taken by another test: try again.
                let mut bound = None;
                for _ in 0..50 {
                    let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
                    let addr = udp.local_addr().expect("UDP address");
                    if let Ok(tcp) = TcpListener::bind(addr).await {
                        bound = Some((udp, tcp, addr));
                        break;
                    }
                }
                let (udp, tcp, addr) = bound.expect("a port free for both UDP and TCP");
                let mut server = Server::new(handler);
                server.register_socket(udp);
                server.register_listener(tcp, Duration::from_secs(5), 65_535);
                ready_tx.send(addr).expect("report the address");
                let _ = stop_rx.await;
                let _ = server.shutdown_gracefully().await;
            });
        });
        let addr = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the DNS server starts");
        DnsServer {
            addr,
            asked,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// How many times `name` (`mx.example.test.`) was asked for with type `rtype` (`A`).
    pub fn asked(&self, name: &str, rtype: &str) -> usize {
        let asked = self.asked.lock().unwrap_or_else(|p| p.into_inner());
        asked
            .iter()
            .filter(|(n, t)| n == name && t == rtype)
            .count()
    }

    /// The value for `--dns-server`.
    pub fn arg(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Asked = Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// The zones, and the names to misbehave for.
struct Misbehaving {
    asked: Asked,
    catalog: Catalog,
    servfail: Vec<LowerName>,
    silent: Vec<LowerName>,
    hostile: Vec<LowerName>,
}

/// The name a `hostile` rule answers with: its first label holds
/// `ESC ] 0 ; title BEL` (an xterm title change) and `ESC [ 2 J` (a screen
/// clear), bytes a zone file cannot hold.
pub const HOSTILE_LABEL: &[u8] = b"evil\x1b]0;title\x07\x1b[2J";

fn hostile_name() -> Name {
    Name::from_labels(vec![HOSTILE_LABEL, b"example", b"test"]).expect("a name of raw labels")
}

impl Misbehaving {
    fn load(dir: &Path) -> Misbehaving {
        let mut catalog = Catalog::new();
        let mut zones = 0;
        for entry in std::fs::read_dir(dir).expect("fixtures/dns/ exists") {
            let path = entry.expect("a directory entry").path();
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            let Some(origin) = file.strip_suffix(".zone") else {
                continue;
            };
            let origin = Name::from_ascii(format!("{origin}."))
                .unwrap_or_else(|e| panic!("{file}: not named after its origin: {e}"));
            let zone = FileZoneHandler::try_from_config(
                origin.clone(),
                ZoneType::Primary,
                AxfrPolicy::Deny,
                None,
                &FileConfig {
                    zone_path: path.clone(),
                },
                None,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            catalog.upsert(LowerName::new(&origin), vec![Arc::new(zone)]);
            zones += 1;
        }
        assert!(zones > 0, "no zone files in {}", dir.display());
        let rules = std::fs::read_to_string(dir.join("misbehave.txt")).expect("misbehave.txt");
        let mut servfail = Vec::new();
        let mut silent = Vec::new();
        let mut hostile = Vec::new();
        for line in rules.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (rule, name) = line.split_once(char::is_whitespace).expect("RULE NAME");
            let name = LowerName::new(&Name::from_ascii(name.trim()).expect("a name"));
            match rule {
                "servfail" => servfail.push(name),
                "silent" => silent.push(name),
                "hostile" => hostile.push(name),
                other => panic!("misbehave.txt: unknown rule {other}"),
            }
        }
        Misbehaving {
            asked: Asked::default(),
            catalog,
            servfail,
            silent,
            hostile,
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Misbehaving {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        if let Ok(info) = request.request_info() {
            let name = info.query.name();
            self.asked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((name.to_string(), info.query.query_type().to_string()));
            if self.silent.iter().any(|n| n.zone_of(name)) {
                // Each UDP request has its own task: this one just never ends.
                return std::future::pending().await;
            }
            if self.hostile.iter().any(|n| n.zone_of(name)) {
                let owner = Name::from(name.clone());
                let data = match info.query.query_type() {
                    RecordType::MX => RData::MX(MX::new(10, hostile_name())),
                    _ => RData::PTR(PTR(hostile_name())),
                };
                let records = [Record::from_rdata(owner, 60, data)];
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.recursion_available = true;
                let response = MessageResponseBuilder::new(&request.queries, None).build(
                    metadata,
                    records.iter(),
                    [],
                    [],
                    [],
                );
                return match response_handle.send_response(response).await {
                    Ok(info) => info,
                    Err(_) => std::future::pending().await,
                };
            }
            if self.servfail.iter().any(|n| n.zone_of(name)) {
                let response = MessageResponseBuilder::new(&request.queries, None)
                    .error_msg(&request.metadata, ResponseCode::ServFail);
                return match response_handle.send_response(response).await {
                    Ok(info) => info,
                    Err(_) => std::future::pending().await,
                };
            }
        }
        self.catalog
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}
