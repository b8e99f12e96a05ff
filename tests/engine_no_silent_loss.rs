//! Ways an engine can lose or hide acknowledged data without any error, each pinned down:
//!
//! * FIFO compaction must never delete files by age: RocksDB's default `ttl` for block-based
//!   tables is 30 days, and under FIFO a file older than the TTL is dropped whole.
//! * A stale index snapshot must never be trusted. A change that does not move RocksDB's
//!   sequence number (an SST ingestion that overlaps nothing is assigned sequence 0) followed by
//!   a crash that loses the unlink of the snapshot file (or a copy of the old engine files put
//!   back) must still lead to a rebuild from RocksDB, not to keys that read as absent.
//!
//! The crash is real: the test binary re-executes itself as a child that opens the database,
//! makes one change, flushes and aborts (no clean close).

use alexkv::{CompactionStyle, Db, Error, Options, WriteBatch};
use std::path::{Path, PathBuf};
use std::process::Command;

const CHILD_DIR_ENV: &str = "ALEXKV_LOSS_CHILD_DIR";
const CHILD_OP_ENV: &str = "ALEXKV_LOSS_CHILD_OP";

/// Keys of the first session: two runs flushed to two SST files with a gap between them.
const LOW: std::ops::Range<u64> = 0..1000;
const HIGH: std::ops::Range<u64> = 10_000..11_000;
/// Ingested by the child: inside the gap, so the new file overlaps no other file.
const GAP: std::ops::Range<u64> = 5000..5100;

fn value(key: u64) -> Vec<u8> {
    format!("value-of-{key}").into_bytes()
}

/// Files in the database directory that belong to the engine rather than to RocksDB.
fn engine_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("index.snapshot") || name.starts_with("hot-")
        })
        .collect();
    out.sort();
    out
}

/// The child: acts only when re-executed with the environment variables set.
#[test]
fn loss_child_changes_flushes_and_aborts() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else {
        return;
    };
    let op = std::env::var(CHILD_OP_ENV).unwrap();
    let db = Db::open(&dir, Options::default()).unwrap();
    assert!(
        db.stats().open.index_from_snapshot,
        "the parent closed cleanly"
    );
    match op.as_str() {
        "ingest" => {
            let n = db.ingest_sorted(GAP.map(|k| (k, value(k)))).unwrap();
            assert_eq!(n, GAP.end - GAP.start);
        }
        "put" => db.put(GAP.start, &value(GAP.start)).unwrap(),
        "delete" => db.delete(LOW.start).unwrap(),
        other => panic!("unknown op {other}"),
    }
    db.flush().unwrap();
    std::process::abort();
}

/// First session: two SST files with a gap, clean close (snapshot written). Returns the copies
/// of the engine's own files taken after that close.
fn prepare(dir: &Path, saved: &Path) -> Vec<PathBuf> {
    let db = Db::open(dir, Options::default()).unwrap();
    for run in [LOW, HIGH] {
        let mut batch = WriteBatch::new();
        for k in run {
            batch.put(k, value(k));
        }
        db.write(batch).unwrap();
        db.flush().unwrap();
    }
    db.close().unwrap();
    let files = engine_files(dir);
    assert!(
        files.iter().any(|p| p.ends_with("index.snapshot")),
        "a clean close writes the snapshot: {files:?}"
    );
    std::fs::create_dir_all(saved).unwrap();
    for f in &files {
        std::fs::copy(f, saved.join(f.file_name().unwrap())).unwrap();
    }
    files
}

/// Puts back the engine files saved after the clean close: what a lost unlink (or any older
/// copy of those files) leaves behind.
fn restore(files: &[PathBuf], saved: &Path) {
    for f in files {
        std::fs::copy(saved.join(f.file_name().unwrap()), f).unwrap();
    }
}

fn run_child(dir: &Path, op: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "loss_child_changes_flushes_and_aborts",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_OP_ENV, op)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the child must abort, not exit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "the child failed before its crash: {stderr}"
    );
}

/// Runs the scenario for one kind of change and returns the reopened database.
fn reopen_after_lost_unlink(op: &str) -> (tempfile::TempDir, Db) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let saved = tmp.path().join("saved");
    let files = prepare(&dir, &saved);
    run_child(&dir, op);
    restore(&files, &saved);
    let db = Db::open(&dir, Options::default()).unwrap();
    (tmp, db)
}

fn assert_content(db: &Db, expected_len: u64, present: &[u64], absent: &[u64]) {
    assert_eq!(db.len(), expected_len, "len after reopen");
    for &k in present {
        assert!(db.contains(k), "key {k} must be present");
        assert_eq!(db.get(k).unwrap(), Some(value(k)), "get({k})");
    }
    for &k in absent {
        assert!(!db.contains(k), "key {k} must be absent");
        assert_eq!(db.get(k).unwrap(), None, "get({k})");
    }
    let scanned = db.range(..).count() as u64;
    assert_eq!(scanned, expected_len, "keys listed by a full range");
}

#[test]
fn stale_snapshot_after_an_ingestion_that_keeps_the_sequence_is_not_trusted() {
    let (_tmp, db) = reopen_after_lost_unlink("ingest");
    assert!(
        !db.stats().open.index_from_snapshot,
        "the snapshot predates the ingestion"
    );
    let ingested: Vec<u64> = GAP.collect();
    let total = (LOW.end - LOW.start) + (HIGH.end - HIGH.start) + ingested.len() as u64;
    assert_content(&db, total, &ingested, &[GAP.end, GAP.start - 1]);
}

#[test]
fn stale_snapshot_after_a_put_is_not_trusted() {
    let (_tmp, db) = reopen_after_lost_unlink("put");
    assert!(!db.stats().open.index_from_snapshot);
    let total = (LOW.end - LOW.start) + (HIGH.end - HIGH.start) + 1;
    assert_content(&db, total, &[GAP.start, LOW.start + 1], &[GAP.start + 1]);
}

#[test]
fn stale_snapshot_after_a_delete_is_not_trusted() {
    let (_tmp, db) = reopen_after_lost_unlink("delete");
    assert!(!db.stats().open.index_from_snapshot);
    let total = (LOW.end - LOW.start) + (HIGH.end - HIGH.start) - 1;
    assert_content(&db, total, &[LOW.start + 1, HIGH.start], &[LOW.start]);
}

#[test]
fn snapshot_of_a_clean_close_is_still_used() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    prepare(&dir, &tmp.path().join("saved"));
    // A session that only reads keeps the snapshot valid for the next one.
    for _ in 0..2 {
        let db = Db::open(&dir, Options::default()).unwrap();
        assert!(db.stats().open.index_from_snapshot);
        assert_eq!(db.get(LOW.start).unwrap(), Some(value(LOW.start)));
        db.close().unwrap();
    }
    let db = Db::open(&dir, Options::default()).unwrap();
    assert!(db.stats().open.index_from_snapshot);
    db.put(GAP.start, &value(GAP.start)).unwrap();
    db.close().unwrap();
    let db = Db::open(&dir, Options::default()).unwrap();
    assert!(
        db.stats().open.index_from_snapshot,
        "a write then a clean close"
    );
    assert_eq!(
        db.len(),
        (LOW.end - LOW.start) + (HIGH.end - HIGH.start) + 1
    );
}

/// The newest OPTIONS file RocksDB wrote in `dir`.
fn newest_options_file(dir: &Path) -> String {
    let mut names: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name()?.to_str()?.to_owned();
            let n = name.strip_prefix("OPTIONS-")?.parse().ok()?;
            Some((n, p))
        })
        .collect();
    names.sort();
    let (_, path) = names.last().expect("RocksDB writes an OPTIONS file");
    std::fs::read_to_string(path).unwrap()
}

/// The `name=value` settings of the `[CFOptions "default"]` section.
fn default_cf_setting(options_file: &str, name: &str) -> Option<String> {
    let mut in_default = false;
    for line in options_file.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_default = line == "[CFOptions \"default\"]";
            continue;
        }
        if in_default {
            if let Some(v) = line.strip_prefix(&format!("{name}=")) {
                return Some(v.to_string());
            }
        }
    }
    None
}

#[test]
fn fifo_compaction_never_deletes_files_by_age_or_size() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default().compaction_style(CompactionStyle::Fifo);
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    db.put(1, b"kept forever").unwrap();
    db.close().unwrap();
    let text = newest_options_file(dir.path());
    assert_eq!(
        default_cf_setting(&text, "compaction_style").as_deref(),
        Some("kCompactionStyleFIFO")
    );
    assert_eq!(default_cf_setting(&text, "ttl").as_deref(), Some("0"));
    assert_eq!(
        default_cf_setting(&text, "periodic_compaction_seconds").as_deref(),
        Some("0")
    );
    let fifo = default_cf_setting(&text, "compaction_options_fifo").unwrap();
    assert!(
        fifo.contains(&format!("max_table_files_size={}", u64::MAX)),
        "{fifo}"
    );
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(db.get(1).unwrap().as_deref(), Some(&b"kept forever"[..]));
}

#[test]
fn fifo_with_a_bounded_number_of_open_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default()
        .compaction_style(CompactionStyle::Fifo)
        .max_open_files(100);
    match Db::open(dir.path(), opts) {
        Err(Error::InvalidOptions(msg)) => {
            assert!(msg.contains("max_open_files"), "{msg}");
        }
        other => panic!("expected InvalidOptions, got {other:?}"),
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "invalid options fail before anything touches the disk"
    );
}
