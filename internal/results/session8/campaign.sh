#!/bin/bash
# Eighth session's measurement campaign: every target of issues 8 and 10 at one build.
cd /work/main
B=target/release
R=/work/bench/res8
run() { # name, command...
  local name=$1; shift
  echo "=== $(date -u +%H:%M:%S) $name: $*" >> $R/campaign.log
  flock /tmp/alexkv-cpu.lock "$@" --json $R/$name.json > $R/$name.txt 2>&1
  echo "=== $(date -u +%H:%M:%S) $name rc=$?" >> $R/campaign.log
}
# write paths (issue 10)
run w_t1 $B/ycsb_benchmark --workload ycsb/workloadw --size 1000000 --ops 1000000 --threads 1 --engines alexkv,rocksdb
run w_t2 $B/ycsb_benchmark --workload ycsb/workloadw --size 1000000 --ops 1000000 --threads 2 --engines alexkv,rocksdb
run ws_t1 $B/ycsb_benchmark --workload ycsb/workloadw --size 200000 --ops 20000 --sync --threads 1 --engines alexkv,rocksdb
run ws_t2 $B/ycsb_benchmark --workload ycsb/workloadw --size 200000 --ops 20000 --sync --threads 2 --engines alexkv,rocksdb
run a_t1 $B/ycsb_benchmark --workload a --size 1000000 --ops 1000000 --threads 1 --engines alexkv,rocksdb
run a_t2 $B/ycsb_benchmark --workload a --size 1000000 --ops 1000000 --threads 2 --engines alexkv,rocksdb
run f_t1 $B/ycsb_benchmark --workload f --size 1000000 --ops 1000000 --threads 1 --engines alexkv,rocksdb
run f_t2 $B/ycsb_benchmark --workload f --size 1000000 --ops 1000000 --threads 2 --engines alexkv,rocksdb
run e_1m $B/ycsb_benchmark --workload e --size 1000000 --ops 100000
run rui_10m $B/ycsb_benchmark --mode read-under-insert --size 10000000 --inserts 1000000 --rounds 3 --insert-batch 1000 --engines alexkv,rocksdb
run vs_1m $B/benchmark_vs_sqlite 1000000 random
run index_10m $B/index_benchmark --keys 10000000 --dist all
# read paths (issue 8)
run c_t1 $B/ycsb_benchmark --workload c --size 1000000 --threads 1 --engines alexkv
run c_t2 $B/ycsb_benchmark --workload c --size 1000000 --threads 2 --engines alexkv
run cw_t1 $B/ycsb_benchmark --workload c --size 1000000 --ops 4000000 --writer-puts-per-sec 20000 --threads 1 --engines alexkv
run cw_t2 $B/ycsb_benchmark --workload c --size 1000000 --ops 4000000 --writer-puts-per-sec 20000 --threads 2 --engines alexkv
run def_3m $B/defaults_benchmark --rows 3000000
run def_10m $B/defaults_benchmark --rows 10000000
run quarter_10m $B/benchmark_vs_sqlite 10000000 random --memory-budget 270000000 --systems alexkv,rocksdb
run full_10m $B/benchmark_vs_sqlite 10000000 random
echo "=== $(date -u +%H:%M:%S) campaign done" >> $R/campaign.log
