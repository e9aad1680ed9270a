"""Scene fidelity of the previz on the labelled scene-language set, with the offline planner.

Each request of tests/data/scene_requests.jsonl is planned by the offline planner (as
benchmarks/scene_language.py does), each shot annotated by the offline physics annotator, and each
shot's previz re-simulated (24 fps, seed = shot number) and checked from its simulated bodies
(filmcrew/eval/scene_fidelity.py): subjects present with their counts, starting relations at the first
frame, actions achieved in their windows. A run's score is the mean over its shots; the set's score
the mean over runs.

    .venv/bin/python benchmarks/scene_fidelity.py [--limit N] [--failures]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from filmcrew.eval.scene_fidelity import run_mean, scene_fidelity
from filmcrew.llm.offline_physics import annotate_shot
from filmcrew.llm.offline_planner import plan_request

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "scene_requests.jsonl"


def score_request(request: str, fps: int = 24) -> tuple[float | None, list[dict]]:
    plan = plan_request(request, None, min_shots=3)
    shots = []
    for n, shot in enumerate(plan.shots, 1):
        f = scene_fidelity(shot, annotate_shot(shot, plan), fps=fps, seed=n)
        f["id"] = shot.id
        shots.append(f)
    return run_mean(shots), shots


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--failures", action="store_true", help="print every failed check")
    args = ap.parse_args()
    records = [json.loads(x) for x in DATA.read_text(encoding="utf-8").splitlines() if x.strip()]
    if args.limit:
        records = records[: args.limit]
    t0 = time.perf_counter()
    scores, fails = [], Counter()
    checks = passed = 0
    for r in records:
        score, shots = score_request(r["request"])
        if score is not None:
            scores.append(score)
        for s in shots:
            if s.get("applicable"):
                checks += s["total"]
                passed += s["passed"]
                for f in s["failures"]:
                    kind = f.split(":")[0]
                    fails[kind] += 1
                    if args.failures:
                        print(f"  {r['request'][:60]!r} {s['id']}: {f}")
    mean = sum(scores) / len(scores) if scores else float("nan")
    print(f"requests: {len(records)}, runs scored: {len(scores)}, checks: {passed}/{checks} passed")
    print(f"mean scene fidelity (per run, then over runs): {mean:.3f}")
    print(f"runs at 1.0: {sum(s >= 0.999 for s in scores)}; failures by kind: {dict(fails)}")
    print(f"wall: {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
