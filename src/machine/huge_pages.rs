//! How many bytes of some address ranges the kernel backs with 2 MiB pages.
//!
//! The index's node arrays and the hot tier's segment mappings ask for transparent huge pages
//! (`MADV_HUGEPAGE`); whether the kernel grants them depends on its settings, alignment and free
//! memory. [`huge_page_bytes`] reads `/proc/self/smaps` to report what was actually granted, so
//! `Stats` shows it beside the sizes.
//!
//! smaps reports per mapping (VMA), not per byte: a VMA that overlaps a range contributes its
//! huge-page bytes in proportion to the overlap. For the hot tier every segment is its own VMA
//! and the figure is exact; node arrays that share a heap VMA with other allocations get an
//! estimate.

/// For each set of `ranges` (`(start address, length)`, non-overlapping within a set), the
/// bytes mapped with huge pages: `AnonHugePages + FilePmdMapped + ShmemPmdMapped` of every VMA
/// overlapping a range, scaled by the overlapped fraction of the VMA. `/proc/self/smaps` is read
/// once for all sets; 0 where it cannot be read (not Linux).
pub(crate) fn huge_page_bytes<const N: usize>(sets: [&[(usize, usize)]; N]) -> [u64; N] {
    if sets.iter().all(|s| s.is_empty()) {
        return [0; N];
    }
    match std::fs::read_to_string("/proc/self/smaps") {
        Ok(text) => sets.map(|ranges| huge_bytes_in(&text, ranges)),
        Err(_) => [0; N],
    }
}

/// [`huge_page_bytes`] of one set, over the text of an smaps file.
fn huge_bytes_in(smaps: &str, ranges: &[(usize, usize)]) -> u64 {
    let mut sorted: Vec<(usize, usize)> = ranges
        .iter()
        .filter(|r| r.1 > 0)
        .map(|&(s, len)| (s, s.saturating_add(len)))
        .collect();
    sorted.sort_unstable();
    let mut total = 0f64;
    // The VMA being read: its bounds and the bytes of it inside `ranges`.
    let mut vma: Option<(usize, usize, usize)> = None;
    for line in smaps.lines() {
        if let Some((start, end)) = vma_header(line) {
            let overlap = overlap_bytes(&sorted, start, end);
            vma = (overlap > 0).then_some((start, end, overlap));
            continue;
        }
        let Some((start, end, overlap)) = vma else {
            continue;
        };
        let Some((field, rest)) = line.split_once(':') else {
            continue;
        };
        if matches!(field, "AnonHugePages" | "FilePmdMapped" | "ShmemPmdMapped") {
            let kib: f64 = rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(0.0);
            total += kib * 1024.0 * overlap as f64 / (end - start) as f64;
        }
    }
    total.round() as u64
}

/// `(start, end)` of an smaps VMA header line (`7f00-7f80 rw-s 00000000 fe:00 123 /path`).
fn vma_header(line: &str) -> Option<(usize, usize)> {
    let span = line.split(' ').next()?;
    let (a, b) = span.split_once('-')?;
    if a.is_empty() || !a.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let start = usize::from_str_radix(a, 16).ok()?;
    let end = usize::from_str_radix(b, 16).ok()?;
    (end > start).then_some((start, end))
}

/// Bytes of `[start, end)` covered by the sorted `(start, end)` ranges.
fn overlap_bytes(sorted: &[(usize, usize)], start: usize, end: usize) -> usize {
    let first = sorted.partition_point(|r| r.1 <= start);
    sorted[first..]
        .iter()
        .take_while(|r| r.0 < end)
        .map(|r| r.1.min(end) - r.0.max(start))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
00400000-00600000 r-xp 00000000 fe:00 1 /bin/x
Size:               2048 kB
AnonHugePages:         0 kB
FilePmdMapped:      2048 kB
7f0000000000-7f0000800000 rw-p 00000000 00:00 0
Size:               8192 kB
AnonHugePages:      4096 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
VmFlags: rd wr mr mw me ac hg
";

    #[test]
    fn whole_vmas_count_fully_and_partial_overlaps_in_proportion() {
        assert_eq!(huge_bytes_in(SMAPS, &[(0x400000, 0x200000)]), 2 << 20);
        // A quarter of the 8 MiB VMA, which has 4 MiB on huge pages: 1 MiB.
        assert_eq!(huge_bytes_in(SMAPS, &[(0x7f0000000000, 0x200000)]), 1 << 20);
        assert_eq!(
            huge_bytes_in(SMAPS, &[(0x7f0000000000, 0x800000), (0x400000, 0x1000)]),
            (4 << 20) + 4096
        );
        assert_eq!(huge_bytes_in(SMAPS, &[(0x10000, 0x1000)]), 0);
        assert_eq!(huge_bytes_in(SMAPS, &[]), 0);
        assert_eq!(huge_bytes_in("garbage\n:\n-\n", &[(0, 100)]), 0);
    }

    #[test]
    fn reads_this_process() {
        // A range nothing is mapped at has no huge pages; the call must not fail.
        assert_eq!(huge_page_bytes([&[(8, 8)], &[]]), [0, 0]);
    }
}
