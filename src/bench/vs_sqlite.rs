//! `benchmark_vs_sqlite`: alexkv, plain RocksDB and SQLite on the same keys, values and query
//! order, each system in its own child process (so its peak RSS is its own).
//!
//! Phases per system (in the child): load every row through the system's natural batched write
//! path (batches of [`LOAD_BATCH_ROWS`]); settle (RocksDB flush / SQLite WAL checkpoint); for
//! alexkv also the sorted bulk path into a second directory; then, unless `inserts_only`: a
//! warm-up of `queries / 10` reads, `queries` point reads of present keys, `misses` reads of absent
//! keys, and `scans` scans of [`SCAN_LEN`] keys from random present starts. Point reads are timed
//! in batches for the mean and throughput, one in [`SAMPLE_EVERY`] individually for percentiles
//! (see `histogram::time_ops`). Every value read is counted, and one in [`CHECK_EVERY`] is checked
//! against the value derived from its key; a wrong value fails the run.

use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::histogram::{time_ops, LatencySummary, TimingConfig};
use super::keys::{generate_keys, miss_keys, query_sequence, shuffled, KeyDist};
use super::memory::dir_size_bytes;
use super::systems::{System, SystemKind};
use super::values::{check_value, value_for};

/// Rows per write batch / transaction while loading.
pub const LOAD_BATCH_ROWS: usize = 10_000;
/// Keys per scan.
pub const SCAN_LEN: usize = 100;
/// One point read in this many is timed individually (for percentiles).
pub const SAMPLE_EVERY: u64 = 16;
/// One value in this many is checked byte for byte.
pub const CHECK_EVERY: u64 = 64;

/// What every child runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VsConfig {
    /// Rows loaded.
    pub rows: usize,
    /// Key distribution (and load order: sequential loads in key order, the others shuffled).
    pub dist: KeyDist,
    /// Point reads of present keys.
    pub queries: usize,
    /// Point reads of absent keys.
    pub misses: usize,
    /// Scans of `SCAN_LEN` keys.
    pub scans: usize,
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
    /// Seed of keys, values, order and queries.
    pub seed: u64,
    /// Working directory; each system uses its own subdirectory.
    pub dir: PathBuf,
}

/// Throughput and latency of one read phase.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PhaseResult {
    /// Operations run.
    pub ops: u64,
    /// Operations per second (batch-timed).
    pub ops_per_sec: f64,
    /// Mean ns per operation (batch-timed).
    pub mean_ns: f64,
    /// Percentiles from the individually timed sample (includes one timer read pair).
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
    /// alexkv's sorted bulk path (SST ingestion), seconds and rows/s.
    pub bulk_load_secs: Option<f64>,
    /// Rows per second of the bulk path.
    pub bulk_rows_per_sec: Option<f64>,
    /// Point reads of present keys.
    pub point_reads: Option<PhaseResult>,
    /// Point reads of absent keys.
    pub misses: Option<PhaseResult>,
    /// Scans of `SCAN_LEN` keys (one op = one scan).
    pub scans: Option<PhaseResult>,
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

fn phase(t: super::histogram::Timing) -> PhaseResult {
    PhaseResult {
        ops: t.ops,
        ops_per_sec: t.ops_per_sec,
        mean_ns: t.mean_ns_per_op,
        latency: t.latency,
    }
}

/// Runs every phase for `kind` in this process (the child side).
pub fn run_system_phases(kind: SystemKind, c: &VsConfig) -> Result<SystemResult, String> {
    let dir = c.dir.join(kind.name());
    let _ = std::fs::remove_dir_all(&dir);
    let keys = generate_keys(c.dist, c.rows, c.seed);
    let load_order = match c.dist {
        KeyDist::Sequential => keys.clone(),
        _ => shuffled(&keys, c.seed ^ 0x10AD),
    };
    let mut system = System::open_with(
        kind,
        &dir,
        c.memory_budget,
        c.sync,
        c.value_size,
        !c.alexkv_tiers_off,
    )?;
    let bar = progress(c.rows, kind.name());
    let start = Instant::now();
    let mut rows: Vec<(u64, Vec<u8>)> = Vec::with_capacity(LOAD_BATCH_ROWS);
    for chunk in load_order.chunks(LOAD_BATCH_ROWS) {
        rows.clear();
        for &k in chunk {
            let mut v = Vec::with_capacity(c.value_size);
            value_for(k, c.value_size, &mut v);
            rows.push((k, v));
        }
        system.write_rows(&rows)?;
        bar.inc(chunk.len() as u64);
    }
    let load_secs = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    drop(load_order);
    system.settle()?;

    let (mut bulk_load_secs, mut bulk_rows_per_sec) = (None, None);
    if kind == SystemKind::Alexkv && !c.alexkv_tiers_off {
        let bulk_dir = c.dir.join("alexkv-bulk");
        let _ = std::fs::remove_dir_all(&bulk_dir);
        let opts = super::systems::alexkv_options(c.memory_budget, c.sync, c.value_size);
        let start = Instant::now();
        {
            let db = crate::Db::open(&bulk_dir, opts).map_err(|e| e.to_string())?;
            let mut v = Vec::with_capacity(c.value_size);
            db.ingest_sorted(keys.iter().map(|&k| {
                value_for(k, c.value_size, &mut v);
                (k, v.clone())
            }))
            .map_err(|e| e.to_string())?;
        }
        let secs = start.elapsed().as_secs_f64();
        bulk_load_secs = Some(secs);
        bulk_rows_per_sec = Some(c.rows as f64 / secs);
        let _ = std::fs::remove_dir_all(&bulk_dir);
    }

    let mut bytes_read = 0u64;
    let mut values_checked = 0u64;
    let mut bad = 0u64;
    let (mut point_reads, mut misses, mut scans) = (None, None, None);
    if !c.inserts_only && c.rows > 0 {
        let cfg = TimingConfig {
            batch_size: 10_000,
            sample_every: SAMPLE_EVERY,
        };
        let warm = query_sequence(&keys, (c.queries / 10).max(1), c.seed ^ 0x3A3A);
        for &k in &warm {
            system.get_with(k, &mut |v| bytes_read += v.len() as u64)?;
        }
        let queries = query_sequence(&keys, c.queries, c.seed ^ 0x9E37);
        let mut error = None;
        let vs = c.value_size;
        let t = time_ops(queries.len() as u64, cfg, |i| {
            let k = queries[i as usize];
            let check = i % CHECK_EVERY == 0;
            let r = system.get_with(k, &mut |v| {
                bytes_read += v.len() as u64;
                if check {
                    values_checked += 1;
                    if !check_value(k, v, vs) {
                        bad += 1;
                    }
                }
            });
            match r {
                Ok(true) => {}
                Ok(false) => bad += 1,
                Err(e) => error = Some(e),
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        point_reads = Some(phase(t));

        let absent = miss_keys(&keys, c.misses, c.seed ^ 0x4D15);
        let t = time_ops(absent.len() as u64, cfg, |i| {
            match system.get_with(absent[i as usize], &mut |v| bytes_read += v.len() as u64) {
                Ok(false) => {}
                Ok(true) => bad += 1,
                Err(e) => error = Some(e),
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        misses = Some(phase(t));

        let starts = query_sequence(&keys, c.scans, c.seed ^ 0x5CA7);
        let scan_cfg = TimingConfig {
            batch_size: 100,
            sample_every: 4,
        };
        let t = time_ops(starts.len() as u64, scan_cfg, |i| {
            let mut seen = 0usize;
            let r = system.scan(starts[i as usize], SCAN_LEN, &mut |k, v| {
                bytes_read += v.len() as u64;
                if seen == 0 && !check_value(k, v, vs) {
                    bad += 1;
                }
                seen += 1;
            });
            if let Err(e) = r {
                error = Some(e);
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        scans = Some(phase(t));
    }
    if bad > 0 {
        return Err(format!(
            "{}: {bad} reads returned a wrong or missing value",
            kind.name()
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
        bulk_load_secs,
        bulk_rows_per_sec,
        point_reads,
        misses,
        scans,
        disk_bytes,
        bytes_read,
        values_checked,
        settings,
        engine_stats,
    })
}

/// A system's result with what the parent measured of its child process.
#[derive(Clone, Debug, Serialize)]
pub struct Measured {
    /// The child's figures.
    #[serde(flatten)]
    pub result: SystemResult,
    /// Peak resident memory of the child process.
    pub peak_rss_bytes: Option<u64>,
    /// Wall time of the whole child.
    pub child_wall_secs: f64,
}

/// Ratios `other / alexkv` (greater than 1: alexkv is faster or smaller).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Ratios {
    /// Point read mean latency.
    pub point_read_mean: Option<f64>,
    /// Point read p99.
    pub point_read_p99: Option<f64>,
    /// Miss mean latency.
    pub miss_mean: Option<f64>,
    /// Scan mean latency.
    pub scan_mean: Option<f64>,
    /// Load time (batched path).
    pub load_time: Option<f64>,
    /// Peak RSS.
    pub peak_rss: Option<f64>,
    /// Bytes on disk.
    pub disk_bytes: Option<f64>,
}

/// The machine a run was made on.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cores: usize,
    /// Physical memory in bytes (from /proc/meminfo).
    pub memory_bytes: Option<u64>,
    /// CPU model name (from /proc/cpuinfo).
    pub cpu: Option<String>,
}

impl Machine {
    /// Reads the current machine.
    pub fn current() -> Machine {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_bytes = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024);
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string());
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes,
            cpu,
        }
    }
}

/// Everything one run of `benchmark_vs_sqlite` produced.
#[derive(Clone, Debug, Serialize)]
pub struct VsReport {
    /// The configuration every system ran.
    pub config: VsConfig,
    /// The machine.
    pub machine: Machine,
    /// Seconds since the Unix epoch when the run ended.
    pub unix_time: u64,
    /// One entry per system, in order.
    pub systems: Vec<Measured>,
    /// SQLite mean point-read latency / alexkv's.
    pub point_read_speedup_vs_sqlite: Option<f64>,
    /// Plain RocksDB mean point-read latency / alexkv's.
    pub point_read_speedup_vs_rocksdb: Option<f64>,
    /// Every ratio against SQLite.
    pub sqlite_over_alexkv: Ratios,
    /// Every ratio against plain RocksDB.
    pub rocksdb_over_alexkv: Ratios,
}

fn ratio(other: Option<f64>, ours: Option<f64>) -> Option<f64> {
    match (other, ours) {
        (Some(o), Some(a)) if a > 0.0 => Some(o / a),
        _ => None,
    }
}

fn ratios(other: &Measured, alex: &Measured) -> Ratios {
    let pr = |m: &Measured| m.result.point_reads.as_ref().map(|p| p.mean_ns);
    let p99 = |m: &Measured| m.result.point_reads.as_ref().map(|p| p.latency.p99 as f64);
    let miss = |m: &Measured| m.result.misses.as_ref().map(|p| p.mean_ns);
    let scan = |m: &Measured| m.result.scans.as_ref().map(|p| p.mean_ns);
    Ratios {
        point_read_mean: ratio(pr(other), pr(alex)),
        point_read_p99: ratio(p99(other), p99(alex)),
        miss_mean: ratio(miss(other), miss(alex)),
        scan_mean: ratio(scan(other), scan(alex)),
        load_time: ratio(Some(other.result.load_secs), Some(alex.result.load_secs)),
        peak_rss: ratio(
            other.peak_rss_bytes.map(|b| b as f64),
            alex.peak_rss_bytes.map(|b| b as f64),
        ),
        disk_bytes: ratio(
            Some(other.result.disk_bytes as f64),
            Some(alex.result.disk_bytes as f64),
        ),
    }
}

/// Runs each system in a child process and assembles the report (the parent side).
pub fn run(config: VsConfig, systems: &[SystemKind]) -> Result<VsReport, String> {
    let mut measured = Vec::new();
    for &kind in systems {
        eprintln!("benchmark_vs_sqlite: running {} ...", kind.name());
        let out = super::child::run_system::<VsConfig, SystemResult>(kind.name(), &config)?;
        measured.push(Measured {
            result: out.result,
            peak_rss_bytes: out.peak_rss_bytes,
            child_wall_secs: out.wall_secs,
        });
    }
    let find = |name: &str| measured.iter().find(|m| m.result.system == name);
    let (alex, rocks, sqlite) = (find("alexkv"), find("rocksdb"), find("sqlite"));
    let empty = Ratios::default();
    let sqlite_over_alexkv = match (sqlite, alex) {
        (Some(s), Some(a)) => ratios(s, a),
        _ => empty.clone(),
    };
    let rocksdb_over_alexkv = match (rocks, alex) {
        (Some(r), Some(a)) => ratios(r, a),
        _ => empty,
    };
    let unix_time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(VsReport {
        point_read_speedup_vs_sqlite: sqlite_over_alexkv.point_read_mean,
        point_read_speedup_vs_rocksdb: rocksdb_over_alexkv.point_read_mean,
        config,
        machine: Machine::current(),
        unix_time,
        systems: measured,
        sqlite_over_alexkv,
        rocksdb_over_alexkv,
    })
}

/// The report as text tables for stdout.
pub fn render(report: &VsReport) -> String {
    use super::report::{fmt_bytes, fmt_ns, fmt_opt_bytes, fmt_rate, Table};
    let c = &report.config;
    let mut out = format!(
        "{} rows, {} keys, {}-byte values, {} point reads, {} misses, {} scans of {}, memory budget {}, {}\n\n",
        c.rows,
        c.dist,
        c.value_size,
        c.queries,
        c.misses,
        c.scans,
        SCAN_LEN,
        fmt_bytes(c.memory_budget),
        if c.sync { "fsync per commit" } else { "WAL, no fsync" }
    );
    if c.alexkv_tiers_off {
        out.push_str(
            "alexkv runs without its value cache and hot tier (learned index + RocksDB)\n\n",
        );
    }
    let mut t = Table::new([
        "system",
        "load",
        "read mean",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "reads/s",
        "miss mean",
        "scan 100",
        "peak RSS",
        "disk",
    ]);
    let dash = || "-".to_string();
    for m in &report.systems {
        let r = &m.result;
        let p = r.point_reads.as_ref();
        t.row([
            r.system.clone(),
            fmt_rate(r.load_rows_per_sec),
            p.map_or_else(dash, |p| fmt_ns(p.mean_ns)),
            p.map_or_else(dash, |p| fmt_ns(p.latency.p50 as f64)),
            p.map_or_else(dash, |p| fmt_ns(p.latency.p90 as f64)),
            p.map_or_else(dash, |p| fmt_ns(p.latency.p99 as f64)),
            p.map_or_else(dash, |p| fmt_ns(p.latency.p999 as f64)),
            p.map_or_else(dash, |p| fmt_rate(p.ops_per_sec)),
            r.misses.as_ref().map_or_else(dash, |p| fmt_ns(p.mean_ns)),
            r.scans.as_ref().map_or_else(dash, |p| fmt_ns(p.mean_ns)),
            fmt_opt_bytes(m.peak_rss_bytes),
            fmt_bytes(r.disk_bytes),
        ]);
    }
    out.push_str(&t.render());
    for m in &report.systems {
        if let (Some(secs), Some(rate)) = (m.result.bulk_load_secs, m.result.bulk_rows_per_sec) {
            out.push_str(&format!(
                "{} sorted bulk load (SST ingestion): {:.2} s, {}\n",
                m.result.system,
                secs,
                fmt_rate(rate)
            ));
        }
    }
    let fmt = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |v| format!("{v:.2}x"));
    let mut r = Table::new([
        "ratio (other / alexkv)",
        "read mean",
        "read p99",
        "miss",
        "scan",
        "load time",
        "peak RSS",
        "disk",
    ]);
    for (name, x) in [
        ("sqlite / alexkv", &report.sqlite_over_alexkv),
        ("rocksdb / alexkv", &report.rocksdb_over_alexkv),
    ] {
        r.row([
            name.to_string(),
            fmt(x.point_read_mean),
            fmt(x.point_read_p99),
            fmt(x.miss_mean),
            fmt(x.scan_mean),
            fmt(x.load_time),
            fmt(x.peak_rss),
            fmt(x.disk_bytes),
        ]);
    }
    out.push('\n');
    out.push_str(&r.render());
    out
}
