"""Build a previz scene from a shot and run it: stage, bodies, phenomena, then the frame loop.

The loop in plain sight (`render_shot`): for each frame, step every phenomenon and the pymunk space in
fixed sub-steps of world time, then ask the camera for the view and draw stage, subjects, phenomena
and overlay. Physics is simulated, never keyframed: phenomena set initial conditions and forces, and
what the viewer sees is what the integrator produced.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pymunk

from filmcrew import catalog
from filmcrew.schemas import PhysicsAnnotation, Shot, Subject
from filmcrew.tools.previz import draw
from filmcrew.tools.previz.camera import CameraPath, frame
from filmcrew.tools.previz.scene import REGISTRY, Canvas, Phenomenon, Scene, SubjectBody

#: Modules whose import registers phenomena; the last three may not exist yet.
OPTIONAL_MODULES = ("fluids", "thermo", "optics")
#: Dynamics first, so subjects are staged (thrown, dropped, aimed) before other phenomena look at them.
ORDER = ("rigid body motion", "collision", "elastic motion", "deformation")

SUBSTEP_S = 1 / 240  # largest world-time step for rigid bodies; sub-steps per frame are fixed
MAX_SUBSTEPS = 32  # time-lapse caps the cost: a 60x shot steps 2.5 s per frame in 32 steps
GRAVITY = 9.81
TABLE_HEIGHT_M = 0.75
CT_GROUND, CT_SUBJECT, CT_FRAGMENT = 1, 2, 3  # pymunk collision types
CAT_HEAVY, HEAVY_KG = 0b10, 200.0  # collision category of bodies a walker cannot push
IMPACT_MIN_SPEED = 0.5  # m/s closing speed: slower contacts are resting jitter, not hits
IMPACT_DEBOUNCE_S = 0.08  # screen seconds between impact events of the same pair

#: Solid share of the bounding box times depth: cups are hollow, a sphere is 2/3 of its cylinder.
FILL = {"cup": 0.15, "car": 0.02, "figure": 0.15, "circle": 2 / 3, "blob": 0.6}


@dataclass
class Stage:
    """Scenery the subjects stand in: what draw.stage draws behind them."""

    setting: str
    time_of_day: str
    floor_y: float | None  # the ground or floor; None in space
    ground_y: float  # where subjects rest: the table top, else the floor
    table: tuple[float, float] | None  # x0, x1 of the table top
    walls: tuple[float, float] | None
    decor_m: float  # spacing of grass tufts, lane dashes, floorboards
    seabed_y: float | None = None  # water setting: the bottom things sink to


def load_phenomena() -> None:
    """Import every module that registers phenomena; a helper's module that does not exist is skipped."""
    importlib.import_module("filmcrew.tools.previz.dynamics")
    for name in OPTIONAL_MODULES:
        full = f"filmcrew.tools.previz.{name}"
        try:
            importlib.import_module(full)
        except ModuleNotFoundError as e:
            if e.name != full:
                raise


def active_phenomena(shot: Shot, annotation: PhysicsAnnotation | None) -> list[str]:
    """The registered phenomena to run, dynamics first.

    Without an annotation a moving subject still moves: rigid body motion and collision run.
    A shot annotated as splitting objects gets collision (which owns fracture) even if not listed.
    """
    if annotation is None:
        names = ["rigid body motion", "collision"]
    else:
        names = list(annotation.phenomena)
        if "object decomposition and splitting" in annotation.state_changes:
            names.append("collision")
    names = [n for n in dict.fromkeys(names) if n in REGISTRY]
    return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


# --------------------------------------------------------------------------------------------------
# Subjects and their bodies


def density_kg_m3(sb: SubjectBody, annotation: PhysicsAnnotation | None) -> float:
    """The annotation's density for this material when it names one (g/cm³, mid-range), else the
    catalog's; in kg/m³, floored so gases and light still get a finite mass."""
    g_cm3 = sb.material.density
    for m in annotation.materials if annotation else []:
        if catalog.find_material(m.name) is sb.material:
            g_cm3 = (m.density_min + m.density_max) / 2
    return max(g_cm3, 0.05) * 1000.0


def mass_kg(sb: SubjectBody, density: float) -> float:
    """mass = density × side-view area × depth (the smaller side), times the kind's solid share."""
    w, h = sb.size_m
    area = math.pi * w * w / 4 if sb.kind.shape == "circle" else w * h
    return density * area * min(w, h) * FILL.get(sb.kind.shape, 1.0)


def _make_subject(s: Subject) -> SubjectBody:
    k = catalog.kind(s.kind)
    m = catalog.find_material(s.material) or catalog.MATERIALS[k.material]
    return SubjectBody(name=s.name, kind=k, material=m, size_m=k.size_m, color=m.color, label=s.name)


def _body_kind(s: Subject, sb: SubjectBody, setting: str) -> str:
    """none | background | stage | static | kinematic | dynamic."""
    if sb.material.state != "solid" and sb.kind.name == "object":
        return "none"  # the substance itself (water, smoke): the fluid phenomena own it
    if s.role == "background":
        return "background"
    if sb.kind.name == "table" and setting == "table":
        return "stage"
    if sb.material.state != "solid":
        return "static"  # pools, waves, clouds, lamps: placed, not thrown
    if sb.kind.animate:
        return "kinematic"  # living subjects walk by will, not by force
    if s.role == "static" and max(sb.size_m) >= 1.0:
        return "static"
    return "dynamic"


def _shape(sb: SubjectBody, body: pymunk.Body) -> pymunk.Shape:
    w, h = sb.size_m
    shape: pymunk.Shape
    if sb.kind.shape == "circle":
        shape = pymunk.Circle(body, w / 2)
    elif sb.kind.name == "tree":  # only the trunk stops things; the canopy is drawn above it
        tw, th = 0.12 * w, 0.45 * h
        shape = pymunk.Poly(body, [(-tw / 2, -h / 2), (tw / 2, -h / 2), (tw / 2, -h / 2 + th),
                                   (-tw / 2, -h / 2 + th)])
    else:
        shape = pymunk.Poly.create_box(body, (w, h))
    shape.elasticity = sb.material.restitution
    shape.friction = sb.material.friction
    shape.collision_type = CT_SUBJECT
    shape.subject = sb  # type: ignore[attr-defined]  # impacts are reported per subject
    return shape


def _build_bodies(shot: Shot, annotation: PhysicsAnnotation | None, space: pymunk.Space
                  ) -> tuple[list[SubjectBody], Stage, list[SubjectBody]]:
    """Subjects laid out left to right, on the table when small and the setting is a table."""
    setting = shot.setting
    floor_y: float | None = None if setting == "space" else 0.0
    subjects = [_make_subject(s) for s in shot.subjects]
    kinds = [_body_kind(s, sb, setting) for s, sb in zip(shot.subjects, subjects, strict=True)]
    on_table = [setting == "table" and k in ("dynamic", "static", "kinematic")
                and max(sb.size_m) < 0.6 for sb, k in zip(subjects, kinds, strict=True)]
    table_y = TABLE_HEIGHT_M if setting == "table" else (floor_y or 0.0)
    placed = [i for i, k in enumerate(kinds) if k not in ("none", "background", "stage")]
    main = next((i for i in placed if shot.subjects[i].role == "moving"), placed[0] if placed else None)

    xs: dict[int, float] = {}
    cursor, prev_w = 0.0, 0.0
    for i in placed:
        w = subjects[i].size_m[0]
        if xs:
            cursor += (prev_w + w) / 2 + max(0.1, 0.8 * max(prev_w, w))
        xs[i], prev_w = cursor, w
    if main is not None:
        shift = xs[main]
        xs = {i: x - shift for i, x in xs.items()}

    table = None
    if setting == "table":
        tab = [xs[i] for i in placed if on_table[i]] or [0.0]
        table = (min(tab) - 0.9, max(tab) + 0.3)  # the main subject near the right-hand edge
        top = pymunk.Body(body_type=pymunk.Body.STATIC)
        seg = pymunk.Poly(top, [(table[0], table_y - 0.04), (table[1], table_y - 0.04),
                                (table[1], table_y), (table[0], table_y)])
        seg.elasticity, seg.friction, seg.collision_type = 1.0, 1.0, CT_GROUND
        space.add(top, seg)
    if floor_y is not None and setting != "water":  # the seabed is laid once the shot is framed
        _add_floor(space, floor_y, elasticity=1.0)  # a hard floor: restitution = the material's

    background = []
    for i, (sb, k) in enumerate(zip(subjects, kinds, strict=True)):
        w, h = sb.size_m
        if k == "none":
            continue
        if k == "stage":
            sb.body = pymunk.Body(body_type=pymunk.Body.STATIC)
            sb.body.position = ((table[0] + table[1]) / 2 if table else 0.0, table_y / 2)
            sb.visible = False  # drawn as the stage's table
            continue
        if k == "background":
            sb.body = pymunk.Body(body_type=pymunk.Body.STATIC)
            background.append(sb)
            continue
        base = table_y if on_table[i] else (floor_y if floor_y is not None else -h / 2)
        if setting == "sky":
            base += max(3.0, 4.0 * max(w, h))  # in the sky, things start in the air
        if k == "dynamic":
            m = mass_kg(sb, density_kg_m3(sb, annotation))
            moment = (pymunk.moment_for_circle(m, 0, w / 2) if sb.kind.shape == "circle"
                      else pymunk.moment_for_box(m, (w, h)))
            sb.body = pymunk.Body(m, moment)
        elif k == "kinematic":
            sb.body = pymunk.Body(body_type=pymunk.Body.KINEMATIC)
        else:
            sb.body = pymunk.Body(body_type=pymunk.Body.STATIC)
        sb.body.position = (xs[i], base + h / 2)
        if sb.material.state == "solid":
            sb.shapes = [_shape(sb, sb.body)]
        for shape in sb.shapes:
            # A walker kicks a ball but does not shove a car along: heavy bodies and the
            # kinematic (unstoppable) living subjects pass each other by.
            if k == "kinematic":
                shape.filter = pymunk.ShapeFilter(mask=pymunk.ShapeFilter.ALL_MASKS() ^ CAT_HEAVY)
            elif sb.body.body_type == pymunk.Body.DYNAMIC and sb.body.mass > HEAVY_KG:
                shape.filter = pymunk.ShapeFilter(categories=CAT_HEAVY)
        space.add(sb.body, *sb.shapes)
    stage = Stage(setting, shot.time_of_day, floor_y, table_y, table, None, 1.0)
    return subjects, stage, background


def _add_floor(space: pymunk.Space, y: float, elasticity: float) -> None:
    ground = pymunk.Segment(space.static_body, (-1e4, y), (1e4, y), 0.0)
    ground.elasticity, ground.friction, ground.collision_type = elasticity, 1.0, CT_GROUND
    space.add(ground)


def _bbox(sb: SubjectBody) -> tuple[float, float, float, float]:
    x, y = sb.position
    w, h = sb.size_m
    return (x - w / 2, y - h / 2, x + w / 2, y + h / 2)


def main_subject(subjects: list[SubjectBody], shot: Shot) -> SubjectBody | None:
    """The subject the camera frames: the first moving one with a body, else the first with one."""
    with_body = [sb for sb in subjects if sb.body is not None and sb.visible]
    roles = {s.name: s.role for s in shot.subjects}
    return next((sb for sb in with_body if roles.get(sb.name) == "moving"),
                with_body[0] if with_body else None)


def _frame_scene(shot: Shot, subjects: list[SubjectBody], stage: Stage, aspect: float
                 ) -> tuple[float, float, float, float]:
    fg = [sb for sb in subjects if sb.body is not None and sb.visible and sb.shapes]
    main = main_subject(fg, shot) or main_subject(subjects, shot)
    boxes = [_bbox(sb) for sb in fg] or [(-0.5, stage.ground_y, 0.5, stage.ground_y + 1.0)]
    if stage.table:
        boxes.append((stage.table[0], stage.ground_y - TABLE_HEIGHT_M, stage.table[1], stage.ground_y))
    scene_box = (min(b[0] for b in boxes), min(b[1] for b in boxes),
                 max(b[2] for b in boxes), max(b[3] for b in boxes))
    focus = _bbox(main) if main is not None and main.body is not None else boxes[0]
    floor = stage.floor_y if shot.setting not in ("sky", "space") else None
    x0, y0, x1, y1 = frame(shot.camera.scale, focus, scene_box, floor, aspect)
    if shot.setting == "water":  # a cross-section: the surface at 60 % height, the depths below
        y0, y1 = y0 - 0.35 * (y1 - y0), y1 - 0.35 * (y1 - y0)
    if stage.table and shot.camera.scale != "close-up":
        # Frame the table's edge with floor beside it: that is where things fall off and land.
        vw = x1 - x0
        lo, hi = focus[2] - 0.9 * vw, focus[0] - 0.1 * vw  # keep the main subject in frame
        x0 = min(max(stage.table[1] - 0.6 * vw, lo), hi)
        x1 = x0 + vw
    return (x0, y0, x1, y1)


def _place_background(background: list[SubjectBody], view: tuple[float, float, float, float],
                      stage: Stage) -> None:
    """Background subjects stand behind the action, spread across the frame."""
    x0, y0, x1, _ = view
    for j, sb in enumerate(background):
        u = 0.2 + 0.6 * ((j * 0.618 + 0.15) % 1.0)
        base = stage.floor_y if stage.floor_y is not None else y0
        assert sb.body is not None
        sb.body.position = (x0 + u * (x1 - x0), base + sb.size_m[1] / 2)


# --------------------------------------------------------------------------------------------------
# Impacts


def _install_impacts(scene: Scene, phenomena: list[Phenomenon]) -> None:
    """Contacts of subjects with the ground and with each other become "impact" events; phenomena
    with an `on_impact(subject, other, impulse, speed)` method (fracture, squash) hear about them.

    Measured when the shapes first touch, before the solver acts: `speed` is the closing speed of the
    contact points along the normal (what breaks a glass), `impulse` the momentum change it implies.
    """
    last: dict[tuple[int, int], float] = {}

    def begin(arb: pymunk.Arbiter, space: pymunk.Space, data: object) -> None:
        sa, sb_ = arb.shapes
        ba, bb = sa.body, sb_.body
        n = arb.normal
        speed = 0.0
        for cp in arb.contact_point_set.points:
            rel = ba.velocity_at_world_point(cp.point_a) - bb.velocity_at_world_point(cp.point_b)
            speed = max(speed, float(rel.dot(n)))
        if speed < IMPACT_MIN_SPEED:
            return
        inv = sum(1 / b.mass for b in (ba, bb) if b.body_type == pymunk.Body.DYNAMIC)
        impulse = (1 + arb.restitution) * speed / inv if inv > 0 else 0.0
        a, b = getattr(sa, "subject", None), getattr(sb_, "subject", None)
        key = (id(a), id(b))
        t = scene.t / scene.time_scale
        if t - last.get(key, -1.0) >= IMPACT_DEBOUNCE_S:
            last[key] = t
            scene.emit("impact", 0.55 * min(speed / 6, 1) + 0.45 * min(math.log10(1 + impulse) / 4, 1))
        for me, other, shape in ((a, b, sa), (b, a, sb_)):
            if me is None or shape.body.body_type != pymunk.Body.DYNAMIC:
                continue
            for p in phenomena:
                hook = getattr(p, "on_impact", None)
                if hook is not None:
                    hook(me, other, impulse, speed)

    scene.space.on_collision(CT_SUBJECT, CT_GROUND, begin=begin)
    scene.space.on_collision(CT_SUBJECT, CT_SUBJECT, begin=begin)


def _buoyancy(scene: Scene, dt: float) -> None:
    """Water setting: a body floats by its density and is slowed by the water it is in."""
    for sb in scene.subjects:
        body = sb.body
        if body is None or body.body_type != pymunk.Body.DYNAMIC:
            continue
        h = sb.size_m[1]
        f = min(1.0, max(0.0, (scene.ground_y - (body.position.y - h / 2)) / h))
        if f > 0:
            rho = body.mass / max(mass_kg(sb, 1.0), 1e-9)
            vx, vy = body.velocity
            vy += 1000.0 / rho * f * GRAVITY * dt
            speed = math.hypot(vx, vy)
            damp = 1 / (1 + (4.0 + 3.0 * speed) * f * dt)  # linear plus quadratic water drag
            body.velocity = (vx * damp, vy * damp)
            body.angular_velocity *= damp


# --------------------------------------------------------------------------------------------------
# The loop


def substeps(scene: Scene) -> tuple[int, float]:
    """Sub-steps per frame and their world-time length: at most SUBSTEP_S, at most MAX_SUBSTEPS."""
    frame_dt = scene.time_scale / scene.fps
    n = min(MAX_SUBSTEPS, max(1, math.ceil(frame_dt / SUBSTEP_S - 1e-9)))
    return n, frame_dt / n


def build_scene(shot: Shot, annotation: PhysicsAnnotation | None, aspect: float, seed: int,
                fps: int) -> tuple[Scene, Stage, list[SubjectBody], list[Phenomenon]]:
    """The world of a shot at its first frame: stage, bodies, framing, staged motion, phenomena.

    Returns the scene, the stage, the background subjects and the phenomena (dynamics first).
    """
    load_phenomena()
    space = pymunk.Space()
    space.gravity = (0.0, 0.0) if shot.setting == "space" else (0.0, -GRAVITY)
    space.collision_slop = 0.0005  # pymunk's defaults assume pixels; we work in metres
    space.iterations = 20
    subjects, stage, background = _build_bodies(shot, annotation, space)
    view0 = _frame_scene(shot, subjects, stage, aspect)
    vw = view0[2] - view0[0]
    stage.decor_m = 10 ** math.floor(math.log10(vw / 4))
    if shot.setting == "indoor":
        stage.walls = (view0[0] - 0.3 * vw, view0[2] + 0.3 * vw)
        for wx in stage.walls:
            wall = pymunk.Segment(space.static_body, (wx, -1e3), (wx, 1e3), 0.0)
            wall.elasticity, wall.friction, wall.collision_type = 1.0, 0.8, CT_GROUND
            space.add(wall)
    if shot.setting == "water":
        stage.seabed_y = view0[1] + 0.06 * (view0[3] - view0[1])
        _add_floor(space, stage.seabed_y, elasticity=0.2)
    _place_background(background, view0, stage)
    scene = Scene(shot=shot, annotation=annotation, space=space, rng=np.random.default_rng(seed),
                  world=view0, ground_y=stage.ground_y, fps=float(fps),
                  time_scale=shot.camera.time_scale, subjects=subjects)
    from filmcrew.tools.previz import staging

    staging.stage(scene, self_propelled=True)  # walkers walk and cars drive whatever is annotated
    phenomena: list[Phenomenon] = []
    _install_impacts(scene, phenomena)  # the handler sees the list filled below
    for name in active_phenomena(shot, annotation):
        phenomena.append(REGISTRY[name](scene))
    return scene, stage, background, phenomena


def render_shot(shot: Shot, annotation: PhysicsAnnotation | None, *, width: int, height: int,
                fps: int, seed: int, shot_number: int, overlay: bool,
                progress: Callable[[int, int], None] | None
                ) -> tuple[np.ndarray, Scene, dict[str, np.ndarray], np.ndarray]:
    """Simulate and draw one shot; returns frames (T,H,W,3), the scene, world tracks and views."""
    total = round(shot.duration_s * fps)
    if total < 1:
        raise ValueError(f"shot {shot.id}: {shot.duration_s} s at {fps} fps is no frames")
    scene, stage, background, phenomena = build_scene(shot, annotation, width / height, seed, fps)
    subjects = scene.subjects
    main = main_subject(subjects, shot)
    follow = (lambda: main.position) if main is not None else None
    cam = CameraPath(shot.camera.move, scene.world, follow)
    n_sub, dt = substeps(scene)
    frame_dt = n_sub * dt

    back_ids = {id(sb) for sb in background}
    haze = draw.backdrop_colour(stage)
    tags = annotation.phenomena if annotation is not None else []
    frames = np.empty((total, height, width, 3), np.uint8)
    tracks = {sb.name: np.full((total, 2), np.nan) for sb in subjects}
    views = np.empty((total, 4))
    for i in range(total):
        if i:
            for _ in range(n_sub):
                for p in phenomena:
                    p.step(dt)
                if shot.setting == "water":
                    _buoyancy(scene, dt)
                scene.space.step(dt)
                scene.t += dt
            scene.t = i * frame_dt  # no drift from summing sub-steps
        view = cam.view(i, total)
        views[i] = view
        canvas = Canvas(draw.backdrop(stage, width, height), view)
        draw.stage(canvas, stage)
        for sb in background:
            if sb.drawn_by is None:
                draw.subject(canvas, sb, background=haze)
        for sb in subjects:
            if sb.drawn_by is None and id(sb) not in back_ids:
                draw.subject(canvas, sb)
        for p in phenomena:
            p.draw(canvas)
        draw.water_front(canvas, stage)
        if overlay:
            draw.labels(canvas, [s for s in subjects if s.drawn_by is None])
            draw.overlay(canvas, shot_number, shot.local_prompt, i / fps, fps, tags,
                         shot.camera.time_scale)
        frames[i] = np.asarray(canvas.image)
        for sb in subjects:  # phenomena may add props (a puddle, a vent) as the shot goes
            if sb.body is not None:
                tracks.setdefault(sb.name, np.full((total, 2), np.nan))[i] = sb.position
        if progress is not None:
            progress(i + 1, total)
    return frames, scene, tracks, views
