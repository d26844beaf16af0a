//! DANE's part of a mail domain's promises: the TLSA records of each of its
//! MX hosts with their DNSSEC status, asked at once (while the hosts are
//! probed). The addresses are matched against them once the probes are
//! done (`report::Dane::match_hosts`).

use crate::dns::{self, Dns};
use crate::plan::Validation;
use crate::report::{Dane, DaneMx};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The TLSA records of each of `hosts` (the MX hosts, in their order).
pub async fn lookups(
    dns: &Dns,
    validation: &Validation,
    hosts: &[String],
    deadline: Instant,
) -> Dane {
    let mut set = JoinSet::new();
    for (i, host) in hosts.iter().enumerate() {
        let (dns, validation, host) = (dns.clone(), validation.clone(), host.clone());
        set.spawn(async move {
            let tlsa = dns::tlsa(&dns, &validation, &host, deadline).await;
            (
                i,
                DaneMx {
                    host,
                    tlsa,
                    addresses: Vec::new(),
                },
            )
        });
    }
    let mut mx = Vec::new();
    while let Some(joined) = set.join_next().await {
        if let Ok(done) = joined {
            mx.push(done);
        }
    }
    mx.sort_by_key(|(i, _)| *i);
    Dane {
        mx: mx.into_iter().map(|(_, m)| m).collect(),
    }
}
