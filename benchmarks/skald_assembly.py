"""SKALD take selection on synthetic edits: beam / exhaustive search with the LCA or continuity scorer, random.

The shot editor's one decision is which take of each shot goes into the film. Scenes are previz renders
of offline one-scene plans (96x54, 8 fps, `--shots` shots of 1.25 s, no overlay). For each held-out
scene, every shot gets k candidates of which exactly one is right by construction: the rendered take,
next to takes whose cuts are wrong (mirrored: screen position and motion direction flip at the cut;
played backwards: motion reverses; graded: a colour/exposure jump; wrong subject: the same shot of
another held-out scene). Mirrored takes go to even shots only and wrong subjects come from a different
scene at every shot, so no wrong sequence is coherent as a whole (a film mirrored throughout would be).
A small LCA (d=64, 2 layers) is trained step-bound on CPU on the training scenes (good + bad takes, both tasks).

A pick counts as right when it is the right take or has exactly its features (a still shot played
backwards is the same clip). Reported per method: take accuracy, sequence IoU with the right choice (|S∩G| / |S∪G|, SKALD's metric),
exact sequences, scorer calls, ms per edit; per scorer: order AUC of the right sequence against the same
takes shuffled and reversed. `--task scenes` runs the old task (distractors from other scenes, k = B).

    .venv/bin/python benchmarks/skald_assembly.py                          # n=4, k=5, B=3
    .venv/bin/python benchmarks/skald_assembly.py --k 4 --beam 2 --steps 1500
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from filmcrew.models.lca import TINY_LCA_CONFIG, LCAConfig
from filmcrew.tools.edit.lca.scorer import CONTINUITY_JUNCTION, LCAScorer, features_from_vector
from filmcrew.tools.edit.lca.train import TrainConfig, train_lca
from filmcrew.tools.edit.skald import ContinuityScorer, beam_search, brute_force
from filmcrew.trainsets import previz_edits, previz_requests

#: A candidate: (scene, shot, take) with take 0 the right one, -1.. its bad takes (mirror, reverse, grade).
Key = tuple[int, int, int]


def take_instances(held_bad, n_shots: int, k: int, count: int, seed: int):
    """(candidates per shot as keys, index of the right take per shot) for `count` edits."""
    rng = np.random.default_rng(seed)
    n_scenes = len(held_bad)
    out = []
    for t in range(count):
        s = t % n_scenes
        others = [int(o) for o in rng.permutation([o for o in range(n_scenes) if o != s])]
        cands, truth = [], []
        for c in range(n_shots):
            wrong = [(s, c, -2), (s, c, -3)]  # reversed, graded
            wrong.append((others[c % len(others)], c, 0))  # wrong subject: another scene, this shot
            wrong.append((s, c, -1) if c % 2 == 0 else (others[(c + n_shots) % len(others)], c, 0))
            pool = wrong[: k - 1]
            if len(pool) < k - 1:
                raise ValueError(f"k={k}: at most {len(wrong) + 1} candidates per shot are built")
            pos = int(rng.integers(0, k))
            cands.append(pool[:pos] + [(s, c, 0)] + pool[pos:])
            truth.append(pos)
        out.append((cands, truth))
    return out


def iou(ok: list[bool]) -> float:
    """|S∩G| / |S∪G| of the chosen and the right clips, given which positions got the right one."""
    hits = sum(ok)
    return hits / (2 * len(ok) - hits)


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    diff = np.asarray(pos)[:, None] - np.asarray(neg)[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=4, help="n: shots per edit")
    ap.add_argument("--k", type=int, default=5, help="candidates per shot (the right take + k-1 wrong)")
    ap.add_argument("--beam", type=int, default=3, help="beam width B")
    ap.add_argument("--train-scenes", type=int, default=96)
    ap.add_argument("--test-scenes", type=int, default=24)
    ap.add_argument("--edits", type=int, default=96, help="test instances")
    ap.add_argument("--steps", type=int, default=800, help="LCA training steps (step-bound)")
    ap.add_argument("--d-model", type=int, default=64, help="LCA width (tiny config otherwise)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)

    t0 = time.perf_counter()
    requests = previz_requests(args.train_scenes + args.test_scenes, seed=args.seed)
    train, train_bad = previz_edits(requests[: args.train_scenes], shots=args.shots, seed=args.seed)
    held, held_bad = previz_edits(requests[args.train_scenes :], shots=args.shots, seed=args.seed + 1)
    render_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cfg = LCAConfig(**{**TINY_LCA_CONFIG.__dict__, "dropout": 0.1, "junction_dim": CONTINUITY_JUNCTION,
                       "d_model": args.d_model})
    model, hist = train_lca(train, cfg, TrainConfig(steps=args.steps, noise=0.05, seed=args.seed),
                            bad=train_bad)
    train_s = time.perf_counter() - t0
    lca, cont = LCAScorer(model), ContinuityScorer()

    def vec(key: Key) -> np.ndarray:
        s, c, v = key
        return held[s][c][v] if v >= 0 else held_bad[s][c][-1 - v]

    feat_cache: dict[Key, object] = {}

    def feat(key: Key):
        if key not in feat_cache:
            feat_cache[key] = features_from_vector(vec(key))
        return feat_cache[key]

    rng = np.random.default_rng(args.seed + 1)
    scorers = {"LCA": (lca, vec), "continuity": (cont, feat)}
    methods = {
        "beam + LCA": lambda cands: beam_search([[vec(p) for p in c] for c in cands], lca.score_batch,
                                                args.beam, keep_first=True),
        "beam + continuity": lambda cands: beam_search([[feat(p) for p in c] for c in cands],
                                                       cont.score_batch, args.beam),
        "exhaustive + LCA": lambda cands: brute_force([[vec(p) for p in c] for c in cands], lca.score_batch),
        "exhaustive + continuity": lambda cands: brute_force([[feat(p) for p in c] for c in cands],
                                                             cont.score_batch),
        "random choice": lambda cands: [int(rng.integers(0, len(c))) for c in cands],
    }
    rows = {name: {"acc": [], "iou": [], "exact": [], "calls": [], "s": []} for name in methods}
    edits = take_instances(held_bad, args.shots, args.k, args.edits, args.seed + 2)
    for cands, truth in edits:
        for name, method in methods.items():
            t = time.perf_counter()
            res = method(cands)
            rows[name]["s"].append(time.perf_counter() - t)
            chosen = res if isinstance(res, list) else res.indices
            rows[name]["calls"].append(0 if isinstance(res, list) else res.calls)
            # a take whose features equal the right one's is right (a still shot played backwards)
            ok = [a == b or float(np.abs(vec(c[a]) - vec(c[b])).max()) < 1e-3
                  for c, a, b in zip(cands, chosen, truth, strict=True)]
            rows[name]["acc"].append(np.mean(ok))
            rows[name]["iou"].append(iou(ok))
            rows[name]["exact"].append(all(ok))

    # order: the right takes in order vs the same takes shuffled (3 per scene) and reversed
    order_rng = np.random.default_rng(args.seed + 3)
    right = [[(s, c, 0) for c in range(args.shots)] for s in range(len(held))]
    shuffles = []
    for seq in right:
        for _ in range(3):
            perm = list(range(len(seq)))
            while perm == sorted(perm):
                perm = [int(i) for i in order_rng.permutation(len(seq))]
            shuffles.append([seq[i] for i in perm])
    order = {}
    for name, (scorer, conv) in scorers.items():
        pos = scorer.score_batch([[conv(p) for p in q] for q in right])
        order[name] = (auc(pos, scorer.score_batch([[conv(p) for p in q] for q in shuffles])),
                       auc(pos, scorer.score_batch([[conv(p) for p in q[::-1]] for q in right])))

    n, k, b = args.shots, args.k, args.beam
    print(f"machine: {platform.machine()}, torch {torch.__version__}, 1 thread; rendered "
          f"{args.train_scenes}+{args.test_scenes} scenes (+3 bad takes a shot) in {render_s:.1f} s; LCA "
          f"trained {len(hist['contrastive'])}+{len(hist['regression'])} steps in {train_s:.1f} s")
    print(f"n={n} shots, k={k} takes a shot (1 right), B={b}, {args.edits} edits of held-out scenes; "
          f"n·B·k = {n * b * k}, k^n = {k ** n}\n")
    print("| method | take accuracy | sequence IoU | exact sequence | scorer calls | ms per edit |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {np.mean(r['acc']):.3f} | {np.mean(r['iou']):.3f} | {np.mean(r['exact']):.0%} | "
              f"{np.mean(r['calls']):.0f} | {1000 * np.mean(r['s']):.1f} |")
    print("\n| scorer | order AUC vs shuffled | order AUC vs reversed |")
    print("|---|---|---|")
    for name, (a_shuf, a_rev) in order.items():
        print(f"| {name} | {a_shuf:.3f} | {a_rev:.3f} |")


if __name__ == "__main__":
    main()
