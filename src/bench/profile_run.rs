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
//!
//! Keys ([`ProfileConfig::key_kind`]) are those `benchmark_vs_sqlite --key-kind` loads
//! ([`RunKeys`] with `random`: the same keys, load order and values): `u64` by default, as
//! always, or a byte kind (`ycsb`, `composite`, `url`, `random16`). The reads go to the keys the
//! database holds: for `u64` read back from its index, as they always were (a database of other
//! keys is refused); for a byte kind the loaded keys, or on a reused database its own keys, read
//! back from its index as byte strings. The default budget is 3x the data, key bytes included
//! for byte kinds (`u64`: 3x rows x value size, as before).

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::byte_keys::{KeyKind, KeySet};
use super::keys::{query_positions, KeyDist};
use super::systems::{alexkv_options, Session};
use super::values::{key_seed, value_for};
use super::vs_keys::RunKeys;
use super::vs_sqlite::{time_point_reads, Tally};
use crate::{Db, Error, Key, ReadProfile, WriteBatch};

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
    /// Cache memory, in bytes (split as `benchmark_vs_sqlite` splits it); `None`: 3x the data
    /// (rows x (value size + mean key length), the key length counted for byte kinds only, as
    /// `benchmark_vs_sqlite` counts it), at least 64 MiB. [`ProfileReport::memory_budget`] is
    /// the budget used.
    pub memory_budget: Option<u64>,
    /// The keys loaded and read: `u64` (the default) or a byte kind.
    #[serde(default)]
    pub key_kind: KeyKind,
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
    /// Mean length of the database's keys in bytes (8 for `u64` keys).
    pub mean_key_len: f64,
    /// The cache memory used, in bytes.
    pub memory_budget: u64,
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

/// The database's keys, sorted.
enum DbKeys {
    /// `u64` keys.
    U64(Vec<u64>),
    /// Byte-string keys.
    Bytes(KeySet),
}

impl DbKeys {
    fn len(&self) -> usize {
        match self {
            DbKeys::U64(keys) => keys.len(),
            DbKeys::Bytes(keys) => keys.len(),
        }
    }

    fn mean_len(&self) -> f64 {
        match self {
            DbKeys::U64(_) => 8.0,
            DbKeys::Bytes(keys) => keys.mean_len(),
        }
    }

    /// The keys at `positions`, in that order, as a query list.
    fn queries(&self, positions: impl Iterator<Item = usize>) -> DbKeys {
        match self {
            DbKeys::U64(keys) => DbKeys::U64(positions.map(|i| keys[i]).collect()),
            DbKeys::Bytes(keys) => DbKeys::Bytes(keys.gather(positions)),
        }
    }

    /// Key `i` for an error message.
    fn describe(&self, i: usize) -> String {
        match self {
            DbKeys::U64(keys) => keys[i].to_string(),
            DbKeys::Bytes(keys) => format!("\"{}\"", keys.get(i).escape_ascii()),
        }
    }
}

/// Reads every key of `queries` in order, the clock around the whole loop; the mean ns per
/// read. A missing key is an error.
fn time_reads(db: &Db, queries: &DbKeys, bytes: &mut usize) -> Result<f64, String> {
    /// The loop for one key type, key `i` being `key_at(i)`: `u64` keys are handed to the
    /// engine as `u64`s, as the profile always handed them.
    fn reads<K: Key>(
        db: &Db,
        n: usize,
        key_at: impl Fn(usize) -> K,
        bytes: &mut usize,
    ) -> Result<Option<usize>, Error> {
        for i in 0..n {
            if db.get_with(key_at(i), |v| *bytes += v.len())?.is_none() {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }
    let n = queries.len();
    let start = Instant::now();
    let missing = match queries {
        DbKeys::U64(keys) => reads(db, n, |i| keys[i], bytes),
        DbKeys::Bytes(keys) => reads(db, n, |i| keys.get(i), bytes),
    }
    .map_err(|e| e.to_string())?;
    let mean_ns = start.elapsed().as_nanos() as f64 / n.max(1) as f64;
    match missing {
        Some(i) => Err(format!("key {} is missing", queries.describe(i))),
        None => Ok(mean_ns),
    }
}

/// Loads `keys` in their load order (`benchmark_vs_sqlite`'s for `random`), values from
/// [`key_seed`], batches of 10,000 rows, then flushes.
fn load(db: &Db, keys: &RunKeys, c: &ProfileConfig) -> Result<(), String> {
    let order = keys.load_order(KeyDist::Random, c.seed ^ 0x10AD);
    let mut v = Vec::with_capacity(c.value_size);
    for start in (0..order.len()).step_by(10_000) {
        let end = (start + 10_000).min(order.len());
        let mut batch = WriteBatch::with_capacity(end - start, (end - start) * c.value_size);
        for i in start..end {
            let k = order.get(i);
            value_for(key_seed(k), c.value_size, &mut v);
            batch.put(k, &v);
        }
        db.write(batch).map_err(|e| e.to_string())?;
    }
    db.flush().map_err(|e| e.to_string())
}

/// The default budget: 3x the data (key bytes counted for byte kinds), at least 64 MiB.
fn default_budget(c: &ProfileConfig, mean_key_len: f64) -> u64 {
    let per_row = match c.key_kind {
        KeyKind::U64 => c.value_size as f64,
        _ => mean_key_len + c.value_size as f64,
    };
    ((3.0 * c.rows as f64 * per_row).round() as u64).max(64 << 20)
}

/// Runs the profile.
pub fn run(c: ProfileConfig) -> Result<ProfileReport, String> {
    // A byte kind's keys are generated first: the default budget counts their bytes. `u64`
    // keys only when the database turns out empty.
    let mut planned = match c.key_kind {
        KeyKind::U64 => None,
        kind => Some(RunKeys::generate(kind, KeyDist::Random, c.rows, 0, c.seed)?),
    };
    let mean_key_len = planned.as_ref().map_or(8.0, RunKeys::mean_len);
    let memory_budget = c
        .memory_budget
        .unwrap_or_else(|| default_budget(&c, mean_key_len));
    // `ALEXKV_*` variables apply on top, as in the comparison's alexkv child.
    let base = alexkv_options(
        memory_budget,
        false,
        mean_key_len.ceil() as usize,
        c.value_size,
    )
    .with_env_overrides()
    .map_err(|e| e.to_string())?;
    let opts = || base.clone();
    let mut load_secs = None;
    // Byte keys just loaded: the database's keys, sorted.
    let mut loaded = None;
    let existing = Db::open(&c.db, opts().create_if_missing(true)).map_err(|e| e.to_string())?;
    if existing.is_empty() {
        let keys = match planned.take() {
            Some(keys) => keys,
            None => RunKeys::generate(c.key_kind, KeyDist::Random, c.rows, 0, c.seed)?,
        };
        let start = Instant::now();
        load(&existing, &keys, &c)?;
        load_secs = Some(start.elapsed().as_secs_f64());
        if let RunKeys::Bytes { present, .. } = keys {
            loaded = Some(present);
        }
    }
    drop(planned);
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
    let keys = match (loaded, c.key_kind) {
        (Some(keys), _) => DbKeys::Bytes(keys),
        (None, KeyKind::U64) => DbKeys::U64(db.keys::<u64>().map_err(|e| match e {
            Error::KeyNotU64 { .. } => format!(
                "{} holds keys that are not u64 keys (8 bytes); give the --key-kind it was \
                 loaded with",
                c.db.display()
            ),
            e => e.to_string(),
        })?),
        (None, _) => {
            let mut set = KeySet::default();
            for k in db.keys::<Vec<u8>>().map_err(|e| e.to_string())? {
                set.push(&k);
            }
            DbKeys::Bytes(set)
        }
    };
    if keys.len() == 0 {
        return Err("the database is empty".into());
    }
    let queries = if c.query_order == "sequential" {
        keys.queries((0..keys.len()).cycle().take(c.queries))
    } else {
        keys.queries(query_positions(keys.len(), c.queries, c.seed ^ 0x9E37))
    };
    let mut bytes = 0usize;
    let warm = keys.queries(query_positions(
        keys.len(),
        c.queries / 10 + 1,
        c.seed ^ 0x3A3A,
    ));
    time_reads(&db, &warm, &mut bytes)?;
    drop(warm);
    let mean_key_len = keys.mean_len();
    drop(keys);
    db.reset_read_profile();
    let read_mean_ns = time_reads(&db, &queries, &mut bytes)?;
    std::hint::black_box(bytes);
    let profile = db.read_profile();
    let stats = serde_json::to_value(db.stats()).unwrap_or_default();
    // The same queries through the comparison's loop (`benchmark_vs_sqlite`), to tell a
    // difference between the two programs' figures that comes from the loop around the read
    // from one that comes from the database's state.
    let mut tally = Tally::default();
    let queries = match queries {
        DbKeys::U64(keys) => KeySet::from_u64s(keys),
        DbKeys::Bytes(keys) => keys,
    };
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
        mean_key_len,
        memory_budget,
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
        "{} rows of {} keys (mean {:.1} bytes), {} queries ({} order), {}-byte values; {}; read mean {} (all queries, batch-timed)\n",
        r.rows,
        r.config.key_kind,
        r.mean_key_len,
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
         the record's checks and its copy (or, for get_with, the pin that lends it in place); value \
         cache / RocksDB get = their lookups (RocksDB's includes the cache fill); overhead = the \
         rest (API entry, counters, the caller's closure)\n",
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
