"""Rolling flow matching: endless joint audio+video from a W-frame window (METHODS.md §6.4).

Convention: t = 1 is clean data, t = 0 pure noise, x_t = t·x1 + (1 − t)·x0, and the model predicts
the velocity x1 − x0 at model time t·999 + 1. Every frame in the window sits at its own level: frame 0
is the most denoised. A pre-rolling warm-up of W·n Euler steps brings a window of pure noise to the
staircase t_k = 1 − k/W, where frame 0 is clean; from then on, each iteration emits frame 0, drops
it, appends a fresh noise frame and runs n window passes that move every frame up by 1/W. So each
output frame costs n passes on a fixed window: constant memory, unbounded length.

A2V / V2A use the joint model without retraining: the known modality is re-noised to the current
per-frame levels, and the gradient of its mean squared velocity error with respect to the generated
modality is subtracted from the generated update (reconstruction guidance).

Checked against the official `RectifiedFlow` (ErgastiAlex/R-FLAV @789e16d) on recorded noise: the
emitted frames and every timestep handed to the model match (tests/tools/test_rflav_parity_sampler.py).
Every table, mask and timestep lives on the model's device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import torch

from filmcrew.tools.protocols import Progress

Mode = Literal["joint", "a2v", "v2a"]
#: Reconstruction-guidance scales: the official scripts' `--scale` default (sample-metrics-a2v.py and
#: -v2a.py, 100), applied to the gradient of the MEAN squared error as there. (`sample_a2v`'s own
#: keyword defaults, 1 and 2, are never used by the scripts.)
DEFAULT_GUIDANCE = {"a2v": 100.0, "v2a": 100.0}


def noise_levels_warmup(window: int, n: int) -> torch.Tensor:
    """(W·n + 1, W) float64: row i holds the per-frame levels at warm-up step i (τ_i = (Wn − i)/Wn).

    t_k = clip(1 − (k/W + τ_i), 0, 1): row 0 is all noise, the last row is the staircase 1 − k/W;
    step i moves the window from row i to row i + 1.
    """
    if window < 1 or n < 1:
        raise ValueError(f"window and n must be >= 1; got {window}, {n}")
    steps = window * n
    k = torch.arange(window, dtype=torch.float64)
    tau = (steps - torch.arange(steps + 1, dtype=torch.float64)) / steps
    return (1 - (k[None] / window + tau[:, None])).clamp(0, 1)


def noise_levels_rolling(window: int, n: int) -> torch.Tensor:
    """(n + 1, W) float64: row i holds t_k = 1 − (k + (n − i)/n)/W, the inner steps of one roll.

    Row 0 is the window right after the shift (frame k at 1 − (k + 1)/W), row n the staircase
    1 − k/W again; every step adds 1/(n·W) to every frame.
    """
    if window < 1 or n < 1:
        raise ValueError(f"window and n must be >= 1; got {window}, {n}")
    k = torch.arange(window, dtype=torch.float64)
    i = torch.arange(n + 1, dtype=torch.float64)
    return 1 - (k[None] + (n - i[:, None]) / n) / window


def t_model(t: torch.Tensor) -> torch.Tensor:
    """Flow time in [0, 1] → the model's timestep input (1 … 1000)."""
    return t * 999 + 1


@dataclass
class StreamStats:
    """What a stream has cost so far (filled in while it runs)."""

    passes: int = 0  # window evaluations (sampler steps)
    model_calls: int = 0  # forward calls (a CFG pair is batched into one call)
    warmup_passes: int = 0
    emitted: int = 0
    window_frames: int = 0  # frames held in the window (constant: W)


def reconstruction_error(v_known: torch.Tensor, target: torch.Tensor,
                         known: torch.Tensor) -> torch.Tensor:
    """Mean over every element of the squared velocity error on the known slots (official `.mean()`).

    known broadcasts against v_known (1 on slots that hold known data); unknown slots count as 0.
    """
    return ((v_known - target) ** 2 * known).sum() / v_known.numel()


def _velocity(model: torch.nn.Module, xv: torch.Tensor, xa: torch.Tensor, t: torch.Tensor,
              y: torch.Tensor | None, cfg_scale: float,
              stats: StreamStats) -> tuple[torch.Tensor, torch.Tensor]:
    """v_θ for the window at levels t (W,), with classifier-free guidance when asked."""
    b = xv.shape[0]
    tm = t_model(t).to(xv.dtype)[None].expand(b, -1)
    stats.model_calls += 1
    if y is None or cfg_scale == 1.0:
        return model(xv, xa, tm, tm, y)
    return model.forward_with_cfg(xv, xa, tm, tm, y, cfg_scale)


def _per_frame(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """(W,) → broadcastable against ref (B, W, …)."""
    return x.to(ref.dtype).reshape(1, -1, *([1] * (ref.ndim - 2)))


def _known_frames(known: torch.Tensor | Iterable[torch.Tensor] | None,
                  batch: int) -> Iterator[torch.Tensor]:
    """The known modality one frame at a time, each (B, …)."""
    if known is None:
        return iter(())
    if isinstance(known, torch.Tensor):
        seq = known if known.ndim == 5 else known[None]  # (B, N, …)
        if seq.shape[0] != batch:
            seq = seq.expand(batch, *seq.shape[1:])
        return (seq[:, i] for i in range(seq.shape[1]))
    return (f if f.ndim == 4 else f[None].expand(batch, *f.shape) for f in known)


def stream(model: torch.nn.Module, *, n: int = 2, frames: int | None = None,
           y: int | torch.Tensor | None = None, cfg_scale: float = 1.0, mode: Mode = "joint",
           known: torch.Tensor | Iterable[torch.Tensor] | None = None,
           guidance_scale: float | None = None, seed: int = 0, batch: int = 1,
           progress: Progress | None = None, stats: StreamStats | None = None,
           draw: Callable[[tuple[int, ...]], torch.Tensor] | None = None,
           ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (video latent (B, C, H, W), audio latent (B, 1, M, F)) frames, clean, one at a time.

    The first frame comes after the W·n-pass warm-up; each later one after n passes. `frames=None`
    streams forever. `y` is a class index (CFG with `cfg_scale` against the null class). In "a2v"
    `known` is the audio (a (B,) N×1×M×F tensor or an iterable of frames) and the video is
    generated; "v2a" the other way round. Past the end of `known` both are generated jointly.
    `guidance_scale` defaults to the official scripts' 100; 0 turns reconstruction guidance off.
    `draw(shape)` replaces the seeded noise (the initial window, then each appended frame: video
    first, then audio), e.g. to replay recorded noise. Work runs lazily: nothing is computed until
    the next frame is asked for.
    """
    if mode not in ("joint", "a2v", "v2a"):
        raise ValueError(f"mode must be 'joint', 'a2v' or 'v2a'; got {mode!r}")
    if (mode == "joint") != (known is None):
        raise ValueError("'known' goes with mode 'a2v' or 'v2a' (and only with them)")
    if frames is not None and frames < 1:
        raise ValueError(f"frames must be >= 1 or None; got {frames}")
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    stats = stats if stats is not None else StreamStats()
    scale = DEFAULT_GUIDANCE.get(mode, 0.0) if guidance_scale is None else float(guidance_scale)
    cfg = model.config
    p = next(model.parameters())
    dev, dt_ = p.device, p.dtype
    w = cfg.window
    vshape = (cfg.latent_channels, cfg.latent_size, cfg.latent_size)
    ashape = (1, cfg.n_mels, cfg.mel_frames)
    gen = torch.Generator().manual_seed(seed)

    def noise(frames_: int, shape: tuple[int, ...]) -> torch.Tensor:
        full = (batch, frames_, *shape)
        x = draw(full) if draw is not None else torch.randn(full, generator=gen)
        return x.to(device=dev, dtype=dt_)

    if isinstance(y, int):
        y = torch.full((batch,), y, dtype=torch.long)
    y = y.to(dev) if y is not None else None
    xv, xa = noise(w, vshape), noise(w, ashape)
    gen_video = mode != "v2a"  # which modality the guidance steers
    kshape = ashape if mode == "a2v" else vshape
    source = _known_frames(known, batch)
    kwin = torch.zeros((batch, w, *kshape), device=dev, dtype=dt_)  # clean known frames
    has = [False] * w  # which window slots hold known data (host-side: it steers control flow)
    if mode != "joint":
        for k in range(w):
            f = next(source, None)
            if f is not None:
                kwin[:, k], has[k] = f.to(device=dev, dtype=dt_), True
    stats.window_frames = w
    total = None if frames is None else w * n + (frames - 1) * n

    def step(xv: torch.Tensor, xa: torch.Tensor, t: torch.Tensor,
             t_next: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dt = (t_next - t).abs()
        stats.passes += 1
        if mode == "joint" or not any(has):
            with torch.no_grad():
                vv, va = _velocity(model, xv, xa, t, y, cfg_scale, stats)
            return xv + _per_frame(dt, xv) * vv, xa + _per_frame(dt, xa) * va
        eps = noise(w, kshape)
        hk = _per_frame(torch.tensor(has, device=dev), kwin)
        xk = xa if mode == "a2v" else xv
        xk = torch.where(hk.bool(), _per_frame(t, kwin) * kwin + (1 - _per_frame(t, kwin)) * eps,
                         xk)  # known frames re-noised to their current level
        xg = (xv if gen_video else xa).detach()
        with torch.set_grad_enabled(scale != 0):
            xg.requires_grad_(scale != 0)
            ins = (xg, xk) if gen_video else (xk, xg)
            vv, va = _velocity(model, *ins, t, y, cfg_scale, stats)
            vg, vk = (vv, va) if gen_video else (va, vv)
            grad = torch.zeros_like(xg)
            if scale != 0:
                err = reconstruction_error(vk, kwin - eps, hk)
                grad = torch.autograd.grad(err, xg)[0]
        guide = _per_frame(t_next < 1, xg)  # a frame about to be clean gets no guidance
        xg = xg.detach() + _per_frame(dt, xg) * (vg.detach() - scale * guide * grad)
        xk = xk + _per_frame(dt, xk) * vk.detach()  # (known slots are re-noised again next step)
        return (xg, xk) if gen_video else (xk, xg)

    def emit() -> tuple[torch.Tensor, torch.Tensor]:
        v0, a0 = xv[:, 0].detach().clone(), xa[:, 0].detach().clone()
        if mode != "joint" and has[0]:
            if mode == "a2v":
                a0 = kwin[:, 0].clone()
            else:
                v0 = kwin[:, 0].clone()
        stats.emitted += 1
        return v0, a0

    warm = noise_levels_warmup(w, n).to(dev)
    for i in range(w * n):
        xv, xa = step(xv, xa, warm[i], warm[i + 1])
        stats.warmup_passes += 1
        if progress is not None:
            progress(stats.passes, total or 0)
    roll = noise_levels_rolling(w, n).to(dev)
    while True:
        yield emit()
        if frames is not None and stats.emitted >= frames:
            return
        # shift: drop the clean frame, append fresh noise (and the next known frame)
        xv = torch.cat([xv[:, 1:], noise(1, vshape)], dim=1)
        xa = torch.cat([xa[:, 1:], noise(1, ashape)], dim=1)
        if mode != "joint":
            f = next(source, None)
            nxt = f.to(device=dev, dtype=dt_)[:, None] if f is not None else torch.zeros_like(
                kwin[:, :1])
            kwin = torch.cat([kwin[:, 1:], nxt], dim=1)
            has = has[1:] + [f is not None]
        for i in range(n):
            xv, xa = step(xv, xa, roll[i], roll[i + 1])
            if progress is not None:
                progress(stats.passes, total or 0)


def planned_passes(frames: int, window: int, n: int) -> int:
    """Window passes for `frames` output frames: the W·n warm-up, then n per further frame."""
    return window * n + (frames - 1) * n
