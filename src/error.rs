//! Small, typed errors. Every error that rejects a value hands the value back.

use std::fmt;
use std::ops::Range;

/// Why a [`Reorder`](crate::Reorder) stream or a [`Receiver`](crate::Receiver) yielded an
/// error instead of a value.
///
/// Nothing is dropped silently: a value that cannot be yielded in order is handed back
/// inside the error, and a sequence number that never came is reported as [`Missing`].
///
/// `Display` and `Debug` never print the value, so `T` needs neither trait.
///
/// [`Missing`]: ReorderError::Missing
pub enum ReorderError<T> {
    /// The value arrived after its position had already passed: either its sequence
    /// number was skipped (reported earlier as [`Missing`](ReorderError::Missing)) or it
    /// is a second copy of a sequence number that was already yielded.
    Late {
        /// The value's sequence number, below [`next_seq`](crate::Reorder::next_seq).
        seq: u64,
        /// The value, handed back.
        value: T,
    },
    /// A second value arrived for a sequence number that was already held. The first copy
    /// is yielded in its position; this one follows it immediately.
    Duplicate {
        /// The repeated sequence number.
        seq: u64,
        /// The second value, handed back.
        value: T,
    },
    /// These sequence numbers were skipped: the input ended before they arrived, the
    /// buffer reached its window, or the head-of-line timeout fired. The range is never
    /// empty. A value for one of them that turns up later comes back as
    /// [`Late`](ReorderError::Late).
    Missing(Range<u64>),
}

impl<T> ReorderError<T> {
    /// The value this error hands back, if it carries one (`Late` and `Duplicate`).
    pub fn into_value(self) -> Option<T> {
        match self {
            Self::Late { value, .. } | Self::Duplicate { value, .. } => Some(value),
            Self::Missing(_) => None,
        }
    }

    /// The first sequence number this error is about.
    pub fn seq(&self) -> u64 {
        match self {
            Self::Late { seq, .. } | Self::Duplicate { seq, .. } => *seq,
            Self::Missing(range) => range.start,
        }
    }
}

impl<T> fmt::Debug for ReorderError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Late { seq, .. } => f
                .debug_struct("Late")
                .field("seq", seq)
                .finish_non_exhaustive(),
            Self::Duplicate { seq, .. } => f
                .debug_struct("Duplicate")
                .field("seq", seq)
                .finish_non_exhaustive(),
            Self::Missing(range) => f.debug_tuple("Missing").field(range).finish(),
        }
    }
}

impl<T> fmt::Display for ReorderError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Late { seq, .. } => write!(f, "sequence number {seq} arrived after its turn"),
            Self::Duplicate { seq, .. } => write!(f, "sequence number {seq} arrived twice"),
            // Never panics, even for a hand-made empty or reversed range.
            Self::Missing(range) if range.start.checked_add(1) == Some(range.end) => {
                write!(f, "sequence number {} is missing", range.start)
            }
            Self::Missing(range) => write!(
                f,
                "sequence numbers {}..{} are missing",
                range.start, range.end
            ),
        }
    }
}

impl<T> std::error::Error for ReorderError<T> {}

impl<T: PartialEq> PartialEq for ReorderError<T> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Late { seq: a, value: x }, Self::Late { seq: b, value: y })
            | (Self::Duplicate { seq: a, value: x }, Self::Duplicate { seq: b, value: y }) => {
                a == b && x == y
            }
            (Self::Missing(a), Self::Missing(b)) => a == b,
            _ => false,
        }
    }
}

impl<T: Eq> Eq for ReorderError<T> {}

/// A value could not be sent because the [`Receiver`](crate::Receiver) is gone.
///
/// The value and its sequence number are handed back.
pub struct SendError<T> {
    /// The sequence number the value was sent with.
    pub seq: u64,
    /// The value, handed back.
    pub value: T,
}

impl<T> SendError<T> {
    /// Takes the value back out of the error.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed reorder channel")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why [`Sender::try_send`](crate::Sender::try_send) could not send at once. The value is
/// handed back either way.
pub enum TrySendError<T> {
    /// The sequence number is at or beyond the receiver's window; `send` would wait.
    Full(SendError<T>),
    /// The receiver is gone.
    Closed(SendError<T>),
}

impl<T> TrySendError<T> {
    /// The sequence number the value was sent with.
    pub fn seq(&self) -> u64 {
        match self {
            Self::Full(e) | Self::Closed(e) => e.seq,
        }
    }

    /// Takes the value back out of the error.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(e) | Self::Closed(e) => e.value,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(e) => f.debug_tuple("Full").field(e).finish(),
            Self::Closed(e) => f.debug_tuple("Closed").field(e).finish(),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(e) => write!(f, "sequence number {} is beyond the reorder window", e.seq),
            Self::Closed(e) => e.fmt(f),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// A spawned task did not produce its value. Yielded in that task's position, so every
/// position is accounted for.
///
/// Like tokio's `JoinError`, it carries the panic payload when the task panicked;
/// [`into_panic`](Self::into_panic) or [`resume_unwind`](Self::resume_unwind) take it out.
pub struct TaskError {
    seq: u64,
    kind: TaskErrorKind,
}

enum TaskErrorKind {
    // A Mutex only to make the error `Sync`; it is never contended.
    Panicked(std::sync::Mutex<Box<dyn std::any::Any + Send + 'static>>),
    TimedOut(std::time::Duration),
    Cancelled,
}

impl TaskError {
    pub(crate) fn panicked(seq: u64, payload: Box<dyn std::any::Any + Send + 'static>) -> Self {
        let kind = TaskErrorKind::Panicked(std::sync::Mutex::new(payload));
        Self { seq, kind }
    }

    pub(crate) fn timed_out(seq: u64, after: std::time::Duration) -> Self {
        let kind = TaskErrorKind::TimedOut(after);
        Self { seq, kind }
    }

    pub(crate) fn cancelled(seq: u64) -> Self {
        let kind = TaskErrorKind::Cancelled;
        Self { seq, kind }
    }

    /// The position of the task that failed.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, TaskErrorKind::Panicked(_))
    }

    /// Whether the task ran past its timeout and was aborted.
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, TaskErrorKind::TimedOut(_))
    }

    /// Whether the task was aborted (by `abort_all`, or by its runtime shutting down)
    /// before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.kind, TaskErrorKind::Cancelled)
    }

    /// The panic payload, if the task panicked; the error itself otherwise.
    ///
    /// # Errors
    ///
    /// Returns `self` when the task did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn std::any::Any + Send + 'static>, Self> {
        match self.kind {
            TaskErrorKind::Panicked(payload) => Ok(payload
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)),
            kind => Err(Self { kind, ..self }),
        }
    }

    /// The panic payload.
    ///
    /// # Panics
    ///
    /// Panics if the task did not panic.
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.try_into_panic()
            .unwrap_or_else(|e| panic!("`into_panic` on a task error that is not a panic: {e}"))
    }

    /// Re-raises the task's panic on this thread; any other error becomes a panic with
    /// its message.
    pub fn resume_unwind(self) -> ! {
        match self.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => panic!("{e}"),
        }
    }

    fn panic_message(&self) -> Option<String> {
        let TaskErrorKind::Panicked(payload) = &self.kind else {
            return None;
        };
        let payload = payload
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        payload
            .downcast_ref::<&'static str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TaskErrorKind::Panicked(_) => match self.panic_message() {
                Some(msg) => write!(f, "task {} panicked: {msg}", self.seq),
                None => write!(f, "task {} panicked", self.seq),
            },
            TaskErrorKind::TimedOut(after) => {
                write!(f, "task {} timed out after {after:?}", self.seq)
            }
            TaskErrorKind::Cancelled => write!(f, "task {} was cancelled", self.seq),
        }
    }
}

/// `TaskError { seq: 3, kind: Panicked, message: Some("boom") }`,
/// `TaskError { seq: 3, kind: TimedOut(1s) }`, `TaskError { seq: 3, kind: Cancelled }`.
impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TaskError");
        out.field("seq", &self.seq);
        match &self.kind {
            TaskErrorKind::Panicked(_) => out
                .field("kind", &format_args!("Panicked"))
                .field("message", &self.panic_message()),
            TaskErrorKind::TimedOut(after) => {
                out.field("kind", &format_args!("TimedOut({after:?})"))
            }
            TaskErrorKind::Cancelled => out.field("kind", &format_args!("Cancelled")),
        };
        out.finish()
    }
}

impl std::error::Error for TaskError {}

/// Why a commit watermark ([`Watermark`](crate::Watermark) and the types built on it)
/// refused an operation. Each variant carries the sequence number it was given; nothing
/// changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WatermarkError {
    /// Registration must be in increasing order: this number is not above every one
    /// registered so far (or is below the base, or `u64::MAX` was registered already).
    NotIncreasing(u64),
    /// Not in flight: never registered, or complete and already passed by the watermark.
    Unknown(u64),
    /// Complete already, and still held behind an earlier incomplete number.
    AlreadyCompleted(u64),
    /// A retry of a number that is in flight but has not failed.
    NotFailed(u64),
}

impl WatermarkError {
    /// The sequence number the refused operation was given.
    pub fn seq(&self) -> u64 {
        match *self {
            Self::NotIncreasing(seq)
            | Self::Unknown(seq)
            | Self::AlreadyCompleted(seq)
            | Self::NotFailed(seq) => seq,
        }
    }
}

impl fmt::Display for WatermarkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotIncreasing(seq) => {
                write!(f, "sequence number {seq} is not above every one registered")
            }
            Self::Unknown(seq) => write!(f, "sequence number {seq} is not in flight"),
            Self::AlreadyCompleted(seq) => write!(f, "sequence number {seq} is already complete"),
            Self::NotFailed(seq) => write!(f, "sequence number {seq} has not failed"),
        }
    }
}

impl std::error::Error for WatermarkError {}
