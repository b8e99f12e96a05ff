//! Support shared by the benchmark and profiling programs in `src/bin/` (which stay thin).
//!
//! Not part of the engine's API: it is public only so the binaries, benches and doctests can
//! use it, and it is hidden from the crate documentation.
//!
//! The rules these helpers implement are in the project's BENCHMARKING.md. The main one: every
//! input is **deterministic from a seed**, so each system under test gets exactly the same keys,
//! values, queries and operations in the same order, and a run can be repeated.
//!
//! | module        | job                                                                   |
//! |---------------|-----------------------------------------------------------------------|
//! | `rng`       | the seeded PRNG (xoshiro256\*\* seeded by SplitMix64) behind everything |
//! | `keys`      | key sets by distribution, miss keys, query sequences                  |
//! | `values`    | values derived from their key, and their check                        |
//! | `histogram` | nanosecond latency histograms; batch-timed throughput, sampled latency |
//! | `memory`    | peak and current RSS, directory sizes                                 |
//! | `alloc`     | a counting global allocator: live heap bytes of a structure          |
//! | `index_compare` | the index benchmark: ALEX vs BTreeMap vs sorted Vec             |
//! | `byte_keys` | byte-string key sets by kind (`--key-kind`)                           |
//! | `byte_index_compare` | the byte-key index benchmark: the trie vs `BTreeMap<Vec<u8>, _>` |
//! | `insert_load` | `ycsb_benchmark --mode read-under-insert`: read tail under inserts |
//! | `child`     | run one system's phase in a child process and collect its result      |
//! | `defaults_run` | `defaults_benchmark`: default options vs RocksDB's, data beyond the caches |
//! | `sqlite`    | the tuned SQLite baseline                                             |
//! | `ycsb`      | YCSB workload files, generators and operation streams                 |
//! | `rocks_plain` | the plain RocksDB baseline, tuned with RocksDB's point-lookup recipe |
//! | `lsm`       | LSM evidence: files per level, settling, block-cache hit ratio, options |
//! | `systems`   | alexkv / RocksDB / SQLite behind one interface; budget split        |
//! | `vs_sqlite` | `benchmark_vs_sqlite`: phases, child processes, report             |
//! | `vs_keys`   | `benchmark_vs_sqlite`'s keys of each `--key-kind`, misses, query lists |
//! | `ycsb_run`  | `ycsb_benchmark`'s child: keys, load and run phases, threads        |
//! | `ycsb_report` | `ycsb_benchmark`'s parent: every engine's child, the report       |
//! | `profile_run` | `profile_10m_queries`: the read-path breakdown                    |
//! | `plot`      | SVG plots of `benchmark_vs_sqlite` reports                          |
//! | `report`    | aligned text tables, JSON output, unit formatting                     |

pub mod alloc;
pub mod byte_index_compare;
pub mod byte_keys;
pub mod child;
pub mod defaults_run;
pub mod histogram;
pub mod index_compare;
pub mod insert_load;
pub mod keys;
pub mod lsm;
pub mod machine;
pub mod memory;
pub mod paced_writer;
pub mod plot;
pub mod profile_run;
pub mod report;
pub mod rng;
pub mod rocks_plain;
pub mod sqlite;
pub mod systems;
pub mod values;
pub mod vs_keys;
pub mod vs_report;
pub mod vs_sqlite;
pub mod ycsb;
pub mod ycsb_report;
pub mod ycsb_run;
