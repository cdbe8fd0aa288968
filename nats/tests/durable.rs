//! JetStream mode against a real `nats-server -js` on 127.0.0.1: results in stream order,
//! acked messages gone, and a coordinator that crashes mid-run loses nothing.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use bytes::Bytes;
use common::{jetstream_server, sim, within};
use futures::StreamExt;
use reorder::SpawnConfig;
use reorder_nats::durable::{self, DurableError};
use reorder_nats::{DispatchConfig, Dispatcher, Job, Worker};
use tokio::sync::oneshot;

const STREAM: &str = "JOBS";
const SUBJECT: &str = "jobs.durable";
const DURABLE: &str = "coordinator";

/// A worker of `sim::SUBJECT` on its own client, until `stop` fires.
async fn start_worker(url: &str) -> oneshot::Sender<()> {
    let client = async_nats::connect(url).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = Worker::new(client.clone(), sim::SUBJECT, sim::GROUP).concurrency(32);
    tokio::spawn(async move {
        worker
            .serve(
                |job: Job| async move {
                    let (id, ms) = sim::parse_job(job.payload())?;
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok::<_, String>(sim::reply(id, 0))
                },
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    client.flush().await.unwrap();
    stop
}

async fn remaining(js: &async_nats::jetstream::Context) -> u64 {
    js.get_stream(STREAM)
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap()
        .state
        .messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_jobs_come_back_in_stream_order_and_leave_when_acked() {
    let server = jetstream_server();
    within(60, async {
        let stops = [
            start_worker(server.url()).await,
            start_worker(server.url()).await,
        ];
        let client = async_nats::connect(server.url()).await.unwrap();
        let js = async_nats::jetstream::new(client.clone());
        let consumer = durable::work_queue(&js, STREAM, SUBJECT, DURABLE, Duration::from_secs(30))
            .await
            .unwrap();
        let jobs: Vec<Bytes> = (0..200u64).map(|i| sim::job(i, i % 7)).collect();
        assert_eq!(durable::publish_all(&js, SUBJECT, jobs).await.unwrap(), 200);

        let dispatcher = Dispatcher::new(client, sim::SUBJECT).config(DispatchConfig::new(16));
        let messages = consumer.messages().await.unwrap();
        let mut results = durable::process(messages, SpawnConfig::new(16), move |seq, payload| {
            dispatcher.request(seq, payload)
        });
        let mut ids = Vec::new();
        let mut seqs = Vec::new();
        while ids.len() < 200 {
            let processed = results.next().await.unwrap().unwrap();
            let reply = processed.output().as_ref().unwrap();
            ids.push(sim::parse_reply(reply).unwrap().0);
            seqs.push(processed.stream_sequence());
            assert_eq!(processed.delivered(), 1);
            processed.ack_confirmed().await.unwrap();
        }
        assert_eq!(ids, (0..200).collect::<Vec<_>>());
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>(), "stream order");
        assert_eq!(results.held(), 0);
        assert_eq!(remaining(&js).await, 0, "acked jobs leave the work queue");
        for stop in stops {
            let _ = stop.send(());
        }
    })
    .await;
}

/// A coordinator takes 300 jobs, acks 100 results, and crashes (its client and every
/// task dropped, nothing flushed) with dozens in flight. A new coordinator on the same
/// durable consumer gets every job the first did not ack: nothing is lost, and only jobs
/// the first had not acked are seen twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_restarted_mid_run_loses_nothing() {
    let server = jetstream_server();
    within(90, async {
        let stop = start_worker(server.url()).await;
        const JOBS: u64 = 300;
        let ack_wait = Duration::from_secs(2);
        {
            let client = async_nats::connect(server.url()).await.unwrap();
            let js = async_nats::jetstream::new(client);
            durable::work_queue(&js, STREAM, SUBJECT, DURABLE, ack_wait)
                .await
                .unwrap();
            let jobs: Vec<Bytes> = (0..JOBS).map(|i| sim::job(i, i % 5)).collect();
            durable::publish_all(&js, SUBJECT, jobs).await.unwrap();
        }

        // Run 1: ack the first 100 results (confirmed, so the count is exact), then crash.
        let mut acked_first = BTreeSet::new();
        let held_at_crash;
        {
            let client = async_nats::connect(server.url()).await.unwrap();
            let js = async_nats::jetstream::new(client.clone());
            let consumer = durable::work_queue(&js, STREAM, SUBJECT, DURABLE, ack_wait)
                .await
                .unwrap();
            let dispatcher = Dispatcher::new(client, sim::SUBJECT).config(DispatchConfig::new(32));
            let mut results = durable::process(
                consumer.messages().await.unwrap(),
                SpawnConfig::new(32),
                move |seq, payload| dispatcher.request(seq, payload),
            );
            while acked_first.len() < 100 {
                let processed = results.next().await.unwrap().unwrap();
                let id = sim::parse_reply(processed.output().as_ref().unwrap())
                    .unwrap()
                    .0;
                processed.ack_confirmed().await.unwrap();
                acked_first.insert(id);
            }
            held_at_crash = results.held();
            // The crash: everything dropped, nothing acked or flushed.
        }
        assert_eq!(acked_first, (0..100).collect::<BTreeSet<_>>());
        assert!(held_at_crash > 0, "the crash should catch jobs in flight");

        // Run 2: a new coordinator on the same durable consumer.
        let client = async_nats::connect(server.url()).await.unwrap();
        let js = async_nats::jetstream::new(client.clone());
        let consumer = durable::work_queue(&js, STREAM, SUBJECT, DURABLE, ack_wait)
            .await
            .unwrap();
        let dispatcher = Dispatcher::new(client, sim::SUBJECT).config(DispatchConfig::new(32));
        let mut results = durable::process(
            consumer.messages().await.unwrap(),
            SpawnConfig::new(32),
            move |seq, payload| dispatcher.request(seq, payload),
        );
        let mut second = HashSet::new();
        let mut redelivered = 0;
        while acked_first.len() + second.len() < JOBS as usize {
            let processed = match results.next().await.unwrap() {
                Ok(processed) => processed,
                Err(DurableError::Consumer(_)) => continue, // e.g. a heartbeat hiccup
                Err(e) => panic!("{e}"),
            };
            let id = sim::parse_reply(processed.output().as_ref().unwrap())
                .unwrap()
                .0;
            assert!(
                !acked_first.contains(&id),
                "job {id} was acked before the crash"
            );
            assert!(second.insert(id), "job {id} twice in one run");
            if processed.delivered() > 1 {
                redelivered += 1;
            }
            processed.ack_confirmed().await.unwrap();
        }
        let all: BTreeSet<u64> = acked_first.iter().copied().chain(second).collect();
        assert_eq!(all, (0..JOBS).collect::<BTreeSet<_>>(), "nothing lost");
        assert!(redelivered > 0, "the jobs held at the crash came back");
        assert_eq!(remaining(&js).await, 0);
        let _ = stop.send(());
    })
    .await;
}
