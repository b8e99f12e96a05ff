//! YCSB (Yahoo! Cloud Serving Benchmark) workloads, generated in-process.
//!
//! The benchmark reads YCSB's own workload files ([`workload`]), draws keys with ports of YCSB
//! core's generators ([`generators`]) and produces the load keys and run-phase operations
//! ([`ops`]) that every engine executes in the same order.
//!
//! # Keys
//!
//! YCSB names record `seq` `"user" + fnvhash64(seq)` so inserts are spread over the key space
//! instead of appended. The number in the name is the record's *number*,
//! [`Workload::key_for_seq`] (`fnvhash64(seq)`, [`ycsb_key_to_u64`], with `insertorder=hashed`;
//! `seq` itself with `ordered`), and the operation stream ([`Op`]) carries numbers.
//! `ycsb_benchmark` gives the engines either the record's name, [`write_record_name`] of its
//! number (its default, as YCSB does), or the number itself as a `u64` key (`--key-kind u64`,
//! the keys of results before the names). [`ycsb_key_name`] is the name of a sequence number
//! and [`key_from_ycsb_name`] goes back from a name to its number: the two correspond one to one.
//!
//! The hash is not a bijection (it is folded to 63 bits), so two sequence numbers could share a
//! key: with `n` records the chance of any collision is about `n^2 / 2^64`, 5e-8 at 1M records
//! and 5e-4 at 100M. A collision would only make one insert an overwrite, identically for every
//! engine; a unit test checks that the 1M records of the standard workloads are distinct.
//!
//! ```
//! use alexkv::bench::ycsb::{key_from_ycsb_name, write_record_name, ycsb_key_name, ycsb_key_to_u64};
//! let name = ycsb_key_name(1);
//! assert!(name.starts_with("user"));
//! assert_eq!(key_from_ycsb_name(&name), Some(ycsb_key_to_u64(1)));
//! let mut bytes = Vec::new();
//! write_record_name(ycsb_key_to_u64(1), &mut bytes);
//! assert_eq!(bytes, name.as_bytes());
//! ```

pub mod generators;
pub mod ops;
pub mod workload;

pub use ops::{load_keys, record_value, Op, OpKind, YcsbOps};
pub use workload::{
    InsertOrder, RequestDistribution, ScanLengthDistribution, Workload, WorkloadError,
    STANDARD_WORKLOADS,
};

/// The engine key of YCSB record `seq` (with `insertorder=hashed`): YCSB's `fnvhash64(seq)`.
#[inline]
pub fn ycsb_key_to_u64(seq: u64) -> u64 {
    generators::fnv_hash64(seq)
}

/// Replaces `out` with YCSB's name of the record numbered `number`: `"user"` and the number in
/// decimal, without zero padding (YCSB's `buildKeyName` with its default `zeropadding=1`).
/// Reuses `out`'s allocation, so a loop that names many records allocates once.
pub fn write_record_name(number: u64, out: &mut Vec<u8>) {
    use std::io::Write;
    out.clear();
    // Writing to a Vec cannot fail.
    let _ = write!(out, "user{number}");
}

/// YCSB's key string for record `seq` with `insertorder=hashed` and no zero padding.
pub fn ycsb_key_name(seq: u64) -> String {
    let mut out = Vec::with_capacity(24);
    write_record_name(ycsb_key_to_u64(seq), &mut out);
    // Only ASCII was written.
    String::from_utf8(out).unwrap_or_default()
}

/// The engine key for a YCSB key string `user<number>` (the number itself), or `None` if the
/// string is not of that form.
pub fn key_from_ycsb_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("user")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_and_engine_keys_correspond() {
        for seq in [0, 1, 2, 999_999, u64::MAX] {
            let name = ycsb_key_name(seq);
            assert_eq!(key_from_ycsb_name(&name), Some(ycsb_key_to_u64(seq)));
        }
        assert_eq!(key_from_ycsb_name("user"), None);
        assert_eq!(key_from_ycsb_name("user-1"), None);
        assert_eq!(key_from_ycsb_name("usr1"), None);
        assert_eq!(key_from_ycsb_name("user007"), Some(7));
    }

    #[test]
    fn record_names_are_user_and_the_number_in_decimal() {
        let mut out = b"leftover bytes".to_vec();
        for (number, name) in [
            (0, "user0"),
            (7, "user7"),
            (u64::MAX, "user18446744073709551615"),
        ] {
            write_record_name(number, &mut out);
            assert_eq!(out, name.as_bytes());
            assert_eq!(key_from_ycsb_name(name), Some(number));
        }
        assert_eq!(
            ycsb_key_name(5),
            format!("user{}", generators::fnv_hash64(5))
        );
    }

    #[test]
    fn hashed_keys_are_not_in_insertion_order() {
        let keys: Vec<u64> = (0..100).map(ycsb_key_to_u64).collect();
        assert!(keys.windows(2).any(|w| w[0] > w[1]));
    }
}
