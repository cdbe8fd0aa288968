//! The future behind [`Reorder::next`](crate::Reorder::next) and
//! [`Receiver::recv`](crate::Receiver::recv): one `poll_next` of a stream.
//!
//! `futures`' `StreamExt::next` does the same, but its `poll` is not `#[inline]`: in a
//! release build with several codegen units it may land in another unit than the loop
//! that awaits it, and then every item pays for a call and for returning the item
//! through memory (about 14 instructions per item, callgrind). Ours is `#[inline]`, so it
//! is instantiated beside its caller and the in-order fast path inlines into the loop.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

/// Resolves to the next item of the stream it borrows.
#[must_use = "futures do nothing unless awaited"]
pub(crate) struct NextItem<'a, S: ?Sized>(pub(crate) &'a mut S);

impl<S: Stream + Unpin + ?Sized> Future for NextItem<'_, S> {
    type Output = Option<S::Item>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut *self.0).poll_next(cx)
    }
}
