//! Asking one server directly (`--dns-server`): a question built here, sent
//! over UDP (asked once more halfway through the time allowed) with a
//! fallback to TCP when the answer is truncated; every read bounded.

use super::{display_name, seconds, status_of_code, Answer};
use crate::report::DnsStatus;
use hickory_resolver::proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout_at, Instant};

/// A UDP answer larger than this is cut short by the read and fails to parse.
/// We send no EDNS (but for --trust-ad, with 1232 bytes), so a server keeps
/// UDP answers within this.
const UDP_BUFFER: usize = 4096;
/// Datagrams that are not the answer (wrong id, wrong question) tolerated per question.
const MAX_STRAY_DATAGRAMS: usize = 32;

/// Why an exchange with the server produced no message.
enum Miss {
    Timeout,
    Io(String),
}

pub(super) async fn ask_server(
    addr: SocketAddr,
    name: &Name,
    rtype: RecordType,
    until: Instant,
    start: Instant,
) -> Answer {
    ask(addr, name, rtype, until, start, false).await.0
}

/// Ask as a DNSSEC-aware stub (RFC 6840 §5.7): the AD bit and EDNS's DO bit
/// set, so that a validating resolver says whether it validated the answer.
/// The answer comes back with the response's AD bit.
pub(super) async fn ask_server_ad(
    addr: SocketAddr,
    name: &Name,
    rtype: RecordType,
    until: Instant,
    start: Instant,
) -> (Answer, bool) {
    ask(addr, name, rtype, until, start, true).await
}

async fn ask(
    addr: SocketAddr,
    name: &Name,
    rtype: RecordType,
    until: Instant,
    start: Instant,
    dnssec: bool,
) -> (Answer, bool) {
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    if dnssec {
        query.metadata.authentic_data = true;
        let mut edns = Edns::new();
        edns.enable_dnssec();
        // Within the UDP read buffer (the DNS flag day's 1232 bytes).
        edns.set_max_payload(1232);
        query.set_edns(edns);
    }
    query.add_query(Query::query(name.clone(), rtype));
    let wire = match query.to_vec() {
        Ok(w) => w,
        Err(e) => {
            return (
                Answer::failed(
                    DnsStatus::Failed,
                    &format!("cannot encode the question: {e}"),
                    start,
                ),
                false,
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
            return (
                Answer::failed(
                    DnsStatus::Timeout,
                    &format!(
                        "no answer for {rtype} {shown} from {addr} in {}",
                        seconds(start.elapsed())
                    ),
                    start,
                ),
                false,
            )
        }
        Err(Miss::Io(why)) => {
            return (
                Answer::failed(DnsStatus::Failed, &format!("{addr}: {why}"), start),
                false,
            )
        }
    };
    (
        classify(&message, rtype, &shown, addr, start),
        message.metadata.authentic_data,
    )
}

/// Turn a server's answer into an `Answer`.
fn classify(
    message: &Message,
    rtype: RecordType,
    shown: &str,
    addr: SocketAddr,
    start: Instant,
) -> Answer {
    let code = message.metadata.response_code;
    if code == ResponseCode::NoError {
        let records: Vec<RData> = message
            .answers
            .iter()
            .filter(|r| r.data.record_type() == rtype)
            .take(super::MAX_RECORDS)
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
    }
    let status = status_of_code(code);
    let detail = match status {
        DnsStatus::NoData => format!("{shown} has no {rtype} record (NOERROR, no data)"),
        DnsStatus::Nxdomain => format!("{shown} does not exist (NXDOMAIN)"),
        DnsStatus::Servfail => format!("{addr} answered SERVFAIL for {rtype} {shown}"),
        DnsStatus::Refused => format!("{addr} refused to answer for {rtype} {shown} (REFUSED)"),
        _ => format!("{addr} answered {code} for {rtype} {shown}"),
    };
    Answer::failed(status, &detail, start)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::fqdn;
    use hickory_resolver::proto::rr::rdata::{A, PTR};
    use hickory_resolver::proto::rr::Record;

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
}
