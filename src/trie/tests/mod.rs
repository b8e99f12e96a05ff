//! The trie against `BTreeMap<Vec<u8>, u64>`: adversarial key sets, random operations, scans;
//! hints in `hints.rs`, windows in `windows.rs`.

use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;

use super::{Lookup, Trie, TrieError, MAX_KEY_LEN, RESERVED_WORDS};

thread_local! {
    /// Rebuilds an insert did in place because no plan had done them first.
    pub(super) static UNPLANNED_REBUILDS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Checks every observable answer of `t` against `model`.
fn agree(t: &Trie, model: &BTreeMap<Vec<u8>, u64>, probes: &[Vec<u8>]) {
    t.check_invariants().unwrap();
    assert_eq!(t.len(), model.len());
    for (k, w) in model {
        assert_eq!(t.get(k), Some(*w), "key {k:?}");
        assert!(
            matches!(t.get_hinted(k, |_| true), Lookup::Found(h) | Lookup::Candidate(h) if h == *w),
            "hinted key {k:?}"
        );
    }
    let mut all = Vec::new();
    t.scan_from(Bound::Unbounded, |k, w| {
        all.push((k.to_vec(), w));
        true
    });
    let expect: Vec<_> = model.iter().map(|(k, w)| (k.clone(), *w)).collect();
    assert_eq!(all, expect);
    assert_eq!(t.first(), model.iter().next().map(|(k, w)| (k.clone(), *w)));
    assert_eq!(
        t.last(),
        model.iter().next_back().map(|(k, w)| (k.clone(), *w))
    );
    for p in probes {
        assert_eq!(t.get(p), model.get(p).copied(), "probe {p:?}");
        match (t.get_hinted(p, |_| true), model.get(p)) {
            (Lookup::Found(h), Some(w)) => assert_eq!(h, *w, "hinted probe {p:?}"),
            (Lookup::Absent, None) => {}
            (Lookup::Candidate(h), Some(w)) => assert_eq!(h, *w, "hinted probe {p:?}"),
            // Another key's payload: that key has the probe's slice and does not end in it.
            (Lookup::Candidate(h), None) => assert!(
                model.values().any(|&w| w == h),
                "hinted probe {p:?}: candidate {h:#x} is no key's"
            ),
            (got, want) => panic!("hinted probe {p:?}: {got:?}, model {want:?}"),
        }
        for (bound, range) in [
            (
                Bound::Included(p.as_slice()),
                model.range::<[u8], _>((Bound::Included(p.as_slice()), Bound::Unbounded)),
            ),
            (
                Bound::Excluded(p.as_slice()),
                model.range::<[u8], _>((Bound::Excluded(p.as_slice()), Bound::Unbounded)),
            ),
        ] {
            let want: Vec<_> = range.take(5).map(|(k, w)| (k.clone(), *w)).collect();
            let mut got = Vec::new();
            t.scan_from(bound, |k, w| {
                got.push((k.to_vec(), w));
                got.len() < 5
            });
            assert_eq!(got, want, "scan from {bound:?}");
        }
    }
}

/// Keys sharing prefixes of every length from 0 to 64, with endings across the 8-byte slice
/// boundaries: empty key, prefixes of others, zero bytes, 0xFF runs.
fn adversarial_keys() -> Vec<Vec<u8>> {
    let mut keys = vec![Vec::new(), vec![0], vec![0, 0], vec![0xFF], vec![0xFF; 9]];
    let base: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) | 1).collect();
    for len in 0..=64 {
        let p = &base[..len];
        keys.push(p.to_vec());
        for tail in [
            &[0u8][..],
            &[0, 0],
            &[0xFF],
            &[0xFF, 0xFF, 0xFF],
            &[1],
            &[0, 1],
            &[7; 8],
        ] {
            let mut k = p.to_vec();
            k.extend_from_slice(tail);
            keys.push(k);
        }
    }
    for n in 0..=20 {
        keys.push(vec![0; n]);
        keys.push(vec![0xFF; n]);
    }
    keys.push(vec![b'x'; MAX_KEY_LEN]);
    let mut long = vec![b'x'; MAX_KEY_LEN - 1];
    long.push(0);
    keys.push(long);
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn adversarial_keys_inserted_removed_and_bulk_loaded_agree_with_the_model() {
    let keys = adversarial_keys();
    let mut t = Trie::new();
    let mut model = BTreeMap::new();
    // Insert in a scrambled order, checking as we go.
    let mut order: Vec<usize> = (0..keys.len()).collect();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in (1..order.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    for (n, &i) in order.iter().enumerate() {
        assert_eq!(t.insert(&keys[i], i as u64).unwrap(), None);
        model.insert(keys[i].clone(), i as u64);
        if n % 37 == 0 {
            agree(&t, &model, &keys);
        }
    }
    agree(&t, &model, &keys);
    // Updates in place, in every kind of slot (direct, short, long, child layers).
    for (i, k) in keys.iter().enumerate() {
        let w = 1_000_000 + i as u64;
        assert_eq!(
            t.set_existing(k, w),
            model.insert(k.clone(), w),
            "key {k:?}"
        );
    }
    agree(&t, &model, &keys);
    assert_eq!(t.set_existing(b"absent key", 5), None);
    assert_eq!(t.set_existing(&keys[0], RESERVED_WORDS), None);
    agree(&t, &model, &keys);
    let s = t.stats();
    assert!(s.layers >= 3 && s.depth >= 3 && s.buckets > 0, "{s:?}");
    let words: Vec<u64> = (0..keys.len() as u64).collect();
    let loaded = Trie::bulk_load(&keys, &words).unwrap();
    let by_index: BTreeMap<_, _> = keys.iter().cloned().zip(words.iter().copied()).collect();
    agree(&loaded, &by_index, &keys);
    for (n, &i) in order.iter().enumerate() {
        assert_eq!(t.remove(&keys[i]), model.remove(&keys[i]));
        assert_eq!(t.remove(&keys[i]), None);
        if n % 37 == 0 {
            agree(&t, &model, &keys);
        }
    }
    agree(&t, &model, &keys);
}

#[test]
fn many_keys_per_slice_move_to_child_layers_and_back() {
    // 200 keys share the slice "tenant00" and go on: a child layer; then most are removed again.
    let mut t = Trie::new();
    let mut model = BTreeMap::new();
    // A short key keeps the root from skipping the shared prefix.
    let mut keys: Vec<Vec<u8>> = vec![b"t".to_vec()];
    keys.extend((0..200).map(|i| format!("tenant00/user/{i:05}/name").into_bytes()));
    for (i, k) in keys.iter().enumerate() {
        t.insert(k, i as u64).unwrap();
        model.insert(k.clone(), i as u64);
    }
    agree(&t, &model, &keys);
    let s = t.stats();
    assert!(s.layers > 1 && s.root_prefix == 0, "{s:?}");
    for (i, k) in keys.iter().enumerate().skip(4) {
        assert_eq!(t.remove(k), Some(i as u64));
        model.remove(k);
    }
    agree(&t, &model, &keys);
}

#[test]
fn u64_keys_are_direct_words_in_one_layer() {
    let keys: Vec<[u8; 8]> = (0..10_000u64).map(|i| (i * 7919).to_be_bytes()).collect();
    let words: Vec<u64> = (0..10_000).collect();
    let t = Trie::bulk_load(&keys, &words).unwrap();
    let s = t.stats();
    assert_eq!(
        (s.layers, s.buckets, s.direct, s.root_prefix),
        (1, 0, 10_000, 0)
    );
    let mut t2 = Trie::new();
    for (k, w) in keys.iter().zip(&words) {
        t2.insert(k, *w).unwrap();
    }
    let s2 = t2.stats();
    assert_eq!((s2.layers, s2.buckets, s2.direct), (1, 0, 10_000));
    assert_eq!(t2.get(&keys[77]), Some(77));
}

#[test]
fn shared_prefixes_are_skipped_once_inserted_keys_share_them() {
    let mut t = Trie::new();
    for i in 0..5000u64 {
        t.insert(
            format!("user{:019}", i * 3_000_000_007 % 10u64.pow(19)).as_bytes(),
            i,
        )
        .unwrap();
    }
    assert!(t.stats().root_prefix >= 4, "{:?}", t.stats());
    t.check_invariants().unwrap();
    // A key outside the prefix rebuilds the root with a shorter one.
    t.insert(b"admin", 9).unwrap();
    assert_eq!(t.stats().root_prefix, 0);
    assert_eq!(t.get(b"admin"), Some(9));
    assert_eq!(t.len(), 5001);
    t.check_invariants().unwrap();
}

#[test]
fn digit_keys_get_a_feature_and_keys_outside_its_ranges_still_answer_exactly() {
    let mut model = BTreeMap::new();
    let keys: Vec<Vec<u8>> = (0..3000u64)
        .map(|i| format!("user{}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 1).into_bytes())
        .collect();
    let words: Vec<u64> = (0..3000).collect();
    let mut sorted: Vec<(Vec<u8>, u64)> = keys.iter().cloned().zip(words.iter().copied()).collect();
    sorted.sort();
    let (k, w): (Vec<_>, Vec<_>) = sorted.iter().cloned().unzip();
    let mut t = Trie::bulk_load(&k, &w).unwrap();
    assert!(t.stats().featured_layers >= 1, "{:?}", t.stats());
    model.extend(sorted);
    let mut probes: Vec<Vec<u8>> = keys[..50].to_vec();
    // `user0` is among the keys: the root has no prefix, and its slices (`user` and 4 digits)
    // no digit window. Letters, zero bytes and 0xFF inside the digits: outside the feature's
    // ranges, so their slices collide with digit slices and with each other; many of them
    // force rebuilds.
    for i in 0..600u64 {
        let mut key = keys[(i * 7 % 3000) as usize].clone();
        let at = 4 + (i as usize % 12).min(key.len() - 5);
        key[at] = [b'a', 0, 0xFF, b'/'][(i % 4) as usize];
        if i % 5 == 0 {
            key.truncate(at + 1);
        }
        probes.push(key.clone());
        assert_eq!(
            t.insert(&key, 10_000 + i).unwrap(),
            model.insert(key, 10_000 + i)
        );
        if i % 100 == 0 {
            agree(&t, &model, &probes);
        }
    }
    agree(&t, &model, &probes);
    for (n, key) in probes.iter().enumerate() {
        if n % 2 == 0 {
            assert_eq!(t.remove(key), model.remove(key));
        }
    }
    agree(&t, &model, &probes);
}

/// `users` digit keys (a feature), then keys sharing a prefix left by odd keys with many keys per
/// slice (child layers), the adversarial keys, and digit keys with hex letters (bytes outside
/// the feature's ranges).
fn mixed_keys(users: u64) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = (0..users)
        .map(|i| format!("user{}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 3).into_bytes())
        .collect();
    keys.extend((0..300).map(|i| format!("tenant/{:03}/field{}", i / 20, i % 20).into_bytes()));
    keys.extend(adversarial_keys());
    keys.extend((0..200).map(|i| format!("user{i:x}z").into_bytes()));
    keys
}

#[test]
fn planned_inserts_leave_nothing_for_the_insert_to_grow_or_rebuild() {
    // Digit keys (a feature), a shared prefix left by odd keys, many keys per slice (child
    // layers), and every doubling recheck.
    let keys = mixed_keys(4000);
    let mut t = Trie::new();
    let mut model = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(t.needs_grow(k), t.prepare_grow(k).is_some());
        let mut plans = 0;
        while let Some(plan) = t.prepare_grow(k) {
            drop(t.install_grow(plan));
            plans += 1;
            assert!(plans < 16, "plans for {k:?} do not converge");
        }
        assert!(!t.needs_grow(k));
        // A stale plan (made before another change, or for another trie) installs nothing.
        let stale = t.prepare_grow(b"zzzz-not-needed");
        assert_eq!(
            t.insert(k, i as u64).unwrap(),
            model.insert(k.clone(), i as u64)
        );
        if let Some(stale) = stale {
            drop(t.install_grow(stale));
        }
        if i % 500 == 0 {
            agree(&t, &model, &keys[..50]);
        }
    }
    agree(&t, &model, &keys[..200]);
    assert_eq!(UNPLANNED_REBUILDS.with(|n| n.get()), 0);
}

#[test]
fn a_plan_for_another_trie_installs_nothing() {
    let mut t = Trie::bulk_load(&[b"aaaaaaaaaaaaaaaa"], &[1]).unwrap();
    let plan = t
        .prepare_grow(b"b")
        .expect("b leaves the root's prefix: a rebuild");
    t = Trie::bulk_load(&[b"zzzzzzzzzzzzzzzz"], &[2]).unwrap();
    drop(t.install_grow(plan));
    assert_eq!(t.get(b"zzzzzzzzzzzzzzzz"), Some(2));
    assert_eq!(t.get(b"aaaaaaaaaaaaaaaa"), None);
    assert_eq!(t.len(), 1);
}

#[test]
fn bad_input_is_refused_with_a_typed_error() {
    let mut t = Trie::new();
    let long = vec![1u8; MAX_KEY_LEN + 1];
    assert_eq!(
        t.insert(&long, 1),
        Err(TrieError::KeyTooLong {
            len: MAX_KEY_LEN + 1
        })
    );
    assert_eq!(
        t.insert(b"k", RESERVED_WORDS),
        Err(TrieError::ReservedWord(RESERVED_WORDS))
    );
    assert!(t.is_empty());
    assert_eq!(t.get(&long), None);
    assert_eq!(t.remove(&long), None);
    assert!(Trie::bulk_load(&[long], &[1]).is_err());
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    // Few distinct bytes and lengths across the slice boundaries, so keys collide on slices,
    // share prefixes and end inside slices.
    prop_oneof![
        proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(0xFFu8)], 0..20),
        proptest::collection::vec(prop_oneof![Just(b'a'), Just(0u8)], 6..11),
        // Digits with the odd byte outside their range: layers with a feature, colliding slices.
        proptest::collection::vec(
            prop_oneof![8 => b'0'..=b'9', 1 => Just(b'a'), 1 => Just(0u8), 1 => Just(0xFFu8)],
            0..26,
        ),
        (0usize..30, proptest::collection::vec(any::<u8>(), 0..4)).prop_map(|(n, tail)| {
            let mut k = b"shared/prefix/of/thirty/bytes/"[..n].to_vec();
            k.extend(tail);
            k
        }),
        // Record names: runs of 9 to 14 digits (layers with a digit window), now and then one
        // that breaks it (a letter or a separator among the digits, or too few digits).
        (
            0u64..1_000_000_000_000_000,
            7usize..15,
            prop_oneof![8 => Just(None), 1 => Just(Some(b'x')), 1 => Just(Some(b'/'))],
            0usize..14,
        )
            .prop_map(|(n, len, odd, at)| {
                let n = n % 10u64.pow(len as u32);
                let mut k = format!("u/{n:0len$}").into_bytes();
                if let Some(b) = odd {
                    k[2 + at % len] = b;
                }
                k
            }),
        // Composite keys: a constant separator inside the slice (layers with a window), and
        // now and then a key that breaks it (another separator, a key ending inside the
        // window).
        (
            0u64..40,
            prop_oneof![8 => Just(b':'), 1 => Just(b';'), 1 => Just(b'0')],
            prop_oneof![
                Just(""),
                Just("x"),
                Just("name"),
                Just("email"),
                Just("address"),
                Just("created")
            ],
        )
            .prop_map(|(id, sep, field)| {
                let mut k = format!("k/{:06}", id * 7919 % 1_000_000).into_bytes();
                k.push(sep);
                k.extend_from_slice(field.as_bytes());
                k
            }),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<u8>, u64),
    /// The engine's update: `set_existing`, else an insert.
    Set(Vec<u8>, u64),
    Remove(Vec<u8>),
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_operations_agree_with_the_model(
        ops in proptest::collection::vec(
            prop_oneof![
                3 => (key_strategy(), 0u64..1000).prop_map(|(k, w)| Op::Insert(k, w)),
                2 => (key_strategy(), 0u64..1000).prop_map(|(k, w)| Op::Set(k, w)),
                1 => key_strategy().prop_map(Op::Remove),
            ],
            1..300,
        ),
        probes in proptest::collection::vec(key_strategy(), 0..20),
    ) {
        let mut t = Trie::new();
        let mut model = BTreeMap::new();
        for op in &ops {
            match op {
                Op::Insert(k, w) => prop_assert_eq!(t.insert(k, *w).unwrap(), model.insert(k.clone(), *w)),
                Op::Set(k, w) => {
                    let old = model.insert(k.clone(), *w);
                    match t.set_existing(k, *w) {
                        Some(was) => prop_assert_eq!(Some(was), old),
                        None => {
                            prop_assert_eq!(old, None);
                            prop_assert_eq!(t.insert(k, *w).unwrap(), None);
                        }
                    }
                }
                Op::Remove(k) => prop_assert_eq!(t.remove(k), model.remove(k)),
            }
        }
        agree(&t, &model, &probes);
        let keys: Vec<_> = model.keys().cloned().collect();
        let words: Vec<_> = model.values().copied().collect();
        agree(&Trie::bulk_load(&keys, &words).unwrap(), &model, &probes);
    }
}

/// Many keys of every generated kind at once, inserted and removed at random, against the model.
/// Longer with `ALEXKV_TRIE_STRESS_KEYS` (default 20,000).
#[test]
fn mixed_key_kinds_inserted_and_removed_agree_with_the_model() {
    let n: usize = std::env::var("ALEXKV_TRIE_STRESS_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut keys: Vec<Vec<u8>> = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let r = next();
        keys.push(match i % 6 {
            0 => r.to_be_bytes().to_vec(),
            1 => format!("user{}", r >> 1).into_bytes(),
            2 => format!(
                "user:{:010}:{}",
                r % 5000,
                ["a", "bb", "email"][(r % 3) as usize]
            )
            .into_bytes(),
            3 => format!("https://www.h{}.com/p/{}/{}", r % 7, (r >> 8) % 9, r >> 40).into_bytes(),
            4 => {
                let mut k = r.to_be_bytes().to_vec();
                k.extend_from_slice(&next().to_be_bytes());
                k
            }
            _ => r.to_be_bytes()[..(r % 9) as usize].to_vec(),
        });
    }
    let mut t = Trie::new();
    let mut model = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(
            t.insert(k, i as u64).unwrap(),
            model.insert(k.clone(), i as u64)
        );
        if next() % 4 == 0 {
            let victim = &keys[(next() % (i as u64 + 1)) as usize];
            assert_eq!(t.remove(victim), model.remove(victim));
        }
    }
    agree(&t, &model, &keys[..500]);
    let (k, w): (Vec<_>, Vec<_>) = model.iter().map(|(k, w)| (k.clone(), *w)).unzip();
    agree(&Trie::bulk_load(&k, &w).unwrap(), &model, &keys[..500]);
}

/// Inserts `keys` as the engine does: every planned grow first, then the insert.
fn insert_planned(t: &mut Trie, keys: &[Vec<u8>]) {
    for (i, k) in keys.iter().enumerate() {
        insert_planned_one(t, k, i as u64);
    }
}

/// Inserts one key as the engine does; returns the previous word.
fn insert_planned_one(t: &mut Trie, key: &[u8], word: u64) -> Option<u64> {
    while let Some(plan) = t.prepare_grow(key) {
        drop(t.install_grow(plan));
    }
    t.insert(key, word).unwrap()
}

/// The model's keys in key order, inserted as the engine does, and bulk loaded.
fn inserted_and_loaded(model: &BTreeMap<Vec<u8>, u64>) -> [Trie; 2] {
    let mut inserted = Trie::new();
    for (k, w) in model {
        insert_planned_one(&mut inserted, k, *w);
    }
    [inserted, loaded(model)]
}

fn loaded(model: &BTreeMap<Vec<u8>, u64>) -> Trie {
    let keys: Vec<&[u8]> = model.keys().map(Vec::as_slice).collect();
    let words: Vec<u64> = model.values().copied().collect();
    Trie::bulk_load(&keys, &words).unwrap()
}

/// Probes around every `step`-th key: the key with one byte changed (`(at, byte)` of
/// `changes`), and the key cut to each of `lens`.
fn probes_around(
    keys: &[Vec<u8>],
    step: usize,
    changes: &[(usize, u8)],
    lens: &[usize],
) -> Vec<Vec<u8>> {
    let mut probes = Vec::new();
    for k in keys.iter().step_by(step) {
        for &(at, b) in changes {
            let mut p = k.clone();
            p[at] = b;
            probes.push(p);
        }
        probes.extend(lens.iter().map(|&len| k[..len].to_vec()));
    }
    probes
}

mod hints;
mod windows;
