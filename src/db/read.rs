//! The read path: `get`, `get_with`, `multi_get`, `contains`, `first`, `last`.
//!
//! ```text
//! inflight.is_marked(k) ---------------------------------> (write of k in flight) cold path below,
//!                                                          without the index; RocksDB's answer is final
//! index read lock; mark = hot_tier.read_mark() (the tier's recycle count); index.get(k);
//!   lock released at once
//!   absent ............................................. None, no I/O
//!   Hot(loc) -> hot_tier.read_into(mark, loc, k)  ok ... value
//!                                      stale ..........\
//!   Cold ------------------------------------------------> cache.get(k)  hit ... value
//!                                                          miss: ticket = cache.begin_fill(k)
//!                                                                rocks.get(k)  (pinned; fills the
//!                                                                block cache for a neighbour of
//!                                                                the thread's last, `block_fill`)
//!                                                                absent ... None (delete in progress)
//!                                                                present .. fill(ticket) or promote
//! ```
//!
//! The in-flight mark is checked **before** the index lookup; `inflight` explains why this makes
//! reads of a key linearisable although the lookup and the value read are separate steps. The
//! ticket is taken before the RocksDB read (the cache's stale-fill protocol). No lock of the
//! engine is held across I/O.
//!
//! A value read from RocksDB may be copied into the hot tier on the way back
//! (`Options::promote_reads_to_hot`): the one write a reader makes, in [`super::promotion`].

use super::profile::{Probe, Served, Stage};
use super::Db;
use crate::alex::i64_to_key;
use crate::error::Result;
use crate::hot_tier::{Pinned, ReadMark};
use crate::keys::{bytes_of, FromKey, Key};
use crate::location::Location;
use crate::trie::Lookup;
use std::cell::RefCell;
use std::sync::atomic::Ordering;

/// What a read found out about a key before reading its value.
#[derive(Clone, Copy)]
pub(super) enum Found {
    /// Not in the index (and no write of it in flight): absent, no I/O.
    Absent,
    /// The index's location of the key, and the hot tier's recycle mark taken before the
    /// lookup (what a hot read of the location is checked against, `HotTier::read_into`).
    At(Location, ReadMark),
    /// The Hot location of the one key of the key's slot, which may be another key
    /// ([`crate::trie::Lookup::Candidate`]): the key is present at `Location` if the record
    /// there carries it and passes the read mark (`HotTier::read_into` checks both; the index
    /// names each Hot record by its exact key, `db/mod.rs`); otherwise [`Db::lookup_exact`]
    /// decides.
    Candidate(Location, ReadMark),
    /// A write of the key is in flight: RocksDB answers (`inflight`).
    InFlight,
}

thread_local! {
    /// Per-thread buffer `get_with` copies hot values into (a hot read is a validated copy,
    /// see `hot_tier`), so it allocates nothing.
    static HOT_COPY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Db {
    /// The value of `key`, or `None` when it is absent (answered by the index without I/O).
    /// `key` is any [`Key`]: a `u64`, a byte string, text. A key longer than
    /// [`MAX_KEY_LEN`](crate::MAX_KEY_LEN) fails with [`Error::KeyTooLong`](crate::Error::KeyTooLong).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// db.put(9, b"nine").unwrap();
    /// assert_eq!(db.get(9).unwrap(), Some(b"nine".to_vec()));
    /// assert_eq!(db.get(10).unwrap(), None);
    /// db.put("user6284781860667377211", b"{...}").unwrap();
    /// assert_eq!(db.get("user6284781860667377211").unwrap(), Some(b"{...}".to_vec()));
    /// assert_eq!(db.get(b"user").unwrap(), None);
    /// ```
    #[inline]
    pub fn get(&self, key: impl Key) -> Result<Option<Vec<u8>>> {
        let key = bytes_of(&key)?;
        self.get_bytes(&key)
    }

    fn get_bytes(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_usable()?;
        self.ops.gets.inc();
        let mut probe = self.profiler.start();
        let mut found = self.lookup(key);
        lap(&mut probe, Stage::Index);
        if let Found::Candidate(loc, mark) = found {
            let hit = self.hot.read_candidate_vec(mark, loc, key);
            lap(&mut probe, Stage::HotTier);
            if let Some(v) = hit {
                self.finish(probe, Served::HotTier);
                return Ok(Some(v));
            }
            // Another key's record, or a recycle since the mark: the index decides exactly.
            found = self.lookup_exact(key);
            lap(&mut probe, Stage::Index);
        }
        match found {
            Found::Absent => {
                self.finish(probe, Served::Absent);
                Ok(None)
            }
            Found::At(loc, mark) => self.read_at(key, loc, mark, &mut probe),
            // `lookup_exact` never answers a candidate.
            Found::InFlight | Found::Candidate(..) => {
                self.read_cold(key, None, <[u8]>::to_vec, &mut probe)
            }
        }
    }

    /// Runs `f` on the value of `key` without copying it: the bytes are borrowed from the
    /// hot-tier record itself (its segment pinned while `f` runs), from RocksDB's block cache
    /// or memtable (pinned likewise), or from the value cache. No lock of the engine is held
    /// while `f` runs, so `f` may call back into the `Db`; a hot-tier read inside `f` copies
    /// the record into a per-thread buffer instead (one pin per thread), and writes made while
    /// `f` holds a segment that the hot tier's ring comes round to keep their values in RocksDB
    /// only (`Stats::hot_tier.declined_pinned`) rather than wait for `f`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// db.put(1, b"hello").unwrap();
    /// assert_eq!(db.get_with(1, |v| v.len()).unwrap(), Some(5));
    /// assert_eq!(db.get_with(2, |v| v.len()).unwrap(), None);
    /// ```
    #[inline]
    pub fn get_with<R>(&self, key: impl Key, f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        let key = bytes_of(&key)?;
        self.get_with_bytes(&key, f)
    }

    fn get_with_bytes<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        self.check_usable()?;
        self.ops.gets.inc();
        let mut probe = self.profiler.start();
        let mut f = Some(f);
        let mut found = self.lookup(key);
        // At most twice: a candidate the hot tier refuses is looked up again exactly.
        loop {
            lap(&mut probe, Stage::Index);
            let (loc, mark, candidate) = match found {
                Found::Absent => {
                    self.finish(probe, Served::Absent);
                    return Ok(None);
                }
                Found::InFlight => break self.read_cold_with(key, None, f, &mut probe),
                Found::At(loc, mark) => (loc, mark, false),
                Found::Candidate(loc, mark) => (loc, mark, true),
            };
            if loc.is_hot() {
                // In place, the segment pinned while `f` runs (no copy); a thread that cannot
                // pin (a read nested in `f`, more threads than pin slots) copies below.
                let pinned = match f.take() {
                    Some(g) => self.hot.read_pinned(mark, loc, key, !candidate, g, || {
                        lap(&mut probe, Stage::HotTier)
                    }),
                    None => break Ok(None), // unreachable: `f` is only taken on a hit
                };
                let copy = match pinned {
                    Pinned::Hit(r) => {
                        self.finish(probe, Served::HotTier);
                        return Ok(Some(r));
                    }
                    Pinned::Refused(g) => {
                        lap(&mut probe, Stage::HotTier);
                        f = Some(g);
                        false
                    }
                    Pinned::Unpinned(g) => {
                        f = Some(g);
                        true
                    }
                };
                let hit = copy
                    .then(|| {
                        HOT_COPY.with(|cell| {
                            // A nested `get_with` from inside `f` finds the buffer borrowed: it uses
                            // its own.
                            let mut guard = cell.try_borrow_mut().ok();
                            let mut owned;
                            let buf: &mut Vec<u8> = match guard.as_deref_mut() {
                                Some(b) => b,
                                None => {
                                    owned = Vec::new();
                                    &mut owned
                                }
                            };
                            let read = if candidate {
                                self.hot.read_candidate_into(mark, loc, key, buf)
                            } else {
                                self.hot.read_into(mark, loc, key, buf)
                            };
                            lap(&mut probe, Stage::HotTier);
                            if !read {
                                return None;
                            }
                            let f = f.take()?;
                            Some(f(buf))
                        })
                    })
                    .flatten();
                if hit.is_some() {
                    self.finish(probe, Served::HotTier);
                    return Ok(hit);
                }
            }
            if !candidate {
                break self.read_cold_with(key, Some(loc), f, &mut probe);
            }
            // Another key's record, or a recycle since the mark: the index decides exactly.
            found = self.lookup_exact(key);
        }
    }

    /// [`Db::read_cold`] with the caller's closure, still held (it is taken only by a hot hit,
    /// which returns).
    fn read_cold_with<R>(
        &self,
        key: &[u8],
        seen: Option<Location>,
        f: Option<impl FnOnce(&[u8]) -> R>,
        probe: &mut Option<Probe>,
    ) -> Result<Option<R>> {
        match f {
            Some(f) => self.read_cold(key, seen, f, probe),
            None => Ok(None), // unreachable: `f` is only taken on a hit
        }
    }

    /// Values of several keys, in the order of `keys` (duplicates allowed). Cold misses are
    /// fetched from RocksDB in one batched call. Each value is at least as new as every write
    /// acknowledged before the call; the result is not a snapshot across keys.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// db.put(1, b"a").unwrap();
    /// db.put(3, b"c").unwrap();
    /// let got = db.multi_get(&[3, 2, 1]).unwrap();
    /// assert_eq!(got, vec![Some(b"c".to_vec()), None, Some(b"a".to_vec())]);
    /// ```
    pub fn multi_get<K: Key>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>> {
        self.check_usable()?;
        let key_bytes = keys.iter().map(bytes_of).collect::<Result<Vec<_>>>()?;
        let keys: Vec<&[u8]> = key_bytes.iter().map(|k| &k[..]).collect();
        self.ops.gets.add(keys.len() as u64);
        // Marks first, then the index (the order `inflight` requires).
        let marked: Vec<bool> = keys.iter().map(|k| self.inflight.is_marked(k)).collect();
        let found: Vec<Found> = {
            let index = self.index.read();
            let mark = self.hot.read_mark();
            keys.iter()
                .zip(&marked)
                .map(|(k, &m)| match (m, index.get(k)) {
                    (true, _) => Found::InFlight,
                    (false, None) => Found::Absent,
                    (false, Some(raw)) => Found::At(Location::from_raw(raw), mark),
                })
                .collect()
        };
        let mut out: Vec<Option<Vec<u8>>> = vec![None; keys.len()];
        let mut misses: Vec<usize> = Vec::new();
        for (i, (&key, found)) in keys.iter().zip(&found).enumerate() {
            match *found {
                Found::Absent => continue,
                Found::At(loc, mark) if loc.is_hot() => {
                    if let Some(v) = self.hot.read_vec(mark, loc, key) {
                        out[i] = Some(v);
                        continue;
                    }
                }
                _ => {}
            }
            match self.cache.get(key) {
                Some(v) => out[i] = Some(v.to_vec()),
                None => misses.push(i),
            }
        }
        if misses.is_empty() {
            return Ok(out);
        }
        let tickets: Vec<_> = misses
            .iter()
            .map(|&i| self.cache.begin_fill(keys[i]))
            .collect();
        let miss_keys: Vec<&[u8]> = misses.iter().map(|&i| keys[i]).collect();
        // One read for the batch: it fills the block cache if a key neighbours the one before
        // it (`block_fill`).
        let fill = miss_keys
            .iter()
            .fold(false, |any, k| self.fills_block_cache(k) | any);
        let values = self.rocks.multi_get(&miss_keys, fill)?;
        for ((i, ticket), value) in misses.into_iter().zip(tickets).zip(values) {
            if let Some(v) = &value {
                self.cache.fill(ticket, v);
            }
            out[i] = value;
        }
        Ok(out)
    }

    /// True when `key` is present. Answered by the index alone: no I/O, no allocation. Every
    /// write acknowledged before the call is reflected; a write of `key` still in flight may not
    /// be (its value can already be visible to [`Db::get`], which asks RocksDB in that window).
    /// On a poisoned `Db` ([`crate::Error::Poisoned`]) the answer comes from an index that may
    /// lack the write that panicked; check [`Db::is_poisoned`] when that matters.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// db.put(0, b"").unwrap(); // an empty value is a present key
    /// assert!(db.contains(0));
    /// assert!(!db.contains(1));
    /// ```
    pub fn contains(&self, key: impl Key) -> bool {
        self.ops.contains.inc();
        // A key too long or not a key at all is in no database.
        bytes_of(&key).is_ok_and(|k| self.index.read().contains(&k))
    }

    /// [`Db::get`] for an `i64` key (see [`Db::put_i64`]).
    #[inline]
    pub fn get_i64(&self, key: i64) -> Result<Option<Vec<u8>>> {
        self.get(i64_to_key(key))
    }

    /// [`Db::contains`] for an `i64` key (see [`Db::put_i64`]).
    pub fn contains_i64(&self, key: i64) -> bool {
        self.contains(i64_to_key(key))
    }

    /// The smallest key and its value, or `None` when the database is empty.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// assert_eq!(db.first::<u64>().unwrap(), None);
    /// db.put(8, b"b").unwrap();
    /// db.put(2, b"a").unwrap();
    /// assert_eq!(db.first().unwrap(), Some((2u64, b"a".to_vec())));
    /// assert_eq!(db.last::<u64>().unwrap(), Some((8, b"b".to_vec())));
    /// let (key, _): (Vec<u8>, _) = db.last().unwrap().unwrap();
    /// assert_eq!(key, 8u64.to_be_bytes());
    /// ```
    pub fn first<K: FromKey>(&self) -> Result<Option<(K, Vec<u8>)>> {
        match self.scan(.., 1).next() {
            None => Ok(None),
            Some(r) => {
                let (k, v) = r?;
                Ok(Some((K::from_key(&k)?, v)))
            }
        }
    }

    /// The largest key and its value, or `None` when the database is empty.
    pub fn last<K: FromKey>(&self) -> Result<Option<(K, Vec<u8>)>> {
        self.check_usable()?;
        let entry = self.index.read().last().map(|(k, _)| k);
        let Some(key) = entry else {
            return Ok(None);
        };
        // Read through `get`: it checks the in-flight mark before its own index lookup.
        if let Some(v) = self.get_bytes(&key)? {
            return Ok(Some((K::from_key(&key)?, v)));
        }
        // Deleted since the index lookup (the delete has committed; its index update may not
        // have run yet): RocksDB, the source of truth, has the largest key now.
        match self.rocks.last_pair()? {
            Some((k, v)) => Ok(Some((K::from_key(&k)?, v))),
            None => Ok(None),
        }
    }

    /// Where to read `key`: its in-flight mark is checked **before** the index lookup (see
    /// `inflight`); the index read lock is held for the lookup only. May answer a
    /// [`Found::Candidate`].
    #[inline]
    fn lookup(&self, key: &[u8]) -> Found {
        self.lookup_with::<true>(key)
    }

    /// [`Db::lookup`] without candidates: for a candidate the hot tier refused (a recycled
    /// segment, or another key's record), a fresh lookup that reads the key's bucket.
    #[inline(never)]
    fn lookup_exact(&self, key: &[u8]) -> Found {
        self.lookup_with::<false>(key)
    }

    #[inline(always)]
    fn lookup_with<const HINTS: bool>(&self, key: &[u8]) -> Found {
        if self.inflight.is_marked(key) {
            return Found::InFlight;
        }
        let index = self.index.read();
        // After the lock (an atomic read-modify-write, a full barrier on x86: a load before it
        // would have to complete first and lengthen every lookup, misses included), before the
        // lookup's loads.
        let mark = self.hot.read_mark();
        // Only a Hot candidate can be checked (against its record); a Cold one is decided by
        // its bucket in the same walk, so that an absent key is still answered without I/O.
        match index.get_hinted(key, |w| HINTS && Location::from_raw(w).is_hot()) {
            Lookup::Absent => Found::Absent,
            Lookup::Found(raw) => Found::At(Location::from_raw(raw), mark),
            Lookup::Candidate(raw) => Found::Candidate(Location::from_raw(raw), mark),
        }
    }

    /// The value of `key` whose index entry was `loc`. `probe` times the read when sampled.
    pub(super) fn read_at(
        &self,
        key: &[u8],
        loc: Location,
        mark: ReadMark,
        probe: &mut Option<Probe>,
    ) -> Result<Option<Vec<u8>>> {
        if loc.is_hot() {
            let found = self.hot.read_vec(mark, loc, key);
            lap(probe, Stage::HotTier);
            if let Some(v) = found {
                self.finish(probe.take(), Served::HotTier);
                return Ok(Some(v));
            }
        }
        self.read_cold(key, Some(loc), <[u8]>::to_vec, probe)
    }

    /// Records a sampled read (no-op for `None`).
    #[inline]
    fn finish(&self, probe: Option<Probe>, served: Served) {
        if let Some(p) = probe {
            self.profiler.finish(p, served);
        }
    }

    /// Where point reads spend their time: the engine's sampled read-path timing (one read in
    /// 64 per thread is timed stage by stage). `profile_10m_queries` prints it.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// db.put(1, b"x").unwrap();
    /// for _ in 0..1000 {
    ///     db.get(1).unwrap();
    /// }
    /// let p = db.read_profile();
    /// assert!(p.samples >= 1000 / 64 - 1);
    /// assert!((p.served_hot_tier + p.served_value_cache + p.served_rocksdb + p.served_absent - 1.0).abs() < 1e-9);
    /// ```
    pub fn read_profile(&self) -> crate::ReadProfile {
        self.profiler.snapshot()
    }

    /// Starts the read profile afresh (after a warm-up, say).
    pub fn reset_read_profile(&self) {
        self.profiler.reset();
    }

    /// Every key, in order, from the index (no I/O). Takes the index read lock for the copy.
    /// Fails only when a key is not a `K` ([`crate::Error::KeyNotU64`]).
    pub fn keys<K: FromKey>(&self) -> Result<Vec<K>> {
        let index = self.index.read();
        let mut out = Vec::with_capacity(index.len());
        let mut bad = None;
        index.scan_from(std::ops::Bound::Unbounded, |k, _| match K::from_key(k) {
            Ok(k) => {
                out.push(k);
                true
            }
            Err(e) => {
                bad = Some(e);
                false
            }
        });
        bad.map_or(Ok(out), Err)
    }

    /// The Cold path: value cache, else RocksDB with the fill protocol (module docs). `seen` is
    /// the location the index gave (Cold, or a Hot one the tier refused), or `None` when the key
    /// was in flight and the index was not consulted (then the value is not promoted). RocksDB
    /// saying "absent" is the answer, whatever the index said.
    fn read_cold<R>(
        &self,
        key: &[u8],
        seen: Option<Location>,
        f: impl FnOnce(&[u8]) -> R,
        probe: &mut Option<Probe>,
    ) -> Result<Option<R>> {
        let cached = self.cache.get(key);
        lap(probe, Stage::ValueCache);
        if let Some(v) = cached {
            let r = f(&v);
            self.finish(probe.take(), Served::ValueCache);
            return Ok(Some(r));
        }
        let ticket = self.cache.begin_fill(key);
        // Only a read of a neighbour of this thread's last one fills RocksDB's block cache
        // (`block_fill`).
        let fill_blocks = self.fills_block_cache(key);
        let promote_from = seen
            .filter(|_| self.opts.promote_reads_to_hot)
            .map(|seen| (seen, self.write_seq.load(Ordering::Acquire)));
        let value = self.rocks.get_pinned(key, fill_blocks, |bytes| {
            let promoted =
                promote_from.is_some_and(|(seen, seq)| self.promote(key, seen, seq, bytes));
            if !promoted {
                self.cache.fill(ticket, bytes);
            }
            f(bytes)
        });
        lap(probe, Stage::RocksDb);
        self.finish(probe.take(), Served::RocksDb);
        value
    }
}

/// Ends a stage of a sampled read (no-op when the read is not sampled).
#[inline(always)]
fn lap(probe: &mut Option<Probe>, stage: Stage) {
    if let Some(p) = probe {
        p.lap(stage);
    }
}
