//! Hostile review of the reorder channel, starting with the commit that lets a `try_send`
//! turned away at the window start the head-of-line clock: the clock's target when other
//! evidence exists, `u64::MAX`, stale attempts, slow heads that turn up late, and the
//! races between a turned-away `try_send` and the receiver; then the documented promises
//! the other channel tests leave alone (cancellation at every await, producers dying at
//! the worst moment, receivers never polled or dropped while senders wait).

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use futures::stream::{FusedStream, Stream, StreamExt};
use reorder::{channel, channel_with, ReorderConfig, ReorderError, TrySendError};
use tokio::time::Instant;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready_eq};

/// Fails the test instead of hanging it. Under paused time the runtime auto-advances to
/// this deadline as soon as everything is idle, so a lost wake-up fails at once.
async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(600), fut)
        .await
        .expect("test timed out: the channel hung")
}

/// Retries `try_send` every `every` until it gets in; how often it was turned away.
async fn try_send_until_in<T>(
    tx: &reorder::Sender<T>,
    seq: u64,
    mut value: T,
    every: Duration,
) -> u32 {
    let mut turned_away = 0;
    loop {
        match tx.try_send(seq, value) {
            Ok(()) => return turned_away,
            Err(TrySendError::Full(rejected)) => {
                value = rejected.value;
                turned_away += 1;
                tokio::time::sleep(every).await;
            }
            Err(TrySendError::Closed(_)) => panic!("receiver gone"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The try_send clock (commit 730a1dd)
// ---------------------------------------------------------------------------------------

/// A `try_send` turned away at the window must only *start* the clock where nothing else
/// would; it must not shrink the skip of a gap before a held value. The docs: "once it has
/// blocked something known to come after it (a held value, …) for `d`, it is skipped as
/// `Missing` up to that seq — so one timeout per such gap". Here seqs 0..3 are dead, 3..8
/// are held, and a producer was turned away at 8: one timeout, one `Missing(0..3)`.
#[tokio::test(start_paused = true)]
async fn a_turned_away_try_send_does_not_split_the_skip_before_a_held_value() {
    let timeout = Duration::from_millis(100);
    let (tx, mut rx) = channel_with(ReorderConfig::new().window(8).head_timeout(timeout));
    for seq in 3..8u64 {
        tx.try_send(seq, seq).unwrap();
    }
    assert!(matches!(tx.try_send(8, 8), Err(TrySendError::Full(_))));
    let start = Instant::now();
    assert_eq!(
        within(rx.recv()).await,
        Some(Err(ReorderError::Missing(0..3))),
        "the gap before the held 3 is one Missing"
    );
    assert_eq!(start.elapsed(), timeout, "one timeout for the whole gap");
    for seq in 3..8u64 {
        assert_eq!(rx.recv().await, Some(Ok(seq)));
    }
    tx.try_send(8, 8).unwrap();
    assert_eq!(rx.recv().await, Some(Ok(8)));
}

/// The same with `window(usize::MAX)`: the producer turned away at `u64::MAX` gets in once
/// the dead head 0 is skipped and is then held; the gap 1..u64::MAX before it must be
/// skipped in one timeout, not one seq per timeout (which would never end).
#[tokio::test(start_paused = true)]
async fn a_window_of_usize_max_skips_the_gap_before_a_held_u64_max_in_one_timeout() {
    let timeout = Duration::from_millis(100);
    let (tx, mut rx) = channel_with::<char>(
        ReorderConfig::new()
            .window(usize::MAX)
            .head_timeout(timeout),
    );
    let start = Instant::now();
    let producer = {
        let tx = tx.clone();
        tokio::spawn(async move {
            try_send_until_in(&tx, u64::MAX, 'z', Duration::from_millis(7)).await
        })
    };
    assert_eq!(
        within(rx.recv()).await,
        Some(Err(ReorderError::Missing(0..1)))
    );
    assert_eq!(start.elapsed(), timeout);
    assert!(within(producer).await.unwrap() > 0, "turned away at first");
    assert_eq!(
        within(rx.recv()).await,
        Some(Err(ReorderError::Missing(1..u64::MAX)))
    );
    assert!(start.elapsed() <= 3 * timeout);
    assert_eq!(rx.recv().await, Some(Ok('z')));
    assert_eq!(rx.next_seq(), u64::MAX);
    drop(tx);
    assert_eq!(within(rx.recv()).await, None);
}

/// `first_seq` near `u64::MAX`, `window(1)`: seq `u64::MAX - 1` is dead and the only
/// producer retries `try_send(u64::MAX)`. The turned-away attempt at `u64::MAX` must start
/// the clock as one at any other seq does (it was recorded as "one past", saturated, and
/// read back as `u64::MAX - 1`, which is not beyond the head: the consumer hung).
#[tokio::test(start_paused = true)]
async fn a_try_send_turned_away_at_u64_max_starts_the_clock() {
    let timeout = Duration::from_millis(100);
    let config = ReorderConfig::new()
        .first_seq(u64::MAX - 1)
        .window(1)
        .head_timeout(timeout);
    let (tx, mut rx) = channel_with::<char>(config);
    let producer = tokio::spawn(async move {
        try_send_until_in(&tx, u64::MAX, 'z', Duration::from_millis(7)).await
    });
    let start = Instant::now();
    assert_eq!(
        within(rx.recv()).await,
        Some(Err(ReorderError::Missing(u64::MAX - 1..u64::MAX)))
    );
    assert_eq!(start.elapsed(), timeout);
    assert_eq!(within(rx.recv()).await, Some(Ok('z')));
    assert!(within(producer).await.unwrap() > 0);
    assert_eq!(within(rx.recv()).await, None);
    assert!(rx.is_terminated());
}

/// A head that is merely slow, skipped because a `try_send` producer waits behind it,
/// comes back `Late` when it turns up: never lost, never yielded twice, and only the slow
/// head is skipped (the try_send producer's own seqs follow within the timeout).
#[tokio::test(start_paused = true)]
async fn a_slow_head_skipped_for_a_try_send_is_late_never_lost_or_duplicated() {
    let timeout = Duration::from_millis(100);
    let (tx, rx) = channel_with(ReorderConfig::new().window(1).head_timeout(timeout));
    let slow = tx.clone();
    let slow = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        slow.send(0, 'a').await.unwrap();
    });
    let fast = tx.clone();
    let fast = tokio::spawn(async move {
        for (seq, value) in [(1, 'b'), (2, 'c'), (3, 'd')] {
            try_send_until_in(&fast, seq, value, Duration::from_millis(7)).await;
        }
    });
    drop(tx);
    let got: Vec<_> = within(rx.collect()).await;
    within(slow).await.unwrap();
    within(fast).await.unwrap();
    let missing: Vec<_> = got
        .iter()
        .filter_map(|item| match item {
            Err(ReorderError::Missing(range)) => Some(range.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        missing,
        vec![std::ops::Range { start: 0, end: 1 }],
        "only the slow head is skipped: {got:?}"
    );
    let late: Vec<_> = got
        .iter()
        .filter(|item| matches!(item, Err(ReorderError::Late { .. })))
        .collect();
    assert_eq!(late, [&Err(ReorderError::Late { seq: 0, value: 'a' })]);
    let values: Vec<_> = got
        .iter()
        .filter_map(|item| item.as_ref().ok().copied())
        .collect();
    assert_eq!(values, ['b', 'c', 'd'], "in order, each once");
    assert_eq!(got.len(), 5);
}

/// An attempt is evidence only while its seq is beyond the head: once the producer got in
/// and its seq was yielded, a head that is simply not sent yet (nothing held, nobody
/// parked, nothing turned away since) waits however long, as documented.
#[tokio::test(start_paused = true)]
async fn a_stale_attempt_below_the_head_never_skips_anything() {
    let timeout = Duration::from_millis(100);
    let (tx, rx) = channel_with(ReorderConfig::new().window(2).head_timeout(timeout));
    let mut rx = spawn(rx);
    assert!(matches!(tx.try_send(2, 2u64), Err(TrySendError::Full(_))));
    tx.try_send(0, 0).unwrap();
    tx.try_send(1, 1).unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok(0)));
    assert_ready_eq!(rx.poll_next(), Some(Ok(1)));
    tx.try_send(2, 2).unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok(2)));
    // Head 3: nothing known comes after it.
    assert_pending!(rx.poll_next());
    tokio::time::sleep(100 * timeout).await;
    assert_pending!(
        rx.poll_next(),
        "a stale attempt skipped a head nobody waits behind"
    );
    tx.try_send(3, 3).unwrap();
    assert_ready_eq!(rx.poll_next(), Some(Ok(3)));
}

/// `head_timeout(Duration::MAX)` means never, for the try_send clock too: ten years of a
/// producer turned away behind a dead head, no skip and no panic; a give-up then lets it
/// in at once.
#[tokio::test(start_paused = true)]
async fn a_head_timeout_of_duration_max_never_fires_for_turned_away_try_sends() {
    let (tx, mut rx) = channel_with(ReorderConfig::new().window(1).head_timeout(Duration::MAX));
    let ten_years = Duration::from_secs(10 * 365 * 24 * 3600);
    let waited = tokio::time::timeout(ten_years, async {
        loop {
            assert!(matches!(tx.try_send(1, 'b'), Err(TrySendError::Full(_))));
            tokio::select! {
                got = rx.recv() => return got,
                () = tokio::time::sleep(Duration::from_secs(24 * 3600)) => {}
            }
        }
    })
    .await;
    assert!(waited.is_err(), "something came out: {waited:?}");
    tx.give_up(0).unwrap();
    assert_eq!(
        within(rx.recv()).await,
        Some(Err(ReorderError::Missing(0..1)))
    );
    tx.try_send(1, 'b').unwrap();
    assert_eq!(within(rx.recv()).await, Some(Ok('b')));
}

/// `recv()` dropped again and again while the try_send clock runs (a `select!` loop that
/// times out every 30 ms): the clock lives in the receiver, so it is not restarted by the
/// cancellations and fires after exactly one timeout.
#[tokio::test(start_paused = true)]
async fn cancelling_recv_does_not_restart_the_try_send_clock() {
    let timeout = Duration::from_millis(100);
    let (tx, mut rx) = channel_with(ReorderConfig::new().window(1).head_timeout(timeout));
    assert!(matches!(tx.try_send(1, 'b'), Err(TrySendError::Full(_))));
    let start = Instant::now();
    let mut cancelled = 0;
    let first = within(async {
        loop {
            tokio::select! {
                got = rx.recv() => return got,
                () = tokio::time::sleep(Duration::from_millis(30)) => cancelled += 1,
            }
        }
    })
    .await;
    assert_eq!(first, Some(Err(ReorderError::Missing(0..1))));
    assert_eq!(start.elapsed(), timeout);
    assert_eq!(cancelled, 3);
    tx.try_send(1, 'b').unwrap();
    assert_eq!(rx.recv().await, Some(Ok('b')));
}

/// A slot dropped unsent behind a try_send-started clock is reported when it is dropped,
/// not when the clock would fire: give-ups cost no timeout.
#[tokio::test(start_paused = true)]
async fn a_dropped_slot_beats_the_try_send_clock() {
    let timeout = Duration::from_secs(10);
    let (tx, mut rx) = channel_with(ReorderConfig::new().window(1).head_timeout(timeout));
    let slot = tx.slot(0);
    let dies = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(slot); // its task fails
    });
    let producer = {
        let tx = tx.clone();
        tokio::spawn(async move { try_send_until_in(&tx, 1, 'b', Duration::from_millis(7)).await })
    };
    let start = Instant::now();
    assert_eq!(
        within(rx.recv()).await,
        Some(Err(ReorderError::Missing(0..1)))
    );
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(within(rx.recv()).await, Some(Ok('b')));
    within(dies).await.unwrap();
    within(producer).await.unwrap();
}

/// The race the commit opened: a `try_send` turned away on another thread while the
/// receiver is between registering its waker and reading the attempt. The first attempt
/// is the only one that wakes the receiver (later ones at the same seq do not raise the
/// maximum), so a lost wake-up would hang the round. Real time (a 1 ms clock), many rounds,
/// on two workers; only a hang fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turned_away_try_send_on_another_thread_always_wakes_the_receiver() {
    for round in 0..200u64 {
        let config = ReorderConfig::new()
            .first_seq(round)
            .window(1)
            .head_timeout(Duration::from_millis(1));
        let (tx, mut rx) = channel_with(config);
        let producer = std::thread::spawn(move || {
            let mut value = round;
            loop {
                match tx.try_send(round + 1, value) {
                    Ok(()) => return,
                    Err(TrySendError::Full(rejected)) => {
                        value = rejected.value;
                        std::thread::yield_now();
                    }
                    Err(TrySendError::Closed(_)) => panic!("receiver gone"),
                }
            }
        });
        let got = tokio::time::timeout(Duration::from_secs(10), async {
            (rx.recv().await, rx.recv().await, rx.recv().await)
        })
        .await
        .unwrap_or_else(|_| panic!("round {round}: the receiver never woke"));
        assert_eq!(
            got,
            (
                Some(Err(ReorderError::Missing(round..round + 1))),
                Some(Ok(round)),
                None
            )
        );
        producer.join().unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Receivers that are never polled, or dropped, while senders wait
// ---------------------------------------------------------------------------------------

/// A receiver never polled while a thousand honest senders wait beyond the window: fewer
/// than `window` values are ever in the channel; then the receiver is dropped and every
/// parked sender gets its own value back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpolled_receiver_keeps_honest_senders_out_then_hands_every_value_back() {
    const WINDOW: usize = 4;
    let (tx, rx) = channel::<String>(WINDOW);
    for seq in 1..WINDOW as u64 {
        tx.send(seq, seq.to_string()).await.unwrap(); // seq 0 never comes
    }
    let parked: Vec<_> = (WINDOW as u64..1_000 + WINDOW as u64)
        .map(|seq| {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(seq, seq.to_string()).await })
        })
        .collect();
    // Let every sender reach its wait.
    for _ in 0..50 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let (queued, _) = rx.size_hint();
    assert!(queued < WINDOW, "{queued} values in the channel");
    assert!(parked.iter().all(|task| !task.is_finished()));
    drop(rx);
    for (seq, task) in (WINDOW as u64..).zip(parked) {
        let err = within(task).await.unwrap().unwrap_err();
        assert_eq!((err.seq, err.into_inner()), (seq, seq.to_string()));
    }
    assert!(tx.is_closed());
}

/// A flood of duplicates, a producer bug: each is admitted (its seq is inside the window)
/// while the receiver is not polled. Once the receiver runs, it holds at most
/// `2 × window` values, skips its missing head to stay bounded, and hands every copy
/// back exactly once (first copy `Ok`, the rest `Duplicate` or `Late`).
#[tokio::test]
async fn a_duplicate_flood_is_handed_back_whole_and_holds_at_most_twice_the_window() {
    const WINDOW: usize = 4;
    const COPIES: u64 = 10_000;
    within(async {
        let (tx, rx) = channel::<u64>(WINDOW);
        for copy in 0..COPIES {
            tx.send(1, copy).await.unwrap(); // seq 0 is missing
        }
        drop(tx);
        let got: Vec<_> = rx.collect().await;
        let mut seen = vec![false; COPIES as usize];
        let mut missing = Vec::new();
        for item in &got {
            let copy = match item {
                Ok(copy) => *copy,
                Err(
                    ReorderError::Duplicate { seq: 1, value }
                    | ReorderError::Late { seq: 1, value },
                ) => *value,
                Err(ReorderError::Missing(range)) => {
                    missing.push(range.clone());
                    continue;
                }
                Err(other) => panic!("{other:?}"),
            };
            assert!(!seen[copy as usize], "copy {copy} came back twice");
            seen[copy as usize] = true;
        }
        assert!(seen.iter().all(|&s| s), "a copy was lost");
        assert_eq!(missing, vec![std::ops::Range { start: 0, end: 1 }]);
        assert_eq!(
            got[1],
            Ok(0),
            "the first copy is the value, right after the hole"
        );
    })
    .await;
    // The bound, on a receiver that reads as the flood comes.
    let (tx, mut rx) = channel::<u64>(WINDOW);
    for copy in 0..COPIES {
        tx.try_send(1, copy).unwrap();
    }
    drop(tx);
    let mut n = 0;
    while within(rx.recv()).await.is_some() {
        n += 1;
        assert!(rx.buffered_len() <= 2 * WINDOW);
    }
    assert_eq!(n, COPIES + 1);
    assert!(rx.peak_buffered() <= 2 * WINDOW, "{}", rx.peak_buffered());
}

// ---------------------------------------------------------------------------------------
// Producers that die at the worst moment
// ---------------------------------------------------------------------------------------

/// `Lane::send` cancelled while parked (a `select!` that times out): the lane keeps its
/// seq, a later `send` uses it, and the lane's drop gives up only the rest of its block.
#[tokio::test(start_paused = true)]
async fn a_lane_send_cancelled_while_parked_keeps_its_seq() {
    let (tx, mut rx) = channel::<char>(1);
    let mut lane = tx.block(1..3);
    tokio::select! {
        sent = lane.send('x') => panic!("seq 1 is beyond the window: {sent:?}"),
        () = tokio::time::sleep(Duration::from_millis(10)) => {}
    }
    assert_eq!(lane.next_seq(), 1, "the cancelled send took the seq");
    tx.send(0, 'a').await.unwrap();
    assert_eq!(within(rx.recv()).await, Some(Ok('a')));
    within(lane.send('b')).await.unwrap();
    assert_eq!(lane.next_seq(), 2);
    drop(lane); // seq 2 unsent
    drop(tx);
    let rest: Vec<_> = within(rx.collect()).await;
    assert_eq!(rest, [Ok('b'), Err(ReorderError::Missing(2..3))]);
}

/// A task that owns a `SeqSlot` and is aborted while its send is parked, with more senders
/// parked behind it and a head-of-line clock that would take 10 s: the slot's seq is
/// `Missing` at once and the senders behind it get in.
#[tokio::test(start_paused = true)]
async fn an_aborted_parked_slot_frees_the_senders_behind_it_without_the_clock() {
    let config = ReorderConfig::new()
        .window(1)
        .head_timeout(Duration::from_secs(10));
    let (tx, rx) = channel_with::<u64>(config);
    let slot = tx.slot(1);
    let doomed = tokio::spawn(async move { slot.send(1).await });
    let behind: Vec<_> = (2..5u64)
        .map(|seq| {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(seq, seq).await })
        })
        .collect();
    tx.send(0, 0).await.unwrap();
    drop(tx);
    tokio::time::sleep(Duration::from_millis(1)).await; // everyone parks
    doomed.abort();
    assert!(within(doomed).await.unwrap_err().is_cancelled());
    let start = Instant::now();
    let got: Vec<_> = within(rx.collect()).await;
    assert_eq!(
        got,
        [Ok(0), Err(ReorderError::Missing(1..2)), Ok(2), Ok(3), Ok(4)]
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "waited for the clock"
    );
    for task in behind {
        within(task).await.unwrap().unwrap();
    }
}

/// Every sender gone, after a `try_send` was turned away far ahead: the attempt is not a
/// seq "sent or given up", so the stream ends after the highest seq that was, reporting the
/// holes below it, and does not hang for the attempted seq.
#[tokio::test]
async fn every_sender_gone_after_a_turned_away_try_send_ends_after_the_last_seq_sent() {
    within(async {
        let (tx, rx) = channel::<u64>(3);
        tx.send(2, 2).await.unwrap();
        tx.give_up(1).unwrap();
        assert!(matches!(tx.try_send(50, 50), Err(TrySendError::Full(_))));
        let lane = tx.lane(10, 7); // dropped with the rest: open-ended, nothing known after
        drop(lane);
        drop(tx);
        let mut rx = rx;
        let mut got = Vec::new();
        while let Some(item) = rx.recv().await {
            got.push(item);
        }
        // The dead 0 and the given-up 1 touch: one range or two, tiling 0..2.
        let (last, holes) = got.split_last().expect("something came out");
        assert_eq!(last, &Ok(2), "{got:?}");
        let mut next = 0;
        for hole in holes {
            match hole {
                Err(ReorderError::Missing(range)) if range.start == next => next = range.end,
                other => panic!("{other:?} in {got:?}"),
            }
        }
        assert_eq!(next, 2, "{got:?}");
        assert!(rx.is_terminated());
        assert_eq!(rx.recv().await, None);
    })
    .await;
}

/// Holes between held values and an explicit give-up beyond the last value, every sender
/// gone: each hole `Missing` in position, the give-up reported too, and `is_terminated`
/// only once that last report is out.
#[tokio::test]
async fn is_terminated_waits_for_the_last_give_up_beyond_the_held_values() {
    within(async {
        let (tx, rx) = channel::<u64>(16);
        let mut rx = spawn(rx);
        for seq in [1u64, 4, 5] {
            tx.send(seq, seq).await.unwrap();
        }
        tx.give_up_range(8..10).unwrap();
        drop(tx);
        let mut got = Vec::new();
        while !rx.is_terminated() {
            match rx.poll_next() {
                std::task::Poll::Ready(Some(item)) => got.push(item),
                std::task::Poll::Ready(None) => break,
                std::task::Poll::Pending => panic!("pending with every sender gone"),
            }
        }
        assert_eq!(
            got,
            [
                Err(ReorderError::Missing(0..1)),
                Ok(1),
                Err(ReorderError::Missing(2..4)),
                Ok(4),
                Ok(5),
                Err(ReorderError::Missing(6..10)),
            ]
        );
        assert_ready_eq!(rx.poll_next(), None);
    })
    .await;
}

/// Many producers, each `try_send`-only with backoff (never parking) and each dying after
/// a random number of values without giving its seqs up, behind `window(2)` and a clock:
/// every value sent comes out once, in order or `Late`, nothing hangs, and a seq is
/// `Missing` only if it was not sent before it was skipped.
#[tokio::test(start_paused = true)]
async fn try_send_only_producers_dying_silently_never_hang_or_lose_values() {
    const PRODUCERS: u64 = 4;
    const ROUNDS: u64 = 6;
    let timeout = Duration::from_millis(50);
    let (tx, rx) = channel_with(ReorderConfig::new().window(2).head_timeout(timeout));
    let mut sent_by = Vec::new();
    for producer in 0..PRODUCERS {
        let tx = tx.clone();
        // Producer p dies (silently, no give-up) after p + 1 values.
        let dies_after = producer + 1;
        sent_by.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for round in 0..ROUNDS.min(dies_after) {
                let seq = round * PRODUCERS + producer;
                try_send_until_in(&tx, seq, seq, Duration::from_millis(3)).await;
                sent.push(seq);
            }
            sent
        }));
    }
    drop(tx);
    let got: Vec<_> = within(rx.collect()).await;
    let mut sent = Vec::new();
    for task in sent_by {
        sent.extend(within(task).await.unwrap());
    }
    let mut came: HashMap<u64, u32> = HashMap::new();
    let mut next = 0u64;
    for item in &got {
        match item {
            Ok(seq) => {
                assert!(*seq >= next, "{seq} out of order in {got:?}");
                next = seq + 1;
                *came.entry(*seq).or_default() += 1;
            }
            Err(ReorderError::Late { seq, value }) => {
                assert!(*seq < next && seq == value);
                *came.entry(*seq).or_default() += 1;
            }
            Err(ReorderError::Missing(range)) => {
                assert_eq!(range.start, next, "a hole out of position in {got:?}");
                next = range.end;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    for seq in &sent {
        assert_eq!(came.get(seq), Some(&1), "seq {seq} in {got:?}");
    }
    assert_eq!(came.len(), sent.len());
}

/// A turned-away attempt below everything else known: the producer may be waiting for any
/// seq between the head and its own, so the clock skips the head alone, and a range given
/// up far ahead does not drag the skip past the producer's seq (which would make its value
/// `Late`).
#[tokio::test(start_paused = true)]
async fn a_give_up_far_ahead_does_not_drag_the_try_send_clock_past_a_waiting_producer() {
    let timeout = Duration::from_millis(100);
    let (tx, mut rx) = channel_with(ReorderConfig::new().window(1).head_timeout(timeout));
    tx.give_up_range(1_000..2_000).unwrap();
    let producer = {
        let tx = tx.clone();
        tokio::spawn(async move {
            for seq in 1..4u64 {
                try_send_until_in(&tx, seq, seq, Duration::from_millis(7)).await;
            }
        })
    };
    let start = Instant::now();
    assert_eq!(
        within(rx.recv()).await,
        Some(Err(ReorderError::Missing(0..1)))
    );
    assert_eq!(start.elapsed(), timeout);
    for seq in 1..4u64 {
        assert_eq!(within(rx.recv()).await, Some(Ok(seq)));
    }
    within(producer).await.unwrap();
}

/// A block far ahead of the window given up (its worker died) while the producers in the
/// window are slow but alive, and nothing is held: "a flood of give-ups far ahead of the
/// window — no value is ever skipped or `Late` because of them". The far range must not
/// start the head-of-line clock (it once skipped 0..1000 after one timeout, and the four
/// slow values came back `Late`).
#[tokio::test(start_paused = true)]
async fn a_give_up_far_ahead_of_the_window_never_makes_slow_values_late() {
    let timeout = Duration::from_millis(100);
    let (tx, rx) = channel_with(ReorderConfig::new().window(4).head_timeout(timeout));
    tx.give_up_range(1_000..2_000).unwrap();
    for seq in 0..4u64 {
        let tx = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            tx.send(seq, seq).await.unwrap();
        });
    }
    drop(tx);
    let got: Vec<_> = within(rx.collect()).await;
    assert_eq!(
        got,
        [
            Ok(0),
            Ok(1),
            Ok(2),
            Ok(3),
            Err(ReorderError::Missing(4..2_000)),
        ]
    );
}

/// The same give-up inside the window is a seq known to come, like a held value: it
/// starts the clock, and the gap before it is skipped in one timeout.
#[tokio::test(start_paused = true)]
async fn a_give_up_inside_the_window_starts_the_clock() {
    let timeout = Duration::from_millis(100);
    let (tx, mut rx) = channel_with::<u64>(ReorderConfig::new().window(4).head_timeout(timeout));
    tx.give_up_range(3..2_000).unwrap();
    let start = Instant::now();
    assert_eq!(
        within(rx.recv()).await,
        Some(Err(ReorderError::Missing(0..3)))
    );
    assert_eq!(start.elapsed(), timeout);
    assert_eq!(
        within(rx.recv()).await,
        Some(Err(ReorderError::Missing(3..2_000)))
    );
    tx.send(2_000, 7).await.unwrap();
    assert_eq!(within(rx.recv()).await, Some(Ok(7)));
}
