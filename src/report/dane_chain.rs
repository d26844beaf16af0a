//! DANE-TA by signatures (RFC 7671 §5.2.2, RFC 7672 §3.1.2): does the
//! presented leaf chain, through the presented intermediates, to the
//! certificate a DANE-TA record names (selector 0), or to its public key
//! (selector 1)? webpki's path building with that one trust anchor, at the
//! moment the chain was judged (the handshake's, or --at).
//!
//! Dates: RFC 7671 §5.2.2 leaves them to local policy for DANE-TA. Postfix
//! verifies a DANE-TA chain with OpenSSL's DANE support, which checks the
//! dates of every certificate of the chain, the presented trust anchor
//! certificate's too (only a bare key, never presented, has none); so does
//! this: webpki checks the leaf's and the intermediates', and the trust
//! anchor certificate's are checked here. The name is not checked here:
//! the caller checks the MX name (RFC 7672 §3.2.2).

use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};
use std::time::Duration;

/// The chain as the server sent it (DER, leaf first), kept on the SMTP
/// relay port for DANE-TA, and the moment it was judged at. Bounded: at
/// most the chain the TLS facts keep (16 certificates), all of them within
/// one TLS handshake message (rustls takes at most 64 KiB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedChain {
    pub certs: Vec<CertificateDer<'static>>,
    /// UNIX seconds: the handshake's moment, or --at.
    pub at: i64,
}

impl PresentedChain {
    /// About how many bytes it holds (for the probe cache's weight).
    pub fn weight(&self) -> usize {
        32 + self.certs.iter().map(|c| c.len() + 24).sum::<usize>()
    }

    /// Does the leaf chain by valid signatures, through the other presented
    /// certificates, to the certificate at `k` as the trust anchor (selector
    /// 0: the certificate, with its name constraints) or to its public key
    /// under its subject name (selector 1)? Why not, in words, if not.
    pub fn leads_to(&self, k: usize, selector: u8) -> Result<(), String> {
        let (Some(leaf), Some(ta)) = (self.certs.first(), self.certs.get(k)) else {
            return Err("the chain's certificates were not all kept".into());
        };
        if k == 0 {
            return Err("the leaf itself is no trust anchor".into());
        }
        let mut anchor: TrustAnchor<'_> = webpki::anchor_from_trusted_cert(ta)
            .map_err(|e| format!("the DANE-TA certificate is unreadable ({})", words(&e)))?;
        if selector == 1 {
            // The record names a key, not the certificate: its name
            // constraints are not what the domain vouched for.
            anchor.name_constraints = None;
        }
        let leaf = webpki::EndEntityCert::try_from(leaf)
            .map_err(|e| format!("the leaf is unreadable ({})", words(&e)))?;
        let at =
            UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(self.at).unwrap_or(0)));
        leaf.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &self.certs[1..],
            at,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| words(&e))?;
        ta_dates(ta, self.at)
    }
}

/// The trust anchor certificate's own dates at `at`.
fn ta_dates(ta: &CertificateDer<'_>, at: i64) -> Result<(), String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let Ok((_, cert)) = X509Certificate::from_der(ta.as_ref()) else {
        return Err("the DANE-TA certificate is unreadable".into());
    };
    let validity = cert.validity();
    if at < validity.not_before.timestamp() {
        Err("the DANE-TA certificate was not yet valid at the moment of the check".into())
    } else if at > validity.not_after.timestamp() {
        Err("the DANE-TA certificate had expired at the moment of the check".into())
    } else {
        Ok(())
    }
}

/// webpki's error in words (its own names for the rest, escaped).
fn words(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::InvalidSignatureForPublicKey => {
            "a signature does not verify with its issuer's key (signed by another key of \
             the same name)"
                .into()
        }
        E::SignatureAlgorithmMismatch => {
            "a signature's algorithm does not fit its issuer's key (signed by another key \
             of the same name)"
                .into()
        }
        E::UnknownIssuer => "no presented certificate leads from the leaf to it".into(),
        E::CertExpired { .. } => {
            "a certificate below it had expired at the moment of the check".into()
        }
        E::CertNotValidYet { .. } => {
            "a certificate below it was not yet valid at the moment of the check".into()
        }
        E::CaUsedAsEndEntity => "the leaf is a CA certificate".into(),
        E::RequiredEkuNotFoundContext(_) => {
            "a certificate's extended key usage excludes TLS servers".into()
        }
        other => crate::escape::escape_str(&format!("{other:?}")).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    /// A CA named `cn` with a fresh key.
    fn ca(cn: &str) -> (CertificateDer<'static>, Issuer<'static, KeyPair>) {
        ca_until(cn, 4_000_000_000)
    }

    /// [`ca`], valid from 1975 until `end` (UNIX seconds).
    fn ca_until(cn: &str, end: i64) -> (CertificateDer<'static>, Issuer<'static, KeyPair>) {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.not_after = time::OffsetDateTime::from_unix_timestamp(end).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        (cert.der().clone(), Issuer::new(p, key))
    }

    fn leaf(issuer: &Issuer<'static, KeyPair>) -> CertificateDer<'static> {
        let p = CertificateParams::new(vec!["mx.example.org".to_string()]).unwrap();
        let key = KeyPair::generate().unwrap();
        p.signed_by(&key, issuer).unwrap().der().clone()
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn the_leaf_leads_to_its_issuer_by_signature_and_not_to_another_key_of_the_same_name() {
        let (signer, issuer) = ca("CN=ca");
        let (impostor, _) = ca("CN=ca");
        let good = PresentedChain {
            certs: vec![leaf(&issuer), signer],
            at: now(),
        };
        assert_eq!(good.leads_to(1, 0), Ok(()));
        assert_eq!(good.leads_to(1, 1), Ok(()));
        assert!(good.leads_to(0, 0).is_err(), "the leaf is no anchor");
        assert!(good.leads_to(2, 0).unwrap_err().contains("not all kept"));
        // The same subject, another key: the leaf's signature does not verify.
        let bad = PresentedChain {
            certs: vec![good.certs[0].clone(), impostor],
            at: now(),
        };
        for selector in [0, 1] {
            let why = bad.leads_to(1, selector).unwrap_err();
            assert!(why.contains("signature does not verify"), "{why}");
        }
        // Dates count below the anchor: rcgen's leaf ends in 4096.
        let late = PresentedChain {
            certs: good.certs.clone(),
            at: 420_000_000_000,
        };
        let why = late.leads_to(1, 0).unwrap_err();
        assert!(why.contains("expired"), "{why}");
        assert!(good.weight() > good.certs[0].len() + good.certs[1].len());
        // The trust anchor's own dates count too (as OpenSSL's DANE-TA).
        let (old_ta, old_issuer) = ca_until("CN=old", 1_000_000_000);
        let mut p = CertificateParams::new(vec!["mx.example.org".to_string()]).unwrap();
        p.not_before = time::OffsetDateTime::from_unix_timestamp(900_000_000).unwrap();
        let key = KeyPair::generate().unwrap();
        let young = p.signed_by(&key, &old_issuer).unwrap().der().clone();
        let past = PresentedChain {
            certs: vec![young, old_ta],
            at: 1_100_000_000,
        };
        let why = past.leads_to(1, 0).unwrap_err();
        assert!(why.contains("DANE-TA certificate had expired"), "{why}");
        assert_eq!(
            PresentedChain {
                at: 950_000_000,
                ..past
            }
            .leads_to(1, 0),
            Ok(())
        );
    }

    #[test]
    fn an_intermediate_in_between_counts_and_a_missing_one_does_not() {
        let (root, root_issuer) = ca("CN=root");
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "CN=mid");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let mid = p.signed_by(&key, &root_issuer).unwrap().der().clone();
        let leaf = leaf(&Issuer::new(p, key));
        let full = PresentedChain {
            certs: vec![leaf.clone(), mid, root.clone()],
            at: now(),
        };
        assert_eq!(full.leads_to(2, 0), Ok(()));
        let gap = PresentedChain {
            certs: vec![leaf, root],
            at: now(),
        };
        let why = gap.leads_to(1, 0).unwrap_err();
        assert!(why.contains("no presented certificate"), "{why}");
    }
}
