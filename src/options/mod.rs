//! Configuration: one [`Options`] struct with presets, chainable setters, `ALEXKV_*`
//! environment overrides ([`Options::with_env_overrides`]) and validation
//! ([`Options::validate`]).
//!
//! ```
//! use alexkv::{CompactionStyle, Options};
//!
//! let opts = Options::read_optimized()
//!     .block_cache_bytes(512 << 20)
//!     .compaction_style(CompactionStyle::Level)
//!     .sync_writes(true);
//! opts.validate().unwrap();
//! ```
//!
//! The RocksDB half of the knobs is translated by `rocks::rocks_options` (the only place that
//! knows RocksDB's option types); the engine half is read by the cache, the hot tier and the
//! engine. This module knows neither.

mod env;
mod validate;

use serde::Serialize;

/// How RocksDB compacts its sorted files.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub enum CompactionStyle {
    /// Leveled compaction: least space and read amplification, most write amplification.
    Level,
    /// Universal (tiered) compaction: less write amplification, more space and read cost.
    Universal,
    /// FIFO: files are never merged; everything stays in level 0. RocksDB's FIFO normally
    /// *deletes* files (the oldest beyond a size limit, and any older than a TTL of 30 days by
    /// default); alexkv turns both off (unlimited size, `ttl = 0`, no periodic compaction), so
    /// no data is ever dropped. What that means here: nothing is ever reclaimed (overwritten
    /// and deleted versions stay on disk for good), and a read of a Cold key probes every file
    /// (bloom filters keep most probes in memory). Suited to write-once data only. Needs
    /// `max_open_files = -1`.
    Fifo,
}

/// Block compression algorithm.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Compression {
    /// No compression.
    None,
    /// Snappy.
    Snappy,
    /// LZ4: fast, the usual choice for upper levels.
    Lz4,
    /// Zstandard: better ratio, more CPU; the usual choice for the last levels.
    Zstd,
}

/// Every knob of an alexkv database.
///
/// Build one from a preset ([`Options::balanced`] = [`Options::default`],
/// [`Options::read_optimized`], [`Options::write_optimized`]) and adjust it with the chainable
/// setters (one per field, same name). Fields are public for reading and direct assignment.
/// Sizes are in bytes. [`Options::validate`] lists the rules a configuration must satisfy;
/// opening a database validates.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Options {
    /// Bloom filter bits per key in RocksDB's SST files; `0.0` disables the filter. 10 gives
    /// about 1% false positives. Only misses the index cannot answer reach RocksDB, so the
    /// filter matters less here than in plain RocksDB.
    pub bloom_bits_per_key: f64,
    /// Size of RocksDB's block cache (uncompressed blocks); `0` means no block cache.
    pub block_cache_bytes: usize,
    /// RocksDB data block size (uncompressed). Smaller blocks make point reads cheaper and
    /// indexes larger.
    pub block_size: usize,
    /// Keep index and filter blocks in the block cache (bounded memory) instead of on the heap.
    /// When on, they are also *partitioned* (4 KiB pieces behind a pinned top-level index), so a
    /// large table's multi-megabyte filter never has to fit one block-cache shard: a read
    /// loads one small partition, not the whole filter. When off, RocksDB's table readers hold
    /// them for as long as the table is open (memory grows with the data: about 1.3 bytes per
    /// key for a 10-bit filter plus the index).
    pub cache_index_and_filter_blocks: bool,
    /// Pin level-0 index and filter blocks in the block cache.
    pub pin_l0_filter_and_index_blocks: bool,
    /// RocksDB compaction style.
    pub compaction_style: CompactionStyle,
    /// Files RocksDB may keep open; `-1` means unlimited.
    pub max_open_files: i32,
    /// Read SST files with `O_DIRECT`, bypassing the OS page cache.
    pub use_direct_reads: bool,
    /// Write flushes and compactions with `O_DIRECT`.
    pub use_direct_io_for_flush_and_compaction: bool,
    /// Size of one RocksDB memtable.
    pub write_buffer_size: usize,
    /// Memtables (active + immutable) RocksDB may hold before stalling writes.
    pub max_write_buffer_number: u32,
    /// Compression for every level, unless `compression_per_level` is set.
    pub compression: Compression,
    /// Per-level compression, level 0 first (at most 7 entries). Empty means `compression`
    /// everywhere.
    pub compression_per_level: Vec<Compression>,
    /// RocksDB background flush + compaction threads.
    pub max_background_jobs: u32,
    /// RocksDB's pipelined write (`enable_pipelined_write`): WAL writes and memtable inserts
    /// queue separately, so a writer waits only for the WAL writes ahead of it before writing
    /// its own, and one group's WAL write overlaps the previous group's memtable insert.
    /// Without it, two threads writing in a loop take turns through RocksDB's whole write path
    /// and reach about one thread's rate (measured: `internal/DESIGN.md`,
    /// "Decisions that still hold", "Writers and commit"). Same guarantees either way: a
    /// write is visible when it returns, in commit order.
    pub pipelined_write: bool,
    /// Write RocksDB's write-ahead log. Without it, acknowledged writes since the last flush
    /// are lost in a crash.
    pub wal_enabled: bool,
    /// `fsync` the WAL before acknowledging each write (survives power loss, much slower).
    pub sync_writes: bool,
    /// Apply RocksDB's point-lookup tuning: hash index inside data blocks and a memtable
    /// whole-key filter.
    pub optimize_for_point_lookup: bool,
    /// Bytes the engine's own LRU value cache may hold, each entry charged what it costs the
    /// heap ([`Options::value_cache_entry_bytes`]); `0` disables the cache (then
    /// `value_cache_entries` must be 0 too).
    pub value_cache_bytes: usize,
    /// Entries the value cache may hold; `0` together with `value_cache_bytes = 0` disables it.
    pub value_cache_entries: usize,
    /// Independently locked shards of the value cache (a power of two, at most 1024).
    pub value_cache_shards: usize,
    /// Admit a value read from RocksDB into the value cache on its key's second miss in a
    /// window, not its first: reads that touch each key once (data larger than memory) then
    /// skip a fill no later read would use. Costs a bit array of 1/64 of
    /// `value_cache_bytes`. Measured: `internal/PERFORMANCE.md`, "Cold reads with default
    /// options".
    pub value_cache_admission: bool,
    /// With the value cache on: a point read that reaches RocksDB adds the data block it
    /// reads to RocksDB's block cache only when its key neighbours the last key the same
    /// thread read from RocksDB (a walk through neighbouring keys, whose next reads want the
    /// block); other reads use `ReadOptions::fill_cache(false)` and leave the block cache as
    /// it was. A value read again is the value cache's to keep (it enters on its second miss),
    /// so reads spread over more data than memory skip a block-cache insert and eviction that
    /// no later read uses (10M keys beyond the default caches: 3.0 -> 2.6 µs a read). Scans
    /// fill the block cache as before. Off (or the value cache off): every point read fills,
    /// as plain RocksDB's do. How "neighbour" is decided: `src/db/block_fill.rs`. Measured:
    /// `internal/PERFORMANCE.md`, "Block cache admission".
    pub block_cache_admission: bool,
    /// Total size of the memory-mapped hot-tier segment files; `0` disables the hot tier.
    pub hot_tier_bytes: usize,
    /// Size of one hot-tier segment file (a multiple of 8, at most 64 MiB).
    pub hot_segment_bytes: usize,
    /// Also copy values read from RocksDB into the hot tier (not only written ones).
    pub promote_reads_to_hot: bool,
    /// Keep a key filter in each index data node ([`crate::alex::Alex::set_key_filter`]): a
    /// read of an absent key then usually ends on a cached word instead of a memory round trip
    /// (146 → 116 ns per miss at 10M keys), for ~1.2 bytes of memory per key, while reads of
    /// present keys get slower (~15% in a tight loop of hits at 10M keys) and so do index
    /// inserts (one more memory access each). Off by default; turn it on when many reads are of
    /// absent keys. Measured: `internal/DESIGN.md`, "Decisions that still hold",
    /// "Reads, marks and the index lock".
    pub index_key_filter: bool,
    /// Longest value accepted; longer ones fail with `Error::ValueTooLarge`. Values longer than
    /// 65535 bytes are valid but never enter the hot tier.
    pub max_value_bytes: usize,
    /// Create the database when the directory does not exist (or is empty).
    pub create_if_missing: bool,
}

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

impl Default for Options {
    /// Same as [`Options::balanced`].
    fn default() -> Self {
        Self::balanced()
    }
}

impl Options {
    /// Balanced defaults: leveled compaction, LZ4, 10-bit bloom, 64 MiB block cache,
    /// 64 MiB value cache, 64 MiB hot tier in 8 MiB segments, WAL on without fsync.
    pub fn balanced() -> Self {
        Options {
            bloom_bits_per_key: 10.0,
            block_cache_bytes: 64 * MIB,
            block_size: 4 * KIB,
            // Off, as in plain RocksDB: at 30M keys the partitions in a 64 MiB block cache
            // made each read that reaches RocksDB 0.3-0.8 µs slower (PERFORMANCE.md, "Cold
            // reads with default options").
            cache_index_and_filter_blocks: false,
            pin_l0_filter_and_index_blocks: false,
            compaction_style: CompactionStyle::Level,
            max_open_files: -1,
            use_direct_reads: false,
            use_direct_io_for_flush_and_compaction: false,
            write_buffer_size: 64 * MIB,
            max_write_buffer_number: 2,
            compression: Compression::Lz4,
            compression_per_level: Vec::new(),
            max_background_jobs: 2,
            pipelined_write: true,
            wal_enabled: true,
            sync_writes: false,
            optimize_for_point_lookup: false,
            value_cache_bytes: 64 * MIB,
            value_cache_entries: 1 << 20,
            value_cache_shards: 16,
            value_cache_admission: true,
            block_cache_admission: true,
            hot_tier_bytes: 64 * MIB,
            hot_segment_bytes: 8 * MIB,
            promote_reads_to_hot: false,
            index_key_filter: false,
            max_value_bytes: 16 * MIB,
            create_if_missing: true,
        }
    }

    /// For read-heavy workloads: larger caches, 14-bit bloom, RocksDB point-lookup tuning,
    /// uncompressed upper levels and Zstd at the bottom, reads promoted into a 256 MiB hot tier.
    pub fn read_optimized() -> Self {
        use Compression::{Lz4, Zstd};
        Options {
            bloom_bits_per_key: 14.0,
            block_cache_bytes: 256 * MIB,
            optimize_for_point_lookup: true,
            compression_per_level: vec![
                Compression::None,
                Compression::None,
                Lz4,
                Lz4,
                Lz4,
                Zstd,
                Zstd,
            ],
            value_cache_bytes: 256 * MIB,
            value_cache_entries: 4 << 20,
            value_cache_shards: 32,
            hot_tier_bytes: 256 * MIB,
            hot_segment_bytes: 16 * MIB,
            promote_reads_to_hot: true,
            ..Self::balanced()
        }
    }

    /// For write-heavy workloads: universal compaction, bigger and more memtables, more
    /// background jobs, 16 KiB blocks, smaller read caches.
    pub fn write_optimized() -> Self {
        Options {
            block_cache_bytes: 32 * MIB,
            block_size: 16 * KIB,
            compaction_style: CompactionStyle::Universal,
            write_buffer_size: 128 * MIB,
            max_write_buffer_number: 4,
            max_background_jobs: 4,
            value_cache_bytes: 32 * MIB,
            value_cache_entries: 512 * KIB,
            hot_tier_bytes: 128 * MIB,
            hot_segment_bytes: 16 * MIB,
            ..Self::balanced()
        }
    }

    /// The bytes the value cache charges against `value_cache_bytes` for one entry whose key is
    /// `key_len` bytes long and whose value is `value_len` bytes long: the key's and the value's
    /// heap blocks, the LRU node and a share of the hash table, which is what the entry costs
    /// the heap. Divide `value_cache_bytes` by it to size `value_cache_entries` for keys and
    /// values of those lengths (a `u64` key is 8 bytes).
    ///
    /// ```
    /// let per_entry = alexkv::Options::value_cache_entry_bytes(8, 100);
    /// assert!(per_entry > 8 + 100);
    /// let opts = alexkv::Options::default()
    ///     .value_cache_bytes(64 << 20)
    ///     .value_cache_entries((64 << 20) / per_entry);
    /// # let _ = opts;
    /// ```
    pub const fn value_cache_entry_bytes(key_len: usize, value_len: usize) -> usize {
        crate::cache::entry_charge(key_len, value_len)
    }

    /// The value cache's shape: the one place it is built from the options.
    pub(crate) fn cache_config(&self) -> crate::cache::CacheConfig {
        crate::cache::CacheConfig {
            bytes: self.value_cache_bytes,
            entries: self.value_cache_entries,
            shards: self.value_cache_shards,
            admission: self.value_cache_admission,
        }
    }

    /// The hot tier's shape: the one place it is built from the options (validate them first).
    pub(crate) fn hot_tier_config(&self) -> crate::hot_tier::HotTierConfig {
        crate::hot_tier::HotTierConfig {
            segments: self.hot_segment_count(),
            segment_bytes: self.hot_segment_bytes,
        }
    }

    /// True when the value cache is configured on.
    pub(crate) fn value_cache_enabled(&self) -> bool {
        self.value_cache_bytes > 0 && self.value_cache_entries > 0
    }

    /// True when the hot tier is configured on.
    pub(crate) fn hot_tier_enabled(&self) -> bool {
        self.hot_tier_bytes > 0
    }

    /// Number of hot-tier segments (0 when the tier is off).
    pub(crate) fn hot_segment_count(&self) -> usize {
        if self.hot_tier_enabled() && self.hot_segment_bytes > 0 {
            self.hot_tier_bytes / self.hot_segment_bytes
        } else {
            0
        }
    }
}

/// Generates one chainable setter per field, documented with a link to the field.
macro_rules! setters {
    ($($field:ident : $ty:ty),* $(,)?) => {
        impl Options {
            $(
                #[doc = concat!("Sets [`Options::", stringify!($field), "`].")]
                #[must_use]
                pub fn $field(mut self, value: $ty) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

setters! {
    bloom_bits_per_key: f64,
    block_cache_bytes: usize,
    block_size: usize,
    cache_index_and_filter_blocks: bool,
    pin_l0_filter_and_index_blocks: bool,
    compaction_style: CompactionStyle,
    max_open_files: i32,
    use_direct_reads: bool,
    use_direct_io_for_flush_and_compaction: bool,
    write_buffer_size: usize,
    max_write_buffer_number: u32,
    compression: Compression,
    compression_per_level: Vec<Compression>,
    max_background_jobs: u32,
    pipelined_write: bool,
    wal_enabled: bool,
    sync_writes: bool,
    optimize_for_point_lookup: bool,
    value_cache_bytes: usize,
    value_cache_entries: usize,
    value_cache_shards: usize,
    value_cache_admission: bool,
    block_cache_admission: bool,
    hot_tier_bytes: usize,
    hot_segment_bytes: usize,
    promote_reads_to_hot: bool,
    index_key_filter: bool,
    max_value_bytes: usize,
    create_if_missing: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for (name, o) in [
            ("balanced", Options::balanced()),
            ("read_optimized", Options::read_optimized()),
            ("write_optimized", Options::write_optimized()),
        ] {
            o.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert_eq!(Options::default(), Options::balanced());
    }

    #[test]
    fn setters_chain_and_set_their_field() {
        let o = Options::default()
            .block_size(8192)
            .compression(Compression::Zstd)
            .compaction_style(CompactionStyle::Universal)
            .wal_enabled(false)
            .hot_tier_bytes(0);
        assert_eq!(o.block_size, 8192);
        assert_eq!(o.compression, Compression::Zstd);
        assert_eq!(o.compaction_style, CompactionStyle::Universal);
        assert!(!o.wal_enabled);
        assert!(!o.hot_tier_enabled());
        assert_eq!(o.hot_segment_count(), 0);
    }

    #[test]
    fn options_serialise_to_json() {
        let json = serde_json::to_string(&Options::default()).unwrap();
        assert!(json.contains("\"compaction_style\":\"Level\""));
    }
}
