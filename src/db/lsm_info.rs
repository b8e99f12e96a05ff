//! What alexkv's RocksDB (the LSM tree under the index) looks like: its properties, and a way to
//! wait until it is quiet.
//!
//! Benchmarks need both. A read measured while a compaction runs measures the compaction too, so
//! a fair measurement settles the tree first ([`Db::flush`], [`Db::compact`], then
//! [`Db::wait_for_compactions`]) and records the shape it measured (files per level, block
//! cache figures) with [`Db::rocksdb_property`].

use super::Db;
use crate::error::Result;

impl Db {
    /// Blocks until RocksDB has no flush or compaction queued or running. Memtables are flushed
    /// first. Returns at once when RocksDB is idle.
    ///
    /// Writes that arrive while it waits can schedule more work and keep it waiting: call it
    /// when writes have stopped, for example between loading data and measuring reads.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// db.put(1, b"one").unwrap();
    /// db.compact().unwrap();
    /// db.wait_for_compactions().unwrap();
    /// assert_eq!(db.rocksdb_property("rocksdb.compaction-pending").unwrap().as_deref(), Some("0"));
    /// ```
    pub fn wait_for_compactions(&self) -> Result<()> {
        self.rocks.wait_for_compactions()
    }

    /// A property of alexkv's RocksDB (its default column family), as RocksDB formats it:
    /// `rocksdb.num-files-at-level<N>`, `rocksdb.compaction-pending`,
    /// `rocksdb.num-running-compactions`, `rocksdb.block-cache-usage`, `rocksdb.stats`, ...
    /// (RocksDB's `DB::Properties`). `None` when RocksDB does not know the name.
    ///
    /// Meant for diagnostics and benchmark reports; the values are RocksDB's, not alexkv's
    /// (alexkv's own counters are in [`Db::stats`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// db.put(1, b"one").unwrap();
    /// db.flush().unwrap();
    /// let files = db.rocksdb_property("rocksdb.num-files-at-level0").unwrap();
    /// assert_eq!(files.as_deref(), Some("1"));
    /// assert_eq!(db.rocksdb_property("no.such.property").unwrap(), None);
    /// ```
    pub fn rocksdb_property(&self, name: &str) -> Result<Option<String>> {
        self.rocks.property(name)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Db, Options, WriteBatch};

    fn int_property(db: &Db, name: &str) -> u64 {
        db.rocksdb_property(name)
            .unwrap()
            .unwrap_or_else(|| panic!("RocksDB knows {name}"))
            .parse()
            .unwrap()
    }

    #[test]
    fn settling_leaves_no_pending_or_running_compaction() {
        let dir = tempfile::tempdir().unwrap();
        // Small memtables and an early L0 trigger, so the load leaves compaction work behind.
        let opts = Options::default()
            .write_buffer_size(256 << 10)
            .compression(crate::Compression::None);
        let db = Db::open(dir.path(), opts).unwrap();
        let value = [7u8; 100];
        for chunk in 0..40u64 {
            let mut batch = WriteBatch::new();
            for i in 0..2_000u64 {
                batch.put((i * 7_919 + chunk) % 1_000_003, value);
            }
            db.write(batch).unwrap();
        }
        db.flush().unwrap();
        db.compact().unwrap();
        db.wait_for_compactions().unwrap();
        assert_eq!(int_property(&db, "rocksdb.compaction-pending"), 0);
        assert_eq!(int_property(&db, "rocksdb.num-running-compactions"), 0);
        assert_eq!(int_property(&db, "rocksdb.num-running-flushes"), 0);
        assert_eq!(int_property(&db, "rocksdb.num-files-at-level0"), 0);
        let files: u64 = (0..7)
            .map(|l| int_property(&db, &format!("rocksdb.num-files-at-level{l}")))
            .sum();
        assert!(files > 0, "the compacted data lives in some level");
    }

    /// The block cache's usage after one more read of `key` (which must be present).
    fn usage_after_get(db: &Db, key: u64) -> u64 {
        assert!(db.get(key).unwrap().is_some());
        int_property(db, "rocksdb.block-cache-usage")
    }

    #[test]
    fn only_reads_of_neighbouring_keys_fill_the_block_cache() {
        // 4,096 keys spread evenly over the whole key space (`i << 52`), or packed at its
        // bottom (`i`): either way keys `i` and `j` are neighbours when `i / 32 == j / 32`
        // (the threshold counts the bits every key shares: none, or the top 52).
        neighbours_fill(|i| i << 52);
        neighbours_fill(|i| i);
    }

    fn neighbours_fill(key: fn(u64) -> u64) {
        let dir = tempfile::tempdir().unwrap();
        // Hot tier off: every key is Cold and read from RocksDB.
        let opts = Options::default().hot_tier_bytes(0);
        {
            let db = Db::open(dir.path(), opts.clone()).unwrap();
            let mut batch = WriteBatch::new();
            for i in 0..4_096u64 {
                batch.put(key(i), [i as u8; 100]);
            }
            db.write(batch).unwrap();
            db.flush().unwrap();
            db.close().unwrap();
        }
        // Reopened: the block cache holds nothing of the data yet.
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        let empty = int_property(&db, "rocksdb.block-cache-usage");
        // Far apart: nothing cached.
        for i in [100, 3_000, 1_000, 2_000, 100] {
            assert_eq!(usage_after_get(&db, key(i)), empty, "key {i} filled");
        }
        let s = db.stats();
        assert_eq!(
            (s.rocksdb.gets, s.rocksdb.gets_without_block_cache_fill),
            (5, 5)
        );
        // A walk through neighbours fills.
        let walked = usage_after_get(&db, key(101));
        assert!(
            walked > empty,
            "a neighbour's read left the block cache empty"
        );
        // A batch of far-apart keys fills nothing; one with neighbours fills.
        db.multi_get(&[key(3_500), key(2_500)]).unwrap();
        assert_eq!(int_property(&db, "rocksdb.block-cache-usage"), walked);
        db.multi_get(&[key(1_500), key(1_501)]).unwrap();
        assert!(int_property(&db, "rocksdb.block-cache-usage") > walked);
        db.close().unwrap();

        // Off, or with the value cache off, every read fills, as plain RocksDB's do.
        for opts in [
            opts.clone().block_cache_admission(false),
            opts.value_cache_bytes(0).value_cache_entries(0),
        ] {
            let db = Db::open(dir.path(), opts).unwrap();
            let empty = int_property(&db, "rocksdb.block-cache-usage");
            assert!(usage_after_get(&db, key(100)) > empty);
            assert_eq!(db.stats().rocksdb.gets_without_block_cache_fill, 0);
            db.close().unwrap();
        }
    }

    #[test]
    fn stats_count_the_index_beside_the_budget_the_options_describe() {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options::default();
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        let mut batch = WriteBatch::new();
        for i in 0..50_000u64 {
            batch.put(i * 7_919, [1u8; 100]);
        }
        db.write(batch).unwrap();
        let s = db.stats();
        let m = &s.memory;
        let budget = opts.value_cache_bytes
            + opts.hot_tier_bytes
            + opts.block_cache_bytes
            + opts.write_buffer_size * opts.max_write_buffer_number as usize;
        assert_eq!(m.budget_bytes, budget as u64);
        assert_eq!(m.index_bytes, s.index.bytes);
        assert!(m.index_bytes >= 50_000 * 16, "{m:?}");
        assert_eq!(m.hot_tier_bytes, s.hot_tier.bytes);
        assert!(m.hot_tier_bytes > 0 && m.memtable_bytes > 0, "{m:?}");
        // The index, the hot tier's records and the memtables are all held, and counted.
        assert!(m.total_bytes >= m.index_bytes + m.hot_tier_bytes + m.memtable_bytes);
        assert!((m.total_over_budget * budget as f64 - m.total_bytes as f64).abs() < 1.0);
        // Flushed: the memtables empty, the table readers appear.
        db.flush().unwrap();
        let m = db.stats().memory;
        assert!(m.table_reader_bytes > 0, "{m:?}");
    }
}
