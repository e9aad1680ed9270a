"""FilmComposer's measured music metrics: Rhythm (higher is better) and Dynamic (lower is better).

METHODS.md §5.4, as the paper defines them:
- Rhythm: the music's beat points and the target rhythm sequence as impulse trains at 100 fps, max
  normalised cross-correlation over lags within ±50 ms (0..1; the paper reports an unnormalised
  count, GT self-score 4042). The target is the picture's *cuts and impacts*, each weighted by its
  strength — never the fitted beat grid, which the composer itself chose (a click track on that grid
  would otherwise score well while missing every cut). The music's points are onsets weighted by
  their onset strength, so a loud hit counts more than a ghost note.
- Dynamic: 1 − cosine similarity of the dB-change curves of the music and a reference (GT music, or
  a target loudness curve from the picture), each dB envelope smoothed over 0.5 s before
  differentiating; a 50 ms derivative is note-level flicker, which made a time-reversed target score
  as well as the true one.
- Spot hit rate: the fraction of cuts and impacts with a strong onset within 50 ms.

Beat points come from librosa's spectral-flux onset detector (maintained, installs on 3.11 with
numpy 2): madmom 0.16 does not build there, and Beat This! needs downloaded weights. Onsets rather
than a tempo-tracked beat grid, because a film cue changes pace at cuts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

DB_FLOOR = -80.0  # dB: silence is clamped here so a log of zero does not dominate the derivative
HIT_S = 0.05  # a spot is hit by an onset this close
STRONG_ONSET = 0.3  # onset strength (relative to the piece's loud onsets) that counts as "strong"
TARGET_KINDS = ("cut", "impact")


def _mono(audio: np.ndarray) -> np.ndarray:
    x = np.asarray(audio, np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1:
        raise ValueError(f"audio: expected (N,) or (N, C), got shape {np.shape(audio)}")
    return x


def beat_times(audio: np.ndarray, sr: int) -> np.ndarray:
    """Beat points (s) of the music: librosa spectral-flux onsets at a ~10 ms hop.

    Onsets rather than a tempo-tracked beat grid: a film score changes pace at cuts, and the
    Rhythm metric asks whether audible attacks land on the picture's spots, not whether a steady
    beat exists.
    """
    import librosa

    if sr <= 0:
        raise ValueError(f"sample rate {sr}; must be > 0")
    hop = 2 ** round(np.log2(sr / 94))  # ~10 ms whatever the rate
    env = librosa.onset.onset_strength(y=_mono(audio), sr=sr, hop_length=hop, n_fft=4 * hop)
    frames = librosa.onset.onset_detect(onset_envelope=env, sr=sr, hop_length=hop)
    return np.asarray(librosa.frames_to_time(frames, sr=sr, hop_length=hop))


def onset_events(audio: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(times in s, strengths 0..1) of the music's onsets: librosa spectral-flux peaks, each
    strength its envelope height over the 95th percentile of all peak heights (clipped to 1), so
    one huge crash does not make every other attack "weak"."""
    import librosa

    if sr <= 0:
        raise ValueError(f"sample rate {sr}; must be > 0")
    hop = 2 ** round(np.log2(sr / 94))
    env = librosa.onset.onset_strength(y=_mono(audio), sr=sr, hop_length=hop, n_fft=4 * hop)
    frames = librosa.onset.onset_detect(onset_envelope=env, sr=sr, hop_length=hop)
    if frames.size == 0:
        return np.zeros(0), np.zeros(0)
    heights = env[frames]
    ref = float(np.percentile(heights, 95)) or 1.0
    return (np.asarray(librosa.frames_to_time(frames, sr=sr, hop_length=hop)),
            np.clip(heights / ref, 0.0, 1.0))


def target_spots(spots: Any) -> tuple[np.ndarray, np.ndarray]:
    """(times, strengths) of the cuts and impacts of a `RhythmSpots` (the beat grid and motion
    peaks are left out); a plain sequence of times is taken as cuts of strength 1."""
    if hasattr(spots, "times_s"):
        kinds = spots.kinds or ["cut" if s >= 0.99 else "motion" for s in spots.strengths]
        pick = [(t, s) for t, s, k in zip(spots.times_s, spots.strengths, kinds, strict=True)
                if k in TARGET_KINDS]
        return (np.array([t for t, _ in pick], float), np.array([s for _, s in pick], float))
    t = np.asarray(list(spots), float)
    return t, np.ones_like(t)


def spot_hit_rate(audio: np.ndarray, sr: int, spots: Any, *, tol_s: float = HIT_S,
                  strong: float = STRONG_ONSET) -> float:
    """Fraction of the cuts and impacts (see `target_spots`) with a strong onset (strength >=
    `strong`) within `tol_s`; 1.0 when there is no spot to hit."""
    t, _ = target_spots(spots)
    if t.size == 0:
        return 1.0
    on, st = onset_events(audio, sr)
    on = on[st >= strong]
    if on.size == 0:
        return 0.0
    return float((np.abs(t[:, None] - on[None, :]).min(axis=1) <= tol_s + 1e-9).mean())


def impulse_train(times: Sequence[float] | np.ndarray, n: int, *, fps: int = 100,
                  sigma_s: float = 0.02, weights: Sequence[float] | np.ndarray | None = None
                  ) -> np.ndarray:
    """`times` as an impulse train of `n` frames at `fps` (each impulse `weights[i]` high, 1 by
    default), widened by a Gaussian of `sigma_s` (0 keeps bare impulses) so a 10 ms disagreement
    is not a total miss."""
    v = np.zeros(n)
    idx = np.round(np.asarray(times, float) * fps).astype(int)
    w = np.ones(idx.size) if weights is None else np.asarray(weights, float)
    keep = (idx >= 0) & (idx < n)
    np.add.at(v, idx[keep], w[keep])
    if sigma_s > 0:
        k = np.arange(-4 * sigma_s * fps, 4 * sigma_s * fps + 1)
        v = np.convolve(v, np.exp(-0.5 * (k / (sigma_s * fps)) ** 2), mode="same")
    return v


def train_xcorr(a: np.ndarray, b: np.ndarray, max_lag: int) -> float:
    """Max over lags |k| <= max_lag of <a, b shifted by k> / (|a| |b|); 0 when either is empty."""
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    norm = float(np.sqrt((a**2).sum() * (b**2).sum()))
    if norm == 0:
        return 0.0
    best = max(float(np.dot(a[max(0, -k): n - max(0, k)], b[max(0, k): n - max(0, -k)]))
               for k in range(-max_lag, max_lag + 1))
    return best / norm


def rhythm_score(audio: np.ndarray, sr: int, spots: Any, strengths: Sequence[float] | None = None,
                 *, fps: int = 100, max_lag_s: float = HIT_S, sigma_s: float = 0.02) -> float:
    """FilmComposer's Rhythm metric in 0..1: the music's onsets (weighted by onset strength) and
    the target rhythm sequence as impulse trains at `fps`, maximum normalised cross-correlation
    over lags within ±`max_lag_s`.

    `spots` is a `RhythmSpots` (its cuts and impacts, weighted by strength) or a sequence of times
    (weighted by `strengths`, 1 each by default). 1.0 means every attack sits on a spot with the
    spot's weight; attacks between the spots (a steady beat that misses the cuts) pull it down.
    """
    x = _mono(audio)
    if strengths is None:
        t, w = target_spots(spots)
    else:
        t, w = np.asarray(list(spots), float), np.asarray(strengths, float)
    n = int(np.ceil(x.size / sr * fps)) + 1
    on, st = onset_events(x, sr)
    a = impulse_train(on, n, fps=fps, sigma_s=sigma_s, weights=st)
    b = impulse_train(t, n, fps=fps, sigma_s=sigma_s, weights=w)
    return train_xcorr(a, b, round(max_lag_s * fps))


def db_curve(audio: np.ndarray, sr: int, hop_s: float = 0.05) -> np.ndarray:
    """Loudness envelope in dB (RMS over non-overlapping `hop_s` windows, floored at -80 dB)."""
    if hop_s <= 0:
        raise ValueError(f"hop_s {hop_s}; must be > 0")
    x = _mono(audio)
    hop = max(1, round(hop_s * sr))
    n = max(1, x.size // hop)
    frames = np.pad(x, (0, max(0, n * hop - x.size)))[: n * hop].reshape(n, hop)
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))
    return np.maximum(20 * np.log10(np.maximum(rms, 1e-12)), DB_FLOOR)


def smooth_curve(x: np.ndarray, hop_s: float, smooth_s: float) -> np.ndarray:
    """Moving average of a curve sampled every `hop_s` over `smooth_s` (edges held)."""
    w = max(1, round(smooth_s / hop_s))
    if w <= 1 or x.size < 2:
        return np.asarray(x, float)
    xp = np.pad(np.asarray(x, float), (w // 2, w - 1 - w // 2), mode="edge")
    return np.convolve(xp, np.ones(w) / w, "valid")


def dynamic_distance(audio: np.ndarray, sr: int, reference: np.ndarray, *,
                     reference_sr: int | None = None, hop_s: float = 0.05,
                     smooth_s: float = 0.5) -> float:
    """FilmComposer's Dynamic metric: 1 − cosine similarity of the dB-change curves (0 = the same
    dynamics, 1 = unrelated, 2 = opposite).

    `reference` is read two ways:
    - with `reference_sr`: audio (GT music), turned into a dB envelope like `audio`;
    - without: already a target loudness curve in dB, one value every `hop_s` seconds (e.g. the
      picture's per-section motion energy mapped to dB; see `energy_db_curve`).
    Both dB curves are smoothed over `smooth_s` (>= 0.5 s: phrase-level swells, not note-level
    flicker) and cut to the shorter length before differentiating. A flat curve (no change
    at all) has no direction: the distance is then 0 if both are flat, else 1.
    """
    a = db_curve(audio, sr, hop_s)
    b = db_curve(reference, reference_sr, hop_s) if reference_sr else np.asarray(reference, float)
    if b.ndim != 1:
        raise ValueError(f"reference curve: expected 1-D, got shape {b.shape}")
    n = min(a.size, b.size)
    if n < 2:
        raise ValueError(f"dynamic_distance: need >= 2 envelope frames, got {n} (hop {hop_s} s)")
    da = np.diff(smooth_curve(a[:n], hop_s, smooth_s))
    dbb = np.diff(smooth_curve(b[:n], hop_s, smooth_s))
    na, nb = float(np.linalg.norm(da)), float(np.linalg.norm(dbb))
    if na == 0 or nb == 0:
        return 0.0 if na == nb else 1.0
    return float(1.0 - np.dot(da, dbb) / (na * nb))


def energy_db_curve(sections: Sequence[tuple[float, float, float]], duration_s: float, *,
                    hop_s: float = 0.05, range_db: float = 24.0, smooth_s: float = 0.5) -> np.ndarray:
    """A target loudness curve (dB, one value per `hop_s`) from sections (start_s, end_s, energy):
    energy 0..1 maps linearly onto `range_db` below 0 dB, smoothed over `smooth_s` so a section
    boundary is a ramp, as a score would swell into a cut, not a step."""
    if duration_s <= 0:
        raise ValueError(f"duration {duration_s} s; must be > 0")
    t = (np.arange(round(duration_s / hop_s)) + 0.5) * hop_s
    e = np.zeros_like(t)
    for start, end, energy in sections:
        e[(t >= start) & (t < end)] = float(np.clip(energy, 0.0, 1.0))
    w = max(1, round(smooth_s / hop_s))
    if w > 1 and e.size > w:
        e = np.convolve(np.pad(e, (w // 2, w - 1 - w // 2), mode="edge"), np.ones(w) / w, "valid")
    return (e - 1.0) * range_db
