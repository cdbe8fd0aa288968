//! A producer that owns a stripe of seqs, and gives the rest of it up when dropped.

use std::fmt;

use super::sender::Sender;
use crate::error::{SendError, TrySendError};

/// A producer that owns the sequence numbers `first`, `first + step`, `first + 2 × step`,
/// … of a [`channel`](crate::channel) — for ever ([`Sender::lane`]) or below an end
/// ([`Sender::block`]).
///
/// [`send`](Self::send) sends at the lane's next seq and moves on by `step`. Dropping
/// the lane gives up every seq it owns and has not sent, so the receiver reports each
/// as [`Missing`](crate::ReorderError::Missing) in its position instead of waiting: a
/// producer task that ends, panics or is cancelled while owning a lane never hangs the
/// channel, and costs no head-of-line timeout. What a lane gave up is given up for good:
/// a value sent for one of those seqs later (say by a restarted worker) comes back
/// [`Late`](crate::ReorderError::Late) once the seq has been reported.
#[must_use = "dropping a lane gives up every sequence number it owns"]
pub struct Lane<T> {
    sender: Sender<T>,
    /// The next seq to send; once exhausted, the last one sent.
    next: u64,
    step: u64,
    /// One past the last seq owned (`None`: the stripe is open-ended).
    end: Option<u64>,
    /// Nothing is left to send: the next seq would pass `end` or `u64::MAX`.
    exhausted: bool,
}

impl<T> Lane<T> {
    pub(super) fn new(sender: Sender<T>, first: u64, step: u64, end: Option<u64>) -> Self {
        Self {
            sender,
            next: first,
            step,
            end,
            exhausted: end.is_some_and(|end| first >= end),
        }
    }

    /// The sequence number the next [`send`](Self::send) uses. Once the lane has sent at
    /// its last representable seq (the stripe would pass `u64::MAX`), that last seq.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// The distance between the lane's seqs.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Whether the lane has no seq left to send (its next would pass its end or
    /// `u64::MAX`).
    pub fn is_exhausted(&self) -> bool {
        self.exhausted
    }

    /// Sends `value` at [`next_seq`](Self::next_seq), waiting while that seq is beyond
    /// the receiver's window (see [`Sender::send`]), then moves on by `step`.
    ///
    /// # Errors
    ///
    /// [`SendError`], with the value, if the receiver is gone, or if the lane is
    /// [exhausted](Self::is_exhausted).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes sends nothing: the lane still owns its
    /// next seq, and a later `send` (or the lane's drop) takes it.
    pub async fn send(&mut self, value: T) -> Result<(), SendError<T>> {
        let seq = self.next;
        if self.exhausted {
            return Err(SendError { seq, value });
        }
        self.sender.send(seq, value).await?;
        self.move_on();
        Ok(())
    }

    /// Sends at once if the lane's next seq is inside the receiver's window, then moves
    /// on by `step`.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if `send` would wait (the lane keeps its seq),
    /// [`TrySendError::Closed`] if the receiver is gone or the lane is exhausted; both
    /// hand the value back.
    pub fn try_send(&mut self, value: T) -> Result<(), TrySendError<T>> {
        let seq = self.next;
        if self.exhausted {
            return Err(TrySendError::Closed(SendError { seq, value }));
        }
        self.sender.try_send(seq, value)?;
        self.move_on();
        Ok(())
    }

    fn move_on(&mut self) {
        match self.next.checked_add(self.step) {
            Some(next) if self.end.is_none_or(|end| next < end) => self.next = next,
            _ => self.exhausted = true,
        }
    }

    /// Gives up the lane's next seq only — its item failed, the producer goes on — and
    /// moves on by `step`. The receiver reports it as
    /// [`Missing`](crate::ReorderError::Missing) in its position. Never waits.
    ///
    /// # Errors
    ///
    /// [`SendError`] if the receiver is gone or the lane is exhausted; the lane does not
    /// move then.
    pub fn skip(&mut self) -> Result<(), SendError<()>> {
        let seq = self.next;
        if self.exhausted {
            return Err(SendError { seq, value: () });
        }
        self.sender.give_up(seq)?;
        self.move_on();
        Ok(())
    }

    /// Gives up the rest of the stripe now; the same as dropping the lane.
    pub fn give_up(self) {}
}

impl<T> Drop for Lane<T> {
    fn drop(&mut self) {
        if self.exhausted {
            return;
        }
        match self.end {
            // A block's rest is a plain range: reported in full, even past the last value.
            Some(end) => drop(self.sender.give_up_range(self.next..end)),
            None => self.sender.give_up_stripe(self.next, self.step),
        }
    }
}

impl<T> fmt::Debug for Lane<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lane")
            .field("next_seq", &self.next_seq())
            .field("step", &self.step)
            .field("end", &self.end)
            .field("exhausted", &self.is_exhausted())
            .finish()
    }
}
