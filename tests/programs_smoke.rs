//! Smoke tests of the programs users run: each runs at a small size and its JSON report must
//! hold the documented fields with sane values.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn run(bin: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {bin}: {e}"));
    assert!(
        out.status.success(),
        "{bin} {args:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written"))
        .expect("valid JSON")
}

fn positive(v: &Value, what: &str) -> f64 {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!(x.is_finite() && x > 0.0, "{what} = {x}");
    x
}

fn non_negative(v: &Value, what: &str) -> f64 {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!(x.is_finite() && x >= 0.0, "{what} = {x}");
    x
}

/// A ratio in [0, 1].
fn unit(v: &Value, what: &str) -> f64 {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!((0.0..=1.0).contains(&x), "{what} = {x}");
    x
}

/// A read phase: `rounds` timed rounds whose median is the reported mean.
fn check_rounds(phase: &Value, rounds: usize, what: &str) {
    let all: Vec<f64> = phase["rounds_ns"]
        .as_array()
        .unwrap_or_else(|| panic!("{what} has no rounds_ns: {phase}"))
        .iter()
        .map(|x| positive(x, what))
        .collect();
    assert_eq!(all.len(), rounds, "{what} rounds");
    assert_eq!(phase["rounds"], rounds);
    let mut sorted = all.clone();
    sorted.sort_by(f64::total_cmp);
    let mean = positive(&phase["mean_ns"], what);
    assert_eq!(
        mean,
        sorted[(rounds - 1) / 2],
        "{what}: mean_ns is the median round"
    );
}

/// The LSM evidence of a settled RocksDB: nothing pending or running, files in the levels, the
/// effective options read back.
fn check_settled_lsm(lsm: &Value, system: &str) {
    let levels: Vec<u64> = lsm["files_per_level"]
        .as_array()
        .unwrap_or_else(|| panic!("{system}: no files_per_level in {lsm}"))
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert_eq!(levels.len(), 7, "{system}: {levels:?}");
    assert!(levels.iter().sum::<u64>() > 0, "{system}: no SST files");
    assert_eq!(levels[0], 0, "{system}: L0 left after the full compaction");
    assert_eq!(lsm["compaction_pending"], 0, "{system}");
    assert_eq!(lsm["running_compactions"], 0, "{system}");
    assert_eq!(lsm["running_flushes"], 0, "{system}");
    positive(&lsm["block_cache_capacity_bytes"], "block cache capacity");
    assert!(
        lsm["options_file"]
            .as_str()
            .unwrap()
            .starts_with("OPTIONS-"),
        "{system}: {lsm}"
    );
    assert_eq!(
        lsm["options"]["cf.compression"], "kNoCompression",
        "{system}"
    );
    assert_eq!(lsm["options"]["db.max_open_files"], "-1", "{system}");
}

#[test]
fn index_benchmark_reports_every_structure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.json");
    let out = run(
        env!("CARGO_BIN_EXE_index_benchmark"),
        &[
            "--keys",
            "20000",
            "--dist",
            "all",
            "--queries",
            "5000",
            "--json",
            path.to_str().unwrap(),
        ],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("alex"));
    let reports = json(&path);
    let reports = reports.as_array().expect("one report per distribution");
    assert_eq!(reports.len(), 4);
    for r in reports {
        assert_eq!(r["config"]["keys"], 20000);
        let names: Vec<&str> = r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["structure"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["alex", "btreemap", "sorted_vec"]);
        for x in r["results"].as_array().unwrap() {
            for field in [
                "bulk_load_s",
                "lookup_ns_mean",
                "insert_ops_per_s",
                "lookup_after_insert_ns_mean",
                "bytes_per_key",
            ] {
                positive(&x[field], field);
            }
        }
        let alex = &r["results"][0];
        // Every byte counted: 8-byte keys and payloads at a fill of at most 0.8, arrays mapped
        // from the kernel included (the heap alone showed 0.2 bytes per key).
        let bytes = alex["bytes_per_key"].as_f64().unwrap();
        assert!(bytes >= 16.0 / 0.8, "alex holds {bytes} bytes per key");
        let lines = alex["trace"]["lines"].as_f64().unwrap();
        assert!(lines >= 2.0, "a lookup touches {lines} lines");
        assert!(r["results"][1]["trace"].is_null(), "BTreeMap has no trace");
        assert_eq!(r["alex_after_inserts"]["keys"], 20000);
    }
}

#[test]
fn benchmark_vs_sqlite_compares_three_systems() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vs.json");
    let work = dir.path().join("work");
    let out = run(
        env!("CARGO_BIN_EXE_benchmark_vs_sqlite"),
        &[
            "10000",
            "random",
            "--queries",
            "10000",
            "--dir",
            work.to_str().unwrap(),
            "--json",
            path.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for name in ["alexkv", "rocksdb", "sqlite"] {
        assert!(stdout.contains(name), "table lacks {name}:\n{stdout}");
    }
    assert!(
        stdout.starts_with("10000 rows, random u64 keys (8 bytes)"),
        "{stdout}"
    );
    assert!(stdout.contains("k INTEGER PRIMARY KEY"), "{stdout}");
    let r = json(&path);
    assert_eq!(r["config"]["rows"], 10000);
    assert_eq!(r["config"]["key_kind"], "u64");
    positive(
        &r["point_read_speedup_vs_sqlite"],
        "point_read_speedup_vs_sqlite",
    );
    positive(
        &r["point_read_speedup_vs_rocksdb"],
        "point_read_speedup_vs_rocksdb",
    );
    assert_eq!(r["data_bytes"], 10000 * 108);
    let systems = r["systems"].as_array().unwrap();
    assert_eq!(systems.len(), 3);
    for s in systems {
        let name = s["system"].as_str().unwrap();
        positive(&s["load_rows_per_sec"], "load_rows_per_sec");
        positive(&s["point_reads"]["mean_ns"], "point read mean");
        positive(&s["point_reads"]["latency"]["p99"], "point read p99");
        positive(&s["misses"]["mean_ns"], "miss mean");
        positive(&s["scans"]["mean_ns"], "scan mean");
        positive(&s["peak_rss_bytes"], "peak_rss_bytes");
        positive(&s["disk_bytes"], "disk_bytes");
        positive(&s["warmup_secs"], "warmup_secs");
        assert!(s["settle_secs"].as_f64().unwrap() >= 0.0);
        assert_eq!(s["point_reads"]["ops"], 10000);
        check_rounds(&s["point_reads"], 3, "point reads");
        check_rounds(&s["misses"], 3, "misses");
        check_rounds(&s["scans"], 3, "scans");
        assert!(s["values_checked"].as_u64().unwrap() > 0);
        if name == "sqlite" {
            assert!(s["lsm"].is_null());
            continue;
        }
        let lsm = &s["lsm"];
        check_settled_lsm(lsm, name);
        // alexkv may serve every read from its hot tier, and RocksDB from its row cache: no
        // block-cache access, null.
        if !lsm["block_cache_hit_ratio"].is_null() {
            unit(&lsm["block_cache_hit_ratio"], "block_cache_hit_ratio");
        }
    }
    // The budget is far more than twice the data: RocksDB gets a row cache of half of it.
    assert_eq!(
        systems[1]["settings"]["row_cache_bytes"].as_u64(),
        Some(r["config"]["memory_budget"].as_u64().unwrap() / 2)
    );
    let rocks = &systems[1]["lsm"];
    assert_eq!(
        rocks["options"]["table.cache_index_and_filter_blocks"],
        "false"
    );
    assert_eq!(
        rocks["options"]["table.data_block_index_type"],
        "kDataBlockBinaryAndHash"
    );
    assert!(
        systems[0]["bulk_rows_per_sec"].as_f64().unwrap() > 0.0,
        "alexkv reports its bulk path"
    );
    positive(&systems[0]["bulk_peak_rss_bytes"], "bulk path peak RSS");
}

#[test]
fn benchmark_vs_sqlite_below_the_data_reads_through_rocksdb_block_caches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vs.json");
    let work = dir.path().join("work");
    // 20,000 rows of 108 bytes; a quarter of that as the budget.
    run(
        env!("CARGO_BIN_EXE_benchmark_vs_sqlite"),
        &[
            "20000",
            "random",
            "--queries",
            "5000",
            "--memory-budget",
            "540000",
            "--systems",
            "alexkv,rocksdb",
            "--rounds",
            "4",
            "--dir",
            work.to_str().unwrap(),
            "--json",
            path.to_str().unwrap(),
        ],
    );
    let r = json(&path);
    assert_eq!(r["budget_over_data"], 0.25);
    let systems = r["systems"].as_array().unwrap();
    assert_eq!(systems[1]["settings"]["row_cache_bytes"], 0);
    for s in systems {
        let name = s["system"].as_str().unwrap();
        check_rounds(&s["point_reads"], 4, "point reads");
        let lsm = &s["lsm"];
        check_settled_lsm(lsm, name);
        let hits = unit(&lsm["block_cache_hit_ratio"], "block_cache_hit_ratio");
        unit(&lsm["data_block_hit_ratio"], "data_block_hit_ratio");
        assert!(
            hits < 1.0,
            "{name}: a 1 MiB block cache cannot hold 2 MB of data"
        );
        assert!(lsm["block_cache_counts"]["misses"].as_u64().unwrap() > 0);
    }
}

/// A byte-key run: the report names the kind and its mean key length, SQLite holds the keys in
/// a BLOB key column, and every system reads every phase and checks values.
fn benchmark_vs_sqlite_with_byte_keys(kind: &str, key_len: std::ops::RangeInclusive<f64>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vs.json");
    let work = dir.path().join("work");
    let out = run(
        env!("CARGO_BIN_EXE_benchmark_vs_sqlite"),
        &[
            "20000",
            "random",
            "--key-kind",
            kind,
            "--queries",
            "5000",
            "--rounds",
            "2",
            "--dir",
            work.to_str().unwrap(),
            "--json",
            path.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let header = stdout.lines().next().unwrap_or_default();
    assert!(
        header.contains(&format!("{kind} keys (mean ")),
        "the header does not name the key kind:\n{stdout}"
    );
    assert!(stdout.contains("BLOB PRIMARY KEY"), "{stdout}");
    let r = json(&path);
    assert_eq!(r["config"]["key_kind"], kind);
    let mean = positive(&r["config"]["mean_key_len"], "mean_key_len");
    assert!(key_len.contains(&mean), "{kind} keys of {mean} bytes");
    let data = (20000.0 * (mean + 100.0)).round();
    assert_eq!(r["data_bytes"].as_f64(), Some(data));
    // The default budget counts the key bytes: 3x the data, at least 64 MiB.
    assert_eq!(
        r["config"]["memory_budget"].as_f64(),
        Some((3.0 * data).max(64.0 * 1048576.0))
    );
    let systems = r["systems"].as_array().unwrap();
    let names: Vec<&str> = systems
        .iter()
        .map(|s| s["system"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alexkv", "rocksdb", "sqlite"]);
    for s in systems {
        let name = s["system"].as_str().unwrap();
        assert_eq!(s["point_reads"]["ops"], 5000, "{name}");
        positive(&s["point_reads"]["mean_ns"], "point read mean");
        positive(&s["point_reads"]["ops_per_sec"], "reads/s");
        check_rounds(&s["point_reads"], 2, "point reads");
        check_rounds(&s["misses"], 2, "misses");
        check_rounds(&s["scans"], 2, "scans");
        assert!(s["values_checked"].as_u64().unwrap() > 0, "{name}");
        positive(&s["bytes_read"], "bytes_read");
        if name == "sqlite" {
            let schema = s["settings"]["schema"].as_str().unwrap();
            assert!(
                schema.contains("k BLOB PRIMARY KEY") && schema.contains("WITHOUT ROWID"),
                "{schema}"
            );
        } else {
            check_settled_lsm(&s["lsm"], name);
        }
    }
    assert!(systems[0]["bulk_rows_per_sec"].as_f64().unwrap() > 0.0);
}

#[test]
fn benchmark_vs_sqlite_runs_ycsb_record_names() {
    benchmark_vs_sqlite_with_byte_keys("ycsb", 5.0..=24.0);
}

#[test]
fn benchmark_vs_sqlite_runs_urls() {
    benchmark_vs_sqlite_with_byte_keys("url", 30.0..=100.0);
}

#[test]
fn benchmark_vs_sqlite_refuses_a_u64_distribution_for_byte_keys() {
    let out = Command::new(env!("CARGO_BIN_EXE_benchmark_vs_sqlite"))
        .args(["1000", "lognormal", "--key-kind", "url"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("random (shuffled) or sequential"));
}

#[test]
fn ycsb_benchmark_runs_workload_a_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ycsb.json");
    let work = dir.path().join("work");
    let out = run(
        env!("CARGO_BIN_EXE_ycsb_benchmark"),
        &[
            "--workload",
            "a",
            "--size",
            "5000",
            "--ops",
            "5000",
            "--threads",
            "2",
            "--writer-puts-per-sec",
            "1000",
            "--dir",
            work.to_str().unwrap(),
            "--json",
            path.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("keys: YCSB's record names, mean "),
        "YCSB's record names are the default keys:\n{stdout}"
    );
    let r = json(&path);
    assert_eq!(r["config"]["key_kind"], "ycsb");
    let engines = r["engines"].as_array().unwrap();
    assert_eq!(engines.len(), 3);
    for e in engines {
        positive(&e["throughput_ops_per_sec"], "throughput");
        // "user" and up to 19 digits, the same keys for every engine.
        assert_eq!(e["mean_key_len"], engines[0]["mean_key_len"]);
        let key_len = positive(&e["mean_key_len"], "mean_key_len");
        assert!((10.0..=23.0).contains(&key_len), "{key_len}");
        // Workload a inserts nothing: every read finds its record.
        assert_eq!(e["not_found"], 0);
        // The paced writer ran beside the clients (its puts are not in the op counts below).
        assert!(e["writer"]["puts"].is_u64(), "{}", e["writer"]);
        assert!(e["writer"]["secs"].as_f64().unwrap() > 0.0);
        positive(&e["warmup_secs"], "warmup_secs");
        let name = e["engine"].as_str().unwrap();
        if name == "sqlite" {
            assert!(e["lsm"].is_null());
        } else {
            check_settled_lsm(&e["lsm"], name);
        }
        let ops: Vec<&str> = e["ops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["op"].as_str().unwrap())
            .collect();
        assert!(ops.contains(&"READ") && ops.contains(&"UPDATE"), "{ops:?}");
        let total: u64 = e["ops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["count"].as_u64().unwrap())
            .sum();
        assert_eq!(total, 5000);
    }
    assert_eq!(r["throughput_speedup"].as_array().unwrap().len(), 2);
}

#[test]
fn ycsb_benchmark_takes_record_names_or_numbers_only() {
    for args in [
        &["--key-kind", "url", "--size", "10"][..],
        &[
            "--mode",
            "read-under-insert",
            "--key-kind",
            "ycsb",
            "--size",
            "10",
        ],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ycsb_benchmark"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--key-kind"),
            "{args:?}"
        );
    }
}

#[test]
fn alexkv_cli_round_trips_and_reports_errors_with_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let db = db.to_str().unwrap();
    let bin = env!("CARGO_BIN_EXE_alexkv");
    let csv = dir.path().join("rows.csv");
    std::fs::write(&csv, "# key,value\n1,one\n2,two\n3\tthree\n").unwrap();
    run(bin, &["--db", db, "load", "--file", csv.to_str().unwrap()]);
    run(bin, &["--db", db, "put", "10", "ten"]);
    let out = run(bin, &["--db", db, "get", "2"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "two");
    let out = run(bin, &["--db", db, "scan", "0", "100"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1\tone\n2\ttwo\n3\tthree\n10\tten\n"
    );
    run(bin, &["--db", db, "delete", "2"]);
    let missing = Command::new(bin)
        .args(["--db", db, "get", "2"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1), "a missing key exits 1");
    let bad = Command::new(bin)
        .args(["--db", db, "get", "99999999999999999999"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "a number beyond u64 exits 2");
    let text = Command::new(bin)
        .args(["--db", db, "get", "two"])
        .output()
        .unwrap();
    assert_eq!(
        text.status.code(),
        Some(1),
        "a text key is a key: not found"
    );
    let nodb = Command::new(bin)
        .args([
            "--db",
            dir.path().join("nothing").to_str().unwrap(),
            "get",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(nodb.status.code(), Some(3), "a missing database exits 3");
    let out = run(bin, &["--db", db, "stats", "--json"]);
    let stats: Value = serde_json::from_slice(&out.stdout).expect("stats --json is JSON");
    assert_eq!(stats["keys"], 3);
    run(bin, &["--db", db, "compact"]);
}

#[test]
fn alexkv_cli_round_trips_string_keys_and_refuses_oversized_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let db = db.to_str().unwrap();
    let bin = env!("CARGO_BIN_EXE_alexkv");
    let get = |key: &str| {
        let out = run(bin, &["--db", db, "get", key]);
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    };
    // Text keys in a load file, beside a u64 key; a comma in a key needs the TSV form.
    let tsv = dir.path().join("rows.tsv");
    std::fs::write(
        &tsv,
        "user:1\tada\ns:7\tthe text 7\n7\tthe number 7\na,b\tcomma\n",
    )
    .unwrap();
    run(bin, &["--db", db, "load", "--file", tsv.to_str().unwrap()]);
    run(bin, &["--db", db, "put", "user:2", "grace"]);
    run(bin, &["--db", db, "put", "hex:00ff", "binary"]);
    run(bin, &["--db", db, "put", "s:", "empty"]);
    assert_eq!(get("user:1"), "ada");
    assert_eq!(get("user:2"), "grace");
    assert_eq!(get("s:user:2"), "grace");
    assert_eq!(get("7"), "the number 7");
    assert_eq!(get("0x7"), "the number 7");
    assert_eq!(get("s:7"), "the text 7");
    assert_eq!(get("a,b"), "comma");
    assert_eq!(get("hex:00ff"), "binary");
    assert_eq!(get("s:"), "empty");
    assert_eq!(get(&format!("hex:{}", hex("user:1"))), "ada");
    // The scan prints each key in a form that reads back as the key, in byte order (the u64 7
    // is 00..07, before 00 ff).
    let out = run(bin, &["--db", db, "scan", "s:"]);
    let scanned = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        scanned,
        "s:\tempty\n7\tthe number 7\nhex:00ff\tbinary\ns:7\tthe text 7\na,b\tcomma\n\
         user:1\tada\nuser:2\tgrace\n"
    );
    for line in scanned.lines() {
        let (key, value) = line.split_once('\t').unwrap();
        assert_eq!(get(key), value, "{key}");
    }
    let out = run(bin, &["--db", db, "scan", "user:", "user;"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "user:1\tada\nuser:2\tgrace\n"
    );
    run(bin, &["--db", db, "delete", "user:1"]);
    let gone = Command::new(bin)
        .args(["--db", db, "get", "user:1"])
        .output()
        .unwrap();
    assert_eq!(gone.status.code(), Some(1));
    // Keys longer than the engine takes: a clean refusal, exit 2, nothing written.
    let long = "k".repeat(alexkv::MAX_KEY_LEN + 1);
    for args in [
        vec!["put", long.as_str(), "v"],
        vec!["get", long.as_str()],
        vec!["delete", long.as_str()],
    ] {
        let out = Command::new(bin)
            .args(["--db", db])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", args[0]);
        assert!(stderr.contains("at most 1024 bytes"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let file = dir.path().join("long.csv");
    std::fs::write(&file, format!("{long},v\n")).unwrap();
    let out = Command::new(bin)
        .args(["--db", db, "load", "--file", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("long.csv:1: a key of 1025 bytes"));
    for bad in ["hex:0", ""] {
        let out = Command::new(bin)
            .args(["--db", db, "get", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    let out = run(bin, &["--db", db, "stats", "--json"]);
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["keys"], 6);
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn profile_10m_queries_breaks_a_read_down_by_stage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.json");
    let db = dir.path().join("db");
    // 20,000 rows in the database at `db`, `queries` reads, the report at `path`.
    let profile = |db: &Path, queries: &str, extra: &[&str]| {
        let mut args = vec![
            "--rows",
            "20000",
            "--queries",
            queries,
            "--db",
            db.to_str().unwrap(),
            "--json",
            path.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(env!("CARGO_BIN_EXE_profile_10m_queries"), &args)
    };
    let out = profile(&db, "50000", &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("index lookup"));
    let r = json(&path);
    assert_eq!(r["rows"], 20000);
    let p = &r["profile"];
    assert!(
        p["samples"].as_u64().unwrap() >= 50000 / 64 - 1,
        "samples: {}",
        p["samples"]
    );
    positive(&p["total_ns"], "total_ns");
    // A stage figure has the clock's cost subtracted, so a 20K-key index lookup (a few tens of
    // ns, cache-resident) may come out as 0 on a machine whose clock reads cost as much; it is
    // never negative.
    non_negative(&p["index_ns"], "index_ns");
    // The clock's cost was measured (a cost of 0 would mean no subtraction at all).
    positive(&p["timer_ns"], "timer_ns");
    let served: f64 = [
        "served_hot_tier",
        "served_value_cache",
        "served_rocksdb",
        "served_absent",
    ]
    .iter()
    .map(|f| p[*f].as_f64().unwrap())
    .sum();
    assert!((served - 1.0).abs() < 1e-9, "shares add up to {served}");
    // Reusing the database: no load, the reopen finds the snapshot written at close.
    profile(&db, "1000", &[]);
    let r = json(&path);
    assert!(r["load_secs"].is_null());
    assert_eq!(r["index_from_snapshot"], true);
    positive(&r["reopen_secs"], "reopen_secs");
    positive(&r["comparison_loop_mean_ns"], "comparison_loop_mean_ns");
    // `--keep-open` on that database has no loading handle to keep: refused.
    let refused = Command::new(env!("CARGO_BIN_EXE_profile_10m_queries"))
        .args([
            "--rows",
            "20000",
            "--keep-open",
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("already has rows"));
    // On a fresh database it reads through the handle that loaded it: no reopen.
    profile(&dir.path().join("fresh"), "1000", &["--keep-open"]);
    let r = json(&path);
    assert!(r["reopen_secs"].is_null());
    positive(&r["load_secs"], "load_secs");
    positive(&r["read_mean_ns"], "read_mean_ns");
    positive(&r["comparison_loop_mean_ns"], "comparison_loop_mean_ns");
    assert_eq!(r["mean_key_len"], 8.0);
    // 3x the data, at least 64 MiB.
    assert_eq!(r["memory_budget"], 64 << 20);
}

#[test]
fn profile_10m_queries_reads_byte_keys_of_a_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.json");
    let db = dir.path().join("db");
    let args = |kind: &'static str| {
        vec![
            "--rows",
            "20000",
            "--queries",
            "5000",
            "--key-kind",
            kind,
            "--db",
            db.to_str().unwrap(),
            "--json",
            path.to_str().unwrap(),
        ]
    };
    let out = run(env!("CARGO_BIN_EXE_profile_10m_queries"), &args("ycsb"));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("20000 rows of ycsb keys (mean "));
    let r = json(&path);
    assert_eq!(r["config"]["key_kind"], "ycsb");
    assert_eq!(r["rows"], 20000);
    let key_len = positive(&r["mean_key_len"], "mean_key_len");
    assert!((10.0..=23.0).contains(&key_len), "{key_len}");
    assert_eq!(r["profile"]["served_absent"], 0.0);
    positive(&r["read_mean_ns"], "read_mean_ns");
    positive(&r["comparison_loop_mean_ns"], "comparison_loop_mean_ns");
    // Reused: the database's own keys are read.
    run(env!("CARGO_BIN_EXE_profile_10m_queries"), &args("ycsb"));
    let r = json(&path);
    assert!(r["load_secs"].is_null());
    assert_eq!(r["mean_key_len"].as_f64(), Some(key_len));
    // Read as u64 keys, a database of names is refused, cleanly.
    let refused = Command::new(env!("CARGO_BIN_EXE_profile_10m_queries"))
        .args(args("u64"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not u64 keys"));
}

#[test]
fn defaults_benchmark_times_both_systems_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("defaults.json");
    let work = dir.path().join("work");
    run(
        env!("CARGO_BIN_EXE_defaults_benchmark"),
        &[
            "--rows",
            "20000",
            "--gets",
            "2000",
            "--warmup",
            "1000",
            "--dir",
            work.to_str().unwrap(),
            "--json",
            path.to_str().unwrap(),
        ],
    );
    let report = json(&path);
    let systems = report["systems"].as_array().expect("systems");
    let names: Vec<&str> = systems
        .iter()
        .map(|s| s[0]["system"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alexkv", "rocksdb"]);
    for s in systems {
        let r = &s[0];
        positive(&r["get_mean_ns"], "get_mean_ns");
        positive(&r["get_p50_ns"], "get_p50_ns");
        positive(&r["load_rows_per_sec"], "load_rows_per_sec");
        positive(&r["disk_bytes"], "disk_bytes");
    }
    assert!(
        systems[0][0]["read_profile"].is_string(),
        "alexkv's profile"
    );
    assert!(!work.exists(), "the working directory is removed");
}
