//! Benchmark key sets: the loaded keys, the misses and the query sequence, all from one seed.
//!
//! Every generator returns the same output for the same `(distribution, n, seed)` on every machine,
//! so each system under test is given exactly the same keys in the same order.
//!
//! Key sets are returned **sorted and distinct**; call [`shuffled`] for a random insertion
//! order. The distributions follow the learned-index literature (ALEX, SOSD):
//!
//! | [`KeyDist`]  | keys                                                                        |
//! |--------------|-----------------------------------------------------------------------------|
//! | `sequential` | `0..n`                                                                      |
//! | `random`     | uniform over all of `u64`                                                   |
//! | `lognormal`  | `exp(N(0, 2))`, scaled so that `z = 8` standard deviations maps to `u64::MAX` |
//! | `clustered`  | runs of 100..=10 000 consecutive keys placed uniformly at random in `u64`     |
//!
//! ```
//! use alexkv::bench::keys::{generate_keys, miss_keys, query_sequence, KeyDist};
//! let keys = generate_keys(KeyDist::Lognormal, 1000, 7);
//! assert!(keys.windows(2).all(|w| w[0] < w[1]));
//! let misses = miss_keys(&keys, 100, 7);
//! assert!(misses.iter().all(|m| keys.binary_search(m).is_err()));
//! let queries = query_sequence(&keys, 500, 7);
//! assert!(queries.iter().all(|q| keys.binary_search(q).is_ok()));
//! ```

use std::fmt;
use std::str::FromStr;

use super::rng::Rng;

/// Sub-stream numbers, so that each generator's output is independent of the others'.
const STREAM_KEYS: u64 = 1;
const STREAM_SHUFFLE: u64 = 2;
const STREAM_MISSES: u64 = 3;
const STREAM_QUERIES: u64 = 4;

/// Shortest and longest run of consecutive keys in [`KeyDist::Clustered`].
pub const CLUSTER_RUN_MIN: u64 = 100;
/// See [`CLUSTER_RUN_MIN`].
pub const CLUSTER_RUN_MAX: u64 = 10_000;

/// Parameters of [`KeyDist::Lognormal`]: `exp(mu + sigma * z)` with `z ~ N(0, 1)`. `mu` only
/// multiplies every key by the same factor, which the scaling onto `u64` divides out again.
pub const LOGNORMAL_MU: f64 = 0.0;
/// See [`LOGNORMAL_MU`].
pub const LOGNORMAL_SIGMA: f64 = 2.0;
/// Draws with `|z|` above this are redrawn; `exp(mu + sigma * Z_MAX)` maps to `u64::MAX`.
/// The chance of one redraw among 10M draws is about 1e-8, so the cut changes nothing measurable.
const LOGNORMAL_Z_MAX: f64 = 8.0;

/// How the loaded keys are spread over `u64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyDist {
    /// `0..n`: the easiest case for a learned index (one perfect linear model).
    Sequential,
    /// Uniform over `u64`: linear at large scale, noisy at small scale.
    Random,
    /// Lognormal(0, 2): heavily skewed, dense at the low end with a long sparse tail.
    Lognormal,
    /// Dense runs of consecutive keys separated by huge random gaps: piecewise linear.
    Clustered,
}

impl KeyDist {
    /// Every distribution, in the order benchmark reports list them.
    pub const ALL: [KeyDist; 4] = [
        KeyDist::Sequential,
        KeyDist::Random,
        KeyDist::Lognormal,
        KeyDist::Clustered,
    ];

    /// The lower-case name used on command lines and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            KeyDist::Sequential => "sequential",
            KeyDist::Random => "random",
            KeyDist::Lognormal => "lognormal",
            KeyDist::Clustered => "clustered",
        }
    }
}

impl fmt::Display for KeyDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyDist {
    type Err = String;

    /// Parses the names printed by `Display`, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, String> {
        KeyDist::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown key distribution {s:?}; expected sequential, random, lognormal or clustered")
            })
    }
}

/// `n` distinct keys drawn from `dist`, sorted ascending.
///
/// Deterministic in `(dist, n, seed)`. Random draws that collide are replaced by fresh draws
/// (sort, deduplicate, refill) until exactly `n` distinct keys remain; at 10M keys this costs
/// one or two sorts.
///
/// # Panics
/// If `n` keys cannot exist (never for `n` that fits in memory).
pub fn generate_keys(dist: KeyDist, n: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng::derive(seed, STREAM_KEYS);
    match dist {
        KeyDist::Sequential => (0..n as u64).collect(),
        KeyDist::Random => draw_distinct(n, || rng.next_u64()),
        KeyDist::Lognormal => draw_distinct(n, || lognormal_key(&mut rng)),
        KeyDist::Clustered => clustered(n, &mut rng),
    }
}

/// Draws until `n` distinct values remain; the result is sorted.
fn draw_distinct(n: usize, mut draw: impl FnMut() -> u64) -> Vec<u64> {
    let mut keys: Vec<u64> = Vec::with_capacity(n);
    while keys.len() < n {
        let missing = n - keys.len();
        keys.extend((0..missing).map(|_| draw()));
        keys.sort_unstable();
        keys.dedup();
    }
    keys
}

/// One lognormal(mu, sigma) draw mapped onto `u64`.
fn lognormal_key(rng: &mut Rng) -> u64 {
    // exp(sigma * z) / exp(sigma * Z_MAX) is in (0, 1]; scale that to the u64 range.
    loop {
        let z = rng.next_normal();
        if z.abs() <= LOGNORMAL_Z_MAX {
            let unit = (LOGNORMAL_SIGMA * (z - LOGNORMAL_Z_MAX)).exp();
            // `as` saturates, so unit == 1.0 maps to u64::MAX.
            return (unit * u64::MAX as f64) as u64;
        }
    }
}

/// Runs of consecutive keys with lengths uniform in `CLUSTER_RUN_MIN..=CLUSTER_RUN_MAX`, placed
/// uniformly at random in `u64` without overlapping or touching.
fn clustered(n: usize, rng: &mut Rng) -> Vec<u64> {
    let n = n as u64;
    let mut runs: Vec<u64> = Vec::new();
    let mut total = 0u64;
    while total < n {
        let len = rng
            .range_inclusive(CLUSTER_RUN_MIN, CLUSTER_RUN_MAX)
            .min(n - total);
        runs.push(len);
        total += len;
    }
    // Free space left once the keys and a one-key gap after each run are set aside; the run
    // starts are the sorted offsets into that space plus the room taken by earlier runs.
    let reserved = n + runs.len() as u64;
    let free = u64::MAX - reserved;
    let mut offsets: Vec<u64> = (0..runs.len())
        .map(|_| rng.range_inclusive(0, free))
        .collect();
    offsets.sort_unstable();
    let mut keys = Vec::with_capacity(n as usize);
    let mut used = 0u64;
    for (len, offset) in runs.iter().zip(&offsets) {
        let start = offset + used;
        keys.extend(start..start + len);
        used += len + 1;
    }
    keys
}

/// A copy of `keys` in a random order determined by `seed` (for random-order inserts).
pub fn shuffled(keys: &[u64], seed: u64) -> Vec<u64> {
    let mut out = keys.to_vec();
    Rng::derive(seed, STREAM_SHUFFLE).shuffle(&mut out);
    out
}

/// The swaps [`shuffled`] makes on `len` keys with `seed` (`swap(i, j)` exchanges positions `i`
/// and `j`), for key lists that are not `u64` slices: the same permutation as `shuffled`.
pub fn shuffle_with(len: usize, seed: u64, swap: impl FnMut(usize, usize)) {
    Rng::derive(seed, STREAM_SHUFFLE).shuffle_with(len, swap);
}

/// `n` keys that are guaranteed not to be in `present_sorted` (which must be sorted and
/// distinct), for measuring misses. Misses may repeat, as queries do.
///
/// Misses are placed where the keys are, so a lookup exercises the same part of an index as a hit:
/// pick a uniformly random present key, find the nearest hole after it (a gap between two
/// consecutive present keys that are not adjacent integers, found by binary search in
/// `O(log n)`), or failing that the nearest hole before it, and draw uniformly inside that hole.
/// Only when the whole set is one run of consecutive integers (as with `sequential`) is the miss
/// drawn from the `len` integers just above the largest key, or failing that just below the
/// smallest; and only if the set also touches both ends of `u64` is a uniform `u64` drawn and
/// rejected while present.
///
/// With an empty `present_sorted`, every key is a miss and misses are uniform over `u64`.
pub fn miss_keys(present_sorted: &[u64], n: usize, seed: u64) -> Vec<u64> {
    debug_assert!(present_sorted.windows(2).all(|w| w[0] < w[1]));
    let mut rng = Rng::derive(seed, STREAM_MISSES);
    let keys = present_sorted;
    if keys.is_empty() {
        return (0..n).map(|_| rng.next_u64()).collect();
    }
    let (first, last) = (keys[0], keys[keys.len() - 1]);
    let span = keys.len() as u64;
    (0..n)
        .map(|_| {
            let i = rng.below(keys.len() as u64) as usize;
            if let Some((lo, hi)) = hole_after(keys, i).or_else(|| hole_before(keys, i)) {
                return rng.range_inclusive(lo + 1, hi - 1);
            }
            if last < u64::MAX {
                return rng.range_inclusive(last + 1, last.saturating_add(span));
            }
            if first > 0 {
                return rng.range_inclusive(first.saturating_sub(span), first - 1);
            }
            loop {
                let k = rng.next_u64();
                if keys.binary_search(&k).is_err() {
                    return k;
                }
            }
        })
        .collect()
}

/// The first pair of consecutive keys `(keys[j-1], keys[j])` with `j > i` that has at least one
/// integer between them, or `None` if `keys[i..]` is a run of consecutive integers.
///
/// `keys[j] - keys[i] - (j - i)` counts the integers missing between positions `i` and `j`; it
/// never decreases as `j` grows, so the first `j` where it is positive is a binary search.
fn hole_after(keys: &[u64], i: usize) -> Option<(u64, u64)> {
    let base = keys[i];
    let rest = &keys[i + 1..];
    // rest[p] sits p + 1 positions after base; no hole up to it iff it is p + 1 larger.
    let (mut lo, mut hi) = (0usize, rest.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if rest[mid] - base == mid as u64 + 1 {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let below = if lo == 0 { base } else { rest[lo - 1] };
    rest.get(lo).map(|&above| (below, above))
}

/// The last pair of consecutive keys `(keys[j-1], keys[j])` with `j <= i` that has at least one
/// integer between them, or `None` if `keys[..=i]` is a run of consecutive integers. The mirror
/// image of [`hole_after`].
fn hole_before(keys: &[u64], i: usize) -> Option<(u64, u64)> {
    let top = keys[i];
    // keys[j] for j <= i is dense up to keys[i] iff top - keys[j] == i - j; find the smallest
    // such j. The predicate is false then true as j grows.
    let (mut lo, mut hi) = (0usize, i);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if top - keys[mid] == (i - mid) as u64 {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    (lo > 0).then(|| (keys[lo - 1], keys[lo]))
}

/// `n_queries` keys drawn uniformly (with replacement) from `keys`, in query order.
///
/// # Panics
/// If `keys` is empty and `n_queries > 0`.
pub fn query_sequence(keys: &[u64], n_queries: usize, seed: u64) -> Vec<u64> {
    query_positions(keys.len(), n_queries, seed)
        .map(|i| keys[i])
        .collect()
}

/// The positions [`query_sequence`] draws from a list of `len` keys with `seed`, for key lists
/// that are not `u64` slices: the same draws, in query order.
///
/// # Panics
/// If `len` is 0 and `n_queries > 0`.
pub fn query_positions(len: usize, n_queries: usize, seed: u64) -> impl Iterator<Item = usize> {
    let mut rng = Rng::derive(seed, STREAM_QUERIES);
    (0..n_queries).map(move |_| rng.below(len as u64) as usize)
}

/// A `u64` key from the 8 big-endian bytes a scan hands back (0 for a key of another length,
/// which the benchmarks never write).
#[inline]
pub fn u64_key(bytes: &[u8]) -> u64 {
    bytes.try_into().map_or(0, u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_sorted_distinct(keys: &[u64]) {
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "not sorted and distinct"
        );
    }

    #[test]
    fn key_dist_names_round_trip_through_from_str_and_display() {
        for d in KeyDist::ALL {
            assert_eq!(d.to_string().parse::<KeyDist>().unwrap(), d);
            assert_eq!(d.name().to_uppercase().parse::<KeyDist>().unwrap(), d);
        }
        assert!("zipf".parse::<KeyDist>().is_err());
        assert_eq!(
            serde_json::to_string(&KeyDist::Lognormal).unwrap(),
            "\"lognormal\""
        );
    }

    #[test]
    fn every_distribution_gives_n_sorted_distinct_keys_deterministically() {
        for d in KeyDist::ALL {
            for n in [0, 1, 2, 99, 12_345] {
                let a = generate_keys(d, n, 11);
                assert_eq!(a.len(), n, "{d} n={n}");
                assert_sorted_distinct(&a);
                assert_eq!(a, generate_keys(d, n, 11), "{d} not deterministic");
            }
            if d != KeyDist::Sequential {
                assert_ne!(generate_keys(d, 1000, 1), generate_keys(d, 1000, 2));
            }
        }
        assert_eq!(
            generate_keys(KeyDist::Sequential, 5, 0),
            vec![0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn random_keys_spread_over_the_whole_u64_range() {
        let keys = generate_keys(KeyDist::Random, 100_000, 3);
        let below_half = keys.iter().filter(|&&k| k < u64::MAX / 2).count();
        assert!((49_000..51_000).contains(&below_half));
    }

    #[test]
    fn lognormal_keys_are_skewed_towards_small_values() {
        let keys = generate_keys(KeyDist::Lognormal, 100_000, 3);
        // The median of exp(2z) is 1, which maps to u64::MAX * exp(-16).
        let median_key = keys[keys.len() / 2] as f64;
        let expected = u64::MAX as f64 * (-2.0 * LOGNORMAL_Z_MAX).exp();
        assert!(
            (median_key / expected - 1.0).abs() < 0.05,
            "median {median_key} vs {expected}"
        );
        assert!(*keys.last().unwrap() < u64::MAX / 100);
    }

    #[test]
    fn clustered_keys_form_runs_of_bounded_length_with_gaps() {
        let keys = generate_keys(KeyDist::Clustered, 200_000, 5);
        let mut runs = vec![1u64];
        for w in keys.windows(2) {
            if w[1] == w[0] + 1 {
                *runs.last_mut().unwrap() += 1;
            } else {
                assert!(w[1] - w[0] > 1_000_000, "gap too small");
                runs.push(1);
            }
        }
        let (last, full) = runs.split_last().unwrap();
        assert!(*last <= CLUSTER_RUN_MAX);
        assert!(full
            .iter()
            .all(|r| (CLUSTER_RUN_MIN..=CLUSTER_RUN_MAX).contains(r)));
        assert!(runs.len() > 20);
    }

    #[test]
    fn ten_million_random_keys_are_generated_quickly() {
        let start = std::time::Instant::now();
        let keys = generate_keys(KeyDist::Random, 10_000_000, 9);
        assert_eq!(keys.len(), 10_000_000);
        // Generous bound for a loaded 2-core machine in release mode.
        assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
    }

    #[test]
    fn shuffled_is_a_deterministic_permutation() {
        let keys = generate_keys(KeyDist::Random, 1000, 1);
        let s = shuffled(&keys, 4);
        assert_eq!(s, shuffled(&keys, 4));
        assert_ne!(s, keys);
        let mut back = s.clone();
        back.sort_unstable();
        assert_eq!(back, keys);
    }

    #[test]
    fn misses_are_absent_for_every_distribution() {
        for d in KeyDist::ALL {
            let keys = generate_keys(d, 50_000, 2);
            let misses = miss_keys(&keys, 20_000, 2);
            assert_eq!(misses.len(), 20_000);
            assert!(misses.iter().all(|m| keys.binary_search(m).is_err()), "{d}");
            assert_eq!(misses, miss_keys(&keys, 20_000, 2));
        }
    }

    #[test]
    fn misses_fall_inside_the_key_range_when_it_has_holes() {
        let keys = generate_keys(KeyDist::Clustered, 50_000, 8);
        let misses = miss_keys(&keys, 1000, 8);
        let (lo, hi) = (keys[0], *keys.last().unwrap());
        assert!(misses.iter().all(|&m| m > lo && m < hi));
    }

    #[test]
    fn misses_of_dense_sets_fall_just_outside() {
        let keys: Vec<u64> = (0..1000).collect();
        assert!(miss_keys(&keys, 500, 1)
            .iter()
            .all(|&m| (1000..2000).contains(&m)));
        let top: Vec<u64> = (u64::MAX - 999..=u64::MAX).collect();
        assert!(miss_keys(&top, 500, 1)
            .iter()
            .all(|&m| (u64::MAX - 1999..u64::MAX - 999).contains(&m)));
        let ends = vec![0, 1, 2, u64::MAX - 1, u64::MAX];
        assert!(miss_keys(&ends, 500, 1)
            .iter()
            .all(|m| ends.binary_search(m).is_err()));
        assert_eq!(miss_keys(&[], 3, 1).len(), 3);
    }

    #[test]
    fn hole_search_finds_the_nearest_gap_on_each_side() {
        let keys = [1, 2, 3, 7, 8, 10, 11];
        assert_eq!(hole_after(&keys, 0), Some((3, 7)));
        assert_eq!(hole_after(&keys, 2), Some((3, 7)));
        assert_eq!(hole_after(&keys, 3), Some((8, 10)));
        assert_eq!(hole_after(&keys, 5), None);
        assert_eq!(hole_before(&keys, 6), Some((8, 10)));
        assert_eq!(hole_before(&keys, 4), Some((3, 7)));
        assert_eq!(hole_before(&keys, 3), Some((3, 7)));
        assert_eq!(hole_before(&keys, 2), None);
        assert_eq!(hole_before(&keys, 0), None);
        assert_eq!(hole_after(&[5, 6, 7], 0), None);
        assert_eq!(hole_before(&[5, 6, 7], 2), None);
        assert_eq!(hole_after(&[0, u64::MAX], 0), Some((0, u64::MAX)));
        assert_eq!(hole_before(&[0, u64::MAX], 1), Some((0, u64::MAX)));
    }

    #[test]
    fn query_sequence_is_uniform_over_keys() {
        let keys: Vec<u64> = (0..10).map(|k| k * 1000).collect();
        let q = query_sequence(&keys, 100_000, 6);
        assert_eq!(q, query_sequence(&keys, 100_000, 6));
        for k in &keys {
            let c = q.iter().filter(|x| *x == k).count();
            assert!((9_300..10_700).contains(&c), "key {k}: {c}");
        }
        assert!(query_sequence(&[], 0, 1).is_empty());
    }
}
