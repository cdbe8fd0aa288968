//! Stress: many items through `spawn_ordered` on a 2-worker runtime with random delays.
//! Order is verified item by item, the buffer never exceeds the window, and memory stays
//! flat. The 1,000,000-item run is `#[ignore]`d; see RELIABILITY.md:
//!
//! `cargo test --release --test stress -- --ignored --nocapture`

use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use reorder::{OrderedExt, SpawnConfig};

const LIMIT: usize = 64;
const WINDOW: usize = 256;

/// Cheap per-item randomness (splitmix64), so delays are reproducible without shared state.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Resident-set figures from `/proc/self/status`, in KiB: (VmRSS, VmHWM = peak RSS).
fn rss_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Runs `n` items; 1 in 32 sleeps 0–2 ms, the rest yield 0–3 times. Returns RSS samples
/// `(items, VmRSS, VmHWM)` at the checkpoints.
fn run(n: u64, checkpoints: &[u64]) -> Vec<(u64, u64, u64)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = SpawnConfig::new(LIMIT).window(WINDOW);
        let mut results = stream::iter(0..n).spawn_ordered_with(config, |i| async move {
            let r = mix(i);
            if r % 32 == 0 {
                tokio::time::sleep(Duration::from_micros(r % 2_000)).await;
            } else {
                for _ in 0..(r >> 8) % 4 {
                    tokio::task::yield_now().await;
                }
            }
            (i, r)
        });
        let mut samples = Vec::new();
        let mut expected = 0u64;
        let run = async {
            while let Some(result) = results.next().await {
                let (i, r) = result.expect("task failed");
                assert_eq!(i, expected, "out of order");
                assert_eq!(r, mix(i), "value mixed up");
                expected += 1;
                assert!(results.buffered_len() <= WINDOW);
                if checkpoints.contains(&expected) {
                    if let Some((rss, hwm)) = rss_kib() {
                        samples.push((expected, rss, hwm));
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(600), run)
            .await
            .expect("stress run hung");
        assert_eq!(expected, n, "stream ended early");
        assert!(
            results.peak_buffered() <= WINDOW,
            "peak {}",
            results.peak_buffered()
        );
        assert!(results.in_flight() == 0 && results.buffered_len() == 0);
        samples
    })
}

#[test]
fn twenty_thousand_items_in_order() {
    let samples = run(20_000, &[5_000, 20_000]);
    if let [(_, _, first), .., (_, _, last)] = samples[..] {
        // Generous: a leak of one small allocation per item would not fit.
        assert!(
            last - first < 16 * 1024,
            "peak RSS grew {first} -> {last} KiB"
        );
    }
}

#[test]
#[ignore = "1M items: run with `cargo test --release --test stress -- --ignored --nocapture`"]
fn one_million_items_in_order_memory_flat() {
    let start = Instant::now();
    let samples = run(1_000_000, &[100_000, 500_000, 1_000_000]);
    println!("1,000,000 items in {:.1?}", start.elapsed());
    for (items, rss, hwm) in &samples {
        println!("after {items:>9} items: VmRSS {rss} KiB, VmHWM (peak) {hwm} KiB");
    }
    let (_, _, at_100k) = samples[0];
    let (_, _, at_1m) = *samples.last().unwrap();
    // 900,000 more items may not grow the peak by more than 8 MiB (a leak of even 16 bytes
    // per item would be ~14 MiB).
    assert!(
        at_1m - at_100k < 8 * 1024,
        "peak RSS grew {at_100k} -> {at_1m} KiB"
    );
}
