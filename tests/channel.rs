//! The reorder channel: window-gated senders, an in-order receiver, closing, and many
//! senders on a multi-thread runtime.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{FusedStream, StreamExt};
use futures::task::ArcWake;
use reorder::{channel, channel_with, ReorderConfig, ReorderError, SendError, TrySendError};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready, assert_ready_eq};

/// Real-time guard so a bug fails the test instead of hanging CI.
async fn within_10s<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("test timed out: the channel hung")
}

/// A waker that counts how often it is woken.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl ArcWake for CountingWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------
// Ordering, late, duplicate, end of input
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn values_sent_out_of_order_from_tasks_arrive_in_order() {
    let (tx, rx) = channel(16);
    let mut gates = Vec::new();
    for seq in 0..10u64 {
        let (gate_tx, gate_rx) = tokio::sync::oneshot::channel::<()>();
        gates.push(gate_tx);
        let tx = tx.clone();
        tokio::spawn(async move {
            gate_rx.await.unwrap();
            tx.send(seq, seq * 10).await.unwrap();
        });
    }
    drop(tx);
    // Release the gates last-first, so the highest seqs are sent first.
    for gate in gates.into_iter().rev() {
        gate.send(()).unwrap();
        tokio::task::yield_now().await;
    }
    let got: Vec<u64> = within_10s(rx.map(Result::unwrap).collect()).await;
    assert_eq!(got, (0..10).map(|i| i * 10).collect::<Vec<_>>());
}

#[test]
fn next_seq_is_received_on_the_poll_right_after_it_is_sent() {
    let (tx, rx) = channel(4);
    let mut rx = spawn(rx);
    assert_pending!(rx.poll_next());
    tx.try_send(1, 'b').unwrap();
    assert!(rx.is_woken());
    assert_pending!(rx.poll_next());
    tx.try_send(0, 'a').unwrap();
    assert!(rx.is_woken());
    assert_ready_eq!(rx.poll_next(), Some(Ok('a')));
    assert_ready_eq!(rx.poll_next(), Some(Ok('b')));
    assert_pending!(rx.poll_next());
    assert_eq!(rx.next_seq(), 2);
    assert_eq!(rx.peak_buffered(), 1);
}

#[tokio::test]
async fn late_and_duplicate_values_are_handed_back() {
    let (tx, mut rx) = channel(8);
    tx.send(0, "zero").await.unwrap();
    assert_eq!(within_10s(rx.recv()).await, Some(Ok("zero")));
    tx.send(2, "first").await.unwrap();
    tx.send(2, "second").await.unwrap();
    // A seq below the watermark is admitted at once and comes back as Late.
    tx.send(0, "again").await.unwrap();
    assert_eq!(
        within_10s(rx.recv()).await,
        Some(Err(ReorderError::Late {
            seq: 0,
            value: "again"
        }))
    );
    tx.send(1, "one").await.unwrap();
    assert_eq!(within_10s(rx.recv()).await, Some(Ok("one")));
    assert_eq!(within_10s(rx.recv()).await, Some(Ok("first")));
    assert_eq!(
        within_10s(rx.recv()).await,
        Some(Err(ReorderError::Duplicate {
            seq: 2,
            value: "second"
        }))
    );
}

#[test]
fn dropping_every_sender_reports_holes_then_ends() {
    let (tx, rx) = channel(8);
    let tx2 = tx.clone();
    let mut rx = spawn(rx);
    tx.try_send(3, 'd').unwrap();
    tx2.try_send(1, 'b').unwrap();
    assert_pending!(rx.poll_next());
    drop(tx);
    assert_pending!(rx.poll_next(), "one sender is still alive");
    drop(tx2);
    assert!(rx.is_woken());
    assert_ready_eq!(rx.poll_next(), Some(Err(ReorderError::Missing(0..1))));
    assert_ready_eq!(rx.poll_next(), Some(Ok('b')));
    assert_ready_eq!(rx.poll_next(), Some(Err(ReorderError::Missing(2..3))));
    assert!(!rx.is_terminated());
    assert_ready_eq!(rx.poll_next(), Some(Ok('d')));
    assert!(rx.is_terminated());
    assert_ready_eq!(rx.poll_next(), None);
    assert_ready_eq!(rx.poll_next(), None);
}

// ---------------------------------------------------------------------------------------
// The window
// ---------------------------------------------------------------------------------------

#[test]
fn send_beyond_the_window_waits_until_the_head_is_received() {
    let (tx, rx) = channel(4);
    let mut rx = spawn(rx);
    for seq in 1..4 {
        tx.try_send(seq, seq).unwrap();
    }
    let mut far = spawn(tx.send(4, 4));
    assert_pending!(far.poll());
    assert_pending!(rx.poll_next());
    // Sending the head alone does not move the watermark; receiving it does.
    tx.try_send(0, 0).unwrap();
    assert!(!far.is_woken());
    assert_pending!(far.poll());
    assert_ready_eq!(rx.poll_next(), Some(Ok(0)));
    assert!(far.is_woken());
    assert_ready!(far.poll()).unwrap();
    drop(far);
    for seq in 1..=4 {
        assert_ready_eq!(rx.poll_next(), Some(Ok(seq)));
    }
    assert!(rx.peak_buffered() < 4);
}

#[test]
fn waiting_senders_are_woken_only_when_admitted() {
    let (tx, rx) = channel(2);
    let mut rx = spawn(rx);
    let mut s2 = spawn(tx.send(2, 2));
    let mut s3 = spawn(tx.send(3, 3));
    assert_pending!(s2.poll());
    assert_pending!(s3.poll());
    tx.try_send(0, 0).unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok(0)));
    // Watermark 1: admits seq 2, not 3.
    assert!(s2.is_woken());
    assert!(!s3.is_woken());
    assert_ready!(s2.poll()).unwrap();
    assert_pending!(s3.poll());
    tx.try_send(1, 1).unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok(1)));
    assert!(s3.is_woken());
    assert_ready!(s3.poll()).unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok(2)));
    assert_ready_eq!(rx.poll_next(), Some(Ok(3)));
}

#[test]
fn next_expected_seq_is_admitted_even_when_the_window_is_full() {
    let (tx, rx) = channel(4);
    let mut rx = spawn(rx);
    for seq in 1..4 {
        tx.try_send(seq, seq).unwrap();
    }
    assert!(matches!(tx.try_send(4, 4), Err(TrySendError::Full(_))));
    let mut head = spawn(tx.send(0, 0));
    assert_ready!(head.poll()).unwrap();
    for seq in 0..4 {
        assert_ready_eq!(rx.poll_next(), Some(Ok(seq)));
    }
    assert_eq!(rx.peak_buffered(), 3);
}

#[test]
fn try_send_full_hands_the_value_back() {
    let (tx, _rx) = channel(2);
    match tx.try_send(2, String::from("two")) {
        Err(TrySendError::Full(SendError { seq, value })) => {
            assert_eq!(seq, 2);
            assert_eq!(value, "two");
        }
        other => panic!("expected Full, got {other:?}"),
    }
    let err = tx.try_send(5, String::from("five")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sequence number 5 is beyond the reorder window"
    );
    assert_eq!(err.into_inner(), "five");
}

#[tokio::test]
async fn sender_next_seq_follows_the_receiver() {
    let (tx, mut rx) = channel_with(ReorderConfig::new().first_seq(100).window(4));
    assert_eq!(tx.next_seq(), 100);
    tx.try_send(103, 'd').unwrap();
    assert!(matches!(tx.try_send(104, 'e'), Err(TrySendError::Full(_))));
    tx.try_send(100, 'a').unwrap();
    assert_eq!(tx.next_seq(), 100, "sending does not move the watermark");
    assert_eq!(within_10s(rx.recv()).await, Some(Ok('a')));
    assert_eq!(tx.next_seq(), 101);
    assert_eq!(rx.next_seq(), 101);
    tx.try_send(104, 'e').unwrap();
    assert_eq!(rx.buffered_len(), 1, "103 is held, 104 not received yet");
}

#[test]
#[should_panic(expected = "reorder window must be at least 1")]
fn window_of_zero_panics() {
    let _ = channel::<u8>(0);
}

// ---------------------------------------------------------------------------------------
// Closing
// ---------------------------------------------------------------------------------------

#[test]
fn dropping_the_receiver_fails_waiting_and_later_sends_with_the_value() {
    let (tx, rx) = channel(2);
    let mut waiting = spawn(tx.send(10, String::from("ten")));
    assert_pending!(waiting.poll());
    assert!(!tx.is_closed());
    drop(rx);
    assert!(waiting.is_woken());
    let err = assert_ready!(waiting.poll()).unwrap_err();
    assert_eq!((err.seq, err.into_inner()), (10, String::from("ten")));
    assert!(tx.is_closed());

    let mut later = spawn(tx.send(0, String::from("zero")));
    let err = assert_ready!(later.poll()).unwrap_err();
    assert_eq!(err.to_string(), "sending on a closed reorder channel");
    assert_eq!(err.into_inner(), "zero");
    match tx.try_send(0, String::from("try")) {
        Err(TrySendError::Closed(e)) => assert_eq!(e.into_inner(), "try"),
        other => panic!("expected Closed, got {other:?}"),
    }
}

#[test]
fn close_fails_senders_but_keeps_what_was_sent() {
    let (tx, rx) = channel(4);
    let mut rx = spawn(rx);
    tx.try_send(2, 'c').unwrap();
    tx.try_send(1, 'b').unwrap();
    let mut waiting = spawn(tx.send(9, 'j'));
    assert_pending!(waiting.poll());
    rx.close();
    assert!(waiting.is_woken());
    assert_eq!(assert_ready!(waiting.poll()).unwrap_err().into_inner(), 'j');
    assert!(tx.is_closed());
    assert!(matches!(tx.try_send(0, 'a'), Err(TrySendError::Closed(_))));
    // Senders are still alive, but the receiver ends once it has drained.
    assert_ready_eq!(rx.poll_next(), Some(Err(ReorderError::Missing(0..1))));
    assert_ready_eq!(rx.poll_next(), Some(Ok('b')));
    assert_ready_eq!(rx.poll_next(), Some(Ok('c')));
    assert_ready_eq!(rx.poll_next(), None);
    assert!(rx.is_terminated());
}

// ---------------------------------------------------------------------------------------
// Cancellation
// ---------------------------------------------------------------------------------------

#[test]
fn dropping_a_waiting_send_deregisters_it() {
    let (tx, rx) = channel(2);
    let mut rx = spawn(rx);
    let counter = Arc::new(CountingWaker::default());
    let waker = futures::task::waker(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);

    let mut dropped = Box::pin(tx.send(3, 'x'));
    assert!(dropped.as_mut().poll(&mut cx).is_pending());
    let mut kept = spawn(tx.send(3, 'd'));
    assert_pending!(kept.poll());
    drop(dropped);

    tx.try_send(0, 'a').unwrap();
    tx.try_send(1, 'b').unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok('a')));
    assert_ready_eq!(rx.poll_next(), Some(Ok('b')));
    // Watermark 2 admits 3: only the sender still waiting is woken.
    assert!(kept.is_woken());
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        0,
        "dropped send was woken"
    );
    assert_ready!(kept.poll()).unwrap();

    // Wake-ups still work for senders that wait after the cancellation.
    let mut after = spawn(tx.send(4, 'e'));
    assert_pending!(after.poll());
    tx.try_send(2, 'c').unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok('c')));
    assert!(after.is_woken());
    assert_ready!(after.poll()).unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok('d')));
    assert_ready_eq!(rx.poll_next(), Some(Ok('e')));
}

#[test]
fn a_send_polled_with_a_new_waker_wakes_the_new_one() {
    let (tx, rx) = channel(1);
    let mut rx = spawn(rx);
    let first = Arc::new(CountingWaker::default());
    let second = Arc::new(CountingWaker::default());
    let mut send = Box::pin(tx.send(1, 'b'));
    let w1 = futures::task::waker(Arc::clone(&first));
    assert!(send
        .as_mut()
        .poll(&mut Context::from_waker(&w1))
        .is_pending());
    let w2 = futures::task::waker(Arc::clone(&second));
    assert!(send
        .as_mut()
        .poll(&mut Context::from_waker(&w2))
        .is_pending());
    tx.try_send(0, 'a').unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok('a')));
    assert_eq!(first.0.load(Ordering::SeqCst), 0);
    assert_eq!(second.0.load(Ordering::SeqCst), 1);
    assert!(matches!(
        send.as_mut().poll(&mut Context::from_waker(&w2)),
        Poll::Ready(Ok(()))
    ));
}

// ---------------------------------------------------------------------------------------
// Head-of-line timeout
// ---------------------------------------------------------------------------------------

/// Producers that only `try_send` never park, and with `window(1)` nothing can be held
/// behind a missing head: a `try_send` turned away at the window is what shows that
/// something waits to come after the head, so it starts the clock too, which skips the
/// head (one seq per timeout) and lets the retrying producer in. (It once hung for ever.)
#[tokio::test(start_paused = true)]
async fn head_timeout_rescues_try_send_producers_behind_a_dead_head() {
    let timeout = Duration::from_millis(100);
    let config = ReorderConfig::new().window(1).head_timeout(timeout);
    let (tx, mut rx) = channel_with::<char>(config);
    // Seq 0's producer died without sending or giving it up; seq 2 and 3's producer
    // retries `try_send` until it gets in.
    let producer = tokio::spawn(async move {
        let mut turned_away = 0u32;
        for (seq, value) in [(2, 'c'), (3, 'd')] {
            let mut value = value;
            loop {
                match tx.try_send(seq, value) {
                    Ok(()) => break,
                    Err(TrySendError::Full(rejected)) => {
                        value = rejected.value;
                        turned_away += 1;
                        tokio::time::sleep(Duration::from_millis(7)).await;
                    }
                    Err(TrySendError::Closed(_)) => panic!("receiver gone"),
                }
            }
        }
        turned_away
    });
    let start = tokio::time::Instant::now();
    let got: Vec<_> = tokio::time::timeout(Duration::from_secs(60), (&mut rx).take(3).collect())
        .await
        .expect("the clock never started: a dead head behind try_send producers hangs");
    assert_eq!(
        got,
        [
            Err(ReorderError::Missing(0..1)),
            Err(ReorderError::Missing(1..2)),
            Ok('c'),
        ]
    );
    // One timeout per missing seq, not more: the clock restarts when the watermark moves.
    assert!(start.elapsed() >= 2 * timeout);
    assert!(start.elapsed() < 3 * timeout);
    assert_eq!(within_10s(rx.recv()).await, Some(Ok('d')));
    assert!(
        producer.await.unwrap() > 0,
        "the producer was turned away at first"
    );
}

#[tokio::test(start_paused = true)]
async fn head_timeout_skips_the_head_and_lets_waiting_senders_move_up() {
    let timeout = Duration::from_millis(100);
    let config = ReorderConfig::new().window(2).head_timeout(timeout);
    let (tx, rx) = channel_with(config);
    let mut rx = spawn(rx);
    tx.try_send(1, 'b').unwrap();
    let mut waiting = spawn(tx.send(2, 'c'));
    assert_pending!(waiting.poll());
    assert_pending!(rx.poll_next());
    tokio::time::advance(timeout - Duration::from_millis(1)).await;
    assert_pending!(rx.poll_next());
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(rx.is_woken());
    assert_ready_eq!(rx.poll_next(), Some(Err(ReorderError::Missing(0..1))));
    // Watermark 1 admits seq 2.
    assert!(waiting.is_woken());
    assert_ready!(waiting.poll()).unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok('b')));
    assert_ready_eq!(rx.poll_next(), Some(Ok('c')));
    tx.try_send(0, 'a').unwrap();
    assert_ready_eq!(
        rx.poll_next(),
        Some(Err(ReorderError::Late { seq: 0, value: 'a' }))
    );
}

// ---------------------------------------------------------------------------------------
// u64::MAX and the unbounded window
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn seqs_up_to_u64_max_go_through_in_order() {
    let (tx, mut rx) = channel_with(ReorderConfig::new().first_seq(u64::MAX - 2).window(8));
    tx.send(u64::MAX, 'c').await.unwrap();
    tx.send(u64::MAX - 1, 'b').await.unwrap();
    tx.send(u64::MAX - 2, 'a').await.unwrap();
    for v in ['a', 'b', 'c'] {
        assert_eq!(within_10s(rx.recv()).await, Some(Ok(v)));
    }
    assert_eq!(rx.next_seq(), u64::MAX);
    // After u64::MAX every seq is late, and senders are not held up.
    tx.send(u64::MAX, 'z').await.unwrap();
    assert_eq!(
        within_10s(rx.recv()).await,
        Some(Err(ReorderError::Late {
            seq: u64::MAX,
            value: 'z'
        }))
    );
    drop(tx);
    assert_eq!(within_10s(rx.recv()).await, None);
}

// Regression: `Shared::advance` once woke waiters with `seq < watermark.saturating_add(window)`;
// near u64::MAX the limit saturated, so the sender of u64::MAX was admitted but never
// woken. Waking now uses the same predicate as admission.
#[test]
fn sender_waiting_near_u64_max_is_woken_when_admitted() {
    let (tx, rx) = channel_with(ReorderConfig::new().first_seq(u64::MAX - 10).window(4));
    let mut rx = spawn(rx);
    let mut last = spawn(tx.send(u64::MAX, 'z'));
    assert_pending!(last.poll());
    for seq in u64::MAX - 10..=u64::MAX - 4 {
        tx.try_send(seq, 'x').unwrap();
        assert_ready_eq!(rx.poll_next(), Some(Ok('x')));
    }
    // Watermark u64::MAX - 3: u64::MAX is inside the window now.
    assert!(last.is_woken(), "the sender of u64::MAX was never woken");
    assert_ready!(last.poll()).unwrap();
}

// Regression: no window is encoded as `window = u64::MAX`, and admission once tested
// `seq - watermark < window`, refusing seq u64::MAX at watermark 0.
#[test]
fn unbounded_channel_never_makes_a_sender_wait() {
    let (tx, _rx) = channel_with::<char>(ReorderConfig::new());
    tx.try_send(1 << 40, 'a').unwrap();
    tx.try_send(u64::MAX, 'z').unwrap();
}

#[test]
fn unbounded_channel_admits_far_seqs() {
    let (tx, rx) = channel_with(ReorderConfig::new());
    let mut rx = spawn(rx);
    tx.try_send(1 << 40, 'b').unwrap();
    tx.try_send(0, 'a').unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok('a')));
    drop(tx);
    assert_ready_eq!(rx.poll_next(), Some(Err(ReorderError::Missing(1..1 << 40))));
    assert_ready_eq!(rx.poll_next(), Some(Ok('b')));
    assert_ready_eq!(rx.poll_next(), None);
}

// ---------------------------------------------------------------------------------------
// Many senders, many threads
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_interleaved_arrive_in_order_within_the_window() {
    const TASKS: u64 = 8;
    const PER_TASK: u64 = 2_000;
    const WINDOW: usize = 64;
    let (tx, rx) = channel(WINDOW);
    for task in 0..TASKS {
        let tx = tx.clone();
        tokio::spawn(async move {
            for i in 0..PER_TASK {
                let seq = i * TASKS + task;
                tx.send(seq, (seq, task)).await.unwrap();
                if (seq * 7919) % 13 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
    }
    drop(tx);
    let mut rx = rx;
    let mut expected = 0u64;
    while let Some(item) = within_10s(rx.next()).await {
        let (seq, task) = item.unwrap();
        assert_eq!(seq, expected);
        assert_eq!(task, seq % TASKS);
        expected += 1;
    }
    assert_eq!(expected, TASKS * PER_TASK);
    assert!(rx.peak_buffered() < WINDOW, "peak {}", rx.peak_buffered());
    assert!(rx.is_terminated());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_threads_with_try_send_and_send_mixed() {
    // Plain OS threads using a blocking loop over try_send, plus async senders.
    const N: u64 = 4_000;
    const WINDOW: usize = 16;
    let (tx, rx) = channel(WINDOW);
    let odd = tx.clone();
    let thread = std::thread::spawn(move || {
        for seq in (1..N).step_by(2) {
            let mut value = seq;
            loop {
                match odd.try_send(seq, value) {
                    Ok(()) => break,
                    Err(TrySendError::Full(e)) => {
                        value = e.into_inner();
                        std::thread::yield_now();
                    }
                    Err(TrySendError::Closed(_)) => panic!("closed"),
                }
            }
        }
    });
    let even = tx;
    tokio::spawn(async move {
        for seq in (0..N).step_by(2) {
            even.send(seq, seq).await.unwrap();
        }
    });
    let got: Vec<u64> = within_10s(rx.map(Result::unwrap).collect()).await;
    thread.join().unwrap();
    assert_eq!(got, (0..N).collect::<Vec<_>>());
}

#[test]
fn debug_does_not_need_debug_values() {
    struct Opaque;
    let (tx, rx) = channel::<Opaque>(3);
    let tx_dbg = format!("{tx:?}");
    let rx_dbg = format!("{rx:?}");
    assert!(tx_dbg.contains("window: Some(3)"), "{tx_dbg}");
    assert!(rx_dbg.contains("next_seq: 0"), "{rx_dbg}");
}

/// One clock for the channel's head-of-line timeout: it starts when the missing head first
/// blocks a parked sender and does not restart when a held value joins in behind the same
/// head (found in review: the receiver and its adapter each ran a clock, so the skip came
/// after 1.9 s instead of 1 s).
#[tokio::test(start_paused = true)]
async fn head_timeout_runs_one_clock_for_parked_senders_and_held_values() {
    let config = ReorderConfig::new()
        .window(2)
        .head_timeout(Duration::from_secs(1));
    let (tx, mut rx) = reorder::channel_with::<u32>(config);
    let start = tokio::time::Instant::now();
    let parked = tx.clone();
    tokio::spawn(async move { parked.send(2, 2).await.unwrap() }); // 2 >= 0 + 2: parks
    let late_joiner = tx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(900)).await;
        late_joiner.send(1, 1).await.unwrap(); // held behind the missing 0
    });
    drop(tx);
    let first = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("the head timeout fires");
    assert_eq!(first, Some(Err(ReorderError::Missing(0..1))));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    let rest: Vec<_> = tokio::time::timeout(Duration::from_secs(60), rx.collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(rest, [Ok(1), Ok(2)]);
}

// ---------------------------------------------------------------------------------------
// Giving a seq up: `Sender::give_up` and `SeqSlot`
// ---------------------------------------------------------------------------------------

async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("test timed out: something hangs")
}

#[tokio::test]
async fn a_given_up_seq_is_missing_in_its_position() {
    within(async {
        let (tx, mut rx) = channel(4);
        tx.send(1, 'b').await.unwrap();
        tx.give_up(0).unwrap();
        tx.send(2, 'c').await.unwrap();
        assert_eq!(rx.recv().await, Some(Err(ReorderError::Missing(0..1))));
        assert_eq!(rx.recv().await, Some(Ok('b')));
        assert_eq!(rx.recv().await, Some(Ok('c')));
        // Giving up a seq that passed, or one already held, changes nothing.
        tx.give_up(1).unwrap();
        tx.send(4, 'e').await.unwrap();
        tx.give_up(4).unwrap();
        tx.send(3, 'd').await.unwrap();
        drop(tx);
        let rest: Vec<_> = within(rx.collect::<Vec<_>>()).await;
        assert_eq!(rest, [Ok('d'), Ok('e')]);
    })
    .await;
}

/// The review's hang: with a window, a producer that fails while its siblings wait beyond
/// the window. With slots the failed seq is given up and nothing waits for a timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_producer_holding_a_slot_does_not_stall_a_windowed_channel() {
    let (tx, rx) = channel::<u64>(2);
    for seq in (0..6u64).rev() {
        let slot = tx.slot(seq);
        tokio::spawn(async move {
            if seq == 0 {
                return; // fails before sending: the slot is dropped
            }
            slot.send(seq).await.unwrap();
        });
    }
    drop(tx);
    let got: Vec<_> = within(rx.collect::<Vec<_>>()).await;
    let mut want = vec![Err(ReorderError::Missing(0..1))];
    want.extend((1..6).map(Ok));
    assert_eq!(got, want);
}

#[tokio::test(start_paused = true)]
async fn a_slot_whose_send_is_cancelled_while_parked_gives_its_seq_up() {
    let (tx, mut rx) = channel::<u64>(1);
    let parked = tx.slot(1);
    // Seq 1 is beyond the window (watermark 0, window 1): the send parks, then times out.
    let cancelled = tokio::time::timeout(Duration::from_millis(10), parked.send(10)).await;
    assert!(cancelled.is_err(), "the send must have been waiting");
    tx.send(0, 0).await.unwrap();
    let last = tx.clone();
    tokio::spawn(async move { last.send(2, 20).await.unwrap() }); // parks until 1 passes
    drop(tx);
    let got: Vec<_> = within(async {
        let mut got = Vec::new();
        while let Some(item) = rx.recv().await {
            got.push(item);
        }
        got
    })
    .await;
    assert_eq!(
        got,
        [Ok(0), Err(ReorderError::Missing(1..2)), Ok(20)],
        "the cancelled send's seq is reported, not waited for"
    );
}

#[tokio::test]
async fn slots_report_their_seq_and_fail_like_sends_when_the_receiver_is_gone() {
    within(async {
        let (tx, rx) = channel::<&str>(4);
        let slot = tx.slot(3);
        assert_eq!(slot.seq(), 3);
        drop(rx);
        let err = slot.send("three").await.unwrap_err();
        assert_eq!((err.seq, err.into_inner()), (3, "three"));
        assert!(tx.give_up(0).is_err());
        tx.slot(1).give_up(); // dropping an unsent slot with no receiver is quiet
    })
    .await;
}

#[tokio::test]
async fn giving_up_u64_max_moves_on_without_an_empty_range() {
    within(async {
        let (tx, mut rx) = channel_with::<u8>(ReorderConfig::new().first_seq(u64::MAX - 1));
        tx.give_up(u64::MAX).unwrap();
        tx.send(u64::MAX - 1, 1).await.unwrap();
        drop(tx);
        assert_eq!(rx.recv().await, Some(Ok(1)));
        assert_eq!(within(rx.recv()).await, None);
        assert_eq!(rx.next_seq(), u64::MAX);
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// The receiver's in-order fast path: cancellation and publication
// ---------------------------------------------------------------------------------------

/// `recv()` is cancel safe at each point it can be dropped: before its first poll, while
/// values are held behind a missing head, and after an arrival woke it but before it was
/// polled again. Nothing is lost or reordered, and a give-up that comes while no `recv`
/// is alive still wakes the next one.
#[tokio::test(start_paused = true)]
async fn recv_is_cancel_safe_at_every_point() {
    within_10s(async {
        let (tx, mut rx) = channel(8);
        drop(rx.recv()); // never polled
        tx.send(2, 'c').await.unwrap();
        tx.send(1, 'b').await.unwrap();
        // Held behind the missing 0: pending, then dropped.
        assert!(futures::poll!(rx.recv()).is_pending());
        assert_eq!(rx.buffered_len(), 2);
        // Cancelled by a timer while it waits.
        tokio::select! {
            got = rx.recv() => panic!("nothing can come out yet: {got:?}"),
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
        // A give-up while no `recv` is alive: the next one sees it.
        tx.give_up(0).unwrap();
        assert_eq!(rx.recv().await, Some(Err(ReorderError::Missing(0..1))));
        assert_eq!(rx.recv().await, Some(Ok('b')));
        assert_eq!(rx.recv().await, Some(Ok('c')));
        // Nothing held (the in-order path): woken by an arrival, dropped before its poll.
        let mut waiting = spawn(rx.recv());
        assert_pending!(waiting.poll());
        tx.send(3, 'd').await.unwrap();
        assert!(waiting.is_woken());
        drop(waiting);
        assert_eq!(rx.recv().await, Some(Ok('d')));
        assert_eq!((rx.next_seq(), tx.next_seq()), (4, 4));
        // Woken by an early arrival, dropped: the arrival is not lost either.
        let mut waiting = spawn(rx.recv());
        assert_pending!(waiting.poll());
        tx.send(5, 'f').await.unwrap();
        assert!(waiting.is_woken());
        drop(waiting);
        assert!(futures::poll!(rx.recv()).is_pending());
        assert_eq!(rx.buffered_len(), 1);
        tx.send(4, 'e').await.unwrap();
        assert_eq!(rx.recv().await, Some(Ok('e')));
        assert_eq!(rx.recv().await, Some(Ok('f')));
        drop(tx);
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.recv().await, None);
        assert!(rx.is_terminated());
    })
    .await;
}

/// With a window the watermark is published with every item it yields, in order or not:
/// a producer that sends one seq at a time behind `window(1)` is admitted exactly when
/// the previous seq has been received, all the way up to `u64::MAX`, and
/// `Sender::next_seq` equals `Receiver::next_seq` after every item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_of_one_admits_each_seq_as_the_previous_is_received_up_to_u64_max() {
    within_10s(async {
        let first = u64::MAX - 300;
        let (tx, mut rx) = channel_with(ReorderConfig::new().first_seq(first).window(1));
        let producer = {
            let tx = tx.clone();
            tokio::spawn(async move {
                for seq in first..=u64::MAX {
                    tx.send(seq, seq).await.unwrap();
                    if seq % 7 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        };
        for seq in first..=u64::MAX {
            assert_eq!(rx.recv().await, Some(Ok(seq)));
            assert_eq!(tx.next_seq(), rx.next_seq(), "published with each item");
        }
        assert_eq!(tx.next_seq(), u64::MAX);
        producer.await.unwrap();
        drop(tx);
        assert_eq!(rx.recv().await, None);
    })
    .await;
}

/// The same by hand with out-of-order arrivals and `window(2)`: the watermark each
/// poll leaves (fast path, general path, skip) is the one senders see.
#[test]
fn a_windowed_senders_next_seq_equals_the_receivers_after_every_poll() {
    let first = u64::MAX - 20;
    let (tx, rx) = channel_with(ReorderConfig::new().first_seq(first).window(2));
    let mut rx = spawn(rx);
    let mut expected = first;
    // Pairs sent swapped, then in order, alternately; a give-up now and then.
    let mut seq = first;
    while seq < u64::MAX - 1 {
        match (seq - first) % 3 {
            0 => {
                tx.try_send(seq + 1, seq + 1).unwrap();
                assert_pending!(rx.poll_next());
                assert_eq!(tx.next_seq(), rx.next_seq());
                tx.try_send(seq, seq).unwrap();
            }
            1 => {
                tx.try_send(seq, seq).unwrap();
                tx.try_send(seq + 1, seq + 1).unwrap();
            }
            _ => {
                tx.try_send(seq + 1, seq + 1).unwrap();
                tx.give_up(seq).unwrap();
            }
        }
        for _ in 0..2 {
            match assert_ready!(rx.poll_next()) {
                Some(Ok(got)) => assert_eq!(got, expected),
                Some(Err(ReorderError::Missing(range))) => {
                    assert_eq!(range, expected..expected + 1);
                }
                other => panic!("unexpected {other:?}"),
            }
            expected += 1;
            assert_eq!(tx.next_seq(), rx.next_seq(), "after seq {}", expected - 1);
        }
        assert_pending!(rx.poll_next());
        assert_eq!(tx.next_seq(), rx.next_seq());
        seq += 2;
    }
    assert_eq!(expected, u64::MAX);
    tx.try_send(u64::MAX, u64::MAX).unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok(u64::MAX)));
    assert_eq!((tx.next_seq(), rx.next_seq()), (u64::MAX, u64::MAX));
    drop(tx);
    assert_ready_eq!(rx.poll_next(), None);
}

/// A receiver with a head-of-line timeout panics when its clock starts outside a tokio
/// runtime (as documented). That panic comes after the early value that starts the
/// clock has been taken in; a caller that catches it and goes on inside a runtime loses
/// nothing, and the receiver does not return to its in-order fast path (which assumes
/// nothing is held) with that value held.
#[test]
fn a_caught_panic_of_the_clock_outside_a_runtime_loses_no_held_value() {
    let config = ReorderConfig::new().head_timeout(Duration::from_secs(1));
    let (tx, rx) = channel_with(config);
    let mut rx = spawn(rx);
    tx.try_send(1, 'b').unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rx.poll_next()));
    assert!(caught.is_err(), "the clock needs a runtime");
    assert_eq!(rx.buffered_len(), 1, "1 was taken in before the panic");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _inside = runtime.enter();
    tx.try_send(0, 'a').unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok('a')));
    assert_ready_eq!(rx.poll_next(), Some(Ok('b')));
    assert_pending!(rx.poll_next());
    drop(tx);
    assert_ready_eq!(rx.poll_next(), None);
}
