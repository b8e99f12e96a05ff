//! The keys of one `benchmark_vs_sqlite` run, of any `--key-kind`: the loaded keys, their load
//! order, and the lists the read phases go through (prepared before a timed loop starts, as the
//! key bytes the systems are given, the same list for every system).
//!
//! | kind | loaded keys | load order | misses |
//! |---|---|---|---|
//! | `u64` | [`generate_keys`] of the distribution, as 8 big-endian bytes (the keys the comparison always ran) | [`shuffled`](super::keys::shuffled), or key order for `sequential` | [`miss_keys`]: in the holes between loaded keys |
//! | byte kinds | [`generate_with_absent`] | shuffled (the same permutation [`shuffled`](super::keys::shuffled) gives as many keys) for `random`, sorted for `sequential` | drawn from a pool of keys of the kind that were not loaded (for `ycsb`, the record names after the loaded ones) |
//!
//! Query lists draw from the loaded keys as [`query_sequence`](super::keys::query_sequence) does (the same positions); a miss
//! list is checked key by key against the loaded keys before it is used.
//!
//! ```
//! use alexkv::bench::byte_keys::KeyKind;
//! use alexkv::bench::keys::KeyDist;
//! use alexkv::bench::vs_keys::RunKeys;
//! let keys = RunKeys::generate(KeyKind::Ycsb, KeyDist::Random, 1000, 100, 7).unwrap();
//! let queries = keys.sample(500, 1);
//! assert!(queries.iter().all(|k| keys.contains(k)));
//! let misses = keys.misses(200, 1).unwrap();
//! assert!(misses.iter().all(|k| !keys.contains(k)));
//! ```

use super::byte_keys::{generate_with_absent, KeyKind, KeySet};
use super::keys::{generate_keys, miss_keys, query_positions, KeyDist};

/// The loaded keys, sorted, and for byte kinds a pool of absent ones.
pub enum RunKeys {
    /// `u64` keys (sorted).
    U64(Vec<u64>),
    /// Byte-string keys.
    Bytes {
        /// Their kind.
        kind: KeyKind,
        /// The loaded keys, sorted bytewise.
        present: KeySet,
        /// Distinct keys of the kind that are not loaded, sorted.
        absent: KeySet,
    },
}

impl RunKeys {
    /// Refuses a distribution a byte kind has no meaning for: a byte kind's keys come from its
    /// generator, and `dist` only picks the load order (`random`: shuffled, `sequential`:
    /// sorted).
    pub fn check_dist(kind: KeyKind, dist: KeyDist) -> Result<(), String> {
        match (kind, dist) {
            (KeyKind::U64, _) | (_, KeyDist::Random | KeyDist::Sequential) => Ok(()),
            _ => Err(format!(
                "{dist} shapes u64 keys; with --key-kind {kind} the distribution is the load \
                 order: random (shuffled) or sequential (sorted)"
            )),
        }
    }

    /// `rows` keys of `kind` (for `u64`, drawn from `dist`), and for byte kinds up to
    /// `absent` keys of the kind that are not among them.
    pub fn generate(
        kind: KeyKind,
        dist: KeyDist,
        rows: usize,
        absent: usize,
        seed: u64,
    ) -> Result<RunKeys, String> {
        Self::check_dist(kind, dist)?;
        Ok(match kind {
            KeyKind::U64 => RunKeys::U64(generate_keys(dist, rows, seed)),
            _ => {
                let (present, absent) = generate_with_absent(kind, rows, absent, seed);
                RunKeys::Bytes {
                    kind,
                    present,
                    absent,
                }
            }
        })
    }

    /// Number of loaded keys.
    pub fn len(&self) -> usize {
        match self {
            RunKeys::U64(keys) => keys.len(),
            RunKeys::Bytes { present, .. } => present.len(),
        }
    }

    /// Whether no key is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Mean length of a loaded key in bytes (8 for `u64`).
    pub fn mean_len(&self) -> f64 {
        match self {
            RunKeys::U64(_) => 8.0,
            RunKeys::Bytes { present, .. } => present.mean_len(),
        }
    }

    /// The loaded keys in key order.
    pub fn sorted(&self) -> KeySet {
        match self {
            RunKeys::U64(keys) => KeySet::from_u64s(keys.iter().copied()),
            RunKeys::Bytes { present, .. } => present.clone(),
        }
    }

    /// The loaded keys in a random order (the permutation `keys::shuffled` gives with `seed`).
    pub fn shuffled(&self, seed: u64) -> KeySet {
        match self {
            RunKeys::U64(keys) => {
                let mut set = KeySet::from_u64s(keys.iter().copied());
                set.shuffle(seed);
                set
            }
            RunKeys::Bytes { present, .. } => present.shuffled(seed),
        }
    }

    /// The order the keys are loaded in: key order for `sequential`, else shuffled with `seed`.
    pub fn load_order(&self, dist: KeyDist, seed: u64) -> KeySet {
        match dist {
            KeyDist::Sequential => self.sorted(),
            _ => self.shuffled(seed),
        }
    }

    /// `n` loaded keys drawn uniformly with replacement (the draws of `keys::query_sequence`).
    pub fn sample(&self, n: usize, seed: u64) -> KeySet {
        if self.is_empty() {
            return KeySet::default();
        }
        let positions = query_positions(self.len(), n, seed);
        match self {
            RunKeys::U64(keys) => KeySet::from_u64s(positions.map(|i| keys[i])),
            RunKeys::Bytes { present, .. } => present.gather(positions),
        }
    }

    /// `n` keys that are not loaded: for `u64` [`miss_keys`]; for byte kinds drawn uniformly
    /// with replacement from the pool of absent keys. Fails if the pool is empty or if any key
    /// of the list is loaded after all.
    pub fn misses(&self, n: usize, seed: u64) -> Result<KeySet, String> {
        let list = match self {
            RunKeys::U64(keys) => KeySet::from_u64s(miss_keys(keys, n, seed)),
            RunKeys::Bytes { kind, absent, .. } => {
                if absent.is_empty() && n > 0 {
                    return Err(format!("no {kind} key is left that was not loaded"));
                }
                absent.gather(query_positions(absent.len(), n, seed))
            }
        };
        if let Some(k) = list.iter().find(|k| self.contains(k)) {
            return Err(format!("the miss key {k:?} is loaded"));
        }
        Ok(list)
    }

    /// Whether `key` is loaded.
    pub fn contains(&self, key: &[u8]) -> bool {
        match self {
            RunKeys::U64(keys) => <[u8; 8]>::try_from(key)
                .is_ok_and(|w| keys.binary_search(&u64::from_be_bytes(w)).is_ok()),
            RunKeys::Bytes { present, .. } => present.binary_search(key).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::keys::{query_sequence, shuffled};

    #[test]
    fn u64_lists_are_the_u64_harness_lists_as_big_endian_bytes() {
        let keys = RunKeys::generate(KeyKind::U64, KeyDist::Random, 5000, 0, 42).unwrap();
        let ints = generate_keys(KeyDist::Random, 5000, 42);
        assert_eq!(keys.mean_len(), 8.0);
        assert_eq!(keys.sorted(), KeySet::from_u64s(ints.iter().copied()));
        assert_eq!(
            keys.load_order(KeyDist::Random, 9),
            KeySet::from_u64s(shuffled(&ints, 9))
        );
        assert_eq!(
            keys.sample(700, 3),
            KeySet::from_u64s(query_sequence(&ints, 700, 3))
        );
        assert_eq!(
            keys.misses(300, 4).unwrap(),
            KeySet::from_u64s(miss_keys(&ints, 300, 4))
        );
        let seq = RunKeys::generate(KeyKind::U64, KeyDist::Sequential, 100, 0, 1).unwrap();
        assert_eq!(
            seq.load_order(KeyDist::Sequential, 9),
            KeySet::from_u64s(0..100)
        );
    }

    #[test]
    fn byte_kinds_load_shuffled_or_sorted_and_miss_keys_of_their_kind() {
        for kind in [
            KeyKind::Ycsb,
            KeyKind::Composite,
            KeyKind::Url,
            KeyKind::Random16,
        ] {
            let keys = RunKeys::generate(kind, KeyDist::Random, 4000, 400, 5).unwrap();
            assert_eq!(keys.len(), 4000);
            let sorted = keys.sorted();
            assert_eq!(keys.load_order(KeyDist::Sequential, 1), sorted);
            let order = keys.load_order(KeyDist::Random, 1);
            assert_ne!(order, sorted, "{kind}");
            let mut back: Vec<&[u8]> = order.iter().collect();
            back.sort();
            assert!(back.into_iter().eq(sorted.iter()), "{kind}: a permutation");
            let queries = keys.sample(1000, 2);
            assert_eq!(queries.len(), 1000);
            assert!(queries.iter().all(|k| keys.contains(k)), "{kind}");
            let misses = keys.misses(1000, 3).unwrap();
            assert_eq!(misses.len(), 1000);
            assert!(misses.iter().all(|k| !keys.contains(k)), "{kind}");
            assert_eq!(misses, keys.misses(1000, 3).unwrap());
        }
    }

    #[test]
    fn byte_kinds_take_only_the_load_order_distributions() {
        assert!(RunKeys::generate(KeyKind::Url, KeyDist::Lognormal, 10, 1, 1).is_err());
        assert!(RunKeys::check_dist(KeyKind::Ycsb, KeyDist::Clustered).is_err());
        assert!(RunKeys::check_dist(KeyKind::U64, KeyDist::Clustered).is_ok());
        assert!(RunKeys::check_dist(KeyKind::Random16, KeyDist::Sequential).is_ok());
    }
}
