//! `commit_tracker`: the async face of the commit watermark — guards, failures reported
//! to the committer, retry in place, throttling under paused time, the stream's end.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use reorder::{commit_tracker, CommitEvent, Throttle, WatermarkError};
use tokio::time::Instant;

mod common;
use common::{quiet_injected_panics, settle, within};

#[tokio::test]
async fn a_guard_dropped_unfinished_is_a_failure() {
    let (tracker, mut commits) = commit_tracker(0);
    let a = tracker.register(0).unwrap();
    let b = tracker.register(1).unwrap();
    drop(a);
    b.complete();
    assert_eq!(tracker.watermark(), 0, "the failure holds the watermark");
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(0)));
    // Nothing to commit yet: 0 failed, so the watermark has not moved.
    drop(tracker);
    assert_eq!(within(commits.next()).await, None);
}

#[tokio::test]
async fn a_panicking_or_aborted_task_fails_its_offset() {
    quiet_injected_panics();
    let (tracker, mut commits) = commit_tracker(10);
    let panics = {
        let guard = tracker.register(10).unwrap();
        tokio::spawn(async move {
            let _guard = guard;
            panic!("injected: processing failed");
        })
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let hangs = {
        let guard = tracker.register(12).unwrap();
        tokio::spawn(async move {
            let _ = rx.await;
            guard.complete();
        })
    };
    assert!(panics.await.unwrap_err().is_panic());
    hangs.abort();
    assert!(hangs.await.unwrap_err().is_cancelled());
    drop(tx);
    // In the order they failed.
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(10)));
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(12)));
    assert_eq!(tracker.watermark(), 10);
}

#[tokio::test]
async fn retry_keeps_the_offset_in_place_and_dead_letter_lets_it_pass() {
    let (tracker, mut commits) = commit_tracker(0);
    let guards: Vec<_> = [2, 5, 9].map(|o| tracker.register(o).unwrap()).into();
    let mut guards = guards.into_iter();
    guards.next().unwrap().fail(); // 2
    guards.next().unwrap().fail(); // 5
    guards.next().unwrap().complete(); // 9
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(2)));
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(5)));
    // A retry re-enters at the same offset: the watermark still stops at it.
    let retry = tracker.retry(2).unwrap();
    assert_eq!(retry.offset(), 2);
    assert_eq!(tracker.watermark(), 2);
    assert!(matches!(
        tracker.retry(2),
        Err(WatermarkError::NotFailed(2))
    ));
    retry.complete();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(5)));
    // Dead-lettered: completing the failed offset counts it as handled.
    tracker.complete(5).unwrap();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(10)));
    assert_eq!(tracker.in_flight(), 0);
}

#[tokio::test]
async fn a_failure_retried_before_the_committer_looks_is_not_reported() {
    let (tracker, mut commits) = commit_tracker(0);
    tracker.register(0).unwrap().fail();
    let retry = tracker.retry(0).unwrap();
    retry.complete();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(1)));
    // Failing again is news again.
    tracker.register(1).unwrap().fail();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(1)));
}

#[tokio::test]
async fn misuse_through_the_tracker_is_a_typed_error() {
    let (tracker, _commits) = commit_tracker(100);
    assert_eq!(
        tracker.register(99).unwrap_err(),
        WatermarkError::NotIncreasing(99)
    );
    let guard = tracker.register(100).unwrap();
    assert_eq!(tracker.complete(101), Err(WatermarkError::Unknown(101)));
    tracker.complete(100).unwrap();
    // The guard of an offset settled through the tracker does nothing.
    drop(guard);
    assert_eq!(tracker.watermark(), 101);
    assert_eq!(tracker.fail(100), Err(WatermarkError::Unknown(100)));
}

#[tokio::test(start_paused = true)]
async fn the_stream_ends_when_every_handle_is_gone_and_flushes_the_last_commit() {
    let (tracker, commits) = commit_tracker(0);
    let mut commits = commits.throttle(Throttle::new().every(1_000));
    let first = tracker.register(3).unwrap();
    let stuck = tracker.register(4).unwrap();
    first.complete();
    let clone = tracker.clone();
    drop(tracker);
    let quiet = Duration::from_secs(60);
    // Held back by the throttle, and a handle is alive: nothing yet, and no end.
    assert!(tokio::time::timeout(quiet, commits.next()).await.is_err());
    drop(clone);
    // The guard is a handle too.
    assert!(tokio::time::timeout(quiet, commits.next()).await.is_err());
    drop(stuck); // fails 4, and was the last handle
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(4)));
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(4)));
    assert_eq!(within(commits.next()).await, None);
    assert!(futures::stream::FusedStream::is_terminated(&commits));
    assert_eq!(within(commits.next()).await, None);
}

#[tokio::test]
async fn trackers_outlive_a_dropped_committer() {
    let (tracker, commits) = commit_tracker(0);
    drop(commits);
    tracker.register(0).unwrap().fail();
    tracker.register(1).unwrap().complete();
    assert_eq!(tracker.watermark(), 0);
}

#[tokio::test]
async fn u64_max_saturates_through_the_tracker() {
    let (tracker, mut commits) = commit_tracker(u64::MAX - 1);
    tracker.register(u64::MAX - 1).unwrap().complete();
    tracker.register(u64::MAX).unwrap().complete();
    assert!(tracker.is_exhausted());
    assert_eq!(
        tracker.register(u64::MAX).unwrap_err(),
        WatermarkError::NotIncreasing(u64::MAX)
    );
    assert_eq!(
        within(commits.next()).await,
        Some(CommitEvent::Commit(u64::MAX))
    );
}

/// Completes `n` offsets (sparse: 0, 3, 6, …) in a shuffled order, one every millisecond
/// of paused time, while a committer reads `commits`; returns every event and the offsets
/// complete at each commit.
async fn drive(n: u64, throttle: Throttle) -> (Vec<CommitEvent>, Vec<BTreeSet<u64>>, Duration) {
    let (tracker, commits) = commit_tracker(0);
    let mut commits = commits.throttle(throttle);
    let offsets: Vec<u64> = (0..n).map(|i| i * 3).collect();
    let mut guards: Vec<_> = offsets
        .iter()
        .map(|&o| Some(tracker.register(o).unwrap()))
        .collect();
    drop(tracker);
    let done = Arc::new(Mutex::new(BTreeSet::new()));
    let start = Instant::now();
    let worker = {
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            // A fixed permutation: i * 7 mod n, with n not a multiple of 7.
            for i in 0..guards.len() {
                let j = (i * 7) % guards.len();
                tokio::time::sleep(Duration::from_millis(1)).await;
                let guard = guards[j].take().unwrap();
                done.lock().unwrap().insert(guard.offset());
                guard.complete();
            }
        })
    };
    let mut events = Vec::new();
    let mut snapshots = Vec::new();
    while let Some(event) = within(commits.next()).await {
        snapshots.push(done.lock().unwrap().clone());
        events.push(event);
    }
    worker.await.unwrap();
    (events, snapshots, start.elapsed())
}

fn check_commits(events: &[CommitEvent], snapshots: &[BTreeSet<u64>], n: u64) -> usize {
    let mut last = 0;
    for (event, done) in events.iter().zip(snapshots) {
        let CommitEvent::Commit(wm) = *event else {
            panic!("no failures here: {event:?}");
        };
        assert!(wm > last, "commits only move forward");
        last = wm;
        // Never past an incomplete offset.
        for o in (0..n).map(|i| i * 3).filter(|&o| o < wm) {
            assert!(done.contains(&o), "committed {wm} with {o} incomplete");
        }
    }
    assert_eq!(last, (n - 1) * 3 + 1, "the last commit covers everything");
    events.len()
}

#[tokio::test(start_paused = true)]
async fn unthrottled_commits_follow_every_advance() {
    let (events, snapshots, _) = drive(200, Throttle::new()).await;
    let commits = check_commits(&events, &snapshots, 200);
    assert!(
        commits > 20,
        "{commits} commits: advances are not coalesced"
    );
}

#[tokio::test(start_paused = true)]
async fn an_interval_bounds_the_commits_under_paused_time() {
    let interval = Duration::from_millis(50);
    let (events, snapshots, elapsed) = drive(701, Throttle::new().interval(interval)).await;
    let commits = check_commits(&events, &snapshots, 701);
    let bound = (elapsed.as_millis() / interval.as_millis()) as usize + 2;
    assert!(commits <= bound, "{commits} commits in {elapsed:?}");
    assert!(commits >= 2);
}

#[tokio::test(start_paused = true)]
async fn every_n_bounds_the_commits_by_offsets_passed() {
    let (events, snapshots, _) = drive(701, Throttle::new().every(100)).await;
    let commits = check_commits(&events, &snapshots, 701);
    assert!(commits <= 701 / 100 + 1, "{commits} commits");
    assert!(commits >= 2);
}

#[tokio::test(start_paused = true)]
async fn both_throttles_hold_both_bounds() {
    let interval = Duration::from_millis(200);
    let throttle = Throttle::new().interval(interval).every(10);
    let (events, snapshots, elapsed) = drive(701, throttle).await;
    let commits = check_commits(&events, &snapshots, 701);
    assert!(commits <= (elapsed.as_millis() / interval.as_millis()) as usize + 2);
    assert!(commits <= 701 / 10 + 1);
}

#[tokio::test(start_paused = true)]
async fn a_held_back_commit_goes_out_when_the_interval_ends() {
    let (tracker, commits) = commit_tracker(0);
    let mut commits = commits.throttle(Throttle::new().interval(Duration::from_secs(10)));
    tracker.register(0).unwrap().complete();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(1)));
    tracker.register(1).unwrap().complete();
    let start = Instant::now();
    // The tracker is still alive: only the interval lets this commit out.
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(2)));
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    // A failure is never throttled.
    tracker.register(2).unwrap().fail();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(2)));
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    settle().await;
}

#[tokio::test]
async fn the_committer_retries_and_gives_up_without_holding_a_tracker() {
    let (tracker, mut commits) = commit_tracker(0);
    tracker.register(0).unwrap().fail();
    tracker.register(1).unwrap().fail();
    let last = tracker.register(2).unwrap();
    drop(tracker);
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(0)));
    let retry = commits.retry(0).unwrap();
    assert_eq!(commits.give_up(2), Err(WatermarkError::NotFailed(2)));
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Failed(1)));
    commits.give_up(1).unwrap(); // dead-lettered
    assert_eq!(commits.watermark(), 0, "the retry is still in flight");
    retry.complete();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(2)));
    // The retry's guard was a handle; `last` is the only one left.
    last.complete();
    assert_eq!(within(commits.next()).await, Some(CommitEvent::Commit(3)));
    assert_eq!(within(commits.next()).await, None);
}

#[test]
fn auto_traits() {
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}
    send_sync_unpin::<reorder::CommitTracker>();
    send_sync_unpin::<reorder::InFlight>();
    send_sync_unpin::<reorder::Commits>();
    send_sync_unpin::<reorder::Watermark>();
    send_sync_unpin::<reorder::KeyedWatermark<String>>();
    send_sync_unpin::<Throttle>();
    send_sync_unpin::<CommitEvent>();
    send_sync_unpin::<WatermarkError>();
}
