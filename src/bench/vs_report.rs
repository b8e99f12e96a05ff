//! `benchmark_vs_sqlite`'s parent side: runs every system's child (`vs_sqlite` holds what a
//! child does), computes the ratios of the others to alexkv and renders the report.

use serde::Serialize;

use super::byte_keys::KeyKind;
use super::keys::KeyDist;
use super::machine::Machine;
use super::systems::SystemKind;
use super::vs_sqlite::{data_bytes, IngestResult, SystemResult, VsConfig, INGEST_CHILD, SCAN_LEN};

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

/// Everything one run of `benchmark_vs_sqlite` produced.
#[derive(Clone, Debug, Serialize)]
pub struct VsReport {
    /// The configuration every system ran.
    pub config: VsConfig,
    /// The machine.
    pub machine: Machine,
    /// Seconds since the Unix epoch when the run ended.
    pub unix_time: u64,
    /// Bytes of the loaded data as stored: rows x (mean key length + value).
    pub data_bytes: u64,
    /// `memory_budget / data_bytes`: at 1 or more the budget holds the data; at 0.25 (the
    /// second regime of BENCHMARKING.md) most values must come from the files.
    pub budget_over_data: f64,
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
        let mut m = Measured {
            result: out.result,
            peak_rss_bytes: out.peak_rss_bytes,
            child_wall_secs: out.wall_secs,
        };
        if kind == SystemKind::Alexkv && !config.alexkv_tiers_off {
            eprintln!("benchmark_vs_sqlite: running alexkv's sorted bulk load (SST ingestion) ...");
            let bulk = super::child::run_system::<VsConfig, IngestResult>(INGEST_CHILD, &config)?;
            m.result.bulk_load_secs = Some(bulk.result.secs);
            m.result.bulk_rows_per_sec = Some(bulk.result.rows_per_sec);
            m.result.bulk_peak_rss_bytes = bulk.peak_rss_bytes;
        }
        measured.push(m);
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
    let data_bytes = data_bytes(config.rows, config.mean_key_len, config.value_size);
    Ok(VsReport {
        data_bytes,
        budget_over_data: config.memory_budget as f64 / data_bytes.max(1) as f64,
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
    let keys = match c.key_kind {
        KeyKind::U64 => format!("{} u64 keys (8 bytes)", c.dist),
        kind => format!(
            "{kind} keys (mean {:.1} bytes, loaded in {} order)",
            c.mean_key_len,
            match c.dist {
                KeyDist::Sequential => "key",
                _ => "random",
            }
        ),
    };
    let mut out =
        format!(
        "{} rows, {keys}, {}-byte values ({} of data), memory budget {} ({:.2}x the data), {}\n\
         settled (RocksDB: flush, full compaction, no compaction pending or running; SQLite: WAL \
         checkpoint) and warmed (every key read once)\n\
         per round: {} point reads, {} misses, {} scans of {}; figures are the median of {} \
         rounds\n\n",
        c.rows,
        c.value_size,
        fmt_bytes(report.data_bytes),
        fmt_bytes(c.memory_budget),
        report.budget_over_data,
        if c.sync { "fsync per commit" } else { "WAL, no fsync" },
        c.queries,
        c.misses,
        c.scans,
        SCAN_LEN,
        c.rounds,
    );
    if let Some(r) = report.systems.iter().find(|m| m.result.system == "rocksdb") {
        let st = &r.result.settings;
        out.push_str(&format!(
            "plain RocksDB: optimize_for_point_lookup recipe, block cache {} MiB, row cache {}\n\n",
            st["block_cache_mib"],
            match st["row_cache_bytes"].as_u64() {
                Some(b) if b > 0 => fmt_bytes(b),
                _ => "off".to_string(),
            }
        ));
    }
    if let Some(schema) = report
        .systems
        .iter()
        .find(|m| m.result.system == "sqlite")
        .and_then(|m| m.result.settings["schema"].as_str())
    {
        out.push_str(&format!("SQLite table: {schema}\n\n"));
    }
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
                "{} sorted bulk load (SST ingestion, own process): {:.2} s, {}, peak RSS {}\n",
                m.result.system,
                secs,
                fmt_rate(rate),
                fmt_opt_bytes(m.result.bulk_peak_rss_bytes),
            ));
        }
    }
    out.push('\n');
    out.push_str(&render_steady_state(report));
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

/// Settle and warm-up times, every round's point-read mean, and the LSM evidence.
fn render_steady_state(report: &VsReport) -> String {
    use super::report::{fmt_bytes, fmt_ns, Table};
    let dash = || "-".to_string();
    let pct = |x: Option<f64>| x.map_or_else(dash, |v| format!("{:.1}%", v * 100.0));
    let mut t = Table::new([
        "system",
        "settle",
        "warm-up",
        "read rounds",
        "files per level",
        "block cache",
        "table readers",
        "cache hits",
        "data hits",
        "blocks read/get",
    ]);
    for m in &report.systems {
        let r = &m.result;
        let rounds = r.point_reads.as_ref().map_or_else(dash, |p| {
            p.rounds_ns
                .iter()
                .map(|&ns| fmt_ns(ns))
                .collect::<Vec<_>>()
                .join(" / ")
        });
        let lsm = r.lsm.as_ref();
        let opt_bytes = |b: Option<u64>| b.map_or_else(dash, fmt_bytes);
        t.row([
            r.system.clone(),
            format!("{:.2} s", r.settle_secs),
            r.warmup_secs.map_or_else(dash, |s| format!("{s:.2} s")),
            rounds,
            lsm.map_or_else(dash, |l| format!("{:?}", l.files_per_level)),
            lsm.map_or_else(dash, |l| opt_bytes(l.block_cache_capacity_bytes)),
            lsm.map_or_else(dash, |l| opt_bytes(l.table_readers_bytes)),
            pct(lsm.and_then(|l| l.block_cache_hit_ratio)),
            pct(lsm.and_then(|l| l.data_block_hit_ratio)),
            lsm.and_then(|l| l.block_cache_counts)
                .filter(|c| c.reads > 0)
                .map_or_else(dash, |c| format!("{:.3}", c.misses as f64 / c.reads as f64)),
        ]);
    }
    let mut out = t.render();
    out.push_str(
        "(cache hits: RocksDB block-cache hit ratio over an untimed pass of the point reads; \
         '-' where no read reached RocksDB's block cache)\n",
    );
    out
}
