//! One hot-tier segment: a fixed-size file `hot-NNNN.seg`, memory-mapped read-write.
//!
//! # File layout
//!
//! ```text
//! [0, 32)   header: magic "ALXHOT02" | generation u32 | 0u32 | epoch u64 | crc32(0..24) | 0u32
//! [32, ..)  records, each starting on a multiple of 8:
//!           word 0: value len u16 | key len u16 with bit 15 set | crc u32
//!           key bytes, zero-padded to a multiple of 8
//!           value bytes, zero-padded to a multiple of 8
//!           then an end marker: 16 zero bytes, when they fit
//! ```
//!
//! All integers are little-endian. Bit 15 of the key length makes a record's word 0 never zero,
//! so a record of an empty key and an empty value (8 bytes) is not an end marker. Keys are at
//! most [`MAX_KEY_LEN`] bytes, values at most `MAX_HOT_VALUE_LEN`. An 8-byte key costs 16
//! bytes before its value (word 0 and one key word), as the `key u64 | len u32 | crc u32`
//! header of the previous format did; a file of that format (magic `ALXHOT01`) is discarded at
//! open like any foreign file (the tier is a cache: RocksDB has every value).
//!
//! A record's crc is CRC-32 over its key length, key bytes, value length and value bytes, seeded
//! with the segment's generation ([`record_crc`]): after a recycle, leftover records of the
//! previous generation no longer verify, so the scan at open cannot take them for current ones.
//! The scan also requires a key's padding to be zero, since reads compare whole key words. Reads
//! do not recompute the crc (see [`Segment::read_into`]): a reader checks the generation it was
//! given against the segment's, then the lengths and the key words at the offset. `epoch`
//! orders segments by when they were (re)started; the highest epoch is the segment being
//! written.
//!
//! # Synchronisation (who touches which bytes)
//!
//! Readers take no lock and write nothing shared: a read is a sequence-lock style optimistic
//! copy, validated by the segment's generation.
//!
//! * Every byte of the mapping that a reader may look at while the appender runs is read and
//!   written only as aligned 8-byte words through atomic operations ([`Segment::word`]; records
//!   start on multiples of 8 and are padded to them), so concurrent access is never a data race.
//!   Plain `&[u8]` views are taken by the appender of its own records and at open, when
//!   nothing else can access the segment ([`Segment::bytes`]), and by a reader of a record in
//!   a segment it has pinned ([`Segment::pinned_value`], below), which nothing writes while the
//!   pin lives (other readers only load its words).
//! * `committed` is the end of the last complete record. The appender (one at a time: the holder
//!   of the tier's one `Appender`, taken by `&mut`) stores a record and its end marker at and
//!   above `committed`, then publishes them with a Release store of the new `committed`.
//! * Recycling ([`Segment::reset`]) first stores the new `generation`, then issues a Release
//!   fence, and only then rewrites the header and `committed`; later appends overwrite old
//!   records.
//! * A reader may instead pin the segment (`pins.rs`) and then make the same checks
//!   ([`Segment::pinned_value`]): the appender publishes a recycle's generation first
//!   ([`Segment::retire`]) and rewrites nothing ([`Segment::restart`], later appends) while a
//!   pin names the segment, so the record's bytes can be lent as a plain `&[u8]` (nothing
//!   writes them while it lives; other readers only load them).
//! * A prefault ([`Segment::prefault_to`], any thread) touches no byte: it asks the kernel to
//!   fault pages in (`MADV_POPULATE_WRITE`) and only claims ranges through `prefaulted`.
//! * A reader ([`Segment::read_into`]) Acquire-loads `generation` and `committed`, checks its
//!   Location against them, compares word 0 and the key words and copies the value's words with
//!   Relaxed loads, issues an Acquire fence and loads `generation` again. If any word it copied was written after a recycle, the fences
//!   make that recycle's generation visible to the second load, and the reader discards the copy
//!   (a stale read, which sends it to RocksDB). The generation wraps after
//!   [`GENERATION_MODULUS`] recycles of the same segment; the tier closes that gap with its
//!   recycle count, which a reader loads before its index lookup and checks after the copy
//!   (`HotTier::read_into`): any recycle in between refuses the read.

use super::records::Records;
use crate::error::{Error, Result};
use crate::keys::MAX_KEY_LEN;
use crate::location::{HotLocation, Location, GENERATION_MODULUS, OFFSET_UNIT};
use crate::machine::prefetch;
use memmap2::{MmapMut, MmapOptions};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Bytes of the segment header; records start here.
pub(crate) const SEGMENT_HEADER_BYTES: usize = 32;
/// Prefaults ([`Segment::prefault_to`]) cover whole units of this many bytes: a huge page.
pub(super) const PREFAULT_UNIT: usize = 2 << 20;
/// Bytes of a record's word 0 (lengths and crc), before its key.
const RECORD_HEAD_BYTES: usize = 8;
/// Bytes of the end marker (zero), where they fit.
const END_MARKER_BYTES: usize = 16;
/// Bit 15 of word 0's key-length field: set in every record, so word 0 is never zero.
const KEY_LEN_FLAG: u32 = 0x8000;
const MAGIC: &[u8; 8] = b"ALXHOT02";
/// The magic of the previous record format (`key u64 | len u32 | crc u32 | value`): such a file
/// is discarded at open, named as the old format in the report.
const OLD_MAGIC: &[u8; 8] = b"ALXHOT01";

const _: () = assert!(MAX_KEY_LEN < KEY_LEN_FLAG as usize);

/// Sets the bit of a record starting at `off` in a bitmap of record starts.
fn mark_start(starts: &mut [u64], off: usize) {
    let unit = off / OFFSET_UNIT;
    starts[unit / 64] |= 1 << (unit % 64);
}

/// `n` rounded up to whole words.
const fn padded(n: usize) -> usize {
    n.div_ceil(OFFSET_UNIT) * OFFSET_UNIT
}

/// Bytes a record of a `key_len`-byte key and a `value_len`-byte value occupies, padding
/// included.
pub(crate) const fn record_span(key_len: usize, value_len: usize) -> usize {
    RECORD_HEAD_BYTES + padded(key_len) + padded(value_len)
}

/// The low 32 bits of word 0 of a record of these lengths (the value length in bits 0..16, the
/// key length with [`KEY_LEN_FLAG`] in bits 16..32). Only for lengths the format holds: a key
/// of at most [`MAX_KEY_LEN`] bytes, a value of at most 65535.
#[inline(always)]
const fn record_lengths(key_len: usize, value_len: usize) -> u32 {
    value_len as u32 | (key_len as u32 | KEY_LEN_FLAG) << 16
}

/// `(key length, value length)` of a record's word 0, or `None` when it is no record's (the
/// flag is missing or the key is longer than any the tier stores).
fn parse_lengths(word0: u64) -> Option<(usize, usize)> {
    let key_field = (word0 >> 16) as u32 & 0xFFFF;
    let key_len = (key_field & !KEY_LEN_FLAG) as usize;
    (key_field & KEY_LEN_FLAG != 0 && key_len <= MAX_KEY_LEN)
        .then_some((key_len, (word0 & 0xFFFF) as usize))
}

/// CRC-32 of a record, seeded with the segment generation.
pub(super) fn record_crc(generation: u32, key: &[u8], value: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(generation.wrapping_mul(0x9E37_79B9));
    h.update(&(key.len() as u16).to_le_bytes());
    h.update(key);
    h.update(&(value.len() as u16).to_le_bytes());
    h.update(value);
    h.finalize()
}

/// The last, partial word of a key (`rest`: 1 to 7 bytes) as the segment stores it: zero-padded.
#[inline(always)]
fn padded_word(rest: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..rest.len()].copy_from_slice(rest);
    u64::from_le_bytes(w)
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

/// A mapped segment file. See the module docs for the layout and the synchronisation rules.
pub(super) struct Segment {
    index: usize,
    path: PathBuf,
    size: usize,
    generation: AtomicU32,
    epoch: AtomicU64,
    committed: AtomicUsize,
    /// Bytes from the start that a prefault has faulted in or claimed ([`Segment::prefault_to`]).
    prefaulted: AtomicUsize,
    /// Start of the mapping, taken once from `map.as_mut_ptr()`. All access to the mapping goes
    /// through this pointer, never through `map`'s `Deref`, so no `&mut [u8]` over the whole
    /// mapping ever aliases a reader's `&[u8]`.
    base: *mut u8,
    map: MmapMut,
    _file: File,
    /// Where the records verified at open start (one bit per word, as
    /// [`Segment::record_starts`] gives them), kept from the verification's walk for the first
    /// `record_starts`, which takes it; empty once taken or forgotten, and for a created
    /// segment.
    opened_starts: parking_lot::Mutex<Vec<u64>>,
}

// SAFETY: `base` points into `map`, owned by the segment and unmapped only on drop. Under shared
// access (`&Segment`) readers only load words atomically, and the single appender (the holder
// of the tier's one `Appender`, which `append` takes by `&mut`) stores them atomically; plain
// byte views are taken only by the appender of records no one else writes, with `&mut`, or by a
// reader of a record in a segment it pinned, which the appender then does not write (`pins.rs`).
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
        let seg = Self::map(file, path, index, size)?;
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
        // As at `create`: a sparse file (restored from a backup, copied by a tool that punches
        // holes) would otherwise fault its holes in on a later append and, on a full disk,
        // kill the process with SIGBUS instead of failing here with an error.
        if let Err(e) = reserve_blocks(&file, size) {
            // The tier is a cache: a file whose blocks cannot be reserved (a full disk, a
            // filesystem without fallocate) is discarded, the database still opens.
            return Ok(Err(format!("cannot reserve its blocks: {e}")));
        }
        let seg = Self::map(file, path.to_path_buf(), index, size)?;
        let header = seg.bytes(0, SEGMENT_HEADER_BYTES);
        if &header[..8] == OLD_MAGIC {
            return Ok(Err("an older record format (ALXHOT01)".into()));
        }
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
        if epoch >= super::MAX_EPOCH {
            return Ok(Err(format!("epoch {epoch} out of range")));
        }
        seg.generation.store(generation, Ordering::Relaxed);
        seg.epoch.store(epoch, Ordering::Relaxed);
        match seg.verify_records() {
            Ok(end) => {
                seg.committed.store(end, Ordering::Relaxed);
                // The records' pages are there already: prefaults start at the last whole
                // unit below the end instead of write-faulting (and dirtying) all of them.
                seg.prefaulted
                    .store(end / PREFAULT_UNIT * PREFAULT_UNIT, Ordering::Relaxed);
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
        // A hot read lands on a random record: on 4 KiB pages nearly every one also misses the
        // TLB. Ask for 2 MiB pages (the kernel maps page-cache folios of that size with one
        // entry; it aligns mappings of 2 MiB or more itself). Advisory: a refusal costs speed only.
        #[cfg(target_os = "linux")]
        let _ = map.advise(memmap2::Advice::HugePage);
        let base = map.as_mut_ptr();
        Ok(Segment {
            index,
            path,
            size,
            generation: AtomicU32::new(0),
            epoch: AtomicU64::new(0),
            committed: AtomicUsize::new(SEGMENT_HEADER_BYTES),
            prefaulted: AtomicUsize::new(0),
            base,
            map,
            _file: file,
            opened_starts: parking_lot::Mutex::new(Vec::new()),
        })
    }

    /// Asks the CPU to load the cache lines of the record of a `key_len`-byte key at `loc` (a
    /// hint: nothing is read, nothing can fault; a stale `loc` only wastes the hint). Reads call
    /// it before copying, and scans for the records they will read next, so the misses of
    /// scattered records overlap.
    #[inline]
    pub(super) fn prefetch(&self, loc: HotLocation, key_len: usize) {
        let off = loc.offset as usize;
        let end = off + record_span(key_len.min(MAX_KEY_LEN), loc.len as usize);
        if end > self.size {
            return;
        }
        for line in (off & !63..end).step_by(64) {
            prefetch(self.base.wrapping_add(line));
        }
    }

    /// The bytes `[off, off + len)`. Only for bytes no one writes while the borrow lives: at
    /// open (nothing else has the segment yet) and for the appender's own records below
    /// `committed` (module docs). Readers use [`Segment::word`].
    fn bytes(&self, off: usize, len: usize) -> &[u8] {
        assert!(off + len <= self.size, "segment access out of bounds");
        // SAFETY: in bounds of the live mapping (asserted). Callers only ask for ranges no one
        // writes while the returned borrow lives (see above).
        unsafe { std::slice::from_raw_parts(self.base.add(off), len) }
    }

    /// The 8-byte word at `off` (a multiple of 8, below `size`), for atomic access.
    #[inline(always)]
    fn word(&self, off: usize) -> &AtomicU64 {
        debug_assert!(off % 8 == 0 && off + 8 <= self.size);
        // SAFETY: `base` is page-aligned and `off` a multiple of 8 inside the live mapping, so
        // the pointer is valid and aligned for a u64 for as long as `self` lives. Every access
        // to bytes that may be accessed concurrently goes through atomics (module docs).
        unsafe { AtomicU64::from_ptr(self.base.add(off).cast::<u64>()) }
    }

    /// Stores `bytes` (zero-padded to a multiple of 8) as words from `off` on.
    fn store_words(&self, off: usize, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        let mut at = off;
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.word(at).store(w, Ordering::Relaxed);
            at += 8;
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.word(at)
                .store(u64::from_le_bytes(last), Ordering::Relaxed);
        }
    }

    /// Stores the end marker (zero words) at `at`, the end of the records, as far as it fits
    /// in the segment.
    fn store_end_marker(&self, at: usize) {
        let marker_end = (at + END_MARKER_BYTES).min(self.size);
        for w in (at..marker_end).step_by(8) {
            self.word(w).store(0, Ordering::Relaxed);
        }
    }

    /// Walks the records from the header, verifying each; stops at an end marker (a zero word
    /// 0, which no record has) or at the segment's end. Any record that fails verification
    /// damages the segment. Returns the end of the last record.
    fn verify_records(&self) -> std::result::Result<usize, String> {
        let generation = self.generation();
        let mut starts = vec![0u64; self.start_words()];
        let mut off = SEGMENT_HEADER_BYTES;
        while off + RECORD_HEAD_BYTES <= self.size {
            let word0 = u64_at(self.bytes(off, RECORD_HEAD_BYTES), 0);
            if word0 == 0 {
                break; // end marker
            }
            let Some((key_len, len)) = parse_lengths(word0) else {
                return Err(format!("record at {off} has a bad header {word0:#018x}"));
            };
            let span = record_span(key_len, len);
            let loc = Location::hot(self.index, generation, off, len);
            let (Some(_), true) = (loc, off + span <= self.size) else {
                return Err(format!(
                    "record at {off} has impossible lengths (key {key_len}, value {len})"
                ));
            };
            let key_at = off + RECORD_HEAD_BYTES;
            let key = self.bytes(key_at, key_len);
            let key_padding = self.bytes(key_at + key_len, padded(key_len) - key_len);
            if key_padding.iter().any(|&b| b != 0) {
                // Reads compare whole key words: such a record could never be read.
                return Err(format!("record at {off} has a non-zero key padding"));
            }
            let value = self.bytes(key_at + padded(key_len), len);
            if (word0 >> 32) as u32 != record_crc(generation, key, value) {
                return Err(format!(
                    "record at {off} (key \"{}\") fails its checksum",
                    key.escape_ascii()
                ));
            }
            mark_start(&mut starts, off);
            off += span;
        }
        *self.opened_starts.lock() = starts;
        Ok(off)
    }

    /// Faults in the mapping's pages up to `want` bytes (rounded up to whole huge pages, at most
    /// the segment's end) from where earlier prefaults stopped, unless they reach that far
    /// already or another thread is doing it. Any thread may call it: it changes no byte, so
    /// it may overlap the appender's stores.
    ///
    /// Why: the first store to a page of a fresh segment file faults, and the kernel zeroes the
    /// page (a whole 2 MiB folio with huge pages) before the store completes; on a VM whose
    /// free memory went back to the host that costs milliseconds. Done by the appender, it
    /// would be done under the engine's writer mutex and stall every other writer meanwhile.
    ///
    /// Returns the kernel's answer for the range it faulted (`Ok` when there was none to do).
    pub(super) fn prefault_to(&self, want: usize) -> std::io::Result<()> {
        let want = want.min(self.size);
        let done = self.prefaulted.load(Ordering::Relaxed);
        if done >= want {
            return Ok(());
        }
        let target = want.next_multiple_of(PREFAULT_UNIT).min(self.size);
        // Claim [done, target): one thread faults each range.
        if self
            .prefaulted
            .compare_exchange(done, target, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return Ok(());
        }
        // Advisory: a kernel without MADV_POPULATE_WRITE (before 5.14) refuses, and the
        // appender's own stores fault the pages as before.
        #[cfg(target_os = "linux")]
        return self
            .map
            .advise_range(memmap2::Advice::PopulateWrite, done, target - done);
        #[cfg(not(target_os = "linux"))]
        Ok(())
    }

    /// Bytes from the start that prefaults have covered or claimed.
    #[cfg(test)]
    pub(super) fn prefaulted(&self) -> usize {
        self.prefaulted.load(Ordering::Relaxed)
    }

    /// The end of the last complete record.
    pub(super) fn committed(&self) -> usize {
        self.committed.load(Ordering::Relaxed)
    }

    /// Appends a record of `key` and `value` and returns its Location, or `None` when it does
    /// not fit (or the key is longer than [`MAX_KEY_LEN`], or the value than a Location's
    /// length field).
    ///
    /// Only the tier's single appender (the holder of its `Appender`) may call this.
    pub(super) fn try_append(&self, key: &[u8], value: &[u8]) -> Option<Location> {
        if key.len() > MAX_KEY_LEN {
            return None;
        }
        let start = self.committed.load(Ordering::Relaxed);
        let span = record_span(key.len(), value.len());
        let end = start.checked_add(span).filter(|&e| e <= self.size)?;
        let generation = self.generation();
        // Refuses a value longer than the 16-bit length field (and any offset it cannot encode).
        let loc = Location::hot(self.index, generation, start, value.len())?;
        let crc = record_crc(generation, key, value);
        // Pairs with a reader's Acquire fence, like `reset`'s: the appender may be another
        // thread than the one that recycled the segment (they take turns on the engine's writer
        // mutex), and this fence, after that mutex was taken, is what makes the recycle's
        // generation and the tier's recycle count visible to a reader that copies any word
        // stored below. (A compiler barrier only on x86-64.)
        fence(Ordering::Release);
        let lengths = record_lengths(key.len(), value.len());
        self.word(start)
            .store(u64::from(lengths) | u64::from(crc) << 32, Ordering::Relaxed);
        // The key and the value, each zero-padded to whole words.
        let key_at = start + RECORD_HEAD_BYTES;
        self.store_words(key_at, key);
        self.store_words(key_at + padded(key.len()), value);
        self.store_end_marker(end);
        // Release: a reader that Acquire-loads the new `committed` sees the record's words.
        self.committed.store(end, Ordering::Release);
        Some(loc)
    }

    /// True when the key words from `at` are `key`'s, zero-padded (an 8-byte key: one compare).
    ///
    /// The words must lie inside the mapping (the caller checked the record's span).
    #[inline(always)]
    fn key_matches(&self, at: usize, key: &[u8]) -> bool {
        if let Ok(word) = <[u8; 8]>::try_from(key) {
            return self.word(at).load(Ordering::Relaxed) == u64::from_le_bytes(word);
        }
        let mut chunks = key.chunks_exact(8);
        let mut w = at;
        for c in &mut chunks {
            let want = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            if self.word(w).load(Ordering::Relaxed) != want {
                return false;
            }
            w += 8;
        }
        let rest = chunks.remainder();
        rest.is_empty() || self.word(w).load(Ordering::Relaxed) == padded_word(rest)
    }

    /// The value at `loc` in place, for a reader holding `pin` on this segment
    /// ([`super::pins`]), after the checks [`Segment::read_into`] makes before its copy: the
    /// generation (loaded after the pin was published), the record's end below `committed`,
    /// its lengths and every key word. The appender writes nothing into a pinned segment, so
    /// the bytes stay as they are while the borrow lives.
    pub(super) fn pinned_value<'a>(
        &'a self,
        pin: &'a super::pins::Pin,
        loc: HotLocation,
        key: &[u8],
    ) -> Option<&'a [u8]> {
        assert_eq!(pin.addr(), self.base_addr(), "a pin of another segment");
        // SeqCst: the pin protocol's load, after the pin's store.
        let off = self.committed_record(loc, key, self.generation.load(Ordering::SeqCst))?;
        let len = loc.len as usize;
        // Start loading every line of the record at once, as `read_into` does: the caller's
        // closure reads the value's lines only after the key check below has waited for the
        // first, and a line it reaches unasked would be a second round trip to memory.
        self.prefetch(loc, key.len());
        if !self.record_holds(off, key, len) {
            return None;
        }
        let key_at = off + RECORD_HEAD_BYTES;
        // SAFETY: the record lies inside the mapping, below `committed` (checked above), so
        // its bytes were published by the appender's Release store that the Acquire load of
        // `committed` saw; nothing writes them while the pin lives (`pins.rs`: a record is
        // only ever rewritten after a recycle, and the appender restarts no pinned segment),
        // and the mapping lives as long as `self`.
        Some(unsafe { std::slice::from_raw_parts(self.base.add(key_at + padded(key.len())), len) })
    }

    /// The offset of the record `loc` names for `key`, when `loc` is of `generation` (the
    /// segment's, as the caller loaded it) and the record ends at or below `committed`; its
    /// bytes are not looked at ([`Segment::record_holds`]).
    #[inline(always)]
    fn committed_record(&self, loc: HotLocation, key: &[u8], generation: u32) -> Option<usize> {
        // No record has a longer key; the check also keeps `record_lengths` exact.
        if u32::from(loc.generation) != generation || key.len() > MAX_KEY_LEN {
            return None;
        }
        let off = loc.offset as usize;
        let end = off + record_span(key.len(), loc.len as usize);
        // Acquire pairs with the Release in `try_append`.
        if off < SEGMENT_HEADER_BYTES || end > self.committed.load(Ordering::Acquire) {
            return None;
        }
        Some(off)
    }

    /// Whether the committed record at `off` is `key`'s with a `len`-byte value: its lengths
    /// word and every key word.
    #[inline(always)]
    fn record_holds(&self, off: usize, key: &[u8], len: usize) -> bool {
        self.word(off).load(Ordering::Relaxed) as u32 == record_lengths(key.len(), len)
            && self.key_matches(off + RECORD_HEAD_BYTES, key)
    }

    /// The mapping's address: what a pin of this segment holds.
    pub(super) fn base_addr(&self) -> usize {
        self.base as usize
    }

    /// Copies the value of the record at `loc` into `out` (cleared first) and returns true, or
    /// returns false when the Location outlived its record: it belongs to an earlier
    /// generation, points past the written records, or finds another key's record (or another
    /// key or value length) there, which is what a location from before the segment was
    /// re-created looks like; or the segment was recycled while the copy ran (module docs).
    /// `out` is then empty.
    ///
    /// The checksum is not recomputed: within one generation an offset is written once, so
    /// generation, offset, key and lengths identify the record the index meant, and every
    /// record on disk was checksummed when the segment was opened ([`Segment::open_existing`]).
    /// Records written since live in memory this process wrote.
    #[inline]
    pub(super) fn read_into(&self, loc: HotLocation, key: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        let generation = self.generation.load(Ordering::Acquire);
        let Some(off) = self.committed_record(loc, key, generation) else {
            return false;
        };
        let len = loc.len as usize;
        // Start loading every line of the record at once: the word-by-word copy below would
        // otherwise keep only as many lines in flight as the store buffer lets it run ahead.
        self.prefetch(loc, key.len());
        if !self.record_holds(off, key, len) {
            return false;
        }
        let key_at = off + RECORD_HEAD_BYTES;
        let words = len.div_ceil(8);
        // An empty value has no word to point at (its record may end at the segment's end).
        if words > 0 {
            out.reserve(words * 8);
            // SAFETY: the record lies inside the mapping, below `committed` (checked above),
            // and `out` has room for `words * 8` bytes (reserved above; it is empty).
            unsafe {
                copy_words(
                    self.word(key_at + padded(key.len())),
                    words,
                    out.as_mut_ptr(),
                )
            };
            // SAFETY: the first `words * 8 >= len` bytes were just written.
            unsafe { out.set_len(len) };
        }
        // Pairs with the Release fence in `reset`: if a word above came from after a recycle,
        // the recycle's generation is visible now.
        fence(Ordering::Acquire);
        if self.generation.load(Ordering::Relaxed) != generation {
            out.clear();
            return false;
        }
        true
    }

    /// Calls `each(offset, key length, value length)` for every record, in file order: the
    /// walk from the header over the committed records, which ends at the first word 0 that
    /// does not parse (verified at open or written by this process, so only damage done since)
    /// or the first record that would cross `committed`. Only for the appender (or at open): it
    /// views the records' bytes directly.
    fn walk(&self, mut each: impl FnMut(usize, usize, usize)) {
        let committed = self.committed.load(Ordering::Acquire);
        let mut off = SEGMENT_HEADER_BYTES;
        while off + RECORD_HEAD_BYTES <= committed {
            let Some((key_len, len)) = parse_lengths(u64_at(self.bytes(off, RECORD_HEAD_BYTES), 0))
            else {
                break;
            };
            let span = record_span(key_len, len);
            if off + span > committed {
                break;
            }
            each(off, key_len, len);
            off += span;
        }
    }

    /// The key and Location of every record, in file order. Only for the appender (or at
    /// open): it views the records' bytes directly.
    pub(super) fn records(&self) -> Records {
        let generation = self.generation();
        let mut out = Records::default();
        self.walk(|off, key_len, len| {
            if let Some(loc) = Location::hot(self.index, generation, off, len) {
                out.push(self.bytes(off + RECORD_HEAD_BYTES, key_len), loc);
            }
        });
        out
    }

    /// Where records start: bit `off / OFFSET_UNIT` is set for each record [`Segment::walk`]
    /// finds (one bit per word of the segment: 1/64 of its size). The first call takes the
    /// bitmap the verification at open left (the same records: `walk` goes up to the end that
    /// verification found); later calls walk. Only at open, before any append, like `walk`.
    pub(super) fn record_starts(&self) -> Vec<u64> {
        let opened = std::mem::take(&mut *self.opened_starts.lock());
        if !opened.is_empty() {
            return opened;
        }
        let mut starts = vec![0u64; self.start_words()];
        self.walk(|off, _, _| mark_start(&mut starts, off));
        starts
    }

    /// Drops the bitmap of record starts kept from the verification at open, if no
    /// [`Segment::record_starts`] took it.
    pub(super) fn forget_opened_starts(&self) {
        drop(std::mem::take(&mut *self.opened_starts.lock()));
    }

    /// Words of a bitmap of record starts: one bit per word of the segment.
    fn start_words(&self) -> usize {
        (self.size / OFFSET_UNIT).div_ceil(64)
    }

    /// Whether `loc` names exactly a record found by the walk `starts` came from
    /// ([`Segment::record_starts`]): the segment's current generation, a record starting at
    /// its offset and ending at or below `committed`, with `key`'s bytes and `loc`'s value
    /// length. What [`Segment::records`] would list as `(key, loc)`, without listing them.
    #[inline]
    pub(super) fn holds_exactly(&self, starts: &[u64], loc: HotLocation, key: &[u8]) -> bool {
        let Some(off) = self.committed_record(loc, key, self.generation()) else {
            return false;
        };
        let unit = off / OFFSET_UNIT;
        starts
            .get(unit / 64)
            .is_some_and(|w| w >> (unit % 64) & 1 == 1)
            && self.record_holds(off, key, loc.len as usize)
    }

    /// Asks the CPU to load the line of `loc`'s record head and its bit in `starts` (a hint,
    /// as [`Segment::prefetch`]), for a check of many locations in key order.
    #[inline]
    pub(super) fn prefetch_check(&self, starts: &[u64], loc: HotLocation) {
        let off = loc.offset as usize;
        if off < self.size {
            prefetch(self.base.wrapping_add(off));
            prefetch(starts.as_ptr().wrapping_add(off / OFFSET_UNIT / 64));
        }
    }

    /// Empties the segment under a new generation and epoch: [`Segment::retire`], then
    /// [`Segment::restart`]. Only the tier's single appender (or the creator, before the
    /// segment is shared) may call this.
    pub(super) fn reset(&self, generation: u32, epoch: u64) {
        self.retire(generation);
        self.restart(epoch);
    }

    /// The first half of a recycle: publishes a new generation, so that every location of the
    /// old records is stale. Readers still copying an old record see it when they check again
    /// and discard their copy; readers that pinned the segment before keep reading in place
    /// (`pins.rs`), which is why the appender asks [`super::pins::is_pinned`] before it
    /// [`Segment::restart`]s the segment. Writes no byte of the mapping.
    pub(super) fn retire(&self, generation: u32) {
        let generation = generation % GENERATION_MODULUS;
        // SeqCst: the pin protocol's store, ordered before the appender's look at the pins.
        self.generation.store(generation, Ordering::SeqCst);
        // Orders the new generation before every store of `restart` and every later append: a
        // reader that copies any of them sees the new generation after its Acquire fence.
        fence(Ordering::Release);
    }

    /// The second half of a recycle: rewrites the header under the generation
    /// [`Segment::retire`] published and `epoch`, and starts appends over from the top. Only
    /// when no reader has the segment pinned.
    pub(super) fn restart(&self, epoch: u64) {
        // `retire`'s fence ordered its generation before the stores that followed it in that
        // call; this one orders it before these, which may come in a later append (the
        // generation store happened-before it: same appender, handed on under the writer
        // mutex), so a copying reader of any of them still sees the new generation.
        fence(Ordering::Release);
        let generation = self.generation.load(Ordering::Relaxed);
        let mut header = [0u8; SEGMENT_HEADER_BYTES];
        header[..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&generation.to_le_bytes());
        header[16..24].copy_from_slice(&epoch.to_le_bytes());
        let crc = crc32fast::hash(&header[..24]);
        header[24..28].copy_from_slice(&crc.to_le_bytes());
        self.store_words(0, &header);
        // Segments hold at least header + one record (checked by Options::validate before a
        // tier is configured), so the marker fits.
        self.store_end_marker(SEGMENT_HEADER_BYTES);
        self.epoch.store(epoch, Ordering::Relaxed);
        self.committed
            .store(SEGMENT_HEADER_BYTES, Ordering::Release);
        // Appends start over from the top; so do prefaults (cheap where the pages are still
        // there, and where writeback or reclaim took them it keeps those faults off the
        // appender). A prefault racing this store fails its claim or populates twice.
        self.prefaulted.store(0, Ordering::Relaxed);
    }

    /// The current generation (below [`GENERATION_MODULUS`]).
    pub(super) fn generation(&self) -> u32 {
        self.generation.load(Ordering::Relaxed)
    }

    /// The epoch this segment was last (re)started at.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Bytes of records (header excluded).
    pub(super) fn used_bytes(&self) -> usize {
        self.committed.load(Ordering::Relaxed) - SEGMENT_HEADER_BYTES
    }

    /// The segment's number in the ring.
    pub(super) fn index(&self) -> usize {
        self.index
    }

    /// `(start address, length)` of the mapping (for the huge-page report in `Db::stats`).
    pub(super) fn mapped_range(&self) -> (usize, usize) {
        (self.base as usize, self.size)
    }

    /// Writes dirty pages back to the file (`msync`).
    pub(super) fn flush(&self) -> Result<()> {
        self.map.flush().map_err(|e| Error::io(&self.path, e))
    }
}

/// Copies `words` words starting at `src` to `dst` with Relaxed atomic loads (plain moves on
/// x86-64: no vector copy, but no data race with an appender storing the same words).
///
/// # Safety
/// `src` must be the first of `words` consecutive words inside one live mapping, and `dst` valid
/// for writes of `words * 8` bytes.
#[inline(always)]
unsafe fn copy_words(src: &AtomicU64, words: usize, dst: *mut u8) {
    let src: *const AtomicU64 = src;
    for i in 0..words {
        // SAFETY: per the contract above, `src + i` is an aligned word of the same mapping and
        // `dst + 8i` is writable for 8 bytes.
        unsafe {
            let w = (*src.add(i)).load(Ordering::Relaxed);
            dst.add(i * 8).cast::<u64>().write_unaligned(w.to_le());
        }
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
