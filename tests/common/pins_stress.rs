//! Readers lent hot-tier values in place (`Db::get_with`) while a writer keeps a tiny tier
//! recycling: every value a closure sees is whole and stays unchanged until the closure
//! returns. Run by `engine_pins.rs` (the barriers the kernel offers) and
//! `engine_pins_symmetric.rs` (`ALEXKV_PIN_BARRIER=symmetric`), one process each.

use alexkv::{Db, Options};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

const KEYS: u64 = 64;

/// A value that names its key and round in every 8 bytes, so a torn or foreign one shows.
fn value(key: u64, round: u64) -> Vec<u8> {
    let word = (key << 40 | round).to_le_bytes();
    word.iter().copied().cycle().take(200).collect()
}

/// Whether `v` is a whole value of `key` (any round).
fn whole(key: u64, v: &[u8]) -> bool {
    v.len() == 200
        && v.chunks(8).all(|c| c == &v[..8])
        && u64::from_le_bytes(v[..8].try_into().unwrap()) >> 40 == key
}

pub fn readers_see_whole_unchanging_values_while_the_tier_recycles(opts: Options) {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), opts).unwrap());
    for k in 0..KEYS {
        db.put(k, &value(k, 0)).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let lent = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..3)
        .map(|t| {
            let (db, stop, lent) = (Arc::clone(&db), Arc::clone(&stop), Arc::clone(&lent));
            std::thread::spawn(move || {
                let mut k = t;
                while !stop.load(Ordering::Relaxed) {
                    k = (k * 7 + 3) % KEYS;
                    let ok = db
                        .get_with(k, |v| {
                            let first = v.to_vec();
                            // Hold the value a while, as a slow caller would.
                            for _ in 0..200 {
                                std::hint::spin_loop();
                            }
                            whole(k, &first) && v == &first[..]
                        })
                        .unwrap()
                        .expect("every key is present");
                    assert!(ok, "key {k}: a torn, foreign or changing value");
                    lent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut round = 1;
    // Until enough reads were lent, or a reader stopped (a failed check: its panic is
    // re-raised by the join below).
    while lent.load(Ordering::Relaxed) < 200_000 && !readers.iter().any(|r| r.is_finished()) {
        for k in 0..KEYS {
            db.put(k, &value(k, round)).unwrap();
        }
        round += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    let hot = db.stats().hot_tier;
    assert!(
        hot.recycled > 10,
        "the tier recycled {} times",
        hot.recycled
    );
    assert!(
        hot.hits > 1000,
        "{} reads were served in place or copied",
        hot.hits
    );
    for k in 0..KEYS {
        let v = db.get(k).unwrap().unwrap();
        assert!(whole(k, &v));
    }
}
