"""RFLAV's audio and frame representations: the paper's log-mel, its normalisation, the SD-VAE path.

What a user would notice: one second of sound is 100 mel frames of 256 bins (ten under each video
frame); a 1 kHz tone lights the mel bin centred near 1 kHz; normalising and denormalising gives back
the same spectrogram; frames go into 4×(H/s)×(W/s) latents and back to pictures of their size;
latents become exactly T·1600 samples; a missing VAE names what to fetch.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from filmcrew.models.rflav.vocoder import tiny_vocoder
from filmcrew.tools.video.rflav.audio import (
    AUDIO_SCALES,
    LOG_MAX,
    LOG_MIN,
    VaeMissing,
    audio_latents,
    decode_latents,
    denormalize,
    encode_frames,
    frames_to_mel,
    latents_to_wave,
    load_vae,
    log_mel,
    mel_to_frames,
    normalize,
    peak_normalise,
    tiny_vae,
    vae_downscale,
)


def tone(freq: float, seconds: float = 1.0, sr: int = 16000) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_one_second_is_100_mel_frames_of_256_bins():
    mel = log_mel(tone(440.0))
    assert mel.shape == (256, 100)
    assert mel.min() >= LOG_MIN and mel.max() <= LOG_MAX
    assert log_mel(tone(440.0, 0.5)).shape == (256, 50)


@pytest.mark.parametrize("freq", [500.0, 1000.0, 3000.0])
def test_a_tone_peaks_at_the_mel_bin_of_its_frequency(freq):
    mel = log_mel(tone(freq))
    peak = int(mel[:, 20:80].mean(dim=1).argmax())
    centres = librosa.mel_frequencies(n_mels=258, fmin=0.0, fmax=8000.0)[1:-1]
    assert abs(peak - int(np.argmin(np.abs(centres - freq)))) <= 1


def test_silence_is_the_floor_and_normalisation_spans_minus_to_plus_scale():
    scale = AUDIO_SCALES["landscape"]
    silent = normalize(log_mel(np.zeros(16000, np.float32)), scale)
    assert torch.allclose(silent, torch.full_like(silent, -scale))
    assert float(normalize(torch.tensor(LOG_MAX), scale)) == pytest.approx(scale)


@pytest.mark.parametrize("dataset", ["landscape", "aist++"])
def test_normalisation_round_trips(dataset):
    scale = AUDIO_SCALES[dataset]
    mel = log_mel(tone(700.0) + 0.05 * np.random.default_rng(0).standard_normal(16000)
                  .astype(np.float32))
    assert torch.allclose(denormalize(normalize(mel, scale), scale), mel, atol=1e-5)
    assert AUDIO_SCALES == {"landscape": 3.0951129410195515, "aist++": 3.5009668382765917}


def test_mel_splits_into_ten_frames_per_video_frame_and_back():
    lat = audio_latents(tone(300.0, 1.0))
    assert lat.shape == (10, 1, 256, 10)
    mel = normalize(log_mel(peak_normalise(tone(300.0, 1.0))), AUDIO_SCALES["landscape"])
    assert torch.equal(frames_to_mel(lat), mel)
    assert torch.equal(mel_to_frames(frames_to_mel(lat)), lat)


def test_latents_become_exactly_1600_samples_per_frame():
    wave = latents_to_wave(torch.zeros(7, 1, 16, 10), tiny_vocoder(0))
    assert wave.shape == (7 * 1600,) and wave.dtype == np.float32


def test_frames_round_trip_through_the_vae_in_shape():
    vae = tiny_vae(0)
    frames = np.random.default_rng(0).integers(0, 256, (2, 32, 48, 3), dtype=np.uint8)
    lat = encode_frames(vae, frames)
    s = vae_downscale(vae)
    assert lat.shape == (2, 4, 32 // s, 48 // s)
    out = decode_latents(vae, lat)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert vae.config.scaling_factor == 0.18215


def test_missing_vae_names_what_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(VaeMissing, match=r"stabilityai/sd-vae-ft-ema.*FILMCREW_RFLAV_VAE"):
        load_vae(None)


def test_known_audio_is_peak_normalised_to_095_as_the_official_mel():
    """Official get_mel_spectrogram_from_audio: librosa.util.normalize(audio) * 0.95 first."""
    g = np.random.default_rng(0)
    wave = (g.standard_normal(3200) * 0.05).astype(np.float32)
    assert np.isclose(np.abs(peak_normalise(wave)).max(), 0.95)
    loud, quiet = audio_latents(wave * 8), audio_latents(wave)
    torch.testing.assert_close(loud, quiet, rtol=0, atol=1e-4)
    assert np.all(peak_normalise(np.zeros(10, np.float32)) == 0)  # silence stays silence
