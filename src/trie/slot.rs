//! What a layer's ALEX holds per slot: the slot's word (a direct payload or a bucket, see
//! `bucket.rs`) and a **hint**.
//!
//! When the slot is a bucket of exactly one key that does not end inside the slice (no short
//! key, no child layer, the slot's own slice), the hint is that key's payload word; otherwise it is
//! [`NO_HINT`]. A lookup that reaches such a slot can hand the payload to a caller that checks
//! the key itself (the engine compares the key a hot-tier record carries) without reading the
//! bucket: one dependent cache miss less, the one that made a byte-key read slower than a
//! `u64` read (issue 22). The bucket stays the truth: [`super::Trie::get`] reads it as before,
//! and every change of the bucket re-encodes the slot, hint included (`BucketData::encode`).
//!
//! When the slot is a bucket that holds nothing but a child layer for the slot's own slice (no
//! entries), the hint is that **child's address**, tagged like a bucket word
//! (`bucket::child_hint`), so it is never a payload word nor [`NO_HINT`]. A lookup whose key goes on past the slice
//! steps from the slot straight to the child, without reading the bucket: one dependent cache
//! miss less per hop down a trie of long shared paths (URLs). The child is a `Box<Layer>` the
//! bucket owns; its address never changes while the bucket holds it (a rebuild replaces the
//! layer in place, and re-encoding a bucket moves the `Box`, not the layer), and every
//! encoding of a bucket computes its hint afresh.
//!
//! The hint costs 8 bytes per slot (ALEX's payload array), so only layers that have hints pay
//! it (`slots.rs`: a layer of words, 8 bytes a slot, until it needs hints); a hinted slot is one
//! aligned 16-byte pair, so reading it touches one cache line, as the word alone does.

/// A slot's hint when it has none. Never a payload: payload words are below
/// [`super::RESERVED_WORDS`].
pub(super) const NO_HINT: u64 = u64::MAX;

/// One slot of a layer's ALEX (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(16))]
pub struct Slot {
    /// The direct payload, or the bucket's word.
    pub(super) word: u64,
    /// The payload of the bucket's one long key, the address of its only child
    /// (`bucket::child_hint`), or [`NO_HINT`].
    pub(super) hint: u64,
}

impl Slot {
    /// A slot holding a direct payload (or a bucket without a hint).
    #[inline(always)]
    pub(super) fn plain(word: u64) -> Slot {
        Slot {
            word,
            hint: NO_HINT,
        }
    }

    /// The slot's word.
    #[inline(always)]
    pub(super) fn word(self) -> u64 {
        self.word
    }
}
