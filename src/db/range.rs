//! Ordered range reads: [`Db::scan_with`] (a borrowing visitor, no copy), [`Db::scan`] (an
//! iterator with a limit) and [`Db::range`] (an iterator without one), and [`RangeIter`].
//!
//! All three drive the same [`Cursor`]: the index gives each chunk's keys, its span and its
//! count, and the chunk's values come from one RocksDB iterator or from the hot tier, whichever
//! is cheaper for that chunk (see [`super::scan`]). A limit is honoured exactly: a scan of `n`
//! pairs takes `n` index entries and reads `n` values, where `range(..).take(n)` can read up to
//! about twice as many (it cannot know where the caller stops, so it fetches chunks of 32, 64,
//! ... up to 1024).
//!
//! The value cache is neither read nor filled by scans: a scan would evict the point-read
//! working set, and RocksDB's iterator is already cheap per key.
//!
//! # What a scan sees
//!
//! Keys come out strictly increasing. Each value is the committed value of its key at some
//! moment between the call and the moment the pair is handed out, at least as new as every
//! write acknowledged before the call. A key whose write was acknowledged before the call and
//! that is not deleted meanwhile is always seen (up to the limit); a key deleted meanwhile may
//! or may not be; a key inserted meanwhile may or may not be. Reads of one key stay monotonic:
//! a pair handed out is at least as new as what any read of the key that ended before the call
//! returned, and a read of the key that starts after the pair was handed out returns it or a
//! newer state. A scan is not a snapshot across keys.
//!
//! Bad input is not an error: an empty or inverted range, or a limit of 0, visits nothing.

use super::scan::Cursor;
use super::Db;
use crate::error::Result;
use crate::keys::{bytes_of, prefix_end, FromKey, Key, KeyBytes, KeyRange};
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::ops::{Bound, ControlFlow};

/// An iterator over the `(key, value)` pairs of a key range, in key order, keys as `K`
/// (`u64` for a range of integers, else `Vec<u8>`). Created by [`Db::range`], [`Db::scan`]
/// and [`Db::prefix`]. Yields `Err` at most once, as its last item (also for a key that is not
/// a `K`: a byte key of another length than 8 in a `u64` range, [`crate::Error::KeyNotU64`]).
///
/// It fetches values a chunk at a time (copying each), so while it is alive it holds no lock
/// and no RocksDB iterator.
pub struct RangeIter<'a, K = Vec<u8>> {
    db: &'a Db,
    cursor: Cursor,
    ready: VecDeque<Result<(K, Vec<u8>)>>,
    _key: PhantomData<fn() -> K>,
}

/// A range's bounds as owned keys.
type OwnedBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// Owned bounds of a range, or the error a bound gave (reported by the first step).
fn owned_bounds(range: &impl KeyRange) -> Result<OwnedBounds> {
    let own = |b: Bound<KeyBytes<'_>>| b.map(|k| k.to_vec());
    let (s, e) = range.byte_bounds()?;
    Ok((own(s), own(e)))
}

impl Db {
    /// Calls `f(key, value)` on the pairs whose keys fall in `range` (any [`KeyRange`]: `a..b`,
    /// `a..=b`, `a..`, `..`), in key order, at most `limit` of them; `f` returning
    /// [`ControlFlow::Break`] ends the scan. Returns the number of pairs `f` was called with.
    /// Keys are handed to `f` as their bytes (a `u64` key as its 8 big-endian bytes).
    ///
    /// The value is borrowed, never copied for `f`: from RocksDB's block cache or memtable
    /// (pinned while `f` runs), or from a buffer a hot-tier record was copied into. No lock of
    /// the engine is held while `f` runs, so `f` may call back into the `Db`. This is the
    /// fastest way to read a range; see the module docs of `range` for what a scan running
    /// beside writers sees. An empty or inverted range, or `limit` 0, visits nothing.
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// for k in 0..1000u64 {
    ///     db.put(k * 10, &k.to_le_bytes()).unwrap();
    /// }
    /// // The 100 pairs from key 5000 on: sum the values without copying them.
    /// let mut sum = 0;
    /// let n = db
    ///     .scan_with(5000.., 100, |_key, value| {
    ///         sum += u64::from_le_bytes(value.try_into().unwrap());
    ///         ControlFlow::Continue(())
    ///     })
    ///     .unwrap();
    /// assert_eq!(n, 100);
    /// assert_eq!(sum, (500..600).sum::<u64>());
    ///
    /// // Stop at the first key past 105: the pair that stops the scan counts.
    /// let mut keys = Vec::new();
    /// let n = db
    ///     .scan_with(..=u64::MAX, usize::MAX, |key, _| {
    ///         let key = u64::from_be_bytes(key.try_into().unwrap());
    ///         keys.push(key);
    ///         if key > 105 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    ///     })
    ///     .unwrap();
    /// assert_eq!((n, keys.last()), (12, Some(&110)));
    /// assert_eq!(db.scan_with(10..10, 5, |_, _| ControlFlow::Continue(())).unwrap(), 0);
    /// ```
    pub fn scan_with<F>(&self, range: impl KeyRange, limit: usize, mut f: F) -> Result<usize>
    where
        F: FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    {
        self.ops.ranges.inc();
        self.check_usable()?;
        let (from, to) = owned_bounds(&range)?;
        let mut cursor = Cursor::new(from, to, limit);
        let mut visited = 0;
        let mut counted = |key: &[u8], value: &[u8]| {
            visited += 1;
            f(key, value)
        };
        // The first step runs even for `limit` 0, so a poisoned `Db` always reports it.
        loop {
            cursor.step(self, &mut counted)?;
            if cursor.is_done() {
                return Ok(visited);
            }
        }
    }

    /// The first `limit` pairs whose keys fall in `range`, in key order, values included: a
    /// [`Db::range`] that reads exactly the values it returns (`range(..).take(n)` can read
    /// twice as many). See the module docs of `range` for what a scan running beside writers
    /// sees; [`Db::scan_with`] does the same without copying values.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// for k in 1..=9u64 {
    ///     db.put(k, &[k as u8]).unwrap();
    /// }
    /// let pairs: Vec<(u64, Vec<u8>)> = db.scan(4.., 3).collect::<Result<_, _>>().unwrap();
    /// assert_eq!(pairs, vec![(4, vec![4]), (5, vec![5]), (6, vec![6])]);
    /// assert_eq!(db.scan(.., 0).count(), 0);
    /// assert_eq!(db.scan(8..2, 10).count(), 0); // inverted: nothing, no panic
    /// ```
    pub fn scan<R: KeyRange>(&self, range: R, limit: usize) -> RangeIter<'_, R::Owned> {
        self.ops.ranges.inc();
        let (cursor, ready) = match owned_bounds(&range) {
            Ok((from, to)) => (Cursor::new(from, to, limit), VecDeque::new()),
            Err(e) => (
                Cursor::new(Bound::Unbounded, Bound::Unbounded, 0),
                VecDeque::from([Err(e)]),
            ),
        };
        RangeIter {
            db: self,
            cursor,
            ready,
            _key: PhantomData,
        }
    }

    /// Every pair whose key starts with `prefix`, in key order (keys as `Vec<u8>`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// for key in ["user:1:name", "user:1:mail", "user:10:name", "user:2:name", "users"] {
    ///     db.put(key, b"x").unwrap();
    /// }
    /// let keys: Vec<Vec<u8>> = db.prefix("user:1:").map(|r| r.unwrap().0).collect();
    /// assert_eq!(keys, vec![b"user:1:mail".to_vec(), b"user:1:name".to_vec()]);
    /// assert_eq!(db.prefix("user").count(), 5);
    /// assert_eq!(db.prefix("").count(), 5);
    /// ```
    pub fn prefix(&self, prefix: impl Key) -> RangeIter<'_, Vec<u8>> {
        match bytes_of(&prefix) {
            Ok(p) => {
                let end = prefix_end(&p).map_or(Bound::Unbounded, Bound::Excluded);
                self.scan((Bound::Included(p.to_vec()), end), usize::MAX)
            }
            Err(e) => {
                self.ops.ranges.inc();
                RangeIter {
                    db: self,
                    cursor: Cursor::new(Bound::Unbounded, Bound::Unbounded, 0),
                    ready: VecDeque::from([Err(e)]),
                    _key: PhantomData,
                }
            }
        }
    }

    /// The pairs whose keys fall in `range` (any [`KeyRange`]: `a..b`, `a..=b`, `a..`, `..`), in
    /// key order, values included; keys as `u64` for a range of integers, else as `Vec<u8>`. To read only the first `n`, [`Db::scan`] avoids fetching
    /// values the caller never takes. See the module docs of `range` for what a scan running
    /// beside writers sees.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// for k in [5u64, 1, 9, 3] {
    ///     db.put(k, &k.to_le_bytes()).unwrap();
    /// }
    /// let keys: Vec<u64> = db.range(2..=9).map(|r| r.unwrap().0).collect();
    /// assert_eq!(keys, vec![3, 5, 9]);
    /// for item in db.range(0u64..) {
    ///     let (k, v) = item.unwrap();
    ///     assert_eq!(v, k.to_le_bytes());
    /// }
    /// // `..` is every key, as bytes.
    /// let first: Vec<u8> = db.range(..).next().unwrap().unwrap().0;
    /// assert_eq!(first, 1u64.to_be_bytes());
    /// ```
    pub fn range<R: KeyRange>(&self, range: R) -> RangeIter<'_, R::Owned> {
        self.scan(range, usize::MAX)
    }
}

impl<K: FromKey> Iterator for RangeIter<'_, K> {
    type Item = Result<(K, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.cursor.is_done() {
                return None;
            }
            let ready = &mut self.ready;
            let step = self
                .cursor
                .step(self.db, &mut |key, value| match K::from_key(key) {
                    Ok(k) => {
                        ready.push_back(Ok((k, value.to_vec())));
                        ControlFlow::Continue(())
                    }
                    Err(e) => {
                        ready.push_back(Err(e));
                        ControlFlow::Break(())
                    }
                });
            if let Err(e) = step {
                self.ready.push_back(Err(e)); // the cursor is done: the last item
            }
        }
    }
}

impl<K: FromKey> std::iter::FusedIterator for RangeIter<'_, K> {}
