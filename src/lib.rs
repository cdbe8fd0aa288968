//! Run work concurrently on tokio, get the results back strictly in order.
//!
//! Work finishes in any order; `reorder` hands it to a sequential consumer in the order it
//! was started, without losing anything, without hanging, and with memory bounded by
//! configuration (per-key ordering also keeps one watermark for every key it has seen).
//! Underneath everything is one idea: each result carries a sequence
//! number, and a reorder buffer (the next expected number, and the early arrivals: in
//! slots indexed by seq near it, in a min-heap further ahead) releases each result only
//! when its turn comes.
//!
//! # Which tool fits which job
//!
//! | you have | you want | use |
//! |---|---|---|
//! | inputs, and async work per input | the work in parallel on tokio's workers, results in input order, a concurrency limit and bounded memory | [`stream.spawn_ordered(limit, f)`](OrderedExt::spawn_ordered) → [`SpawnOrdered`] |
//! | inputs, and fallible async work (`Result<T, E>`) | the same, one flattened error for `try_collect`, `?` and `anyhow` | [`stream.try_spawn_ordered(limit, f)`](OrderedExt::try_spawn_ordered) → [`TryTaskError`] |
//! | inputs, and synchronous work that blocks its thread (sync I/O, locks, FFI) or hogs a core for tens of milliseconds | the same, on tokio's blocking pool | [`stream.spawn_ordered_blocking(limit, f)`](OrderedExt::spawn_ordered_blocking) |
//! | inputs that belong to keys (accounts, chats, partitions), async work per input | each key's results in its input order, keys never waiting for each other; optionally one task per key at a time | [`stream.spawn_ordered_by_key(limit, key, f)`](OrderedExt::spawn_ordered_by_key) → [`SpawnOrderedByKey`]; [`KeyedConfig`] |
//! | a loop that spawns tasks as it goes | consume their results later, in spawn order | [`OrderedJoinSet`] |
//! | a stream of `(seq, value)` in any order | the values in seq order | [`stream.ordered()`](OrderedExt::ordered) → [`Reorder`] |
//! | a stream of `(key, seq, value)` from several partitions or sources | each key's values in its seq order, keys independent | [`stream.ordered_by_key()`](OrderedExt::ordered_by_key) → [`KeyedReorder`]; [`KeyedBuffer`] bare |
//! | producers in many tasks or threads | one in-order consumer, senders held back by a window | [`channel`] → [`Sender`], [`Receiver`]; per producer that may fail, an owner that gives its seqs up when dropped: [`SeqSlot`] (one seq), [`Sender::lane`] (a stripe), [`Sender::block`] (a block) |
//! | tasks whose *middle* must run in order | one ordered section per task, the rest concurrent | [`Sequencer`] → [`Ticket`], [`Turn`] |
//! | a synchronous loop, a simulation, your own executor | the bare algorithm | [`ReorderBuffer`] |
//! | inputs from a log (Kafka, JetStream, Redis streams), async work per input | results as soon as each finishes, and an offset that is safe to commit | [`stream.spawn_unordered(limit, f)`](OrderedExt::spawn_unordered) → [`SpawnUnordered::watermark`] |
//! | messages processed in tasks of your own, in any order | commit each partition's offset only when everything below it is done, throttled; failures reported for retry | [`commit_tracker`] → [`CommitTracker`], [`InFlight`], [`Commits`]; [`Watermark`] / [`KeyedWatermark`] bare |
//!
//! ## How it compares
//!
//! | what users write today | order | parallel | limit | memory bound | the catch |
//! |---|---|---|---|---|---|
//! | `futures`' `buffered(n)` | yes | no: every future is polled on the consumer's task | `n` | `n` | CPU work runs one job at a time; stalls new work behind one slow future |
//! | `map(tokio::spawn).buffered(n)` | yes | yes | `n` | `n` | stalls behind one slow job: nothing new starts until the oldest is done |
//! | `tokio::task::JoinSet` | no: completion order | yes | none | none | collect everything and sort; nothing comes out until all is done |
//! | tokio-util's `JoinQueue` | yes | yes | none: every task runs at once | none | fine for a known, small batch; unbounded for a stream |
//! | [`spawn_ordered`](OrderedExt::spawn_ordered) | yes | yes | `limit` | `window` | — |
//!
//! `spawn_ordered` yields each result as soon as its turn comes and keeps starting new
//! work while the oldest is slow, up to a window you set. Measured ratios against each
//! of these: see `BENCHMARKS.md`. [`OrderedJoinSet`] is the `JoinQueue`-shaped sibling
//! (spawn in a loop, no limit), with timeouts, positions and introspection on top.
//!
//! ## Blocking work
//!
//! [`spawn_ordered_blocking`](OrderedExt::spawn_ordered_blocking) is for jobs that block
//! their thread (synchronous I/O, a lock, a C library), or CPU jobs so long (tens of
//! milliseconds and up) that they would keep tokio's workers from other tasks. Plain CPU
//! work is faster as code inside `spawn_ordered`'s async block, since tokio's workers
//! already run the jobs in parallel and the blocking pool's hand-off costs more than it
//! saves: measured on 2 cores at limit 8, 0.72× (50 µs jobs) and 0.88× (1 ms jobs) the
//! time of `map(spawn_blocking).buffered(8)`, against 0.93–0.94× for
//! `spawn_ordered_blocking` (`BENCHMARKS.md`). On the blocking pool, set `limit` above the
//! core count, since its threads are not tokio's workers.
//!
//! ## Closures that capture state
//!
//! The job closure is called once per input, so it must be `FnMut`, and each call
//! returns a future that is spawned as its own `'static` task. An async closure
//! (`async move |x| { … }`) that uses captured state is rejected ("async closure does
//! not implement `FnMut` because it captures state"). Write a plain closure that clones
//! what the task needs and returns an `async move` block:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Arc;
//! use futures::{stream, TryStreamExt};
//! use reorder::OrderedExt;
//!
//! /// A client shared by every task (a connection pool, an HTTP client…).
//! struct Client {
//!     prices: HashMap<&'static str, u32>,
//! }
//!
//! impl Client {
//!     async fn price(&self, item: &str) -> Result<u32, String> {
//!         self.prices.get(item).copied().ok_or_else(|| format!("no price for {item}"))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let client = Arc::new(Client { prices: HashMap::from([("tea", 3), ("cake", 5)]) });
//! let prices: Vec<u32> = stream::iter(["tea", "cake", "tea"])
//!     .try_spawn_ordered(2, move |item| {
//!         let client = Arc::clone(&client); // one clone per task…
//!         async move { client.price(item).await } // …moved into its future
//!     })
//!     .try_collect()
//!     .await
//!     .unwrap();
//! assert_eq!(prices, [3, 5, 3]);
//! # }
//! ```
//!
//! # The contract
//!
//! | event | what you see |
//! |---|---|
//! | the next expected seq arrives | `Ok(value)` at once (it is never held) |
//! | a later seq arrives | held until every earlier seq has been yielded |
//! | a seq below the watermark arrives (after a skip, or a copy of a yielded one) | `Err(Late { seq, value })` at once, value handed back |
//! | a held seq arrives again | the first copy in its position, then `Err(Duplicate { seq, value })` |
//! | the input ends with holes | `Err(Missing(range))` for each hole, in order among the held values, then `None` |
//! | a channel producer gives its seq up ([`Sender::give_up`], or its [`SeqSlot`] is dropped unsent) | `Err(Missing(seq..seq + 1))` in its position, no waiting |
//! | a channel producer that owns many seqs dies (its [`Lane`] — from [`Sender::lane`] or [`Sender::block`] — is dropped, or it called [`Sender::give_up_range`]) | each of its seqs `Missing` in position, promptly; no hang, no timeout per seq |
//! | a flood of give-ups far ahead of the window | kept as compact ranges apart from the values: no value is ever skipped or `Late` because of them |
//! | a channel seq nobody sends nor gives up, while producers live on | waits; a head-of-line timeout skips the gap up to the next seq known to come (one timeout per such gap; what turns up later in it is `Late`); `Duration::MAX` means never |
//! | the window fills or the head-of-line timeout fires | the missing head is skipped as `Err(Missing(range))`; if it turns up later it is `Late` |
//! | seqs near `u64::MAX`, a first seq other than 0 | correct, no overflow |
//! | a spawned task panics or times out | a [`TaskError`] in that task's position; the rest go on |
//! | the job closure `f` (or `spawn_ordered_by_key`'s `key`) itself panics (it runs in the consumer's poll) | the panic reaches the consumer; one that catches it and polls on gets a cancelled [`TaskError`] in that input's position (a failure under a commit watermark) |
//! | a slow input of key A ([`spawn_ordered_by_key`](OrderedExt::spawn_ordered_by_key), [`ordered_by_key`](OrderedExt::ordered_by_key)) | only A's later results wait; other keys flow |
//! | the consumer drops a task stream or set | every task it spawned is aborted (a blocking closure already running finishes; its result is dropped) |
//! | a [`Ticket`] is dropped before its turn, or a turn's holder panics | the turn passes on; nobody hangs |
//! | a failed item under a commit watermark (a failed or dropped [`InFlight`], an `Err` from [`spawn_unordered`](OrderedExt::spawn_unordered)) | the watermark stops below it and the failure is reported; never committed silently |
//! | an offset is completed twice or never registered, or registered backwards | a [`WatermarkError`] naming the offset; nothing changes (completing in any order is the point, not an error) |
//!
//! # Commit offsets safely
//!
//! A log consumer that processes messages in parallel finishes them in any order, but may
//! commit an offset only once every message below it is done — or a crash loses data.
//! Real offsets are sparse (compaction and transactions leave gaps), so "last + 1" is not
//! the next offset either. A commit watermark tracks that: offsets are registered in
//! order as they are read, completed in any order, and the watermark is the lowest offset
//! not yet complete, or one past the highest when all are — Kafka's *next offset to
//! consume*, which is what a commit records. A failure holds the watermark below it until
//! it is retried (in place, same offset) or dead-lettered.
//!
//! ```
//! use std::time::Duration;
//! use futures::StreamExt;
//! use reorder::{commit_tracker, CommitEvent, Throttle};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let log = [(10u64, 5u64), (12, 10), (13, 20), (17, 40)]; // (offset, ms to process)
//! let committed = 10; // where the last run left off
//! let (tracker, commits) = commit_tracker(committed);
//! let mut commits = commits.throttle(Throttle::new().interval(Duration::from_millis(100)));
//! for (offset, ms) in log.into_iter().filter(|(o, _)| *o >= committed) {
//!     let guard = tracker.register(offset).unwrap(); // dropped unfinished = failed
//!     tokio::spawn(async move {
//!         tokio::time::sleep(Duration::from_millis(ms)).await;
//!         if offset == 13 {
//!             guard.fail(); // a downstream hiccup
//!         } else {
//!             guard.complete();
//!         }
//!     });
//! }
//! drop(tracker); // the stream ends once every guard is settled
//! let mut broker = Vec::new();
//! while let Some(event) = commits.next().await {
//!     match event {
//!         CommitEvent::Commit(offset) => broker.push(offset),
//!         CommitEvent::Failed(offset) => {
//!             assert_eq!(offset, 13);
//!             assert_eq!(commits.watermark(), 13); // 10 and 12 are done; 13 holds it
//!             commits.retry(offset).unwrap().complete(); // retried in place, succeeds
//!         }
//!     }
//! }
//! // 12 at once; then the throttle holds commits back for 100 ms, and the last one goes
//! // out when every guard is settled.
//! assert_eq!(broker, [12, 18]);
//! # }
//! ```
//!
//! [`spawn_unordered`](OrderedExt::spawn_unordered) does the same for work it spawns:
//! results in completion order, tagged with their input position, and a
//! [`watermark`](SpawnUnordered::watermark) over those positions. For results in input
//! order, [`spawn_ordered`](OrderedExt::spawn_ordered)'s
//! [`next_seq`](SpawnOrdered::next_seq) is the watermark: commits simply follow the
//! results you have handled. With [`spawn_ordered_by_key`](OrderedExt::spawn_ordered_by_key)
//! keyed by partition, each partition's results come in its own input order, so each
//! partition's commit follows its own results: after handling a message's result, its
//! offset + 1 is safe to commit for that partition (carry the offset in the job's
//! output; a failure comes in its position too, so retry or dead-letter it first). `examples/commit_offsets.rs` consumes a partitioned log,
//! crashes half-way, and resumes from the committed offsets with nothing lost.
//!
//! # Examples
//!
//! Parallel work, results in input order:
//!
//! ```
//! use std::time::Duration;
//! use futures::{stream, StreamExt};
//! use reorder::OrderedExt;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let mut results = stream::iter(0..10u64).spawn_ordered(4, |i| async move {
//!     tokio::time::sleep(Duration::from_millis(100 - 10 * i)).await; // later ones finish first
//!     i * i
//! });
//! let mut expected = 0;
//! while let Some(square) = results.next().await {
//!     assert_eq!(square.unwrap(), expected * expected);
//!     expected += 1;
//! }
//! assert_eq!(expected, 10);
//! # }
//! ```
//!
//! Reordering a stream of numbered values:
//!
//! ```
//! use futures::{stream, StreamExt};
//! use reorder::{OrderedExt, ReorderError};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let arrivals = stream::iter([(1, "b"), (0, "a"), (3, "d")]); // 2 never comes
//! let out: Vec<_> = arrivals.ordered().collect().await;
//! assert_eq!(out, [Ok("a"), Ok("b"), Err(ReorderError::Missing(2..3)), Ok("d")]);
//! # }
//! ```
//!
//! Order within each key only, so a slow account holds back nobody else:
//!
//! ```
//! use std::time::Duration;
//! use futures::{stream, StreamExt};
//! use reorder::OrderedExt;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let events = [("alice", 1, 500), ("bob", 1, 10), ("alice", 2, 10), ("bob", 2, 10)];
//! let out: Vec<_> = stream::iter(events)
//!     .spawn_ordered_by_key(4, |(account, ..)| *account, |(account, n, ms)| async move {
//!         tokio::time::sleep(Duration::from_millis(ms)).await;
//!         (account, n)
//!     })
//!     .map(Result::unwrap)
//!     .collect()
//!     .await;
//! assert_eq!(out, [("bob", 1), ("bob", 2), ("alice", 1), ("alice", 2)]);
//! # }
//! ```
//!
//! Ordered sections inside concurrent tasks:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use reorder::Sequencer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let sequencer = Sequencer::new();
//! let ledger = Arc::new(Mutex::new(Vec::new()));
//! let tickets: Vec<_> = (0..4).map(|_| sequencer.ticket()).collect(); // seq 0, 1, 2, 3
//! let mut tasks = Vec::new();
//! for (i, ticket) in tickets.into_iter().enumerate().rev() {
//!     // Spawned backwards: the order of the sections still holds.
//!     let ledger = ledger.clone();
//!     tasks.push(tokio::spawn(async move {
//!         let turn = ticket.wait().await; // every earlier ticket has had its turn
//!         ledger.lock().unwrap().push(i);
//!         drop(turn); // the next ticket's turn
//!     }));
//! }
//! for task in tasks {
//!     task.await.unwrap();
//! }
//! assert_eq!(*ledger.lock().unwrap(), [0, 1, 2, 3]);
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod buffer;
mod give_up;
mod head_timer;
mod slots;
pub use buffer::ReorderBuffer;

mod channel;
pub use channel::{channel, channel_with, Lane, Receiver, Sender, SeqSlot};

mod commit;
pub use commit::{commit_tracker, CommitEvent, CommitTracker, Commits, InFlight, Throttle};

mod error;
pub use error::{ReorderError, SendError, TaskError, TrySendError, WatermarkError};

mod ext;
pub use ext::OrderedExt;

mod join_set;
pub use join_set::{OrderedJoinSet, TaskHandle};

mod keyed;
pub use keyed::KeyedBuffer;

mod keyed_reorder;
pub use keyed_reorder::{KeyedReorder, KeyedReorderConfig};

mod next_item;
mod reorder;
pub use reorder::{Reorder, ReorderConfig};

mod sequenced;
pub use sequenced::Sequenced;

mod sequencer;
pub use sequencer::{Sequencer, Ticket, Turn, Wait};

mod spawn;
pub use spawn::{BlockingConfig, SpawnConfig, SpawnOrdered, SpawnOrderedBlocking};

mod spawn_by_key;
pub use spawn_by_key::{KeyedConfig, SpawnOrderedByKey, SpawnOrderedByKeyBlocking};

mod tasks;

mod try_spawn;
pub use try_spawn::{TrySpawnOrdered, TryTaskError};

mod unordered;
pub use unordered::SpawnUnordered;

mod watermark;
pub use watermark::Watermark;

mod keyed_watermark;
pub use keyed_watermark::KeyedWatermark;

/// The README's code, compiled and run as doctests so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
