//! `plot_results OUT_DIR REPORT.json...`: draws `read_latency.svg` and `load_rate.svg` from
//! `benchmark_vs_sqlite --json` reports (one report per row count).

use std::path::PathBuf;

use alexkv::bench::plot::{chart, read_points, Point};

/// One chart: file name, title, y-axis label, and the metric plotted for each report.
type Chart = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Point) -> Option<f64>,
);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: plot_results OUT_DIR REPORT.json...");
        std::process::exit(2);
    }
    let out = PathBuf::from(&args[0]);
    let points = read_points(&args[1..]).unwrap_or_else(|e| {
        eprintln!("plot_results: {e}");
        std::process::exit(1);
    });
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("plot_results: {}: {e}", out.display());
        std::process::exit(1);
    }
    let jobs: [Chart; 2] = [
        (
            "read_latency.svg",
            "Point-read mean latency (lower is better)",
            "ns per read",
            |p| p.read_ns,
        ),
        (
            "load_rate.svg",
            "Load rate (higher is better)",
            "rows per second",
            |p| Some(p.load_rows_per_sec),
        ),
    ];
    for (file, title, label, metric) in jobs {
        let path = out.join(file);
        if let Err(e) = chart(&points, &path, title, label, metric) {
            eprintln!("plot_results: {e}");
            std::process::exit(1);
        }
        println!("wrote {}", path.display());
    }
}
