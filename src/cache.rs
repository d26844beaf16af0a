//! What several hosts of one run would otherwise do again, done once: a DNS
//! answer, a probe of the same (address, port, service, TLS name), a trace's
//! walk of the same address and ports (`trace/shared.rs`). The
//! first to ask does the work; those that ask while it is under way wait
//! for it (in-flight deduplication); those that ask later take its result.
//!
//! Bounded in memory for a stream of any length: at most `capacity` entries
//! and about `max_bytes` (each result weighed when it is made), kept in two
//! generations (the young one takes new entries and, when it holds half of
//! either bound, becomes the old one, dropping the previous old one; an
//! entry found in the old generation moves back to the young). That is an approximate LRU with
//! O(1) work per question: an entry asked again and again (the shared MX of
//! thousands of domains) stays, one never asked again leaves after at most
//! `capacity` newer ones. An entry is also forgotten after `max_age`, so a
//! run that lasts hours does not report a result from long ago.
//!
//! A result the maker does not want kept (a DNS timeout, a probe cut short
//! by its own host's deadline) goes to its maker only; the next one to ask
//! does the work again.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// A bounded cache of results, each made once (see the module's docs).
pub struct Cache<K, V> {
    generations: Mutex<Generations<K, V>>,
    /// Entries in one generation: at most twice this many in all.
    half: usize,
    /// Bytes of results made into one generation (by `weigh`).
    half_bytes: usize,
    weigh: fn(&V) -> usize,
    max_age: Duration,
}

struct Entry<V> {
    born: Instant,
    cell: Arc<OnceCell<V>>,
}

struct Generations<K, V> {
    young: HashMap<K, Entry<V>>,
    old: HashMap<K, Entry<V>>,
    /// The weight of the results made since the young generation began.
    young_bytes: usize,
}

impl<K, V> Generations<K, V> {
    fn age(&mut self) {
        self.old = std::mem::take(&mut self.young);
        self.young_bytes = 0;
    }
}

/// What `make` says of its result: keep it for the others, or not.
pub enum Made<V> {
    Keep(V),
    /// For the one that made it only (a timeout, a result cut short).
    Once(V),
}

impl<K: Hash + Eq + Clone, V: Clone> Cache<K, V> {
    /// At most `capacity` entries (at least 2) and about `max_bytes` of
    /// results as `weigh` weighs them, none older than `max_age`.
    pub fn new(
        capacity: usize,
        max_bytes: usize,
        weigh: fn(&V) -> usize,
        max_age: Duration,
    ) -> Cache<K, V> {
        Cache {
            generations: Mutex::new(Generations {
                young: HashMap::new(),
                old: HashMap::new(),
                young_bytes: 0,
            }),
            half: (capacity / 2).max(1),
            half_bytes: max_bytes / 2,
            weigh,
            max_age,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations<K, V>> {
        self.generations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cell of `key`: the one in the cache, or a new one put there.
    fn cell(&self, key: &K) -> Arc<OnceCell<V>> {
        let now = Instant::now();
        let mut g = self.lock();
        let fresh = |e: &Entry<V>| now.saturating_duration_since(e.born) < self.max_age;
        if let Some(e) = g.young.get(key).filter(|e| fresh(e)) {
            return e.cell.clone();
        }
        let entry = match g.old.remove(key).filter(|e| fresh(e)) {
            Some(e) => e,
            None => Entry {
                born: now,
                cell: Arc::new(OnceCell::new()),
            },
        };
        let cell = entry.cell.clone();
        g.young.insert(key.clone(), entry);
        if g.young.len() >= self.half {
            g.age();
        }
        cell
    }

    /// The result for `key`, and whether it was made for another caller
    /// (true: taken from the cache, or waited for while another made it).
    pub async fn get_or_make<F, Fut>(&self, key: K, make: F) -> (V, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Made<V>>,
    {
        let cell = self.cell(&key);
        let mut made_here = false;
        let got = cell
            .get_or_try_init(|| {
                made_here = true;
                // On the heap: the work is often large (a whole probe), and
                // inline it would swell every future that awaits this one.
                let work = Box::pin(make());
                async move {
                    match work.await {
                        Made::Keep(v) => Ok(v),
                        Made::Once(v) => Err(v),
                    }
                }
            })
            .await;
        match got {
            Ok(v) => {
                if made_here {
                    let mut g = self.lock();
                    g.young_bytes += (self.weigh)(v);
                    if g.young_bytes >= self.half_bytes {
                        g.age();
                    }
                }
                (v.clone(), !made_here)
            }
            Err(v) => (v, false),
        }
    }

    /// How many entries the cache holds.
    pub fn len(&self) -> usize {
        let g = self.lock();
        g.young.len() + g.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn cache(capacity: usize) -> Cache<u32, u32> {
        Cache::new(capacity, usize::MAX, |_| 1, Duration::from_secs(60))
    }

    #[tokio::test]
    async fn a_result_is_made_once_and_then_shared() {
        let c = cache(8);
        let made = AtomicUsize::new(0);
        let make = || async {
            made.fetch_add(1, Ordering::SeqCst);
            Made::Keep(7)
        };
        assert_eq!(c.get_or_make(1, make).await, (7, false));
        assert_eq!(c.get_or_make(1, make).await, (7, true));
        assert_eq!(made.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn those_asking_at_once_wait_for_the_one_under_way() {
        let c = Arc::new(cache(8));
        let made = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (c, made) = (c.clone(), made.clone());
            tasks.push(tokio::spawn(async move {
                c.get_or_make(1, || async move {
                    made.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Made::Keep(3)
                })
                .await
            }));
        }
        let mut shared = 0;
        for t in tasks {
            let (v, s) = t.await.unwrap();
            assert_eq!(v, 3);
            shared += usize::from(s);
        }
        assert_eq!(made.load(Ordering::SeqCst), 1);
        assert_eq!(shared, 9);
    }

    #[tokio::test]
    async fn a_result_not_kept_is_made_again() {
        let c = cache(8);
        assert_eq!(
            c.get_or_make(1, || async { Made::Once(1) }).await,
            (1, false)
        );
        assert_eq!(
            c.get_or_make(1, || async { Made::Keep(2) }).await,
            (2, false)
        );
        assert_eq!(
            c.get_or_make(1, || async { Made::Keep(3) }).await,
            (2, true)
        );
    }

    #[tokio::test]
    async fn the_cache_stays_within_its_capacity_and_keeps_what_is_asked_often() {
        let c = cache(100);
        for k in 0..100_000u32 {
            c.get_or_make(k, || async move { Made::Keep(k) }).await;
            // Key 0 is asked all along (the MX shared by many domains).
            let (v, shared) = c.get_or_make(0, || async { Made::Keep(u32::MAX) }).await;
            assert_eq!(v, 0);
            assert!(shared || k == 0);
            assert!(c.len() <= 100, "{}", c.len());
        }
        // One asked once long ago is gone: made again.
        assert_eq!(
            c.get_or_make(5, || async { Made::Keep(55) }).await,
            (55, false)
        );
    }

    /// Heavy results (a hostile server's huge certificate chain) make the
    /// generations turn over sooner: the bytes stay bounded too.
    #[tokio::test]
    async fn the_cache_stays_within_its_bytes() {
        let c: Cache<u32, u32> = Cache::new(1000, 1000, |v| *v as usize, Duration::from_secs(60));
        for k in 0..10_000u32 {
            c.get_or_make(k, || async { Made::Keep(100) }).await;
            // Half the bytes per generation: at most 5 of 100 bytes in each.
            assert!(c.len() <= 10, "{}", c.len());
        }
    }

    #[tokio::test]
    async fn an_entry_is_forgotten_after_its_age() {
        let c: Cache<u32, u32> = Cache::new(8, usize::MAX, |_| 1, Duration::from_millis(200));
        c.get_or_make(1, || async { Made::Keep(1) }).await;
        assert_eq!(
            c.get_or_make(1, || async { Made::Keep(2) }).await,
            (1, true)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(
            c.get_or_make(1, || async { Made::Keep(2) }).await,
            (2, false)
        );
    }
}
