//! The probes under way, for the progress line: which probe, and since
//! when. Kept only when someone watches (a terminal on stderr): then one
//! entry per running probe, removed when it ends.

use crate::probe::ProbeSpec;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The probes running now (see the module's docs).
#[derive(Default)]
pub struct Live {
    watched: bool,
    next: AtomicU64,
    probes: Mutex<HashMap<u64, Pending>>,
}

/// A probe under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub service: &'static str,
    /// The name it checks TLS against (the host, as given or from DNS).
    pub name: String,
    pub addr: SocketAddr,
    pub since: Instant,
}

/// A probe's entry, removed when the probe ends (or is dropped).
pub(super) struct Running {
    live: Arc<Live>,
    id: u64,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut probes) = self.live.probes.lock() {
            probes.remove(&self.id);
        }
    }
}

impl Live {
    pub fn new(watched: bool) -> Live {
        Live {
            watched,
            ..Live::default()
        }
    }

    /// `spec` starts now; nothing when nobody watches.
    pub(super) fn start(self: &Arc<Live>, spec: &ProbeSpec) -> Option<Running> {
        if !self.watched {
            return None;
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let pending = Pending {
            service: spec.service.name,
            name: spec.tls_name.clone(),
            addr: spec.addr,
            since: Instant::now(),
        };
        self.probes.lock().ok()?.insert(id, pending);
        Some(Running {
            live: self.clone(),
            id,
        })
    }

    /// How many probes are under way, and the one that has run longest.
    pub fn snapshot(&self) -> (usize, Option<Pending>) {
        let Ok(probes) = self.probes.lock() else {
            return (0, None);
        };
        let slowest = probes.values().min_by_key(|p| p.since).cloned();
        (probes.len(), slowest)
    }
}

impl Pending {
    pub fn elapsed(&self) -> Duration {
        self.since.elapsed()
    }
}
