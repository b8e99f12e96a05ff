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
//! Poisoning is ignored: a panic inside a write poisons the whole `Db` instead (`write`), and
//! the index is then only read by `contains`, as documented there.

use crossbeam::sync::{ShardedLock, ShardedLockReadGuard, ShardedLockWriteGuard};
use std::sync::PoisonError;

/// A read-mostly lock around the index.
pub(super) struct IndexLock<T>(ShardedLock<T>);

impl<T> IndexLock<T> {
    pub(super) fn new(value: T) -> Self {
        IndexLock(ShardedLock::new(value))
    }

    /// Shared access; takes this thread's shard only.
    #[inline]
    pub(super) fn read(&self) -> ShardedLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Exclusive access; takes every shard.
    pub(super) fn write(&self) -> ShardedLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}
