//! The three systems the comparison programs measure, behind one small interface so every phase
//! runs the same code against each: alexkv (`Db`), plain RocksDB ([`PlainRocks`]) and SQLite
//! ([`SqliteKv`]).
//!
//! A [`System`] is an open database: it loads rows through the system's natural batched write
//! path ([`System::write_rows`]), settles ([`System::settle`]) and reports its settings and LSM
//! evidence. Reads and single writes go through a [`Session`] ([`System::session`]), which holds
//! what a phase should not rebuild per operation: for SQLite, one prepared statement per
//! operation kind.
//!
//! Keys are passed as the engine takes them (any [`Key`]: a `u64` is its 8 big-endian bytes,
//! byte strings are themselves) and handed back as bytes; every system stores and orders the
//! same bytes. [`OpenSpec::keys`] says which keys a system will hold: SQLite keeps `u64` keys as
//! its INTEGER rowid and byte keys in a BLOB key column, and alexkv sizes its value cache by the
//! key length.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::lsm::{wait_until_quiet, LsmEvidence};
use super::rocks_plain::PlainRocks;
use super::sqlite::{KeyColumn, SqliteKv, SqliteSession};
use crate::{Db, Key, Options, WriteBatch};

/// Which system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SystemKind {
    /// alexkv: learned index, value cache, hot tier, over RocksDB.
    Alexkv,
    /// RocksDB alone, tuned for point reads as RocksDB recommends ([`PlainRocks`]).
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

/// alexkv's RocksDB settings in the benchmarks: `optimize_for_point_lookup` (memtable bloom and
/// the data-block hash index), a 10-bit bloom filter, no compression, and index and filter
/// blocks held by the table readers outside the block cache, as in the plain RocksDB baseline's
/// recipe (`optimize_for_point_lookup` leaves them there): the same metadata placement on both
/// sides. (With them partitioned in a quarter-budget block cache, alexkv's RocksDB reads cost
/// ~4 µs more; history/PERFORMANCE-journal.md,
/// "Reads toward the memory floor (issue 8, second session), 2026-11-29".)
/// `block_cache_bytes` is set by the caller. (The plain RocksDB baseline has its own, RocksDB's
/// recipe: [`PlainRocks`].)
pub fn alexkv_rocksdb_options(sync: bool) -> Options {
    Options::balanced()
        .optimize_for_point_lookup(true)
        .bloom_bits_per_key(10.0)
        .compression(crate::Compression::None)
        .cache_index_and_filter_blocks(false)
        .pin_l0_filter_and_index_blocks(false)
        .sync_writes(sync)
}

/// How alexkv splits a memory budget: hot tier 65%, value cache 25%, RocksDB block cache the
/// rest (at least 1 MiB; ~13% at a 270 MB budget). Point reads fill the block cache only when
/// they walk neighbouring keys (`Options::block_cache_admission`), so most of its share stays
/// unallocated under random reads: the hot tier took 5 more points of the budget from it
/// (60% until the fifteenth session). 70% read faster at a quarter budget but its peak RSS
/// reached 1.50-1.52x RocksDB's (`internal/PERFORMANCE.md`, "Block cache admission"). The index is
/// not in the budget (it is memory every system pays differently: SQLite's and RocksDB's index
/// blocks live in their caches); the peak RSS reported beside the times counts everything.
/// The value cache's entry count is sized for keys of `key_len` bytes (8 for `u64` keys) and
/// values of `value_len` bytes.
pub fn alexkv_options(budget: u64, sync: bool, key_len: usize, value_len: usize) -> Options {
    let budget = budget as usize;
    // Whole words: a budget that is not a multiple of 64 (a byte-key run's default) would
    // otherwise give a segment size the engine refuses.
    let segment = (16usize << 20).min(budget / 8).max(1 << 20) / 8 * 8;
    let hot = (budget * 65 / 100) / segment * segment;
    let cache = budget / 4;
    let mut o = alexkv_rocksdb_options(sync)
        .block_cache_bytes((budget - hot - cache).max(1 << 20))
        .value_cache_bytes(cache)
        .value_cache_entries(
            (cache / Options::value_cache_entry_bytes(key_len, value_len)).max(1024),
        )
        .hot_tier_bytes(hot)
        .hot_segment_bytes(segment);
    o.max_value_bytes = o.max_value_bytes.max(value_len);
    o
}

/// The keys a system will hold.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum KeyShape {
    /// `u64` keys (8 bytes): SQLite stores them as its INTEGER rowid.
    #[default]
    U64,
    /// Byte-string keys of this mean length (rounded up): SQLite stores them in a BLOB key
    /// column of a `WITHOUT ROWID` table; alexkv sizes its value cache's entry count by it.
    Bytes {
        /// Mean key length in bytes.
        mean_len: usize,
    },
}

impl KeyShape {
    /// The key length alexkv sizes its value cache by.
    pub fn key_len(self) -> usize {
        match self {
            KeyShape::U64 => 8,
            KeyShape::Bytes { mean_len } => mean_len,
        }
    }

    /// How SQLite's table holds the keys.
    pub fn sqlite_column(self) -> KeyColumn {
        match self {
            KeyShape::U64 => KeyColumn::Integer,
            KeyShape::Bytes { .. } => KeyColumn::Blob,
        }
    }
}

/// How to open a system: the memory budget and what each system makes of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OpenSpec {
    /// Cache memory in bytes (alexkv splits it, see [`alexkv_options`]; plain RocksDB: block
    /// cache plus row cache; SQLite: page cache and mmap).
    pub budget: u64,
    /// fsync every commit.
    pub sync: bool,
    /// Value size in bytes (alexkv sizes its value cache by it).
    pub value_len: usize,
    /// alexkv's value cache and hot tier; off, its whole budget goes to RocksDB's block cache,
    /// which measures what the learned index alone costs on top of RocksDB.
    pub alexkv_tiers: bool,
    /// Plain RocksDB's row cache, in bytes out of the budget (see [`super::rocks_plain::RowCache`]).
    pub rocksdb_row_cache: u64,
    /// The keys the system will hold.
    pub keys: KeyShape,
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
    /// Opens `kind` in the directory `dir` (created if missing) as `spec` says.
    pub fn open(kind: SystemKind, dir: &Path, spec: &OpenSpec) -> Result<System, String> {
        let OpenSpec {
            budget,
            sync,
            value_len,
            alexkv_tiers,
            rocksdb_row_cache,
            keys,
        } = *spec;
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        Ok(match kind {
            SystemKind::Alexkv => {
                let opts = if alexkv_tiers {
                    alexkv_options(budget, sync, keys.key_len(), value_len)
                } else {
                    alexkv_rocksdb_options(sync)
                        .block_cache_bytes(budget as usize)
                        .value_cache_bytes(0)
                        .value_cache_entries(0)
                        .hot_tier_bytes(0)
                };
                // `ALEXKV_*` variables adjust alexkv's side for experiments; the `lsm` block of
                // the report records the options RocksDB ended up with.
                let opts = opts.with_env_overrides().map_err(|e| e.to_string())?;
                let db = Db::open(dir.join("alexkv"), opts).map_err(|e| e.to_string())?;
                System::Alexkv(Arc::new(db))
            }
            SystemKind::Rocksdb => System::Rocksdb(Arc::new(PlainRocks::open(
                &dir.join("rocksdb"),
                budget,
                rocksdb_row_cache,
                sync,
            )?)),
            SystemKind::Sqlite => {
                let kv = SqliteKv::open(&dir.join("sqlite.db"), budget, sync, keys.sqlite_column())
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
            System::Sqlite(s) => System::Sqlite(
                SqliteKv::open(s.path(), budget, sync, s.key_column())
                    .map_err(|e| e.to_string())?,
            ),
        })
    }

    /// The settings each system actually runs with, for the report.
    pub fn settings(&self) -> serde_json::Value {
        match self {
            System::Alexkv(db) => serde_json::to_value(db.options()).unwrap_or_default(),
            System::Rocksdb(r) => r.settings(),
            System::Sqlite(kv) => kv
                .settings()
                .ok()
                .and_then(|s| serde_json::to_value(s).ok())
                .unwrap_or_default(),
        }
    }

    /// Writes `rows` with the system's natural batch: one WriteBatch, one RocksDB batch, one
    /// SQLite transaction.
    pub fn write_rows<K: Key>(&mut self, rows: &[(K, Vec<u8>)]) -> Result<(), String> {
        match self {
            System::Alexkv(db) => {
                let mut batch =
                    WriteBatch::with_capacity(rows.len(), rows.iter().map(|r| r.1.len()).sum());
                for (k, v) in rows {
                    batch.put(k, v);
                }
                db.write(batch).map_err(|e| e.to_string())
            }
            System::Rocksdb(r) => r.write_batch(rows),
            System::Sqlite(s) => s
                .load(rows.iter().map(|(k, v)| (k, v)))
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }

    /// Brings the loaded data to a steady state before any timed read, the same way for every
    /// system (BENCHMARKING.md, "Steady state"): RocksDB (alexkv's and the plain one) flushes,
    /// compacts the whole key range and waits until no flush or compaction is pending or
    /// running; SQLite checkpoints its WAL into the database file (`TRUNCATE`).
    pub fn settle(&mut self) -> Result<(), String> {
        match self {
            System::Alexkv(db) => {
                let e = |e: crate::Error| e.to_string();
                db.flush().map_err(e)?;
                db.compact().map_err(e)?;
                db.wait_for_compactions().map_err(e)?;
                wait_until_quiet(&|name| db.rocksdb_property(name).map_err(e))
            }
            System::Rocksdb(r) => r.settle(),
            System::Sqlite(s) => s.checkpoint().map_err(|e| e.to_string()),
        }
    }

    /// The LSM tree's shape, cache figures and effective options, for the systems that have one
    /// (alexkv's RocksDB and plain RocksDB; `None` for SQLite).
    pub fn lsm_evidence(&self) -> Result<Option<LsmEvidence>, String> {
        match self {
            System::Alexkv(db) => {
                let prop = |name: &str| db.rocksdb_property(name).map_err(|e| e.to_string());
                LsmEvidence::gather(&prop, db.path()).map(Some)
            }
            System::Rocksdb(r) => LsmEvidence::gather(&|name| r.property(name), r.path()).map(Some),
            System::Sqlite(_) => Ok(None),
        }
    }

    /// A session for a phase of reads and single writes on this handle.
    pub fn session(&self) -> Result<Session<'_>, String> {
        Ok(match self {
            System::Alexkv(db) => Session::Alexkv(db),
            System::Rocksdb(r) => Session::Rocksdb(r),
            System::Sqlite(s) => Session::Sqlite(s.session().map_err(|e| e.to_string())?),
        })
    }

    /// alexkv's statistics (None for the others).
    pub fn alexkv_stats(&self) -> Option<serde_json::Value> {
        match self {
            System::Alexkv(db) => serde_json::to_value(db.stats()).ok(),
            _ => None,
        }
    }
}

/// Reads and single writes on one [`System`] handle, for the length of a phase.
pub enum Session<'a> {
    /// alexkv: nothing to prepare.
    Alexkv(&'a Db),
    /// Plain RocksDB: its `ReadOptions` is built once at open already.
    Rocksdb(&'a PlainRocks),
    /// SQLite: one prepared statement per operation kind, held until the session ends.
    Sqlite(SqliteSession<'a>),
}

impl Session<'_> {
    /// Calls `f` with the value of `key`; returns whether it was present.
    #[inline]
    pub fn get_with(&mut self, key: impl Key, f: &mut dyn FnMut(&[u8])) -> Result<bool, String> {
        match self {
            Session::Alexkv(db) => db
                .get_with(key, |v| f(v))
                .map(|r| r.is_some())
                .map_err(|e| e.to_string()),
            Session::Rocksdb(r) => r.get_with(key, f),
            Session::Sqlite(s) => s
                .get(key, |v| f(v))
                .map(|r| r.is_some())
                .map_err(|e| e.to_string()),
        }
    }

    /// Calls `f(key, value)` for up to `n` keys `>= from`, ascending (keys as their bytes);
    /// returns how many.
    pub fn scan<K: Key>(
        &mut self,
        from: K,
        n: usize,
        f: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize, String> {
        match self {
            Session::Alexkv(db) => db
                .scan_with(from.., n, |k, v| {
                    f(k, v);
                    std::ops::ControlFlow::Continue(())
                })
                .map_err(|e| e.to_string()),
            Session::Rocksdb(r) => r.scan(from, n, f),
            Session::Sqlite(s) => s.scan(from, n, |k, v| f(k, v)).map_err(|e| e.to_string()),
        }
    }

    /// Writes one value (an update or an insert), durably as the system's write options say.
    pub fn put(&mut self, key: impl Key, value: &[u8]) -> Result<(), String> {
        match self {
            Session::Alexkv(db) => db.put(key, value).map_err(|e| e.to_string()),
            Session::Rocksdb(r) => r.put(key, value),
            Session::Sqlite(s) => s.put(key, value).map_err(|e| e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_budget_splits_into_options_the_engine_accepts() {
        for budget in [1 << 20, 540_000, 64 << 20, 73_728_015, 3_000_000_007] {
            for key_len in [8, 23, 49] {
                let o = alexkv_options(budget, false, key_len, 100);
                assert!(o.validate().is_ok(), "budget {budget}: {:?}", o.validate());
            }
        }
        // The split of a budget that always worked is unchanged.
        assert_eq!(
            alexkv_options(64 << 20, false, 8, 100).hot_segment_bytes,
            8 << 20
        );
    }
}
