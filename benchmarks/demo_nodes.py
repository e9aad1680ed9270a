"""Time the demo per node, cold and then warm (same run dir: everything served from the store).

Baselines in the same run: the film's own duration (real time) and the cold run itself (the warm run
should cost a small fraction of it). Prints a table and the ratios; paste it into RESULTS.md.

    .venv/bin/python benchmarks/demo_nodes.py [--duration 12] [--width 640 --height 360]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from filmcrew import runner
from filmcrew.config import RunOptions

REQUEST = ("A glass of water is knocked off a table and shatters on the floor; slow-motion replay of "
           "the fall; tense strings.")


def timed_run(run_dir: Path, opts: RunOptions) -> tuple[float, dict[str, float], dict]:
    """Wall time, per-node wall time (from one update to the next), and the report."""
    marks: list[tuple[float, str]] = []
    t0 = time.perf_counter()

    def on_event(mode: str, data: object) -> None:
        if mode == "updates" and isinstance(data, dict):
            for node in data:
                marks.append((time.perf_counter(), node))

    runner.start(REQUEST, opts, run_dir, on_event=on_event)
    wall = time.perf_counter() - t0
    per_node: dict[str, float] = defaultdict(float)
    prev = t0
    for t, node in marks:  # parallel branches: the superstep's time goes to its last finisher
        per_node[node] += t - prev
        prev = t
    report = json.loads((run_dir / "report.json").read_text())
    return wall, dict(per_node), report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=12.0)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--candidates", type=int, default=2)
    args = ap.parse_args()
    opts = RunOptions(duration_s=args.duration, width=args.width, height=args.height,
                      candidates=args.candidates)
    tmp = Path(tempfile.mkdtemp(prefix="filmcrew-bench-"))
    try:
        cold, nodes, report = timed_run(tmp, opts)
        warm, _, _ = timed_run(tmp, opts)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    film = report["duration_s"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"film: {film:.2f} s, {len(report['shots'])} shots, {args.width}x{args.height}, "
          f"{args.candidates} candidates/shot")
    print("| graph node | wall s (cold) |")
    print("|---|---|")
    for node, secs in nodes.items():
        print(f"| {node} | {secs:.2f} |")
    print(f"| **total** | **{cold:.2f}** |")
    print()
    print("| agent (trace) | calls | tool+LLM s, summed over parallel branches |")
    print("|---|---|---|")
    for agent, n in report["nodes"].items():
        print(f"| {agent} | {n['calls']} | {n['seconds']:.2f} |")
    print(f"cold run / film duration = {cold / film:.2f}× real time")
    print(f"warm run (all cached) = {warm:.2f} s = {warm / cold:.3f}× the cold run")


if __name__ == "__main__":
    main()
