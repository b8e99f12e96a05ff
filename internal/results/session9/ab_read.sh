#!/usr/bin/env bash
# Issue 20's speed check: alexkv's in-memory read mean before (4d3c624) and after (0d459cb) the
# stale-location fix, alternating runs, one system per run (its own process), same seed.
set -euo pipefail
for i in 1 2 3; do
  for v in base new; do
    /tmp/bvs_$v 10000000 random --systems alexkv --dir /tmp/bvs_db_$v --json ab_${v}_$i.json > ab_${v}_$i.txt 2>&1
    rm -rf /tmp/bvs_db_$v
    grep -E "^alexkv " ab_${v}_$i.txt | head -1 | sed "s/^/$v $i: /"
  done
done
