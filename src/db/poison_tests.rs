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
    // The unwind ended every announcement of the write it interrupted (ingestions included).
    assert!(!db.inflight.any(), "a write still counted in flight");
    assert!(
        !db.inflight.is_marked(&key.to_be_bytes()),
        "key {key} still marked in flight"
    );
    // A first miss only registers with the admission doorkeeper; the second fills.
    let _ = db.cache.fill(db.cache.begin_fill(&key.to_be_bytes()), b"v");
    let ticket = db.cache.begin_fill(&key.to_be_bytes());
    assert!(
        db.cache.fill(ticket, b"v"),
        "the value cache still refuses fills of {key}"
    );
    // Even writes with nothing to write refuse, and an ingestion refuses before it reads
    // its input (and writes an SST file of it).
    assert_poisoned("empty write", db.write(WriteBatch::new()));
    assert_poisoned(
        "empty ingest",
        db.ingest_sorted(std::iter::empty::<(u64, &[u8])>()),
    );
    let mut read = 0;
    let pairs = (3000..3010u64).map(|k| (k, b"w")).inspect(|_| read += 1);
    assert_poisoned("ingest", db.ingest_sorted(pairs));
    assert_eq!(read, 0, "a poisoned handle read the ingestion's input");
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
    assert_poisoned("compact", db.compact());
    assert_poisoned("first", db.first::<u64>());
    assert_poisoned("last", db.last::<u64>());
    // What still answers, from the index.
    assert_eq!(db.len() as usize, db.keys::<u64>().unwrap().len());
    assert_eq!(db.is_empty(), db.keys::<u64>().unwrap().is_empty());
    assert_eq!(db.stats().keys, db.len());
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

/// A write made from a `Drop` while an unrelated panic unwinds completes, so it must not
/// poison the handle (`std::thread::panicking()` is true during it).
#[test]
fn a_write_from_a_drop_during_an_unrelated_panic_does_not_poison() {
    /// Writes while the panic unwinds and keeps the results: an `unwrap` here would abort the
    /// test binary (a panic inside a drop during unwinding) instead of failing this test.
    type Results = std::cell::RefCell<(bool, Vec<crate::Result<()>>)>;
    struct WritesOnDrop<'a>(&'a Db, &'a Results);
    impl Drop for WritesOnDrop<'_> {
        fn drop(&mut self) {
            let (unwinding, out) = &mut *self.1.borrow_mut();
            *unwinding = std::thread::panicking();
            out.push(self.0.put(42, b"written while unwinding"));
            let mut batch = WriteBatch::new();
            batch.put(43, b"batched while unwinding");
            out.push(self.0.write(batch));
            out.push(self.0.ingest_sorted([(44u64, b"ingested")]).map(|_| ()));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let results: Results = std::cell::RefCell::new((false, Vec::new()));
    let r = catch_unwind(AssertUnwindSafe(|| {
        let _on_drop = WritesOnDrop(&db, &results);
        panic!("unrelated to the database");
    }));
    assert!(r.is_err());
    let (unwinding, results) = results.into_inner();
    assert!(unwinding, "the writes ran while the panic unwound");
    assert_eq!(results.len(), 3);
    for r in results {
        r.unwrap();
    }
    assert!(
        !db.is_poisoned(),
        "a write that completed poisoned the handle"
    );
    assert_eq!(
        db.get(42).unwrap().as_deref(),
        Some(&b"written while unwinding"[..])
    );
    assert_eq!(
        db.get(43).unwrap().as_deref(),
        Some(&b"batched while unwinding"[..])
    );
    assert_eq!(db.get(44).unwrap().as_deref(), Some(&b"ingested"[..]));
    db.close().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(
        db.stats().open.index_from_snapshot,
        "the close wrote a snapshot"
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
