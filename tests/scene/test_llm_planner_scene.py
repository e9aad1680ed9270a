"""The LLM planner speaks the scene language: the real ChatOpenAI client against the loopback server,
with a recorded plan that names a thing the shot does not have, sent back as repair text and fixed."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from filmcrew.agents.planner import check_plan
from filmcrew.artifacts import ArtifactStore
from filmcrew.config import Settings
from filmcrew.llm.chat import CrewLLM
from filmcrew.llm.prompts import render
from filmcrew.schemas import StoryPlan
from filmcrew.tracing import Tracer
from tests.llm.openai_stub import OpenAIStub

REQUEST = "A stack of six plates topples off a shelf and smashes on the kitchen floor."
RECORDED = json.loads((Path(__file__).parents[1] / "data" / "llm_plan_plates.json").read_text("utf-8"))


def _fixed() -> dict:
    plan = copy.deepcopy(RECORDED)
    plan["shots"][1]["actions"][0]["target"] = "shelf"
    return plan


def _llm(stub: OpenAIStub, tmp_path) -> CrewLLM:
    settings = Settings(llm="openai:stub-model", llm_base_url=stub.base_url, llm_max_repairs=2)
    store = ArtifactStore(tmp_path, Tracer(tmp_path / "trace.jsonl", run_id="t"))
    return CrewLLM(settings.llm, settings=settings, store=store)


def test_the_prompt_and_the_function_schema_carry_the_scene_language():
    prompt = render("planner", request=REQUEST, duration_s=12.0, min_shots=3, feedback="").text
    assert "Worked examples" in prompt and '"arrangement": "stack"' in prompt
    assert "every beat is performed" in prompt
    schema = json.dumps(StoryPlan.model_json_schema())
    for word in ("arrangement", "story_role", "scenery", "relations", "actions", "beats", "waterfall"):
        assert word in schema


def test_a_broken_scene_rule_goes_back_to_the_model_and_is_repaired(tmp_path):
    prompt = render("planner", request=REQUEST, duration_s=12.0, min_shots=3, feedback="")
    with OpenAIStub([RECORDED, _fixed()]) as stub:
        plan = _llm(stub, tmp_path).structured(
            "planner", StoryPlan, prompt, offline=lambda: pytest.fail("offline used"),
            check=lambda p: check_plan(p, 12.0), role="the director and planner")
    assert len(stub.requests) == 2
    repair = json.dumps(stub.requests[1]["messages"])
    assert "cupboard" in repair and "not a subject or scenery" in repair and "shot-2" in repair
    tool = stub.requests[0]["tools"][0]["function"]
    assert tool["name"] == "StoryPlan" and "actions" in json.dumps(tool["parameters"])
    action = plan.shots[1].actions[0]
    assert (action.subject, action.verb, action.path, action.target) == ("plate", "topple", "off", "shelf")
    assert plan.shots[0].subjects[0].count == 6 and plan.shots[0].setting == "indoor"  # from the place


def test_a_beat_in_no_shot_is_a_rule_break_too():
    plan = StoryPlan.model_validate(_fixed())
    check_plan(plan, 12.0)
    broken = plan.model_copy(update={"beats": [*plan.beats, "the cat walks in"]})
    with pytest.raises(ValueError, match="beat 3"):
        check_plan(broken, 12.0)
