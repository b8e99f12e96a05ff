//! The write path: `put`, `delete`, `write(batch)`, `ingest_sorted`.
//!
//! Every put, delete and batch runs [`Db::commit`] in the order documented in the parent module
//! (`ingest_sorted` has its own path: it holds the writer mutex across its commit and
//! announces itself to every key at once, through the same kind of guards): lock its keys,
//! announce to the cache, commit to RocksDB, then under the writer mutex append to the hot tier
//! and update the index, end the announcement; last, off every lock, fault in the hot tier's
//! pages the next write will need (`HotTier::prefault_ahead`). Value sizes are checked before
//! anything is locked, so an oversized value fails with `ValueTooLarge` and nothing is written.
//!
//! Concurrent writers of different keys overlap up to the writer mutex. That is the group
//! commit: without `sync_writes` their RocksDB writes join one RocksDB write group (one WAL
//! write; with `Options::pipelined_write`, on by default, a writer waits only for the WAL
//! writes ahead of it, and one group's WAL write overlaps the previous group's memtable
//! insert). With `sync_writes` they join a group of our own, one RocksDB write and one fsync
//! (`sync_group`; DECISIONS.md, "Concurrent writers and group commit (issue 10)", says why
//! RocksDB's grouping is not enough there).
//! See `key_locks` for why writes sharing a key are serialised whole.
//!
//! Why this order:
//! * RocksDB first: it is the commit point. Nothing a reader can see may run ahead of it, or a
//!   crash or a failed write would leave the engine showing a value RocksDB never had. (Appending
//!   to the hot tier on a second thread during the commit was tried: on 2 cores, beside RocksDB's
//!   own background threads, it loaded no faster, see DECISIONS.md, "Engine (`src/db/`)".)
//! * Hot tier before index: the index may only point at a record that exists.
//! * Cache announcement around everything: see `cache` (no entry and no fill of a key while its
//!   write is in progress, which keeps reads monotonic).
//! * Demotions are replayed in order with the new locations, comparing the exact old location,
//!   so a record recycled by an append of the same batch (tiny tiers) is demoted correctly and a
//!   key rewritten since its record was appended keeps its newer location.
//! * Index updates in short holds of the write lock, grows built outside it
//!   ([`Db::apply_index_ops`]): a reader's lookup waits behind at most [`INDEX_CHUNK`] inserts,
//!   never behind a node rebuild, and (the index lock's handoff) only behind the chunk already
//!   running. Before, a chunk of 4096 operations held the lock for ~0.5 ms and a grow inside it
//!   for milliseconds (read p99.9 367 µs, max 65 ms beside batched inserts into 10M keys;
//!   DESIGN.md, "Decisions that still hold", "Reads, marks and the index lock").

use super::{inflight, Db, FLAG};
use crate::alex::i64_to_key;
use crate::error::{check_value_len, Error, Result};
use crate::hot_tier::{Appender, Records};
use crate::keys::{bytes_of, Key, MAX_KEY_LEN};
use crate::location::Location;
use crate::trie::Trie;
use crate::write_batch::{BadKey, WriteBatch};
use std::sync::atomic::Ordering;

/// Index operations applied per hold of the index write lock: a reader waits behind at most
/// this many inserts (sorted, ~100-200 ns each: a few microseconds, shorter than the 200 µs a
/// reader spins before it sleeps, see `index_lock`), never behind a node rebuild
/// ([`Db::apply_index_ops`]). Measured: DESIGN.md, "Decisions that still hold",
/// "Reads, marks and the index lock".
pub(super) const INDEX_CHUNK: usize = 16;
/// How many operations ahead [`Db::apply_index_ops`] prefetches a key's index lines: far enough
/// for the miss to land while the keys before it are applied (each a few hundred
/// nanoseconds), near enough that the lines are still cached when its turn comes.
const PREFETCH_AHEAD: usize = 4;
/// Ingestions of at least this many keys (and an eighth of the index) rebuild the index by a
/// merge and a bulk load outside the lock instead of inserting one by one.
const MERGE_MIN_KEYS: usize = 4096;
/// Writes of more keys than this announce themselves to the whole value cache at once and mark
/// every in-flight stripe (their keys are still listed: `inflight`).
const BULK_KEYS: usize = 4096;

/// What one write asks for; [`Db::commit`] derives the operations it commits.
enum Change<'a> {
    Put(&'a [u8], &'a [u8]),
    Delete(&'a [u8]),
    Batch(&'a WriteBatch),
}

/// One operation a write commits: `(key, Some(value))` for a put, `(key, None)` for a delete.
pub(super) type Op<'a> = (&'a [u8], Option<&'a [u8]>);

/// Bytes the puts of `ops` take in the hot tier.
fn appended_bytes(ops: &[Op<'_>]) -> usize {
    ops.iter()
        .filter_map(|&(k, v)| v.map(|v| crate::hot_tier::record_span(k.len(), v.len())))
        .sum()
}

/// An owned copy of the final operations a write commits, for a commit group (only synced
/// writes pay for it, beside an fsync).
fn owned_batch(final_ops: &[Op<'_>]) -> WriteBatch {
    let value_bytes = final_ops
        .iter()
        .map(|(_, v)| v.map_or(0, <[u8]>::len))
        .sum();
    let mut b = WriteBatch::with_capacity(final_ops.len(), value_bytes);
    for &(key, value) in final_ops {
        match value {
            Some(v) => b.put(key, v),
            None => b.delete(key),
        }
    }
    b
}

/// One change to the index, replayed in order.
#[derive(Clone, Copy, Debug)]
pub(super) enum IndexOp<'a> {
    /// The key now lives at this location.
    Set(&'a [u8], Location),
    /// The key was deleted.
    Remove(&'a [u8]),
    /// A hot-tier record was recycled: the key becomes Cold if the index still points there.
    Demote(&'a [u8], Location),
}

impl<'a> IndexOp<'a> {
    /// The key the operation is about.
    fn key(&self) -> &'a [u8] {
        match *self {
            IndexOp::Set(k, _) | IndexOp::Remove(k) | IndexOp::Demote(k, _) => k,
        }
    }
}

/// What a write's hot-tier appends did: each operation's new location (`None`: a delete, or
/// the value stayed Cold) and the records recycled before each append, to demote.
pub(super) struct Appends {
    locations: Vec<Option<Location>>,
    /// `(operation, records)`: the records a recycle before that operation's append handed back.
    recycled: Vec<(usize, Records)>,
}

impl Appends {
    /// The index operations, in order: for each operation, the demotions of the records its
    /// append recycled, then its own change.
    fn index_ops<'a>(&'a self, ops: &[Op<'a>]) -> Vec<IndexOp<'a>> {
        let demoted: usize = self.recycled.iter().map(|(_, r)| r.len()).sum();
        let mut out = Vec::with_capacity(ops.len() + demoted);
        let mut recycled = self.recycled.iter().peekable();
        for (i, (&(key, value), &loc)) in ops.iter().zip(&self.locations).enumerate() {
            while let Some((_, records)) = recycled.next_if(|(at, _)| *at == i) {
                out.extend(records.iter().map(|(k, old)| IndexOp::Demote(k, old)));
            }
            out.push(match value {
                None => IndexOp::Remove(key),
                Some(_) => IndexOp::Set(key, loc.unwrap_or(Location::COLD)),
            });
        }
        out
    }
}

/// A write's announcement: its keys are marked in flight (`inflight`) and announced to the
/// value cache (`cache::begin_write`) before the RocksDB commit; dropping it, after the index
/// update, ends both, even if the write fails or panics. A write of several keys lists them
/// with its marks, so that readers of other keys sharing their stripes still use the index.
struct Announcement<'a> {
    db: &'a Db,
    ops: &'a [Op<'a>],
    marks: Marks<'a>,
}

/// How a write's keys are marked in flight.
enum Marks<'a> {
    /// A one-key write: its stripe (unlisted).
    Key(&'a [u8]),
    /// A write of several keys: listed.
    Listed(inflight::Listed),
}

impl<'a> Announcement<'a> {
    /// `ops` hold each key once, in key order (a batch's final operations, or one operation).
    fn begin(db: &'a Db, ops: &'a [Op<'a>]) -> Self {
        // Everything that can fail (allocate, check) before the first mark: past here, only
        // this value's `Drop` ends what was begun.
        debug_assert!(ops.windows(2).all(|w| w[0].0 < w[1].0), "ops in key order");
        let listed_keys: Option<inflight::KeyList> =
            (ops.len() != 1).then(|| inflight::KeyList::of_sorted(ops.iter().map(|&(k, _)| k)));
        db.inflight.enter();
        if ops.len() > BULK_KEYS {
            db.cache.begin_write_all();
        } else {
            for &(key, _) in ops {
                db.cache.begin_write(key);
            }
        }
        let marks = match listed_keys {
            Some(keys) => Marks::Listed(db.inflight.begin_listed(keys, BULK_KEYS)),
            None => {
                let key = ops[0].0;
                db.inflight.begin(key);
                Marks::Key(key)
            }
        };
        Announcement { db, ops, marks }
    }
}

/// Poisons the `Db` unless the write it guards reaches [`PoisonOnUnwind::disarm`]: from just
/// before a write may reach RocksDB until its index update is complete, a panic can leave the
/// index without a committed change (see `Error::Poisoned`). Declared after the write's
/// announcement, so it is dropped first and the flag is set before the write's keys stop being
/// marked in flight.
///
/// It asks whether *this* write finished, not `std::thread::panicking()`: a write made from a
/// `Drop` while an unrelated panic unwinds completes normally and must not poison the handle.
pub(super) struct PoisonOnUnwind<'a> {
    db: &'a Db,
    done: bool,
}

impl<'a> PoisonOnUnwind<'a> {
    pub(super) fn arm(db: &'a Db) -> Self {
        PoisonOnUnwind { db, done: false }
    }

    /// The write ran to its end (committed and applied, or failed before changing anything).
    pub(super) fn disarm(mut self) {
        self.done = true;
    }
}

impl Drop for PoisonOnUnwind<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.db.poisoned.store(true, Ordering::Release);
        }
    }
}

/// An ingestion's announcement: every in-flight stripe marked and the whole value cache
/// announced, ended when it drops (after the index update), even if the ingestion panics:
/// the same guarantee [`Announcement`] gives every other write.
struct IngestAnnouncement<'a>(&'a Db);

impl<'a> IngestAnnouncement<'a> {
    fn begin(db: &'a Db) -> Self {
        db.inflight.enter();
        db.inflight.begin_all();
        db.cache.begin_write_all();
        IngestAnnouncement(db)
    }
}

impl Drop for IngestAnnouncement<'_> {
    fn drop(&mut self) {
        self.0.cache.end_write_all();
        self.0.inflight.end_all();
        self.0.inflight.exit();
    }
}

/// Fault injection for tests: a panic between the RocksDB commit and the index update.
#[cfg(test)]
pub(super) mod fault {
    use std::cell::Cell;

    thread_local! {
        static PANIC_AFTER_COMMIT: Cell<bool> = const { Cell::new(false) };
    }

    /// The next write of this thread panics right after its RocksDB commit.
    pub(in crate::db) fn panic_after_next_commit() {
        PANIC_AFTER_COMMIT.with(|c| c.set(true));
    }

    pub(super) fn after_commit() {
        if PANIC_AFTER_COMMIT.with(|c| c.replace(false)) {
            panic!("injected fault: panic after the RocksDB commit");
        }
    }
}

impl Drop for Announcement<'_> {
    fn drop(&mut self) {
        if self.ops.len() > BULK_KEYS {
            self.db.cache.end_write_all();
        } else {
            for &(key, _) in self.ops {
                self.db.cache.end_write(key);
            }
        }
        match &self.marks {
            Marks::Listed(listed) => self.db.inflight.end_listed(listed),
            Marks::Key(key) => self.db.inflight.end(key),
        }
        self.db.inflight.exit();
    }
}

impl Db {
    /// Sets `key` to `value`. Durable per the options once it returns (WAL on: survives a
    /// process crash; `sync_writes`: survives power loss).
    ///
    /// Fails with [`Error::ValueTooLarge`](crate::Error::ValueTooLarge) (nothing written) when `value` is longer than
    /// `Options::max_value_bytes`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// db.put(u64::MAX, b"the whole u64 range is valid").unwrap();
    /// assert!(db.contains(u64::MAX));
    /// db.put("tenant/7/user/42", b"a byte-string key").unwrap();
    /// db.put(b"", b"the empty key is a key").unwrap();
    /// let too_long = vec![b'k'; alexkv::MAX_KEY_LEN + 1];
    /// assert!(matches!(db.put(&too_long, b"x"), Err(alexkv::Error::KeyTooLong { .. })));
    /// ```
    pub fn put(&self, key: impl Key, value: &[u8]) -> Result<()> {
        let key = bytes_of(&key)?;
        check_value_len(&key, value.len(), self.opts.max_value_bytes)?;
        self.ops.puts.inc();
        self.commit(Change::Put(&key, value))
    }

    /// Removes `key`. Removing a missing key is not an error.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// db.put(3, b"x").unwrap();
    /// db.delete(3).unwrap();
    /// db.delete(3).unwrap();
    /// assert_eq!(db.get(3).unwrap(), None);
    /// ```
    pub fn delete(&self, key: impl Key) -> Result<()> {
        let key = bytes_of(&key)?;
        self.ops.deletes.inc();
        self.commit(Change::Delete(&key))
    }

    /// Applies a batch atomically: after it returns every operation is visible, and after a
    /// crash either all of it or none of it is. Later operations on a key win. Fails with
    /// [`Error::ValueTooLarge`](crate::Error::ValueTooLarge) before writing anything if any value is too long.
    ///
    /// ```
    /// use alexkv::WriteBatch;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// let mut batch = WriteBatch::new();
    /// for k in 0..100u64 {
    ///     batch.put(k, k.to_le_bytes());
    /// }
    /// batch.delete(0);
    /// db.write(batch).unwrap();
    /// assert_eq!(db.len(), 99);
    /// ```
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        // Even an empty batch: a poisoned handle refuses every write.
        self.check_usable()?;
        match batch.bad_key() {
            Some(BadKey::TooLong(len)) => {
                return Err(Error::KeyTooLong {
                    len: *len,
                    limit: MAX_KEY_LEN,
                })
            }
            Some(BadKey::Invalid(m)) => return Err(Error::InvalidKey(m.clone())),
            None => {}
        }
        if let Some((key, len)) = batch.first_oversized(self.opts.max_value_bytes) {
            check_value_len(key, len, self.opts.max_value_bytes)?;
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.ops.batches.inc();
        self.commit(Change::Batch(&batch))
    }

    /// [`Db::put`] for an `i64` key, stored under [`crate::alex::i64_to_key`]`(key)`, which
    /// preserves order: ranges over mapped keys list signed keys in signed order.
    ///
    /// ```
    /// use alexkv::alex::{i64_to_key, key_to_i64};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// db.put_i64(-5, b"minus five").unwrap();
    /// db.put_i64(3, b"three").unwrap();
    /// assert_eq!(db.get_i64(-5).unwrap().as_deref(), Some(&b"minus five"[..]));
    /// let signed: Vec<i64> = db.range(i64_to_key(-10)..).map(|r| key_to_i64(r.unwrap().0)).collect();
    /// assert_eq!(signed, vec![-5, 3]);
    /// ```
    pub fn put_i64(&self, key: i64, value: &[u8]) -> Result<()> {
        self.put(i64_to_key(key), value)
    }

    /// [`Db::delete`] for an `i64` key (see [`Db::put_i64`]).
    pub fn delete_i64(&self, key: i64) -> Result<()> {
        self.delete(i64_to_key(key))
    }

    /// Bulk-loads strictly increasing `(key, value)` pairs: writes one RocksDB SST file and
    /// ingests it atomically (far faster than puts for large sorted loads), then merges the keys
    /// into the index. Existing keys are overwritten. Returns the number of pairs loaded.
    ///
    /// Fails with [`Error::Unsorted`](crate::Error::Unsorted) or [`Error::ValueTooLarge`](crate::Error::ValueTooLarge) before anything is visible:
    /// the load is all or nothing.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// let n = db.ingest_sorted((0..10_000u64).map(|k| (k * 2, k.to_le_bytes()))).unwrap();
    /// assert_eq!(n, 10_000);
    /// assert_eq!(db.get(20).unwrap(), Some(10u64.to_le_bytes().to_vec()));
    /// assert!(!db.contains(21));
    /// db.ingest_sorted([("a", "1"), ("b", "2")]).unwrap();
    /// assert_eq!(db.get("b").unwrap(), Some(b"2".to_vec()));
    /// ```
    pub fn ingest_sorted<K: Key, V: AsRef<[u8]>>(
        &self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<u64> {
        // Before the SST file is written (and for an empty load too): a poisoned handle refuses
        // every write without doing its work first.
        self.check_usable()?;
        // Every key, one after the other, and where each ends.
        let (mut keys, mut ends) = (Vec::new(), Vec::new());
        let mut bad = None;
        let pairs = pairs.into_iter().map_while(|(k, v)| match bytes_of(&k) {
            Ok(b) => {
                keys.extend_from_slice(&b);
                ends.push(keys.len());
                Some((b.to_vec(), v))
            }
            Err(e) => {
                bad = Some(e);
                None
            }
        });
        // Writing the SST file makes nothing visible: no lock, no cache announcement yet.
        let prepared = self.rocks.prepare_ingest(pairs);
        if let Some(e) = bad {
            return Err(e);
        }
        let prepared = prepared?;
        if prepared.count() == 0 {
            return Ok(0);
        }
        let _keys = self.key_locks.lock_all();
        let _writer = self.writer.lock();
        self.check_usable()?;
        self.forget_snapshot()?;
        let announcement = IngestAnnouncement::begin(self);
        let poison = PoisonOnUnwind::arm(self);
        let result = self.rocks.ingest_prepared(prepared);
        if result.is_ok() {
            self.dirty.store(true, FLAG);
            #[cfg(test)]
            fault::after_commit();
            let mut start = 0;
            let list: Vec<&[u8]> = ends
                .iter()
                .map(|&end| {
                    let k = &keys[start..end];
                    start = end;
                    k
                })
                .collect();
            self.merge_cold_keys(&list);
        }
        poison.disarm();
        drop(announcement);
        self.write_seq.fetch_add(1, Ordering::Release);
        result
    }

    /// Before the session's first change to RocksDB: deletes the snapshot marker inside
    /// RocksDB, durably (this is what makes any surviving snapshot file untrusted, see
    /// `rocks::marker`), then the snapshot file. Writers run it concurrently: after the first,
    /// it is two loads; the work itself runs under `first_change`, and each flag is cleared
    /// only once its step is done, so no writer passes while the marker may still be there.
    fn forget_snapshot(&self) -> Result<()> {
        if !self.marker_on_disk.load(Ordering::Acquire)
            && !self.snapshot_on_disk.load(Ordering::Acquire)
        {
            return Ok(());
        }
        let _first = self.first_change.lock();
        if self.marker_on_disk.load(Ordering::Acquire) {
            self.rocks.clear_snapshot_marker()?;
            self.marker_on_disk.store(false, Ordering::Release);
        }
        if self.snapshot_on_disk.load(Ordering::Acquire) {
            super::snapshot::remove(&self.path)?;
            self.snapshot_on_disk.store(false, Ordering::Release);
        }
        Ok(())
    }

    /// Runs one write: `change`'s final operation per key, in key order, is what RocksDB
    /// commits and what goes to the hot tier and the index. The order is the module's.
    ///
    /// The writer mutex is taken only after the commit: writes of different keys reach RocksDB
    /// together, where its write thread groups them (one WAL write), or with `sync_writes` the
    /// group commit queue does (one RocksDB write and one fsync, `sync_group`); only their
    /// hot-tier appends and index updates are serialised. Writes sharing a key are serialised
    /// whole by the key locks, so the index ends with each key's last commit (`key_locks`).
    fn commit(&self, change: Change<'_>) -> Result<()> {
        let single;
        let final_ops;
        let ops: &[Op<'_>] = match change {
            Change::Put(key, value) => {
                single = [(key, Some(value))];
                &single
            }
            Change::Delete(key) => {
                single = [(key, None)];
                &single
            }
            Change::Batch(batch) => {
                final_ops = batch.final_ops();
                &final_ops
            }
        };
        let _keys = self.key_locks.lock(ops.iter().map(|&(k, _)| k));
        // From here until just before the key locks go (after the index update): what the
        // group commit's leader waits for (`sync_group`).
        let active = self.opts.sync_writes.then(|| self.sync_group.enter());
        self.check_usable()?;
        self.forget_snapshot()?;
        let announcement = Announcement::begin(self, ops);
        let poison = PoisonOnUnwind::arm(self);
        let result = if self.opts.sync_writes {
            self.sync_group
                .commit(&self.rocks, owned_batch(ops), &self.poisoned)
        } else {
            // A batch commits each key's final operation in key order ([`WriteBatch::final_ops`]):
            // the same final state, and RocksDB's memtable inserts then follow one another down
            // its skiplist (each starts from where the previous one ended) instead of searching it
            // from the top for every random key.
            self.rocks.write_ops(ops.iter().copied())
        };
        if result.is_ok() {
            self.dirty.store(true, FLAG);
            #[cfg(test)]
            fault::after_commit();
            let mut writer = self.writer.lock();
            let appends = self.append_hot(&mut writer, ops);
            self.apply_index_ops(&appends.index_ops(ops));
            // Under the mutex, after the index update: what a read promotion checks.
            self.write_seq.fetch_add(1, Ordering::Release);
        }
        poison.disarm();
        drop(announcement);
        // Uncounted before the key locks go: a writer waiting for one of them that then leads
        // must not wait for this writer, whose next write of the same key would queue behind it.
        drop(active);
        drop(_keys);
        if result.is_ok() && self.hot.is_enabled() {
            // The next write of this size finds its pages faulted in (off every lock).
            self.hot.prefault_ahead(2 * appended_bytes(ops));
        }
        result
    }

    /// Appends the puts of `ops` to the hot tier: each operation's new location and the records
    /// recycled on the way ([`Appends::index_ops`] turns them into the index operations).
    /// `appender` is the writer mutex's, held by the caller.
    fn append_hot(&self, appender: &mut Appender, ops: &[Op<'_>]) -> Appends {
        let mut out = Appends {
            locations: Vec::with_capacity(ops.len()),
            recycled: Vec::new(),
        };
        for (i, &(key, value)) in ops.iter().enumerate() {
            let loc = value.and_then(|v| {
                let (loc, recycled) = self.append_one(appender, key, v);
                out.recycled.extend(recycled.map(|r| (i, r)));
                loc
            });
            out.locations.push(loc);
        }
        out
    }

    /// Appends one value to the hot tier; returns its location and the records of a segment
    /// recycled to make room (to demote). The location is `None` when the tier is off, declines
    /// the value, or fails (the key stays Cold: the RocksDB write already succeeded, and the
    /// tier is only a cache).
    pub(super) fn append_one(
        &self,
        appender: &mut Appender,
        key: &[u8],
        value: &[u8],
    ) -> (Option<Location>, Option<Records>) {
        if !self.hot.accepts(key.len(), value.len()) {
            return (None, None);
        }
        match self.hot.append(appender, key, value) {
            Ok(Some(appended)) => {
                let recycled = (!appended.recycled.is_empty()).then_some(appended.recycled);
                (Some(appended.location), recycled)
            }
            Ok(None) => {
                // Declined; a recycle it made (its segment pinned by a reader) still hands its
                // records back, to demote now.
                let withheld = self.hot.take_withheld(appender);
                (None, (!withheld.is_empty()).then_some(withheld))
            }
            Err(_) => {
                self.hot_append_errors.inc();
                (None, None)
            }
        }
    }

    /// Replays index operations in order, holding the index write lock for at most
    /// [`INDEX_CHUNK`] operations at a time and never while a data node is rebuilt. Called
    /// under the writer mutex, which keeps every other mutation out.
    ///
    /// An insert whose data node is full needs a grow (an expansion or split: building nodes
    /// of up to 16 MiB, milliseconds). The chunk stops before that insert and releases the
    /// write lock; the grow is planned and built under the *read* lock
    /// ([`Alex::prepare_grow`]), which readers share, and is valid when installed because the
    /// writer mutex froze the index meanwhile; then the write lock is taken again just to swap
    /// the prebuilt nodes in ([`Alex::install_grow`]), and the replaced nodes are freed after
    /// it is released.
    pub(super) fn apply_index_ops(&self, ops: &[IndexOp<'_>]) {
        // Key order visits the index's nodes in order (far fewer cache misses than a random
        // order). The sort is stable, so one key's operations keep their order (a record
        // appended and recycled within the same write is demoted after it was set).
        let sorted;
        // A batch's puts come in key order already (`WriteBatch::final_ops`); only the demotions
        // of a recycle, appended after them, need the sort.
        let ops = if ops.len() > 64 && !ops.is_sorted_by(|a, b| a.key() <= b.key()) {
            let mut v = ops.to_vec();
            v.sort_by(|a, b| a.key().cmp(b.key()));
            sorted = v;
            &sorted[..]
        } else {
            ops
        };
        let mut next = 0;
        while next < ops.len() {
            let mut index = self.index.write();
            let end = (next + INDEX_CHUNK).min(ops.len());
            let mut grow_for = None;
            while next < end {
                if let Some(ahead) = ops.get(next + PREFETCH_AHEAD) {
                    index.prefetch(ahead.key());
                }
                match ops[next] {
                    IndexOp::Set(key, loc) => {
                        if index.set_direct(key, loc.to_raw()).is_some()
                            || index.set_or_add(key, loc.to_raw()).is_some()
                        {
                            next += 1;
                            continue;
                        }
                        if index.needs_grow(key) {
                            grow_for = Some(key);
                            break;
                        }
                        insert(self, &mut index, key, loc);
                    }
                    IndexOp::Remove(key) => {
                        index.remove(key);
                    }
                    // Only ever replaces a present key's payload: never grows.
                    IndexOp::Demote(key, old) => {
                        if index.get(key) == Some(old.to_raw()) {
                            set(self, &mut index, key, Location::COLD);
                        }
                    }
                }
                next += 1;
            }
            drop(index);
            if let Some(key) = grow_for {
                let plan = self.index.read().prepare_grow(key);
                if let Some(plan) = plan {
                    let retired = self.index.write().install_grow(plan);
                    drop(retired);
                }
            }
        }
    }

    /// Makes every key of `keys` (strictly increasing, just ingested) Cold in the index: inserts
    /// them one by one when few, else merges them with the index and bulk-loads a new one outside
    /// the lock (the writer mutex keeps the index unchanged meanwhile) and swaps it in.
    fn merge_cold_keys(&self, keys: &[&[u8]]) {
        let current_len = self.index.read().len();
        if keys.len() >= (current_len / 8).max(MERGE_MIN_KEYS) {
            let (merged_keys, merged_payloads) = {
                let index = self.index.read();
                let mut old: Vec<(Vec<u8>, u64)> = Vec::with_capacity(index.len());
                index.scan_from(std::ops::Bound::Unbounded, |k, w| {
                    old.push((k.to_vec(), w));
                    true
                });
                merge_sorted(old.into_iter(), keys, Location::COLD.to_raw())
            };
            // Both inputs are strictly increasing, so the merge is too and the bulk load cannot
            // fail; if it did, the one-by-one inserts below still apply a write RocksDB has
            // already committed.
            if let Ok(mut new_index) = Trie::bulk_load(&merged_keys, &merged_payloads) {
                if self.opts.index_key_filter {
                    new_index.set_key_filter(true);
                }
                let old = std::mem::replace(&mut *self.index.write(), new_index);
                // Freed after the write lock is released.
                drop(old);
                return;
            }
        }
        let ops: Vec<IndexOp<'_>> = keys
            .iter()
            .map(|&k| IndexOp::Set(k, Location::COLD))
            .collect();
        self.apply_index_ops(&ops);
    }
}

/// Sets a present key's word in the index (a demotion: never a grow), in one ALEX descent when
/// the key is a root-layer direct word, in place in its bucket otherwise (`Trie::set_existing`). The trie refuses only keys over `MAX_KEY_LEN` (refused
/// before any write) and reserved words (no `Location` is one: a compile-time assertion in
/// `db`), so this cannot fail; if it ever did, the index would lack a committed key, so the `Db`
/// is poisoned (the next open rebuilds the index from RocksDB) rather than left wrong.
fn set(db: &Db, index: &mut Trie, key: &[u8], loc: Location) {
    if index.set_direct(key, loc.to_raw()).is_none()
        && index.set_existing(key, loc.to_raw()).is_none()
    {
        insert(db, index, key, loc);
    }
}

/// Inserts `key` without planning: `needs_grow` has just said no grow is due, or the key is
/// present (see [`set`] for why a refusal poisons the `Db`).
fn insert(db: &Db, index: &mut Trie, key: &[u8], loc: Location) {
    if index.insert_unplanned(key, loc.to_raw()).is_err() {
        db.poisoned.store(true, Ordering::Release);
    }
}

/// Merges the index's entries with `new` keys (both strictly increasing); a key in both takes
/// `payload` (its old location is stale: the ingestion overwrote the value).
fn merge_sorted(
    old: impl Iterator<Item = (Vec<u8>, u64)>,
    new: &[&[u8]],
    payload: u64,
) -> (Vec<Vec<u8>>, Vec<u64>) {
    let (lo, _) = old.size_hint();
    let mut keys = Vec::with_capacity(lo + new.len());
    let mut payloads = Vec::with_capacity(lo + new.len());
    let mut old = old.peekable();
    let mut new = new.iter().copied().peekable();
    loop {
        let take_new = match (old.peek(), new.peek()) {
            (Some((ok, _)), Some(nk)) => {
                if &ok[..] < *nk {
                    false
                } else {
                    if &ok[..] == *nk {
                        old.next();
                    }
                    true
                }
            }
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => break,
        };
        let (key, value) = if take_new {
            (new.next().map(<[u8]>::to_vec), payload)
        } else {
            match old.next() {
                Some((k, v)) => (Some(k), v),
                None => (None, payload),
            }
        };
        if let Some(key) = key {
            keys.push(key);
            payloads.push(value);
        }
    }
    (keys, payloads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_order_and_new_keys_win() {
        let b = |n: u64| n.to_be_bytes().to_vec();
        let old = vec![(b(1), 10u64), (b(3), 30), (b(5), 50), (b(u64::MAX), 7)];
        let new = [b(0), b(3), b(4), b(6)];
        let new: Vec<&[u8]> = new.iter().map(|k| &k[..]).collect();
        let (k, p) = merge_sorted(old.into_iter(), &new, 0);
        assert_eq!(k, [0, 1, 3, 4, 5, 6, u64::MAX].map(b).to_vec());
        assert_eq!(p, vec![0, 10, 0, 0, 50, 0, 7]);
        let (k, p) = merge_sorted(std::iter::empty(), &[b"a"], 9);
        assert_eq!((k, p), (vec![b"a".to_vec()], vec![9]));
    }

    /// Beside batched inserts into 10M keys, 18.6% of reads of *other* keys went to RocksDB
    /// because the batch's marks covered their stripes (DESIGN.md, "Decisions that still hold",
    /// "Reads, marks and the index lock"). Listed marks send a reader to RocksDB for the
    /// batch's own keys only.
    #[test]
    fn a_batch_in_flight_sends_only_its_own_keys_to_the_cold_path() {
        let stripe = |k: u64| inflight::hash(&k.to_be_bytes()) as usize & (inflight::STRIPES - 1);
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), crate::Options::default()).unwrap();
        let loaded = 0..5000u64;
        for k in loaded.clone() {
            db.put(k, &k.to_le_bytes()).unwrap();
        }
        let batch: Vec<u64> = (0..1000u64).map(|i| (1 << 40) + i * 7).collect();
        let batch_bytes: Vec<[u8; 8]> = batch.iter().map(|k| k.to_be_bytes()).collect();
        let ops: Vec<Op<'_>> = batch_bytes
            .iter()
            .map(|k| (&k[..], Some(&b"new"[..])))
            .collect();
        let marked: std::collections::HashSet<usize> = batch.iter().map(|&k| stripe(k)).collect();
        let mates = loaded
            .clone()
            .filter(|&k| marked.contains(&stripe(k)))
            .count();
        assert!(
            mates > 500,
            "the test reads stripe mates of the batch's keys: {mates}"
        );

        // As during the batch's commit: announced, not yet in the index.
        let announcement = Announcement::begin(&db, &ops);
        let before = db.stats();
        for k in loaded.clone() {
            assert_eq!(db.get(k).unwrap(), Some(k.to_le_bytes().to_vec()));
        }
        let after = db.stats();
        assert_eq!(
            after.hot_tier.hits - before.hot_tier.hits,
            loaded.end,
            "every loaded key is read through the index from the hot tier"
        );
        assert_eq!(after.rocksdb.gets, before.rocksdb.gets);
        // A key of the batch is in flight: RocksDB answers (it has not committed here).
        assert_eq!(db.get(batch[3]).unwrap(), None);
        assert_eq!(db.stats().rocksdb.gets, after.rocksdb.gets + 1);
        drop(announcement);
        assert!(!db.inflight.any() && !db.inflight.is_marked(&batch[3].to_be_bytes()));
    }
}
