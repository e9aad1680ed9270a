"""Replaying recorded runs: served by (node, call index), strict about divergence, live where asked.

What a user notices: an unchanged replay reproduces the film's bytes without calling any provider or
tool; a changed prompt template is reported at the node that uses it, and with `--live` that node asks
the model again and only what follows it recomputes; a corrupted or hostile trace is refused clearly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from filmcrew import runner
from filmcrew.artifacts import ArtifactStore
from filmcrew.config import RunOptions
from filmcrew.replay import ReplayDivergence
from filmcrew.tracing import TraceError, read_trace
from tests.graphs.test_llm_crew import PLAN, annotation_answer
from tests.llm.openai_stub import OpenAIStub

SMALL = {"width": 128, "height": 72, "fps": 24, "candidates": 1, "beam": 2, "duration_s": 4.0}
STRICT = "Be strict: any onset away from a cut fails."


def stub_answer(body: dict) -> dict:
    """Plans, annotations and critiques; the rhythm reviewer fails its first review when its prompt
    carries the STRICT sentence (a changed template), and passes every later one."""
    tool = body["tools"][0]["function"]["name"]
    prompt = body["messages"][1]["content"]
    if tool == "StoryPlan":
        return PLAN
    if tool == "PhysicsAnnotation":
        return annotation_answer(body)
    reviewer = prompt.split("You are the ")[1].split(" reviewer")[0]
    first_strict = STRICT in prompt and "Melody (ABC)" in prompt and not stub_answer.failed
    if reviewer == "rhythm" and first_strict:
        stub_answer.failed = True
        return {"reviewer": reviewer, "passed": False, "measured": {},
                "reasons": ["onsets off the spots; snap onsets to the spots"]}
    return {"reviewer": reviewer, "passed": True, "reasons": [], "measured": {}}


stub_answer.failed = False


@pytest.fixture(scope="module")
def stub():
    with OpenAIStub(stub_answer) as s:
        yield s


def chat(stub: OpenAIStub):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="stub-model", base_url=stub.base_url, api_key="x", temperature=0)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, stub):
    run_dir = tmp_path_factory.mktemp("recorded") / "run"
    opts = RunOptions(llm="openai:stub-model", **SMALL)
    result = runner.start("a ball hits a crate", opts, run_dir, chat_model=chat(stub))
    assert result.status == "done"
    return run_dir


def test_unchanged_replay_reproduces_the_film_calling_nothing(recorded, tmp_path, stub, monkeypatch):
    asked = len(stub.requests)

    def no_compute(*args, **kwargs):
        raise AssertionError("a replay of an unchanged run computed an artifact")

    monkeypatch.setattr(ArtifactStore, "put", no_compute)
    result = runner.replay(recorded, tmp_path / "replay", chat_model=chat(stub))
    assert len(stub.requests) == asked  # no provider call
    assert result.report["computed"] == 0 and result.report["served"] > 20
    assert result.report["first_divergence"] is None
    assert result.final.read_bytes() == (recorded / "final.mp4").read_bytes()
    recs = read_trace(result.run_dir / "trace.jsonl")
    assert recs and all(r["replayed"] for r in recs if r["kind"] != "human")
    assert json.loads((result.run_dir / "replay.json").read_text())["same_final"] is True


def test_a_changed_template_is_reported_where_it_is_used(recorded, tmp_path, stub, monkeypatch):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    source = (Path(__file__).parents[1] / "filmcrew/prompts/critic.jinja").read_text()
    (prompts / "critic.jinja").write_text(source + "\n" + STRICT + "\n")
    monkeypatch.setenv("FILMCREW_PROMPTS_DIR", str(prompts))
    asked = len(stub.requests)
    with pytest.raises(ReplayDivergence) as err:
        runner.replay(recorded, tmp_path / "strict", chat_model=chat(stub))
    first = err.value.divergence
    assert (first.kind, first.node, first.call_index) == ("llm", "critic:mode", 0)
    assert "prompt template critic changed" in first.reason and "--live critic" in str(err.value)
    assert len(stub.requests) == asked
    report = json.loads((tmp_path / "strict/replay.json").read_text())
    assert report["status"] == "diverged" and report["first_divergence"]["node"] == "critic:mode"

    # Live critic: it asks the model again, the rhythm reviewer now fails, and only the music
    # (another composer round, the critics, the mix) and the render recompute.
    stub_answer.failed = False
    result = runner.replay(recorded, tmp_path / "live", live=["critic"], chat_model=chat(stub))
    nodes = result.report["nodes"]
    for upstream in ("planner", "physics", "generate", "shot_editor"):
        assert nodes[upstream]["computed"] == 0, upstream
    assert nodes["composer"]["computed"] >= 2  # the second round's score and stems
    assert nodes["mixer"]["computed"] == 1 and nodes["renderer"]["computed"] == 1
    assert nodes["composer"]["served"] >= 1  # the first round was unchanged
    assert result.report["first_divergence"]["node"] == "critic:mode"
    assert result.final.read_bytes() != (recorded / "final.mp4").read_bytes()
    critiques = json.loads((result.run_dir / "report.json").read_text())["music"]["critiques"]
    assert all(c["passed"] for c in critiques)  # the second round passed
    assert json.loads((result.run_dir / "report.json").read_text())["music"]["rounds"] == 2


@pytest.mark.parametrize("line, reason", [
    ("{not json", "not JSON"),
    (json.dumps({"kind": "exec", "node": "x", "name": "y", "params_hash": "0" * 64}), "unknown kind"),
    (json.dumps({"kind": "tool", "node": "x", "name": "y", "params_hash": "0" * 64,
                 "output": "../../etc/passwd"}), "artifact store"),
    (json.dumps({"kind": "llm", "node": "x", "name": "y", "params_hash": "'; rm -rf /"}), "sha256"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (json.dumps([1, 2]), "not a JSON object"),
])
def test_a_corrupted_trace_fails_cleanly(recorded, tmp_path, line, reason):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "run.json").write_text((recorded / "run.json").read_text())
    good = (recorded / "trace.jsonl").read_text().splitlines()
    (bad / "trace.jsonl").write_text("\n".join([*good[:3], line, *good[3:]]) + "\n")
    with pytest.raises(TraceError, match=reason) as err:
        read_trace(bad / "trace.jsonl")
    assert "trace.jsonl:4" in str(err.value)
    with pytest.raises(runner.RunError, match=r"trace\.jsonl:4"):
        runner.replay(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing was started


def test_cli_replay_reports_in_one_line(recorded, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "run.json").write_text((recorded / "run.json").read_text())
    (bad / "trace.jsonl").write_text('{"kind": "tool"}\n')
    res = subprocess.run([sys.executable, "-m", "filmcrew", "replay", str(bad / "trace.jsonl")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "trace.jsonl:1: not a trace record: missing name, node, params_hash" in res.stderr
    assert "Traceback" not in res.stderr
    res = subprocess.run([sys.executable, "-m", "filmcrew", "replay", str(recorded), "--live", "nope"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "--live nope: no such node" in res.stderr
