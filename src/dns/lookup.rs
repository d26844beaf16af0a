//! The lookups mailport makes, each returning a report value: the addresses
//! of a host, the reverse DNS of an address with the forward confirmation of
//! each name (FCrDNS), and the MX records of a mail domain.

use super::{display_name, fqdn, reverse_name, Answer, Dns};
use crate::report::{
    DnsStatus, MxLookup, MxRecord, PtrName, Resolution, ResolutionSource, ReverseDns, TxtLookup,
};
use hickory_resolver::proto::rr::RecordType;
use std::net::IpAddr;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// At most this many names of one PTR answer are forward-checked.
pub const MAX_PTR_NAMES: usize = 8;

/// Ask `dns` one question about `text`, a name that may not be a DNS name;
/// `dns_only`: of DNS itself, never /etc/hosts (`Dns::query_dns`).
async fn ask(
    dns: &Dns,
    text: &str,
    rtype: RecordType,
    deadline: Instant,
    dns_only: bool,
) -> Answer {
    match fqdn(text) {
        Ok(n) if dns_only => dns.query_dns(&n, rtype, deadline).await,
        Ok(n) => dns.query(&n, rtype, deadline).await,
        Err(e) => Answer::failed(DnsStatus::Failed, e, Instant::now()),
    }
}

/// The A and AAAA records of `host`, answered by `deadline` at the latest.
pub async fn host_addresses(dns: &Dns, host: &str, deadline: Instant) -> (Vec<IpAddr>, Resolution) {
    let start = Instant::now();
    let resolution = |status, detail, ms| Resolution {
        source: ResolutionSource::Dns,
        status,
        detail,
        ms,
    };
    let name = match fqdn(host) {
        Ok(n) => n,
        Err(e) => return (Vec::new(), resolution(DnsStatus::Failed, Some(e), 0)),
    };
    let (v4, v6) = tokio::join!(
        dns.query(&name, RecordType::A, deadline),
        dns.query(&name, RecordType::AAAA, deadline),
    );
    let mut addrs = Vec::new();
    let mut errors: Vec<(DnsStatus, String)> = Vec::new();
    for (family, answer) in [("A", v4), ("AAAA", v6)] {
        if answer.status == DnsStatus::Found {
            addrs.extend(answer.addresses());
        } else {
            let why = answer.detail.unwrap_or_default();
            errors.push((answer.status, format!("{family}: {why}")));
        }
    }
    addrs.dedup();
    let ms = start.elapsed().as_millis() as u64;
    if !addrs.is_empty() {
        return (addrs, resolution(DnsStatus::Found, None, ms));
    }
    // Report the most telling reason: a definite "no such name" beats a timeout.
    let rank = |s: &DnsStatus| match s {
        DnsStatus::Nxdomain => 0,
        DnsStatus::NoData => 1,
        DnsStatus::Servfail => 2,
        DnsStatus::Refused => 3,
        DnsStatus::Timeout => 4,
        _ => 5,
    };
    errors.sort_by_key(|(s, _)| rank(s));
    let status = errors.first().map(|(s, _)| *s).unwrap_or(DnsStatus::NoData);
    let words = match status {
        DnsStatus::Nxdomain => format!("{host} does not exist in DNS (NXDOMAIN)"),
        DnsStatus::NoData => format!("{host} exists but has no A or AAAA record"),
        DnsStatus::Servfail => format!("the resolver failed to answer for {host} (SERVFAIL)"),
        DnsStatus::Refused => format!("the resolver refused to answer for {host} (REFUSED)"),
        DnsStatus::Timeout => format!("no DNS answer for {host} in time"),
        _ => format!(
            "resolving {host} failed: {}",
            errors
                .iter()
                .map(|(_, e)| e.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    (Vec::new(), resolution(status, Some(words), ms))
}

/// The PTR of `addr` and the forward confirmation of each of its names.
pub async fn reverse(dns: &Dns, addr: IpAddr, deadline: Instant) -> ReverseDns {
    let query = reverse_name(addr);
    let answer = dns.query_dns(&query, RecordType::PTR, deadline).await;
    let mut names: Vec<String> = answer.ptr_names();
    // In a stable order: the order of records in an answer means nothing.
    names.sort();
    names.truncate(MAX_PTR_NAMES);
    let mut set = JoinSet::new();
    for (i, name) in names.into_iter().enumerate() {
        let dns = dns.clone();
        set.spawn(async move { (i, forward(&dns, name, addr, deadline).await) });
    }
    let mut checked: Vec<(usize, PtrName)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        if let Ok(done) = joined {
            checked.push(done);
        }
    }
    checked.sort_by_key(|(i, _)| *i);
    let status = if answer.status == DnsStatus::Found && checked.is_empty() {
        DnsStatus::NoData
    } else {
        answer.status
    };
    ReverseDns {
        address: addr,
        query: display_name(&query),
        status,
        detail: answer.detail,
        ms: answer.ms,
        names: checked.into_iter().map(|(_, n)| n).collect(),
    }
}

/// The first PTR name of `addr` (in name order), asked of DNS itself, with
/// no forward confirmation: the cheap name of a router or an ICMP sender.
pub async fn ptr_name(dns: &Dns, addr: IpAddr, deadline: Instant) -> Option<String> {
    let answer = dns
        .query_dns(&reverse_name(addr), RecordType::PTR, deadline)
        .await;
    let mut names = answer.ptr_names();
    names.sort();
    names.into_iter().next()
}

/// Does `name` resolve back to `addr`? Asks A for an IPv4 address, AAAA for IPv6.
pub async fn forward(dns: &Dns, name: String, addr: IpAddr, deadline: Instant) -> PtrName {
    let rtype = if addr.is_ipv4() {
        RecordType::A
    } else {
        RecordType::AAAA
    };
    let answer = ask(dns, &name, rtype, deadline, true).await;
    let addresses = answer.addresses();
    PtrName {
        confirmed: addresses.contains(&addr),
        name,
        record_type: rtype.to_string(),
        status: answer.status,
        detail: answer.detail,
        addresses,
        ms: answer.ms,
    }
}

/// The MX records of `domain`, lowest preference first.
pub async fn mx(dns: &Dns, domain: &str, deadline: Instant) -> MxLookup {
    let answer = ask(dns, domain, RecordType::MX, deadline, false).await;
    MxLookup {
        domain: domain.to_string(),
        status: answer.status,
        records: answer
            .mx()
            .into_iter()
            .map(|(preference, exchange)| MxRecord {
                preference,
                exchange,
            })
            .collect(),
        detail: answer.detail,
        ms: answer.ms,
        resolver: dns.describe(),
        policy: None,
    }
}

/// At most this many TXT records of one answer are kept, each cut at [`TXT_MAX_BYTES`].
pub const MAX_TXT_RECORDS: usize = 16;
pub const TXT_MAX_BYTES: usize = 1024;

/// The TXT records of `name` (e.g. `_mta-sts.example.org`).
pub async fn txt(dns: &Dns, name: &str, deadline: Instant) -> TxtLookup {
    let answer = ask(dns, name, RecordType::TXT, deadline, false).await;
    let mut records = answer.txt(TXT_MAX_BYTES);
    records.truncate(MAX_TXT_RECORDS);
    TxtLookup {
        name: name.to_string(),
        status: answer.status,
        detail: answer.detail,
        ms: answer.ms,
        records,
    }
}
