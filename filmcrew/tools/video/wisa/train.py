"""Fine-tuning WISA (METHODS.md §1.4e–f, §1.5): LoRA on the base attention + the physical module.

One step = condition dropout (so the model learns the zero-physics branch CFG uses), a noisy latent
at a random time, the base objective (v-prediction for CogVideoX's DDIM-style schedulers, the flow
velocity noise − x0 for Wan's flow matching), plus the physical classifier's BCE with WISA's
self-normalised weight. The base weights stay frozen; only the adapters and WISA's parts train.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: The released recipe (§1.5): rank 128, alpha 16; AdamW lr 2e-5, betas (0.9, 0.99), wd 1e-4.
LORA_RANK, LORA_ALPHA = 128, 16.0


def is_cogvideox(model: nn.Module) -> bool:
    """True for a WISA-CogVideoX transformer (latents B,F,C,H,W), False for WISA-Wan (B,C,F,H,W)."""
    return hasattr(model, "phys_transformer_blocks")


def prepare_for_training(model: nn.Module, *, rank: int = LORA_RANK, alpha: float = LORA_ALPHA,
                         generator: torch.Generator | None = None) -> list[nn.Parameter]:
    """Freeze the base, add LoRA to its self-attention projections; return what trains.

    Trainable: every LoRA A/B and every parameter WISA adds (physics token, quantity embedder,
    physical block, classifier).
    """
    from filmcrew.models.lora import COGVIDEOX_LORA_TARGET, WAN_LORA_TARGET, add_lora

    target = COGVIDEOX_LORA_TARGET if is_cogvideox(model) else WAN_LORA_TARGET
    model.requires_grad_(False)
    add_lora(model, target, rank, alpha, generator=generator)
    for name, p in model.named_parameters():
        if name.startswith("phys_") or ".lora_A." in name or ".lora_B." in name:
            p.requires_grad_(True)
    model.train()
    return [p for p in model.parameters() if p.requires_grad]


def wisa_optimizer(params: Iterable[nn.Parameter], lr: float = 2e-5) -> torch.optim.Optimizer:
    """AdamW with the released settings (betas 0.9/0.99, weight decay 1e-4, eps 1e-8)."""
    return torch.optim.AdamW(list(params), lr=lr, betas=(0.9, 0.99), weight_decay=1e-4, eps=1e-8)


def _flow_shift(scheduler: Any) -> float:
    cfg = scheduler.config
    return float(cfg.get("shift", None) or cfg.get("flow_shift", None) or 1.0)


def noisy_target(scheduler: Any, x0: torch.Tensor, *, generator: torch.Generator | None,
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(noisy latents, timesteps (B,), regression target) for one training step.

    Schedulers with `get_velocity` (CogVideoX DDIM/DPM): t uniform over the training steps,
    target v. Flow matching (Wan): sigma from a logit-normal then the scheduler's shift, x_t =
    (1−σ)·x0 + σ·noise, timestep 1000·σ, target noise − x0.
    """
    b = x0.shape[0]
    gen_device = generator.device if generator is not None else x0.device
    noise = torch.randn(x0.shape, generator=generator, device=gen_device).to(x0.device, x0.dtype)
    if hasattr(scheduler, "get_velocity"):
        n = scheduler.config.num_train_timesteps
        t = torch.randint(0, n, (b,), generator=generator, device=gen_device).to(x0.device)
        return scheduler.add_noise(x0, noise, t), t, scheduler.get_velocity(x0, noise, t)
    u = torch.sigmoid(torch.randn(b, generator=generator, device=gen_device)).to(x0.device)
    s = _flow_shift(scheduler)
    sigma = s * u / (1 + (s - 1) * u)
    sig = sigma.view(b, *([1] * (x0.ndim - 1))).to(x0.dtype)
    return (1 - sig) * x0 + sig * noise, sigma * 1000.0, noise - x0


def wisa_training_step(model: nn.Module, batch: dict[str, torch.Tensor],
                       optimizer: torch.optim.Optimizer, *, scheduler: Any,
                       generator: torch.Generator | None = None, p_drop: float = 0.1,
                       max_grad_norm: float = 1.0) -> dict[str, float]:
    """One optimisation step on `batch`; returns the losses as floats.

    `batch`: "latents" (clean VAE latents in the base's layout), "prompt_embeds" (B, L, D),
    "categories" (B, 29), "quantities" (B, 18). The classifier is trained on the true categories
    even when dropout hid them from MoPA: it reads the video, not the condition.
    """
    from filmcrew.models.wisa.physics import drop_conditions, expert_gates, wisa_loss

    x0, embeds = batch["latents"], batch["prompt_embeds"]
    cats, quants = batch["categories"].float(), batch["quantities"].float()
    if x0.shape[0] != cats.shape[0] or embeds.shape[0] != cats.shape[0]:
        raise ValueError("latents, prompt_embeds and categories must share the batch size")
    cats_in, quants_in = drop_conditions(cats, quants, p=p_drop, generator=generator)
    x_t, t, target = noisy_target(scheduler, x0, generator=generator)
    gen_device = generator.device if generator is not None else cats.device
    gates = expert_gates(cats_in.to(gen_device), mode="reference", generator=generator)
    kwargs = {}
    if is_cogvideox(model) and model.config.use_rotary_positional_embeddings:
        from filmcrew.models.wisa.transformer import cogvideox_rotary_emb

        kwargs["image_rotary_emb"] = cogvideox_rotary_emb(model.config, x0.shape[1], x0.shape[3],
                                                          x0.shape[4], device=x0.device)
    pred, logits = model(x_t, embeds, t, categories=cats_in, quantities=quants_in,
                         gates=gates.to(x0.device), return_logits=True, **kwargs)
    diffusion = F.mse_loss(pred.float(), target.float())
    loss = wisa_loss(diffusion, logits, cats)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    params = [p for g in optimizer.param_groups for p in g["params"]]
    torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()
    bce = F.binary_cross_entropy_with_logits(logits.detach().float(), cats)
    return {"loss": float(loss.detach()), "diffusion": float(diffusion.detach()),
            "classifier": float(bce)}
