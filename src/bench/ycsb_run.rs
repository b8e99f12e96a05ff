//! `ycsb_benchmark`: YCSB core workloads against alexkv, plain RocksDB and SQLite, each engine in
//! its own child process on the same operation stream. This module is what a child runs
//! ([`run_engine`]); `ycsb_report` runs the children and renders the report.
//!
//! Keys ([`YcsbConfig::key_kind`]): by default YCSB's own, the record names `"user" +
//! fnvhash64(seq)` ([`super::ycsb::write_record_name`]), the same bytes for every engine (SQLite
//! holds them in a `BLOB PRIMARY KEY` of a `WITHOUT ROWID` table); with `u64`, the number in the
//! name as a `u64` key (8 big-endian bytes; SQLite's INTEGER rowid), the keys of results from
//! before the names. Every key the run phase uses (the loaded records, each operation's record)
//! is made before the clock starts, as the key bytes the engines are given; a scan takes the
//! next records in the engines' key order (byte order of the names, as YCSB's scans). A
//! record's value comes from its number, so both kinds of keys get the same values.
//!
//! Load phase: every record (`recordcount`, one value of `fieldcount x fieldlength` bytes)
//! through the engine's batched write path. Then, untimed, as
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
//! `not_found`, as YCSB does; with one thread every operation runs after the inserts before it,
//! so no read misses. Each thread runs its operations through one [`Session`] (for
//! SQLite: one prepared statement per operation kind for the whole phase).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::byte_keys::{KeyKind, KeySet};
use super::histogram::{LatencyHistogram, LatencySummary};
use super::keys::shuffle_with;
use super::lsm::LsmEvidence;
use super::paced_writer::{self, WriterTally};
use super::rocks_plain::RowCache;
use super::systems::{KeyShape, OpenSpec, Session, System, SystemKind};
use super::ycsb::{load_keys, record_value, write_record_name, Op, OpKind, Workload, YcsbOps};
use crate::Key;

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
    /// The keys the engines are given: [`KeyKind::Ycsb`] (YCSB's record names) or
    /// [`KeyKind::U64`] (the number in the name, as a `u64` key). Absent from reports written
    /// before the names, whose keys were `u64`s: that is the serde default.
    #[serde(default)]
    pub key_kind: KeyKind,
    /// Working directory.
    pub dir: PathBuf,
}

/// Refuses a key kind other than YCSB's record names (`ycsb`) and their numbers (`u64`): the
/// other kinds are not YCSB's records.
pub fn check_key_kind(kind: KeyKind) -> Result<(), String> {
    match kind {
        KeyKind::Ycsb | KeyKind::U64 => Ok(()),
        other => Err(format!(
            "--key-kind {other}: ycsb_benchmark's keys are YCSB's records, as their names \
             (ycsb) or their numbers (u64)"
        )),
    }
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
    /// Mean length of a loaded key in bytes (8 for `u64` keys).
    #[serde(default)]
    pub mean_key_len: f64,
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

/// Reads `key`, counting a miss as `not_found`.
fn read<K: Key>(system: &mut Session<'_>, key: K, tally: &mut ThreadTally) -> Result<(), String> {
    let mut got = 0u64;
    if !system.get_with(key, &mut |v| got = v.len() as u64)? {
        tally.not_found += 1;
    }
    tally.bytes_read += got;
    Ok(())
}

/// Runs `op` on the engine key `key` (the key of `op`'s record).
fn run_op<K: Key + Copy>(
    system: &mut Session<'_>,
    w: &Workload,
    op: &Op,
    key: K,
    value: &mut Vec<u8>,
    tally: &mut ThreadTally,
) -> Result<(), String> {
    match *op {
        Op::Read(_) => read(system, key, tally)?,
        Op::Update(n) | Op::Insert(n) => {
            record_value(w, n, value);
            system.put(key, value)?;
        }
        Op::Scan(_, len) => {
            let mut bytes = 0u64;
            system.scan(key, len, &mut |_, v| bytes += v.len() as u64)?;
            tally.bytes_read += bytes;
        }
        Op::ReadModifyWrite(n) => {
            read(system, key, tally)?;
            record_value(w, n, value);
            system.put(key, value)?;
        }
    }
    Ok(())
}

/// Thread `t`'s share of `ops` (operation `i` runs on thread `i % threads`), operation `i` on
/// the engine key `key_at(i)`; one operation in [`SAMPLE_EVERY`] is timed alone.
fn run_share<K: Key + Copy>(
    session: &mut Session<'_>,
    w: &Workload,
    ops: &[Op],
    (t, threads): (usize, usize),
    key_at: impl Fn(usize) -> K,
    tally: &mut ThreadTally,
) -> Result<(), String> {
    let mut value = Vec::with_capacity(w.record_len());
    for (n, i) in (t..ops.len()).step_by(threads).enumerate() {
        let op = &ops[i];
        let kind = op.kind().index();
        tally.counts[kind] += 1;
        if n as u64 % SAMPLE_EVERY == 0 {
            let t0 = Instant::now();
            let r = run_op(session, w, op, key_at(i), &mut value, tally);
            tally.histograms[kind].record(t0.elapsed());
            r?;
        } else {
            run_op(session, w, op, key_at(i), &mut value, tally)?;
        }
    }
    Ok(())
}

/// Reads the key `key_at(i)` of every `i` in `order` once.
fn warm_up<K: Key>(
    session: &mut Session<'_>,
    order: &[usize],
    key_at: impl Fn(usize) -> K,
) -> Result<(), String> {
    for &i in order {
        session.get_with(key_at(i), &mut |_| ())?;
    }
    Ok(())
}

/// The names ([`write_record_name`]) of the records numbered `numbers`, in order, in one
/// buffer.
pub fn record_names(numbers: impl IntoIterator<Item = u64>) -> KeySet {
    let mut names = KeySet::default();
    let mut name = Vec::with_capacity(24);
    for number in numbers {
        write_record_name(number, &mut name);
        names.push(&name);
    }
    names
}

/// The engine keys of the records numbered `numbers`, when they are names ([`KeyKind::Ycsb`]);
/// `None` when the numbers are the keys.
fn names_for(kind: KeyKind, numbers: impl IntoIterator<Item = u64>) -> Option<KeySet> {
    match kind {
        KeyKind::U64 => None,
        _ => Some(record_names(numbers)),
    }
}

/// Loads the records numbered `numbers` in batches of [`LOAD_BATCH_ROWS`], record `i` under
/// the engine key `key_at(i)`.
fn load<K: Key>(
    system: &mut System,
    w: &Workload,
    numbers: &[u64],
    key_at: impl Fn(usize) -> K,
) -> Result<(), String> {
    let mut rows = Vec::with_capacity(LOAD_BATCH_ROWS);
    for start in (0..numbers.len()).step_by(LOAD_BATCH_ROWS) {
        rows.clear();
        for (i, &n) in numbers.iter().enumerate().skip(start).take(LOAD_BATCH_ROWS) {
            let mut v = Vec::new();
            record_value(w, n, &mut v);
            rows.push((key_at(i), v));
        }
        system.write_rows(&rows)?;
    }
    Ok(())
}

/// Runs the load and run phases for `kind` in this process (the child side).
pub fn run_engine(kind: SystemKind, c: &YcsbConfig) -> Result<EngineResult, String> {
    check_key_kind(c.key_kind)?;
    let w = c.workload()?;
    let dir = c.dir.join(kind.name());
    let _ = std::fs::remove_dir_all(&dir);
    let threads = c.threads.max(1);
    let per_handle = c.memory_budget / threads as u64;
    let records = w.recordcount;
    // The records' numbers and, when the engines are given names, their names.
    let numbers: Vec<u64> = load_keys(&w).collect();
    let names = names_for(c.key_kind, numbers.iter().copied());
    let (key_shape, mean_key_len) = match &names {
        None => (KeyShape::U64, 8.0),
        Some(names) => (
            KeyShape::Bytes {
                mean_len: names.mean_len().ceil() as usize,
            },
            names.mean_len(),
        ),
    };
    let data_bytes = (records as f64 * (mean_key_len + w.record_len() as f64)) as u64;
    let spec = OpenSpec {
        budget: if kind == SystemKind::Sqlite {
            per_handle
        } else {
            c.memory_budget
        },
        sync: c.sync,
        value_len: w.record_len(),
        alexkv_tiers: true,
        rocksdb_row_cache: c.rocksdb_row_cache.bytes(c.memory_budget, data_bytes),
        keys: key_shape,
    };
    let mut system = System::open(kind, &dir, &spec)?;

    let start = Instant::now();
    match &names {
        None => load(&mut system, &w, &numbers, |i| numbers[i])?,
        Some(names) => load(&mut system, &w, &numbers, |i| names.get(i))?,
    }
    let load_secs = start.elapsed().as_secs_f64();
    let started = Instant::now();
    system.settle()?;
    let settle_secs = started.elapsed().as_secs_f64();
    let lsm = system.lsm_evidence()?;

    let ops: Vec<Op> = YcsbOps::new(&w, c.seed)
        .map_err(|e| e.to_string())?
        .collect();
    let op_names = names_for(c.key_kind, ops.iter().map(Op::key));
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
            let (numbers, names, w, warmed) = (&numbers, &names, &w, &warmed);
            let (stop, writer_tally, first_error) = (&stop_writer, &writer_tally, &first_error);
            s.spawn(move || {
                let session = handle.session();
                warmed.wait();
                let mut value = Vec::with_capacity(w.record_len());
                let result = session.and_then(|mut session| {
                    paced_writer::run(
                        &mut session,
                        numbers.len(),
                        c.writer_puts_per_sec,
                        c.seed ^ 0x5EED_5EED,
                        stop,
                        |session, i| {
                            record_value(w, numbers[i], &mut value);
                            match names {
                                None => session.put(numbers[i], &value),
                                Some(names) => session.put(names.get(i), &value),
                            }
                        },
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
            let (ops, op_names, w, tallies, first_error) =
                (&ops, &op_names, &w, &tallies, &first_error);
            let (numbers, names, warmed) = (&numbers, &names, &warmed);
            clients.push(s.spawn(move || {
                let fail = |e: String| {
                    first_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                };
                let session = handle.session();
                // Every loaded record once, in an order of this thread's own.
                let mut order: Vec<usize> = (0..numbers.len()).collect();
                shuffle_with(order.len(), c.seed ^ 0x3A3A ^ t as u64, |i, j| {
                    order.swap(i, j)
                });
                let warm_result = session.and_then(|mut session| {
                    match names {
                        None => warm_up(&mut session, &order, |i| numbers[i])?,
                        Some(names) => warm_up(&mut session, &order, |i| names.get(i))?,
                    }
                    Ok(session)
                });
                drop(order);
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
                let share = (t, threads);
                let result = match op_names {
                    None => run_share(&mut session, w, ops, share, |i| ops[i].key(), &mut tally),
                    Some(names) => {
                        run_share(&mut session, w, ops, share, |i| names.get(i), &mut tally)
                    }
                };
                if let Err(e) = result {
                    return fail(e);
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
        load_ops_per_sec: numbers.len() as f64 / load_secs.max(1e-9),
        settle_secs,
        warmup_secs,
        lsm,
        run_secs,
        throughput_ops_per_sec: ops.len() as f64 / run_secs.max(1e-9),
        ops: results,
        not_found,
        mean_key_len,
        bytes_read,
        writer: writer_tally.into_inner().unwrap_or_else(|p| p.into_inner()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::ycsb::STANDARD_WORKLOADS;

    fn config(letter: &str, records: u64, key_kind: KeyKind, dir: &std::path::Path) -> YcsbConfig {
        let text = STANDARD_WORKLOADS
            .iter()
            .find(|(l, _)| *l == letter)
            .map(|(_, t)| t.to_string())
            .unwrap();
        YcsbConfig {
            workload: letter.to_string(),
            workload_text: text,
            overrides: vec![
                ("recordcount".into(), records.to_string()),
                ("operationcount".into(), records.to_string()),
            ],
            threads: 1,
            memory_budget: 64 << 20,
            rocksdb_row_cache: RowCache::default(),
            seed: 42,
            sync: false,
            writer_puts_per_sec: 0,
            key_kind,
            dir: dir.to_path_buf(),
        }
    }

    #[test]
    fn record_names_are_built_in_order_in_one_buffer() {
        let names = record_names([3, 0, 123_456]);
        let want: [&[u8]; 3] = [b"user3", b"user0", b"user123456"];
        assert!(names.iter().eq(want));
    }

    #[test]
    fn every_standard_workload_runs_on_record_names_and_on_numbers_without_misses() {
        let dir = tempfile::tempdir().unwrap();
        for (letter, _) in STANDARD_WORKLOADS {
            for key_kind in [KeyKind::Ycsb, KeyKind::U64] {
                let c = config(letter, 3000, key_kind, dir.path());
                let r = run_engine(SystemKind::Alexkv, &c).unwrap();
                let total: u64 = r.ops.iter().map(|k| k.count).sum();
                assert_eq!(total, 3000, "{letter} {key_kind}");
                // One thread: every operation runs after the inserts before it, so a read of a
                // record that is not there means a key was made wrongly.
                assert_eq!(r.not_found, 0, "{letter} {key_kind}");
                assert!(r.bytes_read > 0, "{letter} {key_kind}");
                match key_kind {
                    KeyKind::U64 => assert_eq!(r.mean_key_len, 8.0),
                    _ => assert!(
                        (10.0..=24.0).contains(&r.mean_key_len),
                        "{}",
                        r.mean_key_len
                    ),
                }
            }
        }
    }

    #[test]
    fn a_scan_from_a_record_name_takes_the_next_names_in_byte_order() {
        let dir = tempfile::tempdir().unwrap();
        let numbers: Vec<u64> = (0..2000).map(crate::bench::ycsb::ycsb_key_to_u64).collect();
        let names = record_names(numbers.iter().copied());
        let mut sorted: Vec<&[u8]> = names.iter().collect();
        sorted.sort();
        let w = Workload::standard("e").unwrap();
        for kind in SystemKind::ALL {
            let spec = OpenSpec {
                budget: 16 << 20,
                sync: false,
                value_len: w.record_len(),
                alexkv_tiers: true,
                rocksdb_row_cache: 0,
                keys: KeyShape::Bytes { mean_len: 23 },
            };
            let mut system = System::open(kind, &dir.path().join(kind.name()), &spec).unwrap();
            load(&mut system, &w, &numbers, |i| names.get(i)).unwrap();
            let mut session = system.session().unwrap();
            let from = sorted[700];
            let mut got = Vec::new();
            let n = session
                .scan(from, 50, &mut |k, _| got.push(k.to_vec()))
                .unwrap();
            assert_eq!(n, 50, "{}", kind.name());
            let want: Vec<Vec<u8>> = sorted[700..750].iter().map(|k| k.to_vec()).collect();
            assert_eq!(got, want, "{}", kind.name());
        }
    }
}
