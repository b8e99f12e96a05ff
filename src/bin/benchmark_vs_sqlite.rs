//! `benchmark_vs_sqlite <rows> <sequential|random>`: alexkv vs plain RocksDB vs SQLite on the
//! same keys, values and query order, each in its own child process, settled and warmed before
//! timed rounds. See `alexkv::bench::vs_sqlite` for the phases and what each figure means.

use std::path::PathBuf;

use alexkv::bench::child::ChildRequest;
use alexkv::bench::keys::KeyDist;
use alexkv::bench::report::write_json;
use alexkv::bench::rocks_plain::RowCache;
use alexkv::bench::systems::SystemKind;
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
    /// lognormal and clustered also work.
    #[arg(default_value = "random")]
    dist: KeyDist,
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
    /// value). A quarter of rows x (8 + value) is the regime where most values come from files.
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
    let config = VsConfig {
        rows: args.rows,
        dist: args.dist,
        queries,
        misses: args.misses.unwrap_or((queries / 10).max(1)),
        scans: args.scans.unwrap_or((queries / 100).max(100)),
        rounds: args.rounds,
        value_size: args.value_size,
        memory_budget: args
            .memory_budget
            .unwrap_or_else(|| (3 * args.rows as u64 * args.value_size as u64).max(64 << 20)),
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
