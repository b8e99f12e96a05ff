//! The value cache's admission doorkeeper: one bit per key hash, set by a key's first miss in a
//! window and cleared with the window (the cache's module docs, "Admission").

use std::sync::atomic::{AtomicU64, Ordering};

/// Smallest doorkeeper, in 64-bit words.
const DOORKEEPER_MIN_WORDS: usize = 64;
/// One first miss in this many (by key hash) counts toward the doorkeeper's reset, so readers
/// rarely write the shared counter.
const DOORKEEPER_COUNT_EVERY: u64 = 64;

/// Keys that missed once in the current window (`cache`'s module docs, "Admission").
pub(super) struct Doorkeeper {
    words: Box<[AtomicU64]>,
    /// Counted first misses (one in [`DOORKEEPER_COUNT_EVERY`]) since the last clear.
    counted: AtomicU64,
    /// Clear when `counted` reaches this.
    clear_at: u64,
}

impl Doorkeeper {
    /// A doorkeeper of about `bytes` bytes (a power of two of words, at least the minimum).
    pub(super) fn new(bytes: usize) -> Self {
        let words = (bytes / 8).max(DOORKEEPER_MIN_WORDS).next_power_of_two();
        let bits = (words * 64) as u64;
        Doorkeeper {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            counted: AtomicU64::new(0),
            clear_at: (bits / 8 / DOORKEEPER_COUNT_EVERY).max(1),
        }
    }

    /// Whether the key of `hash` missed before in this window; marks it as having missed.
    pub(super) fn admit(&self, hash: u64) -> bool {
        let (word, mask, h) = self.bit(hash);
        if word.load(Ordering::Relaxed) & mask != 0 {
            return true;
        }
        if word.fetch_or(mask, Ordering::Relaxed) & mask != 0 {
            return true;
        }
        if h % DOORKEEPER_COUNT_EVERY == 0
            && self.counted.fetch_add(1, Ordering::Relaxed) + 1 >= self.clear_at
        {
            // Racing readers may set bits meanwhile or clear twice: admission is a heuristic.
            self.counted.store(0, Ordering::Relaxed);
            for w in self.words.iter() {
                w.store(0, Ordering::Relaxed);
            }
        }
        false
    }

    /// The word and mask of the bit of the key of `hash`, and the remixed hash they came from.
    fn bit(&self, hash: u64) -> (&AtomicU64, u64, u64) {
        // Bits of the hash the shard and stripe choice do not use (those take the low bits and
        // bits 32 and up).
        let h = hash.rotate_right(13).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let bit = (h >> 32) as usize & (self.words.len() * 64 - 1);
        (&self.words[bit / 64], 1u64 << (bit % 64), h)
    }

    /// Bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.words.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::hash::spread_bytes;

    #[test]
    fn the_doorkeeper_forgets_after_a_window_of_first_misses() {
        let d = Doorkeeper::new(0);
        let bits = (d.words.len() * 64) as u64;
        assert!(!d.admit(spread_bytes(&u64::MAX.to_be_bytes())));
        // Many more first misses than the window holds: the first key's bit is cleared at
        // some point, and the doorkeeper never fills beyond about an eighth of its bits.
        let mut forgot = false;
        for n in 0..bits * 4 {
            d.admit(spread_bytes(&n.to_be_bytes()));
            let set: u64 = d
                .words
                .iter()
                .map(|w| u64::from(w.load(Ordering::Relaxed).count_ones()))
                .sum();
            assert!(set <= bits / 4, "{set} of {bits} bits set");
            if n % 97 == 0 && !forgot {
                let (word, mask, _) = d.bit(spread_bytes(&u64::MAX.to_be_bytes()));
                forgot = word.load(Ordering::Relaxed) & mask == 0;
            }
        }
        assert!(forgot);
    }
}
