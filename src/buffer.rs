//! The pure, synchronous core: a reorder buffer with no async and no tokio.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::ops::Range;

use crate::slots::Slots;
use crate::ReorderError;

/// A reorder buffer: takes `(seq, value)` pairs in any order and gives the values back
/// strictly by sequence number.
///
/// This is the synchronous core under every async type in the crate, usable on its own
/// (in a thread, in a custom executor, in a simulation). It holds the next expected
/// sequence number and the early arrivals: those within a few thousand positions of it
/// in slots indexed by sequence number (a circular array: constant time in and out), any
/// further ahead, and second copies, in min-heaps.
///
/// - [`insert`](Self::insert) of the next expected seq hands the value straight back
///   without holding it (the fast path for in-order input);
/// - a later seq is held until its turn; drain held values with
///   [`pop_ready`](Self::pop_ready);
/// - a seq below [`next_seq`](Self::next_seq) is rejected as
///   [`Late`](ReorderError::Late), the value handed back;
/// - a second copy of a held seq is kept until the first copy is popped, then handed back
///   as [`Duplicate`](ReorderError::Duplicate) right after it;
/// - [`skip_gap`](Self::skip_gap) gives up on a missing head, and
///   [`pop_flush`](Self::pop_flush) drains everything once no more input will come,
///   reporting each hole as [`Missing`](ReorderError::Missing).
///
/// **Memory:** the held values, plus the slots: one `Option<T>` per position from the
/// watermark to the furthest value held in them (rounded up to a power of two), never
/// more than 128 KiB (8,192 slots for values of 8 bytes, fewer for larger ones) — except
/// that there is always room for one slot, so a value whose `Option<T>` is larger than
/// 128 KiB gets a single slot of its own size. Arrivals further ahead (and second copies)
/// go to min-heaps. All stay allocated for reuse while the buffer lives: after a burst a
/// heap keeps room for the most entries it ever held at once, even once they are gone.
///
/// Sequence numbers may start anywhere and run up to and including `u64::MAX`; no
/// arithmetic overflows. Once `u64::MAX` has been yielded every further seq is late.
///
/// # Examples
///
/// ```
/// use reorder::ReorderBuffer;
///
/// let mut buf = ReorderBuffer::new();
/// assert_eq!(buf.insert(2, 'c').unwrap(), None); // early: held
/// assert_eq!(buf.insert(0, 'a').unwrap(), Some('a')); // next: straight back
/// assert!(buf.pop_ready().is_none()); // 1 is still missing
/// assert_eq!(buf.insert(1, 'b').unwrap(), Some('b'));
/// assert_eq!(buf.pop_ready().unwrap().unwrap(), 'c');
/// assert_eq!(buf.next_seq(), 3);
/// ```
pub struct ReorderBuffer<T> {
    /// First copies within [`Slots::REACH`] of the watermark.
    slots: Slots<T>,
    /// How many values are held, in the slots and the heap: one field for the fast
    /// path's "nothing held" check.
    held: usize,
    /// First copies beyond the slots' reach (moved into the slots as the watermark comes
    /// near them; a second copy of a far seq waits here too until then).
    heap: BinaryHeap<Held<T>>,
    /// Second copies of seqs in the slots, and copies of seqs already yielded: each
    /// waits for its first copy to be popped. Apart from `heap`, so that moving first
    /// copies into the slots never looks through them again (with every seq sent twice,
    /// it did on every pop: quadratic).
    copies: BinaryHeap<Held<T>>,
    next: u64,
    /// Set once `u64::MAX` has been yielded: `next` cannot go past it.
    exhausted: bool,
    /// Arrival counter, so that of two copies of a seq the first one is yielded.
    arrivals: u64,
    peak: usize,
}

impl<T> ReorderBuffer<T> {
    /// An empty buffer expecting sequence number 0 first.
    pub fn new() -> Self {
        Self::starting_at(0)
    }

    /// An empty buffer expecting `first` first.
    pub fn starting_at(first: u64) -> Self {
        Self {
            slots: Slots::new(),
            held: 0,
            heap: BinaryHeap::new(),
            copies: BinaryHeap::new(),
            next: first,
            exhausted: false,
            arrivals: 0,
            peak: 0,
        }
    }

    /// The watermark: every sequence number below it has been yielded or skipped, and
    /// it is the one the buffer waits for. Saturates at `u64::MAX` (see
    /// [`is_exhausted`](Self::is_exhausted)).
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// Whether `u64::MAX` itself has been yielded or skipped, so that every sequence
    /// number is now late.
    pub fn is_exhausted(&self) -> bool {
        self.exhausted
    }

    /// How many values are held, waiting for their turn.
    pub fn len(&self) -> usize {
        self.held
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// The most values held at once since the buffer was made.
    pub fn peak_len(&self) -> usize {
        self.peak
    }

    /// The smallest held sequence number, if any value is held.
    pub fn first_held(&self) -> Option<u64> {
        lowest(
            lowest(self.slots.first(self.next), self.heap.peek().map(|h| h.seq)),
            self.copies.peek().map(|h| h.seq),
        )
    }

    /// [`first_held`](Self::first_held) for a caller that may ask again while the head
    /// stays missing: the slots remember where their first value is, so the next ask
    /// does not look through the gap again.
    pub(crate) fn first_held_settled(&mut self) -> Option<u64> {
        lowest(
            lowest(
                self.slots.settle_first(self.next),
                self.heap.peek().map(|h| h.seq),
            ),
            self.copies.peek().map(|h| h.seq),
        )
    }

    /// Whether [`pop_ready`](Self::pop_ready) would return something now.
    #[inline]
    pub fn has_ready(&self) -> bool {
        self.held != 0
            && (self.slots.is_occupied(self.next)
                || self.copies.peek().is_some_and(|h| h.seq <= self.next)
                || self.heap.peek().is_some_and(|h| h.seq <= self.next))
    }

    /// Offers one value.
    ///
    /// - `Ok(Some(value))`: `seq` was the next expected; the value comes straight back
    ///   (it never touches the heap) and the watermark moves past it. Values held behind
    ///   it may now be ready: call [`pop_ready`](Self::pop_ready) until it returns `None`.
    /// - `Ok(None)`: `seq` is ahead of the watermark; the value is held. Also when `seq`
    ///   is the watermark while held values are ready (not drained with
    ///   [`pop_ready`](Self::pop_ready) first): the value waits behind them, and if a copy
    ///   of its seq is among them it is the second copy, a
    ///   [`Duplicate`](ReorderError::Duplicate) right after the first.
    /// - `Err(Late)`: `seq` is below the watermark, or the buffer is
    ///   [exhausted](Self::is_exhausted); the value is handed back.
    #[inline]
    pub fn insert(&mut self, seq: u64, value: T) -> Result<Option<T>, ReorderError<T>> {
        // A held copy of the same seq (left there by a caller that did not drain
        // `pop_ready` first) keeps its place as the first copy.
        if seq == self.next && !self.exhausted && !self.has_ready() {
            self.advance_past(seq);
            if !self.is_empty() {
                self.step_held();
            }
            return Ok(Some(value));
        }
        self.hold(seq, value)
    }

    /// The watermark moved while values are held: values in the heap it came near move
    /// to the slots.
    #[inline(never)]
    fn step_held(&mut self) {
        self.pull_into_slots();
    }

    /// The in-order fast path for a caller that knows nothing is held: if `seq` is the
    /// next expected, moves the watermark past it and returns `true`.
    #[inline]
    pub(crate) fn advance_if_next(&mut self, seq: u64) -> bool {
        debug_assert!(self.is_empty());
        // `seq != u64::MAX` stands in for `!exhausted` (which implies `next == u64::MAX`),
        // one compare instead of a load: `u64::MAX` itself takes the general path, which
        // sets `exhausted`.
        if seq == self.next && seq != u64::MAX {
            self.next = seq + 1;
            true
        } else {
            false
        }
    }

    /// The rest of `insert`, out of line so that the in-order fast path inlines and
    /// keeps few registers live.
    #[inline(never)]
    fn hold(&mut self, seq: u64, value: T) -> Result<Option<T>, ReorderError<T>> {
        if seq < self.next || self.exhausted {
            return Err(ReorderError::Late { seq, value });
        }
        let order = self.arrivals;
        self.arrivals = self.arrivals.wrapping_add(1);
        if seq - self.next < Slots::<T>::REACH {
            if let Err(value) = self.slots.put(self.next, seq, value) {
                // A second copy: it follows the first, which keeps the slot.
                self.copies.push(Held { seq, order, value });
            }
        } else {
            self.heap.push(Held { seq, order, value });
        }
        self.held += 1;
        self.peak = self.peak.max(self.held);
        Ok(None)
    }

    /// Pops the next value if it is held, or a held duplicate of a value already popped.
    ///
    /// Returns `None` while the next expected sequence number is missing.
    #[must_use = "a popped value or a skipped range is lost if ignored"]
    pub fn pop_ready(&mut self) -> Option<Result<T, ReorderError<T>>> {
        // A copy of a seq already yielded comes first: it sorts below the watermark.
        if self.duplicate_due() {
            return self.pop_duplicate();
        }
        if let Some(value) = self.slots.take(self.next) {
            self.held -= 1;
            let seq = self.next;
            self.advance_past(seq);
            self.pull_into_slots();
            return Some(Ok(value));
        }
        None
    }

    /// Gives up on the missing head: moves the watermark up to the smallest held sequence
    /// number and returns the skipped range.
    ///
    /// Returns `None` (and changes nothing) when nothing is held or the head is not
    /// missing. A value for a skipped sequence number that arrives later is
    /// [`Late`](ReorderError::Late).
    #[must_use = "a popped value or a skipped range is lost if ignored"]
    pub fn skip_gap(&mut self) -> Option<Range<u64>> {
        let first = self.first_held_settled()?;
        self.skip_to(first)
    }

    /// Gives up on every sequence number below `seq` that is not held: moves the
    /// watermark up to `seq`, or to the smallest held sequence number if that is lower,
    /// and returns the skipped range.
    ///
    /// Returns `None` (and changes nothing) when that would not move the watermark, and
    /// also while a ready value or duplicate is held: drain [`pop_ready`](Self::pop_ready)
    /// first. Values for skipped sequence numbers that arrive later are
    /// [`Late`](ReorderError::Late).
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::ReorderBuffer;
    ///
    /// let mut buf = ReorderBuffer::<char>::new();
    /// assert_eq!(buf.skip_to(5), Some(0..5)); // nothing held: straight to 5
    /// buf.insert(7, 'h').unwrap();
    /// assert_eq!(buf.skip_to(100), Some(5..7)); // stops at the held 7
    /// assert_eq!(buf.pop_ready().unwrap().unwrap(), 'h');
    /// ```
    #[must_use = "a popped value or a skipped range is lost if ignored"]
    pub fn skip_to(&mut self, seq: u64) -> Option<Range<u64>> {
        let target = self.first_held_settled().map_or(seq, |held| held.min(seq));
        if self.exhausted || target <= self.next {
            return None;
        }
        let skipped = self.next..target;
        // The slots skipped are empty: the target is at or below the first held seq.
        self.next = target;
        self.pull_into_slots();
        Some(skipped)
    }

    /// Gives up on every sequence number up to and including `last` that is not held, as
    /// [`skip_to`](Self::skip_to) does; `last == u64::MAX` exhausts the buffer (the range
    /// returned then stops short of `u64::MAX`, which no `Range` can include).
    pub(crate) fn skip_through(&mut self, last: u64) -> Option<Range<u64>> {
        match last.checked_add(1) {
            Some(end) => self.skip_to(end),
            None => {
                let skipped = self.skip_to(u64::MAX);
                // Only `u64::MAX` itself can be held once the watermark is there.
                if self.next == u64::MAX
                    && !self.slots.is_occupied(u64::MAX)
                    && !self.heap.iter().any(|h| h.seq == u64::MAX)
                    && !self.copies.iter().any(|h| h.seq == u64::MAX)
                {
                    self.exhausted = true;
                }
                skipped
            }
        }
    }

    /// Pops the lowest held entry as if no more input will come: the next value, a
    /// duplicate, or — when the head is missing — a [`Missing`](ReorderError::Missing)
    /// error for the hole before the lowest held value (which is then ready).
    ///
    /// Calling it until it returns `None` empties the buffer; every hole between held
    /// values is reported exactly once, in order among them.
    #[must_use = "a popped value or a skipped range is lost if ignored"]
    pub fn pop_flush(&mut self) -> Option<Result<T, ReorderError<T>>> {
        if let Some(skipped) = self.skip_gap() {
            return Some(Err(ReorderError::Missing(skipped)));
        }
        // Nothing held, or the lowest held entry is due now.
        self.pop_ready()
    }

    /// Frees the held values' storage once nothing is held, so that an idle buffer costs
    /// only its watermark.
    pub(crate) fn release_if_empty(&mut self) {
        if self.is_empty() {
            self.slots.release_if_empty();
            self.heap = BinaryHeap::new();
            self.copies = BinaryHeap::new();
        }
    }

    /// Whether a copy of a seq already yielded waits in either heap. Two length checks
    /// when none is held, as is usual: this runs on every pop.
    #[inline]
    fn duplicate_due(&self) -> bool {
        let due = |held: &Held<T>| held.seq < self.next || self.exhausted;
        self.copies.peek().is_some_and(due) || self.heap.peek().is_some_and(due)
    }

    /// Pops the earliest due copy of a seq already yielded; see
    /// [`duplicate_due`](Self::duplicate_due).
    #[cold]
    fn pop_duplicate(&mut self) -> Option<Result<T, ReorderError<T>>> {
        let (next, exhausted) = (self.next, self.exhausted);
        let due =
            |held: Option<&Held<T>>| held.filter(|h| h.seq < next || exhausted).map(Held::key);
        let (copy, far) = (due(self.copies.peek()), due(self.heap.peek()));
        // The earlier of the two (`heap` only has one once the buffer is exhausted).
        let from = if far.is_some_and(|far| copy.is_none_or(|copy| far < copy)) {
            &mut self.heap
        } else {
            &mut self.copies
        };
        let Held { seq, value, .. } = from.pop()?;
        self.held -= 1;
        Some(Err(ReorderError::Duplicate { seq, value }))
    }

    /// Moves first copies the watermark has come near from the heap into the slots, so
    /// that a copy arriving later finds the slot taken and follows it. Called whenever
    /// the watermark moves while something is held. A second copy of a seq now in the
    /// slots (and a copy of a seq already yielded) moves to `copies`: each entry leaves
    /// the heap once.
    fn pull_into_slots(&mut self) {
        if self.heap.is_empty() || self.exhausted {
            return;
        }
        while let Some(top) = self.heap.peek() {
            let offset = top.seq.checked_sub(self.next);
            if offset.is_some_and(|offset| offset >= Slots::<T>::REACH) {
                break;
            }
            let held = self.heap.pop().expect("peeked");
            if offset.is_none() {
                self.copies.push(held); // a copy of a seq already yielded: due as it is
            } else if let Err(value) = self.slots.put(self.next, held.seq, held.value) {
                self.copies.push(Held { value, ..held }); // a second copy: behind the first
            }
        }
    }

    fn advance_past(&mut self, seq: u64) {
        match seq.checked_add(1) {
            Some(next) => self.next = next,
            None => self.exhausted = true,
        }
    }
}

/// The lower of two optional sequence numbers.
fn lowest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

// Held values are never pinned: they are moved in and out by value.
impl<T> Unpin for ReorderBuffer<T> {}

impl<T> Default for ReorderBuffer<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for ReorderBuffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReorderBuffer")
            .field("next_seq", &self.next)
            .field("exhausted", &self.exhausted)
            .field("len", &self.len())
            .field("peak_len", &self.peak)
            .finish()
    }
}

/// A held value, ordered so that `BinaryHeap` (a max-heap) pops the smallest seq first
/// and, among copies of one seq, the earliest arrival first.
struct Held<T> {
    seq: u64,
    order: u64,
    value: T,
}

impl<T> Held<T> {
    #[inline]
    fn key(&self) -> u128 {
        (u128::from(self.seq) << 64) | u128::from(self.order)
    }
}

impl<T> PartialEq for Held<T> {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq && self.order == other.order
    }
}

impl<T> Eq for Held<T> {}

impl<T> PartialOrd for Held<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Held<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        // One branch-free wide comparison instead of a compare-then-tiebreak: most
        // comparisons differ in `seq`, and the heap's sifts are hot.
        other.key().cmp(&self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_values_never_touch_the_heap() {
        let mut buf = ReorderBuffer::new();
        for i in 0..100u64 {
            assert_eq!(buf.insert(i, i).unwrap(), Some(i));
        }
        assert_eq!(buf.peak_len(), 0);
    }

    #[test]
    fn yielding_u64_max_exhausts_the_buffer() {
        let mut buf = ReorderBuffer::starting_at(u64::MAX - 1);
        assert_eq!(buf.insert(u64::MAX, 'b').unwrap(), None);
        assert_eq!(buf.insert(u64::MAX - 1, 'a').unwrap(), Some('a'));
        assert_eq!(buf.pop_ready().unwrap().unwrap(), 'b');
        assert!(buf.is_exhausted());
        assert_eq!(buf.next_seq(), u64::MAX);
        assert!(matches!(
            buf.insert(u64::MAX, 'c'),
            Err(ReorderError::Late {
                seq: u64::MAX,
                value: 'c'
            })
        ));
    }
}
