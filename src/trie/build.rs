//! Building layers from sorted keys: bulk load, rebuilds with another prefix, and moving a
//! bucket's long keys to a child layer and back.

use super::bucket::{BucketData, Tail};
use super::{slice, Layer, MAX_FOLD};
use crate::alex::Alex;

/// The prefix a layer over these sorted keys (relative to its start) skips: the bytes all share,
/// but no more than leaves every key at least 8 bytes after it (so keys of one length stay
/// direct words).
pub(super) fn prefix_len<K: AsRef<[u8]>>(keys: &[(K, u64)]) -> usize {
    let (Some(first), Some(last)) = (keys.first(), keys.last()) else {
        return 0;
    };
    let (a, b) = (first.0.as_ref(), last.0.as_ref());
    let shared = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let shortest = keys
        .iter()
        .map(|(k, _)| k.as_ref().len())
        .min()
        .unwrap_or(0);
    shared.min(shortest.saturating_sub(8))
}

/// A layer over `entries`: keys relative to the layer's start, strictly increasing.
pub(super) fn layer(entries: &[(&[u8], u64)]) -> Layer {
    if entries.is_empty() {
        return Layer::empty();
    }
    let p = prefix_len(entries);
    let mut slices = Vec::new();
    let mut words = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let s = slice(entries[i].0, p);
        let mut j = i + 1;
        while j < entries.len() && slice(entries[j].0, p) == s {
            j += 1;
        }
        slices.push(s);
        words.push(slot_word(&entries[i..j], p));
        i = j;
    }
    let index = Alex::bulk_load(&slices, &words).expect("slices of sorted keys are sorted");
    Layer {
        prefix: entries[0].0[..p].into(),
        index,
        len: entries.len(),
        recheck_at: (entries.len() * 2).max(2),
    }
}

/// [`layer`] over owned keys.
pub(super) fn layer_owned(entries: &[(Vec<u8>, u64)]) -> Layer {
    let refs: Vec<(&[u8], u64)> = entries.iter().map(|(k, w)| (k.as_slice(), *w)).collect();
    layer(&refs)
}

/// The word for the keys of one slice starting at `d`.
fn slot_word(group: &[(&[u8], u64)], d: usize) -> u64 {
    if let [(key, word)] = group {
        if key.len() == d + 8 {
            return *word;
        }
    }
    let mut data = BucketData {
        entries: group.iter().map(|(k, w)| (Tail::of(k, d), *w)).collect(),
        child: None,
    };
    if data.too_many_long() {
        let long: Vec<(&[u8], u64)> = group
            .iter()
            .filter(|(k, _)| k.len() >= d + 8)
            .map(|(k, w)| (&k[d + 8..], *w))
            .collect();
        data.entries.retain(|(t, _)| matches!(t, Tail::Short(_)));
        data.child = Some(Box::new(layer(&long)));
    }
    data.encode()
}

/// Moves a bucket's long entries into a new child layer.
pub(super) fn move_long_to_child(data: &mut BucketData) {
    let mut long = Vec::new();
    data.entries.retain(|(t, w)| match t {
        Tail::Short(_) => true,
        Tail::Long(rest) => {
            long.push((rest.clone(), *w));
            false
        }
    });
    data.child = Some(Box::new(layer_owned(&long)));
}

/// Moves a small child layer's keys back into its bucket, when they fit there.
pub(super) fn fold_child(data: &mut BucketData) {
    let Some(child) = &data.child else { return };
    if child.len > MAX_FOLD {
        return;
    }
    let mut keys = Vec::with_capacity(child.len);
    child.collect(&mut Vec::new(), &mut keys);
    let mut folded = BucketData {
        entries: std::mem::take(&mut data.entries),
        child: None,
    };
    folded
        .entries
        .extend(keys.into_iter().map(|(rest, w)| (Tail::Long(rest), w)));
    if folded.too_many_long() {
        folded.entries.retain(|(t, _)| matches!(t, Tail::Short(_)));
        data.entries = folded.entries;
    } else {
        data.entries = folded.entries;
        data.child = None;
    }
}

/// The prefix the layer's keys share now (relative to its start), before the cap of
/// [`prefix_len`]: that of its first and last keys.
pub(super) fn shared_now(layer: &Layer) -> usize {
    match (layer.first_key(), layer.last_key()) {
        (Some(a), Some(b)) => a.iter().zip(&b).take_while(|(x, y)| x == y).count(),
        _ => 0,
    }
}
