//! A panic between a write's RocksDB commit and its index update must not be persisted as a
//! snapshot of an index that lacks the write (`Error::Poisoned`). The panic is injected by a
//! fault point that exists only in test builds (`write::fault`).

use super::write::fault;
use crate::{Db, Error, Options, WriteBatch};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn assert_poisoned<T: std::fmt::Debug>(what: &str, r: crate::Result<T>) {
    assert!(
        matches!(r, Err(Error::Poisoned { .. })),
        "{what} after the panic: {r:?}"
    );
}

/// Opens a database with a clean-close snapshot of keys 0..100, injects a panic into the write
/// `write`, and checks that the handle refuses everything and that a reopen sees `key`.
fn panic_mid_write(write: impl FnOnce(&Db), key: u64, expected: Option<&[u8]>) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for k in 0..100u64 {
        db.put(k, b"before").unwrap();
    }
    db.close().unwrap();

    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(db.stats().open.index_from_snapshot);
    fault::panic_after_next_commit();
    let unwound = catch_unwind(AssertUnwindSafe(|| write(&db)));
    assert!(unwound.is_err(), "the injected fault panics");
    assert!(db.is_poisoned());
    assert_poisoned("put", db.put(1000, b"x"));
    assert_poisoned("delete", db.delete(1));
    let mut batch = WriteBatch::new();
    batch.put(5, b"y");
    assert_poisoned("write", db.write(batch));
    assert_poisoned("ingest", db.ingest_sorted([(2000u64, b"z")]));
    assert_poisoned("get", db.get(key));
    assert_poisoned("get_with", db.get_with(key, |v| v.len()));
    assert_poisoned("multi_get", db.multi_get(&[key]));
    assert_poisoned("range", db.range(..).next().unwrap());
    assert_poisoned("scan", db.scan(.., 10).next().unwrap());
    assert_poisoned("scan with limit 0", db.scan(.., 0).next().unwrap());
    let visited = db.scan_with(.., 10, |_, _| std::ops::ControlFlow::Continue(()));
    assert_poisoned("scan_with", visited);
    assert_poisoned("flush", db.flush());
    db.close().unwrap(); // flushes RocksDB, writes no snapshot

    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(
        !db.stats().open.index_from_snapshot,
        "a poisoned handle must not leave a snapshot to trust"
    );
    assert_eq!(db.get(key).unwrap().as_deref(), expected);
    assert_eq!(db.contains(key), expected.is_some());
    let listed = db.range(..).count() as u64;
    assert_eq!(db.len(), listed);
}

#[test]
fn panic_after_the_commit_of_a_put_poisons_and_reopen_sees_the_put() {
    panic_mid_write(
        |db| db.put(500, b"committed").unwrap(),
        500,
        Some(b"committed"),
    );
}

#[test]
fn panic_after_the_commit_of_a_delete_poisons_and_reopen_sees_the_delete() {
    panic_mid_write(|db| db.delete(7).unwrap(), 7, None);
}

#[test]
fn panic_after_the_commit_of_a_batch_poisons_and_reopen_sees_the_batch() {
    let batch = || {
        let mut b = WriteBatch::new();
        b.put(600, b"batched");
        b.delete(8);
        b
    };
    panic_mid_write(|db| db.write(batch()).unwrap(), 600, Some(b"batched"));
}

#[test]
fn panic_after_an_ingestion_poisons_and_reopen_sees_the_ingested_keys() {
    panic_mid_write(
        |db| {
            db.ingest_sorted((700..800u64).map(|k| (k, b"ingested")))
                .unwrap();
        },
        750,
        Some(b"ingested"),
    );
}

#[test]
fn a_handle_that_did_not_panic_is_not_poisoned() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.put(1, b"a").unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| {
        db.get_with(1, |_| panic!("user closure"))
    }));
    assert!(r.is_err(), "the closure ran and panicked");
    // A panic in a reader's closure changes nothing: no write was in progress.
    assert!(!db.is_poisoned());
    db.put(2, b"b").unwrap();
    assert_eq!(db.get_with(2, |v| v.to_vec()).unwrap(), Some(b"b".to_vec()));
}
