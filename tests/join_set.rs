//! `OrderedJoinSet`: spawn in a loop, consume in spawn order.
//!
//! Out-of-order completion is forced with oneshot channels or paused time, never with real
//! sleeps; every async test runs under a timeout so a hang fails instead of stalling CI.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use futures::stream::{Stream, StreamExt};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use reorder::OrderedJoinSet;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_test::{assert_pending, assert_ready, task};

mod common;
use common::*;

// ---------------------------------------------------------------------------------------
// Order and bookkeeping
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn yields_in_spawn_order_with_exact_bookkeeping() {
    within(async {
        let mut set = OrderedJoinSet::new();
        assert!(set.is_empty());
        assert_eq!((set.len(), set.in_flight(), set.next_seq()), (0, 0, 0));

        let mut txs = Vec::new();
        for i in 0..4u64 {
            let (tx, rx) = oneshot::channel::<()>();
            txs.push(Some(tx));
            let seq = set
                .spawn(async move {
                    rx.await.expect("released");
                    i
                })
                .seq();
            assert_eq!(seq, i, "spawn returns the position");
        }
        assert!(!set.is_empty());
        assert_eq!((set.len(), set.in_flight(), set.buffered_len()), (4, 4, 0));

        let mut set = task::spawn(set);
        assert_pending!(set.poll_next());

        // 3 and 1 finish first: held, nothing yielded. With nothing to yield the set is
        // not woken (as tokio-util's `JoinQueue`); the counts are as of the next poll.
        txs[3].take().unwrap().send(()).unwrap();
        txs[1].take().unwrap().send(()).unwrap();
        settle().await;
        assert!(!set.is_woken(), "woken with nothing to yield");
        assert_pending!(set.poll_next());
        assert_eq!((set.len(), set.in_flight(), set.buffered_len()), (4, 2, 2));
        assert_eq!(set.next_seq(), 0);

        // The head unblocks 0 and 1 at once; 2 is still missing.
        txs[0].take().unwrap().send(()).unwrap();
        settle().await;
        assert!(set.is_woken());
        assert_eq!(assert_ready!(set.poll_next()).unwrap().unwrap(), 0);
        assert_eq!(assert_ready!(set.poll_next()).unwrap().unwrap(), 1);
        assert_pending!(set.poll_next());
        assert_eq!((set.len(), set.in_flight(), set.buffered_len()), (2, 1, 1));
        assert_eq!(set.next_seq(), 2);

        txs[2].take().unwrap().send(()).unwrap();
        settle().await;
        assert!(set.is_woken());
        assert_eq!(assert_ready!(set.poll_next()).unwrap().unwrap(), 2);
        assert_eq!(assert_ready!(set.poll_next()).unwrap().unwrap(), 3);
        assert!(assert_ready!(set.poll_next()).is_none());
        assert!(set.is_empty());
        assert_eq!((set.len(), set.in_flight(), set.next_seq()), (0, 0, 4));
        assert_eq!(set.peak_buffered(), 2);
    })
    .await;
}

async fn random_release_order(seed: u64) {
    const N: usize = 300;
    let mut set = OrderedJoinSet::new();
    let mut txs = Vec::new();
    for i in 0..N {
        let (tx, rx) = oneshot::channel::<()>();
        txs.push(Some(tx));
        set.spawn(async move {
            rx.await.expect("released");
            i
        });
    }
    let mut order: Vec<usize> = (0..N).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let releaser = tokio::spawn(async move {
        for i in order {
            txs[i].take().unwrap().send(()).unwrap();
            tokio::task::yield_now().await;
        }
    });
    let mut got = Vec::new();
    while let Some(r) = set.join_next().await {
        got.push(r.unwrap());
    }
    assert_eq!(got, (0..N).collect::<Vec<_>>());
    releaser.await.unwrap();
}

#[tokio::test]
async fn random_completion_order_current_thread() {
    within(random_release_order(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_completion_order_multi_thread() {
    for seed in 0..5 {
        within(random_release_order(seed)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn the_set_is_a_stream_in_spawn_order() {
    within(async {
        let mut set = OrderedJoinSet::new();
        for i in 0..6u64 {
            set.spawn(async move {
                tokio::time::sleep(Duration::from_millis(60 - 10 * i)).await;
                i
            });
        }
        let got: Vec<_> = set.collect().await;
        assert_eq!(ok_values(got), [0, 1, 2, 3, 4, 5]);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Panics, timeouts, join_all
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_panicking_task_yields_an_error_in_its_position_and_the_rest_still_come() {
    within(async {
        let mut set = OrderedJoinSet::new();
        for i in 0..5u64 {
            set.spawn(async move {
                // The panicking task finishes first.
                tokio::time::sleep(Duration::from_millis(if i == 1 { 1 } else { 50 })).await;
                assert!(i != 1, "set boom {i}");
                i
            });
        }
        let mut got = Vec::new();
        while let Some(r) = set.join_next().await {
            got.push(r);
        }
        assert_eq!(got.len(), 5, "nothing truncated");
        let e = got.remove(1).unwrap_err();
        assert!(e.is_panic() && !e.is_cancelled() && !e.is_timeout());
        assert_eq!(e.seq(), 1);
        assert!(e.to_string().contains("set boom 1"), "{e}");
        let payload = e.try_into_panic().expect("a panic");
        assert_eq!(*payload.downcast::<String>().unwrap(), "set boom 1");
        assert_eq!(ok_values(got), [0, 2, 3, 4]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn join_all_returns_every_result_in_spawn_order() {
    within(async {
        let mut set = OrderedJoinSet::new();
        for ms in [30u64, 10, 0, 20] {
            set.spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                assert!(ms != 0, "zero");
                ms
            });
        }
        let all = set.join_all().await;
        assert_eq!(all.len(), 4);
        assert_eq!(*all[0].as_ref().unwrap(), 30);
        assert_eq!(*all[1].as_ref().unwrap(), 10);
        assert!(all[2].as_ref().unwrap_err().is_panic());
        assert_eq!(all[2].as_ref().unwrap_err().seq(), 2);
        assert_eq!(*all[3].as_ref().unwrap(), 20);

        assert!(OrderedJoinSet::<u8>::new().join_all().await.is_empty());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_task_past_its_timeout_yields_a_timeout_error_in_its_position() {
    within(async {
        let start = Instant::now();
        let mut set = OrderedJoinSet::with_task_timeout(Duration::from_secs(1));
        for ms in [10u64, 60_000, 20] {
            set.spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                ms
            });
        }
        let all = set.join_all().await;
        assert_eq!(*all[0].as_ref().unwrap(), 10);
        let e = all[1].as_ref().unwrap_err();
        assert!(e.is_timeout() && !e.is_cancelled() && !e.is_panic(), "{e}");
        assert_eq!(e.seq(), 1);
        assert_eq!(*all[2].as_ref().unwrap(), 20);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "cut off at the timeout"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn try_into_panic_hands_a_non_panic_error_back() {
    within(async {
        let mut set = OrderedJoinSet::with_task_timeout(Duration::from_millis(5));
        set.spawn(std::future::pending::<()>());
        let e = set.join_next().await.unwrap().unwrap_err();
        let e = e.try_into_panic().expect_err("a timeout is not a panic");
        assert!(e.is_timeout());
        assert_eq!(e.seq(), 0);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// abort_all and drop
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn abort_all_cancels_unfinished_tasks_in_position_and_keeps_finished_ones() {
    within(async {
        let finished = Counter::default();
        let dropped = Counter::default();
        let mut set = OrderedJoinSet::new();
        for i in 0..6u64 {
            let (finished, guard) = (finished.clone(), DropGuard(dropped.clone()));
            set.spawn(async move {
                let _guard = guard;
                if i % 2 == 1 {
                    std::future::pending::<()>().await;
                }
                finished.incr();
                i
            });
        }
        // On a current-thread runtime a task that counted itself has also returned.
        eventually("even tasks finish", || finished.get() == 3).await;

        set.abort_all();
        assert_eq!(set.len(), 6, "aborted positions still yield");
        let mut got = Vec::new();
        while let Some(r) = set.join_next().await {
            got.push(r);
        }
        assert_eq!(got.len(), 6);
        for (i, r) in got.into_iter().enumerate() {
            if i % 2 == 1 {
                let e = r.expect_err("aborted");
                assert!(e.is_cancelled() && !e.is_panic() && !e.is_timeout(), "{e}");
                assert_eq!(e.seq(), i as u64);
                assert!(e.to_string().contains("cancelled"), "{e}");
            } else {
                assert_eq!(r.unwrap(), i as u64, "finished results are kept");
            }
        }
        assert_eq!(dropped.get(), 6);
        assert!(set.is_empty());

        // The set stays usable: later spawns are not affected by the earlier abort.
        assert_eq!(set.spawn(async { 99 }).seq(), 6);
        assert_eq!(set.join_next().await.unwrap().unwrap(), 99);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_all_on_a_multi_thread_runtime_cancels_every_running_task() {
    within(async {
        let started = Counter::default();
        let mut set = OrderedJoinSet::new();
        for _ in 0..20 {
            let started = started.clone();
            set.spawn(async move {
                started.incr();
                std::future::pending::<u8>().await
            });
        }
        eventually("every task runs", || started.get() == 20).await;
        set.abort_all();
        let all = set.join_all().await;
        assert_eq!(all.len(), 20);
        for (i, r) in all.iter().enumerate() {
            let e = r.as_ref().unwrap_err();
            assert!(e.is_cancelled());
            assert_eq!(e.seq(), i as u64);
        }
    })
    .await;
}

async fn dropping_the_set_aborts_every_task() {
    let started = Counter::default();
    let dropped = Counter::default();
    let mut set = OrderedJoinSet::new();
    for i in 0..10u64 {
        let (started, guard) = (started.clone(), DropGuard(dropped.clone()));
        set.spawn(async move {
            let _guard = guard;
            started.incr();
            if i >= 2 {
                tokio::time::sleep(Duration::from_secs(3_600)).await;
            }
            i
        });
    }
    assert_eq!(set.join_next().await.unwrap().unwrap(), 0);
    assert_eq!(set.join_next().await.unwrap().unwrap(), 1);
    eventually("every task runs", || started.get() == 10).await;
    assert_eq!(dropped.get(), 2);

    drop(set);
    eventually("every task is aborted", || dropped.get() == 10).await;
}

#[tokio::test]
async fn dropping_the_set_aborts_every_task_current_thread() {
    within(dropping_the_set_aborts_every_task()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_set_aborts_every_task_multi_thread() {
    within(dropping_the_set_aborts_every_task()).await;
}

#[tokio::test(start_paused = true)]
async fn join_next_is_cancel_safe() {
    within(async {
        let mut set = OrderedJoinSet::new();
        let mut txs = Vec::new();
        for i in 0..5u64 {
            let (tx, rx) = oneshot::channel::<()>();
            txs.push(Some(tx));
            set.spawn(async move {
                rx.await.expect("released");
                i
            });
        }
        // Release all but the head, abandoning a pending join_next future after each:
        // the early results it took in must stay in the set.
        for tx in txs[1..].iter_mut().rev() {
            tx.take().unwrap().send(()).unwrap();
            settle().await;
            let mut fut = task::spawn(set.join_next());
            assert_pending!(fut.poll());
        }
        assert_eq!((set.buffered_len(), set.in_flight(), set.len()), (4, 1, 5));

        txs[0].take().unwrap().send(()).unwrap();
        let mut got = Vec::new();
        while let Some(r) = set.join_next().await {
            got.push(r.unwrap());
        }
        assert_eq!(got, [0, 1, 2, 3, 4]);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Numbering, FromIterator, Extend, size_hint
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn spawn_after_draining_continues_numbering() {
    within(async {
        let mut set = OrderedJoinSet::new();
        assert_eq!(set.spawn(async { "a" }).seq(), 0);
        assert_eq!(set.spawn(async { "b" }).seq(), 1);
        assert_eq!(set.join_next().await.unwrap().unwrap(), "a");
        assert_eq!(set.join_next().await.unwrap().unwrap(), "b");
        assert!(set.join_next().await.is_none());
        assert!(set.is_empty());

        assert_eq!(set.spawn(async { "c" }).seq(), 2);
        assert_eq!(set.spawn_blocking(|| "d").seq(), 3);
        assert_eq!(set.next_seq(), 2);
        assert_eq!(set.len(), 2);
        assert_eq!(set.join_next().await.unwrap().unwrap(), "c");
        assert_eq!(set.join_next().await.unwrap().unwrap(), "d");
        assert!(set.join_next().await.is_none());
        assert_eq!(set.next_seq(), 4);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn from_iterator_and_extend_spawn_in_iteration_order() {
    within(async {
        let delayed = |i: u64| async move {
            tokio::time::sleep(Duration::from_millis(100 - i)).await;
            i
        };
        let mut set: OrderedJoinSet<u64> = (0..3).map(delayed).collect();
        assert_eq!(set.len(), 3);
        set.extend((3..6).map(delayed));
        assert_eq!((set.len(), set.in_flight()), (6, 6));
        assert_eq!(ok_values(set.join_all().await), [0, 1, 2, 3, 4, 5]);

        let empty: OrderedJoinSet<u64> = std::iter::empty::<std::future::Ready<u64>>().collect();
        assert!(empty.is_empty());
        let default: OrderedJoinSet<u64> = OrderedJoinSet::default();
        assert!(default.is_empty());
    })
    .await;
}

#[tokio::test]
async fn size_hint_is_exactly_len() {
    within(async {
        let mut set = OrderedJoinSet::new();
        assert_eq!(set.size_hint(), (0, Some(0)));
        for i in 0..4 {
            set.spawn(async move { i });
        }
        assert_eq!(set.size_hint(), (4, Some(4)));
        set.join_next().await.unwrap().unwrap();
        assert_eq!(set.size_hint(), (3, Some(3)));
        let rest: Vec<_> = set.by_ref().collect().await;
        assert_eq!(rest.len(), 3);
        assert_eq!(set.size_hint(), (0, Some(0)));
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// spawn_blocking, parallelism
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn spawn_blocking_keeps_order_and_turns_panics_into_errors() {
    within(async {
        let mut set = OrderedJoinSet::new();
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| std_mpsc::channel::<()>()).unzip();
        for (i, rx) in rxs.into_iter().enumerate() {
            set.spawn_blocking(move || {
                rx.recv_timeout(Duration::from_secs(10)).expect("released");
                assert!(i != 2, "blocking set boom");
                i
            });
        }
        for tx in txs.iter().rev() {
            tx.send(()).unwrap();
        }
        let all = set.join_all().await;
        assert_eq!(all.len(), 4);
        assert_eq!(*all[0].as_ref().unwrap(), 0);
        assert_eq!(*all[1].as_ref().unwrap(), 1);
        let e = all[2].as_ref().unwrap_err();
        assert!(
            e.is_panic() && e.to_string().contains("blocking set boom"),
            "{e}"
        );
        assert_eq!(*all[3].as_ref().unwrap(), 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_run_in_parallel_on_the_workers() {
    within(async {
        let (a_tx, a_rx) = std_mpsc::channel::<()>();
        let (b_tx, b_rx) = std_mpsc::channel::<()>();
        let wait = Duration::from_secs(5);
        let mut set = OrderedJoinSet::new();
        set.spawn(async move {
            tokio::task::block_in_place(|| {
                a_tx.send(()).unwrap();
                b_rx.recv_timeout(wait).is_ok()
            })
        });
        set.spawn(async move {
            tokio::task::block_in_place(|| {
                b_tx.send(()).unwrap();
                a_rx.recv_timeout(wait).is_ok()
            })
        });
        assert_eq!(ok_values(set.join_all().await), [true, true]);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Outside a runtime
// ---------------------------------------------------------------------------------------

#[test]
fn spawn_outside_a_runtime_panics_at_the_caller() {
    let mut set = OrderedJoinSet::<u8>::new();
    let first_line = line!();
    let (file, line) = panic_location(|| {
        set.spawn(async { 1 });
    });
    let last_line = line!();
    assert_eq!(file, file!());
    assert!((first_line..=last_line).contains(&line), "line {line}");

    let mut set = OrderedJoinSet::<u8>::new();
    let first_line = line!();
    let (file, line) = panic_location(|| {
        set.spawn_blocking(|| 1);
    });
    let last_line = line!();
    assert_eq!(file, file!());
    assert!((first_line..=last_line).contains(&line), "line {line}");
}

#[test]
fn the_set_stays_consistent_after_a_spawn_outside_a_runtime_panicked() {
    let mut set = OrderedJoinSet::<u8>::new();
    let failed = std::panic::catch_unwind(AssertUnwindSafe(|| set.spawn(async { 1 })));
    assert!(failed.is_err());
    assert_eq!(set.len(), 0, "the failed spawn took no position");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(within(async {
        let seq = set.spawn(async { 2 }).seq();
        let all: Vec<_> = set.collect().await;
        assert_eq!(all.len(), 1, "one task spawned, one result (seq {seq})");
        assert_eq!(*all[0].as_ref().unwrap(), 2);
    }));
}
