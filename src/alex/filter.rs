//! A data node's key filter: a blocked Bloom filter that answers "certainly absent" for most keys
//! a node does not hold, without touching the node's key array.
//!
//! A lookup of an absent key in a large data node costs one DRAM miss on the key line (the
//! prediction's neighbourhood of a multi-megabyte array). The filter of a whole index is a few
//! bits per key (~12 MiB at 10M keys), small enough to stay in the last-level cache while the key
//! arrays cannot, so a miss it rejects costs a cache hit instead of a DRAM miss. A present key
//! still searches the key array and loads the filter's word too, from an array the hits' own
//! traffic keeps out of the cache: +~55 ns per hit in a tight loop at 10M keys, and one more
//! memory access per insert (`internal/DESIGN.md`, "Decisions that still hold",
//! "Reads, marks and the index lock"). Hence optional.
//!
//! # Layout
//! One 64-bit word per [`KEYS_PER_WORD`] keys the node may hold before it must grow; a key sets
//! [`PROBES`] bits, all in the one word its hash picks, so a check is one load and one mask
//! compare (a "register-blocked" Bloom filter: a few more false positives than bits spread over a
//! whole line, far fewer instructions on every lookup).
//!
//! # What it may say
//! - Never "absent" for a key the node holds: every key placed or inserted sets its bits, and
//!   bits are cleared only by rebuilding the node (which builds a new filter from its keys).
//! - A removed key's bits stay until the node is rebuilt. A node that keeps taking new keys
//!   while deletes keep its count down would fill its filter with stale bits, so a filter that
//!   has taken more than [`SATURATION`] times the keys it was sized for stops answering (every
//!   key "may be present", as without a filter) until the node is next rebuilt.

use super::array::NodeArray;

/// Keys per 64-bit word at the node's growth bound: 8 bits per key at the fullest, ~10.7 at a
/// node's usual fill (0.6 of 0.8 after an expansion).
const KEYS_PER_WORD: usize = 8;
/// Bits each key sets in its word.
const PROBES: u32 = 5;
/// A filter that has taken this many times the keys it was sized for stops answering.
const SATURATION: usize = 2;

/// See the module docs.
pub(crate) struct KeyFilter {
    words: NodeArray<u64>,
    /// Keys added since the filter was built; past `limit` the filter answers "maybe" always.
    added: usize,
    limit: usize,
}

impl KeyFilter {
    /// An empty filter for a node that may hold up to `max_keys` keys before it grows.
    pub(crate) fn new(max_keys: usize) -> Self {
        KeyFilter {
            words: NodeArray::filled(max_keys.div_ceil(KEYS_PER_WORD).max(1), 0),
            added: 0,
            limit: max_keys.max(1).saturating_mul(SATURATION),
        }
    }

    /// Records `key` as held.
    #[inline]
    pub(crate) fn add(&mut self, key: u64) {
        self.added += 1;
        let (word, mask) = self.probe(key);
        self.words[word] |= mask;
    }

    /// False only when `key` was never added since the filter was built.
    #[inline(always)]
    pub(crate) fn may_contain(&self, key: u64) -> bool {
        if self.added > self.limit {
            return true;
        }
        let (word, mask) = self.probe(key);
        self.words[word] & mask == mask
    }

    /// The address of the word `may_contain(key)` reads (for `alex::trace`).
    pub(crate) fn word_ptr(&self, key: u64) -> *const u8 {
        self.words.ptr_at(self.probe(key).0).cast()
    }

    /// Bytes of the filter's array mapped from the kernel (`NodeArray::mapped_bytes`).
    pub(crate) fn mapped_bytes(&self) -> usize {
        self.words.mapped_bytes()
    }

    /// Whether the filter has stopped answering (module docs).
    #[cfg(test)]
    pub(crate) fn saturated(&self) -> bool {
        self.added > self.limit
    }

    /// The word `key` maps to and the bits it sets there. One mix feeds both: the word comes
    /// from the hash's high bits (the high half of a 128-bit product, no division), the
    /// [`PROBES`] bit positions from its low 30 bits.
    #[inline(always)]
    fn probe(&self, key: u64) -> (usize, u64) {
        let h = mix(key);
        let word = ((h as u128 * self.words.len() as u128) >> 64) as usize;
        let mut mask = 0u64;
        for i in 0..PROBES {
            mask |= 1 << ((h >> (6 * i)) & 63);
        }
        (word, mask)
    }

    /// Bytes the filter holds.
    pub(crate) fn bytes(&self) -> usize {
        self.words.len() * 8
    }

    /// `(start address, bytes)` of the filter's array (for the huge-page report).
    pub(crate) fn byte_range(&self) -> (usize, usize) {
        self.words.byte_range()
    }
}

/// A 64-bit finaliser (the splitmix64 constants): every input bit flips about half the output
/// bits, so sequential and clustered keys spread over the words.
#[inline(always)]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Share of `probes` absent keys the filter lets through.
    fn false_positive_rate(filter: &KeyFilter, probes: impl Iterator<Item = u64>) -> f64 {
        let (mut n, mut fp) = (0usize, 0usize);
        for k in probes {
            n += 1;
            fp += filter.may_contain(k) as usize;
        }
        fp as f64 / n as f64
    }

    #[test]
    fn never_rejects_an_added_key() {
        let mut f = KeyFilter::new(10_000);
        let keys: Vec<u64> = (0..10_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        for &k in &keys {
            f.add(k);
        }
        assert!(keys.iter().all(|&k| f.may_contain(k)));
        assert!(f.may_contain(keys[0]));
    }

    #[test]
    fn rejects_most_absent_keys_at_the_growth_bound() {
        for (name, keys) in [
            ("sequential", (0..100_000u64).collect::<Vec<_>>()),
            ("strided", (0..100_000u64).map(|i| i * 1000).collect()),
            (
                "random",
                (0..100_000u64).map(|i| mix(i + 17)).collect::<Vec<_>>(),
            ),
        ] {
            let mut f = KeyFilter::new(keys.len());
            for &k in &keys {
                f.add(k);
            }
            let absent = (0..200_000u64).map(|i| mix(i ^ 0xDEAD_BEEF) | 1 << 63);
            let rate = false_positive_rate(&f, absent);
            // 8 bits per key, 5 probes in one 64-bit word: ~4% expected.
            assert!(rate < 0.06, "{name}: false positive rate {rate}");
            // Neighbours of the keys (the misses of a dense key set) too.
            let near = keys.iter().map(|&k| k.wrapping_add(u64::MAX / 2));
            let rate = false_positive_rate(&f, near);
            assert!(rate < 0.06, "{name}, shifted: false positive rate {rate}");
        }
    }

    #[test]
    fn a_saturated_filter_answers_maybe_for_every_key() {
        let mut f = KeyFilter::new(100);
        for k in 0..200u64 {
            f.add(k);
        }
        // Twice the keys it was sized for: still answering, if poorly.
        assert!((1_000_000..1_001_000u64).any(|k| !f.may_contain(k)));
        f.add(200);
        assert!((1_000_000..1_001_000u64).all(|k| f.may_contain(k)));
    }

    #[test]
    fn an_empty_filter_rejects_everything() {
        let f = KeyFilter::new(0);
        assert_eq!(f.bytes(), 8);
        assert!((0..1000u64).all(|k| !f.may_contain(k)));
    }
}
