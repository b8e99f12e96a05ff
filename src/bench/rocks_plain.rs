//! The plain RocksDB baseline: the same RocksDB options alexkv uses for its own RocksDB layer
//! (built by the same `Options` mapping), keys as 8-byte big-endian, and nothing else: no learned
//! index, no value cache, no hot tier.

use std::path::Path;

use rocksdb::{WriteBatch as RocksBatch, WriteOptions, DB};

use crate::Options;

/// A RocksDB database used directly.
pub struct PlainRocks {
    db: DB,
    write: WriteOptions,
}

impl PlainRocks {
    /// Opens (creating) a RocksDB database at `path` with `options`' RocksDB settings.
    pub fn open(path: &Path, options: &Options) -> Result<Self, String> {
        let mut o = options.to_rocksdb();
        o.create_if_missing(true);
        let db = DB::open(&o, path).map_err(|e| format!("rocksdb open {}: {e}", path.display()))?;
        Ok(PlainRocks {
            db,
            write: options.to_write_options(),
        })
    }

    /// Writes `rows` in one atomic batch.
    pub fn write_batch(&self, rows: &[(u64, Vec<u8>)]) -> Result<(), String> {
        let mut batch = RocksBatch::default();
        for (k, v) in rows {
            batch.put(k.to_be_bytes(), v);
        }
        self.db
            .write_opt(batch, &self.write)
            .map_err(|e| e.to_string())
    }

    /// Writes one value.
    pub fn put(&self, key: u64, value: &[u8]) -> Result<(), String> {
        self.db
            .put_opt(key.to_be_bytes(), value, &self.write)
            .map_err(|e| e.to_string())
    }

    /// Calls `f` with the value of `key` (pinned, no copy); returns whether it was present.
    pub fn get_with(&self, key: u64, f: &mut dyn FnMut(&[u8])) -> Result<bool, String> {
        match self
            .db
            .get_pinned(key.to_be_bytes())
            .map_err(|e| e.to_string())?
        {
            Some(v) => {
                f(&v);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Calls `f(key, value)` for up to `n` keys `>= from`, ascending; returns how many.
    pub fn scan(
        &self,
        from: u64,
        n: usize,
        f: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<usize, String> {
        let mut it = self.db.raw_iterator();
        it.seek(from.to_be_bytes());
        let mut count = 0;
        while count < n && it.valid() {
            let (Some(k), Some(v)) = (it.key(), it.value()) else {
                break;
            };
            let key =
                u64::from_be_bytes(k.try_into().map_err(|_| "key is not 8 bytes".to_string())?);
            f(key, v);
            count += 1;
            it.next();
        }
        it.status().map_err(|e| e.to_string())?;
        Ok(count)
    }

    /// Flushes the memtables to SST files.
    pub fn flush(&self) -> Result<(), String> {
        self.db.flush().map_err(|e| e.to_string())
    }
}
