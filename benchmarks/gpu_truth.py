"""Every backend at its real size with random-init weights, on one GPU, in one run (issue 23).

    python benchmarks/gpu_truth.py --out results/gpu      # on a CUDA machine, bf16, full size
    python benchmarks/gpu_truth.py --tiny --out results/gpu-tiny  # the same code path on the CPU, tiny configs

No weights are downloaded: each model is built from its published configuration with random
weights, which is what speed, memory and device placement depend on. Backends run one after another;
each builds its model on the device, runs a short fixed amount of work, records seconds, peak memory
and its figure, frees everything and the next begins. A failure is recorded and the run goes on.
One JSON (`gpu_truth.json`) goes to --out and a table is printed.

FLOPs of a transformer step are counted analytically: 2 x tokens x (weights of every Linear in the
blocks) for the matrix products, plus 4 x layers x tokens^2 x width for attention (QK^T and AV), per
batch item; timestep/patch embeddings and norms are left out (under 1 %).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

#: Dense bf16 tensor-core peak by card (the vendors' data sheets, without sparsity).
BF16_PEAK_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.1, "4090": 165.2}

#: CogVideoX-5B's transformer (THUDM/CogVideoX-5b transformer/config.json).
COGVIDEOX_5B = dict(num_attention_heads=48, attention_head_dim=64, in_channels=16, out_channels=16,
                    flip_sin_to_cos=True, freq_shift=0, time_embed_dim=512, text_embed_dim=4096,
                    num_layers=42, dropout=0.0, attention_bias=True, sample_width=90, sample_height=60,
                    sample_frames=49, patch_size=2, temporal_compression_ratio=4,
                    max_text_seq_length=226, activation_fn="gelu-approximate",
                    timestep_activation_fn="silu", norm_elementwise_affine=True, norm_eps=1e-5,
                    spatial_interpolation_scale=1.875, temporal_interpolation_scale=1.0,
                    use_rotary_positional_embeddings=True, use_learned_positional_embeddings=False)
#: Wan2.1-T2V-14B's transformer (Wan-AI/Wan2.1-T2V-14B-Diffusers transformer/config.json).
WAN_14B = dict(patch_size=(1, 2, 2), num_attention_heads=40, attention_head_dim=128, in_channels=16,
               out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=13824, num_layers=40,
               cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6)


class Bench:
    """Where and how the backends run: device, dtype, tiny or full size, and the clock."""

    def __init__(self, tiny: bool, device: str):
        self.tiny = tiny
        self.device = torch.device(device)
        self.dtype = torch.float32 if tiny else torch.bfloat16
        self.cuda = self.device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def timed(self, fn: Callable[[], Any], repeats: int = 1, warmup: int = 1) -> float:
        """Mean seconds of `fn` over `repeats` runs after `warmup` runs."""
        for _ in range(warmup):
            fn()
        self.sync()
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        self.sync()
        return (time.perf_counter() - t0) / repeats

    @contextmanager
    def building(self):
        """Build modules directly on the device in the bench dtype (no fp32 copy on the host)."""
        old = torch.get_default_dtype()
        torch.set_default_dtype(self.dtype)
        try:
            with torch.device(self.device):
                yield
        finally:
            torch.set_default_dtype(old)

    def peak_tflops(self) -> float | None:
        if not self.cuda:
            return None
        name = torch.cuda.get_device_name(self.device)
        return next((v for k, v in BF16_PEAK_TFLOPS.items() if k in name), None)

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, device=self.device, dtype=self.dtype)


def linear_weights(module: torch.nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, torch.nn.Linear))


def transformer_flops(blocks: torch.nn.Module, tokens: int, layers: int, width: int, batch: int) -> float:
    return batch * (2.0 * tokens * linear_weights(blocks) + 4.0 * layers * tokens ** 2 * width)


# --------------------------------------------------------------------------------------------------
# Backends: each returns its figures; the harness adds seconds and peak memory.

def wisa_cogvideox(b: Bench) -> dict:
    """2 denoising steps with CFG on CogVideoX-5B at 49 frames 720x480: plain vs WISA."""
    from diffusers import CogVideoXTransformer3DModel

    from filmcrew.models.wisa.transformer import (
        TINY_COGVIDEOX_CONFIG,
        WisaCogVideoXTransformer,
        cogvideox_rotary_emb,
    )

    cfg = dict(TINY_COGVIDEOX_CONFIG) if b.tiny else COGVIDEOX_5B
    frames, height, width = (2, 8, 8) if b.tiny else (13, 60, 90)  # latent: 49 frames, 480x720 / 8
    text_len = 8 if b.tiny else 226
    with b.building():
        base = CogVideoXTransformer3DModel(**cfg).eval()
        wisa = WisaCogVideoXTransformer(base).eval()
    heads, head_dim = cfg["num_attention_heads"], cfg["attention_head_dim"]
    x = b.randn(2, frames, cfg["in_channels"], height, width)  # CFG: the conditional and unconditional
    text = b.randn(2, text_len, cfg["text_embed_dim"])
    t = torch.full((2,), 500, device=b.device, dtype=torch.long)
    rotary = cogvideox_rotary_emb(base.config, frames, height, width, device=b.device)
    categories = torch.zeros(2, 29, device=b.device, dtype=b.dtype)
    categories[:, 0] = 1
    quantities = torch.zeros(2, 18, device=b.device, dtype=b.dtype)

    @torch.no_grad()
    def plain() -> None:
        base(hidden_states=x, encoder_hidden_states=text, timestep=t, image_rotary_emb=rotary,
             return_dict=False)

    @torch.no_grad()
    def with_wisa() -> None:
        wisa(x, text, t, categories=categories, quantities=quantities, image_rotary_emb=rotary)

    s_plain = b.timed(plain, repeats=2)
    s_wisa = b.timed(with_wisa, repeats=2)
    p = cfg["patch_size"]
    tokens = text_len + frames * (height // p) * (width // p)
    flops = transformer_flops(base.transformer_blocks, tokens, cfg["num_layers"], heads * head_dim, 2)
    out = {"s_per_step_plain": s_plain, "s_per_step_wisa": s_wisa, "wisa_over_plain": s_wisa / s_plain,
           "tokens": tokens, "tflop_per_step": flops / 1e12, "tflops_plain": flops / s_plain / 1e12}
    peak = b.peak_tflops()
    if peak:
        out["pct_of_bf16_peak"] = 100 * out["tflops_plain"] / peak
    return out


def wisa_wan(b: Bench) -> dict:
    """1 step with CFG on Wan2.1-14B at 81 frames 832x480."""
    from diffusers import WanTransformer3DModel

    from filmcrew.models.wisa.transformer import TINY_WAN_CONFIG, WisaWanTransformer

    cfg = dict(TINY_WAN_CONFIG) if b.tiny else WAN_14B
    frames, height, width = (2, 8, 8) if b.tiny else (21, 60, 104)  # latent: 81 frames, 480x832 / 8
    text_len = 8 if b.tiny else 512
    with b.building():
        wisa = WisaWanTransformer(WanTransformer3DModel(**cfg)).eval()
    x = b.randn(2, cfg["in_channels"], frames, height, width)
    text = b.randn(2, text_len, cfg["text_dim"])
    t = torch.full((2,), 500, device=b.device, dtype=torch.long)
    categories = torch.zeros(2, 29, device=b.device, dtype=b.dtype)
    categories[:, 0] = 1

    @torch.no_grad()
    def step() -> None:
        wisa(x, text, t, categories=categories)

    s = b.timed(step, repeats=1)
    return {"s_per_step": s, "x40_steps_s": 40 * s,
            "lightx2v_reference_s": {"official_40_steps_h200": 366, "fp8_sage2_h200": 191}}


def syncos(b: Bench) -> dict:
    """One coupled SynCoS step vs one Gen-L-Video step at 4x CogVideoX's native length.

    A step's cost is its transformer calls times the measured time of one call (a native-length
    chunk with CFG), the calls counted as the sampler makes them with its defaults: Gen-L-Video
    evaluates every chunk once; a coupled step adds `iters` CSD iterations over a minibatch of chunks.
    The CSD update itself (a kernel over the chunks' x0) is small beside a 5B forward and left out.
    """
    import inspect

    from diffusers import CogVideoXTransformer3DModel

    from filmcrew.models.wisa.transformer import (
        TINY_COGVIDEOX_CONFIG,
        WisaCogVideoXTransformer,
        cogvideox_rotary_emb,
    )
    from filmcrew.tools.video.syncos.sampler import SyncosSampler
    from filmcrew.tools.video.syncos.schedule import chunk_windows

    cfg = dict(TINY_COGVIDEOX_CONFIG) if b.tiny else COGVIDEOX_5B
    chunk, height, width = (2, 8, 8) if b.tiny else (13, 60, 90)
    text_len = 8 if b.tiny else 226
    with b.building():
        wisa = WisaCogVideoXTransformer(CogVideoXTransformer3DModel(**cfg)).eval()
    x = b.randn(2, chunk, cfg["in_channels"], height, width)
    text = b.randn(2, text_len, cfg["text_embed_dim"])
    t = torch.full((2,), 500, device=b.device, dtype=torch.long)
    rotary = cogvideox_rotary_emb(wisa.base.config, chunk, height, width, device=b.device)

    @torch.no_grad()
    def call() -> None:
        wisa(x, text, t, image_rotary_emb=rotary)

    s_call = b.timed(call, repeats=2)
    defaults = {k: v.default for k, v in inspect.signature(SyncosSampler.__init__).parameters.items()}
    windows = len(chunk_windows(4 * chunk, chunk, max(1, chunk // 3)))
    gen_l = windows
    coupled = windows + defaults["iters"] * min(windows, defaults["minibatch"] or windows)
    return {"s_per_call": s_call, "calls_coupled_step": coupled, "calls_gen_l_video_step": gen_l,
            "s_coupled_step": coupled * s_call, "s_gen_l_video_step": gen_l * s_call,
            "coupled_over_gen_l_video": coupled / gen_l}


def rflav(b: Bench) -> dict:
    """20 rolling frames of RFLAV-B/1 (joint audio+video), n = 2 passes per frame."""
    from filmcrew.models.rflav.flav import FLAV, FLAV_B1_CONFIG, TINY_FLAV_CONFIG
    from filmcrew.tools.video.rflav.sampler import stream

    cfg = TINY_FLAV_CONFIG if b.tiny else FLAV_B1_CONFIG
    with b.building():
        model = FLAV(cfg).eval()
    frames = 4 if b.tiny else 20
    y = 0 if cfg.num_classes else None

    def run() -> None:
        with torch.no_grad():
            for _ in stream(model, n=2, frames=frames, y=y, seed=0):
                pass

    s = b.timed(run, repeats=1)
    fps = 10.0  # RFLAV's video frame rate (10 mel frames of 100/s per video frame)
    return {"frames": frames, "frames_per_s": frames / s, "real_time_factor": frames / fps / s,
            "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6}


def musicgen(b: Bench) -> dict:
    """10 s of audio from MusicGen-Melody (1.5B decoder) with CFG, through the crew's own loop."""
    from filmcrew.tools.music.musicgen.model import (
        generate_music,
        random_musicgen_melody,
        tiny_musicgen_melody,
    )

    bundle = tiny_musicgen_melody(0) if b.tiny else random_musicgen_melody(b.device, b.dtype)
    bundle.model.to(device=b.device, dtype=b.dtype)
    seconds = 1.0 if b.tiny else 10.0
    chroma = None

    def run() -> None:
        generate_music(bundle, "tense strings", chroma, seconds, seed=0)

    s = b.timed(run, repeats=1, warmup=0 if not b.tiny else 1)
    return {"seconds_of_audio": seconds, "real_time_factor": seconds / s,
            "parameters_m": sum(p.numel() for p in bundle.model.parameters()) / 1e6}


def regen(b: Bench) -> dict:
    """Decode 17 frames at 256x256 from REGEN latents (full configuration, k = 8): two chunks of
    k + 1 frames that share their boundary frame, 4 decoding steps."""
    from filmcrew.models.regen import TINY_REGEN_CONFIG, RegenConfig, RegenModel

    cfg = TINY_REGEN_CONFIG if b.tiny else RegenConfig(k=8)
    side = 32 if b.tiny else 256
    steps = 4
    with b.building():
        model = RegenModel(cfg).eval()
    video = b.randn(2, 3, cfg.k + 1, side, side)
    with torch.no_grad():
        z_c, z_m = model.encode(video)
    times = torch.arange(cfg.k + 1, device=b.device, dtype=b.dtype)
    frames = 2 * cfg.k + 1

    def run() -> None:
        with torch.no_grad():
            model.decode(z_c, z_m, times, steps, (side, side))

    s = b.timed(run, repeats=1)
    return {"frames": frames, "side": side, "steps": steps, "s_per_frame": s / frames}


def vae(b: Bench) -> dict:
    """Decode one 49-frame CogVideoX latent (13 x 60 x 90), untiled and tiled."""
    from diffusers import AutoencoderKLCogVideoX

    kw = ({"block_out_channels": (8, 8, 8, 8), "latent_channels": 4, "layers_per_block": 1,
           "norm_num_groups": 4} if b.tiny else {})
    with b.building():
        model = AutoencoderKLCogVideoX(**kw).eval()
    latent = b.randn(1, model.config.latent_channels, 2 if b.tiny else 13, 8 if b.tiny else 60,
                     8 if b.tiny else 90)
    out: dict[str, Any] = {}
    for tiled in (False, True):
        model.enable_tiling() if tiled else model.disable_tiling()
        if b.cuda:
            torch.cuda.reset_peak_memory_stats(b.device)

        def run() -> None:
            with torch.no_grad():
                model.decode(latent)

        key = "tiled" if tiled else "untiled"
        try:
            out[f"s_{key}"] = b.timed(run, repeats=1, warmup=0)
            if b.cuda:
                out[f"peak_gib_{key}"] = torch.cuda.max_memory_allocated(b.device) / 2 ** 30
        except torch.OutOfMemoryError as e:
            out[f"s_{key}"] = f"out of memory: {str(e)[:120]}"
            gc.collect()
            torch.cuda.empty_cache()
    return out


def placement(b: Bench) -> dict:
    """The crew's own sampling loops end to end with tiny models on the bench device: a tensor left
    on the CPU (a schedule table, a noise draw, a timestep) fails here, where a bare forward would
    not. WISA and SynCoS on both bases, RFLAV's rolling stream with class guidance."""
    from filmcrew.models.rflav.flav import FLAV, TINY_FLAV_CONFIG
    from filmcrew.tools.video.rflav.sampler import stream
    from filmcrew.tools.video.syncos.sampler import SyncosSampler
    from filmcrew.tools.video.wisa.pipeline import tiny_wisa_pipeline

    out: dict[str, Any] = {}
    failures: dict[str, str] = {}

    def part(name: str, fn: Callable[[], Any]) -> None:
        try:
            out[name] = fn()
        except Exception as e:  # each loop is checked on its own, so one failure names its loop
            frames = [f for f in traceback.extract_tb(e.__traceback__) if "filmcrew" in f.filename]
            failures[name] = f"{type(e).__name__}: {e}"[:200] + "".join(
                f" <- {Path(f.filename).name}:{f.lineno}" for f in frames[-3:])

    for base in ("cogvideox", "wan"):
        pipe = tiny_wisa_pipeline(base, seed=0)
        for module in (pipe.transformer, pipe.vae, pipe.text_encoder):
            if module is not None:
                module.to(b.device)
        part(f"wisa_{base}_frames", lambda pipe=pipe, base=base: int(pipe(
            f"a ball drops ({base})", num_inference_steps=2,
            generator=torch.Generator(b.device).manual_seed(0)).shape[0]))
        latent_frames = 2 * ((pipe.native_frames - 1) // pipe.scale_temporal + 1)
        part(f"syncos_{base}_device", lambda pipe=pipe, n=latent_frames: str(SyncosSampler(pipe, iters=2)(
            "a ball", ["drops", "bounces"], n, num_inference_steps=2,
            generator=torch.Generator(b.device).manual_seed(0), output_type="latent").device))
    model = FLAV(TINY_FLAV_CONFIG).to(b.device).eval()

    def rflav_stream() -> str:
        with torch.no_grad():
            video = [v for v, _ in stream(model, n=2, frames=3, y=1, cfg_scale=2.0, seed=0)]
        return str(video[-1].device)

    part("rflav_device", rflav_stream)
    if failures:
        raise RuntimeError("; ".join(f"{k}: {v}" for k, v in failures.items()))
    return out


BACKENDS: dict[str, Callable[[Bench], dict]] = {
    "placement": placement,
    "wisa_cogvideox_5b": wisa_cogvideox, "wisa_wan_14b": wisa_wan, "syncos_cogvideox_5b": syncos,
    "rflav_b1": rflav, "musicgen_melody": musicgen, "regen": regen, "vae_cogvideox": vae,
}

TARGETS = {  # issue 23's targets, checked where their figure was measured
    "wisa_over_plain <= 1.03": ("wisa_cogvideox_5b", "wisa_over_plain", lambda v: v <= 1.03),
    "transformer >= 60 % of bf16 peak": ("wisa_cogvideox_5b", "pct_of_bf16_peak", lambda v: v >= 60),
    "coupled / Gen-L-Video <= 1.8": ("syncos_cogvideox_5b", "coupled_over_gen_l_video", lambda v: v <= 1.8),
    "MusicGen >= 5x real time": ("musicgen_melody", "real_time_factor", lambda v: v >= 5),
}


def run_all(b: Bench, names: list[str]) -> dict:
    results: dict[str, Any] = {}
    for name in names:
        if b.cuda:
            torch.cuda.reset_peak_memory_stats(b.device)
        t0 = time.perf_counter()
        try:
            row = BACKENDS[name](b)
            row["ok"] = True
        except Exception as e:  # recorded; the next backend still runs
            frames = [f for f in traceback.extract_tb(e.__traceback__) if "filmcrew" in f.filename
                      or "gpu_truth" in f.filename]
            row = {"ok": False, "error": f"{type(e).__name__}: {e}"[:400],
                   "where": [f"{Path(f.filename).name}:{f.lineno} {f.line}" for f in frames[-4:]]}
        row["seconds_total"] = time.perf_counter() - t0
        if b.cuda:
            row["peak_gib"] = torch.cuda.max_memory_allocated(b.device) / 2 ** 30
        results[name] = row
        gc.collect()
        if b.cuda:
            torch.cuda.empty_cache()
        print(f"{name}: {json.dumps(row, default=str)[:600]}", flush=True)
    checks = {}
    for label, (name, key, ok) in TARGETS.items():
        value = results.get(name, {}).get(key)
        checks[label] = None if not isinstance(value, int | float) else {"value": value, "met": ok(value)}
    return {"backends": results, "targets": checks}


def table(result: dict) -> str:
    lines = ["| backend | ok | s total | peak GiB | figures |", "|---|---|---|---|---|"]
    for name, row in result["backends"].items():
        figs = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
                         if k not in ("ok", "seconds_total", "peak_gib", "where"))
        peak = f"{row['peak_gib']:.1f}" if "peak_gib" in row else "-"
        lines.append(f"| {name} | {'yes' if row['ok'] else 'no'} | {row['seconds_total']:.1f} | {peak} | {figs} |")
    lines += ["", "| target | value | met |", "|---|---|---|"]
    for label, check in result["targets"].items():
        lines.append(f"| {label} | {'-' if check is None else format(check['value'], '.3g')} | "
                     f"{'-' if check is None else check['met']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for gpu_truth.json")
    ap.add_argument("--tiny", action="store_true", help="tiny configs on the CPU (what CI runs)")
    ap.add_argument("--only", nargs="*", choices=sorted(BACKENDS), help="run only these backends")
    ap.add_argument("--device", default=None, help="default: cuda, or cpu with --tiny")
    args = ap.parse_args(argv)
    device = args.device or ("cpu" if args.tiny else "cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        ap.error("no CUDA device here; --tiny runs the same code on the CPU")
    b = Bench(args.tiny, device)
    torch.manual_seed(0)
    result = run_all(b, args.only or list(BACKENDS))
    result["machine"] = {"device": torch.cuda.get_device_name(b.device) if b.cuda else "cpu",
                         "torch": torch.__version__, "dtype": str(b.dtype).replace("torch.", ""),
                         "tiny": b.tiny}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_truth.json").write_text(json.dumps(result, indent=2, default=str))
    print(table(result))
    return result


if __name__ == "__main__":
    main()
