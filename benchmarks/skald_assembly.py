"""SKALD assembly on synthetic edits: beam + LCA, beam + continuity, random choice, exhaustive + LCA.

Scenes are previz renders of offline one-scene plans (96x54, 8 fps, `--shots` shots of 1.25 s). A tiny
LCA is trained on CPU on the training scenes (both tasks, `--train-seconds`); the test instances come
from held-out scenes: for each of their n shots, k candidates = the true shot plus k−1 shots of other
held-out scenes, shuffled. Reported per method: IoU of the chosen clips with the true sequence
(|S∩G| / |S∪G|, the paper's metric), the share of exactly recovered sequences, scorer evaluations and
time per instance.

    .venv/bin/python benchmarks/skald_assembly.py                         # n=5, k=4, B=4
    .venv/bin/python benchmarks/skald_assembly.py --shots 6 --k 5 --beam 8
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from filmcrew.models.lca import TINY_LCA_CONFIG, LCAConfig
from filmcrew.tools.edit.lca.scorer import LCAScorer
from filmcrew.tools.edit.lca.train import TrainConfig, train_lca
from filmcrew.tools.edit.skald import ClipFeatures, ContinuityScorer, beam_search, brute_force
from filmcrew.trainsets import previz_requests, previz_scenes

_SIZES = (("head_color", 3), ("tail_color", 3), ("head_luma", 16), ("tail_luma", 16), ("head_motion", 2),
          ("tail_motion", 2), ("head_layout", 16), ("tail_layout", 16), ("color_hist", 64))


def as_features(v: np.ndarray) -> ClipFeatures:
    """The ClipFeatures a feature vector was flattened from (the continuity scorer's input)."""
    parts, i = {}, 0
    for name, n in _SIZES:
        parts[name] = v[i : i + n].astype(float).tolist()
        i += n
    return ClipFeatures(n_frames=10, fps=8.0, **parts)


def instances(held, k: int, count: int, seed: int):
    """(candidates per position as (scene, clip) ids, true index per position) for `count` edits."""
    rng = np.random.default_rng(seed)
    pool = [(s, c) for s in range(len(held)) for c in range(len(held[s]))]
    out = []
    for t in range(count):
        s = t % len(held)
        cands, truth = [], []
        for c in range(len(held[s])):
            others = [p for p in pool if p[0] != s]
            picks = [others[int(j)] for j in rng.choice(len(others), k - 1, replace=False)]
            pos = int(rng.integers(0, k))
            cands.append(picks[:pos] + [(s, c)] + picks[pos:])
            truth.append(pos)
        out.append((cands, truth))
    return out


def iou(chosen: list[int], truth: list[int]) -> float:
    hits = sum(a == b for a, b in zip(chosen, truth, strict=True))
    return hits / (2 * len(truth) - hits)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=5, help="n: shots per edit")
    ap.add_argument("--k", type=int, default=4, help="candidates per shot")
    ap.add_argument("--beam", type=int, default=4, help="beam width B")
    ap.add_argument("--train-scenes", type=int, default=96)
    ap.add_argument("--test-scenes", type=int, default=24)
    ap.add_argument("--edits", type=int, default=48, help="test instances")
    ap.add_argument("--train-seconds", type=float, default=45.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)

    t0 = time.perf_counter()
    requests = previz_requests(args.train_scenes + args.test_scenes, seed=args.seed)
    train = previz_scenes(requests[: args.train_scenes], shots=args.shots, takes=2)
    held = previz_scenes(requests[args.train_scenes :], shots=args.shots, takes=1)
    render_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cfg = LCAConfig(**{**TINY_LCA_CONFIG.__dict__, "dropout": 0.1})
    model, hist = train_lca(train, cfg, TrainConfig(steps=100_000, max_seconds=args.train_seconds,
                                                    noise=0.05, seed=args.seed))
    train_s = time.perf_counter() - t0
    lca, cont = LCAScorer(model), ContinuityScorer()
    vec = {(s, c): held[s][c][0] for s in range(len(held)) for c in range(len(held[s]))}
    feat = {key: as_features(v) for key, v in vec.items()}

    rng = np.random.default_rng(args.seed + 1)
    methods = {
        "beam + LCA": lambda cands: beam_search([[vec[p] for p in c] for c in cands], lca.score_batch,
                                                args.beam),
        "beam + continuity": lambda cands: beam_search([[feat[p] for p in c] for c in cands],
                                                       cont.score_batch, args.beam),
        "random choice": lambda cands: [int(rng.integers(0, len(c))) for c in cands],
        "exhaustive + LCA": lambda cands: brute_force([[vec[p] for p in c] for c in cands],
                                                      lca.score_batch),
    }
    rows = {name: {"iou": [], "exact": [], "calls": [], "s": []} for name in methods}
    for cands, truth in instances(held, args.k, args.edits, args.seed + 2):
        for name, method in methods.items():
            t = time.perf_counter()
            res = method(cands)
            rows[name]["s"].append(time.perf_counter() - t)
            chosen = res if isinstance(res, list) else res.indices
            rows[name]["calls"].append(0 if isinstance(res, list) else res.calls)
            rows[name]["iou"].append(iou(chosen, truth))
            rows[name]["exact"].append(chosen == truth)

    print(f"machine: {platform.machine()}, torch {torch.__version__}, 1 thread; rendered "
          f"{args.train_scenes}+{args.test_scenes} scenes in {render_s:.1f} s; LCA trained "
          f"{len(hist['contrastive'])}+{len(hist['regression'])} steps in {train_s:.1f} s")
    print(f"n={args.shots} shots, k={args.k}, B={args.beam}, {args.edits} edits of held-out scenes\n")
    print("| method | IoU | exact sequence | scorer evaluations | ms per edit |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {np.mean(r['iou']):.3f} | {np.mean(r['exact']):.0%} | "
              f"{np.mean(r['calls']):.0f} | {1000 * np.mean(r['s']):.1f} |")


if __name__ == "__main__":
    main()
