//! A mail domain's TLS promises, gathered: the `_mta-sts` and `_smtp._tls`
//! TXT records, the MTA-STS policy fetched over HTTPS (`fetch.rs`), each MX
//! host matched against the policy's patterns. Facts only: what they mean
//! for each MX address is `diagnose/policy.rs`'s to say, against the
//! probes of port 25.
//!
//! DANE: the TLSA records of each MX host with their DNSSEC status (`dane.rs`).

mod dane;
mod fetch;
pub mod sts;
pub mod tlsrpt;

pub use fetch::{MAX_POLICY_BYTES, POLICY_PATH};

use crate::dns::{self, Dns};
use crate::plan::{Plan, PolicyChecks};
use crate::report::{DomainPolicy, MtaSts, MxLookup, StsMxMatch, TlsRpt};
use crate::tls::Trust;
use tokio::time::Instant;

/// A mail domain's TLS promises, when the plan checks them (--mx, `policy`)
/// and the domain accepts mail (not a null MX). Runs while the domain's MX
/// hosts are probed.
pub async fn for_domain(
    plan: &Plan,
    dns: &Dns,
    trust: &Trust,
    lookup: &MxLookup,
    deadline: Instant,
) -> Option<DomainPolicy> {
    let checks = plan.policy.as_ref()?;
    if lookup.is_null() {
        return None;
    }
    Some(
        gather(
            plan,
            checks,
            dns,
            trust,
            lookup,
            &lookup.mx_hosts(),
            deadline,
        )
        .await,
    )
}

/// The TLS promises of the mail domain of `lookup` (its MX lookup, done),
/// whose MX hosts are `hosts`.
pub async fn gather(
    plan: &Plan,
    checks: &PolicyChecks,
    dns: &Dns,
    trust: &Trust,
    lookup: &MxLookup,
    hosts: &[String],
    deadline: Instant,
) -> DomainPolicy {
    let (mut promises, tlsa) = tokio::join!(
        sts_and_rpt(plan, checks, dns, trust, lookup, deadline),
        dane::lookups(dns, &plan.names.validation, hosts, deadline),
    );
    promises.dane = Some(tlsa);
    promises
}

/// MTA-STS and TLS-RPT.
async fn sts_and_rpt(
    plan: &Plan,
    checks: &PolicyChecks,
    dns: &Dns,
    trust: &Trust,
    lookup: &MxLookup,
    deadline: Instant,
) -> DomainPolicy {
    let domain = lookup.domain.as_str();
    let (sts_name, rpt_name) = (format!("_mta-sts.{domain}"), format!("_smtp._tls.{domain}"));
    let (sts_txt, rpt_txt) = tokio::join!(
        dns::txt(dns, &sts_name, deadline),
        dns::txt(dns, &rpt_name, deadline),
    );
    let (id, txt_errors) = sts::parse_txt(&texts(&sts_txt.records));
    let mut mta_sts = MtaSts {
        txt: sts_txt,
        id,
        txt_errors,
        fetch: None,
        policy: None,
        mx: Vec::new(),
    };
    // A sender fetches the policy only beside one valid v=STSv1 record.
    if mta_sts.id.is_some() {
        let fetched = fetch::fetch(plan, checks, dns, trust, domain, deadline).await;
        if let Some(body) = &fetched.body {
            let policy = sts::parse_policy(body);
            mta_sts.mx = lookup
                .records
                .iter()
                .filter(|r| r.exchange != ".")
                .map(|r| StsMxMatch {
                    mx: r.exchange.to_string(),
                    pattern: policy
                        .mx
                        .iter()
                        .find(|p| sts::mx_matches(p, &r.exchange))
                        .cloned(),
                })
                .collect();
            mta_sts.policy = Some(escaped(policy));
        }
        mta_sts.fetch = Some(fetched.fetch);
    }
    let (rua, errors) = tlsrpt::parse(&texts(&rpt_txt.records));
    DomainPolicy {
        mta_sts,
        tls_rpt: TlsRpt {
            txt: rpt_txt,
            rua,
            errors,
        },
        dane: None,
    }
}

/// The records' texts (escaped when they were stored) for the parsers.
fn texts(records: &[crate::escape::SafeText]) -> Vec<String> {
    records.iter().map(|r| r.to_string()).collect()
}

/// The policy's texts made safe to show (the body came from a web server).
fn escaped(mut p: crate::report::StsPolicy) -> crate::report::StsPolicy {
    let e = |s: &String| crate::escape::escape(s.as_bytes()).to_string();
    p.mx = p.mx.iter().map(e).collect();
    p.errors = p.errors.iter().map(e).collect();
    p
}
