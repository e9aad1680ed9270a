"""FilmComposer's Rhythm and Dynamic metrics on audio whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from filmcrew.tools.music.metrics import (
    beat_times,
    db_curve,
    dynamic_distance,
    energy_db_curve,
    rhythm_score,
)

SR = 16000


def click_track(times: list[float], duration_s: float, sr: int = SR) -> np.ndarray:
    """Short decaying 880 Hz clicks at `times`."""
    y = np.zeros(int(duration_s * sr), np.float32)
    n = int(0.06 * sr)
    t = np.arange(n) / sr
    click = (np.sin(2 * np.pi * 880 * t) * np.exp(-t / 0.012)).astype(np.float32)
    for s in times:
        i = round(s * sr)
        y[i:i + n] += click[: max(0, min(n, y.size - i))]
    return y


def test_beat_times_finds_the_clicks() -> None:
    spots = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    found = beat_times(click_track(spots, 4.0), SR)
    d = np.abs(np.array(spots)[:, None] - found[None, :]).min(axis=1)
    assert found.size == len(spots)
    assert d.max() < 0.03


def test_rhythm_higher_on_the_spots_than_half_a_beat_off() -> None:
    beat = 0.5
    spots = [beat * k for k in range(1, 12)]
    on = rhythm_score(click_track(spots, 6.5), SR, spots)
    off = rhythm_score(click_track([t + beat / 2 for t in spots], 6.5), SR, spots)
    print(f"rhythm on spots {on:.3f}, half a beat off {off:.3f}")
    assert on > 0.8
    assert off < 0.3
    assert 0.0 <= off < on <= 1.0


def test_rhythm_of_silence_is_zero() -> None:
    assert rhythm_score(np.zeros(SR * 2, np.float32), SR, [0.5, 1.0]) == 0.0


def _swell(duration_s: float, env: np.ndarray) -> np.ndarray:
    t = np.arange(int(duration_s * SR)) / SR
    gain = np.interp(t, np.linspace(0, duration_s, env.size), env)
    return (0.3 * gain * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_dynamic_zero_for_same_dynamics_and_large_for_inverted() -> None:
    rise = np.array([0.05, 0.2, 1.0, 0.3, 0.1, 0.6, 1.0])
    music = _swell(4.0, rise)
    same = dynamic_distance(music, SR, 0.5 * music, reference_sr=SR)  # same shape, 6 dB quieter
    inverted = dynamic_distance(music, SR, _swell(4.0, 1.05 - rise), reference_sr=SR)
    print(f"dynamic same {same:.4f}, inverted {inverted:.3f}")
    assert same < 1e-6
    assert inverted > 1.0


def test_dynamic_against_a_target_curve() -> None:
    sections = [(0.0, 2.0, 0.1), (2.0, 4.0, 0.9)]
    target = energy_db_curve(sections, 4.0)
    follows = _swell(4.0, np.array([0.05, 0.05, 0.05, 0.8, 0.8, 0.8]))
    opposes = _swell(4.0, np.array([0.8, 0.8, 0.8, 0.05, 0.05, 0.05]))
    assert dynamic_distance(follows, SR, target) < 0.7 < 1.3 < dynamic_distance(opposes, SR, target)


def test_db_curve_and_bad_input() -> None:
    curve = db_curve(np.full(SR, 0.5, np.float32), SR, hop_s=0.1)
    assert curve.shape == (10,)
    assert np.allclose(curve, 20 * np.log10(0.5), atol=1e-4)
    with pytest.raises(ValueError, match="hop_s"):
        db_curve(np.zeros(10), SR, hop_s=0)
    with pytest.raises(ValueError, match="expected"):
        rhythm_score(np.zeros((2, 2, 2)), SR, [0.1])
