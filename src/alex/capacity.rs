//! How many slots a data node gets: the densities a node is built, grown and shrunk at, its
//! smallest and largest size, room for its keys at a density, moved to whole huge pages of keys
//! when they are near.
//!
//! Layering inside `alex`: `capacity` (sizes) and `cost` (formulas) import nothing of the
//! index; `placement` (where a node's keys go, and what that is expected to cost) imports
//! them; `data_node` imports all three. No file imports one that imports it back.

use super::array::HUGE_PAGE;

/// Fill of a data node right after bulk load or a split.
pub(crate) const INIT_DENSITY: f64 = 0.7;
/// Fill at which a data node must grow (expand or split) before taking another key.
pub(crate) const MAX_DENSITY: f64 = 0.8;
/// Fill a data node expands back to.
pub(crate) const EXPAND_DENSITY: f64 = 0.6;
/// Below this fill, deletes shrink the node (hysteresis well under `EXPAND_DENSITY`).
pub(crate) const SHRINK_DENSITY: f64 = 0.25;
/// Smallest capacity of a data node.
pub(crate) const MIN_CAPACITY: usize = 16;
/// Largest data node, in bytes of keys and payloads (16 MiB, the reference default).
pub(crate) const MAX_NODE_BYTES: usize = 16 << 20;

/// Slots of a node for `n` keys at `density`: at least two gaps and [`MIN_CAPACITY`]. A built
/// node then moves it to whole huge pages when they are near (`DataNode::capacity_for_keys`);
/// the cost model's estimates do not (they differ by at most an eighth of the slots).
pub(crate) fn capacity_for(n: usize, density: f64) -> usize {
    ((n as f64 / density).ceil() as usize)
        .max(n + 2)
        .max(MIN_CAPACITY)
}

/// 8-byte slots in one 2 MiB huge page.
const HUGE_PAGE_SLOTS: usize = HUGE_PAGE / 8;
/// Fill a capacity moved down to whole huge pages may reach at most: some room before the node
/// must grow ([`MAX_DENSITY`]).
const MAX_MOVED_DENSITY: f64 = 0.75;

/// `c` slots for `n` keys, moved to the nearest whole number of huge pages of 8-byte slots when
/// that is within an eighth of `c`, leaves the fill at most [`MAX_MOVED_DENSITY`] and stays at
/// most `max` slots; else `c`.
///
/// A node array is backed by 2 MiB pages only in whole pages (`array`): an array of 1.8 MiB
/// gets none, one of 2.2 MiB has 0.2 MiB on 4 KiB pages, and a lookup that lands there pays a
/// TLB miss (a two-level page walk in a virtual machine). At 10M random keys loaded in batches,
/// 63 data nodes of ~1.8 MiB arrays left 55% of the index on 4 KiB pages. Moving the capacity
/// turns the difference into gaps (fewer shifts on insert) or takes it from gaps, never into
/// resident memory nobody uses.
pub(crate) fn whole_huge_pages(n: usize, c: usize, max: usize) -> usize {
    if c < HUGE_PAGE_SLOTS / 2 {
        return c;
    }
    let down = c / HUGE_PAGE_SLOTS * HUGE_PAGE_SLOTS;
    let up = down + HUGE_PAGE_SLOTS;
    let near = |to: usize| to.abs_diff(c) * 8 <= c;
    let roomy = |to: usize| to > 0 && n as f64 <= to as f64 * MAX_MOVED_DENSITY;
    if c == down {
        c
    } else if c - down <= up - c && near(down) && roomy(down) {
        down
    } else if near(up) && up <= max {
        up
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_near_whole_huge_pages_move_to_them() {
        let hp = HUGE_PAGE_SLOTS;
        // Just under one huge page: up (1.8 MiB of keys became 2 MiB).
        assert_eq!(whole_huge_pages(100, hp - hp / 10, usize::MAX), hp);
        // Just over two: down, when the fill stays under MAX_MOVED_DENSITY.
        assert_eq!(whole_huge_pages(hp, 2 * hp + hp / 10, usize::MAX), 2 * hp);
        // ... but not when the node would be nearly full: up instead is too far, so unchanged.
        let crowded = (2.0 * hp as f64 * 0.78) as usize;
        assert_eq!(
            whole_huge_pages(crowded, 2 * hp + hp / 10, usize::MAX),
            2 * hp + hp / 10
        );
        // Halfway between two: too far from both.
        assert_eq!(
            whole_huge_pages(hp, 2 * hp + hp / 2, usize::MAX),
            2 * hp + hp / 2
        );
        // Never past the largest node: a 6-byte payload's maximum is not whole pages.
        let max = (16 << 20) / 14;
        assert_eq!(whole_huge_pages(max * 7 / 10, max, max), max);
        // Small nodes are left alone.
        assert_eq!(whole_huge_pages(10, 1000, usize::MAX), 1000);
        // A capacity never drops below what its keys need at MAX_MOVED_DENSITY.
        for c in (hp / 2..6 * hp).step_by(977) {
            for n in [c / 2, (c as f64 * 0.7) as usize, (c as f64 * 0.8) as usize] {
                let moved = whole_huge_pages(n, c, usize::MAX);
                assert!(moved.abs_diff(c) * 8 <= c, "{n} keys, {c} slots -> {moved}");
                assert!(moved == c || moved % hp == 0);
                assert!(moved >= c || n as f64 <= moved as f64 * MAX_MOVED_DENSITY);
            }
        }
    }
}
