//! Sampled timing of the read path: where a point read's time goes.
//!
//! One read in [`SAMPLE_EVERY`] per thread is timed stage by stage: the index lookup, the hot-tier
//! read, the value cache, the RocksDB read (which includes the fill), and the rest (API overhead,
//! the caller's closure, counters). The other reads pay one thread-local counter increment, so the
//! breakdown does not distort the path it measures. Each lap reads the clock once; the cost of a
//! clock read is measured at start-up and reported beside the figures (`timer_ns`), and every
//! stage figure has it subtracted once per lap.

use std::cell::Cell;
use std::time::Instant;

use serde::Serialize;

use crate::stats::Counter;

/// One read in this many (per thread) is timed.
pub const SAMPLE_EVERY: u32 = 64;

/// The stages a read goes through.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stage {
    Index = 0,
    HotTier = 1,
    ValueCache = 2,
    RocksDb = 3,
}

const STAGES: usize = 4;

/// How a sampled read was answered.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Served {
    Absent,
    HotTier,
    ValueCache,
    RocksDb,
}

/// The timing of one sampled read in progress.
pub(crate) struct Probe {
    start: Instant,
    last: Instant,
    laps: [u64; STAGES],
    visited: [bool; STAGES],
}

impl Probe {
    /// Ends the current stage, charging the time since the previous lap to `stage`.
    #[inline]
    pub(crate) fn lap(&mut self, stage: Stage) {
        let now = Instant::now();
        self.laps[stage as usize] += now.duration_since(self.last).as_nanos() as u64;
        self.visited[stage as usize] = true;
        self.last = now;
    }
}

/// Accumulated samples; shared by every thread of a `Db`.
pub(crate) struct ReadProfiler {
    samples: Counter,
    total_ns: Counter,
    stage_ns: [Counter; STAGES],
    stage_visits: [Counter; STAGES],
    served: [Counter; 4],
    timer_ns: f64,
}

thread_local! {
    static UNTIL_SAMPLE: Cell<u32> = const { Cell::new(1) };
}

impl ReadProfiler {
    pub(crate) fn new() -> Self {
        ReadProfiler {
            samples: Counter::new(),
            total_ns: Counter::new(),
            stage_ns: std::array::from_fn(|_| Counter::new()),
            stage_visits: std::array::from_fn(|_| Counter::new()),
            served: std::array::from_fn(|_| Counter::new()),
            timer_ns: clock_cost_ns(),
        }
    }

    /// A probe if this read is sampled.
    #[inline]
    pub(crate) fn start(&self) -> Option<Probe> {
        let sampled = UNTIL_SAMPLE.with(|c| {
            let left = c.get() - 1;
            if left == 0 {
                c.set(SAMPLE_EVERY);
                true
            } else {
                c.set(left);
                false
            }
        });
        if !sampled {
            return None;
        }
        let now = Instant::now();
        Some(Probe {
            start: now,
            last: now,
            laps: [0; STAGES],
            visited: [false; STAGES],
        })
    }

    /// Records a finished sampled read.
    pub(crate) fn finish(&self, probe: Probe, served: Served) {
        let total = probe.start.elapsed().as_nanos() as u64;
        self.samples.inc();
        self.total_ns.add(total);
        for i in 0..STAGES {
            if probe.visited[i] {
                self.stage_ns[i].add(probe.laps[i]);
                self.stage_visits[i].inc();
            }
        }
        self.served[served as usize].inc();
    }

    /// Forgets every sample.
    pub(crate) fn reset(&self) {
        self.samples.reset();
        self.total_ns.reset();
        for c in self
            .stage_ns
            .iter()
            .chain(&self.stage_visits)
            .chain(&self.served)
        {
            c.reset();
        }
    }

    /// A snapshot of the figures.
    pub(crate) fn snapshot(&self) -> ReadProfile {
        let samples = self.samples.get();
        let per = |c: &Counter, visits: u64| {
            if samples == 0 {
                0.0
            } else {
                // Each visited stage includes one clock read.
                (c.get() as f64 - visits as f64 * self.timer_ns).max(0.0) / samples as f64
            }
        };
        let stage = |i: usize| per(&self.stage_ns[i], self.stage_visits[i].get());
        let total = if samples == 0 {
            0.0
        } else {
            (self.total_ns.get() as f64 / samples as f64 - self.timer_ns).max(0.0)
        };
        let (index_ns, hot_tier_ns, value_cache_ns, rocksdb_ns) =
            (stage(0), stage(1), stage(2), stage(3));
        let share = |n: u64| {
            if samples == 0 {
                0.0
            } else {
                n as f64 / samples as f64
            }
        };
        ReadProfile {
            samples,
            sample_every: SAMPLE_EVERY,
            timer_ns: self.timer_ns,
            total_ns: total,
            index_ns,
            hot_tier_ns,
            value_cache_ns,
            rocksdb_ns,
            other_ns: (total - index_ns - hot_tier_ns - value_cache_ns - rocksdb_ns).max(0.0),
            hot_tier_lookups: share(self.stage_visits[1].get()),
            value_cache_lookups: share(self.stage_visits[2].get()),
            rocksdb_reads: share(self.stage_visits[3].get()),
            served_absent: share(self.served[Served::Absent as usize].get()),
            served_hot_tier: share(self.served[Served::HotTier as usize].get()),
            served_value_cache: share(self.served[Served::ValueCache as usize].get()),
            served_rocksdb: share(self.served[Served::RocksDb as usize].get()),
        }
    }
}

/// Where point reads spend their time, from sampled reads (see [`crate::Db::read_profile`]).
/// Times are ns per sampled read, averaged over all samples (a stage a read skipped counts 0).
#[derive(Clone, Debug, Default, Serialize)]
#[non_exhaustive]
pub struct ReadProfile {
    /// Reads timed.
    pub samples: u64,
    /// One read in this many is timed, per thread.
    pub sample_every: u32,
    /// Cost of one clock read, subtracted once per lap.
    pub timer_ns: f64,
    /// Whole read.
    pub total_ns: f64,
    /// Learned index lookup (with its lock).
    pub index_ns: f64,
    /// Hot-tier read attempts.
    pub hot_tier_ns: f64,
    /// Value cache lookups.
    pub value_cache_ns: f64,
    /// RocksDB reads, including the cache fill.
    pub rocksdb_ns: f64,
    /// Everything else: API overhead, the caller's closure, copying out, counters.
    pub other_ns: f64,
    /// Share of reads that looked in the hot tier.
    pub hot_tier_lookups: f64,
    /// Share of reads that looked in the value cache.
    pub value_cache_lookups: f64,
    /// Share of reads that went to RocksDB.
    pub rocksdb_reads: f64,
    /// Share answered "absent" by the index (no I/O).
    pub served_absent: f64,
    /// Share served by the hot tier.
    pub served_hot_tier: f64,
    /// Share served by the value cache.
    pub served_value_cache: f64,
    /// Share served by RocksDB.
    pub served_rocksdb: f64,
}

/// The cost of one `Instant::now()`, measured.
fn clock_cost_ns() -> f64 {
    let n = 2_000u32;
    let start = Instant::now();
    let mut last = start;
    for _ in 0..n {
        last = Instant::now();
    }
    last.duration_since(start).as_nanos() as f64 / n as f64
}
