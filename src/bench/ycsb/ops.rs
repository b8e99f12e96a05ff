//! The YCSB operation stream: the load phase's keys and the run phase's operations.
//!
//! [`YcsbOps`] reproduces CoreWorkload's transaction phase for one client thread:
//!
//! * the operation kind comes from a [`DiscreteGenerator`] over the five proportions, in YCSB's
//!   order (read, update, insert, scan, read-modify-write);
//! * inserts take the next sequence number of an [`AcknowledgedCounter`] that starts at
//!   `recordcount` (the load phase inserted `0..recordcount`). The stream acknowledges each
//!   insert as it hands it out, so **the consumer must execute the operations in order**: an
//!   operation after an insert may read the inserted key;
//! * other operations choose a sequence number with the request distribution and redraw while
//!   it is above the highest acknowledged insert, as YCSB's `nextKeynum` does. For `zipfian` the
//!   scrambled Zipfian covers `recordcount + 2 * operationcount * insertproportion` items (YCSB's
//!   "fudge factor"), so the popular keys do not shift as inserts arrive;
//! * scan lengths are uniform (or Zipfian) in `[minscanlength, maxscanlength]`.
//!
//! A sequence number becomes the record's number through [`Workload::key_for_seq`]
//! (`insertorder`), and operations carry numbers. The engines are given the record's name
//! (`"user"` + the number, [`super::write_record_name`]) or, with `u64` keys, the number itself
//! (see the [module docs](super)). A scan `Scan(k, n)` asks for `n` records from `k` upwards in
//! the engines' key order: the byte order of the names, as YCSB scans, or `u64` order.
//!
//! Records are `fieldcount * fieldlength` bytes stored as one value, derived from the record's
//! number with [`record_value`] (the same bytes whichever key the engines are given), so every
//! read can be checked. Updates and read-modify-writes write the
//! same bytes again: the engine does the work of a write, and reads stay checkable.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::generators::{
    AcknowledgedCounter, DiscreteGenerator, HotspotGenerator, ScrambledZipfianGenerator,
    SkewedLatestGenerator, UniformGenerator, ZipfianGenerator,
};
use super::workload::{RequestDistribution, ScanLengthDistribution, Workload, WorkloadError};
use crate::bench::rng::Rng;
use crate::bench::values::value_for;

/// One operation of the run phase, on record numbers (the engine key itself with `u64` keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Read one record.
    Read(u64),
    /// Overwrite one existing record.
    Update(u64),
    /// Insert a new record.
    Insert(u64),
    /// Read up to `len` records with keys `>= start`'s key, in the engines' key order.
    Scan(u64, usize),
    /// Read one record, then write it back.
    ReadModifyWrite(u64),
}

impl Op {
    /// The kind of operation, for counting and per-kind latency histograms.
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Read(_) => OpKind::Read,
            Op::Update(_) => OpKind::Update,
            Op::Insert(_) => OpKind::Insert,
            Op::Scan(..) => OpKind::Scan,
            Op::ReadModifyWrite(_) => OpKind::ReadModifyWrite,
        }
    }

    /// The number of the record the operation is about (the start record for a scan).
    pub fn key(&self) -> u64 {
        match *self {
            Op::Read(k)
            | Op::Update(k)
            | Op::Insert(k)
            | Op::Scan(k, _)
            | Op::ReadModifyWrite(k) => k,
        }
    }
}

/// The five YCSB operation kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum OpKind {
    /// `READ`.
    Read,
    /// `UPDATE`.
    Update,
    /// `INSERT`.
    Insert,
    /// `SCAN`.
    Scan,
    /// `READ-MODIFY-WRITE`.
    ReadModifyWrite,
}

impl OpKind {
    /// All kinds in YCSB's order, which is also the order of [`Workload::proportions`].
    pub const ALL: [OpKind; 5] = [
        OpKind::Read,
        OpKind::Update,
        OpKind::Insert,
        OpKind::Scan,
        OpKind::ReadModifyWrite,
    ];

    /// YCSB's name for the kind, as in its reports (`READ`, `READ-MODIFY-WRITE`, ...).
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "READ",
            OpKind::Update => "UPDATE",
            OpKind::Insert => "INSERT",
            OpKind::Scan => "SCAN",
            OpKind::ReadModifyWrite => "READ-MODIFY-WRITE",
        }
    }

    /// Position in [`OpKind::ALL`], for arrays indexed by kind.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The record numbers of the load phase, in insertion order (sequence numbers
/// `0..recordcount`).
pub fn load_keys(workload: &Workload) -> impl Iterator<Item = u64> + '_ {
    (0..workload.recordcount).map(move |seq| workload.key_for_seq(seq))
}

/// Replaces `out` with the value of the record numbered `key` (`workload.record_len()` bytes).
pub fn record_value(workload: &Workload, key: u64, out: &mut Vec<u8>) {
    value_for(key, workload.record_len(), out);
}

#[derive(Clone, Debug)]
enum KeyChooser {
    Uniform(UniformGenerator),
    Zipfian(ScrambledZipfianGenerator),
    Latest(SkewedLatestGenerator),
    Hotspot(HotspotGenerator),
}

#[derive(Clone, Debug)]
enum ScanLength {
    Uniform(UniformGenerator),
    Zipfian(ZipfianGenerator),
}

/// The run phase's operations, deterministic in `(workload, seed)`; see the module docs.
///
/// ```
/// use alexkv::bench::ycsb::{Op, Workload, YcsbOps};
/// let mut w = Workload::standard("d").unwrap();
/// w.set("recordcount", "1000").unwrap();
/// w.set("operationcount", "100").unwrap();
/// let ops: Vec<Op> = YcsbOps::new(&w, 42).unwrap().collect();
/// assert_eq!(ops.len(), 100);
/// assert_eq!(ops, YcsbOps::new(&w, 42).unwrap().collect::<Vec<_>>());
/// ```
#[derive(Clone, Debug)]
pub struct YcsbOps {
    workload: Workload,
    rng: Rng,
    kinds: DiscreteGenerator<OpKind>,
    keys: KeyChooser,
    scan_length: ScanLength,
    inserts: AcknowledgedCounter,
    remaining: u64,
}

impl YcsbOps {
    /// The stream of `workload.operationcount` operations for `seed`.
    pub fn new(workload: &Workload, seed: u64) -> Result<YcsbOps, WorkloadError> {
        workload.validate()?;
        let w = workload;
        let mut kinds = DiscreteGenerator::new();
        for (kind, weight) in OpKind::ALL.into_iter().zip(w.proportions()) {
            kinds.add(weight, kind);
        }
        let last = w.recordcount - 1;
        let keys = match w.requestdistribution {
            RequestDistribution::Uniform => KeyChooser::Uniform(UniformGenerator::new(0, last)),
            RequestDistribution::Zipfian => {
                // YCSB: (int) (opcount * insertproportion * 2.0), a 2x "fudge factor".
                let expected_new = (w.operationcount as f64 * w.insertproportion * 2.0) as u64;
                KeyChooser::Zipfian(ScrambledZipfianGenerator::new(
                    0,
                    w.recordcount + expected_new,
                ))
            }
            RequestDistribution::Latest => KeyChooser::Latest(SkewedLatestGenerator::new(last)),
            RequestDistribution::Hotspot => KeyChooser::Hotspot(HotspotGenerator::new(
                0,
                last,
                w.hotspotdatafraction,
                w.hotspotopnfraction,
            )),
        };
        let scan_length = match w.scanlengthdistribution {
            ScanLengthDistribution::Uniform => {
                ScanLength::Uniform(UniformGenerator::new(w.minscanlength, w.maxscanlength))
            }
            ScanLengthDistribution::Zipfian => {
                ScanLength::Zipfian(ZipfianGenerator::new(w.minscanlength, w.maxscanlength))
            }
        };
        Ok(YcsbOps {
            workload: w.clone(),
            rng: Rng::derive(seed, 0x5C5B),
            kinds,
            keys,
            scan_length,
            inserts: AcknowledgedCounter::new(w.recordcount),
            remaining: w.operationcount,
        })
    }

    /// Records that exist once every operation handed out so far has run.
    pub fn records(&self) -> u64 {
        self.inserts.last().map_or(0, |last| last + 1)
    }

    /// The workload this stream follows.
    pub fn workload(&self) -> &Workload {
        &self.workload
    }

    /// YCSB's `nextKeynum`: a sequence number no higher than the last acknowledged insert.
    fn next_seq(&mut self) -> u64 {
        let last = self
            .inserts
            .last()
            .expect("validated workloads have at least one record");
        loop {
            let seq = match &mut self.keys {
                KeyChooser::Uniform(g) => g.next(&mut self.rng),
                KeyChooser::Zipfian(g) => g.next(&mut self.rng),
                KeyChooser::Latest(g) => g.next(&mut self.rng, last),
                KeyChooser::Hotspot(g) => g.next(&mut self.rng),
            };
            if seq <= last {
                return seq;
            }
        }
    }

    fn next_scan_length(&mut self) -> usize {
        let len = match &mut self.scan_length {
            ScanLength::Uniform(g) => g.next(&mut self.rng),
            // YCSB's Zipfian can return max + 1 at the very edge of its range; clamp it.
            ScanLength::Zipfian(g) => g.next(&mut self.rng).min(self.workload.maxscanlength),
        };
        len as usize
    }
}

impl Iterator for YcsbOps {
    type Item = Op;

    fn next(&mut self) -> Option<Op> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let op = match self.kinds.next(&mut self.rng) {
            OpKind::Insert => {
                let seq = self.inserts.next_value();
                // Acknowledged at once: the consumer runs operations in order (module docs).
                self.inserts.acknowledge(seq);
                Op::Insert(self.workload.key_for_seq(seq))
            }
            OpKind::Scan => {
                // YCSB draws the start key first, then the length.
                let seq = self.next_seq();
                let len = self.next_scan_length();
                Op::Scan(self.workload.key_for_seq(seq), len)
            }
            kind => {
                let seq = self.next_seq();
                let key = self.workload.key_for_seq(seq);
                match kind {
                    OpKind::Read => Op::Read(key),
                    OpKind::Update => Op::Update(key),
                    _ => Op::ReadModifyWrite(key),
                }
            }
        };
        Some(op)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

impl ExactSizeIterator for YcsbOps {}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::bench::values::check_value;
    use crate::bench::ycsb::ycsb_key_to_u64;

    fn counts(ops: &[Op]) -> [u64; 5] {
        let mut c = [0u64; 5];
        for op in ops {
            c[op.kind().index()] += 1;
        }
        c
    }

    #[test]
    fn standard_workload_op_mix_matches_proportions_within_one_percent() {
        for letter in ["a", "b", "c", "d", "e", "f"] {
            let mut w = Workload::standard(letter).unwrap();
            w.set("operationcount", "100000").unwrap();
            let ops: Vec<Op> = YcsbOps::new(&w, 1).unwrap().collect();
            assert_eq!(ops.len(), 100_000);
            let c = counts(&ops);
            let sum: f64 = w.proportions().iter().sum();
            for (kind, (&n, p)) in OpKind::ALL.iter().zip(c.iter().zip(w.proportions())) {
                let share = n as f64 / ops.len() as f64;
                assert!(
                    (share - p / sum).abs() < 0.01,
                    "workload {letter} {kind}: {share} vs {p}"
                );
            }
        }
    }

    #[test]
    fn streams_are_deterministic_per_seed() {
        let mut w = Workload::standard("a").unwrap();
        w.set("operationcount", "1000").unwrap();
        let a: Vec<Op> = YcsbOps::new(&w, 7).unwrap().collect();
        assert_eq!(a, YcsbOps::new(&w, 7).unwrap().collect::<Vec<_>>());
        assert_ne!(a, YcsbOps::new(&w, 8).unwrap().collect::<Vec<_>>());
        assert_eq!(YcsbOps::new(&w, 7).unwrap().len(), 1000);
    }

    #[test]
    fn operations_only_touch_loaded_or_already_inserted_keys() {
        for letter in ["a", "d", "e"] {
            let mut w = Workload::standard(letter).unwrap();
            w.set("recordcount", "10000").unwrap();
            w.set("operationcount", "50000").unwrap();
            let mut present: HashSet<u64> = load_keys(&w).collect();
            let mut stream = YcsbOps::new(&w, 3).unwrap();
            let mut inserts = 0;
            while let Some(op) = stream.next() {
                match op {
                    Op::Insert(k) => {
                        assert_eq!(k, ycsb_key_to_u64(10_000 + inserts));
                        assert!(present.insert(k), "insert of an existing key");
                        inserts += 1;
                        assert_eq!(stream.records(), 10_000 + inserts);
                    }
                    Op::Scan(k, len) => {
                        assert!(present.contains(&k));
                        assert!((1..=100).contains(&len) || letter != "e");
                    }
                    other => assert!(present.contains(&other.key()), "{letter}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn latest_distribution_favours_the_newest_record_at_each_moment() {
        let mut w = Workload::standard("d").unwrap();
        w.set("recordcount", "100000").unwrap();
        w.set("operationcount", "20000").unwrap();
        let mut newest = ycsb_key_to_u64(99_999);
        let (mut reads, mut newest_reads) = (0u32, 0u32);
        for op in YcsbOps::new(&w, 5).unwrap() {
            match op {
                Op::Insert(k) => newest = k,
                Op::Read(k) => {
                    reads += 1;
                    newest_reads += (k == newest) as u32;
                }
                _ => unreachable!("workload d only reads and inserts"),
            }
        }
        // The newest record is the Zipfian's item 0: 1/zeta(1e5, 0.99), about 8.7% of reads.
        let share = newest_reads as f64 / reads as f64;
        assert!((0.07..0.105).contains(&share), "newest share {share}");
    }

    #[test]
    fn zipfian_requests_concentrate_on_few_keys() {
        let mut w = Workload::standard("c").unwrap();
        w.set("operationcount", "100000").unwrap();
        let mut freq: HashMap<u64, u32> = HashMap::new();
        for op in YcsbOps::new(&w, 9).unwrap() {
            *freq.entry(op.key()).or_default() += 1;
        }
        let top = *freq.values().max().unwrap() as f64 / 100_000.0;
        assert!((0.03..0.05).contains(&top), "top key share {top}");
        assert!(freq.len() < 70_000);
    }

    #[test]
    fn uniform_hotspot_and_zipfian_scan_lengths_work() {
        let mut w = Workload::parse(
            "recordcount=1000\noperationcount=20000\nreadproportion=0.5\nscanproportion=0.5\n\
             updateproportion=0\nrequestdistribution=hotspot\nscanlengthdistribution=zipfian\n\
             maxscanlength=50\ninsertorder=ordered\n",
        )
        .unwrap();
        let ops: Vec<Op> = YcsbOps::new(&w, 2).unwrap().collect();
        let hot = ops.iter().filter(|op| op.key() < 200).count() as f64 / ops.len() as f64;
        assert!((hot - 0.8).abs() < 0.02, "hot share {hot}");
        let mut short = 0;
        for op in &ops {
            if let Op::Scan(_, len) = op {
                assert!((1..=50).contains(len));
                short += (*len == 1) as u32;
            }
        }
        assert!(short > 1000, "Zipfian scan lengths favour 1: {short}");
        w.set("requestdistribution", "uniform").unwrap();
        assert!(YcsbOps::new(&w, 2).unwrap().all(|op| op.key() < 1000));
    }

    #[test]
    fn hashed_load_keys_of_the_default_record_count_are_distinct() {
        let w = Workload::standard("a").unwrap();
        let mut keys: Vec<u64> = load_keys(&w).collect();
        assert_eq!(keys.len(), 1_000_000);
        assert_eq!(keys[0], ycsb_key_to_u64(0));
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 1_000_000, "FNV-64 collision among YCSB keys");
    }

    #[test]
    fn record_values_are_one_kilobyte_and_checkable() {
        let w = Workload::standard("a").unwrap();
        let mut v = Vec::new();
        record_value(&w, 77, &mut v);
        assert_eq!(v.len(), 1000);
        assert!(check_value(77, &v, w.record_len()));
    }

    #[test]
    fn op_kind_names_and_indices() {
        assert_eq!(OpKind::ReadModifyWrite.to_string(), "READ-MODIFY-WRITE");
        assert_eq!(
            serde_json::to_string(&OpKind::ReadModifyWrite).unwrap(),
            "\"READ-MODIFY-WRITE\""
        );
        for (i, k) in OpKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
        assert_eq!(Op::Scan(5, 10).key(), 5);
    }
}
