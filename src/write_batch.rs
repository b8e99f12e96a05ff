//! [`WriteBatch`]: puts and deletes applied atomically by one write.
//!
//! Operations keep their order; when a key appears more than once the last operation wins, as
//! if they were applied one after another. Values are copied into one contiguous buffer, so a
//! batch of N puts costs two growing allocations, not N.
//!
//! Internals read a batch through [`WriteBatch::ops`] (every operation in order) or
//! [`WriteBatch::final_ops`] (only the last operation per key, in key order: what the engine
//! commits to RocksDB and applies to the hot tier and index, which need not see superseded
//! values; key order makes RocksDB's memtable inserts and the index updates walk their
//! structures in order).

/// A batch of puts and deletes, applied atomically: after a crash either all of it is visible
/// or none of it.
///
/// ```
/// use alexkv::WriteBatch;
///
/// let mut batch = WriteBatch::new();
/// batch.put(1, b"one");
/// batch.put(2, "two");
/// batch.delete(1);
/// assert_eq!(batch.len(), 3);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<RawOp>,
    data: Vec<u8>,
}

/// One operation; a put's value is `data[start..start + len]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct RawOp {
    key: u64,
    start: usize,
    /// `None` for a delete.
    len: Option<usize>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `ops` operations and `value_bytes` bytes of values.
    pub fn with_capacity(ops: usize, value_bytes: usize) -> Self {
        WriteBatch {
            ops: Vec::with_capacity(ops),
            data: Vec::with_capacity(value_bytes),
        }
    }

    /// Adds "set `key` to `value`".
    pub fn put(&mut self, key: u64, value: impl AsRef<[u8]>) {
        let value = value.as_ref();
        let start = self.data.len();
        self.data.extend_from_slice(value);
        self.ops.push(RawOp {
            key,
            start,
            len: Some(value.len()),
        });
    }

    /// Adds "remove `key`" (a no-op if it is absent when the batch is applied).
    pub fn delete(&mut self, key: u64) {
        self.ops.push(RawOp {
            key,
            start: self.data.len(),
            len: None,
        });
    }

    /// Number of operations (a key written twice counts twice).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Removes every operation, keeping the allocated memory for reuse.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.data.clear();
    }

    /// Total bytes of the values of all puts.
    pub fn value_bytes(&self) -> usize {
        self.data.len()
    }

    /// Every operation in insertion order: `(key, Some(value))` for a put, `(key, None)` for a
    /// delete.
    pub(crate) fn ops(&self) -> impl ExactSizeIterator<Item = (u64, Option<&[u8]>)> + '_ {
        self.ops.iter().map(|op| self.view(op))
    }

    /// Only the last operation of each key, in increasing key order. Applying these gives the
    /// same final state as applying [`WriteBatch::ops`] (each key is touched once, so their
    /// order does not matter to the result).
    pub(crate) fn final_ops(&self) -> Vec<(u64, Option<&[u8]>)> {
        let mut order: Vec<usize> = (0..self.ops.len()).collect();
        // Stable sort by key keeps insertion order within a key, so the last index of each run
        // is that key's final operation.
        order.sort_by_key(|&i| self.ops[i].key);
        let mut out = Vec::with_capacity(order.len());
        for (pos, &i) in order.iter().enumerate() {
            let next_same = order
                .get(pos + 1)
                .is_some_and(|&j| self.ops[j].key == self.ops[i].key);
            if !next_same {
                out.push(self.view(&self.ops[i]));
            }
        }
        out
    }

    /// The first put whose value is longer than `limit`, as `(key, len)`.
    pub(crate) fn first_oversized(&self, limit: usize) -> Option<(u64, usize)> {
        self.ops.iter().find_map(|op| match op.len {
            Some(len) if len > limit => Some((op.key, len)),
            _ => None,
        })
    }

    fn view(&self, op: &RawOp) -> (u64, Option<&[u8]>) {
        (
            op.key,
            op.len.map(|len| &self.data[op.start..op.start + len]),
        )
    }
}

impl std::fmt::Debug for WriteBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBatch")
            .field("ops", &self.ops.len())
            .field("value_bytes", &self.data.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn ops_keep_insertion_order() {
        let mut b = WriteBatch::new();
        b.put(3, b"c");
        b.delete(1);
        b.put(2, b"");
        let ops: Vec<_> = b.ops().collect();
        assert_eq!(
            ops,
            vec![(3, Some(&b"c"[..])), (1, None), (2, Some(&b""[..]))]
        );
        assert_eq!(b.len(), 3);
        assert_eq!(b.value_bytes(), 1);
    }

    #[test]
    fn last_operation_per_key_wins() {
        let mut b = WriteBatch::new();
        b.put(1, b"a");
        b.put(2, b"b");
        b.delete(1);
        b.put(2, b"bb");
        b.put(u64::MAX, b"max");
        let fin = b.final_ops();
        assert_eq!(
            fin,
            vec![
                (1, None),
                (2, Some(&b"bb"[..])),
                (u64::MAX, Some(&b"max"[..]))
            ]
        );
    }

    #[test]
    fn clear_empties_and_keeps_capacity() {
        let mut b = WriteBatch::with_capacity(4, 64);
        b.put(1, [0u8; 32]);
        b.clear();
        assert!(b.is_empty());
        assert_eq!(b.value_bytes(), 0);
        assert!(b.data.capacity() >= 64);
    }

    #[test]
    fn oversized_values_are_found() {
        let mut b = WriteBatch::new();
        b.put(1, [0u8; 4]);
        b.delete(9);
        b.put(2, [0u8; 10]);
        assert_eq!(b.first_oversized(4), Some((2, 10)));
        assert_eq!(b.first_oversized(10), None);
    }

    proptest! {
        #[test]
        fn final_ops_match_sequential_application(
            ops in proptest::collection::vec((0u64..8, proptest::option::of(any::<u8>())), 0..40)
        ) {
            let mut b = WriteBatch::new();
            let mut model: BTreeMap<u64, Option<Vec<u8>>> = BTreeMap::new();
            for (k, v) in &ops {
                match v {
                    Some(byte) => { b.put(*k, [*byte]); model.insert(*k, Some(vec![*byte])); }
                    None => { b.delete(*k); model.insert(*k, None); }
                }
            }
            let fin: BTreeMap<u64, Option<Vec<u8>>> =
                b.final_ops().into_iter().map(|(k, v)| (k, v.map(<[u8]>::to_vec))).collect();
            prop_assert_eq!(b.final_ops().len(), fin.len(), "one op per key");
            prop_assert!(b.final_ops().windows(2).all(|w| w[0].0 < w[1].0), "key order");
            prop_assert_eq!(fin, model);
        }
    }
}
