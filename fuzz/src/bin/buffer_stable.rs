//! Stable-toolchain fallback for the `buffer` fuzz target: feeds `reorder_fuzz::run`
//! random byte strings for a fixed time. No coverage guidance, but no nightly needed.
//!
//! `cargo run --release --bin buffer_stable -- [seconds] [seed]` (from `fuzz/`).

use std::time::{Duration, Instant};

/// splitmix64: small, fast, good enough to make bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().map_or(60, |s| s.parse().expect("seconds"));
    let seed: u64 = args.next().map_or(0x5EED, |s| s.parse().expect("seed"));
    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut execs: u64 = 0;
    let mut bytes = Vec::new();
    let started = Instant::now();
    while Instant::now() < deadline {
        for _ in 0..256 {
            let len = (rng.next() % 512) as usize;
            bytes.clear();
            bytes.extend((0..len).map(|_| rng.next() as u8));
            let case = execs;
            if let Err(e) = std::panic::catch_unwind(|| reorder_fuzz::run(&bytes)) {
                eprintln!("case {case} (seed {seed}) failed; input: {bytes:?}");
                std::panic::resume_unwind(e);
            }
            execs += 1;
        }
    }
    println!(
        "buffer_stable: {execs} execs in {:.1?}, seed {seed}, no failure",
        started.elapsed()
    );
}
