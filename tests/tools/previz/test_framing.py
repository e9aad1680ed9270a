"""Framing, a glass of water, time-lapse and labels, as a director watching the previz would judge them.

The camera must show the action: a knocked glass stays in the frame from the table to the floor, and
the slow-motion close-up replay follows it down to the shatter. Water in a glass is drawn in the glass
and ends up on the floor when the glass breaks. A time-lapse does not drop things through the table.
Labels never sit on top of each other.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from filmcrew.catalog import MATERIALS
from filmcrew.schemas import Camera, PhysicsAnnotation, Shot, Subject
from filmcrew.tools.video.previz import PrevizClip, overlay, render_previz
from filmcrew.tools.video.previz.framing import Rehearsal, Setup, plan_views
from filmcrew.tools.video.previz.render import rehearse
from filmcrew.tools.video.previz.scene import Canvas

W, H, FPS = 320, 180, 24
GLASS = (0.08, 0.12)  # the catalog's glass, width and height in metres


def _glass_of_water(scale: str, time_scale: float = 1.0, duration_s: float = 2.5) -> Shot:
    return Shot(id="g", local_prompt="A glass of water is knocked off a table and shatters on the floor",
                events=["A glass of water is knocked off a table", "the glass shatters on the floor"],
                duration_s=duration_s, setting="table",
                camera=Camera(scale=scale, time_scale=time_scale),  # type: ignore[arg-type]
                subjects=[Subject(name="glass", kind="glass", material="glass", role="moving"),
                          Subject(name="water", kind="glass", material="water", role="moving"),
                          Subject(name="table", kind="table", material="wood", role="static")])


def _annotation(shot: Shot) -> PhysicsAnnotation:
    return PhysicsAnnotation(shot_id=shot.id, caption=shot.local_prompt, physics_text="",
                             dynamics=["collision", "rigid body motion", "liquid motion"],
                             state_changes=["object decomposition and splitting"])


def _render(shot: Shot, seed: int = 0) -> PrevizClip:
    return render_previz(shot, _annotation(shot), width=W, height=H, fps=FPS, seed=seed, overlay=False)


def _mask(frame: np.ndarray, material: str, tol: int = 40) -> np.ndarray:
    colour = np.array(MATERIALS[material].color, np.int16)
    return np.abs(frame.astype(np.int16) - colour).sum(-1) <= tol


def _in_frame(clip: PrevizClip, name: str) -> np.ndarray:
    """Per frame: is the subject's tracked centre inside the camera's view?"""
    t, v = clip.tracks[name], clip.views
    return (t[:, 0] > v[:, 0]) & (t[:, 0] < v[:, 2]) & (t[:, 1] > v[:, 1]) & (t[:, 1] < v[:, 3])


def _to_world(clip: PrevizClip, i: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    x0, _, x1, y1 = clip.views[i]
    ppm = W / (x1 - x0)
    return np.column_stack((x0 + (cols + 0.5) / ppm, y1 - (rows + 0.5) / ppm))


# --------------------------------------------------------------------------------------------------
# 1. The camera frames the action


@pytest.fixture(scope="module")
def medium() -> PrevizClip:
    return _render(_glass_of_water("medium"))


@pytest.fixture(scope="module")
def replay() -> PrevizClip:
    return _render(_glass_of_water("close-up", time_scale=0.25, duration_s=4.0))


def test_medium_shot_keeps_the_knocked_glass_in_frame_from_table_to_floor(medium: PrevizClip) -> None:
    glass = medium.tracks["glass"]
    assert glass[0, 1] > 0.75 and glass[-1, 1] < 0.1  # it went from the table top to the floor
    assert _in_frame(medium, "glass").mean() >= 0.9
    seen = np.array([(_mask(f, "glass") | _mask(f, "water")).sum() for f in medium.frames])
    assert (seen >= 4).mean() >= 0.9, "the glass is not on screen"
    assert np.allclose(medium.views, medium.views[0])  # a static medium holds still: the fall fits
    _, y0, _, y1 = medium.views[0]
    assert y0 < 0.0 < y1 and y0 < glass[0, 1] < y1  # floor and table top both in the shot


def test_slow_motion_close_up_follows_the_glass_down_to_the_shatter(medium: PrevizClip,
                                                                    replay: PrevizClip) -> None:
    shatter = next(e for e in replay.events if e.kind == "shatter")
    k = round(shatter.time_s * FPS)
    assert 0.3 * len(replay.frames) < k < 0.9 * len(replay.frames)  # slow motion: it falls for a while
    assert _in_frame(replay, "glass").mean() >= 0.9
    _, y0, _, y1 = replay.views[k]
    assert y0 < 0.0 < y0 + 0.3 * (y1 - y0)  # the floor it breaks on is in the lower part of the frame
    # a close-up: the glass is drawn several times bigger than in the medium shot
    ppm = [W / (c.views[0, 2] - c.views[0, 0]) for c in (medium, replay)]
    assert ppm[1] > 2.5 * ppm[0]
    area = [(_mask(c.frames[0], "glass") | _mask(c.frames[0], "water")).sum() for c in (medium, replay)]
    assert area[1] > 6 * area[0] > 0
    assert (replay.views[:, 3] - replay.views[:, 1]).max() < 6 * GLASS[1]  # about 3.5 glasses tall


def test_rehearsal_sees_exactly_what_is_rendered(medium: PrevizClip) -> None:
    """The dry run the camera is planned from repeats, body for body, the run that is drawn."""
    shot = _glass_of_water("medium")
    r, setup = rehearse(shot, _annotation(shot), aspect=W / H, fps=FPS, seed=0, total=len(medium.frames))
    assert np.array_equal(r.tracks["glass"], medium.tracks["glass"])
    assert [(e.time_s, e.kind) for e in r.events if e.kind != "splash"] == \
           [(e.time_s, e.kind) for e in medium.events if e.kind != "splash"]
    assert np.allclose(plan_views(r, setup), medium.views)


def test_wide_takes_in_every_path_and_close_up_frames_the_key_moment() -> None:
    """Framing alone, on made-up tracks: a ball rolls 6 m and a crate waits; impact at frame 30."""
    from filmcrew.tools.video.previz.scene import PrevizEvent

    t = np.arange(48)
    ball = np.column_stack((-3.0 + 6.0 * t / 47, np.full(48, 0.11)))
    crate = np.tile([3.5, 0.2], (48, 1))
    r = Rehearsal(tracks={"ball": ball, "crate": crate}, sizes={"ball": (0.22, 0.22), "crate": (0.5, 0.4)},
                  roles={"ball": "moving", "crate": "static"}, events=[PrevizEvent(30 / 24, "impact", 0.5)],
                  effects=np.full((48, 4), np.nan), fps=24.0)

    def views(scale: str) -> np.ndarray:
        return plan_views(r, Setup(scale=scale, move="static", aspect=16 / 9, staging=(-1, -0.1, 1, 1.0),
                                   floor_y=0.0, table=None))

    wide = views("wide")
    assert np.allclose(wide, wide[0])
    assert wide[0, 0] < -3.11 and wide[0, 2] > 3.75 and wide[0, 1] < 0.0  # both paths, and the ground
    close = views("close-up")
    assert np.allclose((close[:, 2] - close[:, 0]) / (16 / 9), 3.5 * 0.22)
    inside = (ball[:, 0] > close[:, 0]) & (ball[:, 0] < close[:, 2])
    assert inside.all()  # it follows the ball...
    assert close[30, 0] < ball[30, 0] < close[30, 2] and close[30, 1] < 0.0  # ...and is on it at the hit
    assert np.all(np.diff(close[:, 0]) >= -1e-9)  # smoothly, never jerking back
    with pytest.raises(ValueError, match="camera scale"):
        views("extreme")


# --------------------------------------------------------------------------------------------------
# 2. A glass of water


def test_water_is_in_the_glass_then_on_the_floor_after_it_shatters(medium: PrevizClip) -> None:
    first = medium.frames[0]
    rows, cols = np.nonzero(_mask(first, "water"))
    assert len(rows) > 15, "no water drawn"
    pts = _to_world(medium, 0, rows, cols)
    (gx, gy), (gw, gh) = medium.tracks["glass"][0], GLASS
    in_glass = (np.abs(pts[:, 0] - gx) < gw / 2 + 0.01) & (np.abs(pts[:, 1] - gy) < gh / 2 + 0.01)
    assert in_glass.mean() > 0.97, "water drawn outside its glass"
    assert pts[:, 1].max() < gy + gh / 2  # below the rim: a glass of water, not a block of it

    assert any(e.kind == "shatter" for e in medium.events)
    last = len(medium.frames) - 1
    rows, cols = np.nonzero(_mask(medium.frames[last], "water"))
    assert len(rows) > 15, "the water vanished"
    pts = _to_world(medium, last, rows, cols)
    assert (pts[:, 1] < 0.06).mean() > 0.9, "the water is not on the floor"
    assert np.ptp(pts[:, 0]) > 2 * GLASS[0]  # it spread into a puddle


def test_water_without_a_container_is_still_poured() -> None:
    shot = Shot(id="w", local_prompt="Water splashes onto the floor", duration_s=1.5, setting="indoor",
                camera=Camera(scale="medium"),
                subjects=[Subject(name="water", kind="object", material="water", role="moving")])
    clip = render_previz(shot, PhysicsAnnotation(shot_id="w", caption="", physics_text="",
                                                 dynamics=["liquid motion"]),
                         width=160, height=90, overlay=False)
    water = np.array([_mask(f, "water").sum() for f in clip.frames])
    assert water[-1] > 30 and water[-1] > water[2]


# --------------------------------------------------------------------------------------------------
# 3. Time-lapse


@pytest.mark.parametrize("phenomena", [[], ["melting"]])
def test_time_lapse_keeps_a_resting_body_on_its_support(phenomena: list[str]) -> None:
    """×60: 2.5 s of world time per frame; the ice cube stays on the table top (0.75 m)."""
    shot = Shot(id="t", local_prompt="An ice cube melts on a table; time-lapse", duration_s=2.0,
                setting="table", camera=Camera(scale="medium", time_scale=60.0),
                subjects=[Subject(name="ice cube", kind="ice cube", material="ice", role="static")])
    ann = PhysicsAnnotation(shot_id="t", caption="", physics_text="", thermodynamics=phenomena,
                            time_range_s=(0.0, 120.0), temperature_c=(-5.0, 20.0))
    clip = render_previz(shot, ann, width=160, height=90, overlay=False)
    y = clip.tracks["ice cube"][:, 1]
    assert np.all(np.abs(y - (0.75 + 0.015)) < 0.004), f"left the table: y from {y.min():.3f} to {y.max():.3f}"


# --------------------------------------------------------------------------------------------------
# 4. Labels


def test_labels_do_not_overlap_and_stay_in_the_frame() -> None:
    canvas = Canvas(Image.new("RGB", (W, H), (90, 90, 90)), (0.0, 0.0, 1.6, 0.9))
    items = [("glass", 0.8, 0.4), ("water", 0.8, 0.4), ("ball", 0.83, 0.41), ("edge", 1.6, 0.3),
             ("top", 0.3, 0.9), ("far away", 9.0, 0.4)]
    boxes = overlay.labels(canvas, items)
    assert len(boxes) == 5  # the one far outside the frame is not drawn
    for i, (ax0, ay0, ax1, ay1) in enumerate(boxes):
        assert 0 <= ax0 < ax1 <= W and 0 <= ay0 < ay1 <= H
        for bx0, by0, bx1, by1 in boxes[i + 1:]:
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, "labels overlap"


def test_glass_and_water_labels_are_both_readable_in_the_wide_shot() -> None:
    shot = _glass_of_water("wide", duration_s=0.5).model_copy(update={"events": []})
    ann = PhysicsAnnotation(shot_id="g", caption="", physics_text="")
    on = render_previz(shot, ann, width=W, height=H, overlay=True).frames[0].astype(int)
    off = render_previz(shot, ann, width=W, height=H, overlay=False).frames[0].astype(int)
    changed = np.abs(on - off).sum(-1) > 30
    band = int(1.9 * max(8, H // 24))
    rows = np.flatnonzero(changed[band:H - band].any(axis=1)) + band  # label rows, overlay lines aside
    runs = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    # one over the other, each a whole label tall: not two labels printed on the same spot
    assert len(runs) == 2 and min(map(len, runs)) >= H // 30, f"label rows {[(r[0], r[-1]) for r in runs]}"
