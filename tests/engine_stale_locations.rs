//! A Hot location the index trusts must name exactly the record its key was written to (issue
//! 20): changing the tiers' options between sessions (hot tier off and on, other segment sizes
//! and counts, value cache off, read promotion, key filters) must never make a read return
//! another key's bytes.
//!
//! The values written here imitate hot-tier record headers of live keys (`key u64 LE, len u64
//! LE` repeated), so a stale location that lands on one finds "its" key and length there: the
//! coincidence a real workload of little-endian counters or ids makes easy.
//!
//! `ALEXKV_STALE_SESSIONS=<n>` runs the randomized check for `n` sessions per seed (long mode);
//! `ALEXKV_STALE_SEEDS=<n>` for `n` seeds.

mod common;

use alexkv::{Db, Options};
use common::{small, Rng};
use std::collections::BTreeMap;

/// `[key LE, len LE]` repeated to `total` bytes (truncated): looks like a record header of
/// `key` with a `len`-byte value at every 16-byte step.
fn header_lookalike(key: u64, len: u64, total: usize) -> Vec<u8> {
    let unit: Vec<u8> = key
        .to_le_bytes()
        .into_iter()
        .chain(len.to_le_bytes())
        .collect();
    unit.iter().copied().cycle().take(total).collect()
}

/// The sequence of the issue, step by step: key 5 is Hot at close, the tier is turned off for
/// a session that writes (so the snapshot is rewritten), then on again, and a value that imitates
/// key 5's record header lands where key 5's record used to be.
#[test]
fn a_location_from_before_the_tier_was_recreated_is_never_read() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        db.put(100, &[0; 32]).unwrap();
        db.put(5, &[7; 8]).unwrap();
        db.close().unwrap();
    }
    {
        let db = Db::open(dir.path(), Options::default().hot_tier_bytes(0)).unwrap();
        let open = db.stats().open;
        assert!(open.index_from_snapshot);
        assert_eq!(open.stale_hot_locations, 2, "keys 100 and 5 were Hot");
        assert_eq!(db.get(5).unwrap().as_deref(), Some(&[7u8; 8][..]));
        db.put(1_000_000, b"x").unwrap();
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.put(2, &header_lookalike(5, 8, 128)).unwrap();
    assert_eq!(db.get(5).unwrap().as_deref(), Some(&[7u8; 8][..]));
    assert_eq!(
        db.get_with(5, |v| v.to_vec()).unwrap().as_deref(),
        Some(&[7u8; 8][..])
    );
    assert_eq!(db.multi_get(&[5]).unwrap(), vec![Some(vec![7u8; 8])]);
    let scanned: Vec<(u64, Vec<u8>)> = db.scan(5..=5, 10).collect::<Result<_, _>>().unwrap();
    assert_eq!(scanned, vec![(5, vec![7u8; 8])]);
}

/// A session that only reads keeps the snapshot it opened from, even when read promotion makes
/// it re-create and fill the tier: here the tier is off for one read-only session (its segment
/// files are deleted, the snapshot kept), then on with promotion for another (segment 0 is
/// created again and filled in another order), then on again. Promoted records hold the keys'
/// current values, so the old snapshot's locations may find them or go Cold, never another value;
/// the last session then writes values imitating the old records' headers.
#[test]
fn a_session_that_only_promotes_reads_leaves_no_stale_location_behind() {
    let dir = tempfile::tempdir().unwrap();
    let tier = || {
        small()
            .hot_tier_bytes(2 * 8192)
            .hot_segment_bytes(8192)
            .value_cache_bytes(0)
            .value_cache_entries(0)
    };
    let expect = |db: &Db, at: &str| {
        for k in 0..40u64 {
            assert_eq!(
                db.get(k).unwrap().as_deref(),
                Some(&[k as u8; 24][..]),
                "{at}: key {k}"
            );
        }
    };
    {
        let db = Db::open(dir.path(), tier()).unwrap();
        for k in 0..40u64 {
            db.put(k, &[k as u8; 24]).unwrap();
        }
        db.close().unwrap();
    }
    {
        let db = Db::open(dir.path(), tier().hot_tier_bytes(0)).unwrap();
        expect(&db, "tier off");
        db.close().unwrap();
    }
    {
        let db = Db::open(dir.path(), tier().promote_reads_to_hot(true)).unwrap();
        assert!(
            db.stats().open.index_from_snapshot,
            "a read-only session kept the snapshot"
        );
        for k in (0..40u64).rev() {
            assert_eq!(db.get(k).unwrap().as_deref(), Some(&[k as u8; 24][..]));
        }
        assert!(db.stats().hot_tier.appends > 0, "reads were promoted");
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), tier()).unwrap();
    expect(&db, "after the promoting session");
    for k in 0..40u64 {
        db.put(1000 + k, &header_lookalike(k, 24, 256)).unwrap();
    }
    expect(&db, "after lookalike writes");
}

/// One session's tier options, drawn at random: the hot tier off or on with several segment
/// sizes and counts, the value cache off or tiny, read promotion and key filters on or off.
fn session_options(rng: &mut Rng) -> (Options, String) {
    let segment = [4096usize, 8192, 16384][rng.below(3) as usize];
    let count = 2 + rng.below(3) as usize;
    let hot_off = rng.chance(0.25);
    let cache_off = rng.chance(0.5);
    let promote = rng.chance(0.5);
    let filter = rng.chance(0.5);
    let mut o = small()
        .hot_segment_bytes(segment)
        .hot_tier_bytes(if hot_off { 0 } else { segment * count })
        .promote_reads_to_hot(promote && !hot_off)
        .index_key_filter(filter);
    o = if cache_off {
        o.value_cache_bytes(0).value_cache_entries(0)
    } else {
        o.value_cache_bytes(4096)
            .value_cache_entries(16)
            .value_cache_shards(2)
    };
    let label = format!(
        "hot {}, segment {segment}, count {count}, cache {}, promote {promote}, filter {filter}",
        if hot_off { "off" } else { "on" },
        if cache_off { "off" } else { "tiny" },
    );
    (o, label)
}

/// A value for `key`: usually a lookalike of another live key's record header (with that key's
/// current value length), sometimes plain bytes naming `key` and `version`.
fn next_value(rng: &mut Rng, key: u64, version: u64, model: &BTreeMap<u64, Vec<u8>>) -> Vec<u8> {
    let len = [8usize, 16, 24, 40, 64, 128][rng.below(6) as usize];
    if !model.is_empty() && rng.chance(0.7) {
        let nth = rng.below(model.len() as u64) as usize;
        let (&other, v) = model.iter().nth(nth).expect("in range");
        return header_lookalike(other, v.len() as u64, len);
    }
    let mut v: Vec<u8> = key
        .to_le_bytes()
        .into_iter()
        .chain(version.to_le_bytes())
        .collect();
    v.resize(len, key as u8 ^ version as u8);
    v
}

/// Checks every key of the model (and a few absent ones) with every read path, `len`, and a
/// full range.
fn check_all(db: &Db, model: &BTreeMap<u64, Vec<u8>>, ctx: &str) {
    assert_eq!(db.len(), model.len() as u64, "{ctx}: len");
    for (&k, v) in model {
        assert_eq!(db.get(k).unwrap().as_ref(), Some(v), "{ctx}: get({k})");
    }
    let keys: Vec<u64> = model.keys().copied().chain([KEYS, KEYS + 1]).collect();
    let want: Vec<Option<Vec<u8>>> = keys.iter().map(|k| model.get(k).cloned()).collect();
    assert_eq!(db.multi_get(&keys).unwrap(), want, "{ctx}: multi_get");
    for (&k, v) in model {
        assert_eq!(
            db.get_with(k, |b| b.to_vec()).unwrap().as_ref(),
            Some(v),
            "{ctx}: get_with({k})"
        );
    }
    let all: Vec<(u64, Vec<u8>)> = db.range(0u64..).collect::<Result<_, _>>().unwrap();
    let want: Vec<(u64, Vec<u8>)> = model.iter().map(|(&k, v)| (k, v.clone())).collect();
    assert_eq!(all, want, "{ctx}: range(..)");
}

/// Keys are drawn from `0..KEYS`, so records of one key recur at many places.
const KEYS: u64 = 64;

fn run_sessions(seed: u64, sessions: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(seed);
    let mut model: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut version = 0u64;
    for session in 0..sessions {
        let (opts, label) = session_options(&mut rng);
        let ctx = format!("seed {seed}, session {session} ({label})");
        let db = Db::open(dir.path(), opts).unwrap();
        check_all(&db, &model, &format!("{ctx}, after open"));
        // Some sessions only read (promotions still change the tier), the others write too.
        let writes = if rng.chance(0.3) { 0 } else { rng.below(150) };
        for _ in 0..writes {
            let key = rng.below(KEYS);
            version += 1;
            if rng.chance(0.15) {
                db.delete(key).unwrap();
                model.remove(&key);
            } else {
                let v = next_value(&mut rng, key, version, &model);
                db.put(key, &v).unwrap();
                model.insert(key, v);
            }
            if rng.chance(0.2) {
                let k = rng.below(KEYS);
                assert_eq!(
                    db.get(k).unwrap(),
                    model.get(&k).cloned(),
                    "{ctx}: get({k})"
                );
            }
        }
        check_all(&db, &model, &format!("{ctx}, before close"));
        db.close().unwrap();
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
fn reopening_with_changing_tier_options_never_returns_another_keys_value() {
    // About half a minute on a 2-core machine; the environment variables make it longer.
    let sessions = env_or("ALEXKV_STALE_SESSIONS", 200);
    let seeds = env_or("ALEXKV_STALE_SEEDS", 24) as u64;
    for seed in 0..seeds {
        run_sessions(0x5EED_0000 + seed, sessions);
    }
}

/// `get_with` hands its closure the value where it lies in the hot tier (no copy), the segment
/// pinned meanwhile. A closure that itself writes enough to wrap the tier's ring many times
/// must neither deadlock nor see its bytes change: the writes that need the pinned segment keep
/// their values in RocksDB only, and every write reads back afterwards.
#[test]
fn a_get_with_closure_that_wraps_the_hot_tier_sees_its_value_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        common::tiny_tiers()
            .value_cache_bytes(0)
            .value_cache_entries(0),
    )
    .unwrap();
    db.put(1, &[0xAB; 200]).unwrap();
    let mut model: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let seen = db
        .get_with(1, |v| {
            let before = v.to_vec();
            // 3 segments of 8 KiB: 400 writes of ~100 bytes come round to key 1's segment (the
            // appends that need it are then declined).
            for k in 2..402u64 {
                let value = header_lookalike(k, 100, 100);
                db.put(k, &value).unwrap();
                model.insert(k, value);
                // Reads nested in the closure (no second pin on this thread) copy instead.
                assert_eq!(
                    db.get_with(k, |w| w.to_vec()).unwrap(),
                    model.get(&k).cloned()
                );
            }
            (before, v.to_vec())
        })
        .unwrap()
        .expect("key 1 is present");
    assert_eq!(seen.0, vec![0xAB; 200]);
    assert_eq!(
        seen.1,
        vec![0xAB; 200],
        "the value changed under the closure"
    );
    assert!(db.stats().hot_tier.declined_pinned > 0);
    for (k, v) in &model {
        assert_eq!(db.get(*k).unwrap().as_ref(), Some(v), "key {k}");
        assert_eq!(db.get_with(*k, |w| w.to_vec()).unwrap().as_ref(), Some(v));
    }
    assert_eq!(db.get(1).unwrap(), Some(vec![0xAB; 200]));
    // The pin is gone: writes go to the tier again.
    let before = db.stats().hot_tier.appends;
    db.put(5000, b"after").unwrap();
    assert_eq!(db.stats().hot_tier.appends, before + 1);
}

/// A lost tail of one segment (zeros from a record boundary on, which verification reads as
/// the end of the records, as after an OS crash that dropped dirty pages) makes the locations
/// into it stale while the segment keeps its identity. The index is bulk-loaded from the
/// snapshot's locations beside their check, and the few stale ones are demoted afterwards: the
/// reopen counts exactly them, reads them from RocksDB, and still serves the rest from the tier.
#[test]
fn a_few_stale_locations_are_demoted_after_the_bulk_load() {
    const KEYS: u64 = 2_000;
    const LOST: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let opts = || {
        small()
            .hot_segment_bytes(64 << 10)
            .hot_tier_bytes(8 * (64 << 10))
            .value_cache_bytes(0)
            .value_cache_entries(0)
    };
    let value = |k: u64| format!("{k:0>100}").into_bytes();
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        for k in 0..KEYS {
            db.put(k, &value(k)).unwrap();
        }
        db.close().unwrap();
    }
    // Segment 0 holds the first records, each 8 (head) + 8 (key) + 104 (value) bytes after the
    // 32-byte header; zero its last LOST records and everything after them.
    let seg = dir.path().join("hot-0000.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    let span = 120;
    let mut records = 0;
    while bytes[32 + records * span..32 + records * span + 8] != [0; 8] {
        records += 1;
    }
    assert!(
        records > 8 * LOST,
        "segment 0 is full enough: {records} records"
    );
    bytes[32 + (records - LOST) * span..].fill(0);
    std::fs::write(&seg, bytes).unwrap();

    let db = Db::open(dir.path(), opts()).unwrap();
    let stats = db.stats();
    assert!(stats.open.index_from_snapshot);
    assert_eq!(stats.open.stale_hot_locations, LOST as u64);
    for k in 0..KEYS {
        assert_eq!(db.get(k).unwrap(), Some(value(k)), "key {k}");
    }
    let after = db.stats();
    assert_eq!(
        after.hot_tier.hits,
        KEYS - LOST as u64,
        "every other key is read from the tier"
    );
    assert_eq!(
        after.hot_tier.stale, 0,
        "no read found a stale location: the index had them Cold"
    );
}
