//! The reorder channel: many senders push `(seq, value)` in any order, one receiver reads
//! the values in order.
//!
//! Data flows one way: senders → (values through tokio's mpsc, give-ups as markers in
//! [`Shared`](shared::Shared)) → the receiver, which feeds both into the pure core; the
//! receiver publishes its watermark back, which admits waiting senders (the window).

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::head_timer::HeadTimer;
use crate::reorder::ReorderConfig;

mod lane;
mod receiver;
mod sender;
mod shared;

pub use lane::Lane;
pub use receiver::Receiver;
pub use sender::{Sender, SeqSlot};
use shared::Shared;

/// Creates a reorder channel whose senders may run at most `window` sequence numbers
/// ahead of the receiver.
///
/// Any number of [`Sender`]s (it is `Clone`) send `(seq, value)` from any tasks or
/// threads, in any order; the [`Receiver`] is a [`Stream`](futures_core::Stream) that yields the values
/// strictly by sequence number, starting at 0. A `send` whose seq is at or beyond
/// `next + window` (where `next` is the receiver's [`next_seq`](Receiver::next_seq))
/// waits until the receiver catches up, so fewer than `window` values are ever buffered
/// (duplicates, a producer bug, are handed back and may take up to `2 × window` slots
/// before the receiver skips its head to stay bounded). Only distinct seqs are held back:
/// a send of a seq inside the window or below the watermark never waits, so duplicates
/// and late values sent while the receiver is not polled queue in the channel until it
/// runs (then each comes back as an error).
/// The next expected seq is always admitted at once, so senders can never deadlock the
/// receiver.
///
/// When every sender is gone, the receiver reports each hole among the values it holds
/// as [`ReorderError::Missing`](crate::ReorderError::Missing), yields the rest in order, and ends. Late and duplicate
/// values come back as errors that hand the value back (see [`ReorderError`](crate::ReorderError)).
///
/// # Producers that fail
///
/// A seq that is neither sent nor given up, while other senders live on, blocks the
/// channel until a head-of-line timeout skips it (see [`channel_with`]), one seq per
/// timeout. So a producer that may fail should own its seqs through a guard that gives
/// them up when it is dropped — the receiver then reports each as `Missing` in its
/// position at once, whatever the window:
///
/// | a producer owns | use | when it dies |
/// |---|---|---|
/// | one seq | [`Sender::slot`] → [`SeqSlot`] | that seq is `Missing` |
/// | a stripe `first, first + step, …` | [`Sender::lane`] → [`Lane`] | every seq of the stripe it has not sent is `Missing` |
/// | a block `start..end` | [`Sender::block`] → [`Lane`] | the rest of its block is `Missing` |
/// | a block or anything else | [`Sender::give_up`], [`Sender::give_up_range`] by hand | what it gave up is `Missing` |
///
/// Give-ups never wait and never take room from values: they are kept as compact
/// ranges apart from the held values, so however many there are, and however far ahead
/// of the window, no value is ever skipped or returned `Late` because of them.
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
/// it as [`ReorderError::Missing`](crate::ReorderError::Missing), and waiting senders move up with the watermark).
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
/// The head-of-line clock runs while a missing head blocks something known to come after
/// it (a held value, a sender waiting at the window, a range given up inside the window);
/// when it fires, everything up to that seq is skipped as one `Missing`, and a value for
/// a skipped seq that turns up later is `Late`. So a timeout costs its full length per
/// such gap; give-ups are reported at once and cost none. A range given up beyond the
/// window does not start the clock (so it never makes a value `Late`). A
/// [`try_send`](Sender::try_send) turned away at the window starts the clock too, but
/// shows only that *some* seq beyond the head will come, not which: when nothing else
/// known to come lies below the seq it tried, the clock skips the missing head alone,
/// one seq per timeout.
pub fn channel_with<T>(config: ReorderConfig) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let window = config
        .get_window()
        .map(|w| u64::try_from(w).unwrap_or(u64::MAX));
    let head_timer = config.get_head_timeout().map(HeadTimer::new);
    let shared = Arc::new(Shared::new(
        config.get_first_seq(),
        window,
        head_timer.is_some(),
    ));
    let sender = Sender::new(tx, Arc::clone(&shared));
    let receiver = Receiver::new(
        rx,
        config.get_first_seq(),
        config.get_window(),
        head_timer,
        shared,
    );
    (sender, receiver)
}
