"""Low-rank adapters (LoRA) on chosen Linear layers: add, read out, load, and merge.

WISA fine-tunes only the attention projections of the frozen base transformer with rank-128 LoRA
(alpha 16, so the update is scaled by 0.125). The names follow the diffusers LoRA file format
(`<layer>.lora_A.weight`, `<layer>.lora_B.weight`), so a published `pytorch_lora_weights.safetensors`
maps onto `lora_state_dict` keys by stripping its `transformer.` prefix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import torch
from torch import nn

#: WISA's LoRA targets: self-attention projections of every base block (not the physical block's "attn").
COGVIDEOX_LORA_TARGET = r"(^|\.)transformer_blocks\.\d+\.attn1\.(to_q|to_k|to_v|to_out\.0)$"
WAN_LORA_TARGET = r"(^|\.)blocks\.\d+\.attn1\.(to_q|to_k|to_v|to_out\.0)$"


class LoRALinear(nn.Module):
    """A frozen Linear plus a trainable low-rank update: y = base(x) + (alpha/r)·B(A(x)).

    B starts at zero, so wrapping a layer does not change the model until it is trained.
    """

    def __init__(
        self, base: nn.Linear, rank: int, alpha: float, *, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(f"LoRA rank must be >= 1, got {rank}")
        self.base = base
        self.base.requires_grad_(False)
        self.rank, self.alpha, self.scale = rank, alpha, alpha / rank
        kw = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Linear(base.in_features, rank, bias=False, **kw)
        self.lora_B = nn.Linear(rank, base.out_features, bias=False, **kw)
        # Same init as nn.Linear for A (but seedable); B = 0 keeps the initial output unchanged.
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5), generator=generator)
        nn.init.zeros_(self.lora_B.weight)

    # Code that inspects the wrapped projection (dtype checks, fusing) keeps working.
    @property
    def weight(self) -> torch.Tensor:
        return self.base.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return self.base.bias

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * self.lora_B(self.lora_A(x))


def _matcher(target: Callable[[str], bool] | str) -> Callable[[str], bool]:
    if isinstance(target, str):
        pattern = re.compile(target)
        return lambda name: pattern.search(name) is not None
    return target


def _set_child(root: nn.Module, name: str, child: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, attr, child)  # works for ModuleList indices too ("to_out.0")


def add_lora(
    module: nn.Module,
    target: Callable[[str], bool] | str,
    rank: int,
    alpha: float,
    *,
    generator: torch.Generator | None = None,
) -> list[str]:
    """Wrap every nn.Linear whose qualified name matches `target` (regex searched, or predicate) in LoRALinear.

    Returns the wrapped names (relative to `module`). The wrapped base weights are frozen; everything
    else keeps its requires_grad, so freeze the model first if only the adapters should train.
    """
    match = _matcher(target)
    names = [
        name
        for name, m in module.named_modules()
        if type(m) is nn.Linear
        and match(name)
        and not name.endswith((".lora_A", ".lora_B", ".base"))
    ]
    if not names:
        raise ValueError(f"add_lora: no nn.Linear matched {target!r}")
    for name in names:
        _set_child(
            module, name, LoRALinear(module.get_submodule(name), rank, alpha, generator=generator)
        )
    return names


def lora_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter weights only, as `<layer>.lora_A.weight` / `<layer>.lora_B.weight` (diffusers naming)."""
    out: dict[str, torch.Tensor] = {}
    for name, m in module.named_modules():
        if isinstance(m, LoRALinear):
            prefix = f"{name}." if name else ""
            out[f"{prefix}lora_A.weight"] = m.lora_A.weight.detach()
            out[f"{prefix}lora_B.weight"] = m.lora_B.weight.detach()
    return out


def load_lora_state_dict(module: nn.Module, state_dict: dict[str, torch.Tensor]) -> None:
    """Load adapter weights (keys as `lora_state_dict` gives them); every adapter must be covered exactly."""
    expected = lora_state_dict(module)
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    if missing or unexpected:
        raise KeyError(
            f"LoRA weights: missing {missing[:5]} ({len(missing)}), unexpected {unexpected[:5]} ({len(unexpected)})"
        )
    for key, value in state_dict.items():
        if value.shape != expected[key].shape:
            raise ValueError(
                f"LoRA weight {key}: shape {tuple(value.shape)}, expected {tuple(expected[key].shape)}"
            )
    with torch.no_grad():
        for key, value in state_dict.items():
            expected[key].copy_(value)


@torch.no_grad()
def merge_lora(module: nn.Module) -> list[str]:
    """Fold every adapter into its base weight (W += scale·B·A) and put the plain Linear back.

    Inference then costs nothing extra. Returns the merged names.
    """
    names = [name for name, m in module.named_modules() if isinstance(m, LoRALinear)]
    for name in names:
        lora = module.get_submodule(name)
        assert isinstance(lora, LoRALinear)
        delta = lora.lora_B.weight.float() @ lora.lora_A.weight.float()
        lora.base.weight += (lora.scale * delta).to(lora.base.weight.dtype)
        if name:
            _set_child(module, name, lora.base)
    return names
