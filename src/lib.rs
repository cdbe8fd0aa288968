//! Run work concurrently on tokio, get the results back strictly in order.
//!
//! Work finishes in any order; `reorder` hands it to a sequential consumer in the order it
//! was started, without losing anything, without hanging, and with memory bounded by
//! configuration.
//!
//! # Which tool fits which job
//!
//! | you have | you want | use |
//! |---|---|---|
//! | a stream of `(seq, value)` in any order | the values in seq order | [`stream.ordered()`](OrderedExt::ordered) → [`Reorder`] |
//! | producers in many tasks or threads | one in-order consumer, bounded memory | [`channel`] → [`Sender`], [`Receiver`] |
//! | a synchronous loop, a simulation, your own executor | the bare algorithm | [`ReorderBuffer`] |
//!
//! # The contract
//!
//! | event | what you see |
//! |---|---|
//! | the next expected seq arrives | `Ok(value)` at once (it never touches the heap) |
//! | a later seq arrives | held until every earlier seq has been yielded |
//! | a seq below the watermark arrives (after a skip, or a copy of a yielded one) | `Err(Late { seq, value })` at once, value handed back |
//! | a held seq arrives again | the first copy in its position, then `Err(Duplicate { seq, value })` |
//! | the input ends with holes | `Err(Missing(range))` for each hole, in order among the held values, then `None` |
//! | the window fills or the head-of-line timeout fires | the missing head is skipped as `Err(Missing(range))`; if it turns up later it is `Late` |
//! | seqs near `u64::MAX`, a first seq other than 0 | correct, no overflow |
//!
//! # Examples
//!
//! Results of concurrent work, yielded in order:
//!
//! ```
//! use futures::StreamExt;
//! use reorder::OrderedExt;
//! use tokio::sync::mpsc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (tx, rx) = mpsc::unbounded_channel();
//! for seq in 0..4u64 {
//!     let tx = tx.clone();
//!     tokio::spawn(async move {
//!         // Later tasks finish first.
//!         tokio::time::sleep(std::time::Duration::from_millis(40 - 10 * seq)).await;
//!         tx.send((seq, seq * seq)).unwrap();
//!     });
//! }
//! drop(tx);
//! let arrivals = futures::stream::unfold(rx, |mut rx| async { rx.recv().await.map(|x| (x, rx)) });
//! let squares: Vec<u64> = arrivals.ordered().map(Result::unwrap).collect().await;
//! assert_eq!(squares, [0, 1, 4, 9]);
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod buffer;
pub use buffer::ReorderBuffer;

mod channel;
pub use channel::{channel, channel_with, Receiver, Sender};

mod error;
pub use error::{ReorderError, SendError, TaskError, TrySendError};

mod ext;
pub use ext::OrderedExt;

mod join_set;
pub use join_set::OrderedJoinSet;

mod reorder;
pub use reorder::{Reorder, ReorderConfig, Sequenced};

mod sequencer;
pub use sequencer::{Sequencer, Ticket, Turn, Wait};

mod spawn;
pub use spawn::{SpawnConfig, SpawnOrdered, SpawnOrderedBlocking};

mod tasks;
