//! Installing a grow prepared by `grow` (see its module docs): the prebuilt nodes move into the
//! arenas at the ids the plan predicted, child arrays are swapped, the leaf list is relinked.
//! Work proportional to the number of new nodes, none to their keys; what was replaced comes
//! back as [`Retired`], for the caller to free after releasing its lock.

use super::data_node::{DataNode, NIL};
use super::model_node::{ModelNode, NodeId};
use super::Alex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes index instances in a plan's stamp.
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(0);

/// A fresh instance number for a new index.
pub(super) fn next_instance() -> u64 {
    NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed)
}

/// A grow of one full data node, built by [`Alex::prepare_grow`] and installed by
/// [`Alex::install_grow`] (see the `grow` module docs).
pub struct PreparedGrow<P: Copy> {
    /// `(instance, version)` of the index it was planned against.
    pub(super) stamp: (u64, u64),
    /// The key whose insert found the node full.
    pub(super) key: u64,
    /// The full node.
    pub(super) leaf: u32,
    /// For splits: model node and its children array doubled first (prebuilt, with the
    /// split's own child slots already filled when they are in it).
    pub(super) doubled: Option<(u32, Vec<NodeId>)>,
    pub(super) step: Step<P>,
}

pub(super) enum Step<P: Copy> {
    /// Replace the node with a bigger one.
    Expand(DataNode<P>),
    /// Widen model node `m`: new children array and offset, new edge nodes in id order, and
    /// the node's own replacement.
    Widen {
        m: u32,
        children: Vec<NodeId>,
        offset_add: i64,
        fresh: Vec<DataNode<P>>,
        own: DataNode<P>,
        right: bool,
    },
    /// Replace the node with `left`, add `right` at `right_id` owning `m`'s slots `fill` (when
    /// not already filled in the doubled array).
    Sideways {
        m: u32,
        fill: Option<std::ops::Range<usize>>,
        left: DataNode<P>,
        right: DataNode<P>,
        right_id: u32,
    },
    /// Replace the node with model node `models[0]` (its subtree: `models` and `leaves` in the
    /// order their ids were predicted, child ids already final); `fill` is the parent's block
    /// when not already filled in the doubled array, `None` with no parent (a new root).
    Down {
        parent: Option<(u32, Option<std::ops::Range<usize>>)>,
        models: Vec<ModelNode>,
        model_ids: Vec<u32>,
        leaves: Vec<DataNode<P>>,
        leaf_ids: Vec<u32>,
    },
}

/// Nodes and child arrays a grow replaced: drop them when no lock is held (freeing a 16 MiB
/// node unmaps memory).
#[must_use = "drop it outside the index lock"]
pub struct Retired<P: Copy> {
    _leaves: Vec<DataNode<P>>,
    _children: Vec<Vec<NodeId>>,
}

impl<P: Copy> Retired<P> {
    fn new() -> Self {
        Retired {
            _leaves: Vec::new(),
            _children: Vec::new(),
        }
    }
}

/// Predicts the ids `alloc_leaf` / `alloc_model` will return: free slots from the back of the
/// free list, then the end of the arena.
pub(super) struct IdPlan<'a> {
    pub(super) free: &'a [u32],
    pub(super) extra_free: Option<u32>,
    pub(super) next_new: u32,
}

impl IdPlan<'_> {
    pub(super) fn next(&mut self) -> u32 {
        if let Some(id) = self.extra_free.take() {
            return id;
        }
        if let Some((&id, rest)) = self.free.split_last() {
            self.free = rest;
            return id;
        }
        self.next_new += 1;
        self.next_new - 1
    }

    /// Hands out one id per entry of `order` (scratch ids, in allocation order) and returns
    /// those ids with the map from scratch id to id (`NIL` for scratch ids not in `order`).
    pub(super) fn assign(&mut self, order: &[u32], scratch_len: usize) -> (Vec<u32>, Vec<u32>) {
        let mut map = vec![NIL; scratch_len];
        let ids = order
            .iter()
            .map(|&i| {
                let id = self.next();
                map[i as usize] = id;
                id
            })
            .collect();
        (ids, map)
    }
}

impl<P: Copy> Alex<P> {
    /// Installs a grow built by [`Alex::prepare_grow`]: moves its nodes in and swaps pointers.
    /// A plan made against another state of the index (another instance, or any change since)
    /// is discarded and the grow, if still needed, is done here instead. Returns what was
    /// replaced, to be dropped by the caller (after releasing its lock).
    pub fn install_grow(&mut self, plan: PreparedGrow<P>) -> Retired<P> {
        if plan.stamp != (self.instance, self.version) {
            return match self.prepare_grow(plan.key) {
                Some(fresh) => self.install_grow(fresh),
                None => Retired::new(),
            };
        }
        self.version += 1;
        let mut retired = Retired::new();
        let leaf = plan.leaf;
        if let Some((m, children)) = plan.doubled {
            self.install_doubled(m, children, &mut retired);
        }
        match plan.step {
            Step::Expand(node) => {
                retired
                    ._leaves
                    .push(std::mem::replace(&mut self.leaves[leaf as usize], node));
            }
            Step::Widen {
                m,
                children,
                offset_add,
                fresh,
                own,
                right,
            } => {
                let (prev, next) = self.neighbours(leaf);
                let mut ids = Vec::with_capacity(fresh.len());
                for node in fresh {
                    ids.push(self.alloc_leaf(node));
                }
                retired
                    ._leaves
                    .push(std::mem::replace(&mut self.leaves[leaf as usize], own));
                let model = &mut self.models[m as usize];
                model.offset += offset_add;
                retired
                    ._children
                    .push(std::mem::replace(&mut model.children, children));
                if right {
                    let mut chain = vec![leaf];
                    chain.extend(ids);
                    self.link_chain(prev, &chain, next);
                } else {
                    ids.push(leaf);
                    self.link_chain(prev, &ids, next);
                }
            }
            Step::Sideways {
                m,
                fill,
                left,
                right,
                right_id,
            } => {
                let (prev, next) = self.neighbours(leaf);
                retired
                    ._leaves
                    .push(std::mem::replace(&mut self.leaves[leaf as usize], left));
                let id = self.alloc_leaf(right);
                debug_assert_eq!(id, right_id);
                if let Some(range) = fill {
                    self.models[m as usize].children[range].fill(NodeId::data(id));
                }
                self.link_chain(prev, &[leaf, id], next);
            }
            Step::Down {
                parent,
                models,
                model_ids,
                leaves,
                leaf_ids,
            } => {
                let (prev, next) = self.neighbours(leaf);
                retired._leaves.push(std::mem::replace(
                    &mut self.leaves[leaf as usize],
                    DataNode::empty(0, false),
                ));
                self.free_leaves.push(leaf);
                for (node, &want) in leaves.into_iter().zip(&leaf_ids) {
                    let id = self.alloc_leaf(node);
                    debug_assert_eq!(id, want);
                }
                for (node, &want) in models.into_iter().zip(&model_ids) {
                    let id = self.alloc_model(node);
                    debug_assert_eq!(id, want);
                }
                self.link_chain(prev, &leaf_ids, next);
                let id = NodeId::model(model_ids[0]);
                match parent {
                    None => self.root = id,
                    Some((m, Some(block))) => self.models[m as usize].children[block].fill(id),
                    Some((_, None)) => {}
                }
            }
        }
        retired
    }

    /// Makes room in full data node `leaf` (on `key`'s path) for one more key.
    pub(super) fn grow(&mut self, leaf: u32, key: u64) {
        let plan = self.plan_grow(leaf, key);
        drop(self.install_grow(plan));
    }

    fn neighbours(&self, leaf: u32) -> (u32, u32) {
        let node = &self.leaves[leaf as usize];
        (node.prev, node.next)
    }

    /// Doubles model node `m`'s fanout with the prebuilt `children`: every child owns twice the
    /// slots, routing is unchanged.
    fn install_doubled(&mut self, m: u32, children: Vec<NodeId>, retired: &mut Retired<P>) {
        let old = std::mem::replace(&mut self.models[m as usize].children, children);
        let mut i = 0;
        while i < old.len() {
            let dup = self.dup_of(old[i]);
            self.set_dup(old[i], dup + 1);
            i += 1 << dup;
        }
        let node = &mut self.models[m as usize];
        node.model.scale(2.0);
        node.offset *= 2;
        retired._children.push(old);
    }
}

#[cfg(test)]
impl<P: Copy> PreparedGrow<P> {
    /// The kind of grow, for tests that check every kind is exercised.
    pub(super) fn kind(&self) -> &'static str {
        match (&self.step, self.doubled.is_some()) {
            (Step::Expand(_), _) => "expand",
            (Step::Widen { right: true, .. }, _) => "widen right",
            (Step::Widen { right: false, .. }, _) => "widen left",
            (Step::Sideways { .. }, false) => "sideways",
            (Step::Sideways { .. }, true) => "double + sideways",
            (Step::Down { parent: None, .. }, _) => "down at the root",
            (Step::Down { .. }, _) => "down",
        }
    }
}
