"""The procedural composer: music that lands on the cut, stays in key, resolves, and listens to critics."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from filmcrew.schemas import MusicBrief
from filmcrew.tools.music.procedural import (
    FEEDBACK_PHRASES,
    KEY_PC,
    Score,
    compose,
    render_stems,
    scale_pcs,
)
from filmcrew.tools.music.review import key_consistency, onset_alignment
from filmcrew.tools.music.rhythm import rhythm_spots

SR = 48_000
DUR = 10.0071  # not a whole number of samples per anything: lengths must still be exact
CUTS = [2.5, 5.2, 7.4]
IMPACTS = [(3.9, 0.9)]
MOTION = [(1.3, 0.7), (6.1, 0.5)]
SECTIONS = [(0.0, 2.5, 0.3), (2.5, 5.2, 0.7), (5.2, 7.4, 1.0), (7.4, DUR, 0.5)]


def brief(**kw) -> MusicBrief:
    base = dict(scene="alley at night", brightness="dark", color_tone="blue", action="a chase",
                emotional_tone="tense", shot_scale="wide", theme="pursuit",
                description="tense pulsing strings", key="A", mode="minor",
                tempo_bpm_min=90, tempo_bpm_max=130)
    return MusicBrief(**(base | kw))


@cache
def spots():
    return rhythm_spots(DUR, CUTS, MOTION, IMPACTS, (90, 130))


@cache
def piece(seed: int = 1, feedback: tuple[str, ...] = ()) -> tuple[Score, dict[str, np.ndarray]]:
    score = compose(brief(), spots(), SECTIONS, DUR, seed=seed, feedback=feedback)
    return score, render_stems(score, SR)


def melody_pitches(score: Score) -> list[int]:
    return [n.pitch for n in score.part("melody")]


def test_onsets_land_on_cuts_and_impacts():
    _, stems = piece()
    mix = sum(stems.values())
    al = onset_alignment(mix, SR, spots())
    assert al["n_spots"] == len(CUTS) + len(IMPACTS)
    assert al["hit_rate"] >= 0.8
    assert al["mean_abs_offset_s"] < 0.05


def test_stems_are_exact_length_and_every_section_sounds():
    _, stems = piece()
    assert set(stems) == {"melody", "harmony", "bass", "percussion"}
    n = round(DUR * SR)
    for name, x in stems.items():
        assert x.shape == (n,) and x.dtype == np.float32, name
        assert np.all(np.isfinite(x)) and np.abs(x).max() <= 1.0
    mix = sum(stems.values())
    for a, b, _ in SECTIONS:
        seg = mix[round(a * SR) : round(b * SR)]
        assert np.sqrt(np.mean(seg**2)) > 0.02, (a, b)
    # Dynamics follow energy: the 1.0 section is louder than the 0.3 one.
    rms = [np.sqrt(np.mean(mix[round(a * SR) : round(b * SR)] ** 2)) for a, b, _ in SECTIONS]
    assert rms[2] > 1.5 * rms[0]


def test_in_key_resolving_and_minor_for_a_tense_brief():
    score, _ = piece()
    assert key_consistency(score) >= 0.95
    assert score.mode == "minor"
    mel = score.part("melody")
    assert mel[-1].pitch % 12 == KEY_PC["A"]
    assert mel[-1].start_s + mel[-1].dur_s == pytest.approx(DUR)
    # Tension: i–VI–... in A minor; the opening chord is A minor (root A, minor third C).
    first = score.chords[0][1]
    assert first[0] % 12 == 9 and {p % 12 for p in first} == {9, 0, 4}
    roots = [p[0] % 12 for _, p in score.chords]
    assert 5 in roots  # VI (F) follows
    assert roots[-1] == 9 and roots[-2] == 4  # V–i cadence


def test_bright_happy_brief_gets_a_major_progression():
    b = brief(emotional_tone="joyful, playful", brightness="bright", description="happy", key="G",
              mode="major")
    score = compose(b, spots(), SECTIONS, DUR, seed=1)
    first = {p % 12 for p in score.chords[0][1]}
    assert first == {7, 11, 2}  # G major triad
    assert key_consistency(score) == 1.0
    assert score.part("melody")[-1].pitch % 12 == 7


def test_same_seed_same_audio_other_seed_other_music():
    a = compose(brief(), spots(), SECTIONS, DUR, seed=1)
    stems_a = render_stems(a, SR)
    _, stems_b = piece(1)
    for k in stems_a:
        assert np.array_equal(stems_a[k], stems_b[k])
    c, stems_c = piece(2)
    assert melody_pitches(c) != melody_pitches(a)
    assert not np.array_equal(stems_c["melody"], stems_a["melody"])


def test_feedback_on_leaps_lowers_the_largest_leap():
    base = max(np.abs(np.diff(melody_pitches(piece(1)[0]))))
    fixed = compose(brief(), spots(), SECTIONS, DUR, seed=1,
                    feedback=["melody: leaps too large (largest 7 semitones); use smaller intervals"])
    after = max(np.abs(np.diff(melody_pitches(fixed))))
    assert after < base and after <= 4
    assert "max_leap=2" in fixed.feedback_applied


def test_feedback_on_key_removes_every_note_outside_the_scale():
    natural = scale_pcs("A", "minor")
    default = [n for n in piece(1)[0].notes if n.part in ("melody", "harmony")]
    assert any(n.pitch % 12 not in natural for n in default)  # the harmonic-minor leading tone
    strict = compose(brief(), spots(), SECTIONS, DUR, seed=1,
                     feedback=["mode: notes outside the key (90% in A minor); keep to a stricter scale"])
    assert all(n.pitch % 12 in natural for n in strict.notes if n.part in ("melody", "harmony"))


def test_feedback_on_rhythm_puts_notes_on_every_motion_spot():
    def motion_hits(score: Score) -> int:
        starts = np.array([n.start_s for n in score.notes])
        return sum(np.abs(starts - t).min() < 0.02 for t, _ in MOTION)

    snapped = compose(brief(), spots(), SECTIONS, DUR, seed=1,
                      feedback=["rhythm: onsets off the spots; snap onsets to the spots"])
    assert motion_hits(snapped) == len(MOTION)
    mel = np.array([n.start_s for n in snapped.part("melody")])
    grid = np.array([*spots().times_s, *spots().beat_times_s])
    assert all(np.abs(grid - t).min() < 0.03 for t in mel)  # no off-beat eighths left


def test_feedback_switches_mode_and_unknown_feedback_is_recorded():
    score = compose(brief(mode="major"), spots(), SECTIONS, DUR, seed=1,
                    feedback=["emotion: major mode is too bright for a tense mood; use minor mode",
                              "emotion: needs more cowbell"])
    assert score.mode == "minor"
    assert score.feedback_applied == ["mode=minor", "ignored: emotion: needs more cowbell"]


@pytest.mark.parametrize("phrase", FEEDBACK_PHRASES)
def test_every_advertised_feedback_phrase_changes_a_setting(phrase):
    score = compose(brief(), spots(), SECTIONS, DUR, seed=1, feedback=[f"critic: {phrase.upper()}"])
    assert score.feedback_applied and not score.feedback_applied[0].startswith("ignored")


def test_midi_abc_and_json_round_trips(tmp_path):
    import music21
    import pretty_midi

    score, _ = piece()
    path = tmp_path / "score.mid"
    score.to_midi(str(path))
    pm = pretty_midi.PrettyMIDI(str(path))
    assert sum(len(i.notes) for i in pm.instruments) == len(score.notes)
    by_name = {i.name: i for i in pm.instruments}
    assert by_name["percussion"].is_drum
    assert [n.pitch for n in sorted(by_name["melody"].notes, key=lambda n: n.start)] == melody_pitches(score)

    abc = score.to_abc()
    assert "K:Am" in abc and "L:1/16" in abc
    parsed = music21.converter.parse(abc, format="abc").stripTies()
    notes = list(parsed.flatten().getElementsByClass(music21.note.Note))
    assert [n.pitch.midi for n in notes] == melody_pitches(score)

    assert Score.from_json(score.to_json()) == score


def test_rendering_30_s_gives_30_s_per_stem():
    # Its speed is measured in benchmarks/musicgen_rtf.py (the procedural row), not asserted here.
    sections = [(0.0, 10.0, 0.4), (10.0, 20.0, 0.8), (20.0, 30.0, 1.0)]
    sp = rhythm_spots(30.0, [10.0, 20.0], [], [(15.0, 1.0)], (100, 130))
    score = compose(brief(), sp, sections, 30.0, seed=0)
    stems = render_stems(score, SR)
    assert all(x.shape == (30 * SR,) for x in stems.values())


def test_bad_sections_raise():
    with pytest.raises(ValueError, match="section"):
        compose(brief(), spots(), [(0.0, 12.0, 0.5)], DUR, seed=0)
