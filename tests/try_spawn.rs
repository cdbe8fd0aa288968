//! `try_spawn_ordered`: fallible jobs, one flattened error, results in input order.

use std::error::Error;
use std::fmt;
use std::time::Duration;

use futures::stream::{self, FusedStream, Stream, StreamExt, TryStreamExt};
use reorder::{OrderedExt, SpawnConfig, TaskError, TryTaskError};
use tokio::sync::oneshot;

mod common;
use common::*;

#[derive(Debug, PartialEq)]
struct JobError(u64);

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "job {} said no", self.0)
    }
}

impl Error for JobError {}

/// Job `i` sleeps `delays[i]` ms, then fails if `i` is in `failing`.
fn job(
    delays: &'static [u64],
    failing: &'static [u64],
) -> impl FnMut(u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, JobError>> + Send>>
{
    move |i| {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(delays[i as usize])).await;
            if failing.contains(&i) {
                Err(JobError(i))
            } else {
                Ok(i * 10)
            }
        })
    }
}

#[tokio::test(start_paused = true)]
async fn errors_are_yielded_in_position_and_the_rest_go_on() {
    within(async {
        // Later jobs finish first; 1 and 3 fail.
        let out: Vec<_> = stream::iter(0..5u64)
            .try_spawn_ordered(5, job(&[50, 40, 30, 20, 10], &[1, 3]))
            .collect()
            .await;
        assert_eq!(out.len(), 5);
        assert_eq!(*out[0].as_ref().unwrap(), 0);
        assert!(matches!(
            &out[1],
            Err(TryTaskError::Failed {
                seq: 1,
                error: JobError(1)
            })
        ));
        assert_eq!(*out[2].as_ref().unwrap(), 20);
        assert!(matches!(
            &out[3],
            Err(TryTaskError::Failed {
                seq: 3,
                error: JobError(3)
            })
        ));
        assert_eq!(*out[4].as_ref().unwrap(), 40);
    })
    .await;
}

/// `try_collect` stops at the first error *in input order* — not the first to finish —
/// and dropping the stream aborts every task still running.
#[tokio::test(start_paused = true)]
async fn try_collect_stops_at_the_first_error_in_order_and_aborts_the_rest() {
    within(async {
        let dropped = Counter::default();
        let started = Counter::default();
        let (fail_2, failed_2) = oneshot::channel::<()>();
        let mut fail_2 = Some(fail_2);
        let mut failed_2 = Some(failed_2);
        let collecting = tokio::spawn({
            let dropped = dropped.clone();
            let started = started.clone();
            async move {
                stream::iter(0..8u64)
                    .try_spawn_ordered(8, move |i| {
                        let guard = DropGuard(dropped.clone());
                        started.incr();
                        let gate = if i == 2 { failed_2.take() } else { None };
                        async move {
                            let _guard = guard;
                            match i {
                                0 | 1 => Ok(i),
                                2 => {
                                    gate.unwrap().await.ok();
                                    Err(JobError(2))
                                }
                                5 => Err(JobError(5)), // fails first, but comes later
                                _ => std::future::pending().await,
                            }
                        }
                    })
                    .try_collect::<Vec<u64>>()
                    .await
            }
        });
        eventually("all eight started", || started.get() == 8).await;
        // 0, 1 and 5 have finished (their guards dropped); 2 waits; 3, 4, 6, 7 never end.
        eventually("three finished", || dropped.get() == 3).await;
        fail_2.take().unwrap().send(()).unwrap();
        let err = collecting.await.unwrap().unwrap_err();
        assert_eq!(err.seq(), 2, "the first error in input order, not in time");
        assert_eq!(err.into_failed(), Some(JobError(2)));
        // Every task was dropped: the four that would never end were aborted.
        eventually("all eight futures dropped", || dropped.get() == 8).await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn task_failures_are_flattened_into_the_same_error() {
    quiet_injected_panics();
    within(async {
        let config = SpawnConfig::new(3).task_timeout(Duration::from_secs(1));
        let out: Vec<_> = stream::iter(0..3u64)
            .try_spawn_ordered_with(config, |i| async move {
                match i {
                    0 => panic!("injected: boom"),
                    1 => std::future::pending::<Result<u64, JobError>>().await,
                    _ => Ok(i),
                }
            })
            .collect()
            .await;
        match &out[0] {
            Err(TryTaskError::Task(e)) => assert!(e.is_panic() && e.seq() == 0),
            other => panic!("expected a panic, got {other:?}"),
        }
        match &out[1] {
            Err(TryTaskError::Task(e)) => assert!(e.is_timeout() && e.seq() == 1),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert_eq!(*out[2].as_ref().unwrap(), 2);
        assert_eq!(out[0].as_ref().unwrap_err().seq(), 0);
        assert_eq!(
            out[0].as_ref().unwrap_err().to_string(),
            "task 0 panicked: injected: boom"
        );
        assert!(out[0].as_ref().unwrap_err().source().is_none());
    })
    .await;
}

#[tokio::test]
async fn the_error_chains_its_source_and_converts_with_question_mark() {
    async fn total() -> Result<u64, Box<dyn Error + Send + Sync>> {
        let mut jobs = stream::iter(0..3u64).try_spawn_ordered(2, |i| async move {
            if i == 1 {
                Err(JobError(i))
            } else {
                Ok(i)
            }
        });
        let mut sum = 0;
        while let Some(n) = jobs.next().await {
            sum += n?;
        }
        Ok(sum)
    }
    let err = within(total()).await.unwrap_err();
    assert_eq!(err.to_string(), "task 1 failed");
    let source = err.source().expect("the job's error is the source");
    assert_eq!(source.to_string(), "job 1 said no");
    assert_eq!(source.downcast_ref::<JobError>(), Some(&JobError(1)));
    let typed = err.downcast::<TryTaskError<JobError>>().unwrap();
    assert_eq!(
        format!("{typed:?}"),
        "Failed { seq: 1, error: JobError(1) }"
    );
}

#[test]
fn the_error_is_send_sync_and_static_as_anyhow_needs() {
    fn anyhow_compatible<E: Error + Send + Sync + 'static>() {}
    anyhow_compatible::<TryTaskError<JobError>>();
    anyhow_compatible::<TryTaskError<std::io::Error>>();
}

#[test]
fn conversions_pick_the_right_side() {
    let failed: TryTaskError<JobError> = TryTaskError::Failed {
        seq: 4,
        error: JobError(4),
    };
    assert_eq!(failed.seq(), 4);
    assert!(failed.into_task_error().is_none());
    let failed: TryTaskError<JobError> = TryTaskError::Failed {
        seq: 4,
        error: JobError(4),
    };
    assert_eq!(failed.into_failed(), Some(JobError(4)));
}

#[tokio::test]
async fn a_cancelled_task_error_converts_with_from() {
    let mut set = reorder::OrderedJoinSet::<()>::new();
    set.spawn(std::future::pending());
    set.abort_all();
    let task: TaskError = within(set.join_next()).await.unwrap().unwrap_err();
    let err: TryTaskError<JobError> = task.into();
    assert_eq!(err.seq(), 0);
    assert!(err.into_task_error().unwrap().is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn fused_size_hint_and_introspection_follow_the_inner_stream() {
    within(async {
        let mut s = stream::iter(0..4u64).try_spawn_ordered(2, job(&[20, 10, 0, 0], &[]));
        assert_eq!(s.size_hint(), (4, Some(4)));
        assert!(!s.is_terminated());
        assert_eq!(s.next().await.unwrap().unwrap(), 0);
        assert_eq!(s.next_seq(), 1);
        let rest: Vec<_> = (&mut s).try_collect::<Vec<_>>().await.unwrap();
        assert_eq!(rest, [10, 20, 30]);
        assert!(s.is_terminated());
        assert_eq!((s.in_flight(), s.buffered_len()), (0, 0));
        assert!(s.next().await.is_none());
        assert!(format!("{s:?}").starts_with("TrySpawnOrdered"));
    })
    .await;
}

#[test]
#[should_panic(expected = "limit must be at least 1")]
fn limit_zero_panics() {
    let _ = stream::iter(0..1u64).try_spawn_ordered(0, |i| async move { Ok::<_, JobError>(i) });
}
