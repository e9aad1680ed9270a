"""The rhythm conditioning of MusicGen-Melody (FilmComposer, METHODS.md §5.2–5.3).

The cuts and impacts are rendered as a waveform of pitched hits over a bed in the brief's key, and a chromagram
is taken from it the way MusicGen-Melody's feature extractor does (STFT n_fft 16384, hop 4096 at
32 kHz, librosa chroma filters, max-normalised, argmax one-hot per frame: 7.8 frames/s, 12 bins).
That chroma is the model's `input_features` (tools/music/musicgen/model.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filmcrew.schemas import RhythmSpots
from filmcrew.tools.music.score import KEY_PC

#: A rhythm hit: fundamental plus octave only — a third partial would put energy on the fifth.
HIT_PARTIALS = (1.0, 0.5)
DRONE_LEVEL = 0.1  # the bed under everything, so one-hot chroma frames without a hit are not C
STRONG_HIT = 0.75  # spots this strong are hit on the tonic, weaker ones on the fifth
TARGET_KINDS = ("cut", "impact")


@dataclass(frozen=True)
class ChromaParams:
    """MusicGen-Melody's feature extractor settings (preprocessor_config.json of the checkpoint)."""

    sample_rate: int = 32000
    n_fft: int = 16384
    hop_length: int = 4096
    chunk_s: float = 30.0  # the processor pads (or cuts) the conditioning audio to this length

    @property
    def fps(self) -> float:
        return self.sample_rate / self.hop_length


def rhythm_waveform(spots: RhythmSpots, duration_s: float, tonic: str,
                    sample_rate: int = 32000, *, mode: str = "minor", min_strength: float = 0.0,
                    legacy: bool = False) -> np.ndarray:
    """The picture's cuts and impacts as audio the stock model can hear as changes.

    A quiet sustained bed on the mode's third (the key's colour, and never C by accident: with
    one-hot chroma a silent frame reads as pitch class C), and at each cut or impact of strength
    >= `min_strength` a hit, louder and longer for stronger spots: on the tonic for strong spots
    (>= STRONG_HIT), on the fifth for weaker ones, so the strength survives the one-hot chroma
    as which pitch the frame jumps to. The beat grid and motion peaks are left out: rendered
    too they made half the frames tonic and drowned the cuts (issue 20).

    `legacy` renders the first version (every spot, beats included, all on the tonic over a drone
    on the fifth), kept only as the benchmark's baseline.
    """
    if tonic not in KEY_PC:
        raise ValueError(f"tonic {tonic!r}; must be one of {sorted(KEY_PC)}")
    if duration_s <= 0 or sample_rate <= 0:
        raise ValueError(f"duration {duration_s} s at {sample_rate} Hz; both must be > 0")
    n = round(duration_s * sample_rate)
    t = np.arange(n) / sample_rate
    f0 = 440.0 * 2 ** ((48 + KEY_PC[tonic] - 69) / 12)  # tonic in octave 3 (C3..B3)
    fifth = f0 * 2 ** (7 / 12)
    bed = fifth if legacy else f0 * 2 ** ((3 if mode in ("minor", "dorian", "phrygian") else 4) / 12)
    y = DRONE_LEVEL * (np.sin(2 * np.pi * bed * t) + 0.5 * np.sin(2 * np.pi * 2 * bed * t))
    kinds = spots.kinds or ["cut" if s >= 0.99 else "motion" for s in spots.strengths]
    for when, strength, kind in zip(spots.times_s, spots.strengths, kinds, strict=True):
        if not 0 <= when < duration_s:
            continue
        s = float(np.clip(strength, 0.0, 1.0))
        if not legacy and (kind not in TARGET_KINDS or s < min_strength):
            continue
        f = f0 if legacy or s >= STRONG_HIT else fifth
        tau = 0.04 + 0.08 * s  # seconds: strong spots ring longer
        i = round(when * sample_rate)
        m = min(n - i, round(5 * tau * sample_rate))
        tt = np.arange(m) / sample_rate
        env = (0.25 + 0.75 * s) * np.exp(-tt / tau) * np.minimum(1.0, tt / 0.002)
        tone = sum(a * np.sin(2 * np.pi * k * f * tt) for k, a in enumerate(HIT_PARTIALS, 1))
        y[i:i + m] += env * tone
    return (y / max(1.0, float(np.abs(y).max()) / 0.9)).astype(np.float32)


def waveform_chroma(wave: np.ndarray, sample_rate: int, params: ChromaParams = ChromaParams(), *,
                    one_hot: bool = True, pad_to_chunk: bool = False) -> np.ndarray:
    """Chroma (frames, 12) of `wave`, computed as MusicgenMelodyFeatureExtractor does (which needs
    torchaudio, so it is redone here in numpy): centred power STFT with a periodic Hann window,
    librosa chroma filters (tuning 0), max-normalised per frame, argmax one-hot. Frame j is
    centred at j * hop / sample_rate. `pad_to_chunk` pads with silence to `params.chunk_s`, as the
    processor does."""
    from transformers.audio_utils import chroma_filter_bank

    x = np.asarray(wave, np.float64)
    if x.ndim != 1:
        raise ValueError(f"wave: expected (N,), got shape {x.shape}")
    if sample_rate != params.sample_rate:
        import soxr

        x = soxr.resample(x, sample_rate, params.sample_rate)
    if pad_to_chunk:
        n = round(params.chunk_s * params.sample_rate)
        x = np.pad(x, (0, max(0, n - x.size)))[:n]
    if x.size < params.n_fft:
        pad = params.n_fft - x.size
        x = np.pad(x, (pad // 2, pad - pad // 2))
    half = params.n_fft // 2
    xp = np.pad(x, (half, half), mode="reflect")
    frames = 1 + (xp.size - params.n_fft) // params.hop_length
    idx = np.arange(params.n_fft)[None, :] + params.hop_length * np.arange(frames)[:, None]
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(params.n_fft) / params.n_fft)
    spec = np.abs(np.fft.rfft(xp[idx] * win, axis=1)) ** 2 / (win**2).sum()
    filt = chroma_filter_bank(num_frequency_bins=params.n_fft, num_chroma=12,
                              sampling_rate=params.sample_rate, tuning=0)
    chroma = spec @ filt.T
    chroma = chroma / np.maximum(chroma.max(axis=1, keepdims=True), 1e-6)
    if one_hot:
        out = np.zeros_like(chroma)
        out[np.arange(frames), chroma.argmax(axis=1)] = 1.0
        chroma = out
    return chroma.astype(np.float32)


def rhythm_chroma(spots: RhythmSpots, duration_s: float, tonic: str,
                  params: ChromaParams = ChromaParams(), *, one_hot: bool = True,
                  mode: str = "minor", min_strength: float = 0.0,
                  legacy: bool = False) -> np.ndarray:
    """The rhythm conditioning for the whole piece: chroma (frames, 12) of `rhythm_waveform`, at
    `params.fps` frames per second (7.8125 for MusicGen-Melody)."""
    wave = rhythm_waveform(spots, duration_s, tonic, params.sample_rate, mode=mode,
                           min_strength=min_strength, legacy=legacy)
    return waveform_chroma(wave, params.sample_rate, params, one_hot=one_hot)


