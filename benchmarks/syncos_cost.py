"""SynCoS's cost against Gen-L-Video at the same length (paper Tab. 4: 55 vs 21 min, ≈2.6×).

Both run the same sampler on the same model, seed and long latent: Gen-L-Video is stage 1 alone
(`mode="gen-l-video"`), SynCoS adds the CSD refinement while t > t_min. Counted: transformer
evaluations (one per chunk and CFG batch) and wall time, runs interleaved, median of the repeats.
Also printed: the evaluation counts the same defaults give at the paper's CogVideoX-2B 4× setting
(13-latent-frame chunks, stride 4, 50 DDIM steps), from the sampler's own plan, no model run.

    .venv/bin/python benchmarks/syncos_cost.py                 # tiny CogVideoX, CPU, 4× native length
    .venv/bin/python benchmarks/syncos_cost.py --base wan --steps 20 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from filmcrew.tools.video.syncos.sampler import SyncosSampler, chunk_windows, native_latent_frames
from filmcrew.tools.video.wisa.pipeline import tiny_wisa_pipeline

GLOBAL = "A red rubber ball in a sunlit kitchen, handheld camera."
LOCAL = ["the ball rolls off the table", "the ball bounces on the tiles", "the ball rolls under a chair",
         "the ball comes to rest"]


def run(sampler: SyncosSampler, frames: int, steps: int, seed: int) -> tuple[float, int]:
    """Seconds and model evaluations of one long video (decode excluded: equal for both)."""
    sampler.model_calls = 0
    t0 = time.perf_counter()
    sampler(GLOBAL, LOCAL, frames, num_inference_steps=steps,
            generator=torch.Generator().manual_seed(seed), output_type="latent")
    return time.perf_counter() - t0, sampler.model_calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", choices=["cogvideox", "wan"], default="cogvideox")
    ap.add_argument("--length", type=float, default=4.0, help="× the native length")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    pipe = tiny_wisa_pipeline(args.base, seed=0)
    native = native_latent_frames(pipe)
    frames = round((native - 1) * args.length) + 1
    syncos = SyncosSampler(pipe)  # defaults: t_min 800 (flow 930), 20 iterations, lr 0.5, minibatch 4
    glv = SyncosSampler(pipe, mode="gen-l-video")
    n_chunks = len(chunk_windows(frames, syncos.chunk_len, syncos.stride))
    coupled = sum(syncos.coupled_steps(args.steps))
    times: dict[str, list[float]] = {"gen-l-video": [], "syncos": []}
    calls = {}
    for r in range(args.repeats):
        for name, s in (("gen-l-video", glv), ("syncos", syncos)):
            sec, n = run(s, frames, args.steps, seed=r)
            times[name].append(sec)
            calls[name] = n

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{args.threads} thread(s), no GPU" if not torch.cuda.is_available() else "")
    print(f"tiny {args.base}: native {native} latent frames, video {frames} latent frames "
          f"({args.length:g}×), chunk {syncos.chunk_len}, stride {syncos.stride}, {n_chunks} chunks, "
          f"{args.steps} steps, {coupled} coupled (t > {syncos.t_min:g}), {syncos.iters} iterations × "
          f"minibatch {syncos.minibatch}")
    print("| mode | model evaluations | seconds (median) |")
    print("|---|---|---|")
    for name in ("gen-l-video", "syncos"):
        print(f"| {name} | {calls[name]} | {statistics.median(times[name]):.2f} |")
    ratio_n = calls["syncos"] / calls["gen-l-video"]
    ratio_t = statistics.median(times["syncos"]) / statistics.median(times["gen-l-video"])
    print(f"SynCoS / Gen-L-Video: ×{ratio_n:.2f} evaluations, ×{ratio_t:.2f} time "
          f"(paper: 55 / 21 min = ×{55 / 21:.2f})")

    # The same defaults at the paper's setting, counted from the plan (no model run): CogVideoX's
    # DDIM timesteps, whatever --base ran above.
    if args.base != "cogvideox":
        pipe = tiny_wisa_pipeline("cogvideox", seed=0)
    paper = SyncosSampler(pipe, chunk_len=13, stride=4)
    t_paper = 4 * 12 + 1  # 4 × 49 frames ≈ 4 × 12 latent intervals
    p_glv = SyncosSampler(pipe, chunk_len=13, stride=4, mode="gen-l-video").planned_calls(t_paper, 50)
    p_syn = paper.planned_calls(t_paper, 50)
    print(f"at CogVideoX-2B 4× ({t_paper} latent frames, chunk 13, stride 4, "
          f"{len(chunk_windows(t_paper, 13, 4))} chunks, 50 steps, "
          f"{sum(paper.coupled_steps(50))} coupled): {p_glv} vs {p_syn} evaluations, "
          f"×{p_syn / p_glv:.2f}")


if __name__ == "__main__":
    main()
