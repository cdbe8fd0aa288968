//! The head-of-line clock shared by [`Reorder`](crate::Reorder) and the channel's
//! [`Receiver`](crate::Receiver): how long a missing head has blocked what waits behind it.

use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use tokio::runtime::{Handle, Id};
use tokio::time::{Instant, Sleep};

/// The head-of-line timer and the watermark it was armed for. The `Sleep` is made on
/// first use, so building the owner needs no runtime.
pub(crate) struct HeadTimer {
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    /// The runtime whose timer `sleep` is registered with: a sleep of a runtime that has
    /// shut down panics when polled, so another runtime gets a sleep of its own.
    runtime: Option<Id>,
    /// The head the clock runs for, and when it fires (`None`: never, the timeout is too
    /// long to be represented, as with tokio's own `sleep`).
    armed: Option<(u64, Option<Instant>)>,
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
        let (deadline, rearmed) = match self.armed {
            Some((armed_for, deadline)) if armed_for == head => (deadline, false),
            _ => {
                let deadline = Instant::now().checked_add(self.timeout);
                self.armed = Some((head, deadline));
                (deadline, true)
            }
        };
        let Some(deadline) = deadline else {
            return false;
        };
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
        if fired {
            self.disarm();
        }
        fired
    }
}
