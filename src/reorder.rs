//! The `Stream` adapter: a thin async shell around [`ReorderBuffer`].

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream};
use pin_project_lite::pin_project;

use crate::buffer::ReorderBuffer;
use crate::error::ReorderError;
use crate::head_timer::HeadTimer;
use crate::next_item::NextItem;
use crate::sequenced::Sequenced;

/// Settings for [`ordered_with`](crate::OrderedExt::ordered_with) and
/// [`channel_with`](crate::channel_with).
///
/// | setting | default | what it does |
/// |---|---|---|
/// | [`first_seq`](Self::first_seq) | `0` | the first sequence number expected |
/// | [`window`](Self::window) | unbounded | most values held; when reached the missing head is skipped |
/// | [`head_timeout`](Self::head_timeout) | none | how long held values may wait for a missing head before it is skipped |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reorder::ReorderConfig;
///
/// let config = ReorderConfig::new()
///     .first_seq(1)
///     .window(1024)
///     .head_timeout(Duration::from_millis(250));
/// assert_eq!(config.get_window(), Some(1024));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReorderConfig {
    first_seq: u64,
    window: Option<usize>,
    head_timeout: Option<Duration>,
}

impl ReorderConfig {
    /// Starts at sequence number 0, holds without bound, never times out.
    pub const fn new() -> Self {
        Self {
            first_seq: 0,
            window: None,
            head_timeout: None,
        }
    }

    /// The first sequence number expected.
    #[must_use = "builder methods return the changed settings"]
    pub const fn first_seq(mut self, first: u64) -> Self {
        self.first_seq = first;
        self
    }

    /// The most values held at once. When an arrival makes the held count reach
    /// `window` while the next expected value is still missing, the missing head is
    /// skipped (reported as [`Missing`](ReorderError::Missing)) so that memory stays
    /// bounded however long the head takes. With `window(1)` any gap is skipped at once.
    /// A held duplicate (a producer bug) counts as held until its turn, so a flood of
    /// duplicates can force such a skip too.
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

    /// How long held values may wait for a missing head. The clock starts when the
    /// stream is polled, finds the next expected value missing and some later value
    /// held; it restarts whenever the watermark moves. When it fires the missing head
    /// is skipped. The clock is honoured however ready the input is: the stream looks at
    /// it before taking more input, and yields to the runtime after every 1,024 arrivals it
    /// holds. Once it has fired, what has already arrived is looked through first (the
    /// head may be among it): the head is skipped when the input has nothing more for
    /// now, or after 128 more arrivals without it. A timeout too long to represent (such as `Duration::MAX`) never fires, as
    /// with tokio's `sleep`. Uses tokio's timer, so the stream must be polled inside a
    /// tokio runtime with time enabled (any runtime: the timer follows the stream if it
    /// moves to another one).
    #[must_use = "builder methods return the changed settings"]
    pub const fn head_timeout(mut self, timeout: Duration) -> Self {
        self.head_timeout = Some(timeout);
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

    /// The configured head-of-line timeout.
    pub const fn get_head_timeout(&self) -> Option<Duration> {
        self.head_timeout
    }
}

impl Default for ReorderConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// How many arrivals one poll takes in while it has nothing to yield, before it yields
/// to the runtime: enough that the hand-off costs little per item (a yield costs about a
/// microsecond), few enough that an input that is always ready cannot hog its worker.
pub(crate) const ARRIVALS_PER_POLL: u32 = 1024;

pin_project! {
    /// Stream for the [`ordered`](crate::OrderedExt::ordered),
    /// [`ordered_from`](crate::OrderedExt::ordered_from) and
    /// [`ordered_with`](crate::OrderedExt::ordered_with) methods.
    ///
    /// Yields `Ok(value)` strictly in sequence order, and an error in place of anything
    /// that cannot be yielded in order; see [`ReorderError`] and the crate docs for the
    /// full contract.
    #[must_use = "streams do nothing unless polled"]
    #[project = ReorderProj]
    pub struct Reorder<S>
    where
        S: Stream,
        S::Item: Sequenced,
    {
        #[pin]
        stream: S,
        buffer: ReorderBuffer<<S::Item as Sequenced>::Value>,
        window: usize,
        head_timeout: Option<HeadTimer>,
        done: bool,
        // `buffer.is_empty() && !done`, kept in one field so that the in-order fast
        // path tests one byte. Only the fast path and `poll_general` change either, and
        // `poll_general` clears it on entry and recomputes it before it returns (so a
        // panic in between leaves it off, never on with a value held).
        fast: bool,
    }
}

impl<S> Reorder<S>
where
    S: Stream,
    S::Item: Sequenced,
{
    pub(crate) fn new(stream: S, config: ReorderConfig) -> Self {
        Self {
            stream,
            buffer: ReorderBuffer::starting_at(config.first_seq),
            window: config.window.unwrap_or(usize::MAX),
            head_timeout: config.head_timeout.map(HeadTimer::new),
            done: false,
            fast: true,
        }
    }

    /// The watermark: every sequence number below it has been yielded (or reported), and
    /// it is the one the stream waits for.
    pub fn next_seq(&self) -> u64 {
        self.buffer.next_seq()
    }

    /// How many values are held, waiting for their turn.
    pub fn buffered_len(&self) -> usize {
        self.buffer.len()
    }

    /// The most values held at once so far. Never more than the configured window.
    pub fn peak_buffered(&self) -> usize {
        self.buffer.peak_len()
    }

    /// The next item in order: what [`StreamExt::next`](futures_util::StreamExt::next)
    /// gives, and called in its place by `stream.next().await` (an inherent method comes
    /// before a trait's). Ours is built to inline into the loop that awaits it, which
    /// makes draining in-order input about 10% cheaper than through `StreamExt::next`
    /// (whose future may end up compiled apart from that loop).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: held values live in the stream, not in the future.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::stream;
    /// use reorder::OrderedExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut ordered = stream::iter([(1u64, 'b'), (0, 'a')]).ordered();
    /// assert_eq!(ordered.next().await.unwrap().unwrap(), 'a');
    /// assert_eq!(ordered.next().await.unwrap().unwrap(), 'b');
    /// assert!(ordered.next().await.is_none());
    /// # }
    /// ```
    #[inline]
    #[allow(clippy::should_implement_trait)] // the `Stream` is implemented; this is its `next()`
    pub fn next(&mut self) -> impl std::future::Future<Output = Option<<Self as Stream>::Item>> + '_
    where
        S: Unpin,
    {
        NextItem(self)
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The underlying stream, mutably. Taking items from it directly breaks the order.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The underlying stream, pinned. Taking items from it directly breaks the order.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut S> {
        self.project().stream
    }

    /// Consumes the adapter, returning the underlying stream. Held values are dropped.
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S> Stream for Reorder<S>
where
    S: Stream,
    S::Item: Sequenced,
{
    type Item = Result<<S::Item as Sequenced>::Value, ReorderError<<S::Item as Sequenced>::Value>>;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Project field by field rather than building the whole projection: the general
        // path takes `self` and projects for itself, so nothing here outlives the branch.
        let mut this = self.as_mut().project();
        // In-order fast path, small enough to inline into the caller: with nothing held
        // and the input not ended, an arrival that is the next seq is yielded at once.
        // Anything else goes out of line, so that the inlined part is this hit alone.
        if *this.fast {
            let missed = match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => match item.into_parts() {
                    Ok((seq, value)) if this.buffer.advance_if_next(seq) => {
                        return Poll::Ready(Some(Ok(value)));
                    }
                    parts => Missed::Arrival(parts),
                },
                Poll::Ready(None) => Missed::End,
                Poll::Pending => Missed::Pending,
            };
            return self.fast_miss(cx, missed);
        }
        self.poll_general(cx, false)
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

impl<S> Reorder<S>
where
    S: Stream,
    S::Item: Sequenced,
{
    /// The fast path's poll of the input gave something other than the next seq.
    #[inline(never)]
    fn fast_miss(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        missed: Missed<<S::Item as Sequenced>::Value>,
    ) -> Poll<Option<<Self as Stream>::Item>> {
        let this = self.as_mut().project();
        match missed {
            Missed::Arrival(Ok((seq, value))) => match this.buffer.insert(seq, value) {
                Ok(Some(value)) => Poll::Ready(Some(Ok(value))),
                Ok(None) => self.poll_general(cx, true),
                Err(late) => Poll::Ready(Some(Err(late))),
            },
            Missed::Arrival(Err(unplaceable)) => Poll::Ready(Some(Err(unplaceable))),
            Missed::End => {
                *this.done = true;
                *this.fast = false;
                Poll::Ready(None)
            }
            Missed::Pending => {
                if let Some(timer) = this.head_timeout {
                    timer.disarm();
                }
                Poll::Pending
            }
        }
    }

    /// Everything but the in-order fast path. `just_held`: the last arrival was held, so
    /// check the window before anything else.
    #[inline(never)]
    fn poll_general(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        just_held: bool,
    ) -> Poll<Option<<Self as Stream>::Item>> {
        // Off until recomputed below: if the input panics in between (a value may be held
        // by then) and the caller catches it, the next poll must not take the fast path,
        // which assumes nothing is held.
        *self.as_mut().project().fast = false;
        let polled = self.as_mut().poll_held(cx, just_held);
        let this = self.project();
        *this.fast = this.buffer.is_empty() && !*this.done;
        polled
    }

    /// The body of [`poll_general`](Self::poll_general).
    #[inline(always)]
    fn poll_held(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut just_held: bool,
    ) -> Poll<Option<<Self as Stream>::Item>> {
        let ReorderProj {
            mut stream,
            buffer,
            window,
            head_timeout,
            done,
            fast: _,
        } = self.project();
        // Look at the head-of-line clock before taking more input, so that an input that
        // is always ready cannot keep a missing head waiting past its timeout. A clock
        // that has fired skips the head only once what has already arrived has been
        // looked through (the head may be among it): when the input has nothing more for
        // now, or after `GRACE_ARRIVALS` arrivals since the deadline.
        let mut expired = match head_timeout.as_mut() {
            Some(timer) if !buffer.is_empty() => timer.poll_expired(Some(buffer.next_seq()), cx),
            _ => false,
        };
        let mut budget = ARRIVALS_PER_POLL;
        loop {
            if just_held {
                just_held = false;
                if buffer.len() >= *window {
                    if let Some(skipped) = buffer.skip_gap() {
                        return Poll::Ready(Some(Err(ReorderError::Missing(skipped))));
                    }
                }
            }
            if let Some(item) = buffer.pop_ready() {
                return Poll::Ready(Some(item));
            }
            if *done {
                return Poll::Ready(buffer.pop_flush());
            }
            let overdue = head_timeout.as_ref().is_some_and(HeadTimer::overdue);
            if expired && (budget == 0 || overdue) {
                if let Some(skipped) = buffer.skip_gap() {
                    return Poll::Ready(Some(Err(ReorderError::Missing(skipped))));
                }
            }
            if budget == 0 {
                // Held arrivals only, for a while: let other tasks run, and come back to
                // look at the clock.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            budget -= 1;
            match stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    if let Some(timer) = head_timeout.as_mut().filter(|_| expired) {
                        timer.note_arrival();
                    }
                    let (seq, value) = match item.into_parts() {
                        Ok(parts) => parts,
                        Err(unplaceable) => return Poll::Ready(Some(Err(unplaceable))),
                    };
                    match buffer.insert(seq, value) {
                        Ok(Some(value)) => return Poll::Ready(Some(Ok(value))),
                        Ok(None) => just_held = true,
                        Err(late) => return Poll::Ready(Some(Err(late))),
                    }
                }
                Poll::Ready(None) => *done = true,
                Poll::Pending => {
                    if let Some(timer) = head_timeout.as_mut() {
                        let blocked = (!buffer.is_empty()).then(|| buffer.next_seq());
                        expired = timer.poll_expired(blocked, cx);
                        if expired {
                            if let Some(skipped) = buffer.skip_gap() {
                                return Poll::Ready(Some(Err(ReorderError::Missing(skipped))));
                            }
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// What the in-order fast path found instead of the next seq.
enum Missed<T> {
    /// An arrival that is not the next seq (or has no position at all).
    Arrival(Result<(u64, T), ReorderError<T>>),
    /// The input ended.
    End,
    /// The input has nothing for now.
    Pending,
}

impl<S> FusedStream for Reorder<S>
where
    S: Stream,
    S::Item: Sequenced,
{
    fn is_terminated(&self) -> bool {
        self.done && self.buffer.is_empty()
    }
}

impl<S> fmt::Debug for Reorder<S>
where
    S: Stream + fmt::Debug,
    S::Item: Sequenced,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reorder")
            .field("stream", &self.stream)
            .field("buffer", &self.buffer)
            .field("window", &self.window)
            .field(
                "head_timeout",
                &self.head_timeout.as_ref().map(HeadTimer::timeout),
            )
            .field("done", &self.done)
            .finish()
    }
}
