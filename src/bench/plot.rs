//! Plots of `benchmark_vs_sqlite` results: point-read latency and load rate against rows, one
//! line per system, drawn from the JSON reports (SVG, with `plotters`).

use std::path::Path;

use plotters::prelude::*;
use serde_json::Value;

/// One point of one system's line.
#[derive(Clone, Debug)]
pub struct Point {
    /// Rows loaded.
    pub rows: f64,
    /// Mean point-read latency in ns.
    pub read_ns: Option<f64>,
    /// Load rate in rows per second.
    pub load_rows_per_sec: f64,
}

/// Reads `(system, point)` pairs from `benchmark_vs_sqlite` JSON reports.
pub fn read_points(paths: &[impl AsRef<Path>]) -> Result<Vec<(String, Point)>, String> {
    let mut out = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let rows = v["config"]["rows"]
            .as_f64()
            .ok_or_else(|| format!("{}: no config.rows", path.display()))?;
        for s in v["systems"].as_array().into_iter().flatten() {
            let name = s["system"].as_str().unwrap_or("?").to_string();
            let read_ns = s["point_reads"]["mean_ns"].as_f64();
            let load = s["load_rows_per_sec"].as_f64().unwrap_or(0.0);
            out.push((
                name,
                Point {
                    rows,
                    read_ns,
                    load_rows_per_sec: load,
                },
            ));
        }
    }
    Ok(out)
}

fn colour(system: &str) -> RGBColor {
    match system {
        "alexkv" => RGBColor(0xd6, 0x27, 0x28),
        "rocksdb" => RGBColor(0x1f, 0x77, 0xb4),
        _ => RGBColor(0x2c, 0xa0, 0x2c),
    }
}

/// Draws one log-log chart of `metric` against rows to `out` (SVG).
pub fn chart(
    points: &[(String, Point)],
    out: &Path,
    title: &str,
    y_label: &str,
    metric: impl Fn(&Point) -> Option<f64>,
) -> Result<(), String> {
    let values: Vec<(String, f64, f64)> = points
        .iter()
        .filter_map(|(s, p)| metric(p).map(|y| (s.clone(), p.rows, y)))
        .collect();
    if values.is_empty() {
        return Err(format!("no data for {title}"));
    }
    let (xmin, xmax) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v.1), b.max(v.1)));
    let (ymin, ymax) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v.2), b.max(v.2)));
    let root = SVGBackend::new(out, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut c = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (xmin * 0.8..xmax * 1.25).log_scale(),
            (ymin * 0.7..ymax * 1.4).log_scale(),
        )
        .map_err(|e| e.to_string())?;
    c.configure_mesh()
        .x_desc("rows")
        .y_desc(y_label)
        .draw()
        .map_err(|e| e.to_string())?;
    let mut systems: Vec<String> = values.iter().map(|v| v.0.clone()).collect();
    systems.dedup();
    systems.sort();
    systems.dedup();
    for system in systems {
        let mut line: Vec<(f64, f64)> = values
            .iter()
            .filter(|v| v.0 == system)
            .map(|v| (v.1, v.2))
            .collect();
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
        let col = colour(&system);
        c.draw_series(LineSeries::new(line.clone(), col.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(system.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
        c.draw_series(line.into_iter().map(|p| Circle::new(p, 4, col.filled())))
            .map_err(|e| e.to_string())?;
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}
