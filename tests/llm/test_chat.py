"""The real-provider path: ChatOpenAI (through init_chat_model and FILMCREW_LLM_BASE_URL) against a
loopback OpenAI-compatible server that answers valid and invalid structured outputs."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from filmcrew.artifacts import ArtifactStore
from filmcrew.config import Settings
from filmcrew.llm.chat import CrewLLM, StructuredOutputError
from filmcrew.llm.prompts import RenderedPrompt, render
from filmcrew.tracing import Tracer, read_trace
from tests.llm.openai_stub import OpenAIStub


class Beat(BaseModel):
    title: str
    seconds: float = Field(gt=0)


PROMPT = RenderedPrompt("test", "Name one beat of the film.", "0" * 64)


def make_llm(stub: OpenAIStub, tmp_path, **kw) -> CrewLLM:
    settings = Settings(llm="openai:stub-model", llm_base_url=stub.base_url, llm_max_repairs=2, **kw)
    store = ArtifactStore(tmp_path, Tracer(tmp_path / "trace.jsonl", run_id="t"))
    return CrewLLM(settings.llm, settings=settings, store=store)


def test_valid_answer_is_parsed_cached_and_traced(tmp_path):
    with OpenAIStub([{"title": "the fall", "seconds": 2.5}]) as stub:
        llm = make_llm(stub, tmp_path)
        beat = llm.structured("planner", Beat, PROMPT, offline=lambda: pytest.fail("offline used"))
        again = llm.structured("planner", Beat, PROMPT, offline=lambda: pytest.fail("offline used"))
    assert beat == again == Beat(title="the fall", seconds=2.5)
    assert len(stub.requests) == 1  # the second call was served from the store
    assert stub.requests[0]["model"] == "stub-model"
    recs = read_trace(tmp_path / "trace.jsonl")
    assert [(r["kind"], r["cached"]) for r in recs] == [("llm", False), ("llm", True)]
    assert recs[0]["tokens"]["total_tokens"] == 15


def test_invalid_answers_are_repaired_with_the_error_fed_back(tmp_path):
    answers = ['{"title": "the fall", "seconds": ', {"title": "the fall", "seconds": -1},
               {"title": "the fall", "seconds": 3}]
    with OpenAIStub(answers) as stub:
        beat = make_llm(stub, tmp_path).structured("planner", Beat, PROMPT, offline=lambda: None)
    assert beat.seconds == 3
    assert len(stub.requests) == 3
    last = stub.requests[2]["messages"]
    feedback = [m["content"] for m in last if m["role"] in ("user", "tool")]
    assert any("seconds" in str(c) and "greater than 0" in str(c) for c in feedback)
    rec = read_trace(tmp_path / "trace.jsonl")[0]
    assert rec["attempts"] == 3


def test_business_rule_violation_goes_back_to_the_model(tmp_path):
    def check(b: Beat) -> None:
        if b.seconds > 10:
            raise ValueError(f"a beat of {b.seconds} s is too long; keep it ≤ 10 s")

    with OpenAIStub([{"title": "a", "seconds": 30}, {"title": "a", "seconds": 4}]) as stub:
        beat = make_llm(stub, tmp_path).structured("planner", Beat, PROMPT, offline=lambda: None,
                                                   check=check)
    assert beat.seconds == 4
    assert "too long" in str(stub.requests[1]["messages"])


def test_repairs_are_bounded(tmp_path):
    with OpenAIStub([{"title": 1}] * 5) as stub:
        llm = make_llm(stub, tmp_path)
        with pytest.raises(StructuredOutputError) as err:
            llm.structured("planner", Beat, PROMPT, offline=lambda: None)
    assert len(stub.requests) == 3  # one ask + llm_max_repairs re-asks
    assert "Beat" in str(err.value)


def test_offline_provider_answers_without_network(tmp_path):
    llm = CrewLLM("offline", store=ArtifactStore(tmp_path))
    assert llm.offline and "offline" in llm.describe()
    assert llm.structured("planner", Beat, PROMPT, offline=lambda: Beat(title="x", seconds=1)).title == "x"


def test_bad_llm_spec_is_a_clear_error():
    with pytest.raises(ValueError, match="provider:model"):
        CrewLLM("gpt4", settings=Settings()).model  # noqa: B018


def test_prompts_render_strictly_and_are_hashed():
    import jinja2

    p = render("critic", reviewer="mode", criteria="c", brief={"description": "d", "key": "C",
               "mode": "minor", "tempo_bpm_min": 90, "tempo_bpm_max": 110,
               "emotional_tone": "tense", "brightness": "dark"}, measured={"x": 1}, abc="X:1")
    assert "mode reviewer" in p.text and len(p.template_sha256) == 64
    with pytest.raises(jinja2.UndefinedError):
        render("critic", reviewer="mode")
