//! The verdict on a certificate chain that the verifier refused, in words:
//! which certificate, which date, which name, which issuer.

use super::Trust;
use crate::report::CertVerdict;
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, Error as TlsError};

pub(super) fn verdict_of(
    err: &TlsError,
    der: &[CertificateDer<'static>],
    chain: &[crate::report::CertFacts],
    trust: &Trust,
    name: &str,
) -> (CertVerdict, String) {
    let leaf = &chain[0];
    // Which certificate of the chain a date belongs to: the leaf, or one above it.
    let which = |date: &str| match chain
        .iter()
        .position(|c| c.not_after == date || c.not_before == date)
    {
        Some(0) | None => "the certificate".to_string(),
        Some(i) => format!("the chain's certificate {} ({})", i, chain[i].subject),
    };
    let days = |secs: i64| match secs.div_euclid(86_400) {
        0 => "less than a day".to_string(),
        1 => "1 day".to_string(),
        d => format!("{d} days"),
    };
    match err {
        TlsError::InvalidCertificate(ce) => match ce {
            CertificateError::ExpiredContext { time, not_after } => {
                let date = crate::cert::rfc3339(not_after.as_secs() as i64);
                let ago = time.as_secs() as i64 - not_after.as_secs() as i64;
                (
                    CertVerdict::Expired,
                    format!("{} expired on {date} ({} ago)", which(&date), days(ago)),
                )
            }
            CertificateError::Expired => (
                CertVerdict::Expired,
                "a certificate of the chain has expired".to_string(),
            ),
            CertificateError::NotValidYetContext { time, not_before } => {
                let date = crate::cert::rfc3339(not_before.as_secs() as i64);
                let until = not_before.as_secs() as i64 - time.as_secs() as i64;
                (
                    CertVerdict::NotYetValid,
                    format!("{} is not valid before {date} (in {})", which(&date), days(until)),
                )
            }
            CertificateError::NotValidYet => (
                CertVerdict::NotYetValid,
                "a certificate of the chain is not valid yet".to_string(),
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                (
                    CertVerdict::NameMismatch,
                    format!(
                        "the certificate is not valid for {name}; it names {}",
                        if leaf.sans.is_empty() {
                            format!("only the subject {}", leaf.subject)
                        } else {
                            leaf.sans.join(", ")
                        }
                    ),
                )
            }
            CertificateError::UnknownIssuer => unknown_issuer(der, chain, trust),
            // webpki's CaUsedAsEndEntity reaches us only inside Other(..): a
            // certificate with CA:TRUE presented as the server's own, which is
            // what `openssl req -x509` makes by default.
            CertificateError::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => (
                if leaf.self_issued {
                    CertVerdict::SelfSigned
                } else {
                    CertVerdict::Invalid
                },
                format!(
                    "the server's certificate ({}) is a CA certificate (basic constraints CA:TRUE), which cannot serve as a server certificate even when trusted; make one without CA:TRUE",
                    leaf.subject
                ),
            ),
            CertificateError::BadSignature => (
                CertVerdict::Invalid,
                "a signature in the chain does not verify".to_string(),
            ),
            CertificateError::BadEncoding => (
                CertVerdict::Invalid,
                "a certificate of the chain is malformed".to_string(),
            ),
            CertificateError::Revoked => (
                CertVerdict::Invalid,
                "a certificate of the chain is revoked".to_string(),
            ),
            CertificateError::UnhandledCriticalExtension => (
                CertVerdict::Invalid,
                "a certificate of the chain has a critical extension no client understands"
                    .to_string(),
            ),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => (
                CertVerdict::Invalid,
                "the certificate is not meant for TLS servers (its extended key usage lacks serverAuth)"
                    .to_string(),
            ),
            other => (
                CertVerdict::Invalid,
                format!("the certificate was refused: {other:?}"),
            ),
        },
        other => (
            CertVerdict::Invalid,
            format!("the certificate was refused: {other}"),
        ),
    }
}

fn unknown_issuer(
    der: &[CertificateDer<'static>],
    chain: &[crate::report::CertFacts],
    trust: &Trust,
) -> (CertVerdict, String) {
    let top_facts = &chain[chain.len() - 1];
    let top = crate::cert::names_der(der[der.len() - 1].as_ref());
    match top {
        Some((subject, issuer)) if subject == issuer && chain.len() == 1 => (
            CertVerdict::SelfSigned,
            format!(
                "the certificate is self-signed ({}) and not in the trust store",
                top_facts.subject
            ),
        ),
        Some((subject, issuer)) if subject == issuer => (
            CertVerdict::Untrusted,
            format!(
                "the chain ends at the root {}, which is not in the trust store (native roots plus --ca-file)",
                top_facts.subject
            ),
        ),
        // A complete chain up to a CA whose root is simply not trusted here
        // (servers rightly leave the root out): untrusted, not incomplete.
        Some((_, issuer)) if chain.len() > 1 && top_facts.is_ca && !trust.anchor_subjects.contains(&issuer) => (
            CertVerdict::Untrusted,
            format!(
                "the chain ends at {}, issued by {}, a root that is not in the trust store (native roots plus --ca-file)",
                top_facts.subject, top_facts.issuer
            ),
        ),
        // The issuer is neither sent nor trusted. A certificate from a public
        // CA says where its issuer can be fetched (AIA caIssuers): then an
        // intermediate is missing. Without that, a private CA looks the same.
        Some((_, issuer)) if !trust.anchor_subjects.contains(&issuer) => {
            match crate::cert::ca_issuers_url(der[der.len() - 1].as_ref()) {
                Some(url) => (
                    CertVerdict::IncompleteChain,
                    format!(
                        "the server did not send the certificate of the issuer {}, which is not a trusted root; the certificate says it can be fetched from {url}: an intermediate certificate is missing from the chain the server sends",
                        top_facts.issuer
                    ),
                ),
                None => (
                    CertVerdict::UnknownIssuer,
                    format!(
                        "the issuer {} is not in your trust store and the server did not send it: either the chain is incomplete or the CA is private (then pass it with --ca-file)",
                        top_facts.issuer
                    ),
                ),
            }
        }
        _ => (
            CertVerdict::Untrusted,
            format!(
                "no chain to a trusted root could be built from the certificates sent (issuer {})",
                top_facts.issuer
            ),
        ),
    }
}
