//! Commit offsets safely: a consumer of a partitioned log processes messages in parallel,
//! finishes them in any order, and commits each partition's offset through a throttled
//! commit watermark. One message fails and is retried in place. Half-way through the
//! consumer "crashes"; a new one resumes from the committed offsets. Nothing is lost, and
//! nothing is processed twice except what was in flight or not yet committed at the crash
//! (the at-least-once window).
//!
//! ```text
//! cargo run --example commit_offsets                 # seed 7
//! cargo run --example commit_offsets -- --seed 42     # another seed
//! ```

#[path = "common/mod.rs"]
pub mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use rand::{rngs::StdRng, RngExt, SeedableRng};
use reorder::{commit_tracker, CommitEvent, CommitTracker, InFlight, Throttle};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use common::{say, Out};

pub const PARTITIONS: usize = 3;
/// Messages per partition.
pub const MESSAGES: usize = 40;
/// Messages processed at once, per partition.
pub const LIMIT: usize = 4;
/// At most one commit per partition per this much time.
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(25);
/// When the first consumer dies.
pub const CRASH_AT: Duration = Duration::from_millis(80);
/// The message whose first attempt fails: partition 1, its tenth message.
pub const FAILING: (usize, usize) = (1, 10);

/// The simulated log: per partition, its offsets (sparse, as compaction leaves them) and
/// how long each message takes to process.
#[derive(Clone, Debug)]
pub struct Log {
    pub partitions: Vec<Vec<(u64, Duration)>>,
}

impl Log {
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let partitions = (0..PARTITIONS)
            .map(|p| {
                let mut offset = 1_000 * p as u64 + rng.random_range(0..5);
                (0..MESSAGES)
                    .map(|_| {
                        offset += rng.random_range(1..4); // gaps: compacted away
                        (offset, Duration::from_millis(rng.random_range(1..30)))
                    })
                    .collect()
            })
            .collect();
        Self { partitions }
    }

    pub fn failing_offset(&self) -> u64 {
        self.partitions[FAILING.0][FAILING.1].0
    }
}

/// What the broker and the side effects saw, across both consumers.
#[derive(Debug, Default)]
pub struct World {
    /// The committed offset per partition (the next offset to consume).
    pub committed: BTreeMap<usize, u64>,
    /// Every commit, in order: (partition, offset).
    pub commits: Vec<(usize, u64)>,
    /// Successful processing, in order: (run, partition, offset).
    pub processed: Vec<(usize, usize, u64)>,
    /// Failures the committers were told about: (partition, offset).
    pub failures: Vec<(usize, u64)>,
    /// Commits that went past a message not yet processed: must stay empty.
    pub unsafe_commits: Vec<(usize, u64)>,
    /// The committed offsets when the first consumer crashed.
    pub committed_at_crash: BTreeMap<usize, u64>,
}

type Shared = Arc<Mutex<World>>;

/// Runs the whole story: a consumer that crashes at [`CRASH_AT`], then one that resumes
/// from the committed offsets and drains the log.
pub async fn run(log: &Log, out: Out) -> World {
    let world: Shared = Arc::default();
    {
        let mut w = world.lock().unwrap();
        for (p, messages) in log.partitions.iter().enumerate() {
            w.committed.insert(p, messages[0].0);
        }
    }
    let log = Arc::new(log.clone());
    let first = consume(0, Arc::clone(&log), Arc::clone(&world));
    if tokio::time::timeout(CRASH_AT, first).await.is_ok() {
        say!(out, "the first consumer finished before the crash");
    }
    let at_crash = world.lock().unwrap().committed.clone();
    say!(
        out,
        "crash at {CRASH_AT:?}; committed offsets: {at_crash:?}"
    );
    world.lock().unwrap().committed_at_crash = at_crash;
    consume(1, log, Arc::clone(&world)).await;
    let world = Arc::try_unwrap(world).unwrap().into_inner().unwrap();
    say!(
        out,
        "resumed and drained; committed offsets: {:?}",
        world.committed
    );
    say!(
        out,
        "{} commits, {} messages processed ({} twice), failures reported: {:?}",
        world.commits.len(),
        world.processed.len(),
        world.processed.len() - PARTITIONS * MESSAGES,
        world.failures
    );
    world
}

/// One consumer: per partition, a dispatcher and a committer. Dropping the future (the
/// crash) aborts everything it spawned, as a dying process would.
async fn consume(run: usize, log: Arc<Log>, world: Shared) {
    let mut tasks = JoinSet::new();
    let workers = Workers::default();
    let _crash = AbortOnDrop(workers.clone());
    for p in 0..PARTITIONS {
        let from = world.lock().unwrap().committed[&p];
        let (tracker, commits) = commit_tracker(from);
        let commits = commits.throttle(Throttle::new().interval(COMMIT_INTERVAL));
        let (log, world) = (Arc::clone(&log), Arc::clone(&world));
        tasks.spawn(dispatch(
            run,
            p,
            from,
            log.clone(),
            tracker,
            world.clone(),
            workers.clone(),
        ));
        tasks.spawn(commit(run, p, log, commits, world, workers.clone()));
    }
    while tasks.join_next().await.is_some() {}
}

/// The processing tasks of one consumer. When `consume` is dropped (the crash), every
/// worker is aborted at once, like the rest of a dead process.
#[derive(Clone, Default)]
struct Workers(Arc<Mutex<JoinSet<()>>>);

impl Workers {
    fn spawn(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        self.0.lock().unwrap().spawn(work);
    }
}

/// Held by `consume` only: dropping it aborts every worker.
struct AbortOnDrop(Workers);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0 .0.lock().unwrap().abort_all();
    }
}

/// Reads partition `p` from `from`, registering each offset and processing it in a task.
async fn dispatch(
    run: usize,
    p: usize,
    from: u64,
    log: Arc<Log>,
    tracker: CommitTracker,
    world: Shared,
    workers: Workers,
) {
    let permits = Arc::new(Semaphore::new(LIMIT));
    for &(offset, _) in log.partitions[p].iter().filter(|(o, _)| *o >= from) {
        let permit = Arc::clone(&permits).acquire_owned().await.unwrap();
        let guard = tracker.register(offset).expect("offsets increase");
        let work = process(run, p, Arc::clone(&log), guard, 1, Arc::clone(&world));
        workers.spawn(async move {
            work.await;
            drop(permit);
        });
    }
    // The tracker goes here; the guards in the workers keep the commits open.
}

/// Processes one message; completes its guard, or (first attempt of the failing one)
/// fails it.
async fn process(
    run: usize,
    p: usize,
    log: Arc<Log>,
    guard: InFlight,
    attempt: u32,
    world: Shared,
) {
    let offset = guard.offset();
    let latency = log.partitions[p]
        .iter()
        .find(|(o, _)| *o == offset)
        .map(|(_, latency)| *latency)
        .unwrap();
    tokio::time::sleep(latency).await;
    if (p, offset) == (FAILING.0, log.failing_offset()) && attempt == 1 && run == 0 {
        guard.fail(); // e.g. a downstream timeout
        return;
    }
    world.lock().unwrap().processed.push((run, p, offset));
    guard.complete();
}

/// Commits partition `p` as its watermark advances; retries failures in place.
async fn commit(
    run: usize,
    p: usize,
    log: Arc<Log>,
    mut commits: reorder::Commits,
    world: Shared,
    workers: Workers,
) {
    while let Some(event) = commits.next().await {
        match event {
            CommitEvent::Commit(offset) => {
                let mut w = world.lock().unwrap();
                // Check the promise: every message of `p` below `offset` is processed.
                let done = |o: u64| w.processed.iter().any(|&(_, q, d)| q == p && d == o);
                let safe = log.partitions[p]
                    .iter()
                    .filter(|(o, _)| *o < offset)
                    .all(|(o, _)| done(*o));
                if !safe {
                    w.unsafe_commits.push((p, offset));
                }
                w.committed.insert(p, offset);
                w.commits.push((p, offset));
            }
            CommitEvent::Failed(offset) => {
                world.lock().unwrap().failures.push((p, offset));
                let guard = commits.retry(offset).expect("it failed");
                let work = process(run, p, Arc::clone(&log), guard, 2, Arc::clone(&world));
                workers.spawn(work);
            }
        }
    }
}

/// The example's flags.
#[derive(clap::Parser, Debug)]
#[command(
    name = "commit_offsets",
    about = "Commit offsets safely: process out of order, commit in order, crash and resume"
)]
pub struct Args {
    /// Seed for the log's sparse offsets, the latencies and the crash point
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub seed: u64,
}

impl Args {
    /// Parses the flags after the program name: unknown flags and bad numbers are errors.
    pub fn from_flags(argv: impl IntoIterator<Item = String>) -> Result<Self, clap::Error> {
        <Self as clap::Parser>::try_parse_from(
            std::iter::once("commit_offsets".to_owned()).chain(argv),
        )
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let args = common::args_or_exit(Args::from_flags);
    let log = Log::new(args.seed);
    let world = run(&log, Out::stdout()).await;
    assert!(world.unsafe_commits.is_empty());
}
