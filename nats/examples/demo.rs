//! The whole story on one machine, in one command: a local `nats-server` on a free
//! 127.0.0.1 port, three worker processes, and the coordinator; one worker is SIGKILLed
//! mid-run, and every result still arrives once, in input order, with the retries
//! counted.
//!
//! ```text
//! cargo run -p reorder-nats --example demo
//! cargo run -p reorder-nats --example demo -- --jobs 2000 --quiet
//! ```
//!
//! Needs `nats-server` on PATH (`apt-get install nats-server`). The worker processes are
//! this same program started again with a hidden `--worker-of URL` flag, so the demo
//! needs nothing built beforehand.

#[path = "common/coordinate.rs"]
mod coordinate;
#[path = "common/sim.rs"]
mod sim;

use std::collections::HashSet;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use reorder_nats::{DispatchConfig, Dispatcher, LocalServer};

/// A local NATS server, three worker processes and a coordinator; one worker is killed
/// mid-run.
#[derive(Debug, Parser)]
#[command(name = "demo")]
struct Args {
    /// How many jobs
    #[arg(long, value_name = "N", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(3..=1_000_000))]
    jobs: u64,
    /// How many worker processes
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u64).range(2..=32))]
    workers: u64,
    /// Most requests in flight
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    limit: u64,
    /// Each job's simulated work: a random 0..=MS milliseconds
    #[arg(long, value_name = "MS", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(..=10_000))]
    max_work_ms: u64,
    /// How long one attempt waits for its reply before it is sent again
    #[arg(long, value_name = "MS", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,
    /// Print the summary only, not every result
    #[arg(long)]
    quiet: bool,
    /// (internal) run as a worker of this server
    #[arg(long, value_name = "URL", hide = true)]
    worker_of: Option<String>,
}

/// A worker process, SIGKILLed on drop if it is still alive.
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
        return match sim::run_worker(url, sim::SUBJECT, sim::GROUP, 64, true).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("worker: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let server = LocalServer::start()?;
    println!("nats-server on {} (pid {})", server.url(), server.pid());
    let me = std::env::current_exe()?;
    let mut workers = Vec::new();
    for _ in 0..args.workers {
        let child = Command::new(&me)
            .args(["--worker-of", server.url()])
            .stdin(Stdio::null())
            .spawn()?;
        workers.push(WorkerProcess(child));
    }
    let pids: HashSet<u32> = workers.iter().map(|w| w.0.id()).collect();

    let client = async_nats::connect(server.url()).await?;
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let dispatcher = Dispatcher::new(client, sim::SUBJECT).config(
        DispatchConfig::new(limit)
            .request_timeout(Duration::from_millis(args.timeout_ms))
            .max_attempts(10)
            .backoff(Duration::from_millis(20)),
    );
    // Every worker has subscribed once each has answered a probe.
    let mut seen = HashSet::new();
    let mut probe = u64::MAX / 2;
    let ready_by = Instant::now() + Duration::from_secs(20);
    while !pids.is_subset(&seen) {
        if Instant::now() > ready_by {
            return Err("the workers did not come up within 20 s".into());
        }
        let reply = dispatcher.request(probe, sim::job(probe, 0)).await?;
        seen.extend(sim::parse_reply(&reply).map(|(_, pid)| pid));
        probe += 1;
    }
    let stats = dispatcher.stats().clone();
    let base = [
        stats.requests(),
        stats.retries(),
        stats.timeouts(),
        stats.no_responders(),
    ];
    println!("{} workers up: {pids:?}", pids.len());

    let kill_after = args.jobs / 3;
    let victim = workers[0].0.id();
    let started = Instant::now();
    let summary = coordinate::coordinate(
        &dispatcher,
        args.jobs,
        args.max_work_ms,
        7,
        !args.quiet,
        |n| {
            if n == kill_after {
                let _ = workers[0].0.kill(); // SIGKILL: no drain, its jobs are lost with it
                println!(
                    "--- SIGKILLed worker {victim} after {n} results; its jobs will time out and go elsewhere"
                );
            }
        },
    )
    .await;
    let took = started.elapsed();
    let ok = summary.all_in_order(args.jobs);
    println!();
    println!(
        "{} of {} results in {:.2} s; every one in input order, none lost, none twice: {}",
        summary.ids.len(),
        args.jobs,
        took.as_secs_f64(),
        if ok { "yes" } else { "NO" }
    );
    println!(
        "requests {}, retries {} (timeouts {}, no responders {})",
        stats.requests() - base[0],
        stats.retries() - base[1],
        stats.timeouts() - base[2],
        stats.no_responders() - base[3]
    );
    for (pid, n) in &summary.by_worker {
        let note = if *pid == victim { " (killed)" } else { "" };
        println!("  worker {pid}: {n} results{note}");
    }
    drop(workers); // the rest are killed here, the server when `server` drops
    Ok(ok)
}
