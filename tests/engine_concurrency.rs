//! Concurrency check of the engine: writers, readers and scanners (`range`, and `scan_with` with
//! limits) share one `Db`.
//!
//! Every value encodes `(key, version)` and a body derived from both, so a reader can tell a
//! foreign or torn value from a real one. Each key has one writer, whose versions only grow. The
//! writer publishes, per key, the version it *started* writing and, once the write returned, the
//! version *acknowledged*. A reader checks every value against them:
//!
//! * the value names its own key and its body is intact (no foreign or recycled bytes);
//! * its version is at least the acknowledged one read **before** the read (no stale value: the
//!   stale-cache-fill and recycled-segment hazards both show up as an older version), and at most
//!   the started one read **after** (no value from nowhere);
//! * it is at least every version this reader already saw for the key (reads are monotonic);
//! * `None` is allowed only if a delete of the key started after the acknowledged write.
//!
//! Tiny value cache and hot tier make fills, evictions, recycling and demotions constant.

mod common;

use alexkv::{Db, Options, WriteBatch};
use common::{tiny_tiers, Rng};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEYS: u64 = 96;
const WRITERS: u64 = 2;
const RUN_FOR: Duration = Duration::from_millis(1500);

/// Spreads the small key set over the u64 range (the index sees real gaps). A bijection.
fn key_of(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn value(key: u64, version: u64) -> Vec<u8> {
    let len = 16 + (version.wrapping_mul(7919) % 300) as usize;
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&key.to_le_bytes());
    v.extend_from_slice(&version.to_le_bytes());
    v.extend((16..len).map(|i| (key ^ version.rotate_left(i as u32 % 64)) as u8 ^ i as u8));
    v
}

/// The version of a value of `key`, or a panic describing what is wrong with it.
fn decode(key: u64, v: &[u8]) -> u64 {
    assert!(v.len() >= 16, "key {key}: value of {} bytes", v.len());
    let k = u64::from_le_bytes(v[..8].try_into().unwrap());
    let version = u64::from_le_bytes(v[8..16].try_into().unwrap());
    assert_eq!(k, key, "key {key} returned the value of key {k}");
    assert!(
        v == value(key, version),
        "key {key} version {version}: body damaged"
    );
    version
}

/// Per-key state published by the key's writer. Versions are `(version << 1) | is_delete`.
struct Key {
    started: AtomicU64,
    acked: AtomicU64,
    last_delete_started: AtomicU64,
}

struct Shared {
    db: Db,
    keys: Vec<Key>,
    stop: AtomicBool,
    version: AtomicU64,
}

/// The checked key's number, or `None` for a filler key of a large batch.
fn index_of(key: u64) -> Option<usize> {
    if is_filler(key) {
        return None;
    }
    let i = (0..KEYS as usize).find(|&i| key_of(i as u64) == key);
    Some(i.unwrap_or_else(|| panic!("unknown key {key}")))
}

/// Keys of large batches that nobody checks: they make a batch long (index replays in several
/// chunks, often past the whole-cache announcement threshold of 4096 keys) and wrap the tiny hot
/// tier many times within one write.
const FILLER_BASE: u64 = 0xF00D << 48;

/// Keys just above a checked key that only ever grow in number (see [`growth_key`]): they
/// fill the checked key's own index node, so that it expands and splits while readers look the
/// checked key up.
const GROWTH_SPAN: u64 = 1 << 32;

fn is_filler(key: u64) -> bool {
    key >> 48 == 0xF00D
        || (0..KEYS).any(|i| key.wrapping_sub(key_of(i)).wrapping_sub(1) < GROWTH_SPAN)
}

/// The `n`-th growth key beside checked key `i`: new on every call with a new `n`.
fn growth_key(i: usize, n: u64) -> u64 {
    key_of(i as u64).wrapping_add(1 + n % GROWTH_SPAN)
}

/// What one read of key `i` observed, and the bounds it must respect.
fn check_read(shared: &Shared, i: usize, acked_before: u64, got: Option<&[u8]>, seen: &mut [u64]) {
    let key = key_of(i as u64);
    let state = &shared.keys[i];
    let started_after = state.started.load(SeqCst);
    let deleted_after = state.last_delete_started.load(SeqCst);
    let (acked_version, acked_delete) = (acked_before >> 1, acked_before & 1 == 1);
    match got {
        Some(v) => {
            let version = decode(key, v);
            if acked_delete {
                assert!(version > acked_version, "key {key}: version {version} read after delete {acked_version} was acknowledged");
            } else {
                assert!(version >= acked_version, "key {key}: stale version {version}, {acked_version} was acknowledged before the read");
            }
            assert!(
                version <= started_after >> 1,
                "key {key}: version {version} was never written"
            );
            assert!(
                version >= seen[i],
                "key {key}: version {version} read after this reader saw {}",
                seen[i]
            );
            seen[i] = version;
        }
        None => {
            assert!(
                deleted_after >= acked_version,
                "key {key}: absent, but version {acked_version} was acknowledged and no delete started since"
            );
            assert!(
                deleted_after > seen[i] || seen[i] == 0,
                "key {key}: absent after this reader saw version {} and no delete started since",
                seen[i]
            );
        }
    }
}

fn writer(shared: &Shared, w: u64) -> u64 {
    let mut rng = Rng::new(1000 + w);
    let mine: Vec<usize> = (0..KEYS as usize)
        .filter(|i| *i as u64 % WRITERS == w)
        .collect();
    let mut ops = 0;
    let mut grown = 0u64;
    while !shared.stop.load(SeqCst) {
        ops += 1;
        let roll = rng.below(1000);
        if roll < 4 {
            // A large batch: every key of this writer plus thousands of filler keys.
            let mut batch = WriteBatch::new();
            let mut done = Vec::new();
            for &i in &mine {
                let v = shared.version.fetch_add(1, SeqCst) + 1;
                shared.keys[i].started.store(v << 1, SeqCst);
                batch.put(key_of(i as u64), value(key_of(i as u64), v));
                done.push((i, v << 1));
            }
            for j in 0..1100 + rng.below(4000) {
                let k = FILLER_BASE + w * 100_000 + j;
                batch.put(k, value(k, ops));
            }
            for _ in 0..2000 {
                let k = growth_key(mine[rng.below(mine.len() as u64) as usize], grown);
                grown += 1;
                batch.put(k, value(k, ops));
            }
            shared.db.write(batch).unwrap();
            for (i, enc) in done {
                shared.keys[i].acked.store(enc, SeqCst);
            }
        } else if roll < 100 {
            // A batch over several of this writer's keys.
            let n = 2 + rng.below(6) as usize;
            let mut batch = WriteBatch::new();
            let mut done = Vec::new();
            // New keys beside this writer's checked keys: the index keeps growing.
            for _ in 0..32 {
                let k = growth_key(mine[rng.below(mine.len() as u64) as usize], grown);
                grown += 1;
                batch.put(k, value(k, ops));
            }
            for _ in 0..n {
                let i = mine[rng.below(mine.len() as u64) as usize];
                if done.iter().any(|(j, _)| *j == i) {
                    continue;
                }
                let v = shared.version.fetch_add(1, SeqCst) + 1;
                let delete = rng.below(5) == 0;
                let state = &shared.keys[i];
                state.started.store(v << 1 | delete as u64, SeqCst);
                if delete {
                    state.last_delete_started.store(v, SeqCst);
                    batch.delete(key_of(i as u64));
                } else {
                    batch.put(key_of(i as u64), value(key_of(i as u64), v));
                }
                done.push((i, v << 1 | delete as u64));
            }
            shared.db.write(batch).unwrap();
            for (i, enc) in done {
                shared.keys[i].acked.store(enc, SeqCst);
            }
        } else {
            let i = mine[rng.below(mine.len() as u64) as usize];
            let key = key_of(i as u64);
            let v = shared.version.fetch_add(1, SeqCst) + 1;
            let delete = roll < 200;
            let state = &shared.keys[i];
            state.started.store(v << 1 | delete as u64, SeqCst);
            if delete {
                state.last_delete_started.store(v, SeqCst);
                shared.db.delete(key).unwrap();
            } else {
                shared.db.put(key, &value(key, v)).unwrap();
            }
            state.acked.store(v << 1 | delete as u64, SeqCst);
        }
    }
    ops
}

fn reader(shared: &Shared, r: u64) -> u64 {
    let mut rng = Rng::new(2000 + r);
    let mut seen = vec![0u64; KEYS as usize];
    let mut reads = 0;
    while !shared.stop.load(SeqCst) {
        let i = rng.below(KEYS) as usize;
        let key = key_of(i as u64);
        let acked = shared.keys[i].acked.load(SeqCst);
        match rng.below(10) {
            0..=5 => {
                let got = shared.db.get(key).unwrap();
                check_read(shared, i, acked, got.as_deref(), &mut seen);
            }
            6 | 7 => {
                // Zero-copy read: check inside the closure, where the bytes are borrowed.
                let got = shared.db.get_with(key, |v| v.to_vec()).unwrap();
                check_read(shared, i, acked, got.as_deref(), &mut seen);
            }
            8 => {
                let idx: Vec<usize> = (0..4).map(|_| rng.below(KEYS) as usize).collect();
                let acked: Vec<u64> = idx
                    .iter()
                    .map(|&j| shared.keys[j].acked.load(SeqCst))
                    .collect();
                let keys: Vec<u64> = idx.iter().map(|&j| key_of(j as u64)).collect();
                let got = shared.db.multi_get(&keys).unwrap();
                for ((&j, a), g) in idx.iter().zip(acked).zip(&got) {
                    check_read(shared, j, a, g.as_deref(), &mut seen);
                }
            }
            _ => {
                let present = shared.db.contains(key);
                let state = &shared.keys[i];
                let deleted_after = state.last_delete_started.load(SeqCst);
                let started_after = state.started.load(SeqCst);
                if acked & 1 == 0 && acked >> 1 > 0 && deleted_after < acked >> 1 {
                    assert!(
                        present,
                        "key {key}: acknowledged put {} not contained",
                        acked >> 1
                    );
                }
                if acked & 1 == 1 && started_after == acked {
                    assert!(
                        !present,
                        "key {key}: contained after an acknowledged delete"
                    );
                }
            }
        }
        reads += 1;
    }
    reads
}

fn scanner(shared: &Shared, s: u64) -> u64 {
    let mut rng = Rng::new(3000 + s);
    let mut scans = 0;
    while !shared.stop.load(SeqCst) {
        let (a, b) = (rng.next_u64(), rng.next_u64());
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let in_range: Vec<usize> = (0..KEYS as usize)
            .filter(|&i| (lo..=hi).contains(&key_of(i as u64)))
            .collect();
        let acked: Vec<u64> = in_range
            .iter()
            .map(|&i| shared.keys[i].acked.load(SeqCst))
            .collect();
        let got: Vec<(u64, Vec<u8>)> = shared.db.range(lo..=hi).map(|r| r.unwrap()).collect();
        assert!(
            got.windows(2).all(|w| w[0].0 < w[1].0),
            "scan keys not increasing"
        );
        for (key, v) in &got {
            assert!(
                (lo..=hi).contains(key),
                "scan returned {key} outside {lo}..={hi}"
            );
            let Some(i) = index_of(*key) else {
                continue;
            };
            let version = decode(*key, v);
            let pos = in_range.iter().position(|&j| j == i).expect("key in range");
            let a = acked[pos];
            assert!(
                version >= a >> 1,
                "scan: key {key} stale version {version} < acked {}",
                a >> 1
            );
            assert!(version <= shared.keys[i].started.load(SeqCst) >> 1);
        }
        for (&i, &a) in in_range.iter().zip(&acked) {
            let deleted_after = shared.keys[i].last_delete_started.load(SeqCst);
            if a & 1 == 0 && a >> 1 > 0 && deleted_after < a >> 1 {
                let key = key_of(i as u64);
                assert!(
                    got.iter().any(|(k, _)| *k == key),
                    "scan missed live key {key}"
                );
            }
        }
        scans += 1;
    }
    scans
}

/// Limited scans through the borrowing visitor (`scan_with`), held to the rules of point reads:
/// every checked key the scan covered (the whole range, or up to its last pair when it stopped
/// at its limit) is checked with [`check_read`] — present or absent — against the versions
/// acknowledged before the scan and started after it, and against what this thread saw before,
/// so a stale value, a missed live key or a non-monotonic answer fails.
fn limited_scanner(shared: &Shared, s: u64) -> u64 {
    let mut rng = Rng::new(4000 + s);
    let mut seen = vec![0u64; KEYS as usize];
    let mut scans = 0;
    while !shared.stop.load(SeqCst) {
        let (lo, hi) = match rng.below(4) {
            // The whole key space: the filler keys of large batches count against the limit.
            0 => (0, u64::MAX),
            _ => {
                let (a, b) = (rng.next_u64(), rng.next_u64());
                (a.min(b), a.max(b))
            }
        };
        let limit = match rng.below(3) {
            0 => 1 + rng.below(8) as usize,
            1 => 1 + rng.below(100) as usize,
            _ => usize::MAX,
        };
        let acked: Vec<u64> = shared.keys.iter().map(|k| k.acked.load(SeqCst)).collect();
        let mut got: Vec<(u64, u64)> = Vec::new(); // (key, version), checked key or filler
        let n = shared
            .db
            .scan_with(lo..=hi, limit, |key, v| {
                let key = u64::from_be_bytes(key.try_into().expect("u64 keys"));
                // The bytes are borrowed: decode (and check the body) while they are.
                let version = match index_of(key) {
                    Some(_) => decode(key, v),
                    None => 0,
                };
                got.push((key, version));
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(n, got.len(), "scan_with's count");
        assert!(n <= limit, "{n} pairs for a limit of {limit}");
        assert!(
            got.windows(2).all(|w| w[0].0 < w[1].0),
            "scan keys not increasing"
        );
        assert!(got.iter().all(|(k, _)| (lo..=hi).contains(k)));
        let covered_hi = match got.last() {
            Some(&(last, _)) if n == limit => last,
            _ => hi,
        };
        for (i, &a) in acked.iter().enumerate() {
            let key = key_of(i as u64);
            if !(lo..=covered_hi).contains(&key) {
                continue;
            }
            let found = got.iter().find(|(k, _)| *k == key).map(|&(_, version)| {
                // `check_read` wants the value; rebuild it from the version decoded above.
                value(key, version)
            });
            check_read(shared, i, a, found.as_deref(), &mut seen);
        }
        scans += 1;
    }
    scans
}

/// Starts a named thread (a failure names the thread that saw it).
fn spawn<T: Send + 'static>(
    name: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::Builder::new()
        .name(name)
        .spawn(f)
        .expect("spawn a test thread")
}

/// Which threads a run starts besides the writers.
#[derive(Clone, Copy)]
struct Threads {
    readers: u64,
    /// Unlimited `range` scans.
    scanners: u64,
    /// `scan_with` scans with limits.
    limited_scanners: u64,
}

const ALL_THREADS: Threads = Threads {
    readers: 3,
    scanners: 1,
    limited_scanners: 1,
};

/// Runs writers, readers and scanners on one database for `RUN_FOR`; returns the statistics
/// of the run (taken before the final check of every key).
fn hammer(opts: Options) -> alexkv::Stats {
    hammer_with(opts, ALL_THREADS)
}

fn hammer_with(opts: Options, threads: Threads) -> alexkv::Stats {
    assert!(
        (0..KEYS).all(|i| !is_filler(key_of(i))),
        "a checked key looks like a filler"
    );
    let dir = tempfile::tempdir().unwrap();
    let shared = Arc::new(Shared {
        db: Db::open(dir.path(), opts).unwrap(),
        keys: (0..KEYS)
            .map(|_| Key {
                started: AtomicU64::new(1), // "deleted at version 0": absent
                acked: AtomicU64::new(1),
                last_delete_started: AtomicU64::new(0),
            })
            .collect(),
        stop: AtomicBool::new(false),
        version: AtomicU64::new(0),
    });
    type Role = fn(&Shared, u64) -> u64;
    let roles: [(&'static str, u64, Role); 4] = [
        ("writer", WRITERS, writer),
        ("reader", threads.readers, reader),
        ("scanner", threads.scanners, scanner),
        ("limited scanner", threads.limited_scanners, limited_scanner),
    ];
    let mut handles = Vec::new();
    for (who, count, role) in roles {
        for n in 0..count {
            let s = shared.clone();
            handles.push(spawn(format!("{who} {n}"), move || (who, role(&s, n))));
        }
    }
    let start = Instant::now();
    while start.elapsed() < RUN_FOR && !handles.iter().any(|h| h.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
    }
    shared.stop.store(true, SeqCst);
    let mut failed = None;
    for h in handles {
        match h.join() {
            Ok((who, n)) => assert!(n > 0, "{who} made no progress"),
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    if let Some(e) = failed {
        std::panic::resume_unwind(e);
    }
    // The counters of the run itself, before the final reads below add to them.
    let stats = shared.db.stats();
    // Final state: every key holds its last acknowledged version.
    let mut seen = vec![0u64; KEYS as usize];
    for i in 0..KEYS as usize {
        let acked = shared.keys[i].acked.load(SeqCst);
        let got = shared.db.get(key_of(i as u64)).unwrap();
        check_read(&shared, i, acked, got.as_deref(), &mut seen);
        match got {
            Some(v) => assert_eq!(decode(key_of(i as u64), &v), acked >> 1),
            None => assert_eq!(acked & 1, 1),
        }
    }
    stats
}

#[test]
fn readers_never_see_stale_or_foreign_values_with_tiny_cache_and_hot_tier() {
    let s = hammer(tiny_tiers());
    assert!(
        s.hot_tier.recycled > 0 && s.hot_tier.demoted > 0,
        "{:?}",
        s.hot_tier
    );
    assert!(s.cache.inserts > 0, "{:?}", s.cache);
    // Growth keys kept arriving beside the checked keys: their nodes grew (split) while read.
    assert!(
        s.keys > 20_000 && s.index.data_nodes > 1,
        "the index did not grow: {} keys, {:?}",
        s.keys,
        s.index
    );
}

#[test]
fn stale_cache_fill_is_never_served_with_cache_only() {
    // No hot tier: every read goes through the cache and its fill protocol.
    let s = hammer(tiny_tiers().hot_tier_bytes(0));
    assert!(
        s.cache.inserts > 0 && s.cache.rejected_fills > 0,
        "{:?}",
        s.cache
    );
}

#[test]
fn read_promotion_never_resurrects_a_replaced_value() {
    let s = hammer(tiny_tiers().promote_reads_to_hot(true));
    assert!(s.hot_tier.appends > 0, "{:?}", s.hot_tier);
}

#[test]
fn tiers_off_is_consistent_under_concurrency() {
    hammer(
        tiny_tiers()
            .hot_tier_bytes(0)
            .value_cache_bytes(0)
            .value_cache_entries(0),
    );
}

#[test]
fn limited_scans_from_the_hot_tier_race_writers_without_stale_or_missing_pairs() {
    // A hot tier that holds every checked key (the filler keys of large batches still recycle
    // it), and no point readers: every hot-tier hit is a scan's, so the hit count shows that
    // scans took their values from the tier, not only from RocksDB iterators.
    let opts = tiny_tiers()
        .hot_tier_bytes(4 * (256 << 10))
        .hot_segment_bytes(256 << 10);
    let s = hammer_with(
        opts,
        Threads {
            readers: 0,
            scanners: 1,
            limited_scanners: 2,
        },
    );
    assert!(s.hot_tier.hits > 0, "{:?}", s.hot_tier);
    assert!(s.hot_tier.recycled > 0, "{:?}", s.hot_tier);
}

#[test]
fn limited_scans_from_rocksdb_race_writers_without_stale_or_missing_pairs() {
    // No hot tier: every chunk is served by a RocksDB iterator.
    let s = hammer_with(
        tiny_tiers().hot_tier_bytes(0),
        Threads {
            readers: 0,
            scanners: 1,
            limited_scanners: 2,
        },
    );
    assert_eq!(s.hot_tier.hits, 0);
}

#[test]
fn synced_writers_sharing_commits_race_readers_without_stale_values() {
    // `sync_writes` sends every commit through the group commit queue: two writers share
    // RocksDB writes while readers and scanners check every value.
    let s = hammer(tiny_tiers().sync_writes(true));
    assert!(s.ops.sync_groups > 0, "{:?}", s.ops);
    assert!(
        s.ops.sync_grouped_writes >= s.ops.sync_groups,
        "{:?}",
        s.ops
    );
}

/// Two threads write the same keys (puts, deletes and overlapping batches) for a while; then
/// every key must read, through the index and the hot tier, exactly what RocksDB holds. If two
/// writes of one key overlapped and updated the index in the other order than they committed,
/// the index would keep the older value's location while RocksDB holds the newer value.
fn writers_of_shared_keys_leave_the_index_agreeing_with_rocksdb(opts: Options) {
    const SHARED_KEYS: u64 = 48;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for w in 0..3u64 {
            let (db, stop) = (&db, &stop);
            s.spawn(move || {
                let mut rng = Rng::new(77 + w);
                let mut n = 0u64;
                while !stop.load(SeqCst) {
                    n += 1;
                    let key = rng.below(SHARED_KEYS);
                    let version = (n << 8) | w;
                    match rng.below(10) {
                        0 => db.delete(key).unwrap(),
                        1..=2 => {
                            let mut batch = WriteBatch::new();
                            for j in 0..1 + rng.below(8) {
                                batch.put((key + j) % SHARED_KEYS, value(key, version));
                            }
                            if rng.below(3) == 0 {
                                batch.delete((key + 3) % SHARED_KEYS);
                            }
                            db.write(batch).unwrap();
                        }
                        _ => db.put(key, &value(key, version)).unwrap(),
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(800));
        stop.store(true, SeqCst);
    });
    let served: Vec<Option<Vec<u8>>> = (0..SHARED_KEYS).map(|k| db.get(k).unwrap()).collect();
    let stats = db.stats();
    assert!(stats.ops.puts > 100, "{:?}", stats.ops);
    drop(db);
    // RocksDB alone: no hot tier, no cache, index rebuilt from the snapshot or a scan.
    let truth = Db::open(
        dir.path(),
        opts.hot_tier_bytes(0)
            .value_cache_bytes(0)
            .value_cache_entries(0),
    )
    .unwrap();
    for (k, got) in served.iter().enumerate() {
        assert_eq!(
            got.as_deref(),
            truth.get(k as u64).unwrap().as_deref(),
            "key {k}: the engine served a value other than RocksDB's"
        );
    }
}

#[test]
fn writers_of_shared_keys_leave_the_index_agreeing_with_rocksdb_with_tiny_tiers() {
    writers_of_shared_keys_leave_the_index_agreeing_with_rocksdb(tiny_tiers());
}

#[test]
fn synced_writers_of_shared_keys_leave_the_index_agreeing_with_rocksdb() {
    writers_of_shared_keys_leave_the_index_agreeing_with_rocksdb(tiny_tiers().sync_writes(true));
}

#[test]
fn db_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Db>();
    assert_send_sync::<Arc<Db>>();
}
