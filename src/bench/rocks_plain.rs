//! The plain RocksDB baseline, tuned for point reads the way RocksDB's own documentation tunes
//! it, not with alexkv's options: no learned index, no value cache, no hot tier.
//!
//! [`PlainRocks::rocksdb_options`] is the whole configuration (BENCHMARKING.md, "Fair
//! configuration"):
//!
//! | setting | value | why |
//! |---|---|---|
//! | `optimize_for_point_lookup(MiB)` | the memory budget (less the row cache) as its LRU block cache | RocksDB's recipe for point lookups: a 10-bit bloom filter per SST, the data-block hash index (`kDataBlockBinaryAndHash`, ratio 0.75), memtable whole-key bloom |
//! | its table factory | kept as the recipe builds it | index and filter blocks live in the table readers' memory (`cache_index_and_filter_blocks = false`), so they never compete with data blocks in the block cache |
//! | compression | none | values are read back, not stored for long; decompression costs every block-cache miss |
//! | `max_open_files` | -1 | every table reader (and its index and filter) stays open: no table-cache misses |
//! | `enable_pipelined_write` | true | RocksDB's option for concurrent writers (its wiki, "Pipelined Write"): a writer waits for the WAL writes ahead of it, not their memtable inserts; the same write path alexkv's RocksDB runs by default (`Options::pipelined_write`), and 2 update threads reached 1.08x / 1.46x one thread's rate with it against 0.96x / 1.02x without (history/PERFORMANCE-journal.md, "Concurrent writers: pipelined write, and page faults out of the writer mutex (issue 10, seventh session), 2026-12-05") |
//! | everything else | RocksDB's defaults | 64 MiB memtables, 2 background jobs, leveled compaction with dynamic level sizes: the same write-side settings as alexkv's own RocksDB |
//! | reads | one `ReadOptions` built at open and reused, `get_pinned_opt` | no allocation or copy per read |
//! | row cache | [`RowCache`]: by default half the budget when the other half still holds all the data, else none | measured faster for point reads on our 2-core VM when memory is plentiful (DECISIONS.md, "Baselines a sceptic accepts (issue 7)"); a row cache is RocksDB's own answer to a value cache |
//!
//! The block cache gets at least 1 MiB (RocksDB's recipe takes whole MiB).
//!
//! Keys are the bytes alexkv stores (any [`Key`]: a `u64` is its 8 big-endian bytes), so both
//! store the same bytes in the same order.

use std::path::{Path, PathBuf};

use rocksdb::{Cache, DBCompressionType, ReadOptions, WriteBatch as RocksBatch, WriteOptions, DB};
use serde::{Deserialize, Serialize};

use crate::Key;

/// Whether the baseline gets a RocksDB row cache (a cache of whole key-value entries consulted
/// before the SST files), and how much of the budget it takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowCache {
    /// Half the budget when the other half still holds all the data (`budget >= 2 x data`),
    /// else none: with less memory, whole entries (about twice the bytes of an entry inside a
    /// block) hold fewer rows than the block cache would.
    #[default]
    Auto,
    /// Always half the budget.
    On,
    /// Never: the whole budget is block cache (RocksDB's point-lookup recipe alone).
    Off,
}

impl RowCache {
    /// Parses `auto`, `on` or `off`.
    pub fn parse(s: &str) -> Result<RowCache, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(RowCache::Auto),
            "on" => Ok(RowCache::On),
            "off" => Ok(RowCache::Off),
            other => Err(format!("row cache {other:?}: expected auto, on or off")),
        }
    }

    /// Bytes of row cache for a memory budget and the size of the loaded data.
    ///
    /// ```
    /// use alexkv::bench::rocks_plain::RowCache;
    /// assert_eq!(RowCache::Auto.bytes(300, 100), 150);
    /// assert_eq!(RowCache::Auto.bytes(100, 100), 0);
    /// assert_eq!(RowCache::On.bytes(100, 100), 50);
    /// assert_eq!(RowCache::Off.bytes(300, 100), 0);
    /// ```
    pub fn bytes(self, budget_bytes: u64, data_bytes: u64) -> u64 {
        match self {
            RowCache::Auto if budget_bytes / 2 >= data_bytes => budget_bytes / 2,
            RowCache::On => budget_bytes / 2,
            RowCache::Auto | RowCache::Off => 0,
        }
    }
}

/// A RocksDB database used directly.
pub struct PlainRocks {
    db: DB,
    write: WriteOptions,
    /// Built once: `DB::get_pinned` would create and free a C `ReadOptions` per call.
    read: ReadOptions,
    path: PathBuf,
    block_cache_mib: u64,
    row_cache_bytes: u64,
    sync: bool,
}

impl PlainRocks {
    /// The options of the baseline for a memory budget of `budget_bytes`, of which
    /// `row_cache_bytes` go to a row cache and the rest to the block cache (see the module docs).
    pub fn rocksdb_options(budget_bytes: u64, row_cache_bytes: u64) -> rocksdb::Options {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        o.optimize_for_point_lookup(block_cache_mib(
            budget_bytes - row_cache_bytes.min(budget_bytes),
        ));
        o.set_compression_type(DBCompressionType::None);
        o.set_max_open_files(-1);
        o.set_enable_pipelined_write(true);
        if row_cache_bytes > 0 {
            o.set_row_cache(&Cache::new_lru_cache(row_cache_bytes as usize));
        }
        o
    }

    /// Opens (creating) the baseline at `path` with a memory budget of `budget_bytes`, of which
    /// `row_cache_bytes` are a row cache, every write fsynced when `sync` (WAL on in both
    /// cases).
    pub fn open(
        path: &Path,
        budget_bytes: u64,
        row_cache_bytes: u64,
        sync: bool,
    ) -> Result<Self, String> {
        let row_cache_bytes = row_cache_bytes.min(budget_bytes);
        let o = Self::rocksdb_options(budget_bytes, row_cache_bytes);
        let db = DB::open(&o, path).map_err(|e| format!("rocksdb open {}: {e}", path.display()))?;
        let mut write = WriteOptions::default();
        write.set_sync(sync);
        Ok(PlainRocks {
            db,
            write,
            read: ReadOptions::default(),
            path: path.to_owned(),
            block_cache_mib: block_cache_mib(budget_bytes - row_cache_bytes),
            row_cache_bytes,
            sync,
        })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration, for the report (the effective RocksDB options are in the `lsm`
    /// evidence, read back from RocksDB's OPTIONS file).
    pub fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "tuning": "optimize_for_point_lookup(block_cache_mib), its table factory kept \
                       (index and filter blocks in table-reader memory), no compression, \
                       max_open_files = -1, enable_pipelined_write, a row cache of \
                       row_cache_bytes when not 0, RocksDB defaults otherwise",
            "block_cache_mib": self.block_cache_mib,
            "row_cache_bytes": self.row_cache_bytes,
            "reads": "one ReadOptions built at open and reused; get_pinned_opt",
            "scans": "a raw iterator per scan (seek, then next)",
            "wal": true,
            "sync": self.sync,
        })
    }

    /// Writes `rows` in one atomic batch.
    pub fn write_batch<K: Key>(&self, rows: &[(K, Vec<u8>)]) -> Result<(), String> {
        let mut batch = RocksBatch::default();
        for (k, v) in rows {
            batch.put(&*bytes_of(k)?, v);
        }
        self.db
            .write_opt(batch, &self.write)
            .map_err(|e| e.to_string())
    }

    /// Writes one value.
    pub fn put(&self, key: impl Key, value: &[u8]) -> Result<(), String> {
        self.db
            .put_opt(&*bytes_of(&key)?, value, &self.write)
            .map_err(|e| e.to_string())
    }

    /// Calls `f` with the value of `key` (pinned, no copy); returns whether it was present.
    #[inline]
    pub fn get_with(&self, key: impl Key, f: &mut dyn FnMut(&[u8])) -> Result<bool, String> {
        match self
            .db
            .get_pinned_opt(&*bytes_of(&key)?, &self.read)
            .map_err(|e| e.to_string())?
        {
            Some(v) => {
                f(&v);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Calls `f(key, value)` for up to `n` keys `>= from`, ascending; returns how many.
    pub fn scan(
        &self,
        from: impl Key,
        n: usize,
        f: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize, String> {
        let mut it = self.db.raw_iterator();
        it.seek(&*bytes_of(&from)?);
        let mut count = 0;
        while count < n && it.valid() {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            f(k, v);
            count += 1;
            it.next();
        }
        it.status().map_err(|e| e.to_string())?;
        Ok(count)
    }

    /// Brings the tree to a steady state after a load: flushes the memtables, compacts the whole
    /// key range, waits for RocksDB's background work, and checks that no flush or compaction
    /// is pending or running (see [`super::lsm::wait_until_quiet`]).
    pub fn settle(&self) -> Result<(), String> {
        self.db.flush().map_err(|e| format!("rocksdb flush: {e}"))?;
        self.db.compact_range::<&[u8], &[u8]>(None, None);
        let mut wait = rocksdb::WaitForCompactOptions::default();
        wait.set_flush(true);
        self.db
            .wait_for_compact(&wait)
            .map_err(|e| format!("rocksdb wait_for_compact: {e}"))?;
        super::lsm::wait_until_quiet(&|name| self.property(name))
    }

    /// A RocksDB property (`rocksdb.num-files-at-level0`, ...), `None` if unknown.
    pub fn property(&self, name: &str) -> Result<Option<String>, String> {
        self.db
            .property_value(name)
            .map_err(|e| format!("rocksdb property {name}: {e}"))
    }
}

/// The bytes of `key`, as alexkv stores them (a `u64` as its 8 big-endian bytes).
#[inline]
fn bytes_of<K: Key + ?Sized>(key: &K) -> Result<crate::KeyBytes<'_>, String> {
    key.key_bytes().map_err(|e| e.to_string())
}

/// The block cache size the recipe is given: the budget in whole MiB, at least 1.
fn block_cache_mib(budget_bytes: u64) -> u64 {
    (budget_bytes >> 20).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::values::{check_value, value_vec};

    #[test]
    fn settle_leaves_one_compacted_level_and_no_background_work() {
        let dir = tempfile::tempdir().unwrap();
        let db = PlainRocks::open(&dir.path().join("r"), 8 << 20, 0, false).unwrap();
        for chunk in 0..20u64 {
            let rows: Vec<(u64, Vec<u8>)> = (0..1_000u64)
                .map(|i| {
                    let k = i * 20 + chunk;
                    (k, value_vec(k, 100))
                })
                .collect();
            db.write_batch(&rows).unwrap();
            db.db.flush().unwrap(); // many L0 files
        }
        db.settle().unwrap();
        let ev = crate::bench::lsm::LsmEvidence::gather(&|n| db.property(n), db.path()).unwrap();
        assert_eq!(ev.compaction_pending, 0);
        assert_eq!(ev.running_compactions, 0);
        assert_eq!(ev.files_per_level[0], 0, "{:?}", ev.files_per_level);
        assert!(ev.files_per_level.iter().sum::<u64>() > 0);
        assert_eq!(ev.block_cache_capacity_bytes, Some(8 << 20));
        assert_eq!(
            ev.options
                .get("table.cache_index_and_filter_blocks")
                .map(String::as_str),
            Some("false")
        );
        assert_eq!(
            ev.options.get("cf.compression").map(String::as_str),
            Some("kNoCompression")
        );
        assert_eq!(
            ev.options.get("db.max_open_files").map(String::as_str),
            Some("-1")
        );
        let mut got = None;
        assert!(db
            .get_with(20 * 7 + 3, &mut |v| got = Some(check_value(143, v, 100)))
            .unwrap());
        assert_eq!(got, Some(true));
        assert!(!db.get_with(1u64 << 40, &mut |_| ()).unwrap());
    }

    #[test]
    fn a_row_cache_takes_its_bytes_out_of_the_block_cache() {
        let dir = tempfile::tempdir().unwrap();
        let db = PlainRocks::open(&dir.path().join("r"), 16 << 20, 8 << 20, false).unwrap();
        db.write_batch(&[(1, value_vec(1, 100))]).unwrap();
        db.settle().unwrap();
        for _ in 0..2 {
            let mut got = None;
            assert!(db
                .get_with(1, &mut |v| got = Some(check_value(1, v, 100)))
                .unwrap());
            assert_eq!(got, Some(true));
        }
        let ev = crate::bench::lsm::LsmEvidence::gather(&|n| db.property(n), db.path()).unwrap();
        assert_eq!(ev.block_cache_capacity_bytes, Some(8 << 20));
        assert_eq!(db.settings()["row_cache_bytes"], 8 << 20);
    }
}
