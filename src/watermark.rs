//! The commit watermark's pure core: sparse sequence numbers registered in increasing
//! order, completed in any order; the watermark is the lowest one not yet complete.

use std::collections::VecDeque;
use std::fmt;

use crate::error::WatermarkError;

/// Where one registered sequence number stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Pending,
    Failed,
    Done,
}

/// Tracks in-flight sequence numbers (offsets) and says up to where it is safe to commit.
///
/// Sequence numbers are [registered](Self::register) in increasing order — gaps allowed,
/// as in a compacted or transactional Kafka partition — and [completed](Self::complete) in
/// any order. The watermark ([`get`](Self::get)) is the lowest registered sequence number
/// not yet complete, or one past the highest registered when every one is complete: the
/// Kafka convention of committing the *next offset to consume*. Every registered number
/// below the watermark is complete, so committing it loses nothing; a restart resumes at
/// the watermark and redoes at most what was in flight.
///
/// A [failed](Self::fail) sequence number holds the watermark below it until it is
/// [retried](Self::retry) and completes, or is completed as handled (dead-lettered): a
/// failure is never committed silently. Misuse is a typed [`WatermarkError`] carrying
/// the sequence number, never a panic.
///
/// This is the bare algorithm — no async, no tokio. [`CommitTracker`](crate::CommitTracker)
/// is its async face, [`KeyedWatermark`](crate::KeyedWatermark) keeps one per partition,
/// and [`spawn_unordered`](crate::OrderedExt::spawn_unordered) uses one over task
/// positions.
///
/// # Cost
///
/// Entries live in a ring buffer in registration order, so it is sorted: completing a
/// sequence number finds it by binary search (O(log n) in the numbers in flight), and the
/// watermark moves by popping the completed prefix (amortised O(1)). Memory is one entry
/// per registered number from the watermark up to the highest registered — never
/// proportional to the *range* of the numbers, however sparse — in a buffer that keeps
/// the largest capacity it has needed (as [`reset`](Self::reset) does): a burst's
/// memory stays allocated until the tracker is dropped.
///
/// # `u64::MAX`
///
/// "One past `u64::MAX`" cannot be a `u64`. Once `u64::MAX` is registered and every
/// number is complete, [`get`](Self::get) saturates at `u64::MAX` and
/// [`is_exhausted`](Self::is_exhausted) turns true; nothing more can be registered.
/// Saturating errs on the safe side: a consumer that commits `u64::MAX` redoes at most
/// that one offset.
///
/// # Examples
///
/// ```
/// use reorder::{Watermark, WatermarkError};
///
/// let mut wm = Watermark::new();
/// for offset in [3, 7, 8, 20] {
///     wm.register(offset).unwrap(); // sparse, increasing
/// }
/// assert_eq!(wm.get(), 3); // nothing complete yet: commit 3, redo from 3
/// wm.complete(7).unwrap();
/// wm.complete(8).unwrap();
/// assert_eq!(wm.get(), 3); // 3 is still in flight
/// wm.complete(3).unwrap();
/// assert_eq!(wm.get(), 20); // 3, 7 and 8 done
/// wm.fail(20).unwrap();
/// assert_eq!(wm.get(), 20); // a failure holds the watermark below it
/// wm.retry(20).unwrap(); // in flight again, same place
/// wm.complete(20).unwrap();
/// assert_eq!(wm.get(), 21); // all done: the next offset to consume
///
/// assert_eq!(wm.complete(8), Err(WatermarkError::Unknown(8)));
/// assert_eq!(wm.register(20), Err(WatermarkError::NotIncreasing(20)));
/// ```
#[derive(Clone)]
pub struct Watermark {
    /// Registered, not yet passed by the watermark, in registration (= seq) order. The
    /// front is never `Done`.
    entries: VecDeque<(u64, State)>,
    /// One past the highest registered (or the base); `None` once `u64::MAX` is
    /// registered.
    end: Option<u64>,
    /// `Failed` entries.
    failed: usize,
    /// `Done` entries still held behind an incomplete one.
    done: usize,
    /// Registered numbers the watermark has passed, in all.
    passed: u64,
}

impl Watermark {
    /// An empty tracker whose first sequence number may be 0; its watermark is 0.
    pub const fn new() -> Self {
        Self::with_base(0)
    }

    /// An empty tracker whose first sequence number may be `base` or more; its watermark
    /// is `base` until something is registered (the committed offset you resume from).
    pub const fn with_base(base: u64) -> Self {
        Self {
            entries: VecDeque::new(),
            end: Some(base),
            failed: 0,
            done: 0,
            passed: 0,
        }
    }

    /// Starts `seq` in flight. The watermark cannot pass it until it is complete.
    ///
    /// # Errors
    ///
    /// [`WatermarkError::NotIncreasing`] (handing `seq` back, nothing changed) if `seq` is
    /// not above every number registered so far (or below the base), or `u64::MAX` has
    /// been registered already.
    pub fn register(&mut self, seq: u64) -> Result<(), WatermarkError> {
        match self.end {
            Some(end) if seq >= end => {
                self.entries.push_back((seq, State::Pending));
                self.end = seq.checked_add(1);
                Ok(())
            }
            _ => Err(WatermarkError::NotIncreasing(seq)),
        }
    }

    /// Marks `seq` complete (also a failed one: it was handled, e.g. dead-lettered). The
    /// watermark moves up past every complete number at its front.
    ///
    /// # Errors
    ///
    /// [`WatermarkError::AlreadyCompleted`] if `seq` is complete but still held behind
    /// an incomplete one; [`WatermarkError::Unknown`] if it was never registered or the
    /// watermark has passed it. Nothing changes either way.
    pub fn complete(&mut self, seq: u64) -> Result<(), WatermarkError> {
        let i = self.find(seq)?;
        match self.entries[i].1 {
            State::Done => return Err(WatermarkError::AlreadyCompleted(seq)),
            State::Failed => self.failed -= 1,
            State::Pending => {}
        }
        if i == 0 {
            self.entries.pop_front();
            self.passed += 1;
            self.pop_done();
        } else {
            self.entries[i].1 = State::Done;
            self.done += 1;
        }
        Ok(())
    }

    /// Marks `seq` failed: the watermark stays at or below it until it is
    /// [retried](Self::retry) and completes, or [completed](Self::complete) as handled.
    /// Failing a failed number again changes nothing.
    ///
    /// # Errors
    ///
    /// As for [`complete`](Self::complete).
    pub fn fail(&mut self, seq: u64) -> Result<(), WatermarkError> {
        let i = self.find(seq)?;
        match self.entries[i].1 {
            State::Done => Err(WatermarkError::AlreadyCompleted(seq)),
            State::Failed => Ok(()),
            State::Pending => {
                self.entries[i].1 = State::Failed;
                self.failed += 1;
                Ok(())
            }
        }
    }

    /// Puts a failed `seq` back in flight, in its own place: the retry completes or fails
    /// it like the first attempt did.
    ///
    /// # Errors
    ///
    /// [`WatermarkError::NotFailed`] if `seq` is in flight and has not failed; otherwise
    /// as for [`complete`](Self::complete).
    pub fn retry(&mut self, seq: u64) -> Result<(), WatermarkError> {
        let i = self.find(seq)?;
        match self.entries[i].1 {
            State::Done => Err(WatermarkError::AlreadyCompleted(seq)),
            State::Pending => Err(WatermarkError::NotFailed(seq)),
            State::Failed => {
                self.entries[i].1 = State::Pending;
                self.failed -= 1;
                Ok(())
            }
        }
    }

    /// The watermark: the lowest registered sequence number not yet complete, or one past
    /// the highest registered when all are (the base if none is). Every registered number
    /// below it is complete — the offset to commit. Saturates at `u64::MAX`; see
    /// [`is_exhausted`](Self::is_exhausted).
    pub fn get(&self) -> u64 {
        match self.entries.front() {
            Some(&(seq, _)) => seq,
            None => self.end.unwrap_or(u64::MAX),
        }
    }

    /// Whether `u64::MAX` was registered and everything is complete: the watermark would
    /// be one past `u64::MAX`, and [`get`](Self::get) saturates.
    pub fn is_exhausted(&self) -> bool {
        self.end.is_none() && self.entries.is_empty()
    }

    /// The lowest number that [`register`](Self::register) accepts now; `None` once
    /// `u64::MAX` is registered.
    pub fn next_register(&self) -> Option<u64> {
        self.end
    }

    /// The lowest failed number, if any: the one holding the watermark back when it is
    /// at the front.
    pub fn first_failed(&self) -> Option<u64> {
        if self.failed == 0 {
            return None;
        }
        self.entries
            .iter()
            .find(|(_, state)| *state == State::Failed)
            .map(|&(seq, _)| seq)
    }

    /// The failed numbers, lowest first.
    pub fn failed(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries
            .iter()
            .filter(|(_, state)| *state == State::Failed)
            .map(|&(seq, _)| seq)
    }

    /// Whether `seq` is registered and neither complete nor failed.
    pub fn is_pending(&self, seq: u64) -> bool {
        self.state(seq) == Some(State::Pending)
    }

    /// Whether `seq` is registered and failed (not retried or completed since).
    pub fn is_failed(&self, seq: u64) -> bool {
        self.state(seq) == Some(State::Failed)
    }

    /// Registered numbers not yet complete (pending or failed).
    pub fn in_flight(&self) -> usize {
        self.entries.len() - self.done
    }

    /// Failed numbers not yet retried or completed.
    pub fn failed_len(&self) -> usize {
        self.failed
    }

    /// Entries held: the in-flight numbers plus complete ones waiting behind them. This
    /// is the memory in use (the capacity allocated may be larger; see the type's
    /// cost).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is in flight: the watermark is one past the highest registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many registered numbers the watermark has passed since this tracker was made
    /// (or [reset](Self::reset)).
    pub fn passed(&self) -> u64 {
        self.passed
    }

    /// Forgets everything and starts again at `base`, as [`with_base`](Self::with_base)
    /// would (a partition reassigned at a new committed offset). Keeps the allocation.
    pub fn reset(&mut self, base: u64) {
        self.entries.clear();
        *self = Self {
            entries: std::mem::take(&mut self.entries),
            ..Self::with_base(base)
        };
    }

    fn state(&self, seq: u64) -> Option<State> {
        self.find(seq).ok().map(|i| self.entries[i].1)
    }

    fn find(&self, seq: u64) -> Result<usize, WatermarkError> {
        // The front is the commonest target when completions are nearly in order.
        match self.entries.front() {
            Some(&(front, _)) if front == seq => return Ok(0),
            Some(&(front, _)) if front > seq => return Err(WatermarkError::Unknown(seq)),
            None => return Err(WatermarkError::Unknown(seq)),
            Some(_) => {}
        }
        self.entries
            .binary_search_by_key(&seq, |&(s, _)| s)
            .map_err(|_| WatermarkError::Unknown(seq))
    }

    fn pop_done(&mut self) {
        while let Some(&(_, State::Done)) = self.entries.front() {
            self.entries.pop_front();
            self.done -= 1;
            self.passed += 1;
        }
    }
}

impl Default for Watermark {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Watermark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watermark")
            .field("watermark", &self.get())
            .field("exhausted", &self.is_exhausted())
            .field("in_flight", &self.in_flight())
            .field("failed", &self.failed)
            .field("next_register", &self.end)
            .finish()
    }
}
