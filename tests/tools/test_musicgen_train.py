"""Fine-tuning the rhythm conditioning: a tiny model overfits two pairs, and the weights round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from filmcrew.schemas import RhythmSpots
from filmcrew.tools.media import write_audio
from filmcrew.tools.music.musicgen.model import (
    describe,
    generate_music,
    load_musicgen,
    rhythm_chroma,
)
from filmcrew.tools.music.musicgen.train import load_pairs, save_rhythm, train_rhythm
from tests.tools.test_musicgen import brief


def write_pairs(folder) -> None:
    sr = 8000
    for i, (f0, times) in enumerate([(220.0, [0.1, 0.5, 0.9]), (330.0, [0.3, 0.7])]):
        t = np.arange(round(1.0 * sr)) / sr
        y = 0.05 * np.sin(2 * np.pi * f0 * t)
        for s in times:
            i0 = round(s * sr)
            y[i0:i0 + 800] += 0.5 * np.exp(-t[:800] / 0.02) * np.sin(2 * np.pi * 2 * f0 * t[:800])
        write_audio(folder / f"p{i}.wav", y.astype(np.float32), sr)
        spots = RhythmSpots(times_s=times, strengths=[1.0] * len(times), tempo_bpm=120)
        (folder / f"p{i}.json").write_text(json.dumps({
            "description": "tense strings" if i == 0 else "calm piano",
            "spots": spots.model_dump(mode="json"), "tonic": "A"}))


def test_pairs_layout(tmp_path) -> None:
    write_pairs(tmp_path)
    pairs = load_pairs(tmp_path)
    assert [p.audio.name for p in pairs] == ["p0.wav", "p1.wav"]
    assert pairs[1].spots.times_s == [0.3, 0.7] and pairs[0].tonic == "A"
    (tmp_path / "p2.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"p2\.json: no audio"):
        load_pairs(tmp_path)


def test_overfitting_two_pairs_drives_the_loss_down_and_the_weights_round_trip(tmp_path) -> None:
    torch.set_num_threads(1)
    write_pairs(tmp_path)
    from filmcrew.tools.music.musicgen.model import tiny_musicgen_melody

    bundle = tiny_musicgen_melody(1, window_s=1.0)
    history = train_rhythm(bundle, load_pairs(tmp_path), steps=60, lr=3e-3, max_seconds=1.0,
                           seed=0, train_decoder=True)
    first, last = np.mean(history[:5]), np.mean(history[-5:])
    print(f"loss before {first:.3f} after {last:.3f}")
    assert last < 0.6 * first
    # Only the projection: fewer parameters move, the loss still falls.
    proj = tiny_musicgen_melody(2, window_s=1.0)
    before = proj.model.audio_enc_to_dec_proj.weight.detach().clone()
    h2 = train_rhythm(proj, load_pairs(tmp_path), steps=40, lr=3e-2, max_seconds=1.0, seed=0)
    print(f"projection only: loss before {np.mean(h2[:5]):.3f} after {np.mean(h2[-5:]):.3f}")
    assert np.mean(h2[-5:]) < np.mean(h2[:5])
    assert not torch.equal(before, proj.model.audio_enc_to_dec_proj.weight)
    path = save_rhythm(proj, tmp_path / "rhythm.safetensors")
    # load_musicgen(debug=True, rhythm=...) puts the trained projection onto a fresh tiny model.
    loaded = load_musicgen(debug=True, rhythm=path)
    assert loaded.rhythm == str(path)
    fresh = tiny_musicgen_melody(0)
    assert torch.equal(loaded.model.audio_enc_to_dec_proj.weight, proj.model.audio_enc_to_dec_proj.weight)
    assert not torch.equal(fresh.model.audio_enc_to_dec_proj.weight, loaded.model.audio_enc_to_dec_proj.weight)
    spots = RhythmSpots(times_s=[0.2, 0.6], strengths=[1.0, 1.0], tempo_bpm=120)
    audio, sr = generate_music(loaded, describe(brief()), rhythm_chroma(spots, 0.5, "A", loaded.chroma),
                               0.5, seed=0)
    assert audio.shape == (round(0.5 * sr),)


def test_a_half_precision_model_trains_with_fp32_master_weights(tmp_path) -> None:
    """The GPU load path gives a half-precision model: training keeps fp32 master weights under
    autocast (bf16 here, which the CPU supports) and hands back a model of one dtype that still
    generates."""
    torch.set_num_threads(1)
    write_pairs(tmp_path)
    from filmcrew.tools.music.musicgen.model import tiny_musicgen_melody

    bundle = tiny_musicgen_melody(2, window_s=1.0)
    bundle.model.to(torch.bfloat16)
    before = bundle.model.audio_enc_to_dec_proj.weight.detach().clone()
    h = train_rhythm(bundle, load_pairs(tmp_path), steps=30, lr=3e-2, max_seconds=1.0, seed=0)
    print(f"bf16 projection only: loss before {np.mean(h[:5]):.3f} after {np.mean(h[-5:]):.3f}")
    assert np.isfinite(h).all() and np.mean(h[-5:]) < np.mean(h[:5])
    assert bundle.extra["master_dtype"] == "float32"
    assert {p.dtype for p in bundle.model.parameters()} == {torch.bfloat16}
    assert not torch.equal(before, bundle.model.audio_enc_to_dec_proj.weight)
    spots = RhythmSpots(times_s=[0.2, 0.6], strengths=[1.0, 1.0], tempo_bpm=120)
    audio, sr = generate_music(bundle, describe(brief()), rhythm_chroma(spots, 0.5, "A", bundle.chroma),
                               0.5, seed=0)
    assert audio.shape == (round(0.5 * sr),) and np.isfinite(audio).all()
