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
            Self::Missing(range) if range.end - range.start == 1 => {
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
