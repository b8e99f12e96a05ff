//! Counters and the [`Stats`] snapshot.
//!
//! Each layer keeps its own counters ([`Counter`], per-thread cells bumped without a locked
//! instruction, cheap enough to leave on in every hot path) and produces its own sub-struct of [`Stats`]: the value cache a
//! [`CacheStats`], the hot tier a [`HotTierStats`], the RocksDB store a [`RocksDbStats`], the
//! engine an [`OpStats`] (from [`OpCounters`]), an [`IndexStats`] and an [`OpenStats`]. The engine assembles them
//! into one [`Stats`]. Counters only grow; sizes (`bytes`, `entries`, ...) are read at snapshot
//! time. A snapshot is not atomic across counters: each value is exact, their sum at one instant
//! is not guaranteed.

use crossbeam::utils::CachePadded;
use serde::Serialize;
use std::sync::atomic::{
    AtomicU64, AtomicUsize,
    Ordering::{Acquire, Relaxed},
};

/// Everything the engine reports about itself. Serialises to JSON for benchmark reports.
#[derive(Serialize, Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Stats {
    /// Live keys (the learned index's size).
    pub keys: u64,
    /// The learned index.
    pub index: IndexStats,
    /// The value cache.
    pub cache: CacheStats,
    /// The hot tier.
    pub hot_tier: HotTierStats,
    /// RocksDB, as seen through alexkv.
    pub rocksdb: RocksDbStats,
    /// Operations served by the public API.
    pub ops: OpStats,
    /// How the database was opened.
    pub open: OpenStats,
    /// Memory held, the index's included, against what the options describe.
    pub memory: MemoryStats,
}

/// The engine's memory against the budget its options describe. The options bound the caches
/// and RocksDB's write buffers; the learned index is bounded by none of them (it grows with the
/// keys: ~24 bytes a `u64` key at 10M keys), nor are RocksDB's table readers (index and filter
/// blocks held outside the block cache, `Options::cache_index_and_filter_blocks` off). Both
/// are counted here beside the bounded parts.
#[derive(Serialize, Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct MemoryStats {
    /// What the options allow the bounded parts: `value_cache_bytes + hot_tier_bytes +
    /// block_cache_bytes + write_buffer_size * max_write_buffer_number`.
    pub budget_bytes: u64,
    /// The learned index ([`IndexStats::bytes`]).
    pub index_bytes: u64,
    /// The value cache's charged bytes and its admission doorkeeper.
    pub value_cache_bytes: u64,
    /// Hot-tier bytes holding records ([`HotTierStats::bytes`]).
    pub hot_tier_bytes: u64,
    /// RocksDB's block cache in use (`rocksdb.block-cache-usage`).
    pub block_cache_bytes: u64,
    /// RocksDB's memtables (`rocksdb.cur-size-all-mem-tables`).
    pub memtable_bytes: u64,
    /// RocksDB's table readers, with the index and filter blocks they hold outside the block
    /// cache (`rocksdb.estimate-table-readers-mem`).
    pub table_reader_bytes: u64,
    /// The sum of the six figures above.
    pub total_bytes: u64,
    /// `total_bytes / budget_bytes` (0 for a zero budget): above 1 when the index and the table
    /// readers take the engine past what its options describe.
    pub total_over_budget: f64,
}

/// What happened when the database was opened.
#[derive(Serialize, Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct OpenStats {
    /// True when the index was loaded from the snapshot written at the last clean close; false
    /// when it was rebuilt by scanning RocksDB's keys.
    pub index_from_snapshot: bool,
    /// Why an index snapshot found at open was not used (damaged, stale, foreign), if one was
    /// found and not used.
    pub snapshot_rejected: Option<String>,
    /// Hot-tier segment files found damaged at open and deleted (the tier is a cache: nothing
    /// is lost).
    pub discarded_hot_segments: u64,
    /// Hot locations of the snapshot that no longer named their record (the hot tier was off,
    /// resized, discarded or recycled since the close that wrote it): their keys were made
    /// Cold, so their values are read from RocksDB.
    pub stale_hot_locations: u64,
    /// Microseconds from RocksDB's open to the index's being ready: the snapshot's read (or the
    /// key scan), which runs beside the hot tier's verification of its segments, then the
    /// check of the snapshot's Hot locations and the bulk load.
    pub index_build_micros: u64,
    /// Microseconds spent in `Db::open` in all.
    pub open_micros: u64,
}

/// Shape and memory of the learned index.
#[derive(Serialize, Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct IndexStats {
    /// Heap bytes used by the index (every layer's ALEX, buckets, layer headers).
    pub bytes: u64,
    /// Layers from the root layer to the deepest (1: every key is decided by its first 8
    /// bytes after the root's shared prefix, as for `u64` keys).
    pub depth: u32,
    /// Layers of the trie (one ALEX each).
    pub layers: u64,
    /// Number of data (leaf) nodes, over every layer.
    pub data_nodes: u64,
    /// Number of model (inner) nodes.
    pub model_nodes: u64,
    /// Average fraction of occupied slots in data nodes, in `0.0..=1.0`.
    pub avg_fill: f64,
    /// Bytes of the data nodes' key and payload arrays the kernel backs with 2 MiB pages
    /// (from `/proc/self/smaps`, an estimate where an array shares a mapping with other heap
    /// memory; 0 where smaps cannot be read). Arrays of 2 MiB or more ask for them.
    pub huge_page_bytes: u64,
}

/// Value-cache counters and sizes.
#[derive(Serialize, Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct CacheStats {
    /// False when the cache is configured off.
    pub enabled: bool,
    /// Lookups that found the key.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Values inserted by fills.
    pub inserts: u64,
    /// Fills refused because a writer touched the key's stripe since the fill's ticket was taken
    /// (stale-fill protection at work), or because the value was too large for a shard.
    pub rejected_fills: u64,
    /// Entries dropped to stay within the byte or entry bound.
    pub evictions: u64,
    /// Written keys announced to the cache one by one (each drops the key's entry); writes of
    /// many keys, which empty the whole cache at once, are not counted.
    pub invalidations: u64,
    /// Fills skipped because the key had not missed before in the admission window (the
    /// value enters on its second miss; `Options::value_cache_admission`).
    pub unadmitted_fills: u64,
    /// Bytes currently charged (each entry what it costs the heap).
    pub bytes: u64,
    /// Entries currently held.
    pub entries: u64,
    /// Bytes of the admission doorkeeper (0 without admission), beside the charged bytes.
    pub doorkeeper_bytes: u64,
    /// Configured byte bound.
    pub capacity_bytes: u64,
    /// `hits / (hits + misses)`, 0 when there were no lookups.
    pub hit_rate: f64,
}

/// Hot-tier counters and sizes.
#[derive(Serialize, Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct HotTierStats {
    /// False when the tier is configured off.
    pub enabled: bool,
    /// Bytes of records currently in the segments (headers and padding included).
    pub bytes: u64,
    /// Configured total size.
    pub capacity_bytes: u64,
    /// Segment files currently mapped.
    pub segments: u64,
    /// Records appended.
    pub appends: u64,
    /// Reads served from the tier.
    pub hits: u64,
    /// Reads refused because the Location outlived its record: its segment was recycled (or
    /// re-created after being discarded at open), so the generation or the record there differs.
    /// A read of a key checked against the record of the one key of its index slot (a
    /// candidate, `trie::Lookup`) and refused is not counted: most are reads of absent keys.
    pub stale: u64,
    /// Bytes of the segment mappings the kernel backs with 2 MiB pages (from
    /// `/proc/self/smaps`; 0 where it cannot be read). The segments ask for them with
    /// `MADV_HUGEPAGE`; for what they are worth see `internal/DESIGN.md`,
    /// "Decisions that still hold", "Reads, marks and the index lock".
    pub huge_page_bytes: u64,
    /// Segments recycled.
    pub recycled: u64,
    /// Records handed back for demotion to Cold by recycling.
    pub demoted: u64,
    /// Appends that failed with an I/O error (creating a segment file); the key stayed Cold.
    pub append_errors: u64,
    /// Appends declined because the segment to recycle was being read in place (a
    /// `Db::get_with` closure running on it); the key stayed Cold.
    pub declined_pinned: u64,
}

/// RocksDB traffic generated by alexkv.
#[derive(Serialize, Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RocksDbStats {
    /// Point reads (each key of a multi-get counts).
    pub gets: u64,
    /// Of `gets`, those that left RocksDB's block cache as it was: reads of a key that does
    /// not neighbour the thread's previous read (`Options::block_cache_admission`).
    pub gets_without_block_cache_fill: u64,
    /// Value bytes returned by point reads.
    pub bytes_read: u64,
    /// Write calls (a batch counts once).
    pub writes: u64,
    /// Key and value bytes written (writes and ingestion).
    pub bytes_written: u64,
    /// Keys bulk-loaded through SST ingestion.
    pub ingested_keys: u64,
    /// Latest RocksDB sequence number.
    pub sequence: u64,
    /// Bytes of all files in the database directory.
    pub disk_bytes: u64,
}

/// Public operations served.
#[derive(Serialize, Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct OpStats {
    /// Point reads of values (`get`, `get_with`, `get_i64`, each key of a `multi_get`).
    pub gets: u64,
    /// Presence checks (`contains`, `contains_i64`), answered by the index alone.
    pub contains: u64,
    /// Single-key puts.
    pub puts: u64,
    /// Single-key deletes.
    pub deletes: u64,
    /// Batches written.
    pub batches: u64,
    /// Range scans started.
    pub ranges: u64,
    /// With `sync_writes`: RocksDB writes (each one fsync) made by the group commit.
    pub sync_groups: u64,
    /// With `sync_writes`: writes those groups carried (`sync_grouped_writes / sync_groups`
    /// is the mean group size; above 1, writers shared fsyncs).
    pub sync_grouped_writes: u64,
}

/// Threads that can own a cell of every [`Counter`] at once; later threads share one more.
const OWNED_CELLS: usize = 16;

/// A monotonically increasing event counter that a hot path can bump without a locked
/// instruction.
///
/// Each of the first [`OWNED_CELLS`] threads alive at once owns one cache-line-padded cell
/// (of every counter); its increments are a relaxed load and store of that cell: no
/// read-modify-write, no line shared with another writer, nothing that stops the CPU from
/// overlapping the memory accesses around it. Threads beyond those share a last cell with
/// atomic adds. A thread's cell goes back to the pool when the thread exits. Reading sums the
/// cells, so a total is exact once the increments it should include have happened-before.
pub(crate) struct Counter {
    cells: [CachePadded<AtomicU64>; OWNED_CELLS + 1],
}

/// The pool of owned cells: bit `i` set while some thread owns cell `i`.
static OWNED: AtomicUsize = AtomicUsize::new(0);

/// A thread's claim on a cell, released when the thread exits.
struct CellClaim(usize);

impl CellClaim {
    fn new() -> Self {
        let mut taken = OWNED.load(Relaxed);
        loop {
            let free = !taken & ((1 << OWNED_CELLS) - 1);
            if free == 0 {
                return CellClaim(OWNED_CELLS); // the shared cell
            }
            let bit = free.trailing_zeros() as usize;
            match OWNED.compare_exchange_weak(taken, taken | 1 << bit, Acquire, Relaxed) {
                Ok(_) => return CellClaim(bit),
                Err(now) => taken = now,
            }
        }
    }
}

impl Drop for CellClaim {
    fn drop(&mut self) {
        if self.0 < OWNED_CELLS {
            // Release: the next owner's plain load-and-store increments start from this
            // thread's last store.
            OWNED.fetch_and(!(1 << self.0), std::sync::atomic::Ordering::Release);
        }
    }
}

thread_local! {
    static CLAIM: CellClaim = CellClaim::new();
}

/// This thread's cell: an owned one, or the shared one (also during thread teardown, after
/// the claim was released).
#[inline]
fn my_cell() -> usize {
    CLAIM.try_with(|c| c.0).unwrap_or(OWNED_CELLS)
}

impl Counter {
    /// A counter at zero.
    pub(crate) fn new() -> Self {
        Counter {
            cells: std::array::from_fn(|_| CachePadded::new(AtomicU64::new(0))),
        }
    }

    /// Adds one.
    #[inline]
    pub(crate) fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        let i = my_cell();
        let cell = &self.cells[i];
        if i < OWNED_CELLS {
            // Only this thread writes this cell while it owns it (a claim is handed over with
            // Release/Acquire on `OWNED`), so a load and a store lose nothing.
            cell.store(cell.load(Relaxed).wrapping_add(n), Relaxed);
        } else {
            cell.fetch_add(n, Relaxed);
        }
    }

    /// The current total.
    pub(crate) fn get(&self) -> u64 {
        self.cells
            .iter()
            .fold(0u64, |acc, c| acc.wrapping_add(c.load(Relaxed)))
    }

    /// Sets the counter back to zero (not atomic with concurrent adds).
    pub(crate) fn reset(&self) {
        for c in &self.cells {
            c.store(0, Relaxed);
        }
    }
}

impl Default for Counter {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// The engine's per-operation counters.
#[derive(Default, Debug)]
pub(crate) struct OpCounters {
    /// See [`OpStats::gets`].
    pub gets: Counter,
    /// See [`OpStats::contains`].
    pub contains: Counter,
    /// See [`OpStats::puts`].
    pub puts: Counter,
    /// See [`OpStats::deletes`].
    pub deletes: Counter,
    /// See [`OpStats::batches`].
    pub batches: Counter,
    /// See [`OpStats::ranges`].
    pub ranges: Counter,
}

impl OpCounters {
    /// Reads every counter.
    pub(crate) fn snapshot(&self) -> OpStats {
        OpStats {
            gets: self.gets.get(),
            contains: self.contains.get(),
            puts: self.puts.get(),
            deletes: self.deletes.get(),
            batches: self.batches.get(),
            ranges: self.ranges.get(),
            sync_groups: 0,
            sync_grouped_writes: 0,
        }
    }
}

/// `hits / (hits + misses)`, or 0 with no lookups.
pub(crate) fn ratio(hits: u64, misses: u64) -> f64 {
    let total = hits + misses;
    if total == 0 {
        0.0
    } else {
        hits as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn counter_sums_increments_from_many_threads() {
        let c = Arc::new(Counter::new());
        // More threads at once than there are owned cells (the rest share one), in waves, so
        // cells are handed from exited threads to new ones.
        for _wave in 0..3 {
            let threads: Vec<_> = (0..OWNED_CELLS + 8)
                .map(|_| {
                    let c = Arc::clone(&c);
                    std::thread::spawn(move || {
                        for _ in 0..10_000 {
                            c.inc();
                        }
                        c.add(5);
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
        assert_eq!(c.get(), 3 * (OWNED_CELLS as u64 + 8) * 10_005);
    }

    #[test]
    fn op_counters_snapshot() {
        let ops = OpCounters::default();
        ops.gets.add(3);
        ops.batches.inc();
        let s = ops.snapshot();
        assert_eq!((s.gets, s.batches, s.puts), (3, 1, 0));
    }

    #[test]
    fn ratio_handles_no_lookups() {
        assert_eq!(ratio(0, 0), 0.0);
        assert_eq!(ratio(3, 1), 0.75);
    }

    #[test]
    fn stats_serialise_with_sub_structs() {
        let json = serde_json::to_value(Stats::default()).unwrap();
        for k in [
            "keys", "index", "cache", "hot_tier", "rocksdb", "ops", "open",
        ] {
            assert!(json.get(k).is_some(), "{k}");
        }
        assert!(json["cache"].get("hit_rate").is_some());
    }
}
