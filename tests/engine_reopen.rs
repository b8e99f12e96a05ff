//! A clean close keeps the hot tier warm: the index snapshot carries each key's location, so
//! after a reopen recent values are served from the tier, not RocksDB, and stay correct.

use alexkv::{Db, Options};

fn value(k: u64, round: u64) -> Vec<u8> {
    format!("value of {k} in round {round}").into_bytes()
}

#[test]
fn reopened_database_serves_recent_values_from_the_hot_tier() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for k in 0..2_000u64 {
            db.put(k * 7, &value(k * 7, 0)).unwrap();
        }
        for k in (0..2_000u64).step_by(3) {
            db.put(k * 7, &value(k * 7, 1)).unwrap();
        }
        db.delete(7).unwrap();
    }
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(db.stats().open.index_from_snapshot);
    for k in 0..2_000u64 {
        let want = if k == 1 {
            None
        } else {
            Some(value(k * 7, if k % 3 == 0 { 1 } else { 0 }))
        };
        assert_eq!(db.get(k * 7).unwrap(), want, "key {}", k * 7);
    }
    let s = db.stats();
    assert!(
        s.hot_tier.hits >= 1_999,
        "hot hits after reopen: {}",
        s.hot_tier.hits
    );
    assert_eq!(s.rocksdb.gets, 0, "no read needed RocksDB");
}

#[test]
fn a_tier_turned_off_between_sessions_falls_back_to_rocksdb() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for k in 0..500u64 {
            db.put(k, &value(k, 0)).unwrap();
        }
    }
    let db = Db::open(dir.path(), Options::default().hot_tier_bytes(0)).unwrap();
    for k in 0..500u64 {
        assert_eq!(db.get(k).unwrap(), Some(value(k, 0)));
    }
    assert_eq!(db.stats().hot_tier.hits, 0);
}
