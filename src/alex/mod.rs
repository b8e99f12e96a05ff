//! An ALEX learned index: an updatable ordered map from `u64` keys to small `Copy` payloads.
//!
//! ALEX (Ding et al., "ALEX: An Updatable Adaptive Learned Index", SIGMOD 2020) replaces the
//! comparisons of a B-tree with linear models. Inner *model nodes* compute which child holds a key;
//! leaf *data nodes* are gapped arrays whose model predicts the slot of a key, and an exponential
//! search outward from the prediction finishes the lookup. Gaps make inserts cheap: a key usually
//! lands in a gap at its predicted slot, and otherwise shifts its neighbours toward the nearest gap.
//! A cost model (expected search iterations and shifts) decides when a full node expands, when it
//! splits sideways or downward, and how wide each model node is at bulk load.
//!
//! Beyond the paper, data nodes can keep a small Bloom filter of their keys (`filter`,
//! [`Alex::set_key_filter`], off by default), so that most lookups of absent keys end on a cached
//! word instead of a DRAM miss on the key array.
//!
//! This module knows nothing of storage: the engine stores a packed value location as the payload.
//!
//! ```
//! use alexkv::alex::Alex;
//! let mut index: Alex<u64> = Alex::new();
//! index.insert(42, 1);
//! index.insert(7, 2);
//! assert_eq!(index.get(42), Some(1));
//! assert_eq!(index.range(..).map(|(k, _)| k).collect::<Vec<_>>(), vec![7, 42]);
//! ```
//!
//! Complexity: a lookup costs one model evaluation per level (usually two or three levels) plus a
//! search whose length grows with the log of the model's error. Keys are compared exactly; models
//! only guide. The whole `u64` range is valid, `0` and `u64::MAX` included.

pub(crate) mod array;
mod array_pool;
mod bitmap;
mod bulk_load;
mod capacity;
mod cost;
mod data_node;
mod filter;
mod grow;
#[cfg(test)]
mod grow_tests;
mod install;
mod iter;
mod model;
mod model_node;
mod placement;
mod trace;

use data_node::{DataNode, NodeInsert, NIL};
use model_node::{ModelNode, NodeId};

pub use bulk_load::BulkLoadError;
pub use install::{PreparedGrow, Retired};
pub use iter::Range;
pub use trace::LookupTrace;

/// Structural statistics of an index, for the engine's `stats()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct IndexStats {
    /// Number of keys.
    pub keys: usize,
    /// Levels from the root to the deepest data node (1 = the root is a data node).
    pub depth: usize,
    /// Number of model (inner) nodes.
    pub model_nodes: usize,
    /// Number of data nodes (leaves).
    pub data_nodes: usize,
    /// Keys divided by data node slots.
    pub avg_fill: f64,
    /// Bytes of model nodes.
    pub model_bytes: usize,
    /// Bytes of data nodes (keys, payloads, bitmaps, key filters, headers).
    pub data_bytes: usize,
}

/// An ordered map from `u64` to `P`, indexed by an ALEX learned index. See the module docs.
pub struct Alex<P: Copy> {
    models: Vec<ModelNode>,
    leaves: Vec<DataNode<P>>,
    free_models: Vec<u32>,
    free_leaves: Vec<u32>,
    root: NodeId,
    len: usize,
    /// First and last data node in key order.
    head: u32,
    tail: u32,
    /// Unique per index (and per `clear`): with `version`, the stamp of a grow plan.
    instance: u64,
    /// Bumped by every mutation, so a grow plan made against another state is detected.
    version: u64,
    /// Whether data nodes keep key filters ([`Alex::set_key_filter`]).
    key_filters: bool,
}

impl<P: Copy> Default for Alex<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Copy> Alex<P> {
    /// An empty index.
    pub fn new() -> Self {
        let mut index = Alex {
            models: Vec::new(),
            leaves: Vec::new(),
            free_models: Vec::new(),
            free_leaves: Vec::new(),
            root: NodeId::data(0),
            len: 0,
            head: 0,
            tail: 0,
            instance: install::next_instance(),
            version: 0,
            key_filters: false,
        };
        let leaf = index.alloc_leaf(DataNode::empty(0, false));
        index.root = NodeId::data(leaf);
        index.head = leaf;
        index.tail = leaf;
        index
    }

    /// Number of keys.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the index holds no key.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        let key_filters = self.key_filters;
        *self = Self::new();
        self.set_key_filter(key_filters);
    }

    /// Gives every data node a key filter (`on`), or removes them (the default is none). A
    /// node's filter is a few bits per key (one 64-bit word per 8 keys at the node's growth
    /// bound, about 1.2 bytes per key) that answers most lookups of absent keys without
    /// searching the node's keys, which at millions of keys saves a memory round trip; lookups
    /// of present keys and inserts each pay one more memory access for it. Answers are the
    /// same either way. Building the filters of an existing index reads every key once.
    ///
    /// ```
    /// use alexkv::alex::Alex;
    /// let keys: Vec<u64> = (0..1000).map(|i| i * 10).collect();
    /// let mut index = Alex::bulk_load(&keys, &keys).unwrap();
    /// index.set_key_filter(true);
    /// assert_eq!(index.get(990), Some(990));
    /// assert_eq!(index.get(991), None);
    /// ```
    pub fn set_key_filter(&mut self, on: bool) {
        // A grow plan prepared before this call would install nodes with the old setting.
        self.version += 1;
        self.key_filters = on;
        // The live leaves only: freed arena slots hold placeholders that are replaced on reuse.
        let mut leaf = self.head;
        while leaf != data_node::NIL {
            let node = &mut self.leaves[leaf as usize];
            node.set_filter(on);
            leaf = node.next;
        }
    }

    /// The data node responsible for `key`.
    #[inline(always)]
    fn leaf_for(&self, key: u64) -> u32 {
        let mut id = self.root;
        while !id.is_data() {
            id = self.models[id.index()].route(key).1;
        }
        id.index() as u32
    }

    /// The payload of `key`.
    #[inline(always)]
    pub fn get(&self, key: u64) -> Option<P> {
        let leaf = &self.leaves[self.leaf_for(key) as usize];
        leaf.find(key).map(|slot| leaf.payload_at(slot))
    }

    /// Starts loading the lines a lookup or insert of `key` will read first (the data node's
    /// predicted key and payload slots), without waiting for them: a caller that knows its next
    /// keys (a sorted batch) overlaps their cache misses with the work in between.
    #[inline]
    pub fn prefetch(&self, key: u64) {
        self.leaves[self.leaf_for(key) as usize].prefetch(key);
    }

    /// Whether `key` is present.
    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        let leaf = &self.leaves[self.leaf_for(key) as usize];
        leaf.find(key).is_some()
    }

    /// Inserts `key`, returning the previous payload when the key was present.
    pub fn insert(&mut self, key: u64, payload: P) -> Option<P> {
        self.version += 1;
        loop {
            let leaf = self.leaf_for(key);
            match self.leaves[leaf as usize].insert(key, payload) {
                NodeInsert::Inserted => {
                    self.len += 1;
                    return None;
                }
                NodeInsert::Replaced(old) => return Some(old),
                NodeInsert::Full => self.grow(leaf, key),
            }
        }
    }

    /// Sets `key`'s payload in one descent of the tree, when that is all it takes: replaces a
    /// present key's payload if `replaceable(old)`, or inserts an absent key if `insert_new`
    /// and its data node takes it without growing. Returns `Some(old payload or None)` when it
    /// did, `None` (changing nothing) when the caller must take its general path.
    #[inline]
    pub(crate) fn set_if(
        &mut self,
        key: u64,
        payload: P,
        replaceable: impl FnOnce(P) -> bool,
        insert_new: bool,
    ) -> Option<Option<P>> {
        let leaf = self.leaf_for(key);
        let node = &mut self.leaves[leaf as usize];
        match node.find(key) {
            Some(slot) => {
                if !replaceable(node.payload_at(slot)) {
                    return None;
                }
                self.version += 1;
                Some(Some(node.replace(slot, payload)))
            }
            None => {
                if !insert_new || node.must_grow() {
                    return None;
                }
                match node.insert(key, payload) {
                    NodeInsert::Inserted => {
                        self.version += 1;
                        self.len += 1;
                        Some(None)
                    }
                    // Absent a moment ago, and nothing ran in between.
                    NodeInsert::Replaced(old) => {
                        self.version += 1;
                        Some(Some(old))
                    }
                    NodeInsert::Full => None,
                }
            }
        }
    }

    /// A present key's payload, to change in place (`None` when absent). Counts as a change:
    /// a grow planned before it is not installed as planned ([`Alex::install_grow`] plans
    /// afresh), so it cannot bring back the old payload.
    #[inline]
    pub(crate) fn get_mut(&mut self, key: u64) -> Option<&mut P> {
        let leaf = self.leaf_for(key);
        let node = &mut self.leaves[leaf as usize];
        let slot = node.find(key)?;
        self.version += 1;
        Some(node.payload_mut(slot))
    }

    /// Removes `key`, returning its payload.
    pub fn remove(&mut self, key: u64) -> Option<P> {
        self.version += 1;
        let leaf = self.leaf_for(key);
        let node = &mut self.leaves[leaf as usize];
        let payload = node.remove(key)?;
        self.len -= 1;
        if node.should_shrink() {
            self.rebuild_leaf(leaf, capacity::INIT_DENSITY);
        }
        Some(payload)
    }

    /// The smallest key and its payload.
    pub fn first(&self) -> Option<(u64, P)> {
        self.range(..).next()
    }

    /// The largest key and its payload.
    pub fn last(&self) -> Option<(u64, P)> {
        self.range(..).next_back()
    }

    /// The smallest entry whose key is at least `key`.
    pub fn lower_bound(&self, key: u64) -> Option<(u64, P)> {
        self.range(key..).next()
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> Range<'_, P> {
        self.range(..)
    }

    /// Structural statistics (walks the model nodes; cheap next to a scan of the keys).
    pub fn stats(&self) -> IndexStats {
        let mut s = IndexStats {
            keys: self.len,
            ..IndexStats::default()
        };
        let mut slots = 0usize;
        let mut stack = vec![(self.root, 1usize)];
        while let Some((id, depth)) = stack.pop() {
            s.depth = s.depth.max(depth);
            if id.is_data() {
                let leaf = &self.leaves[id.index()];
                s.data_nodes += 1;
                s.data_bytes += leaf.bytes();
                slots += leaf.capacity();
            } else {
                let m = &self.models[id.index()];
                s.model_nodes += 1;
                s.model_bytes += m.bytes();
                let mut i = 0;
                while i < m.children.len() {
                    let child = m.children[i];
                    stack.push((child, depth + 1));
                    i += 1 << self.dup_of(child);
                }
            }
        }
        s.avg_fill = if slots == 0 {
            0.0
        } else {
            self.len as f64 / slots as f64
        };
        s
    }

    /// `(start address, bytes)` of every data node's key, payload and key filter arrays (`(0, 0)`
    /// for a node without a filter): what a caller
    /// needs to ask the kernel (`/proc/self/smaps`) how much of the index sits on huge pages.
    pub fn array_ranges(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut leaf = self.head;
        while leaf != data_node::NIL {
            let node = &self.leaves[leaf as usize];
            out.extend(node.array_ranges());
            leaf = node.next;
        }
        out
    }

    /// Bytes of node arrays mapped from the kernel directly (large data node arrays, on Linux):
    /// part of [`Alex::data_bytes`], but invisible to a counting global allocator.
    pub fn mapped_bytes(&self) -> usize {
        let mut total = 0;
        let mut leaf = self.head;
        while leaf != data_node::NIL {
            let node = &self.leaves[leaf as usize];
            total += node.mapped_bytes();
            leaf = node.next;
        }
        total
    }

    /// Bytes held by model nodes.
    pub fn model_bytes(&self) -> usize {
        self.stats().model_bytes
    }

    /// Bytes held by data nodes: keys, payloads, bitmaps, key filters and node headers.
    pub fn data_bytes(&self) -> usize {
        self.stats().data_bytes
    }

    fn dup_of(&self, id: NodeId) -> u8 {
        if id.is_data() {
            self.leaves[id.index()].dup
        } else {
            self.models[id.index()].dup
        }
    }

    fn set_dup(&mut self, id: NodeId, dup: u8) {
        if id.is_data() {
            self.leaves[id.index()].dup = dup;
        } else {
            self.models[id.index()].dup = dup;
        }
    }

    fn alloc_leaf(&mut self, node: DataNode<P>) -> u32 {
        match self.free_leaves.pop() {
            Some(i) => {
                self.leaves[i as usize] = node;
                i
            }
            None => {
                self.leaves.push(node);
                (self.leaves.len() - 1) as u32
            }
        }
    }

    fn free_leaf(&mut self, i: u32) {
        self.leaves[i as usize] = DataNode::empty(0, false);
        self.free_leaves.push(i);
    }

    fn alloc_model(&mut self, node: ModelNode) -> u32 {
        match self.free_models.pop() {
            Some(i) => {
                self.models[i as usize] = node;
                i
            }
            None => {
                self.models.push(node);
                (self.models.len() - 1) as u32
            }
        }
    }

    /// Links `chain` (new leaves, in key order) between `prev` and `next`.
    fn link_chain(&mut self, prev: u32, chain: &[u32], next: u32) {
        let mut before = prev;
        for &leaf in chain {
            self.leaves[leaf as usize].prev = before;
            if before == NIL {
                self.head = leaf;
            } else {
                self.leaves[before as usize].next = leaf;
            }
            before = leaf;
        }
        self.leaves[before as usize].next = next;
        if next == NIL {
            self.tail = before;
        } else {
            self.leaves[next as usize].prev = before;
        }
    }

    /// Checks every structural invariant; for tests and debugging. Walks the whole index.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        // Leaves in list order hold increasing keys, and they account for `len`.
        let mut count = 0;
        let mut last: Option<u64> = None;
        let mut leaf = self.head;
        let mut prev = NIL;
        while leaf != NIL {
            let node = &self.leaves[leaf as usize];
            if node.prev != prev {
                return Err(format!("leaf {leaf} has prev {} not {prev}", node.prev));
            }
            #[cfg(test)]
            node.check().map_err(|e| format!("leaf {leaf}: {e}"))?;
            if node.has_filter() != self.key_filters {
                return Err(format!(
                    "leaf {leaf} has a key filter: {}, the index keeps them: {}",
                    node.has_filter(),
                    self.key_filters
                ));
            }
            let mut i = node.next_occupied(0);
            while let Some(s) = i {
                let k = node.key_at(s);
                if last.is_some_and(|l| l >= k) {
                    return Err(format!("key {k} after {last:?}"));
                }
                last = Some(k);
                count += 1;
                i = node.next_occupied(s + 1);
            }
            prev = leaf;
            leaf = node.next;
        }
        if prev != self.tail {
            return Err("tail mismatch".into());
        }
        if count != self.len {
            return Err(format!("leaves hold {count} keys, len is {}", self.len));
        }
        // Every key routes to the leaf that holds it.
        for (k, _) in self.iter() {
            let leaf = self.leaf_for(k);
            if self.leaves[leaf as usize].find(k).is_none() {
                return Err(format!("key {k} does not route to its leaf"));
            }
        }
        // Children own aligned blocks of the declared size.
        let mut stack = vec![self.root];
        while let Some(id) = stack.pop() {
            if id.is_data() {
                continue;
            }
            let m = &self.models[id.index()];
            if !m.children.len().is_power_of_two() {
                return Err("fanout not a power of two".into());
            }
            let mut i = 0;
            while i < m.children.len() {
                let child = m.children[i];
                let size = 1usize << self.dup_of(child);
                if i % size != 0 || m.children[i..i + size].iter().any(|&c| c != child) {
                    return Err(format!(
                        "child at slot {i} does not own an aligned block of {size}"
                    ));
                }
                stack.push(child);
                i += size;
            }
        }
        Ok(())
    }
}

/// Maps an `i64` to a `u64` so that the order of `u64`s is the order of the `i64`s.
///
/// ```
/// use alexkv::alex::{i64_to_key, key_to_i64};
/// assert!(i64_to_key(-1) < i64_to_key(0));
/// assert_eq!(key_to_i64(i64_to_key(i64::MIN)), i64::MIN);
/// ```
#[inline]
pub const fn i64_to_key(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

/// The inverse of [`i64_to_key`].
#[inline]
pub const fn key_to_i64(k: u64) -> i64 {
    (k ^ (1 << 63)) as i64
}
