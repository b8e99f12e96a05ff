//! Report output: aligned text tables for stdout, JSON files, and number formatting.
//!
//! ```
//! use alexkv::bench::report::{fmt_ns, Table};
//! let mut t = Table::new(["system", "p50"]);
//! t.row(["alexkv", &fmt_ns(250.0)]);
//! t.row(["sqlite", &fmt_ns(2_400.0)]);
//! assert_eq!(
//!     t.render(),
//!     "system      p50\n------  -------\nalexkv   250 ns\nsqlite  2.40 µs\n"
//! );
//! ```

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

/// Horizontal alignment of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text flush left (the default for the first column).
    Left,
    /// Text flush right (the default for the other columns, which hold numbers).
    Right,
}

/// A text table: a header row, a rule, then the rows, columns separated by two spaces.
#[derive(Clone, Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers; the first column is left-aligned, the others right.
    pub fn new<I, S>(headers: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let headers: Vec<String> = headers.into_iter().map(Into::into).collect();
        let align = (0..headers.len())
            .map(|i| if i == 0 { Align::Left } else { Align::Right })
            .collect();
        Table {
            headers,
            align,
            rows: Vec::new(),
        }
    }

    /// Sets the alignment of column `col` (ignored if there is no such column).
    pub fn align(&mut self, col: usize, align: Align) -> &mut Table {
        if let Some(a) = self.align.get_mut(col) {
            *a = align;
        }
        self
    }

    /// Appends a row; missing cells are blank and extra cells are dropped.
    pub fn row<I, S>(&mut self, cells: I) -> &mut Table
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut row: Vec<String> = cells
            .into_iter()
            .take(self.headers.len())
            .map(|c| c.as_ref().to_owned())
            .collect();
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
        self
    }

    /// Number of rows (not counting the header).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// `true` if no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row, each line ending in `\n`, no trailing spaces.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|c| {
                std::iter::once(&self.headers[c])
                    .chain(self.rows.iter().map(|r| &r[c]))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
        for row in std::iter::once(&self.headers)
            .chain(std::iter::once(&rule))
            .chain(&self.rows)
        {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                let pad = widths[c] - cell.chars().count();
                match self.align[c] {
                    Align::Left => {
                        line.push_str(cell);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(cell);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// Writes the rendered table to stdout.
    pub fn print(&self) {
        let mut stdout = io::stdout().lock();
        // A closed stdout (piped into `head`) is not worth a panic in a report.
        let _ = stdout.write_all(self.render().as_bytes());
        let _ = stdout.flush();
    }
}

/// Writes `value` as pretty-printed JSON to `path`, creating parent directories. The file is
/// written beside its final name and renamed into place, so a reader never sees half a report.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    text.push('\n');
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path)
}

/// A duration in nanoseconds with three significant digits: `850 ns`, `1.23 µs`, `45.6 ms`, `2.00 s`.
pub fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        return "n/a".to_owned();
    }
    let (value, unit) = match ns.abs() {
        x if x < 1e3 => return format!("{ns:.0} ns"),
        x if x < 1e6 => (ns / 1e3, "µs"),
        x if x < 1e9 => (ns / 1e6, "ms"),
        _ => (ns / 1e9, "s"),
    };
    format!("{} {unit}", three_digits(value))
}

/// A rate with a metric prefix: `950 /s`, `12.3 K/s`, `1.23 M/s`.
pub fn fmt_rate(per_sec: f64) -> String {
    if !per_sec.is_finite() {
        return "n/a".to_owned();
    }
    match per_sec.abs() {
        x if x < 1e3 => format!("{per_sec:.0} /s"),
        x if x < 1e6 => format!("{} K/s", three_digits(per_sec / 1e3)),
        x if x < 1e9 => format!("{} M/s", three_digits(per_sec / 1e6)),
        _ => format!("{} G/s", three_digits(per_sec / 1e9)),
    }
}

/// A byte count in binary units: `512 B`, `1.50 KiB`, `23.4 MiB`, `1.00 GiB`.
pub fn fmt_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{} {}", three_digits(value), UNITS[unit])
}

/// An optional byte count (for example a peak RSS the platform cannot report): `n/a` if `None`.
pub fn fmt_opt_bytes(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "n/a".to_owned(), fmt_bytes)
}

/// A ratio `other / ours` as `2.31x` (above 1: ours is faster when both are times).
pub fn fmt_ratio(ratio: f64) -> String {
    if ratio.is_finite() {
        format!("{ratio:.2}x")
    } else {
        "n/a".to_owned()
    }
}

/// `numerator / denominator`, or NaN (printed `n/a`) when the denominator is not positive.
pub fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        f64::NAN
    }
}

/// Three significant digits for `1 <= |v| < 1000`: `1.23`, `12.3`, `123`.
fn three_digits(v: f64) -> String {
    match v.abs() {
        x if x < 9.995 => format!("{v:.2}"),
        x if x < 99.95 => format!("{v:.1}"),
        _ => format!("{v:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_pads_short_rows() {
        let mut t = Table::new(["name", "a", "b"]);
        t.row(["x", "1", "22"]).row(["longer", "333"]);
        t.align(2, Align::Left);
        assert_eq!(
            t.render(),
            "name      a  b\n------  ---  --\nx         1  22\nlonger  333\n"
        );
        assert_eq!(t.len(), 2);
        assert!(Table::new(["only"]).is_empty());
    }

    #[test]
    fn table_counts_characters_not_bytes() {
        let mut t = Table::new(["k", "v"]);
        t.row(["a", "1 µs"]).row(["b", "10 ns"]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2].chars().count(), lines[3].chars().count());
    }

    #[test]
    fn units_have_three_significant_digits() {
        assert_eq!(fmt_ns(12.4), "12 ns");
        assert_eq!(fmt_ns(1234.0), "1.23 µs");
        assert_eq!(fmt_ns(45_600_000.0), "45.6 ms");
        assert_eq!(fmt_ns(2e9), "2.00 s");
        assert_eq!(fmt_ns(f64::NAN), "n/a");
        assert_eq!(fmt_rate(950.0), "950 /s");
        assert_eq!(fmt_rate(1_234_567.0), "1.23 M/s");
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_bytes(1536), "1.50 KiB");
        assert_eq!(fmt_bytes(1 << 30), "1.00 GiB");
        assert_eq!(fmt_opt_bytes(None), "n/a");
        assert_eq!(fmt_ratio(ratio(3.0, 2.0)), "1.50x");
        assert_eq!(fmt_ratio(ratio(1.0, 0.0)), "n/a");
    }

    #[test]
    fn json_is_written_whole_with_parent_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/out.json");
        write_json(&path, &serde_json::json!({"ops": 3, "name": "x"})).unwrap();
        let back: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back["ops"], 3);
        assert!(!dir.path().join("nested/out.json.tmp").exists());
    }
}
