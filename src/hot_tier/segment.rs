//! One hot-tier segment: a fixed-size file `hot-NNNN.seg`, memory-mapped read-write.
//!
//! # File layout
//!
//! ```text
//! [0, 32)   header: magic "ALXHOT01" | generation u32 | 0u32 | epoch u64 | crc32(0..24) | 0u32
//! [32, ..)  records, each starting on a multiple of 8:
//!           key u64 | len u32 | crc u32 | value (len bytes) | zero padding to a multiple of 8
//!           then an end marker: 16 zero bytes, when they fit
//! ```
//!
//! All integers are little-endian. A record's crc is CRC-32 over its key, len and value bytes,
//! seeded with the segment's generation ([`record_crc`]): after a recycle, leftover records of
//! the previous generation no longer verify, so neither a reader with a stale offset nor the
//! scan at open can take them for current ones. `epoch` orders segments by when they were
//! (re)started; the highest epoch is the segment being written.
//!
//! # Synchronisation (who touches which bytes)
//!
//! * `committed` is the end of the last complete record. Bytes below it never change while the
//!   generation stays the same; bytes at or above it are touched only by the appender.
//! * The appender (one at a time: the holder of the tier's one `Appender`, taken by `&mut`)
//!   writes a record and its end marker at
//!   and above `committed` through the raw `base` pointer, then publishes it with a Release
//!   store of the new `committed`.
//! * Readers hold the tier's per-segment read lock, check the generation, Acquire-load
//!   `committed` and read only below it. The Release/Acquire pair makes the record's bytes
//!   visible; the ranges are disjoint from the appender's, so there is no data race.
//! * Recycling ([`Segment::reset`]) rewrites the header, the generation and `committed`; it takes
//!   `&mut self`, which the tier obtains only through the segment's write lock, so no reader is
//!   inside the segment while its old records are being given up.

use crate::error::{Error, Result};
use crate::location::{HotLocation, Location, GENERATION_MODULUS, OFFSET_UNIT};
use memmap2::{MmapMut, MmapOptions};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes of the segment header; records start here.
pub(crate) const SEGMENT_HEADER_BYTES: usize = 32;
/// Bytes of a record header (key, len, crc).
pub(crate) const RECORD_HEADER_BYTES: usize = 16;
const MAGIC: &[u8; 8] = b"ALXHOT01";

/// Bytes a record of a `len`-byte value occupies, padding included.
pub(crate) const fn record_span(len: usize) -> usize {
    (RECORD_HEADER_BYTES + len).div_ceil(OFFSET_UNIT) * OFFSET_UNIT
}

/// CRC-32 of a record, seeded with the segment generation.
pub(super) fn record_crc(generation: u32, key: u64, value: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(generation.wrapping_mul(0x9E37_79B9));
    h.update(&key.to_le_bytes());
    h.update(&(value.len() as u32).to_le_bytes());
    h.update(value);
    h.finalize()
}

/// File name of segment `index`.
pub(super) fn segment_file_name(index: usize) -> String {
    format!("hot-{index:04}.seg")
}

/// The segment index in a file name `hot-NNNN.seg`, if it is one.
pub(super) fn parse_segment_file_name(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("hot-")?.strip_suffix(".seg")?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A verified segment, or why it cannot be trusted.
pub(super) type Verified = std::result::Result<Segment, String>;

/// Why a read found nothing usable.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ReadMiss {
    /// The Location outlived its record: it belongs to an earlier generation, points past the
    /// written records, or finds another key's record (or another length) there, which is what
    /// a location from before the segment was re-created or its generation wrapped looks like.
    Stale,
    /// The record carries the expected key and length but fails its checksum: damaged bytes.
    Damaged,
}

/// A mapped segment file. See the module docs for the layout and the synchronisation rules.
pub(super) struct Segment {
    index: usize,
    path: PathBuf,
    size: usize,
    generation: u32,
    epoch: u64,
    committed: AtomicUsize,
    /// Start of the mapping, taken once from `map.as_mut_ptr()`. All access to the mapping goes
    /// through this pointer, never through `map`'s `Deref`, so no `&mut [u8]` over the whole
    /// mapping ever aliases a reader's `&[u8]`.
    base: *mut u8,
    map: MmapMut,
    _file: File,
}

// SAFETY: `base` points into `map`, owned by the segment and unmapped only on drop. Shared access
// (`&Segment`) reads bytes below `committed` and writes, in `try_append`, only bytes at or above
// it, by a single appender at a time (the holder of the tier's one `Appender`, which `append`
// takes by `&mut`); everything else needs `&mut`.
// These rules, stated in the module docs, make concurrent use from several threads race-free.
unsafe impl Send for Segment {}
// SAFETY: as for `Send` above.
unsafe impl Sync for Segment {}

impl Segment {
    /// Creates (or truncates) the file of segment `index`, maps it and writes an empty segment
    /// of `generation` and `epoch`.
    pub(super) fn create(
        dir: &Path,
        index: usize,
        size: usize,
        generation: u32,
        epoch: u64,
    ) -> Result<Segment> {
        let path = dir.join(segment_file_name(index));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        file.set_len(size as u64).map_err(|e| Error::io(&path, e))?;
        reserve_blocks(&file, size).map_err(|e| Error::io(&path, e))?;
        let mut seg = Self::map(file, path, index, size)?;
        seg.reset(generation, epoch);
        Ok(seg)
    }

    /// Maps an existing file and verifies its header and every record. Returns the segment, or
    /// a description of the damage.
    pub(super) fn open_existing(path: &Path, index: usize, size: usize) -> Result<Verified> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len != size as u64 {
            return Ok(Err(format!("file is {len} bytes, segments are {size}")));
        }
        let mut seg = Self::map(file, path.to_path_buf(), index, size)?;
        let header = seg.bytes(0, SEGMENT_HEADER_BYTES);
        if &header[..8] != MAGIC {
            return Ok(Err("bad magic".into()));
        }
        if u32_at(header, 24) != crc32fast::hash(&header[..24]) {
            return Ok(Err("header checksum mismatch".into()));
        }
        let generation = u32_at(header, 8);
        let epoch = u64_at(header, 16);
        if generation >= GENERATION_MODULUS {
            return Ok(Err(format!("generation {generation} out of range")));
        }
        seg.generation = generation;
        seg.epoch = epoch;
        match seg.verify_records() {
            Ok(end) => {
                seg.committed.store(end, Ordering::Relaxed);
                Ok(Ok(seg))
            }
            Err(why) => Ok(Err(why)),
        }
    }

    fn map(file: File, path: PathBuf, index: usize, size: usize) -> Result<Segment> {
        // SAFETY: the file is alexkv's own segment inside a database directory whose RocksDB
        // LOCK this process holds, so no other alexkv instance maps it. Modification by a foreign
        // program is outside the contract (as for any mmap); the checksums limit the damage.
        let mut map = unsafe { MmapOptions::new().len(size).map_mut(&file) }
            .map_err(|e| Error::io(&path, e))?;
        let base = map.as_mut_ptr();
        Ok(Segment {
            index,
            path,
            size,
            generation: 0,
            epoch: 0,
            committed: AtomicUsize::new(SEGMENT_HEADER_BYTES),
            base,
            map,
            _file: file,
        })
    }

    /// Asks the CPU to load the cache lines of the record at `loc` (a hint: nothing is read,
    /// nothing can fault; a stale `loc` only wastes the hint). Scans call it for the records
    /// they will read next, so the misses of scattered records overlap.
    pub(super) fn prefetch(&self, loc: HotLocation) {
        let off = loc.offset as usize;
        let end = off + RECORD_HEADER_BYTES + loc.len as usize;
        if end > self.size {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        {
            let mut line = off & !63;
            while line < end {
                // SAFETY: a prefetch is a hint: it reads nothing and never faults; the address
                // is inside the live mapping anyway.
                unsafe {
                    std::arch::x86_64::_mm_prefetch(
                        self.base.add(line) as *const i8,
                        std::arch::x86_64::_MM_HINT_T0,
                    )
                };
                line += 64;
            }
        }
    }

    /// The bytes `[off, off + len)`. Callers keep to the synchronisation rules: below
    /// `committed` under the segment read lock, or anywhere with `&mut self`.
    fn bytes(&self, off: usize, len: usize) -> &[u8] {
        assert!(off + len <= self.size, "segment access out of bounds");
        // SAFETY: in bounds of the live mapping (asserted). Callers only ask for ranges no one
        // writes while the returned borrow lives (module docs: below `committed`, or exclusive).
        unsafe { std::slice::from_raw_parts(self.base.add(off), len) }
    }

    /// Walks the records from the header, verifying each; stops at an end marker or when no
    /// further record header fits. Any record that fails verification damages the segment.
    /// Returns the end of the last record.
    fn verify_records(&self) -> std::result::Result<usize, String> {
        let mut off = SEGMENT_HEADER_BYTES;
        while off + RECORD_HEADER_BYTES <= self.size {
            let head = self.bytes(off, RECORD_HEADER_BYTES);
            if head.iter().all(|&b| b == 0) {
                break; // end marker
            }
            let key = u64_at(head, 0);
            let len = u32_at(head, 8) as usize;
            let span = record_span(len);
            let loc = Location::hot(self.index, self.generation, off, len);
            let (Some(_), true) = (loc, off + span <= self.size) else {
                return Err(format!("record at {off} has impossible length {len}"));
            };
            let value = self.bytes(off + RECORD_HEADER_BYTES, len);
            if u32_at(head, 12) != record_crc(self.generation, key, value) {
                return Err(format!("record at {off} (key {key}) fails its checksum"));
            }
            off += span;
        }
        Ok(off)
    }

    /// Appends a record and returns its Location, or `None` when it does not fit.
    ///
    /// Only the tier's single appender (the holder of its `Appender`) may call this.
    pub(super) fn try_append(&self, key: u64, value: &[u8]) -> Option<Location> {
        let start = self.committed.load(Ordering::Relaxed);
        let span = record_span(value.len());
        let end = start.checked_add(span).filter(|&e| e <= self.size)?;
        let loc = Location::hot(self.index, self.generation, start, value.len())?;
        let mut head = [0u8; RECORD_HEADER_BYTES];
        head[..8].copy_from_slice(&key.to_le_bytes());
        head[8..12].copy_from_slice(&(value.len() as u32).to_le_bytes());
        head[12..].copy_from_slice(&record_crc(self.generation, key, value).to_le_bytes());
        let marker_end = (end + RECORD_HEADER_BYTES).min(self.size);
        // SAFETY: `[start, marker_end)` is inside the mapping (`end <= size`) and at or above
        // `committed`, where no reader looks; the tier's one `Appender`, held `&mut` by the
        // caller of `HotTier::append`, makes this the only writer.
        unsafe {
            let p = self.base.add(start);
            std::ptr::copy_nonoverlapping(head.as_ptr(), p, RECORD_HEADER_BYTES);
            std::ptr::copy_nonoverlapping(value.as_ptr(), p.add(RECORD_HEADER_BYTES), value.len());
            let pad = RECORD_HEADER_BYTES + value.len();
            // Zero the padding and the end marker that follows the record.
            std::ptr::write_bytes(p.add(pad), 0, marker_end - start - pad);
        }
        // Release: a reader that Acquire-loads the new `committed` sees the record's bytes.
        self.committed.store(end, Ordering::Release);
        Some(loc)
    }

    /// Verifies the record at `loc` and returns its value.
    ///
    /// The caller holds the segment's read lock (module docs).
    pub(super) fn read(&self, loc: HotLocation, key: u64) -> std::result::Result<&[u8], ReadMiss> {
        if u32::from(loc.generation) != self.generation {
            return Err(ReadMiss::Stale);
        }
        let off = loc.offset as usize;
        let len = loc.len as usize;
        let end = off + RECORD_HEADER_BYTES + len;
        // Acquire pairs with the Release in `try_append`.
        if off < SEGMENT_HEADER_BYTES || end > self.committed.load(Ordering::Acquire) {
            return Err(ReadMiss::Stale);
        }
        let rec = self.bytes(off, end - off);
        if u64_at(rec, 0) != key || u32_at(rec, 8) as usize != len {
            return Err(ReadMiss::Stale);
        }
        let value = &rec[RECORD_HEADER_BYTES..];
        if u32_at(rec, 12) != record_crc(self.generation, key, value) {
            return Err(ReadMiss::Damaged);
        }
        Ok(value)
    }

    /// The `(key, Location)` of every record, in file order.
    pub(super) fn records(&self) -> Vec<(u64, Location)> {
        let committed = self.committed.load(Ordering::Acquire);
        let mut off = SEGMENT_HEADER_BYTES;
        let mut out = Vec::new();
        while off + RECORD_HEADER_BYTES <= committed {
            let head = self.bytes(off, RECORD_HEADER_BYTES);
            let len = u32_at(head, 8) as usize;
            if let Some(loc) = Location::hot(self.index, self.generation, off, len) {
                out.push((u64_at(head, 0), loc));
            }
            off += record_span(len);
        }
        out
    }

    /// Empties the segment under a new generation and epoch. Exclusive access (`&mut`) keeps
    /// readers out while the old records are given up.
    pub(super) fn reset(&mut self, generation: u32, epoch: u64) {
        let generation = generation % GENERATION_MODULUS;
        let mut header = [0u8; SEGMENT_HEADER_BYTES];
        header[..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&generation.to_le_bytes());
        header[16..24].copy_from_slice(&epoch.to_le_bytes());
        let crc = crc32fast::hash(&header[..24]);
        header[24..28].copy_from_slice(&crc.to_le_bytes());
        let marker_end = (SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES).min(self.size);
        // SAFETY: `&mut self` excludes every reader and the appender; the range is in bounds
        // (segments are at least header + one record, checked by Options::validate and `open`).
        unsafe {
            std::ptr::copy_nonoverlapping(header.as_ptr(), self.base, SEGMENT_HEADER_BYTES);
            std::ptr::write_bytes(
                self.base.add(SEGMENT_HEADER_BYTES),
                0,
                marker_end - SEGMENT_HEADER_BYTES,
            );
        }
        self.generation = generation;
        self.epoch = epoch;
        self.committed
            .store(SEGMENT_HEADER_BYTES, Ordering::Release);
    }

    /// The current generation (below [`GENERATION_MODULUS`]).
    pub(super) fn generation(&self) -> u32 {
        self.generation
    }

    /// The epoch this segment was last (re)started at.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Bytes of records (header excluded).
    pub(super) fn used_bytes(&self) -> usize {
        self.committed.load(Ordering::Relaxed) - SEGMENT_HEADER_BYTES
    }

    /// The segment's number in the ring.
    pub(super) fn index(&self) -> usize {
        self.index
    }

    /// Writes dirty pages back to the file (`msync`).
    pub(super) fn flush(&self) -> Result<()> {
        self.map.flush().map_err(|e| Error::io(&self.path, e))
    }
}

/// Allocates the file's blocks now, so a full disk fails segment creation with an error instead
/// of killing the process with SIGBUS on a later write to a sparse page of the mapping.
#[cfg(target_os = "linux")]
fn reserve_blocks(file: &File, size: usize) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open and owned by `file` for the duration of the call;
    // posix_fallocate touches no memory of ours.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, size as libc::off_t) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(rc))
    }
}

/// Without posix_fallocate, rely on `set_len` (a full disk may then surface as SIGBUS).
#[cfg(not(target_os = "linux"))]
fn reserve_blocks(_file: &File, _size: usize) -> std::io::Result<()> {
    Ok(())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
