"""Conform generated music to the picture, as a music editor cuts a library cue (issue 20).

Stock MusicGen-Melody reads its chroma condition as melody pitch, not as rhythm, so it will not put
attacks on the cuts by itself. After generation we therefore find the music's onsets (with their
strengths), pick for each cut and impact an onset near it (dynamic programming: strong onsets,
small moves, monotonic, stretch ratios bounded), and warp the audio piecewise-linearly in time so
each chosen onset lands exactly on its spot, keeping the total length exact and the pitch unchanged.

The warp is a phase vocoder with a time-varying rate (written here on librosa's STFT): frame k of
the output reads the input at the time the piecewise-linear map gives, with magnitudes interpolated
between neighbouring input frames and phases advanced by each bin's measured instantaneous
frequency; at every anchor the phases are reset to the input's, so the transient that lands on a
cut keeps its attack instead of being smeared. Rubber Band (Debian `rubberband-cli`) would give
somewhat cleaner stretches, but needs a process per segment and a system package; librosa's STFT is
already a dependency, and the stretches conform needs are small (within ±45 %, usually ±15 %).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from filmcrew.tools.music.metrics import STRONG_ONSET, onset_events, spot_hit_rate, target_spots

N_FFT = 2048
MAX_SHIFT_S = 0.45  # an onset this far from a spot may be moved onto it
MIN_RATE, MAX_RATE = 0.65, 1.55  # source/destination duration of a segment (tempo factor)
STRONG_ANCHOR = 0.5  # onsets this strong are preferred as anchors ...
MIN_ONSET = 0.15  # ... to weaker ones, which serve when no strong one fits


@dataclass
class ConformResult:
    """The conformed audio and what was done: anchors (source s -> picture s), hit rates."""

    audio: np.ndarray
    anchors: list[tuple[float, float]] = field(default_factory=list)
    hit_rate_before: float = 0.0
    hit_rate_after: float = 0.0
    max_stretch: float = 1.0  # the largest |log2| segment rate, as a factor (1.0 = untouched)
    seconds: float = 0.0

    def report(self) -> dict[str, float]:
        """Flat numbers for an artifact's metadata (conform_*)."""
        return {"conform_spots_hit_before": round(self.hit_rate_before, 4),
                "conform_spots_hit_after": round(self.hit_rate_after, 4),
                "conform_anchors": len(self.anchors), "conform_max_stretch": round(self.max_stretch, 3)}


def choose_anchors(onsets: np.ndarray, strengths: np.ndarray, targets: np.ndarray,
                   weights: np.ndarray, duration_s: float, *, max_shift_s: float = MAX_SHIFT_S,
                   min_rate: float = MIN_RATE, max_rate: float = MAX_RATE
                   ) -> list[tuple[float, float]]:
    """(source time, target time) pairs, increasing in both, one per target that can be served.

    Each target j may take an onset (strength >= MIN_ONSET) within `max_shift_s` of it; the
    choice maximises sum(weight * (0.2 + [strength >= STRONG_ANCHOR] + strength - 0.3 * |shift| /
    max_shift_s)) over monotonic assignments whose
    segment rates (source length / target length, the end points (0, 0) and (T, T) included)
    stay within [min_rate, max_rate]. Targets without a feasible onset are skipped.
    """
    order = np.argsort(targets)
    tg, wt = np.asarray(targets, float)[order], np.asarray(weights, float)[order]
    on, st = np.asarray(onsets, float), np.asarray(strengths, float)
    cands: list[list[tuple[float, float]]] = []  # per target: (source time, gain)
    for t, w in zip(tg, wt, strict=True):
        near = np.abs(on - t) <= max_shift_s
        # weaker onsets stay candidates (a bounded stretch may rule the strong ones out), but
        # any strong one in reach outscores them
        bonus = np.where(st >= STRONG_ANCHOR, 1.0, 0.0)
        pick = near & (st >= MIN_ONSET)
        cands.append([(float(on[i]), float(w * (0.2 + bonus[i] + st[i]
                                                - 0.3 * abs(on[i] - t) / max_shift_s)))
                      for i in np.nonzero(pick)[0]])

    def ok(s0: float, d0: float, s1: float, d1: float) -> bool:
        if d1 - d0 <= 1e-6 or s1 - s0 <= 1e-6:
            return False
        r = (s1 - s0) / (d1 - d0)
        return min_rate <= r <= max_rate

    # best[(j, c)] = (total gain, previous state) for chains ending with target j on candidate c
    start = (-1, -1)
    best: dict[tuple[int, int], tuple[float, tuple[int, int]]] = {start: (0.0, start)}

    def point(state: tuple[int, int]) -> tuple[float, float]:
        j, c = state
        return (0.0, 0.0) if j < 0 else (cands[j][c][0], float(tg[j]))

    for j in range(len(tg)):
        for c, (src, gain) in enumerate(cands[j]):
            if gain <= 0:
                continue
            top: tuple[float, tuple[int, int]] | None = None
            for prev, (score, _) in best.items():
                if prev[0] >= j:
                    continue
                s0, d0 = point(prev)
                if ok(s0, d0, src, float(tg[j])) and (top is None or score + gain > top[0]):
                    top = (score + gain, prev)
            if top is not None:
                best[(j, c)] = top
    end = None
    for state, (score, _) in best.items():
        s0, d0 = point(state)
        if (state == start or ok(s0, d0, duration_s, duration_s)) and (
                end is None or score > best[end][0]):
            end = state
    chain = []
    while end is not None and end != start:
        chain.append(point(end))
        end = best[end][1]
    return chain[::-1]


def warp(audio: np.ndarray, sr: int, anchors: list[tuple[float, float]], *,
         n_fft: int = N_FFT) -> np.ndarray:
    """`audio` (mono) time-warped so each anchor's source time lands on its target time,
    piecewise linearly between anchors (and (0, 0), (T, T)); same length and pitch."""
    import librosa

    x = np.asarray(audio, np.float32)
    n = x.size
    if not anchors or n < n_fft:
        return x.copy()
    hop = n_fft // 4
    total = n / sr
    # Around each anchor the map is held at rate 1 for ±`plateau` s (one window), and the phases
    # are reset where that stretch starts: the frames that carry the attack are then exact
    # copies of the input's, so the transient lands on the spot as sharp as it was.
    pts = [(0.0, 0.0), *anchors, (total, total)]
    src_pts, dst_pts, resets = [0.0], [0.0], []
    for (s0, d0), (s1, d1), (s2, d2) in zip(pts, pts[1:], pts[2:], strict=False):
        h = min(n_fft / sr, 0.25 * min(s1 - s0, s2 - s1, d1 - d0, d2 - d1))
        src_pts += [s1 - h, s1, s1 + h]
        dst_pts += [d1 - h, d1, d1 + h]
        resets.append(int(np.ceil((d1 - h) * sr / hop - 1e-9)))
    src = np.array([*src_pts, total])
    dst = np.array([*dst_pts, total])
    spec = librosa.stft(x, n_fft=n_fft, hop_length=hop)  # centred frames: frame i at i * hop
    bins, frames = spec.shape
    mag, phase = np.abs(spec), np.angle(spec)
    omega = 2 * np.pi * hop * np.arange(bins) / n_fft  # expected phase advance per hop
    out_frames = frames
    pos = np.interp(np.arange(out_frames) * hop / sr, dst, src) * sr / hop
    pos = np.clip(pos, 0, frames - 1.001)
    reset = set(resets)
    out = np.empty((bins, out_frames), np.complex64)
    acc = phase[:, 0].copy()
    for k in range(out_frames):
        i = int(pos[k])
        f = pos[k] - i
        m = (1 - f) * mag[:, i] + f * mag[:, i + 1]
        if k == 0 or k in reset:
            acc = phase[:, i] if f < 0.5 else phase[:, i + 1]
        out[:, k] = m * np.exp(1j * acc)
        dphi = phase[:, i + 1] - phase[:, i] - omega
        dphi -= 2 * np.pi * np.round(dphi / (2 * np.pi))
        acc = acc + omega + dphi
    y = librosa.istft(out, hop_length=hop, n_fft=n_fft, length=n)
    return y.astype(np.float32)


def conform(audio: np.ndarray, sr: int, spots: Any, *, max_shift_s: float = MAX_SHIFT_S,
            min_rate: float = MIN_RATE, max_rate: float = MAX_RATE) -> ConformResult:
    """Warp mono `audio` so its strong onsets land on the cuts and impacts of `spots` (a
    `RhythmSpots`, or a sequence of cut times). Length and pitch are kept; hit rates (a strong
    onset within 50 ms of each spot, see metrics.spot_hit_rate) are measured before and after. If
    the warp does not improve the hit rate the input is returned unchanged."""
    t0 = time.perf_counter()
    x = np.asarray(audio, np.float32)
    if x.ndim != 1:
        raise ValueError(f"audio: expected mono (N,), got shape {x.shape}")
    targets, weights = target_spots(spots)
    before = spot_hit_rate(x, sr, spots)
    res = ConformResult(audio=x, hit_rate_before=before, hit_rate_after=before)
    if targets.size and before < 1.0:
        on, st = onset_events(x, sr)
        anchors = choose_anchors(on, st, targets, np.maximum(weights, 0.05), x.size / sr,
                                 max_shift_s=max_shift_s, min_rate=min_rate, max_rate=max_rate)
        anchors = [(s, d) for s, d in anchors if abs(s - d) > 1e-3] and anchors
        if anchors:
            y = warp(x, sr, anchors)
            peak = float(np.abs(y).max())
            if peak > 0.99:
                y = y * (0.99 / peak)
            after = spot_hit_rate(y, sr, spots)
            if after > before:
                pts = [(0.0, 0.0), *anchors, (x.size / sr,) * 2]
                rates = [(s1 - s0) / (d1 - d0) for (s0, d0), (s1, d1) in itertools.pairwise(pts)]
                res = ConformResult(audio=y, anchors=anchors, hit_rate_before=before,
                                    hit_rate_after=after,
                                    max_stretch=float(max(max(rates), 1 / min(rates))))
    res.seconds = time.perf_counter() - t0
    return res


__all__ = ["STRONG_ONSET", "ConformResult", "choose_anchors", "conform", "warp"]
