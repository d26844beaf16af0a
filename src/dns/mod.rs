//! DNS for mailport, in one place: who answers the questions, the one mapping
//! of answers and errors to [`DnsStatus`], and the lookups (host addresses,
//! reverse, forward, MX) that return report values.
//!
//! TLSA records with their DNSSEC status (DANE) are asked in `dnssec.rs`.
//!
//! Without `--dns-server`: the system's resolver (hickory-resolver with
//! /etc/resolv.conf and /etc/hosts). With `--dns-server ADDR[:PORT]`: that one
//! server, asked directly with a message built here (hickory-proto, see
//! `wire.rs`), over UDP with a fallback to TCP when the answer is truncated.
//! Directly means below hickory-resolver's caching layer, which answers RFC
//! 6761 special names itself (a PTR under 127.in-addr.arpa comes back
//! `localhost.` without any query being sent) and reads /etc/hosts: a
//! diagnostic tool reports what the server said. Every read is bounded in
//! bytes and in time; every wait by the plan's `--dns-timeout`.

mod dnssec;
mod lookup;
mod wire;

pub use dnssec::{tlsa, validated_by};
pub use lookup::{forward, host_addresses, mx, ptr_name, reverse, txt};

use crate::cache::{Cache, Made};
use crate::escape::{escape_str, SafeText};
use crate::plan::DnsConfig;
use crate::report::DnsStatus;
use hickory_resolver::config::LookupIpStrategy;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{timeout_at, Instant};

/// At most this many records of one answer are kept.
const MAX_RECORDS: usize = 64;

/// The status a response code means, for an answer without records of the
/// asked type. The one mapping, for both the system's resolver and
/// `--dns-server`.
pub fn status_of_code(code: ResponseCode) -> DnsStatus {
    match code {
        ResponseCode::NoError => DnsStatus::NoData,
        ResponseCode::NXDomain => DnsStatus::Nxdomain,
        ResponseCode::ServFail => DnsStatus::Servfail,
        ResponseCode::Refused => DnsStatus::Refused,
        _ => DnsStatus::Failed,
    }
}

/// The status of a failed lookup through hickory-resolver (0.26: `NetError`).
pub fn status_of(e: &NetError) -> DnsStatus {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) => status_of_code(nr.response_code),
        NetError::Dns(DnsError::ResponseCode(code)) => match status_of_code(*code) {
            // A bare NOERROR as an error is not a "no data" answer.
            DnsStatus::NoData => DnsStatus::Failed,
            other => other,
        },
        NetError::Timeout => DnsStatus::Timeout,
        _ => DnsStatus::Failed,
    }
}

/// The system's resolver (/etc/resolv.conf, /etc/hosts). Its own tries fit in
/// `timeout`: two attempts of half of it each.
fn system_resolver(timeout: Duration) -> Result<TokioResolver, String> {
    let mut builder = TokioResolver::builder_tokio()
        .map_err(|e| format!("cannot read the system's resolver configuration: {e}"))?;
    let opts = builder.options_mut();
    opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    opts.timeout = (timeout / 2).max(Duration::from_millis(100));
    opts.attempts = 2;
    builder
        .build()
        .map_err(|e| format!("cannot start the resolver: {e}"))
}

/// One DNS question's answer, classified.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: DnsStatus,
    /// The records of the asked type in the answer section (any owner, so
    /// that an answer through a CNAME counts).
    pub records: Vec<RData>,
    /// What went wrong, in words, when the status is not `found`.
    pub detail: Option<SafeText>,
    pub ms: u64,
}

impl Answer {
    /// About how many bytes the answer holds (for the run's cache of them).
    pub fn weight(&self) -> usize {
        std::mem::size_of::<Answer>()
            + self.records.len() * (std::mem::size_of::<RData>() + 64)
            + self.detail.as_ref().map_or(0, |d| d.len())
    }

    /// A failed answer; `detail` (which may quote the library's or a
    /// server's words) is escaped here.
    pub(crate) fn failed(status: DnsStatus, detail: &str, start: Instant) -> Answer {
        Answer {
            status,
            records: Vec::new(),
            detail: Some(escape_str(detail)),
            ms: start.elapsed().as_millis() as u64,
        }
    }

    /// The names of PTR records, lower-cased, without the trailing dot, in order, once each.
    pub fn ptr_names(&self) -> Vec<SafeText> {
        let mut out: Vec<SafeText> = Vec::new();
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
    /// Each TXT record's character-strings joined (RFC 7208 section 3.3),
    /// cut at `max` bytes, escaped.
    pub fn txt(&self, max: usize) -> Vec<SafeText> {
        self.records
            .iter()
            .filter_map(|r| match r {
                RData::TXT(t) => {
                    let joined: Vec<u8> =
                        t.txt_data.iter().flat_map(|s| s.iter().copied()).collect();
                    Some(crate::escape::escape(&joined[..joined.len().min(max)]))
                }
                _ => None,
            })
            .collect()
    }

    pub fn mx(&self) -> Vec<(u16, SafeText)> {
        let mut out: Vec<(u16, SafeText)> = self
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

/// A name as reported: lower case, no trailing dot, escaped; the root is `.`.
pub fn display_name(name: &Name) -> SafeText {
    if name.is_root() {
        return ".".into();
    }
    let text = name.to_lowercase().to_ascii();
    escape_str(text.strip_suffix('.').unwrap_or(&text))
}

/// A fully qualified name from text (a trailing dot is added).
pub fn fqdn(text: &str) -> Result<Name, String> {
    let mut name = Name::from_ascii(text.trim_end_matches('.'))
        // The library's words quote the name: escaped as a whole.
        .map_err(|e| {
            crate::escape::shown(&format!("'{text}' is not a DNS name: {e}")).into_string()
        })?;
    name.set_fqdn(true);
    Ok(name)
}

/// The reverse name of an address (in-addr.arpa or ip6.arpa).
pub fn reverse_name(addr: IpAddr) -> Name {
    let mut name = Name::from(addr);
    name.set_fqdn(true);
    name
}

/// How many answers a run keeps ([`Dns::query`]): the hot ones (an MX
/// host asked for by thousands of domains) stay, and a run of millions of
/// hosts keeps at most this many (an answer is a few hundred bytes).
pub const ANSWERS_KEPT: usize = 1024;
/// And at most about this many bytes of them (an answer holds at most 64
/// records).
pub const ANSWER_BYTES_KEPT: usize = 1 << 20;
/// An answer is asked again after this long in a run, whatever its TTL.
pub const ANSWER_MAX_AGE: Duration = Duration::from_secs(300);

/// A question: the name, the type, and whether it goes to DNS itself
/// ([`Dns::query_dns`]).
type Question = (Name, RecordType, bool);

/// Where questions go, and the answers of the run so far: the same
/// question asked twice in a run (by two hosts, or by two at once) is one
/// query. A timeout is not kept: the next to ask asks again.
#[derive(Clone)]
pub struct Dns {
    source: Source,
    answers: Arc<Cache<Question, Answer>>,
}

#[derive(Clone)]
enum Source {
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
        Dns {
            source: Source::new(config),
            answers: Arc::new(Cache::new(
                ANSWERS_KEPT,
                ANSWER_BYTES_KEPT,
                Answer::weight,
                ANSWER_MAX_AGE,
            )),
        }
    }

    /// Who answers, for the report: `system (192.0.2.53)` or `127.0.0.1:5353`.
    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// True when questions go to one server directly (--dns-server).
    pub fn is_direct(&self) -> bool {
        matches!(self.source, Source::Server { .. })
    }

    /// How long one question may wait for its answer.
    pub fn timeout(&self) -> Duration {
        match &self.source {
            Source::System { timeout, .. } | Source::Server { timeout, .. } => *timeout,
            Source::Broken(_) => Duration::ZERO,
        }
    }

    /// Ask one question; the answer always comes back, within the timeout
    /// (and never after `deadline`). Once per run (see [`Dns`]).
    pub async fn query(&self, name: &Name, rtype: RecordType, deadline: Instant) -> Answer {
        let question = (name.clone(), rtype, false);
        self.once(question, Box::pin(self.source.query(name, rtype, deadline)))
            .await
    }

    /// Ask one question of DNS itself: with the system's configuration, its
    /// name servers (/etc/resolv.conf) are asked directly, one after the
    /// other, so that neither /etc/hosts nor the resolver's own answers for
    /// special names (127.in-addr.arpa, localhost) pass for DNS. Reverse DNS
    /// and its forward confirmation are asked this way: they are what other
    /// mail servers see. Once per run (see [`Dns`]).
    pub async fn query_dns(&self, name: &Name, rtype: RecordType, deadline: Instant) -> Answer {
        if !matches!(self.source, Source::System { .. }) {
            return self.query(name, rtype, deadline).await;
        }
        let question = (name.clone(), rtype, true);
        self.once(
            question,
            Box::pin(self.source.query_dns(name, rtype, deadline)),
        )
        .await
    }

    /// The answer to `question`: the run's, or `ask`'s. `ask` is boxed: a
    /// future held inline here would be copied into every future that
    /// awaits a DNS answer (a host's check holds many).
    async fn once(&self, question: Question, ask: impl Future<Output = Answer>) -> Answer {
        let (answer, _) = self
            .answers
            .get_or_make(question, || async {
                let answer = ask.await;
                if answer.status == DnsStatus::Timeout {
                    Made::Once(answer)
                } else {
                    Made::Keep(answer)
                }
            })
            .await;
        answer
    }
}

impl Source {
    fn new(config: &DnsConfig) -> Source {
        if let Some(addr) = config.server {
            return Source::Server {
                addr,
                timeout: config.timeout,
            };
        }
        match system_resolver(config.timeout) {
            Ok(resolver) => {
                let servers = hickory_resolver::system_conf::read_system_conf()
                    .map(|(c, _)| {
                        let mut ips: Vec<IpAddr> = c.name_servers().iter().map(|n| n.ip).collect();
                        ips.dedup();
                        ips
                    })
                    .unwrap_or_default();
                Source::System {
                    resolver: Box::new(resolver),
                    timeout: config.timeout,
                    servers,
                }
            }
            Err(e) => Source::Broken(e),
        }
    }

    /// Who answers, for the report: `system (192.0.2.53)` or `127.0.0.1:5353`.
    fn describe(&self) -> String {
        match self {
            Source::System { servers, .. } if servers.is_empty() => "system".into(),
            Source::System { servers, .. } => format!(
                "system ({})",
                servers
                    .iter()
                    .map(IpAddr::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Source::Server { addr, .. } => addr.to_string(),
            Source::Broken(_) => "system (unavailable)".into(),
        }
    }

    /// Ask one question; the answer always comes back, within the timeout
    /// (and never after `deadline`).
    async fn query(&self, name: &Name, rtype: RecordType, deadline: Instant) -> Answer {
        let start = Instant::now();
        match self {
            Source::System {
                resolver, timeout, ..
            } => {
                let until = deadline.min(start + *timeout);
                ask_system(resolver, name, rtype, until, start).await
            }
            Source::Server { addr, timeout } => {
                let until = deadline.min(start + *timeout);
                wire::ask_server(*addr, name, rtype, until, start).await
            }
            Source::Broken(e) => Answer::failed(DnsStatus::Failed, e, start),
        }
    }

    /// Ask one question of DNS itself (see [`Dns::query_dns`]): the
    /// system's name servers, one after the other.
    async fn query_dns(&self, name: &Name, rtype: RecordType, deadline: Instant) -> Answer {
        let Source::System {
            servers, timeout, ..
        } = self
        else {
            return self.query(name, rtype, deadline).await;
        };
        let start = Instant::now();
        if servers.is_empty() {
            return Answer::failed(
                DnsStatus::Failed,
                "no name server is configured in /etc/resolv.conf",
                start,
            );
        }
        let until = deadline.min(start + *timeout);
        let total = until.saturating_duration_since(start);
        let mut last = None;
        for (i, ip) in servers.iter().enumerate() {
            // Each server gets its share of the time; a definite answer ends the search.
            let share = start + total.mul_f64((i + 1) as f64 / servers.len() as f64);
            let answer = wire::ask_server(
                SocketAddr::new(*ip, crate::plan::DEFAULT_DNS_PORT),
                name,
                rtype,
                share,
                Instant::now(),
            )
            .await;
            if !answer.status.is_failure() {
                return Answer {
                    ms: start.elapsed().as_millis() as u64,
                    ..answer
                };
            }
            last = Some(answer);
        }
        let mut answer = last.unwrap_or_else(|| Answer::failed(DnsStatus::Failed, "", start));
        answer.ms = start.elapsed().as_millis() as u64;
        answer
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
                    .then(|| escape_str(&format!("{} has no {rtype} record", display_name(name)))),
                records,
                ms: start.elapsed().as_millis() as u64,
            }
        }
        Ok(Err(e)) => {
            let status = status_of(&e);
            let name = display_name(name);
            let words = match status {
                DnsStatus::Nxdomain => format!("{name} does not exist (NXDOMAIN)"),
                DnsStatus::NoData => format!("{name} has no {rtype} record"),
                DnsStatus::Servfail => format!("the resolver failed on {rtype} {name} (SERVFAIL)"),
                DnsStatus::Refused => format!("the resolver refused {rtype} {name} (REFUSED)"),
                DnsStatus::Timeout => format!("no answer for {rtype} {name} in time"),
                _ => format!("{rtype} {name}: {e}"),
            };
            Answer::failed(status, &words, start)
        }
        Err(_) => Answer::failed(
            DnsStatus::Timeout,
            &format!(
                "no answer for {rtype} {} from the system's resolver in {}",
                display_name(name),
                seconds(start.elapsed())
            ),
            start,
        ),
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::rdata::MX;
    use hickory_resolver::proto::rr::Record;

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
