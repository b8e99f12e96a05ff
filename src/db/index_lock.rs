//! The index's reader-writer lock, sharded so that readers on different cores write no common
//! cache line.
//!
//! A plain reader-writer lock keeps its reader count in one word: every read on every core
//! does a locked read-modify-write of it, and with two cores reading the line bounces between
//! them on every lookup. `crossbeam`'s `ShardedLock` gives each thread one of several
//! cache-padded shards to take for reading; a writer takes them all. Writes to the index are
//! rare next to reads and already serialised by the writer mutex, so the writer's extra cost is
//! small.
//!
//! Readers **spin** on a held lock before they sleep ([`SPIN_FOR`]). The writer holds the
//! lock for a few microseconds at a time (at most `write::INDEX_CHUNK` operations, or the
//! pointer swaps that install a prebuilt grow), far less than a sleep and wake-up costs on a
//! loaded machine: a reader put to sleep by a 3 µs hold waits for the scheduler to run it
//! again, behind RocksDB's background threads, which cost reads tens of microseconds to
//! milliseconds. The lock is writer-preferring (a waiting writer makes `try_read` fail), so
//! spinning readers cannot starve the writer.
//!
//! A writer that releases the lock between chunks and takes it again at once would leave a
//! spinning reader no window at all (a whole 1000-key batch then blocks readers as one hold, the
//! benchmark measured it: a reader slept once per batch). So readers that spin announce
//! themselves, and [`IndexLock::write`] first lets announced readers through (bounded by
//! [`HANDOFF_FOR`], in case an announced reader was descheduled).
//!
//! Poisoning is ignored: a panic inside a write poisons the whole `Db` instead (`write`), and
//! the index is then only read by the calls that still answer on a poisoned handle (`contains`,
//! `len`, `is_empty`, `keys`, `stats`; see `Error::Poisoned`).

use crossbeam::sync::{ShardedLock, ShardedLockReadGuard, ShardedLockWriteGuard};
use crossbeam::utils::CachePadded;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{PoisonError, TryLockError};
use std::time::{Duration, Instant};

/// How long a reader retries a held lock before it blocks: much longer than a write-lock hold,
/// short enough that a writer descheduled while holding the lock does not burn a core for long.
const SPIN_FOR: Duration = Duration::from_micros(200);
/// Spin-loop hints between two attempts.
const SPINS_PER_TRY: u32 = 4;
/// Longest a writer waits for announced readers before it takes the lock anyway.
const HANDOFF_FOR: Duration = Duration::from_micros(50);

/// A read-mostly lock around the index.
pub(super) struct IndexLock<T> {
    lock: ShardedLock<T>,
    /// Readers spinning for the lock (only the contended path touches it).
    spinning: CachePadded<AtomicU32>,
}

/// Withdraws a spinning reader's announcement, however its wait ends.
struct Announced<'a>(&'a AtomicU32);

impl Drop for Announced<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

impl<T> IndexLock<T> {
    pub(super) fn new(value: T) -> Self {
        IndexLock {
            lock: ShardedLock::new(value),
            spinning: CachePadded::new(AtomicU32::new(0)),
        }
    }

    /// Shared access; takes this thread's shard only. Spins while the writer holds it (see the
    /// module docs), then blocks.
    #[inline]
    pub(super) fn read(&self) -> ShardedLockReadGuard<'_, T> {
        match self.lock.try_read() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => self.read_contended(),
        }
    }

    #[cold]
    fn read_contended(&self) -> ShardedLockReadGuard<'_, T> {
        self.spinning.fetch_add(1, Ordering::AcqRel);
        let _announced = Announced(&self.spinning);
        let start = Instant::now();
        loop {
            for _ in 0..SPINS_PER_TRY {
                std::hint::spin_loop();
            }
            match self.lock.try_read() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) if start.elapsed() < SPIN_FOR => {}
                Err(TryLockError::WouldBlock) => {
                    return self.lock.read().unwrap_or_else(PoisonError::into_inner)
                }
            }
        }
    }

    /// Exclusive access; takes every shard, after letting readers already spinning for the
    /// lock go first (see the module docs).
    pub(super) fn write(&self) -> ShardedLockWriteGuard<'_, T> {
        if self.spinning.load(Ordering::Acquire) > 0 {
            let start = Instant::now();
            while self.spinning.load(Ordering::Acquire) > 0 && start.elapsed() < HANDOFF_FOR {
                std::hint::spin_loop();
            }
        }
        self.lock.write().unwrap_or_else(PoisonError::into_inner)
    }
}
