"""REGEN compression on held-out previz clips: tiny REGEN vs keyframes at the same count of numbers.

Training clips (seed 0) and held-out clips (seed 1, other requests) are previz renders (`--size`
square, 12 fps, 2 s). For k = 4 and k = 16 (8×8×4 and 8×8×16) a tiny REGEN is trained on CPU for
`--minutes` each (or loaded with --ckpt4/--ckpt16), then every held-out clip's first 17 frames are
encoded and decoded (`--steps` DDIM steps) and compared with the keyframe baseline given exactly as
many numbers as the latents. Reported: PSNR, SSIM and bytes per second of video (latents as float16,
keyframes as uint8), and the differences.

    .venv/bin/python benchmarks/regen_compression.py                    # 3 min per model
    .venv/bin/python benchmarks/regen_compression.py --minutes 10 --size 64
    .venv/bin/python benchmarks/regen_compression.py --ckpt4 a.safetensors --ckpt16 b.safetensors
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
from filmcrew.tools.video.regen.embedder import RegenEmbedder, keyframe_baseline, psnr, ssim
from filmcrew.tools.video.regen.train import train_regen
from filmcrew.trainsets import make_previz_clips

FPS, FRAMES = 12, 17


def evaluate(emb: RegenEmbedder, clips: list[Path], steps: int) -> dict[str, float]:
    """Mean PSNR/SSIM of REGEN and of the keyframe baseline over the first 17 frames of each clip."""
    rows = []
    for path in clips:
        frames = read_video(path)[:FRAMES]
        lat = emb.encode(frames, FPS)
        rec = emb.decode(lat, steps=steps)
        base, used = keyframe_baseline(frames, emb.k, lat.numbers)
        seconds = len(frames) / FPS
        rows.append((psnr(rec, frames), ssim(rec, frames), psnr(base, frames), ssim(base, frames),
                     2 * lat.numbers / seconds, used / seconds))
    m = np.mean(rows, axis=0)
    return dict(zip(("psnr", "ssim", "base_psnr", "base_ssim", "bytes_s", "base_bytes_s"), m, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0, help="CPU training time per model")
    ap.add_argument("--size", type=int, default=32, help="square frame side (multiple of 8)")
    ap.add_argument("--train-clips", type=int, default=24)
    ap.add_argument("--held-out", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1, help="DDIM steps when decoding")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=6e-3)
    ap.add_argument("--ckpt4", type=Path, help="use this k=4 checkpoint instead of training")
    ap.add_argument("--ckpt16", type=Path, help="use this k=16 checkpoint instead of training")
    ap.add_argument("--work", type=Path, default=Path("runs/regen_bench"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    t0 = time.monotonic()
    size = (args.size, args.size)
    train_dir, held_dir = args.work / f"train_{args.size}", args.work / f"held_{args.size}"
    make_previz_clips(train_dir, args.train_clips, size=size, seconds=2.0, fps=FPS, seed=0)
    held = make_previz_clips(held_dir, args.held_out, size=size, seconds=2.0, fps=FPS, seed=1)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads; "
          f"clips {args.train_clips} train / {len(held)} held-out at {args.size}x{args.size}, "
          f"{time.monotonic() - t0:.0f} s to render")
    print(f"{'compression':<12} {'method':<10} {'PSNR':>6} {'SSIM':>6} {'bytes/s':>8}   training")
    for k, ckpt in ((4, args.ckpt4), (16, args.ckpt16)):
        if ckpt is None:
            ckpt = args.work / f"regen_k{k}_{args.size}.safetensors"
            config = replace(TINY_REGEN_CONFIG, k=k, train_size=size)
            r = train_regen(train_dir, ckpt, config, minutes=args.minutes, steps=10**9, seed=args.seed,
                            resume=False, batch=args.batch, lr=args.lr)
            note = f"{r['step']} steps, {r['seconds']:.0f} s, loss {r['loss_first']:.3f} -> {r['loss_last']:.3f}"
        else:
            note = f"loaded {ckpt}"
        m = evaluate(RegenEmbedder.from_checkpoint(ckpt), held, args.steps)
        print(f"8x8x{k:<8} {'REGEN':<10} {m['psnr']:6.2f} {m['ssim']:6.3f} {m['bytes_s']:8.0f}   {note}")
        print(f"{'':<12} {'keyframes':<10} {m['base_psnr']:6.2f} {m['base_ssim']:6.3f} {m['base_bytes_s']:8.0f}")
        print(f"{'':<12} {'diff':<10} {m['psnr'] - m['base_psnr']:+6.2f} {m['ssim'] - m['base_ssim']:+6.3f} "
              f"{m['bytes_s'] / m['base_bytes_s']:7.2f}x  (REGEN − keyframes; bytes ratio)")


if __name__ == "__main__":
    main()
