//! `defaults_benchmark`: what a new user gets with default options when the data is larger than
//! the default caches.
//!
//! alexkv opened with [`Options::default`] (plus `ALEXKV_*` overrides, to measure a candidate
//! default) against plain RocksDB with *its own* defaults and a 10-bit bloom filter, which is what
//! a RocksDB user starts with. Same keys (uniform random `u64`), same values, same query order.
//! Each system runs in its own child process:
//!
//! 1. load in random order, in batches of `batch` rows (WAL on, no sync);
//! 2. flush, compact the whole range, close;
//! 3. reopen (so nothing read so far sits in a cache of the process), untimed warm-up of
//!    `warmup` random reads (a different sequence), then `rounds` rounds of `gets` timed reads,
//!    each read timed alone, each round a fresh random draw of the loaded keys (its own seed),
//!    so no round reads what an earlier one made hot. The figure is the median of the rounds'
//!    means; percentiles are over every timed read.
//!
//! With `order` [`QueryOrder::Walk`] each round reads `gets` consecutive keys in key order from
//! a random start instead (a walk through neighbouring keys, one get each: what a block cache
//! is for; `Options::block_cache_admission` must keep it fast). Walks of different rounds may
//! overlap (at 10M keys and 50,000 gets a round, rarely).
//!
//! Reads borrow the value on both sides (alexkv's `get_with`, RocksDB's `get_pinned_opt`) and
//! copy it into one reused buffer: no allocation per read on either (until the fourteenth
//! session alexkv's side called `get`, which allocates the value, against RocksDB's pinned
//! read).
//!
//! The OS page cache is not dropped (that needs root and affects the other process): both
//! systems read their files through it, which is the common case for a database a little larger
//! than its own caches. What the figure exposes is each engine's own per-read work: block reads,
//! decompression, and, in the case this program was written for, a 2 MB filter block fetched
//! again on every read because it did not fit a block-cache shard.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::child::run_system;
use super::histogram::{median, LatencyHistogram, LatencySummary};
use super::keys::{generate_keys, query_positions, query_sequence, shuffled, KeyDist};
use super::memory::dir_size_bytes;
use super::report::{fmt_bytes, fmt_ns, fmt_opt_bytes, fmt_ratio, ratio, Table};
use super::values::{check_value, value_vec};
use crate::{Db, Options, WriteBatch};

/// One child's work.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DefaultsConfig {
    /// Rows to load.
    pub rows: usize,
    /// Bytes per value.
    pub value_size: usize,
    /// Timed reads per round.
    pub gets: usize,
    /// Rounds of timed reads, each of fresh random keys.
    #[serde(default = "one_round")]
    pub rounds: usize,
    /// Rows per load batch.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Untimed reads before the timed ones.
    pub warmup: usize,
    /// Seed of keys and queries.
    pub seed: u64,
    /// Working directory (one subdirectory per system, deleted at the end).
    pub dir: PathBuf,
    /// Experiment (0 = off): before each timed get, plain RocksDB also reads two dependent
    /// random words of an array of this many MiB, the memory traffic of one index lookup, so
    /// that what that traffic costs RocksDB's own read can be measured (`internal/PERFORMANCE.md`,
    /// issue 23).
    #[serde(default)]
    pub rocksdb_touch_mib: usize,
    /// Which keys each round reads.
    #[serde(default)]
    pub order: QueryOrder,
}

/// Which keys a round of timed gets reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueryOrder {
    /// A fresh uniform random draw of the loaded keys.
    #[default]
    Random,
    /// Consecutive keys in key order from a random start (each key once).
    Walk,
}

impl QueryOrder {
    /// Parses `random` or `walk`.
    pub fn parse(s: &str) -> Result<QueryOrder, String> {
        match s {
            "random" => Ok(QueryOrder::Random),
            "walk" => Ok(QueryOrder::Walk),
            other => Err(format!("unknown order {other:?}; expected random or walk")),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            QueryOrder::Random => "fresh random keys",
            QueryOrder::Walk => "consecutive keys in key order from a random start",
        }
    }
}

/// A round's queries: `n` keys of the sorted `keys` in `order`, drawn with `seed`.
fn round_queries(keys: &[u64], n: usize, order: QueryOrder, seed: u64) -> Vec<u64> {
    match order {
        QueryOrder::Random => query_sequence(keys, n, seed),
        QueryOrder::Walk => {
            let n = n.min(keys.len());
            let start = query_positions(keys.len() - n + 1, 1, seed)
                .next()
                .unwrap_or(0);
            keys[start..start + n].to_vec()
        }
    }
}

fn one_round() -> usize {
    1
}

fn default_batch() -> usize {
    10_000
}

/// An array read at two dependent random places per get ([`DefaultsConfig::rocksdb_touch_mib`]).
struct Touch {
    words: Vec<u64>,
}

impl Touch {
    fn new(mib: usize) -> Touch {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let words = (0..(mib << 20) / 8)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            })
            .collect();
        Touch { words }
    }

    /// Two dependent reads, the first placed by `k`.
    #[inline]
    fn read(&self, k: u64) -> u64 {
        let n = self.words.len() as u64;
        if n == 0 {
            return 0;
        }
        let first = self.words[(crate::bench::rng::mix64(k) % n) as usize];
        self.words[(first % n) as usize]
    }
}

/// What one system measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DefaultsResult {
    /// `alexkv` or `rocksdb`.
    pub system: String,
    /// Rows per second of the load (batches only, without the compaction).
    pub load_rows_per_sec: f64,
    /// Seconds of the flush + full compaction after the load.
    pub compact_secs: f64,
    /// Seconds of the reopen.
    pub reopen_secs: f64,
    /// Median of the rounds' mean read times.
    pub get_mean_ns: f64,
    /// Each round's mean read time, in round order.
    #[serde(default)]
    pub round_means_ns: Vec<f64>,
    /// Median of the timed reads.
    pub get_p50_ns: f64,
    /// 99th percentile of the timed reads.
    pub get_p99_ns: f64,
    /// Bytes of the database directory after the compaction.
    pub disk_bytes: u64,
    /// The options used, as text (alexkv: its `Options` as JSON; RocksDB: a summary).
    pub options: String,
    /// alexkv only: the engine's sampled read-path profile over the timed reads (JSON).
    pub read_profile: Option<String>,
}

/// A finished run of both systems.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DefaultsReport {
    /// The configuration.
    pub config: DefaultsConfig,
    /// Each system's result and peak RSS.
    pub systems: Vec<(DefaultsResult, Option<u64>)>,
}

/// Runs the phase for `system` in this process (the child side).
pub fn run_phase(system: &str, config: &DefaultsConfig) -> Result<DefaultsResult, String> {
    let dir = config.dir.join(system);
    let _ = std::fs::remove_dir_all(&dir);
    let keys = generate_keys(KeyDist::Random, config.rows, config.seed);
    let load_order = shuffled(&keys, config.seed ^ 0x10AD);
    let warm = query_sequence(&keys, config.warmup, config.seed ^ 0x3A53);
    let rounds: Vec<Vec<u64>> = (0..config.rounds.max(1) as u64)
        .map(|r| {
            let seed = config.seed ^ 0x9E75 ^ (r << 32);
            round_queries(&keys, config.gets, config.order, seed)
        })
        .collect();
    let queries = &rounds[..];
    let result = match system {
        "alexkv" => run_alexkv(&dir, config, &load_order, &warm, queries),
        "rocksdb" => run_rocksdb(&dir, config, &load_order, &warm, queries),
        other => Err(format!("unknown system {other}")),
    };
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Writes `load_order` in chunks of `batch` rows with `write_chunk`; returns rows per second.
fn timed_load(
    load_order: &[u64],
    batch: usize,
    mut write_chunk: impl FnMut(&[u64]) -> Result<(), String>,
) -> Result<f64, String> {
    let started = Instant::now();
    for chunk in load_order.chunks(batch.max(1)) {
        write_chunk(chunk)?;
    }
    Ok(load_order.len() as f64 / started.elapsed().as_secs_f64())
}

/// The timed reads: percentiles over all of them, and each round's mean.
struct Timed {
    latency: LatencySummary,
    round_means_ns: Vec<f64>,
}

impl Timed {
    /// The median of the rounds' means.
    fn mean_ns(&self) -> f64 {
        median(&mut self.round_means_ns.clone())
    }
}

/// Untimed reads of `warm`, then `before_timed()`, then each round of `rounds`, each read timed
/// alone. `get(k, f)` reads `k`'s value, hands it to `f` borrowed, and says whether `k` was
/// found; `f` copies it into one buffer reused for every read (both systems: no allocation per
/// read, as `benchmark_vs_sqlite` reads), checked outside the timer.
fn timed_gets(
    system: &str,
    config: &DefaultsConfig,
    warm: &[u64],
    rounds: &[Vec<u64>],
    before_timed: impl FnOnce(),
    mut get: impl FnMut(u64, &mut dyn FnMut(&[u8])) -> Result<bool, String>,
) -> Result<Timed, String> {
    for &k in warm {
        get(k, &mut |_| {})?;
    }
    before_timed();
    let mut latency = LatencyHistogram::new();
    let mut round_means_ns = Vec::with_capacity(rounds.len());
    let mut value = Vec::with_capacity(config.value_size);
    for queries in rounds {
        let mut round = LatencyHistogram::new();
        for &k in queries {
            let t = Instant::now();
            let found = get(k, &mut |v| {
                value.clear();
                value.extend_from_slice(v);
            })?;
            let took = t.elapsed();
            latency.record(took);
            round.record(took);
            if !(found && check_value(k, &value, config.value_size)) {
                return Err(format!("{system}: wrong value for key {k}"));
            }
        }
        round_means_ns.push(round.summary().mean_ns);
    }
    Ok(Timed {
        latency: latency.summary(),
        round_means_ns,
    })
}

fn run_alexkv(
    dir: &Path,
    config: &DefaultsConfig,
    load_order: &[u64],
    warm: &[u64],
    queries: &[Vec<u64>],
) -> Result<DefaultsResult, String> {
    let opts = Options::default()
        .with_env_overrides()
        .map_err(|e| e.to_string())?;
    let err = |e: crate::Error| e.to_string();
    let db = Db::open(dir, opts.clone()).map_err(err)?;
    let load_rows_per_sec = timed_load(load_order, config.batch, |chunk| {
        let mut batch = WriteBatch::new();
        for &k in chunk {
            batch.put(k, value_vec(k, config.value_size));
        }
        db.write(batch).map_err(err)
    })?;
    let started = Instant::now();
    db.flush().map_err(err)?;
    db.compact().map_err(err)?;
    let compact_secs = started.elapsed().as_secs_f64();
    db.close().map_err(err)?;
    let disk_bytes = dir_size_bytes(dir).unwrap_or(0);

    let started = Instant::now();
    let db = Db::open(dir, opts.clone()).map_err(err)?;
    let reopen_secs = started.elapsed().as_secs_f64();
    let timed = timed_gets(
        "alexkv",
        config,
        warm,
        queries,
        || db.reset_read_profile(),
        |k, f| {
            db.get_with(k, |v| f(v))
                .map(|found| found.is_some())
                .map_err(err)
        },
    )?;
    Ok(DefaultsResult {
        system: "alexkv".into(),
        load_rows_per_sec,
        compact_secs,
        reopen_secs,
        get_mean_ns: timed.mean_ns(),
        round_means_ns: timed.round_means_ns.clone(),
        get_p50_ns: timed.latency.p50 as f64,
        get_p99_ns: timed.latency.p99 as f64,
        disk_bytes,
        options: serde_json::to_string(&opts).unwrap_or_default(),
        read_profile: serde_json::to_string(&db.read_profile()).ok(),
    })
}

/// Plain RocksDB as its users start: RocksDB's defaults plus a 10-bit full bloom filter.
fn plain_rocksdb_options() -> rocksdb::Options {
    let mut o = rocksdb::Options::default();
    o.create_if_missing(true);
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_bloom_filter(10.0, false);
    o.set_block_based_table_factory(&table);
    o
}

fn run_rocksdb(
    dir: &Path,
    config: &DefaultsConfig,
    load_order: &[u64],
    warm: &[u64],
    queries: &[Vec<u64>],
) -> Result<DefaultsResult, String> {
    let err = |e: rocksdb::Error| e.to_string();
    let opts = plain_rocksdb_options();
    let db = rocksdb::DB::open(&opts, dir).map_err(err)?;
    let load_rows_per_sec = timed_load(load_order, config.batch, |chunk| {
        let mut batch = rocksdb::WriteBatch::default();
        for &k in chunk {
            batch.put(k.to_be_bytes(), value_vec(k, config.value_size));
        }
        db.write(batch).map_err(err)
    })?;
    let started = Instant::now();
    db.flush().map_err(err)?;
    db.compact_range::<&[u8], &[u8]>(None, None);
    let compact_secs = started.elapsed().as_secs_f64();
    drop(db);
    let disk_bytes = dir_size_bytes(dir).unwrap_or(0);

    let started = Instant::now();
    let db = rocksdb::DB::open(&opts, dir).map_err(err)?;
    let reopen_secs = started.elapsed().as_secs_f64();
    let ro = rocksdb::ReadOptions::default();
    let touch = Touch::new(config.rocksdb_touch_mib);
    if config.rocksdb_touch_mib > 0 {
        let started = Instant::now();
        let sum = queries
            .iter()
            .flatten()
            .fold(0u64, |s, &k| s.wrapping_add(touch.read(k ^ 0x55)));
        std::hint::black_box(sum);
        eprintln!(
            "defaults_benchmark: rocksdb touches {} MiB per get; the touches alone: {:.0} ns per get",
            config.rocksdb_touch_mib,
            started.elapsed().as_nanos() as f64 / (queries.len() * config.gets).max(1) as f64
        );
    }
    let timed = timed_gets(
        "rocksdb",
        config,
        warm,
        queries,
        || {},
        |k, f| {
            std::hint::black_box(touch.read(k));
            match db.get_pinned_opt(k.to_be_bytes(), &ro).map_err(err)? {
                Some(v) => {
                    f(&v);
                    Ok(true)
                }
                None => Ok(false),
            }
        },
    )?;
    Ok(DefaultsResult {
        system: "rocksdb".into(),
        load_rows_per_sec,
        compact_secs,
        reopen_secs,
        get_mean_ns: timed.mean_ns(),
        round_means_ns: timed.round_means_ns.clone(),
        get_p50_ns: timed.latency.p50 as f64,
        get_p99_ns: timed.latency.p99 as f64,
        disk_bytes,
        options: format!(
            "RocksDB defaults (an internal 32 MiB block cache, index and filter blocks held by \
             the table readers, Snappy), full bloom filter 10 bits/key{}",
            match config.rocksdb_touch_mib {
                0 => String::new(),
                mib =>
                    format!("; experiment: 2 dependent random reads of a {mib} MiB array per get"),
            }
        ),
        read_profile: None,
    })
}

/// The parent side: both systems, each in a child, then a table on stdout.
pub fn run(config: &DefaultsConfig) -> Result<DefaultsReport, String> {
    let mut systems = Vec::new();
    for system in ["alexkv", "rocksdb"] {
        eprintln!("defaults_benchmark: {system}, {} rows", config.rows);
        let out = run_system::<_, DefaultsResult>(system, config)?;
        systems.push((out.result, out.peak_rss_bytes));
    }
    let report = DefaultsReport {
        config: config.clone(),
        systems,
    };
    print_report(&report);
    Ok(report)
}

fn print_report(report: &DefaultsReport) {
    let c = &report.config;
    println!(
        "defaults_benchmark: {} random keys, {}-byte values, loaded in batches of {}; after the \
         reopen {} rounds of {} timed gets of {} (get mean: the median of the rounds' means; \
         p50, p99 over every timed get)",
        c.rows,
        c.value_size,
        c.batch,
        c.rounds.max(1),
        c.gets,
        c.order.describe()
    );
    let mut table = Table::new([
        "system", "get mean", "rounds", "p50", "p99", "load", "compact", "reopen", "disk",
        "peak RSS",
    ]);
    for (r, rss) in &report.systems {
        let rounds: Vec<String> = r.round_means_ns.iter().map(|&ns| fmt_ns(ns)).collect();
        table.row([
            r.system.clone(),
            fmt_ns(r.get_mean_ns),
            rounds.join(" / "),
            fmt_ns(r.get_p50_ns),
            fmt_ns(r.get_p99_ns),
            format!("{:.0} rows/s", r.load_rows_per_sec),
            format!("{:.1} s", r.compact_secs),
            format!("{:.2} s", r.reopen_secs),
            fmt_bytes(r.disk_bytes),
            fmt_opt_bytes(*rss),
        ]);
    }
    table.print();
    for (r, _) in &report.systems {
        if let Some(p) = &r.read_profile {
            println!("{} read profile: {p}", r.system);
        }
    }
    if let [(a, _), (r, _)] = &report.systems[..] {
        println!(
            "alexkv get mean / RocksDB get mean = {} (target <= 1.0)",
            fmt_ratio(ratio(a.get_mean_ns, r.get_mean_ns))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_reads_consecutive_keys_and_a_random_round_draws_them() {
        let keys: Vec<u64> = (0..100).map(|k| k * 3).collect();
        let walk = round_queries(&keys, 10, QueryOrder::Walk, 7);
        assert_eq!(walk.len(), 10);
        let first = keys.iter().position(|&k| k == walk[0]).unwrap();
        assert_eq!(walk, keys[first..first + 10]);
        assert_eq!(round_queries(&keys, 500, QueryOrder::Walk, 7), keys);
        let random = round_queries(&keys, 1_000, QueryOrder::Random, 7);
        assert_eq!(random.len(), 1_000);
        assert!(random.windows(2).any(|w| w[1] < w[0]), "not in key order");
        assert_eq!(QueryOrder::parse("walk"), Ok(QueryOrder::Walk));
        assert!(QueryOrder::parse("sorted").is_err());
    }
}
