//! The tutorial's first approach, in Rust and done better: tasks do their work
//! concurrently, run one middle section strictly in order, then finish concurrently.
//!
//! The tutorial used a shared counter and a condition variable with `notify_all`, which
//! wakes every waiter on every turn. A [`Sequencer`] wakes only the next ticket, and a
//! task that fails before its turn gives the turn up instead of stalling everyone.
//!
//! ```text
//! cargo run --release --example ordered_section
//! cargo run --release --example ordered_section -- --tasks 12 --fail 5 --seed 3
//! ```
//!
//! Flags (`--help` lists them): `--tasks N` (8), `--fail N` (the task that fails before
//! its turn, below `--tasks`; 3; `none` for none), `--seed N` (7), `--quiet` (summary
//! only). Past 20 tasks it shows progress (a bar on a terminal, a line every 10%
//! otherwise) instead of one line per event, and summarises the timeline and the orders.

#[path = "common/mod.rs"]
pub mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use rand::{rngs::StdRng, RngExt, SeedableRng};
use reorder::Sequencer;
use tokio::time::Instant;

use common::{ms, say, Out, Progress};

/// Width of the timeline's bar.
const TIMELINE_COLUMNS: usize = 60;

/// Most tasks a run may ask for.
const MAX_TASKS: usize = 100_000;
/// Above this many tasks, print progress, the first rows of the timeline and the first
/// seqs of each order, not everything.
const MAX_ROWS: usize = 20;

/// Tasks do their work concurrently, run one middle section strictly in order, then
/// finish concurrently; a task that fails before its turn gives the turn up.
#[derive(Clone, Debug, Parser)]
#[command(name = "ordered_section")]
pub struct Args {
    /// How many tasks to run
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = common::count(MAX_TASKS))]
    pub tasks: usize,
    /// The task (0 to tasks - 1) that fails before its turn, or `none`
    #[arg(long, value_name = "N|none", default_value = "3", value_parser = parse_fail)]
    pub fail: std::option::Option<usize>,
    /// Seed of the random durations
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub seed: u64,
    /// Print the summary only
    #[arg(long)]
    pub quiet: bool,
}

/// `none`, or a task number.
fn parse_fail(value: &str) -> Result<Option<usize>, String> {
    match value {
        "none" => Ok(None),
        n => n
            .parse()
            .map(Some)
            .map_err(|_| "expected a task number or `none`".to_owned()),
    }
}

impl Args {
    /// Parses the flags after the program name: unknown flags, bad numbers, zero tasks and
    /// a `--fail` that names no task are errors; `--help` is an error of kind
    /// `DisplayHelp`.
    pub fn from_flags(argv: impl IntoIterator<Item = String>) -> Result<Self, clap::Error> {
        let args = Self::try_parse_from(std::iter::once("ordered_section".to_owned()).chain(argv))?;
        if let Some(fail) = args.fail.filter(|&f| f >= args.tasks) {
            return Err(Self::command().error(
                ErrorKind::ValueValidation,
                format!(
                    "--fail {fail} names no task: --tasks {} runs tasks 0 to {} \
                     (use --fail none for no failure)",
                    args.tasks,
                    args.tasks - 1
                ),
            ));
        }
        Ok(args)
    }
}

/// When each phase of one task began and ended, from the start of the run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Phases {
    pub work_done: Duration,
    pub section: Option<(Duration, Duration)>,
    pub finished: Duration,
}

/// What the run measured.
#[derive(Debug)]
pub struct Report {
    /// Seqs in the order their ordered sections ran.
    pub section_order: Vec<u64>,
    /// Seqs in the order their concurrent work finished.
    pub work_order: Vec<u64>,
    pub phases: Vec<Phases>,
    /// The most tasks in their concurrent first part at once.
    pub peak_concurrent: usize,
    /// Whether two ordered sections ever ran at the same time.
    pub sections_overlapped: bool,
    pub wall: Duration,
    /// The same work run one task after another.
    pub sequential: Duration,
}

#[derive(Default)]
struct Shared {
    section_order: Mutex<Vec<u64>>,
    work_order: Mutex<Vec<u64>>,
    phases: Mutex<Vec<Phases>>,
    in_work: AtomicUsize,
    peak_concurrent: AtomicUsize,
    in_section: AtomicUsize,
    overlapped: AtomicUsize,
}

/// Runs the demo, writing what a person should see to `out`.
pub async fn run(args: &Args, out: Out) -> Report {
    let mut rng = StdRng::seed_from_u64(args.seed);
    // (concurrent work, ordered section, concluding work) per task.
    let plan: Vec<(Duration, Duration, Duration)> = (0..args.tasks)
        .map(|_| {
            (
                Duration::from_millis(rng.random_range(50..=400)),
                Duration::from_millis(rng.random_range(10..=30)),
                Duration::from_millis(rng.random_range(10..=100)),
            )
        })
        .collect();
    let verbose = !args.quiet && args.tasks <= MAX_ROWS;
    if !args.quiet {
        say!(
            out,
            "{} tasks: concurrent work, then an ordered section, then concurrent work; {}\n",
            args.tasks,
            match args.fail {
                Some(i) => format!("task {i} fails before its turn"),
                None => "no task fails".to_owned(),
            }
        );
    }

    let start = Instant::now();
    let sequencer = Sequencer::new();
    let shared = Arc::new(Shared {
        phases: Mutex::new(vec![Phases::default(); args.tasks]),
        ..Shared::default()
    });
    let mut handles = Vec::with_capacity(args.tasks);
    for (i, &(work, section, rest)) in plan.iter().enumerate() {
        // Tickets are taken in the order the sections must run.
        let ticket = sequencer.ticket();
        let (shared, out) = (Arc::clone(&shared), out.clone());
        let fails = args.fail == Some(i);
        handles.push(tokio::spawn(async move {
            let seq = ticket.seq();
            let running = shared.in_work.fetch_add(1, Ordering::SeqCst) + 1;
            shared.peak_concurrent.fetch_max(running, Ordering::SeqCst);
            tokio::time::sleep(work).await;
            shared.in_work.fetch_sub(1, Ordering::SeqCst);
            shared.work_order.lock().unwrap().push(seq);
            shared.phases.lock().unwrap()[i].work_done = start.elapsed();
            if fails {
                if verbose {
                say!(out, "{:>5} ms  task {seq} failed before its turn: its ticket is dropped, the turn passes on", ms(start.elapsed()));
            }
                shared.phases.lock().unwrap()[i].finished = start.elapsed();
                return Err(format!("task {seq} failed"));
            }

            let turn = ticket.wait().await;
            let began = start.elapsed();
            if shared.in_section.fetch_add(1, Ordering::SeqCst) > 0 {
                shared.overlapped.fetch_add(1, Ordering::SeqCst);
            }
            if verbose {
                say!(out, "{:>5} ms  task {seq} is running its ordered section", ms(began));
            }
            shared.section_order.lock().unwrap().push(seq);
            tokio::time::sleep(section).await;
            shared.in_section.fetch_sub(1, Ordering::SeqCst);
            let ended = start.elapsed();
            if verbose {
                say!(out, "{:>5} ms  task {seq} done with its section, turn passes to the next ticket", ms(ended));
            }
            drop(turn);

            tokio::time::sleep(rest).await;
            let mut phases = shared.phases.lock().unwrap();
            phases[i].section = Some((began, ended));
            phases[i].finished = start.elapsed();
            Ok(seq)
        }));
    }
    let mut progress = if verbose || args.quiet {
        Progress::hidden()
    } else {
        Progress::new(&out, args.tasks, "of the tasks done, in ticket order")
    };
    // Awaited in ticket order, which is the order the sections run in.
    for (done, handle) in handles.into_iter().enumerate() {
        // The failing task's error is expected; a panic would be a bug.
        let _ = handle.await.expect("no task panics");
        progress.set(done + 1, || {
            let sections = shared.section_order.lock().unwrap().len();
            format!("sections run so far: {sections}")
        });
    }
    drop(progress);
    let wall = start.elapsed();
    let sequential = plan.iter().map(|&(a, b, c)| a + b + c).sum();
    let take = |m: &Mutex<Vec<u64>>| std::mem::take(&mut *m.lock().unwrap());
    let phases = std::mem::take(&mut *shared.phases.lock().unwrap());
    Report {
        section_order: take(&shared.section_order),
        work_order: take(&shared.work_order),
        phases,
        peak_concurrent: shared.peak_concurrent.load(Ordering::SeqCst),
        sections_overlapped: shared.overlapped.load(Ordering::SeqCst) > 0,
        wall,
        sequential,
    }
}

/// Prints the timeline and the summary.
pub fn print_report(args: &Args, report: &Report, out: &Out) {
    if !args.quiet {
        print_timeline(report, out);
    }
    let expected: Vec<u64> = (0..args.tasks as u64)
        .filter(|&i| Some(i as usize) != args.fail)
        .collect();
    say!(out, "\nsummary");
    say!(
        out,
        "  concurrent work finished in order: {}",
        list(&report.work_order)
    );
    say!(
        out,
        "  ordered sections ran in order:     {} ({})",
        list(&report.section_order),
        if report.section_order == expected {
            "in ticket order"
        } else {
            "NOT in ticket order"
        }
    );
    say!(
        out,
        "  sections overlapped:               {}",
        if report.sections_overlapped {
            "YES"
        } else {
            "never"
        }
    );
    say!(
        out,
        "  concurrent parts running at once:  up to {} of {}",
        report.peak_concurrent,
        args.tasks
    );
    say!(
        out,
        "  wall time:                         {} ms (one after another: {} ms)",
        ms(report.wall),
        ms(report.sequential)
    );
}

/// The timeline, one row per task; past [`MAX_ROWS`] tasks, the first rows only.
fn print_timeline(report: &Report, out: &Out) {
    let scale = report.wall.as_secs_f64().max(1e-3) / TIMELINE_COLUMNS as f64;
    let col = |d: Duration| ((d.as_secs_f64() / scale) as usize).min(TIMELINE_COLUMNS);
    say!(
        out,
        "\ntimeline: - = concurrent work, . = waiting for its turn, # = ordered section, \
             ~ = concluding work, x = failed (one column = {:.0} ms)",
        scale * 1e3
    );
    for (i, p) in report.phases.iter().enumerate().take(MAX_ROWS) {
        let mut bar = "-".repeat(col(p.work_done));
        match p.section {
            Some((began, ended)) => {
                bar.push_str(&".".repeat(col(began).saturating_sub(bar.len())));
                bar.push_str(&"#".repeat(col(ended).saturating_sub(bar.len()).max(1)));
                bar.push_str(&"~".repeat(col(p.finished).saturating_sub(bar.len())));
            }
            None => bar.push('x'),
        }
        say!(out, "  task {i:>2} |{bar}");
    }
    if report.phases.len() > MAX_ROWS {
        say!(
            out,
            "  ... and {} more tasks (the first {MAX_ROWS} shown)",
            report.phases.len() - MAX_ROWS
        );
    }
}

/// Seqs as a list; past [`MAX_ROWS`] of them, the first ones and how many more.
fn list(seqs: &[u64]) -> String {
    if seqs.len() <= MAX_ROWS {
        return format!("{seqs:?}");
    }
    let head: Vec<String> = seqs[..MAX_ROWS].iter().map(u64::to_string).collect();
    format!("[{}, ... {} more]", head.join(", "), seqs.len() - MAX_ROWS)
}

#[tokio::main]
async fn main() {
    let args = common::args_or_exit(Args::from_flags);
    let out = Out::stdout();
    let report = run(&args, out.clone()).await;
    print_report(&args, &report, &out);
}
