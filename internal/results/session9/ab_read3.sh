#!/usr/bin/env bash
# Read check at the session's last code change: 4d3c624 (base) against 7b6300f (final),
# alternating, alexkv alone.
set -uo pipefail
for i in 1 2; do
  for v in base final; do
    flock /tmp/alexkv-cpu.lock /tmp/bvs_$v 10000000 random --systems alexkv --dir /tmp/bvs_db_$v --json ab3_${v}_$i.json > ab3_${v}_$i.txt 2>&1
    rm -rf /tmp/bvs_db_$v
    grep -E "^alexkv " ab3_${v}_$i.txt | head -1 | sed "s/^/$v $i: /"
  done
done
