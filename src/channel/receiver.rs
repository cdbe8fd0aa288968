//! The receiving half: a thin shell that feeds the mpsc's arrivals and the senders'
//! give-ups into the pure core ([`ReorderBuffer`] and the give-up markers), runs the
//! head-of-line clock, and publishes the watermark to the senders.

use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::stream::{FusedStream, Stream};
use tokio::sync::mpsc;

use super::shared::Shared;
use crate::buffer::ReorderBuffer;
use crate::error::ReorderError;
use crate::head_timer::HeadTimer;
use crate::next_item::NextItem;
use crate::reorder::ARRIVALS_PER_POLL;

type Item<T> = Result<T, ReorderError<T>>;

/// Without a window, how many in-order items may pass between two publications of the
/// watermark (see [`Receiver::publish_fast`]).
const LAZY_PUBLISH: u64 = 64;

/// The receiving half of a reorder [`channel`](crate::channel): a [`Stream`] of values in
/// sequence order.
///
/// Dropping it closes the channel: waiting and later sends fail with a
/// [`SendError`](crate::SendError) that hands the value back.
#[must_use = "streams do nothing unless polled"]
pub struct Receiver<T> {
    rx: mpsc::UnboundedReceiver<(u64, T)>,
    buffer: ReorderBuffer<T>,
    /// Most values held before the head is skipped. Honest senders keep fewer than
    /// `window` values ahead of the watermark, so this only bounds memory against
    /// duplicate floods: twice the window leaves room for a burst of them.
    held_cap: usize,
    /// The highest seq received out of order (an in-order one is below the watermark
    /// anyway): open-ended stripes are reported up to it.
    highest_seen: Option<u64>,
    /// Every sender is gone and the mpsc is drained.
    senders_gone: bool,
    /// `buffer.is_empty() && !senders_gone`, in one field so that the in-order fast path
    /// tests one byte; cleared on entry to every slow poll and recomputed at its end (the
    /// only place either changes besides the fast path itself), so that a panic in
    /// between leaves it off.
    fast: bool,
    /// Everything has been reported; the stream has ended.
    finished: bool,
    /// The watermark last published to the senders.
    published: u64,
    /// How far the watermark moves on the fast path before it is published: 1 with a
    /// window (senders wait on it), [`LAZY_PUBLISH`] without. A field, so that the fast
    /// path does not reach into the shared state to find out.
    publish_every: u64,
    /// `published + publish_every` (wrapping): the fast path, which moves the watermark
    /// one at a time, publishes when it gets here; every other move is followed by
    /// [`publish`](Self::publish), which sets it again.
    publish_at: u64,
    head_timer: Option<HeadTimer>,
    shared: Arc<Shared>,
}

/// What the give-up markers at the watermark called for.
enum AtHead {
    /// These seqs were given up: report them.
    Report(Range<u64>),
    /// Give-ups moved the watermark without anything to report (`u64::MAX` itself).
    Moved,
    /// A send is landing in the mpsc right now, maybe for the watermark: look again
    /// when it has (its completion wakes the receiver).
    Wait,
    /// The watermark is not given up.
    Nothing,
}

impl<T> Receiver<T> {
    pub(super) fn new(
        rx: mpsc::UnboundedReceiver<(u64, T)>,
        first_seq: u64,
        window: Option<usize>,
        head_timer: Option<HeadTimer>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            rx,
            buffer: ReorderBuffer::starting_at(first_seq),
            held_cap: window.map_or(usize::MAX, |w| w.saturating_mul(2)),
            highest_seen: None,
            senders_gone: false,
            fast: true,
            finished: false,
            published: first_seq,
            publish_every: if window.is_some() { 1 } else { LAZY_PUBLISH },
            publish_at: first_seq.wrapping_add(if window.is_some() { 1 } else { LAZY_PUBLISH }),
            head_timer,
            shared,
        }
    }

    /// Receives the next value in order, or the error that stands in its position.
    /// `None` once every sender is gone and everything held has been yielded.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: held values live in the receiver, not in the future.
    #[inline]
    pub fn recv(&mut self) -> impl Future<Output = Option<Result<T, ReorderError<T>>>> + '_ {
        // Not an `async fn`: its future could be compiled apart from the loop that awaits
        // it, and the in-order fast path would not inline (see `next_item.rs`).
        NextItem(self)
    }

    /// Closes the channel: waiting and later sends fail, handing their values back.
    /// Values already sent can still be received.
    pub fn close(&mut self) {
        self.shared.close();
        self.rx.close();
    }

    /// The watermark: every sequence number below it has been yielded (or reported), and
    /// it is the one the receiver waits for.
    pub fn next_seq(&self) -> u64 {
        self.buffer.next_seq()
    }

    /// How many values are held, waiting for their turn. Given-up seqs are not values
    /// and never count here.
    pub fn buffered_len(&self) -> usize {
        self.buffer.len()
    }

    /// The most values held at once so far.
    pub fn peak_buffered(&self) -> usize {
        self.buffer.peak_len()
    }

    /// The body of [`poll_general`](Self::poll_general).
    fn poll_slow(
        &mut self,
        cx: &mut Context<'_>,
        mut arrival: Option<(u64, T)>,
    ) -> Poll<Option<Item<T>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        // Parking senders and give-ups wake the receiver: register before looking.
        self.shared.register_receiver(cx.waker());
        // The clock is looked at before taking more input, so that arrivals that keep
        // coming cannot starve it; a clock that has fired skips the head only once what
        // has already arrived has been looked through (the head may be among it), as in
        // `Reorder`.
        let mut expired = self.poll_head_timer(cx);
        let mut budget = ARRIVALS_PER_POLL;
        loop {
            if let Some((seq, value)) = arrival.take() {
                self.highest_seen = self.highest_seen.max(Some(seq));
                match self.buffer.insert(seq, value) {
                    Ok(Some(value)) => return Poll::Ready(Some(Ok(value))),
                    Err(late) => return Poll::Ready(Some(Err(late))),
                    Ok(None) => {
                        if self.buffer.len() >= self.held_cap {
                            if let Some(skipped) = self.buffer.skip_gap() {
                                return Poll::Ready(Some(Err(ReorderError::Missing(skipped))));
                            }
                        }
                    }
                }
            }
            if let Some(item) = self.buffer.pop_ready() {
                return Poll::Ready(Some(item));
            }
            if !self.senders_gone {
                let overdue = self.head_timer.as_ref().is_some_and(HeadTimer::overdue);
                if expired && (budget == 0 || overdue) {
                    if let Some(skipped) = self.skip_for_timer() {
                        return Poll::Ready(Some(Err(ReorderError::Missing(skipped))));
                    }
                }
                if budget == 0 {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                budget -= 1;
                match self.rx.poll_recv(cx) {
                    Poll::Ready(Some(next)) => {
                        if let Some(timer) = self.head_timer.as_mut().filter(|_| expired) {
                            timer.note_arrival();
                        }
                        arrival = Some(next);
                        continue;
                    }
                    Poll::Ready(None) => self.senders_gone = true,
                    Poll::Pending => {}
                }
            }
            // Every value sent so far is in the buffer: the give-ups can be read.
            match self.give_ups_at_head() {
                AtHead::Report(skipped) => {
                    return Poll::Ready(Some(Err(ReorderError::Missing(skipped))))
                }
                AtHead::Moved => continue,
                AtHead::Wait => return Poll::Pending,
                AtHead::Nothing => {}
            }
            if self.senders_gone {
                let flushed = self.flush_step();
                self.finished = flushed.is_none();
                return Poll::Ready(flushed);
            }
            expired = self.poll_head_timer(cx);
            if expired {
                if let Some(skipped) = self.skip_for_timer() {
                    return Poll::Ready(Some(Err(ReorderError::Missing(skipped))));
                }
            }
            return Poll::Pending;
        }
    }

    /// Reads the give-up markers at the watermark.
    fn give_ups_at_head(&mut self) -> AtHead {
        if self.buffer.is_exhausted() {
            return AtHead::Nothing;
        }
        if !self.shared.has_give_ups() {
            return AtHead::Nothing;
        }
        let parked = self.shared.parked_range();
        let Some(mut markers) = self.shared.give_ups() else {
            return AtHead::Nothing;
        };
        // A value that finished landing before the give-up was recorded (a producer that
        // sends, then gives the same seq up) is counted here though `poll_recv` missed it
        // behind a send still in progress: it wins over the give-up, as documented. The
        // in-progress send wakes the receiver when it lands.
        if !self.senders_gone && !self.rx.is_empty() {
            return AtHead::Wait;
        }
        let head = self.buffer.next_seq();
        markers.forget_below(head);
        // Open-ended stripes count only below a seq known to come: one received, one
        // given up explicitly, or one a sender waits to send.
        let known = [
            self.highest_seen,
            markers.last_explicit(),
            parked.map(|(_, last)| last),
            self.shared.highest_attempt(),
        ];
        let horizon = known
            .into_iter()
            .flatten()
            .max()
            .map_or(0, |seq| seq.saturating_add(1));
        let Some(run) = markers.run_from(head, self.buffer.first_held_settled(), horizon) else {
            return AtHead::Nothing;
        };
        drop(markers);
        match self.buffer.skip_through(*run.end()) {
            Some(skipped) => AtHead::Report(skipped),
            None => AtHead::Moved,
        }
    }

    /// Once every sender is gone: the hole before the lowest held value, that value, or
    /// the seqs given up explicitly beyond everything held; `None` at the end.
    fn flush_step(&mut self) -> Option<Item<T>> {
        if let Some(item) = self.buffer.pop_flush() {
            return Some(item);
        }
        if self.buffer.is_exhausted() {
            return None;
        }
        let head = self.buffer.next_seq();
        let last = self.shared.give_ups()?.last_explicit()?;
        if last < head {
            return None;
        }
        // `None` when only `u64::MAX` itself was left: it has no range to report.
        self.buffer
            .skip_through(last)
            .map(|skipped| Err(ReorderError::Missing(skipped)))
    }

    /// Runs the head-of-line clock while the missing head blocks something known to
    /// come after it (see [`timer_target`](Self::timer_target)); whether it has fired.
    fn poll_head_timer(&mut self, cx: &mut Context<'_>) -> bool {
        if self.head_timer.is_none() {
            return false;
        }
        let head = self.buffer.next_seq();
        let blocked = self.timer_target().is_some() && !self.buffer.is_exhausted();
        self.head_timer
            .as_mut()
            .is_some_and(|timer| timer.poll_expired(blocked.then_some(head), cx))
    }

    /// The lowest seq known to come after the missing head: one held, one a sender waits
    /// at the window to send, or the start of a range given up explicitly inside the
    /// window. The clock skips
    /// the head up to it, so that what is known to come is never skipped. A `try_send`
    /// turned away at the window shows that something waits to come too, but only the
    /// highest such seq is kept: when it lies between the head and everything else known
    /// (or nothing else is known), a producer may be waiting for any seq in between, so
    /// the clock skips the head alone (`head + 1`), one seq per timeout. When it lies at
    /// or beyond the first seq known to come, the gap before that seq is skipped whole,
    /// as for a parked sender: a turned-away producer must not turn one timeout per gap
    /// into one per seq.
    fn timer_target(&mut self) -> Option<u64> {
        let head = self.buffer.next_seq();
        let parked = self.shared.parked_range().map(|(first, _)| first);
        // A range given up beyond the window is not what the head blocks (no value can be
        // held there), and skipping up to it would make the values of live producers in
        // the window `Late` because of a give-up far ahead: it counts only in the window.
        let window = self.shared.window();
        let explicit = self
            .shared
            .give_ups()
            .and_then(|mut markers| {
                markers.forget_below(head);
                markers.first_explicit()
            })
            .filter(|&start| window.is_none_or(|window| start.saturating_sub(head) < window));
        let known = [self.buffer.first_held_settled(), parked, explicit]
            .into_iter()
            .flatten()
            .filter(|&seq| seq > head)
            .min();
        match self.shared.highest_attempt() {
            // `attempt > head`, so `head + 1` cannot overflow.
            Some(attempt) if attempt > head && known.is_none_or(|known| attempt < known) => {
                Some(head + 1)
            }
            _ => known,
        }
    }

    /// Skips the missing head up to the [target](Self::timer_target), once the clock has
    /// fired.
    fn skip_for_timer(&mut self) -> Option<Range<u64>> {
        let target = self.timer_target()?;
        self.buffer.skip_to(target)
    }

    /// Everything but the in-order fast path's hit: `arrival` is what the fast path took
    /// from the mpsc, if anything.
    #[inline(never)]
    fn poll_general(
        &mut self,
        cx: &mut Context<'_>,
        arrival: Option<(u64, T)>,
    ) -> Poll<Option<Item<T>>> {
        // Off until recomputed below, so that a panic in between (a waker's, or the
        // head-of-line clock's outside a runtime) never leaves it on with a value held.
        self.fast = false;
        let polled = self.poll_slow(cx, arrival);
        self.publish();
        self.fast = self.buffer.is_empty() && !self.senders_gone;
        polled
    }

    /// Publishes the watermark to the senders if it moved.
    #[inline]
    fn publish(&mut self) {
        let watermark = self.buffer.next_seq();
        if watermark != self.published && self.publish_fast(watermark) {
            self.shared.wake_admitted(watermark);
        }
    }

    /// Publishes `watermark` (which must differ from the one published) without waking
    /// anyone; whether parked senders need waking. The in-order fast path calls it once
    /// the watermark reaches `publish_at`, [`publish`](Self::publish) whenever it moved. Without a window no
    /// sender ever waits for the watermark, which then only feeds
    /// [`Sender::next_seq`](crate::Sender::next_seq) ("as last published"), so it is
    /// published every 64 items and whenever the receiver has nothing to yield, not per
    /// item. No call in it, so that the hit stays one straight path into the caller.
    #[inline]
    fn publish_fast(&mut self, watermark: u64) -> bool {
        self.published = watermark;
        self.publish_at = watermark.wrapping_add(self.publish_every);
        self.shared.store_watermark(watermark)
    }

    /// Whatever the in-order fast path could not finish by itself. Out of line, and
    /// called from one place, so that the inlined part is the hit alone and the caller
    /// sees that the hit always yields a value (were the hit and a call rejoined before
    /// returning, the item would make a round trip through memory: 7 or more
    /// instructions per item, callgrind).
    #[inline(never)]
    fn fast_miss(&mut self, cx: &mut Context<'_>, missed: FastMiss<T>) -> Poll<Option<Item<T>>> {
        match missed {
            FastMiss::Wake(watermark, value) => {
                self.shared.wake_admitted(watermark);
                Poll::Ready(Some(Ok(value)))
            }
            FastMiss::Arrival(seq, value) => self.poll_general(cx, Some((seq, value))),
            FastMiss::End => {
                self.senders_gone = true;
                self.poll_general(cx, None)
            }
            FastMiss::Pending => self.poll_general(cx, None),
        }
    }
}

/// What the in-order fast path hands to [`Receiver::fast_miss`].
enum FastMiss<T> {
    /// The next seq arrived, its watermark was published, and senders are parked:
    /// wake those it admits, then yield this value.
    Wake(u64, T),
    /// Another seq arrived.
    Arrival(u64, T),
    /// Every sender is gone and the mpsc is drained.
    End,
    /// Nothing has arrived.
    Pending,
}

impl<T> Stream for Receiver<T> {
    type Item = Result<T, ReorderError<T>>;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        // In-order fast path: nothing held, and the next arrival is the next seq. Anything
        // else goes out of line, so that the inlined part is this hit alone.
        if this.fast {
            let missed = match this.rx.poll_recv(cx) {
                Poll::Ready(Some((seq, value))) => {
                    if this.buffer.advance_if_next(seq) {
                        let watermark = this.buffer.next_seq();
                        if watermark != this.publish_at || !this.publish_fast(watermark) {
                            return Poll::Ready(Some(Ok(value)));
                        }
                        FastMiss::Wake(watermark, value)
                    } else {
                        FastMiss::Arrival(seq, value)
                    }
                }
                Poll::Ready(None) => FastMiss::End,
                // The slow path registers for give-ups and parking senders, and looks.
                Poll::Pending => FastMiss::Pending,
            };
            return this.fast_miss(cx, missed);
        }
        this.poll_general(cx, None)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.finished {
            return (0, Some(0));
        }
        // Every value held or queued yields exactly one item; give-ups and holes may add
        // more.
        (self.buffer.len().saturating_add(self.rx.len()), None)
    }
}

impl<T> FusedStream for Receiver<T> {
    fn is_terminated(&self) -> bool {
        // True once the last item is out, as for `futures`' adapters: nothing is held and
        // nothing given up explicitly remains to be reported.
        let head = self.buffer.next_seq();
        self.finished
            || (self.senders_gone
                && self.buffer.is_empty()
                && self.shared.give_ups().is_none_or(|markers| {
                    self.buffer.is_exhausted()
                        || markers.last_explicit().is_none_or(|last| last < head)
                }))
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("next_seq", &self.next_seq())
            .field("buffered_len", &self.buffered_len())
            .field("window", &self.shared.window())
            .field("finished", &self.finished)
            .finish()
    }
}
