//! The worker's side: serve a subject in a queue group with a user handler, a
//! concurrency limit and a graceful drain.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_nats::{Client, HeaderMap, Message, PublishErrorKind, Subject};
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::headers::{ATTEMPT_HEADER, ERROR_HEADER, SEQ_HEADER};

/// One request as a [`Worker`]'s handler sees it.
pub struct Job {
    payload: Bytes,
    seq: Option<u64>,
    attempt: Option<u32>,
}

impl Job {
    fn from_message(message: &Message) -> Self {
        let header = |name: &str| {
            message
                .headers
                .as_ref()
                .and_then(|h| h.get(name))
                .and_then(|v| v.as_str().parse().ok())
        };
        Self {
            payload: message.payload.clone(),
            seq: header(SEQ_HEADER),
            attempt: header(ATTEMPT_HEADER).and_then(|a: u64| u32::try_from(a).ok()),
        }
    }

    /// The job's bytes.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The job's bytes, taken out.
    pub fn into_payload(self) -> Bytes {
        self.payload
    }

    /// The job's position in its coordinator's input, when the request came from a
    /// [`Dispatcher`](crate::Dispatcher).
    pub fn seq(&self) -> Option<u64> {
        self.seq
    }

    /// Which attempt this is (1 for the first), when the request came from a
    /// [`Dispatcher`](crate::Dispatcher).
    pub fn attempt(&self) -> Option<u32> {
        self.attempt
    }
}

/// The payload is shown by its length only.
impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("payload_len", &self.payload.len())
            .field("seq", &self.seq)
            .field("attempt", &self.attempt)
            .finish()
    }
}

/// What a [`Worker`] did before it stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Requests answered with the handler's output.
    pub replied: u64,
    /// Requests answered with an error: the handler returned `Err` or panicked.
    pub failed: u64,
}

/// Serves one subject in a queue group: NATS hands each request to one member of the
/// group, so any number of workers on any machines share the load, and workers can join
/// and leave at any time.
///
/// # Examples
///
/// ```no_run
/// use reorder_nats::Worker;
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), async_nats::Error> {
/// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let shutdown = async {
///     let _ = tokio::signal::ctrl_c().await;
/// };
/// let report = Worker::new(client, "jobs", "workers")
///     .concurrency(16)
///     .serve(
///         |job| async move { Ok::<_, std::convert::Infallible>(job.into_payload()) },
///         shutdown,
///     )
///     .await?;
/// println!("answered {}", report.replied);
/// # Ok(())
/// # }
/// ```
pub struct Worker {
    client: Client,
    subject: Subject,
    group: String,
    concurrency: usize,
}

impl Worker {
    /// Serves `subject` as a member of the queue group `group`, 64 jobs at a time.
    pub fn new(client: Client, subject: impl Into<String>, group: impl Into<String>) -> Self {
        Self {
            client,
            subject: Subject::from(subject.into()),
            group: group.into(),
            concurrency: 64,
        }
    }

    /// At most `concurrency` handlers run at once; further requests wait in the client.
    ///
    /// # Panics
    ///
    /// Panics if `concurrency` is 0.
    #[track_caller]
    #[must_use = "builder methods return the changed worker"]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        assert!(concurrency > 0, "Worker: concurrency must be at least 1");
        self.concurrency = concurrency;
        self
    }

    /// Runs `handler` on each request and replies with its output, until `shutdown`
    /// completes; then drains and returns.
    ///
    /// The reply is the handler's `Ok` bytes. An `Err` (or a panic) is replied as an
    /// error (an empty payload with a `Reorder-Error` header holding the message, on one
    /// line and cut to 4 KiB), which a [`Dispatcher`](crate::Dispatcher) yields as
    /// [`DispatchError::Worker`](crate::DispatchError::Worker) in the job's position,
    /// without retrying it. So is an `Ok` output too big for the server's `max_payload`. A request without a reply subject is run and its output
    /// dropped.
    ///
    /// Drain: when `shutdown` completes the subscription is drained (the server sends
    /// nothing more; requests already delivered to this worker are still run), every
    /// handler in flight finishes and its reply is flushed, and then `serve` returns.
    /// A worker killed outright answers nothing more; a [`Dispatcher`](crate::Dispatcher)
    /// retries what it held elsewhere.
    ///
    /// # Errors
    ///
    /// The subscription could not be made, or the final flush failed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops at once: handlers in flight are aborted and their
    /// requests go unanswered (the dispatcher retries them). Use `shutdown` to stop
    /// gracefully.
    pub async fn serve<F, Fut, T, E>(
        self,
        handler: F,
        shutdown: impl Future<Output = ()>,
    ) -> Result<WorkerReport, async_nats::Error>
    where
        F: Fn(Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Into<Bytes>,
        E: fmt::Display,
    {
        let handler = Arc::new(handler);
        let mut requests = self
            .client
            .queue_subscribe(self.subject.clone(), self.group.clone())
            .await?;
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let mut tasks: JoinSet<bool> = JoinSet::new();
        let mut report = WorkerReport::default();
        let mut shutdown = std::pin::pin!(shutdown.fuse());
        let mut draining = false;
        let tally = |ok: Result<bool, tokio::task::JoinError>, report: &mut WorkerReport| match ok {
            Ok(true) => report.replied += 1,
            _ => report.failed += 1,
        };
        loop {
            while let Some(done) = tasks.try_join_next() {
                tally(done, &mut report);
            }
            // Take a permit before a message, so excess requests wait in the client's
            // buffer and not in a task.
            let permit = tokio::select! {
                permit = Arc::clone(&permits).acquire_owned() => permit?,
                () = &mut shutdown, if !draining => {
                    requests.drain().await?;
                    draining = true;
                    continue;
                }
            };
            let message = tokio::select! {
                message = requests.next() => message,
                () = &mut shutdown, if !draining => {
                    requests.drain().await?;
                    draining = true;
                    continue;
                }
            };
            let Some(message) = message else { break };
            let client = self.client.clone();
            let handler = Arc::clone(&handler);
            tasks.spawn(async move {
                let _permit = permit;
                let job = Job::from_message(&message);
                let outcome: Result<Bytes, String> =
                    match AssertUnwindSafe(handler(job)).catch_unwind().await {
                        Ok(Ok(output)) => Ok(output.into()),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("the handler panicked".to_owned()),
                    };
                let Some(reply) = message.reply else {
                    return outcome.is_ok();
                };
                match outcome {
                    Ok(output) => {
                        let len = output.len();
                        match client.publish(reply.clone(), output).await {
                            Ok(()) => true,
                            Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => {
                                // Unanswered, the job would time out and be run again,
                                // to fail the same way: answer with the reason instead.
                                let max = client.server_info().max_payload;
                                let e = format!(
                                    "the output ({len} bytes) is over the server's \
                                     max_payload ({max} bytes)"
                                );
                                reply_error(&client, reply, &e).await;
                                false
                            }
                            Err(_) => false,
                        }
                    }
                    Err(e) => {
                        reply_error(&client, reply, &e).await;
                        false
                    }
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            tally(done, &mut report);
        }
        self.client.flush().await?;
        Ok(report)
    }
}

/// The longest error message a worker replies (in bytes, before the `…` that marks a cut).
const MAX_ERROR_LEN: usize = 4096;

async fn reply_error(client: &Client, reply: Subject, message: &str) {
    // A header value is one line, and short: a message over the server's max_payload
    // would not be sent at all, and the job would time out and be run again.
    let mut line = String::new();
    for c in message.chars() {
        if line.len() + c.len_utf8() > MAX_ERROR_LEN {
            line.push('…');
            break;
        }
        line.push(if c.is_control() { ' ' } else { c });
    }
    let mut headers = HeaderMap::new();
    headers.insert(ERROR_HEADER, line.as_str());
    let _ = client
        .publish_with_headers(reply, headers, Bytes::new())
        .await;
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("subject", &self.subject)
            .field("group", &self.group)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}
