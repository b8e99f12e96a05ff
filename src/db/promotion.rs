//! Read promotion (`Options::promote_reads_to_hot`): the one write a reader makes. A value the
//! read path ([`super::read`]) fetched from RocksDB is copied into the hot tier, so the next
//! read of the key is served from memory.
//!
//! It must never resurrect a value a writer replaced between the RocksDB read and the
//! promotion, so the promotion:
//! * reads the write counter (`write_seq`) **before** the RocksDB read (the read path does);
//! * takes the writer mutex with `try_lock` (a reader never queues behind a writer; if a write
//!   is running, the promotion is skipped);
//! * proceeds only if the write counter is unchanged and the index still holds the location the
//!   reader saw (another promotion did not get there first). A write of the key that committed
//!   after our read has then not yet updated the index (a write bumps the counter under the
//!   mutex right after its index update): it will overwrite the promotion's location when it
//!   does, and until then its key is marked in flight, so no reader trusts the promoted value;
//! * then appends and updates the index like a write, demotions included.

use super::write::{IndexOp, PoisonOnUnwind};
use super::Db;
use crate::location::Location;
use std::sync::atomic::Ordering;

impl Db {
    /// Copies a value just read from RocksDB into the hot tier, if no write can have replaced it
    /// (module docs). `seq_before_read` is `write_seq` as loaded before the RocksDB read.
    /// Returns whether it did.
    pub(super) fn promote(
        &self,
        key: &[u8],
        seen: Location,
        seq_before_read: u64,
        value: &[u8],
    ) -> bool {
        if !self.hot.accepts(key.len(), value.len()) {
            return false;
        }
        let Some(mut writer) = self.writer.try_lock() else {
            return false;
        };
        if self.write_seq.load(Ordering::Acquire) != seq_before_read
            || self.index.read().get(key) != Some(seen.to_raw())
        {
            return false;
        }
        // From the append (which may recycle a segment) to the end of the index update, as for
        // a write: a panic in between would leave demotions undone or a grow half installed.
        let poison = PoisonOnUnwind::arm(self);
        let (appended, recycled) = self.append_one(&mut writer, key, value);
        let mut ops: Vec<IndexOp<'_>> = Vec::new();
        if let Some(records) = &recycled {
            ops.extend(records.iter().map(|(k, old)| IndexOp::Demote(k, old)));
        }
        if let Some(loc) = appended {
            ops.push(IndexOp::Set(key, loc));
        }
        self.apply_index_ops(&ops);
        poison.disarm();
        appended.is_some()
    }
}
