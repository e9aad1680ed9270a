"""WISA-format physics annotation: the 29/18 vectors are built from the parsed lists and values."""

from __future__ import annotations

import pytest

from filmcrew.schemas import (
    QUALITATIVE_LABELS,
    EditDecision,
    PhysicsAnnotation,
    parse_densities,
    parse_range,
    sci,
)

RECORD = {
    "en_caption": "A glass falls off a table and shatters.",
    "phys_law": "Gravity accelerates the glass; the impact exceeds its fracture strength.",
    "q0": "1. collision\n2. rigid body motion",
    "q1": "no obvious thermodynamic phenomenon",
    "q2": "reflection, refraction",
    "q3": "no",
    "q4": "object decomposition and splitting",
    "n0": "glass: 2.5 g/cm³ \n water: 0.998 g/cm³\n soil: 1.2 to 1.6 g/cm³",
    "n1": "0 to 5 seconds",
    "n2": "-10 to 0 degrees celsius",
}


def test_qualitative_vector_follows_wisa_order():
    a = PhysicsAnnotation.from_wisa_record("shot-1", RECORD)
    on = {QUALITATIVE_LABELS[i] for i, v in enumerate(a.qualitative) if v}
    assert len(a.qualitative) == 29
    assert on == {"collision", "rigid body motion", NO_T := "no obvious thermodynamic phenomenon",
                  "reflection", "refraction", "no", "object decomposition and splitting"}
    assert a.qualitative[QUALITATIVE_LABELS.index(NO_T)] == 1
    # exact-token matching: "motion" alone must not light up every "... motion" label
    b = PhysicsAnnotation.from_wisa_record("s", {**RECORD, "q0": "motion"})
    assert b.dynamics == [] and b.qualitative[6] == 1  # "no obvious dynamic phenomenon"


def test_quantitative_vector_has_densities_and_scientific_split():
    a = PhysicsAnnotation.from_wisa_record("shot-1", RECORD)
    q = a.quantitative
    assert len(q) == 18
    assert q[:6] == [2.5, 2.5, 0.998, 0.998, 1.2, 1.6] and q[6:10] == [0, 0, 0, 0]
    assert q[10:14] == [0.0, 0.0, 5.0, 0.0]  # t_min = 0 -> (0, 0); t_max = 5 -> (5, 0)
    assert q[14:18] == [-1.0, 1.0, 0.0, 0.0]  # T_min = -10 -> (-1, 1); T_max = 0 -> (0, 0)


@pytest.mark.parametrize("x,expected", [(120, (1.2, 2)), (0.05, (5.0, -2)), (-300, (-3.0, 2)),
                                        (1000, (1.0, 3)), (0, (0.0, 0.0))])
def test_sci(x, expected):
    c, e = sci(x)
    assert c == pytest.approx(expected[0]) and e == expected[1]


def test_parsers_and_defaults():
    assert parse_range("120 to 300 seconds", (0, 5)) == (120, 300)
    assert parse_range("unknown", (20, 25)) == (20, 25)
    assert parse_range("−10 to 0 °C", (20, 25)) == (-10, 0)
    assert [m.name for m in parse_densities("a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6")] == list("abcde")
    a = PhysicsAnnotation.from_wisa_record("s", {"en_caption": "x"})
    assert a.temperature_c == (20.0, 25.0)


def test_annotation_round_trips_through_its_own_json():
    a = PhysicsAnnotation.from_wisa_record("shot-1", RECORD)
    assert PhysicsAnnotation.model_validate_json(a.model_dump_json()) == a
    with pytest.raises(ValueError):
        PhysicsAnnotation(shot_id="s", caption="", physics_text="", time_range_s=(5, 1))


def test_cut_times_of_an_edit():
    e = EditDecision.model_validate({"order": [
        {"shot_id": "a", "candidate": 0, "in_s": 0, "out_s": 2},
        {"shot_id": "b", "candidate": 1, "in_s": 0.5, "out_s": 3.5},
        {"shot_id": "c", "candidate": 0, "in_s": 0, "out_s": 1}]})
    assert e.cut_times_s == [2.0, 5.0]


def test_plans_snap_to_whole_frames_without_losing_the_total():
    from filmcrew.agents.planner import snap_to_frames
    from filmcrew.schemas import StoryPlan

    brief = {"scene": "s", "brightness": "bright", "color_tone": "c", "action": "a",
             "emotional_tone": "calm", "shot_scale": "wide", "theme": "t", "description": "d"}
    plan = StoryPlan.model_validate({"global_prompt": "g", "music_brief": brief, "shots": [
        {"id": f"s{i}", "local_prompt": "x", "duration_s": 4 / 3} for i in range(3)]})
    for fps in (24, 25, 30):
        snapped = snap_to_frames(plan, fps, 4.0)
        frames = [round(s.duration_s * fps) for s in snapped.shots]
        assert sum(frames) == 4 * fps
        assert all(abs(s.duration_s * fps - n) < 1e-9 for s, n in zip(snapped.shots, frames, strict=True))
