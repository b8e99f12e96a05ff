//! `benchmark_vs_sqlite <rows> <sequential|random> [--key-kind KIND]`: alexkv vs plain RocksDB
//! vs SQLite on the same keys, values and query order, each in its own child process, settled
//! and warmed before timed rounds. See `alexkv::bench::vs_sqlite` for the phases and what each
//! figure means, and `alexkv::bench::vs_keys` for the keys of each kind.

use std::path::PathBuf;

use alexkv::bench::byte_keys::KeyKind;
use alexkv::bench::child::ChildRequest;
use alexkv::bench::keys::KeyDist;
use alexkv::bench::report::write_json;
use alexkv::bench::rocks_plain::RowCache;
use alexkv::bench::systems::SystemKind;
use alexkv::bench::vs_keys::RunKeys;
use alexkv::bench::vs_report;
use alexkv::bench::vs_sqlite::{self, VsConfig};
use clap::Parser;

/// Compare alexkv, plain RocksDB and SQLite on the same work.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Rows to load.
    rows: usize,
    /// Key distribution: sequential (loaded in order) or random (uniform u64, loaded shuffled);
    /// lognormal and clustered also work. With a byte --key-kind, the load order only: random
    /// (shuffled) or sequential (sorted bytewise).
    #[arg(default_value = "random")]
    dist: KeyDist,
    /// Keys: u64 (8 big-endian bytes, drawn from the distribution); ycsb (YCSB record names,
    /// "user" + a hash in decimal); composite ("user:" + a 10-digit id + ":" + a field name);
    /// url (30-100 byte URLs); random16 (16 random bytes). Every system stores the same key bytes; SQLite keeps
    /// u64 keys as its INTEGER rowid and byte keys as a BLOB PRIMARY KEY of a WITHOUT ROWID
    /// table. Misses of a byte kind are keys of that kind that were not loaded.
    #[arg(long, default_value = "u64")]
    key_kind: KeyKind,
    /// Load only; skip the read phases.
    #[arg(long)]
    inserts_only: bool,
    /// Point reads of present keys per round (default: min(rows, 1,000,000), at least 10,000).
    #[arg(long)]
    queries: Option<usize>,
    /// Reads of absent keys per round (default: queries / 10).
    #[arg(long)]
    misses: Option<usize>,
    /// Scans of 100 keys per round (default: queries / 100, at least 100).
    #[arg(long)]
    scans: Option<usize>,
    /// Timed rounds of each read phase; the figures are the median round's.
    #[arg(long, default_value_t = alexkv::bench::vs_sqlite::DEFAULT_ROUNDS)]
    rounds: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Cache memory for every system, in bytes (default: enough to hold the data, 3x rows x
    /// value for u64 keys, 3x rows x (mean key length + value) for byte keys; at least 64 MiB).
    /// A quarter of rows x (key + value) is the regime where most values come from files.
    #[arg(long)]
    memory_budget: Option<u64>,
    /// fsync every commit, in all systems.
    #[arg(long)]
    sync: bool,
    /// Run alexkv without its value cache and hot tier (learned index + RocksDB only, the whole
    /// budget as block cache), to measure what the index costs on top of RocksDB.
    #[arg(long)]
    alexkv_tiers_off: bool,
    /// Plain RocksDB's row cache: `auto` (half the budget when the other half holds all the
    /// data), `on` (half the budget) or `off` (the whole budget as block cache).
    #[arg(long, default_value = "auto", value_parser = RowCache::parse)]
    rocksdb_row_cache: RowCache,
    /// Systems to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "alexkv,rocksdb,sqlite")]
    systems: Vec<String>,
    /// Working directory for the databases (deleted afterwards).
    #[arg(long, default_value = "target/bench-vs-sqlite")]
    dir: PathBuf,
    /// Seed of keys, values and queries.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Write every figure and the configuration to this JSON file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The mean length of the run's keys: 8 for u64 keys; for a byte kind, of the keys the children
/// will generate (the same generator and seed), generated here once to size the budget.
fn key_length(kind: KeyKind, dist: KeyDist, rows: usize, seed: u64) -> Result<f64, String> {
    RunKeys::check_dist(kind, dist)?;
    if kind == KeyKind::U64 {
        return Ok(8.0);
    }
    Ok(RunKeys::generate(kind, dist, rows, 0, seed)?.mean_len())
}

fn main() {
    match ChildRequest::from_env() {
        Ok(Some(request)) => vs_sqlite::child(&request),
        Ok(None) => {}
        Err(e) => {
            eprintln!("benchmark_vs_sqlite: {e}");
            std::process::exit(2);
        }
    }
    let args = Args::parse();
    let systems: Result<Vec<SystemKind>, String> =
        args.systems.iter().map(|s| SystemKind::parse(s)).collect();
    let systems = systems.unwrap_or_else(|e| {
        eprintln!("benchmark_vs_sqlite: {e}");
        std::process::exit(2);
    });
    if args.rounds == 0 {
        eprintln!("benchmark_vs_sqlite: --rounds must be at least 1");
        std::process::exit(2);
    }
    let queries = args
        .queries
        .unwrap_or_else(|| args.rows.clamp(10_000, 1_000_000));
    let mean_key_len = match key_length(args.key_kind, args.dist, args.rows, args.seed) {
        Ok(len) => len,
        Err(e) => {
            eprintln!("benchmark_vs_sqlite: {e}");
            std::process::exit(2);
        }
    };
    let memory_budget = args.memory_budget.unwrap_or_else(|| {
        let data = match args.key_kind {
            KeyKind::U64 => args.rows as u64 * args.value_size as u64,
            _ => (args.rows as f64 * (mean_key_len + args.value_size as f64)).round() as u64,
        };
        (3 * data).max(64 << 20)
    });
    let config = VsConfig {
        rows: args.rows,
        dist: args.dist,
        key_kind: args.key_kind,
        mean_key_len,
        queries,
        misses: args.misses.unwrap_or((queries / 10).max(1)),
        scans: args.scans.unwrap_or((queries / 100).max(100)),
        rounds: args.rounds,
        value_size: args.value_size,
        memory_budget,
        sync: args.sync,
        inserts_only: args.inserts_only,
        alexkv_tiers_off: args.alexkv_tiers_off,
        rocksdb_row_cache: args.rocksdb_row_cache,
        seed: args.seed,
        dir: args.dir,
    };
    let report = match vs_report::run(config, &systems) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("benchmark_vs_sqlite: {e}");
            std::process::exit(1);
        }
    };
    print!("{}", vs_report::render(&report));
    if let Some(path) = args.json {
        if let Err(e) = write_json(&path, &report) {
            eprintln!("benchmark_vs_sqlite: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}
