//! The check at open of the index snapshot's Hot locations against the tier as opened: which
//! still name exactly their record ([`HotTier::exact_check`]).
//!
//! The check goes through the locations in the snapshot's order (key order), reading each
//! record where the location says it starts, and tells a record start from the middle of a
//! value by a bitmap of the record starts each segment's walk found. So it touches each record
//! once, in random order with the next ones prefetched, and needs no list of the locations
//! sorted by offset; and the locations can be split between threads.

use super::segment::Segment;
use super::{HotTier, SegmentIdentity};
use crate::location::Location;
use std::sync::OnceLock;

/// How many locations ahead of the one checked the check prefetches.
const AHEAD: usize = 16;

/// The tier's segments as the snapshot may trust them, with where their records start.
pub(crate) struct ExactCheck<'t> {
    /// Per slot: the segment and its record starts ([`Segment::record_starts`]) when it exists
    /// with an identity the snapshot saved, else `None` (every location into it is demoted).
    segments: Vec<Option<(&'t Segment, Vec<u64>)>>,
}

impl HotTier {
    /// Prepares the check of saved Hot locations: `saved` are the segment identities they were
    /// taken against (from the snapshot). Walks the records of every segment whose identity is
    /// among them. Call it before the tier's first append (at open): it reads the records as
    /// opened.
    pub(crate) fn exact_check(&self, saved: &[SegmentIdentity]) -> ExactCheck<'_> {
        let segments = self
            .slots
            .iter()
            .enumerate()
            .map(|(slot, seg)| {
                let seg = OnceLock::get(seg)?;
                let identity = SegmentIdentity {
                    index: slot as u32,
                    epoch: seg.epoch(),
                };
                saved
                    .contains(&identity)
                    .then(|| (seg, seg.record_starts()))
            })
            .collect();
        ExactCheck { segments }
    }

    /// Drops what the segments' verification at open kept for [`HotTier::exact_check`]: the
    /// engine calls it once the index is built, whether or not a check ran.
    pub(crate) fn forget_open_walks(&self) {
        for seg in self.slots.iter().filter_map(OnceLock::get) {
            seg.forget_opened_starts();
        }
    }

    /// Demotes to Cold (rewrites as `Location::COLD`) every location [`ExactCheck::stale`]
    /// names, and returns how many: `keys[i]` is the key of `locations[i]`.
    #[cfg(test)]
    pub(crate) fn keep_exact(
        &self,
        saved: &[SegmentIdentity],
        keys: &[&[u8]],
        locations: &mut [u64],
    ) -> u64 {
        let stale = self
            .exact_check(saved)
            .stale(keys.iter().copied(), locations);
        for &i in &stale {
            locations[i] = Location::COLD.to_raw();
        }
        stale.len() as u64
    }
}

impl ExactCheck<'_> {
    /// The positions, increasing, of the Hot locations of `locations` that do not name exactly
    /// a record of the tier. The keys come in the locations' order, one per location. A
    /// location is kept only when its segment exists now with the identity saved for it, and a
    /// record of that key (the same bytes) and value length starts at its offset (a start the
    /// segment's walk from its header found, so not the middle of a value), in the segment's
    /// current generation, at or below the end of the records verified at open. Cold locations
    /// are never stale.
    ///
    /// It only reads, so it may run beside a bulk load of the same locations.
    pub(crate) fn stale<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k [u8]>,
        locations: &[u64],
    ) -> Vec<usize> {
        let mut stale = Vec::new();
        let mut keys = keys.into_iter();
        for (i, &raw) in locations.iter().enumerate() {
            if let Some(&ahead) = locations.get(i + AHEAD) {
                self.prefetch(ahead);
            }
            let key = keys.next().expect("a key for every location");
            let Some(hot) = Location::from_raw(raw).as_hot() else {
                continue;
            };
            let exact = self
                .segments
                .get(usize::from(hot.segment))
                .and_then(Option::as_ref)
                .is_some_and(|(seg, starts)| seg.holds_exactly(starts, hot, key));
            if !exact {
                stale.push(i);
            }
        }
        stale
    }

    /// Starts loading what checking `raw` will read.
    #[inline]
    fn prefetch(&self, raw: u64) {
        if let Some(hot) = Location::from_raw(raw).as_hot() {
            if let Some(Some((seg, starts))) = self.segments.get(usize::from(hot.segment)) {
                seg.prefetch_check(starts, hot);
            }
        }
    }
}
