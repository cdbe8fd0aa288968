//! Cross-API properties: random schedules through `ReorderBuffer`, `.ordered_with(..)`,
//! `reorder::channel_with` and `spawn_ordered_with`, checked against a reference model
//! (`fuzz/src/buffer_model.rs`, a `BTreeMap` simulation) and against contract invariants.
//!
//! Case count: `PROPTEST_CASES` (default 64). The big campaign is
//! `PROPTEST_CASES=10000 cargo test --release --test properties` (see RELIABILITY.md).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use futures::{stream, StreamExt};
use proptest::prelude::*;
use reorder::{OrderedExt, ReorderBuffer, ReorderConfig, ReorderError, SpawnConfig};

#[path = "../fuzz/src/buffer_model.rs"]
#[allow(dead_code)]
mod buffer_model;
mod common;
use common::quiet_injected_panics;

use buffer_model::{check_invariants, Model, Out};

/// Values carry their seq and their arrival index, so copies of one seq can be told apart.
type Val = (u64, u64);

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        // Failures are reported with their minimal input; no files written into the repo.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Start offsets: 0, small, anywhere, and right below `u64::MAX`.
fn first_seq() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        0u64..1_000,
        any::<u64>(),
        (u64::MAX - 40)..=u64::MAX,
    ]
}

/// Arrivals as seqs around `first`: random offsets give holes, duplicates and (for the
/// few below `first`) values late from the outset, in a random order.
fn arrivals(first: u64) -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(0u64..52, 0..64)
        .prop_map(move |offsets| offsets.into_iter().map(|o| around(first, o)).collect())
}

/// `first - 4 + offset`, clamped to the u64 range (so `u64::MAX` itself is reachable).
fn around(first: u64, offset: u64) -> u64 {
    match offset.checked_sub(4) {
        Some(up) => first.saturating_add(up),
        None => first.saturating_sub(4 - offset),
    }
}

fn schedule() -> impl Strategy<Value = (u64, Option<usize>, Vec<u64>)> {
    first_seq().prop_flat_map(|first| (Just(first), prop::option::of(1usize..24), arrivals(first)))
}

fn to_out(item: Result<Val, ReorderError<Val>>) -> Out {
    to_out_of(item)
}

/// A value the buffer can hold in the property tests: a `Val`, or a `Val` padded so wide
/// that the buffer has only a few slots and most early arrivals take the heap.
trait AsVal: Sized {
    fn wrap(val: Val) -> Self;
    fn val(&self) -> Val;
}

impl AsVal for Val {
    fn wrap(val: Val) -> Self {
        val
    }
    fn val(&self) -> Val {
        *self
    }
}

/// 32 KiB wide: the slots (128 KiB at most) reach 2 positions past the watermark. The
/// padding is only there to be wide.
struct Wide(Val, #[allow(dead_code)] [u8; 32 * 1024]);

impl AsVal for Wide {
    fn wrap(val: Val) -> Self {
        Wide(val, [0; 32 * 1024])
    }
    fn val(&self) -> Val {
        self.0
    }
}

fn to_out_of<V: AsVal>(item: Result<V, ReorderError<V>>) -> Out {
    match item {
        Ok(v) => {
            let (seq, id) = v.val();
            Out::Ok(seq, id)
        }
        Err(ReorderError::Late { seq, value }) => {
            assert_eq!(seq, value.val().0);
            Out::Late(seq, value.val().1)
        }
        Err(ReorderError::Duplicate { seq, value }) => {
            assert_eq!(seq, value.val().0);
            Out::Duplicate(seq, value.val().1)
        }
        Err(ReorderError::Missing(range)) => Out::Missing(range),
    }
}

/// What `.ordered_with(config)` must yield for `arrivals` delivered one by one: the model
/// driven the way the adapter drives its buffer (drain before each arrival, skip the head
/// when the held count reaches the window, flush at the end).
fn expected_adapter(first: u64, window: Option<usize>, arrivals: &[u64]) -> Vec<Out> {
    let window = window.unwrap_or(usize::MAX);
    let mut model = Model::new(first);
    let mut out = Vec::new();
    for (id, &seq) in arrivals.iter().enumerate() {
        out.extend(std::iter::from_fn(|| model.pop_ready()));
        match model.insert(seq, id as u64) {
            Ok(Some(o)) | Err(o) => out.push(o),
            Ok(None) if model.len() >= window => out.extend(model.skip_gap().map(Out::Missing)),
            Ok(None) => {}
        }
    }
    out.extend(std::iter::from_fn(|| model.pop_flush()));
    out
}

/// The schedule's arrivals as the adapter takes them: `(seq, (seq, id))`, `id` the
/// arrival's index, so that the output says which copy came out.
fn arrivals_of(seqs: &[u64]) -> Vec<(u64, Val)> {
    seqs.iter()
        .enumerate()
        .map(|(id, &seq)| (seq, (seq, id as u64)))
        .collect()
}

/// Drains `.ordered_with(first, window)` over `input` (the arrivals of `seqs`) and checks
/// it against the model: exactly the model's items, the contract invariants, the window
/// bounding what is held, nothing left held, and the stream ended.
fn adapter_matches_model<S>(
    first: u64,
    window: Option<usize>,
    seqs: &[u64],
    input: S,
) -> Result<(), TestCaseError>
where
    S: futures::Stream<Item = (u64, Val)> + Unpin,
{
    let mut config = ReorderConfig::new().first_seq(first);
    if let Some(w) = window {
        config = config.window(w);
    }
    let mut reorder = input.ordered_with(config);
    let mut got = Vec::new();
    futures::executor::block_on(async {
        // Each arrival yields one item plus at most one `Missing`: a loop past that
        // bound means the stream does not end.
        while let Some(item) = reorder.next().await {
            got.push(to_out(item));
            prop_assert!(got.len() <= 2 * seqs.len() + 1, "stream does not end");
        }
        Ok(())
    })?;
    prop_assert_eq!(&got, &expected_adapter(first, window, seqs));
    check_invariants(first, seqs.len() as u64, &got);
    prop_assert!(reorder.peak_buffered() <= window.unwrap_or(usize::MAX));
    prop_assert_eq!(reorder.buffered_len(), 0);
    prop_assert!(futures::stream::FusedStream::is_terminated(&reorder));
    Ok(())
}

/// A stream of `items` that returns `Pending` once (waking itself) before each item for
/// which `pause_at(index)` holds, and before its end when `pause_at(len)` does.
struct Pausing<T, P> {
    items: std::vec::IntoIter<T>,
    index: usize,
    paused: bool,
    pause_at: P,
}

impl<T, P: Fn(usize) -> bool> Pausing<T, P> {
    fn new(items: Vec<T>, pause_at: P) -> Self {
        Self {
            items: items.into_iter(),
            index: 0,
            paused: false,
            pause_at,
        }
    }
}

impl<T: Unpin, P: Fn(usize) -> bool + Unpin> futures::Stream for Pausing<T, P> {
    type Item = T;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        let this = &mut *self;
        if !this.paused && (this.pause_at)(this.index) {
            this.paused = true;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        this.paused = false;
        this.index += 1;
        std::task::Poll::Ready(this.items.next())
    }
}

proptest! {
    #![proptest_config(config())]

    /// `.ordered_with` over `stream::iter` yields exactly what the model says, the output
    /// satisfies the contract invariants, the stream ends, and the window bounds memory.
    #[test]
    fn ordered_with_matches_model((first, window, seqs) in schedule()) {
        let input = stream::iter(arrivals_of(&seqs));
        adapter_matches_model(first, window, &seqs, input)?;
    }

    /// The same with an input that now and then has nothing for now (`Pending`, then
    /// ready again): the adapter moves between its inlined in-order path and its general
    /// path at every such point, and must yield exactly the same items.
    #[test]
    fn ordered_with_matches_model_when_the_input_pauses(
        (first, window, seqs) in schedule(),
        pauses in any::<u64>(),
    ) {
        // Pause before item i when bit i % 64 of `pauses` is set, and before the end.
        let pause_at = move |i: usize| pauses >> (i % 64) & 1 == 1;
        let input = Pausing::new(arrivals_of(&seqs), pause_at);
        adapter_matches_model(first, window, &seqs, input)?;
    }

    /// A permutation of a contiguous range comes out exactly sorted, with no error, whatever
    /// the start offset (up to and including `u64::MAX`).
    #[test]
    fn ordered_permutation_comes_out_sorted(
        (first, perm) in first_seq().prop_flat_map(|first| {
            let n = (u64::MAX - first).min(63) + 1;
            (Just(first), Just((0..n).collect::<Vec<u64>>()).prop_shuffle())
        })
    ) {
        let input = perm.iter().map(|&o| (first + o, first + o));
        let got: Vec<_> = futures::executor::block_on(
            stream::iter(input).ordered_from(first).collect::<Vec<_>>(),
        );
        let want: Vec<_> = (0..perm.len() as u64).map(|o| Ok(first + o)).collect();
        prop_assert_eq!(got, want);
    }

    /// The pure core driven by arbitrary operations (insert, pop_ready, skip_gap, skip_to, pop_flush,
    /// drain) agrees with the model on every return value and introspection figure. The same
    /// check is the fuzz target (`fuzz/`).
    #[test]
    fn buffer_ops_match_model(
        first in first_seq(),
        ops in prop::collection::vec((0u8..8, 0u64..52), 0..96),
    ) {
        buffer_ops::<Val>(first, &ops)?;
    }

    /// The same with values so wide that the slots hold only the next few positions:
    /// early arrivals beyond them take the heap and move into the slots as the watermark
    /// comes near, and second copies meet first copies in either place.
    #[test]
    fn buffer_ops_match_model_beyond_the_slots(
        first in first_seq(),
        ops in prop::collection::vec((0u8..8, 0u64..52), 0..96),
    ) {
        buffer_ops::<Wide>(first, &ops)?;
    }
}

fn buffer_ops<V: AsVal>(first: u64, ops: &[(u8, u64)]) -> Result<(), TestCaseError> {
    let mut real = ReorderBuffer::<V>::starting_at(first);
    let mut model = Model::new(first);
    let mut emitted = Vec::new();
    let mut ids = 0u64;
    for &(op, arg) in ops {
        match op {
            0..=3 => {
                let seq = around(first, arg);
                let got = match real.insert(seq, V::wrap((seq, ids))) {
                    Ok(Some(v)) => Ok(Some(to_out_of(Ok(v)))),
                    Ok(None) => Ok(None),
                    Err(e) => Err(to_out_of(Err(e))),
                };
                prop_assert_eq!(&got, &model.insert(seq, ids));
                ids += 1;
                if let Ok(Some(o)) | Err(o) = got {
                    emitted.push(o);
                }
            }
            4 => {
                let got = real.pop_ready().map(to_out_of);
                prop_assert_eq!(&got, &model.pop_ready());
                emitted.extend(got);
            }
            5 if arg % 2 == 0 => {
                let got = real.skip_gap();
                prop_assert_eq!(&got, &model.skip_gap());
                emitted.extend(got.map(Out::Missing));
            }
            5 => {
                let to = around(first, arg);
                let got = real.skip_to(to);
                prop_assert_eq!(&got, &model.skip_to(to));
                emitted.extend(got.map(Out::Missing));
            }
            6 => {
                let got = real.pop_flush().map(to_out_of);
                prop_assert_eq!(&got, &model.pop_flush());
                emitted.extend(got);
            }
            _ => {
                while let Some(o) = real.pop_ready().map(to_out_of) {
                    prop_assert_eq!(Some(o.clone()), model.pop_ready());
                    emitted.push(o);
                }
            }
        }
        prop_assert_eq!(real.next_seq(), model.next_seq());
        prop_assert_eq!(real.len(), model.len());
        prop_assert_eq!(real.peak_len(), model.peak_len());
        prop_assert_eq!(real.first_held(), model.first_held());
        prop_assert_eq!(real.is_exhausted(), model.is_exhausted());
    }
    while let Some(o) = real.pop_flush().map(to_out_of) {
        prop_assert_eq!(Some(o.clone()), model.pop_flush());
        emitted.push(o);
    }
    prop_assert!(real.is_empty());
    check_invariants(first, ids, &emitted);
    Ok(())
}

/// Runs `f` on a fresh current-thread runtime with paused time: sleeps cost nothing and a
/// deadlock shows up as the outer `timeout` firing instead of a hang.
fn paused<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(f)
}

/// Sends every arrival from its own task after a random delay (paused time), through
/// `channel_with(first_seq, window, head_timeout = 1 s)`, and collects the receiver.
/// `None` if it did not end within an hour of (paused) time.
fn run_channel(
    first: u64,
    window: Option<usize>,
    sends: &[(u64, u64)],
) -> Option<(Vec<Out>, usize)> {
    paused(async {
        let mut config = ReorderConfig::new()
            .first_seq(first)
            .head_timeout(Duration::from_secs(1));
        if let Some(w) = window {
            config = config.window(w);
        }
        let (tx, mut rx) = reorder::channel_with::<Val>(config);
        for (id, &(seq, delay_ms)) in sends.iter().enumerate() {
            let tx = tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                tx.send(seq, (seq, id as u64)).await.unwrap();
            });
        }
        drop(tx);
        let collect = async {
            let mut got = Vec::new();
            while let Some(item) = rx.next().await {
                got.push(to_out(item));
            }
            got
        };
        let got = tokio::time::timeout(Duration::from_secs(3600), collect)
            .await
            .ok()?;
        Some((got, rx.peak_buffered()))
    })
}

/// Checks a channel run: invariants, the window bound, and — when the window cannot force
/// a skip (no duplicates, or no window) — that exactly the distinct seqs `>= first` were
/// yielded and every hole between them was reported.
fn check_channel(first: u64, window: Option<usize>, sends: &[(u64, u64)]) {
    let (got, peak) = run_channel(first, window, sends).expect("channel did not end: deadlock");
    check_invariants(first, sends.len() as u64, &got);
    // Honest senders keep fewer than `window` values held; duplicates may take up to
    // `2 × window` before the receiver skips its head (see `reorder::channel`).
    let cap = window.map_or(usize::MAX, |w| w.saturating_mul(2));
    assert!(peak <= cap, "peak {peak} > 2 × window");
    let distinct: BTreeSet<u64> = sends.iter().map(|s| s.0).filter(|&s| s >= first).collect();
    let has_dups = distinct.len() != sends.iter().filter(|s| s.0 >= first).count();
    if let (Some(w), false) = (window, has_dups) {
        assert!(
            peak < w,
            "honest senders: peak {peak} must stay below window {w}"
        );
    }
    if window.is_none() || !has_dups {
        let yielded: BTreeSet<u64> = got
            .iter()
            .filter_map(|o| match o {
                Out::Ok(s, _) => Some(*s),
                _ => None,
            })
            .collect();
        assert_eq!(
            yielded, distinct,
            "a seq that was sent in time was not yielded"
        );
        let missing: u64 = got
            .iter()
            .map(|o| match o {
                Out::Missing(r) => r.end - r.start,
                _ => 0,
            })
            .sum();
        let span = distinct.last().map_or(0, |&last| last - first + 1);
        assert_eq!(missing, span - distinct.len() as u64, "holes misreported");
    }
}

fn channel_schedule(
    first: impl Strategy<Value = u64>,
) -> impl Strategy<Value = (u64, Option<usize>, Vec<(u64, u64)>)> {
    first.prop_flat_map(|first| {
        (
            Just(first),
            prop::option::of(1usize..16),
            arrivals(first).prop_flat_map(|seqs| {
                let n = seqs.len();
                (Just(seqs), prop::collection::vec(0u64..50, n))
                    .prop_map(|(s, d)| s.into_iter().zip(d).collect::<Vec<_>>())
            }),
        )
    })
}

proptest! {
    #![proptest_config(config())]

    /// Senders in tasks, random delays, holes, duplicates, late values, random windows,
    /// start offsets up to `u64::MAX`: every value accounted for once, in order, holes
    /// reported (with a window, by the head-of-line timeout that frees parked senders), the
    /// receiver ends, and the window bounds what it holds.
    #[test]
    fn channel_accounts_for_every_value(
        (first, window, sends) in channel_schedule(first_seq())
    ) {
        check_channel(first, window, &sends);
    }

    /// Spawned tasks with random delays and random panics: one result per input, in input
    /// order, the panicking ones as `TaskError`s in their own positions; never more than
    /// `limit` running, never a start at or beyond `yielded + window`, peak ≤ window.
    #[test]
    fn spawn_ordered_keeps_order_limit_and_window(
        jobs in prop::collection::vec((0u64..20, prop::bool::weighted(0.1)), 0..60),
        limit in 1usize..6,
        extra in 0usize..12,
    ) {
        let window = limit + extra;
        quiet_injected_panics();
        paused(async {
            let running = Arc::new(AtomicUsize::new(0));
            let max_running = Arc::new(AtomicUsize::new(0));
            let yielded = Arc::new(AtomicU64::new(0));
            let config = SpawnConfig::new(limit).window(window);
            let tasks = {
                let (running, max_running, yielded) =
                    (running.clone(), max_running.clone(), yielded.clone());
                stream::iter(jobs.clone().into_iter().enumerate()).spawn_ordered_with(
                    config,
                    move |(i, (delay, panics))| {
                        let (running, max_running, yielded) =
                            (running.clone(), max_running.clone(), yielded.clone());
                        async move {
                            let now = running.fetch_add(1, SeqCst) + 1;
                            max_running.fetch_max(now, SeqCst);
                            let i = i as u64;
                            assert!(i < yielded.load(SeqCst) + window as u64, "started beyond window");
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                            running.fetch_sub(1, SeqCst);
                            if panics {
                                panic!("injected: job {i}");
                            }
                            i * 3
                        }
                    },
                )
            };
            let mut tasks = std::pin::pin!(tasks);
            let mut i = 0u64;
            let run = async {
                while let Some(result) = tasks.next().await {
                    let (_, panics) = jobs[i as usize];
                    match result {
                        Ok(v) => assert!(!panics && v == i * 3, "position {i}: got {v}"),
                        Err(e) => {
                            assert!(panics && e.is_panic() && e.seq() == i, "position {i}: {e}");
                            let msg = e.into_panic();
                            assert_eq!(msg.downcast_ref::<String>(), Some(&format!("injected: job {i}")));
                        }
                    }
                    i += 1;
                    yielded.store(i, SeqCst);
                }
            };
            tokio::time::timeout(Duration::from_secs(3600), run).await.expect("hang");
            assert_eq!(i, jobs.len() as u64, "stream ended early or late");
            assert!(max_running.load(SeqCst) <= limit);
            assert!(tasks.peak_buffered() <= window);
        });
    }
}

/// Sanity check of the harness itself: the model rejects a wrong output.
#[test]
#[should_panic(expected = "came out twice")]
fn invariant_checker_catches_a_repeat() {
    check_invariants(0, 1, &[Out::Ok(0, 0), Out::Late(0, 0)]);
}

#[test]
fn adapter_model_spot_check() {
    // Window 2, head 0 lost: skipped once two are held; 0 later is Late; 5 twice → Duplicate.
    let seqs = [1, 2, 0, 5, 5, 3];
    let want = vec![
        Out::Missing(0..1),
        Out::Ok(1, 0),
        Out::Ok(2, 1),
        Out::Late(0, 2),
        Out::Missing(3..5),
        Out::Ok(5, 3),
        Out::Duplicate(5, 4),
        Out::Late(3, 5),
    ];
    assert_eq!(expected_adapter(0, Some(2), &seqs), want);
}

// ---------------------------------------------------------------------------------------
// The channel under producer faults: give-ups, ranges and lanes (issue 9)
// ---------------------------------------------------------------------------------------

/// What one producer does for one seq it owns.
#[derive(Clone, Copy, Debug)]
enum Act {
    /// Sends the value after a delay (ms).
    Send(u64),
    /// Gives the seq up after a delay (ms): `Sender::give_up`, `Lane::skip`, or (in the
    /// block) as part of a range with the acts after it.
    GiveUp(u64),
}

/// A striped producer: its acts in order, and whether (after how many acts) it dies.
#[derive(Clone, Debug)]
struct LanePlan {
    acts: Vec<Act>,
    dies_after: Option<usize>,
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        3 => (0u64..30).prop_map(Act::Send),
        1 => (0u64..30).prop_map(Act::GiveUp),
    ]
}

/// `first`, a window, a block of seqs `first..first + block.len()` where each seq is sent
/// or given up by its own task (runs of give-ups as one `give_up_range`), then `k` lanes
/// striping the seqs after the block, some of which die.
fn fault_schedule() -> impl Strategy<Value = (u64, Option<usize>, Vec<Act>, Vec<LanePlan>)> {
    let first = prop_oneof![Just(0u64), 0u64..1_000, (u64::MAX - 200)..=(u64::MAX - 100)];
    let lane = (
        prop::collection::vec(act(), 0..12),
        prop::option::of(0usize..12),
    )
        .prop_map(|(acts, dies_after)| LanePlan { acts, dies_after });
    (
        first,
        prop::option::of(1usize..8),
        prop::collection::vec(act(), 0..16),
        prop::collection::vec(lane, 1..5),
    )
}

type Received = Result<u64, ReorderError<u64>>;

/// Runs a fault schedule with no head-of-line timeout (so nothing may ever be skipped by
/// a clock) and returns what the receiver yielded and its peak, or `None` on a hang.
fn run_faults(
    first: u64,
    window: Option<usize>,
    block: &[Act],
    lanes: &[LanePlan],
) -> Option<(Vec<Received>, usize)> {
    paused(async {
        let mut config = ReorderConfig::new().first_seq(first);
        if let Some(w) = window {
            config = config.window(w);
        }
        let (tx, mut rx) = reorder::channel_with::<u64>(config);
        // The block: a run of give-ups is one range, given up when its first act comes.
        let mut i = 0;
        while i < block.len() {
            let seq = first + i as u64;
            match block[i] {
                Act::Send(delay) => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                        tx.send(seq, seq).await.unwrap();
                    });
                    i += 1;
                }
                Act::GiveUp(delay) => {
                    let run = block[i..]
                        .iter()
                        .take_while(|a| matches!(a, Act::GiveUp(_)))
                        .count();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                        if run == 1 {
                            tx.give_up(seq).unwrap();
                        } else {
                            tx.give_up_range(seq..seq + run as u64).unwrap();
                        }
                    });
                    i += run;
                }
            }
        }
        let start = first + block.len() as u64;
        let k = lanes.len() as u64;
        for (p, plan) in lanes.iter().enumerate() {
            let mut lane = tx.lane(start + p as u64, k);
            let plan = plan.clone();
            tokio::spawn(async move {
                for (n, act) in plan.acts.iter().enumerate() {
                    if plan.dies_after == Some(n) {
                        return; // the lane is dropped: the rest of its stripe is given up
                    }
                    match *act {
                        Act::Send(delay) => {
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                            let seq = lane.next_seq();
                            lane.send(seq).await.unwrap();
                        }
                        Act::GiveUp(delay) => {
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                            lane.skip().unwrap();
                        }
                    }
                }
            });
        }
        drop(tx);
        let collect = async {
            let mut got = Vec::new();
            while let Some(item) = rx.next().await {
                got.push(item);
            }
            got
        };
        let got = tokio::time::timeout(Duration::from_secs(3600), collect)
            .await
            .ok()?;
        Some((got, rx.peak_buffered()))
    })
}

/// What must come out: every seq from `first` up to the highest seq sent or given up
/// explicitly, each exactly once — `Ok` if it was sent, inside a `Missing` otherwise.
fn expected_faults(first: u64, block: &[Act], lanes: &[LanePlan]) -> (Vec<bool>, Option<u64>) {
    // sent[i]: seq first + i was sent; `known` = highest seq sent or given up explicitly.
    let mut sent = Vec::new();
    let mut known: Option<u64> = None;
    let mut mark = |seq: u64, was_sent: bool, sent: &mut Vec<bool>| {
        let i = (seq - first) as usize;
        if sent.len() <= i {
            sent.resize(i + 1, false);
        }
        sent[i] = was_sent;
        known = known.max(Some(seq));
    };
    for (i, a) in block.iter().enumerate() {
        mark(first + i as u64, matches!(a, Act::Send(_)), &mut sent);
    }
    let start = first + block.len() as u64;
    let k = lanes.len() as u64;
    for (p, plan) in lanes.iter().enumerate() {
        let live = plan.dies_after.unwrap_or(usize::MAX).min(plan.acts.len());
        for (n, a) in plan.acts[..live].iter().enumerate() {
            let seq = start + p as u64 + n as u64 * k;
            mark(seq, matches!(a, Act::Send(_)), &mut sent);
        }
    }
    (sent, known)
}

proptest! {
    #![proptest_config(config())]

    /// Producers that give seqs up one by one and in ranges, and striped lanes that skip
    /// items or die, with any window and no head-of-line timeout: every seq up to the
    /// highest known one comes out exactly once and in order — a value as `Ok`, never
    /// `Late` or skipped; a given-up or dead seq inside a `Missing` — the receiver ends,
    /// and it never holds `window` values.
    #[test]
    fn channel_survives_give_ups_and_dead_lanes(
        (first, window, block, lanes) in fault_schedule()
    ) {
        let (got, peak) = run_faults(first, window, &block, &lanes)
            .expect("the channel hung: a seq nobody can send was waited for");
        let (sent, known) = expected_faults(first, &block, &lanes);
        let mut next = first;
        for item in &got {
            match item {
                Ok(seq) => {
                    prop_assert_eq!(*seq, next, "value out of position: {:?}", got);
                    prop_assert!(sent[(seq - first) as usize], "{} was never sent", seq);
                    next += 1;
                }
                Err(ReorderError::Missing(range)) => {
                    prop_assert_eq!(range.start, next, "Missing out of position: {:?}", got);
                    for seq in range.clone() {
                        let i = (seq - first) as usize;
                        prop_assert!(!sent.get(i).copied().unwrap_or(false),
                            "a sent value {} was reported missing: {:?}", seq, got);
                    }
                    next = range.end;
                }
                Err(other) => prop_assert!(false, "healthy value came back as {:?}", other),
            }
        }
        let end = known.map_or(first, |k| k + 1);
        prop_assert_eq!(next, end, "not every known seq was accounted for: {:?}", got);
        if let Some(w) = window {
            prop_assert!(peak < w, "peak {} reached the window {}", peak, w);
        }
    }
}
