//! Dispatcher and Worker against a real `nats-server` on 127.0.0.1, workers in-process
//! (each on its own client, as separate machines would be).

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{server, sim, within};
use futures::{stream, StreamExt};
use rand::{RngExt, SeedableRng};
use reorder_nats::{AttemptFailure, DispatchConfig, DispatchError, Dispatcher, Job, Worker};
use tokio::sync::oneshot;

const SUBJECT: &str = "test.jobs";
const GROUP: &str = "test-workers";

/// Starts a worker on its own client; returns a handle and the trigger that drains it.
async fn start_worker<F, Fut>(
    url: &str,
    concurrency: usize,
    handler: F,
) -> (
    tokio::task::JoinHandle<reorder_nats::WorkerReport>,
    oneshot::Sender<()>,
)
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Bytes, String>> + Send + 'static,
{
    let client = async_nats::connect(url).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = Worker::new(client.clone(), SUBJECT, GROUP).concurrency(concurrency);
    let handle = tokio::spawn(async move {
        worker
            .serve(handler, async {
                let _ = stopped.await;
            })
            .await
            .unwrap()
    });
    // The subscription is made once serve has run a little; a flush round-trip after
    // it makes sure the server knows it.
    wait_subscribed(&client).await;
    (handle, stop)
}

/// A worker whose jobs take 5 ms each, and the most of them that ran at once.
async fn start_gauged_worker(
    url: &str,
    concurrency: usize,
) -> (
    tokio::task::JoinHandle<reorder_nats::WorkerReport>,
    oneshot::Sender<()>,
    Arc<AtomicUsize>,
) {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (r, p) = (Arc::clone(&running), Arc::clone(&peak));
    let (handle, stop) = start_worker(url, concurrency, move |job: Job| {
        let (running, peak) = (Arc::clone(&r), Arc::clone(&p));
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            let (id, _) = sim::parse_job(job.payload())?;
            Ok(sim::reply(id, 0))
        }
    })
    .await;
    (handle, stop, peak)
}

async fn wait_subscribed(client: &async_nats::Client) {
    tokio::time::sleep(Duration::from_millis(50)).await;
    client.flush().await.unwrap();
}

fn echo_sim(
) -> impl Fn(Job) -> futures::future::BoxFuture<'static, Result<Bytes, String>> + Send + Sync {
    |job: Job| {
        Box::pin(async move {
            let (id, ms) = sim::parse_job(job.payload())?;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(sim::reply(id, std::process::id()))
        })
    }
}

fn ids(results: &[Result<Bytes, DispatchError>]) -> Vec<u64> {
    results
        .iter()
        .map(|r| sim::parse_reply(r.as_ref().expect("a reply")).unwrap().0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_come_back_in_input_order_from_three_workers() {
    let server = server();
    within(60, async {
        let mut workers = Vec::new();
        for _ in 0..3 {
            workers.push(start_worker(server.url(), 32, echo_sim()).await);
        }
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(DispatchConfig::new(16));
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let jobs: Vec<Bytes> = (0..300)
            .map(|i| sim::job(i, rng.random_range(0..10)))
            .collect();
        let results: Vec<_> = dispatcher.dispatch(stream::iter(jobs)).collect().await;
        assert_eq!(ids(&results), (0..300).collect::<Vec<_>>());
        assert_eq!(dispatcher.stats().replies(), 300);
        assert_eq!(
            dispatcher.stats().requests(),
            300,
            "nothing should need a retry"
        );
        for (handle, stop) in workers {
            stop.send(()).unwrap();
            handle.await.unwrap();
        }
    })
    .await;
}

/// The slow worker answers attempt 1 after the timeout; attempt 2 is answered at once.
/// The late answers are really sent, and none reaches the consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_reply_to_an_abandoned_attempt_is_dropped() {
    let server = server();
    within(60, async {
        let late_sent = Arc::new(AtomicU64::new(0));
        let late = Arc::clone(&late_sent);
        let (handle, stop) = start_worker(server.url(), 64, move |job: Job| {
            let late = Arc::clone(&late);
            async move {
                let (id, _) = sim::parse_job(job.payload())?;
                if job.attempt() == Some(1) {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    late.fetch_add(1, Ordering::SeqCst);
                    Ok(Bytes::from(format!("{id} late")))
                } else {
                    Ok(Bytes::from(format!("{id} fresh")))
                }
            }
        })
        .await;
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(
            DispatchConfig::new(8)
                .request_timeout(Duration::from_millis(100))
                .backoff(Duration::from_millis(1)),
        );
        let mut replies = dispatcher.dispatch(stream::iter((0..20).map(|i| sim::job(i, 0))));
        let mut seen = Vec::new();
        while let Some(reply) = replies.next().await {
            seen.push(String::from_utf8(reply.unwrap().to_vec()).unwrap());
        }
        // Every late reply has been published by now or soon; give them time to arrive.
        while late_sent.load(Ordering::SeqCst) < 20 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let expected: Vec<String> = (0..20).map(|i| format!("{i} fresh")).collect();
        assert_eq!(seen, expected);
        assert!(replies.next().await.is_none());
        let stats = dispatcher.stats();
        assert_eq!(stats.replies(), 20, "one reply taken per job: {stats:?}");
        assert_eq!(stats.retries(), 20);
        assert_eq!(stats.timeouts(), 20);
        stop.send(()).unwrap();
        handle.await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nobody_serving_every_job_is_exhausted_in_its_position() {
    let server = server();
    within(30, async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(
            DispatchConfig::new(4)
                .max_attempts(3)
                .backoff(Duration::from_millis(1)),
        );
        let results: Vec<_> = dispatcher
            .dispatch(stream::iter((0..10).map(|i| sim::job(i, 0))))
            .collect()
            .await;
        for (i, result) in results.into_iter().enumerate() {
            match result {
                Err(DispatchError::Exhausted {
                    seq,
                    attempts,
                    last,
                    payload,
                }) => {
                    assert_eq!(seq, i as u64);
                    assert_eq!(attempts, 3);
                    assert_eq!(last, AttemptFailure::NoResponders);
                    assert_eq!(payload, sim::job(i as u64, 0), "the payload is handed back");
                }
                other => panic!("job {i}: {other:?}"),
            }
        }
        assert_eq!(dispatcher.stats().requests(), 30);
        assert_eq!(dispatcher.stats().retries(), 20);
        assert_eq!(dispatcher.stats().failures(), 10);
    })
    .await;
}

/// Workers that start after the coordinator: no-responders is retried, so nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_that_start_late_still_get_every_job() {
    let server = server();
    within(30, async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(
            DispatchConfig::new(4)
                .max_attempts(50)
                .backoff(Duration::from_millis(20))
                .max_backoff(Duration::from_millis(50)),
        );
        let run = tokio::spawn({
            let dispatcher = dispatcher.clone();
            async move {
                dispatcher
                    .dispatch(stream::iter((0..10).map(|i| sim::job(i, 0))))
                    .collect::<Vec<_>>()
                    .await
            }
        });
        while dispatcher.stats().no_responders() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (handle, stop) = start_worker(server.url(), 8, echo_sim()).await;
        let results = run.await.unwrap();
        assert_eq!(ids(&results), (0..10).collect::<Vec<_>>());
        assert!(dispatcher.stats().retries() > 0);
        stop.send(()).unwrap();
        handle.await.unwrap();
    })
    .await;
}

/// One job never answered: it alone ends in a timeout error, in its position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_no_worker_answers_times_out_in_its_position() {
    let server = server();
    within(30, async {
        let (handle, stop) = start_worker(server.url(), 16, |job: Job| async move {
            let (id, _) = sim::parse_job(job.payload())?;
            if id == 2 {
                std::future::pending::<()>().await;
            }
            Ok(sim::reply(id, 0))
        })
        .await;
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(
            DispatchConfig::new(4)
                .max_attempts(2)
                .request_timeout(Duration::from_millis(200))
                .backoff(Duration::from_millis(1)),
        );
        let results: Vec<_> = dispatcher
            .dispatch(stream::iter((0..5).map(|i| sim::job(i, 0))))
            .collect()
            .await;
        for (i, result) in results.iter().enumerate() {
            if i == 2 {
                assert!(
                    matches!(
                        result,
                        Err(DispatchError::Exhausted {
                            seq: 2,
                            attempts: 2,
                            last: AttemptFailure::TimedOut,
                            ..
                        })
                    ),
                    "{result:?}"
                );
            } else {
                assert_eq!(
                    sim::parse_reply(result.as_ref().unwrap()).unwrap().0,
                    i as u64
                );
            }
        }
        stop.send(()).unwrap();
        // The stuck handlers hold the drain; abort them.
        tokio::time::sleep(Duration::from_millis(50)).await;
        handle.abort();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_errors_and_panics_come_back_in_position_without_retry() {
    let server = server();
    within(30, async {
        let (handle, stop) = start_worker(server.url(), 16, |job: Job| async move {
            let (id, _) = sim::parse_job(job.payload())?;
            match id {
                3 => Err("no such account\nsecond line".to_owned()),
                5 => panic!("boom"),
                _ => Ok(sim::reply(id, 0)),
            }
        })
        .await;
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(DispatchConfig::new(4));
        let results: Vec<_> = dispatcher
            .dispatch(stream::iter((0..8).map(|i| sim::job(i, 0))))
            .collect()
            .await;
        for (i, result) in results.iter().enumerate() {
            match (i, result) {
                (3, Err(DispatchError::Worker { seq: 3, message })) => {
                    assert_eq!(message, "no such account second line");
                }
                (5, Err(DispatchError::Worker { seq: 5, message })) => {
                    assert_eq!(message, "the handler panicked");
                }
                (i, Ok(reply)) if i != 3 && i != 5 => {
                    assert_eq!(sim::parse_reply(reply).unwrap().0, i as u64);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(dispatcher.stats().requests(), 8, "errors are not retried");
        assert_eq!(dispatcher.stats().failures(), 2);
        stop.send(()).unwrap();
        let report = handle.await.unwrap();
        assert_eq!((report.replied, report.failed), (6, 2));
    })
    .await;
}

/// `limit` bounds requests in flight, whatever the workers could take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_bounds_the_requests_in_flight() {
    let server = server();
    within(30, async {
        let (handle, stop, peak) = start_gauged_worker(server.url(), 100).await;
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(DispatchConfig::new(4).window(4));
        let mut replies = dispatcher.dispatch(stream::iter((0..100).map(|i| sim::job(i, 0))));
        let mut n = 0;
        while let Some(reply) = replies.next().await {
            reply.unwrap();
            assert!(replies.in_flight() <= 4);
            assert!(replies.peak_buffered() <= 4);
            n += 1;
        }
        assert_eq!(n, 100);
        let peak = peak.load(Ordering::SeqCst);
        assert!(
            (2..=4).contains(&peak),
            "peak concurrency on the worker: {peak}"
        );
        stop.send(()).unwrap();
        handle.await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_job_is_rejected_with_its_payload() {
    let server = server();
    within(30, async {
        let (handle, stop) = start_worker(server.url(), 4, echo_sim()).await;
        let client = async_nats::connect(server.url()).await.unwrap();
        let max = client.server_info().max_payload;
        let dispatcher = Dispatcher::new(client, SUBJECT);
        let big = Bytes::from(vec![b'x'; max + 1]);
        let results: Vec<_> = dispatcher
            .dispatch(stream::iter([sim::job(0, 0), big.clone(), sim::job(2, 0)]))
            .collect()
            .await;
        assert!(results[0].is_ok());
        match &results[1] {
            Err(DispatchError::Rejected {
                seq: 1, payload, ..
            }) => assert_eq!(payload, &big),
            other => panic!("{other:?}"),
        }
        assert!(results[2].is_ok());
        assert_eq!(dispatcher.stats().requests(), 3);
        stop.send(()).unwrap();
        handle.await.unwrap();
    })
    .await;
}

/// Shutdown drains: the jobs a worker holds are finished and answered, then `serve`
/// returns, and the subject has no responder left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_drains_what_it_holds_on_shutdown() {
    let server = server();
    within(30, async {
        let started = Arc::new(AtomicUsize::new(0));
        let s = Arc::clone(&started);
        let (handle, stop) = start_worker(server.url(), 16, move |job: Job| {
            let started = Arc::clone(&s);
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                let (id, _) = sim::parse_job(job.payload())?;
                Ok(sim::reply(id, 0))
            }
        })
        .await;
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher =
            Dispatcher::new(client, SUBJECT).config(DispatchConfig::new(5).max_attempts(1));
        let run = tokio::spawn({
            let d = dispatcher.clone();
            async move {
                d.dispatch(stream::iter((0..5).map(|i| sim::job(i, 0))))
                    .collect::<Vec<_>>()
                    .await
            }
        });
        while started.load(Ordering::SeqCst) < 5 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.send(()).unwrap(); // while all five sleep
        let report = handle.await.unwrap();
        assert_eq!(
            report.replied, 5,
            "in-flight jobs finished before serve returned"
        );
        let results = run.await.unwrap();
        assert_eq!(ids(&results), [0, 1, 2, 3, 4]);
        assert_eq!(dispatcher.stats().retries(), 0);
        // Nobody serves the subject any more.
        let after = dispatcher.request(9, sim::job(9, 0)).await;
        assert!(
            matches!(
                after,
                Err(DispatchError::Exhausted {
                    last: AttemptFailure::NoResponders,
                    ..
                })
            ),
            "{after:?}"
        );
        let seen: HashSet<u64> = ids(&results).into_iter().collect();
        assert_eq!(seen.len(), 5);
    })
    .await;
}

/// Dropping the stream abandons every job in flight: no attempt is sent after the drop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_stops_every_retry() {
    let server = server();
    within(30, async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(
            DispatchConfig::new(8)
                .max_attempts(u32::MAX)
                .backoff(Duration::from_millis(5))
                .max_backoff(Duration::from_millis(5)),
        );
        let mut replies = dispatcher.dispatch(stream::iter((0..100).map(|i| sim::job(i, 0))));
        // Nobody serves: every job retries no-responders for ever. Poll a while.
        let _ = tokio::time::timeout(Duration::from_millis(100), replies.next()).await;
        assert!(dispatcher.stats().requests() >= 8);
        drop(replies);
        tokio::time::sleep(Duration::from_millis(20)).await; // an attempt mid-send ends
        let after_drop = dispatcher.stats().requests();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            dispatcher.stats().requests(),
            after_drop,
            "a job outlived its stream"
        );
    })
    .await;
}

/// `Duration::MAX` as the request timeout waits for ever (no overflow, no instant
/// timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_timeout_of_duration_max_waits() {
    let server = server();
    within(30, async {
        let (handle, stop) = start_worker(server.url(), 4, echo_sim()).await;
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(
            DispatchConfig::new(2)
                .request_timeout(Duration::MAX)
                .backoff(Duration::MAX)
                .max_backoff(Duration::MAX),
        );
        let results: Vec<_> = dispatcher
            .dispatch(stream::iter([sim::job(0, 300), sim::job(1, 0)]))
            .collect()
            .await;
        assert_eq!(ids(&results), [0, 1]);
        assert_eq!(dispatcher.stats().timeouts(), 0);
        stop.send(()).unwrap();
        handle.await.unwrap();
    })
    .await;
}

/// A worker runs at most `concurrency` handlers at once, whatever it is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_runs_at_most_its_concurrency() {
    let server = server();
    within(30, async {
        let (handle, stop, peak) = start_gauged_worker(server.url(), 3).await;
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT).config(DispatchConfig::new(32));
        let results: Vec<_> = dispatcher
            .dispatch(stream::iter((0..120).map(|i| sim::job(i, 0))))
            .collect()
            .await;
        assert_eq!(ids(&results), (0..120).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        stop.send(()).unwrap();
        let report = handle.await.unwrap();
        assert_eq!(report.replied, 120);
    })
    .await;
}

/// Positions are the input's, from 0, whatever the payloads; and the worker sees them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_see_each_jobs_position_and_attempt() {
    let server = server();
    within(30, async {
        let (handle, stop) = start_worker(server.url(), 8, |job: Job| async move {
            Ok(Bytes::from(format!(
                "{:?} {:?} {}",
                job.seq(),
                job.attempt(),
                job.payload().len()
            )))
        })
        .await;
        let client = async_nats::connect(server.url()).await.unwrap();
        let dispatcher = Dispatcher::new(client, SUBJECT);
        let payloads = [
            Bytes::new(),
            Bytes::from_static(b"abc"),
            Bytes::from(vec![0u8; 1000]),
        ];
        let results: Vec<_> = dispatcher
            .dispatch(stream::iter(payloads))
            .map(|r| String::from_utf8(r.unwrap().to_vec()).unwrap())
            .collect()
            .await;
        assert_eq!(
            results,
            [
                "Some(0) Some(1) 0",
                "Some(1) Some(1) 3",
                "Some(2) Some(1) 1000"
            ]
        );
        stop.send(()).unwrap();
        handle.await.unwrap();
    })
    .await;
}
