//! The per-key `Stream` adapter: a thin async shell around [`KeyedBuffer`].

use std::fmt;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::stream::{FusedStream, Stream};
use pin_project_lite::pin_project;

use crate::error::ReorderError;
use crate::keyed::KeyedBuffer;
use crate::reorder::ARRIVALS_PER_POLL;

/// Settings for [`ordered_by_key_with`](crate::OrderedExt::ordered_by_key_with).
///
/// | setting | default | what it does |
/// |---|---|---|
/// | [`first_seq`](Self::first_seq) | `0` | the first sequence number of every key |
/// | [`window`](Self::window) | unbounded | most values held across all keys; when reached, the missing head that has blocked its key the longest is skipped |
///
/// # Examples
///
/// ```
/// use reorder::KeyedReorderConfig;
///
/// let config = KeyedReorderConfig::new().first_seq(1).window(1024);
/// assert_eq!(config.get_first_seq(), 1);
/// assert_eq!(config.get_window(), Some(1024));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyedReorderConfig {
    first_seq: u64,
    window: Option<usize>,
}

impl KeyedReorderConfig {
    /// Every key starts at sequence number 0; holds without bound.
    pub const fn new() -> Self {
        Self {
            first_seq: 0,
            window: None,
        }
    }

    /// The first sequence number of every key.
    #[must_use = "builder methods return the changed settings"]
    pub const fn first_seq(mut self, first: u64) -> Self {
        self.first_seq = first;
        self
    }

    /// The most values held at once, across all keys. When an arrival makes the held
    /// count reach `window`, the missing head that has blocked its key the longest is
    /// skipped (reported as [`Missing`](ReorderError::Missing) for that key), so memory
    /// stays bounded however many keys stall. Only stalled keys lose anything: a key whose
    /// values arrive in order never holds any.
    ///
    /// # Panics
    ///
    /// Panics if `window` is 0.
    #[track_caller]
    #[must_use = "builder methods return the changed settings"]
    pub const fn window(mut self, window: usize) -> Self {
        assert!(window > 0, "reorder window must be at least 1");
        self.window = Some(window);
        self
    }

    /// The configured first sequence number.
    pub const fn get_first_seq(&self) -> u64 {
        self.first_seq
    }

    /// The configured window, or `None` when unbounded.
    pub const fn get_window(&self) -> Option<usize> {
        self.window
    }
}

impl Default for KeyedReorderConfig {
    fn default() -> Self {
        Self::new()
    }
}

pin_project! {
    /// Stream for the [`ordered_by_key`](crate::OrderedExt::ordered_by_key) and
    /// [`ordered_by_key_with`](crate::OrderedExt::ordered_by_key_with) methods.
    ///
    /// Yields `(key, Ok(value))` in each key's sequence order, and `(key, Err(..))` in
    /// place of anything of that key that cannot be yielded in order; keys never wait for
    /// each other. See [`KeyedBuffer`] for the per-key contract.
    ///
    /// An input that is always ready cannot hog the worker: while its arrivals are only
    /// held, one poll takes in at most 1,024 of them, then wakes itself and yields to the
    /// runtime (as [`Reorder`](crate::Reorder) does).
    #[must_use = "streams do nothing unless polled"]
    pub struct KeyedReorder<S, K, T> {
        #[pin]
        stream: S,
        buffer: KeyedBuffer<K, T>,
        window: usize,
        done: bool,
    }
}

impl<S, K, T> KeyedReorder<S, K, T>
where
    S: Stream<Item = (K, u64, T)>,
    K: Hash + Eq + Clone,
{
    pub(crate) fn new(stream: S, config: KeyedReorderConfig) -> Self {
        Self {
            stream,
            buffer: KeyedBuffer::starting_at(config.first_seq),
            window: config.window.unwrap_or(usize::MAX),
            done: false,
        }
    }

    /// The watermark of `key`: every seq of that key below it has been yielded (or
    /// reported), and it is the one the key waits for.
    pub fn next_seq(&self, key: &K) -> u64 {
        self.buffer.next_seq(key)
    }
}

impl<S, K, T> KeyedReorder<S, K, T> {
    /// How many values are held across all keys, waiting for their turn.
    pub fn buffered_len(&self) -> usize {
        self.buffer.len()
    }

    /// The most values held at once so far. Never more than the configured window.
    pub fn peak_buffered(&self) -> usize {
        self.buffer.peak_len()
    }

    /// How many keys have state (see [`KeyedBuffer::tracked_keys`]).
    pub fn tracked_keys(&self) -> usize {
        self.buffer.tracked_keys()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Consumes the adapter, returning the underlying stream. Held values are dropped.
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S, K, T> Stream for KeyedReorder<S, K, T>
where
    S: Stream<Item = (K, u64, T)>,
    K: Hash + Eq + Clone,
{
    type Item = (K, Result<T, ReorderError<T>>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let mut just_held = false;
        let mut budget = ARRIVALS_PER_POLL;
        loop {
            if just_held {
                just_held = false;
                if this.buffer.len() >= *this.window {
                    if let Some((key, skipped)) = this.buffer.skip_oldest_gap() {
                        return Poll::Ready(Some((key, Err(ReorderError::Missing(skipped)))));
                    }
                }
            }
            if let Some(item) = this.buffer.pop_ready() {
                return Poll::Ready(Some(item));
            }
            if *this.done {
                return Poll::Ready(this.buffer.pop_flush());
            }
            if budget == 0 {
                // Held arrivals only, for a while: an input that is always ready must not
                // keep this poll (and its worker) for ever. Come back for more.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            budget -= 1;
            match std::task::ready!(this.stream.as_mut().poll_next(cx)) {
                Some((key, seq, value)) => match this.buffer.insert(&key, seq, value) {
                    Ok(Some(value)) => return Poll::Ready(Some((key, Ok(value)))),
                    Ok(None) => just_held = true,
                    Err(late) => return Poll::Ready(Some((key, Err(late)))),
                },
                None => *this.done = true,
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let held = self.buffer.len();
        if self.done {
            // Each held value may be preceded by one `Missing`.
            return (held, Some(held.saturating_mul(2)));
        }
        let (lower, upper) = self.stream.size_hint();
        let upper = upper
            .and_then(|u| u.checked_add(held))
            .and_then(|n| n.checked_mul(2));
        (lower.saturating_add(held), upper)
    }
}

impl<S, K, T> FusedStream for KeyedReorder<S, K, T>
where
    S: Stream<Item = (K, u64, T)>,
    K: Hash + Eq + Clone,
{
    fn is_terminated(&self) -> bool {
        self.done && self.buffer.is_empty()
    }
}

impl<S: fmt::Debug, K, T> fmt::Debug for KeyedReorder<S, K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedReorder")
            .field("stream", &self.stream)
            .field("buffer", &self.buffer)
            .field("window", &self.window)
            .field("done", &self.done)
            .finish()
    }
}
