//! `ycsb_benchmark`'s parent side: runs every engine's child (`ycsb_run` holds what a child
//! does), computes alexkv's throughput over the others' and renders the report.

use serde::Serialize;

use super::byte_keys::KeyKind;
use super::child::EngineMeasured;
use super::systems::SystemKind;
use super::ycsb_run::{EngineResult, YcsbConfig};

/// A whole `ycsb_benchmark` run.
#[derive(Clone, Debug, Serialize)]
pub struct YcsbReport {
    /// What was run.
    pub config: YcsbConfig,
    /// The machine.
    pub machine: super::machine::Machine,
    /// Per engine.
    pub engines: Vec<EngineMeasured<EngineResult>>,
    /// Run-phase throughput of each other engine divided into alexkv's (greater than 1: alexkv
    /// is faster), by engine name.
    pub throughput_speedup: Vec<(String, f64)>,
}

/// Runs each engine in a child process (the parent side).
pub fn run(config: YcsbConfig, engines: &[SystemKind]) -> Result<YcsbReport, String> {
    let mut measured = Vec::new();
    for &kind in engines {
        eprintln!("ycsb_benchmark: running {} ...", kind.name());
        let out = super::child::run_system::<YcsbConfig, EngineResult>(kind.name(), &config)?;
        measured.push(EngineMeasured::from(out));
    }
    let alex = measured
        .iter()
        .find(|m| m.result.engine == "alexkv")
        .map(|m| m.result.throughput_ops_per_sec);
    let throughput_speedup = match alex {
        Some(a) => measured
            .iter()
            .filter(|m| m.result.engine != "alexkv")
            .map(|m| {
                (
                    m.result.engine.clone(),
                    a / m.result.throughput_ops_per_sec.max(1e-9),
                )
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(YcsbReport {
        config,
        machine: super::machine::Machine::current(),
        engines: measured,
        throughput_speedup,
    })
}

/// The report as text for stdout.
pub fn render(report: &YcsbReport) -> String {
    use super::report::{fmt_ns, fmt_opt_bytes, fmt_rate, Table};
    let c = &report.config;
    let keys = match c.key_kind {
        KeyKind::U64 => "u64 keys (the record numbers)".to_string(),
        _ => {
            let mean = report
                .engines
                .first()
                .map_or(0.0, |m| m.result.mean_key_len);
            format!("keys: YCSB's record names, mean {mean:.1} bytes")
        }
    };
    let mut out = format!(
        "YCSB workload {} ({keys}; {} threads{}, {})\n",
        c.workload,
        c.threads,
        match c.writer_puts_per_sec {
            0 => String::new(),
            n => format!(" + a writer at {n} puts/s"),
        },
        if c.sync {
            "fsync per commit"
        } else {
            "WAL, no fsync"
        }
    );
    let mut t = Table::new([
        "engine",
        "load",
        "throughput",
        "op",
        "count",
        "mean",
        "p50",
        "p99",
        "p99.9",
        "peak RSS",
    ]);
    for m in &report.engines {
        let r = &m.result;
        for (i, k) in r.ops.iter().enumerate() {
            let first = i == 0;
            t.row([
                if first {
                    r.engine.clone()
                } else {
                    String::new()
                },
                if first {
                    fmt_rate(r.load_ops_per_sec)
                } else {
                    String::new()
                },
                if first {
                    fmt_rate(r.throughput_ops_per_sec)
                } else {
                    String::new()
                },
                k.op.clone(),
                k.count.to_string(),
                fmt_ns(k.latency.mean_ns),
                fmt_ns(k.latency.p50 as f64),
                fmt_ns(k.latency.p99 as f64),
                fmt_ns(k.latency.p999 as f64),
                if first {
                    fmt_opt_bytes(m.peak_rss_bytes)
                } else {
                    String::new()
                },
            ]);
        }
    }
    out.push_str(&t.render());
    for m in &report.engines {
        let r = &m.result;
        out.push_str(&format!(
            "{}: settled in {:.1} s{}, warmed up in {:.1} s (every thread read every key once)\n",
            r.engine,
            r.settle_secs,
            r.lsm.as_ref().map_or_else(String::new, |l| format!(
                " (files per level {:?})",
                l.files_per_level
            )),
            r.warmup_secs,
        ));
    }
    for m in &report.engines {
        if let Some(w) = &m.result.writer {
            out.push_str(&format!(
                "{}: paced writer beside the clients: {} puts, {} (asked {}/s; not in the throughput)\n",
                m.result.engine,
                w.puts,
                fmt_rate(w.puts_per_sec),
                c.writer_puts_per_sec,
            ));
        }
    }
    for (engine, x) in &report.throughput_speedup {
        out.push_str(&format!("alexkv throughput / {engine}: {x:.2}x\n"));
    }
    out
}
