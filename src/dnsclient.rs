//! Who answers mailport's DNS questions, and how each answer is classified.
//!
//! Without `--dns-server`: the system's resolver (hickory-resolver with
//! /etc/resolv.conf and /etc/hosts). With `--dns-server ADDR[:PORT]`: that one
//! server, asked directly with a message built here (hickory-proto), over UDP
//! with a fallback to TCP when the answer is truncated. Directly means below
//! hickory-resolver's caching layer, which answers RFC 6761 special names
//! itself (a PTR under 127.in-addr.arpa comes back `localhost.` without any
//! query being sent) and reads /etc/hosts: a diagnostic tool reports what the
//! server said. Every read is bounded in bytes and in time.

use crate::report::DnsStatus;
use hickory_resolver::proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout_at, Instant};

/// The port of `--dns-server` when none is given.
pub const DEFAULT_PORT: u16 = 53;
/// A UDP answer larger than this is cut short by the read and fails to parse.
/// We send no EDNS, so a server keeps UDP answers within 512 bytes.
const UDP_BUFFER: usize = 4096;
/// Datagrams that are not the answer (wrong id, wrong question) tolerated per question.
const MAX_STRAY_DATAGRAMS: usize = 32;
/// At most this many records of one answer are kept.
const MAX_RECORDS: usize = 64;

/// Where DNS questions go, from `--dns-server` and `--dns-timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsConfig {
    /// `None`: the system's resolver.
    pub server: Option<SocketAddr>,
    /// How long to wait for each answer.
    pub timeout: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            server: None,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Parse `--dns-server`: an IP address with an optional port
/// (`192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353`).
pub fn parse_server(text: &str) -> Result<SocketAddr, String> {
    let t = text.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    if let Ok(ip) = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or("")
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    match t.parse::<SocketAddr>() {
        Ok(a) if a.port() != 0 => Ok(a),
        Ok(_) => Err(format!("'{text}': port 0 is not a DNS server's port")),
        Err(_) => Err(format!(
            "'{text}' is not an IP address with an optional port \
             (e.g. 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:5353); \
             a DNS server is given by address, not by name"
        )),
    }
}

/// One DNS question's answer, classified.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: DnsStatus,
    /// The records of the asked type in the answer section (any owner, so
    /// that an answer through a CNAME counts).
    pub records: Vec<RData>,
    /// What went wrong, in words, when the status is not `found`.
    pub detail: Option<String>,
    pub ms: u64,
}

impl Answer {
    fn failed(status: DnsStatus, detail: String, start: Instant) -> Answer {
        Answer {
            status,
            records: Vec::new(),
            detail: Some(detail),
            ms: start.elapsed().as_millis() as u64,
        }
    }

    /// The names of PTR records, lower-cased, without the trailing dot, in order, once each.
    pub fn ptr_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.records {
            if let RData::PTR(p) = r {
                let n = display_name(&p.0);
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }

    /// The addresses of A and AAAA records, once each.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = Vec::new();
        for r in &self.records {
            let a = match r {
                RData::A(a) => IpAddr::V4(a.0),
                RData::AAAA(a) => IpAddr::V6(a.0),
                _ => continue,
            };
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    /// MX records as (preference, exchange), sorted by preference then name.
    pub fn mx(&self) -> Vec<(u16, String)> {
        let mut out: Vec<(u16, String)> = self
            .records
            .iter()
            .filter_map(|r| match r {
                RData::MX(mx) => Some((mx.preference, display_name(&mx.exchange))),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// A name as reported: lower case, no trailing dot; the root is `.`.
pub fn display_name(name: &Name) -> String {
    if name.is_root() {
        return ".".into();
    }
    let text = name.to_lowercase().to_ascii();
    text.strip_suffix('.').unwrap_or(&text).to_string()
}

/// A fully qualified name from text (a trailing dot is added).
pub fn fqdn(text: &str) -> Result<Name, String> {
    let mut name = Name::from_ascii(text.trim_end_matches('.'))
        .map_err(|e| format!("'{text}' is not a DNS name: {e}"))?;
    name.set_fqdn(true);
    Ok(name)
}

/// The reverse name of an address (in-addr.arpa or ip6.arpa).
pub fn reverse_name(addr: IpAddr) -> Name {
    let mut name = Name::from(addr);
    name.set_fqdn(true);
    name
}

/// Where questions go.
#[derive(Clone)]
pub enum Dns {
    /// The system's resolver.
    System {
        resolver: Box<TokioResolver>,
        timeout: Duration,
        servers: Vec<IpAddr>,
    },
    /// One server, asked directly (`--dns-server`).
    Server { addr: SocketAddr, timeout: Duration },
    /// The system's resolver could not be set up; every question fails with this.
    Broken(String),
}

impl Dns {
    pub fn new(config: &DnsConfig) -> Dns {
        if let Some(addr) = config.server {
            return Dns::Server {
                addr,
                timeout: config.timeout,
            };
        }
        match crate::dns::system_resolver() {
            Ok(resolver) => {
                let servers = hickory_resolver::system_conf::read_system_conf()
                    .map(|(c, _)| {
                        let mut ips: Vec<IpAddr> = c.name_servers().iter().map(|n| n.ip).collect();
                        ips.dedup();
                        ips
                    })
                    .unwrap_or_default();
                Dns::System {
                    resolver: Box::new(resolver),
                    timeout: config.timeout,
                    servers,
                }
            }
            Err(e) => Dns::Broken(e),
        }
    }

    /// Who answers, for the report: `system (192.0.2.53)` or `127.0.0.1:5353`.
    pub fn describe(&self) -> String {
        match self {
            Dns::System { servers, .. } if servers.is_empty() => "system".into(),
            Dns::System { servers, .. } => format!(
                "system ({})",
                servers
                    .iter()
                    .map(IpAddr::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Dns::Server { addr, .. } => addr.to_string(),
            Dns::Broken(_) => "system (unavailable)".into(),
        }
    }

    /// True when questions go to one server directly (--dns-server).
    pub fn is_direct(&self) -> bool {
        matches!(self, Dns::Server { .. })
    }

    /// Ask one question; the answer always comes back, within the timeout
    /// (and never after `deadline`).
    pub async fn query(&self, name: &Name, rtype: RecordType, deadline: Instant) -> Answer {
        let start = Instant::now();
        match self {
            Dns::System {
                resolver, timeout, ..
            } => {
                let until = deadline.min(start + *timeout);
                ask_system(resolver, name, rtype, until, start).await
            }
            Dns::Server { addr, timeout } => {
                let until = deadline.min(start + *timeout);
                ask_server(*addr, name, rtype, until, start).await
            }
            Dns::Broken(e) => Answer::failed(DnsStatus::Failed, e.clone(), start),
        }
    }
}

async fn ask_system(
    resolver: &TokioResolver,
    name: &Name,
    rtype: RecordType,
    until: Instant,
    start: Instant,
) -> Answer {
    match timeout_at(until, resolver.lookup(name.clone(), rtype)).await {
        Ok(Ok(lookup)) => {
            let records: Vec<RData> = lookup
                .answers()
                .iter()
                .filter(|r| r.data.record_type() == rtype)
                .take(MAX_RECORDS)
                .map(|r| r.data.clone())
                .collect();
            let status = if records.is_empty() {
                DnsStatus::NoData
            } else {
                DnsStatus::Found
            };
            Answer {
                status,
                detail: (status == DnsStatus::NoData)
                    .then(|| format!("{} has no {rtype} record", display_name(name))),
                records,
                ms: start.elapsed().as_millis() as u64,
            }
        }
        Ok(Err(e)) => {
            let status = match crate::dns::status_of(&e) {
                "nxdomain" => DnsStatus::Nxdomain,
                "no_data" => DnsStatus::NoData,
                "servfail" => DnsStatus::Servfail,
                "refused" => DnsStatus::Refused,
                "timeout" => DnsStatus::Timeout,
                _ => DnsStatus::Failed,
            };
            let name = display_name(name);
            let words = match status {
                DnsStatus::Nxdomain => format!("{name} does not exist (NXDOMAIN)"),
                DnsStatus::NoData => format!("{name} has no {rtype} record"),
                DnsStatus::Servfail => format!("the resolver failed on {rtype} {name} (SERVFAIL)"),
                DnsStatus::Refused => format!("the resolver refused {rtype} {name} (REFUSED)"),
                DnsStatus::Timeout => format!("no answer for {rtype} {name} in time"),
                _ => format!("{rtype} {name}: {e}"),
            };
            Answer::failed(status, words, start)
        }
        Err(_) => Answer::failed(
            DnsStatus::Timeout,
            format!(
                "no answer for {rtype} {} from the system's resolver in {}",
                display_name(name),
                seconds(start.elapsed())
            ),
            start,
        ),
    }
}

/// Why an exchange with the server produced no message.
enum Miss {
    Timeout,
    Io(String),
}

async fn ask_server(
    addr: SocketAddr,
    name: &Name,
    rtype: RecordType,
    until: Instant,
    start: Instant,
) -> Answer {
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(name.clone(), rtype));
    let wire = match query.to_vec() {
        Ok(w) => w,
        Err(e) => {
            return Answer::failed(
                DnsStatus::Failed,
                format!("cannot encode the question: {e}"),
                start,
            )
        }
    };
    let id = query.metadata.id;
    let is_answer = |m: &Message| {
        m.metadata.message_type == MessageType::Response
            && m.metadata.id == id
            && m.queries
                .first()
                .is_none_or(|q| q.query_type() == rtype && q.name() == name)
    };
    let mut reply = udp_exchange(addr, &wire, &is_answer, start, until).await;
    if matches!(&reply, Ok(m) if m.metadata.truncation) {
        reply = tcp_exchange(addr, &wire, &is_answer, until).await;
    }
    let shown = display_name(name);
    let message = match reply {
        Ok(m) => m,
        Err(Miss::Timeout) => {
            return Answer::failed(
                DnsStatus::Timeout,
                format!(
                    "no answer for {rtype} {shown} from {addr} in {}",
                    seconds(start.elapsed())
                ),
                start,
            )
        }
        Err(Miss::Io(why)) => {
            return Answer::failed(DnsStatus::Failed, format!("{addr}: {why}"), start)
        }
    };
    classify(&message, rtype, &shown, addr, start)
}

/// Turn a server's answer into an `Answer`.
fn classify(
    message: &Message,
    rtype: RecordType,
    shown: &str,
    addr: SocketAddr,
    start: Instant,
) -> Answer {
    let (status, detail) = match message.metadata.response_code {
        ResponseCode::NoError => {
            let records: Vec<RData> = message
                .answers
                .iter()
                .filter(|r| r.data.record_type() == rtype)
                .take(MAX_RECORDS)
                .map(|r| r.data.clone())
                .collect();
            if !records.is_empty() {
                return Answer {
                    status: DnsStatus::Found,
                    records,
                    detail: None,
                    ms: start.elapsed().as_millis() as u64,
                };
            }
            (
                DnsStatus::NoData,
                format!("{shown} has no {rtype} record (NOERROR, no data)"),
            )
        }
        ResponseCode::NXDomain => (
            DnsStatus::Nxdomain,
            format!("{shown} does not exist (NXDOMAIN)"),
        ),
        ResponseCode::ServFail => (
            DnsStatus::Servfail,
            format!("{addr} answered SERVFAIL for {rtype} {shown}"),
        ),
        ResponseCode::Refused => (
            DnsStatus::Refused,
            format!("{addr} refused to answer for {rtype} {shown} (REFUSED)"),
        ),
        other => (
            DnsStatus::Failed,
            format!("{addr} answered {other} for {rtype} {shown}"),
        ),
    };
    Answer::failed(status, detail, start)
}

/// Send the question over UDP and wait for its answer; ask once more halfway
/// through the time allowed, in case a datagram was lost.
async fn udp_exchange(
    addr: SocketAddr,
    wire: &[u8],
    is_answer: &(dyn Fn(&Message) -> bool + Sync),
    start: Instant,
    until: Instant,
) -> Result<Message, Miss> {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let io = |e: std::io::Error| Miss::Io(io_words(&e));
    let socket = UdpSocket::bind(local).await.map_err(io)?;
    // Connected: the kernel drops datagrams from anyone but the server.
    socket.connect(addr).await.map_err(io)?;
    socket.send(wire).await.map_err(io)?;
    let resend_at = start + (until.saturating_duration_since(start) / 2);
    let mut resent = false;
    let mut strays = 0;
    let mut buf = vec![0u8; UDP_BUFFER];
    loop {
        let wake = if resent { until } else { resend_at.min(until) };
        match timeout_at(wake, socket.recv(&mut buf)).await {
            Err(_) if !resent && wake < until => {
                resent = true;
                socket.send(wire).await.map_err(io)?;
            }
            Err(_) => return Err(Miss::Timeout),
            Ok(Err(e)) => return Err(io(e)),
            Ok(Ok(n)) => {
                match Message::from_vec(&buf[..n]) {
                    Ok(m) if is_answer(&m) => return Ok(m),
                    _ => strays += 1,
                }
                if strays > MAX_STRAY_DATAGRAMS {
                    return Err(Miss::Io(format!(
                        "{strays} datagrams that are not the answer to the question"
                    )));
                }
            }
        }
    }
}

/// Ask over TCP (RFC 7766): two bytes of length, then the message.
async fn tcp_exchange(
    addr: SocketAddr,
    wire: &[u8],
    is_answer: &(dyn Fn(&Message) -> bool + Sync),
    until: Instant,
) -> Result<Message, Miss> {
    let io = |e: std::io::Error| Miss::Io(format!("over TCP: {}", io_words(&e)));
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.map_err(io)?;
        let len = u16::try_from(wire.len()).map_err(|_| Miss::Io("question too long".into()))?;
        let mut framed = Vec::with_capacity(wire.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(wire);
        stream.write_all(&framed).await.map_err(io)?;
        // A DNS message over TCP is at most 65535 bytes: the read is bounded by its framing.
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.map_err(io)?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut buf).await.map_err(io)?;
        match Message::from_vec(&buf) {
            Ok(m) if is_answer(&m) => Ok(m),
            Ok(_) => Err(Miss::Io(
                "over TCP: the answer is not for the question".into(),
            )),
            Err(e) => Err(Miss::Io(format!("over TCP: a malformed answer: {e}"))),
        }
    };
    match timeout_at(until, exchange).await {
        Ok(r) => r,
        Err(_) => Err(Miss::Timeout),
    }
}

fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            "nothing answers DNS there (connection refused / port unreachable)".into()
        }
        _ => e.to_string(),
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::rdata::{A, MX, PTR};
    use hickory_resolver::proto::rr::Record;

    #[test]
    fn dns_server_arguments() {
        assert_eq!(
            parse_server("192.0.2.53").unwrap(),
            "192.0.2.53:53".parse().unwrap()
        );
        assert_eq!(
            parse_server("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(
            parse_server("2001:db8::53").unwrap(),
            "[2001:db8::53]:53".parse().unwrap()
        );
        assert_eq!(
            parse_server("[2001:db8::53]").unwrap(),
            "[2001:db8::53]:53".parse().unwrap()
        );
        assert_eq!(
            parse_server("[::1]:5353").unwrap(),
            "[::1]:5353".parse().unwrap()
        );
        assert!(parse_server("dns.example.org")
            .unwrap_err()
            .contains("by address"));
        assert!(parse_server("127.0.0.1:0").is_err());
        assert!(parse_server("127.0.0.1:99999").is_err());
    }

    #[test]
    fn names_are_shown_without_the_dot_and_reverse_names_are_right() {
        assert_eq!(
            display_name(&fqdn("Mail.Example.TEST.").unwrap()),
            "mail.example.test"
        );
        assert_eq!(display_name(&Name::root()), ".");
        assert_eq!(
            display_name(&reverse_name("192.0.2.25".parse().unwrap())),
            "25.2.0.192.in-addr.arpa"
        );
        assert!(display_name(&reverse_name("2001:db8::25".parse().unwrap()))
            .ends_with(".8.b.d.0.1.0.0.2.ip6.arpa"));
    }

    fn answer(code: ResponseCode, records: Vec<Record>) -> Message {
        let mut m = Message::response(7, hickory_resolver::proto::op::OpCode::Query);
        m.metadata.response_code = code;
        m.answers = records;
        m
    }

    #[test]
    fn answers_are_classified_by_code_and_records() {
        let start = Instant::now();
        let addr: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let name = fqdn("25.2.0.192.in-addr.arpa").unwrap();
        let ptr = Record::from_rdata(
            name.clone(),
            60,
            RData::PTR(PTR(fqdn("Mail.Example.test").unwrap())),
        );
        let a = Record::from_rdata(name.clone(), 60, RData::A(A::new(192, 0, 2, 25)));
        let c = |code, recs| classify(&answer(code, recs), RecordType::PTR, "x", addr, start);
        let found = c(ResponseCode::NoError, vec![ptr.clone(), ptr.clone()]);
        assert_eq!(found.status, DnsStatus::Found);
        assert_eq!(found.ptr_names(), vec!["mail.example.test"]);
        // Records of another type are not an answer.
        assert_eq!(c(ResponseCode::NoError, vec![a]).status, DnsStatus::NoData);
        assert_eq!(c(ResponseCode::NoError, vec![]).status, DnsStatus::NoData);
        assert_eq!(
            c(ResponseCode::NXDomain, vec![]).status,
            DnsStatus::Nxdomain
        );
        assert_eq!(
            c(ResponseCode::ServFail, vec![]).status,
            DnsStatus::Servfail
        );
        assert_eq!(c(ResponseCode::Refused, vec![]).status, DnsStatus::Refused);
        let other = c(ResponseCode::FormErr, vec![]);
        assert_eq!(other.status, DnsStatus::Failed);
        assert!(other.detail.unwrap().contains("127.0.0.1:53"));
    }

    #[test]
    fn mx_records_come_sorted() {
        let owner = fqdn("example.test").unwrap();
        let mx = |p, n: &str| {
            Record::from_rdata(owner.clone(), 60, RData::MX(MX::new(p, fqdn(n).unwrap())))
        };
        let a = Answer {
            status: DnsStatus::Found,
            records: vec![mx(20, "b.example.test"), mx(10, "a.example.test")]
                .into_iter()
                .map(|r| r.data)
                .collect(),
            detail: None,
            ms: 0,
        };
        assert_eq!(
            a.mx(),
            vec![(10, "a.example.test".into()), (20, "b.example.test".into())]
        );
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_timeout_within_the_limit() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let dns = Dns::new(&DnsConfig {
            server: Some(silent.local_addr().unwrap()),
            timeout: Duration::from_millis(300),
        });
        let started = Instant::now();
        let a = dns
            .query(
                &fqdn("example.test").unwrap(),
                RecordType::A,
                Instant::now() + Duration::from_secs(10),
            )
            .await;
        assert_eq!(a.status, DnsStatus::Timeout, "{a:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
