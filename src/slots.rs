//! Pure core: the slots in which [`ReorderBuffer`](crate::ReorderBuffer) keeps early
//! arrivals near its watermark — a circular array indexed by sequence number, so that
//! holding and releasing a value is an index, not a heap sift.
//!
//! The slots cover the sequence numbers `next .. next + capacity` (`next` being the
//! buffer's watermark): seq `s` lives at index `s mod capacity`, the capacity a power of
//! two. Moving the watermark moves nothing; a slot behind it is always empty, because a
//! value leaves its slot when the watermark reaches it and the watermark only skips
//! slots that are empty.

/// Early arrivals near the watermark, one slot per sequence number.
pub(crate) struct Slots<T> {
    /// Empty, or a power-of-two number of slots.
    slots: Vec<Option<T>>,
    /// How many slots are occupied.
    held: usize,
    /// No slot holds a seq below this: where [`first`](Self::first) starts looking.
    /// Lowered by [`put`](Self::put), raised by [`settle_first`](Self::settle_first), so
    /// that asking again and again while the head is missing does not rescan the gap.
    clear_below: u64,
}

impl<T> Slots<T> {
    /// How far ahead of the watermark the slots reach at most: as many as fit in
    /// [`BYTES`](Self::BYTES), at most [`MAX`](Self::MAX), a power of two, at least one.
    pub(crate) const REACH: u64 = reach::<T>();

    /// The memory the slots may take.
    pub(crate) const BYTES: usize = 128 * 1024;

    /// The most slots, whatever the value's size.
    pub(crate) const MAX: usize = 8 * 1024;

    pub(crate) const fn new() -> Self {
        Self {
            slots: Vec::new(),
            held: 0,
            clear_below: 0,
        }
    }

    /// How many values the slots hold.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.held
    }

    fn index(&self, seq: u64) -> usize {
        // Truncating is the point: the low bits pick the slot.
        (seq as usize) & (self.slots.len() - 1)
    }

    /// Whether `seq`'s slot holds a value. `seq` must be within reach of `next`.
    pub(crate) fn is_occupied(&self, seq: u64) -> bool {
        !self.slots.is_empty() && self.slots[self.index(seq)].is_some()
    }

    /// Puts `value` in `seq`'s slot (`next <= seq < next + REACH`), growing the slots if
    /// `seq` is beyond them. Hands the value back if the slot is taken.
    pub(crate) fn put(&mut self, next: u64, seq: u64, value: T) -> Result<(), T> {
        debug_assert!(seq >= next && seq - next < Self::REACH);
        let offset = seq - next;
        if offset >= self.slots.len() as u64 {
            self.grow(next, offset);
        }
        let index = self.index(seq);
        let slot = &mut self.slots[index];
        if slot.is_some() {
            return Err(value);
        }
        *slot = Some(value);
        self.held += 1;
        if self.held == 1 || seq < self.clear_below {
            self.clear_below = seq;
        }
        Ok(())
    }

    /// Takes the value in `seq`'s slot, if any (`seq` within reach of the watermark).
    #[inline]
    pub(crate) fn take(&mut self, seq: u64) -> Option<T> {
        if self.held == 0 {
            return None;
        }
        let index = self.index(seq);
        let value = self.slots[index].take()?;
        self.held -= 1;
        Some(value)
    }

    /// The lowest sequence number held (every held one is at or after `next`).
    pub(crate) fn first(&self, next: u64) -> Option<u64> {
        if self.held == 0 {
            return None;
        }
        let start = next.max(self.clear_below);
        let end = next.saturating_add(self.slots.len() as u64 - 1);
        (start..=end).find(|&seq| self.slots[self.index(seq)].is_some())
    }

    /// [`first`](Self::first), remembered: the next look starts there.
    pub(crate) fn settle_first(&mut self, next: u64) -> Option<u64> {
        let first = self.first(next);
        if let Some(seq) = first {
            self.clear_below = seq;
        }
        first
    }

    /// Frees the slots if none is occupied.
    pub(crate) fn release_if_empty(&mut self) {
        if self.held == 0 {
            self.slots = Vec::new();
        }
    }

    /// Grows to a power of two past `offset` (at most `REACH`), moving every held value
    /// to its slot in the larger array.
    #[cold]
    fn grow(&mut self, next: u64, offset: u64) {
        let wanted = (offset + 1).next_power_of_two().max(16).min(Self::REACH);
        let old = std::mem::take(&mut self.slots);
        let old_mask = (old.len() as u64).wrapping_sub(1);
        self.slots.resize_with(wanted as usize, || None);
        for (index, value) in old.into_iter().enumerate() {
            if let Some(value) = value {
                // The one seq in `next .. next + old.len()` with these low bits.
                let seq = next.wrapping_add((index as u64).wrapping_sub(next) & old_mask);
                let new_index = self.index(seq);
                self.slots[new_index] = Some(value);
            }
        }
    }
}

/// The largest power of two of slots that fits in `Slots::BYTES`, at most `Slots::MAX`,
/// at least one.
const fn reach<T>() -> u64 {
    let slot = std::mem::size_of::<Option<T>>();
    // Zero-sized values: no bytes to bound, only the count.
    let fits = match Slots::<T>::BYTES.checked_div(slot) {
        Some(fits) => fits,
        None => Slots::<T>::MAX,
    };
    let mut reach = Slots::<T>::MAX;
    while reach > fits && reach > 1 {
        reach /= 2;
    }
    reach as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_is_a_power_of_two_within_the_byte_budget() {
        assert_eq!(Slots::<u64>::REACH, 8 * 1024); // 16-byte slots: 128 KiB / 16 = 8,192
        assert_eq!(Slots::<()>::REACH, 8 * 1024);
        assert_eq!(Slots::<[u8; 1000]>::REACH, 128); // 1,001-byte slots: 130 fit
        assert_eq!(Slots::<[u8; 200_000]>::REACH, 1);
    }

    #[test]
    fn values_keep_their_slots_across_growth_and_wrap_around() {
        let mut slots = Slots::new();
        let next = u64::MAX - 20; // the window wraps past u64::MAX
        for seq in [next + 3, next + 1, next + 17] {
            slots.put(next, seq, seq).unwrap();
        }
        assert_eq!(slots.put(next, next + 1, 0), Err(0)); // taken: handed back
        assert_eq!(slots.first(next), Some(next + 1));
        slots.put(next, u64::MAX, u64::MAX).unwrap(); // grows to 32
        assert_eq!(slots.len(), 4);
        assert_eq!(slots.take(next + 1), Some(next + 1));
        assert_eq!(slots.take(next + 2), None);
        assert_eq!(slots.settle_first(next + 2), Some(next + 3));
        assert_eq!(slots.first(next + 2), Some(next + 3));
        assert_eq!(slots.take(next + 3), Some(next + 3));
        assert_eq!(slots.take(next + 17), Some(next + 17));
        assert_eq!(slots.take(u64::MAX), Some(u64::MAX));
        assert_eq!(slots.first(u64::MAX), None);
        slots.release_if_empty();
        assert!(slots.slots.is_empty());
    }
}
