#!/usr/bin/env bash
# Three more alternating pairs (new first), after ab_u64.sh's first pair was disturbed by a compile.
set -euo pipefail
out=/work/main/internal/results/session11/ab_u64_0085d2f
for round in 4 5 6; do
  for which in new old; do
    if [ $which = old ]; then bin=/work/wt-old/target/release/benchmark_vs_sqlite; else bin=/tmp/bvs-new-0085d2f; fi
    flock /tmp/alexkv-cpu.lock $bin 10000000 random --systems alexkv --dir /tmp/bvs-$which \
      --json $out/ab_u64_${which}_$round.json > $out/ab_u64_${which}_$round.txt 2>&1
  done
done
