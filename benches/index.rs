//! Criterion benches of the learned index at 1M keys: lookups and inserts, beside BTreeMap.
//! Run with `cargo bench --bench index`. The headline comparison is the `index_benchmark` program.

use std::collections::BTreeMap;
use std::hint::black_box;

use alexkv::alex::Alex;
use alexkv::bench::keys::{generate_keys, query_sequence, shuffled, KeyDist};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

const N: usize = 1_000_000;

fn lookups(c: &mut Criterion) {
    let keys = generate_keys(KeyDist::Random, N, 1);
    let queries = query_sequence(&keys, 4096, 2);
    let alex = Alex::bulk_load(&keys, &keys).unwrap();
    let btree: BTreeMap<u64, u64> = keys.iter().map(|&k| (k, k)).collect();
    let mut g = c.benchmark_group("lookup_1m_random");
    g.bench_function("alex", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(alex.get(queries[i]))
        })
    });
    g.bench_function("btreemap", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(btree.get(&queries[i]))
        })
    });
    g.finish();
}

fn inserts(c: &mut Criterion) {
    let keys = generate_keys(KeyDist::Random, N, 3);
    let order = shuffled(&keys, 4);
    let mut base: Vec<u64> = order[..N / 2].to_vec();
    base.sort_unstable();
    let rest = &order[N / 2..N / 2 + 100_000];
    let mut g = c.benchmark_group("insert_100k_into_500k_random");
    g.sample_size(10);
    g.bench_function("alex", |b| {
        b.iter_batched(
            || Alex::bulk_load(&base, &base).unwrap(),
            |mut a| {
                for &k in rest {
                    a.insert(k, k);
                }
                a
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("btreemap", |b| {
        b.iter_batched(
            || base.iter().map(|&k| (k, k)).collect::<BTreeMap<u64, u64>>(),
            |mut m| {
                for &k in rest {
                    m.insert(k, k);
                }
                m
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, lookups, inserts);
criterion_main!(benches);
