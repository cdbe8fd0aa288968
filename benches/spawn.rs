//! `spawn_ordered`, `spawn_ordered_blocking` and `OrderedJoinSet` beside the usual ways of
//! getting concurrent results back in order, on a 2-worker multi-thread runtime.
//!
//! * `spawn_cpu`: N jobs of ~50 µs of real CPU work each. Anchors: `futures`' `buffered`
//!   (one task, so the CPU work runs sequentially), `tokio::spawn` + `buffered`, `JoinSet`
//!   collect-then-sort, tokio-util's `JoinQueue` (ordered, no limit), and the plain
//!   sequential loop. Each consumer runs as a task on the
//!   runtime (as in a server), so no variant gets a third thread on the 2 cores.
//! * `spawn_latency`: N jobs that sleep a seeded U[0, 10 ms), at several windows, beside
//!   `buffered(limit)` and `tokio::spawn` + `buffered(limit)`.
//!
//! Every routine checks that all N results came back in input order, so a broken
//! implementation fails the run instead of producing a fast number. Ratios within one run
//! are what count: compare `target/criterion/<group>/<fn>/new/estimates.json`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use futures::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reorder::{OrderedExt, OrderedJoinSet, SpawnConfig};
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinSet;
use tokio_util::task::JoinQueue;

/// The machine has 2 cores; the targets are stated for 2 workers.
const WORKERS: usize = 2;

const CPU_JOBS: usize = 2_000;
const CPU_LIMIT: usize = 8;
const CPU_JOB_TIME: Duration = Duration::from_micros(50);

/// 1,000 jobs at ~16 / 5.5 ms ≈ 3 jobs per ms is ~350 ms per run: long enough that the
/// ramp-up and the final drain (each at most one 10 ms latency) are ~5% of a run, short
/// enough that 10 samples of 6 routines stay well under a minute.
const LATENCY_JOBS: usize = 1_000;
const LATENCY_LIMIT: usize = 16;
const MAX_LATENCY_US: u64 = 10_000;
const SEED: u64 = 0x005E_ED0F_0D3E;

fn runtime() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("build the tokio runtime")
}

/// Integer mixing (splitmix64) for `rounds` rounds: real work the optimizer cannot skip.
fn mix(rounds: u64, seed: u64) -> u64 {
    let mut x = seed;
    for _ in 0..black_box(rounds) {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= z ^ (z >> 31);
    }
    x
}

/// Rounds of [`mix`] that take about [`CPU_JOB_TIME`] on this machine; the best of a few
/// timings, so a busy moment on the shared machine does not inflate the job.
fn calibrate() -> u64 {
    const PROBE: u64 = 1_000_000;
    let best = (0..5)
        .map(|_| {
            let start = Instant::now();
            black_box(mix(PROBE, 1));
            start.elapsed()
        })
        .min()
        .expect("five probes");
    let rounds = (PROBE as f64 * CPU_JOB_TIME.as_secs_f64() / best.as_secs_f64()) as u64;
    eprintln!("spawn bench: {rounds} mixing rounds ≈ {CPU_JOB_TIME:?} per CPU job");
    rounds.max(1)
}

/// One CPU job: its index (to check the order) and the work's result.
fn cpu_job(index: usize, rounds: u64) -> (usize, u64) {
    (index, black_box(mix(rounds, index as u64)))
}

/// Asserts that indices arrive as exactly `0, 1, …, n - 1`.
struct InOrder {
    next: usize,
    n: usize,
}

impl InOrder {
    fn new(n: usize) -> Self {
        Self { next: 0, n }
    }

    fn see(&mut self, index: usize) {
        assert_eq!(index, self.next, "result out of order");
        self.next += 1;
    }

    fn finish(self) {
        assert_eq!(self.next, self.n, "results missing");
    }
}

/// Runs the consumer as a task on the runtime's workers, as it would be in a server, so
/// every variant (ours and the anchors alike) shares the 2 cores with 2 threads, not 3.
async fn on_worker(consumer: impl std::future::Future<Output = ()> + Send + 'static) {
    tokio::spawn(consumer).await.expect("consumer task");
}

fn bench_cpu(c: &mut Criterion) {
    let rt = runtime();
    let rounds = calibrate();
    let job = move |i: usize| async move { cpu_job(i, rounds) };

    let mut group = c.benchmark_group("spawn_cpu");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));

    group.bench_function("ours_spawn_ordered", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                let mut out = stream::iter(0..CPU_JOBS).spawn_ordered(CPU_LIMIT, job);
                let mut check = InOrder::new(CPU_JOBS);
                while let Some(result) = out.next().await {
                    check.see(result.expect("job ran").0);
                }
                check.finish();
            })
        });
    });

    group.bench_function("ours_spawn_ordered_blocking", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                let mut out = stream::iter(0..CPU_JOBS)
                    .spawn_ordered_blocking(CPU_LIMIT, move |i| cpu_job(i, rounds));
                let mut check = InOrder::new(CPU_JOBS);
                while let Some(result) = out.next().await {
                    check.see(result.expect("job ran").0);
                }
                check.finish();
            })
        });
    });

    group.bench_function("ours_ordered_join_set", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                let mut set = OrderedJoinSet::new();
                for i in 0..CPU_JOBS {
                    set.spawn(job(i));
                }
                let mut check = InOrder::new(CPU_JOBS);
                while let Some(result) = set.join_next().await {
                    check.see(result.expect("job ran").0);
                }
                check.finish();
            })
        });
    });

    group.bench_function("futures_buffered", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                let mut out = stream::iter(0..CPU_JOBS).map(job).buffered(CPU_LIMIT);
                let mut check = InOrder::new(CPU_JOBS);
                while let Some((i, _)) = out.next().await {
                    check.see(i);
                }
                check.finish();
            })
        });
    });

    group.bench_function("tokio_spawn_buffered", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                let mut out = stream::iter(0..CPU_JOBS)
                    .map(|i| tokio::spawn(job(i)))
                    .buffered(CPU_LIMIT);
                let mut check = InOrder::new(CPU_JOBS);
                while let Some(result) = out.next().await {
                    check.see(result.expect("job ran").0);
                }
                check.finish();
            })
        });
    });

    group.bench_function("joinset_collect_sort", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                let mut set = JoinSet::new();
                for i in 0..CPU_JOBS {
                    set.spawn(job(i));
                }
                let mut results = Vec::with_capacity(CPU_JOBS);
                while let Some(result) = set.join_next().await {
                    results.push(result.expect("job ran"));
                }
                results.sort_unstable_by_key(|&(i, _)| i);
                let mut check = InOrder::new(CPU_JOBS);
                for (i, _) in results {
                    check.see(i);
                }
                check.finish();
            })
        });
    });

    // tokio-util's JoinQueue: ordered and parallel, but no limit (all jobs spawned at
    // once) and no memory bound.
    group.bench_function("joinqueue", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                let mut queue = JoinQueue::new();
                for i in 0..CPU_JOBS {
                    queue.spawn(job(i));
                }
                let mut check = InOrder::new(CPU_JOBS);
                while let Some(result) = queue.join_next().await {
                    check.see(result.expect("job ran").0);
                }
                check.finish();
            })
        });
    });

    group.bench_function("sequential_loop", |b| {
        b.iter(|| {
            let mut check = InOrder::new(CPU_JOBS);
            for i in 0..CPU_JOBS {
                check.see(cpu_job(i, rounds).0);
            }
            check.finish();
        });
    });

    group.finish();
}

/// The fixed, seeded latencies: job `i` sleeps `latencies[i]`, U[0, 10 ms).
fn latencies() -> Vec<Duration> {
    let mut rng = StdRng::seed_from_u64(SEED);
    (0..LATENCY_JOBS)
        .map(|_| Duration::from_micros(rng.random_range(0..MAX_LATENCY_US)))
        .collect()
}

async fn sleep_job(index: usize, latency: Duration) -> usize {
    tokio::time::sleep(latency).await;
    index
}

/// Runs all latency jobs through `spawn_ordered` with `window`, checks the order and the
/// bound, and returns the peak number of buffered results.
async fn ours_latency(latencies: &[Duration], limit: usize, window: usize) -> usize {
    let config = SpawnConfig::new(limit).window(window);
    let mut out = stream::iter(latencies.iter().copied().enumerate())
        .spawn_ordered_with(config, |(i, latency)| sleep_job(i, latency));
    let mut check = InOrder::new(latencies.len());
    while let Some(result) = out.next().await {
        check.see(result.expect("job ran"));
    }
    check.finish();
    let peak = out.peak_buffered();
    assert!(peak <= window, "peak buffered {peak} > window {window}");
    peak
}

fn bench_latency(c: &mut Criterion) {
    let rt = runtime();
    let latencies = latencies();
    let latencies = &latencies[..];
    let default_window = SpawnConfig::new(LATENCY_LIMIT).get_window();

    let windows = [
        ("ours_window_1x", LATENCY_LIMIT),
        ("ours_window_2x", 2 * LATENCY_LIMIT),
        ("ours_window_8x", 8 * LATENCY_LIMIT),
    ];
    // Not timed: how much memory each window actually used, for choosing the default.
    let probes = windows
        .into_iter()
        .chain([("ours_spawn_ordered_default", default_window)]);
    for (name, window) in probes {
        let peak = rt.block_on(ours_latency(latencies, LATENCY_LIMIT, window));
        eprintln!("spawn bench: {name} (window {window}): peak buffered {peak}");
    }

    let mut group = c.benchmark_group("spawn_latency");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));

    group.bench_function("ours_spawn_ordered_default", |b| {
        b.to_async(&rt).iter(|| async {
            let mut out = stream::iter(latencies.iter().copied().enumerate())
                .spawn_ordered(LATENCY_LIMIT, |(i, latency)| sleep_job(i, latency));
            let mut check = InOrder::new(LATENCY_JOBS);
            while let Some(result) = out.next().await {
                check.see(result.expect("job ran"));
            }
            check.finish();
            assert!(out.peak_buffered() <= default_window);
        });
    });

    for (name, window) in windows {
        group.bench_function(name, |b| {
            b.to_async(&rt)
                .iter(|| ours_latency(latencies, LATENCY_LIMIT, window));
        });
    }

    group.bench_function("futures_buffered", |b| {
        b.to_async(&rt)
            .iter(|| buffered_latency(latencies, LATENCY_LIMIT));
    });

    group.bench_function("tokio_spawn_buffered", |b| {
        b.to_async(&rt).iter(|| async {
            let mut out = stream::iter(latencies.iter().copied().enumerate())
                .map(|(i, latency)| tokio::spawn(sleep_job(i, latency)))
                .buffered(LATENCY_LIMIT);
            let mut check = InOrder::new(LATENCY_JOBS);
            while let Some(result) = out.next().await {
                check.see(result.expect("job ran"));
            }
            check.finish();
        });
    });

    group.finish();

    // The same jobs at a higher limit: how much `buffered` loses to head-of-line blocking
    // grows with the limit (tokio's 1 ms timer rounding, added to every sleep, narrows
    // the spread of latencies and so the gap; see BENCHMARKS.md).
    let mut group = c.benchmark_group("spawn_latency_limit64");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let limit = 64;
    let window = SpawnConfig::new(limit).get_window();
    group.bench_function("ours_spawn_ordered_default", |b| {
        b.to_async(&rt)
            .iter(|| ours_latency(latencies, limit, window));
    });
    group.bench_function("futures_buffered", |b| {
        b.to_async(&rt).iter(|| buffered_latency(latencies, limit));
    });
    group.finish();
}

/// Runs all latency jobs through `futures`' `buffered(limit)` and checks the order.
async fn buffered_latency(latencies: &[Duration], limit: usize) {
    let mut out = stream::iter(latencies.iter().copied().enumerate())
        .map(|(i, latency)| sleep_job(i, latency))
        .buffered(limit);
    let mut check = InOrder::new(latencies.len());
    while let Some(i) = out.next().await {
        check.see(i);
    }
    check.finish();
}

criterion_group!(benches, bench_cpu, bench_latency);
criterion_main!(benches);
