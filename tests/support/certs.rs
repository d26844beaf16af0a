//! A throw-away test PKI built with rcgen: a root CA, an intermediate CA
//! signed by it, and server certificates of every kind a test needs
//! (good, expired, not yet valid, wrong name, self-signed, unknown CA,
//! missing intermediate), packed into ready-to-use rustls server configs.
//!
//! Keys are ECDSA P-256 (rcgen's default), generated fresh for every
//! `TestPki`, so nothing secret is checked in and nothing expires in the
//! repository.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// Common name of the test root CA.
pub const ROOT_CN: &str = "mailport test root";
/// Common name of the test intermediate CA.
pub const INTERMEDIATE_CN: &str = "mailport test intermediate";
/// Common name of the unrelated CA used for [`CertKind::UnknownCa`].
pub const UNKNOWN_CA_CN: &str = "mailport unknown ca";
/// The only name in a [`CertKind::WrongName`] certificate.
pub const WRONG_NAME: &str = "other.example.invalid";

/// What kind of certificate (chain) a test server presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertKind {
    /// Leaf for `names`, signed by the intermediate; the server sends leaf + intermediate.
    Good,
    /// Like `Good`, but valid from now-90d to now-1d.
    Expired,
    /// Like `Good`, but valid from now+10d to now+100d.
    NotYetValid,
    /// Like `Good`, but valid only in 1950–1969 (UTCTime years 50–69, before the UNIX epoch).
    Ancient,
    /// Like `Good`, but for `other.example.invalid` only (`names` is ignored).
    WrongName,
    /// A self-signed leaf for `names` (its own issuer); the server sends only it.
    SelfSigned,
    /// Leaf for `names` signed by an unrelated CA; the server sends leaf + that CA.
    UnknownCa,
    /// Leaf signed by the intermediate, but the server sends only the leaf;
    /// like a public CA's, the leaf names where its issuer can be fetched
    /// (Authority Information Access, caIssuers `AIA_URL`).
    MissingIntermediate,
    /// Leaf signed directly by a private CA that is nowhere in the trust
    /// store; the server sends only the leaf, which has no AIA.
    PrivateCaLeafOnly,
}

/// The caIssuers URL in the AIA extension of `CertKind::MissingIntermediate`'s leaf.
pub const AIA_URL: &str = "http://ca.example.test/intermediate.der";
/// The common name of the CA of `CertKind::PrivateCaLeafOnly`.
pub const PRIVATE_CA_CN: &str = "mailport test private CA";

/// An Authority Information Access extension naming `url` as caIssuers (DER by hand:
/// SEQUENCE { SEQUENCE { OID 1.3.6.1.5.5.7.48.2, [6] IA5String url } }).
fn aia_extension(url: &str) -> CustomExtension {
    let oid = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    assert!(url.len() < 100, "short form lengths only");
    let mut access = oid.to_vec();
    access.extend([0x86, url.len() as u8]);
    access.extend(url.as_bytes());
    let mut description = vec![0x30, access.len() as u8];
    description.extend(access);
    let mut syntax = vec![0x30, description.len() as u8];
    syntax.extend(description);
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], syntax)
}

/// A root CA and an intermediate CA signed by it.
pub struct TestPki {
    root: CertifiedIssuer<'static, KeyPair>,
    intermediate: CertifiedIssuer<'static, KeyPair>,
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

impl TestPki {
    /// A fresh root CA "mailport test root" and an intermediate
    /// "mailport test intermediate" signed by it.
    pub fn new() -> TestPki {
        let root = new_ca(ROOT_CN, None);
        let intermediate = new_ca(INTERMEDIATE_CN, Some(&root));
        TestPki { root, intermediate }
    }

    /// The root CA certificate as PEM (what a test passes with `--ca-file`).
    pub fn ca_pem(&self) -> String {
        self.root.pem()
    }

    /// The root CA certificate as DER.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.root.der().clone()
    }

    /// A rustls root store holding only the test root CA (for test clients).
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut store = rustls::RootCertStore::empty();
        store
            .add(self.ca_der())
            .expect("test root CA must be acceptable as a trust anchor");
        store
    }

    /// The root CA PEM written to a temporary file; the file is removed
    /// when the returned value is dropped, so keep it alive while it is used.
    pub fn ca_file(&self) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new()
            .prefix("mailport-test-ca-")
            .suffix(".pem")
            .tempfile()
            .expect("create temp CA file");
        file.write_all(self.ca_pem().as_bytes())
            .expect("write temp CA file");
        file.flush().expect("flush temp CA file");
        file
    }

    /// The certificate chain (leaf first) and leaf key for `kind`, as DER.
    pub fn chain(
        &self,
        kind: CertKind,
        names: &[&str],
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        self.chain_impl(kind, names)
    }

    /// A rustls server config (ring provider, TLS 1.2 and 1.3, no client
    /// auth) presenting the chain for `kind` and `names`.
    pub fn server_config(&self, kind: CertKind, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let (chain, key) = self.chain(kind, names);
        server_config_from(chain, key)
    }

    /// A good chain for `names`, served only to clients that present a
    /// certificate of the test root (rustls's `WebPkiClientVerifier`,
    /// client auth mandatory), speaking only `version` (TLS 1.2 or 1.3).
    pub fn client_auth_config(
        &self,
        names: &[&str],
        version: &'static rustls::SupportedProtocolVersion,
    ) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(self.root_store()),
            provider.clone(),
        )
        .build()
        .expect("build the client-certificate verifier");
        let (chain, key) = self.chain(CertKind::Good, names);
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .expect("ring supports TLS 1.2 and 1.3")
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .expect("build rustls ServerConfig requiring client auth");
        Arc::new(config)
    }

    /// A good leaf for `names` followed by `copies` copies of the
    /// intermediate: a chain of `1 + copies` certificates.
    pub fn long_chain_config(&self, names: &[&str], copies: usize) -> Arc<rustls::ServerConfig> {
        let (mut chain, key) = self.chain(CertKind::Good, names);
        let intermediate = chain.pop().expect("leaf and intermediate");
        chain.extend(std::iter::repeat_n(intermediate, copies));
        server_config_from(chain, key)
    }

    /// A valid leaf for `names` signed by an intermediate (of the same root)
    /// that expired `days_ago` days ago; the server sends leaf + intermediate.
    pub fn expired_intermediate_config(
        &self,
        names: &[&str],
        days_ago: i64,
    ) -> Arc<rustls::ServerConfig> {
        let now = OffsetDateTime::now_utc();
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name = common_name("mailport expired intermediate");
        params.not_before = now - Duration::days(400);
        params.not_after = now - Duration::days(days_ago);
        params.serial_number = Some(next_serial());
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.use_authority_key_identifier_extension = true;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let expired =
            CertifiedIssuer::signed_by(params, KeyPair::generate().expect("key"), &*self.root)
                .expect("sign the expired intermediate");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let leaf_params = leaf_params(&names, (now - Duration::days(1), now + Duration::days(300)));
        let key = KeyPair::generate().expect("generate leaf key");
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let leaf = leaf_params.signed_by(&key, &*expired).expect("sign leaf");
        server_config_from(vec![leaf.der().clone(), expired.der().clone()], key_der)
    }

    /// A self-signed certificate for `names` that is also a CA (CA:TRUE),
    /// as `openssl req -x509` makes by default.
    pub fn ca_as_leaf_config(&self, names: &[&str]) -> (Arc<rustls::ServerConfig>, String) {
        let now = OffsetDateTime::now_utc();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = leaf_params(&names, (now - Duration::days(1), now + Duration::days(90)));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.use_authority_key_identifier_extension = false;
        let key = KeyPair::generate().expect("generate key");
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let cert = params.self_signed(&key).expect("self-sign");
        let pem = cert.pem();
        (
            server_config_unchecked(vec![cert.der().clone()], key_der),
            pem,
        )
    }

    /// A good leaf whose SANs are `names` plus `extra` more names, signed
    /// by the intermediate. The chain is not checked on the server side, so
    /// certificates larger than rustls would load (over 64 KiB) can be served.
    pub fn many_sans_config(&self, names: &[&str], extra: usize) -> Arc<rustls::ServerConfig> {
        let now = OffsetDateTime::now_utc();
        let mut all: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        all.extend((0..extra).map(|i| format!("filler-{i:06}.example.test")));
        let params = leaf_params(&all, (now - Duration::days(1), now + Duration::days(90)));
        let key = KeyPair::generate().expect("generate leaf key");
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let leaf = params
            .signed_by(&key, &*self.intermediate)
            .expect("sign leaf with intermediate");
        server_config_unchecked(
            vec![leaf.der().clone(), self.intermediate.der().clone()],
            key_der,
        )
    }

    /// r14: a leaf at every edge a certificate's facts can have, sent with
    /// the intermediate: a negative serial, a subject that is not UTF-8
    /// (its CN's first bytes are 0xff 0xfe), with ESC in it and a 40,000-byte
    /// OU, and an otherName SAN beside `names`. The edits by hand break its
    /// signature: only its facts matter.
    pub fn odd_leaf_config(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let now = OffsetDateTime::now_utc();
        let all: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = leaf_params(&all, (now - Duration::days(1), now + Duration::days(90)));
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x7f, 0x55, 0xaa]));
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "MAILPORTXX\x1b[2J");
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, "a".repeat(40_000));
        params.subject_alt_names.push(rcgen::SanType::OtherName((
            vec![1, 3, 6, 1, 4, 1, 311, 20, 2, 3],
            rcgen::OtherNameValue::Utf8String("user@example.test".into()),
        )));
        let key = KeyPair::generate().expect("generate leaf key");
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let leaf = params
            .signed_by(&key, &*self.intermediate)
            .expect("sign leaf with intermediate");
        let mut der = leaf.der().to_vec();
        let serial = der
            .windows(5)
            .position(|w| w == [0x02, 0x03, 0x7f, 0x55, 0xaa])
            .expect("the serial");
        der[serial + 2] = 0x80;
        let cn = der
            .windows(10)
            .position(|w| w == b"MAILPORTXX")
            .expect("the common name");
        der[cn] = 0xff;
        der[cn + 1] = 0xfe;
        server_config_unchecked(
            vec![CertificateDer::from(der), self.intermediate.der().clone()],
            key_der,
        )
    }

    fn chain_impl(
        &self,
        kind: CertKind,
        names: Vec<String>,
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let now = OffsetDateTime::now_utc();
        let good = (now - Duration::days(1), now + Duration::days(90));
        let names = if kind == CertKind::WrongName {
            vec![WRONG_NAME.to_string()]
        } else {
            names
        };
        assert!(
            !names.is_empty(),
            "TestPki::server_config needs at least one name for {kind:?}"
        );
        let validity = match kind {
            CertKind::Expired => (now - Duration::days(90), now - Duration::days(1)),
            CertKind::NotYetValid => (now + Duration::days(10), now + Duration::days(100)),
            CertKind::Ancient => (
                time::macros::datetime!(1950-01-01 0:00 UTC),
                time::macros::datetime!(1969-12-31 0:00 UTC),
            ),
            _ => good,
        };
        let params = leaf_params(&names, validity);
        let key = KeyPair::generate().expect("generate leaf key");
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));

        let chain = match kind {
            CertKind::Good
            | CertKind::Expired
            | CertKind::NotYetValid
            | CertKind::Ancient
            | CertKind::WrongName => {
                let leaf = params
                    .signed_by(&key, &*self.intermediate)
                    .expect("sign leaf with intermediate");
                vec![leaf.der().clone(), self.intermediate.der().clone()]
            }
            CertKind::MissingIntermediate => {
                let mut params = params;
                params.custom_extensions.push(aia_extension(AIA_URL));
                let leaf = params
                    .signed_by(&key, &*self.intermediate)
                    .expect("sign leaf with intermediate");
                vec![leaf.der().clone()]
            }
            CertKind::PrivateCaLeafOnly => {
                let private = new_ca(PRIVATE_CA_CN, None);
                let leaf = params
                    .signed_by(&key, &*private)
                    .expect("sign leaf with the private CA");
                vec![leaf.der().clone()]
            }
            CertKind::SelfSigned => {
                let leaf = params.self_signed(&key).expect("self-sign leaf");
                vec![leaf.der().clone()]
            }
            CertKind::UnknownCa => {
                let unknown = new_ca(UNKNOWN_CA_CN, None);
                let leaf = params
                    .signed_by(&key, &*unknown)
                    .expect("sign leaf with unknown CA");
                vec![leaf.der().clone(), unknown.der().clone()]
            }
        };
        (chain, key_der)
    }
}

/// A rustls server config (ring provider, safe default protocol versions,
/// no client auth) for an arbitrary chain and key.
pub fn server_config_from(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Arc<rustls::ServerConfig> {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring provider supports the default protocol versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("build rustls ServerConfig from test chain");
    Arc::new(config)
}

/// Like [`server_config_from`], but the chain is sent as it is, unparsed.
pub fn server_config_unchecked(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .expect("load the test key");
    let certified = rustls::sign::CertifiedKey::new(chain, signing_key);
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring provider supports the default protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    Arc::new(config)
}

/// A unique, positive serial number.
fn next_serial() -> SerialNumber {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos() as u64;
    let mut bytes = Vec::with_capacity(17);
    bytes.push(0x4d); // positive, non-zero leading byte
    bytes.extend_from_slice(&nanos.to_be_bytes());
    bytes.extend_from_slice(&n.to_be_bytes());
    SerialNumber::from_slice(&bytes)
}

fn common_name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

/// A CA, self-signed when `issuer` is `None`, else signed by `issuer`
/// (then constrained to path length 0, as an intermediate).
fn new_ca(
    cn: &str,
    issuer: Option<&CertifiedIssuer<'static, KeyPair>>,
) -> CertifiedIssuer<'static, KeyPair> {
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name = common_name(cn);
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(365);
    params.serial_number = Some(next_serial());
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.use_authority_key_identifier_extension = issuer.is_some();
    let key = KeyPair::generate().expect("generate CA key");
    match issuer {
        None => {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            CertifiedIssuer::self_signed(params, key).expect("self-sign CA")
        }
        Some(issuer) => {
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            CertifiedIssuer::signed_by(params, key, &**issuer).expect("sign intermediate CA")
        }
    }
}

/// Parameters of a server (end-entity) certificate: CN = first name,
/// SANs = all names (IP literals become IP SANs).
fn leaf_params(
    names: &[String],
    (not_before, not_after): (OffsetDateTime, OffsetDateTime),
) -> CertificateParams {
    let mut params = CertificateParams::new(names.to_vec()).expect("leaf params (valid names)");
    params.distinguished_name = common_name(&names[0]);
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(next_serial());
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params
}
