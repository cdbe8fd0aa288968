//! The coordinator: sends simulated jobs to the workers of `reorder.jobs` (see the
//! `worker` bin) and prints the replies in input order, with the retries counted.
//!
//! ```text
//! cargo run -p reorder-nats --bin worker -- --server nats://host:4222      # on any machines
//! cargo run -p reorder-nats --example coordinator -- --server nats://host:4222 --jobs 2000
//! ```
//!
//! Kill a worker while it runs: its jobs time out and go to the others; every reply still
//! arrives once, in order.

#[path = "common/coordinate.rs"]
mod coordinate;
#[path = "common/sim.rs"]
mod sim;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use reorder_nats::{DispatchConfig, Dispatcher};

/// Sends jobs to a queue group of workers over NATS; prints the replies in order.
#[derive(Debug, Parser)]
#[command(name = "coordinator")]
struct Args {
    /// The NATS server
    #[arg(long, value_name = "URL", default_value = "nats://127.0.0.1:4222")]
    server: String,
    /// The subject the workers serve
    #[arg(long, value_name = "S", default_value = sim::SUBJECT)]
    subject: String,
    /// How many jobs
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    jobs: u64,
    /// Most requests in flight
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    limit: u64,
    /// Each job's simulated work: a random 0..=MS milliseconds
    #[arg(long, value_name = "MS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(..=60_000))]
    max_work_ms: u64,
    /// How long one attempt waits for its reply
    #[arg(long, value_name = "MS", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,
    /// Attempts per job
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    attempts: u32,
    /// Seed of the random work
    #[arg(long, value_name = "N", default_value_t = 7)]
    seed: u64,
    /// Print the summary only
    #[arg(long)]
    quiet: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let client = match async_nats::connect(&args.server).await {
        Ok(client) => client,
        Err(e) => {
            eprintln!("coordinator: cannot connect to {}: {e}", args.server);
            return ExitCode::FAILURE;
        }
    };
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let dispatcher = Dispatcher::new(client, args.subject).config(
        DispatchConfig::new(limit)
            .request_timeout(Duration::from_millis(args.timeout_ms))
            .max_attempts(args.attempts)
            .backoff(Duration::from_millis(20)),
    );
    let started = Instant::now();
    let jobs = args.jobs;
    let summary = coordinate::coordinate(
        &dispatcher,
        jobs,
        args.max_work_ms,
        args.seed,
        !args.quiet,
        |_| {},
    )
    .await;
    report(&summary, jobs, &dispatcher, started.elapsed());
    if summary.all_in_order(jobs) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn report(summary: &coordinate::Summary, jobs: u64, dispatcher: &Dispatcher, took: Duration) {
    let stats = dispatcher.stats();
    println!(
        "{} of {jobs} replies in {:.2} s; in input order, each once: {}",
        summary.ids.len(),
        took.as_secs_f64(),
        if summary.all_in_order(jobs) {
            "yes"
        } else {
            "NO"
        }
    );
    println!(
        "retries: {} (timeouts {}, no responders {}); failed jobs: {}",
        stats.retries(),
        stats.timeouts(),
        stats.no_responders(),
        summary.errors.len()
    );
    for (pid, n) in &summary.by_worker {
        println!("  worker {pid}: {n} replies");
    }
}
