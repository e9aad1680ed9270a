"""RFLAV streaming cost: seconds per emitted frame and peak memory versus stream length.

The claim (METHODS.md §6.4): rolling flow matching emits each frame after n passes over a fixed
W-frame window, so time per frame and memory stay flat however long the stream. The baseline in the
same run is the naive way to get L frames from a per-frame-timestep model: put all L frames in one
window and denoise them together with the same W·n Euler steps per frame — its memory and time per
frame grow with L (temporal attention is O(L²)), and it cannot stream.

    .venv/bin/python benchmarks/rflav_stream.py                 # tiny model, CPU
    .venv/bin/python benchmarks/rflav_stream.py --size b1       # FLAV-B/1, random weights (CUDA)

CPU peak memory is the child process's peak RSS above its RSS once the model is built (each case
runs in a fresh process); on CUDA it is torch.cuda.max_memory_allocated above the model's own.
Random weights: the cost is what is measured, not the pictures.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import replace


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _config(size: str, length: int):
    from filmcrew.models.rflav.flav import FLAV_B1_CONFIG, TINY_FLAV_CONFIG

    base = TINY_FLAV_CONFIG if size == "tiny" else FLAV_B1_CONFIG
    return base if length <= base.window else replace(base, window=length)


def naive_full_sequence(model, frames: int, n: int, window: int, seed: int) -> None:
    """Baseline: all frames in one window at one level, W·n Euler steps from noise to clean."""
    import torch

    from filmcrew.tools.video.rflav.sampler import t_model

    cfg = model.config
    p = next(model.parameters())
    g = torch.Generator().manual_seed(seed)
    xv = torch.randn(1, frames, cfg.latent_channels, cfg.latent_size, cfg.latent_size,
                     generator=g).to(p)
    xa = torch.randn(1, frames, 1, cfg.n_mels, cfg.mel_frames, generator=g).to(p)
    steps = window * n  # as many Euler updates per frame as the rolling sampler gives each frame
    with torch.no_grad():
        for i in range(steps):
            t = torch.full((1, frames), i / steps, device=p.device, dtype=p.dtype)
            vv, va = model(xv, xa, t_model(t), t_model(t))
            xv, xa = xv + vv / steps, xa + va / steps


def run_case(size: str, kind: str, length: int, n: int, device: str) -> dict:
    """One measurement in this process: returns seconds and memory."""
    import torch

    from filmcrew.models.rflav.flav import FLAV
    from filmcrew.models.rflav.keys import randomize
    from filmcrew.tools.video.rflav.sampler import StreamStats, stream

    torch.set_num_threads(1)
    base_window = _config(size, 1).window
    cfg = _config(size, length if kind == "naive" else 1)
    torch.manual_seed(0)
    model = FLAV(cfg)
    randomize(model, seed=0, std=0.02)
    model = model.to(device).eval()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    rss0 = _rss_mib()
    t0 = time.perf_counter()
    steady = None
    if kind == "rolling":
        stats = StreamStats()
        t_first = None
        for _ in stream(model, n=n, frames=length, seed=0, stats=stats):
            if device == "cuda":
                torch.cuda.synchronize()
            if t_first is None:
                t_first = time.perf_counter()
        t_end = time.perf_counter()
        steady = (t_end - t_first) / (length - 1) if length > 1 else float("nan")
    else:
        naive_full_sequence(model, length, n, base_window, seed=0)
        if device == "cuda":
            torch.cuda.synchronize()
        t_end = time.perf_counter()
    if device == "cuda":
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss0
    return {"kind": kind, "frames": length, "window": base_window,
            "s_per_frame": (t_end - t0) / length, "steady_s_per_frame": steady,
            "peak_mib": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=["tiny", "b1"], default="tiny")
    ap.add_argument("--lengths", default="1,3,10", help="stream lengths in windows")
    ap.add_argument("--n", type=int, default=2, help="window passes per frame")
    ap.add_argument("--device", choices=["cpu", "cuda"], default=None)
    ap.add_argument("--case", help=argparse.SUPPRESS)  # internal: one case in a child process
    args = ap.parse_args()
    if args.case:
        kind, length = args.case.split(":")
        print(json.dumps(run_case(args.size, kind, int(length), args.n, args.device or "cpu")))
        return
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    w = _config(args.size, 1).window
    rows = []
    for mult in (int(x) for x in args.lengths.split(",")):
        for kind in ("rolling", "naive"):
            if device == "cuda":
                rows.append(run_case(args.size, kind, mult * w, args.n, device))
                torch.cuda.empty_cache()
                continue
            out = subprocess.run([sys.executable, __file__, "--size", args.size, "--n",
                                  str(args.n), "--device", "cpu", "--case", f"{kind}:{mult * w}"],
                                 capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"RFLAV stream cost — FLAV {args.size}, {device}, W={w}, n={args.n} "
          "(rolling s/frame includes the warm-up; steady = after it)")
    print(f"{'frames':>7} {'rolling s/frame':>16} {'steady':>9} {'rolling MiB':>12} "
          f"{'naive s/frame':>14} {'naive MiB':>10} {'time ×':>7} {'mem ×':>7}")
    by = {(r["kind"], r["frames"]): r for r in rows}
    for mult in (int(x) for x in args.lengths.split(",")):
        r, nv = by[("rolling", mult * w)], by[("naive", mult * w)]
        steady = r["steady_s_per_frame"]
        print(f"{mult * w:>7} {r['s_per_frame']:>16.4f} "
              f"{(f'{steady:.4f}' if steady == steady else '-'):>9} {r['peak_mib']:>12.1f} "
              f"{nv['s_per_frame']:>14.4f} {nv['peak_mib']:>10.1f} "
              f"{nv['s_per_frame'] / r['s_per_frame']:>7.2f} "
              f"{nv['peak_mib'] / max(r['peak_mib'], 1e-6):>7.2f}")


if __name__ == "__main__":
    main()
