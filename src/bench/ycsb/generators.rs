//! YCSB core's number generators, ported from `site.ycsb.generator` and `site.ycsb.Utils`.
//!
//! Each generator matches the Java original's arithmetic (the same formulas, the same constants,
//! the same order of operations), so a workload here draws from the same distributions as YCSB.
//! The only difference is the source of uniform numbers: every generator takes our seeded
//! [`Rng`] by argument instead of a thread-local `Random`, so a whole run is reproducible.
//!
//! | YCSB class                      | here                          |
//! |---------------------------------|-------------------------------|
//! | `Utils.fnvhash64`               | [`fnv_hash64`]                |
//! | `ZipfianGenerator`              | [`ZipfianGenerator`]          |
//! | `ScrambledZipfianGenerator`     | [`ScrambledZipfianGenerator`] |
//! | `SkewedLatestGenerator`         | [`SkewedLatestGenerator`]     |
//! | `UniformLongGenerator`          | [`UniformGenerator`]          |
//! | `HotspotIntegerGenerator`       | [`HotspotGenerator`]          |
//! | `AcknowledgedCounterGenerator`  | [`AcknowledgedCounter`]       |
//! | `DiscreteGenerator`             | [`DiscreteGenerator`]         |

use std::collections::BTreeSet;

use crate::bench::rng::Rng;

/// The Zipfian constant YCSB uses everywhere (`ZipfianGenerator.ZIPFIAN_CONSTANT`).
pub const ZIPFIAN_CONSTANT: f64 = 0.99;
/// Items of the large Zipfian behind [`ScrambledZipfianGenerator`] (`ITEM_COUNT`, 10 billion).
pub const SCRAMBLED_ITEM_COUNT: u64 = 10_000_000_000;
/// YCSB's precomputed `zeta(ITEM_COUNT, 0.99)` (`ScrambledZipfianGenerator.ZETAN`).
pub const SCRAMBLED_ZETAN: f64 = 26.469_028_201_783_02;

const FNV_OFFSET_BASIS_64: u64 = 0xCBF2_9CE4_8422_2325;
const FNV_PRIME_64: u64 = 1_099_511_628_211;

/// YCSB's `Utils.fnvhash64`: FNV-1a over the 8 little-endian bytes of `value`, then the absolute
/// value as a Java `long` (so the result is below 2^63, except for the single hash equal to
/// `i64::MIN`, which stays 2^63 as Java's `Math.abs` leaves it).
#[inline]
pub fn fnv_hash64(value: u64) -> u64 {
    let mut hash = FNV_OFFSET_BASIS_64;
    let mut v = value;
    for _ in 0..8 {
        hash ^= v & 0xFF;
        hash = hash.wrapping_mul(FNV_PRIME_64);
        v >>= 8;
    }
    (hash as i64).wrapping_abs() as u64
}

/// YCSB's `zetastatic(st, n, theta, initialsum)`: `initialsum + sum_{i=st}^{n-1} 1/(i+1)^theta`.
pub fn zeta_from(start: u64, n: u64, theta: f64, initial_sum: f64) -> f64 {
    let mut sum = initial_sum;
    for i in start..n {
        sum += 1.0 / ((i + 1) as f64).powf(theta);
    }
    sum
}

/// `zeta(n, theta)`, the normalising sum of a Zipfian over `n` items.
pub fn zeta(n: u64, theta: f64) -> f64 {
    zeta_from(0, n, theta, 0.0)
}

/// Zipfian over `[min, max]`: item `min` most popular, then `min + 1`, and so on (Gray et al.,
/// "Quickly generating billion-record synthetic databases", SIGMOD 1994, as in YCSB).
///
/// The item count may grow between draws ([`ZipfianGenerator::next_for`]): `zeta` is then
/// extended incrementally from the old count, one term per new item, exactly as YCSB does for
/// the "latest" distribution while inserts happen. Like YCSB, `eta` keeps using the item count
/// given at construction (`items` in the Java code) after such growth.
#[derive(Clone, Debug)]
pub struct ZipfianGenerator {
    items: u64,
    base: u64,
    theta: f64,
    zeta2theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
    count_for_zeta: u64,
}

impl ZipfianGenerator {
    /// Zipfian over `[min, max]` with YCSB's constant 0.99.
    pub fn new(min: u64, max: u64) -> Self {
        Self::with_constant(min, max, ZIPFIAN_CONSTANT)
    }

    /// Zipfian over `[min, max]` with constant `theta`; computes `zeta(items)` (O(items)).
    pub fn with_constant(min: u64, max: u64, theta: f64) -> Self {
        let items = max - min + 1;
        Self::with_zetan(min, max, theta, zeta(items, theta))
    }

    /// Zipfian over `[min, max]` with a precomputed `zetan = zeta(max - min + 1, theta)`.
    pub fn with_zetan(min: u64, max: u64, theta: f64, zetan: f64) -> Self {
        assert!(max >= min, "empty Zipfian range [{min}, {max}]");
        assert!(
            theta > 0.0 && theta != 1.0,
            "Zipfian constant {theta} outside (0, 1) or > 1"
        );
        let items = max - min + 1;
        let zeta2theta = zeta(2, theta);
        ZipfianGenerator {
            items,
            base: min,
            theta,
            zeta2theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta: Self::eta(items, theta, zeta2theta, zetan),
            count_for_zeta: items,
        }
    }

    fn eta(items: u64, theta: f64, zeta2theta: f64, zetan: f64) -> f64 {
        (1.0 - (2.0 / items as f64).powf(1.0 - theta)) / (1.0 - zeta2theta / zetan)
    }

    /// Number of items given at construction.
    pub fn items(&self) -> u64 {
        self.items
    }

    /// The `zeta` currently in use (grows with [`ZipfianGenerator::next_for`]).
    pub fn zetan(&self) -> f64 {
        self.zetan
    }

    /// Next value for the construction-time item count.
    pub fn next(&mut self, rng: &mut Rng) -> u64 {
        self.next_for(rng, self.items)
    }

    /// Next value for `item_count` items (YCSB's `nextLong(itemcount)`), in
    /// `[base, base + item_count]`. A larger count than last time extends `zeta`
    /// incrementally; a smaller one is ignored (YCSB's default, `allowitemcountdecrease=false`).
    pub fn next_for(&mut self, rng: &mut Rng, item_count: u64) -> u64 {
        if item_count > self.count_for_zeta {
            self.zetan = zeta_from(self.count_for_zeta, item_count, self.theta, self.zetan);
            self.count_for_zeta = item_count;
            self.eta = Self::eta(self.items, self.theta, self.zeta2theta, self.zetan);
        }
        let u = rng.next_f64();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return self.base;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return self.base + 1;
        }
        self.base + (item_count as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64
    }
}

/// Zipfian popularity spread over `[min, max]` by hashing, so the popular items are not
/// clustered at the low end (YCSB's default `requestdistribution=zipfian`).
///
/// Draws from a Zipfian over [`SCRAMBLED_ITEM_COUNT`] items with the precomputed
/// [`SCRAMBLED_ZETAN`], then returns `min + fnv_hash64(draw) % (max - min + 1)`.
#[derive(Clone, Debug)]
pub struct ScrambledZipfianGenerator {
    min: u64,
    item_count: u64,
    zipf: ZipfianGenerator,
}

impl ScrambledZipfianGenerator {
    /// Scrambled Zipfian over `[min, max]`.
    pub fn new(min: u64, max: u64) -> Self {
        assert!(max >= min, "empty range [{min}, {max}]");
        ScrambledZipfianGenerator {
            min,
            item_count: max - min + 1,
            // YCSB: new ZipfianGenerator(0, ITEM_COUNT, ...), i.e. ITEM_COUNT + 1 items.
            zipf: ZipfianGenerator::with_zetan(
                0,
                SCRAMBLED_ITEM_COUNT,
                ZIPFIAN_CONSTANT,
                SCRAMBLED_ZETAN,
            ),
        }
    }

    /// Next value in `[min, max]`.
    pub fn next(&mut self, rng: &mut Rng) -> u64 {
        self.min + fnv_hash64(self.zipf.next(rng)) % self.item_count
    }
}

/// The most recently inserted items are the most popular (YCSB's `requestdistribution=latest`):
/// `last - zipfian(last)`, where `last` is the highest acknowledged insert.
#[derive(Clone, Debug)]
pub struct SkewedLatestGenerator {
    zipf: ZipfianGenerator,
}

impl SkewedLatestGenerator {
    /// `last` is the counter's value at construction (YCSB builds its Zipfian over `last` items;
    /// at least one item here, so a one-record database works).
    pub fn new(last: u64) -> Self {
        let items = last.max(1);
        SkewedLatestGenerator {
            zipf: ZipfianGenerator::new(0, items - 1),
        }
    }

    /// Next value in `[0, last]`, where `last` is the current highest acknowledged insert.
    pub fn next(&mut self, rng: &mut Rng, last: u64) -> u64 {
        last.saturating_sub(self.zipf.next_for(rng, last))
    }
}

/// Uniform over `[lb, ub]` (`UniformLongGenerator`).
#[derive(Clone, Copy, Debug)]
pub struct UniformGenerator {
    lb: u64,
    ub: u64,
}

impl UniformGenerator {
    /// Uniform over the inclusive range `[lb, ub]`.
    pub fn new(lb: u64, ub: u64) -> Self {
        assert!(lb <= ub, "empty range [{lb}, {ub}]");
        UniformGenerator { lb, ub }
    }

    /// Next value in `[lb, ub]`.
    pub fn next(&self, rng: &mut Rng) -> u64 {
        rng.range_inclusive(self.lb, self.ub)
    }
}

/// A hot set of `hot_data_fraction` of `[lb, ub]` (its low end) receives `hot_opn_fraction` of
/// the draws; the rest go uniformly to the cold set (`HotspotIntegerGenerator`).
#[derive(Clone, Copy, Debug)]
pub struct HotspotGenerator {
    lb: u64,
    hot_interval: u64,
    cold_interval: u64,
    hot_opn_fraction: f64,
}

impl HotspotGenerator {
    /// Hot spot over `[lb, ub]`; both fractions are clamped to `[0, 1]` as YCSB does.
    pub fn new(lb: u64, ub: u64, hot_data_fraction: f64, hot_opn_fraction: f64) -> Self {
        assert!(lb <= ub, "empty range [{lb}, {ub}]");
        let interval = ub - lb + 1;
        let hot_interval = (interval as f64 * hot_data_fraction.clamp(0.0, 1.0)) as u64;
        HotspotGenerator {
            lb,
            hot_interval,
            cold_interval: interval - hot_interval,
            hot_opn_fraction: hot_opn_fraction.clamp(0.0, 1.0),
        }
    }

    /// Next value in `[lb, ub]`.
    pub fn next(&self, rng: &mut Rng) -> u64 {
        // An empty hot (or cold) set sends every draw to the other one.
        let hot = rng.next_f64() < self.hot_opn_fraction;
        if (hot && self.hot_interval > 0) || self.cold_interval == 0 {
            self.lb + rng.below(self.hot_interval)
        } else {
            self.lb + self.hot_interval + rng.below(self.cold_interval)
        }
    }
}

/// Insert sequence numbers handed out in order and acknowledged when the insert is done
/// (`AcknowledgedCounterGenerator`). [`AcknowledgedCounter::last`] is the highest number below
/// which every insert has been acknowledged: readers only choose keys up to it, so they never
/// ask for a record whose insert is still in flight.
#[derive(Clone, Debug)]
pub struct AcknowledgedCounter {
    next: u64,
    limit: Option<u64>,
    pending: BTreeSet<u64>,
}

impl AcknowledgedCounter {
    /// A counter whose first value is `start`; `last()` starts at `start - 1` (records
    /// `0..start` already exist).
    pub fn new(start: u64) -> Self {
        AcknowledgedCounter {
            next: start,
            limit: start.checked_sub(1),
            pending: BTreeSet::new(),
        }
    }

    /// The next sequence number to insert.
    pub fn next_value(&mut self) -> u64 {
        let v = self.next;
        self.next += 1;
        v
    }

    /// Marks `value` as inserted; `last()` advances over every contiguous acknowledged value.
    pub fn acknowledge(&mut self, value: u64) {
        self.pending.insert(value);
        loop {
            let want = self.limit.map_or(0, |l| l + 1);
            if !self.pending.remove(&want) {
                break;
            }
            self.limit = Some(want);
        }
    }

    /// Highest acknowledged sequence number with no gap below it (`None`: nothing yet).
    pub fn last(&self) -> Option<u64> {
        self.limit
    }
}

/// Picks one of several values with given weights (`DiscreteGenerator`); weights need not sum
/// to one. Values are tried in the order they were added, as in YCSB.
#[derive(Clone, Debug)]
pub struct DiscreteGenerator<T> {
    values: Vec<(f64, T)>,
    sum: f64,
}

impl<T: Copy> DiscreteGenerator<T> {
    /// An empty generator.
    pub fn new() -> Self {
        DiscreteGenerator {
            values: Vec::new(),
            sum: 0.0,
        }
    }

    /// Adds `value` with `weight` (ignored unless positive, like YCSB's `if (p > 0)`).
    pub fn add(&mut self, weight: f64, value: T) {
        if weight > 0.0 {
            self.values.push((weight, value));
            self.sum += weight;
        }
    }

    /// `true` if nothing with positive weight was added.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Next value. # Panics if empty.
    pub fn next(&self, rng: &mut Rng) -> T {
        let mut val = rng.next_f64();
        for &(weight, value) in &self.values {
            let p = weight / self.sum;
            if val < p {
                return value;
            }
            val -= p;
        }
        // Rounding can leave val a hair above the last share; YCSB would throw here.
        self.values.last().expect("DiscreteGenerator is empty").1
    }
}

impl<T: Copy> Default for DiscreteGenerator<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fnv1a(bytes: &[u8]) -> u64 {
        bytes.iter().fold(FNV_OFFSET_BASIS_64, |h, &b| {
            (h ^ b as u64).wrapping_mul(FNV_PRIME_64)
        })
    }

    #[test]
    fn fnv_hash_is_ycsb_fnv1a_of_little_endian_bytes_made_non_negative() {
        // Published FNV-1a 64 test vector.
        assert_eq!(fnv1a(b"a"), 0xAF63_DC4C_8601_EC8C);
        for v in [0u64, 1, 42, 1_000_000, u64::MAX] {
            let h = fnv1a(&v.to_le_bytes()) as i64;
            assert_eq!(fnv_hash64(v), h.wrapping_abs() as u64);
            assert!(fnv_hash64(v) <= 1 << 63);
        }
        assert_ne!(fnv_hash64(1), fnv_hash64(2));
    }

    #[test]
    fn zipfian_first_item_has_probability_one_over_zeta() {
        let mut rng = Rng::new(1);
        let mut z = ZipfianGenerator::new(0, 999);
        let n = 200_000;
        let mut counts = vec![0u32; 1001];
        for _ in 0..n {
            counts[z.next(&mut rng) as usize] += 1;
        }
        let p0 = counts[0] as f64 / n as f64;
        let want = 1.0 / zeta(1000, ZIPFIAN_CONSTANT);
        assert!((p0 / want - 1.0).abs() < 0.03, "p0 {p0} want {want}");
        let p1 = counts[1] as f64 / n as f64;
        let want1 = 0.5f64.powf(ZIPFIAN_CONSTANT) * want;
        assert!((p1 / want1 - 1.0).abs() < 0.05, "p1 {p1} want {want1}");
        assert!(counts[0] > counts[10] && counts[10] > counts[500]);
    }

    #[test]
    fn zipfian_extends_zeta_incrementally_when_items_grow() {
        let mut rng = Rng::new(2);
        let mut z = ZipfianGenerator::new(0, 999);
        assert!((z.zetan() - zeta(1000, ZIPFIAN_CONSTANT)).abs() < 1e-9);
        let v = z.next_for(&mut rng, 5000);
        assert!(v <= 5000);
        assert!((z.zetan() - zeta(5000, ZIPFIAN_CONSTANT)).abs() < 1e-9);
        // A smaller count afterwards leaves zeta alone.
        z.next_for(&mut rng, 10);
        assert!((z.zetan() - zeta(5000, ZIPFIAN_CONSTANT)).abs() < 1e-9);
    }

    #[test]
    fn scrambled_zipfian_stays_in_range_with_one_dominant_item() {
        let mut rng = Rng::new(3);
        let mut z = ScrambledZipfianGenerator::new(100, 10_099);
        let n = 200_000;
        let mut counts = vec![0u32; 10_000];
        for _ in 0..n {
            let v = z.next(&mut rng);
            assert!((100..=10_099).contains(&v));
            counts[(v - 100) as usize] += 1;
        }
        // The top item is draw 0 of the big Zipfian (p = 1/ZETAN), plus rare collisions.
        let top = *counts.iter().max().unwrap() as f64 / n as f64;
        assert!(
            (top - 1.0 / SCRAMBLED_ZETAN).abs() < 0.004,
            "top share {top}"
        );
        let hot = (fnv_hash64(0) % 10_000) as usize;
        assert_eq!(counts[hot], *counts.iter().max().unwrap());
    }

    #[test]
    fn scrambled_zetan_constant_is_consistent_with_its_growth() {
        // zeta(n, 0.99) grows like ln(n)-ish; check the constant against a computed partial sum
        // plus the integral of the tail, which bounds the true value within 1e-3.
        let n0 = 10_000_000u64;
        let head = zeta(n0, ZIPFIAN_CONSTANT);
        let s = 1.0 - ZIPFIAN_CONSTANT;
        let tail = ((SCRAMBLED_ITEM_COUNT as f64 + 0.5).powf(s) - (n0 as f64 + 0.5).powf(s)) / s;
        assert!(
            (head + tail - SCRAMBLED_ZETAN).abs() < 1e-3,
            "{}",
            head + tail
        );
    }

    #[test]
    fn skewed_latest_prefers_the_newest_and_never_exceeds_last() {
        let mut rng = Rng::new(4);
        let mut g = SkewedLatestGenerator::new(999);
        let mut at_last = 0;
        for i in 0..100_000u64 {
            let last = 999 + i / 10;
            let v = g.next(&mut rng, last);
            assert!(v <= last);
            if v == last {
                at_last += 1;
            }
        }
        assert!(at_last > 10_000, "newest chosen {at_last} times");
        let mut one = SkewedLatestGenerator::new(0);
        assert_eq!(one.next(&mut rng, 0), 0);
    }

    #[test]
    fn uniform_and_hotspot_respect_bounds_and_fractions() {
        let mut rng = Rng::new(5);
        let u = UniformGenerator::new(10, 19);
        assert!((0..1000).all(|_| (10..=19).contains(&u.next(&mut rng))));
        let h = HotspotGenerator::new(0, 999, 0.2, 0.8);
        let n = 100_000;
        let hot = (0..n).filter(|_| h.next(&mut rng) < 200).count();
        assert!(
            (hot as f64 / n as f64 - 0.8).abs() < 0.01,
            "hot share {hot}"
        );
        let all_hot = HotspotGenerator::new(0, 9, 1.0, 0.5);
        assert!((0..1000).all(|_| all_hot.next(&mut rng) <= 9));
        let none_hot = HotspotGenerator::new(0, 9, 0.0, 0.9);
        assert!((0..1000).all(|_| none_hot.next(&mut rng) <= 9));
    }

    #[test]
    fn acknowledged_counter_advances_only_over_contiguous_acks() {
        let mut c = AcknowledgedCounter::new(10);
        assert_eq!(c.last(), Some(9));
        let (a, b, d) = (c.next_value(), c.next_value(), c.next_value());
        assert_eq!((a, b, d), (10, 11, 12));
        c.acknowledge(11);
        assert_eq!(c.last(), Some(9));
        c.acknowledge(10);
        assert_eq!(c.last(), Some(11));
        c.acknowledge(12);
        assert_eq!(c.last(), Some(12));
        let mut empty = AcknowledgedCounter::new(0);
        assert_eq!(empty.last(), None);
        let v = empty.next_value();
        empty.acknowledge(v);
        assert_eq!(empty.last(), Some(0));
    }

    #[test]
    fn discrete_generator_follows_weights_and_skips_zero() {
        let mut rng = Rng::new(6);
        let mut d = DiscreteGenerator::new();
        d.add(0.0, 'x');
        d.add(3.0, 'a');
        d.add(1.0, 'b');
        let n = 100_000;
        let a = (0..n).filter(|_| d.next(&mut rng) == 'a').count();
        assert!((a as f64 / n as f64 - 0.75).abs() < 0.01);
        assert!(DiscreteGenerator::<u8>::new().is_empty());
    }
}
