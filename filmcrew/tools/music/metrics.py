"""FilmComposer's measured music metrics: Rhythm (higher is better) and Dynamic (lower is better).

METHODS.md §5.4. Rhythm compares the music's beat points with the picture's rhythm spots as impulse
trains at 100 fps (max normalised cross-correlation over small lags, 0..1 — the paper reports an
unnormalised count, GT self-score 4042; ours is the normalised version so scores compare across
lengths). Dynamic is 1 − cosine similarity of the dB-change curves (derivatives of RMS→dB envelopes)
of the music and a reference: GT music, or a target loudness curve from the picture.

librosa's onset detector stands in for madmom's beat tracker (madmom does not install on 3.11).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DB_FLOOR = -80.0  # dB: silence is clamped here so a log of zero does not dominate the derivative


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


def impulse_train(times: Sequence[float] | np.ndarray, n: int, *, fps: int = 100,
                  sigma_s: float = 0.02) -> np.ndarray:
    """`times` as an impulse train of `n` frames at `fps`, each impulse widened by a Gaussian of
    `sigma_s` (0 keeps bare impulses) so a 10 ms disagreement is not a total miss."""
    v = np.zeros(n)
    idx = np.round(np.asarray(times, float) * fps).astype(int)
    np.add.at(v, idx[(idx >= 0) & (idx < n)], 1.0)
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


def rhythm_score(audio: np.ndarray, sr: int, spot_times: Sequence[float], *, fps: int = 100,
                 max_lag_s: float = 0.1, sigma_s: float = 0.02) -> float:
    """FilmComposer's Rhythm metric in 0..1: beat points of `audio` and the rhythm spots as
    impulse trains at `fps`, maximum normalised cross-correlation over lags within ±`max_lag_s`.

    1.0 means every attack sits on a spot and every spot has an attack; music whose attacks fall
    between the spots scores near 0.
    """
    x = _mono(audio)
    n = int(np.ceil(x.size / sr * fps)) + 1
    a = impulse_train(beat_times(x, sr), n, fps=fps, sigma_s=sigma_s)
    b = impulse_train(spot_times, n, fps=fps, sigma_s=sigma_s)
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


def dynamic_distance(audio: np.ndarray, sr: int, reference: np.ndarray, *,
                     reference_sr: int | None = None, hop_s: float = 0.05) -> float:
    """FilmComposer's Dynamic metric: 1 − cosine similarity of the dB-change curves (0 = the same
    dynamics, 1 = unrelated, 2 = opposite).

    `reference` is read two ways:
    - with `reference_sr`: audio (GT music), turned into a dB envelope like `audio`;
    - without: already a target loudness curve in dB, one value every `hop_s` seconds (e.g. the
      picture's per-section motion energy mapped to dB; see `energy_db_curve`).
    The two curves are cut to the shorter length before differentiating. A flat curve (no change
    at all) has no direction: the distance is then 0 if both are flat, else 1.
    """
    a = db_curve(audio, sr, hop_s)
    b = db_curve(reference, reference_sr, hop_s) if reference_sr else np.asarray(reference, float)
    if b.ndim != 1:
        raise ValueError(f"reference curve: expected 1-D, got shape {b.shape}")
    n = min(a.size, b.size)
    if n < 2:
        raise ValueError(f"dynamic_distance: need >= 2 envelope frames, got {n} (hop {hop_s} s)")
    da, dbb = np.diff(a[:n]), np.diff(b[:n])
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
