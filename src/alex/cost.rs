//! The cost model behind every structural decision: bulk-load fanout, expand or split, and the
//! detection of a data node whose model has gone bad.
//!
//! Costs are in abstract units where one level of traversal costs [`TRAVERSAL_COST`] (about one
//! cache miss). A data node's intra-node cost follows the ALEX paper:
//! `SEARCH_WEIGHT * log2(expected exponential-search iterations) + SHIFT_WEIGHT * expected shifts per
//! insert`. Size is charged per byte of node overhead per key ([`BYTES_PER_KEY_WEIGHT`]) so the model
//! does not buy a tiny search gain with a forest of tiny nodes; see `internal/DECISIONS.md`,
//! "The learned index (`src/alex/`)".
//!
//! Formulas only: what a placement is expected to cost is `placement`'s to compute.

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
}
