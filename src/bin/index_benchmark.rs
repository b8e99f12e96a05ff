//! `index_benchmark`: the learned index against `BTreeMap` and a sorted `Vec`, same keys, same
//! queries. See `alexkv::bench::index_compare` for what each figure means. `bytes/key` counts
//! every byte a structure holds (heap and directly mapped arrays); `RSS growth/key` is the
//! process's resident growth over the build, a check of it.
//!
//! ```text
//! cargo run --release --bin index_benchmark -- --keys 10000000 --dist random --json out.json
//! ```

use std::path::PathBuf;

use alexkv::bench::alloc::CountingAlloc;
use alexkv::bench::byte_keys::KeyKind;
use alexkv::bench::index_compare::IndexBenchResult;
use alexkv::bench::keys::KeyDist;
use alexkv::bench::report::{fmt_ns, fmt_rate, write_json, Table};
use alexkv::bench::{byte_index_compare, index_compare};
use clap::Parser;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Compare ALEX, BTreeMap and a sorted Vec on the same keys and query order.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Number of keys.
    #[arg(long, default_value_t = 1_000_000)]
    keys: usize,
    /// Key distribution: sequential, random, lognormal, clustered, or all.
    #[arg(long, default_value = "random")]
    dist: String,
    /// Lookups per lookup phase.
    #[arg(long, default_value_t = 1_000_000)]
    queries: usize,
    /// Seed for keys, insert order and queries.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Structures to run (comma-separated: alex,btreemap,sorted_vec); all by default.
    #[arg(long, value_delimiter = ',')]
    structures: Vec<String>,
    /// Byte-string keys instead: the trie against `BTreeMap<Vec<u8>, _>` on keys of this kind
    /// (u64, ycsb, composite, url, random16, or all); `--dist` is then unused.
    #[arg(long)]
    key_kind: Option<String>,
    /// Write every figure and the configuration to this JSON file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    if let Some(kind) = &args.key_kind {
        byte_keys_main(&args, kind);
        return;
    }
    let dists: Vec<KeyDist> = if args.dist == "all" {
        KeyDist::ALL.to_vec()
    } else {
        match args.dist.parse() {
            Ok(d) => vec![d],
            Err(e) => {
                eprintln!("index_benchmark: {e}");
                std::process::exit(2);
            }
        }
    };
    if args.keys < 2 {
        eprintln!("index_benchmark: --keys must be at least 2");
        std::process::exit(2);
    }
    let mut reports = Vec::new();
    for dist in dists {
        let report = index_compare::run(args.keys, dist, args.queries, args.seed, &args.structures);
        println!(
            "\n{} keys, {} distribution, {} lookups per phase",
            args.keys, dist, args.queries
        );
        print_results(&report.results, args.keys - args.keys / 2);
        for r in &report.results {
            if let Some(tr) = &r.trace {
                println!(
                    "{} lookups touch {:.2} cache lines: {:.2} model levels, {:.1} slots from the prediction (means over the queries)",
                    r.structure, tr.lines, tr.model_levels, tr.distance
                );
            }
        }
        let a = &report.alex_after_bulk_load;
        let b = &report.alex_after_inserts;
        println!(
            "alex shape: bulk load depth {} / {} data nodes / fill {:.2}; after inserts depth {} / {} data nodes / fill {:.2}",
            a.depth, a.data_nodes, a.avg_fill, b.depth, b.data_nodes, b.avg_fill
        );
        if let (Some(alex), Some(btree)) = (
            report.results.iter().find(|r| r.structure == "alex"),
            report.results.iter().find(|r| r.structure == "btreemap"),
        ) {
            println!(
                "alex lookups are {:.1}x faster than BTreeMap",
                btree.lookup_ns_mean / alex.lookup_ns_mean
            );
        }
        reports.push(report);
    }
    if let Some(path) = args.json {
        if let Err(e) = write_json(&path, &reports) {
            eprintln!("index_benchmark: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}

/// `--key-kind`: the trie against `BTreeMap<Vec<u8>, u64>`.
fn byte_keys_main(args: &Args, kind: &str) {
    let kinds: Vec<KeyKind> = if kind == "all" {
        KeyKind::ALL.to_vec()
    } else {
        match kind.parse() {
            Ok(k) => vec![k],
            Err(e) => {
                eprintln!("index_benchmark: {e}");
                std::process::exit(2);
            }
        }
    };
    let mut reports = Vec::new();
    for kind in kinds {
        let report =
            byte_index_compare::run(kind, args.keys, args.queries, args.seed, &args.structures);
        println!(
            "\n{} {} keys (mean {:.1} bytes), {} lookups per round",
            report.keys, kind, report.mean_key_len, args.queries
        );
        print_results(&report.results, args.keys - args.keys / 2);
        if let Some(s) = &report.trie_after_bulk_load {
            println!("trie shape after bulk load: {s:?}");
        }
        if let Some(s) = &report.trie_after_inserts {
            println!("trie shape after inserts:   {s:?}");
        }
        if let (Some(trie), Some(btree)) = (
            report.results.iter().find(|r| r.structure == "trie"),
            report.results.iter().find(|r| r.structure == "btreemap"),
        ) {
            println!(
                "trie lookups are {:.2}x faster than BTreeMap<Vec<u8>, u64>; memory {:.2}x of its",
                btree.lookup_ns_mean / trie.lookup_ns_mean,
                trie.bytes_per_key / btree.bytes_per_key
            );
        }
        reports.push(report);
    }
    if let Some(path) = &args.json {
        if let Err(e) = write_json(path, &reports) {
            eprintln!("index_benchmark: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}

/// One row per structure; an insert rate measured on fewer than `inserts_wanted` inserts says
/// how many.
fn print_results(results: &[IndexBenchResult], inserts_wanted: usize) {
    let mut t = Table::new([
        "structure",
        "bulk load",
        "lookup",
        "min-max of 5",
        "inserts",
        "lookup after ins",
        "bytes/key",
        "RSS growth/key",
        "bytes/key after",
    ]);
    for r in results {
        let inserts = if r.inserts_timed < inserts_wanted {
            format!(
                "{} ({} timed)",
                fmt_rate(r.insert_ops_per_s),
                r.inserts_timed
            )
        } else {
            fmt_rate(r.insert_ops_per_s)
        };
        t.row([
            r.structure.clone(),
            format!("{:.3} s", r.bulk_load_s),
            fmt_ns(r.lookup_ns_mean),
            format!("{}-{}", fmt_ns(r.lookup_ns_min), fmt_ns(r.lookup_ns_max)),
            inserts,
            fmt_ns(r.lookup_after_insert_ns_mean),
            format!("{:.1}", r.bytes_per_key),
            r.rss_growth_per_key
                .map_or("-".into(), |g| format!("{g:.1}")),
            format!("{:.1}", r.bytes_per_key_after_insert),
        ]);
    }
    t.print();
}
