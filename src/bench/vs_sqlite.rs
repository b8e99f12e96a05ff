//! `benchmark_vs_sqlite`: alexkv, plain RocksDB and SQLite on the same keys, values and query
//! order, each system in its own child process (so its peak RSS is its own, and while it is
//! timed the process holds only that system's database).
//!
//! Phases per system (in the child), as BENCHMARKING.md asks:
//!
//! 1. **Load** every row through the system's natural batched write path (batches of
//!    [`LOAD_BATCH_ROWS`]), in key order for `sequential` keys and shuffled otherwise.
//!
//! Keys are of one kind ([`VsConfig::key_kind`]): `u64` (8 big-endian bytes, drawn from
//! [`VsConfig::dist`]) or a byte kind (`ycsb`, `composite`, `url`, `random16`, whose `dist`
//! only picks the load order); every system gets the same key bytes (`super::vs_keys`). Every
//! key list a timed loop goes through (queries, misses, scan starts) is made before its clock
//! starts.
//! 2. **Settle** ([`System::settle`]): RocksDB (alexkv's and the plain one) flushes, compacts the
//!    whole key range and waits until no flush or compaction is pending or running; SQLite
//!    checkpoints its WAL (`TRUNCATE`).
//! 3. **Warm up**, untimed: read every loaded key once, in a shuffled order different from the
//!    timed queries, so each cache holds what its budget allows.
//! 4. Record the **LSM evidence** (files per level, block cache, effective options) just before
//!    the timed reads.
//! 5. **Timed rounds** ([`VsConfig::rounds`], 3 by default): `queries` point reads of present
//!    keys per round, then `misses` reads of absent keys per round, then `scans` scans of
//!    [`SCAN_LEN`] keys from random present starts per round; each round draws its own keys
//!    (the same for every system). A phase reports its median round (by mean) and keeps every
//!    round's mean in `rounds_ns`.
//! 6. For the RocksDB-based systems, an untimed pass of round 1's point reads with RocksDB's
//!    perf counters on gives the **block-cache hit ratio** (counting costs time, so it stays out
//!    of the timed rounds; see [`super::lsm`]).
//!
//! Point reads are timed in batches for the mean and throughput, one in [`SAMPLE_EVERY`]
//! individually for percentiles, after the rest of its batch and outside its timing (see
//! `histogram::time_ops`; before the seventh session the batches included the sampled reads,
//! which put their clock reads and the overlap they cost into every system's mean). Every value
//! read is counted, and one in [`CHECK_EVERY`] is checked against the value derived from its
//! key; a wrong value fails the run.
//!
//! alexkv's sorted bulk path (SST ingestion into a fresh database) runs in a child of its own
//! ([`INGEST_CHILD`], [`run_ingest`]) and is reported on alexkv's row.
//!
//! This module is what a child does; the parent side (starting the children, the ratios, the
//! report) is `vs_report`.

use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::byte_keys::{KeyKind, KeySet};
use super::child::{child_main, ChildRequest};
use super::histogram::{time_ops, LatencySummary, Timing, TimingConfig};
use super::keys::KeyDist;
use super::lsm::{BlockCacheCounter, LsmEvidence};
use super::memory::dir_size_bytes;
use super::rocks_plain::RowCache;
use super::systems::{KeyShape, OpenSpec, Session, System, SystemKind};
use super::values::{check_value, key_seed, value_for};
use super::vs_keys::RunKeys;
use crate::Key;

/// Rows per write batch / transaction while loading.
pub const LOAD_BATCH_ROWS: usize = 10_000;
/// Keys per scan.
pub const SCAN_LEN: usize = 100;
/// One point read in this many is timed individually (for percentiles).
pub const SAMPLE_EVERY: u64 = 16;
/// One value in this many is checked byte for byte.
pub const CHECK_EVERY: u64 = 64;
/// Timed rounds of each read phase unless the command line says otherwise.
pub const DEFAULT_ROUNDS: usize = 3;
/// The child-process name of alexkv's sorted bulk load (SST ingestion).
pub const INGEST_CHILD: &str = "alexkv-ingest";

/// What every child runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VsConfig {
    /// Rows loaded.
    pub rows: usize,
    /// Key distribution (and load order: sequential loads in key order, the others shuffled).
    /// For a byte [`VsConfig::key_kind`], the load order only: `random` or `sequential`.
    pub dist: KeyDist,
    /// The keys: `u64` (drawn from `dist`) or a byte kind.
    #[serde(default)]
    pub key_kind: KeyKind,
    /// Mean key length in bytes (8 for `u64`).
    #[serde(default = "default_key_len")]
    pub mean_key_len: f64,
    /// Point reads of present keys, per round.
    pub queries: usize,
    /// Point reads of absent keys, per round.
    pub misses: usize,
    /// Scans of `SCAN_LEN` keys, per round.
    pub scans: usize,
    /// Timed rounds of each read phase; the report gives the median round.
    #[serde(default = "default_rounds")]
    pub rounds: usize,
    /// Value size in bytes.
    pub value_size: usize,
    /// Cache memory every system gets, in bytes.
    pub memory_budget: u64,
    /// fsync every commit (all systems).
    pub sync: bool,
    /// Load only.
    pub inserts_only: bool,
    /// alexkv without its value cache and hot tier (index + RocksDB only).
    #[serde(default)]
    pub alexkv_tiers_off: bool,
    /// Plain RocksDB's row cache policy.
    #[serde(default)]
    pub rocksdb_row_cache: RowCache,
    /// Seed of keys, values, order and queries.
    pub seed: u64,
    /// Working directory; each system uses its own subdirectory.
    pub dir: PathBuf,
}

fn default_rounds() -> usize {
    DEFAULT_ROUNDS
}

fn default_key_len() -> f64 {
    8.0
}

impl VsConfig {
    /// The keys the systems hold, as [`System::open`] takes them.
    pub fn key_shape(&self) -> KeyShape {
        match self.key_kind {
            KeyKind::U64 => KeyShape::U64,
            _ => KeyShape::Bytes {
                mean_len: self.mean_key_len.ceil() as usize,
            },
        }
    }
}

/// Bytes of the loaded data as stored: rows x (mean key length + value).
pub fn data_bytes(rows: usize, mean_key_len: f64, value_size: usize) -> u64 {
    (rows as f64 * (mean_key_len + value_size as f64)).round() as u64
}

/// Throughput and latency of one read phase: its median round, and every round's mean.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PhaseResult {
    /// Operations per round.
    pub ops: u64,
    /// Timed rounds.
    pub rounds: usize,
    /// Operations per second of the median round (batch-timed).
    pub ops_per_sec: f64,
    /// Mean ns per operation of the median round (batch-timed): the round whose mean is the
    /// median of `rounds_ns` (the lower middle one for an even number of rounds).
    pub mean_ns: f64,
    /// Every round's mean ns per operation, in the order the rounds ran.
    pub rounds_ns: Vec<f64>,
    /// Percentiles of the median round's individually timed sample (includes one timer read
    /// pair).
    pub latency: LatencySummary,
}

/// One system's figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SystemResult {
    /// `alexkv`, `rocksdb` or `sqlite`.
    pub system: String,
    /// Seconds to load all rows through batched writes.
    pub load_secs: f64,
    /// Rows per second of that load.
    pub load_rows_per_sec: f64,
    /// Seconds of the settle step after the load (flush, full compaction and the wait for
    /// RocksDB's background work; SQLite's WAL checkpoint).
    #[serde(default)]
    pub settle_secs: f64,
    /// Seconds of the untimed warm-up (every loaded key read once).
    #[serde(default)]
    pub warmup_secs: Option<f64>,
    /// alexkv's sorted bulk path (SST ingestion into a fresh database, in a child process of
    /// its own), seconds and rows/s.
    pub bulk_load_secs: Option<f64>,
    /// Rows per second of the bulk path.
    pub bulk_rows_per_sec: Option<f64>,
    /// Peak RSS of the bulk path's child process.
    #[serde(default)]
    pub bulk_peak_rss_bytes: Option<u64>,
    /// Point reads of present keys.
    pub point_reads: Option<PhaseResult>,
    /// Point reads of absent keys.
    pub misses: Option<PhaseResult>,
    /// Scans of `SCAN_LEN` keys (one op = one scan).
    pub scans: Option<PhaseResult>,
    /// The LSM tree just before the timed reads (alexkv's RocksDB and plain RocksDB), with the
    /// block-cache hit ratio of the point reads; `None` for SQLite.
    #[serde(default)]
    pub lsm: Option<LsmEvidence>,
    /// Bytes in the system's directory after the run.
    pub disk_bytes: u64,
    /// Value bytes received by reads (all counted, so nothing is optimised away).
    pub bytes_read: u64,
    /// Values checked byte for byte.
    pub values_checked: u64,
    /// The settings the system ran with.
    pub settings: serde_json::Value,
    /// alexkv's own statistics after the run.
    pub engine_stats: Option<serde_json::Value>,
}

fn progress(rows: usize, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(rows as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>8} {bar:40} {pos}/{len} rows {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(label.to_string());
    bar
}

/// The child side of `benchmark_vs_sqlite`: runs what `request` names (a system's phases, or
/// [`INGEST_CHILD`]), reports the result to the parent and exits.
pub fn child(request: &ChildRequest) -> ! {
    let config = request.config::<VsConfig>();
    match request.system.as_str() {
        INGEST_CHILD => child_main(move || run_ingest(&config?)),
        name => child_main(move || run_system_phases(SystemKind::parse(name)?, &config?)),
    }
}

/// What the reads of a system received and checked, across phases.
#[derive(Default)]
pub(crate) struct Tally {
    bytes_read: u64,
    values_checked: u64,
    /// Reads that returned a wrong value, or missed a present key, or found an absent one.
    pub(crate) bad: u64,
    error: Option<String>,
}

impl Tally {
    fn note(&mut self, r: Result<bool, String>, expect_present: bool) {
        match r {
            Ok(found) if found == expect_present => {}
            Ok(_) => self.bad += 1,
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }

    /// The first error a read returned, if any (taken).
    pub(crate) fn check(&mut self) -> Result<(), String> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The seed of round `round` of a phase whose first round uses `base`.
fn round_seed(base: u64, round: usize) -> u64 {
    base ^ (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The median round (by mean) and every round's mean.
fn median_phase(rounds: &[Timing]) -> PhaseResult {
    let rounds_ns: Vec<f64> = rounds.iter().map(|t| t.mean_ns_per_op).collect();
    let mut order: Vec<usize> = (0..rounds.len()).collect();
    order.sort_by(|&a, &b| rounds_ns[a].total_cmp(&rounds_ns[b]));
    let mid = &rounds[order[(rounds.len() - 1) / 2]];
    PhaseResult {
        ops: mid.ops,
        rounds: rounds.len(),
        ops_per_sec: mid.ops_per_sec,
        mean_ns: mid.mean_ns_per_op,
        rounds_ns,
        latency: mid.latency,
    }
}

/// Runs `c.rounds` timed rounds (`round(r, tally)` prepares and times round `r`), checking the
/// tally after each, and returns the median round with every round's mean.
fn timed_rounds(
    c: &VsConfig,
    tally: &mut Tally,
    mut round: impl FnMut(usize, &mut Tally) -> Result<Timing, String>,
) -> Result<PhaseResult, String> {
    let mut rounds = Vec::with_capacity(c.rounds);
    for r in 0..c.rounds {
        rounds.push(round(r, tally)?);
        tally.check()?;
    }
    Ok(median_phase(&rounds))
}

/// Timed rounds of `queries` point reads of present keys (round `r` draws its keys with
/// `round_seed`); one value in [`CHECK_EVERY`] is checked.
fn point_read_rounds(
    session: &mut Session<'_>,
    keys: &RunKeys,
    c: &VsConfig,
    tally: &mut Tally,
) -> Result<PhaseResult, String> {
    timed_rounds(c, tally, |round, tally| {
        let queries = keys.sample(c.queries, round_seed(c.seed ^ 0x9E37, round));
        Ok(time_point_reads(session, &queries, c.value_size, tally))
    })
}

/// One round of point reads of `queries` (all present, values of `value_size` bytes) as the
/// comparison times them: batches of 10,000, one read in [`SAMPLE_EVERY`] timed alone, one value
/// in [`CHECK_EVERY`] checked. Each read hands the system the key straight from the list: a
/// byte key as a slice of the list's buffer, a key of a list of 8-byte keys (`u64` keys) as the
/// `u64` it is (see [`word`]), the call the `u64` comparison always made. (Handed over as 8-byte
/// arrays, `u64` misses of 300,000-row runs came out 4-9 ns slower than before byte keys in
/// three alternations; as `u64`s, within the VM's noise.)
/// `profile_10m_queries` runs the same loop beside its own.
pub(crate) fn time_point_reads(
    session: &mut Session<'_>,
    queries: &KeySet,
    value_size: usize,
    tally: &mut Tally,
) -> Timing {
    let n = queries.len();
    if queries.width() == 8 {
        time_reads_of(session, n, |i| word(queries, i), |k| k, value_size, tally)
    } else {
        time_reads_of(session, n, |i| queries.get(i), key_seed, value_size, tally)
    }
}

/// Key `i` of a list of 8-byte keys as the `u64` it is: the form the comparison always handed
/// the systems a `u64` key in (the same bytes; the engine sees what a `u64` caller gives it).
#[inline(always)]
fn word(keys: &KeySet, i: usize) -> u64 {
    u64::from_be_bytes(keys.array::<8>(i))
}

/// [`time_point_reads`] of `n` keys, key `i` being `key_at(i)`, its value derived from
/// `seed_of(key)`.
#[inline(always)]
fn time_reads_of<K: Key + Copy>(
    session: &mut Session<'_>,
    n: usize,
    key_at: impl Fn(usize) -> K,
    seed_of: impl Fn(K) -> u64,
    value_size: usize,
    tally: &mut Tally,
) -> Timing {
    let cfg = TimingConfig {
        batch_size: 10_000,
        sample_every: SAMPLE_EVERY,
    };
    time_ops(n as u64, cfg, |i| {
        let k = key_at(i as usize);
        let check = i % CHECK_EVERY == 0;
        let (mut bytes, mut good) = (0usize, true);
        let r = session.get_with(k, &mut |v| {
            bytes = v.len();
            if check {
                good = check_value(seed_of(k), v, value_size);
            }
        });
        tally.bytes_read += bytes as u64;
        if check {
            tally.values_checked += 1;
            tally.bad += u64::from(!good);
        }
        tally.note(r, true);
    })
}

/// Timed rounds of `misses` reads of keys never inserted (each round's list checked absent
/// before its clock starts).
fn miss_rounds(
    session: &mut Session<'_>,
    keys: &RunKeys,
    c: &VsConfig,
    tally: &mut Tally,
) -> Result<PhaseResult, String> {
    let cfg = TimingConfig {
        batch_size: 10_000,
        sample_every: SAMPLE_EVERY,
    };
    timed_rounds(c, tally, |round, tally| {
        let absent = keys.misses(c.misses, round_seed(c.seed ^ 0x4D15, round))?;
        let n = absent.len();
        // As in `time_point_reads`: 8-byte keys as `u64`s, others as slices.
        Ok(if absent.width() == 8 {
            time_misses_of(session, n, |i| word(&absent, i), cfg, tally)
        } else {
            time_misses_of(session, n, |i| absent.get(i), cfg, tally)
        })
    })
}

/// One round of `n` reads of absent keys, key `i` being `key_at(i)`.
#[inline(always)]
fn time_misses_of<K: Key>(
    session: &mut Session<'_>,
    n: usize,
    key_at: impl Fn(usize) -> K,
    cfg: TimingConfig,
    tally: &mut Tally,
) -> Timing {
    time_ops(n as u64, cfg, |i| {
        let mut bytes = 0usize;
        let r = session.get_with(key_at(i as usize), &mut |v| bytes = v.len());
        tally.bytes_read += bytes as u64;
        tally.note(r, false);
    })
}

/// Timed rounds of `scans` scans of [`SCAN_LEN`] keys; the first value of each is checked.
fn scan_rounds(
    session: &mut Session<'_>,
    keys: &RunKeys,
    c: &VsConfig,
    tally: &mut Tally,
) -> Result<PhaseResult, String> {
    let cfg = TimingConfig {
        batch_size: 100,
        sample_every: 4,
    };
    let vs = c.value_size;
    timed_rounds(c, tally, |round, tally| {
        let starts = keys.sample(c.scans, round_seed(c.seed ^ 0x5CA7, round));
        Ok(time_ops(starts.len() as u64, cfg, |i| {
            let (mut seen, mut bytes, mut good) = (0usize, 0u64, true);
            let r = session.scan(starts.get(i as usize), SCAN_LEN, &mut |k, v| {
                bytes += v.len() as u64;
                if seen == 0 {
                    good = check_value(key_seed(k), v, vs);
                }
                seen += 1;
            });
            tally.bytes_read += bytes;
            tally.bad += u64::from(!good);
            tally.note(r.map(|n| n > 0), true);
        }))
    })
}

/// The run's keys, with a pool of absent keys as large as a round of misses (byte kinds), and
/// their mean length checked against the one the parent sized the budget by.
fn run_keys(c: &VsConfig) -> Result<RunKeys, String> {
    let keys = RunKeys::generate(c.key_kind, c.dist, c.rows, c.misses, c.seed)?;
    if c.rows > 0 && (keys.mean_len() - c.mean_key_len).abs() > 1e-6 {
        return Err(format!(
            "the {} keys' mean length is {} bytes here, {} in the configuration",
            c.key_kind,
            keys.mean_len(),
            c.mean_key_len
        ));
    }
    Ok(keys)
}

/// Runs every phase for `kind` in this process (the child side); see the module docs.
pub fn run_system_phases(kind: SystemKind, c: &VsConfig) -> Result<SystemResult, String> {
    if c.rounds == 0 {
        return Err("rounds must be at least 1".into());
    }
    let dir = c.dir.join(kind.name());
    let _ = std::fs::remove_dir_all(&dir);
    let keys = run_keys(c)?;
    let load_order = keys.load_order(c.dist, c.seed ^ 0x10AD);
    let spec = OpenSpec {
        budget: c.memory_budget,
        sync: c.sync,
        value_len: c.value_size,
        alexkv_tiers: !c.alexkv_tiers_off,
        rocksdb_row_cache: c.rocksdb_row_cache.bytes(
            c.memory_budget,
            data_bytes(c.rows, c.mean_key_len, c.value_size),
        ),
        keys: c.key_shape(),
    };
    let mut system = System::open(kind, &dir, &spec)?;
    let bar = progress(c.rows, kind.name());
    let start = Instant::now();
    let mut rows: Vec<(&[u8], Vec<u8>)> = Vec::with_capacity(LOAD_BATCH_ROWS);
    let mut at = 0;
    while at < load_order.len() {
        let end = (at + LOAD_BATCH_ROWS).min(load_order.len());
        rows.clear();
        for i in at..end {
            let k = load_order.get(i);
            let mut v = Vec::with_capacity(c.value_size);
            value_for(key_seed(k), c.value_size, &mut v);
            rows.push((k, v));
        }
        system.write_rows(&rows)?;
        bar.inc((end - at) as u64);
        at = end;
    }
    let load_secs = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    drop(rows);
    drop(load_order);

    let start = Instant::now();
    system.settle()?;
    let settle_secs = start.elapsed().as_secs_f64();

    let mut tally = Tally::default();
    let mut warmup_secs = None;
    let (mut point_reads, mut misses, mut scans) = (None, None, None);
    let mut lsm;
    if !c.inserts_only && c.rows > 0 {
        let mut session = system.session()?;
        let warm = keys.shuffled(c.seed ^ 0x3A3A);
        let start = Instant::now();
        for k in warm.iter() {
            let mut bytes = 0usize;
            let r = session.get_with(k, &mut |v| bytes = v.len());
            tally.bytes_read += bytes as u64;
            tally.note(r, true);
        }
        tally.check()?;
        warmup_secs = Some(start.elapsed().as_secs_f64());
        drop(warm);

        lsm = system.lsm_evidence()?;
        point_reads = Some(point_read_rounds(&mut session, &keys, c, &mut tally)?);
        if let Some(lsm) = lsm.as_mut() {
            let queries = keys.sample(c.queries, round_seed(c.seed ^ 0x9E37, 0));
            let counter = BlockCacheCounter::start();
            for k in queries.iter() {
                let mut bytes = 0usize;
                let r = session.get_with(k, &mut |v| bytes = v.len());
                tally.bytes_read += bytes as u64;
                tally.note(r, true);
            }
            let counts = counter.finish(queries.len() as u64);
            tally.check()?;
            lsm.set_hits(
                counts,
                "untimed pass of round 1's point reads right after the timed rounds \
                 (RocksDB perf-context counters)",
            );
        }
        misses = Some(miss_rounds(&mut session, &keys, c, &mut tally)?);
        scans = Some(scan_rounds(&mut session, &keys, c, &mut tally)?);
    } else {
        lsm = system.lsm_evidence()?;
    }
    if tally.bad > 0 {
        return Err(format!(
            "{}: {} reads returned a wrong or missing value",
            kind.name(),
            tally.bad
        ));
    }
    let engine_stats = system.alexkv_stats();
    let settings = system.settings();
    drop(system);
    let disk_bytes = dir_size_bytes(&dir).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(SystemResult {
        system: kind.name().to_string(),
        load_secs,
        load_rows_per_sec: c.rows as f64 / load_secs.max(1e-9),
        settle_secs,
        warmup_secs,
        bulk_load_secs: None,
        bulk_rows_per_sec: None,
        bulk_peak_rss_bytes: None,
        point_reads,
        misses,
        scans,
        lsm,
        disk_bytes,
        bytes_read: tally.bytes_read,
        values_checked: tally.values_checked,
        settings,
        engine_stats,
    })
}

/// alexkv's sorted bulk path, measured in a child of its own.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IngestResult {
    /// Rows ingested.
    pub rows: usize,
    /// Seconds from open to a clean close (SST written, ingested, index built, snapshot
    /// written).
    pub secs: f64,
    /// Rows per second.
    pub rows_per_sec: f64,
}

/// The child side of [`INGEST_CHILD`]: every row, sorted, into a fresh alexkv database through
/// `Db::ingest_sorted`, timed from open to close.
pub fn run_ingest(c: &VsConfig) -> Result<IngestResult, String> {
    let dir = c.dir.join(INGEST_CHILD);
    let _ = std::fs::remove_dir_all(&dir);
    let keys = run_keys(c)?;
    let opts = super::systems::alexkv_options(
        c.memory_budget,
        c.sync,
        c.key_shape().key_len(),
        c.value_size,
    );
    let e = |e: crate::Error| e.to_string();
    let start = Instant::now();
    let db = crate::Db::open(&dir, opts).map_err(e)?;
    let mut v = Vec::with_capacity(c.value_size);
    match &keys {
        RunKeys::U64(keys) => db.ingest_sorted(keys.iter().map(|&k| {
            value_for(k, c.value_size, &mut v);
            (k, v.clone())
        })),
        RunKeys::Bytes { present, .. } => db.ingest_sorted(present.iter().map(|k| {
            value_for(key_seed(k), c.value_size, &mut v);
            (k, v.clone())
        })),
    }
    .map_err(e)?;
    db.close().map_err(e)?;
    let secs = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(IngestResult {
        rows: c.rows,
        secs,
        rows_per_sec: c.rows as f64 / secs.max(1e-9),
    })
}
