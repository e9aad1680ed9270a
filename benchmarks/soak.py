"""Soak: the whole request corpus through the whole crew (`make soak`).

Every request of `filmcrew.eval.corpus.corpus(N, SEED)`, as generated and at its stated duration,
is made into a film at the tiny format (`corpus.TINY`: 96x64 at 8 fps, one candidate) and checked
(exact frame count, audio as long as the picture). One JSON line per request goes to
`--out` (default benchmarks/soak.jsonl, ignored by git) as it finishes, so an interrupted soak keeps
its results; the summary line (requests, failures, seconds) is printed at the end and the failures
listed with their errors.

    python benchmarks/soak.py [--n 340] [--seed 0] [--shard K/N] [--out benchmarks/soak.jsonl] [--keep DIR]

Shards (--shard 0/3, 1/3, 2/3 with their own --out) split the corpus over processes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from filmcrew.eval.corpus import corpus, run_request


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=340)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="first request index (to resume a soak)")
    ap.add_argument("--shard", default="0/1", help="K/N: run only requests with index %% N == K")
    ap.add_argument("--out", default="benchmarks/soak.jsonl")
    ap.add_argument("--keep", default=None, help="keep run directories under DIR")
    args = ap.parse_args(argv)

    k, n = (int(x) for x in args.shard.split("/"))
    requests = [r for r in corpus(args.n, args.seed)[args.start:] if r.index % n == k]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    failures, t0 = [], time.perf_counter()
    with out.open("a" if args.start else "w", encoding="utf-8") as f:
        for r in requests:
            base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="soak-"))
            run_dir = base / f"req-{r.index:04d}"
            res = run_request(r.text, str(run_dir))
            if not args.keep:
                shutil.rmtree(base, ignore_errors=True)
            row = {"index": r.index, "kinds": r.kinds, "request": r.text, **res}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            mark = "ok  " if res["ok"] else "FAIL"
            print(f"{mark} {r.index:4d} {res['seconds']:7.2f} s  {r.kinds[0]:8s} {r.text[:60]!r}"
                  + ("" if res["ok"] else f"\n       {res['error']}"), flush=True)
            if not res["ok"]:
                failures.append(row)
    total = time.perf_counter() - t0
    print(f"\nsoak: {len(requests)} requests, {len(failures)} failures, {total:.0f} s "
          f"(seed {args.seed}, n {args.n})")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
