//! `.ordered()` beside the hand-written anchors it must keep up with (DESIGN.md targets):
//!
//! - `in_order`: `.ordered()` over a tokio mpsc vs draining the same mpsc alone
//!   (target ≤ 1.05×), plus the `reorder::channel` receiver and an end-to-end
//!   producer/consumer run, for information;
//! - `shuffled_w64`, `shuffled_w4096`: item i arrives at i + U[0, W) (fixed seed);
//!   `.ordered()` vs mpsc + `BinaryHeap` by hand (target ≤ 1.1×), and the cores alone:
//!   `ReorderBuffer` vs a `BinaryHeap` loop over the same `Vec`, no channel;
//! - `ratio_in_order`, `ratio_shuffled`: the same routines as paired ratios (`paired.rs`):
//!   ours and its anchor alternate within every iteration and criterion records
//!   time(ours) / time(anchor), so drift on the shared machine cancels out.
//!   `ratio_in_order/mpsc_ordered_vs_mpsc_raw` (target ≤ 1.05),
//!   `ratio_in_order/channel_recv_vs_mpsc_raw` (target ≤ 1.2),
//!   `ratio_in_order/mpsc_ordered_vs_mpsc_raw_stream` (the adapter alone, for
//!   information) and `ratio_shuffled/mpsc_ordered_vs_mpsc_hand_heap/64` and `/4096`
//!   (target ≤ 1.1). Only these: `cargo bench -p reorder-benches --bench reorder --
//!   ratio_`.
//!
//! The channel benches pre-fill an unbounded mpsc outside the timed region and time only
//! the drain: no producer task, no wake-ups, no scheduler, so the only difference between
//! anchor and ours is the reorder layer itself. Each routine is a function (`drain_*`)
//! that sets up, times one drain and returns its time, shared by the absolute groups and
//! the ratio groups. Every loop checks its count and sum.

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};
use futures::{Stream, StreamExt};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reorder::{OrderedExt, ReorderBuffer, ReorderConfig};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

// Shared by the benches (`spawn.rs` uses all of it). `timed` is unused here: the drains
// are timed inside `block_on`, as the absolute groups time them.
#[allow(dead_code)]
mod paired;
use paired::{bench_pair, Ratio};

const N: u64 = 100_000;
const SEED: u64 = 0x5eed_0dde_u64;

/// The value carried for seq `i`: not the seq itself, so a mix-up changes the sum.
fn value(seq: u64) -> u64 {
    seq.wrapping_mul(0x9e37_79b9).wrapping_add(1)
}

fn expected_sum() -> u64 {
    (0..N).map(value).fold(0, u64::wrapping_add)
}

/// Arrival order for window `w`: item i finishes at i + U[0, w); ties keep index order.
fn arrivals(w: u64) -> Vec<(u64, u64)> {
    let mut rng = StdRng::seed_from_u64(SEED ^ w);
    let mut keyed: Vec<(u64, u64)> = (0..N).map(|i| (i + rng.random_range(0..w), i)).collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| (i, value(i))).collect()
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("current_thread runtime")
}

fn prefilled(items: &[(u64, u64)]) -> mpsc::UnboundedReceiver<(u64, u64)> {
    let (tx, rx) = mpsc::unbounded_channel();
    for &item in items {
        tx.send(item).expect("receiver alive");
    }
    rx
}

/// The mpsc receiver as a `Stream`, exactly as a user would wrap it.
struct Arrivals(mpsc::UnboundedReceiver<(u64, u64)>);

impl Stream for Arrivals {
    type Item = (u64, u64);

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<(u64, u64)>> {
        self.0.poll_recv(cx)
    }
}

/// Runs `drain` once on `input`, which the caller has just set up (outside the timed
/// region), and returns how long the drain took. Whatever it returns is dropped outside
/// the timed region.
fn time_drain<I, O, Fut>(rt: &Runtime, input: I, drain: impl FnOnce(I) -> Fut) -> Duration
where
    Fut: std::future::Future<Output = O>,
{
    let (elapsed, out) = rt.block_on(async {
        let start = Instant::now();
        let out = drain(input).await;
        (start.elapsed(), out)
    });
    drop(black_box(out));
    elapsed
}

/// The absolute-time groups' `iter_custom`: `run` once per iteration, the times summed.
fn total(iters: u64, mut run: impl FnMut() -> Duration) -> Duration {
    (0..iters).map(|_| run()).sum()
}

fn check(count: u64, sum: u64, expected: u64) {
    assert_eq!(count, N, "lost or duplicated items");
    assert_eq!(sum, expected, "values out of place");
}

/// The anchor: the pre-filled mpsc drained with `recv`.
fn drain_mpsc_raw(rt: &Runtime, items: &[(u64, u64)], expected: u64) -> Duration {
    time_drain(rt, prefilled(items), |mut rx| async move {
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some((_, v)) = rx.recv().await {
            sum = sum.wrapping_add(black_box(v));
            count += 1;
        }
        check(count, sum, expected);
        rx
    })
}

/// The same channel as a `Stream`, drained with `next()`: the consumer shape `.ordered()`
/// has, so the difference to [`drain_mpsc_ordered`] is the adapter alone.
fn drain_mpsc_raw_stream(rt: &Runtime, items: &[(u64, u64)], expected: u64) -> Duration {
    time_drain(rt, Arrivals(prefilled(items)), |mut s| async move {
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some((_, v)) = s.next().await {
            sum = sum.wrapping_add(black_box(v));
            count += 1;
        }
        check(count, sum, expected);
        s
    })
}

/// Ours: `.ordered()` over the pre-filled mpsc. With `shuffled`, also checks that the
/// input really made it buffer (`peak_buffered() > 0`).
fn drain_mpsc_ordered(
    rt: &Runtime,
    items: &[(u64, u64)],
    expected: u64,
    shuffled: bool,
) -> Duration {
    time_drain(
        rt,
        Arrivals(prefilled(items)).ordered(),
        |mut s| async move {
            let (mut count, mut sum) = (0u64, 0u64);
            while let Some(v) = s.next().await {
                sum = sum.wrapping_add(black_box(v.expect("in order")));
                count += 1;
            }
            if shuffled {
                assert!(s.peak_buffered() > 0, "input was not shuffled");
            }
            check(count, sum, expected);
            s
        },
    )
}

/// The receiver of `reorder::channel`, pre-filled with `try_send` (no window, so every
/// send is admitted): directly comparable with [`drain_mpsc_raw`].
fn drain_channel_recv(rt: &Runtime, items: &[(u64, u64)], expected: u64) -> Duration {
    let rx = {
        let (tx, rx) = reorder::channel_with::<u64>(ReorderConfig::new());
        for &(seq, v) in items {
            tx.try_send(seq, v).expect("admitted");
        }
        rx // `tx` dropped here: the drain ends when the channel is empty
    };
    time_drain(rt, rx, |mut rx| async move {
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some(v) = rx.recv().await {
            sum = sum.wrapping_add(black_box(v.expect("in order")));
            count += 1;
        }
        check(count, sum, expected);
        rx
    })
}

/// End to end: a producer task sends while the consumer drains, both timed; tokio's
/// bounded mpsc of 1024.
fn e2e_mpsc_bounded_1024(rt: &Runtime, expected: u64) -> Duration {
    time_drain(rt, (), |()| async move {
        let (tx, mut rx) = mpsc::channel::<(u64, u64)>(1024);
        let producer = tokio::spawn(async move {
            for i in 0..N {
                tx.send((i, value(i))).await.expect("receiver alive");
            }
        });
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some((_, v)) = rx.recv().await {
            sum = sum.wrapping_add(black_box(v));
            count += 1;
        }
        producer.await.expect("producer");
        check(count, sum, expected);
    })
}

/// End to end through `reorder::channel(1024)`, as [`e2e_mpsc_bounded_1024`].
fn e2e_channel_1024(rt: &Runtime, expected: u64) -> Duration {
    time_drain(rt, (), |()| async move {
        let (tx, mut rx) = reorder::channel::<u64>(1024);
        let producer = tokio::spawn(async move {
            for i in 0..N {
                tx.send(i, value(i)).await.expect("receiver alive");
            }
        });
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some(v) = rx.recv().await {
            sum = sum.wrapping_add(black_box(v.expect("in order")));
            count += 1;
        }
        producer.await.expect("producer");
        check(count, sum, expected);
    })
}

fn in_order(c: &mut Criterion) {
    let rt = runtime();
    let items: Vec<(u64, u64)> = (0..N).map(|i| (i, value(i))).collect();
    let items = &items[..];
    let expected = expected_sum();
    let mut group = c.benchmark_group("in_order");
    group.throughput(Throughput::Elements(N));

    group.bench_function("mpsc_raw", |b| {
        b.iter_custom(|iters| total(iters, || drain_mpsc_raw(&rt, items, expected)));
    });
    group.bench_function("mpsc_raw_stream", |b| {
        b.iter_custom(|iters| total(iters, || drain_mpsc_raw_stream(&rt, items, expected)));
    });
    group.bench_function("mpsc_ordered", |b| {
        b.iter_custom(|iters| total(iters, || drain_mpsc_ordered(&rt, items, expected, false)));
    });
    group.bench_function("channel_recv", |b| {
        b.iter_custom(|iters| total(iters, || drain_channel_recv(&rt, items, expected)));
    });
    // End to end, for information: bounded to 1024 in flight.
    group.bench_function("e2e_mpsc_bounded_1024", |b| {
        b.iter_custom(|iters| total(iters, || e2e_mpsc_bounded_1024(&rt, expected)));
    });
    group.bench_function("e2e_channel_1024", |b| {
        b.iter_custom(|iters| total(iters, || e2e_channel_1024(&rt, expected)));
    });

    group.finish();
}

/// The fastest honest hand-written reorder: the next seq skips the heap, and the heap is
/// only looked at after the watermark moved (an early arrival cannot release anything).
struct HandHeap {
    heap: BinaryHeap<Reverse<(u64, u64)>>,
    next: u64,
    count: u64,
    sum: u64,
}

impl HandHeap {
    fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
            next: 0,
            count: 0,
            sum: 0,
        }
    }

    #[inline]
    fn offer(&mut self, seq: u64, v: u64) {
        if seq != self.next {
            self.heap.push(Reverse((seq, v)));
            return;
        }
        self.take(v);
        loop {
            let Some(top) = self.heap.peek_mut() else {
                break;
            };
            if top.0 .0 != self.next {
                break;
            }
            let Reverse((_, v)) = PeekMut::pop(top);
            self.take(v);
        }
    }

    #[inline]
    fn take(&mut self, v: u64) {
        self.sum = self.sum.wrapping_add(black_box(v));
        self.count += 1;
        self.next += 1;
    }

    fn finish(self, expected: u64) {
        assert!(self.heap.is_empty(), "items left in the heap");
        check(self.count, self.sum, expected);
    }
}

/// The anchor over shuffled arrivals: the pre-filled mpsc drained into a [`HandHeap`].
fn drain_mpsc_hand_heap(rt: &Runtime, items: &[(u64, u64)], expected: u64) -> Duration {
    time_drain(rt, prefilled(items), |mut rx| async move {
        let mut hand = HandHeap::new();
        while let Some((seq, v)) = rx.recv().await {
            hand.offer(seq, v);
        }
        hand.finish(expected);
        rx
    })
}

fn shuffled(c: &mut Criterion, w: u64) {
    let rt = runtime();
    let items = arrivals(w);
    let items = &items[..];
    let expected = expected_sum();
    let mut group = c.benchmark_group(format!("shuffled_w{w}"));
    group.throughput(Throughput::Elements(N));

    group.bench_function("mpsc_hand_heap", |b| {
        b.iter_custom(|iters| total(iters, || drain_mpsc_hand_heap(&rt, items, expected)));
    });
    group.bench_function("mpsc_ordered", |b| {
        b.iter_custom(|iters| total(iters, || drain_mpsc_ordered(&rt, items, expected, true)));
    });

    // The cores alone over the same arrivals, no channel, no async.
    group.bench_function("vec_hand_heap", |b| {
        b.iter(|| {
            let mut hand = HandHeap::new();
            for &(seq, v) in black_box(items) {
                hand.offer(seq, v);
            }
            hand.finish(expected);
        });
    });

    group.bench_function("vec_reorder_buffer", |b| {
        b.iter(|| {
            let mut buf = ReorderBuffer::new();
            let (mut count, mut sum) = (0u64, 0u64);
            for &(seq, v) in black_box(items) {
                if let Some(v) = buf.insert(seq, v).expect("not late") {
                    sum = sum.wrapping_add(black_box(v));
                    count += 1;
                    while let Some(v) = buf.pop_ready() {
                        sum = sum.wrapping_add(black_box(v.expect("no duplicates")));
                        count += 1;
                    }
                }
            }
            assert!(buf.is_empty(), "items left in the buffer");
            check(count, sum, expected);
        });
    });

    group.finish();
}

fn shuffled_w64(c: &mut Criterion) {
    shuffled(c, 64);
}

fn shuffled_w4096(c: &mut Criterion) {
    shuffled(c, 4096);
}

/// The targets as paired ratios (see `paired.rs`): ours and its anchor alternate within
/// every iteration, each on its own freshly pre-filled channel, so drift on the shared
/// machine cancels out of the ratio. The routines are the ones the groups above time.
///
/// One iteration of a pair is two set-ups, two drains and two drops of 100,000 items:
/// ~6 ms in order, ~13 ms shuffled at W = 64 and ~20 ms at 4,096. Flat sampling, 50
/// samples in 6 s after a 1 s warm-up (~6–20 pairs per sample) is ~7–8 s per function:
/// enough pairs that a sample's ratio is not one scheduler hiccup, enough samples for a
/// tight median; `ratio_in_order` (3 functions) takes ~25 s, `ratio_shuffled` (2) ~15 s.
/// (Linear sampling's 1 + 2 + … + 50 iterations would need at least 1,275 pairs, 8–25 s,
/// per function.)
fn bench_ratios(c: &mut Criterion<Ratio>) {
    let rt = runtime();
    let expected = expected_sum();
    let configure = |group: &mut BenchmarkGroup<'_, Ratio>| {
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(50)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(6));
    };

    let items: Vec<(u64, u64)> = (0..N).map(|i| (i, value(i))).collect();
    let items = &items[..];
    let mut group = c.benchmark_group("ratio_in_order");
    configure(&mut group);
    let ordered = || drain_mpsc_ordered(&rt, items, expected, false);
    let raw = || drain_mpsc_raw(&rt, items, expected);
    bench_pair(
        &mut group,
        BenchmarkId::from_parameter("mpsc_ordered_vs_mpsc_raw"),
        ordered,
        raw,
    );
    bench_pair(
        &mut group,
        BenchmarkId::from_parameter("channel_recv_vs_mpsc_raw"),
        || drain_channel_recv(&rt, items, expected),
        raw,
    );
    // For information: the same consumer shape on both sides, so this is the adapter alone.
    bench_pair(
        &mut group,
        BenchmarkId::from_parameter("mpsc_ordered_vs_mpsc_raw_stream"),
        ordered,
        || drain_mpsc_raw_stream(&rt, items, expected),
    );
    group.finish();

    // The arrivals of `shuffled_w64` and `shuffled_w4096`, one parameter per window.
    let mut group = c.benchmark_group("ratio_shuffled");
    configure(&mut group);
    for w in [64, 4096] {
        let items = arrivals(w);
        let items = &items[..];
        bench_pair(
            &mut group,
            BenchmarkId::new("mpsc_ordered_vs_mpsc_hand_heap", w),
            || drain_mpsc_ordered(&rt, items, expected, true),
            || drain_mpsc_hand_heap(&rt, items, expected),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(25)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = in_order, shuffled_w64, shuffled_w4096
}
criterion_group! {
    name = ratios;
    config = Criterion::default().with_measurement(Ratio);
    targets = bench_ratios
}
criterion_main!(benches, ratios);
