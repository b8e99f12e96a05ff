//! Translation of [`Options`] into RocksDB's option types: the one place that knows both.

use crate::options::{CompactionStyle, Compression, Options};
use rocksdb::{
    BlockBasedIndexType, BlockBasedOptions, Cache, DBCompactionStyle, DBCompressionType,
    DataBlockIndexType, FifoCompactOptions, WriteOptions,
};

/// Size of one partition of a partitioned index or filter (RocksDB's default).
const METADATA_BLOCK_BYTES: usize = 4096;

impl Compression {
    fn to_rocksdb(self) -> DBCompressionType {
        match self {
            Compression::None => DBCompressionType::None,
            Compression::Snappy => DBCompressionType::Snappy,
            Compression::Lz4 => DBCompressionType::Lz4,
            Compression::Zstd => DBCompressionType::Zstd,
        }
    }
}

impl Options {
    /// The RocksDB options for these settings. Every RocksDB knob of [`Options`] is mapped;
    /// `create_if_missing` is left off because `RocksStore::open` decides creation itself.
    ///
    /// `optimize_for_point_lookup` applies RocksDB's `OptimizeForPointLookup` (memtable
    /// whole-key filter and prefix bloom), then installs our own table factory with the same
    /// data-block hash index, so the block cache, bloom and block size settings still apply.
    /// The result stays safe for ordered iteration.
    pub(crate) fn to_rocksdb(&self) -> rocksdb::Options {
        let mut o = rocksdb::Options::default();
        if self.optimize_for_point_lookup {
            let cache_mb = (self.block_cache_bytes >> 20).max(1) as u64;
            o.optimize_for_point_lookup(cache_mb);
        }

        let mut table = BlockBasedOptions::default();
        table.set_block_size(self.block_size);
        if self.bloom_bits_per_key > 0.0 {
            // Full (not block-based) filters: one filter per SST, the modern format.
            table.set_bloom_filter(self.bloom_bits_per_key, false);
        }
        if self.block_cache_bytes > 0 {
            table.set_block_cache(&Cache::new_lru_cache(self.block_cache_bytes));
        } else {
            table.disable_cache();
        }
        table.set_cache_index_and_filter_blocks(self.cache_index_and_filter_blocks);
        if self.cache_index_and_filter_blocks {
            // Metadata in the block cache must come in small pieces. An unpartitioned filter
            // of a large SST is megabytes, larger than one shard of the block cache (shards are
            // capacity / 64), so it is never kept and every read fetched it again: 171 µs per
            // read at 3M keys with the old defaults (issue 8). Partitioned: index and filter
            // are split into `metadata_block_size` blocks behind a small top-level index,
            // which is pinned; a read touches one partition of each.
            table.set_index_type(BlockBasedIndexType::TwoLevelIndexSearch);
            table.set_partition_filters(self.bloom_bits_per_key > 0.0);
            table.set_metadata_block_size(METADATA_BLOCK_BYTES);
            table.set_pin_top_level_index_and_filter(true);
            table.set_cache_index_and_filter_blocks_with_high_priority(true);
        }
        table.set_pin_l0_filter_and_index_blocks_in_cache(self.pin_l0_filter_and_index_blocks);
        if self.optimize_for_point_lookup {
            table.set_data_block_index_type(DataBlockIndexType::BinaryAndHash);
            table.set_data_block_hash_ratio(0.75);
        }
        o.set_block_based_table_factory(&table);

        match self.compaction_style {
            CompactionStyle::Level => o.set_compaction_style(DBCompactionStyle::Level),
            CompactionStyle::Universal => o.set_compaction_style(DBCompactionStyle::Universal),
            CompactionStyle::Fifo => {
                o.set_compaction_style(DBCompactionStyle::Fifo);
                // FIFO deletes whole files in two ways: the oldest beyond a total size, and any
                // file older than `ttl` (RocksDB 11 defaults `ttl` to 30 days for block-based
                // tables). RocksDB is alexkv's source of truth, so neither may ever happen:
                // unlimited size, TTL off, periodic compaction off. (`max_data_files_size`,
                // which would override the size limit, keeps its default 0 = unused.)
                let mut fifo = FifoCompactOptions::default();
                fifo.set_max_table_files_size(u64::MAX);
                o.set_fifo_compaction_options(&fifo);
                o.set_ttl(0);
                o.set_periodic_compaction_seconds(0);
            }
        }
        // RocksDB only ever looks up keys the learned index says exist (misses are answered by
        // the index), so the last level's filter could only say "maybe": skip building and
        // probing it. That is most of the filter memory and one filter probe per read.
        o.set_optimize_filters_for_hits(true);
        o.set_max_open_files(self.max_open_files);
        o.set_use_direct_reads(self.use_direct_reads);
        o.set_use_direct_io_for_flush_and_compaction(self.use_direct_io_for_flush_and_compaction);
        o.set_write_buffer_size(self.write_buffer_size);
        o.set_max_write_buffer_number(clamp_i32(self.max_write_buffer_number));
        o.set_compression_type(self.compression.to_rocksdb());
        if !self.compression_per_level.is_empty() {
            let levels: Vec<DBCompressionType> = self
                .compression_per_level
                .iter()
                .map(|c| c.to_rocksdb())
                .collect();
            o.set_compression_per_level(&levels);
        }
        o.set_max_background_jobs(clamp_i32(self.max_background_jobs));
        o.set_enable_pipelined_write(self.pipelined_write);
        o
    }

    /// The RocksDB write options for `wal_enabled` and `sync_writes`.
    pub(crate) fn to_write_options(&self) -> WriteOptions {
        let mut w = WriteOptions::default();
        w.disable_wal(!self.wal_enabled);
        w.set_sync(self.sync_writes && self.wal_enabled);
        w
    }
}

/// `validate` keeps these in range; clamp rather than wrap if it was skipped.
fn clamp_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}
