//! Per-key ordering: ledger events for a few accounts, each taking a random time to
//! process. Every account's events must be applied in order, but accounts have nothing to
//! do with each other, so `spawn_ordered_by_key` delivers each event as soon as the
//! earlier events *of its account* are in, while accounts interleave freely. The same
//! work in one total order (`spawn_ordered`) makes every account wait for the slowest
//! event ahead of it.
//!
//! ```text
//! cargo run --release --example per_key
//! ```
//!
//! The settings are the constants below; the example takes no flags (`--help` says so).

#[path = "common/mod.rs"]
pub mod common;

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use rand::{rngs::StdRng, RngExt, SeedableRng};
use reorder::OrderedExt;
use tokio::time::Instant;

use common::{ms, say, Out};

pub const ACCOUNTS: usize = 4;
pub const EVENTS: usize = 24;
pub const LIMIT: usize = 8;
pub const MAX_LATENCY_MS: u64 = 200;
/// Account 0's first event is stuck this long: the head-of-line blocker.
pub const STUCK_MS: u64 = 1_000;
pub const SEED: u64 = 7;

/// One ledger event: which account, its number within the account, its processing time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub account: usize,
    pub number: usize,
    pub latency: Duration,
}

/// What one run observed.
#[derive(Debug, Default)]
pub struct Report {
    /// Events in the order the per-key stream delivered them.
    pub by_key: Vec<Event>,
    /// When each per-key delivery happened, since the start.
    pub by_key_at: Vec<Duration>,
    /// The same for total order.
    pub total: Vec<Event>,
    pub total_at: Vec<Duration>,
}

impl Report {
    /// When every event of accounts other than 0 had been delivered, per key and in total
    /// order.
    pub fn others_done(&self) -> (Duration, Duration) {
        let last = |events: &[Event], at: &[Duration]| {
            events
                .iter()
                .zip(at)
                .filter(|(e, _)| e.account != 0)
                .map(|(_, at)| *at)
                .max()
                .unwrap_or_default()
        };
        (
            last(&self.by_key, &self.by_key_at),
            last(&self.total, &self.total_at),
        )
    }
}

/// The seeded events: accounts at random, numbered per account, random latencies.
pub fn events() -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut numbers = [0; ACCOUNTS];
    (0..EVENTS)
        .map(|i| {
            let account = if i == 0 {
                0
            } else {
                rng.random_range(0..ACCOUNTS)
            };
            let number = numbers[account];
            numbers[account] += 1;
            let latency = if i == 0 {
                STUCK_MS
            } else {
                rng.random_range(0..MAX_LATENCY_MS)
            };
            Event {
                account,
                number,
                latency: Duration::from_millis(latency),
            }
        })
        .collect()
}

async fn process(event: Event) -> Event {
    tokio::time::sleep(event.latency).await;
    event
}

/// Runs the events per key, then in total order, printing each delivery.
pub async fn run(out: Out) -> Report {
    let events = events();
    let mut report = Report::default();

    say!(out, "per key (spawn_ordered_by_key, limit {LIMIT}):");
    let start = Instant::now();
    let mut stream =
        futures::stream::iter(events.clone()).spawn_ordered_by_key(LIMIT, |e| e.account, process);
    while let Some(event) = stream.next().await {
        let event = event.expect("processing does not panic");
        let at = start.elapsed();
        say!(
            out,
            "  {:>5} ms  account {} event {:>2}  ({} ms of work)",
            ms(at),
            event.account,
            event.number,
            ms(event.latency)
        );
        report.by_key.push(event);
        report.by_key_at.push(at);
    }

    say!(out, "total order (spawn_ordered, limit {LIMIT}):");
    let start = Instant::now();
    let mut stream = futures::stream::iter(events).spawn_ordered(LIMIT, process);
    while let Some(event) = stream.next().await {
        let event = event.expect("processing does not panic");
        let at = start.elapsed();
        say!(
            out,
            "  {:>5} ms  account {} event {:>2}",
            ms(at),
            event.account,
            event.number
        );
        report.total.push(event);
        report.total_at.push(at);
    }
    report
}

/// Whether every account's events came out numbered 0, 1, 2, …
pub fn each_account_in_order(events: &[Event]) -> bool {
    let mut next: HashMap<usize, usize> = HashMap::new();
    events.iter().all(|e| {
        let n = next.entry(e.account).or_default();
        let ok = *n == e.number;
        *n += 1;
        ok
    })
}

pub fn print_report(report: &Report, out: &Out) {
    let (by_key, total) = report.others_done();
    say!(
        out,
        "each account in order: per key {}, total order {}",
        each_account_in_order(&report.by_key),
        each_account_in_order(&report.total)
    );
    say!(
        out,
        "accounts other than 0 fully delivered after: per key {} ms, total order {} ms",
        ms(by_key),
        ms(total)
    );
    say!(
        out,
        "all delivered after: per key {} ms, total order {} ms",
        ms(report.by_key_at.last().copied().unwrap_or_default()),
        ms(report.total_at.last().copied().unwrap_or_default())
    );
}

/// No flags: the settings are the constants above. Unknown flags are rejected.
#[derive(clap::Parser, Debug)]
#[command(
    name = "per_key",
    about = "Per-key ordering against total order: ledger events of a few accounts"
)]
pub struct Args {}

impl Args {
    /// Parses the flags after the program name (there are none but `--help`).
    pub fn from_flags(argv: impl IntoIterator<Item = String>) -> Result<Self, clap::Error> {
        <Self as clap::Parser>::try_parse_from(std::iter::once("per_key".to_owned()).chain(argv))
    }
}

#[tokio::main]
async fn main() {
    let _args = common::args_or_exit(Args::from_flags);
    let out = Out::stdout();
    let report = run(out.clone()).await;
    print_report(&report, &out);
    if !each_account_in_order(&report.by_key) {
        std::process::exit(1);
    }
}
