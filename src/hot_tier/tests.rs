use super::segment::{segment_file_name, Segment, PREFAULT_UNIT, SEGMENT_HEADER_BYTES};
use super::*;
use crate::options::Options;
use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const SEG: usize = 4096;

fn opts(segments: usize) -> Options {
    Options::default()
        .max_value_bytes(100)
        .hot_segment_bytes(SEG)
        .hot_tier_bytes(segments * SEG)
}

fn value(key: u64, round: u64) -> Vec<u8> {
    let len = 1 + ((key ^ round) % 100) as usize;
    (0..len)
        .map(|i| (key as u8) ^ (round as u8).wrapping_mul(31) ^ i as u8)
        .collect()
}

/// A read whose lookup happened just now (the mark taken here).
fn read_vec(t: &HotTier, loc: Location, key: u64) -> Option<Vec<u8>> {
    t.read_vec(t.read_mark(), loc, key)
}

type Records = Vec<(u64, Location)>;

/// Appends one value per key, returning (key, location) of each and every recycled record.
fn fill(t: &HotTier, w: &mut Appender, keys: std::ops::Range<u64>) -> (Records, Records) {
    let (mut locs, mut recycled) = (Vec::new(), Vec::new());
    for k in keys {
        let a = t.append(w, k, &value(k, 0)).unwrap().expect("accepted");
        locs.push((k, a.location));
        recycled.extend(a.recycled);
    }
    (locs, recycled)
}

#[test]
fn append_then_read_returns_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let (t, mut w, report) = HotTier::open(dir.path(), &opts(3).hot_tier_config()).unwrap();
    assert_eq!(report.kept_segments, 0);
    let (locs, recycled) = fill(&t, &mut w, 0..20);
    assert!(recycled.is_empty());
    for (k, loc) in locs {
        assert_eq!(read_vec(&t, loc, k), Some(value(k, 0)));
    }
    let s = t.stats();
    assert_eq!((s.appends, s.hits, s.segments), (20, 20, 1));
    assert!(dir.path().join(segment_file_name(0)).exists());
}

#[test]
fn wrong_key_or_cold_location_reads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (t, mut w, _) = HotTier::open(dir.path(), &opts(3).hot_tier_config()).unwrap();
    let a = t.append(&mut w, 5, b"five").unwrap().unwrap();
    assert_eq!(read_vec(&t, a.location, 6), None);
    assert_eq!(t.stats().stale, 1, "another key's record: stale");
    assert_eq!(read_vec(&t, Location::COLD, 5), None);
    // A location in a segment never created is stale, not a panic.
    let ghost = Location::hot(2, 0, SEGMENT_HEADER_BYTES, 4).unwrap();
    assert_eq!(read_vec(&t, ghost, 5), None);
    let beyond = Location::hot(1000, 0, SEGMENT_HEADER_BYTES, 4).unwrap();
    assert_eq!(read_vec(&t, beyond, 5), None);
}

#[test]
fn damage_to_a_records_key_reads_nothing_and_value_damage_is_caught_at_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (t, mut w, _) = HotTier::open(dir.path(), &opts(3).hot_tier_config()).unwrap();
    let a = t.append(&mut w, 5, b"five").unwrap().unwrap();
    let b = t.append(&mut w, 6, b"six").unwrap().unwrap();
    t.flush().unwrap();
    // The mapping is shared: a byte changed in the file is seen by the next read. A changed key
    // no longer names the record the index meant: stale.
    let key_at = a.location.as_hot().unwrap().offset as usize;
    corrupt_file(&dir.path().join(segment_file_name(0)), key_at, &[0xEE]);
    assert_eq!(read_vec(&t, a.location, 5), None);
    assert_eq!(t.stats().stale, 1);
    // Reads do not recompute checksums (generation, offset, key and length identify the
    // record), so damaged value bytes are caught when the segment is verified at open.
    let value_at = b.location.as_hot().unwrap().offset as usize + 16;
    corrupt_file(&dir.path().join(segment_file_name(0)), value_at, b"S");
    assert_eq!(read_vec(&t, b.location, 6), Some(b"Six".to_vec()));
    drop((t, w));
    let (t, _w, report) = HotTier::open(dir.path(), &opts(3).hot_tier_config()).unwrap();
    assert_eq!(report.discarded.len(), 1, "{:?}", report.discarded);
    assert_eq!(read_vec(&t, b.location, 6), None);
}

#[test]
#[should_panic(expected = "an appender of another hot tier")]
fn an_appender_appends_only_to_its_own_tier() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_t1, mut w1, _) = HotTier::open(d1.path(), &opts(3).hot_tier_config()).unwrap();
    let (t2, _w2, _) = HotTier::open(d2.path(), &opts(3).hot_tier_config()).unwrap();
    let _ = t2.append(&mut w1, 1, b"x");
}

#[test]
fn values_the_tier_cannot_hold_are_declined() {
    let dir = tempfile::tempdir().unwrap();
    let (t, mut w, _) = HotTier::open(dir.path(), &opts(3).hot_tier_config()).unwrap();
    assert!(t.append(&mut w, 1, &vec![0; SEG]).unwrap().is_none());
    let big = Options::default(); // 8 MiB segments
    let dir2 = tempfile::tempdir().unwrap();
    let (t2, mut w2, _) = HotTier::open(dir2.path(), &big.hot_tier_config()).unwrap();
    assert!(t2
        .append(&mut w2, 1, &vec![0; MAX_HOT_VALUE_LEN])
        .unwrap()
        .is_some());
    assert!(t2
        .append(&mut w2, 1, &vec![0; MAX_HOT_VALUE_LEN + 1])
        .unwrap()
        .is_none());
}

#[test]
fn full_tier_recycles_the_oldest_segment_and_stales_its_locations() {
    let dir = tempfile::tempdir().unwrap();
    let (t, mut w, _) = HotTier::open(dir.path(), &opts(2).hot_tier_config()).unwrap();
    let mut locs = Vec::new();
    let mut k = 0;
    let recycled = loop {
        let a = t.append(&mut w, k, &value(k, 0)).unwrap().unwrap();
        locs.push((k, a.location));
        k += 1;
        if !a.recycled.is_empty() {
            break a.recycled;
        }
    };
    // Exactly the records of segment 0, in order.
    let seg0: Vec<_> = locs
        .iter()
        .copied()
        .filter(|(_, l)| l.as_hot().unwrap().segment == 0 && l.as_hot().unwrap().generation == 0)
        .collect();
    assert_eq!(recycled, seg0);
    for (k, loc) in &seg0 {
        assert_eq!(
            read_vec(&t, *loc, *k),
            None,
            "stale location of key {k} read"
        );
    }
    // The newest record lives in recycled segment 0 under generation 1.
    let (last_k, last_loc) = *locs.last().unwrap();
    assert_eq!(last_loc.as_hot().unwrap().segment, 0);
    assert_eq!(last_loc.as_hot().unwrap().generation, 1);
    assert_eq!(read_vec(&t, last_loc, last_k), Some(value(last_k, 0)));
    // Segment 1 is untouched.
    for (k, loc) in locs
        .iter()
        .filter(|(_, l)| l.as_hot().unwrap().segment == 1)
    {
        assert_eq!(read_vec(&t, *loc, *k), Some(value(*k, 0)));
    }
    let s = t.stats();
    assert_eq!(s.recycled, 1);
    assert_eq!(s.demoted, seg0.len() as u64);
    assert_eq!(s.stale, seg0.len() as u64);
    assert_eq!(s.segments, 2);
}

#[test]
fn reopen_recovers_records_oldest_first_with_their_generations() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(2);
    let live = {
        let (t, mut w, _) = HotTier::open(dir.path(), &o.hot_tier_config()).unwrap();
        let (locs, recycled) = fill(&t, &mut w, 0..200); // ~14 KB of records: wraps around
        assert!(!recycled.is_empty());
        t.flush().unwrap();
        let gone: std::collections::HashSet<_> = recycled.into_iter().collect();
        locs.into_iter()
            .filter(|r| !gone.contains(r))
            .collect::<Vec<_>>()
    };
    let (t, mut w, report) = HotTier::open(dir.path(), &o.hot_tier_config()).unwrap();
    assert!(report.discarded.is_empty(), "{:?}", report.discarded);
    assert_eq!(report.kept_segments, 2);
    assert_eq!(t.records(), live);
    for (k, loc) in &live {
        assert_eq!(read_vec(&t, *loc, *k), Some(value(*k, 0)));
    }
    // Appending continues in the newest segment, then recycles the older one.
    let a = t.append(&mut w, 1000, b"x").unwrap().unwrap();
    assert_eq!(
        a.location.as_hot().unwrap().segment,
        live.last().unwrap().1.as_hot().unwrap().segment
    );
}

fn corrupt_file(path: &Path, at: usize, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at as u64)).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn damaged_truncated_or_foreign_segments_are_discarded_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(4);
    {
        let (t, mut w, _) = HotTier::open(dir.path(), &o.hot_tier_config()).unwrap();
        fill(&t, &mut w, 0..160); // ~10 KB of records: segments 0..=2
        assert_eq!(t.stats().segments, 3);
    }
    let p0 = dir.path().join(segment_file_name(0));
    let p1 = dir.path().join(segment_file_name(1));
    let p3 = dir.path().join(segment_file_name(3));
    corrupt_file(&p0, SEGMENT_HEADER_BYTES + 16, b"\xff"); // the first value byte
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p1)
        .unwrap()
        .set_len(100)
        .unwrap();
    std::fs::write(&p3, vec![0x5a; SEG]).unwrap();
    let (t, _, report) = HotTier::open(dir.path(), &o.hot_tier_config()).unwrap();
    let mut discarded: Vec<_> = report.discarded.iter().map(|(p, _)| p.clone()).collect();
    discarded.sort();
    assert_eq!(discarded, vec![p0.clone(), p1.clone(), p3.clone()]);
    assert!(!p0.exists() && !p1.exists() && !p3.exists());
    assert_eq!(report.kept_segments, 1);
    let records = t.records();
    assert!(records
        .iter()
        .all(|(_, l)| l.as_hot().unwrap().segment == 2));
    for (k, loc) in &records {
        assert_eq!(read_vec(&t, *loc, *k), Some(value(*k, 0)));
    }
}

#[test]
fn an_old_generation_record_behind_the_end_is_never_resurrected() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(2);
    let p0 = dir.path().join(segment_file_name(0));
    {
        let (t, mut w, _) = HotTier::open(dir.path(), &o.hot_tier_config()).unwrap();
        let (locs, _) = fill(&t, &mut w, 0..2);
        let old = std::fs::read(&p0).unwrap();
        let second = locs[1].1.as_hot().unwrap().offset as usize;
        let mut k = 2;
        while t
            .append(&mut w, k, &value(k, 0))
            .unwrap()
            .unwrap()
            .recycled
            .is_empty()
        {
            k += 1;
        }
        // Segment 0 now holds one generation-1 record at the start. Simulate a lost end marker:
        // copy generation 0's second record (valid under its old seed) right after it.
        let first_span = record_span(value(k, 0).len());
        let old_rec = &old[second..second + record_span(value(1, 0).len())];
        corrupt_file(&p0, SEGMENT_HEADER_BYTES + first_span, old_rec);
    }
    let (t, _, report) = HotTier::open(dir.path(), &o.hot_tier_config()).unwrap();
    assert_eq!(
        report.discarded.len(),
        1,
        "old-generation bytes must not verify"
    );
    assert!(t.records().iter().all(|(k, _)| *k != 1));
}

#[test]
fn disabled_or_shrunk_tier_deletes_surplus_segments() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (t, mut w, _) = HotTier::open(dir.path(), &opts(4).hot_tier_config()).unwrap();
        fill(&t, &mut w, 0..160);
        assert_eq!(t.stats().segments, 3);
    }
    let (_, _, report) = HotTier::open(dir.path(), &opts(2).hot_tier_config()).unwrap();
    assert_eq!(report.discarded.len(), 1, "segment 2 is beyond 2 segments");
    let (t, mut w, report) =
        HotTier::open(dir.path(), &opts(2).hot_tier_bytes(0).hot_tier_config()).unwrap();
    assert_eq!(report.discarded.len(), 2);
    assert!(!t.is_enabled());
    assert!(t.append(&mut w, 1, b"x").unwrap().is_none());
    assert!(!t.stats().enabled);
    let left = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(left, 0);
}

/// Readers hammer locations while the writer keeps the two-segment tier recycling. A read may
/// miss, but whatever it returns must be exactly the value appended for that key and round.
#[test]
fn concurrent_reads_during_recycling_never_return_wrong_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (t, mut w, _) = HotTier::open(dir.path(), &opts(2).hot_tier_config()).unwrap();
    let t = Arc::new(t);
    let published: Arc<RwLock<Vec<(u64, u64, Location)>>> = Arc::new(RwLock::new(Vec::new()));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (t, published, done) = (t.clone(), published.clone(), done.clone());
            std::thread::spawn(move || {
                let (mut hits, mut i) = (0u64, r);
                while !done.load(Ordering::Relaxed) {
                    // Taken before the "lookup", as the engine does.
                    let mark = t.read_mark();
                    let entry = {
                        let p = published.read();
                        if p.is_empty() {
                            continue;
                        }
                        p[i % p.len()]
                    };
                    i = i
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let (k, round, loc) = entry;
                    if let Some(v) = t.read_vec(mark, loc, k) {
                        assert_eq!(v, value(k, round), "key {k} round {round}");
                        hits += 1;
                    }
                }
                hits
            })
        })
        .collect();
    // At least 4000 appends, and on until the readers (slow to start) have hit a lot.
    let start = std::time::Instant::now();
    let mut round = 0u64;
    while round < 4000 || (t.stats().hits < 1_000 && start.elapsed().as_secs() < 20) {
        round += 1;
        let k = round % 37;
        let a = t.append(&mut w, k, &value(k, round)).unwrap().unwrap();
        let mut p = published.write();
        if p.len() >= 64 {
            p.remove(0);
        }
        p.push((k, round, a.location));
    }
    done.store(true, Ordering::Relaxed);
    let hits: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(hits >= 1_000);
    assert!(t.stats().recycled > 10);
}

#[test]
fn tier_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<HotTier>();
    assert_send_sync::<crate::cache::ValueCache>();
}

fn big_opts(segments: usize, size: usize) -> Options {
    Options::default()
        .max_value_bytes(100)
        .hot_segment_bytes(size)
        .hot_tier_bytes(segments * size)
}

#[test]
fn prefaults_run_ahead_of_the_appender_and_start_over_on_recycle() {
    const BIG: usize = 16 << 20;
    let dir = tempfile::tempdir().unwrap();
    let o = big_opts(2, BIG);
    let (t, mut w, _) = HotTier::open(dir.path(), &o.hot_tier_config()).unwrap();
    // Before the first append there is no active segment: nothing to do, nothing breaks.
    t.prefault_ahead(0);
    let expected = |seg: &Segment| {
        (seg.committed() + PREFAULT_AHEAD)
            .next_multiple_of(PREFAULT_UNIT)
            .min(BIG)
    };
    let mut key = 0u64;
    let mut append = |w: &mut Appender| {
        let a = t.append(w, key, &value(key, 0)).unwrap().expect("accepted");
        key += 1;
        a.location.as_hot().expect("hot").segment as usize
    };
    // Segment 0, then segment 1, then segment 0 again (recycled): after every append the
    // prefault reaches PREFAULT_AHEAD past the end of records, in whole units.
    let mut partial_claims = 0;
    for (want_segment, stop_at) in [(0usize, 1usize), (1, 0), (0, usize::MAX)] {
        loop {
            let s = append(&mut w);
            if s != want_segment {
                assert_eq!(s, stop_at, "segments fill in ring order");
                break;
            }
            t.prefault_ahead(0);
            let seg = t.slots[s].get().unwrap();
            assert_eq!(
                seg.prefaulted(),
                expected(seg),
                "segment {s} at {}",
                seg.committed()
            );
            // A claim that starts from an earlier one (not from 0) and stops before the end.
            partial_claims += usize::from((3 * PREFAULT_UNIT..BIG).contains(&seg.prefaulted()));
            if want_segment == 0 && stop_at == usize::MAX && seg.committed() > PREFAULT_UNIT {
                break;
            }
        }
    }
    assert!(partial_claims > 0);
    // The recycled segment started over: its claims are again just ahead of its records.
    let seg0 = t.slots[0].get().unwrap();
    assert!(seg0.prefaulted() < BIG, "{}", seg0.prefaulted());
    // A request beyond the segment stops at its end, and the kernel takes the advice (or
    // predates MADV_POPULATE_WRITE).
    let r = seg0.prefault_to(10 * BIG);
    assert!(
        r.is_ok() || r.as_ref().unwrap_err().raw_os_error() == Some(libc::EINVAL),
        "{r:?}"
    );
    assert_eq!(seg0.prefaulted(), BIG);
    // Reopened, a segment's prefaults start at the last whole unit below its records.
    let end = seg0.committed();
    drop((w, t));
    let (t, _, report) = HotTier::open(dir.path(), &o.hot_tier_config()).unwrap();
    assert_eq!(report.kept_segments, 2);
    let seg0 = t.slots[0].get().unwrap();
    assert_eq!(seg0.committed(), end);
    assert_eq!(seg0.prefaulted(), end / PREFAULT_UNIT * PREFAULT_UNIT);
}

#[test]
fn prefaults_racing_the_appender_change_no_byte() {
    const BIG: usize = 5 << 20;
    let dir = tempfile::tempdir().unwrap();
    let o = big_opts(2, BIG);
    let (t, mut w, _) = HotTier::open(dir.path(), &o.hot_tier_config()).unwrap();
    let t = Arc::new(t);
    let stop = Arc::new(AtomicBool::new(false));
    let helper = {
        let (t, stop) = (Arc::clone(&t), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                t.prefault_ahead(0);
            }
        })
    };
    // About half of the first segment, while the helper prefaults.
    let (locs, recycled) = fill(&t, &mut w, 0..40_000);
    stop.store(true, Ordering::Relaxed);
    helper.join().unwrap();
    assert!(recycled.is_empty());
    for &(k, loc) in &locs {
        assert_eq!(read_vec(&t, loc, k), Some(value(k, 0)), "key {k}");
    }
    // Every record still verifies at reopen (its checksum covers its bytes).
    drop(Arc::try_unwrap(t).ok().expect("no other owner"));
    let (t, _, report) = HotTier::open(dir.path(), &o.hot_tier_config()).unwrap();
    assert_eq!((report.kept_segments, report.discarded.len()), (1, 0));
    for &(k, loc) in &locs {
        assert_eq!(
            read_vec(&t, loc, k),
            Some(value(k, 0)),
            "key {k} after reopen"
        );
    }
}

/// A read whose lookup came before a recycle (of any segment) is refused even when its
/// location names a live record: the mark, not the 14-bit generation, says the lookup is older.
#[test]
fn a_read_whose_mark_predates_a_recycle_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (t, mut w, _) = HotTier::open(dir.path(), &opts(2).hot_tier_config()).unwrap();
    let a = t.append(&mut w, 1, b"one").unwrap().unwrap();
    let mark = t.read_mark();
    assert_eq!(t.read_vec(mark, a.location, 1), Some(b"one".to_vec()));
    // Fill on until a segment is recycled.
    let mut k = 10;
    while t.stats().recycled == 0 {
        t.append(&mut w, k, &value(k, 0)).unwrap().unwrap();
        k += 1;
    }
    let b = t.append(&mut w, 2, b"two").unwrap().unwrap();
    assert_eq!(
        t.read_vec(mark, b.location, 2),
        None,
        "lookup before the recycle"
    );
    assert_eq!(
        t.read_vec(t.read_mark(), b.location, 2),
        Some(b"two".to_vec())
    );
}

/// An epoch at the limit in a segment header (damage, or a crafted file) is discarded at open,
/// not taken as the base of the next epochs, which would overflow and wrap onto old ones.
#[test]
fn a_segment_epoch_at_the_limit_is_discarded_not_wrapped() {
    let dir = tempfile::tempdir().unwrap();
    for epoch in [MAX_EPOCH, u64::MAX] {
        drop(Segment::create(dir.path(), 0, SEG, 0, epoch).unwrap());
        let (t, mut w, report) = HotTier::open(dir.path(), &opts(2).hot_tier_config()).unwrap();
        assert_eq!(report.discarded.len(), 1, "{:?}", report.discarded);
        assert!(
            report.discarded[0].1.contains("epoch"),
            "{:?}",
            report.discarded
        );
        assert_eq!(t.epoch_floor(&w), 1);
        t.append(&mut w, 1, b"x").unwrap().unwrap();
        assert_eq!(t.identities(), vec![SegmentIdentity { index: 0, epoch: 1 }]);
        assert!(!t.raise_epoch_floor(&mut w, MAX_EPOCH));
        assert_eq!(t.epoch_floor(&w), 2);
    }
}

/// A segment file with holes (restored from a backup, say) gets its blocks reserved at open,
/// as a created one does, so a full disk is an error then and not a SIGBUS on a later append.
#[cfg(target_os = "linux")]
#[test]
fn a_sparse_segment_gets_its_blocks_reserved_at_open() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let size = 1 << 20;
    let o = big_opts(1, size);
    let (t, mut w, _) = HotTier::open(dir.path(), &o.hot_tier_config()).unwrap();
    let a = t.append(&mut w, 7, b"seven").unwrap().unwrap();
    t.flush().unwrap();
    drop((t, w));
    let path = dir.path().join(segment_file_name(0));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(size as u64).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &bytes[..4096], 0).unwrap();
    f.sync_all().unwrap();
    let blocks = |p: &Path| std::fs::metadata(p).unwrap().blocks() * 512;
    assert!(
        blocks(&path) < size as u64,
        "the file is sparse to begin with"
    );
    let (t, _w, report) = HotTier::open(dir.path(), &o.hot_tier_config()).unwrap();
    assert_eq!(report.kept_segments, 1, "{:?}", report.discarded);
    assert!(
        blocks(&path) >= size as u64,
        "{} bytes allocated",
        blocks(&path)
    );
    assert_eq!(read_vec(&t, a.location, 7), Some(b"seven".to_vec()));
}

/// `keep_exact` keeps a saved location only when its segment still has the saved identity and
/// a record of its key and length starts at its offset.
#[test]
fn keep_exact_keeps_only_locations_that_name_their_record() {
    let dir = tempfile::tempdir().unwrap();
    let (t, mut w, _) = HotTier::open(dir.path(), &opts(3).hot_tier_config()).unwrap();
    let (locs, _) = fill(&t, &mut w, 0..10);
    let saved = t.identities();
    let floor = t.epoch_floor(&w);
    t.flush().unwrap();
    drop((t, w));
    let (t, mut w, _) = HotTier::open(dir.path(), &opts(3).hot_tier_config()).unwrap();
    assert!(t.raise_epoch_floor(&mut w, floor));
    let keys: Vec<u64> = locs.iter().map(|&(k, _)| k).collect();
    let raw = |l: Location| l.to_raw();
    let mut exact: Vec<u64> = locs.iter().map(|&(_, l)| raw(l)).collect();
    assert_eq!(t.keep_exact(&saved, &keys, &mut exact), 0);
    assert_eq!(exact, locs.iter().map(|&(_, l)| raw(l)).collect::<Vec<_>>());

    let h = locs[3].1.as_hot().unwrap();
    let shifted = Location::hot(
        0,
        u32::from(h.generation),
        h.offset as usize + 8,
        h.len as usize,
    );
    let longer = Location::hot(
        0,
        u32::from(h.generation),
        h.offset as usize,
        h.len as usize + 1,
    );
    let mut bad = vec![
        raw(locs[4].1),                                 // another key's record
        raw(shifted.unwrap()),                          // inside a record
        raw(longer.unwrap()),                           // another length
        raw(Location::hot(0, 0, SEG - 64, 8).unwrap()), // past the records
        raw(Location::hot(1, 0, SEGMENT_HEADER_BYTES, h.len as usize).unwrap()), // no segment 1
        Location::COLD.to_raw(),
    ];
    let keys3 = vec![3u64; bad.len()];
    assert_eq!(t.keep_exact(&saved, &keys3, &mut bad), 5);
    assert!(bad.iter().all(|&l| l == Location::COLD.to_raw()), "{bad:?}");

    // Another identity saved for segment 0 (the one it had was re-created since).
    let other = [SegmentIdentity {
        index: 0,
        epoch: saved[0].epoch + 1,
    }];
    let mut all: Vec<u64> = locs.iter().map(|&(_, l)| raw(l)).collect();
    assert_eq!(t.keep_exact(&other, &keys, &mut all), 10);
    // A segment re-created after the floor was raised never takes a saved identity.
    drop((t, w));
    std::fs::remove_file(dir.path().join(segment_file_name(0))).unwrap();
    let (t, mut w, _) = HotTier::open(dir.path(), &opts(3).hot_tier_config()).unwrap();
    assert!(t.raise_epoch_floor(&mut w, floor));
    fill(&t, &mut w, 0..10);
    assert!(t.identities().iter().all(|id| id.epoch >= floor));
    let mut again: Vec<u64> = locs.iter().map(|&(_, l)| raw(l)).collect();
    assert_eq!(t.keep_exact(&saved, &keys, &mut again), 10);
}

/// The segment reader on bytes it did not write: arbitrary, truncated and bit-flipped files.
/// Whatever the bytes, opening gives a verified segment or a reason (a discarded file, counted
/// in the report), never a panic and never a read outside the mapping; a segment that
/// verifies reads back only records that lie inside it.
mod decoder {
    use super::*;
    use proptest::prelude::*;

    /// A valid segment file of `SEG` bytes holding `n` records, and the records.
    fn valid_segment(n: u64) -> (Vec<u8>, Records) {
        let dir = tempfile::tempdir().unwrap();
        let (t, mut w, _) = HotTier::open(dir.path(), &opts(2).hot_tier_config()).unwrap();
        let (locs, _) = fill(&t, &mut w, 0..n);
        t.flush().unwrap();
        let bytes = std::fs::read(dir.path().join(segment_file_name(0))).unwrap();
        (bytes, locs)
    }

    /// Opens `bytes` as segment 0 of a tier and checks what a verified tier then answers.
    fn open_bytes(bytes: &[u8]) -> (usize, usize) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(segment_file_name(0)), bytes).unwrap();
        let (t, _w, report) = HotTier::open(dir.path(), &opts(2).hot_tier_config()).unwrap();
        assert_eq!(report.kept_segments + report.discarded.len(), 1);
        for (key, loc) in t.records() {
            let h = loc.as_hot().unwrap();
            assert!(h.offset as usize + record_span(h.len as usize) <= SEG);
            // A record the walk verified reads back as itself.
            assert!(read_vec(&t, loc, key).is_some_and(|v| v.len() == h.len as usize));
        }
        (report.kept_segments, report.discarded.len())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_bytes_are_discarded_or_verified(
            bytes in proptest::collection::vec(any::<u8>(), 0..2 * SEG),
        ) {
            open_bytes(&bytes);
        }

        #[test]
        fn arbitrary_records_behind_a_valid_header_never_read_out_of_bounds(
            tail in proptest::collection::vec(any::<u8>(), SEG - SEGMENT_HEADER_BYTES),
        ) {
            let (mut bytes, _) = valid_segment(1);
            bytes[SEGMENT_HEADER_BYTES..].copy_from_slice(&tail);
            open_bytes(&bytes);
        }

        #[test]
        fn flipped_or_truncated_segments_are_discarded_or_still_exact(
            n in 1u64..30,
            flips in proptest::collection::vec((0usize..SEG, 1u8..=255), 1..4),
            cut in proptest::option::of(0usize..SEG),
        ) {
            let (mut bytes, locs) = valid_segment(n);
            let records_end = {
                let last = locs.last().unwrap().1.as_hot().unwrap();
                last.offset as usize + record_span(last.len as usize)
            };
            let mut touched_records = false;
            let mut flipped = std::collections::BTreeSet::new();
            for &(at, x) in &flips {
                // Once per byte: two flips of one byte could cancel out.
                if flipped.insert(at) {
                    bytes[at] ^= x;
                    touched_records |= at < records_end;
                }
            }
            if let Some(len) = cut {
                bytes.truncate(len);
            }
            let (kept, discarded) = open_bytes(&bytes);
            if cut.is_some() {
                prop_assert_eq!((kept, discarded), (0, 1), "a truncated file is discarded");
            } else if touched_records {
                // Header or record damage: discarded, or (a flip in a record's padding or in a
                // header byte no check reads) kept with every record still verifying.
                prop_assert_eq!(kept + discarded, 1);
            }
        }
    }
}
