//! Hostile tests for per-key ordering, commit watermarks, the `Sequencer`,
//! `OrderedJoinSet` and `spawn_unordered`: floods, caught panics in the consumer, keys
//! that drain and come back, inputs that are always ready, extreme limits, timeouts and
//! offsets, cancellation mid-await, misuse that must change nothing.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{stream, FutureExt, SinkExt, StreamExt};
use reorder::{
    commit_tracker, CommitEvent, KeyedConfig, KeyedReorderConfig, KeyedWatermark, OrderedExt,
    OrderedJoinSet, ReorderError, Throttle, WatermarkError,
};
use tokio::time::Instant;

mod common;
use common::{eventually, quiet_injected_panics, settle, within, Counter, DropGuard, Gauge};

// ---------------------------------------------------------------------------------------
// spawn_ordered_by_key
// ---------------------------------------------------------------------------------------

/// What one poll of a stream gave, with a panic out of the poll caught.
enum Polled<T> {
    Item(T),
    End,
    Panicked,
}

async fn poll_catching<S: futures::Stream + Unpin>(s: &mut S) -> Polled<S::Item> {
    match within(AssertUnwindSafe(s.next()).catch_unwind()).await {
        Ok(Some(item)) => Polled::Item(item),
        Ok(None) => Polled::End,
        Err(_) => Polled::Panicked,
    }
}

/// Drains a keyed task stream whose job closure may panic, catching each panic out of
/// `poll_next`; returns (ok values, error seqs, panics caught). Gives up after a few
/// panics, so a stream that panics on every poll fails instead of spinning.
async fn drain_catching<S>(s: &mut S) -> (Vec<u64>, Vec<u64>, usize)
where
    S: futures::Stream<Item = Result<u64, reorder::TaskError>> + Unpin,
{
    let (mut ok, mut errs, mut caught) = (Vec::new(), Vec::new(), 0);
    loop {
        match poll_catching(s).await {
            Polled::Item(Ok(v)) => ok.push(v),
            Polled::Item(Err(e)) => errs.push(e.seq()),
            Polled::End => break,
            Polled::Panicked => {
                caught += 1;
                assert!(
                    caught < 4,
                    "the stream panics on every poll after the first"
                );
            }
        }
    }
    (ok, errs, caught)
}

/// The job closure panics for input 1 (consumer-side: `f` runs inside `poll_next`). A
/// consumer that catches the panic and polls on must still get every other input of that
/// key, in order: the panicked input must not leave a hole its key waits for forever.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_caught_panic_in_the_job_closure_leaves_no_hole_in_its_key() {
    quiet_injected_panics();
    for total_order in [false, true] {
        let config = KeyedConfig::new(2).total_order(total_order);
        let mut s = stream::iter(0..6u64).spawn_ordered_by_key_with(
            config,
            |_| 0u8,
            |i| {
                assert!(i != 1, "injected: the job closure panics for input 1");
                async move {
                    // Later inputs finish first, so they are held behind earlier ones.
                    tokio::time::sleep(Duration::from_millis(10 * (6 - i))).await;
                    i
                }
            },
        );
        let (ok, errs, caught) = drain_catching(&mut s).await;
        assert_eq!(caught, 1, "total_order {total_order}");
        assert_eq!(
            ok,
            [0, 2, 3, 4, 5],
            "total_order {total_order}: nothing lost"
        );
        assert_eq!(errs, [1], "input 1: a cancellation in its position");
        assert_eq!(s.active_keys(), 0);
    }
}

/// The same, for an input that waited for its key's slot: it is launched from inside
/// `poll_next` when the key's running input finishes. That finished input's result must
/// not be lost to the panic, and the key must go on.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_caught_panic_launching_a_waiting_input_loses_no_result() {
    quiet_injected_panics();
    for total_order in [false, true] {
        let config = KeyedConfig::new(2)
            .per_key_limit(1)
            .total_order(total_order);
        let mut s = stream::iter(0..5u64).spawn_ordered_by_key_with(
            config,
            |_| 0u8,
            |i| {
                assert!(i != 1, "injected: the job closure panics for input 1");
                async move {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    i
                }
            },
        );
        let (ok, errs, caught) = drain_catching(&mut s).await;
        assert_eq!(caught, 1, "total_order {total_order}");
        assert_eq!(ok, [0, 2, 3, 4], "total_order {total_order}: nothing lost");
        assert_eq!(errs, [1], "input 1: a cancellation in its position");
    }
}

/// `active_keys` promises "a key that drains is forgotten at once". Under total order a
/// key whose last result was held (behind another key's) and popped later must be
/// forgotten too, or unique keys grow the map without bound.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn total_order_forgets_keys_that_drain() {
    let config = KeyedConfig::new(8).total_order(true);
    let mut s = stream::iter(0..400u64).spawn_ordered_by_key_with(
        config,
        |i| *i, // every input its own key
        |i| async move {
            // Out of order, so most results are held behind an earlier one.
            tokio::time::sleep(Duration::from_millis((400 - i) % 7)).await;
            i
        },
    );
    let mut next = 0;
    while let Some(r) = within(s.next()).await {
        assert_eq!(r.unwrap(), next);
        next += 1;
        assert!(
            s.active_keys() <= config.get_window(),
            "{} keys remembered with at most {} inputs inside",
            s.active_keys(),
            config.get_window()
        );
    }
    assert_eq!((next, s.active_keys()), (400, 0));
}

/// One key, 100,000 inputs finishing out of order: per-key order holds throughout, and
/// what is held never exceeds the window.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn one_key_flood_stays_in_order_within_the_window() {
    one_key_flood(100_000).await;
}

/// The same with a million inputs (a few seconds in debug builds).
#[tokio::test(flavor = "current_thread", start_paused = true)]
#[ignore = "slow in debug builds: cargo test --release -- --ignored"]
async fn one_key_a_million_inputs_stays_in_order_within_the_window() {
    one_key_flood(1_000_000).await;
}

async fn one_key_flood(n: u64) {
    let config = KeyedConfig::new(8);
    let mut s = stream::iter(0..n).spawn_ordered_by_key_with(
        config,
        |_| (),
        |i| async move {
            for _ in 0..(i * 7) % 3 {
                tokio::task::yield_now().await;
            }
            i
        },
    );
    let mut next = 0;
    while let Some(r) = within(s.next()).await {
        assert_eq!(r.unwrap(), next);
        next += 1;
    }
    assert_eq!(next, n);
    assert!(s.peak_buffered() > 0, "results really were held");
    assert!(
        s.peak_buffered() < config.get_window(),
        "a held result waits for a running one"
    );
    assert_eq!(s.active_keys(), 0);
}

/// A key drains (forgotten: its numbering restarts) and comes back, fifty times; each
/// time its slow first input still comes before its fast second one.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn keys_that_drain_and_come_back_keep_their_order() {
    let (mut tx, rx) = futures::channel::mpsc::unbounded::<(u8, u64, u64)>();
    let mut s = rx.spawn_ordered_by_key(
        4,
        |(key, ..)| *key,
        |(key, n, ms)| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (key, n)
        },
    );
    for round in 0..50u64 {
        tx.send((7, 2 * round, 30)).await.unwrap();
        tx.send((7, 2 * round + 1, 1)).await.unwrap();
        tx.send((8, round, 5)).await.unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(within(s.next()).await.unwrap().unwrap());
        }
        // Key 8 is not held back by key 7's slow head.
        assert_eq!(got, [(8, round), (7, 2 * round), (7, 2 * round + 1)]);
        assert_eq!(s.active_keys(), 0, "round {round}: every key drained");
    }
    drop(tx);
    assert!(within(s.next()).await.is_none());
}

/// Limit 1, window 1, per-key limit 1, an input that is always ready and jobs that are
/// always ready: one task at a time, nothing ever held, every key in order.
#[tokio::test(flavor = "current_thread")]
async fn limit_one_window_one_with_an_always_ready_input() {
    let gauge = Gauge::default();
    let g = gauge.clone();
    let config = KeyedConfig::new(1).window(1).per_key_limit(1);
    let mut s = stream::iter(0..5_000u64).spawn_ordered_by_key_with(
        config,
        |i| i % 13,
        move |i| {
            let g = g.clone();
            async move {
                g.enter();
                tokio::task::yield_now().await;
                g.exit();
                i
            }
        },
    );
    let mut next = 0;
    while let Some(r) = within(s.next()).await {
        assert_eq!(r.unwrap(), next, "one at a time is total order");
        assert!(s.in_flight() <= 1);
        next += 1;
    }
    assert_eq!(next, 5_000);
    assert_eq!(gauge.max(), 1);
    assert_eq!(s.peak_buffered(), 0);
}

/// `usize::MAX` for limit, per-key limit and window (the default window saturates):
/// every input runs at once, nothing overflows.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn usize_max_limits_run_everything_at_once() {
    let config = KeyedConfig::new(usize::MAX).per_key_limit(usize::MAX);
    assert_eq!(config.get_window(), usize::MAX);
    let config = config.window(usize::MAX);
    let gauge = Gauge::default();
    let g = gauge.clone();
    let out: Vec<u64> = within(
        stream::iter(0..2_000u64)
            .spawn_ordered_by_key_with(
                config,
                |i| i % 3,
                move |i| {
                    let g = g.clone();
                    async move {
                        g.enter();
                        tokio::time::sleep(Duration::from_millis(100 - i % 100)).await;
                        g.exit();
                        i
                    }
                },
            )
            .map(Result::unwrap)
            .collect(),
    )
    .await;
    assert_eq!(gauge.max(), 2_000);
    for key in 0..3 {
        let of_key: Vec<u64> = out.iter().copied().filter(|i| i % 3 == key).collect();
        assert!(
            of_key.windows(2).all(|w| w[0] < w[1]),
            "key {key} out of order"
        );
        assert_eq!(of_key.len(), (0..2_000).filter(|i| i % 3 == key).count());
    }
}

/// `task_timeout(Duration::MAX)` never fires and does not overflow; a slow task just
/// finishes.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_duration_max_task_timeout_never_fires() {
    let config = KeyedConfig::new(2).task_timeout(Duration::MAX);
    // An hour of paused time would trip `within`'s 10 s, so a long timeout of our own.
    let out = tokio::time::timeout(
        Duration::from_secs(10 * 3_600),
        stream::iter(0..4u64)
            .spawn_ordered_by_key_with(
                config,
                |i| i % 2,
                |i| async move {
                    tokio::time::sleep(Duration::from_secs(3_600)).await;
                    i
                },
            )
            .collect::<Vec<_>>(),
    )
    .await
    .expect("hangs");
    let mut values: Vec<u64> = out.into_iter().map(Result::unwrap).collect();
    values.sort_unstable();
    assert_eq!(values, [0, 1, 2, 3]);
}

/// Dropping the stream drops everything inside it, wherever it is: running tasks
/// (aborted), results held for an earlier result of their key, and inputs waiting for
/// their key's slot that never started.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn dropping_the_stream_drops_running_held_and_waiting_inputs() {
    let dropped = Counter::default();
    let d = dropped.clone();
    // Key 0: input 0 never finishes, input 1 finishes at once (held behind 0), input 2
    // never finishes, input 3 waits (key 0 at its per-key limit of 2).
    let input = stream::iter(0..4u64)
        .map(move |i| (i, DropGuard(d.clone())))
        .chain(stream::pending());
    let config = KeyedConfig::new(3).per_key_limit(2);
    let mut s = input.spawn_ordered_by_key_with(
        config,
        |_| 0u8,
        |(i, guard)| async move {
            if i != 1 {
                std::future::pending::<()>().await;
            }
            guard
        },
    );
    // Nothing can come out: key 0's head never finishes.
    assert!(tokio::time::timeout(Duration::from_secs(1), s.next())
        .await
        .is_err());
    assert_eq!(
        (s.in_flight(), s.buffered_len()),
        (2, 2),
        "0, 2 run; 1 held; 3 waits"
    );
    assert_eq!(dropped.get(), 0);
    drop(s);
    eventually("every guard dropped", || dropped.get() == 4).await;
}

/// The consumer's task is aborted while it awaits the next result: every task it
/// spawned is aborted (the guard inside each is dropped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborting_the_consumer_task_aborts_every_keyed_task() {
    let dropped = Counter::default();
    let started = Counter::default();
    let (d, st) = (dropped.clone(), started.clone());
    let consumer = tokio::spawn(async move {
        let mut s = stream::iter(0..100u64).spawn_ordered_by_key(
            6,
            |i| i % 3,
            move |_| {
                let guard = DropGuard(d.clone());
                st.incr();
                async move {
                    let _guard = guard;
                    std::future::pending::<()>().await;
                }
            },
        );
        s.next().await
    });
    eventually("six tasks started", || started.get() == 6).await;
    consumer.abort();
    assert!(within(consumer).await.unwrap_err().is_cancelled());
    eventually("every task aborted", || dropped.get() == 6).await;
    assert_eq!(started.get(), 6, "nothing more started");
}

// ---------------------------------------------------------------------------------------
// ordered_by_key
// ---------------------------------------------------------------------------------------

/// An endless, always-ready input whose every key lost its seq 0: with a window the
/// adapter keeps yielding (skips the oldest gap, then the held values), never spins on
/// the input forever.
#[tokio::test(flavor = "current_thread")]
async fn ordered_by_key_endless_ready_input_with_lost_heads_keeps_yielding() {
    let input = stream::iter((0u64..).map(|i| (i % 3, i / 3 + 1, i)));
    let mut s = input.ordered_by_key_with(KeyedReorderConfig::new().window(2));
    let mut out = Vec::new();
    for _ in 0..300 {
        out.push(within(s.next()).await.unwrap());
    }
    assert!(s.peak_buffered() <= 2);
    for key in 0..3u64 {
        let of_key: Vec<_> = out.iter().filter(|(k, _)| *k == key).collect();
        assert_eq!(of_key[0].1, Err(ReorderError::Missing(0..1)), "key {key}");
        let values: Vec<u64> = of_key[1..]
            .iter()
            .map(|(_, r)| *r.as_ref().unwrap())
            .collect();
        let expected: Vec<u64> = (0..values.len() as u64).map(|n| n * 3 + key).collect();
        assert_eq!(values, expected, "key {key}: in order, nothing lost");
    }
}

// ---------------------------------------------------------------------------------------
// Commit watermarks
// ---------------------------------------------------------------------------------------

/// `complete`, `fail` and `retry` on a key that is not tracked are `Unknown(offset)` and
/// do not start tracking it; around `u64::MAX` a key saturates and refuses more.
#[test]
fn keyed_watermark_untracked_keys_and_u64_max() {
    let mut partitions: KeyedWatermark<&str> = KeyedWatermark::new();
    assert_eq!(
        partitions.complete(&"p", 5),
        Err(WatermarkError::Unknown(5))
    );
    assert_eq!(partitions.fail(&"p", 6), Err(WatermarkError::Unknown(6)));
    assert_eq!(partitions.retry(&"p", 7), Err(WatermarkError::Unknown(7)));
    assert!(partitions.is_empty());
    assert_eq!(partitions.get(&"p"), None);

    partitions.assign("p", u64::MAX - 1);
    assert_eq!(
        partitions.register("p", u64::MAX - 2),
        Err(WatermarkError::NotIncreasing(u64::MAX - 2))
    );
    partitions.register("p", u64::MAX).unwrap();
    let before = format!("{partitions:?}");
    assert_eq!(
        partitions.register("p", u64::MAX),
        Err(WatermarkError::NotIncreasing(u64::MAX))
    );
    assert_eq!(
        partitions.retry(&"p", u64::MAX),
        Err(WatermarkError::NotFailed(u64::MAX))
    );
    assert_eq!(format!("{partitions:?}"), before, "errors change nothing");
    partitions.complete(&"p", u64::MAX).unwrap();
    assert_eq!(partitions.get(&"p"), Some(u64::MAX));
    assert!(partitions.watermark(&"p").unwrap().is_exhausted());
    assert_eq!(
        partitions.complete(&"p", u64::MAX),
        Err(WatermarkError::Unknown(u64::MAX))
    );
    assert_eq!(
        partitions.register("p", 0),
        Err(WatermarkError::NotIncreasing(0))
    );
    // Another key is untouched by all that.
    partitions.register("q", 0).unwrap();
    assert_eq!(partitions.get(&"q"), Some(0));
}

/// `Commits::next()` dropped while the throttle holds a commit back (a losing `select!`
/// branch, a timeout): the commit is not lost and still goes out when the interval ends.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_next_future_dropped_during_the_throttle_loses_no_commit() {
    let (tracker, commits) = commit_tracker(0);
    let mut commits = commits.throttle(Throttle::new().interval(Duration::from_millis(100)));
    let start = Instant::now();
    tracker.register(0).unwrap().complete();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(1)));
    tracker.register(1).unwrap().complete();
    for _ in 0..3 {
        // Cancelled three times while the throttle holds commit 2.
        assert!(
            tokio::time::timeout(Duration::from_millis(20), commits.next())
                .await
                .is_err()
        );
    }
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(2)));
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    drop(tracker);
    assert_eq!(within(commits.next()).await, None);
}

/// `interval(Duration::MAX)`: one commit at the start, one at the end, none between,
/// failures still at once; nothing overflows.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_duration_max_interval_commits_at_the_start_and_the_end() {
    let (tracker, commits) = commit_tracker(10);
    let mut commits = commits.throttle(Throttle::new().interval(Duration::MAX));
    tracker.register(10).unwrap().complete();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(11)));
    for offset in 11..20 {
        tracker.register(offset).unwrap().complete();
    }
    let failing = tracker.register(20).unwrap();
    failing.fail();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(20)));
    // A day passes: no commit.
    assert!(
        tokio::time::timeout(Duration::from_secs(86_400), commits.next())
            .await
            .is_err()
    );
    tracker.complete(20).unwrap(); // dead-lettered
    drop(tracker);
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(21)));
    assert_eq!(within(commits.next()).await, None);
}

/// A committer task aborted mid-await (its `Commits` dropped): the trackers keep
/// working, and guards complete and fail without panicking or blocking.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_aborted_committer_leaves_the_trackers_working() {
    let (tracker, commits) = commit_tracker(0);
    let committer = tokio::spawn(async move {
        let mut commits = commits.throttle(Throttle::new().interval(Duration::from_secs(1)));
        while commits.next().await.is_some() {}
    });
    settle().await;
    committer.abort();
    assert!(within(committer).await.unwrap_err().is_cancelled());
    for offset in 0..1_000 {
        let guard = tracker.register(offset).unwrap();
        if offset % 2 == 0 {
            guard.complete();
        } // odd ones dropped: failed
    }
    assert_eq!(tracker.watermark(), 1);
    assert_eq!(tracker.in_flight(), 500);
    assert_eq!(tracker.retry(3).unwrap().offset(), 3);
}

// ---------------------------------------------------------------------------------------
// spawn_unordered
// ---------------------------------------------------------------------------------------

/// Misuse of `retry`/`give_up` on positions in every state is a typed error naming the
/// position, spawns nothing and moves nothing.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn spawn_unordered_misuse_names_the_position_and_changes_nothing() {
    quiet_injected_panics();
    let mut s = Box::pin(stream::iter(0..4u64)).spawn_unordered(4, |i| async move {
        tokio::time::sleep(Duration::from_millis(10 * (i + 1))).await;
        assert!(i != 1, "injected: position 1 fails");
        if i == 3 {
            std::future::pending::<()>().await;
        }
        i
    });
    // Positions 0 (ok), 1 (failed), 2 (ok, held behind 1); 3 runs forever.
    let mut first = Vec::new();
    for _ in 0..3 {
        let (seq, result) = within(s.next()).await.unwrap();
        first.push((seq, result.is_ok()));
    }
    assert_eq!(first, [(0, true), (1, false), (2, true)]);
    let before = (s.watermark(), s.failed().collect::<Vec<_>>(), s.in_flight());
    assert_eq!(before, (1, vec![1], 1));
    let cases = [
        (0, WatermarkError::Unknown(0)),          // passed
        (2, WatermarkError::AlreadyCompleted(2)), // yielded, held behind 1
        (3, WatermarkError::NotFailed(3)),        // running
        (4, WatermarkError::Unknown(4)),          // never started
        (u64::MAX, WatermarkError::Unknown(u64::MAX)),
    ];
    for (seq, err) in cases {
        assert_eq!(s.retry(seq, async { 0 }), Err(err), "retry {seq}");
        let give_up = s.give_up(seq);
        let expected = if seq == 3 {
            WatermarkError::NotFailed(3)
        } else {
            err
        };
        assert_eq!(give_up, Err(expected), "give_up {seq}");
        assert_eq!(
            (s.watermark(), s.failed().collect::<Vec<_>>(), s.in_flight()),
            before,
            "misuse of {seq} changed something"
        );
    }
    // The failure is still resolvable.
    s.give_up(1).unwrap();
    assert_eq!(s.watermark(), 3);
}

/// `retry` outside a runtime panics (documented) and leaves the position failed, so it
/// can be retried later.
#[test]
fn spawn_unordered_retry_outside_a_runtime_leaves_the_position_failed() {
    quiet_injected_panics();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut s = runtime.block_on(async {
        let mut s = stream::iter(0..1u64).spawn_unordered(1, |i| async move {
            assert!(i != 0, "injected: position 0 fails");
            i
        });
        let (seq, result) = within(s.next()).await.unwrap();
        assert!(seq == 0 && result.is_err());
        s
    });
    let outside = std::panic::catch_unwind(AssertUnwindSafe(|| s.retry(0, async { 7 }).unwrap()));
    assert!(outside.is_err(), "no runtime: retry must panic");
    assert_eq!(s.failed().collect::<Vec<_>>(), [0]);
    runtime.block_on(async {
        s.retry(0, async { 7 }).unwrap();
        let (seq, result) = within(s.next()).await.unwrap();
        assert_eq!((seq, result.unwrap()), (0, 7));
        assert_eq!(s.watermark(), 1);
    });
}

// ---------------------------------------------------------------------------------------
// OrderedJoinSet
// ---------------------------------------------------------------------------------------

/// `with_task_timeout(Duration::MAX)`: never fires, never overflows.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn join_set_duration_max_timeout_never_fires() {
    let mut set = OrderedJoinSet::with_task_timeout(Duration::MAX);
    for i in 0..4u64 {
        set.spawn(async move {
            tokio::time::sleep(Duration::from_secs(3_600 * (4 - i))).await;
            i
        });
    }
    let all = tokio::time::timeout(Duration::from_secs(86_400), set.join_all())
        .await
        .expect("hangs");
    let values: Vec<u64> = all.into_iter().map(Result::unwrap).collect();
    assert_eq!(values, [0, 1, 2, 3]);
}

// ---------------------------------------------------------------------------------------
// Sequencer
// ---------------------------------------------------------------------------------------

/// Near exhaustion, every way of leaving a turn (a `Wait` dropped before and after its
/// wake-up, a `Ticket` dropped, a holder that panics) still reaches `u64::MAX`, where the
/// sequencer is exhausted and nothing waits.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn sequencer_leaves_every_way_up_to_u64_max() {
    quiet_injected_panics();
    let sequencer = reorder::Sequencer::starting_at(u64::MAX - 5);
    let tickets: Vec<_> = (0..5).map(|_| sequencer.ticket()).collect();
    assert!(sequencer.try_ticket().is_none());
    let mut tickets = tickets.into_iter();
    let (t0, t1, t2, t3, t4) = (
        tickets.next().unwrap(),
        tickets.next().unwrap(),
        tickets.next().unwrap(),
        tickets.next().unwrap(),
        tickets.next().unwrap(),
    );
    let log = Arc::new(Mutex::new(Vec::new()));
    // t1: a Wait that times out before its turn.
    let w1 = tokio::spawn(tokio::time::timeout(Duration::from_millis(5), t1.wait()));
    // t2: a Wait dropped by a losing `select!` branch before its turn.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let w2 = tokio::spawn(async move {
        let mut wait = t2.wait();
        tokio::select! {
            turn = &mut wait => drop(turn),
            _ = rx => {}
        }
    });
    // t3: dropped before its turn.
    drop(t3);
    // t4: the last seq there is; its holder panics.
    let l = log.clone();
    let w4 = tokio::spawn(async move {
        let turn = t4.wait().await;
        l.lock().unwrap().push(turn.seq());
        panic!("injected: last turn panics");
    });
    settle().await;
    assert!(within(w1).await.unwrap().is_err(), "t1 timed out");
    assert_eq!(sequencer.current(), u64::MAX - 5);
    drop(tx); // w2's other branch wins: its Wait is dropped
    within(w2).await.unwrap();
    within(t0.wait()).await.done();
    assert!(within(w4).await.unwrap_err().is_panic());
    assert_eq!(*log.lock().unwrap(), [u64::MAX - 1]);
    assert_eq!(sequencer.current(), u64::MAX);
    assert_eq!(sequencer.last_panicked(), Some(u64::MAX - 1));
    assert_eq!(sequencer.waiting(), 0);
    assert_eq!(sequencer.issued(), 5);
}

// ---------------------------------------------------------------------------------------
// More commit watermarks and spawn_unordered
// ---------------------------------------------------------------------------------------

/// A flood of offsets completed in random order from two worker threads: the commits
/// only ever move up, never past an offset still in flight, and the last one is one past
/// the highest offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_under_a_multi_thread_flood_only_move_up_and_end_one_past_the_last() {
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::SeedableRng;

    const N: u64 = 50_000;
    let (tracker, mut commits) = commit_tracker(0);
    let mut guards: Vec<_> = (0..N).map(|o| tracker.register(o).unwrap()).collect();
    guards.shuffle(&mut StdRng::seed_from_u64(7));
    let half = guards.split_off(guards.len() / 2);
    let done = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let workers: Vec<_> = [guards, half]
        .into_iter()
        .map(|guards| {
            let done = done.clone();
            tokio::spawn(async move {
                for (i, guard) in guards.into_iter().enumerate() {
                    done.lock().unwrap().insert(guard.offset());
                    guard.complete();
                    if i % 64 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    drop(tracker);
    let mut last = 0;
    while let Some(event) = within(commits.next()).await {
        let CommitEvent::Commit(offset) = event else {
            panic!("no failure was injected: {event:?}");
        };
        assert!(offset > last, "commit {offset} after {last}");
        let done = done.lock().unwrap();
        assert!(
            (last..offset).all(|o| done.contains(&o)),
            "commit {offset} passed an offset not yet complete"
        );
        last = offset;
    }
    for worker in workers {
        within(worker).await.unwrap();
    }
    assert_eq!(last, N);
}

/// A revoked partition forgets its offsets: late completions from its old tasks are
/// `Unknown` and do not bring the key back; reassigned, it starts afresh at the new base
/// and a stale completion below it is refused.
#[test]
fn keyed_watermark_stale_completions_after_revoke_change_nothing() {
    let mut partitions = KeyedWatermark::new();
    partitions.assign(0u32, 100);
    for offset in [100, 101, 102] {
        partitions.register(0, offset).unwrap();
    }
    let revoked = partitions.revoke(&0).unwrap();
    assert_eq!(revoked.in_flight(), 3);
    assert_eq!(
        partitions.complete(&0, 101),
        Err(WatermarkError::Unknown(101))
    );
    assert!(
        partitions.is_empty(),
        "a stale completion must not re-add the key"
    );
    partitions.assign(0, 102);
    assert_eq!(
        partitions.complete(&0, 101),
        Err(WatermarkError::Unknown(101))
    );
    assert_eq!(
        partitions.register(0, 101),
        Err(WatermarkError::NotIncreasing(101))
    );
    assert_eq!(partitions.get(&0), Some(102));
    partitions.register(0, 102).unwrap();
    partitions.complete(&0, 102).unwrap();
    assert_eq!(partitions.get(&0), Some(103));
}

/// The stream has ended (`None`) with position 0 failed; a retry afterwards still runs
/// in position 0 and its result is yielded by the next poll; then the stream ends again.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn spawn_unordered_retry_after_the_stream_ended_is_still_yielded() {
    quiet_injected_panics();
    let mut s = stream::iter(0..3u64).spawn_unordered(2, |i| async move {
        assert!(i != 0, "injected: position 0 fails");
        i
    });
    let mut seen = Vec::new();
    while let Some((seq, r)) = within(s.next()).await {
        seen.push((seq, r.is_ok()));
    }
    seen.sort_unstable();
    assert_eq!(seen, [(0, false), (1, true), (2, true)]);
    assert_eq!(s.watermark(), 0, "the failure holds the watermark");
    s.retry(0, async { 10 }).unwrap();
    let (seq, r) = within(s.next()).await.unwrap();
    assert_eq!((seq, r.unwrap()), (0, 10));
    assert_eq!(s.watermark(), 3);
    assert!(within(s.next()).await.is_none());
}
