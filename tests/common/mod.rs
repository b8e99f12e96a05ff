//! What the engine's tests share: the crate's seeded generator and the small option sets that
//! make memtables flush and the tiers fill, evict and recycle within a test.
#![allow(dead_code)] // each test binary uses its own part

use alexkv::Options;

/// The crate's seeded generator (xoshiro256** seeded by SplitMix64): a failing seed reproduces.
#[allow(unused_imports)]
pub use alexkv::bench::rng::Rng;

/// Largest value the small options accept.
pub const MAX_VALUE: usize = 1024;

/// 256 KiB memtables, a 1 MiB block cache and values up to [`MAX_VALUE`]: memtables flush during
/// a test. The default value cache and hot tier.
pub fn small() -> Options {
    Options::default()
        .write_buffer_size(256 << 10)
        .block_cache_bytes(1 << 20)
        .max_value_bytes(MAX_VALUE)
}

/// [`small`] with a 4 KiB value cache of 16 entries over 2 shards and a hot tier of three 8 KiB
/// segments, so fills, evictions, recycling and demotions happen all the time.
pub fn tiny_tiers() -> Options {
    small()
        .value_cache_bytes(4096)
        .value_cache_entries(16)
        .value_cache_shards(2)
        .hot_tier_bytes(3 * 8192)
        .hot_segment_bytes(8192)
}
