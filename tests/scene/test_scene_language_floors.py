"""The offline planner on the labelled scene-language set stays above floors a little under the
recorded numbers (benchmarks/RESULTS.md), so that a regression fails CI."""

from __future__ import annotations

import pytest

from filmcrew.eval.scene_language import load, score_planner
from filmcrew.llm.offline_planner import plan_request
from filmcrew.schemas import StoryPlan

FLOORS = {"main_actor": 1.0, "subject_recall": 0.93, "subject_precision": 0.88, "counts_exact": 0.92,
          "arrangement_exact": 0.92, "scenery_recall": 0.93, "action_recall": 0.9,
          "action_precision": 0.9, "relation_recall": 0.85, "relation_precision": 0.82, "beats_one_per_shot": 0.92, "place": 0.9}


def test_the_labelled_set_is_big_and_varied():
    records = load()
    assert len(records) >= 80
    assert len({r["request"] for r in records}) == len(records)
    assert sum(r["beats"] > 1 for r in records) >= 10
    assert sum(any(s["count"] > 1 for s in r["subjects"]) for r in records) >= 20
    assert len({a[1] for r in records for a in r["actions"]}) >= 25  # verbs


def test_offline_planner_holds_its_floors():
    table = score_planner(lambda r: plan_request(r, None, min_shots=3)).table()
    low = {k: round(table[k], 3) for k, floor in FLOORS.items() if table[k] < floor}
    assert not low, f"below the floor: {low}"


def test_the_scorer_can_fail():
    """A planner that keeps only one subject and no actions scores far under the floors."""
    def bare(request: str) -> StoryPlan:
        plan = plan_request(request, None, min_shots=3)
        shots = [s.model_copy(update={"actions": [], "relations": [], "scenery": [],
                                      "subjects": s.subjects[:1]}) for s in plan.shots]
        return plan.model_copy(update={"shots": shots, "beats": []})

    table = score_planner(bare, load()[:20]).table()
    assert table["action_recall"] == 0 and table["beats_one_per_shot"] < 0.2
    with pytest.raises(AssertionError):
        assert table["scenery_recall"] >= FLOORS["scenery_recall"]
