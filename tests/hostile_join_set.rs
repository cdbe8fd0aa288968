//! Hostile tests for `OrderedJoinSet`, `try_spawn_ordered` and `spawn_ordered_blocking`:
//! each test names the documented promise it tries to break.
//!
//! Out-of-order completion is forced with oneshot channels or paused time, never with real
//! sleeps; every async test runs under a timeout so a hang fails instead of stalling.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use futures::stream::{self, FusedStream, Stream, StreamExt};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use reorder::{BlockingConfig, OrderedExt, OrderedJoinSet, SpawnConfig, TryTaskError};
use tokio::sync::oneshot;
use tokio_test::{assert_pending, assert_ready, task};

mod common;
use common::*;

fn current_thread(paused: bool) -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_time();
    if paused {
        builder.start_paused(true);
    }
    builder.build().unwrap()
}

/// A value with no `Debug`, `Clone` or anything else.
struct Opaque(#[allow(dead_code)] u64);

// ---------------------------------------------------------------------------------------
// Introspection: peak_buffered, in_flight, buffered_len, len
// ---------------------------------------------------------------------------------------

/// Promise (`peak_buffered`): "the most results waiting at once so far". It can never be
/// below what `buffered_len` reports right now. Three tasks finish before the set is
/// polled: taking 0 leaves 1 and 2 waiting, and the peak must say at least 2.
#[tokio::test(start_paused = true)]
async fn peak_buffered_is_never_below_buffered_len_when_the_head_was_ready() {
    within(async {
        let mut set = OrderedJoinSet::new();
        for i in 0..3u64 {
            set.spawn(async move { i });
        }
        settle().await; // all three done, the set never polled
        assert_eq!(set.join_next().await.unwrap().unwrap(), 0);
        assert_eq!(set.buffered_len(), 2);
        assert!(
            set.peak_buffered() >= set.buffered_len(),
            "peak {} < buffered now {}",
            set.peak_buffered(),
            set.buffered_len()
        );
        // try_join_next takes the same path.
        let mut set = OrderedJoinSet::new();
        for i in 0..4u64 {
            set.spawn(async move { i });
        }
        settle().await;
        assert_eq!(set.try_join_next().unwrap().unwrap(), 0);
        assert_eq!(set.buffered_len(), 3);
        assert!(set.peak_buffered() >= 3, "peak {}", set.peak_buffered());
    })
    .await;
}

/// The same promise on the task streams (`SpawnOrdered::peak_buffered`: "the most results
/// waiting at once so far; never more than the window"), here through `try_spawn_ordered`
/// and `spawn_ordered_blocking`, whose jobs all finish between two polls.
#[tokio::test(start_paused = true)]
async fn stream_peak_buffered_is_never_below_buffered_len() {
    within(async {
        let mut s = stream::iter(0..3u64).try_spawn_ordered(3, |i| async move { Ok::<_, ()>(i) });
        assert_pending!(futures::poll!(s.next())); // all three started
        settle().await; // and done
        assert_eq!(s.next().await.unwrap().unwrap(), 0);
        assert_eq!(s.buffered_len(), 2);
        assert!(s.peak_buffered() >= 2, "peak {}", s.peak_buffered());
        assert!(s.peak_buffered() <= 12, "never more than the window");

        let (tx, rx) = std_mpsc::channel::<u64>();
        let mut b = stream::iter(0..3u64).spawn_ordered_blocking(3, move |i| {
            let tx = tx.clone();
            tx.send(i).unwrap();
            i
        });
        assert_pending!(futures::poll!(b.next()));
        // Wait until every closure has run (the blocking pool is off the paused clock).
        let mut ran = 0;
        eventually("the three closures ran", || {
            while rx.try_recv().is_ok() {
                ran += 1;
            }
            ran == 3
        })
        .await;
        // Their results may still be on their way into the handles: poll until 0 is out.
        let first = loop {
            tokio::task::yield_now().await;
            if let std::task::Poll::Ready(r) = futures::poll!(b.next()) {
                break r;
            }
        };
        assert_eq!(first.expect("result 0").unwrap(), 0);
        assert!(
            b.peak_buffered() >= b.buffered_len(),
            "peak {} < buffered now {}",
            b.peak_buffered(),
            b.buffered_len()
        );
    })
    .await;
}
