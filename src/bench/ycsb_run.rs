//! `ycsb_benchmark`: YCSB core workloads against alexkv, plain RocksDB and SQLite, each engine in
//! its own child process on the same operation stream.
//!
//! Load phase: every record (`recordcount`, keys `fnvhash64(seq)`, one value of `fieldcount x
//! fieldlength` bytes) through the engine's batched write path. Then, untimed, as
//! BENCHMARKING.md asks of every comparison: the engine **settles** ([`System::settle`]: RocksDB
//! flushes, compacts the whole range and waits until no compaction is pending or running;
//! SQLite checkpoints its WAL), and every client thread **warms up** its own handle by reading
//! every loaded key once, in a shuffled order of its own (a SQLite connection has a private page
//! cache; alexkv and RocksDB handles share one engine).
//!
//! Run phase: the workload's `operationcount` operations, generated once from the seed, dealt
//! round-robin to `threads` threads sharing one database (operation `i` runs on thread
//! `i % threads`); the clock starts when every thread has finished its warm-up. Throughput is
//! the run phase's operations over its wall time; latencies are sampled (one operation in
//! [`SAMPLE_EVERY`] per thread is timed individually) into one histogram per operation kind.
//! A read of a key that is not there yet (an insert still running on another thread) counts as
//! `not_found`, as YCSB does. Each thread runs its operations through one [`Session`] (for
//! SQLite: one prepared statement per operation kind for the whole phase).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::child::EngineMeasured;
use super::histogram::{LatencyHistogram, LatencySummary};
use super::keys::shuffled;
use super::lsm::LsmEvidence;
use super::paced_writer::{self, WriterTally};
use super::rocks_plain::RowCache;
use super::systems::{KeyShape, OpenSpec, Session, System, SystemKind};
use super::ycsb::{load_keys, record_value, Op, OpKind, Workload, YcsbOps};

/// One operation in this many (per thread) is timed individually.
pub const SAMPLE_EVERY: u64 = 8;
/// Records per write batch in the load phase.
pub const LOAD_BATCH_ROWS: usize = 10_000;

/// What every engine's child runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct YcsbConfig {
    /// `a`..`f` or a path to a workload file.
    pub workload: String,
    /// The workload file's text (so every child parses the same thing).
    pub workload_text: String,
    /// Overrides applied after parsing (`recordcount`, `operationcount`, ...).
    pub overrides: Vec<(String, String)>,
    /// Client threads sharing one database.
    pub threads: usize,
    /// Cache memory every engine gets, in bytes.
    pub memory_budget: u64,
    /// Plain RocksDB's row cache policy.
    #[serde(default)]
    pub rocksdb_row_cache: RowCache,
    /// Seed of the operation stream.
    pub seed: u64,
    /// fsync every commit (every engine: alexkv's `sync_writes`, RocksDB's synced WAL write,
    /// SQLite's `synchronous=FULL`).
    #[serde(default)]
    pub sync: bool,
    /// A writer thread beside the clients during the run phase, putting to loaded keys at this
    /// many puts per second (`paced_writer`); 0: none.
    #[serde(default)]
    pub writer_puts_per_sec: u64,
    /// Working directory.
    pub dir: PathBuf,
}

impl YcsbConfig {
    /// The workload with the overrides applied.
    pub fn workload(&self) -> Result<Workload, String> {
        let mut w = Workload::parse(&self.workload_text).map_err(|e| e.to_string())?;
        for (k, v) in &self.overrides {
            w.set(k, v).map_err(|e| e.to_string())?;
        }
        w.validate().map_err(|e| e.to_string())?;
        Ok(w)
    }
}

/// Latency of one operation kind.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KindResult {
    /// YCSB's name of the operation.
    pub op: String,
    /// Operations of this kind run.
    pub count: u64,
    /// Sampled latencies.
    pub latency: LatencySummary,
}

/// One engine's figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EngineResult {
    /// `alexkv`, `rocksdb` or `sqlite`.
    pub engine: String,
    /// Load phase seconds.
    pub load_secs: f64,
    /// Load phase records per second.
    pub load_ops_per_sec: f64,
    /// Seconds of the settle step after the load.
    #[serde(default)]
    pub settle_secs: f64,
    /// Seconds of the warm-up (every thread reads every loaded key once), untimed.
    #[serde(default)]
    pub warmup_secs: f64,
    /// The LSM tree after settling (alexkv's RocksDB and plain RocksDB; `None` for SQLite).
    #[serde(default)]
    pub lsm: Option<LsmEvidence>,
    /// Run phase seconds.
    pub run_secs: f64,
    /// Run phase operations per second.
    pub throughput_ops_per_sec: f64,
    /// Per operation kind.
    pub ops: Vec<KindResult>,
    /// Reads of keys not (yet) present.
    pub not_found: u64,
    /// Value bytes received.
    pub bytes_read: u64,
    /// The paced writer beside the clients, if one ran (its puts are not in `ops` or the
    /// throughput).
    #[serde(default)]
    pub writer: Option<WriterTally>,
}

struct ThreadTally {
    histograms: Vec<LatencyHistogram>,
    counts: Vec<u64>,
    not_found: u64,
    bytes_read: u64,
}

fn run_op(
    system: &mut Session<'_>,
    w: &Workload,
    op: &Op,
    value: &mut Vec<u8>,
    tally: &mut ThreadTally,
) -> Result<(), String> {
    let read = |system: &mut Session<'_>, k: u64, tally: &mut ThreadTally| -> Result<(), String> {
        let mut got = 0u64;
        if !system.get_with(k, &mut |v| got = v.len() as u64)? {
            tally.not_found += 1;
        }
        tally.bytes_read += got;
        Ok(())
    };
    match *op {
        Op::Read(k) => read(system, k, tally)?,
        Op::Update(k) | Op::Insert(k) => {
            record_value(w, k, value);
            system.put(k, value)?;
        }
        Op::Scan(k, len) => {
            let mut bytes = 0u64;
            system.scan(k, len, &mut |_, v| bytes += v.len() as u64)?;
            tally.bytes_read += bytes;
        }
        Op::ReadModifyWrite(k) => {
            read(system, k, tally)?;
            record_value(w, k, value);
            system.put(k, value)?;
        }
    }
    Ok(())
}

/// Runs the load and run phases for `kind` in this process (the child side).
pub fn run_engine(kind: SystemKind, c: &YcsbConfig) -> Result<EngineResult, String> {
    let w = c.workload()?;
    let dir = c.dir.join(kind.name());
    let _ = std::fs::remove_dir_all(&dir);
    let threads = c.threads.max(1);
    let per_handle = c.memory_budget / threads as u64;
    let records = w.recordcount;
    let spec = OpenSpec {
        budget: if kind == SystemKind::Sqlite {
            per_handle
        } else {
            c.memory_budget
        },
        sync: c.sync,
        value_len: w.record_len(),
        alexkv_tiers: true,
        rocksdb_row_cache: c
            .rocksdb_row_cache
            .bytes(c.memory_budget, records * (8 + w.record_len() as u64)),
        keys: KeyShape::U64,
    };
    let mut system = System::open(kind, &dir, &spec)?;

    let start = Instant::now();
    let keys: Vec<u64> = load_keys(&w).collect();
    let mut rows = Vec::with_capacity(LOAD_BATCH_ROWS);
    for chunk in keys.chunks(LOAD_BATCH_ROWS) {
        rows.clear();
        for &k in chunk {
            let mut v = Vec::new();
            record_value(&w, k, &mut v);
            rows.push((k, v));
        }
        system.write_rows(&rows)?;
    }
    let load_secs = start.elapsed().as_secs_f64();
    let started = Instant::now();
    system.settle()?;
    let settle_secs = started.elapsed().as_secs_f64();
    let lsm = system.lsm_evidence()?;

    let ops: Vec<Op> = YcsbOps::new(&w, c.seed)
        .map_err(|e| e.to_string())?
        .collect();
    // Thread 0 uses the handle that loaded the data; the others open their own (for SQLite a
    // connection each, with its share of the budget as page cache).
    let mut handles: Vec<System> = (1..threads)
        .map(|_| system.handle(per_handle, false))
        .collect::<Result<_, _>>()?;
    handles.insert(0, system);
    let mut writer_handle = match c.writer_puts_per_sec {
        0 => None,
        _ => Some(handles[0].handle(per_handle, false)?),
    };
    let tallies = Mutex::new(Vec::new());
    let first_error = Mutex::new(None);
    let writer_tally = Mutex::new(None);
    let stop_writer = AtomicBool::new(false);
    // Every thread and this one: the run phase's clock starts when all warm-ups are done.
    let warmed = Barrier::new(threads + 1 + usize::from(writer_handle.is_some()));
    let warmup_start = Instant::now();
    let mut warmup_secs = 0.0;
    let mut run_secs = 0.0;
    std::thread::scope(|s| {
        if let Some(handle) = writer_handle.as_mut() {
            let (keys, w, warmed) = (&keys, &w, &warmed);
            let (stop, writer_tally, first_error) = (&stop_writer, &writer_tally, &first_error);
            s.spawn(move || {
                let session = handle.session();
                warmed.wait();
                let result = session.and_then(|mut session| {
                    paced_writer::run(
                        &mut session,
                        keys,
                        c.writer_puts_per_sec,
                        c.seed ^ 0x5EED_5EED,
                        stop,
                        |k, v| record_value(w, k, v),
                    )
                });
                match result {
                    Ok(t) => *writer_tally.lock().unwrap_or_else(|p| p.into_inner()) = Some(t),
                    Err(e) => {
                        first_error
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(format!("writer: {e}"));
                    }
                }
            });
        }
        let mut clients = Vec::new();
        // Handles are borrowed, not moved: the last one closes the database, which belongs
        // after the clock stops.
        for (t, handle) in handles.iter_mut().enumerate() {
            let (ops, w, tallies, first_error) = (&ops, &w, &tallies, &first_error);
            let (keys, warmed) = (&keys, &warmed);
            clients.push(s.spawn(move || {
                let fail = |e: String| {
                    first_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                };
                let session = handle.session();
                let warm = shuffled(keys, c.seed ^ 0x3A3A ^ t as u64);
                let warm_result = session.and_then(|mut session| {
                    for &k in &warm {
                        session.get_with(k, &mut |_| ())?;
                    }
                    Ok(session)
                });
                drop(warm);
                warmed.wait();
                let mut session = match warm_result {
                    Ok(session) => session,
                    Err(e) => return fail(e),
                };
                let mut tally = ThreadTally {
                    histograms: (0..OpKind::ALL.len())
                        .map(|_| LatencyHistogram::new())
                        .collect(),
                    counts: vec![0; OpKind::ALL.len()],
                    not_found: 0,
                    bytes_read: 0,
                };
                let mut value = Vec::with_capacity(w.record_len());
                for (n, op) in ops.iter().skip(t).step_by(threads).enumerate() {
                    let kind = op.kind().index();
                    tally.counts[kind] += 1;
                    let result = if n as u64 % SAMPLE_EVERY == 0 {
                        let t0 = Instant::now();
                        let r = run_op(&mut session, w, op, &mut value, &mut tally);
                        tally.histograms[kind].record(t0.elapsed());
                        r
                    } else {
                        run_op(&mut session, w, op, &mut value, &mut tally)
                    };
                    if let Err(e) = result {
                        return fail(e);
                    }
                }
                tallies
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(tally);
            }));
        }
        warmed.wait();
        warmup_secs = warmup_start.elapsed().as_secs_f64();
        let start = Instant::now();
        let panicked = clients.into_iter().any(|c| c.join().is_err());
        run_secs = start.elapsed().as_secs_f64();
        stop_writer.store(true, Ordering::Relaxed);
        if panicked {
            first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert_with(|| "a client thread panicked".to_string());
        }
    });
    drop(writer_handle);
    drop(handles);
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(format!("{}: {e}", kind.name()));
    }
    let tallies = tallies.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut results = Vec::new();
    let (mut not_found, mut bytes_read) = (0, 0);
    for t in &tallies {
        not_found += t.not_found;
        bytes_read += t.bytes_read;
    }
    for op in OpKind::ALL {
        let i = op.index();
        let count: u64 = tallies.iter().map(|t| t.counts[i]).sum();
        if count == 0 {
            continue;
        }
        let mut h = LatencyHistogram::new();
        for t in &tallies {
            h.merge(&t.histograms[i]);
        }
        results.push(KindResult {
            op: op.name().to_string(),
            count,
            latency: h.summary(),
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(EngineResult {
        engine: kind.name().to_string(),
        load_secs,
        load_ops_per_sec: keys.len() as f64 / load_secs.max(1e-9),
        settle_secs,
        warmup_secs,
        lsm,
        run_secs,
        throughput_ops_per_sec: ops.len() as f64 / run_secs.max(1e-9),
        ops: results,
        not_found,
        bytes_read,
        writer: writer_tally.into_inner().unwrap_or_else(|p| p.into_inner()),
    })
}

/// A whole `ycsb_benchmark` run.
#[derive(Clone, Debug, Serialize)]
pub struct YcsbReport {
    /// What was run.
    pub config: YcsbConfig,
    /// The machine.
    pub machine: super::machine::Machine,
    /// Per engine.
    pub engines: Vec<EngineMeasured<EngineResult>>,
    /// Run-phase throughput of each other engine divided into alexkv's (greater than 1: alexkv
    /// is faster), by engine name.
    pub throughput_speedup: Vec<(String, f64)>,
}

/// Runs each engine in a child process (the parent side).
pub fn run(config: YcsbConfig, engines: &[SystemKind]) -> Result<YcsbReport, String> {
    let mut measured = Vec::new();
    for &kind in engines {
        eprintln!("ycsb_benchmark: running {} ...", kind.name());
        let out = super::child::run_system::<YcsbConfig, EngineResult>(kind.name(), &config)?;
        measured.push(EngineMeasured::from(out));
    }
    let alex = measured
        .iter()
        .find(|m| m.result.engine == "alexkv")
        .map(|m| m.result.throughput_ops_per_sec);
    let throughput_speedup = match alex {
        Some(a) => measured
            .iter()
            .filter(|m| m.result.engine != "alexkv")
            .map(|m| {
                (
                    m.result.engine.clone(),
                    a / m.result.throughput_ops_per_sec.max(1e-9),
                )
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(YcsbReport {
        config,
        machine: super::machine::Machine::current(),
        engines: measured,
        throughput_speedup,
    })
}

/// The report as text for stdout.
pub fn render(report: &YcsbReport) -> String {
    use super::report::{fmt_ns, fmt_opt_bytes, fmt_rate, Table};
    let c = &report.config;
    let mut out = format!(
        "YCSB workload {} ({} threads{}, {})\n",
        c.workload,
        c.threads,
        match c.writer_puts_per_sec {
            0 => String::new(),
            n => format!(" + a writer at {n} puts/s"),
        },
        if c.sync {
            "fsync per commit"
        } else {
            "WAL, no fsync"
        }
    );
    let mut t = Table::new([
        "engine",
        "load",
        "throughput",
        "op",
        "count",
        "mean",
        "p50",
        "p99",
        "p99.9",
        "peak RSS",
    ]);
    for m in &report.engines {
        let r = &m.result;
        for (i, k) in r.ops.iter().enumerate() {
            let first = i == 0;
            t.row([
                if first {
                    r.engine.clone()
                } else {
                    String::new()
                },
                if first {
                    fmt_rate(r.load_ops_per_sec)
                } else {
                    String::new()
                },
                if first {
                    fmt_rate(r.throughput_ops_per_sec)
                } else {
                    String::new()
                },
                k.op.clone(),
                k.count.to_string(),
                fmt_ns(k.latency.mean_ns),
                fmt_ns(k.latency.p50 as f64),
                fmt_ns(k.latency.p99 as f64),
                fmt_ns(k.latency.p999 as f64),
                if first {
                    fmt_opt_bytes(m.peak_rss_bytes)
                } else {
                    String::new()
                },
            ]);
        }
    }
    out.push_str(&t.render());
    for m in &report.engines {
        let r = &m.result;
        out.push_str(&format!(
            "{}: settled in {:.1} s{}, warmed up in {:.1} s (every thread read every key once)\n",
            r.engine,
            r.settle_secs,
            r.lsm.as_ref().map_or_else(String::new, |l| format!(
                " (files per level {:?})",
                l.files_per_level
            )),
            r.warmup_secs,
        ));
    }
    for m in &report.engines {
        if let Some(w) = &m.result.writer {
            out.push_str(&format!(
                "{}: paced writer beside the clients: {} puts, {} (asked {}/s; not in the throughput)\n",
                m.result.engine,
                w.puts,
                fmt_rate(w.puts_per_sec),
                c.writer_puts_per_sec,
            ));
        }
    }
    for (engine, x) in &report.throughput_speedup {
        out.push_str(&format!("alexkv throughput / {engine}: {x:.2}x\n"));
    }
    out
}
