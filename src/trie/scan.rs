//! In-order walks of the trie: from a lower bound, and its first and last keys.

use std::ops::Bound;

use super::bucket::{is_bucket, BucketRef};
use super::{slice, Layer, Trie};

impl Trie {
    /// Calls `f` with each key at or after `from` (and its word), in byte order, until `f`
    /// returns false. The key slice is valid only during the call.
    pub fn scan_from(&self, from: Bound<&[u8]>, mut f: impl FnMut(&[u8], u64) -> bool) {
        let mut path = Vec::new();
        match from {
            Bound::Unbounded => {
                self.root.scan(&mut path, None, &mut f);
            }
            Bound::Included(lo) => {
                self.root.scan(&mut path, Some(lo), &mut f);
            }
            Bound::Excluded(lo) => {
                self.root
                    .scan(&mut path, Some(lo), &mut |k, w| k == lo || f(k, w));
            }
        }
    }

    /// The smallest key and its word.
    pub fn first(&self) -> Option<(Vec<u8>, u64)> {
        let mut out = None;
        self.scan_from(Bound::Unbounded, |k, w| {
            out = Some((k.to_vec(), w));
            false
        });
        out
    }

    /// The largest key and its word.
    pub fn last(&self) -> Option<(Vec<u8>, u64)> {
        let mut path = Vec::new();
        let word = self.root.last(&mut path)?;
        Some((path, word))
    }
}

impl Layer {
    /// Walks the keys of this layer at or after `lo`, `path` holding the key bytes before the
    /// layer's start; when `lo` is given, `path` equals its first `path.len()` bytes. Returns
    /// false when `f` stopped the walk. `path` is restored.
    pub(super) fn scan(
        &self,
        path: &mut Vec<u8>,
        lo: Option<&[u8]>,
        f: &mut dyn FnMut(&[u8], u64) -> bool,
    ) -> bool {
        let at = path.len();
        let prefix = &self.prefix[..];
        let mut lo = lo;
        if let Some(l) = lo {
            if l.len() <= at {
                // `l` is a prefix of every key here: none is below it.
                lo = None;
            } else {
                let rest = &l[at..];
                let n = prefix.len().min(rest.len());
                match rest[..n].cmp(&prefix[..n]) {
                    std::cmp::Ordering::Less => lo = None,
                    std::cmp::Ordering::Greater => return true,
                    std::cmp::Ordering::Equal if rest.len() < prefix.len() => lo = None,
                    std::cmp::Ordering::Equal => {}
                }
            }
        }
        path.extend_from_slice(prefix);
        let d = path.len();
        let from = lo.map_or(0, |l| slice(l, d));
        let mut go_on = true;
        for (s, w) in self.index.range(from..) {
            let spine = lo.filter(|_| s == from);
            let sb = s.to_be_bytes();
            if !is_bucket(w) {
                path.extend_from_slice(&sb);
                let below = spine.is_some_and(|l| &path[..] < l);
                go_on = below || f(path, w);
                path.truncate(d);
            } else {
                // SAFETY: `w` is a live bucket of this layer, borrowed for this call.
                let bucket = unsafe { BucketRef::from_word(w) };
                for e in bucket.entries() {
                    if e.code < 8 {
                        path.extend_from_slice(&sb[..e.code]);
                    } else {
                        path.extend_from_slice(&sb);
                        path.extend_from_slice(e.rest);
                    }
                    let below = spine.is_some_and(|l| &path[..] < l);
                    go_on = below || f(path, e.word);
                    path.truncate(d);
                    if !go_on {
                        break;
                    }
                }
                if go_on {
                    if let Some(child) = bucket.child() {
                        path.extend_from_slice(&sb);
                        go_on = child.scan(path, spine, f);
                        path.truncate(d);
                    }
                }
            }
            if !go_on {
                break;
            }
        }
        path.truncate(at);
        go_on
    }

    /// Appends the layer's largest key (after the layer's start) to `path` and returns its word.
    pub(super) fn last(&self, path: &mut Vec<u8>) -> Option<u64> {
        let (s, w) = self.index.last()?;
        path.extend_from_slice(&self.prefix);
        let sb = s.to_be_bytes();
        if !is_bucket(w) {
            path.extend_from_slice(&sb);
            return Some(w);
        }
        // SAFETY: `w` is a live bucket of this layer, borrowed for this call.
        let bucket = unsafe { BucketRef::from_word(w) };
        if let Some(child) = bucket.child() {
            path.extend_from_slice(&sb);
            return child.last(path);
        }
        let e = bucket.entries().last()?;
        if e.code < 8 {
            path.extend_from_slice(&sb[..e.code]);
        } else {
            path.extend_from_slice(&sb);
            path.extend_from_slice(e.rest);
        }
        Some(e.word)
    }

    /// The layer's smallest key, relative to its start.
    pub(super) fn first_key(&self) -> Option<Vec<u8>> {
        let mut out = None;
        self.scan(&mut Vec::new(), None, &mut |k, _| {
            out = Some(k.to_vec());
            false
        });
        out
    }

    /// The layer's largest key, relative to its start.
    pub(super) fn last_key(&self) -> Option<Vec<u8>> {
        let mut path = Vec::new();
        self.last(&mut path).map(|_| path)
    }
}
