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


# -- the decision under test: does the music follow the cut? (issue 20) ---------------------------

CUTS = [1.3, 2.9, 4.1, 6.2]
GRID = [0.5 * k for k in range(1, 16)]  # a steady 120 BPM beat that misses every cut


def test_clicks_on_the_cuts_beat_a_beat_grid_that_misses_them() -> None:
    on_cuts = rhythm_score(click_track(CUTS, 8.0), SR, CUTS)
    grid = rhythm_score(click_track(GRID, 8.0), SR, CUTS)
    both = rhythm_score(click_track(sorted(CUTS + GRID), 8.0), SR, CUTS)
    print(f"rhythm: clicks on cuts {on_cuts:.3f}, cuts + grid {both:.3f}, grid only {grid:.3f}")
    assert on_cuts > 0.9
    assert grid < 0.1
    assert grid < both < on_cuts  # extra attacks between the cuts cost precision


def test_a_score_shifted_off_the_cuts_scores_worse_and_misses_the_spots() -> None:
    from filmcrew.tools.music.metrics import spot_hit_rate

    music = click_track(CUTS, 8.0)
    shift = round(0.15 * SR)
    shifted = np.concatenate([np.zeros(shift, np.float32), music[:-shift]])
    assert spot_hit_rate(music, SR, CUTS) == 1.0
    assert spot_hit_rate(shifted, SR, CUTS) == 0.0
    assert rhythm_score(shifted, SR, CUTS) < 0.2 < 0.9 < rhythm_score(music, SR, CUTS)


def test_rhythm_weights_spots_by_strength() -> None:
    from filmcrew.schemas import RhythmSpots

    spots = RhythmSpots(times_s=[1.0, 2.0, 3.0, 3.5, 4.0], strengths=[1.0, 0.25, 1.0, 0.25, 0.3],
                        kinds=["cut", "beat", "cut", "beat", "impact"], tempo_bpm=120.0,
                        beat_times_s=[2.0, 3.5], source="cut+impact")
    strong = rhythm_score(click_track([1.0, 3.0], 5.0), SR, spots)  # the cuts
    weak = rhythm_score(click_track([4.0], 5.0), SR, spots)  # only the weak impact
    beats = rhythm_score(click_track([2.0, 3.5], 5.0), SR, spots)  # the beat grid is no target
    print(f"rhythm: cuts {strong:.3f}, weak impact {weak:.3f}, beat grid {beats:.3f}")
    assert strong > 0.9 > 0.3 > weak > 0.05
    assert beats < 0.01


def test_dynamic_prefers_the_true_target_to_its_reversal() -> None:
    """Music whose loudness steps up with the shots' energy, with note-level flicker (8 attacks/s,
    ±15 dB) on top: the true target must be clearly closer than the same target played backwards
    (with the unsmoothed 50 ms derivative both were ~0.94 apart from each other by 0.006)."""
    sections = [(0.0, 3.0, 0.1), (3.0, 5.5, 0.5), (5.5, 8.0, 1.0)]
    target = energy_db_curve(sections, 8.0)
    t = np.arange(8 * SR) / SR
    energy = np.select([t < 3.0, t < 5.5], [0.1, 0.5], 1.0)
    notes = np.exp(-(t % 0.125) / 0.03)  # an attack every 125 ms
    music = (0.3 * 10 ** ((energy - 1) * 24 / 20) * notes * np.sin(2 * np.pi * 330 * t))
    music = music.astype(np.float32)
    true = dynamic_distance(music, SR, target)
    reversed_ = dynamic_distance(music, SR, target[::-1].copy())
    raw = dynamic_distance(music, SR, target, smooth_s=0.05)
    print(f"dynamic distance: true target {true:.3f}, reversed {reversed_:.3f}, unsmoothed {raw:.3f}")
    assert true < 0.4 < 0.9 < raw
    assert reversed_ > true + 0.5


def test_spot_hit_rate_counts_only_strong_onsets() -> None:
    from filmcrew.tools.music.metrics import spot_hit_rate

    loud = click_track([1.0, 2.0], 4.0)
    quiet = 0.01 * click_track([3.0], 4.0)
    assert spot_hit_rate(loud + quiet, SR, [1.0, 2.0, 3.0]) == pytest.approx(2 / 3)
    assert spot_hit_rate(loud, SR, []) == 1.0
