//! Producers in several tasks push `(seq, value)` through a reorder channel in any order;
//! one consumer receives the values strictly in order. The window keeps fast producers
//! from running ahead: a send more than `window` places ahead of the consumer waits.
//!
//! ```text
//! cargo run --release --example channel
//! cargo run --release --example channel -- --producers 8 --items 1000 --window 16
//! ```
//!
//! Flags (`--help` lists them): `--producers N` (4), `--items N` (24), `--window N` (8),
//! `--max-latency-ms N` (each item takes 0..=N ms to produce; 30, or less for big runs so
//! that a run takes a few seconds), `--seed N` (7), `--quiet` (summary only). Past 60
//! items it shows progress (a bar on a terminal, a line every 10% otherwise) instead of
//! one line per event.

#[path = "common/mod.rs"]
pub mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use rand::{rngs::StdRng, RngExt, SeedableRng};
use tokio::time::Instant;

use common::{ms, say, Out, Progress};

/// Above this many items, print a summary only.
const MAX_EVENT_LINES: usize = 60;

/// Most items or producers a run may ask for.
const MAX_COUNT: usize = 10_000_000;
/// Longest per-item latency a run may ask for.
const MAX_LATENCY_MS: u64 = 60_000;
/// The per-item latency of the small demo runs.
const DEMO_LATENCY_MS: u64 = 30;
/// What the default latency aims at for a whole run, in milliseconds.
const TARGET_RUN_MS: u64 = 5_000;

/// Producers in several tasks send `(seq, value)` through a reorder channel in any order;
/// one consumer receives the values strictly in order.
#[derive(Clone, Debug, Parser)]
#[command(name = "channel")]
pub struct Args {
    /// Producer tasks; producer p sends seqs p, p + producers, ...
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = common::count(MAX_COUNT))]
    pub producers: usize,
    /// Items to send in all
    #[arg(long, value_name = "N", default_value_t = 24, value_parser = common::count(MAX_COUNT))]
    pub items: usize,
    /// How far ahead of the consumer a send may run before it waits
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = common::count(MAX_COUNT))]
    pub window: usize,
    /// Each item takes a random 0..=MS milliseconds to produce [default: 30, less for big
    /// runs so that a run takes about 5 s]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(..=MAX_LATENCY_MS))]
    pub max_latency_ms: Option<u64>,
    /// Seed of the random latencies
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub seed: u64,
    /// Print the summary only
    #[arg(long)]
    pub quiet: bool,
}

impl Args {
    /// Parses the flags after the program name: unknown flags, bad numbers and zeros are
    /// errors; `--help` is an error of kind `DisplayHelp`.
    pub fn from_flags(argv: impl IntoIterator<Item = String>) -> Result<Self, clap::Error> {
        Self::try_parse_from(std::iter::once("channel".to_owned()).chain(argv))
    }

    /// The per-item latency bound: `--max-latency-ms`, or by default 30 ms, lowered for
    /// big runs so that each producer's share takes about [`TARGET_RUN_MS`] (0 for
    /// `--items 100000`: the producers only yield between sends).
    pub fn max_latency_ms(&self) -> u64 {
        self.max_latency_ms.unwrap_or_else(|| {
            let per_producer = self.items.div_ceil(self.producers) as u64;
            // A producer's items take max / 2 on average each.
            DEMO_LATENCY_MS.min(2 * TARGET_RUN_MS / per_producer)
        })
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
    let verbose = !args.quiet && args.items <= MAX_EVENT_LINES;
    let max_latency_ms = args.max_latency_ms();
    if !args.quiet {
        say!(
            out,
            "{} producers send {} items (producer p owns seqs p, p+{}, ...), window {}, \
             each item takes 0..={} ms to produce\n",
            args.producers,
            args.items,
            args.producers,
            args.window,
            max_latency_ms
        );
    }
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
                let work = Duration::from_millis(rng.random_range(0..=max_latency_ms));
                if work.is_zero() {
                    // No latency: still let the other producers race this one.
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(work).await;
                }
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
    let mut progress = if verbose || args.quiet {
        Progress::hidden()
    } else {
        Progress::new(&out, args.items, "received in order")
    };
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
        progress.set(received.len(), || format!("held: {}", rx.buffered_len()));
    }
    drop(progress);
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
    let args = common::args_or_exit(Args::from_flags);
    let out = Out::stdout();
    let report = run(&args, out.clone()).await;
    print_report(&args, &report, &out);
    if !report.received.iter().copied().eq(0..args.items as u64) {
        std::process::exit(1);
    }
}
