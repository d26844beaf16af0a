//! Signed zones for the DANE tests, served by the in-process DNS server
//! ([`DnsServer::serve`]): zones written as zone-file text by the test,
//! signed on load with an ECDSA P-256 key generated in the test
//! (hickory-server's signer, NSEC for the proofs of absence), optionally
//! with a signature broken on purpose. The test passes the key's DS or
//! DNSKEY line to mailport with `--trust-anchor`.
//!
//! A DS record lives in the parent zone: a DS question for the apex of a
//! zone served here is answered by the zones above it, as the parent's
//! servers would (hickory's catalog alone would ask the child).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::dnssec::NxProofKind;
use hickory_server::net::runtime::{Time, TokioRuntimeProvider};
use hickory_server::proto::dnssec::crypto::EcdsaSigningKey;
use hickory_server::proto::dnssec::rdata::DNSKEY;
use hickory_server::proto::dnssec::{Algorithm, DigestType, DnssecSigner, SigningKey};
use hickory_server::proto::rr::{LowerName, Name, RData, RecordType, RrKey};
use hickory_server::proto::serialize::txt::Parser;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use rustls::pki_types::PrivatePkcs8KeyDer;

use super::dns::DnsServer;

/// A zone's signing key (one key signs everything: a combined KSK/ZSK).
pub struct ZoneKey {
    pkcs8: Vec<u8>,
}

impl Default for ZoneKey {
    fn default() -> Self {
        Self::generate()
    }
}

impl ZoneKey {
    /// A fresh ECDSA P-256 SHA-256 key (DNSSEC algorithm 13).
    pub fn generate() -> ZoneKey {
        let der = EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256)
            .expect("generate a zone key");
        ZoneKey {
            pkcs8: der.secret_pkcs8_der().to_vec(),
        }
    }

    fn signing_key(&self) -> EcdsaSigningKey {
        EcdsaSigningKey::from_pkcs8(
            &PrivatePkcs8KeyDer::from(self.pkcs8.clone()),
            Algorithm::ECDSAP256SHA256,
        )
        .expect("a zone key")
    }

    fn dnskey(&self) -> DNSKEY {
        DNSKEY::from_key(&self.signing_key().to_public_key().expect("public key"))
    }

    /// The DS record of this key for `zone`, in zone-file presentation format.
    pub fn ds_line(&self, zone: &str) -> String {
        let name = fqdn(zone);
        let key = self.dnskey();
        let digest = key.to_digest(&name, DigestType::SHA256).expect("DS digest");
        format!(
            "{name} 3600 IN DS {} 13 2 {}",
            key.calculate_key_tag().expect("key tag"),
            hex(digest.as_ref())
        )
    }

    /// The DNSKEY record of this key for `zone`, in presentation format.
    pub fn dnskey_line(&self, zone: &str) -> String {
        format!("{} 3600 IN DNSKEY {}", fqdn(zone), self.dnskey())
    }
}

/// One zone to serve.
pub struct Zone {
    /// The origin, e.g. `dane.test`.
    pub origin: String,
    /// The records, zone-file text relative to the origin (SOA and NS included).
    pub text: String,
    /// Signed with this key, or served unsigned.
    pub key: Option<Arc<ZoneKey>>,
    /// Owner names whose TLSA data is changed after signing: their RRSIG no
    /// longer verifies (a broken signature).
    pub broken: Vec<String>,
}

/// Serve `zones` on a fresh in-process DNS server.
pub fn serve(zones: Vec<Zone>) -> DnsServer {
    DnsServer::serve(SignedTree::new(zones))
}

struct SignedTree {
    all: Catalog,
    /// For each zone apex, a catalog of every zone but that one: where a DS
    /// question for the apex is answered.
    above: HashMap<LowerName, Catalog>,
}

impl SignedTree {
    fn new(zones: Vec<Zone>) -> SignedTree {
        let handlers: Vec<(LowerName, Arc<dyn ZoneHandler>)> = zones
            .into_iter()
            .map(|z| {
                let origin = fqdn(&z.origin);
                (
                    LowerName::new(&origin),
                    Arc::new(load(z)) as Arc<dyn ZoneHandler>,
                )
            })
            .collect();
        let catalog = |skip: Option<&LowerName>| {
            let mut c = Catalog::new();
            for (name, h) in &handlers {
                if Some(name) != skip {
                    c.upsert(name.clone(), vec![Arc::clone(h)]);
                }
            }
            c
        };
        SignedTree {
            all: catalog(None),
            above: handlers
                .iter()
                .map(|(name, _)| (name.clone(), catalog(Some(name))))
                .collect(),
        }
    }
}

fn load(zone: Zone) -> InMemoryZoneHandler<TokioRuntimeProvider> {
    let origin = fqdn(&zone.origin);
    let (_, records) = Parser::new(zone.text.as_str(), None, Some(origin.clone()))
        .parse()
        .unwrap_or_else(|e| panic!("zone {}: {e}\n{}", zone.origin, zone.text));
    let mut handler = InMemoryZoneHandler::<TokioRuntimeProvider>::new(
        origin.clone(),
        records,
        ZoneType::Primary,
        AxfrPolicy::Deny,
        zone.key.as_ref().map(|_| NxProofKind::Nsec),
    )
    .unwrap_or_else(|e| panic!("zone {}: {e}", zone.origin));
    let Some(key) = zone.key else {
        return handler;
    };
    let signer = DnssecSigner::new(
        key.dnskey(),
        Box::new(key.signing_key()),
        origin.clone(),
        Duration::from_secs(7 * 86_400),
    );
    handler
        .add_zone_signing_key_mut(signer)
        .expect("add the zone key");
    handler.secure_zone_mut().expect("sign the zone");
    for owner in &zone.broken {
        let rr_key = RrKey::new(LowerName::new(&fqdn(owner)), RecordType::TLSA);
        let set = handler
            .records_get_mut()
            .get_mut(&rr_key)
            .unwrap_or_else(|| panic!("no TLSA at {owner} to break"));
        let mut changed = (**set).clone();
        let mut records: Vec<_> = changed.records_without_rrsigs().cloned().collect();
        for r in &mut records {
            if let RData::TLSA(tlsa) = &mut r.data {
                if let Some(last) = tlsa.cert_data.last_mut() {
                    *last ^= 0xff;
                }
            }
        }
        assert!(!changed.rrsigs().is_empty(), "{owner}: TLSA not signed");
        changed.set_records(records);
        *set = Arc::new(changed);
    }
    handler
}

#[async_trait::async_trait]
impl RequestHandler for SignedTree {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        if let Ok(info) = request.request_info() {
            if info.query.query_type() == RecordType::DS {
                if let Some(parent) = self.above.get(info.query.name()) {
                    return parent
                        .handle_request::<R, T>(request, response_handle)
                        .await;
                }
            }
        }
        self.all
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}

fn fqdn(name: &str) -> Name {
    let mut n = Name::from_ascii(name.trim_end_matches('.')).expect("a DNS name");
    n.set_fqdn(true);
    n
}

/// Upper-case hex, as zone files write digests.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}
