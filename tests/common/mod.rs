//! Helpers shared by the integration tests: timeouts, drop guards, panic plumbing.

// Each test crate uses its own subset.
#![allow(dead_code)]

use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Once};
use std::time::Duration;

use reorder::TaskError;

/// Fails the test instead of hanging it. Under paused time the runtime auto-advances to
/// this deadline as soon as everything is idle, so a lost wake-up fails at once.
pub async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("test timed out: something hangs")
}

/// Under paused time: returns once every task that can make progress has run, because
/// the clock only auto-advances when the runtime is idle.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// Waits (boundedly) for `cond`; aborts and drops are processed by the runtime
/// asynchronously, possibly on another worker.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..5_000 {
        if cond() {
            return;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("never happened: {what}");
}

#[derive(Clone, Default)]
pub struct Counter(pub Arc<AtomicUsize>);

impl Counter {
    pub fn get(&self) -> usize {
        self.0.load(SeqCst)
    }

    pub fn incr(&self) -> usize {
        self.0.fetch_add(1, SeqCst) + 1
    }

    pub fn decr(&self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// Counts its own drop: held inside a task's future, it proves the future is gone.
pub struct DropGuard(pub Counter);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.incr();
    }
}

/// Tracks tasks running at once and the most ever seen.
#[derive(Clone, Default)]
pub struct Gauge {
    running: Counter,
    max: Arc<AtomicUsize>,
}

impl Gauge {
    pub fn enter(&self) {
        let now = self.running.incr();
        self.max.fetch_max(now, SeqCst);
    }

    pub fn exit(&self) {
        self.running.decr();
    }

    pub fn max(&self) -> usize {
        self.max.load(SeqCst)
    }
}

pub fn ok_values<T: std::fmt::Debug>(results: Vec<Result<T, TaskError>>) -> Vec<T> {
    results.into_iter().map(Result::unwrap).collect()
}

thread_local! {
    /// `Some` while `panic_location` is waiting for a panic on this thread.
    static CAPTURE: RefCell<Option<Option<(String, u32)>>> = const { RefCell::new(None) };
}

/// Runs `f`, which must panic, and returns the file and line the panic reports. A hook
/// installed once forwards every other panic (other threads, other tests) unchanged.
pub fn panic_location(f: impl FnOnce()) -> (String, u32) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let captured = CAPTURE.with(|c| match c.borrow_mut().as_mut() {
                Some(slot) => {
                    *slot = info.location().map(|l| (l.file().to_owned(), l.line()));
                    true
                }
                None => false,
            });
            if !captured {
                previous(info);
            }
        }));
    });
    CAPTURE.with(|c| *c.borrow_mut() = Some(None));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    let location = CAPTURE.with(|c| c.borrow_mut().take()).flatten();
    assert!(result.is_err(), "expected a panic");
    location.expect("the panic hook saw the panic")
}

/// Keeps the test output readable: injected panics (message starting with "injected:")
/// are not printed; every other panic is.
pub fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied());
            if !msg.is_some_and(|m| m.starts_with("injected:")) {
                default(info);
            }
        }));
    });
}

/// A current-thread runtime with timers, its clock paused if `paused`.
pub fn current_thread(paused: bool) -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_time();
    if paused {
        builder.start_paused(true);
    }
    builder.build().unwrap()
}

/// Runs `f` on its own thread and fails (instead of hanging) if it has not returned
/// within 10 s: a poll that never returns, or a deadlock, cannot be cancelled by a tokio
/// timeout.
pub fn on_a_thread_within_10s<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(f()).unwrap());
    result
        .recv_timeout(Duration::from_secs(10))
        .expect("hung: a call never returned (a poll that never returns, or a deadlock)")
}
