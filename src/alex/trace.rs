//! What one lookup touches, for the index benchmark: how many model nodes it passes, how far the
//! data node's model predicted from the key's slot, and how many distinct cache lines it loads.
//! Measurement only: [`Alex::trace_get`] replays [`Alex::get`]'s steps (routing, the
//! prediction, the prefetches, the key filter, the search around the prediction) and records the
//! addresses they read; the real lookup is untouched. A test checks that both find the same slot.
//! The final binary search is replayed as a plain halving: `partition_point` probes as many
//! slots, possibly one off, so a line count can differ by one where a probe crosses a line.

use super::Alex;
use std::collections::BTreeSet;

/// Cache line size assumed by the count.
const LINE: usize = 64;

/// One lookup's path through the index ([`Alex::trace_get`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookupTrace {
    /// Whether the key was found.
    pub found: bool,
    /// Model nodes passed on the way to the data node.
    pub model_levels: u32,
    /// Slots between the data node model's prediction and the key's slot (0 when absent).
    pub distance: usize,
    /// Distinct 64-byte lines read: the node fields a lookup reads (models, array pointers),
    /// routing slots, key slots probed, the payload (and the prefetched lines and the key
    /// filter's word).
    pub lines: u32,
}

/// The lines touched so far.
struct Lines(BTreeSet<usize>);

impl Lines {
    fn touch<T>(&mut self, p: *const T, bytes: usize) {
        let start = p as usize;
        for line in (start / LINE)..=((start + bytes.max(1) - 1) / LINE) {
            self.0.insert(line);
        }
    }
}

impl<P: Copy> Alex<P> {
    /// Replays a lookup of `key` and reports what it touched (module docs). For benchmarks: it
    /// allocates, so it is far slower than [`Alex::get`].
    #[doc(hidden)]
    pub fn trace_get(&self, key: u64) -> LookupTrace {
        let mut lines = Lines(BTreeSet::new());
        let mut levels = 0u32;
        let mut id = self.root;
        while !id.is_data() {
            let node = &self.models[id.index()];
            // The fields routing reads: the model, the offset, the children's pointer and length.
            lines.touch(&node.model as *const _, std::mem::size_of_val(&node.model));
            lines.touch(&node.offset as *const _, 8);
            lines.touch(
                &node.children as *const _,
                std::mem::size_of_val(&node.children),
            );
            let (slot, child) = node.route(key);
            lines.touch(node.children.as_ptr().wrapping_add(slot), 4);
            levels += 1;
            id = child;
        }
        let leaf = &self.leaves[id.index()];
        let (slot, distance) = leaf.trace_find(key, &mut |p, bytes| lines.touch(p, bytes));
        LookupTrace {
            found: slot.is_some(),
            model_levels: levels,
            distance,
            lines: lines.0.len() as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_finds_what_get_finds_and_counts_its_lines() {
        let keys: Vec<u64> = (0..200_000u64).map(|i| i * i % 1_000_003 * 7 + i).collect();
        let mut keys = keys;
        keys.sort_unstable();
        keys.dedup();
        let payloads: Vec<u64> = keys.iter().map(|k| k ^ 1).collect();
        let mut index = Alex::bulk_load(&keys, &payloads).unwrap();
        for i in 0..20_000u64 {
            index.insert((i * 48_271 % 9_000_001) | 1, i);
        }
        for probe in (0..50_000u64).map(|i| i.wrapping_mul(2_654_435_761) % 8_000_000) {
            let t = index.trace_get(probe);
            assert_eq!(t.found, index.get(probe).is_some(), "key {probe}");
            assert!(t.lines >= 2, "{t:?}");
            if !t.found {
                assert_eq!(t.distance, 0);
            }
        }
        let t = index.trace_get(keys[1000]);
        assert!(t.found && t.lines >= 3, "{t:?}");
    }
}
