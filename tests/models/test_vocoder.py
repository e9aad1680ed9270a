"""The HiFi-GAN-style vocoder: sizes, HiFi-GAN config.json, weight-norm checkpoints, clear errors.

What a user would notice: T mel frames become exactly T·hop samples in [−1, 1]; a vocoder.pt saved
with weight normalisation (old g/v names or torch parametrizations) gives the same sound as the
plain weights; a missing file says where the vocoder comes from.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch

from filmcrew.models.rflav.vocoder import (
    TINY_VOCODER_CONFIG,
    Vocoder,
    VocoderConfig,
    fold_weight_norm,
    load_vocoder,
    tiny_vocoder,
    to_published,
)


def test_frames_become_hop_samples_in_range():
    voc = tiny_vocoder(0)
    mel = torch.randn(2, 16, 25) * 3 - 5
    with torch.no_grad():
        wave = voc(mel)
    assert TINY_VOCODER_CONFIG.hop == 160
    assert wave.shape == (2, 25 * 160)
    assert wave.abs().max() <= 1 and wave.std() > 0
    with pytest.raises(ValueError, match=r"mel must be \(B, 16, frames\)"):
        voc(torch.zeros(1, 8, 5))


def test_default_config_is_the_16k_hop_160_256_mel_vocoder():
    cfg = VocoderConfig()
    assert (cfg.num_mels, cfg.sampling_rate, cfg.hop) == (256, 16000, 160)


def test_hifigan_config_json_is_read_and_an_unknown_type_is_refused():
    data = {"resblock": "1", "num_mels": 16, "upsample_rates": [10, 4, 4],
            "upsample_kernel_sizes": [20, 8, 8], "upsample_initial_channel": 32,
            "resblock_kernel_sizes": [3, 5], "resblock_dilation_sizes": [[1, 3], [1, 3]],
            "sampling_rate": 16000, "segment_size": 8192}
    cfg = VocoderConfig.from_json(data)
    assert cfg == TINY_VOCODER_CONFIG and cfg.extra["segment_size"] == 8192
    assert VocoderConfig.from_json({**data, "resblock": 2}).resblock == "2"
    with pytest.raises(ValueError, match="resblock type '3'"):
        VocoderConfig.from_json({**data, "resblock": "3"})


def _weight_normed(state: dict[str, torch.Tensor], style: str) -> dict[str, torch.Tensor]:
    """Split every conv weight into (g, v) with v rescaled per output channel, as weight_norm does."""
    out, g = {}, torch.Generator().manual_seed(0)
    for k, w in state.items():
        if not k.endswith(".weight"):
            out[k] = w
            continue
        factor = torch.rand((w.shape[0],) + (1,) * (w.ndim - 1), generator=g) + 0.5
        v = w * factor
        gain = w.flatten(1).norm(dim=1).reshape(factor.shape)
        base = k.removesuffix(".weight")
        if style == "old":
            out[f"{base}.weight_g"], out[f"{base}.weight_v"] = gain, v
        else:
            out[f"{base}.parametrizations.weight.original0"] = gain
            out[f"{base}.parametrizations.weight.original1"] = v
    return out


@pytest.mark.parametrize("style", ["old", "parametrizations"])
def test_weight_normed_checkpoint_sounds_like_the_plain_weights(tmp_path, style):
    src = tiny_vocoder(3)
    ckpt = {"generator": _weight_normed(to_published(src.state_dict()), style)}
    assert any("resblocks.0.convs1.0" in k for k in ckpt["generator"])
    torch.save(ckpt, tmp_path / "vocoder.pt")
    cfg = asdict(TINY_VOCODER_CONFIG)
    cfg.pop("extra")
    (tmp_path / "config.json").write_text(json.dumps({"resblock": "1", **cfg}))
    loaded = load_vocoder(tmp_path)
    mel = torch.randn(1, 16, 12)
    with torch.no_grad():
        assert torch.allclose(loaded(mel), src(mel), atol=1e-5)


def test_fold_weight_norm_needs_both_halves():
    with pytest.raises(ValueError, match="lacks its v"):
        fold_weight_norm({"conv_pre.weight_g": torch.ones(2, 1, 1)})


def test_checkpoint_that_does_not_fit_is_refused(tmp_path):
    state = to_published(Vocoder(TINY_VOCODER_CONFIG).state_dict())
    del state["conv_post.weight"]
    torch.save(state, tmp_path / "vocoder.pt")
    cfg = asdict(TINY_VOCODER_CONFIG)
    cfg.pop("extra")
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"output_conv\.weight"):
        load_vocoder(tmp_path / "vocoder.pt")


def test_missing_vocoder_says_where_it_comes_from(tmp_path):
    with pytest.raises(FileNotFoundError, match="FILMCREW_RFLAV_VOCODER"):
        load_vocoder(tmp_path)
