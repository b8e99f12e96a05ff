//! Opening and closing: the order tiers come up in, how the index is rebuilt, and the snapshot
//! written at a clean close.
//!
//! # Open, in this order
//!
//! 1. `Options::validate`: invalid options fail before anything touches the disk.
//! 2. `RocksStore::open`: checks the directory is ours (`ALEXKV` identity file) and takes
//!    RocksDB's `LOCK`, which guards the whole directory; a second open, in this process or
//!    another, fails here with `Error::Locked` before any other file is touched.
//! 3. `HotTier::open`: verifies the segment files and deletes damaged ones. The records it
//!    recovers are not trusted by themselves (one may be older than RocksDB: a crash between a
//!    commit and its append, a delete, a run with the tier off). Only the locations saved in a
//!    matching snapshot point the index into the tier (step 4), and only those that still name
//!    exactly their record; every other record ages out as the ring wraps, and the demotion of
//!    a recycled one compares unequal and does nothing.
//! 4. The index: from the snapshot (`snapshot` module) when RocksDB's snapshot marker vouches
//!    for it and it matches RocksDB's sequence number, identity and key bounds (a bulk load of
//!    its keys with their saved locations, so values that were hot at close are served from
//!    the tier at once), else by a key-only scan of RocksDB
//!    (a bulk load with every key Cold). A rejected snapshot is reported in `Stats::open`,
//!    never an error. The snapshot's read (or the key scan) runs on a second thread beside
//!    step 3: neither reads the other's files, and nothing uses either before both are done.
//!    The snapshot's hot-tier state is applied: the tier's epochs are raised above every epoch
//!    the snapshot could name (`HotTier::raise_epoch_floor`), and each Hot location is kept only
//!    if its segment has the identity the snapshot saved and a record of its key and length
//!    starts at its offset (`HotTier::exact_check`); the others become Cold
//!    (`Stats::open.stale_hot_locations`). The check runs on a second thread beside the bulk
//!    load of the saved locations; the stale ones it names are then demoted in the index (by a
//!    second bulk load when they are more than an eighth), before `open` returns. When no
//!    segment the snapshot saved is there at all, every Hot location is made Cold before the
//!    bulk load, with no check.
//!    So **every Hot location in the index names a record of the segment's current
//!    incarnation** from the first read on, and a recycle, which demotes every record it
//!    walks, leaves none behind.
//!
//! # Close (`Db::close` or drop)
//!
//! Under the writer mutex: flush RocksDB (so the sequence number and the data are in SST files),
//! then, if this session wrote anything (or opened without a usable snapshot), write a fresh
//! marker token into RocksDB (durably) and then the snapshot of the index's keys carrying that
//! token. A session that only read keeps the snapshot it was opened from. The first change of
//! a session deletes the marker, durably, before its RocksDB commit (`write`). A poisoned
//! database (a panic inside a write, see `Error::Poisoned`) writes no snapshot: the next open
//! rebuilds the index from RocksDB.

use super::index_lock::IndexLock;
use super::snapshot::{self, Expected};
use super::{Db, FLAG};
use crate::cache::ValueCache;
use crate::error::{Error, Result};
use crate::hot_tier::{Appender, HotTier};
use crate::location::Location;
use crate::options::Options;
use crate::rocks::RocksStore;
use crate::stats::{Counter, OpCounters, OpenStats};
use crate::trie::Trie;
use crossbeam::utils::CachePadded;
use parking_lot::Mutex;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Instant;

impl Db {
    /// Opens the database in directory `path`, creating it when missing (unless
    /// `Options::create_if_missing` is off).
    ///
    /// Errors, all typed: [`Error::InvalidOptions`], [`Error::NotADirectory`] (`path` is a file),
    /// [`Error::NotADatabase`] (a directory holding other files, or a RocksDB database not
    /// created by alexkv), [`Error::Locked`] (open in another process or handle),
    /// [`Error::Corruption`], [`Error::Io`], [`Error::Rocks`]. A damaged hot-tier segment or
    /// index snapshot is not an error: it is discarded (see [`crate::Stats`]`::open`).
    ///
    /// ```
    /// use alexkv::{Db, Error, Options};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path(), Options::default())?;
    /// db.put(5, b"five")?;
    /// assert!(matches!(Db::open(dir.path(), Options::default()), Err(Error::Locked { .. })));
    /// drop(db); // clean close
    /// let db = Db::open(dir.path(), Options::default())?;
    /// assert_eq!(db.get(5)?.as_deref(), Some(&b"five"[..]));
    /// assert!(db.stats().open.index_from_snapshot);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>, opts: Options) -> Result<Db> {
        let started = Instant::now();
        let path = path.as_ref();
        opts.validate()?;
        let rocks = RocksStore::open(path, &opts)?;
        let marker = rocks.snapshot_marker()?;
        let build_started = Instant::now();
        // The index's keys (the snapshot read, or the key scan) come in beside the hot tier's
        // verification of its segments: neither touches the other's files.
        let (hot, found) = beside(
            || HotTier::open(path, &opts.hot_tier_config()),
            || find_keys(&rocks, path, marker),
        );
        let (hot, mut appender, report) = hot?;
        let cache = ValueCache::from_config(&opts.cache_config());
        let built = build_index(found?, (&hot, &mut appender), path, opts.index_key_filter);
        hot.forget_open_walks();
        let built = built?;
        let mut open_stats = OpenStats {
            index_from_snapshot: built.from_snapshot,
            snapshot_rejected: built.rejected,
            discarded_hot_segments: report.discarded.len() as u64,
            stale_hot_locations: built.stale_hot_locations,
            index_build_micros: build_started.elapsed().as_micros() as u64,
            open_micros: 0,
        };
        let from_snapshot = built.from_snapshot;
        if !from_snapshot {
            // A rejected or absent snapshot must not survive into this session.
            snapshot::remove(path)?;
        }
        open_stats.open_micros = started.elapsed().as_micros() as u64;
        Ok(Db {
            path: path.to_path_buf(),
            opts,
            rocks,
            hot,
            cache,
            index: IndexLock::new(built.index),
            key_locks: super::key_locks::KeyLocks::new(),
            writer: Mutex::new(appender),
            first_change: Mutex::new(()),
            sync_group: super::sync_group::SyncGroup::new(path.to_path_buf()),
            write_seq: AtomicU64::new(0),
            snapshot_on_disk: AtomicBool::new(from_snapshot),
            marker_on_disk: AtomicBool::new(marker.is_some()),
            poisoned: CachePadded::new(AtomicBool::new(false)),
            dirty: AtomicBool::new(false),
            ops: OpCounters::default(),
            hot_append_errors: Counter::new(),
            inflight: super::inflight::InFlight::new(),
            block_fill: super::block_fill::BlockFill::new(),
            open_stats,
            profiler: super::profile::ReadProfiler::new(),
            closed: false,
        })
    }

    /// Flushes RocksDB and, when this session wrote, writes the index snapshot (module docs).
    pub(super) fn shutdown(&self) -> Result<()> {
        let writer = self.writer.lock();
        self.rocks.flush()?;
        if self.is_poisoned() {
            // The index may lack a committed write: no snapshot (the marker was deleted before
            // that write), so the next open rebuilds from RocksDB.
            return Ok(());
        }
        let dirty = self.dirty.load(FLAG);
        if !dirty && self.snapshot_on_disk.load(FLAG) {
            return Ok(()); // the snapshot we opened from still describes RocksDB
        }
        // The snapshot's Hot locations must name durable records (see `HotTier::flush`).
        self.hot.flush()?;
        // Marker first, file second: a crash in between leaves a token no file carries.
        let token = fresh_token();
        self.rocks.set_snapshot_marker(token)?;
        self.marker_on_disk.store(true, FLAG);
        let origin = snapshot::Origin {
            sequence: self.rocks.latest_sequence_number(),
            identity: &snapshot::rocks_identity(&self.path),
            token,
            hot: snapshot::HotState {
                epoch_floor: self.hot.epoch_floor(&writer),
                segments: self.hot.identities(),
            },
        };
        // Streamed from the index under its read lock (the writer mutex keeps it unchanged).
        let index = self.index.read();
        snapshot::write(&self.path, &origin, index.len(), |f| {
            index.scan_from(std::ops::Bound::Unbounded, |k, w| f(k, w))
        })?;
        drop(index);
        self.snapshot_on_disk.store(true, FLAG);
        self.dirty.store(false, FLAG);
        Ok(())
    }
}

/// The index `build_index` made, and how.
struct Built {
    index: Trie,
    /// The snapshot was used.
    from_snapshot: bool,
    /// Why a snapshot present was rejected.
    rejected: Option<String>,
    /// Hot locations of the snapshot made Cold (`HotTier::exact_check`).
    stale_hot_locations: u64,
}

/// The index's keys and locations: the snapshot's if it matches RocksDB (module docs, step 4),
/// else every key of a scan of RocksDB, Cold.
struct Found {
    index: snapshot::SnapshotIndex,
    /// The snapshot was used.
    from_snapshot: bool,
    /// Why a snapshot present was rejected.
    rejected: Option<String>,
}

/// Reads the snapshot if RocksDB vouches for it (`marker`) and it matches RocksDB, else scans
/// RocksDB's keys.
fn find_keys(rocks: &RocksStore, dir: &Path, marker: Option<u128>) -> Result<Found> {
    let identity = snapshot::rocks_identity(dir);
    let expected = Expected {
        sequence: rocks.latest_sequence_number(),
        identity: &identity,
        marker,
        bounds: rocks.key_bounds()?,
    };
    let cold = |keys: snapshot::KeyList| {
        let locations = vec![Location::COLD.to_raw(); keys.len()];
        snapshot::SnapshotIndex {
            keys,
            locations,
            hot: snapshot::HotState::default(),
        }
    };
    let (index, from_snapshot, rejected) = match snapshot::load(dir, &expected) {
        Ok(Some(found)) => (found, true, None),
        Ok(None) => (cold(scan_keys(rocks, dir)?), false, None),
        Err(reason) => (cold(scan_keys(rocks, dir)?), false, Some(reason)),
    };
    Ok(Found {
        index,
        from_snapshot,
        rejected,
    })
}

/// Builds the index from what `find_keys` found; applies the snapshot's hot-tier state to `hot`
/// (the tier and its appender, before any append) and its locations (module docs, step 4).
fn build_index(
    found: Found,
    (hot, appender): (&HotTier, &mut Appender),
    dir: &Path,
    key_filter: bool,
) -> Result<Built> {
    let Found {
        index: mut found,
        from_snapshot,
        rejected,
    } = found;
    let bulk_load = |found: &snapshot::SnapshotIndex| {
        let pairs = found.keys.iter().zip(found.locations.iter().copied());
        Trie::bulk_load_pairs(pairs).map_err(|e| Error::Corruption {
            path: dir.to_path_buf(),
            detail: format!("index rebuild: {e:?}"),
        })
    };
    let mut stale_hot_locations = 0;
    let mut index;
    // `snapshot::load` refuses a floor at or above MAX_EPOCH, so the floor is raised; if it
    // were not, no saved identity could be trusted, and every location goes Cold.
    let saved: &[_] = if from_snapshot && hot.raise_epoch_floor(appender, found.hot.epoch_floor) {
        &found.hot.segments
    } else {
        &[]
    };
    if saved.is_empty() || !hot.identities().iter().any(|id| saved.contains(id)) {
        // No segment the snapshot saved is there now: every Hot location is stale.
        for loc in &mut found.locations {
            if Location::from_raw(*loc).as_hot().is_some() {
                *loc = Location::COLD.to_raw();
                stale_hot_locations += 1;
            }
        }
        index = bulk_load(&found)?;
    } else {
        // The check of every Hot location beside the bulk load of them all, then the stale
        // ones demoted: none unless the tier changed since the close.
        let (loaded, stale) = beside(
            || bulk_load(&found),
            || {
                hot.exact_check(saved)
                    .stale(found.keys.iter(), &found.locations)
            },
        );
        index = loaded?;
        stale_hot_locations = stale.len() as u64;
        if stale.len() > found.locations.len() / 8 {
            // Many (a tier resized, some segments discarded): a second bulk load costs less
            // than a descent per key.
            for &i in &stale {
                found.locations[i] = Location::COLD.to_raw();
            }
            drop(index);
            index = bulk_load(&found)?;
        } else {
            demote(&mut index, &found.keys, &stale).map_err(|key| Error::Corruption {
                path: dir.to_path_buf(),
                detail: format!("index rebuild: a loaded key is missing ({key:?})"),
            })?;
        }
    }
    if key_filter {
        index.set_key_filter(true);
    }
    Ok(Built {
        index,
        from_snapshot,
        rejected,
        stale_hot_locations,
    })
}

/// Runs `a` and `b` at once, `b` on a thread of its own (or after `a` on this one, when the
/// system refuses a thread); a panic in either reaches the caller.
fn beside<A, B: Send>(a: impl FnOnce() -> A, b: impl FnOnce() -> B + Send) -> (A, B) {
    let b = Mutex::new(Some(b));
    let run_b = || b.lock().take().map(|b| b());
    std::thread::scope(|s| {
        let other = std::thread::Builder::new()
            .name("alexkv-open".into())
            .spawn_scoped(s, run_b);
        let a = a();
        let b = match other {
            Ok(h) => h
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => run_b(),
        };
        (a, b.expect("`b` runs once, on one thread or the other"))
    })
}

/// Makes Cold, in `index`, the keys at the positions `stale` (increasing) of `keys`, all in the
/// index; `Err(key)` for a key it does not hold.
fn demote(
    index: &mut Trie,
    keys: &snapshot::KeyList,
    stale: &[usize],
) -> std::result::Result<(), Vec<u8>> {
    let cold = Location::COLD.to_raw();
    let mut next = stale.iter().peekable();
    for (i, key) in keys.iter().enumerate() {
        if next.next_if_eq(&&i).is_some()
            && index.set_direct(key, cold).is_none()
            && index.set_existing(key, cold).is_none()
        {
            return Err(key.to_vec());
        }
        if next.peek().is_none() {
            break;
        }
    }
    Ok(())
}

/// A token no earlier snapshot of this database carries (128 random bits: the process's
/// randomly keyed hasher over the time, the process id and a counter).
fn fresh_token() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = std::collections::hash_map::RandomState::new();
    let half = |salt: u64| {
        let mut h = seed.build_hasher();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        h.write_u64(salt);
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

/// Every key in RocksDB, in order, without copying values. A key longer than `MAX_KEY_LEN`
/// (no alexkv writes one) means the database holds foreign data.
fn scan_keys(rocks: &RocksStore, dir: &Path) -> Result<snapshot::KeyList> {
    let n = rocks.estimate_num_keys().unwrap_or(0).min(1 << 28) as usize;
    let mut keys = snapshot::KeyList {
        lens: Vec::with_capacity(n),
        bytes: Vec::with_capacity(n * 8),
    };
    let mut scan = rocks.bulk_scan();
    while let Some(len) = scan.next_with(|k, _| {
        if k.len() <= crate::keys::MAX_KEY_LEN {
            keys.push(k);
        }
        k.len()
    }) {
        let len = len?;
        if len > crate::keys::MAX_KEY_LEN {
            return Err(Error::Corruption {
                path: dir.to_path_buf(),
                detail: format!("a stored key of {len} bytes, over alexkv's limit"),
            });
        }
    }
    Ok(keys)
}
