//! `ALEXKV_*` environment overrides (see [`Options::with_env_overrides`]).

use super::{CompactionStyle, Compression, Options};
use crate::error::{Error, Result};

/// Applies one variable's text to the options, or says why the text is malformed.
type Apply = fn(&mut Options, &str) -> std::result::Result<(), String>;

/// Generates the table of (variable, field parser) pairs. The variable is the field name in
/// upper case with the `ALEXKV_` prefix.
macro_rules! table {
    ($($var:literal => $field:ident : $parse:ident),* $(,)?) => {
        const VARIABLES: &[(&str, Apply)] = &[
            $(($var, |o: &mut Options, s: &str| {
                o.$field = $parse(s)?;
                Ok(())
            }),)*
        ];
    };
}

table! {
    "ALEXKV_BLOOM_BITS_PER_KEY" => bloom_bits_per_key: parse_f64,
    "ALEXKV_BLOCK_CACHE_BYTES" => block_cache_bytes: parse_size,
    "ALEXKV_BLOCK_SIZE" => block_size: parse_size,
    "ALEXKV_CACHE_INDEX_AND_FILTER_BLOCKS" => cache_index_and_filter_blocks: parse_bool,
    "ALEXKV_PIN_L0_FILTER_AND_INDEX_BLOCKS" => pin_l0_filter_and_index_blocks: parse_bool,
    "ALEXKV_COMPACTION_STYLE" => compaction_style: parse_compaction,
    "ALEXKV_MAX_OPEN_FILES" => max_open_files: parse_i32,
    "ALEXKV_USE_DIRECT_READS" => use_direct_reads: parse_bool,
    "ALEXKV_USE_DIRECT_IO_FOR_FLUSH_AND_COMPACTION" =>
        use_direct_io_for_flush_and_compaction: parse_bool,
    "ALEXKV_WRITE_BUFFER_SIZE" => write_buffer_size: parse_size,
    "ALEXKV_MAX_WRITE_BUFFER_NUMBER" => max_write_buffer_number: parse_u32,
    "ALEXKV_COMPRESSION" => compression: parse_compression,
    "ALEXKV_COMPRESSION_PER_LEVEL" => compression_per_level: parse_compression_list,
    "ALEXKV_MAX_BACKGROUND_JOBS" => max_background_jobs: parse_u32,
    "ALEXKV_PIPELINED_WRITE" => pipelined_write: parse_bool,
    "ALEXKV_WAL_ENABLED" => wal_enabled: parse_bool,
    "ALEXKV_SYNC_WRITES" => sync_writes: parse_bool,
    "ALEXKV_OPTIMIZE_FOR_POINT_LOOKUP" => optimize_for_point_lookup: parse_bool,
    "ALEXKV_VALUE_CACHE_BYTES" => value_cache_bytes: parse_size,
    "ALEXKV_VALUE_CACHE_ENTRIES" => value_cache_entries: parse_size,
    "ALEXKV_VALUE_CACHE_SHARDS" => value_cache_shards: parse_size,
    "ALEXKV_VALUE_CACHE_ADMISSION" => value_cache_admission: parse_bool,
    "ALEXKV_BLOCK_CACHE_ADMISSION" => block_cache_admission: parse_bool,
    "ALEXKV_HOT_TIER_BYTES" => hot_tier_bytes: parse_size,
    "ALEXKV_HOT_SEGMENT_BYTES" => hot_segment_bytes: parse_size,
    "ALEXKV_PROMOTE_READS_TO_HOT" => promote_reads_to_hot: parse_bool,
    "ALEXKV_INDEX_KEY_FILTER" => index_key_filter: parse_bool,
    "ALEXKV_MAX_VALUE_BYTES" => max_value_bytes: parse_size,
    "ALEXKV_CREATE_IF_MISSING" => create_if_missing: parse_bool,
}

impl Options {
    /// Returns these options with every set `ALEXKV_*` environment variable applied on top.
    ///
    /// Each field has one variable, its name in upper case after `ALEXKV_`:
    ///
    /// | variable | field | format |
    /// |---|---|---|
    /// | `ALEXKV_BLOOM_BITS_PER_KEY` | `bloom_bits_per_key` | number, e.g. `10` or `9.5` |
    /// | `ALEXKV_BLOCK_CACHE_BYTES` | `block_cache_bytes` | size |
    /// | `ALEXKV_BLOCK_SIZE` | `block_size` | size |
    /// | `ALEXKV_CACHE_INDEX_AND_FILTER_BLOCKS` | `cache_index_and_filter_blocks` | bool |
    /// | `ALEXKV_PIN_L0_FILTER_AND_INDEX_BLOCKS` | `pin_l0_filter_and_index_blocks` | bool |
    /// | `ALEXKV_COMPACTION_STYLE` | `compaction_style` | `level`, `universal`, `fifo` |
    /// | `ALEXKV_MAX_OPEN_FILES` | `max_open_files` | integer, `-1` = unlimited |
    /// | `ALEXKV_USE_DIRECT_READS` | `use_direct_reads` | bool |
    /// | `ALEXKV_USE_DIRECT_IO_FOR_FLUSH_AND_COMPACTION` | `use_direct_io_for_flush_and_compaction` | bool |
    /// | `ALEXKV_WRITE_BUFFER_SIZE` | `write_buffer_size` | size |
    /// | `ALEXKV_MAX_WRITE_BUFFER_NUMBER` | `max_write_buffer_number` | integer |
    /// | `ALEXKV_COMPRESSION` | `compression` | `none`, `snappy`, `lz4`, `zstd` |
    /// | `ALEXKV_COMPRESSION_PER_LEVEL` | `compression_per_level` | comma list, e.g. `none,none,lz4,zstd`; empty = unset |
    /// | `ALEXKV_MAX_BACKGROUND_JOBS` | `max_background_jobs` | integer |
    /// | `ALEXKV_PIPELINED_WRITE` | `pipelined_write` | bool |
    /// | `ALEXKV_WAL_ENABLED` | `wal_enabled` | bool |
    /// | `ALEXKV_SYNC_WRITES` | `sync_writes` | bool |
    /// | `ALEXKV_OPTIMIZE_FOR_POINT_LOOKUP` | `optimize_for_point_lookup` | bool |
    /// | `ALEXKV_VALUE_CACHE_BYTES` | `value_cache_bytes` | size |
    /// | `ALEXKV_VALUE_CACHE_ENTRIES` | `value_cache_entries` | size (a count; suffixes allowed) |
    /// | `ALEXKV_VALUE_CACHE_SHARDS` | `value_cache_shards` | integer |
    /// | `ALEXKV_VALUE_CACHE_ADMISSION` | `value_cache_admission` | bool |
    /// | `ALEXKV_BLOCK_CACHE_ADMISSION` | `block_cache_admission` | bool |
    /// | `ALEXKV_HOT_TIER_BYTES` | `hot_tier_bytes` | size |
    /// | `ALEXKV_HOT_SEGMENT_BYTES` | `hot_segment_bytes` | size |
    /// | `ALEXKV_PROMOTE_READS_TO_HOT` | `promote_reads_to_hot` | bool |
    /// | `ALEXKV_INDEX_KEY_FILTER` | `index_key_filter` | bool |
    /// | `ALEXKV_MAX_VALUE_BYTES` | `max_value_bytes` | size |
    /// | `ALEXKV_CREATE_IF_MISSING` | `create_if_missing` | bool |
    ///
    /// A *size* is an integer with an optional binary suffix: `4096`, `64K`, `64KiB`, `16M`,
    /// `1G`, `1T` (case-insensitive; `K` = 1024). A *bool* is `1/0`, `true/false`, `yes/no` or
    /// `on/off`. Surrounding whitespace is ignored.
    ///
    /// Returns [`Error::InvalidOptions`] naming the variable when a value is malformed (or not
    /// UTF-8). The result is not validated: call [`Options::validate`] (opening does).
    pub fn with_env_overrides(self) -> Result<Options> {
        self.with_overrides_from(|name| match std::env::var(name) {
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err("value is not UTF-8".to_string()),
        })
    }

    /// [`Options::with_env_overrides`] over any variable source (tests use a map).
    pub(crate) fn with_overrides_from(
        mut self,
        lookup: impl Fn(&str) -> std::result::Result<Option<String>, String>,
    ) -> Result<Options> {
        for (name, apply) in VARIABLES {
            let bad = |why: String| Error::InvalidOptions(format!("{name}: {why}"));
            let Some(text) = lookup(name).map_err(bad)? else {
                continue;
            };
            apply(&mut self, text.trim()).map_err(|why| bad(format!("{why} (got {text:?})")))?;
        }
        Ok(self)
    }
}

fn parse_bool(s: &str) -> std::result::Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("expected a bool (1/0, true/false, yes/no, on/off)".into()),
    }
}

fn parse_f64(s: &str) -> std::result::Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| "expected a finite number".into())
}

fn parse_i32(s: &str) -> std::result::Result<i32, String> {
    s.parse().map_err(|_| "expected an integer".into())
}

fn parse_u32(s: &str) -> std::result::Result<u32, String> {
    s.parse()
        .map_err(|_| "expected a non-negative integer".into())
}

/// An integer with an optional binary suffix (K, M, G, T, optionally followed by `B` or `iB`).
fn parse_size(s: &str) -> std::result::Result<usize, String> {
    let err = || "expected a size such as 4096, 64K, 16MiB or 1G".to_string();
    let lower = s.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, suffix) = lower.split_at(digits_end);
    let n: usize = digits.parse().map_err(|_| err())?;
    let shift = match suffix.trim() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(err()),
    };
    n.checked_mul(1usize << shift)
        .ok_or_else(|| "size overflows".to_string())
}

fn parse_compaction(s: &str) -> std::result::Result<CompactionStyle, String> {
    match s.to_ascii_lowercase().as_str() {
        "level" | "leveled" => Ok(CompactionStyle::Level),
        "universal" => Ok(CompactionStyle::Universal),
        "fifo" => Ok(CompactionStyle::Fifo),
        _ => Err("expected level, universal or fifo".into()),
    }
}

fn parse_compression(s: &str) -> std::result::Result<Compression, String> {
    match s.to_ascii_lowercase().as_str() {
        "none" | "no" => Ok(Compression::None),
        "snappy" => Ok(Compression::Snappy),
        "lz4" => Ok(Compression::Lz4),
        "zstd" => Ok(Compression::Zstd),
        _ => Err("expected none, snappy, lz4 or zstd".into()),
    }
}

fn parse_compression_list(s: &str) -> std::result::Result<Vec<Compression>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',').map(|p| parse_compression(p.trim())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn apply(vars: &[(&str, &str)]) -> Result<Options> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Options::default().with_overrides_from(|n| Ok(map.get(n).cloned()))
    }

    #[test]
    fn no_variables_change_nothing() {
        assert_eq!(apply(&[]).unwrap(), Options::default());
    }

    #[test]
    fn every_kind_of_variable_is_applied() {
        let o = apply(&[
            ("ALEXKV_BLOOM_BITS_PER_KEY", "12.5"),
            ("ALEXKV_BLOCK_CACHE_BYTES", "1G"),
            ("ALEXKV_BLOCK_SIZE", " 16KiB "),
            ("ALEXKV_COMPACTION_STYLE", "Universal"),
            ("ALEXKV_MAX_OPEN_FILES", "-1"),
            ("ALEXKV_USE_DIRECT_READS", "yes"),
            ("ALEXKV_MAX_WRITE_BUFFER_NUMBER", "6"),
            ("ALEXKV_COMPRESSION", "zstd"),
            ("ALEXKV_COMPRESSION_PER_LEVEL", "none, lz4,zstd"),
            ("ALEXKV_WAL_ENABLED", "off"),
            ("ALEXKV_VALUE_CACHE_ENTRIES", "2M"),
            ("ALEXKV_HOT_TIER_BYTES", "0"),
        ])
        .unwrap();
        assert_eq!(o.bloom_bits_per_key, 12.5);
        assert_eq!(o.block_cache_bytes, 1 << 30);
        assert_eq!(o.block_size, 16 << 10);
        assert_eq!(o.compaction_style, CompactionStyle::Universal);
        assert_eq!(o.max_open_files, -1);
        assert!(o.use_direct_reads);
        assert_eq!(o.max_write_buffer_number, 6);
        assert_eq!(o.compression, Compression::Zstd);
        assert_eq!(
            o.compression_per_level,
            vec![Compression::None, Compression::Lz4, Compression::Zstd]
        );
        assert!(!o.wal_enabled);
        assert_eq!(o.value_cache_entries, 2 << 20);
        assert_eq!(o.hot_tier_bytes, 0);
    }

    #[test]
    fn every_variable_is_named_in_the_docs_table() {
        let src = include_str!("env.rs");
        for (name, _) in VARIABLES {
            assert!(
                src.contains(&format!("/// | `{name}` |")),
                "{name} missing from docs"
            );
        }
        assert_eq!(VARIABLES.len(), 29);
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for (var, val) in [
            ("ALEXKV_BLOCK_SIZE", "12X"),
            ("ALEXKV_BLOCK_SIZE", "-5"),
            ("ALEXKV_BLOCK_CACHE_BYTES", "99999999999999999999T"),
            ("ALEXKV_SYNC_WRITES", "maybe"),
            ("ALEXKV_COMPRESSION", "gzip"),
            ("ALEXKV_COMPRESSION_PER_LEVEL", "lz4,,zstd"),
            ("ALEXKV_BLOOM_BITS_PER_KEY", "inf"),
            ("ALEXKV_MAX_BACKGROUND_JOBS", "-2"),
        ] {
            match apply(&[(var, val)]) {
                Err(Error::InvalidOptions(msg)) => assert!(msg.contains(var), "{msg}"),
                other => panic!("{var}={val}: expected InvalidOptions, got {other:?}"),
            }
        }
    }

    #[test]
    fn non_utf8_value_is_invalid_options() {
        let r = Options::default().with_overrides_from(|n| {
            if n == "ALEXKV_WAL_ENABLED" {
                Err("value is not UTF-8".into())
            } else {
                Ok(None)
            }
        });
        assert!(matches!(r, Err(Error::InvalidOptions(m)) if m.contains("ALEXKV_WAL_ENABLED")));
    }

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("64KB"), Ok(64 << 10));
        assert_eq!(parse_size("3MiB"), Ok(3 << 20));
        assert_eq!(parse_size("2 g"), Ok(2 << 30));
        assert!(parse_size("").is_err());
        assert!(parse_size("k").is_err());
        assert!(parse_size("1.5G").is_err());
    }
}
