//! Paired measurement: ours and its anchor run **alternately**, and what criterion records
//! is their ratio, not a time.
//!
//! Measuring ours for a few seconds and then the anchor for a few seconds (criterion's
//! usual way) lets anything that changes between the two windows — another tenant on the
//! shared machine, the CPU's clock, a neighbour's build — land in the ratio; on these
//! 2-core machines that moved ratios by ±15% between back-to-back runs. Here every
//! iteration runs both, one right after the other, alternating which goes first (so
//! neither always inherits the other's warm caches or leftover tasks), and a sample's
//! value is `time(ours) / time(anchor)` summed over its iterations. Criterion's statistics
//! then describe the ratio itself: its median, confidence interval and change between
//! runs, in `target/criterion/<group>/<function>/new/estimates.json` as for any bench.
//!
//! The groups are named `ratio_<what>` and each function `<ours>_vs_<anchor>`; a value of
//! 1.00 x means as fast as the anchor, below 1 is faster. `scripts/ratios.py` reads them.

use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BenchmarkGroup, BenchmarkId, Throughput};

/// A "measurement" whose values are ratios of two times measured by the routine itself
/// (with [`iter_custom`](criterion::Bencher::iter_custom)); it never reads a clock.
pub struct Ratio;

impl Measurement for Ratio {
    type Intermediate = ();
    type Value = f64;

    fn start(&self) {}

    /// Unused: paired routines time themselves and return the ratio.
    fn end(&self, (): ()) -> f64 {
        0.0
    }

    fn add(&self, v1: &f64, v2: &f64) -> f64 {
        v1 + v2
    }

    fn zero(&self) -> f64 {
        0.0
    }

    fn to_f64(&self, value: &f64) -> f64 {
        *value
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &RatioFormatter
    }
}

/// Prints a ratio as `1.0123 x`, unscaled.
struct RatioFormatter;

impl ValueFormatter for RatioFormatter {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "x"
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        _throughput: &Throughput,
        _values: &mut [f64],
    ) -> &'static str {
        "x"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "x"
    }
}

/// Registers `id` in `group` (for an id without a parameter,
/// `BenchmarkId::from_parameter(name)`): each iteration runs `ours` and `anchor` once each, in
/// alternating order, and the sample records `Σ time(ours) / Σ time(anchor)` (scaled by
/// the iteration count, as criterion expects of a sample). Each closure runs its workload
/// once and returns how long the part worth timing took (setup left out).
pub fn bench_pair(
    group: &mut BenchmarkGroup<'_, Ratio>,
    id: BenchmarkId,
    mut ours: impl FnMut() -> Duration,
    mut anchor: impl FnMut() -> Duration,
) {
    let mut ours_first = false;
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let (mut ours_total, mut anchor_total) = (Duration::ZERO, Duration::ZERO);
            for _ in 0..iters {
                ours_first = !ours_first;
                if ours_first {
                    ours_total += ours();
                    anchor_total += anchor();
                } else {
                    anchor_total += anchor();
                    ours_total += ours();
                }
            }
            iters as f64 * ours_total.as_secs_f64() / anchor_total.as_secs_f64()
        });
    });
}

/// Runs `f` once and returns how long it took.
pub fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}
