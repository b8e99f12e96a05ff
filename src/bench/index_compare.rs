//! The index benchmark: ALEX against `BTreeMap` and a sorted `Vec` with binary search, on the same
//! keys and the same query order (used by `src/bin/index_benchmark.rs`).
//!
//! Phases, per structure: bulk build from all keys (seconds); random lookups of present keys (mean
//! ns of a batch, median of [`LOOKUP_ROUNDS`] batches after a warm-up, with min and max); memory
//! (every byte the structure holds per key: live heap bytes from [`super::alloc`] plus the node
//! arrays ALEX maps from the kernel directly, which no allocator sees; and, as a check, the
//! process's resident memory growth over the build); for ALEX, what a lookup touches
//! (`Alex::trace_get`: model levels, slots from the prediction, cache lines); then a fresh
//! build from a random half of the keys and inserts of the other half in random order (ops/s,
//! one batch), and lookups again. Every lookup result is checked; a wrong answer aborts the run.
//!
//! A sorted `Vec` pays a memmove of half the array per insert, so at large sizes its insert phase
//! runs on a prefix of the inserts ([`VEC_INSERT_LIMIT`]); the report says how many were timed,
//! and the lookups after inserts then cover the keys it holds.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use serde::Serialize;

use super::alloc::live_bytes;
use super::keys::{generate_keys, query_sequence, shuffled, KeyDist};
use super::memory::current_rss_bytes;
use crate::alex::Alex;

/// Inserts timed for the sorted `Vec` (each one moves half the array).
pub const VEC_INSERT_LIMIT: usize = 5_000;

/// The payload stored for `key`, so lookups can be checked.
#[inline]
fn payload(key: u64) -> u64 {
    key ^ 0x5DEE_CE66_D1CE_4E5B
}

/// Configuration of one run.
#[derive(Clone, Debug, Serialize)]
pub struct IndexBenchConfig {
    /// Number of keys.
    pub keys: usize,
    /// Key distribution.
    pub dist: String,
    /// Lookups per lookup phase.
    pub queries: usize,
    /// Seed of keys, order and queries.
    pub seed: u64,
}

/// One structure's figures.
#[derive(Clone, Debug, Serialize)]
pub struct IndexBenchResult {
    /// `alex`, `btreemap` or `sorted_vec`.
    pub structure: String,
    /// Seconds to build from all (sorted) keys.
    pub bulk_load_s: f64,
    /// Mean ns per random lookup after the bulk build (median round).
    pub lookup_ns_mean: f64,
    /// The fastest and slowest round's mean ns per lookup.
    pub lookup_ns_min: f64,
    /// See `lookup_ns_min`.
    pub lookup_ns_max: f64,
    /// Bytes held per key after the bulk build: live heap bytes plus directly mapped arrays.
    pub bytes_per_key: f64,
    /// Resident memory growth of the process over the bulk build, per key (a check of
    /// `bytes_per_key`; `None` where RSS cannot be read).
    pub rss_growth_per_key: Option<f64>,
    /// Inserts per second, building from half the keys and inserting the rest in random order.
    pub insert_ops_per_s: f64,
    /// How many inserts that rate was measured on.
    pub inserts_timed: usize,
    /// Mean ns per random lookup after the inserts.
    pub lookup_after_insert_ns_mean: f64,
    /// Bytes held per key after the inserts (heap plus mapped arrays).
    pub bytes_per_key_after_insert: f64,
    /// What a lookup touches, over the timed queries (ALEX only).
    pub trace: Option<TraceStats>,
}

/// Means over the queries of [`crate::alex::LookupTrace`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct TraceStats {
    /// Model nodes passed per lookup.
    pub model_levels: f64,
    /// Slots between the data node's prediction and the key.
    pub distance: f64,
    /// Distinct cache lines read per lookup.
    pub lines: f64,
}

/// A whole run: configuration, figures, and index shape.
#[derive(Clone, Debug, Serialize)]
pub struct IndexBenchReport {
    /// What was run.
    pub config: IndexBenchConfig,
    /// One entry per structure.
    pub results: Vec<IndexBenchResult>,
    /// ALEX's shape after the bulk build and after the inserts.
    pub alex_after_bulk_load: crate::alex::IndexStats,
    /// ALEX's shape after the inserts.
    pub alex_after_inserts: crate::alex::IndexStats,
}

/// The operations the benchmark needs from a structure.
trait Structure: Sized {
    const NAME: &'static str;
    fn build(keys: &[u64], payloads: &[u64]) -> Self;
    fn lookup(&self, key: u64) -> Option<u64>;
    fn insert(&mut self, key: u64, value: u64);
    /// Bytes the structure maps from the kernel itself (not seen by the counting allocator).
    fn mapped_bytes(&self) -> usize {
        0
    }
    /// What looking up each of `queries` touches, when the structure can tell.
    fn trace(&self, _queries: &[u64]) -> Option<TraceStats> {
        None
    }
}

impl Structure for Alex<u64> {
    const NAME: &'static str = "alex";
    fn build(keys: &[u64], payloads: &[u64]) -> Self {
        Alex::bulk_load(keys, payloads).expect("generated keys are sorted and distinct")
    }
    #[inline(always)]
    fn lookup(&self, key: u64) -> Option<u64> {
        self.get(key)
    }
    #[inline]
    fn insert(&mut self, key: u64, value: u64) {
        Alex::insert(self, key, value);
    }
    fn mapped_bytes(&self) -> usize {
        Alex::mapped_bytes(self)
    }
    fn trace(&self, queries: &[u64]) -> Option<TraceStats> {
        let mut sum = TraceStats::default();
        for &q in queries {
            let t = self.trace_get(q);
            sum.model_levels += f64::from(t.model_levels);
            sum.distance += t.distance as f64;
            sum.lines += f64::from(t.lines);
        }
        let n = queries.len().max(1) as f64;
        Some(TraceStats {
            model_levels: sum.model_levels / n,
            distance: sum.distance / n,
            lines: sum.lines / n,
        })
    }
}

impl Structure for BTreeMap<u64, u64> {
    const NAME: &'static str = "btreemap";
    fn build(keys: &[u64], payloads: &[u64]) -> Self {
        keys.iter().copied().zip(payloads.iter().copied()).collect()
    }
    #[inline]
    fn lookup(&self, key: u64) -> Option<u64> {
        self.get(&key).copied()
    }
    #[inline]
    fn insert(&mut self, key: u64, value: u64) {
        BTreeMap::insert(self, key, value);
    }
}

/// Keys and payloads in two sorted arrays; lookups by binary search.
pub struct SortedVec {
    keys: Vec<u64>,
    payloads: Vec<u64>,
}

impl Structure for SortedVec {
    const NAME: &'static str = "sorted_vec";
    fn build(keys: &[u64], payloads: &[u64]) -> Self {
        SortedVec {
            keys: keys.to_vec(),
            payloads: payloads.to_vec(),
        }
    }
    #[inline]
    fn lookup(&self, key: u64) -> Option<u64> {
        self.keys.binary_search(&key).ok().map(|i| self.payloads[i])
    }
    fn insert(&mut self, key: u64, value: u64) {
        match self.keys.binary_search(&key) {
            Ok(i) => self.payloads[i] = value,
            Err(i) => {
                self.keys.insert(i, key);
                self.payloads.insert(i, value);
            }
        }
    }
}

/// Timed rounds of each lookup phase; the median round is reported (these machines are noisy).
pub const LOOKUP_ROUNDS: usize = 5;

/// Runs every lookup in `queries`, checking each answer, [`LOOKUP_ROUNDS`] times; returns the
/// median, fastest and slowest round's mean ns per lookup. A warm-up pass over the same number
/// of other present keys (`warmup`) runs first, untimed.
fn time_lookups<S: Structure>(s: &S, queries: &[u64], warmup: &[u64]) -> (f64, f64, f64) {
    for &q in warmup {
        black_box(s.lookup(q));
    }
    median_of_rounds(S::NAME, queries.len(), || {
        queries
            .iter()
            .filter(|&&q| black_box(s.lookup(q)) != Some(payload(q)))
            .count()
    })
}

/// Times `round` (one pass over `n` checked lookups, returning how many answered wrongly)
/// [`LOOKUP_ROUNDS`] times; returns the median, fastest and slowest round's mean ns per lookup.
/// A wrong answer aborts the run.
pub(super) fn median_of_rounds(
    name: &str,
    n: usize,
    mut round: impl FnMut() -> usize,
) -> (f64, f64, f64) {
    let mut rounds: Vec<f64> = (0..LOOKUP_ROUNDS)
        .map(|_| {
            let start = Instant::now();
            let wrong = round();
            let ns = start.elapsed().as_nanos() as f64 / n.max(1) as f64;
            assert_eq!(wrong, 0, "{name}: {wrong} lookups returned a wrong answer");
            ns
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    (
        rounds[rounds.len() / 2],
        rounds[0],
        rounds[rounds.len() - 1],
    )
}

fn run_structure<S: Structure>(
    keys: &[u64],
    payloads: &[u64],
    queries: &[u64],
    insert_order: &[u64],
    limit: usize,
) -> (IndexBenchResult, Option<(S, S)>) {
    // Warm-up lookups: present keys in another order than the timed queries.
    let warmup = query_sequence(keys, queries.len(), 0xC0FFEE);
    let per_key = |bytes: f64| bytes / keys.len().max(1) as f64;
    let rss_before = current_rss_bytes();
    let before = live_bytes();
    let start = Instant::now();
    let s = S::build(keys, payloads);
    let bulk_load_s = start.elapsed().as_secs_f64();
    let bytes_per_key = per_key((live_bytes() - before + s.mapped_bytes()) as f64);
    let rss_growth_per_key = rss_before
        .zip(current_rss_bytes())
        .map(|(b, a)| per_key(a.saturating_sub(b) as f64));
    let (lookup_ns_mean, lookup_ns_min, lookup_ns_max) = time_lookups(&s, queries, &warmup);
    let trace = s.trace(queries);

    // Half the keys, chosen at random, bulk built; the other half inserted in random order.
    let half = insert_order.len() / 2;
    let mut base: Vec<u64> = insert_order[..half].to_vec();
    base.sort_unstable();
    let base_payloads: Vec<u64> = base.iter().map(|&k| payload(k)).collect();
    // The base arrays stay alive until the memory is measured, so they are not counted.
    let before = live_bytes();
    let mut grown = S::build(&base, &base_payloads);
    let to_insert = &insert_order[half..];
    let timed = to_insert.len().min(limit);
    let start = Instant::now();
    for &k in &to_insert[..timed] {
        grown.insert(k, payload(k));
    }
    let insert_s = start.elapsed().as_secs_f64();
    let held = half + timed;
    let bytes_per_key_after_insert =
        (live_bytes() - before + grown.mapped_bytes()) as f64 / held.max(1) as f64;
    drop(base_payloads);
    drop(base);
    // Lookups after inserts: the same query order, restricted to keys the structure holds.
    let lookup_after_insert_ns_mean = if timed == to_insert.len() {
        time_lookups(&grown, queries, &warmup).0
    } else {
        let present: Vec<u64> = insert_order[..held].to_vec();
        let q = query_sequence(&present, queries.len(), 7);
        time_lookups(&grown, &q, &warmup[..0]).0
    };
    let result = IndexBenchResult {
        structure: S::NAME.to_string(),
        bulk_load_s,
        lookup_ns_mean,
        lookup_ns_min,
        lookup_ns_max,
        bytes_per_key,
        rss_growth_per_key,
        insert_ops_per_s: timed as f64 / insert_s.max(1e-12),
        inserts_timed: timed,
        lookup_after_insert_ns_mean,
        bytes_per_key_after_insert,
        trace,
    };
    (result, Some((s, grown)))
}

/// Runs the benchmark for one distribution; `structures` filters by name.
pub fn run(
    n: usize,
    dist: KeyDist,
    queries: usize,
    seed: u64,
    structures: &[String],
) -> IndexBenchReport {
    let keys = generate_keys(dist, n, seed);
    let payloads: Vec<u64> = keys.iter().map(|&k| payload(k)).collect();
    let query_keys = query_sequence(&keys, queries, seed ^ 0x51);
    let insert_order = shuffled(&keys, seed ^ 0x1A5);
    let wanted = |name: &str| structures.is_empty() || structures.iter().any(|s| s == name);
    let mut results = Vec::new();
    let (mut after_bulk, mut after_inserts) = Default::default();
    if wanted("alex") {
        let (r, built) =
            run_structure::<Alex<u64>>(&keys, &payloads, &query_keys, &insert_order, usize::MAX);
        if let Some((bulk, grown)) = built {
            after_bulk = bulk.stats();
            after_inserts = grown.stats();
        }
        results.push(r);
    }
    if wanted("btreemap") {
        results.push(
            run_structure::<BTreeMap<u64, u64>>(
                &keys,
                &payloads,
                &query_keys,
                &insert_order,
                usize::MAX,
            )
            .0,
        );
    }
    if wanted("sorted_vec") {
        results.push(
            run_structure::<SortedVec>(
                &keys,
                &payloads,
                &query_keys,
                &insert_order,
                VEC_INSERT_LIMIT,
            )
            .0,
        );
    }
    IndexBenchReport {
        config: IndexBenchConfig {
            keys: n,
            dist: dist.name().to_string(),
            queries,
            seed,
        },
        results,
        alex_after_bulk_load: after_bulk,
        alex_after_inserts: after_inserts,
    }
}
