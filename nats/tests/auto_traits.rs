//! What can cross threads: checked at compile time.

use futures::stream::Iter;
use reorder_nats::durable::{DurableError, Process, Processed};
use reorder_nats::{
    AttemptFailure, DispatchConfig, DispatchError, DispatchOrdered, Dispatcher, Job, LocalServer,
    Stats, Worker, WorkerReport,
};

fn send<T: Send>() {}
fn sync<T: Sync>() {}
fn unpin<T: Unpin>() {}

#[test]
fn auto_traits() {
    send::<Dispatcher>();
    sync::<Dispatcher>();
    send::<DispatchConfig>();
    sync::<DispatchConfig>();
    send::<Stats>();
    sync::<Stats>();
    send::<DispatchError>();
    sync::<DispatchError>();
    send::<AttemptFailure>();
    sync::<AttemptFailure>();
    type Jobs = Iter<std::vec::IntoIter<bytes::Bytes>>;
    send::<DispatchOrdered<Jobs>>();
    unpin::<DispatchOrdered<Jobs>>();
    send::<Worker>();
    sync::<Worker>();
    send::<Job>();
    sync::<Job>();
    send::<WorkerReport>();
    send::<LocalServer>();
    sync::<LocalServer>();
    send::<Process<u64>>();
    unpin::<Process<u64>>();
    send::<Processed<u64>>();
    sync::<Processed<u64>>();
    send::<DurableError>();
    sync::<DurableError>();
}
