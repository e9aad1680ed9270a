"""The whole crew, end to end on the CPU defaults, at a small frame size.

What a user notices: a film of the planned length with sound, every output file, a second run that
recomputes nothing, an edited plan that is honoured, a killed run that resumes without redoing work.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from filmcrew import runner
from filmcrew.config import RunOptions
from filmcrew.tracing import read_trace

REQUEST = ("A red rubber ball is dropped and bounces on the floor, then rolls into a wooden block; "
           "a glass falls off a table and shatters. Tense strings.")
SMALL = {"width": 160, "height": 90, "fps": 24}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("film")
    opts = RunOptions(duration_s=6.0, candidates=2, beam=2, seed=3, **SMALL)
    events: list[tuple[str, object]] = []
    result = runner.start(REQUEST, opts, run_dir, on_event=lambda m, d: events.append((m, d)))
    return result, events


def test_film_has_the_planned_length_with_sound(finished):
    from filmcrew.tools.media import probe

    result, _ = finished
    assert result.status == "done"
    info = probe(result.final)
    plan = json.loads((result.run_dir / "plan.json").read_text())
    assert len(plan["shots"]) >= 3
    planned = sum(s["duration_s"] for s in plan["shots"])
    assert planned == pytest.approx(6.0, abs=0.01)
    expected = sum(round(s["duration_s"] * 24) for s in plan["shots"])
    assert info.video_frames == expected == 6 * 24
    assert (info.width, info.height) == (160, 90)
    assert abs(info.audio_duration_s - info.video_frames / 24) <= 1 / 24
    assert info.audio_sample_rate == 48000


def test_every_output_is_written(finished):
    result, _ = finished
    d = result.run_dir
    for name in ("final.mp4", "plan.json", "report.json", "timeline.otio", "trace.jsonl",
                 "checkpoints.sqlite", "run.json"):
        assert (d / name).is_file(), name
    assert any((d / "artifacts").rglob("*.mp4"))
    report = json.loads((d / "report.json").read_text())
    assert report["edit"]["scorer_calls"] <= len(report["shots"]) * 2 * 2  # n·B·k
    assert -15.0 <= report["music"]["lufs"] <= -13.0
    import sqlite3

    import opentimelineio as otio

    with sqlite3.connect(d / "checkpoints.sqlite") as db:  # no pickle anywhere in the checkpoints
        types = {t for (t,) in db.execute("select distinct type from checkpoints")}
        types |= {t for (t,) in db.execute("select distinct type from writes")}
        (largest,) = db.execute("select max(length(checkpoint)) from checkpoints").fetchone()
    assert largest < 64_000  # references, never media, in state
    assert types <= {"msgpack", "null", "empty"}, types

    timeline = otio.adapters.read_from_file(str(d / "timeline.otio"))
    assert len(timeline.video_tracks()[0].find_clips()) == len(report["shots"])


def test_music_is_audible_and_cut_to_the_picture(finished):
    import librosa

    from filmcrew.tools.media import read_audio

    result, _ = finished
    report = json.loads((result.run_dir / "report.json").read_text())
    state = result.state
    mix_path = result.run_dir / state["music"]["mix"]["uri"]
    audio, sr = read_audio(mix_path)
    mono = audio.mean(axis=1)
    assert np.sqrt(np.mean(mono**2)) > 0.01
    onsets = librosa.onset.onset_detect(y=mono, sr=sr, units="time", backtrack=False)
    for cut in report["edit"]["cuts_s"]:
        assert np.min(np.abs(onsets - cut)) < 0.06, f"no onset near the cut at {cut:.2f} s"


def test_trace_records_every_call(finished):
    result, _ = finished
    recs = read_trace(result.run_dir / "trace.jsonl")
    assert {r["kind"] for r in recs} == {"llm", "tool"}
    for r in recs:
        assert {"kind", "node", "name", "params_hash", "cached", "seconds"} <= r.keys()
    nodes = {r["node"].split(":")[0] for r in recs}
    assert {"planner", "physics", "generate", "shot_editor", "composer", "critic", "mixer",
            "renderer"} <= nodes


def test_progress_is_streamed(finished):
    _, events = finished
    progress = [d for m, d in events if m == "custom"]
    assert any(p["node"] == "generate" and p["step"] == p["total"] for p in progress)
    assert {"planner", "renderer"} <= {n for m, d in events if m == "updates" for n in d}


def test_second_run_in_the_same_dir_recomputes_nothing(finished):
    result, _ = finished
    before = (result.run_dir / "final.mp4").read_bytes()
    again = runner.start(REQUEST, RunOptions.model_validate(
        json.loads((result.run_dir / "run.json").read_text())["options"]), result.run_dir)
    recs = [r for r in read_trace(result.run_dir / "trace.jsonl") if r["run"] == again.run_id]
    assert recs and all(r["cached"] for r in recs), [r for r in recs if not r["cached"]]
    assert (again.run_dir / "final.mp4").read_bytes() == before


def test_an_edited_plan_is_honoured(tmp_path):
    def edit(request):
        plan = request["action_requests"][0]["args"]["plan"]
        plan["shots"] = plan["shots"][:3]
        for s in plan["shots"]:
            s["duration_s"] = 1.0
        return {"decisions": [{"type": "edit",
                               "edited_action": {"name": "approve_plan", "args": {"plan": plan}}}]}

    result = runner.start("a steel ball rolls across a table", RunOptions(candidates=1, **SMALL),
                          tmp_path, approve=edit)
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(report["shots"]) == 3 and report["frames"] == 72
    assert result.status == "done"


def test_a_rejected_plan_renders_nothing(tmp_path):
    result = runner.start("a steel ball rolls across a table", RunOptions(candidates=1, **SMALL),
                          tmp_path, approve=lambda req: {"decisions": [{"type": "reject"}]})
    assert result.status == "rejected" and not (tmp_path / "final.mp4").exists()
    assert not list((tmp_path / "artifacts").rglob("*.mp4"))


def test_killed_run_resumes_without_recomputing(tmp_path):
    run_dir = tmp_path / "killed"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILMCREW_")}
    cmd = [sys.executable, "-m", "filmcrew", "run", REQUEST, "--run-dir", str(run_dir), "--yes",
           "--duration", "6", "--candidates", "2", "--width", "160", "--height", "90", "--seed", "5"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 900  # a wait for an event, not a speed limit
    trace = run_dir / "trace.jsonl"
    while time.time() < deadline and proc.poll() is None:
        lines = trace.read_text().splitlines() if trace.exists() else []
        if sum('"node": "generate' in ln for ln in lines) >= 2:  # mid-generation: some clips done
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "final.mp4").exists()
    before = read_trace(run_dir / "trace.jsonl")
    finished_before = {r["params_hash"] for r in before if r["kind"] == "tool"}
    assert finished_before
    res = subprocess.run([sys.executable, "-m", "filmcrew", "resume", str(run_dir)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert (run_dir / "final.mp4").exists()
    recs = read_trace(run_dir / "trace.jsonl")
    recomputed = [r for r in recs[len(before):] if r["kind"] == "tool"
                  and r["params_hash"] in finished_before and not r["cached"]]
    assert recomputed == []
