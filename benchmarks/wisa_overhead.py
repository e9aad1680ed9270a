"""WISA's cost per denoising step against the plain transformer it wraps (paper: about +5 % time).

One denoising step = one transformer forward on the CFG batch (2 × the latents, 500 text tokens).
Baseline in the same run: the same base transformer called directly (no physics token, no MoPA
block, no classifier), same weights and inputs, runs interleaved, median of the repeats.

    .venv/bin/python benchmarks/wisa_overhead.py               # tiny CogVideoX, CPU, fp32
    .venv/bin/python benchmarks/wisa_overhead.py --size 5b     # CogVideoX-5B shape, random, bf16 on CUDA

`--size 5b` builds CogVideoX-5B's transformer (42 blocks, 48×64 heads) with random weights at the
native clip (49 frames 720×480 → 13×60×90 latents) and also prints achieved TFLOPS and the fraction
of the GPU's dense bf16 peak (FLOPs counted from the shapes: matmuls and attention, 2 per MAC).
`--layers N` and `--frames F` shrink either model (a quick check of the 5B code path on a CPU).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from typing import Any

import torch

#: Dense bf16 peak (no sparsity) in FLOP/s, by substring of the device name; first match wins.
PEAK_BF16 = [("H100 PCIe", 756e12), ("H100", 989e12), ("H200", 989e12), ("GH200", 989e12),
             ("A100", 312e12), ("L40S", 362e12), ("L4", 121e12), ("4090", 165e12)]
COGVIDEOX_5B = dict(
    num_attention_heads=48, attention_head_dim=64, in_channels=16, out_channels=16, time_embed_dim=512,
    text_embed_dim=4096, num_layers=42, sample_width=90, sample_height=60, sample_frames=49,
    patch_size=2, temporal_compression_ratio=4, max_text_seq_length=500,
    use_rotary_positional_embeddings=True, use_learned_positional_embeddings=False,
)  # fmt: skip
TEXT_TOKENS, EXPERT_HEADS = 500, 58


def step_flops(cfg: Any, latent_frames: int, latent_h: int, latent_w: int, batch: int,
               wisa: bool) -> float:
    """FLOPs of one forward (matmuls + attention) of a CogVideoX-shaped transformer, for `batch`."""
    d, p = cfg.num_attention_heads * cfg.attention_head_dim, cfg.patch_size
    nv = latent_frames * (latent_h // p) * (latent_w // p) + (1 if wisa else 0)
    n = nv + TEXT_TOKENS
    per_block = 24 * n * d * d + 4 * n * n * d  # q,k,v,out + 4x feed-forward; QK^T and AV
    total = cfg.num_layers * per_block + 2 * TEXT_TOKENS * cfg.text_embed_dim * d
    total += 2 * nv * cfg.in_channels * p * p * d * 2  # patch embedding in, projection out
    if wisa:  # the MoPA block: 58 expert heads of the base head size, video tokens only
        inner = EXPERT_HEADS * cfg.attention_head_dim
        total += 8 * nv * d * inner + 4 * nv * nv * inner
    return float(batch * total)


def build(size: str, layers: int | None, frames: int | None, device: torch.device,
          dtype: torch.dtype):
    """The WISA transformer and its inputs for one CFG step."""
    from diffusers import CogVideoXTransformer3DModel

    from filmcrew.models.wisa.transformer import (
        TINY_COGVIDEOX_CONFIG,
        WisaCogVideoXTransformer,
        cogvideox_rotary_emb,
    )

    cfg = dict(TINY_COGVIDEOX_CONFIG if size == "tiny" else COGVIDEOX_5B)
    if layers:
        cfg["num_layers"] = layers
    if frames:
        cfg["sample_frames"] = frames
    torch.manual_seed(0)
    with torch.device(device):  # build in place: 5B weights never touch host memory
        base = CogVideoXTransformer3DModel(**cfg)
        base = base if dtype == torch.float32 else base.to(dtype)
        model = WisaCogVideoXTransformer(base).eval()
    c = base.config
    f = (c.sample_frames - 1) // c.temporal_compression_ratio + 1
    h, w = c.sample_height, c.sample_width
    g = torch.Generator(device=device).manual_seed(0)
    latents = torch.randn(2, f, c.in_channels, h, w, generator=g, device=device).to(dtype)
    text = torch.randn(2, TEXT_TOKENS, c.text_embed_dim, generator=g, device=device).to(dtype)
    t = torch.tensor([500, 500], device=device)
    cats = torch.zeros(2, 29, device=device)
    cats[1, [0, 1, 20, 28]] = 1  # cond row: collision, rigid body motion, camera moves, no change
    quants = torch.zeros(2, 18, device=device)
    rotary = cogvideox_rotary_emb(c, f, h, w, device=device)
    return model, (latents, text, t, cats, quants, rotary), (f, h, w)


def timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=("tiny", "5b"), default="tiny")
    ap.add_argument("--layers", type=int, default=None, help="override the number of blocks")
    ap.add_argument("--frames", type=int, default=None, help="override the clip length (4k+1)")
    ap.add_argument("--repeats", type=int, default=None, help="timed steps per model")
    ap.add_argument("--device", default=None, help="default: cuda for 5b if available, else cpu")
    args = ap.parse_args()
    device = torch.device(args.device or ("cuda" if args.size == "5b" and torch.cuda.is_available()
                                          else "cpu"))
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    repeats = args.repeats or (10 if device.type == "cuda" else 30)
    model, (x, text, t, cats, quants, rotary), (f, h, w) = build(args.size, args.layers,
                                                                 args.frames, device, dtype)
    c = model.config

    def wisa() -> None:
        model(x, text, t, categories=cats, quantities=quants, image_rotary_emb=rotary)

    def plain() -> None:
        model.base(hidden_states=x, encoder_hidden_states=text, timestep=t,
                   image_rotary_emb=rotary, return_dict=False)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(f"machine: {platform.machine()} {name or ''}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {device.type} {str(dtype).removeprefix('torch.')}, "
          f"{torch.get_num_threads()} threads")
    n_params = sum(p.numel() for p in model.base.parameters())
    n_phys = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("base."))
    print(f"model: CogVideoX {args.size}, {c.num_layers} blocks, dim "
          f"{c.num_attention_heads * c.attention_head_dim}, {n_params / 1e6:.2f} M base params "
          f"+ {n_phys / 1e6:.2f} M WISA ({100 * n_phys / n_params:.1f} %); CFG batch 2, "
          f"latents {f}×{h}×{w}, {TEXT_TOKENS} text tokens")
    with torch.no_grad():
        for _ in range(2):  # warm-up (kernels, allocator)
            wisa()
            plain()
        times: dict[str, list[float]] = {"plain": [], "wisa": []}
        for i in range(repeats):  # interleaved, alternating order: drift hits both alike
            for key in (("plain", "wisa") if i % 2 == 0 else ("wisa", "plain")):
                times[key].append(timed(wisa if key == "wisa" else plain, device))
    med = {k: statistics.median(v) for k, v in times.items()}
    flops = {k: step_flops(c, f, h, w, 2, wisa=k == "wisa") for k in med}
    print("| transformer | step s (median) | min s | GFLOP / step |")
    print("|---|---|---|---|")
    for k in ("plain", "wisa"):
        print(f"| {k} | {med[k]:.4f} | {min(times[k]):.4f} | {flops[k] / 1e9:.1f} |")
    print(f"WISA / plain time: {med['wisa'] / med['plain']:.3f} "
          f"(+{100 * (med['wisa'] / med['plain'] - 1):.1f} %); FLOPs: "
          f"{flops['wisa'] / flops['plain']:.3f}")
    if device.type == "cuda":
        peak = next((v for key, v in PEAK_BF16 if key in name), None)
        for k in ("plain", "wisa"):
            achieved = flops[k] / med[k]
            frac = f", {100 * achieved / peak:.1f} % of the {peak / 1e12:.0f} TFLOPS bf16 peak" \
                if peak else " (GPU not in the peak table)"
            print(f"{k}: {achieved / 1e12:.1f} TFLOPS{frac}")
        print(f"peak memory: {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
