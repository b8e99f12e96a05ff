#!/bin/bash
cd /work/main
B=target/release
R=/work/bench/res8f
mkdir -p $R
run() { local name=$1; shift; echo "=== $(date -u +%H:%M:%S) $name: $*" >> $R/final.log; flock /tmp/alexkv-cpu.lock "$@" --json $R/$name.json > $R/$name.txt 2>&1; echo "=== $(date -u +%H:%M:%S) $name rc=$?" >> $R/final.log; }
run full_10m $B/benchmark_vs_sqlite 10000000 random
run def_10m_1 $B/defaults_benchmark --rows 10000000
run quarter_10m $B/benchmark_vs_sqlite 10000000 random --memory-budget 270000000 --systems alexkv,rocksdb
run def_10m_2 $B/defaults_benchmark --rows 10000000
for t in 1 2; do run w_t$t $B/ycsb_benchmark --workload ycsb/workloadw --size 1000000 --ops 1000000 --threads $t --engines alexkv,rocksdb; done
for w in a f; do for t in 1 2; do run ${w}_t$t $B/ycsb_benchmark --workload $w --size 1000000 --ops 1000000 --threads $t --engines alexkv,rocksdb; done; done
for t in 1 2; do run ws_t$t $B/ycsb_benchmark --workload ycsb/workloadw --size 200000 --ops 40000 --sync --threads $t --engines alexkv,rocksdb; done
for t in 1 2; do run c_t$t $B/ycsb_benchmark --workload c --size 1000000 --threads $t --engines alexkv; done
echo "=== $(date -u +%H:%M:%S) final done" >> $R/final.log
