//! Differential tests: long random operation sequences on `Alex` and on `BTreeMap` must agree on
//! every `get`, `insert`/`remove` result, iteration and `len`, across key distributions.

use std::collections::BTreeMap;

mod common;

use alexkv::alex::Alex;
use common::Rng;

#[derive(Clone, Copy, Debug)]
enum Dist {
    Sequential,
    Reversed,
    Uniform,
    Lognormal,
    Clustered,
    Extremes,
    Small,
}

/// The `i`-th key a workload of this distribution inserts.
fn key_for(dist: Dist, i: u64, rng: &mut Rng) -> u64 {
    match dist {
        Dist::Sequential => i,
        Dist::Reversed => u64::MAX / 2 - i,
        Dist::Uniform => rng.next_u64(),
        Dist::Lognormal => {
            // exp of a sum of uniforms ~ lognormal-ish, heavy right tail.
            let s: f64 = (0..4)
                .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
                .sum();
            ((s - 2.0) * 12.0).exp() as u64
        }
        Dist::Clustered => {
            let cluster = rng.below(40);
            (cluster << 50) + rng.below(5_000)
        }
        Dist::Extremes => match rng.below(6) {
            0 => rng.below(100),
            1 => u64::MAX - rng.below(100),
            2 => u64::MAX,
            3 => 0,
            4 => (1 << 63) + rng.below(50) - 25,
            _ => rng.next_u64(),
        },
        Dist::Small => rng.below(300),
    }
}

fn check_equal(index: &Alex<u64>, model: &BTreeMap<u64, u64>, rng: &mut Rng, context: &str) {
    assert_eq!(index.len(), model.len(), "{context}: len");
    let got: Vec<(u64, u64)> = index.iter().collect();
    let want: Vec<(u64, u64)> = model.iter().map(|(&k, &v)| (k, v)).collect();
    assert!(
        got == want,
        "{context}: full iteration differs ({} vs {} entries)",
        got.len(),
        want.len()
    );
    let back: Vec<(u64, u64)> = index.iter().rev().collect();
    assert!(
        back.iter().rev().eq(want.iter()),
        "{context}: reverse iteration differs"
    );
    for _ in 0..20 {
        let a = if want.is_empty() || rng.below(3) == 0 {
            rng.next_u64()
        } else {
            let i = rng.below(want.len() as u64) as usize;
            want[i].0
        };
        let width_bits = rng.below(64);
        let b = a.saturating_add(rng.below(1 << width_bits));
        let got: Vec<_> = index.range(a..b).collect();
        let want: Vec<_> = model.range(a..b).map(|(&k, &v)| (k, v)).collect();
        assert_eq!(got, want, "{context}: range {a}..{b}");
        let got: Vec<_> = index.range(a..=b).rev().take(5).collect();
        let want: Vec<_> = model
            .range(a..=b)
            .rev()
            .take(5)
            .map(|(&k, &v)| (k, v))
            .collect();
        assert_eq!(got, want, "{context}: reverse range {a}..={b}");
        assert_eq!(
            index.lower_bound(a),
            model.range(a..).next().map(|(&k, &v)| (k, v)),
            "{context}: lower_bound {a}"
        );
    }
    assert_eq!(
        index.first(),
        model.iter().next().map(|(&k, &v)| (k, v)),
        "{context}: first"
    );
    assert_eq!(
        index.last(),
        model.iter().next_back().map(|(&k, &v)| (k, v)),
        "{context}: last"
    );
    index
        .check_invariants()
        .unwrap_or_else(|e| panic!("{context}: {e}"));
}

/// Runs `ops` random operations (mostly inserts, then phases of deletes) starting from a bulk
/// load of `preload` keys, checking every result against the model. Odd seeds run with key
/// filters in the data nodes (`Alex::bulk_load_with_key_filter`), even seeds without, so every
/// test covers both; `check_invariants` checks every leaf keeps a filter exactly when asked.
fn run(dist: Dist, seed: u64, preload: u64, ops: u64) {
    let filtered = seed % 2 == 1;
    let mut rng = Rng::new(seed);
    let mut model = BTreeMap::new();
    let mut next_key = 0u64;
    for _ in 0..preload {
        let k = key_for(dist, next_key, &mut rng);
        next_key += 1;
        model.insert(k, k ^ 0xABCD);
    }
    let keys: Vec<u64> = model.keys().copied().collect();
    let payloads: Vec<u64> = model.values().copied().collect();
    let mut index = Alex::bulk_load_with_key_filter(&keys, &payloads, filtered).expect("sorted");
    let context = |i: u64| format!("{dist:?} seed {seed} (key filters {filtered}) op {i}");
    check_equal(&index, &model, &mut rng, &context(0));
    let mut present: Vec<u64> = keys;
    for i in 1..=ops {
        // Phases: grow, churn, shrink toward empty, grow again.
        let phase = (i * 4 / ops.max(1)).min(3);
        let delete_share = [10, 45, 90, 10][phase as usize];
        let roll = rng.below(100);
        if roll < delete_share && !present.is_empty() {
            let pick = rng.below(present.len() as u64) as usize;
            let k = present.swap_remove(pick);
            assert_eq!(
                index.remove(k),
                model.remove(&k),
                "{}: remove {k}",
                context(i)
            );
        } else if roll < delete_share + 5 {
            let k = rng.next_u64();
            assert_eq!(
                index.remove(k),
                model.remove(&k),
                "{}: remove absent {k}",
                context(i)
            );
        } else if roll < delete_share + 15 && !present.is_empty() {
            let k = present[rng.below(present.len() as u64) as usize];
            let v = rng.next_u64();
            assert_eq!(
                index.insert(k, v),
                model.insert(k, v),
                "{}: overwrite {k}",
                context(i)
            );
        } else {
            let k = key_for(dist, next_key, &mut rng);
            next_key += 1;
            let v = rng.next_u64();
            let old = model.insert(k, v);
            if old.is_none() {
                present.push(k);
            }
            assert_eq!(index.insert(k, v), old, "{}: insert {k}", context(i));
        }
        if rng.below(8) == 0 {
            let k = if present.is_empty() || rng.below(2) == 0 {
                rng.next_u64()
            } else {
                present[rng.below(present.len() as u64) as usize]
            };
            assert_eq!(
                index.get(k),
                model.get(&k).copied(),
                "{}: get {k}",
                context(i)
            );
            assert_eq!(
                index.contains(k),
                model.contains_key(&k),
                "{}: contains {k}",
                context(i)
            );
        }
        if i % (ops / 8).max(1) == 0 {
            check_equal(&index, &model, &mut rng, &context(i));
        }
    }
    for (&k, &v) in &model {
        assert_eq!(index.get(k), Some(v), "{dist:?} seed {seed}: final get {k}");
    }
    check_equal(
        &index,
        &model,
        &mut rng,
        &format!("{dist:?} seed {seed} final"),
    );
}

const ALL: [Dist; 7] = [
    Dist::Sequential,
    Dist::Reversed,
    Dist::Uniform,
    Dist::Lognormal,
    Dist::Clustered,
    Dist::Extremes,
    Dist::Small,
];

#[test]
fn random_operations_match_btreemap_from_empty() {
    for (i, &dist) in ALL.iter().enumerate() {
        for seed in 0..3 {
            run(dist, seed * 31 + i as u64, 0, 30_000);
        }
    }
}

#[test]
fn random_operations_match_btreemap_after_bulk_load() {
    for (i, &dist) in ALL.iter().enumerate() {
        for seed in 0..2 {
            run(dist, 1000 + seed * 17 + i as u64, 20_000, 40_000);
        }
    }
}

#[test]
fn large_inserts_match_btreemap() {
    for &dist in &[
        Dist::Sequential,
        Dist::Uniform,
        Dist::Lognormal,
        Dist::Clustered,
        Dist::Reversed,
    ] {
        run(dist, 77 + dist as u64, 50_000, 300_000);
    }
}

#[test]
fn delete_everything_then_reuse() {
    let mut rng = Rng::new(5);
    let keys: Vec<u64> = {
        let mut k: Vec<u64> = (0..50_000).map(|_| rng.next_u64()).collect();
        k.sort_unstable();
        k.dedup();
        k
    };
    let mut index = Alex::bulk_load(&keys, &keys).unwrap();
    for &k in &keys {
        assert_eq!(index.remove(k), Some(k));
    }
    assert!(index.is_empty());
    assert_eq!(index.iter().next(), None);
    assert_eq!(index.first(), None);
    index.check_invariants().unwrap();
    for &k in keys.iter().rev() {
        assert_eq!(index.insert(k, !k), None);
    }
    assert_eq!(index.len(), keys.len());
    for &k in &keys {
        assert_eq!(index.get(k), Some(!k));
    }
    index.check_invariants().unwrap();
}

#[test]
fn bulk_load_rejects_bad_input() {
    assert!(Alex::<u64>::bulk_load(&[1, 1], &[0, 0]).is_err());
    assert!(Alex::<u64>::bulk_load(&[3, 2], &[0, 0]).is_err());
    assert!(Alex::<u64>::bulk_load(&[1, 2], &[0]).is_err());
    let index = Alex::<u64>::bulk_load(&[], &[]).unwrap();
    assert!(index.is_empty());
}

/// The fuzz target's equivalent: fresh seeds over every distribution, small and large bulk loads,
/// for a time budget (`ALEX_FUZZ_SECONDS`, default 5), each run checked against `BTreeMap`.
/// A failure names its distribution and seed, so it reproduces with `run(dist, seed, ..)`.
#[test]
fn bounded_randomized_differential_run() {
    let budget: u64 = std::env::var("ALEX_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let start = std::time::Instant::now();
    let mut seed = std::env::var("ALEX_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xF022u64);
    let mut runs = 0;
    while start.elapsed().as_secs() < budget || runs < ALL.len() {
        let mut rng = Rng::new(seed);
        let dist = ALL[(seed % ALL.len() as u64) as usize];
        let preload = [0, 1, 100, 5_000][rng.below(4) as usize];
        let ops = 2_000 + rng.below(8_000);
        run(dist, seed, preload, ops);
        seed = seed.wrapping_add(0x9E37_79B9);
        runs += 1;
    }
}

/// Appends (ascending or descending) into an empty index keep it shallow: a node that grows at
/// one end is rebuilt with its room at that end, and a one-sided sideways split still makes
/// progress instead of pushing the node down a level (which once built a chain 156 levels deep
/// for 100,000 sequential keys).
#[test]
fn appends_keep_the_tree_shallow() {
    for keys in [
        (0..300_000u64).collect::<Vec<_>>(),
        (0..300_000u64).rev().collect(),
        (0..300_000u64)
            .map(|i| if i % 2 == 0 { i } else { (1 << 60) + i })
            .collect(),
    ] {
        let mut index: Alex<u64> = Alex::new();
        for &k in &keys {
            index.insert(k, k);
        }
        let s = index.stats();
        assert!(
            s.depth <= 4,
            "depth {} after {} appends: {s:?}",
            s.depth,
            keys.len()
        );
        assert_eq!(s.keys, keys.len());
        index.check_invariants().unwrap();
    }
}
