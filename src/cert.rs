//! X.509 certificates as presented → [`CertFacts`], parsed with x509-parser.

use crate::escape::safe_text;
use crate::report::{CertDigests, CertFacts, SafeText};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;
use x509_parser::objects::{oid2sn, oid_registry};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Most SAN entries kept per certificate; the rest are counted, not listed.
pub const MAX_SANS: usize = 100;
/// Most characters kept of a subject, an issuer or one SAN; longer ones end in "…".
pub const MAX_NAME_CHARS: usize = 512;

/// Escaped outside text, cut to [`MAX_NAME_CHARS`] with "…".
fn capped(text: &str) -> SafeText {
    crate::escape::escape_str(text).cut_chars(MAX_NAME_CHARS)
}

/// A distinguished name as text (`C=DE, O=Example, CN=mail.example.org`),
/// whatever its attributes hold: a value that is not a readable string
/// (invalid UTF-8, a BMPString…) is shown as its bytes, escaped.
fn name_text(name: &x509_parser::x509::X509Name<'_>) -> SafeText {
    if let Ok(text) = name.to_string_with_registry(oid_registry()) {
        return capped(&text);
    }
    let parts: Vec<String> = name
        .iter_attributes()
        .map(|attr| {
            let key = oid2sn(attr.attr_type(), oid_registry())
                .map(|k| match k {
                    "commonName" => "CN".to_string(),
                    "countryName" => "C".to_string(),
                    "organizationName" => "O".to_string(),
                    "organizationalUnitName" => "OU".to_string(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|_| attr.attr_type().to_id_string());
            let value = match attr.as_str() {
                Ok(v) => v.to_string(),
                Err(_) => crate::escape::escape(attr.as_slice()).into_string(),
            };
            format!("{key}={value}")
        })
        .collect();
    capped(&parts.join(", "))
}

/// One SAN as openssl prints it (raw: the caller escapes it).
fn san_text(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(d) => format!("DNS:{d}"),
        GeneralName::IPAddress(ip) => format!("IP:{}", ip_text(ip)),
        GeneralName::RFC822Name(m) => format!("email:{m}"),
        GeneralName::URI(u) => format!("URI:{u}"),
        GeneralName::DirectoryName(n) => format!("DirName:{}", name_text(n)),
        GeneralName::RegisteredID(oid) => format!("Registered ID:{}", oid.to_id_string()),
        GeneralName::OtherName(oid, _) => format!("othername:{}:<unsupported>", oid.to_id_string()),
        GeneralName::X400Address(_) => "X400Name:<unsupported>".to_string(),
        GeneralName::EDIPartyName(_) => "EdiPartyName:<unsupported>".to_string(),
        GeneralName::Invalid(_, bytes) => {
            format!("invalid:{}", crate::escape::escape(bytes))
        }
    }
}

/// RFC 3339 text for a UNIX time.
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// Parse one DER certificate. `now` is the UNIX time days are counted from.
pub fn facts(der: &[u8], now: i64) -> CertFacts {
    match X509Certificate::from_der(der) {
        Ok((_, cert)) => from_parsed(&cert, now),
        Err(e) => CertFacts {
            subject: crate::escape::escape_str(&format!("(unparseable certificate: {e})")),
            ..CertFacts::default()
        },
    }
}

fn from_parsed(cert: &X509Certificate<'_>, now: i64) -> CertFacts {
    let registry = oid_registry();
    let not_after = cert.validity().not_after.timestamp();
    let mut sans = Vec::new();
    let mut extra = 0usize;
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            if sans.len() < MAX_SANS {
                sans.push(capped(&san_text(name)));
            } else {
                extra += 1;
            }
        }
    }
    if extra > 0 {
        sans.push(safe_text!("(and {} more)", extra));
    }
    let spki = cert.public_key();
    let key_type = oid2sn(&spki.algorithm.algorithm, registry)
        .map(|s| match s {
            "rsaEncryption" => "RSA".to_string(),
            "id-ecPublicKey" => "EC".to_string(),
            other => other.to_string(),
        })
        .unwrap_or_else(|_| spki.algorithm.algorithm.to_id_string());
    let key_bits = match spki.parsed() {
        Ok(k) if k.key_size() > 0 => k.key_size() as u32,
        _ if key_type.eq_ignore_ascii_case("ed25519") => 256,
        _ => 0,
    };
    let signature_algorithm = oid2sn(&cert.signature_algorithm.algorithm, registry)
        .map(str::to_string)
        .unwrap_or_else(|_| cert.signature_algorithm.algorithm.to_id_string());
    let is_ca = cert
        .basic_constraints()
        .ok()
        .flatten()
        .map(|bc| bc.value.ca)
        .unwrap_or(false);
    CertFacts {
        subject: name_text(cert.subject()),
        issuer: name_text(cert.issuer()),
        serial: cert.raw_serial_as_string(),
        sans,
        not_before: rfc3339(cert.validity().not_before.timestamp()),
        not_after: rfc3339(not_after),
        days_left: (not_after - now).div_euclid(86_400),
        // notAfter is inclusive: a 90-day certificate ends a second before 90 days.
        lifetime_days: (not_after - cert.validity().not_before.timestamp() + 43_200)
            .div_euclid(86_400),
        key_type,
        key_bits,
        signature_algorithm,
        self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
        serial_negative: cert.raw_serial().first().is_some_and(|b| b & 0x80 != 0),
        is_ca,
    }
}

/// The SHA-256 and SHA-512 of a certificate and of its public key
/// (SubjectPublicKeyInfo), as DANE's TLSA records name them. An
/// unparseable certificate has no public key: those digests are empty.
pub fn digests(der: &[u8]) -> CertDigests {
    use ring::digest::{digest, SHA256, SHA512};
    let hex = |d: ring::digest::Digest| {
        d.as_ref().iter().fold(String::new(), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    let spki = X509Certificate::from_der(der)
        .ok()
        .map(|(_, c)| c.public_key().raw.to_vec());
    CertDigests {
        sha256: hex(digest(&SHA256, der)),
        sha512: hex(digest(&SHA512, der)),
        spki_sha256: spki
            .as_deref()
            .map(|k| hex(digest(&SHA256, k)))
            .unwrap_or_default(),
        spki_sha512: spki
            .as_deref()
            .map(|k| hex(digest(&SHA512, k)))
            .unwrap_or_default(),
    }
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// The raw DER subject and issuer of a certificate, for chain reasoning.
pub fn names_der(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some((
        cert.subject().as_raw().to_vec(),
        cert.issuer().as_raw().to_vec(),
    ))
}

/// Where the certificate says its issuer's certificate can be fetched: the
/// first caIssuers URI of its Authority Information Access extension. Public
/// CAs put one in every certificate they issue; private CAs rarely do.
pub fn ca_issuers_url(der: &[u8]) -> Option<String> {
    use x509_parser::extensions::ParsedExtension;
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => {
                aia.iter()
                    .find_map(|d| {
                        match (&d.access_method, &d.access_location) {
                (m, GeneralName::URI(uri))
                    if *m == x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS =>
                {
                    Some(uri.chars().take(200).collect())
                }
                _ => None,
            }
                    })
            }
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate made by rcgen with `cn` as its common name and `sans`.
    fn made(cn: &str, sans: Vec<rcgen::SanType>) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.subject_alt_names = sans;
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    /// r14: a subject that is not valid UTF-8 is shown as its bytes, escaped.
    #[test]
    fn an_invalid_utf8_subject_is_shown_as_escaped_bytes() {
        let mut der = made("MAILPORTXX", vec![]);
        // The issuer and the subject (self-signed) both hold it.
        while let Some(at) = der.windows(10).position(|w| w == b"MAILPORTXX") {
            der[at] = 0xff;
            der[at + 1] = 0xfe;
        }
        let f = facts(&der, 0);
        assert!(f.subject.contains("\\xff\\xfeILPORTXX"), "{}", f.subject);
        assert!(f.subject.starts_with("CN="), "{}", f.subject);
        assert!(!f.subject.contains("X509Error"), "{}", f.subject);
    }

    /// r14: a negative serial (RFC 5280 says positive) is seen.
    #[test]
    fn a_negative_serial_is_seen() {
        let mut params = rcgen::CertificateParams::new(vec!["x.example".to_string()]).unwrap();
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x7f, 0x55, 0xaa]));
        let key = rcgen::KeyPair::generate().unwrap();
        let mut der = params.self_signed(&key).unwrap().der().to_vec();
        // rcgen writes serials positive: set the first bit of the DER integer by hand.
        let at = der
            .windows(5)
            .position(|w| w == [0x02, 0x03, 0x7f, 0x55, 0xaa])
            .unwrap();
        der[at + 2] = 0x80;
        assert!(facts(&der, 0).serial_negative);
        assert!(!facts(&made("y", vec![]), 0).serial_negative);
    }

    /// r14: a huge subject is cut, with "…".
    #[test]
    fn a_huge_subject_is_cut() {
        let f = facts(&made(&"a".repeat(40_000), vec![]), 0);
        assert!(
            f.subject.chars().count() <= MAX_NAME_CHARS + 1,
            "{}",
            f.subject.len()
        );
        assert!(f.subject.ends_with('…'));
    }

    /// r14: SANs of every kind are printed as openssl prints them, never as a debug dump.
    #[test]
    fn every_kind_of_san_is_printed_as_openssl_does() {
        let other = rcgen::SanType::OtherName((
            vec![1, 3, 6, 1, 4, 1, 311, 20, 2, 3],
            rcgen::OtherNameValue::Utf8String("user@example.test".into()),
        ));
        let f = facts(&made("x", vec![other]), 0);
        assert_eq!(f.sans, ["othername:1.3.6.1.4.1.311.20.2.3:<unsupported>"]);
        let der = made("dir.example.test", vec![]);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let dir = GeneralName::DirectoryName(cert.subject().clone());
        assert_eq!(san_text(&dir), "DirName:CN=dir.example.test");
        let oid = x509_parser::der_parser::oid!(1.2.3 .4);
        assert_eq!(
            san_text(&GeneralName::RegisteredID(oid)),
            "Registered ID:1.2.3.4"
        );
        for g in [
            dir,
            GeneralName::RegisteredID(x509_parser::der_parser::oid!(1.2.3 .4)),
        ] {
            assert!(!san_text(&g).contains("Oid"), "{}", san_text(&g));
        }
    }

    #[test]
    fn garbage_is_reported_not_panicked_on() {
        let f = facts(b"\x30\x03\x02\x01\x00", 0);
        assert!(f.subject.starts_with("(unparseable"));
        let f = facts(&[], 0);
        assert!(f.subject.starts_with("(unparseable"));
    }

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
