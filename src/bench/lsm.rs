//! Evidence of an LSM tree's state for the reports, taken from RocksDB itself: files per level,
//! compaction state, block cache capacity and use, the effective options (read back from the
//! newest `OPTIONS-*` file), and the block-cache hit ratio of a pass of reads.
//!
//! Works for alexkv's RocksDB ([`crate::Db::rocksdb_property`]) and the plain baseline
//! ([`super::rocks_plain::PlainRocks::property`]) alike: [`LsmEvidence::gather`] takes a
//! property reader and the directory.
//!
//! The hit ratio comes from RocksDB's per-thread perf context ([`BlockCacheCounter`]), which
//! needs no option at open (so alexkv's RocksDB is measured as configured) but costs a few
//! counter increments per read; the benchmark therefore counts over an untimed pass of the same
//! point reads, right after the timed rounds, rather than inside them.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rocksdb::perf::{set_perf_stats, PerfContext, PerfStatsLevel};
use serde::{Deserialize, Serialize};

/// RocksDB's default number of levels.
const LEVELS: usize = 7;
/// How long [`wait_until_quiet`] polls before giving up.
const QUIET_TIMEOUT: Duration = Duration::from_secs(3600);

/// Reads one RocksDB property by name (`None`: RocksDB does not know it).
pub type PropertyReader<'a> = dyn Fn(&str) -> Result<Option<String>, String> + 'a;

/// Block reads counted by RocksDB's perf context over one pass of reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockCacheCounts {
    /// Reads in the pass (`get` calls made by the benchmark).
    pub reads: u64,
    /// Block cache hits, every block kind (`block_cache_hit_count`).
    pub hits: u64,
    /// Blocks read from files, i.e. misses (`block_read_count`).
    pub misses: u64,
    /// Of the hits, index blocks (`block_cache_index_hit_count`).
    pub index_hits: u64,
    /// Of the hits, filter blocks (`block_cache_filter_hit_count`).
    pub filter_hits: u64,
    /// Of the misses, index blocks (`index_block_read_count`).
    pub index_misses: u64,
    /// Of the misses, filter blocks (`filter_block_read_count`).
    pub filter_misses: u64,
}

impl BlockCacheCounts {
    /// `hits / (hits + misses)`, or `None` when no read reached the block cache.
    pub fn hit_ratio(&self) -> Option<f64> {
        share(self.hits, self.hits + self.misses)
    }

    /// The same for data blocks alone (index and filter blocks, which only some
    /// configurations keep in the block cache, left out).
    pub fn data_hit_ratio(&self) -> Option<f64> {
        let hits = self.hits.saturating_sub(self.index_hits + self.filter_hits);
        let misses = self
            .misses
            .saturating_sub(self.index_misses + self.filter_misses);
        share(hits, hits + misses)
    }
}

fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Counts block-cache hits and misses of RocksDB reads made **on this thread** between
/// [`BlockCacheCounter::start`] and [`BlockCacheCounter::finish`].
pub struct BlockCacheCounter {
    ctx: PerfContext,
}

impl BlockCacheCounter {
    /// Turns on count-level perf statistics for this thread and zeroes them.
    pub fn start() -> BlockCacheCounter {
        set_perf_stats(PerfStatsLevel::EnableCount);
        let mut ctx = PerfContext::default();
        ctx.reset();
        BlockCacheCounter { ctx }
    }

    /// The counts since [`BlockCacheCounter::start`] (`reads` as given); turns perf statistics
    /// off again.
    pub fn finish(self, reads: u64) -> BlockCacheCounts {
        let text = self.ctx.report(true);
        set_perf_stats(PerfStatsLevel::Disable);
        let counters = parse_perf_report(&text);
        let get = |name: &str| counters.get(name).copied().unwrap_or(0);
        BlockCacheCounts {
            reads,
            hits: get("block_cache_hit_count"),
            misses: get("block_read_count"),
            index_hits: get("block_cache_index_hit_count"),
            filter_hits: get("block_cache_filter_hit_count"),
            index_misses: get("index_block_read_count"),
            filter_misses: get("filter_block_read_count"),
        }
    }
}

/// Parses RocksDB's `PerfContext::ToString` output: `name = value, name = value, ...`.
fn parse_perf_report(text: &str) -> BTreeMap<String, u64> {
    text.split(',')
        .filter_map(|item| {
            let (name, value) = item.split_once('=')?;
            Some((name.trim().to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// The state of one RocksDB tree, for the JSON report (`systems[].lsm`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LsmEvidence {
    /// SST files in each level, L0 first (`rocksdb.num-files-at-level<N>`).
    pub files_per_level: Vec<u64>,
    /// `rocksdb.compaction-pending` (1 if RocksDB wants to compact).
    pub compaction_pending: u64,
    /// `rocksdb.num-running-compactions`.
    pub running_compactions: u64,
    /// `rocksdb.num-running-flushes`.
    pub running_flushes: u64,
    /// `rocksdb.estimate-live-data-size`.
    pub live_data_bytes: Option<u64>,
    /// `rocksdb.block-cache-capacity`.
    pub block_cache_capacity_bytes: Option<u64>,
    /// `rocksdb.block-cache-usage` when the evidence was taken.
    pub block_cache_usage_bytes: Option<u64>,
    /// `rocksdb.estimate-table-readers-mem`: index and filter blocks held by the table readers,
    /// outside the block cache.
    pub table_readers_bytes: Option<u64>,
    /// Block-cache hit ratio over a pass of point reads (every block kind that went through the
    /// cache); `None` when no read reached RocksDB's block cache.
    pub block_cache_hit_ratio: Option<f64>,
    /// The same for data blocks alone.
    pub data_block_hit_ratio: Option<f64>,
    /// The counts behind the two ratios.
    pub block_cache_counts: Option<BlockCacheCounts>,
    /// What the hit ratio was counted over.
    pub hit_ratio_pass: Option<String>,
    /// Key options read back from the newest OPTIONS file, as `db.<name>` (DBOptions),
    /// `cf.<name>` (the default column family) and `table.<name>` (its block-based table).
    pub options: BTreeMap<String, String>,
    /// The OPTIONS file they came from.
    pub options_file: Option<String>,
}

impl LsmEvidence {
    /// Reads the tree's shape, cache figures and options (no hit ratio: see
    /// [`LsmEvidence::set_hits`]). `dir` is RocksDB's directory.
    pub fn gather(prop: &PropertyReader<'_>, dir: &Path) -> Result<LsmEvidence, String> {
        let int = |name: &str| -> Result<Option<u64>, String> {
            Ok(prop(name)?.and_then(|v| v.trim().parse().ok()))
        };
        let files_per_level = (0..LEVELS)
            .map(|l| Ok(int(&format!("rocksdb.num-files-at-level{l}"))?.unwrap_or(0)))
            .collect::<Result<Vec<u64>, String>>()?;
        let (options_file, options) = match newest_options_file(dir) {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                (
                    path.file_name().map(|n| n.to_string_lossy().into_owned()),
                    key_options(&text),
                )
            }
            None => (None, BTreeMap::new()),
        };
        Ok(LsmEvidence {
            files_per_level,
            compaction_pending: int("rocksdb.compaction-pending")?.unwrap_or(0),
            running_compactions: int("rocksdb.num-running-compactions")?.unwrap_or(0),
            running_flushes: int("rocksdb.num-running-flushes")?.unwrap_or(0),
            live_data_bytes: int("rocksdb.estimate-live-data-size")?,
            block_cache_capacity_bytes: int("rocksdb.block-cache-capacity")?,
            block_cache_usage_bytes: int("rocksdb.block-cache-usage")?,
            table_readers_bytes: int("rocksdb.estimate-table-readers-mem")?,
            options,
            options_file,
            ..LsmEvidence::default()
        })
    }

    /// Records the block-cache counts of a pass of reads described by `pass`.
    pub fn set_hits(&mut self, counts: BlockCacheCounts, pass: &str) {
        self.block_cache_hit_ratio = counts.hit_ratio();
        self.data_block_hit_ratio = counts.data_hit_ratio();
        self.block_cache_counts = Some(counts);
        self.hit_ratio_pass = Some(pass.to_owned());
    }
}

/// Polls RocksDB until no flush or compaction is pending or running. Called after RocksDB's own
/// wait (`WaitForCompact`), it returns at once; it is the check that the wait did its job.
pub fn wait_until_quiet(prop: &PropertyReader<'_>) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let mut busy = Vec::new();
        for name in [
            "rocksdb.compaction-pending",
            "rocksdb.num-running-compactions",
            "rocksdb.num-running-flushes",
            "rocksdb.mem-table-flush-pending",
        ] {
            let v = prop(name)?.ok_or_else(|| format!("RocksDB does not report {name}"))?;
            if v.trim() != "0" {
                busy.push(format!("{name} = {}", v.trim()));
            }
        }
        if busy.is_empty() {
            return Ok(());
        }
        if started.elapsed() > QUIET_TIMEOUT {
            return Err(format!(
                "RocksDB still busy after {QUIET_TIMEOUT:?}: {}",
                busy.join(", ")
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `OPTIONS-<number>` file with the highest number in `dir` (RocksDB writes a new one at
/// every open and option change; the newest is in effect).
fn newest_options_file(dir: &Path) -> Option<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            let n: u64 = name.strip_prefix("OPTIONS-")?.parse().ok()?;
            Some((n, dir.join(name)))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, p)| p)
}

/// The options a reader of a read benchmark wants to see, by section of the OPTIONS file.
const DB_KNOBS: &[&str] = &[
    "max_open_files",
    "max_background_jobs",
    "enable_pipelined_write",
    "use_direct_reads",
    "allow_mmap_reads",
    "paranoid_checks",
];
const CF_KNOBS: &[&str] = &[
    "compression",
    "bottommost_compression",
    "compaction_style",
    "level_compaction_dynamic_level_bytes",
    "num_levels",
    "write_buffer_size",
    "max_write_buffer_number",
    "memtable_whole_key_filtering",
    "memtable_prefix_bloom_size_ratio",
    "optimize_filters_for_hits",
    "prefix_extractor",
    "table_factory",
];
const TABLE_KNOBS: &[&str] = &[
    "block_size",
    "cache_index_and_filter_blocks",
    "cache_index_and_filter_blocks_with_high_priority",
    "pin_l0_filter_and_index_blocks_in_cache",
    "pin_top_level_index_and_filter",
    "filter_policy",
    "whole_key_filtering",
    "index_type",
    "data_block_index_type",
    "data_block_hash_table_util_ratio",
    "no_block_cache",
    "checksum",
    "format_version",
];

/// Picks [`DB_KNOBS`], [`CF_KNOBS`] and [`TABLE_KNOBS`] out of an OPTIONS file (INI-like:
/// `[DBOptions]`, `[CFOptions "default"]`, `[TableOptions/BlockBasedTable "default"]`, then
/// `name=value` lines). Other column families are skipped.
fn key_options(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut section: Option<(&str, &[&str])> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = match line {
                "[DBOptions]" => Some(("db", DB_KNOBS)),
                "[CFOptions \"default\"]" => Some(("cf", CF_KNOBS)),
                "[TableOptions/BlockBasedTable \"default\"]" => Some(("table", TABLE_KNOBS)),
                _ => None,
            };
            continue;
        }
        let (Some((prefix, knobs)), Some((name, value))) = (section, line.split_once('=')) else {
            continue;
        };
        if knobs.contains(&name.trim()) {
            out.insert(format!("{prefix}.{}", name.trim()), value.trim().to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_report_parses_into_named_counters() {
        let m = parse_perf_report(
            "user_key_comparison_count = 12, block_cache_hit_count = 7, block_read_count = 3, ",
        );
        assert_eq!(m["block_cache_hit_count"], 7);
        assert_eq!(m["block_read_count"], 3);
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn hit_ratios_leave_out_index_and_filter_blocks_on_request() {
        let c = BlockCacheCounts {
            reads: 10,
            hits: 30,
            misses: 10,
            index_hits: 10,
            filter_hits: 10,
            index_misses: 0,
            filter_misses: 0,
        };
        assert_eq!(c.hit_ratio(), Some(0.75));
        assert_eq!(c.data_hit_ratio(), Some(0.5));
        assert_eq!(BlockCacheCounts::default().hit_ratio(), None);
    }

    #[test]
    fn options_file_knobs_come_from_the_default_family_only() {
        let text = "[DBOptions]\n  max_open_files=-1\n  other=1\n\
                    [CFOptions \"default\"]\n  compression=kNoCompression\n\
                    [TableOptions/BlockBasedTable \"default\"]\n  block_size=4096\n\
                    [CFOptions \"meta\"]\n  compression=kLZ4Compression\n";
        let k = key_options(text);
        assert_eq!(k["db.max_open_files"], "-1");
        assert_eq!(k["cf.compression"], "kNoCompression");
        assert_eq!(k["table.block_size"], "4096");
        assert_eq!(k.len(), 3);
    }
}
