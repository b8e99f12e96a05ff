//! Memory and disk probes: resident set size of this process and the size of a directory.
//!
//! RSS comes from `/proc/self/status` (Linux). Elsewhere the probes return `None` rather than a
//! made-up number, and reports print "n/a".
//!
//! Peak RSS (`VmHWM`) is a high-water mark for the whole process and never goes down, which is
//! why each system is benchmarked in its own child process (see [`crate::bench::child`]).

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Peak resident set size of this process in bytes (`VmHWM`), or `None` if unavailable.
pub fn peak_rss_bytes() -> Option<u64> {
    status_field_kib("VmHWM:").map(|kib| kib * 1024)
}

/// Current resident set size of this process in bytes (`VmRSS`), or `None` if unavailable.
pub fn current_rss_bytes() -> Option<u64> {
    status_field_kib("VmRSS:").map(|kib| kib * 1024)
}

fn status_field_kib(field: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    parse_status_kib(&status, field)
}

/// Reads a line like `VmHWM:    123456 kB` out of a `/proc/<pid>/status` text.
fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    let mut words = line[field.len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(value),
        Some(_) => None,
    }
}

/// Total apparent size (file lengths) of the regular files under `path`, recursively.
///
/// Symbolic links are not followed. A single file is its own length. This is what `du
/// --apparent-size` reports; sparse or preallocated files may occupy less or more on disk, see
/// [`dir_allocated_bytes`].
pub fn dir_size_bytes(path: &Path) -> io::Result<u64> {
    walk(path, &|m: &fs::Metadata| m.len())
}

/// Total space allocated on disk (`st_blocks * 512`) for the files under `path`, recursively:
/// what plain `du` reports.
pub fn dir_allocated_bytes(path: &Path) -> io::Result<u64> {
    walk(path, &|m: &fs::Metadata| m.blocks() * 512)
}

fn walk(path: &Path, size: &dyn Fn(&fs::Metadata) -> u64) -> io::Result<u64> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_file() {
        return Ok(size(&meta));
    }
    if !meta.is_dir() {
        return Ok(0);
    }
    let mut total = 0;
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        match walk(&entry.path(), size) {
            Ok(n) => total += n,
            // A file removed while we walk (RocksDB deletes obsolete files) counts as gone.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_probes_report_plausible_values_on_linux() {
        let peak = peak_rss_bytes().expect("VmHWM on Linux");
        let now = current_rss_bytes().expect("VmRSS on Linux");
        assert!(now > 100 * 1024, "rss {now}");
        assert!(peak >= now);
    }

    #[test]
    fn peak_rss_grows_after_touching_memory() {
        let before = peak_rss_bytes().unwrap();
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        assert!(peak_rss_bytes().unwrap() >= before.max(60 << 20));
    }

    #[test]
    fn status_lines_parse_in_kib() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t1024 kB\nOdd:\t5 MB\n";
        assert_eq!(parse_status_kib(status, "VmHWM:"), Some(2048));
        assert_eq!(parse_status_kib(status, "VmRSS:"), Some(1024));
        assert_eq!(parse_status_kib(status, "Odd:"), None);
        assert_eq!(parse_status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn dir_size_sums_nested_files_and_skips_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), vec![0u8; 1000]).unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/b"), vec![1u8; 234]).unwrap();
        std::os::unix::fs::symlink(dir.path().join("a"), dir.path().join("link")).unwrap();
        assert_eq!(dir_size_bytes(dir.path()).unwrap(), 1234);
        assert_eq!(dir_size_bytes(&dir.path().join("a")).unwrap(), 1000);
        assert!(dir_allocated_bytes(dir.path()).unwrap() >= 1234);
        assert!(dir_size_bytes(&dir.path().join("missing")).is_err());
    }
}
