"""RFLAV against the official code: fixtures made by running ErgastiAlex/R-FLAV @789e16d.

tests/data/reference/ holds (see its README): the 408 parameter names and shapes of official FLAV-B/1,
a tiny official FLAV written by the official `save_pretrained` (official names, seeded weights), and
the official forward / rolling-sampler outputs on fixed inputs with their recorded noise. A user who
points filmcrew at the released checkpoint gets these names, this layout and these numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from filmcrew.models.rflav.flav import FLAV, FLAV_B1_CONFIG
from filmcrew.models.rflav.keys import (
    config_from_json,
    from_published,
    load_flav,
    load_state,
    to_published,
)

REF = Path(__file__).parents[1] / "data" / "reference"


def ref_json(name: str) -> dict:
    return json.loads((REF / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tiny() -> dict:
    return ref_json("rflav_tiny.json")


@pytest.fixture(scope="module")
def io() -> dict[str, torch.Tensor]:
    return load_file(str(REF / "rflav_tiny_io.safetensors"))


@pytest.fixture(scope="module")
def weights() -> dict[str, torch.Tensor]:
    return load_file(str(REF / "rflav_tiny.safetensors"))


def hub_folder(tmp_path: Path, config: dict, state: dict[str, torch.Tensor] | None = None) -> Path:
    """A folder in the official save_pretrained layout: model.safetensors + config.json."""
    import shutil

    from safetensors.torch import save_file

    if state is None:
        shutil.copy(REF / "rflav_tiny.safetensors", tmp_path / "model.safetensors")
    else:
        save_file(state, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return tmp_path


def uncond_config(tiny: dict) -> dict:
    return {**tiny["hub_config_json"], "num_classes": 0}


def uncond_state(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in weights.items() if "_y_embedder." not in k}


# -- 1. names and layout of the released checkpoint ------------------------------------------------


def test_b1_has_exactly_the_408_official_names_and_shapes():
    ref = ref_json("rflav_keys_flav_b1.json")
    official = {k["name"]: tuple(k["shape"]) for k in ref["keys"]}
    assert len(official) == 408
    cfg = config_from_json(ref["hub_mixin_config_json"])
    assert cfg == FLAV_B1_CONFIG and cfg.num_classes == 0
    with torch.device("meta"):
        model = FLAV(cfg)
    ours = {k: tuple(v.shape) for k, v in to_published(model.state_dict()).items()}
    assert ours == official
    assert sum(p.numel() for p in model.parameters()) == ref["n_params"]
    # a dict with exactly the official names maps onto every parameter, none left over
    with torch.device("meta"):
        pub = {k: torch.empty(s) for k, s in official.items()}
    assert set(from_published(pub)) == set(model.state_dict())
    extra = {k["name"]: tuple(k["shape"]) for k in ref["class_conditional_extra_keys"]}
    with torch.device("meta"):
        cond = FLAV(config_from_json({**ref["hub_mixin_config_json"], "num_classes": 9}))
    ours = {k: tuple(v.shape) for k, v in to_published(cond.state_dict()).items()}
    assert ours == {**official, **extra}


def test_the_official_save_pretrained_folder_loads_strictly(tmp_path, tiny, weights, io):
    (tmp_path / "c").mkdir()
    (tmp_path / "u").mkdir()
    model, cfg, meta = load_flav(str(hub_folder(tmp_path / "c", tiny["hub_config_json"])),
                                 debug=False)
    assert cfg.num_classes == 3 and cfg.window == 5 and cfg.hidden_size == 64
    assert meta["conditional"] is True and meta["num_classes"] == 3
    state = to_published(model.state_dict())
    assert set(state) == set(weights)
    assert all(torch.equal(state[k], weights[k]) for k in weights)
    # the embedding side agrees with the official forward before any block runs
    seen = {}
    model.blocks[0].register_forward_pre_hook(lambda m, args: seen.setdefault("in", args))
    with torch.no_grad():
        model(io["in.v"], io["in.a"], io["in.t"], io["in.t"], io["in.y"])
    v, a, c_v, c_a = seen["in"]
    for ours_, key in ((v, "fwd.blocks.0.in.v"), (a, "fwd.blocks.0.in.a"),
                       (c_v, "fwd.cond.v_c"), (c_a, "fwd.cond.a_c")):
        torch.testing.assert_close(ours_, io[key], rtol=1e-5, atol=2e-5)
    # the unconditional variant: the same file without the label tables
    folder = hub_folder(tmp_path / "u", uncond_config(tiny), uncond_state(weights))
    model, cfg, meta = load_flav(str(folder), debug=False)
    assert cfg.num_classes == 0 and meta["conditional"] is False and meta["num_classes"] == 0


# -- 2. the cross-modal feed-forward is modulated as (scale, shift, gate) ------------------------


def test_cross_modal_feed_forward_unpacks_scale_shift_gate():
    """Official `scale_v, shift_v, gate_v = video_scale(a_avg).chunk(3)`: the first third scales."""
    from filmcrew.models.rflav.flav import TINY_FLAV_CONFIG, FLAVBlock

    blk = FLAVBlock(TINY_FLAV_CONFIG)
    d = TINY_FLAV_CONFIG.hidden_size
    with torch.no_grad():
        for p in blk.parameters():
            p.zero_()  # attention gates 0: only the feed-forwards act
        for mod in (blk.video_mlp_mod, blk.audio_mlp_mod):
            mod[1].bias.copy_(torch.cat([torch.full((d,), 0.5), torch.zeros(d), torch.ones(d)]))
        for mlp in (blk.video_mlp, blk.audio_mlp):
            torch.nn.init.normal_(mlp.fc1.weight, generator=torch.Generator().manual_seed(0))
            torch.nn.init.normal_(mlp.fc2.weight, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(2)
    v, a = torch.randn(1, 3, 64, d, generator=g), torch.randn(1, 3, 10, d, generator=g)
    c = torch.randn(1, 3, d, generator=g)
    with torch.no_grad():
        ov, oa = blk(v, a, c, c)
        expect_v = v + blk.video_mlp(blk.video_norm_mlp(v) * 1.5)  # scale 0.5, shift 0, gate 1
        expect_a = a + blk.audio_mlp(blk.audio_norm_mlp(a) * 1.5)
    torch.testing.assert_close(ov, expect_v)
    torch.testing.assert_close(oa, expect_a)


# -- 3. audio attention is causal token by token over the window's T·10 mel tokens ---------------


def loaded(tiny: dict, weights: dict[str, torch.Tensor], conditional: bool = True) -> FLAV:
    cfg = config_from_json(tiny["hub_config_json"] if conditional else uncond_config(tiny))
    model = FLAV(cfg)
    load_state(model, weights if conditional else uncond_state(weights))
    return model.eval()


def test_audio_attention_is_token_causal_within_a_frame(tiny, weights):
    """Changing the later mel tokens of frame 0 leaves the attention of its earlier tokens alone."""
    model = loaded(tiny, weights)
    blk = model.blocks[0]
    g = torch.Generator().manual_seed(3)
    d = model.config.hidden_size
    v, a, c = (torch.randn(1, 2, 64, d, generator=g), torch.randn(1, 2, 10, d, generator=g),
               torch.randn(1, 2, d, generator=g))
    a2 = a.clone()
    a2[0, 0, 5:] += 1.0
    seen: list[torch.Tensor] = []
    blk.audio_attn.register_forward_hook(lambda m, args, out: seen.append(out))
    with torch.no_grad():
        blk(v, a, c, c)
        blk(v, a2, c, c)
    assert torch.equal(seen[0][0, :5], seen[1][0, :5])
    assert not torch.equal(seen[0][0, 5:], seen[1][0, 5:])


@pytest.mark.parametrize("case", ["fwd", "fwd_cfg", "fwd_uncond"])
def test_forward_matches_the_official_model(case, tiny, weights, io):
    model = loaded(tiny, weights, conditional=case != "fwd_uncond")
    seen: dict[str, torch.Tensor] = {}
    for i, blk in enumerate(model.blocks):
        blk.register_forward_hook(lambda m, args, out, i=i: seen.update(
            {f"fwd.blocks.{i}.out.v": out[0], f"fwd.blocks.{i}.out.a": out[1]}))
    v, a, t, y = io["in.v"], io["in.a"], io["in.t"], io["in.y"]
    with torch.no_grad():
        if case == "fwd":
            out = model(v, a, t, t, y)
        elif case == "fwd_cfg":
            out = model.forward_with_cfg(v, a, t, t, y, 2.5)
        else:
            out = model(v, a, t, t, None)
    if case == "fwd":
        for key, got in seen.items():
            torch.testing.assert_close(got, io[key], rtol=1e-5, atol=2e-5, msg=key)
    torch.testing.assert_close(out[0], io[f"{case}.out.v"], rtol=1e-5, atol=2e-5)
    torch.testing.assert_close(out[1], io[f"{case}.out.a"], rtol=1e-5, atol=2e-5)
