//! Hostile tests for `OrderedJoinSet`, `try_spawn_ordered` and `spawn_ordered_blocking`:
//! each test names the documented promise it tries to break.
//!
//! Out-of-order completion is forced with oneshot channels or paused time, never with real
//! sleeps; every async test runs under a timeout so a hang fails instead of stalling.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use futures::stream::{self, FusedStream, Stream, StreamExt};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use reorder::{BlockingConfig, OrderedExt, OrderedJoinSet, SpawnConfig, TryTaskError};
use tokio::sync::oneshot;
use tokio_test::{assert_pending, assert_ready, task};

mod common;
use common::*;

/// A value with no `Debug`, `Clone` or anything else.
struct Opaque(#[allow(dead_code)] u64);

// ---------------------------------------------------------------------------------------
// Introspection: peak_buffered, in_flight, buffered_len, len
// ---------------------------------------------------------------------------------------

/// Promise (`peak_buffered`): "the most results waiting at once so far". It can never be
/// below what `buffered_len` reports right now. Three tasks finish before the set is
/// polled: taking 0 leaves 1 and 2 waiting, and the peak must say at least 2.
#[tokio::test(start_paused = true)]
async fn peak_buffered_is_never_below_buffered_len_when_the_head_was_ready() {
    within(async {
        let mut set = OrderedJoinSet::new();
        for i in 0..3u64 {
            set.spawn(async move { i });
        }
        settle().await; // all three done, the set never polled
        assert_eq!(set.join_next().await.unwrap().unwrap(), 0);
        assert_eq!(set.buffered_len(), 2);
        assert!(
            set.peak_buffered() >= set.buffered_len(),
            "peak {} < buffered now {}",
            set.peak_buffered(),
            set.buffered_len()
        );
        // try_join_next takes the same path.
        let mut set = OrderedJoinSet::new();
        for i in 0..4u64 {
            set.spawn(async move { i });
        }
        settle().await;
        assert_eq!(set.try_join_next().unwrap().unwrap(), 0);
        assert_eq!(set.buffered_len(), 3);
        assert!(set.peak_buffered() >= 3, "peak {}", set.peak_buffered());
    })
    .await;
}

/// The same promise on the task streams (`SpawnOrdered::peak_buffered`: "the most results
/// waiting at once so far; never more than the window"), here through `try_spawn_ordered`
/// and `spawn_ordered_blocking`, whose jobs all finish between two polls.
#[tokio::test(start_paused = true)]
async fn stream_peak_buffered_is_never_below_buffered_len() {
    within(async {
        let mut s = stream::iter(0..3u64).try_spawn_ordered(3, |i| async move { Ok::<_, ()>(i) });
        assert_pending!(futures::poll!(s.next())); // all three started
        settle().await; // and done
        assert_eq!(s.next().await.unwrap().unwrap(), 0);
        assert_eq!(s.buffered_len(), 2);
        assert!(s.peak_buffered() >= 2, "peak {}", s.peak_buffered());
        assert!(s.peak_buffered() <= 12, "never more than the window");

        let (tx, rx) = std_mpsc::channel::<u64>();
        let mut b = stream::iter(0..3u64).spawn_ordered_blocking(3, move |i| {
            let tx = tx.clone();
            tx.send(i).unwrap();
            i
        });
        // The first poll starts all three; a fast closure may already be done then.
        let first = match futures::poll!(b.next()) {
            std::task::Poll::Ready(r) => r,
            std::task::Poll::Pending => {
                // Wait until every closure has run (the blocking pool is off the paused
                // clock), then poll until 0 is out: their results may still be on their
                // way into the handles.
                let mut ran = 0;
                eventually("the three closures ran", || {
                    while rx.try_recv().is_ok() {
                        ran += 1;
                    }
                    ran == 3
                })
                .await;
                loop {
                    tokio::task::yield_now().await;
                    if let std::task::Poll::Ready(r) = futures::poll!(b.next()) {
                        break r;
                    }
                }
            }
        };
        assert_eq!(first.expect("result 0").unwrap(), 0);
        assert!(
            b.peak_buffered() >= b.buffered_len(),
            "peak {} < buffered now {}",
            b.peak_buffered(),
            b.buffered_len()
        );
    })
    .await;
}

/// Promise: `len` is "results not yet yielded", `in_flight` + `buffered_len` split it as of
/// the last poll, `size_hint` is exactly `len`, `peak_buffered` is the most ever waiting.
/// A flood of 3,000 tasks on two workers, released in random order, consumed through a
/// mix of `join_next` (often dropped mid-way), `try_join_next` and `poll_next`: every
/// result exactly once, in spawn order, and the counts agree after every step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_consumed_by_every_entry_point_keeps_order_and_counts() {
    const N: u64 = 3_000;
    within(async {
        let mut rng = StdRng::seed_from_u64(7);
        let mut set = OrderedJoinSet::with_capacity(N as usize);
        let mut txs = Vec::new();
        for i in 0..N {
            let (tx, rx) = oneshot::channel::<()>();
            txs.push(tx);
            let h = set.spawn(async move {
                rx.await.expect("released");
                i
            });
            assert_eq!(h.seq(), i);
        }
        txs.shuffle(&mut rng);
        let mut got = Vec::new();
        let mut peak_seen = 0;
        let check = |set: &OrderedJoinSet<u64>, taken: u64, peak_seen: &mut usize| {
            assert_eq!(set.len() as u64, N - taken);
            assert_eq!(set.next_seq(), taken);
            assert_eq!(set.in_flight() + set.buffered_len(), set.len());
            assert_eq!(set.size_hint(), (set.len(), Some(set.len())));
            #[allow(clippy::len_zero)] // the two must agree
            let empty_by_len = set.len() == 0;
            assert_eq!(set.is_empty(), empty_by_len);
            assert!(set.peak_buffered() >= set.buffered_len());
            assert!(set.peak_buffered() >= *peak_seen, "the peak went down");
            *peak_seen = set.peak_buffered();
        };
        while got.len() < N as usize {
            for _ in 0..rng.random_range(0..20) {
                if let Some(tx) = txs.pop() {
                    tx.send(()).unwrap();
                }
            }
            match rng.random_range(0..4) {
                0 => {
                    // A join_next future polled once and dropped.
                    let mut fut = task::spawn(set.join_next());
                    if let std::task::Poll::Ready(r) = fut.poll() {
                        got.push(r.unwrap().unwrap());
                    }
                }
                1 => {
                    while let Some(r) = set.try_join_next() {
                        got.push(r.unwrap());
                    }
                }
                2 if txs.is_empty() => got.push(set.next().await.unwrap().unwrap()),
                _ => tokio::task::yield_now().await,
            }
            check(&set, got.len() as u64, &mut peak_seen);
        }
        assert_eq!(got, (0..N).collect::<Vec<_>>());
        assert!(set.join_next().await.is_none());
        assert!(set.try_join_next().is_none());
        assert_eq!((set.len(), set.in_flight(), set.buffered_len()), (0, 0, 0));
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Aborts
// ---------------------------------------------------------------------------------------

/// `abort_all` and `TaskHandle::abort` cannot stop a blocking closure that has started
/// (tokio cannot interrupt a thread): the closure runs to its end and its value stands in
/// its position, while a closure that has not started yet, and an async task, yield a
/// cancellation. (The docs of `abort_all` and `TaskHandle::abort` said every unfinished
/// task yields `Cancelled`; they now say this.)
#[test]
fn aborting_a_started_blocking_closure_keeps_its_value() {
    // One blocking thread: the second closure cannot start while the first runs.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let started = Counter::default();
    let (release, gate) = std_mpsc::channel::<()>();
    let ran_second = Counter::default();
    let out = runtime.block_on(within(async {
        let mut set = OrderedJoinSet::new();
        let s = started.clone();
        let running = set.spawn_blocking(move || {
            s.incr();
            gate.recv().unwrap();
            "ran to its end"
        });
        let r = ran_second.clone();
        let queued = set.spawn_blocking(move || {
            r.incr();
            "never"
        });
        set.spawn(std::future::pending::<&str>());
        eventually("the first closure started", || started.get() == 1).await;
        running.abort();
        set.abort_all();
        assert!(!running.is_finished());
        assert!(!queued.is_finished() || ran_second.get() == 0);
        release.send(()).unwrap();
        set.join_all().await
    }));
    assert_eq!(*out[0].as_ref().unwrap(), "ran to its end");
    assert!(out[1].as_ref().unwrap_err().is_cancelled(), "{:?}", out[1]);
    assert!(out[2].as_ref().unwrap_err().is_cancelled(), "{:?}", out[2]);
    assert_eq!(
        ran_second.get(),
        0,
        "an aborted closure that had not started ran"
    );
}

/// Promise (`abort_all`): aborts the tasks *not yet finished*; a task spawned afterwards is
/// not affected, and a result already in is kept. Also: aborting through a handle after
/// its result was yielded does nothing to the task now behind it.
#[tokio::test(start_paused = true)]
async fn abort_all_touches_only_the_tasks_it_saw() {
    within(async {
        let mut set = OrderedJoinSet::new();
        let done = set.spawn(async { 0u64 });
        set.spawn(std::future::pending());
        settle().await;
        set.abort_all();
        let (tx, rx) = oneshot::channel::<()>();
        let after = set.spawn(async move {
            rx.await.unwrap();
            2
        });
        assert_eq!(after.seq(), 2);
        assert_eq!(set.join_next().await.unwrap().unwrap(), 0);
        done.abort(); // yielded already: must not touch anything
        assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
        settle().await;
        assert!(!after.is_finished(), "abort_all reached a later task");
        tx.send(()).unwrap();
        assert_eq!(set.join_next().await.unwrap().unwrap(), 2);
        assert!(set.join_next().await.is_none());
    })
    .await;
}

/// Aborting the head while the consumer waits on it must wake the consumer, which then
/// gets the cancellation in position and the results behind it.
#[tokio::test(start_paused = true)]
async fn aborting_the_head_wakes_a_waiting_consumer() {
    within(async {
        let mut set = OrderedJoinSet::new();
        let head = set.spawn(std::future::pending::<u64>());
        set.spawn(async { 1 });
        let mut set = task::spawn(set);
        assert_pending!(set.poll_next());
        settle().await;
        assert!(!set.is_woken());
        head.abort();
        settle().await;
        assert!(set.is_woken(), "aborting the head lost the wake-up");
        let e = assert_ready!(set.poll_next()).unwrap().unwrap_err();
        assert!(e.is_cancelled() && e.seq() == 0, "{e:?}");
        assert_eq!(assert_ready!(set.poll_next()).unwrap().unwrap(), 1);
        assert!(assert_ready!(set.poll_next()).is_none());
    })
    .await;
}

/// A future whose `Drop` panics, aborted: the panic is that task's, in its position; the
/// rest go on and the counts come back to zero.
#[tokio::test(start_paused = true)]
async fn an_aborted_task_whose_drop_panics_fails_only_its_position() {
    quiet_injected_panics();
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("injected: drop of an aborted task");
        }
    }
    within(async {
        let mut set = OrderedJoinSet::new();
        set.spawn(async { 0u64 });
        let bomb = set.spawn(async {
            let _bomb = PanicOnDrop;
            std::future::pending::<u64>().await
        });
        set.spawn(async { 2 });
        settle().await;
        bomb.abort();
        let out = set.join_all().await;
        assert_eq!(*out[0].as_ref().unwrap(), 0);
        let e = out[1].as_ref().unwrap_err();
        assert_eq!(e.seq(), 1);
        assert!(e.is_panic() || e.is_cancelled(), "{e:?}");
        assert_eq!(*out[2].as_ref().unwrap(), 2);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Runtime shutdown, no runtime
// ---------------------------------------------------------------------------------------

/// A set owned outside a runtime, its tasks on a runtime that shuts down under them: the
/// finished results are kept, the running async task yields `Cancelled` in place, the
/// running blocking closure its value, and the set drains on another runtime with exact counts.
#[test]
fn a_runtime_shutting_down_under_the_sets_tasks_cancels_them_in_place() {
    let doomed = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let (started_tx, started_rx) = std_mpsc::channel::<()>();
    let (release, gate) = std_mpsc::channel::<()>();
    let mut set = OrderedJoinSet::new();
    set.spawn_on(async { "done" }, doomed.handle());
    set.spawn_on(std::future::pending(), doomed.handle());
    set.spawn_blocking_on(
        move || {
            started_tx.send(()).unwrap();
            gate.recv().unwrap();
            "blocking ran"
        },
        doomed.handle(),
    );
    set.spawn_blocking_on(|| "queued", doomed.handle());
    doomed.block_on(async {
        tokio::task::yield_now().await;
    });
    started_rx.recv().unwrap();
    assert_eq!(set.len(), 4);
    doomed.shutdown_background(); // the running closure is left to finish on its own
    release.send(()).unwrap();
    let out = current_thread(false).block_on(within(async {
        let out: Vec<_> = (&mut set).collect().await;
        assert_eq!((set.len(), set.in_flight(), set.buffered_len()), (0, 0, 0));
        assert_eq!(set.next_seq(), 4);
        out
    }));
    assert_eq!(out.len(), 4);
    assert_eq!(*out[0].as_ref().unwrap(), "done");
    assert!(out[1].as_ref().unwrap_err().is_cancelled(), "{:?}", out[1]);
    assert_eq!(*out[2].as_ref().unwrap(), "blocking ran");
    // tokio's blocking pool may still run a closure queued before the shutdown (a thread
    // that finishes its closure takes the next from the queue): either outcome, in place.
    match &out[3] {
        Ok(v) => assert_eq!(*v, "queued"),
        Err(e) => assert!(e.is_cancelled() && e.seq() == 3, "{e:?}"),
    }
}

/// Promise: `spawn_on` and `spawn_blocking_on` need no current runtime; `extend` outside a
/// runtime panics at the caller, and takes no position.
#[test]
fn outside_a_runtime_extend_panics_at_the_caller_and_the_on_variants_work() {
    let runtime = current_thread(false);
    let mut set = OrderedJoinSet::<u64>::new();
    set.spawn_blocking_on(|| 0, runtime.handle());
    let first_line = line!();
    let (file, line) = panic_location(|| {
        set.extend([1u64, 2].map(std::future::ready));
    });
    let last_line = line!();
    assert_eq!(file, file!());
    assert!((first_line..=last_line).contains(&line), "line {line}");
    assert_eq!(set.len(), 1, "the failed extend took a position");
    let failed = std::panic::catch_unwind(AssertUnwindSafe(|| set.spawn_blocking(|| 9)));
    assert!(failed.is_err());
    set.spawn_on(async { 1 }, runtime.handle());
    assert_eq!(set.len(), 2);
    assert_eq!(ok_values(runtime.block_on(within(set.join_all()))), [0, 1]);
}

// ---------------------------------------------------------------------------------------
// Timeouts at the extremes
// ---------------------------------------------------------------------------------------

/// `with_task_timeout(Duration::ZERO)`: a task ready at its first poll still returns its
/// value; one that waits even once times out in its position; blocking closures have no
/// timeout (documented), however long they take.
#[tokio::test(start_paused = true)]
async fn a_zero_task_timeout_on_the_set() {
    within(async {
        let mut set = OrderedJoinSet::with_task_timeout(Duration::ZERO);
        set.spawn(async { 0u64 });
        set.spawn(async {
            tokio::task::yield_now().await;
            1
        });
        set.spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(5));
            2
        });
        set.spawn(async { 3 });
        let out = set.join_all().await;
        assert_eq!(*out[0].as_ref().unwrap(), 0);
        let e = out[1].as_ref().unwrap_err();
        assert!(e.is_timeout() && e.seq() == 1, "{e:?}");
        assert_eq!(
            *out[2].as_ref().unwrap(),
            2,
            "blocking closures have no timeout"
        );
        assert_eq!(*out[3].as_ref().unwrap(), 3);
    })
    .await;
}

/// `with_task_timeout(Duration::MAX)`: never fires and never overflows.
#[tokio::test(start_paused = true)]
async fn a_duration_max_task_timeout_on_the_set_never_fires() {
    let mut set = OrderedJoinSet::with_task_timeout(Duration::MAX);
    for i in 0..3u64 {
        set.spawn(async move {
            tokio::time::sleep(Duration::from_secs(3_600 * (3 - i))).await;
            i
        });
    }
    let out = tokio::time::timeout(Duration::from_secs(10 * 3_600), set.join_all())
        .await
        .expect("hangs");
    assert_eq!(ok_values(out), [0, 1, 2]);
}

/// `try_spawn_ordered_with` and a zero timeout: a job that returns `Err` at once is
/// `Failed` (its own error, not a timeout), one that waits is `Task(timeout)`, each in its
/// position.
#[tokio::test(start_paused = true)]
async fn try_spawn_with_a_zero_timeout_tells_failed_from_timed_out() {
    within(async {
        let config = SpawnConfig::new(2).task_timeout(Duration::ZERO);
        let out: Vec<_> = stream::iter(0..4u64)
            .try_spawn_ordered_with(config, |i| async move {
                match i {
                    1 => Err("no"),
                    2 => {
                        tokio::task::yield_now().await;
                        Ok(i)
                    }
                    _ => Ok(i),
                }
            })
            .collect()
            .await;
        assert_eq!(*out[0].as_ref().unwrap(), 0);
        assert!(matches!(
            out[1],
            Err(TryTaskError::Failed {
                seq: 1,
                error: "no"
            })
        ));
        assert!(
            matches!(&out[2], Err(TryTaskError::Task(e)) if e.is_timeout() && e.seq() == 2),
            "{:?}",
            out[2]
        );
        assert_eq!(*out[3].as_ref().unwrap(), 3);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Debug without T: Debug, after the end, never polled, huge sizes
// ---------------------------------------------------------------------------------------

/// `Debug` for the set, its handles and the streams needs no `Debug` on the results.
#[tokio::test]
async fn debug_needs_no_debug_on_the_results() {
    within(async {
        let mut set = OrderedJoinSet::new();
        let h = set.spawn(async { Opaque(0) });
        let text = format!("{set:?}");
        assert!(
            text.starts_with("OrderedJoinSet") && text.contains("len: 1"),
            "{text}"
        );
        assert!(format!("{h:?}").contains("seq: 0"));

        let s = stream::iter([1u64])
            .try_spawn_ordered(1, |i| async move { Ok::<Opaque, Opaque>(Opaque(i)) });
        assert!(format!("{s:?}").starts_with("TrySpawnOrdered"));
        let b = stream::iter([1u64]).spawn_ordered_blocking(1, Opaque);
        assert!(format!("{b:?}").starts_with("SpawnOrderedBlocking"));
        fn _compiles(_: &dyn fmt::Debug) {}
        _compiles(&set);
        drop(set.join_all().await);
    })
    .await;
}

/// After the last result: `join_next`, `try_join_next` and `poll_next` say `None` as often
/// as asked and spawn nothing; the blocking stream stays terminated and its counts zero.
#[tokio::test]
async fn polling_after_the_end_keeps_saying_none() {
    within(async {
        let mut set = OrderedJoinSet::new();
        set.spawn_blocking(|| 0u8);
        assert_eq!(set.join_next().await.unwrap().unwrap(), 0);
        for _ in 0..3 {
            assert!(set.join_next().await.is_none());
            assert!(set.try_join_next().is_none());
            assert!(set.next().await.is_none());
        }
        assert_eq!((set.len(), set.next_seq()), (0, 1));

        let mut b = stream::iter(0..2u64)
            .spawn_ordered_blocking_with(BlockingConfig::new(usize::MAX).window(usize::MAX), |i| i);
        assert_eq!(b.size_hint(), (2, Some(2)));
        assert_eq!(ok_values((&mut b).collect::<Vec<_>>().await), [0, 1]);
        for _ in 0..3 {
            assert!(b.is_terminated());
            assert!(b.next().await.is_none());
            assert_eq!(b.size_hint(), (0, Some(0)));
        }
        assert_eq!((b.in_flight(), b.buffered_len(), b.next_seq()), (0, 0, 2));
    })
    .await;
}

/// Promise (`spawn`): the task starts at once, whether or not the set is polled; the
/// counts of a set never polled read as of its last poll (never), until a look.
#[tokio::test(start_paused = true)]
async fn tasks_run_though_the_set_is_never_polled() {
    within(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut set = OrderedJoinSet::new();
        for i in 0..3u64 {
            let tx = tx.clone();
            set.spawn(async move {
                tx.send(i).unwrap();
                i
            });
        }
        let tx2 = tx.clone();
        set.spawn_blocking(move || {
            tx2.send(3).unwrap();
            3
        });
        drop(tx);
        let mut ran = Vec::new();
        while let Some(i) = rx.recv().await {
            ran.push(i);
        }
        ran.sort_unstable();
        assert_eq!(ran, [0, 1, 2, 3]);
        assert_eq!(
            (set.len(), set.in_flight()),
            (4, 4),
            "counts as of the last poll"
        );
        drop(set); // nothing to abort; must not panic
    })
    .await;
}

/// `with_capacity(usize::MAX)` cannot be honoured: it panics ("capacity overflow", as
/// `VecDeque::with_capacity` does), which is now documented.
#[test]
fn with_capacity_usize_max_panics_as_documented() {
    let r = std::panic::catch_unwind(|| OrderedJoinSet::<u8>::with_capacity(usize::MAX));
    assert!(r.is_err());
    let set = OrderedJoinSet::<u8>::with_capacity(0);
    assert!(set.is_empty());
}

/// `size_hint` of `try_spawn_ordered` and `spawn_ordered_blocking` brackets what is left
/// after every item, while results finish out of order.
#[tokio::test(start_paused = true)]
async fn size_hints_bracket_what_is_left_at_every_step() {
    within(async {
        let mut s = stream::iter(0..6u64).try_spawn_ordered(2, |i| async move {
            tokio::time::sleep(Duration::from_millis(10 * (6 - i))).await;
            if i % 2 == 0 {
                Ok(i)
            } else {
                Err(i)
            }
        });
        let mut left = 6;
        loop {
            let (lo, hi) = s.size_hint();
            assert!(
                lo <= left && hi.is_none_or(|h| h >= left),
                "{lo} {hi:?} {left}"
            );
            match s.next().await {
                Some(_) => left -= 1,
                None => break,
            }
        }
        assert_eq!(left, 0);

        let mut b = stream::iter(0..6u64)
            .filter(|i| std::future::ready(i % 3 != 0))
            .spawn_ordered_blocking(2, |i| i);
        let mut left = 4;
        loop {
            let (lo, hi) = b.size_hint();
            assert!(
                lo <= left && hi.is_none_or(|h| h >= left),
                "{lo} {hi:?} {left}"
            );
            match b.next().await {
                Some(_) => left -= 1,
                None => break,
            }
        }
        assert_eq!(left, 0);
    })
    .await;
}

/// `with_task_timeout(Duration::MAX)` means "never", whatever waits: a task that never
/// finishes must not time out, even after the clock has run 100 years (paused time jumps
/// straight to the next timer, so a far-but-finite deadline would be reached at once).
#[tokio::test(start_paused = true)]
async fn a_duration_max_task_timeout_never_fires_even_after_a_century() {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
    let mut set = OrderedJoinSet::with_task_timeout(Duration::MAX);
    set.spawn(std::future::pending::<u64>());
    let waited = tokio::time::timeout(CENTURY, set.join_next()).await;
    assert!(waited.is_err(), "the task timed out: {:?}", waited.unwrap());

    let config = SpawnConfig::new(1).task_timeout(Duration::MAX);
    let mut s = stream::iter([0u64]).try_spawn_ordered_with(config, |_| async {
        std::future::pending::<Result<u64, ()>>().await
    });
    let waited = tokio::time::timeout(CENTURY, s.next()).await;
    assert!(waited.is_err(), "the job timed out: {:?}", waited.unwrap());
}

/// A set whose tasks run on a runtime without timers, with a task timeout: each task's
/// timeout panics inside the task, which must read as that task's panic, in its position
/// (not a cancellation, not a hang).
#[test]
fn a_task_timeout_on_a_runtime_without_timers_is_the_tasks_panic() {
    quiet_injected_panics();
    let no_timers = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut set = OrderedJoinSet::with_task_timeout(Duration::from_secs(1));
    set.spawn_on(async { 0u8 }, no_timers.handle());
    set.spawn_blocking_on(|| 1, no_timers.handle()); // no timeout applies: fine
    let out = no_timers.block_on(set.join_all());
    let e = out[0].as_ref().unwrap_err();
    assert!(e.is_panic() && e.seq() == 0, "{e:?}");
    assert_eq!(*out[1].as_ref().unwrap(), 1);
}

/// Promise (`spawn_on`): "for a set owned outside that runtime". The set is filled and
/// drained from a plain thread with no runtime: `try_join_next` and a `join_next` driven
/// by `futures::executor` work there, in order.
#[test]
fn a_set_owned_outside_the_runtime_is_drained_outside_it() {
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let (tx, rx) = std_mpsc::channel::<()>();
    let gate = std::sync::Mutex::new(rx);
    let mut set = OrderedJoinSet::new();
    set.spawn_blocking_on(
        move || {
            gate.lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(10))
                .unwrap();
            0u64
        },
        workers.handle(),
    );
    for i in 1..4u64 {
        set.spawn_on(async move { i }, workers.handle());
    }
    assert!(set.try_join_next().is_none(), "0 has not finished");
    tx.send(()).unwrap();
    let first = futures::executor::block_on(set.join_next())
        .unwrap()
        .unwrap();
    assert_eq!(first, 0);
    let rest = futures::executor::block_on(set.join_all());
    assert_eq!(ok_values(rest), [1, 2, 3]);
}

/// Construction panics of `try_spawn_ordered` and `BlockingConfig` point at the caller
/// (`spawn_ordered`'s and `SpawnConfig`'s are checked in `spawn.rs`).
#[test]
fn try_spawn_and_blocking_config_panics_point_at_the_caller() {
    let this_file = file!();
    let first_line = line!();
    let cases: [(&str, fn()); 4] = [
        ("try_spawn_ordered(0)", || {
            let _ = stream::iter(0..1u8).try_spawn_ordered(0, |i| async move { Ok::<_, ()>(i) });
        }),
        ("BlockingConfig::new(0)", || {
            let _ = BlockingConfig::new(0);
        }),
        ("BlockingConfig window 3 < limit 4", || {
            let _ = BlockingConfig::new(4).window(3);
        }),
        (
            "spawn_ordered_blocking_with(BlockingConfig::new(0))",
            || {
                let _ =
                    stream::iter(0..1u8).spawn_ordered_blocking_with(BlockingConfig::new(0), |i| i);
            },
        ),
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

/// Documented panic of `try_spawn_ordered` and `spawn_ordered_blocking`: polled outside a
/// runtime with an input to start, they panic before taking it; the stream then goes on
/// in a runtime with every input.
#[test]
fn try_spawn_and_blocking_polled_outside_a_runtime_lose_nothing() {
    let runtime = current_thread(false);
    let mut t = stream::iter(0..3u64).try_spawn_ordered(2, |i| async move { Ok::<_, ()>(i) });
    let outside =
        std::panic::catch_unwind(AssertUnwindSafe(|| futures::executor::block_on(t.next())));
    assert!(outside.is_err());
    assert_eq!(t.get_ref().size_hint(), (3, Some(3)), "an input was taken");
    let all: Vec<_> = runtime.block_on(within(t.collect()));
    assert_eq!(
        all.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        [0, 1, 2]
    );

    let mut b = stream::iter(0..3u64).spawn_ordered_blocking(2, |i| i);
    let outside =
        std::panic::catch_unwind(AssertUnwindSafe(|| futures::executor::block_on(b.next())));
    assert!(outside.is_err());
    assert_eq!(b.get_ref().size_hint(), (3, Some(3)), "an input was taken");
    assert_eq!(b.next_seq(), 0);
    assert_eq!(ok_values(runtime.block_on(within(b.collect()))), [0, 1, 2]);
}

/// A consumer parked in `join_next` on one runtime while the tasks' runtime shuts down
/// (from another thread) is woken, and gets `Cancelled` in place — no hang.
#[test]
fn a_parked_consumer_is_woken_when_the_tasks_runtime_shuts_down() {
    let doomed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let mut set = OrderedJoinSet::new();
    set.spawn_on(std::future::pending::<u64>(), doomed.handle());
    set.spawn_on(async { 1 }, doomed.handle());
    let consumer = current_thread(false);
    let out = consumer.block_on(within(async move {
        // Most likely parked by then; the result must be the same either way.
        let shut = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(doomed);
        });
        let first = set.join_next().await;
        shut.join().unwrap();
        let rest: Vec<_> = set.collect().await;
        (first, rest)
    }));
    let e = out.0.unwrap().unwrap_err();
    assert!(e.is_cancelled() && e.seq() == 0, "{e:?}");
    assert_eq!(out.1.len(), 1);
    // The finished task may have run before the shutdown, or been dropped by it.
    match &out.1[0] {
        Ok(v) => assert_eq!(*v, 1),
        Err(e) => assert!(e.is_cancelled() && e.seq() == 1, "{e:?}"),
    }
}

/// Promise: dropping the set aborts every task still running — also when it is dropped on
/// a thread with no runtime.
#[test]
fn dropping_the_set_outside_a_runtime_aborts_its_tasks() {
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let dropped = Counter::default();
    let mut set = OrderedJoinSet::new();
    for _ in 0..3 {
        let guard = DropGuard(dropped.clone());
        set.spawn_on(
            async move {
                std::future::pending::<()>().await;
                drop(guard);
            },
            workers.handle(),
        );
    }
    drop(set);
    for _ in 0..1_000 {
        if dropped.get() == 3 {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("only {} of 3 tasks were aborted", dropped.get());
}

// ---------------------------------------------------------------------------------------
// Random schedules against a model
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Running,
    Value,
    Panic,
    Cancelled,
}

/// One random schedule of spawns, releases, panics, handle aborts, `abort_all`s, spawns
/// after drains, and consumption through every entry point (`join_next` dropped after one
/// poll, `try_join_next`, `poll_next`), on a paused current-thread runtime where each step
/// settles: every position yields exactly once, in order, with the outcome the model says
/// (released before aborted: its value or its panic; aborted first: `Cancelled`).
async fn random_schedule(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut set = OrderedJoinSet::new();
    let mut model: Vec<Expect> = Vec::new();
    let mut panics: Vec<bool> = Vec::new();
    let mut txs: Vec<Option<oneshot::Sender<()>>> = Vec::new();
    let mut handles = Vec::new();
    let mut taken = 0usize;
    let check_taken = |r: Result<u64, reorder::TaskError>, pos: usize, model: &[Expect]| {
        match (model[pos], &r) {
            (Expect::Value, Ok(v)) => assert_eq!(*v, pos as u64, "seed {seed}"),
            (Expect::Panic, Err(e)) if e.is_panic() => {}
            (Expect::Cancelled, Err(e)) if e.is_cancelled() => {}
            (want, got) => panic!("seed {seed}: position {pos}: want {want:?}, got {got:?}"),
        }
        if let Err(e) = &r {
            assert_eq!(e.seq(), pos as u64, "seed {seed}");
        }
    };
    for _step in 0..120 {
        match rng.random_range(0..10) {
            0..=2 => {
                let (tx, rx) = oneshot::channel::<()>();
                let pos = model.len() as u64;
                let boom = rng.random_range(0..6) == 0;
                let h = set.spawn(async move {
                    if rx.await.is_err() {
                        std::future::pending::<()>().await;
                    }
                    assert!(!boom, "injected: task {pos}");
                    pos
                });
                assert_eq!(h.seq(), pos, "seed {seed}");
                handles.push(h);
                model.push(Expect::Running);
                panics.push(boom);
                txs.push(Some(tx));
            }
            3..=4 => {
                let running: Vec<_> = (0..model.len())
                    .filter(|&p| model[p] == Expect::Running)
                    .collect();
                if let Some(&p) = running.get(rng.random_range(0..running.len().max(1))) {
                    txs[p].take().unwrap().send(()).unwrap();
                    model[p] = if panics[p] {
                        Expect::Panic
                    } else {
                        Expect::Value
                    };
                }
            }
            5 if !handles.is_empty() => {
                let p = rng.random_range(0..handles.len());
                handles[p].abort();
                if model[p] == Expect::Running {
                    model[p] = Expect::Cancelled;
                }
            }
            6 if rng.random_range(0..4) == 0 => {
                set.abort_all();
                for m in model[taken..].iter_mut() {
                    if *m == Expect::Running {
                        *m = Expect::Cancelled;
                    }
                }
            }
            7 => {
                let mut fut = task::spawn(set.join_next());
                if let std::task::Poll::Ready(r) = fut.poll() {
                    drop(fut);
                    match r {
                        Some(r) => {
                            check_taken(r, taken, &model);
                            taken += 1;
                        }
                        None => assert_eq!(taken, model.len(), "seed {seed}"),
                    }
                }
            }
            8 => {
                while let Some(r) = set.try_join_next() {
                    check_taken(r, taken, &model);
                    taken += 1;
                }
            }
            _ => {}
        }
        settle().await;
        assert_eq!(set.len(), model.len() - taken, "seed {seed}");
        assert_eq!(set.next_seq(), taken as u64, "seed {seed}");
        assert_eq!(
            set.in_flight() + set.buffered_len(),
            set.len(),
            "seed {seed}"
        );
        assert!(set.peak_buffered() >= set.buffered_len(), "seed {seed}");
    }
    // Release what still runs, then drain through the stream.
    for (p, m) in model.iter_mut().enumerate() {
        if *m == Expect::Running {
            txs[p].take().unwrap().send(()).unwrap();
            *m = if panics[p] {
                Expect::Panic
            } else {
                Expect::Value
            };
        }
    }
    while let Some(r) = set.next().await {
        check_taken(r, taken, &model);
        taken += 1;
    }
    assert_eq!(taken, model.len(), "seed {seed}");
    assert_eq!((set.len(), set.in_flight(), set.buffered_len()), (0, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn random_schedules_match_the_model() {
    quiet_injected_panics();
    for seed in 0..150 {
        within(random_schedule(seed)).await;
    }
}

/// The recipe in `BlockingConfig`'s docs: to bound a blocking job's time, run it as an
/// async task under `task_timeout` that awaits a `spawn_blocking` handle. The timeout gives
/// up on the result, in its position; the thread still runs the closure to its end; the
/// others go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blocking_timeout_recipe_gives_up_on_the_result_not_the_thread() {
    within(async {
        let (release, gate) = std_mpsc::channel::<()>();
        let gate = std::sync::Arc::new(std::sync::Mutex::new(gate));
        let finished = Counter::default();
        let f = finished.clone();
        let config = SpawnConfig::new(2).task_timeout(Duration::from_millis(50));
        let out: Vec<_> = stream::iter(0..3u64)
            .spawn_ordered_with(config, move |i| {
                let gate = gate.clone();
                let f = f.clone();
                async move {
                    tokio::task::spawn_blocking(move || {
                        if i == 1 {
                            gate.lock()
                                .unwrap()
                                .recv_timeout(Duration::from_secs(10))
                                .unwrap();
                            f.incr();
                        }
                        i
                    })
                    .await
                    .unwrap()
                }
            })
            .collect()
            .await;
        assert_eq!(*out[0].as_ref().unwrap(), 0);
        let e = out[1].as_ref().unwrap_err();
        assert!(e.is_timeout() && e.seq() == 1, "{e:?}");
        assert_eq!(*out[2].as_ref().unwrap(), 2);
        assert_eq!(finished.get(), 0, "the closure was still blocked");
        release.send(()).unwrap();
        eventually("the thread ran the closure to its end", || {
            finished.get() == 1
        })
        .await;
    })
    .await;
}

/// Promise (`TaskHandle::id`): "the tokio task id, as `tokio::task::id()` reports inside
/// the task" — for async tasks and blocking closures alike.
#[tokio::test]
async fn handle_ids_match_the_ids_seen_inside_async_and_blocking_tasks() {
    within(async {
        let mut set = OrderedJoinSet::new();
        let a = set.spawn(async { tokio::task::try_id() });
        let b = set.spawn_blocking(tokio::task::try_id);
        let out = ok_values(set.join_all().await);
        assert_eq!(out, [Some(a.id()), Some(b.id())]);
        assert_ne!(a.id(), b.id());
    })
    .await;
}
