//! What several hosts of one run would otherwise do again, done once: a DNS
//! answer, a probe of the same (address, port, service, TLS name). The
//! first to ask does the work; those that ask while it is under way wait
//! for it (in-flight deduplication); those that ask later take its result.
//!
//! Bounded in memory for a stream of any length: at most `capacity` entries,
//! kept in two generations (the young one takes new entries and, when full,
//! becomes the old one, dropping the previous old one; an entry found in the
//! old generation moves back to the young). That is an approximate LRU with
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
    max_age: Duration,
}

struct Entry<V> {
    born: Instant,
    cell: Arc<OnceCell<V>>,
}

struct Generations<K, V> {
    young: HashMap<K, Entry<V>>,
    old: HashMap<K, Entry<V>>,
}

/// What `make` says of its result: keep it for the others, or not.
pub enum Made<V> {
    Keep(V),
    /// For the one that made it only (a timeout, a result cut short).
    Once(V),
}

impl<K: Hash + Eq + Clone, V: Clone> Cache<K, V> {
    /// At most `capacity` entries (at least 2), none older than `max_age`.
    pub fn new(capacity: usize, max_age: Duration) -> Cache<K, V> {
        Cache {
            generations: Mutex::new(Generations {
                young: HashMap::new(),
                old: HashMap::new(),
            }),
            half: (capacity / 2).max(1),
            max_age,
        }
    }

    /// The cell of `key`: the one in the cache, or a new one put there.
    fn cell(&self, key: &K) -> Arc<OnceCell<V>> {
        let now = Instant::now();
        let mut g = self
            .generations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
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
            g.old = std::mem::take(&mut g.young);
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
                async move {
                    match make().await {
                        Made::Keep(v) => Ok(v),
                        Made::Once(v) => Err(v),
                    }
                }
            })
            .await;
        match got {
            Ok(v) => (v.clone(), !made_here),
            Err(v) => (v, false),
        }
    }

    /// How many entries the cache holds.
    pub fn len(&self) -> usize {
        self.generations
            .lock()
            .map(|g| g.young.len() + g.old.len())
            .unwrap_or(0)
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
        Cache::new(capacity, Duration::from_secs(60))
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

    #[tokio::test]
    async fn an_entry_is_forgotten_after_its_age() {
        let c: Cache<u32, u32> = Cache::new(8, Duration::from_millis(200));
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
