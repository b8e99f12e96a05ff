//! The hot tier: recent values in fixed-size memory-mapped segment files, read without RocksDB.
//!
//! The tier is a **cache**: every value in it is also in RocksDB, so losing, discarding or
//! recycling a segment never loses data. It is a ring of `hot_tier_bytes / hot_segment_bytes`
//! segments (`hot-0000.seg`, ...; see [`segment`] for the file format), created on first use and
//! preallocated (`posix_fallocate`, at creation and again when an existing file is opened), so a
//! full disk is an error then, not a SIGBUS on a later append.
//! Appends go to the active segment; when it is full the next one in the ring (the oldest) is
//! recycled: its generation is bumped, so every Location pointing into it becomes stale, and its
//! records are handed back so the engine can demote the keys still pointing there to Cold.
//!
//! # Interface for the engine
//!
//! ```text
//! let (tier, mut appender, report) = HotTier::open(dir, &config)?; // after RocksStore::open holds the LOCK
//! // write path (after the RocksDB commit, the appender held under the writer mutex),
//! // for each final (key: &[u8], value):
//! if let Some(a) = tier.append(&mut appender, key, value)? {
//!     for (k, old) in a.recycled.iter() { index: if index[k] == old { index[k] = Cold } }
//!     index[key] = a.location;
//! }
//! // read path: the mark before the index lookup, then, when the index says Hot(loc):
//! let mark = tier.read_mark();
//! let loc = index[key];
//! match tier.read_vec(mark, loc, key) { Some(v) => v, None => /* read RocksDB */ }
//! ```
//!
//! Keys are byte strings of 0 to [`MAX_KEY_LEN`] bytes; a record stores its key, and a read
//! passes the key it looked up, which must equal the record's byte for byte (length included).
//! A location does not carry the key's length: a reader knows it from its query.
//!
//! A demoted key needs nothing from the value cache: the cache holds nothing for a key while its
//! write is in progress, and a Cold key's value is filled on its next read.
//!
//! * `read_into` (false) and `read_vec` (`None`) refuse a stale Location (its segment recycled or re-created since, so the
//!   generation or the record there differs, or any segment recycled since the reader's
//!   [`ReadMark`], taken before its index lookup); the caller falls back to
//!   RocksDB, which always has the value. Reads copy the value out (`read_into`, `read_vec`)
//!   or pin its segment and lend it in place (`read_pinned`, [`pins`]), and never wait for
//!   the appender or a recycle; the appender never waits for a reader either: an append that
//!   needs a pinned segment is declined (`Ok(None)`, the records of the recycle it made are
//!   handed back by [`HotTier::take_withheld`]).
//! * `append` returns `Ok(None)` when the tier is off, the key is longer than [`MAX_KEY_LEN`]
//!   or the value longer than [`MAX_HOT_VALUE_LEN`]; `Err` only for I/O errors creating a segment file, after which the
//!   engine should keep the key Cold (the write itself already succeeded in RocksDB).
//! * The recycled list ([`Records`]: all keys' bytes in one buffer, not one allocation per key)
//!   may contain the very key being appended (an older record of it). Demote by comparing
//!   locations (as above), so the order of the two steps does not matter.
//!
//! # Reopen
//!
//! `open` verifies every segment file (header checksum, every record's checksum, file size). A
//! damaged, truncated or foreign file is deleted and listed in [`OpenReport::discarded`], never
//! trusted. The records of intact segments are checked for damage, **not for freshness**: a crash
//! between a RocksDB commit and the hot append, a delete, or a run with the tier off leaves older
//! values in the tier. So the tier hands out no list of them: only the locations saved in an
//! index snapshot that matches RocksDB point into it after a reopen, and only those that still
//! name exactly their record ([`HotTier::exact_check`]: same segment identity, a record of the
//! key and length at the offset); the other records age out as the ring wraps.
//!
//! # Identities
//!
//! A segment's identity is its slot and the epoch it was (re)started at ([`SegmentIdentity`]).
//! Epochs grow by one per (re)start: at open they continue above the newest segment on disk,
//! and the engine raises them above the floor saved in the snapshot it trusts
//! ([`HotTier::raise_epoch_floor`]), which covers segments deleted since (tier off, other
//! sizes, damage). So no epoch a trusted snapshot saved is ever taken again, and an identity
//! saved in a snapshot names one incarnation of a segment for good. (Without a trusted
//! snapshot an epoch of a deleted segment may come back; no location can name it then.) Epochs at or above [`MAX_EPOCH`] are refused, so they never wrap.
//!
//! # Concurrency
//!
//! Each slot is a `OnceLock<Segment>`: a segment is created once and then recycled in place,
//! never removed while the tier lives, so finding it takes no lock. Readers take no lock and
//! write nothing shared but the per-thread cells of the `hits` counter and their own pin slot:
//! a read copies the record and validates the copy against the segment's generation
//! ([`segment`] documents the protocol), or pins the segment first and then validates
//! ([`pins`] documents that protocol). Appends and recycling need the tier's one [`Appender`] by `&mut`, so there is a
//! single appender at a time without a lock of the tier's own (the engine keeps the appender
//! under its writer mutex, which serialises every write and promotion anyway).
//! Any thread may fault in the active segment's pages ahead of the appender
//! ([`HotTier::prefault_ahead`]): that changes no byte, and it keeps most page faults of a fresh
//! segment (a zeroed 2 MiB folio each) out of the writer mutex.

mod exact;
mod pins;
mod records;
mod segment;

pub(crate) use records::Records;
pub(crate) use segment::{record_span, SEGMENT_HEADER_BYTES};

use crate::error::{Error, Result};
use crate::keys::MAX_KEY_LEN;
use crate::location::{Location, GENERATION_MODULUS, MAX_HOT_VALUE_LEN, MAX_SEGMENT_BYTES};
use crate::stats::{Counter, HotTierStats};
use crossbeam::utils::CachePadded;
use segment::{parse_segment_file_name, Segment};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// `HotTier::active` before the first append.
const NO_SEGMENT: usize = usize::MAX;
/// How far ahead of the end of records [`HotTier::prefault_ahead`] keeps pages faulted in.
const PREFAULT_AHEAD: usize = 4 << 20;

/// The tier's shape, built from validated `Options` in one place (`Options::hot_tier_config`;
/// `Options::validate` checks the sizes against this module's limits): the tier imports
/// nothing of `options`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HotTierConfig {
    /// Segments in the ring (0: the tier is off).
    pub segments: usize,
    /// Bytes of each segment file: a multiple of 8, at most `MAX_SEGMENT_BYTES`, room for the
    /// header and a record of a [`MAX_KEY_LEN`]-byte key.
    pub segment_bytes: usize,
}

/// What [`HotTier::read_pinned`] did.
pub(crate) enum Pinned<R, F> {
    /// The value was there; `f` ran on it and returned this.
    Hit(R),
    /// Not here (stale, another key's record, not Hot): `f` back, for RocksDB.
    Refused(F),
    /// This thread could not pin: `f` back, for a copying read.
    Unpinned(F),
}

/// A successful append.
#[derive(Debug)]
pub(crate) struct Appended {
    /// Where the new record is.
    pub location: Location,
    /// Records of the segment recycled to make room, oldest first (empty when none was).
    pub recycled: Records,
}

/// What `HotTier::open` found on disk.
#[derive(Debug, Default)]
pub(crate) struct OpenReport {
    /// Segment files verified and kept.
    pub kept_segments: usize,
    /// Files deleted, with the reason.
    pub discarded: Vec<(PathBuf, String)>,
}

/// Epochs at or above this are refused (a segment header carrying one is discarded as damaged,
/// a snapshot naming one is not trusted): epochs only ever grow by one per segment (re)start, so
/// a legitimate one never gets near, and `next_epoch` can never overflow and wrap onto an epoch
/// an index entry could still name.
pub(crate) const MAX_EPOCH: u64 = 1 << 62;

/// A segment's identity: its slot in the ring and the epoch it was (re)started at. Epochs are
/// never reused (see [`HotTier::raise_epoch_floor`]), so an identity names one incarnation of
/// one segment for good, whatever happened to the files since.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SegmentIdentity {
    /// Slot in the ring (`hot-NNNN.seg`).
    pub index: u32,
    /// The epoch the segment was (re)started at.
    pub epoch: u64,
}

/// The tier's recycle count as a reader saw it before its index lookup ([`HotTier::read_mark`]).
/// A hot read whose mark is older than a recycle is refused: the location it holds may name a
/// segment whose 14-bit generation has wrapped around to the location's own since the lookup.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadMark(u64);

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
    /// A segment recycled (its generation bumped, its records handed back) whose restart
    /// waits for a reader's pin to go (`pins.rs`); appends that need it are declined.
    retired: Option<usize>,
    /// Records of that recycle not yet handed back: the engine takes them after a declined
    /// append ([`HotTier::take_withheld`]), else the next append returns them.
    withheld: Records,
    /// The retired segment's pins may not be looked at yet: the barrier after its retire has
    /// not been issued (`pins::heavy_barrier`).
    barrier_due: bool,
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
    /// Recycles since the tier was opened: bumped by the appender before a recycle's new
    /// generation is published, compared by readers against their [`ReadMark`]. Padded:
    /// every hot read loads it, the appender writes it once per recycle.
    recycles: CachePadded<AtomicU64>,
    appends: Counter,
    hits: Counter,
    stale: Counter,
    recycled: Counter,
    demoted: Counter,
    declined_pinned: Counter,
}

impl HotTier {
    /// Opens the tier in `dir` with the shape `config`, verifying existing segment files. With the tier off, existing segment files are deleted
    /// (they would be stale if it is turned on again).
    ///
    /// Returns the tier, its one [`Appender`] and what was found on disk.
    ///
    /// The caller must hold the database's lock (open `RocksStore` first): the tier assumes no
    /// other process uses these files.
    pub(crate) fn open(
        dir: &Path,
        config: &HotTierConfig,
    ) -> Result<(HotTier, Appender, OpenReport)> {
        let (count, size) = (config.segments, config.segment_bytes);
        // The pin protocol's barriers are chosen before any segment of this tier can be read
        // (a tier that is off has none).
        if count > 0 {
            pins::init();
        }
        // Checked by `Options::validate` before the config is built.
        debug_assert!(
            count == 0
                || (size <= MAX_SEGMENT_BYTES
                    && size >= SEGMENT_HEADER_BYTES + record_span(MAX_KEY_LEN, 0)
                    && size % 8 == 0)
        );
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
            recycles: CachePadded::new(AtomicU64::new(0)),
            appends: Counter::new(),
            hits: Counter::new(),
            stale: Counter::new(),
            recycled: Counter::new(),
            demoted: Counter::new(),
            declined_pinned: Counter::new(),
        };
        let appender = Appender {
            tier: id,
            active: newest.map(|(_, i)| i),
            // Below MAX_EPOCH (segments at or above it were discarded), so no overflow.
            next_epoch: newest.map_or(1, |(e, _)| e + 1),
            retired: None,
            withheld: Records::default(),
            barrier_due: false,
        };
        Ok((tier, appender, report))
    }

    /// Makes every segment this tier (re)starts from now on take an epoch of at least `floor`:
    /// the engine passes the epoch floor saved in the index snapshot it trusts, so a segment
    /// deleted since (tier off, resized, discarded) and created again can never take an
    /// identity that snapshot names. Returns false (and changes nothing) for a floor at or
    /// above [`MAX_EPOCH`], which no snapshot written by this code carries.
    pub(crate) fn raise_epoch_floor(&self, w: &mut Appender, floor: u64) -> bool {
        assert_eq!(w.tier, self.id, "an appender of another hot tier");
        if floor >= MAX_EPOCH {
            return false;
        }
        w.next_epoch = w.next_epoch.max(floor);
        true
    }

    /// The epoch the next segment (re)start will take: every identity this tier has used is
    /// below it. Saved in the index snapshot as the floor for later sessions.
    pub(crate) fn epoch_floor(&self, w: &Appender) -> u64 {
        assert_eq!(w.tier, self.id, "an appender of another hot tier");
        w.next_epoch
    }

    /// The identity of every segment that exists now, in slot order.
    pub(crate) fn identities(&self) -> Vec<SegmentIdentity> {
        self.slots
            .iter()
            .filter_map(OnceLock::get)
            .map(|s| SegmentIdentity {
                index: s.index() as u32,
                epoch: s.epoch(),
            })
            .collect()
    }

    /// The tier's recycle count now, for a reader about to look a key up in the index: pass it
    /// to [`HotTier::read_into`] with the location the lookup gives.
    #[inline]
    pub(crate) fn read_mark(&self) -> ReadMark {
        ReadMark(self.recycles.load(Ordering::Acquire))
    }

    /// True when the tier is configured on.
    pub(crate) fn is_enabled(&self) -> bool {
        !self.slots.is_empty()
    }

    /// True when a record of a `key_len`-byte key and a `value_len`-byte value can go into the
    /// tier.
    pub(crate) fn accepts(&self, key_len: usize, value_len: usize) -> bool {
        self.is_enabled()
            && key_len <= MAX_KEY_LEN
            && value_len <= MAX_HOT_VALUE_LEN
            && SEGMENT_HEADER_BYTES + record_span(key_len, value_len) <= self.segment_bytes
    }

    /// Appends a copy of `key`'s value; see the module docs for the outcome and how to apply
    /// the recycled list. `w` is this tier's appender (from `open`; another tier's panics).
    pub(crate) fn append(
        &self,
        w: &mut Appender,
        key: &[u8],
        value: &[u8],
    ) -> Result<Option<Appended>> {
        // The segments' single-appender rule rests on this: one appender per tier, held `&mut`.
        assert_eq!(w.tier, self.id, "an appender of another hot tier");
        if !self.accepts(key.len(), value.len()) {
            return Ok(None);
        }
        // Records of a recycle an earlier declined append withheld (normally taken already).
        let mut recycled = std::mem::take(&mut w.withheld);
        // A fresh or recycled segment always fits the record (`accepts`), so this loop turns at
        // most twice.
        for _ in 0..2 {
            // Never into a retired segment (a one-segment ring's active one): its old records'
            // locations could then match a record written under its new generation.
            if let Some(active) = w.active.filter(|&a| w.retired != Some(a)) {
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
                if w.retired != Some(next) {
                    // Recycling touches memory only; readers of the old records find them stale.
                    debug_assert!(recycled.is_empty(), "one recycle's records at a time");
                    recycled = seg.records();
                    let generation = (seg.generation() + 1) % GENERATION_MODULUS;
                    // Before the new generation is published: `retire`'s Release fence orders
                    // this bump before every store a reader could copy from the new
                    // generation. SeqCst: what the pin protocol's symmetric barriers need
                    // (`pins.rs`).
                    self.recycles.fetch_add(1, Ordering::SeqCst);
                    seg.retire(generation);
                    w.retired = Some(next);
                    w.barrier_due = true;
                    self.recycled.inc();
                    self.demoted.add(recycled.len() as u64);
                }
                // The appender's half of the pin protocol's barrier, once per recycle.
                if w.barrier_due && pins::heavy_barrier() {
                    w.barrier_due = false;
                }
                if w.barrier_due || pins::is_pinned(seg.base_addr()) {
                    // A reader is looking at a record of it in place: write nothing there, and
                    // keep this value in RocksDB only. The next append asks again.
                    w.withheld = recycled;
                    self.declined_pinned.inc();
                    return Ok(None);
                }
                seg.restart(epoch);
                w.retired = None;
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

    /// The records of a recycle whose append was declined (`Ok(None)` from
    /// [`HotTier::append`]: the recycled segment was pinned by a reader), for the engine to
    /// demote now; empty otherwise.
    pub(crate) fn take_withheld(&self, w: &mut Appender) -> Records {
        assert_eq!(w.tier, self.id, "an appender of another hot tier");
        std::mem::take(&mut w.withheld)
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
    /// generation, the key (its every byte and its length) and the value length (not the
    /// checksum: see `Segment::read_into`), and
    /// that no segment was recycled since `mark` was taken, before the lookup that gave `loc`
    /// (a 14-bit generation can come round again; a recycle count cannot). False means "not
    /// here, read RocksDB" (`out` is then empty).
    #[inline]
    pub(crate) fn read_into(
        &self,
        mark: ReadMark,
        loc: Location,
        key: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        self.read_counted(mark, loc, key, out, true)
    }

    /// [`HotTier::read_into`] of a location the index gave as a *candidate* for `key` (the one
    /// key of its slot, maybe another key, `trie::Lookup`): a refusal is not counted as stale,
    /// since most are the record of another key.
    #[inline]
    pub(crate) fn read_candidate_into(
        &self,
        mark: ReadMark,
        loc: Location,
        key: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        self.read_counted(mark, loc, key, out, false)
    }

    #[inline(always)]
    fn read_counted(
        &self,
        mark: ReadMark,
        loc: Location,
        key: &[u8],
        out: &mut Vec<u8>,
        count_stale: bool,
    ) -> bool {
        let found = loc
            .as_hot()
            .and_then(|hot| Some((hot, self.slots.get(hot.segment as usize)?.get()?)))
            .is_some_and(|(hot, seg)| seg.read_into(hot, key, out))
            // `Segment::read_into` ends with an Acquire fence: a recycle whose stores it copied
            // has its bump visible here. A refused copy is cleared below.
            && self.recycles.load(Ordering::Relaxed) == mark.0;
        if found {
            self.hits.inc();
        } else {
            out.clear();
            if count_stale && loc.is_hot() {
                self.stale.inc();
            }
        }
        found
    }

    /// Calls `f` with the value at `loc` where it lies in the segment, with no copy: the
    /// segment is pinned (`pins.rs`) for as long as `f` runs, after the checks of
    /// [`HotTier::read_into`] (made after the pin). `count_stale`: as [`HotTier::read_into`]
    /// (true) or [`HotTier::read_candidate_into`] (false). Gives `f` back when the location is
    /// refused ([`Pinned::Refused`]: read RocksDB) or when this thread cannot pin
    /// ([`Pinned::Unpinned`]: a read nested in another's `f`, or more threads than pin slots;
    /// copy with `read_into`). `on_hit` runs just before `f` (the read profile's lap).
    #[inline]
    pub(crate) fn read_pinned<R, F: FnOnce(&[u8]) -> R>(
        &self,
        mark: ReadMark,
        loc: Location,
        key: &[u8],
        count_stale: bool,
        f: F,
        on_hit: impl FnOnce(),
    ) -> Pinned<R, F> {
        let Some((hot, seg)) = loc
            .as_hot()
            .and_then(|hot| Some((hot, self.slots.get(hot.segment as usize)?.get()?)))
        else {
            if count_stale && loc.is_hot() {
                self.stale.inc();
            }
            return Pinned::Refused(f);
        };
        let Some(pin) = pins::pin(seg.base_addr()) else {
            return Pinned::Unpinned(f);
        };
        let value = seg
            .pinned_value(&pin, hot, key)
            // SeqCst: the pin protocol's load (a recycle since the mark refuses the read).
            .filter(|_| self.recycles.load(Ordering::SeqCst) == mark.0);
        match value {
            Some(v) => {
                self.hits.inc();
                on_hit();
                let r = f(v);
                drop(pin);
                Pinned::Hit(r)
            }
            None => {
                if count_stale {
                    self.stale.inc();
                }
                Pinned::Refused(f)
            }
        }
    }

    /// The value at `loc` as a new `Vec`, or `None` ([`HotTier::read_into`]).
    #[inline]
    pub(crate) fn read_vec(&self, mark: ReadMark, loc: Location, key: &[u8]) -> Option<Vec<u8>> {
        let mut v = Vec::new();
        self.read_into(mark, loc, key, &mut v).then_some(v)
    }

    /// [`HotTier::read_candidate_into`] as a new `Vec`.
    #[inline]
    pub(crate) fn read_candidate_vec(
        &self,
        mark: ReadMark,
        loc: Location,
        key: &[u8],
    ) -> Option<Vec<u8>> {
        let mut v = Vec::new();
        self.read_candidate_into(mark, loc, key, &mut v)
            .then_some(v)
    }

    /// Asks the CPU to load the record of a `key_len`-byte key at `loc` into its caches ahead
    /// of a [`HotTier::read_into`] (a no-op for a Cold location or a segment not created yet;
    /// never waits).
    pub(crate) fn prefetch(&self, loc: Location, key_len: usize) {
        let Some(hot) = loc.as_hot() else { return };
        if let Some(seg) = self.slots.get(hot.segment as usize).and_then(OnceLock::get) {
            seg.prefetch(hot, key_len);
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
    pub(crate) fn records(&self) -> Vec<(Vec<u8>, Location)> {
        let mut by_epoch: Vec<(u64, Records)> = self
            .slots
            .iter()
            .filter_map(|slot| slot.get().map(|s| (s.epoch(), s.records())))
            .collect();
        by_epoch.sort_by_key(|(epoch, _)| *epoch);
        by_epoch
            .iter()
            .flat_map(|(_, r)| r.iter().map(|(k, loc)| (k.to_vec(), loc)))
            .collect()
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
            declined_pinned: self.declined_pinned.get(),
        }
    }
}

#[cfg(test)]
mod tests;
