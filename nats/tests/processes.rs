//! Real worker processes (the `worker` bin) on a real `nats-server` on 127.0.0.1: one is
//! SIGKILLed mid-run and nothing is lost, nothing duplicated, everything in order.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::{server, sim, within, WorkerProcess};
use futures::{stream, StreamExt};
use rand::{rngs::StdRng, RngExt, SeedableRng};
use reorder_nats::{DispatchConfig, Dispatcher};

/// Sends probes until each of `pids` has answered one (all workers subscribed).
async fn wait_for_workers(dispatcher: &Dispatcher, pids: &HashSet<u32>) {
    let mut seen = HashSet::new();
    let mut probe = 1_000_000u64;
    while !pids.is_subset(&seen) {
        let reply = dispatcher.request(probe, sim::job(probe, 0)).await.unwrap();
        seen.insert(sim::parse_reply(&reply).unwrap().1);
        probe += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_one_of_three_worker_processes_loses_nothing() {
    let server = server();
    let mut workers: Vec<WorkerProcess> = (0..3)
        .map(|_| WorkerProcess::start(server.url(), &[]))
        .collect();
    let pids: HashSet<u32> = workers.iter().map(WorkerProcess::pid).collect();
    let victim = workers[0].pid();
    within(120, async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, sim::SUBJECT).config(
            DispatchConfig::new(64)
                .request_timeout(Duration::from_secs(1))
                .max_attempts(10)
                .backoff(Duration::from_millis(10)),
        );
        wait_for_workers(&dispatcher, &pids).await;
        let warmup = dispatcher.stats().replies();

        const JOBS: u64 = 2_000;
        let mut rng = StdRng::seed_from_u64(12);
        let jobs: Vec<_> = (0..JOBS)
            .map(|i| sim::job(i, rng.random_range(0..10)))
            .collect();
        let mut replies = dispatcher.dispatch(stream::iter(jobs));
        let mut ids = Vec::new();
        let mut by_pid: HashMap<u32, u64> = HashMap::new();
        let mut victim_after_kill = 0;
        let mut killed = false;
        while let Some(reply) = replies.next().await {
            let reply = reply.unwrap_or_else(|e| panic!("lost a job: {e}"));
            let (id, pid) = sim::parse_reply(&reply).unwrap();
            ids.push(id);
            *by_pid.entry(pid).or_default() += 1;
            if killed && pid == victim {
                victim_after_kill += 1;
            }
            if ids.len() == 500 {
                workers[0].kill(); // SIGKILL, mid-run, with requests in its hands
                killed = true;
            }
        }
        let stats = dispatcher.stats();
        // In order, none lost, none twice.
        assert_eq!(ids, (0..JOBS).collect::<Vec<_>>());
        assert_eq!(stats.replies() - warmup, JOBS);
        // The dead worker held requests: they timed out and went elsewhere.
        assert!(stats.retries() > 0, "{stats:?}");
        assert!(stats.timeouts() > 0, "{stats:?}");
        // Replies already on their way from it may arrive after the kill; no more than
        // it could have held at once.
        assert!(victim_after_kill <= 64, "{victim_after_kill}");
        assert!(by_pid.len() == 3, "every worker took a share: {by_pid:?}");
        eprintln!("replies by worker: {by_pid:?}; {stats:?}");
    })
    .await;
    // The WorkerProcess guards SIGKILL the rest; the LocalServer guard kills the server.
}

/// SIGTERM drains a worker process: it exits 0, and the jobs it held are answered
/// without a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_worker_process() {
    let server = server();
    let mut a = WorkerProcess::start(server.url(), &[]);
    let b = WorkerProcess::start(server.url(), &[]);
    let pids = HashSet::from([a.pid(), b.pid()]);
    within(60, async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, sim::SUBJECT).config(
            DispatchConfig::new(32)
                .request_timeout(Duration::from_secs(5))
                .max_attempts(3),
        );
        wait_for_workers(&dispatcher, &pids).await;
        let mut replies = dispatcher.dispatch(stream::iter((0..400).map(|i| sim::job(i, 20))));
        let mut ids = Vec::new();
        while let Some(reply) = replies.next().await {
            ids.push(sim::parse_reply(&reply.unwrap()).unwrap().0);
            if ids.len() == 100 {
                let status = tokio::task::block_in_place(|| a.terminate(10));
                assert!(status.is_some_and(|s| s.success()), "{status:?}");
            }
        }
        assert_eq!(ids, (0..400).collect::<Vec<_>>());
        assert_eq!(
            dispatcher.stats().timeouts(),
            0,
            "a drained worker answers what it held"
        );
    })
    .await;
    drop(b);
}
