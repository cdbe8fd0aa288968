//! Hostile tests for the front door: the promises README.md and the crate docs make about
//! the bare cores (`ReorderBuffer`, `KeyedBuffer`), `ordered_by_key` (`KeyedReorder`) and
//! the `Sequencer`, each checked where no other test file pins it down: inputs that are
//! always ready, memory that must be given back, `u64::MAX` with a window, every seq sent
//! twice, a key whose `clone` panics, floods of given-up tickets, cancellation at every
//! await.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use futures::{stream, FutureExt, Stream, StreamExt};
use reorder::{
    KeyedBuffer, KeyedReorderConfig, OrderedExt, ReorderBuffer, ReorderError, Sequencer,
};

mod common;
use common::{settle, within, Counter};

/// Counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// `items`, always ready, then an input that has nothing more for now (it never ends):
/// counts how many items were pulled.
fn ready_then_pending<T: 'static>(
    items: impl Iterator<Item = T> + 'static,
    pulled: Counter,
) -> impl Stream<Item = T> + Unpin {
    stream::iter(items)
        .inspect(move |_| {
            pulled.incr();
        })
        .chain(stream::pending())
}

// ---------------------------------------------------------------------------------------
// ordered_by_key (`KeyedReorder`)
// ---------------------------------------------------------------------------------------

/// Without a window, an input that is always ready and whose every arrival is held
/// (key "a" lost its seq 0) must not keep one poll taking input for ever: like `.ordered()`,
/// the stream yields to the runtime after a bounded number of arrivals and wakes itself to
/// come back, so a `select!`, a `timeout` or any other task on the worker still runs.
/// (Before the fix one poll took all 200,000 arrivals before it returned.)
#[test]
fn ordered_by_key_without_a_window_yields_while_it_only_holds() {
    let pulled = Counter::default();
    let input = ready_then_pending((1..=200_000u64).map(|s| ("a", s, s)), pulled.clone());
    let mut s = input.ordered_by_key();
    let waker = Arc::new(CountingWaker::default());
    let w = Waker::from(Arc::clone(&waker));
    let mut cx = Context::from_waker(&w);
    assert!(s.poll_next_unpin(&mut cx).is_pending());
    assert!(
        pulled.get() <= 1_024,
        "one poll took {} arrivals without yielding to the runtime",
        pulled.get()
    );
    assert!(
        waker.0.load(SeqCst) >= 1,
        "a poll that stops while the input is still ready must wake itself"
    );
    // It comes back for the rest, and loses nothing: once seq 0 arrives everything flows.
    let mut polls = 1;
    while pulled.get() < 200_000 {
        assert!(s.poll_next_unpin(&mut cx).is_pending());
        polls += 1;
        assert!(polls < 1_000, "never took the whole input");
    }
    assert_eq!(s.buffered_len(), 200_000);
}

/// The same from the consumer's side: on a current-thread runtime, a task waiting on
/// `next()` of a stream that only holds still lets a `select!` branch win.
#[tokio::test(flavor = "current_thread")]
async fn ordered_by_key_that_only_holds_lets_a_select_branch_win() {
    let pulled = Counter::default();
    let input = ready_then_pending((1..=100_000u64).map(|s| (7u8, s, s)), pulled.clone());
    let mut s = input.ordered_by_key();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move { tx.send(()).unwrap() });
    let won = within(async {
        tokio::select! {
            biased;
            _ = rx => true,
            _ = s.next() => false,
        }
    })
    .await;
    assert!(
        won,
        "the stream yielded nothing, so the other branch must win"
    );
    assert!(
        pulled.get() < 100_000,
        "the other task ran before the input was all taken"
    );
}

/// A window near `u64::MAX`: a key whose held value is `u64::MAX` itself is skipped up
/// to it when the window fills, yields it, and from then on every seq of that key is
/// `Late` (copies too), while the key keeps its exhausted watermark and other keys flow.
#[tokio::test]
async fn ordered_by_key_window_one_at_u64_max() {
    let first = u64::MAX - 3;
    let arrivals = [
        ('x', u64::MAX, 1),     // held: window 1 reached, x's gap skipped
        ('x', u64::MAX, 2),     // yielded already: late
        ('x', u64::MAX - 1, 3), // skipped: late
        ('y', first, 4),        // another key: straight through
        ('y', u64::MAX, 5),     // held: y's gap skipped
        ('y', first + 1, 6),    // skipped: late
    ];
    let mut s = stream::iter(arrivals)
        .ordered_by_key_with(KeyedReorderConfig::new().first_seq(first).window(1));
    let out: Vec<_> = within((&mut s).collect::<Vec<_>>()).await;
    assert_eq!(
        out,
        [
            ('x', Err(ReorderError::Missing(first..u64::MAX))),
            ('x', Ok(1)),
            (
                'x',
                Err(ReorderError::Late {
                    seq: u64::MAX,
                    value: 2
                })
            ),
            (
                'x',
                Err(ReorderError::Late {
                    seq: u64::MAX - 1,
                    value: 3
                })
            ),
            ('y', Ok(4)),
            ('y', Err(ReorderError::Missing(first + 1..u64::MAX))),
            ('y', Ok(5)),
            (
                'y',
                Err(ReorderError::Late {
                    seq: first + 1,
                    value: 6
                })
            ),
        ]
    );
    assert_eq!(s.peak_buffered(), 1);
    assert_eq!(s.next_seq(&'x'), u64::MAX);
    assert_eq!(s.tracked_keys(), 2, "exhausted keys remember it");
}

/// "Never more than the configured window" under a flood of copies of one held seq and
/// of fresh keys that each lose their head: the window is never exceeded, every value
/// comes out exactly once.
#[tokio::test]
async fn ordered_by_key_window_holds_under_a_flood_of_copies_and_stalled_keys() {
    let mut arrivals = Vec::new();
    let mut id = 0u64;
    for round in 0..500u64 {
        // Three copies of seq 1 of one key, and seq 1 of a fresh key.
        for _ in 0..3 {
            arrivals.push((0u64, 1u64, id));
            id += 1;
        }
        arrivals.push((round + 1, 1, id));
        id += 1;
    }
    let mut s = stream::iter(arrivals).ordered_by_key_with(KeyedReorderConfig::new().window(3));
    let mut ids = Vec::new();
    while let Some((_, r)) = within(s.next()).await {
        assert!(s.buffered_len() <= 3);
        match r {
            Ok(v) | Err(ReorderError::Late { value: v, .. }) => ids.push(v),
            Err(ReorderError::Duplicate { value: v, .. }) => ids.push(v),
            Err(ReorderError::Missing(r)) => assert_eq!(r, 0..1),
        }
    }
    assert!(s.peak_buffered() <= 3);
    ids.sort_unstable();
    assert!(ids.into_iter().eq(0..id), "every value exactly once");
}

// ---------------------------------------------------------------------------------------
// ReorderBuffer
// ---------------------------------------------------------------------------------------

/// A value held far ahead (in the heap) and a copy of it, with the watermark then walked
/// up to it in the slots' reach by single steps and by `skip_to`: the first copy comes out
/// in its place, the second right after it, nothing else.
#[test]
fn buffer_far_copies_survive_the_walk_into_the_slots() {
    let mut buf = ReorderBuffer::starting_at(u64::MAX - 100_000);
    let far = u64::MAX - 1;
    assert_eq!(buf.insert(far, 'a').unwrap(), None);
    assert_eq!(buf.insert(far, 'b').unwrap(), None);
    assert_eq!(buf.insert(u64::MAX, 'z').unwrap(), None);
    assert_eq!(
        buf.skip_to(far - 5_000),
        Some(u64::MAX - 100_000..far - 5_000)
    );
    assert!(buf.pop_ready().is_none());
    for seq in far - 5_000..far {
        assert_eq!(buf.insert(seq, '.').unwrap(), Some('.'));
    }
    assert_eq!(buf.pop_ready(), Some(Ok('a')));
    assert_eq!(
        buf.pop_ready(),
        Some(Err(ReorderError::Duplicate {
            seq: far,
            value: 'b'
        }))
    );
    assert_eq!(buf.pop_ready(), Some(Ok('z')));
    assert!(buf.is_exhausted());
    assert!(buf.pop_ready().is_none() && buf.pop_flush().is_none());
    assert_eq!(buf.skip_to(u64::MAX), None);
}

/// At-least-once delivery: every seq arrives twice, out of order, in batches as wide as
/// the slots' reach. Each value comes out once as `Ok` and its copy right after it as
/// `Duplicate`. The second copies used to share the heap with far first copies and were
/// looked through again on every pop (`pull_into_slots` set them aside and put them back):
/// quadratic, about 40 s per batch of 8,000 pairs in a debug build, so this run of 40
/// batches took some 25 minutes; it takes well under a second now. A hang detector, not a
/// timing: the bound is 10 s.
#[test]
fn buffer_with_every_seq_sent_twice_is_not_quadratic() {
    const BATCH: u64 = 8_000;
    const BATCHES: u64 = 40;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = ReorderBuffer::new();
        let mut out = Vec::new();
        for batch in 0..BATCHES {
            let base = batch * BATCH;
            for seq in (base + 1..base + BATCH).rev() {
                assert!(buf.insert(seq, seq).unwrap().is_none());
                assert!(buf.insert(seq, seq).unwrap().is_none());
            }
            out.push(Ok(buf.insert(base, base).unwrap().unwrap()));
            while let Some(r) = buf.pop_ready() {
                out.push(r);
            }
        }
        tx.send((out, buf.is_empty())).unwrap();
    });
    let (out, empty) = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("hangs: the second copies are looked through on every pop");
    assert!(empty);
    let mut want = Vec::new();
    for seq in 0..BATCH * BATCHES {
        want.push(Ok(seq));
        if seq % BATCH != 0 {
            want.push(Err(ReorderError::Duplicate { seq, value: seq }));
        }
    }
    assert!(
        out == want,
        "each value once in order, its copy right after it"
    );
}

// ---------------------------------------------------------------------------------------
// Sequencer
// ---------------------------------------------------------------------------------------

/// A flood of given-up tickets: 100,000 tickets dropped in reverse ahead of the turn, then
/// the turn ends: the watermark passes all of them at once and the next ticket's turn is
/// there, with nothing left waiting.
#[test]
fn sequencer_passes_a_flood_of_given_up_tickets_at_once() {
    let sequencer = Sequencer::new();
    let first = sequencer.ticket();
    let mut rest: Vec<_> = (0..100_000).map(|_| sequencer.ticket()).collect();
    while let Some(ticket) = rest.pop() {
        drop(ticket);
    }
    assert_eq!(sequencer.current(), 0);
    first.try_turn().unwrap().done();
    assert_eq!(sequencer.current(), 100_001);
    let next = sequencer.ticket();
    assert_eq!(next.try_turn().unwrap().seq(), 100_001);
}

/// Cancellation at every await of an ordered section's life: a `Wait` dropped before it
/// was ever polled, after it parked, after it was woken but before it was polled again, a
/// `Turn` dropped from another task, a `Wait` polled from one waker and then another —
/// every later ticket gets its turn, in order, and nothing is left parked.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn sequencer_cancelled_at_every_await_strands_nobody() {
    let sequencer = Sequencer::new();
    let t: Vec<_> = (0..7).map(|_| sequencer.ticket()).collect();
    let mut t = t.into_iter();
    let mut next = || t.next().unwrap();
    let (t0, t1, t2, t3, t4, t5, t6) = (next(), next(), next(), next(), next(), next(), next());

    // t1: its `Wait` made and dropped unpolled.
    drop(t1.wait());
    // t2: parked, then dropped.
    let mut w2 = t2.wait();
    assert!((&mut w2).now_or_never().is_none());
    // t3: parked under two wakers in turn (the second replaces the first).
    let mut w3 = t3.wait();
    assert!((&mut w3).now_or_never().is_none());
    let counting = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&counting));
    assert!(Pin::new(&mut w3)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    assert_eq!(sequencer.waiting(), 2);
    drop(w2);
    assert_eq!(sequencer.waiting(), 1);

    // t0's turn, released from another task.
    let turn0 = t0.try_turn().unwrap();
    tokio::spawn(async move { drop(turn0) }).await.unwrap();
    // t1 and t2 were given up: the turn is t3's, and only its latest waker was woken.
    assert_eq!(sequencer.current(), 3);
    assert_eq!(counting.0.load(SeqCst), 1);
    assert_eq!(sequencer.waiting(), 0);
    // t3 woken but dropped before it is polled again: the turn passes on at the drop.
    let t4_task = tokio::spawn(async move { t4.wait().await.seq() });
    settle().await;
    assert_eq!(sequencer.waiting(), 1);
    drop(w3);
    assert_eq!(within(t4_task).await.unwrap(), 4);
    // t5 in a `select!` that loses, t6 waits for it and runs.
    let t5_task = tokio::spawn(async move {
        tokio::select! {
            biased;
            () = std::future::ready(()) => None,
            turn = t5.wait() => Some(turn.seq()),
        }
    });
    assert_eq!(within(t5_task).await.unwrap(), None);
    assert_eq!(within(t6.wait()).await.seq(), 6);
    assert_eq!(sequencer.current(), 7);
    assert_eq!(sequencer.waiting(), 0);
}

/// `next()` dropped mid-way — after a poll that took a budget's worth of held arrivals and
/// returned `Pending` — loses nothing: the held values stay, and once the head arrives
/// every value comes out in order.
#[tokio::test]
async fn ordered_by_key_next_dropped_mid_way_loses_nothing() {
    let input = (1..=3_000u64)
        .map(|s| ('k', s, s))
        .chain([('k', 0, 0), ('j', 0, 99)]);
    let mut s = stream::iter(input).ordered_by_key();
    assert!(
        s.next().now_or_never().is_none(),
        "a budget's worth, then Pending"
    );
    assert!(s.buffered_len() > 0);
    let held = s.buffered_len();
    assert!(s.next().now_or_never().is_none());
    assert!(s.buffered_len() > held, "came back for more");
    let out: Vec<_> = within((&mut s).collect::<Vec<_>>()).await;
    let k: Vec<u64> = out
        .iter()
        .filter(|(key, _)| *key == 'k')
        .map(|(_, r)| *r.as_ref().unwrap())
        .collect();
    assert!(k.into_iter().eq(0..=3_000));
    assert_eq!(out.last(), Some(&('j', Ok(99))));
    assert!(futures::stream::FusedStream::is_terminated(&s));
    assert_eq!(s.next().await, None);
}

/// `size_hint` brackets what is still to come at every step, with duplicates, late
/// values, holes and window skips in the mix.
#[tokio::test]
async fn ordered_by_key_size_hint_brackets_what_comes_out() {
    let arrivals = vec![
        (1u8, 2u64, 'a'),
        (1, 2, 'b'), // duplicate of a held seq
        (2, 0, 'c'),
        (2, 0, 'd'), // late
        (1, 5, 'e'), // window reached: key 1's gap 0..2 skipped
        (3, 4, 'f'),
        (1, 0, 'g'), // late after the skip
        (3, 9, 'h'), // holes flushed at the end
    ];
    for window in [None, Some(1), Some(2), Some(3)] {
        let mut config = KeyedReorderConfig::new();
        if let Some(w) = window {
            config = config.window(w);
        }
        let mut s = stream::iter(arrivals.clone()).ordered_by_key_with(config);
        let mut hints = vec![Stream::size_hint(&s)];
        let mut n = 0;
        while within(s.next()).await.is_some() {
            n += 1;
            hints.push(Stream::size_hint(&s));
        }
        for (taken, (lower, upper)) in hints.into_iter().enumerate() {
            let left = n - taken;
            assert!(
                lower <= left,
                "window {window:?} step {taken}: lower {lower} > {left}"
            );
            assert!(
                upper.is_none_or(|u| u >= left),
                "window {window:?} step {taken}: upper {upper:?} < {left}"
            );
        }
    }
}

#[test]
#[should_panic(expected = "reorder window must be at least 1")]
fn keyed_window_of_zero_panics() {
    let _ = KeyedReorderConfig::new().window(0);
}

/// `forget` drops a drained key's watermark: its next arrival starts it afresh at
/// `first_seq` (a seq that was late before is now in order), and a key that holds values
/// is refused and keeps them.
#[test]
fn keyed_buffer_forget_starts_a_key_afresh() {
    let mut buf = KeyedBuffer::starting_at(10);
    assert_eq!(buf.insert(&'a', 10, 1).unwrap(), Some(1));
    assert_eq!(buf.insert(&'a', 11, 2).unwrap(), Some(2));
    assert!(matches!(
        buf.insert(&'a', 10, 3),
        Err(ReorderError::Late { seq: 10, value: 3 })
    ));
    assert!(buf.forget(&'a'));
    assert_eq!(buf.tracked_keys(), 0);
    assert_eq!(buf.next_seq(&'a'), 10);
    assert_eq!(buf.insert(&'a', 11, 4).unwrap(), None);
    assert!(!buf.forget(&'a'), "holds a value");
    assert_eq!(buf.insert(&'a', 10, 5).unwrap(), Some(5));
    assert_eq!(buf.pop_ready(), Some(('a', Ok(4))));
    assert_eq!(buf.pop_ready(), None);
    assert_eq!(buf.next_seq(&'a'), 12);
}

// ---------------------------------------------------------------------------------------
// KeyedBuffer under a key whose `Clone` panics (caught by the caller)
// ---------------------------------------------------------------------------------------

thread_local! {
    /// Clones left before the next one panics; `None`: never panics.
    static CLONES_LEFT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// A key whose `clone` panics once the countdown runs out.
#[derive(Hash, PartialEq, Eq, Debug)]
struct Touchy(u8);

impl Clone for Touchy {
    fn clone(&self) -> Self {
        CLONES_LEFT.with(|left| match left.get() {
            Some(0) => {
                left.set(None);
                panic!("injected: key clone");
            }
            Some(n) => left.set(Some(n - 1)),
            None => {}
        });
        Touchy(self.0)
    }
}

/// Every operation of the pure core, with the key's `clone` panicking at each point in
/// turn and the panic caught: no value already inside the buffer is lost or stranded —
/// each comes out exactly once, each key's `Ok`s in order, and the flush empties the
/// buffer. (A value whose own `insert` panicked may be kept or dropped.)
#[test]
fn keyed_buffer_survives_a_key_clone_panicking_anywhere() {
    common::quiet_injected_panics();
    // (key, seq): gaps, copies, several keys blocked and ready at once.
    let schedule: Vec<(u8, u64)> = vec![
        (1, 2),
        (2, 1),
        (1, 1),
        (2, 1),
        (3, 0),
        (1, 0),
        (2, 3),
        (3, 2),
        (2, 0),
        (1, 4),
        (3, 1),
        (2, 2),
        (1, 6),
        (1, 6),
        (3, 5),
        (1, 3),
        (3, 3),
        (1, 5),
    ];
    for panic_at in 0..200 {
        let mut buf = KeyedBuffer::new();
        let mut out: Vec<(u8, Result<usize, ReorderError<usize>>)> = Vec::new();
        let mut uncertain = Vec::new();
        let mut panicked = false;
        CLONES_LEFT.with(|left| left.set(Some(panic_at)));
        for (id, &(key, seq)) in schedule.iter().enumerate() {
            let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut got = Vec::new();
                match buf.insert(&Touchy(key), seq, id) {
                    Ok(Some(v)) => got.push((key, Ok(v))),
                    Ok(None) => {}
                    Err(e) => got.push((key, Err(e))),
                }
                got
            }));
            match step {
                Ok(got) => out.extend(got),
                Err(_) => {
                    panicked = true;
                    uncertain.push(id);
                }
            }
            loop {
                let popped =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| buf.pop_ready()));
                match popped {
                    Ok(Some((k, r))) => out.push((k.0, r)),
                    Ok(None) => break,
                    Err(_) => panicked = true,
                }
            }
        }
        CLONES_LEFT.with(|left| left.set(None));
        while let Some((k, r)) = buf.pop_flush() {
            out.push((k.0, r));
        }
        assert!(buf.is_empty(), "panic at clone {panic_at}: values stranded");
        assert_eq!(buf.len(), 0);
        let mut ids: Vec<usize> = out
            .iter()
            .filter_map(|(_, r)| match r {
                Ok(v) => Some(*v),
                Err(ReorderError::Late { value, .. } | ReorderError::Duplicate { value, .. }) => {
                    Some(*value)
                }
                Err(ReorderError::Missing(_)) => None,
            })
            .collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(
            ids.len(),
            before,
            "panic at clone {panic_at}: a value twice"
        );
        let expected: Vec<usize> = (0..schedule.len())
            .filter(|id| !uncertain.contains(id) || ids.contains(id))
            .collect();
        assert_eq!(ids, expected, "panic at clone {panic_at}: a value lost");
        for key in 1..=3u8 {
            let oks: Vec<u64> = out
                .iter()
                .filter(|(k, r)| *k == key && r.is_ok())
                .map(|(_, r)| schedule[*r.as_ref().unwrap()].1)
                .collect();
            assert!(
                oks.windows(2).all(|w| w[0] < w[1]),
                "panic at clone {panic_at}: key {key} out of order: {oks:?}"
            );
        }
        if !panicked {
            // The countdown outlived the schedule: every point was tried.
            assert!(
                panic_at >= 15,
                "only {panic_at} clones: the schedule is too tame"
            );
            return;
        }
    }
    panic!("the schedule never ran out of clones");
}
