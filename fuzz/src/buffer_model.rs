//! A reference model of `ReorderBuffer`'s documented contract: a `BTreeMap` from seq to the
//! ids held for it, in arrival order. Shared by the fuzz target and `tests/properties.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;

/// One thing the buffer hands out: `(seq, id)` for values, the range for holes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Out {
    Ok(u64, u64),
    Late(u64, u64),
    Duplicate(u64, u64),
    Missing(Range<u64>),
}

#[derive(Debug)]
pub struct Model {
    next: u64,
    exhausted: bool,
    held: BTreeMap<u64, VecDeque<u64>>,
    len: usize,
    peak: usize,
}

impl Model {
    pub fn new(first: u64) -> Self {
        Self {
            next: first,
            exhausted: false,
            held: BTreeMap::new(),
            len: 0,
            peak: 0,
        }
    }

    pub fn next_seq(&self) -> u64 {
        self.next
    }
    pub fn is_exhausted(&self) -> bool {
        self.exhausted
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn peak_len(&self) -> usize {
        self.peak
    }
    pub fn first_held(&self) -> Option<u64> {
        self.held.keys().next().copied()
    }
    pub fn has_ready(&self) -> bool {
        self.first_held().is_some_and(|s| s <= self.next)
    }

    fn advance(&mut self) {
        match self.next.checked_add(1) {
            Some(n) => self.next = n,
            None => self.exhausted = true,
        }
    }

    /// `Ok(Some)`: the value comes straight back; `Ok(None)`: held; `Err`: late.
    ///
    /// Contract: "a held seq arrives again: the first copy is yielded in its position, the
    /// second handed back as Duplicate right after it". So the fast path only applies when
    /// nothing held is ready (something can be, if the caller inserts before draining
    /// `pop_ready`); otherwise the value queues behind the ready ones.
    pub fn insert(&mut self, seq: u64, id: u64) -> Result<Option<Out>, Out> {
        if seq == self.next && !self.exhausted && !self.has_ready() {
            self.advance();
            return Ok(Some(Out::Ok(seq, id)));
        }
        if seq < self.next || self.exhausted {
            return Err(Out::Late(seq, id));
        }
        self.held.entry(seq).or_default().push_back(id);
        self.len += 1;
        self.peak = self.peak.max(self.len);
        Ok(None)
    }

    fn pop_first(&mut self) -> Option<Out> {
        let mut entry = self.held.first_entry()?;
        let seq = *entry.key();
        let id = entry.get_mut().pop_front().expect("no empty entries");
        if entry.get().is_empty() {
            entry.remove();
        }
        self.len -= 1;
        if seq == self.next && !self.exhausted {
            self.advance();
            Some(Out::Ok(seq, id))
        } else {
            Some(Out::Duplicate(seq, id))
        }
    }

    pub fn pop_ready(&mut self) -> Option<Out> {
        if !self.has_ready() {
            return None;
        }
        self.pop_first()
    }

    pub fn skip_gap(&mut self) -> Option<Range<u64>> {
        let first = self.first_held()?;
        if self.exhausted || first <= self.next {
            return None;
        }
        let skipped = self.next..first;
        self.next = first;
        Some(skipped)
    }

    /// Spec: every missing seq below `seq` is given up on, but never a held one.
    pub fn skip_to(&mut self, seq: u64) -> Option<Range<u64>> {
        let stop = match self.first_held() {
            Some(held) if held < seq => held,
            _ => seq,
        };
        if self.exhausted || stop <= self.next {
            return None;
        }
        let skipped = self.next..stop;
        self.next = stop;
        Some(skipped)
    }

    pub fn pop_flush(&mut self) -> Option<Out> {
        if let Some(r) = self.skip_gap() {
            return Some(Out::Missing(r));
        }
        self.pop_first()
    }
}

/// Contract-level checks on a complete output, independent of the model: every id in
/// `0..ids` accounted for exactly once; `Ok` seqs strictly increasing and `>= first`;
/// `Missing` ranges non-empty, increasing, disjoint and never covering a yielded seq;
/// a `Duplicate` always names a seq yielded before it; a `Late` seq is below the
/// watermark at that point.
pub fn check_invariants(first: u64, ids: u64, out: &[Out]) {
    let mut seen = vec![false; ids as usize];
    let mut account = |id: u64| {
        assert!(!seen[id as usize], "id {id} came out twice");
        seen[id as usize] = true;
    };
    // Everything below `watermark` is settled (yielded or reported missing).
    let mut watermark: Option<u64> = None; // None: nothing settled yet (below `first` only)
    let mut last_ok: Option<u64> = None;
    let settled = |w: Option<u64>, s: u64| s < first || w.is_some_and(|w| s <= w);
    for o in out {
        match o {
            Out::Ok(seq, id) => {
                account(*id);
                assert!(*seq >= first, "Ok seq {seq} below first {first}");
                assert!(
                    !settled(watermark, *seq),
                    "Ok seq {seq} not above the watermark {watermark:?}"
                );
                last_ok = Some(*seq);
                watermark = Some(*seq);
            }
            Out::Missing(r) => {
                assert!(r.start < r.end, "empty Missing {r:?}");
                assert!(r.start >= first, "Missing {r:?} below first");
                assert!(
                    !settled(watermark, r.start),
                    "Missing {r:?} overlaps settled seqs up to {watermark:?}"
                );
                watermark = Some(r.end - 1);
            }
            Out::Late(seq, id) => {
                account(*id);
                assert!(
                    settled(watermark, *seq),
                    "Late seq {seq} is not below the watermark {watermark:?}"
                );
            }
            Out::Duplicate(seq, id) => {
                account(*id);
                assert_eq!(Some(*seq), last_ok, "Duplicate {seq} must follow its Ok");
            }
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        panic!("id {missing} never came out");
    }
}
