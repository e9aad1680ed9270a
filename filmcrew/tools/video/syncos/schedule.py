"""SynCoS's pure parts (METHODS.md §2.3): chunk windows, coverage, prompt assignment, the CSD gradient,
and the two noise schedules it steps with (v-prediction DDIM, flow matching).

Nothing here calls a model; `tools/video/syncos/sampler.py` runs the three coupled stages on top of these.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

Window = tuple[int, int]


def chunk_windows(num_frames: int, chunk_len: int, stride: int) -> list[Window]:
    """Overlapping chunks [s, s+L) with s = i·S; one more chunk ends exactly at T when S does not divide.

    Every chunk has the base model's native length, so each is denoised as an ordinary clip.
    """
    if chunk_len < 1 or stride < 1:
        raise ValueError(f"chunk_len {chunk_len} and stride {stride} must be ≥ 1")
    if stride > chunk_len:
        raise ValueError(f"stride {stride} > chunk_len {chunk_len} would leave frames uncovered")
    if num_frames < chunk_len:
        raise ValueError(f"{num_frames} latent frames is shorter than one chunk ({chunk_len})")
    windows = [(s, s + chunk_len) for s in range(0, num_frames - chunk_len + 1, stride)]
    if windows[-1][1] < num_frames:
        windows.append((num_frames - chunk_len, num_frames))
    return windows


def coverage(windows: list[Window], num_frames: int) -> np.ndarray:
    """How many chunks cover each latent frame (the divisor of the overlap average)."""
    counts = np.zeros(num_frames, dtype=np.int64)
    for s, e in windows:
        if s < 0 or e > num_frames or s >= e:
            raise ValueError(f"window [{s}, {e}) lies outside 0..{num_frames}")
        counts[s:e] += 1
    return counts


def assign_prompts(windows: list[Window], n_events: int) -> list[int]:
    """Event index of each chunk, by its temporal centre: event m owns [m·T/M, (m+1)·T/M)."""
    if n_events < 1:
        raise ValueError(f"{n_events} events; need at least one prompt")
    total = max(e for _, e in windows)
    return [min(n_events - 1, int((s + e) / 2 / total * n_events)) for s, e in windows]


def rbf_kernel(particles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """RBF kernel K (B, B) on flattened particles, bandwidth h = median(‖xi − xj‖²)/log(B+1).

    h stays a tensor on the particles' device (no host synchronisation inside the loop).
    """
    flat = particles.flatten(1).double()
    d2 = torch.cdist(flat, flat).pow(2)
    b = flat.shape[0]
    if b > 1:
        off = d2.flatten()[1:].view(b - 1, b + 1)[:, :-1]  # the off-diagonal entries, no masking
        h = off.median() / math.log(b + 1)
        # identical particles: any bandwidth gives K = 1 and no kernel force
        h = torch.where(h > 0, h, torch.ones_like(h))
    else:
        h = torch.ones((), dtype=d2.dtype, device=d2.device)
    return torch.exp(-d2 / h), h


def csd_gradient(particles: torch.Tensor, residuals: torch.Tensor, *, kernel_coeff: float = 1.0,
                 kernel_sign: float = -1.0, score_coeff: float = 1.0,
                 weight: float = 1.0) -> torch.Tensor:
    """Collaborative score distillation (SVGD over chunks), as a DESCENT gradient per particle.

    g_i = (w/B) Σ_j [ score·K_ji·r_j + sign·c·∇_{x_j} K_ji ], with r_j = ε̂_j − ε_base (DDIM) or
    v̂_j − (ε_base − θ_j) (flow): the residual is ∝ −score, so descending it follows the score. With
    the RBF kernel ∇_{x_j}K_ji = −(2/h)(x_j − x_i)K_ji; sign −1 (default) makes the kernel term
    repel particles under descent, as SVGD needs; +1 is the sign printed in the CSD paper (attracts).
    """
    if particles.shape != residuals.shape:
        raise ValueError(f"particles {tuple(particles.shape)} and residuals "
                         f"{tuple(residuals.shape)} differ in shape")
    b = particles.shape[0]
    k, h = rbf_kernel(particles)
    x, r = particles.flatten(1).double(), residuals.flatten(1).double()
    score = k @ r  # Σ_j K_ji r_j (K symmetric)
    # Σ_j ∇_{x_j}K_ji = −(2/h) (Σ_j K_ij x_j − x_i Σ_j K_ij)
    grad_k = -(2.0 / h) * (k @ x - x * k.sum(1, keepdim=True))
    g = (weight / b) * (score_coeff * score + kernel_sign * kernel_coeff * grad_k)
    return g.to(particles.dtype).reshape(particles.shape)


class Schedule:
    """The step arithmetic of one sampling run: v-prediction DDIM (η=0) or flow matching.

    DDIM: x0 = √ᾱ x − √(1−ᾱ) v, ε = √(1−ᾱ) x + √ᾱ v, previous step t' = t − T_train // N as diffusers'
    DDIM does (not the next entry of `timesteps`; they differ with "trailing" spacing).
    Flow: x_σ = (1−σ) x0 + σ ε, v = ε − x0, previous σ' = the next entry of `sigmas`.
    """

    def __init__(self, scheduler: Any, num_inference_steps: int, *, flow: bool, device: Any):
        # The step arithmetic runs on the host from numbers read once; only `timesteps` (the model's
        # input) lives on `device`: no host synchronisation per step, any device (meta included).
        scheduler.set_timesteps(num_inference_steps, device="cpu")
        self.t_host = [float(t) for t in scheduler.timesteps]
        self.timesteps = scheduler.timesteps.to(device)
        self.flow, self.n = flow, num_inference_steps
        if flow:
            self.sigmas = [float(s) for s in scheduler.sigmas]
        else:
            if scheduler.config.prediction_type != "v_prediction":
                raise ValueError(f"syncos: DDIM path needs a v-prediction scheduler, got "
                                 f"{scheduler.config.prediction_type!r}")
            self.alphas = scheduler.alphas_cumprod.double().cpu()
            self.final = float(getattr(scheduler, "final_alpha_cumprod", self.alphas[0]))
            self.train_steps = scheduler.config.num_train_timesteps

    def _abar(self, i: int) -> tuple[float, float]:
        t = int(self.t_host[i])
        prev = t - self.train_steps // self.n
        return float(self.alphas[t]), (float(self.alphas[prev]) if prev >= 0 else self.final)

    def split(self, x: torch.Tensor, pred: torch.Tensor, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(x̂0, ε̂) from a model prediction at step i."""
        if self.flow:
            s = self.sigmas[i]
            return x - s * pred, x + (1 - s) * pred
        a, _ = self._abar(i)
        return a ** 0.5 * x - (1 - a) ** 0.5 * pred, (1 - a) ** 0.5 * x + a ** 0.5 * pred

    def noise(self, x0: torch.Tensor, eps: torch.Tensor, i: int) -> torch.Tensor:
        """x at step i (the grounded timestep) from x0 and a noise."""
        if self.flow:
            s = self.sigmas[i]
            return (1 - s) * x0 + s * eps
        a, _ = self._abar(i)
        return a ** 0.5 * x0 + (1 - a) ** 0.5 * eps

    def fused_eps(self, x: torch.Tensor, x0: torch.Tensor, i: int) -> torch.Tensor:
        """The noise that, with x̂0, gives back x at step i: stage 2 then starts from the current x."""
        if self.flow:
            s = self.sigmas[i]
            return (x - (1 - s) * x0) / s
        a, _ = self._abar(i)
        return (x - a ** 0.5 * x0) / (1 - a) ** 0.5

    def residual(self, pred: torch.Tensor, x_t: torch.Tensor, eps: torch.Tensor, x0: torch.Tensor,
                 i: int) -> torch.Tensor:
        """Stage-2 score residual: ε̂ − ε_base (DDIM) or v̂ − (ε_base − θ) (flow, "Flow-SDS")."""
        if self.flow:
            return pred - (eps - x0)
        return self.split(x_t, pred, i)[1] - eps

    def signal(self, i: int) -> float:
        """How much x̂0 there is in x at step i: √ᾱ_t (DDIM) or 1 − σ (flow); 0 at pure noise."""
        if self.flow:
            return 1.0 - self.sigmas[i]
        return self._abar(i)[0] ** 0.5

    def x0_weight(self, i: int) -> float:
        """w(t) that turns a stage-2 residual into x0 units: θ − x̂0_model = w(t)·residual.

        DDIM: x̂0 = (x_t − √(1−ᾱ) ε̂)/√ᾱ with x_t = √ᾱ θ + √(1−ᾱ) ε, so θ − x̂0 = √(1−ᾱ)/√ᾱ · (ε̂ − ε).
        Flow: x̂0 = x_σ − σ v̂ with x_σ = (1−σ) θ + σ ε, so θ − x̂0 = σ · (v̂ − (ε − θ)).
        Undefined (raises) where the signal is 0: there x_t does not depend on θ at all.
        """
        sig = self.signal(i)
        if not sig > 0:
            raise ValueError(f"step {i}: x_t holds no signal (pure noise); stage 2 has no gradient")
        if self.flow:
            return self.sigmas[i]
        return (1.0 - sig * sig) ** 0.5 / sig

    def step(self, x0: torch.Tensor, eps: torch.Tensor, i: int) -> torch.Tensor:
        """Stage 3: the latent at the next step from x̂0 and the baseline noise."""
        if self.flow:
            s = self.sigmas[i + 1]
            return (1 - s) * x0 + s * eps
        _, a_prev = self._abar(i)
        return a_prev ** 0.5 * x0 + (1 - a_prev) ** 0.5 * eps
