//! Measures dispatch over NATS: 2,000 jobs of 5 ms simulated work at limit 64, with 1, 2
//! and 4 worker processes, in order (`Dispatcher::dispatch`) and unordered (the same
//! requests through `buffer_unordered(64)`), side by side in one run.
//!
//! ```text
//! cargo run --release -p reorder-nats --example scaling
//! cargo run --release -p reorder-nats --example scaling -- --rounds 5 --workers 1,2,4,8
//! ```
//!
//! Each worker runs at most `--worker-concurrency` jobs at once (16), so that worker
//! count, not the coordinator's limit, is what bounds throughput: one worker can do
//! 16 / 5 ms = 3,200 jobs/s, four reach the limit of 64 in flight. A local
//! `nats-server` on a free 127.0.0.1 port carries the traffic; the worker processes are
//! this program started again with a hidden flag. Each figure is the median of
//! `--rounds` runs, ordered and unordered alternating.

#[path = "common/sim.rs"]
mod sim;

use std::collections::HashSet;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use futures::{stream, StreamExt};
use reorder_nats::{DispatchConfig, Dispatcher, LocalServer};

/// Ordered vs unordered dispatch over NATS with 1, 2, 4 worker processes.
#[derive(Debug, Parser)]
#[command(name = "scaling")]
struct Args {
    /// Jobs per run
    #[arg(long, value_name = "N", default_value_t = 2_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    jobs: u64,
    /// Each job's simulated work (a sleep), in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(..=10_000))]
    work_ms: u64,
    /// Requests in flight (both dispatches)
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    limit: u64,
    /// Jobs one worker runs at once
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    worker_concurrency: u64,
    /// Worker counts to measure, comma-separated
    #[arg(
        long,
        value_name = "N,N,…",
        default_value = "1,2,4",
        value_delimiter = ','
    )]
    workers: Vec<u32>,
    /// Runs per figure (the median is shown)
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u64).range(1..=100))]
    rounds: u64,
    /// (internal) run as a worker of this server
    #[arg(long, value_name = "URL", hide = true)]
    worker_of: Option<String>,
}

struct WorkerProcess(Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(url) = &args.worker_of {
        let concurrency = usize::try_from(args.worker_concurrency).unwrap_or(usize::MAX);
        return match sim::run_worker(url, sim::SUBJECT, sim::GROUP, concurrency, true).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("worker: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.workers.is_empty() || args.workers.contains(&0) {
        eprintln!("scaling: --workers takes counts ≥ 1");
        return ExitCode::from(2);
    }
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scaling: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let server = LocalServer::start()?;
    let client = async_nats::connect(server.url()).await?;
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let dispatcher = Dispatcher::new(client, sim::SUBJECT).config(
        DispatchConfig::new(limit)
            .request_timeout(Duration::from_secs(10))
            .backoff(Duration::from_millis(10)),
    );
    let jobs: Vec<Bytes> = (0..args.jobs).map(|i| sim::job(i, args.work_ms)).collect();
    println!(
        "{} jobs of {} ms, limit {}, {} jobs at once per worker, median of {} rounds",
        args.jobs, args.work_ms, args.limit, args.worker_concurrency, args.rounds
    );
    println!("| workers | ordered | unordered (buffer_unordered) | ordered / unordered | ordered jobs/s | retries |");
    println!("|---|---|---|---|---|---|");
    let me = std::env::current_exe()?;
    for &count in &args.workers {
        let mut workers = Vec::new();
        for _ in 0..count {
            let child = Command::new(&me)
                .args(["--worker-of", server.url()])
                .args(["--worker-concurrency", &args.worker_concurrency.to_string()])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            workers.push(WorkerProcess(child));
        }
        let pids: HashSet<u32> = workers.iter().map(|w| w.0.id()).collect();
        wait_for(&dispatcher, &pids).await?;
        // Warm up: connections, subscriptions, allocator.
        let _ = ordered(&dispatcher, &jobs[..jobs.len().min(200)]).await?;
        let retries_before = dispatcher.stats().retries();
        let (mut ord, mut unord) = (Vec::new(), Vec::new());
        for _ in 0..args.rounds {
            ord.push(ordered(&dispatcher, &jobs).await?);
            unord.push(unordered(&dispatcher, &jobs, limit).await?);
        }
        let (o, u) = (median(&mut ord), median(&mut unord));
        println!(
            "| {count} | {:.0} ms | {:.0} ms | {:.3}× | {:.0} | {} |",
            o.as_secs_f64() * 1e3,
            u.as_secs_f64() * 1e3,
            o.as_secs_f64() / u.as_secs_f64(),
            args.jobs as f64 / o.as_secs_f64(),
            dispatcher.stats().retries() - retries_before,
        );
        drop(workers);
        // Let the server notice the dead workers before the next count subscribes.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Every worker has answered a probe.
async fn wait_for(
    dispatcher: &Dispatcher,
    pids: &HashSet<u32>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut seen = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut probe = u64::MAX / 2;
    while !pids.is_subset(&seen) {
        if Instant::now() > deadline {
            return Err("the workers did not come up within 20 s".into());
        }
        let reply = dispatcher.request(probe, sim::job(probe, 0)).await?;
        seen.extend(sim::parse_reply(&reply).map(|(_, pid)| pid));
        probe += 1;
    }
    Ok(())
}

async fn ordered(
    dispatcher: &Dispatcher,
    jobs: &[Bytes],
) -> Result<Duration, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut replies = dispatcher.dispatch(stream::iter(jobs.to_vec()));
    let mut expected = 0u64;
    while let Some(reply) = replies.next().await {
        let (id, _) = sim::parse_reply(&reply?).ok_or("a reply that does not parse")?;
        if id != expected {
            return Err(format!("reply {id} where {expected} was due").into());
        }
        expected += 1;
    }
    Ok(started.elapsed())
}

async fn unordered(
    dispatcher: &Dispatcher,
    jobs: &[Bytes],
    limit: usize,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut replies = stream::iter(jobs.iter().cloned().enumerate())
        .map(|(i, job)| dispatcher.request(i as u64, job))
        .buffer_unordered(limit);
    let mut n = 0;
    while let Some(reply) = replies.next().await {
        sim::parse_reply(&reply?).ok_or("a reply that does not parse")?;
        n += 1;
    }
    if n != jobs.len() {
        return Err(format!("{n} replies for {} jobs", jobs.len()).into());
    }
    Ok(started.elapsed())
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}
