//! `Reorder<S>` and `.ordered()`: every row of the contract, polled by hand where the
//! order of wake-ups matters.

use std::future::Future;
use std::time::Duration;

use futures::channel::mpsc::{unbounded, UnboundedSender};
use futures::stream::{self, FusedStream, Stream, StreamExt};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reorder::{OrderedExt, Reorder, ReorderConfig, ReorderError, Sequenced};
use tokio_test::task::{spawn, Spawn};
use tokio_test::{assert_pending, assert_ready_eq};

mod common;
use common::on_a_thread_within_10s;

type Feed<T> = futures::channel::mpsc::UnboundedReceiver<(u64, T)>;
type FeedTx<T> = UnboundedSender<(u64, T)>;

/// A stream fed by hand, reordered with `config`, ready to be polled by hand.
fn hand_fed<T>(config: ReorderConfig) -> (FeedTx<T>, Spawn<Reorder<Feed<T>>>) {
    let (tx, rx) = unbounded();
    (tx, spawn(rx.ordered_with(config)))
}

fn send<T>(tx: &FeedTx<T>, seq: u64, value: T) {
    tx.unbounded_send((seq, value)).unwrap();
}

/// Real-time guard so a bug fails the test instead of hanging CI.
async fn within_10s<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("test timed out: the stream hung")
}

// ---------------------------------------------------------------------------------------
// In order, held, late, duplicate
// ---------------------------------------------------------------------------------------

#[test]
fn next_seq_is_yielded_on_the_poll_right_after_it_is_sent() {
    let (tx, mut s) = hand_fed(ReorderConfig::new());
    assert_pending!(s.poll_next());
    send(&tx, 0, 'a');
    assert!(s.is_woken());
    assert_ready_eq!(s.poll_next(), Some(Ok('a')));
    assert_pending!(s.poll_next());
    send(&tx, 1, 'b');
    assert!(s.is_woken());
    assert_ready_eq!(s.poll_next(), Some(Ok('b')));
    assert_eq!(s.next_seq(), 2);
}

#[test]
fn in_order_input_is_never_buffered() {
    let (tx, mut s) = hand_fed(ReorderConfig::new());
    for i in 0..100u64 {
        send(&tx, i, i);
        assert_ready_eq!(s.poll_next(), Some(Ok(i)));
    }
    assert_eq!(s.peak_buffered(), 0);
}

#[test]
fn later_seq_is_held_until_the_head_arrives() {
    let (tx, mut s) = hand_fed(ReorderConfig::new());
    assert_pending!(s.poll_next());
    send(&tx, 2, 'c');
    send(&tx, 1, 'b');
    assert!(s.is_woken());
    assert_pending!(s.poll_next());
    assert_eq!(s.buffered_len(), 2);
    assert_eq!(s.next_seq(), 0);
    send(&tx, 0, 'a');
    assert!(s.is_woken());
    assert_ready_eq!(s.poll_next(), Some(Ok('a')));
    assert_ready_eq!(s.poll_next(), Some(Ok('b')));
    assert_ready_eq!(s.poll_next(), Some(Ok('c')));
    assert_pending!(s.poll_next());
    assert_eq!(s.buffered_len(), 0);
    assert_eq!(s.peak_buffered(), 2);
    assert_eq!(s.next_seq(), 3);
}

#[test]
fn late_value_is_handed_back_at_once() {
    let (tx, mut s) = hand_fed(ReorderConfig::new());
    send(&tx, 0, "first");
    assert_ready_eq!(s.poll_next(), Some(Ok("first")));
    send(&tx, 2, "held");
    send(&tx, 0, "again");
    // Late even while a later value is held and the head (1) is missing.
    assert_ready_eq!(
        s.poll_next(),
        Some(Err(ReorderError::Late {
            seq: 0,
            value: "again"
        }))
    );
    assert_pending!(s.poll_next());
    assert_eq!(s.buffered_len(), 1);
}

#[test]
fn duplicate_yields_first_copy_in_position_then_hands_back_the_second() {
    let (tx, mut s) = hand_fed(ReorderConfig::new());
    send(&tx, 1, "first");
    send(&tx, 1, "second");
    send(&tx, 2, "two");
    assert_pending!(s.poll_next());
    send(&tx, 0, "zero");
    assert_ready_eq!(s.poll_next(), Some(Ok("zero")));
    assert_ready_eq!(s.poll_next(), Some(Ok("first")));
    assert_ready_eq!(
        s.poll_next(),
        Some(Err(ReorderError::Duplicate {
            seq: 1,
            value: "second"
        }))
    );
    assert_ready_eq!(s.poll_next(), Some(Ok("two")));
    assert_pending!(s.poll_next());
}

// ---------------------------------------------------------------------------------------
// End of input
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn input_end_reports_each_hole_in_order_then_ends() {
    let arrivals = stream::iter([(5, 'f'), (1, 'b'), (3, 'd')]);
    let mut s = arrivals.ordered();
    let out: Vec<_> = within_10s((&mut s).collect()).await;
    assert_eq!(
        out,
        [
            Err(ReorderError::Missing(0..1)),
            Ok('b'),
            Err(ReorderError::Missing(2..3)),
            Ok('d'),
            Err(ReorderError::Missing(4..5)),
            Ok('f'),
        ]
    );
    assert!(s.is_terminated());
    assert_eq!(s.next().await, None, "stays ended");
}

#[test]
fn dropping_the_sender_flushes_holes_instead_of_hanging() {
    let (tx, mut s) = hand_fed(ReorderConfig::new());
    send(&tx, 3, 'd');
    send(&tx, 1, 'b');
    assert_pending!(s.poll_next());
    assert!(!s.is_terminated());
    drop(tx);
    assert!(s.is_woken());
    assert_ready_eq!(s.poll_next(), Some(Err(ReorderError::Missing(0..1))));
    assert_ready_eq!(s.poll_next(), Some(Ok('b')));
    assert_ready_eq!(s.poll_next(), Some(Err(ReorderError::Missing(2..3))));
    assert_ready_eq!(s.poll_next(), Some(Ok('d')));
    assert_ready_eq!(s.poll_next(), None);
    assert!(s.is_terminated());
    assert_ready_eq!(s.poll_next(), None);
}

#[tokio::test]
async fn empty_input_ends_at_once() {
    let mut s = stream::iter(Vec::<(u64, u8)>::new()).ordered();
    assert!(!s.is_terminated());
    assert_eq!(within_10s(s.next()).await, None);
    assert!(s.is_terminated());
}

#[tokio::test]
async fn duplicates_and_late_values_survive_the_flush() {
    let arrivals = stream::iter([(2, 'x'), (2, 'y'), (0, 'a'), (0, 'z')]);
    let out: Vec<_> = within_10s(arrivals.ordered().collect()).await;
    assert_eq!(
        out,
        [
            Ok('a'),
            Err(ReorderError::Late { seq: 0, value: 'z' }),
            Err(ReorderError::Missing(1..2)),
            Ok('x'),
            Err(ReorderError::Duplicate { seq: 2, value: 'y' }),
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Window
// ---------------------------------------------------------------------------------------

#[test]
fn reaching_the_window_skips_the_missing_head() {
    let (tx, mut s) = hand_fed(ReorderConfig::new().window(3));
    send(&tx, 1, 'b');
    send(&tx, 2, 'c');
    assert_pending!(s.poll_next());
    send(&tx, 4, 'e');
    assert!(s.is_woken());
    assert_ready_eq!(s.poll_next(), Some(Err(ReorderError::Missing(0..1))));
    assert_ready_eq!(s.poll_next(), Some(Ok('b')));
    assert_ready_eq!(s.poll_next(), Some(Ok('c')));
    // 3 is now the head; one value held, below the window: wait for it.
    assert_pending!(s.poll_next());
    assert_eq!(s.peak_buffered(), 3);
    send(&tx, 0, 'a');
    assert_ready_eq!(
        s.poll_next(),
        Some(Err(ReorderError::Late { seq: 0, value: 'a' }))
    );
    send(&tx, 3, 'd');
    assert_ready_eq!(s.poll_next(), Some(Ok('d')));
    assert_ready_eq!(s.poll_next(), Some(Ok('e')));
}

#[test]
fn window_of_one_skips_any_gap_at_once() {
    let (tx, mut s) = hand_fed(ReorderConfig::new().window(1));
    send(&tx, 2, 'c');
    assert_ready_eq!(s.poll_next(), Some(Err(ReorderError::Missing(0..2))));
    assert_ready_eq!(s.poll_next(), Some(Ok('c')));
    assert_eq!(s.peak_buffered(), 1);
}

#[test]
#[should_panic(expected = "reorder window must be at least 1")]
fn window_of_zero_panics() {
    let _ = ReorderConfig::new().window(0);
}

#[tokio::test]
async fn peak_buffered_never_exceeds_the_window_and_nothing_is_lost() {
    for seed in 0..40u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let window = 1 + (seed as usize % 8);
        // Item i finishes at i + U[0, 3 * window): some go past the window. Drop a few
        // and duplicate a few.
        let mut seqs: Vec<u64> = (0..300u64).filter(|i| i % 37 != 5).collect();
        seqs.extend((0..300u64).filter(|i| i % 41 == 7));
        let mut keyed: Vec<(u64, u64)> = seqs
            .iter()
            .map(|&i| (i + rng.random_range(0..3 * window as u64), i))
            .collect();
        keyed.sort();
        let arrivals: Vec<(u64, usize)> = keyed
            .iter()
            .enumerate()
            .map(|(id, &(_, seq))| (seq, id))
            .collect();
        let mut s =
            stream::iter(arrivals.clone()).ordered_with(ReorderConfig::new().window(window));
        let mut ids = Vec::new();
        let mut last_ok = None;
        while let Some(item) = within_10s(s.next()).await {
            assert!(s.buffered_len() <= window);
            match item {
                Ok(id) => {
                    let seq = arrivals[id].0;
                    assert!(last_ok < Some(seq), "seed {seed}: out of order");
                    last_ok = Some(seq);
                    ids.push(id);
                }
                Err(e) => {
                    if let Some(id) = e.into_value() {
                        ids.push(id);
                    }
                }
            }
        }
        assert!(s.peak_buffered() <= window, "seed {seed}");
        ids.sort_unstable();
        assert_eq!(ids, (0..arrivals.len()).collect::<Vec<_>>(), "seed {seed}");
    }
}

// ---------------------------------------------------------------------------------------
// Head-of-line timeout (paused time)
// ---------------------------------------------------------------------------------------

const TIMEOUT: Duration = Duration::from_millis(100);
const MS: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn head_timeout_skips_the_missing_head_after_exactly_the_timeout() {
    let (tx, mut s) = hand_fed(ReorderConfig::new().head_timeout(TIMEOUT));
    send(&tx, 2, 'c');
    send(&tx, 3, 'd');
    assert_pending!(s.poll_next()); // the clock starts here
    tokio::time::advance(TIMEOUT - MS).await;
    assert!(!s.is_woken());
    assert_pending!(s.poll_next());
    tokio::time::advance(MS).await;
    assert!(s.is_woken());
    assert_ready_eq!(s.poll_next(), Some(Err(ReorderError::Missing(0..2))));
    assert_ready_eq!(s.poll_next(), Some(Ok('c')));
    assert_ready_eq!(s.poll_next(), Some(Ok('d')));
    assert_pending!(s.poll_next());
    // The skipped head turns up: late.
    send(&tx, 1, 'b');
    assert_ready_eq!(
        s.poll_next(),
        Some(Err(ReorderError::Late { seq: 1, value: 'b' }))
    );
}

#[tokio::test(start_paused = true)]
async fn head_timeout_restarts_when_the_watermark_moves() {
    let (tx, mut s) = hand_fed(ReorderConfig::new().head_timeout(TIMEOUT));
    send(&tx, 2, 'c');
    assert_pending!(s.poll_next());
    tokio::time::advance(TIMEOUT / 2).await;
    send(&tx, 0, 'a');
    assert_ready_eq!(s.poll_next(), Some(Ok('a')));
    // Head is now 1; its full timeout starts now, not at the old deadline.
    assert_pending!(s.poll_next());
    tokio::time::advance(TIMEOUT - MS).await;
    assert_pending!(s.poll_next());
    tokio::time::advance(MS).await;
    assert!(s.is_woken());
    assert_ready_eq!(s.poll_next(), Some(Err(ReorderError::Missing(1..2))));
    assert_ready_eq!(s.poll_next(), Some(Ok('c')));
}

#[tokio::test(start_paused = true)]
async fn head_timeout_restarts_after_it_fires() {
    let (tx, mut s) = hand_fed(ReorderConfig::new().head_timeout(TIMEOUT));
    send(&tx, 1, 'b');
    send(&tx, 3, 'd');
    assert_pending!(s.poll_next());
    tokio::time::advance(TIMEOUT).await;
    assert_ready_eq!(s.poll_next(), Some(Err(ReorderError::Missing(0..1))));
    assert_ready_eq!(s.poll_next(), Some(Ok('b')));
    // Second hole (2): a fresh, full timeout.
    assert_pending!(s.poll_next());
    tokio::time::advance(TIMEOUT - MS).await;
    assert_pending!(s.poll_next());
    tokio::time::advance(MS).await;
    assert_ready_eq!(s.poll_next(), Some(Err(ReorderError::Missing(2..3))));
    assert_ready_eq!(s.poll_next(), Some(Ok('d')));
}

#[tokio::test(start_paused = true)]
async fn head_timeout_does_not_fire_when_nothing_is_held() {
    let (tx, mut s) = hand_fed(ReorderConfig::new().head_timeout(TIMEOUT));
    // Nothing held at all.
    assert_pending!(s.poll_next());
    tokio::time::advance(TIMEOUT * 3).await;
    assert_pending!(s.poll_next());
    // Something held, then drained before the deadline: the old deadline must not skip
    // the next head.
    send(&tx, 1, 'b');
    assert_pending!(s.poll_next());
    tokio::time::advance(TIMEOUT / 2).await;
    send(&tx, 0, 'a');
    assert_ready_eq!(s.poll_next(), Some(Ok('a')));
    assert_ready_eq!(s.poll_next(), Some(Ok('b')));
    assert_pending!(s.poll_next());
    tokio::time::advance(TIMEOUT * 3).await;
    assert_pending!(s.poll_next());
    // A new gap after a quiet spell gets its full timeout.
    send(&tx, 3, 'd');
    assert_pending!(s.poll_next());
    tokio::time::advance(TIMEOUT - MS).await;
    assert_pending!(s.poll_next());
    send(&tx, 2, 'c');
    assert_ready_eq!(s.poll_next(), Some(Ok('c')));
    assert_ready_eq!(s.poll_next(), Some(Ok('d')));
}

#[tokio::test(start_paused = true)]
async fn head_timeout_with_awaiting_consumer_recovers_from_a_lost_seq() {
    let (tx, rx) = unbounded();
    for seq in [1u64, 2, 4] {
        send(&tx, seq, seq);
    }
    let config = ReorderConfig::new().head_timeout(Duration::from_secs(1));
    let mut s = rx.ordered_with(config);
    let start = tokio::time::Instant::now();
    assert_eq!(s.next().await, Some(Err(ReorderError::Missing(0..1))));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(s.next().await, Some(Ok(1)));
    assert_eq!(s.next().await, Some(Ok(2)));
    assert_eq!(s.next().await, Some(Err(ReorderError::Missing(3..4))));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(s.next().await, Some(Ok(4)));
    drop(tx);
    assert_eq!(s.next().await, None);
}

// ---------------------------------------------------------------------------------------
// Start offset and u64::MAX
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn ordered_from_starts_at_the_given_seq_and_earlier_seqs_are_late() {
    let arrivals = stream::iter([(12, 'c'), (9, 'x'), (10, 'a'), (11, 'b')]);
    let out: Vec<_> = within_10s(arrivals.ordered_from(10).collect()).await;
    assert_eq!(
        out,
        [
            Err(ReorderError::Late { seq: 9, value: 'x' }),
            Ok('a'),
            Ok('b'),
            Ok('c'),
        ]
    );
}

#[test]
fn seqs_up_to_u64_max_do_not_overflow() {
    let (tx, mut s) = hand_fed(ReorderConfig::new().first_seq(u64::MAX - 2));
    send(&tx, u64::MAX, 'c');
    send(&tx, u64::MAX - 1, 'b');
    assert_pending!(s.poll_next());
    send(&tx, u64::MAX - 2, 'a');
    assert_ready_eq!(s.poll_next(), Some(Ok('a')));
    assert_ready_eq!(s.poll_next(), Some(Ok('b')));
    assert_ready_eq!(s.poll_next(), Some(Ok('c')));
    assert_eq!(s.next_seq(), u64::MAX);
    // After u64::MAX every seq is late.
    for seq in [u64::MAX, 0, u64::MAX - 1] {
        send(&tx, seq, 'z');
        assert_ready_eq!(
            s.poll_next(),
            Some(Err(ReorderError::Late { seq, value: 'z' }))
        );
    }
    drop(tx);
    assert_ready_eq!(s.poll_next(), None);
    assert!(s.is_terminated());
}

/// In-order input takes the inlined fast path, which leaves `u64::MAX` itself to the
/// general path (the only seq after which the watermark cannot move): it must still be
/// yielded, and everything after it be late, with nothing held in between.
#[test]
fn in_order_input_reaches_u64_max_through_the_fast_path() {
    let (tx, mut s) = hand_fed(ReorderConfig::new().first_seq(u64::MAX - 2));
    for seq in u64::MAX - 2..=u64::MAX {
        send(&tx, seq, seq);
        assert_ready_eq!(s.poll_next(), Some(Ok(seq)));
        assert_eq!(s.buffered_len(), 0);
    }
    assert_eq!(s.next_seq(), u64::MAX);
    for seq in [u64::MAX, 0, u64::MAX - 1, u64::MAX] {
        send(&tx, seq, seq);
        assert_ready_eq!(
            s.poll_next(),
            Some(Err(ReorderError::Late { seq, value: seq }))
        );
    }
    assert_pending!(s.poll_next());
    drop(tx);
    assert_ready_eq!(s.poll_next(), None);
    assert!(s.is_terminated());
    assert_ready_eq!(s.poll_next(), None);
}

/// `Reorder::next` (which `stream.next()` calls in place of `StreamExt::next`) is cancel
/// safe: a future dropped while values are held loses none of them, and one dropped
/// before its first poll takes nothing. After the end it keeps returning `None`.
#[tokio::test]
async fn next_is_cancel_safe_and_ends_like_stream_ext_next() {
    within_10s(async {
        let (tx, rx) = unbounded();
        let mut s = rx.ordered();
        send(&tx, 2, 'c');
        send(&tx, 1, 'b');
        // Held, nothing to yield: the future is pending, then dropped.
        let pending = futures::poll!(s.next());
        assert!(pending.is_pending());
        assert_eq!(s.buffered_len(), 2);
        drop(s.next()); // never polled
        send(&tx, 0, 'a');
        assert_eq!(s.next().await, Some(Ok('a')));
        assert_eq!(s.next().await, Some(Ok('b')));
        // Mixing in the trait's `next` changes nothing.
        assert_eq!(StreamExt::next(&mut s).await, Some(Ok('c')));
        drop(tx);
        assert_eq!(s.next().await, None);
        assert_eq!(s.next().await, None);
        assert!(s.is_terminated());
    })
    .await;
}

/// Over a `!Unpin` input the adapter is `!Unpin`, so its own `next()` (which needs
/// `Unpin`) does not apply; pinned, `StreamExt::next` is found first and works as before.
#[tokio::test]
async fn a_pinned_adapter_over_a_not_unpin_input_still_has_next() {
    within_10s(async {
        let input = stream::unfold(
            0u64,
            |i| async move { (i < 4).then(|| ((3 - i, i), i + 1)) },
        );
        let mut ordered = std::pin::pin!(input.ordered());
        let mut got = Vec::new();
        while let Some(item) = ordered.next().await {
            got.push(item.unwrap());
        }
        assert_eq!(got, [3, 2, 1, 0]);
    })
    .await;
}

#[tokio::test]
async fn holes_below_u64_max_are_reported_at_end() {
    let arrivals = stream::iter([(u64::MAX, 'c'), (u64::MAX, 'd')]);
    let out: Vec<_> = within_10s(arrivals.ordered_from(u64::MAX - 2).collect()).await;
    assert_eq!(
        out,
        [
            Err(ReorderError::Missing(u64::MAX - 2..u64::MAX)),
            Ok('c'),
            Err(ReorderError::Duplicate {
                seq: u64::MAX,
                value: 'd'
            }),
        ]
    );
}

#[test]
fn window_skip_up_to_u64_max() {
    let config = ReorderConfig::new().first_seq(u64::MAX - 5).window(2);
    let (tx, mut s) = hand_fed(config);
    send(&tx, u64::MAX - 1, 'y');
    send(&tx, u64::MAX, 'z');
    assert_ready_eq!(
        s.poll_next(),
        Some(Err(ReorderError::Missing(u64::MAX - 5..u64::MAX - 1)))
    );
    assert_ready_eq!(s.poll_next(), Some(Ok('y')));
    assert_ready_eq!(s.poll_next(), Some(Ok('z')));
    assert!(s.peak_buffered() <= 2);
}

// ---------------------------------------------------------------------------------------
// size_hint, Sequenced, misc
// ---------------------------------------------------------------------------------------

/// Polls `s` to the end, checking at every step that `size_hint` brackets what is left.
async fn assert_size_hint_holds<S: Stream + Unpin>(mut s: S) -> usize {
    let mut hints = vec![s.size_hint()];
    let mut count = 0;
    while within_10s(s.next()).await.is_some() {
        count += 1;
        hints.push(s.size_hint());
    }
    for (taken, (lower, upper)) in hints.into_iter().enumerate() {
        let left = count - taken;
        assert!(lower <= left, "lower {lower} > {left} left after {taken}");
        if let Some(upper) = upper {
            assert!(left <= upper, "upper {upper} < {left} left after {taken}");
        }
    }
    count
}

#[tokio::test]
async fn size_hint_brackets_the_actual_count() {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let in_order = stream::iter((0..10u64).map(|i| (i, i))).ordered();
        assert_eq!(assert_size_hint_holds(in_order).await, 10);

        let shuffled = stream::iter([(3, 0), (1, 0), (0, 0), (2, 0)]).ordered();
        assert_eq!(assert_size_hint_holds(shuffled).await, 4);

        // Holes, a duplicate and a late value: more items out than in.
        let messy = stream::iter([(5, 0), (1, 0), (1, 0), (0, 0), (0, 0), (3, 0)]).ordered();
        assert_eq!(assert_size_hint_holds(messy).await, 8);

        let windowed = stream::iter([(2, 0), (4, 0), (6, 0), (8, 0), (0, 0)])
            .ordered_with(ReorderConfig::new().window(2));
        assert_size_hint_holds(windowed).await;

        // An unbounded source has no upper bound.
        let (_tx, rx) = unbounded::<(u64, u8)>();
        assert_eq!(rx.ordered().size_hint().1, None);
    })
    .await
    .expect("test timed out: something hangs");
}

#[tokio::test]
async fn custom_sequenced_items_are_reordered() {
    #[derive(Debug, PartialEq)]
    struct Frame {
        seq: u64,
        body: &'static str,
    }
    impl Sequenced for Frame {
        type Value = &'static str;
        fn into_parts(self) -> Result<(u64, &'static str), ReorderError<&'static str>> {
            Ok((self.seq, self.body))
        }
    }
    let frames = stream::iter([Frame { seq: 1, body: "b" }, Frame { seq: 0, body: "a" }]);
    let out: Vec<_> = within_10s(frames.ordered().map(Result::unwrap).collect()).await;
    assert_eq!(out, ["a", "b"]);
}

/// `.enumerate().ordered()` and every unsigned width: the same reordering, whatever the
/// seq's type. A width whose impl were missing would not compile.
#[tokio::test]
async fn every_unsigned_width_and_enumerate_reorder() {
    within_10s(async {
        let enumerated: Vec<_> = stream::iter(['a', 'b', 'c'])
            .enumerate()
            .ordered()
            .collect()
            .await;
        assert_eq!(enumerated, [Ok('a'), Ok('b'), Ok('c')]);

        async fn shuffled<N: Copy>(seqs: [N; 4]) -> Vec<Result<char, ReorderError<char>>>
        where
            (N, char): Sequenced<Value = char>,
        {
            // Arrival order 2, 0, 3, 1.
            let arrivals = [
                (seqs[2], 'c'),
                (seqs[0], 'a'),
                (seqs[3], 'd'),
                (seqs[1], 'b'),
            ];
            stream::iter(arrivals).ordered().collect().await
        }
        let want = [Ok('a'), Ok('b'), Ok('c'), Ok('d')];
        assert_eq!(shuffled([0u8, 1, 2, 3]).await, want);
        assert_eq!(shuffled([0u16, 1, 2, 3]).await, want);
        assert_eq!(shuffled([0u32, 1, 2, 3]).await, want);
        assert_eq!(shuffled([0u64, 1, 2, 3]).await, want);
        assert_eq!(shuffled([0usize, 1, 2, 3]).await, want);
        assert_eq!(shuffled([0i32, 1, 2, 3]).await, want);
        assert_eq!(shuffled([0i64, 1, 2, 3]).await, want);

        // Each width's extreme maps to the same position as the u64 it widens to.
        let top = stream::iter([(u32::MAX, 'z')]).ordered_from(u64::from(u32::MAX));
        assert_eq!(top.collect::<Vec<_>>().await, [Ok('z')]);
        let top = stream::iter([(i64::MAX, 'z')]).ordered_from(i64::MAX as u64);
        assert_eq!(top.collect::<Vec<_>>().await, [Ok('z')]);
    })
    .await;
}

/// Unsuffixed literal pairs fall back to `i32` now that several impls exist: they still
/// compile and behave exactly as with `u64` seqs (holes, late and duplicate included).
#[tokio::test]
async fn unsuffixed_literal_pairs_still_compile_and_behave_as_u64() {
    within_10s(async {
        let literal: Vec<_> = stream::iter([(1, "b"), (0, "a"), (3, "d"), (1, "x"), (0, "y")])
            .ordered()
            .collect()
            .await;
        let typed: Vec<_> = stream::iter([(1u64, "b"), (0, "a"), (3, "d"), (1, "x"), (0, "y")])
            .ordered()
            .collect()
            .await;
        assert_eq!(literal, typed);
        assert_eq!(
            literal,
            [
                Ok("a"),
                Ok("b"),
                Err(ReorderError::Late { seq: 1, value: "x" }),
                Err(ReorderError::Late { seq: 0, value: "y" }),
                Err(ReorderError::Missing(2..3)),
                Ok("d"),
            ]
        );
    })
    .await;
}

/// A negative signed seq is handed back at once, in its place in the input, as `Late`
/// with the number's two's-complement bits; it neither blocks nor shifts the others.
#[tokio::test]
async fn a_negative_seq_is_handed_back_as_late_in_place() {
    within_10s(async {
        let out: Vec<_> = stream::iter([(1, "b"), (-1, "neg"), (0, "a"), (i32::MIN, "min")])
            .ordered()
            .collect()
            .await;
        assert_eq!(
            out[0],
            Err(ReorderError::Late {
                seq: -1i64 as u64,
                value: "neg"
            })
        );
        assert_eq!(out[0].as_ref().unwrap_err().seq() as i64, -1);
        assert_eq!(out[1..3], [Ok("a"), Ok("b")]);
        assert_eq!(
            out[3].as_ref().unwrap_err().seq() as i64,
            i64::from(i32::MIN)
        );
        assert_eq!(out.len(), 4);

        let wide: Vec<_> = stream::iter([(i64::MIN, 'm'), (0i64, 'a')])
            .ordered()
            .collect()
            .await;
        assert_eq!(
            wide,
            [
                Err(ReorderError::Late {
                    seq: i64::MIN as u64,
                    value: 'm'
                }),
                Ok('a')
            ]
        );

        // Also with a window and on the held path (something already waiting).
        let mut s = stream::iter([(2, 'c'), (-5, 'n'), (0, 'a'), (1, 'b')])
            .ordered_with(ReorderConfig::new().window(8));
        assert_eq!(
            s.next().await,
            Some(Err(ReorderError::Late {
                seq: -5i64 as u64,
                value: 'n'
            }))
        );
        assert_eq!(s.buffered_len(), 1, "the held value is untouched");
        let rest: Vec<_> = s.collect().await;
        assert_eq!(rest, [Ok('a'), Ok('b'), Ok('c')]);
    })
    .await;
}

/// A custom item can refuse a position; the refusal is yielded in its place.
#[tokio::test]
async fn a_custom_item_can_hand_itself_back() {
    struct Maybe(Option<u64>, char);
    impl Sequenced for Maybe {
        type Value = char;
        fn into_parts(self) -> Result<(u64, char), ReorderError<char>> {
            match self.0 {
                Some(seq) => Ok((seq, self.1)),
                None => Err(ReorderError::Late {
                    seq: u64::MAX,
                    value: self.1,
                }),
            }
        }
    }
    let out: Vec<_> = within_10s(
        stream::iter([Maybe(Some(1), 'b'), Maybe(None, '?'), Maybe(Some(0), 'a')])
            .ordered()
            .collect(),
    )
    .await;
    assert_eq!(
        out,
        [
            Err(ReorderError::Late {
                seq: u64::MAX,
                value: '?'
            }),
            Ok('a'),
            Ok('b')
        ]
    );
}

#[tokio::test]
async fn values_from_concurrent_tasks_come_out_in_order() {
    // Later tasks finish first; each waits on a oneshot fired in reverse order.
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut gates = Vec::new();
    for seq in 0..16u64 {
        let (gate_tx, gate_rx) = tokio::sync::oneshot::channel::<()>();
        gates.push(gate_tx);
        let tx = tx.clone();
        tokio::spawn(async move {
            gate_rx.await.unwrap();
            tx.send((seq, seq * 10)).unwrap();
        });
    }
    drop(tx);
    for gate in gates.into_iter().rev() {
        gate.send(()).unwrap();
        tokio::task::yield_now().await;
    }
    let mut rx = rx;
    let arrivals = stream::poll_fn(move |cx| rx.poll_recv(cx));
    let out: Vec<u64> = within_10s(arrivals.ordered().map(Result::unwrap).collect()).await;
    assert_eq!(out, (0..16).map(|i| i * 10).collect::<Vec<_>>());
}

#[test]
fn config_getters_report_what_was_set() {
    let config = ReorderConfig::default()
        .first_seq(7)
        .window(3)
        .head_timeout(TIMEOUT);
    assert_eq!(config.get_first_seq(), 7);
    assert_eq!(config.get_window(), Some(3));
    assert_eq!(config.get_head_timeout(), Some(TIMEOUT));
    assert_eq!(ReorderConfig::new().get_window(), None);
}

#[test]
fn into_inner_gives_back_the_source() {
    let (tx, mut s) = hand_fed::<u8>(ReorderConfig::new());
    send(&tx, 1, 1);
    assert_pending!(s.poll_next());
    let mut rx = s.into_inner().into_inner();
    // The held value is dropped with the adapter; the source keeps what was not read.
    send(&tx, 5, 5);
    assert_eq!(rx.try_recv().unwrap(), (5, 5));
}

// ---------------------------------------------------------------------------------------
// The head-of-line clock under pressure (issue 9)
// ---------------------------------------------------------------------------------------

/// Issue 9, repro 4: with seq 0 lost and `head_timeout(1 ms)`, an input that is always
/// ready used to be held item after item without the clock ever being looked at.
#[test]
fn the_head_timeout_is_honoured_while_the_input_is_always_ready() {
    let got = on_a_thread_within_10s(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let endless = stream::iter(1u64..).map(|seq| (seq, seq));
            let config = ReorderConfig::new().head_timeout(Duration::from_millis(1));
            endless
                .ordered_with(config)
                .take(3)
                .collect::<Vec<_>>()
                .await
        })
    });
    assert_eq!(got, [Err(ReorderError::Missing(0..1)), Ok(1), Ok(2)]);
}

/// An always-ready input whose head never comes, with no timeout and no window: the
/// stream holds without end, but it yields to the runtime so other tasks (here the
/// consumer's own timeout) still run.
#[test]
fn an_always_ready_input_behind_a_missing_head_still_yields_to_the_runtime() {
    let (timed_out, other_task_ran) = on_a_thread_within_10s(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let ran = tokio::spawn(async {});
            let mut s = stream::iter(1u64..).map(|seq| (seq, seq)).ordered();
            let timed_out = tokio::time::timeout(Duration::from_millis(20), s.next())
                .await
                .is_err();
            (timed_out, ran.is_finished())
        })
    });
    assert!(timed_out, "nothing can come out: seq 0 never arrives");
    assert!(
        other_task_ran,
        "the reorder stream must yield to other tasks"
    );
}

/// Issue 9, repro 3: `head_timeout(Duration::MAX)` overflowed when the clock started.
#[tokio::test(start_paused = true)]
async fn a_head_timeout_of_duration_max_never_fires() {
    let (tx, mut s) = hand_fed(ReorderConfig::new().head_timeout(Duration::MAX));
    send(&tx, 1, 'b');
    assert_pending!(s.poll_next());
    tokio::time::sleep(Duration::from_secs(10 * 365 * 24 * 3600)).await;
    assert_pending!(s.poll_next(), "ten years on, still waiting for seq 0");
    send(&tx, 0, 'a');
    assert_ready_eq!(s.poll_next(), Some(Ok('a')));
    assert_ready_eq!(s.poll_next(), Some(Ok('b')));
}

/// Issue 9, repro 6: a stream whose clock was armed on a runtime that has shut down
/// panicked when polled on another runtime.
#[test]
fn a_stream_moved_to_another_runtime_keeps_its_clock() {
    let paused = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    };
    let (tx, rx) = unbounded();
    let mut s = rx.ordered_with(ReorderConfig::new().head_timeout(Duration::from_secs(1)));
    send(&tx, 1, 'b');
    let first = paused();
    first.block_on(async { assert!(futures::poll!(s.next()).is_pending()) });
    drop(first);
    let got = paused().block_on(async {
        let skipped = within_10s(s.next()).await;
        (skipped, within_10s(s.next()).await)
    });
    assert_eq!(got, (Some(Err(ReorderError::Missing(0..1))), Some(Ok('b'))));
}

/// Issue 9, repro 6: `Display` of a hand-made reversed or empty range used to overflow.
#[test]
#[allow(clippy::reversed_empty_ranges)] // the point of the test
fn missing_display_never_panics_on_a_hand_made_range() {
    assert_eq!(
        ReorderError::<()>::Missing(5..3).to_string(),
        "sequence numbers 5..3 are missing"
    );
    assert_eq!(
        ReorderError::<()>::Missing(u64::MAX..u64::MAX).to_string(),
        format!("sequence numbers {0}..{0} are missing", u64::MAX)
    );
    assert_eq!(
        ReorderError::<()>::Missing(7..8).to_string(),
        "sequence number 7 is missing"
    );
}

/// Found in review: a head that arrived after the deadline but before the stream looked
/// is yielded, not skipped.
#[tokio::test(start_paused = true)]
async fn a_head_that_arrived_after_the_deadline_but_before_the_poll_is_yielded() {
    let config = ReorderConfig::new().head_timeout(Duration::from_millis(100));
    let (tx, mut s) = hand_fed(config);
    send(&tx, 5, 'f');
    assert_pending!(s.poll_next());
    tokio::time::sleep(Duration::from_millis(150)).await;
    send(&tx, 2, 'c');
    send(&tx, 0, 'a');
    assert_ready_eq!(s.poll_next(), Some(Ok('a')));
    assert_pending!(s.poll_next(), "head 1 has a clock of its own");
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_ready_eq!(s.poll_next(), Some(Err(ReorderError::Missing(1..2))));
    assert_ready_eq!(s.poll_next(), Some(Ok('c')));
}

/// An input that is always ready with items that come straight back (here `Late` ones)
/// must not starve the clock either: after 128 arrivals past the deadline without the
/// head, the head is skipped.
#[test]
fn a_flood_of_late_items_cannot_starve_the_head_timeout() {
    let got = on_a_thread_within_10s(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            // 10 is lost; 11 waits behind it; then endless copies of seq 0, all late.
            let input = stream::iter([(11u64, 11u64)]).chain(stream::repeat((0, 0)));
            let config = ReorderConfig::new()
                .first_seq(10)
                .head_timeout(Duration::from_millis(1));
            let mut s = input.ordered_with(config);
            let mut lates = 0u64;
            loop {
                match s.next().await {
                    Some(Err(ReorderError::Late { .. })) => lates += 1,
                    other => return (other, s.next().await, lates),
                }
            }
        })
    });
    assert_eq!(got.0, Some(Err(ReorderError::Missing(10..11))));
    assert_eq!(got.1, Some(Ok(11)));
    assert!(got.2 > 0, "the late items came out meanwhile");
}

// ---------------------------------------------------------------------------------------
// The in-order fast path and the general path: transitions
// ---------------------------------------------------------------------------------------

/// An input that yields `items` and panics once where an item is `None`.
struct PanicsOnce(std::collections::VecDeque<Option<(u64, char)>>);

impl Stream for PanicsOnce {
    type Item = (u64, char);

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<(u64, char)>> {
        match self.0.pop_front() {
            Some(Some(item)) => std::task::Poll::Ready(Some(item)),
            Some(None) => panic!("injected: the input fails once"),
            None => std::task::Poll::Ready(None),
        }
    }
}

/// The input panics in the poll that has just held an early arrival (the general path,
/// entered from the in-order fast path); the consumer catches the panic and goes on.
/// Nothing held may be lost or yielded out of order: the stream must not go back to
/// the fast path (which assumes nothing is held) with a value held.
#[test]
fn a_caught_panic_of_the_input_loses_no_held_value() {
    let input = PanicsOnce(
        [Some((2, 'c')), None, Some((0, 'a')), Some((1, 'b'))]
            .into_iter()
            .collect(),
    );
    let mut s = spawn(input.ordered());
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.poll_next()));
    assert!(caught.is_err(), "the input's panic reaches the consumer");
    assert_eq!(s.buffered_len(), 1, "2 was held before the panic");
    assert_ready_eq!(s.poll_next(), Some(Ok('a')));
    assert_ready_eq!(s.poll_next(), Some(Ok('b')));
    assert_ready_eq!(s.poll_next(), Some(Ok('c')), "the held value is yielded");
    assert_ready_eq!(s.poll_next(), None);
    assert!(s.is_terminated());
}

/// An input that is always ready, whose first gap closes late (the head turns up behind
/// the values it blocked), then runs in order through the fast path, then has a gap that
/// never closes: the head-of-line clock armed for the first gap must neither fire for
/// the second one early nor be forgotten, so the second head is skipped by the timeout
/// although the input never has nothing to offer.
#[test]
fn an_always_ready_input_gets_a_fresh_clock_for_a_gap_after_an_in_order_run() {
    let got = on_a_thread_within_10s(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            // 1..=50, then the head 0, then 51..=100 in order, then 101 is lost for ever.
            let input = stream::iter(1u64..=50)
                .chain(stream::iter([0]))
                .chain(stream::iter(51u64..=100))
                .chain(stream::iter(102u64..))
                .map(|seq| (seq, seq));
            let config = ReorderConfig::new().head_timeout(Duration::from_millis(1));
            input
                .ordered_with(config)
                .take(103)
                .collect::<Vec<_>>()
                .await
        })
    });
    let mut expected: Vec<Result<u64, ReorderError<u64>>> = (0..=100).map(Ok).collect();
    expected.push(Err(ReorderError::Missing(101..102)));
    expected.push(Ok(102));
    assert_eq!(got, expected);
}

/// `window(1)` from a first seq near `u64::MAX`, polled by hand through every kind of
/// transition: a gap (skipped at once), an in-order run, `Pending` with nothing held,
/// a late value while nothing is held, `u64::MAX` itself after a gap, then the end.
#[test]
fn window_of_one_near_u64_max_through_every_transition() {
    let first = u64::MAX - 6;
    let (tx, mut s) = hand_fed(ReorderConfig::new().first_seq(first).window(1));
    assert_pending!(s.poll_next());
    send(&tx, first + 2, 'c'); // gap first..first + 2: skipped at once
    assert_ready_eq!(
        s.poll_next(),
        Some(Err(ReorderError::Missing(first..first + 2)))
    );
    assert_eq!(s.buffered_len(), 1);
    assert_ready_eq!(s.poll_next(), Some(Ok('c')));
    assert_eq!((s.buffered_len(), s.next_seq()), (0, first + 3));
    assert_pending!(s.poll_next());
    send(&tx, first + 3, 'd'); // in order
    send(&tx, first, 'x'); // late while nothing is held
    send(&tx, first + 4, 'e'); // in order
    assert_ready_eq!(s.poll_next(), Some(Ok('d')));
    assert_ready_eq!(
        s.poll_next(),
        Some(Err(ReorderError::Late {
            seq: first,
            value: 'x'
        }))
    );
    assert_ready_eq!(s.poll_next(), Some(Ok('e')));
    assert_pending!(s.poll_next());
    send(&tx, u64::MAX, 'z'); // gap u64::MAX - 1: skipped at once
    assert_ready_eq!(
        s.poll_next(),
        Some(Err(ReorderError::Missing(u64::MAX - 1..u64::MAX)))
    );
    assert_ready_eq!(s.poll_next(), Some(Ok('z')));
    assert_eq!((s.buffered_len(), s.next_seq()), (0, u64::MAX));
    send(&tx, u64::MAX - 1, 'y');
    assert_ready_eq!(
        s.poll_next(),
        Some(Err(ReorderError::Late {
            seq: u64::MAX - 1,
            value: 'y'
        }))
    );
    assert_pending!(s.poll_next());
    drop(tx);
    assert_ready_eq!(s.poll_next(), None);
    assert!(s.is_terminated());
}

/// An input that panics if it is polled again after it ended.
struct EndsOnce<S>(Option<S>);

impl<S: Stream + Unpin> Stream for EndsOnce<S> {
    type Item = S::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<S::Item>> {
        let inner = self.0.as_mut().expect("polled again after it ended");
        let polled = inner.poll_next_unpin(cx);
        if let std::task::Poll::Ready(None) = polled {
            self.0 = None;
        }
        polled
    }
}

/// Once the input has ended, the stream flushes what it holds and ends without polling
/// the input again, however it got there: ending on the fast path (nothing held) or on
/// the general path (holes flushed), and however often it is polled after its end.
#[tokio::test]
async fn an_ended_input_is_never_polled_again() {
    within_10s(async {
        let mut s = EndsOnce(Some(stream::iter([(0u64, 'a'), (1, 'b')]))).ordered();
        assert_eq!(s.next().await, Some(Ok('a')));
        assert_eq!(s.next().await, Some(Ok('b')));
        for _ in 0..3 {
            assert_eq!(s.next().await, None);
        }
        assert!(s.is_terminated());
        let input = stream::iter([(0u64, 'a'), (3, 'd'), (2, 'c')]);
        let mut s = EndsOnce(Some(input)).ordered_with(ReorderConfig::new().window(8));
        assert_eq!(s.next().await, Some(Ok('a')));
        assert_eq!(s.next().await, Some(Err(ReorderError::Missing(1..2))));
        assert_eq!(s.next().await, Some(Ok('c')));
        assert_eq!(s.next().await, Some(Ok('d')));
        for _ in 0..3 {
            assert_eq!(s.next().await, None);
        }
        assert!(s.is_terminated());
    })
    .await;
}
