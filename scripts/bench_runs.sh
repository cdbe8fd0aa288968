#!/usr/bin/env bash
# Issue 14's three runs: every target measured three times as whole suites (not one bench
# three times in a row), then the median and the worst of the three per target.
#
#   bash scripts/bench_runs.sh            # run1 = every bench, run2 and run3 = the target groups
#   bash scripts/bench_runs.sh --targets  # all three runs: the target groups only (~2/3 the time)
#
# Run it on a quiet machine (nothing else building or benchmarking). Each run is saved as a
# criterion baseline (run1, run2, run3); `python3 scripts/ratios.py --runs run1 run2 run3`
# prints the table again later, `python3 scripts/ratios.py` lists every result of the last.
set -euo pipefail
cd "$(dirname "$0")/.."

# The groups behind the targets (criterion's filter is a regular expression on the id):
# the paired ratio_* groups, and the unpaired rows of scripts/ratios.py.
TARGET_GROUPS='^(ratio_|keyed_latency|unordered_latency|sequencer/async/(Sequencer|notify_waiters)/10000$)'

only_targets=false
[[ "${1:-}" == "--targets" ]] && only_targets=true

cargo bench -p reorder-benches --no-run
for run in run1 run2 run3; do
    echo "=== $run ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
    if [[ "$run" == run1 && "$only_targets" == false ]]; then
        cargo bench -p reorder-benches -- --save-baseline "$run"
    else
        cargo bench -p reorder-benches -- "$TARGET_GROUPS" --save-baseline "$run"
    fi
done
echo "=== done ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
python3 scripts/ratios.py --runs run1 run2 run3
