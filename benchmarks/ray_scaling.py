"""Shots per minute with the Ray executor at 1, 2 and 4 workers, against the local executor, same calls.

Each configuration renders the same `--shots` WISA clips (tiny random pipelines, `--debug-models`,
`--steps` denoising steps each) from as many threads as there are shots, as the crew's fan-out does,
into a fresh run directory (no cache hits). Every worker is warmed first (worker start and model load
are reported apart, not timed in the throughput). The clips must be byte-identical to
the local ones; the script stops if not.

    python benchmarks/ray_scaling.py                       # a local cluster of this machine
    python benchmarks/ray_scaling.py --address auto        # the cluster this machine belongs to
    python benchmarks/ray_scaling.py --size full --address auto --shots 16 --steps 2
        # on GPUs: each shot is `--steps` CFG denoising steps of a random-init CogVideoX-5B
        # transformer (bf16, 49 frames at 720x480), resident on each worker like a real model

Without GPUs the workers take a custom resource (`fc_gpu`) so the routing is the real one; on a GPU
cluster they take one GPU each. The models are tiny at any rate: on a CPU-only machine the workers
share its cores with each other, so more workers than cores cannot help, and the numbers say so.
Workers use the driver's torch thread count (the bytes depend on it): `--threads 1` gives every worker
one core's worth, so workers do not oversubscribe the cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def render_all(store, shots: int, steps: int, seed0: int) -> tuple[float, list[str]]:
    """Wall seconds to render `shots` clips concurrently, and their sha256 in seed order."""
    from filmcrew.schemas import Shot
    from filmcrew.tools.video import WisaGenerator

    gen = WisaGenerator(debug_models=True)
    gen.steps = steps
    shot = Shot(id="s1", duration_s=1.0, local_prompt="a ball falls and bounces",
                events=["a ball falls"])

    def one(k: int) -> str:
        ref = gen.generate(store, f"generate:s1#{k}", shot, None, seed=seed0 + k, width=64,
                           height=64, fps=8, shot_number=1, style="")
        return ref.sha256

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, shots)) as pool:
        shas = list(pool.map(one, range(shots)))
    return time.perf_counter() - t0, shas


def denoise(path: Path, *, size: str, config: dict, steps: int, seed: int) -> dict:
    """One `--size` shot on whatever device this process has: `steps` CFG denoising steps of a
    random-init CogVideoX transformer (full: CogVideoX-5B at 49 frames 720x480; small: the tiny
    test config), the model loaded once per process among its resident models. Writes a checksum."""
    import torch

    from filmcrew.tools.devices import DEVICE_LOCK
    from filmcrew.tools.resident import RESIDENT

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if dev == "cuda" else torch.float32

    def load() -> torch.nn.Module:
        from diffusers import CogVideoXTransformer3DModel

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return CogVideoXTransformer3DModel(**config).to(dev, dtype).eval()

    model = RESIDENT.get(("cogvideox-random", size, dev), load)
    from filmcrew.models.wisa.transformer import cogvideox_rotary_emb

    cfg = model.config
    frames, height, width, text_len = (13, 60, 90, 226) if size == "full" else (2, 8, 8, 8)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, frames, cfg.in_channels, height, width, generator=g).to(dev, dtype)
    text = torch.randn(2, text_len, cfg.text_embed_dim, generator=g).to(dev, dtype)
    rotary = cogvideox_rotary_emb(cfg, frames, height, width, device=torch.device(dev))
    with DEVICE_LOCK, torch.no_grad():
        for k in range(steps):
            t = torch.full((2,), 999 - k * (999 // max(1, steps)), device=dev, dtype=torch.long)
            out = model(hidden_states=x, encoder_hidden_states=text, timestep=t,
                        image_rotary_emb=rotary, return_dict=False)[0]
            x = x - 0.05 * out
    path.write_text(f"{x.float().abs().sum().item():.6e}\n")
    return {}


def shots_of_size(store, shots: int, steps: int, seed0: int, size: str) -> tuple[float, list[str]]:
    """Like `render_all`, for `--size small|full`: each shot a GPU call of `denoise`."""
    from functools import partial

    from gpu_truth import COGVIDEOX_5B  # benchmarks/ (this script's folder)

    from filmcrew.models.wisa.transformer import TINY_COGVIDEOX_CONFIG

    config = dict(COGVIDEOX_5B if size == "full" else TINY_COGVIDEOX_CONFIG)

    def one(k: int) -> str:
        make = partial(denoise, size=size, config=config, steps=steps, seed=seed0 + k)
        return store.get_or_create(f"generate:s{k}#0", "bench-denoise", "1",
                                   {"size": size, "steps": steps}, ext="txt",
                                   media_type="text/plain", make=make, seed=seed0 + k,
                                   model=f"cogvideox-random-{size}", gpu=True).sha256

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, shots)) as pool:
        shas = list(pool.map(one, range(shots)))
    return time.perf_counter() - t0, shas


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shots", type=int, default=8)
    ap.add_argument("--steps", type=int, default=12, help="denoising steps per clip")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--address", default="", help="a Ray cluster (default: start one here)")
    ap.add_argument("--size", choices=("wisa-tiny", "small", "full"), default="wisa-tiny",
                    help="wisa-tiny: the crew's WISA call with tiny models (default); small/full: "
                         "CFG denoising steps of a random-init CogVideoX transformer, tiny or 5B")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads of the driver, and so of every worker (default: torch's)")
    args = ap.parse_args(argv)

    import ray
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from filmcrew.artifacts import ArtifactStore
    from filmcrew.cluster import RayExecutor

    gpus = torch.cuda.device_count()
    if args.address:
        ray.init(address=args.address, log_to_driver=False)
        resource = "GPU"
    else:
        resource = "GPU" if gpus else "fc_gpu"
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
                 resources={} if gpus else {"fc_gpu": max(args.workers)})
    tmp = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, {gpus} CUDA GPUs, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads per process, "
          f"ray {ray.__version__}; {args.shots} shots of {args.steps} steps, "
          + {"wisa-tiny": "tiny WISA (Wan) pipelines",
             "small": "a tiny random CogVideoX transformer",
             "full": "a random-init CogVideoX-5B transformer (CFG, 49 frames 720x480)"}[args.size])

    def render(store, shots: int, seed0: int) -> tuple[float, list[str]]:
        if args.size == "wisa-tiny":
            return render_all(store, shots, args.steps, seed0)
        return shots_of_size(store, shots, args.steps, seed0, args.size)

    render(ArtifactStore(tmp / "warm-local"), 1, 10_000)  # load the local model
    local_s, local_shas = render(ArtifactStore(tmp / "local"), args.shots, 0)
    rows = [("local", 1, local_s, 0.0)]
    for n in args.workers:
        t0 = time.perf_counter()
        ex = RayExecutor(resource=resource, actors=n)
        # 2n calls at once: the router gives each worker two (a holder takes a second call before
        # a stranger loads), so every worker has started and loaded the model before the timing
        render(ArtifactStore(tmp / f"warm-{n}", executor=ex), 2 * n, 20_000 + 100 * n)
        warm_s = time.perf_counter() - t0
        wall, shas = render(ArtifactStore(tmp / f"ray-{n}", executor=ex), args.shots, 0)
        if shas != local_shas:
            print(f"ray with {n} workers made different clips from local: "
                  f"{[s[:8] for s in shas]} vs {[s[:8] for s in local_shas]}", file=sys.stderr)
            return 1
        calls = [s["calls"] for s in ex.stats()]
        ex.close()
        rows.append((f"ray ({'/'.join(map(str, calls))} calls)", n, wall, warm_s))

    print("\n| executor | workers | wall s | shots/min | vs local | worker start + load s |")
    print("|---|---|---|---|---|---|")
    for name, n, wall, warm in rows:
        start = f"{warm:.1f}" if warm else "–"
        print(f"| {name} | {n} | {wall:.1f} | {60 * args.shots / wall:.1f} | "
              f"{local_s / wall:.2f}× | {start} |")
    print(f"\nclips identical to local in every configuration (clip 0: {local_shas[0][:12]}…)")
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
