"""The whole crew driven by a real chat client: `filmcrew run` with FILMCREW_LLM and
FILMCREW_LLM_BASE_URL pointing at a loopback OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from filmcrew.tracing import read_trace
from tests.llm.openai_stub import OpenAIStub

PLAN = {
    "global_prompt": "A steel ball and a wooden crate on a concrete floor, daylight, cinematic.",
    "style": "cinematic",
    "shots": [
        {"id": f"shot-{i}", "local_prompt": p, "events": [p], "duration_s": d,
         "camera": {"scale": sc, "move": "static", "time_scale": 1.0},
         "subjects": [{"name": "ball", "kind": "ball", "material": "steel", "role": "moving"},
                      {"name": "crate", "kind": "box", "material": "wood", "role": "static"}],
         "setting": "ground", "time_of_day": "day"}
        for i, (p, d, sc) in enumerate([("the steel ball rolls", 1.0, "wide"),
                                        ("the ball hits the crate", 1.5, "medium"),
                                        ("the crate slides", 1.5, "close-up")], 1)
    ],
    "music_brief": {"scene": "warehouse", "brightness": "neutral", "color_tone": "grey",
                    "action": "a ball hits a crate", "emotional_tone": "tense",
                    "shot_scale": "wide to close-up", "theme": "impact",
                    "description": "tense low strings with hits", "key": "A", "mode": "minor",
                    "tempo_bpm_min": 90, "tempo_bpm_max": 110, "instruments": ["strings"]},
}


def annotation_answer(body: dict) -> dict:
    """The stub's physics annotation for the shot the prompt names."""
    shot = re.search(r'Set shot_id to "([^"]+)"', body["messages"][1]["content"]).group(1)
    return {"shot_id": shot, "caption": "a steel ball rolls into a crate",
            "physics_text": "momentum passes from the ball to the crate on impact",
            "dynamics": ["collision", "rigid body motion"], "thermodynamics": [], "optics": [],
            "camera_motion": False, "state_changes": ["no change"],
            "materials": [{"name": "steel", "density_min": 7.85, "density_max": 7.85}],
            "time_range_s": [0, 4], "temperature_c": [20, 25]}


def answer(body):
    tool = body["tools"][0]["function"]["name"]
    text = body["messages"][-1]["content"] if isinstance(body["messages"][-1]["content"], str) else ""
    if tool == "StoryPlan":
        if sum(1 for m in body["messages"] if m["role"] == "user") == 1:
            return {**PLAN, "shots": PLAN["shots"][:2]}  # durations add up to 2.5 s, not 4: repaired
        return PLAN
    if tool == "PhysicsAnnotation":
        return annotation_answer(body)
    if tool == "Critique":
        reviewer = re.search(r"You are the (\w+) reviewer", body["messages"][1]["content"]).group(1)
        return {"reviewer": reviewer, "passed": True, "reasons": [], "measured": {}}
    raise AssertionError(f"unexpected tool {tool} {text[:80]}")


def test_cli_run_with_an_openai_compatible_server(tmp_path):
    run_dir = tmp_path / "run"
    with OpenAIStub(answer) as stub:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FILMCREW_")}
        env.update(FILMCREW_LLM="openai:stub-model", FILMCREW_LLM_BASE_URL=stub.base_url)
        res = subprocess.run([sys.executable, "-m", "filmcrew", "run", "a ball hits a crate",
                              "--run-dir", str(run_dir), "--yes", "--duration", "4",
                              "--candidates", "1", "--width", "128", "--height", "72"],
                             env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"LLM: openai:stub-model at {stub.base_url}" in res.stderr
    tools = [r["tools"][0]["function"]["name"] for r in stub.requests]
    assert tools.count("StoryPlan") == 2  # the first plan broke the duration rule and was repaired
    assert tools.count("PhysicsAnnotation") == 3 and tools.count("Critique") == 5
    report = json.loads((run_dir / "report.json").read_text())
    assert [s["prompt"] for s in report["shots"]] == [s["local_prompt"] for s in PLAN["shots"]]
    llm = [r for r in read_trace(run_dir / "trace.jsonl") if r["kind"] == "llm"]
    assert {r["name"] for r in llm} == {"openai:stub-model"}
    assert next(r for r in llm if r["node"] == "planner")["attempts"] == 2
    assert "OPENAI_API_KEY" not in (run_dir / "trace.jsonl").read_text()
