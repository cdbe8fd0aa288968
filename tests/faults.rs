//! Fault injection across the public API: panicking tasks, consumers dropped mid-stream,
//! senders dropped mid-stream, seqs at `u64::MAX`, window overflow, head-of-line timeouts,
//! sequencer tickets dropped or cancelled. Every test that could hang runs under a timeout
//! (real time) or on paused time, so a bug fails instead of stalling CI.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{stream, StreamExt};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reorder::{
    OrderedExt, OrderedJoinSet, ReorderBuffer, ReorderConfig, ReorderError, Sequencer, SpawnConfig,
};
use tokio::time::{timeout, Instant};

mod common;
use common::quiet_injected_panics;

/// Real-time limit for tests on a multi-thread runtime.
const LIMIT: Duration = Duration::from_secs(20);

async fn within<F: Future>(f: F) -> F::Output {
    timeout(LIMIT, f).await.expect("timed out: hang")
}

/// Counts live instances; a task holding one is alive until its future is dropped.
#[derive(Clone, Default)]
struct Live(Arc<AtomicUsize>);

struct Guard(Arc<AtomicUsize>);

impl Live {
    fn guard(&self) -> Guard {
        self.0.fetch_add(1, SeqCst);
        Guard(self.0.clone())
    }

    fn count(&self) -> usize {
        self.0.load(SeqCst)
    }

    /// Waits (real time) until no guard is alive.
    async fn wait_for_zero(&self) {
        within(async {
            while self.count() != 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

// ---------------------------------------------------------------- panicking tasks

/// Tasks panic at random points (before any await, between awaits, at the end) on a
/// 2-worker runtime: every position yields exactly once, the panics in their own
/// positions with their own payloads, and the stream goes on to the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_panicking_at_random_points_keep_their_positions() {
    quiet_injected_panics();
    let mut rng = StdRng::seed_from_u64(7);
    // 0 = no panic, 1 = before the first await, 2 = between awaits, 3 = at the end.
    let plan: Vec<(u8, u32)> = (0..2_000)
        .map(|_| {
            let at = if rng.random_bool(0.15) {
                rng.random_range(1..4u8)
            } else {
                0
            };
            (at, rng.random_range(0..4u32))
        })
        .collect();
    let jobs = plan.clone();
    let tasks = stream::iter(jobs.into_iter().enumerate()).spawn_ordered(
        16,
        |(i, (at, yields))| async move {
            if at == 1 {
                panic!("injected: p{i}");
            }
            for _ in 0..yields {
                tokio::task::yield_now().await;
            }
            if at == 2 {
                panic!("injected: p{i}");
            }
            tokio::task::yield_now().await;
            if at == 3 {
                panic!("injected: p{i}");
            }
            i
        },
    );
    let results: Vec<_> = within(tasks.collect()).await;
    assert_eq!(results.len(), plan.len());
    for (i, (result, (at, _))) in results.into_iter().zip(&plan).enumerate() {
        match result {
            Ok(v) => assert!(*at == 0 && v == i, "position {i}"),
            Err(e) => {
                assert!(
                    *at != 0 && e.is_panic() && e.seq() == i as u64,
                    "position {i}: {e}"
                );
                assert_eq!(e.to_string(), format!("task {i} panicked: injected: p{i}"));
            }
        }
    }
}

/// The same through `OrderedJoinSet`, with `spawn_blocking` closures mixed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_set_with_random_panics_async_and_blocking() {
    quiet_injected_panics();
    let mut rng = StdRng::seed_from_u64(8);
    let mut set = OrderedJoinSet::new();
    let mut plan = Vec::new();
    for i in 0..500u64 {
        let panics = rng.random_bool(0.2);
        let blocking = rng.random_bool(0.3);
        plan.push(panics);
        if blocking {
            set.spawn_blocking(move || if panics { panic!("injected: b{i}") } else { i });
        } else {
            set.spawn(async move {
                tokio::task::yield_now().await;
                if panics {
                    panic!("injected: a{i}");
                }
                i
            });
        }
    }
    let results = within(set.join_all()).await;
    assert_eq!(results.len(), plan.len());
    for (i, (r, panics)) in results.iter().zip(&plan).enumerate() {
        assert_eq!(r.is_err(), *panics, "position {i}");
        if let Ok(v) = r {
            assert_eq!(*v, i as u64);
        }
    }
}

// ---------------------------------------------------------------- consumers dropped

/// Drops a `spawn_ordered` stream after a random number of results, while tasks that would
/// otherwise run for an hour are in flight: every task's future is dropped (aborted), none
/// survives its consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_spawn_ordered_aborts_every_task() {
    let mut rng = StdRng::seed_from_u64(9);
    for round in 0..20 {
        let live = Live::default();
        let started = Arc::new(AtomicUsize::new(0));
        let take = rng.random_range(0..40usize);
        let stuck_every = rng.random_range(2..9u64);
        let (l, s) = (live.clone(), started.clone());
        let mut tasks = stream::iter(0..1_000u64).spawn_ordered_with(
            SpawnConfig::new(8).window(32),
            move |i| {
                let guard = l.guard();
                s.fetch_add(1, SeqCst);
                async move {
                    let _guard = guard;
                    if i % stuck_every == stuck_every - 1 {
                        // Stuck: only an abort ends it.
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    tokio::task::yield_now().await;
                    i
                }
            },
        );
        let mut got = 0;
        while got < take {
            match timeout(Duration::from_millis(20), tasks.next()).await {
                Ok(Some(r)) => {
                    assert_eq!(r.unwrap(), got as u64);
                    got += 1;
                }
                Ok(None) => unreachable!(),
                Err(_) => break, // the head is stuck
            }
        }
        assert!(started.load(SeqCst) >= got, "round {round}");
        let in_flight = tasks.in_flight();
        assert!(in_flight <= 8, "round {round}: {in_flight} in flight");
        drop(tasks);
        live.wait_for_zero().await;
    }
}

/// Dropping an `OrderedJoinSet` (or calling `abort_all`) stops every task it spawned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_join_set_aborts_every_task() {
    let live = Live::default();
    let mut set = OrderedJoinSet::new();
    for i in 0..200u64 {
        let guard = live.guard();
        set.spawn(async move {
            let _guard = guard;
            if i % 3 == 1 {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            i
        });
    }
    assert_eq!(within(set.join_next()).await.unwrap().unwrap(), 0);
    drop(set);
    live.wait_for_zero().await;

    let mut set = OrderedJoinSet::new();
    for i in 0..50u64 {
        let guard = live.guard();
        set.spawn(async move {
            let _guard = guard;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            i
        });
    }
    set.abort_all();
    let results = within(set.join_all()).await;
    assert_eq!(results.len(), 50);
    assert!(results
        .iter()
        .all(|r| r.as_ref().unwrap_err().is_cancelled()));
    live.wait_for_zero().await;
}

/// A consumer dropped while the reorder stream holds values drops them (no leak, no panic),
/// and a receiver dropped mid-stream fails waiting senders with their values handed back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_receiver_mid_stream_releases_senders() {
    let live = Live::default();
    let (tx, mut rx) = reorder::channel::<Guard>(4);
    tx.send(1, live.guard()).await.unwrap();
    tx.send(2, live.guard()).await.unwrap();
    // Seq 9 waits: beyond the window.
    let waiting = {
        let tx = tx.clone();
        let g = live.guard();
        tokio::spawn(async move { tx.send(9, g).await })
    };
    tx.send(0, live.guard()).await.unwrap();
    assert!(within(rx.next()).await.unwrap().is_ok());
    drop(rx);
    let err = within(waiting).await.unwrap().unwrap_err();
    assert_eq!(err.seq, 9);
    drop(err);
    assert!(tx.send(3, live.guard()).await.is_err());
    assert!(tx.is_closed());
    live.wait_for_zero().await;
}

// ---------------------------------------------------------------- senders dropped

/// Senders in tasks send random subsets of their seqs, and some stop halfway and drop
/// their sender: when the last sender is gone the receiver yields everything that was
/// sent, in order, reports each hole once, and ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_dropped_mid_stream_end_the_receiver_with_holes_reported() {
    let mut rng = StdRng::seed_from_u64(10);
    for round in 0..30 {
        let (tx, rx) = reorder::channel_with::<u64>(ReorderConfig::new());
        let senders = rng.random_range(1..6u64);
        let n = 300u64;
        let mut sent = vec![Vec::new(); senders as usize];
        for k in 0..senders {
            // Sender k owns seqs ≡ k (mod senders) and gives up after a random prefix.
            let stop = rng.random_range(0..=n);
            let mine: Vec<u64> = (0..n).filter(|s| s % senders == k && *s < stop).collect();
            sent[k as usize] = mine.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                for seq in mine {
                    tx.send(seq, seq).await.unwrap();
                    tokio::task::yield_now().await;
                }
            });
        }
        drop(tx);
        let got: Vec<_> = within(rx.collect()).await;
        let mut all: Vec<u64> = sent.concat();
        all.sort_unstable();
        let oks: Vec<u64> = got
            .iter()
            .filter_map(|r| r.as_ref().ok().copied())
            .collect();
        assert_eq!(oks, all, "round {round}");
        let last = all.last().copied().map_or(0, |l| l + 1);
        let holes: u64 = got
            .iter()
            .map(|r| match r {
                Err(ReorderError::Missing(m)) => m.end - m.start,
                Ok(_) => 0,
                Err(e) => panic!("round {round}: unexpected {e}"),
            })
            .sum();
        assert_eq!(holes, last - all.len() as u64, "round {round}");
    }
}

/// Sender tasks aborted while parked in `send` leave no trace: they send nothing, the
/// parked senders behind them are still woken, and the receiver ends.
#[tokio::test(start_paused = true)]
async fn sender_aborted_while_waiting_leaves_no_trace() {
    let (tx, mut rx) = reorder::channel::<u64>(2);
    let parked: Vec<_> = (5..9u64)
        .map(|seq| {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(seq, seq + 100).await })
        })
        .collect();
    tokio::task::yield_now().await;
    for p in &parked[..2] {
        p.abort(); // the senders of 5 and 6 give up while parked
    }
    for seq in 0..5 {
        tx.send(seq, seq).await.unwrap();
        assert_eq!(rx.next().await, Some(Ok(seq)));
    }
    tx.send(5, 5).await.unwrap();
    tx.send(6, 6).await.unwrap();
    drop(tx);
    let rest: Vec<_> = timeout(Duration::from_secs(60), rx.collect::<Vec<_>>())
        .await
        .expect("hang");
    assert_eq!(rest, [Ok(5), Ok(6), Ok(107), Ok(108)]);
}

/// With a window, a head whose sender died while every other sender is parked beyond the
/// window: the receiver holds nothing, so the head-of-line timer (which only runs while
/// values are held) never starts, the parked senders keep the channel open, and nothing
/// moves — although `channel_with` documents that after the timeout "the receiver skips
/// a missing head ... and waiting senders move up with the watermark".
#[test]
fn head_timeout_rescues_senders_parked_behind_a_dead_head() {
    paused_runtime().block_on(async {
        let config = ReorderConfig::new()
            .window(1)
            .head_timeout(Duration::from_secs(1));
        let (tx, rx) = reorder::channel_with::<u64>(config);
        for seq in [1u64, 2] {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(seq, seq).await.unwrap() });
        }
        drop(tx); // the producer of seq 0 is gone
        let got = timeout(Duration::from_secs(3600), rx.collect::<Vec<_>>())
            .await
            .expect("deadlock: head timeout never fired with only parked senders");
        assert_eq!(got, [Err(ReorderError::Missing(0..1)), Ok(1), Ok(2)]);
    });
}

// ---------------------------------------------------------------- near u64::MAX

#[tokio::test]
async fn adapter_at_u64_max_then_everything_is_late() {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let first = u64::MAX - 5;
        let arrivals = [
            u64::MAX,
            first + 2,
            first,
            u64::MAX - 1,
            first + 1,
            first + 3,
            u64::MAX,
            3,
        ];
        let got: Vec<_> = stream::iter(arrivals.map(|s| (s, s)))
            .ordered_from(first)
            .collect()
            .await;
        let mut want: Vec<_> = (first..=u64::MAX).map(Ok).collect();
        want.push(Err(ReorderError::Late {
            seq: u64::MAX,
            value: u64::MAX,
        }));
        want.push(Err(ReorderError::Late { seq: 3, value: 3 }));
        assert_eq!(got, want);
    })
    .await
    .expect("test timed out: something hangs");
}

#[tokio::test]
async fn hole_right_below_u64_max_is_reported_and_max_yielded() {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let got: Vec<_> = stream::iter([(u64::MAX, 'z')])
            .ordered_from(u64::MAX - 3)
            .collect()
            .await;
        assert_eq!(
            got,
            [Err(ReorderError::Missing(u64::MAX - 3..u64::MAX)), Ok('z')]
        );
    })
    .await
    .expect("test timed out: something hangs");
}

#[tokio::test(start_paused = true)]
async fn spawn_ordered_with_usize_max_limit_and_window() {
    let got: Vec<u64> = stream::iter(0..200u64)
        .spawn_ordered(usize::MAX, |i| async move {
            tokio::time::sleep(Duration::from_millis(200 - i)).await;
            i
        })
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(got, (0..200).collect::<Vec<_>>());
}

/// Channel at the top of the seq space, window 4: the sender of `u64::MAX` parks while the
/// receiver is more than 4 behind; once the watermark is within 4 of it the wake-up limit
/// `watermark + window` saturates to `u64::MAX` and `advance` never wakes it.
#[test]
fn channel_sender_at_u64_max_is_woken() {
    paused_runtime().block_on(async {
        let first = u64::MAX - 8;
        let (tx, mut rx) =
            reorder::channel_with::<u64>(ReorderConfig::new().first_seq(first).window(4));
        let top = {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(u64::MAX, u64::MAX).await })
        };
        let rest = tokio::spawn(async move {
            for seq in first..u64::MAX {
                tx.send(seq, seq).await.unwrap();
            }
        });
        let got = timeout(Duration::from_secs(60), async {
            let mut got = Vec::new();
            while let Some(r) = rx.next().await {
                got.push(r.unwrap());
            }
            got
        })
        .await
        .expect("deadlock: the sender of u64::MAX was never woken");
        top.await.unwrap().unwrap();
        rest.await.unwrap();
        assert_eq!(got, (first..=u64::MAX).collect::<Vec<_>>());
    });
}

/// `channel_with` without a window promises that senders never wait, but stores "no window"
/// as `u64::MAX` and admits `seq - watermark < u64::MAX`, so `send(u64::MAX)` from
/// watermark 0 parks forever.
#[test]
fn unbounded_channel_admits_u64_max() {
    paused_runtime().block_on(async {
        let (tx, mut rx) = reorder::channel_with::<&str>(ReorderConfig::new());
        assert!(tx.try_send(u64::MAX, "top").is_ok(), "try_send says Full");
        tx.send(0, "zero").await.unwrap();
        timeout(Duration::from_secs(60), tx.send(u64::MAX, "top again"))
            .await
            .expect("send of u64::MAX waits on an unbounded channel")
            .unwrap();
        assert_eq!(rx.next().await, Some(Ok("zero")));
    });
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

/// `ReorderBuffer::insert` takes the fast path for the next seq even when held values are
/// ready and not yet drained. The docs say "a second copy of a held seq is kept until the
/// first copy is popped, then handed back as Duplicate right after it"; here the second
/// copy is yielded and the first comes back as a `Duplicate`, after it.
#[test]
fn buffer_insert_before_drain_keeps_first_copy() {
    let mut buf = ReorderBuffer::new();
    assert_eq!(buf.insert(1, "first copy").unwrap(), None);
    assert_eq!(buf.insert(0, "zero").unwrap(), Some("zero"));
    // 1 is now ready; the caller inserts before draining.
    assert_eq!(
        buf.insert(1, "second copy").unwrap(),
        None,
        "second copy took the fast path"
    );
    assert_eq!(buf.pop_ready().unwrap().unwrap(), "first copy");
    assert_eq!(
        buf.pop_ready().unwrap().unwrap_err(),
        ReorderError::Duplicate {
            seq: 1,
            value: "second copy"
        }
    );

    // Same root cause: a pending Duplicate must come out before later values.
    let mut buf = ReorderBuffer::new();
    buf.insert(1, 'a').unwrap();
    buf.insert(1, 'b').unwrap();
    buf.insert(0, '0').unwrap();
    assert_eq!(buf.pop_ready().unwrap().unwrap(), 'a');
    assert_eq!(
        buf.insert(2, 'c').unwrap(),
        None,
        "2 overtook the pending Duplicate of 1"
    );
}

// ---------------------------------------------------------------- window overflow

/// An adversarial stream that never sends the head, for many rounds: memory never exceeds
/// the window, every skipped head is reported once, and the late heads come back as `Late`.
#[tokio::test]
async fn adapter_window_overflow_stays_bounded() {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        for window in [1usize, 2, 7, 64] {
            // Send 1..=window*50, never 0 or any multiple of 13; then every multiple of 13.
            let n = (window * 50) as u64;
            let arrivals = (1..=n).filter(|s| s % 13 != 0).chain((0..=n).step_by(13));
            let mut s = stream::iter(arrivals.map(|x| (x, x)))
                .ordered_with(ReorderConfig::new().window(window));
            let mut oks = 0u64;
            let mut late = 0u64;
            let mut missing = 0u64;
            while let Some(r) = s.next().await {
                assert!(s.buffered_len() <= window);
                match r {
                    Ok(_) => oks += 1,
                    Err(ReorderError::Late { seq, .. }) => {
                        assert_eq!(seq % 13, 0);
                        late += 1
                    }
                    Err(ReorderError::Missing(m)) => missing += m.end - m.start,
                    Err(e) => panic!("{e}"),
                }
            }
            assert!(s.peak_buffered() <= window, "window {window}");
            assert_eq!(oks + late, n + 1);
            // Every seq 0..=n is sent once: each skipped one comes back late, exactly once.
            assert_eq!(missing, late, "window {window}");
        }
    })
    .await
    .expect("test timed out: something hangs");
}

/// Window `usize::MAX` on the adapter and the channel behaves as unbounded, no overflow.
#[tokio::test]
async fn huge_windows_do_not_overflow() {
    let got: Vec<_> = stream::iter([(3u64, 3u64), (1, 1), (2, 2), (0, 0)])
        .ordered_with(ReorderConfig::new().window(usize::MAX).first_seq(0))
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(got, [0, 1, 2, 3]);
    let (tx, rx) = reorder::channel::<u64>(usize::MAX);
    for s in (0..100u64).rev() {
        tx.try_send(s, s).unwrap();
    }
    drop(tx);
    let got: Vec<_> = within(rx.map(Result::unwrap).collect::<Vec<_>>()).await;
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

// ---------------------------------------------------------------- head-of-line timeouts

/// A head that never comes is skipped exactly `timeout` after the stream found it missing,
/// the clock restarts when the watermark moves, and the head turning up later is `Late`.
#[tokio::test(start_paused = true)]
async fn head_timeout_skips_after_exactly_the_timeout() {
    let t = Duration::from_millis(500);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(u64, char)>();
    let arrivals = tokio_stream_from(rx);
    let mut s = arrivals.ordered_with(ReorderConfig::new().head_timeout(t));
    let start = Instant::now();
    tx.send((2, 'c')).unwrap();
    // Seq 1 arrives at 0.9 t; then seq 0 is still missing — its clock started at 0.
    let tx2 = tx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(t * 9 / 10).await;
        tx2.send((1, 'b')).unwrap();
    });
    assert_eq!(s.next().await, Some(Err(ReorderError::Missing(0..1))));
    assert_eq!(start.elapsed(), t, "skip not at exactly the timeout");
    assert_eq!(s.next().await, Some(Ok('b')));
    assert_eq!(s.next().await, Some(Ok('c')));
    // Seq 3 missing with 4 held: a fresh clock from now.
    tx.send((4, 'e')).unwrap();
    let at = Instant::now();
    assert_eq!(s.next().await, Some(Err(ReorderError::Missing(3..4))));
    assert_eq!(at.elapsed(), t);
    tx.send((0, 'a')).unwrap();
    assert_eq!(s.next().await, Some(Ok('e')));
    assert_eq!(
        s.next().await,
        Some(Err(ReorderError::Late { seq: 0, value: 'a' }))
    );
    // Nothing held: no timeout fires, the stream just waits.
    assert!(timeout(t * 10, s.next()).await.is_err());
    drop(tx);
    assert_eq!(s.next().await, None);
}

/// On the channel, a head timeout releases senders parked beyond the window.
#[tokio::test(start_paused = true)]
async fn channel_head_timeout_releases_parked_senders() {
    let config = ReorderConfig::new()
        .window(2)
        .head_timeout(Duration::from_secs(1));
    let (tx, rx) = reorder::channel_with::<u64>(config);
    for seq in [1u64, 2, 3, 4, 6, 7] {
        let tx = tx.clone();
        tokio::spawn(async move { tx.send(seq, seq).await.unwrap() });
    }
    drop(tx);
    let start = Instant::now();
    let got: Vec<_> = timeout(Duration::from_secs(3600), rx.collect::<Vec<_>>())
        .await
        .expect("deadlock");
    let want = vec![
        Err(ReorderError::Missing(0..1)),
        Ok(1),
        Ok(2),
        Ok(3),
        Ok(4),
        Err(ReorderError::Missing(5..6)),
        Ok(6),
        Ok(7),
    ];
    assert_eq!(got, want);
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(2),
        "one timeout per hole"
    );
}

fn tokio_stream_from<T>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

// ---------------------------------------------------------------- sequencer

/// Many tasks on a 2-worker runtime take tickets; at random, a ticket is dropped before its
/// turn, its wait is cancelled by a short timeout, its task is aborted, the task panics
/// before its turn, or it panics inside its turn. Every turn that runs runs alone and in
/// ticket order, every plain ticket gets its turn, and the sequencer ends past the last one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequencer_survives_random_drops_cancels_aborts_and_panics() {
    quiet_injected_panics();
    for seed in 0..5u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let sequencer = Sequencer::new();
        let ran = Arc::new(Mutex::new(Vec::new()));
        let busy = Arc::new(AtomicUsize::new(0));
        let n = 400u64;
        let mut plain = Vec::new();
        let mut handles = Vec::new();
        for _ in 0..n {
            let ticket = sequencer.ticket();
            let seq = ticket.seq();
            let fate = rng.random_range(0..10u8);
            let delay = rng.random_range(0..300u64);
            let (ran, busy) = (ran.clone(), busy.clone());
            if fate >= 5 {
                plain.push(seq);
            }
            let handle = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_micros(delay)).await;
                match fate {
                    0 => drop(ticket),
                    1 => {
                        let _ = timeout(Duration::from_micros(delay), ticket.wait()).await;
                    }
                    2 => {
                        tokio::time::sleep(Duration::from_secs(3600)).await; // aborted below
                        drop(ticket);
                    }
                    3 => {
                        let _ticket = ticket;
                        panic!("injected: before turn {seq}");
                    }
                    _ => {
                        let turn = ticket.wait().await;
                        assert_eq!(busy.fetch_add(1, SeqCst), 0, "two turns at once");
                        ran.lock().unwrap().push(turn.seq());
                        tokio::task::yield_now().await;
                        busy.fetch_sub(1, SeqCst);
                        if fate == 4 {
                            panic!("injected: in turn {seq}");
                        }
                    }
                }
            });
            handles.push((fate, handle));
        }
        for (fate, h) in &handles {
            if *fate == 2 {
                h.abort();
            }
        }
        for (fate, h) in handles {
            let r = within(h).await;
            match fate {
                2 => assert!(r.unwrap_err().is_cancelled()),
                3 | 4 => assert!(r.unwrap_err().is_panic()),
                _ => r.unwrap(),
            }
        }
        let ran = ran.lock().unwrap().clone();
        assert!(
            ran.windows(2).all(|w| w[0] < w[1]),
            "seed {seed}: out of order"
        );
        let ran_set: std::collections::BTreeSet<_> = ran.iter().copied().collect();
        assert!(
            plain.iter().all(|s| ran_set.contains(s)),
            "seed {seed}: a plain ticket never ran"
        );
        assert_eq!(sequencer.current(), n, "seed {seed}");
        assert_eq!(sequencer.waiting(), 0);
    }
}

/// Striped lanes on a multi-thread runtime, several of them dying at random points (a
/// panic, or an abort while parked at the window), with random windows and no head
/// timeout: every seq up to the highest sent comes out exactly once, in order — the
/// values as `Ok`, the dead lanes' seqs as `Missing` — and the receiver ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn striped_lanes_dying_at_random_points_never_hang_or_lose_values() {
    const SEEDS: u64 = 12;
    quiet_injected_panics();
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(seed);
        let lanes = rng.random_range(2..8u64);
        let rounds = rng.random_range(50..400u64);
        let window = rng.random_range(1..16usize);
        let (tx, rx) = reorder::channel::<u64>(window);
        // Per lane: after how many sends it dies (`None`: it lives), and how.
        let mut deaths = Vec::new();
        let mut tasks = Vec::new();
        for p in 0..lanes {
            let dies_after = rng.random_bool(0.4).then(|| rng.random_range(0..rounds));
            let by_abort = rng.random_bool(0.5);
            deaths.push(dies_after);
            let mut lane = tx.lane(p, lanes);
            let (at_death, death_reached) = tokio::sync::oneshot::channel::<()>();
            tasks.push((
                by_abort.then_some(death_reached),
                dies_after,
                tokio::spawn(async move {
                    for round in 0..rounds {
                        if dies_after == Some(round) {
                            if by_abort {
                                let _ = at_death.send(());
                                std::future::pending::<()>().await; // aborted from outside
                            }
                            panic!("injected: lane {p} dies");
                        }
                        let seq = lane.next_seq();
                        lane.send(seq).await.unwrap();
                        if round % 7 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                }),
            ));
        }
        drop(tx);
        let receiving = tokio::spawn(async move { rx.collect::<Vec<_>>().await });
        for (death_reached, dies_after, task) in &mut tasks {
            if let (Some(reached), Some(_)) = (death_reached.take(), dies_after) {
                // Abort only once the lane is where it is meant to die (each on its own:
                // one lane waiting there may hold the others back at the window).
                let lane = task.abort_handle();
                tokio::spawn(async move {
                    if reached.await.is_ok() {
                        lane.abort();
                    }
                });
            }
        }
        let got = within(receiving).await.unwrap();
        // The highest seq sent: the last round's seq of the highest lane that lived.
        let highest_sent = (0..lanes)
            .filter_map(|p| {
                let sent = deaths[p as usize].unwrap_or(rounds);
                sent.checked_sub(1).map(|last_round| last_round * lanes + p)
            })
            .max();
        let mut next = 0u64;
        for item in &got {
            match item {
                Ok(seq) => {
                    assert_eq!(*seq, next, "seed {seed}: out of position");
                    let (p, round) = (seq % lanes, seq / lanes);
                    assert!(deaths[p as usize].is_none_or(|d| round < d), "seed {seed}");
                    next += 1;
                }
                Err(ReorderError::Missing(range)) => {
                    assert_eq!(range.start, next, "seed {seed}: Missing out of position");
                    for seq in range.clone() {
                        let (p, round) = (seq % lanes, seq / lanes);
                        let died = deaths[p as usize].is_some_and(|d| round >= d);
                        assert!(died, "seed {seed}: {seq} was sent but reported missing");
                    }
                    next = range.end;
                }
                Err(other) => panic!("seed {seed}: a healthy value came back as {other:?}"),
            }
        }
        assert_eq!(next, highest_sent.map_or(0, |h| h + 1), "seed {seed}");
        for (_, _, task) in tasks {
            let _ = task.await;
        }
    }
}
