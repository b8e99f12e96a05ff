//! Sampled timing of the read path: where a point read's time goes.
//!
//! One read in [`SAMPLE_EVERY`] per thread is timed stage by stage: the index lookup, the hot-tier
//! read, the value cache, the RocksDB read (which includes the fill), and the rest (API overhead,
//! the caller's closure, counters). The other reads pay one thread-local counter increment, so the
//! breakdown does not distort the path it measures. Each lap reads the clock once; the cost of a
//! clock read is measured at start-up and reported beside the figures (`timer_ns`), and every
//! stage figure has it subtracted once per lap.
//!
//! The clock is the CPU's time-stamp counter on x86-64, read with `rdtscp`, converted to ns by
//! comparing it with `Instant` over the profiler's lifetime. `rdtscp` waits for the loads of the
//! stage it ends (so their misses are charged to that stage) but not for what follows, and costs
//! a few ns. `Instant::now()` costs ~30 ns per lap and is fully ordered, which stopped the CPU
//! from overlapping a sampled read with its neighbours as it overlaps unsampled ones: the sampled
//! total then overstated the batch-timed mean by 10-20%. Elsewhere `Instant` is used.

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

/// The profiler's clock, in ticks (see the module docs).
#[inline(always)]
fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let mut aux = 0u32;
        // SAFETY: `rdtscp` exists on every x86-64 CPU this crate targets (2006 onwards) and only
        // reads the time-stamp counter and the processor id.
        unsafe { core::arch::x86_64::__rdtscp(&mut aux) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// The timing of one sampled read in progress, in clock ticks.
pub(crate) struct Probe {
    start: u64,
    last: u64,
    laps: [u64; STAGES],
    visited: [bool; STAGES],
}

impl Probe {
    /// Ends the current stage, charging the time since the previous lap to `stage`.
    #[inline]
    pub(crate) fn lap(&mut self, stage: Stage) {
        let now = ticks();
        self.laps[stage as usize] += now.wrapping_sub(self.last);
        self.visited[stage as usize] = true;
        self.last = now;
    }
}

/// Accumulated samples; shared by every thread of a `Db`.
pub(crate) struct ReadProfiler {
    samples: Counter,
    total_ticks: Counter,
    stage_ticks: [Counter; STAGES],
    stage_visits: [Counter; STAGES],
    served: [Counter; 4],
    /// Cost of one clock read, in ticks.
    timer_ticks: f64,
    /// Clock and `Instant` when the profiler was made, to convert ticks to ns.
    born: (u64, Instant),
}

thread_local! {
    static UNTIL_SAMPLE: Cell<u32> = const { Cell::new(1) };
}

impl ReadProfiler {
    pub(crate) fn new() -> Self {
        ReadProfiler {
            samples: Counter::new(),
            total_ticks: Counter::new(),
            stage_ticks: std::array::from_fn(|_| Counter::new()),
            stage_visits: std::array::from_fn(|_| Counter::new()),
            served: std::array::from_fn(|_| Counter::new()),
            timer_ticks: clock_cost_ticks(),
            born: (ticks(), Instant::now()),
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
        let now = ticks();
        Some(Probe {
            start: now,
            last: now,
            laps: [0; STAGES],
            visited: [false; STAGES],
        })
    }

    /// Records a finished sampled read.
    pub(crate) fn finish(&self, probe: Probe, served: Served) {
        let total = ticks().wrapping_sub(probe.start);
        self.samples.inc();
        self.total_ticks.add(total);
        for i in 0..STAGES {
            if probe.visited[i] {
                self.stage_ticks[i].add(probe.laps[i]);
                self.stage_visits[i].inc();
            }
        }
        self.served[served as usize].inc();
    }

    /// Forgets every sample.
    pub(crate) fn reset(&self) {
        self.samples.reset();
        self.total_ticks.reset();
        for c in self
            .stage_ticks
            .iter()
            .chain(&self.stage_visits)
            .chain(&self.served)
        {
            c.reset();
        }
    }

    /// Nanoseconds per clock tick, measured against `Instant` since the profiler was made (at
    /// least 1 ms apart; 1.0 before that, or where the clock is `Instant` itself).
    fn ns_per_tick(&self) -> f64 {
        if cfg!(not(target_arch = "x86_64")) {
            return 1.0;
        }
        let (t0, i0) = self.born;
        let ns = i0.elapsed().as_nanos() as f64;
        let dt = ticks().wrapping_sub(t0) as f64;
        if ns < 1e6 || dt <= 0.0 {
            1.0
        } else {
            ns / dt
        }
    }

    /// A snapshot of the figures.
    pub(crate) fn snapshot(&self) -> ReadProfile {
        let samples = self.samples.get();
        let ns_per_tick = self.ns_per_tick();
        let timer_ns = self.timer_ticks * ns_per_tick;
        let per = |c: &Counter, visits: u64| {
            if samples == 0 {
                0.0
            } else {
                // Each visited stage includes one clock read.
                (c.get() as f64 * ns_per_tick - visits as f64 * timer_ns).max(0.0) / samples as f64
            }
        };
        let stage = |i: usize| per(&self.stage_ticks[i], self.stage_visits[i].get());
        let total = if samples == 0 {
            0.0
        } else {
            (self.total_ticks.get() as f64 * ns_per_tick / samples as f64 - timer_ns).max(0.0)
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
            timer_ns,
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

/// The cost of one clock read, in ticks, measured.
fn clock_cost_ticks() -> f64 {
    // The cheapest of several short batches: one preemption or VM exit inside a single long
    // batch would inflate the figure, and every stage figure has it subtracted.
    const BATCHES: u32 = 64;
    const PER_BATCH: u32 = 64;
    (0..BATCHES)
        .map(|_| {
            let start = ticks();
            let mut last = start;
            for _ in 0..PER_BATCH {
                last = std::hint::black_box(ticks());
            }
            last.wrapping_sub(start) as f64 / PER_BATCH as f64
        })
        .fold(f64::INFINITY, f64::min)
}
