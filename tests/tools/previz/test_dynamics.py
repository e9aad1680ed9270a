"""Dynamics in the previz, measured the way a viewer would: from the rendered pixels.

Each test renders a small clip with the overlay off and a fixed seed, finds a subject by its material
colour (the previz draws every material in a fixed colour), converts the pixel centroid to metres
with the clip's camera view, and checks the motion against physics.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage

from filmcrew.catalog import MATERIALS
from filmcrew.schemas import Camera, PhysicsAnnotation, Shot, Subject
from filmcrew.tools.video.previz import PrevizClip, render_previz
from filmcrew.tools.video.previz.staging import plan_actions

W, H, FPS = 320, 180, 24


def _annotation(shot: Shot, dynamics: list[str]) -> PhysicsAnnotation:
    return PhysicsAnnotation(shot_id=shot.id, caption=shot.local_prompt, physics_text="",
                             dynamics=dynamics)  # type: ignore[arg-type]


def _mask(frame: np.ndarray, material: str, tol: int = 24) -> np.ndarray:
    colour = np.array(MATERIALS[material].color, np.int16)
    return np.abs(frame.astype(np.int16) - colour).sum(-1) <= tol


def _track(clip: PrevizClip, material: str) -> np.ndarray:
    """(T, 2) world position (metres) of the largest blob of the material's colour; NaN if absent."""
    out = np.full((len(clip.frames), 2), np.nan)
    for i, frame in enumerate(clip.frames):
        labels, n = ndimage.label(_mask(frame, material))
        if n == 0:
            continue
        biggest = 1 + int(np.argmax(ndimage.sum(np.ones_like(labels), labels, range(1, n + 1))))
        ys, xs = np.nonzero(labels == biggest)
        x0, _, x1, y1 = clip.views[i]
        ppm = W / (x1 - x0)
        out[i] = (x0 + xs.mean() / ppm, y1 - ys.mean() / ppm)
    return out


def _fragments(frame: np.ndarray, material: str) -> int:
    _, n = ndimage.label(_mask(frame, material), structure=np.ones((3, 3)))
    return n


def test_dropped_body_falls_with_g() -> None:
    shot = Shot(id="drop", local_prompt="A steel ball is dropped", events=["the ball is dropped"],
                duration_s=1.0, camera=Camera(scale="wide"), setting="indoor",
                subjects=[Subject(name="ball", kind="ball", material="steel")])
    clip = render_previz(shot, _annotation(shot, ["rigid body motion"]), width=W, height=H,
                         fps=FPS, seed=3, overlay=False)
    y = _track(clip, "steel")[:, 1]
    first_bounce = int(np.argmin(y[: np.argmax(np.diff(y) > 0) + 1]))  # lowest point before rising
    n = first_bounce - 1  # the last frame before the floor may already be in contact
    assert n >= 10, "too few frames of free fall to measure"
    t = np.arange(n) / FPS
    a2, v0, _ = np.polyfit(t, y[:n], 2)
    g = -2 * a2
    assert abs(g - 9.81) / 9.81 < 0.05, f"measured g = {g:.2f} m/s²"
    assert abs(v0) < 0.2  # dropped, not thrown


def test_head_on_collision_conserves_momentum() -> None:
    shot = Shot(id="hit", local_prompt="A steel ball hits a resting rubber ball head-on",
                events=["the steel ball hits the resting rubber ball head-on"], duration_s=3.0,
                camera=Camera(scale="wide"), setting="space",
                subjects=[Subject(name="steel ball", kind="ball", material="steel"),
                          Subject(name="rubber ball", kind="ball", material="rubber", role="static")])
    clip = render_previz(shot, _annotation(shot, ["collision"]), width=W, height=H, fps=FPS, seed=1,
                         overlay=False)
    impacts = [e.time_s for e in clip.events if e.kind == "impact"]
    assert len(impacts) == 1
    t = np.arange(len(clip.frames)) / FPS
    heavy, light = _track(clip, "steel")[:, 0], _track(clip, "rubber")[:, 0]
    before = (t < impacts[0] - 2 / FPS)
    after = (t > impacts[0] + 2 / FPS) & np.isfinite(light) & (light < clip.views[:, 2] - 0.2)
    assert before.sum() >= 8 and after.sum() >= 8

    def speed(x: np.ndarray, sel: np.ndarray) -> float:
        return float(np.polyfit(t[sel], x[sel], 1)[0])

    m_heavy, m_light = MATERIALS["steel"].density, MATERIALS["rubber"].density  # same size: m ∝ ρ
    p_before = m_heavy * speed(heavy, before) + m_light * speed(light, before)
    v_heavy, v_light = speed(heavy, after), speed(light, after)
    p_after = m_heavy * v_heavy + m_light * v_light
    assert abs(speed(light, before)) < 0.02  # it was resting
    assert abs(p_after - p_before) / abs(p_before) < 0.05, (p_before, p_after)
    assert v_light > v_heavy > 0  # the light ball flies off ahead, the heavy one follows


def test_bounce_peaks_follow_restitution_squared() -> None:
    """Successive peak heights h_k+1 / h_k = e² with e = 0.85 for rubber on a hard floor.

    Peaks come from a parabola fitted to each arc (frames off the floor), so the 24 fps sampling does
    not miss the top; tolerance 0.05 absolute on the ratio (~7 %).
    """
    shot = Shot(id="bounce", local_prompt="A rubber ball bounces on the floor",
                events=["the ball bounces on the floor"], duration_s=4.0,
                camera=Camera(scale="wide"), setting="indoor",
                subjects=[Subject(name="ball", kind="ball", material="rubber")])
    clip = render_previz(shot, _annotation(shot, ["elastic motion"]), width=W, height=H, fps=FPS,
                         seed=0, overlay=False)
    y = _track(clip, "rubber")[:, 1]
    rest = 0.11  # ball radius: centre height when touching the floor
    impacts = [round(e.time_s * FPS) for e in clip.events if e.kind == "impact"]
    assert len(impacts) >= 3
    peaks = [y[0] - rest]
    t = np.arange(len(y)) / FPS
    for a, b in itertools.pairwise(impacts):
        sel = slice(a + 2, b - 1)  # skip the frames in contact and squashing
        c2, c1, c0 = np.polyfit(t[sel], y[sel], 2)
        peaks.append(c0 - c1 * c1 / (4 * c2) - rest)
    e2 = MATERIALS["rubber"].restitution ** 2
    ratios = [b / a for a, b in itertools.pairwise(peaks)]
    assert len(ratios) >= 2
    for r in ratios:
        assert abs(r - e2) < 0.05, f"peak ratios {np.round(ratios, 3)}, expected {e2:.3f}"


def test_glass_knocked_off_table_shatters() -> None:
    shot = Shot(id="glass", local_prompt="A glass is knocked off a table and shatters",
                events=["the glass is knocked off the table", "it shatters on the floor"],
                duration_s=2.0, camera=Camera(scale="medium"), setting="table",
                subjects=[Subject(name="glass", kind="glass", material="glass")])
    clip = render_previz(shot, _annotation(shot, ["rigid body motion", "collision"]), width=W,
                         height=H, fps=FPS, seed=0, overlay=False)
    shatters = [e for e in clip.events if e.kind == "shatter"]
    assert len(shatters) == 1
    frame_of = round(shatters[0].time_s * FPS)
    assert 0.2 * FPS < frame_of < len(clip.frames) - 4  # it slid and fell first
    before = _fragments(clip.frames[0], "glass")
    after = _fragments(clip.frames[-1], "glass")
    assert before == 1
    assert after >= 3, f"{after} pieces visible after the shatter"
    # It fell: the glass left the table top (0.75 m) and its pieces lie on the floor.
    assert _track(clip, "glass")[-1, 1] < 0.2


def test_soft_body_squashes_on_landing_and_recovers() -> None:
    shot = Shot(id="jelly", local_prompt="A jelly is dropped on a table and wobbles",
                events=["the jelly is dropped"], duration_s=1.5,
                camera=Camera(scale="close-up"), setting="table",
                subjects=[Subject(name="jelly", kind="jelly", material="jelly")])
    clip = render_previz(shot, _annotation(shot, ["deformation"]), width=W, height=H, fps=FPS,
                         seed=0, overlay=False)

    def aspect(frame: np.ndarray) -> float:
        ys, xs = np.nonzero(_mask(frame, "jelly"))
        return (xs.max() - xs.min() + 1) / (ys.max() - ys.min() + 1)

    ratios = np.array([aspect(f) for f in clip.frames])
    landing = round(next(e.time_s for e in clip.events if e.kind == "impact") * FPS)
    squash = ratios[landing : landing + 6].max()
    assert squash > ratios[0] * 1.15, "no visible squash on landing"
    assert abs(ratios[-1] - ratios[0]) < 0.5 * (squash - ratios[0]), "did not spring back"


def test_passive_voice_makes_the_agent_the_actor() -> None:
    shot = Shot(id="p", local_prompt="", duration_s=1.0, setting="ground",
                events=["the glass is hit by the ball"],
                subjects=[Subject(name="glass", kind="glass", material="glass", role="static"),
                          Subject(name="ball", kind="ball", material="rubber")])
    clip = render_previz(shot, _annotation(shot, ["collision"]), width=64, height=36, overlay=False)
    ball, glass = clip.tracks["ball"], clip.tracks["glass"]
    hit = round(clip.events[0].time_s * FPS)
    assert np.allclose(glass[:hit], glass[0], atol=1e-3)  # the glass waits
    assert ball[0, 0] < glass[0, 0] and ball[hit, 0] > ball[0, 0]  # the ball comes to it
    assert glass[-1, 0] > glass[0, 0]  # and knocks it on


@pytest.mark.parametrize("event, verb", [("the vase is knocked off the table", "knock"),
                                         ("someone tosses the vase", "throw"),
                                         ("the vase rolls across the floor", "roll"),
                                         ("the vase falls", "drop")])
def test_plan_actions_reads_verbs(event: str, verb: str) -> None:
    from types import SimpleNamespace

    import pymunk

    from filmcrew.catalog import kind, material
    from filmcrew.tools.video.previz.scene import SubjectBody

    body = pymunk.Body(1, 1)
    sb = SubjectBody(name="vase", kind=kind("vase"), material=material("ceramic"),
                     size_m=(0.15, 0.3), color=(0, 0, 0), body=body,
                     shapes=[pymunk.Circle(body, 0.1)])
    shot = Shot(id="v", local_prompt="", events=[event], duration_s=1.0,
                subjects=[Subject(name="vase", kind="vase", material="ceramic")])
    scene = SimpleNamespace(shot=shot, subjects=[sb], annotation=_annotation(shot, []))
    assert plan_actions(scene).get("vase").verb == verb  # type: ignore[arg-type, union-attr]
