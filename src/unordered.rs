//! `spawn_unordered`: each input becomes a tokio task; results come back in completion
//! order, each tagged with its input position, and a commit watermark says up to where
//! every result has been yielded.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream};
use futures_util::FutureExt;
use pin_project_lite::pin_project;
use tokio::task::{AbortHandle, Id, JoinSet};

use crate::error::{TaskError, WatermarkError};
use crate::spawn::{SpawnConfig, LAUNCHES_PER_POLL};
use crate::watermark::Watermark;

pin_project! {
    /// Stream for the [`spawn_unordered`](crate::OrderedExt::spawn_unordered) and
    /// [`spawn_unordered_with`](crate::OrderedExt::spawn_unordered_with) methods.
    ///
    /// Yields `(seq, result)` as tasks finish, `seq` being the input's position (0, 1, 2,
    /// …): `Ok(output)`, or a [`TaskError`] tagged with the same `seq` if the task
    /// panicked or timed out. [`watermark`](Self::watermark) is the lowest position not
    /// yet yielded successfully: every input before it has completed *and* been yielded,
    /// so once you have handled those results, it is safe to commit.
    ///
    /// A failed position holds the watermark until you [`retry`](Self::retry) it (a new
    /// task in the same position, whose result is yielded like any other) or
    /// [`give_up`](Self::give_up) on it (you dead-lettered it): a failure is never
    /// committed silently. It does not stop the stream — new work keeps starting — but
    /// every later position waits behind it in the tracker (one small entry each) until
    /// it is resolved.
    ///
    /// Dropping the stream aborts every task it spawned.
    ///
    /// The retry and give-up methods take `&mut self`; an input stream that is not
    /// `Unpin` should be boxed (`Box::pin(input)`) so the stream can be used both ways.
    #[must_use = "streams do nothing unless polled"]
    pub struct SpawnUnordered<S, Fut, F>
    where
        Fut: Future,
    {
        #[pin]
        input: S,
        input_done: bool,
        f: F,
        tasks: JoinSet<Result<Fut::Output, TaskError>>,
        // The position of each running task, for a task cancelled under us (the runtime
        // shutting down), whose `JoinError` carries only its id.
        running: HashMap<Id, u64>,
        watermark: Watermark,
        next_spawn: u64,
        limit: usize,
        window: u64,
        timeout: Option<Duration>,
    }
}

impl<S, Fut, F> SpawnUnordered<S, Fut, F>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    pub(crate) fn new(input: S, f: F, config: SpawnConfig) -> Self {
        Self {
            input,
            input_done: false,
            f,
            tasks: JoinSet::new(),
            running: HashMap::new(),
            watermark: Watermark::new(),
            next_spawn: 0,
            limit: config.get_limit(),
            window: config.get_window() as u64,
            timeout: config.get_task_timeout(),
        }
    }

    /// Runs `fut` as a new task in the failed position `seq`; its result is yielded like
    /// any other, tagged `seq`. The watermark stays below `seq` until then.
    ///
    /// The retry starts at once, even while `limit` tasks run: the limit only decides
    /// when inputs start. Retries count toward it, so inputs wait while they run. While
    /// it runs, the retry is the oldest running task: inputs start at most `window`
    /// positions past `seq`, so a long retry far behind pauses new work until it ends
    /// (an unresolved failure does not).
    ///
    /// # Errors
    ///
    /// [`WatermarkError::NotFailed`] if `seq` is still running, or as
    /// [`Watermark::retry`] if it was yielded successfully or never started. Nothing is
    /// spawned then.
    ///
    /// # Panics
    ///
    /// Panics outside a tokio runtime.
    #[track_caller]
    pub fn retry<G>(&mut self, seq: u64, fut: G) -> Result<(), WatermarkError>
    where
        G: Future<Output = Fut::Output> + Send + 'static,
    {
        // The runtime check comes first, so a panic leaves the position failed.
        let runtime = tokio::runtime::Handle::current();
        self.watermark.retry(seq)?;
        spawn_task(
            &mut self.tasks,
            &mut self.running,
            &runtime,
            seq,
            self.timeout,
            fut,
        );
        Ok(())
    }
}

impl<S, Fut: Future, F> SpawnUnordered<S, Fut, F> {
    /// The lowest input position not yet yielded successfully (or given up on); every
    /// earlier one has completed and been yielded. It is the next position to
    /// consume — what a commit should record. See [`OrderedExt::spawn_unordered`] for
    /// turning it into an offset.
    ///
    /// [`OrderedExt::spawn_unordered`]: crate::OrderedExt::spawn_unordered
    pub fn watermark(&self) -> u64 {
        self.watermark.get()
    }

    /// Lets the watermark pass the failed position `seq`: you have handled its failure
    /// (logged it, dead-lettered its input).
    ///
    /// # Errors
    ///
    /// [`WatermarkError::NotFailed`] if `seq` is still running; as
    /// [`Watermark::complete`] if it was yielded successfully or never started.
    pub fn give_up(&mut self, seq: u64) -> Result<(), WatermarkError> {
        if self.watermark.is_pending(seq) {
            return Err(WatermarkError::NotFailed(seq));
        }
        self.watermark.complete(seq)
    }

    /// The failed positions not yet retried or given up on, lowest first.
    pub fn failed(&self) -> impl Iterator<Item = u64> + '_ {
        self.watermark.failed()
    }

    /// Tasks started whose result the stream has not yielded yet.
    pub fn in_flight(&self) -> usize {
        self.tasks.len()
    }

    /// The position the next input will take; inputs before it have been started.
    pub fn next_seq(&self) -> u64 {
        self.next_spawn
    }

    /// The input stream.
    pub fn get_ref(&self) -> &S {
        &self.input
    }

    /// Where the window counts from: the lowest position still running, or the
    /// watermark when no failure holds it (the common, O(1) case).
    fn window_base(&self) -> u64 {
        if self.watermark.failed_len() == 0 {
            return self.watermark.get();
        }
        // Rare: a failure holds the watermark, so count from the running tasks only
        // (at most `limit` of them) — an unresolved failure must not stall the stream.
        self.running
            .values()
            .copied()
            .min()
            .unwrap_or(self.next_spawn)
    }
}

/// Spawns one task; its panic or timeout becomes a [`TaskError`] tagged `seq`.
fn spawn_task<T, G>(
    tasks: &mut JoinSet<Result<T, TaskError>>,
    running: &mut HashMap<Id, u64>,
    runtime: &tokio::runtime::Handle,
    seq: u64,
    timeout: Option<Duration>,
    fut: G,
) -> AbortHandle
where
    T: Send + 'static,
    G: Future<Output = T> + Send + 'static,
{
    let handle = tasks.spawn_on(
        async move {
            // Inside `catch_unwind`: on a runtime without timers `timeout` panics, and
            // that reads as this task's panic.
            let timed = async move {
                match timeout {
                    None => Ok(fut.await),
                    Some(limit) => tokio::time::timeout(limit, fut).await.map_err(|_| limit),
                }
            };
            match AssertUnwindSafe(timed).catch_unwind().await {
                Ok(Ok(output)) => Ok(output),
                Ok(Err(limit)) => Err(TaskError::timed_out(seq, limit)),
                Err(payload) => Err(TaskError::panicked(seq, payload)),
            }
        },
        runtime,
    );
    running.insert(handle.id(), seq);
    handle
}

impl<S, Fut, F> Stream for SpawnUnordered<S, Fut, F>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    type Item = (u64, Result<Fut::Output, TaskError>);

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut runtime = None;
        // Starts per poll, so that a huge limit and window with an input that is always
        // ready cannot keep one poll starting work for ever.
        let mut budget = LAUNCHES_PER_POLL;
        // Start work first, so workers stay busy while the consumer handles results.
        while budget > 0
            && !self.input_done
            && self.tasks.len() < self.limit
            && self.next_spawn.saturating_sub(self.window_base()) < self.window
        {
            // Panics outside a runtime before an input is taken.
            let runtime = runtime.get_or_insert_with(tokio::runtime::Handle::current);
            let this = self.as_mut().project();
            match this.input.poll_next(cx) {
                Poll::Ready(Some(input)) => {
                    budget -= 1;
                    let seq = *this.next_spawn;
                    // Positions only grow, from 0: `register` cannot fail.
                    let _ = this.watermark.register(seq);
                    *this.next_spawn += 1;
                    // `f` runs in this poll: if it panics, the panic goes on to the
                    // caller, but the input keeps its position, as a cancelled task that
                    // holds the watermark below it like any failure.
                    match std::panic::catch_unwind(AssertUnwindSafe(|| (this.f)(input))) {
                        Ok(fut) => {
                            spawn_task(this.tasks, this.running, runtime, seq, *this.timeout, fut);
                        }
                        Err(payload) => {
                            let cancelled = std::future::pending::<Fut::Output>();
                            spawn_task(this.tasks, this.running, runtime, seq, None, cancelled)
                                .abort();
                            std::panic::resume_unwind(payload);
                        }
                    }
                }
                Poll::Ready(None) => *this.input_done = true,
                Poll::Pending => break,
            }
        }
        let this = self.project();
        let joined = match this.tasks.poll_join_next_with_id(cx) {
            Poll::Ready(Some(joined)) => joined,
            // Nothing running: done if the input is.
            Poll::Ready(None) if *this.input_done => return Poll::Ready(None),
            // Out of starts for this poll, the input not polled to its `Pending`: come
            // back at once, after other tasks. Otherwise the input or a task wakes us.
            Poll::Ready(None) | Poll::Pending => {
                if budget == 0 {
                    cx.waker().wake_by_ref();
                }
                return Poll::Pending;
            }
        };
        let (seq, outcome) = match joined {
            Ok((id, outcome)) => (this.running.remove(&id), outcome),
            // Panics are caught inside the task, so this is a cancellation (the runtime
            // shutting down; we abort only on drop).
            Err(e) => {
                let seq = this.running.remove(&e.id());
                (seq, Err(TaskError::cancelled(seq.unwrap_or_default())))
            }
        };
        let Some(seq) = seq else {
            unreachable!("every spawned task has a position");
        };
        // The position is running, so these cannot fail.
        let _ = match &outcome {
            Ok(_) => this.watermark.complete(seq),
            Err(_) => this.watermark.fail(seq),
        };
        Poll::Ready(Some((seq, outcome)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let running = self.tasks.len();
        if self.input_done {
            return (running, Some(running));
        }
        let (lower, upper) = self.input.size_hint();
        (
            lower.saturating_add(running),
            upper.and_then(|u| u.checked_add(running)),
        )
    }
}

impl<S, Fut, F> FusedStream for SpawnUnordered<S, Fut, F>
where
    Self: Stream,
    Fut: Future,
{
    fn is_terminated(&self) -> bool {
        self.input_done && self.tasks.is_empty()
    }
}

impl<S: fmt::Debug, Fut: Future, F> fmt::Debug for SpawnUnordered<S, Fut, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnUnordered")
            .field("input", &self.input)
            .field("input_done", &self.input_done)
            .field("limit", &self.limit)
            .field("window", &self.window)
            .field("in_flight", &self.tasks.len())
            .field("watermark", &self.watermark)
            .finish_non_exhaustive()
    }
}
