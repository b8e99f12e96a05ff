//! The value cache: a sharded LRU of values of Cold keys, bounded in bytes and in entries.
//!
//! Keys (byte strings) are spread over `value_cache_shards` shards by their hash
//! (`machine::hash::spread_bytes`), each an [`lru::LruCache`] behind its own
//! `parking_lot::Mutex`, so readers of different keys rarely contend. The LRU owns each key as a
//! `Box<[u8]>` and is looked up by `&[u8]` (`Box<[u8]>: Borrow<[u8]>`), so a lookup allocates
//! nothing. Values are `Arc<[u8]>`: a hit clones a pointer under the lock and copies nothing.
//! Each entry is charged what it costs the heap ([`entry_charge`]: the key's and the value's
//! blocks, the LRU node, a share of the hash table); a shard
//! evicts least-recently-used entries until it is within
//! `1/shards` of both bounds. Values handed out stay alive while the caller holds them, so
//! memory can briefly exceed the bound by what callers hold.
//!
//! A cache built with zero capacity is off: every operation returns at once without locking.
//!
//! # Admission
//!
//! With admission on (the engine's default, `Options::value_cache_admission`), a value enters
//! the cache on its key's second miss within a window, not its first: a *doorkeeper* bit array
//! (one bit per key hash, [`DOORKEEPER_FRACTION`] of the cache's byte bound) remembers the
//! keys that missed once, and is cleared after as many first misses as it has bits / 8 (so at
//! most one in eight bits is set and false admissions stay under about 12%). Reads that each
//! touch a key once, the common case of data larger than memory, then no longer pay a fill
//! (two allocations, the shard lock, an LRU insert and an eviction) that no later read uses;
//! a key read again soon is admitted on its second miss. Admission only decides whether a
//! fill inserts, never what a lookup returns.
//!
//! # Stale-fill protection
//!
//! A reader that misses fetches the value from RocksDB and then *fills* the cache. If a writer
//! replaced the value between the fetch and the fill, a naive fill would cache the old value
//! forever. Each key's *stripe* (a slice of its shard chosen by key hash) has a stripe word:
//! a version in the high 32 bits and, in the low 32 bits, the number of writes in progress on
//! keys of the stripe. The protocol, for reader and writer of key `k`:
//!
//! ```text
//! reader                                   writer
//! t = cache.begin_fill(k)   (1)            cache.begin_write(k)     (A)  pending += 1, remove k
//! v = rocks.get(k)          (2)            rocks.write(k, new)      (B)  the commit point
//! cache.fill(t, v)          (3)            cache.end_write(k)       (C)  version += 1, pending -= 1
//! ```
//!
//! `begin_fill` loads the stripe word (a ticket taken while a write is pending is void);
//! `begin_write` and `end_write` change it under the shard lock; `fill` inserts only if the
//! ticket is not void and the word still equals the ticket's, checked under the same lock.
//!
//! Why no stale value is ever inserted: if (2) returned an old value, (2) ran before (B) took
//! effect. If (1) saw (A)'s increment, the ticket is void. Otherwise (1) read the word before (A)
//! (an Acquire load that saw (C)'s Release would make (B) visible to (2)). Then either (A) locks
//! the shard before (3): (3) sees a changed word and refuses; or (3) locks first: (A) removes what
//! (3) inserted, before (B). So **while a write of `k` is in progress the cache holds no entry
//! for `k`, and no fill of `k` succeeds**: readers go to RocksDB, which is linearisable. This is
//! what makes the engine's reads monotonic: a reader that saw the new value in RocksDB can never
//! afterwards hit an old one in the cache (a single invalidate *after* the write would leave a
//! window between (B) and the invalidate in which a stale fill is served).
//!
//! The engine calls `begin_write` before and `end_write` after its RocksDB write, for **every**
//! written key (puts, deletes, keys that become Hot); a reader takes its ticket **before**
//! reading RocksDB. `ValueCache::invalidate` (tests only) is `begin_write` + `end_write` with
//! nothing in between. Bulk writes use [`ValueCache::begin_write_all`] / [`ValueCache::end_write_all`], which
//! do the same for every stripe at once.
//!
//! Unrelated writes to keys in the same stripe also refuse fills; with 64 stripes per shard that
//! costs a little hit rate under heavy writes and never correctness. The pending count has 32
//! bits: a single write may touch up to 2^32 - 1 keys of one stripe.

mod doorkeeper;

use crate::machine::hash::spread_bytes;
use crate::stats::{ratio, CacheStats, Counter};
use doorkeeper::Doorkeeper;
use lru::LruCache;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The value cache's shape, built from `Options` in one place (`Options::cache_config`): the
/// cache imports nothing of `options`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CacheConfig {
    /// Most bytes held, entries charged by [`entry_charge`] (0: off).
    pub bytes: usize,
    /// Most entries held (0: off).
    pub entries: usize,
    /// Shards, rounded up to a power of two.
    pub shards: usize,
    /// Admit a value on its key's second miss only (module docs, "Admission").
    pub admission: bool,
}

/// Bytes charged per entry beyond its key's and value's own heap blocks: the LRU node (the key's
/// `Box<[u8]>` pointer and length, the value's `Arc` pointer and length, two links: 48 bytes,
/// a 64-byte heap block with the allocator's header) and its share of the hash table (a 16-byte
/// slot and a control byte, at 44-88% load).
const ENTRY_OVERHEAD: usize = 88;
/// The allocator's smallest block (glibc: a 24-byte request takes 32 bytes).
const MIN_BLOCK: usize = 32;

/// What one entry of a `key_len`-byte key and a `value_len`-byte value costs the heap, and is
/// charged against the cache's byte bound: the value's `Arc<[u8]>` block (two counts and the
/// bytes, plus the allocator's 8-byte header, in 16-byte steps), the key's `Box<[u8]>` block
/// (the bytes and the header; none for the empty key), and [`ENTRY_OVERHEAD`]. (It was
/// `len + 64` until the fifth session, 36 bytes short for 100-byte values: at a 67.5 MB cache,
/// 14 MB over its bound; DESIGN.md, "Decisions that still hold", "Index and memory". Keyed by
/// `u64`, held in the node, an entry cost its value's block and 72 bytes: 200 for a 100-byte
/// value, where an 8-byte key now costs 248.)
pub(crate) const fn entry_charge(key_len: usize, value_len: usize) -> usize {
    let value_block = value_len.saturating_add(24 + 15) / 16 * 16;
    let key_block = if key_len == 0 {
        0
    } else {
        let b = key_len.saturating_add(8 + 15) / 16 * 16;
        if b < MIN_BLOCK {
            MIN_BLOCK
        } else {
            b
        }
    };
    value_block
        .saturating_add(key_block)
        .saturating_add(ENTRY_OVERHEAD)
}
/// The doorkeeper's share of the cache's byte bound (1/64: 1 MiB of bits for a 64 MiB cache).
const DOORKEEPER_FRACTION: usize = 64;
/// Version stripes per shard.
const STRIPES_PER_SHARD: usize = 64;
/// Low half of a stripe word: writes in progress on keys of the stripe.
const PENDING_MASK: u64 = (1 << 32) - 1;
/// One unit of the high half of a stripe word: the version.
const VERSION_UNIT: u64 = 1 << 32;

/// Proof that a reader looked at `key`'s stripe version before reading RocksDB; see the module
/// docs. A ticket is only good for one [`ValueCache::fill`].
#[derive(Debug)]
#[must_use = "a fill ticket is only useful if passed to ValueCache::fill"]
pub(crate) struct FillTicket {
    /// The key, owned: the entry a fill inserts keeps this allocation. Empty (no allocation)
    /// for a ticket no fill can use: the cache is off or the ticket is void.
    key: Box<[u8]>,
    /// The key's hash ([`spread_bytes`]), so the fill does not hash it again.
    hash: u64,
    /// The stripe word when the ticket was taken.
    word: u64,
    /// Whether the doorkeeper let the fill in (always, without admission).
    admitted: bool,
}

impl FillTicket {
    /// A ticket taken while a write of a key of its stripe was in progress: its fill is refused.
    fn is_void(&self) -> bool {
        self.word & PENDING_MASK != 0
    }
}

struct ShardInner {
    lru: LruCache<Box<[u8]>, Arc<[u8]>>,
    bytes: usize,
}

struct Shard {
    inner: Mutex<ShardInner>,
    /// Stripe words (module docs), changed only under `inner`'s lock.
    words: Box<[AtomicU64]>,
}

/// A sharded, byte- and entry-bounded LRU of values, with stale-fill protection.
pub(crate) struct ValueCache {
    /// Empty when the cache is off.
    shards: Box<[Shard]>,
    shard_mask: usize,
    shard_bytes: usize,
    shard_entries: usize,
    capacity_bytes: usize,
    hits: Counter,
    misses: Counter,
    inserts: Counter,
    rejected_fills: Counter,
    evictions: Counter,
    invalidations: Counter,
    unadmitted_fills: Counter,
    /// Present when admission is on (and the cache is).
    doorkeeper: Option<Doorkeeper>,
}

impl ValueCache {
    /// A cache of the given shape (off when either bound is 0).
    pub(crate) fn from_config(config: &CacheConfig) -> Self {
        let cache = Self::new(config.bytes, config.entries, config.shards);
        if config.admission {
            cache.with_admission()
        } else {
            cache
        }
    }

    /// This cache, admitting values on their key's second miss (module docs, "Admission").
    pub(crate) fn with_admission(mut self) -> Self {
        if self.is_enabled() {
            self.doorkeeper = Some(Doorkeeper::new(self.capacity_bytes / DOORKEEPER_FRACTION));
        }
        self
    }

    /// A cache holding at most `bytes` bytes and `entries` entries over `shards` shards
    /// (rounded up to a power of two). Off when `bytes` or `entries` is 0.
    pub(crate) fn new(bytes: usize, entries: usize, shards: usize) -> Self {
        let enabled = bytes > 0 && entries > 0;
        let n = if enabled {
            shards.max(1).next_power_of_two()
        } else {
            0
        };
        let shards: Box<[Shard]> = (0..n)
            .map(|_| Shard {
                inner: Mutex::new(ShardInner {
                    lru: LruCache::unbounded(),
                    bytes: 0,
                }),
                words: (0..STRIPES_PER_SHARD).map(|_| AtomicU64::new(0)).collect(),
            })
            .collect();
        ValueCache {
            shard_mask: n.saturating_sub(1),
            shard_bytes: bytes.checked_div(n).map_or(0, |b| b.max(1)),
            shard_entries: entries.checked_div(n).map_or(0, |e| e.max(1)),
            capacity_bytes: if enabled { bytes } else { 0 },
            shards,
            hits: Counter::new(),
            misses: Counter::new(),
            inserts: Counter::new(),
            rejected_fills: Counter::new(),
            evictions: Counter::new(),
            invalidations: Counter::new(),
            unadmitted_fills: Counter::new(),
            doorkeeper: None,
        }
    }

    /// True when the cache can hold anything.
    #[inline]
    pub(crate) fn is_enabled(&self) -> bool {
        !self.shards.is_empty()
    }

    /// The shard and stripe of a key whose hash ([`spread_bytes`]) is `hash`.
    #[inline]
    fn locate(&self, hash: u64) -> (&Shard, usize) {
        let shard = &self.shards[(hash as usize) & self.shard_mask];
        (shard, (hash >> 32) as usize % STRIPES_PER_SHARD)
    }

    /// The cached value of `key`, marking it most recently used.
    pub(crate) fn get(&self, key: &[u8]) -> Option<Arc<[u8]>> {
        if !self.is_enabled() {
            return None;
        }
        let (shard, _) = self.locate(spread_bytes(key));
        let found = shard.inner.lock().lru.get(key).cloned();
        match found {
            Some(_) => self.hits.inc(),
            None => self.misses.inc(),
        }
        found
    }

    /// Takes a ticket for filling `key`. Call it **before** reading the value from RocksDB.
    /// A usable ticket holds a copy of the key (the one allocation a fill needs for it).
    pub(crate) fn begin_fill(&self, key: &[u8]) -> FillTicket {
        if !self.is_enabled() {
            return FillTicket {
                key: Box::default(),
                hash: 0,
                word: 0,
                admitted: false,
            };
        }
        let hash = spread_bytes(key);
        let (shard, stripe) = self.locate(hash);
        // Acquire pairs with the Release of `end_write`: seeing its word means seeing the
        // RocksDB write that preceded it.
        let word = shard.words[stripe].load(Ordering::Acquire);
        let admitted = self.doorkeeper.as_ref().is_none_or(|d| d.admit(hash));
        let mut ticket = FillTicket {
            key: Box::default(),
            hash,
            word,
            admitted,
        };
        if admitted && !ticket.is_void() {
            ticket.key = Box::from(key);
        }
        ticket
    }

    /// Inserts the value a reader fetched after taking `ticket`, unless a write of a key of the
    /// stripe was in progress when the ticket was taken or has started since (then the value may
    /// be stale), or the value is larger than a shard. Returns whether the value was inserted.
    pub(crate) fn fill(&self, ticket: FillTicket, value: &[u8]) -> bool {
        if !self.is_enabled() {
            return false;
        }
        if !ticket.admitted {
            self.unadmitted_fills.inc();
            return false;
        }
        let charge = entry_charge(ticket.key.len(), value.len());
        if charge > self.shard_bytes || ticket.is_void() {
            self.rejected_fills.inc();
            return false;
        }
        let (shard, stripe) = self.locate(ticket.hash);
        if shard.words[stripe].load(Ordering::Relaxed) != ticket.word {
            // Already refused: skip the allocation and the lock.
            self.rejected_fills.inc();
            return false;
        }
        // Allocate outside the lock.
        let value: Arc<[u8]> = Arc::from(value);
        let mut inner = shard.inner.lock();
        // Under the lock: words change only while holding it, so the comparison and the insert
        // are atomic with respect to every begin_write / end_write.
        if shard.words[stripe].load(Ordering::Relaxed) != ticket.word {
            drop(inner);
            self.rejected_fills.inc();
            return false;
        }
        if let Some((k, old)) = inner.lru.push(ticket.key, value) {
            inner.bytes -= entry_charge(k.len(), old.len());
        }
        inner.bytes += charge;
        let mut evicted = 0;
        while inner.bytes > self.shard_bytes || inner.lru.len() > self.shard_entries {
            match inner.lru.pop_lru() {
                Some((k, v)) => {
                    inner.bytes -= entry_charge(k.len(), v.len());
                    evicted += 1;
                }
                None => break,
            }
        }
        drop(inner);
        self.inserts.inc();
        if evicted > 0 {
            self.evictions.add(evicted);
        }
        true
    }

    /// Announces a write of `key`: removes it and refuses every fill of its stripe until the
    /// matching [`ValueCache::end_write`]. Call it before the RocksDB write.
    pub(crate) fn begin_write(&self, key: &[u8]) {
        if !self.is_enabled() {
            return;
        }
        let (shard, stripe) = self.locate(spread_bytes(key));
        let mut inner = shard.inner.lock();
        shard.words[stripe].fetch_add(1, Ordering::Release);
        if let Some(old) = inner.lru.pop(key) {
            inner.bytes -= entry_charge(key.len(), old.len());
        }
        drop(inner);
        self.invalidations.inc();
    }

    /// Ends a write announced by [`ValueCache::begin_write`], after the RocksDB write (whether it
    /// succeeded or not). Tickets taken from now on see the write.
    pub(crate) fn end_write(&self, key: &[u8]) {
        if !self.is_enabled() {
            return;
        }
        let (shard, stripe) = self.locate(spread_bytes(key));
        let _inner = shard.inner.lock();
        // Release: a reader whose ticket sees this word also sees the writer's RocksDB write.
        // Pending -1 and version +1 in one step, so the word never returns to an old value.
        shard.words[stripe].fetch_add(VERSION_UNIT - 1, Ordering::Release);
    }

    /// [`ValueCache::begin_write`] for every key at once (bulk writes): empties the cache.
    pub(crate) fn begin_write_all(&self) {
        for shard in self.shards.iter() {
            let mut inner = shard.inner.lock();
            for w in shard.words.iter() {
                w.fetch_add(1, Ordering::Release);
            }
            inner.lru.clear();
            inner.bytes = 0;
        }
    }

    /// Ends a [`ValueCache::begin_write_all`].
    pub(crate) fn end_write_all(&self) {
        for shard in self.shards.iter() {
            let _inner = shard.inner.lock();
            for w in shard.words.iter() {
                w.fetch_add(VERSION_UNIT - 1, Ordering::Release);
            }
        }
    }

    /// Removes `key` and refuses every fill whose ticket predates this call: a
    /// [`ValueCache::begin_write`] and [`ValueCache::end_write`] with nothing in between.
    #[cfg(test)]
    pub(crate) fn invalidate(&self, key: &[u8]) {
        self.begin_write(key);
        self.end_write(key);
    }

    /// Drops every entry and refuses every outstanding ticket.
    #[cfg(test)]
    pub(crate) fn clear(&self) {
        for shard in self.shards.iter() {
            let mut inner = shard.inner.lock();
            for w in shard.words.iter() {
                w.fetch_add(VERSION_UNIT, Ordering::Release);
            }
            inner.lru.clear();
            inner.bytes = 0;
        }
    }

    /// Fraction of lookups that hit, 0 before any lookup.
    #[cfg(test)]
    pub(crate) fn hit_rate(&self) -> f64 {
        ratio(self.hits.get(), self.misses.get())
    }

    /// Counters and current sizes (locks each shard briefly to read its size).
    pub(crate) fn stats(&self) -> CacheStats {
        let (mut bytes, mut entries) = (0u64, 0u64);
        for shard in self.shards.iter() {
            let inner = shard.inner.lock();
            bytes += inner.bytes as u64;
            entries += inner.lru.len() as u64;
        }
        let (hits, misses) = (self.hits.get(), self.misses.get());
        CacheStats {
            enabled: self.is_enabled(),
            hits,
            misses,
            inserts: self.inserts.get(),
            rejected_fills: self.rejected_fills.get(),
            evictions: self.evictions.get(),
            invalidations: self.invalidations.get(),
            unadmitted_fills: self.unadmitted_fills.get(),
            bytes,
            entries,
            doorkeeper_bytes: self.doorkeeper.as_ref().map_or(0, |d| d.bytes() as u64),
            capacity_bytes: self.capacity_bytes as u64,
            hit_rate: ratio(hits, misses),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// The bytes of the `u64` key `n`.
    fn kb(n: u64) -> [u8; 8] {
        n.to_be_bytes()
    }

    fn fill_now(c: &ValueCache, key: &[u8], v: &[u8]) -> bool {
        c.fill(c.begin_fill(key), v)
    }

    #[test]
    fn with_admission_a_value_enters_on_its_second_miss() {
        let c = ValueCache::new(1 << 20, 1000, 4).with_admission();
        for n in 0..100u64 {
            assert!(!fill_now(&c, &kb(n), b"v"), "first miss of {n} admitted");
            assert_eq!(c.get(&kb(n)), None);
        }
        let admitted = (0..100u64).filter(|&n| fill_now(&c, &kb(n), b"v")).count();
        assert_eq!(admitted, 100);
        for n in 0..100u64 {
            assert_eq!(c.get(&kb(n)).as_deref(), Some(&b"v"[..]));
        }
        let s = c.stats();
        assert_eq!((s.unadmitted_fills, s.inserts), (100, 100));
        assert!(s.doorkeeper_bytes > 0);
        // Off, the cache admits nothing and keeps no doorkeeper.
        let off = ValueCache::new(0, 0, 4).with_admission();
        assert_eq!(off.stats().doorkeeper_bytes, 0);
    }

    #[test]
    fn fill_then_get_hits_and_counts() {
        let c = ValueCache::new(1 << 20, 1000, 4);
        assert!(c.get(&kb(1)).is_none());
        assert!(fill_now(&c, &kb(1), b"one"));
        assert_eq!(c.get(&kb(1)).as_deref(), Some(&b"one"[..]));
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.inserts, s.entries), (1, 1, 1, 1));
        assert_eq!(s.bytes, entry_charge(8, 3) as u64);
        assert_eq!(c.hit_rate(), 0.5);
    }

    #[test]
    fn fill_after_invalidate_is_refused() {
        let c = ValueCache::new(1 << 20, 1000, 4);
        let t = c.begin_fill(&kb(7));
        c.invalidate(&kb(7)); // a writer replaced key 7 between our ticket and our fill
        assert!(!c.fill(t, b"old"));
        assert!(c.get(&kb(7)).is_none());
        assert_eq!(c.stats().rejected_fills, 1);
        // A fresh ticket works.
        assert!(fill_now(&c, &kb(7), b"new"));
    }

    #[test]
    fn invalidate_removes_a_filled_value() {
        let c = ValueCache::new(1 << 20, 1000, 1);
        assert!(fill_now(&c, &kb(3), b"v"));
        c.invalidate(&kb(3));
        assert!(c.get(&kb(3)).is_none());
        assert_eq!(c.stats().bytes, 0);
    }

    #[test]
    fn refill_replaces_and_recharges() {
        let c = ValueCache::new(1 << 20, 1000, 1);
        assert!(fill_now(&c, &kb(3), &[0; 100]));
        assert!(fill_now(&c, &kb(3), &[0; 10]));
        let s = c.stats();
        assert_eq!((s.entries, s.bytes), (1, entry_charge(8, 10) as u64));
    }

    #[test]
    fn keys_that_prefix_each_other_and_the_empty_key_are_distinct_entries() {
        let c = ValueCache::new(1 << 20, 1000, 4);
        let keys: [&[u8]; 8] = [
            b"",
            b"\0",
            b"a",
            b"ab",
            b"ab\0",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefghi",
        ];
        for (i, key) in keys.iter().enumerate() {
            assert!(fill_now(&c, key, &[i as u8]));
        }
        let charged: usize = keys.iter().map(|k| entry_charge(k.len(), 1)).sum();
        assert_eq!(c.stats().bytes, charged as u64);
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(c.get(key).as_deref(), Some(&[i as u8][..]), "{key:?}");
        }
        // Writing a key leaves its prefixes and extensions cached.
        for gone in [&b""[..], b"ab"] {
            c.invalidate(gone);
            assert!(c.get(gone).is_none());
        }
        for (i, key) in keys
            .iter()
            .enumerate()
            .filter(|(_, key)| !key.is_empty() && **key != b"ab")
        {
            assert_eq!(c.get(key).as_deref(), Some(&[i as u8][..]), "{key:?}");
        }
        let left = charged - entry_charge(0, 1) - entry_charge(2, 1);
        assert_eq!(c.stats().bytes, left as u64);
    }

    #[test]
    fn an_entry_is_charged_its_keys_bytes() {
        // The empty key has no block of its own; a key's block grows with it.
        assert_eq!(entry_charge(8, 1) - entry_charge(0, 1), MIN_BLOCK);
        assert!(entry_charge(1024, 1) >= entry_charge(0, 1) + 1024 + 8);
        let c = ValueCache::new(1 << 20, 1000, 1);
        let long = vec![7u8; 1024];
        assert!(fill_now(&c, &long, b"v"));
        assert_eq!(c.stats().bytes, entry_charge(1024, 1) as u64);
        c.begin_write(&long);
        assert_eq!(c.stats().bytes, 0);
        c.end_write(&long);
    }

    #[test]
    fn entry_bound_evicts_least_recently_used() {
        let c = ValueCache::new(1 << 20, 2, 1);
        fill_now(&c, &kb(1), b"a");
        fill_now(&c, &kb(2), b"b");
        c.get(&kb(1)); // 2 is now least recently used
        fill_now(&c, &kb(3), b"c");
        assert!(c.get(&kb(2)).is_none());
        assert!(c.get(&kb(1)).is_some() && c.get(&kb(3)).is_some());
        assert_eq!(c.stats().evictions, 1);
    }

    #[test]
    fn byte_bound_is_kept() {
        let cap = 10 * entry_charge(8, 100);
        let c = ValueCache::new(cap, 1_000_000, 1);
        for k in 0..100 {
            fill_now(&c, &kb(k), &[k as u8; 100]);
        }
        let s = c.stats();
        assert!(s.bytes <= cap as u64);
        assert_eq!(s.entries, 10);
        assert_eq!(s.evictions, 90);
        // A value larger than a shard is refused instead of flushing the shard.
        assert!(!fill_now(&c, &kb(1000), &vec![0; cap]));
        assert_eq!(c.stats().entries, 10);
    }

    #[test]
    fn zero_capacity_cache_is_a_no_op() {
        for c in [ValueCache::new(0, 100, 4), ValueCache::new(100, 0, 4)] {
            assert!(!c.is_enabled());
            assert!(!fill_now(&c, &kb(1), b"x"));
            assert!(c.get(&kb(1)).is_none());
            c.invalidate(&kb(1));
            c.clear();
            let s = c.stats();
            assert!(!s.enabled);
            assert_eq!((s.hits, s.misses, s.inserts, s.invalidations), (0, 0, 0, 0));
        }
    }

    #[test]
    fn clear_drops_entries_and_outstanding_tickets() {
        let c = ValueCache::new(1 << 20, 100, 2);
        fill_now(&c, &kb(1), b"x");
        let t = c.begin_fill(&kb(2));
        c.clear();
        assert!(c.get(&kb(1)).is_none());
        assert!(!c.fill(t, b"y"));
    }

    #[test]
    fn tickets_taken_during_a_write_are_void_and_the_key_is_gone() {
        let c = ValueCache::new(1 << 20, 1000, 1);
        assert!(fill_now(&c, &kb(4), b"old"));
        let before = c.begin_fill(&kb(4));
        c.begin_write(&kb(4));
        assert!(c.get(&kb(4)).is_none(), "begin_write removes the key");
        let during = c.begin_fill(&kb(4));
        assert!(!c.fill(during, b"old"), "a ticket taken mid-write is void");
        c.end_write(&kb(4));
        // The word moved on: a ticket from before the write is refused too (no ABA).
        assert!(!c.fill(before, b"old"));
        assert!(c.get(&kb(4)).is_none());
        assert!(fill_now(&c, &kb(4), b"new"));
        assert_eq!(c.get(&kb(4)).as_deref(), Some(&b"new"[..]));
    }

    #[test]
    fn overlapping_writes_in_one_stripe_keep_fills_refused_until_the_last_ends() {
        let c = ValueCache::new(1 << 20, 1000, 1);
        // Two keys of one stripe: with one shard and 64 stripes, among 65 keys two collide.
        let stripe = |k: u64| c.locate(spread_bytes(&kb(k))).1;
        let a = 0u64;
        let b = (1..).find(|&k| stripe(k) == stripe(a)).unwrap();
        c.begin_write(&kb(a));
        c.begin_write(&kb(b));
        c.end_write(&kb(a));
        assert!(
            !fill_now(&c, &kb(a), b"x"),
            "b's write is still in progress"
        );
        c.end_write(&kb(b));
        assert!(fill_now(&c, &kb(a), b"x"));
    }

    #[test]
    fn write_all_empties_the_cache_and_refuses_fills_until_it_ends() {
        let c = ValueCache::new(1 << 20, 1000, 4);
        for k in 0..50 {
            fill_now(&c, &kb(k), b"v");
        }
        let before = c.begin_fill(&kb(7));
        c.begin_write_all();
        assert_eq!(c.stats().entries, 0);
        assert_eq!(c.stats().bytes, 0);
        assert!(!fill_now(&c, &kb(7), b"w"));
        c.end_write_all();
        assert!(!c.fill(before, b"v"));
        assert!(fill_now(&c, &kb(7), b"w"));
    }

    /// One writer replaces values (begin_write, store, end_write) while readers run the fill
    /// protocol against the store. After each write the writer must never see an older value in
    /// the cache; a reader must never hit a value older than one it already read from the store;
    /// at the end every cached value must equal the store's.
    #[test]
    fn concurrent_fills_never_leave_a_stale_value() {
        const KEYS: usize = 16;
        let cache = Arc::new(ValueCache::new(1 << 20, 1 << 10, 2));
        let store: Arc<Vec<AtomicU64>> = Arc::new((0..KEYS).map(|_| AtomicU64::new(0)).collect());
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..3)
            .map(|r| {
                let (cache, store, done) = (cache.clone(), store.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut i = r;
                    let mut seen = [0u64; KEYS];
                    while !done.load(Ordering::Relaxed) {
                        let k = i % KEYS;
                        i += 7;
                        if let Some(v) = cache.get(&kb(k as u64)) {
                            let v = u64::from_le_bytes(v[..].try_into().unwrap());
                            assert!(v >= seen[k], "key {k}: hit {v} after reading {}", seen[k]);
                            seen[k] = v;
                            continue;
                        }
                        let t = cache.begin_fill(&kb(k as u64));
                        let v = store[k].load(Ordering::Acquire);
                        seen[k] = seen[k].max(v);
                        if i % 3 == 0 {
                            std::thread::yield_now(); // widen the race window
                        }
                        cache.fill(t, &v.to_le_bytes());
                    }
                })
            })
            .collect();
        // Run at least 20k rounds, and on until the readers (slow to start) have filled a lot.
        let start = std::time::Instant::now();
        let mut round = 0u64;
        while round < 20_000 || (cache.inserts.get() < 1_000 && start.elapsed().as_secs() < 20) {
            round += 1;
            let k = (round as usize * 5) % KEYS;
            cache.begin_write(&kb(k as u64));
            store[k].store(round, Ordering::Release);
            if round % 7 == 0 {
                std::thread::yield_now(); // widen the window between the store and end_write
            }
            cache.end_write(&kb(k as u64));
            if let Some(v) = cache.get(&kb(k as u64)) {
                let v = u64::from_le_bytes(v[..].try_into().unwrap());
                assert_eq!(v, round, "stale value for key {k}");
            }
        }
        done.store(true, Ordering::Relaxed);
        for r in readers {
            r.join().unwrap();
        }
        for (k, slot) in store.iter().enumerate() {
            if let Some(v) = cache.get(&kb(k as u64)) {
                assert_eq!(&v[..], &slot.load(Ordering::Relaxed).to_le_bytes()[..]);
            }
        }
        assert!(cache.stats().inserts >= 1_000, "readers did fill");
    }
}
