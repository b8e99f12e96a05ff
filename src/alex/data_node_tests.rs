//! Unit tests of data nodes (a child module of `data_node`, so they reach its private state).

use super::*;
use crate::alex::capacity::EXPAND_DENSITY;

fn node_from(keys: &[u64]) -> DataNode<u64> {
    let payloads: Vec<u64> = keys.iter().map(|k| k.wrapping_mul(3)).collect();
    DataNode::build(keys, &payloads, INIT_DENSITY, Placement::Spread, 0, true)
}

#[test]
fn finds_every_bulk_loaded_key_and_no_other() {
    let keys: Vec<u64> = (0..500).map(|i| i * i * 7 + 3).collect();
    let node = node_from(&keys);
    node.check().unwrap();
    for &k in &keys {
        let s = node.find(k).expect("present");
        assert_eq!(node.payload_at(s), k.wrapping_mul(3));
        assert_eq!(node.find(k + 1), None);
    }
    assert_eq!(node.find(0), None);
    assert_eq!(node.find(u64::MAX), None);
}

/// Inserts and removes that keep the count below the growth bound; checks every answer.
fn churn(
    node: &mut DataNode<u64>,
    model: &mut std::collections::BTreeMap<u64, u64>,
    rounds: std::ops::Range<u64>,
) {
    for round in rounds {
        let k = (round * 7919 + round / 97) % 100_000;
        if model.len() + 1 < node.grow_at && !model.contains_key(&k) {
            assert!(matches!(node.insert(k, k + 1), NodeInsert::Inserted));
            model.insert(k, k + 1);
        }
        let victim = *model
            .keys()
            .nth((round as usize * 31) % model.len())
            .unwrap();
        assert_eq!(node.remove(victim), model.remove(&victim));
    }
    node.check().unwrap();
    assert_eq!(node.len(), model.len());
    for (&k, &p) in model.iter() {
        assert_eq!(node.find(k).map(|s| node.payload_at(s)), Some(p), "{k}");
    }
    for k in (0..100_000u64).filter(|k| !model.contains_key(k)) {
        assert_eq!(node.find(k), None, "{k}");
    }
}

#[test]
fn churn_never_hides_a_present_key_from_the_filter() {
    let start: Vec<u64> = (0..100u64).map(|i| i * 1000).collect();
    let mut node = node_from(&start);
    let mut model: std::collections::BTreeMap<u64, u64> =
        start.iter().map(|&k| (k, k.wrapping_mul(3))).collect();
    // A few inserts: the filter still answers, and rejects most absent keys itself.
    churn(&mut node, &mut model, 0..60);
    let filter = node.filter.as_ref().expect("built with a filter");
    assert!(!filter.saturated());
    let rejected = (0..100_000u64)
        .filter(|k| !model.contains_key(k) && !filter.may_contain(*k))
        .count();
    assert!(rejected > 80_000, "the filter rejected only {rejected}");
    // Many more: it saturates (stale bits of removed keys) and stops answering; answers stay right.
    churn(&mut node, &mut model, 60..3000);
    assert!(node.filter.as_ref().unwrap().saturated());
}

#[test]
fn a_node_without_a_filter_finds_the_same_keys() {
    let keys: Vec<u64> = (0..500).map(|i| i * i * 7 + 3).collect();
    let payloads: Vec<u64> = keys.iter().map(|k| k.wrapping_mul(3)).collect();
    let plain = DataNode::build(&keys, &payloads, INIT_DENSITY, Placement::Spread, 0, false);
    let mut filtered = node_from(&keys);
    assert!(!plain.has_filter() && filtered.has_filter());
    for k in 0..keys[keys.len() - 1] + 10 {
        assert_eq!(plain.find(k).is_some(), filtered.find(k).is_some(), "{k}");
    }
    filtered.set_filter(false);
    assert!(!filtered.has_filter());
    filtered.set_filter(true);
    filtered.check().unwrap();
    assert!(keys.iter().all(|&k| filtered.find(k).is_some()));
}

#[test]
fn inserts_shift_toward_the_nearest_gap_until_full() {
    let mut node = node_from(&[10, 20, 30]);
    let mut inserted = vec![10u64, 20, 30];
    let mut k = 11u64;
    while !node.is_full() {
        assert!(matches!(node.insert(k, k * 3), NodeInsert::Inserted));
        inserted.push(k);
        node.check().unwrap();
        k += 1;
    }
    assert!(matches!(node.insert(1_000, 1), NodeInsert::Full));
    for &k in &inserted {
        assert_eq!(node.payload_at(node.find(k).unwrap()), k * 3);
    }
    assert!(matches!(node.insert(20, 7), NodeInsert::Replaced(60)));
}

#[test]
fn extreme_keys_live_beside_the_end_sentinel() {
    let mut node = node_from(&[0, 5, u64::MAX - 1]);
    assert!(matches!(node.insert(u64::MAX, 1), NodeInsert::Inserted));
    node.check().unwrap();
    assert_eq!(node.find(u64::MAX).map(|s| node.payload_at(s)), Some(1));
    assert!(matches!(node.insert(u64::MAX, 2), NodeInsert::Replaced(1)));
    assert_eq!(node.remove(u64::MAX), Some(2));
    assert_eq!(node.find(u64::MAX), None);
    assert_eq!(node.find(0).map(|s| node.payload_at(s)), Some(0));
    node.check().unwrap();
}

#[test]
fn removing_keeps_gap_copies_consistent() {
    let keys: Vec<u64> = (0..100).map(|i| i * 10).collect();
    let mut node = node_from(&keys);
    for &k in keys.iter().step_by(3) {
        assert_eq!(node.remove(k), Some(k * 3));
        node.check().unwrap();
        assert_eq!(node.find(k), None);
    }
    assert_eq!(node.remove(5), None);
    for (i, &k) in keys.iter().enumerate() {
        assert_eq!(node.find(k).is_some(), i % 3 != 0);
    }
}

#[test]
fn room_right_placement_leaves_the_tail_free() {
    let keys: Vec<u64> = (0..600).collect();
    let p: Vec<u64> = keys.clone();
    let node = DataNode::build(&keys, &p, EXPAND_DENSITY, Placement::RoomRight, 0, true);
    node.check().unwrap();
    let last = node.prev_occupied(node.capacity() - 1).unwrap();
    assert!(
        last < node.capacity() * 9 / 10,
        "last real slot {last} of {}",
        node.capacity()
    );
}

#[test]
fn a_lookup_reads_one_line_of_the_node() {
    use std::mem::{align_of, offset_of, size_of};
    fn check<P: Copy>() {
        assert_eq!(align_of::<DataNode<P>>(), 64);
        assert_eq!(offset_of!(DataNode<P>, model), 0);
        assert!(offset_of!(DataNode<P>, keys) + size_of::<NodeArray<u64>>() <= 64);
        assert!(offset_of!(DataNode<P>, payloads) + size_of::<NodeArray<MaybeUninit<P>>>() <= 64);
        assert!(offset_of!(DataNode<P>, filtered) < 64);
        assert!(offset_of!(DataNode<P>, prediction_first) < 64);
    }
    check::<u64>();
    check::<[u64; 2]>();
}

#[test]
fn a_node_whose_keys_sit_at_their_predictions_finds_them_there_first() {
    let linear: Vec<u64> = (0..5000).map(|i| 100 + i * 3).collect();
    let node = node_from(&linear);
    assert!(node.prediction_first);
    let mut x = 77u64;
    let mut noisy: Vec<u64> = (0..5000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x >> 8
        })
        .collect();
    noisy.sort_unstable();
    noisy.dedup();
    let noisy_node = node_from(&noisy);
    assert!(!noisy_node.prediction_first);
    for (keys, node) in [(&linear, &node), (&noisy, &noisy_node)] {
        node.check().unwrap();
        for &k in keys.iter() {
            let s = node.find(k).expect("present");
            assert_eq!(node.key_at(s), k);
            assert_eq!(node.payload_at(s), k.wrapping_mul(3));
            assert_eq!(
                node.find(k + 1).map(|s| node.key_at(s)),
                keys.binary_search(&(k + 1)).ok().map(|_| k + 1)
            );
        }
        assert_eq!(node.find(0), None);
        assert_eq!(node.find(u64::MAX), None);
    }
}

#[test]
fn prediction_first_survives_inserts_and_removes() {
    let keys: Vec<u64> = (0..4000).map(|i| i * 4).collect();
    let mut node = node_from(&keys);
    assert!(node.prediction_first);
    let mut model: std::collections::BTreeMap<u64, u64> =
        keys.iter().map(|&k| (k, k.wrapping_mul(3))).collect();
    for i in 0..600u64 {
        let k = i * 13 + 1;
        if node.must_grow() {
            break;
        }
        match node.insert(k, k) {
            NodeInsert::Full => break,
            _ => {
                model.insert(k, k);
            }
        }
        if i % 3 == 0 {
            let r = i * 8;
            assert_eq!(node.remove(r), model.remove(&r));
        }
    }
    node.check().unwrap();
    for k in 0..17_000u64 {
        assert_eq!(
            node.find(k).map(|s| node.payload_at(s)),
            model.get(&k).copied(),
            "key {k}"
        );
    }
}
