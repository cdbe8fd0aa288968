//! `Send`/`Sync`/`Unpin` for every public type that should have them, checked at compile
//! time. A regression (say, an `Rc` or a raw `Pin<&mut>` field) fails the build.

#![allow(dead_code)]

use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;

use futures::stream::{self, Stream};
use reorder::{
    BlockingConfig, OrderedExt, OrderedJoinSet, Receiver, Reorder, ReorderBuffer, ReorderConfig,
    ReorderError, SendError, Sender, SeqSlot, Sequencer, SpawnConfig, SpawnOrdered,
    SpawnOrderedBlocking, TaskError, TaskHandle, Ticket, TrySendError, TryTaskError, Turn, Wait,
};

fn send_sync_unpin<T: Send + Sync + Unpin>() {}
fn send_unpin<T: Send + Unpin>() {}
fn send<T: Send>() {}
fn unpin<T: Unpin>() {}
fn send_sync<T: Send + Sync>() {}
fn is_send_sync_unpin<T: Send + Sync + Unpin>(_: &T) {}
fn is_send_unpin<T: Send + Unpin>(_: &T) {}

/// A value that is `Send` but neither `Sync` nor `Unpin`.
struct SendOnly(std::cell::Cell<u8>, PhantomPinned);

#[test]
fn plain_types() {
    send_sync_unpin::<ReorderConfig>();
    send_sync_unpin::<SpawnConfig>();
    send_sync_unpin::<Sequencer>();
    send_sync_unpin::<Ticket>();
    send_sync_unpin::<Turn>();
    send_sync_unpin::<Wait>();
    send_sync_unpin::<TaskError>();
    send_sync_unpin::<BlockingConfig>();
    send_sync_unpin::<TaskHandle>();
    send_sync_unpin::<TryTaskError<std::io::Error>>();
    send_sync_unpin::<std::io::Error>(); // harness sanity
}

#[test]
fn value_carrying_types_follow_their_value() {
    send_sync_unpin::<ReorderBuffer<u64>>();
    send_sync_unpin::<ReorderError<u64>>();
    send_sync_unpin::<SendError<u64>>();
    send_sync_unpin::<TrySendError<u64>>();
    send::<ReorderBuffer<SendOnly>>();
    // Held values are moved, never pinned: a `!Unpin` value keeps the buffer `Unpin`.
    unpin::<ReorderBuffer<PhantomPinned>>();
    // Errors are boxable as `dyn Error + Send + Sync`.
    let _: Box<dyn std::error::Error + Send + Sync> = Box::new(ReorderError::<u64>::Missing(0..1));
    let _: Box<dyn std::error::Error + Send + Sync> = Box::new(SendError { seq: 0, value: 1u8 });
}

#[test]
fn channel_halves() {
    send_sync_unpin::<Sender<u64>>();
    send_sync_unpin::<SeqSlot<u64>>();
    send_sync_unpin::<Receiver<u64>>();
    // A `Send`-only value still gives `Send + Sync` senders and a `Send` receiver, as with
    // tokio's mpsc.
    send_sync::<Sender<std::cell::Cell<u8>>>();
    send_unpin::<Receiver<std::cell::Cell<u8>>>();
}

/// The futures of `Receiver::recv` and `Reorder::next` (named types behind `impl Future`)
/// are `Send` and `Unpin` whenever what they borrow is, as an `async fn`'s would be, so
/// they can be awaited in spawned tasks and `select!`ed without pinning.
#[test]
fn receive_futures_are_send_and_unpin() {
    let (_tx, mut rx) = reorder::channel::<String>(4);
    is_send_unpin(&rx.recv());
    let mut ordered = stream::iter(vec![(0u64, String::new())]).ordered();
    is_send_unpin(&ordered.next());
}

#[test]
fn reorder_adapter_follows_its_stream() {
    send_sync_unpin::<Reorder<stream::Iter<std::vec::IntoIter<(u64, String)>>>>();
    // Over a `!Unpin` stream the adapter is `!Unpin` (it pins the stream) but still `Send`.
    send::<Reorder<Pin<Box<dyn Stream<Item = (u64, u8)> + Send>>>>();
    send_sync_unpin::<OrderedJoinSet<u64>>();
    // Results are moved out, never pinned: a `!Unpin` output keeps the set `Unpin`.
    unpin::<OrderedJoinSet<PhantomPinned>>();
}

#[tokio::test]
async fn task_streams() {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        // `spawn_ordered` over an `Unpin` input is `Unpin` even though its futures (async
        // blocks) are not: they live in spawned tasks, not in the stream.
        let s = stream::iter(0..3u64).spawn_ordered(2, |i| async move {
            let _pinned = PhantomPinned;
            tokio::task::yield_now().await;
            i
        });
        is_send_sync_unpin(&s);
        let b = stream::iter(0..3u64).spawn_ordered_blocking(2, |i| i + 1);
        is_send_sync_unpin(&b);
        // And a `!Sync` closure state still gives a `Send` stream.
        let cell = std::cell::Cell::new(0u64);
        let c = stream::iter(0..3u64).spawn_ordered(2, move |i| {
            cell.set(cell.get() + i);
            async move { i }
        });
        is_send_unpin(&c);
        // Collecting it is a `Send` future, so it can be spawned.
        let collect: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
            use futures::StreamExt;
            drop(c.collect::<Vec<_>>().await);
        });
        tokio::time::timeout(std::time::Duration::from_secs(10), tokio::spawn(collect))
            .await
            .expect("collecting instant jobs hung")
            .unwrap();
        fn named<S, Fut, F>(_: &SpawnOrdered<S, Fut, F>)
        where
            Fut: Future,
        {
        }
        named(&s);
        fn named_blocking<S, F, R>(_: &SpawnOrderedBlocking<S, F, R>) {}
        named_blocking(&b);
    })
    .await
    .expect("test timed out: something hangs");
}

#[test]
fn try_spawn_ordered_is_send_and_unpin() {
    let s =
        stream::iter(0..3u64).try_spawn_ordered(2, |i| async move { Ok::<_, std::io::Error>(i) });
    is_send_unpin(&s);
}

#[tokio::test]
async fn keyed_types() {
    send_sync_unpin::<reorder::KeyedConfig>();
    send_sync_unpin::<reorder::KeyedReorderConfig>();
    send_sync_unpin::<reorder::KeyedBuffer<String, u64>>();
    // Held values are moved, never pinned: `Unpin` whatever the key and value.
    unpin::<reorder::KeyedBuffer<SendOnly, SendOnly>>();
    send::<reorder::KeyedBuffer<u8, SendOnly>>();
    let r = stream::iter([(1u8, 0u64, 'a')]).ordered_by_key();
    is_send_sync_unpin(&r);
    let s = stream::iter(0..3u64).spawn_ordered_by_key(2, |i| i % 2, |i| async move { i });
    is_send_sync_unpin(&s);
    let b = stream::iter(0..3u64).spawn_ordered_by_key_blocking(
        reorder::KeyedConfig::new(2),
        |i| i % 2,
        |i| i,
    );
    is_send_sync_unpin(&b);
    // Collecting it is a `Send` future, so it can be spawned.
    let collect: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
        use futures::StreamExt;
        assert_eq!(s.collect::<Vec<_>>().await.len(), 3);
    });
    tokio::time::timeout(std::time::Duration::from_secs(10), tokio::spawn(collect))
        .await
        .expect("collecting instant jobs hung")
        .unwrap();
}

/// `Receiver::recv` and `Reorder::next` return futures that only borrow the stream:
/// `Send` whenever the stream is (so a task that awaits one can be spawned), `Sync` when
/// it is, and always `Unpin` (so `select!` and `poll!` take them without pinning), as
/// `StreamExt::next`'s future is.
#[test]
fn recv_and_next_futures_follow_their_stream_and_are_unpin() {
    let (_tx, mut rx) = reorder::channel::<String>(4);
    is_send_sync_unpin(&rx.recv());
    let (_tx, mut rx) = reorder::channel::<SendOnly>(4);
    is_send_unpin(&rx.recv());
    let mut ordered = stream::iter([(0u64, String::new())]).ordered();
    is_send_sync_unpin(&ordered.next());
    let mut ordered = stream::iter([(0u64, SendOnly(Default::default(), PhantomPinned))]).ordered();
    is_send_unpin(&ordered.next());
}
