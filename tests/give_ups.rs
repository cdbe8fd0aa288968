//! The channel survives its producers: give-ups never displace values, and a dead producer
//! that owns many seqs (a `Lane`, a range) costs one `Missing` per seq, promptly — never a
//! hang, never a head-of-line timeout per seq. Regression tests for issue 9.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures::stream::{FusedStream, Stream, StreamExt};
use reorder::{channel, channel_with, Receiver, ReorderConfig, ReorderError, TrySendError};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready_eq};

mod common;
use common::{quiet_injected_panics, within};

/// Drains the receiver (under a timeout) into its items.
async fn drain<T>(rx: Receiver<T>) -> Vec<Result<T, ReorderError<T>>> {
    within(rx.collect::<Vec<_>>()).await
}

/// Checks that every seq in `first..end` is accounted for exactly once, in order: as an
/// `Ok` carrying its own seq, or inside a `Missing` range. Returns the seqs reported
/// missing. Panics on any `Late` or `Duplicate`.
fn accounted(first: u64, end: u64, got: &[Result<u64, ReorderError<u64>>]) -> Vec<u64> {
    let mut next = first;
    let mut missing = Vec::new();
    for item in got {
        match item {
            Ok(seq) => {
                assert_eq!(*seq, next, "value out of position in {got:?}");
                next += 1;
            }
            Err(ReorderError::Missing(range)) => {
                assert_eq!(range.start, next, "Missing out of position in {got:?}");
                assert!(range.end > range.start);
                missing.extend(range.clone());
                next = range.end;
            }
            Err(other) => panic!("healthy values must never come back as {other:?}"),
        }
    }
    assert_eq!(next, end, "not every seq was accounted for: {got:?}");
    missing
}

// ---------------------------------------------------------------------------------------
// Give-ups never push live values out
// ---------------------------------------------------------------------------------------

/// Issue 9, repro 1a: give-ups ahead of the window used to be held like values and fill
/// the receiver's cap, so the healthy head was skipped and came back `Late`.
#[tokio::test]
async fn give_ups_ahead_of_the_window_never_displace_the_values_in_it() {
    let (tx, rx) = channel(2);
    for seq in 2..6 {
        tx.give_up(seq).unwrap();
    }
    tx.send(0, 'a').await.unwrap();
    tx.send(1, 'b').await.unwrap();
    drop(tx);
    assert_eq!(
        drain(rx).await,
        [Ok('a'), Ok('b'), Err(ReorderError::Missing(2..6))],
        "touching give-ups are one marker, reported once after the values"
    );
}

/// Issue 9, repro 1b: the README's `SeqSlot` pattern scaled up — 100 slots, window 8,
/// every odd producer fails fast, the others send after 20 ms. It used to yield 15 `Ok`
/// and 35 `Late`.
#[tokio::test(start_paused = true)]
async fn many_failing_slots_with_a_small_window_lose_no_value() {
    let (tx, rx) = channel(8);
    for seq in 0..100u64 {
        let slot = tx.slot(seq);
        tokio::spawn(async move {
            if seq % 2 == 1 {
                return; // fails fast: the slot is dropped, its seq given up
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            slot.send(seq).await.unwrap();
        });
    }
    drop(tx);
    let got = drain(rx).await;
    let missing = accounted(0, 100, &got);
    assert_eq!(missing, (0..100).filter(|s| s % 2 == 1).collect::<Vec<_>>());
    assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 50);
}

/// Issue 9, repro 1c: parked `SeqSlot::send` futures cancelled en masse give their seqs up;
/// that must not push the healthy values out either.
#[tokio::test(start_paused = true)]
async fn cancelled_parked_slot_sends_never_displace_values() {
    let (tx, rx) = channel(4);
    // Seqs 4..40 are beyond the window: their sends park, then are cancelled.
    let mut cancelled = Vec::new();
    for seq in 4..40u64 {
        let slot = tx.slot(seq);
        cancelled.push(tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_millis(5), slot.send(seq)).await;
        }));
    }
    for task in cancelled {
        task.await.unwrap();
    }
    for seq in 0..4u64 {
        tx.send(seq, seq).await.unwrap();
    }
    let last = tx.clone();
    tokio::spawn(async move { last.send(40, 40).await.unwrap() }); // parks until 37 passes
    drop(tx);
    let got = drain(rx).await;
    let missing = accounted(0, 41, &got);
    assert_eq!(missing, (4..40).collect::<Vec<_>>());
}

/// A flood of a million give-ups one by one, far ahead of a window of 2, while values
/// trickle in: no value is lost, the give-ups come out as one range.
#[tokio::test]
async fn a_flood_of_single_give_ups_stays_compact_and_harmless() {
    let (tx, mut rx) = channel(2);
    for seq in 10..1_000_010u64 {
        tx.give_up(seq).unwrap();
    }
    for seq in 0..10u64 {
        tx.send(seq, seq).await.unwrap();
        assert_eq!(within(rx.recv()).await, Some(Ok(seq)));
    }
    assert_eq!(rx.buffered_len(), 0, "give-ups are never held as values");
    assert_eq!(
        within(rx.recv()).await,
        Some(Err(ReorderError::Missing(10..1_000_010)))
    );
    // The watermark jumped with the report: the far seq is inside the window now.
    within(tx.send(1_000_010, 1_000_010)).await.unwrap();
    assert_eq!(within(rx.recv()).await, Some(Ok(1_000_010)));
}

#[tokio::test]
async fn give_up_range_is_reported_as_a_range_split_only_around_sent_values() {
    let (tx, rx) = channel(8);
    tx.send(5, 5).await.unwrap(); // sent before the range that covers it: it wins
    tx.give_up_range(2..9).unwrap();
    tx.give_up_range(20..20).unwrap(); // empty: nothing
    tx.send(0, 0).await.unwrap();
    tx.send(1, 1).await.unwrap();
    drop(tx);
    assert_eq!(
        drain(rx).await,
        [
            Ok(0),
            Ok(1),
            Err(ReorderError::Missing(2..5)),
            Ok(5),
            Err(ReorderError::Missing(6..9)),
        ],
        "explicit give-ups are reported even past the last value"
    );
}

#[tokio::test]
async fn a_give_up_range_to_u64_max_ends_without_overflow() {
    let (tx, rx) = channel_with(ReorderConfig::new().first_seq(u64::MAX - 3).window(2));
    tx.send(u64::MAX - 3, 0u8).await.unwrap();
    tx.give_up_range(u64::MAX - 2..u64::MAX).unwrap();
    tx.give_up(u64::MAX).unwrap();
    drop(tx);
    assert_eq!(
        drain(rx).await,
        [Ok(0), Err(ReorderError::Missing(u64::MAX - 2..u64::MAX))]
    );
}

#[tokio::test]
async fn give_up_range_fails_like_a_send_when_the_receiver_is_gone() {
    let (tx, rx) = channel::<u8>(2);
    drop(rx);
    let err = tx.give_up_range(7..9).unwrap_err();
    assert_eq!(err.seq, 7);
}

// ---------------------------------------------------------------------------------------
// Lanes: a dead producer that owns a stripe
// ---------------------------------------------------------------------------------------

/// Issue 9, repro 2: four striped producers, window 4; one dies after 10 values. The
/// others used to park at the window holding their senders, and the receiver waited for
/// ever. Multi-thread, so the lanes really run in parallel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lane_among_striped_producers_costs_one_missing_per_seq() {
    quiet_injected_panics();
    let (tx, rx) = channel(4);
    let rounds = 2_000u64;
    for producer in 0..4u64 {
        let mut lane = tx.lane(producer, 4);
        tokio::spawn(async move {
            for round in 0..rounds {
                if producer == 2 && round == 10 {
                    panic!("injected: producer 2 dies");
                }
                let seq = lane.next_seq();
                lane.send(seq).await.unwrap();
            }
        });
    }
    drop(tx);
    let got = drain(rx).await;
    // Producer 3 sends the highest seq: 4 × (rounds - 1) + 3.
    let missing = accounted(0, 4 * rounds, &got);
    let dead: Vec<u64> = (10..rounds).map(|round| 4 * round + 2).collect();
    assert_eq!(missing, dead);
}

/// The same with no head-of-line timeout and every other producer parked at the window
/// when the lane dies: the dead lane's positions are reported as soon as a parked sender
/// shows that something comes after them.
#[tokio::test(start_paused = true)]
async fn a_lane_dropped_while_its_siblings_are_parked_frees_them() {
    let (tx, rx) = channel(1);
    let dead = tx.lane(0, 2); // 0, 2, 4, …
    let mut live = tx.lane(1, 2); // 1, 3, 5, …
    drop(tx);
    let sender = tokio::spawn(async move {
        for _ in 0..50 {
            let seq = live.next_seq();
            live.send(seq).await.unwrap(); // parks: seq 0 is never sent
        }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(!sender.is_finished(), "the live lane waits behind seq 0");
    drop(dead); // its producer is gone: 0, 2, 4, … will never come
    let got = drain(rx).await;
    sender.await.unwrap();
    let missing = accounted(0, 100, &got);
    assert_eq!(missing, (0..100).step_by(2).collect::<Vec<_>>());
}

/// A lane whose task is cancelled (aborted) mid-send gives its stripe up too.
#[tokio::test(start_paused = true)]
async fn an_aborted_lane_task_gives_its_stripe_up() {
    let (tx, rx) = channel(2);
    let mut doomed = tx.lane(1, 3); // 1, 4, 7, …
    let doomed_task = tokio::spawn(async move {
        let seq = doomed.next_seq();
        doomed.send(seq).await.unwrap(); // 1: admitted
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    let mut others = Vec::new();
    for first in [0, 2] {
        let mut lane = tx.lane(first, 3);
        others.push(tokio::spawn(async move {
            while lane.next_seq() < 30 {
                let seq = lane.next_seq();
                lane.send(seq).await.unwrap();
            }
        }));
    }
    drop(tx);
    tokio::time::sleep(Duration::from_millis(10)).await;
    doomed_task.abort();
    let got = drain(rx).await;
    for task in others {
        task.await.unwrap();
    }
    // The others sent up to 29 (lane 2: 2, 5, …, 29); the dead stripe is reported up to
    // there and no further.
    let missing = accounted(0, 30, &got);
    assert_eq!(missing, (4..30).step_by(3).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_lane_sends_along_its_stripe_and_fails_like_a_sender() {
    within(async {
        let (tx, mut rx) = channel(16);
        let mut lane = tx.lane(3, 5);
        assert_eq!((lane.next_seq(), lane.step()), (3, 5));
        tx.give_up_range(0..3).unwrap();
        lane.send('a').await.unwrap();
        assert_eq!(lane.next_seq(), 8);
        assert_eq!(rx.recv().await, Some(Err(ReorderError::Missing(0..3))));
        assert_eq!(rx.recv().await, Some(Ok('a')));
        // Beyond the window: try_send hands the value back and the lane keeps its seq.
        let mut far = tx.lane(100, 1);
        match far.try_send('z') {
            Err(TrySendError::Full(e)) => assert_eq!((e.seq, e.value), (100, 'z')),
            other => panic!("expected Full, got {other:?}"),
        }
        assert_eq!(far.next_seq(), 100);
        drop(rx);
        let err = lane.send('b').await.unwrap_err();
        assert_eq!((err.seq, err.value), (8, 'b'));
    })
    .await;
}

#[tokio::test]
async fn a_lane_at_u64_max_is_exhausted_not_overflowed() {
    let (tx, mut rx) = channel_with(ReorderConfig::new().first_seq(u64::MAX - 4));
    let mut lane = tx.lane(u64::MAX - 4, 2); // MAX-4, MAX-2, MAX
    let mut other = tx.lane(u64::MAX - 3, 2); // MAX-3, MAX-1
    for v in 0..3u8 {
        lane.send(v).await.unwrap();
    }
    assert!(lane.is_exhausted());
    assert_eq!(lane.next_seq(), u64::MAX);
    let err = lane.send(9).await.unwrap_err();
    assert_eq!((err.seq, err.value), (u64::MAX, 9));
    other.send(10).await.unwrap();
    drop(other); // gives MAX-1 up
    drop((lane, tx));
    let got = within(async {
        let mut got = Vec::new();
        while let Some(item) = rx.recv().await {
            got.push(item);
        }
        got
    })
    .await;
    assert_eq!(
        got,
        [
            Ok(0),
            Ok(10),
            Ok(1),
            Err(ReorderError::Missing(u64::MAX - 1..u64::MAX)),
            Ok(2)
        ]
    );
}

#[test]
#[should_panic(expected = "step must be at least 1")]
fn a_lane_with_step_zero_panics() {
    let (tx, _rx) = channel::<u8>(4);
    let _lane = tx.lane(0, 0);
}

/// A stripe is open-ended: with no sender waiting and nothing after it, its positions are
/// not reported (the receiver waits, as for any seq nobody sent yet); once every sender is
/// gone the stream ends after the highest seq sent or given up explicitly.
#[test]
fn an_open_stripe_is_reported_only_as_far_as_something_comes_after_it() {
    let (tx, rx) = channel::<u64>(8);
    let mut rx = spawn(rx);
    tx.lane(0, 2).give_up(); // 0, 2, 4, … given up
    assert_pending!(rx.poll_next(), "nothing is known to come after seq 0");
    tx.try_send(1, 1).unwrap();
    assert!(rx.is_woken());
    assert_ready_eq!(rx.poll_next(), Some(Err(ReorderError::Missing(0..1))));
    assert_ready_eq!(rx.poll_next(), Some(Ok(1)));
    assert_pending!(rx.poll_next());
    tx.give_up_range(5..6).unwrap();
    assert!(rx.is_woken());
    assert_ready_eq!(rx.poll_next(), Some(Err(ReorderError::Missing(2..3))));
    assert_pending!(rx.poll_next(), "3 may still come");
    drop(tx);
    assert!(rx.is_woken());
    assert_ready_eq!(rx.poll_next(), Some(Err(ReorderError::Missing(3..6))));
    assert!(rx.is_terminated());
    assert_ready_eq!(rx.poll_next(), None);
}

// ---------------------------------------------------------------------------------------
// Smaller contract bugs
// ---------------------------------------------------------------------------------------

/// Issue 9, repro 5: the lower bound of `size_hint` counted a give-up that is then dropped
/// silently.
#[tokio::test]
async fn size_hint_lower_bound_never_exceeds_what_comes_out() {
    let (tx, rx) = channel(4);
    tx.send(0, 'a').await.unwrap();
    tx.give_up(0).unwrap();
    drop(tx);
    let (lower, _) = rx.size_hint();
    let got = drain(rx).await;
    assert_eq!(got, [Ok('a')]);
    assert!(
        lower <= got.len(),
        "size_hint lower {lower} > {} items",
        got.len()
    );
}

/// Issue 9, repro 6: `channel(usize::MAX)` has a window, and says so.
#[test]
fn a_window_of_usize_max_is_still_a_window() {
    let (tx, _rx) = channel::<u8>(usize::MAX);
    assert_eq!(tx.window(), Some(usize::MAX as u64));
    let (tx, _rx) = channel_with::<u8>(ReorderConfig::new());
    assert_eq!(tx.window(), None);
}

/// Issue 9, repro 3: `head_timeout(Duration::MAX)` panicked with an overflow when the
/// clock started. A timeout too long to represent means "never".
#[tokio::test(start_paused = true)]
async fn a_head_timeout_of_duration_max_never_fires_and_never_panics() {
    let config = ReorderConfig::new().window(4).head_timeout(Duration::MAX);
    let (tx, rx) = channel_with(config);
    let mut rx = spawn(rx);
    tx.send(1, 'b').await.unwrap();
    assert_pending!(rx.poll_next());
    tokio::time::sleep(Duration::from_secs(10 * 365 * 24 * 3600)).await;
    assert_pending!(rx.poll_next(), "ten years on, still waiting for seq 0");
    tx.send(0, 'a').await.unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok('a')));
    assert_ready_eq!(rx.poll_next(), Some(Ok('b')));
}

/// A head-of-line timeout still skips a never-sent head; the markers beyond it stop the
/// skip, so given-up seqs are reported as such and nothing later is jumped over.
#[tokio::test(start_paused = true)]
async fn the_head_timeout_skips_only_up_to_the_first_known_seq() {
    let config = ReorderConfig::new()
        .window(4)
        .head_timeout(Duration::from_secs(1));
    let (tx, rx) = channel_with(config);
    tx.give_up_range(3..5).unwrap(); // 0..3 are never sent; nothing else is known
    let pending = tx.clone();
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        pending.send(5, 'f').await.unwrap();
    });
    drop(tx);
    let got = drain(rx).await;
    late.await.unwrap();
    assert_eq!(
        got,
        [
            Err(ReorderError::Missing(0..3)),
            Err(ReorderError::Missing(3..5)),
            Ok('f')
        ]
    );
}

/// Issue 9, repro 6: a waker whose last reference owns the receiver was dropped while the
/// channel's lock was held; dropping the receiver takes that lock, so it deadlocked.
#[test]
fn a_replaced_waker_that_owns_the_receiver_is_dropped_outside_the_lock() {
    struct Owning(#[allow(dead_code)] Receiver<u8>);
    impl Wake for Owning {
        fn wake(self: Arc<Self>) {}
    }
    let done = std::sync::mpsc::channel();
    let (finished, wait) = done;
    std::thread::spawn(move || {
        let (tx, rx) = channel::<u8>(1);
        let owner = Arc::new(Owning(rx));
        let mut send = Box::pin(tx.send(5, 5)); // beyond the window: parks
        let waker = Waker::from(owner);
        assert!(send
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        drop(waker); // the parked entry now holds the last reference to the receiver
        let other = Waker::noop();
        // Replacing the waker drops the receiver, which closes the channel.
        let polled = send.as_mut().poll(&mut Context::from_waker(other));
        assert!(matches!(polled, Poll::Pending | Poll::Ready(Err(_))));
        finished.send(()).unwrap();
    });
    wait.recv_timeout(Duration::from_secs(10))
        .expect("deadlock: a waker was dropped under the channel's lock");
}

// ---------------------------------------------------------------------------------------
// Found in review
// ---------------------------------------------------------------------------------------

/// A producer that retries `try_send` beside a dead stripe: a seq turned away at the window
/// is a seq known to come, so the dead positions below it are reported and it gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_try_send_loop_beside_a_dead_stripe_gets_through() {
    let (tx, rx) = channel::<u64>(1);
    let mut live = tx.lane(0, 2);
    tx.lane(1, 2).give_up(); // 1, 3, 5, … will never come
    drop(tx);
    let producer = tokio::spawn(async move {
        for _ in 0..3 {
            loop {
                let seq = live.next_seq();
                match live.try_send(seq) {
                    Ok(()) => break,
                    Err(TrySendError::Full(_)) => {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
        }
    });
    let got = drain(rx).await;
    within(producer).await.unwrap();
    assert_eq!(accounted(0, 5, &got), [1, 3]);
}

/// A head that arrived after its deadline but before the receiver looked is yielded, not
/// skipped: the clock skips only once what has arrived has been looked through.
#[tokio::test(start_paused = true)]
async fn a_head_that_arrived_after_the_deadline_but_before_the_poll_is_yielded() {
    let config = ReorderConfig::new()
        .window(8)
        .head_timeout(Duration::from_millis(100));
    let (tx, rx) = channel_with(config);
    let mut rx = spawn(rx);
    tx.send(5, 5u64).await.unwrap();
    assert_pending!(rx.poll_next());
    tokio::time::sleep(Duration::from_millis(150)).await;
    tx.send(2, 2).await.unwrap();
    tx.send(0, 0).await.unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok(0)));
    // Head 1 is missing now; its own clock starts and then skips it, not 2.
    assert_pending!(rx.poll_next());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_ready_eq!(rx.poll_next(), Some(Err(ReorderError::Missing(1..2))));
    assert_ready_eq!(rx.poll_next(), Some(Ok(2)));
}

/// Blocks are finite lanes: a dropped block gives up only the rest of its block, so the
/// seqs after it stay free for the next block's producer, and nothing comes back `Late`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_or_dead_block_gives_up_only_the_rest_of_its_block() {
    quiet_injected_panics();
    let (tx, rx) = channel(4);
    for b in 0..10u64 {
        let mut block = tx.block(b * 10..b * 10 + 10);
        tokio::spawn(async move {
            while !block.is_exhausted() {
                let seq = block.next_seq();
                if b == 3 && seq == 35 {
                    panic!("injected: block 3 dies at 35");
                }
                block.send(seq).await.unwrap();
            }
            assert_eq!(block.next_seq(), b * 10 + 9, "the last seq it sent");
        });
    }
    let mut empty = tx.block(7..7);
    assert!(empty.is_exhausted());
    assert!(empty.send(0).await.is_err(), "an empty block owns nothing");
    drop((empty, tx));
    let got = drain(rx).await;
    assert_eq!(accounted(0, 100, &got), (35..40).collect::<Vec<_>>());
}

/// Without a window the receiver publishes its watermark lazily (no sender waits for it):
/// `Sender::next_seq` may lag while items stream, never runs ahead of what was received,
/// and catches up as soon as the receiver has nothing to yield.
#[test]
fn an_unwindowed_senders_next_seq_lags_at_most_until_the_receiver_waits() {
    let (tx, rx) = channel_with::<u64>(ReorderConfig::new());
    let mut rx = spawn(rx);
    for seq in 0..200 {
        tx.try_send(seq, seq).unwrap();
    }
    for seq in 0..200 {
        assert_ready_eq!(rx.poll_next(), Some(Ok(seq)));
        let published = tx.next_seq();
        assert!(published <= seq + 1, "ran ahead: {published} after {seq}");
        assert!(seq + 1 - published <= 64, "lagged by more than 64");
    }
    assert_pending!(rx.poll_next());
    assert_eq!(tx.next_seq(), 200, "published once the receiver waits");
}

/// The same lag bound from a start that is neither 0 nor a multiple of 64 and runs into
/// `u64::MAX`: the receiver counts 64 moves from the last publication (wrapping), and the
/// seq after which nothing can come is published once the receiver waits.
#[test]
fn an_unwindowed_senders_next_seq_lags_at_most_64_up_to_u64_max() {
    let first = u64::MAX - 200;
    let (tx, rx) = channel_with::<u64>(ReorderConfig::new().first_seq(first));
    let mut rx = spawn(rx);
    for seq in first..=u64::MAX {
        tx.try_send(seq, seq).unwrap();
    }
    for seq in first..u64::MAX {
        assert_ready_eq!(rx.poll_next(), Some(Ok(seq)));
        let published = tx.next_seq();
        assert!(published <= seq + 1, "ran ahead: {published} after {seq}");
        assert!(seq + 1 - published <= 64, "lagged by more than 64");
    }
    assert_ready_eq!(rx.poll_next(), Some(Ok(u64::MAX)));
    assert_pending!(rx.poll_next());
    assert_eq!(tx.next_seq(), u64::MAX, "published once the receiver waits");
}

/// A value sent for a seq that was given up but not yet reported wins; once the give-up
/// has been reported, a value for it is `Late`.
#[tokio::test]
async fn a_value_wins_over_an_unreported_give_up_and_is_late_after_a_reported_one() {
    within(async {
        let (tx, rx) = channel(8);
        tx.give_up(2).unwrap(); // not reported yet: 0 and 1 are still to come
        tx.send(2, 'c').await.unwrap();
        tx.give_up(0).unwrap();
        tx.send(1, 'b').await.unwrap();
        let mut rx = spawn(rx);
        assert_ready_eq!(rx.poll_next(), Some(Err(ReorderError::Missing(0..1))));
        assert_ready_eq!(rx.poll_next(), Some(Ok('b')));
        assert_ready_eq!(rx.poll_next(), Some(Ok('c')), "the value won");
        tx.send(0, 'a').await.unwrap(); // 0 was reported missing
        assert_ready_eq!(
            rx.poll_next(),
            Some(Err(ReorderError::Late { seq: 0, value: 'a' }))
        );
    })
    .await;
}

#[tokio::test]
async fn lane_skip_gives_up_one_seq_and_fails_without_moving_once_closed() {
    within(async {
        let (tx, mut rx) = channel(8);
        let mut lane = tx.lane(0, 1);
        lane.skip().unwrap();
        lane.send('b').await.unwrap();
        assert_eq!(lane.next_seq(), 2);
        assert_eq!(rx.recv().await, Some(Err(ReorderError::Missing(0..1))));
        assert_eq!(rx.recv().await, Some(Ok('b')));
        drop(rx);
        assert_eq!(lane.skip().unwrap_err().seq, 2);
        assert_eq!(lane.next_seq(), 2, "a failed skip does not move the lane");
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// `Sender::next_seq` through give-ups, lane drops and skipped heads
// ---------------------------------------------------------------------------------------

/// What a scenario does next for one block of seqs.
#[derive(Clone, Copy, Debug)]
enum Event {
    Send(u64),
    GiveUp(u64),
    /// Sends at the block's lane's next seq.
    LaneSend(usize),
    /// Drops the block's lane: the rest of its block is given up.
    LaneDrop(usize),
}

const HEAD_TIMEOUT: Duration = Duration::from_millis(5);

/// The scenarios poll the receiver by hand many times per poll of the test's task, so
/// they run outside tokio's coop budget (which would make the mpsc look empty).
use tokio::task::unconstrained;

/// Where a scenario's seqs start.
#[derive(Clone, Copy, Debug)]
enum Start {
    Zero,
    At(u64),
    /// So that the last seq is `u64::MAX`.
    EndingAtMax,
}

/// Runs a random mix of producers, all through `try_send`, over 40 blocks of seqs —
/// long runs sent in order (the receiver's fast path), short blocks shuffled, with
/// give-ups, with a seq lost for good (skipped by the head-of-line clock; without a
/// window only), or owned by a `Lane` that dies part-way — in bursts of sends and bursts
/// of polls of the receiver, by hand. After every poll, checks `Sender::next_seq`
/// against `Receiver::next_seq`: equal with a window; without one never ahead, at most
/// 64 behind after an item, and caught up whenever the receiver waits. At the end,
/// checks that every seq was accounted for once, in order.
async fn published_watermark_scenario(seed: u64, start: Start, window: Option<usize>) {
    use rand::seq::SliceRandom;
    use rand::{rngs::StdRng, RngExt, SeedableRng};
    use std::collections::{BTreeSet, VecDeque};

    const BLOCKS: usize = 40;
    let mut rng = StdRng::seed_from_u64(seed);
    // Each block's mode and length: in-order runs long enough to cross the lazy
    // publication's 64, the rest short.
    let layout: Vec<(u32, u64)> = (0..BLOCKS)
        .map(|b| {
            let mode = match rng.random_range(0..5) {
                _ if b == BLOCKS - 1 => 0,
                // With a window, a lost head behind which only `try_send`s come (turned
                // away, not parked) starts no clock: it would block for good, as
                // documented.
                3 if window.is_some() => 1,
                mode => mode,
            };
            let len = match mode {
                0 | 4 => rng.random_range(1..=150),
                _ => rng.random_range(2..=8),
            };
            (mode, len)
        })
        .collect();
    let total: u64 = layout.iter().map(|&(_, len)| len).sum();
    let first = match start {
        Start::Zero => 0,
        Start::At(first) => first,
        Start::EndingAtMax => u64::MAX - (total - 1),
    };
    let last = first + (total - 1);
    let mut config = ReorderConfig::new()
        .first_seq(first)
        .head_timeout(HEAD_TIMEOUT);
    if let Some(w) = window {
        config = config.window(w);
    }
    let (tx, rx) = channel_with::<u64>(config);
    let mut tx = Some(tx);
    let mut rx = spawn(rx);
    let mut lanes = Vec::new();
    let mut queues: Vec<VecDeque<Event>> = Vec::new();
    let mut valued = BTreeSet::new(); // seqs that get a value (maybe late)
    let mut lost = BTreeSet::new();
    let mut block_start = first;
    for &(mode, len) in &layout {
        let seqs: Vec<u64> = (0..len).map(|i| block_start + i).collect();
        let mut events: Vec<Event> = match mode {
            // In order.
            0 => seqs.iter().map(|&s| Event::Send(s)).collect(),
            // Shuffled.
            1 => {
                let mut events: Vec<_> = seqs.iter().map(|&s| Event::Send(s)).collect();
                events.shuffle(&mut rng);
                events
            }
            // Shuffled, some given up.
            2 => {
                let mut events: Vec<_> = seqs
                    .iter()
                    .map(|&s| {
                        if rng.random_bool(0.4) {
                            Event::GiveUp(s)
                        } else {
                            Event::Send(s)
                        }
                    })
                    .collect();
                events.shuffle(&mut rng);
                events
            }
            // One seq lost for good: only the clock gets past it.
            3 => {
                let gone = seqs[rng.random_range(0..seqs.len())];
                lost.insert(gone);
                seqs.iter()
                    .filter(|&&s| s != gone)
                    .map(|&s| Event::Send(s))
                    .collect()
            }
            // A lane that owns the block and dies after `k` sends, in order.
            _ => {
                let k = rng.random_range(0..=len);
                let lane = lanes.len();
                lanes.push(Some(
                    tx.as_ref().unwrap().block(block_start..block_start + len),
                ));
                valued.extend(block_start..block_start + k);
                let mut events = vec![Event::LaneSend(lane); k as usize];
                events.push(Event::LaneDrop(lane));
                events
            }
        };
        valued.extend(events.iter().filter_map(|e| match e {
            Event::Send(s) => Some(*s),
            _ => None,
        }));
        queues.push(events.drain(..).collect());
        block_start = block_start.wrapping_add(len);
    }

    // Tries the `i`th event of block `b` (a lane's only in their order); whether done.
    let try_event = |b: usize,
                     i: usize,
                     queues: &mut Vec<VecDeque<Event>>,
                     lanes: &mut Vec<Option<reorder::Lane<u64>>>,
                     tx: &reorder::Sender<u64>|
     -> bool {
        let event = queues[b][i];
        let done = match event {
            Event::LaneSend(_) | Event::LaneDrop(_) if i > 0 => false,
            Event::Send(s) => match tx.try_send(s, s) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => false,
                Err(e) => panic!("{e}"),
            },
            Event::GiveUp(s) => {
                tx.give_up(s).unwrap();
                true
            }
            Event::LaneSend(l) => {
                let lane = lanes[l].as_mut().unwrap();
                let s = lane.next_seq();
                match lane.try_send(s) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_)) => false,
                    Err(e) => panic!("{e}"),
                }
            }
            Event::LaneDrop(l) => {
                lanes[l] = None;
                true
            }
        };
        if done {
            queues[b].remove(i);
        }
        done
    };
    let active = |queues: &Vec<VecDeque<Event>>| -> Vec<usize> {
        (0..queues.len())
            .filter(|&b| !queues[b].is_empty())
            .take(3)
            .collect()
    };

    // Bookkeeping in u128, so that the seq after `u64::MAX` is representable.
    let mut expected = u128::from(first);
    let mut skipped = BTreeSet::new(); // seqs reported `Missing`
    let mut steps = 0u32;
    'run: loop {
        steps += 1;
        assert!(steps < 100_000, "seed {seed}: the scenario is stuck");
        // A burst of producer steps among the lowest blocks with work left, or only the
        // lowest one (so that long runs arrive in order, for the fast path).
        if let Some(sender) = tx.as_ref() {
            let spread = if rng.random_bool(0.5) { 1 } else { 3 };
            for _ in 0..rng.random_range(0..300) {
                let active = active(&queues);
                if active.is_empty() {
                    break;
                }
                let b = active[rng.random_range(0..active.len().min(spread))];
                try_event(b, 0, &mut queues, &mut lanes, sender);
            }
        }
        // A burst of polls, until the receiver waits or the burst ends.
        let mut waits = false;
        for _ in 0..rng.random_range(1..300) {
            let polled = rx.poll_next();
            let watermark = u128::from(rx.next_seq());
            // Once every sender is gone nobody can see the watermark.
            let published = tx
                .as_ref()
                .map_or(watermark, |tx| u128::from(tx.next_seq()));
            let Poll::Ready(item) = polled else {
                assert_eq!(published, watermark, "seed {seed}: caught up when waiting");
                waits = true;
                break;
            };
            assert!(published <= watermark, "seed {seed}: ran ahead");
            if window.is_some() {
                assert_eq!(
                    published, watermark,
                    "seed {seed}: published with each item"
                );
            } else {
                assert!(watermark - published <= 64, "seed {seed}: lagged > 64");
            }
            match item {
                None => break 'run,
                Some(Ok(v)) => {
                    assert_eq!(u128::from(v), expected, "seed {seed}: out of position");
                    assert!(valued.contains(&v), "seed {seed}: {v} was never sent");
                    expected += 1;
                }
                Some(Err(ReorderError::Missing(range))) => {
                    assert_eq!(u128::from(range.start), expected, "seed {seed}");
                    assert!(range.end > range.start);
                    skipped.extend(range.clone());
                    expected = u128::from(range.end);
                }
                Some(Err(ReorderError::Late { seq, value })) => {
                    // Only a value whose seq the clock skipped before it was sent.
                    assert!(skipped.contains(&seq), "seed {seed}: {seq} late");
                    assert_eq!(seq, value);
                }
                Some(Err(other)) => panic!("seed {seed}: {other:?}"),
            }
        }
        if !waits || rx.is_woken() {
            continue; // more to poll
        }
        // The receiver waits: is any producer able to move?
        let Some(sender) = tx.as_ref() else { continue };
        let moved = active(&queues).into_iter().any(|b| {
            (0..queues[b].len()).any(|i| try_event(b, i, &mut queues, &mut lanes, sender))
        });
        if moved {
            continue;
        }
        if lost.range(rx.next_seq()..).next().is_some() {
            // Stuck behind a lost seq: let the clock skip it.
            tokio::time::advance(HEAD_TIMEOUT).await;
        } else if queues.iter().all(VecDeque::is_empty) {
            tx = None;
            lanes.clear();
        } else {
            panic!(
                "seed {seed}: stuck at {} with work left: {:?}",
                rx.next_seq(),
                active(&queues)
            );
        }
    }
    // The end came after the last seq, with every seq accounted for.
    assert_eq!(expected, u128::from(last) + 1, "seed {seed}");
    for seq in first..=last {
        if !valued.contains(&seq) {
            assert!(skipped.contains(&seq), "seed {seed}: {seq} never reported");
        }
    }
    for seq in &lost {
        assert!(
            skipped.contains(seq),
            "seed {seed}: lost {seq} never skipped"
        );
    }
}

fn start_for(seed: u64) -> Start {
    [Start::Zero, Start::At(1_000 + seed), Start::EndingAtMax][seed as usize % 3]
}

#[tokio::test(start_paused = true)]
async fn an_unwindowed_senders_next_seq_stays_within_64_through_give_ups_lanes_and_skips() {
    for seed in 0..24 {
        let scenario = published_watermark_scenario(seed, start_for(seed), None);
        within(unconstrained(scenario)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_windowed_senders_next_seq_equals_the_receivers_through_give_ups_lanes_and_skips() {
    for seed in 0..24 {
        let window = Some(1 + seed as usize % 9);
        let scenario = published_watermark_scenario(seed, start_for(seed), window);
        within(unconstrained(scenario)).await;
    }
}
