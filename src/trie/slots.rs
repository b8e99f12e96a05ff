//! A layer's ALEX in one of two payload widths: **words** (8 bytes a slot) or **hinted** slots
//! (a word and a hint, 16 bytes, `slot.rs`).
//!
//! A hint only exists for a bucket of one long key, which a layer of 8-byte keys never has: every
//! slot of a database of `u64` keys is a direct word. Paying 8 bytes of hint per slot there made
//! the index a third larger than its words need (10M `u64` keys: 38.6 bytes per key at fill
//! 0.62, 25.8 without hints; issue 23's quarter-budget memory), and its payload array twice as
//! large for the CPU caches. So a layer holds words until it needs hints:
//!
//! * built from entries ([`SlotIndex::bulk_load`]: bulk loads, rebuilds, new child layers), it is
//!   hinted when any of its slots has a hint, else words;
//! * a words layer that is given a hint by an insert (a bucket of one long key appears) keeps
//!   the word and **drops the hint**: the hint only saves a lookup the bucket's cache miss
//!   (`slot.rs`), the bucket stays the truth, so nothing is lost but that saving. The layer
//!   remembers it ([`SlotIndex::dropped_hints`]), and its next doubling recheck (`grow.rs`)
//!   rebuilds it, hinted. An empty layer is rechecked at 2, 4, 8, ... keys, so a database of
//!   byte keys has its hints back after its first few keys.
//!
//! A hinted layer never goes back to words (a rebuild may).

use super::slot::{Slot, NO_HINT};
use crate::alex::{Alex, BulkLoadError, PreparedGrow, Range, Retired};
use std::ops::RangeBounds;

/// A layer's ALEX (module docs).
pub(crate) enum SlotIndex {
    /// Direct words and bucket words, no hints.
    Words {
        alex: Alex<u64>,
        /// An insert gave this layer a hint it could not keep.
        dropped_hints: bool,
    },
    /// Words with their hints.
    Hinted(Alex<Slot>),
}

/// A grow planned for one of the two widths ([`SlotIndex::prepare_grow`]).
pub(crate) enum SlotGrow {
    Words(PreparedGrow<u64>),
    Hinted(PreparedGrow<Slot>),
}

/// What an install replaced ([`SlotIndex::install_grow`]): drop it outside the index lock.
/// Both empty when the plan was for the other width and installed nothing.
pub(crate) struct SlotRetired {
    _words: Option<Retired<u64>>,
    _hinted: Option<Retired<Slot>>,
}

/// The slots of a range, in key order.
pub(crate) enum SlotIter<'a> {
    Words(Range<'a, u64>),
    Hinted(Range<'a, Slot>),
}

impl Iterator for SlotIter<'_> {
    type Item = (u64, Slot);

    #[inline]
    fn next(&mut self) -> Option<(u64, Slot)> {
        match self {
            SlotIter::Words(r) => r.next().map(|(v, w)| (v, Slot::plain(w))),
            SlotIter::Hinted(r) => r.next(),
        }
    }
}

/// Runs `$body` with `$alex` bound to the index of either width.
macro_rules! either {
    ($index:expr, $alex:ident => $body:expr) => {
        match $index {
            SlotIndex::Words { alex: $alex, .. } => $body,
            SlotIndex::Hinted($alex) => $body,
        }
    };
}

impl SlotIndex {
    /// An empty index of words.
    pub(crate) fn new() -> SlotIndex {
        SlotIndex::Words {
            alex: Alex::new(),
            dropped_hints: false,
        }
    }

    /// An index over strictly increasing `keys` and their slots: hinted when any slot has a
    /// hint, else words (the slots are freed before the ALEX is built).
    pub(crate) fn bulk_load(keys: &[u64], slots: Vec<Slot>) -> Result<SlotIndex, BulkLoadError> {
        if slots.iter().any(|s| s.hint != NO_HINT) {
            return Ok(SlotIndex::Hinted(Alex::bulk_load(keys, &slots)?));
        }
        let words: Vec<u64> = slots.iter().map(|s| s.word).collect();
        drop(slots);
        Ok(SlotIndex::Words {
            alex: Alex::bulk_load(keys, &words)?,
            dropped_hints: false,
        })
    }

    /// Whether slots carry hints.
    pub(crate) fn is_hinted(&self) -> bool {
        matches!(self, SlotIndex::Hinted(_))
    }

    /// Whether a words layer was given a hint it dropped (module docs).
    pub(crate) fn dropped_hints(&self) -> bool {
        matches!(
            self,
            SlotIndex::Words {
                dropped_hints: true,
                ..
            }
        )
    }

    /// The slot of `v` (in a words layer, its word without a hint).
    #[inline(always)]
    pub(crate) fn get(&self, v: u64) -> Option<Slot> {
        match self {
            SlotIndex::Words { alex, .. } => alex.get(v).map(Slot::plain),
            SlotIndex::Hinted(alex) => alex.get(v),
        }
    }

    /// [`Alex::prefetch`].
    #[inline]
    pub(crate) fn prefetch(&self, v: u64) {
        either!(self, alex => alex.prefetch(v))
    }

    /// Sets the word of `v`, present, keeping its hint; returns the old word.
    pub(crate) fn set_word(&mut self, v: u64, word: u64) -> Option<u64> {
        match self {
            SlotIndex::Words { alex, .. } => alex.get_mut(v).map(|w| std::mem::replace(w, word)),
            SlotIndex::Hinted(alex) => alex
                .get_mut(v)
                .map(|s| std::mem::replace(&mut s.word, word)),
        }
    }

    /// Sets the hint of `v`, present (a words layer drops it and remembers).
    pub(crate) fn set_hint(&mut self, v: u64, hint: u64) {
        match self {
            SlotIndex::Words { dropped_hints, .. } => *dropped_hints |= hint != NO_HINT,
            SlotIndex::Hinted(alex) => {
                if let Some(s) = alex.get_mut(v) {
                    s.hint = hint;
                }
            }
        }
    }

    /// Inserts or replaces the slot of `v`; returns the old one.
    pub(crate) fn insert(&mut self, v: u64, slot: Slot) -> Option<Slot> {
        match self {
            SlotIndex::Words {
                alex,
                dropped_hints,
            } => {
                *dropped_hints |= slot.hint != NO_HINT;
                alex.insert(v, slot.word).map(Slot::plain)
            }
            SlotIndex::Hinted(alex) => alex.insert(v, slot),
        }
    }

    /// [`Alex::set_if`] with slots: replaces a present slot whose old value is
    /// `replaceable`, or inserts an absent one if `insert_new` and no grow is needed.
    #[inline]
    pub(crate) fn set_if(
        &mut self,
        v: u64,
        slot: Slot,
        replaceable: impl FnOnce(Slot) -> bool,
        insert_new: bool,
    ) -> Option<Option<Slot>> {
        match self {
            SlotIndex::Words {
                alex,
                dropped_hints,
            } => {
                let done =
                    alex.set_if(v, slot.word, |w| replaceable(Slot::plain(w)), insert_new)?;
                *dropped_hints |= slot.hint != NO_HINT;
                Some(done.map(Slot::plain))
            }
            SlotIndex::Hinted(alex) => alex.set_if(v, slot, replaceable, insert_new),
        }
    }

    /// Removes `v`, returning its slot.
    pub(crate) fn remove(&mut self, v: u64) -> Option<Slot> {
        match self {
            SlotIndex::Words { alex, .. } => alex.remove(v).map(Slot::plain),
            SlotIndex::Hinted(alex) => alex.remove(v),
        }
    }

    /// Every slot, in key order.
    pub(crate) fn iter(&self) -> SlotIter<'_> {
        self.range(..)
    }

    /// The slots of keys in `bounds`, in key order.
    pub(crate) fn range<R: RangeBounds<u64>>(&self, bounds: R) -> SlotIter<'_> {
        match self {
            SlotIndex::Words { alex, .. } => SlotIter::Words(alex.range(bounds)),
            SlotIndex::Hinted(alex) => SlotIter::Hinted(alex.range(bounds)),
        }
    }

    /// The largest key and its slot.
    pub(crate) fn last(&self) -> Option<(u64, Slot)> {
        match self {
            SlotIndex::Words { alex, .. } => alex.last().map(|(v, w)| (v, Slot::plain(w))),
            SlotIndex::Hinted(alex) => alex.last(),
        }
    }

    /// [`Alex::needs_grow`].
    pub(crate) fn needs_grow(&self, v: u64) -> bool {
        either!(self, alex => alex.needs_grow(v))
    }

    /// [`Alex::prepare_grow`].
    pub(crate) fn prepare_grow(&self, v: u64) -> Option<SlotGrow> {
        match self {
            SlotIndex::Words { alex, .. } => alex.prepare_grow(v).map(SlotGrow::Words),
            SlotIndex::Hinted(alex) => alex.prepare_grow(v).map(SlotGrow::Hinted),
        }
    }

    /// [`Alex::install_grow`]; a plan for the other width installs nothing (the insert then
    /// grows in place, as after any stale plan).
    pub(crate) fn install_grow(&mut self, plan: SlotGrow) -> SlotRetired {
        let mut retired = SlotRetired {
            _words: None,
            _hinted: None,
        };
        match (self, plan) {
            (SlotIndex::Words { alex, .. }, SlotGrow::Words(p)) => {
                retired._words = Some(alex.install_grow(p));
            }
            (SlotIndex::Hinted(alex), SlotGrow::Hinted(p)) => {
                retired._hinted = Some(alex.install_grow(p));
            }
            _ => {}
        }
        retired
    }

    /// [`Alex::set_key_filter`].
    pub(crate) fn set_key_filter(&mut self, on: bool) {
        either!(self, alex => alex.set_key_filter(on))
    }

    /// [`Alex::array_ranges`].
    pub(crate) fn array_ranges(&self) -> Vec<(usize, usize)> {
        either!(self, alex => alex.array_ranges())
    }

    /// [`Alex::model_bytes`] + [`Alex::data_bytes`].
    pub(crate) fn bytes(&self) -> usize {
        either!(self, alex => alex.model_bytes() + alex.data_bytes())
    }

    /// [`Alex::mapped_bytes`].
    pub(crate) fn mapped_bytes(&self) -> usize {
        either!(self, alex => alex.mapped_bytes())
    }

    /// [`Alex::stats`].
    pub(crate) fn stats(&self) -> crate::alex::IndexStats {
        either!(self, alex => alex.stats())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_until_a_hint_is_given() {
        let keys: Vec<u64> = (0..1000).map(|i| i * 3).collect();
        let plain: Vec<Slot> = keys.iter().map(|&k| Slot::plain(k + 1)).collect();
        let mut ix = SlotIndex::bulk_load(&keys, plain.clone()).unwrap();
        assert!(!ix.is_hinted() && !ix.dropped_hints());
        assert_eq!(ix.get(30), Some(Slot::plain(31)));
        assert_eq!(ix.set_word(30, 7), Some(31));
        ix.set_hint(30, NO_HINT);
        assert!(!ix.dropped_hints());
        let hinted = Slot { word: 5, hint: 9 };
        assert_eq!(ix.insert(31, hinted), None);
        assert_eq!(
            ix.get(31),
            Some(Slot::plain(5)),
            "a words layer drops the hint"
        );
        assert!(ix.dropped_hints());
        let mut with_hint = plain.clone();
        with_hint[10].hint = 77;
        let mut ix = SlotIndex::bulk_load(&keys, with_hint).unwrap();
        assert!(ix.is_hinted());
        assert_eq!(ix.get(30).unwrap().hint, 77);
        ix.set_hint(30, 78);
        assert_eq!(ix.get(30), Some(Slot { word: 31, hint: 78 }));
        assert_eq!(ix.set_word(30, 1), Some(31));
        assert_eq!(ix.get(30), Some(Slot { word: 1, hint: 78 }));
    }

    #[test]
    fn both_widths_answer_alike() {
        let keys: Vec<u64> = (0..5000).map(|i| i * 7 + 1).collect();
        let slots: Vec<Slot> = keys.iter().map(|&k| Slot::plain(k ^ 0xAB)).collect();
        let mut words = SlotIndex::bulk_load(&keys, slots.clone()).unwrap();
        let mut hinted = SlotIndex::Hinted(Alex::bulk_load(&keys, &slots).unwrap());
        for ix in [&mut words, &mut hinted] {
            for k in (0..3000u64).map(|i| i * 11) {
                ix.insert(k, Slot::plain(k));
            }
            for k in (0..1000u64).map(|i| i * 13) {
                ix.remove(k);
            }
            assert_eq!(
                ix.set_if(8, Slot::plain(55), |_| true, false),
                Some(Some(Slot::plain(8 ^ 0xAB))),
                "a present key replaced"
            );
        }
        assert!(words.iter().eq(hinted.iter()));
        assert!(words.range(100..9000).eq(hinted.range(100..9000)));
        assert_eq!(words.last(), hinted.last());
        assert_eq!(words.stats().keys, hinted.stats().keys);
        for k in 0..40_000u64 {
            assert_eq!(words.get(k), hinted.get(k), "key {k}");
        }
    }
}
