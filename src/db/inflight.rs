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
//! for bulk writes); a read does one load of a line that only writers write. A key whose stripe
//! is marked by an unrelated key only takes the RocksDB path for that moment.

use crate::hash::stripe;
use std::sync::atomic::{AtomicU32, Ordering};

/// Number of counters; a power of two.
pub(super) const STRIPES: usize = 4096;

/// The marks of keys with a write in flight (module docs).
pub(super) struct InFlight {
    stripes: Box<[AtomicU32]>,
    /// Writes in flight (writers of different keys overlap). Lets a scan skip the per-key checks
    /// when no write was in flight before it looked at the index.
    writes: AtomicU32,
}

#[inline]
fn stripe_of(key: u64) -> usize {
    stripe(key, STRIPES)
}

impl InFlight {
    pub(super) fn new() -> Self {
        InFlight {
            stripes: (0..STRIPES).map(|_| AtomicU32::new(0)).collect(),
            writes: AtomicU32::new(0),
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

    /// Marks `key`. Call before the RocksDB commit.
    #[inline]
    pub(super) fn begin(&self, key: u64) {
        // SeqCst orders the mark before the commit that follows; a reader that sees the commit
        // (through RocksDB's own synchronisation) then sees the mark, or its removal.
        self.stripes[stripe_of(key)].fetch_add(1, Ordering::SeqCst);
    }

    /// Unmarks `key`. Call after the index update.
    #[inline]
    pub(super) fn end(&self, key: u64) {
        // Release: a reader that sees the count drop also sees the index update before it.
        self.stripes[stripe_of(key)].fetch_sub(1, Ordering::Release);
    }

    /// Marks every key (bulk writes).
    pub(super) fn begin_all(&self) {
        for s in self.stripes.iter() {
            s.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Ends a [`InFlight::begin_all`].
    pub(super) fn end_all(&self) {
        for s in self.stripes.iter() {
            s.fetch_sub(1, Ordering::Release);
        }
    }

    /// True when a write of `key` (or of a key sharing its stripe) is in flight.
    #[inline]
    pub(super) fn is_marked(&self, key: u64) -> bool {
        self.stripes[stripe_of(key)].load(Ordering::Acquire) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_count_and_bulk_marks_cover_every_key() {
        let f = InFlight::new();
        assert!(!f.is_marked(7) && !f.any());
        f.enter();
        assert!(f.any());
        f.exit();
        f.begin(7);
        f.begin(7);
        f.end(7);
        assert!(f.is_marked(7), "one write of the stripe is still in flight");
        f.end(7);
        assert!(!f.is_marked(7));
        f.begin_all();
        assert!((0..10_000u64).all(|k| f.is_marked(k * 31)));
        f.end_all();
        assert!((0..10_000u64).all(|k| !f.is_marked(k * 31)));
    }
}
