#!/usr/bin/env python3
"""Print every criterion result of the last `cargo bench -p reorder-benches` run with its
ratio to the anchor of its group, from <target>/criterion/<group>/<function>/new/estimates.json,
where <target> is $CARGO_TARGET_DIR if set, else the workspace's target/.

usage: python3 scripts/ratios.py [GROUP_PREFIX ...]

The first function of a group whose name starts with one of ANCHORS is the anchor;
ratio = time / anchor time (below 1 is faster than the anchor)."""
import json
import os
import pathlib
import sys

ANCHORS = ("mpsc_raw", "mpsc_hand_heap", "futures_buffered", "sequential", "notify_waiters", "condvar")

target = os.environ.get("CARGO_TARGET_DIR") or pathlib.Path(__file__).resolve().parent.parent / "target"
root = pathlib.Path(target) / "criterion"
prefixes = sys.argv[1:]
rows = {}
for est in sorted(root.glob("**/new/estimates.json")):
    rel = est.relative_to(root).parts[:-2]
    group, function = "/".join(rel[:-1]), rel[-1]
    if prefixes and not any(group.startswith(p) for p in prefixes):
        continue
    median = json.loads(est.read_text())["median"]["point_estimate"]
    rows.setdefault(group, {})[function] = median

def fmt(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3f} {unit}"
    return f"{ns:.1f} ns"

for group, funcs in rows.items():
    anchor = next((f for a in ANCHORS for f in sorted(funcs) if f.startswith(a)), None)
    print(f"{group}  (anchor: {anchor})")
    for function, ns in sorted(funcs.items(), key=lambda kv: kv[1]):
        ratio = f"{ns / funcs[anchor]:.2f}x" if anchor else ""
        print(f"  {function:<36} {fmt(ns):>12}  {ratio}")
