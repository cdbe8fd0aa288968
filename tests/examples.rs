//! The examples' logic, run in-process under paused time and checked for the property each
//! one demonstrates (not just that it exits).

// Each example is its own crate with its own copy of `examples/common`; loading three of
// them here loads that module three times, on purpose.
#![allow(clippy::duplicate_mod)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::error::ErrorKind;

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
#[allow(dead_code)]
#[path = "../examples/per_key.rs"]
mod per_key;

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
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Each example has its own copy of `examples/common`, so its own `Out`.
macro_rules! out {
    ($example:ident, $captured:expr) => {
        $example::common::Out::new($captured.clone())
    };
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The kind and the text of a parse error (clap's `--help` is an error too).
fn parse_error<T: std::fmt::Debug>(result: Result<T, clap::Error>) -> (ErrorKind, String) {
    let error = result.expect_err("the flags must be rejected");
    (error.kind(), error.to_string())
}

#[tokio::test(start_paused = true)]
async fn random_latency_yields_in_order_what_finished_out_of_order() {
    let args = random_latency::Args::from_flags(args(&[])).unwrap();
    let captured = Captured::default();
    let report = tokio::time::timeout(
        LIMIT,
        random_latency::run(&args, out!(random_latency, captured)),
    )
    .await
    .expect("the demo finishes");
    random_latency::print_report(&args, &report, &out!(random_latency, captured));

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
    let args =
        random_latency::Args::from_flags(args(&["--tasks", "2000", "--limit", "32"])).unwrap();
    let captured = Captured::default();
    let report = tokio::time::timeout(
        LIMIT,
        random_latency::run(&args, out!(random_latency, captured)),
    )
    .await
    .expect("the demo finishes");
    random_latency::print_report(&args, &report, &out!(random_latency, captured));
    assert!(report.emitted.iter().copied().eq(0..2000));
    assert!(report.peak_buffered <= 128);
    let text = captured.text();
    // Ten lines for the run, ten for the baseline, the header and the summary.
    assert!(
        text.lines().count() < 40,
        "progress, not one line per task:\n{text}"
    );
    assert!(
        text.contains("100% yielded in order (2000 of 2000)"),
        "{text}"
    );
    // The collect-then-sort baseline says it is running, and shows its progress too.
    let baseline = text
        .find("for comparison, the tutorial's way: the same 2000 tasks")
        .expect(&text);
    assert!(
        text[baseline..].contains("100% of the baseline collected (2000 of 2000)"),
        "{text}"
    );
    assert!(
        text[baseline..].contains(" 10% of the baseline collected"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn random_latency_quiet_prints_the_summary_only() {
    let args = random_latency::Args::from_flags(args(&["--tasks", "500", "--quiet"])).unwrap();
    let captured = Captured::default();
    let report = tokio::time::timeout(
        LIMIT,
        random_latency::run(&args, out!(random_latency, captured)),
    )
    .await
    .expect("the demo finishes");
    random_latency::print_report(&args, &report, &out!(random_latency, captured));
    let text = captured.text();
    assert!(text.trim_start().starts_with("summary"), "{text}");
    assert!(!text.contains('%') && !text.contains("timeline"), "{text}");
    assert!(text.contains("yielded in order:    yes (500 of 500 results)"));
}

#[test]
fn random_latency_rejects_bad_flags() {
    for bad in [
        &["--tasks"][..],
        &["--tasks", "many"],
        &["--tasks", "-1"],
        &["--limit", "0"],
        &["--window", "0"],
        &["--max-latency-ms", "3600000"],
        &["--quiet", "yes"],
    ] {
        let (kind, text) = parse_error(random_latency::Args::from_flags(args(bad)));
        assert_ne!(kind, ErrorKind::DisplayHelp, "{bad:?}: {text}");
        assert!(text.starts_with("error: "), "{bad:?}: {text}");
    }
    let parsed =
        random_latency::Args::from_flags(args(&["--window", "64", "--seed", "3"])).unwrap();
    assert_eq!(
        (parsed.window, parsed.seed, parsed.tasks),
        (Some(64), 3, 20)
    );
}

#[test]
fn unknown_flags_are_rejected_not_taken_for_a_flag_missing_its_value() {
    // The hand-written parser said "--bogus needs a value".
    let errors = [
        parse_error(random_latency::Args::from_flags(args(&["--bogus"]))),
        parse_error(ordered_section::Args::from_flags(args(&["--bogus"]))),
        parse_error(channel::Args::from_flags(args(&["--bogus"]))),
        parse_error(random_latency::Args::from_flags(args(&[
            "--colour", "blue",
        ]))),
    ];
    for (kind, text) in errors {
        assert_eq!(kind, ErrorKind::UnknownArgument, "{text}");
        assert!(text.contains("unexpected argument '--"), "{text}");
        assert!(!text.contains("needs a value"), "{text}");
    }
    // A near miss names the flag that was meant.
    let (_, text) = parse_error(random_latency::Args::from_flags(args(&["--task", "3"])));
    assert!(text.contains("'--tasks'"), "{text}");
}

#[test]
fn help_is_generated_and_lists_every_flag() {
    let helps = [
        (
            parse_error(random_latency::Args::from_flags(args(&["--help"]))),
            &[
                "--tasks",
                "--limit",
                "--window",
                "--max-latency-ms",
                "--seed",
                "--quiet",
            ][..],
        ),
        (
            parse_error(ordered_section::Args::from_flags(args(&["-h"]))),
            &["--tasks", "--fail", "--seed", "--quiet"],
        ),
        (
            parse_error(channel::Args::from_flags(args(&["--help"]))),
            &[
                "--producers",
                "--items",
                "--window",
                "--max-latency-ms",
                "--seed",
                "--quiet",
            ],
        ),
    ];
    for ((kind, text), flags) in helps {
        assert_eq!(kind, ErrorKind::DisplayHelp, "{text}");
        assert!(text.contains("Usage: "), "{text}");
        for flag in flags {
            assert!(text.contains(flag), "{flag} missing from:\n{text}");
        }
    }
}

#[test]
fn zero_counts_are_rejected_with_the_range() {
    // `random_latency --tasks 0` printed "first result after 0 ms".
    for (kind, text) in [
        parse_error(random_latency::Args::from_flags(args(&["--tasks", "0"]))),
        parse_error(ordered_section::Args::from_flags(args(&["--tasks", "0"]))),
        parse_error(channel::Args::from_flags(args(&["--items", "0"]))),
        parse_error(channel::Args::from_flags(args(&["--producers", "0"]))),
        parse_error(channel::Args::from_flags(args(&["--window", "0"]))),
    ] {
        assert_eq!(kind, ErrorKind::ValueValidation, "{text}");
        assert!(text.contains("invalid value '0'"), "{text}");
        assert!(text.contains("0 is not in 1..="), "{text}");
    }
}

#[test]
fn window_below_limit_is_rejected_with_both_values() {
    let (kind, text) = parse_error(random_latency::Args::from_flags(args(&[
        "--limit", "8", "--window", "4",
    ])));
    assert_eq!(kind, ErrorKind::ValueValidation);
    assert!(text.contains("--window 4 is below --limit 8"), "{text}");
    // Equal is fine: `buffered`'s behaviour.
    let parsed =
        random_latency::Args::from_flags(args(&["--limit", "8", "--window", "8"])).unwrap();
    assert_eq!(parsed.window, Some(8));
}

#[test]
fn ordered_section_fail_must_name_one_of_the_tasks() {
    // Was accepted: nothing failed, yet the summary expected task 5 to be missing.
    let (kind, text) = parse_error(ordered_section::Args::from_flags(args(&[
        "--fail", "5", "--tasks", "3",
    ])));
    assert_eq!(kind, ErrorKind::ValueValidation);
    assert!(
        text.contains("--fail 5 names no task: --tasks 3 runs tasks 0 to 2"),
        "{text}"
    );
    // The default failing task (3) is outside a 3-task run too.
    let (kind, _) = parse_error(ordered_section::Args::from_flags(args(&["--tasks", "3"])));
    assert_eq!(kind, ErrorKind::ValueValidation);
    let (kind, text) = parse_error(ordered_section::Args::from_flags(args(&["--fail", "x"])));
    assert_eq!(kind, ErrorKind::ValueValidation);
    assert!(text.contains("a task number or `none`"), "{text}");

    let last = ordered_section::Args::from_flags(args(&["--fail", "2", "--tasks", "3"])).unwrap();
    assert_eq!(last.fail, Some(2));
    let none =
        ordered_section::Args::from_flags(args(&["--tasks", "3", "--fail", "none"])).unwrap();
    assert_eq!(none.fail, None);
    let default = ordered_section::Args::from_flags(args(&[])).unwrap();
    assert_eq!((default.tasks, default.fail), (8, Some(3)));
}

#[test]
fn channel_default_latency_keeps_big_runs_short() {
    let latency = |flags: &[&str]| {
        channel::Args::from_flags(args(flags))
            .unwrap()
            .max_latency_ms()
    };
    // The demo sizes keep their 0..=30 ms.
    assert_eq!(latency(&[]), 30);
    assert_eq!(latency(&["--items", "300", "--producers", "6"]), 30);
    // `--items 100000` took 6 min 53 s at 0..=30 ms per item: now no sleeping at all, and
    // in between each producer's share is bounded to about 5 s on average.
    assert_eq!(latency(&["--items", "100000"]), 0);
    for items in [100usize, 1_000, 10_000, 50_000] {
        let args = channel::Args::from_flags(args(&["--items", &items.to_string()])).unwrap();
        let per_producer = items.div_ceil(args.producers) as u64;
        assert!(per_producer * args.max_latency_ms() / 2 <= 5_000, "{items}");
    }
    // An explicit latency wins; an absurd one is rejected.
    assert_eq!(latency(&["--items", "100000", "--max-latency-ms", "5"]), 5);
    let (kind, _) = parse_error(channel::Args::from_flags(args(&[
        "--max-latency-ms",
        "3600000",
    ])));
    assert_eq!(kind, ErrorKind::ValueValidation);
}

#[tokio::test(start_paused = true)]
async fn ordered_section_runs_sections_in_ticket_order_past_a_failed_task() {
    let args = ordered_section::Args::from_flags(args(&[])).unwrap();
    let captured = Captured::default();
    let report = tokio::time::timeout(
        LIMIT,
        ordered_section::run(&args, out!(ordered_section, captured)),
    )
    .await
    .expect("a failed task must not stall the others");
    ordered_section::print_report(&args, &report, &out!(ordered_section, captured));

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
    let args = ordered_section::Args::from_flags(args(&[
        "--tasks", "30", "--fail", "none", "--seed", "11",
    ]))
    .unwrap();
    let report = tokio::time::timeout(
        LIMIT,
        ordered_section::run(&args, out!(ordered_section, Captured::default())),
    )
    .await
    .unwrap();
    assert_eq!(report.section_order, (0..30).collect::<Vec<_>>());
    assert!(!report.sections_overlapped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_receives_in_order_from_racing_producers() {
    let args = channel::Args::from_flags(args(&[
        "--producers",
        "6",
        "--items",
        "300",
        "--window",
        "8",
    ]))
    .unwrap();
    let captured = Captured::default();
    let report = tokio::time::timeout(LIMIT, channel::run(&args, out!(channel, captured)))
        .await
        .expect("the demo finishes");
    channel::print_report(&args, &report, &out!(channel, captured));
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
    let args = channel::Args::from_flags(args(&[
        "--producers",
        "4",
        "--items",
        "200",
        "--window",
        "2",
    ]))
    .unwrap();
    let report = tokio::time::timeout(
        LIMIT,
        channel::run(&args, out!(channel, Captured::default())),
    )
    .await
    .unwrap();
    assert!(report.received.iter().copied().eq(0..200));
    assert!(report.waited > 0, "with window 2, some sends must wait");
    assert!(report.peak_buffered < 2);
}

#[tokio::test(start_paused = true)]
async fn channel_big_run_shows_progress_lines_not_events() {
    let args = channel::Args::from_flags(args(&["--items", "20000"])).unwrap();
    let captured = Captured::default();
    let report = tokio::time::timeout(LIMIT, channel::run(&args, out!(channel, captured)))
        .await
        .expect("the demo finishes");
    channel::print_report(&args, &report, &out!(channel, captured));
    assert!(report.received.iter().copied().eq(0..20_000));
    let text = captured.text();
    assert!(
        text.lines().count() < 30,
        "progress, not one line per item:\n{text}"
    );
    let header = format!(
        "each item takes 0..={} ms to produce",
        args.max_latency_ms()
    );
    assert!(text.contains(&header), "{text}");
    for pct in [" 10%", " 50%", "100%"] {
        assert!(
            text.contains(&format!("{pct} received in order")),
            "{pct}:\n{text}"
        );
    }
    assert!(
        text.contains("100% received in order (20000 of 20000)"),
        "{text}"
    );
    assert!(text.contains("received in order:  yes (20000 of 20000 items)"));
}

#[tokio::test(start_paused = true)]
async fn channel_quiet_prints_the_summary_only() {
    let args = channel::Args::from_flags(args(&["--items", "40", "--quiet"])).unwrap();
    let captured = Captured::default();
    let report = tokio::time::timeout(LIMIT, channel::run(&args, out!(channel, captured)))
        .await
        .expect("the demo finishes");
    channel::print_report(&args, &report, &out!(channel, captured));
    let text = captured.text();
    assert!(text.trim_start().starts_with("summary"), "{text}");
    assert!(text.contains("received in order:  yes (40 of 40 items)"));
}

#[tokio::test(start_paused = true)]
async fn ordered_section_summarises_big_runs() {
    let args = ordered_section::Args::from_flags(args(&["--tasks", "200"])).unwrap();
    let captured = Captured::default();
    let report = tokio::time::timeout(
        LIMIT,
        ordered_section::run(&args, out!(ordered_section, captured)),
    )
    .await
    .expect("the demo finishes");
    ordered_section::print_report(&args, &report, &out!(ordered_section, captured));
    let expected: Vec<u64> = (0..200).filter(|&i| i != 3).collect();
    assert_eq!(report.section_order, expected);
    assert_eq!(report.phases.len(), 200);

    let text = captured.text();
    assert!(
        text.lines().count() < 60,
        "a summary, not 200 rows:\n{text}"
    );
    assert!(!text.contains("is running its ordered section"), "{text}");
    assert!(
        text.contains(
            "100% of the tasks done, in ticket order (200 of 200), sections run so far: 199"
        ),
        "{text}"
    );
    assert!(text.contains("  task 19 |"), "{text}");
    assert!(!text.contains("  task 20 |"), "{text}");
    assert!(text.contains("... and 180 more tasks"), "{text}");
    assert!(
        text.contains("[0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, ... 179 more] (in ticket order)"),
        "{text}"
    );
    assert!(
        text.contains(" 180 more]"),
        "the work order is summarised too:\n{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn per_key_delivers_each_account_in_order_without_waiting_for_the_stuck_one() {
    let captured = Captured::default();
    let report = tokio::time::timeout(LIMIT, per_key::run(out!(per_key, captured)))
        .await
        .expect("the demo finishes");
    per_key::print_report(&report, &out!(per_key, captured));

    assert!(per_key::each_account_in_order(&report.by_key));
    assert!(per_key::each_account_in_order(&report.total));
    let mut by_key = report.by_key.clone();
    by_key.sort_by_key(|e| (e.account, e.number));
    let mut total = report.total.clone();
    total.sort_by_key(|e| (e.account, e.number));
    assert_eq!(by_key, total, "both modes deliver every event once");
    assert_eq!(by_key.len(), per_key::EVENTS);
    // Accounts interleave: the per-key order is not the input order.
    assert_ne!(report.by_key, per_key::events());
    // The stuck account 0 holds back only itself.
    let (others_by_key, others_total) = report.others_done();
    let stuck = Duration::from_millis(per_key::STUCK_MS);
    assert!(others_by_key < stuck, "{others_by_key:?}");
    assert!(others_total >= stuck, "{others_total:?}");
    assert!(captured
        .text()
        .contains("each account in order: per key true"));
}

#[test]
fn per_key_takes_no_flags_but_help() {
    assert!(per_key::Args::from_flags(args(&[])).is_ok());
    let (kind, _) = parse_error(per_key::Args::from_flags(args(&["--bogus"])));
    assert_eq!(kind, ErrorKind::UnknownArgument);
    let (kind, text) = parse_error(per_key::Args::from_flags(args(&["--help"])));
    assert_eq!(kind, ErrorKind::DisplayHelp);
    assert!(text.contains("per_key"), "{text}");
}

/// The crash/resume property of `commit_offsets`: nothing lost, nothing committed past an
/// unprocessed message, the failure reported and retried, and whatever was processed twice
/// lies at or above the offset committed at the crash (the at-least-once window).
#[tokio::test(start_paused = true)]
async fn commit_offsets_resumes_after_a_crash_with_nothing_lost() {
    for seed in [7, 1, 42, 1234] {
        let log = commit_offsets::Log::new(seed);
        let captured = Captured::default();
        let world = tokio::time::timeout(
            LIMIT,
            commit_offsets::run(&log, out!(commit_offsets, captured)),
        )
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

#[test]
fn commit_offsets_takes_a_seed_flag_and_rejects_others() {
    assert_eq!(commit_offsets::Args::from_flags(args(&[])).unwrap().seed, 7);
    let seeded = commit_offsets::Args::from_flags(args(&["--seed", "42"])).unwrap();
    assert_eq!(seeded.seed, 42);
    let (kind, _) = parse_error(commit_offsets::Args::from_flags(args(&["--bogus"])));
    assert_eq!(kind, ErrorKind::UnknownArgument);
    let (kind, _) = parse_error(commit_offsets::Args::from_flags(args(&["--seed", "x"])));
    assert_eq!(kind, ErrorKind::ValueValidation);
}
