//! RocksDB: the source of truth and the commit point. Everything in this folder is about
//! RocksDB and nothing else.
//!
//! * [`store`] — [`RocksStore`]: open/create with directory ownership checks, point reads
//!   (copied, pinned, batched), atomic writes, ordered and bulk scans, sorted bulk load by SST
//!   ingestion, flush/compact, disk usage and counters.
//! * `marker` — the snapshot marker kept in RocksDB's `alexkv_meta` column family, which
//!   decides whether the engine's index snapshot file may be trusted.
//! * `rocks_options` — `Options::to_rocksdb()` and `Options::to_write_options()`, the mapping
//!   of alexkv's options onto RocksDB's.
//!
//! Nothing here knows about the learned index, the cache or the hot tier.

mod marker;
mod rocks_options;
pub(crate) mod store;

pub(crate) use store::{RocksStore, Span};
