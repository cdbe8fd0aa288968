//! `Watermark` and `KeyedWatermark`, the pure commit-watermark cores: unit cases and
//! properties against a `BTreeMap` model (random sparse registrations, completions in any
//! order, failures and retries, misuse), including bases near `u64::MAX`.

use std::collections::BTreeMap;

use proptest::prelude::*;
use reorder::{KeyedWatermark, Watermark, WatermarkError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Pending,
    Failed,
    Done,
}

/// The simplest thing that could be right: every number ever registered, with its state.
struct Model {
    base: u64,
    seqs: BTreeMap<u64, St>,
}

impl Model {
    fn new(base: u64) -> Self {
        Self {
            base,
            seqs: BTreeMap::new(),
        }
    }

    /// One past the highest registered as u128, so one past `u64::MAX` is expressible.
    fn end(&self) -> u128 {
        self.seqs
            .keys()
            .next_back()
            .map_or(u128::from(self.base), |&s| u128::from(s) + 1)
    }

    fn watermark(&self) -> u128 {
        self.seqs
            .iter()
            .find(|(_, st)| **st != St::Done)
            .map_or(self.end(), |(&s, _)| u128::from(s))
    }

    fn register(&mut self, seq: u64) -> Result<(), WatermarkError> {
        if u128::from(seq) < self.end() {
            return Err(WatermarkError::NotIncreasing(seq));
        }
        self.seqs.insert(seq, St::Pending);
        Ok(())
    }

    fn lookup(&self, seq: u64) -> Result<St, WatermarkError> {
        match self.seqs.get(&seq) {
            None => Err(WatermarkError::Unknown(seq)),
            Some(St::Done) if u128::from(seq) < self.watermark() => {
                Err(WatermarkError::Unknown(seq))
            }
            Some(St::Done) => Err(WatermarkError::AlreadyCompleted(seq)),
            Some(&st) => Ok(st),
        }
    }

    fn complete(&mut self, seq: u64) -> Result<(), WatermarkError> {
        self.lookup(seq)?;
        self.seqs.insert(seq, St::Done);
        Ok(())
    }

    fn fail(&mut self, seq: u64) -> Result<(), WatermarkError> {
        self.lookup(seq)?;
        self.seqs.insert(seq, St::Failed);
        Ok(())
    }

    fn retry(&mut self, seq: u64) -> Result<(), WatermarkError> {
        match self.lookup(seq)? {
            St::Failed => {
                self.seqs.insert(seq, St::Pending);
                Ok(())
            }
            _ => Err(WatermarkError::NotFailed(seq)),
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// Register one past the highest plus a gap (0 = dense).
    Register(u64),
    /// Register something not above the highest (misuse).
    RegisterBack(u64),
    /// Act on the n-th number ever registered (mod count), or on an unregistered number.
    Complete(usize),
    Fail(usize),
    Retry(usize),
    CompleteStranger(u64),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        6 => (0u64..4).prop_map(Op::Register),
        1 => (0u64..4).prop_map(Op::RegisterBack),
        6 => any::<usize>().prop_map(Op::Complete),
        2 => any::<usize>().prop_map(Op::Fail),
        2 => any::<usize>().prop_map(Op::Retry),
        1 => any::<u64>().prop_map(Op::CompleteStranger),
    ];
    prop::collection::vec(op, 0..200)
}

fn base() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        0u64..1_000,
        any::<u64>(),
        (u64::MAX - 30)..=u64::MAX,
    ]
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Applies one op to both and checks they agree; returns what the tracker said.
fn step(wm: &mut Watermark, model: &mut Model, op: &Op) -> Option<Result<(), WatermarkError>> {
    let nth = |n: usize| -> Option<u64> {
        let len = model.seqs.len();
        (len > 0).then(|| *model.seqs.keys().nth(n % len).unwrap())
    };
    let (got, want) = match *op {
        Op::Register(gap) => {
            let Ok(end) = u64::try_from(model.end()) else {
                // Past u64::MAX: nothing can be registered.
                let seq = u64::MAX;
                let got = wm.register(seq);
                assert_eq!(got, Err(WatermarkError::NotIncreasing(seq)));
                return Some(got);
            };
            let seq = end.saturating_add(gap);
            (wm.register(seq), model.register(seq))
        }
        Op::RegisterBack(back) => {
            let highest = model.seqs.keys().next_back().copied()?;
            let seq = highest.saturating_sub(back);
            (wm.register(seq), model.register(seq))
        }
        Op::Complete(n) => match nth(n) {
            Some(seq) => (wm.complete(seq), model.complete(seq)),
            None => return None,
        },
        Op::Fail(n) => match nth(n) {
            Some(seq) => (wm.fail(seq), model.fail(seq)),
            None => return None,
        },
        Op::Retry(n) => match nth(n) {
            Some(seq) => (wm.retry(seq), model.retry(seq)),
            None => return None,
        },
        Op::CompleteStranger(seq) => (wm.complete(seq), model.complete(seq)),
    };
    assert_eq!(got, want, "after {op:?}");
    Some(got)
}

fn check(wm: &Watermark, model: &Model) {
    let want = model.watermark();
    // Saturation at u64::MAX, flagged by is_exhausted.
    assert_eq!(u128::from(wm.get()), want.min(u128::from(u64::MAX)));
    assert_eq!(wm.is_exhausted(), want > u128::from(u64::MAX));
    // Never past an incomplete or failed number, and always up to the lowest such.
    for (&seq, &st) in &model.seqs {
        if st != St::Done {
            assert!(seq >= wm.get(), "the watermark passed open number {seq}");
        }
    }
    let lowest_open = model.seqs.iter().find(|(_, st)| **st != St::Done);
    if let Some((&seq, _)) = lowest_open {
        assert_eq!(wm.get(), seq);
    }
    let failed: Vec<u64> = model
        .seqs
        .iter()
        .filter(|(_, st)| **st == St::Failed)
        .map(|(&s, _)| s)
        .collect();
    assert_eq!(wm.failed().collect::<Vec<_>>(), failed);
    assert_eq!(wm.failed_len(), failed.len());
    assert_eq!(wm.first_failed(), failed.first().copied());
    let open = model.seqs.values().filter(|st| **st != St::Done).count();
    assert_eq!(wm.in_flight(), open);
    // Memory: only numbers at or above the watermark are held.
    let held = model
        .seqs
        .keys()
        .filter(|&&s| u128::from(s) >= want)
        .count();
    assert_eq!(wm.len(), held);
    assert_eq!(wm.passed() as usize, model.seqs.len() - held);
    assert_eq!(wm.next_register().map(u128::from), {
        let end = model.end();
        (end <= u128::from(u64::MAX)).then_some(end)
    });
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn watermark_matches_the_model(base in base(), ops in ops()) {
        let mut wm = Watermark::with_base(base);
        let mut model = Model::new(base);
        check(&wm, &model);
        for op in &ops {
            step(&mut wm, &mut model, op);
            check(&wm, &model);
        }
    }

    /// Completing everything, in any order, reaches one past the highest registered.
    #[test]
    fn any_completion_order_reaches_the_end(
        gaps in prop::collection::vec(0u64..1_000, 1..100),
        order in any::<u64>(),
    ) {
        let mut seqs = Vec::new();
        let mut wm = Watermark::new();
        let mut next = 0u64;
        for gap in gaps {
            next += gap;
            wm.register(next).unwrap();
            seqs.push(next);
            next += 1;
        }
        let highest = *seqs.last().unwrap();
        // A fixed-seed shuffle from the drawn number.
        let mut shuffled = seqs.clone();
        let mut state = order | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut done = std::collections::BTreeSet::new();
        for seq in shuffled {
            wm.complete(seq).unwrap();
            done.insert(seq);
            let lowest_open = seqs.iter().find(|s| !done.contains(s)).copied();
            prop_assert_eq!(wm.get(), lowest_open.unwrap_or(highest + 1));
        }
        prop_assert!(wm.is_empty());
    }

    /// Keys are independent: each key's tracker equals one driven alone with its ops.
    #[test]
    fn keyed_trackers_are_independent(
        ops in prop::collection::vec((0u8..3, any::<Op>()), 0..200),
    ) {
        let mut keyed = KeyedWatermark::new();
        let mut alone: Vec<(Watermark, Model)> =
            (0..3).map(|_| (Watermark::new(), Model::new(0))).collect();
        for (key, op) in &ops {
            let (solo, model) = &mut alone[usize::from(*key)];
            let before = model.seqs.clone();
            let solo_said = step(solo, model, op);
            // The same concrete call on the keyed tracker says the same.
            let keyed_said = replay(&mut keyed, *key, op, &before);
            prop_assert_eq!(keyed_said, solo_said, "key {} after {:?}", key, op);
            for k in 0..3u8 {
                prop_assert_eq!(
                    keyed.get(&k).unwrap_or(0),
                    alone[usize::from(k)].0.get(),
                    "key {}", k
                );
            }
        }
    }
}

impl Arbitrary for Op {
    type Parameters = ();
    type Strategy = BoxedStrategy<Op>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        prop_oneof![
            (0u64..4).prop_map(Op::Register),
            (0u64..4).prop_map(Op::RegisterBack),
            any::<usize>().prop_map(Op::Complete),
            any::<usize>().prop_map(Op::Fail),
            any::<usize>().prop_map(Op::Retry),
            any::<u64>().prop_map(Op::CompleteStranger),
        ]
        .boxed()
    }
}

/// The call `step` made on a solo tracker whose model held `before`, made on `key`.
fn replay(
    keyed: &mut KeyedWatermark<u8>,
    key: u8,
    op: &Op,
    before: &BTreeMap<u64, St>,
) -> Option<Result<(), WatermarkError>> {
    let end = before
        .keys()
        .next_back()
        .map_or(Some(0), |&s| s.checked_add(1));
    let nth =
        |n: usize| (!before.is_empty()).then(|| *before.keys().nth(n % before.len()).unwrap());
    let result = match *op {
        Op::Register(gap) => {
            let seq = end.map_or(u64::MAX, |e| e.saturating_add(gap));
            keyed.register(key, seq)
        }
        Op::RegisterBack(back) => {
            let seq = before.keys().next_back()?.saturating_sub(back);
            keyed.register(key, seq)
        }
        Op::Complete(n) => {
            let seq = nth(n)?;
            keyed.complete(&key, seq)
        }
        Op::Fail(n) => {
            let seq = nth(n)?;
            keyed.fail(&key, seq)
        }
        Op::Retry(n) => {
            let seq = nth(n)?;
            keyed.retry(&key, seq)
        }
        Op::CompleteStranger(seq) => keyed.complete(&key, seq),
    };
    Some(result)
}

#[test]
fn failure_holds_the_watermark_until_retried_and_done() {
    let mut wm = Watermark::new();
    for seq in [1, 2, 3] {
        wm.register(seq).unwrap();
    }
    wm.fail(1).unwrap();
    wm.complete(2).unwrap();
    wm.complete(3).unwrap();
    assert_eq!(wm.get(), 1, "a failure is never committed silently");
    assert_eq!(wm.first_failed(), Some(1));
    assert_eq!(wm.fail(1), Ok(()), "failing twice changes nothing");
    wm.retry(1).unwrap();
    assert_eq!(wm.retry(1), Err(WatermarkError::NotFailed(1)));
    assert_eq!(wm.get(), 1);
    wm.complete(1).unwrap();
    assert_eq!(wm.get(), 4);
}

#[test]
fn a_failure_completed_as_handled_lets_the_watermark_pass() {
    let mut wm = Watermark::with_base(10);
    wm.register(10).unwrap();
    wm.fail(10).unwrap();
    wm.complete(10).unwrap(); // dead-lettered
    assert_eq!(wm.get(), 11);
    assert_eq!(wm.failed_len(), 0);
}

#[test]
fn misuse_is_a_typed_error_that_changes_nothing() {
    let mut wm = Watermark::with_base(5);
    assert_eq!(wm.register(4), Err(WatermarkError::NotIncreasing(4)));
    wm.register(5).unwrap();
    wm.register(9).unwrap();
    assert_eq!(wm.register(9), Err(WatermarkError::NotIncreasing(9)));
    assert_eq!(wm.register(7), Err(WatermarkError::NotIncreasing(7)));
    assert_eq!(wm.complete(7), Err(WatermarkError::Unknown(7)), "a gap");
    wm.complete(9).unwrap();
    assert_eq!(wm.complete(9), Err(WatermarkError::AlreadyCompleted(9)));
    assert_eq!(wm.fail(9), Err(WatermarkError::AlreadyCompleted(9)));
    assert_eq!(wm.retry(9), Err(WatermarkError::AlreadyCompleted(9)));
    wm.complete(5).unwrap();
    assert_eq!(wm.complete(5), Err(WatermarkError::Unknown(5)), "passed");
    assert_eq!(wm.get(), 10);
    assert_eq!(WatermarkError::Unknown(5).seq(), 5);
    assert_eq!(
        WatermarkError::AlreadyCompleted(9).to_string(),
        "sequence number 9 is already complete"
    );
}

#[test]
fn u64_max_saturates_and_is_exhausted() {
    let mut wm = Watermark::with_base(u64::MAX - 1);
    wm.register(u64::MAX - 1).unwrap();
    wm.register(u64::MAX).unwrap();
    assert_eq!(wm.next_register(), None);
    assert_eq!(
        wm.register(u64::MAX),
        Err(WatermarkError::NotIncreasing(u64::MAX))
    );
    wm.complete(u64::MAX).unwrap();
    assert_eq!(wm.get(), u64::MAX - 1);
    assert!(!wm.is_exhausted());
    wm.complete(u64::MAX - 1).unwrap();
    assert_eq!(wm.get(), u64::MAX);
    assert!(wm.is_exhausted());
    // Registering u64::MAX alone, not yet done: same `get`, not exhausted.
    let mut wm = Watermark::with_base(u64::MAX);
    assert_eq!(wm.get(), u64::MAX);
    wm.register(u64::MAX).unwrap();
    assert!(!wm.is_exhausted());
    assert_eq!(wm.get(), u64::MAX);
}

#[test]
fn memory_follows_what_is_in_flight_not_the_range() {
    let mut wm = Watermark::new();
    // Offsets a billion apart: memory is per registered number.
    for i in 0..1_000u64 {
        wm.register(i * 1_000_000_000).unwrap();
    }
    assert_eq!(wm.len(), 1_000);
    for i in 1..1_000u64 {
        wm.complete(i * 1_000_000_000).unwrap();
    }
    assert_eq!(wm.in_flight(), 1);
    wm.complete(0).unwrap();
    assert_eq!(wm.len(), 0);
    assert_eq!(wm.get(), 999_000_000_001);
}

#[test]
fn reset_and_revoke_start_a_partition_afresh() {
    let mut keyed = KeyedWatermark::new();
    keyed.register(0u32, 3).unwrap();
    keyed.register(1u32, 3).unwrap();
    keyed.fail(&0, 3).unwrap();
    keyed.reset(0, 50);
    assert_eq!(keyed.get(&0), Some(50));
    assert_eq!(keyed.watermark(&0).unwrap().failed_len(), 0);
    assert_eq!(
        keyed.register(0, 49),
        Err(WatermarkError::NotIncreasing(49))
    );
    assert_eq!(keyed.get(&1), Some(3), "the other partition is untouched");
    let revoked = keyed.revoke(&1).unwrap();
    assert_eq!(revoked.in_flight(), 1);
    assert_eq!(keyed.complete(&1, 3), Err(WatermarkError::Unknown(3)));
    assert_eq!(keyed.len(), 1);
    let mut committed: Vec<_> = keyed.iter().map(|(k, wm)| (*k, wm)).collect();
    committed.sort_unstable();
    assert_eq!(committed, [(0, 50)]);
}
