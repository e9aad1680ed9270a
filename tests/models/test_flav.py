"""FLAV on a tiny random configuration: shapes, per-frame modulation, adaLN-Zero, checkpoint layout.

What a user would notice: velocities come back in the shape of the inputs; each frame's timestep
modulates that frame (with causal attention a later frame's level cannot change an earlier frame);
a fresh model predicts zero; a checkpoint in the published layout loads with nothing missing or
left over and gives the same outputs; a missing checkpoint names what to fetch.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from filmcrew.models.rflav.flav import FLAV, FLAV_B1_CONFIG, TINY_FLAV_CONFIG, FLAVConfig, modulate
from filmcrew.models.rflav.keys import (
    RFLAV_LICENSE_NOTE,
    FlavWeightsError,
    FlavWeightsMissing,
    from_published,
    load_flav,
    load_state,
    randomize,
    to_published,
)

CFG = TINY_FLAV_CONFIG


def inputs(b: int = 2, t: int = CFG.window, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(b, t, CFG.latent_channels, CFG.latent_size, CFG.latent_size, generator=g)
    a = torch.randn(b, t, 1, CFG.n_mels, CFG.mel_frames, generator=g)
    tt = torch.rand(b, t, generator=g) * 999 + 1
    return v, a, tt


def random_model(cfg: FLAVConfig = CFG) -> FLAV:
    m = FLAV(cfg)
    randomize(m, seed=1)
    return m.eval()


def test_output_shapes_match_inputs_for_full_and_short_windows():
    m = random_model()
    for t in (CFG.window, 2):
        v, a, tt = inputs(t=t)
        ov, oa = m(v, a, tt, tt, torch.tensor([0, 8]))
        assert ov.shape == v.shape and oa.shape == a.shape
        assert ov.abs().sum() > 0 and oa.abs().sum() > 0
    v, a, tt = inputs(t=CFG.window + 1)
    with pytest.raises(ValueError, match="exceed the model's window"):
        m(v, a, tt, tt)


def test_b1_has_the_released_parameter_count():
    with torch.device("meta"):
        m = FLAV(FLAV_B1_CONFIG)
    assert round(sum(p.numel() for p in m.parameters()) / 1e6) == 324  # the model card's 324M


def test_adaln_zero_makes_a_fresh_model_predict_zero_and_every_block_the_identity():
    m = FLAV(CFG).eval()
    v, a, tt = inputs()
    ov, oa = m(v, a, tt, tt, torch.tensor([1, 2]))
    assert torch.count_nonzero(ov) == 0 and torch.count_nonzero(oa) == 0
    d = CFG.hidden_size
    x_v, x_a, c = torch.randn(2, 4, 64, d), torch.randn(2, 4, 10, d), torch.randn(2, 4, d)
    y_v, y_a = m.blocks[0](x_v, x_a, c, c)
    assert torch.equal(y_v, x_v) and torch.equal(y_a, x_a)


def test_modulation_is_per_frame_and_broadcast_over_the_frames_tokens():
    m = random_model()
    seen = []
    m.blocks[0].video_mod.register_forward_hook(lambda mod, i, o: seen.append(o.shape))
    m.blocks[0].audio_mod.register_forward_hook(lambda mod, i, o: seen.append(o.shape))
    m(*inputs()[:2], inputs()[2], inputs()[2])
    assert seen == [(2, CFG.window, 6 * CFG.hidden_size), (2, CFG.window, 3 * CFG.hidden_size)]
    x = torch.zeros(1, 2, 3, 4)
    shift = torch.tensor([[[1.0] * 4, [2.0] * 4]])
    out = modulate(x, shift, torch.zeros(1, 2, 4))
    assert torch.equal(out[0, 0], torch.ones(3, 4)) and torch.equal(out[0, 1], 2 * torch.ones(3, 4))


def test_a_frames_timestep_changes_that_frame_and_causally_never_an_earlier_one():
    v, a, tt = inputs(b=1)
    t2 = tt.clone()
    t2[0, 2] = 500.0 if tt[0, 2] < 400 else 10.0
    causal = random_model()
    (v1, a1), (v2, a2) = causal(v, a, tt, tt), causal(v, a, t2, t2)
    assert torch.allclose(v1[:, :2], v2[:, :2], atol=1e-6)
    assert torch.allclose(a1[:, :2], a2[:, :2], atol=1e-6)
    assert (v1[:, 2] - v2[:, 2]).abs().max() > 1e-3 and (a1[:, 2] - a2[:, 2]).abs().max() > 1e-3
    full = random_model(FLAVConfig(**{**CFG.to_dict(), "causal_attn": False}))
    (w1, _), (w2, _) = full(v, a, tt, tt), full(v, a, t2, t2)
    assert (w1[:, 0] - w2[:, 0]).abs().max() > 1e-4  # without the mask, frames attend both ways


def test_no_class_is_the_null_class():
    m = random_model()
    v, a, tt = inputs(b=1)
    ov, oa = m(v, a, tt, tt, None)
    nv, na = m(v, a, tt, tt, torch.tensor([m.null_class]))
    assert torch.equal(ov, nv) and torch.equal(oa, na)
    cv, _ = m(v, a, tt, tt, torch.tensor([0]))
    assert not torch.allclose(cv, ov)


def test_published_layout_loads_with_nothing_missing_or_unexpected():
    src = random_model()
    pub = to_published(src.state_dict())
    assert "blocks.0.video_adaLN_modulation.1.weight" in pub
    assert "video_final_layer.linear.weight" in pub and "blocks.0.a_avg_proj.0.bias" in pub
    dst = FLAV(CFG)
    load_state(dst, pub)  # raises on any missing, unexpected or mis-shaped key
    v, a, tt = inputs()
    for x, y in zip(src(v, a, tt, tt), dst.eval()(v, a, tt, tt), strict=True):
        assert torch.equal(x, y)
    assert set(from_published(pub)) == set(src.state_dict())
    with pytest.raises(FlavWeightsError, match=r"unexpected checkpoint keys: blocks\.0\.extra"):
        from_published({**pub, "blocks.0.extra.weight": torch.zeros(1)})
    lacking = dict(pub)
    del lacking["video_t_embedder.mlp.0.weight"]
    with pytest.raises(FlavWeightsError, match=r"lacks video_time\.mlp\.0\.weight"):
        load_state(FLAV(CFG), lacking)


def test_load_flav_reads_a_checkpoint_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    src = random_model()
    save_file(to_published(src.state_dict()), str(tmp_path / "model.safetensors"))
    ref_cfg = {"depth": 2, "hidden_size": 64, "num_heads": 2, "latent_size": 8, "in_channels": 4,
               "n_mels": 16, "predict_frames": 4, "num_classes": 9, "patch_size": 1}
    (tmp_path / "config.json").write_text(json.dumps(ref_cfg))
    model, cfg, meta = load_flav(str(tmp_path), debug=False)
    assert cfg == CFG
    assert meta["license"] == "CC-BY-NC-4.0" and meta["dataset"] == "landscape"
    assert "non-commercial" in RFLAV_LICENSE_NOTE
    v, a, tt = inputs()
    assert torch.equal(model(v, a, tt, tt)[0], src(v, a, tt, tt)[0])


def test_missing_weights_name_the_hub_id_and_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FlavWeightsMissing, match=r"MaverickAlex/R-FLAV-B-1-LS.*FILMCREW_RFLAV_MODEL"):
        load_flav(None, debug=False)
    with pytest.raises(FlavWeightsMissing, match="R-FLAV-B-1-AIST"):
        load_flav("MaverickAlex/R-FLAV-B-1-AIST", debug=False)
