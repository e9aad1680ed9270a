"""The audiocraft backend on audiocraft's tiny 'debug' MusicGen (runs in .venv-audiocraft only)."""

from __future__ import annotations

import pytest

pytest.importorskip("audiocraft")

from filmcrew.artifacts import ArtifactStore
from filmcrew.schemas import MusicBrief, RhythmSpots
from filmcrew.tools.media import read_audio
from filmcrew.tools.music.musicgen.audiocraft import AudiocraftComposer
from filmcrew.tools.music.score import Score
from filmcrew.tools.protocols import MusicGenerator


@pytest.fixture
def offline_spacy(monkeypatch):
    """audiocraft's 'debug' model tokenises text with spaCy's en_core_web_sm, which is not on
    PyPI (spaCy downloads it from GitHub): without it, a blank English pipeline stands in —
    the debug model's weights are random, so what its text tokens are does not matter."""
    import spacy

    try:
        spacy.load("en_core_web_sm")
    except OSError:
        import audiocraft.modules.conditioners as cond

        monkeypatch.setattr(cond.spacy, "load", lambda name, *a, **k: spacy.blank(name[:2]))


def test_debug_model_composes_exact_stems_and_a_score_and_caches(tmp_path, offline_spacy) -> None:
    import torch

    torch.set_num_threads(1)
    brief = MusicBrief(scene="harbour", brightness="dim", color_tone="grey", action="waves",
                       emotional_tone="tense", shot_scale="wide", theme="storm",
                       description="low strings", key="D", mode="minor")
    spots = RhythmSpots(times_s=[0.5, 1.2], strengths=[1.0, 0.5], tempo_bpm=90)
    composer = AudiocraftComposer(debug_models=True, device="cpu")
    assert isinstance(composer, MusicGenerator) and composer.name == "audiocraft"
    store = ArtifactStore(tmp_path)
    ticks: list[int] = []
    score_ref, stems_ref = composer.compose(store, "composer", brief, spots, [(0.0, 1.5, 0.5)], 1.5,
                                            seed=0, feedback=[], sample_rate=48000,
                                            progress=lambda s, t: ticks.append(s))
    audio, sr = read_audio(store.path(stems_ref))
    assert sr == 48000 and audio.shape == (72000,)
    assert stems_ref.meta["stems"] == ["music"] and ticks and ticks[-1] == 2
    assert Score.from_json(store.read_json(score_ref)).duration_s == pytest.approx(1.5)
    again = composer.compose(store, "composer", brief, spots, [(0.0, 1.5, 0.5)], 1.5, seed=0,
                             feedback=[], sample_rate=48000)
    assert again == (score_ref, stems_ref)
