"""Subjects as bodies: a shot's stage (floor, table) and each subject's rigid body, size and mass.

Subjects are laid out left to right, small ones on the table when the setting is a table; what a
subject is made of and what it is decides its body: dynamic things fall and collide, living subjects
walk by will (kinematic), big static things stay put, a liquid poured in a glass has no body of its own
(it is drawn inside the glass), and the substance of a phenomenon (smoke, water) is left to it.
The staging frame (`staging_frame`) is the view the shot's motion and props are laid out in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pymunk

from filmcrew import catalog
from filmcrew.schemas import PhysicsAnnotation, Shot, Subject
from filmcrew.tools.video.previz.camera import frame
from filmcrew.tools.video.previz.scene import SubjectBody
from filmcrew.tools.video.previz.vessels import held_pairs

GRAVITY = 9.81
TABLE_HEIGHT_M = 0.75
CT_GROUND, CT_SUBJECT, CT_FRAGMENT = 1, 2, 3  # pymunk collision types
CAT_HEAVY, HEAVY_KG = 0b10, 200.0  # collision category of bodies a walker cannot push

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
    place: str | None = None  # the plan's place (kitchen, classroom, river...) when it names one
    pieces: list[Any] = field(default_factory=list)  # scenery pieces (stagecraft) drawn with the stage


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


def build_bodies(shot: Shot, annotation: PhysicsAnnotation | None, space: pymunk.Space
                 ) -> tuple[list[SubjectBody], Stage, list[SubjectBody]]:
    """Subjects laid out left to right, on the table when small and the setting is a table.

    A liquid the plan puts in a container gets no body and no place of its own: it is in the glass.
    """
    setting = shot.setting
    floor_y: float | None = None if setting == "space" else 0.0
    subjects = [_make_subject(s) for s in shot.subjects]
    held = {id(liquid) for liquid, _ in held_pairs(subjects, shot)}
    kinds = ["none" if id(sb) in held else _body_kind(s, sb, setting)
             for s, sb in zip(shot.subjects, subjects, strict=True)]
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
        add_floor(space, floor_y, elasticity=1.0)  # a hard floor: restitution = the material's

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


def add_floor(space: pymunk.Space, y: float, elasticity: float) -> None:
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


def staging_frame(shot: Shot, subjects: list[SubjectBody], stage: Stage, aspect: float
                  ) -> tuple[float, float, float, float]:
    """The view the shot's motion and props are laid out in, from the subjects where they start.

    Staging (how far a ball is thrown, how high it is dropped) and the props phenomena bring in are
    sized to this frame; the camera then frames what actually happens (see `framing`).
    """
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


def place_background(background: list[SubjectBody], view: tuple[float, float, float, float],
                     stage: Stage) -> None:
    """Background subjects stand behind the action, spread across the frame."""
    x0, y0, x1, _ = view
    for j, sb in enumerate(background):
        u = 0.2 + 0.6 * ((j * 0.618 + 0.15) % 1.0)
        base = stage.floor_y if stage.floor_y is not None else y0
        assert sb.body is not None
        sb.body.position = (x0 + u * (x1 - x0), base + sb.size_m[1] / 2)

