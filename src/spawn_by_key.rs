//! `spawn_ordered_by_key`: each input becomes a tokio task; results come back in input
//! order *within each key*, and a slow input of one key never holds back another key.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream};
use pin_project_lite::pin_project;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

use crate::buffer::ReorderBuffer;
use crate::error::TaskError;
use crate::keyed::KeyedBuffer;
use crate::spawn::LAUNCHES_PER_POLL;
use crate::tasks::{spawn_blocking_reporting, spawn_reporting, Outcome, Report};

/// How many inputs may be inside the stream per unit of `limit` by default.
const DEFAULT_WINDOW_PER_LIMIT: usize = 4;

/// The knobs of [`spawn_ordered_by_key_with`](crate::OrderedExt::spawn_ordered_by_key_with).
///
/// | knob | bounds | default |
/// |---|---|---|
/// | [`limit`](Self::new) | **concurrency**: tasks running at once, over all keys | required |
/// | [`per_key_limit`](Self::per_key_limit) | tasks of one key running at once; `1` runs each key serially | `limit` (no extra bound) |
/// | [`window`](Self::window) | **memory**: inputs inside the stream at once — waiting for their key's slot, running, or finished and held for an earlier result of their key | `4 × limit` |
/// | [`task_timeout`](Self::task_timeout) | time one task may run before it is aborted and yields a timeout error in its place | none |
/// | [`total_order`](Self::total_order) | yield in input order over all keys, keeping the per-key limit (Akka's `mapAsyncPartitioned`) | off |
///
/// # The window
///
/// An input is pulled only while fewer than `limit` tasks run **and** fewer than `window`
/// inputs are inside the stream. So results held (finished, waiting for an earlier result
/// of the same key) plus inputs waiting for their key's slot never exceed `window`,
/// however slow any one input is. The bound counts what is really held, not the distance
/// from the oldest unfinished input: a result of a key whose earlier inputs are all done
/// is yielded at once and leaves the stream, so fast keys never fill the window. Only the
/// key behind a slow input accumulates results, and once `window - limit` of them wait,
/// new starts pause until the slow one finishes.
///
/// The default, `4 × limit`, is [`SpawnConfig`](crate::SpawnConfig)'s default for the
/// same reason: it leaves a slow key room for three rounds of `limit` results before it
/// pauses anyone, while keeping the bound a small multiple of `limit`. With
/// `per_key_limit(n)` the window is also what lets other keys run while one key's inputs
/// queue: up to `window - limit` inputs of saturated keys can wait while the stream pulls
/// further ahead to find work for free workers.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reorder::KeyedConfig;
///
/// let config = KeyedConfig::new(64)
///     .per_key_limit(1) // each key serially, keys in parallel
///     .window(512)
///     .task_timeout(Duration::from_secs(5));
/// assert_eq!(config.get_per_key_limit(), 1);
/// assert_eq!(KeyedConfig::new(8).get_window(), 32);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyedConfig {
    limit: usize,
    per_key_limit: usize,
    window: usize,
    task_timeout: Option<Duration>,
    total_order: bool,
}

impl KeyedConfig {
    /// At most `limit` tasks run at once; no per-key limit; the window defaults to
    /// `4 × limit`.
    ///
    /// # Panics
    ///
    /// Panics if `limit` is 0: no task could ever start.
    #[track_caller]
    pub const fn new(limit: usize) -> Self {
        assert!(limit > 0, "spawn_ordered_by_key: limit must be at least 1");
        Self {
            limit,
            per_key_limit: limit,
            window: limit.saturating_mul(DEFAULT_WINDOW_PER_LIMIT),
            task_timeout: None,
            total_order: false,
        }
    }

    /// At most `n` tasks of one key run at once. `1` runs each key's inputs one after the
    /// other (Confluent's `KEY` ordering: work that must not overlap per account or per
    /// chat) while different keys still run in parallel. Inputs of a key at its limit wait,
    /// counted against the [`window`](Self::window).
    ///
    /// # Panics
    ///
    /// Panics if `n` is 0: no task of any key could ever start.
    #[track_caller]
    #[must_use = "builder methods return the changed settings"]
    pub const fn per_key_limit(mut self, n: usize) -> Self {
        assert!(
            n > 0,
            "spawn_ordered_by_key: per_key_limit must be at least 1"
        );
        self.per_key_limit = n;
        self
    }

    /// The most inputs inside the stream at once: waiting for their key's slot, running,
    /// or finished and held. See the type's docs.
    ///
    /// # Panics
    ///
    /// Panics if `window < limit`: the extra `limit` could never be used.
    #[track_caller]
    #[must_use = "builder methods return the changed settings"]
    pub const fn window(mut self, window: usize) -> Self {
        assert!(
            window >= self.limit,
            "spawn_ordered_by_key: window must be at least limit"
        );
        self.window = window;
        self
    }

    /// Aborts a task that runs longer than `timeout`; it yields a [`TaskError`] for which
    /// [`is_timeout`](TaskError::is_timeout) is true, in its key's position. Applies to
    /// async tasks only: a blocking closure cannot be interrupted.
    #[must_use = "builder methods return the changed settings"]
    pub const fn task_timeout(mut self, timeout: Duration) -> Self {
        self.task_timeout = Some(timeout);
        self
    }

    /// With `true`, results come back in input order over *all* keys (as from
    /// [`spawn_ordered`](crate::OrderedExt::spawn_ordered)) while the per-key limit still
    /// decides which tasks may run: Akka's `mapAsyncPartitioned`. A slow input then holds
    /// back every later result, as in any total order, and the window becomes a bound on
    /// the distance from the oldest unyielded input.
    #[must_use = "builder methods return the changed settings"]
    pub const fn total_order(mut self, total: bool) -> Self {
        self.total_order = total;
        self
    }

    /// The concurrency limit.
    pub const fn get_limit(&self) -> usize {
        self.limit
    }

    /// The per-key concurrency limit.
    pub const fn get_per_key_limit(&self) -> usize {
        self.per_key_limit
    }

    /// The window.
    pub const fn get_window(&self) -> usize {
        self.window
    }

    /// The per-task timeout.
    pub const fn get_task_timeout(&self) -> Option<Duration> {
        self.task_timeout
    }

    /// Whether results keep total input order.
    pub const fn get_total_order(&self) -> bool {
        self.total_order
    }
}

/// Where results wait for their turn.
enum Output<K, T> {
    /// Per key: the key's own positions, each key's watermark apart.
    PerKey(KeyedBuffer<K, Outcome<T>>),
    /// Over all keys: the input positions.
    Total(ReorderBuffer<Outcome<T>>),
}

/// A key's inputs not yet yielded: how many run, and those waiting for a slot.
struct Lane<I> {
    waiting: VecDeque<Waiting<I>>,
    running: usize,
    /// The key's position for its next input.
    next_seq: u64,
}

struct Waiting<I> {
    seq: u64,
    key_seq: u64,
    input: I,
}

struct Running<K> {
    key: K,
    key_seq: u64,
    /// `None` while the launch runs, and for good if it panicked: then the task's
    /// `Report`, dropped unsent, reports the position cancelled.
    handle: Option<AbortHandle>,
}

/// The bookkeeping of one keyed task stream. Tasks report `(input position, outcome)` on
/// one channel, in completion order; the engine routes each to its key.
struct Engine<K, I, T> {
    tx: mpsc::UnboundedSender<(u64, Outcome<T>)>,
    rx: mpsc::UnboundedReceiver<(u64, Outcome<T>)>,
    running: HashMap<u64, Running<K>>,
    lanes: HashMap<K, Lane<I>>,
    out: Output<K, T>,
    /// A result whose turn has come, kept here while a waiting input is launched, so
    /// that a launch that panics (the job closure, caught by the consumer) loses it not.
    stash: Option<Outcome<T>>,
    /// Cancellations whose turn has come for inputs whose key closure panicked: they
    /// have no key to wait in, so they are yielded next (in total order, in their turn).
    keyless: VecDeque<Outcome<T>>,
    waiting: usize,
    next_seq: u64,
    limit: usize,
    per_key_limit: usize,
    window: usize,
    peak: usize,
}

impl<K, I, T> Engine<K, I, T>
where
    K: Hash + Eq + Clone,
{
    fn new(config: KeyedConfig) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let out = if config.total_order {
            Output::Total(ReorderBuffer::new())
        } else {
            Output::PerKey(KeyedBuffer::new())
        };
        Self {
            tx,
            rx,
            running: HashMap::new(),
            lanes: HashMap::new(),
            out,
            stash: None,
            keyless: VecDeque::new(),
            waiting: 0,
            next_seq: 0,
            limit: config.limit,
            per_key_limit: config.per_key_limit,
            window: config.window,
            peak: 0,
        }
    }

    fn held(&self) -> usize {
        let held = match &self.out {
            Output::PerKey(buffer) => buffer.len(),
            Output::Total(buffer) => buffer.len(),
        };
        held + usize::from(self.stash.is_some()) + self.keyless.len()
    }

    /// Inputs inside the stream: waiting, running, or held.
    fn inside(&self) -> usize {
        self.held() + self.waiting + self.running.len()
    }

    fn may_pull(&self) -> bool {
        self.running.len() < self.limit && self.inside() < self.window
    }

    /// Takes in one pulled input: starts it if its key has a free slot, else queues it.
    fn admit<L>(&mut self, key: K, input: I, launch: &mut L)
    where
        L: FnMut(I, Report<T>) -> JoinHandle<()>,
    {
        let seq = self.next_seq;
        self.next_seq += 1;
        let lane = self.lanes.entry(key.clone()).or_insert_with(|| Lane {
            waiting: VecDeque::new(),
            running: 0,
            next_seq: 0,
        });
        let key_seq = lane.next_seq;
        lane.next_seq += 1;
        if lane.running < self.per_key_limit {
            self.start(key, seq, key_seq, input, launch);
        } else {
            lane.waiting.push_back(Waiting {
                seq,
                key_seq,
                input,
            });
            self.waiting += 1;
            self.note_peak();
        }
    }

    /// Takes the next position for an input whose key closure panicked (it ran in the
    /// consumer's poll): a cancellation there, so that later positions do not shift.
    fn admit_keyless(&mut self) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let cancelled = Err(TaskError::cancelled(seq));
        let ready = match &mut self.out {
            Output::PerKey(_) => Some(cancelled),
            Output::Total(buffer) => match buffer.insert(seq, cancelled) {
                Ok(ready) => ready,
                Err(e) => unreachable!("position {} taken twice", e.seq()),
            },
        };
        self.keyless.extend(ready);
        self.note_peak();
    }

    fn start<L>(&mut self, key: K, seq: u64, key_seq: u64, input: I, launch: &mut L)
    where
        L: FnMut(I, Report<T>) -> JoinHandle<()>,
    {
        // Counted as running before the launch: if the launch panics (the job closure,
        // caught by a consumer that polls on), the `Report` it drops unsent reports the
        // position cancelled, so its key (or the total order) never waits for it.
        if let Some(lane) = self.lanes.get_mut(&key) {
            lane.running += 1;
        }
        let running = Running {
            key,
            key_seq,
            handle: None,
        };
        self.running.insert(seq, running);
        let handle = launch(input, Report::new(seq, self.tx.clone())).abort_handle();
        if let Some(running) = self.running.get_mut(&seq) {
            running.handle = Some(handle);
        }
    }

    /// Takes in one task's outcome; returns it if it is its key's next result.
    fn complete<L>(&mut self, seq: u64, outcome: Outcome<T>, launch: &mut L) -> Option<Outcome<T>>
    where
        L: FnMut(I, Report<T>) -> JoinHandle<()>,
    {
        let Running { key, key_seq, .. } = self.running.remove(&seq)?;
        let inserted = match &mut self.out {
            Output::PerKey(buffer) => buffer.insert(&key, key_seq, outcome),
            Output::Total(buffer) => buffer.insert(seq, outcome),
        };
        let held = match inserted {
            // Kept in the stash while the next input launches (which may panic).
            Ok(Some(outcome)) => {
                self.stash = Some(outcome);
                false
            }
            Ok(None) => true,
            // Every position is reported exactly once by the task that owns it.
            Err(e) => unreachable!("task {} reported twice", e.seq()),
        };
        // The key's slot is free: its oldest waiting input takes it at once.
        let next = self.lanes.get_mut(&key).and_then(|lane| {
            lane.running -= 1;
            lane.waiting.pop_front()
        });
        if let Some(next) = next {
            self.waiting -= 1;
            self.start(key.clone(), next.seq, next.key_seq, next.input, launch);
        }
        if held {
            self.note_peak();
        }
        // Also when the result was held: under total order a key's lane is done with
        // once nothing of it waits or runs (its held results wait by input position).
        self.forget_if_idle(&key);
        self.stash.take()
    }

    /// The next result whose turn has come, if one is held.
    fn pop_ready(&mut self) -> Option<Outcome<T>> {
        if let Some(outcome) = self.stash.take() {
            return Some(outcome);
        }
        if let Some(outcome) = self.keyless.pop_front() {
            return Some(outcome);
        }
        let popped = match &mut self.out {
            Output::PerKey(buffer) => {
                let (key, popped) = buffer.pop_ready()?;
                self.forget_if_idle(&key);
                popped
            }
            Output::Total(buffer) => buffer.pop_ready()?,
        };
        match popped {
            Ok(outcome) => Some(outcome),
            Err(e) => unreachable!("task {} reported twice", e.seq()),
        }
    }

    /// Drops every trace of a key with nothing waiting, running or held, so that keys that
    /// drain cost no memory.
    fn forget_if_idle(&mut self, key: &K) {
        let Some(lane) = self.lanes.get(key) else {
            return;
        };
        if lane.running > 0 || !lane.waiting.is_empty() {
            return;
        }
        let drained = match &mut self.out {
            Output::PerKey(buffer) => buffer.forget(key),
            Output::Total(_) => true,
        };
        if drained {
            self.lanes.remove(key);
        }
    }

    fn note_peak(&mut self) {
        self.peak = self.peak.max(self.held() + self.waiting);
    }
}

impl<K, I, T> Drop for Engine<K, I, T> {
    fn drop(&mut self) {
        self.running
            .values()
            .filter_map(|running| running.handle.as_ref())
            .for_each(AbortHandle::abort);
    }
}

pin_project! {
    /// Pulls inputs lazily, routes them to their keys and yields results. How an input is
    /// launched is passed in per poll, so the public types carry their own bounds.
    struct Driver<S: Stream, K, T> {
        #[pin]
        input: S,
        input_done: bool,
        engine: Engine<K, S::Item, T>,
    }
}

impl<S, K, T> Driver<S, K, T>
where
    S: Stream,
    K: Hash + Eq + Clone,
{
    fn new(input: S, config: KeyedConfig) -> Self {
        Self {
            input,
            input_done: false,
            engine: Engine::new(config),
        }
    }

    fn poll_next<KF, L>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        key_of: &mut KF,
        mut launch: L,
    ) -> Poll<Option<Outcome<T>>>
    where
        KF: FnMut(&S::Item) -> K,
        L: FnMut(S::Item, Report<T>) -> JoinHandle<()>,
    {
        let mut this = self.project();
        let engine = this.engine;
        let mut runtime_checked = false;
        // Starts per poll, so that a huge limit and window with an input that is always
        // ready cannot keep one poll starting work for ever.
        let mut budget = LAUNCHES_PER_POLL;
        loop {
            // Start work first, so workers stay busy while the consumer handles results.
            while budget > 0 && !*this.input_done && engine.may_pull() {
                if !runtime_checked {
                    // Outside a runtime, panic before an input is taken, so that a caller
                    // that catches the panic has lost nothing.
                    drop(tokio::runtime::Handle::current());
                    runtime_checked = true;
                }
                match this.input.as_mut().poll_next(cx) {
                    Poll::Ready(Some(input)) => {
                        budget -= 1;
                        // The key closure runs in this poll too: if it panics, the input
                        // still takes its position, as a cancellation.
                        match std::panic::catch_unwind(AssertUnwindSafe(|| key_of(&input))) {
                            Ok(key) => engine.admit(key, input, &mut launch),
                            Err(payload) => {
                                engine.admit_keyless();
                                std::panic::resume_unwind(payload);
                            }
                        }
                    }
                    Poll::Ready(None) => *this.input_done = true,
                    Poll::Pending => break,
                }
            }
            if let Some(outcome) = engine.pop_ready() {
                return Poll::Ready(Some(outcome));
            }
            if engine.running.is_empty() {
                // Nothing runs, so nothing waits or is held: a held result or a waiting
                // input always has an earlier input of its key running. The input has
                // registered for a wake-up unless it is done.
                debug_assert_eq!(engine.inside(), 0);
                if *this.input_done {
                    return Poll::Ready(None);
                }
                // Out of starts, the input was not polled to its `Pending`: nothing else
                // would wake us.
                if budget == 0 {
                    cx.waker().wake_by_ref();
                }
                return Poll::Pending;
            }
            let received = match engine.rx.poll_recv(cx) {
                Poll::Ready(received) => received,
                Poll::Pending => {
                    // Out of starts for this poll: come back at once, after other tasks.
                    if budget == 0 {
                        cx.waker().wake_by_ref();
                    }
                    return Poll::Pending;
                }
            };
            let Some((seq, outcome)) = received else {
                // Unreachable: `engine.tx` keeps the channel open.
                return Poll::Pending;
            };
            if let Some(outcome) = engine.complete(seq, outcome, &mut launch) {
                return Poll::Ready(Some(outcome));
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let inside = self.engine.inside();
        if self.input_done {
            return (inside, Some(inside));
        }
        let (lower, upper) = self.input.size_hint();
        (
            lower.saturating_add(inside),
            upper.and_then(|u| u.checked_add(inside)),
        )
    }

    fn is_terminated(&self) -> bool {
        self.input_done && self.engine.inside() == 0
    }
}

impl<S: Stream + fmt::Debug, K, T> fmt::Debug for Driver<S, K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.engine;
        let held = match &e.out {
            Output::PerKey(buffer) => buffer.len(),
            Output::Total(buffer) => buffer.len(),
        };
        f.debug_struct("Driver")
            .field("input", &self.input)
            .field("input_done", &self.input_done)
            .field("limit", &e.limit)
            .field("per_key_limit", &e.per_key_limit)
            .field("window", &e.window)
            .field("total_order", &matches!(e.out, Output::Total(_)))
            .field("in_flight", &e.running.len())
            .field("waiting", &e.waiting)
            .field("held", &held)
            .field("active_keys", &e.lanes.len())
            .finish()
    }
}

pin_project! {
    /// Stream for the [`spawn_ordered_by_key`](crate::OrderedExt::spawn_ordered_by_key) and
    /// [`spawn_ordered_by_key_with`](crate::OrderedExt::spawn_ordered_by_key_with) methods.
    ///
    /// Yields each task's result in input order within its key: `Ok(output)`, or a
    /// [`TaskError`] in the task's position within its key if it panicked or timed out.
    /// Results of different keys interleave in the order they become ready. Dropping the
    /// stream aborts every task it spawned.
    #[must_use = "streams do nothing unless polled"]
    pub struct SpawnOrderedByKey<S, K, KF, Fut, F>
    where
        S: Stream,
        Fut: Future,
    {
        #[pin]
        driver: Driver<S, K, Fut::Output>,
        key: KF,
        f: F,
        timeout: Option<Duration>,
    }
}

pin_project! {
    /// Stream for the
    /// [`spawn_ordered_by_key_blocking`](crate::OrderedExt::spawn_ordered_by_key_blocking)
    /// method.
    ///
    /// Yields each closure's result in input order within its key: `Ok(output)`, or a
    /// [`TaskError`] in its position if it panicked. Dropping the stream cancels every
    /// closure that has not started; closures already running finish on the blocking pool
    /// and their results are dropped.
    #[must_use = "streams do nothing unless polled"]
    pub struct SpawnOrderedByKeyBlocking<S, K, KF, F, R>
    where
        S: Stream,
    {
        #[pin]
        driver: Driver<S, K, R>,
        key: KF,
        f: Arc<F>,
    }
}

impl<S, K, KF, Fut, F> SpawnOrderedByKey<S, K, KF, Fut, F>
where
    S: Stream,
    K: Hash + Eq + Clone,
    KF: FnMut(&S::Item) -> K,
    F: FnMut(S::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    pub(crate) fn new(input: S, config: KeyedConfig, key: KF, f: F) -> Self {
        Self {
            driver: Driver::new(input, config),
            key,
            f,
            timeout: config.task_timeout,
        }
    }
}

impl<S, K, KF, F, R> SpawnOrderedByKeyBlocking<S, K, KF, F, R>
where
    S: Stream,
    S::Item: Send + 'static,
    K: Hash + Eq + Clone,
    KF: FnMut(&S::Item) -> K,
    F: Fn(S::Item) -> R + Send + Sync + 'static,
    R: Send + 'static,
{
    pub(crate) fn new(input: S, config: KeyedConfig, key: KF, f: F) -> Self {
        Self {
            driver: Driver::new(input, config),
            key,
            f: Arc::new(f),
        }
    }
}

impl<S, K, KF, Fut, F> Stream for SpawnOrderedByKey<S, K, KF, Fut, F>
where
    S: Stream,
    K: Hash + Eq + Clone,
    KF: FnMut(&S::Item) -> K,
    F: FnMut(S::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    type Item = Result<Fut::Output, TaskError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let (f, timeout) = (this.f, *this.timeout);
        this.driver.poll_next(cx, this.key, |input, report| {
            let fut = f(input);
            spawn_reporting(&tokio::runtime::Handle::current(), fut, timeout, report)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.driver.size_hint()
    }
}

impl<S, K, KF, F, R> Stream for SpawnOrderedByKeyBlocking<S, K, KF, F, R>
where
    S: Stream,
    S::Item: Send + 'static,
    K: Hash + Eq + Clone,
    KF: FnMut(&S::Item) -> K,
    F: Fn(S::Item) -> R + Send + Sync + 'static,
    R: Send + 'static,
{
    type Item = Result<R, TaskError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let f = this.f;
        this.driver.poll_next(cx, this.key, |input, report| {
            let f = Arc::clone(f);
            spawn_blocking_reporting(&tokio::runtime::Handle::current(), move || f(input), report)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.driver.size_hint()
    }
}

/// Introspection, fusing and `Debug`, the same for both keyed task streams.
macro_rules! keyed_stream_common {
    ($name:ident<$($param:ident),*> where $($bounds:tt)*) => {
        impl<$($param),*> $name<$($param),*> where $($bounds)* {
            /// Tasks started whose result the stream has not taken in yet. A finished
            /// task counts until the stream is next polled.
            pub fn in_flight(&self) -> usize {
                self.driver.engine.running.len()
            }

            /// What the window bounds besides running tasks: results held for an
            /// earlier result of their key, plus inputs waiting for their key's slot.
            pub fn buffered_len(&self) -> usize {
                self.driver.engine.held() + self.driver.engine.waiting
            }

            /// The most [`buffered_len`](Self::buffered_len) so far; never more than the
            /// window.
            pub fn peak_buffered(&self) -> usize {
                self.driver.engine.peak
            }

            /// Keys with an input waiting, running or held. A key that drains is
            /// forgotten at once.
            pub fn active_keys(&self) -> usize {
                self.driver.engine.lanes.len()
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

keyed_stream_common!(SpawnOrderedByKey<S, K, KF, Fut, F> where S: Stream, K: Hash + Eq + Clone, Fut: Future);
keyed_stream_common!(SpawnOrderedByKeyBlocking<S, K, KF, F, R> where S: Stream, K: Hash + Eq + Clone);
