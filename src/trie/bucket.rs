//! A bucket: the keys of one layer that share a slice, packed in one heap allocation that the
//! layer's slot points to.
//!
//! A layer's ALEX maps a slice (8 key bytes as a big-endian `u64`) to a **word**. A word below
//! [`TAG`] is a *direct* payload: exactly one key has this slice and it ends at the slice's end
//! (every `u64` key in the root layer). A word at or above [`TAG`] holds the address of a bucket:
//!
//! ```text
//!  0..4  allocation size in bytes (u32, little-endian)
//!  4..6  entry count (u16)
//!  6     1 when a child layer follows, else 0
//!  7     1 when entries carry their slices (the layer has a feature, `radix.rs`), else 0
//!  8..16 the child layer (`*mut Layer`), only when byte 6 is 1
//!  then  the child's slice (u64), only when bytes 6 and 7 are 1
//!  then  entries, in key order: code (u16), slice (u64, only when the code's top bit is
//!        set), rest bytes, payload word (u64), unaligned
//! ```
//!
//! In a layer without a feature every key of a bucket has the bucket's slice (the ALEX key). In a
//! layer with one, the ALEX key is the slice's feature, which several slices may share (keys with
//! bytes outside the ranges seen at build): an entry whose slice is not the one the feature
//! decodes to carries it (the code's top bit says so), and the child carries its own; entries
//! sort by (slice, tail) and the child's keys sit where its slice's long keys would.
//!
//! An entry's code is the key's length within the slice when it ends inside it (0..=7: a
//! *short* key, no rest bytes), or 8 + the number of key bytes after the slice (a *long* key,
//! those bytes follow as its rest). Entries sort by (short before long, then length for short
//! keys, then rest bytes), which is the keys' byte order. When a bucket has a child layer, every
//! long key of the slice lives in the child (keyed by its rest) and the entries are short only.
//!
//! Mutation decodes a bucket into a [`BucketData`] (taking ownership of its child), changes it
//! and encodes a new allocation: buckets are small (at most [`MAX_LONG_ENTRIES`] long entries
//! before their long keys move to a child layer), so the copy is cheap and the format stays
//! simple.

use std::ptr::NonNull;

use super::pool;
use super::slot::{Slot, NO_HINT};
use super::Layer;

/// Words at or above this value name buckets; payload words must stay below it. In a
/// `Location` this is a Hot word of segment 1023, which the hot tier never uses.
pub const TAG: u64 = 0xFFE0_0000_0000_0000;

/// A bucket holds at most this many long entries; one more moves them to a child layer.
pub(super) const MAX_LONG_ENTRIES: usize = 16;
/// A bucket's long entries hold at most this many bytes (codes, rests and words) while there are
/// two or more of them; more move them to a child layer.
pub(super) const MAX_LONG_BYTES: usize = 1024;

const HEADER: usize = 8;
/// The top bit of an entry's code: its slice follows the code.
const CARRIES_SLICE: u16 = 0x8000;
const CHILD: usize = 8;

/// Whether `count` long entries of one slice taking `bytes` are too many (or too large) to stay
/// packed in a bucket.
pub(super) fn long_overflow(count: usize, bytes: usize) -> bool {
    count > MAX_LONG_ENTRIES || (count > 1 && bytes > MAX_LONG_BYTES)
}

/// The address of the bucket a word names (for a prefetch; dereferencing it needs
/// [`BucketRef::from_word`]'s conditions).
#[inline(always)]
pub(super) fn address(word: u64) -> *const u8 {
    (word & !TAG) as *const u8
}

/// Whether a word names a bucket (else it is a direct payload).
#[inline(always)]
pub(super) fn is_bucket(word: u64) -> bool {
    word >= TAG
}

/// `address` (of a bucket, or of a child layer for its hint) tagged as a word at or above
/// [`TAG`].
#[inline]
fn tagged(address: u64, what: &str) -> u64 {
    // User-space addresses are below 2^47 (2^56 only for mappings asked to be there, which
    // the allocator never does); a word keeps 54 bits of address.
    assert!(address & TAG == 0, "{what} address {address:#x} above 2^53");
    TAG | address
}

/// The hint of a slot whose bucket holds only `child`, for the slot's own slice (`slot.rs`).
#[inline]
pub(super) fn child_hint(child: &Layer) -> u64 {
    tagged(child as *const Layer as u64, "layer")
}

/// The child layer a hint names, if it names one (else the hint is a payload or `NO_HINT`).
#[inline(always)]
pub(super) fn hinted_child(hint: u64) -> Option<*const Layer> {
    (hint >= TAG && hint != NO_HINT).then_some((hint & !TAG) as *const Layer)
}

/// Whether a hint is a payload word (`slot.rs`).
#[inline(always)]
pub(super) fn is_payload_hint(hint: u64) -> bool {
    hint < TAG
}

/// Writes a bucket's bytes straight into its allocation (no staging buffer: one allocation
/// and one copy less for every bucket built).
struct Writer {
    ptr: *mut u8,
    at: usize,
    size: usize,
}

impl Writer {
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        assert!(bytes.len() <= self.size - self.at, "bucket bytes overrun");
        // SAFETY: `ptr` is an allocation of `size` bytes, and `at + bytes.len() <= size`.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(self.at), bytes.len());
        }
        self.at += bytes.len();
    }
}

/// A [`Tail`] borrowed from its key.
#[derive(Clone, Copy)]
pub(super) enum TailRef<'a> {
    /// The key ends inside the slice, after this many of its bytes (0..=7).
    Short(u8),
    /// The key goes on past the slice with these bytes.
    Long(&'a [u8]),
}

impl<'a> TailRef<'a> {
    /// The tail of `key` under the slice starting at `at` ([`Tail::of`], borrowed).
    pub(super) fn of(key: &'a [u8], at: usize) -> TailRef<'a> {
        let rem = key.len() - at;
        if rem < 8 {
            TailRef::Short(rem as u8)
        } else {
            TailRef::Long(&key[at + 8..])
        }
    }

    /// Its code in a bucket entry and the bytes after the slice.
    fn code_and_rest(self) -> (u16, &'a [u8]) {
        match self {
            TailRef::Short(n) => (u16::from(n), &[]),
            TailRef::Long(rest) => (
                u16::try_from(8 + rest.len()).expect("keys are at most 1 KiB"),
                rest,
            ),
        }
    }
}

/// Packs `count` entries (in key order) and the child into a new allocation; returns the slot:
/// its word, and the hint when the bucket holds one long key of the implicit slice and no child,
/// or only a child of the implicit slice (`slot.rs`).
fn write_bucket<'a>(
    entries: impl Iterator<Item = (u64, TailRef<'a>, u64)> + Clone,
    count: usize,
    child: Option<(u64, Box<Layer>)>,
    explicit: bool,
    implicit: u64,
) -> Slot {
    let hint = match (count, &child) {
        (1, None) => entries
            .clone()
            .next()
            .and_then(|(s, t, word)| {
                (s == implicit && matches!(t, TailRef::Long(_))).then_some(word)
            })
            .unwrap_or(NO_HINT),
        (0, Some((slice, layer))) if *slice == implicit => child_hint(layer),
        _ => NO_HINT,
    };
    let child_bytes = match (&child, explicit) {
        (None, _) => 0,
        (Some(_), false) => CHILD,
        (Some(_), true) => CHILD + 8,
    };
    let size = HEADER
        + child_bytes
        + entries
            .clone()
            .map(|(s, t, _)| 2 + t.code_and_rest().1.len() + 8 + if s == implicit { 0 } else { 8 })
            .sum::<usize>();
    let count16 = u16::try_from(count).expect("a bucket holds few entries");
    let size32 = u32::try_from(size).expect("a bucket is small");
    // At least HEADER bytes; never null.
    let ptr = NonNull::new(pool::allocate(size)).expect("the pool aborts rather than fail");
    let word = tagged(ptr.as_ptr() as u64, "bucket");
    let mut out = Writer {
        ptr: ptr.as_ptr(),
        at: 0,
        size,
    };
    out.put(&size32.to_le_bytes());
    out.put(&count16.to_le_bytes());
    out.put(&[u8::from(child.is_some()), u8::from(explicit)]);
    if let Some((slice, child)) = child {
        out.put(&(Box::into_raw(child) as u64).to_le_bytes());
        if explicit {
            out.put(&slice.to_le_bytes());
        }
    }
    let mut written = 0;
    for (slice, tail, word) in entries {
        let (code, rest) = tail.code_and_rest();
        if slice == implicit {
            out.put(&code.to_le_bytes());
        } else {
            out.put(&(code | CARRIES_SLICE).to_le_bytes());
            out.put(&slice.to_le_bytes());
        }
        out.put(rest);
        out.put(&word.to_le_bytes());
        written += 1;
    }
    assert_eq!(
        (out.at, written),
        (size, count),
        "a bucket's bytes fill its allocation"
    );
    Slot { word, hint }
}

/// Where a key ends relative to the slice it sorts under.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Tail {
    /// The key ends inside the slice, after this many of its bytes (0..=7).
    Short(u8),
    /// The key goes on past the slice with these bytes.
    Long(Vec<u8>),
}

impl Tail {
    /// The tail of `key` under the slice starting at `at`.
    pub(super) fn of(key: &[u8], at: usize) -> Tail {
        let rem = key.len() - at;
        if rem < 8 {
            Tail::Short(rem as u8)
        } else {
            Tail::Long(key[at + 8..].to_vec())
        }
    }

    /// Bytes of its entry in a bucket (code, rest, word; without a carried slice).
    pub(super) fn encoded_len(&self) -> usize {
        match self {
            Tail::Short(_) => 2 + 8,
            Tail::Long(rest) => Self::long_encoded_len(rest.len()),
        }
    }

    /// Bytes of a long entry with `rest` bytes after the slice.
    pub(super) fn long_encoded_len(rest: usize) -> usize {
        2 + rest + 8
    }
}

/// A bucket taken apart for mutation.
pub(super) struct BucketData {
    /// `(slice, tail, word)` in key order (see the module docs); no long entry has the child's
    /// slice.
    pub entries: Vec<(u64, Tail, u64)>,
    /// The child's slice and the layer holding every long key of that slice, if they outgrew
    /// the bucket.
    pub child: Option<(u64, Box<Layer>)>,
    /// Whether the layer has a feature (the child carries its slice).
    pub explicit: bool,
    /// The slice entries need not carry: the one the slot's ALEX key decodes to.
    pub implicit: u64,
}

impl BucketData {
    /// Whether the long entries of `slice` are too many (or too large) to stay packed.
    pub(super) fn too_many_long(&self, slice: u64) -> bool {
        let mut count = 0;
        let mut bytes = 0;
        for (s, tail, _) in &self.entries {
            if let (true, Tail::Long(_)) = (*s == slice, tail) {
                count += 1;
                bytes += tail.encoded_len();
            }
        }
        long_overflow(count, bytes)
    }

    /// The position of `(slice, tail)` among the entries, or where it would go.
    pub(super) fn search(&self, slice: u64, tail: &Tail) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(s, t, _)| (*s, t).cmp(&(slice, tail)))
    }

    /// Packs the bucket into a new allocation and returns its slot: its word, and the hint
    /// when it holds one long key of the slot's own slice and no child (`slot.rs`).
    pub(super) fn encode(self) -> Slot {
        let BucketData {
            entries,
            child,
            explicit,
            implicit,
        } = self;
        debug_assert!(explicit || entries.iter().all(|e| e.0 == implicit));
        let borrowed = entries.iter().map(|(s, t, w)| {
            let tail = match t {
                Tail::Short(n) => TailRef::Short(*n),
                Tail::Long(rest) => TailRef::Long(rest),
            };
            (*s, tail, *w)
        });
        write_bucket(borrowed, entries.len(), child, explicit, implicit)
    }

    /// The bucket of one entry (`slice`, `tail`, `word`) and no child, packed as
    /// [`BucketData::encode`] would, without building its entry list first: what a new key in
    /// a free slot gets.
    pub(super) fn encode_one(
        slice: u64,
        tail: TailRef<'_>,
        word: u64,
        explicit: bool,
        implicit: u64,
    ) -> Slot {
        debug_assert!(explicit || slice == implicit);
        write_bucket(
            std::iter::once((slice, tail, word)),
            1,
            None,
            explicit,
            implicit,
        )
    }

    /// Takes the bucket named by `word` apart, freeing its allocation; the child layer (if any)
    /// moves into the result. `implicit` is the slice of entries that do not carry one (the
    /// slot's ALEX key decoded).
    ///
    /// # Safety
    /// `word` names a live bucket (made by [`BucketData::encode`] and not yet taken or freed),
    /// and no reference from [`BucketRef`] to it is used afterwards.
    pub(super) unsafe fn take(word: u64, implicit: u64) -> BucketData {
        // SAFETY: the caller guarantees the bucket is live.
        let view = unsafe { BucketRef::from_word(word) };
        let entries = view
            .entries()
            .map(|e| {
                let tail = match e.code {
                    n @ 0..=7 => Tail::Short(n as u8),
                    _ => Tail::Long(e.rest.to_vec()),
                };
                (e.slice.unwrap_or(implicit), tail, e.word)
            })
            .collect();
        let child_slice = view.child_slice().unwrap_or(implicit);
        let child = view.child_ptr().map(|p| {
            // SAFETY: the pointer came from `Box::into_raw` in `encode` and the bucket owns it;
            // the bucket is freed below, so ownership moves to this Box exactly once.
            (child_slice, unsafe { Box::from_raw(p) })
        });
        let explicit = view.explicit();
        // SAFETY: the caller guarantees the bucket is live; nothing refers to it after this.
        unsafe { free_allocation(word) };
        BucketData {
            entries,
            child,
            explicit,
            implicit,
        }
    }
}

/// Writes `word` as the payload at byte `offset` of the bucket named by `bucket` (an offset
/// from [`BucketRef::word_offset`]).
///
/// # Safety
/// `bucket` names a live bucket, `offset` came from `word_offset` on it, the caller holds the
/// layer owning it mutably, and no [`BucketRef`] of it is used across the write.
pub(super) unsafe fn write_word(bucket: u64, offset: usize, word: u64) {
    let ptr = (bucket & !TAG) as *mut u8;
    // SAFETY: the caller's conditions: the 8 bytes at `offset` are an entry's payload inside
    // the live allocation, and nothing else refers to them meanwhile.
    unsafe { std::ptr::write_unaligned(ptr.add(offset) as *mut [u8; 8], word.to_le_bytes()) };
}

/// Held while a bucket has been taken apart (its allocation freed) but its slot still names it:
/// a panic in that window would unwind into `Layer::drop`, which would free the bucket again, so
/// it aborts instead. Every `take` whose slot is then rewritten keeps one alive until it is.
pub(super) struct Taken;

impl Drop for Taken {
    fn drop(&mut self) {
        if std::thread::panicking() {
            std::process::abort();
        }
    }
}

/// Frees a bucket and its child layer.
///
/// # Safety
/// As [`BucketData::take`].
pub(super) unsafe fn free(word: u64) {
    // SAFETY: forwarded from the caller; dropping the data drops the child.
    drop(unsafe { BucketData::take(word, 0) });
}

/// # Safety
/// `word` names a live bucket, not used afterwards.
unsafe fn free_allocation(word: u64) {
    let ptr = (word & !TAG) as *mut u8;
    // SAFETY: the header's first 4 bytes hold the allocation size written by `encode`.
    let size = unsafe { u32::from_le_bytes(*(ptr as *const [u8; 4])) } as usize;
    // SAFETY: allocated in `encode` by `pool::allocate(size)`.
    unsafe { pool::release(ptr, size) };
}

/// One entry of a bucket, borrowed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry<'a> {
    /// Length within the slice (0..=7) for a short key, 8 + rest length for a long one.
    pub code: usize,
    /// The entry's slice, when it carries one (else the bucket's implicit slice).
    pub slice: Option<u64>,
    /// The key bytes after the slice (empty for short keys).
    pub rest: &'a [u8],
    /// The payload word.
    pub word: u64,
}

/// A read-only view of a bucket.
#[derive(Clone, Copy)]
pub(super) struct BucketRef<'a> {
    bytes: &'a [u8],
}

impl<'a> BucketRef<'a> {
    /// The bucket named by `word`.
    ///
    /// # Safety
    /// `word` names a live bucket that stays live and unchanged for `'a` (the layer holding it
    /// is borrowed for `'a`).
    #[inline(always)]
    pub(super) unsafe fn from_word(word: u64) -> Self {
        let ptr = (word & !TAG) as *const u8;
        // SAFETY: a live bucket starts with its size, and is that many initialised bytes.
        unsafe {
            let size = u32::from_le_bytes(*(ptr as *const [u8; 4])) as usize;
            BucketRef {
                bytes: std::slice::from_raw_parts(ptr, size),
            }
        }
    }

    #[inline(always)]
    fn has_child(&self) -> bool {
        self.bytes[6] != 0
    }

    /// Whether entries (and the child) carry their slices.
    #[inline(always)]
    pub(super) fn explicit(&self) -> bool {
        self.bytes[7] != 0
    }

    /// The child's slice, when it carries one.
    pub(super) fn child_slice(&self) -> Option<u64> {
        (self.has_child() && self.explicit()).then(|| {
            let at = HEADER + CHILD;
            u64::from_le_bytes(self.bytes[at..at + 8].try_into().unwrap())
        })
    }

    fn child_ptr(&self) -> Option<*mut Layer> {
        self.has_child().then(|| {
            let raw = u64::from_le_bytes(self.bytes[HEADER..HEADER + CHILD].try_into().unwrap());
            raw as *mut Layer
        })
    }

    /// The child layer and its slice (`implicit` when the child carries none).
    #[inline]
    pub(super) fn child(&self, implicit: u64) -> Option<(u64, &'a Layer)> {
        // SAFETY: the child is owned by the bucket, which is live for 'a.
        self.child_ptr()
            .map(|p| (self.child_slice().unwrap_or(implicit), unsafe { &*p }))
    }

    /// The child layer holding the long keys of `slice` (`exact`: the bucket's implicit slice),
    /// if any.
    #[inline]
    pub(super) fn child_for(&self, slice: u64, exact: bool) -> Option<&'a Layer> {
        let p = self.child_ptr()?;
        if !self.child_slice().map_or(exact, |c| c == slice) {
            return None;
        }
        // SAFETY: the child is owned by the bucket, which is live for 'a.
        Some(unsafe { &*p })
    }

    /// [`BucketRef::child_for`], mutably.
    ///
    /// # Safety
    /// The caller holds the layer owning this bucket mutably for `'a`, and makes no other
    /// reference to the child meanwhile.
    pub(super) unsafe fn child_for_mut(&self, slice: u64, exact: bool) -> Option<&'a mut Layer> {
        let p = self.child_ptr()?;
        if !self.child_slice().map_or(exact, |c| c == slice) {
            return None;
        }
        // SAFETY: the caller's exclusive borrow of the owning layer covers the child.
        Some(unsafe { &mut *p })
    }

    /// The number of entries (not counting the child's keys).
    pub(super) fn len(&self) -> usize {
        u16::from_le_bytes([self.bytes[4], self.bytes[5]]) as usize
    }

    /// The entries in key order.
    #[inline]
    pub(super) fn entries(&self) -> Entries<'a> {
        let child = match (self.has_child(), self.explicit()) {
            (false, _) => 0,
            (true, false) => CHILD,
            (true, true) => CHILD + 8,
        };
        Entries {
            bytes: &self.bytes[HEADER + child..],
        }
    }

    /// The payload of the short key of `len` bytes within `slice` (`exact`: `slice` is the
    /// bucket's implicit slice).
    #[inline]
    pub(super) fn find_short(&self, slice: u64, exact: bool, len: usize) -> Option<u64> {
        self.entries()
            .find(|e| e.code == len && e.slice.map_or(exact, |s| s == slice))
            .map(|e| e.word)
    }

    /// The payload of the packed long key of `slice` whose bytes after the slice are `rest`.
    #[inline]
    pub(super) fn find_long(&self, slice: u64, exact: bool, rest: &[u8]) -> Option<u64> {
        self.entries()
            .find(|e| e.code >= 8 && e.rest == rest && e.slice.map_or(exact, |s| s == slice))
            .map(|e| e.word)
    }

    /// Where in the bucket the payload of a key lies: the short key of `len` bytes
    /// (`rest` `None`, [`BucketRef::find_short`]) or the long key with `rest`
    /// ([`BucketRef::find_long`]); with its current payload.
    pub(super) fn word_offset(
        &self,
        slice: u64,
        exact: bool,
        len: usize,
        rest: Option<&[u8]>,
    ) -> Option<(usize, u64)> {
        let e = self.entries().find(|e| {
            let tail = match rest {
                None => e.code == len,
                Some(r) => e.code >= 8 && e.rest == r,
            };
            tail && e.slice.map_or(exact, |s| s == slice)
        })?;
        let at = e.rest.as_ptr() as usize + e.rest.len() - self.bytes.as_ptr() as usize;
        Some((at, e.word))
    }

    /// Bytes the bucket takes: its pool block (`pool.rs`), or its allocation.
    pub(super) fn allocated_bytes(&self) -> usize {
        pool::footprint(self.bytes.len())
    }

    /// Whether the bucket's block is in the pool's chunks.
    pub(super) fn pooled(&self) -> bool {
        pool::pooled(self.bytes.len())
    }
}

/// The entries of a bucket, in key order.
pub(super) struct Entries<'a> {
    bytes: &'a [u8],
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;

    #[inline]
    fn next(&mut self) -> Option<Entry<'a>> {
        if self.bytes.is_empty() {
            return None;
        }
        let raw = u16::from_le_bytes([self.bytes[0], self.bytes[1]]);
        let code = usize::from(raw & !CARRIES_SLICE);
        let mut at = 2;
        let slice = (raw & CARRIES_SLICE != 0).then(|| {
            at += 8;
            u64::from_le_bytes(self.bytes[2..10].try_into().unwrap())
        });
        let rest_len = code.saturating_sub(8);
        let rest = &self.bytes[at..at + rest_len];
        let word_at = at + rest_len;
        let word = u64::from_le_bytes(self.bytes[word_at..word_at + 8].try_into().unwrap());
        self.bytes = &self.bytes[word_at + 8..];
        Some(Entry {
            code,
            slice,
            rest,
            word,
        })
    }
}
