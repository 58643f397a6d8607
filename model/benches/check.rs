//! Throughput of the history checker on race histories of 10^3..10^6 calls.
//!
//! Run: `cargo bench -p leasecheck-model --bench check`. Criterion reports
//! elements per second, one element being one event of the history.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use leasecheck_model::check::check;
use leasecheck_model::synthetic::{race, race_with_second_winners, stress};

fn bench_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("check_race");
    group.sample_size(10);
    for ops in [1_000, 10_000, 100_000, 1_000_000] {
        let h = race(ops, 1);
        assert!(check(&h).is_pass(), "the generated history is legal");
        group.throughput(Throughput::Elements(h.events.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(ops), &h, |b, h| {
            b.iter(|| check(black_box(h)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("check_stress_32_candidates");
    group.sample_size(10);
    for ops in [100_000, 1_000_000] {
        let h = stress(ops, 32, 3);
        assert!(check(&h).is_pass(), "the generated history is legal");
        group.throughput(Throughput::Elements(h.events.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(ops), &h, |b, h| {
            b.iter(|| check(black_box(h)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("check_race_1pct_violating");
    group.sample_size(10);
    let ops = 100_000;
    let h = race_with_second_winners(ops, 2, 100);
    let v = check(&h);
    assert!(!v.violations.is_empty() && v.inconclusive.is_empty());
    group.throughput(Throughput::Elements(h.events.len() as u64));
    group.bench_with_input(BenchmarkId::from_parameter(ops), &h, |b, h| {
        b.iter(|| check(black_box(h)))
    });
    group.finish();
}

criterion_group!(benches, bench_check);
criterion_main!(benches);
