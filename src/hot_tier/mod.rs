//! The hot tier: recent values in fixed-size memory-mapped segment files, read without RocksDB.
//!
//! The tier is a **cache**: every value in it is also in RocksDB, so losing, discarding or
//! recycling a segment never loses data. It is a ring of `hot_tier_bytes / hot_segment_bytes`
//! segments (`hot-0000.seg`, ...; see [`segment`] for the file format), created on first use and
//! preallocated (`posix_fallocate`), so a full disk is an error at creation, not a SIGBUS later.
//! Appends go to the active segment; when it is full the next one in the ring (the oldest) is
//! recycled: its generation is bumped, so every Location pointing into it becomes stale, and its
//! records are handed back so the engine can demote the keys still pointing there to Cold.
//!
//! # Interface for the engine
//!
//! ```text
//! let (tier, mut appender, report) = HotTier::open(dir, &opts)?; // after RocksStore::open holds the LOCK
//! // write path (after the RocksDB commit, the appender held under the writer mutex),
//! // for each final (key, value):
//! if let Some(a) = tier.append(&mut appender, key, value)? {
//!     for (k, old) in a.recycled { index: if index[k] == old { index[k] = Cold } }
//!     index[key] = a.location;
//! }
//! // read path, when the index says Hot(loc):
//! match tier.read_vec(loc, key) { Some(v) => v, None => /* read RocksDB */ }
//! ```
//!
//! A demoted key needs nothing from the value cache: the cache holds nothing for a key while its
//! write is in progress, and a Cold key's value is filled on its next read.
//!
//! * `read` returns `None` for a stale Location (its segment recycled or re-created since, so the
//!   generation or the record there differs); the caller falls back to
//!   RocksDB, which always has the value. Reads copy the value out (`read_into`, `read_vec`)
//!   and never wait for the appender or a recycle.
//! * `append` returns `Ok(None)` when the tier is off or the value is longer than
//!   [`MAX_HOT_VALUE_LEN`]; `Err` only for I/O errors creating a segment file, after which the
//!   engine should keep the key Cold (the write itself already succeeded in RocksDB).
//! * The recycled list may contain the very key being appended (an older record of it).
//!   Demote by comparing locations (as above), so the order of the two steps does not matter.
//!
//! # Reopen
//!
//! `open` verifies every segment file (header checksum, every record's checksum, file size). A
//! damaged, truncated or foreign file is deleted and listed in [`OpenReport::discarded`], never
//! trusted. The records of intact segments are checked for damage, **not for freshness**: a crash
//! between a RocksDB commit and the hot append, a delete, or a run with the tier off leaves older
//! values in the tier. So the tier hands out no list of them: only the locations saved in an
//! index snapshot that matches RocksDB point into it after a reopen, and the other records age
//! out as the ring wraps.
//!
//! # Concurrency
//!
//! Each slot is a `OnceLock<Segment>`: a segment is created once and then recycled in place,
//! never removed while the tier lives, so finding it takes no lock. Readers take no lock and
//! write nothing shared but the per-thread cells of the `hits` counter: a read copies the
//! record and validates the copy against the segment's generation ([`segment`] documents the
//! protocol). Appends and recycling need the tier's one [`Appender`] by `&mut`, so there is a
//! single appender at a time without a lock of the tier's own (the engine keeps the appender
//! under its writer mutex, which serialises every write and promotion anyway).
//! Any thread may fault in the active segment's pages ahead of the appender
//! ([`HotTier::prefault_ahead`]): that changes no byte, and it keeps most page faults of a fresh
//! segment (a zeroed 2 MiB folio each) out of the writer mutex.

mod segment;

pub(crate) use segment::{record_span, SEGMENT_HEADER_BYTES};

use crate::error::{Error, Result};
use crate::location::{Location, GENERATION_MODULUS, MAX_HOT_VALUE_LEN, MAX_SEGMENT_BYTES};
use crate::options::Options;
use crate::stats::{Counter, HotTierStats};
use segment::{parse_segment_file_name, Segment};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// `HotTier::active` before the first append.
const NO_SEGMENT: usize = usize::MAX;
/// How far ahead of the end of records [`HotTier::prefault_ahead`] keeps pages faulted in.
const PREFAULT_AHEAD: usize = 4 << 20;

/// A successful append.
#[derive(Debug)]
pub(crate) struct Appended {
    /// Where the new record is.
    pub location: Location,
    /// Records of the segment recycled to make room, oldest first (empty when none was).
    pub recycled: Vec<(u64, Location)>,
}

/// What `HotTier::open` found on disk.
#[derive(Debug, Default)]
pub(crate) struct OpenReport {
    /// Segment files verified and kept.
    pub kept_segments: usize,
    /// Files deleted, with the reason.
    pub discarded: Vec<(PathBuf, String)>,
}

/// The right to append to one tier, and where appends go. `HotTier::open` makes exactly one per
/// tier; `append` takes it by `&mut` (and checks it belongs to the tier), so its holder is the
/// tier's single appender, which the segments' append rules require (see [`segment`]).
#[derive(Debug)]
pub(crate) struct Appender {
    /// The tier this appender belongs to (`HotTier::id`).
    tier: u64,
    /// Segment being appended to.
    active: Option<usize>,
    /// Epoch for the next segment (re)start.
    next_epoch: u64,
}

/// The ring of hot segments. See the module docs.
pub(crate) struct HotTier {
    dir: PathBuf,
    segment_bytes: usize,
    slots: Box<[OnceLock<Segment>]>,
    /// The appender's active segment ([`NO_SEGMENT`] before the first append), for
    /// [`HotTier::prefault_ahead`], which runs outside the appender.
    active: AtomicUsize,
    /// Unique in the process; the tier's [`Appender`] carries it.
    id: u64,
    appends: Counter,
    hits: Counter,
    stale: Counter,
    recycled: Counter,
    demoted: Counter,
}

impl HotTier {
    /// Opens the tier in `dir` as configured by `opts` (`hot_tier_bytes`, `hot_segment_bytes`),
    /// verifying existing segment files. With the tier off, existing segment files are deleted
    /// (they would be stale if it is turned on again).
    ///
    /// Returns the tier, its one [`Appender`] and what was found on disk.
    ///
    /// The caller must hold the database's lock (open `RocksStore` first): the tier assumes no
    /// other process uses these files.
    pub(crate) fn open(dir: &Path, opts: &Options) -> Result<(HotTier, Appender, OpenReport)> {
        let count = opts.hot_segment_count();
        let size = opts.hot_segment_bytes;
        if count > 0 {
            let min = SEGMENT_HEADER_BYTES + record_span(0);
            if size > MAX_SEGMENT_BYTES || size < min || size % 8 != 0 {
                return Err(Error::InvalidOptions(format!(
                    "hot_segment_bytes {size} is not a valid segment size"
                )));
            }
        }
        let mut report = OpenReport::default();
        let mut found: Vec<Segment> = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let name = entry.file_name();
            let Some(index) = name.to_str().and_then(parse_segment_file_name) else {
                continue;
            };
            let path = entry.path();
            let verdict = if index >= count {
                Err(format!(
                    "segment {index} is beyond the configured {count} segments"
                ))
            } else {
                Segment::open_existing(&path, index, size)?
            };
            match verdict {
                Ok(seg) => found.push(seg),
                Err(reason) => {
                    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                    report.discarded.push((path, reason));
                }
            }
        }
        report.kept_segments = found.len();

        let slots: Box<[OnceLock<Segment>]> = (0..count).map(|_| OnceLock::new()).collect();
        let mut newest: Option<(u64, usize)> = None;
        for seg in found {
            let index = seg.index();
            if newest.is_none_or(|(e, _)| seg.epoch() > e) {
                newest = Some((seg.epoch(), index));
            }
            // File names are unique, so each slot is filled at most once here.
            let _ = slots[index].set(seg);
        }
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let tier = HotTier {
            dir: dir.to_path_buf(),
            segment_bytes: size,
            slots,
            active: AtomicUsize::new(newest.map_or(NO_SEGMENT, |(_, i)| i)),
            id,
            appends: Counter::new(),
            hits: Counter::new(),
            stale: Counter::new(),
            recycled: Counter::new(),
            demoted: Counter::new(),
        };
        let appender = Appender {
            tier: id,
            active: newest.map(|(_, i)| i),
            next_epoch: newest.map_or(1, |(e, _)| e + 1),
        };
        Ok((tier, appender, report))
    }

    /// True when the tier is configured on.
    pub(crate) fn is_enabled(&self) -> bool {
        !self.slots.is_empty()
    }

    /// True when a value of `len` bytes can go into the tier.
    pub(crate) fn accepts(&self, len: usize) -> bool {
        self.is_enabled()
            && len <= MAX_HOT_VALUE_LEN
            && SEGMENT_HEADER_BYTES + record_span(len) <= self.segment_bytes
    }

    /// Appends a copy of `key`'s value; see the module docs for the outcome and how to apply
    /// the recycled list. `w` is this tier's appender (from `open`; another tier's panics).
    pub(crate) fn append(
        &self,
        w: &mut Appender,
        key: u64,
        value: &[u8],
    ) -> Result<Option<Appended>> {
        // The segments' single-appender rule rests on this: one appender per tier, held `&mut`.
        assert_eq!(w.tier, self.id, "an appender of another hot tier");
        if !self.accepts(value.len()) {
            return Ok(None);
        }
        let mut recycled = Vec::new();
        // A fresh or recycled segment always fits the record (`accepts`), so this loop turns at
        // most twice.
        for _ in 0..2 {
            if let Some(active) = w.active {
                let seg = self.slots[active].get();
                if let Some(location) = seg.and_then(|s| s.try_append(key, value)) {
                    self.appends.inc();
                    return Ok(Some(Appended { location, recycled }));
                }
            }
            let next = w.active.map_or(0, |a| (a + 1) % self.slots.len());
            let epoch = w.next_epoch;
            // Only the appender fills or recycles slots, so the answer cannot change under us.
            if let Some(seg) = self.slots[next].get() {
                // Recycling touches memory only; readers of the old records find them stale.
                recycled = seg.records();
                let generation = (seg.generation() + 1) % GENERATION_MODULUS;
                seg.reset(generation, epoch);
                self.recycled.inc();
                self.demoted.add(recycled.len() as u64);
            } else {
                let seg = Segment::create(&self.dir, next, self.segment_bytes, 0, epoch)?;
                if self.slots[next].set(seg).is_err() {
                    unreachable!("only the appender fills slots");
                }
            }
            w.next_epoch += 1;
            w.active = Some(next);
            self.active.store(next, Ordering::Relaxed);
        }
        // Unreachable while `accepts` holds; declining is the safe answer for a cache.
        Ok(None)
    }

    /// Faults in the active segment's pages up to `bytes` (at least [`PREFAULT_AHEAD`])
    /// beyond its end of records, from where earlier prefaults of the segment stopped (they
    /// start over when it is recycled), so the appender's next stores land on pages already
    /// there (`Segment::prefault_to` says why that matters). For writers, outside the writer
    /// mutex: the thread that finds the pages missing faults them while others append. A
    /// fresh segment's first page is still faulted by the appender (its header).
    pub(crate) fn prefault_ahead(&self, bytes: usize) {
        let active = self.active.load(Ordering::Relaxed);
        if let Some(seg) = self.slots.get(active).and_then(OnceLock::get) {
            // Advisory (see `prefault_to`): a refusal leaves the faults to the appender.
            let _ = seg.prefault_to(seg.committed().saturating_add(bytes.max(PREFAULT_AHEAD)));
        }
    }

    /// Copies the value at `loc` into `out` (cleared first) after checking the segment
    /// generation, the key and the length (not the checksum: see `Segment::read_into`). False
    /// means "not here, read RocksDB" (`out` is then empty).
    #[inline]
    pub(crate) fn read_into(&self, loc: Location, key: u64, out: &mut Vec<u8>) -> bool {
        let found = loc
            .as_hot()
            .and_then(|hot| Some((hot, self.slots.get(hot.segment as usize)?.get()?)))
            .is_some_and(|(hot, seg)| seg.read_into(hot, key, out));
        if found {
            self.hits.inc();
        } else {
            out.clear();
            if loc.is_hot() {
                self.stale.inc();
            }
        }
        found
    }

    /// The value at `loc` as a new `Vec`, or `None` ([`HotTier::read_into`]).
    #[inline]
    pub(crate) fn read_vec(&self, loc: Location, key: u64) -> Option<Vec<u8>> {
        let mut v = Vec::new();
        self.read_into(loc, key, &mut v).then_some(v)
    }

    /// Asks the CPU to load the record at `loc` into its caches ahead of a [`HotTier::read_into`]
    /// (a no-op for a Cold location or a segment not created yet; never waits).
    pub(crate) fn prefetch(&self, loc: Location) {
        let Some(hot) = loc.as_hot() else { return };
        if let Some(seg) = self.slots.get(hot.segment as usize).and_then(OnceLock::get) {
            seg.prefetch(hot);
        }
    }

    /// Writes every segment's dirty pages back to its file (`msync`). The engine calls it at a
    /// clean close before it writes an index snapshot whose Hot locations point into the tier:
    /// records carry no generation of their own, so a record page lost in a power failure
    /// after the close could expose bytes of an older generation at the same offset, and they
    /// could pass the key and checksum checks when the same key was written there before.
    pub(crate) fn flush(&self) -> Result<()> {
        for seg in self.slots.iter().filter_map(OnceLock::get) {
            seg.flush()?;
        }
        Ok(())
    }

    /// The `(key, Location)` of every record, oldest segment first.
    #[cfg(test)]
    pub(crate) fn records(&self) -> Vec<(u64, Location)> {
        let mut by_epoch: Vec<(u64, Vec<(u64, Location)>)> = self
            .slots
            .iter()
            .filter_map(|slot| slot.get().map(|s| (s.epoch(), s.records())))
            .collect();
        by_epoch.sort_by_key(|(epoch, _)| *epoch);
        by_epoch.into_iter().flat_map(|(_, r)| r).collect()
    }

    /// `(start address, length)` of every segment mapping (for the huge-page report).
    pub(crate) fn mapped_ranges(&self) -> Vec<(usize, usize)> {
        self.slots
            .iter()
            .filter_map(OnceLock::get)
            .map(Segment::mapped_range)
            .collect()
    }

    /// Counters and current sizes (`huge_page_bytes` and `append_errors` are the engine's to
    /// fill in).
    pub(crate) fn stats(&self) -> HotTierStats {
        let (mut bytes, mut segments) = (0u64, 0u64);
        for seg in self.slots.iter().filter_map(OnceLock::get) {
            bytes += seg.used_bytes() as u64;
            segments += 1;
        }
        HotTierStats {
            enabled: self.is_enabled(),
            bytes,
            capacity_bytes: (self.slots.len() * self.segment_bytes) as u64,
            segments,
            appends: self.appends.get(),
            hits: self.hits.get(),
            stale: self.stale.get(),
            huge_page_bytes: 0, // read by the engine with the index's, from one pass of smaps
            recycled: self.recycled.get(),
            demoted: self.demoted.get(),
            append_errors: 0, // counted by the engine, which decides what a failed append means
        }
    }
}

#[cfg(test)]
mod tests;
