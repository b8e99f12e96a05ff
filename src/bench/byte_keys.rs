//! Byte-string key sets for the byte-key benchmarks (`--key-kind`), generated from a seed, held
//! in one flat buffer.
//!
//! | kind | keys |
//! |---|---|
//! | `u64` | uniformly random `u64`s as 8 big-endian bytes (what the engine stores for `u64` keys) |
//! | `ycsb` | YCSB's record names: `"user"` + `fnvhash64(i)` in decimal, i = 0, 1, 2, ... |
//! | `composite` | `"user:"` + a 10-digit zero-padded id + `":"` + one of 5 field names; ids below n/2 |
//! | `url` | `https://` + one of 300 hosts + 2-4 path segments + an id, 30-100 bytes |
//! | `random16` | 16 uniformly random bytes |
//!
//! [`generate_with_absent`] also gives keys of the same kind that were not generated, for reads
//! that must miss.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::keys::shuffle_with;
use super::rng::Rng;
use super::ycsb::ycsb_key_name;

/// A family of generated keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// 8-byte big-endian random `u64`s.
    #[default]
    U64,
    /// YCSB record names.
    Ycsb,
    /// `user:<id>:<field>`.
    Composite,
    /// Generated URLs.
    Url,
    /// 16 random bytes.
    Random16,
}

impl KeyKind {
    /// Every kind, in report order.
    pub const ALL: [KeyKind; 5] = [
        KeyKind::U64,
        KeyKind::Ycsb,
        KeyKind::Composite,
        KeyKind::Url,
        KeyKind::Random16,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::U64 => "u64",
            KeyKind::Ycsb => "ycsb",
            KeyKind::Composite => "composite",
            KeyKind::Url => "url",
            KeyKind::Random16 => "random16",
        }
    }

    /// The length of every key of this kind, if they all have one.
    pub fn fixed_len(self) -> Option<usize> {
        match self {
            KeyKind::U64 => Some(8),
            KeyKind::Random16 => Some(16),
            KeyKind::Ycsb | KeyKind::Composite | KeyKind::Url => None,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        KeyKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown key kind {s:?} (expected u64, ycsb, composite, url or random16)")
            })
    }
}

/// Keys in one buffer, in any order. Of any lengths (the default): key `i` is
/// `bytes[ends[i-1]..ends[i]]`. Of one length ([`KeySet::with_width`]): key `i` is the `i`-th
/// `width` bytes and there are no `ends`, so a list of `u64` keys costs 8 bytes a key, as a
/// `Vec<u64>` does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    /// Every key's length when not 0 (then `ends` stays empty).
    width: usize,
}

impl KeySet {
    /// An empty set whose keys all have `width` bytes (`width` 0: keys of any length).
    pub fn with_width(width: usize) -> KeySet {
        KeySet {
            width,
            ..KeySet::default()
        }
    }

    /// `u64` keys as their 8 big-endian bytes (what the engine stores for them), in order.
    pub fn from_u64s(keys: impl IntoIterator<Item = u64>) -> KeySet {
        let keys = keys.into_iter();
        let mut out = KeySet::with_width(8);
        out.bytes.reserve(8 * keys.size_hint().0);
        for k in keys {
            out.bytes.extend_from_slice(&k.to_be_bytes());
        }
        out
    }

    /// Number of keys.
    #[inline]
    pub fn len(&self) -> usize {
        self.bytes
            .len()
            .checked_div(self.width)
            .unwrap_or(self.ends.len())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Key `i`.
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        if self.width > 0 {
            let start = i * self.width;
            return &self.bytes[start..start + self.width];
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Key `i` of a set of `N`-byte keys, as an array: a caller that hands it on passes a key
    /// whose length the compiler knows, as a `u64` key's 8 bytes are.
    #[inline]
    pub fn array<const N: usize>(&self, i: usize) -> [u8; N] {
        debug_assert_eq!(self.width, N, "keys of another length");
        let mut key = [0u8; N];
        key.copy_from_slice(&self.bytes[i * N..(i + 1) * N]);
        key
    }

    /// The length of every key when the set holds keys of one length ([`KeySet::with_width`]),
    /// else 0.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Appends a key.
    ///
    /// # Panics
    /// If the set holds keys of one length and `key` has another.
    pub fn push(&mut self, key: &[u8]) {
        if self.width > 0 {
            assert_eq!(key.len(), self.width, "a key of another length");
            self.bytes.extend_from_slice(key);
        } else {
            self.bytes.extend_from_slice(key);
            self.ends.push(self.bytes.len());
        }
    }

    /// The keys in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Bytes of all keys together.
    pub fn key_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Mean key length.
    pub fn mean_len(&self) -> f64 {
        self.bytes.len() as f64 / self.len().max(1) as f64
    }

    /// Where `key` is in a set sorted bytewise (`Ok`), or where it would go (`Err`).
    pub fn binary_search(&self, key: &[u8]) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid).cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// The keys at `positions`, in that order, in a set of the same layout.
    pub fn gather(&self, positions: impl IntoIterator<Item = usize>) -> KeySet {
        let positions = positions.into_iter();
        let n = positions.size_hint().0;
        let mut out = KeySet::with_width(self.width);
        out.bytes.reserve((self.mean_len() * n as f64) as usize);
        if self.width == 0 {
            out.ends.reserve(n);
        }
        for p in positions {
            out.push(self.get(p));
        }
        out
    }

    /// Puts the keys in the order [`super::keys::shuffled`] puts as many `u64` keys with `seed`
    /// (the same permutation). In place when the keys have one length.
    pub fn shuffle(&mut self, seed: u64) {
        if self.width == 0 {
            *self = self.shuffled(seed);
            return;
        }
        let (w, bytes) = (self.width, &mut self.bytes);
        shuffle_with(bytes.len() / w, seed, |i, j| {
            // Fisher–Yates swaps position i with a j <= i.
            if i != j {
                let (low, high) = bytes.split_at_mut(i * w);
                low[j * w..(j + 1) * w].swap_with_slice(&mut high[..w]);
            }
        });
    }

    /// A copy in the order of [`KeySet::shuffle`].
    pub fn shuffled(&self, seed: u64) -> KeySet {
        if self.width > 0 {
            let mut out = self.clone();
            out.shuffle(seed);
            return out;
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        shuffle_with(order.len(), seed, |i, j| order.swap(i, j));
        self.gather(order)
    }
}

const FIELDS: [&str; 5] = ["address", "created", "email", "name", "phone"];
const WORDS: [&str; 20] = [
    "alpha", "bravo", "cloud", "delta", "echo", "forest", "garden", "harbor", "island", "jungle",
    "kilo", "lemon", "metro", "nova", "orbit", "pixel", "quartz", "river", "solar", "tango",
];
const TLDS: [&str; 4] = ["com", "org", "net", "io"];
const SECTIONS: [&str; 8] = [
    "products", "users", "articles", "images", "docs", "api/v2", "search", "static",
];

fn one_key(kind: KeyKind, i: u64, n: u64, rng: &mut Rng) -> Vec<u8> {
    match kind {
        KeyKind::U64 => rng.next_u64().to_be_bytes().to_vec(),
        KeyKind::Ycsb => ycsb_key_name(i).into_bytes(),
        KeyKind::Composite => {
            let id = rng.below((n / 2).max(1));
            let field = FIELDS[rng.below(FIELDS.len() as u64) as usize];
            format!("user:{id:010}:{field}").into_bytes()
        }
        KeyKind::Url => {
            let host = rng.below(300);
            let mut url = format!(
                "https://www.{}{}.{}/",
                WORDS[(host % 20) as usize],
                host / 20,
                TLDS[(host % 4) as usize]
            );
            let segments = 1 + rng.below(3);
            url.push_str(SECTIONS[rng.below(SECTIONS.len() as u64) as usize]);
            for _ in 1..segments {
                url.push('/');
                url.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
            }
            url.push_str(&format!("/{}", rng.below(1 << 40)));
            while url.len() < 30 {
                url.push_str("-x");
            }
            url.truncate(100);
            url.into_bytes()
        }
        KeyKind::Random16 => {
            let mut k = rng.next_u64().to_be_bytes().to_vec();
            k.extend_from_slice(&rng.next_u64().to_be_bytes());
            k
        }
    }
}

/// `n` distinct keys of `kind`, sorted bytewise (deterministic from `seed`).
pub fn generate(kind: KeyKind, n: usize, seed: u64) -> KeySet {
    generate_with_absent(kind, n, 0, seed).0
}

/// `n` distinct keys of `kind`, sorted bytewise, and up to `absent` more distinct keys of the
/// same kind that are not among them (sorted), for reads that must miss. The first set is
/// [`generate`]'s; the absent keys are the generator's next draws (for `ycsb`, the record names
/// of the indexes after the loaded ones) less any that are loaded. Fewer than `absent` come back
/// only when the kind has run out of keys (`composite` keys of a small `n`: their ids are below
/// `n / 2`).
///
/// ```
/// use alexkv::bench::byte_keys::{generate_with_absent, KeyKind};
/// let (present, absent) = generate_with_absent(KeyKind::Url, 1000, 100, 7);
/// assert_eq!((present.len(), absent.len()), (1000, 100));
/// assert!(absent.iter().all(|k| present.binary_search(k).is_err()));
/// ```
pub fn generate_with_absent(kind: KeyKind, n: usize, absent: usize, seed: u64) -> (KeySet, KeySet) {
    let mut rng = Rng::derive(seed, 0xB17E_5EED);
    // Every draw, one after the other; the sets hold positions in it. Draws that collide are
    // replaced by fresh draws (sort, deduplicate, refill) until `n` distinct keys remain.
    let mut draws = KeySet::default();
    let mut next = 0u64;
    let mut draw = |draws: &mut KeySet| {
        draws.push(&one_key(kind, next, n as u64, &mut rng));
        next += 1;
        draws.len() - 1
    };
    let sort_distinct = |draws: &KeySet, set: &mut Vec<usize>| {
        set.sort_unstable_by(|&a, &b| draws.get(a).cmp(draws.get(b)));
        set.dedup_by(|a, b| draws.get(*a) == draws.get(*b));
    };
    let mut present: Vec<usize> = Vec::with_capacity(n);
    while present.len() < n {
        while present.len() < n {
            present.push(draw(&mut draws));
        }
        sort_distinct(&draws, &mut present);
    }
    let mut missing: Vec<usize> = Vec::with_capacity(absent);
    // A kind with few keys left (see above) would never fill the pool: stop after this many
    // draws.
    let mut budget = absent.saturating_mul(20).max(1 << 16);
    while missing.len() < absent && budget > 0 {
        for _ in missing.len()..absent {
            let at = draw(&mut draws);
            let key = draws.get(at);
            if present
                .binary_search_by(|&p| draws.get(p).cmp(key))
                .is_err()
            {
                missing.push(at);
            }
            budget = budget.saturating_sub(1);
        }
        sort_distinct(&draws, &mut missing);
    }
    let width = kind.fixed_len().unwrap_or(0);
    let set = |positions: Vec<usize>| {
        let mut out = KeySet::with_width(width);
        out.bytes
            .reserve(positions.iter().map(|&p| draws.get(p).len()).sum());
        if width == 0 {
            out.ends.reserve(positions.len());
        }
        for p in positions {
            out.push(draws.get(p));
        }
        out
    };
    (set(present), set(missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_gives_n_sorted_distinct_keys_of_its_shape() {
        for kind in KeyKind::ALL {
            let set = generate(kind, 2000, 1);
            assert_eq!(set.len(), 2000, "{kind}");
            assert!(
                set.iter().zip(set.iter().skip(1)).all(|(a, b)| a < b),
                "{kind}"
            );
            assert_eq!(kind.name().parse::<KeyKind>().unwrap(), kind);
            for k in set.iter() {
                match kind {
                    KeyKind::U64 => assert_eq!(k.len(), 8),
                    KeyKind::Random16 => assert_eq!(k.len(), 16),
                    KeyKind::Ycsb => assert!(k.starts_with(b"user") && k.len() <= 24),
                    KeyKind::Composite => assert!(k.starts_with(b"user:") && k[15] == b':'),
                    KeyKind::Url => assert!((30..=100).contains(&k.len())),
                }
            }
        }
        assert_eq!(
            generate(KeyKind::Ycsb, 3, 9).get(0),
            generate(KeyKind::Ycsb, 3, 9).get(0)
        );
    }

    /// The generator before the keys went into one buffer: the index benchmark's figures were
    /// measured on its keys.
    fn generate_as_vecs(kind: KeyKind, n: usize, seed: u64) -> Vec<Vec<u8>> {
        let mut rng = Rng::derive(seed, 0xB17E_5EED);
        let mut keys: Vec<Vec<u8>> = Vec::with_capacity(n);
        let mut next = 0u64;
        loop {
            while keys.len() < n {
                keys.push(one_key(kind, next, n as u64, &mut rng));
                next += 1;
            }
            keys.sort_unstable();
            keys.dedup();
            if keys.len() >= n {
                break;
            }
        }
        keys
    }

    #[test]
    fn the_flat_generator_gives_the_keys_the_vec_generator_gave() {
        // Composite keys of 3000 rows collide often, so refills happen.
        for kind in KeyKind::ALL {
            let flat: Vec<Vec<u8>> = generate(kind, 3000, 5).iter().map(<[u8]>::to_vec).collect();
            assert_eq!(flat, generate_as_vecs(kind, 3000, 5), "{kind}");
        }
    }

    #[test]
    fn absent_keys_are_distinct_keys_of_the_kind_that_were_not_generated() {
        for kind in KeyKind::ALL {
            let (present, absent) = generate_with_absent(kind, 3000, 500, 8);
            assert_eq!(present, generate(kind, 3000, 8), "{kind}");
            assert_eq!(absent.len(), 500, "{kind}");
            assert!(
                absent.iter().zip(absent.iter().skip(1)).all(|(a, b)| a < b),
                "{kind}"
            );
            assert!(
                absent.iter().all(|k| present.binary_search(k).is_err()),
                "{kind}"
            );
            let shape = |k: &[u8]| (k.starts_with(b"user"), k.starts_with(b"https://"));
            assert!(
                absent.iter().all(|k| shape(k) == shape(present.get(0))
                    && kind.fixed_len().is_none_or(|w| k.len() == w)),
                "{kind}"
            );
        }
        // Composite keys of 10 rows: 5 ids x 5 fields, 10 of them loaded, at most 15 absent.
        let (present, absent) = generate_with_absent(KeyKind::Composite, 10, 100, 1);
        assert_eq!(present.len(), 10);
        assert!(absent.len() <= 15 && !absent.is_empty());
        assert!(absent.iter().all(|k| present.binary_search(k).is_err()));
    }

    #[test]
    fn shuffles_follow_the_u64_shuffle_for_both_layouts() {
        let ints: Vec<u64> = (0..1000u64).map(|i| i * 77).collect();
        let fixed = KeySet::from_u64s(ints.iter().copied());
        let want = KeySet::from_u64s(crate::bench::keys::shuffled(&ints, 3));
        assert_eq!(fixed.shuffled(3), want);
        let mut in_place = fixed.clone();
        in_place.shuffle(3);
        assert_eq!(in_place, want);
        let mut varied = KeySet::default();
        for k in fixed.iter() {
            varied.push(k);
        }
        let shuffled = varied.shuffled(3);
        assert!(shuffled.iter().eq(want.iter()));
    }

    #[test]
    fn fixed_and_varied_layouts_hold_the_same_keys() {
        let set = generate(KeyKind::Random16, 100, 2);
        assert_eq!(set.len(), 100);
        assert_eq!(set.key_bytes(), 1600);
        assert_eq!(set.mean_len(), 16.0);
        for (i, k) in set.iter().enumerate() {
            assert_eq!(set.binary_search(k), Ok(i));
        }
        assert_eq!(set.binary_search(&[0u8; 16]), Err(0));
        assert_eq!(set.binary_search(&[0xFFu8; 17]), Err(100));
        let picked = set.gather([5, 1, 5]);
        assert_eq!(picked.len(), 3);
        assert_eq!(picked.get(2), set.get(5));
        assert_eq!(
            (set.width(), set.array::<16>(7)),
            (16, set.get(7).try_into().unwrap())
        );
        let urls = generate(KeyKind::Url, 100, 2);
        let picked = urls.gather([9, 0]);
        assert_eq!((picked.get(0), picked.get(1)), (urls.get(9), urls.get(0)));
    }
}
