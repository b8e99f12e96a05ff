//! Run one benchmark phase in a child process, so each system's peak memory is its own.
//!
//! Peak RSS is a per-process high-water mark: once SQLite has filled its page cache in a process,
//! nothing measured later in that process can look smaller. So a benchmark binary measures each
//! system in a fresh copy of itself.
//!
//! # Protocol
//!
//! 1. The parent calls [`run_system`]`(system, &config)` (or [`run_in_child`] with its own
//!    arguments). It starts [`std::env::current_exe`] with the arguments
//!    `--child-system <system> --child-config <config as JSON>`, stdin closed, stderr inherited
//!    (so the child's progress bars show), and stdout piped.
//! 2. The binary's `main` calls [`ChildRequest::from_env`] **before** parsing its own command line
//!    (clap would reject the hidden arguments). If it returns a request, `main` hands the work to
//!    [`child_main`], which never returns.
//! 3. [`child_main`] runs the phase, reads the child's peak RSS (`VmHWM`) after the phase has
//!    finished, and writes one line to stdout: [`RESULT_MARKER`] followed by the JSON of a
//!    `ChildEnvelope` — `{"ok":{"result":<T>,"peak_rss_bytes":<u64|null>}}` or
//!    `{"err":"<message>"}` — then exits with status 0 (ok) or 1 (err).
//! 4. The parent forwards every other stdout line of the child to its own stderr (stdout is the
//!    protocol channel; keep tables in the parent), waits for the exit, and returns the last
//!    result line. A child that exits without a result line (a panic, a crash, a kill) is an
//!    error that quotes its exit status.
//!
//! ```no_run
//! use alexkv::bench::child::{child_main, run_system, ChildRequest};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Config { rows: u64 }
//!
//! fn main() {
//!     if let Some(request) = ChildRequest::from_env().expect("child arguments") {
//!         child_main(|| {
//!             let config: Config = request.config()?;
//!             match request.system.as_str() {
//!                 "sqlite" => Ok(config.rows * 2), // run the SQLite phase here
//!                 other => Err(format!("unknown system {other}")),
//!             }
//!         });
//!     }
//!     let out = run_system::<_, u64>("sqlite", &Config { rows: 10 }).expect("child ran");
//!     println!("{} (peak RSS {:?} bytes)", out.result, out.peak_rss_bytes);
//! }
//! ```

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::memory::peak_rss_bytes;

/// Hidden argument naming the system the child should run.
pub const CHILD_SYSTEM_ARG: &str = "--child-system";
/// Hidden argument carrying the phase configuration as JSON.
pub const CHILD_CONFIG_ARG: &str = "--child-config";
/// Prefix of the one stdout line that carries the child's result.
pub const RESULT_MARKER: &str = "@@alexkv-child-result@@ ";

/// What a child was asked to do, parsed from its command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildRequest {
    /// The system to run, for example `"sqlite"`, `"rocksdb"` or `"alexkv"`.
    pub system: String,
    /// The phase configuration, as JSON text (`"null"` when none was given).
    pub config_json: String,
}

impl ChildRequest {
    /// Looks for the hidden child arguments in this process's command line.
    ///
    /// `Ok(None)`: this is not a child. `Err`: a child argument is malformed.
    pub fn from_env() -> Result<Option<ChildRequest>, String> {
        Self::from_args(std::env::args().skip(1))
    }

    /// Looks for `--child-system NAME` and optionally `--child-config JSON` among `args`.
    pub fn from_args<I, S>(args: I) -> Result<Option<ChildRequest>, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut system = None;
        let mut config = None;
        let mut args = args.into_iter().map(Into::into);
        while let Some(arg) = args.next() {
            let slot = match arg.as_str() {
                CHILD_SYSTEM_ARG => &mut system,
                CHILD_CONFIG_ARG => &mut config,
                _ => continue,
            };
            let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
            *slot = Some(value);
        }
        match (system, config) {
            (Some(system), config) => Ok(Some(ChildRequest {
                system,
                config_json: config.unwrap_or_else(|| "null".to_owned()),
            })),
            (None, Some(_)) => Err(format!("{CHILD_CONFIG_ARG} without {CHILD_SYSTEM_ARG}")),
            (None, None) => Ok(None),
        }
    }

    /// The configuration deserialised as `C`.
    pub fn config<C: DeserializeOwned>(&self) -> Result<C, String> {
        serde_json::from_str(&self.config_json)
            .map_err(|e| format!("bad {CHILD_CONFIG_ARG} for {}: {e}", self.system))
    }
}

/// The arguments that make a child run `system` with `config`.
pub fn child_args<C: Serialize>(system: &str, config: &C) -> Result<Vec<String>, String> {
    let json = serde_json::to_string(config).map_err(|e| format!("serialising config: {e}"))?;
    Ok(vec![
        CHILD_SYSTEM_ARG.to_owned(),
        system.to_owned(),
        CHILD_CONFIG_ARG.to_owned(),
        json,
    ])
}

/// What the parent gets back from a child.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChildOutput<T> {
    /// The phase's own result.
    pub result: T,
    /// The child's peak resident set size, read after the phase (`None` off Linux).
    pub peak_rss_bytes: Option<u64>,
    /// Wall time from spawning the child to its exit, seen by the parent (includes start-up).
    pub wall_secs: f64,
}

/// One engine's result with its child's peak memory: what the reports of the benchmarks that
/// run one child per engine (`ycsb_report`, `insert_load`) keep of a [`ChildOutput`].
#[derive(Clone, Debug, Serialize)]
pub struct EngineMeasured<R> {
    /// The child's figures.
    #[serde(flatten)]
    pub result: R,
    /// Peak resident memory of the child.
    pub peak_rss_bytes: Option<u64>,
}

impl<T> From<ChildOutput<T>> for EngineMeasured<T> {
    fn from(out: ChildOutput<T>) -> Self {
        EngineMeasured {
            result: out.result,
            peak_rss_bytes: out.peak_rss_bytes,
        }
    }
}

/// The JSON on the result line.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ChildEnvelope<T> {
    Ok {
        result: T,
        peak_rss_bytes: Option<u64>,
    },
    Err(String),
}

/// Runs this same executable as a child for `system` with `config`; see the module docs.
pub fn run_system<C: Serialize, T: DeserializeOwned>(
    system: &str,
    config: &C,
) -> Result<ChildOutput<T>, String> {
    run_in_child(&child_args(system, config)?)
}

/// Runs this same executable with `args` as a child and returns its result.
pub fn run_in_child<T: DeserializeOwned>(args: &[String]) -> Result<ChildOutput<T>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding current executable: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.args(args);
    run_command(cmd)
}

/// Runs `cmd` as a child speaking the result protocol and returns its result.
///
/// Lower level than [`run_in_child`]: any program that ends by calling [`child_main`] (or
/// [`emit_result`]) will do. Stdin, stdout and stderr of `cmd` are set here.
pub fn run_command<T: DeserializeOwned>(mut cmd: Command) -> Result<ChildOutput<T>, String> {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting child {cmd:?}: {e}"))?;
    let stdout = child.stdout.take().expect("stdout was piped");
    let mut last_result = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading child output: {e}"))?;
        match line.find(RESULT_MARKER) {
            Some(at) => last_result = Some(line[at + RESULT_MARKER.len()..].to_owned()),
            None => eprintln!("{line}"),
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for child: {e}"))?;
    let wall_secs = started.elapsed().as_secs_f64();
    let Some(json) = last_result else {
        return Err(format!("child exited ({status}) without a result"));
    };
    match serde_json::from_str::<ChildEnvelope<T>>(&json) {
        Ok(ChildEnvelope::Ok {
            result,
            peak_rss_bytes,
        }) => Ok(ChildOutput {
            result,
            peak_rss_bytes,
            wall_secs,
        }),
        Ok(ChildEnvelope::Err(message)) => Err(format!("child failed ({status}): {message}")),
        Err(e) => Err(format!("child ({status}) sent an unreadable result: {e}")),
    }
}

/// Child side: writes the result line for `result`, with the peak RSS read now.
///
/// Prefer [`child_main`], which also exits with the right status.
pub fn emit_result<T: Serialize>(result: Result<T, String>) -> std::io::Result<()> {
    let envelope = match result {
        Ok(result) => ChildEnvelope::Ok {
            result,
            peak_rss_bytes: peak_rss_bytes(),
        },
        Err(message) => ChildEnvelope::Err(message),
    };
    let json = serde_json::to_string(&envelope)
        .unwrap_or_else(|e| format!("{{\"err\":\"serialising the result: {e}\"}}"));
    let mut out = std::io::stdout().lock();
    // The leading newline ends any partial line another writer left on stdout.
    writeln!(out, "\n{RESULT_MARKER}{json}")?;
    out.flush()
}

/// Child side: runs `phase`, reports its result to the parent and exits (0 on success, 1 on
/// error). A panic in `phase` kills the child without a result line, which the parent reports.
pub fn child_main<T: Serialize>(phase: impl FnOnce() -> Result<T, String>) -> ! {
    let result = phase();
    let ok = result.is_ok();
    let code = match emit_result(result) {
        Ok(()) if ok => 0,
        Ok(()) => 1,
        Err(_) => 2,
    };
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Set in a re-executed test binary to make [`child_process_entry`] act as the child.
    const TEST_MODE_ENV: &str = "ALEXKV_BENCH_CHILD_TEST";
    const TEST_CONFIG_ENV: &str = "ALEXKV_BENCH_CHILD_TEST_CONFIG";

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct TestConfig {
        n: u64,
    }

    /// Not a real test: the body of the child when the test binary is re-executed by the tests
    /// below (libtest owns the command line there, so the request travels in the environment).
    #[test]
    fn child_process_entry() {
        let Ok(mode) = std::env::var(TEST_MODE_ENV) else {
            return;
        };
        let config_json = std::env::var(TEST_CONFIG_ENV).unwrap_or_default();
        let request = ChildRequest {
            system: mode,
            config_json,
        };
        child_main(|| {
            let config: TestConfig = request.config()?;
            match request.system.as_str() {
                "ok" => {
                    println!("noise on stdout that the parent must skip");
                    let block = vec![7u8; 32 << 20];
                    Ok(block.iter().map(|&b| b as u64).sum::<u64>() / (32 << 20) + config.n)
                }
                "err" => Err(format!("boom {}", config.n)),
                // Dies the way a crash or a kill would: no result line, non-zero status.
                _ => std::process::exit(3),
            }
        })
    }

    fn run_test_child(mode: &str, n: u64) -> Result<ChildOutput<u64>, String> {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "bench::child::tests::child_process_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(TEST_MODE_ENV, mode)
        .env(
            TEST_CONFIG_ENV,
            serde_json::to_string(&TestConfig { n }).unwrap(),
        );
        run_command(cmd)
    }

    #[test]
    fn child_result_and_peak_rss_reach_the_parent() {
        let out = run_test_child("ok", 5).unwrap();
        assert_eq!(out.result, 12);
        let rss = out.peak_rss_bytes.expect("Linux reports VmHWM");
        assert!(rss >= 32 << 20, "child peak RSS {rss}");
        assert!(out.wall_secs > 0.0);
    }

    #[test]
    fn child_error_message_reaches_the_parent() {
        let err = run_test_child("err", 9).unwrap_err();
        assert!(err.contains("boom 9"), "{err}");
    }

    #[test]
    fn child_that_dies_without_a_result_is_an_error() {
        let err = run_test_child("crash", 0).unwrap_err();
        assert!(err.contains("without a result"), "{err}");
    }

    #[test]
    fn child_arguments_round_trip() {
        let args = child_args("sqlite", &TestConfig { n: 3 }).unwrap();
        let mut with_others = vec!["--json".to_owned(), "out.json".to_owned()];
        with_others.extend(args);
        let req = ChildRequest::from_args(with_others).unwrap().unwrap();
        assert_eq!(req.system, "sqlite");
        assert_eq!(req.config::<TestConfig>().unwrap(), TestConfig { n: 3 });
        assert!(req.config::<String>().is_err());
    }

    #[test]
    fn non_child_and_malformed_arguments_are_told_apart() {
        assert_eq!(ChildRequest::from_args(["--rows", "10"]).unwrap(), None);
        assert!(ChildRequest::from_args([CHILD_SYSTEM_ARG]).is_err());
        assert!(ChildRequest::from_args([CHILD_CONFIG_ARG, "{}"]).is_err());
        let req = ChildRequest::from_args([CHILD_SYSTEM_ARG, "x"])
            .unwrap()
            .unwrap();
        assert_eq!(req.config_json, "null");
    }
}
