//! An ordered task set: spawn in a loop, consume the results later in spawn order.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::stream::Stream;

use crate::tasks::{Step, Tasks};
use crate::TaskError;

/// A set of spawned tasks whose results come back in the order they were spawned.
///
/// The imperative sibling of [`spawn_ordered`](crate::OrderedExt::spawn_ordered), for
/// code shaped as "spawn everything in a loop, then handle the results": each
/// [`spawn`](Self::spawn) starts a tokio task at once and takes the next position; the
/// set is a [`Stream`] (and has [`join_next`](Self::join_next)) that yields the results
/// in spawn order, each as soon as every earlier one is in.
///
/// Unlike `tokio::task::JoinSet`, which yields in completion order, and
/// `FuturesOrdered`, which polls every future on the consumer's task, the tasks here run
/// in parallel on the runtime's workers. There is no concurrency limit: every spawned
/// task runs at once (use `spawn_ordered` for a limit and a memory bound).
///
/// A task that panics, times out (see [`with_task_timeout`](Self::with_task_timeout)) or
/// is aborted yields a [`TaskError`] in its position. Dropping the set aborts every task
/// still running.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reorder::OrderedJoinSet;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let mut set = OrderedJoinSet::new();
/// for i in 0..5u64 {
///     set.spawn(async move {
///         tokio::time::sleep(Duration::from_millis(50 - 10 * i)).await; // last finishes first
///         i
///     });
/// }
/// let mut in_order = Vec::new();
/// while let Some(result) = set.join_next().await {
///     in_order.push(result.unwrap());
/// }
/// assert_eq!(in_order, [0, 1, 2, 3, 4]);
/// # }
/// ```
#[must_use = "dropping the set aborts its tasks"]
pub struct OrderedJoinSet<T> {
    tasks: Tasks<T>,
}

impl<T: Send + 'static> OrderedJoinSet<T> {
    /// An empty set; the first task spawned takes position 0.
    pub fn new() -> Self {
        Self {
            tasks: Tasks::new(None),
        }
    }

    /// An empty set whose async tasks are aborted after `timeout`, each yielding a
    /// [`TaskError`] for which [`is_timeout`](TaskError::is_timeout) is true.
    pub fn with_task_timeout(timeout: Duration) -> Self {
        Self {
            tasks: Tasks::new(Some(timeout)),
        }
    }

    /// Spawns `task` on the current tokio runtime in the next position, which it returns.
    ///
    /// # Panics
    ///
    /// Panics if called outside a tokio runtime.
    #[track_caller]
    pub fn spawn<F>(&mut self, task: F) -> u64
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.tasks.spawn(task)
    }

    /// Runs `f` on tokio's blocking pool in the next position, which it returns. The task
    /// timeout does not apply.
    ///
    /// # Panics
    ///
    /// Panics if called outside a tokio runtime.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> u64
    where
        F: FnOnce() -> T + Send + 'static,
    {
        self.tasks.spawn_blocking(f)
    }

    /// Waits for the next result in spawn order. `None` when every spawned task's result
    /// has been yielded.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: results that arrived early are held by the set, not by the future.
    pub async fn join_next(&mut self) -> Option<Result<T, TaskError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Polls for the next result in spawn order; see [`join_next`](Self::join_next).
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, TaskError>>> {
        loop {
            match std::task::ready!(self.tasks.poll_step(cx)) {
                Step::Yield(outcome) => return Poll::Ready(Some(outcome)),
                Step::Held => {}
                Step::Idle => return Poll::Ready(None),
            }
        }
    }

    /// Waits for every task and returns all results in spawn order.
    pub async fn join_all(mut self) -> Vec<Result<T, TaskError>> {
        let mut results = Vec::with_capacity(self.len());
        while let Some(result) = self.join_next().await {
            results.push(result);
        }
        results
    }

    /// Aborts every task not yet finished. Each of them still yields, in its position, a
    /// [`TaskError`] for which [`is_cancelled`](TaskError::is_cancelled) is true; results
    /// already in are kept.
    pub fn abort_all(&mut self) {
        self.tasks.abort_all();
    }

    /// Results not yet yielded: tasks running plus results held.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether every spawned task's result has been yielded.
    pub fn is_empty(&self) -> bool {
        self.tasks.len() == 0
    }

    /// Tasks running now: spawned, result not yet arrived.
    pub fn in_flight(&self) -> usize {
        self.tasks.in_flight()
    }

    /// Results that arrived early and wait for an earlier one.
    pub fn buffered_len(&self) -> usize {
        self.tasks.buffered_len()
    }

    /// The most results waiting at once so far.
    pub fn peak_buffered(&self) -> usize {
        self.tasks.peak_buffered()
    }

    /// The position of the next result to be yielded; every earlier one has been.
    pub fn next_seq(&self) -> u64 {
        self.tasks.next_seq()
    }
}

// Results are never pinned: they are moved out of the buffer by value.
impl<T> Unpin for OrderedJoinSet<T> {}

impl<T: Send + 'static> Default for OrderedJoinSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + 'static> Stream for OrderedJoinSet<T> {
    type Item = Result<T, TaskError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_join_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}

impl<T: Send + 'static> fmt::Debug for OrderedJoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderedJoinSet")
            .field("len", &self.len())
            .field("in_flight", &self.in_flight())
            .field("buffered_len", &self.buffered_len())
            .field("next_seq", &self.next_seq())
            .finish()
    }
}

/// Spawns each future in turn, in the iterator's order.
impl<T, F> Extend<F> for OrderedJoinSet<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    #[track_caller]
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for task in iter {
            self.spawn(task);
        }
    }
}

/// Spawns each future in turn, in the iterator's order.
impl<T, F> FromIterator<F> for OrderedJoinSet<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        let mut set = Self::new();
        set.extend(iter);
        set
    }
}
