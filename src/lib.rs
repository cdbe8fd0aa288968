//! reorder: run work concurrently, get the results back strictly in order.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod sequencer;
pub use sequencer::{Sequencer, Ticket, Turn, Wait};
