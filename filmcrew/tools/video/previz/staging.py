"""Staging: a shot's opening positions and velocities, read from its words.

Initial conditions come from the text, not from keyframes: `plan_actions` reads the events with simple
keyword rules ("knocked off the table", "dropped", "rolls into the glass", "the girl kicks the ball")
and `stage` turns each action into a position and velocity chosen so the motion plays inside the
opening frame and the shot's duration (a hit lands about a third of the way in). From there pymunk
integrates; the seed only jitters speeds and positions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pymunk

from filmcrew.tools.video.previz.active import active_phenomena
from filmcrew.tools.video.previz.scene import Scene, SubjectBody

#: Verb groups, first match wins; stems match at word starts ("rolls", "rolling").
VERBS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("knock", ("knock", "push", "nudge", "tip", "off the table", "off the edge", "sweep", "shove")),
    ("throw", ("throw", "thrown", "toss", "hurl", "fling", "flung", "launch", "kick", "lob", "shoot")),
    ("drop", ("drop", "fall", "fell", "release", "let go", "plummet", "bounc", "tumbl")),
    ("roll", ("roll",)),
    ("slide", ("slide", "slid", "skid")),
    ("drive", ("drive", "drove", "speed", "race", "accelerat")),
    ("run", ("run", "ran ", "sprint", "chase", "gallop", "dash")),
    ("walk", ("walk", "stroll", "step", "wander", "trot", "strid")),
    ("fly", ("fly", "flies", "flew", "soar", "glide", "hover")),
    ("rest", ("rest", "still", "sits", "stands", "lies", "placed", "motionless")),
)
HIT_WORDS = ("hit", "strike", "struck", "collid", "crash", "smash", "into", "bump", "onto",
             "against", "toward", "ram", "slam")
SELF_PROPELLED = ("walk", "run", "fly", "drive")
SPEED_M_S = {"walk": 1.4, "run": 4.0, "fly": 5.0}  # for a 1.75 m person; scaled by sqrt(height)
HIT_AT = 0.35  # a planned collision happens this far into the shot...
HIT_MIN_SPEED = 1.2  # m/s ...unless that is slower than this (then it comes sooner)
CAR_SPEED_M_S = 8.0  # a car driving into something (about 30 km/h)
CAR_FRICTION = 0.02  # wheels roll: a driven car does not skid to a stop


@dataclass(frozen=True)
class Action:
    """What a subject does at the start of a shot."""

    verb: str  # rest | drop | knock | throw | roll | slide | hit | walk | run | fly | drive
    target: str | None = None  # the subject a hit is aimed at
    mode: str = ""  # how a hit travels: roll, slide, throw, drop, walk, drive
    leftward: bool = False
    explicit: bool = True  # said by the plan, not a default
    source: str | None = None  # the living subject that throws, kicks or drops it
    low: bool = False  # kicked (from the foot) rather than thrown (from the hand)


def _find(text: str, stems: tuple[str, ...]) -> int:
    hits = [m.start() for s in stems for m in [re.search(r"\b" + re.escape(s), text)] if m]
    return min(hits, default=-1)


def movable(sb: SubjectBody) -> bool:
    """Whether the subject can be staged: a dynamic or kinematic body with a shape."""
    return bool(sb.body is not None and sb.shapes and sb.body.body_type != pymunk.Body.STATIC)


def _mention(text: str, sb: SubjectBody, subjects: list[SubjectBody]) -> int:
    pos = _find(text, (sb.name.lower(),))
    if pos < 0 and sum(s.kind.name == sb.kind.name for s in subjects) == 1:
        pos = _find(text, (sb.kind.name,))
    return pos


def plan_actions(scene: Scene) -> dict[str, Action]:
    """Each subject's opening action from the events (then the prompt), one per subject.

    The first subject named in an event is its actor, unless a later one follows "by" (passive voice);
    a hit word plus another named subject makes a hit aimed at it. Subjects the text leaves alone get
    defaults from the active phenomena: a collision aims the first mover at its nearest neighbour,
    elastic motion drops a bouncy subject, rigid body motion rolls or slides a moving one.
    """
    shot, subjects = scene.shot, scene.subjects
    movers = [sb for sb in subjects if movable(sb)]
    roles = {s.name: s.role for s in shot.subjects}
    lead = next((sb for sb in movers if roles.get(sb.name) == "moving"), movers[0] if movers else None)
    actions: dict[str, Action] = {}
    solid = [sb for sb in subjects if sb.body is not None and sb.shapes]  # can be hit
    for raw in [*shot.events, shot.local_prompt]:
        text = raw.lower()
        where = {id(sb): _mention(text, sb, subjects) for sb in solid}
        named = sorted((sb for sb in solid if where[id(sb)] >= 0), key=lambda sb: where[id(sb)])
        by = re.search(r"\bby\b", text)
        after_by = [sb for sb in named if by and movable(sb) and where[id(sb)] > by.start()]
        actor = after_by[0] if after_by else next((sb for sb in named if movable(sb)), lead)
        if actor is None or actor.name in actions:
            continue
        verb = next((v for v, stems in VERBS if _find(text, stems) >= 0), "")
        others = [sb for sb in named if sb is not actor]
        left = _find(text, ("left",)) >= 0
        if actor.kind.animate and verb in ("throw", "knock", "drop") and others:
            # "the girl kicks the ball": the ball flies, the girl stays on her feet.
            if others[0].name not in actions and movable(others[0]):
                actions[others[0].name] = Action(verb, None, "", left, source=actor.name,
                                                 low=_find(text, ("kick",)) >= 0)
            continue
        if others and (after_by or _find(text, HIT_WORDS) >= 0):
            actions[actor.name] = Action("hit", others[0].name, verb, left)
        elif verb:
            actions[actor.name] = Action(verb, None, "", left)
    active = set(active_phenomena(shot, scene.annotation))
    rest = [sb for sb in movers if sb.name not in actions]
    if "collision" in active and len(movers) >= 2 and not any(
            a.verb != "rest" for a in actions.values()) and lead is not None and lead in rest:
        target = min((sb for sb in movers if sb is not lead),
                     key=lambda sb: abs(sb.position[0] - lead.position[0]))
        actions[lead.name] = Action("hit", target.name, "", False, explicit=False)
    targets = {a.target for a in actions.values()}
    for sb in rest:
        if sb.name in actions or sb.name in targets:  # a target waits to be hit
            continue
        if sb.kind.animate and roles.get(sb.name) == "moving":
            actions[sb.name] = Action("fly" if sb.kind.name == "bird" else "walk", explicit=False)
        elif sb.kind.shape == "car" and roles.get(sb.name) == "moving":
            actions[sb.name] = Action("drive", explicit=False)
        elif "elastic motion" in active and (sb.material.elastic or sb.kind.shape == "circle"):
            actions[sb.name] = Action("drop", explicit=False)
        elif "rigid body motion" in active and roles.get(sb.name) == "moving":
            actions[sb.name] = Action("roll" if sb.kind.shape == "circle" else "slide", explicit=False)
    return actions


def _self_propelled(sb: SubjectBody, a: Action) -> bool:
    return (a.verb in SELF_PROPELLED or a.mode in SELF_PROPELLED or sb.kind.animate
            or sb.kind.shape == "car")


def stage(scene: Scene, self_propelled: bool) -> None:
    """Set positions and velocities of the subjects that move by will (self_propelled=True: the
    renderer does this for every shot) or of the passive ones (the first dynamics phenomenon).

    A staged scene (the plan speaks the scene language) is driven by its own actions instead."""
    if scene.play is not None:
        return
    actions = plan_actions(scene)
    by_name = {sb.name: sb for sb in scene.subjects}
    todo = [(by_name[n], a) for n, a in actions.items() if n in by_name]
    todo.sort(key=lambda p: p[1].verb == "hit")  # targets settle before anyone aims at them
    for sb, a in todo:
        if _self_propelled(sb, a) == self_propelled and movable(sb):
            _apply(scene, sb, a, by_name.get(a.target or ""))


def _support_edge(scene: Scene, sb: SubjectBody, direction: float) -> float | None:
    """x of the edge of whatever the subject stands on (a table top), in `direction`; None on a floor."""
    assert sb.body is not None
    x, y = sb.position
    yb = y - sb.size_m[1] / 2 - 0.004
    mine = set(sb.shapes)
    for q in scene.space.point_query((x, yb), 0.001, pymunk.ShapeFilter()):
        if q.shape is None or q.shape in mine or not isinstance(q.shape, pymunk.Poly):
            continue
        hit = q.shape.segment_query((x + direction * 1e3, yb), (x, yb), 0.0)
        if hit.shape is not None:
            return float(hit.point.x)
    return None


def _apply(scene: Scene, sb: SubjectBody, a: Action, target: SubjectBody | None) -> None:
    body = sb.body
    assert body is not None
    rng = scene.rng
    x0, y0, x1, y1 = scene.world
    vw, vh = x1 - x0, y1 - y0
    g = -float(scene.space.gravity.y)
    T = scene.duration_world_s
    w, h = sb.size_m
    x, y = sb.position
    d = -1.0 if a.leftward else 1.0
    mu = max(sb.material.friction, 0.05)
    jit = float(1 + 0.06 * np.clip(rng.normal(), -2, 2))
    verb = a.verb
    source = next((s for s in scene.subjects if s.name == a.source), None)
    if source is not None and verb in ("throw", "drop"):
        sx, sy = source.position
        sw, sh = source.size_m
        x = sx + d * (sw / 2 + w / 2 + 0.02)
        y = sy - sh / 2 + h / 2 + (0.02 if a.low else 0.7 * sh)
        if verb == "drop":
            body.position, body.velocity = (x, y), (0.0, 0.0)
            return
        _launch(body, (x, y), (x + d * 0.6 * vw, y - (0.0 if a.low else 0.7 * sh)), g, T, rng)
        return
    if verb == "hit" and target is not None and target.body is not None:
        verb = _aim(scene, sb, a, target, d, jit)
        if verb == "done":
            return
        x, y = sb.position
    if verb in ("walk", "run", "fly") and body.body_type == pymunk.Body.KINEMATIC:
        speed = SPEED_M_S[verb] * math.sqrt(h / 1.75) * jit
        if verb == "fly" and scene.shot.setting != "sky":  # take off into the upper frame
            y += 0.35 * vh
        body.position = (x - d * 0.25 * vw, y)
        body.velocity = (d * speed, 0.0)
    elif verb == "drive":
        for s in sb.shapes:
            s.friction = CAR_FRICTION
        body.position = (x - d * 0.3 * vw, y)
        body.velocity = (d * min(25.0, max(3.0, 0.6 * vw / T)) * jit, 0.0)
    elif verb == "drop":
        top = y1 - 0.08 * vh - h / 2
        lift = max(top - y, h) * (0.92 + 0.08 * rng.random())
        if target is None:
            x += float(rng.uniform(-0.04, 0.04)) * vw
        body.position = (x, y + lift)
        body.velocity = (0.0, 0.0)
        if sb.kind.shape != "circle":
            body.angle = float(rng.uniform(-0.3, 0.3))
    elif verb == "knock":
        edge = _support_edge(scene, sb, d)
        if edge is not None:
            run = 1.5 * w + 0.05  # far enough from the edge that the push is seen
            body.position = (edge - d * (run + 0.5 * w), y)
            body.velocity = (d * (math.sqrt(2 * mu * g * (run + 0.6 * w)) + 0.1) * jit, 0.0)
        else:  # nothing to fall off: topple it
            body.velocity = (d * 0.8 * jit, 0.0)
            body.angular_velocity = -d * 4.0
    elif verb == "throw" or verb == "fly":
        start = (x0 + 0.12 * vw if d > 0 else x1 - 0.12 * vw, y + 0.25 * vh)
        land = (target.position[0] if target else start[0] + d * 0.65 * vw,
                target.position[1] if target else y)
        _launch(body, start, land, g, T, rng)
    elif verb in ("roll", "slide", "walk", "run"):
        body.position = (x - d * 0.25 * vw, y)
        if sb.kind.shape == "circle":
            v = min(15.0, max(0.3, 0.45 * vw / T)) * jit
            body.velocity = (d * v, 0.0)
            body.angular_velocity = -d * v / (w / 2)  # rolling without slipping keeps its speed
        else:
            v = math.sqrt(2 * mu * g * 0.4 * vw) if g > 0 else 0.4 * vw / T
            body.velocity = (d * v * jit, 0.0)


def _launch(body: pymunk.Body, start: tuple[float, float], land: tuple[float, float], g: float,
            T: float, rng: np.random.Generator) -> None:
    """A ballistic throw from start that comes down at land (straight at it without gravity)."""
    body.position = start
    dx, dy = land[0] - start[0], land[1] - start[1]
    if g <= 0:
        t = HIT_AT * T
        body.velocity = (dx / t, dy / t)
        return
    theta = math.radians(50 + float(rng.uniform(-5, 5)))
    denom = 2 * math.cos(theta) ** 2 * (abs(dx) * math.tan(theta) - dy)
    v = math.sqrt(g * dx * dx / denom) if denom > 1e-6 else math.sqrt(g * max(abs(dx), 0.1))
    body.velocity = (math.copysign(v * math.cos(theta), dx or 1.0), v * math.sin(theta))
    body.angular_velocity = float(rng.uniform(-6, 6))


def _aim(scene: Scene, sb: SubjectBody, a: Action, target: SubjectBody, d: float, jit: float) -> str:
    """Put the actor on a collision course with the target; returns the verb still to apply."""
    body = sb.body
    assert body is not None
    x0, _, x1, _ = scene.world
    vw = x1 - x0
    w, h = sb.size_m
    tx, ty = target.position
    tw, th = target.size_m
    if a.mode == "drop":
        body.position = (tx + float(scene.rng.uniform(-0.1, 0.1)) * tw, ty + th / 2 + h / 2)
        return "drop"
    if a.mode in ("throw", "fly") and not sb.kind.animate:
        return "throw"
    t = HIT_AT * scene.duration_world_s
    g = -float(scene.space.gravity.y)
    y = ty + (0.0 if g == 0 else (h - th) / 2)  # on the target's ground (or level with it in space)
    if sb.kind.shape == "car":
        for s in sb.shapes:
            s.friction = CAR_FRICTION
    mu = max(sb.shapes[0].friction, 0.0)
    if _self_propelled(sb, a):
        # Cars and walkers come at their own pace, entering from off screen if the shot is long.
        speed = jit * (SPEED_M_S.get(a.mode, SPEED_M_S["walk"]) * math.sqrt(h / 1.75)
                       if sb.kind.animate else CAR_SPEED_M_S)
        body.position = (tx - d * (speed * t + (w + tw) / 2), y)
        v = speed if body.body_type == pymunk.Body.KINEMATIC else speed + mu * g * t / 2
        body.velocity = (d * v, 0.0)
        return "done"
    # A long shot would make a leisurely hit; take a longer run-up instead, up to the frame edge.
    room = (tx - x0 if d > 0 else x1 - tx) - (w + tw) / 2 - w
    gap = min(max(0.3 * vw, 1.5 * w, HIT_MIN_SPEED * t), max(room, 0.5 * w))
    start = tx - d * (gap + (w + tw) / 2)
    body.position = (start, y)
    edge = _support_edge(scene, sb, -d)
    if edge is not None and (start - edge) * d < w / 2:  # keep the run-up on the table
        start = edge + d * (w / 2 + 0.01)
        gap = abs(tx - start) - (w + tw) / 2
        body.position = (start, y)
    t = min(t, gap / HIT_MIN_SPEED)  # no run-up long enough: arrive earlier rather than crawl
    if sb.kind.shape == "circle" or g == 0:
        v = gap / t * jit
        if sb.kind.shape == "circle" and g > 0:
            body.angular_velocity = -d * v / (w / 2)  # rolling: no friction loss on the way
    else:  # sliding loses speed to friction on the way
        v = max(gap / t + mu * g * t / 2, math.sqrt(2 * mu * g * gap) * 1.2) * jit
    body.velocity = (d * min(v, 40.0), 0.0)
    return "done"
