//! The extension trait: one-line methods that build the adapters.

use std::future::Future;

use futures_core::Stream;

use crate::unordered::SpawnUnordered;
use crate::{Reorder, ReorderConfig, Sequenced, SpawnConfig, SpawnOrdered, SpawnOrderedBlocking};

/// Adds [`ordered`](Self::ordered) and friends to every [`Stream`].
///
/// The method names do not clash with `futures::StreamExt` or `tokio_stream::StreamExt`,
/// so all three can be in scope at once.
pub trait OrderedExt: Stream {
    /// Reorders a stream of `(seq, value)` pairs, first sequence number 0.
    ///
    /// Yields `Ok(value)` strictly by sequence number. A value whose turn has come is
    /// yielded at once; a value that arrives early is held until every earlier one has
    /// been yielded. Nothing is lost and nothing hangs: a sequence number that arrives
    /// after its turn is handed back as [`ReorderError::Late`], a second copy of a held one
    /// as [`ReorderError::Duplicate`], and when the input ends every hole among the held
    /// values is reported as [`ReorderError::Missing`] in its position, then the stream
    /// ends.
    ///
    /// Holds without bound; use [`ordered_with`](Self::ordered_with) to cap memory or
    /// time.
    ///
    /// [`ReorderError::Late`]: crate::ReorderError::Late
    /// [`ReorderError::Duplicate`]: crate::ReorderError::Duplicate
    /// [`ReorderError::Missing`]: crate::ReorderError::Missing
    ///
    /// # Cancel safety
    ///
    /// Held values live in the adapter, not in the future returned by `next()`, so
    /// dropping that future loses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, StreamExt};
    /// use reorder::OrderedExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let arrivals = stream::iter([(2, 'c'), (0, 'a'), (3, 'd'), (1, 'b')]);
    /// let in_order: Vec<char> = arrivals.ordered().map(Result::unwrap).collect().await;
    /// assert_eq!(in_order, ['a', 'b', 'c', 'd']);
    /// # }
    /// ```
    fn ordered(self) -> Reorder<Self>
    where
        Self: Sized,
        Self::Item: Sequenced,
    {
        Reorder::new(self, ReorderConfig::new())
    }

    /// Like [`ordered`](Self::ordered), expecting `first` as the first sequence number.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, StreamExt};
    /// use reorder::OrderedExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let arrivals = stream::iter([(11, "b"), (10, "a")]);
    /// let in_order: Vec<_> = arrivals.ordered_from(10).map(Result::unwrap).collect().await;
    /// assert_eq!(in_order, ["a", "b"]);
    /// # }
    /// ```
    fn ordered_from(self, first: u64) -> Reorder<Self>
    where
        Self: Sized,
        Self::Item: Sequenced,
    {
        Reorder::new(self, ReorderConfig::new().first_seq(first))
    }

    /// Like [`ordered`](Self::ordered), with a first sequence number, a window (the most
    /// values held) and a head-of-line timeout; see [`ReorderConfig`].
    ///
    /// When the window fills or the timeout fires, the missing head is given up on and
    /// reported as [`ReorderError::Missing`](crate::ReorderError::Missing); if it turns
    /// up later it is handed back as [`ReorderError::Late`](crate::ReorderError::Late).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, StreamExt};
    /// use reorder::{OrderedExt, ReorderConfig, ReorderError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Seq 0 is lost; with a window of 2 the stream gives up on it once 2 values wait.
    /// let arrivals = stream::iter([(1, 'b'), (2, 'c'), (3, 'd')]);
    /// let out: Vec<_> = arrivals.ordered_with(ReorderConfig::new().window(2)).collect().await;
    /// assert_eq!(out[0], Err(ReorderError::Missing(0..1)));
    /// assert_eq!(out[1..], [Ok('b'), Ok('c'), Ok('d')]);
    /// # }
    /// ```
    fn ordered_with(self, config: ReorderConfig) -> Reorder<Self>
    where
        Self: Sized,
        Self::Item: Sequenced,
    {
        Reorder::new(self, config)
    }

    /// Runs `f(input)` for every input as a tokio task, at most `limit` at once, and
    /// yields the results in input order.
    ///
    /// Tasks run in parallel on the runtime's workers and finish in any order; each
    /// result is yielded as soon as every earlier one has been. The input is pulled
    /// lazily, only when a task may start, so an endless input works. Memory is bounded:
    /// work starts at most `4 × limit` positions ahead of the oldest unyielded result
    /// (see [`SpawnConfig`] to set that window or a per-task timeout).
    ///
    /// A task that panics yields a [`TaskError`](crate::TaskError) in its own position;
    /// the others go on, and the stream never ends early. Dropping the stream aborts
    /// every task it spawned.
    ///
    /// # Panics
    ///
    /// Panics if `limit` is 0. Polling the stream panics outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{stream, StreamExt, TryStreamExt};
    /// use reorder::OrderedExt;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let results: Vec<u64> = stream::iter(0..8u64)
    ///     .spawn_ordered(4, |i| async move {
    ///         // Later inputs finish first.
    ///         tokio::time::sleep(Duration::from_millis(80 - 10 * i)).await;
    ///         i * i
    ///     })
    ///     .try_collect()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(results, [0, 1, 4, 9, 16, 25, 36, 49]);
    /// # }
    /// ```
    #[track_caller]
    fn spawn_ordered<Fut, F>(self, limit: usize, f: F) -> SpawnOrdered<Self, Fut, F>
    where
        Self: Sized,
        F: FnMut(Self::Item) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        SpawnOrdered::new(self, f, SpawnConfig::new(limit))
    }

    /// Like [`spawn_ordered`](Self::spawn_ordered), with a window and a per-task timeout;
    /// see [`SpawnConfig`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{stream, StreamExt};
    /// use reorder::{OrderedExt, SpawnConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let config = SpawnConfig::new(2).window(8).task_timeout(Duration::from_secs(1));
    /// let out: Vec<_> = stream::iter([1u64, 5, 1])
    ///     .spawn_ordered_with(config, |secs| async move {
    ///         tokio::time::sleep(Duration::from_secs(secs)).await;
    ///         secs
    ///     })
    ///     .collect()
    ///     .await;
    /// assert_eq!(*out[0].as_ref().unwrap(), 1);
    /// assert!(out[1].as_ref().unwrap_err().is_timeout()); // in its own position
    /// assert_eq!(*out[2].as_ref().unwrap(), 1);
    /// # }
    /// ```
    fn spawn_ordered_with<Fut, F>(self, config: SpawnConfig, f: F) -> SpawnOrdered<Self, Fut, F>
    where
        Self: Sized,
        F: FnMut(Self::Item) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        SpawnOrdered::new(self, f, config)
    }

    /// Like [`spawn_ordered`](Self::spawn_ordered) for CPU-bound or blocking synchronous
    /// work: `f(input)` runs on tokio's blocking pool (`spawn_blocking`), at most `limit`
    /// at once, and the results come back in input order.
    ///
    /// # Panics
    ///
    /// Panics if `limit` is 0. Polling the stream panics outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, TryStreamExt};
    /// use reorder::OrderedExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sums: Vec<u64> = stream::iter([10u64, 1_000, 100])
    ///     .spawn_ordered_blocking(2, |n| (0..n).sum::<u64>())
    ///     .try_collect()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(sums, [45, 499_500, 4_950]);
    /// # }
    /// ```
    #[track_caller]
    fn spawn_ordered_blocking<F, R>(self, limit: usize, f: F) -> SpawnOrderedBlocking<Self, F, R>
    where
        Self: Sized,
        Self::Item: Send + 'static,
        F: Fn(Self::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        SpawnOrderedBlocking::new(self, f, SpawnConfig::new(limit))
    }

    /// Like [`spawn_ordered_blocking`](Self::spawn_ordered_blocking), with a window; see
    /// [`SpawnConfig`] (its task timeout does not apply to blocking closures).
    fn spawn_ordered_blocking_with<F, R>(
        self,
        config: SpawnConfig,
        f: F,
    ) -> SpawnOrderedBlocking<Self, F, R>
    where
        Self: Sized,
        Self::Item: Send + 'static,
        F: Fn(Self::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        SpawnOrderedBlocking::new(self, f, config)
    }

    /// Runs `f(input)` for every input as a tokio task, at most `limit` at once, and
    /// yields each result as soon as its task finishes — completion order — tagged with
    /// the input's position: `(seq, result)`. Commits still go in order:
    /// [`watermark()`](SpawnUnordered::watermark) is the lowest position not yet yielded
    /// successfully, so every input before it has completed and been yielded.
    ///
    /// This is the "unordered results, in-order commits" mode of a log consumer: handle
    /// results as they come, and commit the offset of the input at the watermark (keep
    /// the offsets of the inputs you fed in, in order, and drop those below the
    /// watermark as it passes them). Work starts at most `4 × limit` positions ahead of
    /// the oldest running task, which bounds both memory and how far the commits can lag
    /// (see [`SpawnConfig`]).
    ///
    /// A task that panics or times out yields `(seq, Err(TaskError))` with its own
    /// position, and holds the watermark below it until you
    /// [`retry`](SpawnUnordered::retry) that position or
    /// [`give_up`](SpawnUnordered::give_up) on it. Dropping the stream aborts every task
    /// it spawned.
    ///
    /// For results in input order, and a watermark that simply follows them, use
    /// [`spawn_ordered`](Self::spawn_ordered): there every yielded result's position + 1
    /// ([`next_seq`](SpawnOrdered::next_seq)) is the watermark, once you have handled it.
    ///
    /// # Panics
    ///
    /// Panics if `limit` is 0. Polling the stream panics outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{stream, StreamExt};
    /// use reorder::OrderedExt;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let offsets = [10u64, 11, 15, 16]; // a sparse log
    /// let mut results = stream::iter(offsets).spawn_unordered(4, |offset| async move {
    ///     // Later offsets finish first.
    ///     tokio::time::sleep(Duration::from_millis(100 - offset)).await;
    ///     offset * 2
    /// });
    /// let (seq, doubled) = results.next().await.unwrap();
    /// assert_eq!((seq, doubled.unwrap()), (3, 32)); // position 3 finished first
    /// assert_eq!(results.watermark(), 0); // but position 0 is not done: commit nothing
    /// while let Some((_, result)) = results.next().await {
    ///     result.unwrap();
    /// }
    /// assert_eq!(results.watermark(), 4); // all done: commit one past offset 16
    /// # }
    /// ```
    #[track_caller]
    fn spawn_unordered<Fut, F>(self, limit: usize, f: F) -> SpawnUnordered<Self, Fut, F>
    where
        Self: Sized,
        F: FnMut(Self::Item) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        SpawnUnordered::new(self, f, SpawnConfig::new(limit))
    }

    /// Like [`spawn_unordered`](Self::spawn_unordered), with a window (how far ahead of
    /// the oldest running task work may start) and a per-task timeout; see
    /// [`SpawnConfig`].
    fn spawn_unordered_with<Fut, F>(self, config: SpawnConfig, f: F) -> SpawnUnordered<Self, Fut, F>
    where
        Self: Sized,
        F: FnMut(Self::Item) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        SpawnUnordered::new(self, f, config)
    }
}

impl<S: Stream + ?Sized> OrderedExt for S {}
