"""A small numpy synthesizer that renders a Score to four mono stems (MUSIC.md).

One voice per part: an additive lead with delayed vibrato (melody), an FM electric piano whose
brightness decays (harmony), a driven sine bass, and drums from pitched sine sweeps and noise. Each
note is computed as one vector (no per-sample Python), so a 30 s score renders in about a second.
"""

from __future__ import annotations

import math

import numpy as np

from filmcrew.tools.music.score import PARTS, Score

#: Part gains before velocity; chosen so a dense mix of all four stays below full scale.
PART_GAIN = {"melody": 0.22, "harmony": 0.09, "bass": 0.30, "percussion": 0.3}
#: One-pole low-pass cutoff per stem (Hz): darkens the raw oscillators like an instrument body.
CUTOFF_HZ = {"melody": 5000.0, "harmony": 3500.0, "bass": 1200.0, "percussion": 12000.0}
#: (attack, decay, sustain level, release) in seconds / level, per pitched part.
ADSR = {
    "melody": (0.012, 0.12, 0.75, 0.12),
    "harmony": (0.004, 0.9, 0.35, 0.25),
    "bass": (0.005, 0.25, 0.7, 0.08),
}


def _hz(pitch: float) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


def _adsr(t: np.ndarray, dur: float, a: float, d: float, s: float, r: float) -> np.ndarray:
    """Envelope over times t (s) for a note held `dur` s, then released linearly over `r` s."""
    held = np.interp(t, [0.0, a, a + d], [0.0, 1.0, s])
    at_release = float(np.interp(dur, [0.0, a, a + d], [0.0, 1.0, s]))
    rel = at_release * np.clip(1.0 - (t - dur) / r, 0.0, 1.0)
    return np.where(t < dur, held, rel)


def _lead(t: np.ndarray, f: float, sr: int) -> np.ndarray:
    # Vibrato fades in after 150 ms, as a player would; phase is integrated so it stays smooth.
    vib = 1.0 + 0.004 * np.clip((t - 0.15) / 0.3, 0, 1) * np.sin(2 * np.pi * 5.2 * t)
    phase = 2 * np.pi * np.cumsum(f * vib) / sr
    out = np.zeros_like(t)
    for k in range(1, 7):
        if k * f < sr / 2.2:
            out += np.sin(k * phase) / k**1.5
    return out


def _epiano(t: np.ndarray, f: float) -> np.ndarray:
    # FM with a decaying index: a bright attack (a clear onset) that mellows while held.
    index = 0.3 + 2.2 * np.exp(-t / 0.15)
    return np.sin(2 * np.pi * f * t + index * np.sin(2 * np.pi * f * t)) + 0.3 * np.sin(
        4 * np.pi * f * t
    )


def _bass(t: np.ndarray, f: float) -> np.ndarray:
    x = np.sin(2 * np.pi * f * t) + 0.35 * np.sin(4 * np.pi * f * t) + 0.12 * np.sin(6 * np.pi * f * t)
    return np.tanh(1.5 * x) / math.tanh(1.5)


def _sweep(t: np.ndarray, f0: float, f1: float, tau: float, sr: int) -> np.ndarray:
    """Sine gliding exponentially from f0 to f1 Hz with time constant tau (kick and tom bodies)."""
    f = f1 + (f0 - f1) * np.exp(-t / tau)
    return np.sin(2 * np.pi * np.cumsum(f) / sr)


def _drum(pitch: int, t: np.ndarray, rng: np.random.Generator, sr: int) -> np.ndarray:
    """General MIDI drum number -> sound: kick 35/36, snare 38/40, hats 42/44/46, cymbals 49/57,
    toms 41-50 (otherwise); the rest fall back to a tom."""
    noise = rng.standard_normal(t.size)
    if pitch in (35, 36):
        click = noise * np.exp(-t / 0.003) * 0.3
        return _sweep(t, 140.0, 48.0, 0.035, sr) * np.exp(-t / 0.22) + click
    if pitch in (38, 40):
        hp = np.diff(noise, prepend=0.0)  # first difference: crude high-pass for the snare wires
        return 0.6 * hp * np.exp(-t / 0.07) + 0.7 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.05)
    if pitch in (42, 44, 46):
        hp = np.diff(np.diff(noise, prepend=0.0), prepend=0.0)
        return 0.35 * hp * np.exp(-t / (0.12 if pitch == 46 else 0.025))
    if pitch in (49, 57, 52, 55):
        hp = np.diff(noise, prepend=0.0)
        return 0.45 * hp * np.exp(-t / 0.6) * (1 - np.exp(-t / 0.002))
    f0 = 110.0 + 12.0 * (pitch - 41)
    return _sweep(t, f0 * 1.6, f0, 0.05, sr) * np.exp(-t / 0.3) + 0.15 * noise * np.exp(-t / 0.01)


def _lowpass(x: np.ndarray, cutoff: float, sr: int) -> np.ndarray:
    from scipy.signal import lfilter

    alpha = 1.0 - math.exp(-2 * math.pi * cutoff / sr)
    return lfilter([alpha], [1.0, alpha - 1.0], x)


def render_stems(score: Score, sample_rate: int = 48000, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Synthesize the four parts to float32 mono stems of exactly round(duration*sr) samples.

    Deterministic: drum noise is seeded from `seed` and the note's index. Tails past the end of
    the piece are cut. A stem whose peak would exceed 0.99 is scaled down to it (float stems are
    written as WAV and later re-balanced by the mixer).
    """
    if sample_rate < 8000:
        raise ValueError(f"sample_rate {sample_rate}; must be >= 8000")
    if score.duration_s <= 0:
        raise ValueError(f"score duration {score.duration_s} s; must be > 0")
    sr = sample_rate
    n_total = round(score.duration_s * sr)
    stems = {p: np.zeros(n_total, np.float64) for p in PARTS}
    for i, note in enumerate(score.notes):
        start = round(note.start_s * sr)
        if start >= n_total:
            continue
        if note.part == "percussion":
            length = round(1.5 * sr) if note.pitch in (49, 57, 52, 55) else round(0.6 * sr)
        else:
            length = round((note.dur_s + ADSR[note.part][3]) * sr)
        length = min(length, n_total - start)
        if length <= 0:
            continue
        t = np.arange(length) / sr
        vel = (note.velocity / 127.0) ** 1.5  # perceptual-ish velocity curve
        if note.part == "percussion":
            y = _drum(note.pitch, t, np.random.default_rng([seed, i]), sr)
        else:
            f = _hz(note.pitch)
            voice = {"melody": lambda t, f=f: _lead(t, f, sr), "harmony": lambda t, f=f: _epiano(t, f),
                     "bass": lambda t, f=f: _bass(t, f)}[note.part]
            y = voice(t) * _adsr(t, note.dur_s, *ADSR[note.part])
        stems[note.part][start : start + length] += PART_GAIN[note.part] * vel * y
    out = {}
    for p, x in stems.items():
        x = _lowpass(x, min(CUTOFF_HZ[p], 0.45 * sr), sr)
        peak = float(np.abs(x).max()) if x.size else 0.0
        if peak > 0.99:
            x = x * (0.99 / peak)
        out[p] = x.astype(np.float32)
    return out
