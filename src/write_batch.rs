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

use crate::keys::{Key, MAX_KEY_LEN};

/// A batch of puts and deletes, applied atomically: after a crash either all of it is visible
/// or none of it. Keys are any [`Key`]: `u64`, byte strings, text.
///
/// ```
/// use alexkv::WriteBatch;
///
/// let mut batch = WriteBatch::new();
/// batch.put(1, b"one");
/// batch.put("two", "two");
/// batch.delete(1);
/// assert_eq!(batch.len(), 3);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<RawOp>,
    /// Every operation's key, and a put's value after it.
    data: Vec<u8>,
    /// Bytes of values in `data`.
    value_bytes: usize,
    /// The first key that is not one (too long, a negative `i32`): [`Db::write`] refuses the
    /// batch with it, and the operation was not added.
    ///
    /// [`Db::write`]: crate::Db::write
    bad_key: Option<BadKey>,
}

/// Why a key given to a batch was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BadKey {
    /// Longer than `MAX_KEY_LEN`.
    TooLong(usize),
    /// Not a key at all (the message of `Error::InvalidKey`).
    Invalid(String),
}

/// One operation: its key is `data[start..start + key_len]`, a put's value follows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct RawOp {
    start: usize,
    key_len: u32,
    /// `None` for a delete.
    len: Option<usize>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `ops` operations and `value_bytes` bytes of values (and
    /// 8-byte keys).
    pub fn with_capacity(ops: usize, value_bytes: usize) -> Self {
        WriteBatch {
            ops: Vec::with_capacity(ops),
            data: Vec::with_capacity(value_bytes + 8 * ops),
            ..Self::default()
        }
    }

    /// Adds "set `key` to `value`". A key that is not one (longer than
    /// [`MAX_KEY_LEN`](crate::MAX_KEY_LEN), a negative `i32`) makes the whole batch fail when
    /// written, with nothing written.
    pub fn put(&mut self, key: impl Key, value: impl AsRef<[u8]>) {
        let value = value.as_ref();
        if let Some(start) = self.push_key(&key) {
            self.data.extend_from_slice(value);
            self.value_bytes += value.len();
            let key_len = (self.data.len() - start - value.len()) as u32;
            self.ops.push(RawOp {
                start,
                key_len,
                len: Some(value.len()),
            });
        }
    }

    /// Adds "remove `key`" (a no-op if it is absent when the batch is applied).
    pub fn delete(&mut self, key: impl Key) {
        if let Some(start) = self.push_key(&key) {
            let key_len = (self.data.len() - start) as u32;
            self.ops.push(RawOp {
                start,
                key_len,
                len: None,
            });
        }
    }

    /// Appends the key's bytes to `data` and returns where they start, or records why it is
    /// not a key.
    fn push_key(&mut self, key: &impl Key) -> Option<usize> {
        let bytes = match key.key_bytes() {
            Ok(b) => b,
            Err(e) => {
                self.bad_key.get_or_insert(BadKey::Invalid(e.to_string()));
                return None;
            }
        };
        if bytes.len() > MAX_KEY_LEN {
            self.bad_key.get_or_insert(BadKey::TooLong(bytes.len()));
            return None;
        }
        let start = self.data.len();
        self.data.extend_from_slice(&bytes);
        Some(start)
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
        self.value_bytes = 0;
        self.bad_key = None;
    }

    /// Total bytes of the values of all puts.
    pub fn value_bytes(&self) -> usize {
        self.value_bytes
    }

    /// The first key refused by `put` or `delete`, if any.
    pub(crate) fn bad_key(&self) -> Option<&BadKey> {
        self.bad_key.as_ref()
    }

    /// Every operation in insertion order: `(key, Some(value))` for a put, `(key, None)` for a
    /// delete.
    pub(crate) fn ops(&self) -> impl ExactSizeIterator<Item = (&[u8], Option<&[u8]>)> + '_ {
        self.ops.iter().map(|op| self.view(op))
    }

    /// Only the last operation of each key, in increasing key order. Applying these gives the
    /// same final state as applying [`WriteBatch::ops`] (each key is touched once, so their
    /// order does not matter to the result).
    pub(crate) fn final_ops(&self) -> Vec<(&[u8], Option<&[u8]>)> {
        // Sorted by (the 8 key bytes after the prefix every key of the batch shares, as a
        // big-endian number, the key, insertion order): the number decides most comparisons in
        // one instruction (all of them for `u64` keys; for YCSB's record names, which all start
        // `user`, the digits after it), and insertion order last makes the last of each key's
        // run its final operation. Keys that share the prefix compare as their bytes after it.
        let first = self.ops.first().map_or(&[][..], |op| self.view(op).0);
        let shared = self.ops.iter().fold(first.len(), |n, op| {
            let k = self.view(op).0;
            first[..n].iter().zip(k).take_while(|(a, b)| a == b).count()
        });
        let mut order: Vec<(u64, u32)> = self
            .ops
            .iter()
            .enumerate()
            .map(|(i, op)| (prefix_word(&self.view(op).0[shared..]), i as u32))
            .collect();
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| {
                let (ka, kb) = (&self.key_at(a.1)[shared..], &self.key_at(b.1)[shared..]);
                ka.cmp(kb).then(a.1.cmp(&b.1))
            })
        });
        let mut out: Vec<(&[u8], Option<&[u8]>)> = Vec::with_capacity(order.len());
        for &(_, i) in &order {
            let op = self.view(&self.ops[i as usize]);
            match out.last_mut() {
                Some(last) if last.0 == op.0 => *last = op,
                _ => out.push(op),
            }
        }
        out
    }

    fn key_at(&self, i: u32) -> &[u8] {
        self.view(&self.ops[i as usize]).0
    }

    /// The first put whose value is longer than `limit`, as `(key, len)`.
    pub(crate) fn first_oversized(&self, limit: usize) -> Option<(&[u8], usize)> {
        self.ops.iter().find_map(|op| match op.len {
            Some(len) if len > limit => Some((self.view(op).0, len)),
            _ => None,
        })
    }

    fn view(&self, op: &RawOp) -> (&[u8], Option<&[u8]>) {
        let key_end = op.start + op.key_len as usize;
        (
            &self.data[op.start..key_end],
            op.len.map(|len| &self.data[key_end..key_end + len]),
        )
    }
}

/// A key's first 8 bytes (zero-padded) as a big-endian number: comparing two of them orders
/// their keys, except between keys whose first 8 bytes are equal or that are zero-padded to
/// equal (which the full comparison then decides).
#[inline]
fn prefix_word(key: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = key.len().min(8);
    w[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(w)
}

impl std::fmt::Debug for WriteBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBatch")
            .field("ops", &self.ops.len())
            .field("value_bytes", &self.value_bytes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn k(n: u64) -> [u8; 8] {
        n.to_be_bytes()
    }

    #[test]
    fn byte_keys_mix_with_integer_keys_and_bad_keys_are_recorded() {
        let mut b = WriteBatch::new();
        b.put("ab", b"1");
        b.put(b"", b"2");
        b.put(1u64, b"3");
        b.delete("ab\0");
        assert_eq!(b.bad_key(), None);
        b.put(vec![0u8; MAX_KEY_LEN + 1], b"x");
        b.put(-1, b"y");
        assert_eq!(b.len(), 4, "refused keys add no operation");
        assert_eq!(b.bad_key(), Some(&BadKey::TooLong(MAX_KEY_LEN + 1)));
        let keys: Vec<&[u8]> = b.final_ops().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![&b""[..], &k(1)[..], b"ab", b"ab\0"]);
        assert_eq!(b.value_bytes(), 3);
        b.clear();
        assert_eq!(b.bad_key(), None);
    }

    #[test]
    fn ops_keep_insertion_order() {
        let mut b = WriteBatch::new();
        b.put(3, b"c");
        b.delete(1);
        b.put(2, b"");
        let ops: Vec<_> = b.ops().collect();
        assert_eq!(
            ops,
            vec![
                (&k(3)[..], Some(&b"c"[..])),
                (&k(1)[..], None),
                (&k(2)[..], Some(&b""[..]))
            ]
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
                (&k(1)[..], None),
                (&k(2)[..], Some(&b"bb"[..])),
                (&k(u64::MAX)[..], Some(&b"max"[..]))
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
        assert_eq!(b.first_oversized(4), Some((&k(2)[..], 10)));
        assert_eq!(b.first_oversized(10), None);
    }

    proptest! {
        #[test]
        fn final_ops_match_sequential_application(
            ops in proptest::collection::vec((0u64..8, proptest::option::of(any::<u8>())), 0..40)
        ) {
            let mut b = WriteBatch::new();
            let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
            for (k, v) in &ops {
                match v {
                    Some(byte) => { b.put(*k, [*byte]); model.insert(k.to_be_bytes().to_vec(), Some(vec![*byte])); }
                    None => { b.delete(*k); model.insert(k.to_be_bytes().to_vec(), None); }
                }
            }
            let fin: BTreeMap<Vec<u8>, Option<Vec<u8>>> =
                b.final_ops().into_iter().map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec))).collect();
            prop_assert_eq!(b.final_ops().len(), fin.len(), "one op per key");
            prop_assert!(b.final_ops().windows(2).all(|w| w[0].0 < w[1].0), "key order");
            prop_assert_eq!(fin, model);
        }

        #[test]
        fn final_ops_of_byte_keys_sharing_prefixes_are_in_byte_order(
            ops in proptest::collection::vec((0usize..14, proptest::option::of(any::<u8>())), 0..60)
        ) {
            // Keys that share prefixes of many lengths, end inside and past 8-byte words, and
            // are prefixes of each other (the empty key among them).
            const POOL: [&[u8]; 14] = [
                b"", b"user", b"user1", b"user1\0", b"user12345678", b"user123456780",
                b"user1234567\xFF", b"user2", b"usex", b"\0", b"\xFF\xFF", b"user12345678\0\0",
                b"user123456789", b"user12345678x",
            ];
            let mut b = WriteBatch::new();
            let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
            for (k, v) in &ops {
                let key = POOL[*k];
                match v {
                    Some(byte) => { b.put(key, [*byte]); model.insert(key.to_vec(), Some(vec![*byte])); }
                    None => { b.delete(key); model.insert(key.to_vec(), None); }
                }
            }
            let fin: Vec<(Vec<u8>, Option<Vec<u8>>)> =
                b.final_ops().into_iter().map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec))).collect();
            prop_assert_eq!(fin, model.into_iter().collect::<Vec<_>>());
        }
    }
}
