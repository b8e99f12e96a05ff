//! The key hash that spreads neighbouring keys over the value cache's shards and stripes, the
//! in-flight marks' stripes and the writers' key locks.

/// SplitMix64's output for the state `key`: one add and its bijective, well-avalanched
/// finaliser, so sequential keys land far apart. Not for anything adversarial.
#[inline]
pub(crate) fn spread(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of a byte key: its 8-byte words (the last zero-padded) folded through [`spread`],
/// seeded with the length so a key and its zero-padded extension differ. An 8-byte key costs
/// one [`spread`], as a `u64` key did.
#[inline]
pub(crate) fn spread_bytes(key: &[u8]) -> u64 {
    let mut h = key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        h = spread(h ^ u64::from_le_bytes(c.try_into().expect("8 bytes")));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() || key.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = spread(h ^ u64::from_le_bytes(w));
    }
    h
}

/// The stripe of byte key `key` among `stripes` (a power of two).
#[inline]
pub(crate) fn stripe_bytes(key: &[u8], stripes: usize) -> usize {
    debug_assert!(stripes.is_power_of_two());
    spread_bytes(key) as usize & (stripes - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_keys_spread_over_the_low_bits() {
        // The first SplitMix64 output for seed 0, as published with the algorithm.
        assert_eq!(spread(0), 0xE220_A839_7B1D_CDAF);
        let mut hit = [false; 64];
        for k in 0..256u64 {
            hit[(spread(k) & 63) as usize] = true;
        }
        assert!(hit.iter().filter(|&&h| h).count() > 56);
    }

    #[test]
    fn byte_keys_spread_and_differ_from_their_padded_extensions() {
        assert_ne!(spread_bytes(b""), spread_bytes(b"\0"));
        assert_ne!(spread_bytes(b"ab"), spread_bytes(b"ab\0"));
        assert_ne!(spread_bytes(&[0; 8]), spread_bytes(&[0; 16]));
        let mut hit = [false; 64];
        for k in 0..256u64 {
            hit[(spread_bytes(&k.to_be_bytes()) & 63) as usize] = true;
        }
        assert!(hit.iter().filter(|&&h| h).count() > 56);
    }
}
