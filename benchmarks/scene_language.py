"""Scene-language precision and recall of the offline planner on the labelled requests.

    PYTHONPATH=. python benchmarks/scene_language.py [--misses] [--data tests/data/scene_requests.jsonl]

Plans every request of the labelled set with the offline planner (12 s default length, 3 shots at
least, as the crew does) and prints precision and recall per scene field (filmcrew/eval/scene_language.py
says how each is counted).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from filmcrew.eval.scene_language import DATA, load, score_planner
from filmcrew.llm.offline_planner import plan_request


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--misses", action="store_true", help="list the requests with a miss")
    args = ap.parse_args()
    records = load(args.data)
    score = score_planner(lambda r: plan_request(r, None, min_shots=3), records)
    print(f"offline planner on {score.n} labelled requests ({args.data.name})")
    for k, v in score.table().items():
        print(f"  {k:<20} {v:.3f}")
    if args.misses:
        for m in score.misses:
            print("  miss:", m)


if __name__ == "__main__":
    main()
