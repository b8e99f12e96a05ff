pub mod alex;
#[doc(hidden)]
pub mod bench;

// The engine's lower layers. `db.rs` (not written yet) composes them; until then their
// crate-internal APIs are unused, hence the `dead_code` allowances (remove them with db.rs).
#[allow(dead_code)]
mod cache;
mod error;
#[allow(dead_code)]
mod hot_tier;
#[allow(dead_code)]
mod location;
mod options;
#[allow(dead_code)]
mod stats;
#[allow(dead_code)]
mod storage;
#[allow(dead_code)]
mod write_batch;

pub use error::{Error, Result};
pub use options::{CompactionStyle, Compression, Options};
pub use stats::{CacheStats, HotTierStats, IndexStats, OpStats, RocksDbStats, Stats};
pub use write_batch::WriteBatch;
