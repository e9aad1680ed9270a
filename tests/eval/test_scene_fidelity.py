"""Scene fidelity is measured from the simulated bodies, and it fails when the bodies do not act."""

from __future__ import annotations

import copy

import numpy as np

from filmcrew.eval.scene_fidelity import fidelity_of_record, run_mean, scene_fidelity
from filmcrew.llm.offline_planner import plan_request
from filmcrew.schemas import Shot
from filmcrew.tools.video.previz.render import record_play

#: The four requests of issue 17 and a few of its labelled set; the floor sits under what they
#: measure (1.0 each when this was written; benchmarks/RESULTS.md has the whole set).
REQUESTS = [
    "A stack of six plates topples off a shelf and smashes on the kitchen floor.",
    "A wrecking ball swings into a brick wall and the bricks scatter.",
    "A toy boat drifts down a river, past two rocks, and goes over a small waterfall. 30 seconds.",
    "a paper plane glides across a classroom and lands in a bin",
]
FLOOR = 0.9


def _plates() -> Shot:
    return Shot.model_validate({
        "id": "s", "local_prompt": "plates", "duration_s": 3.0, "place": "kitchen",
        "subjects": [{"name": "plate", "kind": "plate", "material": "ceramic", "count": 6,
                      "arrangement": "stack"}],
        "scenery": [{"name": "shelf", "kind": "shelf"}],
        "relations": [{"subject": "plate", "relation": "on", "object": "shelf"}],
        "actions": [{"subject": "plate", "verb": "topple", "path": "off", "target": "shelf",
                     "start": 0.3, "end": 0.7}]})


def test_a_staged_shot_passes_its_checks_and_a_still_one_fails_them():
    rec = record_play(_plates(), None, fps=12, seed=0)
    assert rec is not None
    good = fidelity_of_record(rec)
    assert good["score"] == 1.0 and good["total"] == 4  # present, scenery, start, action
    still = copy.copy(rec)
    still.pos = {n: np.repeat(p[:1], len(p), axis=0) for n, p in rec.pos.items()}
    bad = fidelity_of_record(still)
    assert bad["passed"] == 3 and any("topple" in f for f in bad["failures"])
    fewer = copy.copy(rec)
    fewer.pos = dict(rec.pos)
    fewer.pos["plate#6"] = np.full_like(rec.pos["plate#6"], np.nan)
    assert any("present" in f for f in fidelity_of_record(fewer)["failures"])


def test_a_relation_that_does_not_hold_fails():
    shot = _plates()
    rec = record_play(shot, None, fps=12, seed=0)
    assert rec is not None
    rec.spec.relations[0].relation = "under"
    out = fidelity_of_record(rec)
    assert any("start: plate under shelf" in f for f in out["failures"])


def test_old_plans_are_not_applicable():
    shot = Shot(id="a", local_prompt="a ball", duration_s=1.0)
    assert scene_fidelity(shot, None, fps=12, seed=0)["applicable"] is False


def test_offline_plans_of_the_issue_requests_hold_the_floor():
    runs = []
    for request in REQUESTS:
        plan = plan_request(request, None, min_shots=3)
        # no annotation: the default dynamics (rigid body motion and collision, which shatters)
        shots = [scene_fidelity(s, None, fps=24, seed=n)
                 for n, s in enumerate(plan.shots, 1) if s.kind == "action"]
        runs.append(run_mean(shots))
    assert all(r is not None for r in runs)
    assert float(np.mean(runs)) >= FLOOR, runs
