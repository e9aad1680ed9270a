"""The procedural score's instruments follow the brief: GM programs, FluidSynth stems (issue 20)."""

from __future__ import annotations

import numpy as np
import pytest

from filmcrew.schemas import MusicBrief
from filmcrew.tools.music.fluid import (
    FALLBACK_NOTE,
    find_fluidsynth,
    gm_programs,
    render_score_stems,
)
from filmcrew.tools.music.procedural import compose
from filmcrew.tools.music.rhythm import rhythm_spots

SR = 22050


def test_the_briefs_instruments_pick_gm_programs() -> None:
    piano = gm_programs(["playful piano"])
    assert piano["melody"] == piano["harmony"] == piano["bass"] == 0  # a piano, both hands
    assert gm_programs(["pizzicato strings", "harp"])["melody"] == 45
    assert gm_programs(["pizzicato strings", "harp"])["harmony"] == 46
    brass = gm_programs(["brass", "cello", "timpani"])
    assert brass["harmony"] == 61 and 42 in (brass["bass"], brass["melody"])
    assert brass["kit"] == 48  # orchestral kit for timpani
    jazz = gm_programs(["upright bass", "vibraphone", "jazz drums"])
    assert jazz == {"melody": 11, "harmony": 11, "bass": 32, "kit": 32}
    strings = gm_programs(["strings", "piano", "bass", "percussion"])  # the schema's default
    assert (strings["melody"], strings["harmony"], strings["bass"], strings["kit"]) == (0, 48, 32, 0)
    assert gm_programs(["kazoo orchestra of doom"])["melody"] == 73  # unknown: the default flute


def _score():
    brief = MusicBrief(scene="a kitchen", brightness="bright", color_tone="warm", action="a cat",
                       emotional_tone="playful", shot_scale="medium", theme="mischief",
                       description="playful piano", key="C", mode="major", tempo_bpm_min=100,
                       tempo_bpm_max=120, instruments=["playful piano", "jazz drums"])
    spots = rhythm_spots(4.0, [2.0], [], [(3.0, 0.8)], (100, 120))
    return brief, compose(brief, spots, [(0.0, 2.0, 0.5), (2.0, 4.0, 0.9)], 4.0, seed=1)


@pytest.mark.skipif(find_fluidsynth() is None, reason="fluidsynth or a GM SoundFont not installed "
                                                       "(make instruments)")
def test_fluidsynth_stems_are_exact_and_not_silent() -> None:
    brief, score = _score()
    stems, used, programs = render_score_stems(score, SR, brief.instruments)
    assert used.startswith("fluidsynth:") and programs["melody"] == 0 and programs["kit"] == 32
    for part, x in stems.items():
        assert x.shape == (round(4.0 * SR),) and x.dtype == np.float32, part
        rms = float(np.sqrt(np.mean(x**2)))
        assert rms > 1e-3 and np.abs(x).max() <= 0.99, (part, rms)
    # a piano is not the numpy lead: the FluidSynth melody differs from the fallback's
    fallback, note, _ = render_score_stems(score, SR, brief.instruments, use_fluidsynth=False)
    assert note == FALLBACK_NOTE
    a, b = stems["melody"], fallback["melody"]
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.5


def test_without_fluidsynth_the_numpy_synth_renders_with_a_note() -> None:
    brief, score = _score()
    stems, used, _ = render_score_stems(score, SR, brief.instruments,
                                        soundfont="/nonexistent/none.sf2")
    assert used == FALLBACK_NOTE and "make instruments" in used
    assert set(stems) == {"melody", "harmony", "bass", "percussion"}
    assert all(float(np.abs(x).max()) > 0 for x in stems.values())
