//! Which point reads add the data block they read to RocksDB's block cache
//! (`Options::block_cache_admission`).
//!
//! With the value cache on, a value read again is served by the value cache (it enters on its
//! second miss), so the block a point read brings from a file is worth caching only for reads
//! of its *other* keys: a walk through neighbouring keys. Filling costs a block-cache insert
//! and an eviction on every read that reaches RocksDB (about 0.4 µs a read at 10M keys beyond
//! the caches: `internal/PERFORMANCE.md`, "Block cache admission"). So a point read fills only
//! when its key is a *neighbour* of the last key this thread read from RocksDB: the two share
//! at least `s + ceil(log2 n) - 5` leading bits, for `n` keys in the index whose smallest and
//! largest share `s` leading bits (so every key does: for `u64` keys 0..10M, the top 40).
//! Beyond those, that many bits pick one of about `n / 32` equal ranges of the keys' span; when
//! keys spread over it, each range holds ~32 keys, so consecutive keys share the bits about 15
//! times in 16 and two random keys once in `n / 32`. A key read twice in a row is its own
//! neighbour. Keys bunched in a part of their span fill more often (a cost, never a wrong
//! answer). Without the value cache, or with the option off, every point read fills, as plain
//! RocksDB's do.
//!
//! The last key is per thread (a walk is one thread's: walks that take turns on one thread,
//! as tasks of an async executor may, look random and do not fill), tagged with the `Db` it
//! was read from; the threshold is per `Db`, recomputed under the index read lock every
//! [`REFRESH_EVERY`] cold reads of a thread, and whenever the thread's last read was from
//! another `Db` (a thread that alternates between two `Db`s recomputes on every such read and
//! never fills).

use super::Db;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Cold reads of a thread between two refreshes of its `Db`'s threshold.
const REFRESH_EVERY: u32 = 4096;
/// Keys per range of the key space two neighbours share (a power of two: `2^5`).
const RANGE_KEYS_LOG2: u32 = 5;
/// The threshold before it was first computed: no key is anyone's neighbour.
const UNSET: u32 = u32::MAX;
/// Identities of `Db`s (0: none), never reused in a process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A `Db`'s identity and neighbour threshold, in leading bits.
pub(super) struct BlockFill {
    id: u64,
    shared_bits: AtomicU32,
}

/// What a thread remembers of its last read that reached RocksDB.
struct LastRead {
    /// The identity of the `Db` it was read from (`BlockFill::id`).
    db: u64,
    key: Vec<u8>,
    /// Cold reads until this thread refreshes the threshold.
    until_refresh: u32,
}

thread_local! {
    static LAST: RefCell<LastRead> = const {
        RefCell::new(LastRead { db: 0, key: Vec::new(), until_refresh: 0 })
    };
}

impl BlockFill {
    pub(super) fn new() -> Self {
        BlockFill {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shared_bits: AtomicU32::new(UNSET),
        }
    }
}

/// Leading bits `a` and `b` share (a key that is a prefix of the other shares all its bits).
fn shared_bits(a: &[u8], b: &[u8]) -> u32 {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => 8 * i as u32 + (a[i] ^ b[i]).leading_zeros(),
        None => 8 * a.len().min(b.len()) as u32,
    }
}

/// The threshold for `n` keys that all share `shared` leading bits (module docs).
fn threshold(n: usize, shared: u32) -> u32 {
    let log2 = usize::BITS - n.max(2).saturating_sub(1).leading_zeros(); // ceil(log2 n)
    (shared + log2).saturating_sub(RANGE_KEYS_LOG2)
}

impl Db {
    /// Whether a point read of `key` that reaches RocksDB adds its block to the block cache
    /// (module docs); remembers `key` as this thread's last.
    pub(super) fn fills_block_cache(&self, key: &[u8]) -> bool {
        if !self.opts.block_cache_admission || !self.cache.is_enabled() {
            return true;
        }
        let id = self.block_fill.id;
        // Thread-local storage already torn down (a read from a destructor at thread exit):
        // fill, as RocksDB would.
        LAST.try_with(|cell| {
            // Never borrowed across a call out of this function; fill if it ever were.
            let Ok(mut last) = cell.try_borrow_mut() else {
                return true;
            };
            if last.until_refresh == 0 || last.db != id {
                let bits = {
                    let index = self.index.read();
                    let span = index
                        .first()
                        .zip(index.last())
                        .map_or(0, |((lo, _), (hi, _))| shared_bits(&lo, &hi));
                    threshold(index.len(), span)
                };
                self.block_fill.shared_bits.store(bits, Ordering::Relaxed);
                last.until_refresh = REFRESH_EVERY;
            }
            last.until_refresh -= 1;
            let near = last.db == id
                && shared_bits(&last.key, key)
                    >= self.block_fill.shared_bits.load(Ordering::Relaxed);
            last.db = id;
            last.key.clear();
            last.key.extend_from_slice(key);
            near
        })
        .unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_bits_count_the_common_leading_bits() {
        assert_eq!(shared_bits(b"", b"abc"), 0);
        assert_eq!(shared_bits(b"ab", b"abc"), 16);
        assert_eq!(shared_bits(b"abc", b"abc"), 24);
        assert_eq!(shared_bits(&[0x80], &[0x00]), 0);
        assert_eq!(shared_bits(&[0x12, 0x40], &[0x12, 0x41]), 15);
        assert_eq!(shared_bits(&7u64.to_be_bytes(), &6u64.to_be_bytes()), 63);
    }

    #[test]
    fn the_threshold_tells_apart_ranges_of_about_32_keys() {
        assert_eq!(threshold(0, 0), 0);
        assert_eq!(threshold(32, 0), 0);
        assert_eq!(threshold(10_000_000, 0), 19); // 2^24 > 10M > 2^23
        assert_eq!(threshold(1 << 20, 32), 32 + 15);
    }
}
