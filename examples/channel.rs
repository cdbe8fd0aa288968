//! Producers in several tasks push `(seq, value)` through a reorder channel in any order;
//! one consumer receives the values strictly in order. The window keeps fast producers
//! from running ahead: a send more than `window` places ahead of the consumer waits.
//!
//! ```text
//! cargo run --release --example channel
//! cargo run --release --example channel -- --producers 8 --items 1000 --window 16
//! ```
//!
//! Flags: `--producers N` (4), `--items N` (24), `--window N` (8), `--seed N` (7).

#[path = "common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{rngs::StdRng, RngExt, SeedableRng};
use tokio::time::Instant;

use common::{ms, say, Out};

/// Above this many items, print a summary only.
const MAX_EVENT_LINES: usize = 60;

/// What the run was asked to do.
#[derive(Clone, Debug)]
pub struct Args {
    pub producers: usize,
    pub items: usize,
    pub window: usize,
    pub seed: u64,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            producers: 4,
            items: 24,
            window: 8,
            seed: 7,
        }
    }
}

const USAGE: &str = "usage: channel [--producers N] [--items N] [--window N] [--seed N]";

impl Args {
    /// Parses `--flag value` pairs; unknown flags, bad numbers and zeros are errors.
    pub fn parse(argv: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut args = Self::default();
        common::parse_flags(argv, USAGE, &[], |flag, value| {
            match flag {
                "--producers" => args.producers = common::number(flag, value)?,
                "--items" => args.items = common::number(flag, value)?,
                "--window" => args.window = common::number(flag, value)?,
                "--seed" => args.seed = common::number(flag, value)?,
                _ => return Err(format!("unknown flag {flag}")),
            }
            Ok(())
        })?;
        if args.producers == 0 || args.window == 0 {
            return Err("--producers and --window must be at least 1".to_owned());
        }
        Ok(args)
    }
}

/// What the run measured.
#[derive(Debug)]
pub struct Report {
    /// Seqs in the order the producers sent them.
    pub sent: Vec<u64>,
    /// Seqs in the order the consumer received them.
    pub received: Vec<u64>,
    /// Sends that had to wait for the consumer to catch up.
    pub waited: usize,
    pub peak_buffered: usize,
    pub wall: Duration,
}

/// Runs the demo, writing what a person should see to `out`.
pub async fn run(args: &Args, out: Out) -> Report {
    let verbose = args.items <= MAX_EVENT_LINES;
    say!(
        out,
        "{} producers send {} items (producer p owns seqs p, p+{}, ...), window {}\n",
        args.producers,
        args.items,
        args.producers,
        args.window
    );
    let start = Instant::now();
    let (tx, mut rx) = reorder::channel::<String>(args.window);
    let sent = Arc::new(Mutex::new(Vec::with_capacity(args.items)));
    let waited = Arc::new(AtomicUsize::new(0));
    for producer in 0..args.producers {
        let (tx, sent, waited, out) = (tx.clone(), sent.clone(), waited.clone(), out.clone());
        let mut rng = StdRng::seed_from_u64(args.seed.wrapping_add(producer as u64));
        let items = args.items as u64;
        let stride = args.producers;
        tokio::spawn(async move {
            for seq in (producer as u64..items).step_by(stride) {
                let work = Duration::from_millis(rng.random_range(0..=30));
                tokio::time::sleep(work).await;
                let value = format!("item {seq} from producer {producer}");
                // `try_send` first only to count the sends the window holds back.
                let value = match tx.try_send(seq, value) {
                    Ok(()) => None,
                    Err(reorder::TrySendError::Full(e)) => Some(e.into_inner()),
                    Err(reorder::TrySendError::Closed(_)) => return,
                };
                if let Some(value) = value {
                    waited.fetch_add(1, Ordering::SeqCst);
                    if verbose {
                        say!(out, "{:>5} ms  producer {producer}: seq {seq} is {} ahead of the consumer, waits", ms(start.elapsed()), seq.saturating_sub(tx.next_seq()));
                    }
                    if tx.send(seq, value).await.is_err() {
                        return;
                    }
                }
                sent.lock().unwrap().push(seq);
            }
        });
    }
    // The consumer sees the end once every producer's sender is gone.
    drop(tx);

    let mut received = Vec::with_capacity(args.items);
    while let Some(item) = rx.recv().await {
        let value = item.expect("every seq is sent exactly once");
        let seq: u64 = value
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("values name their seq");
        if verbose {
            say!(
                out,
                "{:>5} ms                                      received {value}  (held: {})",
                ms(start.elapsed()),
                rx.buffered_len()
            );
        }
        received.push(seq);
    }
    let sent = std::mem::take(&mut *sent.lock().unwrap());
    Report {
        sent,
        received,
        waited: waited.load(Ordering::SeqCst),
        peak_buffered: rx.peak_buffered(),
        wall: start.elapsed(),
    }
}

/// Prints the summary.
pub fn print_report(args: &Args, report: &Report, out: &Out) {
    let in_order = report.received.iter().copied().eq(0..args.items as u64);
    let sent_in_order = report.sent.windows(2).all(|w| w[0] < w[1]);
    say!(out, "\nsummary");
    say!(
        out,
        "  sent in order:      {}",
        if sent_in_order {
            "yes"
        } else {
            "no (producers race each other)"
        }
    );
    say!(
        out,
        "  received in order:  {} ({} of {} items)",
        if in_order { "yes" } else { "NO" },
        report.received.len(),
        args.items
    );
    say!(
        out,
        "  sends that waited:  {} (the window held them back)",
        report.waited
    );
    say!(
        out,
        "  peak buffered:      {} (window {})",
        report.peak_buffered,
        args.window
    );
    say!(out, "  wall time:          {} ms", ms(report.wall));
}

#[tokio::main]
async fn main() {
    let args = common::args_or_exit(Args::parse);
    let out = common::stdout();
    let report = run(&args, Arc::clone(&out)).await;
    print_report(&args, &report, &out);
    if !report.received.iter().copied().eq(0..args.items as u64) {
        std::process::exit(1);
    }
}
