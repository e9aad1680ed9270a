"""The offline planner speaks scenes: the four requests of issue 17 plan as they read."""

from __future__ import annotations

from filmcrew.llm.offline_planner import plan_request
from filmcrew.llm.offline_scene import split_beats
from filmcrew.scene import check_scene, describe_scene
from filmcrew.schemas import StoryPlan


def _action_shots(plan: StoryPlan):
    return [s for s in plan.shots if s.kind == "action"]


def _acts(plan: StoryPlan):
    return [(a.subject, a.verb, a.path, a.target) for s in _action_shots(plan) for a in s.actions]


def test_six_plates_stacked_on_a_shelf_topple_and_smash_on_the_kitchen_floor():
    plan = plan_request("A stack of six plates topples off a shelf and smashes on the kitchen floor.", None)
    check_scene(plan)
    (shot,) = _action_shots(plan)
    plate = next(s for s in shot.subjects if s.name == "plate")
    assert (plate.count, plate.arrangement, plate.story_role) == (6, "stack", "actor")
    assert {s.kind for s in shot.scenery} >= {"shelf", "floor"}
    assert shot.place == "kitchen" and shot.setting == "indoor"
    assert [(r.subject, r.relation, r.object) for r in shot.relations] == [("plate", "on", "shelf")]
    assert _acts(plan) == [("plate", "topple", "off", "shelf"), ("plate", "shatter", "onto", "floor")]
    assert "six plates stacked on a shelf" in describe_scene(shot).lower()
    assert len(plan.beats) == 1 and all(a.beat == 1 for a in shot.actions)


def test_wrecking_ball_swings_into_a_wall_of_bricks_that_scatter():
    plan = plan_request("A wrecking ball swings into a brick wall and the bricks scatter.", None)
    check_scene(plan)
    (shot,) = _action_shots(plan)
    subjects = {s.name: s for s in shot.subjects}
    assert subjects["wrecking ball"].count == 1 and subjects["wrecking ball"].kind == "ball"
    assert (subjects["brick"].count, subjects["brick"].arrangement) == (12, "wall")
    assert _acts(plan) == [("wrecking ball", "swing", "into", "brick"), ("brick", "scatter", None, None)]


def test_toy_boat_river_two_rocks_waterfall_is_three_shots_of_ten_seconds():
    plan = plan_request("A toy boat drifts down a river, past two rocks, and goes over a small waterfall. "
                        "30 seconds.", None)
    check_scene(plan)
    shots = _action_shots(plan)
    assert len(plan.beats) == 3 and len(shots) == 3
    assert all(s.duration_s >= 8 for s in shots)  # not three beats crammed into one shot
    assert all("toy boat" in {x.name for x in s.subjects} for s in shots)  # the actor is never dropped
    assert not any(x.name in ("river", "waterfall") for s in plan.shots for x in s.subjects)  # no puddles
    assert _acts(plan) == [("toy boat", "drift", "down", "river"), ("toy boat", "drift", "past", "rock"),
                           ("toy boat", "fall", "over", "waterfall")]
    rocks = next(x for x in shots[1].subjects if x.name == "rock")
    assert rocks.count == 2
    river = next(x for x in shots[0].scenery if x.kind == "river")
    assert river.flow in ("left", "right") and river.speed_m_s and river.speed_m_s > 0
    fall = next(x for x in shots[2].scenery if x.kind == "waterfall")
    assert fall.height_m is not None and fall.height_m < 3  # "a small waterfall"
    assert [a.beat for s in shots for a in s.actions] == [1, 2, 3]


def test_paper_plane_glides_across_a_classroom_indoors_and_lands_in_a_bin():
    plan = plan_request("a paper plane glides across a classroom and lands in a bin", None)
    check_scene(plan)
    assert "outdoors" not in plan.global_prompt and "classroom" in plan.global_prompt
    (shot,) = _action_shots(plan)
    assert shot.place == "classroom" and shot.setting == "indoor"
    plane = next(s for s in shot.subjects if s.name == "paper plane")
    assert plane.material == "paper"
    assert _acts(plan) == [("paper plane", "glide", "across", None), ("paper plane", "land", "into", "bin")]
    assert [s.kind for s in shot.scenery] == ["bin"]


def test_beats_split_on_acting_comma_parts_only():
    assert split_beats("a glass of water is knocked off a table and shatters") == [
        "a glass of water is knocked off a table and shatters"]
    assert len(split_beats("a red, blue and green ball roll down a ramp")) == 1
    assert len(split_beats("a ball rolls down a ramp, hits a box, and the box topples")) == 3


def test_colours_are_attributes_never_subjects():
    plan = plan_request("red and gold sparks fly from a campfire at night", None)
    names = {s.name for sh in plan.shots for s in sh.subjects}
    assert not names & {"red", "gold"}
    spark = next(s for sh in plan.shots for s in sh.subjects if s.name == "spark")
    assert spark.colors == ["red", "gold"] and spark.count > 1


def test_settings_follow_the_words():
    pan = plan_request("A saucepan of water boils on the stove.", None)
    assert {s.place for s in pan.shots} == {"kitchen"} and {s.setting for s in pan.shots} == {"indoor"}
    assert {"pan", "stove"} <= {x.kind for s in pan.shots for x in s.scenery}
    boat = plan_request("a canoe glides across a calm lake at sunrise", None)
    assert boat.shots[0].place == "lake" and boat.shots[0].setting == "water"
    assert boat.shots[0].time_of_day == "dawn"
