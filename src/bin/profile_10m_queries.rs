//! `profile_10m_queries [--rows N] [--queries M] [--dist random|sequential] [--key-kind KIND]
//! [--db PATH] [--keep-open]`: where a point read's time goes, on `u64` keys (the default) or
//! byte keys of `benchmark_vs_sqlite`'s kinds. See `alexkv::bench::profile_run`.

use std::path::PathBuf;

use alexkv::bench::byte_keys::KeyKind;
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
    /// Keys to load and read, as benchmark_vs_sqlite's --key-kind: u64 (random u64s, 8
    /// big-endian bytes), ycsb (YCSB record names), composite ("user:" + id + ":" + field),
    /// url (30-100 byte URLs) or random16 (16 random bytes). On a reused --db the reads go to
    /// the keys it holds; u64 refuses a database of byte keys.
    #[arg(long, default_value = "u64")]
    key_kind: KeyKind,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Cache memory in bytes (default: 3x the data, rows x value size, plus the key bytes for
    /// a byte kind; at least 64 MiB).
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
        memory_budget: args.memory_budget,
        key_kind: args.key_kind,
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
