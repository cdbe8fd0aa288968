//! The tutorial's second approach, in Rust and done better: tasks with random latencies
//! finish in any order; the consumer receives their results strictly in order, each as
//! soon as every earlier one is in, with at most `window` results ever waiting.
//!
//! ```text
//! cargo run --release --example random_latency
//! cargo run --release --example random_latency -- --tasks 10000 --limit 64 --max-latency-ms 20
//! ```
//!
//! Flags (`--help` lists them): `--tasks N` (20), `--limit N` (8), `--window N`
//! (4 × limit, at least the limit), `--max-latency-ms N` (400), `--seed N` (7), `--quiet`
//! (summary only). Past 60 tasks it shows progress (a bar on a terminal, a line every 10%
//! otherwise) instead of one line per event, for the run and for the collect-then-sort
//! baseline that follows it.

#[path = "common/mod.rs"]
pub mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use futures::StreamExt;
use rand::{rngs::StdRng, RngExt, SeedableRng};
use reorder::{OrderedExt, SpawnConfig};
use tokio::time::Instant;

use common::{ms, say, Out, Progress};

/// Above this many tasks, print progress instead of one line per event.
const MAX_EVENT_LINES: usize = 60;
/// Width of the timeline's bar.
const TIMELINE_COLUMNS: usize = 50;

/// Most tasks a run may ask for (each keeps a row for the report).
const MAX_TASKS: usize = 1_000_000;
/// Longest latency a run may ask for.
const MAX_LATENCY_MS: u64 = 60_000;

/// Tasks with random latencies finish in any order; their results come back strictly in
/// order, each as soon as every earlier one is in.
#[derive(Clone, Debug, Parser)]
#[command(name = "random_latency")]
pub struct Args {
    /// How many tasks to run
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = common::count(MAX_TASKS))]
    pub tasks: usize,
    /// Most tasks running at once
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = common::count(MAX_TASKS))]
    pub limit: usize,
    /// Most results waiting for an earlier one (at least --limit) [default: 4 × limit]
    #[arg(long, value_name = "N", value_parser = common::count(usize::MAX))]
    pub window: Option<usize>,
    /// Each task sleeps a random 0..=MS milliseconds
    #[arg(long, value_name = "MS", default_value_t = 400,
          value_parser = clap::value_parser!(u64).range(..=MAX_LATENCY_MS))]
    pub max_latency_ms: u64,
    /// Seed of the random latencies (same seed, same run)
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub seed: u64,
    /// Print the summary only
    #[arg(long)]
    pub quiet: bool,
}

impl Args {
    /// Parses the flags after the program name: unknown flags, bad numbers, zeros and a
    /// window below the limit are errors; `--help` is an error of kind `DisplayHelp`.
    pub fn from_flags(argv: impl IntoIterator<Item = String>) -> Result<Self, clap::Error> {
        let args = Self::try_parse_from(std::iter::once("random_latency".to_owned()).chain(argv))?;
        if let Some(window) = args.window.filter(|&w| w < args.limit) {
            return Err(Self::command().error(
                ErrorKind::ValueValidation,
                format!(
                    "--window {window} is below --limit {}: the window must be at least the limit",
                    args.limit
                ),
            ));
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
    if !args.quiet {
        say!(
            out,
            "{} tasks, limit {}, window {}, latency 0..={} ms, seed {}\n",
            args.tasks,
            config.get_limit(),
            config.get_window(),
            args.max_latency_ms,
            args.seed
        );
    }

    let start = Instant::now();
    let completed = Arc::new(Mutex::new(Vec::with_capacity(args.tasks)));
    let mut ordered = futures::stream::iter(latencies.clone().into_iter().enumerate())
        .spawn_ordered_with(config, {
            let out = out.clone();
            let completed = Arc::clone(&completed);
            move |(i, latency)| {
                let out = out.clone();
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
    // Big runs show progress instead of one line per event.
    let progress = |out: &Out, what| {
        if verbose || args.quiet {
            Progress::hidden()
        } else {
            Progress::new(out, args.tasks, what)
        }
    };
    let mut yielding = progress(&out, "yielded in order");
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
        }
        yielding.set(emitted.len(), || {
            let (running, waiting) = (ordered.in_flight(), ordered.buffered_len());
            format!("{running} running, {waiting} waiting")
        });
    }
    drop(yielding);
    let wall = start.elapsed();
    let peak_buffered = ordered.peak_buffered();
    if !args.quiet {
        say!(
            out,
            "\nfor comparison, the tutorial's way: the same {} tasks (limit {}), every result \
             collected, then sorted; nothing can be handled before the last one is in",
            args.tasks,
            args.limit
        );
    }
    let naive_wall = collect_then_sort(
        &latencies,
        args.limit,
        progress(&out, "of the baseline collected"),
    )
    .await;
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
async fn collect_then_sort(
    latencies: &[Duration],
    limit: usize,
    mut progress: Progress,
) -> Duration {
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
    let mut results = Vec::with_capacity(latencies.len());
    while let Some(joined) = set.join_next().await {
        results.push(joined.expect("the baseline's tasks do not fail"));
        progress.set(results.len(), || "none handled yet".to_owned());
    }
    drop(progress);
    results.sort_unstable();
    assert!(results.iter().copied().eq(0..latencies.len()));
    start.elapsed()
}

/// Prints the timeline and the summary.
pub fn print_report(args: &Args, report: &Report, out: &Out) {
    let in_order = report.emitted.iter().copied().eq(0..args.tasks);
    if !args.quiet && args.tasks <= MAX_EVENT_LINES {
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
    let args = common::args_or_exit(Args::from_flags);
    let out = Out::stdout();
    let report = run(&args, out.clone()).await;
    print_report(&args, &report, &out);
    if !report.emitted.iter().copied().eq(0..args.tasks) {
        std::process::exit(1);
    }
}
