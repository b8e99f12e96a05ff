//! The index snapshot: the sorted keys and their locations, written at a clean close, so the next
//! open can bulk-load the index without scanning RocksDB and keeps the hot tier warm.
//!
//! # File format (`index.snapshot`)
//!
//! ```text
//! bincode (fixed-width little-endian integers) of SnapshotFile:
//!     magic "ALXSNAP1" | format u32 | sequence u64 | identity String | token u128
//!     | hot: (epoch_floor u64, segments Vec<(index u32, epoch u64)>)
//!     | key_lens Vec<u16> | key_bytes Vec<u8>   (the keys, one after the other)
//!     | locations Vec<u64>                     (one packed Location per key)
//! then crc32 (u32 LE) of every byte before it
//! ```
//!
//! `sequence` is RocksDB's latest sequence number when the snapshot was taken (after a flush),
//! `identity` the content of RocksDB's `IDENTITY` file (a UUID fixed at creation), `token` the
//! random value of the snapshot marker written into RocksDB just before the file (see
//! `rocks::marker`), `hot` the hot tier's state at the close: the identity (slot and epoch) of
//! every segment, and the epoch its next segment would have taken. Format 3 added the token,
//! format 4 the hot tier's state, format 5 byte keys (format 4 held `u64` keys); files of
//! older formats are refused (one rescan of RocksDB's keys, which are the same bytes).
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
//! The locations let a reopened database read its hot tier at once. At a matching sequence
//! number a Hot location named the key's current value when the file was written; whether the
//! record is still there is the hot tier's to say: at open, `HotTier::exact_check` keeps a
//! location only if its segment still has the identity saved in `hot` and the record at its
//! offset, found by the verified walk from the segment's header, has its key and length;
//! anything else (the tier turned off, resized, a segment discarded or recycled by a session
//! that kept this file, a lost tail) makes the key Cold. The tier never reuses an epoch below
//! `hot.epoch_floor` (`HotTier::raise_epoch_floor`), so a segment re-created since cannot pass
//! for the one saved.
//!
//! Writing is atomic: temporary file, fsync, rename, fsync of the directory.

use crate::error::{Error, Result};
use crate::hot_tier::{SegmentIdentity, MAX_EPOCH};
use crate::keys::MAX_KEY_LEN;
use bincode::Options as _;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

/// File name of the snapshot inside the database directory.
pub(super) const SNAPSHOT_FILE: &str = "index.snapshot";
/// Temporary name while it is written.
const SNAPSHOT_TMP: &str = "index.snapshot.tmp";
const MAGIC: [u8; 8] = *b"ALXSNAP1";
const FORMAT: u32 = 5;
/// Bytes of the trailing checksum.
const CRC_BYTES: usize = 4;

/// The file's fields before its two arrays. bincode writes a struct's fields one after the
/// other with no framing (a nested struct included), so a close can write this, then stream
/// the arrays, and produce exactly the bytes of [`SnapshotFile`].
#[derive(Serialize, Deserialize)]
struct SnapshotHeader {
    magic: [u8; 8],
    format: u32,
    sequence: u64,
    identity: String,
    token: u128,
    hot: HotState,
}

/// The hot tier as the snapshot's locations were taken against it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct HotState {
    /// Every identity the tier had used is below this epoch (`HotTier::epoch_floor`).
    pub epoch_floor: u64,
    /// The identity of every segment at the close.
    pub segments: Vec<SegmentIdentity>,
}

/// The file's body: bincode's encoding of this struct (written by [`write`] streaming, read by
/// [`decode`]).
#[derive(Serialize)]
struct SnapshotFile {
    header: SnapshotHeader,
    key_lens: Vec<u16>,
    key_bytes: Vec<u8>,
    locations: Vec<u64>,
}

/// Keys one after the other, with their lengths: one allocation for millions of keys.
#[derive(Debug, Default, PartialEq, Eq, Clone)]
pub(super) struct KeyList {
    /// Each key's length.
    pub lens: Vec<u16>,
    /// The keys' bytes.
    pub bytes: Vec<u8>,
}

impl KeyList {
    /// Appends a key (at most `MAX_KEY_LEN` bytes).
    pub fn push(&mut self, key: &[u8]) {
        debug_assert!(key.len() <= MAX_KEY_LEN);
        self.lens.push(key.len() as u16);
        self.bytes.extend_from_slice(key);
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.lens.len()
    }

    /// Every key, in order, without a list of them. The lengths must add up to the bytes
    /// (`load` checks).
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut at = 0;
        self.lens.iter().map(move |&n| {
            let key = &self.bytes[at..at + n as usize];
            at += n as usize;
            key
        })
    }
}

/// The index as the snapshot holds it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct SnapshotIndex {
    /// Strictly increasing keys.
    pub keys: KeyList,
    /// `Location::to_raw()` of each key.
    pub locations: Vec<u64>,
    /// The hot tier the Hot locations were taken against.
    pub hot: HotState,
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
    pub bounds: Option<(Vec<u8>, Vec<u8>)>,
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
    let file = match fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let file = read_checked(file).map_err(|e| match e {
        Refused::Io(e) => format!("cannot read {}: {e}", path.display()),
        Refused::Reason(r) => r,
    })?;
    if file.header.magic != MAGIC {
        return Err("bad magic".into());
    }
    if file.header.format != FORMAT {
        return Err(format!(
            "format {} (this build reads {FORMAT})",
            file.header.format
        ));
    }
    if file.header.identity != expected.identity {
        return Err(format!(
            "written for RocksDB identity {:?}, this database is {:?}",
            file.header.identity, expected.identity
        ));
    }
    match expected.marker {
        Some(m) if m == file.header.token => {}
        Some(_) => return Err("RocksDB's snapshot marker names another snapshot".into()),
        None => {
            return Err(
                "RocksDB holds no snapshot marker (the database changed after this snapshot)"
                    .into(),
            )
        }
    }
    if file.header.sequence != expected.sequence {
        return Err(format!(
            "taken at sequence {}, RocksDB is at {}",
            file.header.sequence, expected.sequence
        ));
    }
    if file.locations.len() != file.key_lens.len() {
        return Err(format!(
            "{} keys but {} locations",
            file.key_lens.len(),
            file.locations.len()
        ));
    }
    if let Some(i) = file.key_lens.iter().position(|&n| n as usize > MAX_KEY_LEN) {
        return Err(format!("key {i} is {} bytes long", file.key_lens[i]));
    }
    let total: u64 = file.key_lens.iter().map(|&n| u64::from(n)).sum();
    if total != file.key_bytes.len() as u64 {
        return Err(format!(
            "key lengths add up to {total} bytes, the file holds {}",
            file.key_bytes.len()
        ));
    }
    let hot = &file.header.hot;
    if hot.epoch_floor >= MAX_EPOCH || hot.segments.iter().any(|s| s.epoch >= hot.epoch_floor) {
        return Err(format!(
            "hot tier epochs {:?} not below the floor {}",
            hot.segments, hot.epoch_floor
        ));
    }
    let keys = KeyList {
        lens: file.key_lens,
        bytes: file.key_bytes,
    };
    {
        // Walked, not listed: a list of 10M keys is 160 MB more at every open.
        let mut prev: Option<&[u8]> = None;
        for (i, k) in keys.iter().enumerate() {
            if prev.is_some_and(|p| p >= k) {
                return Err(format!("keys not increasing at position {i}"));
            }
            prev = Some(k);
        }
        let bounds = keys.iter().next().zip(prev);
        let want = expected.bounds.as_ref().map(|(a, b)| (&a[..], &b[..]));
        if bounds != want {
            return Err(format!(
                "first and last keys {bounds:?} differ from RocksDB's {:?}",
                expected.bounds
            ));
        }
    }
    Ok(Some(SnapshotIndex {
        keys,
        locations: file.locations,
        hot: file.header.hot,
    }))
}

/// Why a snapshot file could not be read.
enum Refused {
    Io(std::io::Error),
    Reason(String),
}

/// A reader or writer that checksums the bytes passing through it.
struct Checksummed<T> {
    inner: T,
    crc: crc32fast::Hasher,
}

impl<R: Read> Read for Checksummed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

/// Decodes the file and checks its checksum, streaming: the file's bytes are never held whole
/// (for 10M keys that was 160 MB more at every open, beside the arrays and the index built
/// from them). The decoder reads at most the body's length, so a corrupt array length cannot
/// make it allocate more than the file holds; nothing decoded is used unless the checksum of
/// the whole body matches.
fn read_checked(mut file: fs::File) -> std::result::Result<SnapshotFile, Refused> {
    let len = file.metadata().map_err(Refused::Io)?.len();
    if len < CRC_BYTES as u64 {
        return Err(Refused::Reason(format!("{len} bytes is too short")));
    }
    let body_len = len - CRC_BYTES as u64;
    let mut reader = BufReader::with_capacity(
        1 << 20,
        Checksummed {
            inner: (&mut file).take(body_len),
            crc: crc32fast::Hasher::new(),
        },
    );
    let decoded = decode(&mut reader, body_len);
    // Whatever the decoder made of it, the checksum covers the whole body: read the rest.
    std::io::copy(&mut reader, &mut std::io::sink()).map_err(Refused::Io)?;
    let computed = reader.into_inner().crc.finalize();
    let mut crc = [0u8; CRC_BYTES];
    file.read_exact(&mut crc).map_err(Refused::Io)?;
    if computed != u32::from_le_bytes(crc) {
        return Err(Refused::Reason("checksum mismatch".into()));
    }
    decoded.map_err(|e| Refused::Reason(format!("undecodable: {e}")))
}

/// Decodes bincode's encoding of a [`SnapshotFile`] from `reader`: the header through bincode
/// (fixed-width integers, the body's length as the limit), each array as bincode lays it out
/// (a little-endian `u64` count, then the elements, little-endian) but read in bulk: bincode
/// reads a `Vec<u8>` one byte at a time, which was a fifth of a reopen of 10M keys. An array
/// longer than the whole body is refused before anything is allocated for it.
fn decode(reader: &mut impl Read, body_len: u64) -> std::result::Result<SnapshotFile, String> {
    let header: SnapshotHeader = bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .allow_trailing_bytes()
        .with_limit(body_len)
        .deserialize_from(&mut *reader)
        .map_err(|e| e.to_string())?;
    let mut array = |width: u64| -> std::result::Result<Vec<u8>, String> {
        let mut count = [0u8; 8];
        reader.read_exact(&mut count).map_err(|e| e.to_string())?;
        let count = u64::from_le_bytes(count);
        let bytes = count
            .checked_mul(width)
            .filter(|&b| b <= body_len)
            .ok_or_else(|| format!("an array of {count} elements in a {body_len}-byte body"))?;
        let mut out = vec![0u8; bytes as usize];
        reader.read_exact(&mut out).map_err(|e| e.to_string())?;
        Ok(out)
    };
    let key_lens = array(2)?
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let key_bytes = array(1)?;
    let locations = array(8)?
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    Ok(SnapshotFile {
        header,
        key_lens,
        key_bytes,
        locations,
    })
}

/// Where a snapshot comes from: RocksDB's state when it was taken.
pub(super) struct Origin<'a> {
    /// RocksDB's latest sequence number (after the marker was written).
    pub sequence: u64,
    /// RocksDB's identity.
    pub identity: &'a str,
    /// The marker token written into RocksDB just before this file.
    pub token: u128,
    /// The hot tier's state, under the writer mutex that keeps it as the locations have it.
    pub hot: HotState,
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a snapshot, atomically, of the `len` entries `(key, location)` that `entries(f)`
/// hands to `f` (strictly increasing keys; called once per array, and must hand over the same
/// entries every time; `f` returning false asks it to stop). The file is streamed: its bytes
/// are those of bincode's encoding of [`SnapshotFile`] and its checksum, but neither the
/// arrays nor the encoding are ever held in memory (for 10M keys that was 320 MB at every
/// close, the close's peak memory).
pub(super) fn write(
    dir: &Path,
    origin: &Origin<'_>,
    len: usize,
    entries: impl Fn(&mut dyn FnMut(&[u8], u64) -> bool),
) -> Result<()> {
    let tmp = dir.join(SNAPSHOT_TMP);
    let dst = dir.join(SNAPSHOT_FILE);
    let header = bincode::serialize(&SnapshotHeader {
        magic: MAGIC,
        format: FORMAT,
        sequence: origin.sequence,
        identity: origin.identity.to_string(),
        token: origin.token,
        hot: origin.hot.clone(),
    })
    .map_err(|e| {
        Error::io(
            &tmp,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        )
    })?;
    let out = fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut w = Checksummed {
        inner: BufWriter::with_capacity(1 << 20, out),
        crc: crc32fast::Hasher::new(),
    };
    let mut body = || -> std::io::Result<()> {
        w.write_all(&header)?;
        w.write_all(&(len as u64).to_le_bytes())?;
        let mut key_bytes = 0u64;
        pass(&entries, len, &mut |k, _| {
            key_bytes += k.len() as u64;
            w.write_all(&(k.len() as u16).to_le_bytes())
        })?;
        w.write_all(&key_bytes.to_le_bytes())?;
        pass(&entries, len, &mut |k, _| w.write_all(k))?;
        w.write_all(&(len as u64).to_le_bytes())?;
        pass(&entries, len, &mut |_, loc| w.write_all(&loc.to_le_bytes()))
    };
    body().map_err(|e| Error::io(&tmp, e))?;
    let crc = w.crc.finalize();
    let mut w = w.inner;
    w.write_all(&crc.to_le_bytes())
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

/// One pass over the entries, `emit` writing each one's part of an array; fails when `emit`
/// does or when the entries are not `len`.
fn pass(
    entries: &impl Fn(&mut dyn FnMut(&[u8], u64) -> bool),
    len: usize,
    emit: &mut dyn FnMut(&[u8], u64) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let (mut written, mut failed) = (0usize, None);
    entries(&mut |k, loc| match emit(k, loc) {
        Ok(()) => {
            written += 1;
            true
        }
        Err(e) => {
            failed = Some(e);
            false
        }
    });
    match failed {
        Some(e) => Err(e),
        None if written != len => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the index yielded {written} entries, expected {len}"),
        )),
        None => Ok(()),
    }
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
            bounds: bounds.map(|(a, b)| (k(a), k(b))),
        }
    }

    fn k(n: u64) -> Vec<u8> {
        n.to_be_bytes().to_vec()
    }

    /// A key list of `u64` keys.
    fn keys(ns: impl IntoIterator<Item = u64>) -> KeyList {
        let mut l = KeyList::default();
        for n in ns {
            l.push(&n.to_be_bytes());
        }
        l
    }

    const TOKEN: u128 = 0x1234_5678_9abc_def0_0fed_cba9_8765_4321;

    fn origin(sequence: u64) -> Origin<'static> {
        Origin {
            sequence,
            identity: "id-1",
            token: TOKEN,
            hot: hot_state(),
        }
    }

    fn hot_state() -> HotState {
        HotState {
            epoch_floor: 9,
            segments: vec![
                SegmentIdentity { index: 0, epoch: 7 },
                SegmentIdentity { index: 2, epoch: 8 },
            ],
        }
    }

    /// [`write`] of a materialised index.
    fn write_index(dir: &Path, origin: &Origin<'_>, index: SnapshotIndex) -> Result<()> {
        let entries = |f: &mut dyn FnMut(&[u8], u64) -> bool| {
            for (key, &loc) in index.keys.iter().zip(&index.locations) {
                if !f(key, loc) {
                    return;
                }
            }
        };
        write(dir, origin, index.keys.len(), entries)
    }

    #[test]
    fn the_streamed_file_is_bincode_of_the_whole_struct_and_its_crc() {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = KeyList::default();
        for i in 0..1000u64 {
            // Keys of every length from 0 to 40, increasing.
            let mut key = format!("{i:04}").into_bytes();
            key.resize(4 + (i % 37) as usize, b'x');
            keys.push(&key);
        }
        let locations: Vec<u64> = (0..1000).map(|k| k ^ 0xABCD).collect();
        let o = origin(42);
        let index = SnapshotIndex {
            keys: keys.clone(),
            locations: locations.clone(),
            hot: hot_state(),
        };
        write_index(dir.path(), &o, index).unwrap();
        let mut expected = bincode::serialize(&SnapshotFile {
            header: SnapshotHeader {
                magic: MAGIC,
                format: FORMAT,
                sequence: o.sequence,
                identity: o.identity.to_string(),
                token: o.token,
                hot: o.hot.clone(),
            },
            key_lens: keys.lens,
            key_bytes: keys.bytes,
            locations,
        })
        .unwrap();
        let crc = crc32fast::hash(&expected);
        expected.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(fs::read(dir.path().join(SNAPSHOT_FILE)).unwrap(), expected);
    }

    #[test]
    fn an_index_that_yields_fewer_entries_than_announced_writes_no_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let err = write(dir.path(), &origin(1), 3, |f| {
            let _ = f(b"a", 0) && f(b"b", 0);
        });
        assert!(err.is_err());
        assert!(!dir.path().join(SNAPSHOT_FILE).exists());
    }

    #[test]
    fn round_trip_and_every_mismatch_is_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(load(d, &expected(5, None)), Ok(None));
        let index = || SnapshotIndex {
            keys: keys([1, 7, u64::MAX]),
            locations: vec![0, 5, 9],
            hot: hot_state(),
        };
        write_index(d, &origin(5), index()).unwrap();
        let ok = expected(5, Some((1, u64::MAX)));
        assert_eq!(load(d, &ok), Ok(Some(index())));
        assert!(load(d, &expected(6, Some((1, u64::MAX)))).is_err());
        assert!(load(d, &expected(5, Some((1, 8)))).is_err());
        let other = Expected {
            identity: "id-2",
            ..expected(5, Some((1, u64::MAX)))
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
            keys: keys((0..50).map(|k| k * 3)),
            locations: vec![0; 50],
            hot: hot_state(),
        };
        write_index(d, &origin(9), index).unwrap();
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
    fn hot_epochs_at_or_above_the_floor_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let index = || SnapshotIndex {
            keys: keys([1, 9]),
            locations: vec![0; 2],
            hot: hot_state(),
        };
        let cases = [
            HotState {
                epoch_floor: 8,
                ..hot_state()
            },
            HotState {
                epoch_floor: MAX_EPOCH,
                segments: vec![],
            },
        ];
        for hot in cases {
            let o = Origin { hot, ..origin(1) };
            write_index(dir.path(), &o, index()).unwrap();
            let reason = load(dir.path(), &expected(1, Some((1, 9)))).unwrap_err();
            assert!(reason.contains("floor"), "{reason}");
        }
    }

    #[test]
    fn unsorted_keys_with_a_valid_checksum_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let index = SnapshotIndex {
            keys: keys([1, 5, 3, 9]),
            locations: vec![0; 4],
            hot: hot_state(),
        };
        write_index(dir.path(), &origin(1), index).unwrap();
        let reason = load(dir.path(), &expected(1, Some((1, 9)))).unwrap_err();
        assert!(reason.contains("increasing"), "{reason}");
    }

    /// The snapshot reader on bytes it did not write: arbitrary files, and valid ones truncated
    /// or with bytes flipped. Every one is refused with a reason (or, for arbitrary bytes that
    /// happen to decode and checksum, judged by the same rules), never a panic, and a bogus
    /// array length never allocates more than the file holds.
    mod decoder {
        use super::*;
        use proptest::prelude::*;

        fn valid_file(n: u64) -> Vec<u8> {
            let dir = tempfile::tempdir().unwrap();
            let index = SnapshotIndex {
                keys: keys((0..n).map(|k| k * 5 + 1)),
                locations: (0..n).map(|k| k << 40).collect(),
                hot: hot_state(),
            };
            write_index(dir.path(), &origin(3), index).unwrap();
            fs::read(dir.path().join(SNAPSHOT_FILE)).unwrap()
        }

        fn load_bytes(bytes: &[u8], n: u64) -> std::result::Result<Option<SnapshotIndex>, String> {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join(SNAPSHOT_FILE), bytes).unwrap();
            let bounds = (n > 0).then(|| (1, (n - 1) * 5 + 1));
            load(dir.path(), &expected(3, bounds))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            #[test]
            fn arbitrary_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
                prop_assert!(load_bytes(&bytes, 4).is_err());
            }

            #[test]
            fn a_flipped_or_truncated_snapshot_is_refused(
                n in 0u64..40,
                flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
                cut in proptest::option::of(any::<prop::sample::Index>()),
            ) {
                let mut bytes = valid_file(n);
                prop_assert!(load_bytes(&bytes, n).unwrap().is_some());
                let mut flipped = std::collections::BTreeSet::new();
                for (at, x) in &flips {
                    let at = at.index(bytes.len());
                    // Once per byte: two flips of one byte could cancel out.
                    if flipped.insert(at) {
                        bytes[at] ^= x;
                    }
                }
                if let Some(c) = cut {
                    bytes.truncate(c.index(bytes.len()));
                }
                if flips.is_empty() && cut.is_none() {
                    prop_assert!(load_bytes(&bytes, n).is_ok());
                } else {
                    prop_assert!(load_bytes(&bytes, n).is_err());
                }
            }

            #[test]
            fn a_huge_array_length_is_refused_without_allocating_it(len in (1u64 << 32)..u64::MAX) {
                // A valid header, then a keys array that claims `len` entries.
                let mut bytes = bincode::serialize(&SnapshotHeader {
                    magic: MAGIC,
                    format: FORMAT,
                    sequence: 3,
                    identity: "id-1".into(),
                    token: TOKEN,
                    hot: hot_state(),
                })
                .unwrap();
                bytes.extend_from_slice(&len.to_le_bytes());
                bytes.extend_from_slice(&[0u8; 64]);
                let crc = crc32fast::hash(&bytes);
                bytes.extend_from_slice(&crc.to_le_bytes());
                let reason = load_bytes(&bytes, 4).unwrap_err();
                prop_assert!(reason.contains("undecodable"), "{}", reason);
            }
        }
    }
}
