//! tokio-util's `JoinQueue` test suite (`tokio-util/tests/task_join_queue.rs`, tokio-util
//! 0.7.19), ported to `OrderedJoinSet`, plus tests for what the port adds.
//!
//! Ported, one test each, same scenario: no spurious wake-ups, abort on drop,
//! alternating spawn/join, `abort_all`, `join_all`, `shutdown`, manual abort through the
//! handle `spawn` returns, `join_next_with_id` (here: the handle's `id()` and `seq()`
//! match what the task and the join order see), `try_join_next`, `try_join_next` does
//! not replace the waker (twice upstream: with and without id; once here), and
//! `try_join_next` is not subject to tokio's coop budget (twice upstream; once here).
//! Adapted: a task's error is a `TaskError` in its position rather than a
//! `JoinError`, and `join_all` returns `Result`s instead of panicking. Not ported: the
//! two `spawn_local` tests (`OrderedJoinSet` has no `spawn_local`).
//!
//! Every test runs under `within`, so a hang fails instead of stalling.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use reorder::OrderedJoinSet;
use tokio::sync::oneshot;
use tokio::task::yield_now;
use tokio_test::{assert_pending, assert_ready, task};

mod common;
use common::*;

/// A waker that counts its wake-ups (futures-test's `new_count_waker`).
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn count_waker() -> (Waker, Arc<CountWaker>) {
    let counter = Arc::new(CountWaker(AtomicUsize::new(0)));
    (Waker::from(counter.clone()), counter)
}

#[tokio::test]
async fn no_spurious_wakeups() {
    within(async {
        let (tx, rx) = oneshot::channel::<()>();
        let mut set = OrderedJoinSet::new();
        set.spawn(async move {
            let _ = rx.await;
            42
        });

        let mut join_next = task::spawn(set.join_next());
        assert_pending!(join_next.poll());
        assert!(!join_next.is_woken());

        let _ = tx.send(());
        yield_now().await;

        assert!(join_next.is_woken());
        let output = assert_ready!(join_next.poll());
        assert_eq!(output.unwrap().unwrap(), 42);
    })
    .await;
}

#[tokio::test]
async fn abort_on_drop() {
    within(async {
        let mut set = OrderedJoinSet::new();
        let mut recvs = Vec::new();
        for _ in 0..16 {
            let (send, recv) = oneshot::channel::<()>();
            recvs.push(recv);
            set.spawn(async move {
                // This task never completes on its own.
                std::future::pending::<()>().await;
                drop(send);
            });
        }
        drop(set);
        for recv in recvs {
            // The task is aborted soon, which drops its sender.
            assert!(recv.await.is_err());
        }
    })
    .await;
}

#[tokio::test]
async fn alternating() {
    within(async {
        let mut set = OrderedJoinSet::new();
        assert_eq!(set.len(), 0);
        set.spawn(async {});
        assert_eq!(set.len(), 1);
        set.spawn(async {});
        assert_eq!(set.len(), 2);

        for _ in 0..16 {
            let res = set.join_next().await.unwrap();
            assert!(res.is_ok());
            assert_eq!(set.len(), 1);
            set.spawn(async {});
            assert_eq!(set.len(), 2);
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn abort_all() {
    within(async {
        let mut set: OrderedJoinSet<()> = OrderedJoinSet::new();
        for _ in 0..5 {
            set.spawn(std::future::pending());
        }
        for _ in 0..5 {
            set.spawn(async {
                tokio::time::sleep(Duration::from_secs(1)).await;
            });
        }

        // 5 pending tasks and 5 finished ones.
        tokio::time::sleep(Duration::from_secs(2)).await;

        set.abort_all();
        assert_eq!(set.len(), 10);

        let mut count = 0;
        while let Some(res) = set.join_next().await {
            if count < 5 {
                assert!(res.unwrap_err().is_cancelled());
            } else {
                assert!(res.is_ok(), "a finished task keeps its result");
            }
            count += 1;
        }
        assert_eq!(count, 10);
        assert!(set.is_empty());
    })
    .await;
}

#[tokio::test]
async fn join_all() {
    within(async {
        let mut set = OrderedJoinSet::new();
        let mut senders = Vec::new();
        for i in 0..5 {
            let (tx, rx) = oneshot::channel::<()>();
            senders.push(tx);
            set.spawn(async move {
                let _ = rx.await;
                i
            });
        }
        // Complete all tasks in reverse order.
        while let Some(tx) = senders.pop() {
            let _ = tx.send(());
        }
        let results: Vec<i32> = ok_values(set.join_all().await);
        assert_eq!(results, vec![0, 1, 2, 3, 4]);
    })
    .await;
}

#[tokio::test]
async fn shutdown() {
    within(async {
        let mut set = OrderedJoinSet::new();
        let mut senders = Vec::new();
        for _ in 0..5 {
            let (tx, rx) = oneshot::channel::<()>();
            senders.push(tx);
            set.spawn(async move {
                let _ = rx.await;
            });
        }

        set.shutdown().await;
        assert!(set.is_empty());
        while let Some(tx) = senders.pop() {
            assert!(tx.is_closed(), "the task (and its receiver) is gone");
        }
    })
    .await;
}

#[tokio::test]
async fn with_manual_abort() {
    within(async {
        let mut set = OrderedJoinSet::new();
        let mut num_cancelled = 0;
        let mut num_completed = 0;
        let mut senders = Vec::new();
        for i in 0..16 {
            let (tx, rx) = oneshot::channel::<()>();
            senders.push(tx);
            let handle = set.spawn(async move {
                let _ = rx.await;
                i
            });
            if i % 2 != 0 {
                // Abort odd-numbered tasks.
                handle.abort();
            }
        }
        // Complete all tasks in reverse order.
        while let Some(tx) = senders.pop() {
            let _ = tx.send(());
        }
        let mut position = 0;
        while let Some(res) = set.join_next().await {
            match res {
                Ok(res) => {
                    assert_eq!(res, num_completed * 2);
                    num_completed += 1;
                }
                Err(e) => {
                    assert!(e.is_cancelled());
                    assert_eq!(e.seq(), position, "cancelled in its own position");
                    num_cancelled += 1;
                }
            }
            position += 1;
        }
        assert_eq!(num_cancelled, 8);
        assert_eq!(num_completed, 8);
    })
    .await;
}

/// Upstream's `join_next_with_id`: 1,000 tasks; the ids `spawn` handed out come back in
/// spawn order. Here each task returns `tokio::task::id()`, and the handle also knows
/// its position.
#[tokio::test]
async fn handle_ids_and_positions_match_the_join_order() {
    within(async {
        const TASK_NUM: u64 = 1000;
        let (send, recv) = tokio::sync::watch::channel(());
        let mut set = OrderedJoinSet::new();
        let mut spawned = Vec::with_capacity(TASK_NUM as usize);
        for i in 0..TASK_NUM {
            let mut recv = recv.clone();
            let handle = set.spawn(async move {
                recv.changed().await.unwrap();
                tokio::task::id()
            });
            assert_eq!(handle.seq(), i);
            spawned.push(handle.id());
        }
        drop(recv);

        send.send_replace(());
        send.closed().await;

        let joined: Vec<_> = ok_values(set.join_all().await);
        assert_eq!(joined.len() as u64, TASK_NUM);
        assert_eq!(joined, spawned);
    })
    .await;
}

#[tokio::test]
async fn try_join_next() {
    within(async {
        let mut set = OrderedJoinSet::new();
        let (tx1, rx1) = oneshot::channel::<()>();
        set.spawn(async {
            let _ = rx1.await;
        });
        let (tx2, rx2) = oneshot::channel::<()>();
        set.spawn(async {
            let _ = rx2.await;
        });
        let (tx3, rx3) = oneshot::channel::<()>();
        set.spawn(async {
            let _ = rx3.await;
        });

        // Calling `try_join_next` repeatedly when nothing is ready changes nothing.
        fn check_try_join_next_is_noop(set: &mut OrderedJoinSet<()>) {
            let len = set.len();
            for _ in 0..5 {
                assert!(set.try_join_next().is_none());
                assert_eq!(set.len(), len);
            }
        }

        assert_eq!(set.len(), 3);
        check_try_join_next_is_noop(&mut set);

        tx1.send(()).unwrap();
        yield_now().await;

        assert_eq!(set.len(), 3);
        assert!(set.try_join_next().is_some());
        assert_eq!(set.len(), 2);
        check_try_join_next_is_noop(&mut set);

        tx3.send(()).unwrap();
        yield_now().await;

        // 3 is done but 2 comes first.
        assert_eq!(set.len(), 2);
        check_try_join_next_is_noop(&mut set);

        tx2.send(()).unwrap();
        yield_now().await;

        assert_eq!(set.len(), 2);
        assert!(set.try_join_next().is_some());
        assert_eq!(set.len(), 1);
        assert!(set.try_join_next().is_some());
        assert!(set.is_empty());
        check_try_join_next_is_noop(&mut set);
    })
    .await;
}

#[tokio::test]
async fn try_join_next_does_not_replace_waker() {
    within(async {
        let (send, recv) = oneshot::channel();
        let mut set = OrderedJoinSet::new();
        set.spawn(async move {
            recv.await.unwrap();
            42
        });

        let (waker, wakes) = count_waker();
        let mut cx = Context::from_waker(&waker);

        assert_pending!(set.poll_join_next(&mut cx));
        assert_eq!(wakes.0.load(SeqCst), 0);
        assert!(set.try_join_next().is_none());

        send.send(()).unwrap();
        yield_now().await;

        assert_eq!(
            wakes.0.load(SeqCst),
            1,
            "the earlier poll's waker was woken"
        );
        assert_eq!(
            assert_ready!(set.poll_join_next(&mut cx)).unwrap().unwrap(),
            42
        );
    })
    .await;
}

/// 1,000 finished tasks are all taken by `try_join_next` without a single `None`: it is
/// not subject to tokio's coop budget.
#[tokio::test]
async fn try_join_next_is_not_limited_by_the_coop_budget() {
    within(async {
        const TASK_NUM: u32 = 1000;
        let sem = Arc::new(tokio::sync::Semaphore::new(0));
        let mut set = OrderedJoinSet::new();
        for _ in 0..TASK_NUM {
            let sem = sem.clone();
            set.spawn(async move {
                sem.add_permits(1);
            });
        }
        let _ = sem.acquire_many(TASK_NUM).await.unwrap();

        let mut count = 0;
        let mut coop_count = 0;
        while !set.is_empty() {
            match set.try_join_next() {
                Some(Ok(())) => count += 1,
                Some(Err(err)) => panic!("failed: {err}"),
                None => {
                    coop_count += 1;
                    yield_now().await;
                }
            }
        }
        assert_eq!(coop_count, 0);
        assert_eq!(count, TASK_NUM);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Beyond the port: one task aborted in place, spawn_on, blocking variants, shutdown.
// ---------------------------------------------------------------------------------------

/// Aborting one task drops its future (its guard counts the drop) and costs exactly its
/// own position; its neighbours, finished before and after, are untouched.
#[tokio::test]
async fn aborting_one_task_cancels_only_that_position() {
    within(async {
        let dropped = Counter::default();
        let mut set = OrderedJoinSet::new();
        set.spawn(async { 0 });
        let guard = DropGuard(dropped.clone());
        let middle = set.spawn(async move {
            let _guard = guard;
            std::future::pending::<i32>().await
        });
        set.spawn(async { 2 });
        assert!(!middle.is_finished());
        middle.abort();
        eventually("the aborted future is dropped", || dropped.get() == 1).await;
        assert!(middle.is_finished());

        let out = set.join_all().await;
        assert_eq!(*out[0].as_ref().unwrap(), 0);
        let err = out[1].as_ref().unwrap_err();
        assert!(err.is_cancelled() && err.seq() == middle.seq());
        assert_eq!(*out[2].as_ref().unwrap(), 2);
    })
    .await;
}

/// Aborting a task that already finished changes nothing: its value stands.
#[tokio::test]
async fn aborting_a_finished_task_keeps_its_result() {
    within(async {
        let mut set = OrderedJoinSet::new();
        let done = set.spawn(async { 7 });
        eventually("the task finished", || done.is_finished()).await;
        done.abort();
        done.abort_handle().abort();
        assert_eq!(set.join_next().await.unwrap().unwrap(), 7);
    })
    .await;
}

/// `spawn_on` and `spawn_blocking_on` put the work on the given runtime (another one
/// than the caller's) and still yield in spawn order.
#[test]
fn spawn_on_runs_on_the_given_runtime() {
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("given-runtime")
        .enable_all()
        .build()
        .unwrap();
    let caller = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut set = OrderedJoinSet::new();
    let name = || std::thread::current().name().map(str::to_owned);
    let (tx, rx) = oneshot::channel::<()>();
    let first = set.spawn_on(
        async move {
            rx.await.unwrap(); // finishes last
            name()
        },
        workers.handle(),
    );
    let second = set.spawn_blocking_on(name, workers.handle());
    assert_eq!((first.seq(), second.seq()), (0, 1));
    let out = caller.block_on(within(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        tx.send(()).unwrap();
        set.join_all().await
    }));
    let out: Vec<_> = ok_values(out);
    assert_eq!(out[0].as_deref(), Some("given-runtime"));
    // The given runtime's blocking pool (the caller's would be "tokio-runtime-worker").
    assert_eq!(out[1].as_deref(), Some("given-runtime"));
    assert_eq!(out.len(), 2);
}

/// A set owned outside any runtime can still spawn onto one.
#[test]
fn spawn_on_needs_no_current_runtime() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut set = OrderedJoinSet::with_capacity(4);
    for i in 0..4u64 {
        set.spawn_on(async move { i }, rt.handle());
    }
    set.spawn_blocking_on(|| 4, rt.handle());
    let out = rt.block_on(within(set.join_all()));
    assert_eq!(ok_values(out), [0, 1, 2, 3, 4]);
}

/// `shutdown` aborts every task (guards count the drops) and empties the set, even
/// with results held out of order.
#[tokio::test(start_paused = true)]
async fn shutdown_aborts_everything_and_empties_the_set() {
    within(async {
        let dropped = Counter::default();
        let mut set = OrderedJoinSet::new();
        for i in 0..6u64 {
            let guard = DropGuard(dropped.clone());
            set.spawn(async move {
                let _guard = guard;
                if i % 2 == 1 {
                    return i; // finishes, held behind 0
                }
                std::future::pending().await
            });
        }
        settle().await;
        assert_eq!(set.buffered_len(), 0, "0 has not come, nothing popped yet");
        set.shutdown().await;
        assert!(set.is_empty());
        assert_eq!(dropped.get(), 6);
        assert!(set.join_next().await.is_none());
        assert!(set.try_join_next().is_none());
    })
    .await;
}
