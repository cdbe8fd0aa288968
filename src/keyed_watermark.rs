//! One commit watermark per key (partition), each the pure [`Watermark`] core.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

use crate::error::WatermarkError;
use crate::watermark::Watermark;

/// A [`Watermark`] per key — per partition, for a consumer of a partitioned log.
///
/// Keys are independent: registering, completing or failing under one key never moves
/// another key's watermark. A key appears on its first [`register`](Self::register)
/// (starting at base 0) or explicitly with [`assign`](Self::assign) at the offset it
/// resumes from. When a partition is revoked, [`revoke`](Self::revoke) drops its tracker
/// (handing it back, with whatever was in flight); reassigning it later starts afresh at
/// the new base.
///
/// Costs are those of [`Watermark`] plus one hash lookup per call; memory is one tracker
/// per key held.
///
/// # Examples
///
/// ```
/// use reorder::KeyedWatermark;
///
/// let mut partitions = KeyedWatermark::new();
/// partitions.assign("p0", 100); // resume partition p0 at its committed offset
/// partitions.register("p0", 100).unwrap();
/// partitions.register("p0", 104).unwrap();
/// partitions.register("p1", 7).unwrap();
/// partitions.complete(&"p0", 104).unwrap();
/// partitions.complete(&"p1", 7).unwrap();
/// assert_eq!(partitions.get(&"p0"), Some(100)); // 100 still in flight
/// assert_eq!(partitions.get(&"p1"), Some(8)); // p1 is not held back by p0
///
/// let revoked = partitions.revoke(&"p0").unwrap();
/// assert_eq!(revoked.in_flight(), 1);
/// assert_eq!(partitions.get(&"p0"), None);
/// ```
pub struct KeyedWatermark<K> {
    keys: HashMap<K, Watermark>,
}

impl<K: Hash + Eq> KeyedWatermark<K> {
    /// No keys yet.
    pub fn new() -> Self {
        Self {
            keys: HashMap::new(),
        }
    }

    /// Starts tracking `key` at `base` (its committed offset), replacing any tracker it
    /// had; returns the replaced one.
    pub fn assign(&mut self, key: K, base: u64) -> Option<Watermark> {
        self.keys.insert(key, Watermark::with_base(base))
    }

    /// Stops tracking `key` (its partition was revoked) and hands its tracker back.
    pub fn revoke(&mut self, key: &K) -> Option<Watermark> {
        self.keys.remove(key)
    }

    /// Resets `key`'s tracker to a new base, as [`Watermark::reset`]; adds the key if it
    /// was not tracked.
    pub fn reset(&mut self, key: K, base: u64) {
        self.keys
            .entry(key)
            .and_modify(|wm| wm.reset(base))
            .or_insert_with(|| Watermark::with_base(base));
    }

    /// Registers `seq` under `key`, adding the key at base 0 if it is new.
    ///
    /// # Errors
    ///
    /// As [`Watermark::register`].
    pub fn register(&mut self, key: K, seq: u64) -> Result<(), WatermarkError> {
        self.keys.entry(key).or_default().register(seq)
    }

    /// Completes `seq` under `key`.
    ///
    /// # Errors
    ///
    /// As [`Watermark::complete`]; [`WatermarkError::Unknown`] if the key is not tracked.
    pub fn complete(&mut self, key: &K, seq: u64) -> Result<(), WatermarkError> {
        self.tracker(key, seq)?.complete(seq)
    }

    /// Fails `seq` under `key`.
    ///
    /// # Errors
    ///
    /// As [`Watermark::fail`]; [`WatermarkError::Unknown`] if the key is not tracked.
    pub fn fail(&mut self, key: &K, seq: u64) -> Result<(), WatermarkError> {
        self.tracker(key, seq)?.fail(seq)
    }

    /// Retries a failed `seq` under `key`, in place.
    ///
    /// # Errors
    ///
    /// As [`Watermark::retry`]; [`WatermarkError::Unknown`] if the key is not tracked.
    pub fn retry(&mut self, key: &K, seq: u64) -> Result<(), WatermarkError> {
        self.tracker(key, seq)?.retry(seq)
    }

    /// `key`'s watermark (the offset to commit), if the key is tracked.
    pub fn get(&self, key: &K) -> Option<u64> {
        self.keys.get(key).map(Watermark::get)
    }

    /// `key`'s tracker, if the key is tracked.
    pub fn watermark(&self, key: &K) -> Option<&Watermark> {
        self.keys.get(key)
    }

    /// Every tracked key with its watermark, in no particular order: what to commit.
    pub fn iter(&self) -> impl Iterator<Item = (&K, u64)> + '_ {
        self.keys.iter().map(|(key, wm)| (key, wm.get()))
    }

    /// Keys tracked.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn tracker(&mut self, key: &K, seq: u64) -> Result<&mut Watermark, WatermarkError> {
        self.keys.get_mut(key).ok_or(WatermarkError::Unknown(seq))
    }
}

impl<K: Hash + Eq> Default for KeyedWatermark<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: fmt::Debug> fmt::Debug for KeyedWatermark<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.keys.iter()).finish()
    }
}
