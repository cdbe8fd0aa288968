//! The simulated job the examples and tests share: a request is `"<id> <work_ms>"`, the
//! worker sleeps `work_ms` and replies `"<id> <pid>"`.
#![allow(dead_code)]

use bytes::Bytes;

/// The subject the examples serve.
pub const SUBJECT: &str = "reorder.jobs";
/// The queue group the examples' workers join.
pub const GROUP: &str = "reorder-workers";

/// A job's request payload.
pub fn job(id: u64, work_ms: u64) -> Bytes {
    Bytes::from(format!("{id} {work_ms}"))
}

/// `(id, work_ms)` from a request payload.
pub fn parse_job(payload: &[u8]) -> Result<(u64, u64), String> {
    let text = std::str::from_utf8(payload).map_err(|e| e.to_string())?;
    let mut parts = text.split(' ');
    let mut number = || -> Result<u64, String> {
        parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("bad job {text:?}"))
    };
    Ok((number()?, number()?))
}

/// A reply payload.
pub fn reply(id: u64, pid: u32) -> Bytes {
    Bytes::from(format!("{id} {pid}"))
}

/// `(id, pid)` from a reply payload.
pub fn parse_reply(payload: &[u8]) -> Option<(u64, u32)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (id, pid) = text.split_once(' ')?;
    Some((id.parse().ok()?, pid.parse().ok()?))
}

/// Serves the simulated job until Ctrl-C or SIGTERM, then drains: the worker bin, and
/// the demo's worker processes.
pub async fn run_worker(
    server: &str,
    subject: &str,
    group: &str,
    concurrency: usize,
    quiet: bool,
) -> Result<(), String> {
    use std::time::Duration;

    use reorder_nats::{Job, Worker};

    let client = async_nats::connect(server)
        .await
        .map_err(|e| format!("cannot connect to {server}: {e}"))?;
    let pid = std::process::id();
    eprintln!("worker {pid}: serving {subject} in group {group} on {server}");
    let handler = move |job: Job| async move {
        let (id, work) = parse_job(job.payload())?;
        tokio::time::sleep(Duration::from_millis(work)).await;
        if !quiet {
            eprintln!("worker {pid}: job {id} done");
        }
        Ok::<Bytes, String>(reply(id, pid))
    };
    let report = Worker::new(client, subject, group)
        .concurrency(concurrency)
        .serve(handler, shutdown())
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "worker {pid}: drained; {} replied, {} failed",
        report.replied, report.failed
    );
    Ok(())
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
