"""SynCoS: multi-event long videos by synchronized coupled sampling (METHODS.md §2).

A base text-to-video model makes clips of one native length. SynCoS makes a video several times longer
in one sampling run: the long latent is cut into overlapping native-length chunks, each conditioned on
the global prompt plus the local prompt of the event it covers, and every denoising step couples them:

1. temporal co-denoising: each chunk predicts x̂0, overlaps are averaged (Gen-L-Video, in x0 space);
2. while t > t_min, CSD refinement of the whole x̂0 at the *same* timestep (grounded), with one
   baseline noise ε_base fixed for the step, shared by all chunks and iterations;
3. the step is resumed from the refined x̂0 with that same ε_base.

`mode="gen-l-video"` is stage 1 + 3 alone, the baseline the paper compares with. The sampler drives a
`WisaPipeline` (CogVideoX: v-prediction DDIM; Wan: flow matching) whose transformer is either a plain
diffusers CogVideoX/Wan transformer (the paper's setting: `base_pipeline`, `tiny_base_pipeline`) or
a WISA one, in which case a long shot also carries the physics condition (uncategorised shots pass
zeros, as WISA does).

Stage-2 update [ours; the paper uses AdamW at lr 0.5–1]: plain gradient descent in x0 units,
θ ← θ − lr·scatter_mean(g), with the CSD gradient g weighted by w(t) = √(1−ᾱ)/√ᾱ (DDIM) or σ (flow).
With that weight a residual is exactly θ − x̂0_model (Schedule.x0_weight), so lr = 1 on one particle
moves θ onto the chunk's own x̂0 and the step size follows the objective: a zero residual gives no
movement, a tiny kernel gradient a tiny one. AdamW normalises every gradient to a step of about lr
per element whatever its size, which turned a ~1e-7 kernel gradient into full-size steps, and its
momentum kept moving frames outside the minibatch; plain descent has neither. Steps where x_t holds
no signal (ᾱ_t = 0 or σ = 1: x_t does not depend on θ) skip stage 2 entirely.

Prompts: each chunk's text is its local (event) prompt *first*, then the global prompt, so the
text encoder's token limit cuts the global prompt's tail and never the event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch

from filmcrew.tools.video.syncos.schedule import (
    Schedule,
    Window,
    assign_prompts,
    chunk_windows,
    coverage,
    csd_gradient,
)
from filmcrew.tools.video.wisa.pipeline import (
    WisaPipeline,
    build_cfg_batch,
    cfg_branches,
    combine_guidance,
    dynamic_guidance_scale,
)

__all__ = [
    "SyncosSampler",
    "assign_prompts",
    "base_pipeline",
    "chunk_texts",
    "chunk_windows",
    "coverage",
    "csd_gradient",
    "has_physics",
    "native_latent_frames",
    "tiny_base_pipeline",
]

Mode = Literal["syncos", "gen-l-video"]
BaselineNoise = Literal["fused_eps", "gaussian_fixed_per_step"]
ChunkCallback = Callable[[int, int, int], None]  # (step, total steps, chunk index)
T_MIN_DDIM = 800.0  # METHODS.md §2.4: 800–900 on CogVideoX's 1000 DDIM timesteps (10 of 50 coupled)
T_MIN_FLOW = 930.0  # [ours] t = 1000·σ; with Wan's flow shift 3 this also couples the first 10 of 50


def native_latent_frames(pipe: WisaPipeline) -> int:
    """Latent frames of the base model's native clip (CogVideoX-5B: 49 → 13)."""
    return (pipe.native_frames - 1) // pipe.scale_temporal + 1


def chunk_texts(global_prompt: str, local_prompts: list[str]) -> list[str]:
    """Structured prompts: each event's local prompt, then the global prompt.

    Event first: a long global prompt (style + caption + physics paragraph) is what the text
    encoder's token limit cuts, never the event that tells the chunks apart.
    """
    if not global_prompt.strip() and not any(p.strip() for p in local_prompts):
        raise ValueError("syncos: no prompt (global and local prompts are all empty)")
    g = global_prompt.strip()
    out = []
    for lp in local_prompts or [""]:
        lp = lp.strip()
        if lp and g and lp[-1] not in ".!?;:":
            lp += "."
        out.append(" ".join(p for p in (lp, g) if p))
    return out


def has_physics(transformer: Any) -> bool:
    """Whether `transformer` is a WISA one (takes the physics condition) or a plain base model."""
    return callable(getattr(transformer, "physical_parameters", None))


def tiny_base_pipeline(base: str, seed: int = 0) -> WisaPipeline:
    """The tiny random pipeline of `tiny_wisa_pipeline` with its *plain* diffusers transformer (no
    physics module): SynCoS as the paper runs it, on a bare base model, for tests and --debug-models."""
    from filmcrew.tools.video.wisa.pipeline import tiny_wisa_pipeline

    p = tiny_wisa_pipeline(base, seed=seed)  # type: ignore[arg-type]
    return _with_transformer(p, p.transformer.base)


def _with_transformer(p: WisaPipeline, transformer: torch.nn.Module) -> WisaPipeline:
    return WisaPipeline(base=p.base, transformer=transformer, vae=p.vae, scheduler=p.scheduler,
                        text_encoder=p.text_encoder, tokenizer=p.tokenizer,
                        native_frames=p.native_frames, native_fps=p.native_fps,
                        native_width=p.native_width, native_height=p.native_height,
                        max_text_tokens=p.max_text_tokens)


def base_pipeline(base: str, *, model: str | None = None, device: str | torch.device | None = None,
                  dtype: torch.dtype | None = None) -> WisaPipeline:
    """A real base model alone (CogVideoX / Wan diffusers folder or cached hub id, no WISA weights)
    on `device` (default: CUDA when present) in `dtype` (default: bfloat16 on CUDA)."""
    from filmcrew.tools.video.wisa.pipeline import NATIVE, _load_base
    from filmcrew.tools.video.wisa.weights import check_base, find_base_model

    check_base(base)
    src = find_base_model(base, model)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    core, vae, scheduler, tokenizer, text_encoder, native = _load_base(base, str(src), dtype)  # type: ignore[arg-type]
    for m in (core, text_encoder, vae):
        m.eval().requires_grad_(False)
    native = native or NATIVE[base]
    return WisaPipeline(base=base, transformer=core.to(device), vae=vae.to(device),  # type: ignore[arg-type]
                        scheduler=scheduler, text_encoder=text_encoder.to(device),
                        tokenizer=tokenizer, native_frames=native["frames"],
                        native_fps=native["fps"], native_width=native["width"],
                        native_height=native["height"])


class SyncosSampler:
    """Coupled sampling of one long latent video over a WisaPipeline; defaults follow METHODS.md §2.4.

    chunk_len: latent frames per chunk (default: the native length); stride: latent frames between
    chunk starts (default L//3: 4 for CogVideoX's 13); t_min: stage 2 runs while t > t_min (flow:
    t = 1000·σ; default T_MIN_DDIM / T_MIN_FLOW); iters/lr: gradient-descent refinement per coupled
    step, lr in x0 units (module docstring); minibatch: chunks per iteration, taken in turn (None =
    all); kernel_sign/kernel_coeff/score_coeff: the CSD terms (see csd_gradient).
    `model_calls` counts transformer evaluations (one per chunk and CFG batch) for cost comparisons.
    """

    def __init__(self, pipe: WisaPipeline, *, chunk_len: int | None = None,
                 stride: int | None = None, t_min: float | None = None, iters: int = 20,
                 lr: float = 0.5,
                 minibatch: int | None = 4, guidance_scale: float = 6.0,
                 dynamic_cfg: bool | None = None,
                 physics_guidance_scale: float | None = None,
                 baseline_noise: BaselineNoise = "fused_eps", kernel_sign: float = -1.0,
                 kernel_coeff: float = 1.0, score_coeff: float = 1.0, mode: Mode = "syncos",
                 gate_mode: Literal["reference", "deterministic"] = "reference",
                 negative_prompt: str = ""):
        if mode not in ("syncos", "gen-l-video"):
            raise ValueError(f"syncos: unknown mode {mode!r}; use 'syncos' or 'gen-l-video'")
        if baseline_noise not in ("fused_eps", "gaussian_fixed_per_step"):
            raise ValueError(f"syncos: unknown baseline_noise {baseline_noise!r}; use 'fused_eps' "
                             "or 'gaussian_fixed_per_step'")
        if iters < 0 or lr <= 0 or (minibatch is not None and minibatch < 1):
            raise ValueError(f"syncos: need iters ≥ 0, lr > 0, minibatch ≥ 1 (got {iters}, {lr}, "
                             f"{minibatch})")
        self.pipe = pipe
        self.chunk_len = chunk_len or native_latent_frames(pipe)
        self.stride = stride or max(1, self.chunk_len // 3)
        self.flow = pipe.base == "wan"
        if t_min is None:  # the paper's ≈ first 10 of 50 steps; Wan's shift-3 σ stay high longer
            t_min = T_MIN_FLOW if self.flow else T_MIN_DDIM
        self.t_min, self.iters, self.lr, self.minibatch = t_min, iters, lr, minibatch
        self.guidance_scale, self.physics_guidance_scale = guidance_scale, physics_guidance_scale
        # CogVideoX's dynamic CFG, as the pipeline applies it (on for CogVideoX unless told otherwise)
        self.dynamic_cfg = pipe.base == "cogvideox" if dynamic_cfg is None else dynamic_cfg
        self.baseline_noise, self.mode, self.gate_mode = baseline_noise, mode, gate_mode
        self.kernel_sign, self.kernel_coeff, self.score_coeff = kernel_sign, kernel_coeff, score_coeff
        self.negative_prompt = negative_prompt
        self.tdim = 2 if self.flow else 1  # Wan latents are (B,C,F,H,W), CogVideoX (B,F,C,H,W)
        self.physics = has_physics(pipe.transformer)
        if physics_guidance_scale is not None and not self.physics:
            raise ValueError("syncos: physics_guidance_scale needs a WISA transformer; this "
                             "pipeline has a plain base model")
        self.model_calls = 0

    # -- planning ---------------------------------------------------------------------------------

    def coupled_steps(self, num_inference_steps: int) -> list[bool]:
        """Which steps run stage 2 (t > t_min, syncos mode, iters > 0)."""
        sched = Schedule(self.pipe.fresh_scheduler(), num_inference_steps, flow=self.flow,
                         device="cpu")
        on = self.mode == "syncos" and self.iters > 0
        # where x_t holds no signal (ᾱ_t = 0, σ = 1) it does not depend on x̂0: nothing to refine
        return [on and t > self.t_min and sched.signal(i) > 0 for i, t in enumerate(sched.t_host)]

    def planned_calls(self, num_latent_frames: int, num_inference_steps: int) -> int:
        """Transformer evaluations one run will make (progress totals, cost estimates)."""
        n = len(chunk_windows(num_latent_frames, self.chunk_len, self.stride))
        b = min(n, self.minibatch or n)
        coupled = sum(self.coupled_steps(num_inference_steps))
        return num_inference_steps * n + coupled * self.iters * b

    # -- the model on one chunk ---------------------------------------------------------------------

    def _chunk(self, x: torch.Tensor, w: Window) -> torch.Tensor:
        return x.narrow(self.tdim, w[0], w[1] - w[0])

    def _guidance(self, sched: Schedule, i: int) -> float:
        """Step i's text guidance scale: CogVideoX's dynamic CFG as the pipeline applies it, else fixed."""
        if self.dynamic_cfg and cfg_branches(self.guidance_scale, self.physics_guidance_scale) > 1:
            return dynamic_guidance_scale(self.guidance_scale, sched.t_host[i], len(sched.t_host))
        return self.guidance_scale

    def _predict(self, x: torch.Tensor, t: torch.Tensor, guidance: float, cond: tuple,
                 gates: torch.Tensor | None, rotary: Any, scale_input: Callable) -> torch.Tensor:
        """Guided model output (v or flow) for one chunk; no gradient flows through the model."""
        embeds, cats, quants = cond
        n = cfg_branches(self.guidance_scale, self.physics_guidance_scale)
        xin = scale_input(torch.cat([x] * n), t).to(self.pipe.dtype)
        tt = t.expand(xin.shape[0])
        model = self.pipe.transformer
        with torch.no_grad():
            if self.physics:
                kwargs = {"image_rotary_emb": rotary} if rotary is not None else {}
                pred = model(xin, embeds, tt, categories=cats, quantities=quants, gates=gates,
                             **kwargs)
            elif self.flow:  # plain diffusers Wan
                pred = model(hidden_states=xin, timestep=tt, encoder_hidden_states=embeds,
                             return_dict=False)[0]
            else:  # plain diffusers CogVideoX
                pred = model(hidden_states=xin, encoder_hidden_states=embeds, timestep=tt,
                             image_rotary_emb=rotary, return_dict=False)[0]
        self.model_calls += 1
        return combine_guidance(pred.float(), guidance_scale=guidance,
                                physics_guidance_scale=self.physics_guidance_scale)

    def _scatter_mean(self, parts: list[torch.Tensor], windows: list[Window],
                      like: torch.Tensor) -> torch.Tensor:
        """Average chunk tensors into the long video; frames no chunk covers stay zero."""
        total, count = torch.zeros_like(like), torch.zeros_like(like)
        for p, w in zip(parts, windows, strict=True):
            self._chunk(total, w).add_(p)
            self._chunk(count, w).add_(1.0)
        return total / count.clamp(min=1.0)

    # -- stage 2 ---------------------------------------------------------------------------------------

    def refine(self, x0: torch.Tensor, eps: torch.Tensor, sched: Schedule, i: int,
               windows: list[Window], conds: list[tuple], gates: torch.Tensor | None, rotary: Any,
               scale_input: Callable, on_call: Callable[[int], None] | None = None) -> torch.Tensor:
        """CSD refinement of the whole x̂0 at step i's own timestep, with the step's fixed ε_base.

        Gradient descent in x0 units (module docstring): θ ← θ − lr·scatter_mean(g), g the CSD
        gradient weighted by w(t). Frames no chunk of an iteration's minibatch covers do not move
        in that iteration. At a step whose x_t holds no signal, x̂0 is returned as it is.
        """
        if self.iters == 0 or not sched.signal(i) > 0:
            return x0
        t, guidance = sched.timesteps[i], self._guidance(sched, i)
        w = sched.x0_weight(i)
        theta = x0.detach().clone()
        n = len(windows)
        b = min(n, self.minibatch or n)
        for k in range(self.iters):
            batch = [(k * b + j) % n for j in range(b)]  # chunks in turn: all get refined evenly
            particles, residuals = [], []
            for c in batch:
                th, e = self._chunk(theta, windows[c]), self._chunk(eps, windows[c])
                x_t = sched.noise(th, e, i)
                pred = self._predict(x_t, t, guidance, conds[c], gates, rotary, scale_input)
                particles.append(x_t)
                residuals.append(sched.residual(pred, x_t, e, th, i))
                if on_call is not None:
                    on_call(c)
            g = csd_gradient(torch.stack(particles), torch.stack(residuals),
                             kernel_coeff=self.kernel_coeff, kernel_sign=self.kernel_sign,
                             score_coeff=self.score_coeff, weight=w)
            # frames outside the batch's windows get a zero step: they stay exactly where they are
            theta = theta - self.lr * self._scatter_mean(list(g), [windows[c] for c in batch], theta)
        return theta

    # -- the sampling run ---------------------------------------------------------------------------

    def _conditions(self, texts: list[str], categories: torch.Tensor | None,
                    quantities: torch.Tensor | None) -> list[tuple]:
        """One CFG batch (embeds, categories, quantities) per structured prompt."""
        pipe = self.pipe
        embeds = pipe.encode_text(texts)
        neg = (pipe.encode_text([self.negative_prompt]) if pipe.tokenizer is not None
               else torch.zeros_like(embeds[:1]))
        cats = torch.zeros(1, 29) if categories is None else categories.reshape(1, 29).float()
        quants = torch.zeros(1, 18) if quantities is None else quantities.reshape(1, 18).float()
        out = []
        for m in range(len(texts)):
            e, c, q = build_cfg_batch(embeds[m:m + 1], neg, cats, quants,
                                      guidance_scale=self.guidance_scale,
                                      physics_guidance_scale=self.physics_guidance_scale)
            out.append((e, c.to(pipe.device, pipe.dtype), q.to(pipe.device, pipe.dtype)))
        return out

    def __call__(self, global_prompt: str, local_prompts: list[str], num_latent_frames: int, *,
                 categories: torch.Tensor | None = None, quantities: torch.Tensor | None = None,
                 generator: torch.Generator | None = None, num_inference_steps: int = 50,
                 height: int | None = None, width: int | None = None,
                 callback: ChunkCallback | None = None, output_type: Literal["np", "latent"] = "np",
                 ) -> np.ndarray | torch.Tensor:
        """One long video: uint8 frames (N, H, W, 3), or its latents (`output_type="latent"`).

        N = (T−1)·r + 1 as the base VAE decodes T latent frames (r = 4; CogVideoX's VAE gives that
        only for odd T, 4·T for even T).

        Chunks take the local prompt of the event at their temporal centre, then `global_prompt`. The
        callback gets (step, total steps, chunk) after every chunk evaluation, stage 1 and stage 2.
        """
        from filmcrew.models.wisa.physics import expert_gates

        pipe = self.pipe
        if num_inference_steps < 1:
            raise ValueError(f"syncos: {num_inference_steps} steps; need at least 1")
        windows = chunk_windows(num_latent_frames, self.chunk_len, self.stride)
        texts = chunk_texts(global_prompt, local_prompts)
        conds_by_event = self._conditions(texts, categories, quantities)
        conds = [conds_by_event[m] for m in assign_prompts(windows, len(texts))]
        height, width = height or pipe.native_height, width or pipe.native_width
        pipe.check_size(pipe.native_frames, height, width)
        shape = list(pipe.latent_shape(1, 1, height, width))
        shape[self.tdim] = num_latent_frames
        chunk_shape = list(shape)
        chunk_shape[self.tdim] = self.chunk_len

        gen_device = generator.device if generator is not None else torch.device("cpu")
        scheduler = pipe.fresh_scheduler()
        sched = Schedule(scheduler, num_inference_steps, flow=self.flow, device=pipe.device)
        x = torch.randn(shape, generator=generator, device=gen_device, dtype=torch.float32)
        x = x.to(pipe.device) * getattr(scheduler, "init_noise_sigma", 1.0)
        scale_input = getattr(scheduler, "scale_model_input", lambda x, t: x)
        rotary = None
        if not self.flow and pipe.transformer.config.use_rotary_positional_embeddings:
            from filmcrew.models.wisa.transformer import cogvideox_rotary_emb

            # Each chunk is a native clip: the positions of L frames, wherever it sits in the video.
            rotary = cogvideox_rotary_emb(pipe.transformer.config, self.chunk_len, chunk_shape[3],
                                          chunk_shape[4], device=pipe.device)
        coupled = self.coupled_steps(num_inference_steps)
        total = len(sched.timesteps)
        # per-run constants on the generator's device once, not every step
        gate_cats = None
        if self.physics:  # the CFG batch's category rows, built on the CPU (not read back from the model's device)
            cats = torch.zeros(1, 29) if categories is None else categories.reshape(1, 29).float()
            _, gate_cats, _ = build_cfg_batch(
                torch.zeros(1, 1), torch.zeros(1, 1), cats, torch.zeros(1, 18),
                guidance_scale=self.guidance_scale, physics_guidance_scale=self.physics_guidance_scale)
            gate_cats = gate_cats.to(gen_device)
        with pipe.lock:
            for i, t in enumerate(sched.timesteps):
                guidance = self._guidance(sched, i)
                # Expert gates once per step, as the pipeline draws them: shared by every chunk.
                gates = (expert_gates(gate_cats, mode=self.gate_mode, generator=generator)
                         .to(pipe.device, pipe.dtype) if gate_cats is not None else None)
                # Stage 1: every chunk predicts x̂0; overlaps are averaged.
                x0_parts = []
                for c, w in enumerate(windows):
                    xc = self._chunk(x, w)
                    pred = self._predict(xc, t, guidance, conds[c], gates, rotary, scale_input)
                    x0_parts.append(sched.split(xc, pred, i)[0])
                    if callback is not None:
                        callback(i + 1, total, c)
                x0 = self._scatter_mean(x0_parts, windows, x)
                if self.baseline_noise == "fused_eps":
                    eps = sched.fused_eps(x, x0, i)
                else:
                    eps = torch.randn(shape, generator=generator, device=gen_device).to(pipe.device)
                # Stage 2: global CSD refinement at the grounded timestep, early steps only.
                if coupled[i]:
                    x0 = self.refine(x0, eps, sched, i, windows, conds, gates, rotary, scale_input,
                                     on_call=(lambda c, i=i: callback(i + 1, total, c))
                                     if callback is not None else None)
                # Stage 3: resume the trajectory with the same baseline noise.
                x = sched.step(x0, eps, i)
            if output_type == "latent":
                return x
            return pipe.decode(x)
