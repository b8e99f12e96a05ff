//! Grows planned on `&Alex` and installed later ([`Alex::prepare_grow`], [`Alex::install_grow`],
//! the engine's writer protocol) against plain inserts and a `BTreeMap`.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use super::Alex;

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Everything reachable from the root, by arena id: the exact structure of the tree.
fn shape(index: &Alex<u64>) -> Vec<String> {
    let mut out = vec![format!(
        "root {:?} head {} tail {} len {}",
        index.root, index.head, index.tail, index.len
    )];
    let mut stack = vec![index.root];
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert((id.is_data(), id.index())) {
            continue;
        }
        if id.is_data() {
            let n = &index.leaves[id.index()];
            let mut entries = DefaultHasher::new();
            let mut count = 0usize;
            for (k, p) in n.entries() {
                (k, p).hash(&mut entries);
                count += 1;
            }
            out.push(format!(
                "leaf {} dup {} prev {} next {} cap {} keys {count} entries hash {:x}",
                id.index(),
                n.dup,
                n.prev,
                n.next,
                n.capacity(),
                entries.finish()
            ));
        } else {
            let m = &index.models[id.index()];
            out.push(format!(
                "model {} dup {} offset {} children {:?}",
                id.index(),
                m.dup,
                m.offset,
                m.children
            ));
            stack.extend(m.children.iter().copied());
        }
    }
    out
}

/// Inserts `key` the way the engine's writer does: if it needs a grow, plan it on `&index`,
/// install it, and look again; then insert. Records the kind of every grow.
fn insert_planned(
    index: &mut Alex<u64>,
    key: u64,
    payload: u64,
    kinds: &mut BTreeMap<&'static str, usize>,
) -> Option<u64> {
    while index.needs_grow(key) {
        let plan = index
            .prepare_grow(key)
            .expect("needs_grow said a grow is needed");
        *kinds.entry(plan.kind()).or_default() += 1;
        drop(index.install_grow(plan));
    }
    assert!(index.prepare_grow(key).is_none());
    index.insert(key, payload)
}

#[derive(Clone, Copy, Debug)]
enum Dist {
    Uniform,
    Ascending,
    Descending,
    Clustered,
    Dense,
    /// A spread preload, then ascending inserts into one narrow range inside it: one node
    /// grows to the maximum size, and its splits run out of parent slots (a split down
    /// below a model node).
    Narrow,
}

fn key_for(dist: Dist, i: u64, rng: &mut Rng) -> u64 {
    match dist {
        Dist::Uniform => rng.next(),
        Dist::Ascending => (1 << 40) + i * 3,
        Dist::Descending => (1 << 40) - i * 3,
        Dist::Clustered => (rng.below(8) << 56) + rng.below(1 << 20),
        Dist::Dense => rng.below(20_000),
        Dist::Narrow => (1 << 40) + i,
    }
}

/// Runs the same operations on a plainly inserted index, a planned one and a `BTreeMap`.
fn run(dist: Dist, seed: u64, preload: u64, ops: u64, kinds: &mut BTreeMap<&'static str, usize>) {
    let mut rng = Rng(seed);
    let mut model = BTreeMap::new();
    for i in 0..preload {
        let k = match dist {
            Dist::Narrow => rng.below(1 << 41),
            _ => key_for(dist, i, &mut rng),
        };
        model.insert(k, k ^ 1);
    }
    let mut inserted: Vec<u64> = model.keys().copied().collect();
    let keys: Vec<u64> = model.keys().copied().collect();
    let payloads: Vec<u64> = model.values().copied().collect();
    let (mut plain, mut planned) = if preload == 0 {
        (Alex::new(), Alex::new())
    } else {
        (
            Alex::bulk_load(&keys, &payloads).expect("sorted"),
            Alex::bulk_load(&keys, &payloads).expect("sorted"),
        )
    };
    for i in 0..ops {
        let context = format!("{dist:?} seed {seed} op {i}");
        if rng.below(10) == 0 && !model.is_empty() {
            let k = if rng.below(2) == 0 {
                *model
                    .keys()
                    .nth(rng.below(model.len() as u64) as usize)
                    .unwrap_or(&0)
            } else {
                rng.next()
            };
            let want = model.remove(&k);
            assert_eq!(plain.remove(k), want, "{context}: plain remove");
            assert_eq!(planned.remove(k), want, "{context}: planned remove");
        } else {
            let k = key_for(dist, preload + i, &mut rng);
            inserted.push(k);
            let want = model.insert(k, i);
            assert_eq!(plain.insert(k, i), want, "{context}: plain insert");
            assert_eq!(
                insert_planned(&mut planned, k, i, kinds),
                want,
                "{context}: planned insert"
            );
        }
        if i % 100_000 == 0 {
            planned
                .check_invariants()
                .unwrap_or_else(|e| panic!("{context}: {e}"));
        }
    }
    let context = format!("{dist:?} seed {seed}");
    planned
        .check_invariants()
        .unwrap_or_else(|e| panic!("{context}: {e}"));
    let want: Vec<(u64, u64)> = model.iter().map(|(&k, &v)| (k, v)).collect();
    assert!(
        planned.iter().eq(want.iter().copied()),
        "{context}: entries"
    );
    for (&k, &v) in model.iter().step_by(97) {
        assert_eq!(planned.get(k), Some(v), "{context}: get {k}");
    }
    assert!(shape(&plain) == shape(&planned), "{context}: trees differ");
}

#[test]
fn planned_grows_build_the_tree_plain_inserts_build_and_match_a_btreemap() {
    let mut kinds = BTreeMap::new();
    run(Dist::Uniform, 1, 0, 150_000, &mut kinds);
    run(Dist::Uniform, 2, 200_000, 150_000, &mut kinds);
    run(Dist::Ascending, 3, 0, 150_000, &mut kinds);
    run(Dist::Ascending, 4, 50_000, 150_000, &mut kinds);
    run(Dist::Descending, 5, 50_000, 150_000, &mut kinds);
    run(Dist::Clustered, 6, 0, 150_000, &mut kinds);
    run(Dist::Dense, 7, 0, 60_000, &mut kinds);
    // 1.2M: with capacities moved to whole huge pages (`capacity::whole_huge_pages`), 800K
    // ascending inserts no longer filled the narrow node's parent to a split down.
    run(Dist::Narrow, 8, 10_000, 1_200_000, &mut kinds);
    eprintln!("grows: {kinds:?}");
    for kind in [
        "expand",
        "widen right",
        "widen left",
        "sideways",
        "double + sideways",
        "down at the root",
        "down",
    ] {
        assert!(
            kinds.contains_key(kind),
            "no {kind:?} grow exercised: {kinds:?}"
        );
    }
}

/// A plan made before a change to the index is redone at install, not installed: the change
/// (here a removal from the very node being grown) survives.
#[test]
fn a_stale_plan_is_redone_at_install() {
    let mut index: Alex<u64> = Alex::new();
    let mut k = 0u64;
    // Fill the root data node until the next insert needs a grow.
    while !index.needs_grow(k * 2) {
        index.insert(k * 2, k);
        k += 1;
    }
    let plan = index.prepare_grow(k * 2).expect("full");
    assert_eq!(index.remove(0), Some(0));
    index.insert(1, 1);
    drop(index.install_grow(plan));
    index.check_invariants().expect("invariants");
    assert_eq!(
        index.get(0),
        None,
        "the stale plan's copy of key 0 came back"
    );
    assert_eq!(
        index.get(1),
        Some(1),
        "an insert made after planning was lost"
    );
    index.insert(k * 2, k);
    assert_eq!(index.len() as u64, k + 1);
}

/// A plan made on another index is never installed on this one.
#[test]
fn a_plan_for_another_index_is_not_installed() {
    let mut a: Alex<u64> = Alex::new();
    let mut b: Alex<u64> = Alex::new();
    let mut k = 0u64;
    while !a.needs_grow(k) {
        a.insert(k, k);
        b.insert(k + 1_000_000, k);
        k += 1;
    }
    let plan = a.prepare_grow(k).expect("full");
    drop(b.install_grow(plan));
    b.check_invariants().expect("invariants");
    assert!(b.iter().all(|(key, _)| key >= 1_000_000));
    assert_eq!(b.len() as u64, k);
}

/// Planned grows interleaved with rounds of mass removals (which shrink nodes) keep the index
/// equal to a `BTreeMap`.
#[test]
fn planned_grows_between_mass_removals_match_a_btreemap() {
    let mut kinds = BTreeMap::new();
    let mut index: Alex<u64> = Alex::new();
    let mut rng = Rng(9);
    let mut model = BTreeMap::new();
    for round in 0..4u64 {
        for i in 0..40_000u64 {
            let k = rng.below(1 << 32);
            model.insert(k, i);
            insert_planned(&mut index, k, i, &mut kinds);
        }
        let victims: Vec<u64> = model.keys().copied().step_by(2).collect();
        for k in victims {
            model.remove(&k);
            index.remove(k);
        }
        index
            .check_invariants()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
    assert!(index.iter().eq(model.iter().map(|(&k, &v)| (k, v))));
    assert!(!kinds.is_empty(), "no grow exercised");
}
