//! What a dispatched job can end in instead of a reply.

use std::fmt;

use bytes::Bytes;
use reorder::TaskError;

/// Why one attempt of a request got no reply. Retried, up to the attempt bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptFailure {
    /// No reply within the request timeout: the worker that took it is slow or dead.
    TimedOut,
    /// Nobody serves the subject right now (every worker down, or none started yet).
    NoResponders,
    /// The client could not send or lost the connection; it reconnects on its own.
    Connection(String),
}

impl fmt::Display for AttemptFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimedOut => f.write_str("timed out"),
            Self::NoResponders => f.write_str("no responders"),
            Self::Connection(reason) => write!(f, "connection: {reason}"),
        }
    }
}

/// A job that did not get a reply, yielded in its own position so that every position is
/// accounted for.
///
/// Where the request itself was the problem, the payload is handed back.
pub enum DispatchError {
    /// Every attempt failed; `last` says how the last one did.
    Exhausted {
        /// The job's position in the input.
        seq: u64,
        /// Attempts made (the configured maximum).
        attempts: u32,
        /// How the last attempt failed.
        last: AttemptFailure,
        /// The job, handed back.
        payload: Bytes,
    },
    /// The request could not be sent at all (an invalid subject, a payload over the
    /// server's `max_payload`): retrying would not help, so it was not retried.
    Rejected {
        /// The job's position in the input.
        seq: u64,
        /// What the client said.
        reason: String,
        /// The job, handed back.
        payload: Bytes,
    },
    /// A worker ran the job and its handler returned an error (see
    /// [`Worker::serve`](crate::Worker::serve)). Not retried: the job was done, and failed.
    Worker {
        /// The job's position in the input.
        seq: u64,
        /// The handler's error, as text.
        message: String,
    },
    /// The job could not be encoded, or its reply decoded (the `json` helpers). Not
    /// retried.
    Codec {
        /// The job's position in the input.
        seq: u64,
        /// What the codec said.
        reason: String,
    },
    /// The task that ran the request was aborted (its runtime shutting down) or panicked.
    Task(TaskError),
}

impl DispatchError {
    /// The position of the job that failed.
    pub fn seq(&self) -> u64 {
        match self {
            Self::Exhausted { seq, .. }
            | Self::Rejected { seq, .. }
            | Self::Worker { seq, .. }
            | Self::Codec { seq, .. } => *seq,
            Self::Task(e) => e.seq(),
        }
    }

    /// The job's payload, when it is handed back ([`Exhausted`](Self::Exhausted),
    /// [`Rejected`](Self::Rejected)).
    pub fn into_payload(self) -> Option<Bytes> {
        match self {
            Self::Exhausted { payload, .. } | Self::Rejected { payload, .. } => Some(payload),
            Self::Worker { .. } | Self::Codec { .. } | Self::Task(_) => None,
        }
    }
}

impl fmt::Display for DispatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exhausted {
                seq,
                attempts,
                last,
                ..
            } => write!(f, "job {seq} got no reply in {attempts} attempts ({last})"),
            Self::Rejected { seq, reason, .. } => write!(f, "job {seq} was rejected: {reason}"),
            Self::Worker { seq, message } => write!(f, "job {seq} failed on its worker: {message}"),
            Self::Codec { seq, reason } => write!(f, "job {seq}: {reason}"),
            Self::Task(e) => e.fmt(f),
        }
    }
}

/// The payload is shown by its length only.
impl fmt::Debug for DispatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exhausted {
                seq,
                attempts,
                last,
                payload,
            } => f
                .debug_struct("Exhausted")
                .field("seq", seq)
                .field("attempts", attempts)
                .field("last", last)
                .field("payload_len", &payload.len())
                .finish(),
            Self::Rejected {
                seq,
                reason,
                payload,
            } => f
                .debug_struct("Rejected")
                .field("seq", seq)
                .field("reason", reason)
                .field("payload_len", &payload.len())
                .finish(),
            Self::Worker { seq, message } => f
                .debug_struct("Worker")
                .field("seq", seq)
                .field("message", message)
                .finish(),
            Self::Codec { seq, reason } => f
                .debug_struct("Codec")
                .field("seq", seq)
                .field("reason", reason)
                .finish(),
            Self::Task(e) => f.debug_tuple("Task").field(e).finish(),
        }
    }
}

impl std::error::Error for DispatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Task(e) => Some(e),
            _ => None,
        }
    }
}
