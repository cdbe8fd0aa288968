//! The sending half: sends, give-ups, and the owners of one seq ([`SeqSlot`]).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::lane::Lane;
use super::shared::{Admit, Shared};
use crate::error::{SendError, TrySendError};

/// The sending half of a reorder [`channel`](crate::channel). Cheap to clone; every clone
/// feeds the same receiver.
pub struct Sender<T> {
    tx: mpsc::UnboundedSender<(u64, T)>,
    shared: Arc<Shared>,
}

impl<T> Sender<T> {
    pub(super) fn new(tx: mpsc::UnboundedSender<(u64, T)>, shared: Arc<Shared>) -> Self {
        Self { tx, shared }
    }

    /// Sends `value` with sequence number `seq`, waiting while `seq` is at or beyond the
    /// receiver's window.
    ///
    /// Returns once the value is in the channel. Sending a seq below the receiver's
    /// watermark succeeds, and the receiver yields it as
    /// [`ReorderError::Late`](crate::ReorderError::Late).
    ///
    /// # Errors
    ///
    /// [`SendError`], with the value, if the receiver is gone (or goes while waiting).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes sends nothing and drops the value, and
    /// leaves no trace in the channel. The sender is no longer registered for a wake-up,
    /// so other senders are unaffected.
    pub async fn send(&self, seq: u64, value: T) -> Result<(), SendError<T>> {
        if !Admit::new(&self.shared, seq).await {
            return Err(SendError { seq, value });
        }
        self.push(seq, value)
    }

    /// Sends at once if `seq` is inside the receiver's window.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if `send` would wait, [`TrySendError::Closed`] if the
    /// receiver is gone; both hand the value back.
    pub fn try_send(&self, seq: u64, value: T) -> Result<(), TrySendError<T>> {
        if self.is_closed() {
            return Err(TrySendError::Closed(SendError { seq, value }));
        }
        if !self.shared.admits(seq) {
            // A seq known to come: dead stripes below it can be reported, which may be
            // just what lets it in.
            self.shared.note_attempt(seq);
            return Err(TrySendError::Full(SendError { seq, value }));
        }
        self.push(seq, value).map_err(TrySendError::Closed)
    }

    fn push(&self, seq: u64, value: T) -> Result<(), SendError<T>> {
        self.tx
            .send((seq, value))
            .map_err(|mpsc::error::SendError((seq, value))| SendError { seq, value })
    }

    /// Gives `seq` up: no value will be sent for it. The receiver reports it as
    /// [`ReorderError::Missing`](crate::ReorderError::Missing) in its position instead of
    /// waiting for it, so a producer that fails does not block the channel until a
    /// timeout.
    ///
    /// Never waits, and never takes room from values: a give-up is kept as a compact
    /// marker (touching give-ups merge into one range), not held like a value, so
    /// give-ups far ahead of the window cannot push any value out. Give-ups that touch
    /// are usually reported as one `Missing` range. A value sent for the seq wins over the
    /// give-up unless the give-up has already been reported (then the value is `Late`);
    /// a give-up of a seq that has passed is ignored. A give-up of `u64::MAX` itself moves
    /// the watermark past it without a report, since a range cannot end past it. See
    /// [`slot`](Self::slot) and [`lane`](Self::lane) for owners that give their seqs up
    /// when dropped.
    ///
    /// # Errors
    ///
    /// [`SendError`] if the receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::ReorderError;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, mut rx) = reorder::channel(4);
    /// tx.send(1, "b").await.unwrap();
    /// tx.give_up(0).unwrap(); // its producer failed
    /// assert_eq!(rx.recv().await, Some(Err(ReorderError::Missing(0..1))));
    /// assert_eq!(rx.recv().await, Some(Ok("b")));
    /// # }
    /// ```
    pub fn give_up(&self, seq: u64) -> Result<(), SendError<()>> {
        self.check_open(seq)?;
        self.shared
            .give_up(seq, |markers| markers.add_range(seq..=seq));
        Ok(())
    }

    /// Gives up every seq in `seqs` at once, as [`give_up`](Self::give_up) does for one:
    /// one marker whatever the length, reported as a few
    /// [`Missing`](crate::ReorderError::Missing) ranges (usually one; split around values
    /// that were sent for seqs inside it). An empty range does nothing.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the range's start if the receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::ReorderError;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, mut rx) = reorder::channel(4);
    /// tx.send(0, "a").await.unwrap();
    /// tx.give_up_range(1..1_000_000).unwrap(); // a block whose worker died
    /// assert_eq!(rx.recv().await, Some(Ok("a")));
    /// assert_eq!(rx.recv().await, Some(Err(ReorderError::Missing(1..1_000_000))));
    /// tx.send(1_000_000, "z").await.unwrap(); // inside the window now
    /// assert_eq!(rx.recv().await, Some(Ok("z")));
    /// # }
    /// ```
    pub fn give_up_range(&self, seqs: Range<u64>) -> Result<(), SendError<()>> {
        self.check_open(seqs.start)?;
        if let Some(last) = seqs.end.checked_sub(1).filter(|&last| last >= seqs.start) {
            self.shared
                .give_up(last, |markers| markers.add_range(seqs.start..=last));
        }
        Ok(())
    }

    /// Gives up `first`, `first + step`, … for ever: what a dropped [`Lane`] does.
    pub(super) fn give_up_stripe(&self, first: u64, step: u64) {
        // Stripes never pass: the check against the watermark is for explicit ranges.
        self.shared
            .give_up(u64::MAX, |markers| markers.add_stripe(first, step));
    }

    fn check_open(&self, seq: u64) -> Result<(), SendError<()>> {
        if self.is_closed() {
            return Err(SendError { seq, value: () });
        }
        Ok(())
    }

    /// Reserves `seq` for one producer: a [`SeqSlot`] that sends its value, or gives the
    /// seq up (see [`give_up`](Self::give_up)) if it is dropped unsent — when the task
    /// holding it fails, panics or is cancelled. With slots, a lost producer costs one
    /// `Missing` in its position, never a stalled channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::ReorderError;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, mut rx) = reorder::channel(2);
    /// for seq in 0..3u64 {
    ///     let slot = tx.slot(seq);
    ///     tokio::spawn(async move {
    ///         if seq == 1 {
    ///             panic!("producer 1 fails"); // its slot is dropped: seq 1 is given up
    ///         }
    ///         slot.send(seq * 10).await.unwrap();
    ///     });
    /// }
    /// drop(tx);
    /// assert_eq!(rx.recv().await, Some(Ok(0)));
    /// assert_eq!(rx.recv().await, Some(Err(ReorderError::Missing(1..2))));
    /// assert_eq!(rx.recv().await, Some(Ok(20)));
    /// assert_eq!(rx.recv().await, None);
    /// # }
    /// ```
    pub fn slot(&self, seq: u64) -> SeqSlot<T> {
        SeqSlot {
            sender: self.clone(),
            seq,
            pending: true,
        }
    }

    /// A producer that owns the stripe `first`, `first + step`, `first + 2 × step`, …:
    /// [`Lane::send`] sends at the lane's next seq and moves on by `step`. Dropping the
    /// lane — its task ended, panicked or was cancelled — gives up every seq of the stripe
    /// it has not sent, so a dead producer costs one
    /// [`Missing`](crate::ReorderError::Missing) per seq it owned, in position, and never
    /// a hang. Use one lane per producer with `step` = the number of producers and
    /// `first` = the producer's index; a lane with `step` 1 owns every seq from `first`
    /// on.
    ///
    /// A stripe is open-ended, so while other senders live its seqs are reported only as
    /// far as something is known to come after them (a value received, a seq given up
    /// explicitly, a sender waiting at the window or turned away by `try_send`); once
    /// every sender is gone the stream ends after the highest seq any producer sent or
    /// gave up explicitly. A lane gives its stripe up when dropped even if its producer
    /// simply finished, and for good: for finite work (a batch, a block of seqs) use
    /// [`block`](Self::block), which gives up only the rest of its block.
    ///
    /// # Panics
    ///
    /// Panics if `step` is 0.
    ///
    /// # Examples
    ///
    /// Four striped producers; one dies after two values, and the others go on:
    ///
    /// ```
    /// use futures::StreamExt;
    /// use reorder::ReorderError;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, rx) = reorder::channel(4);
    /// for producer in 0..4u64 {
    ///     let mut lane = tx.lane(producer, 4); // owns producer, producer + 4, …
    ///     tokio::spawn(async move {
    ///         for round in 0..5 {
    ///             if producer == 2 && round == 2 {
    ///                 panic!("producer 2 dies"); // its lane gives 10, 14, 18 up
    ///             }
    ///             let seq = lane.next_seq();
    ///             lane.send(seq * 10).await.unwrap();
    ///         }
    ///     });
    /// }
    /// drop(tx);
    /// let got: Vec<_> = rx.collect().await;
    /// assert_eq!(got.len(), 20);
    /// for (seq, item) in (0u64..).zip(got) {
    ///     match item {
    ///         Ok(value) => assert_eq!(value, seq * 10),
    ///         Err(ReorderError::Missing(range)) => {
    ///             assert_eq!(range, seq..seq + 1);
    ///             assert!([10, 14, 18].contains(&seq));
    ///         }
    ///         Err(other) => panic!("{other}"),
    ///     }
    /// }
    /// # }
    /// ```
    #[track_caller]
    pub fn lane(&self, first: u64, step: u64) -> Lane<T> {
        assert!(step > 0, "reorder::Sender::lane: step must be at least 1");
        Lane::new(self.clone(), first, step, None)
    }

    /// A producer that owns the block `seqs` (step 1, a finite [`Lane`]): it sends
    /// `seqs.start`, `seqs.start + 1`, … and, when dropped, gives up the rest of the block
    /// — and only that, so the seqs after the block stay free for other producers. Being
    /// finite, what it gives up is reported in full, as [`give_up_range`](Self::give_up_range)
    /// is. An empty block owns nothing.
    ///
    /// # Examples
    ///
    /// Work split into blocks of 4; the worker of the second block dies half-way:
    ///
    /// ```
    /// use futures::StreamExt;
    /// use reorder::ReorderError;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (tx, rx) = reorder::channel(16);
    /// for block in 0..3u64 {
    ///     let mut owner = tx.block(block * 4..block * 4 + 4);
    ///     tokio::spawn(async move {
    ///         while !owner.is_exhausted() {
    ///             let seq = owner.next_seq();
    ///             if seq == 6 {
    ///                 return; // dies: 6 and 7 are given up with the block
    ///             }
    ///             owner.send(seq).await.unwrap();
    ///         }
    ///     });
    /// }
    /// drop(tx);
    /// let got: Vec<_> = rx.collect().await;
    /// assert_eq!(got[6], Err(ReorderError::Missing(6..8)));
    /// assert_eq!(got.len(), 11); // 0..=5, Missing(6..8), 8..=11
    /// assert_eq!(got[10], Ok(11));
    /// # }
    /// ```
    pub fn block(&self, seqs: Range<u64>) -> Lane<T> {
        Lane::new(self.clone(), seqs.start, 1, Some(seqs.end))
    }

    /// How far ahead of the receiver's watermark a send may go without waiting; `None`
    /// when the channel has no window.
    pub fn window(&self) -> Option<u64> {
        self.shared.window()
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed() || self.tx.is_closed()
    }

    /// The receiver's watermark as last published: every seq below it has been
    /// received. A send of any seq below `next_seq() + window` goes through at once.
    ///
    /// With a window the receiver publishes as it yields each item; without one (no
    /// sender ever waits) it publishes at least every 64 items and whenever it has
    /// nothing to yield, so this may lag a little behind
    /// [`Receiver::next_seq`](crate::Receiver::next_seq) while items stream.
    pub fn next_seq(&self) -> u64 {
        self.shared.watermark()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("next_seq", &self.next_seq())
            .field("window", &self.window())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// One sequence number reserved by one producer, made by [`Sender::slot`]: send its value
/// with [`send`](Self::send), or it is given up when dropped unsent.
#[must_use = "dropping a slot gives its sequence number up"]
pub struct SeqSlot<T> {
    sender: Sender<T>,
    seq: u64,
    /// Neither sent nor given up yet.
    pending: bool,
}

impl<T> SeqSlot<T> {
    /// The reserved sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Sends the value in this slot's position; see [`Sender::send`].
    ///
    /// # Errors
    ///
    /// [`SendError`], with the value, if the receiver is gone.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes drops the value and gives the seq up.
    pub async fn send(mut self, value: T) -> Result<(), SendError<T>> {
        let sent = self.sender.send(self.seq, value).await;
        self.pending = false;
        sent
    }

    /// Gives the seq up now; the same as dropping the slot.
    pub fn give_up(self) {}
}

impl<T> Drop for SeqSlot<T> {
    fn drop(&mut self) {
        if self.pending {
            // The receiver may be gone; then nobody waits for this seq.
            let _ = self.sender.give_up(self.seq);
        }
    }
}

impl<T> fmt::Debug for SeqSlot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeqSlot")
            .field("seq", &self.seq)
            .field("pending", &self.pending)
            .finish()
    }
}
