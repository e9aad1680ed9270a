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
