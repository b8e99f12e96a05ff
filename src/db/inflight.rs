//! Which keys have a write in flight: the window between a write's RocksDB commit and the end of
//! its index update, during which RocksDB is ahead of the index.
//!
//! # Why readers need it
//!
//! A reader looks a key up in the index and then reads the value (hot tier, cache or RocksDB).
//! Nothing holds the two steps together, and RocksDB commits before the index changes. So a
//! reader whose lookup is slightly old can read RocksDB *after* a newer commit and return the
//! new value, while the index still shows the state before that write (an older Hot location,
//! or no key at all after a delete and re-insert). A second read, through the index, would then
//! return the older state: reads would not be monotonic. The concurrency test caught exactly
//! this with large batches (a reader saw version P of a key, then "absent").
//!
//! # The rule
//!
//! Every write marks its keys here *before* its RocksDB commit and unmarks them *after* its
//! index update (and after the hot-tier appends the index points to). A reader checks the mark
//! **before** its index lookup; if the key is marked, it skips the index and the hot tier and
//! takes the Cold path: the value cache, which holds only a key's latest committed value and
//! nothing at all while the key's own write is in progress (`cache`, stale-fill protection; a
//! mark can also come from another key of the stripe), else RocksDB (value or absence). Both
//! answers are linearisable.
//!
//! Why that suffices: if the mark was clear when the reader checked, every write of the key that
//! committed before the check has also finished its index update, so what the reader then finds
//! is at least as new as anything a read that ended before the check could have returned. If
//! the mark was set, the Cold path answers, and any later read sees either the mark (the Cold
//! path again) or a finished write (the index, updated before the mark was cleared). Reads of one key are
//! therefore linearisable. `contains` answers from the index alone (no I/O, by contract) and may
//! report the state before a write in flight.
//!
//! # Layout and cost
//!
//! [`STRIPES`] counters chosen by key hash; a count, not a flag, because several keys of one
//! write may share a stripe. A write does one atomic add and one subtract per key (or per stripe
//! for bulk writes); a read does one load of a line that only writers write, and, only when
//! its stripe carries listed marks (below), takes the lists' read lock (a shared line) for a
//! binary search per listed write. A write of more than `write::BULK_KEYS` keys marks every
//! stripe, so for its duration every read pays that lock and search: still far cheaper than
//! the RocksDB read it replaces. Writes of several keys take the lists' write lock twice.
//!
//! A stripe is shared by many keys, so a mark alone would also send readers of *other* keys to
//! RocksDB: a 1000-key batch marks about 22% of the stripes, and beside batched inserts into 10M
//! keys 18.6% of all reads took the RocksDB path for no reason, which set the reads' p99.9
//! (DESIGN.md, "Decisions that still hold", "Reads, marks and the index lock"). So each
//! counter has two halves:
//!
//! * **unlisted** marks (low half): a write of one key, or a bulk write that marks everything.
//!   A reader of any key of the stripe takes the Cold path, as above.
//! * **listed** marks (high half): a write of several keys first *lists* them here (sorted),
//!   then marks their stripes. A reader that finds only listed marks on its stripe looks its own
//!   key up in the lists (a read lock and a binary search per listed write), and takes the Cold
//!   path only when a write in flight really holds the key.
//!
//! The argument above holds unchanged, because a listed key counts as marked from its stripe
//! mark's add (before the RocksDB commit) until its list entry's removal (after the index
//! update): the entry is added before the marks (a reader that sees a mark then sees the entry)
//! and removed, before the marks, only after the index update (a reader that misses the entry,
//! or finds the mark gone, finds the write's index update done). A key not in any list has no
//! write of it in flight, whatever its stripe says.

use crate::machine::hash::spread_bytes;
use parking_lot::RwLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Number of counters; a power of two.
pub(super) const STRIPES: usize = 4096;

/// One unlisted mark.
const UNLISTED: u64 = 1;
/// One listed mark.
const LISTED: u64 = 1 << 32;

/// The marks of keys with a write in flight (module docs).
pub(super) struct InFlight {
    /// Per stripe: unlisted marks in the low 32 bits, listed marks in the high 32 bits.
    stripes: Box<[AtomicU64]>,
    /// Writes in flight (writers of different keys overlap). Lets a scan skip the per-key checks
    /// when no write was in flight before it looked at the index.
    writes: AtomicU32,
    /// The keys of every listed write in flight, each list sorted, with the write's ticket.
    lists: RwLock<Vec<(u64, KeyList)>>,
    /// The next listed write's ticket.
    next_ticket: AtomicU64,
}

/// A listed write's marks, from [`InFlight::begin_listed`]; hand it back to
/// [`InFlight::end_listed`].
#[must_use]
pub(super) struct Listed {
    ticket: u64,
    /// Whether every stripe was marked (large writes) rather than each key's.
    all: bool,
}

/// A key's hash: its stripe is the low bits, and listed writes list it.
#[inline]
pub(super) fn hash(key: &[u8]) -> u64 {
    spread_bytes(key)
}

#[inline]
fn stripe_of(hash: u64) -> usize {
    hash as usize & (STRIPES - 1)
}

/// The keys of a listed write, strictly increasing, one after the other (one allocation for
/// the bytes, one for the ends, however many keys).
pub(super) struct KeyList {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl KeyList {
    /// Copies `keys`, which must be strictly increasing (a write's final operations are).
    pub(super) fn of_sorted<'k>(keys: impl ExactSizeIterator<Item = &'k [u8]>) -> KeyList {
        let mut list = KeyList {
            bytes: Vec::with_capacity(keys.len() * 8),
            ends: Vec::with_capacity(keys.len()),
        };
        for k in keys {
            list.bytes.extend_from_slice(k);
            list.ends.push(list.bytes.len());
        }
        debug_assert!(list.iter().zip(list.iter().skip(1)).all(|(a, b)| a < b));
        list
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.ends.len()).map(|i| self.get(i))
    }

    /// Whether the list holds `key` (a binary search).
    fn contains(&self, key: &[u8]) -> bool {
        let (mut lo, mut hi) = (0, self.ends.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }
}

impl InFlight {
    pub(super) fn new() -> Self {
        InFlight {
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            writes: AtomicU32::new(0),
            lists: RwLock::new(Vec::new()),
            next_ticket: AtomicU64::new(0),
        }
    }

    /// Starts a write: call before marking its keys.
    pub(super) fn enter(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }

    /// Ends a write: call after unmarking its keys.
    pub(super) fn exit(&self) {
        self.writes.fetch_sub(1, Ordering::Release);
    }

    /// True when some write is in flight. When false, every key's mark was clear at the moment
    /// of the call.
    #[inline]
    pub(super) fn any(&self) -> bool {
        self.writes.load(Ordering::Acquire) != 0
    }

    /// Marks `key` (unlisted: its whole stripe counts as marked). Call before the RocksDB
    /// commit.
    #[inline]
    pub(super) fn begin(&self, key: &[u8]) {
        // SeqCst orders the mark before the commit that follows; a reader that sees the commit
        // (through RocksDB's own synchronisation) then sees the mark, or its removal.
        self.stripes[stripe_of(hash(key))].fetch_add(UNLISTED, Ordering::SeqCst);
    }

    /// Unmarks `key`. Call after the index update.
    #[inline]
    pub(super) fn end(&self, key: &[u8]) {
        // Release: a reader that sees the count drop also sees the index update before it.
        self.stripes[stripe_of(hash(key))].fetch_sub(UNLISTED, Ordering::Release);
    }

    /// Marks every key (bulk writes whose keys are not listed).
    pub(super) fn begin_all(&self) {
        for s in self.stripes.iter() {
            s.fetch_add(UNLISTED, Ordering::SeqCst);
        }
    }

    /// Ends a [`InFlight::begin_all`].
    pub(super) fn end_all(&self) {
        for s in self.stripes.iter() {
            s.fetch_sub(UNLISTED, Ordering::Release);
        }
    }

    /// Lists `keys` (sorted and distinct, see [`KeyList::of_sorted`]; nothing here may panic
    /// once a write has begun) and marks them; with more than `all_above` keys,
    /// every stripe is marked instead of each key's (one add per stripe, not per key). Call
    /// before the RocksDB commit.
    pub(super) fn begin_listed(&self, keys: KeyList, all_above: usize) -> Listed {
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        let all = keys.len() > all_above;
        let marks: Vec<usize> = if all {
            Vec::new()
        } else {
            keys.iter().map(|k| stripe_of(hash(k))).collect()
        };
        // The list entry first: a reader that sees one of the marks below sees the entry too
        // (the lock's release, then the SeqCst add the reader's load synchronises with).
        self.lists.write().push((ticket, keys));
        if all {
            for s in self.stripes.iter() {
                s.fetch_add(LISTED, Ordering::SeqCst);
            }
        } else {
            for i in marks {
                self.stripes[i].fetch_add(LISTED, Ordering::SeqCst);
            }
        }
        Listed { ticket, all }
    }

    /// Ends a [`InFlight::begin_listed`]. Call after the index update.
    pub(super) fn end_listed(&self, listed: &Listed) {
        let keys = {
            let mut lists = self.lists.write();
            let at = lists
                .iter()
                .position(|(t, _)| *t == listed.ticket)
                .expect("a listed write is listed until it ends");
            lists.swap_remove(at).1
        };
        // Removed from the list after the index update, so a reader that no longer finds the
        // key finds the update; the marks may go after it.
        if listed.all {
            for s in self.stripes.iter() {
                s.fetch_sub(LISTED, Ordering::Release);
            }
        } else {
            for k in keys.iter() {
                self.stripes[stripe_of(hash(k))].fetch_sub(LISTED, Ordering::Release);
            }
        }
    }

    /// True when a write of `key` is in flight (or, for unlisted marks, a write of a key
    /// sharing its stripe).
    #[inline]
    pub(super) fn is_marked(&self, key: &[u8]) -> bool {
        let h = hash(key);
        let marks = self.stripes[stripe_of(h)].load(Ordering::Acquire);
        if marks == 0 {
            false
        } else if marks & (LISTED - 1) != 0 {
            true
        } else {
            self.is_listed(key)
        }
    }

    /// Whether a listed write in flight holds `key`.
    #[cold]
    fn is_listed(&self, key: &[u8]) -> bool {
        self.lists.read().iter().any(|(_, keys)| keys.contains(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: u64) -> [u8; 8] {
        n.to_be_bytes()
    }

    fn listed(keys: &[u64]) -> KeyList {
        let mut bytes: Vec<[u8; 8]> = keys.iter().map(|&n| k(n)).collect();
        bytes.sort();
        KeyList::of_sorted(bytes.iter().map(|b| &b[..]))
    }

    #[test]
    fn marks_count_and_bulk_marks_cover_every_key() {
        let f = InFlight::new();
        assert!(!f.is_marked(&k(7)) && !f.any());
        f.enter();
        assert!(f.any());
        f.exit();
        f.begin(&k(7));
        f.begin(&k(7));
        f.end(&k(7));
        assert!(
            f.is_marked(&k(7)),
            "one write of the stripe is still in flight"
        );
        f.end(&k(7));
        assert!(!f.is_marked(&k(7)));
        f.begin_all();
        assert!((0..10_000u64).all(|n| f.is_marked(&k(n * 31))));
        f.end_all();
        assert!((0..10_000u64).all(|n| !f.is_marked(&k(n * 31))));
    }

    /// Two keys of one stripe.
    fn stripe_mates() -> (u64, u64) {
        let a = 7u64;
        let b = (8..)
            .find(|&n| stripe_of(hash(&k(n))) == stripe_of(hash(&k(a))))
            .unwrap();
        (a, b)
    }

    #[test]
    fn a_listed_write_marks_its_own_keys_only() {
        let f = InFlight::new();
        let (a, b) = stripe_mates();
        let marks = f.begin_listed(listed(&[a, 1 << 40]), 4096);
        assert!(f.is_marked(&k(a)) && f.is_marked(&k(1 << 40)));
        assert!(
            !f.is_marked(&k(b)),
            "a stripe mate of a listed key is not in flight"
        );
        // An unlisted mark of the stripe marks the whole stripe again.
        f.begin(&k(b));
        assert!(f.is_marked(&k(a)) && f.is_marked(&k(b)));
        f.end(&k(b));
        assert!(!f.is_marked(&k(b)));
        f.end_listed(&marks);
        assert!(!f.is_marked(&k(a)) && !f.is_marked(&k(1 << 40)));
        assert!(f.stripes.iter().all(|s| s.load(Ordering::Relaxed) == 0));
    }

    #[test]
    fn a_large_listed_write_marks_every_stripe_but_only_its_keys() {
        let f = InFlight::new();
        let keys: Vec<u64> = (0..100u64).map(|k| k * 1000).collect();
        let marks = f.begin_listed(listed(&keys), 10);
        assert!(f
            .stripes
            .iter()
            .all(|s| s.load(Ordering::Relaxed) == LISTED));
        assert!(keys.iter().all(|&n| f.is_marked(&k(n))));
        assert!(!f.is_marked(&k(1)) && !f.is_marked(&k(999)));
        // Two listed writes at once, each removed by its own ticket.
        let other = f.begin_listed(listed(&[1]), 10);
        assert!(f.is_marked(&k(1)));
        f.end_listed(&marks);
        assert!(f.is_marked(&k(1)) && !f.is_marked(&k(0)));
        f.end_listed(&other);
        assert!(!f.is_marked(&k(1)));
        assert!(f.stripes.iter().all(|s| s.load(Ordering::Relaxed) == 0));
    }
}
