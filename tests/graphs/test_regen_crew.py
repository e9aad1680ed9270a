"""REGEN in the crew on a tiny random model: candidate clips kept as latents, the film raised to a
higher frame rate by decoding in-between frames; without a trained checkpoint, a clear early error."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from filmcrew import runner
from filmcrew.config import RunOptions
from filmcrew.tools.media import probe


def test_latents_and_interpolation_make_a_film_at_the_new_rate(tmp_path):
    opts = RunOptions(duration_s=2.0, fps=12, candidates=1, beam=1, width=128, height=72,
                      store_latents=True, interpolate_fps=24, debug_models=True, max_critic_rounds=0)
    result = runner.start("A red ball drops onto a table and bounces. Calm piano.", opts, tmp_path)
    assert result.status == "done"
    info = probe(result.final)
    assert info.video_frames == 48 and round(info.fps) == 24  # round(2 s · 24 fps), exactly
    assert abs(info.audio_duration_s - 2.0) <= 1 / 24
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["fps"] == 24 and report["frames"] == 48
    clips = [c["clip"] for c in result.state["candidates"].values()]
    for clip in clips:  # each candidate is the decode of a latents file that holds far fewer numbers
        latents = tmp_path / clip["meta"]["latents_uri"]
        assert latents.suffix == ".safetensors" and latents.is_file()
        pixels = clip["meta"]["frames"] * 128 * 72 * 3
        assert clip["meta"]["latents_numbers"] * 30 < pixels  # 8×8×4: 48× less, chunks share frames


def test_regen_paths_need_a_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="FILMCREW_REGEN_CHECKPOINT"):
        runner.start("a ball bounces", RunOptions(interpolate_fps=48), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_train_regen_command_writes_a_resumable_checkpoint(tmp_path):
    out = tmp_path / "regen.safetensors"
    cmd = [sys.executable, "-m", "filmcrew", "train-regen", str(tmp_path / "clips"), "--out",
           str(out), "--previz", "2", "--steps", "2", "--debug-models"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(out) and out.is_file()
    assert len(list((tmp_path / "clips").rglob("*.mp4"))) == 2
    again = [sys.executable, "-m", "filmcrew", "train-regen", str(tmp_path / "clips"), "--out",
             str(out), "--steps", "3", "--debug-models"]
    res = subprocess.run(again, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "step 3" in res.stderr  # continued from step 2
