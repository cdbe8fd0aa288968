//! The engine under [`SpawnOrdered`](crate::SpawnOrdered) and
//! [`OrderedJoinSet`](crate::OrderedJoinSet): every spawned task's `JoinHandle` waits in
//! spawn order, and the consumer takes the results from the front one by one.
//!
//! A `JoinHandle` resolves exactly once whatever happens to its task: its output, its
//! panic (tokio catches it), its timeout (the task's own output), or its cancellation —
//! aborted, or dropped by its runtime shutting down. So the consumer never waits for a
//! position that cannot come, and each result stays in its task until its turn: the
//! handles are both the results' way back and the reorder buffer.
//!
//! The concurrency limit needs to know when *any* task finishes, not only the front
//! one: each task carries a [`Finished`] guard that counts it done and wakes the consumer
//! when the task's future is dropped — after its last poll, on abort, or at runtime
//! shutdown. The counts the public types report (`in_flight`, `buffered_len`) are a
//! snapshot of that count taken when the consumer polls, as they were when results came
//! through a channel.
//!
//! (The first engine had each task send `(seq, outcome)` on an unbounded mpsc into a
//! `ReorderBuffer`. That channel's shared counters cost tiny jobs 10–20% against
//! `map(tokio::spawn).buffered(n)`. [`spawn_reporting`] and [`Report`] remain for
//! `spawn_ordered_by_key`, whose per-key lanes take results from one channel.)

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use futures_util::FutureExt;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinHandle};

use crate::TaskError;

pub(crate) type Outcome<T> = Result<T, TaskError>;

/// What a task hands back through its `JoinHandle`: its output, or the time limit it ran
/// over.
pub(crate) type Raw<T> = Result<T, Duration>;

/// What one poll of the engine found.
pub(crate) enum Step<T> {
    /// The next result in spawn order.
    Yield(Outcome<T>),
    /// A task other than the next one finished: a slot is free for more work.
    Held,
    /// Nothing is in flight or held.
    Idle,
}

/// What the tasks share with the consumer: how many have finished, and who to wake.
#[derive(Default)]
struct Completions {
    finished: AtomicU64,
    consumer: AtomicWaker,
}

/// Counts its task finished, and wakes the consumer, when the task's future is dropped.
struct Finished(Arc<Completions>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::Release);
        self.0.consumer.wake();
    }
}

pub(crate) struct Tasks<T> {
    /// One handle per spawned, not yet yielded task; the front is position `next_seq`.
    handles: VecDeque<JoinHandle<Raw<T>>>,
    next_seq: u64,
    completions: Arc<Completions>,
    /// Tasks finished as of the consumer's last poll (`Completions::finished` then).
    seen_finished: u64,
    peak: usize,
    timeout: Option<Duration>,
    /// The waker of the last poll, so that [`try_next`](Self::try_next) can look at the
    /// front task without replacing it with one nobody waits on.
    waker: Option<Waker>,
}

impl<T: Send + 'static> Tasks<T> {
    pub(crate) fn new(timeout: Option<Duration>) -> Self {
        Self {
            handles: VecDeque::new(),
            next_seq: 0,
            completions: Arc::default(),
            seen_finished: 0,
            peak: 0,
            timeout,
            waker: None,
        }
    }

    /// Spawns `fut` as a tokio task in the next position; returns that position.
    ///
    /// Panics (at the caller) outside a runtime, before a position is taken.
    #[track_caller]
    pub(crate) fn spawn<F>(&mut self, fut: F) -> u64
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.spawn_on(fut, &Handle::current())
    }

    /// Like [`spawn`](Self::spawn), on the given runtime.
    #[track_caller]
    pub(crate) fn spawn_on<F>(&mut self, fut: F, runtime: &Handle) -> u64
    where
        F: Future<Output = T> + Send + 'static,
    {
        let finished = Finished(Arc::clone(&self.completions));
        // Two task types rather than one with an `Option`: a task without a timeout does
        // not carry tokio's `Sleep` (a timer entry that tokio would allocate and copy with
        // every task).
        let handle = match self.timeout {
            None => runtime.spawn(async move {
                let _finished = finished;
                Ok(fut.await)
            }),
            Some(limit) => runtime.spawn(async move {
                let _finished = finished;
                tokio::time::timeout(limit, fut).await.map_err(|_| limit)
            }),
        };
        self.track(handle)
    }

    /// Takes the next position for a task that never runs: it yields a cancellation
    /// there. For an input whose job closure panicked.
    pub(crate) fn spawn_cancelled(&mut self, runtime: &Handle) -> u64 {
        let finished = Finished(Arc::clone(&self.completions));
        // No timeout around it, so that it cannot time out before the abort lands.
        let handle = runtime.spawn(async move {
            let _finished = finished;
            std::future::pending::<Raw<T>>().await
        });
        handle.abort();
        self.track(handle)
    }

    /// Runs `f` on tokio's blocking pool in the next position; returns that position.
    /// The task timeout does not apply: a running closure cannot be interrupted.
    #[track_caller]
    pub(crate) fn spawn_blocking<F>(&mut self, f: F) -> u64
    where
        F: FnOnce() -> T + Send + 'static,
    {
        self.spawn_blocking_on(f, &Handle::current())
    }

    /// Like [`spawn_blocking`](Self::spawn_blocking), on the given runtime's blocking pool.
    #[track_caller]
    pub(crate) fn spawn_blocking_on<F>(&mut self, f: F, runtime: &Handle) -> u64
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let finished = Finished(Arc::clone(&self.completions));
        // A closure cancelled before it starts is dropped: the guard still counts it.
        let handle = runtime.spawn_blocking(move || {
            let _finished = finished;
            Ok(f())
        });
        self.track(handle)
    }

    fn track(&mut self, handle: JoinHandle<Raw<T>>) -> u64 {
        self.handles.push_back(handle);
        self.next_seq + self.handles.len() as u64 - 1
    }

    /// An abort handle for the task spawned last.
    pub(crate) fn last_abort_handle(&self) -> Option<tokio::task::AbortHandle> {
        self.handles.back().map(JoinHandle::abort_handle)
    }

    /// Moves the engine on by one step: yields the next result if it is here, reports a
    /// freed slot if another task finished, or waits.
    ///
    /// `want_slots`: the caller would start more work if any task finished (it is held
    /// back by its concurrency limit), so a task other than the next one finishing should
    /// wake it too. Otherwise only the next task wakes it, once.
    pub(crate) fn poll_step(&mut self, cx: &mut Context<'_>, want_slots: bool) -> Poll<Step<T>> {
        let Some(front) = self.handles.front_mut() else {
            return Poll::Ready(Step::Idle);
        };
        if let Poll::Ready(joined) = Pin::new(front).poll(cx) {
            self.see_finished();
            return Poll::Ready(Step::Yield(self.yielded(joined)));
        }
        // Register for any task finishing (if wanted) before looking at the count, so
        // that one finishing in between still wakes this task.
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            self.waker = Some(cx.waker().clone());
        }
        if want_slots {
            self.completions.consumer.register(cx.waker());
        }
        let moved = self.see_finished();
        // The front is not ready: every finished task waits for it.
        self.peak = self.peak.max(self.buffered_len());
        if moved {
            return Poll::Ready(Step::Held);
        }
        Poll::Pending
    }

    /// The next result in spawn order if it is here now, without waiting. A waker
    /// registered by an earlier poll stays registered, and tokio's coop budget does not
    /// apply (this never yields to the scheduler).
    pub(crate) fn try_next(&mut self) -> Option<Outcome<T>> {
        let front = self.handles.front_mut()?;
        // Polled with the last poll's waker (it stays the one registered), or with one
        // that does nothing if the engine was never polled.
        let waker = self.waker.clone().unwrap_or_else(|| Waker::noop().clone());
        let mut cx = Context::from_waker(&waker);
        let mut joined = std::pin::pin!(tokio::task::unconstrained(front));
        let Poll::Ready(joined) = joined.as_mut().poll(&mut cx) else {
            self.see_finished();
            self.peak = self.peak.max(self.buffered_len());
            return None;
        };
        self.see_finished();
        Some(self.yielded(joined))
    }

    /// Takes a new snapshot of the finished count; whether it moved.
    pub(crate) fn see_finished(&mut self) -> bool {
        let finished = self.completions.finished.load(Ordering::Acquire);
        if finished == self.seen_finished {
            return false;
        }
        self.seen_finished = finished;
        true
    }

    fn yielded(&mut self, joined: Result<Raw<T>, JoinError>) -> Outcome<T> {
        let seq = self.next_seq;
        self.handles.pop_front();
        self.next_seq += 1;
        // Later tasks that finished with this one wait now: the peak must cover them even
        // if no poll ever found the front pending.
        self.peak = self.peak.max(self.buffered_len());
        outcome(seq, joined)
    }
}

impl<T> Tasks<T> {
    /// Positions spawned and not yet yielded (running or held).
    pub(crate) fn len(&self) -> usize {
        self.handles.len()
    }

    /// Tasks that had not finished as of the last poll.
    pub(crate) fn in_flight(&self) -> usize {
        self.len() - self.buffered_len()
    }

    /// How far the next spawn would be ahead of the next position to yield.
    pub(crate) fn ahead(&self) -> u64 {
        self.handles.len() as u64
    }

    /// Tasks that had finished as of the last poll and wait for an earlier one.
    pub(crate) fn buffered_len(&self) -> usize {
        // Every yielded task (all `next_seq` of them: positions start at 0) had finished;
        // the count may run ahead of a handle still storing its output, never behind.
        usize::try_from(self.seen_finished.saturating_sub(self.next_seq))
            .unwrap_or(usize::MAX)
            .min(self.handles.len())
    }

    pub(crate) fn peak_buffered(&self) -> usize {
        self.peak
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Room for `additional` more tasks without reallocating.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.handles.reserve(additional);
    }

    /// Aborts every task not yet finished; each yields `Cancelled` in its position.
    pub(crate) fn abort_all(&self) {
        self.handles.iter().for_each(JoinHandle::abort);
    }
}

impl<T> Drop for Tasks<T> {
    fn drop(&mut self) {
        // Dropping a `JoinHandle` detaches its task; the tasks are ours to stop.
        self.abort_all();
    }
}

/// A task's outcome from what its handle gave back.
fn outcome<T>(seq: u64, joined: Result<Raw<T>, JoinError>) -> Outcome<T> {
    match joined {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(limit)) => Err(TaskError::timed_out(seq, limit)),
        Err(e) => match e.try_into_panic() {
            Ok(payload) => Err(TaskError::panicked(seq, payload)),
            // Aborted, or dropped by its runtime shutting down.
            Err(_) => Err(TaskError::cancelled(seq)),
        },
    }
}

/// Spawns `fut` on `runtime`; `report` sends its one outcome: the output, its panic, its
/// timeout, or (if the task is dropped first) its cancellation. Shared by every engine that
/// spawns async tasks.
pub(crate) fn spawn_reporting<T, F>(
    runtime: &tokio::runtime::Handle,
    fut: F,
    timeout: Option<Duration>,
    report: Report<T>,
) -> tokio::task::JoinHandle<()>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    // Two task types rather than one with an `Option`: a task without a timeout does not
    // carry tokio's `Sleep` (a timer entry of a few hundred bytes) that tokio would
    // allocate and copy with every task. Tiny jobs are bound by that copy and allocation.
    match timeout {
        None => runtime.spawn(run_reporting(async move { Ok(fut.await) }, report)),
        Some(limit) => runtime.spawn(run_reporting(
            async move { tokio::time::timeout(limit, fut).await.map_err(|_| limit) },
            report,
        )),
    }
}

/// The body of every async task: runs `timed` (the job, under its timeout if it has one)
/// and reports its outcome.
async fn run_reporting<T, F>(timed: F, report: Report<T>)
where
    F: Future<Output = Result<T, Duration>>,
{
    let seq = report.seq;
    // The timeout sits inside `catch_unwind` too: on a runtime without timers it panics,
    // and that must read as this task's panic, not as a cancellation.
    let outcome = match AssertUnwindSafe(timed).catch_unwind().await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(limit)) => Err(TaskError::timed_out(seq, limit)),
        Err(payload) => Err(TaskError::panicked(seq, payload)),
    };
    report.send(outcome);
}

/// Runs `f` on `runtime`'s blocking pool; `report` sends its one outcome: the output, its
/// panic, or (if it is cancelled before it starts) its cancellation.
pub(crate) fn spawn_blocking_reporting<T, F>(
    runtime: &tokio::runtime::Handle,
    f: F,
    report: Report<T>,
) -> tokio::task::JoinHandle<()>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let seq = report.seq;
    runtime.spawn_blocking(move || {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(f));
        report.send(outcome.map_err(|p| TaskError::panicked(seq, p)));
    })
}

/// Sends a task's one message. If the task is dropped before it reports (aborted, or its
/// runtime shut down), the drop reports `Cancelled` instead.
pub(crate) struct Report<T> {
    seq: u64,
    tx: Option<mpsc::UnboundedSender<(u64, Outcome<T>)>>,
}

impl<T> Report<T> {
    /// A reporter for position `seq` on `tx`.
    pub(crate) fn new(seq: u64, tx: mpsc::UnboundedSender<(u64, Outcome<T>)>) -> Self {
        Self { seq, tx: Some(tx) }
    }

    fn send(mut self, outcome: Outcome<T>) {
        if let Some(tx) = self.tx.take() {
            // The consumer may be gone; then nobody wants the result.
            let _ = tx.send((self.seq, outcome));
        }
    }
}

impl<T> Drop for Report<T> {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send((self.seq, Err(TaskError::cancelled(self.seq))));
        }
    }
}
