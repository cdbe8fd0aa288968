//! The extension trait: one-line methods that build the adapters.

use std::future::Future;
use std::hash::Hash;

use futures_core::Stream;

use crate::keyed_reorder::{KeyedReorder, KeyedReorderConfig};
use crate::sequenced::Sequenced;
use crate::spawn::BlockingConfig;
use crate::spawn_by_key::{KeyedConfig, SpawnOrderedByKey, SpawnOrderedByKeyBlocking};
use crate::try_spawn::TrySpawnOrdered;
use crate::unordered::SpawnUnordered;
use crate::{Reorder, ReorderConfig, SpawnConfig, SpawnOrdered, SpawnOrderedBlocking};

/// Adds [`ordered`](Self::ordered) and friends to every [`Stream`].
///
/// No method name here is also in `futures::StreamExt` or `tokio_stream::StreamExt`, so
/// this trait can be in scope beside either of them. (Those two clash with each other —
/// both have `next`, `map`, `filter`… — so import one of them, or call the other's
/// methods by path.)
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
    /// Panics if `limit` is 0. Polling the stream outside a tokio runtime panics when it
    /// has an input to start (before taking it, so a caught panic loses nothing); with
    /// nothing left to start, results already spawned are still handed out there.
    /// `f` is called while the stream is polled, so its panic comes out of the poll; a
    /// consumer that catches it and polls on gets a cancelled [`TaskError`](crate::TaskError)
    /// in that input's position (nothing else is lost, nothing waits for it).
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

    /// Like [`spawn_ordered`](Self::spawn_ordered) for fallible jobs: `f(input)` returns
    /// `Result<T, E>`, and the stream yields `Result<T, TryTaskError<E>>` — one error type
    /// for "the job returned `Err`" and "its task panicked, timed out or was cancelled",
    /// so `try_collect`, `?` and `anyhow` work directly.
    ///
    /// An error does not stop the stream: like a panic in `spawn_ordered`, it is yielded
    /// in its position and the jobs after it go on. Stopping is the consumer's choice,
    /// and it costs nothing: `try_collect`, `try_next()?` and `?` in a loop stop at the
    /// first error *in input order*, and dropping the stream then aborts every task
    /// still running. A consumer that wants every outcome (log the failures, keep the
    /// rest) just keeps polling. Stopping inside the stream would take that choice away
    /// and save nothing the drop does not.
    ///
    /// # Panics
    ///
    /// Panics if `limit` is 0. Polling the stream outside a tokio runtime panics when it
    /// has an input to start (before taking it, so a caught panic loses nothing); with
    /// nothing left to start, results already spawned are still handed out there.
    /// `f` is called while the stream is polled, so its panic comes out of the poll; a
    /// consumer that catches it and polls on gets `Err(TryTaskError::Task(_))`, cancelled,
    /// in that input's position (nothing else is lost, nothing waits for it).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, TryStreamExt};
    /// use reorder::{OrderedExt, TryTaskError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let parsed: Result<Vec<u32>, TryTaskError<std::num::ParseIntError>> = stream::iter(["1", "2", "x", "4"])
    ///     .try_spawn_ordered(2, |s| async move { s.parse::<u32>() })
    ///     .try_collect()
    ///     .await;
    /// assert_eq!(parsed.unwrap_err().seq(), 2); // the first error in input order
    /// # }
    /// ```
    ///
    /// With `?` and a boxed (or `anyhow`) error:
    ///
    /// ```
    /// use futures::{stream, StreamExt};
    /// use reorder::OrderedExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let mut lines = stream::iter(["1", "2"]).try_spawn_ordered(4, |s| async move { s.parse::<u32>() });
    /// let mut total = 0;
    /// while let Some(n) = lines.next().await {
    ///     total += n?;
    /// }
    /// assert_eq!(total, 3);
    /// # Ok(())
    /// # }
    /// ```
    #[track_caller]
    fn try_spawn_ordered<Fut, F, T, E>(self, limit: usize, f: F) -> TrySpawnOrdered<Self, Fut, F>
    where
        Self: Sized,
        F: FnMut(Self::Item) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        TrySpawnOrdered::new(self, f, SpawnConfig::new(limit))
    }

    /// Like [`try_spawn_ordered`](Self::try_spawn_ordered), with a window and a per-task
    /// timeout; see [`SpawnConfig`]. A timed-out job yields
    /// [`TryTaskError::Task`](crate::TryTaskError::Task) in its position.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{stream, StreamExt};
    /// use reorder::{OrderedExt, SpawnConfig, TryTaskError};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let config = SpawnConfig::new(2).task_timeout(Duration::from_secs(1));
    /// let out: Vec<_> = stream::iter([0u64, 5])
    ///     .try_spawn_ordered_with(config, |secs| async move {
    ///         tokio::time::sleep(Duration::from_secs(secs)).await;
    ///         Ok::<_, std::io::Error>(secs)
    ///     })
    ///     .collect()
    ///     .await;
    /// assert_eq!(*out[0].as_ref().unwrap(), 0);
    /// assert!(matches!(&out[1], Err(TryTaskError::Task(e)) if e.is_timeout()));
    /// # }
    /// ```
    fn try_spawn_ordered_with<Fut, F, T, E>(
        self,
        config: SpawnConfig,
        f: F,
    ) -> TrySpawnOrdered<Self, Fut, F>
    where
        Self: Sized,
        F: FnMut(Self::Item) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        TrySpawnOrdered::new(self, f, config)
    }

    /// Like [`spawn_ordered`](Self::spawn_ordered) for synchronous work that blocks its
    /// thread: `f(input)` runs on tokio's blocking pool (`spawn_blocking`), at most
    /// `limit` at once, and the results come back in input order.
    ///
    /// It is for jobs that block (synchronous I/O, a lock, a C library), or CPU jobs so
    /// long (tens of milliseconds and up) that they would keep tokio's workers from other
    /// tasks. Plain CPU work is faster as code in `spawn_ordered`'s async block, on
    /// tokio's workers, because the hand-off to the blocking pool costs more than it
    /// saves (measured at 50 µs and at 1 ms per job: see `BENCHMARKS.md`). Set `limit` above the core count: the
    /// blocking pool's threads are not tokio's workers. Measured figures are in
    /// `BENCHMARKS.md`.
    ///
    /// # Panics
    ///
    /// Panics if `limit` is 0. Polling the stream outside a tokio runtime panics when it
    /// has an input to start (before taking it, so a caught panic loses nothing); with
    /// nothing left to start, results already spawned are still handed out there.
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
    /// [`BlockingConfig`].
    ///
    /// There is no task timeout here: a running blocking closure cannot be interrupted,
    /// so `BlockingConfig` has no timeout to set (and a [`SpawnConfig`] is not accepted).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, TryStreamExt};
    /// use reorder::{BlockingConfig, OrderedExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sums: Vec<u64> = stream::iter([10u64, 1_000, 100])
    ///     .spawn_ordered_blocking_with(BlockingConfig::new(2).window(4), |n| (0..n).sum::<u64>())
    ///     .try_collect()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(sums, [45, 499_500, 4_950]);
    /// # }
    /// ```
    fn spawn_ordered_blocking_with<F, R>(
        self,
        config: BlockingConfig,
        f: F,
    ) -> SpawnOrderedBlocking<Self, F, R>
    where
        Self: Sized,
        Self::Item: Send + 'static,
        F: Fn(Self::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        SpawnOrderedBlocking::new(self, f, config.into_spawn_config())
    }

    /// Reorders a stream of `(key, seq, value)` triples within each key: every key's
    /// values come out by that key's sequence numbers (each key starting at 0), and keys
    /// never wait for each other.
    ///
    /// Yields `(key, Ok(value))`, and `(key, Err(..))` with the same contract as
    /// [`ordered`](Self::ordered), per key: [`Late`](crate::ReorderError::Late),
    /// [`Duplicate`](crate::ReorderError::Duplicate), and, when the input ends,
    /// [`Missing`](crate::ReorderError::Missing) for each hole in its key's order. The key
    /// comes with every item because an error such as `Missing` carries no value to tell
    /// which key it belongs to, and because a consumer of several partitions usually
    /// routes by key anyway.
    ///
    /// Holds without bound; use [`ordered_by_key_with`](Self::ordered_by_key_with) for a
    /// total bound on held values. A key that drains frees its storage and keeps only its
    /// watermark (see [`KeyedBuffer`](crate::KeyedBuffer)) — needed to tell a late value
    /// from a new one — so beyond the held values, memory grows for every distinct key the
    /// stream has seen by that key and its drained buffer (the watermark and empty
    /// containers, about 150 bytes on 64-bit targets, plus the hash map's own overhead).
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
    /// // Two partitions, each numbered from 0; partition "a"'s seq 0 is late.
    /// let arrivals = stream::iter([("a", 1, 'y'), ("b", 0, 'p'), ("a", 0, 'x'), ("b", 1, 'q')]);
    /// let out: Vec<_> = arrivals
    ///     .ordered_by_key()
    ///     .map(|(key, value)| (key, value.unwrap()))
    ///     .collect()
    ///     .await;
    /// assert_eq!(out, [("b", 'p'), ("a", 'x'), ("a", 'y'), ("b", 'q')]);
    /// # }
    /// ```
    fn ordered_by_key<K, T>(self) -> KeyedReorder<Self, K, T>
    where
        Self: Sized + Stream<Item = (K, u64, T)>,
        K: Hash + Eq + Clone,
    {
        KeyedReorder::new(self, KeyedReorderConfig::new())
    }

    /// Like [`ordered_by_key`](Self::ordered_by_key), with a first sequence number for
    /// every key and a window (the most values held across all keys); see
    /// [`KeyedReorderConfig`].
    ///
    /// When the window fills, the missing head that has blocked its key the longest is
    /// given up on and reported as `(key, Err(Missing(range)))`; if it turns up later it
    /// is handed back as [`Late`](crate::ReorderError::Late).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, StreamExt};
    /// use reorder::{KeyedReorderConfig, OrderedExt, ReorderError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Key 1's seq 0 is lost; with a window of 2 the stream gives up on it.
    /// let arrivals = stream::iter([(1, 1, 'b'), (1, 2, 'c'), (2, 0, 'z')]);
    /// let out: Vec<_> = arrivals
    ///     .ordered_by_key_with(KeyedReorderConfig::new().window(2))
    ///     .collect()
    ///     .await;
    /// assert_eq!(out[0], (1, Err(ReorderError::Missing(0..1))));
    /// assert_eq!(out[1..], [(1, Ok('b')), (1, Ok('c')), (2, Ok('z'))]);
    /// # }
    /// ```
    fn ordered_by_key_with<K, T>(self, config: KeyedReorderConfig) -> KeyedReorder<Self, K, T>
    where
        Self: Sized + Stream<Item = (K, u64, T)>,
        K: Hash + Eq + Clone,
    {
        KeyedReorder::new(self, config)
    }

    /// Runs `f(input)` for every input as a tokio task, at most `limit` at once, and
    /// yields the results in input order *within each key* (`key(&input)`): for two
    /// inputs with the same key, the earlier one's result comes first, and a result is
    /// yielded as soon as every earlier input of its key has been — a slow input of one
    /// key never delays another key's results.
    ///
    /// Tasks run in parallel on the runtime's workers. The input is pulled lazily, only
    /// when a task may start, so an endless input works. Memory is bounded: at most
    /// `4 × limit` inputs are inside the stream at once, waiting, running or held (see
    /// [`KeyedConfig`] for the window, a per-key limit, a task timeout and total order).
    /// Results of different keys interleave in the order they become ready; if you need
    /// the key with each result, return it from `f`.
    ///
    /// A task that panics or times out yields a [`TaskError`](crate::TaskError) in its
    /// position within its key (its [`seq`](crate::TaskError::seq) is the input's
    /// position in the whole input stream); the others go on, and the stream never ends
    /// early. Dropping the stream aborts every task it spawned.
    ///
    /// # Panics
    ///
    /// Panics if `limit` is 0. Polling the stream panics outside a tokio runtime. `f` is
    /// called while the stream is polled, so its panic comes out of the poll; a consumer
    /// that catches it and polls on gets a cancelled [`TaskError`](crate::TaskError) in
    /// that input's position (nothing else is lost, and its key does not wait for it).
    /// `key` is called while the stream is polled too: if it panics, that input has no
    /// key but keeps its position the same way (a cancellation, yielded at once; under
    /// total order, in its turn).
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
    /// // Account "slow"'s first event takes 100 ms; "fast"'s events are not held back.
    /// let events = [("slow", 100), ("fast", 10), ("slow", 1), ("fast", 20)];
    /// let out: Vec<_> = stream::iter(events)
    ///     .spawn_ordered_by_key(4, |(account, _)| *account, |(account, ms)| async move {
    ///         tokio::time::sleep(Duration::from_millis(ms)).await;
    ///         (account, ms)
    ///     })
    ///     .map(Result::unwrap)
    ///     .collect()
    ///     .await;
    /// assert_eq!(out, [("fast", 10), ("fast", 20), ("slow", 100), ("slow", 1)]);
    /// # }
    /// ```
    #[track_caller]
    fn spawn_ordered_by_key<K, KF, Fut, F>(
        self,
        limit: usize,
        key: KF,
        f: F,
    ) -> SpawnOrderedByKey<Self, K, KF, Fut, F>
    where
        Self: Sized,
        K: Hash + Eq + Clone,
        KF: FnMut(&Self::Item) -> K,
        F: FnMut(Self::Item) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        SpawnOrderedByKey::new(self, KeyedConfig::new(limit), key, f)
    }

    /// Like [`spawn_ordered_by_key`](Self::spawn_ordered_by_key), with a per-key limit, a
    /// window, a per-task timeout or total order; see [`KeyedConfig`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{stream, StreamExt};
    /// use reorder::{KeyedConfig, OrderedExt};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // Each chat's messages are handled one at a time; chats run in parallel.
    /// let config = KeyedConfig::new(8).per_key_limit(1).task_timeout(Duration::from_secs(1));
    /// let messages = [(1, "hi"), (2, "yo"), (1, "how are you?"), (2, "sup")];
    /// let out: Vec<_> = stream::iter(messages)
    ///     .spawn_ordered_by_key_with(config, |(chat, _)| *chat, |(chat, text)| async move {
    ///         tokio::time::sleep(Duration::from_millis(10)).await;
    ///         format!("{chat}: {text}")
    ///     })
    ///     .map(Result::unwrap)
    ///     .collect()
    ///     .await;
    /// let chat1: Vec<_> = out.iter().filter(|line| line.starts_with('1')).collect();
    /// assert_eq!(chat1, ["1: hi", "1: how are you?"]);
    /// # }
    /// ```
    fn spawn_ordered_by_key_with<K, KF, Fut, F>(
        self,
        config: KeyedConfig,
        key: KF,
        f: F,
    ) -> SpawnOrderedByKey<Self, K, KF, Fut, F>
    where
        Self: Sized,
        K: Hash + Eq + Clone,
        KF: FnMut(&Self::Item) -> K,
        F: FnMut(Self::Item) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        SpawnOrderedByKey::new(self, config, key, f)
    }

    /// Like [`spawn_ordered_by_key`](Self::spawn_ordered_by_key) for CPU-bound or
    /// blocking synchronous work: `f(input)` runs on tokio's blocking pool, at most
    /// `config`'s limit at once, and the results come back in input order within each
    /// key. The config's task timeout does not apply: a running closure cannot be
    /// interrupted.
    ///
    /// # Panics
    ///
    /// Polling the stream panics outside a tokio runtime. `key` is called while the
    /// stream is polled, so its panic comes out of the poll; a consumer that catches it
    /// and polls on gets a cancelled [`TaskError`](crate::TaskError) in that input's
    /// position (yielded at once; under total order, in its turn).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, TryStreamExt};
    /// use reorder::{KeyedConfig, OrderedExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sums: Vec<(char, u64)> = stream::iter([('a', 10u64), ('b', 1_000), ('a', 100)])
    ///     .spawn_ordered_by_key_blocking(KeyedConfig::new(2), |(k, _)| *k, |(k, n)| {
    ///         (k, (0..n).sum::<u64>())
    ///     })
    ///     .try_collect()
    ///     .await
    ///     .unwrap();
    /// let a: Vec<_> = sums.iter().filter(|(k, _)| *k == 'a').collect();
    /// assert_eq!(a, [&('a', 45), &('a', 4_950)]);
    /// # }
    /// ```
    fn spawn_ordered_by_key_blocking<K, KF, F, R>(
        self,
        config: KeyedConfig,
        key: KF,
        f: F,
    ) -> SpawnOrderedByKeyBlocking<Self, K, KF, F, R>
    where
        Self: Sized,
        Self::Item: Send + 'static,
        K: Hash + Eq + Clone,
        KF: FnMut(&Self::Item) -> K,
        F: Fn(Self::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        SpawnOrderedByKeyBlocking::new(self, config, key, f)
    }

    /// Runs `f(input)` for every input as a tokio task, at most `limit` at once (retries
    /// aside: see [`retry`](SpawnUnordered::retry)), and yields each result as soon as its
    /// task finishes — completion order — tagged with the input's position: `(seq,
    /// result)`. Commits still go in order:
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
    /// `f` runs inside `poll_next`, so a panic of `f` itself (not of its future) reaches
    /// the caller. That input keeps its position: a caller that catches the panic and
    /// polls on gets `(seq, Err(TaskError))` there, cancelled, and the watermark stops
    /// below it like any failure until it is retried or given up — positions and
    /// offsets never fall out of step.
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
