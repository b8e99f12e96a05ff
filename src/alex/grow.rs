//! Growing a full data node: widen the parent's key domain, expand, split sideways or split down.
//!
//! The choice, made when an insert finds its data node at `MAX_DENSITY`:
//! 1. The node is at the edge of its parent and holds enough keys beyond the parent's key domain
//!    (appends past the largest key, say): widen the parent. Its fanout doubles (or more) with the
//!    same slope, so the existing children keep their slots; the new slots get new data nodes, which
//!    take over the out-of-domain keys.
//! 2. Otherwise expand (rebuild bigger at `EXPAND_DENSITY`, retraining the model) unless one of:
//!    the node would exceed the maximum size; its measured cost shows a catastrophic shift count or
//!    a model gone bad (measured cost > `BAD_MODEL_FACTOR` x expected, and above one level's cost);
//!    or, for a large node, the cost model prefers two halves over one expanded node.
//! 3. A split goes sideways when the parent has duplicate slots for the node (or can double its
//!    fanout to make some); the keys divide along the parent's own slot boundary. Otherwise, or when
//!    that boundary would leave one side empty, the node splits down: it becomes a model node trained
//!    on its own keys, with children built by the bulk loader.

use super::bulk_load::{choose_fanout_log2, slot_boundaries};
use super::cost::{self, BAD_MODEL_FACTOR, CATASTROPHIC_SHIFTS, TRAVERSAL_COST};
use super::data_node::{DataNode, Placement, EXPAND_DENSITY, INIT_DENSITY, NIL};
use super::model::LinearModel;
use super::model_node::{aligned_blocks, ModelNode, NodeId, MAX_FANOUT};
use super::Alex;

/// Nodes with fewer keys skip the expand-versus-split cost comparison (expanding is cheap).
const COST_CHECK_MIN_KEYS: usize = 4096;
/// An expansion keeps (rescales) the model while the measured cost is within this factor of the
/// expected cost.
const RESCALE_TOLERANCE: f64 = 1.2;
/// Keys sampled by that comparison.
const COST_SAMPLE: usize = 1 << 14;
/// Out-of-domain keys an edge node must hold before its parent widens (the reference uses 5).
const MIN_OUT_OF_DOMAIN: usize = 5;
/// ... and the share of the node's keys they must be, so a stray key does not double a big parent.
const MIN_OUT_OF_DOMAIN_SHARE: usize = 16;
/// Largest fanout a split-down picks.
const MAX_SPLIT_DOWN_FANOUT_LOG2: u32 = 12;

impl<P: Copy> Alex<P> {
    /// The model nodes on the way to `key`'s data node, with the slot taken in each.
    fn path_to(&self, key: u64) -> Vec<(u32, usize)> {
        let mut path = Vec::new();
        let mut id = self.root;
        while !id.is_data() {
            let (slot, child) = self.models[id.index()].route(key);
            path.push((id.index() as u32, slot));
            id = child;
        }
        path
    }

    /// Makes room in full data node `leaf` (on `key`'s path) for one more key.
    pub(super) fn grow(&mut self, leaf: u32, key: u64) {
        let parent = self.path_to(key).last().copied();
        if let Some((m, slot)) = parent {
            if self.try_widen(m, slot, leaf) {
                return;
            }
        }
        if !self.should_split(leaf, parent.is_some()) {
            let placement = self.leaves[leaf as usize].placement_hint();
            self.rebuild_leaf_with(leaf, EXPAND_DENSITY, placement);
            return;
        }
        let Some((m, slot)) = parent else {
            self.split_down(leaf, None);
            return;
        };
        let dup = self.leaves[leaf as usize].dup;
        if dup == 0 && self.models[m as usize].children.len() < MAX_FANOUT {
            self.double_model(m);
        }
        let slot = if self.leaves[leaf as usize].dup > dup {
            slot * 2
        } else {
            slot
        };
        if self.leaves[leaf as usize].dup == 0 || !self.split_sideways(m, slot, leaf) {
            self.split_down(leaf, Some((m, slot)));
        }
    }

    /// Rebuilds `leaf` in place at `density`, spreading its gaps.
    pub(super) fn rebuild_leaf(&mut self, leaf: u32, density: f64) {
        self.rebuild_leaf_with(leaf, density, Placement::Spread);
    }

    fn rebuild_leaf_with(&mut self, leaf: u32, density: f64, placement: Placement) {
        let old = &self.leaves[leaf as usize];
        // A model whose measured cost still matches what was expected of it is stretched to the
        // new size instead of retrained (one pass over the keys instead of three).
        let rescale = old.measured_cost().is_some_and(|(measured, _)| {
            measured <= RESCALE_TOLERANCE * old.expected_cost.max(1.0)
        });
        let mut node = old.rebuilt(density, placement, rescale);
        node.prev = old.prev;
        node.next = old.next;
        self.leaves[leaf as usize] = node;
    }

    fn drain(&self, leaf: u32) -> (Vec<u64>, Vec<P>) {
        let node = &self.leaves[leaf as usize];
        let mut keys = Vec::with_capacity(node.len());
        let mut payloads = Vec::with_capacity(node.len());
        node.drain_into(&mut keys, &mut payloads);
        (keys, payloads)
    }

    /// Whether a full node should split rather than expand (see the module docs).
    fn should_split(&self, leaf: u32, has_parent: bool) -> bool {
        let node = &self.leaves[leaf as usize];
        let n = node.len();
        if (n as f64 / EXPAND_DENSITY) as usize > DataNode::<P>::max_capacity() {
            return true;
        }
        if let Some((measured, shifts)) = node.measured_cost() {
            if shifts > CATASTROPHIC_SHIFTS {
                return true;
            }
            if measured > BAD_MODEL_FACTOR * node.expected_cost && measured > TRAVERSAL_COST {
                return true;
            }
        }
        if n < COST_CHECK_MIN_KEYS {
            return false;
        }
        let keys = node.sampled_keys(COST_SAMPLE);
        let expand = cost::estimate_data_node_cost(&keys, EXPAND_DENSITY, COST_SAMPLE);
        let half = keys.len() / 2;
        let halves = (cost::estimate_data_node_cost(&keys[..half], INIT_DENSITY, COST_SAMPLE / 2)
            + cost::estimate_data_node_cost(&keys[half..], INIT_DENSITY, COST_SAMPLE / 2))
            / 2.0;
        let extra_level = if has_parent { 0.0 } else { TRAVERSAL_COST };
        let header = std::mem::size_of::<DataNode<P>>();
        halves + extra_level + cost::size_cost(header, n) < expand
    }

    /// Doubles model node `m`'s fanout: every child owns twice the slots, routing is unchanged.
    fn double_model(&mut self, m: u32) {
        let old = std::mem::take(&mut self.models[m as usize].children);
        let mut children = Vec::with_capacity(old.len() * 2);
        for &c in &old {
            children.push(c);
            children.push(c);
        }
        let mut i = 0;
        while i < old.len() {
            let dup = self.dup_of(old[i]);
            self.set_dup(old[i], dup + 1);
            i += 1 << dup;
        }
        let node = &mut self.models[m as usize];
        node.children = children;
        node.model.scale(2.0);
        node.offset *= 2;
    }

    /// Splits `leaf` (owning `2^dup >= 2` slots of `m` around `slot`) into two nodes along `m`'s
    /// slot boundary. Returns false, changing nothing, when one side would be empty and the other
    /// too large to rebuild.
    fn split_sideways(&mut self, m: u32, slot: usize, leaf: u32) -> bool {
        let node = &self.leaves[leaf as usize];
        let dup = node.dup;
        let placement = node.placement_hint();
        let block = ModelNode::block(slot, dup);
        let mid = block.start + (1usize << (dup - 1));
        let (keys, payloads) = self.drain(leaf);
        let parent = &self.models[m as usize];
        let cut = keys.partition_point(|&k| parent.slot(k) < mid);
        // All keys on one side: the split still halves the node's block and rebuilds it below
        // its density bound, which is progress, unless the node is at its maximum size (then
        // only a split down can divide it).
        let one_sided = cut == 0 || cut == keys.len();
        if one_sided
            && (keys.len() as f64 / INIT_DENSITY) as usize > DataNode::<P>::max_capacity() / 2
        {
            return false;
        }
        let left_place = if placement == Placement::RoomLeft {
            placement
        } else {
            Placement::Spread
        };
        let right_place = if placement == Placement::RoomRight {
            placement
        } else {
            Placement::Spread
        };
        let (prev, next) = (node.prev, node.next);
        self.leaves[leaf as usize] = DataNode::build(
            &keys[..cut],
            &payloads[..cut],
            INIT_DENSITY,
            left_place,
            dup - 1,
        );
        let right = self.alloc_leaf(DataNode::build(
            &keys[cut..],
            &payloads[cut..],
            INIT_DENSITY,
            right_place,
            dup - 1,
        ));
        self.models[m as usize].children[mid..block.end].fill(NodeId::data(right));
        self.link_chain(prev, &[leaf, right], next);
        true
    }

    /// Replaces `leaf` with a model node over its keys (in `parent` at `slot`, or as the root).
    fn split_down(&mut self, leaf: u32, parent: Option<(u32, usize)>) {
        let (keys, payloads) = self.drain(leaf);
        let node = &self.leaves[leaf as usize];
        let (dup, prev, next, placement) = (node.dup, node.prev, node.next, node.placement_hint());
        let k = choose_fanout_log2::<P>(&keys).clamp(1, MAX_SPLIT_DOWN_FANOUT_LOG2);
        let fanout = 1usize << k;
        let mut model = LinearModel::fit_ranks(&keys, fanout as f64 / keys.len().max(1) as f64);
        // A node that grows at one end keeps half of its new children free for that growth.
        match placement {
            Placement::RoomRight => model.scale(0.5),
            Placement::RoomLeft => {
                model.scale(0.5);
                model.shift(fanout as f64 / 2.0);
            }
            Placement::Spread => {}
        }
        self.free_leaf(leaf);
        let mut chain = Vec::new();
        let mut node = ModelNode::new(model, Vec::new(), dup);
        node.children = self.build_children(&node, fanout, &keys, &payloads, 0, &mut chain);
        let id = NodeId::model(self.alloc_model(node));
        self.link_chain(prev, &chain, next);
        match parent {
            None => self.root = id,
            Some((m, slot)) => {
                let block = ModelNode::block(slot, dup);
                self.models[m as usize].children[block].fill(id);
            }
        }
    }

    /// Widens model node `m` when its edge child `leaf` (at `slot`) holds enough keys beyond `m`'s
    /// key domain. Returns whether it did.
    fn try_widen(&mut self, m: u32, slot: usize, leaf: u32) -> bool {
        let node = &self.leaves[leaf as usize];
        let parent = &self.models[m as usize];
        let fanout = parent.children.len();
        let block = ModelNode::block(slot, node.dup);
        let Some((lo_key, hi_key)) = node.key_range() else {
            return false;
        };
        let right = block.end == fanout && parent.slot_unclamped(hi_key) >= fanout as i64;
        let left = block.start == 0 && parent.slot_unclamped(lo_key) < 0;
        if !(right || left) || fanout >= MAX_FANOUT {
            return false;
        }
        let (keys, payloads) = self.drain(leaf);
        let parent = &self.models[m as usize];
        let outside = if right {
            keys.len() - keys.partition_point(|&k| parent.slot_unclamped(k) < fanout as i64)
        } else {
            keys.partition_point(|&k| parent.slot_unclamped(k) < 0)
        };
        if outside < MIN_OUT_OF_DOMAIN || outside * MIN_OUT_OF_DOMAIN_SHARE < keys.len() {
            return false;
        }
        let reach = if right {
            parent.slot_unclamped(hi_key).saturating_add(1)
        } else {
            (fanout as i64).saturating_sub(parent.slot_unclamped(lo_key))
        };
        let mut wide = fanout * 2;
        while (wide as i64) < reach && wide < MAX_FANOUT {
            wide *= 2;
        }
        let added = wide - fanout;
        let (dup, prev, next) = (node.dup, node.prev, node.next);
        let mut children = std::mem::take(&mut self.models[m as usize].children);
        if !right {
            self.models[m as usize].offset += added as i64;
        }
        let new_blocks = if right {
            children.resize(wide, NodeId::data(0));
            aligned_blocks(fanout, wide)
        } else {
            let mut widened = vec![NodeId::data(0); added];
            widened.extend_from_slice(&children);
            children = widened;
            aligned_blocks(0, added)
        };
        // Re-partition the edge node's keys over its own block and the new blocks.
        let bounds = slot_boundaries(&self.models[m as usize], wide, &keys);
        let own = if right {
            block.start..fanout
        } else {
            block.start + added..block.end + added
        };
        let (own_lo, own_hi) = (bounds[own.start], bounds[own.end]);
        let mut fresh = Vec::new();
        for &(start, log) in &new_blocks {
            let (lo, hi) = (bounds[start], bounds[start + (1usize << log)]);
            let placement = if right {
                Placement::RoomRight
            } else {
                Placement::RoomLeft
            };
            let id = self.alloc_leaf(DataNode::build(
                &keys[lo..hi],
                &payloads[lo..hi],
                INIT_DENSITY,
                placement,
                log,
            ));
            children[start..start + (1usize << log)].fill(NodeId::data(id));
            fresh.push(id);
        }
        self.leaves[leaf as usize] = DataNode::build(
            &keys[own_lo..own_hi],
            &payloads[own_lo..own_hi],
            INIT_DENSITY,
            Placement::Spread,
            dup,
        );
        self.models[m as usize].children = children;
        if right {
            let mut chain = vec![leaf];
            chain.extend(fresh);
            self.link_chain(prev, &chain, next);
        } else {
            fresh.push(leaf);
            self.link_chain(prev, &fresh, next);
        }
        debug_assert!(prev == NIL || self.leaves[prev as usize].next != NIL);
        true
    }
}
