//! Per-key properties: random schedules through `KeyedBuffer` and `.ordered_by_key_with(..)`
//! checked against a reference model (one `fuzz/src/buffer_model.rs` model per key, plus
//! plain lists for which keys are ready and which are blocked), and random workloads through
//! `spawn_ordered_by_key_with` checked against the contract.
//!
//! Case count: `PROPTEST_CASES` (default 64).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{stream, StreamExt};
use proptest::prelude::*;
use reorder::{KeyedBuffer, KeyedConfig, KeyedReorderConfig, OrderedExt, ReorderError};

#[path = "../fuzz/src/buffer_model.rs"]
#[allow(dead_code)]
mod buffer_model;
mod common;

use buffer_model::{Model, Out};
use common::{quiet_injected_panics, within, Gauge};

/// Values carry their seq and their arrival index, so copies of one seq can be told apart.
type Val = (u64, u64);
type Key = u8;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
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
        (u64::MAX - 20)..=u64::MAX
    ]
}

/// A seq `offset - 2` steps from `first`, saturating: a few are below `first` (late from
/// the outset), and near `u64::MAX` many collapse onto `u64::MAX` (duplicates).
fn around(first: u64, offset: u64) -> u64 {
    if offset < 2 {
        first.saturating_sub(2 - offset)
    } else {
        first.saturating_add(offset - 2)
    }
}

fn to_out(item: Result<Val, ReorderError<Val>>) -> Out {
    match item {
        Ok((seq, id)) => Out::Ok(seq, id),
        Err(ReorderError::Late { seq, value }) => Out::Late(seq, value.1),
        Err(ReorderError::Duplicate { seq, value }) => Out::Duplicate(seq, value.1),
        Err(ReorderError::Missing(range)) => Out::Missing(range),
    }
}

/// The keyed contract, written as plainly as possible: a model buffer per key, and lists
/// (in order of becoming so) of the keys that are ready and that are blocked.
struct KeyedModel {
    first: u64,
    keys: BTreeMap<Key, Model>,
    ready: Vec<Key>,
    blocked: Vec<Key>,
}

impl KeyedModel {
    fn new(first: u64) -> Self {
        Self {
            first,
            keys: BTreeMap::new(),
            ready: Vec::new(),
            blocked: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.keys.values().map(Model::len).sum()
    }

    fn sync(&mut self, key: Key) {
        let model = &self.keys[&key];
        let ready = model.has_ready();
        let blocked = !ready && !model.is_empty();
        for (list, now) in [(&mut self.ready, ready), (&mut self.blocked, blocked)] {
            let pos = list.iter().position(|k| *k == key);
            match (now, pos) {
                (true, None) => list.push(key),
                (false, Some(i)) => {
                    list.remove(i);
                }
                _ => {}
            }
        }
    }

    fn insert(&mut self, key: Key, seq: u64, id: u64) -> Result<Option<Out>, Out> {
        let first = self.first;
        let result = self
            .keys
            .entry(key)
            .or_insert_with(|| Model::new(first))
            .insert(seq, id);
        self.sync(key);
        result
    }

    fn pop_ready(&mut self) -> Option<(Key, Out)> {
        let key = *self.ready.first()?;
        let out = self.keys.get_mut(&key).unwrap().pop_ready()?;
        self.sync(key);
        Some((key, out))
    }

    fn skip_oldest(&mut self) -> Option<(Key, Out)> {
        let key = *self.blocked.first()?;
        let skipped = self.keys.get_mut(&key).unwrap().skip_gap()?;
        self.sync(key);
        Some((key, Out::Missing(skipped)))
    }

    fn next_seq(&self, key: Key) -> u64 {
        self.keys.get(&key).map_or(self.first, Model::next_seq)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(Key, u64),
    PopReady,
    SkipOldest,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        6 => (0u8..4, 0u64..20).prop_map(|(k, o)| Op::Insert(k, o)),
        2 => Just(Op::PopReady),
        1 => Just(Op::SkipOldest),
    ];
    prop::collection::vec(op, 0..80)
}

/// What `.ordered_by_key_with(first, window)` must yield for these arrivals.
fn expected_adapter(first: u64, window: Option<usize>, arrivals: &[(Key, u64)]) -> Vec<(Key, Out)> {
    let mut model = KeyedModel::new(first);
    let mut out = Vec::new();
    for (id, &(key, seq)) in arrivals.iter().enumerate() {
        match model.insert(key, seq, id as u64) {
            Ok(Some(o)) | Err(o) => out.push((key, o)),
            Ok(None) => {
                if window.is_some_and(|w| model.len() >= w) {
                    out.extend(model.skip_oldest());
                }
            }
        }
        while let Some(o) = model.pop_ready() {
            out.push(o);
        }
    }
    while let Some(o) = model.pop_ready().or_else(|| model.skip_oldest()) {
        out.push(o);
    }
    out
}

proptest! {
    #![proptest_config(config())]

    /// Every operation on the pure core gives what the model gives, and the counters agree.
    #[test]
    fn keyed_buffer_ops_match_model(first in first_seq(), ops in ops()) {
        let mut real = KeyedBuffer::<Key, Val>::starting_at(first);
        let mut model = KeyedModel::new(first);
        for (id, op) in ops.into_iter().enumerate() {
            let id = id as u64;
            match op {
                Op::Insert(key, offset) => {
                    let seq = around(first, offset);
                    let got = match real.insert(&key, seq, (seq, id)) {
                        Ok(Some(v)) => Ok(Some(to_out(Ok(v)))),
                        Ok(None) => Ok(None),
                        Err(e) => Err(to_out(Err(e))),
                    };
                    prop_assert_eq!(got, model.insert(key, seq, id));
                }
                Op::PopReady => {
                    let got = real.pop_ready().map(|(k, r)| (k, to_out(r)));
                    prop_assert_eq!(got, model.pop_ready());
                }
                Op::SkipOldest => {
                    let got = real.skip_oldest_gap().map(|(k, r)| (k, Out::Missing(r)));
                    prop_assert_eq!(got, model.skip_oldest());
                }
            }
            prop_assert_eq!(real.len(), model.len());
            prop_assert_eq!(real.blocked_keys(), model.blocked.len());
            for key in 0..4 {
                prop_assert_eq!(real.next_seq(&key), model.next_seq(key));
                prop_assert_eq!(real.key_len(&key), model.keys.get(&key).map_or(0, Model::len));
            }
            // Keys with nothing held and a watermark still at `first` cost nothing.
            let costly = model
                .keys
                .values()
                .filter(|m| !m.is_empty() || m.next_seq() != first || m.is_exhausted())
                .count();
            prop_assert_eq!(real.tracked_keys(), costly);
        }
        // Flushing empties the buffer exactly as the model does.
        loop {
            let got = real.pop_flush().map(|(k, r)| (k, to_out(r)));
            let want = model.pop_ready().or_else(|| model.skip_oldest());
            prop_assert_eq!(&got, &want);
            if got.is_none() {
                break;
            }
        }
        prop_assert!(real.is_empty());
        // Forgetting every key leaves nothing behind.
        for key in 0..4 {
            prop_assert!(real.forget(&key));
        }
        prop_assert_eq!(real.tracked_keys(), 0);
    }

    /// `.ordered_by_key_with(..)` yields exactly what the model says, and never holds more
    /// than the window.
    #[test]
    fn ordered_by_key_matches_model(
        first in first_seq(),
        window in prop::option::of(1usize..8),
        arrivals in prop::collection::vec((0u8..4, 0u64..24), 0..80),
    ) {
        let arrivals: Vec<(Key, u64)> =
            arrivals.into_iter().map(|(k, o)| (k, around(first, o))).collect();
        let expected = expected_adapter(first, window, &arrivals);
        let mut config = KeyedReorderConfig::new().first_seq(first);
        if let Some(w) = window {
            config = config.window(w);
        }
        let input = arrivals
            .iter()
            .enumerate()
            .map(|(id, &(k, seq))| (k, seq, (seq, id as u64)));
        let mut adapter = stream::iter(input).ordered_by_key_with(config);
        let got: Vec<(Key, Out)> = futures::executor::block_on(async {
            let mut got = Vec::new();
            while let Some((k, r)) = adapter.next().await {
                got.push((k, to_out(r)));
            }
            got
        });
        prop_assert_eq!(&got, &expected);
        if let Some(w) = window {
            prop_assert!(adapter.peak_buffered() <= w);
        }
        // Every arrival accounted for exactly once.
        let mut ids: Vec<u64> = got
            .iter()
            .filter_map(|(_, o)| match o {
                Out::Ok(_, id) | Out::Late(_, id) | Out::Duplicate(_, id) => Some(*id),
                Out::Missing(_) => None,
            })
            .collect();
        ids.sort_unstable();
        prop_assert!(ids.into_iter().eq(0..arrivals.len() as u64));
    }

    /// Any permutation of per-key sequences comes out sorted per key, with nothing held at
    /// the end and no errors.
    #[test]
    fn ordered_by_key_sorts_every_key(
        lens in prop::collection::vec(0u64..20, 1..5),
        seed in any::<u64>(),
    ) {
        use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
        let mut arrivals: Vec<(usize, u64)> = lens
            .iter()
            .enumerate()
            .flat_map(|(k, &n)| (0..n).map(move |s| (k, s)))
            .collect();
        arrivals.shuffle(&mut StdRng::seed_from_u64(seed));
        let out: Vec<(usize, u64)> = futures::executor::block_on(
            stream::iter(arrivals.iter().map(|&(k, s)| (k, s, s)))
                .ordered_by_key()
                .map(|(k, r)| (k, r.unwrap()))
                .collect(),
        );
        let mut per_key: HashMap<usize, Vec<u64>> = HashMap::new();
        for (k, s) in out {
            per_key.entry(k).or_default().push(s);
        }
        for (k, &n) in lens.iter().enumerate() {
            let got = per_key.remove(&k).unwrap_or_default();
            prop_assert!(got.into_iter().eq(0..n), "key {} out of order", k);
        }
    }
}

/// One random workload for `spawn_ordered_by_key_with`, under paused time.
#[derive(Clone, Debug)]
struct Workload {
    limit: usize,
    per_key_limit: usize,
    extra_window: usize,
    total_order: bool,
    /// (key, latency in ms, panics)
    jobs: Vec<(u8, u64, bool)>,
}

fn workload() -> impl Strategy<Value = Workload> {
    (
        1usize..6,
        1usize..4,
        0usize..10,
        any::<bool>(),
        prop::collection::vec((0u8..5, 0u64..30, prop::bool::weighted(0.1)), 0..60),
    )
        .prop_map(
            |(limit, per_key_limit, extra_window, total_order, jobs)| Workload {
                limit,
                per_key_limit,
                extra_window,
                total_order,
                jobs,
            },
        )
}

proptest! {
    #![proptest_config(config())]

    /// Under any latencies: each key's results in its input order (or all in input order
    /// with `total_order`), panics in position, every job exactly once, at most `limit`
    /// tasks at once and `per_key_limit` of one key, and the window respected.
    #[test]
    fn spawn_ordered_by_key_keeps_the_contract(w in workload()) {
        quiet_injected_panics();
        let window = w.limit + w.extra_window;
        let config = KeyedConfig::new(w.limit)
            .per_key_limit(w.per_key_limit)
            .window(window)
            .total_order(w.total_order);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        let gauge = Gauge::default();
        let key_gauges: Arc<Mutex<HashMap<u8, (usize, usize)>>> = Arc::default();
        let jobs = w.jobs.clone();
        let (out, peak) = runtime.block_on(within(async {
            let gauge = gauge.clone();
            let key_gauges = key_gauges.clone();
            let mut s = stream::iter(jobs.into_iter().enumerate()).spawn_ordered_by_key_with(
                config,
                |(_, (key, _, _))| *key,
                move |(index, (key, ms, panics))| {
                    let gauge = gauge.clone();
                    let key_gauges = key_gauges.clone();
                    async move {
                        gauge.enter();
                        {
                            let mut g = key_gauges.lock().unwrap();
                            let e = g.entry(key).or_default();
                            e.0 += 1;
                            e.1 = e.1.max(e.0);
                        }
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        key_gauges.lock().unwrap().get_mut(&key).unwrap().0 -= 1;
                        gauge.exit();
                        assert!(!panics, "injected: job {index}");
                        (key, index)
                    }
                },
            );
            let mut out = Vec::new();
            while let Some(r) = s.next().await {
                prop_assert!(s.buffered_len() <= window);
                out.push(r.map_err(|e| (e.is_panic(), e.seq())));
            }
            Ok((out, s.peak_buffered()))
        }))?;
        prop_assert!(peak <= window);
        prop_assert!(gauge.max() <= w.limit);
        for (_, (_, max)) in key_gauges.lock().unwrap().iter() {
            prop_assert!(*max <= w.per_key_limit);
        }
        // Each result names its job; a panic names its job through the error's seq.
        let indices: Vec<usize> = out
            .iter()
            .map(|r| match r {
                Ok((_, index)) => *index,
                Err((is_panic, seq)) => {
                    assert!(is_panic);
                    *seq as usize
                }
            })
            .collect();
        for (pos, r) in out.iter().enumerate() {
            let index = indices[pos];
            prop_assert_eq!(r.is_err(), w.jobs[index].2, "job {} in the wrong shape", index);
        }
        if w.total_order {
            prop_assert!(indices.iter().copied().eq(0..w.jobs.len()));
        } else {
            let mut sorted = indices.clone();
            sorted.sort_unstable();
            prop_assert!(sorted.into_iter().eq(0..w.jobs.len()), "every job exactly once");
            for key in 0..5u8 {
                let of_key: Vec<usize> =
                    indices.iter().copied().filter(|&i| w.jobs[i].0 == key).collect();
                let mut in_order = of_key.clone();
                in_order.sort_unstable();
                prop_assert_eq!(of_key, in_order, "key {} out of order", key);
            }
        }
    }
}
