//! DANE for SMTP (RFC 6698, 7671, 7672): the TLSA records of an MX host with
//! their DNSSEC status and who decided it, and what each address of the MX
//! presented on its SMTP port against them. The matching is a pure function
//! of the TLSA records and the probes' certificate digests (and, for
//! DANE-TA, the presented chain's signatures: `dane_chain`).

use super::{DnsStatus, Outcome, ProbeResult, TargetReport};
use crate::escape::SafeText;
use crate::service::Role;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The DNSSEC status of an answer (RFC 4033 §5, RFC 4035 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnssecStatus {
    /// A chain of signatures from a trust anchor proves the answer.
    Secure,
    /// The answer is provably outside any signed tree (an unsigned zone).
    Insecure,
    /// The signatures should be there and valid, and are not.
    Bogus,
    /// No proof either way (the DNSSEC records could not be obtained).
    Indeterminate,
}

impl DnssecStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DnssecStatus::Secure => "secure",
            DnssecStatus::Insecure => "insecure",
            DnssecStatus::Bogus => "bogus",
            DnssecStatus::Indeterminate => "indeterminate",
        }
    }
}

/// Who decided the DNSSEC status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validator {
    /// mailport validated the signatures, from the root's key (built in).
    RootAnchor,
    /// mailport validated the signatures, from the keys of --trust-anchor.
    TrustAnchor,
    /// The AD bit of a validating resolver (--dns-server with --trust-ad).
    AdBit,
}

/// The DNSSEC verdict's source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatedBy {
    pub validator: Validator,
    /// The --trust-anchor file, or the resolver whose AD bit counted;
    /// absent for the root's key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<SafeText>,
}

impl ValidatedBy {
    /// In words: "validated by mailport with the root anchor".
    pub fn words(&self) -> String {
        let source = self.source.as_deref().unwrap_or("?");
        match self.validator {
            Validator::RootAnchor => "validated by mailport with the root anchor".into(),
            Validator::TrustAnchor => format!("validated by mailport with --trust-anchor {source}"),
            Validator::AdBit => format!("AD bit from {source}"),
        }
    }
}

/// One TLSA record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsaRecord {
    /// 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    pub usage: u8,
    /// 0 the whole certificate, 1 its public key (SubjectPublicKeyInfo).
    pub selector: u8,
    /// 0 the data itself, 1 its SHA-256, 2 its SHA-512.
    pub matching: u8,
    /// The association data, lower-case hex (cut at 1024 digits).
    pub data: String,
}

impl TlsaRecord {
    /// Usable for SMTP (RFC 7672 §3.1.3: only DANE-TA and DANE-EE, with a
    /// known selector and matching type).
    pub fn usable(&self) -> bool {
        matches!(self.usage, 2 | 3) && self.selector <= 1 && self.matching <= 2
    }

    /// As a zone file writes it: `3 1 1 <hex>`.
    pub fn text(&self) -> String {
        format!(
            "{} {} {} {}",
            self.usage, self.selector, self.matching, self.data
        )
    }

    /// Does this record name `cert`?
    fn names(&self, cert: &CertDigests) -> bool {
        let (sha256, sha512) = match self.selector {
            0 => (&cert.sha256, &cert.sha512),
            _ => (&cert.spki_sha256, &cert.spki_sha512),
        };
        match self.matching {
            // The full data, compared through its SHA-256 (kept by the lookup).
            0 => false,
            1 => self.data.eq_ignore_ascii_case(sha256),
            _ => self.data.eq_ignore_ascii_case(sha512),
        }
    }
}

/// The digests of one presented certificate, for DANE (lower-case hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertDigests {
    pub sha256: String,
    pub sha512: String,
    /// Of its SubjectPublicKeyInfo: what `3 1 1` and `2 1 1` records hold.
    pub spki_sha256: String,
    pub spki_sha512: String,
}

/// The TLSA records of `_25._tcp.MX`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsaLookup {
    /// The name asked: `_25._tcp.mx.example.org`.
    pub name: String,
    pub status: DnsStatus,
    pub dnssec: DnssecStatus,
    pub validated_by: ValidatedBy,
    pub records: Vec<TlsaRecord>,
    /// For records of matching type 0 (the full data), the SHA-256 of their
    /// data, in the order of `records` (empty strings for the others).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub full_data_sha256: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<SafeText>,
    pub ms: u64,
}

impl TlsaLookup {
    /// DANE is in force for this MX: usable records, DNSSEC-secure (RFC 7672 §2.2).
    pub fn in_force(&self) -> bool {
        self.dnssec == DnssecStatus::Secure && self.records.iter().any(TlsaRecord::usable)
    }

    fn record_names(&self, i: usize, cert: &CertDigests) -> bool {
        let r = &self.records[i];
        if r.matching == 0 {
            let Some(digest) = self.full_data_sha256.get(i) else {
                return false;
            };
            let own = if r.selector == 0 {
                &cert.sha256
            } else {
                &cert.spki_sha256
            };
            return !digest.is_empty() && digest.eq_ignore_ascii_case(own);
        }
        r.names(cert)
    }
}

/// What one address presented, against the TLSA records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaneResult {
    /// A usable record matches the presented chain.
    Match,
    /// No usable record matches the presented chain.
    Mismatch,
    /// No certificate to match: STARTTLS missing or the handshake failed.
    NoCertificate,
    /// The port was not reached (or not probed): nothing to say.
    NotChecked,
}

impl DaneResult {
    pub fn as_str(self) -> &'static str {
        match self {
            DaneResult::Match => "match",
            DaneResult::Mismatch => "mismatch",
            DaneResult::NoCertificate => "no_certificate",
            DaneResult::NotChecked => "not_checked",
        }
    }
}

/// One address of the MX on its SMTP port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaneAddress {
    pub address: IpAddr,
    pub port: u16,
    pub result: DaneResult,
    /// The records (indexes into the lookup's `records`) that match.
    pub matching: Vec<usize>,
    /// How many usable records match nothing presented (a key published
    /// ahead of a rollover, or a stale one).
    pub not_matching: usize,
    /// The presented leaf's `3 1 1` data (SHA-256 of its public key).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub leaf_spki_sha256: Option<String>,
    /// Why a DANE-TA record that names a certificate of the chain does not
    /// count (the leaf does not chain to it by signatures, the leaf does not
    /// name the MX).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
}

/// DANE for a mail domain: each MX host's TLSA records, and how the
/// addresses of the MX host matched them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dane {
    pub mx: Vec<DaneMx>,
}

impl Dane {
    /// Some MX host publishes TLSA records.
    pub fn published(&self) -> bool {
        self.mx.iter().any(|m| m.tlsa.status == DnsStatus::Found)
    }

    /// Match the chains the MX hosts' SMTP relay probes saw against their
    /// TLSA records (the hosts' reports, once probed).
    pub fn match_hosts<'a>(&mut self, hosts: impl Iterator<Item = &'a TargetReport>) {
        let hosts: Vec<&TargetReport> = hosts.collect();
        for m in &mut self.mx {
            if let Some(t) = hosts.iter().find(|t| t.host == m.host) {
                m.match_probes(&t.probes);
            }
        }
    }
}

impl super::DomainPolicy {
    /// Match each MX address's chain against its host's TLSA records, once
    /// the MX hosts (`hosts`) are probed.
    pub fn match_dane(&mut self, hosts: &[TargetReport]) {
        if let Some(dane) = self.dane.as_mut() {
            dane.match_hosts(hosts.iter());
        }
    }

    /// [`Self::match_dane`], by value.
    pub fn dane_matched(mut self, hosts: &[TargetReport]) -> Self {
        self.match_dane(hosts);
        self
    }
}

/// DANE for one MX host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaneMx {
    /// The MX host.
    pub host: String,
    pub tlsa: TlsaLookup,
    /// Each address's SMTP probe against the records (only when they are usable).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub addresses: Vec<DaneAddress>,
}

impl DaneMx {
    /// Match the presented chains of the host's SMTP relay probes.
    pub fn match_probes(&mut self, probes: &[ProbeResult]) {
        let mut addresses = Vec::new();
        if self.tlsa.records.iter().any(TlsaRecord::usable) {
            for p in probes.iter().filter(|p| p.role() == Some(Role::Relay)) {
                if let Some(address) = p.address {
                    addresses.push(judge(&self.tlsa, &self.host, address, p));
                }
            }
        }
        addresses.sort_by_key(|a| (a.address, a.port));
        self.addresses = addresses;
    }
}

fn judge(tlsa: &TlsaLookup, host: &str, address: IpAddr, p: &ProbeResult) -> DaneAddress {
    let usable: Vec<usize> = (0..tlsa.records.len())
        .filter(|&i| tlsa.records[i].usable())
        .collect();
    let mut out = DaneAddress {
        address,
        port: p.port,
        result: DaneResult::NotChecked,
        matching: Vec::new(),
        not_matching: 0,
        leaf_spki_sha256: None,
        detail: None,
    };
    let tls = match &p.tls {
        Some(tls) if !tls.digests.is_empty() => tls,
        _ => {
            // The server answered but no handshake came to be: nothing a
            // DANE sender could accept.
            if matches!(
                p.outcome,
                Outcome::Ok | Outcome::StarttlsUnavailable | Outcome::TlsFailed
            ) {
                out.result = DaneResult::NoCertificate;
            }
            return out;
        }
    };
    let chain = &tls.digests;
    out.leaf_spki_sha256 = Some(chain[0].spki_sha256.clone());
    for &i in &usable {
        let r = &tlsa.records[i];
        let hit = if r.usage == 3 {
            // DANE-EE: the leaf's key or certificate; no name, no dates (RFC 7672 §3.1.1).
            tlsa.record_names(i, &chain[0])
        } else {
            // DANE-TA: a certificate above the leaf, the leaf chaining to it
            // by signatures, and the leaf naming the MX host (RFC 7672
            // §3.1.2, §3.2.2).
            let mut why = None;
            let hit = (1..chain.len())
                .filter(|&k| tlsa.record_names(i, &chain[k]))
                .any(|k| match ta_problem(tls, k, r.selector, host) {
                    None => true,
                    Some(w) => {
                        why = Some(w);
                        false
                    }
                });
            if !hit && why.is_some() {
                out.detail = why;
            }
            hit
        };
        if hit {
            out.matching.push(i);
        } else {
            out.not_matching += 1;
        }
    }
    out.result = if out.matching.is_empty() {
        DaneResult::Mismatch
    } else {
        DaneResult::Match
    };
    out
}

/// Why the certificate at `k` does not count as the trust anchor, if it
/// does not: the leaf must chain to it by signatures (see `dane_chain`)
/// and name the MX host.
fn ta_problem(tls: &super::TlsFacts, k: usize, selector: u8, host: &str) -> Option<String> {
    let Some(presented) = tls.presented.as_ref() else {
        return Some("the chain's certificates were not kept".into());
    };
    if let Err(why) = presented.leads_to(k, selector) {
        return Some(format!(
            "the leaf does not chain by signatures to the DANE-TA certificate (certificate {}): {why}",
            k + 1
        ));
    }
    let Some(leaf) = tls.chain.first() else {
        return Some("the leaf's facts were not kept".into());
    };
    let names: Vec<&str> = leaf
        .sans
        .iter()
        .filter_map(|s| s.strip_prefix("DNS:"))
        .collect();
    if names.iter().any(|n| name_matches(n, host)) {
        None
    } else {
        Some(format!(
            "the leaf certificate does not name {host} (DANE-TA requires the MX host name, RFC 7672 §3.2.2)"
        ))
    }
}

/// A certificate's DNS name (maybe `*.` on the left) against a host name.
fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CertFacts, CertVerdict, TlsFacts};

    fn cert(subject: &str, issuer: &str, sans: &[&str]) -> CertFacts {
        CertFacts {
            subject: subject.to_string().into(),
            issuer: issuer.to_string().into(),
            serial: String::new(),
            sans: sans.iter().map(|s| format!("DNS:{s}").into()).collect(),
            not_before: String::new(),
            not_after: String::new(),
            days_left: 0,
            lifetime_days: 0,
            key_type: String::new(),
            key_bits: 0,
            signature_algorithm: String::new(),
            self_issued: false,
            is_ca: false,
            serial_negative: false,
        }
    }

    /// Digests named after the certificate: `leaf-spki256`, `ca-cert512`...
    fn digests(name: &str) -> CertDigests {
        CertDigests {
            sha256: format!("{name}-cert256"),
            sha512: format!("{name}-cert512"),
            spki_sha256: format!("{name}-spki256"),
            spki_sha512: format!("{name}-spki512"),
        }
    }

    /// A real chain for `sans`: a leaf and a CA named CN=ca, the one that
    /// signed the leaf or (`impostor`) another key of the same name.
    fn presented(sans: &[&str], impostor: bool) -> crate::report::PresentedChain {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca = || {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name.push(rcgen::DnType::CommonName, "ca");
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let key = KeyPair::generate().unwrap();
            let der = p.self_signed(&key).unwrap().der().clone();
            (der, Issuer::new(p, key))
        };
        let (signer, issuer) = ca();
        let names: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap()
            .der()
            .clone();
        let top = if impostor { ca().0 } else { signer };
        crate::report::PresentedChain {
            certs: vec![leaf, top],
            at: time::OffsetDateTime::now_utc().unix_timestamp(),
        }
    }

    /// An SMTP probe that saw leaf (for `sans`, issued by CN=ca) + ca; a
    /// `ca_subject` other than CN=ca: that CA is another key than the
    /// leaf's issuer (its DER says CN=ca all the same).
    fn probe(sans: &[&str], ca_subject: &str) -> ProbeResult {
        let smtp = crate::service::by_name("smtp").unwrap();
        let mut p = ProbeResult::new(smtp, 25, Some("192.0.2.25".parse().unwrap()));
        p.tls = Some(TlsFacts {
            version: "TLSv1.3".into(),
            cipher_suite: String::new(),
            alpn: None,
            chain: vec![
                cert("CN=leaf", "CN=ca", sans),
                cert(ca_subject, "CN=root", &[]),
            ],
            verdict: CertVerdict::Valid,
            verdict_detail: None,
            verified_name: "mx.example.org".into(),
            chain_sent: None,
            digests: vec![digests("leaf"), digests("ca")],
            presented: Some(presented(sans, ca_subject != "CN=ca")),
        });
        p
    }

    fn mx(records: &[(u8, u8, u8, &str)]) -> DaneMx {
        DaneMx {
            host: "mx.example.org".into(),
            tlsa: TlsaLookup {
                name: "_25._tcp.mx.example.org".into(),
                status: DnsStatus::Found,
                dnssec: DnssecStatus::Secure,
                validated_by: ValidatedBy {
                    validator: Validator::RootAnchor,
                    source: None,
                },
                records: records
                    .iter()
                    .map(|&(usage, selector, matching, data)| TlsaRecord {
                        usage,
                        selector,
                        matching,
                        data: data.into(),
                    })
                    .collect(),
                full_data_sha256: Vec::new(),
                detail: None,
                ms: 0,
            },
            addresses: Vec::new(),
        }
    }

    fn judged(records: &[(u8, u8, u8, &str)], p: ProbeResult) -> DaneAddress {
        let mut m = mx(records);
        m.match_probes(&[p]);
        m.addresses.remove(0)
    }

    #[test]
    fn dane_ee_names_the_leaf_by_key_or_certificate_and_sha_256_or_512() {
        let p = || probe(&["other.example.net"], "CN=ca");
        // DANE-EE: no name check, so a leaf for another name matches.
        for r in [
            (3, 1, 1, "leaf-spki256"),
            (3, 0, 2, "leaf-cert512"),
            (3, 1, 2, "LEAF-SPKI512"),
        ] {
            let a = judged(&[r], p());
            assert_eq!(a.result, DaneResult::Match, "{r:?}");
        }
        let a = judged(&[(3, 1, 1, "ca-spki256"), (3, 1, 1, "leaf-spki256")], p());
        assert_eq!((a.matching.clone(), a.not_matching), (vec![1], 1));
        assert_eq!(a.leaf_spki_sha256.as_deref(), Some("leaf-spki256"));
    }

    #[test]
    fn full_data_records_are_compared_through_their_digest() {
        let mut m = mx(&[(3, 1, 0, "3059301306..."), (3, 0, 0, "3082...")]);
        m.tlsa.full_data_sha256 = vec!["leaf-spki256".into(), "nothing".into()];
        m.match_probes(&[probe(&[], "CN=ca")]);
        assert_eq!(m.addresses[0].matching, vec![0]);
        assert_eq!(m.addresses[0].not_matching, 1);
    }

    #[test]
    fn dane_ta_needs_a_certificate_above_the_leaf_signatures_to_it_and_the_mx_name() {
        let ok = judged(
            &[(2, 0, 1, "ca-cert256")],
            probe(&["mx.example.org"], "CN=ca"),
        );
        assert_eq!(ok.result, DaneResult::Match);
        let wild = judged(
            &[(2, 1, 1, "ca-spki256")],
            probe(&["*.example.org"], "CN=ca"),
        );
        assert_eq!(wild.result, DaneResult::Match);
        // The leaf itself is no trust anchor.
        let leaf = judged(
            &[(2, 0, 1, "leaf-cert256")],
            probe(&["mx.example.org"], "CN=ca"),
        );
        assert_eq!(leaf.result, DaneResult::Mismatch);
        let name = judged(
            &[(2, 0, 1, "ca-cert256")],
            probe(&["mx2.example.org"], "CN=ca"),
        );
        assert_eq!(name.result, DaneResult::Mismatch);
        assert!(name
            .detail
            .unwrap()
            .contains("does not name mx.example.org"));
        let chain = judged(
            &[(2, 0, 1, "ca-cert256")],
            probe(&["mx.example.org"], "CN=other"),
        );
        assert_eq!(chain.result, DaneResult::Mismatch);
        let detail = chain.detail.unwrap();
        assert!(
            detail.contains(
                "does not chain by signatures to the DANE-TA certificate (certificate 2)"
            ),
            "{detail}"
        );
        assert!(detail.contains("signature does not verify"), "{detail}");
        // The chain's DER not kept: no DANE-TA match on names alone.
        let mut p = probe(&["mx.example.org"], "CN=ca");
        p.tls.as_mut().unwrap().presented = None;
        let lost = judged(&[(2, 0, 1, "ca-cert256")], p);
        assert_eq!(lost.result, DaneResult::Mismatch);
        assert!(lost.detail.unwrap().contains("not kept"));
    }

    #[test]
    fn an_answer_without_tls_has_no_certificate_and_no_answer_is_not_checked() {
        let mut p = probe(&[], "CN=ca");
        p.tls = None;
        p.outcome = Outcome::StarttlsUnavailable;
        assert_eq!(
            judged(&[(3, 1, 1, "x")], p.clone()).result,
            DaneResult::NoCertificate
        );
        p.outcome = Outcome::ConnectTimeout;
        assert_eq!(judged(&[(3, 1, 1, "x")], p).result, DaneResult::NotChecked);
        // Unusable records only: nothing is matched.
        let mut m = mx(&[(1, 1, 1, "leaf-spki256")]);
        m.match_probes(&[probe(&[], "CN=ca")]);
        assert!(m.addresses.is_empty());
    }

    #[test]
    fn names_match_with_a_left_wildcard_only() {
        assert!(name_matches("mx.example.org", "MX.example.org."));
        assert!(name_matches("*.example.org", "mx.example.org"));
        assert!(!name_matches("*.example.org", "a.mx.example.org"));
        assert!(!name_matches("*.example.org", "example.org"));
        assert!(!name_matches("mx.example.org", "mx2.example.org"));
    }

    #[test]
    fn only_dane_ta_and_ee_records_are_usable_for_smtp() {
        let r = |usage, selector, matching| TlsaRecord {
            usage,
            selector,
            matching,
            data: String::new(),
        };
        assert!(r(3, 1, 1).usable());
        assert!(r(2, 0, 2).usable());
        assert!(!r(1, 1, 1).usable(), "PKIX-EE is unusable for SMTP");
        assert!(!r(0, 0, 1).usable(), "PKIX-TA is unusable for SMTP");
        assert!(!r(3, 2, 1).usable());
        assert!(!r(3, 1, 3).usable());
    }
}
