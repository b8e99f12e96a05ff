//! Model check of the engine: long random sequences of puts, gets, deletes, batches, ranges,
//! limited scans (`scan`, `scan_with`, with bounds, limits and visitors that stop early),
//! multi-gets and bulk ingestions against a `BTreeMap`, closing and reopening the database every
//! few thousand operations, with the value cache and hot tier on, off, and tiny (so recycling,
//! demotion and eviction happen all the time, and scans mix hot-tier and RocksDB chunks). Every
//! read must equal the model.

mod common;

use alexkv::{Db, Error, Options, WriteBatch};
use common::{small, Rng, MAX_VALUE};
use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};

fn tiers_on() -> Options {
    small()
        .value_cache_bytes(1 << 20)
        .value_cache_entries(1 << 14)
        .hot_tier_bytes(4 << 20)
        .hot_segment_bytes(1 << 20)
}

fn tiers_off() -> Options {
    small()
        .value_cache_bytes(0)
        .value_cache_entries(0)
        .hot_tier_bytes(0)
}

fn tiers_tiny() -> Options {
    common::tiny_tiers().promote_reads_to_hot(true)
}

/// A value that names its key and version, of a length drawn by the workload.
fn value(key: u64, version: u64, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = key
        .to_le_bytes()
        .into_iter()
        .chain(version.to_le_bytes())
        .collect();
    v.resize(len, 0);
    for (i, b) in v.iter_mut().enumerate().skip(16) {
        *b = (key as u8) ^ (version as u8).wrapping_mul(31) ^ (i as u8);
    }
    v.truncate(len);
    v
}

/// Folds every read result into a transcript, so two runs can be compared.
struct Transcript(Vec<u64>);

impl Transcript {
    fn record(&mut self, tag: u64, bytes: Option<&[u8]>) {
        let mut h = crc32fast_like(tag);
        match bytes {
            None => h ^= 0xDEAD,
            Some(b) => {
                for &x in b {
                    h = h.wrapping_mul(0x100_0000_01B3) ^ x as u64;
                }
                h ^= b.len() as u64;
            }
        }
        self.0.push(h);
    }
}

fn crc32fast_like(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xCBF2_9CE4_8422_2325
}

struct Workload {
    rng: Rng,
    /// Keys that recur: a dense small range, the extremes, and a pool of random keys.
    pool: Vec<u64>,
    version: u64,
}

impl Workload {
    fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut pool: Vec<u64> = (0..2000).collect();
        pool.extend([u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1]);
        pool.extend((0..500).map(|_| rng.next_u64()));
        Workload {
            rng,
            pool,
            version: 0,
        }
    }

    fn key(&mut self) -> u64 {
        self.pool[self.rng.below(self.pool.len() as u64) as usize]
    }

    fn value_for(&mut self, key: u64) -> Vec<u8> {
        self.version += 1;
        let len = match self.rng.below(10) {
            0 => 0,
            1..=6 => 16 + self.rng.below(100) as usize,
            7 | 8 => 16 + self.rng.below(400) as usize,
            _ => self.rng.below(MAX_VALUE as u64 + 1) as usize,
        };
        value(key, self.version, len)
    }

    /// A scan limit: 0, small, around a chunk size, large, or none.
    fn limit(&mut self) -> usize {
        match self.rng.below(6) {
            0 => 0,
            1 => 1 + self.rng.below(5) as usize,
            2 => 28 + self.rng.below(8) as usize,
            3 => 1 + self.rng.below(300) as usize,
            4 => 1000 + self.rng.below(100) as usize,
            _ => usize::MAX,
        }
    }

    fn bounds(&mut self) -> (Bound<u64>, Bound<u64>) {
        let a = self.key();
        let b = self.key();
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let start = match self.rng.below(3) {
            0 => Bound::Included(lo),
            1 => Bound::Excluded(lo),
            _ => Bound::Unbounded,
        };
        let end = match self.rng.below(3) {
            0 => Bound::Included(hi),
            1 => Bound::Excluded(hi),
            _ => Bound::Unbounded,
        };
        (start, end)
    }
}

fn model_range(
    model: &BTreeMap<u64, Vec<u8>>,
    bounds: (Bound<u64>, Bound<u64>),
) -> Vec<(u64, Vec<u8>)> {
    // BTreeMap::range panics on an empty or inverted range (e.g. (Excluded(x), Excluded(x)));
    // filtering keeps the model honest for every bound combination.
    model
        .iter()
        .filter(|(k, _)| std::ops::RangeBounds::contains(&bounds, *k))
        .map(|(k, v)| (*k, v.clone()))
        .collect()
}

/// Runs `ops` random operations on a database at `dir` opened with `opts`, reopening every few
/// thousand, checking every read against a model. Returns the transcript of reads.
fn run(opts: &Options, seed: u64, ops: usize) -> (Transcript, alexkv::Stats) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut w = Workload::new(seed);
    let mut model: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut t = Transcript(Vec::new());
    let mut db = Db::open(&path, opts.clone()).unwrap();
    let mut next_reopen = 1500 + w.rng.below(2000) as usize;
    let mut last_stats = db.stats();
    for i in 0..ops {
        if i == next_reopen {
            last_stats = db.stats();
            if w.rng.chance(0.5) {
                db.close().unwrap();
            } else {
                drop(db);
            }
            db = Db::open(&path, opts.clone()).unwrap();
            assert!(
                db.stats().open.index_from_snapshot,
                "clean close leaves a usable snapshot"
            );
            check_all(&db, &model, &mut t);
            next_reopen = i + 1500 + w.rng.below(2000) as usize;
        }
        let roll = w.rng.below(1000);
        match roll {
            0..=299 => {
                let k = w.key();
                let v = w.value_for(k);
                db.put(k, &v).unwrap();
                model.insert(k, v);
            }
            300..=399 => {
                let k = w.key();
                db.delete(k).unwrap();
                model.remove(&k);
            }
            400..=479 => {
                let mut batch = WriteBatch::new();
                let mut staged = model.clone();
                for _ in 0..1 + w.rng.below(20) {
                    let k = w.key();
                    if w.rng.chance(0.75) {
                        let v = w.value_for(k);
                        batch.put(k, &v);
                        staged.insert(k, v);
                    } else {
                        batch.delete(k);
                        staged.remove(&k);
                    }
                }
                db.write(batch).unwrap();
                model = staged;
            }
            480..=779 => {
                let k = w.key();
                let got = db.get(k).unwrap();
                assert_eq!(got.as_ref(), model.get(&k), "get({k}) at op {i}");
                t.record(k, got.as_deref());
            }
            780..=819 => {
                let k = w.key();
                let got = db.get_with(k, |v| (v.len(), v.first().copied())).unwrap();
                let want = model.get(&k).map(|v| (v.len(), v.first().copied()));
                assert_eq!(got, want, "get_with({k}) at op {i}");
            }
            820..=859 => {
                let keys: Vec<u64> = (0..1 + w.rng.below(12)).map(|_| w.key()).collect();
                let got = db.multi_get(&keys).unwrap();
                for (k, g) in keys.iter().zip(&got) {
                    assert_eq!(g.as_ref(), model.get(k), "multi_get key {k} at op {i}");
                    t.record(*k, g.as_deref());
                }
            }
            860..=899 => {
                let bounds = w.bounds();
                let got: Vec<(u64, Vec<u8>)> = db.range(bounds).map(|r| r.unwrap()).collect();
                let want = model_range(&model, bounds);
                assert_eq!(got.len(), want.len(), "range {bounds:?} length at op {i}");
                assert!(got == want, "range {bounds:?} contents at op {i}");
                t.record(got.len() as u64, None);
            }
            900..=904 => {
                // A short scan that stops early.
                let bounds = w.bounds();
                let n = 1 + w.rng.below(5) as usize;
                let got: Vec<(u64, Vec<u8>)> =
                    db.range(bounds).take(n).map(|r| r.unwrap()).collect();
                let want: Vec<_> = model_range(&model, bounds).into_iter().take(n).collect();
                assert!(got == want, "range {bounds:?}.take({n}) at op {i}");
            }
            905..=911 => {
                // A scan with a limit: exactly the first `limit` pairs of the range.
                let bounds = w.bounds();
                let limit = w.limit();
                let got: Vec<(u64, Vec<u8>)> = db.scan(bounds, limit).map(|r| r.unwrap()).collect();
                let want: Vec<_> = model_range(&model, bounds)
                    .into_iter()
                    .take(limit)
                    .collect();
                assert!(got == want, "scan({bounds:?}, {limit}) at op {i}");
                t.record(got.len() as u64, got.last().map(|(_, v)| &v[..]));
            }
            912..=919 => {
                // The borrowing visitor with a limit, sometimes stopped by the visitor.
                let bounds = w.bounds();
                let limit = w.limit();
                let stop_at = w.rng.chance(0.3).then(|| 1 + w.rng.below(40) as usize);
                let mut got: Vec<(u64, Vec<u8>)> = Vec::new();
                let n = db
                    .scan_with(bounds, limit, |k, v| {
                        got.push((u64::from_be_bytes(k.try_into().unwrap()), v.to_vec()));
                        if Some(got.len()) == stop_at {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        }
                    })
                    .unwrap();
                let want: Vec<_> = model_range(&model, bounds)
                    .into_iter()
                    .take(limit.min(stop_at.unwrap_or(usize::MAX)))
                    .collect();
                assert_eq!(n, got.len(), "scan_with count at op {i}");
                assert!(
                    got == want,
                    "scan_with({bounds:?}, {limit}) stopping at {stop_at:?}, op {i}"
                );
                t.record(n as u64, got.first().map(|(_, v)| &v[..]));
            }
            920..=959 => {
                let k = w.key();
                assert_eq!(db.contains(k), model.contains_key(&k), "contains({k})");
                assert_eq!(db.len(), model.len() as u64, "len at op {i}");
            }
            960..=974 => {
                let first = db.first().unwrap();
                let last = db.last().unwrap();
                assert_eq!(first, model.iter().next().map(|(k, v)| (*k, v.clone())));
                assert_eq!(last, model.iter().next_back().map(|(k, v)| (*k, v.clone())));
            }
            975..=984 => {
                // Bulk ingestion of a sorted run, overwriting some existing keys.
                let mut keys: Vec<u64> = (0..1 + w.rng.below(300)).map(|_| w.key()).collect();
                keys.sort_unstable();
                keys.dedup();
                let pairs: Vec<(u64, Vec<u8>)> =
                    keys.iter().map(|&k| (k, w.value_for(k))).collect();
                let n = db
                    .ingest_sorted(pairs.iter().map(|(k, v)| (*k, v)))
                    .unwrap();
                assert_eq!(n, pairs.len() as u64);
                model.extend(pairs);
            }
            985..=989 => {
                // Oversized values are refused and change nothing.
                let k = w.key();
                let big = vec![7u8; MAX_VALUE + 1];
                assert!(matches!(db.put(k, &big), Err(Error::ValueTooLarge { .. })));
                let mut batch = WriteBatch::new();
                batch.put(k ^ 1, b"small");
                batch.put(k, &big);
                assert!(matches!(db.write(batch), Err(Error::ValueTooLarge { .. })));
                assert_eq!(db.get(k).unwrap().as_ref(), model.get(&k));
                assert_eq!(db.get(k ^ 1).unwrap().as_ref(), model.get(&(k ^ 1)));
            }
            990..=994 => db.flush().unwrap(),
            995 => db.compact().unwrap(),
            996 => {
                // A large batch: often past the whole-cache announcement threshold (4096 keys)
                // and replayed into the index in several chunks; with tiny tiers the batch
                // recycles segments holding its own earlier records.
                let n = 1000 + w.rng.below(5000);
                let mut batch = WriteBatch::new();
                let mut staged = model.clone();
                for j in 0..n {
                    // Mostly distinct keys: the dense range plus fresh keys above it.
                    let k = if j % 3 == 0 {
                        w.key()
                    } else {
                        1_000_000 + w.rng.below(5_000)
                    };
                    if w.rng.chance(0.9) {
                        let v = w.value_for(k);
                        batch.put(k, &v);
                        staged.insert(k, v);
                    } else {
                        batch.delete(k);
                        staged.remove(&k);
                    }
                }
                db.write(batch).unwrap();
                model = staged;
            }
            _ => {
                // Several writes to one key in one batch: the last one wins.
                let k = w.key();
                let mut batch = WriteBatch::new();
                let v1 = w.value_for(k);
                let v2 = w.value_for(k);
                batch.put(k, &v1);
                batch.delete(k);
                batch.put(k, &v2);
                db.write(batch).unwrap();
                model.insert(k, v2);
            }
        }
    }
    check_all(&db, &model, &mut t);
    let stats = db.stats();
    assert_eq!(stats.keys, model.len() as u64);
    let _ = last_stats;
    (t, stats)
}

/// Every key of the model and every key of the database agree.
fn check_all(db: &Db, model: &BTreeMap<u64, Vec<u8>>, t: &mut Transcript) {
    assert_eq!(db.len(), model.len() as u64);
    let all: Vec<(u64, Vec<u8>)> = db.range(0u64..).map(|r| r.unwrap()).collect();
    assert!(
        all.iter().map(|(k, _)| *k).eq(model.keys().copied()),
        "full scan keys differ from the model"
    );
    for ((k, v), (mk, mv)) in all.iter().zip(model) {
        assert_eq!((k, v), (mk, mv));
        assert_eq!(db.get(*k).unwrap().as_ref(), Some(mv));
        t.record(*k, Some(v));
    }
}

#[test]
fn random_operations_match_a_btreemap_with_tiers_on() {
    let (_, stats) = run(&tiers_on(), 1, 20_000);
    assert!(stats.hot_tier.hits > 0, "the hot tier served reads");
}

#[test]
fn random_operations_match_a_btreemap_with_tiers_off() {
    let (_, stats) = run(&tiers_off(), 2, 20_000);
    assert!(!stats.hot_tier.enabled && !stats.cache.enabled);
}

#[test]
fn random_operations_match_a_btreemap_with_tiny_tiers_that_recycle_and_evict() {
    let (_, stats) = run(&tiers_tiny(), 3, 20_000);
    assert!(
        stats.hot_tier.recycled > 10,
        "segments recycled: {:?}",
        stats.hot_tier
    );
    assert!(stats.hot_tier.demoted > 0, "{:?}", stats.hot_tier);
    assert!(
        stats.cache.evictions > 0,
        "cache evicted: {:?}",
        stats.cache
    );
}

#[test]
fn tiers_on_and_off_give_identical_results() {
    let (on, _) = run(&tiers_on(), 77, 8_000);
    let (tiny, _) = run(&tiers_tiny(), 77, 8_000);
    let (off, _) = run(&tiers_off(), 77, 8_000);
    assert_eq!(on.0.len(), off.0.len());
    assert!(on.0 == off.0, "tiers on and off disagree");
    assert!(tiny.0 == off.0, "tiny tiers and no tiers disagree");
}

#[test]
fn the_index_key_filter_on_and_off_give_identical_results() {
    let (on, on_stats) = run(&tiers_on().index_key_filter(true), 78, 8_000);
    let (off, off_stats) = run(&tiers_on().index_key_filter(false), 78, 8_000);
    assert_eq!(on.0.len(), off.0.len());
    assert!(on.0 == off.0, "the key filter on and off disagree");
    // The option took effect: the filters are index memory.
    assert!(
        on_stats.index.bytes > off_stats.index.bytes,
        "index bytes with filters {} vs without {}",
        on_stats.index.bytes,
        off_stats.index.bytes
    );
}

#[test]
fn reopen_after_clean_close_keeps_every_write_and_uses_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = BTreeMap::new();
    {
        let db = Db::open(dir.path(), tiers_on()).unwrap();
        assert!(
            !db.stats().open.index_from_snapshot,
            "a new database has no snapshot"
        );
        for k in 0..3000u64 {
            let v = value(k, 1, (k % 200) as usize);
            db.put(k * 7, &v).unwrap();
            model.insert(k * 7, v);
        }
        for k in (0..3000u64).step_by(3) {
            db.delete(k * 7).unwrap();
            model.remove(&(k * 7));
        }
    }
    // Read-only session: keeps the snapshot it was opened from.
    for _ in 0..2 {
        let db = Db::open(dir.path(), tiers_on()).unwrap();
        assert!(db.stats().open.index_from_snapshot);
        assert_eq!(db.len(), model.len() as u64);
        let all: Vec<_> = db.range(0u64..).map(|r| r.unwrap()).collect();
        assert!(all.into_iter().eq(model.clone()));
    }
    // A session that writes replaces it; the next open trusts the new one.
    {
        let db = Db::open(dir.path(), tiers_tiny()).unwrap();
        db.put(1, b"new").unwrap();
        model.insert(1, b"new".to_vec());
    }
    let db = Db::open(dir.path(), tiers_off()).unwrap();
    let s = db.stats();
    assert!(s.open.index_from_snapshot, "{:?}", s.open);
    assert_eq!(db.len(), model.len() as u64);
    assert_eq!(db.get(1).unwrap(), Some(b"new".to_vec()));
}

#[test]
fn i64_keys_keep_signed_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), tiers_on()).unwrap();
    let keys = [i64::MIN, -100, -1, 0, 1, 100, i64::MAX];
    for &k in keys.iter().rev() {
        db.put_i64(k, &k.to_le_bytes()).unwrap();
    }
    let order: Vec<i64> = db
        .range(0u64..)
        .map(|r| alexkv::alex::key_to_i64(r.unwrap().0))
        .collect();
    assert_eq!(order, keys);
    assert_eq!(
        db.get_i64(-100).unwrap(),
        Some((-100i64).to_le_bytes().to_vec())
    );
    assert!(db.contains_i64(i64::MIN));
    db.delete_i64(i64::MIN).unwrap();
    assert!(!db.contains_i64(i64::MIN));
}
