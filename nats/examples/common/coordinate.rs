//! The coordinator's loop the examples share: dispatch simulated jobs, tally replies.
//! Needs `crate::sim` (examples only: it uses the dev-dependency `rand`).
#![allow(dead_code)]

use bytes::Bytes;

use crate::sim::{job, parse_reply};

/// What a coordinator run saw.
#[derive(Debug, Default)]
pub struct Summary {
    /// Replies taken, in the order they came.
    pub ids: Vec<u64>,
    /// Jobs that ended in an error (with the error).
    pub errors: Vec<String>,
    /// Replies per worker pid.
    pub by_worker: std::collections::BTreeMap<u32, u64>,
}

impl Summary {
    /// Every job answered, in input order, once.
    pub fn all_in_order(&self, jobs: u64) -> bool {
        self.errors.is_empty() && self.ids.iter().copied().eq(0..jobs)
    }
}

/// Dispatches `jobs` simulated jobs (work U[0, max_work_ms]) in order; prints each reply
/// when `print_each`, calls `after(n)` after the n-th reply.
pub async fn coordinate(
    dispatcher: &reorder_nats::Dispatcher,
    jobs: u64,
    max_work_ms: u64,
    seed: u64,
    print_each: bool,
    mut after: impl FnMut(u64),
) -> Summary {
    use futures_util::StreamExt;
    use rand::{rngs::StdRng, RngExt, SeedableRng};

    let mut rng = StdRng::seed_from_u64(seed);
    let payloads: Vec<Bytes> = (0..jobs)
        .map(|i| job(i, rng.random_range(0..=max_work_ms)))
        .collect();
    let mut replies = dispatcher.dispatch(futures_util::stream::iter(payloads));
    let mut summary = Summary::default();
    let mut n = 0u64;
    while let Some(result) = replies.next().await {
        match result.map(|r| parse_reply(&r)) {
            Ok(Some((id, pid))) => {
                if print_each {
                    println!("job {id:>5} <- worker {pid}");
                }
                summary.ids.push(id);
                *summary.by_worker.entry(pid).or_default() += 1;
            }
            Ok(None) => summary.errors.push("a reply that does not parse".into()),
            Err(e) => {
                if print_each {
                    println!("job {:>5} failed: {e}", e.seq());
                }
                summary.errors.push(e.to_string());
            }
        }
        n += 1;
        after(n);
    }
    summary
}
