"""LoRA on a tiny WISA transformer: attention projections only, zero start, trains, merges, round-trips."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from filmcrew.models.lora import (
    COGVIDEOX_LORA_TARGET,
    WAN_LORA_TARGET,
    LoRALinear,
    add_lora,
    load_lora_state_dict,
    lora_state_dict,
    merge_lora,
)
from filmcrew.models.wisa.transformer import cogvideox_rotary_emb, tiny_cogvideox, tiny_wan


def _inputs(model) -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "hidden_states": torch.randn(2, 3, 4, 8, 8, generator=g),
        "encoder_hidden_states": torch.randn(2, 8, 32, generator=g),
        "timestep": torch.tensor([50, 500]),
        "image_rotary_emb": cogvideox_rotary_emb(model.config, 3, 8, 8),
    }


def test_targets_hit_base_attention_projections_only() -> None:
    model = tiny_cogvideox(0)
    names = add_lora(model, COGVIDEOX_LORA_TARGET, rank=4, alpha=2)
    want = {
        f"base.transformer_blocks.{i}.attn1.{p}"
        for i in range(2)
        for p in ("to_q", "to_k", "to_v", "to_out.0")
    }
    assert set(names) == want  # not the physical block's attn, not the feed-forward
    assert all(isinstance(model.get_submodule(n), LoRALinear) for n in names)
    assert isinstance(model.physical_block.attn.to_q, nn.Linear)
    wan = tiny_wan(0)
    wan_names = add_lora(wan, WAN_LORA_TARGET, rank=4, alpha=2)
    assert len(wan_names) == 8 and all(".attn1." in n and "phys" not in n for n in wan_names)
    with pytest.raises(ValueError, match=r"no nn\.Linear matched"):
        add_lora(model, r"nothing_here$", rank=4, alpha=2)


def test_lora_starts_neutral_trains_and_merges() -> None:
    model = tiny_cogvideox(0)
    x = _inputs(model)
    with torch.no_grad():
        before = model(**x)
    model.requires_grad_(False)
    names = add_lora(
        model, COGVIDEOX_LORA_TARGET, rank=4, alpha=8, generator=torch.Generator().manual_seed(0)
    )
    lora = model.get_submodule(names[0])
    assert lora.scale == 2.0
    with torch.no_grad():  # B = 0: exactly the same output
        torch.testing.assert_close(model(**x), before, atol=0, rtol=0)

    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"{n}.lora_{ab}.weight" for n in names for ab in "AB"}

    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    target = torch.zeros_like(before)
    for _ in range(3):
        loss = (model(**x) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        trained = model(**x)
    assert (trained - before).abs().max() > 1e-3
    frozen = model.base.transformer_blocks[0].attn1.to_q.base.weight
    assert frozen.grad is None and not frozen.requires_grad

    merged = merge_lora(model)
    assert sorted(merged) == sorted(names)
    assert all(type(model.get_submodule(n)) is nn.Linear for n in names)
    with torch.no_grad():
        torch.testing.assert_close(model(**x), trained, atol=1e-5, rtol=0)


def test_lora_state_dict_uses_diffusers_names_and_round_trips() -> None:
    src, dst = tiny_wan(0), tiny_wan(0)
    add_lora(src, WAN_LORA_TARGET, rank=2, alpha=1)
    add_lora(dst, WAN_LORA_TARGET, rank=2, alpha=1)
    with torch.no_grad():
        for m in src.modules():
            if isinstance(m, LoRALinear):
                m.lora_B.weight.normal_()
    sd = lora_state_dict(src)
    assert (
        "base.blocks.0.attn1.to_q.lora_A.weight" in sd
        and "base.blocks.1.attn1.to_out.0.lora_B.weight" in sd
    )
    assert len(sd) == 16 and sd["base.blocks.0.attn1.to_q.lora_A.weight"].shape == (2, 32)
    load_lora_state_dict(dst, sd)
    g = torch.Generator().manual_seed(3)
    x = (
        torch.randn(1, 4, 3, 8, 8, generator=g),
        torch.randn(1, 8, 32, generator=g),
        torch.tensor([300]),
    )
    with torch.no_grad():
        torch.testing.assert_close(dst(*x), src(*x))
    with pytest.raises(KeyError, match="missing"):
        load_lora_state_dict(dst, {k: v for k, v in sd.items() if "blocks.1" not in k})
    with pytest.raises(ValueError, match="shape"):
        load_lora_state_dict(
            dst, {k: v[:1] if k.endswith("lora_A.weight") else v for k, v in sd.items()}
        )
