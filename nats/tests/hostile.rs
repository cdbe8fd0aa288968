//! Hostile tests: workers and servers that misbehave, settings at their extremes, and
//! the durable mode's redelivery promises, each against a real `nats-server` on
//! 127.0.0.1.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{jetstream_server, server, sim, within};
use futures::{stream, StreamExt};
use reorder::SpawnConfig;
use reorder_nats::durable::{self, DurableError};
use reorder_nats::{AttemptFailure, DispatchConfig, DispatchError, Dispatcher, Job, Worker};
use tokio::sync::oneshot;

const SUBJECT: &str = "hostile.jobs";
const GROUP: &str = "hostile-workers";

/// A `Worker` on its own client until `stop` fires; returns the stop trigger and handle.
async fn start_worker<F, Fut>(
    url: &str,
    handler: F,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<reorder_nats::WorkerReport>,
)
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Bytes, String>> + Send + 'static,
{
    let client = async_nats::connect(url).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = Worker::new(client.clone(), SUBJECT, GROUP);
    let handle = tokio::spawn(async move {
        worker
            .serve(handler, async {
                let _ = stopped.await;
            })
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    client.flush().await.unwrap();
    (stop, handle)
}

fn ids(results: &[Result<Bytes, DispatchError>]) -> Vec<u64> {
    results
        .iter()
        .map(|r| sim::parse_reply(r.as_ref().expect("a reply")).unwrap().0)
        .collect()
}

/// A raw responder (not `Worker`) that waits for a whole batch of `batch` requests, then
/// answers them in reverse order, each one **twice** (the second answer wrong), and also
/// sends a wrong answer to every reply subject of earlier batches (replies to jobs it no
/// longer holds). Returns once `batches` batches are answered.
async fn start_rogue(url: &str, batch: usize, batches: usize) -> tokio::task::JoinHandle<()> {
    let client = async_nats::connect(url).await.unwrap();
    let mut requests = client.subscribe(SUBJECT).await.unwrap();
    client.flush().await.unwrap();
    tokio::spawn(async move {
        let mut old_inboxes = Vec::new();
        for _ in 0..batches {
            let mut held = Vec::new();
            while held.len() < batch {
                held.push(requests.next().await.unwrap());
            }
            for message in held.iter().rev() {
                let reply = message.reply.clone().unwrap();
                let (id, _) = sim::parse_job(&message.payload).unwrap();
                client
                    .publish(reply.clone(), sim::reply(id, 1))
                    .await
                    .unwrap();
                client.publish(reply, sim::reply(999, 2)).await.unwrap();
            }
            for inbox in &old_inboxes {
                client
                    .publish(async_nats::Subject::clone(inbox), sim::reply(777, 3))
                    .await
                    .unwrap();
            }
            client.flush().await.unwrap();
            old_inboxes.extend(held.into_iter().map(|m| m.reply.unwrap()));
        }
    })
}

/// Replies in input order whatever order the workers answer in (here: exactly reversed),
/// one reply per job when a worker answers twice or answers jobs it no longer holds,
/// and no cross-talk between two runs on one client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rogue_worker_answering_backwards_twice_and_stale_cannot_disorder_or_duplicate() {
    let server = server();
    within(20, async {
        let rogue = start_rogue(server.url(), 8, 2).await;
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(DispatchConfig::new(8));
        let first: Vec<_> = dispatcher
            .dispatch(stream::iter((0..8).map(|i| sim::job(i, 0))))
            .collect()
            .await;
        assert_eq!(ids(&first), (0..8).collect::<Vec<_>>());
        let second: Vec<_> = dispatcher
            .dispatch(stream::iter((100..108).map(|i| sim::job(i, 0))))
            .collect()
            .await;
        assert_eq!(ids(&second), (100..108).collect::<Vec<_>>());
        for r in first.iter().chain(&second) {
            assert_eq!(sim::parse_reply(r.as_ref().unwrap()).unwrap().1, 1);
        }
        rogue.await.unwrap();
        let stats = dispatcher.stats();
        assert_eq!(stats.requests(), 16, "{stats:?}");
        assert_eq!(stats.replies(), 16, "one reply taken per job: {stats:?}");
        assert_eq!(stats.retries(), 0, "{stats:?}");
    })
    .await;
}

/// The stream dropped mid-flight: its jobs are abandoned, and the workers' late replies
/// to them never reach a later run on the same dispatcher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_replies_to_a_dropped_stream_never_reach_the_next_run() {
    let server = server();
    within(20, async {
        let (stop, handle) = start_worker(server.url(), |job: Job| async move {
            let (id, ms) = sim::parse_job(job.payload())?;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(sim::reply(id, 0))
        })
        .await;
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(DispatchConfig::new(8));
        // Job 0 is quick; 1..8 take 300 ms: they are in the worker when the stream goes.
        let mut replies = dispatcher.dispatch(stream::iter(
            (0..8).map(|i| sim::job(i, if i == 0 { 0 } else { 300 })),
        ));
        let first = replies.next().await.unwrap().unwrap();
        assert_eq!(sim::parse_reply(&first).unwrap().0, 0);
        assert!(replies.in_flight() > 0);
        drop(replies);
        // The next run's jobs finish after the abandoned ones answer.
        let next: Vec<_> = dispatcher
            .dispatch(stream::iter((50..58).map(|i| sim::job(i, 400))))
            .collect()
            .await;
        assert_eq!(ids(&next), (50..58).collect::<Vec<_>>());
        stop.send(()).unwrap();
        handle.await.unwrap();
    })
    .await;
}

/// A handler error is `DispatchError::Worker` even when its message is empty or only
/// control characters (an empty header value must not turn it into an empty `Ok`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error_with_an_empty_message_is_still_an_error() {
    let server = server();
    within(20, async {
        let (stop, handle) = start_worker(server.url(), |job: Job| async move {
            let (id, _) = sim::parse_job(job.payload())?;
            match id {
                1 => Err(String::new()),
                2 => Err("\r\n\t".to_owned()),
                _ => Ok(sim::reply(id, 0)),
            }
        })
        .await;
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(
            DispatchConfig::new(4)
                .request_timeout(Duration::from_millis(500))
                .max_attempts(2)
                .backoff(Duration::ZERO),
        );
        let results: Vec<_> = dispatcher
            .dispatch(stream::iter((0..4).map(|i| sim::job(i, 0))))
            .collect()
            .await;
        assert!(results[0].is_ok(), "{results:?}");
        assert!(
            matches!(&results[1], Err(DispatchError::Worker { seq: 1, .. })),
            "{results:?}"
        );
        assert!(
            matches!(&results[2], Err(DispatchError::Worker { seq: 2, .. })),
            "{results:?}"
        );
        assert!(results[3].is_ok(), "{results:?}");
        assert_eq!(dispatcher.stats().requests(), 4, "errors are not retried");
        stop.send(()).unwrap();
        let report = handle.await.unwrap();
        assert_eq!((report.replied, report.failed), (2, 2));
    })
    .await;
}

/// A handler error whose message is longer than the server's `max_payload`, or an
/// output too big to send, still comes back as `DispatchError::Worker` in its
/// position, without a retry (and not as a timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_or_output_too_big_to_send_is_a_worker_error_not_a_timeout() {
    let server = server();
    within(20, async {
        let (stop, handle) = start_worker(server.url(), |job: Job| async move {
            let (id, _) = sim::parse_job(job.payload())?;
            match id {
                1 => Err("x".repeat(2 << 20)),
                2 => Ok(Bytes::from(vec![b'y'; 2 << 20])),
                _ => Ok(sim::reply(id, 0)),
            }
        })
        .await;
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(
            DispatchConfig::new(4)
                .request_timeout(Duration::from_millis(500))
                .max_attempts(2)
                .backoff(Duration::ZERO),
        );
        let results: Vec<_> = dispatcher
            .dispatch(stream::iter((0..4).map(|i| sim::job(i, 0))))
            .collect()
            .await;
        assert!(results[0].is_ok(), "{results:?}");
        match &results[1] {
            Err(DispatchError::Worker { seq: 1, message }) => {
                assert!(message.len() <= 4100 && message.ends_with('…'), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match &results[2] {
            Err(DispatchError::Worker { seq: 2, message }) => {
                assert!(message.contains("max_payload"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(results[3].is_ok(), "{results:?}");
        assert_eq!(dispatcher.stats().timeouts(), 0);
        assert_eq!(dispatcher.stats().requests(), 4, "not retried");
        stop.send(()).unwrap();
        let report = handle.await.unwrap();
        assert_eq!((report.replied, report.failed), (2, 2));
    })
    .await;
}

/// `max_attempts(1)`: each job is sent once, no retry, `Exhausted` after one attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_attempts_one_sends_each_job_exactly_once() {
    let server = server();
    within(20, async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(
            DispatchConfig::new(2)
                .max_attempts(1)
                .backoff(Duration::from_secs(3600)),
        );
        let results: Vec<_> = dispatcher
            .dispatch(stream::iter((0..5).map(|i| sim::job(i, 0))))
            .collect()
            .await;
        for (i, r) in results.iter().enumerate() {
            match r {
                Err(DispatchError::Exhausted {
                    seq,
                    attempts: 1,
                    last: AttemptFailure::NoResponders,
                    payload,
                }) => {
                    assert_eq!(*seq, i as u64);
                    assert_eq!(payload, &sim::job(i as u64, 0));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(results.len(), 5);
        assert_eq!(dispatcher.stats().requests(), 5);
        assert_eq!(dispatcher.stats().retries(), 0);
    })
    .await;
}

/// A zero request timeout is not "for ever": every attempt times out at once, and the
/// jobs end `Exhausted` in their positions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_request_timeout_exhausts_in_position_without_hanging() {
    let server = server();
    within(20, async {
        let (stop, handle) = start_worker(server.url(), |job: Job| async move {
            let (id, _) = sim::parse_job(job.payload())?;
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(sim::reply(id, 0))
        })
        .await;
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(
            DispatchConfig::new(4)
                .request_timeout(Duration::ZERO)
                .max_attempts(2)
                .backoff(Duration::ZERO),
        );
        let results: Vec<_> = dispatcher
            .dispatch(stream::iter((0..4).map(|i| sim::job(i, 0))))
            .collect()
            .await;
        for (i, r) in results.iter().enumerate() {
            assert!(
                matches!(r, Err(DispatchError::Exhausted { seq, attempts: 2, last: AttemptFailure::TimedOut, .. }) if *seq == i as u64),
                "{r:?}"
            );
        }
        assert_eq!(results.len(), 4);
        assert_eq!(dispatcher.stats().replies(), 0);
        stop.send(()).unwrap();
        handle.await.unwrap();
    })
    .await;
}

#[test]
#[should_panic(expected = "max_attempts must be at least 1")]
fn max_attempts_zero_panics() {
    let _ = DispatchConfig::new(1).max_attempts(0);
}

#[test]
#[should_panic]
fn a_limit_of_zero_panics() {
    let _ = DispatchConfig::new(0);
}

#[test]
#[should_panic]
fn a_window_below_the_limit_panics() {
    let _ = DispatchConfig::new(4).window(3);
}

/// The server goes away while workers hold every job: each job ends in an error in its
/// position (after its attempts), never a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_going_away_mid_run_ends_every_job_in_position() {
    let server = server();
    let url = server.url().to_owned();
    within(20, async move {
        let (_stop, worker) = start_worker(&url, |job: Job| async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(job.into_payload())
        })
        .await;
        let client = async_nats::connect(url.as_str()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(
            DispatchConfig::new(6)
                .request_timeout(Duration::from_millis(300))
                .max_attempts(3)
                .backoff(Duration::from_millis(10)),
        );
        let mut replies = dispatcher.dispatch(stream::iter((0..6).map(|i| sim::job(i, 0))));
        // Poll until every job has been sent once, then kill the server.
        let mut first = None;
        tokio::select! {
            r = replies.next() => first = r,
            () = async {
                while dispatcher.stats().requests() < 6 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            } => {}
        }
        assert!(first.is_none(), "a reply before the server died: {first:?}");
        drop(server);
        let rest: Vec<_> = replies.collect().await;
        assert_eq!(rest.len(), 6);
        for (i, r) in rest.iter().enumerate() {
            match r {
                Err(DispatchError::Exhausted {
                    seq, attempts: 3, ..
                }) => {
                    assert_eq!(*seq, i as u64)
                }
                other => panic!("job {i}: {other:?}"),
            }
        }
        worker.abort();
    })
    .await;
}

const STREAM: &str = "HOSTILE";
const JS_SUBJECT: &str = "hostile.durable";
const DURABLE: &str = "hostile-coordinator";

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

/// Durable: a job slower than `ack_wait` is redelivered while this process holds it;
/// the redelivery is skipped, not run twice, and the late ack still removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_a_redelivery_of_a_held_message_is_skipped() {
    let server = jetstream_server();
    within(20, async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let js = async_nats::jetstream::new(client.clone());
        let ack_wait = Duration::from_millis(400);
        let consumer = durable::work_queue(&js, STREAM, JS_SUBJECT, DURABLE, ack_wait)
            .await
            .unwrap();
        durable::publish_all(&js, JS_SUBJECT, (0..4u64).map(|i| sim::job(i, 0)))
            .await
            .unwrap();
        let calls: Arc<Mutex<HashMap<u64, u32>>> = Arc::default();
        let counted = Arc::clone(&calls);
        let mut results = durable::process(
            consumer.messages().await.unwrap(),
            SpawnConfig::new(4),
            move |seq, payload| {
                *counted.lock().unwrap().entry(seq).or_default() += 1;
                async move {
                    if seq == 1 {
                        // Over two ack_waits: redelivered twice while held.
                        tokio::time::sleep(Duration::from_millis(1000)).await;
                    }
                    payload
                }
            },
        );
        let mut seqs = Vec::new();
        while seqs.len() < 4 {
            match results.next().await.unwrap() {
                Ok(processed) => {
                    seqs.push(processed.stream_sequence());
                    processed.ack_confirmed().await.unwrap();
                }
                Err(DurableError::Consumer(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(seqs, [1, 2, 3, 4]);
        assert_eq!(remaining(&js).await, 0, "the late acks removed every job");
        // Nothing else comes: no redelivery was run.
        let extra = tokio::time::timeout(ack_wait * 2, async {
            loop {
                match results.next().await {
                    Some(Err(DurableError::Consumer(_))) => continue,
                    other => break other.map(|r| r.map(|p| p.stream_sequence())),
                }
            }
        })
        .await;
        assert!(extra.is_err(), "an extra item: {extra:?}");
        let calls = calls.lock().unwrap().clone();
        assert_eq!(
            calls,
            (1..=4).map(|s| (s, 1)).collect::<HashMap<_, _>>(),
            "a held message was run twice"
        );
        assert_eq!(results.held(), 0);
    })
    .await;
}

/// Durable: a task that panics is `DurableError::Task` in its position, later results
/// still come in order, and its message comes back (`delivered() > 1`) after `ack_wait`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_a_panicking_job_is_an_error_in_position_and_comes_back() {
    let server = jetstream_server();
    within(20, async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let js = async_nats::jetstream::new(client.clone());
        let consumer =
            durable::work_queue(&js, STREAM, JS_SUBJECT, DURABLE, Duration::from_millis(400))
                .await
                .unwrap();
        durable::publish_all(&js, JS_SUBJECT, (0..4u64).map(|i| sim::job(i, 0)))
            .await
            .unwrap();
        let panicked = Arc::new(AtomicBool::new(false));
        let once = Arc::clone(&panicked);
        let mut results = durable::process(
            consumer.messages().await.unwrap(),
            SpawnConfig::new(4),
            move |seq, payload| {
                let boom = seq == 2 && !once.swap(true, Ordering::SeqCst);
                async move {
                    assert!(!boom, "job 2 fails the first time");
                    payload
                }
            },
        );
        let mut seen = Vec::new();
        let mut done = HashSet::new();
        while done.len() < 4 {
            match results.next().await.unwrap() {
                Ok(processed) => {
                    let seq = processed.stream_sequence();
                    seen.push(format!("{seq}/{}", processed.delivered()));
                    processed.ack_confirmed().await.unwrap();
                    done.insert(seq);
                }
                Err(DurableError::Task(e)) => seen.push(format!("task error at {}", e.seq())),
                Err(DurableError::Consumer(_)) => {}
            }
        }
        assert_eq!(seen, ["1/1", "task error at 1", "3/1", "4/1", "2/2"]);
        assert!(panicked.load(Ordering::SeqCst));
        assert_eq!(remaining(&js).await, 0);
        assert_eq!(results.held(), 0);
    })
    .await;
}
