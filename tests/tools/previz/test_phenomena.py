"""Fluids, thermodynamics and optics of the previz, measured from pixels and particle states.

Each test builds a small Scene by hand (no renderer needed), steps and draws a phenomenon frame by
frame, and checks what a viewer would notice: the ice shrinks while the puddle grows, smoke rises and
spreads, rays leave a prism at the Snell angle, a blast throws bodies away from it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pymunk
import pytest
from PIL import Image

import filmcrew.tools.video.previz.fluids
import filmcrew.tools.video.previz.optics
import filmcrew.tools.video.previz.thermo  # noqa: F401  (registers the phenomena)
from filmcrew.catalog import material
from filmcrew.schemas import DYNAMICS, PHENOMENA, Camera, PhysicsAnnotation, Shot
from filmcrew.tools.video.previz import rays
from filmcrew.tools.video.previz.scene import REGISTRY, Canvas, Scene

MINE = [p for p in PHENOMENA if p not in (*DYNAMICS[:3], "deformation")]
SKY, EARTH = (40, 44, 60), (70, 62, 50)
WORLD = (-1.0, 0.0, 1.0, 1.125)  # 2 m wide at 16:9
GROUND = 0.1


def make_scene(
    time_range: tuple[float, float] = (0.0, 5.0),
    temperature: tuple[float, float] = (20.0, 25.0),
    duration: float = 3.0,
    time_scale: float = 1.0,
    fps: float = 24.0,
    prompt: str = "a test shot",
    setting: str = "ground",
    world: tuple[float, float, float, float] = WORLD,
) -> Scene:
    """A scene with a ground line and no subjects; phenomena bring their own props."""
    shot = Shot(id="s1", local_prompt=prompt, duration_s=duration, camera=Camera(time_scale=time_scale),
                setting=setting)  # type: ignore[arg-type]
    ann = PhysicsAnnotation(shot_id="s1", caption="c", physics_text="p", time_range_s=time_range,
                            temperature_c=temperature)
    space = pymunk.Space()
    space.gravity = (0.0, -9.81)
    floor = pymunk.Segment(space.static_body, (-10.0, GROUND), (10.0, GROUND), 0.0)
    floor.friction, floor.elasticity = 0.8, 0.3
    space.add(floor)
    return Scene(shot=shot, annotation=ann, space=space, rng=np.random.default_rng(7), world=world,
                 ground_y=GROUND, fps=fps, time_scale=time_scale)


def blank(scene: Scene, size: tuple[int, int] = (320, 180)) -> Canvas:
    canvas = Canvas(Image.new("RGB", size, SKY), scene.world)
    gy = canvas.to_px(0.0, scene.ground_y)[1]
    canvas.draw.rectangle([0, gy, size[0], size[1]], fill=EARTH)
    return canvas


def film(scene: Scene, name: str, frames: int, size: tuple[int, int] = (320, 180), step_space: bool = False):
    """Instantiate one phenomenon and render `frames` frames; returns (phenomenon, frames array)."""
    ph = REGISTRY[name](scene)
    dt = scene.time_scale / scene.fps
    out = []
    for _ in range(frames):
        ph.step(dt)
        if step_space:
            for _ in range(10):
                scene.space.step(dt / 10)
        scene.t += dt
        canvas = blank(scene, size)
        ph.draw(canvas)
        out.append(np.asarray(canvas.image).copy())
    return ph, np.stack(out)


def classify(frame: np.ndarray, palette: list[tuple[int, int, int]]) -> np.ndarray:
    """Index of the nearest palette colour for every pixel."""
    d = ((frame[:, :, None, :].astype(int) - np.array(palette)[None, None]) ** 2).sum(-1)
    return d.argmin(-1)


# ------------------------------------------------------------------------------------------------
# 1. melting


def test_melting_solid_shrinks_monotonically_into_a_growing_puddle():
    # 120 s of melting in a x60 time-lapse: 2 screen seconds; the ramp -5 -> 20 °C passes 0 °C at 24 s
    scene = make_scene(time_range=(0, 120), temperature=(-5, 20), duration=2.5, time_scale=60, fps=12)
    ph, frames = film(scene, "melting", 30)
    ice, water = material("ice").color, material("water").color
    labels = np.stack([classify(f, [SKY, EARTH, ice, water]) for f in frames])
    solid = (labels == 2).sum(axis=(1, 2))
    puddle = (labels == 3).sum(axis=(1, 2))
    assert ph.solid.material.name == "ice"  # the prop chosen for a -5..20 °C melt
    assert solid[0] > 200
    assert np.all(np.diff(solid) <= 0.005 * solid[0])  # never grows back
    assert np.all(np.diff(puddle) >= -0.01 * puddle.max())
    assert puddle[-1] > 10 * max(puddle[0], 1)
    times = scene.time_scale / scene.fps * np.arange(1, 31)
    # below the melting point it barely melts; it is gone by the end of the annotated 120 s
    assert solid[times <= 20].min() > 0.85 * solid[0]
    assert solid[times >= 120].max() == 0
    assert solid[(times > 40) & (times < 100)].min() < 0.8 * solid[0]


# ------------------------------------------------------------------------------------------------
# 2-3. refraction and reflection geometry


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(abs(a @ b) / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))))


def test_refract_obeys_snell_and_total_internal_reflection():
    n = np.array([0.0, 1.0])
    for theta in (0.0, 20.0, 40.0, 70.0):
        d = np.array([np.sin(np.radians(theta)), -np.cos(np.radians(theta))])
        t = rays.refract(d, n, 1.0, 1.5)
        assert t is not None
        assert np.isclose(np.linalg.norm(t), 1.0)
        assert np.isclose(np.sin(np.radians(_angle(t, n))), np.sin(np.radians(theta)) / 1.5, atol=1e-9)
    d = np.array([np.sin(np.radians(50.0)), np.cos(np.radians(50.0))])  # glass to air beyond 41.8°
    assert rays.refract(d, n, 1.5, 1.0) is None


def test_prism_exit_angle_matches_minimum_deviation_and_blue_bends_more():
    poly = rays.prism_polygon((0.0, 0.0), 0.2)
    devs = {}
    for lam in (450.0, 650.0):
        n = float(rays.cauchy_index(lam, 1.52))
        # entering at the minimum-deviation incidence, the exit ray is deviated by the closed form
        i = np.radians((rays.minimum_deviation_deg(n) + 60.0) / 2)
        d = np.array([np.cos(np.radians(-30.0) + i), np.sin(np.radians(-30.0) + i)])
        face = (poly[0] + poly[2]) / 2
        path, out = rays.trace_convex(face - 0.5 * d, d, poly, n)
        assert len(path) == 3  # in, through, out: no internal reflection
        dev = _angle(d, out)
        assert dev == pytest.approx(rays.minimum_deviation_deg(n), abs=1e-6)
        devs[lam] = dev
    assert devs[450.0] > devs[650.0] + 0.3  # dispersion: blue is deviated more than red


def test_refraction_rays_leave_the_prism_at_the_snell_angle():
    scene = make_scene()
    ph, frames = film(scene, "refraction", 6)
    poly = ph.polygon()
    exits = {}
    for lam, path, out in ph.paths:
        n = float(rays.cauchy_index(lam, ph.n_d, ph.b))
        inside = (path[2] - path[1]) / np.linalg.norm(path[2] - path[1])
        edge = poly[[1, 2]] if path[2][0] > poly[2][0] else poly[[2, 0]]
        e = edge[1] - edge[0]
        normal = np.array([e[1], -e[0]]) / np.linalg.norm(e)
        sin_in = np.sin(np.radians(_angle(inside, normal)))
        sin_out = np.sin(np.radians(_angle(out, normal)))
        assert sin_out == pytest.approx(n * sin_in, abs=1e-6)
        exits[lam] = np.degrees(np.arctan2(out[1], out[0]))
    assert exits[min(exits)] < exits[max(exits)]  # violet is bent further down than red
    # the spectrum is drawn: violet-ish and red-ish pixels both appear to the right of the prism
    right = frames[-1][:, int(frames.shape[2] * 0.6):].reshape(-1, 3).astype(int)
    assert ((right[:, 0] > 150) & (right[:, 1] < 90)).sum() > 5
    assert ((right[:, 2] > 150) & (right[:, 1] < 90)).sum() > 5


def test_reflection_angle_equals_incidence_angle():
    rng = np.random.default_rng(1)
    for _ in range(20):
        d = rng.normal(size=2)
        d /= np.linalg.norm(d)
        n = rng.normal(size=2)
        n /= np.linalg.norm(n)
        r = rays.reflect(d, n)
        assert np.linalg.norm(r) == pytest.approx(1.0)
        assert _angle(r, n) == pytest.approx(_angle(d, n), abs=1e-9)
    scene = make_scene()
    ph, _ = film(scene, "reflection", 4)
    for src, hit, out in ph.rays:
        incoming = hit - src
        assert _angle(out, ph.normal) == pytest.approx(_angle(incoming, ph.normal), abs=1e-9)
        assert out @ ph.normal > 0  # it leaves on the side it came from


def test_water_reflection_mirrors_what_stands_above_it():
    scene = make_scene(setting="water", world=(-1.0, -0.4, 1.0, 0.725))  # water line mid-frame
    ph = REGISTRY["reflection"](scene)
    canvas = blank(scene)
    ys = round(canvas.to_px(0.0, scene.ground_y)[1])
    canvas.draw.rectangle([150, ys - 40, 170, ys - 20], fill=(230, 20, 20))  # a red box above the water
    ph.draw(canvas)
    img = np.asarray(canvas.image).astype(int)
    red = (img[..., 0] - img[..., 1] > 40) & (img[..., 0] - img[..., 2] > 40)
    assert red[ys + 24:ys + 36, 152:168].mean() > 0.5  # its image, as far below as it is above
    assert red[ys + 45:, :].mean() < 0.01


# ------------------------------------------------------------------------------------------------
# 4-5. fluids


def test_gas_rises_with_buoyancy_and_spreads():
    scene = make_scene()
    ph = REGISTRY["gas motion"](scene)
    stats = []
    for i in range(48):
        ph.step(1 / 24)
        scene.t += 1 / 24
        ph.draw(blank(scene, (160, 90)))
        if i in (11, 47):
            p = ph.plume.p
            pos = p.pos[p.alive]
            stats.append((pos[:, 1].mean(), pos[:, 0].var(), len(pos)))
    (y_early, vx_early, _), (y_late, vx_late, n_late) = stats
    assert y_late > y_early + 0.05
    assert vx_late > 1.5 * vx_early
    assert n_late > 100
    assert (ph.plume.p.pos[ph.plume.p.alive, 1] >= scene.ground_y).all()


def test_liquid_falls_and_comes_to_rest_on_the_ground():
    scene = make_scene(time_range=(0.0, 1.0))
    ph = REGISTRY["liquid motion"](scene)
    heights = []
    for _i in range(24 * 4):
        ph.step(1 / 24)
        scene.t += 1 / 24
        ph.draw(blank(scene, (160, 90)))
        a = ph.p.alive
        if a.any():
            heights.append(ph.p.pos[a, 1].mean())
    a = ph.p.alive
    pos, vel = ph.p.pos[a], ph.p.vel[a]
    assert ph.poured == ph.to_pour > 100
    assert (pos[:, 1] >= scene.ground_y - 1e-9).all()  # none below the ground
    assert pos[:, 1].mean() < scene.ground_y + 0.05 * (WORLD[3] - WORLD[1])  # all down on it
    assert heights[5] > pos[:, 1].mean()
    assert np.abs(vel).mean() < 0.1  # at rest
    assert any(e.kind == "splash" for e in scene.events)


# ------------------------------------------------------------------------------------------------
# 6-7. explosion and combustion


def _box(space: pymunk.Space, x: float) -> pymunk.Body:
    body = pymunk.Body(2.0, pymunk.moment_for_box(2.0, (0.1, 0.1)))
    body.position = (x, GROUND + 0.05)
    shape = pymunk.Poly.create_box(body, (0.1, 0.1))
    shape.friction = 0.6
    space.add(body, shape)
    return body


def test_explosion_throws_nearby_bodies_away_and_emits_an_event():
    scene = make_scene(duration=2.0)
    ph = REGISTRY["explosion"](scene)
    cx = float(ph.centre[0])
    right, left = _box(scene.space, cx + 0.35), _box(scene.space, cx - 0.35)
    far = _box(scene.space, cx + 0.95)
    dt = 1 / 24
    for _ in range(int(ph.t_boom / dt) + 3):
        ph.step(dt)
        for _ in range(10):
            scene.space.step(dt / 10)
        scene.t += dt
        ph.draw(blank(scene, (160, 90)))
    assert right.position.x > cx + 0.4 and right.velocity.x > 0.5
    assert left.position.x < cx - 0.4 and left.velocity.x < -0.5
    assert abs(far.velocity.x) < abs(right.velocity.x)  # the blast weakens with distance
    booms = [e for e in scene.events if e.kind == "explosion"]
    assert len(booms) == 1 and 0 < booms[0].strength <= 1
    assert booms[0].time_s == pytest.approx(ph.t_boom, abs=dt)


def test_combustion_is_warm_flickers_and_ignites_at_the_ignition_point():
    # wood ignites at 300 °C; the ramp 20 -> 580 °C over 0..2 s passes it at 1.0 s
    scene = make_scene(time_range=(0.0, 2.0), temperature=(20.0, 580.0), duration=3.0)
    ph, frames = film(scene, "combustion", 60)
    ign = [e for e in scene.events if e.kind == "ignition"]
    assert len(ign) == 1 and ign[0].time_s == pytest.approx(1.0, abs=0.05)
    ref = frames[10].astype(int)  # before ignition
    cx, cy = (int(v) for v in blank(scene).to_px(ph.base[0], ph.base[1]))
    win = (slice(max(cy - 50, 0), cy + 5), slice(cx - 40, cx + 40))
    fire = frames[36:].astype(int)
    diff = fire[:, win[0], win[1]] - ref[win[0], win[1]]
    lit = diff.sum(-1) > 60  # pixels the fire made brighter
    assert lit.mean() > 0.05
    region = fire[:, win[0], win[1]][lit]
    assert region[:, 0].mean() > region[:, 2].mean() + 60  # warm: red well above blue
    brightness = fire[:, win[0], win[1]].sum(axis=(1, 2, 3)).astype(float)
    assert brightness.std() / brightness.mean() > 0.01  # it flickers
    step = np.abs(np.diff(fire[:, win[0], win[1]], axis=0)).mean(axis=(1, 2, 3))
    assert (step > 0.5).all()  # and changes every frame
    assert np.abs(frames[5].astype(int) - frames[10].astype(int)).mean() < 0.5  # nothing before ignition


# ------------------------------------------------------------------------------------------------
# 8. all distinct


def test_all_thirteen_are_registered_and_look_different():
    assert set(MINE) <= set(REGISTRY)
    assert len(MINE) == 13
    last = {}
    for name in MINE:
        scene = make_scene(time_range=(0.0, 1.5), temperature=(-20.0, 600.0), duration=2.0)
        _, frames = film(scene, name, 30, size=(160, 90))
        last[name] = frames[-1].astype(float)
    empty = np.asarray(blank(make_scene(), (160, 90)).image).astype(float)
    for name, img in last.items():
        assert np.abs(img - empty).mean() > 2.0, f"{name} is invisible"
    for a, b in itertools.combinations(MINE, 2):
        assert np.abs(last[a] - last[b]).mean() > 2.0, f"{a} and {b} look alike"


def test_same_seed_gives_the_same_frames():
    for name in ("liquid motion", "explosion", "combustion"):
        runs = [film(make_scene(time_range=(0.0, 1.0), temperature=(20.0, 900.0)), name, 12, size=(160, 90))[1]
                for _ in range(2)]
        assert np.array_equal(runs[0], runs[1]), name


# ------------------------------------------------------------------------------------------------
# 9. through the renderer


try:
    from filmcrew.tools.video.previz import render_previz
except ImportError:  # the renderer core is written separately; these smoke tests wait for it
    render_previz = None


@pytest.mark.skipif(render_previz is None, reason="filmcrew.tools.video.previz.render_previz not available")
@pytest.mark.parametrize("name", MINE)
def test_renders_through_render_previz(name):
    group = "thermodynamics" if name in PHENOMENA[6:12] else "optics" if name in PHENOMENA[12:] else "dynamics"
    shot = Shot(id="s1", local_prompt=f"previz of {name}", duration_s=1.0,
                subjects=[{"name": "block", "kind": "block", "material": "wood"}])  # type: ignore[list-item]
    ann = PhysicsAnnotation(shot_id="s1", caption="c", physics_text="p", time_range_s=(0.0, 1.0),
                            temperature_c=(-20.0, 600.0), **{group: [name]})
    clip = render_previz(shot, ann, width=160, height=90, fps=24, overlay=False)
    assert clip.frames.shape == (24, 90, 160, 3)
    assert np.abs(np.diff(clip.frames.astype(int), axis=0)).mean() > 0.05  # something moves
    kinds = {e.kind for e in clip.events}
    if name == "explosion":
        assert "explosion" in kinds
    if name == "combustion":
        assert "ignition" in kinds
