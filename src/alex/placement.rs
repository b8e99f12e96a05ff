//! Where a data node's keys go: its model is trained on the keys spread over the node's slots
//! (or packed to one end, [`Placement`]), and each key lands at its predicted slot or the next
//! free one. Building a node and estimating one for the cost model run the same code, so the
//! cost model estimates exactly what a built node does.

use super::capacity::{capacity_for, MAX_DENSITY};
use super::cost::{self, search_iterations};
use super::model::LinearModel;

/// Where a rebuilt node leaves its free room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Gaps spread by the model (the default).
    Spread,
    /// Keys packed at `MAX_DENSITY` at the front, room at the end for ascending inserts.
    RoomRight,
    /// Keys packed at `MAX_DENSITY` at the back, room at the front for descending inserts.
    RoomLeft,
}

/// The model for `n` sorted keys (the first is `first`) in a node of `capacity` slots.
pub(crate) fn train<K>(
    keys: K,
    first: u64,
    n: usize,
    capacity: usize,
    placement: Placement,
) -> LinearModel
where
    K: Iterator<Item = u64> + Clone,
{
    if n == 0 {
        return LinearModel::constant(0.0);
    }
    if n == 1 {
        return LinearModel::constant(match placement {
            Placement::Spread => capacity as f64 / 2.0,
            Placement::RoomRight => 0.0,
            Placement::RoomLeft => capacity as f64 - 1.0,
        });
    }
    let span = match placement {
        Placement::Spread => capacity as f64,
        Placement::RoomRight | Placement::RoomLeft => (n as f64 / MAX_DENSITY).min(capacity as f64),
    };
    let scale = span / n as f64;
    let mut model = LinearModel::fit_points(
        keys.enumerate().map(|(i, k)| (k, i as f64 * scale)),
        Some(first),
    );
    if placement == Placement::RoomLeft {
        model.shift(capacity as f64 - span);
    }
    model
}

/// Model-based placement of `n` items in strictly increasing key order into `capacity` slots,
/// as a node is built: an item lands at its predicted slot unless an earlier one took it, then at
/// the next free slot, never so far right that the items still to come would not fit. Calls
/// `put(item, written, pos)` for each: `pos` is its slot, `written` (`<= pos`) the first slot not
/// yet written. Returns how many items sit at their prediction, and the expected intra-node
/// cost of the result ([`cost::intra_node_cost`]):
/// search iterations from each item's distance to its prediction; shifts from the runs of
/// occupied slots an insert would have to push (a run of length `L` is hit with probability
/// `L / n` and costs `L / 4` shifts on average).
///
/// Building a node and estimating one ([`estimate_data_node_cost`]) both call this, so
/// the cost model estimates exactly what the node does.
pub(crate) fn place_by_model<T>(
    items: impl Iterator<Item = T>,
    key: impl Fn(&T) -> u64,
    n: usize,
    model: &LinearModel,
    capacity: usize,
    mut put: impl FnMut(T, usize, usize),
) -> Placed {
    let mut written = 0usize;
    let mut iterations = 0u64;
    let mut at_prediction = 0usize;
    let (mut run, mut run_square_sum) = (0usize, 0usize);
    for (i, item) in items.enumerate() {
        let predicted = model.predict_slot(key(&item), capacity);
        // Leave room for the items still to come, and keep order.
        let pos = predicted.max(written).min(capacity - (n - i));
        iterations += search_iterations(pos.abs_diff(predicted)) as u64;
        at_prediction += usize::from(pos == predicted);
        if pos == written && i > 0 {
            run += 1;
        } else {
            run_square_sum += run * run;
            run = 1;
        }
        put(item, written, pos);
        written = pos + 1;
    }
    run_square_sum += run * run;
    if n == 0 {
        return Placed {
            expected_cost: 0.0,
            at_prediction: 0,
        };
    }
    let avg_iter = iterations as f64 / n as f64;
    let avg_shift = run_square_sum as f64 / (4.0 * n as f64);
    Placed {
        expected_cost: cost::intra_node_cost(avg_iter, avg_shift),
        at_prediction,
    }
}

/// What [`place_by_model`] made.
pub(crate) struct Placed {
    /// The expected intra-node cost ([`cost::intra_node_cost`]).
    pub(crate) expected_cost: f64,
    /// Items placed exactly at their predicted slot.
    pub(crate) at_prediction: usize,
}

/// Expected intra-node cost of a data node built from sorted `keys` at `density` with its gaps
/// spread: the node's own capacity rule, model training and placement
/// ([`place_by_model`]) run on the keys without writing a node.
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
    let capacity = capacity_for(m, density);
    let model = train(sampled.clone(), keys[0], m, capacity, Placement::Spread);
    place_by_model(sampled, |&k| k, m, &model, capacity, |_, _, _| {}).expected_cost
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_the_cost_a_built_node_expects() {
        use crate::alex::capacity::INIT_DENSITY;
        use crate::alex::data_node::DataNode;
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
