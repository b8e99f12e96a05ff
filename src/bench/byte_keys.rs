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

use std::fmt;
use std::str::FromStr;

use super::rng::Rng;
use super::ycsb::generators::fnv_hash64;

/// A family of generated keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// 8-byte big-endian random `u64`s.
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

/// Keys in one buffer: key `i` is `bytes[ends[i-1]..ends[i]]`.
#[derive(Clone, Default)]
pub struct KeySet {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl KeySet {
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Key `i`.
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Appends a key.
    pub fn push(&mut self, key: &[u8]) {
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len());
    }

    /// The keys in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Mean key length.
    pub fn mean_len(&self) -> f64 {
        self.bytes.len() as f64 / self.len().max(1) as f64
    }

    /// The keys sorted bytewise, duplicates removed.
    fn sorted_distinct(keys: Vec<Vec<u8>>) -> KeySet {
        let mut keys = keys;
        keys.sort_unstable();
        keys.dedup();
        let mut out = KeySet::default();
        out.bytes.reserve(keys.iter().map(Vec::len).sum());
        out.ends.reserve(keys.len());
        for k in &keys {
            out.push(k);
        }
        out
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
        KeyKind::Ycsb => format!("user{}", fnv_hash64(i)).into_bytes(),
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
    KeySet::sorted_distinct(keys)
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
}
