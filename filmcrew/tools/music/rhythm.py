"""Rhythm spots from the cut: where the picture asks the music to land (MUSIC.md, "Rhythm spots").

FilmComposer predicts rhythm positions from video with a trained transformer (CRT); we substitute
what the edit and the physics already tell us: cut times (strongest), impacts predicted by the
physics/previz events, and peaks of optical-flow motion energy. A tempo inside the brief's range is
then fitted so that beats fall closest to the strong spots, and its beat grid joins the spots.
"""

from __future__ import annotations

import math

import numpy as np

from filmcrew.schemas import RhythmSpots

#: Spots closer than this to a beat count as "on the beat" when judging a tempo fit.
ON_BEAT_S = 0.04


def motion_energy(frames: np.ndarray, fps: float, size: int = 96) -> np.ndarray:
    """Per-frame mean optical-flow magnitude of a clip, length T with energy[0] = 0.

    Frames are (T, H, W, 3) RGB or (T, H, W) grayscale, uint8 (or float in 0..1). Each frame is
    downscaled to width `size` so the cost and the units (pixels per frame at that width) do not
    depend on the clip's resolution; energy[i] is the flow from frame i-1 to frame i (Farneback).
    """
    import cv2

    frames = np.asarray(frames)
    if frames.ndim not in (3, 4):
        raise ValueError(f"frames: expected (T, H, W[, C]), got shape {frames.shape}")
    if fps <= 0:
        raise ValueError(f"fps {fps}; must be > 0")
    if size < 8:
        raise ValueError(f"size {size}; must be >= 8")
    n = frames.shape[0]
    if n == 0:
        raise ValueError("frames: empty clip")
    if frames.dtype != np.uint8:
        frames = np.clip(np.asarray(frames, np.float32) * 255.0, 0, 255).astype(np.uint8)
    h, w = frames.shape[1:3]
    sw = min(size, w)
    sh = max(8, round(h * sw / w))

    def gray(f: np.ndarray) -> np.ndarray:
        if f.ndim == 3:
            f = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) if f.shape[2] == 3 else f[..., 0]
        return cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA)

    energy = np.zeros(n, np.float64)
    prev = gray(frames[0])
    for i in range(1, n):
        cur = gray(frames[i])
        flow = cv2.calcOpticalFlowFarneback(prev, cur, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        energy[i] = float(np.hypot(flow[..., 0], flow[..., 1]).mean())
        prev = cur
    return energy


def motion_peaks(
    energy: np.ndarray,
    fps: float,
    offset_s: float = 0.0,
    *,
    rel_prominence: float = 0.3,
    min_gap_s: float = 0.25,
    min_span: float = 0.05,
) -> list[tuple[float, float]]:
    """Prominent peaks of one clip's motion energy as (time in the film, strength 0..1).

    Prominence is relative to the clip's own energy span, so a calm clip still yields its few
    accents; a clip whose energy barely varies (span < `min_span` px/frame) has none, otherwise
    flow noise would become spots. `offset_s` is where the clip starts in the film.
    """
    from scipy.signal import find_peaks

    e = np.asarray(energy, np.float64).ravel()
    if fps <= 0:
        raise ValueError(f"fps {fps}; must be > 0")
    if e.size < 3:
        return []
    span = float(e.max() - e.min())
    if span < min_span:
        return []
    peaks, props = find_peaks(
        e, prominence=rel_prominence * span, distance=max(1, round(min_gap_s * fps))
    )
    strengths = np.clip(props["prominences"] / span, 0.0, 1.0)
    return [(offset_s + float(p) / fps, float(s)) for p, s in zip(peaks, strengths, strict=True)]


def _fit_scores(
    t: np.ndarray, w: np.ndarray, bpms: np.ndarray, phase_step: float, sigma: float
) -> tuple[float, float, float]:
    """Best (score, bpm, phase) over the given tempi; phases on a `phase_step` grid."""
    best = (-math.inf, float(bpms[0]), 0.0)
    chance = sigma * math.sqrt(2 * math.pi)
    for bpm in bpms:
        p = 60.0 / bpm
        phases = np.arange(0.0, p, phase_step)
        d = (t[None, :] - phases[:, None]) % p
        d = np.minimum(d, p - d)
        # Subtract the alignment a random spot would get by chance (sigma*sqrt(2π)/p), otherwise
        # denser grids (faster tempi) always win.
        s = (w * (np.exp(-0.5 * (d / sigma) ** 2) - chance / p)).sum(axis=1)
        i = int(np.argmax(s))
        if s[i] > best[0] + 1e-9:
            best = (float(s[i]), float(bpm), float(phases[i]))
    return best


def fit_tempo(
    spots: list[tuple[float, float]],
    bpm_range: tuple[float, float],
    duration_s: float,
    *,
    step_bpm: float = 0.25,
    sigma_s: float = 0.03,
) -> tuple[float, float]:
    """Tempo and phase whose beat grid lands closest to the spots: (bpm, first beat time in s).

    Grid search over BPM (step `step_bpm`, then a 0.02 BPM refinement, since over 30 s a 0.25 BPM
    error already drifts a beat by ~75 ms) and phase (5 ms, refined to 1 ms). Each spot scores its
    strength times a Gaussian of its distance to the nearest beat, minus the chance level.
    """
    lo, hi = bpm_range
    if not 20 <= lo <= hi <= 400:
        raise ValueError(f"bpm_range {bpm_range}; need 20 <= min <= max <= 400")
    if duration_s <= 0:
        raise ValueError(f"duration {duration_s} s; must be > 0")
    if not 0 < step_bpm <= 0.5:
        raise ValueError(f"step_bpm {step_bpm}; must be in (0, 0.5]")
    pts = [(t, s) for t, s in spots if 0 <= t <= duration_s and s > 0]
    if not pts:
        return ((lo + hi) / 2, 0.0)
    t = np.array([p[0] for p in pts])
    w = np.array([p[1] for p in pts])
    coarse = np.arange(lo, hi + 1e-9, step_bpm)
    _, bpm, _ = _fit_scores(t, w, coarse, 0.005, sigma_s)
    fine = np.arange(max(lo, bpm - step_bpm), min(hi, bpm + step_bpm) + 1e-9, 0.02)
    _, bpm, phase = _fit_scores(t, w, fine, 0.001, sigma_s)
    return (round(bpm, 3), round(phase, 4))


def beat_grid(bpm: float, phase_s: float, start_s: float, end_s: float) -> list[float]:
    """Beats phase + k*60/bpm that fall in [start_s, end_s)."""
    p = 60.0 / bpm
    k0 = math.ceil((start_s - phase_s) / p - 1e-9)
    k1 = math.ceil((end_s - phase_s) / p - 1e-9)
    return [round(phase_s + k * p, 4) for k in range(k0, k1)]


def _on_beat_fraction(times: list[float], beats: list[float]) -> float:
    if not times:
        return 1.0
    if not beats:
        return 0.0
    b = np.asarray(beats)
    d = np.abs(np.asarray(times)[:, None] - b[None, :]).min(axis=1)
    return float((d <= ON_BEAT_S).mean())


def rhythm_spots(
    duration_s: float,
    cut_times_s: list[float],
    motion: list[tuple[float, float]],
    impacts: list[tuple[float, float]],
    bpm_range: tuple[float, float],
    *,
    allow_tempo_change: bool = True,
    merge_s: float = 0.06,
) -> RhythmSpots:
    """All spots of the film, sorted by time, with the fitted beat grid.

    Cuts get strength 1; impacts and motion peaks keep their strengths (those outside
    [0, duration) are dropped; a cut there is an error); a motion peak within
    `merge_s` of a cut or impact is dropped (flow across a cut is the cut itself). Beats are
    spots of kind 'beat' (strength 0.25) and also `beat_times_s`. When one tempo leaves more than
    20 % of the cuts/impacts off the beat and `allow_tempo_change`, the tempo may change once, at
    a cut (a section boundary), if that puts clearly more strong spots on beats.
    """
    if duration_s <= 0:
        raise ValueError(f"duration {duration_s} s; must be > 0")
    for c in cut_times_s:
        if not 0 < c < duration_s:
            raise ValueError(f"cut at {c} s is outside (0, {duration_s})")
    for name, pts in (("motion", motion), ("impact", impacts)):
        for t, s in pts:
            if not 0 <= s <= 1:
                raise ValueError(f"{name} spot at {t} s: strength {s}; must be in [0, 1]")

    strong = [(float(c), 1.0, "cut") for c in cut_times_s]
    strong += [(float(t), float(s), "impact") for t, s in impacts if 0 <= t < duration_s]
    strong_t = [t for t, _, _ in strong]
    moves = [
        (float(t), float(s), "motion")
        for t, s in motion
        if 0 <= t < duration_s and all(abs(t - u) > merge_s for u in strong_t)
    ]
    fit_pts = [(t, s) for t, s, _ in strong + moves]

    bpm, phase = fit_tempo(fit_pts, bpm_range, duration_s)
    beats = beat_grid(bpm, phase, 0.0, duration_s)
    source = "+".join(k for k in ("cut", "impact", "motion") if any(x[2] == k for x in strong + moves))
    source = source or "beat"

    if allow_tempo_change and _on_beat_fraction(strong_t, beats) < 0.8:
        best = None
        for c in sorted(cut_times_s):
            a = [(t, s) for t, s in fit_pts if t < c - merge_s] + [(c, 1.0)]
            b = [(t, s) for t, s in fit_pts if t >= c - merge_s]
            if len(a) < 3 or len(b) < 3:
                continue
            bpm_a, ph_a = fit_tempo(a, bpm_range, duration_s)
            bpm_b, ph_b = fit_tempo(b, bpm_range, duration_s)
            grid = beat_grid(bpm_a, ph_a, 0.0, c - merge_s)
            grid += beat_grid(bpm_b, ph_b, c - merge_s, duration_s)
            frac = _on_beat_fraction(strong_t, grid)
            if best is None or frac > best[0]:
                best = (frac, grid, bpm_a, bpm_b, c)
        if best is not None and best[0] >= _on_beat_fraction(strong_t, beats) + 0.15:
            _, beats, bpm, bpm_b, c = best
            source += f"; tempo {bpm:.2f}->{bpm_b:.2f} BPM at {c:.2f} s"

    events = strong + moves + [(b, 0.25, "beat") for b in beats]
    events.sort(key=lambda e: (e[0], ("cut", "impact", "motion", "beat").index(e[2])))
    return RhythmSpots(
        times_s=[round(e[0], 4) for e in events],
        strengths=[round(e[1], 4) for e in events],
        kinds=[e[2] for e in events],  # type: ignore[misc]
        tempo_bpm=bpm,
        beat_times_s=beats,
        source=source,
    )
