"""The vocoder against the official `converter.Generator` (ErgastiAlex/R-FLAV @789e16d).

tests/data/reference/rflav_vocoder_tiny.* holds two tiny official vocoders, in the weight-norm names
of the released `vocoder.pt`, with their inputs and outputs: `A` (ResBlock1) has stages whose
kernel − rate is odd, which the official upsampler pads as (k − u)//2 + 1 with output_padding 1;
`B` uses ResBlock2. Also the official `get_wavs` chain (model values → log-mel) and int16 output.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from filmcrew.models.rflav.vocoder import Vocoder, VocoderConfig, load_state, to_int16
from filmcrew.tools.video.rflav.audio import AUDIO_SCALES, model_values_to_log_mel

REF = Path(__file__).parents[1] / "data" / "reference"


@pytest.fixture(scope="module")
def ref() -> tuple[dict, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    meta = json.loads((REF / "rflav_vocoder_tiny.json").read_text(encoding="utf-8"))
    return (meta, load_file(str(REF / "rflav_vocoder_tiny.safetensors")),
            load_file(str(REF / "rflav_vocoder_tiny_io.safetensors")))


@pytest.mark.parametrize("name", ["A", "B"])
def test_official_vocoder_weights_give_the_official_waveform(name, ref):
    meta, weights, io = ref
    cfg = VocoderConfig.from_json(meta["configs"][name]["config_json"])
    model = Vocoder(cfg)
    built = [(m.padding[0], m.output_padding[0]) for m in model.upsample]
    official = [(L["padding"], L["output_padding"])
                for L in meta["configs"][name]["conv_transpose_layers_as_built"]]
    assert built == official
    gen = {k.removeprefix(f"{name}."): v for k, v in weights.items() if k.startswith(f"{name}.")}
    load_state(model, {"generator": gen})
    with torch.no_grad():
        wave = model(io[f"{name}.mel"])
    assert wave.shape == io[f"{name}.wave"][:, 0].shape
    torch.testing.assert_close(wave, io[f"{name}.wave"][:, 0], rtol=0, atol=1e-5)
    ints = to_int16(wave.numpy())
    ref_ints = io[f"{name}.wav_int16"].numpy()
    off = ints.astype(np.int32) - ref_ints
    # ±1 only where the official sample × 32768 sits within our rounding distance of an integer
    ref_scaled = io[f"{name}.wave"][:, 0].numpy() * 32768
    slack = np.abs(wave.numpy() * 32768 - ref_scaled) + 1e-3
    near = np.abs(ref_scaled - np.round(ref_scaled)) <= slack
    assert np.all((off == 0) | ((np.abs(off) == 1) & near))
    assert np.count_nonzero(off) <= 0.01 * off.size


@pytest.mark.parametrize("name", ["A", "B"])
def test_model_values_become_the_official_log_mel(name, ref):
    _, _, io = ref
    mel = model_values_to_log_mel(io[f"{name}.chain.norm_spec"][:, 0], AUDIO_SCALES["landscape"])
    torch.testing.assert_close(mel, io[f"{name}.mel"], rtol=0, atol=1e-5)
