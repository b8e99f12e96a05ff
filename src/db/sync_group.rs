//! Group commit of synced writes: concurrent writers share one RocksDB write and one fsync.
//!
//! With `sync_writes`, a write costs one fsync of the WAL (hundreds of microseconds on common
//! disks), and the CPU is idle meanwhile. RocksDB's write thread groups writers that are
//! *already waiting* when a group forms, but two client threads that each write in a loop
//! never are: the thread whose write just returned arrives a few microseconds after the other
//! thread has started the next group, so every fsync carries one write (measured: 2 threads
//! at 1.2x one thread's rate for plain RocksDB, see DESIGN.md, "Decisions that still hold",
//! "Writers and commit"). This module forms the groups itself:
//!
//! * a writer queues its batch; if no leader is at work it leads, else it waits for its result
//!   or for the leader to finish (then the first waiter leads);
//! * a leader **lingers** while fewer writers have queued than took part in the previous group
//!   (so writers that were together stay together) or than are inside a synced write right now
//!   ([`SyncGroup::enter`], from after their key locks to just before they release them:
//!   queued, or finishing their hot-tier append and index update after their group's fsync,
//!   likely to come back with their next write), at most half the average group write time and
//!   never more than [`MAX_LINGER`]; a lone writer never waits. Without the second count, after
//!   a group of one the next leader had no reason to wait, and another writer still busy with
//!   its index update missed the group by microseconds; with it, two synced writers reached
//!   1.67–1.79x one writer's rate against 1.28–1.77x (DESIGN.md, "Decisions that still hold",
//!   "Writers and commit");
//! * the leader writes every queued batch, in queue order, as one atomic RocksDB write with
//!   fsync, and hands each writer the result.
//!
//! Only the RocksDB write is shared. Each writer then does its own hot-tier append and index
//! update (`write`); writers of one group never share a key (each holds its key locks while
//! queued, `key_locks`), so the order of those updates is invisible. Writes without
//! `sync_writes` do not come here: RocksDB's own grouping of the write syscall is enough there
//! (DECISIONS.md, "Concurrent writers and group commit (issue 10)").
//!
//! A group shares its fate: atomic as one RocksDB write batch, it commits or fails whole, and
//! every writer of a failed group gets the error.

use crate::error::{Error, Result};
use crate::rocks::RocksStore;
use crate::write_batch::WriteBatch;
use parking_lot::{Condvar, Mutex};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest a leader waits for the writers of the previous group.
pub(super) const MAX_LINGER: Duration = Duration::from_micros(500);

/// One writer's batch and, once its group is written, the result.
struct Request {
    batch: WriteBatch,
    outcome: Mutex<Option<Result<()>>>,
}

#[derive(Default)]
struct State {
    queue: Vec<Arc<Request>>,
    /// A leader is between taking its group and handing out the results.
    leading: bool,
    /// Writers in the previous group (how many the next leader waits for).
    last_group: usize,
    /// Moving average of a group's RocksDB write time, in nanoseconds.
    write_nanos: u64,
    /// Groups written, and the writes they carried (`Stats::ops`).
    groups: u64,
    grouped_writes: u64,
}

/// The group commit queue of one `Db` (module docs).
pub(super) struct SyncGroup {
    state: Mutex<State>,
    /// Signalled when a writer queues and when a leader finishes.
    changed: Condvar,
    /// Writers inside a synced write ([`SyncGroup::enter`]).
    active: AtomicUsize,
    /// [`MAX_LINGER`] (tests make it long, so that what they check does not hang on timing).
    max_linger: Duration,
    /// For the `Poisoned` error of writers whose leader panicked.
    path: PathBuf,
}

impl SyncGroup {
    pub(super) fn new(path: PathBuf) -> Self {
        SyncGroup {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            active: AtomicUsize::new(0),
            max_linger: MAX_LINGER,
            path,
        }
    }

    /// `(groups written, writes they carried)`.
    pub(super) fn counts(&self) -> (u64, u64) {
        let state = self.state.lock();
        (state.groups, state.grouped_writes)
    }

    /// Counts the calling writer as inside a synced write until the guard drops: the writer
    /// holds it from before it queues until its hot-tier append and index update are done (and
    /// drops it before its key locks), so a leader knows a writer is likely to come back (module
    /// docs).
    pub(super) fn enter(&self) -> Active<'_> {
        self.active.fetch_add(1, Ordering::Relaxed);
        Active(&self.active)
    }

    /// The error writers get once the database is poisoned.
    fn poisoned_error(&self) -> Error {
        Error::Poisoned {
            path: self.path.clone(),
        }
    }

    /// Commits `batch` to `rocks`, possibly in one RocksDB write with other writers' batches.
    /// Returns once the write is durable (or failed).
    /// `poisoned` is the database's poison flag: a leader that unwinds sets it before it hands
    /// its group `Err(Poisoned)`, so no member ends its write while the `Db` still looks
    /// healthy.
    pub(super) fn commit(
        &self,
        rocks: &RocksStore,
        batch: WriteBatch,
        poisoned: &AtomicBool,
    ) -> Result<()> {
        let mine = Arc::new(Request {
            batch,
            outcome: Mutex::new(None),
        });
        let mut state = self.state.lock();
        state.queue.push(Arc::clone(&mine));
        self.changed.notify_all();
        while state.leading {
            self.changed.wait(&mut state);
            if let Some(outcome) = mine.outcome.lock().take() {
                return outcome;
            }
        }
        // Lead: our request is still queued (a finished group's requests all have outcomes).
        state.leading = true;
        let expected = |last_group: usize| last_group.max(self.active.load(Ordering::Relaxed));
        if expected(state.last_group) > 1 {
            let linger = Duration::from_nanos(state.write_nanos / 2).min(self.max_linger);
            let deadline = Instant::now() + linger;
            while state.queue.len() < expected(state.last_group) {
                if self.changed.wait_until(&mut state, deadline).timed_out() {
                    break;
                }
            }
        }
        let group = std::mem::take(&mut state.queue);
        drop(state);

        let mut leader = Leader {
            sync: self,
            group: &group,
            poisoned,
            done: false,
        };
        let started = Instant::now();
        // A writer that queued before an earlier leader unwound leads next: the handle is
        // poisoned by then, and nothing more reaches RocksDB through it.
        let result = if poisoned.load(Ordering::Acquire) {
            Err(self.poisoned_error())
        } else {
            rocks.write_ops(group.iter().flat_map(|r| r.batch.ops()))
        };
        let nanos = started.elapsed().as_nanos().min(u64::MAX as u128) as u64;
        leader.finish(result, nanos);
        let outcome = mine.outcome.lock().take();
        outcome.unwrap_or_else(|| Err(self.poisoned_error()))
    }
}

/// A writer inside a synced write ([`SyncGroup::enter`]).
pub(super) struct Active<'a>(&'a AtomicUsize);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The leader's duty to hand every writer of its group a result, even if it unwinds.
struct Leader<'a> {
    sync: &'a SyncGroup,
    group: &'a [Arc<Request>],
    /// The database's poison flag, set before the group hears of the unwind.
    poisoned: &'a AtomicBool,
    done: bool,
}

impl Leader<'_> {
    fn finish(&mut self, result: Result<()>, write_nanos: u64) {
        let mut state = self.sync.state.lock();
        for r in self.group {
            let outcome = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(e.for_group_member()),
            };
            *r.outcome.lock() = Some(outcome);
        }
        state.last_group = self.group.len();
        state.groups += 1;
        state.grouped_writes += self.group.len() as u64;
        state.write_nanos = if state.write_nanos == 0 {
            write_nanos
        } else {
            (state.write_nanos * 7 + write_nanos) / 8
        };
        state.leading = false;
        self.done = true;
        drop(state);
        self.sync.changed.notify_all();
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Unwinding: the write may or may not have reached RocksDB. The leader's own write
        // poisons the `Db` too (`write::PoisonOnUnwind`), but only after this returns: set the
        // flag first, so a member that wakes to `Err(Poisoned)` and ends its write (unmarking
        // its keys) never leaves a `Db` that still looks healthy.
        self.poisoned.store(true, Ordering::Release);
        let mut state = self.sync.state.lock();
        for r in self.group {
            *r.outcome.lock() = Some(Err(self.sync.poisoned_error()));
        }
        state.last_group = 0;
        state.leading = false;
        drop(state);
        self.sync.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;

    /// The poison flag of a database no test here poisons.
    static HEALTHY: AtomicBool = AtomicBool::new(false);

    /// A leader that unwinds (here: dropped unfinished) must poison the database *before* its
    /// members receive `Err(Poisoned)`: a member ends its write (unmarks its keys) as soon as
    /// it has the error, and the `Db` must not look healthy then.
    #[test]
    fn an_unwinding_leader_poisons_the_database_before_its_group_hears() {
        let group = SyncGroup::new(PathBuf::from("unused"));
        let poisoned = AtomicBool::new(false);
        let member = Arc::new(Request {
            batch: one_put(1),
            outcome: Mutex::new(None),
        });
        let members = [Arc::clone(&member)];
        std::thread::scope(|s| {
            // The member, as in `commit`: waits for an outcome, then looks at the flag.
            let waiter = s.spawn(|| loop {
                let mut state = group.state.lock();
                if let Some(outcome) = member.outcome.lock().take() {
                    return (outcome, poisoned.load(Ordering::Acquire));
                }
                group.changed.wait(&mut state);
            });
            std::thread::sleep(Duration::from_millis(20));
            group.state.lock().leading = true;
            drop(Leader {
                sync: &group,
                group: &members,
                poisoned: &poisoned,
                done: false,
            });
            let (outcome, flag_when_heard) = waiter.join().unwrap();
            assert!(
                matches!(outcome, Err(Error::Poisoned { .. })),
                "{outcome:?}"
            );
            assert!(
                flag_when_heard,
                "the member heard of the unwind before the poison"
            );
        });
        assert!(!group.state.lock().leading);
    }

    fn one_put(key: u64) -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put(key, key.to_le_bytes());
        b
    }

    #[test]
    fn writers_queued_behind_a_leader_share_one_rocksdb_write() {
        let dir = tempfile::tempdir().unwrap();
        let rocks = RocksStore::open(dir.path(), &Options::default().sync_writes(true)).unwrap();
        let group = SyncGroup::new(dir.path().to_path_buf());
        // Pretend a leader is at work, so both writers queue.
        group.state.lock().leading = true;
        std::thread::scope(|s| {
            let writers: Vec<_> = (1..=2u64)
                .map(|k| {
                    let (group, rocks) = (&group, &rocks);
                    s.spawn(move || group.commit(rocks, one_put(k), &HEALTHY))
                })
                .collect();
            while group.state.lock().queue.len() < 2 {
                std::thread::yield_now();
            }
            // The pretend leader finishes: the first waiter leads both batches.
            group.state.lock().leading = false;
            group.changed.notify_all();
            for w in writers {
                w.join().unwrap().unwrap();
            }
        });
        assert_eq!(group.counts(), (1, 2));
        for k in 1..=2u64 {
            assert_eq!(rocks.get(k).unwrap(), Some(k.to_le_bytes().to_vec()));
        }
    }

    #[test]
    fn a_leader_waits_for_a_writer_still_inside_its_previous_write() {
        let dir = tempfile::tempdir().unwrap();
        let rocks = RocksStore::open(dir.path(), &Options::default().sync_writes(true)).unwrap();
        let mut group = SyncGroup::new(dir.path().to_path_buf());
        // Long enough that no timing can end the wait, short enough that a leader that waits
        // for nothing fails the test instead of hanging it.
        group.max_linger = Duration::from_secs(20);
        // The previous group carried one write and took long: no reason to wait but one writer
        // still finishing its index update (the guard held here).
        {
            let mut state = group.state.lock();
            state.last_group = 1;
            state.write_nanos = 1 << 40;
        }
        let other = group.enter();
        std::thread::scope(|s| {
            let leader = s.spawn(|| {
                let _me = group.enter();
                group.commit(&rocks, one_put(1), &HEALTHY)
            });
            // The leader takes the lead and waits (a leader that did not wait has written its
            // group by the time it lets go of the lock: the assertion below fails).
            loop {
                let state = group.state.lock();
                if (state.leading && state.queue.len() == 1) || state.groups > 0 {
                    break;
                }
                drop(state);
                std::thread::yield_now();
            }
            assert_eq!(group.counts(), (0, 0));
            // The other writer comes back with its next write and joins the group.
            group.commit(&rocks, one_put(2), &HEALTHY).unwrap();
            drop(other);
            leader.join().unwrap().unwrap();
        });
        assert_eq!(group.counts(), (1, 2), "one fsync for both writes");
        assert_eq!(group.active.load(Ordering::Relaxed), 0);
        for k in 1..=2u64 {
            assert_eq!(rocks.get(k).unwrap(), Some(k.to_le_bytes().to_vec()));
        }
    }

    #[test]
    fn a_lone_writer_leads_its_own_group_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let rocks = RocksStore::open(dir.path(), &Options::default().sync_writes(true)).unwrap();
        let group = SyncGroup::new(dir.path().to_path_buf());
        for k in 0..3u64 {
            group.commit(&rocks, one_put(k), &HEALTHY).unwrap();
        }
        assert_eq!(group.counts(), (3, 3));
        assert_eq!(group.state.lock().last_group, 1);
    }

    #[test]
    fn every_writer_of_a_failed_group_gets_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options::default().sync_writes(true).max_value_bytes(16);
        let rocks = RocksStore::open(dir.path(), &opts).unwrap();
        let group = SyncGroup::new(dir.path().to_path_buf());
        group.state.lock().leading = true;
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let mut big = WriteBatch::new();
            big.put(9, [0u8; 64]); // over the store's limit: the whole group fails
            let writers: Vec<_> = [one_put(1), big]
                .into_iter()
                .map(|b| {
                    let (group, rocks) = (&group, &rocks);
                    let w = s.spawn(move || group.commit(rocks, b, &HEALTHY));
                    while group.state.lock().queue.is_empty() {
                        std::thread::yield_now();
                    }
                    w
                })
                .collect();
            while group.state.lock().queue.len() < 2 {
                std::thread::yield_now();
            }
            group.state.lock().leading = false;
            group.changed.notify_all();
            writers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        for r in results {
            assert!(
                matches!(r, Err(Error::ValueTooLarge { ref key, .. }) if key[..] == 9u64.to_be_bytes()),
                "{r:?}"
            );
        }
        assert_eq!(
            rocks.get(1).unwrap(),
            None,
            "a failed group commits nothing"
        );
    }
}
