//! `Sequencer` beside the tutorial's pattern: n tasks (or threads) take their turns in order.
//!
//! Every task/thread is started in reverse seq order, so all but the first really wait:
//! the tutorial's shared counter + notify-all then wakes every waiter on every turn
//! (~n²/2 wake-ups), while `Sequencer` wakes exactly the next one (n wake-ups).
//!
//! - `async`: tokio tasks on a 2-worker multi-thread runtime, n = 100, 1,000, 10,000 and
//!   100,000. Two anchors: the floor, `oneshot_chain` (one `tokio::sync::oneshot` per
//!   ticket: task i awaits its receiver, then sends on task i + 1's — the least any
//!   turn-passing can cost; goal ≤ 1.5× at every n), and the tutorial's counter +
//!   `tokio::sync::Notify::notify_waiters` up to 10,000 only (~n²/2 wake-ups: 100,000
//!   would take minutes per iteration).
//! - `threads`: one OS thread per ticket, each blocked in its own wait; the baseline is
//!   `Mutex<u64>` + `Condvar::notify_all`, n = 100 and 1,000 (10,000 threads per iteration
//!   would mostly measure thread creation and the machine's limits).
//!
//! - `ratio_sequencer`: the async target as a paired ratio (`paired.rs`):
//!   `sequencer_vs_oneshot_chain/<n>` for the same n, `Sequencer` and the oneshot chain
//!   alternating within every iteration, criterion recording time(Sequencer) /
//!   time(oneshot chain), so drift on the shared machine cancels out (goal ≤ 1.5).
//!
//! Run: `cargo bench -p reorder-benches --bench sequencer` (only the ratios: `... --
//! ratio_`).

use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use reorder::Sequencer;
use tokio::runtime::Runtime;
use tokio::sync::{oneshot, Notify};

// Shared by the benches (`spawn.rs` uses all of it). `timed` is unused here: the runs
// are timed inside `block_on`, as criterion's `to_async` times the absolute groups.
#[allow(dead_code)]
mod paired;
use paired::{bench_pair, Ratio};

/// Ours: tickets in order, tasks spawned in reverse, each waits for its turn.
async fn async_sequencer(n: u64) {
    let sequencer = Sequencer::new();
    let tickets: Vec<_> = (0..n).map(|_| sequencer.ticket()).collect();
    let mut handles = Vec::with_capacity(tickets.len());
    for ticket in tickets.into_iter().rev() {
        handles.push(tokio::spawn(async move {
            let turn = ticket.wait().await;
            black_box(turn.seq());
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(sequencer.current(), n);
}

/// The floor: one oneshot per ticket, built before any task starts (as the tickets are),
/// tasks spawned in reverse; task i awaits its receiver, then sends on task i + 1's. The
/// first turn is open from the start, as a new `Sequencer`'s first ticket is.
async fn async_oneshot_chain(n: u64) {
    let (start, mut prev) = oneshot::channel::<()>();
    let mut links = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (tx, rx) = oneshot::channel::<()>();
        links.push((prev, tx));
        prev = rx;
    }
    start.send(()).expect("first task alive");
    let mut handles = Vec::with_capacity(links.len());
    for (me, (rx, tx)) in links.into_iter().enumerate().rev() {
        handles.push(tokio::spawn(async move {
            rx.await.expect("the turn before passed on");
            black_box(me);
            tx.send(()).expect("next task alive");
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    prev.await.expect("every turn taken");
}

/// The tutorial's approach A in async Rust: a shared counter, and a notification that wakes
/// every waiter so each can re-check whether it is its turn.
async fn async_notify_waiters(n: u64) {
    let counter = Arc::new(AtomicU64::new(0));
    let notify = Arc::new(Notify::new());
    let mut handles = Vec::with_capacity(n as usize);
    for me in (0..n).rev() {
        let counter = counter.clone();
        let notify = notify.clone();
        handles.push(tokio::spawn(async move {
            loop {
                // Created before the check so a `notify_waiters` in between is not missed.
                let notified = notify.notified();
                if counter.load(Ordering::Acquire) == me {
                    break;
                }
                notified.await;
            }
            black_box(me);
            counter.store(me + 1, Ordering::Release);
            notify.notify_waiters();
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(counter.load(Ordering::Acquire), n);
}

/// One small-stack OS thread per job, started in reverse order.
fn run_threads(n: u64, job: impl Fn(u64) + Sync) {
    thread::scope(|scope| {
        for me in (0..n).rev() {
            let job = &job;
            thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn_scoped(scope, move || job(me))
                .unwrap();
        }
    });
}

fn threads_sequencer(n: u64) {
    let sequencer = Sequencer::new();
    let tickets: Vec<_> = (0..n)
        .map(|_| Mutex::new(Some(sequencer.ticket())))
        .collect();
    run_threads(n, |me| {
        let ticket = tickets[me as usize].lock().unwrap().take().unwrap();
        let turn = ticket.wait_blocking();
        black_box(turn.seq());
    });
    assert_eq!(sequencer.current(), n);
}

/// The tutorial's approach A with threads: counter + condition variable + `notify_all`.
fn threads_condvar(n: u64) {
    let state = (Mutex::new(0u64), Condvar::new());
    run_threads(n, |me| {
        let (counter, condvar) = &state;
        let mut turn = counter.lock().unwrap();
        while *turn != me {
            turn = condvar.wait(turn).unwrap();
        }
        black_box(me);
        *turn += 1;
        condvar.notify_all();
    });
    assert_eq!(*state.0.lock().unwrap(), n);
}

/// The 2-worker multi-thread runtime the async groups run on.
fn async_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

fn bench_async(c: &mut Criterion) {
    let runtime = async_runtime();
    let mut group = c.benchmark_group("sequencer/async");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for n in [100u64, 1_000, 10_000, 100_000] {
        group.bench_with_input(BenchmarkId::new("Sequencer", n), &n, |b, &n| {
            b.to_async(&runtime).iter(|| async_sequencer(n));
        });
        group.bench_with_input(BenchmarkId::new("oneshot_chain", n), &n, |b, &n| {
            b.to_async(&runtime).iter(|| async_oneshot_chain(n));
        });
        if n <= 10_000 {
            group.bench_with_input(BenchmarkId::new("notify_waiters", n), &n, |b, &n| {
                b.to_async(&runtime).iter(|| async_notify_waiters(n));
            });
        }
    }
    group.finish();
}

fn bench_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("sequencer/threads");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for n in [100u64, 1_000] {
        group.bench_with_input(BenchmarkId::new("Sequencer", n), &n, |b, &n| {
            b.iter(|| threads_sequencer(n));
        });
        group.bench_with_input(BenchmarkId::new("condvar_notify_all", n), &n, |b, &n| {
            b.iter(|| threads_condvar(n));
        });
    }
    group.finish();
}

/// Runs `run` once on `runtime` and returns how long it took, timed inside `block_on` as
/// criterion's `to_async` times the `sequencer/async` group.
fn run_timed(runtime: &Runtime, run: impl Future<Output = ()>) -> Duration {
    runtime.block_on(async {
        let start = Instant::now();
        run.await;
        start.elapsed()
    })
}

/// The async target as a paired ratio (see `paired.rs`): `Sequencer` and the oneshot
/// chain alternate within every iteration, so drift on the shared machine cancels out.
///
/// A pair takes ~0.2 ms at n = 100, ~1.5 ms at 1,000, ~25 ms at 10,000 and ~250 ms at
/// 100,000. Flat sampling throughout (every sample the same number of pairs): up to
/// 10,000, 50 samples in 5 s after a 1 s warm-up, ~6–7 s per n (at 10,000 still 5 pairs
/// per sample); at 100,000 only ~20 pairs fit in 5 s, so 10 samples (criterion's minimum)
/// of 2–3 pairs each, ~8 s. The whole group takes ~30 s.
fn bench_ratios(c: &mut Criterion<Ratio>) {
    let runtime = async_runtime();
    let runtime = &runtime;
    let mut group = c.benchmark_group("ratio_sequencer");
    group
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for n in [100u64, 1_000, 10_000, 100_000] {
        group.sample_size(if n >= 100_000 { 10 } else { 50 });
        bench_pair(
            &mut group,
            BenchmarkId::new("sequencer_vs_oneshot_chain", n),
            || run_timed(runtime, async_sequencer(n)),
            || run_timed(runtime, async_oneshot_chain(n)),
        );
    }
    group.finish();
}

criterion_group!(benches, bench_async, bench_threads);
criterion_group! {
    name = ratios;
    config = Criterion::default().with_measurement(Ratio);
    targets = bench_ratios
}
criterion_main!(benches, ratios);
