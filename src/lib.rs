//! alexkv: an embeddable key-value engine for byte-string keys (up to [`MAX_KEY_LEN`] bytes,
//! in byte order; a `u64` key is its 8 big-endian bytes, the fast special case) whose keys are
//! found by **ALEX learned indexes** in memory, over **RocksDB** as the durable source of truth.
//!
//! # How it works
//!
//! * The index ([`trie`]) holds every live key, mapped to where its value is: in a
//!   memory-mapped **hot tier** of recent values, or only in RocksDB (**Cold**). It is a trie
//!   whose layers are ALEX learned indexes ([`alex`]) over 8-byte slices of the keys: a `u64` key
//!   is one ALEX lookup. It answers `contains`, `len` and misses without any I/O, and drives
//!   ordered range scans.
//! * **RocksDB** stores every value under the key's bytes, so its order is key order. A write is committed when RocksDB has it (write-ahead log per [`Options`]);
//!   everything else is rebuilt from RocksDB.
//! * Cold values read from RocksDB are kept in a sharded **value cache** (LRU, bounded in bytes).
//! * At a clean close the index (keys and locations) is saved in a snapshot, so reopening a
//!   large database bulk-loads the index instead of scanning RocksDB, with the hot tier warm.
//!
//! The engine, its write ordering and how it keeps reads consistent beside writers are
//! described in the docs of [`Db`]'s module (`src/db/mod.rs`).
//!
//! # Example
//!
//! ```
//! use alexkv::{Db, Options, Stats, WriteBatch};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?; // creates the database if missing
//!
//! db.put(1, b"one")?;
//! db.put(u64::MAX, b"max")?;
//! let v: Option<Vec<u8>> = db.get(1)?;
//! assert_eq!(v.as_deref(), Some(&b"one"[..]));
//! db.delete(42)?; // deleting a missing key is not an error
//!
//! let mut batch = WriteBatch::new(); // atomic: all or nothing, also across a crash
//! batch.put(2, b"two");
//! batch.put(3, b"three");
//! batch.delete(1);
//! db.write(batch)?;
//!
//! let mut keys = Vec::new();
//! for item in db.range(2..u64::MAX) {
//!     let (k, v): (u64, Vec<u8>) = item?;
//!     assert!(!v.is_empty());
//!     keys.push(k);
//! }
//! assert_eq!(keys, vec![2, 3]);
//! // At most 10 pairs from key 2 on, values borrowed (no copy), none read past the 10th:
//! let n = db.scan_with(2.., 10, |_key, value| {
//!     assert!(!value.is_empty());
//!     std::ops::ControlFlow::Continue(())
//! })?;
//! assert_eq!(n, 3); // 2, 3 and u64::MAX
//!
//! assert!(db.contains(3)); // answered by the index, no I/O
//! assert!(!db.contains(1));
//! assert_eq!(db.len(), 3);
//! assert_eq!(db.get_with(3, |bytes| bytes.len())?, Some(5)); // no copy of the value
//!
//! // Byte-string keys share the key space: any `&[u8]`, `&str`, `Vec<u8>`, `[u8; N]`.
//! db.put("user:42:name", b"Ada")?;
//! db.put("user:42:mail", b"ada@example.org")?;
//! assert_eq!(db.get("user:42:name")?.as_deref(), Some(&b"Ada"[..]));
//! let fields: Vec<Vec<u8>> = db.prefix("user:42:").map(|r| r.map(|(k, _)| k)).collect::<Result<_, _>>()?;
//! assert_eq!(fields, vec![b"user:42:mail".to_vec(), b"user:42:name".to_vec()]);
//! db.delete("user:42:mail")?;
//! db.delete("user:42:name")?;
//!
//! let s: Stats = db.stats(); // serde::Serialize
//! assert_eq!(s.keys, 3);
//! db.flush()?;
//! drop(db); // clean close: reopening sees every write
//!
//! let db = Db::open(dir.path(), Options::default())?;
//! assert_eq!(db.get(2)?.as_deref(), Some(&b"two"[..]));
//! assert_eq!(db.len(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `Db` is `Send + Sync`: share one between threads by reference or in an `Arc`.
//!
//! # Layers
//!
//! Each module imports only the layers below it (`tests/layering.rs` checks it on the source,
//! and that no file of a directory imports a sibling that imports it back):
//!
//! | module | what it holds | may import |
//! |---|---|---|
//! | `machine` | prefetch hints, the key hash, the huge-page report | nothing |
//! | `location`, `error`, `stats` | the packed Location, the one `Error`, counters and `Stats` | nothing |
//! | `keys` | [`Key`], [`FromKey`], [`KeyRange`], [`MAX_KEY_LEN`] | `error` |
//! | `write_batch` | [`WriteBatch`] | `error`, `keys` |
//! | [`alex`] | the learned index; knows nothing of storage | `machine` |
//! | [`trie`] | the byte-key index: a trie of ALEX layers over 8-byte key slices | `alex`, `machine` |
//! | `cache` | the value cache (its own `CacheConfig`) | `machine`, `stats` |
//! | `hot_tier` | the memory-mapped segments (its own `HotTierConfig`) | `error`, `keys`, `location`, `machine`, `stats` |
//! | `options` | [`Options`], validation (once), the tiers' configs built from it | `cache`, `error`, `hot_tier`, `keys`, `location` |
//! | `rocks` | RocksDB: key spans, options mapping, the snapshot marker | `error`, `keys`, `options`, `stats`, `write_batch` |
//! | `db` | [`Db`], the one module that knows every tier | all of the above |
//! | `bench` | the benchmark programs' harness (`tools` feature) | anything |
//!
//! `internal/DESIGN.md` describes the design as it is: tiers, write and read paths, recovery,
//! invariants and hazards, and the decisions that still hold.

pub mod alex;
/// The benchmark harness behind the programs in `src/bin` (feature `tools`, on by default).
#[cfg(feature = "tools")]
#[doc(hidden)]
pub mod bench;
/// Without `tools`, only the harness's seeded generator is built: the engine's own tests draw
/// their workloads from it (`tests/common`), and they must run with the engine alone too.
#[cfg(not(feature = "tools"))]
#[doc(hidden)]
pub mod bench {
    #[path = "rng.rs"]
    pub mod rng;
}

mod cache;
mod db;
mod error;
mod hot_tier;
mod keys;
mod location;
mod machine;
mod options;
mod rocks;
mod stats;
pub mod trie;
mod write_batch;

pub use db::{Db, RangeIter, ReadProfile};
pub use error::{Error, Result};
pub use keys::{FromKey, Key, KeyBytes, KeyRange, MAX_KEY_LEN};
pub use options::{CompactionStyle, Compression, Options};
pub use stats::{CacheStats, HotTierStats, IndexStats, OpStats, OpenStats, RocksDbStats, Stats};
pub use write_batch::WriteBatch;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
