#!/usr/bin/env bash
# Read check at the session's last code change (7b6300f): alexkv alone, two runs.
set -uo pipefail
for i in 1 2; do
  flock /tmp/alexkv-cpu.lock /tmp/bvs_final 10000000 random --systems alexkv --dir /tmp/bvs_db_final --json final_$i.json > final_$i.txt 2>&1
  rm -rf /tmp/bvs_db_final
  grep -E "^alexkv " final_$i.txt | head -1 | sed "s/^/final $i: /"
done
