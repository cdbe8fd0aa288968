//! The engine under [`SpawnOrdered`](crate::SpawnOrdered) and
//! [`OrderedJoinSet`](crate::OrderedJoinSet): spawned tasks push `(seq, result)` onto an
//! mpsc channel, and a [`ReorderBuffer`] turns the arrivals back into spawn order.
//!
//! Every spawned task sends exactly one message, whatever happens to it: its output, its
//! panic, its timeout, or — from a guard dropped with the task — its cancellation. So the
//! consumer never waits for a sequence number that cannot come.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

use crate::{ReorderBuffer, TaskError};

pub(crate) type Outcome<T> = Result<T, TaskError>;

/// What one poll of the engine found.
pub(crate) enum Step<T> {
    /// The next result in spawn order.
    Yield(Outcome<T>),
    /// A result arrived early and is held; a slot is free for more work.
    Held,
    /// Nothing is in flight or held.
    Idle,
}

pub(crate) struct Tasks<T> {
    tx: mpsc::UnboundedSender<(u64, Outcome<T>)>,
    rx: mpsc::UnboundedReceiver<(u64, Outcome<T>)>,
    buffer: ReorderBuffer<Outcome<T>>,
    /// One handle per spawned, not yet yielded task; the front is `buffer.next_seq()`.
    handles: VecDeque<JoinHandle<()>>,
    next_spawn: u64,
    in_flight: usize,
    timeout: Option<Duration>,
}

impl<T: Send + 'static> Tasks<T> {
    pub(crate) fn new(timeout: Option<Duration>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            rx,
            buffer: ReorderBuffer::new(),
            handles: VecDeque::new(),
            next_spawn: 0,
            in_flight: 0,
            timeout,
        }
    }

    /// Spawns `fut` as a tokio task in the next position; returns that position and the
    /// task's abort handle.
    #[track_caller]
    pub(crate) fn spawn<F>(&mut self, fut: F) -> u64
    where
        F: Future<Output = T> + Send + 'static,
    {
        // Panics (at the caller) outside a runtime before a position is taken.
        let runtime = Handle::current();
        self.spawn_on(fut, &runtime)
    }

    /// Like [`spawn`](Self::spawn), on the given runtime.
    #[track_caller]
    pub(crate) fn spawn_on<F>(&mut self, fut: F, runtime: &Handle) -> u64
    where
        F: Future<Output = T> + Send + 'static,
    {
        let handle = spawn_reporting(runtime, fut, self.timeout, self.report());
        self.track(handle)
    }

    /// Runs `f` on tokio's blocking pool in the next position; returns that position and
    /// the task's abort handle. The task timeout does not apply: a running closure cannot
    /// be interrupted.
    #[track_caller]
    pub(crate) fn spawn_blocking<F>(&mut self, f: F) -> u64
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let runtime = Handle::current();
        self.spawn_blocking_on(f, &runtime)
    }

    /// Like [`spawn_blocking`](Self::spawn_blocking), on the given runtime's blocking pool.
    #[track_caller]
    pub(crate) fn spawn_blocking_on<F>(&mut self, f: F, runtime: &Handle) -> u64
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let handle = spawn_blocking_reporting(runtime, f, self.report());
        self.track(handle)
    }

    /// A reporter for the next position. Made before the task is spawned and moved into
    /// it, so that even a task aborted before its first poll reports.
    fn report(&mut self) -> Report<T> {
        let seq = self.next_spawn;
        self.next_spawn += 1;
        Report {
            seq,
            tx: Some(self.tx.clone()),
        }
    }

    /// Keeps the task's handle (the join handle itself: no extra reference per task) and
    /// returns its position.
    fn track(&mut self, handle: JoinHandle<()>) -> u64 {
        self.handles.push_back(handle);
        self.in_flight += 1;
        self.next_spawn - 1
    }

    /// An abort handle for the task spawned last.
    pub(crate) fn last_abort_handle(&self) -> Option<AbortHandle> {
        self.handles.back().map(JoinHandle::abort_handle)
    }

    /// Moves the engine on by one step: yields the next result if it is here, otherwise
    /// takes in one arrival.
    pub(crate) fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Step<T>> {
        if let Some(ready) = self.buffer.pop_ready() {
            return Poll::Ready(Step::Yield(self.yielded(ready)));
        }
        if self.in_flight == 0 {
            return Poll::Ready(Step::Idle);
        }
        let Some((seq, outcome)) = std::task::ready!(self.rx.poll_recv(cx)) else {
            // Unreachable: `self.tx` keeps the channel open.
            return Poll::Pending;
        };
        self.in_flight -= 1;
        Poll::Ready(match self.buffer.insert(seq, outcome) {
            Ok(Some(outcome)) => Step::Yield(self.yielded(Ok(outcome))),
            Ok(None) => Step::Held,
            // Every seq is sent exactly once by the task that owns it.
            Err(e) => unreachable!("task {} reported twice", e.seq()),
        })
    }

    /// The next result in spawn order if it is here now, without waiting or registering
    /// for a wake-up (a waker registered by an earlier poll stays registered).
    pub(crate) fn try_next(&mut self) -> Option<Outcome<T>> {
        loop {
            if let Some(ready) = self.buffer.pop_ready() {
                return Some(self.yielded(ready));
            }
            if self.in_flight == 0 {
                return None;
            }
            let (seq, outcome) = self.rx.try_recv().ok()?;
            self.in_flight -= 1;
            match self.buffer.insert(seq, outcome) {
                Ok(Some(outcome)) => return Some(self.yielded(Ok(outcome))),
                Ok(None) => {}
                Err(e) => unreachable!("task {} reported twice", e.seq()),
            }
        }
    }

    fn yielded(
        &mut self,
        popped: Result<Outcome<T>, crate::ReorderError<Outcome<T>>>,
    ) -> Outcome<T> {
        self.handles.pop_front();
        match popped {
            Ok(outcome) => outcome,
            Err(e) => unreachable!("task {} reported twice", e.seq()),
        }
    }
}

impl<T> Tasks<T> {
    /// Positions spawned and not yet yielded (running or held).
    pub(crate) fn len(&self) -> usize {
        self.handles.len()
    }

    /// Tasks whose result has not arrived yet.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// How far the next spawn would be ahead of the next position to yield.
    pub(crate) fn ahead(&self) -> u64 {
        self.next_spawn.saturating_sub(self.buffer.next_seq())
    }

    pub(crate) fn buffered_len(&self) -> usize {
        self.buffer.len()
    }

    pub(crate) fn peak_buffered(&self) -> usize {
        self.buffer.peak_len()
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.buffer.next_seq()
    }

    /// Room for `additional` more tasks without reallocating.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.handles.reserve(additional);
    }

    /// Aborts every task not yet finished; each reports `Cancelled` in its position.
    pub(crate) fn abort_all(&self) {
        self.handles.iter().for_each(JoinHandle::abort);
    }
}

impl<T> Drop for Tasks<T> {
    fn drop(&mut self) {
        self.handles.iter().for_each(JoinHandle::abort);
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
