"""The crew with the WISA video backend: tiny random models make a real film; no weights, a clear error.

What a user notices: `--video-backend wisa --debug-models` gives a final MP4 of the planned length and
size whose shots came from WISA, with progress per denoising step; without the weights the run stops
with one line naming what to download, and no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from filmcrew import runner
from filmcrew.config import RunOptions
from filmcrew.tools.protocols import VideoGenerator
from filmcrew.tools.video import WisaGenerator, video_backend

REQUEST = "A red rubber ball is dropped and bounces on the floor; a glass falls and shatters."


def test_whole_crew_renders_a_film_with_wisa_debug_models(tmp_path):
    from filmcrew.tools.media import probe

    assert isinstance(video_backend("wisa", debug_models=True), VideoGenerator)
    opts = RunOptions(duration_s=3.0, candidates=1, beam=1, seed=2, width=64, height=64, fps=12,
                      video_backend="wisa", debug_models=True, max_critic_rounds=0)
    events: list[dict] = []
    result = runner.start(REQUEST, opts, tmp_path / "film",
                          on_event=lambda mode, data: events.append(data) if mode == "custom" else None)
    assert result.status == "done"
    info = probe(result.final)
    plan = json.loads((result.run_dir / "plan.json").read_text())
    assert info.video_frames == sum(round(s["duration_s"] * 12) for s in plan["shots"]) == 36
    assert (info.width, info.height) == (64, 64) and info.audio_duration_s == pytest.approx(3.0, abs=1 / 12)

    candidates = result.state["candidates"]
    assert {c["backend"] for c in candidates.values()} == {"wisa"}
    for c in candidates.values():
        shot = next(s for s in plan["shots"] if s["id"] == c["shot_id"])
        clip = probe(result.run_dir / c["clip"]["uri"])
        assert clip.video_frames == round(shot["duration_s"] * 12)
    # progress: one event per denoising step, per candidate
    steps = {}
    for e in events:
        if e.get("node") == "generate":
            steps.setdefault(e["shot_id"], []).append((e["step"], e["total"]))
    n = WisaGenerator.DEBUG_STEPS
    assert set(steps) == {f"{s['id']}#0" for s in plan["shots"]}
    for key, c in candidates.items():
        if "sampler" in c["clip"]["meta"]:  # long multi-event shots go to SynCoS: per evaluation
            assert steps[key][-1] == (c["clip"]["meta"]["model_calls"],) * 2
        else:  # plain WISA: one event per denoising step
            assert steps[key] == [(i, n) for i in range(1, n + 1)]


def test_wisa_without_weights_is_one_line_naming_what_to_fetch(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILMCREW_")}
    env |= {"HF_HUB_CACHE": str(tmp_path / "empty-cache"), "COLUMNS": "500"}
    res = subprocess.run(
        [sys.executable, "-m", "filmcrew", "run", "a ball falls", "--video-backend", "wisa", "--yes",
         "--run-dir", str(tmp_path / "r"), "--duration", "2", "--width", "64", "--height", "64",
         "--candidates", "1"],
        capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "Traceback" not in out
    errors = [ln for ln in res.stderr.splitlines() if "error:" in ln]
    assert len(errors) == 1, res.stderr
    for needle in ("huggingface-cli download Wan-AI/Wan2.1-T2V-14B-Diffusers",
                   "huggingface-cli download qihoo360/WISA", "phys_weights.safetensors",
                   "--debug-models"):
        assert needle in errors[0]
    assert not (tmp_path / "r" / "final.mp4").exists()
