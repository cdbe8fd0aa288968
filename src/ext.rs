//! The extension trait: one-line methods that build the adapters.

use futures_core::Stream;

use crate::{Reorder, ReorderConfig, Sequenced};

/// Adds [`ordered`](Self::ordered) and friends to every [`Stream`].
///
/// The method names do not clash with `futures::StreamExt` or `tokio_stream::StreamExt`,
/// so all three can be in scope at once.
pub trait OrderedExt: Stream {
    /// Reorders a stream of `(seq, value)` pairs, first sequence number 0.
    ///
    /// Yields `Ok(value)` strictly by sequence number. A value whose turn has come is
    /// yielded at once; a value that arrives early is held until every earlier one has
    /// been yielded. Nothing is lost and nothing hangs: a sequence number that arrives
    /// after its turn is handed back as [`ReorderError::Late`], a second copy of a held one
    /// as [`ReorderError::Duplicate`], and when the input ends every hole among the held
    /// values is reported as [`ReorderError::Missing`] in its position, then the stream
    /// ends.
    ///
    /// Holds without bound; use [`ordered_with`](Self::ordered_with) to cap memory or
    /// time.
    ///
    /// [`ReorderError::Late`]: crate::ReorderError::Late
    /// [`ReorderError::Duplicate`]: crate::ReorderError::Duplicate
    /// [`ReorderError::Missing`]: crate::ReorderError::Missing
    ///
    /// # Cancel safety
    ///
    /// Held values live in the adapter, not in the future returned by `next()`, so
    /// dropping that future loses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, StreamExt};
    /// use reorder::OrderedExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let arrivals = stream::iter([(2, 'c'), (0, 'a'), (3, 'd'), (1, 'b')]);
    /// let in_order: Vec<char> = arrivals.ordered().map(Result::unwrap).collect().await;
    /// assert_eq!(in_order, ['a', 'b', 'c', 'd']);
    /// # }
    /// ```
    fn ordered(self) -> Reorder<Self>
    where
        Self: Sized,
        Self::Item: Sequenced,
    {
        Reorder::new(self, ReorderConfig::new())
    }

    /// Like [`ordered`](Self::ordered), expecting `first` as the first sequence number.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, StreamExt};
    /// use reorder::OrderedExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let arrivals = stream::iter([(11, "b"), (10, "a")]);
    /// let in_order: Vec<_> = arrivals.ordered_from(10).map(Result::unwrap).collect().await;
    /// assert_eq!(in_order, ["a", "b"]);
    /// # }
    /// ```
    fn ordered_from(self, first: u64) -> Reorder<Self>
    where
        Self: Sized,
        Self::Item: Sequenced,
    {
        Reorder::new(self, ReorderConfig::new().first_seq(first))
    }

    /// Like [`ordered`](Self::ordered), with a first sequence number, a window (the most
    /// values held) and a head-of-line timeout; see [`ReorderConfig`].
    ///
    /// When the window fills or the timeout fires, the missing head is given up on and
    /// reported as [`ReorderError::Missing`](crate::ReorderError::Missing); if it turns
    /// up later it is handed back as [`ReorderError::Late`](crate::ReorderError::Late).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{stream, StreamExt};
    /// use reorder::{OrderedExt, ReorderConfig, ReorderError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // Seq 0 is lost; with a window of 2 the stream gives up on it once 2 values wait.
    /// let arrivals = stream::iter([(1, 'b'), (2, 'c'), (3, 'd')]);
    /// let out: Vec<_> = arrivals.ordered_with(ReorderConfig::new().window(2)).collect().await;
    /// assert_eq!(out[0], Err(ReorderError::Missing(0..1)));
    /// assert_eq!(out[1..], [Ok('b'), Ok('c'), Ok('d')]);
    /// # }
    /// ```
    fn ordered_with(self, config: ReorderConfig) -> Reorder<Self>
    where
        Self: Sized,
        Self::Item: Sequenced,
    {
        Reorder::new(self, config)
    }
}

impl<S: Stream + ?Sized> OrderedExt for S {}
