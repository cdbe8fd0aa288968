//! The commit watermark's async face: tasks complete offsets through a cloneable
//! [`CommitTracker`] (or an [`InFlight`] guard), and one committer reads [`Commits`]: the
//! watermark as it advances, throttled, and every failure.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream};
use tokio::time::{Instant, Sleep};

use crate::error::WatermarkError;
use crate::watermark::Watermark;

/// Makes a commit tracker whose watermark starts at `base` (the committed offset to
/// resume from): the [`CommitTracker`] that tasks complete offsets on, and the
/// [`Commits`] stream a committer reads.
///
/// Register each offset as you take it from the log, in increasing order (gaps allowed);
/// each [`register`](CommitTracker::register) hands back an [`InFlight`] guard to move into
/// the task that processes it. [`Commits`] yields [`CommitEvent::Commit(offset)`](CommitEvent::Commit) when the
/// watermark — the lowest offset not yet complete, or one past the highest when all are:
/// Kafka's *next offset to consume* — has passed more registered offsets, at most as
/// often as its [`Throttle`] allows (a registration after a gap moves the watermark over
/// the gap but passes nothing done, so it is no commit of its own), and [`CommitEvent::Failed(offset)`](CommitEvent::Failed) at once for every failure, so the committer
/// can retry it ([`CommitTracker::retry`]) or dead-letter it ([`CommitTracker::complete`]).
/// A failed offset holds the watermark below it until then: it is never committed
/// silently.
///
/// The stream ends once every [`CommitTracker`] clone and every guard is gone, after a
/// last `Commit` if the watermark passed more offsets since the previous one.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use reorder::{commit_tracker, CommitEvent};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tracker, mut commits) = commit_tracker(100);
/// let mut tasks = Vec::new();
/// for offset in [100, 101, 105] {
///     let guard = tracker.register(offset).unwrap();
///     tasks.push(tokio::spawn(async move {
///         if offset == 101 {
///             guard.fail(); // or panic, or drop the guard: all count as a failure
///         } else {
///             guard.complete();
///         }
///     }));
/// }
/// for task in tasks {
///     task.await.unwrap();
/// }
/// assert_eq!(commits.next().await, Some(CommitEvent::Failed(101)));
/// assert_eq!(commits.next().await, Some(CommitEvent::Commit(101))); // 100 is done
/// let retry = tracker.retry(101).unwrap(); // same offset, same place
/// retry.complete();
/// drop(tracker);
/// assert_eq!(commits.next().await, Some(CommitEvent::Commit(106)));
/// assert_eq!(commits.next().await, None);
/// # }
/// ```
pub fn commit_tracker(base: u64) -> (CommitTracker, Commits) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            watermark: Watermark::with_base(base),
            failures: VecDeque::new(),
            committer: true,
            handles: 1,
            waker: None,
        }),
    });
    let commits = Commits {
        shared: Arc::clone(&shared),
        throttle: Throttle::new(),
        committed_passed: 0,
        committed: base,
        last_commit: None,
        sleep: None,
        sleep_runtime: None,
        done: false,
    };
    (CommitTracker { shared }, commits)
}

/// What a committer should do, yielded by [`Commits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CommitEvent {
    /// Commit this offset: every registered offset below it is complete. It is the next
    /// offset to consume, as Kafka commits expect.
    Commit(u64),
    /// This offset failed (by [`InFlight::fail`], a guard dropped unfinished, or
    /// [`CommitTracker::fail`]). The watermark stays at or below it until it is retried
    /// and completes, or is completed as handled.
    Failed(u64),
}

/// How often [`Commits`] may yield a [`CommitEvent::Commit`], so a commit callback does
/// not hammer the broker. Failures are never throttled.
///
/// | setting | a commit waits until | bound on commits |
/// |---|---|---|
/// | none ([`new`](Self::new)) | the watermark moves | one per advance |
/// | [`interval(d)`](Self::interval) | `d` has passed since the previous commit (the first goes at once) | one per `d`, plus a last one when the tracker closes |
/// | [`every(n)`](Self::every) | the watermark has passed `n` more offsets, or has caught up with everything registered | one per `n` offsets, plus one each time it catches up |
/// | both | both hold | both bounds |
///
/// A commit held back is never lost: the latest watermark goes out as soon as the
/// throttle allows, and when the last [`CommitTracker`] handle is gone, at once.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reorder::Throttle;
///
/// let throttle = Throttle::new().interval(Duration::from_secs(5)).every(1_000);
/// assert_eq!(throttle.get_interval(), Some(Duration::from_secs(5)));
/// assert_eq!(throttle.get_every(), Some(1_000));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Throttle {
    interval: Option<Duration>,
    every: Option<u64>,
}

impl Throttle {
    /// No throttling: a commit for every advance of the watermark.
    pub const fn new() -> Self {
        Self {
            interval: None,
            every: None,
        }
    }

    /// At most one commit per `interval`. `Duration::MAX` means one at the start and one
    /// at the end.
    #[must_use = "builder methods return the changed settings"]
    pub const fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// A commit only once the watermark has passed `n` more offsets since the previous
    /// one, or has caught up with everything registered.
    ///
    /// # Panics
    ///
    /// Panics if `n` is 0.
    #[track_caller]
    #[must_use = "builder methods return the changed settings"]
    pub const fn every(mut self, n: u64) -> Self {
        assert!(n > 0, "Throttle::every: n must be at least 1");
        self.every = Some(n);
        self
    }

    /// The interval, if set.
    pub const fn get_interval(&self) -> Option<Duration> {
        self.interval
    }

    /// The offset count, if set.
    pub const fn get_every(&self) -> Option<u64> {
        self.every
    }
}

struct Shared {
    state: Mutex<State>,
}

struct State {
    watermark: Watermark,
    /// Failures not yet yielded by `Commits`.
    failures: VecDeque<u64>,
    /// Whether `Commits` is alive: once it is dropped, failures are not queued.
    committer: bool,
    /// `CommitTracker` handles alive, guards included (each holds one).
    handles: usize,
    waker: Option<Waker>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing under the lock panics midway; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the state; wakes the committer afterwards (outside the lock) if `f`
    /// says the committer has news.
    fn update<R>(&self, f: impl FnOnce(&mut State) -> (R, bool)) -> R {
        let mut state = self.lock();
        let (result, news) = f(&mut state);
        let waker = if news { state.waker.take() } else { None };
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        result
    }
}

/// The handle tasks complete offsets on; cheap to clone (an `Arc`). Made by
/// [`commit_tracker`].
///
/// Completing, failing or retrying by offset is for code that does not hold the
/// offset's [`InFlight`] guard; a task that does should use the guard. The two do not
/// know of each other: a guard from a first attempt that is dropped unfinished after the
/// offset was failed and [`retry`](Self::retry)ed by offset fails the retry too, and one
/// completed then completes it — the retry's own outcome is then ignored, even a
/// failure. So give each attempt its own guard (the one `retry` returns) and drop or
/// finish the old one first.
pub struct CommitTracker {
    shared: Arc<Shared>,
}

impl CommitTracker {
    /// Starts `offset` in flight and returns its guard. Offsets must increase (gaps are
    /// fine).
    ///
    /// # Errors
    ///
    /// [`WatermarkError::NotIncreasing`] if `offset` is not above every one registered so
    /// far (or is below the base).
    pub fn register(&self, offset: u64) -> Result<InFlight, WatermarkError> {
        self.shared
            .update(|s| (s.watermark.register(offset), false))?;
        Ok(InFlight::new(self.clone(), offset))
    }

    /// Marks `offset` complete — also a failed one, which then counts as handled (e.g.
    /// dead-lettered) and lets the watermark pass.
    ///
    /// # Errors
    ///
    /// As [`Watermark::complete`].
    pub fn complete(&self, offset: u64) -> Result<(), WatermarkError> {
        self.shared.update(|s| {
            let passed = s.watermark.passed();
            let result = s.watermark.complete(offset);
            (result, s.watermark.passed() != passed)
        })
    }

    /// Marks `offset` failed and reports it to [`Commits`] as
    /// [`CommitEvent::Failed`]. The watermark stays at or below it.
    ///
    /// # Errors
    ///
    /// As [`Watermark::fail`].
    pub fn fail(&self, offset: u64) -> Result<(), WatermarkError> {
        self.shared.update(|s| fail(s, offset))
    }

    /// Puts a failed `offset` back in flight in its own place and returns a new guard for
    /// the retry.
    ///
    /// # Errors
    ///
    /// As [`Watermark::retry`]: the offset must have failed.
    pub fn retry(&self, offset: u64) -> Result<InFlight, WatermarkError> {
        self.shared.update(|s| (s.watermark.retry(offset), false))?;
        Ok(InFlight::new(self.clone(), offset))
    }

    /// The watermark now: the offset it is safe to commit.
    pub fn watermark(&self) -> u64 {
        self.shared.lock().watermark.get()
    }

    /// Whether `u64::MAX` was registered and everything is complete (the watermark
    /// saturates at `u64::MAX`).
    pub fn is_exhausted(&self) -> bool {
        self.shared.lock().watermark.is_exhausted()
    }

    /// Offsets registered and not yet complete (pending or failed).
    pub fn in_flight(&self) -> usize {
        self.shared.lock().watermark.in_flight()
    }
}

fn fail(state: &mut State, offset: u64) -> (Result<(), WatermarkError>, bool) {
    let was_failed = state.watermark.is_failed(offset);
    let result = state.watermark.fail(offset);
    let news = result.is_ok() && !was_failed;
    if news && state.committer {
        state.failures.push_back(offset);
    }
    (result, news)
}

impl Clone for CommitTracker {
    fn clone(&self) -> Self {
        self.shared.lock().handles += 1;
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for CommitTracker {
    fn drop(&mut self) {
        self.shared.update(|s| {
            s.handles -= 1;
            ((), s.handles == 0)
        });
    }
}

impl fmt::Debug for CommitTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("CommitTracker")
            .field("watermark", &state.watermark)
            .field("handles", &state.handles)
            .field("failures_queued", &state.failures.len())
            .finish()
    }
}

/// One offset in flight, from [`CommitTracker::register`] or [`CommitTracker::retry`].
///
/// Move it into the task that processes the offset and [`complete`](Self::complete) it
/// when done. Dropping it unfinished — the task failed, returned early, panicked or was
/// cancelled — counts as a failure: the watermark stays below the offset and [`Commits`]
/// reports [`CommitEvent::Failed`].
#[must_use = "dropping the guard fails its offset"]
#[clippy::has_significant_drop]
pub struct InFlight {
    tracker: Option<CommitTracker>,
    offset: u64,
}

impl InFlight {
    fn new(tracker: CommitTracker, offset: u64) -> Self {
        Self {
            tracker: Some(tracker),
            offset,
        }
    }

    /// The offset this guard holds.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Completes the offset. If someone already settled it through the
    /// [`CommitTracker`], this does nothing.
    pub fn complete(mut self) {
        if let Some(tracker) = self.tracker.take() {
            let _ = tracker.complete(self.offset);
        }
    }

    /// Fails the offset, as dropping the guard would, but says so.
    pub fn fail(mut self) {
        self.fail_now();
    }

    fn fail_now(&mut self) {
        if let Some(tracker) = self.tracker.take() {
            // Settled already through the tracker: nothing to fail.
            let _ = tracker.fail(self.offset);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.fail_now();
    }
}

impl fmt::Debug for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InFlight")
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// The committer's side of a [`commit_tracker`]: a stream of [`CommitEvent`]s.
///
/// Yields every failure at once, and the watermark whenever it has passed more offsets
/// and the [`Throttle`] allows; ends when every [`CommitTracker`] handle and guard is
/// gone (after a final commit if one is due) — until a [`retry`](Self::retry) reopens
/// it.
///
/// Failures wait in a queue until this stream takes them: while it is not polled the
/// queue grows by one per failure (an offset that fails, is retried and fails again is
/// reported each time), not with what is in flight. Offsets still in flight then stay
/// uncommitted: a restart redoes them. Once the stream is dropped, failures are no
/// longer queued.
///
/// # Panics
///
/// With a throttle interval, polling panics outside a tokio runtime with timers.
///
/// # Cancel safety
///
/// Events wait in the shared state, not in the future `next()` returns; dropping that
/// future loses nothing.
#[must_use = "streams do nothing unless polled"]
pub struct Commits {
    shared: Arc<Shared>,
    throttle: Throttle,
    /// `Watermark::passed` at the previous commit.
    committed_passed: u64,
    /// The watermark at the previous commit (the base before the first): passing
    /// `u64::MAX` does not move it, as it saturates.
    committed: u64,
    last_commit: Option<Instant>,
    sleep: Option<Pin<Box<Sleep>>>,
    /// The runtime whose timer `sleep` is registered with: a sleep of a runtime that has
    /// shut down panics when polled, so another runtime gets a sleep of its own.
    sleep_runtime: Option<tokio::runtime::Id>,
    /// `None` was yielded, and nothing has happened since (a [`Commits::retry`] after
    /// the end reopens the stream).
    done: bool,
}

impl Commits {
    /// Commits no more often than `throttle` allows; see [`Throttle`].
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = throttle;
        self
    }

    /// The watermark now (which may be ahead of the last commit yielded).
    pub fn watermark(&self) -> u64 {
        self.shared.lock().watermark.get()
    }

    /// Retries a failed `offset` in its own place, as [`CommitTracker::retry`]: the
    /// committer that saw [`CommitEvent::Failed`] can act on it without holding a
    /// tracker (which would keep this stream from ending). The guard keeps the stream
    /// open until the retry settles; called after the stream has ended, it reopens it
    /// until then.
    ///
    /// # Errors
    ///
    /// As [`Watermark::retry`]: the offset must have failed.
    pub fn retry(&self, offset: u64) -> Result<InFlight, WatermarkError> {
        // The guard's handle is counted under the same lock as the retry.
        self.shared.update(|s| {
            let result = s.watermark.retry(offset).map(|()| s.handles += 1);
            (result, false)
        })?;
        Ok(InFlight::new(
            CommitTracker {
                shared: Arc::clone(&self.shared),
            },
            offset,
        ))
    }

    /// Lets the watermark pass the failed `offset`: its failure was handled (logged,
    /// dead-lettered).
    ///
    /// # Errors
    ///
    /// [`WatermarkError::NotFailed`] if it is in flight and has not failed; otherwise as
    /// [`Watermark::complete`].
    pub fn give_up(&self, offset: u64) -> Result<(), WatermarkError> {
        self.shared.update(|s| {
            if s.watermark.is_pending(offset) {
                return (Err(WatermarkError::NotFailed(offset)), false);
            }
            let passed = s.watermark.passed();
            let result = s.watermark.complete(offset);
            (result, s.watermark.passed() != passed)
        })
    }

    /// When the commit the throttle may be holding back goes out.
    fn due(&self, state: &State) -> Due {
        let wm = &state.watermark;
        let closing = state.handles == 0;
        if let Some(n) = self.throttle.every {
            if !closing && !wm.is_empty() && wm.passed() - self.committed_passed < n {
                return Due::Later;
            }
        }
        let Some(interval) = self.throttle.interval else {
            return Due::Now(None);
        };
        let now = Instant::now();
        match self.last_commit {
            Some(last) if !closing => match last.checked_add(interval) {
                Some(at) if at > now => Due::At(at),
                Some(_) => Due::Now(Some(now)),
                // Never again before closing.
                None => Due::Later,
            },
            _ => Due::Now(Some(now)),
        }
    }
}

enum Due {
    /// Commit now (at this instant, when an interval is kept).
    Now(Option<Instant>),
    /// Not before this instant.
    At(Instant),
    /// Not until something changes.
    Later,
}

impl Stream for Commits {
    type Item = CommitEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<CommitEvent>> {
        let this = &mut *self;
        loop {
            let mut state = this.shared.lock();
            while let Some(offset) = state.failures.pop_front() {
                // Retried or handled since it failed: no longer news.
                if state.watermark.is_failed(offset) {
                    this.done = false;
                    return Poll::Ready(Some(CommitEvent::Failed(offset)));
                }
            }
            let passed = state.watermark.passed();
            if passed != this.committed_passed && state.watermark.get() == this.committed {
                // Saturated at `u64::MAX`: passed more, but the watermark has not moved.
                this.committed_passed = passed;
            }
            if passed != this.committed_passed {
                match this.due(&state) {
                    Due::Now(at) => {
                        this.committed_passed = passed;
                        this.committed = state.watermark.get();
                        this.last_commit = at;
                        this.sleep = None;
                        this.done = false;
                        return Poll::Ready(Some(CommitEvent::Commit(this.committed)));
                    }
                    Due::At(at) => {
                        // Registered first, so news from a task still wakes us early.
                        let replaced = state.waker.replace(cx.waker().clone());
                        drop(state);
                        // Outside the lock: its last reference may own a guard.
                        drop(replaced);
                        let runtime = tokio::runtime::Handle::current().id();
                        let sleep = match this.sleep.as_mut() {
                            Some(sleep) if this.sleep_runtime == Some(runtime) => {
                                if sleep.deadline() != at {
                                    sleep.as_mut().reset(at);
                                }
                                sleep
                            }
                            _ => {
                                this.sleep_runtime = Some(runtime);
                                this.sleep.insert(Box::pin(tokio::time::sleep_until(at)))
                            }
                        };
                        if sleep.as_mut().poll(cx).is_ready() {
                            this.sleep = None;
                            continue;
                        }
                        return Poll::Pending;
                    }
                    Due::Later => {}
                }
            }
            if state.handles == 0 {
                this.done = true;
                return Poll::Ready(None);
            }
            this.done = false;
            let replaced = state.waker.replace(cx.waker().clone());
            drop(state);
            // Outside the lock: a waker's last reference may own a guard or a tracker,
            // whose drop takes the lock.
            drop(replaced);
            return Poll::Pending;
        }
    }
}

impl Drop for Commits {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.committer = false;
        let failures = std::mem::take(&mut state.failures);
        let waker = state.waker.take();
        drop(state);
        // Outside the lock, as everywhere.
        drop((failures, waker));
    }
}

impl FusedStream for Commits {
    /// Whether the stream has ended and nothing has happened since: a retry through
    /// [`Commits::retry`] after the end reopens it.
    fn is_terminated(&self) -> bool {
        if !self.done {
            return false;
        }
        let state = self.shared.lock();
        state.handles == 0
            && state.failures.is_empty()
            && state.watermark.passed() == self.committed_passed
    }
}

impl fmt::Debug for Commits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commits")
            .field("throttle", &self.throttle)
            .field("watermark", &self.watermark())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
