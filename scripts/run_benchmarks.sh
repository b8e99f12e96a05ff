#!/usr/bin/env bash
# Re-runs the measurements of 2026-11-28 (internal/history/PERFORMANCE-journal.md, the sections of
# that date), writing JSON and text reports to the top of internal/results/ (then move them into a
# folder of their own, see internal/results/README.md) and plots to internal/plots/ (`plot` reads
# the vs_* reports at the top of internal/results/, so run it with `vs`). Takes about an hour on
# 2 cores.
#   bash scripts/run_benchmarks.sh [vs|profile|ycsb|index|plot]...   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins
out=internal/results
mkdir -p "$out" internal/plots
# Run copies, so a concurrent `cargo build` or `cargo test` cannot replace a binary mid-run (the
# comparison programs re-execute themselves for each system).
bin=target/bench-bin
mkdir -p "$bin"
for b in benchmark_vs_sqlite profile_10m_queries ycsb_benchmark index_benchmark plot_results; do
    cp -f "target/release/$b" "$bin/$b"
done
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(vs profile ycsb index plot)
for part in "${parts[@]}"; do
    case "$part" in
        vs)
            for rows in 10000 100000 1000000 10000000; do
                for dist in sequential random; do
                    "$bin/benchmark_vs_sqlite" "$rows" "$dist" --json "$out/vs_${dist}_${rows}.json" | tee "$out/vs_${dist}_${rows}.txt"
                done
            done
            ;;
        profile)
            "$bin/profile_10m_queries" --rows 10000000 --queries 1000000 --json "$out/profile_10m.json" | tee "$out/profile_10m.txt"
            ;;
        ycsb)
            for w in a b c d e f; do
                "$bin/ycsb_benchmark" --workload "$w" --size 1000000 --json "$out/ycsb_${w}_1m.json" | tee "$out/ycsb_${w}_1m.txt"
            done
            ;;
        index)
            "$bin/index_benchmark" --keys 1000000 --dist all --json "$out/index_1m.json" | tee "$out/index_1m.txt"
            "$bin/index_benchmark" --keys 10000000 --dist all --json "$out/index_10m.json" | tee "$out/index_10m.txt"
            ;;
        plot)
            "$bin/plot_results" internal/plots "$out"/vs_random_*.json
            "$bin/plot_results" internal/plots/sequential "$out"/vs_sequential_*.json
            ;;
        *)
            echo "unknown part $part (vs, profile, ycsb, index, plot)" >&2
            exit 2
            ;;
    esac
done
