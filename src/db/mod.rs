//! The engine: [`Db`], the one module that knows every tier.
//!
//! ```text
//!                 key locks, then after the RocksDB commit      readers (no engine-wide lock)
//!                 the writer mutex (one index update at a time)
//!                 ---------------------------------------------  -----------------------------
//!  index       IndexLock<Trie>: key bytes -> packed Location <-   read lock (this thread's shard)
//!                                                                for one lookup only
//!  hot tier    mmap segments, recent values                <-   no lock: validated copy
//!  value cache sharded LRU of Cold values                  <-   shard lock, Arc clone
//!  RocksDB     the source of truth and the commit point    <-   point reads, iterators
//! ```
//!
//! # Invariants
//!
//! * **The index holds exactly RocksDB's live keys**, except while a write is in progress: it
//!   is built from RocksDB at open, and changed only by the writer *after* a successful RocksDB
//!   write (or by a read promotion, which changes a location, never a key).
//! * **Every index mutation happens under the writer mutex** (writes, demotions, promotions,
//!   ingestion). Holding the mutex therefore freezes the index, which lets the writer release the
//!   index lock between chunks of a large update, build a data node's grow under the read
//!   lock and install it under the write lock, and lets `ingest_sorted` rebuild the index
//!   outside the lock.
//! * **Every Hot location in the index names a record of its segment's current incarnation,
//!   written for its key's current value** (until a recycle's demotion, step 4, replaces it;
//!   while a write of the key is between its commit and its index update, the key is marked in
//!   flight and readers do not use the location).
//!   A location comes from an append of this session, or from the snapshot at open, where it
//!   is kept only if its segment still has the identity (slot, epoch) the snapshot saved and a
//!   record of its key and length starts at its offset (`open`, `HotTier::exact_check`). Epochs
//!   are never reused: a segment (re)started after a trusted snapshot takes an epoch above every
//!   one that snapshot saved, even after the segment files were deleted, resized or discarded
//!   (`HotTier::raise_epoch_floor`). A recycle walks every record of the segment, so it demotes
//!   every location that names one.
//! * **A hot read returns only the record its location names.** The hot tier checks the
//!   generation, that the record ends below the committed end, the key and the length, and that
//!   no segment was recycled since before the reader's index lookup (a 14-bit generation can
//!   come round again, the tier's recycle count cannot; `HotTier::read_into`); any failure
//!   sends the reader to the Cold path, whose answer comes from the value cache or RocksDB.
//!   Checksums are verified when a segment is opened, not on reads: with the two rules above
//!   the record at a trusted location is one this process wrote or verified.
//! * **A value in the value cache is the latest committed value of its key**, and while a write
//!   of a key is in progress the cache holds nothing for it (see `cache`, stale-fill protection).
//! * **A key whose write is in flight is marked** ([`inflight`]) from before its RocksDB commit
//!   until after its index update; while marked, readers take the Cold path (value cache, else
//!   RocksDB), not the index's answer. A write of one key marks its stripe of keys; a write of
//!   several lists its keys with its marks, so it marks exactly them.
//!
//! # Write path ([`write`]), in this order
//!
//! 0. The write takes the locks of its keys ([`key_locks`]; everything for a large write):
//!    two writes of one key never overlap, writes of different keys do.
//! 1. `inflight.begin(k)` (one key) or `inflight.begin_listed(keys)` (several), and
//!    `cache.begin_write(k)` for every written key: marks `k` in flight,
//!    removes it from the cache and refuses fills of its stripe.
//! 2. **RocksDB write** (one atomic batch of each key's final operation, in key order; WAL and
//!    fsync per `Options`): the commit point. If it fails, nothing else changes (step 5 still
//!    runs) and the error is returned. Concurrent
//!    writers are here together: the group commit. RocksDB's write thread groups them (one WAL
//!    write), or with `sync_writes` our own queue does (one RocksDB write and one fsync,
//!    [`sync_group`]).
//! 3. Under the **writer mutex** from here to the end of step 4: hot-tier append of every final
//!    put that fits, collecting the segment's recycled records.
//! 4. Index update, replaying in order: for each recycled `(k, old)`, demote `k` to Cold only
//!    if the index still holds exactly `old`; then `k -> Hot(loc)` or `k -> Cold` for a put,
//!    removal for a delete. (Large replays are stably sorted by key first, for locality: an
//!    operation only reads and writes its own key's entry, so per-key order is all that
//!    matters.)
//! 5. The write counter is bumped (still under the writer mutex), then `cache.end_write(k)` and
//!    `inflight.end(k)` (or `end_listed`) for every written key, then the key locks are
//!    released.
//! 6. Off every lock: `hot.prefault_ahead` faults in the active segment's pages the next
//!    write will need (changes no byte; `hot_tier`).
//!
//! Readers are never blocked by a write except for the moments the index write lock is held
//! in step 4: at most [`write::INDEX_CHUNK`] operations at a time, and never while a data node
//! is rebuilt. An insert into a full data node needs a grow (expand or split, up to 16 MiB of
//! new node): the writer releases the write lock, builds the new nodes under the *read* lock
//! (valid because the writer mutex freezes the index), takes the write lock only to swap them
//! in, and frees the old nodes after releasing it ([`write`], `alex::grow`). A hot-tier
//! recycle in step 3 blocks no one: readers of the recycled segment notice the new generation
//! and go Cold.
//!
//! # Read path ([`read`])
//!
//! `inflight.is_marked(k)` → marked: Cold path, without the index. Else `index.get(k)` under the
//! read lock (released at once) → absent: `None`, no I/O. Hot(loc) → hot tier read, which may
//! say "stale" → Cold path: value cache hit, or a ticket, then a RocksDB read, then a fill.
//! RocksDB saying "absent" after the index said "present" is a delete in progress: the answer
//! is `None`.
//!
//! **Reads are linearisable per key.** A reader can see a write only after its RocksDB commit
//! (step 2). The index lags RocksDB until step 4, and a reader's index lookup and value read are
//! separate steps, so without more care a reader whose lookup predates a write could read the
//! write's value from RocksDB, and a later read through the not-yet-updated index could return
//! the older state (the concurrency test caught this: a version, then "absent"). The in-flight
//! mark, checked *before* the lookup, closes that window: a clear mark means every committed
//! write of the key is already in the index; a set mark sends the read to RocksDB. Proof in
//! [`inflight`]. `contains` answers from the index alone (no I/O by contract) and may report the
//! state before a write in flight. Reads of *different* keys are not a snapshot: `multi_get`
//! and the scans (`scan_with`, `scan`, `range`) return, for each key, a value at least as new as
//! every write acknowledged before the call started.
//!
//! # Scans ([`range`], [`scan`])
//!
//! The index gives each chunk of a scan its keys, its span and its count (no value is read past
//! the limit); the span's values come from one RocksDB iterator, or, when the chunk is nearly all
//! Hot, from the hot tier (records prefetched ahead) with point reads for the rest. Only a chunk
//! taken while no write was in flight may be served from the index: otherwise a key being
//! inserted is in RocksDB but not yet in the index, and a scan listing only the index's keys
//! would omit a key an earlier read returned. With that rule a key's reads stay monotonic
//! across point reads and scans *started one after the other*. Within one scan they need not:
//! a chunk's pairs are taken before its visitor runs, so a `scan_with` visitor may `get(b)`
//! a value written meanwhile and then be handed `(b, older value)` from its chunk; each pair
//! is still at least as new as every write acknowledged before the scan started (`range`).
//!
//! A read that went to RocksDB may copy the value into the hot tier (read promotion, an option):
//! the one write a reader makes, with its own rules against resurrecting a replaced value
//! ([`promotion`]).
//!
//! # Hazards and where they are handled
//!
//! | hazard | handling |
//! |---|---|
//! | stale cache fill | `begin_write`/`end_write` around the commit + tickets (`cache`) |
//! | recycled segment | lock-free validated copy: generation checked before and after the copy, key and length at the offset, words accessed atomically (`hot_tier`, `segment`); a read whose index lookup predates any recycle is refused (the tier's recycle count, taken before the lookup); demotion by exact location compare (step 4) |
//! | stale location from an earlier session (tier off, resized or discarded since, a session that promoted reads and kept the snapshot, a lost tail) | at open a snapshot location is kept only if its segment has the saved identity (slot, epoch) and its record starts at its offset with its key and length; epochs are never reused, the floor is saved in the snapshot (`open`, `snapshot`, `HotTier::exact_check`) |
//! | readers on two cores writing one cache line | none on the read path: the index lock is sharded per thread (`index_lock`), counters bump per-thread cells (`stats::Counter`), hot reads take no lock; the one exception is a read whose in-flight stripe carries listed marks, which takes the lists' read lock ([`inflight`]) |
//! | index rebuild at open | snapshot vouched for by RocksDB's marker and matching its sequence number, else a key-only scan + bulk load ([`open`], [`snapshot`]) |
//! | panic inside a write | the `Db` is poisoned: every later operation fails with `Error::Poisoned`, no snapshot is written, the next open rebuilds ([`write`]) |
//! | reader of a key whose write is in flight | the in-flight mark, checked before the index lookup, sends it to the Cold path ([`inflight`]) |
//! | readers sent to RocksDB by another key's mark | a write of several keys lists them: a reader whose stripe carries only listed marks looks its key up in the lists and keeps the index path unless its own key is listed ([`inflight`]) |
//! | scan beside a write in flight | the chunk is served by a RocksDB iterator, never the index ([`scan`]) |
//! | two writers of one key | key locks serialise them from step 0 to step 5, so the index ends with the key's last commit ([`key_locks`]) |
//! | two writers of different keys | they overlap through the RocksDB commit (grouped by RocksDB, or by [`sync_group`] with `sync_writes`); hot-tier appends and index updates take the writer mutex one write at a time |
//! | readers stalled by index growth | a grow is built under the read lock and installed by pointer swaps under the write lock, old nodes freed after it; the write lock is held for at most `INDEX_CHUNK` (16) operations ([`write`]); readers spin on a held lock instead of sleeping, and a writer lets spinning readers through before it takes the lock again ([`index_lock`]). Left under the lock: a removal's shrink rebuild, and writing the child slots of a split node's own block or setting the duplication of a doubled node's children (proportional to those, not to keys) |
//! | bad input | typed errors at open and on writes; damaged segments and snapshots are discarded ([`open`]) |

mod block_fill;
mod index_lock;
mod inflight;
mod key_locks;
mod lsm_info;
mod open;
#[cfg(test)]
mod poison_tests;
mod profile;
mod promotion;
mod range;
mod read;
mod scan;
mod snapshot;
mod sync_group;
mod write;

pub use profile::ReadProfile;
pub use range::RangeIter;

use crate::cache::ValueCache;
use crate::hot_tier::{Appender, HotTier};
use crate::options::Options;
use crate::rocks::RocksStore;
use crate::stats::{Counter, IndexStats, OpCounters, OpenStats, Stats};
use crate::trie::Trie;
use crossbeam::utils::CachePadded;
use index_lock::IndexLock;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// An alexkv database: byte-string keys (a `u64` key is its 8 big-endian bytes, see
/// [`Key`](crate::Key)) found by a learned index in memory, values in RocksDB, recent values in
/// a memory-mapped hot tier and a value cache.
///
/// Every method takes `&self`; share one `Db` between threads by reference or in an
/// [`Arc`](std::sync::Arc). Writes are serialised internally; reads run in parallel and never
/// wait for a write's I/O.
///
/// Dropping the `Db` closes it cleanly (flushes RocksDB and writes the index snapshot so the next
/// open is fast); use [`Db::close`] to see errors of that step.
///
/// ```
/// use alexkv::{Db, Options, WriteBatch};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put(1, b"one")?;
/// let mut batch = WriteBatch::new();
/// batch.put(2, b"two");
/// batch.delete(1);
/// db.write(batch)?;
/// assert_eq!(db.get(1)?, None);
/// assert_eq!(db.get(2)?.as_deref(), Some(&b"two"[..]));
/// assert!(db.contains(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Db {
    path: PathBuf,
    opts: Options,
    rocks: RocksStore,
    hot: HotTier,
    cache: ValueCache,
    /// Every live key -> `Location::to_raw()`.
    index: IndexLock<Trie>,
    /// Serialises writes of a shared key from before their commit to after their index update
    /// (`key_locks`).
    key_locks: key_locks::KeyLocks,
    /// Serialises every index mutation and hot-tier append (module docs). It guards the hot
    /// tier's one appender, so holding it is also what makes a thread the tier's single
    /// appender.
    writer: Mutex<Appender>,
    /// Held while the session's first change deletes the snapshot marker and file.
    first_change: Mutex<()>,
    /// Group commit of synced writes (`sync_group`).
    sync_group: sync_group::SyncGroup,
    /// Completed writes, bumped under `writer` right after each write's index update. A read
    /// promotion compares it to the value it saw before reading RocksDB.
    write_seq: AtomicU64,
    /// True while the snapshot this session opened from (or wrote) still describes RocksDB.
    snapshot_on_disk: AtomicBool,
    /// True while RocksDB may hold a snapshot marker (deleted, durably, before the first
    /// change of a session; see `rocks::marker`).
    marker_on_disk: AtomicBool,
    /// Set when a panic unwound through a write after it may have reached RocksDB: the index
    /// may then lack a committed write, so every later operation fails with
    /// `Error::Poisoned` and no snapshot is written. Padded: every read loads it, and it must
    /// not share a line with the counters writers bump.
    poisoned: CachePadded<AtomicBool>,
    /// True when this session changed RocksDB (a snapshot must be written at close).
    dirty: AtomicBool,
    ops: OpCounters,
    /// Sampled read-path timing (`read_profile`).
    profiler: profile::ReadProfiler,
    hot_append_errors: Counter,
    /// Keys whose write is between its RocksDB commit and its index update (`inflight`).
    inflight: inflight::InFlight,
    /// Which point reads fill RocksDB's block cache (`block_fill`).
    block_fill: block_fill::BlockFill,
    open_stats: OpenStats,
    closed: bool,
}

// The trie refuses words at or above `RESERVED_WORDS` (its buckets' tags); no Location is one.
const _: () = assert!(crate::location::Location::MAX_WORD < crate::trie::RESERVED_WORDS);
const _: () = assert!(crate::keys::MAX_KEY_LEN == crate::trie::MAX_KEY_LEN);

// `Db` must be shareable between threads; this fails to compile if a field breaks that.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Db>();
};

impl Db {
    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Number of live keys (answered by the index, no I/O).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// db.put(7, b"x").unwrap();
    /// db.put(7, b"y").unwrap();
    /// assert_eq!(db.len(), 1);
    /// ```
    pub fn len(&self) -> u64 {
        self.index.read().len() as u64
    }

    /// True when the database holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters and sizes of every layer. Cheap: relaxed counter reads, a walk of the index's
    /// inner nodes, one listing of the directory, three RocksDB property reads.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
    /// db.put(1, b"a").unwrap();
    /// let s = db.stats();
    /// assert_eq!(s.keys, 1);
    /// assert_eq!(s.ops.puts, 1);
    /// let json = serde_json::to_string(&s).unwrap(); // Stats is serde::Serialize
    /// assert!(json.contains("\"hot_tier\""));
    /// ```
    pub fn stats(&self) -> Stats {
        let (index, arrays) = {
            let index = self.index.read();
            (index.stats(), index.array_ranges())
        };
        let mut hot_tier = self.hot.stats();
        hot_tier.append_errors = self.hot_append_errors.get();
        let [index_huge, hot_huge] =
            crate::machine::huge_pages::huge_page_bytes([&arrays, &self.hot.mapped_ranges()]);
        hot_tier.huge_page_bytes = hot_huge;
        let cache = self.cache.stats();
        let memory = self.memory_stats(index.total_bytes() as u64, &cache, &hot_tier);
        Stats {
            keys: self.len(),
            index: IndexStats {
                bytes: index.total_bytes() as u64,
                depth: index.depth as u32,
                layers: index.layers as u64,
                data_nodes: index.data_nodes as u64,
                model_nodes: index.model_nodes as u64,
                avg_fill: if index.slots == 0 {
                    0.0
                } else {
                    index.alex_keys as f64 / index.slots as f64
                },
                huge_page_bytes: index_huge,
            },
            cache,
            hot_tier,
            rocksdb: self.rocks.stats(),
            ops: {
                let mut ops = self.ops.snapshot();
                (ops.sync_groups, ops.sync_grouped_writes) = self.sync_group.counts();
                ops
            },
            open: self.open_stats.clone(),
            memory,
        }
    }

    /// The memory figures of [`Db::stats`] (`MemoryStats`).
    fn memory_stats(
        &self,
        index_bytes: u64,
        cache: &crate::stats::CacheStats,
        hot: &crate::stats::HotTierStats,
    ) -> crate::stats::MemoryStats {
        let o = &self.opts;
        let budget = [
            o.value_cache_bytes,
            o.hot_tier_bytes,
            o.block_cache_bytes,
            o.write_buffer_size
                .saturating_mul(o.max_write_buffer_number as usize),
        ]
        .iter()
        .fold(0u64, |sum, &b| sum.saturating_add(b as u64));
        let mut m = crate::stats::MemoryStats {
            budget_bytes: budget,
            index_bytes,
            value_cache_bytes: cache.bytes + cache.doorkeeper_bytes,
            hot_tier_bytes: hot.bytes,
            block_cache_bytes: self.rocks.int_property("rocksdb.block-cache-usage"),
            memtable_bytes: self.rocks.int_property("rocksdb.cur-size-all-mem-tables"),
            table_reader_bytes: self
                .rocks
                .int_property("rocksdb.estimate-table-readers-mem"),
            ..Default::default()
        };
        m.total_bytes = m.index_bytes
            + m.value_cache_bytes
            + m.hot_tier_bytes
            + m.block_cache_bytes
            + m.memtable_bytes
            + m.table_reader_bytes;
        m.total_over_budget = if budget == 0 {
            0.0
        } else {
            m.total_bytes as f64 / budget as f64
        };
        m
    }

    /// Writes RocksDB's memtables to disk, so every acknowledged write survives a crash even
    /// with the WAL off (with the WAL on they survive a process crash already).
    pub fn flush(&self) -> crate::Result<()> {
        self.check_usable()?;
        self.rocks.flush()
    }

    /// Compacts RocksDB's whole key range (blocking): reclaims the space of overwritten and
    /// deleted values and makes reads touch fewer files.
    pub fn compact(&self) -> crate::Result<()> {
        self.check_usable()?;
        self.rocks.compact();
        Ok(())
    }

    /// Closes the database: flushes RocksDB and writes the index snapshot (when this session
    /// wrote anything), returning any error of those steps. Dropping a `Db` does the same and
    /// reports errors only on stderr.
    pub fn close(mut self) -> crate::Result<()> {
        self.closed = true;
        self.shutdown()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if let Err(e) = self.shutdown() {
            eprintln!("alexkv: closing {}: {e}", self.path.display());
        }
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.path)
            .field("keys", &self.len())
            .finish_non_exhaustive()
    }
}

impl Db {
    /// True after a panic inside a write (see [`crate::Error::Poisoned`]).
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// `Err(Poisoned)` once a write panicked; every fallible operation starts with it.
    #[inline]
    pub(crate) fn check_usable(&self) -> crate::Result<()> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(crate::Error::Poisoned {
                path: self.path.clone(),
            });
        }
        Ok(())
    }
}

/// Relaxed is enough for `dirty`: it is read at close, which synchronises with every write on
/// its own. (`marker_on_disk` and `snapshot_on_disk` are read by concurrent writers outside any
/// lock and use Acquire/Release, see `forget_snapshot`.)
const FLAG: Ordering = Ordering::Relaxed;
