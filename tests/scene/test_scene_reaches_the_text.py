"""The scene fields reach the words other agents read: the WISA caption (the video model's text), the
physics prompt an LLM annotator sees, and the music brief."""

from __future__ import annotations

from filmcrew.llm.offline_physics import _caption
from filmcrew.llm.offline_planner import plan_request
from filmcrew.llm.prompts import render
from filmcrew.scene import describe_scene
from filmcrew.schemas import DYNAMICS, OPTICS, STATE_CHANGES, THERMODYNAMICS, PhysicsAnnotation
from filmcrew.tools.video.wisa.pipeline import text_for

PLATES = "A stack of six plates topples off a shelf and smashes on the kitchen floor."


def _action(plan):
    return next(s for s in plan.shots if s.kind == "action")


def test_the_wisa_text_names_count_arrangement_place_and_action():
    plan = plan_request(PLATES, None)
    shot = _action(plan)
    ann = PhysicsAnnotation(shot_id=shot.id, caption=_caption(shot), physics_text="Gravity acts.")
    text = text_for(ann).lower()
    assert "six plates stacked on a shelf" in text
    assert "kitchen" in text and "topple off the shelf" in text and "floor" in text


def test_the_physics_prompt_carries_the_scene():
    plan = plan_request(PLATES, None)
    shot = _action(plan)
    prompt = render("physics", global_prompt=plan.global_prompt, shot=shot, scene=describe_scene(shot),
                    dynamics=DYNAMICS, thermodynamics=THERMODYNAMICS, optics=OPTICS,
                    state_changes=STATE_CHANGES).text
    assert "Scene: Six plates stacked on a shelf" in prompt
    assert "plate (ceramic, 6 in a stack)" in prompt


def test_the_music_brief_reads_the_scene():
    plan = plan_request(PLATES, None)
    assert plan.music_brief.scene.startswith("six plates stacked in the kitchen")
    assert "topple off the shelf" in plan.music_brief.action
    boat = plan_request("A toy boat drifts down a river, past two rocks, and goes over a small waterfall.", 30)
    assert "river" in boat.music_brief.scene and "toy boat" in boat.music_brief.scene
    assert "falls over the waterfall" in boat.music_brief.action


def test_a_plan_without_scene_fields_keeps_the_old_caption():
    plan = plan_request(PLATES, None)
    shot = _action(plan).model_copy(update={"actions": [], "relations": [], "scenery": [], "place": None,
                                            "subjects": [s.model_copy(update={"count": 1}) for s in _action(plan).subjects]})
    assert _caption(shot).endswith(f"{'; then '.join(shot.events)}.")
