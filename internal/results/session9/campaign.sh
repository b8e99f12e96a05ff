#!/bin/bash
# Ninth session's campaign: the current table of every program and regime, one build
# (the commit is recorded in campaign.log), run one after the other on a quiet machine.
cd /work/main
B=target/release
R=internal/results/session9
echo "=== build $(git rev-parse --short HEAD) $(git status --porcelain -- src Cargo.toml Cargo.lock | wc -l) changed files" >> $R/campaign.log
run() { # name, command...
  local name=$1; shift
  echo "=== $(date -u +%H:%M:%S) $name: $*" >> $R/campaign.log
  "$@" --json $R/$name.json > $R/$name.txt 2>&1
  echo "=== $(date -u +%H:%M:%S) $name rc=$?" >> $R/campaign.log
}
echo "=== $(date -u +%H:%M:%S) memfloor" >> $R/campaign.log
/tmp/memfloor /tmp > $R/memfloor.txt 2>&1
run full_10m $B/benchmark_vs_sqlite 10000000 random
run quarter_10m $B/benchmark_vs_sqlite 10000000 random --memory-budget 270000000 --systems alexkv,rocksdb
run vs_1m $B/benchmark_vs_sqlite 1000000 random
run def_3m $B/defaults_benchmark --rows 3000000
run def_10m $B/defaults_benchmark --rows 10000000
run index_10m $B/index_benchmark --keys 10000000 --dist all
run profile_10m $B/profile_10m_queries --rows 10000000 --queries 1000000
run c_t1 $B/ycsb_benchmark --workload c --size 1000000 --threads 1
run c_t2 $B/ycsb_benchmark --workload c --size 1000000 --threads 2 --engines alexkv,rocksdb
run a_t1 $B/ycsb_benchmark --workload a --size 1000000 --ops 1000000 --threads 1
run a_t2 $B/ycsb_benchmark --workload a --size 1000000 --ops 1000000 --threads 2 --engines alexkv,rocksdb
run e_1m $B/ycsb_benchmark --workload e --size 1000000 --ops 100000
run f_t1 $B/ycsb_benchmark --workload f --size 1000000 --ops 1000000 --threads 1 --engines alexkv,rocksdb
run w_t1 $B/ycsb_benchmark --workload ycsb/workloadw --size 1000000 --ops 1000000 --threads 1 --engines alexkv,rocksdb
run ws_t2 $B/ycsb_benchmark --workload ycsb/workloadw --size 200000 --ops 20000 --sync --threads 2 --engines alexkv,rocksdb
echo "=== $(date -u +%H:%M:%S) campaign done" >> $R/campaign.log
