use super::*;
use crate::options::{CompactionStyle, Compression};

/// Small memtables and caches so tests stay light.
fn opts() -> Options {
    Options::default()
        .write_buffer_size(1 << 20)
        .block_cache_bytes(1 << 20)
}

/// The `u64` key of 8 stored bytes.
fn n(k: &[u8]) -> u64 {
    u64::from_be_bytes(k.try_into().unwrap())
}

/// The span of a range of `u64` keys.
fn span(r: (Bound<u64>, Bound<u64>)) -> Span {
    let (lo, hi) = (r.0.map(u64::to_be_bytes), r.1.map(u64::to_be_bytes));
    Span::new(lo.as_ref().map(|k| &k[..]), hi.as_ref().map(|k| &k[..]))
}

fn open_new() -> (tempfile::TempDir, RocksStore) {
    let dir = tempfile::tempdir().unwrap();
    let db = RocksStore::open(&dir.path().join("db"), &opts()).unwrap();
    (dir, db)
}

#[test]
fn put_get_delete_round_trip_at_the_key_extremes() {
    let (_d, db) = open_new();
    for k in [0, 1, u64::MAX] {
        assert_eq!(db.get(k).unwrap(), None);
        db.put(k, &k.to_le_bytes()).unwrap();
        assert_eq!(db.get(k).unwrap(), Some(k.to_le_bytes().to_vec()));
    }
    db.put(5, b"").unwrap();
    assert_eq!(
        db.get(5).unwrap(),
        Some(vec![]),
        "empty value is not absence"
    );
    db.delete(0).unwrap();
    assert_eq!(db.get(0).unwrap(), None);
    assert_eq!(
        db.get_pinned(&1u64.to_be_bytes(), true, |v| v.len())
            .unwrap(),
        Some(8)
    );
    let s = db.stats();
    assert_eq!(s.writes, 5);
    assert!(s.gets >= 8 && s.bytes_written > 0);
}

#[test]
fn scans_are_in_numeric_key_order() {
    let (_d, db) = open_new();
    let keys = [u64::MAX, 256, 0, 1, 255, 1 << 40];
    for k in keys {
        db.put(k, &k.to_be_bytes()).unwrap();
    }
    let mut sorted = keys.to_vec();
    sorted.sort();
    let scanned: Vec<u64> = db.iter_from(0).map(|r| n(&r.unwrap().0)).collect();
    assert_eq!(scanned, sorted);
    let pairs: Vec<_> = db
        .iter_range(&span((Bound::Unbounded, Bound::Unbounded)))
        .map(|r| r.unwrap())
        .collect();
    assert!(pairs.iter().all(|(k, v)| v == k));
    let keys_only: Vec<u64> = db.bulk_scan().keys().map(|r| n(&r.unwrap())).collect();
    assert_eq!(keys_only, sorted);
}

#[test]
fn range_bounds_are_respected() {
    let (_d, db) = open_new();
    for k in (0..20).chain([u64::MAX - 1, u64::MAX]) {
        db.put(k, b"v").unwrap();
    }
    let keys = |r: (Bound<u64>, Bound<u64>)| -> Vec<u64> {
        db.iter_range(&span(r)).map(|x| n(&x.unwrap().0)).collect()
    };
    use Bound::*;
    assert_eq!(keys((Included(3), Excluded(6))), vec![3, 4, 5]);
    assert_eq!(keys((Excluded(3), Included(6))), vec![4, 5, 6]);
    assert_eq!(keys((Included(18), Included(19))), vec![18, 19]);
    assert_eq!(
        keys((Included(u64::MAX - 1), Unbounded)),
        vec![u64::MAX - 1, u64::MAX]
    );
    assert_eq!(
        keys((Included(u64::MAX), Included(u64::MAX))),
        vec![u64::MAX]
    );
    assert_eq!(keys((Excluded(u64::MAX), Unbounded)), Vec::<u64>::new());
    assert_eq!(keys((Included(5), Excluded(5))), Vec::<u64>::new());
    assert_eq!(keys((Included(6), Included(5))), Vec::<u64>::new());
    assert_eq!(keys((Unbounded, Excluded(2))), vec![0, 1]);
    assert_eq!(keys((Included(20), Excluded(u64::MAX))), vec![u64::MAX - 1]);
}

#[test]
fn batch_is_atomic_and_last_operation_wins() {
    let (_d, db) = open_new();
    db.put(1, b"old").unwrap();
    let mut b = WriteBatch::new();
    b.put(1, b"a");
    b.delete(1);
    b.put(2, b"b");
    b.put(2, b"bb");
    b.put(3, b"c");
    db.write(&b).unwrap();
    assert_eq!(db.get(1).unwrap(), None);
    assert_eq!(
        db.multi_get(
            &[
                &2u64.to_be_bytes()[..],
                &3u64.to_be_bytes(),
                &4u64.to_be_bytes()
            ],
            false
        )
        .unwrap(),
        vec![Some(b"bb".to_vec()), Some(b"c".to_vec()), None]
    );
}

#[test]
fn oversized_value_refuses_the_whole_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = RocksStore::open(dir.path(), &opts().max_value_bytes(4)).unwrap();
    let mut b = WriteBatch::new();
    b.put(1, b"ok");
    b.put(2, b"too long");
    match db.write(&b) {
        Err(Error::ValueTooLarge { key, len, limit }) => {
            assert_eq!((key, len, limit), (2u64.to_be_bytes().to_vec(), 8, 4))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(db.get(1).unwrap(), None, "nothing of the batch was written");
    assert!(matches!(
        db.put(3, b"12345"),
        Err(Error::ValueTooLarge { .. })
    ));
    assert!(matches!(
        db.ingest_sorted([(1u64, b"12345")]),
        Err(Error::ValueTooLarge { .. })
    ));
}

#[test]
fn reopen_keeps_data_and_sequence_grows() {
    let dir = tempfile::tempdir().unwrap();
    let seq = {
        let db = RocksStore::open(dir.path(), &opts()).unwrap();
        let s0 = db.latest_sequence_number();
        db.put(7, b"seven").unwrap();
        assert!(db.latest_sequence_number() > s0);
        db.latest_sequence_number()
    };
    let db = RocksStore::open(dir.path(), &opts().create_if_missing(false)).unwrap();
    assert_eq!(db.get(7).unwrap(), Some(b"seven".to_vec()));
    assert_eq!(db.latest_sequence_number(), seq);
    assert_eq!(
        fs::read_to_string(dir.path().join(IDENTITY_FILE)).unwrap(),
        IDENTITY_CONTENT
    );
}

#[test]
fn second_handle_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let _db = RocksStore::open(dir.path(), &opts()).unwrap();
    match RocksStore::open(dir.path(), &opts()) {
        Err(Error::Locked { path }) => assert_eq!(path, dir.path()),
        other => panic!("expected Locked, got {:?}", other.err()),
    }
}

#[test]
fn foreign_paths_are_refused_with_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A file.
    let file = dir.path().join("file");
    fs::write(&file, b"x").unwrap();
    assert!(matches!(
        RocksStore::open(&file, &opts()),
        Err(Error::NotADirectory { .. })
    ));
    // Another program's directory: left untouched.
    let other = dir.path().join("other");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("notes.txt"), b"mine").unwrap();
    assert!(matches!(
        RocksStore::open(&other, &opts()),
        Err(Error::NotADatabase { .. })
    ));
    assert_eq!(list_names(&other).unwrap(), vec!["notes.txt"]);
    // A plain RocksDB database.
    let plain = dir.path().join("plain");
    {
        let mut o = rocksdb::Options::default();
        o.create_if_missing(true);
        DB::open(&o, &plain).unwrap();
    }
    match RocksStore::open(&plain, &opts()) {
        Err(Error::NotADatabase { detail, .. }) => assert!(detail.contains("RocksDB"), "{detail}"),
        other => panic!("{:?}", other.err()),
    }
    // A future format.
    let future = dir.path().join("future");
    fs::create_dir(&future).unwrap();
    fs::write(future.join(IDENTITY_FILE), "alexkv database\nformat 2\n").unwrap();
    match RocksStore::open(&future, &opts()) {
        Err(Error::NotADatabase { detail, .. }) => assert!(detail.contains("format"), "{detail}"),
        other => panic!("{:?}", other.err()),
    }
    // Missing without create_if_missing.
    let missing = dir.path().join("missing");
    match RocksStore::open(&missing, &opts().create_if_missing(false)) {
        Err(Error::Io { source, .. }) => assert_eq!(source.kind(), std::io::ErrorKind::NotFound),
        other => panic!("{:?}", other.err()),
    }
    assert!(!missing.exists());
}

#[test]
fn identity_without_rocksdb_is_a_creation_interrupted_by_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(IDENTITY_FILE), IDENTITY_CONTENT).unwrap();
    let db = RocksStore::open(dir.path(), &opts()).unwrap();
    db.put(1, b"x").unwrap();
}

#[test]
fn ingest_loads_sorted_pairs_and_overrides_existing_keys() {
    let (_d, db) = open_new();
    db.put(10, b"old").unwrap();
    let n = db
        .ingest_sorted((0..1000u64).map(|k| (k * 2, k.to_le_bytes())))
        .unwrap();
    assert_eq!(n, 1000);
    assert_eq!(db.get(10).unwrap(), Some(5u64.to_le_bytes().to_vec()));
    assert_eq!(db.get(11).unwrap(), None);
    assert_eq!(db.iter_from(0).count(), 1000);
    assert_eq!(db.stats().ingested_keys, 1000);
    assert_eq!(
        db.ingest_sorted(std::iter::empty::<(u64, &[u8])>())
            .unwrap(),
        0
    );
    let leftovers = list_names(db.path()).unwrap();
    assert!(
        !leftovers.iter().any(|n| n.starts_with(INGEST_PREFIX)),
        "{leftovers:?}"
    );
}

#[test]
fn unsorted_ingest_is_refused_and_leaves_nothing() {
    let (_d, db) = open_new();
    match db.ingest_sorted([(1u64, b"a"), (3, b"b"), (3, b"c")]) {
        Err(Error::Unsorted { previous, key }) => assert_eq!(
            (previous, key),
            (3u64.to_be_bytes().to_vec(), 3u64.to_be_bytes().to_vec())
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(db.get(1).unwrap(), None);
    let names = list_names(db.path()).unwrap();
    assert!(
        !names.iter().any(|n| n.starts_with(INGEST_PREFIX)),
        "{names:?}"
    );
}

#[test]
fn keys_of_any_length_scan_in_byte_order() {
    let (_d, db) = open_new();
    db.put(1, b"x").unwrap();
    for k in [&b"abc"[..], b"", b"ab", b"ab\0", &[0xFF; 9]] {
        db.put(k, k).unwrap();
    }
    let keys: Vec<Vec<u8>> = db.iter_from(&b""[..]).map(|r| r.unwrap().0).collect();
    let mut want: Vec<Vec<u8>> = vec![
        1u64.to_be_bytes().to_vec(),
        b"abc".to_vec(),
        vec![],
        b"ab".to_vec(),
        b"ab\0".to_vec(),
        vec![0xFF; 9],
    ];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(db.get(&b"ab\0"[..]).unwrap(), Some(b"ab\0".to_vec()));
}

#[test]
fn flush_compact_and_disk_usage() {
    let (_d, db) = open_new();
    for k in 0..1000u64 {
        db.put(k, &[7u8; 100]).unwrap();
    }
    db.flush().unwrap();
    db.flush_wal(true).unwrap();
    db.compact();
    assert!(db.disk_bytes().unwrap() > 1000);
    assert!(db.estimate_num_keys().unwrap() > 0);
    assert!(db.stats().disk_bytes > 0);
}

/// RocksDB writes the options it runs with to an OPTIONS-* file; check ours arrived.
#[test]
fn options_reach_rocksdb() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts()
        .block_size(16 << 10)
        .compaction_style(CompactionStyle::Universal)
        .compression(Compression::Zstd)
        .compression_per_level(vec![Compression::None, Compression::Lz4])
        .max_write_buffer_number(5)
        .max_open_files(500)
        .bloom_bits_per_key(12.0)
        .optimize_for_point_lookup(true);
    let db = RocksStore::open(dir.path(), &o).unwrap();
    let name = list_names(dir.path())
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with("OPTIONS-"))
        .max()
        .expect("an OPTIONS file");
    let text = fs::read_to_string(dir.path().join(name)).unwrap();
    for needle in [
        "block_size=16384",
        "compaction_style=kCompactionStyleUniversal",
        "compression=kZSTD",
        "compression_per_level=kNoCompression:kLZ4Compression",
        "max_write_buffer_number=5",
        "max_open_files=500",
        "data_block_index_type=kDataBlockBinaryAndHash",
        "memtable_whole_key_filtering=true",
        "filter_policy=bloomfilter",
        "enable_pipelined_write=true",
    ] {
        let near: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(needle.split(['=', ':']).next().unwrap()))
            .collect();
        assert!(text.contains(needle), "{needle} not in OPTIONS: {near:?}");
    }
    drop(db);
    // FIFO never drops data. (And pipelined write can be turned off.)
    let dir2 = tempfile::tempdir().unwrap();
    let fifo = opts()
        .compaction_style(CompactionStyle::Fifo)
        .pipelined_write(false);
    let _db = RocksStore::open(dir2.path(), &fifo).unwrap();
    let name = list_names(dir2.path())
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with("OPTIONS-"))
        .max()
        .unwrap();
    let text = fs::read_to_string(dir2.path().join(name)).unwrap();
    assert!(text.contains("compaction_style=kCompactionStyleFIFO"));
    assert!(text.contains("enable_pipelined_write=false"));
    assert!(
        text.contains(&format!("max_table_files_size={}", u64::MAX)),
        "FIFO size limit"
    );
}

#[test]
fn write_options_follow_wal_and_sync() {
    // Smoke test: a WAL-less store still reads its own writes.
    let dir = tempfile::tempdir().unwrap();
    let db = RocksStore::open(dir.path(), &opts().wal_enabled(false)).unwrap();
    db.put(1, b"x").unwrap();
    assert_eq!(db.get(1).unwrap(), Some(b"x".to_vec()));
    let dir = tempfile::tempdir().unwrap();
    let db = RocksStore::open(dir.path(), &opts().sync_writes(true)).unwrap();
    db.put(1, b"y").unwrap();
    assert_eq!(db.get(1).unwrap(), Some(b"y".to_vec()));
}

#[test]
fn store_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RocksStore>();
}
