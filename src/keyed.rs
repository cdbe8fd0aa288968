//! The pure per-key core: one [`ReorderBuffer`] per key, no async and no tokio.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::ops::Range;

use crate::buffer::ReorderBuffer;
use crate::error::ReorderError;

/// A reorder buffer per key: takes `(key, seq, value)` in any order and gives each key's
/// values back strictly by that key's sequence numbers, while keys never wait for each
/// other.
///
/// This is the synchronous core under [`KeyedReorder`](crate::KeyedReorder) and
/// [`SpawnOrderedByKey`](crate::SpawnOrderedByKey), usable on its own. Each key has its own
/// [`ReorderBuffer`], made on the key's first arrival and expecting
/// [`first_seq`](Self::first_seq) first, with the same contract per key:
///
/// - [`insert`](Self::insert) of a key's next expected seq hands the value straight back;
///   a later seq is held until its turn (drain with [`pop_ready`](Self::pop_ready), which
///   serves whichever keys have values ready);
/// - a seq below the key's watermark is rejected as [`Late`](ReorderError::Late), a
///   second copy of a held seq comes back as [`Duplicate`](ReorderError::Duplicate) right
///   after the first;
/// - [`skip_oldest_gap`](Self::skip_oldest_gap) gives up on the missing head that has
///   blocked its key the longest (how a total bound on held values is kept), and
///   [`pop_flush`](Self::pop_flush) drains everything once no more input will come,
///   reporting each hole as [`Missing`](ReorderError::Missing) in its key's order.
///
/// [`len`](Self::len) counts the values held across all keys.
///
/// # Memory
///
/// A key that drains (holds nothing) frees its heap storage at once and keeps only its
/// watermark (in a drained buffer of about 150 bytes on 64-bit targets, plus the key),
/// because the watermark is what makes a replayed or skipped seq
/// [`Late`](ReorderError::Late) rather than a fresh value. A key whose watermark is still
/// [`first_seq`](Self::first_seq) (it never yielded, or every value it had came back as an
/// error) costs nothing at all. When you know a key is finished (a chat closed, a
/// partition revoked), [`forget`](Self::forget) drops its watermark too; a later arrival
/// for it starts it afresh at `first_seq`.
///
/// # Examples
///
/// ```
/// use reorder::KeyedBuffer;
///
/// let mut buf = KeyedBuffer::new();
/// assert_eq!(buf.insert(&"alice", 1, 'b').unwrap(), None); // alice 0 is missing: held
/// assert_eq!(buf.insert(&"bob", 0, 'x').unwrap(), Some('x')); // bob does not wait for alice
/// assert_eq!(buf.insert(&"alice", 0, 'a').unwrap(), Some('a'));
/// assert_eq!(buf.pop_ready(), Some(("alice", Ok('b'))));
/// assert!(buf.is_empty());
/// assert_eq!(buf.next_seq(&"alice"), 2);
/// ```
pub struct KeyedBuffer<K, T> {
    lanes: HashMap<K, Lane<T>>,
    first: u64,
    /// Keys with a value ready, each once, in the order they became ready.
    ready: VecDeque<K>,
    /// Keys whose head is missing while later values wait, by when that began.
    blocked: BTreeMap<u64, K>,
    ticks: u64,
    len: usize,
    peak: usize,
    /// Set while a key's book is being kept: still set afterwards only if the key's
    /// `clone` panicked half-way (and the caller caught it), so that a lane may be missing
    /// from `ready` or `blocked`; the next pop or skip puts every lane back in its book.
    unsettled: bool,
}

struct Lane<T> {
    buffer: ReorderBuffer<T>,
    in_ready: bool,
    blocked_since: Option<u64>,
}

impl<K, T> KeyedBuffer<K, T>
where
    K: Hash + Eq + Clone,
{
    /// An empty buffer; every key expects sequence number 0 first.
    pub fn new() -> Self {
        Self::starting_at(0)
    }

    /// An empty buffer; every key expects `first` first.
    pub fn starting_at(first: u64) -> Self {
        Self {
            lanes: HashMap::new(),
            first,
            ready: VecDeque::new(),
            blocked: BTreeMap::new(),
            ticks: 0,
            len: 0,
            peak: 0,
            unsettled: false,
        }
    }

    /// Offers one value for `key`.
    ///
    /// - `Ok(Some(value))`: `seq` was the key's next expected; the value comes straight
    ///   back. Values of that key held behind it may now be ready: call
    ///   [`pop_ready`](Self::pop_ready) until it returns `None`.
    /// - `Ok(None)`: `seq` is ahead of the key's watermark; the value is held.
    /// - `Err(Late)`: `seq` is below the key's watermark; the value is handed back.
    pub fn insert(&mut self, key: &K, seq: u64, value: T) -> Result<Option<T>, ReorderError<T>> {
        if !self.lanes.contains_key(key) {
            self.lanes.insert(key.clone(), Lane::new(self.first));
        }
        let Some(lane) = self.lanes.get_mut(key) else {
            unreachable!("the lane was just made")
        };
        let before = lane.buffer.len();
        // The key's next seq while it holds values is handed straight back and moves the
        // watermark past it, and the book may then need a clone of the key (the key
        // becomes ready): cloned first, so that a panicking `clone` cannot drop a value
        // whose seq is already passed (neither yielded nor reported).
        let spare = (before != 0 && seq == lane.buffer.next_seq()).then(|| key.clone());
        let result = lane.buffer.insert(seq, value);
        if lane.buffer.len() > before {
            self.len += 1;
            self.peak = self.peak.max(self.len);
        }
        self.refresh(key, spare);
        result
    }

    /// Pops a ready value of any key (or a held duplicate of a value already popped), with
    /// its key. Keys are served in the order they became ready, each key's values in its
    /// own order.
    ///
    /// Returns `None` while every key that holds values waits for its missing head.
    #[must_use = "a popped value is lost if ignored"]
    pub fn pop_ready(&mut self) -> Option<(K, Result<T, ReorderError<T>>)> {
        if self.unsettled {
            self.resettle();
        }
        loop {
            let key = self.ready.front()?;
            let Some(lane) = self.lanes.get_mut(key) else {
                self.ready.pop_front();
                continue;
            };
            // A key that will still hold values after this pop (ready: it stays queued
            // and is returned too; blocked: it goes in `blocked`) is cloned before the
            // value leaves its lane, so that a panicking `clone` loses nothing.
            let spare = (lane.buffer.len() > 1).then(|| key.clone());
            let Some(item) = lane.buffer.pop_ready() else {
                lane.in_ready = false;
                self.ready.pop_front();
                continue;
            };
            self.len -= 1;
            let (key, spare) = match spare {
                Some(spare) if lane.buffer.has_ready() => (spare, None),
                spare => {
                    lane.in_ready = false;
                    (self.ready.pop_front()?, spare)
                }
            };
            self.refresh(&key, spare);
            return Some((key, item));
        }
    }

    /// Gives up on the missing head that has blocked its key the longest: moves that key's
    /// watermark up to its smallest held seq and returns the key and the skipped range.
    /// The key's held values are then ready.
    ///
    /// Returns `None` when no key waits for a missing head. A value for a skipped seq that
    /// arrives later is [`Late`](ReorderError::Late).
    #[must_use = "a skipped range is lost if ignored"]
    pub fn skip_oldest_gap(&mut self) -> Option<(K, Range<u64>)> {
        if self.unsettled {
            self.resettle();
        }
        // The key is cloned (for `ready`) before anything changes.
        let spare = self.blocked.first_key_value()?.1.clone();
        let (_, key) = self.blocked.pop_first()?;
        let lane = self.lanes.get_mut(&key)?;
        lane.blocked_since = None;
        let skipped = lane.buffer.skip_gap();
        self.refresh(&key, Some(spare));
        skipped.map(|range| (key, range))
    }

    /// Pops as if no more input will come: a ready value if there is one, otherwise a
    /// [`Missing`](ReorderError::Missing) error for the oldest blocked key's hole (whose
    /// held values are then ready).
    ///
    /// Calling it until it returns `None` empties the buffer; every hole is reported
    /// exactly once, in order among its key's values.
    #[must_use = "a popped value or a skipped range is lost if ignored"]
    pub fn pop_flush(&mut self) -> Option<(K, Result<T, ReorderError<T>>)> {
        if let Some(ready) = self.pop_ready() {
            return Some(ready);
        }
        let (key, skipped) = self.skip_oldest_gap()?;
        Some((key, Err(ReorderError::Missing(skipped))))
    }

    /// The key's watermark: every seq of `key` below it has been yielded or skipped, and it
    /// is the one the key waits for. [`first_seq`](Self::first_seq) for a key never seen.
    pub fn next_seq(&self, key: &K) -> u64 {
        self.lanes
            .get(key)
            .map_or(self.first, |lane| lane.buffer.next_seq())
    }

    /// How many values `key` holds.
    pub fn key_len(&self, key: &K) -> usize {
        self.lanes.get(key).map_or(0, |lane| lane.buffer.len())
    }

    /// Drops the state of a key that holds nothing, so that it costs no memory; its next
    /// arrival starts it afresh at [`first_seq`](Self::first_seq). Returns `false` (and
    /// changes nothing) while the key holds values.
    pub fn forget(&mut self, key: &K) -> bool {
        match self.lanes.get(key) {
            Some(lane) if !lane.buffer.is_empty() => false,
            Some(_) => {
                self.lanes.remove(key);
                true
            }
            None => true,
        }
    }

    /// Keeps the book of which keys are ready or blocked after `key` changed, and frees
    /// the storage of a key that drained. `spare`: a clone of `key` made beforehand, used
    /// instead of cloning it here. The key is cloned before its lane's flags change, so a
    /// panicking `clone` leaves the lane out of the book, flags and book agreeing, and
    /// `unsettled` set.
    fn refresh(&mut self, key: &K, mut spare: Option<K>) {
        let Some(lane) = self.lanes.get_mut(key) else {
            return;
        };
        self.unsettled = true;
        let ready = lane.buffer.has_ready();
        if ready && !lane.in_ready {
            self.ready
                .push_back(spare.take().unwrap_or_else(|| key.clone()));
            lane.in_ready = true;
        }
        let blocked = !ready && !lane.buffer.is_empty();
        match (blocked, lane.blocked_since) {
            (true, None) => {
                let since = self.ticks + 1;
                self.blocked
                    .insert(since, spare.take().unwrap_or_else(|| key.clone()));
                self.ticks = since;
                lane.blocked_since = Some(since);
            }
            (false, Some(since)) => {
                lane.blocked_since = None;
                self.blocked.remove(&since);
            }
            _ => {}
        }
        if lane.buffer.is_empty() {
            if lane.buffer.next_seq() == self.first && !lane.buffer.is_exhausted() {
                self.lanes.remove(key);
            } else {
                lane.buffer.release_if_empty();
            }
        }
        self.unsettled = false;
    }

    /// Puts every lane that is ready or blocked but missing from its book back in it
    /// (after a key's `clone` panicked in [`refresh`](Self::refresh)).
    #[cold]
    fn resettle(&mut self) {
        let keys: Vec<K> = self
            .lanes
            .iter()
            .filter(|(_, lane)| {
                let ready = lane.buffer.has_ready();
                (ready && !lane.in_ready)
                    || (!ready && !lane.buffer.is_empty() && lane.blocked_since.is_none())
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in keys {
            self.refresh(&key, None);
        }
        self.unsettled = false;
    }
}

impl<K, T> KeyedBuffer<K, T> {
    /// The sequence number every key expects first.
    pub fn first_seq(&self) -> u64 {
        self.first
    }

    /// How many values are held across all keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most values held at once, across all keys, since the buffer was made.
    pub fn peak_len(&self) -> usize {
        self.peak
    }

    /// How many keys have state: those holding values, plus drained keys that remember a
    /// watermark other than [`first_seq`](Self::first_seq).
    pub fn tracked_keys(&self) -> usize {
        self.lanes.len()
    }

    /// How many keys wait for a missing head while holding later values.
    pub fn blocked_keys(&self) -> usize {
        self.blocked.len()
    }
}

impl<T> Lane<T> {
    fn new(first: u64) -> Self {
        Self {
            buffer: ReorderBuffer::starting_at(first),
            in_ready: false,
            blocked_since: None,
        }
    }
}

// Held values and keys are never pinned: they are moved in and out by value.
impl<K, T> Unpin for KeyedBuffer<K, T> {}

impl<K, T> Default for KeyedBuffer<K, T>
where
    K: Hash + Eq + Clone,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K, T> fmt::Debug for KeyedBuffer<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedBuffer")
            .field("first_seq", &self.first)
            .field("len", &self.len)
            .field("peak_len", &self.peak)
            .field("tracked_keys", &self.lanes.len())
            .field("ready_keys", &self.ready.len())
            .field("blocked_keys", &self.blocked.len())
            .finish()
    }
}
