//! `spawn_ordered`, `spawn_ordered_blocking` and `OrderedJoinSet` beside the usual ways of
//! getting concurrent results back in order, on a 2-worker multi-thread runtime.
//!
//! * `spawn_cpu`: N jobs of ~50 µs of real CPU work each. Anchors: `futures`' `buffered`
//!   (one task, so the CPU work runs sequentially), `tokio::spawn` + `buffered`, `JoinSet`
//!   collect-then-sort, tokio-util's `JoinQueue` (ordered, no limit), and the plain
//!   sequential loop. Each consumer runs as a task on the
//!   runtime (as in a server), so no variant gets a third thread on the 2 cores. The paired
//!   group (`ratio_spawn_cpu`) also has `spawn_ordered` with every job in flight at once
//!   against `JoinSet` + sort, for information: the engine's cost without the limit.
//! * `spawn_latency`: N jobs that sleep a seeded U[0, 10 ms), at several windows, beside
//!   `buffered(limit)` and `tokio::spawn` + `buffered(limit)`.
//! * `spawn_tiny`: 10,000 jobs that do nothing (return their index), at limit 64 and 8
//!   (`<fn>/64`, `<fn>/8`): what each task costs us beyond tokio's own spawn. Anchors: a
//!   bare `JoinSet::spawn` + `join_next` loop keeping at most `limit` in flight (results in
//!   completion order, `joinset_spawn_join_next`) and `tokio::spawn` + `buffered(limit)`;
//!   ours are `spawn_ordered` and `OrderedJoinSet` topped up to `limit` in flight.
//! * `spawn_blocking`: `spawn_ordered_blocking` against `map(spawn_blocking).buffered(limit)`
//!   at limit 8, for 2,000 CPU jobs of ~50 µs (`<fn>/50us`) and 200 of ~1 ms (`<fn>/1ms`);
//!   `spawn_ordered` with the work inside the async block, for reference.
//!
//! Every routine checks that all N results came back in input order, so a broken
//! implementation fails the run instead of producing a fast number. Ratios within one run
//! are what count: compare `target/criterion/<group>/<fn>/new/estimates.json`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use futures::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reorder::{OrderedExt, OrderedJoinSet, SpawnConfig};
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinSet;
use tokio_util::task::JoinQueue;

mod paired;
use paired::{bench_pair, timed, Ratio};

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

/// Jobs that do nothing: the whole run is per-task overhead.
const TINY_JOBS: usize = 10_000;
const TINY_LIMITS: [usize; 2] = [64, 8];

/// Blocking jobs: (parameter, job time in units of [`CPU_JOB_TIME`], jobs). The 1 ms jobs
/// are fewer so that one run stays ~100 ms on 2 cores.
const BLOCKING_JOBS: [(&str, u64, usize); 2] = [("50us", 1, 2_000), ("1ms", 20, 200)];
const BLOCKING_LIMIT: usize = 8;

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

/// `spawn_ordered` over the CPU jobs, as a task on the runtime.
async fn cpu_spawn_ordered(rounds: u64) {
    let mut out = stream::iter(0..CPU_JOBS)
        .spawn_ordered(CPU_LIMIT, move |i| async move { cpu_job(i, rounds) });
    let mut check = InOrder::new(CPU_JOBS);
    while let Some(result) = out.next().await {
        check.see(result.expect("job ran").0);
    }
    check.finish();
}

/// How tokio ran `spawn_ordered`'s CPU jobs, printed once per bench run: the most results
/// that waited for an earlier one, and how many jobs started before the job just ahead
/// of them in the input. A task spawned from a worker goes to that worker's LIFO slot and runs before
/// the tasks queued ahead of it, so new jobs overtake old ones and the window fills.
fn cpu_schedule_report(rt: &Runtime, rounds: u64) {
    let (peak, overtaking) = rt.block_on(async move {
        tokio::spawn(async move {
            let mut out = stream::iter(0..CPU_JOBS).spawn_ordered(CPU_LIMIT, move |i| async move {
                let started = Instant::now();
                (cpu_job(i, rounds), started)
            });
            let (mut overtaking, mut last_start) = (0, None);
            while let Some(result) = out.next().await {
                let (_, started) = result.expect("job ran");
                overtaking += usize::from(last_start.is_some_and(|last| started < last));
                last_start = Some(started);
            }
            (out.peak_buffered(), overtaking)
        })
        .await
        .expect("consumer task")
    });
    eprintln!(
        "spawn bench: spawn_ordered CPU jobs, limit {CPU_LIMIT}, window {}: peak buffered \
         {peak}; {overtaking} of {CPU_JOBS} jobs started before the job just ahead of them",
        SpawnConfig::new(CPU_LIMIT).get_window()
    );
}

/// `spawn_ordered` over the CPU jobs with every job in flight at once (limit and window
/// `CPU_JOBS`), as `JoinSet` + sort has them: for information.
async fn cpu_spawn_ordered_unbounded(rounds: u64) {
    let config = SpawnConfig::new(CPU_JOBS).window(CPU_JOBS);
    let mut out = stream::iter(0..CPU_JOBS)
        .spawn_ordered_with(config, move |i| async move { cpu_job(i, rounds) });
    let mut check = InOrder::new(CPU_JOBS);
    while let Some(result) = out.next().await {
        check.see(result.expect("job ran").0);
    }
    check.finish();
}

async fn cpu_spawn_ordered_blocking(rounds: u64) {
    let mut out =
        stream::iter(0..CPU_JOBS).spawn_ordered_blocking(CPU_LIMIT, move |i| cpu_job(i, rounds));
    let mut check = InOrder::new(CPU_JOBS);
    while let Some(result) = out.next().await {
        check.see(result.expect("job ran").0);
    }
    check.finish();
}

async fn cpu_ordered_join_set(rounds: u64) {
    let mut set = OrderedJoinSet::new();
    for i in 0..CPU_JOBS {
        set.spawn(async move { cpu_job(i, rounds) });
    }
    let mut check = InOrder::new(CPU_JOBS);
    while let Some(result) = set.join_next().await {
        check.see(result.expect("job ran").0);
    }
    check.finish();
}

/// `futures`' `buffered`: every job is polled on the consumer's task, one at a time.
async fn cpu_futures_buffered(rounds: u64) {
    let mut out = stream::iter(0..CPU_JOBS)
        .map(|i| async move { cpu_job(i, rounds) })
        .buffered(CPU_LIMIT);
    let mut check = InOrder::new(CPU_JOBS);
    while let Some((i, _)) = out.next().await {
        check.see(i);
    }
    check.finish();
}

async fn cpu_tokio_spawn_buffered(rounds: u64) {
    let mut out = stream::iter(0..CPU_JOBS)
        .map(|i| tokio::spawn(async move { cpu_job(i, rounds) }))
        .buffered(CPU_LIMIT);
    let mut check = InOrder::new(CPU_JOBS);
    while let Some(result) = out.next().await {
        check.see(result.expect("job ran").0);
    }
    check.finish();
}

/// Every job spawned into a `JoinSet`, all results collected, then sorted.
async fn cpu_joinset_collect_sort(rounds: u64) {
    let mut set = JoinSet::new();
    for i in 0..CPU_JOBS {
        set.spawn(async move { cpu_job(i, rounds) });
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
}

/// tokio-util's JoinQueue: ordered and parallel, but no limit (all jobs spawned at once)
/// and no memory bound.
async fn cpu_joinqueue(rounds: u64) {
    let mut queue = JoinQueue::new();
    for i in 0..CPU_JOBS {
        queue.spawn(async move { cpu_job(i, rounds) });
    }
    let mut check = InOrder::new(CPU_JOBS);
    while let Some(result) = queue.join_next().await {
        check.see(result.expect("job ran").0);
    }
    check.finish();
}

fn cpu_sequential(rounds: u64) {
    let mut check = InOrder::new(CPU_JOBS);
    for i in 0..CPU_JOBS {
        check.see(cpu_job(i, rounds).0);
    }
    check.finish();
}

fn bench_cpu(c: &mut Criterion) {
    let rt = runtime();
    let rounds = calibrate();

    let mut group = c.benchmark_group("spawn_cpu");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("ours_spawn_ordered", |b| {
        b.to_async(&rt)
            .iter(|| on_worker(cpu_spawn_ordered(rounds)));
    });
    group.bench_function("ours_spawn_ordered_blocking", |b| {
        b.to_async(&rt)
            .iter(|| on_worker(cpu_spawn_ordered_blocking(rounds)));
    });
    group.bench_function("ours_ordered_join_set", |b| {
        b.to_async(&rt)
            .iter(|| on_worker(cpu_ordered_join_set(rounds)));
    });
    group.bench_function("futures_buffered", |b| {
        b.to_async(&rt)
            .iter(|| on_worker(cpu_futures_buffered(rounds)));
    });
    group.bench_function("tokio_spawn_buffered", |b| {
        b.to_async(&rt)
            .iter(|| on_worker(cpu_tokio_spawn_buffered(rounds)));
    });
    group.bench_function("joinset_collect_sort", |b| {
        b.to_async(&rt)
            .iter(|| on_worker(cpu_joinset_collect_sort(rounds)));
    });
    group.bench_function("joinqueue", |b| {
        b.to_async(&rt).iter(|| on_worker(cpu_joinqueue(rounds)));
    });
    group.bench_function("sequential_loop", |b| {
        b.iter(|| cpu_sequential(rounds));
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
        b.to_async(&rt)
            .iter(|| ours_latency(latencies, LATENCY_LIMIT, default_window));
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
        b.to_async(&rt)
            .iter(|| tokio_spawn_buffered_latency(latencies, LATENCY_LIMIT));
    });
    group.bench_function("unordered_bound", |b| {
        b.to_async(&rt)
            .iter(|| unordered_latency(latencies, LATENCY_LIMIT));
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

async fn tokio_spawn_buffered_latency(latencies: &[Duration], limit: usize) {
    let mut out = stream::iter(latencies.iter().copied().enumerate())
        .map(|(i, latency)| tokio::spawn(sleep_job(i, latency)))
        .buffered(limit);
    let mut check = InOrder::new(latencies.len());
    while let Some(result) = out.next().await {
        check.see(result.expect("job ran"));
    }
    check.finish();
}

/// The ideal scheduler's bound: `buffer_unordered(limit)` starts a job whenever fewer than
/// `limit` run and never waits for an earlier one, so no ordered stream with the same
/// limit can finish sooner (it pays the same timer rounding). Checks every index came.
async fn unordered_latency(latencies: &[Duration], limit: usize) {
    let mut out = stream::iter(latencies.iter().copied().enumerate())
        .map(|(i, latency)| sleep_job(i, latency))
        .buffer_unordered(limit);
    let (mut seen, mut sum) = (0usize, 0usize);
    while let Some(i) = out.next().await {
        seen += 1;
        sum += i;
    }
    let n = latencies.len();
    assert_eq!(seen, n, "results missing");
    assert_eq!(sum, n * (n - 1) / 2, "results wrong");
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

/// A job with no work: its index back, as soon as it is polled.
async fn tiny_job(index: usize) -> usize {
    index
}

/// The anchor: `JoinSet::spawn` + `join_next`, topped up to `limit` in flight; results in
/// completion order, so the check is the count and the sum of the indices.
async fn tiny_joinset(n: usize, limit: usize) {
    let mut set = JoinSet::new();
    let mut next = 0;
    while next < n.min(limit) {
        set.spawn(tiny_job(next));
        next += 1;
    }
    let (mut seen, mut sum) = (0usize, 0usize);
    while let Some(result) = set.join_next().await {
        sum += result.expect("job ran");
        seen += 1;
        if next < n {
            set.spawn(tiny_job(next));
            next += 1;
        }
    }
    assert_eq!(seen, n, "results missing");
    assert_eq!(sum, n * (n - 1) / 2, "results wrong");
}

async fn tiny_spawn_ordered(n: usize, limit: usize) {
    let mut out = stream::iter(0..n).spawn_ordered(limit, tiny_job);
    let mut check = InOrder::new(n);
    while let Some(result) = out.next().await {
        check.see(result.expect("job ran"));
    }
    check.finish();
}

/// `OrderedJoinSet` has no limit of its own: topped up to `limit` in flight, like the
/// `JoinSet` anchor.
async fn tiny_ordered_join_set(n: usize, limit: usize) {
    let mut set = OrderedJoinSet::new();
    let mut next = 0;
    while next < n.min(limit) {
        set.spawn(tiny_job(next));
        next += 1;
    }
    let mut check = InOrder::new(n);
    while let Some(result) = set.join_next().await {
        check.see(result.expect("job ran"));
        if next < n {
            set.spawn(tiny_job(next));
            next += 1;
        }
    }
    check.finish();
}

async fn tiny_tokio_spawn_buffered(n: usize, limit: usize) {
    let mut out = stream::iter(0..n)
        .map(|i| tokio::spawn(tiny_job(i)))
        .buffered(limit);
    let mut check = InOrder::new(n);
    while let Some(result) = out.next().await {
        check.see(result.expect("job ran"));
    }
    check.finish();
}

fn bench_tiny(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("spawn_tiny");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(TINY_JOBS as u64));
    for limit in TINY_LIMITS {
        let n = TINY_JOBS;
        group.bench_with_input(
            BenchmarkId::new("joinset_spawn_join_next", limit),
            &limit,
            |b, &limit| {
                b.to_async(&rt).iter(|| on_worker(tiny_joinset(n, limit)));
            },
        );
        group.bench_with_input(
            BenchmarkId::new("ours_spawn_ordered", limit),
            &limit,
            |b, &limit| {
                b.to_async(&rt)
                    .iter(|| on_worker(tiny_spawn_ordered(n, limit)));
            },
        );
        group.bench_with_input(
            BenchmarkId::new("ours_ordered_join_set", limit),
            &limit,
            |b, &limit| {
                b.to_async(&rt)
                    .iter(|| on_worker(tiny_ordered_join_set(n, limit)));
            },
        );
        group.bench_with_input(
            BenchmarkId::new("tokio_spawn_buffered", limit),
            &limit,
            |b, &limit| {
                b.to_async(&rt)
                    .iter(|| on_worker(tiny_tokio_spawn_buffered(n, limit)));
            },
        );
    }
    group.finish();
}

async fn blocking_spawn_ordered_blocking(n: usize, rounds: u64) {
    let mut out =
        stream::iter(0..n).spawn_ordered_blocking(BLOCKING_LIMIT, move |i| cpu_job(i, rounds));
    let mut check = InOrder::new(n);
    while let Some(result) = out.next().await {
        check.see(result.expect("job ran").0);
    }
    check.finish();
}

async fn blocking_tokio_spawn_blocking_buffered(n: usize, rounds: u64) {
    let mut out = stream::iter(0..n)
        .map(|i| tokio::task::spawn_blocking(move || cpu_job(i, rounds)))
        .buffered(BLOCKING_LIMIT);
    let mut check = InOrder::new(n);
    while let Some(result) = out.next().await {
        check.see(result.expect("job ran").0);
    }
    check.finish();
}

/// For reference: the same work inside the async block, on the 2 workers.
async fn blocking_spawn_ordered(n: usize, rounds: u64) {
    let mut out = stream::iter(0..n)
        .spawn_ordered(BLOCKING_LIMIT, move |i| async move { cpu_job(i, rounds) });
    let mut check = InOrder::new(n);
    while let Some(result) = out.next().await {
        check.see(result.expect("job ran").0);
    }
    check.finish();
}

fn bench_blocking(c: &mut Criterion) {
    let rt = runtime();
    let rounds_per_unit = calibrate();
    let mut group = c.benchmark_group("spawn_blocking");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (name, units, n) in BLOCKING_JOBS {
        let rounds = rounds_per_unit * units;
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("ours_spawn_ordered_blocking", name), |b| {
            b.to_async(&rt)
                .iter(|| on_worker(blocking_spawn_ordered_blocking(n, rounds)));
        });
        group.bench_function(
            BenchmarkId::new("tokio_spawn_blocking_buffered", name),
            |b| {
                b.to_async(&rt)
                    .iter(|| on_worker(blocking_tokio_spawn_blocking_buffered(n, rounds)));
            },
        );
        group.bench_function(BenchmarkId::new("ours_spawn_ordered", name), |b| {
            b.to_async(&rt)
                .iter(|| on_worker(blocking_spawn_ordered(n, rounds)));
        });
    }
    group.finish();
}

/// Runs `consumer` once as a task on `rt`'s workers; returns how long it took.
fn run_on(
    rt: &Runtime,
    consumer: impl std::future::Future<Output = ()> + Send + 'static,
) -> Duration {
    timed(|| rt.block_on(on_worker(consumer)))
}

/// The targets as paired ratios (see `paired.rs`): ours and the anchor alternate within
/// every iteration, so drift on the shared machine cancels out of the ratio.
fn bench_ratios(c: &mut Criterion<Ratio>) {
    let rt = runtime();
    let rounds = calibrate();

    cpu_schedule_report(&rt, rounds);
    let mut group = c.benchmark_group("ratio_spawn_cpu");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    let ours = || run_on(&rt, cpu_spawn_ordered(rounds));
    bench_pair(
        &mut group,
        BenchmarkId::from_parameter("spawn_ordered_vs_joinset_collect_sort"),
        ours,
        || run_on(&rt, cpu_joinset_collect_sort(rounds)),
    );
    // For information: without a limit (every job in flight at once, as the anchor), to
    // tell the cost of streaming with a bound from the cost of the engine itself.
    bench_pair(
        &mut group,
        BenchmarkId::from_parameter("spawn_ordered_unbounded_vs_joinset_collect_sort"),
        || run_on(&rt, cpu_spawn_ordered_unbounded(rounds)),
        || run_on(&rt, cpu_joinset_collect_sort(rounds)),
    );
    bench_pair(
        &mut group,
        BenchmarkId::from_parameter("spawn_ordered_vs_tokio_spawn_buffered"),
        ours,
        || run_on(&rt, cpu_tokio_spawn_buffered(rounds)),
    );
    bench_pair(
        &mut group,
        BenchmarkId::from_parameter("spawn_ordered_vs_futures_buffered"),
        ours,
        || run_on(&rt, cpu_futures_buffered(rounds)),
    );
    bench_pair(
        &mut group,
        BenchmarkId::from_parameter("spawn_ordered_vs_sequential"),
        ours,
        || timed(|| cpu_sequential(rounds)),
    );
    group.finish();

    let mut group = c.benchmark_group("ratio_spawn_tiny");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    for limit in TINY_LIMITS {
        let n = TINY_JOBS;
        let ours = || run_on(&rt, tiny_spawn_ordered(n, limit));
        bench_pair(
            &mut group,
            BenchmarkId::new("spawn_ordered_vs_joinset_spawn_join_next", limit),
            ours,
            || run_on(&rt, tiny_joinset(n, limit)),
        );
        bench_pair(
            &mut group,
            BenchmarkId::new("spawn_ordered_vs_tokio_spawn_buffered", limit),
            ours,
            || run_on(&rt, tiny_tokio_spawn_buffered(n, limit)),
        );
    }
    group.finish();

    let rounds_per_unit = rounds;
    let mut group = c.benchmark_group("ratio_spawn_blocking");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    for (name, units, n) in BLOCKING_JOBS {
        let rounds = rounds_per_unit * units;
        bench_pair(
            &mut group,
            BenchmarkId::new(
                "spawn_ordered_blocking_vs_tokio_spawn_blocking_buffered",
                name,
            ),
            || run_on(&rt, blocking_spawn_ordered_blocking(n, rounds)),
            || run_on(&rt, blocking_tokio_spawn_blocking_buffered(n, rounds)),
        );
    }
    group.finish();

    // Random latency: ours against `buffered`, and the ideal scheduler's bound
    // (`buffer_unordered`, no order) against `buffered` beside it, so the output shows
    // how much of the bound's speed-up ours keeps.
    let latencies = latencies();
    let latencies = &latencies[..];
    let mut group = c.benchmark_group("ratio_spawn_latency");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(8));
    for limit in [LATENCY_LIMIT, 64] {
        let window = SpawnConfig::new(limit).get_window();
        let buffered = || timed(|| rt.block_on(buffered_latency(latencies, limit)));
        bench_pair(
            &mut group,
            BenchmarkId::new("spawn_ordered_vs_futures_buffered", limit),
            || {
                timed(|| {
                    let _peak = rt.block_on(ours_latency(latencies, limit, window));
                })
            },
            buffered,
        );
        bench_pair(
            &mut group,
            BenchmarkId::new("unordered_bound_vs_futures_buffered", limit),
            || timed(|| rt.block_on(unordered_latency(latencies, limit))),
            buffered,
        );
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_cpu,
    bench_latency,
    bench_tiny,
    bench_blocking
);
criterion_group! {
    name = ratios;
    config = Criterion::default().with_measurement(Ratio);
    targets = bench_ratios
}
criterion_main!(benches, ratios);
