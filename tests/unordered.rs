//! `spawn_unordered`: results in completion order tagged with their position, a commit
//! watermark that passes a position only once it and every earlier one were yielded
//! successfully, failures that hold it, retry and give-up, abort on drop, the limits.
//!
//! Out-of-order completion is forced with oneshot channels or paused time.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::{stream, StreamExt};
use proptest::prelude::*;
use reorder::{OrderedExt, SpawnConfig, WatermarkError};
use tokio::sync::oneshot;
use tokio_test::assert_pending;

mod common;
use common::{eventually, quiet_injected_panics, within, Counter, DropGuard, Gauge};

#[tokio::test]
async fn yields_in_completion_order_tagged_and_the_watermark_follows_the_prefix() {
    within(async {
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| oneshot::channel::<()>()).unzip();
        let mut s =
            stream::iter(rxs.into_iter().enumerate()).spawn_unordered(4, |(i, rx)| async move {
                rx.await.unwrap();
                i * 10
            });
        assert_pending!(futures::poll!(s.next()));
        assert_eq!(s.in_flight(), 4);
        let mut txs: Vec<_> = txs.into_iter().map(Some).collect();
        // Release 2, 3, 0, 1; the watermark moves only when the prefix is done.
        for (release, watermark) in [(2, 0), (3, 0), (0, 1), (1, 4)] {
            txs[release].take().unwrap().send(()).unwrap();
            let (seq, value) = s.next().await.unwrap();
            assert_eq!((seq, value.unwrap()), (release as u64, release * 10));
            assert_eq!(s.watermark(), watermark, "after yielding {release}");
        }
        assert!(s.next().await.is_none());
        assert!(futures::stream::FusedStream::is_terminated(&s));
    })
    .await;
}

#[tokio::test]
async fn a_panic_is_an_error_tagged_with_its_seq_and_holds_the_watermark() {
    quiet_injected_panics();
    within(async {
        let mut s = stream::iter(0u64..5).spawn_unordered(2, |i| async move {
            assert!(i != 1, "injected: task {i}");
            i
        });
        let mut ok = BTreeSet::new();
        let mut failed = Vec::new();
        while let Some((seq, result)) = s.next().await {
            match result {
                Ok(v) => {
                    assert_eq!(v, seq);
                    ok.insert(seq);
                }
                Err(e) => {
                    assert!(e.is_panic());
                    assert_eq!(e.seq(), seq);
                    failed.push(seq);
                }
            }
        }
        assert_eq!(failed, [1]);
        assert_eq!(ok, BTreeSet::from([0, 2, 3, 4]));
        assert_eq!(s.watermark(), 1, "never committed silently");
        assert_eq!(s.failed().collect::<Vec<_>>(), [1]);
        s.give_up(1).unwrap(); // dead-lettered
        assert_eq!(s.watermark(), 5);
        assert_eq!(s.give_up(1), Err(WatermarkError::Unknown(1)));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_retry_runs_in_the_same_position_and_then_the_watermark_passes() {
    quiet_injected_panics();
    within(async {
        let mut s = stream::iter(0u64..4).spawn_unordered(4, |i| async move {
            tokio::time::sleep(Duration::from_millis(10 * (4 - i))).await;
            assert!(i != 0, "injected: first attempt");
            i
        });
        let mut retried = false;
        let mut seen = Vec::new();
        while let Some((seq, result)) = s.next().await {
            seen.push((seq, result.is_ok()));
            match result {
                Err(_) => {
                    assert_eq!(s.watermark(), 0);
                    s.retry(seq, async { 100 }).unwrap();
                    // Running again: a second retry and a give-up are refused.
                    assert_eq!(s.retry(seq, async { 0 }), Err(WatermarkError::NotFailed(0)));
                    assert_eq!(s.give_up(seq), Err(WatermarkError::NotFailed(0)));
                    retried = true;
                }
                Ok(value) if seq == 0 => assert_eq!(value, 100, "the retry's result, tagged 0"),
                Ok(_) => {}
            }
        }
        assert!(retried);
        assert_eq!(
            seen,
            [(3, true), (2, true), (1, true), (0, false), (0, true)]
        );
        assert_eq!(s.watermark(), 4);
        assert_eq!(s.retry(2, async { 0 }), Err(WatermarkError::Unknown(2)));
    })
    .await;
}

#[tokio::test]
async fn an_unresolved_failure_does_not_stall_the_stream() {
    quiet_injected_panics();
    within(async {
        // limit 1, window 1: if the failure counted against the window, nothing more
        // could start and the stream would hang.
        let config = SpawnConfig::new(1).window(1);
        let out: Vec<_> = stream::iter(0u64..20)
            .spawn_unordered_with(config, |i| async move {
                assert!(i != 0, "injected");
                i
            })
            .map(|(seq, r)| (seq, r.is_ok()))
            .collect()
            .await;
        assert_eq!(out.len(), 20);
        assert_eq!(out[0], (0, false));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_timeout_is_an_error_tagged_with_its_seq() {
    within(async {
        let config = SpawnConfig::new(2).task_timeout(Duration::from_secs(1));
        let mut s = stream::iter([5u64, 1]).spawn_unordered_with(config, |secs| async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            secs
        });
        let (seq, r) = s.next().await.unwrap();
        let e = r.unwrap_err();
        assert!(e.is_timeout());
        assert_eq!((seq, e.seq()), (0, 0));
        let (seq, r) = s.next().await.unwrap();
        assert_eq!((seq, r.unwrap()), (1, 1));
        assert_eq!(s.watermark(), 0);
    })
    .await;
}

async fn dropping_the_stream_aborts_every_task() {
    let spawned = Counter::default();
    let dropped = Counter::default();
    let mut s = stream::iter(0u64..100).spawn_unordered(4, {
        let (spawned, dropped) = (spawned.clone(), dropped.clone());
        move |i| {
            spawned.incr();
            let guard = DropGuard(dropped.clone());
            async move {
                let _guard = guard;
                if i != 1 {
                    std::future::pending::<()>().await;
                }
                i
            }
        }
    });
    let (seq, r) = s.next().await.unwrap();
    assert_eq!((seq, r.unwrap()), (1, 1));
    assert_pending!(futures::poll!(s.next()));
    assert_eq!(s.in_flight(), 4);
    assert_eq!(spawned.get(), 5);
    drop(s);
    eventually("every task is aborted", || dropped.get() == 5).await;
    assert_eq!(spawned.get(), 5, "nothing spawned after the drop");
}

#[tokio::test]
async fn dropping_the_stream_aborts_every_task_current_thread() {
    within(dropping_the_stream_aborts_every_task()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_aborts_every_task_multi_thread() {
    within(dropping_the_stream_aborts_every_task()).await;
}

#[tokio::test]
async fn a_slow_head_bounds_starts_by_the_window() {
    within(async {
        let (head_tx, head_rx) = oneshot::channel::<()>();
        let mut head_rx = Some(head_rx);
        let config = SpawnConfig::new(2).window(5);
        let mut s = stream::iter(0u64..100).spawn_unordered_with(config, move |i| {
            let rx = if i == 0 { head_rx.take() } else { None };
            async move {
                if let Some(rx) = rx {
                    rx.await.unwrap();
                }
                i
            }
        });
        // Positions 1..5 finish; 5 may not start while 0 runs.
        for _ in 0..4 {
            let (seq, _) = s.next().await.unwrap();
            assert!((1..5).contains(&seq));
        }
        assert_pending!(futures::poll!(s.next()));
        assert_eq!(s.next_seq(), 5, "the window holds new starts");
        assert_eq!(s.watermark(), 0);
        head_tx.send(()).unwrap();
        assert_eq!(s.next().await.unwrap().0, 0);
        assert_eq!(s.watermark(), 5);
        assert_eq!(s.count().await, 95);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_is_respected_and_reached() {
    within(async {
        let gauge = Gauge::default();
        let n = stream::iter(0u64..200)
            .spawn_unordered(8, {
                let gauge = gauge.clone();
                move |i| {
                    let gauge = gauge.clone();
                    async move {
                        gauge.enter();
                        tokio::time::sleep(Duration::from_millis(1 + i % 3)).await;
                        gauge.exit();
                    }
                }
            })
            .count()
            .await;
        assert_eq!(n, 200);
        assert_eq!(gauge.max(), 8);
    })
    .await;
}

#[test]
fn limit_zero_panics() {
    let result =
        std::panic::catch_unwind(|| stream::iter(0..1).spawn_unordered(0, |i| async move { i }));
    assert!(result.is_err());
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Random latencies and failures: after every yield the watermark is exactly the
    /// lowest position not yet yielded successfully (failures count as not), each
    /// position comes exactly once, and the window and limit hold.
    #[test]
    fn the_watermark_is_the_lowest_position_not_yielded_ok(
        latencies in prop::collection::vec(0u64..50, 1..60),
        fail_every in 2usize..9,
        limit in 1usize..6,
        extra in 0usize..6,
    ) {
        quiet_injected_panics();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let n = latencies.len() as u64;
        let window = limit + extra;
        rt.block_on(within(async move {
            let config = SpawnConfig::new(limit).window(window);
            let mut s = stream::iter(latencies.into_iter().enumerate())
                .spawn_unordered_with(config, move |(i, ms)| async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    assert!(i % fail_every != 1, "injected: {i}");
                    i
                });
            let mut ok = BTreeSet::new();
            let mut seen = BTreeSet::new();
            while let Some((seq, result)) = s.next().await {
                assert!(seen.insert(seq), "{seq} yielded twice");
                assert!(s.in_flight() < limit + 1);
                if result.is_ok() {
                    ok.insert(seq);
                }
                let lowest = (0..n).find(|p| !ok.contains(p)).unwrap_or(n);
                assert_eq!(s.watermark(), lowest);
            }
            assert_eq!(seen.len() as u64, n);
        }));
    }
}

#[test]
fn auto_traits() {
    fn is_send_sync_unpin<T: Send + Sync + Unpin>(_: &T) {}
    let s = stream::iter(0u64..3).spawn_unordered(2, |i| async move { i });
    is_send_sync_unpin(&s);
}
