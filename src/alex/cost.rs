//! The cost model behind every structural decision: bulk-load fanout, expand or split, and the
//! detection of a data node whose model has gone bad.
//!
//! Costs are in abstract units where one level of traversal costs [`TRAVERSAL_COST`] (about one
//! cache miss). A data node's intra-node cost follows the ALEX paper:
//! `SEARCH_WEIGHT * log2(expected exponential-search iterations) + SHIFT_WEIGHT * expected shifts per
//! insert`. Size is charged per byte of node overhead per key ([`BYTES_PER_KEY_WEIGHT`]) so the model
//! does not buy a tiny search gain with a forest of tiny nodes; see `internal/DECISIONS.md`.

use super::data_node::{self, Placement};

/// Weight of `log2(search iterations)` in a data node's cost.
pub(crate) const SEARCH_WEIGHT: f64 = 20.0;
/// Weight of the expected shifts per insert.
pub(crate) const SHIFT_WEIGHT: f64 = 0.5;
/// Cost of one more level of model nodes on every lookup.
pub(crate) const TRAVERSAL_COST: f64 = 20.0;
/// Cost of one byte of structure overhead (model slots, node headers) per key.
pub(crate) const BYTES_PER_KEY_WEIGHT: f64 = 10.0;
/// A full node whose measured cost exceeds its expected cost by this factor is split, not expanded.
pub(crate) const BAD_MODEL_FACTOR: f64 = 1.5;
/// Average shifts per insert beyond which a node is split whatever the cost model says.
pub(crate) const CATASTROPHIC_SHIFTS: f64 = 100.0;
/// Inserts a node must have seen before its measured cost is trusted.
pub(crate) const MIN_INSERTS_FOR_STATS: u64 = 64;

/// Exponential-search iterations for a search that starts `distance` slots from its answer:
/// one probe, plus one doubling per bit of the distance.
#[inline(always)]
pub(crate) fn search_iterations(distance: usize) -> u32 {
    1 + (usize::BITS - distance.leading_zeros())
}

/// The intra-node cost for the given average search iterations and shifts per insert.
pub(crate) fn intra_node_cost(avg_iterations: f64, avg_shifts: f64) -> f64 {
    SEARCH_WEIGHT * avg_iterations.max(1.0).log2() + SHIFT_WEIGHT * avg_shifts
}

/// Expected intra-node cost of a data node built from sorted `keys` at `density` with its gaps
/// spread: the node's own capacity rule, model training and placement
/// ([`data_node::place_by_model`]) run on the keys without writing a node.
///
/// With more than `sample` keys an even sample is placed into a proportionally smaller node, which
/// keeps the density and the model's shape.
pub(crate) fn estimate_data_node_cost(keys: &[u64], density: f64, sample: usize) -> f64 {
    let n = keys.len();
    if n == 0 {
        return 0.0;
    }
    let stride = n.div_ceil(sample.max(2)).max(1);
    let m = n.div_ceil(stride);
    let sampled = keys.iter().copied().step_by(stride);
    let capacity = super::capacity::capacity_for(m, density);
    let model = data_node::train(sampled.clone(), keys[0], m, capacity, Placement::Spread);
    data_node::place_by_model(sampled, |&k| k, m, &model, capacity, |_, _, _| {})
}

/// Bytes of overhead per key for a structure of `overhead_bytes` holding `keys` keys.
pub(crate) fn size_cost(overhead_bytes: usize, keys: usize) -> f64 {
    BYTES_PER_KEY_WEIGHT * overhead_bytes as f64 / keys.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterations_grow_with_the_log_of_the_distance() {
        assert_eq!(search_iterations(0), 1);
        assert_eq!(search_iterations(1), 2);
        assert_eq!(search_iterations(2), 3);
        assert_eq!(search_iterations(3), 3);
        assert_eq!(search_iterations(1024), 12);
    }

    #[test]
    fn the_estimate_is_the_cost_a_built_node_expects() {
        use crate::alex::data_node::{DataNode, INIT_DENSITY};
        let mut x = 99u64;
        let mut noisy: Vec<u64> = (0..3000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x >> 20
            })
            .collect();
        noisy.sort_unstable();
        noisy.dedup();
        let linear: Vec<u64> = (0..2000).map(|i| i * 3).collect();
        for keys in [vec![], vec![5], vec![1, 2], linear, noisy] {
            let payloads = vec![0u64; keys.len()];
            let node = DataNode::build(&keys, &payloads, INIT_DENSITY, Placement::Spread, 0, false);
            let estimate = estimate_data_node_cost(&keys, INIT_DENSITY, usize::MAX);
            assert_eq!(estimate, node.expected_cost, "{} keys", keys.len());
        }
    }

    #[test]
    fn a_linear_node_costs_less_than_a_noisy_one() {
        let linear: Vec<u64> = (0..1000).map(|i| i * 10).collect();
        let mut x = 12345u64;
        let mut noisy: Vec<u64> = (0..1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            })
            .collect();
        noisy.sort_unstable();
        noisy.dedup();
        let a = estimate_data_node_cost(&linear, 0.7, 1 << 20);
        let b = estimate_data_node_cost(&noisy, 0.7, 1 << 20);
        assert!(a < b, "noisy {b} vs linear {a}");
        // Half the keys crammed into a sliver of the key space: the model puts them in one run.
        let mut skewed: Vec<u64> = (0..500).collect();
        skewed.extend((1..=500).map(|i| i * 1_000_000_000));
        let c = estimate_data_node_cost(&skewed, 0.7, 1 << 20);
        assert!(c > b + 10.0, "skewed {c} vs noisy {b}");
    }
}
