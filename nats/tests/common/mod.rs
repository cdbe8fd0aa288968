//! Helpers shared by the integration tests: a server of our own, worker processes that
//! die with the test, and a time bound for everything.
#![allow(dead_code)]

use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reorder_nats::LocalServer;

#[path = "../../examples/common/sim.rs"]
pub mod sim;

/// A plain server on 127.0.0.1; fails the test with the reason if it cannot start
/// (`nats-server` missing included: never a silent skip).
pub fn server() -> LocalServer {
    LocalServer::start().unwrap_or_else(|e| panic!("cannot start nats-server: {e}"))
}

/// A JetStream server on 127.0.0.1.
pub fn jetstream_server() -> LocalServer {
    LocalServer::start_jetstream().unwrap_or_else(|e| panic!("cannot start nats-server: {e}"))
}

/// Fails the test instead of hanging it.
pub async fn within<F: Future>(secs: u64, fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("the test did not finish within {secs} s"))
}

/// A `worker` process (the `worker` bin), SIGKILLed on drop if still alive.
pub struct WorkerProcess {
    child: Child,
}

impl WorkerProcess {
    pub fn start(url: &str, extra: &[&str]) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_worker"))
            .args(["--server", url, "--quiet"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the worker bin");
        Self { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, at once; no drain.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (a graceful drain), then waits for the exit, at most `secs`.
    pub fn terminate(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
