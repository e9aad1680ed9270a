"""REGEN compression on held-out previz clips: tiny REGEN vs keyframes at equal values and equal bytes.

Step-bound: for each compression k and each training seed, a tiny REGEN is trained for exactly
`--train-steps` optimiser steps (no wall-clock budget: a busy machine gives the same numbers, only
later). Training clips (seed 0) and held-out clips (seed 1, other requests) are previz renders
(`--size` square, 12 fps, 2 s). Every held-out clip's first 17 frames are encoded and decoded with each
of `--decode-steps` sampling steps (decode seed 0), and compared with the keyframe baseline given
(a) as many values as the latents hold ("equal values") and (b) as many bytes as the float16 latents
take ("equal bytes": keyframes are uint8, so twice the values). Reported per row: mean ± standard
deviation over the training seeds of the held-out mean PSNR / SSIM, and the stored latent frames
against a standard causal 8×8×k tokenizer (tools/video/regen/embedder.py `compression`).

    python benchmarks/regen_compression.py                            # k=4, seeds 0 1 2, 1500 steps
    python benchmarks/regen_compression.py --k 4 16 --train-steps 3000 --decode-steps 1 4 16
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from filmcrew.models.regen import TINY_REGEN_CONFIG
from filmcrew.tools.media import read_video
from filmcrew.tools.video.regen.embedder import (
    RegenEmbedder,
    compression,
    keyframe_baseline,
    psnr,
    ssim,
)
from filmcrew.tools.video.regen.train import train_regen
from filmcrew.trainsets import make_previz_clips

FPS, FRAMES = 12, 17


def evaluate(emb: RegenEmbedder, clips: list[Path], decode_steps: list[int]) -> dict[str, tuple[float, float]]:
    """Held-out mean (PSNR, SSIM) of REGEN at each decode step count and of the two baselines."""
    rows: dict[str, list[tuple[float, float]]] = {}
    for path in clips:
        frames = read_video(path)[:FRAMES]
        lat = emb.encode(frames, FPS)
        for steps in decode_steps:
            rec = emb.decode(lat, steps=steps, seed=0)
            rows.setdefault(f"REGEN {steps} step{'s' if steps > 1 else ''}", []).append(
                (psnr(rec, frames), ssim(rec, frames)))
        for name, budget in (("keyframes, equal values", lat.numbers),
                             ("keyframes, equal bytes", lat.nbytes(torch.float16))):
            base, used = keyframe_baseline(frames, emb.k, budget)  # uint8: 1 byte a value
            assert used <= budget
            rows.setdefault(name, []).append((psnr(base, frames), ssim(base, frames)))
    return {name: tuple(np.mean(v, axis=0)) for name, v in rows.items()}  # type: ignore[misc]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, nargs="+", default=[4])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds")
    ap.add_argument("--train-steps", type=int, default=1500)
    ap.add_argument("--decode-steps", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--size", type=int, default=32, help="square frame side (multiple of 8)")
    ap.add_argument("--train-clips", type=int, default=24)
    ap.add_argument("--held-out", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=6e-3)
    ap.add_argument("--work", type=Path, default=Path("runs/regen_bench"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    size = (args.size, args.size)
    train_dir, held_dir = args.work / f"train_{args.size}", args.work / f"held_{args.size}"
    make_previz_clips(train_dir, args.train_clips, size=size, seconds=2.0, fps=FPS, seed=0)
    held = make_previz_clips(held_dir, args.held_out, size=size, seconds=2.0, fps=FPS, seed=1)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads; "
          f"{args.train_clips} train / {len(held)} held-out previz clips at {args.size}x{args.size}, "
          f"{FRAMES} frames each; {args.train_steps} training steps per seed, seeds {args.seeds}")
    print("| compression | method | PSNR dB (mean ± sd) | SSIM (mean ± sd) | stored |")
    print("|---|---|---|---|---|")
    for k in args.k:
        per_seed: list[dict[str, tuple[float, float]]] = []
        notes = []
        for seed in args.seeds:
            ckpt = args.work / f"regen_k{k}_{args.size}_s{seed}_{args.train_steps}.safetensors"
            config = replace(TINY_REGEN_CONFIG, k=k, train_size=size)
            t0 = time.monotonic()
            r = train_regen(train_dir, ckpt, config, steps=args.train_steps, seed=seed, resume=True,
                            batch=args.batch, lr=args.lr)
            notes.append(f"seed {seed}: {r['step']} steps, loss {r['loss_first']:.3f} → {r['loss_last']:.3f}, "
                         f"{time.monotonic() - t0:.0f} s")
            per_seed.append(evaluate(RegenEmbedder.from_checkpoint(ckpt, device="cpu"), held, args.decode_steps))
        c = compression(FRAMES, k)
        value_bytes = {"REGEN": f"{c['shared']} latent frames × 8 ch (fp16: 2 B/value)",
                       "keyframes, equal values": "same count of values (uint8)",
                       "keyframes, equal bytes": "same bytes (2× the values, uint8)"}
        for name in per_seed[0]:
            p = np.array([s[name][0] for s in per_seed])
            q = np.array([s[name][1] for s in per_seed])
            stored = value_bytes["REGEN" if name.startswith("REGEN") else name]
            print(f"| 8×8×{k} | {name} | {p.mean():.2f} ± {p.std(ddof=1) if len(p) > 1 else 0:.2f} | "
                  f"{q.mean():.3f} ± {q.std(ddof=1) if len(q) > 1 else 0:.3f} | {stored} |")
        print(f"\n8×8×{k} on {FRAMES} frames: REGEN stores {c['shared']} latent frames (shared chunk boundaries; "
              f"{c['disjoint']} with disjoint chunks), a standard causal 8×8×{k} tokenizer {c['standard']}. "
              + "; ".join(notes) + "\n")


if __name__ == "__main__":
    main()
