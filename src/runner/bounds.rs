//! What every probe of a run runs under, shared by all its hosts: the
//! bounds (--max-probes, --max-per-address), the probes made so far (a
//! probe another host made is shared, see `cache.rs`) and the probes under
//! way (for the progress line).

use super::live::Live;
use crate::cache::{Cache, Made};
use crate::escape::safe_text;
use crate::plan::Limits;
use crate::probe::{run_probe, ProbeSpec};
use crate::report::{Outcome, ProbeResult};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// A probe that ends this close to its deadline may have been cut by it:
/// its result is not shared with hosts that have more time.
const CUT_MARGIN: Duration = Duration::from_millis(50);
/// A probe is not started with less time than this left before the deadline.
const MIN_PROBE_TIME: Duration = Duration::from_millis(100);

fn not_run(spec: &ProbeSpec, limits: Limits) -> ProbeResult {
    ProbeResult {
        outcome: Outcome::NotRun,
        detail: Some(safe_text!(
            "the check's deadline passed before this probe could start (at most {} probes run at once: --max-probes, and at most {} to one address: --max-per-address)",
            limits.max_probes, limits.max_per_address
        )),
        ..ProbeResult::new(spec.service, spec.addr.port(), Some(spec.addr.ip()))
    }
}

/// A probe that had not started when the run was interrupted (Ctrl-C).
fn interrupted(spec: &ProbeSpec) -> ProbeResult {
    ProbeResult {
        outcome: Outcome::NotRun,
        detail: Some("mailport was interrupted (Ctrl-C) before this probe could start".into()),
        ..ProbeResult::new(spec.service, spec.addr.port(), Some(spec.addr.ip()))
    }
}

/// How many probe results a run keeps to share ([`Bounds`]): 512 of the
/// last distinct (address, port, service, TLS name) and the other 512 of
/// the generation before (see `cache.rs`). A result is a few KiB (its
/// certificate chain's facts), so at most a few MiB, reached within the
/// first hundred hosts of the default sweep: memory stays flat whatever
/// the number of hosts, and the shared MX of many domains, probed all the
/// time, stays in.
pub const PROBES_KEPT: usize = 1024;
/// And at most about this many bytes of them: a result is a few KiB, but a
/// hostile server's chain (16 certificates of 100 long names each) is
/// hundreds; such results make the cache turn over sooner.
pub const PROBE_BYTES_KEPT: usize = 4 << 20;
/// A probe result is not shared any more after this long in a run: the
/// next host to ask probes again.
pub const PROBE_MAX_AGE: Duration = Duration::from_secs(300);

/// What makes two probes the same probe: the same address, port, service
/// and TLS name (the rest of a probe's spec is the run's), and whether it
/// is the first attempt or the retry after a connection limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SameProbe {
    addr: SocketAddr,
    service: &'static str,
    tls_name: String,
    retry: bool,
}

/// The bounds every probe of a run runs under, shared by all its hosts: one
/// semaphore for the run (--max-probes), one per address
/// (--max-per-address). An address's semaphore lives while a probe holds
/// it, so the table stays as small as the addresses in use, however many
/// hosts a run checks. And the probes made so far: a probe that another
/// host of the run made already (or is making) is not made again, its
/// result is shared ([`PROBES_KEPT`]).
pub struct Bounds {
    all: Arc<Semaphore>,
    per_address: Mutex<AddressTable>,
    limits: Limits,
    made: Arc<Cache<SameProbe, ProbeResult>>,
    live: Arc<Live>,
}

struct AddressTable {
    map: HashMap<IpAddr, Weak<Semaphore>>,
    /// When the table grows past this, the entries nobody holds are dropped.
    sweep_at: usize,
}

/// The slots one probe needs: one of its address's, one of the run's; and
/// the run's probes made so far.
#[derive(Clone)]
pub(super) struct Slots {
    all: Arc<Semaphore>,
    address: Arc<Semaphore>,
    limits: Limits,
    made: Arc<Cache<SameProbe, ProbeResult>>,
    live: Arc<Live>,
}

impl Bounds {
    pub fn new(limits: Limits) -> Bounds {
        Bounds {
            all: Arc::new(Semaphore::new(limits.max_probes)),
            per_address: Mutex::new(AddressTable {
                map: HashMap::new(),
                sweep_at: 64,
            }),
            limits,
            made: Arc::new(Cache::new(
                PROBES_KEPT,
                PROBE_BYTES_KEPT,
                ProbeResult::weight,
                PROBE_MAX_AGE,
            )),
            live: Arc::new(Live::new(false)),
        }
    }

    /// The same, keeping the probes under way for a progress line.
    pub fn watched(limits: Limits) -> Bounds {
        Bounds {
            live: Arc::new(Live::new(true)),
            ..Bounds::new(limits)
        }
    }

    /// The probes under way (none are kept unless [`Bounds::watched`]).
    pub fn live(&self) -> &Live {
        &self.live
    }

    pub(super) fn slots(&self, addr: IpAddr) -> Slots {
        let per = self.limits.max_per_address;
        let mut table = self
            .per_address
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let address = match table.map.get(&addr).and_then(Weak::upgrade) {
            Some(s) => s,
            None => {
                let s = Arc::new(Semaphore::new(per));
                table.map.insert(addr, Arc::downgrade(&s));
                s
            }
        };
        if table.map.len() >= table.sweep_at {
            table.map.retain(|_, s| s.strong_count() > 0);
            table.sweep_at = (table.map.len() * 2).max(64);
        }
        Slots {
            all: self.all.clone(),
            address,
            limits: self.limits,
            made: self.made.clone(),
            live: self.live.clone(),
        }
    }

    /// Start no more probes: those waiting for a slot end as not run
    /// (Ctrl-C). Probes already running go on.
    pub fn close(&self) {
        self.all.close();
    }

    /// How many addresses the table holds (for the tests).
    #[cfg(test)]
    pub(super) fn addresses(&self) -> usize {
        self.per_address.lock().map(|t| t.map.len()).unwrap_or(0)
    }
}

impl Slots {
    /// `spec`'s result: made now (see [`Slots::run`]), or shared with the
    /// host that made it (then marked `shared`). A result that says nothing
    /// of the server (not run, a bug of mailport's) or that its own host's
    /// deadline cut short is not shared.
    pub(super) async fn run_once(&self, spec: &ProbeSpec, retry: bool) -> ProbeResult {
        let key = SameProbe {
            addr: spec.addr,
            service: spec.service.name,
            tls_name: spec.tls_name.clone(),
            retry,
        };
        let (mut result, shared) = self
            .made
            .get_or_make(key, || async {
                let result = self.run(spec).await;
                let cut = Instant::now() + CUT_MARGIN >= spec.deadline;
                if cut || matches!(result.outcome, Outcome::NotRun | Outcome::InternalError) {
                    Made::Once(result)
                } else {
                    Made::Keep(result)
                }
            })
            .await;
        result.shared = shared;
        result
    }

    /// Run `spec` once it holds a slot for its address and one of the run's;
    /// a probe whose slots came too late for the deadline did not run, nor
    /// one that was waiting when the run was interrupted.
    pub(super) async fn run(&self, spec: &ProbeSpec) -> ProbeResult {
        // The address first: a probe waiting for its address holds no slot of the run.
        let _address = self.address.clone().acquire_owned().await;
        let Ok(_all) = self.all.clone().acquire_owned().await else {
            return interrupted(spec);
        };
        // A probe that waited for a slot past the deadline did not run:
        // it must not pass for a server that never answered.
        if spec.deadline.saturating_duration_since(Instant::now()) < MIN_PROBE_TIME {
            return not_run(spec, self.limits);
        }
        // The unit tests make a probe panic, to see it reported.
        #[cfg(test)]
        if spec.tls_name == super::tests::PANIC_NAME {
            panic!("a probe that panics, for the test");
        }
        let _running = self.live.start(spec);
        // On the heap, and only now: a probe waiting for its slots stays small.
        Box::pin(run_probe(spec)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of per-address bounds forgets the addresses nobody probes
    /// any more: a run of many hosts does not keep one entry per host.
    #[test]
    fn the_address_table_stays_as_small_as_the_addresses_in_use() {
        let bounds = Bounds::new(Limits {
            max_probes: 4,
            max_per_address: 2,
            deadline: Duration::from_secs(1),
        });
        let held = bounds.slots("127.0.0.1".parse().unwrap());
        for i in 0..10_000u32 {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(0x7f01_0000 + i));
            drop(bounds.slots(addr));
        }
        assert!(bounds.addresses() <= 128, "{}", bounds.addresses());
        // A bound in use is kept, and shared.
        let again = bounds.slots("127.0.0.1".parse().unwrap());
        assert!(Arc::ptr_eq(&held.address, &again.address));
    }

    /// A hostile server's huge chain weighs what it holds: the cache of
    /// probes keeps few such results, not 1,024.
    #[test]
    fn a_huge_certificate_chain_weighs_what_it_holds() {
        use crate::report::{CertFacts, CertVerdict, TlsFacts};
        use crate::service::SERVICES;
        let plain = ProbeResult::new(&SERVICES[0], 25, None);
        assert!(plain.weight() < 4096, "{}", plain.weight());
        let cert = CertFacts {
            subject: "CN=x".into(),
            issuer: "CN=ca".into(),
            serial: "01".into(),
            sans: vec![format!("DNS:{}.example.test", "a".repeat(240)).into(); 100],
            key_type: "EC".into(),
            key_bits: 256,
            ..CertFacts::default()
        };
        let huge = ProbeResult {
            tls: Some(TlsFacts {
                version: "TLSv1.3".into(),
                cipher_suite: String::new(),
                alpn: None,
                chain: vec![cert; 16],
                verdict: CertVerdict::Valid,
                verdict_detail: None,
                verified_name: String::new(),
                chain_sent: None,
                digests: Vec::new(),
                presented: None,
            }),
            ..plain
        };
        assert!(huge.weight() > 16 * 100 * 250, "{}", huge.weight());
        assert!(PROBE_BYTES_KEPT / huge.weight() < 20);
    }
}
