//! Ordered results from workers on many machines, over [NATS](https://nats.io).
//!
//! When the work outgrows one machine, `reorder-nats` sends each job as a NATS request to
//! a subject served by a *queue group* of workers — any number, on any machines, joining
//! and leaving at will — and hands the replies back **in input order** through
//! `reorder`'s engine: the [`spawn_ordered`](reorder::OrderedExt::spawn_ordered)
//! semantics, at most `limit` requests in flight and at most `window` replies waiting.
//!
//! | part | what it is |
//! |---|---|
//! | [`Dispatcher`] → [`DispatchOrdered`] | the coordinator: jobs in, replies out in order; per-request timeout, bounded retries with backoff, a typed [`DispatchError`] in position; [`Stats`] |
//! | [`Worker`] | serves a subject in a queue group with your async handler, a concurrency limit and a graceful drain |
//! | [`durable`] | JetStream mode: jobs stored in a stream, read by a durable pull consumer, processed in parallel, results in stream order, acked in order so a crash loses nothing |
//! | `dispatch_json`, `serve_json` (feature `json`) | the same with serde values, JSON on the wire |
//! | [`LocalServer`] | a `nats-server` on a free 127.0.0.1 port, killed on drop: tests and demos |
//!
//! # What happens when
//!
//! | event | behaviour |
//! |---|---|
//! | a worker dies (or hangs) mid-job | its request times out and is sent again after a backoff; another worker of the group takes it |
//! | the slow worker answers after all | the answer goes to the abandoned attempt's inbox and is dropped: each reply reaches the consumer once |
//! | every attempt fails | [`DispatchError::Exhausted`] in the job's position, the payload handed back |
//! | the handler returns `Err` or panics, or its output is over the server's `max_payload` | [`DispatchError::Worker`] in the job's position; not retried |
//! | nobody serves the subject | no-responders is retried like a timeout, so workers may start late |
//! | the consumer drops the stream | every job in flight is abandoned |
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod dispatch;
pub mod durable;
mod error;
mod headers;
#[cfg(feature = "json")]
mod json;
mod local_server;
mod worker;

pub use dispatch::{DispatchConfig, DispatchOrdered, Dispatcher, Stats};
pub use error::{AttemptFailure, DispatchError};
pub use headers::{ATTEMPT_HEADER, ERROR_HEADER, SEQ_HEADER};
pub use local_server::LocalServer;
pub use worker::{Job, Worker, WorkerReport};
