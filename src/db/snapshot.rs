//! The index snapshot: the sorted keys and their locations, written at a clean close, so the next
//! open can bulk-load the index without scanning RocksDB and keeps the hot tier warm.
//!
//! # File format (`index.snapshot`)
//!
//! ```text
//! bincode (fixed-width little-endian integers) of SnapshotFile:
//!     magic "ALXSNAP1" | format u32 | sequence u64 | identity String | token u128
//!     | keys Vec<u64> | locations Vec<u64>   (one packed Location per key)
//! then crc32 (u32 LE) of every byte before it
//! ```
//!
//! `sequence` is RocksDB's latest sequence number when the snapshot was taken (after a flush),
//! `identity` the content of RocksDB's `IDENTITY` file (a UUID fixed at creation), `token` the
//! random value of the snapshot marker written into RocksDB just before the file (see
//! `rocks::marker`). Format 3 added the token; files of older formats are refused (one rescan).
//!
//! # When a snapshot is trusted
//!
//! Only when its checksum, magic and format verify, its identity equals the database's, **its
//! token equals the snapshot marker RocksDB holds**, its sequence equals RocksDB's latest
//! sequence number at open, its keys are strictly increasing, and its first and last keys equal
//! RocksDB's. Anything else is reported as a reason string and the engine falls back to a scan:
//! a snapshot is never an error and never a panic.
//!
//! The marker is what makes the snapshot sound. The sequence number alone is not enough: an
//! SST ingestion that overlaps no other file is assigned sequence 0 and leaves the latest
//! sequence number where it was, so a snapshot file whose unlink was lost in a power failure
//! (or an old copy put back) would match and hide the ingested keys. The marker is deleted
//! durably inside RocksDB before the first change of every session, so a snapshot older than
//! any change finds no marker, whatever files survive (`rocks::marker` has the argument). The
//! engine also deletes the file itself before that first change, but nothing depends on it.
//!
//! The locations let a reopened database read its hot tier at once. A Hot location is only ever
//! a hint (the tier checks segment generation, key, length and checksum on every read, see
//! `hot_tier`), and at a matching sequence number it names the key's current value: segment
//! contents lost to an OS crash after the close fail the checks and the read goes to RocksDB.
//!
//! Writing is atomic: temporary file, fsync, rename, fsync of the directory.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

/// File name of the snapshot inside the database directory.
pub(super) const SNAPSHOT_FILE: &str = "index.snapshot";
/// Temporary name while it is written.
const SNAPSHOT_TMP: &str = "index.snapshot.tmp";
const MAGIC: [u8; 8] = *b"ALXSNAP1";
const FORMAT: u32 = 3;
/// Bytes of the trailing checksum.
const CRC_BYTES: usize = 4;

#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    magic: [u8; 8],
    format: u32,
    sequence: u64,
    identity: String,
    token: u128,
    keys: Vec<u64>,
    locations: Vec<u64>,
}

/// The index as the snapshot holds it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct SnapshotIndex {
    /// Strictly increasing keys.
    pub keys: Vec<u64>,
    /// `Location::to_raw()` of each key.
    pub locations: Vec<u64>,
}

/// What the snapshot must match to be trusted.
pub(super) struct Expected<'a> {
    /// RocksDB's latest sequence number now.
    pub sequence: u64,
    /// RocksDB's identity.
    pub identity: &'a str,
    /// The snapshot marker RocksDB holds (`None`: RocksDB vouches for no snapshot).
    pub marker: Option<u128>,
    /// RocksDB's smallest and largest key (`None` when it is empty).
    pub bounds: Option<(u64, u64)>,
}

/// The content of RocksDB's `IDENTITY` file, or an empty string when there is none.
pub(super) fn rocks_identity(dir: &Path) -> String {
    fs::read_to_string(dir.join("IDENTITY"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Loads the snapshot's keys and locations if a snapshot exists and matches `expected`.
///
/// `Ok(None)`: no snapshot. `Err(reason)`: a snapshot exists and is not trusted.
pub(super) fn load(
    dir: &Path,
    expected: &Expected<'_>,
) -> std::result::Result<Option<SnapshotIndex>, String> {
    let path = dir.join(SNAPSHOT_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if bytes.len() < CRC_BYTES {
        return Err(format!("{} bytes is too short", bytes.len()));
    }
    let (body, crc) = bytes.split_at(bytes.len() - CRC_BYTES);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != stored {
        return Err("checksum mismatch".into());
    }
    let file: SnapshotFile = bincode::deserialize(body).map_err(|e| format!("undecodable: {e}"))?;
    if file.magic != MAGIC {
        return Err("bad magic".into());
    }
    if file.format != FORMAT {
        return Err(format!(
            "format {} (this build reads {FORMAT})",
            file.format
        ));
    }
    if file.identity != expected.identity {
        return Err(format!(
            "written for RocksDB identity {:?}, this database is {:?}",
            file.identity, expected.identity
        ));
    }
    match expected.marker {
        Some(m) if m == file.token => {}
        Some(_) => return Err("RocksDB's snapshot marker names another snapshot".into()),
        None => {
            return Err(
                "RocksDB holds no snapshot marker (the database changed after this snapshot)"
                    .into(),
            )
        }
    }
    if file.sequence != expected.sequence {
        return Err(format!(
            "taken at sequence {}, RocksDB is at {}",
            file.sequence, expected.sequence
        ));
    }
    if file.locations.len() != file.keys.len() {
        return Err(format!(
            "{} keys but {} locations",
            file.keys.len(),
            file.locations.len()
        ));
    }
    if let Some(i) = file.keys.windows(2).position(|w| w[0] >= w[1]) {
        return Err(format!("keys not increasing at position {}", i + 1));
    }
    let bounds = file
        .keys
        .first()
        .zip(file.keys.last())
        .map(|(a, b)| (*a, *b));
    if bounds != expected.bounds {
        return Err(format!(
            "first and last keys {bounds:?} differ from RocksDB's {:?}",
            expected.bounds
        ));
    }
    Ok(Some(SnapshotIndex {
        keys: file.keys,
        locations: file.locations,
    }))
}

/// Where a snapshot comes from: RocksDB's state when it was taken.
pub(super) struct Origin<'a> {
    /// RocksDB's latest sequence number (after the marker was written).
    pub sequence: u64,
    /// RocksDB's identity.
    pub identity: &'a str,
    /// The marker token written into RocksDB just before this file.
    pub token: u128,
}

/// Writes a snapshot of `index` (strictly increasing keys), atomically.
pub(super) fn write(dir: &Path, origin: &Origin<'_>, index: SnapshotIndex) -> Result<()> {
    let file = SnapshotFile {
        magic: MAGIC,
        format: FORMAT,
        sequence: origin.sequence,
        identity: origin.identity.to_string(),
        token: origin.token,
        keys: index.keys,
        locations: index.locations,
    };
    let body = bincode::serialize(&file).map_err(|e| {
        Error::io(
            dir.join(SNAPSHOT_TMP),
            std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        )
    })?;
    let crc = crc32fast::hash(&body);
    let tmp = dir.join(SNAPSHOT_TMP);
    let dst = dir.join(SNAPSHOT_FILE);
    let out = fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, out);
    w.write_all(&body)
        .and_then(|()| w.write_all(&crc.to_le_bytes()))
        .and_then(|()| w.flush())
        .map_err(|e| Error::io(&tmp, e))?;
    let out = w
        .into_inner()
        .map_err(|e| Error::io(&tmp, e.into_error()))?;
    out.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(out);
    fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Deletes the snapshot and any temporary left by a crash during a close. Returns whether a
/// snapshot was there.
pub(super) fn remove(dir: &Path) -> Result<bool> {
    let tmp = dir.join(SNAPSHOT_TMP);
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(tmp, e)),
    }
    let path = dir.join(SNAPSHOT_FILE);
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(sequence: u64, bounds: Option<(u64, u64)>) -> Expected<'static> {
        Expected {
            sequence,
            identity: "id-1",
            marker: Some(TOKEN),
            bounds,
        }
    }

    const TOKEN: u128 = 0x1234_5678_9abc_def0_0fed_cba9_8765_4321;

    fn origin(sequence: u64) -> Origin<'static> {
        Origin {
            sequence,
            identity: "id-1",
            token: TOKEN,
        }
    }

    #[test]
    fn round_trip_and_every_mismatch_is_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(load(d, &expected(5, None)), Ok(None));
        let index = || SnapshotIndex {
            keys: vec![1, 7, u64::MAX],
            locations: vec![0, 5, 9],
        };
        write(d, &origin(5), index()).unwrap();
        let ok = expected(5, Some((1, u64::MAX)));
        assert_eq!(load(d, &ok), Ok(Some(index())));
        assert!(load(d, &expected(6, Some((1, u64::MAX)))).is_err());
        assert!(load(d, &expected(5, Some((1, 8)))).is_err());
        let other = Expected {
            identity: "id-2",
            ..ok
        };
        assert!(load(d, &other).is_err());
        let no_marker = Expected {
            marker: None,
            identity: "id-1",
            ..expected(5, Some((1, u64::MAX)))
        };
        assert!(load(d, &no_marker).unwrap_err().contains("marker"));
        let other_marker = Expected {
            marker: Some(TOKEN + 1),
            ..expected(5, Some((1, u64::MAX)))
        };
        assert!(load(d, &other_marker).unwrap_err().contains("marker"));
        assert!(remove(d).unwrap());
        assert!(!remove(d).unwrap());
        assert_eq!(load(d, &ok), Ok(None));
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let index = SnapshotIndex {
            keys: (0..50).map(|k| k * 3).collect(),
            locations: vec![0; 50],
        };
        write(d, &origin(9), index).unwrap();
        let good = fs::read(d.join(SNAPSHOT_FILE)).unwrap();
        let exp = expected(9, Some((0, 147)));
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x5A;
            fs::write(d.join(SNAPSHOT_FILE), &bad).unwrap();
            assert!(load(d, &exp).is_err(), "flip at {i}");
        }
        for len in 0..good.len() {
            fs::write(d.join(SNAPSHOT_FILE), &good[..len]).unwrap();
            assert!(load(d, &exp).is_err(), "truncated to {len}");
        }
    }

    #[test]
    fn unsorted_keys_with_a_valid_checksum_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let index = SnapshotIndex {
            keys: vec![1, 5, 3, 9],
            locations: vec![0; 4],
        };
        write(dir.path(), &origin(1), index).unwrap();
        let reason = load(dir.path(), &expected(1, Some((1, 9)))).unwrap_err();
        assert!(reason.contains("increasing"), "{reason}");
    }
}
