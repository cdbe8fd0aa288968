//! The reorder channel: many senders push `(seq, value)` in any order, one receiver reads
//! the values in order. Built on tokio's mpsc and the [`Reorder`] adapter.

use std::collections::BTreeMap;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use futures_core::stream::{FusedStream, Stream};
use futures_util::task::AtomicWaker;
use tokio::sync::mpsc;

use crate::reorder::HeadTimer;
use crate::{OrderedExt, Reorder, ReorderConfig, ReorderError, SendError, TrySendError};

/// Creates a reorder channel whose senders may run at most `window` sequence numbers
/// ahead of the receiver.
///
/// Any number of [`Sender`]s (it is `Clone`) send `(seq, value)` from any tasks or
/// threads, in any order; the [`Receiver`] is a [`Stream`] that yields the values
/// strictly by sequence number, starting at 0. A `send` whose seq is at or beyond
/// `next + window` (where `next` is the receiver's [`next_seq`](Receiver::next_seq))
/// waits until the receiver catches up, so fewer than `window` values are ever buffered
/// (duplicates, a producer bug, are handed back and may take up to `2 × window` slots
/// before the receiver skips its head to stay bounded).
/// The next expected seq is always admitted at once, so senders can never deadlock the
/// receiver.
///
/// When every sender is gone, the receiver reports each hole among the values it holds
/// as [`ReorderError::Missing`], yields the rest in order, and ends. A producer that
/// fails should give its seq up ([`Sender::give_up`], or hold a [`SeqSlot`] from
/// [`Sender::slot`], which does it when dropped): the receiver then reports that seq as
/// `Missing` in its position. A seq that is neither sent nor given up, while other
/// senders live on, blocks the channel until a head-of-line timeout skips it (see
/// [`channel_with`]). Late and duplicate
/// values come back as errors that hand the value back (see [`ReorderError`]).
///
/// # Panics
///
/// Panics if `window` is 0.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, mut rx) = reorder::channel(16);
/// for seq in (0..5u64).rev() {
///     let tx = tx.clone();
///     tokio::spawn(async move { tx.send(seq, seq * 10).await.unwrap() });
/// }
/// drop(tx);
/// let got: Vec<u64> = rx.map(Result::unwrap).collect().await;
/// assert_eq!(got, [0, 10, 20, 30, 40]);
/// # }
/// ```
#[track_caller]
pub fn channel<T>(window: usize) -> (Sender<T>, Receiver<T>) {
    channel_with(ReorderConfig::new().window(window))
}

/// Creates a reorder channel from a [`ReorderConfig`]: its first sequence number, its
/// window (without one, senders never wait and the receiver holds without bound) and
/// its head-of-line timeout (after which the receiver skips a missing head, reporting
/// it as [`ReorderError::Missing`], and waiting senders move up with the watermark).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reorder::{ReorderConfig, ReorderError};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let config = ReorderConfig::new().first_seq(1).window(8).head_timeout(Duration::from_secs(1));
/// let (tx, mut rx) = reorder::channel_with(config);
/// tx.send(2, "two").await.unwrap(); // seq 1 never comes
/// assert_eq!(rx.recv().await, Some(Err(ReorderError::Missing(1..2))));
/// assert_eq!(rx.recv().await, Some(Ok("two")));
/// # }
/// ```
pub fn channel_with<T>(config: ReorderConfig) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let window = config.get_window().map_or(u64::MAX, |w| w as u64);
    let shared = Arc::new(Shared {
        watermark: AtomicU64::new(config.get_first_seq()),
        window,
        closed: AtomicBool::new(false),
        parked: AtomicUsize::new(0),
        waiters: Mutex::new(Waiters::default()),
        receiver: AtomicWaker::new(),
        wake_receiver_on_park: config.get_head_timeout().is_some(),
    });
    let sender = Sender {
        tx,
        shared: Arc::clone(&shared),
    };
    // Senders keep fewer than `window` distinct seqs ahead of the watermark, so honest
    // producers never fill the receiver. Its cap only bounds memory against duplicate
    // floods; twice the window leaves room for a burst of duplicates before a slow but
    // honest head would be skipped.
    let held_cap = config.get_window().map(|w| w.saturating_mul(2));
    let receiver_config = match held_cap {
        Some(cap) => config.window(cap),
        None => config,
    }
    .without_head_timeout();
    let receiver = Receiver {
        inner: Arrivals(rx).ordered_with(receiver_config),
        published: config.get_first_seq(),
        head_timer: config.get_head_timeout().map(HeadTimer::new),
        shared,
    };
    (sender, receiver)
}

/// The sending half of a reorder [`channel`]. Cheap to clone; every clone feeds the same
/// receiver.
pub struct Sender<T> {
    tx: mpsc::UnboundedSender<(u64, Arrival<T>)>,
    shared: Arc<Shared>,
}

/// The receiving half of a reorder [`channel`]: a [`Stream`] of values in sequence
/// order.
///
/// Dropping it closes the channel: waiting and later sends fail with a [`SendError`]
/// that hands the value back.
#[must_use = "streams do nothing unless polled"]
pub struct Receiver<T> {
    inner: Reorder<Arrivals<T>>,
    /// The watermark last published to the senders.
    published: u64,
    /// With a head-of-line timeout: runs while the missing head blocks held values or
    /// senders parked beyond the window. The inner adapter runs no timer of its own.
    head_timer: Option<HeadTimer>,
    shared: Arc<Shared>,
}

/// What the two halves share: the receiver's watermark, which gates the senders.
struct Shared {
    watermark: AtomicU64,
    window: u64,
    closed: AtomicBool,
    /// How many senders are parked in `waiters`; lets the receiver skip the lock.
    parked: AtomicUsize,
    waiters: Mutex<Waiters>,
    /// The receiver, woken when a sender parks if it keeps a head-of-line timer.
    receiver: AtomicWaker,
    wake_receiver_on_park: bool,
}

/// Senders waiting for the window to reach their seq, ordered by seq, so that the
/// receiver wakes exactly the ones it admits.
#[derive(Default)]
struct Waiters {
    by_seq: BTreeMap<(u64, u64), Waker>,
    next_id: u64,
}

impl Shared {
    fn admits(&self, seq: u64) -> bool {
        self.admits_at(seq, self.watermark.load(SeqCst))
    }

    fn admits_at(&self, seq: u64, watermark: u64) -> bool {
        // Late seqs are admitted too: the receiver hands them back as errors. No window
        // (`u64::MAX`) admits everything, up to and including `u64::MAX` itself.
        self.window == u64::MAX || seq.saturating_sub(watermark) < self.window
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, Waiters> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes a new watermark and wakes the senders it admits.
    fn advance(&self, watermark: u64) {
        self.watermark.store(watermark, SeqCst);
        if self.parked.load(SeqCst) == 0 {
            return;
        }
        let mut admitted = Vec::new();
        {
            let mut waiters = self.waiters();
            while let Some(entry) = waiters.by_seq.first_entry() {
                if !self.admits_at(entry.key().0, watermark) {
                    break;
                }
                admitted.push(entry.remove());
                self.parked.fetch_sub(1, SeqCst);
            }
        }
        // Wake after unlocking, so the woken senders do not meet the lock held.
        admitted.into_iter().for_each(Waker::wake);
    }

    /// The smallest seq a parked sender waits to send.
    fn lowest_parked(&self) -> Option<u64> {
        if self.parked.load(SeqCst) == 0 {
            return None;
        }
        self.waiters()
            .by_seq
            .first_key_value()
            .map(|(key, _)| key.0)
    }

    fn close(&self) {
        self.closed.store(true, SeqCst);
        let woken = std::mem::take(&mut self.waiters().by_seq);
        self.parked.fetch_sub(woken.len(), SeqCst);
        woken.into_values().for_each(Waker::wake);
    }
}

impl<T> Sender<T> {
    /// Sends `value` with sequence number `seq`, waiting while `seq` is at or beyond the
    /// receiver's window.
    ///
    /// Returns once the value is in the channel. Sending a seq below the receiver's
    /// watermark succeeds, and the receiver yields it as [`ReorderError::Late`].
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
        let admitted = Admit {
            shared: &self.shared,
            seq,
            key: None,
        }
        .await;
        if !admitted {
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
            return Err(TrySendError::Full(SendError { seq, value }));
        }
        self.push(seq, value).map_err(TrySendError::Closed)
    }

    fn push(&self, seq: u64, value: T) -> Result<(), SendError<T>> {
        match self.tx.send((seq, Arrival::Value(value))) {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendError((seq, Arrival::Value(value)))) => {
                Err(SendError { seq, value })
            }
            Err(mpsc::error::SendError((_, Arrival::GivenUp(_)))) => {
                unreachable!("a value was sent")
            }
        }
    }

    /// Gives `seq` up: no value will be sent for it. The receiver reports it as
    /// [`ReorderError::Missing`] in its position instead of waiting for it, so a producer
    /// that fails does not block the channel until a timeout.
    ///
    /// Never waits. A give-up ahead of the window is held like a value until its turn.
    /// Giving up a seq that has already passed, or one that was already sent, is
    /// ignored. (A give-up of `u64::MAX` itself moves the watermark without a report,
    /// since a range cannot end past it.) See [`slot`](Self::slot) for a guard that gives
    /// its seq up when dropped.
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
        self.tx
            .send((seq, Arrival::GivenUp(seq)))
            .map_err(|_| SendError { seq, value: () })
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

    /// How far ahead of the receiver's watermark a send may go without waiting; `None`
    /// when the channel has no window.
    pub fn window(&self) -> Option<u64> {
        (self.shared.window != u64::MAX).then_some(self.shared.window)
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(SeqCst) || self.tx.is_closed()
    }

    /// The receiver's watermark as last published: every seq below it has been
    /// received. A send of any seq below `next_seq() + window` goes through at once.
    pub fn next_seq(&self) -> u64 {
        self.shared.watermark.load(SeqCst)
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
            .field("window", &self.shared.window)
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

/// Waits until the receiver's window admits `seq` (`true`) or the receiver is gone
/// (`false`).
struct Admit<'a> {
    shared: &'a Shared,
    seq: u64,
    /// Our place in `waiters`, while registered.
    key: Option<(u64, u64)>,
}

impl Future for Admit<'_> {
    type Output = bool;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let shared = self.shared;
        let seq = self.seq;
        if let Some(ready) = shared.ready_for(seq) {
            self.deregister();
            return Poll::Ready(ready);
        }
        {
            let mut waiters = shared.waiters();
            let key = match self.key {
                Some(key) => key,
                None => {
                    let key = (seq, waiters.next_id);
                    waiters.next_id += 1;
                    key
                }
            };
            match waiters.by_seq.get_mut(&key) {
                Some(waker) => waker.clone_from(cx.waker()),
                None => {
                    waiters.by_seq.insert(key, cx.waker().clone());
                    shared.parked.fetch_add(1, SeqCst);
                    if shared.wake_receiver_on_park {
                        shared.receiver.wake();
                    }
                }
            }
            self.key = Some(key);
        }
        // Re-check after registering: the receiver may have moved in between.
        if let Some(ready) = shared.ready_for(seq) {
            self.deregister();
            return Poll::Ready(ready);
        }
        Poll::Pending
    }
}

impl Shared {
    fn ready_for(&self, seq: u64) -> Option<bool> {
        if self.closed.load(SeqCst) {
            Some(false)
        } else if self.admits(seq) {
            Some(true)
        } else {
            None
        }
    }
}

impl Admit<'_> {
    fn deregister(&mut self) {
        if let Some(key) = self.key.take() {
            if self.shared.waiters().by_seq.remove(&key).is_some() {
                self.shared.parked.fetch_sub(1, SeqCst);
            }
        }
    }
}

impl Drop for Admit<'_> {
    fn drop(&mut self) {
        self.deregister();
    }
}

impl<T> Receiver<T> {
    /// Polls the reorder layer for the next arrival in order, runs the head-of-line timer,
    /// and publishes the watermark to the senders.
    fn poll_arrival(&mut self, cx: &mut Context<'_>) -> Poll<Option<ArrivalItem<T>>> {
        let mut polled = Pin::new(&mut self.inner).poll_next(cx);
        if polled.is_pending() {
            if let Some(timer) = self.head_timer.as_mut() {
                // One clock for the channel: the head blocks held values or parked
                // senders (or both), and the clock restarts only when the watermark
                // moves. Register first, so a sender that parks after the check wakes us.
                self.shared.receiver.register(cx.waker());
                let lowest_parked = self.shared.lowest_parked();
                let blocked = self.inner.buffered_len() > 0 || lowest_parked.is_some();
                if timer.poll_expired(blocked.then(|| self.inner.next_seq()), cx) {
                    // Skip to the smallest value known to exist: held (`skip_to` stops
                    // there) or waiting to be sent, so that its sender is admitted.
                    let target = lowest_parked.unwrap_or(u64::MAX);
                    if let Some(skipped) = self.inner.skip_to(target) {
                        polled = Poll::Ready(Some(Err(ReorderError::Missing(skipped))));
                    }
                }
            }
        }
        let watermark = self.inner.next_seq();
        if watermark != self.published {
            self.published = watermark;
            self.shared.advance(watermark);
        }
        polled
    }

    /// Receives the next value in order, or the error that stands in its position.
    /// `None` once every sender is gone and everything held has been yielded.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: held values live in the receiver, not in the future.
    pub async fn recv(&mut self) -> Option<Result<T, ReorderError<T>>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Closes the channel: waiting and later sends fail, handing their values back.
    /// Values already sent can still be received.
    pub fn close(&mut self) {
        self.shared.close();
        self.inner.get_mut().0.close();
    }

    /// The watermark: every sequence number below it has been yielded (or reported), and
    /// it is the one the receiver waits for.
    pub fn next_seq(&self) -> u64 {
        self.inner.next_seq()
    }

    /// How many values are held, waiting for their turn.
    pub fn buffered_len(&self) -> usize {
        self.inner.buffered_len()
    }

    /// The most values held at once so far.
    pub fn peak_buffered(&self) -> usize {
        self.inner.peak_buffered()
    }
}

impl<T> Stream for Receiver<T> {
    type Item = Result<T, ReorderError<T>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let Some(arrival) = std::task::ready!(this.poll_arrival(cx)) else {
                return Poll::Ready(None);
            };
            let item = match arrival {
                Ok(Arrival::Value(value)) => Ok(value),
                Ok(Arrival::GivenUp(seq)) => match seq.checked_add(1) {
                    Some(end) => Err(ReorderError::Missing(seq..end)),
                    None => continue,
                },
                Err(ReorderError::Late {
                    seq,
                    value: Arrival::Value(value),
                }) => Err(ReorderError::Late { seq, value }),
                Err(ReorderError::Duplicate {
                    seq,
                    value: Arrival::Value(value),
                }) => Err(ReorderError::Duplicate { seq, value }),
                // A give-up for a seq that passed or was sent changes nothing.
                Err(ReorderError::Late { .. } | ReorderError::Duplicate { .. }) => continue,
                Err(ReorderError::Missing(range)) => Err(ReorderError::Missing(range)),
            };
            return Poll::Ready(Some(item));
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (lower, _) = self.inner.size_hint();
        (lower, None)
    }
}

impl<T> FusedStream for Receiver<T> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
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
            .field("window", &self.shared.window)
            .finish()
    }
}

/// What a sender puts in the channel for a seq: its value, or word that none will come.
enum Arrival<T> {
    Value(T),
    GivenUp(u64),
}

/// What the reorder layer under the receiver yields.
type ArrivalItem<T> = Result<Arrival<T>, ReorderError<Arrival<T>>>;

/// The mpsc receiver as a stream of `(seq, arrival)` pairs.
struct Arrivals<T>(mpsc::UnboundedReceiver<(u64, Arrival<T>)>);

impl<T> Stream for Arrivals<T> {
    type Item = (u64, Arrival<T>);

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(u64, Arrival<T>)>> {
        self.0.poll_recv(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.0.len(), None)
    }
}

impl<T> fmt::Debug for Arrivals<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arrivals").finish_non_exhaustive()
    }
}
