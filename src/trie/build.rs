//! Building layers from sorted keys: bulk load, rebuilds with another prefix or feature, and
//! moving a bucket's long keys to a child layer and back.

use super::bucket::{BucketData, Tail};
use super::prefix::Prefix;
use super::radix::Radix;
use super::slot::Slot;
use super::slots::SlotIndex;
use super::window::Window;
use super::{slice, Layer, MAX_FOLD};

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

/// How a layer reads its keys: the prefix it skips, its window and its feature.
#[derive(Debug, PartialEq)]
pub(super) struct Choice {
    pub(super) prefix: usize,
    pub(super) window: Option<Window>,
    pub(super) radix: Option<Radix>,
}

impl Choice {
    /// The slice of `key` (one of the keys the choice was made for).
    fn slice(&self, key: &[u8]) -> u64 {
        slice_in(self.window.as_ref(), key, self.prefix)
    }
}

/// The slice of `key` after prefix `p` in a layer with `window`; the key holds the window.
fn slice_in(window: Option<&Window>, key: &[u8], p: usize) -> u64 {
    match window {
        None => slice(key, p),
        Some(w) => w.gather(key, p).expect("a layer's keys hold its window"),
    }
}

/// The prefix length, window and feature for a layer over `entries` (sorted, relative to its
/// start) that will also hold `extra` (not among them).
pub(super) fn choice_with<K: AsRef<[u8]>>(entries: &[(K, u64)], extra: Option<&[u8]>) -> Choice {
    let mut p = prefix_len(entries);
    if let Some(x) = extra {
        p = match entries.first() {
            None => x.len().saturating_sub(8),
            Some((k, _)) => {
                let shared = k.as_ref().iter().zip(x).take_while(|(a, b)| a == b).count();
                p.min(shared).min(x.len().saturating_sub(8))
            }
        };
    }
    let keys = || entries.iter().map(|(k, _)| k.as_ref()).chain(extra);
    let window = Window::for_keys(keys(), p);
    let radix = Radix::for_slices(keys().map(|k| slice_in(window.as_ref(), k, p)));
    Choice {
        prefix: p,
        window,
        radix,
    }
}

/// A layer over `entries`: keys relative to the layer's start, strictly increasing.
pub(super) fn layer(entries: &[(&[u8], u64)]) -> Layer {
    layer_with(entries, None)
}

/// [`layer`], with the prefix and feature chosen as if `extra` were among the keys too.
pub(super) fn layer_with(entries: &[(&[u8], u64)], extra: Option<&[u8]>) -> Layer {
    assemble(parts(entries, choice_with(entries, extra)))
}

/// [`layer`] over entries it may free before the layer's ALEX is built: at a bulk load of
/// millions of keys the entries (24 bytes a key) are then gone before the ALEX's node arrays
/// are allocated, which lowers the peak of a reopen (`db/open.rs`).
pub(super) fn layer_consuming(entries: Vec<(&[u8], u64)>) -> Layer {
    let parts = parts(&entries, choice_with(&entries, None));
    drop(entries);
    assemble(parts)
}

/// A layer's pieces before its ALEX is built.
struct Parts {
    prefix: Prefix,
    window: Option<Window>,
    radix: Option<Radix>,
    keys: Vec<u64>,
    slots: Vec<Slot>,
    len: usize,
}

/// The layer of `parts` (its ALEX built now), or an empty one.
fn assemble(parts: Option<Parts>) -> Layer {
    let Some(p) = parts else {
        return Layer::empty();
    };
    let index =
        SlotIndex::bulk_load(&p.keys, p.slots).expect("features of sorted slices are sorted");
    Layer {
        prefix: p.prefix,
        window: p.window,
        radix: p.radix,
        index,
        len: p.len,
        recheck_at: (p.len * 2).max(2),
        radix_unsettled: false,
    }
}

/// The pieces of a layer over `entries` read as `choice` says (made for them, see
/// [`choice_with`]), `None` for no entries.
fn parts(entries: &[(&[u8], u64)], choice: Choice) -> Option<Parts> {
    if entries.is_empty() {
        return None;
    }
    let p = choice.prefix;
    // The tail base of every key (`Spot::d`).
    let d = p + choice.window.as_ref().map_or(0, Window::constants);
    let alex_key = |s: u64| choice.radix.as_ref().map_or(s, |r| r.encode(s).0);
    let mut keys = Vec::new();
    let mut words = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let s = choice.slice(entries[i].0);
        let v = alex_key(s);
        let mut j = i + 1;
        while j < entries.len() && alex_key(choice.slice(entries[j].0)) == v {
            j += 1;
        }
        keys.push(v);
        words.push(slot_word(&entries[i..j], d, s, choice.radix.is_some()));
        i = j;
    }
    Some(Parts {
        prefix: entries[0].0[..p].into(),
        window: choice.window,
        radix: choice.radix,
        keys,
        slots: words,
        len: entries.len(),
    })
}

/// [`layer`] over owned keys.
pub(super) fn layer_owned(entries: &[(Vec<u8>, u64)]) -> Layer {
    layer_owned_with(entries, None)
}

/// [`layer_with`] over owned keys.
pub(super) fn layer_owned_with(entries: &[(Vec<u8>, u64)], extra: Option<&[u8]>) -> Layer {
    layer_owned_chosen(entries, choice_with(entries, extra))
}

/// A layer over owned keys, read as `choice` (made by [`choice_with`] for them) says: for a
/// caller that has the choice already.
pub(super) fn layer_owned_chosen(entries: &[(Vec<u8>, u64)], choice: Choice) -> Layer {
    let refs: Vec<(&[u8], u64)> = entries.iter().map(|(k, w)| (k.as_slice(), *w)).collect();
    assemble(parts(&refs, choice))
}

/// The word for the keys of one slot, of slice `s` (a layer's feature separates the slices it is
/// built from), whose tail base is `d` (`Spot::d`).
fn slot_word(group: &[(&[u8], u64)], d: usize, s: u64, explicit: bool) -> Slot {
    if let [(key, word)] = group {
        if key.len() == d + 8 && !explicit {
            return Slot::plain(*word);
        }
    }
    let mut data = BucketData {
        entries: group.iter().map(|(k, w)| (s, Tail::of(k, d), *w)).collect(),
        child: None,
        explicit,
        implicit: s,
    };
    if data.too_many_long(s) {
        let long: Vec<(&[u8], u64)> = group
            .iter()
            .filter(|(k, _)| k.len() >= d + 8)
            .map(|(k, w)| (&k[d + 8..], *w))
            .collect();
        data.entries.retain(|(_, t, _)| matches!(t, Tail::Short(_)));
        data.child = Some((s, Box::new(layer(&long))));
    }
    data.encode()
}

/// Moves the long entries of `slice` into a new child layer.
pub(super) fn move_long_to_child(data: &mut BucketData, slice: u64) {
    let mut long = Vec::new();
    data.entries.retain(|(s, t, w)| match t {
        Tail::Long(rest) if *s == slice => {
            long.push((rest.clone(), *w));
            false
        }
        _ => true,
    });
    data.child = Some((slice, Box::new(layer_owned(&long))));
}

/// Moves a small child layer's keys back into its bucket, when they fit there.
pub(super) fn fold_child(data: &mut BucketData) {
    let Some((cs, child)) = &data.child else {
        return;
    };
    if child.len > MAX_FOLD {
        return;
    }
    let cs = *cs;
    let mut keys = Vec::with_capacity(child.len);
    child.collect(&mut Vec::new(), &mut keys);
    let mut folded = BucketData {
        entries: data.entries.clone(),
        child: None,
        explicit: data.explicit,
        implicit: data.implicit,
    };
    for (rest, w) in keys {
        let tail = Tail::Long(rest);
        let at = folded.search(cs, &tail).unwrap_err();
        folded.entries.insert(at, (cs, tail, w));
    }
    // A bucket of a layer with a feature may hold other slices' entries too: folding must not
    // take it past what a bucket holds (an insert would then rebuild the layer unplanned).
    if !folded.too_many_long(cs) && folded.entries.len() <= super::MAX_MIXED {
        data.entries = folded.entries;
        data.child = None;
    }
}
