//! Ordered cursors over the index: ranges in either direction.
//!
//! Data nodes are linked in key order, so a range scan finds its first node once and then walks
//! slots and links. The front and back cursors share the remaining key interval `[lo, hi]`, so a
//! double-ended scan never yields a key twice.

use std::iter::FusedIterator;
use std::ops::{Bound, RangeBounds};

use super::data_node::NIL;
use super::Alex;

/// An iterator over the entries of an [`Alex`] whose keys fall in a range, in key order
/// (or reverse key order with `next_back`/`rev`).
pub struct Range<'a, P: Copy> {
    index: &'a Alex<P>,
    /// Remaining keys are in `lo..=hi`; `None` once exhausted.
    remaining: Option<(u64, u64)>,
    /// Next slot to look at going forward: (leaf, slot). Set on first use.
    front: Option<(u32, usize)>,
    /// One past the next slot to look at going backward: (leaf, slot + 1). Set on first use.
    back: Option<(u32, usize)>,
}

impl<P: Copy> Alex<P> {
    /// The entries whose keys fall in `bounds`, in key order.
    ///
    /// ```
    /// use alexkv::alex::Alex;
    /// let keys: Vec<u64> = (0..100).collect();
    /// let index = Alex::bulk_load(&keys, &keys).unwrap();
    /// assert_eq!(index.range(10..13).map(|(k, _)| k).collect::<Vec<_>>(), vec![10, 11, 12]);
    /// assert_eq!(index.range(..=2).rev().map(|(k, _)| k).collect::<Vec<_>>(), vec![2, 1, 0]);
    /// ```
    pub fn range<R: RangeBounds<u64>>(&self, bounds: R) -> Range<'_, P> {
        let lo = match bounds.start_bound() {
            Bound::Included(&k) => Some(k),
            Bound::Excluded(&k) => k.checked_add(1),
            Bound::Unbounded => Some(0),
        };
        let hi = match bounds.end_bound() {
            Bound::Included(&k) => Some(k),
            Bound::Excluded(&k) => k.checked_sub(1),
            Bound::Unbounded => Some(u64::MAX),
        };
        let remaining = match (lo, hi) {
            (Some(lo), Some(hi)) if lo <= hi && !self.is_empty() => Some((lo, hi)),
            _ => None,
        };
        Range {
            index: self,
            remaining,
            front: None,
            back: None,
        }
    }
}

impl<'a, P: Copy> Iterator for Range<'a, P> {
    type Item = (u64, P);

    fn next(&mut self) -> Option<(u64, P)> {
        let (lo, hi) = self.remaining?;
        let index = self.index;
        let (mut leaf, mut slot) = match self.front {
            Some(at) => at,
            None => {
                let leaf = index.leaf_for(lo);
                (leaf, index.leaves[leaf as usize].lower_bound(lo))
            }
        };
        loop {
            let node = &index.leaves[leaf as usize];
            match node.next_occupied(slot) {
                Some(s) => {
                    let key = node.key_at(s);
                    if key > hi {
                        self.remaining = None;
                        return None;
                    }
                    self.front = Some((leaf, s + 1));
                    self.remaining = key.checked_add(1).filter(|&l| l <= hi).map(|l| (l, hi));
                    return Some((key, node.payload_at(s)));
                }
                None if node.next == NIL => {
                    self.remaining = None;
                    return None;
                }
                None => {
                    leaf = node.next;
                    slot = 0;
                }
            }
        }
    }
}

impl<'a, P: Copy> DoubleEndedIterator for Range<'a, P> {
    fn next_back(&mut self) -> Option<(u64, P)> {
        let (lo, hi) = self.remaining?;
        let index = self.index;
        let (mut leaf, mut end) = match self.back {
            Some(at) => at,
            None => {
                let leaf = index.leaf_for(hi);
                (leaf, index.leaves[leaf as usize].upper_bound_slot(hi))
            }
        };
        loop {
            let node = &index.leaves[leaf as usize];
            let found = if end == 0 {
                None
            } else {
                node.prev_occupied(end - 1)
            };
            match found {
                Some(s) => {
                    let key = node.key_at(s);
                    if key < lo {
                        self.remaining = None;
                        return None;
                    }
                    self.back = Some((leaf, s));
                    self.remaining = key.checked_sub(1).filter(|&h| h >= lo).map(|h| (lo, h));
                    return Some((key, node.payload_at(s)));
                }
                None if node.prev == NIL => {
                    self.remaining = None;
                    return None;
                }
                None => {
                    leaf = node.prev;
                    end = index.leaves[leaf as usize].capacity();
                }
            }
        }
    }
}

impl<'a, P: Copy> FusedIterator for Range<'a, P> {}
