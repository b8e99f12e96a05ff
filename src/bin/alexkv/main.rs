//! `alexkv`: a command-line tool for an alexkv database.
//!
//! ```text
//! alexkv --db PATH load --generate 1000000 [--dist random] [--value-size 100]
//! alexkv --db PATH load --file data.csv            # lines of `key,value` or `key<TAB>value`
//! alexkv --db PATH put 42 hello                    # the u64 key 42
//! alexkv --db PATH put user:42 ada                 # the 7 bytes "user:42"
//! alexkv --db PATH get 42
//! alexkv --db PATH get s:42                        # the 2 bytes "42"
//! alexkv --db PATH delete hex:00ff
//! alexkv --db PATH scan 0 100 [--limit 10]
//! alexkv --db PATH scan user: [--text-keys]        # from "user:" to the end
//! alexkv --db PATH stats [--json]
//! alexkv --db PATH compact
//! ```
//!
//! Keys (arguments and a load file's key column): a number, decimal or `0x` hex, is the `u64`
//! key (its 8 big-endian bytes, as before); `s:TEXT` is the bytes of `TEXT`; `hex:HEX` the bytes
//! `HEX` spells; any other text its UTF-8 bytes. `scan` prints each key in the form that reads
//! back as the same key (an 8-byte key as its `u64`). The rule in full is in `key_arg.rs`.
//!
//! Exit codes: 0 success; 1 `get` found no such key; 2 bad usage or input (clap's errors, a
//! malformed key such as `99999999999999999999` or one longer than `MAX_KEY_LEN` bytes, a
//! malformed line in a load file); 3 a database error (missing database, locked, corrupt, I/O).

mod key_arg;

use std::io::{BufRead, BufReader, Write};
use std::ops::Bound;
use std::path::PathBuf;
use std::process::ExitCode;

use alexkv::bench::keys::{generate_keys, shuffled, KeyDist};
use alexkv::bench::values::value_for;
use alexkv::{Db, Error, Options, WriteBatch};
use clap::{Parser, Subcommand};
use key_arg::{show_key, KeyArg};

/// Exit code: the key was not found.
const NOT_FOUND: u8 = 1;
/// Exit code: bad usage or input.
const BAD_INPUT: u8 = 2;
/// Exit code: the database reported an error.
const DB_ERROR: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "alexkv",
    version,
    about = "Inspect and modify an alexkv database",
    after_help = "Keys: a number (decimal or 0x hex) is the u64 key; s:TEXT the bytes of TEXT; \
                  hex:HEX the bytes HEX spells; any other text its UTF-8 bytes. scan prints \
                  keys in the form that reads back as the same key (an 8-byte key as its u64).\n\
                  Exit codes: 0 ok, 1 key not found, 2 bad input, 3 database error."
)]
struct Cli {
    /// Database directory.
    #[arg(long)]
    db: PathBuf,
    #[command(subcommand)]
    command: Command,
}

/// How a key argument's help describes it.
const KEY_HELP: &str = "A number (decimal or 0x hex) is the u64 key (its 8 big-endian \
                        bytes); s:TEXT the bytes of TEXT (s:42 is the text \"42\", s: the \
                        empty key); hex:HEX the bytes HEX spells; any other text its UTF-8 \
                        bytes. At most 1024 bytes.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Load rows from a generator or a CSV/TSV file of `key,value` lines (creates the database);
    /// a file's keys are written as key arguments are (a key with a comma needs the TSV form).
    Load {
        /// Generate this many rows (keys from --dist, values derived from the key).
        #[arg(long, conflicts_with = "file")]
        generate: Option<usize>,
        /// Key distribution for --generate.
        #[arg(long, default_value = "random")]
        dist: KeyDist,
        /// Value size in bytes for --generate.
        #[arg(long, default_value_t = 100)]
        value_size: usize,
        /// A file of `key,value` or `key<TAB>value` lines (`#` comments and blank lines skipped).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Seed for --generate.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Print the value of a key.
    Get {
        /// The key.
        #[arg(value_parser = KeyArg::parse, long_help = KEY_HELP)]
        key: KeyArg,
        /// Print the value as hex instead of text.
        #[arg(long)]
        hex: bool,
    },
    /// Set a key's value (creates the database).
    Put {
        /// The key.
        #[arg(value_parser = KeyArg::parse, long_help = KEY_HELP)]
        key: KeyArg,
        /// The value, as text.
        value: String,
    },
    /// Delete a key (a missing key is not an error).
    Delete {
        /// The key.
        #[arg(value_parser = KeyArg::parse, long_help = KEY_HELP)]
        key: KeyArg,
    },
    /// Print the keys and values in `from..to` (or from `from` on), in key order: one
    /// `key<TAB>value` line each, the key in the form that reads back as the same key (an 8-byte
    /// key as its u64).
    Scan {
        /// First key (inclusive).
        #[arg(value_parser = KeyArg::parse, long_help = KEY_HELP)]
        from: KeyArg,
        /// Last key (exclusive); none: to the last key.
        #[arg(value_parser = KeyArg::parse, long_help = KEY_HELP)]
        to: Option<KeyArg>,
        /// At most this many rows.
        #[arg(long)]
        limit: Option<usize>,
        /// Print values as hex instead of text.
        #[arg(long)]
        hex: bool,
        /// Print an 8-byte key of text as its text (`s:` form where needed) instead of its u64.
        #[arg(long)]
        text_keys: bool,
    },
    /// Print the database's statistics.
    Stats {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compact RocksDB's files.
    Compact,
}

fn show(bytes: &[u8], hex: bool) -> String {
    if hex {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

enum Failure {
    NotFound,
    Input(String),
    Db(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Db(e)
    }
}

fn open(path: &PathBuf, create: bool) -> Result<Db, Failure> {
    let options = Options::default()
        .with_env_overrides()?
        .create_if_missing(create);
    Ok(Db::open(path, options)?)
}

fn load_file(db: &Db, file: &PathBuf) -> Result<u64, Failure> {
    let f = std::fs::File::open(file)
        .map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
    let mut batch = WriteBatch::new();
    let mut rows = 0u64;
    for (n, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('\t').or_else(|| line.split_once(',')) else {
            return Err(Failure::Input(format!(
                "{}:{}: expected `key,value` or `key<TAB>value`",
                file.display(),
                n + 1
            )));
        };
        let key = KeyArg::parse(k)
            .map_err(|e| Failure::Input(format!("{}:{}: {e}", file.display(), n + 1)))?;
        batch.put(&key.0, v.as_bytes());
        rows += 1;
        if batch.len() >= 10_000 {
            db.write(std::mem::take(&mut batch))?;
        }
    }
    if !batch.is_empty() {
        db.write(batch)?;
    }
    Ok(rows)
}

fn run(cli: Cli) -> Result<(), Failure> {
    let out = std::io::stdout();
    let mut out = out.lock();
    match cli.command {
        Command::Load {
            generate,
            dist,
            value_size,
            file,
            seed,
        } => {
            let db = open(&cli.db, true)?;
            let rows = match (generate, file) {
                (Some(n), None) => {
                    let keys = shuffled(&generate_keys(dist, n, seed), seed);
                    for chunk in keys.chunks(10_000) {
                        let mut batch =
                            WriteBatch::with_capacity(chunk.len(), chunk.len() * value_size);
                        let mut v = Vec::with_capacity(value_size);
                        for &k in chunk {
                            value_for(k, value_size, &mut v);
                            batch.put(k, &v);
                        }
                        db.write(batch)?;
                    }
                    n as u64
                }
                (None, Some(path)) => load_file(&db, &path)?,
                _ => {
                    return Err(Failure::Input(
                        "load needs --generate N or --file PATH".into(),
                    ))
                }
            };
            db.flush()?;
            let _ = writeln!(
                out,
                "loaded {rows} rows; the database holds {} keys",
                db.len()
            );
        }
        Command::Get { key, hex } => {
            let db = open(&cli.db, false)?;
            match db.get(&key.0)? {
                Some(v) => {
                    let _ = writeln!(out, "{}", show(&v, hex));
                }
                None => return Err(Failure::NotFound),
            }
        }
        Command::Put { key, value } => {
            let db = open(&cli.db, true)?;
            db.put(&key.0, value.as_bytes())?;
        }
        Command::Delete { key } => {
            let db = open(&cli.db, false)?;
            db.delete(&key.0)?;
        }
        Command::Scan {
            from,
            to,
            limit,
            hex,
            text_keys,
        } => {
            let db = open(&cli.db, false)?;
            let to = to.map_or(Bound::Unbounded, |k| Bound::Excluded(k.0));
            let range = (Bound::Included(from.0), to);
            for item in db.scan(range, limit.unwrap_or(usize::MAX)) {
                let (k, v) = item?;
                let _ = writeln!(out, "{}\t{}", show_key(&k, text_keys), show(&v, hex));
            }
        }
        Command::Stats { json } => {
            let db = open(&cli.db, false)?;
            let stats = db.stats();
            if json {
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&stats).unwrap_or_default()
                );
            } else {
                let value = serde_json::to_value(&stats).unwrap_or_default();
                print_flat(&mut out, "", &value);
            }
        }
        Command::Compact => {
            let db = open(&cli.db, false)?;
            db.compact()?;
        }
    }
    Ok(())
}

/// Prints nested JSON as an aligned `section.field  value` table.
fn print_flat(out: &mut impl Write, prefix: &str, v: &serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                print_flat(out, &name, v);
            }
        }
        other => {
            let _ = writeln!(out, "{prefix:<36} {other}");
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::NotFound) => {
            eprintln!("alexkv: key not found");
            ExitCode::from(NOT_FOUND)
        }
        Err(Failure::Input(msg)) => {
            eprintln!("alexkv: {msg}");
            ExitCode::from(BAD_INPUT)
        }
        // A key the engine refuses is bad input, like one the key parser refuses.
        Err(Failure::Db(e @ (Error::KeyTooLong { .. } | Error::InvalidKey(_)))) => {
            eprintln!("alexkv: {e}");
            ExitCode::from(BAD_INPUT)
        }
        Err(Failure::Db(e)) => {
            eprintln!("alexkv: {e}");
            ExitCode::from(DB_ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed_and_states_the_key_limit() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        assert!(KEY_HELP.contains(&format!("At most {} bytes", alexkv::MAX_KEY_LEN)));
    }
}
