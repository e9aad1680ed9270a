"""The previz stages the plan's scene: scenery, counts and arrangements, actions in their windows."""

from __future__ import annotations

import itertools

import numpy as np

from filmcrew.schemas import Shot
from filmcrew.tools.video.previz import render_previz
from filmcrew.tools.video.previz.render import record_play
from filmcrew.tools.video.previz.spec import scene_spec
from filmcrew.tools.video.previz.stagecraft import arrangement_offsets

FPS = 12


def _shot(**kw: object) -> Shot:
    base = {"id": "s", "local_prompt": "a scene", "duration_s": 3.0}
    return Shot.model_validate({**base, **kw})


def _plates(start: float = 0.3, end: float = 0.7, duration: float = 3.0) -> Shot:
    return _shot(duration_s=duration, place="kitchen",
                 subjects=[{"name": "plate", "kind": "plate", "material": "ceramic", "count": 6,
                            "arrangement": "stack"}],
                 scenery=[{"name": "shelf", "kind": "shelf"}],
                 relations=[{"subject": "plate", "relation": "on", "object": "shelf"}],
                 actions=[{"subject": "plate", "verb": "topple", "path": "off", "target": "shelf",
                           "start": start, "end": end}])


def test_old_shots_are_not_staged_and_scene_shots_are():
    old = Shot(id="a", local_prompt="a ball", duration_s=1.0)
    assert scene_spec(old) is None
    spec = scene_spec(_plates())
    assert spec is not None and spec.staged
    assert spec.actions[0].t0 == 0.3 * 3.0  # fractions of the shot become world seconds


def test_arrangements_place_each_body_once():
    stack = arrangement_offsets(6, "stack", 0.25, 0.03, "box")
    assert [round(y, 3) for _, y in stack] == [0.0, 0.03, 0.06, 0.09, 0.12, 0.15]
    wall = arrangement_offsets(12, "wall", 0.22, 0.07, "box")
    assert len({(round(x, 3), round(y, 3)) for x, y in wall}) == 12
    assert len({round(y, 3) for _, y in wall}) > 1  # courses, not one long row
    row = arrangement_offsets(5, "row", 0.04, 0.24, "box")
    assert all(b[0] - a[0] > 0.04 for a, b in itertools.pairwise(row))
    pile = arrangement_offsets(6, "pile", 0.1, 0.1, "circle")
    assert max(y for _, y in pile) > 0  # stacked in layers


def test_stack_waits_on_the_shelf_then_topples_off_in_its_window():
    rec = record_play(_plates(), None, fps=FPS, seed=0)
    assert rec is not None
    names = rec.groups["plate"]
    assert len(names) == 6
    shelf = next(p for p in rec.pieces if p.name == "shelf")
    bottoms = sorted(rec.pos[n][0, 1] - rec.sizes[n][1] / 2 for n in names)
    assert abs(bottoms[0] - shelf.top) < 0.01  # the stack stands on the shelf at the first frame
    before = int(0.25 * 3.0 * FPS)
    assert all(np.hypot(*(rec.pos[n][before] - rec.pos[n][0])) < 0.02 for n in names)
    off = [n for n in names if rec.pos[n][-1, 1] < shelf.top - 0.3]
    assert len(off) >= 4  # most of the stack went over the edge by the end


def test_wrecking_ball_hangs_swings_and_knocks_the_wall():
    shot = _shot(duration_s=3.0, place="construction site",
                 subjects=[{"name": "wrecking ball", "kind": "ball", "material": "rubber"},
                           {"name": "brick", "kind": "brick", "material": "ceramic", "count": 8,
                            "arrangement": "wall"}],
                 actions=[{"subject": "wrecking ball", "verb": "swing", "path": "into",
                           "target": "brick", "start": 0.1, "end": 0.6}])
    rec = record_play(shot, None, fps=FPS, seed=0)
    assert rec is not None and "wrecking ball" in rec.pendulums
    pivot = np.array(rec.pendulums["wrecking ball"])
    ball = rec.pos["wrecking ball"]
    radius = np.hypot(*(ball - pivot).T)
    assert np.ptp(radius) < 0.05  # it stays on its cable
    moved = [n for n in rec.groups["brick"] if np.hypot(*(rec.pos[n][-1] - rec.pos[n][0])) > 0.1]
    assert len(moved) >= 3


def test_the_current_carries_a_floating_boat_downstream():
    shot = _shot(duration_s=4.0, place="river",
                 subjects=[{"name": "toy boat", "kind": "box", "material": "wood"}],
                 scenery=[{"name": "river", "kind": "river"}],
                 relations=[{"subject": "toy boat", "relation": "on", "object": "river"}],
                 actions=[{"subject": "toy boat", "verb": "drift", "path": "down", "target": "river"}])
    rec = record_play(shot, None, fps=FPS, seed=0)
    assert rec is not None
    track = rec.pos["toy boat"]
    assert track[-1, 0] - track[0, 0] > 1.0
    assert np.all(np.abs(track[:, 1]) < 0.15)  # it floats at the surface (y = 0) all the way


def test_a_glider_lands_in_the_bin():
    shot = _shot(duration_s=4.0, place="classroom",
                 subjects=[{"name": "paper plane", "kind": "object", "material": "paper"}],
                 scenery=[{"name": "bin", "kind": "bin"}],
                 actions=[{"subject": "paper plane", "verb": "glide", "path": "across",
                           "start": 0.1, "end": 0.6},
                          {"subject": "paper plane", "verb": "land", "path": "into", "target": "bin",
                           "start": 0.6, "end": 0.9}])
    rec = record_play(shot, None, fps=FPS, seed=0)
    assert rec is not None
    bin_ = next(p for p in rec.pieces if p.kind == "bin")
    x, y = rec.pos["paper plane"][-1]
    assert bin_.span[0] < x < bin_.span[1] and y < bin_.height
    assert rec.pos["paper plane"][0, 1] > 1.0  # it was thrown from hand height


def test_a_classroom_looks_like_one():
    shot = _shot(duration_s=0.25, place="classroom",
                 subjects=[{"name": "paper plane", "kind": "object", "material": "paper"}],
                 scenery=[{"name": "bin", "kind": "bin"}])
    clip = render_previz(shot, None, width=320, height=180, fps=FPS, overlay=False)
    board = np.abs(clip.frames[0].astype(int) - (40, 70, 55)).sum(-1) < 10
    assert board.mean() > 0.02  # the blackboard is in the shot
