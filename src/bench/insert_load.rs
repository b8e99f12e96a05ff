//! `ycsb_benchmark --mode read-under-insert`: point-read latency while another thread inserts
//! new keys at full speed, for alexkv and plain RocksDB (and SQLite if asked), each engine in its
//! own child process on the same keys.
//!
//! What it shows: whether a write stalls readers. In alexkv a reader takes the index read lock
//! for one lookup, so any time the writer holds the index write lock (an index update, a data
//! node expansion or split) is added to the latency of every read that arrives meanwhile; the
//! tail percentiles (p99.9, max) show it, the median does not.
//!
//! The keys are `u64`s: the mode measures index growth under inserts, not a key format, and
//! takes no `--key-kind` (`ycsb_benchmark` refuses one other than `u64` with it).
//!
//! Per engine (child side):
//! 1. **Keys**: `rows + rounds x inserts` distinct uniform `u64` keys from the seed, shuffled;
//!    the first `rows` are loaded, each round inserts the next `inserts`, so every insert adds a
//!    new key to the index (and grows its nodes), and no read ever misses.
//! 2. **Load** (batches of [`LOAD_BATCH_ROWS`] through the engine's batched path), **settle**
//!    (flush, compact, wait until no compaction runs), **warm up** (every loaded key read once).
//! 3. **Rounds**: one inserter thread writes the round's keys as fast as it can (single puts
//!    when `insert_batch` is 1, else batches of `insert_batch` rows through the engine's batched
//!    path, as the load does), while one reader thread reads uniformly random loaded keys,
//!    **timing every read** (one clock pair each, ~20-40 ns, included), until the inserter is
//!    done. On the 2-core machines these run on, the reader and the inserter each have a core
//!    (shared with RocksDB's background threads). One value in [`CHECK_EVERY`] is checked.
//! 4. The report keeps every round; the figures quoted are the round with the median p99.9.
//!    Beside the percentiles, each round counts the reader's context switches (`getrusage`):
//!    *waits* (it slept: a lock, I/O) and *preemptions* (its core was taken), and for alexkv the
//!    point reads it sent to RocksDB (Cold-path reads), which tell a stall caused by the index
//!    from one caused by a read's path.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::child::EngineMeasured;
use super::histogram::{LatencyHistogram, LatencySummary};
use super::keys::{generate_keys, shuffled, KeyDist};
use super::lsm::LsmEvidence;
use super::rng::Rng;
use super::systems::{OpenSpec, System, SystemKind};
use super::values::{check_value, value_for};

/// Rows per write batch in the load phase.
pub const LOAD_BATCH_ROWS: usize = 10_000;
/// One read in this many has its value checked.
pub const CHECK_EVERY: u64 = 64;
/// Prefix of the child system name that selects this mode in a benchmark binary's child.
pub const CHILD_PREFIX: &str = "read-under-insert:";

/// What every engine's child runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InsertLoadConfig {
    /// Rows loaded before the timed rounds.
    pub rows: usize,
    /// New keys inserted per round.
    pub inserts: usize,
    /// Timed rounds.
    pub rounds: usize,
    /// Rows per insert: 1 = single puts, more = batches through the batched write path.
    pub insert_batch: usize,
    /// Value size in bytes.
    pub value_size: usize,
    /// Cache memory for every engine, in bytes.
    pub memory_budget: u64,
    /// Seed of the keys and the read sequence.
    pub seed: u64,
    /// Working directory (each engine uses a subdirectory, deleted afterwards).
    pub dir: PathBuf,
}

/// One timed round.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoundResult {
    /// New keys inserted during the round.
    pub inserts: u64,
    /// Seconds the inserter ran.
    pub insert_secs: f64,
    /// Inserts per second.
    pub inserts_per_sec: f64,
    /// Latency of every read made while the inserter ran.
    pub read_latency: LatencySummary,
    /// Times the reader thread gave up its core during the round because it had to wait
    /// (a lock, I/O, a page fault on a locked mapping): the stalls a write can cause.
    #[serde(default)]
    pub reader_waits: u64,
    /// Times the reader thread was preempted (the cores are shared with the inserter and
    /// RocksDB's background threads): stalls no engine design can avoid on this machine.
    #[serde(default)]
    pub reader_preemptions: u64,
    /// alexkv only: point reads it sent to RocksDB during the round (the reader's Cold-path
    /// reads: keys demoted, or marked in flight by the write running beside them).
    #[serde(default)]
    pub alexkv_rocksdb_gets: Option<u64>,
}

/// One engine's figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EngineResult {
    /// `alexkv`, `rocksdb` or `sqlite`.
    pub engine: String,
    /// Load seconds.
    pub load_secs: f64,
    /// The LSM tree after settling.
    pub lsm: Option<LsmEvidence>,
    /// Every round, in order.
    pub rounds: Vec<RoundResult>,
    /// Index of the round with the median read p99.9 (the figures quoted).
    pub median_round: usize,
    /// Value bytes received by the reader.
    pub bytes_read: u64,
}

/// Runs load, settle, warm-up and the rounds for `kind` in this process (the child side).
pub fn run_engine(kind: SystemKind, c: &InsertLoadConfig) -> Result<EngineResult, String> {
    if c.rounds == 0 || c.inserts == 0 || c.rows == 0 {
        return Err("rows, inserts and rounds must be positive".into());
    }
    let dir = c.dir.join(kind.name());
    let _ = std::fs::remove_dir_all(&dir);
    let total = c.rows + c.rounds * c.inserts;
    let data_bytes = total as u64 * (8 + c.value_size as u64);
    let spec = OpenSpec {
        budget: c.memory_budget,
        sync: false,
        value_len: c.value_size,
        alexkv_tiers: true,
        rocksdb_row_cache: super::rocks_plain::RowCache::Auto.bytes(c.memory_budget, data_bytes),
        keys: super::systems::KeyShape::U64,
    };
    let mut system = System::open(kind, &dir, &spec)?;
    let keys = shuffled(&generate_keys(KeyDist::Random, total, c.seed), c.seed);
    let (loaded, fresh) = keys.split_at(c.rows);

    let start = Instant::now();
    for chunk in loaded.chunks(LOAD_BATCH_ROWS) {
        system.write_rows(&rows_of(chunk, c.value_size))?;
    }
    let load_secs = start.elapsed().as_secs_f64();
    system.settle()?;
    let lsm = system.lsm_evidence()?;
    {
        let mut session = system.session()?;
        for &k in &shuffled(loaded, c.seed ^ 0x3A3A) {
            session.get_with(k, &mut |_| ())?;
        }
    }

    let mut rounds = Vec::with_capacity(c.rounds);
    let mut bytes_read = 0u64;
    let mut rng = Rng::derive(c.seed, 0x5EAD);
    // The inserter's own handle (for SQLite its own connection).
    let mut writer = system.handle(c.memory_budget, false)?;
    for round_keys in fresh.chunks(c.inserts) {
        let gets_before = rocksdb_gets(&system);
        let done = AtomicBool::new(false);
        let (insert_result, read_result) = std::thread::scope(|s| {
            let (writer, done) = (&mut writer, &done);
            let inserter = s.spawn(move || {
                let result = insert_all(writer, round_keys, c);
                done.store(true, Ordering::Release);
                result
            });
            let read = read_until(&system, loaded, c.value_size, &mut rng, done);
            let inserted = inserter
                .join()
                .unwrap_or_else(|_| Err("the inserter panicked".into()));
            (inserted, read)
        });
        let insert_secs = insert_result?;
        let (hist, bytes, (reader_waits, reader_preemptions)) = read_result?;
        bytes_read += bytes;
        rounds.push(RoundResult {
            inserts: round_keys.len() as u64,
            insert_secs,
            inserts_per_sec: round_keys.len() as f64 / insert_secs.max(1e-9),
            read_latency: hist.summary(),
            reader_waits,
            reader_preemptions,
            alexkv_rocksdb_gets: rocksdb_gets(&system)
                .zip(gets_before)
                .map(|(after, before)| after.saturating_sub(before)),
        });
    }
    drop(writer);
    drop(system);
    let _ = std::fs::remove_dir_all(&dir);
    let mut order: Vec<usize> = (0..rounds.len()).collect();
    order.sort_by_key(|&i| rounds[i].read_latency.p999);
    Ok(EngineResult {
        engine: kind.name().to_string(),
        load_secs,
        lsm,
        median_round: order[order.len() / 2],
        rounds,
        bytes_read,
    })
}

/// alexkv's count of point reads sent to RocksDB (`None` for the other systems).
fn rocksdb_gets(system: &System) -> Option<u64> {
    system.alexkv_stats()?.get("rocksdb")?.get("gets")?.as_u64()
}

fn rows_of(keys: &[u64], value_size: usize) -> Vec<(u64, Vec<u8>)> {
    keys.iter()
        .map(|&k| {
            let mut v = Vec::new();
            value_for(k, value_size, &mut v);
            (k, v)
        })
        .collect()
}

/// Inserts `keys` as the config says; returns the seconds it took.
fn insert_all(system: &mut System, keys: &[u64], c: &InsertLoadConfig) -> Result<f64, String> {
    let start = Instant::now();
    if c.insert_batch <= 1 {
        let mut session = system.session()?;
        let mut value = Vec::with_capacity(c.value_size);
        for &k in keys {
            value_for(k, c.value_size, &mut value);
            session.put(k, &value)?;
        }
    } else {
        for chunk in keys.chunks(c.insert_batch) {
            system.write_rows(&rows_of(chunk, c.value_size))?;
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Reads uniformly random keys of `loaded`, timing each, until `done`.
fn read_until(
    system: &System,
    loaded: &[u64],
    value_size: usize,
    rng: &mut Rng,
    done: &AtomicBool,
) -> Result<(LatencyHistogram, u64, (u64, u64)), String> {
    let mut session = system.session()?;
    let switches_before = thread_context_switches();
    let mut hist = LatencyHistogram::new();
    let mut bytes = 0u64;
    let mut n = 0u64;
    while !done.load(Ordering::Acquire) {
        let key = loaded[rng.below(loaded.len() as u64) as usize];
        let check = n % CHECK_EVERY == 0;
        let mut bad = false;
        let t0 = Instant::now();
        let found = session.get_with(key, &mut |v| {
            bytes += v.len() as u64;
            if check {
                bad = !check_value(key, v, value_size);
            }
        })?;
        hist.record(t0.elapsed());
        if !found || bad {
            return Err(format!("key {key}: wrong value (found: {found})"));
        }
        n += 1;
    }
    let after = thread_context_switches();
    let switches = (
        after.0.saturating_sub(switches_before.0),
        after.1.saturating_sub(switches_before.1),
    );
    Ok((hist, bytes, switches))
}

/// This thread's (voluntary, involuntary) context switches so far.
fn thread_context_switches() -> (u64, u64) {
    // SAFETY: `getrusage` writes only into the zeroed `rusage` we pass, which outlives the
    // call; RUSAGE_THREAD is valid on Linux.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_THREAD, &mut usage) != 0 {
            return (0, 0);
        }
        usage
    };
    (usage.ru_nvcsw as u64, usage.ru_nivcsw as u64)
}

/// A whole run.
#[derive(Clone, Debug, Serialize)]
pub struct InsertLoadReport {
    /// What was run.
    pub config: InsertLoadConfig,
    /// The machine.
    pub machine: super::machine::Machine,
    /// Per engine.
    pub engines: Vec<EngineMeasured<EngineResult>>,
}

/// Runs each engine in a child process (the parent side).
pub fn run(config: InsertLoadConfig, engines: &[SystemKind]) -> Result<InsertLoadReport, String> {
    let mut measured = Vec::new();
    for &kind in engines {
        eprintln!("read-under-insert: running {} ...", kind.name());
        let name = format!("{CHILD_PREFIX}{}", kind.name());
        let out = super::child::run_system::<_, EngineResult>(&name, &config)?;
        measured.push(EngineMeasured::from(out));
    }
    Ok(InsertLoadReport {
        config,
        machine: super::machine::Machine::current(),
        engines: measured,
    })
}

/// The report as text for stdout.
pub fn render(report: &InsertLoadReport) -> String {
    use super::report::{fmt_ns, fmt_opt_bytes, fmt_rate, Table};
    let c = &report.config;
    let mut out = format!(
        "Reads under a concurrent insert load: {} rows loaded, {} rounds of {} new keys ({}), \
         one reader timing every read\n",
        c.rows,
        c.rounds,
        c.inserts,
        if c.insert_batch <= 1 {
            "single puts".to_string()
        } else {
            format!("batches of {}", c.insert_batch)
        },
    );
    let mut t = Table::new([
        "engine",
        "inserts/s",
        "reads",
        "mean",
        "p50",
        "p99",
        "p99.9",
        "max",
        "peak RSS",
    ]);
    for m in &report.engines {
        let r = &m.result;
        let Some(round) = r.rounds.get(r.median_round) else {
            continue;
        };
        let l = &round.read_latency;
        t.row([
            r.engine.clone(),
            fmt_rate(round.inserts_per_sec),
            l.count.to_string(),
            fmt_ns(l.mean_ns),
            fmt_ns(l.p50 as f64),
            fmt_ns(l.p99 as f64),
            fmt_ns(l.p999 as f64),
            fmt_ns(l.max as f64),
            fmt_opt_bytes(m.peak_rss_bytes),
        ]);
    }
    out.push_str(&t.render());
    for m in &report.engines {
        let r = &m.result;
        let p999: Vec<String> = r
            .rounds
            .iter()
            .map(|x| fmt_ns(x.read_latency.p999 as f64))
            .collect();
        let max: Vec<String> = r
            .rounds
            .iter()
            .map(|x| fmt_ns(x.read_latency.max as f64))
            .collect();
        let switches: Vec<String> = r
            .rounds
            .iter()
            .map(|x| format!("{}/{}", x.reader_waits, x.reader_preemptions))
            .collect();
        let cold: Vec<String> = r
            .rounds
            .iter()
            .filter_map(|x| {
                let gets = x.alexkv_rocksdb_gets?;
                Some(format!(
                    "{:.2}%",
                    100.0 * gets as f64 / x.read_latency.count.max(1) as f64
                ))
            })
            .collect();
        out.push_str(&format!(
            "{}: p99.9 per round [{}], max per round [{}], reader waits/preemptions per round \
             [{}]{} (median round {})\n",
            r.engine,
            p999.join(", "),
            max.join(", "),
            switches.join(", "),
            if cold.is_empty() {
                String::new()
            } else {
                format!(", reads sent to RocksDB [{}]", cold.join(", "))
            },
            r.median_round
        ));
    }
    out
}
