#!/usr/bin/env python3
"""Draws the scaling bench (benches/scaling.rs) as an SVG: nanoseconds per item against the
number of items (log scale), one line per window, one panel per group
(`scaling_ordered`, `scaling_spawn_ordered`). Pure Python, no plotting library.

usage: python3 scripts/plot_scaling.py [--baseline NAME] [--criterion-dir DIR] [--out FILE]

  --baseline NAME      read a baseline saved with `-- --save-baseline NAME` (default: the
                       last run, new/)
  --criterion-dir DIR  default: $CARGO_TARGET_DIR/criterion, else target/criterion
  --out FILE           default: benches/scaling.svg

Each point is criterion's median time for the cell divided by its item count (the cell's
Throughput::Elements). Run `cargo bench -p reorder-benches --bench scaling` first."""
import json
import math
import os
import pathlib
import sys
from html import escape

GROUPS = (
    ("scaling_ordered", ".ordered(), shuffled input (item i at i + U[0, W))"),
    ("scaling_spawn_ordered", "spawn_ordered, tiny jobs (limit = window = W)"),
)
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
PANEL_W, PANEL_H = 460, 320
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 64, 16, 48, 52


def args(argv):
    repo = pathlib.Path(__file__).resolve().parent.parent
    target = os.environ.get("CARGO_TARGET_DIR") or repo / "target"
    opts = {"baseline": "new", "criterion-dir": pathlib.Path(target) / "criterion",
            "out": repo / "benches" / "scaling.svg"}
    i = 0
    while i < len(argv):
        name = argv[i].removeprefix("--")
        if argv[i] in ("-h", "--help"):
            print(__doc__)
            sys.exit(0)
        if name not in opts or i + 1 >= len(argv):
            sys.exit(f"plot_scaling.py: unknown or incomplete option {argv[i]!r}; see --help")
        opts[name] = argv[i + 1] if name == "baseline" else pathlib.Path(argv[i + 1])
        i += 2
    return opts


def load(root, sub):
    """{group: {window: [(items, ns per item)]}} from the scaling cells under root."""
    data = {}
    for group, _ in GROUPS:
        for meta_file in sorted((root / group).glob(f"*/*/{sub}/benchmark.json")):
            est_file = meta_file.parent / "estimates.json"
            if not est_file.exists():
                continue
            meta = json.loads(meta_file.read_text())
            items = int(meta["value_str"])
            window = int(meta["function_id"].removeprefix("w"))
            median = json.loads(est_file.read_text())["median"]["point_estimate"]
            data.setdefault(group, {}).setdefault(window, []).append((items, median / items))
    for windows in data.values():
        for points in windows.values():
            points.sort()
    return data


def nice_step(top, ticks=5):
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def fmt_count(n):
    exp = math.log10(n)
    if abs(exp - round(exp)) < 1e-9:
        return f'10<tspan baseline-shift="super" font-size="8">{round(exp)}</tspan>'
    return f"{n:,}"


def panel(x0, group, title, windows):
    """SVG elements of one panel with its top-left corner at x0."""
    out = []
    all_items = sorted({n for pts in windows.values() for n, _ in pts})
    top = max(v for pts in windows.values() for _, v in pts)
    step = nice_step(top)
    y_max = step * math.ceil(top * 1.3 / step)  # headroom for the legend
    lo, hi = math.log10(all_items[0]), math.log10(all_items[-1])
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    plot_w = PANEL_W - MARGIN_L - MARGIN_R
    plot_h = PANEL_H - MARGIN_T - MARGIN_B

    def sx(n):
        return x0 + MARGIN_L + (math.log10(n) - lo) / (hi - lo) * plot_w

    def sy(v):
        return MARGIN_T + plot_h - v / y_max * plot_h

    out.append(f'<text x="{x0 + PANEL_W / 2:.1f}" y="20" text-anchor="middle" font-weight="bold">'
               f'{escape(group)}</text>')
    out.append(f'<text x="{x0 + PANEL_W / 2:.1f}" y="36" text-anchor="middle" font-size="11">'
               f'{escape(title)}</text>')
    # Grid and axes.
    v = 0.0
    while v <= y_max + step / 2:
        y = sy(v)
        out.append(f'<line x1="{sx(all_items[0]):.1f}" y1="{y:.1f}" x2="{sx(all_items[-1]):.1f}" '
                   f'y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + MARGIN_L - 6}" y="{y + 4:.1f}" text-anchor="end" '
                   f'font-size="11">{v:g}</text>')
        v += step
    for n in all_items:
        x = sx(n)
        out.append(f'<line x1="{x:.1f}" y1="{MARGIN_T}" x2="{x:.1f}" y2="{MARGIN_T + plot_h}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{MARGIN_T + plot_h + 16}" text-anchor="middle" '
                   f'font-size="11">{fmt_count(n)}</text>')
    out.append(f'<rect x="{x0 + MARGIN_L}" y="{MARGIN_T}" width="{plot_w}" height="{plot_h}" '
               f'fill="none" stroke="#444"/>')
    out.append(f'<text x="{x0 + MARGIN_L + plot_w / 2:.1f}" y="{PANEL_H - 10}" text-anchor="middle" '
               f'font-size="12">items (log scale)</text>')
    out.append(f'<text transform="translate({x0 + 16},{MARGIN_T + plot_h / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle" font-size="12">ns per item</text>')
    # One line per window, with a legend entry.
    for k, window in enumerate(sorted(windows)):
        colour = COLOURS[k % len(COLOURS)]
        pts = windows[window]
        path = " ".join(f"{sx(n):.1f},{sy(v):.1f}" for n, v in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for n, v in pts:
            out.append(f'<circle cx="{sx(n):.1f}" cy="{sy(v):.1f}" r="3" fill="{colour}">'
                       f'<title>W = {window:,}, {n:,} items: {v:.1f} ns/item</title></circle>')
        ly = MARGIN_T + 10 + 15 * k
        lx = x0 + MARGIN_L + 10
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 18}" y2="{ly}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 24}" y="{ly + 4}" font-size="11">W = {window:,}</text>')
    return out


def main(argv):
    opts = args(argv)
    root = pathlib.Path(opts["criterion-dir"])
    data = load(root, opts["baseline"])
    if not data:
        sys.exit(f"plot_scaling.py: no scaling results ({opts['baseline']}) under {root}; "
                 "run `cargo bench -p reorder-benches --bench scaling` first")
    shown = [(g, t) for g, t in GROUPS if g in data]
    width, height = PANEL_W * len(shown), PANEL_H
    body = []
    for i, (group, title) in enumerate(shown):
        body += panel(i * PANEL_W, group, title, data[group])
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        *body,
        "</svg>",
    ]
    out = pathlib.Path(opts["out"])
    out.write_text("\n".join(svg) + "\n")
    print(f"plot_scaling.py: wrote {out} ({', '.join(g for g, _ in shown)}; {opts['baseline']})")


if __name__ == "__main__":
    main(sys.argv[1:])
