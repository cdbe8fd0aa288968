//! `spawn_ordered_by_key`, `ordered_by_key` and `KeyedBuffer`: per-key order, keys never
//! waiting for each other, the limits, the window, panics in position and abort on drop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{stream, Stream, StreamExt};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reorder::{KeyedBuffer, KeyedConfig, KeyedReorderConfig, OrderedExt, ReorderError};
use tokio::sync::oneshot;
use tokio::time::Instant;

mod common;
use common::{eventually, quiet_injected_panics, settle, within, Counter, DropGuard, Gauge};

/// Groups `(key, index)` results by key, keeping their order.
fn by_key(out: &[(u32, usize)]) -> HashMap<u32, Vec<usize>> {
    let mut map: HashMap<u32, Vec<usize>> = HashMap::new();
    for &(k, i) in out {
        map.entry(k).or_default().push(i);
    }
    map
}

/// 400 jobs over 7 keys, each yielding a random number of times so they finish out of
/// order on any runtime (no real sleeps); every key's results must come out in its order.
async fn per_key_order_under_random_latencies(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let jobs: Vec<(u32, usize)> = (0..400).map(|i| (rng.random_range(0..7), i)).collect();
    let yields: Vec<u32> = (0..400).map(|_| rng.random_range(0..50)).collect();
    let yields = Arc::new(yields);
    let out: Vec<(u32, usize)> = within(
        stream::iter(jobs.clone())
            .spawn_ordered_by_key(
                16,
                |(k, _)| *k,
                move |(k, i)| {
                    let yields = yields.clone();
                    async move {
                        for _ in 0..yields[i] {
                            tokio::task::yield_now().await;
                        }
                        (k, i)
                    }
                },
            )
            .map(Result::unwrap)
            .collect(),
    )
    .await;
    assert_eq!(out.len(), jobs.len());
    let expected = by_key(&jobs);
    assert_eq!(by_key(&out), expected);
    // Keys really interleaved and completions really were out of order overall.
    assert_ne!(
        out, jobs,
        "the schedule should not come out in total input order"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn per_key_order_current_thread() {
    for seed in 0..4 {
        per_key_order_under_random_latencies(seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_order_multi_thread() {
    for seed in 0..4 {
        per_key_order_under_random_latencies(seed).await;
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_slow_key_does_not_hold_back_others() {
    let start = Instant::now();
    // Key 0's first input takes an hour; key 1's 50 inputs take 1 ms each.
    let inputs = std::iter::once((0u32, 3_600_000u64))
        .chain((0..50).map(|_| (1, 1)))
        .chain(std::iter::once((0, 1)));
    let mut s = stream::iter(inputs).spawn_ordered_by_key(
        4,
        |(k, _)| *k,
        |(k, ms)| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (k, Instant::now())
        },
    );
    for _ in 0..50 {
        let (k, at) = within(s.next()).await.unwrap().unwrap();
        assert_eq!(k, 1, "only key 1 can be ready before the hour is up");
        assert!(at - start < Duration::from_secs(1));
    }
    // Key 0's second input finished long ago but waits for its first.
    let (k, at) = s.next().await.unwrap().unwrap();
    assert_eq!((k, at - start >= Duration::from_secs(3600)), (0, true));
    let (k, _) = s.next().await.unwrap().unwrap();
    assert_eq!(k, 0);
    assert!(s.next().await.is_none());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn per_key_limit_one_runs_each_key_serially_and_keys_in_parallel() {
    let gauge = Gauge::default();
    let per_key: Arc<Mutex<HashMap<u32, (usize, usize)>>> = Arc::default();
    let config = KeyedConfig::new(8).per_key_limit(1);
    let inputs: Vec<(u32, usize)> = (0..120).map(|i| ((i % 5) as u32, i)).collect();
    let (g, pk) = (gauge.clone(), per_key.clone());
    let out: Vec<(u32, usize)> = within(
        stream::iter(inputs.clone())
            .spawn_ordered_by_key_with(
                config,
                |(k, _)| *k,
                move |(k, i)| {
                    let (g, pk) = (g.clone(), pk.clone());
                    async move {
                        g.enter();
                        {
                            let mut pk = pk.lock().unwrap();
                            let e = pk.entry(k).or_default();
                            e.0 += 1;
                            e.1 = e.1.max(e.0);
                        }
                        // Later inputs are quicker, so overlap would show if it were allowed.
                        tokio::time::sleep(Duration::from_millis(200 - i as u64)).await;
                        pk.lock().unwrap().get_mut(&k).unwrap().0 -= 1;
                        g.exit();
                        (k, i)
                    }
                },
            )
            .map(Result::unwrap)
            .collect(),
    )
    .await;
    assert_eq!(by_key(&out), by_key(&inputs));
    for (k, (_, max)) in per_key.lock().unwrap().iter() {
        assert_eq!(*max, 1, "key {k} ran two tasks at once");
    }
    assert_eq!(gauge.max(), 5, "all five keys ran at once");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn panics_and_timeouts_come_in_their_keys_position() {
    quiet_injected_panics();
    let config = KeyedConfig::new(4).task_timeout(Duration::from_secs(1));
    // (key, ms, panics); global positions 0..6.
    let inputs = [
        ('a', 10, false),
        ('b', 5, false),
        ('a', 1, true),
        ('b', 5_000, false),
        ('a', 1, false),
        ('b', 1, false),
    ];
    let out: Vec<_> = within(
        stream::iter(inputs)
            .spawn_ordered_by_key_with(
                config,
                |(k, _, _)| *k,
                |(k, ms, panics)| async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    assert!(!panics, "injected: {k}");
                    (k, ms)
                },
            )
            .collect(),
    )
    .await;
    let of = |key: char| -> Vec<String> {
        out.iter()
            .filter_map(|r| match r {
                Ok((k, ms)) if *k == key => Some(format!("ok {ms}")),
                Ok(_) => None,
                Err(e) => {
                    let k = inputs[e.seq() as usize].0;
                    (k == key).then(|| {
                        let what = if e.is_panic() { "panic" } else { "timeout" };
                        format!("{what} @{}", e.seq())
                    })
                }
            })
            .collect()
    };
    assert_eq!(of('a'), ["ok 10", "panic @2", "ok 1"]);
    assert_eq!(of('b'), ["ok 5", "timeout @3", "ok 1"]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn window_bounds_held_results_behind_a_slow_head_key() {
    let pulled = Counter::default();
    let (release, hold) = oneshot::channel::<()>();
    let hold = Arc::new(Mutex::new(Some(hold)));
    let p = pulled.clone();
    // An endless input, all of key 0; the first input waits for `release`.
    let inputs = stream::iter(0usize..).inspect(move |_| {
        p.incr();
    });
    let config = KeyedConfig::new(4).window(10);
    let mut s = inputs.spawn_ordered_by_key_with(
        config,
        |_| 0u8,
        move |i| {
            let hold = if i == 0 {
                hold.lock().unwrap().take()
            } else {
                None
            };
            async move {
                if let Some(hold) = hold {
                    let _ = hold.await;
                }
                i
            }
        },
    );
    // Nothing can be yielded: poll until everything that can run has finished.
    let blocked = tokio::time::timeout(Duration::from_secs(1), s.next()).await;
    assert!(blocked.is_err(), "key 0's head has not finished");
    assert_eq!(s.buffered_len(), 9, "window - 1 running head = 9 held");
    assert_eq!(s.in_flight(), 1);
    assert_eq!(
        pulled.get(),
        10,
        "the input is pulled lazily, up to the window"
    );
    assert!(s.peak_buffered() <= 10);
    release.send(()).unwrap();
    for expected in 0..100 {
        assert_eq!(within(s.next()).await.unwrap().unwrap(), expected);
        assert!(s.buffered_len() + s.in_flight() <= 10);
    }
    assert!(s.peak_buffered() <= 10);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn waiting_inputs_count_against_the_window_and_other_keys_still_run() {
    // per_key_limit(1): key 0's first input blocks, its later ones queue; key 1's inputs
    // further on still run until the window is full of waiting key-0 inputs.
    let (release, hold) = oneshot::channel::<()>();
    let hold = Arc::new(Mutex::new(Some(hold)));
    let inputs: Vec<(u8, usize)> = (0..6)
        .map(|i| (0, i))
        .chain((6..40).map(|i| (1, i)))
        .collect();
    let config = KeyedConfig::new(4).per_key_limit(1).window(8);
    let mut s = stream::iter(inputs).spawn_ordered_by_key_with(
        config,
        |(k, _)| *k,
        move |(k, i)| {
            let hold = if i == 0 {
                hold.lock().unwrap().take()
            } else {
                None
            };
            async move {
                if let Some(hold) = hold {
                    let _ = hold.await;
                }
                (k, i)
            }
        },
    );
    // Key 0: 1 running + 5 waiting = 6 inside; key 1 has 2 more places and flows through.
    let mut key1 = Vec::new();
    for _ in 0..34 {
        let (k, i) = within(s.next()).await.unwrap().unwrap();
        assert_eq!(k, 1);
        key1.push(i);
        assert!(s.buffered_len() + s.in_flight() <= 8);
    }
    assert!(key1.into_iter().eq(6..40));
    assert_eq!(s.buffered_len(), 5, "key 0's five waiting inputs");
    release.send(()).unwrap();
    let rest: Vec<_> = within(s.map(Result::unwrap).collect::<Vec<_>>()).await;
    assert_eq!(rest, (0..6).map(|i| (0, i)).collect::<Vec<_>>());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn dropping_the_stream_aborts_every_task() {
    let started = Counter::default();
    let dropped = Counter::default();
    let (st, dr) = (started.clone(), dropped.clone());
    let mut s = stream::iter(0..100u32).spawn_ordered_by_key(
        8,
        |i| i % 3,
        move |_| {
            st.incr();
            let guard = DropGuard(dr.clone());
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            }
        },
    );
    assert!(tokio::time::timeout(Duration::from_millis(10), s.next())
        .await
        .is_err());
    settle().await;
    assert_eq!(started.get(), 8);
    assert_eq!(s.in_flight(), 8);
    drop(s);
    within(eventually("every task aborted", || dropped.get() == 8)).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn total_order_keeps_input_order_and_the_per_key_limit() {
    let per_key: Arc<Mutex<HashMap<u32, (usize, usize)>>> = Arc::default();
    let pk = per_key.clone();
    let config = KeyedConfig::new(6).per_key_limit(1).total_order(true);
    let out: Vec<usize> = within(
        stream::iter(0..60usize)
            .spawn_ordered_by_key_with(
                config,
                |i| (i % 4) as u32,
                move |i| {
                    let pk = pk.clone();
                    async move {
                        let k = (i % 4) as u32;
                        {
                            let mut pk = pk.lock().unwrap();
                            let e = pk.entry(k).or_default();
                            e.0 += 1;
                            e.1 = e.1.max(e.0);
                        }
                        tokio::time::sleep(Duration::from_millis((i as u64 * 7) % 13)).await;
                        pk.lock().unwrap().get_mut(&k).unwrap().0 -= 1;
                        i
                    }
                },
            )
            .map(Result::unwrap)
            .collect(),
    )
    .await;
    assert!(out.into_iter().eq(0..60));
    assert!(per_key.lock().unwrap().values().all(|(_, max)| *max == 1));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn drained_keys_are_forgotten() {
    let mut s = stream::iter(0..1_000u32).spawn_ordered_by_key(
        4,
        |i| *i,
        |i| async move {
            tokio::time::sleep(Duration::from_millis(u64::from(i % 5))).await;
            i
        },
    );
    let mut n = 0;
    while let Some(r) = within(s.next()).await {
        r.unwrap();
        n += 1;
        assert!(
            s.active_keys() <= 4,
            "only keys with work inside are remembered"
        );
    }
    assert_eq!((n, s.active_keys()), (1_000, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_variant_keeps_per_key_order_and_reports_panics() {
    quiet_injected_panics();
    let out: Vec<_> = within(
        stream::iter(0..40u64)
            .spawn_ordered_by_key_blocking(
                KeyedConfig::new(4),
                |i| i % 2,
                |i| {
                    assert!(i != 7, "injected: seven");
                    std::thread::sleep(Duration::from_micros((40 - i) * 50));
                    i
                },
            )
            .collect(),
    )
    .await;
    let odd: Vec<_> = out
        .iter()
        .filter_map(|r| match r {
            Ok(i) if i % 2 == 1 => Some(*i),
            Ok(_) => None,
            Err(e) => Some(e.seq()),
        })
        .collect();
    assert!(odd.into_iter().eq((1..40).step_by(2)));
    assert_eq!(out.iter().filter(|r| r.is_err()).count(), 1);
}

#[tokio::test]
async fn lazy_input_is_not_pulled_before_polling() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = pulled.clone();
    let s = stream::iter(0..10u32)
        .inspect(move |_| {
            p.fetch_add(1, SeqCst);
        })
        .spawn_ordered_by_key(2, |i| *i, |i| async move { i });
    tokio::task::yield_now().await;
    assert_eq!(pulled.load(SeqCst), 0);
    assert_eq!(Stream::size_hint(&s), (10, Some(10)));
    let out: Vec<_> = within(s.map(Result::unwrap).collect::<Vec<_>>()).await;
    assert_eq!(out.len(), 10);
}

// ---- ordered_by_key ----

#[tokio::test]
async fn ordered_by_key_contract_per_key() {
    let arrivals = [
        ("a", 1, 'b'),
        ("b", 0, 'x'),
        ("a", 1, 'B'), // duplicate of a held seq
        ("a", 0, 'a'),
        ("b", 0, 'X'), // late: already yielded
        ("a", 3, 'd'), // a's 2 never comes
    ];
    let out: Vec<_> = within(stream::iter(arrivals).ordered_by_key().collect::<Vec<_>>()).await;
    assert_eq!(
        out,
        [
            ("b", Ok('x')),
            ("a", Ok('a')),
            ("a", Ok('b')),
            ("a", Err(ReorderError::Duplicate { seq: 1, value: 'B' })),
            ("b", Err(ReorderError::Late { seq: 0, value: 'X' })),
            ("a", Err(ReorderError::Missing(2..3))),
            ("a", Ok('d')),
        ]
    );
}

#[tokio::test]
async fn ordered_by_key_window_skips_the_oldest_blocked_key() {
    // Key 1 blocks first, then key 2; the window of 3 is reached by key 2's second value.
    let arrivals = [(1, 1, 'p'), (2, 1, 'x'), (2, 2, 'y'), (1, 0, 'o')];
    let mut s = stream::iter(arrivals).ordered_by_key_with(KeyedReorderConfig::new().window(3));
    let out: Vec<_> = within((&mut s).collect::<Vec<_>>()).await;
    assert_eq!(
        out,
        [
            (1, Err(ReorderError::Missing(0..1))),
            (1, Ok('p')),
            (1, Err(ReorderError::Late { seq: 0, value: 'o' })),
            (2, Err(ReorderError::Missing(0..1))),
            (2, Ok('x')),
            (2, Ok('y')),
        ]
    );
    assert_eq!(s.peak_buffered(), 3);
}

#[tokio::test]
async fn ordered_by_key_near_u64_max_with_a_first_seq() {
    let first = u64::MAX - 1;
    let arrivals = [
        (7, u64::MAX, 'b'),
        (7, first, 'a'),
        (7, u64::MAX, 'c'),
        (8, first, 'z'),
    ];
    let out: Vec<_> = within(
        stream::iter(arrivals)
            .ordered_by_key_with(KeyedReorderConfig::new().first_seq(first))
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(
        out,
        [
            (7, Ok('a')),
            (7, Ok('b')),
            (
                7,
                Err(ReorderError::Late {
                    seq: u64::MAX,
                    value: 'c'
                })
            ),
            (8, Ok('z')),
        ]
    );
}

#[test]
fn keyed_buffer_keys_that_drain_cost_only_a_watermark_and_forget_drops_it() {
    let mut buf = KeyedBuffer::new();
    for key in 0..1_000u32 {
        assert_eq!(buf.insert(&key, 1, key).unwrap(), None);
        assert_eq!(buf.insert(&key, 0, key).unwrap(), Some(key));
        assert_eq!(buf.pop_ready(), Some((key, Ok(key))));
    }
    assert!(buf.is_empty());
    assert_eq!(
        buf.peak_len(),
        1,
        "keys never held more than one value at once"
    );
    assert_eq!(
        buf.tracked_keys(),
        1_000,
        "each drained key remembers its watermark"
    );
    assert!(matches!(
        buf.insert(&5, 1, 0),
        Err(ReorderError::Late { seq: 1, .. })
    ));
    for key in 0..1_000u32 {
        assert!(buf.forget(&key));
    }
    assert_eq!(buf.tracked_keys(), 0);
    // A key that only ever saw late values, or nothing, costs nothing.
    let mut buf = KeyedBuffer::<u32, u32>::starting_at(10);
    assert!(buf.insert(&1, 3, 0).is_err());
    assert_eq!(buf.tracked_keys(), 0);
    assert!(buf.insert(&1, 12, 0).unwrap().is_none());
    assert!(!buf.forget(&1), "a key that holds values is not forgotten");
}

/// Polled outside a runtime, the stream panics before it takes an input, so a caller that
/// catches the panic has lost nothing (the same rule as `spawn_ordered`).
#[test]
fn polling_outside_a_runtime_panics_before_taking_an_input() {
    let pulled = Counter::default();
    let input = stream::iter(0..4u64).inspect({
        let pulled = pulled.clone();
        move |_| {
            pulled.incr();
        }
    });
    let mut results = input.spawn_ordered_by_key(2, |i| i % 2, |i| async move { i });
    let outside = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        futures::executor::block_on(results.next())
    }));
    assert!(outside.is_err(), "no runtime: polling must panic");
    assert_eq!(pulled.get(), 0);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut got: Vec<u64> = runtime.block_on(async {
        let all = within(results.collect::<Vec<_>>()).await;
        all.into_iter().map(Result::unwrap).collect()
    });
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2, 3], "nothing was lost to the panic");
}
