//! Bad input: foreign directories, locked databases, damaged hot segments and index snapshots,
//! oversized values, invalid options, wrong kinds of paths. Each must be a typed `Error` (or, for
//! damaged caches, a silent fallback with every value intact), never a panic, and no
//! acknowledged write may be lost.

use alexkv::{Db, Error, Options, WriteBatch};
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const HOLDER_ENV: &str = "ALEXKV_LOCK_HOLDER_DIR";

fn small() -> Options {
    Options::default()
        .write_buffer_size(256 << 10)
        .max_value_bytes(1000)
        .hot_tier_bytes(4 * 8192)
        .hot_segment_bytes(8192)
}

/// Writes `n` keys (values naming their key), returns the model.
fn fill(db: &Db, n: u64) -> BTreeMap<u64, Vec<u8>> {
    let mut model = BTreeMap::new();
    for k in 0..n {
        let v = format!("value of {k} {}", "x".repeat((k % 50) as usize)).into_bytes();
        db.put(k * 3, &v).unwrap();
        model.insert(k * 3, v);
    }
    model
}

fn assert_content(db: &Db, model: &BTreeMap<u64, Vec<u8>>) {
    assert_eq!(db.len(), model.len() as u64);
    for (k, v) in model {
        assert_eq!(db.get(*k).unwrap().as_ref(), Some(v), "get({k})");
    }
    let all: BTreeMap<u64, Vec<u8>> = db.range(0u64..).map(|r| r.unwrap()).collect();
    assert!(&all == model, "scan differs from the written data");
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_plain_rocksdb_directory_is_not_a_database_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = rocksdb::DB::open_default(dir.path()).unwrap();
        db.put(b"hello", b"world").unwrap();
    }
    let before = names(dir.path());
    match Db::open(dir.path(), Options::default()) {
        Err(Error::NotADatabase { path, .. }) => assert_eq!(path, dir.path()),
        other => panic!("expected NotADatabase, got {other:?}"),
    }
    assert_eq!(
        names(dir.path()),
        before,
        "nothing written into a foreign directory"
    );
    // Still a working RocksDB database.
    let db = rocksdb::DB::open_default(dir.path()).unwrap();
    assert_eq!(db.get(b"hello").unwrap().as_deref(), Some(&b"world"[..]));
}

#[test]
fn a_directory_of_other_files_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), b"my notes").unwrap();
    fs::write(dir.path().join("data.bin"), [0xFFu8; 4096]).unwrap();
    assert!(matches!(
        Db::open(dir.path(), Options::default()),
        Err(Error::NotADatabase { .. })
    ));
    assert_eq!(names(dir.path()), vec!["data.bin", "notes.txt"]);
}

#[test]
fn an_identity_file_of_another_program_or_format_is_not_a_database() {
    for content in [
        &b"alexkv database\nformat 99\n"[..],
        b"",
        b"\x00\x01garbage",
    ] {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("ALEXKV"), content).unwrap();
        match Db::open(dir.path(), Options::default()) {
            Err(Error::NotADatabase { detail, .. }) => assert!(detail.contains("ALEXKV")),
            other => panic!("expected NotADatabase for {content:?}, got {other:?}"),
        }
    }
}

#[test]
fn damaged_rocksdb_files_are_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), small()).unwrap();
        fill(&db, 100);
    }
    // CURRENT names a manifest that does not exist.
    fs::write(dir.path().join("CURRENT"), b"MANIFEST-999999\n").unwrap();
    let r = Db::open(dir.path(), small());
    assert!(r.is_err(), "opened a database whose CURRENT is wrong");
    // Garbage in CURRENT.
    fs::write(dir.path().join("CURRENT"), [0u8, 0xFF, 7]).unwrap();
    assert!(Db::open(dir.path(), small()).is_err());
}

#[test]
fn a_path_that_is_a_file_is_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, b"x").unwrap();
    match Db::open(&file, Options::default()) {
        Err(Error::NotADirectory { path }) => assert_eq!(path, file),
        other => panic!("expected NotADirectory, got {other:?}"),
    }
    assert_eq!(fs::read(&file).unwrap(), b"x");
}

#[test]
fn a_missing_directory_without_create_if_missing_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let r = Db::open(&missing, Options::default().create_if_missing(false));
    assert!(matches!(r, Err(Error::Io { .. })), "{r:?}");
    assert!(!missing.exists());
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let r = Db::open(&empty, Options::default().create_if_missing(false));
    assert!(matches!(r, Err(Error::NotADatabase { .. })), "{r:?}");
}

#[test]
fn invalid_options_are_refused_before_touching_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let bad = [
        Options::default().max_value_bytes(0),
        Options::default().value_cache_shards(3),
        Options::default().value_cache_entries(0),
        Options::default().hot_segment_bytes(1000),
        Options::default()
            .hot_tier_bytes(0)
            .promote_reads_to_hot(true),
        Options::default().wal_enabled(false).sync_writes(true),
        Options::default().bloom_bits_per_key(f64::NAN),
        Options::default().write_buffer_size(1),
    ];
    for opts in bad {
        match Db::open(&path, opts.clone()) {
            Err(Error::InvalidOptions(msg)) => assert!(!msg.is_empty()),
            other => panic!("expected InvalidOptions for {opts:?}, got {other:?}"),
        }
        assert!(!path.exists(), "invalid options created the directory");
    }
}

#[test]
fn a_second_open_in_the_same_process_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let model = fill(&db, 50);
    for _ in 0..3 {
        match Db::open(dir.path(), small()) {
            Err(Error::Locked { path }) => assert_eq!(path, dir.path()),
            other => panic!("expected Locked, got {other:?}"),
        }
    }
    // The failed opens touched nothing the open handle uses.
    assert_content(&db, &model);
    drop(db);
    let db = Db::open(dir.path(), small()).unwrap();
    assert_content(&db, &model);
}

/// The child of `an_open_held_by_another_process_is_locked`: holds the database open until its
/// stdin closes.
#[test]
fn lock_holder_child() {
    let Ok(dir) = std::env::var(HOLDER_ENV) else {
        return;
    };
    let db = Db::open(&dir, small()).unwrap();
    db.put(7, b"from the child").unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

#[test]
fn an_open_held_by_another_process_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "lock_holder_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLDER_ENV, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.any(|l| l.is_ok_and(|l| l.trim_end().ends_with("ready")));
    assert!(ready, "child did not open the database");
    match Db::open(dir.path(), small()) {
        Err(Error::Locked { path }) => assert_eq!(path, dir.path()),
        other => {
            let _ = child.kill();
            panic!("expected Locked, got {other:?}");
        }
    }
    drop(child.stdin.take()); // the child closes the database and exits
    assert!(child.wait().unwrap().success());
    let db = Db::open(dir.path(), small()).unwrap();
    assert_eq!(db.get(7).unwrap().as_deref(), Some(&b"from the child"[..]));
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with("hot-") && n.ends_with(".seg"))
        .map(|n| dir.join(n))
        .collect()
}

fn flip(path: &Path, at: u64) {
    let mut bytes = fs::read(path).unwrap();
    let i = (at as usize).min(bytes.len() - 1);
    bytes[i] ^= 0xA5;
    fs::write(path, bytes).unwrap();
}

#[test]
fn damaged_hot_segments_are_discarded_and_no_value_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let model = {
        let db = Db::open(dir.path(), small()).unwrap();
        let model = fill(&db, 800);
        assert!(db.stats().hot_tier.recycled > 0, "the tier wrapped around");
        model
    };
    let segs = segment_files(dir.path());
    assert!(segs.len() >= 3, "segments: {segs:?}");
    // Every kind of damage, one per segment: a truncated file, a flipped header byte, a
    // flipped record byte, and a foreign file under a segment's name.
    fs::OpenOptions::new()
        .write(true)
        .open(&segs[0])
        .unwrap()
        .set_len(100)
        .unwrap();
    flip(&segs[1], 3);
    flip(&segs[2], 32 + 20);
    if let Some(s) = segs.get(3) {
        fs::write(s, vec![0x42u8; 8192]).unwrap();
    }
    fs::write(dir.path().join("hot-0999.seg"), b"not a segment").unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let s = db.stats();
    assert!(s.open.discarded_hot_segments >= 3, "{:?}", s.open);
    assert_content(&db, &model);
    // The tier keeps working after the damage.
    db.put(1, b"one").unwrap();
    assert_eq!(db.get(1).unwrap().as_deref(), Some(&b"one"[..]));
}

#[test]
fn zeroed_segment_tails_fall_back_to_rocksdb() {
    // Damage that verification cannot see: the tail of a segment lost (zeros read as the end
    // marker), as after an OS crash that dropped dirty pages. Locations into the lost tail must
    // read RocksDB, never zeros or a newer record.
    let dir = tempfile::tempdir().unwrap();
    let model = {
        let db = Db::open(dir.path(), small()).unwrap();
        fill(&db, 60)
    };
    for seg in segment_files(dir.path()) {
        let mut bytes = fs::read(&seg).unwrap();
        let half = bytes.len() / 2;
        bytes[half..].fill(0);
        fs::write(&seg, bytes).unwrap();
    }
    let db = Db::open(dir.path(), small()).unwrap();
    assert_content(&db, &model);
    // New appends land in the zeroed tail; the old locations must not read them.
    let mut model = model;
    for k in 0..60u64 {
        let v = format!("rewritten {k}").into_bytes();
        db.put(k * 3 + 1, &v).unwrap();
        model.insert(k * 3 + 1, v);
    }
    assert_content(&db, &model);
}

#[test]
fn damaged_or_stale_index_snapshots_are_ignored_and_no_data_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("index.snapshot");
    let mut model = {
        let db = Db::open(dir.path(), small()).unwrap();
        fill(&db, 300)
    };
    let good = fs::read(&snap).expect("a clean close writes the snapshot");

    let mut damaged: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("garbage", vec![0x5Au8; good.len()]),
        ("one byte longer", [good.clone(), vec![0]].concat()),
    ];
    for at in [0, 10, 40, good.len() / 2, good.len() - 1] {
        let mut b = good.clone();
        b[at] ^= 0x01;
        damaged.push(("flipped", b));
    }
    for (what, bytes) in damaged {
        fs::write(&snap, &bytes).unwrap();
        let db = Db::open(dir.path(), small()).unwrap();
        let s = db.stats();
        assert!(!s.open.index_from_snapshot, "{what} snapshot was trusted");
        assert!(s.open.snapshot_rejected.is_some(), "{what}: {:?}", s.open);
        assert_content(&db, &model);
        // The rejected file is gone; a clean close writes a good one again.
        drop(db);
        assert!(snap.exists());
    }

    // A stale snapshot: taken before more writes. RocksDB no longer holds its marker (deleted
    // before the first write), and its sequence number no longer matches either.
    let old = fs::read(&snap).unwrap();
    {
        let db = Db::open(dir.path(), small()).unwrap();
        assert!(db.stats().open.index_from_snapshot);
        db.put(1, b"newer").unwrap();
        db.delete(0).unwrap();
        model.insert(1, b"newer".to_vec());
        model.remove(&0);
    }
    fs::write(&snap, &old).unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let s = db.stats();
    assert!(!s.open.index_from_snapshot, "a stale snapshot was trusted");
    assert!(s
        .open
        .snapshot_rejected
        .as_deref()
        .unwrap()
        .contains("marker"));
    assert_content(&db, &model);
    drop(db);

    // A snapshot of another database.
    let other = tempfile::tempdir().unwrap();
    {
        let db = Db::open(other.path(), small()).unwrap();
        fill(&db, 300);
    }
    fs::copy(other.path().join("index.snapshot"), &snap).unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    assert!(
        !db.stats().open.index_from_snapshot,
        "a foreign snapshot was trusted"
    );
    assert_content(&db, &model);
}

#[test]
fn a_crash_during_close_leaves_no_trusted_temporary_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let model = {
        let db = Db::open(dir.path(), small()).unwrap();
        fill(&db, 100)
    };
    // A half-written temporary from an interrupted close, and no snapshot.
    let good = fs::read(dir.path().join("index.snapshot")).unwrap();
    fs::remove_file(dir.path().join("index.snapshot")).unwrap();
    fs::write(
        dir.path().join("index.snapshot.tmp"),
        &good[..good.len() / 3],
    )
    .unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    assert!(!db.stats().open.index_from_snapshot);
    assert_content(&db, &model);
    assert!(!dir.path().join("index.snapshot.tmp").exists());
}

#[test]
fn oversized_values_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let limit = 1000;
    db.put(1, &vec![1u8; limit]).unwrap(); // exactly at the limit is fine
    match db.put(2, &vec![2u8; limit + 1]) {
        Err(Error::ValueTooLarge { key, len, limit: l }) => {
            assert_eq!(
                (key, len, l),
                (2u64.to_be_bytes().to_vec(), limit + 1, limit)
            )
        }
        other => panic!("expected ValueTooLarge, got {other:?}"),
    }
    assert!(!db.contains(2));

    let mut batch = WriteBatch::new();
    batch.put(10, b"small");
    batch.delete(1);
    batch.put(11, vec![0u8; limit + 1]);
    batch.put(12, b"small");
    assert!(matches!(
        db.write(batch),
        Err(Error::ValueTooLarge { ref key, .. }) if key[..] == 11u64.to_be_bytes()
    ));
    let r = db.ingest_sorted([(20u64, vec![0u8; 5]), (21, vec![0u8; limit + 1])]);
    assert!(
        matches!(r, Err(Error::ValueTooLarge { ref key, .. }) if key[..] == 21u64.to_be_bytes()),
        "{r:?}"
    );
    let r = db.ingest_sorted([(30u64, b"a"), (30, b"b")]);
    assert!(matches!(r, Err(Error::Unsorted { .. })), "{r:?}");

    // Nothing of the refused writes is visible, now or after a reopen.
    let check = |d: &Db| {
        assert_eq!(d.len(), 1);
        assert!(d.contains(1));
        for k in [2, 10, 11, 12, 20, 21, 30] {
            assert!(!d.contains(k), "key {k} of a refused write");
            assert_eq!(d.get(k).unwrap(), None);
        }
        assert_eq!(d.range(..).count(), 1);
    };
    check(&db);
    drop(db);
    check(&Db::open(dir.path(), small()).unwrap());
}

#[test]
fn the_full_key_range_and_empty_values_are_valid_input() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    for k in [0, 1, u64::MAX - 1, u64::MAX] {
        db.put(k, b"").unwrap();
        assert_eq!(db.get(k).unwrap(), Some(Vec::new()));
    }
    assert_eq!(db.range(u64::MAX..).count(), 1);
    assert_eq!(db.range(..=0).count(), 1);
    #[allow(clippy::reversed_empty_ranges)]
    let empty = db.range(5..3).count();
    assert_eq!(empty, 0);
    assert_eq!(
        db.range((
            std::ops::Bound::Excluded(u64::MAX),
            std::ops::Bound::Unbounded
        ))
        .count(),
        0
    );
    // Limited scans: limit 0, inverted and empty ranges visit nothing, without an error.
    let visit = |range: (std::ops::Bound<u64>, std::ops::Bound<u64>), limit: usize| {
        let mut keys = Vec::new();
        let n = db
            .scan_with(range, limit, |k, _| {
                keys.push(u64::from_be_bytes(k.try_into().unwrap()));
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(n, keys.len());
        let it: Vec<u64> = db.scan(range, limit).map(|r| r.unwrap().0).collect();
        assert_eq!(
            it, keys,
            "scan and scan_with agree on {range:?} limit {limit}"
        );
        keys
    };
    use std::ops::Bound::{Excluded, Included, Unbounded};
    assert_eq!(visit((Unbounded, Unbounded), 0), Vec::<u64>::new());
    assert_eq!(visit((Included(5), Excluded(3)), 10), Vec::<u64>::new());
    assert_eq!(visit((Included(5), Excluded(5)), 10), Vec::<u64>::new());
    assert_eq!(
        visit((Excluded(u64::MAX), Unbounded), 10),
        Vec::<u64>::new()
    );
    assert_eq!(visit((Excluded(0), Excluded(1)), 10), Vec::<u64>::new());
    assert_eq!(
        visit((Included(u64::MAX), Unbounded), usize::MAX),
        vec![u64::MAX]
    );
    assert_eq!(
        visit((Unbounded, Included(u64::MAX)), 3),
        vec![0, 1, u64::MAX - 1]
    );
    assert_eq!(
        visit((Excluded(1), Included(u64::MAX)), 2),
        vec![u64::MAX - 1, u64::MAX]
    );
    assert_eq!(visit((Unbounded, Unbounded), usize::MAX).len(), 4);
    db.write(WriteBatch::new()).unwrap(); // an empty batch is fine
    assert_eq!(
        db.ingest_sorted(std::iter::empty::<(u64, &[u8])>())
            .unwrap(),
        0
    );
}
