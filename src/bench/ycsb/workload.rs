//! YCSB workload files: the Java properties format and CoreWorkload's property names.
//!
//! A workload file is a list of `key=value` lines (`key: value` and `key value` also work, as in
//! `java.util.Properties`); lines starting with `#` or `!` are comments; a line ending in `\`
//! continues on the next one. Properties this module does not use (`workload=...`,
//! `readallfields=...`) are kept in [`Workload::other`] so a report can show them.
//!
//! Recognised properties and YCSB's defaults:
//!
//! | property                    | default   |                                             |
//! |-----------------------------|-----------|---------------------------------------------|
//! | `recordcount`               | 0         | records loaded before the run (must be > 0) |
//! | `operationcount`            | 0         | operations in the run phase                 |
//! | `readproportion`            | 0.95      |                                             |
//! | `updateproportion`          | 0.05      |                                             |
//! | `scanproportion`            | 0         |                                             |
//! | `insertproportion`          | 0         |                                             |
//! | `readmodifywriteproportion` | 0         |                                             |
//! | `requestdistribution`       | uniform   | `uniform`, `zipfian`, `latest`, `hotspot`   |
//! | `minscanlength`             | 1         |                                             |
//! | `maxscanlength`             | 1000      |                                             |
//! | `scanlengthdistribution`    | uniform   | `uniform`, `zipfian`                        |
//! | `fieldcount`                | 10        | the record is one value of                  |
//! | `fieldlength`               | 100       | `fieldcount * fieldlength` bytes            |
//! | `insertorder`               | hashed    | `hashed` (keys FNV-hashed) or `ordered`     |
//! | `hotspotdatafraction`       | 0.2       |                                             |
//! | `hotspotopnfraction`        | 0.8       |                                             |
//!
//! Proportions are weights: YCSB divides each by their sum, and so do we.
//!
//! ```
//! use alexkv::bench::ycsb::Workload;
//! let w: Workload = "recordcount=1000\noperationcount=10\nreadproportion=1\nupdateproportion=0\n"
//!     .parse()
//!     .unwrap();
//! assert_eq!(w.recordcount, 1000);
//! assert_eq!(Workload::standard("a").unwrap().updateproportion, 0.5);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ycsb_key_to_u64;

/// The standard workload files shipped in `ycsb/` at the repository root, by letter.
pub const STANDARD_WORKLOADS: [(&str, &str); 6] = [
    ("a", include_str!("../../../ycsb/workloada")),
    ("b", include_str!("../../../ycsb/workloadb")),
    ("c", include_str!("../../../ycsb/workloadc")),
    ("d", include_str!("../../../ycsb/workloadd")),
    ("e", include_str!("../../../ycsb/workloade")),
    ("f", include_str!("../../../ycsb/workloadf")),
];

/// A problem in a workload file or property, with the line it came from when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadError {
    /// 1-based line number in the file, if the problem is tied to one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl WorkloadError {
    fn new(message: impl Into<String>) -> Self {
        WorkloadError {
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for WorkloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for WorkloadError {}

/// How keys for reads, updates, scans and read-modify-writes are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestDistribution {
    /// Uniform over the loaded records.
    Uniform,
    /// Scrambled Zipfian (constant 0.99) over the loaded records and expected inserts.
    Zipfian,
    /// The most recent inserts are the most popular.
    Latest,
    /// A hot fraction of the records gets a hot fraction of the requests.
    Hotspot,
}

/// How scan lengths are chosen in `[minscanlength, maxscanlength]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanLengthDistribution {
    /// Uniform.
    Uniform,
    /// Zipfian: short scans most common.
    Zipfian,
}

/// Whether record keys are the hashed sequence number (YCSB's default) or the number itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InsertOrder {
    /// Key = `fnv_hash64(sequence number)`: inserts land all over the key space.
    Hashed,
    /// Key = the sequence number: inserts append at the end.
    Ordered,
}

/// A parsed YCSB CoreWorkload configuration; see the module docs for the property names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// Records inserted by the load phase.
    pub recordcount: u64,
    /// Operations in the run phase.
    pub operationcount: u64,
    /// Weight of reads.
    pub readproportion: f64,
    /// Weight of updates (whole-record writes).
    pub updateproportion: f64,
    /// Weight of scans.
    pub scanproportion: f64,
    /// Weight of inserts of new records.
    pub insertproportion: f64,
    /// Weight of read-modify-writes.
    pub readmodifywriteproportion: f64,
    /// Key choice for everything but inserts.
    pub requestdistribution: RequestDistribution,
    /// Shortest scan.
    pub minscanlength: u64,
    /// Longest scan.
    pub maxscanlength: u64,
    /// Distribution of scan lengths.
    pub scanlengthdistribution: ScanLengthDistribution,
    /// Fields per record.
    pub fieldcount: u64,
    /// Bytes per field.
    pub fieldlength: u64,
    /// Hashed or ordered keys.
    pub insertorder: InsertOrder,
    /// Fraction of records in the hot set (`hotspot` only).
    pub hotspotdatafraction: f64,
    /// Fraction of requests that go to the hot set (`hotspot` only).
    pub hotspotopnfraction: f64,
    /// Every other property of the file, untouched.
    pub other: BTreeMap<String, String>,
}

impl Default for Workload {
    /// YCSB CoreWorkload's defaults (with zero records, which [`Workload::validate`] rejects).
    fn default() -> Self {
        Workload {
            recordcount: 0,
            operationcount: 0,
            readproportion: 0.95,
            updateproportion: 0.05,
            scanproportion: 0.0,
            insertproportion: 0.0,
            readmodifywriteproportion: 0.0,
            requestdistribution: RequestDistribution::Uniform,
            minscanlength: 1,
            maxscanlength: 1000,
            scanlengthdistribution: ScanLengthDistribution::Uniform,
            fieldcount: 10,
            fieldlength: 100,
            insertorder: InsertOrder::Hashed,
            hotspotdatafraction: 0.2,
            hotspotopnfraction: 0.8,
            other: BTreeMap::new(),
        }
    }
}

impl Workload {
    /// Parses and validates a workload file's text.
    pub fn parse(text: &str) -> Result<Workload, WorkloadError> {
        let mut w = Workload::default();
        for (line, key, value) in parse_properties(text)? {
            w.set(&key, &value).map_err(|mut e| {
                e.line = Some(line);
                e
            })?;
        }
        w.validate()?;
        Ok(w)
    }

    /// Reads, parses and validates a workload file.
    pub fn from_file(path: &Path) -> Result<Workload, WorkloadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| WorkloadError::new(format!("reading {}: {e}", path.display())))?;
        Workload::parse(&text).map_err(|e| WorkloadError {
            line: e.line,
            message: format!("{}: {}", path.display(), e.message),
        })
    }

    /// One of the standard workloads `a` to `f` shipped in `ycsb/` (case-insensitive letter,
    /// `workloada` also accepted).
    pub fn standard(name: &str) -> Option<Workload> {
        let name = name.trim().to_ascii_lowercase();
        let letter = name.strip_prefix("workload").unwrap_or(&name);
        STANDARD_WORKLOADS
            .iter()
            .find(|(l, _)| *l == letter)
            .map(|(_, text)| Workload::parse(text).expect("shipped workload files are valid"))
    }

    /// Sets one property, as a `-p key=value` override would; unknown keys go to `other`.
    /// Call [`Workload::validate`] after the last change.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), WorkloadError> {
        let value = value.trim();
        match key {
            "recordcount" => self.recordcount = parse_num(key, value)?,
            "operationcount" => self.operationcount = parse_num(key, value)?,
            "readproportion" => self.readproportion = parse_num(key, value)?,
            "updateproportion" => self.updateproportion = parse_num(key, value)?,
            "scanproportion" => self.scanproportion = parse_num(key, value)?,
            "insertproportion" => self.insertproportion = parse_num(key, value)?,
            "readmodifywriteproportion" => self.readmodifywriteproportion = parse_num(key, value)?,
            "minscanlength" => self.minscanlength = parse_num(key, value)?,
            "maxscanlength" => self.maxscanlength = parse_num(key, value)?,
            "fieldcount" => self.fieldcount = parse_num(key, value)?,
            "fieldlength" => self.fieldlength = parse_num(key, value)?,
            "hotspotdatafraction" => self.hotspotdatafraction = parse_num(key, value)?,
            "hotspotopnfraction" => self.hotspotopnfraction = parse_num(key, value)?,
            "requestdistribution" => {
                self.requestdistribution = match value {
                    "uniform" => RequestDistribution::Uniform,
                    "zipfian" => RequestDistribution::Zipfian,
                    "latest" => RequestDistribution::Latest,
                    "hotspot" => RequestDistribution::Hotspot,
                    _ => return Err(unsupported(key, value, "uniform, zipfian, latest, hotspot")),
                }
            }
            "scanlengthdistribution" => {
                self.scanlengthdistribution = match value {
                    "uniform" => ScanLengthDistribution::Uniform,
                    "zipfian" => ScanLengthDistribution::Zipfian,
                    _ => return Err(unsupported(key, value, "uniform, zipfian")),
                }
            }
            "insertorder" => {
                self.insertorder = match value {
                    "hashed" => InsertOrder::Hashed,
                    "ordered" => InsertOrder::Ordered,
                    _ => return Err(unsupported(key, value, "hashed, ordered")),
                }
            }
            _ => {
                self.other.insert(key.to_owned(), value.to_owned());
            }
        }
        Ok(())
    }

    /// Checks the combination of properties; [`Workload::parse`] calls this.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        if self.recordcount == 0 {
            return Err(WorkloadError::new("recordcount must be at least 1"));
        }
        let proportions = self.proportions();
        for (name, p) in [
            "readproportion",
            "updateproportion",
            "insertproportion",
            "scanproportion",
            "readmodifywriteproportion",
        ]
        .iter()
        .zip(proportions)
        {
            if !(p.is_finite() && p >= 0.0) {
                return Err(WorkloadError::new(format!(
                    "{name}={p} is not a weight >= 0"
                )));
            }
        }
        if proportions.iter().sum::<f64>() <= 0.0 {
            return Err(WorkloadError::new("all operation proportions are zero"));
        }
        if self.minscanlength == 0 || self.maxscanlength < self.minscanlength {
            return Err(WorkloadError::new(format!(
                "need 1 <= minscanlength ({}) <= maxscanlength ({})",
                self.minscanlength, self.maxscanlength
            )));
        }
        for (name, f) in [
            ("hotspotdatafraction", self.hotspotdatafraction),
            ("hotspotopnfraction", self.hotspotopnfraction),
        ] {
            if !(0.0..=1.0).contains(&f) {
                return Err(WorkloadError::new(format!("{name}={f} is outside [0, 1]")));
            }
        }
        Ok(())
    }

    /// The five weights in YCSB's order: read, update, insert, scan, read-modify-write.
    pub fn proportions(&self) -> [f64; 5] {
        [
            self.readproportion,
            self.updateproportion,
            self.insertproportion,
            self.scanproportion,
            self.readmodifywriteproportion,
        ]
    }

    /// The number of the record with sequence number `seq` (the number in its name, and the
    /// engine key with `u64` keys): [`ycsb_key_to_u64`]`(seq)` for `insertorder=hashed`, `seq`
    /// itself for `ordered`.
    #[inline]
    pub fn key_for_seq(&self, seq: u64) -> u64 {
        match self.insertorder {
            InsertOrder::Hashed => ycsb_key_to_u64(seq),
            InsertOrder::Ordered => seq,
        }
    }

    /// Bytes of one record's value: `fieldcount * fieldlength`.
    pub fn record_len(&self) -> usize {
        (self.fieldcount * self.fieldlength) as usize
    }
}

impl FromStr for Workload {
    type Err = WorkloadError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Workload::parse(s)
    }
}

fn parse_num<T: FromStr>(key: &str, value: &str) -> Result<T, WorkloadError> {
    value
        .parse()
        .map_err(|_| WorkloadError::new(format!("{key}={value:?} is not a valid number")))
}

fn unsupported(key: &str, value: &str, expected: &str) -> WorkloadError {
    WorkloadError::new(format!(
        "{key}={value:?} is not supported; expected one of {expected}"
    ))
}

/// Splits Java-properties text into `(line number, key, value)` in file order.
///
/// Supported: `#`/`!` comments, `=`, `:` or whitespace separators, `\` line continuations, and
/// backslash escapes of the separators. Not supported: `\uXXXX` escapes (no YCSB file needs them).
pub fn parse_properties(text: &str) -> Result<Vec<(usize, String, String)>, WorkloadError> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let mut logical = raw.trim_start().to_owned();
        if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
            continue;
        }
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        if key.is_empty() {
            return Err(WorkloadError {
                line: Some(index + 1),
                message: format!("no property name in {raw:?}"),
            });
        }
        out.push((index + 1, key, value));
    }
    Ok(out)
}

/// An odd number of trailing backslashes means the last one escapes the line end.
fn ends_with_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

fn split_key_value(line: &str) -> (String, String) {
    let mut key = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(escaped) = chars.next() {
                    key.push(escaped);
                }
            }
            '=' | ':' => break,
            c if c.is_whitespace() => {
                // Whitespace ends the key; one following '=' or ':' is still the separator.
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                chars.next_if(|&c| c == '=' || c == ':');
                break;
            }
            c => key.push(c),
        }
    }
    let value: String = chars.collect();
    (key, value.trim().replace("\\=", "=").replace("\\:", ":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_parse_comments_separators_and_continuations() {
        let text = "# comment\n! also comment\n\n  a=1\nb : two words \nc 3\nd=x\\\n   y\ne\\=f=g\nempty=\n";
        let props = parse_properties(text).unwrap();
        let kv: Vec<(&str, &str)> = props
            .iter()
            .map(|(_, k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            kv,
            vec![
                ("a", "1"),
                ("b", "two words"),
                ("c", "3"),
                ("d", "xy"),
                ("e=f", "g"),
                ("empty", "")
            ]
        );
        assert_eq!(props[0].0, 4);
        assert!(parse_properties("=value").is_err());
    }

    #[test]
    fn defaults_are_ycsb_core_defaults() {
        let w: Workload = "recordcount=5".parse().unwrap();
        assert_eq!(w.readproportion, 0.95);
        assert_eq!(w.updateproportion, 0.05);
        assert_eq!(w.requestdistribution, RequestDistribution::Uniform);
        assert_eq!(w.maxscanlength, 1000);
        assert_eq!(w.insertorder, InsertOrder::Hashed);
        assert_eq!(w.record_len(), 1000);
    }

    #[test]
    fn unknown_properties_are_kept_and_bad_values_name_their_line() {
        let w =
            Workload::parse("recordcount=10\nworkload=site.ycsb.workloads.CoreWorkload\n").unwrap();
        assert_eq!(w.other["workload"], "site.ycsb.workloads.CoreWorkload");
        let e = Workload::parse("recordcount=10\nrequestdistribution=exponential\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.to_string().contains("exponential"));
        let e = Workload::parse("recordcount=ten\n").unwrap_err();
        assert_eq!(e.line, Some(1));
    }

    #[test]
    fn validation_rejects_impossible_workloads() {
        assert!(Workload::parse("").is_err());
        assert!(Workload::parse("recordcount=1\nreadproportion=0\nupdateproportion=0").is_err());
        assert!(Workload::parse("recordcount=1\nreadproportion=-1").is_err());
        assert!(Workload::parse("recordcount=1\nmaxscanlength=0").is_err());
        assert!(Workload::parse("recordcount=1\nhotspotopnfraction=1.5").is_err());
        let mut w = Workload::parse("recordcount=1").unwrap();
        w.set("recordcount", "0").unwrap();
        assert!(w.validate().is_err());
    }

    #[test]
    fn standard_workloads_have_ycsb_proportions_and_sizes() {
        let expect = [
            ("a", [0.5, 0.5, 0.0, 0.0, 0.0], RequestDistribution::Zipfian),
            (
                "b",
                [0.95, 0.05, 0.0, 0.0, 0.0],
                RequestDistribution::Zipfian,
            ),
            ("c", [1.0, 0.0, 0.0, 0.0, 0.0], RequestDistribution::Zipfian),
            (
                "d",
                [0.95, 0.0, 0.05, 0.0, 0.0],
                RequestDistribution::Latest,
            ),
            (
                "e",
                [0.0, 0.0, 0.05, 0.95, 0.0],
                RequestDistribution::Zipfian,
            ),
            ("f", [0.5, 0.0, 0.0, 0.0, 0.5], RequestDistribution::Zipfian),
        ];
        for (letter, proportions, dist) in expect {
            let w = Workload::standard(letter).unwrap();
            assert_eq!(w.proportions(), proportions, "workload {letter}");
            assert_eq!(w.requestdistribution, dist, "workload {letter}");
            assert_eq!((w.recordcount, w.operationcount), (1_000_000, 1_000_000));
            assert_eq!((w.fieldcount, w.fieldlength), (10, 100));
        }
        let e = Workload::standard("workloadE").unwrap();
        assert_eq!(e.maxscanlength, 100);
        assert_eq!(e.scanlengthdistribution, ScanLengthDistribution::Uniform);
        assert!(Workload::standard("g").is_none());
    }

    #[test]
    fn workload_files_on_disk_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ycsb");
        for letter in ["a", "b", "c", "d", "e", "f"] {
            let w = Workload::from_file(&dir.join(format!("workload{letter}"))).unwrap();
            assert_eq!(w, Workload::standard(letter).unwrap());
        }
        assert!(Workload::from_file(&dir.join("missing")).is_err());
    }
}
