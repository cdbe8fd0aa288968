//! Given-up sequence numbers, kept as compact markers apart from held values: explicit
//! ranges (merged when they touch) and the open-ended stripes of dropped lanes.
//!
//! Pure and synchronous like [`ReorderBuffer`](crate::buffer::ReorderBuffer): the channel's
//! receiver asks it, at its watermark, how long a run of given-up seqs starts there.
//! Markers never count as held values, so a flood of give-ups can never push a live value
//! out of a bounded buffer. Memory is one entry per disjoint range and one per stripe.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::ops::RangeInclusive;

/// How many stripe positions one [`GiveUps::run_from`] call walks before it reports what
/// it has; a step-1 stripe could otherwise make one call walk without bound.
const MAX_STRIPE_STEPS: u32 = 4096;

/// The given-up seqs of one channel.
#[derive(Debug, Default)]
pub(crate) struct GiveUps {
    /// Disjoint, non-touching inclusive ranges: first → last.
    ranges: BTreeMap<u64, u64>,
    /// Stripes of dropped lanes as (next position not yet passed, step): every
    /// `next + k × step` is given up. Smallest next position on top.
    stripes: BinaryHeap<Reverse<(u64, u64)>>,
}

impl GiveUps {
    /// Whether no marker is kept.
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.stripes.is_empty()
    }

    /// Gives up every seq in `first..=last`, merging with ranges it touches.
    pub(crate) fn add_range(&mut self, seqs: RangeInclusive<u64>) {
        let (mut first, mut last) = seqs.into_inner();
        if first > last {
            return;
        }
        // A range starting at or before `first` that reaches it (or touches it).
        if let Some((&start, &end)) = self.ranges.range(..=first).next_back() {
            if end >= first.saturating_sub(1) {
                first = start;
                last = last.max(end);
                self.ranges.remove(&start);
            }
        }
        // Ranges starting inside `first..=last + 1` are swallowed.
        let reach = last.saturating_add(1);
        while let Some((&start, &end)) = self.ranges.range(first..=reach).next() {
            last = last.max(end);
            self.ranges.remove(&start);
        }
        self.ranges.insert(first, last);
    }

    /// Gives up `first`, `first + step`, `first + 2 × step`, … for ever.
    pub(crate) fn add_stripe(&mut self, first: u64, step: u64) {
        debug_assert!(step > 0);
        self.stripes.push(Reverse((first, step)));
    }

    /// The highest seq given up as part of an explicit range.
    pub(crate) fn last_explicit(&self) -> Option<u64> {
        self.ranges.last_key_value().map(|(_, &last)| last)
    }

    /// The lowest seq given up as part of an explicit range.
    pub(crate) fn first_explicit(&self) -> Option<u64> {
        self.ranges.first_key_value().map(|(&first, _)| first)
    }

    /// Forgets every marker below `watermark`: those seqs have passed.
    pub(crate) fn forget_below(&mut self, watermark: u64) {
        while let Some(entry) = self.ranges.first_entry() {
            let (start, last) = (*entry.key(), *entry.get());
            if start >= watermark {
                break;
            }
            entry.remove();
            if last >= watermark {
                self.ranges.insert(watermark, last);
                break;
            }
        }
        self.stripe_at(watermark);
    }

    /// The run of given-up seqs that starts at `from`, as `from..=last`, or `None` when
    /// `from` is not given up.
    ///
    /// The run stops before `stop` (a held value: a value wins over a give-up of its
    /// seq) and counts stripe positions only below `stripe_horizon`: an open-ended
    /// stripe is reported only as far as something is known to come after it.
    ///
    /// `from` only grows from call to call, and the caller moves it past the run it is
    /// given (stripes are walked forward as they are read).
    pub(crate) fn run_from(
        &mut self,
        from: u64,
        stop: Option<u64>,
        stripe_horizon: u64,
    ) -> Option<RangeInclusive<u64>> {
        let mut last: Option<u64> = None;
        let mut steps = 0;
        loop {
            let at = match last {
                None => from,
                Some(u64::MAX) => break,
                Some(last) => last + 1,
            };
            if stop.is_some_and(|stop| at >= stop) {
                break;
            }
            if let Some(end) = self.range_covering(at) {
                // Up to the range's end, but not onto a held value.
                let end = match stop {
                    Some(stop) => end.min(stop - 1),
                    None => end,
                };
                last = Some(end);
                continue;
            }
            if at < stripe_horizon && steps < MAX_STRIPE_STEPS && self.stripe_at(at) {
                steps += 1;
                last = Some(at);
                continue;
            }
            break;
        }
        last.map(|last| from..=last)
    }

    /// The last seq of the explicit range that covers `seq`.
    fn range_covering(&self, seq: u64) -> Option<u64> {
        let (_, &last) = self.ranges.range(..=seq).next_back()?;
        (last >= seq).then_some(last)
    }

    /// Whether a stripe has a position at `seq`. Moves every stripe whose next position
    /// is below `seq` up to its first position at or above it (`seq` only grows).
    fn stripe_at(&mut self, seq: u64) -> bool {
        while let Some(&Reverse((next, step))) = self.stripes.peek() {
            if next >= seq {
                return next == seq;
            }
            self.stripes.pop();
            let hops = (seq - next).div_ceil(step);
            // A stripe whose next position would pass `u64::MAX` has none left.
            if let Some(moved) = hops.checked_mul(step).and_then(|d| next.checked_add(d)) {
                self.stripes.push(Reverse((moved, step)));
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_ranges_merge_into_one() {
        let mut g = GiveUps::default();
        for seq in [3, 5, 2, 4] {
            g.add_range(seq..=seq);
        }
        assert_eq!(g.ranges.len(), 1);
        assert_eq!(g.run_from(2, None, 0), Some(2..=5));
        assert_eq!(g.run_from(1, None, 0), None);
    }

    #[test]
    fn a_held_value_stops_the_run() {
        let mut g = GiveUps::default();
        g.add_range(2..=9);
        assert_eq!(g.run_from(2, Some(5), 0), Some(2..=4));
        assert_eq!(g.run_from(5, Some(5), 0), None);
    }

    #[test]
    fn stripes_count_only_below_the_horizon_and_join_ranges() {
        let mut g = GiveUps::default();
        g.add_stripe(2, 4); // 2, 6, 10, …
        g.add_range(3..=5);
        assert_eq!(g.run_from(2, None, 100), Some(2..=6));
        assert_eq!(g.run_from(10, None, 10), None);
        assert_eq!(g.run_from(10, None, 11), Some(10..=10));
        g.forget_below(11);
        assert!(g.ranges.is_empty());
        assert_eq!(g.run_from(14, None, 15), Some(14..=14));
    }

    #[test]
    fn runs_reach_u64_max_without_overflow() {
        let mut g = GiveUps::default();
        g.add_range(u64::MAX - 1..=u64::MAX);
        g.add_stripe(u64::MAX - 3, 2);
        assert_eq!(
            g.run_from(u64::MAX - 3, None, u64::MAX),
            Some(u64::MAX - 3..=u64::MAX - 3)
        );
        assert_eq!(g.run_from(u64::MAX - 2, None, u64::MAX), None);
        assert_eq!(
            g.run_from(u64::MAX - 1, None, u64::MAX),
            Some(u64::MAX - 1..=u64::MAX)
        );
        g.forget_below(u64::MAX);
        assert_eq!(g.last_explicit(), Some(u64::MAX));
    }

    /// One operation on the markers; queries come at a watermark that only grows.
    #[derive(Clone, Debug)]
    enum Op {
        Range(u64, u64),
        Stripe(u64, u64),
        Forget,
        Run { stop: Option<u64>, horizon: u64 },
        Advance(u64),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (0u64..200, 1u64..20).prop_map(|(a, len)| Op::Range(a, len)),
            1 => (0u64..200, 1u64..9).prop_map(|(first, step)| Op::Stripe(first, step)),
            1 => Just(Op::Forget),
            3 => (prop::option::of(0u64..40), 0u64..260)
                .prop_map(|(stop, horizon)| Op::Run { stop, horizon }),
            2 => (0u64..12).prop_map(Op::Advance),
        ]
    }

    proptest::proptest! {
        /// Against a model that keeps every given-up seq and stripe as given: the run at
        /// the (growing) watermark is exactly the seqs given up from there on, stopped
        /// before `stop` and counting stripes only below the horizon; the watermark then
        /// moves past the run, as the receiver's does.
        #[test]
        fn runs_match_a_model(ops in proptest::collection::vec(op(), 0..80)) {
            let mut markers = GiveUps::default();
            let mut explicit = std::collections::BTreeSet::new();
            let mut stripes: Vec<(u64, u64)> = Vec::new();
            let mut watermark = 0u64;
            for op in ops {
                match op {
                    Op::Range(a, len) => {
                        markers.add_range(a..=a + len - 1);
                        explicit.extend(a..a + len);
                    }
                    Op::Stripe(first, step) => {
                        markers.add_stripe(first, step);
                        stripes.push((first, step));
                    }
                    Op::Forget => markers.forget_below(watermark),
                    Op::Advance(by) => watermark += by,
                    Op::Run { stop, horizon } => {
                        let stop = stop.map(|s| watermark + s);
                        let given_up = |seq: u64| {
                            explicit.contains(&seq)
                                || (seq < horizon
                                    && stripes.iter().any(|&(f, st)| seq >= f && (seq - f) % st == 0))
                        };
                        let mut end = watermark;
                        while stop.is_none_or(|s| end < s) && given_up(end) {
                            end += 1;
                        }
                        let want = (end > watermark).then(|| watermark..=end - 1);
                        proptest::prop_assert_eq!(markers.run_from(watermark, stop, horizon), want);
                        // The receiver skips what it is given.
                        watermark = end;
                    }
                }
            }
        }
    }

    #[test]
    fn a_step_one_stripe_is_walked_in_bounded_steps() {
        let mut g = GiveUps::default();
        g.add_stripe(0, 1);
        let run = g.run_from(0, None, u64::MAX).unwrap();
        assert_eq!(*run.end(), u64::from(MAX_STRIPE_STEPS) - 1);
    }
}
