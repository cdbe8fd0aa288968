//! `spawn_ordered`, `spawn_ordered_with`, `spawn_ordered_blocking` and `SpawnConfig`.
//!
//! Out-of-order completion is forced with oneshot channels or paused time, never with real
//! sleeps; every async test runs under a timeout so a hang fails instead of stalling CI.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc as std_mpsc, Arc};
use std::task::Poll;
use std::time::Duration;

use futures::stream::{self, FusedStream, Stream, StreamExt};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use reorder::{BlockingConfig, OrderedExt, SpawnConfig};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_test::{assert_pending, assert_ready, task};

mod common;
use common::*;

// ---------------------------------------------------------------------------------------
// Order
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn yields_in_input_order_when_completion_is_reversed() {
    within(async {
        const N: usize = 8;
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..N).map(|_| oneshot::channel::<()>()).unzip();
        let mut s = task::spawn(stream::iter(rxs.into_iter().enumerate()).spawn_ordered(
            N,
            |(i, rx)| async move {
                rx.await.expect("released");
                i
            },
        ));
        assert_pending!(s.poll_next());
        assert_eq!(s.in_flight(), N);
        assert_eq!(s.next_seq(), 0);

        let mut txs: Vec<_> = txs.into_iter().map(Some).collect();
        for tx in txs[1..].iter_mut().rev() {
            tx.take().unwrap().send(()).unwrap();
        }
        settle().await;
        assert!(s.is_woken(), "arrivals wake the consumer");
        // Everything but the head is in: all of it waits, nothing is yielded.
        assert_pending!(s.poll_next());
        assert_eq!(s.buffered_len(), N - 1);
        assert_eq!(s.in_flight(), 1);
        assert_eq!(s.next_seq(), 0);

        txs[0].take().unwrap().send(()).unwrap();
        settle().await;
        assert!(s.is_woken());
        for i in 0..N {
            let got = assert_ready!(s.poll_next()).expect("not ended").unwrap();
            assert_eq!(got, i);
            assert_eq!(s.next_seq(), i as u64 + 1);
        }
        assert!(assert_ready!(s.poll_next()).is_none());
        assert!(s.is_terminated());
        assert_eq!(s.peak_buffered(), N - 1);
    })
    .await;
}

/// Oneshots released in a seeded random order by another task, on both runtime flavours.
async fn random_release_order(seed: u64) {
    const N: usize = 200;
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..N).map(|_| oneshot::channel::<()>()).unzip();
    let mut order: Vec<usize> = (0..N).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut txs: Vec<_> = txs.into_iter().map(Some).collect();
    let releaser = tokio::spawn(async move {
        for i in order {
            // A task not started yet finds its release waiting; that is fine.
            let _ = txs[i].take().unwrap().send(());
            tokio::task::yield_now().await;
        }
    });
    let config = SpawnConfig::new(16).window(48);
    let out: Vec<_> = stream::iter(rxs.into_iter().enumerate())
        .spawn_ordered_with(config, |(i, rx)| async move {
            rx.await.expect("released");
            i
        })
        .collect()
        .await;
    assert_eq!(ok_values(out), (0..N).collect::<Vec<_>>());
    releaser.await.unwrap();
}

#[tokio::test]
async fn random_completion_order_current_thread() {
    within(random_release_order(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_completion_order_multi_thread() {
    for seed in 0..5 {
        within(random_release_order(seed)).await;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any latencies, limit and window: exactly the inputs in order, at most `limit`
    /// running, every task started less than `window` positions past the consumer.
    #[test]
    fn random_latencies_keep_order_limit_and_window(
        delays in prop::collection::vec(0u64..40, 0..60),
        limit in 1usize..6,
        extra in 0usize..10,
    ) {
        let window = limit + extra;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(within(async {
            let gauge = Gauge::default();
            let yielded = Arc::new(AtomicU64::new(0));
            let window_broken = Arc::new(AtomicBool::new(false));
            let config = SpawnConfig::new(limit).window(window);
            let mut s = stream::iter(delays.clone().into_iter().enumerate()).spawn_ordered_with(
                config,
                |(i, ms)| {
                    let (gauge, yielded, window_broken) =
                        (gauge.clone(), yielded.clone(), window_broken.clone());
                    async move {
                        gauge.enter();
                        if i as u64 >= yielded.load(SeqCst) + window as u64 {
                            window_broken.store(true, SeqCst);
                        }
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        gauge.exit();
                        i
                    }
                },
            );
            let mut out = Vec::new();
            while let Some(r) = s.next().await {
                out.push(r.unwrap());
                yielded.fetch_add(1, SeqCst);
                assert!(s.in_flight() <= limit);
                assert!(s.peak_buffered() <= window);
            }
            assert_eq!(out, (0..delays.len()).collect::<Vec<_>>());
            assert!(gauge.max() <= limit, "{} running > limit {limit}", gauge.max());
            assert!(!window_broken.load(SeqCst), "a task started beyond the window");
        }));
    }
}

// ---------------------------------------------------------------------------------------
// Panics
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_panicking_task_yields_an_error_in_its_position_and_the_rest_still_come() {
    within(async {
        const N: u64 = 7;
        let out: Vec<_> = stream::iter(0..N)
            .spawn_ordered(3, |i| async move {
                // The panicking tasks finish first, so their errors wait for their turn.
                tokio::time::sleep(Duration::from_millis(10 * (N - i))).await;
                match i {
                    2 => panic!("boom at {i}"),
                    4 => std::panic::panic_any("static boom"),
                    _ => i * 10,
                }
            })
            .collect()
            .await;

        assert_eq!(out.len(), N as usize, "the stream must not end early");
        for (i, r) in out.into_iter().enumerate() {
            match i {
                2 | 4 => {
                    let e = r.expect_err("task panicked");
                    assert!(e.is_panic());
                    assert!(!e.is_timeout() && !e.is_cancelled());
                    assert_eq!(e.seq(), i as u64);
                    let shown = e.to_string();
                    assert!(shown.contains(&format!("task {i}")), "Display: {shown}");
                    let payload = e.into_panic();
                    if i == 2 {
                        assert!(shown.contains("boom at 2"), "Display: {shown}");
                        assert_eq!(*payload.downcast::<String>().unwrap(), "boom at 2");
                    } else {
                        assert!(shown.contains("static boom"), "Display: {shown}");
                        assert_eq!(*payload.downcast::<&str>().unwrap(), "static boom");
                    }
                }
                _ => assert_eq!(r.unwrap(), i as u64 * 10),
            }
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Dropping the stream aborts the tasks
// ---------------------------------------------------------------------------------------

async fn dropping_the_stream_mid_way_aborts_every_task() {
    let spawned = Counter::default();
    let started = Counter::default();
    let dropped = Counter::default();
    let config = SpawnConfig::new(4).window(6);
    let mut s = stream::iter(0u64..100).spawn_ordered_with(config, {
        let (spawned, started, dropped) = (spawned.clone(), started.clone(), dropped.clone());
        move |i| {
            spawned.incr();
            // Made outside the async block, so even a task aborted before its first
            // poll is counted when its future is dropped.
            let guard = DropGuard(dropped.clone());
            let started = started.clone();
            async move {
                let _guard = guard;
                started.incr();
                if i >= 2 {
                    std::future::pending::<()>().await;
                }
                i
            }
        }
    });
    assert_eq!(s.next().await.unwrap().unwrap(), 0);
    assert_eq!(s.next().await.unwrap().unwrap(), 1);
    assert_pending!(futures::poll!(s.next()));
    // next_seq 2, limit 4: positions 2..6 run, and nothing else starts.
    assert_eq!(s.in_flight(), 4);
    assert_eq!(spawned.get(), 6);
    eventually("every spawned task starts", || started.get() == 6).await;
    assert_eq!(dropped.get(), 2, "only the two finished futures are gone");

    drop(s);
    eventually("every task is aborted", || dropped.get() == 6).await;
    assert_eq!(spawned.get(), 6, "nothing spawned after the drop");
}

#[tokio::test]
async fn dropping_the_stream_aborts_every_task_current_thread() {
    within(dropping_the_stream_mid_way_aborts_every_task()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_aborts_every_task_multi_thread() {
    within(dropping_the_stream_mid_way_aborts_every_task()).await;
}

#[tokio::test]
async fn dropping_a_never_polled_stream_spawns_nothing() {
    within(async {
        let spawned = Counter::default();
        let s = stream::iter(0..10).spawn_ordered(2, {
            let spawned = spawned.clone();
            move |i| {
                spawned.incr();
                async move { i }
            }
        });
        drop(s);
        tokio::task::yield_now().await;
        assert_eq!(
            spawned.get(),
            0,
            "the input is pulled lazily, only when polled"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Construction panics
// ---------------------------------------------------------------------------------------

#[test]
#[should_panic(expected = "limit must be at least 1")]
fn spawn_ordered_with_limit_zero_panics() {
    let _ = stream::iter(0..1).spawn_ordered(0, |i| async move { i });
}

#[test]
#[should_panic(expected = "limit must be at least 1")]
fn spawn_config_with_limit_zero_panics() {
    let _ = SpawnConfig::new(0);
}

#[test]
#[should_panic(expected = "limit must be at least 1")]
fn spawn_ordered_blocking_with_limit_zero_panics() {
    let _ = stream::iter(0..1).spawn_ordered_blocking(0, |i| i);
}

#[test]
#[should_panic(expected = "window must be at least limit")]
fn window_below_limit_panics() {
    let _ = SpawnConfig::new(4).window(3);
}

#[test]
fn window_equal_to_limit_is_accepted_and_default_is_four_times_limit() {
    let config = SpawnConfig::new(3).window(3);
    assert_eq!((config.get_limit(), config.get_window()), (3, 3));
    assert_eq!(SpawnConfig::new(3).get_window(), 12);
    assert_eq!(SpawnConfig::new(3).get_task_timeout(), None);
    assert_eq!(SpawnConfig::new(usize::MAX).get_window(), usize::MAX);
}

#[test]
fn construction_panics_point_at_the_caller() {
    let this_file = file!();
    let first_line = line!();
    let cases: [(&str, fn()); 4] = [
        ("SpawnConfig::new(0)", || {
            let _ = SpawnConfig::new(0);
        }),
        ("window(3) < limit 4", || {
            let _ = SpawnConfig::new(4).window(3);
        }),
        ("spawn_ordered(0)", || {
            let _ = stream::iter(0..1).spawn_ordered(0, |i| async move { i });
        }),
        ("spawn_ordered_blocking(0)", || {
            let _ = stream::iter(0..1).spawn_ordered_blocking(0, |i| i);
        }),
    ];
    let last_line = line!();
    for (what, f) in cases {
        let (file, line) = panic_location(f);
        assert_eq!(file, this_file, "{what}: reported at {file}:{line}");
        assert!(
            (first_line..=last_line).contains(&line),
            "{what}: reported at line {line}, not {first_line}..={last_line}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Runtimes and parallelism
// ---------------------------------------------------------------------------------------

fn run_busy_pipeline(rt: &tokio::runtime::Runtime) {
    rt.block_on(within(async {
        let out: Vec<_> = stream::iter(0u64..300)
            .spawn_ordered(3, |i| async move {
                for _ in 0..(i % 4) {
                    tokio::task::yield_now().await;
                }
                i * 2
            })
            .collect()
            .await;
        assert_eq!(
            ok_values(out),
            (0u64..300).map(|i| i * 2).collect::<Vec<_>>()
        );

        let out: Vec<_> = stream::iter(0u64..50)
            .spawn_ordered_blocking(3, |i| i + 1)
            .collect()
            .await;
        assert_eq!(ok_values(out), (1u64..=50).collect::<Vec<_>>());
    }));
}

#[test]
fn works_on_a_current_thread_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    run_busy_pipeline(&rt);
}

#[test]
fn works_on_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    run_busy_pipeline(&rt);
}

/// Two halves of a rendezvous: each side announces itself, then waits (boundedly) for
/// the other. A side succeeds only if the other runs at the same time.
fn rendezvous() -> [Box<dyn FnOnce() -> bool + Send>; 2] {
    let (a_tx, a_rx) = std_mpsc::channel::<()>();
    let (b_tx, b_rx) = std_mpsc::channel::<()>();
    let wait = Duration::from_secs(5);
    [
        Box::new(move || {
            a_tx.send(()).unwrap();
            b_rx.recv_timeout(wait).is_ok()
        }),
        Box::new(move || {
            b_tx.send(()).unwrap();
            a_rx.recv_timeout(wait).is_ok()
        }),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_run_in_parallel_on_the_workers() {
    within(async {
        // Polled on the consumer's task (as `buffered` does), the first side would block
        // it and time out before the second ever ran.
        let met: Vec<_> = stream::iter(rendezvous())
            .spawn_ordered(2, |side| async move { tokio::task::block_in_place(side) })
            .collect()
            .await;
        assert_eq!(ok_values(met), [true, true]);
    })
    .await;
}

#[tokio::test]
async fn blocking_closures_run_in_parallel_even_on_current_thread() {
    within(async {
        let met: Vec<_> = stream::iter(rendezvous())
            .spawn_ordered_blocking(2, |side| side())
            .collect()
            .await;
        assert_eq!(ok_values(met), [true, true]);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Limit and window
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn concurrency_limit_is_respected_and_reached() {
    within(async {
        const LIMIT: usize = 3;
        let gauge = Gauge::default();
        let mut rng = StdRng::seed_from_u64(7);
        let delays: Vec<u64> = (0..40).map(|_| rng.random_range(1..30)).collect();
        let mut s = stream::iter(delays.into_iter().enumerate()).spawn_ordered(LIMIT, {
            let gauge = gauge.clone();
            move |(i, ms)| {
                let gauge = gauge.clone();
                async move {
                    gauge.enter();
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    gauge.exit();
                    i
                }
            }
        });
        let mut out = Vec::new();
        while let Some(r) = s.next().await {
            assert!(s.in_flight() <= LIMIT);
            out.push(r.unwrap());
        }
        assert_eq!(out, (0..40).collect::<Vec<_>>());
        assert_eq!(gauge.max(), LIMIT);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_is_respected_and_reached_multi_thread() {
    within(async {
        const LIMIT: usize = 3;
        const HOLD: Duration = Duration::from_millis(20);
        let gauge = Gauge::default();
        let out: Vec<_> = stream::iter(0..24)
            .spawn_ordered(LIMIT, |i| {
                let gauge = gauge.clone();
                async move {
                    gauge.enter();
                    // Hold the slot until the limit has been reached once (bounded), so
                    // reaching it does not depend on timing; and for a while longer, so
                    // a broken limit shows up as overlap.
                    let start = Instant::now();
                    while (gauge.max() < LIMIT || start.elapsed() < HOLD)
                        && start.elapsed() < Duration::from_secs(3)
                    {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    gauge.exit();
                    i
                }
            })
            .collect()
            .await;
        assert_eq!(ok_values(out), (0..24).collect::<Vec<_>>());
        assert_eq!(gauge.max(), LIMIT);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_head_bounds_buffering_and_starts_by_the_window() {
    within(async {
        const LIMIT: usize = 2;
        const WINDOW: usize = 5;
        const N: u64 = 30;
        let (head_tx, head_rx) = oneshot::channel::<()>();
        let mut head_rx = Some(head_rx);
        let head_pending = Arc::new(AtomicBool::new(true));
        let max_started_while_head_pending = Arc::new(AtomicU64::new(0));
        let config = SpawnConfig::new(LIMIT).window(WINDOW);
        let mut s = task::spawn(stream::iter(0..N).spawn_ordered_with(config, {
            let (pending, max_started) =
                (head_pending.clone(), max_started_while_head_pending.clone());
            move |i| {
                let rx = if i == 0 { head_rx.take() } else { None };
                let (pending, max_started) = (pending.clone(), max_started.clone());
                async move {
                    if pending.load(SeqCst) {
                        max_started.fetch_max(i, SeqCst);
                    }
                    if let Some(rx) = rx {
                        rx.await.expect("released");
                    }
                    i
                }
            }
        }));

        for _ in 0..20 {
            assert_pending!(s.poll_next());
            settle().await;
        }
        assert_eq!(
            max_started_while_head_pending.load(SeqCst),
            WINDOW as u64 - 1,
            "work runs ahead of the head exactly up to the window"
        );
        assert_eq!(s.buffered_len(), WINDOW - 1);
        assert_eq!(s.in_flight(), 1, "only the head is running");
        assert!(s.peak_buffered() <= WINDOW);
        assert_eq!(s.next_seq(), 0);

        head_pending.store(false, SeqCst);
        head_tx.send(()).unwrap();
        let out: Vec<_> = s.into_inner().collect().await;
        assert_eq!(ok_values(out), (0..N).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn peak_buffered_stays_within_the_window_over_a_whole_run() {
    within(async {
        const WINDOW: usize = 6;
        let mut rng = StdRng::seed_from_u64(11);
        // Every 10th item is slow, so results pile up behind it.
        let delays: Vec<u64> = (0..100)
            .map(|i| {
                if i % 10 == 0 {
                    500
                } else {
                    rng.random_range(1..20)
                }
            })
            .collect();
        let mut s = stream::iter(delays.into_iter().enumerate()).spawn_ordered_with(
            SpawnConfig::new(3).window(WINDOW),
            |(i, ms)| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                i
            },
        );
        let mut n = 0;
        while let Some(r) = s.next().await {
            assert_eq!(r.unwrap(), n);
            assert!(s.buffered_len() < WINDOW);
            n += 1;
        }
        assert_eq!(n, 100);
        assert!(s.peak_buffered() <= WINDOW);
        assert!(
            s.peak_buffered() >= 2,
            "the slow heads did make results wait"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Lazy input
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn endless_input_with_take_on_the_output_spawns_boundedly() {
    within(async {
        const N: usize = 20;
        const WINDOW: usize = 8;
        let spawned = Counter::default();
        let out: Vec<_> = stream::iter(0u64..)
            .spawn_ordered_with(SpawnConfig::new(4).window(WINDOW), |i| {
                spawned.incr();
                async move { i }
            })
            .take(N)
            .collect()
            .await;
        assert_eq!(ok_values(out), (0..N as u64).collect::<Vec<_>>());
        assert!(spawned.get() >= N);
        assert!(spawned.get() <= N + WINDOW, "spawned {}", spawned.get());

        let spawned = Counter::default();
        let out: Vec<_> = stream::repeat(7u8)
            .spawn_ordered(2, |x| {
                spawned.incr();
                async move { x }
            })
            .take(5)
            .collect()
            .await;
        assert_eq!(ok_values(out), [7; 5]);
        assert!(spawned.get() <= 5 + 8, "spawned {}", spawned.get());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_pending_input_wakes_the_stream_and_its_end_ends_it() {
    within(async {
        let (tx, rx) = futures::channel::mpsc::unbounded::<u64>();
        let mut s = task::spawn(rx.spawn_ordered(2, |i| async move { i + 100 }));
        assert_pending!(s.poll_next());
        assert!(!s.is_woken());

        tx.unbounded_send(1).unwrap();
        assert!(s.is_woken(), "a new input wakes the stream");
        assert_pending!(s.poll_next()); // spawned, not finished yet
        settle().await;
        assert!(s.is_woken(), "the result wakes the stream");
        assert_eq!(assert_ready!(s.poll_next()).unwrap().unwrap(), 101);
        assert_pending!(s.poll_next());
        assert!(!s.is_terminated());

        drop(tx);
        assert!(s.is_woken());
        assert!(assert_ready!(s.poll_next()).is_none());
        assert!(s.is_terminated());
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Timeouts
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_task_past_its_timeout_yields_a_timeout_error_in_its_position() {
    within(async {
        let dropped = Counter::default();
        let start = Instant::now();
        let config = SpawnConfig::new(3).task_timeout(Duration::from_secs(1));
        let out: Vec<_> = stream::iter([100u64, 5_000, 200, 0, 3_000, 50])
            .spawn_ordered_with(config, |ms| {
                let guard = DropGuard(dropped.clone());
                async move {
                    let _guard = guard;
                    if ms == 0 {
                        panic!("panics still count as panics");
                    }
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    ms
                }
            })
            .collect()
            .await;
        assert_eq!(out.len(), 6);
        for (i, r) in out.iter().enumerate() {
            match i {
                1 | 4 => {
                    let e = r.as_ref().unwrap_err();
                    assert!(e.is_timeout(), "{e}");
                    assert!(!e.is_panic() && !e.is_cancelled());
                    assert_eq!(e.seq(), i as u64);
                }
                3 => assert!(r.as_ref().unwrap_err().is_panic()),
                _ => assert!(r.is_ok()),
            }
        }
        assert_eq!(*out[0].as_ref().unwrap(), 100);
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "timed-out tasks were cut off, not waited for ({:?})",
            start.elapsed()
        );
        assert_eq!(dropped.get(), 6, "the timed-out futures were dropped");
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// spawn_ordered_blocking
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn blocking_yields_in_input_order_when_completion_is_reversed() {
    within(async {
        const N: usize = 8;
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..N).map(|_| std_mpsc::channel::<()>()).unzip();
        let mut s = task::spawn(
            stream::iter(rxs.into_iter().enumerate()).spawn_ordered_blocking(N, |(i, rx)| {
                rx.recv_timeout(Duration::from_secs(10)).expect("released");
                i
            }),
        );
        assert_pending!(s.poll_next());
        assert_eq!(s.in_flight(), N);
        for tx in txs[1..].iter().rev() {
            tx.send(()).unwrap();
        }
        for _ in 0..5_000 {
            assert_pending!(s.poll_next());
            if s.buffered_len() == N - 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(s.buffered_len(), N - 1);
        assert_eq!((s.in_flight(), s.next_seq()), (1, 0));

        txs[0].send(()).unwrap();
        let out: Vec<_> = s.into_inner().collect().await;
        assert_eq!(ok_values(out), (0..N).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn blocking_panics_become_errors_in_position() {
    within(async {
        let out: Vec<_> = stream::iter(0u32..6)
            .spawn_ordered_blocking(2, |i| {
                assert!(i != 3, "blocking boom {i}");
                i
            })
            .collect()
            .await;
        assert_eq!(out.len(), 6);
        for (i, r) in out.into_iter().enumerate() {
            if i == 3 {
                let e = r.unwrap_err();
                assert!(e.is_panic());
                assert_eq!(e.seq(), 3);
                assert!(e.to_string().contains("blocking boom 3"), "{e}");
            } else {
                assert_eq!(r.unwrap(), i as u32);
            }
        }
    })
    .await;
}

#[tokio::test]
async fn blocking_limit_is_respected_and_reached() {
    within(async {
        const LIMIT: usize = 3;
        const HOLD: Duration = Duration::from_millis(20);
        let gauge = Gauge::default();
        let config = BlockingConfig::new(LIMIT).window(10);
        let out: Vec<_> = stream::iter(0..20)
            .spawn_ordered_blocking_with(config, {
                let gauge = gauge.clone();
                move |i| {
                    gauge.enter();
                    let start = std::time::Instant::now();
                    while (gauge.max() < LIMIT || start.elapsed() < HOLD)
                        && start.elapsed() < Duration::from_secs(3)
                    {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    gauge.exit();
                    i
                }
            })
            .collect()
            .await;
        assert_eq!(ok_values(out), (0..20).collect::<Vec<_>>());
        assert_eq!(gauge.max(), LIMIT);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// size_hint and fusing
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn size_hint_brackets_what_is_left() {
    within(async {
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..5).map(|_| oneshot::channel::<()>()).unzip();
        let mut s = task::spawn(stream::iter(rxs.into_iter().enumerate()).spawn_ordered(
            2,
            |(i, rx)| async move {
                rx.await.expect("released");
                i
            },
        ));
        assert_eq!((*s).size_hint(), (5, Some(5)), "before any poll");
        assert_pending!(s.poll_next());
        assert_eq!(s.in_flight(), 2);
        assert_eq!((*s).size_hint(), (5, Some(5)), "2 spawned + 3 not pulled");

        for tx in txs {
            tx.send(()).unwrap();
        }
        let mut left = 5;
        loop {
            settle().await;
            let (lower, upper) = (*s).size_hint();
            assert!(lower <= left && upper.is_none_or(|u| u >= left));
            match s.poll_next() {
                Poll::Ready(Some(r)) => {
                    r.unwrap();
                    left -= 1;
                }
                Poll::Ready(None) => break,
                Poll::Pending => {}
            }
        }
        assert_eq!(left, 0);
        assert_eq!((*s).size_hint(), (0, Some(0)));
        assert!(s.is_terminated());
        assert!(assert_ready!(s.poll_next()).is_none(), "fused: None again");

        let endless = stream::iter(0u64..).spawn_ordered(2, |i| async move { i });
        assert_eq!(endless.size_hint(), (usize::MAX, None));
        let blocking = stream::iter(0..3).spawn_ordered_blocking(2, |i| i);
        assert_eq!(blocking.size_hint(), (3, Some(3)));
    })
    .await;
}

/// A task timeout on a runtime without timers panics inside the task; that panic must
/// come back as this task's panic, not as a silent cancellation (found in review).
#[test]
fn task_timeout_without_a_timer_is_reported_as_the_tasks_panic() {
    // The runtime has no timer, so the watchdog is a plain thread.
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let out: Vec<_> = rt.block_on(async {
            let config = SpawnConfig::new(1).task_timeout(Duration::from_secs(1));
            let results = stream::iter([1u32]).spawn_ordered_with(config, |x| async move { x });
            results.collect::<Vec<_>>().await
        });
        let _ = done.send(out);
    });
    let out = outcome
        .recv_timeout(Duration::from_secs(10))
        .expect("the stream ends");
    let error = out[0].as_ref().unwrap_err();
    assert!(error.is_panic(), "reported as: {error}");
    assert!(error.to_string().contains("timer"), "{error}");
}

/// Issue 9, repro 6: polled outside a runtime, the stream used to pull one input and call
/// `f` before panicking, so a caller that caught the panic lost that input.
#[test]
fn polling_outside_a_runtime_panics_before_taking_an_input() {
    let pulled = Arc::new(AtomicU64::new(0));
    let called = Arc::new(AtomicU64::new(0));
    let input = stream::iter(0..3u64).inspect({
        let pulled = Arc::clone(&pulled);
        move |_| {
            pulled.fetch_add(1, SeqCst);
        }
    });
    let mut results = input.spawn_ordered(2, {
        let called = Arc::clone(&called);
        move |i| {
            called.fetch_add(1, SeqCst);
            async move { i }
        }
    });
    let outside = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        futures::executor::block_on(results.next())
    }));
    assert!(outside.is_err(), "no runtime: polling must panic");
    assert_eq!((pulled.load(SeqCst), called.load(SeqCst)), (0, 0));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let got: Vec<u64> = runtime.block_on(async {
        let all = tokio::time::timeout(Duration::from_secs(10), results.collect::<Vec<_>>());
        all.await.unwrap().into_iter().map(Result::unwrap).collect()
    });
    assert_eq!(got, [0, 1, 2], "nothing was lost to the panic");
}

// ---------------------------------------------------------------------------------------
// BlockingConfig; TaskError's Debug
// ---------------------------------------------------------------------------------------

#[test]
fn blocking_config_has_the_two_knobs_and_the_spawn_defaults() {
    let config = BlockingConfig::new(3);
    assert_eq!((config.get_limit(), config.get_window()), (3, 12));
    assert_eq!(config.window(3).get_window(), 3);
    assert_eq!(
        (config.get_limit(), config.get_window()),
        (
            SpawnConfig::new(3).get_limit(),
            SpawnConfig::new(3).get_window()
        )
    );
}

#[test]
#[should_panic(expected = "limit must be at least 1")]
fn blocking_config_with_limit_zero_panics() {
    let _ = BlockingConfig::new(0);
}

#[test]
#[should_panic(expected = "window must be at least limit")]
fn blocking_config_window_below_limit_panics() {
    let _ = BlockingConfig::new(4).window(3);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_error_shows_its_duration_in_debug_and_display() {
    within(async {
        let config = SpawnConfig::new(1).task_timeout(Duration::from_millis(1500));
        let out: Vec<_> = stream::iter([()])
            .spawn_ordered_with(config, |()| std::future::pending::<()>())
            .collect()
            .await;
        let err = out.into_iter().next().unwrap().unwrap_err();
        assert!(err.is_timeout());
        assert_eq!(
            format!("{err:?}"),
            "TaskError { seq: 0, kind: TimedOut(1.5s) }"
        );
        assert_eq!(err.to_string(), "task 0 timed out after 1.5s");
    })
    .await;
}

#[tokio::test]
async fn a_panic_error_shows_its_message_in_debug() {
    quiet_injected_panics();
    within(async {
        let out: Vec<_> = stream::iter([()])
            .spawn_ordered(1, |()| async { panic!("injected: boom") })
            .collect()
            .await;
        let err = out.into_iter().next().unwrap().unwrap_err();
        assert_eq!(
            format!("{err:?}"),
            r#"TaskError { seq: 0, kind: Panicked, message: Some("injected: boom") }"#
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// A finished task frees its slot while the head is still running
// ---------------------------------------------------------------------------------------

/// Limit 2: job 0 waits until job 2 has started, and job 2 can only start once job 1's
/// slot is free. So the stream must notice job 1 finishing — a task other than the next
/// one — and start job 2 while job 0 still runs. A missed wake-up hangs (and `within`
/// fails the test).
async fn a_finished_task_behind_the_head_frees_its_slot() {
    within(async {
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let started_rx = Arc::new(tokio::sync::Mutex::new(Some(started_rx)));
        let started_tx = Arc::new(std::sync::Mutex::new(Some(started_tx)));
        let out: Vec<u64> = stream::iter(0..4u64)
            .spawn_ordered_with(SpawnConfig::new(2).window(8), move |i| {
                let started_rx = Arc::clone(&started_rx);
                let started_tx = Arc::clone(&started_tx);
                async move {
                    match i {
                        0 => {
                            let rx = started_rx.lock().await.take().expect("once");
                            rx.await.expect("job 2 started");
                        }
                        2 => {
                            let tx = started_tx.lock().unwrap().take().expect("once");
                            tx.send(()).expect("job 0 waits");
                        }
                        _ => {}
                    }
                    i
                }
            })
            .map(|r| r.expect("job ran"))
            .collect()
            .await;
        assert_eq!(out, [0, 1, 2, 3]);
    })
    .await;
}

#[tokio::test]
async fn a_finished_task_behind_the_head_frees_its_slot_current_thread() {
    a_finished_task_behind_the_head_frees_its_slot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_task_behind_the_head_frees_its_slot_multi_thread() {
    a_finished_task_behind_the_head_frees_its_slot().await;
}

/// The same with blocking closures: job 0 blocks its thread until job 2 has started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_blocking_closure_behind_the_head_frees_its_slot() {
    within(async {
        let (started_tx, started_rx) = std_mpsc::channel::<()>();
        let started_rx = Arc::new(std::sync::Mutex::new(Some(started_rx)));
        let started_tx = Arc::new(std::sync::Mutex::new(Some(started_tx)));
        let out: Vec<bool> = stream::iter(0..4u64)
            .spawn_ordered_blocking_with(BlockingConfig::new(2).window(8), move |i| match i {
                // `false` (a failed assertion below) rather than a hang if job 2 never starts.
                0 => {
                    let rx = started_rx.lock().unwrap().take().expect("once");
                    rx.recv_timeout(Duration::from_secs(5)).is_ok()
                }
                2 => {
                    let tx = started_tx.lock().unwrap().take().expect("once");
                    tx.send(()).is_ok()
                }
                _ => true,
            })
            .map(|r| r.expect("closure ran"))
            .collect()
            .await;
        assert_eq!(
            out, [true; 4],
            "job 2 started while job 0 was still running"
        );
    })
    .await;
}

/// A task behind the head that panics frees its slot too (its future is dropped
/// unfinished): limit 2, job 1 panics at once, job 0 waits for job 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicked_task_behind_the_head_frees_its_slot() {
    quiet_injected_panics();
    within(async {
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let started_rx = Arc::new(tokio::sync::Mutex::new(Some(started_rx)));
        let started_tx = Arc::new(std::sync::Mutex::new(Some(started_tx)));
        let out: Vec<Result<u64, (u64, bool)>> = stream::iter(0..4u64)
            .spawn_ordered_with(SpawnConfig::new(2).window(8), move |i| {
                let started_rx = Arc::clone(&started_rx);
                let started_tx = Arc::clone(&started_tx);
                async move {
                    match i {
                        0 => {
                            let rx = started_rx.lock().await.take().expect("once");
                            rx.await.expect("job 2 started");
                        }
                        1 => panic!("injected: job 1"),
                        2 => {
                            let tx = started_tx.lock().unwrap().take().expect("once");
                            tx.send(()).expect("job 0 waits");
                        }
                        _ => {}
                    }
                    i
                }
            })
            .map(|r| r.map_err(|e| (e.seq(), e.is_panic())))
            .collect()
            .await;
        assert_eq!(out, [Ok(0), Err((1, true)), Ok(2), Ok(3)]);
    })
    .await;
}

/// The poll that hands out a result first starts new work in the slots freed since the
/// last poll (the finished head's, usually), so the workers are busy again while the
/// consumer handles the result. With limit 1: by the time result 0 is in the consumer's
/// hands, job 1 has been started.
#[tokio::test(flavor = "current_thread")]
async fn a_freed_slot_is_filled_before_the_result_is_handed_out() {
    within(async {
        let started = Arc::new(AtomicU64::new(0));
        let finished = Arc::new(AtomicBool::new(false));
        let (counter, flag) = (Arc::clone(&started), Arc::clone(&finished));
        let mut out = stream::iter(0..3u64).spawn_ordered(1, move |i| {
            counter.fetch_add(1, SeqCst);
            let flag = Arc::clone(&flag);
            async move {
                flag.store(true, SeqCst);
                i
            }
        });
        // The first poll starts job 0 and waits for it.
        assert!(futures::poll!(out.next()).is_pending());
        assert_eq!(started.load(SeqCst), 1);
        // Let job 0 run to completion: on this runtime it runs while we yield, and its
        // task completes in the poll that sets the flag.
        while !finished.load(SeqCst) {
            tokio::task::yield_now().await;
        }
        assert_eq!(out.next().await.map(Result::ok), Some(Some(0)));
        assert_eq!(
            started.load(SeqCst),
            2,
            "job 1 starts before result 0 is out"
        );
        assert_eq!(out.in_flight(), 1);
        let rest: Vec<_> = out.map(Result::ok).collect().await;
        assert_eq!(rest, [Some(1), Some(2)]);
    })
    .await;
}

/// Marks a task's exit from the gauge when dropped, so a panicking task is counted out.
struct Leave(Gauge);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.exit();
    }
}

/// Limit 1 and window 1, with a panicking head: filling freed slots before handing out
/// a result must still respect the window, so job `k + 1` starts only after result `k`
/// is out (never before), a panic comes in its own position, and neither `in_flight()`
/// nor the tasks really running ever exceed the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_and_window_of_one_start_each_job_after_the_previous_result_even_when_it_panics() {
    quiet_injected_panics();
    within(async {
        const N: u64 = 30;
        let started = Arc::new(AtomicU64::new(0));
        let gauge = Gauge::default();
        let config = SpawnConfig::new(1).window(1);
        let mut s = stream::iter(0..N).spawn_ordered_with(config, {
            let (started, gauge) = (Arc::clone(&started), gauge.clone());
            move |i| {
                started.fetch_add(1, SeqCst);
                let gauge = gauge.clone();
                async move {
                    gauge.enter();
                    let _leave = Leave(gauge);
                    tokio::task::yield_now().await;
                    if i % 4 == 0 {
                        panic!("injected: job {i}");
                    }
                    i
                }
            }
        });
        let mut seq = 0;
        while let Some(result) = s.next().await {
            assert_eq!(
                started.load(SeqCst),
                seq + 1,
                "window 1: job {} must wait for result {seq} to be out",
                seq + 1
            );
            assert!(s.in_flight() <= 1);
            assert_eq!(s.next_seq(), seq + 1);
            match result {
                Ok(v) => assert_eq!(v, seq),
                Err(e) => {
                    assert_eq!(seq % 4, 0, "only the injected panics fail: {e}");
                    assert!(e.is_panic());
                    assert_eq!(e.seq(), seq);
                }
            }
            seq += 1;
        }
        assert_eq!(seq, N);
        assert_eq!(gauge.max(), 1);
        assert_eq!(s.in_flight(), 0);
    })
    .await;
}

/// Limit 1 with the default window and tasks that panic now and then, on two workers:
/// never more than one task running, nor counted in flight, nor started beyond the
/// window, and each panic in its own position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_one_with_panicking_tasks_never_runs_or_counts_more_than_one() {
    quiet_injected_panics();
    within(async {
        const N: u64 = 40;
        let started = Arc::new(AtomicU64::new(0));
        let gauge = Gauge::default();
        let mut s = stream::iter(0..N).spawn_ordered(1, {
            let (started, gauge) = (Arc::clone(&started), gauge.clone());
            move |i| {
                started.fetch_add(1, SeqCst);
                let gauge = gauge.clone();
                async move {
                    gauge.enter();
                    let _leave = Leave(gauge);
                    for _ in 0..i % 3 {
                        tokio::task::yield_now().await;
                    }
                    if i % 5 == 0 {
                        panic!("injected: job {i}");
                    }
                    i
                }
            }
        });
        let mut seq = 0;
        while let Some(result) = s.next().await {
            let started = started.load(SeqCst);
            // Positions below `seq + window` (4 with limit 1) only.
            assert!(
                started <= seq + 4,
                "job {} started beyond the window",
                started - 1
            );
            assert!(s.in_flight() <= 1, "in flight {}", s.in_flight());
            assert_eq!(result.is_err(), seq % 5 == 0, "position {seq}");
            if let Err(e) = result {
                assert_eq!(e.seq(), seq);
            }
            seq += 1;
        }
        assert_eq!(seq, N);
        assert_eq!(gauge.max(), 1);
    })
    .await;
}

/// As `a_freed_slot_is_filled_before_the_result_is_handed_out`, with a head that
/// panics: its slot is filled (job 1 started) before its error is handed out.
#[tokio::test(flavor = "current_thread")]
async fn a_panicked_heads_slot_is_filled_before_its_error_is_handed_out() {
    quiet_injected_panics();
    within(async {
        let started = Arc::new(AtomicU64::new(0));
        let reached = Arc::new(AtomicBool::new(false));
        let (counter, flag) = (Arc::clone(&started), Arc::clone(&reached));
        let mut out = stream::iter(0..3u64).spawn_ordered(1, move |i| {
            counter.fetch_add(1, SeqCst);
            let flag = Arc::clone(&flag);
            async move {
                flag.store(true, SeqCst);
                if i == 0 {
                    panic!("injected: the head fails");
                }
                i
            }
        });
        assert!(futures::poll!(out.next()).is_pending());
        assert_eq!(started.load(SeqCst), 1);
        // Job 0 panics in the poll that sets the flag; its task is then done.
        while !reached.load(SeqCst) {
            tokio::task::yield_now().await;
        }
        let head = out.next().await.expect("the head's outcome");
        let err = head.expect_err("the head panicked");
        assert!(err.is_panic());
        assert_eq!(err.seq(), 0);
        assert_eq!(
            started.load(SeqCst),
            2,
            "job 1 starts before the head's error is out"
        );
        assert_eq!(out.in_flight(), 1);
        let rest: Vec<_> = out.map(Result::ok).collect().await;
        assert_eq!(rest, [Some(1), Some(2)]);
    })
    .await;
}
