//! An ordered map from byte-string keys to payload words, found by ALEX learned indexes: a trie
//! of **layers**, each an [`Alex`](crate::alex::Alex) over 8-byte slices of the key.
//!
//! # Layout
//!
//! A layer starts at some byte depth of the key (the root at 0). It first skips a **prefix**
//! that all its keys share (stored once in the layer), then reads the next 8 bytes of the key,
//! padded with zero bytes when the key ends sooner, as a big-endian `u64`: the **slice**. Its
//! ALEX maps each slice to a word:
//!
//! * a **direct** word, when exactly one key has that slice and the key ends at the slice's end
//!   — every key of a database of `u64` keys (8 bytes each), so those lookups cost one ALEX
//!   lookup and a compare, as in [`Alex`](crate::alex::Alex) alone;
//! * a **bucket** (see `bucket.rs`) holding the keys of that slice: those that end inside it
//!   (shorter keys, e.g. `"ab"` and `"ab\0"` share the padded slice), and those that go on,
//!   packed with their remaining bytes, or — when more than a few go on — a **child layer** that
//!   indexes their remaining bytes the same way.
//!
//! Ordering by (slice, short keys by length, long keys by their remaining bytes) is the keys'
//! byte order (`memcmp`, a key before its extensions), so an in-order walk of the layers yields
//! the keys sorted.
//!
//! A layer's prefix is chosen when it is built (bulk load, a bucket's long keys moving to a
//! child layer, or a rebuild): the bytes all its keys share, but never so many that a key of
//! minimum length would end inside the first slice (so 8-byte keys stay direct). An insert whose
//! key leaves the prefix rebuilds that layer with a shorter one; an insert that doubles a layer
//! whose keys have come to share a longer prefix rebuilds it with the longer one (the common
//! prefix of all keys is that of the first and last, so the check is cheap).
//!
//! The trie is single-writer: mutation takes `&mut self`, lookups `&self` (the engine keeps it
//! under its index lock).
//!
//! ```
//! use alexkv::trie::Trie;
//! let mut t = Trie::new();
//! t.insert(b"user:1", 1).unwrap();
//! t.insert(b"user:10", 10).unwrap();
//! t.insert(b"", 0).unwrap();
//! assert_eq!(t.get(b"user:10"), Some(10));
//! assert_eq!(t.get(b"user:2"), None);
//! let mut keys = Vec::new();
//! t.scan_from(std::ops::Bound::Unbounded, |k, _| { keys.push(k.to_vec()); true });
//! assert_eq!(keys, vec![b"".to_vec(), b"user:1".to_vec(), b"user:10".to_vec()]);
//! ```

mod bucket;
mod build;
mod grow;
mod pool;
mod prefix;
mod radix;
mod scan;
mod slot;
mod slots;
#[cfg(test)]
mod tests;
mod window;

use bucket::{is_bucket, BucketData, BucketRef, Tail, TailRef};
use prefix::Prefix;
use radix::Radix;
use slot::Slot;
use slots::SlotIndex;
use window::Window;

pub use bucket::TAG as RESERVED_WORDS;
pub use grow::{TrieGrow, TrieRetired};

/// The longest key, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Why a key or payload was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrieError {
    /// The key is longer than [`MAX_KEY_LEN`].
    KeyTooLong {
        /// Its length.
        len: usize,
    },
    /// The payload word is at or above [`RESERVED_WORDS`].
    ReservedWord(u64),
}

impl std::fmt::Display for TrieError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrieError::KeyTooLong { len } => {
                write!(f, "key of {len} bytes is longer than {MAX_KEY_LEN}")
            }
            TrieError::ReservedWord(w) => write!(f, "payload word {w:#x} is reserved"),
        }
    }
}

impl std::error::Error for TrieError {}

/// What [`Trie::get_hinted`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The key is absent.
    Absent,
    /// The key is present with this payload.
    Found(u64),
    /// The key's slot holds exactly one key, which like this key does not end inside the
    /// slot's slice, with this payload; whether it is this key was not checked. The caller checks
    /// it against what the payload names, or asks [`Trie::get`].
    Candidate(u64),
}

impl From<Option<u64>> for Lookup {
    #[inline(always)]
    fn from(word: Option<u64>) -> Lookup {
        match word {
            Some(w) => Lookup::Found(w),
            None => Lookup::Absent,
        }
    }
}

/// One layer: a prefix and an ALEX from slices (or their feature) to words (module docs).
pub(crate) struct Layer {
    prefix: Prefix,
    /// Constant bytes among those the slice is read from, skipped (`window.rs`): the slice is
    /// then the first 8 bytes after the prefix that vary.
    window: Option<Window>,
    /// The model feature of slices whose bytes use few values (`radix.rs`); with one, buckets
    /// carry their entries' slices and there are no direct words.
    radix: Option<Radix>,
    index: SlotIndex,
    /// Keys in this layer and below.
    len: usize,
    /// The layer is checked for a longer shared prefix when `len` reaches this.
    recheck_at: usize,
    /// A key outside the feature's ranges entered, or a key left, since the layer was built:
    /// its doubling recheck must read every slice to recompute the feature. While unset, the
    /// feature computed from its slices is the one it has (ranges only change by such keys),
    /// and the recheck skips that read (`grow.rs`).
    radix_unsettled: bool,
}

impl Drop for Layer {
    fn drop(&mut self) {
        for (_, Slot { word, .. }) in self.index.iter() {
            if is_bucket(word) {
                // SAFETY: the layer owns its buckets; each word is freed once, here, and the
                // index is dropped right after.
                unsafe { bucket::free(word) };
            }
        }
    }
}

/// The 8 bytes of `key` from `at`, zero-padded, as a big-endian `u64`.
#[inline(always)]
pub(crate) fn slice(key: &[u8], at: usize) -> u64 {
    match key.get(at..at + 8) {
        Some(b) => u64::from_be_bytes(b.try_into().unwrap()),
        None => {
            let mut buf = [0u8; 8];
            let rest = &key[at.min(key.len())..];
            buf[..rest.len()].copy_from_slice(rest);
            u64::from_be_bytes(buf)
        }
    }
}

/// Layer statistics, summed over all layers.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TrieStats {
    /// Number of layers (1 = the root alone).
    pub layers: usize,
    /// Deepest layer (1 = the root).
    pub depth: usize,
    /// Slots whose word is direct.
    pub direct: usize,
    /// Buckets.
    pub buckets: usize,
    /// Bytes of bucket allocations (their pool blocks, `pool.rs`).
    pub bucket_bytes: usize,
    /// Of `bucket_bytes`, the blocks in the bucket pool's chunks, mapped from the kernel
    /// (invisible to a counting global allocator).
    pub bucket_pooled_bytes: usize,
    /// Bytes of the layers' ALEX indexes (models and data nodes, mapped arrays included).
    pub alex_bytes: usize,
    /// Of `alex_bytes`, the node arrays mapped from the kernel directly (invisible to a
    /// counting global allocator).
    pub alex_mapped_bytes: usize,
    /// Bytes of layer headers and prefixes.
    pub layer_bytes: usize,
    /// Layers whose ALEX keys are a feature of the slices (mixed radix).
    pub featured_layers: usize,
    /// Layers whose slices skip constant bytes (`window.rs`).
    pub windowed_layers: usize,
    /// Length of the root layer's prefix.
    pub root_prefix: usize,
    /// Data nodes of every layer's ALEX.
    pub data_nodes: usize,
    /// Model nodes of every layer's ALEX.
    pub model_nodes: usize,
    /// Slots of every layer's ALEX data nodes (fill = ALEX keys / slots).
    pub slots: usize,
    /// Keys of every layer's ALEX (slots in use).
    pub alex_keys: usize,
    /// Layers whose slots carry hints (16 bytes a slot instead of 8, `slots.rs`).
    pub hinted_layers: usize,
    /// Slots whose hint names their bucket's only child layer, which a lookup steps to
    /// without reading the bucket (`slot.rs`).
    pub child_hints: usize,
}

impl TrieStats {
    /// Every byte the trie holds.
    pub fn total_bytes(&self) -> usize {
        self.bucket_bytes + self.alex_bytes + self.layer_bytes
    }
}

/// Refuses a key over [`MAX_KEY_LEN`] or a reserved word.
fn check_entry(key: &[u8], word: u64) -> Result<(), TrieError> {
    if key.len() > MAX_KEY_LEN {
        return Err(TrieError::KeyTooLong { len: key.len() });
    }
    if is_bucket(word) {
        return Err(TrieError::ReservedWord(word));
    }
    Ok(())
}

/// An ordered map from byte keys (up to [`MAX_KEY_LEN`] bytes, byte order) to `u64` words below
/// [`RESERVED_WORDS`]. See the module docs.
pub struct Trie {
    root: Layer,
    /// Unique per trie; with `version`, the stamp of a grow plan.
    instance: u64,
    /// Bumped by every change, so a grow plan made against another state is detected.
    version: u64,
}

/// Identities of tries, never reused in a process.
fn next_instance() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Default for Trie {
    fn default() -> Self {
        Self::new()
    }
}

impl Trie {
    /// An empty trie.
    pub fn new() -> Self {
        Trie {
            root: Layer::empty(),
            instance: next_instance(),
            version: 0,
        }
    }

    /// Number of keys.
    #[inline]
    pub fn len(&self) -> usize {
        self.root.len
    }

    /// Whether the trie holds no key.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.root.len == 0
    }

    /// The payload of `key`.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<u64> {
        match self.find(key, |_| false) {
            Lookup::Found(word) => Some(word),
            Lookup::Absent | Lookup::Candidate(_) => None,
        }
    }

    /// [`Trie::get`] for a caller that can check a key against some payloads by itself
    /// (`checkable`): where the key's slot holds one key that does not end inside the slot's
    /// slice, and that key's payload is checkable, answers it as a [`Lookup::Candidate`]
    /// without reading the bucket that holds the key's remaining bytes (one dependent cache
    /// miss less, `slot.rs`). Other payloads are answered exactly, in the same walk.
    #[inline]
    pub fn get_hinted(&self, key: &[u8], checkable: impl Fn(u64) -> bool) -> Lookup {
        self.find(key, checkable)
    }

    /// The lookup behind [`Trie::get`] (nothing checkable: never a candidate) and
    /// [`Trie::get_hinted`].
    #[inline(always)]
    fn find(&self, key: &[u8], checkable: impl Fn(u64) -> bool) -> Lookup {
        let mut layer = &self.root;
        let mut at = 0;
        loop {
            if !layer.prefix.is_empty() {
                let p = &layer.prefix[..];
                if key.get(at..at + p.len()) != Some(p) {
                    return Lookup::Absent;
                }
                at += p.len();
            }
            let s = match &layer.window {
                None => slice(key, at),
                Some(w) => {
                    let Some(s) = w.gather(key, at) else {
                        return Lookup::Absent;
                    };
                    // From here `at` is the tail base (`Spot::d`).
                    at += w.constants();
                    s
                }
            };
            let (v, exact) = layer.alex_key(s);
            let Some(slot) = layer.index.get(v) else {
                return Lookup::Absent;
            };
            let word = slot.word;
            let rem = key.len().wrapping_sub(at);
            if !is_bucket(word) {
                return Lookup::from((rem == 8).then_some(word));
            }
            if rem >= 8 && exact && slot.hint != slot::NO_HINT {
                if let Some(child) = bucket::hinted_child(slot.hint) {
                    // SAFETY: a child hint names the child layer its bucket owns (`slot.rs`),
                    // live while `layer` is, which is borrowed from `self` for this call.
                    layer = unsafe { &*child };
                    at += 8;
                    continue;
                }
                if checkable(slot.hint) {
                    return Lookup::Candidate(slot.hint);
                }
            }
            // SAFETY: the word came from `layer`, borrowed from `self` for this call.
            let bucket = unsafe { BucketRef::from_word(word) };
            if rem < 8 {
                return Lookup::from(bucket.find_short(s, exact, rem));
            }
            match bucket.child_for(s, exact) {
                Some(child) => {
                    layer = child;
                    at += 8;
                }
                None => return Lookup::from(bucket.find_long(s, exact, &key[at + 8..])),
            }
        }
    }

    /// Whether `key` is present.
    #[inline]
    pub fn contains(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Inserts `key` with `word`, returning the previous word when the key was present.
    pub fn insert(&mut self, key: &[u8], word: u64) -> Result<Option<u64>, TrieError> {
        check_entry(key, word)?;
        // Each plan makes progress; the bound only guards against a bug looping forever (the
        // insert below still does whatever is left, in place).
        for _ in 0..64 {
            match self.prepare_grow(key) {
                Some(plan) => drop(self.install_grow(plan)),
                None => break,
            }
        }
        Ok(self.insert_checked(key, word))
    }

    /// [`Trie::insert`] without planning: for a caller that has just found that
    /// [`Trie::needs_grow`] is false for `key` and changed nothing since (the engine, which plans
    /// its grows under a read lock). Saves the plan's walk of the key; should a grow be needed
    /// after all, the insert still does it in place, as every unplanned insert did.
    pub(crate) fn insert_unplanned(
        &mut self,
        key: &[u8],
        word: u64,
    ) -> Result<Option<u64>, TrieError> {
        check_entry(key, word)?;
        Ok(self.insert_checked(key, word))
    }

    /// Inserts an entry [`check_entry`] accepted.
    fn insert_checked(&mut self, key: &[u8], word: u64) -> Option<u64> {
        self.version += 1;
        self.root.insert(key, 0, word)
    }

    /// The engine's fast path for a key that is one direct word of the root layer (every `u64`
    /// key of a database of `u64` keys): sets it in one ALEX descent when no plan, bucket or
    /// rebuild is involved. Returns `Some(previous word)` when it did, `None` (changing nothing)
    /// when the caller must take the general path (`needs_grow`, grow, `insert_unplanned`).
    #[inline]
    pub(crate) fn set_direct(&mut self, key: &[u8], word: u64) -> Option<Option<u64>> {
        let layer = &mut self.root;
        let p = layer.prefix.len();
        if layer.radix.is_some()
            || layer.window.is_some()
            || key.len() != p + 8
            || is_bucket(word)
            || (p > 0 && key[..p] != layer.prefix[..])
        {
            return None;
        }
        let v = slice(key, p);
        // A new key must not be the one that makes the layer's doubling recheck due.
        let insert_new = layer.len + 1 < layer.recheck_at;
        let old = layer
            .index
            .set_if(v, Slot::plain(word), |s| !is_bucket(s.word), insert_new)?;
        if old.is_none() {
            layer.note_inserted();
        }
        self.version += 1;
        Some(old.map(Slot::word))
    }

    /// Starts loading the root layer's lines that an insert or lookup of `key` reads first
    /// ([`crate::alex::Alex::prefetch`]): a writer applying a sorted batch calls it a few keys
    /// ahead, so each key's cache miss overlaps the work on the keys before it.
    #[inline]
    pub(crate) fn prefetch(&self, key: &[u8]) {
        if key.len() <= MAX_KEY_LEN {
            if let Some(spot) = self.root.locate(key, 0) {
                self.root.index.prefetch(spot.v);
            }
        }
    }

    /// The engine's fast path for a key that is present anywhere in the trie (an update, a
    /// demotion): sets its word in place, in the bucket that holds it (and the slot's hint),
    /// without taking the bucket apart or changing the structure. Returns `Some(previous
    /// word)` when it did, `None` (changing nothing) when the key is absent or the word is
    /// reserved; the caller then takes the general path.
    pub(crate) fn set_existing(&mut self, key: &[u8], word: u64) -> Option<u64> {
        self.set_in_place(key, word, false)
            .map(|old| old.expect("not added"))
    }

    /// [`Trie::set_existing`], and for an absent key whose slot in the root layer is free, the
    /// insert itself when it needs nothing planned (no ALEX grow of the root, no doubling
    /// recheck due): one walk of the key where [`Trie::needs_grow`] and
    /// [`Trie::insert_unplanned`] take two more. Returns `Some(Some(previous word))` for a
    /// present key, `Some(None)` for a key it added, `None` (changing nothing) otherwise; the
    /// caller then takes the general path.
    pub(crate) fn set_or_add(&mut self, key: &[u8], word: u64) -> Option<Option<u64>> {
        self.set_in_place(key, word, true)
    }

    fn set_in_place(&mut self, key: &[u8], word: u64, add: bool) -> Option<Option<u64>> {
        if key.len() > MAX_KEY_LEN || is_bucket(word) {
            return None;
        }
        let mut layer = &mut self.root;
        let mut at = 0;
        let old = loop {
            let spot = layer.locate(key, at)?;
            let Spot {
                d,
                s,
                v,
                exact,
                rem,
            } = spot;
            let Some(slot) = layer.index.get(v) else {
                // Only in the root layer: a deeper one's new key counts in every layer above.
                if !add || at != 0 || layer.len + 1 >= layer.recheck_at || layer.index.needs_grow(v)
                {
                    return None;
                }
                layer.add_slot(key, spot, word);
                self.version += 1;
                return Some(None);
            };
            if !is_bucket(slot.word) {
                if rem != 8 {
                    return None;
                }
                break layer
                    .index
                    .set_word(v, word)
                    .expect("the slot was found above");
            }
            let (bucket_word, hinted) = (slot.word, bucket::is_payload_hint(slot.hint));
            // SAFETY: a live bucket of `layer`, which `self` holds mutably.
            let view = unsafe { BucketRef::from_word(bucket_word) };
            if rem >= 8 {
                // SAFETY: as above; the view is not used after this.
                if let Some(child) = unsafe { view.child_for_mut(s, exact) } {
                    layer = child;
                    at = d + 8;
                    continue;
                }
            }
            let rest = (rem >= 8).then(|| &key[d + 8..]);
            let (offset, old) = view.word_offset(s, exact, rem, rest)?;
            // SAFETY: the offset came from the bucket's view, which is not used after this;
            // `self` is held mutably, so no reader sees the bucket meanwhile.
            unsafe { bucket::write_word(bucket_word, offset, word) };
            if hinted {
                layer.index.set_hint(v, word);
            }
            break old;
        };
        self.version += 1;
        Some(Some(old))
    }

    /// Removes `key`, returning its word.
    pub fn remove(&mut self, key: &[u8]) -> Option<u64> {
        if key.len() > MAX_KEY_LEN {
            return None;
        }
        self.version += 1;
        self.root.remove(key, 0)
    }

    /// Builds a trie from keys in strictly increasing byte order and their words.
    pub fn bulk_load<K: AsRef<[u8]>>(keys: &[K], words: &[u64]) -> Result<Self, TrieError> {
        assert_eq!(keys.len(), words.len(), "one word per key");
        Self::bulk_load_pairs(keys.iter().map(AsRef::as_ref).zip(words.iter().copied()))
    }

    /// [`Trie::bulk_load`] from `(key, word)` pairs in strictly increasing key order, without
    /// a list of the keys beside them: what a reopen of millions of keys uses, so that its
    /// peak memory is the pairs (24 bytes a key, freed before the index's node arrays are
    /// allocated) and the index.
    pub fn bulk_load_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a [u8], u64)>,
    ) -> Result<Self, TrieError> {
        let pairs = pairs.into_iter();
        let mut entries = Vec::with_capacity(pairs.size_hint().0);
        for (k, w) in pairs {
            check_entry(k, w)?;
            entries.push((k, w));
        }
        assert!(
            entries.windows(2).all(|w| w[0].0 < w[1].0),
            "bulk_load needs strictly increasing keys"
        );
        Ok(Trie {
            root: build::layer_consuming(entries),
            instance: next_instance(),
            version: 0,
        })
    }

    /// Layer statistics and every byte held.
    pub fn stats(&self) -> TrieStats {
        let mut s = TrieStats {
            root_prefix: self.root.prefix.len(),
            ..TrieStats::default()
        };
        self.root.add_stats(1, &mut s);
        s
    }

    /// Turns ALEX's per-node key filters ([`Alex::set_key_filter`]) on or off in every layer
    /// the trie has now. Layers created later (by inserts that move keys into a new layer, or
    /// rebuilds) start without filters: call it again to cover them.
    ///
    /// [`Alex::set_key_filter`]: crate::alex::Alex::set_key_filter
    pub fn set_key_filter(&mut self, on: bool) {
        self.root.set_key_filter(on);
    }

    /// `(start address, length)` of every layer's ALEX node arrays (for a huge-page report).
    pub fn array_ranges(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        self.root.add_array_ranges(&mut out);
        out
    }

    /// Checks the structure: every layer's prefix is shared by its keys, counts agree, buckets
    /// are normalised (no bucket that could be a direct word, no empty bucket, packed long
    /// entries within bounds). For tests.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.root.check(0).map(|_| ())
    }
}

impl Layer {
    fn empty() -> Layer {
        Layer {
            prefix: Prefix::default(),
            window: None,
            radix: None,
            index: SlotIndex::new(),
            len: 0,
            recheck_at: 2,
            radix_unsettled: false,
        }
    }

    /// The ALEX key of slice `s` (the slice, or its feature), and whether `s` is the slot's
    /// implicit slice ([`Layer::implicit`]).
    #[inline(always)]
    fn alex_key(&self, s: u64) -> (u64, bool) {
        match &self.radix {
            None => (s, true),
            Some(r) => r.encode(s),
        }
    }

    /// The slice bucket entries of slot `v` need not carry: `v` itself, or the one slice whose
    /// exact feature is `v`.
    fn implicit(&self, v: u64) -> u64 {
        match &self.radix {
            None => v,
            Some(r) => r.decode(v),
        }
    }

    /// Where `key` (whose bytes before `at` lead to this layer) falls in it, or `None` when it
    /// leaves the layer's prefix or window.
    #[inline]
    fn locate(&self, key: &[u8], at: usize) -> Option<Spot> {
        let p = self.prefix.len();
        if p > 0 && key.get(at..at + p) != Some(&self.prefix[..]) {
            return None;
        }
        let (s, d) = match &self.window {
            None => (slice(key, at + p), at + p),
            Some(w) => (w.gather(key, at + p)?, at + p + w.constants()),
        };
        let (v, exact) = self.alex_key(s);
        Some(Spot {
            d,
            s,
            v,
            exact,
            rem: key.len() - d,
        })
    }

    /// Appends the key bytes slice `s` stands for: its 8 bytes, or the window they were gathered
    /// from.
    #[inline]
    fn push_slice(&self, s: u64, path: &mut Vec<u8>) {
        match &self.window {
            None => path.extend_from_slice(&s.to_be_bytes()),
            Some(w) => w.scatter(s, path),
        }
    }

    /// Rebuilds the layer from its keys and `extra` (a key relative to the layer's start, absent
    /// from it): a new prefix and feature.
    fn rebuild(&mut self, extra: Option<(Vec<u8>, u64)>) {
        #[cfg(test)]
        tests::UNPLANNED_REBUILDS.with(|n| n.set(n.get() + 1));
        let mut entries = Vec::with_capacity(self.len + 1);
        self.collect(&mut Vec::new(), &mut entries);
        if let Some((key, word)) = extra {
            let pos = entries.partition_point(|(k, _)| *k < key);
            entries.insert(pos, (key, word));
        }
        let recheck_at = self.recheck_at;
        *self = build::layer_owned(&entries);
        self.recheck_at = self.recheck_at.max(recheck_at);
    }

    /// Inserts `key` (whose bytes before `at` lead to this layer).
    fn insert(&mut self, key: &[u8], at: usize, word: u64) -> Option<u64> {
        let Some(spot) = self.locate(key, at) else {
            // The key leaves the prefix: it is new, and the layer is rebuilt with a shorter one.
            self.rebuild(Some((key[at..].to_vec(), word)));
            return None;
        };
        let Spot {
            d,
            s,
            v,
            exact,
            rem,
        } = spot;
        let Some(w) = self.index.get(v).map(Slot::word) else {
            self.add_slot(key, spot, word);
            return None;
        };
        let explicit = self.radix.is_some();
        if !exact {
            self.radix_unsettled = true;
        }
        // An exact slice is its slot's implicit one (no decode).
        let implicit = if exact { s } else { self.implicit(v) };
        let old = match w {
            w if !is_bucket(w) => {
                if rem == 8 {
                    self.index.insert(v, Slot::plain(word));
                    return Some(w);
                }
                let mut entries = vec![(s, Tail::Long(Vec::new()), w), (s, Tail::of(key, d), word)];
                entries.sort_by(|a, b| a.1.cmp(&b.1));
                let nw = BucketData {
                    entries,
                    child: None,
                    explicit,
                    implicit,
                }
                .encode();
                self.index.insert(v, nw);
                None
            }
            w => {
                // SAFETY: `w` is a live bucket of this layer, held mutably.
                let view = unsafe { BucketRef::from_word(w) };
                if rem >= 8 {
                    // SAFETY: `self` is borrowed mutably; the view is not used after this.
                    if let Some(child) = unsafe { view.child_for_mut(s, exact) } {
                        let old = child.insert(key, d + 8, word);
                        if old.is_none() {
                            self.note_inserted();
                        }
                        return old;
                    }
                }
                let _taken = bucket::Taken;
                // SAFETY: `w` is live and no view of it is used after this.
                let mut data = unsafe { BucketData::take(w, implicit) };
                let tail = Tail::of(key, d);
                let old = match data.search(s, &tail) {
                    Ok(i) => Some(std::mem::replace(&mut data.entries[i].2, word)),
                    Err(i) => {
                        data.entries.insert(i, (s, tail, word));
                        None
                    }
                };
                let too_many = data.too_many_long(s);
                if too_many && data.child.is_none() {
                    build::move_long_to_child(&mut data, s);
                } else if too_many || data.entries.len() > MAX_MIXED {
                    // Slices collide on the feature (bytes outside its ranges), and another
                    // slice's long keys already have the child, or too many share the slot: a
                    // rebuild widens the ranges.
                    self.index.insert(v, data.encode());
                    if old.is_none() {
                        self.len += 1;
                    }
                    self.rebuild(None);
                    return old;
                }
                self.index.insert(v, data.encode());
                old
            }
        };
        if old.is_none() {
            self.note_inserted();
        }
        old
    }

    /// Adds `key`, located at `spot` in this layer, in the slot `spot.v` (free): a direct word
    /// or a bucket of one entry. Counts it in this layer; the caller counts it in those above.
    fn add_slot(&mut self, key: &[u8], spot: Spot, word: u64) {
        let Spot {
            d,
            s,
            v,
            exact,
            rem,
        } = spot;
        debug_assert!(self.index.get(v).is_none());
        let explicit = self.radix.is_some();
        let w = if rem == 8 && !explicit {
            Slot::plain(word)
        } else {
            if !exact {
                self.radix_unsettled = true;
            }
            BucketData::encode_one(
                s,
                TailRef::of(key, d),
                word,
                explicit,
                // An exact slice is its slot's implicit one (no decode).
                if exact { s } else { self.implicit(v) },
            )
        };
        self.index.insert(v, w);
        self.note_inserted();
    }

    /// Counts a new key. The recheck each doubling calls for is planned before the insert
    /// (`grow.rs`); an insert that was not planned (a caller that let the trie change between
    /// plan and insert) runs late checks at the next planned insert.
    fn note_inserted(&mut self) {
        self.len += 1;
    }

    /// The slice of every slot and entry (with repeats).
    fn slices(&self) -> impl Iterator<Item = u64> + '_ {
        self.index
            .iter()
            .flat_map(move |(v, Slot { word: w, .. })| {
                let implicit = self.implicit(v);
                let carried: Vec<u64> = if is_bucket(w) {
                    // SAFETY: `w` is a live bucket of this layer, borrowed for the iteration.
                    let bucket = unsafe { BucketRef::from_word(w) };
                    bucket
                        .entries()
                        .filter_map(|e| e.slice)
                        .chain(bucket.child(implicit).map(|(cs, _)| cs))
                        .collect()
                } else {
                    Vec::new()
                };
                std::iter::once(implicit).chain(carried)
            })
    }

    /// The layer's smallest key, relative to its start.
    fn first_key(&self) -> Option<Vec<u8>> {
        let mut out = None;
        self.scan(&mut Vec::new(), None, &mut |k, _| {
            out = Some(k.to_vec());
            false
        });
        out
    }

    /// The layer's largest key, relative to its start.
    fn last_key(&self) -> Option<Vec<u8>> {
        let mut path = Vec::new();
        self.last(&mut path).map(|_| path)
    }

    /// Removes `key` (whose bytes before `at` lead to this layer).
    fn remove(&mut self, key: &[u8], at: usize) -> Option<u64> {
        let Spot {
            d,
            s,
            v,
            exact,
            rem,
        } = self.locate(key, at)?;
        let w = self.index.get(v)?.word;
        // A key leaving may narrow the feature's ranges.
        self.radix_unsettled = true;
        if !is_bucket(w) {
            if rem != 8 {
                return None;
            }
            self.index.remove(v);
            self.len -= 1;
            return Some(w);
        }
        // SAFETY: `w` is a live bucket of this layer, held mutably.
        let view = unsafe { BucketRef::from_word(w) };
        let mut from_child = None;
        if rem >= 8 {
            // SAFETY: `self` is borrowed mutably; the view is not used after this block.
            match unsafe { view.child_for_mut(s, exact) } {
                Some(child) => {
                    let removed = child.remove(key, d + 8)?;
                    if child.len > MAX_FOLD {
                        self.len -= 1;
                        return Some(removed);
                    }
                    from_child = Some(removed);
                }
                None => {
                    view.find_long(s, exact, &key[d + 8..])?;
                }
            }
        } else {
            view.find_short(s, exact, rem)?;
        }
        let _taken = bucket::Taken;
        // SAFETY: `w` is live and no view of it is used after this.
        let implicit = if exact { s } else { self.implicit(v) };
        let mut data = unsafe { BucketData::take(w, implicit) };
        let removed = match from_child {
            Some(removed) => removed,
            None => {
                let i = data
                    .search(s, &Tail::of(key, d))
                    .expect("the entry was found above");
                data.entries.remove(i).2
            }
        };
        build::fold_child(&mut data);
        self.len -= 1;
        match (data.entries.as_slice(), &data.child) {
            ([], None) => {
                self.index.remove(v);
            }
            ([(_, Tail::Long(rest), only)], None) if rest.is_empty() && !data.explicit => {
                self.index.insert(v, Slot::plain(*only));
            }
            _ => {
                self.index.insert(v, data.encode());
            }
        }
        Some(removed)
    }

    /// Appends every key of the layer (relative to its start, after `path`) and word, in order.
    fn collect(&self, path: &mut Vec<u8>, out: &mut Vec<(Vec<u8>, u64)>) {
        self.scan(path, None, &mut |k, w| {
            out.push((k.to_vec(), w));
            true
        });
    }

    fn set_key_filter(&mut self, on: bool) {
        self.index.set_key_filter(on);
        let buckets: Vec<(u64, u64)> = self
            .index
            .iter()
            .map(|(v, slot)| (v, slot.word))
            .filter(|&(_, w)| is_bucket(w))
            .collect();
        for (v, w) in buckets {
            // SAFETY: `w` is a live bucket of this layer, held mutably through `self`.
            let view = unsafe { BucketRef::from_word(w) };
            let Some((cs, _)) = view.child(self.implicit(v)) else {
                continue;
            };
            // SAFETY: as above; no other view of the bucket is used while the child is.
            if let Some(child) = unsafe { view.child_for_mut(cs, true) } {
                child.set_key_filter(on);
            }
        }
    }

    fn add_array_ranges(&self, out: &mut Vec<(usize, usize)>) {
        out.extend(self.index.array_ranges());
        for (v, Slot { word: w, .. }) in self.index.iter() {
            if is_bucket(w) {
                // SAFETY: `w` is a live bucket of this layer, borrowed for this call.
                let bucket = unsafe { BucketRef::from_word(w) };
                if let Some((_, child)) = bucket.child(self.implicit(v)) {
                    child.add_array_ranges(out);
                }
            }
        }
    }

    fn add_stats(&self, depth: usize, s: &mut TrieStats) {
        s.layers += 1;
        s.depth = s.depth.max(depth);
        s.featured_layers += usize::from(self.radix.is_some());
        s.windowed_layers += usize::from(self.window.is_some());
        s.alex_bytes += self.index.bytes();
        s.hinted_layers += usize::from(self.index.is_hinted());
        s.alex_mapped_bytes += self.index.mapped_bytes();
        let shape = self.index.stats();
        s.data_nodes += shape.data_nodes;
        s.model_nodes += shape.model_nodes;
        s.alex_keys += shape.keys;
        s.slots += (shape.keys as f64 / shape.avg_fill.max(1e-9)).round() as usize;
        s.layer_bytes += std::mem::size_of::<Layer>() + self.prefix.heap_bytes();
        for (v, Slot { word: w, hint }) in self.index.iter() {
            s.child_hints += usize::from(bucket::hinted_child(hint).is_some());
            if !is_bucket(w) {
                s.direct += 1;
                continue;
            }
            // SAFETY: `w` is a live bucket of this layer, borrowed for this call.
            let bucket = unsafe { BucketRef::from_word(w) };
            s.buckets += 1;
            s.bucket_bytes += bucket.allocated_bytes();
            if bucket.pooled() {
                s.bucket_pooled_bytes += bucket.allocated_bytes();
            }
            if let Some((_, child)) = bucket.child(self.implicit(v)) {
                child.add_stats(depth + 1, s);
            }
        }
    }

    /// Checks the layer (module docs of [`Trie::check_invariants`]); returns its key count.
    fn check(&self, at: usize) -> Result<usize, String> {
        let p = self.prefix.len();
        let d = at + p + self.window.as_ref().map_or(0, Window::constants);
        let mut count = 0;
        let mut keys = Vec::new();
        self.collect(&mut Vec::new(), &mut keys);
        if !keys.windows(2).all(|w| w[0].0 < w[1].0) {
            return Err(format!("layer at {at}: keys out of order"));
        }
        if keys.iter().any(|(k, _)| !k.starts_with(&self.prefix)) {
            return Err(format!("layer at {at}: a key outside the prefix"));
        }
        if let Some(w) = &self.window {
            if keys.iter().any(|(k, _)| w.gather(k, p).is_none()) {
                return Err(format!("layer at {at}: a key outside the window"));
            }
        }
        for (v, Slot { word: w, hint }) in self.index.iter() {
            if !is_bucket(w) {
                if self.radix.is_some() {
                    return Err(format!("layer at {at}: a direct word beside a feature"));
                }
                if hint != slot::NO_HINT {
                    return Err(format!("slot {v:#x}: a hint beside a direct word"));
                }
                count += 1;
                continue;
            }
            // SAFETY: `w` is a live bucket of this layer, borrowed for this call.
            let bucket = unsafe { BucketRef::from_word(w) };
            if bucket.explicit() != self.radix.is_some() {
                return Err(format!("slot {v:#x}: bucket slices do not match the layer"));
            }
            let entries: Vec<_> = bucket.entries().collect();
            if entries.len() != bucket.len() {
                return Err(format!("layer at {at}, slot {v:#x}: entry count"));
            }
            let implicit = self.implicit(v);
            let want_hint = match (&entries[..], bucket.child(implicit)) {
                ([e], None) if e.code >= 8 && e.slice.is_none() => e.word,
                ([], Some((cs, child))) if cs == implicit => bucket::child_hint(child),
                _ => slot::NO_HINT,
            };
            // A words layer has no hints (`slots.rs`).
            let want_hint = if self.index.is_hinted() {
                want_hint
            } else {
                slot::NO_HINT
            };
            if hint != want_hint {
                return Err(format!(
                    "slot {v:#x}: hint {hint:#x}, bucket says {want_hint:#x}"
                ));
            }
            if entries
                .iter()
                .any(|e| self.alex_key(e.slice.unwrap_or(implicit)).0 != v)
            {
                return Err(format!("slot {v:#x}: an entry of another slot"));
            }
            if entries.iter().any(|e| e.slice == Some(implicit)) {
                return Err(format!("slot {v:#x}: an entry carries the implicit slice"));
            }
            count += entries.len();
            if let Some((cs, child)) = bucket.child(implicit) {
                if self.alex_key(cs).0 != v {
                    return Err(format!("slot {v:#x}: the child of another slot"));
                }
                if entries
                    .iter()
                    .any(|e| e.code >= 8 && e.slice.unwrap_or(implicit) == cs)
                {
                    return Err(format!("slot {v:#x}: long entries beside their child"));
                }
                let n = child.check(d + 8)?;
                if n != child.len {
                    return Err(format!("slot {v:#x}: child counts {} of {n}", child.len));
                }
                if n <= MAX_FOLD {
                    let mut keys = Vec::new();
                    child.collect(&mut Vec::new(), &mut keys);
                    let data = BucketData {
                        entries: keys
                            .into_iter()
                            .map(|(r, w)| (cs, Tail::Long(r), w))
                            .collect(),
                        child: None,
                        explicit: false,
                        implicit: cs,
                    };
                    if !data.too_many_long(cs) && entries.len() + n <= MAX_MIXED {
                        return Err(format!("slot {v:#x}: child of {n} keys not folded"));
                    }
                }
                count += n;
            } else {
                if entries.is_empty() {
                    return Err(format!("slot {v:#x}: empty bucket"));
                }
                if entries.len() == 1 && entries[0].code == 8 && self.radix.is_none() {
                    return Err(format!("slot {v:#x}: bucket of one direct key"));
                }
            }
        }
        if count != self.len {
            return Err(format!("layer at {at}: len {} but {count} keys", self.len));
        }
        Ok(count)
    }
}

/// Where a key falls in a layer ([`Layer::locate`]).
#[derive(Clone, Copy)]
struct Spot {
    /// The key's **tail base**: the key's bytes from `d + 8` on are those after its slice. The
    /// layer's start and prefix, and the window's constant bytes when it has one (then the slice
    /// is gathered from `d - constants .. d + 8`); without a window, where the slice starts.
    d: usize,
    /// The slice.
    s: u64,
    /// Its ALEX key.
    v: u64,
    /// Whether `s` is the slot's implicit slice.
    exact: bool,
    /// Key bytes from the tail base on (8 or more in a layer with a window).
    rem: usize,
}

/// A bucket of a layer with a feature holds at most this many entries; more (slices colliding
/// on the feature) rebuild the layer with wider ranges.
const MAX_MIXED: usize = 64;

/// A child layer left with this many keys or fewer goes back into its bucket.
const MAX_FOLD: usize = bucket::MAX_LONG_ENTRIES / 2;
