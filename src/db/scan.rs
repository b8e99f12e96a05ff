//! How a scan reads its values: the [`Cursor`] behind [`Db::range`], [`Db::scan`] and
//! [`Db::scan_with`].
//!
//! A scan walks its key range in chunks. For each chunk the cursor takes up to `want` entries
//! `(key, location)` from the index under its read lock (`want` is the scan's remaining limit,
//! at most [`MAX_CHUNK`]; an unlimited scan starts at [`FIRST_CHUNK`] and doubles), releases
//! the lock, and then serves the chunk's *span* — from the cursor's lower bound to the chunk's
//! last key, inclusive — from one of two sources:
//!
//! * **RocksDB** ([`Source::Rocks`]): one iterator over the span, its values borrowed from the
//!   block cache or memtable. The pairs are those of RocksDB's implicit snapshot, taken when the
//!   iterator is created; the index's keys bound the span and its locations are not used, so
//!   RocksDB's answer is final, as on the Cold path of a point read.
//! * **The index** ([`Source::Index`]): the chunk's keys in order, each Hot value read from the
//!   hot tier (a validated copy into one buffer reused for the whole scan, so the
//!   visitor runs without a lock; the records [`PREFETCH_AHEAD`] places ahead are prefetched),
//!   each Cold or refused one by a pinned RocksDB point read.
//!
//! The index always supplies the span and the count: a chunk never reads past its last key, so
//! a scan of `n` pairs reads about `n` values and no more.
//!
//! # Which source
//!
//! **Only a quiet chunk may be served from the index**: one taken when no write was in flight
//! (`inflight::InFlight::any`, checked before the index lookup). Then every committed write is
//! already in the index, so the chunk's keys and locations are at least as new as anything a
//! read that ended before could have returned (the argument of `inflight`). While a write is in
//! flight RocksDB is ahead of the index, and a key it is inserting is *not in the index at all*:
//! no per-key mark check can find it, and a chunk listing only the index's keys would omit a key
//! that an earlier read (through RocksDB) returned. Such chunks are served by RocksDB, whose
//! snapshot holds every committed write. This keeps a key's reads monotonic across point reads
//! and scans (the concurrency test checks it).
//!
//! For a quiet chunk, [`choose`] weighs cost. A RocksDB iterator costs about the same whatever
//! the locations: a seek, then a step per key over 3–4 contiguous blocks per 100 keys of 100
//! bytes, plus a file read for each block its block cache lacks. The hot tier is in write order,
//! not key order, so a hot chunk is one random access per key and a validated copy (prefetching
//! overlaps the accesses); a Cold key in such a chunk costs a whole RocksDB
//! point read. So the index serves a chunk only when nearly all of it is hot (numbers in
//! `internal/DECISIONS.md`, "Scans").
//!
//! # What a scan sees
//!
//! Spans tile the scanned range without overlap, so keys come out strictly increasing. A key
//! whose write was acknowledged before the scan started is in the index when its chunk is taken,
//! so it lies in some span and is seen (unless deleted since). Within a RocksDB span a key
//! committed but not yet in the index appears; within an index span a key deleted since the
//! chunk was taken is skipped once RocksDB says so. Each value is the committed value at some
//! moment during the scan, at least as new as every read of the key that ended before the scan
//! started; a scan is not a snapshot across chunks.

use super::Db;
use crate::error::Result;
use crate::hot_tier::ReadMark;
use crate::location::Location;
use crate::rocks::Span;
use std::ops::{Bound, ControlFlow};

/// First chunk of an unlimited scan: a scan stopped early by its caller costs little.
pub(super) const FIRST_CHUNK: usize = 32;
/// Largest chunk of index entries a scan takes at once.
pub(super) const MAX_CHUNK: usize = 1024;

/// Hot records a scan asks the CPU to load ahead of the one it reads. Measured at 1M rows
/// (100-key scans, all hot): none 28 µs, 8 ahead 13–17 µs, 16 ahead 12–18 µs, 32 ahead 19 µs,
/// all 100 at once 16 µs.
const PREFETCH_AHEAD: usize = 16;

/// Where a chunk's values come from (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    /// One RocksDB iterator over the chunk's span.
    Rocks,
    /// The index's locations: hot tier, else RocksDB point reads.
    Index,
}

/// Costs of the three ways to read a pair, in ns, measured on the project's 2-core VM at 1M rows
/// of 100 bytes (`internal/DECISIONS.md`, "Scans"): only their ratios matter.
mod cost {
    /// One hot-tier record in a scan: a copy, its cache and TLB misses overlapped with the next
    /// records' by prefetching ([`super::PREFETCH_AHEAD`]). Measured when a hot read still took
    /// a segment lock and checked the CRC; the lock-free read measured at parity
    /// (DESIGN.md, "Decisions that still hold", "Reads, marks and the index lock").
    pub(super) const HOT_READ: usize = 150;
    /// One Cold key of an index chunk: a RocksDB point read.
    pub(super) const POINT_READ: usize = 4_000;
    /// One pair of a RocksDB iterator whose blocks are in the block cache (the cheap case: with
    /// a block cache that lacks the blocks a pair costs about twice as much).
    pub(super) const ITER_STEP: usize = 300;
}

/// The source for a chunk of `len` index entries of which `hot` are Hot, taken when no write
/// was in flight (`quiet`) or not (module docs). The index serves a quiet chunk when that is
/// cheaper than an iterator even with a warm block cache: in practice when at most about one
/// key in 26 is Cold.
pub(super) fn choose(quiet: bool, len: usize, hot: usize) -> Source {
    if !quiet {
        return Source::Rocks;
    }
    #[cfg(test)]
    if let Some(s) = tests::FORCE.with(std::cell::Cell::get) {
        return s;
    }
    let from_index = hot * cost::HOT_READ + (len - hot) * cost::POINT_READ;
    if hot > 0 && from_index <= len * cost::ITER_STEP {
        Source::Index
    } else {
        Source::Rocks
    }
}

/// A scan in progress: what is left of the range and of the limit. [`Cursor::step`] visits the
/// next chunk.
pub(super) struct Cursor {
    from: Bound<Vec<u8>>,
    to: Bound<Vec<u8>>,
    /// Pairs still to visit.
    remaining: usize,
    /// Entries to take from the index in the next chunk.
    chunk: usize,
    done: bool,
    /// This chunk's keys, one after the other (reused between chunks: no allocation per key).
    keys: Vec<u8>,
    /// This chunk's entries: where its key ends in `keys`, and its location.
    entries: Vec<(usize, Location)>,
    /// A hot record's value, copied.
    buf: Vec<u8>,
}

impl Cursor {
    /// A cursor over the keys between `from` and `to`, visiting at most `limit` pairs.
    pub(super) fn new(from: Bound<Vec<u8>>, to: Bound<Vec<u8>>, limit: usize) -> Self {
        Cursor {
            from,
            to,
            remaining: limit,
            chunk: if limit == usize::MAX {
                FIRST_CHUNK
            } else {
                limit.clamp(1, MAX_CHUNK)
            },
            done: false,
            keys: Vec::new(),
            entries: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// True once the range or the limit is exhausted, the visitor stopped, or a step failed.
    pub(super) fn is_done(&self) -> bool {
        self.done
    }

    /// Visits the next chunk's pairs with `f` (see the module docs for where their values come
    /// from). An error ends the cursor.
    pub(super) fn step(
        &mut self,
        db: &Db,
        f: &mut impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<()> {
        let result = self.step_inner(db, f);
        if result.is_err() {
            self.done = true;
        }
        result
    }

    fn step_inner(
        &mut self,
        db: &Db,
        f: &mut impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<()> {
        if self.done {
            return Ok(());
        }
        db.check_usable()?;
        if self.remaining == 0 {
            self.done = true;
            return Ok(());
        }
        let want = self.chunk.min(self.remaining);
        // Before the index is read: a write in flight then may have committed keys the index
        // does not hold yet (module docs).
        let quiet = !db.inflight.any();
        self.entries.clear();
        self.keys.clear();
        self.entries.reserve(want);
        self.keys.reserve(want * 8);
        let mut hot = 0;
        let mark;
        {
            let index = db.index.read();
            mark = db.hot.read_mark();
            let (keys, entries, to) = (&mut self.keys, &mut self.entries, &self.to);
            index.scan_from(self.from.as_ref().map(Vec::as_slice), |key, raw| {
                if entries.len() == want || !below(key, to) {
                    return false;
                }
                let loc = Location::from_raw(raw);
                hot += usize::from(loc.is_hot());
                keys.extend_from_slice(key);
                entries.push((keys.len(), loc));
                true
            });
        }
        if quiet && self.entries.is_empty() {
            self.done = true;
            return Ok(());
        }
        let index_ends = self.entries.len() < want;
        let last: Option<Vec<u8>> = self
            .entries
            .len()
            .checked_sub(1)
            .map(|i| self.key(i).to_vec());
        // The chunk's span: up to its last index key, or to the range's end when the index has
        // no more keys in it (RocksDB may still hold keys in flight there).
        let span_end = match &last {
            Some(k) if !index_ends => Bound::Included(k.clone()),
            _ => self.to.clone(),
        };
        self.chunk = (self.chunk.saturating_mul(2)).min(MAX_CHUNK);
        let (flow, capped_at) = match choose(quiet, self.entries.len(), hot) {
            Source::Rocks => self.visit_rocks(db, span_end, want, f)?,
            Source::Index => (self.visit_index(db, mark, f)?, None),
        };
        match capped_at.or(if index_ends { None } else { last }) {
            Some(k) => self.from = Bound::Excluded(k),
            None => self.done = true,
        }
        if flow.is_break() || self.remaining == 0 {
            self.done = true;
        }
        Ok(())
    }

    /// The key of entry `i` of this chunk.
    fn key(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.entries[i - 1].0 };
        &self.keys[start..self.entries[i].0]
    }

    /// Visits the pairs from `self.from` to `end` with one RocksDB iterator, at most `cap` of
    /// them. Returns how the visitor ended and, when `cap` pairs were visited, the last key
    /// (the next chunk starts after it: RocksDB may have had more keys than the index there).
    fn visit_rocks(
        &mut self,
        db: &Db,
        end: Bound<Vec<u8>>,
        cap: usize,
        f: &mut impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<(ControlFlow<()>, Option<Vec<u8>>)> {
        let mut last_visited: Vec<u8> = Vec::new();
        let span = Span::new(
            self.from.as_ref().map(Vec::as_slice),
            end.as_ref().map(Vec::as_slice),
        );
        let (visited, flow) = db.rocks.scan_with(&span, cap, &mut |k, v| {
            last_visited.clear();
            last_visited.extend_from_slice(k);
            f(k, v)
        })?;
        self.remaining -= visited;
        Ok((
            flow,
            (visited == cap && visited > 0).then_some(last_visited),
        ))
    }

    /// Visits the chunk's entries: hot values copied from the tier (records prefetched
    /// [`PREFETCH_AHEAD`] entries ahead), the rest by point reads. A key RocksDB no longer has
    /// (deleted since the index was read) is skipped.
    fn visit_index(
        &mut self,
        db: &Db,
        mark: ReadMark,
        f: &mut impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>> {
        for i in 0..self.entries.len().min(PREFETCH_AHEAD) {
            db.hot.prefetch(self.entries[i].1, self.key(i).len());
        }
        let mut start = 0;
        for i in 0..self.entries.len() {
            if self.remaining == 0 {
                break;
            }
            if let Some(&(_, ahead)) = self.entries.get(i + PREFETCH_AHEAD) {
                db.hot.prefetch(ahead, self.key(i + PREFETCH_AHEAD).len());
            }
            let (end, loc) = self.entries[i];
            let key = &self.keys[start..end];
            start = end;
            let hot_copy = loc.is_hot() && db.hot.read_into(mark, loc, key, &mut self.buf);
            let flow = if hot_copy {
                f(key, &self.buf)
            } else {
                match db.rocks.get_pinned(key, true, |v| f(key, v))? {
                    Some(flow) => flow,
                    None => continue,
                }
            };
            self.remaining -= 1;
            if flow.is_break() {
                return Ok(flow);
            }
        }
        Ok(ControlFlow::Continue(()))
    }
}

/// True when `key` is before the range's end `to`.
fn below(key: &[u8], to: &Bound<Vec<u8>>) -> bool {
    match to {
        Bound::Included(t) => key <= &t[..],
        Bound::Excluded(t) => key < &t[..],
        Bound::Unbounded => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Options, WriteBatch};
    use std::cell::Cell;
    use std::collections::BTreeMap;
    use std::ops::RangeBounds;

    thread_local! {
        /// Makes every chunk of this thread's scans use one source.
        pub(super) static FORCE: Cell<Option<Source>> = const { Cell::new(None) };
    }

    /// Runs `f` with every chunk served by `source` (`None`: the engine's choice).
    fn with_source<R>(source: Option<Source>, f: impl FnOnce() -> R) -> R {
        FORCE.with(|c| c.set(source));
        let r = f();
        FORCE.with(|c| c.set(None));
        r
    }

    const SOURCES: [Option<Source>; 3] = [None, Some(Source::Rocks), Some(Source::Index)];

    fn value(k: u64, version: u64) -> Vec<u8> {
        let mut v = k.to_le_bytes().to_vec();
        v.extend_from_slice(&version.to_le_bytes());
        v.resize(16 + (k % 50) as usize, k as u8);
        v
    }

    /// A database of 3,000 keys (every third of 0..9000) whose hot tier holds only the later
    /// writes, so chunks mix Hot and Cold keys; with a few deletes and a flush in between.
    fn mixed_db(dir: &std::path::Path) -> (Db, BTreeMap<u64, Vec<u8>>) {
        let opts = Options::default()
            .max_value_bytes(1024)
            .hot_tier_bytes(3 * (32 << 10))
            .hot_segment_bytes(32 << 10)
            .value_cache_bytes(0)
            .value_cache_entries(0);
        let db = Db::open(dir, opts).unwrap();
        let mut model = BTreeMap::new();
        for k in (0..9000u64).step_by(3) {
            db.put(k, &value(k, 1)).unwrap();
            model.insert(k, value(k, 1));
        }
        db.flush().unwrap();
        let mut batch = WriteBatch::new();
        for k in (0..9000u64).step_by(21) {
            batch.put(k, value(k, 2));
            model.insert(k, value(k, 2));
        }
        for k in (6..9000u64).step_by(33) {
            batch.delete(k);
            model.remove(&k);
        }
        db.write(batch).unwrap();
        let s = db.stats().hot_tier;
        assert!(s.recycled > 0 && s.demoted > 0, "{s:?}");
        (db, model)
    }

    fn n(k: &[u8]) -> u64 {
        u64::from_be_bytes(k.try_into().unwrap())
    }

    fn scan_all(db: &Db, range: (Bound<u64>, Bound<u64>), limit: usize) -> Vec<(u64, Vec<u8>)> {
        let mut got = Vec::new();
        let n = db
            .scan_with(range, limit, |k, v| {
                got.push((n(k), v.to_vec()));
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(n, got.len());
        got
    }

    #[test]
    fn every_source_returns_the_model_for_any_bounds_and_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (db, model) = mixed_db(dir.path());
        let bounds = [
            (Bound::Unbounded, Bound::Unbounded),
            (Bound::Included(300), Bound::Excluded(4000)),
            (Bound::Excluded(300), Bound::Included(4002)),
            (Bound::Included(301), Bound::Included(301)),
            (Bound::Excluded(8997), Bound::Unbounded),
            (Bound::Included(5000), Bound::Excluded(5000)),
        ];
        for source in SOURCES {
            with_source(source, || {
                for range in bounds {
                    for limit in [0, 1, 2, 31, 32, 33, 100, 1023, 1024, 1025, 2500, usize::MAX] {
                        let want: Vec<(u64, Vec<u8>)> = model
                            .iter()
                            .filter(|(k, _)| range.contains(*k))
                            .take(limit)
                            .map(|(k, v)| (*k, v.clone()))
                            .collect();
                        let got = scan_all(&db, range, limit);
                        assert!(got == want, "{source:?} {range:?} limit {limit}");
                        let it: Vec<_> = db.scan(range, limit).map(|r| r.unwrap()).collect();
                        assert!(it == want, "scan {source:?} {range:?} limit {limit}");
                    }
                }
            });
        }
    }

    #[test]
    fn a_scan_of_n_pairs_reads_n_values() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for k in 0..5000u64 {
            db.put(k, &value(k, 1)).unwrap();
        }
        let hot_hits = || db.stats().hot_tier.hits;
        with_source(Some(Source::Index), || {
            let before = hot_hits();
            assert_eq!(db.scan(10.., 100).count(), 100);
            assert_eq!(hot_hits() - before, 100, "scan(.., 100) reads 100 values");
            let before = hot_hits();
            let n = db
                .scan_with(10.., 500, |k, _| {
                    if n(k) == 59 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                })
                .unwrap();
            assert_eq!(n, 50);
            assert_eq!(hot_hits() - before, 50, "a visitor's Break stops the reads");
            let before = hot_hits();
            assert_eq!(db.range(10..).take(100).count(), 100);
            assert_eq!(
                hot_hits() - before,
                32 + 64 + 128,
                "take(n) cannot tell the scan"
            );
        });
        // The engine's choice for an all-hot chunk: the hot tier, no RocksDB read.
        let (hits, gets) = (hot_hits(), db.stats().rocksdb.gets);
        assert_eq!(db.scan(0.., 100).count(), 100);
        assert_eq!(
            (hot_hits() - hits, db.stats().rocksdb.gets - gets),
            (100, 0)
        );
    }

    #[test]
    fn a_chunk_taken_while_a_write_is_in_flight_is_served_by_rocksdb() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for k in (0..200u64).step_by(2) {
            db.put(k, &value(k, 1)).unwrap();
        }
        // Simulate a write between its RocksDB commit and its index update: key 50 gets a new
        // value, key 60 is deleted, key 55 and keys 1000..1100 (past the index's last key) are
        // inserted in RocksDB; the index still shows the old state (all Hot), and the keys are
        // marked in flight.
        let written: Vec<u64> = [50, 55, 60].into_iter().chain(1000..1100).collect();
        db.inflight.enter();
        for &k in &written {
            db.inflight.begin(&k.to_be_bytes());
        }
        db.rocks.put(50u64.to_be_bytes(), &value(50, 2)).unwrap();
        db.rocks.delete(60u64.to_be_bytes()).unwrap();
        for &k in written.iter().filter(|&&k| k == 55 || k >= 1000) {
            db.rocks.put(k.to_be_bytes(), &value(k, 2)).unwrap();
        }
        let want: Vec<u64> = (0..200u64)
            .step_by(2)
            .filter(|&k| k != 60)
            .chain([55])
            .chain(1000..1100)
            .collect::<std::collections::BTreeSet<u64>>()
            .into_iter()
            .collect();
        for source in SOURCES {
            let (hits, gets) = (db.stats().hot_tier.hits, db.stats().rocksdb.gets);
            let got = with_source(source, || {
                scan_all(&db, (Bound::Unbounded, Bound::Unbounded), 500)
            });
            let keys: Vec<u64> = got.iter().map(|(k, _)| *k).collect();
            assert_eq!(
                keys, want,
                "{source:?}: RocksDB's keys, past the index's last too"
            );
            let v50 = &got.iter().find(|(k, _)| *k == 50).unwrap().1;
            assert_eq!(v50, &value(50, 2), "{source:?}: the committed value wins");
            let s = db.stats();
            assert_eq!(
                s.hot_tier.hits, hits,
                "{source:?}: no chunk from the hot tier"
            );
            assert_eq!(
                s.rocksdb.gets, gets,
                "{source:?}: iterators, no point reads"
            );
            // The unlimited iterator's chunks (32, 64, 128) cap each RocksDB span: the keys
            // past the index's last come over several chunks, each once.
            let tail: Vec<u64> =
                with_source(source, || db.range(151..).map(|r| r.unwrap().0).collect());
            let from_151: Vec<u64> = want.iter().copied().filter(|&k| k >= 151).collect();
            assert_eq!(tail, from_151, "{source:?}");
            let limited: Vec<u64> = with_source(source, || {
                db.scan(151..=1050, 40).map(|r| r.unwrap().0).collect()
            });
            assert_eq!(limited, from_151[..40], "{source:?}");
        }
        for &k in &written {
            db.inflight.end(&k.to_be_bytes());
        }
        db.inflight.exit();
        // The write done: the index has caught up (here by hand), the hot tier may serve again.
        for &k in written.iter().filter(|&&k| k == 55 || k >= 1000) {
            db.index
                .write()
                .insert(&k.to_be_bytes(), Location::COLD.to_raw())
                .unwrap();
        }
        db.index.write().remove(&60u64.to_be_bytes());
        let keys: Vec<u64> = db.range(0u64..).map(|r| r.unwrap().0).collect();
        assert_eq!(keys, want);
    }
}
