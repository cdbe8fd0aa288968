//! JetStream mode: durable work. Jobs are stored in a stream, read by a durable pull
//! consumer, processed in parallel, yielded in the order the consumer delivered them,
//! and acked one by one after you have handled them — so a coordinator that crashes
//! loses nothing: what it had not acked is delivered again, to it or to its successor.
//!
//! ```text
//! publish ──► stream (work queue) ──► durable pull consumer ──► process(limit, f) ──► in order ──► you: handle, ack
//! ```
//!
//! # Delivery
//!
//! At least once. A message is acked only when you call [`Processed::ack`], after
//! handling its result; one you drop unacked (or lose in a crash) comes back after the
//! consumer's `ack_wait`. So a restarted coordinator may see again the few results it
//! had not acked: make handling idempotent, or dedupe by
//! [`stream_sequence`](Processed::stream_sequence).
//!
//! # Order
//!
//! Results come in the order the consumer delivers the messages: stream order on a
//! fresh run. Redeliveries (after a crash, a nak, an expired `ack_wait`) come when the
//! server sends them, which is after newer messages; they are marked by
//! [`delivered`](Processed::delivered) `> 1`. A redelivery of a message this process
//! still holds (its `ack_wait` ran out mid-job) is skipped, not run twice.
//!
//! Why per-message acks and not one cumulative ack (`AckPolicy::All`) at a commit
//! watermark: redeliveries arrive *below* messages already taken, so a cumulative ack
//! at the highest finished sequence would also ack redelivered messages not yet
//! processed — losing them. Acking each message as it is handled, in yield order, is
//! the watermark made exact: every message delivered before the one you ack has been
//! yielded to you first.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use async_nats::jetstream::stream::RetentionPolicy;
use async_nats::jetstream::{self, AckKind};
use bytes::Bytes;
use futures_util::future::{ready, BoxFuture};
use futures_util::stream::{BoxStream, FusedStream, Stream, StreamExt};
use reorder::{OrderedExt, SpawnConfig, TaskError};

/// Creates (or opens) a work-queue stream `stream` over `subject` and a durable pull
/// consumer `durable` on it, with explicit acks and the given `ack_wait` (how long a
/// delivered message may stay unacked before it is delivered again: longer than your
/// slowest job, retries included).
///
/// Work-queue retention removes each message once it is acked, so the stream holds
/// exactly the work not yet done.
///
/// # Errors
///
/// The stream or the consumer could not be created or opened (JetStream off, a stream
/// of that name with another configuration…).
pub async fn work_queue(
    js: &jetstream::Context,
    stream: &str,
    subject: &str,
    durable: &str,
    ack_wait: Duration,
) -> Result<PullConsumer, async_nats::Error> {
    let stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: stream.to_owned(),
            subjects: vec![subject.to_owned()],
            retention: RetentionPolicy::WorkQueue,
            ..Default::default()
        })
        .await?;
    let consumer = stream
        .get_or_create_consumer(
            durable,
            pull::Config {
                durable_name: Some(durable.to_owned()),
                ack_policy: AckPolicy::Explicit,
                ack_wait,
                ..Default::default()
            },
        )
        .await?;
    Ok(consumer)
}

/// Publishes each job to `subject` and waits for JetStream to confirm it stored it.
///
/// # Errors
///
/// The first publish that failed or was not confirmed; the jobs before it are stored.
pub async fn publish_all<I>(
    js: &jetstream::Context,
    subject: &str,
    jobs: I,
) -> Result<u64, async_nats::Error>
where
    I: IntoIterator,
    I::Item: Into<Bytes>,
{
    let mut stored = 0;
    for job in jobs {
        js.publish(subject.to_owned(), job.into()).await?.await?;
        stored += 1;
    }
    Ok(stored)
}

/// Runs `f(stream_sequence, payload)` on each message of `messages` (a pull consumer's
/// [`messages()`](async_nats::jetstream::consumer::PullConsumer::messages)) as a tokio
/// task, at most `config`'s limit at once, and yields each [`Processed`] result in
/// delivery order, for you to handle and then [`ack`](Processed::ack).
///
/// `config` is `spawn_ordered`'s: `limit` tasks at once, at most `window` results held
/// for an earlier one. A task that panics or times out yields [`DurableError::Task`] in
/// its position, and its message is left unacked, so it is delivered again after
/// `ack_wait`. An error from the consumer (a missed heartbeat…) is yielded as
/// [`DurableError::Consumer`] where it happened; the consumer goes on.
///
/// The stream ends when `messages` ends (a pull consumer's never does: stop when you
/// have what you want). Dropping it aborts the tasks in flight; their messages are
/// delivered again.
pub fn process<M, E, F, Fut, T>(messages: M, config: SpawnConfig, mut f: F) -> Process<T>
where
    M: Stream<Item = Result<jetstream::Message, E>> + Send + 'static,
    E: fmt::Display,
    F: FnMut(u64, Bytes) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let held: Held = Arc::default();
    let admit_into = Arc::clone(&held);
    let admitted = messages.filter_map(move |item| {
        ready(match item {
            Ok(message) => admit(&admit_into, message),
            Err(e) => Some(Input::Error(e.to_string())),
        })
    });
    let results = admitted
        .spawn_ordered_with(config, move |input| -> BoxFuture<'static, Item<T>> {
            match input {
                Input::Job {
                    message,
                    delivered,
                    claim,
                } => {
                    let work = f(claim.seq, message.payload.clone());
                    Box::pin(async move {
                        let output = work.await;
                        Ok(Processed {
                            message: *message,
                            output,
                            delivered,
                            claim,
                        })
                    })
                }
                Input::Error(e) => Box::pin(ready(Err(DurableError::Consumer(e)))),
            }
        })
        .map(|result| result.unwrap_or_else(|e| Err(DurableError::Task(e))));
    Process {
        inner: results.boxed(),
        held,
        done: false,
    }
}

type Item<T> = Result<Processed<T>, DurableError>;
type Held = Arc<Mutex<HashSet<u64>>>;

enum Input {
    Job {
        message: Box<jetstream::Message>,
        delivered: i64,
        claim: Claim,
    },
    Error(String),
}

/// Admits a message unless this process already holds its stream sequence.
fn admit(held: &Held, message: jetstream::Message) -> Option<Input> {
    let (seq, delivered) = match message.info() {
        Ok(info) => (info.stream_sequence, info.delivered),
        Err(e) => {
            return Some(Input::Error(format!(
                "a message without JetStream info: {e}"
            )))
        }
    };
    let fresh = held
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(seq);
    fresh.then(|| Input::Job {
        message: Box::new(message),
        delivered,
        claim: Claim {
            seq,
            held: Arc::clone(held),
        },
    })
}

/// This process holds stream sequence `seq` until the claim is dropped (acked, or given
/// up on: then a redelivery is admitted again).
struct Claim {
    seq: u64,
    held: Held,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.seq);
    }
}

/// One stored job, processed: its output, and the message to ack once you have handled
/// it. Dropped unacked, the message is delivered again after `ack_wait`.
#[must_use = "a processed message is delivered again unless it is acked"]
pub struct Processed<T> {
    message: jetstream::Message,
    output: T,
    delivered: i64,
    claim: Claim,
}

impl<T> Processed<T> {
    /// The message's sequence number in the stream: its identity across redeliveries.
    pub fn stream_sequence(&self) -> u64 {
        self.claim.seq
    }

    /// How many times the message has been delivered: 1 the first time, more after a
    /// crash, a nak or an expired `ack_wait`.
    pub fn delivered(&self) -> i64 {
        self.delivered
    }

    /// The job's payload.
    pub fn payload(&self) -> &Bytes {
        &self.message.payload
    }

    /// What `f` returned.
    pub fn output(&self) -> &T {
        &self.output
    }

    /// Acks the message: it is done and leaves a work-queue stream. Call it after you
    /// have handled the output (written it, sent it on): a crash before the ack means
    /// the job is delivered again, never lost.
    ///
    /// # Errors
    ///
    /// The ack could not be sent (the connection is down); the message will be
    /// delivered again.
    pub async fn ack(&self) -> Result<(), async_nats::Error> {
        self.message.ack().await
    }

    /// Like [`ack`](Self::ack), and waits for the server to confirm it (one round
    /// trip): once this returns `Ok`, the message will not be delivered again.
    ///
    /// # Errors
    ///
    /// No confirmation: the message may be delivered again.
    pub async fn ack_confirmed(&self) -> Result<(), async_nats::Error> {
        self.message.double_ack().await
    }

    /// Asks for the message to be delivered again (to this or another consumer
    /// process), after `delay` if given.
    ///
    /// # Errors
    ///
    /// The nak could not be sent; the message comes back after `ack_wait` anyway.
    pub async fn nak(&self, delay: Option<Duration>) -> Result<(), async_nats::Error> {
        self.message.ack_with(AckKind::Nak(delay)).await
    }

    /// The output, taken out. Ack first: the message is not acked by this.
    pub fn into_output(self) -> T {
        self.output
    }
}

impl<T: fmt::Debug> fmt::Debug for Processed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Processed")
            .field("stream_sequence", &self.claim.seq)
            .field("delivered", &self.delivered)
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

/// An item of [`process`] that is not a processed job.
#[derive(Debug)]
pub enum DurableError {
    /// The consumer reported an error (a missed heartbeat, a failed pull…); it goes on.
    Consumer(String),
    /// The task that ran `f` panicked or timed out; its message stays unacked and is
    /// delivered again.
    Task(TaskError),
}

impl fmt::Display for DurableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Consumer(e) => write!(f, "consumer: {e}"),
            Self::Task(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DurableError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Consumer(_) => None,
            Self::Task(e) => Some(e),
        }
    }
}

/// Stream for the [`process`] function: processed jobs in delivery order.
#[must_use = "streams do nothing unless polled"]
pub struct Process<T> {
    inner: BoxStream<'static, Item<T>>,
    held: Held,
    done: bool,
}

impl<T> Process<T> {
    /// Messages this process holds: in flight, waiting for their turn, or yielded and
    /// not yet acked or dropped.
    pub fn held(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl<T> Stream for Process<T> {
    type Item = Item<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = std::task::ready!(self.inner.poll_next_unpin(cx));
        self.done = item.is_none();
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            self.inner.size_hint()
        }
    }
}

impl<T> FusedStream for Process<T> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<T> fmt::Debug for Process<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("held", &self.held())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
