"""The mixer: stems and ambience to a stereo master at the target loudness (MUSIC.md, "Mixer").

Gains and equal-power pans per stem, ambience ducked under the score by an envelope follower,
raised-cosine fades, then loudness normalisation (pyloudnorm, ITU-R BS.1770) and a look-ahead
limiter that holds the 4x-oversampled true peak under the ceiling. The mix is exactly as long as
the picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from filmcrew.schemas import MixPlan
from filmcrew.tools.media import true_peak_db

BLOCK_S = 0.01  # envelope follower resolution
LOOKAHEAD_S = 0.005  # limiter gain ramps this fast, and starts this early
OVERSAMPLE = 4


@dataclass
class MixResult:
    """The stereo master and what it measures at."""

    audio: np.ndarray  # (N, 2) float32
    lufs: float  # integrated loudness (LUFS)
    true_peak_db: float  # dBTP, 4x oversampled estimate


def _fit(x: np.ndarray, n: int, name: str) -> np.ndarray:
    """(N,) or (N, 2) float64, padded with silence or trimmed to n samples."""
    x = np.asarray(x, np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] not in (1, 2):
        raise ValueError(f"{name}: expected (N,) or (N, 2) audio, got shape {np.shape(x)}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: audio has NaN or inf samples")
    if x.shape[0] >= n:
        return x[:n]
    return np.concatenate([x, np.zeros((n - x.shape[0], x.shape[1]))])


def _place(x: np.ndarray, gain_db: float, pan: float) -> np.ndarray:
    """Mono -> equal-power panned stereo; stereo -> the same law as a balance control."""
    if not -1 <= pan <= 1:
        raise ValueError(f"pan {pan}; must be in [-1, 1]")
    theta = (pan + 1) * math.pi / 4
    g = 10 ** (gain_db / 20)
    if x.shape[1] == 1:
        return g * x * np.array([math.cos(theta), math.sin(theta)])
    return g * x * (math.sqrt(2) * np.array([math.cos(theta), math.sin(theta)]))


def _duck_gain(score: np.ndarray, sr: int, duck_db: float) -> np.ndarray:
    """Per-sample ambience gain: `duck_db` while the score plays, 0 dB in its silences.

    An RMS envelope in 10 ms blocks, smoothed with a fast attack (20 ms) and slow release (300 ms),
    is mapped from "40 dB below the score's loudest block" (no ducking) to "20 dB below" (full).
    """
    n = score.shape[0]
    block = max(1, round(BLOCK_S * sr))
    nb = math.ceil(n / block)
    power = np.zeros(nb * block)
    power[:n] = (score**2).mean(axis=1)
    env_db = 10 * np.log10(power.reshape(nb, block).mean(axis=1) + 1e-12)
    att, rel = math.exp(-BLOCK_S / 0.02), math.exp(-BLOCK_S / 0.3)
    smooth = np.empty(nb)
    level = env_db[0]
    for i, v in enumerate(env_db):  # a few thousand blocks: a Python loop is fine here
        c = att if v > level else rel
        level = c * level + (1 - c) * v
        smooth[i] = level
    top = float(env_db.max())
    amount = np.clip((smooth - (top - 40)) / 20, 0.0, 1.0)
    g_db = duck_db * amount
    centers = (np.arange(nb) + 0.5) * block
    return 10 ** (np.interp(np.arange(n), centers, g_db) / 20)


def _fades(n: int, sr: int, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    g = np.ones(n)
    for length, sl in ((round(fade_in_s * sr), slice(None)), (round(fade_out_s * sr), slice(None, None, -1))):
        m = min(length, n)
        if m > 0:
            ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(m) / m)
            view = g[sl]
            view[:m] *= ramp
    return g


def limit(x: np.ndarray, sr: int, ceiling_db: float) -> np.ndarray:
    """Look-ahead peak limiter: the gain dips (smoothly, over 5 ms) before any peak whose 4x
    oversampled value exceeds the ceiling, and never more than needed there."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d
    from scipy.signal import resample_poly

    ceiling = 10 ** (ceiling_db / 20)
    up = np.abs(resample_poly(x, OVERSAMPLE, 1, axis=0)).max(axis=1)
    peak = np.maximum(up[: OVERSAMPLE * x.shape[0]].reshape(-1, OVERSAMPLE).max(axis=1),
                      np.abs(x).max(axis=1))
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    w = 2 * round(LOOKAHEAD_S * sr) + 1
    # A centred moving average of a centred minimum over the same window never exceeds `need`.
    gain = uniform_filter1d(minimum_filter1d(need, w, mode="nearest"), w, mode="nearest")
    return x * np.minimum(gain, need)[:, None]


def mix(
    stems: dict[str, np.ndarray],
    sample_rate: int,
    duration_s: float,
    plan: MixPlan | None = None,
    gains_db: dict[str, float] | None = None,
    pans: dict[str, float] | None = None,
    ambience: dict[str, np.ndarray] | None = None,
) -> MixResult:
    """Mix stems (and ambience ducked under them) to a stereo master of round(duration*sr) samples.

    Gains/pans come from `gains_db`/`pans`, else from the plan's stems of the same name, else 0.
    From `plan` (or MixPlan's defaults) come target_lufs, true_peak_db, the fades and duck_db.
    Loudness normalisation and limiting alternate until the integrated loudness is within 0.1 LU
    of the target with the true peak under the ceiling (at most 6 rounds).
    """
    import pyloudnorm

    if sample_rate < 8000:
        raise ValueError(f"sample_rate {sample_rate}; must be >= 8000")
    if duration_s <= 0:
        raise ValueError(f"duration {duration_s} s; must be > 0")
    if not stems:
        raise ValueError("mix: no stems")
    settings = plan or MixPlan(stems=[])
    by_name = {s.name: s for s in settings.stems}
    gains = {k: v.gain_db for k, v in by_name.items()} | (gains_db or {})
    pan_of = {k: v.pan for k, v in by_name.items()} | (pans or {})
    n = round(duration_s * sample_rate)

    score = np.zeros((n, 2))
    for name, x in stems.items():
        score += _place(_fit(x, n, name), gains.get(name, 0.0), pan_of.get(name, 0.0))
    out = score
    if ambience:
        amb = np.zeros((n, 2))
        for name, x in ambience.items():
            amb += _place(_fit(x, n, f"ambience {name}"), gains.get(name, 0.0), pan_of.get(name, 0.0))
        out = score + amb * _duck_gain(score, sample_rate, settings.duck_db)[:, None]
    out = out * _fades(n, sample_rate, settings.fade_in_s, settings.fade_out_s)[:, None]

    meter = pyloudnorm.Meter(sample_rate)
    ceiling = settings.true_peak_db - 0.1  # margin for the estimate
    lufs = meter.integrated_loudness(out) if n >= 0.4 * sample_rate else -math.inf
    for _ in range(6):
        if not math.isfinite(lufs):
            break  # silence (or shorter than one 400 ms gating block): nothing to normalise
        out = limit(out * 10 ** ((settings.target_lufs - lufs) / 20), sample_rate, ceiling)
        lufs = meter.integrated_loudness(out)
        if abs(lufs - settings.target_lufs) < 0.1:
            break
    peak = true_peak_db(out, sample_rate)
    if peak > settings.true_peak_db:  # the limiter's estimate missed an inter-sample peak
        out = out * 10 ** ((settings.true_peak_db - 0.05 - peak) / 20)
        lufs, peak = meter.integrated_loudness(out), true_peak_db(out, sample_rate)
    return MixResult(audio=out.astype(np.float32), lufs=float(lufs), true_peak_db=float(peak))
