//! An ordered task set: spawn in a loop, consume the results later in spawn order.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::stream::Stream;
use tokio::runtime::Handle;
use tokio::task::{AbortHandle, Id};

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
/// It does everything tokio-util's `JoinQueue` does — [`spawn`](Self::spawn) (returning
/// a handle that aborts that one task), [`spawn_on`](Self::spawn_on),
/// [`spawn_blocking`](Self::spawn_blocking), [`spawn_blocking_on`](Self::spawn_blocking_on),
/// [`join_next`](Self::join_next), [`try_join_next`](Self::try_join_next),
/// [`shutdown`](Self::shutdown), [`abort_all`](Self::abort_all), abort on drop — and
/// more: a per-task timeout, a task's error as a value in its position
/// ([`join_all`](Self::join_all) does not panic), introspection
/// ([`in_flight`](Self::in_flight), [`buffered_len`](Self::buffered_len),
/// [`next_seq`](Self::next_seq)), and it is a [`Stream`]. It needs `T: Send` (every task
/// is a tokio task, whose output crosses threads) and has no `spawn_local` or `detach_all`.
///
/// A task that panics, times out (see [`with_task_timeout`](Self::with_task_timeout)) or
/// is aborted yields a [`TaskError`] in its position. Dropping the set aborts every task
/// still running. (A blocking closure that has started cannot be aborted: it runs to its
/// end, and its result stands.)
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
    /// The handle of the task just spawned in position `seq`.
    fn handle(&self, seq: u64) -> TaskHandle {
        let abort = self
            .tasks
            .last_abort_handle()
            .expect("a task was just spawned");
        TaskHandle::new(seq, abort)
    }

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

    /// An empty set with room for `capacity` tasks before it reallocates.
    ///
    /// # Panics
    ///
    /// Panics if the room needed overflows, as `VecDeque::with_capacity` does
    /// (`usize::MAX` does); an allocation that fails aborts the process.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut set = Self::new();
        set.tasks.reserve(capacity);
        set
    }

    /// Spawns `task` on the current tokio runtime in the next position.
    ///
    /// The task starts at once, whether or not the set is polled. The returned
    /// [`TaskHandle`] tells its position and can [`abort`](TaskHandle::abort) it; dropping
    /// the handle does nothing.
    ///
    /// # Panics
    ///
    /// Panics if called outside a tokio runtime; no position is taken then.
    #[track_caller]
    pub fn spawn<F>(&mut self, task: F) -> TaskHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        let seq = self.tasks.spawn(task);
        self.handle(seq)
    }

    /// Spawns `task` on the runtime behind `runtime` in the next position: for a set
    /// owned outside that runtime, or to put work on another runtime than the caller's.
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::OrderedJoinSet;
    ///
    /// let workers = tokio::runtime::Runtime::new().unwrap();
    /// let mut set = OrderedJoinSet::new();
    /// for i in 0..3 {
    ///     set.spawn_on(async move { i * 2 }, workers.handle()); // no runtime needed here
    /// }
    /// let all = workers.block_on(set.join_all());
    /// assert_eq!(all.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [0, 2, 4]);
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(&mut self, task: F, runtime: &Handle) -> TaskHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        let seq = self.tasks.spawn_on(task, runtime);
        self.handle(seq)
    }

    /// Runs `f` on tokio's blocking pool in the next position. The task timeout does not
    /// apply, and [`TaskHandle::abort`] only stops a closure that has not started yet.
    ///
    /// # Panics
    ///
    /// Panics if called outside a tokio runtime; no position is taken then.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> TaskHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let seq = self.tasks.spawn_blocking(f);
        self.handle(seq)
    }

    /// Runs `f` on the blocking pool of the runtime behind `runtime`, in the next
    /// position; see [`spawn_blocking`](Self::spawn_blocking).
    #[track_caller]
    pub fn spawn_blocking_on<F>(&mut self, f: F, runtime: &Handle) -> TaskHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let seq = self.tasks.spawn_blocking_on(f, runtime);
        self.handle(seq)
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
            // No limit: only the next task's result matters.
            match std::task::ready!(self.tasks.poll_step(cx, false)) {
                Step::Yield(outcome) => return Poll::Ready(Some(outcome)),
                Step::Held => {}
                Step::Idle => return Poll::Ready(None),
            }
        }
    }

    /// The next result in spawn order if it is here now; `None` if the set is empty or
    /// the next task has not finished. Never waits, and leaves any waker registered by an
    /// earlier poll in place.
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::OrderedJoinSet;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut set = OrderedJoinSet::new();
    /// let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    /// set.spawn(async move { rx.await.unwrap(); 0 });
    /// set.spawn(async { 1 });
    /// tokio::task::yield_now().await;
    /// assert!(set.try_join_next().is_none()); // 1 is done, but 0 comes first
    /// tx.send(()).unwrap();
    /// tokio::task::yield_now().await;
    /// assert_eq!(set.try_join_next().unwrap().unwrap(), 0);
    /// assert_eq!(set.try_join_next().unwrap().unwrap(), 1);
    /// assert!(set.try_join_next().is_none());
    /// # }
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, TaskError>> {
        self.tasks.try_next()
    }

    /// Aborts every task and waits until each has yielded its result; the set is empty
    /// afterwards. The results (values of tasks that had finished, cancellations,
    /// panics) are dropped.
    ///
    /// The same as [`abort_all`](Self::abort_all) then [`join_next`](Self::join_next)
    /// until `None`. A blocking closure already running is waited for.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped, the tasks are aborted all the same and the
    /// set holds what has not been taken out.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
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
    /// already in are kept. A blocking closure that has started cannot be stopped: it runs
    /// to its end and its result stands. Tasks spawned afterwards are not affected.
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

    /// Tasks spawned and not finished, as of the set's last poll (a task that finishes
    /// counts until the set is next polled).
    pub fn in_flight(&self) -> usize {
        self.tasks.in_flight()
    }

    /// Results that arrived early and wait for an earlier one, as of the set's last poll.
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

/// A spawned task of an [`OrderedJoinSet`]: its position, and a way to abort it.
///
/// Returned by [`OrderedJoinSet::spawn`] and its siblings. Aborting a task that has not
/// finished makes it yield a [`TaskError`] for which
/// [`is_cancelled`](TaskError::is_cancelled) is true, in its own position; the other
/// tasks go on. Aborting a finished task, or a blocking closure that has started, does
/// nothing: its result stands. Dropping the
/// handle does nothing either (the set still owns the task).
///
/// # Examples
///
/// ```
/// use reorder::OrderedJoinSet;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut set = OrderedJoinSet::new();
/// set.spawn(async { "a" });
/// let slow = set.spawn(std::future::pending::<&str>());
/// set.spawn(async { "c" });
/// assert_eq!(slow.seq(), 1);
/// slow.abort();
/// let out = set.join_all().await;
/// assert_eq!(*out[0].as_ref().unwrap(), "a");
/// assert!(out[1].as_ref().unwrap_err().is_cancelled()); // in its position
/// assert_eq!(*out[2].as_ref().unwrap(), "c");
/// # }
/// ```
#[derive(Clone)]
pub struct TaskHandle {
    seq: u64,
    abort: AbortHandle,
}

impl TaskHandle {
    fn new(seq: u64, abort: AbortHandle) -> Self {
        Self { seq, abort }
    }

    /// The task's position in its set.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Aborts the task if it has not finished; it then yields a cancellation in its
    /// position. A blocking closure that has started runs to its end, and yields its
    /// result as if it had not been aborted.
    pub fn abort(&self) {
        self.abort.abort();
    }

    /// Whether the task has finished (its result may still wait in the set).
    pub fn is_finished(&self) -> bool {
        self.abort.is_finished()
    }

    /// The tokio task id, as `tokio::task::id()` reports inside the task.
    pub fn id(&self) -> Id {
        self.abort.id()
    }

    /// The tokio abort handle.
    pub fn abort_handle(&self) -> AbortHandle {
        self.abort.clone()
    }
}

impl fmt::Debug for TaskHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("seq", &self.seq)
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
