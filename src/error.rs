//! The crate's one error type.
//!
//! Every fallible operation in alexkv returns [`Result<T>`]. The variants are chosen so a caller
//! can act on them without parsing messages:
//!
//! | variant | what to do |
//! |---|---|
//! | [`Error::Locked`] | another process or handle has the database open; wait or close it |
//! | [`Error::NotADatabase`] / [`Error::NotADirectory`] | wrong path |
//! | [`Error::Corruption`] | restore from backup; the message names the file |
//! | [`Error::InvalidOptions`] | fix the configuration (the message names the field or variable) |
//! | [`Error::ValueTooLarge`] | split the value or raise `Options::max_value_bytes` |
//! | [`Error::KeyTooLong`] / [`Error::InvalidKey`] | use a key of at most `MAX_KEY_LEN` bytes / a non-negative integer |
//! | [`Error::KeyNotU64`] | the database holds byte keys: read keys back as `Vec<u8>` |
//! | [`Error::Unsorted`] | sort the input of a bulk load |
//! | [`Error::Poisoned`] | drop the `Db` and open it again (the index is rebuilt from RocksDB) |
//! | [`Error::Io`] / [`Error::Rocks`] | environmental; the message carries the path or operation |
//!
//! Internal layers convert RocksDB errors with [`Error::from_rocks`], which recognises lock and
//! corruption failures so they surface as [`Error::Locked`] and [`Error::Corruption`].

use std::path::{Path, PathBuf};

/// The result type of every fallible alexkv operation.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in alexkv, with the context (path, key, operation) needed to act.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-system operation failed on `path`.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory the operation touched.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// RocksDB reported an error that is neither a lock conflict nor corruption.
    #[error("RocksDB {op} failed: {source}")]
    Rocks {
        /// The operation that failed (`"open"`, `"get"`, `"write"`, ...).
        op: &'static str,
        /// RocksDB's own error, whose message holds RocksDB's status string.
        #[source]
        source: rocksdb::Error,
    },

    /// The database at `path` is open in another process or through another handle in this one
    /// (RocksDB's `LOCK` file is held).
    #[error("database {} is locked by another process or handle", path.display())]
    Locked {
        /// The database directory.
        path: PathBuf,
    },

    /// Stored data failed a consistency check.
    #[error("corruption in {}: {detail}", path.display())]
    Corruption {
        /// The damaged file, or the database directory when RocksDB does not say which file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },

    /// The [`Options`](crate::Options) are invalid: a value is out of range, two settings
    /// contradict each other, or an `ALEXKV_*` environment variable is malformed. The message
    /// names the field or the variable.
    #[error("invalid options: {0}")]
    InvalidOptions(String),

    /// A value is longer than `Options::max_value_bytes`.
    #[error(
        "value for key {} is {len} bytes, over the limit of {limit} bytes",
        show_key(key)
    )]
    ValueTooLarge {
        /// The key being written (its bytes: a `u64` key is its 8 big-endian bytes).
        key: Vec<u8>,
        /// The value's length in bytes.
        len: usize,
        /// The configured limit (`Options::max_value_bytes`).
        limit: usize,
    },

    /// The directory exists but is not an alexkv database: it holds another program's files, a
    /// RocksDB database not created by alexkv, or an alexkv identity file this version does not
    /// understand. alexkv never writes into such a directory.
    ///
    /// A directory is recognised as alexkv's by its `ALEXKV` identity file, written when the
    /// database is created (see `rocks::store` for its format).
    #[error("{} is not an alexkv database: {detail}", path.display())]
    NotADatabase {
        /// The directory.
        path: PathBuf,
        /// Why it was not recognised.
        detail: String,
    },

    /// The database path exists and is not a directory.
    #[error("{} is not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },

    /// A panic unwound through a write of this `Db` after the write may have reached RocksDB,
    /// so the in-memory index may lack a committed change. No index snapshot is written at close;
    /// nothing acknowledged is lost: open the database again and the index is rebuilt from
    /// RocksDB.
    ///
    /// On a poisoned handle every fallible call fails with this error: `get`, `get_with`,
    /// `multi_get`, `first`, `last`, `range`, `scan`, `scan_with`, `put`, `delete`, `write` (an
    /// empty batch too), `ingest_sorted` (before it reads its input), `flush` and `compact`.
    /// The calls that return no `Result` still answer, from an index that may lack the write
    /// that panicked: `contains`, `len`, `is_empty`, `keys`, `stats`, `read_profile`. `close`
    /// flushes RocksDB (returning its error if that fails) and writes no snapshot;
    /// `Db::is_poisoned` tells.
    #[error("database {} is poisoned by a panic during a write; reopen it", path.display())]
    Poisoned {
        /// The database directory.
        path: PathBuf,
    },

    /// A bulk load received keys that are not strictly increasing.
    #[error(
        "bulk load keys must be strictly increasing: {} came after {}",
        show_key(key),
        show_key(previous)
    )]
    Unsorted {
        /// The key before the offending one.
        previous: Vec<u8>,
        /// The offending key.
        key: Vec<u8>,
    },

    /// A key is longer than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN) bytes; nothing was written.
    #[error("key of {len} bytes is over the limit of {limit} bytes")]
    KeyTooLong {
        /// The key's length.
        len: usize,
        /// The limit ([`MAX_KEY_LEN`](crate::MAX_KEY_LEN)).
        limit: usize,
    },

    /// A value given as a key is not one (a negative `i32`: signed keys go through the `_i64`
    /// methods).
    #[error("invalid key: {0}")]
    InvalidKey(String),

    /// A stored key was asked for as a `u64` but is not 8 bytes long (the database holds byte
    /// keys too: ask for `Vec<u8>`).
    #[error("key {} is not a u64 key (8 bytes)", show_key(key))]
    KeyNotU64 {
        /// The stored key.
        key: Vec<u8>,
    },
}

/// A key for messages: an 8-byte key as its `u64` value, else printable ASCII as it is and other
/// bytes as `\xNN`, at most 64 bytes shown.
pub(crate) fn show_key(key: &[u8]) -> String {
    if let Ok(w) = <[u8; 8]>::try_from(key) {
        if !w.iter().all(|b| b.is_ascii_graphic()) {
            return u64::from_be_bytes(w).to_string();
        }
    }
    let mut s = String::from("\"");
    for &b in key.iter().take(64) {
        if (0x20..0x7f).contains(&b) && b != b'\\' && b != b'"' {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s.push('"');
    if key.len() > 64 {
        s.push_str(&format!("... ({} bytes)", key.len()));
    }
    s
}

/// `Err(ValueTooLarge)` when a `len`-byte value of `key` is over `limit`
/// (`Options::max_value_bytes`). Every write path (put, batch, ingestion) checks with this,
/// before anything is written.
pub(crate) fn check_value_len(key: &[u8], len: usize, limit: usize) -> Result<()> {
    if len > limit {
        return Err(Error::ValueTooLarge {
            key: key.to_vec(),
            len,
            limit,
        });
    }
    Ok(())
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The same error for another writer of a commit group (`db::sync_group`): every writer
    /// of a group that failed gets the group's error. I/O errors keep their kind and message
    /// (`std::io::Error` is not `Clone`).
    pub(crate) fn for_group_member(&self) -> Self {
        match self {
            Error::Io { path, source } => Error::Io {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            Error::Rocks { op, source } => Error::Rocks {
                op,
                source: source.clone(),
            },
            Error::Locked { path } => Error::Locked { path: path.clone() },
            Error::Corruption { path, detail } => Error::Corruption {
                path: path.clone(),
                detail: detail.clone(),
            },
            Error::InvalidOptions(m) => Error::InvalidOptions(m.clone()),
            Error::ValueTooLarge { key, len, limit } => Error::ValueTooLarge {
                key: key.clone(),
                len: *len,
                limit: *limit,
            },
            Error::NotADatabase { path, detail } => Error::NotADatabase {
                path: path.clone(),
                detail: detail.clone(),
            },
            Error::NotADirectory { path } => Error::NotADirectory { path: path.clone() },
            Error::Poisoned { path } => Error::Poisoned { path: path.clone() },
            Error::Unsorted { previous, key } => Error::Unsorted {
                previous: previous.clone(),
                key: key.clone(),
            },
            Error::KeyTooLong { len, limit } => Error::KeyTooLong {
                len: *len,
                limit: *limit,
            },
            Error::InvalidKey(m) => Error::InvalidKey(m.clone()),
            Error::KeyNotU64 { key } => Error::KeyNotU64 { key: key.clone() },
        }
    }

    /// Classifies a RocksDB error from operation `op` on the database at `path`.
    ///
    /// RocksDB has no structured lock error: a held `LOCK` file shows up as an I/O error whose
    /// message mentions the lock file (`"While lock file: .../LOCK: Resource temporarily
    /// unavailable"`, `"lock hold by current process"`, `"No locks available"`). Those become
    /// [`Error::Locked`]. Errors of kind `Corruption` become [`Error::Corruption`]. The match is
    /// on whole phrases, never on the bare word "lock", which also occurs in "block".
    pub(crate) fn from_rocks(path: &Path, op: &'static str, source: rocksdb::Error) -> Self {
        if is_lock_error(source.as_ref()) {
            return Error::Locked {
                path: path.to_path_buf(),
            };
        }
        if source.kind() == rocksdb::ErrorKind::Corruption {
            return Error::Corruption {
                path: path.to_path_buf(),
                detail: format!("RocksDB {op}: {source}"),
            };
        }
        Error::Rocks { op, source }
    }
}

/// True when a RocksDB status message describes a held `LOCK` file.
fn is_lock_error(message: &str) -> bool {
    const PHRASES: [&str; 5] = [
        "while lock file",
        "lock hold by current process",
        "no locks available",
        "resource temporarily unavailable",
        "/lock:",
    ];
    let lower = message.to_ascii_lowercase();
    PHRASES.iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_messages_are_recognised() {
        for msg in [
            "IO error: While lock file: /tmp/db/LOCK: Resource temporarily unavailable",
            "IO error: lock hold by current process, acquire time 1 acquiring thread 2: /tmp/db/LOCK: No locks available",
            "IO error: No locks available",
        ] {
            assert!(is_lock_error(msg), "{msg}");
        }
    }

    #[test]
    fn block_corruption_is_not_a_lock_error() {
        assert!(!is_lock_error(
            "Corruption: block checksum mismatch: stored = 1, computed = 2 in /tmp/db/000012.sst"
        ));
        assert!(!is_lock_error("IO error: No such file or directory"));
    }

    #[test]
    fn messages_carry_context() {
        let e = Error::ValueTooLarge {
            key: 7u64.to_be_bytes().to_vec(),
            len: 10,
            limit: 5,
        };
        assert_eq!(
            e.to_string(),
            "value for key 7 is 10 bytes, over the limit of 5 bytes"
        );
        let e = Error::io(
            "/x/y",
            std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        );
        assert!(e.to_string().contains("/x/y"));
    }

    #[test]
    fn keys_are_shown_as_integers_or_escaped_text() {
        assert_eq!(show_key(&7u64.to_be_bytes()), "7");
        assert_eq!(show_key(b"user:12\x00\\"), "\"user:12\\x00\\x5c\"");
        assert_eq!(show_key(b"abcdefgh"), "\"abcdefgh\"");
        assert!(show_key(&[b'x'; 100]).ends_with("... (100 bytes)"));
    }

    #[test]
    fn error_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
    }
}
