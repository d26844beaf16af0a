//! Name resolution with hickory-resolver: A and AAAA, each answer classified
//! (found, nxdomain, no_data, timeout, servfail, refused, failed).

use crate::report::DnsStatus;
use crate::report::Resolution;
use hickory_resolver::config::LookupIpStrategy;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RecordType;
use hickory_resolver::TokioResolver;
use std::net::IpAddr;
use std::time::Duration;
use tokio::time::Instant;

/// The system's resolver (/etc/resolv.conf, /etc/hosts).
pub fn system_resolver() -> Result<TokioResolver, String> {
    let mut builder = TokioResolver::builder_tokio()
        .map_err(|e| format!("cannot read the system's resolver configuration: {e}"))?;
    let opts = builder.options_mut();
    opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    opts.timeout = Duration::from_secs(3);
    opts.attempts = 2;
    builder
        .build()
        .map_err(|e| format!("cannot start the resolver: {e}"))
}

/// The kind of a failed answer, as reported.
pub fn status_of(e: &NetError) -> &'static str {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) => match nr.response_code {
            ResponseCode::NXDomain => "nxdomain",
            ResponseCode::ServFail => "servfail",
            ResponseCode::Refused => "refused",
            _ => "no_data",
        },
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => "nxdomain",
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => "servfail",
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => "refused",
        NetError::Timeout => "timeout",
        _ => "failed",
    }
}

/// Resolve A and AAAA of `host`, asking `dns` (the system's resolver or
/// --dns-server), answered by `deadline` at the latest.
pub async fn resolve(
    dns: &crate::dnsclient::Dns,
    host: &str,
    deadline: Instant,
) -> (Vec<IpAddr>, Resolution) {
    let start = Instant::now();
    let name = match crate::dnsclient::fqdn(host) {
        Ok(n) => n,
        Err(e) => {
            return (
                Vec::new(),
                Resolution {
                    source: "dns".into(),
                    status: "failed".into(),
                    detail: Some(e),
                    ms: 0,
                },
            )
        }
    };
    let (v4, v6) = tokio::join!(
        dns.query(&name, RecordType::A, deadline),
        dns.query(&name, RecordType::AAAA, deadline),
    );
    let mut addrs = Vec::new();
    let mut errors: Vec<(&'static str, String)> = Vec::new();
    for (family, answer) in [("A", v4), ("AAAA", v6)] {
        if answer.status == DnsStatus::Found {
            addrs.extend(answer.addresses());
        } else {
            let why = answer.detail.unwrap_or_default();
            errors.push((answer.status.as_str(), format!("{family}: {why}")));
        }
    }
    addrs.dedup();
    let ms = start.elapsed().as_millis() as u64;
    if !addrs.is_empty() {
        return (
            addrs,
            Resolution {
                source: "dns".into(),
                status: "found".into(),
                detail: None,
                ms,
            },
        );
    }
    // Report the most telling reason: a definite "no such name" beats a timeout.
    let rank = |s: &str| match s {
        "nxdomain" => 0,
        "no_data" => 1,
        "servfail" => 2,
        "refused" => 3,
        "timeout" => 4,
        _ => 5,
    };
    errors.sort_by_key(|(s, _)| rank(s));
    let status = errors.first().map(|(s, _)| *s).unwrap_or("no_data");
    let words = match status {
        "nxdomain" => format!("{host} does not exist in DNS (NXDOMAIN)"),
        "no_data" => format!("{host} exists but has no A or AAAA record"),
        "servfail" => format!("the resolver failed to answer for {host} (SERVFAIL)"),
        "refused" => format!("the resolver refused to answer for {host} (REFUSED)"),
        "timeout" => format!("no DNS answer for {host} in time"),
        _ => format!(
            "resolving {host} failed: {}",
            errors
                .iter()
                .map(|(_, e)| e.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    (
        Vec::new(),
        Resolution {
            source: "dns".into(),
            status: status.into(),
            detail: Some(words),
            ms,
        },
    )
}
