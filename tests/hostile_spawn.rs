//! Hostile tests for `spawn_ordered` and friends, `OrderedJoinSet` and the `Reorder`
//! adapter: runtimes that shut down under running tasks, blocking closures that never
//! start, job closures and inputs that panic, zero and endless timeouts, endless ready
//! inputs with no limit, `next()` futures dropped mid-way, polls outside a runtime.
//!
//! Every async test runs under a timeout; a poll that might never return runs on a
//! thread of its own with a deadline.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc::{unbounded, UnboundedSender};
use futures::stream::{self, FusedStream, StreamExt};
use reorder::{
    BlockingConfig, OrderedExt, OrderedJoinSet, ReorderConfig, ReorderError, SpawnConfig,
    TryTaskError,
};

mod common;
use common::*;

// ---------------------------------------------------------------------------------------
// Runtimes shutting down, streams moving between runtimes
// ---------------------------------------------------------------------------------------

/// Promise: a task dropped by its runtime shutting down yields a `Cancelled` error in
/// its position (`TaskError::is_cancelled`), never a hang; the stream goes on with the
/// rest on whatever runtime polls it next.
#[test]
fn a_runtime_shutting_down_under_running_tasks_cancels_them_in_place() {
    let dropped = Counter::default();
    let d = dropped.clone();
    let mut results = stream::iter(0..6u64).spawn_ordered(3, move |i| {
        let guard = DropGuard(d.clone());
        async move {
            if i < 3 {
                std::future::pending::<()>().await; // only the runtime can end these
            }
            drop(guard);
            i
        }
    });
    let first = current_thread(true);
    first.block_on(async {
        assert!(futures::poll!(results.next()).is_pending());
        settle().await;
    });
    assert_eq!(results.in_flight(), 3);
    drop(first); // drops the three running tasks
    assert_eq!(dropped.get(), 3, "the shutdown dropped every running task");
    let out = current_thread(true).block_on(within(results.by_ref().collect::<Vec<_>>()));
    assert_eq!(out.len(), 6);
    for (pos, result) in out.iter().enumerate().take(3) {
        let err = result.as_ref().unwrap_err();
        assert!(err.is_cancelled(), "position {pos}: {err:?}");
        assert_eq!(err.seq(), pos as u64);
    }
    let rest: Vec<u64> = out[3..].iter().map(|r| *r.as_ref().unwrap()).collect();
    assert_eq!(rest, [3, 4, 5]);
    assert!(results.is_terminated());
    assert_eq!(results.next_seq(), 6);
    assert_eq!(results.in_flight(), 0);
}

/// Promise: a runtime shutting down under blocking closures never hangs the stream nor
/// shifts a position. The running closure's result stands; a queued one either runs
/// (tokio's blocking pool may still drain its queue at shutdown) or is cancelled, in its
/// own position either way.
#[test]
fn a_runtime_shutting_down_under_queued_blocking_closures_keeps_every_position() {
    let ran = Counter::default();
    let (release, gate) = std_mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let r = ran.clone();
    let mut results = stream::iter(0..3u64).spawn_ordered_blocking(3, move |i| {
        r.incr();
        if i == 0 {
            gate.lock().unwrap().recv().unwrap();
        }
        i
    });
    let first = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    first.block_on(async {
        assert!(futures::poll!(results.next()).is_pending());
    });
    // Closure 0 holds the only blocking thread; 1 and 2 wait in its queue.
    on_a_thread_within_10s({
        let ran = ran.clone();
        move || {
            while ran.get() == 0 {
                std::thread::yield_now();
            }
        }
    });
    first.shutdown_background();
    release.send(()).unwrap();
    let out = on_a_thread_within_10s(move || {
        current_thread(false).block_on(within(results.collect::<Vec<_>>()))
    });
    assert_eq!(out.len(), 3);
    assert_eq!(
        *out[0].as_ref().unwrap(),
        0,
        "the running closure's result stands"
    );
    let mut oks = 1;
    for (pos, result) in out.iter().enumerate().skip(1) {
        match result {
            Ok(v) => {
                assert_eq!(*v, pos as u64);
                oks += 1;
            }
            Err(err) => {
                assert!(err.is_cancelled(), "position {pos}: {err:?}");
                assert_eq!(err.seq(), pos as u64);
            }
        }
    }
    assert_eq!(ran.get(), oks, "a closure ran but its result was lost");
}

/// Promise (`OrderedJoinSet::spawn_on`): a task given to a runtime that has already
/// shut down is never run, yields `Cancelled` in its own position, and the set goes on.
#[test]
fn join_set_spawn_on_a_shut_down_runtime_yields_cancelled_in_place() {
    let dead = current_thread(false);
    let handle = dead.handle().clone();
    drop(dead);
    let ran = Counter::default();
    let live = current_thread(true);
    let out = live.block_on(within(async {
        let mut set = OrderedJoinSet::new();
        set.spawn(async { 0u64 });
        let r = ran.clone();
        let doomed = set.spawn_on(
            async move {
                r.incr();
                1
            },
            &handle,
        );
        assert_eq!(doomed.seq(), 1);
        let r = ran.clone();
        set.spawn_blocking_on(
            move || {
                r.incr();
                2
            },
            &handle,
        );
        set.spawn(async { 3 });
        set.join_all().await
    }));
    assert_eq!(*out[0].as_ref().unwrap(), 0);
    for pos in [1, 2] {
        let err = out[pos].as_ref().unwrap_err();
        assert!(err.is_cancelled(), "position {pos}: {err:?}");
        assert_eq!(err.seq(), pos as u64);
    }
    assert_eq!(*out[3].as_ref().unwrap(), 3);
    assert_eq!(ran.get(), 0);
}

// ---------------------------------------------------------------------------------------
// Dropping the stream: blocking closures that have not started
// ---------------------------------------------------------------------------------------

/// Promise (`SpawnOrderedBlocking`): dropping the stream cancels every closure that has
/// not started (its input is dropped, the closure never runs); the running one finishes.
#[test]
fn dropping_a_blocking_stream_cancels_every_closure_not_started() {
    let dropped = Counter::default();
    let ran = Counter::default();
    let (release, gate) = std_mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let d = dropped.clone();
    let r = ran.clone();
    let inputs = stream::iter(0..4u64).map(move |i| (i, DropGuard(d.clone())));
    let mut results = inputs.spawn_ordered_blocking_with(
        BlockingConfig::new(4),
        move |(i, _guard): (u64, DropGuard)| {
            r.incr();
            if i == 0 {
                gate.lock().unwrap().recv().unwrap();
            }
            i
        },
    );
    runtime.block_on(async {
        assert!(futures::poll!(results.next()).is_pending());
    });
    on_a_thread_within_10s({
        let ran = ran.clone();
        move || {
            while ran.get() == 0 {
                std::thread::yield_now();
            }
        }
    });
    assert_eq!(results.in_flight(), 4);
    drop(results);
    release.send(()).unwrap();
    runtime.block_on(within(eventually("every input dropped", || {
        dropped.get() == 4
    })));
    assert_eq!(
        ran.get(),
        1,
        "a closure that had not started ran after the drop"
    );
}

// ---------------------------------------------------------------------------------------
// Panicking job closures and inputs
// ---------------------------------------------------------------------------------------

/// A job closure (not its task) or the input that panics inside `poll_next`: the caller
/// catches it, and the stream goes on with nothing lost and its bookkeeping intact. The
/// input whose job closure panicked keeps its position, as a cancelled task (as in
/// `spawn_ordered_by_key`); an input that never came out of the input stream takes none.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_caught_panic_of_the_job_closure_keeps_its_position_the_inputs_takes_none() {
    quiet_injected_panics();
    let input = stream::iter(0..8u64).map(|i| {
        if i == 5 {
            panic!("injected: input {i}");
        }
        i
    });
    let mut results = input.spawn_ordered(2, |i| {
        if i == 2 {
            panic!("injected: job closure {i}");
        }
        async move {
            tokio::time::sleep(Duration::from_millis(10 - i)).await;
            i
        }
    });
    let mut got = Vec::new();
    let mut panics = 0;
    within(async {
        loop {
            let next = std::future::poll_fn(|cx| {
                let polled =
                    std::panic::catch_unwind(AssertUnwindSafe(|| results.poll_next_unpin(cx)));
                std::task::Poll::Ready(polled)
            });
            match next.await {
                Err(_) => panics += 1,
                Ok(std::task::Poll::Pending) => tokio::time::sleep(Duration::from_millis(1)).await,
                Ok(std::task::Poll::Ready(Some(r))) => got.push(r),
                Ok(std::task::Poll::Ready(None)) => break,
            }
        }
    })
    .await;
    assert_eq!(panics, 2);
    let cancelled = got.remove(2).expect_err("input 2's job closure panicked");
    assert!(cancelled.is_cancelled(), "{cancelled:?}");
    assert_eq!(cancelled.seq(), 2, "in input 2's position");
    let got: Vec<u64> = got.into_iter().map(Result::unwrap).collect();
    assert_eq!(got, [0, 1, 3, 4, 6, 7]);
    assert_eq!(
        results.next_seq(),
        7,
        "input 2 kept its position; input 5 never came out of the input"
    );
    assert_eq!((results.in_flight(), results.buffered_len()), (0, 0));
    assert!(results.peak_buffered() <= 8);
}

/// Collects a stream to its end, counting the panics that come out of its polls.
async fn collect_through_panics<S: futures::Stream + Unpin>(mut s: S) -> (Vec<S::Item>, usize) {
    let (mut got, mut panics) = (Vec::new(), 0);
    loop {
        match futures::FutureExt::catch_unwind(AssertUnwindSafe(s.next())).await {
            Err(_) => panics += 1,
            Ok(Some(item)) => got.push(item),
            Ok(None) => return (got, panics),
        }
    }
}

/// The stand-in for a panicked job closure's input is cancelled, never timed out, even
/// under `task_timeout(Duration::ZERO)` on a multi-thread runtime (where another worker
/// could poll it before the abort lands); `try_spawn_ordered` reports it as
/// `TryTaskError::Task`, cancelled, in its position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicked_job_closure_is_cancelled_in_position_under_a_zero_timeout_and_in_try() {
    quiet_injected_panics();
    for _ in 0..50 {
        let config = SpawnConfig::new(4).task_timeout(Duration::ZERO);
        let results = stream::iter(0..6u64).spawn_ordered_with(config, |i| {
            assert!(i != 3, "injected: job closure {i}");
            std::future::ready(i)
        });
        let (got, panics) = within(collect_through_panics(results)).await;
        assert_eq!(panics, 1);
        assert_eq!(got.len(), 6, "every input has its position");
        for (pos, r) in got.iter().enumerate() {
            match r {
                Ok(v) => assert_eq!(*v, pos as u64),
                Err(e) => {
                    assert_eq!(pos, 3, "{e:?}");
                    assert!(e.is_cancelled(), "cancelled, not timed out: {e:?}");
                }
            }
        }

        let results = stream::iter(0..6u64).try_spawn_ordered(2, |i| {
            assert!(i != 1, "injected: job closure {i}");
            std::future::ready(Ok::<u64, String>(i))
        });
        let (got, panics) = within(collect_through_panics(results)).await;
        assert_eq!(panics, 1);
        assert_eq!(got.len(), 6);
        match &got[1] {
            Err(TryTaskError::Task(e)) => assert!(e.is_cancelled() && e.seq() == 1, "{e:?}"),
            other => panic!("position 1: {other:?}"),
        }
        for (pos, r) in got.iter().enumerate().filter(|&(pos, _)| pos != 1) {
            assert_eq!(*r.as_ref().unwrap(), pos as u64);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Timeouts: zero, at the head, behind the head, the last one
// ---------------------------------------------------------------------------------------

/// `task_timeout(Duration::ZERO)`: a job that is done on its first poll did not run
/// *longer* than zero and keeps its value; every job that has to wait times out in its
/// own position, reporting a zero limit.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_zero_task_timeout_fails_every_job_that_waits_in_place() {
    let config = SpawnConfig::new(2).task_timeout(Duration::ZERO);
    let out: Vec<_> = within(
        stream::iter(0..6u64)
            .spawn_ordered_with(config, |i| async move {
                if i % 2 == 1 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                i
            })
            .collect(),
    )
    .await;
    for (pos, result) in out.iter().enumerate() {
        if pos % 2 == 0 {
            assert_eq!(*result.as_ref().unwrap(), pos as u64);
        } else {
            let err = result.as_ref().unwrap_err();
            assert!(err.is_timeout(), "position {pos}: {err:?}");
            assert_eq!(err.seq(), pos as u64);
        }
    }
    assert_eq!(out.len(), 6);
}

/// The head hangs forever while an endless input keeps the window full: nothing starts
/// past `next_seq + window`, at most `limit` run, then the head's timeout comes in
/// position 0 and the stream flows; the last task timing out comes last, then the end.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_head_timing_out_while_the_window_is_full_then_the_last_one() {
    let (limit, window) = (3, 6);
    let config = SpawnConfig::new(limit)
        .window(window)
        .task_timeout(Duration::from_secs(5));
    let started = Arc::new(AtomicU64::new(0));
    let gauge = Gauge::default();
    let (s, g) = (Arc::clone(&started), gauge.clone());
    let total = 20u64;
    let mut results = stream::iter(0..total).spawn_ordered_with(config, move |i| {
        s.fetch_add(1, SeqCst);
        let g = g.clone();
        async move {
            g.enter();
            struct Exit(Gauge);
            impl Drop for Exit {
                fn drop(&mut self) {
                    self.0.exit();
                }
            }
            let _exit = Exit(g);
            if i == 0 || i == total - 1 {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
            i
        }
    });
    // The head hangs: the window fills and stays full.
    within(async {
        for _ in 0..50 {
            assert!(futures::poll!(results.next()).is_pending());
            assert!(started.load(SeqCst) <= window as u64);
            assert!(results.in_flight() <= limit);
            assert!(results.buffered_len() < window);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(started.load(SeqCst), window as u64);
    assert_eq!(results.buffered_len(), window - 1);
    let first = within(results.next()).await.unwrap().unwrap_err();
    assert!(first.is_timeout() && first.seq() == 0, "{first:?}");
    let mut rest = Vec::new();
    while let Some(r) = within(results.next()).await {
        rest.push(r);
        let yielded = results.next_seq();
        assert!(started.load(SeqCst) <= yielded + window as u64);
    }
    let last = rest.pop().unwrap().unwrap_err();
    assert!(last.is_timeout() && last.seq() == total - 1, "{last:?}");
    let rest: Vec<u64> = rest.into_iter().map(Result::unwrap).collect();
    assert_eq!(rest, (1..total - 1).collect::<Vec<_>>());
    assert!(gauge.max() <= limit);
    assert!(results.peak_buffered() <= window);
    assert!(results.is_terminated());
}

/// `task_timeout(Duration::MAX)` on `spawn_ordered_with`: never fires, never overflows.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_duration_max_task_timeout_never_fires_on_spawn_ordered() {
    let config = SpawnConfig::new(2).task_timeout(Duration::MAX);
    let out = tokio::time::timeout(
        Duration::from_secs(10 * 3_600),
        stream::iter(0..3u64)
            .spawn_ordered_with(config, |i| async move {
                tokio::time::sleep(Duration::from_secs(3_600 * (3 - i))).await;
                i
            })
            .collect::<Vec<_>>(),
    )
    .await
    .expect("hangs");
    assert_eq!(ok_values(out), [0, 1, 2]);
}

// ---------------------------------------------------------------------------------------
// Cancellation at every await
// ---------------------------------------------------------------------------------------

/// `next()` futures dropped mid-way by `select!`, over and over, while tasks finish in
/// random order and some panic or time out: every position comes exactly once, in order.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn next_futures_dropped_by_select_lose_nothing() {
    quiet_injected_panics();
    let config = SpawnConfig::new(4)
        .window(8)
        .task_timeout(Duration::from_millis(50));
    let mut results = stream::iter(0..60u64).spawn_ordered_with(config, |i| async move {
        let ms = 2 * ((i * 37) % 50) + 1; // odd: never ties with the 50 ms timeout
        tokio::time::sleep(Duration::from_millis(ms)).await;
        if i % 11 == 3 {
            panic!("injected: task {i}");
        }
        i
    });
    let mut got = Vec::new();
    let mut cancelled_nexts = 0;
    within(async {
        loop {
            tokio::select! {
                r = results.next() => match r {
                    Some(r) => got.push(r),
                    None => break,
                },
                () = tokio::time::sleep(Duration::from_millis(3)) => cancelled_nexts += 1,
            }
        }
    })
    .await;
    assert!(cancelled_nexts > 0, "no next() was ever dropped");
    assert_eq!(got.len(), 60);
    for (pos, r) in got.into_iter().enumerate() {
        let pos = pos as u64;
        match r {
            Ok(v) => assert_eq!(v, pos),
            Err(e) => {
                assert_eq!(e.seq(), pos);
                let timed_out = 2 * ((pos * 37) % 50) + 1 > 50;
                assert!(
                    (timed_out && e.is_timeout()) || (!timed_out && e.is_panic()),
                    "{pos}: {e:?}"
                );
            }
        }
    }
}

/// `OrderedJoinSet::shutdown` dropped mid-way (a blocking closure keeps it waiting): the
/// tasks were aborted all the same, results already in are kept, and the set holds
/// everything not taken out.
#[test]
fn join_set_shutdown_dropped_mid_way_keeps_what_was_not_taken() {
    let runtime = current_thread(false);
    let (release, gate) = std_mpsc::channel::<()>();
    let dropped = Counter::default();
    let out = runtime.block_on(within(async {
        let mut set = OrderedJoinSet::new();
        let started = Counter::default();
        let s = started.clone();
        set.spawn_blocking(move || {
            s.incr();
            gate.recv().unwrap();
            "blocking"
        });
        let guard = DropGuard(dropped.clone());
        set.spawn(async move {
            std::future::pending::<()>().await;
            drop(guard);
            "never"
        });
        set.spawn(async { "done early" });
        // The blocking closure is running (an abort cannot stop it); the ready task is done.
        eventually("the blocking closure started", || started.get() == 1).await;
        let cut = tokio::time::timeout(Duration::from_millis(20), set.shutdown()).await;
        assert!(
            cut.is_err(),
            "shutdown waits for the running blocking closure"
        );
        eventually("the pending task was aborted", || dropped.get() == 1).await;
        assert_eq!(set.len(), 3, "nothing was taken out");
        release.send(()).unwrap();
        set.join_all().await
    }));
    assert_eq!(*out[0].as_ref().unwrap(), "blocking");
    assert!(out[1].as_ref().unwrap_err().is_cancelled());
    assert_eq!(
        *out[2].as_ref().unwrap(),
        "done early",
        "a result in is kept"
    );
}

// ---------------------------------------------------------------------------------------
// No limit, endless ready input
// ---------------------------------------------------------------------------------------

/// An endless, always-ready input with `limit == window == usize::MAX`: every input may
/// start at once, so one poll used to spawn tasks forever and never return, not even the
/// first result (which was long done). The stream must hand results out as they come.
#[test]
fn an_endless_ready_input_without_limits_still_yields_results() {
    let got = on_a_thread_within_10s(|| {
        current_thread(false).block_on(async {
            let config = SpawnConfig::new(usize::MAX).window(usize::MAX);
            stream::iter(0u64..)
                .spawn_ordered_with(config, |i| async move { i })
                .take(3)
                .map(Result::unwrap)
                .collect::<Vec<_>>()
                .await
        })
    });
    assert_eq!(got, [0, 1, 2]);
}

/// The same for `try_spawn_ordered_with`: the job's `Err` comes in its position.
#[test]
fn an_endless_ready_input_without_limits_still_yields_fallible_results() {
    let got = on_a_thread_within_10s(|| {
        current_thread(false).block_on(async {
            let config = SpawnConfig::new(usize::MAX).window(usize::MAX);
            stream::iter(0u64..)
                .try_spawn_ordered_with(config, |i| async move {
                    if i < 3 {
                        Ok(i)
                    } else {
                        Err(i)
                    }
                })
                .take(4)
                .collect::<Vec<_>>()
                .await
        })
    });
    assert_eq!(got.len(), 4);
    let err = got[3].as_ref().unwrap_err();
    assert_eq!(err.seq(), 3);
    assert!(got[..3].iter().all(Result::is_ok));
}

/// The same for blocking closures.
#[test]
fn an_endless_ready_input_without_limits_still_yields_blocking_results() {
    let got = on_a_thread_within_10s(|| {
        current_thread(false).block_on(async {
            let config = BlockingConfig::new(usize::MAX).window(usize::MAX);
            stream::iter(0u64..)
                .spawn_ordered_blocking_with(config, |i| i)
                .take(3)
                .map(Result::unwrap)
                .collect::<Vec<_>>()
                .await
        })
    });
    assert_eq!(got, [0, 1, 2]);
}

// ---------------------------------------------------------------------------------------
// Polled outside a runtime
// ---------------------------------------------------------------------------------------

/// Documented panic (narrowed): polling outside a runtime panics when the stream has an
/// input to start, before taking it; nothing is lost and the stream goes on in a
/// runtime. With nothing left to start, results already spawned are handed out there.
#[test]
fn outside_a_runtime_it_panics_only_when_it_has_work_to_start() {
    let runtime = current_thread(false);
    // Limit 1: the input is never read ahead, so it is not known to have ended.
    let mut results = stream::iter(0..3u64).spawn_ordered(1, |i| async move { i });
    runtime.block_on(async {
        assert_eq!(within(results.next()).await.unwrap().unwrap(), 0); // 1 is spawned
        settle().await; // and done: its slot is free for input 2
    });
    assert_eq!(results.next_seq(), 1);
    let outside = std::panic::catch_unwind(AssertUnwindSafe(|| {
        futures::executor::block_on(results.next())
    }));
    assert!(
        outside.is_err(),
        "no runtime, an input to start: must panic"
    );
    assert_eq!(results.next_seq(), 1, "the panic took nothing");
    let rest = runtime.block_on(within(results.collect::<Vec<_>>()));
    assert_eq!(ok_values(rest), [1, 2]);

    // Everything spawned and the input's end seen: nothing more to start.
    let mut results = stream::iter(0..2u64).spawn_ordered(4, |i| async move { i });
    runtime.block_on(async {
        assert!(futures::poll!(results.next()).is_pending());
        settle().await;
    });
    let drained = futures::executor::block_on(results.collect::<Vec<_>>());
    assert_eq!(ok_values(drained), [0, 1]);
}

// ---------------------------------------------------------------------------------------
// Reorder: zero head timeout, polls outside a runtime, into_inner
// ---------------------------------------------------------------------------------------

fn send<T>(tx: &UnboundedSender<(u64, T)>, seq: u64, value: T) {
    tx.unbounded_send((seq, value)).unwrap();
}

/// `head_timeout(Duration::ZERO)`: a gap with nothing more to come is skipped on the
/// very poll that finds it (no time passes); the head, turning up later, is `Late`. A
/// head that has already arrived behind the held value is still found, not skipped.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_zero_head_timeout_skips_a_pending_gap_at_once_but_finds_an_arrived_head() {
    let start = tokio::time::Instant::now();
    let (tx, rx) = unbounded();
    let mut s = rx.ordered_with(ReorderConfig::new().head_timeout(Duration::ZERO));
    send(&tx, 1, 'b');
    assert_eq!(
        futures::poll!(s.next()),
        std::task::Poll::Ready(Some(Err(ReorderError::Missing(0..1))))
    );
    assert_eq!(
        futures::poll!(s.next()),
        std::task::Poll::Ready(Some(Ok('b')))
    );
    send(&tx, 0, 'a');
    assert_eq!(
        within(s.next()).await,
        Some(Err(ReorderError::Late { seq: 0, value: 'a' }))
    );
    assert_eq!(tokio::time::Instant::now(), start, "no time had to pass");

    let ready = stream::iter([(1u64, 'b'), (0, 'a'), (3, 'd'), (2, 'c')]);
    let out: Vec<_> = within(
        ready
            .ordered_with(ReorderConfig::new().head_timeout(Duration::ZERO))
            .collect(),
    )
    .await;
    assert_eq!(out, [Ok('a'), Ok('b'), Ok('c'), Ok('d')]);
}

/// Documented panic: a `Reorder` with a head timeout must be polled inside a runtime
/// with time enabled. Polled outside one, or on one without time, it panics; caught,
/// nothing held is lost and the stream works once polled where it should be.
#[test]
fn a_head_timeout_polled_without_a_timer_panics_and_loses_nothing() {
    let (tx, rx) = unbounded();
    let mut s = rx.ordered_with(ReorderConfig::new().head_timeout(Duration::from_secs(3_600)));
    send(&tx, 1, 'b');
    let outside =
        std::panic::catch_unwind(AssertUnwindSafe(|| futures::executor::block_on(s.next())));
    assert!(outside.is_err(), "no runtime: must panic");
    assert_eq!((s.buffered_len(), s.next_seq()), (1, 0));
    let no_time = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let without_timer = std::panic::catch_unwind(AssertUnwindSafe(|| {
        no_time.block_on(async { futures::poll!(s.next()) })
    }));
    assert!(without_timer.is_err(), "no timer: must panic");
    assert_eq!((s.buffered_len(), s.next_seq()), (1, 0));
    send(&tx, 0, 'a');
    drop(tx);
    let out: Vec<_> = current_thread(true).block_on(within(s.collect::<Vec<_>>()));
    assert_eq!(out, [Ok('a'), Ok('b')]);
}

/// `into_inner` drops the held values (every one of them, once) and gives back the
/// input where the adapter left it.
#[tokio::test(flavor = "current_thread")]
async fn into_inner_drops_held_values_and_returns_the_rest_of_the_input() {
    let dropped = Counter::default();
    let d = dropped.clone();
    let input = stream::iter([3u64, 1, 2, 5, 0, 4]).map(move |seq| (seq, DropGuard(d.clone())));
    let mut s = input.ordered_with(ReorderConfig::new().window(8));
    // Pull until seq 0 arrives: 3, 1, 2, 5 are held; 0, 1, 2, 3 come out.
    for expected in 0..4u64 {
        let item = within(s.next()).await.unwrap();
        assert!(item.is_ok(), "{expected}");
    }
    assert_eq!(
        dropped.get(),
        4,
        "the yielded guards were dropped by this loop"
    );
    assert_eq!(s.buffered_len(), 1); // 5
    let rest: Vec<u64> = s.into_inner().map(|(seq, _)| seq).collect().await;
    assert_eq!(dropped.get(), 6, "the held value was dropped, and the rest");
    assert_eq!(rest, [4]);
}

/// The same for `spawn_ordered_by_key_with` (in total order and per key) and
/// `spawn_unordered_with`, which start work in their own loops: one poll starts at most
/// so many tasks, then hands out what is ready or comes back after other tasks have run.
#[test]
fn an_endless_ready_input_without_limits_still_yields_by_key_and_unordered() {
    for total_order in [false, true] {
        let got = on_a_thread_within_10s(move || {
            current_thread(false).block_on(async move {
                let config = reorder::KeyedConfig::new(usize::MAX)
                    .window(usize::MAX)
                    .total_order(total_order);
                stream::iter(0u64..)
                    .spawn_ordered_by_key_with(config, |i| i % 3, |i| async move { i })
                    .take(3)
                    .map(Result::unwrap)
                    .collect::<Vec<_>>()
                    .await
            })
        });
        assert_eq!(got, [0, 1, 2], "total_order({total_order})");
    }
    let got = on_a_thread_within_10s(|| {
        current_thread(false).block_on(async {
            let config = SpawnConfig::new(usize::MAX).window(usize::MAX);
            let mut seen = stream::iter(0u64..)
                .spawn_unordered_with(config, |i| async move { i })
                .take(3)
                .map(|(seq, result)| (seq, result.unwrap()))
                .collect::<Vec<_>>()
                .await;
            seen.sort_unstable();
            seen
        })
    });
    // Completion order on one thread is spawn order, but only the set is promised.
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|&(seq, value)| seq == value));
}
