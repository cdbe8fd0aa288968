//! What [`ordered`](crate::OrderedExt::ordered) accepts: an item that carries its own
//! sequence number.

use crate::error::ReorderError;

/// An item that carries its own sequence number: what
/// [`ordered`](crate::OrderedExt::ordered) and friends reorder.
///
/// Implemented for `(seq, value)` pairs whose seq is any unsigned integer — `u64`,
/// `usize` (so `.enumerate().ordered()` works), `u32`, `u16`, `u8` — and for `i32` and
/// `i64`. The signed impls exist so that unsuffixed literal pairs such as
/// `[(1, "b"), (0, "a")]` compile (Rust falls back to `i32` for them) and so that signed
/// ids from elsewhere plug in directly.
///
/// A negative seq can never be in order: it lies before every position. It is handed
/// back at once as [`ReorderError::Late`], like any seq below the watermark; its `seq`
/// field holds the number's two's-complement bits, so `err.seq() as i64` gives the
/// negative number back. No new error kind is needed, so existing `match`es on
/// [`ReorderError`] stay exhaustive.
///
/// # Your own seq or message type
///
/// Implement `Sequenced` for the item itself: map its seq to a `u64` position, or
/// return an error (typically [`ReorderError::Late`]) to hand back an item that has no
/// valid position. The error is yielded at once, in the item's place in the input.
///
/// ```
/// use futures::{stream, StreamExt};
/// use reorder::{OrderedExt, ReorderError, Sequenced};
///
/// /// A frame numbered by a signed counter that uses -1 for "no seq".
/// struct Frame { seq: i16, payload: &'static str }
///
/// impl Sequenced for Frame {
///     type Value = Frame;
///     fn into_parts(self) -> Result<(u64, Frame), ReorderError<Frame>> {
///         match u64::try_from(self.seq) {
///             Ok(seq) => Ok((seq, self)),
///             Err(_) => Err(ReorderError::Late { seq: self.seq as i64 as u64, value: self }),
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let frames = stream::iter([
///     Frame { seq: 1, payload: "b" },
///     Frame { seq: -1, payload: "?" },
///     Frame { seq: 0, payload: "a" },
/// ]);
/// let out: Vec<_> = frames
///     .ordered()
///     .map(|r| r.map(|f| f.payload).map_err(|e| e.into_value().unwrap().payload))
///     .collect()
///     .await;
/// assert_eq!(out, [Err("?"), Ok("a"), Ok("b")]);
/// # }
/// ```
///
/// # Examples
///
/// `.enumerate()` numbers any stream with `usize`:
///
/// ```
/// use futures::{stream, StreamExt};
/// use reorder::OrderedExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let out: Vec<_> = stream::iter(['a', 'b']).enumerate().ordered().collect().await;
/// assert_eq!(out, [Ok('a'), Ok('b')]);
/// # }
/// ```
///
/// An item without a sequence number is rejected at compile time, with an error that
/// names `Sequenced`:
///
/// ```compile_fail
/// use futures::stream;
/// use reorder::OrderedExt;
///
/// let _ = stream::iter(["no", "seq"]).ordered();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not carry a sequence number that `reorder` understands",
    label = "`ordered()` needs items that implement `reorder::Sequenced`",
    note = "`Sequenced` is implemented for `(seq, value)` pairs with seq `u64`, `usize` (as `.enumerate()` gives), `u32`, `u16`, `u8`, `i32` or `i64`",
    note = "for another seq type or your own message type, implement `reorder::Sequenced` for the item: map its seq to a `u64` position"
)]
pub trait Sequenced {
    /// What the reordered stream yields.
    type Value;

    /// Splits the item into its sequence number and value.
    ///
    /// # Errors
    ///
    /// An item that has no valid position (a negative seq, say) is handed back as an
    /// error, which the reordered stream yields at once.
    fn into_parts(self) -> Result<(u64, Self::Value), ReorderError<Self::Value>>;
}

/// Unsigned seqs: every value is a position.
macro_rules! unsigned_seq {
    ($($int:ty),*) => {$(
        impl<T> Sequenced for ($int, T) {
            type Value = T;

            #[inline]
            fn into_parts(self) -> Result<(u64, T), ReorderError<T>> {
                // Lossless: `usize` is at most 64 bits on every platform Rust supports.
                Ok((self.0 as u64, self.1))
            }
        }
    )*};
}

unsigned_seq!(u64, usize, u32, u16, u8);

/// Signed seqs: non-negative values are positions; a negative one is handed back as
/// `Late`, with its two's-complement bits as the seq.
macro_rules! signed_seq {
    ($($int:ty),*) => {$(
        impl<T> Sequenced for ($int, T) {
            type Value = T;

            #[inline]
            fn into_parts(self) -> Result<(u64, T), ReorderError<T>> {
                let (seq, value) = self;
                match u64::try_from(seq) {
                    Ok(seq) => Ok((seq, value)),
                    Err(_) => Err(ReorderError::Late {
                        seq: i64::from(seq) as u64,
                        value,
                    }),
                }
            }
        }
    )*};
}

signed_seq!(i32, i64);
