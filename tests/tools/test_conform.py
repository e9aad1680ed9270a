"""Conform to picture: generated music warped so its strong onsets land on the cuts (issue 20)."""

from __future__ import annotations

import numpy as np
import pytest

from filmcrew.tools.music.conform import choose_anchors, conform, warp
from filmcrew.tools.music.metrics import rhythm_score, spot_hit_rate

SR = 24000


def beat_music(bpm: float, dur: float, seed: int, sr: int = SR) -> np.ndarray:
    """Synthetic music with a known tempo: plucked notes on every eighth, loud on the beat."""
    rng = np.random.default_rng(seed)
    y = np.zeros(int(dur * sr), np.float32)
    t = np.arange(int(0.5 * sr)) / sr
    for k, b in enumerate(np.arange(0.2, dur, 30.0 / bpm)):
        f = 220 * 2 ** (rng.integers(0, 12) / 12)
        note = (1.0 if k % 2 == 0 else 0.4) * np.sin(2 * np.pi * f * t) * np.exp(-t / 0.12)
        note *= np.minimum(1, t / 0.003)
        i = int(b * sr)
        m = min(note.size, y.size - i)
        y[i:i + m] += note[:m]
    return 0.3 * y


def cuts_for(seed: int, dur: float, n: int = 6) -> list[float]:
    rng = np.random.default_rng(100 + seed)
    c = np.sort(rng.uniform(1.0, dur - 1.0, n))
    return [float(x) for i, x in enumerate(c) if i == 0 or x - c[i - 1] > 0.8]


@pytest.mark.parametrize(("bpm", "seed"), [(92.0, 1), (117.0, 2), (136.0, 3)])
def test_conform_puts_strong_onsets_on_the_cuts(bpm: float, seed: int) -> None:
    dur = 12.0
    music = beat_music(bpm, dur, seed)
    cuts = cuts_for(seed, dur)
    res = conform(music, SR, cuts)
    print(f"{bpm} BPM: {len(cuts)} cuts, hit {res.hit_rate_before:.2f} -> {res.hit_rate_after:.2f}, "
          f"rhythm {rhythm_score(music, SR, cuts):.3f} -> {rhythm_score(res.audio, SR, cuts):.3f}, "
          f"max stretch {res.max_stretch:.2f}")
    assert res.audio.shape == music.shape  # the length is exact
    assert res.hit_rate_after >= 0.9 > res.hit_rate_before
    assert spot_hit_rate(res.audio, SR, cuts) == res.hit_rate_after
    assert rhythm_score(res.audio, SR, cuts) > rhythm_score(music, SR, cuts) + 0.1
    assert res.max_stretch <= 1.56


def test_conform_leaves_music_already_on_the_cuts_alone() -> None:
    music = beat_music(120.0, 8.0, 0)
    cuts = [0.2 + 0.5 * k for k in (3, 7, 12)]  # on the music's own beats
    res = conform(music, SR, cuts)
    assert res.hit_rate_before == 1.0 and not res.anchors
    assert np.array_equal(res.audio, music)


def test_warp_keeps_pitch_and_moves_an_attack_where_asked() -> None:
    t = np.arange(4 * SR) / SR
    tone = 0.3 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    tone[round(1.5 * SR):] += (0.6 * np.exp(-(t[round(1.5 * SR):] - 1.5) / 0.05)
                               * np.sin(2 * np.pi * 660 * t[round(1.5 * SR):])).astype(np.float32)
    out = warp(tone, SR, [(1.5, 1.8)])
    assert out.shape == tone.shape
    seg = out[round(0.3 * SR):round(1.2 * SR)]  # stretched part: still 440 Hz
    freqs = np.fft.rfftfreq(seg.size, 1 / SR)
    assert abs(freqs[np.argmax(np.abs(np.fft.rfft(seg)))] - 440) < 3
    assert spot_hit_rate(out, SR, [1.8]) == 1.0
    assert spot_hit_rate(out, SR, [1.5]) == 0.0


def test_anchors_are_monotonic_and_the_stretch_bounded() -> None:
    onsets = np.array([0.9, 1.1, 2.05, 2.2, 3.0])
    strengths = np.array([1.0, 0.3, 1.0, 1.0, 0.2])
    anchors = choose_anchors(onsets, strengths, np.array([1.0, 2.1]), np.ones(2), 4.0)
    assert [a for a, _ in anchors] in ([0.9, 2.05], [0.9, 2.2])  # strong onsets, not the 0.3 one
    assert [b for _, b in anchors] == [1.0, 2.1]
    # a target whose only onset would need a 3x stretch is skipped
    assert choose_anchors(np.array([0.2]), np.array([1.0]), np.array([0.6]), np.ones(1), 4.0) == []
