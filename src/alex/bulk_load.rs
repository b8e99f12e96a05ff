//! Bulk load: building a whole subtree from sorted keys, with a fanout chosen by the cost model.
//!
//! For a node's keys, candidate fanouts `2^k` are evaluated bottom-up from the smallest that keeps
//! every child under the maximum data node size: a model node of fanout `2^k` costs one traversal
//! level, plus the expected intra-node cost of each child data node (weighted by its share of the
//! keys, estimated by simulating its placement), plus the size of the model node and the children's
//! headers. `k = 0` means "make a data node". The search stops once two larger fanouts in a row
//! fail to improve. Adjacent slots whose children would hold few keys are merged into one child
//! owning an aligned block of slots (the duplicate pointers ALEX allows), so sparse regions of the
//! key space do not become thousands of empty nodes.
//!
//! The same machinery builds the children of a node that splits downward.

use super::capacity::INIT_DENSITY;
use super::cost::{self, TRAVERSAL_COST};
use super::data_node::DataNode;
use super::model::LinearModel;
use super::model_node::{ModelNode, NodeId, MAX_FANOUT_LOG2};
use super::placement::{self, Placement};
use super::Alex;

/// Keys read when estimating costs for one candidate fanout; larger inputs are sampled.
const COST_SAMPLE: usize = 1 << 20;
/// Deeper than this, a subtree stops adding levels (a guard against pathological key sets).
const MAX_BUILD_DEPTH: usize = 16;
/// Header bytes of a data node beyond its arrays, with the allocator's per-allocation overhead.
const ALLOCATION_OVERHEAD: usize = 3 * 16;

/// Why a bulk load was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BulkLoadError {
    /// The keys are not strictly increasing.
    #[error("bulk load keys must be strictly increasing: key {key} at position {index} follows {previous}")]
    NotSorted {
        /// Position of the offending key.
        index: usize,
        /// The key before it.
        previous: u64,
        /// The offending key.
        key: u64,
    },
    /// `keys` and `payloads` differ in length.
    #[error("bulk load got {keys} keys but {payloads} payloads")]
    LengthMismatch {
        /// Number of keys.
        keys: usize,
        /// Number of payloads.
        payloads: usize,
    },
}

impl<P: Copy> Alex<P> {
    /// Builds an index from strictly increasing `keys` and their `payloads`, much faster than
    /// inserting them one by one.
    ///
    /// ```
    /// use alexkv::alex::Alex;
    /// let keys: Vec<u64> = (0..1000).map(|i| i * 7).collect();
    /// let index = Alex::bulk_load(&keys, &keys).unwrap();
    /// assert_eq!(index.get(70), Some(70));
    /// assert!(Alex::bulk_load(&[2, 1], &[0u64, 0]).is_err());
    /// ```
    pub fn bulk_load(keys: &[u64], payloads: &[P]) -> Result<Self, BulkLoadError> {
        Self::bulk_load_with_key_filter(keys, payloads, false)
    }

    /// [`Alex::bulk_load`], with key filters in its data nodes when `key_filter` is set (see
    /// [`Alex::set_key_filter`]).
    pub fn bulk_load_with_key_filter(
        keys: &[u64],
        payloads: &[P],
        key_filter: bool,
    ) -> Result<Self, BulkLoadError> {
        if keys.len() != payloads.len() {
            return Err(BulkLoadError::LengthMismatch {
                keys: keys.len(),
                payloads: payloads.len(),
            });
        }
        if let Some(i) = keys.windows(2).position(|w| w[0] >= w[1]) {
            return Err(BulkLoadError::NotSorted {
                index: i + 1,
                previous: keys[i],
                key: keys[i + 1],
            });
        }
        let mut index = Alex::new();
        index.key_filters = key_filter;
        index.free_leaf(index.head);
        let mut chain = Vec::new();
        index.root = index.build_subtree(keys, payloads, 0, 0, &mut chain);
        index.link_chain(super::NIL, &chain, super::NIL);
        index.len = keys.len();
        Ok(index)
    }

    /// Builds the subtree for `keys`, owning `2^dup` slots of its parent. New data nodes are
    /// appended to `chain` in key order; the caller links them.
    pub(crate) fn build_subtree(
        &mut self,
        keys: &[u64],
        payloads: &[P],
        dup: u8,
        depth: usize,
        chain: &mut Vec<u32>,
    ) -> NodeId {
        let k = if depth >= MAX_BUILD_DEPTH && keys.len() <= DataNode::<P>::max_capacity() / 2 {
            0
        } else {
            choose_fanout_log2::<P>(keys)
        };
        if k == 0 {
            let leaf = self.alloc_leaf(DataNode::build(
                keys,
                payloads,
                INIT_DENSITY,
                Placement::Spread,
                dup,
                self.key_filters,
            ));
            chain.push(leaf);
            return NodeId::data(leaf);
        }
        let fanout = 1usize << k;
        let model = LinearModel::fit_ranks(keys, fanout as f64 / keys.len() as f64);
        let mut node = ModelNode::new(model, Vec::new(), dup);
        node.children = self.build_children(&node, fanout, keys, payloads, depth, chain);
        NodeId::model(self.alloc_model(node))
    }

    /// Builds the `fanout` children of model node `node` (whose `children` are not used) over `keys`.
    pub(crate) fn build_children(
        &mut self,
        node: &ModelNode,
        fanout: usize,
        keys: &[u64],
        payloads: &[P],
        depth: usize,
        chain: &mut Vec<u32>,
    ) -> Vec<NodeId> {
        let bounds = slot_boundaries(node, fanout, keys);
        let merge_limit = (keys.len() / fanout).max(1);
        let mut children = vec![NodeId::data(0); fanout];
        let mut stack = vec![(0usize, fanout.trailing_zeros() as u8)];
        // Depth-first, left block first, so leaves join `chain` in key order.
        while let Some((start, log)) = stack.pop() {
            let end = start + (1usize << log);
            let (lo, hi) = (bounds[start], bounds[end]);
            if log > 0 && hi - lo > merge_limit {
                let mid = start + (1usize << (log - 1));
                stack.push((mid, log - 1));
                stack.push((start, log - 1));
                continue;
            }
            let child = if hi - lo <= DataNode::<P>::max_keys() {
                let leaf = self.alloc_leaf(DataNode::build(
                    &keys[lo..hi],
                    &payloads[lo..hi],
                    INIT_DENSITY,
                    Placement::Spread,
                    log,
                    self.key_filters,
                ));
                chain.push(leaf);
                NodeId::data(leaf)
            } else {
                self.build_subtree(&keys[lo..hi], &payloads[lo..hi], log, depth + 1, chain)
            };
            children[start..end].fill(child);
        }
        children
    }
}

/// `bounds[s]` = index of the first key routed to slot `s` or later, for a node of `fanout` slots;
/// `bounds[fanout] = keys.len()`. Partitions use exactly the routing function, so lookups agree.
pub(crate) fn slot_boundaries(node: &ModelNode, fanout: usize, keys: &[u64]) -> Vec<usize> {
    let mut bounds = vec![keys.len(); fanout + 1];
    let mut next_slot = 0usize;
    for (i, &k) in keys.iter().enumerate() {
        let s = node.slot_unclamped(k).clamp(0, fanout as i64 - 1) as usize;
        while next_slot <= s {
            bounds[next_slot] = i;
            next_slot += 1;
        }
    }
    bounds
}

/// The fanout (as log2; 0 = a data node) that the cost model prefers for `keys`.
pub(crate) fn choose_fanout_log2<P: Copy>(keys: &[u64]) -> u32 {
    let n = keys.len();
    let max_keys = DataNode::<P>::max_keys();
    if n <= 64 {
        return 0;
    }
    let header = std::mem::size_of::<DataNode<P>>() + ALLOCATION_OVERHEAD;
    let k_lo = if n > max_keys {
        (n as f64 / max_keys as f64).log2().ceil() as u32
    } else {
        0
    };
    let k_hi = MAX_FANOUT_LOG2.min(usize::BITS - n.leading_zeros());
    let mut best = (f64::INFINITY, k_lo.max(1).min(k_hi));
    if k_lo == 0 {
        best = (
            placement::estimate_data_node_cost(keys, INIT_DENSITY, COST_SAMPLE)
                + cost::size_cost(header, n),
            0,
        );
    }
    let stride = n.div_ceil(COST_SAMPLE).max(1);
    let rank_model = LinearModel::fit_points(
        (0..n).step_by(stride).map(|i| (keys[i], i as f64)),
        Some(keys[0]),
    );
    let mut worse = 0;
    for k in k_lo.max(1)..=k_hi {
        let fanout = 1usize << k;
        let mut model = rank_model;
        model.scale(fanout as f64 / n as f64);
        let (intra, children) = level_cost(&model, fanout, keys, stride);
        let size = fanout * std::mem::size_of::<NodeId>() + children * header;
        let total = TRAVERSAL_COST + intra + cost::size_cost(size, n);
        if total < best.0 {
            best = (total, k);
            worse = 0;
        } else {
            worse += 1;
            if worse >= 2 {
                break;
            }
        }
    }
    best.1
}

/// Key-weighted average intra-node cost of the children a model of `fanout` slots would make,
/// and how many non-empty children there would be. Reads every `stride`-th key.
fn level_cost(model: &LinearModel, fanout: usize, keys: &[u64], stride: usize) -> (f64, usize) {
    let n = keys.len();
    let (mut weighted, mut children) = (0.0f64, 0usize);
    let mut start = 0usize;
    let mut start_slot = model.predict_slot(keys[0], fanout);
    let mut i = 0usize;
    loop {
        let next = i + stride;
        let next_slot = if next < n {
            model.predict_slot(keys[next], fanout)
        } else {
            usize::MAX
        };
        if next_slot != start_slot {
            // Sampled keys start..=i share a slot; they stand for the keys up to the next sample.
            let covered = next.min(n) - start;
            let sample = ((i - start) / stride + 1).max(1);
            let group = &keys[start..=i];
            let c = placement::estimate_data_node_cost(group, INIT_DENSITY, sample);
            weighted += c * covered as f64;
            children += 1;
            start = next;
            start_slot = next_slot;
        }
        if next >= n {
            break;
        }
        i = next;
    }
    (weighted / n as f64, children)
}
