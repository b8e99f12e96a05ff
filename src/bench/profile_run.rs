//! `profile_10m_queries`: where a point read's time goes, from the engine's own sampled read
//! instrumentation (`Db::read_profile`, see `db/profile.rs`).
//!
//! Builds a database of `rows` rows through the batched write path (or reuses one with `--db`),
//! closes it and times the reopen (unless `keep_open`), warms up, resets the profile, runs
//! `queries` point reads (random order over the keys, or in key order with `sequential`), and
//! reports each stage in ns per read and percent, with how each tier served the reads and the
//! number of samples (the statistics are taken here). Then the same queries run once more
//! through `benchmark_vs_sqlite`'s point-read loop, whose mean it reports beside its own: the two
//! programs' figures differ by that loop and by the database's state (reopened from a snapshot
//! here, read after its load there; `keep_open` reads it so). `keep_open` on a database that
//! already has rows is refused (there is no loading handle to keep).

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::byte_keys::KeySet;
use super::keys::{generate_keys, query_sequence, shuffled, KeyDist};
use super::systems::{alexkv_options, Session};
use super::values::value_for;
use super::vs_sqlite::{time_point_reads, Tally};
use crate::{Db, ReadProfile, WriteBatch};

/// What to run.
#[derive(Clone, Debug, Serialize)]
pub struct ProfileConfig {
    /// Rows to load (ignored when reusing a database that has rows).
    pub rows: usize,
    /// Point reads to profile.
    pub queries: usize,
    /// `random` (uniform over the keys) or `sequential` (key order).
    pub query_order: String,
    /// Value size in bytes.
    pub value_size: usize,
    /// Cache memory, in bytes (split as `benchmark_vs_sqlite` splits it).
    pub memory_budget: u64,
    /// Database directory.
    pub db: PathBuf,
    /// Seed.
    pub seed: u64,
    /// Read through the handle that loaded the rows (an insert-built index) instead of
    /// reopening; only when this run loads them.
    #[serde(default)]
    pub keep_open: bool,
}

/// What came out.
#[derive(Clone, Debug, Serialize)]
pub struct ProfileReport {
    /// The configuration.
    pub config: ProfileConfig,
    /// Rows in the database.
    pub rows: u64,
    /// Seconds to load (None when reused).
    pub load_secs: Option<f64>,
    /// Seconds to reopen the cleanly closed database until it serves reads (`None`: read
    /// through the handle that loaded it, `keep_open`).
    pub reopen_secs: Option<f64>,
    /// Whether the reopen loaded the index snapshot (else it scanned RocksDB).
    pub index_from_snapshot: bool,
    /// Mean ns per read over all queries (batch-timed, not sampled).
    pub read_mean_ns: f64,
    /// Mean ns per read of the same queries run next through `benchmark_vs_sqlite`'s point-read
    /// loop (its batch-timed mean: 1 read in 16 timed alone and left out, 1 value in 64 checked).
    pub comparison_loop_mean_ns: f64,
    /// The sampled breakdown.
    pub profile: ReadProfile,
    /// The engine's statistics after the run.
    pub stats: serde_json::Value,
}

/// Runs the profile.
pub fn run(c: ProfileConfig) -> Result<ProfileReport, String> {
    // `ALEXKV_*` variables apply on top, as in the comparison's alexkv child.
    let base = alexkv_options(c.memory_budget, false, 8, c.value_size)
        .with_env_overrides()
        .map_err(|e| e.to_string())?;
    let opts = || base.clone();
    let mut load_secs = None;
    let existing = Db::open(&c.db, opts().create_if_missing(true)).map_err(|e| e.to_string())?;
    if existing.is_empty() {
        let keys = generate_keys(KeyDist::Random, c.rows, c.seed);
        let order = shuffled(&keys, c.seed ^ 0x10AD);
        let start = Instant::now();
        let mut v = Vec::with_capacity(c.value_size);
        for chunk in order.chunks(10_000) {
            let mut batch = WriteBatch::with_capacity(chunk.len(), chunk.len() * c.value_size);
            for &k in chunk {
                value_for(k, c.value_size, &mut v);
                batch.put(k, &v);
            }
            existing.write(batch).map_err(|e| e.to_string())?;
        }
        existing.flush().map_err(|e| e.to_string())?;
        load_secs = Some(start.elapsed().as_secs_f64());
    }
    if c.keep_open && load_secs.is_none() {
        return Err(format!(
            "--keep-open reads through the handle that loads the rows, but {} already has rows",
            c.db.display()
        ));
    }
    let (db, reopen_secs) = if c.keep_open {
        (existing, None)
    } else {
        drop(existing);
        let start = Instant::now();
        let db = Db::open(&c.db, opts()).map_err(|e| e.to_string())?;
        (db, Some(start.elapsed().as_secs_f64()))
    };
    let index_from_snapshot = db.stats().open.index_from_snapshot;
    let rows = db.len();
    let keys: Vec<u64> = db.keys().map_err(|e| e.to_string())?;
    if keys.is_empty() {
        return Err("the database is empty".into());
    }
    let queries = if c.query_order == "sequential" {
        keys.iter().copied().cycle().take(c.queries).collect()
    } else {
        query_sequence(&keys, c.queries, c.seed ^ 0x9E37)
    };
    let mut bytes = 0usize;
    for &k in query_sequence(&keys, c.queries / 10 + 1, c.seed ^ 0x3A3A).iter() {
        db.get_with(k, |v| bytes += v.len())
            .map_err(|e| e.to_string())?;
    }
    db.reset_read_profile();
    let start = Instant::now();
    for &k in &queries {
        if db
            .get_with(k, |v| bytes += v.len())
            .map_err(|e| e.to_string())?
            .is_none()
        {
            return Err(format!("key {k} is missing"));
        }
    }
    let read_mean_ns = start.elapsed().as_nanos() as f64 / queries.len().max(1) as f64;
    std::hint::black_box(bytes);
    let profile = db.read_profile();
    let stats = serde_json::to_value(db.stats()).unwrap_or_default();
    // The same queries through the comparison's loop (`benchmark_vs_sqlite`), to tell a
    // difference between the two programs' figures that comes from the loop around the read
    // from one that comes from the database's state.
    let mut tally = Tally::default();
    let queries = KeySet::from_u64s(queries);
    let harness = time_point_reads(
        &mut Session::Alexkv(&db),
        &queries,
        c.value_size,
        &mut tally,
    );
    tally.check()?;
    if tally.bad > 0 {
        return Err(format!(
            "{} reads of the comparison's loop were wrong",
            tally.bad
        ));
    }
    Ok(ProfileReport {
        config: c,
        rows,
        load_secs,
        reopen_secs,
        index_from_snapshot,
        read_mean_ns,
        comparison_loop_mean_ns: harness.mean_ns_per_op,
        profile,
        stats,
    })
}

/// The report as text.
pub fn render(r: &ProfileReport) -> String {
    use super::report::{fmt_ns, Table};
    let p = &r.profile;
    let mut out = format!(
        "{} rows, {} queries ({} order), {}-byte values; {}; read mean {} (all queries, batch-timed)\n",
        r.rows,
        r.config.queries,
        r.config.query_order,
        r.config.value_size,
        match r.reopen_secs {
            Some(secs) => format!(
                "reopen {secs:.2} s ({})",
                if r.index_from_snapshot { "index snapshot" } else { "key scan" }
            ),
            None => "read through the handle that loaded it (no reopen)".to_string(),
        },
        fmt_ns(r.read_mean_ns)
    );
    out.push_str(&format!(
        "the same queries through benchmark_vs_sqlite's point-read loop: {} per read (its batch-timed mean)\n",
        fmt_ns(r.comparison_loop_mean_ns)
    ));
    out.push_str(&format!(
        "sampled: {} reads (1 in {} per thread), clock read {:.1} ns subtracted per lap; \
         sampled total {} the batch-timed mean by {:+.1}%\n\n",
        p.samples,
        p.sample_every,
        p.timer_ns,
        if p.total_ns >= r.read_mean_ns {
            "exceeds"
        } else {
            "is below"
        },
        if r.read_mean_ns > 0.0 {
            100.0 * (p.total_ns / r.read_mean_ns - 1.0)
        } else {
            0.0
        },
    ));
    out.push_str(
        "stages: index lookup = in-flight mark + index lock + learned-index search; hot tier read = \
         validated copy of the record; value cache / RocksDB get = their lookups (RocksDB's includes \
         the cache fill); overhead = the rest (API entry, counters, the caller's closure)\n",
    );
    let pct = |x: f64| {
        if p.total_ns > 0.0 {
            format!("{:.1}%", 100.0 * x / p.total_ns)
        } else {
            "-".into()
        }
    };
    let mut t = Table::new(["stage", "ns/read", "share", "reads that used it"]);
    let rows = [
        ("index lookup", p.index_ns, 1.0),
        ("hot tier read", p.hot_tier_ns, p.hot_tier_lookups),
        ("value cache", p.value_cache_ns, p.value_cache_lookups),
        ("RocksDB get", p.rocksdb_ns, p.rocksdb_reads),
        ("overhead", p.other_ns, 1.0),
    ];
    for (name, ns, used) in rows {
        t.row([
            name.to_string(),
            fmt_ns(ns),
            pct(ns),
            format!("{:.1}%", 100.0 * used),
        ]);
    }
    t.row([
        "total".to_string(),
        fmt_ns(p.total_ns),
        "100%".to_string(),
        String::new(),
    ]);
    out.push_str(&t.render());
    out.push_str(&format!(
        "\nserved by: hot tier {:.1}%, value cache {:.1}%, RocksDB {:.1}%, absent {:.1}%\n",
        100.0 * p.served_hot_tier,
        100.0 * p.served_value_cache,
        100.0 * p.served_rocksdb,
        100.0 * p.served_absent
    ));
    let mib = |path: &[&str]| {
        let v = path.iter().fold(&r.stats, |v, k| &v[*k]);
        v.as_u64().map_or_else(
            || "?".to_string(),
            |b| format!("{:.0} MiB", b as f64 / 1048576.0),
        )
    };
    out.push_str(&format!(
        "huge pages: index {} of {}, hot tier {} of {} in use\n",
        mib(&["index", "huge_page_bytes"]),
        mib(&["index", "bytes"]),
        mib(&["hot_tier", "huge_page_bytes"]),
        mib(&["hot_tier", "bytes"]),
    ));
    out
}
