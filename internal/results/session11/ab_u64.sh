#!/usr/bin/env bash
# u64 read path before/after the engine took byte keys: alternating runs of the build at
# 45fa24c (old, /work/wt-old) and the current build, alexkv only, 10M random u64 keys.
set -euo pipefail
out=${OUT:-/work/main/internal/results/session11/ab_u64_0085d2f}; mkdir -p $out
for round in 1 2 3; do
  for which in old new; do
    if [ $which = old ]; then bin=/work/wt-old/target/release/benchmark_vs_sqlite; else bin=${NEW_BIN:-/work/main/target/release/benchmark_vs_sqlite}; fi
    flock /tmp/alexkv-cpu.lock $bin 10000000 random --systems alexkv --dir /tmp/bvs-$which \
      --json $out/ab_u64_${which}_$round.json > $out/ab_u64_${which}_$round.txt 2>&1
  done
done
