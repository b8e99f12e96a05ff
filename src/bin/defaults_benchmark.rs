//! `defaults_benchmark --rows 3000000`: alexkv with default options vs plain RocksDB with its
//! own defaults (+ a 10-bit bloom filter) on data larger than the default caches, each in its
//! own child process. See `alexkv::bench::defaults_run` for the phases.
//!
//! `ALEXKV_*` variables (see `Options::with_env_overrides`) change alexkv's options, to measure a
//! candidate default against the current one.

use std::path::PathBuf;

use alexkv::bench::child::{child_main, ChildRequest};
use alexkv::bench::defaults_run::{self, DefaultsConfig, QueryOrder};
use alexkv::bench::report::write_json;
use clap::Parser;

/// alexkv's defaults against RocksDB's, data beyond the default caches.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Rows to load (uniform random u64 keys).
    #[arg(long, default_value_t = 3_000_000)]
    rows: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 40)]
    value_size: usize,
    /// Timed reads per round.
    #[arg(long, default_value_t = 20_000)]
    gets: usize,
    /// Rounds of timed reads after the reopen, each of fresh random keys.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Rows per load batch.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Untimed reads between the reopen and the timed ones.
    #[arg(long, default_value_t = 20_000)]
    warmup: usize,
    /// Seed of keys and queries.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Working directory.
    #[arg(long, default_value = "target/defaults-benchmark")]
    dir: PathBuf,
    /// Experiment: plain RocksDB also reads two dependent random words of an array of this many
    /// MiB before each timed get (the memory traffic of an index lookup). 0 = off.
    #[arg(long, default_value_t = 0)]
    rocksdb_touch_mib: usize,
    /// Keys each round reads: `random` (a fresh uniform draw) or `walk` (consecutive keys in
    /// key order from a random start, each once).
    #[arg(long, default_value = "random", value_parser = QueryOrder::parse)]
    order: QueryOrder,
    /// Also write the report as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() {
    match ChildRequest::from_env() {
        Ok(Some(request)) => child_main(|| {
            let config: DefaultsConfig = request.config()?;
            defaults_run::run_phase(&request.system, &config)
        }),
        Ok(None) => {}
        Err(e) => {
            eprintln!("defaults_benchmark: {e}");
            std::process::exit(2);
        }
    }
    let args = Args::parse();
    let config = DefaultsConfig {
        rows: args.rows,
        value_size: args.value_size,
        gets: args.gets,
        rounds: args.rounds,
        batch: args.batch,
        warmup: args.warmup,
        seed: args.seed,
        dir: args.dir.clone(),
        rocksdb_touch_mib: args.rocksdb_touch_mib,
        order: args.order,
    };
    let result = defaults_run::run(&config);
    let _ = std::fs::remove_dir_all(&args.dir);
    match result {
        Ok(report) => {
            if let Some(path) = args.json {
                if let Err(e) = write_json(&path, &report) {
                    eprintln!("defaults_benchmark: writing {}: {e}", path.display());
                    std::process::exit(1);
                }
            }
        }
        Err(e) => {
            eprintln!("defaults_benchmark: {e}");
            std::process::exit(1);
        }
    }
}
