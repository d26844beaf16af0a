//! The TLSA records of an MX host (`_25._tcp.MX`, RFC 7672) with their
//! DNSSEC status, decided one of three ways (`plan::Validation`):
//!
//! - by mailport itself from the root's key (hickory's `DnssecDnsHandle`
//!   under a resolver with `validate`, the root KSKs built into hickory),
//!   asking the same servers as every other question (--dns-server, or the
//!   system's name servers directly);
//! - the same from the keys of a --trust-anchor file: DNSKEY records are
//!   trusted as they are; a DS record is turned into the zone's key by
//!   asking for the zone's DNSKEY set and keeping the key whose digest it is;
//! - by the AD bit of the --dns-server, a validating resolver (--trust-ad),
//!   asked with the DO and AD bits set, as Postfix does.
//!
//! A bogus answer comes back from the validator as an error without its
//! records: they are then asked once more without validation, to be shown.

use super::{display_name, fqdn, status_of, status_of_code, wire, Answer, Dns, Source};
use crate::escape::safe_text;
use crate::plan::{Anchor, AnchorKey, Validation};
use crate::report::{DnsStatus, DnssecStatus, TlsaLookup, TlsaRecord, ValidatedBy, Validator};
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::rdata::{DNSSECRData, DNSKEY};
use hickory_resolver::proto::dnssec::{Algorithm, DigestType, Proof, PublicKeyBuf, TrustAnchors};
use hickory_resolver::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_resolver::TokioResolver;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{timeout_at, Instant};

/// Most hex digits of TLSA data kept in the report (a full certificate can be
/// kilobytes; a digest is 64 or 128).
const MAX_DATA_HEX: usize = 1024;

/// Who decides, for the report.
pub fn validated_by(dns: &Dns, validation: &Validation) -> ValidatedBy {
    match validation {
        Validation::RootAnchor => ValidatedBy {
            validator: Validator::RootAnchor,
            source: None,
        },
        Validation::Anchors { path, .. } => ValidatedBy {
            validator: Validator::TrustAnchor,
            source: Some(crate::escape::shown(&path.display().to_string())),
        },
        Validation::AdBit => ValidatedBy {
            validator: Validator::AdBit,
            source: Some(crate::escape::escape_str(&dns.describe())),
        },
    }
}

/// The TLSA records of `_25._tcp.HOST`, with their DNSSEC status.
pub async fn tlsa(dns: &Dns, validation: &Validation, host: &str, deadline: Instant) -> TlsaLookup {
    let start = Instant::now();
    let shown = format!("_25._tcp.{}", host.trim_end_matches('.'));
    let mut lookup = TlsaLookup {
        name: shown.to_ascii_lowercase(),
        status: DnsStatus::Failed,
        dnssec: DnssecStatus::Indeterminate,
        validated_by: validated_by(dns, validation),
        records: Vec::new(),
        full_data_sha256: Vec::new(),
        detail: None,
        ms: 0,
    };
    let name = match fqdn(&shown) {
        Ok(n) => n,
        Err(e) => {
            lookup.detail = esc(e);
            return lookup;
        }
    };
    let until = deadline.min(start + dns.timeout());
    match validation {
        Validation::AdBit => ad_bit(dns, &name, until, &mut lookup).await,
        Validation::RootAnchor => {
            validate(dns, &name, TrustAnchors::default(), until, &mut lookup).await
        }
        Validation::Anchors { anchors, .. } => match trust_anchors(dns, anchors, until).await {
            Ok(keys) => validate(dns, &name, keys, until, &mut lookup).await,
            Err(why) => {
                // No key to start from: the chain cannot be proven.
                lookup.dnssec = DnssecStatus::Bogus;
                lookup.detail = esc(why);
                let plain = dns.query(&name, RecordType::TLSA, until).await;
                lookup.status = plain.status;
                set_records(&mut lookup, &plain.records);
            }
        },
    }
    lookup.ms = start.elapsed().as_millis() as u64;
    lookup
}

/// --trust-ad: the resolver's AD bit is the verdict.
async fn ad_bit(dns: &Dns, name: &Name, until: Instant, lookup: &mut TlsaLookup) {
    let Source::Server { addr, .. } = &dns.source else {
        lookup.detail = esc("--trust-ad needs --dns-server");
        return;
    };
    let (answer, ad) =
        wire::ask_server_ad(*addr, name, RecordType::TLSA, until, Instant::now()).await;
    lookup.status = answer.status;
    set_records(lookup, &answer.records);
    lookup.dnssec = match answer.status {
        _ if ad => DnssecStatus::Secure,
        // A validating resolver answers SERVFAIL for bogus data (RFC 4035 §5.5).
        DnsStatus::Servfail => DnssecStatus::Indeterminate,
        s if s.is_failure() => DnssecStatus::Indeterminate,
        _ => DnssecStatus::Insecure,
    };
    lookup.detail = match (answer.status, ad) {
        (DnsStatus::Servfail, _) => Some(safe_text!(
            "{} answered SERVFAIL: a validating resolver does so for bogus DNSSEC data, \
             or when it cannot reach the zone's servers",
            addr
        )),
        (_, false) if !answer.status.is_failure() => Some(safe_text!(
            "{} did not set the AD bit: it did not validate the answer (an unsigned zone, \
             or a resolver that does not validate)",
            addr
        )),
        _ => answer.detail,
    };
}

/// Validate in mailport from `anchors`.
async fn validate(
    dns: &Dns,
    name: &Name,
    anchors: TrustAnchors,
    until: Instant,
    lookup: &mut TlsaLookup,
) {
    let resolver = match validating_resolver(dns, anchors) {
        Ok(r) => r,
        Err(e) => {
            lookup.detail = esc(e);
            return;
        }
    };
    let shown = display_name(name);
    match timeout_at(until, resolver.lookup(name.clone(), RecordType::TLSA)).await {
        Ok(Ok(found)) => {
            let records: Vec<&Record> = found
                .answers()
                .iter()
                .filter(|r| r.data.record_type() == RecordType::TLSA)
                .collect();
            lookup.status = if records.is_empty() {
                DnsStatus::NoData
            } else {
                DnsStatus::Found
            };
            lookup.dnssec = status_of_proofs(records.iter().map(|r| r.proof));
            let data: Vec<RData> = records.iter().map(|r| r.data.clone()).collect();
            set_records(lookup, &data);
        }
        Ok(Err(NetError::Dns(DnsError::DnssecBogus))) => {
            lookup.dnssec = DnssecStatus::Bogus;
            lookup.detail = esc(format!(
                "the TLSA answer for {shown} fails DNSSEC validation (bogus): a signature \
                 that does not verify, has expired, or is missing"
            ));
            // Shown as served, without validation.
            let plain: Answer = dns.query(name, RecordType::TLSA, until).await;
            lookup.status = plain.status;
            set_records(lookup, &plain.records);
        }
        Ok(Err(NetError::Dns(DnsError::Nsec {
            proof, response, ..
        }))) => {
            lookup.status = status_of_code(response.response_code);
            lookup.dnssec = status_of_proof(proof);
            lookup.detail = esc(format!("{shown} has no TLSA record"));
        }
        Ok(Err(NetError::Dns(DnsError::NoRecordsFound(nr)))) => {
            lookup.status = status_of_code(nr.response_code);
            let proofs = nr
                .authorities
                .iter()
                .flat_map(|a| a.iter().map(|r| r.proof))
                .chain(nr.soa.iter().map(|s| s.proof));
            lookup.dnssec = status_of_proofs(proofs);
            lookup.detail = esc(format!("{shown} has no TLSA record"));
        }
        Ok(Err(e)) => {
            lookup.status = status_of(&e);
            lookup.detail = esc(crate::escape::shown(&format!("TLSA {shown}: {e}")));
        }
        Err(_) => {
            lookup.status = DnsStatus::Timeout;
            lookup.detail = esc(format!("no validated answer for TLSA {shown} in time"));
        }
    }
}

/// The DNSSEC status of a set of records: secure only if each one is.
fn status_of_proofs(proofs: impl Iterator<Item = Proof>) -> DnssecStatus {
    let mut out: Option<DnssecStatus> = None;
    for p in proofs {
        let s = status_of_proof(p);
        out = Some(match (out, s) {
            (None, s) => s,
            (Some(DnssecStatus::Bogus), _) | (_, DnssecStatus::Bogus) => DnssecStatus::Bogus,
            (Some(DnssecStatus::Indeterminate), _) | (_, DnssecStatus::Indeterminate) => {
                DnssecStatus::Indeterminate
            }
            (Some(DnssecStatus::Insecure), _) | (_, DnssecStatus::Insecure) => {
                DnssecStatus::Insecure
            }
            _ => DnssecStatus::Secure,
        });
    }
    out.unwrap_or(DnssecStatus::Indeterminate)
}

fn status_of_proof(p: Proof) -> DnssecStatus {
    match p {
        Proof::Secure => DnssecStatus::Secure,
        Proof::Insecure => DnssecStatus::Insecure,
        Proof::Bogus => DnssecStatus::Bogus,
        _ => DnssecStatus::Indeterminate,
    }
}

/// The TLSA records of an answer into the report (data as hex, bounded).
fn set_records(lookup: &mut TlsaLookup, records: &[RData]) {
    lookup.records.clear();
    lookup.full_data_sha256.clear();
    let mut full = false;
    for r in records {
        let RData::TLSA(t) = r else { continue };
        let matching = u8::from(t.matching);
        let mut data = hex(&t.cert_data);
        data.truncate(MAX_DATA_HEX);
        lookup.full_data_sha256.push(if matching == 0 {
            full = true;
            hex(ring::digest::digest(&ring::digest::SHA256, &t.cert_data).as_ref())
        } else {
            String::new()
        });
        lookup.records.push(TlsaRecord {
            usage: u8::from(t.cert_usage),
            selector: u8::from(t.selector),
            matching,
            data,
        });
    }
    if !full {
        lookup.full_data_sha256.clear();
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A validating resolver asking the same servers as every other question.
fn validating_resolver(dns: &Dns, anchors: TrustAnchors) -> Result<TokioResolver, String> {
    let servers: Vec<SocketAddr> = match &dns.source {
        Source::Server { addr, .. } => vec![*addr],
        Source::System { servers, .. } => servers
            .iter()
            .map(|ip| SocketAddr::new(*ip, crate::plan::DEFAULT_DNS_PORT))
            .collect(),
        Source::Broken(e) => return Err(e.clone()),
    };
    if servers.is_empty() {
        return Err("no name server is configured in /etc/resolv.conf".into());
    }
    let name_servers = servers
        .iter()
        .map(|addr| {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
        })
        .collect();
    let config = ResolverConfig::from_parts(None, vec![], name_servers);
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_trust_anchor(Arc::new(anchors));
    let opts = builder.options_mut();
    opts.use_hosts_file = ResolveHosts::Never;
    opts.validate = true;
    opts.timeout = (dns.timeout() / 2).max(Duration::from_millis(100));
    opts.attempts = 2;
    builder
        .build()
        .map_err(|e| format!("cannot start the validating resolver: {e}"))
}

/// The keys of a --trust-anchor file; a DS record becomes the key of its
/// zone that it is the digest of (asked for now, without validation: the
/// digest is the proof).
async fn trust_anchors(
    dns: &Dns,
    anchors: &[Anchor],
    until: Instant,
) -> Result<TrustAnchors, String> {
    let mut keys = TrustAnchors::empty();
    for a in anchors {
        let zone: Name = match fqdn(&a.zone) {
            Ok(n) => n,
            Err(e) => return Err(e),
        };
        match &a.key {
            AnchorKey::Dnskey { algorithm, key, .. } => {
                let public = PublicKeyBuf::new(key.clone(), Algorithm::from_u8(*algorithm));
                keys.insert_with_name(&public, LowerName::from(zone));
            }
            AnchorKey::Ds {
                key_tag,
                digest_type,
                digest,
                ..
            } => {
                let answer = dns.query(&zone, RecordType::DNSKEY, until).await;
                let shown = display_name(&zone);
                if answer.status != DnsStatus::Found {
                    return Err(format!(
                        "the DS of --trust-anchor for {shown} needs the zone's DNSKEY records: {}",
                        answer
                            .detail
                            .unwrap_or_else(|| answer.status.as_str().into())
                    ));
                }
                let found = answer.records.iter().find_map(|r| match r {
                    RData::DNSSEC(DNSSECRData::DNSKEY(k))
                        if covers(k, &zone, *digest_type, digest) =>
                    {
                        Some(k.public_key().clone())
                    }
                    _ => None,
                });
                match found {
                    Some(public) => {
                        keys.insert_with_name(&public, LowerName::from(zone));
                    }
                    None => {
                        return Err(format!(
                            "the DS of --trust-anchor for {shown} (key tag {key_tag}) matches \
                             none of the zone's DNSKEY records: the zone is not signed with that key"
                        ))
                    }
                }
            }
        }
    }
    Ok(keys)
}

fn covers(key: &DNSKEY, zone: &Name, digest_type: u8, digest: &[u8]) -> bool {
    key.to_digest(zone, DigestType::from(digest_type))
        .is_ok_and(|d| d.as_ref() == digest)
}

/// A lookup's detail: words that may quote a server or the library, escaped.
fn esc(text: impl AsRef<str>) -> Option<crate::escape::SafeText> {
    Some(crate::escape::escape_str(text.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_secure_only_if_every_record_is() {
        use Proof::*;
        let s = |p: &[Proof]| status_of_proofs(p.iter().copied());
        assert_eq!(s(&[Secure, Secure]), DnssecStatus::Secure);
        assert_eq!(s(&[Secure, Insecure]), DnssecStatus::Insecure);
        assert_eq!(s(&[Insecure, Bogus]), DnssecStatus::Bogus);
        assert_eq!(s(&[Secure, Indeterminate]), DnssecStatus::Indeterminate);
        assert_eq!(s(&[]), DnssecStatus::Indeterminate);
    }
}
