//! Which writes may run at the same time: writes that share no key.
//!
//! Writers do not hold one engine-wide mutex across their RocksDB write: concurrent writers
//! reach RocksDB together, where its write thread groups them (one WAL write; memtable inserts
//! in parallel), or with `sync_writes` share one RocksDB write and one fsync (`sync_group`).
//! Only the short hot-tier append and index update that follow a commit run under the writer
//! mutex.
//!
//! That is only correct if two writes of the **same** key never overlap: the index must end up
//! with the location of the key's last RocksDB commit, and overlapping writes could commit in
//! one order and update the index in the other. So every write first takes the locks of its
//! keys here, and holds them until its index update is done: writes of one key are serialised
//! from before their commit to after their index update, and writes of different keys are
//! free to interleave (their order is invisible: each key's reads are linearisable on their
//! own, see `inflight`).
//!
//! # Layout
//!
//! [`STRIPES`] mutexes chosen by key hash, each on its own cache line (two writers of
//! different keys write no common line). A write of at most [`MAX_STRIPED_KEYS`] keys takes
//! the shared side of `bulk` and then its stripes in increasing order (one global order, so
//! no deadlock); a larger write takes `bulk` exclusively, which waits for every striped
//! write and keeps new ones out.

use crate::machine::hash::stripe_bytes;
use crossbeam::utils::CachePadded;
use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Number of stripes; a power of two.
pub(super) const STRIPES: usize = 1024;
/// Writes of more keys than this lock everything (`bulk` exclusively) instead of stripes.
pub(super) const MAX_STRIPED_KEYS: usize = 64;

/// The key locks of a `Db` (module docs).
pub(super) struct KeyLocks {
    bulk: RwLock<()>,
    stripes: Box<[CachePadded<Mutex<()>>]>,
}

/// Held from before a write's RocksDB commit until after its index update; the guards it
/// holds are only ever dropped.
pub(super) enum KeyGuard<'a> {
    /// A write of one key.
    One {
        _bulk: RwLockReadGuard<'a, ()>,
        _stripe: MutexGuard<'a, ()>,
    },
    /// A write of a few keys: their distinct stripes, in increasing order.
    Some {
        _bulk: RwLockReadGuard<'a, ()>,
        _stripes: Vec<MutexGuard<'a, ()>>,
    },
    /// A large write, or one that must exclude every other write (bulk ingestion).
    All { _bulk: RwLockWriteGuard<'a, ()> },
}

#[inline]
fn stripe_of(key: &[u8]) -> usize {
    stripe_bytes(key, STRIPES)
}

impl KeyLocks {
    pub(super) fn new() -> Self {
        KeyLocks {
            bulk: RwLock::new(()),
            stripes: (0..STRIPES)
                .map(|_| CachePadded::new(Mutex::new(())))
                .collect(),
        }
    }

    /// Locks the stripes of `keys` (any order, repeats allowed), or everything when there are
    /// more than [`MAX_STRIPED_KEYS`].
    pub(super) fn lock<K: AsRef<[u8]>>(
        &self,
        keys: impl ExactSizeIterator<Item = K>,
    ) -> KeyGuard<'_> {
        let n = keys.len();
        if n > MAX_STRIPED_KEYS {
            return self.lock_all();
        }
        let shared = self.bulk.read();
        if n == 1 {
            let mut keys = keys;
            let stripe = keys.next().map_or(0, |k| stripe_of(k.as_ref()));
            return KeyGuard::One {
                _bulk: shared,
                _stripe: self.stripes[stripe].lock(),
            };
        }
        let mut ids: Vec<usize> = keys.map(|k| stripe_of(k.as_ref())).collect();
        ids.sort_unstable();
        ids.dedup();
        KeyGuard::Some {
            _bulk: shared,
            _stripes: ids.into_iter().map(|i| self.stripes[i].lock()).collect(),
        }
    }

    /// Excludes every other write until the guard is dropped.
    pub(super) fn lock_all(&self) -> KeyGuard<'_> {
        KeyGuard::All {
            _bulk: self.bulk.write(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
    use std::sync::Barrier;

    #[test]
    fn writes_of_a_shared_key_never_overlap() {
        let locks = KeyLocks::new();
        let inside = AtomicU32::new(0);
        let overlapped = AtomicBool::new(false);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (locks, inside, overlapped) = (&locks, &inside, &overlapped);
                s.spawn(move || {
                    for i in 0..2000u64 {
                        // Every write includes key 7, mixed with keys of its own.
                        let keys: Vec<u64> = match i % 3 {
                            0 => vec![7],
                            1 => vec![t * 1000 + i, 7, t * 1000 + i + 1],
                            _ => (0..100).map(|j| t * 1_000_000 + j).chain([7]).collect(),
                        };
                        let _g = locks.lock(keys.into_iter().map(u64::to_be_bytes));
                        if inside.fetch_add(1, SeqCst) != 0 {
                            overlapped.store(true, SeqCst);
                        }
                        std::hint::spin_loop();
                        inside.fetch_sub(1, SeqCst);
                    }
                });
            }
        });
        assert!(!overlapped.load(SeqCst));
    }

    #[test]
    fn writes_of_different_keys_run_together() {
        let locks = KeyLocks::new();
        // Two keys in different stripes.
        let a = 1u64;
        let b = (2u64..)
            .find(|&k| stripe_of(&k.to_be_bytes()) != stripe_of(&a.to_be_bytes()))
            .unwrap();
        let both_inside = Barrier::new(2);
        std::thread::scope(|s| {
            for key in [a, b] {
                let (locks, both_inside) = (&locks, &both_inside);
                s.spawn(move || {
                    let _g = locks.lock([key, key].into_iter().map(u64::to_be_bytes));
                    // Deadlocks (and the test hangs) if the two guards exclude each other.
                    both_inside.wait();
                });
            }
        });
    }

    #[test]
    fn a_large_write_excludes_striped_writes() {
        let locks = KeyLocks::new();
        let all = locks.lock(
            (0..MAX_STRIPED_KEYS as u64 + 1)
                .map(u64::to_be_bytes)
                .collect::<Vec<_>>()
                .into_iter(),
        );
        assert!(matches!(all, KeyGuard::All { .. }));
        assert!(locks.bulk.try_read().is_none());
        drop(all);
        let one = locks.lock([5u64.to_be_bytes()].into_iter());
        assert!(locks.bulk.try_write().is_none());
        drop(one);
        assert!(locks.bulk.try_write().is_some());
    }
}
