//! The rules a configuration must satisfy (see [`Options::validate`]).

use super::{CompactionStyle, Options};
use crate::error::{Error, Result};
use crate::hot_tier::{record_span, SEGMENT_HEADER_BYTES};
use crate::keys::MAX_KEY_LEN;
use crate::location::{MAX_HOT_VALUE_LEN, MAX_SEGMENTS, MAX_SEGMENT_BYTES, OFFSET_UNIT};

/// RocksDB's default number of levels, which alexkv does not change.
pub(crate) const NUM_LEVELS: usize = 7;
/// RocksDB refuses blocks of 4 GiB or more.
const MAX_BLOCK_SIZE: usize = (u32::MAX as usize) - 1;
/// RocksDB raises smaller memtables to this size; we refuse them instead of surprising anyone.
const MIN_WRITE_BUFFER_SIZE: usize = 64 << 10;
/// RocksDB encodes value lengths in 32 bits.
pub(crate) const MAX_VALUE_BYTES_LIMIT: usize = u32::MAX as usize;
/// Upper bound on value-cache shards.
pub(crate) const MAX_CACHE_SHARDS: usize = 1024;

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidOptions(msg.into())
}

impl Options {
    /// Checks the configuration, returning [`Error::InvalidOptions`] naming the first field that
    /// breaks a rule. The rules:
    ///
    /// **RocksDB**
    /// - `bloom_bits_per_key` is finite and in `0.0..=100.0`.
    /// - `block_size` is in `1..4 GiB`.
    /// - `cache_index_and_filter_blocks` needs a block cache (`block_cache_bytes > 0`), or every
    ///   lookup would read index and filter blocks from disk; `pin_l0_filter_and_index_blocks`
    ///   needs `cache_index_and_filter_blocks` (pinning applies to cached blocks only).
    /// - `use_direct_reads` needs a block cache: direct reads bypass the OS page cache, so
    ///   without a block cache every block read would go to the device.
    /// - `max_open_files` is `-1` (unlimited) or positive, and `-1` with FIFO compaction
    ///   (RocksDB supports FIFO's file bookkeeping only with every table open, and a FIFO
    ///   database's point reads probe every file, so reopening files per read would be a cliff).
    /// - `write_buffer_size` is at least 64 KiB (RocksDB's floor); `max_write_buffer_number`
    ///   and `max_background_jobs` are in `1..=i32::MAX`.
    /// - `compression_per_level` has at most 7 entries (RocksDB's levels), and is empty with
    ///   FIFO compaction, which keeps every file in level 0.
    /// - `sync_writes` needs `wal_enabled`: a synced write is a synced WAL append, and RocksDB
    ///   refuses synced writes without a WAL. (FIFO with the WAL off is allowed: FIFO here never
    ///   drops data, so it does not change what the WAL protects.)
    ///
    /// **Engine**
    /// - `max_value_bytes` is in `1..=u32::MAX` (RocksDB's limit).
    /// - `value_cache_bytes` and `value_cache_entries` are both zero (cache off) or both
    ///   positive; `value_cache_shards` is a power of two in `1..=1024`; when the cache is on,
    ///   `value_cache_entries >= value_cache_shards` so each shard can hold an entry.
    /// - With the hot tier on (`hot_tier_bytes > 0`): `hot_segment_bytes` is a multiple of 8,
    ///   at most 64 MiB (the reach of a packed `Location`), and large enough for the segment
    ///   header plus one record of the longest key (1024 bytes, [`MAX_KEY_LEN`]) and the largest
    ///   value the tier accepts (`min(max_value_bytes, 65535)`), so every key's value fits; the tier holds at least 2 segments (so recycling the
    ///   oldest never recycles the one being written) and at most 1023.
    /// - `promote_reads_to_hot` needs the hot tier on.
    pub fn validate(&self) -> Result<()> {
        self.validate_rocksdb()?;
        self.validate_engine()
    }

    fn validate_rocksdb(&self) -> Result<()> {
        let bloom = self.bloom_bits_per_key;
        if !bloom.is_finite() || !(0.0..=100.0).contains(&bloom) {
            return Err(invalid(format!(
                "bloom_bits_per_key must be in 0..=100, got {bloom}"
            )));
        }
        if self.block_size == 0 || self.block_size > MAX_BLOCK_SIZE {
            return Err(invalid(format!(
                "block_size must be in 1..4GiB, got {}",
                self.block_size
            )));
        }
        if self.cache_index_and_filter_blocks && self.block_cache_bytes == 0 {
            return Err(invalid(
                "cache_index_and_filter_blocks needs a block cache (block_cache_bytes > 0)",
            ));
        }
        if self.pin_l0_filter_and_index_blocks && !self.cache_index_and_filter_blocks {
            return Err(invalid(
                "pin_l0_filter_and_index_blocks needs cache_index_and_filter_blocks",
            ));
        }
        if self.use_direct_reads && self.block_cache_bytes == 0 {
            return Err(invalid(
                "use_direct_reads needs a block cache (block_cache_bytes > 0): direct reads \
                 bypass the OS page cache",
            ));
        }
        if self.max_open_files == 0 || self.max_open_files < -1 {
            return Err(invalid(format!(
                "max_open_files must be -1 (unlimited) or positive, got {}",
                self.max_open_files
            )));
        }
        if self.compaction_style == CompactionStyle::Fifo && self.max_open_files != -1 {
            return Err(invalid(format!(
                "max_open_files must be -1 with FIFO compaction, got {}",
                self.max_open_files
            )));
        }
        if self.write_buffer_size < MIN_WRITE_BUFFER_SIZE {
            return Err(invalid(format!(
                "write_buffer_size must be at least {MIN_WRITE_BUFFER_SIZE}, got {}",
                self.write_buffer_size
            )));
        }
        for (name, v) in [
            ("max_write_buffer_number", self.max_write_buffer_number),
            ("max_background_jobs", self.max_background_jobs),
        ] {
            if v == 0 || v > i32::MAX as u32 {
                return Err(invalid(format!("{name} must be in 1..=2^31-1, got {v}")));
            }
        }
        if self.compression_per_level.len() > NUM_LEVELS {
            return Err(invalid(format!(
                "compression_per_level has {} entries, RocksDB has {NUM_LEVELS} levels",
                self.compression_per_level.len()
            )));
        }
        if self.compaction_style == CompactionStyle::Fifo && !self.compression_per_level.is_empty()
        {
            return Err(invalid(
                "compression_per_level must be empty with FIFO compaction (all files stay in \
                 level 0); use compression",
            ));
        }
        if self.sync_writes && !self.wal_enabled {
            return Err(invalid(
                "sync_writes needs wal_enabled: a synced write is a synced WAL append",
            ));
        }
        Ok(())
    }

    fn validate_engine(&self) -> Result<()> {
        if self.max_value_bytes == 0 || self.max_value_bytes > MAX_VALUE_BYTES_LIMIT {
            return Err(invalid(format!(
                "max_value_bytes must be in 1..={MAX_VALUE_BYTES_LIMIT}, got {}",
                self.max_value_bytes
            )));
        }
        if (self.value_cache_bytes == 0) != (self.value_cache_entries == 0) {
            return Err(invalid(format!(
                "value_cache_bytes ({}) and value_cache_entries ({}) must both be 0 (cache off) \
                 or both positive",
                self.value_cache_bytes, self.value_cache_entries
            )));
        }
        let shards = self.value_cache_shards;
        if !shards.is_power_of_two() || shards > MAX_CACHE_SHARDS {
            return Err(invalid(format!(
                "value_cache_shards must be a power of two in 1..={MAX_CACHE_SHARDS}, got {shards}"
            )));
        }
        if self.value_cache_enabled() && self.value_cache_entries < shards {
            return Err(invalid(format!(
                "value_cache_entries ({}) must be at least value_cache_shards ({shards})",
                self.value_cache_entries
            )));
        }
        if self.hot_tier_enabled() {
            self.validate_hot_tier()?;
        } else if self.promote_reads_to_hot {
            return Err(invalid(
                "promote_reads_to_hot needs the hot tier (hot_tier_bytes > 0)",
            ));
        }
        Ok(())
    }

    fn validate_hot_tier(&self) -> Result<()> {
        let seg = self.hot_segment_bytes;
        if seg % OFFSET_UNIT != 0 || seg > MAX_SEGMENT_BYTES {
            return Err(invalid(format!(
                "hot_segment_bytes must be a multiple of {OFFSET_UNIT} and at most \
                 {MAX_SEGMENT_BYTES}, got {seg}"
            )));
        }
        let largest_hot_value = self.max_value_bytes.min(MAX_HOT_VALUE_LEN);
        let min_seg = SEGMENT_HEADER_BYTES + record_span(MAX_KEY_LEN, largest_hot_value);
        if seg < min_seg {
            return Err(invalid(format!(
                "hot_segment_bytes ({seg}) must hold the segment header and one record of a \
                 {MAX_KEY_LEN}-byte key and a {largest_hot_value}-byte value: at least {min_seg}"
            )));
        }
        let count = self.hot_tier_bytes / seg;
        if !(2..=MAX_SEGMENTS).contains(&count) {
            return Err(invalid(format!(
                "hot_tier_bytes / hot_segment_bytes = {} / {seg} = {count} segments, must be in \
                 2..={MAX_SEGMENTS}",
                self.hot_tier_bytes
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Compression;

    fn rejects(o: Options, field: &str) {
        match o.validate() {
            Err(Error::InvalidOptions(msg)) => assert!(msg.contains(field), "{msg}"),
            other => panic!("expected InvalidOptions naming {field}, got {other:?}"),
        }
    }

    #[test]
    fn rocksdb_rules_reject_bad_values() {
        let d = Options::default;
        rejects(d().bloom_bits_per_key(f64::NAN), "bloom_bits_per_key");
        rejects(d().bloom_bits_per_key(-1.0), "bloom_bits_per_key");
        rejects(d().block_size(0), "block_size");
        rejects(
            d().block_cache_bytes(0)
                .cache_index_and_filter_blocks(true)
                .pin_l0_filter_and_index_blocks(false),
            "cache_index_and_filter_blocks",
        );
        rejects(
            d().cache_index_and_filter_blocks(false)
                .pin_l0_filter_and_index_blocks(true),
            "pin_l0_filter_and_index_blocks",
        );
        rejects(
            d().block_cache_bytes(0)
                .cache_index_and_filter_blocks(false)
                .pin_l0_filter_and_index_blocks(false)
                .use_direct_reads(true),
            "use_direct_reads",
        );
        rejects(d().max_open_files(0), "max_open_files");
        rejects(d().max_open_files(-2), "max_open_files");
        rejects(d().write_buffer_size(1024), "write_buffer_size");
        rejects(d().max_write_buffer_number(0), "max_write_buffer_number");
        rejects(d().max_background_jobs(0), "max_background_jobs");
        rejects(
            d().compression_per_level(vec![Compression::Lz4; 8]),
            "compression_per_level",
        );
        rejects(
            d().compaction_style(CompactionStyle::Fifo)
                .compression_per_level(vec![Compression::Lz4]),
            "compression_per_level",
        );
        rejects(d().wal_enabled(false).sync_writes(true), "sync_writes");
    }

    #[test]
    fn engine_rules_reject_bad_values() {
        let d = Options::default;
        rejects(d().max_value_bytes(0), "max_value_bytes");
        rejects(d().value_cache_entries(0), "value_cache_bytes");
        rejects(d().value_cache_shards(3), "value_cache_shards");
        rejects(d().value_cache_shards(2048), "value_cache_shards");
        rejects(
            d().value_cache_entries(4).value_cache_shards(8),
            "value_cache_entries",
        );
        rejects(
            d().hot_segment_bytes(4 * 1024 * 1024 + 4),
            "hot_segment_bytes",
        );
        rejects(d().hot_segment_bytes(128 << 20), "hot_segment_bytes");
        rejects(d().hot_segment_bytes(1024), "hot_segment_bytes");
        // Room for the largest value but not beside the longest key.
        let small_values = || d().max_value_bytes(100);
        let min_seg = SEGMENT_HEADER_BYTES + record_span(MAX_KEY_LEN, 100);
        rejects(
            small_values()
                .hot_segment_bytes(min_seg - 8)
                .hot_tier_bytes(2 * (min_seg - 8)),
            "1024-byte key",
        );
        small_values()
            .hot_segment_bytes(min_seg)
            .hot_tier_bytes(2 * min_seg)
            .validate()
            .unwrap();
        rejects(d().hot_segment_bytes(d().hot_tier_bytes), "segments");
        rejects(
            d().hot_segment_bytes(d().hot_tier_bytes * 2),
            "hot_segment_bytes",
        );
        rejects(
            d().hot_tier_bytes(2048 * 1024 * 1024)
                .hot_segment_bytes(1 << 20),
            "segments",
        );
        rejects(
            d().hot_tier_bytes(0).promote_reads_to_hot(true),
            "promote_reads_to_hot",
        );
    }

    #[test]
    fn sensible_edge_configurations_pass() {
        let d = Options::default;
        // Everything off.
        d().value_cache_bytes(0)
            .value_cache_entries(0)
            .hot_tier_bytes(0)
            .bloom_bits_per_key(0.0)
            .validate()
            .unwrap();
        // Small values allow small segments.
        d().max_value_bytes(100)
            .hot_tier_bytes(8192)
            .hot_segment_bytes(4096)
            .validate()
            .unwrap();
        // FIFO without a WAL is allowed (documented).
        d().compaction_style(CompactionStyle::Fifo)
            .wal_enabled(false)
            .validate()
            .unwrap();
        // Unlimited max value keeps hot records to 64 KiB.
        d().max_value_bytes(MAX_VALUE_BYTES_LIMIT)
            .validate()
            .unwrap();
    }
}
