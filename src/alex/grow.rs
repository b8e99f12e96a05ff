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
//!
//! # Planning apart from installing
//!
//! A grow is done in two steps so that a concurrent engine need not stall its readers while the
//! new nodes are built (a node holds up to 16 MiB, a build takes milliseconds):
//! * [`Alex::prepare_grow`] (`&self`) decides what to do and **builds every new node and every
//!   new child array**, predicting the arena ids the install will hand out (the free lists and
//!   arena lengths are known, and nothing may change the index in between), so the prebuilt
//!   child arrays already point at the right ids;
//! * [`Alex::install_grow`] (`&mut self`) moves the prebuilt nodes into the arenas, swaps child
//!   arrays, fills the child slots of the grown node's own block and relinks the leaf list: work
//!   proportional to the number of new nodes, not to their keys. It returns the replaced nodes
//!   and arrays ([`Retired`]) so that the caller can free them after releasing its lock.
//!
//! A plan is stamped with the index's identity and mutation count; installing a plan made
//! against another state is refused and the grow is redone in place (correct, just not cheap).
//! `Alex::insert` runs both steps back to back, so both paths are one code path.

use super::bulk_load::{choose_fanout_log2, slot_boundaries};
use super::capacity::{EXPAND_DENSITY, INIT_DENSITY};
use super::cost::{self, BAD_MODEL_FACTOR, CATASTROPHIC_SHIFTS, TRAVERSAL_COST};
use super::data_node::DataNode;
use super::install::{IdPlan, PreparedGrow, Step};
use super::model::LinearModel;
use super::model_node::{aligned_blocks, ModelNode, NodeId, MAX_FANOUT};
use super::placement::{self, Placement};
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

    fn leaf_ids(&self, extra_free: Option<u32>) -> IdPlan<'_> {
        IdPlan {
            free: &self.free_leaves,
            extra_free,
            next_new: self.leaves.len() as u32,
        }
    }

    /// Whether inserting `key` needs a grow first: its data node is full (or shifting
    /// catastrophically) and `key` is absent. Cheap (one lookup).
    #[inline]
    pub fn needs_grow(&self, key: u64) -> bool {
        let leaf = &self.leaves[self.leaf_for(key) as usize];
        leaf.must_grow() && leaf.find(key).is_none()
    }

    /// Plans and builds the grow an insert of `key` needs, or `None` when it needs none. Takes
    /// `&self`: run it under a read lock, while nothing else may change the index, then
    /// [`Alex::install_grow`] the result and insert.
    ///
    /// ```
    /// use alexkv::alex::Alex;
    /// let mut index: Alex<u64> = Alex::new();
    /// for k in 0..10_000u64 {
    ///     while let Some(plan) = index.prepare_grow(k * 3) {
    ///         let retired = index.install_grow(plan);
    ///         drop(retired); // a lock-holding caller drops it after unlocking
    ///     }
    ///     assert!(!index.needs_grow(k * 3));
    ///     index.insert(k * 3, k);
    /// }
    /// assert_eq!(index.get(300), Some(100));
    /// ```
    pub fn prepare_grow(&self, key: u64) -> Option<PreparedGrow<P>> {
        if !self.needs_grow(key) {
            return None;
        }
        Some(self.plan_grow(self.leaf_for(key), key))
    }

    /// Decides how to grow `leaf` and builds the result (see the module docs).
    pub(super) fn plan_grow(&self, leaf: u32, key: u64) -> PreparedGrow<P> {
        let stamp = (self.instance, self.version);
        let plan = |doubled: Option<(u32, Vec<NodeId>)>, step: Step<P>| PreparedGrow {
            stamp,
            key,
            leaf,
            doubled,
            step,
        };
        let parent = self.path_to(key).last().copied();
        if let Some((m, slot)) = parent {
            if let Some(step) = self.plan_widen(m, slot, leaf) {
                return plan(None, step);
            }
        }
        let node = &self.leaves[leaf as usize];
        if !self.should_split(leaf, parent.is_some()) {
            let step = Step::Expand(self.rebuilt_leaf(leaf, EXPAND_DENSITY, node.placement_hint()));
            return plan(None, step);
        }
        let Some((m, slot)) = parent else {
            return plan(None, self.plan_split_down(leaf, None, node.dup, None));
        };
        let (mut doubled, dup, slot, router) =
            if node.dup == 0 && self.models[m as usize].children.len() < MAX_FANOUT {
                let old = &self.models[m as usize];
                let mut children = Vec::with_capacity(old.children.len() * 2);
                for &c in &old.children {
                    children.push(c);
                    children.push(c);
                }
                let mut model = old.model;
                model.scale(2.0);
                let router = ModelNode {
                    model,
                    offset: old.offset * 2,
                    children: Vec::new(),
                    dup: old.dup,
                };
                (Some(children), node.dup + 1, slot * 2, Some(router))
            } else {
                (None, node.dup, slot, None)
            };
        let router = router.as_ref().unwrap_or(&self.models[m as usize]);
        if dup > 0 {
            if let Some(step) = self.plan_sideways(router, slot, leaf, dup, doubled.as_mut(), m) {
                return plan(doubled.map(|c| (m, c)), step);
            }
        }
        let block = ModelNode::block(slot, dup);
        let step = self.plan_split_down(leaf, Some((m, block)), dup, doubled.as_mut());
        plan(doubled.map(|c| (m, c)), step)
    }

    /// Rebuilds `leaf` in place at `density`, spreading its gaps.
    pub(super) fn rebuild_leaf(&mut self, leaf: u32, density: f64) {
        let node = self.rebuilt_leaf(leaf, density, Placement::Spread);
        self.version += 1;
        self.leaves[leaf as usize] = node;
    }

    /// `leaf`'s entries in a new node at `density`, with its neighbours.
    fn rebuilt_leaf(&self, leaf: u32, density: f64, placement: Placement) -> DataNode<P> {
        let old = &self.leaves[leaf as usize];
        // A model whose measured cost still matches what was expected of it is stretched to the
        // new size instead of retrained (one pass over the keys instead of three).
        let rescale = old.measured_cost().is_some_and(|(measured, _)| {
            measured <= RESCALE_TOLERANCE * old.expected_cost.max(1.0)
        });
        let mut node = old.rebuilt(density, placement, rescale, self.key_filters);
        node.prev = old.prev;
        node.next = old.next;
        node
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
        let expand = placement::estimate_data_node_cost(&keys, EXPAND_DENSITY, COST_SAMPLE);
        let half = keys.len() / 2;
        let halves =
            (placement::estimate_data_node_cost(&keys[..half], INIT_DENSITY, COST_SAMPLE / 2)
                + placement::estimate_data_node_cost(&keys[half..], INIT_DENSITY, COST_SAMPLE / 2))
                / 2.0;
        let extra_level = if has_parent { 0.0 } else { TRAVERSAL_COST };
        let header = std::mem::size_of::<DataNode<P>>();
        halves + extra_level + cost::size_cost(header, n) < expand
    }

    /// Splits `leaf` (owning `2^dup >= 2` slots of model node `m`, routed by `router`, around
    /// `slot`) into two nodes along the slot boundary. `None` when one side would be empty and
    /// the other too large to rebuild. The right half's slots are filled in `doubled` when
    /// given, else at install.
    fn plan_sideways(
        &self,
        router: &ModelNode,
        slot: usize,
        leaf: u32,
        dup: u8,
        doubled: Option<&mut Vec<NodeId>>,
        m: u32,
    ) -> Option<Step<P>> {
        let node = &self.leaves[leaf as usize];
        let placement = node.placement_hint();
        let block = ModelNode::block(slot, dup);
        let mid = block.start + (1usize << (dup - 1));
        let (keys, payloads) = self.drain(leaf);
        let cut = keys.partition_point(|&k| router.slot_unclamped(k) < mid as i64);
        // All keys on one side: the split still halves the node's block and rebuilds it below
        // its density bound, which is progress, unless the node is at its maximum size (then
        // only a split down can divide it).
        let one_sided = cut == 0 || cut == keys.len();
        if one_sided
            && (keys.len() as f64 / INIT_DENSITY) as usize > DataNode::<P>::max_capacity() / 2
        {
            return None;
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
        let left = DataNode::build(
            &keys[..cut],
            &payloads[..cut],
            INIT_DENSITY,
            left_place,
            dup - 1,
            self.key_filters,
        );
        let right = DataNode::build(
            &keys[cut..],
            &payloads[cut..],
            INIT_DENSITY,
            right_place,
            dup - 1,
            self.key_filters,
        );
        let right_id = self.leaf_ids(None).next();
        let fill = match doubled {
            Some(children) => {
                children[mid..block.end].fill(NodeId::data(right_id));
                None
            }
            None => Some(mid..block.end),
        };
        Some(Step::Sideways {
            m,
            fill,
            left,
            right,
            right_id,
        })
    }

    /// Replaces `leaf` with a model node over its keys (in `parent`'s `block`, or as the root),
    /// built in a scratch index and renumbered to the ids the install will allocate.
    fn plan_split_down(
        &self,
        leaf: u32,
        parent: Option<(u32, std::ops::Range<usize>)>,
        dup: u8,
        doubled: Option<&mut Vec<NodeId>>,
    ) -> Step<P> {
        let (keys, payloads) = self.drain(leaf);
        let placement = self.leaves[leaf as usize].placement_hint();
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
        let mut scratch: Alex<P> = Alex::new();
        scratch.key_filters = self.key_filters;
        scratch.free_leaf(scratch.head);
        let mut chain = Vec::new();
        let mut node = ModelNode::new(model, Vec::new(), dup);
        node.children = scratch.build_children(&node, fanout, &keys, &payloads, 0, &mut chain);
        let root = scratch.alloc_model(node);
        // Ids the install will hand out: leaves in chain order (the grown node's own slot is
        // freed first, so it comes back first), models root first, then the rest in order.
        let mut leaf_plan = self.leaf_ids(Some(leaf));
        let (leaf_ids, leaf_map) = leaf_plan.assign(&chain, scratch.leaves.len());
        let mut model_order = vec![root];
        model_order.extend((0..scratch.models.len() as u32).filter(|&i| i != root));
        let mut model_plan = IdPlan {
            free: &self.free_models,
            extra_free: None,
            next_new: self.models.len() as u32,
        };
        let (model_ids, model_map) = model_plan.assign(&model_order, scratch.models.len());
        let mut leaves: Vec<Option<DataNode<P>>> = scratch.leaves.into_iter().map(Some).collect();
        let mut models: Vec<Option<ModelNode>> = scratch.models.into_iter().map(Some).collect();
        let leaves: Vec<DataNode<P>> = chain
            .iter()
            .filter_map(|&l| leaves[l as usize].take())
            .collect();
        let models: Vec<ModelNode> = model_order
            .iter()
            .filter_map(|&i| models[i as usize].take())
            .map(|mut m| {
                for c in &mut m.children {
                    *c = if c.is_data() {
                        NodeId::data(leaf_map[c.index()])
                    } else {
                        NodeId::model(model_map[c.index()])
                    };
                }
                m
            })
            .collect();
        let parent = parent.map(|(m, block)| match doubled {
            Some(children) => {
                children[block].fill(NodeId::model(model_ids[0]));
                (m, None)
            }
            None => (m, Some(block)),
        });
        Step::Down {
            parent,
            models,
            model_ids,
            leaves,
            leaf_ids,
        }
    }

    /// Plans widening model node `m` when its edge child `leaf` (at `slot`) holds enough keys
    /// beyond `m`'s key domain; `None` when it should not widen.
    fn plan_widen(&self, m: u32, slot: usize, leaf: u32) -> Option<Step<P>> {
        let node = &self.leaves[leaf as usize];
        let parent = &self.models[m as usize];
        let fanout = parent.children.len();
        let block = ModelNode::block(slot, node.dup);
        let (lo_key, hi_key) = node.key_range()?;
        let right = block.end == fanout && parent.slot_unclamped(hi_key) >= fanout as i64;
        let left = block.start == 0 && parent.slot_unclamped(lo_key) < 0;
        if !(right || left) || fanout >= MAX_FANOUT {
            return None;
        }
        let (keys, payloads) = self.drain(leaf);
        let outside = if right {
            keys.len() - keys.partition_point(|&k| parent.slot_unclamped(k) < fanout as i64)
        } else {
            keys.partition_point(|&k| parent.slot_unclamped(k) < 0)
        };
        if outside < MIN_OUT_OF_DOMAIN || outside * MIN_OUT_OF_DOMAIN_SHARE < keys.len() {
            return None;
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
        let mut children = Vec::with_capacity(wide);
        let offset_add = if right { 0 } else { added as i64 };
        let new_blocks = if right {
            children.extend_from_slice(&parent.children);
            children.resize(wide, NodeId::data(0));
            aligned_blocks(fanout, wide)
        } else {
            children.resize(added, NodeId::data(0));
            children.extend_from_slice(&parent.children);
            aligned_blocks(0, added)
        };
        // Re-partition the edge node's keys over its own block and the new blocks, routing
        // as the widened node will.
        let router = ModelNode {
            model: parent.model,
            offset: parent.offset + offset_add,
            children: Vec::new(),
            dup: parent.dup,
        };
        let bounds = slot_boundaries(&router, wide, &keys);
        let own = if right {
            block.start..fanout
        } else {
            block.start + added..block.end + added
        };
        let (own_lo, own_hi) = (bounds[own.start], bounds[own.end]);
        let placement = if right {
            Placement::RoomRight
        } else {
            Placement::RoomLeft
        };
        let mut ids = self.leaf_ids(None);
        let mut fresh = Vec::with_capacity(new_blocks.len());
        for &(start, log) in &new_blocks {
            let (lo, hi) = (bounds[start], bounds[start + (1usize << log)]);
            fresh.push(DataNode::build(
                &keys[lo..hi],
                &payloads[lo..hi],
                INIT_DENSITY,
                placement,
                log,
                self.key_filters,
            ));
            children[start..start + (1usize << log)].fill(NodeId::data(ids.next()));
        }
        let own = DataNode::build(
            &keys[own_lo..own_hi],
            &payloads[own_lo..own_hi],
            INIT_DENSITY,
            Placement::Spread,
            node.dup,
            self.key_filters,
        );
        Some(Step::Widen {
            m,
            children,
            offset_add,
            fresh,
            own,
            right,
        })
    }
}
