//! A fixed-size bitmap of occupied slots, with the neighbour searches a gapped array needs.

use super::array::NodeArray;

/// One bit per slot of a data node: set = the slot holds a real entry, clear = a gap.
/// Its words are a [`NodeArray`], so a large node's bitmap is mapped and unmapped with its
/// arrays rather than taken from `malloc` (see `array`).
pub(crate) struct Bitmap {
    words: NodeArray<u64>,
    len: usize,
}

impl Bitmap {
    /// An all-clear bitmap of `len` bits.
    pub(crate) fn new(len: usize) -> Self {
        Bitmap {
            words: NodeArray::filled(len.div_ceil(64), 0),
            len,
        }
    }

    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> bool {
        self.words[i >> 6] & (1u64 << (i & 63)) != 0
    }

    #[inline(always)]
    pub(crate) fn set(&mut self, i: usize) {
        self.words[i >> 6] |= 1u64 << (i & 63);
    }

    #[inline(always)]
    pub(crate) fn clear(&mut self, i: usize) {
        self.words[i >> 6] &= !(1u64 << (i & 63));
    }

    /// Address of the word holding bit `i` (for prefetching; not dereferenced here).
    #[inline(always)]
    pub(crate) fn word_ptr(&self, i: usize) -> *const u64 {
        self.words.as_ptr().wrapping_add(i >> 6)
    }

    /// Number of 64-bit words.
    #[inline]
    pub(crate) fn words(&self) -> usize {
        self.words.len()
    }

    /// Word `w` (bit `i` of the bitmap is bit `i % 64` of word `i / 64`); 0 past the end.
    /// Bits past `len` are never set.
    #[inline]
    pub(crate) fn word(&self, w: usize) -> u64 {
        self.words.get(w).copied().unwrap_or(0)
    }

    /// Bytes held by the bitmap's words.
    pub(crate) fn bytes(&self) -> usize {
        self.words.len() * 8
    }

    /// The first set bit at or after `i`.
    #[inline]
    pub(crate) fn next_set(&self, i: usize) -> Option<usize> {
        self.next_matching(i, false)
    }

    /// The first clear bit at or after `i`.
    #[inline]
    pub(crate) fn next_clear(&self, i: usize) -> Option<usize> {
        self.next_matching(i, true)
    }

    /// The last set bit at or before `i`.
    #[inline]
    pub(crate) fn prev_set(&self, i: usize) -> Option<usize> {
        self.prev_matching(i, false)
    }

    /// The last clear bit at or before `i`.
    #[inline]
    pub(crate) fn prev_clear(&self, i: usize) -> Option<usize> {
        self.prev_matching(i, true)
    }

    #[inline]
    fn next_matching(&self, i: usize, clear: bool) -> Option<usize> {
        if i >= self.len {
            return None;
        }
        let mut w = i >> 6;
        let flip = if clear { !0u64 } else { 0 };
        let mut word = (self.words[w] ^ flip) & (!0u64 << (i & 63));
        loop {
            if word != 0 {
                let found = (w << 6) + word.trailing_zeros() as usize;
                return (found < self.len).then_some(found);
            }
            w += 1;
            if w >= self.words.len() {
                return None;
            }
            word = self.words[w] ^ flip;
        }
    }

    #[inline]
    fn prev_matching(&self, i: usize, clear: bool) -> Option<usize> {
        let i = i.min(self.len.checked_sub(1)?);
        let mut w = i >> 6;
        let flip = if clear { !0u64 } else { 0 };
        let shift = 63 - (i & 63);
        let mut word = (self.words[w] ^ flip) & (!0u64 >> shift);
        loop {
            if word != 0 {
                return Some((w << 6) + 63 - word.leading_zeros() as usize);
            }
            if w == 0 {
                return None;
            }
            w -= 1;
            word = self.words[w] ^ flip;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbour_searches_agree_with_a_linear_scan() {
        let len = 200;
        let mut b = Bitmap::new(len);
        let set: Vec<usize> = vec![0, 5, 63, 64, 65, 127, 150, 199];
        for &i in &set {
            b.set(i);
        }
        for i in 0..len + 2 {
            let ns = (i..len).find(|j| set.contains(j));
            let nc = (i..len).find(|j| !set.contains(j));
            assert_eq!(b.next_set(i), ns, "next_set {i}");
            assert_eq!(b.next_clear(i), nc, "next_clear {i}");
            if i < len {
                let ps = (0..=i).rev().find(|j| set.contains(j));
                let pc = (0..=i).rev().find(|j| !set.contains(j));
                assert_eq!(b.prev_set(i), ps, "prev_set {i}");
                assert_eq!(b.prev_clear(i), pc, "prev_clear {i}");
            }
        }
        b.clear(64);
        assert!(!b.get(64));
        assert_eq!(b.next_set(64), Some(65));
    }

    #[test]
    fn clear_bits_past_the_end_are_not_reported() {
        let mut b = Bitmap::new(70);
        for i in 0..70 {
            b.set(i);
        }
        assert_eq!(b.next_clear(0), None);
        assert_eq!(b.prev_clear(69), None);
    }
}
