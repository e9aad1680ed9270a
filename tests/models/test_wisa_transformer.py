"""WISA transformers on tiny random CogVideoX / Wan: base equivalence, physics token, RoPE padding, key map."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from filmcrew.models.wisa.keys import (
    PhysWeightsError,
    from_published,
    load_phys_weights,
    phys_state_dict,
    to_published,
)
from filmcrew.models.wisa.physics import NUM_CATEGORIES, NUM_QUANTITIES
from filmcrew.models.wisa.transformer import (
    cogvideox_rotary_emb,
    prepend_zero_rotary,
    tiny_cogvideox,
    tiny_wan,
)

B = 2


def _conds(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    cats = (torch.rand(B, NUM_CATEGORIES, generator=g) < 0.3).float()
    return {"categories": cats, "quantities": torch.rand(B, NUM_QUANTITIES, generator=g) * 5}


def _cog_inputs(model) -> dict:
    g = torch.Generator().manual_seed(1)
    return {
        "hidden_states": torch.randn(B, 3, 4, 8, 8, generator=g),  # (B, F, C, H, W) latents
        "encoder_hidden_states": torch.randn(B, 8, 32, generator=g),
        "timestep": torch.tensor([10, 700]),
        "image_rotary_emb": cogvideox_rotary_emb(model.config, 3, 8, 8),
    }


def _wan_inputs(model) -> dict:
    g = torch.Generator().manual_seed(1)
    return {
        "hidden_states": torch.randn(B, 4, 3, 8, 8, generator=g),  # (B, C, F, H, W) latents
        "encoder_hidden_states": torch.randn(B, 8, 32, generator=g),
        "timestep": torch.tensor([10, 700]),
    }


def _base_out(model, inputs: dict) -> torch.Tensor:
    x = inputs
    if hasattr(model, "phys_blocks"):  # Wan's base takes (hidden, timestep, text)
        return model.base(
            x["hidden_states"], x["timestep"], x["encoder_hidden_states"], return_dict=False
        )[0]
    return model.base(**x, return_dict=False)[0]


@torch.no_grad()
def _silence_physical_block(model) -> None:
    """Make the physical block add nothing.

    CogVideoX: its AdaLN gate is linear_adaln(...)[gate] + table[2], all WISA parameters -> zero them.
    Wan: the gate also contains Wan's own timestep projection chunk 2 (a base parameter), so we zero the
    block's output projection instead; either way h + gate * 0 = h.
    """
    if hasattr(model, "phys_blocks"):
        model.physical_block.attn.to_out[0].weight.zero_()
        model.physical_block.attn.to_out[0].bias.zero_()
    else:
        emb = model.phys_quantify_embedder
        emb.linear_adaln.weight[2 * model.phys_token.numel() :].zero_()
        emb.linear_adaln.bias[2 * model.phys_token.numel() :].zero_()
        emb.scale_shift_table[2].zero_()


CASES = [(tiny_cogvideox, _cog_inputs), (tiny_wan, _wan_inputs)]


@pytest.mark.parametrize(("build", "make_inputs"), CASES, ids=["cogvideox", "wan"])
@torch.no_grad()
def test_without_token_and_silent_block_equals_base(build, make_inputs) -> None:
    model = build(0)
    inputs = make_inputs(model)
    base = _base_out(model, inputs)
    live = model(**inputs, **_conds(), physics_token=False)
    assert (live - base).abs().max() > 1e-3  # the physical block does act ...
    _silence_physical_block(model)
    out = model(**inputs, **_conds(), physics_token=False)
    # ... and the rest is the base, step by step.
    torch.testing.assert_close(out, base, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("build", "make_inputs"), CASES, ids=["cogvideox", "wan"])
@torch.no_grad()
def test_physics_token_changes_output_and_feeds_classifier(build, make_inputs) -> None:
    model = build(0)
    inputs = make_inputs(model)
    base = _base_out(model, inputs)
    _silence_physical_block(model)
    out, logits = model(**inputs, **_conds(), return_logits=True)
    assert out.shape == base.shape
    assert logits.shape == (B, NUM_CATEGORIES)
    # The token joins every base attention, so even a silent physical block leaves a trace.
    assert (out - base).abs().max() > 1e-4
    # The classifier reads the token after the physical block: other categories -> other gates -> other logits.
    model2 = build(0)
    _, l1 = model2(**inputs, **_conds(0), return_logits=True)
    _, l2 = model2(**inputs, **_conds(1), return_logits=True)
    assert (l1 - l2).abs().max() > 1e-5
    with pytest.raises(ValueError, match="physics_token"):
        model(**inputs, physics_token=False, return_logits=True)


@pytest.mark.parametrize(("build", "make_inputs"), CASES, ids=["cogvideox", "wan"])
@torch.no_grad()
def test_missing_conditions_mean_zeros_and_bad_shapes_raise(build, make_inputs) -> None:
    model = build(0)
    inputs = make_inputs(model)
    zeros = {
        "categories": torch.zeros(B, NUM_CATEGORIES),
        "quantities": torch.zeros(B, NUM_QUANTITIES),
    }
    torch.testing.assert_close(model(**inputs), model(**inputs, **zeros))
    with pytest.raises(ValueError, match="categories"):
        model(**inputs, categories=torch.zeros(B, 17))


def test_rotary_padding_zeroes_the_token_query_and_key() -> None:
    from diffusers.models.embeddings import apply_rotary_emb

    model = tiny_cogvideox(0)
    cos, sin = cogvideox_rotary_emb(model.config, 3, 8, 8)  # (48, 16) each
    q = torch.randn(B, 2, 49, 16)  # (B, heads, 1 + 48 tokens, head_dim), CogVideoX layout
    padded = prepend_zero_rotary((cos, sin), seq_dim=0)
    assert padded[0].shape == (49, 16) and torch.count_nonzero(padded[0][0]) == 0
    rotated = apply_rotary_emb(q, padded)
    assert torch.count_nonzero(rotated[:, :, 0]) == 0
    torch.testing.assert_close(rotated[:, :, 1:], apply_rotary_emb(q[:, :, 1:], (cos, sin)))

    wan = tiny_wan(0)
    wcos, wsin = wan.base.rope(torch.zeros(1, 4, 3, 8, 8))  # (1, 48, 1, 16) each, Wan layout
    wpad = prepend_zero_rotary((wcos, wsin), seq_dim=1)
    assert wpad[0].shape == (1, 49, 1, 16)
    k = torch.randn(B, 49, 2, 16)  # Wan rotates (B, tokens, heads, head_dim), pairs interleaved
    wrot = _wan_rotate(k, *wpad)
    assert torch.count_nonzero(wrot[:, 0]) == 0
    torch.testing.assert_close(wrot[:, 1:], _wan_rotate(k[:, 1:], wcos, wsin))
    # The physical block rotates Wan tokens with diffusers' apply_rotary_emb on (S, d) rows: same result.
    flat = tuple(t[0, :, 0] for t in wpad)
    torch.testing.assert_close(apply_rotary_emb(k.transpose(1, 2), flat).transpose(1, 2), wrot)


def _wan_rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """The rotation WanAttnProcessor applies (written out: it is a closure inside the processor)."""
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    c, s = cos[..., 0::2], sin[..., 1::2]
    return torch.stack([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1).flatten(-2).type_as(x)


def _published_names(variant: str, last: int, mlp: bool = False) -> set[str]:
    """The key names of the released phys_weights.safetensors, written out independently of the map."""
    blocks = "phys_transformer_blocks" if variant == "cogvideox" else "phys_blocks"
    names = {"phys_token", "phys_classifier.0.weight", "phys_classifier.0.bias", "phys_classifier.2.weight",
             "phys_classifier.2.bias", "phys_quantify_embedder.quantify_proj.weight",
             "phys_quantify_embedder.quantify_proj.bias"}  # fmt: skip
    adaln = ["linear_adaln.0", "linear_adaln.2"] if mlp else ["linear_adaln"]
    names |= {f"phys_quantify_embedder.{a}.{p}" for a in adaln for p in ("weight", "bias")}
    attn = f"{blocks}.{last}.phys_attn"
    names |= {
        f"{attn}.{m}.{p}" for m in ("to_q", "to_k", "to_v", "to_out.0") for p in ("weight", "bias")
    }
    if variant == "cogvideox":
        names |= {
            f"{blocks}.{last}.phys_scale_shift_table",
            f"{blocks}.{last}.norm1.weight",
            f"{blocks}.{last}.norm1.bias",
        }
        names |= {f"{attn}.{m}.{p}" for m in ("norm_q", "norm_k") for p in ("weight", "bias")}
    else:
        names |= {
            f"{blocks}.{last}.scale_shift_table",
            f"{attn}.norm_q.weight",
            f"{attn}.norm_k.weight",
        }
    return names


@pytest.mark.parametrize(("build", "variant"), [(tiny_cogvideox, "cogvideox"), (tiny_wan, "wan")])
def test_published_key_names_load_exactly(build, variant) -> None:
    model = build(0)
    published = to_published(phys_state_dict(model), variant)
    assert set(published) == _published_names(variant, last=1)
    assert published["phys_token"].shape == (1, 1, 32)
    table = (
        "phys_transformer_blocks.1.phys_scale_shift_table"
        if variant == "cogvideox"
        else "phys_blocks.1.scale_shift_table"
    )
    assert published[table].shape == ((3, 32) if variant == "cogvideox" else (1, 3, 32))
    fresh = {k: torch.randn(v.shape) for k, v in published.items()}
    load_phys_weights(model, fresh)
    torch.testing.assert_close(model.phys_token.data, fresh["phys_token"].reshape(-1))
    assert set(from_published(fresh, variant)) == set(phys_state_dict(model))


@pytest.mark.parametrize(("build", "variant"), [(tiny_cogvideox, "cogvideox"), (tiny_wan, "wan")])
def test_bad_phys_weights_raise_naming_the_key(build, variant) -> None:
    model = build(0)
    good = to_published(phys_state_dict(model), variant)
    attn = (
        "phys_transformer_blocks" if variant == "cogvideox" else "phys_blocks"
    ) + ".1.phys_attn.to_q.weight"
    wrong_shape = dict(good, **{attn: torch.zeros(58 * 8, 32)})
    with pytest.raises(PhysWeightsError, match=attn.replace(".", r"\.")):
        load_phys_weights(model, wrong_shape)
    missing = {k: v for k, v in good.items() if k != "phys_classifier.2.bias"}
    with pytest.raises(PhysWeightsError, match=r"missing \['phys_classifier\.2\.bias'\]"):
        load_phys_weights(model, missing)
    wrong_block = {k.replace(".1.", ".0."): v for k, v in good.items()}  # trained for another depth
    with pytest.raises(PhysWeightsError, match="unexpected"):
        load_phys_weights(model, wrong_block)
    other = tiny_wan(0) if variant == "cogvideox" else tiny_cogvideox(0)
    with pytest.raises(PhysWeightsError):
        load_phys_weights(other, good)


@pytest.mark.parametrize(
    ("build", "make_inputs", "variant"),
    [(tiny_cogvideox, _cog_inputs, "cogvideox"), (tiny_wan, _wan_inputs, "wan")],
)
@torch.no_grad()
def test_save_load_round_trip_reproduces_outputs(tmp_path, build, make_inputs, variant) -> None:
    src, dst = build(0), build(1)
    dst.base.load_state_dict(src.base.state_dict())  # same base, different physical module
    inputs = make_inputs(src)
    want = src(**inputs, **_conds())
    assert (dst(**inputs, **_conds()) - want).abs().max() > 1e-4
    path = tmp_path / "phys_weights.safetensors"
    save_file(to_published(phys_state_dict(src), variant), str(path))
    load_phys_weights(dst, load_file(str(path)))
    torch.testing.assert_close(dst(**inputs, **_conds()), want, atol=1e-6, rtol=0)
