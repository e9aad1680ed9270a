"""The crew with RFLAV on tiny random models: ambient shots come with their own sound, which the
mixer lays under the score on the film's timeline; shots RFLAV cannot make go to previz."""

from __future__ import annotations

import json

import numpy as np

from filmcrew import runner
from filmcrew.config import RunOptions
from filmcrew.schemas import ArtifactRef
from filmcrew.tools.media import probe, read_audio

REQUEST = "A campfire crackles at night. Then a steel ball rolls across a table into a wooden block."


def test_ambient_shots_bring_their_sound_into_the_mix(tmp_path):
    opts = RunOptions(duration_s=4.0, candidates=1, beam=1, width=128, height=72,
                      video_backend="rflav", debug_models=True, max_critic_rounds=0)
    result = runner.start(REQUEST, opts, tmp_path)
    assert result.status == "done"
    report = json.loads((tmp_path / "report.json").read_text())
    backends = {s["id"]: s["backend"] for s in report["shots"]}
    assert "rflav" in backends.values() and "previz" in backends.values(), backends
    assert "ambience" in report["music"]["stems"]
    assert report["licenses"] == ["CC-BY-NC-4.0"]

    # the ambience stem sounds during the RFLAV shots and is silent during the others
    state = result.state
    amb_ref = ArtifactRef.model_validate(state["music"]["ambience"])
    amb, sr = read_audio(tmp_path / amb_ref.uri)
    amb = amb.mean(axis=1) if amb.ndim == 2 else amb
    starts = [0.0, *report["edit"]["cuts_s"]]
    ends = [*starts[1:], 4.0]
    for shot, a, b in zip(report["shots"], starts, ends, strict=True):
        rms = float(np.sqrt(np.mean(amb[round(a * sr) + 10:round(b * sr) - 10] ** 2)))
        if shot["backend"] == "rflav":
            assert rms > 1e-4, shot["id"]
        else:
            assert rms == 0.0, shot["id"]
    info = probe(result.final)
    assert info.video_frames == 4 * 24 and abs(info.audio_duration_s - 4.0) <= 1 / 24
