//! The head-of-line clock shared by [`Reorder`](crate::Reorder) and the channel's
//! [`Receiver`](crate::Receiver): how long a missing head has blocked what waits behind it.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use tokio::runtime::{Handle, Id};
use tokio::time::{Instant, Sleep};

/// How many arrivals, after the head-of-line clock has fired, the head may still be
/// looked for among before it is skipped.
pub(crate) const GRACE_ARRIVALS: u32 = 128;

/// The head-of-line timer and the watermark it was armed for. The `Sleep` is made on
/// first use, so building the owner needs no runtime.
///
/// Once fired, it stays fired for the same head (until the head moves or nothing is
/// blocked any more): the owner first takes in what has already arrived, since the head
/// may be among it, and skips the head only when the input has nothing more for now, or
/// after [`GRACE_ARRIVALS`] arrivals since the deadline (so that an input that is
/// always ready cannot keep the head waiting).
pub(crate) struct HeadTimer {
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    /// The runtime whose timer `sleep` is registered with: a sleep of a runtime that has
    /// shut down panics when polled, so another runtime gets a sleep of its own.
    runtime: Option<Id>,
    armed: Option<Armed>,
}

/// The clock for one blocked head.
struct Armed {
    head: u64,
    /// When it fires; `None`: never (the timeout is too long to be represented, as with
    /// tokio's own `sleep`).
    deadline: Option<Instant>,
    fired: bool,
    /// Arrivals taken in since it fired.
    arrivals_since: u32,
}

impl HeadTimer {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            sleep: None,
            runtime: None,
            armed: None,
        }
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Stops the clock: nothing waits behind the head.
    pub(crate) fn disarm(&mut self) {
        self.armed = None;
    }

    /// Counts an arrival taken in after the clock fired.
    #[inline]
    pub(crate) fn note_arrival(&mut self) {
        if let Some(armed) = self.armed.as_mut().filter(|a| a.fired) {
            armed.arrivals_since = armed.arrivals_since.saturating_add(1);
        }
    }

    /// Whether the clock fired and [`GRACE_ARRIVALS`] arrivals have been taken in since
    /// without the head among them: skip it now.
    #[inline]
    pub(crate) fn overdue(&self) -> bool {
        self.armed
            .as_ref()
            .is_some_and(|a| a.fired && a.arrivals_since >= GRACE_ARRIVALS)
    }

    /// Whether `blocked_head` — the watermark, while something waits behind it — has
    /// been missing for longer than the timeout. The clock restarts whenever the blocked
    /// head changes and stops while nothing is blocked. Registers for a wake-up otherwise.
    ///
    /// # Panics
    ///
    /// Panics outside a tokio runtime, or on one without time enabled, like tokio's
    /// `sleep`.
    #[track_caller]
    pub(crate) fn poll_expired(&mut self, blocked_head: Option<u64>, cx: &mut Context<'_>) -> bool {
        let Some(head) = blocked_head else {
            self.disarm();
            return false;
        };
        let rearmed = match self.armed.as_ref() {
            Some(armed) if armed.head == head => {
                if armed.fired {
                    return true;
                }
                false
            }
            _ => {
                self.armed = Some(Armed {
                    head,
                    deadline: Instant::now().checked_add(self.timeout),
                    fired: false,
                    arrivals_since: 0,
                });
                true
            }
        };
        let Some(deadline) = self.armed.as_ref().and_then(|a| a.deadline) else {
            return false;
        };
        // The clock itself, not only the sleep: a task that never returns `Pending` (its
        // input always ready) never lets the runtime's timer fire the sleep.
        if Instant::now() >= deadline {
            if let Some(armed) = self.armed.as_mut() {
                armed.fired = true;
            }
            return true;
        }
        let runtime = Handle::current().id();
        match self.sleep.as_mut() {
            Some(sleep) if self.runtime == Some(runtime) => {
                if rearmed {
                    sleep.as_mut().reset(deadline);
                }
            }
            _ => {
                self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline)));
                self.runtime = Some(runtime);
            }
        }
        let fired = self
            .sleep
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
        if let Some(armed) = self.armed.as_mut().filter(|_| fired) {
            armed.fired = true;
        }
        fired
    }
}
