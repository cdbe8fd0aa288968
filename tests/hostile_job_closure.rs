//! Hostile tests for a job closure `f` that panics inside the consumer's `poll_next`
//! (`spawn_ordered`, `spawn_ordered_with`, `try_spawn_ordered`, `spawn_unordered`,
//! `spawn_ordered_by_key`): the input keeps its position as a cancellation, on the first
//! input, the last, every one, twice in a row, with the limit or window exactly full,
//! under zero and `Duration::MAX` timeouts, on a multi-thread runtime, with the stream
//! dropped right after the panic; the introspection stays truthful and the watermark of
//! `spawn_unordered` never passes the position until it is retried or given up on.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::stream::{self, FusedStream, Stream, StreamExt};
use futures::FutureExt;
use reorder::{KeyedConfig, OrderedExt, SpawnConfig, TaskError, TryTaskError, WatermarkError};

mod common;
use common::{eventually, quiet_injected_panics, settle, within, Counter, DropGuard};

/// One poll of `s` through `next()`, a panic out of it caught: `Err(())` if it panicked.
async fn next_catching<S: Stream + Unpin>(s: &mut S) -> Result<Option<S::Item>, ()> {
    within(AssertUnwindSafe(s.next()).catch_unwind())
        .await
        .map_err(|_| ())
}

/// Drains `s`, catching the panics out of its polls. After every step it checks that
/// `size_hint` brackets what is still to come, and at the end that the stream is
/// terminated. Returns the items and the number of panics.
async fn drain<S: Stream + Unpin + FusedStream>(
    s: &mut S,
    most_panics: usize,
) -> (Vec<S::Item>, usize) {
    let (mut got, mut panics) = (Vec::new(), 0);
    // (items yielded so far, size_hint then) after every step.
    let mut hints = vec![(0, s.size_hint())];
    loop {
        match next_catching(s).await {
            Err(()) => {
                panics += 1;
                assert!(panics <= most_panics, "more panics than panicking inputs");
            }
            Ok(Some(item)) => got.push(item),
            Ok(None) => break,
        }
        assert!(!s.is_terminated() || s.size_hint() == (0, Some(0)));
        hints.push((got.len(), s.size_hint()));
    }
    assert!(s.is_terminated(), "ended, so terminated");
    assert_eq!(s.size_hint(), (0, Some(0)));
    for (yielded, (lower, upper)) in hints {
        let left = got.len() - yielded;
        assert!(
            lower <= left,
            "size_hint lower {lower} > {left} still to come"
        );
        assert!(
            upper.is_none_or(|u| u >= left),
            "size_hint upper {upper:?} < {left}"
        );
    }
    (got, panics)
}

/// The panic patterns over `n` inputs: first, last, every one, two in a row at the
/// start, in the middle and at the end, every other one.
fn patterns(n: u64) -> Vec<BTreeSet<u64>> {
    vec![
        [0].into(),
        [n - 1].into(),
        (0..n).collect(),
        [0, 1].into(),
        [n / 2, n / 2 + 1].into(),
        [n - 2, n - 1].into(),
        (0..n).filter(|i| i % 2 == 1).collect(),
    ]
}

/// Checks an ordered result list: position `i` is a cancellation tagged `i` where the
/// job closure panicked, else `Ok(i)`.
fn check_ordered(got: &[Result<u64, TaskError>], panicking: &BTreeSet<u64>, what: &str) {
    assert_eq!(got.len() as u64, 8, "{what}: every input has its position");
    for (pos, r) in got.iter().enumerate() {
        let pos = pos as u64;
        match r {
            Ok(v) => {
                assert!(
                    !panicking.contains(&pos),
                    "{what}: {pos} should have failed"
                );
                assert_eq!(*v, pos, "{what}: a result moved");
            }
            Err(e) => {
                assert!(panicking.contains(&pos), "{what}: {pos} failed: {e:?}");
                assert!(e.is_cancelled(), "{what}: cancelled, not {e:?}");
                assert_eq!(e.seq(), pos, "{what}: tagged with its position");
            }
        }
    }
}

/// A job: sleeps so that later inputs often finish first (results are held), then
/// returns its input.
async fn job(i: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis((8 - i) % 3)).await;
    i
}

// ---------------------------------------------------------------------------------------
// spawn_ordered / spawn_ordered_with / try_spawn_ordered
// ---------------------------------------------------------------------------------------

/// Every panic pattern, under limits and windows that are exactly full when the panic
/// comes (limit 1 window 1, limit 2 window 2, limit 3 window 8), with no timeout, a zero
/// and a `Duration::MAX` timeout: each panicked input is a cancellation in its own
/// position, the rest keep theirs, and the bookkeeping is back to zero at the end.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn spawn_ordered_keeps_every_panicked_position_under_every_pattern_and_config() {
    quiet_injected_panics();
    let n = 8u64;
    let configs = [(1, 1), (2, 2), (3, 8)];
    let timeouts = [None, Some(Duration::ZERO), Some(Duration::MAX)];
    for panicking in patterns(n) {
        for (limit, window) in configs {
            for timeout in timeouts {
                let what = format!(
                    "panics {panicking:?}, limit {limit}, window {window}, timeout {timeout:?}"
                );
                let mut config = SpawnConfig::new(limit).window(window);
                if let Some(t) = timeout {
                    config = config.task_timeout(t);
                }
                let p = panicking.clone();
                let mut s = stream::iter(0..n).spawn_ordered_with(config, move |i| {
                    assert!(!p.contains(&i), "injected: job closure {i}");
                    // Under a zero timeout a job that sleeps would time out: keep it ready.
                    let zero = timeout == Some(Duration::ZERO);
                    async move {
                        if zero {
                            i
                        } else {
                            job(i).await
                        }
                    }
                });
                let (got, panics) = drain(&mut s, panicking.len()).await;
                assert_eq!(
                    panics,
                    panicking.len(),
                    "{what}: one panic per panicking input"
                );
                check_ordered(&got, &panicking, &what);
                assert_eq!(s.next_seq(), n, "{what}");
                assert_eq!((s.in_flight(), s.buffered_len()), (0, 0), "{what}");
                assert!(
                    s.peak_buffered() <= window,
                    "{what}: peak {}",
                    s.peak_buffered()
                );
            }
        }
    }
}

/// Right after the panic is caught, before polling on: `next_seq` has not moved, the
/// panicked input counts as started (in flight, never more than `limit`), `size_hint`
/// counts its position, and the stream is not terminated even though the input is
/// exhausted (the panic came on the last input).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn spawn_ordered_introspection_right_after_a_caught_panic_on_the_last_input() {
    quiet_injected_panics();
    let config = SpawnConfig::new(3).window(3);
    let mut s = stream::iter(0..3u64).spawn_ordered_with(config, |i| {
        assert!(i != 2, "injected: job closure {i}");
        async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            i
        }
    });
    assert_eq!(next_catching(&mut s).await.map(|_| ()), Err(()));
    assert_eq!(s.next_seq(), 0);
    assert_eq!(
        s.in_flight(),
        3,
        "0 and 1 run, 2 is a cancellation not yet seen"
    );
    assert_eq!(s.buffered_len(), 0);
    assert_eq!(s.size_hint(), (3, Some(3)), "three positions still to come");
    assert!(!s.is_terminated());
    settle().await;
    // The cancellation has landed; still three to come, in order.
    let rest: Vec<_> = within(s.by_ref().collect::<Vec<_>>()).await;
    assert_eq!(rest.len(), 3);
    assert_eq!(*rest[0].as_ref().unwrap(), 0);
    assert_eq!(*rest[1].as_ref().unwrap(), 1);
    let e = rest[2].as_ref().unwrap_err();
    assert!(e.is_cancelled() && e.seq() == 2, "{e:?}");
    assert!(s.is_terminated());
    assert!(s.peak_buffered() <= 3);
}

/// `try_spawn_ordered` with two panics in a row and a job that returns `Err` right after
/// them: the `Failed` error carries its own position (the seq the stream read before
/// the poll), not one shifted by the panics.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn try_spawn_ordered_failed_positions_do_not_shift_after_panics() {
    quiet_injected_panics();
    let mut s = stream::iter(0..6u64).try_spawn_ordered(2, |i| {
        assert!(i != 1 && i != 2, "injected: job closure {i}");
        async move {
            tokio::time::sleep(Duration::from_millis(6 - i)).await;
            if i == 3 {
                Err(format!("job {i}"))
            } else {
                Ok(i)
            }
        }
    });
    let (got, panics) = drain(&mut s, 2).await;
    assert_eq!(panics, 2);
    assert_eq!(got.len(), 6);
    for (pos, r) in got.iter().enumerate() {
        let pos = pos as u64;
        match (pos, r) {
            (1 | 2, Err(TryTaskError::Task(e))) => assert!(e.is_cancelled() && e.seq() == pos),
            (3, Err(TryTaskError::Failed { seq, error })) => {
                assert_eq!((*seq, error.as_str()), (3, "job 3"));
            }
            (_, Ok(v)) => assert_eq!(*v, pos),
            other => panic!("position {pos}: {other:?}"),
        }
    }
    assert_eq!((s.next_seq(), s.in_flight(), s.buffered_len()), (6, 0, 0));
}

// ---------------------------------------------------------------------------------------
// Drops right after the panic: every task aborted, nothing leaks or hangs
// ---------------------------------------------------------------------------------------

/// A job that never ends, holding a guard that counts its drop.
fn forever(dropped: &Counter) -> impl std::future::Future<Output = u64> + Send + 'static {
    let guard = DropGuard(dropped.clone());
    async move {
        let _guard = guard;
        std::future::pending::<u64>().await
    }
}

async fn no_task_left() {
    let handle = tokio::runtime::Handle::current();
    eventually("every spawned task is gone", || {
        handle.metrics().num_alive_tasks() == 0
    })
    .await;
}

/// The consumer catches the panic and drops the stream at once: every task it spawned,
/// the stand-in for the panicked input included, is gone from the runtime, and every
/// job's future is dropped. On a multi-thread runtime, where the abort of the stand-in
/// races the workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_the_stream_right_after_a_caught_panic_leaves_no_task() {
    quiet_injected_panics();
    for round in 0..20u64 {
        let at = round % 4; // the panicking input: first, middle, last of those started
                            // spawn_ordered
        let dropped = Counter::default();
        let d = dropped.clone();
        let mut s =
            stream::iter(0..10u64).spawn_ordered_with(SpawnConfig::new(4).window(4), move |i| {
                assert!(i != at, "injected: job closure {i}");
                forever(&d)
            });
        assert!(next_catching(&mut s).await.is_err());
        let started = s.in_flight();
        assert_eq!(
            started as u64,
            at + 1,
            "inputs up to the panicked one started"
        );
        drop(s);
        within(no_task_left()).await;
        assert_eq!(dropped.get() as u64, at, "every job's future dropped");

        // spawn_unordered
        let dropped = Counter::default();
        let d = dropped.clone();
        let mut s =
            stream::iter(0..10u64).spawn_unordered_with(SpawnConfig::new(4).window(4), move |i| {
                assert!(i != at, "injected: job closure {i}");
                forever(&d)
            });
        assert!(next_catching(&mut s).await.is_err());
        assert_eq!(s.in_flight() as u64, at + 1);
        drop(s);
        within(no_task_left()).await;
        assert_eq!(dropped.get() as u64, at);

        // spawn_ordered_by_key, two keys
        let dropped = Counter::default();
        let d = dropped.clone();
        let config = KeyedConfig::new(4).total_order(round % 2 == 0);
        let mut s = stream::iter(0..10u64).spawn_ordered_by_key_with(
            config,
            |i| i % 2,
            move |i| {
                assert!(i != at, "injected: job closure {i}");
                forever(&d)
            },
        );
        assert!(next_catching(&mut s).await.is_err());
        drop(s);
        within(no_task_left()).await;
        assert_eq!(dropped.get() as u64, at);
    }
}

// ---------------------------------------------------------------------------------------
// Multi-thread: the abort of the stand-in racing other workers
// ---------------------------------------------------------------------------------------

/// Many rounds on four workers, jobs that yield a few times, timeouts of zero and
/// `Duration::MAX` for `spawn_unordered` (the ordered case under zero is in
/// `hostile_spawn`): every panicked position comes back cancelled, exactly once, with
/// its own seq; no other position is lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn panicked_positions_survive_the_abort_racing_other_workers() {
    quiet_injected_panics();
    let n = 40u64;
    for round in 0..30u64 {
        let panics_at = move |i: u64| (i + round) % 7 == 0 || i == n - 1;
        let expected: BTreeSet<u64> = (0..n).filter(|&i| panics_at(i)).collect();
        let work = |i: u64| async move {
            for _ in 0..(i % 3) {
                tokio::task::yield_now().await;
            }
            i
        };

        let timeout = [Duration::ZERO, Duration::MAX][round as usize % 2];
        // Under a zero timeout a job that yields times out: those are timeouts, not
        // cancellations, and tagged with their own seq too.
        let config = SpawnConfig::new(4).window(6).task_timeout(timeout);
        let mut s = stream::iter(0..n).spawn_unordered_with(config, move |i| {
            assert!(!panics_at(i), "injected: job closure {i}");
            work(i)
        });
        let (got, panics) = drain(&mut s, expected.len()).await;
        assert_eq!(panics, expected.len());
        let mut seen = BTreeSet::new();
        let mut cancelled = BTreeSet::new();
        for (seq, r) in got {
            assert!(seen.insert(seq), "round {round}: {seq} twice");
            match r {
                Ok(v) => assert_eq!(v, seq),
                Err(e) if e.is_cancelled() => {
                    assert_eq!(e.seq(), seq);
                    cancelled.insert(seq);
                }
                Err(e) => {
                    assert!(
                        e.is_timeout() && timeout.is_zero() && e.seq() == seq,
                        "{e:?}"
                    );
                }
            }
        }
        assert_eq!(seen.len() as u64, n);
        assert_eq!(
            cancelled, expected,
            "round {round}: the cancelled are the panicked"
        );
        assert!(s.watermark() <= *expected.first().unwrap());

        let mut s = stream::iter(0..n).spawn_ordered(3, move |i| {
            assert!(!panics_at(i), "injected: job closure {i}");
            work(i)
        });
        let (got, panics) = drain(&mut s, expected.len()).await;
        assert_eq!(panics, expected.len());
        assert_eq!(got.len() as u64, n);
        for (pos, r) in got.iter().enumerate() {
            let pos = pos as u64;
            match r {
                Ok(v) => assert_eq!(*v, pos, "round {round}"),
                Err(e) => {
                    assert!(
                        expected.contains(&pos) && e.is_cancelled() && e.seq() == pos,
                        "{e:?}"
                    );
                }
            }
        }
        assert_eq!((s.in_flight(), s.buffered_len(), s.next_seq()), (0, 0, n));
    }
}

// ---------------------------------------------------------------------------------------
// spawn_unordered: the watermark, retry and give_up on the panicked position
// ---------------------------------------------------------------------------------------

/// Before the stand-in is yielded, `retry` and `give_up` on its position say it is still
/// running and change nothing; after, the watermark stays below it however far the
/// others get, until a retry's success or a give-up lets it pass.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn spawn_unordered_retry_and_give_up_on_the_panicked_position() {
    quiet_injected_panics();
    for resolve_by_retry in [false, true] {
        // Limit 2, window 2: the window is exactly full when input 1's closure panics.
        let config = SpawnConfig::new(2).window(2);
        let mut s = stream::iter(0..6u64).spawn_unordered_with(config, |i| {
            assert!(i != 1, "injected: job closure {i}");
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                i
            }
        });
        assert!(next_catching(&mut s).await.is_err());
        assert_eq!(s.next_seq(), 2, "input 1 kept its position");
        assert_eq!(s.in_flight(), 2);
        assert_eq!(s.retry(1, async { 100 }), Err(WatermarkError::NotFailed(1)));
        assert_eq!(s.give_up(1), Err(WatermarkError::NotFailed(1)));
        assert_eq!(s.in_flight(), 2, "a refused retry spawns nothing");
        assert_eq!(s.failed().count(), 0);

        let mut got = Vec::new();
        loop {
            match next_catching(&mut s).await.expect("no more panics") {
                Some(item) => got.push(item),
                None => break,
            }
            assert!(
                s.watermark() <= 1,
                "passed the panicked position: {}",
                s.watermark()
            );
        }
        let failed: Vec<_> = got
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(seq, _)| *seq)
            .collect();
        assert_eq!(failed, [1]);
        let e = got
            .iter()
            .find(|(seq, _)| *seq == 1)
            .unwrap()
            .1
            .as_ref()
            .unwrap_err();
        assert!(e.is_cancelled() && e.seq() == 1, "{e:?}");
        assert_eq!(got.len(), 6);
        assert_eq!((s.watermark(), s.next_seq()), (1, 6));
        assert_eq!(s.failed().collect::<Vec<_>>(), [1]);
        assert!(s.is_terminated());

        if resolve_by_retry {
            s.retry(1, async { 100 }).unwrap();
            assert!(!s.is_terminated(), "the retry runs");
            assert_eq!(s.watermark(), 1, "not passed before the retry succeeds");
            assert_eq!(
                within(s.next()).await.map(|(seq, r)| (seq, r.unwrap())),
                Some((1, 100))
            );
        } else {
            s.give_up(1).unwrap();
        }
        assert_eq!(s.watermark(), 6, "resolved: every position is done");
        assert_eq!(s.failed().count(), 0);
        assert!(within(s.next()).await.is_none());
        assert!(s.give_up(1).is_err(), "already passed: refused");
    }
}

/// The closure panics on every input, limit 1 window 1: each position is a failure the
/// watermark stops at (it never moves off 0), new work still starts behind the
/// unresolved failures, and giving up on all of them in any order lets it reach the end.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn spawn_unordered_every_input_panicking_under_limit_and_window_one() {
    quiet_injected_panics();
    let n = 5u64;
    let mut s = stream::iter(0..n).spawn_unordered_with(SpawnConfig::new(1).window(1), |i| {
        assert!(i == u64::MAX, "injected: job closure {i}");
        async move { i }
    });
    let (got, panics) = drain(&mut s, n as usize).await;
    assert_eq!(panics, n as usize);
    let seqs: Vec<u64> = got
        .iter()
        .map(|(seq, r)| {
            let e = r.as_ref().unwrap_err();
            assert!(e.is_cancelled() && e.seq() == *seq, "{e:?}");
            *seq
        })
        .collect();
    assert_eq!(seqs, (0..n).collect::<Vec<_>>());
    assert_eq!(s.watermark(), 0);
    assert_eq!(s.failed().collect::<Vec<_>>(), (0..n).collect::<Vec<_>>());
    for seq in [3, 0, 4, 1] {
        s.give_up(seq).unwrap();
    }
    assert_eq!(s.watermark(), 2, "held by 2 alone");
    s.give_up(2).unwrap();
    assert_eq!(s.watermark(), n);
}

// ---------------------------------------------------------------------------------------
// spawn_ordered_by_key
// ---------------------------------------------------------------------------------------

/// The keyed stream, for every panic pattern, per key and in total order, with a per-key
/// limit of 1 (later inputs of a key wait, and are launched from inside the poll that
/// takes in a result): every panicked input is a cancellation tagged with its input
/// position, every other result comes in its key's order, and the bookkeeping is back
/// to zero.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn spawn_ordered_by_key_keeps_every_panicked_position_under_every_pattern() {
    quiet_injected_panics();
    let n = 8u64;
    for panicking in patterns(n) {
        for total_order in [false, true] {
            for per_key_limit in [1, 3] {
                let what =
                    format!("panics {panicking:?}, total {total_order}, per key {per_key_limit}");
                let config = KeyedConfig::new(3)
                    .per_key_limit(per_key_limit)
                    .total_order(total_order);
                let p = panicking.clone();
                let mut s = stream::iter(0..n).spawn_ordered_by_key_with(
                    config,
                    |i| i % 2,
                    move |i| {
                        assert!(!p.contains(&i), "injected: job closure {i}");
                        job(i)
                    },
                );
                let (got, panics) = drain(&mut s, panicking.len()).await;
                assert_eq!(panics, panicking.len(), "{what}");
                assert_eq!(got.len() as u64, n, "{what}: every input has its position");
                let mut seqs = Vec::new();
                for r in &got {
                    match r {
                        Ok(v) => seqs.push(*v),
                        Err(e) => {
                            assert!(e.is_cancelled(), "{what}: {e:?}");
                            assert!(panicking.contains(&e.seq()), "{what}: {e:?}");
                            seqs.push(e.seq());
                        }
                    }
                }
                if total_order {
                    assert_eq!(seqs, (0..n).collect::<Vec<_>>(), "{what}");
                } else {
                    for key in 0..2 {
                        let of_key: Vec<u64> =
                            seqs.iter().copied().filter(|s| s % 2 == key).collect();
                        let want: Vec<u64> = (0..n).filter(|s| s % 2 == key).collect();
                        assert_eq!(of_key, want, "{what}: key {key} in order");
                    }
                }
                assert_eq!(
                    (s.in_flight(), s.buffered_len(), s.active_keys()),
                    (0, 0, 0),
                    "{what}"
                );
                assert!(s.peak_buffered() <= 12, "{what}");
            }
        }
    }
}

/// The key closure runs inside `poll_next` too. If it panics and the consumer polls on,
/// that input must keep its position, like one whose job closure panicked: a cancellation
/// tagged with its input position, and every later `seq` still the input's position in
/// the whole input stream. (It took none: the next input's task error said seq 2 for
/// input 3.) Per key and in total order (where a lost position must not hang the rest),
/// for the keyed blocking stream too.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn spawn_ordered_by_key_a_panicking_key_closure_keeps_its_position() {
    quiet_injected_panics();
    for total_order in [false, true] {
        for blocking in [false, true] {
            let what = format!("total {total_order}, blocking {blocking}");
            let config = KeyedConfig::new(2).total_order(total_order);
            let key = |i: &u64| {
                assert!(*i != 1 && *i != 2, "injected: key closure {i}");
                i % 2
            };
            // Input 3's task panics: its error must say seq 3.
            let work = |i: u64| {
                assert!(i != 3, "injected: task {i}");
                i
            };
            let mut s: std::pin::Pin<Box<dyn FusedStreamOf>> = if blocking {
                Box::pin(stream::iter(0..6u64).spawn_ordered_by_key_blocking(config, key, work))
            } else {
                Box::pin(stream::iter(0..6u64).spawn_ordered_by_key_with(
                    config,
                    key,
                    move |i| async move { work(i) },
                ))
            };
            let (got, panics) = drain(&mut s, 2).await;
            assert_eq!(panics, 2, "{what}");
            let mut seqs: Vec<(u64, &str)> = got
                .iter()
                .map(|r| match r {
                    Ok(v) => (*v, "ok"),
                    Err(e) if e.is_cancelled() => (e.seq(), "cancelled"),
                    Err(e) if e.is_panic() => (e.seq(), "panicked"),
                    Err(e) => panic!("{what}: {e:?}"),
                })
                .collect();
            if total_order {
                assert_eq!(
                    seqs.iter().map(|s| s.0).collect::<Vec<_>>(),
                    [0, 1, 2, 3, 4, 5]
                );
            }
            seqs.sort_unstable();
            assert_eq!(
                seqs,
                [
                    (0, "ok"),
                    (1, "cancelled"),
                    (2, "cancelled"),
                    (3, "panicked"),
                    (4, "ok"),
                    (5, "ok")
                ],
                "{what}"
            );
            assert_eq!((s.size_hint(), s.is_terminated()), ((0, Some(0)), true));
        }
    }
}

trait FusedStreamOf: FusedStream<Item = Result<u64, TaskError>> + Send {}
impl<S: FusedStream<Item = Result<u64, TaskError>> + Send> FusedStreamOf for S {}
