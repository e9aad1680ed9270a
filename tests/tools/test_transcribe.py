"""Transcription of model audio for the critics: a known melody comes back as its notes."""

from __future__ import annotations

import numpy as np
import pytest

from filmcrew.schemas import MusicBrief, RhythmSpots
from filmcrew.tools.music.review import review
from filmcrew.tools.music.transcribe import estimate_key, transcribe

SR = 16000
# (start_s, dur_s, midi): D minor, a stepwise line ending on the tonic, two repeated notes.
MELODY = [(0.0, 0.45, 62), (0.5, 0.45, 64), (1.0, 0.45, 65), (1.5, 0.45, 65), (2.0, 0.45, 69),
          (2.5, 0.45, 67), (3.0, 0.45, 65), (3.5, 0.45, 64), (4.0, 0.9, 62)]


def brief() -> MusicBrief:
    return MusicBrief(scene="harbour", brightness="dim", color_tone="grey", action="waves",
                      emotional_tone="tense", shot_scale="wide", theme="storm",
                      description="tense strings", key="D", mode="minor", tempo_bpm_min=100,
                      tempo_bpm_max=140)


def spots() -> RhythmSpots:
    times = [0.5 * k for k in range(10)]
    return RhythmSpots(times_s=times, strengths=[1.0] * len(times), tempo_bpm=120)


def synth(notes, duration_s: float) -> np.ndarray:
    """Sine tones with 10 ms attack/release, plus a weak second harmonic."""
    y = np.zeros(round(duration_s * SR), np.float32)
    for start, dur, midi in notes:
        n = round(dur * SR)
        t = np.arange(n) / SR
        f = 440.0 * 2 ** ((midi - 69) / 12)
        env = np.minimum(1.0, np.minimum(t, dur - t) / 0.01)
        i = round(start * SR)
        y[i:i + n] += (0.4 * env * (np.sin(2 * np.pi * f * t) + 0.2 * np.sin(4 * np.pi * f * t)))
    return y


def test_a_known_melody_is_transcribed_to_its_pitches_and_onsets() -> None:
    score = transcribe(synth(MELODY, 5.2), SR, brief=brief(), spots=spots(), use_basic_pitch=False)
    mel = score.part("melody")
    got = [(round(n.start_s, 3), n.pitch) for n in mel]
    print("transcribed:", got)
    assert [n.pitch for n in mel] == [p for _, _, p in MELODY]
    assert max(abs(n.start_s - s) for n, (s, _, _) in zip(mel, MELODY, strict=True)) < 0.04
    assert abs(mel[-1].dur_s - 0.9) < 0.08
    assert (score.key, score.mode) == ("D", "minor")
    assert score.tempo_bpm == pytest.approx(120, abs=0.5)
    assert "K:Dm" in score.to_abc()


def test_the_reviewers_read_the_transcription() -> None:
    audio = synth(MELODY, 5.2)
    score = transcribe(audio, SR, brief=brief(), spots=spots(), use_basic_pitch=False)
    critiques = {c.reviewer: c for c in review(score, brief(), spots(), audio, SR)}
    assert list(critiques) == ["mode", "melody", "harmony", "rhythm", "emotion"]
    assert critiques["mode"].passed, critiques["mode"].reasons  # all notes in D minor
    assert critiques["melody"].passed, critiques["melody"].reasons  # stepwise, ends on D
    assert critiques["rhythm"].measured["audio_hit_rate"] > 0.8
    # A melody that leaps wildly and ends off the tonic fails the melody reviewer.
    wild = [(s, d, p + (19 if i % 2 else 0)) for i, (s, d, p) in enumerate(MELODY[:-1])]
    bad = transcribe(synth(wild, 4.5), SR, brief=brief(), spots=spots(), use_basic_pitch=False)
    melody = {c.reviewer: c for c in review(bad, brief(), spots(), None, SR)}["melody"]
    assert not melody.passed and any("smaller intervals" in r for r in melody.reasons)


def test_key_estimate_and_bad_input() -> None:
    c_major = [60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60]
    assert estimate_key(c_major, [1.0] * len(c_major))[:2] == ("C", "major")
    # The bare white-key scale fits C major and A minor almost equally: the brief's key decides.
    white = [60, 62, 64, 65, 67, 69, 71]
    assert estimate_key(white, [1.0] * 7)[:2] == ("C", "major")
    assert estimate_key(white, [1.0] * 7, prefer=("A", "minor"))[:2] == ("A", "minor")
    assert estimate_key(c_major, [1.0] * len(c_major), prefer=("A", "minor"))[:2] == ("C", "major")
    with pytest.raises(ValueError, match="audio"):
        transcribe(np.zeros(0), SR, brief=brief(), spots=spots())
