//! Ordered range scans: [`Db::range`] and its iterator [`RangeIter`].
//!
//! The index drives the scan. Each refill takes a chunk of `(key, location)` entries from the
//! index under its read lock (32 entries at first, doubling up to [`MAX_CHUNK`], so a scan that
//! stops early costs little), releases the lock, then fetches the values. If a write was in
//! flight when the chunk was taken, keys marked in flight are read from RocksDB and the others
//! are looked up again (the rule of `inflight`: mark first, then index). Then:
//! * Hot entries from the hot tier (a refused record joins the Cold ones);
//! * Cold entries from RocksDB: with one iterator over `[first cold key, last cold key]` when
//!   there are at least [`ITER_MIN`] of them (sequential reads, no per-key lookup), else with a
//!   batched multi-get.
//!
//! The value cache is neither read nor filled by scans: a scan would evict the point-read
//! working set, and RocksDB's iterator is already cheap per key.
//!
//! # What a scan sees
//!
//! Keys come out strictly increasing. A key present in the index when its chunk was taken and
//! deleted before its value was fetched is skipped (RocksDB no longer has it); a key inserted
//! after its chunk was taken is not listed. Each value returned is the committed value at some
//! moment during the scan, at least as new as every write acknowledged before the scan
//! started. A scan is not a snapshot across keys.

use super::read::Found;
use super::Db;
use crate::error::Result;
use crate::location::Location;
use std::collections::VecDeque;
use std::ops::{Bound, RangeBounds};

/// First chunk of index entries a scan takes.
const FIRST_CHUNK: usize = 32;
/// Largest chunk of index entries a scan takes at once.
const MAX_CHUNK: usize = 1024;
/// Cold keys in a chunk from which one RocksDB iterator beats a multi-get.
const ITER_MIN: usize = 4;

/// An iterator over the `(key, value)` pairs of a key range, in key order. Created by
/// [`Db::range`]. Yields `Err` at most once, as its last item.
pub struct RangeIter<'a> {
    db: &'a Db,
    /// Lower bound of the keys not yet taken from the index.
    from: Bound<u64>,
    to: Bound<u64>,
    ready: VecDeque<Result<(u64, Vec<u8>)>>,
    /// No more entries in the index range (or an error ended the scan).
    exhausted: bool,
    chunk: usize,
}

impl Db {
    /// The pairs whose keys fall in `range` (any `u64` range: `a..b`, `a..=b`, `a..`, `..`), in
    /// key order, values included. See [`RangeIter`] for what a scan running beside writers
    /// sees.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// for k in [5u64, 1, 9, 3] {
    ///     db.put(k, &k.to_le_bytes()).unwrap();
    /// }
    /// let keys: Vec<u64> = db.range(2..=9).map(|r| r.unwrap().0).collect();
    /// assert_eq!(keys, vec![3, 5, 9]);
    /// for item in db.range(..) {
    ///     let (k, v) = item.unwrap();
    ///     assert_eq!(v, k.to_le_bytes());
    /// }
    /// ```
    pub fn range(&self, range: impl RangeBounds<u64>) -> RangeIter<'_> {
        self.ops.ranges.inc();
        RangeIter {
            db: self,
            from: range.start_bound().cloned(),
            to: range.end_bound().cloned(),
            ready: VecDeque::new(),
            exhausted: false,
            chunk: FIRST_CHUNK,
        }
    }
}

impl Iterator for RangeIter<'_> {
    type Item = Result<(u64, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.exhausted {
                return None;
            }
            self.refill();
        }
    }
}

impl std::iter::FusedIterator for RangeIter<'_> {}

impl RangeIter<'_> {
    /// Takes the next chunk of index entries and queues their values.
    fn refill(&mut self) {
        let db = self.db;
        if let Err(e) = db.check_usable() {
            self.ready.push_back(Err(e));
            self.exhausted = true;
            return;
        }
        // Checked before the lookup: if no write was in flight then, every location taken below
        // may be trusted (`inflight`).
        let quiet = !db.inflight.any();
        let mut entries: Vec<(u64, Found)> = db
            .index
            .read()
            .range((self.from, self.to))
            .take(self.chunk)
            .map(|(k, raw)| (k, Found::At(Location::from_raw(raw))))
            .collect();
        match entries.last() {
            Some(&(last, _)) if entries.len() == self.chunk => self.from = Bound::Excluded(last),
            _ => self.exhausted = true,
        }
        self.chunk = (self.chunk * 2).min(MAX_CHUNK);
        if !quiet {
            // A write was in flight: check each key's mark, then look the unmarked ones up again,
            // so every location used was read after its key's mark was seen clear.
            let marked: Vec<bool> = entries
                .iter()
                .map(|&(k, _)| db.inflight.is_marked(k))
                .collect();
            let index = db.index.read();
            for ((k, found), marked) in entries.iter_mut().zip(marked) {
                *found = match (marked, index.get(*k)) {
                    (true, _) => Found::InFlight,
                    (false, None) => Found::Absent,
                    (false, Some(raw)) => Found::At(Location::from_raw(raw)),
                };
            }
        }

        let mut values: Vec<Option<Vec<u8>>> = Vec::with_capacity(entries.len());
        let mut cold: Vec<usize> = Vec::new();
        for (i, &(key, found)) in entries.iter().enumerate() {
            let value = match found {
                Found::Absent => None, // deleted since the chunk was taken
                Found::At(loc) if loc.is_hot() => db.hot.read(loc, key, <[u8]>::to_vec),
                Found::At(_) | Found::InFlight => None,
            };
            if value.is_none() && !matches!(found, Found::Absent) {
                cold.push(i);
            }
            values.push(value);
        }
        if let Err(e) = fetch_cold(db, &entries, &cold, &mut values) {
            self.ready.push_back(Err(e));
            self.exhausted = true;
            return;
        }
        // Keys whose value is still missing were deleted meanwhile.
        self.ready.extend(
            entries
                .iter()
                .zip(values)
                .filter_map(|(&(k, _), v)| v.map(|v| Ok((k, v)))),
        );
    }
}

/// Fills `values[i]` for every `i` in `cold` (increasing) from RocksDB.
fn fetch_cold(
    db: &Db,
    entries: &[(u64, Found)],
    cold: &[usize],
    values: &mut [Option<Vec<u8>>],
) -> Result<()> {
    let (Some(&first), Some(&last)) = (cold.first(), cold.last()) else {
        return Ok(());
    };
    if cold.len() < ITER_MIN {
        let keys: Vec<u64> = cold.iter().map(|&i| entries[i].0).collect();
        for (&i, v) in cold.iter().zip(db.rocks.multi_get(&keys)?) {
            values[i] = v;
        }
        return Ok(());
    }
    // One ordered pass over RocksDB's keys in the span; index and RocksDB hold the same keys
    // (but for writes in progress), so the pass reads little beyond the wanted values.
    let mut it = db.rocks.iter_range(entries[first].0..=entries[last].0);
    let mut next = 0; // position in `cold` of the next wanted key
    while next < cold.len() {
        let step = it.next_with(|key, value| {
            // Wanted keys below `key` are gone from RocksDB: deleted since the chunk was taken.
            while next < cold.len() && entries[cold[next]].0 < key {
                next += 1;
            }
            if next < cold.len() && entries[cold[next]].0 == key {
                values[cold[next]] = Some(value.to_vec());
                next += 1;
            }
        });
        match step {
            None => break,
            Some(Err(e)) => return Err(e),
            Some(Ok(())) => {}
        }
    }
    Ok(())
}
