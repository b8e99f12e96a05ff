//! The value cache's presence counts: how many held keys fall on each of a power of two of
//! counters, by key hash, so that a lookup of a key the cache does not hold usually ends on one
//! byte, without the shard lock and the LRU's table (the cache's module docs, "Presence").
//!
//! A counter is zero only when no held key hashes to it: a lookup that finds zero may skip the
//! cache, one that finds more looks the key up as before. The counter of a hash is chosen by
//! the hash's low bits, which include the bits that choose the shard, so each counter belongs
//! to one shard and changes only under that shard's lock (relaxed loads and stores; readers
//! take no lock). A counter that reaches 255 stays there (a lookup then always looks).

use std::sync::atomic::{AtomicU8, Ordering};

/// Counters per entry the cache can hold (rounded up to a power of two): with one key per
/// entry at most one counter in four is non-zero.
const COUNTERS_PER_ENTRY: usize = 4;
/// A counter that reached this stays.
const STUCK: u8 = u8::MAX;

/// Presence counters of the keys a value cache holds.
pub(super) struct Presence {
    counts: Box<[AtomicU8]>,
    mask: usize,
}

impl Presence {
    /// Counters for a cache of at most `entries` entries over `shards` shards (a power of two).
    pub(super) fn new(entries: usize, shards: usize) -> Self {
        let len = entries
            .saturating_mul(COUNTERS_PER_ENTRY)
            .max(shards)
            .max(64)
            .next_power_of_two();
        Presence {
            counts: (0..len).map(|_| AtomicU8::new(0)).collect(),
            mask: len - 1,
        }
    }

    #[inline]
    fn counter(&self, hash: u64) -> &AtomicU8 {
        &self.counts[hash as usize & self.mask]
    }

    /// False when the cache holds no key of hash `hash` (lock-free; see the module docs).
    #[inline]
    pub(super) fn may_hold(&self, hash: u64) -> bool {
        self.counter(hash).load(Ordering::Relaxed) != 0
    }

    /// A key of hash `hash` entered the cache. Call under its shard's lock.
    pub(super) fn added(&self, hash: u64) {
        let c = self.counter(hash);
        let n = c.load(Ordering::Relaxed);
        if n != STUCK {
            c.store(n + 1, Ordering::Relaxed);
        }
    }

    /// A key of hash `hash` left the cache. Call under its shard's lock.
    pub(super) fn removed(&self, hash: u64) {
        let c = self.counter(hash);
        let n = c.load(Ordering::Relaxed);
        debug_assert!(n != 0, "a presence count went below zero");
        if n != STUCK && n != 0 {
            c.store(n - 1, Ordering::Relaxed);
        }
    }

    /// Shard `shard` of `shards` (a power of two) holds nothing any more. Call under its lock.
    pub(super) fn cleared(&self, shard: usize, shards: usize) {
        for c in self.counts.iter().skip(shard).step_by(shards) {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// Bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.counts.len()
    }

    /// True when every counter is zero (tests).
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.counts.iter().all(|c| c.load(Ordering::Relaxed) == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_is_zero_only_when_no_held_key_falls_on_it_and_sticks_at_its_top() {
        let p = Presence::new(100, 4);
        assert_eq!(p.bytes(), 512);
        let (a, b) = (7u64, 7 + 512); // one counter
        assert!(!p.may_hold(a) && !p.may_hold(b));
        p.added(a);
        p.added(b);
        assert!(p.may_hold(b));
        p.removed(a);
        assert!(p.may_hold(a), "b still falls on the counter");
        p.removed(b);
        assert!(!p.may_hold(a));
        for _ in 0..300 {
            p.added(a);
        }
        for _ in 0..300 {
            p.removed(a);
        }
        assert!(p.may_hold(a), "a counter that reached its top stays");
        // Clearing shard 3 of 4 zeroes the counters whose low bits are 3 (stuck ones too: the
        // shard holds nothing), and only those.
        p.added(3);
        p.added(2);
        p.cleared(3, 4);
        assert!(!p.may_hold(a) && !p.may_hold(3));
        assert!(p.may_hold(2));
    }
}
