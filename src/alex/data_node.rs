//! Data nodes: the leaves of ALEX, each a gapped array with its own linear model.
//!
//! # Layout and invariants
//! - `keys` and `payloads` are parallel arrays of `capacity` slots; `occupied` marks the slots that hold
//!   real entries. Searching touches `keys` only.
//! - Every gap holds a copy of the nearest real key to its right; gaps after the last real key hold
//!   `u64::MAX`. So `keys` is sorted (non-decreasing) and a search never needs the bitmap.
//! - For a key `k != u64::MAX`, the last slot whose value is `k` is the real entry when `k` is present
//!   (the run of equal values is gaps copying it, then it). `u64::MAX` is a valid key, so it is the
//!   one case that consults the bitmap.
//! - `payloads[i]` is initialised exactly when `occupied.get(i)`.
//! - At least one slot is always a gap when an insert starts (`num_keys < grow_at <= capacity - 1`).

use std::mem::MaybeUninit;

use super::array::NodeArray;
use super::bitmap::Bitmap;
use super::capacity::{
    capacity_for, whole_huge_pages, INIT_DENSITY, MAX_DENSITY, MAX_NODE_BYTES, MIN_CAPACITY,
    SHRINK_DENSITY,
};
use super::cost;
use super::filter::KeyFilter;
use super::model::LinearModel;
use super::placement::{place_by_model, train, Placement};
use crate::machine::prefetch;

/// Inserts a node must have seen before they can call it append-mostly. Small on purpose: a node
/// that grows at one end but is rebuilt with its gaps spread takes every later append at its last
/// slot and shifts on each one.
const APPEND_HINT_MIN_INSERTS: u64 = 8;
/// More than this share of inserts beyond one end makes a node "append-mostly" at that end.
const APPEND_MOSTLY_SHARE: f64 = 0.9;

/// Per-node counters the cost model reads when the node is full.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NodeCounters {
    pub(crate) inserts: u64,
    pub(crate) search_iterations: u64,
    pub(crate) shifts: u64,
    pub(crate) inserts_right: u64,
    pub(crate) inserts_left: u64,
}

/// What an insert into a data node did.
pub(crate) enum NodeInsert<P> {
    Inserted,
    Replaced(P),
    /// The node is at its maximum density; the tree must expand or split it first.
    Full,
}

/// A leaf of the index. See the module docs for the invariants.
///
/// A lookup of a node without a key filter reads the first five fields only: they lie in the
/// node's first cache line (the layout is fixed and the node aligned to a line for that), so
/// such a lookup touches one line of the node, not two.
#[repr(C, align(64))]
pub(crate) struct DataNode<P: Copy> {
    pub(crate) model: LinearModel,
    keys: NodeArray<u64>,
    payloads: NodeArray<MaybeUninit<P>>,
    /// Whether `filter` is set (read first, so a node without one is looked up in one line).
    filtered: bool,
    /// Whether nearly every key sat at its predicted slot when the node was built: then a
    /// lookup first tries the predicted slot alone, a branch the CPU predicts right; otherwise
    /// it counts the keys of the predicted line without branching (see [`Self::find`]).
    prediction_first: bool,
    /// When the index keeps key filters: rejects most absent keys without touching `keys`
    /// (`filter.rs`); holds every real key.
    filter: Option<Box<KeyFilter>>,
    occupied: Bitmap,
    num_keys: usize,
    grow_at: usize,
    /// Smallest and largest key ever held since the last rebuild (for append detection).
    min_key: u64,
    max_key: u64,
    pub(crate) counters: NodeCounters,
    /// Cost expected from the placement at the last rebuild.
    pub(crate) expected_cost: f64,
    /// log2 of the number of parent slots pointing at this node.
    pub(crate) dup: u8,
    /// Neighbours in key order (arena indices, `NIL` at the ends).
    pub(crate) prev: u32,
    pub(crate) next: u32,
}

/// Fewest keys a node must have for lookups to try the predicted slot first (at least 90% of
/// them must sit there): in a small node the saving is small and the share noisy.
const PREDICTION_FIRST_MIN_KEYS: usize = 64;

/// Keys per 64-byte cache line (node arrays are line-aligned, see `array.rs`).
const LINE_SLOTS: usize = 8;

/// No neighbour.
pub(crate) const NIL: u32 = u32::MAX;

impl<P: Copy> DataNode<P> {
    /// Largest number of slots a node may have for this payload type.
    pub(crate) fn max_capacity() -> usize {
        MAX_NODE_BYTES / (8 + std::mem::size_of::<P>().max(1))
    }

    /// Largest number of keys a freshly built node may hold.
    pub(crate) fn max_keys() -> usize {
        (Self::max_capacity() as f64 * INIT_DENSITY) as usize
    }

    /// Slots of a node built for `n` keys at `density`: [`capacity_for`], moved to whole huge
    /// pages when they are near ([`whole_huge_pages`]), never past [`Self::max_capacity`].
    fn capacity_for_keys(n: usize, density: f64) -> usize {
        whole_huge_pages(n, capacity_for(n, density), Self::max_capacity().max(n + 2))
    }

    /// An empty node (with a key filter when `filtered`).
    pub(crate) fn empty(dup: u8, filtered: bool) -> Self {
        Self::build(&[], &[], INIT_DENSITY, Placement::Spread, dup, filtered)
    }

    /// Builds a node from strictly increasing `keys` and their payloads, at `density`, with a
    /// key filter when `filtered`.
    pub(crate) fn build(
        keys: &[u64],
        payloads: &[P],
        density: f64,
        placement: Placement,
        dup: u8,
        filtered: bool,
    ) -> Self {
        debug_assert_eq!(keys.len(), payloads.len());
        let entries = keys.iter().copied().zip(payloads.iter().copied());
        Self::build_from(entries, keys.len(), density, placement, dup, None, filtered)
    }

    /// Rebuilds this node's entries into a new node at `density`. When `rescale` is set, the
    /// current model is stretched to the new capacity instead of being retrained (the cheap
    /// expansion ALEX uses while a node's model still fits its keys).
    /// The new node has a key filter when `filtered`.
    pub(crate) fn rebuilt(
        &self,
        density: f64,
        placement: Placement,
        rescale: bool,
        filtered: bool,
    ) -> Self {
        let n = self.num_keys;
        let capacity = Self::capacity_for_keys(n, density);
        let hint = (rescale && placement == Placement::Spread && n > 1).then(|| {
            let mut m = self.model;
            m.scale(capacity as f64 / self.capacity() as f64);
            m
        });
        Self::build_from(
            self.entries(),
            n,
            density,
            placement,
            self.dup,
            hint,
            filtered,
        )
    }

    /// Whether the node keeps a key filter.
    pub(crate) fn has_filter(&self) -> bool {
        self.filter.is_some()
    }

    /// Builds (`on`) or drops the node's key filter.
    pub(crate) fn set_filter(&mut self, on: bool) {
        if !on {
            self.filter = None;
        } else if self.filter.is_none() {
            let mut filter = KeyFilter::new(self.grow_at.max(self.num_keys));
            for (k, _) in self.entries() {
                filter.add(k);
            }
            self.filter = Some(Box::new(filter));
        }
        self.filtered = self.filter.is_some();
    }

    /// Builds a node from `n` entries in strictly increasing key order. `entries` is cloned to
    /// read it more than once (training, then placement). `model` skips training.
    fn build_from<I>(
        entries: I,
        n: usize,
        density: f64,
        placement: Placement,
        dup: u8,
        model: Option<LinearModel>,
        filtered: bool,
    ) -> Self
    where
        I: Iterator<Item = (u64, P)> + Clone,
    {
        let capacity = Self::capacity_for_keys(n, density);
        let (mut min_key, mut max_key) = (u64::MAX, 0);
        if n > 0 {
            min_key = entries.clone().next().map_or(u64::MAX, |e| e.0);
        }
        let model = model.unwrap_or_else(|| {
            train(
                entries.clone().map(|e| e.0),
                min_key,
                n,
                capacity,
                placement,
            )
        });
        let grow_at = ((capacity as f64 * MAX_DENSITY) as usize).min(capacity - 1);
        let mut node = DataNode {
            keys: NodeArray::filled(capacity, u64::MAX),
            payloads: NodeArray::filled(capacity, MaybeUninit::uninit()),
            occupied: Bitmap::new(capacity),
            filtered,
            prediction_first: false,
            filter: filtered.then(|| Box::new(KeyFilter::new(grow_at.max(n)))),
            model,
            num_keys: n,
            grow_at,
            min_key,
            max_key,
            counters: NodeCounters::default(),
            expected_cost: 0.0,
            dup,
            prev: NIL,
            next: NIL,
        };
        max_key = node.place(entries, n);
        node.max_key = if n > 0 { max_key } else { 0 };
        node
    }

    /// Places `n` sorted entries into this all-gap node by [`place_by_model`], writing the
    /// gap copies, and records the expected cost of the result. Returns the largest key placed.
    fn place<I: Iterator<Item = (u64, P)>>(&mut self, entries: I, n: usize) -> u64 {
        let cap = self.keys.len();
        let model = self.model;
        let (keys, payloads, occupied, filter) = (
            &mut self.keys,
            &mut self.payloads,
            &mut self.occupied,
            &mut self.filter,
        );
        let mut last_key = 0;
        let placed = place_by_model(
            entries,
            |e| e.0,
            n,
            &model,
            cap,
            |(k, p), written, pos| {
                // Gaps before a key copy that key; the slots after the last key keep the
                // `u64::MAX` the array was filled with.
                keys[written..=pos].fill(k);
                payloads[pos] = MaybeUninit::new(p);
                occupied.set(pos);
                if let Some(f) = filter.as_mut() {
                    f.add(k);
                }
                last_key = k;
            },
        );
        self.expected_cost = placed.expected_cost;
        self.prediction_first =
            n >= PREDICTION_FIRST_MIN_KEYS && placed.at_prediction * 10 >= n * 9;
        last_key
    }

    /// The node's entries in key order.
    pub(crate) fn entries(&self) -> Entries<'_, P> {
        Entries {
            node: self,
            word: 0,
            bits: self.occupied.word(0),
        }
    }

    /// About `max` keys spread evenly over the node, in order (for cost estimates on large
    /// nodes): the first real key at or after every `stride`-th slot.
    pub(crate) fn sampled_keys(&self, max: usize) -> Vec<u64> {
        let stride = self.capacity().div_ceil(max.max(1)).max(1);
        let mut keys = Vec::with_capacity(max.min(self.num_keys));
        let mut slot = 0;
        while let Some(s) = self.occupied.next_set(slot) {
            keys.push(self.keys[s]);
            slot = (s + 1).max(slot + stride);
        }
        keys
    }

    /// Number of real entries.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.num_keys
    }

    /// Number of slots.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.keys.len()
    }

    /// The key in slot `i` (a real key or a gap copy).
    #[inline(always)]
    pub(crate) fn key_at(&self, i: usize) -> u64 {
        self.keys[i]
    }

    /// The payload of occupied slot `i`.
    #[inline(always)]
    pub(crate) fn payload_at(&self, i: usize) -> P {
        debug_assert!(self.occupied.get(i));
        // SAFETY: callers pass occupied slots only (checked in debug builds above), and every
        // occupied slot's payload was written when the slot became occupied (see the module
        // invariants: place, insert and the shifts move payloads together with the bit).
        unsafe { self.payloads[i].assume_init() }
    }

    /// The first occupied slot at or after `i`.
    #[inline]
    pub(crate) fn next_occupied(&self, i: usize) -> Option<usize> {
        self.occupied.next_set(i)
    }

    /// The last occupied slot at or before `i`.
    #[inline]
    pub(crate) fn prev_occupied(&self, i: usize) -> Option<usize> {
        self.occupied.prev_set(i)
    }

    /// First slot whose key is greater than `key`, searching exponentially outward from the
    /// model's prediction; also returns the iterations spent.
    #[inline(always)]
    fn upper_bound(&self, key: u64) -> (usize, u32) {
        let p = self.model.predict_slot(key, self.keys.len());
        // The entry is almost always within a few slots of the prediction: start loading its
        // payload while the key search waits for its own cache line.
        prefetch(self.payloads.ptr_at(p));
        self.upper_bound_from(key, p)
    }

    /// [`Self::upper_bound`] from the model's prediction `p`.
    #[inline(always)]
    fn upper_bound_from(&self, key: u64, p: usize) -> (usize, u32) {
        let keys = &self.keys[..];
        let n = keys.len();
        // Fast path: when the answer lies inside the cache line of the prediction (the common case
        // with a good model), count the keys <= `key` in that line without data-dependent branches,
        // so the CPU keeps speculating into the next operation while this line is in flight.
        let start = p & !(LINE_SLOTS - 1);
        if start + LINE_SLOTS <= n {
            let line = &keys[start..start + LINE_SLOTS];
            if line[0] <= key && line[LINE_SLOTS - 1] > key {
                let below = line
                    .iter()
                    .fold(0usize, |acc, &k| acc + (k <= key) as usize);
                return (start + below, 1);
            }
        }
        let mut step = 1usize;
        let mut iterations = 1u32;
        if keys[p] > key {
            // The answer is in [0, p]; keys[hi] > key.
            let mut hi = p;
            let lo = loop {
                if step > hi {
                    break 0;
                }
                let i = hi - step;
                if keys[i] <= key {
                    break i + 1;
                }
                hi = i;
                step <<= 1;
                iterations += 1;
            };
            (lo + keys[lo..hi].partition_point(|&k| k <= key), iterations)
        } else {
            // The answer is in (p, n]; keys[lo] <= key.
            let mut lo = p;
            let hi = loop {
                let i = lo + step;
                if i >= n {
                    break n;
                }
                if keys[i] > key {
                    break i;
                }
                lo = i;
                step <<= 1;
                iterations += 1;
            };
            (
                lo + 1 + keys[lo + 1..hi].partition_point(|&k| k <= key),
                iterations,
            )
        }
    }

    /// First slot whose key is greater than `key` (`capacity()` when none is).
    #[inline]
    pub(crate) fn upper_bound_slot(&self, key: u64) -> usize {
        self.upper_bound(key).0
    }

    /// First slot whose key is at least `key` (may be a gap copying the next real key).
    #[inline]
    pub(crate) fn lower_bound(&self, key: u64) -> usize {
        match key.checked_sub(1) {
            Some(k) => self.upper_bound(k).0,
            None => 0,
        }
    }

    /// Starts loading the lines of `key`'s predicted slot ([`crate::alex::Alex::prefetch`]).
    #[inline(always)]
    pub(crate) fn prefetch(&self, key: u64) {
        let p = self.model.predict_slot(key, self.keys.len());
        prefetch(self.keys.ptr_at(p));
        prefetch(self.payloads.ptr_at(p));
    }

    /// The slot of `key`, if present. With a key filter, most absent keys end at the filter's
    /// word instead of a memory round trip to the key line; a present key then pays one more
    /// load (`filter.rs`). The key's line and its payload's start loading before the filter is
    /// asked, so a present key waits for one round trip either way.
    #[inline(always)]
    pub(crate) fn find(&self, key: u64) -> Option<usize> {
        let p = self.model.predict_slot(key, self.keys.len());
        prefetch(self.keys.ptr_at(p));
        prefetch(self.payloads.ptr_at(p));
        if self.filtered {
            if let Some(f) = &self.filter {
                if !f.may_contain(key) {
                    return None;
                }
            }
        }
        if key == u64::MAX {
            return self.find_max();
        }
        if self.prediction_first {
            // When the predicted slot holds `key` and the next does not, that is the answer
            // ([`Self::entry_at`]). In a node whose keys sit
            // at their predictions this branch is predicted right, so the CPU goes on to the
            // payload and beyond without waiting for the key line; the line count below makes
            // every lookup wait for it.
            if self.entry_at(key, p) {
                return Some(p);
            }
        }
        let (ub, _) = self.upper_bound_from(key, p);
        (ub > 0 && self.keys[ub - 1] == key).then(|| ub - 1)
    }

    /// Whether slot `p` is `key`'s entry, judged from `p` and the slot after it alone (false
    /// for the last slot): the last slot holding a key is its entry (module invariants).
    #[inline(always)]
    fn entry_at(&self, key: u64, p: usize) -> bool {
        let keys = &self.keys[..];
        p + 1 < keys.len() && keys[p] == key && keys[p + 1] != key
    }

    /// [`Self::find`], replayed for `alex::trace`: the same slot, and every address it reads
    /// (`touch(address, bytes)`: the prefetched lines, the key filter's word, the key slots the
    /// search probes, the payload). Returns the slot and its distance from the prediction.
    pub(crate) fn trace_find(
        &self,
        key: u64,
        touch: &mut dyn FnMut(*const u8, usize),
    ) -> (Option<usize>, usize) {
        // The node's fields a lookup reads: its model, its arrays' pointers, its flags, its
        // filter's pointer when it has one.
        touch(
            (&self.model as *const LinearModel).cast(),
            std::mem::size_of::<LinearModel>(),
        );
        touch((&self.keys as *const NodeArray<u64>).cast(), 16);
        touch(std::ptr::addr_of!(self.payloads).cast(), 16);
        touch(std::ptr::addr_of!(self.filtered).cast(), 2);
        let keys = &self.keys[..];
        let n = keys.len();
        let p = self.model.predict_slot(key, n);
        touch(self.keys.ptr_at(p).cast(), 8);
        touch(self.payloads.ptr_at(p).cast(), std::mem::size_of::<P>());
        if self.filtered {
            touch((&self.filter as *const Option<Box<KeyFilter>>).cast(), 8);
            if let Some(f) = &self.filter {
                touch(f.word_ptr(key), 8);
                if !f.may_contain(key) {
                    return (None, 0);
                }
            }
        }
        let slot = self.find(key);
        if self.prediction_first && p + 1 < n {
            touch(self.keys.ptr_at(p + 1).cast(), 8);
            if self.entry_at(key, p) {
                touch(self.payloads.ptr_at(p).cast(), std::mem::size_of::<P>());
                return (slot, 0);
            }
        }
        // The search's probes: the prediction's line on the fast path, else the exponential
        // steps and the binary search between the last two.
        let start = p & !(LINE_SLOTS - 1);
        let fast =
            start + LINE_SLOTS <= n && keys[start] <= key && keys[start + LINE_SLOTS - 1] > key;
        if fast {
            touch(self.keys.ptr_at(start).cast(), 8 * LINE_SLOTS);
        } else {
            let mut probe = |i: usize| touch(self.keys.ptr_at(i).cast(), 8);
            let mut hi = n;
            let mut lo;
            let mut step = 1usize;
            if keys[p] > key {
                hi = p;
                loop {
                    if step > hi {
                        lo = 0;
                        break;
                    }
                    let i = hi - step;
                    probe(i);
                    if keys[i] <= key {
                        lo = i + 1;
                        break;
                    }
                    hi = i;
                    step <<= 1;
                }
            } else {
                lo = p + 1;
                loop {
                    let i = (lo - 1) + step;
                    if i >= n {
                        break;
                    }
                    probe(i);
                    if keys[i] > key {
                        hi = i;
                        break;
                    }
                    lo = i + 1;
                    step <<= 1;
                }
            }
            // Binary search of [lo, hi) for the first key greater than `key`.
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                probe(mid);
                if keys[mid] <= key {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
        }
        if let Some(s) = slot {
            touch(self.payloads.ptr_at(s).cast(), std::mem::size_of::<P>());
        }
        (slot, slot.map_or(0, |s| s.abs_diff(p)))
    }

    /// Bytes of this node's arrays mapped from the kernel directly rather than taken from the
    /// heap (a counting global allocator does not see them).
    pub(crate) fn mapped_bytes(&self) -> usize {
        self.keys.mapped_bytes()
            + self.payloads.mapped_bytes()
            + self.filter.as_deref().map_or(0, KeyFilter::mapped_bytes)
    }

    /// `u64::MAX` shares its value with the trailing gaps, so ask the bitmap.
    #[cold]
    fn find_max(&self) -> Option<usize> {
        let lb = self.lower_bound(u64::MAX);
        self.occupied
            .next_set(lb)
            .filter(|&s| self.keys[s] == u64::MAX)
    }

    /// The payload of occupied slot `i`, to change in place.
    #[inline]
    pub(crate) fn payload_mut(&mut self, i: usize) -> &mut P {
        assert!(self.occupied.get(i), "payload_mut of a gap");
        // SAFETY: the slot is occupied (checked above), so its payload is initialised.
        unsafe { self.payloads[i].assume_init_mut() }
    }

    /// Replaces the payload of occupied slot `slot`, returning the old one.
    #[inline]
    pub(crate) fn replace(&mut self, slot: usize, payload: P) -> P {
        let old = self.payload_at(slot);
        self.payloads[slot] = MaybeUninit::new(payload);
        old
    }

    /// Whether the node must grow before it takes another key.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.num_keys >= self.grow_at
    }

    /// Whether the node must grow before it takes another key: it is full, or its inserts have
    /// shifted a catastrophic number of slots on average. Keys the model cannot spread (runs
    /// of close keys, such as slices of ASCII digits) otherwise pay long shifts on every insert
    /// until the node fills; the grow then splits it (`Alex::grow`: catastrophic shifts always
    /// split), and the new nodes start with fresh counters.
    #[inline]
    pub(crate) fn must_grow(&self) -> bool {
        let c = &self.counters;
        self.is_full()
            || (c.inserts >= cost::MIN_INSERTS_FOR_STATS
                && c.shifts as f64 > cost::CATASTROPHIC_SHIFTS * c.inserts as f64)
    }

    /// Inserts `key`, or replaces its payload when present. Returns `Full` without changing
    /// anything when a new key would exceed the node's density bound, or the node's inserts
    /// have been shifting catastrophically ([`DataNode::must_grow`]).
    pub(crate) fn insert(&mut self, key: u64, payload: P) -> NodeInsert<P> {
        if key == u64::MAX {
            if let Some(s) = self.find_max() {
                return NodeInsert::Replaced(self.replace(s, payload));
            }
        }
        // The insert will read the bitmap near the prediction: load it alongside the keys.
        prefetch(
            self.occupied
                .word_ptr(self.model.predict_slot(key, self.keys.len())),
        );
        let (ub, iterations) = self.upper_bound(key);
        if key != u64::MAX && ub > 0 && self.keys[ub - 1] == key {
            return NodeInsert::Replaced(self.replace(ub - 1, payload));
        }
        if self.must_grow() {
            return NodeInsert::Full;
        }
        // Every slot before `lb` holds a key < `key`; `lb - 1`, when it exists, is real (a gap
        // there would copy a key >= keys[lb]).
        // An absent key other than `u64::MAX` has no copies, so its lower bound is its upper bound.
        let lb = if key == u64::MAX {
            self.lower_bound(key)
        } else {
            ub
        };
        let cap = self.keys.len();
        let next_real = self.occupied.next_set(lb).unwrap_or(cap);
        let predicted = self.model.predict_slot(key, cap);
        let shifts;
        let slot = if lb < next_real {
            // A run of gaps where the key belongs: take the one nearest the prediction.
            let pos = predicted.clamp(lb, next_real - 1);
            self.keys[lb..=pos].fill(key);
            shifts = 0;
            pos
        } else {
            let right = self.occupied.next_clear(lb);
            let left = if lb > 0 {
                self.occupied.prev_clear(lb - 1)
            } else {
                None
            };
            let go_right = match (left, right) {
                (Some(l), Some(r)) => r - lb <= lb - 1 - l,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (None, None) => unreachable!("a data node below its density bound has a gap"),
            };
            if go_right {
                let r = right.expect("checked above");
                self.keys.copy_within(lb..r, lb + 1);
                self.payloads.copy_within(lb..r, lb + 1);
                self.occupied.set(r);
                shifts = r - lb;
                lb
            } else {
                let l = left.expect("checked above");
                self.keys.copy_within(l + 1..lb, l);
                self.payloads.copy_within(l + 1..lb, l);
                self.occupied.set(l);
                shifts = lb - 1 - l;
                lb - 1
            }
        };
        self.keys[slot] = key;
        self.payloads[slot] = MaybeUninit::new(payload);
        self.occupied.set(slot);
        if let Some(f) = self.filter.as_mut() {
            f.add(key);
        }
        self.num_keys += 1;
        let c = &mut self.counters;
        c.inserts += 1;
        c.search_iterations += iterations as u64;
        c.shifts += shifts as u64;
        if key > self.max_key {
            c.inserts_right += 1;
            self.max_key = key;
        }
        if key < self.min_key {
            c.inserts_left += 1;
            self.min_key = key;
        }
        NodeInsert::Inserted
    }

    /// Removes `key`, returning its payload.
    pub(crate) fn remove(&mut self, key: u64) -> Option<P> {
        let slot = self.find(key)?;
        let payload = self.payload_at(slot);
        let cap = self.keys.len();
        // Gaps copying `key` now copy whatever follows it.
        let fill = if slot + 1 < cap {
            self.keys[slot + 1]
        } else {
            u64::MAX
        };
        self.occupied.clear(slot);
        self.payloads[slot] = MaybeUninit::uninit();
        let mut j = slot;
        loop {
            self.keys[j] = fill;
            if j == 0 || self.occupied.get(j - 1) {
                break;
            }
            j -= 1;
        }
        self.num_keys -= 1;
        Some(payload)
    }

    /// Whether deletes have left the node so sparse it should be rebuilt smaller.
    pub(crate) fn should_shrink(&self) -> bool {
        self.capacity() > 4 * MIN_CAPACITY
            && (self.num_keys as f64) < self.capacity() as f64 * SHRINK_DENSITY
    }

    /// Appends the node's entries, in key order, to `keys` and `payloads`.
    pub(crate) fn drain_into(&self, keys: &mut Vec<u64>, payloads: &mut Vec<P>) {
        for (k, p) in self.entries() {
            keys.push(k);
            payloads.push(p);
        }
    }

    /// The node's smallest and largest real keys.
    pub(crate) fn key_range(&self) -> Option<(u64, u64)> {
        let first = self.occupied.next_set(0)?;
        let last = self.occupied.prev_set(self.capacity() - 1)?;
        Some((self.keys[first], self.keys[last]))
    }

    /// Where a rebuild should leave room, from where recent inserts went.
    pub(crate) fn placement_hint(&self) -> Placement {
        let c = &self.counters;
        if c.inserts >= APPEND_HINT_MIN_INSERTS {
            let n = c.inserts as f64;
            if c.inserts_right as f64 > APPEND_MOSTLY_SHARE * n {
                return Placement::RoomRight;
            }
            if c.inserts_left as f64 > APPEND_MOSTLY_SHARE * n {
                return Placement::RoomLeft;
            }
        }
        Placement::Spread
    }

    /// Measured intra-node cost from the counters, if there are enough inserts to trust it,
    /// with the average shifts per insert.
    pub(crate) fn measured_cost(&self) -> Option<(f64, f64)> {
        let c = &self.counters;
        if c.inserts < cost::MIN_INSERTS_FOR_STATS {
            return None;
        }
        let n = c.inserts as f64;
        let shifts = c.shifts as f64 / n;
        Some((
            cost::intra_node_cost(c.search_iterations as f64 / n, shifts),
            shifts,
        ))
    }

    /// `(start address, bytes)` of the node's key and payload arrays.
    pub(crate) fn array_ranges(&self) -> [(usize, usize); 3] {
        [
            self.keys.byte_range(),
            self.payloads.byte_range(),
            self.filter.as_deref().map_or((0, 0), KeyFilter::byte_range),
        ]
    }

    /// Bytes held by the node: arrays plus the node itself.
    pub(crate) fn bytes(&self) -> usize {
        self.keys.footprint()
            + self.payloads.footprint()
            + self.occupied.bytes()
            + self
                .filter
                .as_deref()
                .map_or(0, |f| f.bytes() + std::mem::size_of::<KeyFilter>())
            + std::mem::size_of::<Self>()
    }

    /// Checks the module invariants; for tests.
    #[cfg(test)]
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.filtered != self.filter.is_some() {
            return Err(format!(
                "filtered is {} beside a filter {:?}",
                self.filtered,
                self.filter.is_some()
            ));
        }
        let cap = self.capacity();
        let mut count = 0;
        let mut fill = u64::MAX;
        for j in (0..cap).rev() {
            if self.occupied.get(j) {
                count += 1;
                fill = self.keys[j];
                if self.filter.as_ref().is_some_and(|f| !f.may_contain(fill)) {
                    return Err(format!("the filter rejects key {fill} of slot {j}"));
                }
            } else if self.keys[j] != fill {
                return Err(format!("gap {j} holds {} not {fill}", self.keys[j]));
            }
            if j + 1 < cap && self.keys[j] > self.keys[j + 1] {
                return Err(format!("keys out of order at {j}"));
            }
            if j + 1 < cap
                && self.occupied.get(j)
                && self.occupied.get(j + 1)
                && self.keys[j] == self.keys[j + 1]
            {
                return Err(format!("duplicate key at {j}"));
            }
        }
        if count != self.num_keys {
            return Err(format!(
                "bitmap counts {count}, node says {}",
                self.num_keys
            ));
        }
        Ok(())
    }
}

/// The entries of a data node in key order; cheap to clone.
#[derive(Clone)]
pub(crate) struct Entries<'a, P: Copy> {
    node: &'a DataNode<P>,
    /// Index of the bitmap word being walked, and its set bits not yet visited.
    word: usize,
    bits: u64,
}

impl<P: Copy> Iterator for Entries<'_, P> {
    type Item = (u64, P);

    #[inline]
    fn next(&mut self) -> Option<(u64, P)> {
        while self.bits == 0 {
            self.word += 1;
            if self.word >= self.node.occupied.words() {
                return None;
            }
            self.bits = self.node.occupied.word(self.word);
        }
        let s = (self.word << 6) + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some((self.node.keys[s], self.node.payload_at(s)))
    }
}

#[cfg(test)]
#[path = "data_node_tests.rs"]
mod tests;
