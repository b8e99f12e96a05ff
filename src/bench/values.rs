//! Values derived from their key, so that every read can be checked without storing a copy.
//!
//! The value of `key` with length `len` is the first `len` bytes of a SplitMix64 stream seeded
//! with `mix64(key ^ VALUE_SALT)`, each output written little-endian. It is incompressible
//! (like real payloads after compression, and unlike zero-filled values that flatter block
//! compression), different for every key, and cheap to make: about 1 ns per 8 bytes.
//!
//! ```
//! use alexkv::bench::values::{check_value, value_for};
//! let mut v = Vec::new();
//! value_for(42, 100, &mut v);
//! assert_eq!(v.len(), 100);
//! assert!(check_value(42, &v, 100));
//! assert!(!check_value(43, &v, 100));
//! ```

use super::rng::{mix64, splitmix64};

/// Separates the value stream from other uses of the key as a seed.
const VALUE_SALT: u64 = 0xA1E5_CAFE_0F0F_5EED;

#[inline]
fn stream_seed(key: u64) -> u64 {
    mix64(key ^ VALUE_SALT)
}

/// The number a key's value is derived from: a `u64` key itself for its 8 big-endian bytes (so
/// `u64` keys keep the values they always had), a hash of the bytes for a key of any other
/// length. Allocates nothing: a read's check can call it.
///
/// ```
/// use alexkv::bench::values::key_seed;
/// assert_eq!(key_seed(&42u64.to_be_bytes()), 42);
/// assert_ne!(key_seed(b"user1"), key_seed(b"user2"));
/// ```
#[inline]
pub fn key_seed(key: &[u8]) -> u64 {
    if let Ok(word) = <[u8; 8]>::try_from(key) {
        return u64::from_be_bytes(word);
    }
    // Seeded with the length, so that a key and its zero-padded extension differ.
    let mut h = mix64(key.len() as u64 ^ VALUE_SALT);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = mix64(h ^ u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = mix64(h ^ u64::from_le_bytes(w));
    }
    h
}

/// Replaces the contents of `out` with the `len`-byte value of `key`.
///
/// `out` is cleared first and reused, so a benchmark loop allocates once.
pub fn value_for(key: u64, len: usize, out: &mut Vec<u8>) {
    out.clear();
    out.reserve(len);
    let mut state = stream_seed(key);
    let mut left = len;
    while left >= 8 {
        out.extend_from_slice(&splitmix64(&mut state).to_le_bytes());
        left -= 8;
    }
    if left > 0 {
        out.extend_from_slice(&splitmix64(&mut state).to_le_bytes()[..left]);
    }
}

/// The `len`-byte value of `key` as a new vector (convenience for tests and loads).
pub fn value_vec(key: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    value_for(key, len, &mut v);
    v
}

/// `true` if `bytes` is exactly the `len`-byte value of `key`. Allocates nothing.
pub fn check_value(key: u64, bytes: &[u8], len: usize) -> bool {
    if bytes.len() != len {
        return false;
    }
    let mut state = stream_seed(key);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        if chunk != splitmix64(&mut state).to_le_bytes() {
            return false;
        }
    }
    let tail = chunks.remainder();
    tail.is_empty() || tail == &splitmix64(&mut state).to_le_bytes()[..tail.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_deterministic_and_checkable_for_every_length() {
        let mut v = Vec::new();
        for len in [0, 1, 7, 8, 9, 100, 1000, 4097] {
            value_for(123, len, &mut v);
            assert_eq!(v.len(), len);
            assert_eq!(v, value_vec(123, len));
            assert!(check_value(123, &v, len), "len {len}");
        }
    }

    #[test]
    fn a_value_is_a_prefix_of_a_longer_value_of_the_same_key() {
        assert_eq!(value_vec(9, 100)[..], value_vec(9, 1000)[..100]);
    }

    #[test]
    fn check_rejects_wrong_key_length_or_any_flipped_byte() {
        let v = value_vec(u64::MAX, 100);
        assert!(!check_value(u64::MAX - 1, &v, 100));
        assert!(!check_value(u64::MAX, &v, 99));
        assert!(!check_value(u64::MAX, &v[..99], 100));
        for i in [0, 50, 96, 99] {
            let mut bad = v.clone();
            bad[i] ^= 1;
            assert!(!check_value(u64::MAX, &bad, 100), "flip at {i}");
        }
    }

    #[test]
    fn byte_keys_seed_values_by_all_their_bytes() {
        assert_eq!(key_seed(&u64::MAX.to_be_bytes()), u64::MAX);
        let seeds = [
            key_seed(b""),
            key_seed(b"a"),
            key_seed(b"a\0"),
            key_seed(b"user:0000000001:name"),
            key_seed(b"user:0000000001:namf"),
            key_seed(b"user:0000000002:name"),
        ];
        for (i, a) in seeds.iter().enumerate() {
            for b in &seeds[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn neighbouring_keys_have_unrelated_values() {
        let a = value_vec(0, 100);
        let b = value_vec(1, 100);
        let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        assert!(same < 10, "{same} equal bytes");
        // Roughly balanced bits: no accidental zero-filled or constant output.
        let ones: u32 = value_vec(5, 10_000).iter().map(|b| b.count_ones()).sum();
        assert!((38_000..42_000).contains(&ones));
    }
}
