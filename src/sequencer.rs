//! Turn-taking: concurrent tasks run one middle section strictly in order.
//!
//! This is the first approach of SuperFastPython's tutorial "How to Order Parallel Tasks in
//! Python" (<https://superfastpython.com/order-parallel-tasks>): a shared counter plus a
//! condition variable, where each task waits for its turn, runs its ordered part, bumps the
//! counter and notifies everyone. Three things are fixed here:
//!
//! * **Only the next ticket is woken.** A condition variable with `notify_all` wakes every
//!   waiter on every turn, so `n` turns cost O(n²) wake-ups. Here each waiter is registered
//!   under its own seq and passing the turn wakes exactly the one whose turn it now is.
//! * **Liveness.** A ticket that is dropped before its turn (its task was cancelled, panicked
//!   or chose to skip) gives its turn up; a panic inside the ordered section passes the turn
//!   on; a cancelled [`Wait`] gives its turn up too. No later ticket is ever stranded.
//! * **Async and threads together.** The same tickets can be waited on with `.await` or with
//!   a blocking call from a `std::thread`, mixed freely.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Hands out [`Ticket`]s in order and lets their holders take turns, one at a time, in
/// ticket order.
///
/// Each task takes a ticket up front (in the order the ordered sections must run), does its
/// concurrent work, then waits for its turn with [`Ticket::wait`] (async) or
/// [`Ticket::wait_blocking`] (threads). The returned [`Turn`] is a guard: while it is alive
/// no other ticket's turn runs; dropping it (or calling [`Turn::done`]) passes the turn to the
/// next ticket still in play.
///
/// The turn passes over tickets that were given up: a [`Ticket`] (or its [`Wait`] future)
/// dropped before its turn never blocks the tickets after it. Passing the turn wakes only
/// the waiter whose turn it now is, so `n` turns cost O(n) wake-ups, not the O(n²) of a
/// condition variable with `notify_all`.
///
/// `Sequencer` is a cheap handle (an [`Arc`] inside): clone it to move it into tasks. All
/// clones share the same tickets and turns.
///
/// Seqs run from the start value (0 by default, see [`Sequencer::starting_at`]) up to
/// `u64::MAX - 1`. The value `u64::MAX` is never issued, so that [`current`] can always name
/// the watermark; once every seq below it has been issued the sequencer is exhausted and
/// [`ticket`] panics ([`try_ticket`] returns `None`). At one ticket per nanosecond that takes
/// over 500 years from 0.
///
/// [`current`]: Sequencer::current
/// [`ticket`]: Sequencer::ticket
/// [`try_ticket`]: Sequencer::try_ticket
///
/// # Examples
///
/// Tasks finish their concurrent work in any order, but their ordered sections run in
/// ticket order:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use reorder::Sequencer;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let sequencer = Sequencer::new();
/// let log = Arc::new(Mutex::new(Vec::new()));
///
/// let mut handles = Vec::new();
/// for i in 0..5u64 {
///     let ticket = sequencer.ticket(); // seq 0, 1, 2, … in this loop's order
///     let log = log.clone();
///     handles.push(tokio::spawn(async move {
///         // Concurrent part: later tasks finish first.
///         tokio::time::sleep(Duration::from_millis(50 - 10 * i)).await;
///         let turn = ticket.wait().await;
///         // Ordered part: runs strictly in ticket order.
///         log.lock().unwrap().push(turn.seq());
///         // Dropping `turn` passes the turn on.
///     }));
/// }
/// for handle in handles {
///     handle.await.unwrap();
/// }
/// assert_eq!(*log.lock().unwrap(), [0, 1, 2, 3, 4]);
/// assert_eq!(sequencer.current(), 5);
/// # }
/// ```
#[derive(Clone)]
pub struct Sequencer {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
}

struct State {
    /// Seq whose turn it is; every seq below has finished its turn or given it up.
    current: u64,
    /// Seq the next ticket gets; `u64::MAX` once exhausted.
    next: u64,
    /// Seq of the first ticket, so `issued` can be counted.
    first: u64,
    /// Seqs above `current` whose tickets were dropped before their turn.
    given_up: BTreeSet<u64>,
    /// Waiters parked until their turn, by seq: exactly one is woken per turn.
    waiters: HashMap<u64, Waker>,
    /// Number of turns that ended in a panic.
    panicked: u64,
    /// The latest such turn.
    last_panicked: Option<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under this lock, and `release` must work while a thread is
        // unwinding, so a poisoned lock still holds consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends ticket `seq`: its turn if the turn is here, otherwise gives the turn up.
    fn release(&self, seq: u64) {
        let waker = {
            let mut state = self.lock();
            if seq == state.current {
                // `seq < u64::MAX` (never issued), and the given-up seqs are issued ones, so
                // `current` stays representable.
                state.current += 1;
                while state.given_up.first() == Some(&state.current) {
                    state.given_up.pop_first();
                    state.current += 1;
                }
                let current = state.current;
                (state.waiters.remove(&current), None)
            } else {
                debug_assert!(seq > state.current, "ticket {seq} released twice");
                state.given_up.insert(seq);
                (None, state.waiters.remove(&seq))
            }
        };
        // Wake and drop outside the lock: the woken task can take it at once, and a
        // waker's drop may run code that takes it (its task's last reference may own a
        // ticket).
        let (woken, dropped) = waker;
        if let Some(waker) = woken {
            waker.wake();
        }
        drop(dropped);
    }
}

impl Sequencer {
    /// Creates a sequencer whose first ticket is seq 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::Sequencer;
    ///
    /// let sequencer = Sequencer::new();
    /// assert_eq!(sequencer.ticket().seq(), 0);
    /// assert_eq!(sequencer.ticket().seq(), 1);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::starting_at(0)
    }

    /// Creates a sequencer whose first ticket is seq `first`; the turn starts there.
    ///
    /// Useful to resume a numbering, e.g. after a restart at record 1,000. Starting at
    /// `u64::MAX` gives a sequencer that is already exhausted.
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::Sequencer;
    ///
    /// let sequencer = Sequencer::starting_at(1_000);
    /// assert_eq!(sequencer.current(), 1_000);
    /// let ticket = sequencer.ticket();
    /// assert_eq!(ticket.seq(), 1_000);
    /// assert!(ticket.try_turn().is_ok());
    /// ```
    #[must_use]
    pub fn starting_at(first: u64) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    current: first,
                    next: first,
                    first,
                    given_up: BTreeSet::new(),
                    waiters: HashMap::new(),
                    panicked: 0,
                    last_panicked: None,
                }),
            }),
        }
    }

    /// Issues the next ticket: seqs are handed out in call order, one apart.
    ///
    /// Take tickets in the order the ordered sections must run (typically in the loop that
    /// spawns the tasks), then move each ticket into its task.
    ///
    /// # Panics
    ///
    /// Panics if the sequencer is exhausted (every seq below `u64::MAX` has been issued); see
    /// [`try_ticket`](Sequencer::try_ticket) for a version that returns `None` instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::Sequencer;
    ///
    /// let sequencer = Sequencer::new();
    /// let a = sequencer.ticket();
    /// let b = sequencer.clone().ticket(); // clones share the numbering
    /// assert_eq!((a.seq(), b.seq()), (0, 1));
    /// ```
    #[track_caller]
    pub fn ticket(&self) -> Ticket {
        match self.try_ticket() {
            Some(ticket) => ticket,
            None => panic!("Sequencer exhausted: every seq below u64::MAX has been issued"),
        }
    }

    /// Issues the next ticket, or returns `None` if the sequencer is exhausted.
    ///
    /// The last seq issued is `u64::MAX - 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::Sequencer;
    ///
    /// let sequencer = Sequencer::starting_at(u64::MAX - 1);
    /// assert_eq!(sequencer.try_ticket().map(|t| t.seq()), Some(u64::MAX - 1));
    /// assert!(sequencer.try_ticket().is_none());
    /// ```
    pub fn try_ticket(&self) -> Option<Ticket> {
        let seq = {
            let mut state = self.shared.lock();
            if state.next == u64::MAX {
                return None;
            }
            state.next += 1;
            state.next - 1
        };
        Some(Ticket {
            shared: self.shared.clone(),
            seq,
        })
    }

    /// Returns the seq whose turn it is: the watermark.
    ///
    /// Every ticket below it has finished its turn or given it up. If that ticket holds its
    /// [`Turn`] now, its section is running; if it has not been issued yet, the next ticket
    /// issued gets its turn at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::Sequencer;
    ///
    /// let sequencer = Sequencer::new();
    /// let (t0, t1, t2) = (sequencer.ticket(), sequencer.ticket(), sequencer.ticket());
    /// drop(t1); // given up: skipped when the turn reaches it
    /// assert_eq!(sequencer.current(), 0);
    /// drop(t0.try_turn().unwrap());
    /// assert_eq!(sequencer.current(), 2);
    /// # drop(t2);
    /// ```
    #[must_use]
    pub fn current(&self) -> u64 {
        self.shared.lock().current
    }

    /// Returns how many tickets are parked in a wait (async or blocking) for a turn that has
    /// not come yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::Sequencer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sequencer = Sequencer::new();
    /// let first = sequencer.ticket();
    /// let second = sequencer.ticket();
    /// let task = tokio::spawn(async move { second.wait().await.seq() });
    /// tokio::task::yield_now().await; // let the task park
    /// assert_eq!(sequencer.waiting(), 1);
    /// drop(first);
    /// assert_eq!(task.await.unwrap(), 1);
    /// assert_eq!(sequencer.waiting(), 0);
    /// # }
    /// ```
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.shared.lock().waiters.len()
    }

    /// Returns how many tickets have been issued.
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::Sequencer;
    ///
    /// let sequencer = Sequencer::starting_at(10);
    /// let _tickets = [sequencer.ticket(), sequencer.ticket()];
    /// assert_eq!(sequencer.issued(), 2);
    /// ```
    #[must_use]
    pub fn issued(&self) -> u64 {
        let state = self.shared.lock();
        state.next - state.first
    }

    /// Returns the seq of the latest turn whose holder panicked while holding its [`Turn`],
    /// if any did.
    ///
    /// A panic in an ordered section passes the turn on like a normal end. Later turns are
    /// not poisoned and are not told: they run as usual. This (and
    /// [`panicked_turns`](Sequencer::panicked_turns)) is where the fact is recorded, for
    /// whoever wants to check. A task that panics *before* its turn just gives its turn up
    /// (its [`Ticket`] is dropped) and is not counted here.
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::Sequencer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let sequencer = Sequencer::new();
    /// let ticket = sequencer.ticket();
    /// let task = tokio::spawn(async move {
    ///     let _turn = ticket.wait().await;
    ///     panic!("ordered section failed");
    /// });
    /// assert!(task.await.is_err());
    /// assert_eq!(sequencer.last_panicked(), Some(0));
    /// assert_eq!(sequencer.panicked_turns(), 1);
    /// // The turn moved on regardless.
    /// assert!(sequencer.ticket().try_turn().is_ok());
    /// # }
    /// ```
    #[must_use]
    pub fn last_panicked(&self) -> Option<u64> {
        self.shared.lock().last_panicked
    }

    /// Returns how many turns ended with their holder panicking.
    ///
    /// See [`last_panicked`](Sequencer::last_panicked).
    #[must_use]
    pub fn panicked_turns(&self) -> u64 {
        self.shared.lock().panicked
    }
}

impl Default for Sequencer {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Sequencer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Sequencer")
            .field("current", &state.current)
            .field("next_ticket", &state.next)
            .field("waiting", &state.waiters.len())
            .field("given_up", &state.given_up.len())
            .field("panicked_turns", &state.panicked)
            .finish()
    }
}

/// A place in a [`Sequencer`]'s order, issued by [`Sequencer::ticket`].
///
/// Redeem it for a [`Turn`] with [`wait`](Ticket::wait) (async),
/// [`wait_blocking`](Ticket::wait_blocking) (threads) or [`try_turn`](Ticket::try_turn)
/// (no waiting). A ticket is owned, `Send` and `Sync`, so it can be moved into a spawned task
/// or thread.
///
/// Dropping a ticket before its turn gives the turn up: when the turn reaches its seq it
/// passes straight on. This is what happens when the task holding it is cancelled, panics,
/// or decides to skip its ordered section; no later ticket waits for it.
#[must_use = "dropping a ticket gives its turn up"]
pub struct Ticket {
    shared: Arc<Shared>,
    seq: u64,
}

impl Ticket {
    /// Returns this ticket's seq: its place in the order.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Waits until every earlier ticket has finished its turn or given it up, then returns
    /// this ticket's [`Turn`].
    ///
    /// The returned [`Wait`] future is registered under this ticket's seq; it is woken once,
    /// when the turn reaches it, not on every turn before.
    ///
    /// # Cancel safety
    ///
    /// The ticket is consumed: dropping the [`Wait`] before it completes gives the turn up,
    /// exactly like dropping the ticket. That holds even if the turn had already arrived (the
    /// future was woken but not polled again): the turn then passes on at the drop. So
    /// `tokio::time::timeout(d, ticket.wait())` that times out, or a losing
    /// `tokio::select!` branch, skips this ticket's section and never strands later tickets.
    ///
    /// To keep the place across `select!` iterations, keep the future and poll it by
    /// reference (`&mut wait`; [`Wait`] is `Unpin`): polling it again loses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use reorder::Sequencer;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let sequencer = Sequencer::new();
    /// let slow = sequencer.ticket();
    /// let impatient = sequencer.ticket();
    /// let last = sequencer.ticket();
    ///
    /// // `impatient` gives up after 1 s; its turn is skipped.
    /// let timed_out = tokio::time::timeout(Duration::from_secs(1), impatient.wait()).await;
    /// assert!(timed_out.is_err());
    ///
    /// drop(slow.wait().await);
    /// let turn = last.wait().await; // not stranded
    /// assert_eq!(turn.seq(), 2);
    /// # }
    /// ```
    pub fn wait(self) -> Wait {
        Wait { ticket: Some(self) }
    }

    /// Blocks the current thread until every earlier ticket has finished its turn or given
    /// it up, then returns this ticket's [`Turn`].
    ///
    /// For `std::thread` (and [`spawn_blocking`]) users. Same tickets, same guarantees as
    /// [`wait`](Ticket::wait): tickets waited on from threads and from async tasks mix
    /// freely. The thread is parked and unparked exactly once, when its turn arrives.
    ///
    /// [`spawn_blocking`]: https://docs.rs/tokio/latest/tokio/task/fn.spawn_blocking.html
    ///
    /// # Panics
    ///
    /// Panics if called on a thread that is driving an async runtime (inside a task or
    /// `block_on`), where blocking would stall every task on that thread, possibly the
    /// one holding the turn. Same rule and message as tokio's own `blocking_*` methods;
    /// inside `spawn_blocking` it is fine.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::thread;
    /// use reorder::Sequencer;
    ///
    /// let sequencer = Sequencer::new();
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// let tickets: Vec<_> = (0..4).map(|_| sequencer.ticket()).collect();
    /// let threads: Vec<_> = tickets
    ///     .into_iter()
    ///     .rev() // start the threads in reverse order
    ///     .map(|ticket| {
    ///         let log = log.clone();
    ///         thread::spawn(move || {
    ///             let turn = ticket.wait_blocking();
    ///             log.lock().unwrap().push(turn.seq());
    ///         })
    ///     })
    ///     .collect();
    /// for thread in threads {
    ///     thread.join().unwrap();
    /// }
    /// assert_eq!(*log.lock().unwrap(), [0, 1, 2, 3]);
    /// ```
    #[track_caller]
    pub fn wait_blocking(self) -> Turn {
        assert_blocking_allowed();
        let ticket = match self.try_turn() {
            Ok(turn) => return turn,
            Err(ticket) => ticket,
        };
        let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut wait = ticket.wait();
        loop {
            match Pin::new(&mut wait).poll(&mut cx) {
                Poll::Ready(turn) => return turn,
                // Spurious unparks just poll again.
                Poll::Pending => thread::park(),
            }
        }
    }

    /// Returns this ticket's [`Turn`] if it is its turn now, or hands the ticket back.
    ///
    /// Never waits and never registers a waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use reorder::Sequencer;
    ///
    /// let sequencer = Sequencer::new();
    /// let first = sequencer.ticket();
    /// let second = sequencer.ticket();
    /// let second = second.try_turn().unwrap_err(); // not yet: handed back
    /// let turn = first.try_turn().unwrap();
    /// turn.done();
    /// assert_eq!(second.try_turn().unwrap().seq(), 1);
    /// ```
    pub fn try_turn(self) -> Result<Turn, Ticket> {
        if self.shared.lock().current == self.seq {
            Ok(Turn { ticket: self })
        } else {
            Err(self)
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // A ticket is dropped exactly once: given up before its turn, or at the end of the
        // `Turn` that owns it. Both cases are one `release`.
        self.shared.release(self.seq);
    }
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket").field("seq", &self.seq).finish()
    }
}

/// Future for the [`wait`](Ticket::wait) method: resolves to the ticket's [`Turn`].
///
/// Dropping it before it completes gives the turn up; see the cancel-safety notes on
/// [`Ticket::wait`].
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct Wait {
    /// `None` once the turn has been handed out.
    ticket: Option<Ticket>,
}

impl Future for Wait {
    type Output = Turn;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Turn> {
        let ticket = self
            .ticket
            .as_ref()
            .expect("`Wait` polled after completion");
        {
            let mut state = ticket.shared.lock();
            if state.current != ticket.seq {
                // A replaced waker is dropped after the lock is released: its drop may
                // run code that takes the lock.
                let replaced = match state.waiters.entry(ticket.seq) {
                    Entry::Occupied(mut entry) if !entry.get().will_wake(cx.waker()) => {
                        Some(entry.insert(cx.waker().clone()))
                    }
                    Entry::Occupied(_) => None,
                    Entry::Vacant(entry) => {
                        entry.insert(cx.waker().clone());
                        None
                    }
                };
                drop(state);
                drop(replaced);
                return Poll::Pending;
            }
            // Whoever moved the turn here removed our waker when waking it.
        }
        Poll::Ready(Turn {
            ticket: self.ticket.take().expect("checked above"),
        })
    }
}

impl fmt::Debug for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Wait");
        match &self.ticket {
            Some(ticket) => s.field("seq", &ticket.seq),
            None => s.field("done", &true),
        };
        s.finish()
    }
}

/// A ticket's turn: while it is alive, its holder runs the ordered section and no other
/// ticket's turn runs.
///
/// Dropping it (or calling [`done`](Turn::done)) passes the turn to the next ticket that has
/// not given up, waking only that ticket's waiter. If the holder panics while holding the
/// turn, the turn still passes on during unwinding and the panic is recorded (see
/// [`Sequencer::last_panicked`]); later turns are not poisoned.
///
/// `Turn` is `Send`: it may be released from another task or thread than the one that got it.
#[must_use = "dropping a Turn passes the turn on at once"]
#[clippy::has_significant_drop]
pub struct Turn {
    ticket: Ticket,
}

impl Turn {
    /// Returns the seq of the ticket whose turn this is.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.ticket.seq
    }

    /// Ends the turn and passes it on; the same as dropping the guard, but reads better at
    /// the end of an ordered section.
    pub fn done(self) {}
}

impl Drop for Turn {
    fn drop(&mut self) {
        if thread::panicking() {
            let mut state = self.ticket.shared.lock();
            state.panicked += 1;
            state.last_panicked = Some(self.ticket.seq);
        }
        // The owned `Ticket` is dropped next and passes the turn on.
    }
}

impl fmt::Debug for Turn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Turn")
            .field("seq", &self.ticket.seq)
            .finish()
    }
}

/// Wakes a thread blocked in [`Ticket::wait_blocking`].
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Panics, like tokio's `blocking_*` methods, on a thread that drives an async runtime.
///
/// tokio's check is not public (and `Handle::try_current` is also `Ok` inside
/// `spawn_blocking`, where blocking is fine), so borrow it through a filled oneshot: one small
/// allocation per blocking wait.
#[track_caller]
fn assert_blocking_allowed() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let _ = tx.send(());
    let _ = rx.blocking_recv();
}
