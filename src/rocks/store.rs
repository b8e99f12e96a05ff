//! [`RocksStore`]: alexkv's view of RocksDB, the source of truth.
//!
//! Keys and values are stored as given: RocksDB's bytewise order is alexkv's key order, and a
//! `u64` key is its 8 big-endian bytes (`crate::keys`), so integer keys sort numerically.
//! Databases written when alexkv took only `u64` keys hold exactly those bytes.
//!
//! # Directory ownership
//!
//! A database directory is alexkv's when it holds the identity file `ALEXKV`, whose content is
//! exactly `"alexkv database\nformat 1\n"`. [`RocksStore::open`] writes it (atomically: temporary
//! file, fsync, rename) into an empty or new directory *before* creating RocksDB, so a crash in
//! between leaves a directory still recognised as ours (RocksDB is then created on the next
//! open). A directory without the file is refused with `Error::NotADatabase`: a plain RocksDB
//! database (it has `CURRENT`) or any other non-empty directory. An identity file with another
//! format number is refused the same way.
//!
//! The RocksDB `LOCK` taken at open guards the whole directory, hot-tier segments included:
//! open the store before anything else that writes into the directory.

use crate::error::{check_value_len, Error, Result};
use crate::keys::check_len;
use crate::options::Options;
use crate::stats::{Counter, RocksDbStats};
#[cfg(test)]
use crate::write_batch::WriteBatch;
use rocksdb::{
    ColumnFamilyDescriptor, DBRawIteratorWithThreadMode, IngestExternalFileOptions, ReadOptions, DB,
};
use std::fs;
use std::io::Write;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Name of the identity file that marks a directory as an alexkv database.
pub(crate) const IDENTITY_FILE: &str = "ALEXKV";
const IDENTITY_CONTENT: &str = "alexkv database\nformat 1\n";
/// Prefix of temporary SST files written by [`RocksStore::ingest_sorted`].
const INGEST_PREFIX: &str = "alexkv-ingest-";
/// Read-ahead for bulk scans (index rebuild at open).
const BULK_READAHEAD: usize = 4 << 20;

/// A range of keys as RocksDB iterates it: an inclusive lower bound and an exclusive upper
/// bound (`None`: unbounded). The key right after `k` in byte order is `k` followed by a zero
/// byte, so every `Bound` maps onto this form without losing a key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    /// The first key the range can hold.
    pub lower: Vec<u8>,
    /// The first key after the range, or `None` for "to the end".
    pub upper: Option<Vec<u8>>,
}

impl Span {
    /// The range between two bounds.
    pub(crate) fn new(start: Bound<&[u8]>, end: Bound<&[u8]>) -> Span {
        let lower = match start {
            Bound::Included(k) => k.to_vec(),
            Bound::Excluded(k) => successor(k),
            Bound::Unbounded => Vec::new(),
        };
        let upper = match end {
            Bound::Included(k) => Some(successor(k)),
            Bound::Excluded(k) => Some(k.to_vec()),
            Bound::Unbounded => None,
        };
        Span { lower, upper }
    }

    /// True when no key can fall in the range.
    pub(crate) fn is_empty(&self) -> bool {
        self.upper.as_ref().is_some_and(|u| *u <= self.lower)
    }
}

/// The smallest key after `k` in byte order: `k` and a zero byte.
pub(crate) fn successor(k: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(k.len() + 1);
    v.extend_from_slice(k);
    v.push(0);
    v
}

/// The RocksDB database of one alexkv directory. All methods take `&self` and are safe to call
/// from many threads; ordering between writers is the engine's job.
pub(crate) struct RocksStore {
    pub(super) db: DB,
    path: PathBuf,
    /// Kept for `SstFileWriter`, so ingested files use the same table format.
    rocks_opts: rocksdb::Options,
    write_opts: rocksdb::WriteOptions,
    /// Reused by point reads: `DB::get_pinned` would create and free a C `ReadOptions` per call.
    read_opts: ReadOptions,
    /// The same, for a point read that leaves the block cache as it was (`fill_cache(false)`):
    /// [`RocksStore::get_pinned`] with `fill_block_cache` false.
    read_once_opts: ReadOptions,
    max_value_bytes: usize,
    next_ingest: AtomicU64,
    gets: Counter,
    gets_unfilled: Counter,
    bytes_read: Counter,
    writes: Counter,
    bytes_written: Counter,
    ingested_keys: Counter,
}

impl RocksStore {
    /// Opens (or creates, per `opts.create_if_missing`) the database in directory `path`.
    ///
    /// Errors: `NotADirectory` (path is a file), `NotADatabase` (directory not ours, see the
    /// module docs), `Locked` (open elsewhere), `Io` (path missing without `create_if_missing`,
    /// permissions), `Corruption`, `Rocks`. Options are not validated here; the engine does.
    pub(crate) fn open(path: &Path, opts: &Options) -> Result<RocksStore> {
        match fs::metadata(path) {
            Ok(m) if !m.is_dir() => {
                return Err(Error::NotADirectory {
                    path: path.to_path_buf(),
                })
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && opts.create_if_missing => {
                fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
            }
            Err(e) => return Err(Error::io(path, e)),
        }
        let create = claim_directory(path, opts.create_if_missing)?;
        remove_ingest_leftovers(path)?;
        let mut rocks_opts = opts.to_rocksdb();
        rocks_opts.create_if_missing(create);
        // The meta column family (snapshot marker, `super::marker`) is created on the first
        // open of a database that lacks it; every later open must name it.
        rocks_opts.create_missing_column_families(true);
        let families = [
            ColumnFamilyDescriptor::new(rocksdb::DEFAULT_COLUMN_FAMILY_NAME, rocks_opts.clone()),
            super::marker::meta_family(),
        ];
        let db = DB::open_cf_descriptors(&rocks_opts, path, families)
            .map_err(|e| Error::from_rocks(path, "open", e))?;
        let mut read_once_opts = ReadOptions::default();
        read_once_opts.fill_cache(false);
        Ok(RocksStore {
            db,
            path: path.to_path_buf(),
            rocks_opts,
            write_opts: opts.to_write_options(),
            read_opts: ReadOptions::default(),
            read_once_opts,
            max_value_bytes: opts.max_value_bytes,
            next_ingest: AtomicU64::new(0),
            gets: Counter::new(),
            gets_unfilled: Counter::new(),
            bytes_read: Counter::new(),
            writes: Counter::new(),
            bytes_written: Counter::new(),
            ingested_keys: Counter::new(),
        })
    }

    /// The database directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn rocks_err(&self, op: &'static str) -> impl FnOnce(rocksdb::Error) -> Error + '_ {
        move |e| Error::from_rocks(&self.path, op, e)
    }

    /// The value of `key`, copied out.
    #[cfg(test)]
    pub(crate) fn get(&self, key: impl crate::keys::Key) -> Result<Option<Vec<u8>>> {
        self.get_pinned(&key.key_bytes()?, true, <[u8]>::to_vec)
    }

    /// Runs `f` on the value of `key` without copying it out of RocksDB (the slice is pinned in
    /// the block cache or memtable while `f` runs). With `fill_block_cache` false a data block
    /// read from a file is not added to the block cache (`ReadOptions::fill_cache`): the read
    /// costs no cache insert and evicts nothing (the engine's "block cache admission",
    /// `Options::block_cache_admission`).
    pub(crate) fn get_pinned<R>(
        &self,
        key: &[u8],
        fill_block_cache: bool,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>> {
        self.gets.inc();
        let opts = self.point_read_opts(fill_block_cache, 1);
        let slice = self
            .db
            .get_pinned_opt(key, opts)
            .map_err(self.rocks_err("get"))?;
        Ok(slice.map(|s| {
            self.bytes_read.add(s.len() as u64);
            f(&s)
        }))
    }

    /// The read options of `reads` point reads, counting them when they leave the block cache
    /// as it was.
    fn point_read_opts(&self, fill_block_cache: bool, reads: u64) -> &ReadOptions {
        if fill_block_cache {
            &self.read_opts
        } else {
            self.gets_unfilled.add(reads);
            &self.read_once_opts
        }
    }

    /// Values of several keys in one call, in the order of `keys`; `fill_block_cache` as for
    /// [`RocksStore::get_pinned`].
    pub(crate) fn multi_get(
        &self,
        keys: &[&[u8]],
        fill_block_cache: bool,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        self.gets.add(keys.len() as u64);
        let opts = self.point_read_opts(fill_block_cache, keys.len() as u64);
        let results = self.db.multi_get_opt(keys.iter(), opts);
        results
            .into_iter()
            .map(|r| {
                let v = r.map_err(self.rocks_err("multi_get"))?;
                if let Some(v) = &v {
                    self.bytes_read.add(v.len() as u64);
                }
                Ok(v)
            })
            .collect()
    }

    /// Sets `key` to `value`. (The engine commits through [`RocksStore::write_ops`].)
    #[cfg(test)]
    pub(crate) fn put(&self, key: impl crate::keys::Key, value: &[u8]) -> Result<()> {
        self.write_ops([(&key.key_bytes()?[..], Some(value))])
    }

    /// Removes `key`.
    #[cfg(test)]
    pub(crate) fn delete(&self, key: impl crate::keys::Key) -> Result<()> {
        self.write_ops([(&key.key_bytes()?[..], None)])
    }

    /// Applies a batch atomically (one RocksDB write; later operations on a key win). The
    /// engine commits a batch's final operations through [`RocksStore::write_ops`] instead.
    #[cfg(test)]
    pub(crate) fn write(&self, batch: &WriteBatch) -> Result<()> {
        self.write_ops(batch.ops())
    }

    /// Applies `(key, Some(value))` puts and `(key, None)` deletes atomically, in order. Refuses
    /// the whole write with `ValueTooLarge` if any value exceeds `max_value_bytes`.
    pub(crate) fn write_ops<'v>(
        &self,
        ops: impl IntoIterator<Item = (&'v [u8], Option<&'v [u8]>)>,
    ) -> Result<()> {
        let mut batch = rocksdb::WriteBatch::default();
        let mut bytes = 0u64;
        for (key, value) in ops {
            check_len(key)?;
            match value {
                Some(v) => {
                    check_value_len(key, v.len(), self.max_value_bytes)?;
                    batch.put(key, v);
                    bytes += (key.len() + v.len()) as u64;
                }
                None => {
                    batch.delete(key);
                    bytes += key.len() as u64;
                }
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.db
            .write_opt(batch, &self.write_opts)
            .map_err(self.rocks_err("write"))?;
        self.writes.inc();
        self.bytes_written.add(bytes);
        Ok(())
    }

    /// An ordered scan of the keys in `range`, filling the block cache as it goes.
    pub(crate) fn iter_range(&self, range: &Span) -> RocksIter<'_> {
        let mut ro = ReadOptions::default();
        let empty = range.is_empty();
        if !empty {
            ro.set_iterate_lower_bound(range.lower.clone());
            if let Some(u) = &range.upper {
                ro.set_iterate_upper_bound(u.clone());
            }
        }
        self.iter_with(ro, &range.lower, empty)
    }

    /// Calls `f` on the pairs of `range` in key order, values borrowed from RocksDB (block
    /// cache or memtable, no copy), until `limit` pairs were visited, the range ends or `f`
    /// returns `Break` (that pair counts as visited). One iterator, so the pairs are those of
    /// one implicit snapshot taken at the call. Returns the pairs visited and how it ended.
    pub(crate) fn scan_with(
        &self,
        range: &Span,
        limit: usize,
        f: &mut impl FnMut(&[u8], &[u8]) -> std::ops::ControlFlow<()>,
    ) -> Result<(usize, std::ops::ControlFlow<()>)> {
        let mut it = self.iter_range(range);
        let mut visited = 0;
        while visited < limit {
            match it.next_with(&mut *f) {
                None => break,
                Some(Err(e)) => return Err(e),
                Some(Ok(flow)) => {
                    visited += 1;
                    if flow.is_break() {
                        return Ok((visited, flow));
                    }
                }
            }
        }
        Ok((visited, std::ops::ControlFlow::Continue(())))
    }

    /// An ordered scan from `key` (inclusive) to the end.
    #[cfg(test)]
    pub(crate) fn iter_from(&self, key: impl crate::keys::Key) -> RocksIter<'_> {
        let key = key.key_bytes().expect("a test's key");
        self.iter_range(&Span::new(Bound::Included(&key), Bound::Unbounded))
    }

    /// A scan of every key, tuned for one sequential pass (index rebuild): large read-ahead,
    /// blocks not added to the block cache. Use [`RocksIter::next_key`] or
    /// [`RocksIter::keys`] to skip copying values.
    pub(crate) fn bulk_scan(&self) -> RocksIter<'_> {
        let mut ro = ReadOptions::default();
        ro.fill_cache(false);
        ro.set_readahead_size(BULK_READAHEAD);
        self.iter_with(ro, &[], false)
    }

    /// The smallest and the largest stored key, or `None` when the database is empty.
    pub(crate) fn key_bounds(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let mut raw = self.db.raw_iterator();
        raw.seek_to_first();
        let first = match raw.key() {
            Some(k) => k.to_vec(),
            None => {
                raw.status().map_err(self.rocks_err("scan"))?;
                return Ok(None);
            }
        };
        raw.seek_to_last();
        let last = match raw.key() {
            Some(k) => k.to_vec(),
            None => {
                raw.status().map_err(self.rocks_err("scan"))?;
                return Ok(None);
            }
        };
        Ok(Some((first, last)))
    }

    /// The largest key and its value, or `None` when the database is empty.
    pub(crate) fn last_pair(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let mut raw = self.db.raw_iterator();
        raw.seek_to_last();
        match raw.item() {
            Some((k, v)) => Ok(Some((k.to_vec(), v.to_vec()))),
            None => {
                raw.status().map_err(self.rocks_err("scan"))?;
                Ok(None)
            }
        }
    }

    fn iter_with(&self, ro: ReadOptions, start: &[u8], empty: bool) -> RocksIter<'_> {
        let mut raw = self.db.raw_iterator_opt(ro);
        if !empty {
            raw.seek(start);
        }
        RocksIter {
            raw,
            path: &self.path,
            done: empty,
            advance: false,
        }
    }

    /// Bulk-loads strictly increasing `(key, value)` pairs by writing one SST file and ingesting
    /// it, far faster than writes for large sorted loads. Existing keys are overwritten. Returns
    /// the number of pairs loaded. Errors with `Unsorted` or `ValueTooLarge` before anything is
    /// ingested (the load is all or nothing).
    #[cfg(test)] // the engine calls the two halves itself (db/write.rs)
    pub(crate) fn ingest_sorted<K: crate::keys::Key, V: AsRef<[u8]>>(
        &self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<u64> {
        let pairs = pairs
            .into_iter()
            .map(|(k, v)| (k.key_bytes().expect("a test's key").to_vec(), v));
        let prepared = self.prepare_ingest(pairs)?;
        self.ingest_prepared(prepared)
    }

    /// The first half of [`RocksStore::ingest_sorted`]: writes the pairs to a temporary SST
    /// file without making them visible. The engine uses the split to announce the written keys
    /// to the value cache between writing the file and ingesting it (the commit point).
    pub(crate) fn prepare_ingest<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<PreparedIngest> {
        let n = self.next_ingest.fetch_add(1, Ordering::Relaxed);
        let tmp = TempFile(
            self.path
                .join(format!("{INGEST_PREFIX}{}-{n}.sst", std::process::id())),
        );
        let mut writer = rocksdb::SstFileWriter::create(&self.rocks_opts);
        writer.open(&tmp.0).map_err(self.rocks_err("ingest"))?;
        let (mut count, mut bytes, mut previous) = (0u64, 0u64, None::<Vec<u8>>);
        for (key, value) in pairs {
            let (key, value) = (key.as_ref(), value.as_ref());
            check_len(key)?;
            if let Some(previous) = previous.as_ref().filter(|p| &p[..] >= key) {
                return Err(Error::Unsorted {
                    previous: previous.clone(),
                    key: key.to_vec(),
                });
            }
            check_value_len(key, value.len(), self.max_value_bytes)?;
            writer.put(key, value).map_err(self.rocks_err("ingest"))?;
            match &mut previous {
                Some(p) => {
                    p.clear();
                    p.extend_from_slice(key);
                }
                None => previous = Some(key.to_vec()),
            }
            count += 1;
            bytes += (key.len() + value.len()) as u64;
        }
        if count > 0 {
            writer.finish().map_err(self.rocks_err("ingest"))?;
        }
        Ok(PreparedIngest {
            file: tmp,
            count,
            bytes,
        })
    }

    /// The second half of [`RocksStore::ingest_sorted`]: ingests a prepared file atomically
    /// (the commit point). Returns the number of pairs loaded.
    pub(crate) fn ingest_prepared(&self, prepared: PreparedIngest) -> Result<u64> {
        if prepared.count == 0 {
            return Ok(0);
        }
        let mut io = IngestExternalFileOptions::default();
        io.set_move_files(true);
        self.db
            .ingest_external_file_opts(&io, vec![&prepared.file.0])
            .map_err(self.rocks_err("ingest"))?;
        self.ingested_keys.add(prepared.count);
        self.bytes_written.add(prepared.bytes);
        Ok(prepared.count)
    }

    /// RocksDB's latest sequence number (grows with every write and ingestion).
    pub(crate) fn latest_sequence_number(&self) -> u64 {
        self.db.latest_sequence_number()
    }

    /// Flushes memtables to SST files.
    pub(crate) fn flush(&self) -> Result<()> {
        self.db.flush().map_err(self.rocks_err("flush"))
    }

    /// Writes the WAL buffer to the file, and `fsync`s it when `sync`.
    #[cfg(test)]
    pub(crate) fn flush_wal(&self, sync: bool) -> Result<()> {
        self.db.flush_wal(sync).map_err(self.rocks_err("flush_wal"))
    }

    /// Compacts the whole key range (blocking).
    pub(crate) fn compact(&self) {
        self.db.compact_range::<&[u8], &[u8]>(None, None);
    }

    /// Blocks until RocksDB has no flush or compaction queued or running (RocksDB's
    /// `WaitForCompact`, flushing the memtables first). Returns at once on an idle database.
    /// Writes arriving meanwhile can keep it waiting; callers use it when writes have stopped.
    pub(crate) fn wait_for_compactions(&self) -> Result<()> {
        let mut wait = rocksdb::WaitForCompactOptions::default();
        wait.set_flush(true);
        self.db
            .wait_for_compact(&wait)
            .map_err(self.rocks_err("wait_for_compact"))
    }

    /// A RocksDB property of the default column family (`rocksdb.num-files-at-level0`,
    /// `rocksdb.compaction-pending`, ...), or `None` when RocksDB does not know the name.
    pub(crate) fn property(&self, name: &str) -> Result<Option<String>> {
        self.db
            .property_value(name)
            .map_err(self.rocks_err("property"))
    }

    /// An integer property of the default column family (RocksDB's `DB::Properties`), 0 when
    /// RocksDB does not report it.
    pub(crate) fn int_property(&self, name: &str) -> u64 {
        self.db.property_int_value(name).ok().flatten().unwrap_or(0)
    }

    /// RocksDB's estimate of the number of keys.
    pub(crate) fn estimate_num_keys(&self) -> Result<u64> {
        let v = self
            .db
            .property_int_value("rocksdb.estimate-num-keys")
            .map_err(self.rocks_err("property"))?;
        Ok(v.unwrap_or(0))
    }

    /// Sum of the sizes of the files in the database directory (RocksDB's files, the identity
    /// file and hot-tier segments, at their full preallocated size).
    pub(crate) fn disk_bytes(&self) -> Result<u64> {
        let mut total = 0;
        for entry in fs::read_dir(&self.path).map_err(|e| Error::io(&self.path, e))? {
            let entry = entry.map_err(|e| Error::io(&self.path, e))?;
            match entry.metadata() {
                Ok(m) if m.is_file() => total += m.len(),
                Ok(_) => {}
                // A file RocksDB deleted between listing and stat.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(entry.path(), e)),
            }
        }
        Ok(total)
    }

    /// Counters, sequence number and disk usage (0 if the directory cannot be listed).
    pub(crate) fn stats(&self) -> RocksDbStats {
        RocksDbStats {
            gets: self.gets.get(),
            gets_without_block_cache_fill: self.gets_unfilled.get(),
            bytes_read: self.bytes_read.get(),
            writes: self.writes.get(),
            bytes_written: self.bytes_written.get(),
            ingested_keys: self.ingested_keys.get(),
            sequence: self.latest_sequence_number(),
            disk_bytes: self.disk_bytes().unwrap_or(0),
        }
    }
}

/// An ordered scan over a [`RocksStore`]. As an [`Iterator`] it yields owned `(key, value)`
/// pairs; [`RocksIter::next_key`] and [`RocksIter::next_with`] avoid copying values. The first
/// error ends the scan.
pub(crate) struct RocksIter<'a> {
    raw: DBRawIteratorWithThreadMode<'a, DB>,
    path: &'a Path,
    done: bool,
    /// The raw iterator still sits on the entry last handed out: step before the next read.
    /// Stepping lazily means a scan that stops after its last wanted entry never makes
    /// RocksDB look past it (which can read one more block).
    advance: bool,
}

impl<'a> RocksIter<'a> {
    /// Calls `f` on the next entry (value borrowed from RocksDB).
    pub(crate) fn next_with<T>(&mut self, f: impl FnOnce(&[u8], &[u8]) -> T) -> Option<Result<T>> {
        if self.done {
            return None;
        }
        if self.advance {
            self.raw.next();
        }
        let out = match self.raw.item() {
            Some((k, v)) => Ok(f(k, v)),
            None => {
                self.done = true;
                return self
                    .raw
                    .status()
                    .err()
                    .map(|e| Err(Error::from_rocks(self.path, "scan", e)));
            }
        };
        if out.is_err() {
            self.done = true;
        } else {
            self.advance = true;
        }
        Some(out)
    }

    /// The next key, without copying its value.
    #[cfg(test)]
    pub(crate) fn next_key(&mut self) -> Option<Result<Vec<u8>>> {
        self.next_with(|k, _| k.to_vec())
    }

    /// This scan as an iterator of keys only.
    #[cfg(test)]
    pub(crate) fn keys(self) -> impl Iterator<Item = Result<Vec<u8>>> + 'a {
        let mut it = self;
        std::iter::from_fn(move || it.next_key())
    }
}

impl Iterator for RocksIter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_with(|k, v| (k.to_vec(), v.to_vec()))
    }
}

/// Makes sure `path` (an existing directory) is ours; returns whether RocksDB must be created.
fn claim_directory(path: &Path, create_if_missing: bool) -> Result<bool> {
    let id_path = path.join(IDENTITY_FILE);
    match fs::read(&id_path) {
        Ok(content) => {
            check_identity(path, &content)?;
            if path.join("CURRENT").exists() {
                return Ok(false);
            }
            // Identity without CURRENT: a crash during creation, unless RocksDB files remain.
            if let Some(name) = list_names(path)?.into_iter().find(|n| {
                (n.ends_with(".sst") && !n.starts_with(INGEST_PREFIX)) || n.starts_with("MANIFEST-")
            }) {
                return Err(Error::Corruption {
                    path: path.to_path_buf(),
                    detail: format!("RocksDB's CURRENT file is missing but {name} exists"),
                });
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let names = list_names(path)?;
            if names.iter().any(|n| n == "CURRENT") {
                return Err(Error::NotADatabase {
                    path: path.to_path_buf(),
                    detail: format!("a RocksDB database without alexkv's {IDENTITY_FILE} file"),
                });
            }
            if let Some(first) = names.first() {
                return Err(Error::NotADatabase {
                    path: path.to_path_buf(),
                    detail: format!(
                        "the directory holds other files ({first}, {} in all) and no \
                         {IDENTITY_FILE} file",
                        names.len()
                    ),
                });
            }
            if !create_if_missing {
                return Err(Error::NotADatabase {
                    path: path.to_path_buf(),
                    detail: "the directory is empty and create_if_missing is off".into(),
                });
            }
            write_identity(path)?;
            Ok(true)
        }
        Err(e) => Err(Error::io(id_path, e)),
    }
}

fn check_identity(path: &Path, content: &[u8]) -> Result<()> {
    if content == IDENTITY_CONTENT.as_bytes() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(content);
    let detail = match text.strip_prefix("alexkv database\nformat ") {
        Some(rest) => format!(
            "{IDENTITY_FILE} declares format {:?}; this build reads format 1",
            rest.trim()
        ),
        None => format!("{IDENTITY_FILE} file is not alexkv's"),
    };
    Err(Error::NotADatabase {
        path: path.to_path_buf(),
        detail,
    })
}

/// Writes the identity file atomically: temporary file, fsync, rename, fsync the directory.
fn write_identity(dir: &Path) -> Result<()> {
    let tmp = dir.join(format!("{IDENTITY_FILE}.tmp"));
    let dst = dir.join(IDENTITY_FILE);
    let mut f = fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(IDENTITY_CONTENT.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

fn list_names(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Deletes temporary SST files of ingestions interrupted by a crash.
fn remove_ingest_leftovers(dir: &Path) -> Result<()> {
    for name in list_names(dir)? {
        if name.starts_with(INGEST_PREFIX) {
            let p = dir.join(&name);
            fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    Ok(())
}

/// An SST file written by [`RocksStore::prepare_ingest`], not yet ingested. Dropping it
/// deletes the file.
pub(crate) struct PreparedIngest {
    file: TempFile,
    count: u64,
    bytes: u64,
}

impl PreparedIngest {
    /// Number of pairs in the file.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }
}

/// Removes the file on drop (ingestion moves it away on success; on failure it must go).
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
