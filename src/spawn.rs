//! `spawn_ordered`: each input becomes a tokio task; results come back in input order,
//! with a concurrency limit and a hard bound on buffered results.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream};
use pin_project_lite::pin_project;
use tokio::runtime::Handle;

use crate::tasks::{Step, Tasks};
use crate::TaskError;

/// How many windows of work may be started per unit of `limit` by default.
const DEFAULT_WINDOW_PER_LIMIT: usize = 4;

/// How many tasks one poll may start before it hands out what is ready and yields to the
/// runtime: with a huge `limit` and `window` and an input that is always ready, starting
/// work would otherwise never end and the poll never return.
pub(crate) const LAUNCHES_PER_POLL: u32 = 1024;

/// The two knobs of [`spawn_ordered_with`](crate::OrderedExt::spawn_ordered_with), plus an
/// optional per-task timeout.
///
/// | knob | bounds | default |
/// |---|---|---|
/// | [`limit`](Self::new) | **concurrency**: tasks running at once | required |
/// | [`window`](Self::window) | **memory**: how far ahead of the oldest unyielded result work may start, so the most results ever waiting | `4 × limit` |
/// | [`task_timeout`](Self::task_timeout) | time one task may run before it is aborted and yields a timeout error in its place | none |
///
/// A task starts only while fewer than `limit` are running **and** its position is less
/// than `next_to_yield + window`. So however slow the oldest task is, at most `window`
/// results wait in memory, and the rest of the pipeline keeps `limit` workers busy
/// until the window is full. `window == limit` behaves like `futures`' `buffered`: one
/// slow task stalls new starts at once (1,000 jobs sleeping U[0, 10 ms) at limit 16:
/// about 1.5× slower than any window from `2 × limit` up; see `BENCHMARKS.md`). Windows
/// of 2×, 4× and 8× the limit tie on such uniform latencies; a larger window rides out
/// longer tails, and costs memory only when results really wait (peak buffered stayed
/// near 20 in that bench whatever the window). The default, `4 × limit`, leaves that
/// margin while keeping the bound a small multiple of `limit`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reorder::SpawnConfig;
///
/// let config = SpawnConfig::new(8).window(64).task_timeout(Duration::from_secs(5));
/// assert_eq!(config.get_window(), 64);
/// assert_eq!(SpawnConfig::new(8).get_window(), 32);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpawnConfig {
    limit: usize,
    window: usize,
    task_timeout: Option<Duration>,
}

impl SpawnConfig {
    /// At most `limit` tasks run at once; the window defaults to `4 × limit`.
    ///
    /// # Panics
    ///
    /// Panics if `limit` is 0: no task could ever start.
    #[track_caller]
    pub const fn new(limit: usize) -> Self {
        assert!(limit > 0, "spawn_ordered: limit must be at least 1");
        Self {
            limit,
            window: limit.saturating_mul(DEFAULT_WINDOW_PER_LIMIT),
            task_timeout: None,
        }
    }

    /// How far ahead of the oldest unyielded result work may start: the most results
    /// ever buffered.
    ///
    /// # Panics
    ///
    /// Panics if `window < limit`: the extra `limit` could never be used.
    #[track_caller]
    #[must_use = "builder methods return the changed settings"]
    pub const fn window(mut self, window: usize) -> Self {
        assert!(
            window >= self.limit,
            "spawn_ordered: window must be at least limit"
        );
        self.window = window;
        self
    }

    /// Aborts a task that runs longer than `timeout`; it yields a [`TaskError`] for which
    /// [`is_timeout`](TaskError::is_timeout) is true, in its own position. Async tasks
    /// only: blocking closures take a [`BlockingConfig`], which has no timeout.
    #[must_use = "builder methods return the changed settings"]
    pub const fn task_timeout(mut self, timeout: Duration) -> Self {
        self.task_timeout = Some(timeout);
        self
    }

    /// The concurrency limit.
    pub const fn get_limit(&self) -> usize {
        self.limit
    }

    /// The window.
    pub const fn get_window(&self) -> usize {
        self.window
    }

    /// The per-task timeout.
    pub const fn get_task_timeout(&self) -> Option<Duration> {
        self.task_timeout
    }
}

/// The settings of [`spawn_ordered_blocking_with`](crate::OrderedExt::spawn_ordered_blocking_with):
/// [`SpawnConfig`] without the task timeout.
///
/// A blocking closure cannot be interrupted — tokio can only drop a blocking task that
/// has not started — so there is no timeout to set: the type has no such method, rather
/// than a setting that is silently ignored. The two knobs mean what they mean in
/// [`SpawnConfig`]: `limit` bounds concurrency, `window` bounds memory (default
/// `4 × limit`).
///
/// To bound how long a blocking job may take, check a deadline inside the closure, or
/// run the work as an async task (`spawn_ordered_with` and
/// [`SpawnConfig::task_timeout`]) that awaits a `spawn_blocking` handle: the timeout then
/// gives up on the result (the thread still runs the closure to its end).
///
/// # Examples
///
/// ```
/// use futures::{stream, TryStreamExt};
/// use reorder::{BlockingConfig, OrderedExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let config = BlockingConfig::new(2).window(16);
/// let lengths: Vec<usize> = stream::iter(["a", "bb", "ccc"])
///     .spawn_ordered_blocking_with(config, |s| s.len())
///     .try_collect()
///     .await
///     .unwrap();
/// assert_eq!(lengths, [1, 2, 3]);
/// # }
/// ```
///
/// A `SpawnConfig` (which may carry a timeout) is not accepted:
///
/// ```compile_fail
/// use std::time::Duration;
/// use futures::stream;
/// use reorder::{OrderedExt, SpawnConfig};
///
/// let config = SpawnConfig::new(2).task_timeout(Duration::from_secs(1));
/// let _ = stream::iter([1u64]).spawn_ordered_blocking_with(config, |n| n);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockingConfig(SpawnConfig);

impl BlockingConfig {
    /// At most `limit` closures run at once; the window defaults to `4 × limit`.
    ///
    /// # Panics
    ///
    /// Panics if `limit` is 0: no closure could ever start.
    #[track_caller]
    pub const fn new(limit: usize) -> Self {
        Self(SpawnConfig::new(limit))
    }

    /// How far ahead of the oldest unyielded result work may start: the most results
    /// ever buffered. See [`SpawnConfig::window`].
    ///
    /// # Panics
    ///
    /// Panics if `window < limit`.
    #[track_caller]
    #[must_use = "builder methods return the changed settings"]
    pub const fn window(self, window: usize) -> Self {
        Self(self.0.window(window))
    }

    /// The concurrency limit.
    pub const fn get_limit(&self) -> usize {
        self.0.limit
    }

    /// The window.
    pub const fn get_window(&self) -> usize {
        self.0.window
    }

    pub(crate) const fn into_spawn_config(self) -> SpawnConfig {
        self.0
    }
}

pin_project! {
    /// The shared driver: pulls inputs lazily, launches them within the limits, and
    /// yields results in input order. How an input is launched is passed in per poll,
    /// so the public types carry their own bounds.
    struct Driver<S, T> {
        #[pin]
        input: S,
        input_done: bool,
        tasks: Tasks<T>,
        limit: usize,
        window: u64,
    }
}

impl<S: Stream, T: Send + 'static> Driver<S, T> {
    fn new(input: S, config: SpawnConfig) -> Self {
        Self {
            input,
            input_done: false,
            tasks: Tasks::new(config.task_timeout),
            limit: config.limit,
            window: config.window as u64,
        }
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut launch: impl FnMut(S::Item, &mut Tasks<T>, &Handle),
    ) -> Poll<Option<Result<T, TaskError>>> {
        let mut this = self.project();
        let mut runtime = None;
        // Count the tasks that finished since the last poll (the front one, usually, which
        // woke us), so that their slots are filled before its result is handed out.
        this.tasks.see_finished();
        let mut budget = LAUNCHES_PER_POLL;
        loop {
            // Start work first, so workers stay busy while the consumer handles results.
            while budget > 0
                && !*this.input_done
                && this.tasks.in_flight() < *this.limit
                && this.tasks.ahead() < *this.window
            {
                // Looked up once per poll (the stream may move to another runtime), and
                // before an input is taken: outside a runtime this panics, and a caller
                // that catches the panic has lost nothing.
                let runtime: &Handle = runtime.get_or_insert_with(Handle::current);
                match this.input.as_mut().poll_next(cx) {
                    Poll::Ready(Some(input)) => {
                        budget -= 1;
                        launch(input, this.tasks, runtime);
                    }
                    Poll::Ready(None) => *this.input_done = true,
                    Poll::Pending => break,
                }
            }
            // Held back by the limit alone: any task finishing frees a slot for more.
            let want_slots = !*this.input_done
                && this.tasks.in_flight() >= *this.limit
                && this.tasks.ahead() < *this.window;
            // Out of starts for this poll: come back at once, after other tasks have run.
            let exhausted = budget == 0;
            match this.tasks.poll_step(cx, want_slots) {
                Poll::Ready(Step::Yield(outcome)) => return Poll::Ready(Some(outcome)),
                Poll::Ready(Step::Held) if !exhausted => {}
                // The input has registered for a wake-up unless it is done.
                Poll::Ready(Step::Idle) if *this.input_done => return Poll::Ready(None),
                _ => {
                    if exhausted {
                        cx.waker().wake_by_ref();
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let spawned = self.tasks.len();
        if self.input_done {
            return (spawned, Some(spawned));
        }
        let (lower, upper) = self.input.size_hint();
        (
            lower.saturating_add(spawned),
            upper.and_then(|u| u.checked_add(spawned)),
        )
    }

    fn is_terminated(&self) -> bool {
        self.input_done && self.tasks.len() == 0
    }
}

impl<S: fmt::Debug, T> fmt::Debug for Driver<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("input", &self.input)
            .field("input_done", &self.input_done)
            .field("limit", &self.limit)
            .field("window", &self.window)
            .field("in_flight", &self.tasks.in_flight())
            .field("buffered_len", &self.tasks.buffered_len())
            .field("next_seq", &self.tasks.next_seq())
            .finish()
    }
}

pin_project! {
    /// Stream for the [`spawn_ordered`](crate::OrderedExt::spawn_ordered) and
    /// [`spawn_ordered_with`](crate::OrderedExt::spawn_ordered_with) methods.
    ///
    /// Yields each task's result in input order: `Ok(output)`, or a [`TaskError`] in the
    /// task's position if it panicked or timed out. Dropping the stream aborts every task
    /// it spawned.
    #[must_use = "streams do nothing unless polled"]
    pub struct SpawnOrdered<S, Fut, F>
    where
        Fut: Future,
    {
        #[pin]
        driver: Driver<S, Fut::Output>,
        f: F,
    }
}

pin_project! {
    /// Stream for the [`spawn_ordered_blocking`](crate::OrderedExt::spawn_ordered_blocking)
    /// method.
    ///
    /// Yields each closure's result in input order: `Ok(output)`, or a [`TaskError`] in its
    /// position if it panicked. Dropping the stream cancels every closure that has not
    /// started; closures already running finish on the blocking pool and their results
    /// are dropped.
    #[must_use = "streams do nothing unless polled"]
    pub struct SpawnOrderedBlocking<S, F, R> {
        #[pin]
        driver: Driver<S, R>,
        f: Arc<F>,
    }
}

impl<S, Fut, F> SpawnOrdered<S, Fut, F>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    pub(crate) fn new(input: S, f: F, config: SpawnConfig) -> Self {
        let driver = Driver::new(input, config);
        Self { driver, f }
    }
}

impl<S, F, R> SpawnOrderedBlocking<S, F, R>
where
    S: Stream,
    S::Item: Send + 'static,
    F: Fn(S::Item) -> R + Send + Sync + 'static,
    R: Send + 'static,
{
    pub(crate) fn new(input: S, f: F, config: SpawnConfig) -> Self {
        let driver = Driver::new(input, config);
        Self {
            driver,
            f: Arc::new(f),
        }
    }
}

impl<S, Fut, F> Stream for SpawnOrdered<S, Fut, F>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    type Item = Result<Fut::Output, TaskError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let f = this.f;
        this.driver.poll_next(cx, |input, tasks, runtime| {
            // `f` runs in this poll: if it panics, the panic goes on to the caller, but
            // the input still takes its position, as a cancelled task, so that a caller
            // that catches the panic and polls on sees it there (nothing shifts).
            match std::panic::catch_unwind(AssertUnwindSafe(|| f(input))) {
                Ok(fut) => {
                    tasks.spawn_on(fut, runtime);
                }
                Err(payload) => {
                    tasks.spawn_cancelled(runtime);
                    std::panic::resume_unwind(payload);
                }
            }
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.driver.size_hint()
    }
}

impl<S, F, R> Stream for SpawnOrderedBlocking<S, F, R>
where
    S: Stream,
    S::Item: Send + 'static,
    F: Fn(S::Item) -> R + Send + Sync + 'static,
    R: Send + 'static,
{
    type Item = Result<R, TaskError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let f = this.f;
        this.driver.poll_next(cx, |input, tasks, runtime| {
            let f = Arc::clone(f);
            tasks.spawn_blocking_on(move || f(input), runtime);
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.driver.size_hint()
    }
}

/// Introspection, fusing and `Debug`, the same for both task streams.
macro_rules! task_stream_common {
    ($name:ident<$($param:ident),*> where $($bounds:tt)*) => {
        impl<$($param),*> $name<$($param),*> where $($bounds)* {
            /// Tasks started whose result the stream has not taken in yet. A finished
            /// task counts until the stream is next polled, so its slot under `limit` is
            /// freed as soon as the consumer asks for more: that poll starts new work in
            /// the freed slots first, then hands out the next result.
            pub fn in_flight(&self) -> usize {
                self.driver.tasks.in_flight()
            }

            /// Results that arrived early and wait for an earlier one, as of the stream's
            /// last poll.
            pub fn buffered_len(&self) -> usize {
                self.driver.tasks.buffered_len()
            }

            /// The most results waiting at once so far; never more than the window.
            pub fn peak_buffered(&self) -> usize {
                self.driver.tasks.peak_buffered()
            }

            /// The position of the next result to be yielded; every earlier one has been.
            ///
            /// This is the stream's commit watermark: results come in input order and a
            /// failure comes in its own position, so once you have handled the result
            /// you were given (retried or dead-lettered it if it failed), every input
            /// below `next_seq()` is done. See "Commit offsets safely" in the crate docs.
            pub fn next_seq(&self) -> u64 {
                self.driver.tasks.next_seq()
            }

            /// The input stream.
            pub fn get_ref(&self) -> &S {
                &self.driver.input
            }
        }

        impl<$($param),*> FusedStream for $name<$($param),*>
        where
            Self: Stream,
            $($bounds)*
        {
            fn is_terminated(&self) -> bool {
                self.driver.is_terminated()
            }
        }

        impl<$($param),*> fmt::Debug for $name<$($param),*>
        where
            S: fmt::Debug,
            $($bounds)*
        {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("driver", &self.driver)
                    .finish_non_exhaustive()
            }
        }
    };
}

task_stream_common!(SpawnOrdered<S, Fut, F> where S: Stream, Fut: Future, Fut::Output: Send + 'static);
task_stream_common!(SpawnOrderedBlocking<S, F, R> where S: Stream, R: Send + 'static);
