"""The reviewers: they pass good music, fail bad music with reasons, and the composer heeds them."""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np

from filmcrew.schemas import MusicBrief, RhythmSpots
from filmcrew.tools.music.procedural import Note, Score, compose, render_stems
from filmcrew.tools.music.review import key_consistency, onset_alignment, review, rhythm_xcorr
from filmcrew.tools.music.rhythm import rhythm_spots

SR = 48_000
DUR = 9.0
CUTS = [3.0, 6.1]
SECTIONS = [(0.0, 3.0, 0.4), (3.0, 6.1, 0.8), (6.1, DUR, 0.6)]


def brief(**kw) -> MusicBrief:
    base = dict(scene="harbour at dusk", brightness="dim", color_tone="amber", action="boats",
                emotional_tone="tense, ominous", shot_scale="wide", theme="storm coming",
                description="tense low strings", key="D", mode="minor",
                tempo_bpm_min=90, tempo_bpm_max=120)
    return MusicBrief(**(base | kw))


@cache
def spots() -> RhythmSpots:
    return rhythm_spots(DUR, CUTS, [(1.4, 0.8)], [(4.55, 1.0)], (90, 120))


@cache
def good() -> tuple[Score, np.ndarray]:
    score = compose(brief(), spots(), SECTIONS, DUR, seed=7)
    return score, sum(render_stems(score, SR).values())


def by_name(critiques):
    return {c.reviewer: c for c in critiques}


def with_melody(score: Score, pitches) -> Score:
    """The same score with the melody's pitches replaced (times and the rest untouched)."""
    mel = iter(pitches)
    notes = [dataclasses.replace(n, pitch=next(mel)) if n.part == "melody" else n for n in score.notes]
    return dataclasses.replace(score, notes=notes)


def clicks(times, n: int) -> np.ndarray:
    x = np.zeros(n, np.float32)
    t = np.arange(int(0.03 * SR)) / SR
    click = (np.sin(2 * np.pi * 1500 * t) * np.exp(-t / 0.005)).astype(np.float32)
    for s in times:
        i = round(s * SR)
        x[i : i + click.size] += click[: n - i]
    return x


def test_a_composed_piece_passes_all_five_reviewers():
    score, audio = good()
    critiques = review(score, brief(), spots(), audio, SR)
    assert [c.reviewer for c in critiques] == ["mode", "melody", "harmony", "rhythm", "emotion"]
    assert all(c.passed for c in critiques), [c.reasons for c in critiques if not c.passed]
    rhythm = by_name(critiques)["rhythm"].measured
    assert rhythm["audio_hit_rate"] >= 0.8 and rhythm["rhythm_xcorr"] > 0.5


def test_out_of_key_melody_fails_the_mode_reviewer():
    score, _ = good()
    bad = with_melody(score, [n.pitch + 1 for n in score.part("melody")])  # a semitone sharp
    assert key_consistency(bad) < 0.9
    mode = by_name(review(bad, brief(), spots(), None, SR))["mode"]
    assert not mode.passed
    assert any("outside the key" in r for r in mode.reasons)


def test_leaping_wide_melody_that_does_not_resolve_fails_the_melody_reviewer():
    score, _ = good()
    n = len(score.part("melody"))
    wild = [62 + (0 if i % 2 else 21) for i in range(n - 1)] + [64]  # 21-semitone leaps, ends on E
    melody = by_name(review(with_melody(score, wild), brief(), spots(), None, SR))["melody"]
    assert not melody.passed
    text = " ".join(melody.reasons)
    assert "leaps too large" in text and "range too wide" in text and "tonic" in text
    assert melody.measured["max_leap_semitones"] == 21


def test_non_chord_tones_on_strong_beats_fail_the_harmony_reviewer():
    score, _ = good()
    # Put every melody note a semitone above a chord tone of the chord under it: never a chord tone.
    off = [max(score.chord_at(n.start_s)) + 1 for n in score.part("melody")]
    harmony = by_name(review(with_melody(score, off), brief(), spots(), None, SR))["harmony"]
    assert not harmony.passed
    assert harmony.measured["chord_tone_fraction"] == 0.0
    assert any("chord tones on strong beats" in r for r in harmony.reasons)


def test_onset_measures_tell_aligned_from_misaligned_audio():
    n = round(DUR * SR)
    strong = [t for t, k in zip(spots().times_s, spots().kinds, strict=True) if k in ("cut", "impact")]
    on = clicks(strong, n)
    late = clicks([t + 0.15 for t in strong], n)
    assert onset_alignment(on, SR, spots())["hit_rate"] == 1.0
    assert onset_alignment(on, SR, spots())["mean_abs_offset_s"] < 0.03
    assert onset_alignment(late, SR, spots())["hit_rate"] == 0.0
    rng = np.random.default_rng(0)
    random = clicks(sorted(rng.uniform(0, DUR - 0.1, len(spots().times_s))), n)
    grid = clicks(spots().beat_times_s, n)  # the fitted beat grid alone is not the target
    assert rhythm_xcorr(on, SR, spots()) > 0.8
    assert rhythm_xcorr(random, SR, spots()) < 0.5
    assert rhythm_xcorr(grid, SR, spots()) < rhythm_xcorr(on, SR, spots())


def test_silent_audio_fails_the_rhythm_reviewer():
    score, _ = good()
    rhythm = by_name(review(score, brief(), spots(), np.zeros(round(DUR * SR)), SR))["rhythm"]
    assert not rhythm.passed and "off the spots" in rhythm.reasons[0]


def test_a_major_score_for_a_tense_brief_fails_and_the_next_round_fixes_it():
    b = brief(mode="major")
    first = compose(b, spots(), SECTIONS, DUR, seed=7)
    critiques = review(first, b, spots(), None, SR)
    failed = [c for c in critiques if not c.passed]
    assert {c.reviewer for c in failed} >= {"emotion"}
    # What the critic node sends back: "<reviewer>: <reason>".
    feedback = [f"{c.reviewer}: {r}" for c in failed for r in c.reasons]
    second = compose(b, spots(), SECTIONS, DUR, seed=7, feedback=feedback)
    audio = sum(render_stems(second, SR).values())
    again = review(second, b, spots(), audio, SR)
    assert second.mode == "minor"
    assert all(c.passed for c in again), [c.reasons for c in again if not c.passed]


def test_too_busy_a_line_for_a_calm_brief_fails_emotion():
    calm = brief(emotional_tone="calm, serene", description="gentle piano", theme="rest",
                 brightness="bright", mode="major")
    score, _ = good()
    mel = score.part("melody")
    busy = [Note(i * 0.15, 0.14, 62, 80, "melody") for i in range(int(DUR / 0.15))]
    crowded = dataclasses.replace(score, mode="major",
                                  notes=[n for n in score.notes if n not in mel] + busy)
    emotion = by_name(review(crowded, calm, spots(), None, SR))["emotion"]
    assert not emotion.passed and "sparser rhythm" in emotion.reasons[0]


def test_rhythm_reviewer_measures_dynamics_against_the_sections():
    n = round(DUR * SR)
    t = np.arange(n) / SR
    tone = np.sin(2 * np.pi * 330 * t).astype(np.float32)
    energy = np.interp(t, [0, 3.0, 3.2, 6.1, 6.3, DUR], [0.1, 0.1, 0.9, 0.9, 0.5, 0.5])
    strong = [t for t, k in zip(spots().times_s, spots().kinds, strict=True) if k in ("cut", "impact")]
    follows = (0.3 * energy * tone + clicks(strong, n)).astype(np.float32)
    opposes = (0.3 * (1.0 - energy) * tone + clicks(strong, n)).astype(np.float32)
    score, _ = good()
    dyn = [by_name(review(score, brief(), spots(), a, SR, sections=SECTIONS))["rhythm"].measured
           for a in (follows, opposes)]
    assert dyn[0]["rhythm_score"] == dyn[0]["rhythm_xcorr"] > 0.5
    assert dyn[0]["dynamic_distance"] < dyn[1]["dynamic_distance"]
    # Without sections the reviewer does not guess a target.
    assert "dynamic_distance" not in by_name(review(score, brief(), spots(), follows, SR))["rhythm"].measured
