"""Chat edits reach the scene fields: 'make the boat faster' and 'add a third rock' change the plan's
subjects, actions and scenery, and leave every other shot field as it was."""

from __future__ import annotations

import pytest

from filmcrew.agents.director import _check, apply_turn
from filmcrew.llm.offline_chat import interpret
from filmcrew.llm.offline_planner import plan_request
from filmcrew.llm.prompts import render
from filmcrew.schemas import ChatTurn, SceneEdit

BOAT = "A toy boat drifts down a river, past two rocks, and goes over a small waterfall."


@pytest.fixture(scope="module")
def plan():
    return plan_request(BOAT, 30.0)


def test_make_the_boat_faster_raises_its_pace_and_the_current(plan):
    turn = interpret("make the boat faster", plan)
    assert turn.kind == "edit" and turn.scene_edits == [SceneEdit(op="faster", subject="toy boat")]
    edited = apply_turn(plan, turn, 24)
    assert all(a.pace == 1.5 for s in edited.shots for a in s.actions if a.subject == "toy boat")
    river = [sc.speed_m_s for s in edited.shots for sc in s.scenery if sc.kind == "river"]
    before = [sc.speed_m_s for s in plan.shots for sc in s.scenery if sc.kind == "river"]
    assert river == [pytest.approx(b * 1.5) for b in before]
    assert [s.duration_s for s in edited.shots] == pytest.approx([s.duration_s for s in plan.shots], abs=0.05)
    slower = apply_turn(plan, interpret("slow the boat down", plan), 24)
    assert all(a.pace < 1 for s in slower.shots for a in s.actions if a.subject == "toy boat")


def test_add_a_third_rock_sets_the_count_where_the_rocks_are(plan):
    turn = interpret("add a third rock", plan)
    assert turn.scene_edits == [SceneEdit(op="count", subject="rock", count=3)]
    edited = apply_turn(plan, turn, 24)
    counts = [x.count for s in edited.shots for x in s.subjects if x.name == "rock"]
    assert counts and all(c == 3 for c in counts)
    untouched = [s for s, t in zip(plan.shots, edited.shots, strict=True) if "rock" not in {x.name for x in s.subjects}]
    assert untouched and all(s.actions == t.actions for s, t in zip(plan.shots, edited.shots, strict=True)
                             if s in untouched)
    assert interpret("two more rocks", plan).scene_edits[0].count == 4


def test_shot_edits_still_win_when_a_shot_is_named(plan):
    turn = interpret("make the third shot longer", plan)
    assert turn.shot_edits and not turn.scene_edits


def test_an_edit_of_a_subject_the_plan_lacks_is_refused(plan):
    with pytest.raises(ValueError, match="not a subject of the plan"):
        _check(ChatTurn(kind="edit", scene_edits=[SceneEdit(op="faster", subject="giraffe")]), plan, 24)


def test_the_chat_prompt_shows_subjects_and_scene_edits(plan):
    text = render("chat", message="add a third rock", plan=plan, duration_s=30.0).text
    assert "rock ×2" in text and "scene_edits" in text


def test_an_llm_director_edits_the_scene_through_the_real_client(plan, tmp_path):
    """ChatOpenAI against the loopback server: a scene edit naming a subject the plan lacks is sent
    back, the corrected one applies."""
    from filmcrew.artifacts import ArtifactStore
    from filmcrew.config import Settings
    from filmcrew.llm.chat import CrewLLM
    from filmcrew.tracing import Tracer
    from tests.llm.openai_stub import OpenAIStub

    wrong = {"kind": "edit", "scene_edits": [{"op": "count", "subject": "stone", "count": 3}],
             "reply": "Adding a third stone."}
    right = {"kind": "edit", "scene_edits": [{"op": "count", "subject": "rock", "count": 3}],
             "reply": "Adding a third rock."}
    prompt = render("chat", message="add a third rock", plan=plan, duration_s=30.0)
    with OpenAIStub([wrong, right]) as stub:
        settings = Settings(llm="openai:stub-model", llm_base_url=stub.base_url, llm_max_repairs=2)
        llm = CrewLLM(settings.llm, settings=settings,
                      store=ArtifactStore(tmp_path, Tracer(tmp_path / "trace.jsonl", run_id="t")))
        turn = llm.structured("director:1", ChatTurn, prompt, offline=lambda: pytest.fail("offline"),
                              check=lambda t: _check(t, plan, 24), role="the director")
    assert len(stub.requests) == 2 and "not a subject of the plan" in str(stub.requests[1]["messages"])
    edited = apply_turn(plan, turn, 24)
    assert {x.count for s in edited.shots for x in s.subjects if x.name == "rock"} == {3}
