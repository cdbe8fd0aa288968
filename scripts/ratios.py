#!/usr/bin/env python3
"""Criterion results of `cargo bench -p reorder-benches`, as ratios to their anchors, and
every performance target (issue 14, DESIGN.md "Performance targets") with met / missed.

usage:
  python3 scripts/ratios.py [GROUP_PREFIX ...]     the last run: every result, then the targets
  python3 scripts/ratios.py --targets              the last run: the targets only
  python3 scripts/ratios.py --runs RUN [RUN ...]   several runs: median and worst per target
  options: --criterion-dir DIR (default: $CARGO_TARGET_DIR/criterion, else target/criterion)

A RUN is the name of a baseline saved with `cargo bench ... -- --save-baseline RUN` (read
from <criterion-dir>/<bench>/RUN/), or a directory holding a copy of a criterion
directory (its new/ results are read).

Every number is a median from criterion's estimates.json. A result is named by its full
criterion id, group/function[/parameter], e.g. `spawn_tiny/ours_spawn_ordered/64`.
In the listing, each group (per parameter) is shown against its anchor (the first
function whose name starts with an entry of ANCHORS); ratio = time / anchor time, below 1
is faster than the anchor; groups with a throughput also show the time per element.

Targets are stated as a time ratio (ours / anchor <= bound), a speed ratio
(anchor / ours >= bound, "x faster") or "about equal" (|ours / anchor - 1| <= tolerance).
With --runs, a target is met only if it is met in every run; "worst" is the run furthest
from it."""
import json
import os
import pathlib
import signal
import statistics
import sys

ANCHORS = (
    "mpsc_raw",
    "mpsc_hand_heap",
    "joinset_spawn_join_next",
    "tokio_spawn_blocking_buffered",
    "futures_buffered",
    "sequential",
    "oneshot_chain",
    "notify_waiters",
    "condvar",
    "unordered_joinset",
    "btreeset_tracker",
    "joinset_semaphore",
)

# (what, ours, anchor, kind, bound). `ours` is a criterion id; `anchor` is another id, or
# None when `ours` is a paired ratio (a `ratio_*` group, benches/paired.rs: ours and the
# anchor alternate within every iteration and criterion records time(ours) / time(anchor)).
# kind: "time" ours/anchor <= bound, "speed" anchor/ours >= bound, "approx"
# |ours/anchor - 1| <= bound, "info" shown without a target.
TARGETS = [
    ("in order: .ordered() vs mpsc recv alone", "ratio_in_order/mpsc_ordered_vs_mpsc_raw", None, "time", 1.05),
    ("in order: channel receiver vs mpsc recv alone", "ratio_in_order/channel_recv_vs_mpsc_raw", None, "time", 1.2),
]
for _w in (64, 4096):
    TARGETS.append(
        (f"shuffled W={_w}: .ordered() vs mpsc + hand heap",
         f"ratio_shuffled/mpsc_ordered_vs_mpsc_hand_heap/{_w}", None, "time", 1.1))
TARGETS += [
    ("CPU jobs: spawn_ordered vs JoinSet + sort", "ratio_spawn_cpu/spawn_ordered_vs_joinset_collect_sort", None, "time", 1.0),
    ("  the same, spawn_ordered unbounded (limit 2,000) vs JoinSet + sort", "ratio_spawn_cpu/spawn_ordered_unbounded_vs_joinset_collect_sort", None, "info", None),
    ("CPU jobs: spawn_ordered vs spawn + buffered(8)", "ratio_spawn_cpu/spawn_ordered_vs_tokio_spawn_buffered", None, "time", 1.0),
    ("CPU jobs: spawn_ordered vs buffered(8) (DESIGN)", "ratio_spawn_cpu/spawn_ordered_vs_futures_buffered", None, "speed", 1.9),
    ("CPU jobs: spawn_ordered vs sequential (DESIGN)", "ratio_spawn_cpu/spawn_ordered_vs_sequential", None, "speed", 1.9),
]
for _limit in (64, 8):
    TARGETS += [
        (f"tiny jobs, limit {_limit}: spawn_ordered vs JoinSet loop",
         f"ratio_spawn_tiny/spawn_ordered_vs_joinset_spawn_join_next/{_limit}", None, "time", 1.1),
        (f"tiny jobs, limit {_limit}: spawn_ordered vs spawn + buffered",
         f"ratio_spawn_tiny/spawn_ordered_vs_tokio_spawn_buffered/{_limit}", None, "time", 1.0),
    ]
for _job in ("50us", "1ms"):
    TARGETS.append(
        (f"blocking {_job} jobs: spawn_ordered_blocking vs spawn_blocking + buffered",
         f"ratio_spawn_blocking/spawn_ordered_blocking_vs_tokio_spawn_blocking_buffered/{_job}",
         None, "time", 1.0))
TARGETS += [
    ("random latency, limit 16: spawn_ordered vs buffered(16)", "ratio_spawn_latency/spawn_ordered_vs_futures_buffered/16", None, "speed", 1.5),
    ("  the ideal bound: buffer_unordered(16) vs buffered(16)", "ratio_spawn_latency/unordered_bound_vs_futures_buffered/16", None, "info", None),
    ("  spawn_ordered vs the ideal bound, limit 16", "ratio_spawn_latency/spawn_ordered_vs_futures_buffered/16",
     "ratio_spawn_latency/unordered_bound_vs_futures_buffered/16", "time", 1.03),
    ("random latency, limit 64: spawn_ordered vs buffered(64) (DESIGN)", "ratio_spawn_latency/spawn_ordered_vs_futures_buffered/64", None, "speed", 1.5),
    ("  the ideal bound: buffer_unordered(64) vs buffered(64)", "ratio_spawn_latency/unordered_bound_vs_futures_buffered/64", None, "info", None),
]
for _n in (100, 1_000, 10_000, 100_000):
    TARGETS.append(
        (f"Sequencer, {_n} tasks vs oneshot chain (floor)",
         f"ratio_sequencer/sequencer_vs_oneshot_chain/{_n}", None, "time", 1.5))
TARGETS += [
    ("Sequencer, 10000 tasks vs notify_waiters (DESIGN)", "sequencer/async/Sequencer/10000", "sequencer/async/notify_waiters/10000", "speed", 10.0),
    ("keyed, 1000 keys: by key vs unordered JoinSet", "keyed_latency/ours_by_key/1000", "keyed_latency/unordered_joinset/1000", "time", 1.1),
    ("keyed, 1 key: by key vs spawn_ordered (about equal)", "keyed_latency/ours_by_key/1", "keyed_latency/spawn_ordered/1", "approx", 0.05),
    ("watermark core vs BTreeSet tracker", "ratio_watermark_core/watermark_vs_btreeset_tracker", None, "time", 0.5),
    ("spawn_unordered vs JoinSet + Semaphore + BTreeSet", "unordered_latency/ours_spawn_unordered_default", "unordered_latency/joinset_semaphore_btreeset", "time", 1.05),
]


def default_root():
    target = os.environ.get("CARGO_TARGET_DIR") or pathlib.Path(__file__).resolve().parent.parent / "target"
    return pathlib.Path(target) / "criterion"


def load(root, sub="new"):
    """{full id: (median ns, meta)} for every result under root saved as `sub`."""
    results = {}
    for meta_file in sorted(root.glob(f"**/{sub}/benchmark.json")):
        est_file = meta_file.parent / "estimates.json"
        if not est_file.exists():
            continue
        meta = json.loads(meta_file.read_text())
        median = json.loads(est_file.read_text())["median"]["point_estimate"]
        results[meta["full_id"]] = (median, meta)
    return results


def load_run(root, run):
    """A run: a baseline name under root, or a directory that is a criterion copy."""
    path = pathlib.Path(run)
    if path.is_dir() and any(path.glob("**/new/benchmark.json")):
        return load(path, "new")
    results = load(root, run)
    if not results:
        sys.exit(f"ratios.py: no baseline {run!r} under {root} and no criterion directory {run!r}")
    return results


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3f} {unit}"
    return f"{ns:.1f} ns"


def listing(results, prefixes):
    groups = {}
    for full_id, (ns, meta) in results.items():
        group = meta["group_id"]
        if prefixes and not any(group.startswith(p) for p in prefixes):
            continue
        value = meta.get("value_str") or ""
        key = (group, int(value) if value.isdigit() else 0, value)
        groups.setdefault(key, {})[meta["function_id"] or full_id] = (ns, meta)
    for key in sorted(groups):
        funcs = groups[key]
        anchor = next((f for a in ANCHORS for f in sorted(funcs) if f.startswith(a)), None)
        group, _, value = key
        if group.startswith("ratio_"):
            print(f"{group}{f' [{value}]' if value else ''}  (paired ratios)")
        else:
            print(f"{group}{f' [{value}]' if value else ''}  (anchor: {anchor})")
        for function, (ns, meta) in sorted(funcs.items(), key=lambda kv: kv[1][0]):
            if group.startswith("ratio_"):
                print(f"  {function:<56} {ns:.3f}x (paired: time(ours) / time(anchor))")
                continue
            ratio = f"{ns / funcs[anchor][0]:.2f}x" if anchor else ""
            elements = (meta.get("throughput") or {}).get("Elements")
            per = f"  {fmt_time(ns / elements)}/item" if elements else ""
            print(f"  {function:<36} {fmt_time(ns):>12}  {ratio:>6}{per}")


def measure(kind, ours, anchor=1.0):
    """The value a target is judged on: ours/anchor for time and approx, anchor/ours for
    speed. A paired ratio is ours/anchor already: pass it as `ours` with no anchor."""
    return anchor / ours if kind == "speed" else ours / anchor


def met(kind, bound, value):
    if kind == "info":
        return True
    if kind == "time":
        return value <= bound
    if kind == "speed":
        return value >= bound
    return abs(value - 1.0) <= bound


def distance(kind, bound, value):
    """How far a value is on the wrong side of the target (larger is worse)."""
    if kind == "info":
        return 0.0
    if kind == "time":
        return value - bound
    if kind == "speed":
        return bound - value
    return abs(value - 1.0) - bound


def show_value(kind, value):
    return f"{value:.2f}x faster" if kind == "speed" else f"{value:.3f}x"


def show_info(value):
    """An info row is a paired time ratio: below 1, show it as a speed-up."""
    return f"{1 / value:.2f}x faster" if value < 1 else f"{value:.3f}x"


def show_target(kind, bound):
    if kind == "info":
        return "(for reference)"
    if kind == "time":
        return f"<= {bound:.2f}x"
    if kind == "speed":
        return f">= {bound:.2f}x faster"
    return f"1 +- {bound:.2f}"


def targets_table(runs):
    """Prints every target; with several runs, the median and the worst of them."""
    names = list(runs)
    many = len(names) > 1
    width = max(len(t[0]) for t in TARGETS)
    header = f"{'target':<{width}} {'wanted':>16}"
    header += f" {'median':>14} {'worst':>14}  status" if many else f" {'measured':>14}  status"
    print(header)
    for what, ours, anchor, kind, bound in TARGETS:
        values = []
        for name in names:
            results = runs[name]
            if anchor is None and ours in results:
                values.append(measure(kind, results[ours][0]))
            elif ours in results and anchor in results:
                values.append(measure(kind, results[ours][0], results[anchor][0]))
        row = f"{what:<{width}} {show_target(kind, bound):>16}"
        if not values:
            print(f"{row} {'no data':>14}" + (f" {'':>14}" if many else "") + f"  ({ours}" + (f" / {anchor})" if anchor else ")"))
            continue
        worst = max(values, key=lambda v: distance(kind, bound, v))
        misses = sum(not met(kind, bound, v) for v in values)
        show = show_info if kind == "info" else lambda v: show_value(kind, v)
        if kind == "info":
            status = "info"
        elif misses == 0:
            status = "met"
        elif many:
            status = f"missed in {misses} of {len(values)} runs"
        else:
            status = "missed"
        if len(values) < len(names):
            status += f" ({len(names) - len(values)} runs lack data)"
        if many:
            if kind == "info":
                worst = max(values)
            print(f"{row} {show(statistics.median(values)):>14} {show(worst):>14}  {status}")
        else:
            print(f"{row} {show(worst):>14}  {status}")


def main(argv):
    root = default_root()
    if "--criterion-dir" in argv:
        i = argv.index("--criterion-dir")
        if i + 1 >= len(argv):
            sys.exit("ratios.py: --criterion-dir needs a directory")
        root = pathlib.Path(argv[i + 1])
        del argv[i:i + 2]
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return
    if argv and argv[0] == "--runs":
        names = argv[1:]
        if not names:
            sys.exit("ratios.py: --runs needs at least one baseline name or directory")
        runs = {name: load_run(root, name) for name in names}
        print(f"runs: {', '.join(names)}  (criterion directory {root})")
        targets_table(runs)
        return
    results = load(root)
    if not results:
        sys.exit(f"ratios.py: no criterion results under {root}")
    if argv and argv[0] == "--targets":
        targets_table({"new": results})
        return
    listing(results, argv)
    print()
    targets_table({"new": results})


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet under `| head`
    main(sys.argv[1:])
