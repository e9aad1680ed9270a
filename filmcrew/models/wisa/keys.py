"""The one place that maps our WISA module names onto the keys of the released `phys_weights.safetensors`.

Published layout (CogVideoX / Wan; L = index of the last base block):

    phys_token                                    (1, 1, D)           ours: phys_token (D,)
    phys_classifier.{0,2}.{weight,bias}                               ours: phys_classifier.net.{0,2}.*
    phys_quantify_embedder.quantify_proj.*, .linear_adaln[.0|.2].*    ours: same
    phys_transformer_blocks.L.phys_scale_shift_table (3, D)           ours: phys_quantify_embedder.scale_shift_table (3, D)
    phys_blocks.L.scale_shift_table               (1, 3, D)           ours: phys_quantify_embedder.scale_shift_table (3, D)
    <blocks>.L.norm1.{weight,bias} (CogVideoX only: affine)           ours: same
    <blocks>.L.phys_attn.{to_q,to_k,to_v,to_out.0,norm_q,norm_k}.*    ours: <blocks>.L.attn.*

If a checkpoint turns out to name something differently, this file is the only edit.
"""

from __future__ import annotations

import re
from typing import Literal

import torch
from torch import nn

Variant = Literal["cogvideox", "wan"]
_BLOCKS = {"cogvideox": "phys_transformer_blocks", "wan": "phys_blocks"}
_PUB_TABLE = {"cogvideox": "phys_scale_shift_table", "wan": "scale_shift_table"}
_OUR_TABLE = "phys_quantify_embedder.scale_shift_table"


class PhysWeightsError(ValueError):
    """The physical-module weights do not fit the model (missing, unexpected or mis-shaped keys)."""


def _check_variant(variant: str) -> None:
    if variant not in _BLOCKS:
        raise ValueError(f"unknown WISA variant {variant!r}; use 'cogvideox' or 'wan'")


def _block_index(keys: list[str], variant: Variant) -> int | None:
    pattern = re.compile(rf"^{_BLOCKS[variant]}\.(\d+)\.")
    found = {int(m.group(1)) for k in keys if (m := pattern.match(k))}
    if len(found) > 1:
        raise PhysWeightsError(
            f"{_BLOCKS[variant]}: expected one physical block, found indices {sorted(found)}"
        )
    return found.pop() if found else None


def published_key(key: str, variant: Variant, last: int | None) -> str:
    """Our parameter name -> the published key name."""
    _check_variant(variant)
    if key == _OUR_TABLE:
        if last is None:
            raise PhysWeightsError(
                f"{key}: cannot place the AdaLN table without the physical block index"
            )
        return f"{_BLOCKS[variant]}.{last}.{_PUB_TABLE[variant]}"
    if key.startswith("phys_classifier.net."):
        return "phys_classifier." + key.removeprefix("phys_classifier.net.")
    return re.sub(rf"^({_BLOCKS[variant]}\.\d+)\.attn\.", r"\1.phys_attn.", key)


def our_key(key: str, variant: Variant) -> str:
    """The published key name -> our parameter name."""
    _check_variant(variant)
    if re.fullmatch(rf"{_BLOCKS[variant]}\.\d+\.{_PUB_TABLE[variant]}", key):
        return _OUR_TABLE
    if key.startswith("phys_classifier."):
        return "phys_classifier.net." + key.removeprefix("phys_classifier.")
    return re.sub(rf"^({_BLOCKS[variant]}\.\d+)\.phys_attn\.", r"\1.attn.", key)


def to_published(state_dict: dict[str, torch.Tensor], variant: Variant) -> dict[str, torch.Tensor]:
    """Rename (and reshape) our physical-module state dict into the published layout."""
    last = _block_index(list(state_dict), variant)
    out = {}
    for key, value in state_dict.items():
        if key == "phys_token":
            value = value.reshape(1, 1, -1)
        elif key == _OUR_TABLE and variant == "wan":
            value = value.unsqueeze(0)
        out[published_key(key, variant, last)] = value.contiguous()
    return out


def from_published(published: dict[str, torch.Tensor], variant: Variant) -> dict[str, torch.Tensor]:
    """Rename (and reshape) a published physical-module state dict into our names."""
    out: dict[str, torch.Tensor] = {}
    for key, value in published.items():
        ours = our_key(key, variant)
        if ours == "phys_token" and value.ndim == 3:
            value = value.reshape(-1)
        elif ours == _OUR_TABLE and value.ndim == 3:
            value = value.reshape(value.shape[-2], value.shape[-1])
        if ours in out:
            raise PhysWeightsError(f"{key}: maps onto {ours}, which another key already filled")
        out[ours] = value
    return out


def _variant_of(model: nn.Module) -> Variant:
    if hasattr(model, "phys_transformer_blocks"):
        return "cogvideox"
    if hasattr(model, "phys_blocks"):
        return "wan"
    raise TypeError(f"{type(model).__name__} is not a WISA transformer (no physical blocks)")


def phys_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The parameters WISA adds to the base model, in our names (everything not under `base.`)."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith("base.")}


def load_phys_weights(model: nn.Module, published: dict[str, torch.Tensor]) -> None:
    """Load a published physical-module state dict into a WISA transformer, all keys and shapes checked.

    Raises PhysWeightsError naming the published keys that are missing, unexpected or of the wrong shape,
    so a wrong checkpoint (e.g. CogVideoX weights into a Wan model) fails loudly instead of half-loading.
    """
    variant = _variant_of(model)
    last = model.config.num_layers - 1
    expected = phys_state_dict(model)
    mapped = from_published(published, variant)
    back = {our_key(k, variant): k for k in published}
    missing = [published_key(k, variant, last) for k in expected if k not in mapped]
    unexpected = [back[k] for k in mapped if k not in expected]
    if missing or unexpected:
        raise PhysWeightsError(
            f"WISA {variant} phys weights do not match the model (physical block index {last}): "
            f"missing {missing}; unexpected {unexpected}"
        )
    for key, value in mapped.items():
        if value.shape != expected[key].shape:
            pub_shape = tuple(published[back[key]].shape)
            raise PhysWeightsError(
                f"{back[key]}: shape {pub_shape} does not fit {key} {tuple(expected[key].shape)}"
            )
    with torch.no_grad():
        for key, value in mapped.items():
            expected[key].copy_(value)
