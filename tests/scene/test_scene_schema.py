"""The scene language in the plan: old plans load with defaults, the business rules catch what an LLM
gets wrong (with text it can act on), and the scene reads back as words."""

from __future__ import annotations

import pytest

from filmcrew.scene import check_scene, describe_scene, plan_problems
from filmcrew.schemas import Action, SceneRelation, Scenery, Shot, StoryPlan, Subject

OLD_PLAN = {  # a plan.json written before the scene fields existed
    "global_prompt": "Cinematic style. A ball, outdoors, daylight.",
    "shots": [{"id": "shot-1", "local_prompt": "Medium shot: a ball bounces", "events": ["a ball bounces"],
               "duration_s": 4.0, "camera": {"scale": "medium", "move": "static", "time_scale": 1.0},
               "subjects": [{"name": "ball", "kind": "ball", "material": "rubber", "role": "moving"}],
               "setting": "ground", "time_of_day": "day", "backend": None}],
    "music_brief": {"scene": "ball", "brightness": "bright", "color_tone": "warm", "action": "bounce",
                    "emotional_tone": "calm", "shot_scale": "medium", "theme": "play",
                    "description": "calm piano"},
    "style": "cinematic",
}


def _plates_shot(**kw) -> Shot:
    base = dict(
        id="shot-1", local_prompt="plates topple", duration_s=5.0, place="kitchen",
        subjects=[Subject(name="plate", kind="plate", material="ceramic", count=6, arrangement="stack")],
        scenery=[Scenery(name="shelf", kind="shelf", height_m=1.5), Scenery(name="floor", kind="floor")],
        relations=[SceneRelation(subject="plate", relation="on", object="shelf")],
        actions=[Action(subject="plate", verb="topple", path="off", target="shelf", end=0.5, beat=1),
                 Action(subject="plate", verb="shatter", path="onto", target="floor", start=0.5, beat=1)],
    )
    return Shot(**(base | kw))


def _plan(*shots: Shot, beats=("the plates topple and smash",)) -> StoryPlan:
    brief = StoryPlan.model_validate(OLD_PLAN).music_brief
    return StoryPlan(global_prompt="g", shots=list(shots), music_brief=brief, beats=list(beats))


def test_an_old_plan_without_scene_fields_loads_with_defaults_and_round_trips():
    plan = StoryPlan.model_validate(OLD_PLAN)
    shot, subject = plan.shots[0], plan.shots[0].subjects[0]
    assert (subject.count, subject.arrangement, subject.colors, subject.story_role) == (1, "single", [], "actor")
    assert (shot.place, shot.scenery, shot.relations, shot.actions, shot.kind) == (None, [], [], [], "action")
    assert plan.beats == [] and plan_problems(plan) == []
    assert StoryPlan.model_validate_json(plan.model_dump_json()) == plan


def test_place_implies_the_setting_unless_given():
    assert _plates_shot().setting == "indoor"
    assert Shot(id="s", local_prompt="x", duration_s=1, place="river").setting == "water"
    assert Shot(id="s", local_prompt="x", duration_s=1, place="kitchen", setting="table").setting == "table"


def test_a_sound_scene_passes_and_reads_as_the_request_does():
    plan = _plan(_plates_shot())
    check_scene(plan)
    text = describe_scene(plan.shots[0])
    assert "six plates stacked on a shelf" in text.lower()
    assert "topple off the shelf" in text and "kitchen" in text


@pytest.mark.parametrize(("change", "needle"), [
    ({"relations": [SceneRelation(subject="plate", relation="on", object="cupboard")]}, "'cupboard'"),
    ({"actions": [Action(subject="cup", verb="fall", beat=1)]}, "'cup'"),
    ({"actions": [Action(subject="plate", verb="fall", start=0.8, end=0.2, beat=1)]}, "0 <= start <= end"),
    ({"actions": [Action(subject="plate", verb="fall", target="bin", beat=1)]}, "'bin'"),
])
def test_each_broken_rule_is_named_in_the_repair_text(change, needle):
    with pytest.raises(ValueError, match="scene breaks") as e:
        check_scene(_plan(_plates_shot(**change)))
    assert needle in str(e.value)


def test_every_beat_is_performed_in_exactly_one_shot():
    one, two = _plates_shot(), _plates_shot(id="shot-2")
    with pytest.raises(ValueError, match="performed in 2 shots"):
        check_scene(_plan(one, two))
    check_scene(_plan(one, two.model_copy(update={"kind": "replay"})))  # a replay may repeat it
    with pytest.raises(ValueError, match=r"beat 2 .* is in no shot"):
        check_scene(_plan(one, beats=("topple", "sweep up")))


def test_counts_below_one_are_refused_by_the_schema():
    with pytest.raises(ValueError):
        Subject(name="plate", kind="plate", material="ceramic", count=0)
