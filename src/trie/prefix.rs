//! A layer's prefix (the bytes all its keys share, `mod.rs`), held inside the layer when it is
//! short.
//!
//! A lookup compares every layer's prefix with the key before it reads the layer's slice. With
//! the prefix in a heap allocation of its own, that compare was a cache miss of its own at every
//! hop down a deep trie (10M URLs: `memcmp` took a third of a lookup's samples in a `perf`
//! profile, issue 22). Prefixes are short (a host name's tail, a path separator), so up to
//! [`INLINE`] bytes sit in the layer's header, on the lines the lookup reads anyway; longer ones
//! stay on the heap.

use std::ops::Deref;

/// The longest prefix held inline; with the length and the variant's tag, 24 bytes, as many as a
/// boxed slice and its tag.
const INLINE: usize = 22;

/// A layer's prefix (module docs).
#[derive(Clone)]
pub(crate) enum Prefix {
    /// The first `len` bytes of `bytes`.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// A prefix longer than [`INLINE`] bytes.
    Heap(Box<[u8]>),
}

impl Default for Prefix {
    fn default() -> Self {
        Prefix::Inline {
            len: 0,
            bytes: [0; INLINE],
        }
    }
}

impl From<&[u8]> for Prefix {
    fn from(p: &[u8]) -> Self {
        if p.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..p.len()].copy_from_slice(p);
            Prefix::Inline {
                len: p.len() as u8,
                bytes,
            }
        } else {
            Prefix::Heap(p.into())
        }
    }
}

impl Deref for Prefix {
    type Target = [u8];

    #[inline(always)]
    fn deref(&self) -> &[u8] {
        match self {
            Prefix::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Prefix::Heap(b) => b,
        }
    }
}

impl Prefix {
    /// Whether it is empty: one compare, for the lookup of every layer (most have none; a
    /// `u64` database's one layer never has one).
    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Prefix::Inline { len: 0, .. })
    }

    /// Heap bytes it holds beyond itself.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Prefix::Inline { .. } => 0,
            Prefix::Heap(b) => b.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_of_every_length_read_back_as_given() {
        let long: Vec<u8> = (0..=255u8).rev().collect();
        for n in [0, 1, 7, 8, INLINE - 1, INLINE, INLINE + 1, 64, 256] {
            let p = Prefix::from(&long[..n]);
            assert_eq!(&p[..], &long[..n], "length {n}");
            assert_eq!(
                p.heap_bytes(),
                if n <= INLINE { 0 } else { n },
                "length {n}"
            );
            assert_eq!(&p.clone()[..], &long[..n]);
        }
        assert!(Prefix::default().is_empty());
        assert_eq!(std::mem::size_of::<Prefix>(), 24);
    }
}
