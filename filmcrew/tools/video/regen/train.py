"""Training REGEN end to end on a folder of clips, and the previz clip set it is trained and tested on.

Each step draws k+1 consecutive frames from a random clip at a random start, crops a random window of
70–100 % of the frame (the training aspect ratio, random position, random horizontal flip), resizes
it to `config.train_size` and minimises the diffusion loss of encoder and decoder together (AdamW,
gradient clipping, a short linear warm-up, then a cosine decay of the learning rate to zero at
`steps`: the schedule is a function of the step alone, so a run is the same on a busy machine and a
quiet one; `minutes`, when given, only stops a run early, as a guard). A checkpoint is two safetensors files: the model (config and
optimiser step in its metadata, what `RegenEmbedder.from_checkpoint` reads) and a sibling
`*.optim.safetensors` with the AdamW moments and the loss history, so a resumed run continues from
the saved step with the same loss curve.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from filmcrew.models.regen import (
    TINY_REGEN_CONFIG,
    RegenConfig,
    RegenModel,
    default_config,
    read_regen_meta,
    save_regen,
)

__all__ = ["TINY_REGEN_CONFIG", "default_config", "list_clips", "load_clips", "optimizer_path", "sample_batch", "train_regen"]

_VIDEO_EXT = (".mp4",)
_WARMUP = 100  # steps of linear learning-rate warm-up (a fresh AdamW on a fresh DiT is jumpy)
_SAVE_EVERY_S = 120.0  # a long run also checkpoints on the way, so a crash loses little


def list_clips(folder: str | Path) -> list[Path]:
    """MP4 files under `folder`, recursively, sorted (the order fixes what a seed draws)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"clip folder {folder} does not exist")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in _VIDEO_EXT and p.is_file())


def load_clips(folder: str | Path, min_frames: int, max_side: int = 512) -> list[np.ndarray]:
    """Decode every clip of `folder` with at least `min_frames` frames as (T, H, W, 3) uint8.

    Frames larger than `max_side` are scaled down on decode (training crops are small anyway).
    """
    from filmcrew.tools.media import iter_frames, read_video

    clips = []
    for path in list_clips(folder):
        first = next(iter_frames(path, max_frames=1), None)
        if first is None:
            continue
        h, w = first.shape[:2]
        size = None
        if max(w, h) > max_side:
            f = max_side / max(w, h)
            size = (max(8, round(w * f) // 2 * 2), max(8, round(h * f) // 2 * 2))
        frames = read_video(path, size=size)
        if len(frames) >= min_frames:
            clips.append(frames)
    if not clips:
        raise ValueError(f"{folder}: no MP4 clip with at least {min_frames} frames")
    return clips


def sample_batch(clips: list[np.ndarray], config: RegenConfig, batch: int,
                 rng: np.random.Generator) -> torch.Tensor:
    """(batch, 3, k+1, H, W) in [-1, 1]: random clips, start frames, crop windows and flips."""
    n = config.k + 1
    th, tw = config.train_size
    out = torch.empty(batch, 3, n, th, tw)
    for b in range(batch):
        clip = clips[int(rng.integers(len(clips)))]
        t0 = int(rng.integers(0, len(clip) - n + 1))
        h, w = clip.shape[1:3]
        scale = rng.uniform(0.7, 1.0)
        ch = max(8, min(h, round(min(h, w * th / tw) * scale)))
        cw = max(8, min(w, round(ch * tw / th)))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = torch.from_numpy(np.ascontiguousarray(clip[t0:t0 + n, y:y + ch, x:x + cw]))
        crop = crop.permute(0, 3, 1, 2).float() / 127.5 - 1  # (n, 3, ch, cw)
        if (ch, cw) != (th, tw):
            crop = F.interpolate(crop, size=(th, tw), mode="bilinear", antialias=True, align_corners=False)
        if rng.random() < 0.5:
            crop = crop.flip(-1)
        out[b] = crop.transpose(0, 1)
    return out.clamp(-1, 1)


def optimizer_path(checkpoint: str | Path) -> Path:
    """Where the optimiser state of `checkpoint` lives: model.safetensors → model.optim.safetensors."""
    p = Path(checkpoint)
    return p.with_name(p.name.removesuffix(".safetensors") + ".optim.safetensors")


def _save(model: RegenModel, opt: torch.optim.AdamW, out: Path, step: int, losses: list[float],
          extra: dict[str, str]) -> None:
    from safetensors.torch import save_file

    meta = {"step": str(step), **extra}
    save_regen(model, out, meta)
    tensors = {"loss_history": torch.tensor(losses, dtype=torch.float32)}
    names = dict(model.named_parameters())
    for name, p in names.items():
        state = opt.state.get(p)
        if state:
            tensors[f"exp_avg/{name}"] = state["exp_avg"].detach().cpu().contiguous()
            tensors[f"exp_avg_sq/{name}"] = state["exp_avg_sq"].detach().cpu().contiguous()
    save_file(tensors, str(optimizer_path(out)), metadata={"step": str(step), **extra})


def _resume(model: RegenModel, opt: torch.optim.AdamW, out: Path, config: RegenConfig) -> tuple[int, list[float]]:
    from safetensors.torch import load_file

    meta = read_regen_meta(out)
    if RegenConfig.from_json(meta["config"]) != config:
        raise ValueError(f"{out} was trained with another config; use a new --out or the same config")
    model.load_state_dict(load_file(str(out)), strict=True)
    step = int(meta.get("step", "0"))
    opath = optimizer_path(out)
    if not opath.is_file():
        raise FileNotFoundError(f"{opath} (optimiser state) is missing: cannot resume {out}")
    state = load_file(str(opath))
    for name, p in model.named_parameters():
        if f"exp_avg/{name}" in state:
            opt.state[p] = {"step": torch.tensor(float(step)), "exp_avg": state[f"exp_avg/{name}"],
                            "exp_avg_sq": state[f"exp_avg_sq/{name}"]}
    return step, state["loss_history"].tolist()


def train_regen(folder: Path, out: Path, config: RegenConfig, *, minutes: float | None = None, steps: int,
                seed: int, resume: bool = True, batch: int = 8, lr: float = 1e-3) -> dict:
    """Train (or go on training) a REGEN model on the clips of `folder`; checkpoint to `out`.

    Stops at `steps` optimiser steps in all (counting the steps of a resumed checkpoint), or earlier
    when `minutes` (None = no limit) of wall time have passed in this call, then saves. With
    `resume` and an existing `out`, weights, optimiser moments, step and loss history are restored.
    Returns {"step", "steps_run", "seconds", "loss_first", "loss_last", "losses", "clips",
    "checkpoint", "resumed_from"}; "losses" is the whole history, one value per step.
    """
    if (minutes is not None and minutes <= 0) or steps <= 0 or batch <= 0 or lr <= 0:
        raise ValueError(f"minutes={minutes}, steps={steps}, batch={batch}, lr={lr}; all must be > 0")
    t0 = time.monotonic()
    out = Path(out)
    clips = load_clips(folder, config.k + 1)
    torch.manual_seed(seed)
    model = RegenModel(config)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, betas=(0.9, 0.99))
    start, losses = 0, []
    if resume and out.is_file():
        start, losses = _resume(model, opt, out, config)
    # A resumed run draws new batches: the seed moves with the step.
    rng = np.random.default_rng([seed, start])
    gen = torch.Generator().manual_seed(seed * 1_000_003 + start)
    extra = {"seed": str(seed), "batch": str(batch), "lr": str(lr), "clips": str(len(clips)),
             "train": json.dumps({"folder": str(folder), **asdict(config)})}
    model.train()
    step, last_save = start, time.monotonic()
    budget_s = math.inf if minutes is None else minutes * 60
    while step < steps and time.monotonic() - t0 < budget_s:
        progress = (step - start) / max(1, steps - start)  # by steps only: step-bound
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / _WARMUP) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        loss = model.loss(sample_batch(clips, config, batch, rng), generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        if time.monotonic() - last_save > _SAVE_EVERY_S:
            _save(model, opt, out, step, losses, extra)
            last_save = time.monotonic()
    model.eval()
    _save(model, opt, out, step, losses, extra)
    return {"step": step, "steps_run": step - start, "seconds": time.monotonic() - t0,
            "loss_first": losses[0] if losses else float("nan"),
            "loss_last": float(np.mean(losses[-20:])) if losses else float("nan"),
            "losses": losses, "clips": len(clips), "checkpoint": str(out), "resumed_from": start}
