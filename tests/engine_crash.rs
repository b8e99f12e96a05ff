//! Crash check: a child process writes, the parent kills it with SIGKILL at a random moment,
//! reopens the database and checks that every acknowledged write is there and every batch is
//! all or nothing. Many cycles over one database directory.
//!
//! The child is this test binary itself, re-executed with an environment variable that makes
//! the hidden test `crash_child_writer` act: it opens the database and applies a deterministic
//! sequence of operations (puts, deletes, batches, bulk ingestions, the odd flush), printing
//! `ack N` after operation `N` returned. The parent regenerates the same sequence, so after the
//! kill it knows the state after the last acknowledged operation `N` (`S_N`) and after the one
//! that may have been in flight (`S_N+1`); the database must equal one of them exactly. That
//! covers "acknowledged writes survive" and "a batch is all or nothing" at once.
//!
//! Keys are byte strings of several shapes (`kb`): `u64` keys (8 big-endian bytes), YCSB-like
//! names, composite keys sharing long prefixes, keys with zero and `0xFF` bytes.
//!
//! Default durability (WAL on, no fsync) must survive a process crash.
//!
//! The default suite runs a short mode (20 kills); the long mode runs 200:
//! `cargo test --release --test engine_crash -- --ignored`, or any count with
//! `ALEXKV_CRASH_CYCLES=N cargo test --release --test engine_crash`.

mod common;

use alexkv::{Db, Options, WriteBatch};
use common::Rng;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const CHILD_DIR_ENV: &str = "ALEXKV_CRASH_CHILD_DIR";
const CHILD_SEED_ENV: &str = "ALEXKV_CRASH_CHILD_SEED";
/// Kills in the default suite's short mode.
const SHORT_CYCLES: u64 = 20;
/// Kills in the long mode.
const LONG_CYCLES: u64 = 200;
/// Overrides the short mode's count.
const CYCLES_ENV: &str = "ALEXKV_CRASH_CYCLES";
const KEY_SPACE: u64 = 1500;

/// Default durability; small memtables and a small hot tier so flushes and recycling happen
/// while the child runs.
fn options() -> Options {
    common::small()
        .max_value_bytes(4096)
        .hot_tier_bytes(4 * (64 << 10))
        .hot_segment_bytes(64 << 10)
}

enum Op {
    Put(u64, Vec<u8>),
    Delete(u64),
    Batch(Vec<(u64, Option<Vec<u8>>)>),
    Ingest(Vec<(u64, Vec<u8>)>),
    Flush,
}

/// The deterministic operation sequence of one cycle.
struct OpGen {
    rng: Rng,
    seed: u64,
    n: u64,
}

impl OpGen {
    fn new(seed: u64) -> Self {
        OpGen {
            rng: Rng::new(seed.wrapping_mul(7919)),
            seed,
            n: 0,
        }
    }

    fn key(&mut self) -> u64 {
        match self.rng.below(50) {
            0 => u64::MAX - self.rng.below(3),
            _ => self.rng.below(KEY_SPACE),
        }
    }

    fn value(&mut self, key: u64) -> Vec<u8> {
        let len = match self.rng.below(20) {
            0 => 0,
            1 => 1000 + self.rng.below(3000) as usize,
            _ => 24 + self.rng.below(200) as usize,
        };
        let mut v: Vec<u8> = [key, self.seed, self.n]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        v.resize(len.max(24), (key ^ self.n) as u8);
        v.truncate(len);
        v
    }

    fn next_op(&mut self) -> Op {
        self.n += 1;
        match self.rng.below(100) {
            0..=59 => {
                let k = self.key();
                Op::Put(k, self.value(k))
            }
            60..=74 => Op::Delete(self.key()),
            75..=97 => {
                let n = 2 + self.rng.below(30);
                let ops = (0..n)
                    .map(|_| {
                        let k = self.key();
                        if self.rng.below(4) == 0 {
                            (k, None)
                        } else {
                            (k, Some(self.value(k)))
                        }
                    })
                    .collect();
                Op::Batch(ops)
            }
            98 => {
                let mut keys: Vec<u64> = (0..1 + self.rng.below(100)).map(|_| self.key()).collect();
                keys.sort_unstable();
                keys.dedup();
                Op::Ingest(keys.into_iter().map(|k| (k, self.value(k))).collect())
            }
            _ => Op::Flush,
        }
    }
}

/// The byte key of key number `k`: four shapes, distinct for distinct numbers.
fn kb(k: u64) -> Vec<u8> {
    match k % 4 {
        0 => k.to_be_bytes().to_vec(),
        1 => format!("user{k}").into_bytes(),
        2 => format!("tenant/{}/user/{k:06}", k % 7).into_bytes(),
        _ => {
            let mut v = format!("k{k}").into_bytes();
            v.extend([0, 0xFF, 0xFF]);
            v
        }
    }
}

/// An ingestion's pairs as byte keys, in byte order.
fn ingest_pairs(pairs: &[(u64, Vec<u8>)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = pairs.iter().map(|(k, v)| (kb(*k), v.clone())).collect();
    out.sort();
    out
}

fn apply_to_db(db: &Db, op: &Op) {
    match op {
        Op::Put(k, v) => db.put(kb(*k), v).unwrap(),
        Op::Delete(k) => db.delete(kb(*k)).unwrap(),
        Op::Batch(ops) => {
            let mut batch = WriteBatch::new();
            for (k, v) in ops {
                match v {
                    Some(v) => batch.put(kb(*k), v),
                    None => batch.delete(kb(*k)),
                }
            }
            db.write(batch).unwrap();
        }
        Op::Ingest(pairs) => {
            db.ingest_sorted(ingest_pairs(pairs)).unwrap();
        }
        Op::Flush => db.flush().unwrap(),
    }
}

fn apply_to_model(model: &mut BTreeMap<Vec<u8>, Vec<u8>>, op: &Op) {
    match op {
        Op::Put(k, v) => {
            model.insert(kb(*k), v.clone());
        }
        Op::Delete(k) => {
            model.remove(&kb(*k));
        }
        Op::Batch(ops) => {
            for (k, v) in ops {
                match v {
                    Some(v) => model.insert(kb(*k), v.clone()),
                    None => model.remove(&kb(*k)),
                };
            }
        }
        Op::Ingest(pairs) => model.extend(ingest_pairs(pairs)),
        Op::Flush => {}
    }
}

/// The child: acts only when re-executed by the parent with the environment variables set.
#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else {
        return;
    };
    let seed: u64 = std::env::var(CHILD_SEED_ENV).unwrap().parse().unwrap();
    let db = Db::open(&dir, options()).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    let mut gen = OpGen::new(seed);
    loop {
        let op = gen.next_op();
        apply_to_db(&db, &op);
        // One write(2) of a short line: the parent never sees half a line.
        writeln!(out, "ack {}", gen.n).unwrap();
        out.flush().unwrap();
    }
}

/// Runs one child for `seed`, kills it after `run_for`, returns the last acknowledged op.
fn run_child(dir: &std::path::Path, seed: u64, run_for: Duration) -> u64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_SEED_ENV, seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<u64>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = Vec::new();
        let mut acked = 0;
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if line.last() != Some(&b'\n') {
                break; // a torn last line: not an acknowledgement
            }
            let text = String::from_utf8_lossy(&line);
            // libtest prints "test crash_child_writer ... " without a newline first.
            if text.trim_end().ends_with("ready") {
                let _ = tx.send(0);
            } else if let Some(n) = text.trim().strip_prefix("ack ") {
                acked = n.parse().unwrap();
            }
        }
        acked
    });
    if rx.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "child never became ready: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::thread::sleep(run_for);
    // SAFETY: `child.id()` is the pid of our own child, which has not been waited for yet, so
    // the pid cannot have been reused.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(rc, 0, "kill failed");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child must have been killed");
    reader.join().unwrap()
}

#[test]
fn reopen_after_kill_keeps_acknowledged_writes_and_batches_are_all_or_nothing() {
    let cycles = match std::env::var(CYCLES_ENV) {
        Ok(n) => n.parse().expect("ALEXKV_CRASH_CYCLES must be a number"),
        Err(_) => SHORT_CYCLES,
    };
    kill_cycles(cycles);
}

#[test]
#[ignore = "long mode: 200 kill cycles, a few minutes"]
fn reopen_after_kill_keeps_acknowledged_writes_long() {
    kill_cycles(LONG_CYCLES);
}

/// `cycles` kills over one database directory, checking the state after each.
fn kill_cycles(cycles: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut rng = Rng::new(42);
    let mut total_acked = 0;
    for cycle in 1..=cycles {
        let run_for = Duration::from_millis(20 + rng.below(250));
        let acked = run_child(&dir, cycle, run_for);
        total_acked += acked;

        // The state after `acked` operations, and after one more (the one in flight).
        let mut gen = OpGen::new(cycle);
        let mut after_acked = model.clone();
        for _ in 0..acked {
            apply_to_model(&mut after_acked, &gen.next_op());
        }
        let mut after_next = after_acked.clone();
        apply_to_model(&mut after_next, &gen.next_op());

        let db = Db::open(&dir, options()).unwrap();
        let stats = db.stats();
        if acked > 0 {
            assert!(
                !stats.open.index_from_snapshot,
                "cycle {cycle}: the child wrote, so the old snapshot must not be used"
            );
        }
        let content: BTreeMap<Vec<u8>, Vec<u8>> = db.range(..).map(|r| r.unwrap()).collect();
        assert_eq!(
            db.len(),
            content.len() as u64,
            "cycle {cycle}: index and RocksDB"
        );
        let matched = if content == after_acked {
            after_acked
        } else if content == after_next {
            after_next
        } else {
            let lost: Vec<Vec<u8>> = after_acked
                .iter()
                .filter(|(k, v)| content.get(*k) != Some(v))
                .map(|(k, _)| k.clone())
                .take(10)
                .collect();
            panic!(
                "cycle {cycle}: after {acked} acknowledged operations the database matches \
                 neither S_N nor S_N+1; first keys differing from S_N: {lost:?}"
            );
        };
        for (k, v) in matched.iter().step_by(7) {
            assert_eq!(
                db.get(k).unwrap().as_ref(),
                Some(v),
                "cycle {cycle}: get({k:?})"
            );
            assert!(db.contains(k));
        }
        model = matched;
        // Alternate: clean close (snapshot for the next child) or a plain drop.
        if cycle % 2 == 0 {
            db.close().unwrap();
        } else {
            drop(db);
        }
    }
    eprintln!("{cycles} kills, {total_acked} acknowledged operations");
    assert!(
        total_acked > 5 * cycles,
        "children acknowledged only {total_acked} operations"
    );
}
