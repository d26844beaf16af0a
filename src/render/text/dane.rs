//! The text view of a mail domain's DANE facts, rows under its promises:
//! each MX host's TLSA records, their DNSSEC status and who decided it, and
//! each address against them.

use crate::report::{Dane, DaneMx, DaneResult, DnsStatus, DnssecStatus};

/// Most hex digits of a record's data shown (the JSON has them all).
const DATA_SHOWN: usize = 16;

/// The rows, as (label, words): "DANE" on each MX host's first row.
pub(super) fn rows(d: &Dane) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for m in &d.mx {
        mx_rows(m, &mut out);
    }
    out
}

fn mx_rows(m: &DaneMx, out: &mut Vec<(&'static str, String)>) {
    let tlsa = &m.tlsa;
    let status = match tlsa.status {
        DnsStatus::Found => format!(
            "{} record{}",
            tlsa.records.len(),
            if tlsa.records.len() == 1 { "" } else { "s" }
        ),
        DnsStatus::NoData | DnsStatus::Nxdomain => "none".into(),
        s => format!("lookup {}", s.as_str()),
    };
    let dnssec = match tlsa.dnssec {
        DnssecStatus::Secure => "DNSSEC secure",
        DnssecStatus::Insecure if tlsa.status == DnsStatus::Found => "DNSSEC insecure: not usable",
        DnssecStatus::Insecure => "DNSSEC insecure",
        DnssecStatus::Bogus => "DNSSEC bogus",
        DnssecStatus::Indeterminate => "DNSSEC indeterminate",
    };
    out.push((
        "DANE",
        format!(
            "MX {}: {} TLSA {status}, {dnssec} ({})",
            m.host,
            tlsa.name,
            tlsa.validated_by.words()
        ),
    ));
    for r in &tlsa.records {
        let data = if r.data.len() > DATA_SHOWN {
            format!("{}…", &r.data[..DATA_SHOWN])
        } else {
            r.data.clone()
        };
        let usable = if r.usable() {
            ""
        } else if r.usage <= 1 {
            " (PKIX usage: unusable for SMTP)"
        } else {
            " (unusable)"
        };
        out.push((
            "",
            format!("{} {} {} {data}{usable}", r.usage, r.selector, r.matching),
        ));
    }
    for a in &m.addresses {
        let words = match a.result {
            DaneResult::Match => format!(
                "matches {} record{}",
                a.matching.len(),
                if a.matching.len() == 1 { "" } else { "s" }
            ),
            DaneResult::Mismatch => "MATCHES NO RECORD".into(),
            DaneResult::NoCertificate => "no TLS: nothing to match".into(),
            DaneResult::NotChecked => "not reached".into(),
        };
        let others = if a.not_matching > 0 && a.result != DaneResult::NoCertificate {
            format!(
                "; {} match{} nothing presented (a next key?)",
                a.not_matching,
                if a.not_matching == 1 { "es" } else { "" }
            )
        } else {
            String::new()
        };
        out.push((
            "",
            format!("{} port {}: {words}{others}", a.address, a.port),
        ));
    }
}
