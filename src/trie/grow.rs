//! Planning the expensive part of an insert apart from doing it, as `Alex` does for its node
//! grows (`alex/grow.rs`): a concurrent engine plans under a read lock and installs under a brief
//! write lock, so readers never wait for a layer to be rebuilt.
//!
//! An insert into the trie is cheap (an ALEX insert, a bucket of a few entries rewritten, at
//! most a child layer of 17 keys built) unless it needs one of:
//! * an ALEX grow of the layer the key's slot goes into ([`Alex::prepare_grow`]);
//! * a **rebuild** of a layer: the key leaves the layer's prefix, or its slice collides with
//!   others on the layer's feature past what a bucket holds (`MAX_MIXED`, or a second child);
//! * the **recheck** a layer on the key's path makes when the insert doubles it: a rebuild if its
//!   keys now call for a longer prefix or another feature, else just the next threshold.
//!
//! [`Trie::prepare_grow`] (`&self`) finds the first of these the insert of a key needs and does
//! the work: the ALEX plan, or the whole new layer. [`Trie::install_grow`] (`&mut self`) walks to
//! the same layer and swaps it in. After `while let Some(p) = t.prepare_grow(k) { t.install_grow(p); }`
//! the insert of `k` does none of the above. A plan made against another state (the caller let
//! the trie change in between) installs nothing wrong: the walk checks it reaches a layer of
//! the same identity, and an ALEX plan checks its own stamp; the insert then does what is still
//! needed itself.

use super::bucket::{is_bucket, long_overflow, BucketRef, Tail};
use super::slot::Slot;
use super::slots::{SlotGrow, SlotRetired};
use super::{build, Layer, Spot, Trie, MAX_MIXED};

/// Work an insert needs, prepared ([`Trie::prepare_grow`]).
pub struct TrieGrow {
    /// The trie's identity and mutation count when planned: another trie, or any change since,
    /// voids the plan.
    stamp: (u64, u64),
    key: Vec<u8>,
    /// Layers below the root on the key's path to the layer the plan is for.
    hops: usize,
    /// That layer's identity when planned.
    layer: *const Layer,
    step: Step,
}

// SAFETY: the raw pointer is only compared, never dereferenced.
unsafe impl Send for TrieGrow {}

enum Step {
    Alex(Box<SlotGrow>),
    Rebuild(Box<Layer>),
    Recheck(usize),
}

/// What an install replaced: drop it outside the lock (freeing large node arrays unmaps memory).
#[must_use = "drop it outside the index lock"]
pub struct TrieRetired {
    _alex: Option<SlotRetired>,
    _layer: Option<Layer>,
}

/// Where the insert of a key leads, seen from one layer.
enum Found<'a> {
    /// The key is present: the insert replaces its word.
    Present,
    /// The key is new; the insert acts in this layer.
    New(Action),
    /// The key continues in this child layer, whose bytes start at this offset of the key.
    Child(&'a Layer, usize),
}

/// What a new key's insert does to the layer it lands in.
enum Action {
    /// An ALEX insert of the layer's key `v` (a new slot).
    NewSlot(u64),
    /// A rewrite of an existing slot.
    Rewrite,
    /// A rebuild with the key (relative to the layer's start) taken into account.
    Rebuild,
}

impl Layer {
    /// Where the insert of `key` (whose bytes before `at` lead here) goes.
    fn find_insert(&self, key: &[u8], at: usize) -> Found<'_> {
        let Some(Spot {
            d,
            s,
            v,
            exact,
            rem,
        }) = self.locate(key, at)
        else {
            return Found::New(Action::Rebuild);
        };
        let Some(w) = self.index.get(v).map(Slot::word) else {
            return Found::New(Action::NewSlot(v));
        };
        if !is_bucket(w) {
            return if rem == 8 {
                Found::Present
            } else {
                Found::New(Action::Rewrite)
            };
        }
        // SAFETY: `w` is a live bucket of this layer, borrowed with it.
        let bucket = unsafe { BucketRef::from_word(w) };
        if rem >= 8 {
            if let Some(child) = bucket.child_for(s, exact) {
                return Found::Child(child, d + 8);
            }
            if bucket.find_long(s, exact, &key[d + 8..]).is_some() {
                return Found::Present;
            }
        } else if bucket.find_short(s, exact, rem).is_some() {
            return Found::Present;
        }
        // A new entry in this bucket: would it overflow what the bucket can hold?
        let tail = Tail::of(key, d);
        let implicit = self.implicit(v);
        let (mut long_of_s, mut long_bytes) = match &tail {
            Tail::Long(_) => (1, tail.encoded_len()),
            Tail::Short(_) => (0, 0),
        };
        for e in bucket.entries() {
            if e.code >= 8 && e.slice.unwrap_or(implicit) == s {
                long_of_s += 1;
                long_bytes += Tail::long_encoded_len(e.rest.len());
            }
        }
        let too_many = long_overflow(long_of_s, long_bytes);
        let has_other_child = bucket.child(implicit).is_some();
        if (too_many && has_other_child) || bucket.len() + 1 > MAX_MIXED {
            Found::New(Action::Rebuild)
        } else {
            Found::New(Action::Rewrite)
        }
    }

    /// The layer rebuilt from its keys, with its prefix and feature chosen as if `extra` (a key
    /// relative to the layer's start) were among them; `extra` itself is not inserted.
    fn rebuilt_for(&self, extra: Option<&[u8]>) -> Layer {
        let mut entries = Vec::with_capacity(self.len);
        self.collect(&mut Vec::new(), &mut entries);
        let mut layer = build::layer_owned_with(&entries, extra);
        layer.recheck_at = layer.recheck_at.max(self.recheck_at);
        layer
    }

    /// The recheck due when this layer gains `key` (module docs; bytes before `at` lead here).
    fn recheck(&self, key: &[u8], at: usize) -> Step {
        let next = (self.len + 1).saturating_mul(2);
        // A layer that dropped hints (`slots.rs`) is rebuilt with them.
        let dropped_hints = self.index.dropped_hints();
        let due = dropped_hints || {
            let shared = match (self.first_key(), self.last_key()) {
                (Some(a), Some(b)) => a.iter().zip(&b).take_while(|(x, y)| x == y).count(),
                _ => 0,
            };
            shared > self.prefix.len() || {
                // The planner only rechecks layers the key lands in (it holds their window).
                let s = self.locate(key, at).map_or(0, |spot| spot.s);
                // Every slice inside the feature's ranges since the build (which chose the
                // ranges as every slice's minimum and maximum byte), and the new one too: the
                // feature recomputed from the slices is the one the layer has. Saves reading
                // every slice (a bucket each) of a big layer at each doubling.
                let settled = self.radix.is_some() && !self.radix_unsettled && self.alex_key(s).1;
                !settled
                    && super::radix::Radix::for_slices(self.slices().chain(std::iter::once(s)))
                        != self.radix
            }
        };
        if due {
            let mut entries = Vec::with_capacity(self.len);
            self.collect(&mut Vec::new(), &mut entries);
            let extra = &key[at..];
            let choice = build::choice_with(&entries, Some(extra));
            if dropped_hints
                || choice.prefix > self.prefix.len()
                || choice.radix != self.radix
                || choice.window != self.window
            {
                let mut layer = build::layer_owned_chosen(&entries, choice);
                layer.recheck_at = next;
                return Step::Rebuild(Box::new(layer));
            }
        }
        Step::Recheck(next)
    }
}

impl Trie {
    /// Whether inserting `key` needs a grow or rebuild first ([`Trie::prepare_grow`]). Cheap
    /// unless a layer's doubling recheck is due.
    pub fn needs_grow(&self, key: &[u8]) -> bool {
        self.plan(key, false).is_some()
    }

    /// Plans and builds the work the insert of `key` needs first (module docs), or `None`.
    /// Takes `&self`: run it under a read lock while nothing else changes the trie, then
    /// [`Trie::install_grow`] the result, and repeat until `None`.
    ///
    /// ```
    /// use alexkv::trie::Trie;
    /// let mut t = Trie::new();
    /// for i in 0..10_000u32 {
    ///     let key = format!("user{i}");
    ///     while let Some(plan) = t.prepare_grow(key.as_bytes()) {
    ///         drop(t.install_grow(plan)); // a lock holder drops it after unlocking
    ///     }
    ///     t.insert(key.as_bytes(), u64::from(i)).unwrap();
    /// }
    /// assert_eq!(t.get(b"user77"), Some(77));
    /// ```
    pub fn prepare_grow(&self, key: &[u8]) -> Option<TrieGrow> {
        self.plan(key, true)
    }

    /// Finds the first work the insert of `key` needs; builds it when `build` is set (else the
    /// step is a placeholder, for [`Trie::needs_grow`]).
    fn plan(&self, key: &[u8], build: bool) -> Option<TrieGrow> {
        if key.len() > super::MAX_KEY_LEN {
            return None;
        }
        let mut path: Vec<(&Layer, usize)> = Vec::new();
        let mut layer = &self.root;
        let mut at = 0;
        let action = loop {
            match layer.find_insert(key, at) {
                Found::Present => return None,
                Found::Child(child, next) => {
                    path.push((layer, at));
                    at = next;
                    layer = child;
                }
                Found::New(action) => break action,
            }
        };
        path.push((layer, at));
        let hops = path.len() - 1;
        let make = |hops: usize, layer: &Layer, step: Step| TrieGrow {
            stamp: (self.instance, self.version),
            key: key.to_vec(),
            hops,
            layer: layer as *const Layer,
            step,
        };
        match action {
            Action::Rebuild => {
                let step = if build {
                    Step::Rebuild(Box::new(layer.rebuilt_for(Some(&key[at..]))))
                } else {
                    Step::Recheck(0)
                };
                return Some(make(hops, layer, step));
            }
            Action::NewSlot(v) => {
                if layer.index.needs_grow(v) {
                    if !build {
                        return Some(make(hops, layer, Step::Recheck(0)));
                    }
                    if let Some(plan) = layer.index.prepare_grow(v) {
                        return Some(make(hops, layer, Step::Alex(Box::new(plan))));
                    }
                }
            }
            Action::Rewrite => {}
        }
        // The key is new: every layer on its path gains one.
        for (h, &(l, at)) in path.iter().enumerate() {
            if l.len + 1 >= l.recheck_at {
                let step = if build {
                    l.recheck(key, at)
                } else {
                    Step::Recheck(0)
                };
                return Some(make(h, l, step));
            }
        }
        None
    }

    /// Installs a plan from [`Trie::prepare_grow`] (module docs). Returns what it replaced.
    pub fn install_grow(&mut self, plan: TrieGrow) -> TrieRetired {
        let mut retired = TrieRetired {
            _alex: None,
            _layer: None,
        };
        if plan.stamp != (self.instance, self.version) {
            return retired;
        }
        self.version += 1;
        let key = &plan.key;
        let mut layer = &mut self.root;
        let mut at = 0;
        for _ in 0..plan.hops {
            let Some(Spot { d, s, v, exact, .. }) = layer.locate(key, at) else {
                return retired;
            };
            let Some(w) = layer.index.get(v).map(Slot::word).filter(|&w| is_bucket(w)) else {
                return retired;
            };
            // SAFETY: `w` is a live bucket of `layer`, held mutably through `self`.
            let view = unsafe { BucketRef::from_word(w) };
            // SAFETY: as above; the view is not used after this.
            match unsafe { view.child_for_mut(s, exact) } {
                Some(child) => layer = child,
                None => return retired,
            }
            at = d + 8;
        }
        if !std::ptr::eq(layer as *const Layer, plan.layer) {
            return retired;
        }
        match plan.step {
            Step::Alex(p) => retired._alex = Some(layer.index.install_grow(*p)),
            Step::Rebuild(new) => retired._layer = Some(std::mem::replace(layer, *new)),
            Step::Recheck(next) => layer.recheck_at = next,
        }
        retired
    }
}
