//! The pure core, `ReorderBuffer`: unit tests for each method and property tests for
//! "any schedule of inserts yields exactly the sorted input, nothing lost, nothing twice".
//!
//! Case counts stay modest so `cargo test` is fast; `PROPTEST_CASES=100000 cargo test
//! --test buffer` runs a big sweep.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use proptest::prelude::*;
use reorder::{ReorderBuffer, ReorderError};

// ---------------------------------------------------------------------------------------
// Unit tests
// ---------------------------------------------------------------------------------------

#[test]
fn next_seq_comes_straight_back_without_touching_the_heap() {
    let mut buf = ReorderBuffer::new();
    assert_eq!(buf.insert(0, 'a').unwrap(), Some('a'));
    assert_eq!(buf.next_seq(), 1);
    assert!(buf.is_empty());
    assert_eq!(buf.peak_len(), 0);
}

#[test]
fn later_seq_is_held_until_its_turn() {
    let mut buf = ReorderBuffer::new();
    assert_eq!(buf.insert(2, 'c').unwrap(), None);
    assert_eq!(buf.insert(1, 'b').unwrap(), None);
    assert_eq!(buf.len(), 2);
    assert!(buf.pop_ready().is_none());
    assert_eq!(buf.insert(0, 'a').unwrap(), Some('a'));
    assert_eq!(buf.pop_ready().unwrap().unwrap(), 'b');
    assert_eq!(buf.pop_ready().unwrap().unwrap(), 'c');
    assert!(buf.pop_ready().is_none());
    assert_eq!(buf.next_seq(), 3);
}

/// Early arrivals near the watermark sit in slots, further ones in a heap; which one
/// depends on how far ahead and how wide the value is. The contract is the same for every
/// value size: zero-sized (8,192 slots), small, and so wide that only the watermark's own
/// position fits in the slot budget (every early arrival takes the heap).
#[test]
fn the_contract_holds_for_values_of_every_size() {
    /// `seq_of` reads the seq back from a value, where the value can carry it.
    fn run<T>(make: impl Fn(u64) -> T, seq_of: impl Fn(&T) -> Option<u64>) {
        // Far ahead first (heap), then near (slots), a second copy of each, then the head.
        let arrivals = [20_000u64, 3, 9_000, 3, 20_000, 1, 2];
        let mut buf = ReorderBuffer::new();
        for &seq in &arrivals {
            assert!(
                buf.insert(seq, make(seq)).unwrap().is_none(),
                "seq {seq} held"
            );
        }
        assert_eq!(buf.first_held(), Some(1));
        let head = buf
            .insert(0, make(0))
            .unwrap()
            .expect("the head comes straight back");
        assert!(seq_of(&head).is_none_or(|seq| seq == 0));
        let mut out = Vec::new();
        while let Some(item) = buf.pop_flush() {
            out.push(match item {
                Ok(value) => match seq_of(&value) {
                    Some(seq) => format!("ok {seq}"),
                    None => "ok".to_string(),
                },
                Err(ReorderError::Duplicate { seq, value }) => {
                    assert!(seq_of(&value).is_none_or(|s| s == seq));
                    format!("dup {seq}")
                }
                Err(ReorderError::Missing(range)) => format!("missing {range:?}"),
                Err(ReorderError::Late { seq, .. }) => panic!("{seq} late"),
            });
        }
        let carries = seq_of(&make(7)).is_some();
        let ok = |seq: u64| {
            if carries {
                format!("ok {seq}")
            } else {
                "ok".to_string()
            }
        };
        let want = [
            ok(1),
            ok(2),
            ok(3),
            "dup 3".to_string(),
            "missing 4..9000".to_string(),
            ok(9_000),
            "missing 9001..20000".to_string(),
            ok(20_000),
            "dup 20000".to_string(),
        ];
        assert_eq!(out, want);
        assert!(buf.is_empty());
        assert_eq!(buf.next_seq(), 20_001);
    }
    run(|_| (), |()| None);
    run(|seq| seq, |&seq| Some(seq));
    run(|seq| vec![seq; 4], |v| Some(v[0]));
    // 40 KB inline: three fit in the slots' 128 KiB, so they reach 2 positions and the
    // early arrivals at 3 and beyond take the heap.
    run(
        |seq| (seq, [0u8; 40_000]),
        |v: &(u64, [u8; 40_000])| Some(v.0),
    );
}

#[test]
fn late_value_is_handed_back() {
    let mut buf = ReorderBuffer::starting_at(5);
    assert_eq!(
        buf.insert(4, 'x'),
        Err(ReorderError::Late { seq: 4, value: 'x' })
    );
    assert_eq!(buf.insert(5, 'a').unwrap(), Some('a'));
    assert_eq!(
        buf.insert(5, 'b'),
        Err(ReorderError::Late { seq: 5, value: 'b' })
    );
    assert!(buf.is_empty());
}

#[test]
fn duplicate_of_held_seq_follows_the_first_copy() {
    let mut buf = ReorderBuffer::new();
    assert_eq!(buf.insert(1, "first").unwrap(), None);
    assert_eq!(buf.insert(1, "second").unwrap(), None);
    assert_eq!(buf.insert(2, "two").unwrap(), None);
    assert_eq!(buf.insert(0, "zero").unwrap(), Some("zero"));
    assert_eq!(buf.pop_ready(), Some(Ok("first")));
    assert_eq!(
        buf.pop_ready(),
        Some(Err(ReorderError::Duplicate {
            seq: 1,
            value: "second"
        }))
    );
    assert_eq!(buf.pop_ready(), Some(Ok("two")));
    assert_eq!(buf.pop_ready(), None);
}

#[test]
fn skip_gap_moves_watermark_to_first_held_and_later_arrival_is_late() {
    let mut buf = ReorderBuffer::starting_at(10);
    assert_eq!(buf.insert(13, 'd').unwrap(), None);
    assert_eq!(buf.insert(15, 'f').unwrap(), None);
    assert_eq!(buf.skip_gap(), Some(10..13));
    assert_eq!(buf.next_seq(), 13);
    assert!(buf.has_ready());
    assert_eq!(buf.pop_ready(), Some(Ok('d')));
    assert_eq!(
        buf.insert(11, 'b'),
        Err(ReorderError::Late {
            seq: 11,
            value: 'b'
        })
    );
    assert_eq!(buf.skip_gap(), Some(14..15));
    assert_eq!(buf.pop_ready(), Some(Ok('f')));
}

#[test]
fn skip_gap_does_nothing_when_nothing_is_held() {
    let mut buf = ReorderBuffer::<u8>::starting_at(7);
    assert_eq!(buf.skip_gap(), None);
    assert_eq!(buf.next_seq(), 7);
}

#[test]
fn skip_gap_does_nothing_when_the_head_is_held() {
    let mut buf = ReorderBuffer::new();
    assert_eq!(buf.insert(1, 'b').unwrap(), None);
    // The head (0) comes back at once; 1 is now due but not drained yet.
    assert_eq!(buf.insert(0, 'a').unwrap(), Some('a'));
    assert_eq!(buf.skip_gap(), None);
    assert_eq!(buf.next_seq(), 1);
    assert_eq!(buf.pop_ready(), Some(Ok('b')));
}

#[test]
fn pop_flush_reports_each_hole_in_order_among_held_values() {
    let mut buf = ReorderBuffer::new();
    for (seq, v) in [(5, 'f'), (1, 'b'), (3, 'd'), (3, 'D')] {
        assert_eq!(buf.insert(seq, v).unwrap(), None);
    }
    let mut out = Vec::new();
    while let Some(item) = buf.pop_flush() {
        out.push(item);
    }
    assert_eq!(
        out,
        [
            Err(ReorderError::Missing(0..1)),
            Ok('b'),
            Err(ReorderError::Missing(2..3)),
            Ok('d'),
            Err(ReorderError::Duplicate { seq: 3, value: 'D' }),
            Err(ReorderError::Missing(4..5)),
            Ok('f'),
        ]
    );
    assert!(buf.is_empty());
    assert_eq!(buf.next_seq(), 6);
    assert_eq!(buf.pop_flush(), None);
}

#[test]
fn pop_flush_on_contiguous_values_reports_no_hole() {
    let mut buf = ReorderBuffer::new();
    assert_eq!(buf.insert(1, 1).unwrap(), None);
    assert_eq!(buf.insert(0, 0).unwrap(), Some(0));
    assert_eq!(buf.pop_flush(), Some(Ok(1)));
    assert_eq!(buf.pop_flush(), None);
}

#[test]
fn peak_len_is_the_maximum_ever_held_not_the_current_count() {
    let mut buf = ReorderBuffer::new();
    for seq in 1..=4 {
        assert_eq!(buf.insert(seq, seq).unwrap(), None);
    }
    assert_eq!((buf.len(), buf.peak_len()), (4, 4));
    assert_eq!(buf.insert(0, 0).unwrap(), Some(0));
    while buf.pop_ready().is_some() {}
    assert_eq!((buf.len(), buf.peak_len()), (0, 4));
    assert_eq!(buf.insert(6, 6).unwrap(), None);
    assert_eq!((buf.len(), buf.peak_len()), (1, 4));
}

#[test]
fn first_held_is_the_smallest_held_seq() {
    let mut buf = ReorderBuffer::new();
    assert_eq!(buf.first_held(), None);
    assert_eq!(buf.insert(9, ()).unwrap(), None);
    assert_eq!(buf.insert(4, ()).unwrap(), None);
    assert_eq!(buf.insert(7, ()).unwrap(), None);
    assert_eq!(buf.first_held(), Some(4));
}

#[test]
fn has_ready_matches_pop_ready() {
    let mut buf = ReorderBuffer::new();
    assert!(!buf.has_ready());
    assert_eq!(buf.insert(1, 'b').unwrap(), None);
    assert!(!buf.has_ready());
    assert!(buf.pop_ready().is_none());
    assert_eq!(buf.insert(0, 'a').unwrap(), Some('a'));
    assert!(buf.has_ready());
    assert!(buf.pop_ready().is_some());
    assert!(!buf.has_ready());
}

#[test]
fn is_exhausted_only_after_u64_max_is_yielded() {
    let mut buf = ReorderBuffer::starting_at(u64::MAX - 2);
    assert_eq!(buf.insert(u64::MAX, 'c').unwrap(), None);
    assert_eq!(buf.insert(u64::MAX - 2, 'a').unwrap(), Some('a'));
    assert!(!buf.is_exhausted());
    assert_eq!(buf.insert(u64::MAX - 1, 'b').unwrap(), Some('b'));
    assert!(!buf.is_exhausted());
    assert_eq!(buf.next_seq(), u64::MAX);
    assert_eq!(buf.pop_ready(), Some(Ok('c')));
    assert!(buf.is_exhausted());
    assert_eq!(buf.next_seq(), u64::MAX);
    for seq in [0, u64::MAX - 1, u64::MAX] {
        assert_eq!(
            buf.insert(seq, 'z'),
            Err(ReorderError::Late { seq, value: 'z' })
        );
    }
    assert_eq!(buf.skip_gap(), None);
    assert_eq!(buf.pop_flush(), None);
}

#[test]
fn u64_max_can_be_skipped_up_to_and_duplicated() {
    let mut buf = ReorderBuffer::starting_at(u64::MAX - 3);
    assert_eq!(buf.insert(u64::MAX, 1).unwrap(), None);
    assert_eq!(buf.insert(u64::MAX, 2).unwrap(), None);
    assert_eq!(
        buf.pop_flush(),
        Some(Err(ReorderError::Missing(u64::MAX - 3..u64::MAX)))
    );
    assert_eq!(buf.pop_flush(), Some(Ok(1)));
    assert_eq!(
        buf.pop_flush(),
        Some(Err(ReorderError::Duplicate {
            seq: u64::MAX,
            value: 2
        }))
    );
    assert_eq!(buf.pop_flush(), None);
    assert!(buf.is_exhausted());
}

#[test]
fn default_starts_at_zero_and_debug_needs_no_debug_value() {
    struct Opaque;
    let mut buf = ReorderBuffer::<Opaque>::default();
    assert_eq!(buf.next_seq(), 0);
    assert!(buf.insert(3, Opaque).unwrap().is_none());
    let debug = format!("{buf:?}");
    assert!(debug.contains("next_seq: 0"), "{debug}");
    assert!(debug.contains("len: 1"), "{debug}");
}

// ---------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------

/// A start offset: small, or close enough to `u64::MAX` that the sequence runs into it.
fn start_offset() -> impl Strategy<Value = u64> {
    prop_oneof![0..1_000u64, (u64::MAX - 80)..=u64::MAX]
}

/// How many seqs fit from `start` up to and including `u64::MAX`, capped at `want`.
fn fit(start: u64, want: u64) -> u64 {
    want.min(u64::MAX - start).saturating_add(1).min(want)
}

/// A contiguous run of seqs from a start offset, in a random arrival order.
fn contiguous_shuffled() -> impl Strategy<Value = (u64, Vec<u64>)> {
    (start_offset(), 0..200u64).prop_flat_map(|(start, want)| {
        let seqs: Vec<u64> = (0..fit(start, want)).map(|i| start + i).collect();
        (Just(start), Just(seqs).prop_shuffle())
    })
}

/// One arrival in a messy schedule: which seq (as an offset from the start; negative is
/// below the start, so always late) and whether to call `skip_gap` after it.
#[derive(Clone, Debug)]
struct Arrival {
    offset: i64,
    skip_after: bool,
}

/// A messy schedule: some seqs never come (holes), some come two or three times, some
/// come from below the start; arrival order is random; `skip_gap` is sometimes called.
fn messy_schedule() -> impl Strategy<Value = (u64, Vec<Arrival>)> {
    (start_offset(), 1..64u64).prop_flat_map(|(start, want)| {
        let span = fit(start, want) as usize;
        let below = start.min(3) as usize;
        // Per seq in -below..span: how many copies arrive (0 = a hole).
        let copies = proptest::collection::vec(
            prop_oneof![3 => Just(1usize), 1 => Just(0usize), 1 => 2..=3usize],
            below + span,
        );
        (Just(start), copies).prop_flat_map(move |(start, copies)| {
            let offsets: Vec<i64> = copies
                .iter()
                .enumerate()
                .flat_map(|(i, &n)| std::iter::repeat_n(i as i64 - below as i64, n))
                .collect();
            let n = offsets.len();
            (
                Just(start),
                Just(offsets).prop_shuffle(),
                proptest::collection::vec(proptest::bool::weighted(0.1), n),
            )
                .prop_map(|(start, offsets, skips)| {
                    let arrivals = offsets
                        .into_iter()
                        .zip(skips)
                        .map(|(offset, skip_after)| Arrival { offset, skip_after })
                        .collect();
                    (start, arrivals)
                })
        })
    })
}

/// What came out of the buffer, in order. Values are `(seq, arrival id)`.
#[derive(Debug, PartialEq)]
enum Out {
    Ok(u64, usize),
    Late(u64, usize),
    Duplicate(u64, usize),
    Missing(Range<u64>),
}

fn record(out: &mut Vec<Out>, item: Result<(u64, usize), ReorderError<(u64, usize)>>) {
    out.push(match item {
        Ok((seq, id)) => Out::Ok(seq, id),
        Err(ReorderError::Late { seq, value }) => {
            assert_eq!(seq, value.0, "Late carries the value's own seq");
            Out::Late(seq, value.1)
        }
        Err(ReorderError::Duplicate { seq, value }) => {
            assert_eq!(seq, value.0, "Duplicate carries the value's own seq");
            Out::Duplicate(seq, value.1)
        }
        Err(ReorderError::Missing(range)) => Out::Missing(range),
    });
}

fn drain_ready(buf: &mut ReorderBuffer<(u64, usize)>, out: &mut Vec<Out>) {
    while let Some(item) = buf.pop_ready() {
        record(out, item);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any arrival order of a contiguous run yields exactly the sorted run.
    #[test]
    fn any_arrival_order_yields_sorted_values((start, seqs) in contiguous_shuffled()) {
        let mut buf = ReorderBuffer::starting_at(start);
        let mut yielded = Vec::new();
        for &seq in &seqs {
            if let Some(v) = buf.insert(seq, seq).unwrap() {
                yielded.push(v);
            }
            while let Some(item) = buf.pop_ready() {
                yielded.push(item.unwrap());
            }
            prop_assert!(buf.len() <= buf.peak_len());
        }
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        prop_assert_eq!(&yielded, &sorted);
        prop_assert!(buf.is_empty());
        prop_assert_eq!(buf.pop_flush(), None);
        match sorted.last() {
            Some(&u64::MAX) => {
                prop_assert!(buf.is_exhausted());
                prop_assert_eq!(buf.next_seq(), u64::MAX);
            }
            Some(&last) => {
                prop_assert!(!buf.is_exhausted());
                prop_assert_eq!(buf.next_seq(), last + 1);
            }
            None => prop_assert_eq!(buf.next_seq(), start),
        }
    }

    /// With holes, duplicates, late arrivals and random `skip_gap` calls, then `pop_flush`:
    /// every value comes out exactly once, every hole is reported exactly once, in order.
    #[test]
    fn every_value_and_every_hole_is_accounted_for_once((start, arrivals) in messy_schedule()) {
        let mut buf = ReorderBuffer::starting_at(start);
        let mut out = Vec::new();
        // For checking the Late rule: the watermark (as u128, 2^64 once exhausted)
        // right before each arrival.
        let mut late_ok = Vec::new();
        let mut max_len = 0;
        let mut inputs = BTreeMap::new();
        for (id, a) in arrivals.iter().enumerate() {
            let seq = (i128::from(start) + i128::from(a.offset)) as u64;
            inputs.insert(id, seq);
            let watermark = if buf.is_exhausted() { 1u128 << 64 } else { u128::from(buf.next_seq()) };
            match buf.insert(seq, (seq, id)) {
                Ok(Some(v)) => out.push(Out::Ok(v.0, v.1)),
                Ok(None) => {}
                Err(e) => {
                    // Late exactly when below the watermark.
                    prop_assert!(u128::from(seq) < watermark, "seq {} rejected at watermark {}", seq, watermark);
                    record(&mut out, Err(e));
                    late_ok.push(id);
                }
            }
            max_len = max_len.max(buf.len());
            drain_ready(&mut buf, &mut out);
            if a.skip_after {
                if let Some(range) = buf.skip_gap() {
                    out.push(Out::Missing(range));
                    drain_ready(&mut buf, &mut out);
                }
            }
        }
        while let Some(item) = buf.pop_flush() {
            record(&mut out, item);
        }

        // The buffer is empty and its introspection agrees.
        prop_assert!(buf.is_empty());
        prop_assert_eq!(buf.len(), 0);
        prop_assert_eq!(buf.first_held(), None);
        prop_assert!(!buf.has_ready());
        prop_assert_eq!(buf.peak_len(), max_len);

        // Every value out exactly once.
        let mut seen = BTreeSet::new();
        for o in &out {
            if let Out::Ok(seq, id) | Out::Late(seq, id) | Out::Duplicate(seq, id) = *o {
                prop_assert!(seen.insert(id), "value {} came out twice", id);
                prop_assert_eq!(inputs[&id], seq);
            }
        }
        prop_assert_eq!(seen.len(), arrivals.len(), "a value was lost");

        // Ok seqs and Missing ranges tile [start, end) in order: increasing,
        // non-overlapping, never empty, no hole unreported, none reported twice.
        let mut cursor = u128::from(start);
        let mut last_tile_is_ok = true;
        let mut ok_id = BTreeMap::new();
        for (i, o) in out.iter().enumerate() {
            match o {
                Out::Ok(seq, id) => {
                    prop_assert_eq!(u128::from(*seq), cursor, "Ok out of order in {:?}", out);
                    cursor += 1;
                    last_tile_is_ok = true;
                    ok_id.insert(*seq, *id);
                }
                Out::Missing(range) => {
                    prop_assert!(range.start < range.end, "empty Missing {:?}", range);
                    prop_assert_eq!(u128::from(range.start), cursor, "Missing out of order in {:?}", out);
                    cursor = u128::from(range.end);
                    last_tile_is_ok = false;
                }
                Out::Duplicate(seq, id) => {
                    // Right after the first copy (or another duplicate of it), and the
                    // first copy is the one that arrived first.
                    let prev = &out[i - 1];
                    prop_assert!(
                        matches!(prev, Out::Ok(s, _) | Out::Duplicate(s, _) if s == seq),
                        "Duplicate {} not right after its first copy: {:?}", seq, out
                    );
                    prop_assert!(ok_id[seq] < *id, "the second copy was yielded as Ok");
                }
                Out::Late(..) => {}
            }
        }
        // A hole is only reported in front of a held value.
        prop_assert!(last_tile_is_ok, "trailing Missing in {:?}", out);
        if cursor == 1u128 << 64 {
            prop_assert!(buf.is_exhausted());
        } else {
            prop_assert_eq!(u128::from(buf.next_seq()), cursor);
        }
        // Values only come back Late when they were rejected on insert.
        let late: BTreeSet<usize> = out
            .iter()
            .filter_map(|o| if let Out::Late(_, id) = o { Some(*id) } else { None })
            .collect();
        prop_assert_eq!(late, late_ok.into_iter().collect::<BTreeSet<_>>());
        // Values that never arrived below the start are never Ok.
        prop_assert!(ok_id.keys().all(|&s| s >= start));
    }
}
