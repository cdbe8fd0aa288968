//! Hostile tests for the commit-watermark side: `commit_tracker` (`CommitTracker`,
//! `InFlight`, `Commits`), `Watermark`, `KeyedWatermark` and `spawn_unordered`'s
//! watermark. Each test names the documented promise it tries to break.
//!
//! Every async test runs under a timeout; a poll that might deadlock runs on a thread of
//! its own with a deadline.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{self, FusedStream, Stream};
use futures::task::ArcWake;
use futures::{FutureExt, StreamExt};
use reorder::{
    commit_tracker, CommitEvent, InFlight, KeyedWatermark, OrderedExt, SpawnConfig, Throttle,
    Watermark, WatermarkError,
};

mod common;
use common::{
    current_thread, eventually, on_a_thread_within_10s, quiet_injected_panics, settle, within,
    Counter, DropGuard, Gauge,
};

/// A waker that owns an `InFlight` guard: when its last reference is dropped, the guard
/// is dropped unfinished and fails its offset, which takes the tracker's lock.
struct GuardOwningWaker {
    _guard: InFlight,
}

impl ArcWake for GuardOwningWaker {
    fn wake_by_ref(_: &Arc<Self>) {}
}

// ---------------------------------------------------------------------------------------
// Commits: wakers, ends, reopening, runtimes
// ---------------------------------------------------------------------------------------

/// Promise (lib.rs): "a guard dropped unfinished ... the failure is reported". A waker
/// the committer replaces may hold the last reference to a guard (its task's future
/// owned one); dropping it while the tracker's lock was held deadlocked (the committer
/// polled again while nothing was due). Also with a commit held back by the interval,
/// where the sleep shares the waker.
#[test]
fn a_replaced_waker_that_owns_a_guard_is_dropped_outside_the_lock() {
    for held_back in [false, true] {
        let events = on_a_thread_within_10s(move || {
            current_thread(true).block_on(async move {
                let (tracker, commits) = commit_tracker(0);
                let mut commits =
                    commits.throttle(Throttle::new().interval(Duration::from_secs(60)));
                tracker.register(0).unwrap().complete();
                assert_eq!(commits.next().await, Some(CommitEvent::Commit(1)));
                if held_back {
                    // A commit the interval holds back: the poll sleeps (`Due::At`).
                    tracker.register(1).unwrap().complete();
                }
                let owner = Arc::new(GuardOwningWaker {
                    _guard: tracker.register(2).unwrap(),
                });
                let waker = futures::task::waker(owner);
                let first = commits.poll_next_unpin(&mut Context::from_waker(&waker));
                assert!(first.is_pending());
                drop(waker); // the stream's clone is the last reference now
                let noop = futures::task::noop_waker();
                let mut events = Vec::new();
                // Replaces the guard-owning waker.
                if let Poll::Ready(Some(event)) =
                    commits.poll_next_unpin(&mut Context::from_waker(&noop))
                {
                    events.push(event);
                }
                drop(tracker);
                while let Some(event) = within(commits.next()).await {
                    events.push(event);
                }
                events
            })
        });
        assert!(
            events.contains(&CommitEvent::Failed(2)),
            "the guard the waker owned failed: {events:?}"
        );
        let expected = if held_back {
            vec![CommitEvent::Failed(2), CommitEvent::Commit(2)]
        } else {
            vec![CommitEvent::Failed(2)]
        };
        assert_eq!(events, expected);
    }
}

/// Promise (`commit_tracker`): `Commit` comes "when the watermark ... has moved". At
/// `u64::MAX` it saturates: completing `u64::MAX` does not move it, so no second
/// `Commit(u64::MAX)`; nor a commit of the base when the base is `u64::MAX`.
#[tokio::test]
async fn a_saturated_watermark_is_not_committed_twice() {
    let (tracker, mut commits) = commit_tracker(u64::MAX - 1);
    tracker.register(u64::MAX - 1).unwrap().complete();
    assert_eq!(
        within(commits.next()).await,
        Some(CommitEvent::Commit(u64::MAX))
    );
    tracker.register(u64::MAX).unwrap().complete();
    assert!(tracker.is_exhausted());
    drop(tracker);
    assert_eq!(
        within(commits.next()).await,
        None,
        "the watermark did not move"
    );

    let (tracker, mut commits) = commit_tracker(u64::MAX);
    tracker.register(u64::MAX).unwrap().complete();
    drop(tracker);
    assert_eq!(
        within(commits.next()).await,
        None,
        "the base is the watermark"
    );
}

/// Promise (`Commits::retry`): "The guard keeps the stream open until the retry
/// settles" — also when the committer had already read the end (a retry deferred until
/// after the loop): the retry's outcome is still yielded, then the stream ends again.
#[tokio::test]
async fn a_retry_after_the_end_reopens_the_stream_until_it_settles() {
    let (tracker, mut commits) = commit_tracker(0);
    tracker.register(0).unwrap().complete();
    tracker.register(1).unwrap().fail();
    drop(tracker);
    let mut events = Vec::new();
    while let Some(event) = within(commits.next()).await {
        events.push(event);
    }
    assert_eq!(events, [CommitEvent::Failed(1), CommitEvent::Commit(1)]);
    assert!(commits.is_terminated());
    let retry = commits.retry(1).unwrap();
    assert!(!commits.is_terminated(), "a guard is alive again");
    retry.fail();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(1)));
    let retry = commits.retry(1).unwrap();
    retry.complete();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(2)));
    assert_eq!(within(commits.next()).await, None);
    assert!(commits.is_terminated());

    // A give-up after the end: its commit is not lost either.
    let (tracker, mut commits) = commit_tracker(0);
    tracker.register(0).unwrap().fail();
    drop(tracker);
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(0)));
    assert_eq!(within(commits.next()).await, None);
    commits.give_up(0).unwrap();
    assert!(!commits.is_terminated(), "a commit is due");
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(1)));
    assert_eq!(within(commits.next()).await, None);
    assert!(commits.is_terminated());
}

/// Promise (bug table: "a Reorder whose timer was armed on a runtime that shut down
/// panicked when polled on another runtime" — fixed there). The throttle's sleep is a
/// timer too: a committer moved to a new runtime while a commit was held back must
/// still get it.
#[test]
fn a_committer_moved_to_another_runtime_keeps_its_throttle() {
    let (tracker, commits) = commit_tracker(0);
    let mut commits = commits.throttle(Throttle::new().interval(Duration::from_secs(1)));
    let first = current_thread(true);
    first.block_on(async {
        tracker.register(0).unwrap().complete();
        assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(1)));
        tracker.register(1).unwrap().complete();
        assert!(futures::poll!(commits.next()).is_pending(), "held back");
    });
    drop(first);
    let got = current_thread(true).block_on(async {
        let commit = within(commits.next()).await;
        drop(tracker);
        (commit, within(commits.next()).await)
    });
    assert_eq!(got, (Some(CommitEvent::Commit(2)), None));
}

/// Promises (`Watermark`): memory per registered number, never per range; the
/// watermark never passes an incomplete offset. A flood of offsets at the very top of
/// the range, completed while offset 0 is in flight and nobody polls the committer, then
/// 0: one `Commit(u64::MAX)` (saturated), no overflow, the tracker exhausted.
#[tokio::test]
async fn a_flood_far_ahead_waits_behind_offset_zero_then_saturates_once() {
    const N: u64 = 20_000;
    let (tracker, mut commits) = commit_tracker(0);
    let head = tracker.register(0).unwrap();
    let flood: Vec<_> = (u64::MAX - (N - 1)..=u64::MAX)
        .map(|o| tracker.register(o).unwrap())
        .collect();
    assert_eq!(tracker.in_flight(), N as usize + 1);
    for guard in flood.into_iter().rev() {
        guard.complete();
    }
    assert_eq!(tracker.watermark(), 0, "0 is still in flight");
    assert!(!tracker.is_exhausted());
    assert!(
        futures::poll!(commits.next()).is_pending(),
        "nothing to commit while 0 is in flight"
    );
    head.complete();
    assert!(tracker.is_exhausted());
    assert_eq!(tracker.in_flight(), 0);
    drop(tracker);
    assert_eq!(
        within(commits.next()).await,
        Some(CommitEvent::Commit(u64::MAX))
    );
    assert_eq!(within(commits.next()).await, None);
}

/// Promise (`commit_tracker`): "A failed offset holds the watermark below it until
/// then: it is never committed silently", with both throttles, the tracker closing and
/// the flush at the end: the last commit stops at the failed offset, and the failure is
/// reported before the end.
#[tokio::test(start_paused = true)]
async fn the_flush_at_the_end_stops_below_an_unresolved_failure() {
    let (tracker, commits) = commit_tracker(1_000);
    let mut commits = commits.throttle(
        Throttle::new()
            .interval(Duration::from_secs(3_600))
            .every(1_000),
    );
    for offset in 1_000..1_100 {
        let guard = tracker.register(offset).unwrap();
        if offset == 1_050 {
            drop(guard); // unfinished: failed
        } else {
            guard.complete();
        }
    }
    drop(tracker);
    let mut events = Vec::new();
    while let Some(event) = within(commits.next()).await {
        events.push(event);
    }
    assert_eq!(
        events,
        [CommitEvent::Failed(1_050), CommitEvent::Commit(1_050)]
    );
    assert_eq!(commits.watermark(), 1_050);
}

/// Promise (`InFlight`): dropped unfinished — the task "panicked or was cancelled" —
/// counts as a failure. Tasks aborted while the committer's runtime shuts down, and a
/// guard dropped during a panic's unwinding, are failures, not completions.
#[test]
fn guards_dropped_by_a_runtime_shutting_down_are_failures() {
    quiet_injected_panics();
    let (tracker, mut commits) = commit_tracker(0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    for offset in 0..8 {
        let guard = tracker.register(offset).unwrap();
        runtime.spawn(async move {
            if offset % 2 == 0 {
                guard.complete();
            } else {
                // Parked for ever: dropped when the runtime shuts down.
                std::future::pending::<()>().await;
                guard.complete();
            }
        });
    }
    let unwinding = tracker.register(8).unwrap();
    let panicked = std::panic::catch_unwind(AssertUnwindSafe(move || {
        let _guard = unwinding;
        panic!("injected: a guard dropped while unwinding");
    }));
    assert!(panicked.is_err());
    runtime.block_on(eventually("the even offsets complete", || {
        tracker.in_flight() == 5
    }));
    assert_eq!(tracker.watermark(), 1);
    drop(runtime); // drops the parked tasks, and their guards
    drop(tracker);
    let events = current_thread(true).block_on(async {
        let mut events = Vec::new();
        while let Some(event) = within(commits.next()).await {
            events.push(event);
        }
        events
    });
    let mut failed: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            CommitEvent::Failed(o) => Some(*o),
            CommitEvent::Commit(_) => None,
        })
        .collect();
    failed.sort_unstable();
    assert_eq!(failed, [1, 3, 5, 7, 8]);
    let commits: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            CommitEvent::Commit(o) => Some(*o),
            CommitEvent::Failed(_) => None,
        })
        .collect();
    assert_eq!(commits, [1], "0 done, never past the failed 1");
}

// ---------------------------------------------------------------------------------------
// spawn_unordered
// ---------------------------------------------------------------------------------------

/// Promise (`spawn_unordered`): "at most `limit` at once". Retries of failed positions
/// start at once, beside the running tasks — the limit holds for inputs only, which wait
/// while retries fill it (documented on `retry`).
#[tokio::test(start_paused = true)]
async fn retries_start_at_once_beyond_the_limit_and_inputs_wait_for_them() {
    quiet_injected_panics();
    let gauge = Gauge::default();
    let mut s = Box::pin(stream::iter(0..6u64)).spawn_unordered(1, {
        let gauge = gauge.clone();
        move |i| {
            let gauge = gauge.clone();
            async move {
                gauge.enter();
                tokio::time::sleep(Duration::from_millis(10)).await;
                gauge.exit();
                assert!(i >= 3, "injected: position {i} fails");
                i
            }
        }
    });
    let mut failed = Vec::new();
    while failed.len() < 3 {
        let (seq, r) = within(s.next()).await.unwrap();
        assert!(r.is_err());
        failed.push(seq);
    }
    assert_eq!(failed, [0, 1, 2]);
    assert_eq!(gauge.max(), 1, "inputs: one at a time");
    for seq in failed {
        let gauge = gauge.clone();
        s.retry(seq, async move {
            gauge.enter();
            tokio::time::sleep(Duration::from_millis(10)).await;
            gauge.exit();
            100 + seq
        })
        .unwrap();
    }
    let mut rest = Vec::new();
    while let Some((seq, r)) = within(s.next()).await {
        rest.push((seq, r.unwrap()));
    }
    assert_eq!(gauge.max(), 3, "the three retries ran at once");
    rest.sort_unstable();
    assert_eq!(rest, [(0, 100), (1, 101), (2, 102), (3, 3), (4, 4), (5, 5)]);
    assert_eq!(s.watermark(), 6);
}

/// The job closure `f` runs inside `poll_next`: if it panics and the caller catches the
/// panic, that input keeps its position as a cancelled task (as with `spawn_ordered`),
/// so positions stay those of the inputs and the watermark stops below it, like any
/// failure — it is never committed past silently.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_caught_panic_of_the_job_closure_keeps_its_position_as_a_failure() {
    quiet_injected_panics();
    let offsets = [10u64, 11, 15, 16, 20];
    let mut s = stream::iter(offsets).spawn_unordered(2, |offset| {
        assert!(offset != 15, "injected: job closure for offset {offset}");
        async move { offset }
    });
    let (mut got, mut failed) = (Vec::new(), Vec::new());
    let mut panics = 0;
    within(async {
        loop {
            match AssertUnwindSafe(s.next()).catch_unwind().await {
                Err(_) => panics += 1,
                Ok(Some((seq, Ok(offset)))) => got.push((seq, offset)),
                Ok(Some((seq, Err(e)))) => {
                    assert!(e.is_cancelled() && e.seq() == seq, "{e:?}");
                    failed.push(seq);
                }
                Ok(None) => break,
            }
        }
    })
    .await;
    got.sort_unstable();
    assert_eq!(panics, 1);
    assert_eq!(failed, [2], "offset 15's position, reported as a failure");
    assert_eq!(got, [(0, 10), (1, 11), (3, 16), (4, 20)]);
    assert_eq!(
        (s.watermark(), s.next_seq()),
        (2, 5),
        "held below the failure"
    );
}

/// Promises (`Stream`/`FusedStream` contracts): `size_hint` brackets what is still to
/// come at every step, failures and a retry after the end included; `is_terminated`
/// turns false again when a retry reopens the stream.
#[tokio::test(start_paused = true)]
async fn size_hint_and_is_terminated_tell_the_truth_through_failures_and_retries() {
    quiet_injected_panics();
    let mut s = Box::pin(stream::iter(0..12u64)).spawn_unordered(3, |i| async move {
        tokio::time::sleep(Duration::from_millis(12 - i)).await;
        assert!(i % 4 != 1, "injected: position {i} fails");
        i
    });
    let mut remaining = 12usize;
    let mut failed = Vec::new();
    loop {
        let (lower, upper) = s.size_hint();
        assert!(lower <= remaining, "lower {lower} > {remaining} to come");
        assert!(upper.is_none_or(|u| u >= remaining), "upper {upper:?}");
        assert_eq!(s.is_terminated(), remaining == 0);
        match within(s.next()).await {
            Some((seq, r)) => {
                remaining -= 1;
                if r.is_err() {
                    failed.push(seq);
                }
            }
            None => break,
        }
    }
    assert_eq!(remaining, 0);
    assert_eq!(failed.len(), 3);
    assert_eq!(s.watermark(), 1);
    for &seq in &failed {
        s.retry(seq, async move { seq }).unwrap();
    }
    assert!(!s.is_terminated(), "the retries reopen it");
    assert_eq!(s.size_hint(), (3, Some(3)));
    let mut retried = Vec::new();
    while let Some((seq, r)) = within(s.next()).await {
        retried.push((seq, r.unwrap()));
    }
    retried.sort_unstable();
    assert_eq!(retried, [(1, 1), (5, 5), (9, 9)]);
    assert!(s.is_terminated());
    assert_eq!((s.watermark(), s.size_hint()), (12, (0, Some(0))));
}

/// Promise (`SpawnConfig::task_timeout`): per task — a retry that runs too long times
/// out again in the same position and keeps holding the watermark.
#[tokio::test(start_paused = true)]
async fn a_retry_that_times_out_again_still_holds_the_watermark() {
    let config = SpawnConfig::new(2).task_timeout(Duration::from_secs(1));
    let mut s = Box::pin(stream::iter(0..3u64)).spawn_unordered_with(config, |i| async move {
        if i == 1 {
            std::future::pending::<()>().await;
        }
        i
    });
    let mut first = Vec::new();
    while let Some((seq, r)) = within(s.next()).await {
        first.push((seq, r.map_err(|e| (e.seq(), e.is_timeout()))));
    }
    first.sort_unstable();
    assert_eq!(first, [(0, Ok(0)), (1, Err((1, true))), (2, Ok(2))]);
    s.retry(1, async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        7
    })
    .unwrap();
    let (seq, r) = within(s.next()).await.unwrap();
    let e = r.unwrap_err();
    assert_eq!((seq, e.seq(), e.is_timeout()), (1, 1, true));
    assert_eq!(s.watermark(), 1);
    assert_eq!(s.failed().collect::<Vec<_>>(), [1]);
    s.give_up(1).unwrap();
    assert_eq!(s.watermark(), 3);
}

/// Dropping the stream aborts every task, retries included: their futures are dropped
/// and the commit tracker they report to sees their guards fail, not complete.
#[tokio::test(start_paused = true)]
async fn dropping_the_stream_aborts_retries_and_their_guards_fail() {
    quiet_injected_panics();
    let (tracker, mut commits) = commit_tracker(0);
    let dropped = Counter::default();
    let guards: Arc<Mutex<Vec<Option<InFlight>>>> = Arc::new(Mutex::new(
        (0..4).map(|o| Some(tracker.register(o).unwrap())).collect(),
    ));
    let mut s = Box::pin(stream::iter(0..4u64)).spawn_unordered(4, {
        let guards = guards.clone();
        move |i| {
            let guard = guards.lock().unwrap()[i as usize].take().unwrap();
            async move {
                assert!(i != 0, "injected: position 0 fails");
                guard.complete();
                i
            }
        }
    });
    let mut ok = 0;
    while ok < 3 {
        let (_, r) = within(s.next()).await.unwrap();
        ok += usize::from(r.is_ok());
    }
    // Position 0 panicked: its guard was dropped in the panic, failing offset 0.
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(0)));
    let retry = tracker.retry(0).unwrap();
    let guard = DropGuard(dropped.clone());
    s.retry(0, async move {
        let _guard = guard;
        std::future::pending::<()>().await;
        retry.complete();
        0
    })
    .unwrap();
    settle().await;
    drop(s);
    eventually_dropped(&dropped).await;
    drop(tracker);
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(0)));
    assert_eq!(within(commits.next()).await, None, "never past 0");
}

async fn eventually_dropped(dropped: &Counter) {
    eventually("the aborted retry's future is dropped", || {
        dropped.get() == 1
    })
    .await;
}

#[test]
fn debug_needs_no_debug_output_or_closure() {
    struct Opaque;
    let runtime = current_thread(true);
    let _enter = runtime.enter();
    let s = stream::iter(vec![1u64]).spawn_unordered(1, |_| async { Opaque });
    let text = format!("{s:?}");
    assert!(
        text.contains("SpawnUnordered") && text.contains("watermark"),
        "{text}"
    );
    let (tracker, commits) = commit_tracker(7);
    let guard = tracker.register(7).unwrap();
    for text in [
        format!("{tracker:?}"),
        format!("{commits:?}"),
        format!("{guard:?}"),
    ] {
        assert!(text.contains('7'), "{text}");
    }
    let watermark = Watermark::with_base(3);
    assert!(format!("{watermark:?}").contains('3'));
    let keyed: KeyedWatermark<u8> = KeyedWatermark::new();
    assert_eq!(format!("{keyed:?}"), "{}");
    guard.complete();
    let _ = WatermarkError::Unknown(0);
}

/// Promise (`CommitTracker`): guards and by-offset calls do not know of each other; the
/// doc says what a first attempt's guard does to a retry made by offset: its drop fails
/// the retry, its completion completes it (and the retry's later failure is ignored).
/// Done in the documented order — the old guard dropped first — the retry's failure is
/// reported and holds the watermark.
#[tokio::test]
async fn a_first_attempts_guard_and_a_retry_by_offset() {
    // The hazard the doc names.
    let (tracker, mut commits) = commit_tracker(5);
    let first = tracker.register(5).unwrap();
    tracker.fail(5).unwrap();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(5)));
    let retry = tracker.retry(5).unwrap();
    first.complete(); // completes the retry's attempt
    assert_eq!(tracker.watermark(), 6);
    retry.fail(); // ignored: the offset is passed
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(6)));
    drop(tracker);
    assert_eq!(within(commits.next()).await, None);

    // The documented order.
    let (tracker, mut commits) = commit_tracker(5);
    let first = tracker.register(5).unwrap();
    tracker.fail(5).unwrap();
    drop(first); // already failed: changes nothing
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(5)));
    tracker.retry(5).unwrap().fail();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(5)));
    assert_eq!(tracker.watermark(), 5);
}

/// Promise (`Commits`): failures wait in a queue "until this stream takes them". Once
/// the stream is dropped nobody ever will — a consumer that commits from
/// `CommitTracker::watermark` instead — so failures must not pile up for ever (they
/// did: one entry per failure, never freed while a tracker lived).
#[tokio::test]
async fn failures_are_not_queued_for_a_dropped_committer() {
    let (tracker, commits) = commit_tracker(0);
    tracker.register(0).unwrap().fail();
    assert!(format!("{tracker:?}").contains("failures_queued: 1"));
    drop(commits);
    for offset in 1..10_000 {
        let guard = tracker.register(offset).unwrap();
        drop(guard); // failed
        tracker.retry(offset).unwrap().fail(); // and failed again
    }
    let debug = format!("{tracker:?}");
    assert!(debug.contains("failures_queued: 0"), "{debug}");
    // The failures still hold the watermark: only the reports are gone.
    assert_eq!(tracker.watermark(), 0);
    assert_eq!(tracker.in_flight(), 10_000);
}

/// Promise (`SpawnUnordered`): a failed position holds the watermark; tasks cancelled by
/// their runtime shutting down are failures in their own positions (`Cancelled`), and a
/// retry on the next runtime runs in place and lets the watermark pass.
#[test]
fn spawn_unordered_tasks_cancelled_by_a_shutdown_hold_the_watermark_in_place() {
    let mut s = Box::pin(stream::iter(0..6u64)).spawn_unordered(3, |i| async move {
        if i == 0 || i == 2 {
            std::future::pending::<()>().await; // only the runtime can end these
        }
        i
    });
    let first = current_thread(true);
    first.block_on(async {
        assert!(futures::poll!(s.next()).is_pending());
        settle().await;
    });
    drop(first);
    let (out, after) = current_thread(true).block_on(async {
        let mut out = Vec::new();
        while let Some((seq, r)) = within(s.next()).await {
            out.push((seq, r.map_err(|e| (e.seq(), e.is_cancelled()))));
        }
        let failed: Vec<u64> = s.failed().collect();
        let held = s.watermark();
        for seq in failed.clone() {
            s.retry(seq, async move { 100 + seq }).unwrap();
        }
        let mut retried = Vec::new();
        while let Some((seq, r)) = within(s.next()).await {
            retried.push((seq, r.unwrap()));
        }
        retried.sort_unstable();
        (out, (failed, held, retried, s.watermark()))
    });
    let mut cancelled: Vec<u64> = out
        .iter()
        .filter_map(|(seq, r)| match r {
            Err((e, true)) if e == seq => Some(*seq),
            _ => None,
        })
        .collect();
    assert_eq!(out.len(), 6, "{out:?}");
    cancelled.sort_unstable(); // in whatever order the runtime cancelled them
    assert_eq!(cancelled, [0, 2], "{out:?}");
    let (failed, held, retried, end) = after;
    assert_eq!(failed, cancelled);
    assert_eq!(held, cancelled[0]);
    assert_eq!(
        retried,
        cancelled.iter().map(|&s| (s, 100 + s)).collect::<Vec<_>>()
    );
    assert_eq!(end, 6);
}

// ---------------------------------------------------------------------------------------
// commit_tracker against a model, random operations, every throttle
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Pending,
    Failed { reported: bool },
    Done,
}

/// Random registrations (sparse, up to `u64::MAX`), completions, failures, guards dropped,
/// retries and give-ups through both handles, time passing, polls; after every poll
/// that comes back `Pending`, and at the end, what `Commits` yielded must agree with the
/// model: commits strictly increase, equal the watermark at that moment and never pass
/// an offset not done; every standing failure has been reported; a commit is held back
/// only as the throttle allows.
#[test]
fn commit_tracker_against_a_model() {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    let runs: u64 = std::env::var("HOSTILE_COMMIT_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    for seed in 0..runs {
        let mut rng = StdRng::seed_from_u64(seed);
        let base = match seed % 4 {
            0 => 0,
            1 => rng.random_range(0..1_000),
            2 => u64::MAX - rng.random_range(0..40),
            _ => rng.random_range(0..u64::MAX / 2),
        };
        let interval = (seed % 3 == 1).then(|| Duration::from_millis(rng.random_range(1..50)));
        let every = (seed % 5 >= 3).then(|| rng.random_range(1..8u64));
        let mut throttle = Throttle::new();
        if let Some(d) = interval {
            throttle = throttle.interval(d);
        }
        if let Some(n) = every {
            throttle = throttle.every(n);
        }
        let ctx = format!("seed {seed}, base {base}, {throttle:?}");
        current_thread(true).block_on(run_model(rng, base, throttle, ctx));
    }
}

async fn run_model(mut rng: rand::rngs::StdRng, base: u64, throttle: Throttle, ctx: String) {
    use rand::RngExt;
    use std::collections::BTreeMap;
    use tokio::time::Instant;

    let (tracker, commits) = commit_tracker(base);
    let mut commits = commits.throttle(throttle);
    let mut model: BTreeMap<u64, St> = BTreeMap::new();
    let mut guards: BTreeMap<u64, InFlight> = BTreeMap::new();
    let mut next = Some(base);
    let mut last_commit = base;
    let mut last_commit_at: Option<Instant> = None;
    // Registered offsets passed, in all (the model's `passed`), at the last commit.
    let mut passed_at_commit = 0usize;
    // Those the model has forgotten (done, below the watermark).
    let mut forgotten = 0usize;
    let noop = futures::task::noop_waker();

    let watermark = |model: &BTreeMap<u64, St>, next: Option<u64>| -> u64 {
        model
            .iter()
            .find(|(_, st)| **st != St::Done)
            .map(|(o, _)| *o)
            .unwrap_or(next.unwrap_or(u64::MAX))
    };
    let passed = |model: &BTreeMap<u64, St>, forgotten: usize| -> usize {
        forgotten + model.values().take_while(|st| **st == St::Done).count()
    };

    for _ in 0..200 {
        let pick = |rng: &mut rand::rngs::StdRng, keys: Vec<u64>| -> Option<u64> {
            (!keys.is_empty()).then(|| keys[rng.random_range(0..keys.len())])
        };
        match rng.random_range(0..12) {
            0..=2 => {
                if let Some(n) = next {
                    let gap = if rng.random_range(0..4) == 0 {
                        rng.random_range(0..5)
                    } else {
                        0
                    };
                    if let Some(offset) = n.checked_add(gap) {
                        guards.insert(offset, tracker.register(offset).unwrap());
                        model.insert(offset, St::Pending);
                        next = offset.checked_add(1);
                    }
                }
            }
            3..=5 => {
                if let Some(o) = pick(&mut rng, guards.keys().copied().collect()) {
                    guards.remove(&o).unwrap().complete();
                    model.insert(o, St::Done);
                }
            }
            6 => {
                if let Some(o) = pick(&mut rng, guards.keys().copied().collect()) {
                    let guard = guards.remove(&o).unwrap();
                    if rng.random_range(0..2) == 0 {
                        guard.fail();
                    } else {
                        drop(guard);
                    }
                    model.insert(o, St::Failed { reported: false });
                }
            }
            7 => {
                let failed = model
                    .iter()
                    .filter(|(_, st)| matches!(st, St::Failed { .. }))
                    .map(|(o, _)| *o)
                    .collect();
                if let Some(o) = pick(&mut rng, failed) {
                    let guard = if rng.random_range(0..2) == 0 {
                        commits.retry(o).unwrap()
                    } else {
                        tracker.retry(o).unwrap()
                    };
                    guards.insert(o, guard);
                    model.insert(o, St::Pending);
                } else if let Some(o) = model.keys().next().copied() {
                    assert!(commits.retry(o).is_err(), "{ctx}: nothing has failed");
                }
            }
            8 => {
                let failed = model
                    .iter()
                    .filter(|(_, st)| matches!(st, St::Failed { .. }))
                    .map(|(o, _)| *o)
                    .collect();
                if let Some(o) = pick(&mut rng, failed) {
                    if rng.random_range(0..2) == 0 {
                        commits.give_up(o).unwrap();
                    } else {
                        tracker.complete(o).unwrap();
                    }
                    model.insert(o, St::Done);
                }
                if let Some(o) = pick(&mut rng, guards.keys().copied().collect()) {
                    assert_eq!(
                        commits.give_up(o),
                        Err(WatermarkError::NotFailed(o)),
                        "{ctx}"
                    );
                }
            }
            9 => tokio::time::advance(Duration::from_millis(rng.random_range(0..30))).await,
            _ => {}
        }
        // Drop what the watermark has passed from the model (keeps it small).
        let wm = watermark(&model, next);
        assert_eq!(tracker.watermark(), wm, "{ctx}");
        if rng.random_range(0..3) == 0 {
            continue; // the committer does not look every time
        }
        // The committer drains what is ready.
        loop {
            match commits.poll_next_unpin(&mut Context::from_waker(&noop)) {
                Poll::Ready(Some(CommitEvent::Failed(o))) => {
                    let st = model.get_mut(&o).expect("a failure of a registered offset");
                    assert!(
                        matches!(st, St::Failed { .. }),
                        "{ctx}: Failed({o}) but it is {st:?}"
                    );
                    *st = St::Failed { reported: true };
                }
                Poll::Ready(Some(CommitEvent::Commit(c))) => {
                    assert!(c > last_commit, "{ctx}: commit {c} after {last_commit}");
                    assert_eq!(c, watermark(&model, next), "{ctx}: commit {c}");
                    if let (Some(d), Some(at)) = (throttle.get_interval(), last_commit_at) {
                        assert!(at.elapsed() >= d, "{ctx}: commit {c} too soon");
                    }
                    let p = passed(&model, forgotten);
                    if let Some(n) = throttle.get_every() {
                        let caught_up = model.values().all(|st| *st == St::Done);
                        assert!(
                            caught_up || (p - passed_at_commit) as u64 >= n,
                            "{ctx}: commit {c} before {n} passed"
                        );
                    }
                    last_commit = c;
                    last_commit_at = Some(Instant::now());
                    passed_at_commit = p;
                }
                Poll::Ready(None) => panic!("{ctx}: ended with a tracker alive"),
                Poll::Pending => break,
            }
        }
        // Every standing failure has been reported.
        for (o, st) in &model {
            assert!(
                !matches!(st, St::Failed { reported: false }),
                "{ctx}: failure of {o} not reported"
            );
        }
        // A commit is held back only as the throttle allows. (A registration after a
        // gap moves the watermark over the gap, but passes nothing: no commit is due.)
        let wm = watermark(&model, next);
        let p = passed(&model, forgotten);
        if wm != last_commit && p != passed_at_commit {
            let by_every = throttle.get_every().is_some_and(|n| {
                model.values().any(|st| *st != St::Done) && ((p - passed_at_commit) as u64) < n
            });
            let by_interval = match (throttle.get_interval(), last_commit_at) {
                (Some(d), Some(at)) => at.elapsed() < d,
                _ => false,
            };
            assert!(
                by_every || by_interval,
                "{ctx}: commit {wm} held back (last {last_commit})"
            );
        }
        // Forget what is far behind the watermark.
        let behind: Vec<u64> = model.range(..wm).map(|(o, _)| *o).collect();
        forgotten += behind.len();
        for o in behind {
            model.remove(&o);
        }
    }
    // Close: settle the guards at random, drop the tracker; the stream flushes and ends.
    let rest: Vec<u64> = guards.keys().copied().collect();
    for o in rest {
        let guard = guards.remove(&o).unwrap();
        if rng.random_range(0..3) == 0 {
            drop(guard);
            model.insert(o, St::Failed { reported: false });
        } else {
            guard.complete();
            model.insert(o, St::Done);
        }
    }
    drop(tracker);
    let mut tail = Vec::new();
    while let Some(event) = within(commits.next()).await {
        tail.push(event);
    }
    let wm = watermark(&model, next);
    let failed: Vec<u64> = model
        .iter()
        .filter(|(_, st)| matches!(st, St::Failed { reported: false }))
        .map(|(o, _)| *o)
        .collect();
    let mut reported: Vec<u64> = tail
        .iter()
        .filter_map(|e| match e {
            CommitEvent::Failed(o) => Some(*o),
            CommitEvent::Commit(_) => None,
        })
        .collect();
    reported.sort_unstable(); // in the order they failed
                              // An offset that failed, was retried and failed again before the committer looked
                              // is reported each time (documented).
    reported.dedup();
    assert_eq!(reported, failed, "{ctx}: failures at the close");
    let last = tail.iter().rev().find_map(|e| match e {
        CommitEvent::Commit(c) => Some(*c),
        CommitEvent::Failed(_) => None,
    });
    if passed(&model, forgotten) != passed_at_commit && wm != last_commit {
        assert_eq!(last, Some(wm), "{ctx}: the final flush");
    } else {
        assert_eq!(last, None, "{ctx}: nothing passed since the last commit");
    }
    assert!(commits.is_terminated());
}

/// Promise (`Throttle`): "one per `d`" for any `d`: a zero interval throttles nothing; an
/// interval far in the future (centuries, still representable) holds every commit after
/// the first until the tracker closes, failures still at once — no overflow, no panic.
#[tokio::test(start_paused = true)]
async fn zero_and_centuries_long_intervals() {
    let (tracker, commits) = commit_tracker(0);
    let mut commits = commits.throttle(Throttle::new().interval(Duration::ZERO));
    for offset in 0..3 {
        tracker.register(offset).unwrap().complete();
        assert_eq!(
            within(commits.next()).await,
            Some(CommitEvent::Commit(offset + 1))
        );
    }

    let centuries = Duration::from_secs(3_600 * 24 * 365 * 500);
    let (tracker, commits) = commit_tracker(0);
    let mut commits = commits.throttle(Throttle::new().interval(centuries));
    tracker.register(0).unwrap().complete();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(1)));
    tracker.register(1).unwrap().complete();
    tracker.register(2).unwrap().fail();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(2)));
    assert!(
        tokio::time::timeout(Duration::from_secs(86_400), commits.next())
            .await
            .is_err(),
        "held back for a day"
    );
    drop(tracker);
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(2)));
    assert_eq!(within(commits.next()).await, None);
}

/// A committer whose held-back commit armed a sleep on a runtime that then shut down is
/// dropped outside any runtime: no panic (the sleep belongs to a dead timer).
#[test]
fn a_committer_with_a_dead_runtimes_sleep_drops_quietly() {
    let (tracker, commits) = commit_tracker(0);
    let mut commits = commits.throttle(Throttle::new().interval(Duration::from_secs(1)));
    let runtime = current_thread(true);
    runtime.block_on(async {
        tracker.register(0).unwrap().complete();
        assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(1)));
        tracker.register(1).unwrap().complete();
        assert!(futures::poll!(commits.next()).is_pending());
    });
    drop(runtime);
    drop(commits);
    drop(tracker);
}

/// Promise (`Commits`, `# Panics`): with an interval, polling outside a runtime panics.
/// A caller that catches that panic has lost nothing: inside a runtime the held-back
/// commit still goes out, and the failure queued before it too.
#[test]
fn a_caught_panic_polling_outside_a_runtime_loses_nothing() {
    quiet_injected_panics();
    let (tracker, commits) = commit_tracker(0);
    // Long enough that the real clock, read outside the runtime, is still inside it.
    let mut commits = commits.throttle(Throttle::new().interval(Duration::from_secs(3_600)));
    let runtime = current_thread(true);
    runtime.block_on(async {
        tracker.register(0).unwrap().complete();
        assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(1)));
    });
    tracker.register(1).unwrap().complete();
    let noop = futures::task::noop_waker();
    let outside = std::panic::catch_unwind(AssertUnwindSafe(|| {
        commits.poll_next_unpin(&mut Context::from_waker(&noop))
    }));
    assert!(outside.is_err(), "no runtime: the throttle's sleep panics");
    tracker.register(2).unwrap().fail();
    let events = runtime.block_on(async {
        drop(tracker);
        let mut events = Vec::new();
        while let Some(event) = within(commits.next()).await {
            events.push(event);
        }
        events
    });
    assert_eq!(events, [CommitEvent::Failed(2), CommitEvent::Commit(2)]);
}

/// Promise (cancel safety): `next()` futures of `spawn_unordered` dropped mid-way — a
/// timeout firing again and again while tasks run — lose no result and shift no
/// position; the watermark ends one past the last.
#[tokio::test(start_paused = true)]
async fn spawn_unordered_next_dropped_mid_way_loses_nothing() {
    let mut s = Box::pin(stream::iter(0..40u64)).spawn_unordered(4, |i| async move {
        tokio::time::sleep(Duration::from_millis(7 * (40 - i) % 23 + 1)).await;
        i
    });
    let mut got = Vec::new();
    let mut cancelled = 0;
    within(async {
        loop {
            match tokio::time::timeout(Duration::from_millis(2), s.next()).await {
                Err(_) => cancelled += 1,
                Ok(Some((seq, r))) => got.push((seq, r.unwrap())),
                Ok(None) => break,
            }
        }
    })
    .await;
    assert!(cancelled > 10, "the timeouts did fire: {cancelled}");
    got.sort_unstable();
    assert_eq!(got, (0..40).map(|i| (i, i)).collect::<Vec<_>>());
    assert_eq!(s.watermark(), 40);
}

/// Promises under threads: failures reported exactly once each and at once, retried in
/// place by the committer (`Commits::retry`, no tracker held), commits only moving up
/// and never past an offset not done, the stream ending one past the last offset once
/// the last retry settles. Two worker threads, a tenth of the attempts failing (by
/// `fail`, by drop, or by a panic in the task), each offset given up after three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_thread_flood_with_failures_and_retries_by_the_committer() {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use std::collections::{BTreeSet, HashMap};

    quiet_injected_panics();
    const N: u64 = 20_000;
    let (tracker, mut commits) = commit_tracker(1_000);
    let done = Arc::new(Mutex::new(BTreeSet::new()));
    let failures = Counter::default();
    let (work_tx, work_rx) = tokio::sync::mpsc::unbounded_channel::<InFlight>();
    let work_rx = Arc::new(tokio::sync::Mutex::new(work_rx));
    let workers: Vec<_> = (0..2u64)
        .map(|w| {
            let (work_rx, done, failures) = (work_rx.clone(), done.clone(), failures.clone());
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(w);
                loop {
                    let Some(guard) = work_rx.lock().await.recv().await else {
                        break;
                    };
                    let offset = guard.offset();
                    match rng.random_range(0..30) {
                        0 => {
                            failures.incr();
                            guard.fail();
                        }
                        1 => {
                            failures.incr();
                            drop(guard);
                        }
                        2 => {
                            failures.incr();
                            let task = tokio::spawn(async move {
                                let _guard = guard;
                                panic!("injected: processing {offset} failed");
                            });
                            assert!(task.await.unwrap_err().is_panic());
                        }
                        _ => {
                            done.lock().unwrap().insert(offset);
                            guard.complete();
                        }
                    }
                    if offset % 64 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for offset in 1_000..1_000 + N {
        work_tx.send(tracker.register(offset).unwrap()).unwrap();
    }
    drop(tracker);
    let mut attempts: HashMap<u64, u32> = HashMap::new();
    let mut given_up = BTreeSet::new();
    let mut reported = 0;
    let mut last = 1_000;
    while let Some(event) = within(commits.next()).await {
        match event {
            CommitEvent::Failed(offset) => {
                reported += 1;
                let n = attempts.entry(offset).or_insert(1);
                if *n == 3 {
                    commits.give_up(offset).unwrap();
                    given_up.insert(offset);
                } else {
                    *n += 1;
                    work_tx.send(commits.retry(offset).unwrap()).unwrap();
                }
            }
            CommitEvent::Commit(offset) => {
                assert!(offset > last, "commit {offset} after {last}");
                let done = done.lock().unwrap();
                assert!(
                    (last..offset).all(|o| done.contains(&o) || given_up.contains(&o)),
                    "commit {offset} passed an offset not done"
                );
                last = offset;
            }
        }
    }
    drop(work_tx);
    for worker in workers {
        within(worker).await.unwrap();
    }
    assert_eq!(last, 1_000 + N);
    assert_eq!(reported, failures.get(), "every failure reported once");
    assert!(reported > 100, "failures were injected: {reported}");
}

/// Promise (`SpawnUnordered`): an unresolved failure "does not stop the stream — new
/// work keeps starting". A *retry* of it does, for as long as it runs: it is then the
/// oldest running task, and inputs start at most `window` positions past it (the doc of
/// `retry` now says so). The stream goes on when the retry finishes.
#[tokio::test(start_paused = true)]
async fn a_retry_far_behind_holds_new_inputs_to_the_window_while_it_runs() {
    quiet_injected_panics();
    let config = SpawnConfig::new(2).window(4);
    let mut s = Box::pin(stream::iter(0..100u64)).spawn_unordered_with(config, |i| async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(i != 0, "injected: position 0 fails");
        i
    });
    for _ in 0..50 {
        let _ = within(s.next()).await.unwrap();
    }
    assert_eq!(s.failed().collect::<Vec<_>>(), [0]);
    assert!(s.next_seq() > 50, "the failure did not stop the stream");
    let before = s.next_seq();
    s.retry(0, async {
        tokio::time::sleep(Duration::from_secs(25)).await;
        0
    })
    .unwrap();
    let mut during = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(20), s.next()).await {
        during += 1;
    }
    assert_eq!(s.next_seq(), before, "no input starts beyond the window");
    assert!(during <= 2, "only what was running finished: {during}");
    let rest: Vec<_> = within(async {
        let mut rest = Vec::new();
        while let Some((seq, r)) = s.next().await {
            rest.push((seq, r.unwrap()));
        }
        rest
    })
    .await;
    assert!(rest.contains(&(0, 0)));
    assert_eq!(s.next_seq(), 100);
    assert_eq!(s.watermark(), 100);
}
