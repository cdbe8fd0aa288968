//! The tutorial's second approach, in Rust and done better: tasks with random latencies
//! finish in any order; the consumer receives their results strictly in order, each as
//! soon as every earlier one is in, with at most `window` results ever waiting.
//!
//! ```text
//! cargo run --release --example random_latency
//! cargo run --release --example random_latency -- --tasks 10000 --limit 64 --max-latency-ms 20
//! ```
//!
//! Flags: `--tasks N` (20), `--limit N` (8), `--window N` (4 × limit),
//! `--max-latency-ms N` (400), `--seed N` (7), `--quiet` (summary only).

#[path = "common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use rand::{rngs::StdRng, RngExt, SeedableRng};
use reorder::{OrderedExt, SpawnConfig};
use tokio::time::Instant;

use common::{ms, say, Out};

/// Above this many tasks, print progress instead of one line per event.
const MAX_EVENT_LINES: usize = 60;
/// Width of the timeline's bar.
const TIMELINE_COLUMNS: usize = 50;

/// What the run was asked to do.
#[derive(Clone, Debug)]
pub struct Args {
    pub tasks: usize,
    pub limit: usize,
    pub window: Option<usize>,
    pub max_latency_ms: u64,
    pub seed: u64,
    pub quiet: bool,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            tasks: 20,
            limit: 8,
            window: None,
            max_latency_ms: 400,
            seed: 7,
            quiet: false,
        }
    }
}

impl Args {
    /// Parses `--flag value` pairs; unknown flags and bad numbers are errors.
    pub fn parse(argv: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut args = Self::default();
        common::parse_flags(argv, USAGE, &["--quiet"], |flag, value| {
            match flag {
                "--quiet" => args.quiet = true,
                "--tasks" => args.tasks = common::number(flag, value)?,
                "--limit" => args.limit = common::number(flag, value)?,
                "--window" => args.window = Some(common::number(flag, value)?),
                "--max-latency-ms" => args.max_latency_ms = common::number(flag, value)?,
                "--seed" => args.seed = common::number(flag, value)?,
                _ => return Err(format!("unknown flag {flag}")),
            }
            Ok(())
        })?;
        if args.limit == 0 {
            return Err("--limit must be at least 1".to_owned());
        }
        if args.window.is_some_and(|w| w < args.limit) {
            return Err("--window must be at least --limit".to_owned());
        }
        Ok(args)
    }

    fn config(&self) -> SpawnConfig {
        let config = SpawnConfig::new(self.limit);
        match self.window {
            Some(window) => config.window(window),
            None => config,
        }
    }
}

const USAGE: &str = "usage: random_latency [--tasks N] [--limit N] [--window N] \
                     [--max-latency-ms N] [--seed N] [--quiet]";

/// What happened to one task.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub latency: Duration,
    pub finished: Duration,
    pub yielded: Duration,
}

/// What the run measured.
#[derive(Debug)]
pub struct Report {
    /// Positions in the order the consumer received them.
    pub emitted: Vec<usize>,
    /// Positions in the order the tasks finished.
    pub completed: Vec<usize>,
    pub rows: Vec<Row>,
    pub wall: Duration,
    pub first_result: Duration,
    pub peak_buffered: usize,
    pub window: usize,
    pub naive_wall: Duration,
}

/// Runs the demo, writing what a person should see to `out`.
pub async fn run(args: &Args, out: Out) -> Report {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let latencies: Vec<Duration> = (0..args.tasks)
        .map(|_| Duration::from_millis(rng.random_range(0..=args.max_latency_ms)))
        .collect();
    let config = args.config();
    let verbose = !args.quiet && args.tasks <= MAX_EVENT_LINES;
    say!(
        out,
        "{} tasks, limit {}, window {}, latency 0..={} ms, seed {}\n",
        args.tasks,
        config.get_limit(),
        config.get_window(),
        args.max_latency_ms,
        args.seed
    );

    let start = Instant::now();
    let completed = Arc::new(Mutex::new(Vec::with_capacity(args.tasks)));
    let mut ordered = futures::stream::iter(latencies.clone().into_iter().enumerate())
        .spawn_ordered_with(config, {
            let out = Arc::clone(&out);
            let completed = Arc::clone(&completed);
            move |(i, latency)| {
                let out = Arc::clone(&out);
                let completed = Arc::clone(&completed);
                async move {
                    tokio::time::sleep(latency).await;
                    let finished = start.elapsed();
                    completed.lock().unwrap().push(i);
                    if verbose {
                        say!(out, "{:>6} ms   task {i:>3} finished", ms(finished));
                    }
                    (i, finished)
                }
            }
        });

    let mut rows = Vec::with_capacity(args.tasks);
    let mut emitted = Vec::with_capacity(args.tasks);
    let progress_every = (args.tasks / 10).max(1);
    while let Some(result) = ordered.next().await {
        let (i, finished) = result.expect("the demo's tasks do not fail");
        let yielded = start.elapsed();
        emitted.push(i);
        rows.push(Row {
            latency: latencies[i],
            finished,
            yielded,
        });
        if verbose {
            say!(
                out,
                "{:>6} ms                          -> yield {i:>3}   (waiting behind it: {})",
                ms(yielded),
                ordered.buffered_len()
            );
        } else if !args.quiet && emitted.len() % progress_every == 0 {
            say!(
                out,
                "{:>6} ms   {:>3}% yielded in order ({} of {}), {} running, {} waiting",
                ms(yielded),
                emitted.len() * 100 / args.tasks,
                emitted.len(),
                args.tasks,
                ordered.in_flight(),
                ordered.buffered_len()
            );
        }
    }
    let wall = start.elapsed();
    let peak_buffered = ordered.peak_buffered();
    let naive_wall = collect_then_sort(&latencies, args.limit).await;
    let completed = std::mem::take(&mut *completed.lock().unwrap());
    Report {
        first_result: rows.first().map_or(Duration::ZERO, |r| r.yielded),
        emitted,
        completed,
        rows,
        wall,
        peak_buffered,
        window: config.get_window(),
        naive_wall,
    }
}

/// The tutorial's way: run everything (same concurrency limit), collect every result,
/// then sort. Nothing can be handled before the last task is done.
async fn collect_then_sort(latencies: &[Duration], limit: usize) -> Duration {
    let start = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(limit));
    let mut set = tokio::task::JoinSet::new();
    for (i, &latency) in latencies.iter().enumerate() {
        let permits = Arc::clone(&permits);
        set.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            tokio::time::sleep(latency).await;
            i
        });
    }
    let mut results = set.join_all().await;
    results.sort_unstable();
    assert!(results.iter().copied().eq(0..latencies.len()));
    start.elapsed()
}

/// Prints the timeline and the summary.
pub fn print_report(args: &Args, report: &Report, out: &Out) {
    let in_order = report.emitted.iter().copied().eq(0..args.tasks);
    if !args.quiet && args.tasks <= MAX_EVENT_LINES && args.tasks > 0 {
        let scale = report.wall.as_secs_f64().max(1e-3) / TIMELINE_COLUMNS as f64;
        say!(
            out,
            "\ntimeline: o = finished, = = waiting for an earlier task, # = yielded \
                 (one column = {:.0} ms)",
            scale * 1e3
        );
        say!(out, "  task  finished   yielded    waited");
        for (i, row) in report.rows.iter().enumerate() {
            let col = |d: Duration| ((d.as_secs_f64() / scale) as usize).min(TIMELINE_COLUMNS);
            let (done, out_at) = (col(row.finished), col(row.yielded));
            let mut bar = " ".repeat(done);
            if out_at > done {
                bar.push('o');
                bar.push_str(&"=".repeat(out_at - done - 1));
            }
            bar.push('#');
            say!(
                out,
                "  {i:>4}  {:>5} ms  {:>5} ms  {:>5} ms  |{bar}",
                ms(row.finished),
                ms(row.yielded),
                ms(row.yielded.saturating_sub(row.finished))
            );
        }
    }
    let finished_in_order = report.completed.windows(2).all(|w| w[0] < w[1]);
    say!(out, "\nsummary");
    say!(
        out,
        "  finished in order:   {}",
        if finished_in_order {
            "yes"
        } else {
            "no (as expected: random latencies)"
        }
    );
    say!(
        out,
        "  yielded in order:    {} ({} of {} results)",
        if in_order { "yes" } else { "NO" },
        report.emitted.len(),
        args.tasks
    );
    say!(
        out,
        "  wall time:           {} ms   (collect all, then sort: {} ms)",
        ms(report.wall),
        ms(report.naive_wall)
    );
    say!(
        out,
        "  first result after:  {} ms   (collect all, then sort: {} ms)",
        ms(report.first_result),
        ms(report.naive_wall)
    );
    say!(
        out,
        "  peak buffered:       {}   (window {})",
        report.peak_buffered,
        report.window
    );
}

#[tokio::main]
async fn main() {
    let args = common::args_or_exit(Args::parse);
    let out = common::stdout();
    let report = run(&args, Arc::clone(&out)).await;
    print_report(&args, &report, &out);
    if !report.emitted.iter().copied().eq(0..args.tasks) {
        std::process::exit(1);
    }
}
