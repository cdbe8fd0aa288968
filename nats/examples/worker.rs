//! A worker: serves `reorder.jobs` in the queue group `reorder-workers` with a simulated
//! job (sleep for the job's milliseconds, answer with its id and this process's pid).
//! Start as many as you like, on any machines that reach the server:
//!
//! ```text
//! cargo run -p reorder-nats --bin worker -- --server nats://host:4222
//! ```
//!
//! Ctrl-C or SIGTERM drains it: it takes nothing new, finishes what it holds, replies, and
//! exits. It is a `[[bin]]` (not an example) so that the integration tests can start real
//! worker processes (`CARGO_BIN_EXE_worker`); that is also why its few flags are parsed by
//! hand: a bin cannot use the dev-dependency `clap`, and clap should not become a
//! dependency of the library.

use std::process::ExitCode;

#[path = "common/sim.rs"]
mod sim;

const USAGE: &str =
    "usage: worker [--server URL] [--subject S] [--group G] [--concurrency N] [--quiet]
  --server URL       the NATS server (default nats://127.0.0.1:4222)
  --subject S        the subject to serve (default reorder.jobs)
  --group G          the queue group (default reorder-workers)
  --concurrency N    jobs run at once (default 64)
  --quiet            no line per job";

struct Flags {
    server: String,
    subject: String,
    group: String,
    concurrency: usize,
    quiet: bool,
}

fn parse() -> Result<Flags, String> {
    let mut flags = Flags {
        server: "nats://127.0.0.1:4222".into(),
        subject: sim::SUBJECT.into(),
        group: sim::GROUP.into(),
        concurrency: 64,
        quiet: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--server" => flags.server = value()?,
            "--subject" => flags.subject = value()?,
            "--group" => flags.group = value()?,
            "--concurrency" => {
                flags.concurrency = value()?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--concurrency takes a number ≥ 1")?;
            }
            "--quiet" => flags.quiet = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(flags)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let flags = match parse() {
        Ok(flags) => flags,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let run = sim::run_worker(
        &flags.server,
        &flags.subject,
        &flags.group,
        flags.concurrency,
        flags.quiet,
    );
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("worker: {e}");
            ExitCode::FAILURE
        }
    }
}
