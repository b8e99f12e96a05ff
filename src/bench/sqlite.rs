//! The SQLite baseline, tuned the way the fastest SQLite key-value setups are.
//!
//! Settings (BENCHMARKING.md, "Fair configuration"), all applied by [`SqliteKv::open`] and read
//! back by [`SqliteKv::settings`] so the report states what SQLite actually used:
//!
//! | setting        | value                                                                     |
//! |----------------|---------------------------------------------------------------------------|
//! | `journal_mode` | `WAL`                                                                     |
//! | `synchronous`  | `NORMAL` (survives a process crash, no fsync per commit); `FULL` with sync |
//! | `temp_store`   | `MEMORY`                                                                  |
//! | `cache_size`   | `-(budget / 1024)`, i.e. the memory budget in KiB                         |
//! | `mmap_size`    | the budget (SQLite caps it at its compile-time maximum, 2 GiB by default)  |
//! | table          | `u64` keys ([`KeyColumn::Integer`]): `kv(k INTEGER PRIMARY KEY, v BLOB    |
//! |                | NOT NULL)`: the key is the rowid, so the table is a single B-tree keyed   |
//! |                | by `k` with the value in the leaf. Byte keys ([`KeyColumn::Blob`]):       |
//! |                | `kv(k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`: again one B-tree |
//! |                | keyed by `k` with the value in the leaf (a rowid table would add a second |
//! |                | B-tree, the key's index, and a lookup in each)                            |
//! | statements     | a read or write phase holds one prepared statement per operation kind     |
//! |                | for its whole length ([`SqliteSession`]); the one-off methods of           |
//! |                | [`SqliteKv`] take theirs from rusqlite's statement cache                   |
//! | loads          | [`SqliteKv::load`] commits every [`LOAD_BATCH_ROWS`] rows                  |
//! | settling       | [`SqliteKv::checkpoint`]: `wal_checkpoint(TRUNCATE)` after a load          |
//!
//! Single operations ([`SqliteKv::put`], [`SqliteSession::put`], [`SqliteKv::delete`]) run in
//! autocommit mode, one transaction each, like a single `Db::put` of the engine.
//!
//! Every method takes a key as the engine does (any [`Key`]: a `u64` is its 8 big-endian bytes)
//! and hands keys back as bytes. In an INTEGER key column a key must be 8 bytes, a `u64`;
//! SQLite integers are `i64`, and [`key_to_sql`] flips the sign bit, which maps `0..=u64::MAX`
//! onto `i64::MIN..=i64::MAX` preserving order. A BLOB key column compares keys with `memcmp`,
//! a key before its extensions. Either way `ORDER BY k` and range scans see the engine's order.
//!
//! ```
//! use alexkv::bench::sqlite::{KeyColumn, SqliteKv};
//! let dir = tempfile::tempdir().unwrap();
//! let mut db =
//!     SqliteKv::open(&dir.path().join("kv.sqlite"), 64 << 20, false, KeyColumn::Integer).unwrap();
//! db.load([(1u64, b"one".to_vec()), (u64::MAX, b"max".to_vec())]).unwrap();
//! assert_eq!(db.get(1u64, |v| v.to_vec()).unwrap(), Some(b"one".to_vec()));
//! let mut seen = Vec::new();
//! db.scan(0u64, 10, |k, _| seen.push(k.to_vec())).unwrap();
//! assert_eq!(seen, vec![1u64.to_be_bytes(), u64::MAX.to_be_bytes()]);
//!
//! let mut urls =
//!     SqliteKv::open(&dir.path().join("urls.sqlite"), 64 << 20, false, KeyColumn::Blob).unwrap();
//! urls.load([("https://b.org/", b"b"), ("https://a.com/x", b"a")]).unwrap();
//! let mut seen = Vec::new();
//! urls.scan("https://a", 10, |k, _| seen.push(k.to_vec())).unwrap();
//! assert_eq!(seen, vec![b"https://a.com/x".to_vec(), b"https://b.org/".to_vec()]);
//! ```

use std::path::{Path, PathBuf};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Statement, ToSql, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::Key;

/// Rows per transaction in [`SqliteKv::load`].
pub const LOAD_BATCH_ROWS: usize = 10_000;

const SQL_GET: &str = "SELECT v FROM kv WHERE k = ?1";
const SQL_PUT: &str = "INSERT OR REPLACE INTO kv(k, v) VALUES (?1, ?2)";
const SQL_DELETE: &str = "DELETE FROM kv WHERE k = ?1";
const SQL_SCAN: &str = "SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2";

/// How the table holds its keys (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyColumn {
    /// `u64` keys (8 bytes each) as the rowid: `k INTEGER PRIMARY KEY`.
    #[default]
    Integer,
    /// Byte-string keys: `k BLOB PRIMARY KEY` of a `WITHOUT ROWID` table.
    Blob,
}

impl KeyColumn {
    /// The table's definition.
    pub fn create_table(self) -> &'static str {
        match self {
            KeyColumn::Integer => {
                "CREATE TABLE IF NOT EXISTS kv(k INTEGER PRIMARY KEY, v BLOB NOT NULL)"
            }
            KeyColumn::Blob => {
                "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID"
            }
        }
    }
}

/// Maps a `u64` key to the SQLite integer that sorts in the same position.
#[inline]
pub fn key_to_sql(key: u64) -> i64 {
    (key ^ (1 << 63)) as i64
}

/// Inverse of [`key_to_sql`].
#[inline]
pub fn key_from_sql(k: i64) -> u64 {
    (k as u64) ^ (1 << 63)
}

/// A key bound to a statement in the form its column holds: an integer ([`key_to_sql`] of the
/// 8 bytes) or the bytes themselves. Binding it allocates nothing of its own.
struct KeyParam<'a> {
    column: KeyColumn,
    bytes: crate::KeyBytes<'a>,
}

impl<'a> KeyParam<'a> {
    #[inline]
    fn new<K: Key + ?Sized>(column: KeyColumn, key: &'a K) -> rusqlite::Result<Self> {
        let bytes = key
            .key_bytes()
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.to_string().into()))?;
        Ok(KeyParam { column, bytes })
    }
}

impl ToSql for KeyParam<'_> {
    #[inline]
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self.column {
            KeyColumn::Integer => match <[u8; 8]>::try_from(&*self.bytes) {
                Ok(word) => Ok(ToSqlOutput::from(key_to_sql(u64::from_be_bytes(word)))),
                Err(_) => Err(rusqlite::Error::ToSqlConversionFailure(
                    format!(
                        "a {}-byte key for an INTEGER key column, which holds 8-byte u64 keys",
                        self.bytes.len()
                    )
                    .into(),
                )),
            },
            KeyColumn::Blob => Ok(ToSqlOutput::Borrowed(ValueRef::Blob(&self.bytes))),
        }
    }
}

/// The settings SQLite reports it is using, for the benchmark's JSON and table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqliteSettings {
    /// SQLite library version, e.g. `3.50.2`.
    pub sqlite_version: String,
    /// `PRAGMA journal_mode`.
    pub journal_mode: String,
    /// `PRAGMA synchronous`: 1 = NORMAL, 2 = FULL.
    pub synchronous: i64,
    /// `PRAGMA temp_store`: 2 = MEMORY.
    pub temp_store: i64,
    /// `PRAGMA cache_size` (negative: KiB).
    pub cache_size: i64,
    /// `PRAGMA mmap_size` in bytes, after SQLite's own cap.
    pub mmap_size: i64,
    /// `PRAGMA page_size` in bytes.
    pub page_size: i64,
    /// The table definition.
    pub schema: String,
    /// Rows per load transaction.
    pub load_batch_rows: usize,
}

/// A key-value store on one SQLite table; see the module documentation for its settings.
pub struct SqliteKv {
    conn: Connection,
    path: PathBuf,
    column: KeyColumn,
}

impl SqliteKv {
    /// Opens or creates the database file at `path` with a memory budget of `budget_bytes`
    /// (page cache and mmap; 0 leaves SQLite's defaults), `synchronous=FULL` if `sync`, and its
    /// keys held as `column` says (an existing table keeps the definition it has).
    pub fn open(
        path: &Path,
        budget_bytes: u64,
        sync: bool,
        column: KeyColumn,
    ) -> rusqlite::Result<SqliteKv> {
        let conn = Connection::open(path)?;
        // Several connections (one per benchmark thread) share the file; a writer waits for
        // another rather than failing with SQLITE_BUSY.
        conn.busy_timeout(std::time::Duration::from_secs(60))?;
        // journal_mode answers with the mode it switched to; anything but "wal" is a failure
        // worth knowing about (for example on a filesystem without shared memory).
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
                Some(format!("journal_mode=WAL refused, got {mode}")),
            ));
        }
        conn.pragma_update(None, "synchronous", if sync { "FULL" } else { "NORMAL" })?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        if budget_bytes > 0 {
            let kib = i64::try_from(budget_bytes / 1024).unwrap_or(i64::MAX);
            conn.pragma_update(None, "cache_size", -kib.max(1))?;
            let mmap = i64::try_from(budget_bytes).unwrap_or(i64::MAX);
            // mmap_size also answers with the value it took.
            let _: Option<i64> = conn
                .query_row(&format!("PRAGMA mmap_size={mmap}"), [], |r| r.get(0))
                .optional()?;
        }
        conn.execute_batch(column.create_table())?;
        Ok(SqliteKv {
            conn,
            path: path.to_owned(),
            column,
        })
    }

    /// The database file's path (the WAL and shared-memory files sit beside it).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the table holds its keys.
    pub fn key_column(&self) -> KeyColumn {
        self.column
    }

    /// The settings in effect, read back from SQLite.
    pub fn settings(&self) -> rusqlite::Result<SqliteSettings> {
        let int = |name: &str| -> rusqlite::Result<i64> {
            self.conn.pragma_query_value(None, name, |r| r.get(0))
        };
        Ok(SqliteSettings {
            sqlite_version: rusqlite::version().to_owned(),
            journal_mode: self
                .conn
                .pragma_query_value(None, "journal_mode", |r| r.get(0))?,
            synchronous: int("synchronous")?,
            temp_store: int("temp_store")?,
            cache_size: int("cache_size")?,
            mmap_size: int("mmap_size")?,
            page_size: int("page_size")?,
            schema: self.column.create_table().to_owned(),
            load_batch_rows: LOAD_BATCH_ROWS,
        })
    }

    /// Inserts (or replaces) every `(key, value)`, committing every [`LOAD_BATCH_ROWS`] rows.
    /// Returns the number of rows written.
    pub fn load<I, K, V>(&mut self, items: I) -> rusqlite::Result<u64>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Key,
        V: AsRef<[u8]>,
    {
        let mut items = items.into_iter().peekable();
        let mut written = 0u64;
        while items.peek().is_some() {
            let tx = self.conn.transaction()?;
            {
                let mut put = tx.prepare_cached(SQL_PUT)?;
                for (key, value) in items.by_ref().take(LOAD_BATCH_ROWS) {
                    put.execute(params![KeyParam::new(self.column, &key)?, value.as_ref()])?;
                    written += 1;
                }
            }
            tx.commit()?;
        }
        Ok(written)
    }

    /// Calls `f` with the value of `key` and returns its result, or `None` if absent.
    ///
    /// The value is borrowed from SQLite's row buffer: no copy unless `f` makes one.
    pub fn get<R>(&self, key: impl Key, f: impl FnOnce(&[u8]) -> R) -> rusqlite::Result<Option<R>> {
        let mut get = self.conn.prepare_cached(SQL_GET)?;
        get_row(&mut get, KeyParam::new(self.column, &key)?, f)
    }

    /// Calls `f(key, value)` for up to `n` keys `>= from` in ascending order; returns how many.
    pub fn scan(
        &self,
        from: impl Key,
        n: usize,
        f: impl FnMut(&[u8], &[u8]),
    ) -> rusqlite::Result<usize> {
        let mut scan = self.conn.prepare_cached(SQL_SCAN)?;
        scan_rows(&mut scan, KeyParam::new(self.column, &from)?, n, f)
    }

    /// Inserts or replaces one key, in its own transaction.
    pub fn put(&mut self, key: impl Key, value: &[u8]) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached(SQL_PUT)?
            .execute(params![KeyParam::new(self.column, &key)?, value])?;
        Ok(())
    }

    /// Deletes one key, in its own transaction; `true` if it was present.
    pub fn delete(&mut self, key: impl Key) -> rusqlite::Result<bool> {
        let n = self
            .conn
            .prepare_cached(SQL_DELETE)?
            .execute([KeyParam::new(self.column, &key)?])?;
        Ok(n > 0)
    }

    /// Reads `key`, computes its new value with `f(old)` and writes it, all in one write
    /// transaction (`BEGIN IMMEDIATE`, so no other writer can slip in between).
    pub fn read_modify_write(
        &mut self,
        key: impl Key,
        f: impl FnOnce(Option<&[u8]>) -> Vec<u8>,
    ) -> rusqlite::Result<()> {
        let column = self.column;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut get = tx.prepare_cached(SQL_GET)?;
            let mut rows = get.query([KeyParam::new(column, &key)?])?;
            let new_value = match rows.next()? {
                Some(row) => f(Some(row.get_ref(0)?.as_blob()?)),
                None => f(None),
            };
            drop(rows);
            tx.prepare_cached(SQL_PUT)?
                .execute(params![KeyParam::new(column, &key)?, new_value])?;
        }
        tx.commit()
    }

    /// Number of rows (a full count: for tests and sanity checks, not for timed loops).
    pub fn len(&self) -> rusqlite::Result<u64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM kv", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    }

    /// `true` if the table has no rows.
    pub fn is_empty(&self) -> rusqlite::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Copies the WAL into the main file and truncates it (`wal_checkpoint(TRUNCATE)`), so
    /// reads after a load find every page in the database file and the bytes on disk are the
    /// database's, not a transient log's. Fails if another connection kept the checkpoint from
    /// completing.
    pub fn checkpoint(&self) -> rusqlite::Result<()> {
        let (busy, log, done): (i64, i64, i64) =
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
        if busy != 0 || done < log {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                Some(format!(
                    "wal_checkpoint(TRUNCATE) incomplete: busy {busy}, {done} of {log} frames"
                )),
            ));
        }
        Ok(())
    }

    /// Prepares the statements of a phase: they stay prepared until the session is dropped, so
    /// each operation only binds, steps and resets (no statement-cache lookup).
    pub fn session(&self) -> rusqlite::Result<SqliteSession<'_>> {
        Ok(SqliteSession {
            get: self.conn.prepare(SQL_GET)?,
            scan: self.conn.prepare(SQL_SCAN)?,
            put: self.conn.prepare(SQL_PUT)?,
            column: self.column,
        })
    }
}

/// One prepared statement per operation kind, held for a whole read or write phase.
///
/// A statement is reset as soon as its rows are dropped (at the end of each call), so a session
/// holds no read transaction open between operations.
///
/// ```
/// use alexkv::bench::sqlite::{KeyColumn, SqliteKv};
/// let dir = tempfile::tempdir().unwrap();
/// let db = SqliteKv::open(&dir.path().join("kv.sqlite"), 1 << 20, false, KeyColumn::Integer)
///     .unwrap();
/// let mut s = db.session().unwrap();
/// s.put(5u64, b"five").unwrap();
/// assert_eq!(s.get(5u64, |v| v.to_vec()).unwrap(), Some(b"five".to_vec()));
/// assert_eq!(s.get(&5u64.to_be_bytes()[..], |v| v.len()).unwrap(), Some(4));
/// assert_eq!(s.scan(0u64, 10, |_, _| {}).unwrap(), 1);
/// ```
pub struct SqliteSession<'c> {
    get: Statement<'c>,
    scan: Statement<'c>,
    put: Statement<'c>,
    column: KeyColumn,
}

impl SqliteSession<'_> {
    /// [`SqliteKv::get`] on the held statement.
    #[inline]
    pub fn get<R>(
        &mut self,
        key: impl Key,
        f: impl FnOnce(&[u8]) -> R,
    ) -> rusqlite::Result<Option<R>> {
        get_row(&mut self.get, KeyParam::new(self.column, &key)?, f)
    }

    /// [`SqliteKv::scan`] on the held statement.
    pub fn scan(
        &mut self,
        from: impl Key,
        n: usize,
        f: impl FnMut(&[u8], &[u8]),
    ) -> rusqlite::Result<usize> {
        scan_rows(&mut self.scan, KeyParam::new(self.column, &from)?, n, f)
    }

    /// [`SqliteKv::put`] on the held statement (autocommit: one transaction).
    pub fn put(&mut self, key: impl Key, value: &[u8]) -> rusqlite::Result<()> {
        self.put
            .execute(params![KeyParam::new(self.column, &key)?, value])?;
        Ok(())
    }
}

/// Runs the prepared get statement (`SQL_GET`) for `key`, calling `f` with the value.
#[inline]
fn get_row<R>(
    get: &mut Statement<'_>,
    key: KeyParam<'_>,
    f: impl FnOnce(&[u8]) -> R,
) -> rusqlite::Result<Option<R>> {
    let mut rows = get.query([key])?;
    match rows.next()? {
        Some(row) => Ok(Some(f(row.get_ref(0)?.as_blob()?))),
        None => Ok(None),
    }
}

/// Runs the prepared scan statement (`SQL_SCAN`) from `from` for up to `n` rows, calling
/// `f(key, value)` on each (an INTEGER key as its 8 big-endian bytes); returns how many.
fn scan_rows(
    scan: &mut Statement<'_>,
    from: KeyParam<'_>,
    n: usize,
    mut f: impl FnMut(&[u8], &[u8]),
) -> rusqlite::Result<usize> {
    let column = from.column;
    let limit = i64::try_from(n).unwrap_or(i64::MAX);
    let mut rows = scan.query(params![from, limit])?;
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let value = row.get_ref(1)?.as_blob()?;
        match column {
            KeyColumn::Integer => f(&key_from_sql(row.get(0)?).to_be_bytes(), value),
            KeyColumn::Blob => f(row.get_ref(0)?.as_blob()?, value),
        }
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::keys::u64_key;
    use crate::bench::values::{check_value, value_vec};

    fn open_temp(sync: bool) -> (tempfile::TempDir, SqliteKv) {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteKv::open(
            &dir.path().join("kv.sqlite"),
            8 << 20,
            sync,
            KeyColumn::Integer,
        )
        .unwrap();
        (dir, db)
    }

    #[test]
    fn key_mapping_preserves_order_at_the_sign_boundary() {
        let keys = [
            0,
            1,
            (1 << 63) - 1,
            1 << 63,
            (1 << 63) + 1,
            u64::MAX - 1,
            u64::MAX,
        ];
        for w in keys.windows(2) {
            assert!(key_to_sql(w[0]) < key_to_sql(w[1]));
        }
        for k in keys {
            assert_eq!(key_from_sql(key_to_sql(k)), k);
        }
        assert_eq!(key_to_sql(0), i64::MIN);
        assert_eq!(key_to_sql(u64::MAX), i64::MAX);
    }

    #[test]
    fn open_applies_the_documented_settings() {
        let (_dir, db) = open_temp(false);
        let s = db.settings().unwrap();
        assert_eq!(s.journal_mode.to_lowercase(), "wal");
        assert_eq!(s.synchronous, 1);
        assert_eq!(s.temp_store, 2);
        assert_eq!(s.cache_size, -8192);
        assert_eq!(s.mmap_size, 8 << 20);
        assert_eq!(s.load_batch_rows, 10_000);
        let (_dir, db) = open_temp(true);
        assert_eq!(db.settings().unwrap().synchronous, 2);
    }

    #[test]
    fn load_in_batches_then_every_value_reads_back() {
        let (_dir, mut db) = open_temp(false);
        let n = 25_001u64; // spans three load transactions
        let written = db
            .load((0..n).map(|i| (i * 7919, value_vec(i * 7919, 100))))
            .unwrap();
        assert_eq!(written, n);
        assert_eq!(db.len().unwrap(), n);
        for i in (0..n).step_by(97) {
            let k = i * 7919;
            assert_eq!(db.get(k, |v| check_value(k, v, 100)).unwrap(), Some(true));
        }
        assert_eq!(db.get(1, |v| v.len()).unwrap(), None);
        db.checkpoint().unwrap();
    }

    #[test]
    fn scan_returns_keys_in_u64_order_across_the_sign_bit() {
        let (_dir, mut db) = open_temp(false);
        let keys = [u64::MAX, 0, 1 << 63, 5, (1 << 63) - 1];
        db.load(keys.iter().map(|&k| (k, value_vec(k, 10))))
            .unwrap();
        let mut seen = Vec::new();
        let n = db
            .scan(1, 10, |k, v| {
                assert!(check_value(u64_key(k), v, 10));
                seen.push(u64_key(k));
            })
            .unwrap();
        assert_eq!(n, 4);
        assert_eq!(seen, vec![5, (1 << 63) - 1, 1 << 63, u64::MAX]);
        seen.clear();
        db.scan(0, 2, |k, _| seen.push(u64_key(k))).unwrap();
        assert_eq!(seen, vec![0, 5]);
        assert_eq!(db.scan(u64::MAX, 10, |_, _| {}).unwrap(), 1);
    }

    #[test]
    fn put_delete_and_read_modify_write_change_single_keys() {
        let (_dir, mut db) = open_temp(false);
        assert!(db.is_empty().unwrap());
        db.put(42, b"a").unwrap();
        db.put(42, b"b").unwrap();
        assert_eq!(db.get(42, |v| v.to_vec()).unwrap(), Some(b"b".to_vec()));
        db.read_modify_write(42, |old| {
            let mut v = old.unwrap().to_vec();
            v.push(b'c');
            v
        })
        .unwrap();
        assert_eq!(db.get(42, |v| v.to_vec()).unwrap(), Some(b"bc".to_vec()));
        db.read_modify_write(43, |old| {
            assert!(old.is_none());
            b"new".to_vec()
        })
        .unwrap();
        assert_eq!(db.len().unwrap(), 2);
        assert!(db.delete(42).unwrap());
        assert!(!db.delete(42).unwrap());
        assert_eq!(db.get(42, |_| ()).unwrap(), None);
    }

    #[test]
    fn session_statements_see_writes_and_leave_the_wal_checkpointable() {
        let (_dir, mut db) = open_temp(false);
        db.load((0..1_000u64).map(|k| (k, value_vec(k, 50))))
            .unwrap();
        {
            let mut s = db.session().unwrap();
            for k in (0..1_000u64).step_by(7) {
                assert_eq!(s.get(k, |v| check_value(k, v, 50)).unwrap(), Some(true));
            }
            assert_eq!(s.get(5_000, |_| ()).unwrap(), None);
            s.put(5_000, b"new").unwrap();
            assert_eq!(s.get(5_000, |v| v.to_vec()).unwrap(), Some(b"new".to_vec()));
            let mut seen = Vec::new();
            assert_eq!(s.scan(998, 10, |k, _| seen.push(u64_key(k))).unwrap(), 3);
            assert_eq!(seen, vec![998, 999, 5_000]);
            // Statements held, but reset: nothing keeps the checkpoint from finishing.
            db.checkpoint().unwrap();
        }
        assert_eq!(db.len().unwrap(), 1_001);
    }

    #[test]
    fn a_blob_key_table_orders_keys_bytewise_and_refuses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = SqliteKv::open(
            &dir.path().join("kv.sqlite"),
            8 << 20,
            false,
            KeyColumn::Blob,
        )
        .unwrap();
        assert!(db.settings().unwrap().schema.contains("WITHOUT ROWID"));
        let keys: [&[u8]; 6] = [b"ab", b"", b"ab\0", b"abc", b"\xff", b"b"];
        db.load(keys.iter().map(|k| (*k, k.to_vec()))).unwrap();
        assert_eq!(db.len().unwrap(), 6);
        let mut seen = Vec::new();
        db.scan(&b""[..], 10, |k, v| {
            assert_eq!(k, v);
            seen.push(k.to_vec());
        })
        .unwrap();
        let mut sorted: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
        sorted.sort();
        assert_eq!(seen, sorted, "memcmp order, a key before its extensions");
        let mut s = db.session().unwrap();
        assert_eq!(s.get("ab\0", |v| v.len()).unwrap(), Some(3));
        assert_eq!(s.get("a", |v| v.len()).unwrap(), None);
        // 8 bytes are a byte key like any other here, not an integer.
        s.put(7u64, b"seven").unwrap();
        assert_eq!(
            s.get(&7u64.to_be_bytes()[..], |v| v.to_vec()).unwrap(),
            Some(b"seven".to_vec())
        );
        drop(s);
        db.read_modify_write("b", |old| [old.unwrap(), b"!"].concat())
            .unwrap();
        assert_eq!(db.get("b", |v| v.to_vec()).unwrap(), Some(b"b!".to_vec()));
        assert!(db.delete("abc").unwrap());
    }

    #[test]
    fn an_integer_key_column_refuses_keys_that_are_not_8_bytes() {
        let (_dir, mut db) = open_temp(false);
        assert!(db.put("short", b"x").is_err());
        assert!(db.get(&[0u8; 9][..], |_| ()).is_err());
        db.put(&3u64.to_be_bytes()[..], b"three").unwrap();
        assert_eq!(db.get(3, |v| v.to_vec()).unwrap(), Some(b"three".to_vec()));
    }

    #[test]
    fn data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.sqlite");
        {
            let mut db = SqliteKv::open(&path, 1 << 20, false, KeyColumn::Integer).unwrap();
            db.put(7, b"seven").unwrap();
        }
        let db = SqliteKv::open(&path, 1 << 20, false, KeyColumn::Integer).unwrap();
        assert_eq!(db.get(7, |v| v.to_vec()).unwrap(), Some(b"seven".to_vec()));
        assert_eq!(db.path(), path);
    }
}
