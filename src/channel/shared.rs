//! What the two halves of a channel share: the receiver's watermark, which admits the
//! senders (the window), the senders parked beyond it, and the give-up markers.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::{Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures_util::task::AtomicWaker;

use crate::give_up::GiveUps;

pub(super) struct Shared {
    /// The receiver's watermark as last published.
    watermark: AtomicU64,
    /// How far ahead of the watermark a send may go; `None`: no window.
    window: Option<u64>,
    closed: AtomicBool,
    /// How many senders are parked in `waiters`; lets the receiver skip the lock.
    parked: AtomicUsize,
    waiters: Mutex<Waiters>,
    /// The receiver, woken when a sender parks or gives seqs up: either can let it move.
    receiver: AtomicWaker,
    give_ups: Mutex<GiveUps>,
    /// Whether `give_ups` holds anything; lets the receiver skip the lock. Written only
    /// under that lock.
    has_give_ups: AtomicBool,
    /// The highest seq a `try_send` found beyond the window (0: none; a seq turned away
    /// is at least `watermark + window`, so never 0): a seq known to come, like a parked
    /// sender's, so open-ended stripes below it are reported. Stored as is, not "one
    /// past", so that `u64::MAX` is kept exactly.
    highest_attempt: AtomicU64,
    /// The receiver runs a head-of-line clock, which parked and turned-away senders start.
    receiver_has_timer: bool,
}

/// Senders waiting for the window to reach their seq, ordered by seq, so that the
/// receiver wakes exactly the ones it admits.
#[derive(Default)]
struct Waiters {
    by_seq: BTreeMap<(u64, u64), Waker>,
    next_id: u64,
}

/// A lock whose holder runs no user code: a panic elsewhere cannot leave it inconsistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(super) fn new(first_seq: u64, window: Option<u64>, receiver_has_timer: bool) -> Self {
        Self {
            watermark: AtomicU64::new(first_seq),
            window,
            closed: AtomicBool::new(false),
            parked: AtomicUsize::new(0),
            waiters: Mutex::new(Waiters::default()),
            receiver: AtomicWaker::new(),
            give_ups: Mutex::new(GiveUps::default()),
            has_give_ups: AtomicBool::new(false),
            highest_attempt: AtomicU64::new(0),
            receiver_has_timer,
        }
    }

    /// Records that a sender tried to send `seq` beyond the window, and tells the
    /// receiver if that can matter: it keeps give-ups (stripes below `seq` can be
    /// reported), or runs a head-of-line clock (a missing head now blocks something).
    pub(super) fn note_attempt(&self, seq: u64) {
        debug_assert!(
            seq > 0,
            "a seq turned away is beyond a window of at least 1"
        );
        let previous = self.highest_attempt.fetch_max(seq, SeqCst);
        if previous < seq && (self.receiver_has_timer || self.has_give_ups()) {
            self.receiver.wake();
        }
    }

    /// The highest seq a `try_send` found beyond the window.
    pub(super) fn highest_attempt(&self) -> Option<u64> {
        Some(self.highest_attempt.load(SeqCst)).filter(|&seq| seq != 0)
    }

    /// Whether any give-up marker is kept (no lock).
    pub(super) fn has_give_ups(&self) -> bool {
        self.has_give_ups.load(SeqCst)
    }

    pub(super) fn window(&self) -> Option<u64> {
        self.window
    }

    pub(super) fn watermark(&self) -> u64 {
        self.watermark.load(SeqCst)
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(SeqCst)
    }

    pub(super) fn admits(&self, seq: u64) -> bool {
        self.admits_at(seq, self.watermark())
    }

    fn admits_at(&self, seq: u64, watermark: u64) -> bool {
        // Late seqs are admitted too: the receiver hands them back as errors.
        self.window
            .is_none_or(|window| seq.saturating_sub(watermark) < window)
    }

    /// Publishes a new watermark; whether senders are parked, so that
    /// [`wake_admitted`](Self::wake_admitted) must follow. No call in it: the receiver's
    /// in-order fast path inlines it (and every other publication goes through it too).
    #[inline]
    pub(super) fn store_watermark(&self, watermark: u64) -> bool {
        if self.window.is_none() {
            // No window, so no sender ever parks: the watermark only informs
            // `Sender::next_seq`, and a plain release store (no full fence) will do.
            self.watermark.store(watermark, Release);
            return false;
        }
        // The store and the load below pair with a parking sender's increment of `parked`
        // and its re-check of the watermark (both `SeqCst`): one of the two sides sees
        // the other, so a sender never sleeps through the watermark that admits it.
        self.watermark.store(watermark, SeqCst);
        self.parked.load(SeqCst) != 0
    }

    /// Wakes the parked senders that `watermark` admits.
    #[inline(never)]
    pub(super) fn wake_admitted(&self, watermark: u64) {
        let mut admitted = Vec::new();
        {
            let mut waiters = lock(&self.waiters);
            while let Some(entry) = waiters.by_seq.first_entry() {
                if !self.admits_at(entry.key().0, watermark) {
                    break;
                }
                admitted.push(entry.remove());
                self.parked.fetch_sub(1, SeqCst);
            }
        }
        // Wake after unlocking, so the woken senders do not meet the lock held.
        admitted.into_iter().for_each(Waker::wake);
    }

    /// The smallest and the largest seq a parked sender waits to send.
    pub(super) fn parked_range(&self) -> Option<(u64, u64)> {
        if self.parked.load(SeqCst) == 0 {
            return None;
        }
        let waiters = lock(&self.waiters);
        let (first, _) = waiters.by_seq.first_key_value()?;
        let (last, _) = waiters.by_seq.last_key_value()?;
        Some((first.0, last.0))
    }

    pub(super) fn close(&self) {
        self.closed.store(true, SeqCst);
        let woken = std::mem::take(&mut lock(&self.waiters).by_seq);
        self.parked.fetch_sub(woken.len(), SeqCst);
        woken.into_values().for_each(Waker::wake);
    }

    /// Records a give-up (unless every seq in it has passed) and wakes the receiver.
    pub(super) fn give_up(&self, last: u64, mark: impl FnOnce(&mut GiveUps)) {
        if last < self.watermark() {
            return;
        }
        {
            let mut give_ups = lock(&self.give_ups);
            mark(&mut give_ups);
            self.has_give_ups.store(true, SeqCst);
        }
        self.receiver.wake();
    }

    /// The give-up markers, for the receiver; `None` (without locking) when there are none.
    pub(super) fn give_ups(&self) -> Option<GiveUpsGuard<'_>> {
        if !self.has_give_ups() {
            return None;
        }
        Some(GiveUpsGuard {
            markers: lock(&self.give_ups),
            flag: &self.has_give_ups,
        })
    }

    /// Registers the receiver for the wake-ups of parking senders and give-ups.
    pub(super) fn register_receiver(&self, waker: &Waker) {
        self.receiver.register(waker);
    }
}

/// The locked give-up markers; clears the "has markers" flag if they end up empty.
pub(super) struct GiveUpsGuard<'a> {
    markers: MutexGuard<'a, GiveUps>,
    flag: &'a AtomicBool,
}

impl std::ops::Deref for GiveUpsGuard<'_> {
    type Target = GiveUps;
    fn deref(&self) -> &GiveUps {
        &self.markers
    }
}

impl std::ops::DerefMut for GiveUpsGuard<'_> {
    fn deref_mut(&mut self) -> &mut GiveUps {
        &mut self.markers
    }
}

impl Drop for GiveUpsGuard<'_> {
    fn drop(&mut self) {
        if self.markers.is_empty() {
            self.flag.store(false, SeqCst);
        }
    }
}

/// Waits until the receiver's window admits `seq` (`true`) or the receiver is gone
/// (`false`).
pub(super) struct Admit<'a> {
    shared: &'a Shared,
    seq: u64,
    /// Our place in `waiters`, while registered.
    key: Option<(u64, u64)>,
}

impl<'a> Admit<'a> {
    pub(super) fn new(shared: &'a Shared, seq: u64) -> Self {
        Self {
            shared,
            seq,
            key: None,
        }
    }

    fn ready(&self) -> Option<bool> {
        if self.shared.is_closed() {
            Some(false)
        } else if self.shared.admits(self.seq) {
            Some(true)
        } else {
            None
        }
    }

    fn deregister(&mut self) {
        if let Some(key) = self.key.take() {
            // The guard is gone at the end of this statement; the waker after it.
            let removed = lock(&self.shared.waiters).by_seq.remove(&key);
            if removed.is_some() {
                self.shared.parked.fetch_sub(1, SeqCst);
            }
        }
    }
}

impl Future for Admit<'_> {
    type Output = bool;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        if let Some(ready) = self.ready() {
            self.deregister();
            return Poll::Ready(ready);
        }
        let shared = self.shared;
        let mut parked_now = false;
        // A waker replaced here is dropped after the lock is released: dropping a waker
        // can run arbitrary code (its task's last reference may own a sender).
        let _replaced = {
            let mut waiters = lock(&shared.waiters);
            let key = match self.key {
                Some(key) => key,
                None => {
                    let key = (self.seq, waiters.next_id);
                    waiters.next_id += 1;
                    key
                }
            };
            self.key = Some(key);
            match waiters.by_seq.get_mut(&key) {
                Some(waker) if waker.will_wake(cx.waker()) => None,
                Some(waker) => Some(std::mem::replace(waker, cx.waker().clone())),
                None => {
                    waiters.by_seq.insert(key, cx.waker().clone());
                    shared.parked.fetch_add(1, SeqCst);
                    parked_now = true;
                    None
                }
            }
        };
        // A parked sender is a seq known to come: the receiver may now report the
        // give-ups below it, or start its head-of-line clock. (Give-ups that come later
        // wake the receiver themselves, and it finds this sender registered.)
        if parked_now && (shared.receiver_has_timer || shared.has_give_ups()) {
            shared.receiver.wake();
        }
        // Re-check after registering: the receiver may have moved in between.
        if let Some(ready) = self.ready() {
            self.deregister();
            return Poll::Ready(ready);
        }
        Poll::Pending
    }
}

impl Drop for Admit<'_> {
    fn drop(&mut self) {
        self.deregister();
    }
}
