//! Hostile tests for the commit-watermark side: `commit_tracker` (`CommitTracker`,
//! `InFlight`, `Commits`), `Watermark`, `KeyedWatermark` and `spawn_unordered`'s
//! watermark. Each test names the documented promise it tries to break.
//!
//! Every async test runs under a timeout; a poll that might deadlock runs on a thread of
//! its own with a deadline.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{self, FusedStream};
use futures::task::ArcWake;
use futures::{FutureExt, StreamExt};
use reorder::{
    commit_tracker, CommitEvent, InFlight, KeyedWatermark, OrderedExt, SpawnConfig, Throttle,
    Watermark, WatermarkError,
};

mod common;
use common::{quiet_injected_panics, settle, within, Counter, DropGuard, Gauge};

/// Runs `f` on its own thread and fails (instead of hanging) if it has not returned
/// within 10 s: a deadlock cannot be cancelled by a tokio timeout.
fn on_a_thread_within_10s<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (done, result) = std_mpsc::channel();
    std::thread::spawn(move || done.send(f()).unwrap());
    result
        .recv_timeout(Duration::from_secs(10))
        .expect("hung: a call never returned (deadlock?)")
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

/// A waker that owns an `InFlight` guard: when its last reference is dropped, the guard
/// is dropped unfinished and fails its offset, which takes the tracker's lock.
struct GuardOwningWaker(Mutex<Option<InFlight>>);

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
            paused_runtime().block_on(async move {
                let (tracker, commits) = commit_tracker(0);
                let mut commits =
                    commits.throttle(Throttle::new().interval(Duration::from_secs(60)));
                tracker.register(0).unwrap().complete();
                assert_eq!(commits.next().await, Some(CommitEvent::Commit(1)));
                if held_back {
                    // A commit the interval holds back: the poll sleeps (`Due::At`).
                    tracker.register(1).unwrap().complete();
                }
                let owner = Arc::new(GuardOwningWaker(Mutex::new(Some(
                    tracker.register(2).unwrap(),
                ))));
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
}

/// Promise (bug table: "a Reorder whose timer was armed on a runtime that shut down
/// panicked when polled on another runtime" — fixed there). The throttle's sleep is a
/// timer too: a committer moved to a new runtime while a commit was held back must
/// still get it.
#[test]
fn a_committer_moved_to_another_runtime_keeps_its_throttle() {
    let (tracker, commits) = commit_tracker(0);
    let mut commits = commits.throttle(Throttle::new().interval(Duration::from_secs(1)));
    let first = paused_runtime();
    first.block_on(async {
        tracker.register(0).unwrap().complete();
        assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(1)));
        tracker.register(1).unwrap().complete();
        assert!(futures::poll!(commits.next()).is_pending(), "held back");
    });
    drop(first);
    let got = paused_runtime().block_on(async {
        let commit = within(commits.next()).await;
        drop(tracker);
        (commit, within(commits.next()).await)
    });
    assert_eq!(got, (Some(CommitEvent::Commit(2)), None));
}
