//! `ycsb_benchmark --workload <a..f|path> --size N`: YCSB core workloads on alexkv, plain RocksDB
//! and SQLite, each engine in its own child process on the same operation stream. The keys are
//! YCSB's own record names (`user` + fnvhash64(seq)) for every engine; `--key-kind u64` gives the
//! engines the number in the name as a `u64` key instead (the keys of results from before the
//! names). See `alexkv::bench::ycsb_run` and `alexkv::bench::ycsb_report`.
//!
//! `ycsb_benchmark --mode read-under-insert --size N --inserts M`: read latency percentiles while
//! another thread inserts new keys at full speed (see `alexkv::bench::insert_load`). This mode
//! is not a YCSB workload: its keys are uniform random `u64`s, and `--key-kind` other than `u64`
//! is refused.

use std::path::{Path, PathBuf};

use alexkv::bench::byte_keys::KeyKind;
use alexkv::bench::child::{child_main, ChildRequest};
use alexkv::bench::insert_load::{self, InsertLoadConfig};
use alexkv::bench::report::write_json;
use alexkv::bench::rocks_plain::RowCache;
use alexkv::bench::systems::SystemKind;
use alexkv::bench::ycsb::Workload;
use alexkv::bench::ycsb_report;
use alexkv::bench::ycsb_run::{self, YcsbConfig};
use clap::Parser;

/// Run a YCSB workload against alexkv, RocksDB and SQLite.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// `ycsb` (a workload's load and run phases) or `read-under-insert` (read latency while
    /// one thread inserts new keys at full speed; uniform random u64 keys only; uses --size,
    /// --inserts, --rounds, --insert-batch, --value-size, --engines, --memory-budget, --seed).
    #[arg(long, default_value = "ycsb")]
    mode: String,
    /// read-under-insert: new keys inserted per round.
    #[arg(long, default_value_t = 1_000_000)]
    inserts: usize,
    /// read-under-insert: timed rounds (the median round's figures are quoted).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// read-under-insert: rows per insert (1: single puts; more: batches through the engine's
    /// batched write path).
    #[arg(long, default_value_t = 1)]
    insert_batch: usize,
    /// read-under-insert: value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// `a`..`f` (the files in ycsb/) or a path to a YCSB workload file.
    #[arg(long, default_value = "a")]
    workload: String,
    /// ycsb: the keys every engine is given: `ycsb` (YCSB's record names, `user` and
    /// fnvhash64 of the sequence number in decimal; the default) or `u64` (that number as a
    /// u64 key, 8 big-endian bytes: the keys of results from before the names).
    /// read-under-insert: u64 only.
    #[arg(long)]
    key_kind: Option<KeyKind>,
    /// Records to load (overrides `recordcount`).
    #[arg(long)]
    size: Option<u64>,
    /// Operations to run (overrides `operationcount`; default: the file's, at most `size`).
    #[arg(long)]
    ops: Option<u64>,
    /// Client threads sharing one database.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Plain RocksDB's row cache: `auto` (half the budget when the other half holds all the
    /// data), `on` (half the budget) or `off` (the whole budget as block cache).
    #[arg(long, default_value = "auto", value_parser = RowCache::parse)]
    rocksdb_row_cache: RowCache,
    /// Engines to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "alexkv,rocksdb,sqlite")]
    engines: Vec<String>,
    /// Cache memory for every engine in bytes (default: 3x the data).
    #[arg(long)]
    memory_budget: Option<u64>,
    /// Seed of the operation stream.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// fsync every commit, in every engine.
    #[arg(long)]
    sync: bool,
    /// ycsb: one more thread puts to loaded keys at this rate during the run phase (uniform
    /// keys, the workload's values; its puts are reported apart, not in the throughput). 0: none.
    #[arg(long, default_value_t = 0)]
    writer_puts_per_sec: u64,
    /// Working directory (deleted afterwards).
    #[arg(long, default_value = "target/bench-ycsb")]
    dir: PathBuf,
    /// Write every figure and the configuration to this JSON file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("ycsb_benchmark: {msg}");
    std::process::exit(2);
}

fn main() {
    match ChildRequest::from_env() {
        Ok(Some(request)) => child_main(|| {
            if let Some(system) = request.system.strip_prefix(insert_load::CHILD_PREFIX) {
                let config: InsertLoadConfig = request.config()?;
                let kind = SystemKind::parse(system)?;
                return insert_load::run_engine(kind, &config).map(|r| serde_json::json!(r));
            }
            let config: YcsbConfig = request.config()?;
            let kind = SystemKind::parse(&request.system)?;
            ycsb_run::run_engine(kind, &config).map(|r| serde_json::json!(r))
        }),
        Ok(None) => {}
        Err(e) => fail(e),
    }
    let args = Args::parse();
    let engines: Vec<SystemKind> = args
        .engines
        .iter()
        .map(|s| SystemKind::parse(s))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| fail(e));
    let key_kind = args.key_kind.unwrap_or(KeyKind::Ycsb);
    match args.mode.as_str() {
        "ycsb" => {
            if let Err(e) = ycsb_run::check_key_kind(key_kind) {
                fail(e);
            }
        }
        "read-under-insert" => {
            if let Some(kind) = args.key_kind.filter(|&k| k != KeyKind::U64) {
                fail(format!(
                    "--mode read-under-insert uses uniform random u64 keys; --key-kind {kind} \
                     is for --mode ycsb"
                ));
            }
            return read_under_insert(&args, &engines);
        }
        other => fail(format!(
            "unknown --mode {other:?}; expected ycsb or read-under-insert"
        )),
    }
    let short = args.workload.trim_start_matches("workload");
    let text = if short.len() == 1 && Workload::standard(short).is_some() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("ycsb")
            .join(format!("workload{short}"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| fail(format!("{}: {e}", path.display())))
    } else {
        std::fs::read_to_string(&args.workload)
            .unwrap_or_else(|e| fail(format!("{}: {e}", args.workload)))
    };
    let parsed = Workload::parse(&text).unwrap_or_else(|e| fail(e));
    let mut overrides = Vec::new();
    let records = args.size.unwrap_or(parsed.recordcount);
    if let Some(size) = args.size {
        overrides.push(("recordcount".to_string(), size.to_string()));
    }
    let ops = args
        .ops
        .unwrap_or(parsed.operationcount.min(records.max(1)));
    overrides.push(("operationcount".to_string(), ops.to_string()));
    let budget = args
        .memory_budget
        .unwrap_or_else(|| (3 * records * parsed.record_len() as u64).max(64 << 20));
    let config = YcsbConfig {
        workload: args.workload.clone(),
        workload_text: text,
        overrides,
        threads: args.threads.max(1),
        memory_budget: budget,
        rocksdb_row_cache: args.rocksdb_row_cache,
        seed: args.seed,
        sync: args.sync,
        writer_puts_per_sec: args.writer_puts_per_sec,
        key_kind,
        dir: args.dir,
    };
    if let Err(e) = config.workload() {
        fail(e);
    }
    let report = ycsb_report::run(config, &engines).unwrap_or_else(|e| {
        eprintln!("ycsb_benchmark: {e}");
        std::process::exit(1);
    });
    print!("{}", ycsb_report::render(&report));
    if let Some(path) = args.json {
        if let Err(e) = write_json(&path, &report) {
            fail(format!("cannot write {}: {e}", path.display()));
        }
    }
}

fn read_under_insert(args: &Args, engines: &[SystemKind]) {
    let rows = args.size.unwrap_or(1_000_000) as usize;
    let total = (rows + args.rounds * args.inserts) as u64;
    let config = InsertLoadConfig {
        rows,
        inserts: args.inserts,
        rounds: args.rounds,
        insert_batch: args.insert_batch,
        value_size: args.value_size,
        memory_budget: args
            .memory_budget
            .unwrap_or_else(|| (3 * total * args.value_size as u64).max(64 << 20)),
        seed: args.seed,
        dir: args.dir.clone(),
    };
    let report = insert_load::run(config, engines).unwrap_or_else(|e| {
        eprintln!("ycsb_benchmark: {e}");
        std::process::exit(1);
    });
    print!("{}", insert_load::render(&report));
    if let Some(path) = &args.json {
        if let Err(e) = write_json(path, &report) {
            fail(format!("cannot write {}: {e}", path.display()));
        }
    }
}
