"""The crew with the MusicGen composer on a tiny random model: a film whose score came out of the
model, transcribed for the critics, mixed to the loudness target; real weights fail early and clearly."""

from __future__ import annotations

import json

import pytest

from filmcrew import runner
from filmcrew.config import RunOptions
from filmcrew.tools.media import probe


def test_the_crew_scores_a_film_with_musicgen(tmp_path):
    opts = RunOptions(duration_s=3.0, candidates=1, beam=1, width=128, height=72,
                      music_backend="musicgen", debug_models=True, max_critic_rounds=1)
    events = []
    result = runner.start("A ball bounces across a table. Calm piano.", opts, tmp_path,
                          on_event=lambda m, d: events.append((m, d)))
    assert result.status == "done"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["music"]["stems"] == ["music"]
    assert abs(report["music"]["lufs"] - opts.target_lufs) <= 0.5
    assert {c["reviewer"] for c in report["music"]["critiques"]} == {
        "mode", "melody", "harmony", "rhythm", "emotion"}
    info = probe(result.final)
    assert info.video_frames == 3 * 24 and abs(info.audio_duration_s - 3.0) <= 1 / 24
    # progress is streamed per generated second of music
    seconds = [d["step"] for m, d in events
               if m == "custom" and d.get("node") == "composer" and d.get("stage") == "compose"]
    assert seconds[:3] == [1, 2, 3]


def test_musicgen_without_weights_fails_before_planning(tmp_path):
    opts = RunOptions(music_backend="musicgen")
    with pytest.raises(FileNotFoundError, match="facebook/musicgen-melody"):
        runner.start("a ball bounces", opts, tmp_path / "run")
    assert not (tmp_path / "run").exists()
