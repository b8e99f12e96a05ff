//! `profile_10m_queries [--rows N] [--queries M] [--dist random|sequential] [--db PATH]
//! [--keep-open]`: where a point read's time goes. See `alexkv::bench::profile_run`.

use std::path::PathBuf;

use alexkv::bench::profile_run::{self, ProfileConfig};
use alexkv::bench::report::write_json;
use clap::Parser;

/// Profile alexkv's read path on a database of N rows.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Rows to load when building the database.
    #[arg(long, default_value_t = 10_000_000)]
    rows: usize,
    /// Point reads to profile.
    #[arg(long, default_value_t = 1_000_000)]
    queries: usize,
    /// Query order: random (uniform over the keys) or sequential (key order).
    #[arg(long, default_value = "random", value_parser = ["random", "sequential"])]
    dist: String,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Cache memory in bytes (default: 3x rows x value size).
    #[arg(long)]
    memory_budget: Option<u64>,
    /// Reuse (or create and keep) the database at this path; default: a temporary one.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Read through the handle that loaded the rows instead of closing and reopening (the
    /// state `benchmark_vs_sqlite` reads: an index built by inserts); refused for a database
    /// that already has rows.
    #[arg(long)]
    keep_open: bool,
    /// Write the report as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    let temp = match &args.db {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("alexkv-profile")
                .tempdir_in(".")
                .unwrap_or_else(|e| {
                    eprintln!("profile_10m_queries: cannot create a temporary directory: {e}");
                    std::process::exit(1);
                }),
        ),
    };
    let db = args.db.clone().unwrap_or_else(|| {
        temp.as_ref()
            .map(|t| t.path().join("db"))
            .unwrap_or_default()
    });
    let config = ProfileConfig {
        rows: args.rows,
        queries: args.queries,
        query_order: args.dist,
        value_size: args.value_size,
        memory_budget: args
            .memory_budget
            .unwrap_or((3 * args.rows as u64 * args.value_size as u64).max(64 << 20)),
        db,
        seed: args.seed,
        keep_open: args.keep_open,
    };
    let report = profile_run::run(config).unwrap_or_else(|e| {
        eprintln!("profile_10m_queries: {e}");
        std::process::exit(1);
    });
    print!("{}", profile_run::render(&report));
    if let Some(path) = args.json {
        if let Err(e) = write_json(&path, &report) {
            eprintln!("profile_10m_queries: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}
