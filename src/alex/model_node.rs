//! Model (inner) nodes: route a key to a child with a linear model over a power-of-two array of
//! child pointers.
//!
//! A child may own several adjacent slots: always an aligned block of `2^dup` slots, where `dup` is
//! the child's duplication factor. That is what lets a data node split sideways (halve its block)
//! without touching the rest of the array.

use super::model::LinearModel;

/// Largest number of child slots in a model node (16 MiB of 4-byte child ids).
pub(crate) const MAX_FANOUT_LOG2: u32 = 22;
pub(crate) const MAX_FANOUT: usize = 1 << MAX_FANOUT_LOG2;

/// A reference to a node in the tree's arenas: the top bit tells a data node from a model node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NodeId(u32);

const DATA_BIT: u32 = 1 << 31;

impl NodeId {
    pub(crate) fn data(index: u32) -> Self {
        debug_assert!(index < DATA_BIT);
        NodeId(index | DATA_BIT)
    }
    pub(crate) fn model(index: u32) -> Self {
        debug_assert!(index < DATA_BIT);
        NodeId(index)
    }
    #[inline(always)]
    pub(crate) fn is_data(self) -> bool {
        self.0 & DATA_BIT != 0
    }
    #[inline(always)]
    pub(crate) fn index(self) -> usize {
        (self.0 & !DATA_BIT) as usize
    }
}

/// An inner node of the index.
///
/// A key's slot is `floor(model(key)) + offset`, clamped to the array. The integer `offset` lets
/// the node grow slots at its left end without touching the float model: adding to the model's
/// intercept would change the rounding of existing predictions and move keys between children.
/// Doubling the fanout scales the model by exactly 2 (exact in floating point) and doubles `offset`,
/// so every key lands in one of the two slots its old slot became.
///
/// Aligned to a cache line: a lookup reads the model, `offset` and `children`'s pointer and
/// length, all in the node's one line.
#[repr(C, align(64))]
pub(crate) struct ModelNode {
    /// Predicts a (fractional) slot for a key.
    pub(crate) model: LinearModel,
    /// Slots added at the left end since the model was trained.
    pub(crate) offset: i64,
    /// `children.len()` is a power of two; each child owns an aligned block of `2^dup` slots.
    pub(crate) children: Vec<NodeId>,
    /// log2 of the number of parent slots pointing at this node.
    pub(crate) dup: u8,
}

impl ModelNode {
    /// A model node with `offset` 0.
    pub(crate) fn new(model: LinearModel, children: Vec<NodeId>, dup: u8) -> Self {
        ModelNode {
            model,
            offset: 0,
            children,
            dup,
        }
    }

    /// The slot `key` maps to before clamping: negative or past the end for keys outside the
    /// node's key domain (a NaN prediction, which finite models never make, counts as below it).
    #[inline(always)]
    pub(crate) fn slot_unclamped(&self, key: u64) -> i64 {
        let p = self.model.predict(key);
        if p.is_nan() {
            return i64::MIN;
        }
        let t = p as i64; // saturating
        let floor = t.saturating_sub(((t as f64) > p) as i64);
        floor.saturating_add(self.offset)
    }

    /// The slot of the child responsible for `key`: `slot_unclamped(key)` clamped to the array,
    /// computed without its saturating steps (a lookup runs this at every model level).
    #[inline(always)]
    pub(crate) fn slot(&self, key: u64) -> usize {
        // `floor(p) + offset` lies in `0..=last` exactly for `p` in `[-offset, last - offset + 1)`,
        // and clamping `p` to the integers `[-offset, last - offset]` first gives the clamped
        // slot, keeps the truncation in range and the sum without overflow (offset and fanout
        // are far below 2^52, so both bounds are exact). NaN takes the lower bound, as it does
        // in `slot_unclamped`. Written as compares so they compile to `maxsd` / `minsd`.
        let last = self.children.len() as i64 - 1;
        let lo = -self.offset as f64;
        let hi = (last - self.offset) as f64;
        let p = self.model.predict(key);
        let p = if p > lo { p } else { lo };
        let p = if p < hi { p } else { hi };
        // SAFETY: `lo <= p <= hi`, both within +-2^52.
        let t = unsafe { p.to_int_unchecked::<i64>() };
        let floor = t - ((t as f64) > p) as i64;
        (floor + self.offset) as usize
    }

    /// The child responsible for `key`, with its slot.
    #[inline(always)]
    pub(crate) fn route(&self, key: u64) -> (usize, NodeId) {
        let slot = self.slot(key);
        (slot, self.children[slot])
    }

    /// The aligned block of slots owned by the child at `slot` whose duplication factor is `dup`.
    pub(crate) fn block(slot: usize, dup: u8) -> std::ops::Range<usize> {
        let size = 1usize << dup;
        let start = slot & !(size - 1);
        start..start + size
    }

    /// Bytes held by the node.
    pub(crate) fn bytes(&self) -> usize {
        self.children.capacity() * std::mem::size_of::<NodeId>() + std::mem::size_of::<Self>()
    }
}

/// Splits `start..end` into maximal aligned power-of-two blocks, in order, as `(start, log2 size)`.
pub(crate) fn aligned_blocks(mut start: usize, end: usize) -> Vec<(usize, u8)> {
    let mut out = Vec::new();
    while start < end {
        let align = if start == 0 {
            usize::BITS - 1
        } else {
            start.trailing_zeros()
        };
        let fit = usize::BITS - 1 - (end - start).leading_zeros();
        let log = align.min(fit);
        out.push((start, log as u8));
        start += 1 << log;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_blocks_cover_the_range_exactly() {
        assert_eq!(aligned_blocks(8, 16), vec![(8, 3)]);
        assert_eq!(aligned_blocks(0, 12), vec![(0, 3), (8, 2)]);
        assert_eq!(aligned_blocks(4, 16), vec![(4, 2), (8, 3)]);
        for s in 0..40 {
            for e in s..40 {
                let blocks = aligned_blocks(s, e);
                let mut at = s;
                for (b, log) in blocks {
                    assert_eq!(b, at);
                    assert_eq!(b % (1 << log), 0);
                    at += 1 << log;
                }
                assert_eq!(at, e);
            }
        }
    }

    #[test]
    fn the_clamped_slot_is_the_unclamped_slot_clamped() {
        // splitmix64: enough randomness for a test, without a dependency.
        struct Rng(u64);
        impl Rng {
            fn next_u64(&mut self) -> u64 {
                self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^ (z >> 31)
            }
            fn below(&mut self, n: u64) -> u64 {
                self.next_u64() % n
            }
            fn next_f64(&mut self) -> f64 {
                (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
            }
        }
        let mut rng = Rng(7);
        let specials = [0u64, 1, 2, u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1];
        for round in 0..2000 {
            let pick = |r: &mut Rng| match r.below(4) {
                0 => specials[r.below(specials.len() as u64) as usize],
                1 => r.below(1 << 20),
                _ => r.next_u64(),
            };
            let slope = match round % 6 {
                0 => 0.0,
                1 => f64::NAN,
                2 => 1e-12 * rng.next_f64(),
                3 => 1e6 * rng.next_f64(),
                4 => -rng.next_f64(),
                _ => 1e300,
            };
            let fanout = 1usize << rng.below(23);
            let node = ModelNode {
                model: LinearModel {
                    anchor: pick(&mut rng),
                    slope,
                    intercept: (rng.next_f64() - 0.5) * 4.0 * fanout as f64,
                },
                offset: rng.below(fanout as u64 + 1) as i64,
                children: vec![NodeId::data(0); fanout],
                dup: 0,
            };
            for _ in 0..50 {
                let key = pick(&mut rng);
                let want = node.slot_unclamped(key).clamp(0, fanout as i64 - 1) as usize;
                assert_eq!(
                    node.slot(key),
                    want,
                    "{:?} offset {} key {key}",
                    node.model,
                    node.offset
                );
            }
        }
    }

    #[test]
    fn node_ids_keep_their_kind() {
        assert!(NodeId::data(5).is_data());
        assert_eq!(NodeId::data(5).index(), 5);
        assert!(!NodeId::model(5).is_data());
        assert_eq!(ModelNode::block(13, 2), 12..16);
    }
}
