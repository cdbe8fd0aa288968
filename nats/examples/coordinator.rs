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
//!
//! `--durable` is the JetStream mode (the server needs `-js`): `--publish` stores the jobs
//! in a work-queue stream first; the coordinator reads them through a durable pull
//! consumer, dispatches them to the workers, prints the results in order and acks each.
//! Kill it mid-run and start it again without `--publish`: it takes up what was not
//! acked, and stops when the stream is empty.
//!
//! ```text
//! cargo run -p reorder-nats --example coordinator -- --server nats://host:4222 --durable --publish --jobs 2000
//! cargo run -p reorder-nats --example coordinator -- --server nats://host:4222 --durable   # after a crash
//! ```

#[path = "common/coordinate.rs"]
mod coordinate;
#[path = "common/sim.rs"]
mod sim;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use rand::{rngs::StdRng, RngExt, SeedableRng};
use reorder::SpawnConfig;
use reorder_nats::{durable, DispatchConfig, Dispatcher};

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
    /// JetStream mode: read the jobs from a durable work queue, ack each result
    #[arg(long)]
    durable: bool,
    /// With --durable: store --jobs jobs in the work queue first
    #[arg(long, requires = "durable")]
    publish: bool,
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
    let dispatcher = Dispatcher::new(client, args.subject.clone()).config(
        DispatchConfig::new(limit)
            .request_timeout(Duration::from_millis(args.timeout_ms))
            .max_attempts(args.attempts)
            .backoff(Duration::from_millis(20)),
    );
    if args.durable {
        return match durable_mode(&args, dispatcher).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("coordinator: {e}");
                ExitCode::FAILURE
            }
        };
    }
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

/// The work-queue stream, its subject and the durable consumer of `--durable`.
const STREAM: &str = "REORDER_JOBS";
const STREAM_SUBJECT: &str = "reorder.stored.jobs";
const DURABLE: &str = "reorder-coordinator";

async fn durable_mode(args: &Args, dispatcher: Dispatcher) -> Result<(), async_nats::Error> {
    let client = async_nats::connect(&args.server).await?;
    let js = async_nats::jetstream::new(client);
    let ack_wait = Duration::from_millis(args.timeout_ms.saturating_mul(u64::from(args.attempts)))
        .max(Duration::from_secs(5));
    let consumer = durable::work_queue(&js, STREAM, STREAM_SUBJECT, DURABLE, ack_wait).await?;
    if args.publish {
        let mut rng = StdRng::seed_from_u64(args.seed);
        let jobs: Vec<_> = (0..args.jobs)
            .map(|i| sim::job(i, rng.random_range(0..=args.max_work_ms)))
            .collect();
        let stored = durable::publish_all(&js, STREAM_SUBJECT, jobs).await?;
        println!("stored {stored} jobs in {STREAM}");
    }
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let stats = dispatcher.stats().clone();
    let mut results = durable::process(
        consumer.messages().await?,
        SpawnConfig::new(limit),
        move |seq, payload| dispatcher.request(seq, payload),
    );
    let started = Instant::now();
    let (mut done, mut redelivered, mut failed) = (0u64, 0u64, 0u64);
    loop {
        let item = tokio::select! {
            item = results.next() => item,
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                let left = js.get_stream(STREAM).await?.get_info().await?.state.messages;
                if left == 0 && results.held() == 0 {
                    break;
                }
                continue;
            }
        };
        let Some(item) = item else { break };
        let processed = match item {
            Ok(processed) => processed,
            Err(e) => {
                eprintln!("coordinator: {e}");
                continue;
            }
        };
        match processed.output() {
            Ok(reply) => {
                if !args.quiet {
                    let (id, pid) = sim::parse_reply(reply).unwrap_or_default();
                    let again = if processed.delivered() > 1 {
                        " (redelivered)"
                    } else {
                        ""
                    };
                    println!(
                        "stream seq {:>6}: job {id:>5} <- worker {pid}{again}",
                        processed.stream_sequence()
                    );
                }
                // Handled (printed): now it may leave the queue.
                processed.ack_confirmed().await?;
            }
            Err(e) => {
                // Left unacked: delivered again after ack_wait.
                eprintln!(
                    "job at stream seq {} failed: {e}",
                    processed.stream_sequence()
                );
                failed += 1;
                continue;
            }
        }
        done += 1;
        redelivered += u64::from(processed.delivered() > 1);
    }
    println!(
        "{done} results acked in {:.2} s ({redelivered} redelivered after a crash, {failed} failed); \
         retries {}; the work queue is empty",
        started.elapsed().as_secs_f64(),
        stats.retries()
    );
    Ok(())
}
