//! The three systems the comparison programs measure, behind one small trait so every phase runs
//! the same code against each: alexkv (`Db`), plain RocksDB ([`PlainRocks`]) and SQLite
//! ([`SqliteKv`]). Each uses its natural batched write path for loading.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::rocks_plain::PlainRocks;
use super::sqlite::SqliteKv;
use crate::{Db, Options, WriteBatch};

/// Which system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SystemKind {
    /// alexkv: learned index, value cache, hot tier, over RocksDB.
    Alexkv,
    /// RocksDB alone, with the same RocksDB options.
    Rocksdb,
    /// SQLite, tuned as BENCHMARKING.md says.
    Sqlite,
}

impl SystemKind {
    /// Every system, in report order.
    pub const ALL: [SystemKind; 3] = [SystemKind::Alexkv, SystemKind::Rocksdb, SystemKind::Sqlite];

    /// The name used on command lines and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            SystemKind::Alexkv => "alexkv",
            SystemKind::Rocksdb => "rocksdb",
            SystemKind::Sqlite => "sqlite",
        }
    }

    /// Parses a name printed by [`SystemKind::name`].
    pub fn parse(s: &str) -> Result<SystemKind, String> {
        SystemKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown system {s:?}; expected alexkv, rocksdb or sqlite"))
    }
}

/// The RocksDB settings both RocksDB-based systems share, for a memory budget: RocksDB's best
/// point-read tuning (`optimize_for_point_lookup`, bloom filters, no compression).
/// `block_cache_bytes` is set by the caller.
pub fn rocksdb_options(sync: bool) -> Options {
    Options::balanced()
        .optimize_for_point_lookup(true)
        .bloom_bits_per_key(10.0)
        .compression(crate::Compression::None)
        .sync_writes(sync)
}

/// How alexkv splits a memory budget: hot tier, value cache, RocksDB block cache. The index is
/// not in the budget (it is memory every system pays differently: SQLite's and RocksDB's index
/// blocks live in their caches); the peak RSS reported beside the times counts everything.
pub fn alexkv_options(budget: u64, sync: bool, value_len: usize) -> Options {
    let budget = budget as usize;
    let segment = (16usize << 20).min(budget / 8).max(1 << 20);
    let hot = (budget * 6 / 10) / segment * segment;
    let cache = budget / 4;
    let mut o = rocksdb_options(sync)
        .block_cache_bytes((budget - hot - cache).max(1 << 20))
        .value_cache_bytes(cache)
        .value_cache_entries((cache / (value_len.max(1) + 64)).max(1024))
        .hot_tier_bytes(hot)
        .hot_segment_bytes(segment);
    o.max_value_bytes = o.max_value_bytes.max(value_len);
    o
}

/// One opened system.
pub enum System {
    /// alexkv (shared by every thread's handle).
    Alexkv(Arc<Db>),
    /// Plain RocksDB (shared by every thread's handle).
    Rocksdb(Arc<PlainRocks>),
    /// SQLite.
    Sqlite(SqliteKv),
}

impl System {
    /// Opens `kind` in the directory `dir` (created if missing) within `budget` bytes of cache.
    pub fn open(
        kind: SystemKind,
        dir: &Path,
        budget: u64,
        sync: bool,
        value_len: usize,
    ) -> Result<System, String> {
        Self::open_with(kind, dir, budget, sync, value_len, true)
    }

    /// [`System::open`], with alexkv's value cache and hot tier off when `alexkv_tiers` is false
    /// (its whole budget then goes to RocksDB's block cache, as for plain RocksDB): this measures
    /// what the learned index alone costs on top of RocksDB.
    pub fn open_with(
        kind: SystemKind,
        dir: &Path,
        budget: u64,
        sync: bool,
        value_len: usize,
        alexkv_tiers: bool,
    ) -> Result<System, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        Ok(match kind {
            SystemKind::Alexkv => {
                let opts = if alexkv_tiers {
                    alexkv_options(budget, sync, value_len)
                } else {
                    rocksdb_options(sync)
                        .block_cache_bytes(budget as usize)
                        .value_cache_bytes(0)
                        .value_cache_entries(0)
                        .hot_tier_bytes(0)
                };
                let db = Db::open(dir.join("alexkv"), opts).map_err(|e| e.to_string())?;
                System::Alexkv(Arc::new(db))
            }
            SystemKind::Rocksdb => {
                let o = rocksdb_options(sync).block_cache_bytes(budget as usize);
                System::Rocksdb(Arc::new(PlainRocks::open(&dir.join("rocksdb"), &o)?))
            }
            SystemKind::Sqlite => {
                let kv = SqliteKv::open(&dir.join("sqlite.db"), budget, sync)
                    .map_err(|e| e.to_string())?;
                System::Sqlite(kv)
            }
        })
    }

    /// Another handle on the same database for another thread: the same engine for alexkv and
    /// RocksDB, a new connection for SQLite (with `budget` bytes of page cache of its own).
    pub fn handle(&self, budget: u64, sync: bool) -> Result<System, String> {
        Ok(match self {
            System::Alexkv(db) => System::Alexkv(Arc::clone(db)),
            System::Rocksdb(r) => System::Rocksdb(Arc::clone(r)),
            System::Sqlite(s) => {
                System::Sqlite(SqliteKv::open(s.path(), budget, sync).map_err(|e| e.to_string())?)
            }
        })
    }

    /// The settings each system actually runs with, for the report.
    pub fn settings(&self) -> serde_json::Value {
        match self {
            System::Alexkv(db) => serde_json::to_value(db.options()).unwrap_or_default(),
            System::Rocksdb(_) => {
                serde_json::json!({"note": "alexkv's RocksDB options, block cache = budget"})
            }
            System::Sqlite(kv) => kv
                .settings()
                .ok()
                .and_then(|s| serde_json::to_value(s).ok())
                .unwrap_or_default(),
        }
    }

    /// Writes `rows` with the system's natural batch: one WriteBatch, one RocksDB batch, one
    /// SQLite transaction.
    pub fn write_rows(&mut self, rows: &[(u64, Vec<u8>)]) -> Result<(), String> {
        match self {
            System::Alexkv(db) => {
                let mut batch =
                    WriteBatch::with_capacity(rows.len(), rows.iter().map(|r| r.1.len()).sum());
                for (k, v) in rows {
                    batch.put(*k, v);
                }
                db.write(batch).map_err(|e| e.to_string())
            }
            System::Rocksdb(r) => r.write_batch(rows),
            System::Sqlite(s) => s
                .load(rows.iter().map(|(k, v)| (*k, v)))
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }

    /// Writes one value (an update or an insert).
    pub fn put(&mut self, key: u64, value: &[u8]) -> Result<(), String> {
        match self {
            System::Alexkv(db) => db.put(key, value).map_err(|e| e.to_string()),
            System::Rocksdb(r) => r.put(key, value),
            System::Sqlite(s) => s.put(key, value).map_err(|e| e.to_string()),
        }
    }

    /// Makes loaded data settle the same way for every system: RocksDB flushes its memtables,
    /// SQLite checkpoints its WAL.
    pub fn settle(&mut self) -> Result<(), String> {
        match self {
            System::Alexkv(db) => db.flush().map_err(|e| e.to_string()),
            System::Rocksdb(r) => r.flush(),
            System::Sqlite(s) => s.checkpoint().map_err(|e| e.to_string()),
        }
    }

    /// Calls `f` with the value of `key`; returns whether it was present.
    #[inline]
    pub fn get_with(&self, key: u64, f: &mut dyn FnMut(&[u8])) -> Result<bool, String> {
        match self {
            System::Alexkv(db) => db
                .get_with(key, |v| f(v))
                .map(|r| r.is_some())
                .map_err(|e| e.to_string()),
            System::Rocksdb(r) => r.get_with(key, f),
            System::Sqlite(s) => s
                .get(key, |v| f(v))
                .map(|r| r.is_some())
                .map_err(|e| e.to_string()),
        }
    }

    /// Calls `f(key, value)` for up to `n` keys `>= from`, ascending; returns how many.
    pub fn scan(
        &self,
        from: u64,
        n: usize,
        f: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<usize, String> {
        match self {
            System::Alexkv(db) => {
                let mut count = 0;
                for item in db.range(from..).take(n) {
                    let (k, v) = item.map_err(|e| e.to_string())?;
                    f(k, &v);
                    count += 1;
                }
                Ok(count)
            }
            System::Rocksdb(r) => r.scan(from, n, f),
            System::Sqlite(s) => s.scan(from, n, |k, v| f(k, v)).map_err(|e| e.to_string()),
        }
    }

    /// alexkv's statistics (None for the others).
    pub fn alexkv_stats(&self) -> Option<serde_json::Value> {
        match self {
            System::Alexkv(db) => serde_json::to_value(db.stats()).ok(),
            _ => None,
        }
    }
}
