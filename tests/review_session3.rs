//! Review of the third session's library changes: the receiver's in-order fast path
//! (inline publish, one out-of-line miss), `ReorderBuffer`'s separate heap of second
//! copies, `Commits`, and `KeyedBuffer` with a panicking key `clone`.

mod common;

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use futures::StreamExt;
use reorder::{channel, commit_tracker, CommitEvent, KeyedBuffer, ReorderBuffer, ReorderError};

use common::within;

/// A value large enough that the slots reach only ~128 seqs ahead, so that arrivals
/// further ahead (and their copies) go through the far heap and are pulled into the
/// slots as the watermark comes near.
#[derive(Debug)]
struct Big {
    id: u64,
    _pad: [u8; 1000],
}

fn big(id: u64) -> Big {
    Big {
        id,
        _pad: [0; 1000],
    }
}

/// A naive reference: every held value in one list, popped by (seq, arrival order).
struct Model {
    next: u64,
    exhausted: bool,
    held: Vec<(u64, u64, u64)>, // (seq, order, id)
    order: u64,
}

#[derive(Debug, PartialEq)]
enum Out {
    Ok(u64),
    Late(u64, u64),
    Duplicate(u64, u64),
    Missing(Range<u64>),
}

fn out(item: Result<Big, ReorderError<Big>>) -> Out {
    match item {
        Ok(v) => Out::Ok(v.id),
        Err(ReorderError::Late { seq, value }) => Out::Late(seq, value.id),
        Err(ReorderError::Duplicate { seq, value }) => Out::Duplicate(seq, value.id),
        Err(ReorderError::Missing(range)) => Out::Missing(range),
    }
}

impl Model {
    fn advance(&mut self, seq: u64) {
        match seq.checked_add(1) {
            Some(next) => self.next = next,
            None => self.exhausted = true,
        }
    }

    fn has_ready(&self) -> bool {
        self.held.iter().any(|h| h.0 <= self.next)
    }

    fn first_held(&self) -> Option<u64> {
        self.held.iter().map(|h| h.0).min()
    }

    fn insert(&mut self, seq: u64, id: u64) -> Result<Option<u64>, Out> {
        if seq == self.next && !self.exhausted && !self.has_ready() {
            self.advance(seq);
            return Ok(Some(id));
        }
        if seq < self.next || self.exhausted {
            return Err(Out::Late(seq, id));
        }
        self.held.push((seq, self.order, id));
        self.order += 1;
        Ok(None)
    }

    fn take_min(&mut self, filter: impl Fn(&(u64, u64, u64)) -> bool) -> Option<(u64, u64)> {
        let (index, _) = self
            .held
            .iter()
            .enumerate()
            .filter(|(_, h)| filter(h))
            .min_by_key(|(_, h)| (h.0, h.1))?;
        let (seq, _, id) = self.held.swap_remove(index);
        Some((seq, id))
    }

    fn pop_ready(&mut self) -> Option<Out> {
        let (next, exhausted) = (self.next, self.exhausted);
        if let Some((seq, id)) = self.take_min(|h| h.0 < next || exhausted) {
            return Some(Out::Duplicate(seq, id));
        }
        let (seq, id) = self.take_min(|h| h.0 == next)?;
        self.advance(seq);
        Some(Out::Ok(id))
    }

    fn skip_to(&mut self, seq: u64) -> Option<Range<u64>> {
        let target = self.first_held().map_or(seq, |held| held.min(seq));
        if self.exhausted || target <= self.next {
            return None;
        }
        let skipped = self.next..target;
        self.next = target;
        Some(skipped)
    }

    fn pop_flush(&mut self) -> Option<Out> {
        if let Some(first) = self.first_held() {
            if let Some(skipped) = self.skip_to(first) {
                return Some(Out::Missing(skipped));
            }
        }
        self.pop_ready()
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn run_model(seed: u64, start: u64, steps: usize) -> bool {
    let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut buf = ReorderBuffer::<Big>::starting_at(start);
    let mut model = Model {
        next: start,
        exhausted: false,
        held: Vec::new(),
        order: 0,
    };
    let mut sent: Vec<u64> = Vec::new();
    let mut id = 0u64;
    let mut exhausted_holding = false;
    for step in 0..steps {
        let ctx = || format!("seed {seed} start {start} step {step}");
        match rng.below(10) {
            0..=4 => {
                // A fresh seq near or far ahead, a resend of an earlier one, or a late one.
                let seq = match rng.below(6) {
                    0 | 1 => model.next.saturating_add(rng.below(8)),
                    2 => model.next.saturating_add(rng.below(400)),
                    3 if !sent.is_empty() => sent[rng.below(sent.len() as u64) as usize],
                    4 => model.next.saturating_sub(rng.below(4)),
                    _ => model.next.saturating_add(120 + rng.below(20)),
                };
                sent.push(seq);
                id += 1;
                let got = match buf.insert(seq, big(id)) {
                    Ok(v) => Ok(v.map(|v| v.id)),
                    Err(e) => Err(out(Err(e))),
                };
                assert_eq!(got, model.insert(seq, id), "insert {seq}: {}", ctx());
            }
            5..=7 => {
                let got = buf.pop_ready().map(out);
                assert_eq!(got, model.pop_ready(), "pop_ready: {}", ctx());
            }
            8 => {
                let target = model.next.saturating_add(rng.below(200));
                assert_eq!(
                    buf.skip_to(target),
                    model.skip_to(target),
                    "skip_to: {}",
                    ctx()
                );
            }
            _ => {
                let got = buf.pop_flush().map(out);
                assert_eq!(got, model.pop_flush(), "pop_flush: {}", ctx());
            }
        }
        assert_eq!(buf.len(), model.held.len(), "len: {}", ctx());
        assert_eq!(buf.next_seq(), model.next, "next_seq: {}", ctx());
        assert_eq!(buf.is_exhausted(), model.exhausted, "exhausted: {}", ctx());
        assert_eq!(buf.has_ready(), model.has_ready(), "has_ready: {}", ctx());
        assert_eq!(
            buf.first_held(),
            model.first_held(),
            "first_held: {}",
            ctx()
        );
        exhausted_holding |= model.exhausted && !model.held.is_empty();
    }
    // Drain: both agree to the end.
    loop {
        let got = buf.pop_flush().map(out);
        let want = model.pop_flush();
        assert_eq!(got, want, "final flush: seed {seed} start {start}");
        if want.is_none() {
            break;
        }
    }
    assert!(buf.is_empty());
    exhausted_holding
}

/// `ReorderBuffer` with second copies in their own heap behaves as one list popped by
/// (seq, arrival): duplicates of yielded seqs, copies of far seqs pulled into the
/// slots, skips, flushes, and the end at `u64::MAX`.
#[test]
fn buffer_with_copies_heap_matches_a_naive_model() {
    let mut exhausted = 0;
    for seed in 0..300 {
        run_model(seed, 0, 600);
        exhausted += usize::from(run_model(seed, u64::MAX - 500, 600));
        exhausted += usize::from(run_model(seed, u64::MAX - 40, 300));
    }
    // The end at `u64::MAX` is reached in many runs, with copies still held.
    assert!(exhausted > 50, "{exhausted}");
}

/// The windowed channel's fast path publishes inline and wakes parked senders out of
/// line: with a window of 1 and senders parked on every seq, nothing hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn windowed_fast_path_wakes_every_parked_sender() {
    within(async {
        for round in 0..50u64 {
            let (tx, mut rx) = channel::<u64>(1 + (round % 3) as usize);
            let n = 2_000u64;
            let mut handles = Vec::new();
            for lane in 0..4u64 {
                let tx = tx.clone();
                handles.push(tokio::spawn(async move {
                    let mut seq = lane;
                    while seq < n {
                        tx.send(seq, seq).await.unwrap();
                        seq += 4;
                    }
                }));
            }
            drop(tx);
            let mut expect = 0;
            while let Some(item) = rx.recv().await {
                assert_eq!(item.unwrap(), expect);
                expect += 1;
            }
            assert_eq!(expect, n);
            for h in handles {
                h.await.unwrap();
            }
        }
    })
    .await;
}

/// A key whose `clone` panics once (caught): every seq comes out once, as its value or
/// as `Missing`, and only a seq whose own `insert` panicked before the value was held may
/// be `Missing`. A seq handed straight back by `insert` must never vanish silently.
#[test]
fn keyed_clone_panicking_once_loses_nothing() {
    static BUDGET: AtomicUsize = AtomicUsize::new(usize::MAX / 2);
    #[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    struct Key(u32);
    impl Clone for Key {
        fn clone(&self) -> Self {
            if BUDGET.fetch_sub(1, SeqCst) == 1 {
                panic!("injected: clone");
            }
            Key(self.0)
        }
    }
    common::quiet_injected_panics();
    let mut failures = Vec::new();
    for order in [
        [2u64, 3, 1, 0, 5, 4],
        [1, 0, 2, 4, 3, 5],
        [3, 0, 2, 1, 5, 4],
    ] {
        for fail_at in 1..16 {
            let key = Key(1);
            let mut buf = KeyedBuffer::<Key, u64>::new();
            let mut got = Vec::new();
            let mut may_be_missing = Vec::new();
            BUDGET.store(fail_at, SeqCst);
            for seq in order {
                let before = buf.key_len(&key);
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    buf.insert(&key, seq, seq)
                }));
                match r {
                    Ok(Ok(Some(v))) => got.push(Ok(v)),
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => panic!("{e:?}"),
                    // Consumed by the panicking call, but not held: may be reported missing.
                    Err(_) if buf.key_len(&key) == before => may_be_missing.push(seq),
                    Err(_) => {}
                }
                loop {
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| buf.pop_ready()))
                    {
                        Ok(Some((_, Ok(v)))) => got.push(Ok(v)),
                        Ok(Some((_, Err(e)))) => panic!("{e:?}"),
                        Ok(None) => break,
                        Err(_) => {}
                    }
                }
            }
            BUDGET.store(usize::MAX / 2, SeqCst);
            while let Some((_, item)) = buf.pop_flush() {
                got.push(item.map_err(|e| match e {
                    ReorderError::Missing(r) => r,
                    other => panic!("{other:?}"),
                }));
            }
            // Expand into one entry per seq.
            let mut seqs: Vec<(u64, bool)> = Vec::new();
            for item in &got {
                match item {
                    Ok(v) => seqs.push((*v, true)),
                    Err(r) => seqs.extend(r.clone().map(|s| (s, false))),
                }
            }
            let all: Vec<u64> = seqs.iter().map(|s| s.0).collect();
            let bad_missing = seqs
                .iter()
                .any(|&(s, ok)| !ok && !may_be_missing.contains(&s));
            if all != (0..6).collect::<Vec<_>>() || bad_missing {
                failures.push(format!(
                    "order {order:?} fail_at {fail_at}: got {got:?}, may be missing {may_be_missing:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The end of `Commits` at `u64::MAX`: one commit, then the end, and `is_terminated`.
#[tokio::test]
async fn commits_at_u64_max_commit_once_and_end() {
    use futures::stream::FusedStream;
    within(async {
        let (tracker, mut commits) = commit_tracker(u64::MAX - 1);
        let a = tracker.register(u64::MAX - 1).unwrap();
        let b = tracker.register(u64::MAX).unwrap();
        a.complete();
        b.complete();
        drop(tracker);
        let mut events = Vec::new();
        while let Some(event) = commits.next().await {
            events.push(event);
        }
        assert_eq!(events, vec![CommitEvent::Commit(u64::MAX)]);
        assert!(commits.is_terminated());
        assert!(commits.next().await.is_none());
    })
    .await;
}

/// The published watermark (`Sender::next_seq`) on the fast path: with a window, after
/// every item; without one, every 64 items and whenever the receiver has nothing to
/// yield; and across the seam with the slow path (an out-of-order arrival).
#[tokio::test]
async fn published_watermark_follows_the_fast_path_and_the_seam() {
    use futures::FutureExt;
    use reorder::{channel_with, ReorderConfig};
    within(async {
        // Windowed: published per item.
        let (tx, mut rx) = channel::<u64>(4);
        for i in 0..4 {
            tx.try_send(i, i).unwrap();
        }
        for i in 0..4 {
            assert_eq!(rx.recv().await.unwrap().unwrap(), i);
            assert_eq!(tx.next_seq(), i + 1);
        }
        // Out of order, then in order again: the slow path publishes, the fast path
        // carries on from there.
        tx.try_send(5, 5).unwrap();
        tx.try_send(4, 4).unwrap();
        tx.try_send(6, 6).unwrap();
        for i in 4..7 {
            assert_eq!(rx.recv().await.unwrap().unwrap(), i);
            assert_eq!(tx.next_seq(), i + 1, "windowed after {i}");
        }

        // No window: lazily, every 64 items, and at once when nothing is left.
        let (tx, mut rx) = channel_with::<u64>(ReorderConfig::new());
        for i in 0..200 {
            tx.try_send(i, i).unwrap();
        }
        for i in 0..200 {
            assert_eq!(rx.recv().await.unwrap().unwrap(), i);
            let published = tx.next_seq();
            assert!(
                published <= i + 1 && i + 1 - published < 64,
                "{i}: {published}"
            );
        }
        assert!(rx.recv().now_or_never().is_none());
        assert_eq!(tx.next_seq(), 200);
        // A gap, filled: published again once nothing is left.
        tx.try_send(201, 201).unwrap();
        assert!(rx.recv().now_or_never().is_none());
        tx.try_send(200, 200).unwrap();
        assert_eq!(rx.recv().await.unwrap().unwrap(), 200);
        assert_eq!(rx.recv().await.unwrap().unwrap(), 201);
        assert!(rx.recv().now_or_never().is_none());
        assert_eq!(tx.next_seq(), 202);
        for i in 202..400 {
            tx.try_send(i, i).unwrap();
            assert_eq!(rx.recv().await.unwrap().unwrap(), i);
            assert!(i + 1 - tx.next_seq() < 64);
        }
    })
    .await;
}
