//! The byte-key index benchmark: [`Trie`] against `BTreeMap<Vec<u8>, u64>`, same keys
//! ([`super::byte_keys`]), same query order (`index_benchmark --key-kind KIND`).
//!
//! Phases per structure, as in [`super::index_compare`]: bulk build from the sorted keys; random
//! lookups of present keys (median of [`LOOKUP_ROUNDS`](super::index_compare::LOOKUP_ROUNDS) rounds after a warm-up, with min and
//! max); bytes held per key (live heap bytes plus arrays mapped from the kernel; the key set
//! itself is not counted, each structure holds its own copy of the keys); the process's RSS
//! growth as a check; then a build from a random half and inserts of the other half in random
//! order, and lookups again. Every answer is checked.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use serde::Serialize;

use super::alloc::live_bytes;
use super::byte_keys::{generate, KeyKind, KeySet};
use super::index_compare::{median_of_rounds, IndexBenchResult};
use super::memory::current_rss_bytes;
use super::rng::Rng;
use crate::trie::{Trie, TrieStats};

/// The word stored for key number `i`, so answers can be checked.
#[inline]
fn word(i: usize) -> u64 {
    i as u64 ^ 0x0DEE_CE66_D1CE_4E5B
}

/// A whole run.
#[derive(Clone, Debug, Serialize)]
pub struct ByteIndexReport {
    /// Key kind.
    pub key_kind: String,
    /// Number of keys.
    pub keys: usize,
    /// Mean key length in bytes.
    pub mean_key_len: f64,
    /// Lookups per round.
    pub queries: usize,
    /// Seed.
    pub seed: u64,
    /// One entry per structure.
    pub results: Vec<IndexBenchResult>,
    /// The trie's shape after the bulk build and after the inserts.
    pub trie_after_bulk_load: Option<TrieStats>,
    /// See `trie_after_bulk_load`.
    pub trie_after_inserts: Option<TrieStats>,
}

trait Structure: Sized {
    const NAME: &'static str;
    /// Built from the keys numbered `ids` (increasing), with their words.
    fn build(keys: &KeySet, ids: &[usize]) -> Self;
    fn lookup(&self, key: &[u8]) -> Option<u64>;
    fn insert(&mut self, key: &[u8], word: u64);
    fn mapped_bytes(&self) -> usize {
        0
    }
}

impl Structure for Trie {
    const NAME: &'static str = "trie";
    fn build(keys: &KeySet, ids: &[usize]) -> Self {
        let refs: Vec<&[u8]> = ids.iter().map(|&i| keys.get(i)).collect();
        let words: Vec<u64> = ids.iter().map(|&i| word(i)).collect();
        Trie::bulk_load(&refs, &words).expect("generated keys are sorted, short, distinct")
    }
    #[inline]
    fn lookup(&self, key: &[u8]) -> Option<u64> {
        self.get(key)
    }
    fn insert(&mut self, key: &[u8], w: u64) {
        Trie::insert(self, key, w).expect("generated keys are short");
    }
    /// Node arrays mapped directly and buckets in the bucket pool's chunks: memory a counting
    /// global allocator does not see.
    fn mapped_bytes(&self) -> usize {
        let s = self.stats();
        s.alex_mapped_bytes + s.bucket_pooled_bytes
    }
}

impl Structure for BTreeMap<Vec<u8>, u64> {
    const NAME: &'static str = "btreemap";
    fn build(keys: &KeySet, ids: &[usize]) -> Self {
        ids.iter()
            .map(|&i| (keys.get(i).to_vec(), word(i)))
            .collect()
    }
    #[inline]
    fn lookup(&self, key: &[u8]) -> Option<u64> {
        self.get(key).copied()
    }
    fn insert(&mut self, key: &[u8], w: u64) {
        BTreeMap::insert(self, key.to_vec(), w);
    }
}

/// Lookups in query order: the query keys copied into one buffer in that order (so fetching the
/// next query is a sequential read, as in the `u64` benchmark), and the word each must return.
struct Queries {
    keys: KeySet,
    words: Vec<u64>,
}

impl Queries {
    fn new(keys: &KeySet, ids: &[usize]) -> Queries {
        let mut q = KeySet::default();
        for &i in ids {
            q.push(keys.get(i));
        }
        Queries {
            keys: q,
            words: ids.iter().map(|&i| word(i)).collect(),
        }
    }
}

fn time_lookups<S: Structure>(s: &S, queries: &Queries, warmup: &Queries) -> (f64, f64, f64) {
    for k in warmup.keys.iter() {
        black_box(s.lookup(k));
    }
    median_of_rounds(S::NAME, queries.words.len(), || {
        queries
            .keys
            .iter()
            .zip(&queries.words)
            .filter(|&(k, &w)| black_box(s.lookup(k)) != Some(w))
            .count()
    })
}

fn run_structure<S: Structure>(
    keys: &KeySet,
    queries: &Queries,
    warmup: &Queries,
    order: &[usize],
) -> (IndexBenchResult, S, S) {
    let per_key = |b: usize, n: usize| b as f64 / n.max(1) as f64;
    let all: Vec<usize> = (0..keys.len()).collect();
    let rss_before = current_rss_bytes();
    let before = live_bytes();
    let start = Instant::now();
    let s = S::build(keys, &all);
    let bulk_load_s = start.elapsed().as_secs_f64();
    let bytes_per_key = per_key(live_bytes() - before + s.mapped_bytes(), keys.len());
    let rss_growth_per_key = rss_before
        .zip(current_rss_bytes())
        .map(|(b, a)| per_key(a.saturating_sub(b) as usize, keys.len()));
    let (lookup_ns_mean, lookup_ns_min, lookup_ns_max) = time_lookups(&s, queries, warmup);

    let half = order.len() / 2;
    let mut base: Vec<usize> = order[..half].to_vec();
    base.sort_unstable();
    let before = live_bytes();
    let mut grown = S::build(keys, &base);
    let start = Instant::now();
    for &i in &order[half..] {
        grown.insert(keys.get(i), word(i));
    }
    let insert_s = start.elapsed().as_secs_f64();
    let bytes_per_key_after_insert =
        per_key(live_bytes() - before + grown.mapped_bytes(), keys.len());
    drop(base);
    let lookup_after_insert_ns_mean = time_lookups(&grown, queries, &Queries::new(keys, &[])).0;
    let result = IndexBenchResult {
        structure: S::NAME.to_string(),
        bulk_load_s,
        lookup_ns_mean,
        lookup_ns_min,
        lookup_ns_max,
        bytes_per_key,
        rss_growth_per_key,
        insert_ops_per_s: (order.len() - half) as f64 / insert_s.max(1e-12),
        inserts_timed: order.len() - half,
        lookup_after_insert_ns_mean,
        bytes_per_key_after_insert,
        trace: None,
    };
    (result, s, grown)
}

/// Runs the benchmark for one key kind; `structures` filters by name (`trie`, `btreemap`).
pub fn run(
    kind: KeyKind,
    n: usize,
    queries: usize,
    seed: u64,
    structures: &[String],
) -> ByteIndexReport {
    let keys = generate(kind, n, seed);
    let mut rng = Rng::derive(seed, 0x51);
    let query_ids: Vec<usize> = (0..queries).map(|_| rng.below(n as u64) as usize).collect();
    let warmup_ids: Vec<usize> = (0..queries).map(|_| rng.below(n as u64) as usize).collect();
    let query_ids = Queries::new(&keys, &query_ids);
    let warmup = Queries::new(&keys, &warmup_ids);
    let mut order: Vec<usize> = (0..n).collect();
    Rng::derive(seed, 0x1A5).shuffle(&mut order);
    let wanted = |name: &str| structures.is_empty() || structures.iter().any(|s| s == name);
    let mut results = Vec::new();
    let (mut after_bulk, mut after_inserts) = (None, None);
    if wanted("trie") {
        let (r, bulk, grown) = run_structure::<Trie>(&keys, &query_ids, &warmup, &order);
        after_bulk = Some(bulk.stats());
        after_inserts = Some(grown.stats());
        results.push(r);
    }
    if wanted("btreemap") {
        results.push(run_structure::<BTreeMap<Vec<u8>, u64>>(&keys, &query_ids, &warmup, &order).0);
    }
    ByteIndexReport {
        key_kind: kind.name().to_string(),
        keys: n,
        mean_key_len: keys.mean_len(),
        queries,
        seed,
        results,
        trie_after_bulk_load: after_bulk,
        trie_after_inserts: after_inserts,
    }
}
