//! The commit watermark beside what people hand-roll.
//!
//! * `watermark_core`: 200,000 sparse offsets registered in order and completed in a
//!   shuffled order ("offset i completes at i + U[0, 20,000)", so about 10,000 are in
//!   flight at any time), reading the watermark after every completion. `Watermark`
//!   against a hand-written `BTreeSet` tracker (insert on register, remove on complete,
//!   first element or highest + 1 as the watermark). Goal: ≤ 0.5× its time.
//! * `unordered_latency`: 1,000 jobs sleeping a seeded U[0, 10 ms) at limit 16, results in
//!   completion order with a commit watermark: `spawn_unordered` (default window, and a
//!   window as wide as the input) against `JoinSet` + `Semaphore` + a `BTreeSet`
//!   watermark by hand. Goal: ≤ 1.05×.
//! * `unordered_tiny`: 10,000 jobs that return at once (engine overhead), same variants.
//!
//! * `ratio_watermark_core/watermark_vs_btreeset_tracker`: the core target as a paired
//!   ratio (`paired.rs`): both trackers alternate within every iteration, and the value
//!   is time(ours) / time(`BTreeSet`).
//!
//! Every routine checks its final watermark, so a broken implementation fails the run
//! instead of producing a fast number. Ratios within one run are what count.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use futures::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reorder::{OrderedExt, SpawnConfig, Watermark};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

mod paired;
use paired::{bench_pair, timed, Ratio};

const WORKERS: usize = 2;
const SEED: u64 = 0x005E_ED0F_0D3E;

const CORE_OPS: usize = 200_000;
/// Twice the target of 10,000 in flight: completions lag registrations by U[0, W).
const CORE_SPREAD: u64 = 20_000;

const LATENCY_JOBS: usize = 1_000;
const LATENCY_LIMIT: usize = 16;
const MAX_LATENCY_US: u64 = 10_000;
const TINY_JOBS: usize = 10_000;

/// The hand-rolled tracker: in-flight offsets in a `BTreeSet`.
struct BTreeTracker {
    in_flight: BTreeSet<u64>,
    end: u64,
}

impl BTreeTracker {
    fn new() -> Self {
        Self {
            in_flight: BTreeSet::new(),
            end: 0,
        }
    }

    fn register(&mut self, seq: u64) -> Result<(), u64> {
        if seq < self.end {
            return Err(seq);
        }
        self.in_flight.insert(seq);
        self.end = seq + 1;
        Ok(())
    }

    fn complete(&mut self, seq: u64) -> Result<(), u64> {
        if self.in_flight.remove(&seq) {
            Ok(())
        } else {
            Err(seq)
        }
    }

    fn watermark(&self) -> u64 {
        self.in_flight.first().copied().unwrap_or(self.end)
    }
}

/// Sparse offsets (gaps of 1..4) and a completion schedule: indices sorted by
/// `i + U[0, CORE_SPREAD)`.
fn core_schedule() -> (Vec<u64>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut offset = 0u64;
    let offsets = (0..CORE_OPS)
        .map(|_| {
            offset += rng.random_range(1..4);
            offset
        })
        .collect();
    let mut keyed: Vec<(u64, usize)> = (0..CORE_OPS)
        .map(|i| (i as u64 + rng.random_range(0..CORE_SPREAD), i))
        .collect();
    keyed.sort_unstable();
    (offsets, keyed.into_iter().map(|(_, i)| i).collect())
}

/// Drives one tracker through the schedule: register up to each completion's index, then
/// complete it and read the watermark. Returns the sum of watermarks read (kept live) and
/// the tracker.
fn drive<T>(
    offsets: &[u64],
    order: &[usize],
    mut tracker: T,
    register: impl Fn(&mut T, u64),
    complete: impl Fn(&mut T, u64) -> u64,
) -> (u64, T) {
    let mut registered = 0;
    let mut sum = 0u64;
    for &i in order {
        while registered <= i {
            register(&mut tracker, offsets[registered]);
            registered += 1;
        }
        sum = sum.wrapping_add(complete(&mut tracker, offsets[i]));
    }
    (sum, tracker)
}

/// `Watermark` through the schedule; checks the final watermark.
fn core_ours(offsets: &[u64], order: &[usize], last: u64) -> u64 {
    let (sum, wm) = drive(
        offsets,
        order,
        Watermark::new(),
        |wm, seq| wm.register(seq).expect("increasing"),
        |wm, seq| {
            wm.complete(seq).expect("in flight");
            wm.get()
        },
    );
    assert_eq!(wm.get(), last);
    black_box(sum)
}

/// The hand-written `BTreeSet` tracker through the same schedule.
fn core_btreeset(offsets: &[u64], order: &[usize], last: u64) -> u64 {
    let (sum, t) = drive(
        offsets,
        order,
        BTreeTracker::new(),
        |t, seq| t.register(seq).expect("increasing"),
        |t, seq| {
            t.complete(seq).expect("in flight");
            t.watermark()
        },
    );
    assert_eq!(t.watermark(), last);
    black_box(sum)
}

fn bench_core(c: &mut Criterion) {
    let (offsets, order) = core_schedule();
    let last = offsets[CORE_OPS - 1] + 1;
    let mut group = c.benchmark_group("watermark_core");
    group
        .throughput(Throughput::Elements(CORE_OPS as u64))
        .sample_size(20);
    group.bench_function("ours_watermark", |b| {
        b.iter(|| core_ours(&offsets, &order, last));
    });
    group.bench_function("btreeset_tracker", |b| {
        b.iter(|| core_btreeset(&offsets, &order, last));
    });
    group.finish();
}

/// The core target as a paired ratio (see `paired.rs`): ours and the `BTreeSet` tracker
/// alternate within every iteration. One pair takes ~30 ms: 30 samples in 6 s.
fn bench_ratios(c: &mut Criterion<Ratio>) {
    let (offsets, order) = core_schedule();
    let last = offsets[CORE_OPS - 1] + 1;
    let mut group = c.benchmark_group("ratio_watermark_core");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    bench_pair(
        &mut group,
        BenchmarkId::from_parameter("watermark_vs_btreeset_tracker"),
        || {
            timed(|| {
                black_box(core_ours(&offsets, &order, last));
            })
        },
        || {
            timed(|| {
                black_box(core_btreeset(&offsets, &order, last));
            })
        },
    );
    group.finish();
}

fn runtime() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("build the tokio runtime")
}

/// Runs the consumer as a task on the runtime's workers, as in a server.
async fn on_worker(consumer: impl std::future::Future<Output = ()> + Send + 'static) {
    tokio::spawn(consumer).await.expect("consumer task");
}

fn latencies() -> Arc<[Duration]> {
    let mut rng = StdRng::seed_from_u64(SEED);
    (0..LATENCY_JOBS)
        .map(|_| Duration::from_micros(rng.random_range(0..MAX_LATENCY_US)))
        .collect()
}

async fn job(latency: Duration) {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

/// `spawn_unordered` with `window`; checks the final watermark.
async fn ours(latencies: Arc<[Duration]>, window: usize) {
    let n = latencies.len();
    let config = SpawnConfig::new(LATENCY_LIMIT).window(window);
    let mut out = stream::iter(0..n).spawn_unordered_with(config, move |i| job(latencies[i]));
    let mut yielded = 0;
    while let Some((_, result)) = out.next().await {
        result.expect("job ran");
        yielded += 1;
        black_box(out.watermark());
    }
    assert_eq!(yielded, n);
    assert_eq!(out.watermark(), n as u64);
}

/// The hand-rolled anchor: `JoinSet` + `Semaphore`, a `BTreeSet` watermark.
async fn anchor(latencies: Arc<[Duration]>) {
    let n = latencies.len();
    let permits = Arc::new(Semaphore::new(LATENCY_LIMIT));
    let mut set = JoinSet::new();
    let mut tracker = BTreeTracker::new();
    let mut yielded = 0;
    let mut see = |tracker: &mut BTreeTracker, seq: u64| {
        tracker.complete(seq).expect("in flight");
        yielded += 1;
        black_box(tracker.watermark());
    };
    for i in 0..n {
        // Take in finished results while waiting for a permit, as a consumer would.
        let permit = loop {
            tokio::select! {
                biased;
                Some(done) = set.join_next(), if !set.is_empty() => {
                    see(&mut tracker, done.expect("job ran"));
                }
                permit = Arc::clone(&permits).acquire_owned() => break permit.expect("open"),
            }
        };
        tracker.register(i as u64).expect("increasing");
        let latency = latencies[i];
        set.spawn(async move {
            job(latency).await;
            drop(permit);
            i as u64
        });
    }
    while let Some(done) = set.join_next().await {
        see(&mut tracker, done.expect("job ran"));
    }
    assert_eq!(yielded, n);
    assert_eq!(tracker.watermark(), n as u64);
}

fn bench_unordered(c: &mut Criterion) {
    let rt = runtime();
    let sleepy = latencies();
    let tiny: Arc<[Duration]> = vec![Duration::ZERO; TINY_JOBS].into();
    let default_window = SpawnConfig::new(LATENCY_LIMIT).get_window();

    for (group_name, jobs, time) in [
        ("unordered_latency", &sleepy, Duration::from_secs(4)),
        ("unordered_tiny", &tiny, Duration::from_secs(3)),
    ] {
        let mut group = c.benchmark_group(group_name);
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(time);
        group.bench_function("ours_spawn_unordered_default", |b| {
            b.to_async(&rt)
                .iter(|| on_worker(ours(Arc::clone(jobs), default_window)));
        });
        group.bench_function("ours_spawn_unordered_wide", |b| {
            b.to_async(&rt)
                .iter(|| on_worker(ours(Arc::clone(jobs), jobs.len().max(LATENCY_LIMIT))));
        });
        group.bench_function("joinset_semaphore_btreeset", |b| {
            b.to_async(&rt).iter(|| on_worker(anchor(Arc::clone(jobs))));
        });
        group.finish();
    }
}

criterion_group!(benches, bench_core, bench_unordered);
criterion_group! {
    name = ratios;
    config = Criterion::default().with_measurement(Ratio);
    targets = bench_ratios
}
criterion_main!(benches, ratios);
