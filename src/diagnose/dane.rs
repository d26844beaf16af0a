//! DANE (RFC 7672) rules over each MX host's TLSA lookup and what each of
//! its addresses presented: a finding per failing address (naming the MX,
//! the address and the records, with the exact record to publish for the
//! key seen), and one per MX for records that cannot be used. The findings
//! are about the MX host (they go with it).

use crate::codes::Code;
use crate::report::{
    Dane, DaneAddress, DaneMx, DaneResult, DnsStatus, DnssecStatus, Finding, ProbeResult,
    TargetReport, TlsaLookup, TlsaRecord,
};
use crate::service::Role;

/// The DANE findings of a mail domain's MX hosts (`hosts`: their reports).
pub fn dane_findings(dane: &Dane, hosts: &[TargetReport], out: &mut Vec<Finding>) {
    for m in &dane.mx {
        let probes = hosts
            .iter()
            .find(|t| t.host == m.host)
            .map(|t| t.probes.as_slice())
            .unwrap_or_default();
        mx_findings(m, probes, out);
    }
}

/// A finding about MX host `host`, on its relay probe `p` if there is one.
fn finding(host: &str, p: Option<&ProbeResult>, code: Code, message: String) -> Finding {
    Finding::new(code, host, crate::escape::escape_str(&message))
        .on(p.map(|p| p.service.clone()), p.map(|p| p.port))
        .at(p.and_then(|p| p.address))
}

/// The findings of one MX host.
fn mx_findings(dane: &DaneMx, probes: &[ProbeResult], out: &mut Vec<Finding>) {
    let host = dane.host.as_str();
    let tlsa = &dane.tlsa;
    let by = tlsa.validated_by.words();
    let name = &tlsa.name;
    let records = records_text(&tlsa.records);
    let detail = tlsa
        .detail
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    // A bogus denial (no TLSA record, its proof broken) is left alone: nothing
    // is published that senders could use, and a resolver that strips the
    // DNSSEC records makes every denial look so.
    if tlsa.dnssec == DnssecStatus::Bogus && tlsa.status == DnsStatus::Found {
        let shown = if tlsa.records.is_empty() {
            String::new()
        } else {
            format!(" (as served: {records})")
        };
        out.push(finding(
            host,
            None,
            Code::DaneTlsaBogus,
            format!(
                "the TLSA records at {name} are bogus ({by}){detail}{shown}; senders that do \
                 DANE defer mail to {host}"
            ),
        ));
        return;
    }
    match tlsa.status {
        DnsStatus::Found => {}
        DnsStatus::NoData | DnsStatus::Nxdomain => return,
        _ => {
            out.push(finding(
                host,
                None,
                Code::DaneTlsaLookupFailed,
                format!(
                    "the TLSA lookup of {name} failed ({}, {by}){detail}",
                    tlsa.status.as_str()
                ),
            ));
            return;
        }
    }
    if tlsa.dnssec != DnssecStatus::Secure {
        let code = if tlsa.dnssec == DnssecStatus::Insecure {
            Code::DaneTlsaInsecure
        } else {
            Code::DaneTlsaLookupFailed
        };
        out.push(finding(
            host,
            None,
            code,
            format!(
                "{name} has TLSA records ({records}) but they are {} ({by}): not usable for \
                 DANE, and no proof that the certificate is the right one",
                tlsa.dnssec.as_str()
            ),
        ));
        return;
    }
    if !tlsa.records.iter().any(TlsaRecord::usable) {
        let mut f = finding(
            host,
            None,
            Code::DaneTlsaUnusable,
            format!(
                "none of the TLSA records at {name} ({records}) is usable for SMTP: usages 0 \
                 (PKIX-TA) and 1 (PKIX-EE) are not used for SMTP (RFC 7672 section 3.1.3)"
            ),
        );
        if let Some(spki) = relay_leaf_spki(probes) {
            f.hint = format!("{} Publish: {}", f.hint, record_line(host, &spki));
        }
        out.push(f);
        return;
    }
    for a in &dane.addresses {
        let probe = relay_probe(probes, a);
        match a.result {
            DaneResult::Mismatch => out.push(mismatch(host, tlsa, a, probe, &by)),
            DaneResult::NoCertificate => out.push(finding(
                host,
                probe,
                Code::DaneNoTls,
                format!(
                    "{} of MX {host} offers no TLS on port {} ({}), but {name} publishes \
                     DNSSEC-secure TLSA records ({records})",
                    a.address,
                    a.port,
                    probe
                        .and_then(|p| p.detail.as_deref())
                        .unwrap_or("no certificate presented")
                ),
            )),
            DaneResult::Match | DaneResult::NotChecked => {}
        }
    }
}

fn mismatch(
    host: &str,
    tlsa: &TlsaLookup,
    a: &DaneAddress,
    probe: Option<&ProbeResult>,
    by: &str,
) -> Finding {
    let usable: Vec<&TlsaRecord> = tlsa.records.iter().filter(|r| r.usable()).collect();
    let why = a
        .detail
        .as_deref()
        .map(|d| format!("; {d}"))
        .unwrap_or_default();
    let mut f = finding(
        host,
        probe,
        Code::DaneTlsaMismatch,
        format!(
            "{} of MX {host} presents on port {} a certificate that matches none of the {} usable \
             TLSA records at {} ({}, {by}){why}; {} record(s) match no presented certificate: \
             if they are for a next key published ahead of a rollover, the record for the key \
             in use is missing",
            a.address,
            a.port,
            usable.len(),
            tlsa.name,
            records_text(&tlsa.records),
            a.not_matching,
        ),
    );
    if let Some(spki) = &a.leaf_spki_sha256 {
        f.hint = format!(
            "Publish, for the key {} presents: {} (keep the next key's record beside it). {}",
            a.address,
            record_line(host, spki),
            f.hint
        );
    }
    f
}

/// The record to publish for a key: `_25._tcp.mx.example. IN TLSA 3 1 1 <hex>`.
fn record_line(host: &str, spki_sha256: &str) -> String {
    format!(
        "_25._tcp.{}. IN TLSA 3 1 1 {spki_sha256}",
        host.trim_end_matches('.')
    )
}

/// The records in short: `3 1 1 7e7346…b0a6, 2 0 1 ab12…`.
fn records_text(records: &[TlsaRecord]) -> String {
    records
        .iter()
        .map(|r| {
            let data = if r.data.len() > 16 {
                format!("{}…{}", &r.data[..8], &r.data[r.data.len() - 4..])
            } else {
                r.data.clone()
            };
            format!("{} {} {} {data}", r.usage, r.selector, r.matching)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The SMTP relay probe of an address.
fn relay_probe<'a>(probes: &'a [ProbeResult], a: &DaneAddress) -> Option<&'a ProbeResult> {
    probes
        .iter()
        .find(|p| p.role() == Some(Role::Relay) && p.address == Some(a.address) && p.port == a.port)
}

/// The leaf key any address presented on the relay port, if one did.
fn relay_leaf_spki(probes: &[ProbeResult]) -> Option<String> {
    probes
        .iter()
        .filter(|p| p.role() == Some(Role::Relay))
        .find_map(|p| p.tls.as_ref()?.digests.first())
        .map(|d| d.spki_sha256.clone())
}
