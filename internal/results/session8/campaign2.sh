#!/bin/bash
cd /work/main
B=target/release
R=/work/bench/res8
log() { echo "=== $(date -u +%H:%M:%S) $*" >> $R/campaign.log; }
log memfloor
flock /tmp/alexkv-cpu.lock /work/bench/bin/memfloor > $R/memfloor_1.txt 2>&1
log profile 1
flock /tmp/alexkv-cpu.lock $B/profile_10m_queries --rows 10000000 --queries 3000000 --db /work/bench/p10m > $R/profile_1.txt 2>&1
log profile 2
flock /tmp/alexkv-cpu.lock $B/profile_10m_queries --rows 10000000 --queries 3000000 --db /work/bench/p10m > $R/profile_2.txt 2>&1
log alexkv only 10m
flock /tmp/alexkv-cpu.lock $B/benchmark_vs_sqlite 10000000 random --systems alexkv --json $R/alexkv10m_2.json > $R/alexkv10m_2.txt 2>&1
log memfloor 2
flock /tmp/alexkv-cpu.lock /work/bench/bin/memfloor > $R/memfloor_2.txt 2>&1
for i in 2 3; do
 for t in 1 2; do
  log ws_t${t}_$i
  flock /tmp/alexkv-cpu.lock $B/ycsb_benchmark --workload ycsb/workloadw --size 200000 --ops 40000 --sync --threads $t --engines alexkv,rocksdb --json $R/ws_t${t}_$i.json > $R/ws_t${t}_$i.txt 2>&1
  log w_t${t}_$i
  flock /tmp/alexkv-cpu.lock $B/ycsb_benchmark --workload ycsb/workloadw --size 1000000 --ops 1000000 --threads $t --engines alexkv,rocksdb --json $R/w_t${t}_$i.json > $R/w_t${t}_$i.txt 2>&1
 done
done
for i in 2 3; do
 for w in a f; do
  for t in 1 2; do
   log ${w}_t${t}_$i
   flock /tmp/alexkv-cpu.lock $B/ycsb_benchmark --workload $w --size 1000000 --ops 1000000 --threads $t --engines alexkv,rocksdb --json $R/${w}_t${t}_$i.json > $R/${w}_t${t}_$i.txt 2>&1
  done
 done
done
log perf a_t2
(vmstat 1 > $R/vmstat_a2.txt 2>&1 &) 
flock /tmp/alexkv-cpu.lock perf record -F 499 -g -o $R/perf_a_t2.data -- $B/ycsb_benchmark --workload a --size 1000000 --ops 2000000 --threads 2 --engines alexkv > $R/perf_a_t2.txt 2>&1
pkill -x vmstat
log campaign2 done
