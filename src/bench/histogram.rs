//! Latency histograms in nanoseconds and a timing loop that keeps the timer out of throughput.
//!
//! Reading the clock costs tens of nanoseconds, which is as much as a learned-index lookup, so
//! the two figures a benchmark reports come from different measurements ([`time_ops`]):
//!
//! * **Throughput** (`ops_per_sec`, `mean_ns_per_op`) comes from wall time taken around whole
//!   batches of the *other* operations, run back to back: the clock is read twice per batch,
//!   not per operation.
//! * **Latency percentiles** (`latency`) come from timing 1 in `sample_every` operations
//!   individually, so they include the cost of one clock read pair (about 20–50 ns, reported
//!   as `timer_overhead_ns` so a reader can subtract it).
//!
//! The sampled operations run after the rest of their batch, outside its timing: a clock read
//! waits for the memory accesses before it, so a sampled operation inside a batch would cost
//! the batch the overlap of its neighbours' cache misses as well as two clock reads (for
//! 400 ns reads sampled 1 in 16, tens of nanoseconds per read). With `sample_every == 1` every
//! operation is sampled and the mean is the samples' mean.
//!
//! ```
//! use alexkv::bench::histogram::{time_ops, TimingConfig};
//! let data: Vec<u64> = (0..10_000).collect();
//! let mut sum = 0u64;
//! let t = time_ops(data.len() as u64, TimingConfig::default(), |i| sum += data[i as usize]);
//! assert_eq!(t.ops, 10_000);
//! assert_eq!(t.latency.count, 100);
//! assert!(sum > 0);
//! ```

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Largest latency kept exactly: one hour. Longer ones are recorded as one hour.
const HIGHEST_NS: u64 = 3_600_000_000_000;
/// Three significant digits: a recorded value is within 0.1% of the true one.
const SIGFIG: u8 = 3;

/// Summary of a latency distribution, all in nanoseconds (serialisable for the JSON report).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of recorded latencies.
    pub count: u64,
    /// Arithmetic mean.
    pub mean_ns: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest recorded latency, exact (not rounded to a histogram bucket).
    pub max: u64,
}

/// An hdrhistogram of nanosecond latencies with 0.1% precision from 1 ns to one hour.
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
    max: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        let hist = Histogram::new_with_bounds(1, HIGHEST_NS, SIGFIG)
            .expect("constant histogram bounds are valid");
        LatencyHistogram { hist, max: 0 }
    }

    /// Records one latency; values beyond one hour are recorded as one hour.
    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        self.hist.saturating_record(ns.max(1));
        self.max = self.max.max(ns);
    }

    /// Records one latency given as a `Duration`.
    #[inline]
    pub fn record(&mut self, d: Duration) {
        self.record_ns(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Adds every value recorded in `other` (for example from another thread).
    pub fn merge(&mut self, other: &LatencyHistogram) {
        self.hist
            .add(&other.hist)
            .expect("histograms with identical bounds always add");
        self.max = self.max.max(other.max);
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Forgets every recorded value.
    pub fn reset(&mut self) {
        self.hist.reset();
        self.max = 0;
    }

    /// The value at quantile `q` in `[0, 1]`, in nanoseconds (0 when empty).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.hist.is_empty() {
            0
        } else {
            self.hist.value_at_quantile(q)
        }
    }

    /// Count, mean and the percentiles reported by every benchmark. All zero when empty.
    pub fn summary(&self) -> LatencySummary {
        if self.hist.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.hist.len(),
            mean_ns: self.hist.mean(),
            p50: self.quantile(0.50),
            p90: self.quantile(0.90),
            p99: self.quantile(0.99),
            p999: self.quantile(0.999),
            max: self.max,
        }
    }
}

/// How [`time_ops`] splits and samples a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimingConfig {
    /// Operations per wall-clock batch.
    pub batch_size: u64,
    /// Time one operation individually out of every `sample_every` (1 times every operation).
    pub sample_every: u64,
}

impl Default for TimingConfig {
    /// Batches of 10 000 operations, 1 in 100 operations timed individually.
    fn default() -> Self {
        TimingConfig {
            batch_size: 10_000,
            sample_every: 100,
        }
    }
}

/// Result of [`time_ops`]; see the module documentation for which figure comes from where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Operations executed.
    pub ops: u64,
    /// Operations behind `elapsed_secs` and the means: the unsampled ones (all of them when
    /// every operation is sampled). Absent from results written before it existed, whose
    /// batch timings included the sampled operations.
    #[serde(default)]
    pub timed_ops: u64,
    /// Wall time of all batches together, in seconds (batch timing).
    pub elapsed_secs: f64,
    /// `timed_ops / elapsed_secs` (batch timing).
    pub ops_per_sec: f64,
    /// `elapsed / timed_ops` in nanoseconds (batch timing).
    pub mean_ns_per_op: f64,
    /// Median over batches of each batch's own operations per second; steadier than the
    /// overall figure on a noisy machine (batch timing; equals `ops_per_sec` for one batch).
    pub median_batch_ops_per_sec: f64,
    /// Percentiles of the individually timed sample of operations (sampled timing).
    pub latency: LatencySummary,
    /// Measured cost of one clock-read pair, included in every sampled latency.
    pub timer_overhead_ns: f64,
    /// The configuration used.
    pub config: TimingConfig,
}

/// Runs `op(i)` once for every `i` in `0..n_ops`, batch by batch, timing each batch's
/// unsampled operations together for throughput and 1 in `config.sample_every` operations (the
/// ones with `i % sample_every == 0`) individually for latency percentiles. Within a batch the
/// unsampled operations run first, in order, then the sampled ones, in order.
///
/// Warm-up is the caller's business: run some operations before calling this.
///
/// # Panics
/// If `batch_size` or `sample_every` is zero.
pub fn time_ops(n_ops: u64, config: TimingConfig, mut op: impl FnMut(u64)) -> Timing {
    assert!(config.batch_size > 0 && config.sample_every > 0);
    let every = config.sample_every;
    let mut hist = LatencyHistogram::new();
    let mut batch_rates = Vec::with_capacity((n_ops / config.batch_size + 1) as usize);
    let (mut batched, mut batched_ops) = (Duration::ZERO, 0u64);
    let (mut sampled, mut sampled_ops) = (Duration::ZERO, 0u64);
    let mut start = 0u64;
    while start < n_ops {
        let end = n_ops.min(start + config.batch_size);
        let first_sample = start.next_multiple_of(every);
        // The unsampled operations, back to back (no division per operation).
        let mut next_sample = first_sample;
        let mut ops = 0u64;
        let batch_start = Instant::now();
        for i in start..end {
            if i == next_sample {
                next_sample += every;
                continue;
            }
            op(i);
            ops += 1;
        }
        let took = batch_start.elapsed();
        if ops > 0 {
            batched += took;
            batched_ops += ops;
            batch_rates.push(ops as f64 / took.as_secs_f64().max(1e-9));
        }
        // Then the sampled ones, each timed alone.
        for i in (first_sample..end).step_by(every as usize) {
            let t = Instant::now();
            op(i);
            let took = t.elapsed();
            hist.record(took);
            sampled += took;
            sampled_ops += 1;
        }
        start = end;
    }
    let (timed_ops, secs) = if batched_ops > 0 {
        (batched_ops, batched.as_secs_f64())
    } else {
        (sampled_ops, sampled.as_secs_f64())
    };
    Timing {
        ops: n_ops,
        timed_ops,
        elapsed_secs: secs,
        ops_per_sec: if secs > 0.0 {
            timed_ops as f64 / secs
        } else {
            0.0
        },
        mean_ns_per_op: if timed_ops > 0 {
            secs * 1e9 / timed_ops as f64
        } else {
            0.0
        },
        median_batch_ops_per_sec: median(&mut batch_rates),
        latency: hist.summary(),
        timer_overhead_ns: timer_overhead_ns(),
        config,
    }
}

/// Median of `xs` (0 when empty); reorders `xs`.
pub fn median(xs: &mut [f64]) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_unstable_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    }
}

/// Median cost in nanoseconds of `Instant::now()` followed by `elapsed()`, over 10 000 tries.
pub fn timer_overhead_ns() -> f64 {
    let mut samples: Vec<f64> = (0..10_000)
        .map(|_| {
            let outer = Instant::now();
            let t = Instant::now();
            std::hint::black_box(t.elapsed());
            outer.elapsed().as_nanos() as f64
        })
        .collect();
    median(&mut samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_values_is_within_histogram_precision() {
        let mut h = LatencyHistogram::new();
        for ns in 1..=10_000u64 {
            h.record_ns(ns);
        }
        let s = h.summary();
        assert_eq!(s.count, 10_000);
        assert!((s.mean_ns - 5000.5).abs() / 5000.5 < 0.001);
        let close =
            |got: u64, want: u64| (got as f64 - want as f64).abs() <= want as f64 * 0.001 + 1.0;
        assert!(close(s.p50, 5000), "p50 {}", s.p50);
        assert!(close(s.p90, 9000), "p90 {}", s.p90);
        assert!(close(s.p99, 9900), "p99 {}", s.p99);
        assert!(close(s.p999, 9990), "p999 {}", s.p999);
        assert_eq!(s.max, 10_000);
    }

    #[test]
    fn empty_histogram_summarises_to_zeros() {
        assert_eq!(LatencyHistogram::new().summary(), LatencySummary::default());
    }

    #[test]
    fn huge_and_zero_values_saturate_instead_of_failing() {
        let mut h = LatencyHistogram::new();
        h.record_ns(0);
        h.record_ns(u64::MAX);
        h.record(Duration::from_secs(10 * 3600));
        assert_eq!(h.count(), 3);
        assert_eq!(h.summary().max, u64::MAX);
    }

    #[test]
    fn merge_adds_counts_and_keeps_max() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        a.record_ns(10);
        b.record_ns(20);
        b.record_ns(30);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.summary().max, 30);
        a.reset();
        assert_eq!(a.count(), 0);
    }

    #[test]
    fn time_ops_runs_every_op_once_sampled_ones_after_their_batch() {
        let mut seen = Vec::new();
        let config = TimingConfig {
            batch_size: 7,
            sample_every: 10,
        };
        let t = time_ops(95, config, |i| seen.push(i));
        let mut expected = Vec::new();
        for batch in (0..95u64).step_by(7) {
            let range = batch..(batch + 7).min(95);
            expected.extend(range.clone().filter(|i| i % 10 != 0));
            expected.extend(range.filter(|i| i % 10 == 0));
        }
        assert_eq!(seen, expected);
        assert_eq!(t.ops, 95);
        assert_eq!(t.latency.count, 10); // i = 0, 10, ..., 90
        assert_eq!(t.timed_ops, 85);
        assert!(t.elapsed_secs > 0.0 && t.ops_per_sec > 0.0);
        assert!(t.median_batch_ops_per_sec > 0.0);
        assert!(t.timer_overhead_ns > 0.0);
    }

    #[test]
    fn sampled_latency_reflects_slow_operations() {
        let config = TimingConfig {
            batch_size: 10,
            sample_every: 1,
        };
        let t = time_ops(20, config, |_| {
            std::thread::sleep(Duration::from_micros(200))
        });
        assert!(t.latency.p50 >= 200_000, "p50 {}", t.latency.p50);
        assert!(t.mean_ns_per_op >= 200_000.0);
        assert_eq!(t.timed_ops, 20);
    }

    #[test]
    fn the_mean_leaves_the_sampled_operations_out() {
        // Sampled operations are slow, the others fast: a mean that counted the samples would
        // be at least 1 ms / 4 = 250 µs.
        let config = TimingConfig {
            batch_size: 8,
            sample_every: 4,
        };
        let t = time_ops(40, config, |i| {
            if i % 4 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        assert_eq!((t.latency.count, t.timed_ops), (10, 30));
        assert!(t.latency.p50 >= 1_000_000, "p50 {}", t.latency.p50);
        assert!(t.mean_ns_per_op < 200_000.0, "mean {}", t.mean_ns_per_op);
    }

    #[test]
    fn time_ops_with_no_ops_reports_zeros() {
        let t = time_ops(0, TimingConfig::default(), |_| unreachable!());
        assert_eq!(t.ops, 0);
        assert_eq!(t.ops_per_sec, 0.0);
        assert_eq!(t.latency.count, 0);
    }

    #[test]
    fn median_of_odd_and_even_lengths() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }
}
