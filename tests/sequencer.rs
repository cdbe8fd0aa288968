//! Tests for `Sequencer`: order, wake-ups, liveness, blocking waits.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use reorder::{Sequencer, Ticket, Turn, Wait};
use tokio::time::timeout;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready};

/// Generous real-time limit: a bug fails the test instead of hanging CI.
const LIMIT: Duration = Duration::from_secs(10);

/// Runs `f` on its own thread and fails if it does not finish within `LIMIT`.
fn with_watchdog<F: FnOnce() + Send + 'static>(f: F) {
    let (done_tx, done_rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        f();
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(LIMIT) {
        Ok(()) => worker.join().unwrap(),
        // The closure panicked: re-raise its panic here.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("blocking test hung"),
    }
}

/// Records the order in which ordered sections run, and fails if two ever overlap.
#[derive(Clone, Default)]
struct Recorder {
    in_section: Arc<AtomicBool>,
    order: Arc<Mutex<Vec<u64>>>,
}

impl Recorder {
    fn enter(&self, turn: &Turn) {
        assert!(
            !self.in_section.swap(true, Ordering::SeqCst),
            "two ordered sections overlap (entering {})",
            turn.seq()
        );
    }

    fn leave(&self, turn: &Turn) {
        self.order.lock().unwrap().push(turn.seq());
        assert!(self.in_section.swap(false, Ordering::SeqCst));
    }

    fn order(&self) -> Vec<u64> {
        self.order.lock().unwrap().clone()
    }
}

/// A waker that counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_with(wait: &mut Wait, waker: &Arc<CountingWaker>) -> Poll<Turn> {
    let waker = Waker::from(waker.clone());
    Pin::new(wait).poll(&mut Context::from_waker(&waker))
}

#[test]
fn auto_traits() {
    fn send_sync_unpin<T: Send + Sync + Unpin>() {}
    send_sync_unpin::<Sequencer>();
    send_sync_unpin::<Ticket>();
    send_sync_unpin::<Turn>();
    send_sync_unpin::<Wait>();
}

/// 1,000 tasks, spawned in random order, each doing a random amount of concurrent work
/// (paused time), with random work inside the section too: sections run strictly in ticket
/// order, never overlapping.
#[tokio::test(start_paused = true)]
async fn thousand_tasks_random_order_and_delays_run_in_ticket_order() {
    let mut rng = StdRng::seed_from_u64(0x5e9);
    let sequencer = Sequencer::new();
    let recorder = Recorder::default();
    let mut tickets: Vec<(Ticket, u64, u64)> = (0..1_000)
        .map(|_| {
            let before = rng.random_range(0..1_000);
            let inside = rng.random_range(0..3);
            (sequencer.ticket(), before, inside)
        })
        .collect();
    tickets.shuffle(&mut rng);

    let mut tasks = tokio::task::JoinSet::new();
    for (ticket, before, inside) in tickets {
        let recorder = recorder.clone();
        tasks.spawn(async move {
            tokio::time::sleep(Duration::from_millis(before)).await;
            let turn = ticket.wait().await;
            recorder.enter(&turn);
            tokio::time::sleep(Duration::from_millis(inside)).await;
            recorder.leave(&turn);
        });
    }
    while let Some(result) = timeout(LIMIT, tasks.join_next()).await.unwrap() {
        result.unwrap();
    }
    assert_eq!(recorder.order(), (0..1_000).collect::<Vec<_>>());
    assert_eq!(sequencer.current(), 1_000);
    assert_eq!(sequencer.waiting(), 0);
}

/// Same, truly in parallel on a multi-thread runtime, in real time with random yields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_tasks_on_multi_thread_runtime_run_in_ticket_order() {
    let mut rng = StdRng::seed_from_u64(7);
    let sequencer = Sequencer::new();
    let recorder = Recorder::default();
    let mut tickets: Vec<(Ticket, u32)> = (0..1_000)
        .map(|_| (sequencer.ticket(), rng.random_range(0..20)))
        .collect();
    tickets.shuffle(&mut rng);

    let mut tasks = tokio::task::JoinSet::new();
    for (ticket, yields) in tickets {
        let recorder = recorder.clone();
        tasks.spawn(async move {
            for _ in 0..yields {
                tokio::task::yield_now().await;
            }
            let turn = ticket.wait().await;
            recorder.enter(&turn);
            tokio::task::yield_now().await;
            recorder.leave(&turn);
        });
    }
    while let Some(result) = timeout(LIMIT, tasks.join_next()).await.unwrap() {
        result.unwrap();
    }
    assert_eq!(recorder.order(), (0..1_000).collect::<Vec<_>>());
}

/// Passing a turn wakes the next waiter only, not every waiter.
#[test]
fn only_the_next_waiter_is_woken() {
    let sequencer = Sequencer::new();
    let t0 = sequencer.ticket();
    let mut w1 = spawn(sequencer.ticket().wait());
    let mut w2 = spawn(sequencer.ticket().wait());
    let mut w3 = spawn(sequencer.ticket().wait());
    assert_pending!(w1.poll());
    assert_pending!(w2.poll());
    assert_pending!(w3.poll());
    assert_eq!(sequencer.waiting(), 3);

    t0.try_turn().unwrap().done();
    assert!(w1.is_woken());
    assert!(!w2.is_woken());
    assert!(!w3.is_woken());
    assert_eq!(sequencer.waiting(), 2);

    let turn1 = assert_ready!(w1.poll());
    assert_eq!(turn1.seq(), 1);
    assert_pending!(w2.poll()); // a spurious poll re-registers, harmlessly
    drop(turn1);
    assert!(w2.is_woken());
    assert!(!w3.is_woken());
    drop(assert_ready!(w2.poll()));
    assert!(w3.is_woken());
    assert_eq!(assert_ready!(w3.poll()).seq(), 3);
}

/// n turns cost exactly n wake-ups (the tutorial's notify_all costs about n²/2).
#[test]
fn n_turns_cost_n_wake_ups() {
    let sequencer = Sequencer::new();
    let first = sequencer.ticket();
    let wakers: Vec<_> = (0..500)
        .map(|_| Arc::new(CountingWaker::default()))
        .collect();
    let mut waits: Vec<Wait> = (0..500).map(|_| sequencer.ticket().wait()).collect();
    for (wait, waker) in waits.iter_mut().zip(&wakers).rev() {
        assert!(poll_with(wait, waker).is_pending());
    }
    drop(first);
    for (i, (wait, waker)) in waits.iter_mut().zip(&wakers).enumerate() {
        // Exactly this waiter has been woken, once.
        assert_eq!(waker.0.load(Ordering::SeqCst), 1, "waiter {i}");
        if let Some(next) = wakers.get(i + 1) {
            assert_eq!(next.0.load(Ordering::SeqCst), 0);
        }
        match poll_with(wait, waker) {
            Poll::Ready(turn) => assert_eq!(turn.seq(), i as u64 + 1),
            Poll::Pending => panic!("waiter {i} woken but not ready"),
        }
    }
    let total: usize = wakers.iter().map(|w| w.0.load(Ordering::SeqCst)).sum();
    assert_eq!(total, 500);
}

/// Tickets dropped before their turn, in any order, are skipped.
#[test]
fn dropped_tickets_give_their_turn_up() {
    let sequencer = Sequencer::new();
    let mut tickets: Vec<Option<Ticket>> = (0..6).map(|_| Some(sequencer.ticket())).collect();
    let mut w5 = spawn(tickets[5].take().unwrap().wait());
    assert_pending!(w5.poll());

    // Given up out of order, while 0 is still outstanding.
    drop(tickets[3].take());
    drop(tickets[2].take());
    drop(tickets[4].take());
    assert_eq!(sequencer.current(), 0);
    assert!(!w5.is_woken());

    drop(tickets[0].take().unwrap().try_turn().unwrap());
    assert_eq!(sequencer.current(), 1);
    // Ticket 1 given up: the turn runs over 1..=4 in one go and wakes 5.
    drop(tickets[1].take());
    assert_eq!(sequencer.current(), 5);
    assert!(w5.is_woken());
    assert_eq!(assert_ready!(w5.poll()).seq(), 5);
    assert_eq!(sequencer.current(), 6);
}

/// A task aborted (cancelled) before its turn gives the turn up.
#[tokio::test]
async fn aborted_task_gives_its_turn_up() {
    let sequencer = Sequencer::new();
    let t0 = sequencer.ticket();
    let t1 = sequencer.ticket();
    let t2 = sequencer.ticket();
    let stuck = tokio::spawn(async move { t1.wait().await.seq() });
    let after = tokio::spawn(async move { t2.wait().await.seq() });
    tokio::task::yield_now().await;
    assert_eq!(sequencer.waiting(), 2);

    stuck.abort();
    assert!(stuck.await.unwrap_err().is_cancelled());
    drop(t0);
    assert_eq!(timeout(LIMIT, after).await.unwrap().unwrap(), 2);
}

/// A task that panics before its turn drops its ticket during unwinding.
#[tokio::test]
async fn task_panicking_before_its_turn_gives_it_up() {
    let sequencer = Sequencer::new();
    let t0 = sequencer.ticket();
    let t1 = sequencer.ticket();
    let t2 = sequencer.ticket();
    let failing = tokio::spawn(async move {
        let _ticket = t1;
        panic!("failed before its turn");
    });
    assert!(failing.await.unwrap_err().is_panic());
    drop(t0);
    let turn = timeout(LIMIT, t2.wait()).await.unwrap();
    assert_eq!(turn.seq(), 2);
    // Not a panic *in* a turn.
    assert_eq!(sequencer.panicked_turns(), 0);
}

/// `timeout(.., ticket.wait())` that expires gives the turn up; later tickets go on.
#[tokio::test(start_paused = true)]
async fn timed_out_wait_does_not_strand_later_tickets() {
    let sequencer = Sequencer::new();
    let t0 = sequencer.ticket();
    let t1 = sequencer.ticket();
    let t2 = sequencer.ticket();
    let later = tokio::spawn(async move { t2.wait().await.seq() });

    assert!(timeout(Duration::from_secs(1), t1.wait()).await.is_err());
    tokio::time::sleep(Duration::from_secs(5)).await;
    drop(t0.wait().await);
    assert_eq!(timeout(LIMIT, later).await.unwrap().unwrap(), 2);
}

/// A `Wait` that was woken (its turn arrived) but dropped before being polled again still
/// passes the turn on.
#[test]
fn woken_but_unpolled_wait_passes_the_turn_on_when_dropped() {
    let sequencer = Sequencer::new();
    let t0 = sequencer.ticket();
    let mut w1 = spawn(sequencer.ticket().wait());
    let mut w2 = spawn(sequencer.ticket().wait());
    assert_pending!(w1.poll());
    assert_pending!(w2.poll());

    drop(t0);
    assert!(w1.is_woken());
    assert_eq!(sequencer.current(), 1); // the turn is w1's now
    assert!(!w2.is_woken());

    drop(w1); // never polled to completion
    assert_eq!(sequencer.current(), 2);
    assert!(w2.is_woken());
    assert_eq!(assert_ready!(w2.poll()).seq(), 2);
}

/// Polling `&mut wait` in a `select!` loop keeps the ticket's place across iterations.
#[tokio::test(start_paused = true)]
async fn wait_polled_by_reference_in_select_keeps_its_place() {
    let sequencer = Sequencer::new();
    let t0 = sequencer.ticket();
    let mut wait = sequencer.ticket().wait();
    let releaser = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(350)).await;
        drop(t0);
    });
    let mut ticks = 0;
    let turn = loop {
        tokio::select! {
            turn = &mut wait => break turn,
            () = tokio::time::sleep(Duration::from_millis(100)) => ticks += 1,
        }
    };
    assert_eq!(turn.seq(), 1);
    assert_eq!(ticks, 3);
    releaser.await.unwrap();
}

/// A panic in the ordered section passes the turn on; it is recorded, later turns run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_in_section_passes_the_turn_on() {
    let sequencer = Sequencer::new();
    let recorder = Recorder::default();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let ticket = sequencer.ticket();
        let recorder = recorder.clone();
        tasks.push(tokio::spawn(async move {
            let turn = ticket.wait().await;
            recorder.enter(&turn);
            recorder.leave(&turn);
            if turn.seq() % 4 == 1 {
                panic!("section {} failed", turn.seq());
            }
        }));
    }
    let mut panicked = Vec::new();
    for (seq, task) in tasks.into_iter().enumerate() {
        if timeout(LIMIT, task).await.unwrap().is_err() {
            panicked.push(seq as u64);
        }
    }
    assert_eq!(panicked, [1, 5, 9]);
    assert_eq!(recorder.order(), (0..10).collect::<Vec<_>>());
    assert_eq!(sequencer.panicked_turns(), 3);
    assert_eq!(sequencer.last_panicked(), Some(9));
    assert_eq!(sequencer.current(), 10);
}

/// The same with the ordered section on real threads.
#[test]
fn panic_in_blocking_section_passes_the_turn_on() {
    with_watchdog(|| {
        let sequencer = Sequencer::new();
        let t0 = sequencer.ticket();
        let t1 = sequencer.ticket();
        let second = thread::spawn(move || t1.wait_blocking().seq());
        let first = thread::spawn(move || {
            let _turn = t0.wait_blocking();
            panic!("section failed");
        });
        assert!(first.join().is_err());
        assert_eq!(second.join().unwrap(), 1);
        assert_eq!(sequencer.last_panicked(), Some(0));
    });
}

/// Blocking waits from real threads, started in random order.
#[test]
fn blocking_waits_from_threads_run_in_ticket_order() {
    with_watchdog(|| {
        let mut rng = StdRng::seed_from_u64(42);
        let sequencer = Sequencer::new();
        let recorder = Recorder::default();
        let mut tickets: Vec<(Ticket, u64)> = (0..64)
            .map(|_| (sequencer.ticket(), rng.random_range(0..2_000)))
            .collect();
        tickets.shuffle(&mut rng);
        let threads: Vec<_> = tickets
            .into_iter()
            .map(|(ticket, micros)| {
                let recorder = recorder.clone();
                thread::spawn(move || {
                    thread::sleep(Duration::from_micros(micros));
                    let turn = ticket.wait_blocking();
                    recorder.enter(&turn);
                    recorder.leave(&turn);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(recorder.order(), (0..64).collect::<Vec<_>>());
        assert_eq!(sequencer.waiting(), 0);
    });
}

/// Async tasks and blocking threads share one order; blocking inside `spawn_blocking` is
/// allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_and_blocking_waits_mix() {
    let sequencer = Sequencer::new();
    let recorder = Recorder::default();
    let mut tickets: Vec<_> = (0..300u64).map(|_| sequencer.ticket()).collect();
    let mut tasks = tokio::task::JoinSet::new();
    let mut threads = Vec::new();
    // Start from the back so that earlier turns are the last to arrive.
    while let Some(ticket) = tickets.pop() {
        let recorder = recorder.clone();
        match ticket.seq() % 3 {
            0 => {
                tasks.spawn(async move {
                    let turn = ticket.wait().await;
                    recorder.enter(&turn);
                    tokio::task::yield_now().await;
                    recorder.leave(&turn);
                });
            }
            1 => {
                tasks.spawn_blocking(move || {
                    let turn = ticket.wait_blocking();
                    recorder.enter(&turn);
                    recorder.leave(&turn);
                });
            }
            _ => threads.push(thread::spawn(move || {
                let turn = ticket.wait_blocking();
                recorder.enter(&turn);
                recorder.leave(&turn);
            })),
        }
    }
    while let Some(result) = timeout(LIMIT, tasks.join_next()).await.unwrap() {
        result.unwrap();
    }
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(recorder.order(), (0..300).collect::<Vec<_>>());
}

/// A `Turn` obtained on one thread can be released on another.
#[test]
fn turn_released_from_another_thread() {
    with_watchdog(|| {
        let sequencer = Sequencer::new();
        let turn = sequencer.ticket().wait_blocking();
        let next = sequencer.ticket();
        let waiter = thread::spawn(move || next.wait_blocking().seq());
        thread::spawn(move || turn.done()).join().unwrap();
        assert_eq!(waiter.join().unwrap(), 1);
    });
}

#[tokio::test]
#[should_panic(expected = "Cannot block the current thread from within a runtime")]
async fn wait_blocking_panics_on_a_runtime_thread() {
    let sequencer = Sequencer::new();
    let _turn = sequencer.ticket().wait_blocking();
}

#[test]
fn seqs_near_u64_max_do_not_overflow() {
    let sequencer = Sequencer::starting_at(u64::MAX - 4);
    let tickets: Vec<_> = (0..4).map(|_| sequencer.ticket()).collect();
    assert_eq!(tickets[3].seq(), u64::MAX - 1);
    assert!(sequencer.try_ticket().is_none());
    assert_eq!(sequencer.issued(), 4);

    let mut tickets = tickets.into_iter();
    let first = tickets.next().unwrap();
    let rest: Vec<_> = tickets.collect();
    drop(rest); // the last three given up, including u64::MAX - 1
    assert_eq!(sequencer.current(), u64::MAX - 4);
    first.try_turn().unwrap().done();
    assert_eq!(sequencer.current(), u64::MAX);
}

#[test]
#[should_panic(expected = "Sequencer exhausted")]
fn ticket_panics_when_exhausted() {
    let sequencer = Sequencer::starting_at(u64::MAX);
    let _ticket = sequencer.ticket();
}

#[test]
fn introspection_and_try_turn() {
    let sequencer = Sequencer::starting_at(10);
    assert_eq!((sequencer.current(), sequencer.issued()), (10, 0));
    let t10 = sequencer.ticket();
    let t11 = sequencer.ticket();
    assert_eq!(sequencer.issued(), 2);
    assert_eq!(format!("{t11:?}"), "Ticket { seq: 11 }");

    let t11 = t11.try_turn().unwrap_err();
    let mut w11 = spawn(t11.wait());
    assert_pending!(w11.poll());
    assert_eq!(sequencer.waiting(), 1);
    assert!(format!("{sequencer:?}").contains("waiting: 1"));

    let turn = t10.try_turn().unwrap();
    assert_eq!(format!("{turn:?}"), "Turn { seq: 10 }");
    assert_eq!(sequencer.current(), 10); // held, not passed yet
    turn.done();
    assert_eq!(sequencer.current(), 11);
    assert_eq!(sequencer.waiting(), 0);
    drop(assert_ready!(w11.poll()));
    assert_eq!(sequencer.current(), 12);
    // The next ticket's turn is already here.
    assert!(sequencer.ticket().try_turn().is_ok());
}

proptest! {
    /// Any mix of given-up and waiting tickets, registered and released in any order: the
    /// waiting ones get their turns in seq order, each waiter is woken at most once, and the
    /// watermark ends past every ticket.
    #[test]
    fn any_schedule_runs_turns_in_order(
        plan in proptest::collection::vec((any::<bool>(), any::<u32>()), 1..60),
    ) {
        let sequencer = Sequencer::new();
        let n = plan.len();
        // (seq, give up?, arrival key)
        let mut events: Vec<(usize, bool, u32)> =
            plan.iter().enumerate().map(|(i, &(give_up, key))| (i, give_up, key)).collect();
        let mut tickets: Vec<Option<Ticket>> = (0..n).map(|_| Some(sequencer.ticket())).collect();
        events.sort_by_key(|&(_, _, key)| key);

        let wakers: Vec<_> = (0..n).map(|_| Arc::new(CountingWaker::default())).collect();
        let mut waits: Vec<Option<Wait>> = (0..n).map(|_| None).collect();
        let mut order = Vec::new();
        // Run every ready waiter, lowest first, until none is ready.
        let run = |waits: &mut Vec<Option<Wait>>, order: &mut Vec<u64>| loop {
            let ready = waits.iter_mut().enumerate().find_map(|(i, w)| {
                let wait = w.as_mut()?;
                match poll_with(wait, &wakers[i]) {
                    Poll::Ready(turn) => { *w = None; Some(turn) }
                    Poll::Pending => None,
                }
            });
            match ready {
                Some(turn) => order.push(turn.seq()),
                None => break,
            }
        };
        for (seq, give_up, _) in events {
            let ticket = tickets[seq].take().unwrap();
            if give_up {
                drop(ticket);
            } else {
                waits[seq] = Some(ticket.wait());
            }
            run(&mut waits, &mut order);
        }
        let expected: Vec<u64> =
            plan.iter().enumerate().filter(|(_, p)| !p.0).map(|(i, _)| i as u64).collect();
        prop_assert_eq!(order, expected);
        prop_assert_eq!(sequencer.current(), n as u64);
        prop_assert_eq!(sequencer.waiting(), 0);
        for waker in &wakers {
            prop_assert!(waker.0.load(Ordering::SeqCst) <= 1);
        }
    }
}

/// A waker whose last reference owns a ticket: dropping it releases that ticket, which
/// takes the sequencer's lock.
struct OwnsTicket(#[allow(dead_code)] reorder::Ticket);

impl std::task::Wake for OwnsTicket {
    fn wake(self: std::sync::Arc<Self>) {}
}

/// Runs `f` on its own thread; a deadlock fails the test instead of hanging it.
fn no_deadlock(f: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        f();
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("deadlock: a waker was dropped under the sequencer's lock");
}

/// Issue 9, repro 6: a replaced waker was dropped (by `clone_from`) under the lock.
#[test]
fn a_replaced_waker_that_owns_a_ticket_is_dropped_outside_the_lock() {
    no_deadlock(|| {
        use std::future::Future;
        use std::task::{Context, Waker};
        let sequencer = reorder::Sequencer::new();
        let first = sequencer.ticket();
        let second = sequencer.ticket();
        let third = sequencer.ticket();
        let mut wait = Box::pin(second.wait());
        let owning = Waker::from(std::sync::Arc::new(OwnsTicket(third)));
        assert!(wait
            .as_mut()
            .poll(&mut Context::from_waker(&owning))
            .is_pending());
        drop(owning); // the registered waker now holds the last reference to `third`
        assert!(wait
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending());
        drop(first);
        let turn = wait.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        assert!(turn.is_ready());
        drop(turn);
        assert_eq!(sequencer.current(), 3, "seq 2 was given up with the waker");
    });
}

/// Issue 9, repro 6: a ticket given up while waiting dropped its registered waker under
/// the lock.
#[test]
fn a_waiting_ticket_given_up_drops_its_waker_outside_the_lock() {
    no_deadlock(|| {
        use std::future::Future;
        use std::task::{Context, Waker};
        let sequencer = reorder::Sequencer::new();
        let first = sequencer.ticket();
        let second = sequencer.ticket();
        let third = sequencer.ticket();
        let mut wait = Box::pin(second.wait());
        let owning = Waker::from(std::sync::Arc::new(OwnsTicket(third)));
        assert!(wait
            .as_mut()
            .poll(&mut Context::from_waker(&owning))
            .is_pending());
        drop(owning);
        drop(wait); // gives seq 1 up; its waker's drop gives seq 2 up
        drop(first);
        assert_eq!(sequencer.current(), 3, "every turn passed on");
    });
}
