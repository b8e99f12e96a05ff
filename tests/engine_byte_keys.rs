//! Model check of the engine on byte-string keys: random puts, deletes, batches, gets,
//! multi-gets, ranges, prefix scans, `scan_with`, `first` / `last`, `contains` and ingestions
//! against a `BTreeMap<Vec<u8>, Vec<u8>>`, reopening every few hundred operations, with the
//! tiers on, off and tiny. Keys are chosen to be hard: the empty key, keys that are prefixes of
//! each other, zero bytes and `0xFF` runs, shared prefixes of every length from 0 to 64 (across
//! the trie's 8-byte slice boundaries), keys of the maximum length, and `u64` keys (8 bytes)
//! mixed in. Then the bad-input rules for oversized keys.

mod common;

use alexkv::{Db, Error, Options, WriteBatch, MAX_KEY_LEN};
use common::{small, Rng};
use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};

/// A pool of adversarial keys (see the module docs).
fn key_pool(rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut pool: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0, 0],
        vec![0xFF],
        vec![0xFF; 8],
        vec![0xFF; 9],
        vec![0xFF; 17],
        b"ab".to_vec(),
        b"ab\0".to_vec(),
        b"abc".to_vec(),
        vec![b'k'; MAX_KEY_LEN],
        {
            let mut k = vec![b'k'; MAX_KEY_LEN - 1];
            k.push(0);
            k
        },
        vec![b'k'; MAX_KEY_LEN - 1],
    ];
    // Shared prefixes of every length from 0 to 64, each with a few endings (shorter, zero,
    // 0xFF, a letter), so keys end inside, at and past slice boundaries.
    let base: Vec<u8> = (0..72u8).map(|i| b'a' + i % 26).collect();
    for len in 0..=64 {
        let p = &base[..len];
        pool.push(p.to_vec());
        for end in [0u8, 1, b'z', 0xFE, 0xFF] {
            let mut k = p.to_vec();
            k.push(end);
            pool.push(k.clone());
            k.push(end);
            pool.push(k);
        }
    }
    // u64 keys and neighbours of their bytes.
    for n in [0u64, 1, 255, 256, 1 << 40, u64::MAX - 1, u64::MAX] {
        let b = n.to_be_bytes();
        pool.push(b.to_vec());
        pool.push(b[..7].to_vec());
        let mut longer = b.to_vec();
        longer.push(0);
        pool.push(longer);
    }
    // Random keys of random lengths, with embedded zero and 0xFF bytes.
    for _ in 0..200 {
        let len = rng.below(40) as usize;
        let k: Vec<u8> = (0..len)
            .map(|_| match rng.below(4) {
                0 => 0,
                1 => 0xFF,
                _ => rng.below(256) as u8,
            })
            .collect();
        pool.push(k);
    }
    pool.sort();
    pool.dedup();
    pool
}

fn value(rng: &mut Rng, key: &[u8]) -> Vec<u8> {
    let len = rng.below(300) as usize;
    let mut v = key.iter().rev().copied().take(8).collect::<Vec<u8>>();
    v.extend((0..len).map(|_| rng.below(256) as u8));
    v
}

fn configs() -> Vec<(&'static str, Options)> {
    vec![
        ("tiers on", small()),
        (
            "tiers off",
            small()
                .value_cache_bytes(0)
                .value_cache_entries(0)
                .hot_tier_bytes(0),
        ),
        (
            "tiers tiny",
            common::tiny_tiers().promote_reads_to_hot(true),
        ),
    ]
}

/// A bound of the model's range syntax.
fn pick_bound(rng: &mut Rng, pool: &[Vec<u8>]) -> Bound<Vec<u8>> {
    let k = pool[rng.below(pool.len() as u64) as usize].clone();
    match rng.below(3) {
        0 => Bound::Included(k),
        1 => Bound::Excluded(k),
        _ => Bound::Unbounded,
    }
}

fn in_range(k: &[u8], lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    let above = match lo {
        Bound::Included(l) => k >= &l[..],
        Bound::Excluded(l) => k > &l[..],
        Bound::Unbounded => true,
    };
    let below = match hi {
        Bound::Included(h) => k <= &h[..],
        Bound::Excluded(h) => k < &h[..],
        Bound::Unbounded => true,
    };
    above && below
}

fn run(seed: u64, ops: usize, opts: &Options, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(seed);
    let pool = key_pool(&mut rng);
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut db = Db::open(dir.path(), opts.clone()).unwrap();
    let pick = |rng: &mut Rng| pool[rng.below(pool.len() as u64) as usize].clone();
    for step in 0..ops {
        let ctx = format!("{name} seed {seed} step {step}");
        match rng.below(20) {
            0..=5 => {
                let k = pick(&mut rng);
                let v = value(&mut rng, &k);
                db.put(&k, &v).unwrap();
                model.insert(k, v);
            }
            6 | 7 => {
                let k = pick(&mut rng);
                db.delete(&k).unwrap();
                model.remove(&k);
            }
            8 => {
                let mut batch = WriteBatch::new();
                for _ in 0..rng.below(40) {
                    let k = pick(&mut rng);
                    if rng.below(4) == 0 {
                        batch.delete(&k);
                        model.remove(&k);
                    } else {
                        let v = value(&mut rng, &k);
                        batch.put(&k, &v);
                        model.insert(k, v);
                    }
                }
                db.write(batch).unwrap();
            }
            9..=12 => {
                let k = pick(&mut rng);
                assert_eq!(
                    db.get(&k).unwrap(),
                    model.get(&k).cloned(),
                    "{ctx}: get {k:?}"
                );
                assert_eq!(db.contains(&k), model.contains_key(&k), "{ctx}: contains");
                let len = db.get_with(&k, <[u8]>::len).unwrap();
                assert_eq!(len, model.get(&k).map(Vec::len), "{ctx}: get_with");
            }
            13 => {
                let keys: Vec<Vec<u8>> = (0..rng.below(10)).map(|_| pick(&mut rng)).collect();
                let want: Vec<Option<Vec<u8>>> =
                    keys.iter().map(|k| model.get(k).cloned()).collect();
                assert_eq!(db.multi_get(&keys).unwrap(), want, "{ctx}: multi_get");
            }
            14 | 15 => {
                let (lo, hi) = (pick_bound(&mut rng, &pool), pick_bound(&mut rng, &pool));
                let limit = [0, 1, 5, 40, usize::MAX][rng.below(5) as usize];
                let want: Vec<(Vec<u8>, Vec<u8>)> = model
                    .iter()
                    .filter(|(k, _)| in_range(k, &lo, &hi))
                    .take(limit)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let got: Vec<(Vec<u8>, Vec<u8>)> = db
                    .scan((lo.clone(), hi.clone()), limit)
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert_eq!(got, want, "{ctx}: scan {lo:?}..{hi:?} limit {limit}");
                let mut visited = Vec::new();
                db.scan_with((lo.clone(), hi.clone()), limit, |k, v| {
                    visited.push((k.to_vec(), v.to_vec()));
                    ControlFlow::Continue(())
                })
                .unwrap();
                assert_eq!(visited, want, "{ctx}: scan_with");
            }
            16 => {
                let k = pick(&mut rng);
                let p = &k[..k.len().min(rng.below(12) as usize)];
                let want: Vec<Vec<u8>> =
                    model.keys().filter(|m| m.starts_with(p)).cloned().collect();
                let got: Vec<Vec<u8>> = db.prefix(p).map(|r| r.unwrap().0).collect();
                assert_eq!(got, want, "{ctx}: prefix {p:?}");
            }
            17 => {
                let first = model.iter().next().map(|(k, v)| (k.clone(), v.clone()));
                let last = model
                    .iter()
                    .next_back()
                    .map(|(k, v)| (k.clone(), v.clone()));
                assert_eq!(db.first::<Vec<u8>>().unwrap(), first, "{ctx}: first");
                assert_eq!(db.last::<Vec<u8>>().unwrap(), last, "{ctx}: last");
                assert_eq!(db.len(), model.len() as u64, "{ctx}: len");
            }
            18 => {
                // An ingestion of a sorted run of pool keys.
                let mut run: Vec<Vec<u8>> = (0..rng.below(30)).map(|_| pick(&mut rng)).collect();
                run.sort();
                run.dedup();
                let pairs: Vec<(Vec<u8>, Vec<u8>)> = run
                    .into_iter()
                    .map(|k| {
                        let v = value(&mut rng, &k);
                        (k, v)
                    })
                    .collect();
                db.ingest_sorted(pairs.iter().map(|(k, v)| (k, v))).unwrap();
                model.extend(pairs);
            }
            _ => {
                if rng.below(3) == 0 {
                    drop(db);
                } else {
                    db.close().unwrap();
                }
                db = Db::open(dir.path(), opts.clone()).unwrap();
                let keys: Vec<Vec<u8>> = db.keys().unwrap();
                let want: Vec<Vec<u8>> = model.keys().cloned().collect();
                assert_eq!(keys, want, "{ctx}: keys after reopen");
            }
        }
    }
    let all: Vec<(Vec<u8>, Vec<u8>)> = db.range(..).collect::<Result<_, _>>().unwrap();
    let want: Vec<(Vec<u8>, Vec<u8>)> = model.into_iter().collect();
    assert_eq!(all, want, "{name} seed {seed}: the whole database");
}

#[test]
fn byte_keys_match_the_model_with_reopens() {
    let ops: usize = std::env::var("ALEXKV_BYTE_KEY_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    for (i, (name, opts)) in configs().into_iter().enumerate() {
        for seed in 0..2 {
            run(seed * 10 + i as u64, ops, &opts, name);
        }
    }
}

#[test]
fn u64_and_byte_keys_share_one_key_space() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    db.put(7u64, b"seven").unwrap();
    assert_eq!(db.get(7u64.to_be_bytes()).unwrap(), Some(b"seven".to_vec()));
    db.put("a", b"letter").unwrap();
    // Integer ranges yield u64 keys; a byte key of another length in one is an error.
    let ints: Vec<u64> = db.range(0u64..=9).map(|r| r.unwrap().0).collect();
    assert_eq!(ints, vec![7]);
    let all: Vec<Result<(u64, Vec<u8>), Error>> = db.range(0u64..).collect();
    assert!(
        matches!(all.last(), Some(Err(Error::KeyNotU64 { .. }))),
        "{all:?}"
    );
    assert!(matches!(db.keys::<u64>(), Err(Error::KeyNotU64 { .. })));
    assert_eq!(db.keys::<Vec<u8>>().unwrap().len(), 2);
}

#[test]
fn oversized_keys_are_refused_with_a_typed_error_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), small()).unwrap();
    let max = vec![b'm'; MAX_KEY_LEN];
    let over = vec![b'm'; MAX_KEY_LEN + 1];
    db.put(&max, b"fits").unwrap();
    assert_eq!(db.get(&max).unwrap(), Some(b"fits".to_vec()));
    let too_long = |r: Result<_, Error>| matches!(r, Err(Error::KeyTooLong { len, limit }) if len == MAX_KEY_LEN + 1 && limit == MAX_KEY_LEN);
    assert!(too_long(db.put(&over, b"x")));
    assert!(too_long(db.delete(&over)));
    assert!(too_long(db.get(&over).map(|_| ())));
    assert!(too_long(db.get_with(&over, |_| ()).map(|_| ())));
    assert!(too_long(db.multi_get(&[&max, &over]).map(|_| ())));
    assert!(!db.contains(&over));
    let mut batch = WriteBatch::new();
    batch.put("fine", b"1");
    batch.put(&over, b"2");
    assert!(too_long(db.write(batch)));
    assert_eq!(
        db.get("fine").unwrap(),
        None,
        "a refused batch writes nothing"
    );
    assert!(too_long(
        db.ingest_sorted([(b"a".to_vec(), b"1"), (over.clone(), b"2")])
            .map(|_| ())
    ));
    assert_eq!(
        db.get("a").unwrap(),
        None,
        "a refused ingestion writes nothing"
    );
    assert!(matches!(db.put(-1, b"x"), Err(Error::InvalidKey(_))));
    assert_eq!(db.len(), 1);
    drop(db);
    let db = Db::open(dir.path(), small()).unwrap();
    assert_eq!(db.keys::<Vec<u8>>().unwrap(), vec![max]);
}

/// A key of 8 head bytes (one slot of the root layer per `head`) and 8 tail bytes.
fn slot_key(head: u64, tail: u8) -> Vec<u8> {
    let mut k = head
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .to_be_bytes()
        .to_vec();
    k.extend_from_slice(&[tail; 8]);
    k
}

/// A slot holding one key of 16 bytes answers a read with that key's location unchecked (a
/// candidate, `trie::Lookup`); the engine checks the key against the hot record or asks the
/// index again. A read of another key of that slot must find nothing, whether the one key's
/// value is hot, cold, or in a recycled segment, before and after a reopen.
#[test]
fn reads_of_absent_keys_sharing_a_slot_with_one_key_find_nothing() {
    for (name, opts) in configs() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(dir.path(), opts.clone()).unwrap();
        let n = 600u64;
        for head in 0..n {
            db.put(slot_key(head, 1), &slot_key(head, 1)).unwrap();
        }
        for round in 0..2 {
            for head in 0..n {
                let (present, absent) = (slot_key(head, 1), slot_key(head, 2));
                assert_eq!(
                    db.get(&present).unwrap().as_deref(),
                    Some(&present[..]),
                    "{name} {round}"
                );
                assert_eq!(db.get(&absent).unwrap(), None, "{name} {round}: {absent:?}");
                assert_eq!(
                    db.get_with(&absent, |v| v.to_vec()).unwrap(),
                    None,
                    "{name}"
                );
                assert_eq!(db.get(&present[..8]).unwrap(), None, "{name}");
                assert!(!db.contains(&absent), "{name}");
                assert_eq!(
                    db.multi_get(&[&absent, &present]).unwrap()[0],
                    None,
                    "{name}"
                );
                assert_eq!(
                    db.get_with(&present, |v| v.to_vec()).unwrap().as_deref(),
                    Some(&present[..]),
                    "{name}"
                );
            }
            // The second key of every tenth slot, then the first one deleted: the slot holds
            // the second key alone.
            for head in (0..n).step_by(10) {
                db.put(slot_key(head, 2), b"second").unwrap();
                db.delete(slot_key(head, 1)).unwrap();
            }
            for head in (0..n).step_by(10) {
                assert_eq!(db.get(slot_key(head, 1)).unwrap(), None, "{name}");
                assert_eq!(
                    db.get(slot_key(head, 2)).unwrap().as_deref(),
                    Some(&b"second"[..])
                );
                db.put(slot_key(head, 1), &slot_key(head, 1)).unwrap();
                db.delete(slot_key(head, 2)).unwrap();
            }
            drop(db);
            db = Db::open(dir.path(), opts.clone()).unwrap();
        }
    }
}

/// Readers beside writers on byte keys that are prefixes of one another and share long
/// prefixes, and keys alone in their index slot (read through candidates), with tiny tiers
/// (segments recycle, cache entries evict all the time): every value read names its own key
/// (never another key's bytes), is at least as new as every write of the key acknowledged
/// before the read started, and a reader never sees a key's version go back.
#[test]
fn readers_beside_writers_see_only_their_keys_fresh_and_monotonic() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), common::tiny_tiers().promote_reads_to_hot(true)).unwrap();
    let mut keys: Vec<Vec<u8>> = Vec::new();
    for i in 0..16u64 {
        keys.push(format!("user{i}").into_bytes());
        keys.push(format!("user{i}\0").into_bytes());
        keys.push(format!("tenant/0000000000/user/{i:04}/field").into_bytes());
        keys.push(i.to_be_bytes().to_vec());
        // One-key slots (read by candidates) that a second key of the slot joins.
        keys.push(slot_key(i, 1));
        if i % 2 == 0 {
            keys.push(slot_key(i, 2));
        }
    }
    keys.push(Vec::new());
    keys.sort();
    keys.dedup();
    let n = keys.len();
    let acked: Vec<AtomicU64> = (0..n).map(|_| AtomicU64::new(0)).collect();
    let stop = AtomicBool::new(false);
    let value = |i: usize, version: u64| -> Vec<u8> {
        let mut v = version.to_le_bytes().to_vec();
        v.extend_from_slice(&keys[i]);
        v.resize(v.len() + (version % 40) as usize, 0xAB);
        v
    };
    let decode = |i: usize, v: &[u8]| -> u64 {
        let version = u64::from_le_bytes(v[..8].try_into().unwrap());
        assert_eq!(
            &v[8..8 + keys[i].len()],
            &keys[i][..],
            "a value of another key was read for {:?}",
            keys[i]
        );
        version
    };
    std::thread::scope(|s| {
        for w in 0..2usize {
            let (db, keys, acked, stop) = (&db, &keys, &acked, &stop);
            s.spawn(move || {
                let mut rng = Rng::new(100 + w as u64);
                let mut version = 0u64;
                while !stop.load(SeqCst) {
                    version += 1;
                    // Writer w owns the keys of its parity.
                    let mine: Vec<usize> = (0..3)
                        .map(|_| {
                            let i = rng.below(n as u64) as usize;
                            i - i % 2 + w
                        })
                        .filter(|&i| i < n)
                        .collect();
                    if rng.below(2) == 0 {
                        for &i in &mine {
                            db.put(&keys[i], &value(i, version)).unwrap();
                            acked[i].store(version, SeqCst);
                        }
                    } else {
                        let mut batch = WriteBatch::new();
                        for &i in &mine {
                            batch.put(&keys[i], value(i, version));
                        }
                        db.write(batch).unwrap();
                        for &i in &mine {
                            acked[i].store(version, SeqCst);
                        }
                    }
                }
            });
        }
        for r in 0..2u64 {
            let (db, keys, acked, stop) = (&db, &keys, &acked, &stop);
            s.spawn(move || {
                let mut rng = Rng::new(200 + r);
                let mut seen = vec![0u64; n];
                while !stop.load(SeqCst) {
                    let i = rng.below(n as u64) as usize;
                    let floor = acked[i].load(SeqCst);
                    let got = if rng.below(2) == 0 {
                        db.get(&keys[i]).unwrap()
                    } else {
                        // A one-key scan from the key itself.
                        db.scan((Bound::Included(&keys[i][..]), Bound::Unbounded), 1)
                            .next()
                            .map(|r| r.unwrap())
                            .filter(|(k, _)| *k == keys[i])
                            .map(|(_, v)| v)
                    };
                    let version = got.map_or(0, |v| decode(i, &v));
                    assert!(
                        version >= floor,
                        "{:?}: read {version} after {floor} was acknowledged",
                        keys[i]
                    );
                    assert!(
                        version >= seen[i],
                        "{:?}: went back from {} to {version}",
                        keys[i],
                        seen[i]
                    );
                    seen[i] = version;
                }
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(1500));
        stop.store(true, SeqCst);
    });
    for (i, k) in keys.iter().enumerate() {
        let want = acked[i].load(SeqCst);
        let got = db.get(k).unwrap().map_or(0, |v| decode(i, &v));
        assert_eq!(got, want, "{k:?} after the writers stopped");
    }
}
