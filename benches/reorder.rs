//! `.ordered()` beside the hand-written anchors it must keep up with (DESIGN.md targets):
//!
//! - `in_order`: `.ordered()` over a tokio mpsc vs draining the same mpsc alone
//!   (target ≤ 1.05×), plus the `reorder::channel` receiver and an end-to-end
//!   producer/consumer run, for information;
//! - `shuffled_w64`, `shuffled_w4096`: item i arrives at i + U[0, W) (fixed seed);
//!   `.ordered()` vs mpsc + `BinaryHeap` by hand (target ≤ 1.1×), and the cores alone:
//!   `ReorderBuffer` vs a `BinaryHeap` loop over the same `Vec`, no channel.
//!
//! The channel benches pre-fill an unbounded mpsc outside the timed region and time only
//! the drain: no producer task, no wake-ups, no scheduler, so the only difference between
//! anchor and ours is the reorder layer itself. Every loop checks its count and sum.

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::{Stream, StreamExt};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reorder::{OrderedExt, ReorderBuffer, ReorderConfig};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

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

/// Runs `drain` once per iteration on a freshly pre-filled input; only `drain` is timed.
/// Whatever it returns is dropped outside the timed region.
fn time_drains<I, O, Fut>(
    rt: &Runtime,
    iters: u64,
    mut setup: impl FnMut() -> I,
    drain: impl Fn(I) -> Fut,
) -> Duration
where
    Fut: std::future::Future<Output = O>,
{
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let input = setup();
        let (elapsed, out) = rt.block_on(async {
            let start = Instant::now();
            let out = drain(input).await;
            (start.elapsed(), out)
        });
        drop(black_box(out));
        total += elapsed;
    }
    total
}

fn check(count: u64, sum: u64, expected: u64) {
    assert_eq!(count, N, "lost or duplicated items");
    assert_eq!(sum, expected, "values out of place");
}

fn in_order(c: &mut Criterion) {
    let rt = runtime();
    let items: Vec<(u64, u64)> = (0..N).map(|i| (i, value(i))).collect();
    let expected = expected_sum();
    let mut group = c.benchmark_group("in_order");
    group.throughput(Throughput::Elements(N));

    group.bench_function("mpsc_raw", |b| {
        b.iter_custom(|iters| {
            time_drains(
                &rt,
                iters,
                || prefilled(&items),
                |mut rx| async move {
                    let (mut count, mut sum) = (0u64, 0u64);
                    while let Some((_, v)) = rx.recv().await {
                        sum = sum.wrapping_add(black_box(v));
                        count += 1;
                    }
                    check(count, sum, expected);
                    rx
                },
            )
        });
    });

    // The same channel as a `Stream`, drained with `next()`: the consumer shape
    // `.ordered()` has, so the difference to `mpsc_ordered` is the adapter alone.
    group.bench_function("mpsc_raw_stream", |b| {
        b.iter_custom(|iters| {
            time_drains(
                &rt,
                iters,
                || Arrivals(prefilled(&items)),
                |mut s| async move {
                    let (mut count, mut sum) = (0u64, 0u64);
                    while let Some((_, v)) = s.next().await {
                        sum = sum.wrapping_add(black_box(v));
                        count += 1;
                    }
                    check(count, sum, expected);
                    s
                },
            )
        });
    });

    group.bench_function("mpsc_ordered", |b| {
        b.iter_custom(|iters| {
            time_drains(
                &rt,
                iters,
                || Arrivals(prefilled(&items)).ordered(),
                |mut s| async move {
                    let (mut count, mut sum) = (0u64, 0u64);
                    while let Some(v) = s.next().await {
                        sum = sum.wrapping_add(black_box(v.expect("in order")));
                        count += 1;
                    }
                    check(count, sum, expected);
                    s
                },
            )
        });
    });

    // The receiver of `reorder::channel`, pre-filled with `try_send` (no window, so every
    // send is admitted): directly comparable with `mpsc_raw`.
    group.bench_function("channel_recv", |b| {
        b.iter_custom(|iters| {
            let setup = || {
                let (tx, rx) = reorder::channel_with::<u64>(ReorderConfig::new());
                for &(seq, v) in &items {
                    tx.try_send(seq, v).expect("admitted");
                }
                rx
            };
            time_drains(&rt, iters, setup, |mut rx| async move {
                let (mut count, mut sum) = (0u64, 0u64);
                while let Some(v) = rx.recv().await {
                    sum = sum.wrapping_add(black_box(v.expect("in order")));
                    count += 1;
                }
                check(count, sum, expected);
                rx
            })
        });
    });

    // End to end, for information: a producer task sends while the consumer drains, both
    // timed; bounded to 1024 in flight. Anchor: tokio's bounded mpsc of the same size.
    group.bench_function("e2e_mpsc_bounded_1024", |b| {
        b.iter_custom(|iters| {
            time_drains(
                &rt,
                iters,
                || (),
                |()| async move {
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
                },
            )
        });
    });

    group.bench_function("e2e_channel_1024", |b| {
        b.iter_custom(|iters| {
            time_drains(
                &rt,
                iters,
                || (),
                |()| async move {
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
                },
            )
        });
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

fn shuffled(c: &mut Criterion, w: u64) {
    let rt = runtime();
    let items = arrivals(w);
    let expected = expected_sum();
    let mut group = c.benchmark_group(format!("shuffled_w{w}"));
    group.throughput(Throughput::Elements(N));

    group.bench_function("mpsc_hand_heap", |b| {
        b.iter_custom(|iters| {
            time_drains(
                &rt,
                iters,
                || prefilled(&items),
                |mut rx| async move {
                    let mut hand = HandHeap::new();
                    while let Some((seq, v)) = rx.recv().await {
                        hand.offer(seq, v);
                    }
                    hand.finish(expected);
                    rx
                },
            )
        });
    });

    group.bench_function("mpsc_ordered", |b| {
        b.iter_custom(|iters| {
            time_drains(
                &rt,
                iters,
                || Arrivals(prefilled(&items)).ordered(),
                |mut s| async move {
                    let (mut count, mut sum) = (0u64, 0u64);
                    while let Some(v) = s.next().await {
                        sum = sum.wrapping_add(black_box(v.expect("in order")));
                        count += 1;
                    }
                    assert!(s.peak_buffered() > 0, "input was not shuffled");
                    check(count, sum, expected);
                    s
                },
            )
        });
    });

    // The cores alone over the same arrivals, no channel, no async.
    group.bench_function("vec_hand_heap", |b| {
        b.iter(|| {
            let mut hand = HandHeap::new();
            for &(seq, v) in black_box(&items[..]) {
                hand.offer(seq, v);
            }
            hand.finish(expected);
        });
    });

    group.bench_function("vec_reorder_buffer", |b| {
        b.iter(|| {
            let mut buf = ReorderBuffer::new();
            let (mut count, mut sum) = (0u64, 0u64);
            for &(seq, v) in black_box(&items[..]) {
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

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(25)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = in_order, shuffled_w64, shuffled_w4096
}
criterion_main!(benches);
