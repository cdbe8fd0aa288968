//! The examples' logic, run in-process under paused time and checked for the property each
//! one demonstrates (not just that it exits).

// Each example is its own crate with its own copy of `examples/common`; loading three of
// them here loads that module three times, on purpose.
#![allow(clippy::duplicate_mod)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

#[allow(dead_code)]
#[path = "../examples/random_latency.rs"]
mod random_latency;

#[allow(dead_code)]
#[path = "../examples/ordered_section.rs"]
mod ordered_section;

#[allow(dead_code)]
#[path = "../examples/channel.rs"]
mod channel;

#[allow(dead_code)]
#[path = "../examples/commit_offsets.rs"]
mod commit_offsets;

const LIMIT: Duration = Duration::from_secs(30);

/// A writer the examples print into, readable afterwards.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn out(&self) -> Arc<Mutex<dyn std::io::Write + Send>> {
        Arc::new(Mutex::new(self.clone()))
    }

    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn args(list: &[&str]) -> impl Iterator<Item = String> {
    list.iter()
        .map(|s| (*s).to_owned())
        .collect::<Vec<_>>()
        .into_iter()
}

#[tokio::test(start_paused = true)]
async fn random_latency_yields_in_order_what_finished_out_of_order() {
    let args = random_latency::Args::parse(args(&[])).unwrap();
    let captured = Captured::default();
    let report = tokio::time::timeout(LIMIT, random_latency::run(&args, captured.out()))
        .await
        .expect("the demo finishes");
    random_latency::print_report(&args, &report, &captured.out());

    assert!(report.emitted.iter().copied().eq(0..args.tasks));
    let mut completed = report.completed.clone();
    assert_ne!(
        completed, report.emitted,
        "the default seed must shuffle completions"
    );
    completed.sort_unstable();
    assert_eq!(
        completed, report.emitted,
        "every task completed exactly once"
    );
    assert!(report.peak_buffered > 0 && report.peak_buffered <= report.window);
    assert!(report.first_result < report.naive_wall);
    for row in &report.rows {
        assert!(row.yielded >= row.finished && row.finished >= row.latency);
    }

    // What a person reads: the emissions in the printed log are 0, 1, 2, ...
    let text = captured.text();
    let yields: Vec<usize> = text
        .lines()
        .filter_map(|l| l.split("-> yield").nth(1))
        .map(|rest| rest.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(yields.iter().copied().eq(0..args.tasks), "{text}");
    assert_eq!(text.matches(" finished\n").count(), args.tasks);
    assert!(
        text.contains("yielded in order:    yes (20 of 20 results)"),
        "{text}"
    );
    assert!(text.contains("timeline:"));
}

#[tokio::test(start_paused = true)]
async fn random_latency_shows_progress_for_many_tasks() {
    let args = random_latency::Args::parse(args(&["--tasks", "2000", "--limit", "32"])).unwrap();
    let captured = Captured::default();
    let report = tokio::time::timeout(LIMIT, random_latency::run(&args, captured.out()))
        .await
        .expect("the demo finishes");
    random_latency::print_report(&args, &report, &captured.out());
    assert!(report.emitted.iter().copied().eq(0..2000));
    assert!(report.peak_buffered <= 128);
    let text = captured.text();
    assert!(
        text.lines().count() < 30,
        "progress, not one line per task:\n{text}"
    );
    assert!(
        text.contains("100% yielded in order (2000 of 2000)"),
        "{text}"
    );
}

#[test]
fn random_latency_rejects_bad_flags() {
    for bad in [
        &["--tasks"][..],
        &["--tasks", "many"],
        &["--limit", "0"],
        &["--limit", "8", "--window", "4"],
        &["--colour", "blue"],
    ] {
        assert!(random_latency::Args::parse(args(bad)).is_err(), "{bad:?}");
    }
    let parsed = random_latency::Args::parse(args(&["--window", "64", "--seed", "3"])).unwrap();
    assert_eq!((parsed.window, parsed.seed), (Some(64), 3));
}

#[tokio::test(start_paused = true)]
async fn ordered_section_runs_sections_in_ticket_order_past_a_failed_task() {
    let args = ordered_section::Args::parse(args(&[])).unwrap();
    let captured = Captured::default();
    let report = tokio::time::timeout(LIMIT, ordered_section::run(&args, captured.out()))
        .await
        .expect("a failed task must not stall the others");
    ordered_section::print_report(&args, &report, &captured.out());

    let expected: Vec<u64> = (0..8).filter(|&i| i != 3).collect();
    assert_eq!(report.section_order, expected);
    assert!(!report.sections_overlapped);
    assert_eq!(
        report.peak_concurrent, args.tasks,
        "concurrent parts overlap"
    );
    let mut work_order = report.work_order.clone();
    assert_ne!(
        work_order,
        (0..8).collect::<Vec<_>>(),
        "work finishes out of order"
    );
    work_order.sort_unstable();
    assert_eq!(work_order, (0..8).collect::<Vec<_>>());
    assert!(report.wall < report.sequential / 2);
    let text = captured.text();
    assert!(text.contains("task 3 failed before its turn"), "{text}");
    assert!(text.contains("(in ticket order)"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn ordered_section_without_failures_runs_every_section() {
    let args =
        ordered_section::Args::parse(args(&["--tasks", "30", "--fail", "none", "--seed", "11"]))
            .unwrap();
    let report = tokio::time::timeout(
        LIMIT,
        ordered_section::run(&args, Captured::default().out()),
    )
    .await
    .unwrap();
    assert_eq!(report.section_order, (0..30).collect::<Vec<_>>());
    assert!(!report.sections_overlapped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_receives_in_order_from_racing_producers() {
    let args = channel::Args::parse(args(&[
        "--producers",
        "6",
        "--items",
        "300",
        "--window",
        "8",
    ]))
    .unwrap();
    let captured = Captured::default();
    let report = tokio::time::timeout(LIMIT, channel::run(&args, captured.out()))
        .await
        .expect("the demo finishes");
    channel::print_report(&args, &report, &captured.out());
    assert!(report.received.iter().copied().eq(0..300));
    let mut sent = report.sent.clone();
    sent.sort_unstable();
    assert!(sent.iter().copied().eq(0..300), "every seq sent once");
    assert!(report.peak_buffered < 8);
    assert!(captured
        .text()
        .contains("received in order:  yes (300 of 300 items)"));
}

#[tokio::test(start_paused = true)]
async fn channel_window_holds_back_fast_producers() {
    let args = channel::Args::parse(args(&[
        "--producers",
        "4",
        "--items",
        "200",
        "--window",
        "2",
    ]))
    .unwrap();
    let report = tokio::time::timeout(LIMIT, channel::run(&args, Captured::default().out()))
        .await
        .unwrap();
    assert!(report.received.iter().copied().eq(0..200));
    assert!(report.waited > 0, "with window 2, some sends must wait");
    assert!(report.peak_buffered < 2);
}

/// The crash/resume property of `commit_offsets`: nothing lost, nothing committed past an
/// unprocessed message, the failure reported and retried, and whatever was processed twice
/// lies at or above the offset committed at the crash (the at-least-once window).
#[tokio::test(start_paused = true)]
async fn commit_offsets_resumes_after_a_crash_with_nothing_lost() {
    for seed in [7, 1, 42, 1234] {
        let log = commit_offsets::Log::new(seed);
        let captured = Captured::default();
        let world = tokio::time::timeout(LIMIT, commit_offsets::run(&log, captured.out()))
            .await
            .expect("the demo finishes");
        assert!(world.unsafe_commits.is_empty(), "seed {seed}");
        assert_eq!(
            world.failures,
            [(commit_offsets::FAILING.0, log.failing_offset())],
            "seed {seed}: the failure is reported once"
        );
        let mut runs: std::collections::BTreeMap<(usize, u64), Vec<usize>> = Default::default();
        for &(run, p, offset) in &world.processed {
            runs.entry((p, offset)).or_default().push(run);
        }
        for (p, messages) in log.partitions.iter().enumerate() {
            let at_crash = world.committed_at_crash[&p];
            assert!(
                at_crash > messages[0].0,
                "seed {seed}: partition {p} committed something before the crash"
            );
            for &(offset, _) in messages {
                let seen = runs.get(&(p, offset)).cloned().unwrap_or_default();
                assert!(!seen.is_empty(), "seed {seed}: {p}/{offset} was lost");
                if seen.len() > 1 {
                    assert_eq!(seen, [0, 1], "seed {seed}: {p}/{offset} twice in one run");
                    assert!(
                        offset >= at_crash,
                        "seed {seed}: {p}/{offset} redone below the commit"
                    );
                }
                if offset < at_crash {
                    assert_eq!(
                        seen,
                        [0],
                        "seed {seed}: {p}/{offset} is below the crash commit"
                    );
                }
            }
            let last = messages.last().unwrap().0;
            assert_eq!(
                world.committed[&p],
                last + 1,
                "seed {seed}: partition {p} fully committed"
            );
        }
        // Some work really was redone: the window is real, not a vacuous pass.
        assert!(world.processed.len() > log.partitions.iter().map(Vec::len).sum::<usize>());
        assert!(captured.text().contains("resumed and drained"));
    }
}
