//! The coordinator's side: jobs sent as NATS requests to a queue group, each with a
//! timeout and bounded retries, replies back in input order through `spawn_ordered`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::{Client, HeaderMap, Request, RequestErrorKind, Subject};
use bytes::Bytes;
use futures_util::stream::{FusedStream, Stream};
use pin_project_lite::pin_project;
use reorder::{OrderedExt, SpawnConfig, SpawnOrdered};

use crate::error::{AttemptFailure, DispatchError};
use crate::headers::{ATTEMPT_HEADER, ERROR_HEADER, SEQ_HEADER};

/// How a [`Dispatcher`] sends its requests.
///
/// | knob | bounds | default |
/// |---|---|---|
/// | [`limit`](Self::new) | requests in flight at once (a job waiting out a backoff counts) | required |
/// | [`window`](Self::window) | replies waiting for an earlier one: memory | `4 × limit` |
/// | [`request_timeout`](Self::request_timeout) | how long one attempt waits for its reply | 5 s |
/// | [`max_attempts`](Self::max_attempts) | attempts per job, the first included | 5 |
/// | [`backoff`](Self::backoff) | the pause before the first retry; doubles per retry up to [`max_backoff`](Self::max_backoff) | 100 ms, up to 5 s |
///
/// `limit` and `window` mean what they mean in [`SpawnConfig`]: a job is sent only
/// while fewer than `limit` are in flight and its position is below the oldest
/// unyielded one plus `window`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reorder_nats::DispatchConfig;
///
/// let config = DispatchConfig::new(64)
///     .request_timeout(Duration::from_secs(2))
///     .max_attempts(3);
/// assert_eq!(config.get_window(), 256);
/// assert_eq!(config.get_max_attempts(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DispatchConfig {
    spawn: SpawnConfig,
    request_timeout: Duration,
    max_attempts: u32,
    backoff: Duration,
    max_backoff: Duration,
}

impl DispatchConfig {
    /// At most `limit` requests in flight; the other settings at their defaults.
    ///
    /// # Panics
    ///
    /// Panics if `limit` is 0.
    #[track_caller]
    pub const fn new(limit: usize) -> Self {
        Self {
            spawn: SpawnConfig::new(limit),
            request_timeout: Duration::from_secs(5),
            max_attempts: 5,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }

    /// At most `window` replies held for an earlier one.
    ///
    /// # Panics
    ///
    /// Panics if `window < limit`.
    #[track_caller]
    #[must_use = "builder methods return the changed settings"]
    pub const fn window(mut self, window: usize) -> Self {
        self.spawn = self.spawn.window(window);
        self
    }

    /// How long one attempt waits for its reply before it is abandoned and the job is
    /// sent again. `Duration::MAX` waits for ever — also for a reply lost with a worker
    /// or a server that went away, so a job whose worker dies then waits until the run
    /// is dropped: keep a finite timeout unless another layer watches for that.
    #[must_use = "builder methods return the changed settings"]
    pub const fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Attempts per job, the first included; 1 means no retry.
    ///
    /// # Panics
    ///
    /// Panics if `attempts` is 0.
    #[track_caller]
    #[must_use = "builder methods return the changed settings"]
    pub const fn max_attempts(mut self, attempts: u32) -> Self {
        assert!(
            attempts > 0,
            "DispatchConfig: max_attempts must be at least 1"
        );
        self.max_attempts = attempts;
        self
    }

    /// The pause before the first retry; each later retry waits twice as long as the one
    /// before, up to [`max_backoff`](Self::max_backoff).
    #[must_use = "builder methods return the changed settings"]
    pub const fn backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// The longest pause between two attempts.
    #[must_use = "builder methods return the changed settings"]
    pub const fn max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// Requests in flight at once, at most.
    pub const fn get_limit(&self) -> usize {
        self.spawn.get_limit()
    }

    /// Replies held for an earlier one, at most.
    pub const fn get_window(&self) -> usize {
        self.spawn.get_window()
    }

    /// How long one attempt waits.
    pub const fn get_request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Attempts per job.
    pub const fn get_max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The pause before the first retry.
    pub const fn get_backoff(&self) -> Duration {
        self.backoff
    }

    /// The longest pause between attempts.
    pub const fn get_max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The pause before attempt `attempt + 1` (`attempt` ≥ 1 has just failed).
    fn pause_after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.backoff
            .checked_mul(1 << doublings)
            .unwrap_or(Duration::MAX)
            .min(self.max_backoff)
    }
}

/// Counters shared by a [`Dispatcher`] and every clone of it: a cheap handle to read
/// while a run goes on.
///
/// # Examples
///
/// ```
/// use reorder_nats::Stats;
///
/// let stats = Stats::default();
/// assert_eq!(stats.retries(), 0);
/// ```
#[derive(Clone, Default)]
pub struct Stats(Arc<Counters>);

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    replies: AtomicU64,
    retries: AtomicU64,
    timeouts: AtomicU64,
    no_responders: AtomicU64,
    failures: AtomicU64,
}

impl Stats {
    /// Requests sent: every attempt counts.
    pub fn requests(&self) -> u64 {
        self.0.requests.load(Ordering::Relaxed)
    }

    /// Replies taken: one per job at most (a late reply to an abandoned attempt is
    /// never taken).
    pub fn replies(&self) -> u64 {
        self.0.replies.load(Ordering::Relaxed)
    }

    /// Attempts after the first: jobs sent again after a timeout, no responders or a
    /// connection error.
    pub fn retries(&self) -> u64 {
        self.0.retries.load(Ordering::Relaxed)
    }

    /// Attempts that timed out.
    pub fn timeouts(&self) -> u64 {
        self.0.timeouts.load(Ordering::Relaxed)
    }

    /// Attempts that found nobody serving the subject.
    pub fn no_responders(&self) -> u64 {
        self.0.no_responders.load(Ordering::Relaxed)
    }

    /// Jobs that ended in a [`DispatchError`] (exhausted, rejected or failed on the worker).
    pub fn failures(&self) -> u64 {
        self.0.failures.load(Ordering::Relaxed)
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stats")
            .field("requests", &self.requests())
            .field("replies", &self.replies())
            .field("retries", &self.retries())
            .field("timeouts", &self.timeouts())
            .field("no_responders", &self.no_responders())
            .field("failures", &self.failures())
            .finish()
    }
}

/// Sends jobs to the workers of one subject (a queue group: see [`Worker`](crate::Worker))
/// and hands their replies back in input order.
///
/// Each job is a NATS request. An attempt that gets no reply within the
/// [request timeout](DispatchConfig::request_timeout) — its worker died, hangs, or is
/// just slow — is abandoned and the job is sent again after a backoff, so that any live
/// worker of the group may take it; after [`max_attempts`](DispatchConfig::max_attempts)
/// the job yields [`DispatchError::Exhausted`] in its position, its payload handed back.
///
/// A job is answered at most once. Every attempt is its own request with its own reply
/// subject (a fresh inbox), and the client stops listening on an attempt's inbox when it
/// abandons it: a late reply to an abandoned attempt (the slow worker answering after
/// the job was retried elsewhere) is dropped by the client and never reaches the
/// consumer. The first reply to the current attempt wins. Work can still be *done* twice
/// on the workers (the slow one finishes too): jobs should be idempotent, as with any
/// at-least-once delivery.
///
/// Each request carries two headers the worker can read: `Reorder-Seq` (the job's
/// position) and `Reorder-Attempt` (1 for the first attempt).
///
/// Cloning is cheap; clones share the client, the settings and the [`Stats`].
///
/// # Examples
///
/// ```no_run
/// use futures::{stream, StreamExt};
/// use reorder_nats::{DispatchConfig, Dispatcher};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let dispatcher = Dispatcher::new(client, "jobs").config(DispatchConfig::new(64));
/// let jobs = stream::iter((0..1_000u32).map(|i| i.to_string()));
/// let mut replies = dispatcher.dispatch(jobs);
/// while let Some(reply) = replies.next().await {
///     println!("{:?}", reply?); // in input order
/// }
/// println!("retries: {}", dispatcher.stats().retries());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Dispatcher {
    client: Client,
    subject: Subject,
    config: DispatchConfig,
    stats: Stats,
}

impl Dispatcher {
    /// Sends to `subject` through `client`, with [`DispatchConfig::new(64)`](DispatchConfig::new).
    pub fn new(client: Client, subject: impl Into<String>) -> Self {
        Self {
            client,
            subject: Subject::from(subject.into()),
            config: DispatchConfig::new(64),
            stats: Stats::default(),
        }
    }

    /// The same dispatcher with other settings.
    #[must_use = "builder methods return the changed dispatcher"]
    pub fn config(mut self, config: DispatchConfig) -> Self {
        self.config = config;
        self
    }

    /// The settings.
    pub fn get_config(&self) -> &DispatchConfig {
        &self.config
    }

    /// The counters, shared with every clone.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Dispatches every job of `jobs` and yields the replies in input order: `Ok(reply)`,
    /// or a [`DispatchError`] in the job's position.
    ///
    /// At most [`limit`](DispatchConfig::new) jobs are in flight and at most
    /// [`window`](DispatchConfig::window) replies wait for an earlier one. Needs a tokio
    /// runtime: each job runs as a task. Dropping the stream aborts every job in
    /// flight (their requests are abandoned; workers may still run them).
    pub fn dispatch<S>(&self, jobs: S) -> DispatchOrdered<S>
    where
        S: Stream,
        S::Item: Into<Bytes>,
    {
        DispatchOrdered::new(self.clone(), jobs)
    }

    /// Sends one job, with the timeout and retries of the settings, and returns its
    /// reply. `seq` is only passed on to the worker (the `Reorder-Seq` header) and into
    /// errors. This is what [`dispatch`](Self::dispatch) runs per job; call it yourself
    /// to dispatch in another order (e.g. `buffer_unordered`).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the current attempt; a reply to it is dropped.
    pub fn request(
        &self,
        seq: u64,
        payload: impl Into<Bytes>,
    ) -> impl Future<Output = Result<Bytes, DispatchError>> + Send + 'static {
        let this = self.clone();
        let payload = payload.into();
        async move { this.run(seq, payload).await }
    }

    pub(crate) async fn run(self, seq: u64, payload: Bytes) -> Result<Bytes, DispatchError> {
        let counters = &self.stats.0;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            Stats::bump(&counters.requests);
            let mut headers = HeaderMap::new();
            headers.insert(SEQ_HEADER, seq.to_string());
            headers.insert(ATTEMPT_HEADER, attempt.to_string());
            let timeout = (self.config.request_timeout != Duration::MAX)
                .then_some(self.config.request_timeout);
            let request = Request::new()
                .payload(payload.clone())
                .headers(headers)
                .timeout(timeout);
            let failure = match self
                .client
                .send_request(self.subject.clone(), request)
                .await
            {
                Ok(message) => {
                    if let Some(error) = message.headers.as_ref().and_then(|h| h.get(ERROR_HEADER))
                    {
                        Stats::bump(&counters.failures);
                        return Err(DispatchError::Worker {
                            seq,
                            message: error.as_str().to_owned(),
                        });
                    }
                    Stats::bump(&counters.replies);
                    return Ok(message.payload);
                }
                Err(e) => match e.kind() {
                    RequestErrorKind::TimedOut => {
                        Stats::bump(&counters.timeouts);
                        AttemptFailure::TimedOut
                    }
                    RequestErrorKind::NoResponders => {
                        Stats::bump(&counters.no_responders);
                        AttemptFailure::NoResponders
                    }
                    RequestErrorKind::InvalidSubject | RequestErrorKind::MaxPayloadExceeded => {
                        Stats::bump(&counters.failures);
                        return Err(DispatchError::Rejected {
                            seq,
                            reason: e.to_string(),
                            payload,
                        });
                    }
                    RequestErrorKind::Other => AttemptFailure::Connection(e.to_string()),
                },
            };
            if attempt >= self.config.max_attempts {
                Stats::bump(&counters.failures);
                return Err(DispatchError::Exhausted {
                    seq,
                    attempts: attempt,
                    last: failure,
                    payload,
                });
            }
            Stats::bump(&counters.retries);
            tokio::time::sleep(self.config.pause_after(attempt)).await;
        }
    }
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("subject", &self.subject)
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

type JobFuture<T> = Pin<Box<dyn Future<Output = Result<T, DispatchError>> + Send + 'static>>;
type MakeJob<I, T> = Box<dyn FnMut(I) -> JobFuture<T> + Send>;

pin_project! {
    /// Stream for the [`Dispatcher::dispatch`] method (and `dispatch_json`, with the
    /// `json` feature): replies in input order.
    #[must_use = "streams do nothing unless polled"]
    pub struct DispatchOrdered<S, T = Bytes>
    where
        S: Stream,
    {
        #[pin]
        inner: SpawnOrdered<S, JobFuture<T>, MakeJob<S::Item, T>>,
        stats: Stats,
    }
}

impl<S> DispatchOrdered<S>
where
    S: Stream,
    S::Item: Into<Bytes>,
{
    fn new(dispatcher: Dispatcher, jobs: S) -> Self {
        Self::with_job(dispatcher, jobs, |this, seq, job| {
            Box::pin(this.run(seq, job.into()))
        })
    }
}

impl<S, T> DispatchOrdered<S, T>
where
    S: Stream,
    T: Send + 'static,
{
    /// `job(dispatcher, seq, input)` makes each job's future.
    pub(crate) fn with_job(
        dispatcher: Dispatcher,
        jobs: S,
        mut job: impl FnMut(Dispatcher, u64, S::Item) -> JobFuture<T> + Send + 'static,
    ) -> Self {
        let stats = dispatcher.stats.clone();
        let config = dispatcher.config.spawn;
        // spawn_ordered calls the closure once per input, in input order: a counter
        // gives each job its position.
        let mut seq = 0u64;
        let make: MakeJob<S::Item, T> = Box::new(move |input: S::Item| {
            let job_seq = seq;
            seq = seq.wrapping_add(1);
            job(dispatcher.clone(), job_seq, input)
        });
        Self {
            inner: jobs.spawn_ordered_with(config, make),
            stats,
        }
    }
}

impl<S: Stream, T: Send + 'static> DispatchOrdered<S, T> {
    /// Jobs sent whose reply the stream has not taken in yet.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight()
    }

    /// Replies that arrived early and wait for an earlier one.
    pub fn buffered_len(&self) -> usize {
        self.inner.buffered_len()
    }

    /// The most replies waiting at once so far; never more than the window.
    pub fn peak_buffered(&self) -> usize {
        self.inner.peak_buffered()
    }

    /// The position of the next reply to be yielded; every earlier one has been.
    pub fn next_seq(&self) -> u64 {
        self.inner.next_seq()
    }

    /// The dispatcher's counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

impl<S: Stream, T: Send + 'static> Stream for DispatchOrdered<S, T> {
    type Item = Result<T, DispatchError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.project()
            .inner
            .poll_next(cx)
            .map(|item| item.map(|r| r.unwrap_or_else(|e| Err(DispatchError::Task(e)))))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<S: Stream, T: Send + 'static> FusedStream for DispatchOrdered<S, T> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<S: Stream + fmt::Debug, T: Send + 'static> fmt::Debug for DispatchOrdered<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatchOrdered")
            .field("inner", &self.inner)
            .field("stats", &self.stats)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let c = DispatchConfig::new(1)
            .backoff(Duration::from_millis(10))
            .max_backoff(Duration::from_millis(50));
        let pauses: Vec<_> = (1..=5).map(|a| c.pause_after(a).as_millis()).collect();
        assert_eq!(pauses, [10, 20, 40, 50, 50]);
        let c = DispatchConfig::new(1)
            .backoff(Duration::MAX)
            .max_backoff(Duration::MAX);
        assert_eq!(c.pause_after(u32::MAX), Duration::MAX);
    }
}
