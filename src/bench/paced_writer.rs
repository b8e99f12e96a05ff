//! A writer beside a benchmark's clients: puts to keys already loaded, at a fixed rate, until
//! told to stop. `ycsb_benchmark --writer-puts-per-sec N` runs one during the run phase, so
//! reads are measured while the engine is being written to (index updates, hot-tier appends,
//! value-cache invalidations), not on a frozen database.
//!
//! The rate is fixed rather than "as fast as possible" so that the readers' figures with one
//! and with two client threads can be compared: a writer at full speed would take a whole core
//! of a 2-core machine for itself and leave the readers' scaling meaningless. If the engine
//! cannot keep up, the writer runs flat out and the report shows the rate it reached.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::rng::Rng;
use super::systems::Session;

/// How long the writer sleeps when it is ahead of its schedule.
const NAP: Duration = Duration::from_micros(200);

/// What the writer did.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct WriterTally {
    /// Puts acknowledged.
    pub puts: u64,
    /// Seconds the writer ran.
    pub secs: f64,
    /// Puts per second reached.
    pub puts_per_sec: f64,
}

/// Puts to uniformly chosen keys out of `count` loaded ones at `rate` puts per second until
/// `stop` is set: `put(session, i)` writes key `i` (its key and value are the caller's, so any
/// kind of key works). Puts that fall behind the schedule are caught up at once (the average
/// rate holds).
pub fn run(
    session: &mut Session<'_>,
    count: usize,
    rate: u64,
    seed: u64,
    stop: &AtomicBool,
    mut put: impl FnMut(&mut Session<'_>, usize) -> Result<(), String>,
) -> Result<WriterTally, String> {
    if count == 0 || rate == 0 {
        return Ok(WriterTally::default());
    }
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    let mut puts = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        if puts >= due {
            std::thread::sleep(NAP);
            continue;
        }
        while puts < due && !stop.load(Ordering::Relaxed) {
            put(session, rng.below(count as u64) as usize)?;
            puts += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(WriterTally {
        puts,
        secs,
        puts_per_sec: puts as f64 / secs.max(1e-9),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::systems::{OpenSpec, System, SystemKind};
    use std::sync::atomic::AtomicBool;

    #[test]
    fn writes_loaded_keys_until_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let spec = OpenSpec {
            budget: 8 << 20,
            sync: false,
            value_len: 16,
            alexkv_tiers: true,
            rocksdb_row_cache: 0,
            keys: crate::bench::systems::KeyShape::U64,
        };
        let system = System::open(SystemKind::Alexkv, dir.path(), &spec).unwrap();
        let keys: Vec<u64> = (1..=100).collect();
        let mut writer_handle = system.handle(8 << 20, false).unwrap();
        let stop = AtomicBool::new(false);
        let tally = std::thread::scope(|s| {
            let (keys, stop) = (&keys, &stop);
            let writer_handle = &mut writer_handle;
            let writer = s.spawn(move || {
                let mut session = writer_handle.session().unwrap();
                run(&mut session, keys.len(), 2_000, 7, stop, |session, i| {
                    let k = keys[i];
                    session.put(k, &(k * 10).to_le_bytes())
                })
            });
            std::thread::sleep(Duration::from_millis(100));
            stop.store(true, Ordering::Relaxed);
            writer.join().unwrap().unwrap()
        });
        assert!(tally.puts > 0, "the writer wrote nothing in 100 ms");
        let mut session = system.session().unwrap();
        let mut written = 0;
        for &k in &keys {
            let mut got = Vec::new();
            let found = session.get_with(k, &mut |v| got = v.to_vec()).unwrap();
            if found {
                assert_eq!(got, (k * 10).to_le_bytes(), "key {k} holds another value");
                written += 1;
            }
        }
        assert!(written > 0, "no key holds the writer's value");
        assert!(written as u64 <= tally.puts);
    }
}
