//! Slot hints (`slot.rs`): payload hints, words layers that drop them, the engine's one-walk
//! set, and child hints.

use super::*;

#[test]
fn one_long_key_slots_answer_candidates_and_every_change_keeps_the_hint_true() {
    let mut t = Trie::new();
    let key = |i: u64, tail: u8| {
        let mut k = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .to_be_bytes()
            .to_vec();
        k.extend_from_slice(&[tail; 8]);
        k
    };
    for i in 0..1000 {
        t.insert(&key(i, 1), i).unwrap();
    }
    t.check_invariants().unwrap();
    for i in 0..1000 {
        // One key per slice, going on past it: the slot's hint answers, unchecked.
        assert_eq!(t.get_hinted(&key(i, 1), |_| true), Lookup::Candidate(i));
        // Another key of the same slice gets that key's payload as a candidate; `get` says no.
        assert_eq!(t.get_hinted(&key(i, 2), |_| true), Lookup::Candidate(i));
        assert_eq!(t.get(&key(i, 2)), None);
        // A key ending at the slice's end is one too (a long entry with no rest bytes) ...
        assert_eq!(
            t.get_hinted(&key(i, 1)[..8], |_| true),
            Lookup::Candidate(i)
        );
        assert_eq!(t.get(&key(i, 1)[..8]), None);
        // ... one ending inside the slice never.
        assert_eq!(t.get_hinted(&key(i, 1)[..5], |_| true), Lookup::Absent);
        // A payload the caller cannot check is answered exactly, from the bucket.
        assert_eq!(t.get_hinted(&key(i, 1), |w| w != i), Lookup::Found(i));
        assert_eq!(t.get_hinted(&key(i, 2), |w| w != i), Lookup::Absent);
    }
    // Updates re-encode the slot with the new payload; in place too.
    t.insert(&key(7, 1), 70).unwrap();
    assert_eq!(t.get_hinted(&key(7, 1), |_| true), Lookup::Candidate(70));
    assert_eq!(t.set_existing(&key(6, 1), 60), Some(6));
    assert_eq!(t.get_hinted(&key(6, 1), |_| true), Lookup::Candidate(60));
    assert_eq!(t.get(&key(6, 1)), Some(60));
    assert_eq!(t.set_existing(&key(6, 2), 61), None);
    t.check_invariants().unwrap();
    // A second key of the slice: the bucket answers exactly.
    t.insert(&key(7, 2), 71).unwrap();
    assert_eq!(t.get_hinted(&key(7, 1), |_| true), Lookup::Found(70));
    assert_eq!(t.get_hinted(&key(7, 3), |_| true), Lookup::Absent);
    // Removing it brings the hint back; removing both empties the slot.
    assert_eq!(t.remove(&key(7, 2)), Some(71));
    assert_eq!(t.get_hinted(&key(7, 1), |_| true), Lookup::Candidate(70));
    assert_eq!(t.remove(&key(7, 1)), Some(70));
    assert_eq!(t.get_hinted(&key(7, 1), |_| true), Lookup::Absent);
    // A short key beside a long one of the same (zero-padded) slice: no hint.
    let long = [1, 2, 3, 4, 0, 0, 0, 0, 9, 9];
    t.insert(&long, 90).unwrap();
    assert_eq!(t.get_hinted(&long, |_| true), Lookup::Candidate(90));
    t.insert(&long[..4], 80).unwrap();
    assert_eq!(t.get_hinted(&long, |_| true), Lookup::Found(90));
    assert_eq!(t.get_hinted(&long[..4], |_| true), Lookup::Found(80));
    t.check_invariants().unwrap();
    // Bulk loads set hints too.
    let keys: Vec<Vec<u8>> = {
        let mut k: Vec<Vec<u8>> = (0..1000).map(|i| key(i, 1)).collect();
        k.sort();
        k
    };
    let words: Vec<u64> = (0..1000).collect();
    let b = Trie::bulk_load(&keys, &words).unwrap();
    b.check_invariants().unwrap();
    for (k, w) in keys.iter().zip(&words) {
        assert_eq!(b.get_hinted(k, |_| true), Lookup::Candidate(*w));
    }
}

#[test]
fn layers_of_eight_byte_keys_hold_words_and_byte_keys_get_their_hints() {
    // `u64` keys, inserted and bulk loaded: no hints anywhere (8 bytes a slot).
    let words: Vec<Vec<u8>> = (0..20_000u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes().to_vec())
        .collect();
    let mut t = Trie::new();
    insert_planned(&mut t, &words);
    assert_eq!(t.stats().hinted_layers, 0);
    let mut sorted = words.clone();
    sorted.sort();
    let loaded = Trie::bulk_load(&sorted, &vec![1; sorted.len()]).unwrap();
    assert_eq!(loaded.stats().hinted_layers, 0);

    // Byte keys of one long key per slice: the root drops its first hint, and the doubling
    // recheck rebuilds it with hints, so lookups get candidates again.
    let long: Vec<Vec<u8>> = (0..5000u64)
        .map(|i| format!("{:016x}tail", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).into_bytes())
        .collect();
    let mut t = Trie::new();
    insert_planned(&mut t, &long);
    assert!(t.stats().hinted_layers >= 1);
    let candidates = long
        .iter()
        .filter(|k| matches!(t.get_hinted(k, |_| true), Lookup::Candidate(_)))
        .count();
    assert!(
        candidates > long.len() * 9 / 10,
        "{candidates} of {} lookups answered by hint",
        long.len()
    );
    let model: BTreeMap<Vec<u8>, u64> = long.iter().cloned().zip(0..).collect();
    agree(&t, &model, &long[..100]);
}

#[test]
fn a_layer_of_words_that_drops_hints_still_answers_exactly() {
    // Unplanned inserts of long keys into a layer of words: the hints are dropped (no
    // candidates) until a rebuild, every answer stays exact.
    let mut t = Trie::bulk_load(&[7u64.to_be_bytes()], &[7]).unwrap();
    let mut model = BTreeMap::from([(7u64.to_be_bytes().to_vec(), 7)]);
    for i in 0..300u64 {
        let k = format!("{:08}-{i}", i * 31).into_bytes();
        t.insert_unplanned(&k, i).unwrap();
        model.insert(k, i);
    }
    assert_eq!(
        t.stats().hinted_layers,
        0,
        "no rebuild gave the layer hints"
    );
    let probes: Vec<Vec<u8>> = model
        .keys()
        .map(|k| [k.as_slice(), b"x"].concat())
        .chain(model.keys().cloned())
        .collect();
    agree(&t, &model, &probes);
}

#[test]
fn the_engines_one_walk_set_or_add_agrees_with_the_model_and_leaves_nothing_unplanned() {
    // The engine's order (`db/write.rs`): `set_direct`, then `set_or_add` (a present key's word
    // in place, or a new key in a free root slot when nothing is due), else the plan and
    // `insert_unplanned`. Digit keys (a feature whose ranges later keys leave), 8-byte keys
    // (direct words), shared prefixes, children, updates of present keys.
    let mut keys = mixed_keys(6000);
    keys.extend((0..500u64).map(|i| (i * 7919).to_be_bytes().to_vec()));
    let mut t = Trie::new();
    let mut model = BTreeMap::new();
    let (mut added, mut set) = (0, 0);
    for round in 0..2u64 {
        for (i, k) in keys.iter().enumerate() {
            let word = round * 100_000 + i as u64;
            let old = model.insert(k.clone(), word);
            if let Some(prev) = t.set_direct(k, word) {
                assert_eq!(prev, old, "{k:?}");
                continue;
            }
            let before = t.len();
            let due = t.needs_grow(k);
            if let Some(prev) = t.set_or_add(k, word) {
                assert_eq!(prev, old, "{k:?}");
                match prev {
                    None => {
                        // A key whose insert needs a plan (a grow, a recheck) is refused.
                        assert!(!due, "{k:?} was added though its insert needs a plan");
                        added += 1;
                        assert_eq!(t.len(), before + 1);
                    }
                    Some(_) => set += 1,
                }
                continue;
            }
            while let Some(plan) = t.prepare_grow(k) {
                drop(t.install_grow(plan));
            }
            assert_eq!(t.insert_unplanned(k, word).unwrap(), old, "{k:?}");
            if i % 700 == 0 {
                agree(&t, &model, &keys[..50]);
            }
        }
        agree(&t, &model, &keys[..300]);
        // Remove a third (ranges of the feature may narrow: the next doubling rechecks them).
        for k in keys.iter().step_by(3) {
            assert_eq!(t.remove(k), model.remove(k));
        }
        agree(&t, &model, &keys[..300]);
    }
    assert!(added > 1000, "set_or_add added {added} keys");
    assert!(set > 100, "set_or_add set {set} present keys");
    assert_eq!(UNPLANNED_REBUILDS.with(|n| n.get()), 0);
}

/// URL-like keys: a few hosts, each with a few sections of many pages, so that paths share
/// long prefixes and every host and section is a child layer of its own.
fn url_keys(hosts: u64, sections: u64, pages: u64) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    for h in 0..hosts {
        for s in 0..sections {
            for p in 0..pages {
                let page = p.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 24;
                keys.push(
                    format!("https://www.host{h}.example.org/section{s}/{page}").into_bytes(),
                );
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn child_only_slots_hint_their_child_and_every_change_keeps_the_hint_true() {
    let keys = url_keys(6, 5, 40);
    let model: BTreeMap<Vec<u8>, u64> = keys.iter().cloned().zip(0..).collect();
    let probes: Vec<Vec<u8>> = keys
        .iter()
        .step_by(7)
        .flat_map(|k| [k[..k.len() - 1].to_vec(), [&k[..], b"0"].concat()])
        .collect();
    for mut t in inserted_and_loaded(&model) {
        // Hosts and sections: buckets that hold nothing but a child layer.
        assert!(t.stats().child_hints >= 6, "{:?}", t.stats());
        agree(&t, &model, &probes);
        let mut m = model.clone();
        // Emptying a host's layers takes its slots away; the others keep their hints (the
        // invariant check says which hint each slot must have).
        for k in keys.iter().filter(|k| k.starts_with(b"https://www.host3.")) {
            assert_eq!(t.remove(k), m.remove(k));
        }
        agree(&t, &m, &probes);
        assert!(t.stats().child_hints >= 5, "{:?}", t.stats());
        // Keys leaving a child layer's prefix rebuild it in place: its address, and so the
        // hint, stay true.
        for (k, w) in [
            (&b"https://www.host1.example.org/section2/x"[..], 9),
            (b"https://www.host1.example.org/sectio", 8),
            (b"https://www.host1.example.org/", 7),
        ] {
            insert_planned_one(&mut t, k, w);
            m.insert(k.to_vec(), w);
            agree(&t, &m, &probes);
        }
    }

    // A key that ends inside a child-only slot's (zero-padded) slice joins its bucket: the
    // slot keeps its child but loses the hint, and gets it back when the key goes.
    let mut m = BTreeMap::new();
    for group in [&b"abcde\0\0\0"[..], b"fghij\0\0\0"] {
        for i in 0..40u64 {
            m.insert([group, format!("{i:04}-page").as_bytes()].concat(), i);
        }
    }
    let probes = vec![
        b"abcde".to_vec(),
        b"abcde\0\0\0".to_vec(),
        b"fghij\0".to_vec(),
    ];
    for mut t in inserted_and_loaded(&m) {
        let mut m = m.clone();
        assert_eq!(t.stats().child_hints, 2, "{:?}", t.stats());
        insert_planned_one(&mut t, b"abcde", 99);
        m.insert(b"abcde".to_vec(), 99);
        assert_eq!(t.stats().child_hints, 1, "{:?}", t.stats());
        agree(&t, &m, &probes);
        assert_eq!(t.remove(b"abcde"), Some(99));
        m.remove(&b"abcde"[..]);
        assert_eq!(t.stats().child_hints, 2, "{:?}", t.stats());
        agree(&t, &m, &probes);
    }
}
