//! `try_spawn_ordered`: `spawn_ordered` for fallible jobs, with one flattened error.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::stream::{FusedStream, Stream};
use pin_project_lite::pin_project;

use crate::error::TaskError;
use crate::spawn::{SpawnConfig, SpawnOrdered};

/// Why a job of [`try_spawn_ordered`](crate::OrderedExt::try_spawn_ordered) gave no value:
/// it returned `Err`, or its task panicked, timed out or was cancelled.
///
/// One error type for both, so a stream of `Result<T, TryTaskError<E>>` works with
/// `try_collect`, `?` and `anyhow` without `r??`. It implements [`std::error::Error`]
/// when `E` does, with the job's own error as its [`source`](std::error::Error::source):
/// `Display` says which task failed, the source says why (`anyhow`'s `{:#}` prints
/// both).
///
/// # Examples
///
/// ```
/// use futures::{stream, StreamExt};
/// use reorder::{OrderedExt, TryTaskError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let out: Vec<_> = stream::iter(["1", "x", "3"])
///     .try_spawn_ordered(2, |s| async move { s.parse::<u32>() })
///     .collect()
///     .await;
/// assert_eq!(*out[0].as_ref().unwrap(), 1);
/// let err = out[1].as_ref().unwrap_err();
/// assert!(matches!(err, TryTaskError::Failed { seq: 1, .. }));
/// assert_eq!(err.to_string(), "task 1 failed");
/// let source = std::error::Error::source(err).unwrap();
/// assert_eq!(source.to_string(), "invalid digit found in string");
/// assert_eq!(*out[2].as_ref().unwrap(), 3); // the others go on
/// # }
/// ```
pub enum TryTaskError<E> {
    /// The job ran to its end and returned `Err(error)`.
    Failed {
        /// The job's position.
        seq: u64,
        /// What the job returned.
        error: E,
    },
    /// The job's task panicked, timed out or was cancelled.
    Task(TaskError),
}

impl<E> TryTaskError<E> {
    /// The position of the job that failed.
    pub fn seq(&self) -> u64 {
        match self {
            Self::Failed { seq, .. } => *seq,
            Self::Task(e) => e.seq(),
        }
    }

    /// The job's own error, if it returned one; `None` if its task failed.
    pub fn into_failed(self) -> Option<E> {
        match self {
            Self::Failed { error, .. } => Some(error),
            Self::Task(_) => None,
        }
    }

    /// The task's error, if the task panicked, timed out or was cancelled.
    pub fn into_task_error(self) -> Option<TaskError> {
        match self {
            Self::Failed { .. } => None,
            Self::Task(e) => Some(e),
        }
    }
}

impl<E> From<TaskError> for TryTaskError<E> {
    fn from(e: TaskError) -> Self {
        Self::Task(e)
    }
}

impl<E: fmt::Debug> fmt::Debug for TryTaskError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed { seq, error } => f
                .debug_struct("Failed")
                .field("seq", seq)
                .field("error", error)
                .finish(),
            Self::Task(e) => f.debug_tuple("Task").field(e).finish(),
        }
    }
}

/// `task 3 failed` (the reason is the source), or the [`TaskError`]'s own message.
impl<E> fmt::Display for TryTaskError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed { seq, .. } => write!(f, "task {seq} failed"),
            Self::Task(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for TryTaskError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Failed { error, .. } => Some(error),
            Self::Task(_) => None,
        }
    }
}

pin_project! {
    /// Stream for the [`try_spawn_ordered`](crate::OrderedExt::try_spawn_ordered) and
    /// [`try_spawn_ordered_with`](crate::OrderedExt::try_spawn_ordered_with) methods.
    ///
    /// Yields each job's result in input order: `Ok(value)`, or a [`TryTaskError`] in
    /// the job's position. An error does not end the stream; dropping the stream aborts
    /// every task it spawned.
    #[must_use = "streams do nothing unless polled"]
    pub struct TrySpawnOrdered<S, Fut, F>
    where
        Fut: Future,
    {
        #[pin]
        inner: SpawnOrdered<S, Fut, F>,
    }
}

impl<S, Fut, F, T, E> TrySpawnOrdered<S, Fut, F>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    pub(crate) fn new(input: S, f: F, config: SpawnConfig) -> Self {
        Self {
            inner: SpawnOrdered::new(input, f, config),
        }
    }
}

impl<S, Fut, F> TrySpawnOrdered<S, Fut, F>
where
    S: Stream,
    Fut: Future,
    Fut::Output: Send + 'static,
{
    /// Tasks started whose result the stream has not taken in yet; see
    /// [`SpawnOrdered::in_flight`].
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight()
    }

    /// Results that arrived early and wait for an earlier one.
    pub fn buffered_len(&self) -> usize {
        self.inner.buffered_len()
    }

    /// The most results waiting at once so far; never more than the window.
    pub fn peak_buffered(&self) -> usize {
        self.inner.peak_buffered()
    }

    /// The position of the next result to be yielded; every earlier one has been.
    pub fn next_seq(&self) -> u64 {
        self.inner.next_seq()
    }

    /// The input stream.
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref()
    }
}

impl<S, Fut, F, T, E> Stream for TrySpawnOrdered<S, Fut, F>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    type Item = Result<T, TryTaskError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut inner = self.project().inner;
        let seq = inner.next_seq();
        Poll::Ready(match std::task::ready!(inner.as_mut().poll_next(cx)) {
            None => None,
            Some(Ok(Ok(value))) => Some(Ok(value)),
            // Results come in order, so this one is in the position the stream waited for.
            Some(Ok(Err(error))) => Some(Err(TryTaskError::Failed { seq, error })),
            Some(Err(task)) => Some(Err(TryTaskError::Task(task))),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<S, Fut, F, T, E> FusedStream for TrySpawnOrdered<S, Fut, F>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<S, Fut, F> fmt::Debug for TrySpawnOrdered<S, Fut, F>
where
    S: Stream + fmt::Debug,
    Fut: Future,
    Fut::Output: Send + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrySpawnOrdered")
            .field("inner", &self.inner)
            .finish()
    }
}
