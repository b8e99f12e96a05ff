//! The snapshot marker: one record inside RocksDB that says "the index snapshot with this
//! token describes the database as it is".
//!
//! The engine's index snapshot is a file beside RocksDB's, and a file can outlive the state it
//! describes: its unlink can be lost in a power failure, or an old copy of the directory's
//! files can be put back. RocksDB's sequence number alone cannot tell (an SST ingestion that
//! overlaps nothing is assigned sequence 0 and leaves it unchanged). The marker can, because it
//! lives inside RocksDB and changes with it:
//!
//! * at a clean close the engine writes a fresh random token here (WAL on, fsync, then a flush
//!   of this column family), and only then writes the snapshot file carrying the same token;
//! * before the first change of a session (write, delete, ingestion) the engine deletes the
//!   marker, durably, and only then changes RocksDB;
//! * at open the snapshot is trusted only if its token equals the marker.
//!
//! So any change after the snapshot was taken implies the marker's deletion was durable first
//! (RocksDB recovers a prefix of its log, and the deletion is also fsynced and flushed), and a
//! crash between the marker write and the snapshot file leaves a token no file carries.
//!
//! The marker lives in its own column family, `alexkv_meta`, so it never shows among the
//! user's keys, which are all 8 bytes in the default family. Its writes always use the WAL and
//! fsync, whatever `Options::wal_enabled` says, and are flushed at once so the tiny family never
//! holds old WAL files alive.

use super::RocksStore;
use crate::error::{Error, Result};
use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, WriteOptions};

/// Name of the column family of engine metadata.
pub(crate) const META_FAMILY: &str = "alexkv_meta";
/// Key of the snapshot marker inside [`META_FAMILY`].
const MARKER_KEY: &[u8] = b"snapshot-marker";

/// The descriptor of the meta column family: small memtables, nothing else to tune.
pub(super) fn meta_family() -> ColumnFamilyDescriptor {
    let mut opts = rocksdb::Options::default();
    opts.set_write_buffer_size(64 << 10);
    ColumnFamilyDescriptor::new(META_FAMILY, opts)
}

/// Write options for the marker: logged and fsynced whatever the user's options say.
fn durable() -> WriteOptions {
    let mut w = WriteOptions::default();
    w.disable_wal(false);
    w.set_sync(true);
    w
}

impl RocksStore {
    fn meta(&self) -> Result<&ColumnFamily> {
        self.db
            .cf_handle(META_FAMILY)
            .ok_or_else(|| Error::Corruption {
                path: self.path().to_path_buf(),
                detail: format!("column family {META_FAMILY} missing after open"),
            })
    }

    /// The token of the snapshot RocksDB vouches for, if any. A marker of the wrong size is
    /// reported as `None` (nothing is vouched for), never trusted.
    pub(crate) fn snapshot_marker(&self) -> Result<Option<u128>> {
        let got = self
            .db
            .get_cf(self.meta()?, MARKER_KEY)
            .map_err(|e| Error::from_rocks(self.path(), "get marker", e))?;
        Ok(got.and_then(|v| {
            <[u8; 16]>::try_from(v.as_slice())
                .ok()
                .map(u128::from_le_bytes)
        }))
    }

    /// Durably records `token` as the marker (before the snapshot file carrying it is written).
    pub(crate) fn set_snapshot_marker(&self, token: u128) -> Result<()> {
        let meta = self.meta()?;
        self.db
            .put_cf_opt(meta, MARKER_KEY, token.to_le_bytes(), &durable())
            .map_err(|e| Error::from_rocks(self.path(), "put marker", e))?;
        self.db
            .flush_cf(meta)
            .map_err(|e| Error::from_rocks(self.path(), "flush marker", e))
    }

    /// Durably removes the marker (before the first change of a session).
    pub(crate) fn clear_snapshot_marker(&self) -> Result<()> {
        let meta = self.meta()?;
        self.db
            .delete_cf_opt(meta, MARKER_KEY, &durable())
            .map_err(|e| Error::from_rocks(self.path(), "delete marker", e))?;
        self.db
            .flush_cf(meta)
            .map_err(|e| Error::from_rocks(self.path(), "flush marker", e))
    }
}

#[cfg(test)]
mod tests {
    use crate::options::Options;
    use crate::rocks::RocksStore;

    #[test]
    fn marker_survives_reopen_and_clears_durably() {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options::default().wal_enabled(false);
        {
            let store = RocksStore::open(dir.path(), &opts).unwrap();
            assert_eq!(store.snapshot_marker().unwrap(), None);
            store.set_snapshot_marker(0xABCD_u128 << 70).unwrap();
        }
        {
            let store = RocksStore::open(dir.path(), &opts).unwrap();
            assert_eq!(store.snapshot_marker().unwrap(), Some(0xABCD_u128 << 70));
            store.clear_snapshot_marker().unwrap();
        }
        let store = RocksStore::open(dir.path(), &opts).unwrap();
        assert_eq!(store.snapshot_marker().unwrap(), None);
        // The marker is not a user key.
        assert_eq!(store.key_bounds().unwrap(), None);
    }
}
