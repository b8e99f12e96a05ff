//! A per-layer model feature for slices whose bytes use few values (decimal digits, hex, letters):
//! the slice read as a mixed-radix number over the byte ranges its layer holds.
//!
//! A linear model over raw slices of ASCII digits is a staircase at every byte (10 of 256 values
//! used): bulk-loaded ALEX nodes over YCSB's record names searched thousands of slots from their
//! prediction (`internal/PERFORMANCE.md`, issue 22). Read as `sum (b_i - lo_i) * w_i` with
//! `w_i` the product of the ranges of the bytes after `i`, the same slices are evenly spread.
//!
//! The feature must never reorder keys, but new keys may hold bytes outside the ranges seen at
//! build. A byte below its range maps to the range's bottom with every later byte at its bottom;
//! a byte above, to the top with every later byte at its top. The map is then non-decreasing
//! (a slice that differs first at byte `i` can only tie, never cross) but not one-to-one, so a
//! layer with a feature keeps each entry's slice in its bucket and compares it.

/// A byte whose values span fewer than this many is narrow: decimal digits (10), hex (16 or 22)
/// and one case of letters (26) are. URL keys, whose layers mostly get the feature at this
/// threshold, at 128 and never, measured the same (`internal/PERFORMANCE.md`, issue 22).
const NARROW: u8 = 64;

/// The mixed-radix feature of one layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Radix {
    lo: [u8; 8],
    hi: [u8; 8],
    /// Place value of each byte: the product of the ranges after it.
    w: [u64; 8],
}

impl Radix {
    /// The feature for a layer holding these slices, or `None` when it would not help: every
    /// byte after the first that varies already uses its full range (random bytes, binary
    /// integers), so the raw slice is as even as the feature would be.
    pub(crate) fn for_slices(slices: impl Iterator<Item = u64>) -> Option<Radix> {
        let mut lo = [u8::MAX; 8];
        let mut hi = [0u8; 8];
        let mut any = false;
        for (n, s) in slices.enumerate() {
            any = true;
            for (i, b) in s.to_be_bytes().into_iter().enumerate() {
                lo[i] = lo[i].min(b);
                hi[i] = hi[i].max(b);
            }
            // Ranges only widen: once every byte spans NARROW values or more, no byte can be
            // narrow, whatever comes next (random keys get here after a few hundred slices,
            // which keeps a big layer's doubling recheck from reading all of its slices).
            if n % 64 == 63 && (0..8).all(|i| hi[i] - lo[i] >= NARROW) {
                return None;
            }
        }
        if !any {
            return None;
        }
        let first_varying = (0..8).find(|&i| lo[i] != hi[i])?;
        let narrow_later =
            (first_varying + 1..8).any(|i| lo[i] != hi[i] && (hi[i] - lo[i]) < NARROW);
        if !narrow_later {
            return None;
        }
        let mut w = [0u64; 8];
        let mut place = 1u64;
        for i in (0..8).rev() {
            w[i] = place;
            place = place.saturating_mul(u64::from(hi[i] - lo[i]) + 1);
        }
        Some(Radix { lo, hi, w })
    }

    /// The feature of slice `s` (non-decreasing in `s`, see the module docs), and whether it is
    /// exact: every byte within its range, so that [`Radix::decode`] gives `s` back.
    #[inline(always)]
    pub(crate) fn encode(&self, s: u64) -> (u64, bool) {
        let mut v = 0u64;
        for (i, b) in s.to_be_bytes().into_iter().enumerate() {
            if b < self.lo[i] {
                return (v, false);
            }
            if b > self.hi[i] {
                // This byte at its top and every later byte at its top.
                let top = v + u64::from(self.hi[i] - self.lo[i]) * self.w[i] + (self.w[i] - 1);
                return (top, false);
            }
            v += u64::from(b - self.lo[i]) * self.w[i];
        }
        (v, true)
    }

    /// The one slice whose exact feature is `v`.
    pub(crate) fn decode(&self, v: u64) -> u64 {
        let mut bytes = [0u8; 8];
        let mut rest = v;
        for (i, byte) in bytes.iter_mut().enumerate() {
            let digit = rest / self.w[i];
            rest %= self.w[i];
            *byte = self.lo[i] + digit as u8;
        }
        u64::from_be_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(n: u64) -> u64 {
        u64::from_be_bytes(format!("{n:08}").as_bytes().try_into().unwrap())
    }

    #[test]
    fn decimal_slices_become_their_numbers_and_order_is_kept_for_any_slice() {
        let r = Radix::for_slices([digits(0), digits(99_999_999)].into_iter()).unwrap();
        for n in [0, 1, 9, 10, 12_345_678, 99_999_999] {
            assert_eq!(r.encode(digits(n)), (n, true));
            assert_eq!(r.decode(n), digits(n));
        }
        // Non-decreasing over arbitrary slices, including bytes outside the ranges.
        let mut x = 7u64;
        let mut probes: Vec<u64> = (0..20_000)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match i % 3 {
                    0 => x,
                    1 => digits(x % 100_000_000) ^ (x >> 58 << (8 * (x % 8))),
                    _ => digits(x % 100_000_000),
                }
            })
            .collect();
        probes.extend([0, u64::MAX, digits(0) - 1, digits(99_999_999) + 1]);
        probes.sort_unstable();
        for w in probes.windows(2) {
            assert!(
                r.encode(w[0]).0 <= r.encode(w[1]).0,
                "{:#x} {:#x}",
                w[0],
                w[1]
            );
        }
        for &p in &probes {
            let (v, exact) = r.encode(p);
            assert_eq!(exact, r.decode(v) == p, "{p:#x}");
        }
    }

    #[test]
    fn full_range_bytes_need_no_feature() {
        let random = [0u64, u64::MAX, 0x1234_5678_9ABC_DEF0];
        assert!(Radix::for_slices(random.into_iter()).is_none());
        let sequential = (0..100_000u64).map(|i| i * 97);
        assert!(Radix::for_slices(sequential).is_none());
        assert!(Radix::for_slices(std::iter::empty()).is_none());
    }
}
