"""Rhythm spots: motion peaks measured from pixels, a tempo that puts beats on the cuts."""

from __future__ import annotations

import numpy as np
import pytest

from filmcrew.tools.music.rhythm import fit_tempo, motion_energy, motion_peaks, rhythm_spots

W, H, FPS = 160, 90, 24


def square_frames(positions: list[int]) -> np.ndarray:
    """A textured bright square on a dark textured background, at x = positions[t]."""
    rng = np.random.default_rng(0)
    bg = (rng.random((H, W + 80)) * 40).astype(np.uint8)
    tex = (150 + rng.random((20, 20)) * 100).astype(np.uint8)
    frames = np.empty((len(positions), H, W, 3), np.uint8)
    for t, x in enumerate(positions):
        f = bg[:, :W].copy()
        f[35:55, x : x + 20] = tex
        frames[t] = f[..., None]
    return frames


def test_motion_energy_peaks_where_the_square_jumps():
    # 1 px per frame, except frame 20 where the square jumps 14 px at once.
    xs = [10 + t for t in range(20)] + [10 + 20 + 14 + t for t in range(16)]
    energy = motion_energy(square_frames(xs), FPS)
    assert energy.shape == (36,) and energy[0] == 0
    assert int(np.argmax(energy)) == 20
    assert energy[20] > 4 * np.median(energy[1:])
    peaks = motion_peaks(energy, FPS, offset_s=3.0)
    times = [t for t, _ in peaks]
    strongest = max(peaks, key=lambda p: p[1])
    assert strongest[0] == pytest.approx(3.0 + 20 / FPS)
    assert strongest[1] > 0.8
    assert all(abs(t - (3.0 + 20 / FPS)) < 0.3 or s < 0.5 for t, s in peaks), times


def test_static_clip_has_no_motion_peaks():
    energy = motion_energy(square_frames([30] * 12), FPS)
    assert energy.max() < 0.05
    assert motion_peaks(energy, FPS) == []


def test_fit_tempo_recovers_a_planted_100_bpm_grid():
    rng = np.random.default_rng(3)
    period, phase = 0.6, 0.37
    beats = phase + period * np.arange(45)  # 27 s at 100 BPM
    spots = [(float(b + rng.normal(0, 0.008)), float(rng.uniform(0.4, 1.0)))
             for b in beats if rng.random() < 0.55]
    spots += [(float(t), 0.3) for t in rng.uniform(0, 27, 6)]  # off-grid distractors
    bpm, ph = fit_tempo(spots, (70, 140), 27.0)
    assert abs(bpm - 100) < 1
    assert min(abs(ph - phase), period - abs(ph - phase)) < 0.02


def test_rhythm_spots_keep_every_cut_at_full_strength_and_put_beats_on_them():
    cuts = [2.4, 4.8, 8.4]  # on a 100 BPM grid with phase 0
    spots = rhythm_spots(10.0, cuts, motion=[(1.21, 0.7), (2.42, 0.9)], impacts=[(6.0, 0.8)],
                         bpm_range=(80, 120))
    got = [(t, s) for t, s, k in zip(spots.times_s, spots.strengths, spots.kinds, strict=True)
           if k == "cut"]
    assert got == [(c, 1.0) for c in cuts]
    assert spots.times_s == sorted(spots.times_s)
    assert ("impact" in spots.kinds) and ("motion" in spots.kinds)
    assert 2.42 not in spots.times_s  # motion at a cut is the cut itself
    assert abs(spots.tempo_bpm - 100) < 1
    beats = np.array(spots.beat_times_s)
    assert np.allclose(np.diff(beats), 60 / spots.tempo_bpm, atol=1e-3)
    assert all(np.abs(beats - c).min() < 0.04 for c in [*cuts, 6.0])
    assert spots.kinds.count("beat") == len(beats)


def test_tempo_changes_at_a_cut_when_one_tempo_cannot_fit():
    first = [0.5 * k for k in range(1, 20)]  # 120 BPM up to the cut at 10 s
    second = [10 + 0.4 * k for k in range(1, 25)]  # 150 BPM after it
    impacts = [(t, 1.0) for t in first + second if t < 20]
    spots = rhythm_spots(20.0, [10.0], [], impacts, bpm_range=(100, 160))
    assert "tempo" in spots.source
    beats = np.array(spots.beat_times_s)
    on = [np.abs(beats - t).min() < 0.04 for t, _ in impacts]
    assert np.mean(on) > 0.9


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cut_times_s": [12.0]}, "outside"),
        ({"bpm_range": (130, 90)}, "bpm_range"),
        ({"impacts": [(1.0, 2.0)]}, "strength"),
    ],
)
def test_bad_input_raises(kwargs, match):
    args = {"duration_s": 10.0, "cut_times_s": [5.0], "motion": [], "impacts": [],
            "bpm_range": (90, 130)} | kwargs
    with pytest.raises(ValueError, match=match):
        rhythm_spots(**args)
