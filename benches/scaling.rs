//! How cost grows: nanoseconds per item at 10³, 10⁴, 10⁵ and 10⁶ items and windows 16,
//! 256, 4,096 and 65,536. Every cell sets `Throughput::Elements(items)`, so criterion's
//! report shows the per-item rate; `scripts/plot_scaling.py` draws ns/item against items,
//! one line per window, into `benches/scaling.svg`. Expected shape: flat in items (linear
//! total cost), growing with the logarithm of the window (the heap).
//!
//! * `scaling_ordered/w<W>/<items>`: `.ordered()` over an always-ready stream of
//!   `(seq, value)` in the shuffled order "item i finishes at i + U[0, W)" (fixed seed, as
//!   in benches/reorder.rs), on a current-thread runtime. The input is a `stream::iter`
//!   over a prepared `Vec` (no channel), so the cell is the adapter and its buffer alone.
//!   When W ≥ items the whole input is one shuffle.
//! * `scaling_spawn_ordered/w<W>/<items>`: `spawn_ordered_with(SpawnConfig::new(W).window(W))`
//!   over jobs that do nothing (return their index) on a 2-worker multi-thread runtime, the
//!   consumer as a task on it (as in benches/spawn.rs): W tasks in flight and at most W
//!   results buffered, so the window is also the concurrency. Tiny jobs finish almost in
//!   order, so this is per-task overhead as the in-flight set grows.
//!
//! Sampling is light (10 flat samples, 0.3 s warm-up, ~1 s per cell) so the whole file
//! runs in about 2 minutes; the slowest cells are `scaling_spawn_ordered/*/1000000`
//! (0.5–1 s per iteration, so ~10 s each). All 32 cells run, the 10⁶ × 65,536 ones
//! included: in a one-iteration smoke run they took 0.13 s (`.ordered()`) and 0.6 s
//! (`spawn_ordered`), not enough to make them optional.
//!
//! Every routine checks count and order (or sum), so a broken implementation fails the
//! run instead of producing a fast number.
//!
//! Run: `cargo bench -p reorder-benches --bench scaling`, then
//! `python3 scripts/plot_scaling.py`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use futures::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reorder::{OrderedExt, SpawnConfig};
use tokio::runtime::Builder;

const SIZES: [u64; 4] = [1_000, 10_000, 100_000, 1_000_000];
const WINDOWS: [u64; 4] = [16, 256, 4_096, 65_536];
/// The seed of benches/reorder.rs, so W = 64 / 4096 arrivals follow the same recipe.
const SEED: u64 = 0x5eed_0dde_u64;
const WORKERS: usize = 2;

/// The value carried for seq `i`: not the seq itself, so a mix-up changes the sum.
fn value(seq: u64) -> u64 {
    seq.wrapping_mul(0x9e37_79b9).wrapping_add(1)
}

/// Arrival order of `n` items for window `w`: item i finishes at i + U[0, w); ties keep
/// index order.
fn arrivals(n: u64, w: u64) -> Vec<(u64, u64)> {
    let mut rng = StdRng::seed_from_u64(SEED ^ w);
    let mut keyed: Vec<(u64, u64)> = (0..n).map(|i| (i + rng.random_range(0..w), i)).collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| (i, value(i))).collect()
}

fn configure(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
}

fn bench_ordered(c: &mut Criterion) {
    let rt = Builder::new_current_thread()
        .build()
        .expect("current_thread runtime");
    let mut group = c.benchmark_group("scaling_ordered");
    configure(&mut group);
    for w in WINDOWS {
        for n in SIZES {
            let items = arrivals(n, w);
            let expected = (0..n).map(value).fold(0, u64::wrapping_add);
            group.throughput(Throughput::Elements(n));
            group.bench_function(BenchmarkId::new(format!("w{w}"), n), |b| {
                b.to_async(&rt).iter(|| async {
                    let mut s = stream::iter(items.iter().copied()).ordered();
                    let (mut count, mut sum) = (0u64, 0u64);
                    while let Some(v) = s.next().await {
                        sum = sum.wrapping_add(black_box(v.expect("in order")));
                        count += 1;
                    }
                    assert_eq!(count, n, "lost or duplicated items");
                    assert_eq!(sum, expected, "values out of place");
                    assert!(s.peak_buffered() > 0, "input was not shuffled");
                });
            });
        }
    }
    group.finish();
}

/// Runs `n` tiny jobs through `spawn_ordered` with limit = window = `w` and checks that
/// they come back as `0, 1, …, n - 1`.
async fn spawn_tiny(n: u64, w: usize) {
    let config = SpawnConfig::new(w).window(w);
    let mut out = stream::iter(0..n).spawn_ordered_with(config, |i| async move { i });
    let mut next = 0;
    while let Some(result) = out.next().await {
        assert_eq!(result.expect("job ran"), next, "result out of order");
        next += 1;
    }
    assert_eq!(next, n, "results missing");
    assert!(out.peak_buffered() <= w, "window exceeded");
}

fn bench_spawn_ordered(c: &mut Criterion) {
    let rt = Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("build the tokio runtime");
    let mut group = c.benchmark_group("scaling_spawn_ordered");
    configure(&mut group);
    for w in WINDOWS {
        for n in SIZES {
            group.throughput(Throughput::Elements(n));
            group.bench_function(BenchmarkId::new(format!("w{w}"), n), |b| {
                b.to_async(&rt).iter(|| async move {
                    // The consumer as a task on the workers, as in benches/spawn.rs.
                    tokio::spawn(spawn_tiny(n, w as usize))
                        .await
                        .expect("consumer task");
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_ordered, bench_spawn_ordered);
criterion_main!(benches);
