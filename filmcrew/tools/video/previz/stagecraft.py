"""Stagecraft: the plan's scene built as bodies, and its actions driving them in their time windows.

`build_play` lays out the scenery (a shelf, a ramp, a river with a waterfall, a bin) and the subjects
in their counts and arrangements (a stack of six plates, a wall of bricks) where the starting relations
put them (on the shelf, at the top of the ramp, in the river), left to right in the direction the action
flows. `Play` is the phenomenon-like driver the renderer steps first: each action starts at its time
(a push, a release, a throw aimed at its target, a pendulum let go), continuous ones act over their
window (lift on a glider, the current on what floats), and pymunk does the rest. Phenomena (shatter,
melt, splash) keep working on top, on these bodies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pymunk

from filmcrew import catalog
from filmcrew.schemas import PhysicsAnnotation, Shot
from filmcrew.tools.video.previz.bodies import (
    CT_GROUND,
    CT_SUBJECT,
    GRAVITY,
    HEAVY_KG,
    Stage,
    _body_kind,
    add_floor,
    density_kg_m3,
    mass_kg,
)
from filmcrew.tools.video.previz.places import is_indoor
from filmcrew.tools.video.previz.scene import Canvas, Phenomenon, Scene, SubjectBody
from filmcrew.tools.video.previz.scenery import (
    CAT_SCENERY_BACK,
    CONTAINERS,
    SLOPES,
    SUPPORTS,
    WATERS,
    Piece,
    build_piece,
    draw_back,
    draw_front,
    width_of,
)
from filmcrew.tools.video.previz.spec import (
    MOTION_VERBS,
    NAMED,
    SceneSpec,
    SpecAction,
    SpecScenery,
    SpecSubject,
    count_of,
)

Box = tuple[float, float, float, float]
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (205, 50, 45), "blue": (50, 90, 200), "green": (60, 160, 70), "yellow": (235, 205, 50),
    "white": (245, 245, 240), "black": (35, 35, 38), "orange": (235, 130, 40), "purple": (130, 70, 170),
    "pink": (235, 140, 175), "brown": (120, 80, 45), "grey": (140, 140, 145), "gray": (140, 140, 145),
    "gold": (230, 190, 60), "silver": (195, 198, 205), "golden": (230, 190, 60),
}
FLIGHT_VERBS = ("glide", "fly", "throw", "launch")
PUSH_VERBS = ("push", "knock over", "hit", "roll", "slide", "move")
GAP_M = 1.0  # floor between scenery pieces
#: Verbs that happen to a living subject rather than by its will: it is a body then, not a walker.
PASSIVE_VERBS = ("slide", "roll", "fall", "drop", "topple", "drift", "float", "sink", "swing",
                 "bounce", "throw", "launch", "glide")


@dataclass
class Group:
    """The bodies of one plan subject (one per counted thing)."""

    spec: SpecSubject
    bodies: list[SubjectBody]
    size: tuple[float, float]
    shape: str

    @property
    def width(self) -> float:
        xs = [b.position[0] for b in self.bodies]
        return max(xs) - min(xs) + self.size[0] if xs else self.size[0]


@dataclass
class Pendulum:
    group: str
    pivot: tuple[float, float]
    length: float
    joint: pymunk.Constraint


@dataclass
class Hold:
    """A body kept where it was placed until its action starts."""

    sb: SubjectBody
    pose: tuple[float, float, float]
    until: float


@dataclass
class Play:
    spec: SceneSpec
    pieces: list[Piece]
    groups: dict[str, Group]
    pendulums: list[Pendulum] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    lifts: list[tuple[SubjectBody, float, float, float, float]] = field(default_factory=list)
    started: set[int] = field(default_factory=set)
    stalled: set[int] = field(default_factory=set)
    targets: dict[int, tuple[float, float]] = field(default_factory=dict)  # action -> aim point
    places: str | None = None

    def piece(self, name: str | None) -> Piece | None:
        return next((p for p in self.pieces if p.name == name), None)

    def set_box(self) -> Box:
        """Every piece and every body where they start, for the staging frame."""
        boxes = []
        for p in self.pieces:
            if p.kind == "floor":
                continue
            x0, y0, x1, y1 = p.box
            if p.kind in ("river", "stream", "pond", "waterfall"):
                y0 = max(y0, (p.surface or 0.0) - 0.6)
            boxes.append((x0, y0, x1, y1))
        for g in self.groups.values():
            for sb in g.bodies:
                if sb.body is not None:
                    x, y = sb.position
                    w, h = sb.size_m
                    boxes.append((x - w / 2, y - h / 2, x + w / 2, y + h / 2))
        for pd in self.pendulums:
            boxes.append((pd.pivot[0] - 0.2, pd.pivot[1] - 0.2, pd.pivot[0] + 0.2, pd.pivot[1] + 0.2))
        a = np.array(boxes or [(-1.0, 0.0, 1.0, 1.0)])
        return (float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 2].max()), float(a[:, 3].max()))


# --------------------------------------------------------------------------------------------------
# Subjects as groups of bodies


def _proto(s: SpecSubject) -> tuple[catalog.ObjectKind, catalog.Material, tuple[float, float], str]:
    name = s.name.lower().strip()
    named = NAMED.get(name) or next((v for k, v in NAMED.items() if name.endswith(" " + k)), None)
    k = catalog.kind(s.kind)
    if k.name == "object":
        k = catalog.find_kind(name.split()[-1]) or k
    m = catalog.find_material(s.material) or catalog.MATERIALS[k.material]
    if named is not None:
        size, shape, mat = named
        if catalog.find_material(s.material) is None or s.material in ("", k.material):
            m = catalog.MATERIALS[mat]
        k = catalog.ObjectKind(name, size, shape, m.name)
        return k, m, size, shape
    return k, m, k.size_m, k.shape


def _colour(s: SpecSubject, m: catalog.Material) -> tuple[int, int, int]:
    for c in s.colors:
        if c.lower() in COLORS:
            return COLORS[c.lower()]
    if "brick" in s.name.lower() and m.name == "ceramic":
        return (178, 84, 62)
    return m.color


def _make_body(sb: SubjectBody, annotation: PhysicsAnnotation | None, shape_name: str, kind: str,
               space: pymunk.Space) -> None:
    w, h = sb.size_m
    if kind == "dynamic":
        m = mass_kg(sb, density_kg_m3(sb, annotation))
        if shape_name == "circle":
            moment = pymunk.moment_for_circle(m, 0, w / 2)
        else:
            moment = pymunk.moment_for_box(m, (w, h)) * (4.0 if shape_name == "boat" else 1.0)
        sb.body = pymunk.Body(m, moment)
    elif kind == "kinematic":
        sb.body = pymunk.Body(body_type=pymunk.Body.KINEMATIC)
    else:
        sb.body = pymunk.Body(body_type=pymunk.Body.STATIC)
    if sb.material.state == "solid":
        shape: pymunk.Shape
        if shape_name == "circle":
            shape = pymunk.Circle(sb.body, w / 2)
        elif shape_name == "boat":
            shape = pymunk.Poly(sb.body, [(-w / 2, 0.0), (-w * 0.35, -h / 2), (w * 0.4, -h / 2),
                                          (w / 2, 0.0)])
        else:
            shape = pymunk.Poly.create_box(sb.body, (w, h))
        shape.elasticity, shape.friction = sb.material.restitution, sb.material.friction
        shape.collision_type = CT_SUBJECT
        shape.subject = sb  # type: ignore[attr-defined]
        sb.shapes = [shape]
        if sb.body.body_type == pymunk.Body.DYNAMIC and sb.body.mass > HEAVY_KG:
            shape.filter = pymunk.ShapeFilter(categories=0b10)
    space.add(sb.body, *sb.shapes)


def arrangement_offsets(n: int, arrangement: str, w: float, h: float, shape: str
                        ) -> list[tuple[float, float]]:
    """(dx, bottom) of each of n bodies relative to the group's centre-bottom, as arranged."""
    if n <= 1:
        return [(0.0, 0.0)]
    if arrangement == "stack" and shape == "circle":
        arrangement = "pile"
    if arrangement == "stack":
        return [(0.0, k * h) for k in range(n)]
    if arrangement == "wall":
        rows = max(1, round(math.sqrt(n * w / (1.2 * h))))
        rows = min(rows, n)
        cols = math.ceil(n / rows)
        out = []
        for k in range(n):
            r, c = divmod(k, cols)
            in_row = min(cols, n - r * cols)
            out.append(((c - (in_row - 1) / 2) * (w + 0.002), r * (h + 0.001)))
        return out
    if arrangement == "pile":
        out, level, width = [], 0, 1
        while width * (width + 1) // 2 < n:
            width += 1
        k = 0
        while k < n:
            m = width - level
            for c in range(m):
                if k >= n:
                    break
                out.append(((c - (m - 1) / 2) * (w + 0.004), level * h * (0.87 if shape == "circle" else 1.0)))
                k += 1
            level += 1
        return out
    if arrangement == "row":
        gap = 0.55 * h if h > 1.5 * w else 0.35 * w
    elif arrangement == "ring":
        gap = 0.6 * w
    elif arrangement == "scattered":
        gap = 1.2 * w
    else:
        gap = 0.3 * w
    step = w + gap
    return [((k - (n - 1) / 2) * step + (0.3 * w * math.sin(7.1 * k) if arrangement == "scattered" else 0.0),
             0.0) for k in range(n)]


def _group_footprint(n: int, arrangement: str, w: float, h: float, shape: str) -> tuple[float, float]:
    offs = arrangement_offsets(n, arrangement, w, h, shape)
    xs = [o[0] for o in offs]
    return (max(xs) - min(xs) + w, max(o[1] for o in offs) + h)


# --------------------------------------------------------------------------------------------------
# Layout


def _first_action(spec: SceneSpec, name: str, verbs: tuple[str, ...] | None = None) -> SpecAction | None:
    return next((a for a in spec.actions if a.subject == name and (verbs is None or a.verb in verbs)), None)


def _support_relation(spec: SceneSpec, name: str) -> tuple[str, str] | None:
    for r in spec.relations_of(name):
        if r.relation in ("on", "in", "at the top of", "at the bottom of", "hanging from", "above",
                          "beside", "against", "under", "behind", "in front of"):
            return r.relation, r.object
    return None


def build_play(shot: Shot, annotation: PhysicsAnnotation | None, space: pymunk.Space, spec: SceneSpec
               ) -> tuple[list[SubjectBody], Stage, list[SubjectBody], Play]:
    """Bodies for the scene: scenery pieces, subject groups placed by relation and action."""
    place = spec.place
    setting = shot.setting
    in_space = setting == "space" or place == "space"
    floor_y: float | None = None if in_space else 0.0
    duration = shot.duration_s * shot.camera.time_scale

    _subjects_as_scenery(spec)
    # subjects: one SubjectBody per counted thing
    groups: dict[str, Group] = {}
    subjects: list[SubjectBody] = []
    background: list[SubjectBody] = []
    water_subjects = []
    for s in spec.subjects:
        k, m, size, shape = _proto(s)
        n = count_of(s)
        bodies = []
        for i in range(n):
            name = s.name if i == 0 else f"{s.name}#{i + 1}"
            label = "" if i else (s.name if n == 1 else f"{s.name} x{n}")  # the overlay font has no ×
            sb = SubjectBody(name=name, kind=k, material=m, size_m=size, color=_colour(s, m), label=label)
            bodies.append(sb)
        groups[s.name] = Group(s, bodies, size, shape)
        groups[s.name].actions = spec.actions_of(s.name)  # type: ignore[attr-defined]
        if m.state != "solid" and k.name in ("object", "puddle", "pool", "wave"):
            water_subjects.append(s.name)
    play = Play(spec, [], groups, places=place)

    # ---- water first: a river (and waterfall) spans the layout
    sceneries = list(spec.scenery)
    for wname in water_subjects:  # a plan that names the river as a subject still gets a river
        if not any(sc.kind in WATERS for sc in sceneries):
            kind = "waterfall" if "fall" in wname else "river"
            sceneries.append(SpecScenery(name=wname, kind=kind))
    if place in ("lake", "sea", "pool", "river") and not any(sc.kind in WATERS for sc in sceneries):
        sceneries.append(SpecScenery(name=f"the {place}", kind="river" if place == "river" else "pond"))
    waters = [sc for sc in sceneries if sc.kind in WATERS]
    wnames = {w.name for w in waters}
    floaters = [g for g in groups.values() if waters and g.spec.name not in water_subjects and (
        any(a.verb in ("drift", "float", "sink") for a in spec.actions_of(g.spec.name))
        or any(r.relation in ("on", "in") and r.object in wnames
               and g.bodies[0].material.density < 1.0 for r in spec.relations_of(g.spec.name))
        or any(a.target in wnames and a.verb in MOTION_VERBS for a in spec.actions_of(g.spec.name))
        or (g.bodies[0].material.density < 1.0 and g.bodies[0].material.state == "solid"
            and any(a.verb in MOTION_VERBS for a in spec.actions_of(g.spec.name))))]
    x_cursor = 0.0
    if waters:
        river_sc = next((w for w in waters if w.kind in ("river", "stream", "pond")), None)
        fall_sc = next((w for w in waters if w.kind == "waterfall"), None)
        if river_sc is None:
            river_sc = SpecScenery(name="river", kind="river")
        speed = river_sc.speed_m_s or (0.6 if river_sc.kind == "river" else 0.45)
        if river_sc.kind == "pond":
            speed = 0.25 if any(a.verb == "drift" for a in spec.actions) else 0.0
            river_sc = SpecScenery(river_sc.name, "pond", speed_m_s=speed or None)
        drift = [a for a in spec.actions if a.verb in ("drift", "float", "move", "fall", "drop")
                 and a.subject in {g.spec.name for g in floaters}]
        over = next((a for a in spec.actions if a.path == "over" or (fall_sc and a.target == fall_sc.name)),
                    None)
        if fall_sc is not None:
            t_lip = (over.t0 + 0.35 * (over.t1 - over.t0)) if over else 0.75 * duration
            length = max(2.0, speed * 1.1 * t_lip + 0.5) if speed > 0 else 4.0
        else:
            t_end = max([a.t1 for a in drift] + [duration])
            length = max(4.0, 1.2 * speed * t_end + 2.0)
        river = build_piece(space, river_sc, -0.5, length=length + 0.5)
        play.pieces.append(river)
        x_cursor = river.x1
        if fall_sc is not None:
            fall = build_piece(space, fall_sc, river.x1,
                               length=max(3.0, 0.8 * speed * max(duration - t_lip, 0.0) + 2.0))
            play.pieces.append(fall)
            x_cursor = fall.x1
        # floaters start upstream, at the surface; things placed in the river stand on its bed
        for j, g in enumerate(floaters):
            _place_group(g, -0.2 - 0.5 * j, river.surface - 0.45 * g.size[1])  # type: ignore[operator]
        passed = {goal(spec, a) for a in spec.actions if a.path in ("past", "around", "through")}
        in_river = [g for g in groups.values() if g not in floaters and (any(
            r.object in {w.name for w in waters} for r in spec.relations_of(g.spec.name))
            or g.spec.name in passed or g.bodies[0].kind.name == "rock")]
        for g in in_river:
            g.spec.role = "static"  # rocks in a river stand; what floats passes them
        past = next((a for a in spec.actions if a.path == "past"), None)
        for g in in_river:
            n = len(g.bodies)
            if past is not None and speed > 0:
                xs = [0.75 * speed * (past.t0 + (i + 1) / (n + 1) * (past.t1 - past.t0)) for i in range(n)]
            else:
                xs = [length * (i + 1) / (n + 1) for i in range(n)]
            for sb, x in zip(g.bodies, xs, strict=True):
                y = (river.surface or 0.0) - g.size[1] / 2 + 0.12
                _set(sb, x, y)
    else:
        river = None
        in_river = []

    # ---- supports and slopes named by relations, in the order the relations name them
    placed_pieces: dict[str, Piece] = {p.name: p for p in play.pieces}
    actor = _actor(spec)

    def place_piece(sc: SpecScenery, x: float, content_w: float = 0.0) -> Piece:
        if sc.kind == "floor":  # the floor itself: everywhere, drawn by the place
            p = Piece(sc.name, "floor", -50.0, 50.0, top=0.0, span=(-50.0, 50.0), height=0.0)
            play.pieces.append(p)
            placed_pieces[sc.name] = p
            return p
        p = build_piece(space, sc, x, width=width_of(sc, content_w))
        play.pieces.append(p)
        placed_pieces[sc.name] = p
        return p

    by_name = {sc.name: sc for sc in sceneries}
    order = []
    for r in spec.relations:
        if r.object in by_name and r.object not in order and by_name[r.object].kind not in WATERS:
            order.append(r.object)
    for sc_name in order:
        sc = by_name[sc_name]
        residents = [groups[r.subject] for r in spec.relations if r.object == sc_name and r.subject in groups]
        content = sum(_group_footprint(len(g.bodies), g.spec.arrangement, *g.size, g.shape)[0]
                      for g in residents) + 0.08 * max(0, len(residents) - 1)
        p = place_piece(sc, x_cursor, content)
        x_cursor = p.x1 + (1.4 if sc.kind in SUPPORTS or sc.kind in SLOPES else GAP_M)
        if sc.kind == "stairs":
            x_cursor = p.x0 + 0.5 + 0.28 * p.steps + 1.0
        for g in residents:
            rel = next(r.relation for r in spec.relations_of(g.spec.name) if r.object == sc_name)
            _place_on_piece(g, p, rel, spec)

    # ---- what goes down a slope starts at its top, even when the plan forgot to say so
    for a in spec.actions:
        g = groups.get(a.subject)
        sc = by_name.get(a.target or "")
        if g is None or sc is None or _placed(g) or a.path != "down" or sc.kind not in SLOPES:
            continue
        p = placed_pieces.get(sc.name) or place_piece(sc, x_cursor)
        x_cursor = max(x_cursor, p.x1 + 1.4)
        _place_on_piece(g, p, "at the top of", spec)

    # ---- groups on other groups ("the ball on the block")
    for g in groups.values():
        if _placed(g):
            continue
        rel = _support_relation(spec, g.spec.name)
        if rel and rel[1] in groups and _placed(groups[rel[1]]) and rel[0] in ("on", "above", "in"):
            _place_by_group(g, groups[rel[1]], rel[0])

    # ---- the actor, if not placed yet, and the targets of actions
    for a in spec.actions:
        g = groups.get(a.subject)
        if g is None:
            continue
        target = goal(spec, a) if verb_flies(a.verb) else a.target
        rel = _support_relation(spec, a.subject)
        if not _placed(g) and rel is not None and (rel[1] in groups or rel[1] in by_name):
            continue  # it starts where its relation puts it (placed below, after its support)
        if a.verb in ("land",) and any(b.subject == a.subject and verb_flies(b.verb)
                                       for b in spec.actions[:spec.actions.index(a)]):
            continue  # the flight before it placed the landing spot
        tgt_piece_sc = by_name.get(target or "")
        tgt_group = groups.get(target or "")
        if not _placed(g):
            start_x = x_cursor
            fw, _ = _group_footprint(len(g.bodies), g.spec.arrangement, *g.size, g.shape)
            if a.verb in FLIGHT_VERBS:
                _place_group(g, start_x + fw / 2, 1.3 if a.verb in ("glide", "fly") else 0.0)
            elif a.verb in ("drop", "fall", "bounce"):
                _place_group(g, start_x + fw / 2, 1.2 if a.verb != "fall" else 0.0)
            elif a.verb != "swing":
                _place_group(g, start_x + fw / 2, 0.0)
            if a.verb != "swing":
                x_cursor = start_x + fw + 0.2
        # the target, placed at a distance the action covers in its window
        if (tgt_piece_sc is not None and tgt_piece_sc.name not in placed_pieces) or (
                tgt_group is not None and not _placed(tgt_group)):
            win = max(a.t1 - a.t0, 0.5)
            if a.verb in ("glide", "fly"):
                dist = min(7.0, max(2.5, 1.6 * win * a.pace))
            elif a.verb in ("throw", "launch"):
                dist = min(6.0, max(1.5, 1.5 * win))
            elif a.verb == "swing":
                dist = 0.0
            elif a.verb in ("drop", "fall", "bounce"):
                dist = -0.2
            else:
                dist = min(4.0, max(1.0, 0.8 * win))
            ax = max((b.position[0] + b.size_m[0] / 2 for b in g.bodies), default=x_cursor) \
                if _placed(g) else x_cursor
            tx = ax + dist
            if a.verb in ("drop", "fall", "bounce") and _placed(g):
                tx = float(np.mean([b.position[0] for b in g.bodies])) - 0.25
            if tgt_piece_sc is not None and tgt_piece_sc.name not in placed_pieces:
                p = place_piece(tgt_piece_sc, tx)
                x_cursor = max(x_cursor, p.x1 + GAP_M)
            elif tgt_group is not None:
                fw, _ = _group_footprint(len(tgt_group.bodies), tgt_group.spec.arrangement,
                                         *tgt_group.size, tgt_group.shape)
                tx = max(tx, x_cursor) if a.verb == "swing" else tx
                _place_group(tgt_group, tx + fw / 2, 0.0)
                x_cursor = max(x_cursor, tx + fw + GAP_M)
        if a.verb == "swing" and not _placed(g):
            _hang(play, g, a, groups.get(a.target or ""), placed_pieces.get(a.target or ""), x_cursor, space)

    hanging = [g for g in groups.values() if not _placed(g)
               and any(w in g.spec.name.lower() for w in ("wrecking ball", "pendulum"))]

    # ---- everything else: remaining pieces, then remaining groups, on the floor left to right
    for sc in sceneries:
        if sc.name not in placed_pieces and sc.kind not in WATERS:
            p = place_piece(sc, x_cursor)
            if p.kind != "floor":
                x_cursor = p.x1 + GAP_M
    todo = [g for g in groups.values() if not _placed(g) and g.spec.name not in water_subjects
            and g not in hanging]
    for _round in range(len(todo) + 1):
        for g in list(todo):
            rel = _support_relation(spec, g.spec.name)
            if rel and rel[1] in groups and groups[rel[1]] in todo and groups[rel[1]] is not g \
                    and _round < len(todo):
                continue  # its support first
            todo.remove(g)
            if rel and rel[1] in placed_pieces:
                _place_on_piece(g, placed_pieces[rel[1]], rel[0], spec)
                continue
            if rel and rel[1] in groups and _placed(groups[rel[1]]):
                _place_by_group(g, groups[rel[1]], rel[0])
                continue
            fw, _ = _group_footprint(len(g.bodies), g.spec.arrangement, *g.size, g.shape)
            _place_group(g, x_cursor + fw / 2, 0.0)
            x_cursor += fw + max(0.3, 0.8 * g.size[0])
    for g in hanging:  # a wrecking ball or a pendulum hangs even when it does not swing in this shot
        other = next((o for o in groups.values() if o is not g and _placed(o)), None)
        _hang(play, g, None, other, None, x_cursor, space)
    _ = actor

    # ---- bodies
    for g in groups.values():
        kind = _physical_kind(g, setting)
        for sb in g.bodies:
            if kind == "none":
                continue
            if not hasattr(sb, "_xy"):
                _set(sb, x_cursor, sb.size_m[1] / 2)
            x, y = sb._xy  # type: ignore[attr-defined]
            ang = getattr(sb, "_angle", 0.0)
            _make_body(sb, annotation, g.shape, kind, space)
            assert sb.body is not None
            sb.body.position = (x, y)
            sb.body.angle = ang
            if waters and (g in floaters or g in in_river):
                for sh in sb.shapes:
                    if g not in floaters:
                        sh.filter = pymunk.ShapeFilter(categories=CAT_SCENERY_BACK)
                    else:
                        sh.filter = pymunk.ShapeFilter(mask=pymunk.ShapeFilter.ALL_MASKS() ^ CAT_SCENERY_BACK)
            (background if g.spec.role == "background" else subjects).append(sb)
        if kind == "none":
            for sb in g.bodies:
                sb.visible = False
                subjects.append(sb)
    for pd in play.pendulums:
        g = groups[pd.group]
        body = g.bodies[0].body
        assert body is not None
        pd.joint = pymunk.PinJoint(space.static_body, body, pd.pivot, (0, 0))
        space.add(pd.joint)
    if floor_y is not None and not (river is not None and spec.place in ("river", "lake", "sea", "pool")):
        add_floor(space, floor_y, elasticity=1.0)
    elif floor_y is not None:
        # banks beyond the water: the ground before the river and after the plunge pool
        add_floor_segment(space, -100.0, play.pieces[0].x0 - 0.5, floor_y)
    _plan_actions(play, spec, duration, space)
    stage = Stage(shot.setting, shot.time_of_day, floor_y, floor_y or 0.0, None, None, 1.0)
    stage.place = place  # type: ignore[attr-defined]
    stage.pieces = play.pieces  # type: ignore[attr-defined]
    return subjects, stage, background, play


#: Catalog kinds and names of plan subjects that are really set pieces (the offline planner keeps a
#: table as a subject): the scenery kind they are built as.
SET_KINDS = {"table": "table", "shelf": "shelf", "counter": "counter", "desk": "desk", "stove": "stove",
             "bin": "bin", "basket": "basket", "bucket": "bucket", "bowl": "bowl", "ramp": "ramp",
             "stairs": "stairs", "cliff": "cliff", "hill": "hill", "fence": "fence", "ledge": "ledge",
             "pan": "pan", "frying pan": "pan", "slide": "ramp"}


def _subjects_as_scenery(spec: SceneSpec) -> None:
    """Move plan subjects that are set pieces (a single table, a bin, a ramp) into the scenery."""
    keep = []
    for s in spec.subjects:
        kind = SET_KINDS.get(s.name.lower()) or (SET_KINDS.get(s.kind) if s.kind in ("table",) else None)
        acts = [a for a in spec.actions if a.subject == s.name and a.verb in MOTION_VERBS]
        if kind and s.count == 1 and not acts and spec.scenery_named(s.name) is None:
            spec.scenery.append(SpecScenery(name=s.name, kind=kind))
        else:
            keep.append(s)
    spec.subjects[:] = keep


def add_floor_segment(space: pymunk.Space, x0: float, x1: float, y: float) -> None:
    seg = pymunk.Segment(space.static_body, (x0, y), (x1, y), 0.0)
    seg.elasticity, seg.friction, seg.collision_type = 1.0, 1.0, CT_GROUND
    space.add(seg)


def _physical_kind(g: Group, setting: str) -> str:
    sb = g.bodies[0]
    if sb.material.state != "solid":
        return "none"
    if g.spec.role == "background":
        return "static"
    acts = getattr(g, "actions", [])
    if sb.kind.animate and not any(a.verb in PASSIVE_VERBS for a in acts):
        return "kinematic"
    if any(a.verb in MOTION_VERBS for a in acts):
        return "dynamic"
    if g.spec.story_role in ("scenery", "support") and max(g.size) >= 1.0:
        return "static"
    if (sb.kind.name in ("rock",) and g.spec.role == "static") or getattr(g, "fixed", False):
        return "static"
    if sb.kind.name in ("tree", "building", "bridge", "volcano"):
        return "static"
    return "dynamic"


def _actor(spec: SceneSpec) -> str | None:
    a = next((a for a in spec.actions if a.verb not in ("rest",)), None)
    return a.subject if a else (spec.subjects[0].name if spec.subjects else None)


def _placed(g: Group) -> bool:
    return all(hasattr(b, "_xy") for b in g.bodies)


def _set(sb: SubjectBody, x: float, y: float, angle: float = 0.0) -> None:
    sb._xy = (x, y)  # type: ignore[attr-defined]
    sb._angle = angle  # type: ignore[attr-defined]


def _place_group(g: Group, cx: float, base: float) -> None:
    """Arrange the group's bodies with their centre-bottom at (cx, base)."""
    w, h = g.size
    offs = arrangement_offsets(len(g.bodies), g.spec.arrangement, w, h, g.shape)
    for sb, (dx, dy) in zip(g.bodies, offs, strict=True):
        _set(sb, cx + dx, base + dy + h / 2 + 0.0005)


def _xy(sb: SubjectBody) -> tuple[float, float]:
    return sb._xy  # type: ignore[attr-defined,no-any-return]


def _place_by_group(g: Group, base: Group, relation: str) -> None:
    """On (in, above) another group: on its top, centred; beside it otherwise."""
    xs = [_xy(b)[0] for b in base.bodies]
    top = max(_xy(b)[1] + b.size_m[1] / 2 for b in base.bodies)
    if relation in ("on", "in", "above", "at the top of"):
        _place_group(g, float(np.mean(xs)), top + (0.8 if relation == "above" else 0.0))
        if relation in ("on", "in", "at the top of"):
            _fit_on(g, min(xs) - base.size[0] / 2, max(xs) + base.size[0] / 2)
        return
    right = max(xs) + base.size[0] / 2
    fw, _ = _group_footprint(len(g.bodies), g.spec.arrangement, *g.size, g.shape)
    gap = 0.005 if relation == "against" else 0.15
    low = min(_xy(b)[1] - b.size_m[1] / 2 for b in base.bodies)
    _place_group(g, right + gap + fw / 2, low if relation != "under" else 0.0)


def _fit_on(g: Group, lo: float, hi: float) -> None:
    """Squeeze a row or ring standing on something narrower than itself onto it."""
    xs = [_xy(b)[0] for b in g.bodies]
    w = g.size[0]
    span = max(xs) - min(xs) + w
    room = hi - lo - 0.01
    if span <= room or len(xs) < 2:
        return
    cx = (hi + lo) / 2
    k = (room - w) / max(max(xs) - min(xs), 1e-6)
    for b in g.bodies:
        x, y = _xy(b)
        if k * (max(xs) - min(xs)) / (len(xs) - 1) >= w:
            _set(b, cx + (x - float(np.mean(xs))) * k, y)
        else:  # too many to stand side by side: a second layer over the first
            _set(b, cx + (x - float(np.mean(xs))) * k, y)


def _place_on_piece(g: Group, p: Piece, relation: str, spec: SceneSpec) -> None:
    w, h = g.size
    fw, _fh = _group_footprint(len(g.bodies), g.spec.arrangement, w, h, g.shape)
    if relation in ("on", "in") and p.kind in ("ramp", "hill"):
        relation = "at the top of"
    if relation in ("on", "in") and p.top is not None and p.span is not None:
        a, b = p.span
        if p.kind in ("shelf", "ledge", "table", "counter", "desk", "cliff"):
            cx = b - 0.04 - fw / 2  # near the open (right-hand) edge: that is where things go over
        else:
            cx = (a + b) / 2
        _place_group(g, cx, p.top)
    elif relation == "at the top of" and p.kind in ("ramp", "hill"):
        a = math.radians(p.angle_deg)
        x = p.x0 + 0.12 + w / 2
        r = w / 2 if g.shape == "circle" else h / 2
        nx, ny = math.sin(a), math.cos(a)
        sx = x
        sy = p.slope_at(sx)
        for i, sb in enumerate(g.bodies):
            px = sx + i * (w + 0.02) * math.cos(a)
            _set(sb, px + nx * r, p.slope_at(px) + ny * r + 0.001, 0.0 if g.shape == "circle" else -a)
        _ = sy
    elif relation == "at the top of" and p.top is not None:
        _lo, hi = p.span or (p.x0, p.x1)
        _place_group(g, hi - 0.04 - fw / 2, p.top)
    elif relation == "at the bottom of":
        _place_group(g, p.x1 + 0.1 + fw / 2, p.bottom)
    elif relation in ("beside", "against", "behind", "in front of"):
        gap = 0.0 if relation == "against" else 0.12
        _place_group(g, p.x0 - gap - fw / 2 - 0.002, 0.0)
    elif relation == "under" and p.top is not None:
        _place_group(g, (p.x0 + p.x1) / 2, 0.0)
    elif relation == "above":
        _place_group(g, (p.x0 + p.x1) / 2, p.height + 0.8)
    else:
        _place_group(g, (p.x0 + p.x1) / 2, p.height)


def _hang(play: Play, g: Group, a: SpecAction | None, target: Group | None, target_piece: Piece | None,
          x_cursor: float, space: pymunk.Space) -> None:
    """A pendulum: the body hangs from a pivot above the spot where it meets its target, raised back."""
    r = g.size[0] / 2
    length = max(1.6, 2.6 * g.size[1])
    if target is not None and _placed(target):
        left = min(b._xy[0] - b.size_m[0] / 2 for b in target.bodies)  # type: ignore[attr-defined]
        tall = max(b._xy[1] + b.size_m[1] / 2 for b in target.bodies)  # type: ignore[attr-defined]
    elif target_piece is not None:
        left, tall = target_piece.x0, target_piece.height
    else:
        left, tall = x_cursor + length, 1.0
    rest = (left - r - 0.01, max(r + 0.05, 0.45 * tall))
    pivot = (rest[0], rest[1] + length)
    theta = math.radians(65.0 if a is not None and a.verb == "swing" else 0.0)
    if a is None:  # hanging still, a little way before what it will hit
        pivot = (pivot[0] - 0.3, pivot[1])
    pos = (pivot[0] - length * math.sin(theta), pivot[1] - length * math.cos(theta))
    _set(g.bodies[0], *pos)
    for sb in g.bodies[1:]:
        _set(sb, pos[0] - 0.5, 0.0 + sb.size_m[1] / 2)
    play.pendulums.append(Pendulum(g.spec.name, pivot, length, None))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Actions


def _plan_actions(play: Play, spec: SceneSpec, duration: float, space: pymunk.Space) -> None:
    """Hold what must wait for its action (a raised pendulum, a body at the top of a ramp, a dropped
    thing in the air, a glider in the hand) until the action starts."""
    seen: set[str] = set()
    for i, a in enumerate(spec.actions):
        g = play.groups.get(a.subject)
        if g is None or not g.bodies or g.bodies[0].body is None:
            continue
        if a.subject in seen or a.verb not in MOTION_VERBS:
            continue  # only a subject's first motion waits; later ones follow from it
        seen.add(a.subject)
        hold = a.verb in ("swing", "drop", "fall", "bounce", "glide", "fly", "throw", "launch") or (
            a.verb in ("roll", "slide") and a.path == "down")
        if hold and a.t0 > 0:
            for sb in g.bodies:
                if sb.body is not None and sb.body.body_type == pymunk.Body.DYNAMIC:
                    p = sb.body.position
                    play.holds.append(Hold(sb, (float(p.x), float(p.y), float(sb.body.angle)), a.t0))
        _ = i


def goal(spec: SceneSpec, a: SpecAction) -> str | None:
    """What an action is aimed at: its target, or for a flight or a push with none, the target of the
    same subject's next action ("glides across the room and lands in the bin": the bin)."""
    if a.target is not None and (spec.subject(a.target) is not None or spec.scenery_named(a.target)):
        return a.target
    later = spec.actions[spec.actions.index(a) + 1:] if a in spec.actions else []
    for b in later:
        if b.subject == a.subject and b.target is not None:
            return b.target
    return a.target


def verb_flies(verb: str) -> bool:
    return verb in FLIGHT_VERBS


def _aim_point(play: Play, name: str | None) -> tuple[float, float, float] | None:
    """(x, y, half width) of what an action is aimed at: a piece's opening or a group's middle."""
    if name is None:
        return None
    p = play.piece(name)
    if p is not None:
        if p.kind in CONTAINERS and p.span is not None:
            return ((p.span[0] + p.span[1]) / 2, p.height + 0.12, (p.span[1] - p.span[0]) / 2)
        if p.top is not None and p.span is not None:
            return ((p.span[0] + p.span[1]) / 2, p.top + 0.05, (p.span[1] - p.span[0]) / 2)
        return ((p.x0 + p.x1) / 2, (p.bottom + p.height) / 2, (p.x1 - p.x0) / 2)
    g = play.groups.get(name)
    if g is not None:
        pts = [b.position for b in g.bodies if b.body is not None]
        if pts:
            xs, ys = zip(*pts, strict=True)
            return (min(xs), float(np.mean(ys)), g.size[0] / 2)
    return None


class PlayDriver(Phenomenon):
    """Steps the plan's actions: each starts at its time, continuous ones act through their window."""

    name = "stagecraft"
    moves_bodies = True

    def __init__(self, scene: Scene, play: Play):
        super().__init__(scene)
        self.play = play
        self.g = -float(scene.space.gravity.y)
        self.stops: list[tuple[SubjectBody, float]] = []

    def step(self, dt: float) -> None:
        scene, play = self.scene, self.play
        t = scene.t
        for h in play.holds:
            body = h.sb.body
            if body is not None and t < h.until and body.space is not None:
                body.position = (h.pose[0], h.pose[1])
                body.angle = h.pose[2]
                body.velocity = (0.0, 0.0)
                body.angular_velocity = 0.0
        for i, a in enumerate(play.spec.actions):
            if i not in play.started and t + 1e-9 >= a.t0:
                play.started.add(i)
                self._start(i, a)
        for k, (sb, g_eff, t0, tx, ty) in enumerate(play.lifts):  # lift: most of its weight
            body = sb.body
            if body is None or t < t0 or body.position.y < ty or k in play.stalled:
                continue
            vx, vy = body.velocity
            if (body.position.x - tx) * (1 if vx >= 0 else -1) >= -0.03:  # over the goal: it stalls
                play.stalled.add(k)
                body.velocity = (0.25 * vx, min(vy, 0.0))
                continue
            body.velocity = (vx, vy + (self.g - g_eff) * dt)
            if abs(vx) > 0.1:
                body.angle = math.atan2(vy, vx) * 0.6 + (math.pi if vx < 0 else 0.0)
                body.angular_velocity = 0.0
        self._water(dt)
        self._catch(dt)
        for sb, t_stop in self.stops:
            if t >= t_stop and sb.body is not None:
                sb.body.velocity = (0.0, 0.0)

    def _catch(self, dt: float) -> None:
        """A bin or basket catches: what falls inside below its rim loses its bounce."""
        for p in self.play.pieces:
            if p.kind not in CONTAINERS or p.span is None or p.kind == "pan":
                continue
            for sb in self.scene.subjects:
                body = sb.body
                if body is None or body.body_type != pymunk.Body.DYNAMIC:
                    continue
                x, y = body.position
                if p.span[0] < x < p.span[1] and p.bottom < y < p.height:
                    k = 1 / (1 + 12.0 * dt)
                    body.velocity = (body.velocity.x * k, body.velocity.y * (k if body.velocity.y > 0 else 1.0))
                    body.angular_velocity *= k

    def _water(self, dt: float) -> None:
        waters = [p for p in self.play.pieces if p.surface is not None]
        if not waters:
            return
        for sb in self.scene.subjects:
            body = sb.body
            if body is None or body.body_type != pymunk.Body.DYNAMIC or body.space is None:
                continue
            x, y = body.position
            h = sb.size_m[1]
            for p in waters:
                lo = p.x0 - 0.5 if p.kind != "waterfall" else p.x0
                if not (lo <= x < p.x1):
                    continue
                surface = float(p.surface)  # type: ignore[arg-type]
                f = min(1.0, max(0.0, (surface - (y - h / 2)) / h))
                if f <= 0:
                    break
                rho = body.mass / max(mass_kg(sb, 1.0), 1e-9)
                vx, vy = body.velocity
                vy += 1000.0 / rho * f * self.g * dt
                k = 3.0 * f * dt
                vx += (p.current - vx) * min(k, 1.0)
                vy *= 1 / (1 + 6.0 * f * dt)
                body.velocity = (vx, vy)
                body.angular_velocity *= 1 / (1 + 8.0 * f * dt)
                body.angle *= 1 / (1 + 2.0 * f * dt)  # a boat rights itself
                break

    def _start(self, i: int, a: SpecAction) -> None:
        play = self.play
        g = play.groups.get(a.subject)
        if g is None:
            return
        walkers = [sb for sb in g.bodies if sb.body is not None and sb.body.body_type == pymunk.Body.KINEMATIC]
        if walkers and a.verb in ("fly", "walk", "run", "move", "push", "jump", "glide", "land", "hit"):
            self._walk(walkers, a)
            return
        bodies = [sb for sb in g.bodies if sb.body is not None and sb.body.body_type == pymunk.Body.DYNAMIC]
        if not bodies:
            return
        verb, path = a.verb, a.path
        win = max(a.t1 - a.t0, 0.3)
        aim = _aim_point(play, goal(play.spec, a) if verb_flies(a.verb) else a.target)
        g_ = self.g
        if verb == "swing":
            for pd in play.pendulums:  # released: the hold ends, gravity swings it
                if pd.group == g.spec.name:
                    body = bodies[0].body
                    assert body is not None
                    body.velocity = (0.0, 0.0)
            return
        if verb in ("glide", "fly") and g_ > 0:
            sb = bodies[0]
            body = sb.body
            assert body is not None
            x0, y0 = body.position
            if aim is None:
                tx, ty = x0 + 1.6 * win * a.pace, y0 - 0.6
            else:
                tx, ty = aim[0], aim[1]
            tf = max(0.6, min(win * 0.85, abs(tx - x0) / 1.2))
            vx = (tx - x0) / tf
            drop = max(y0 - ty, 0.05)
            g_eff = 2 * drop / tf**2
            body.velocity = (vx, 0.0)
            play.lifts.append((sb, min(g_eff, g_), a.t0, tx if aim is not None else math.inf * vx,
                               ty - 0.3))
            return
        if verb in ("throw", "launch"):
            for sb in bodies:
                body = sb.body
                assert body is not None
                x0, y0 = body.position
                tx, ty = (aim[0], aim[1]) if aim else (x0 + 2.0, y0)
                tf = max(0.4, min(win * 0.8, 1.2))
                if g_ <= 0:
                    body.velocity = ((tx - x0) / tf, (ty - y0) / tf)
                else:
                    body.velocity = ((tx - x0) / tf, (ty - y0 + 0.5 * g_ * tf * tf) / tf)
                body.angular_velocity = -3.0
            return
        down_slope = path == "down" and play.piece(a.target) is not None and \
            play.piece(a.target).kind in SLOPES  # type: ignore[union-attr]
        if verb in ("drop", "fall", "bounce") and path not in ("off", "from", "out of") and not down_slope:
            if verb == "fall" and path in (None, "down", "over") and a.target and play.piece(a.target) and \
                    play.piece(a.target).kind in SUPPORTS:  # type: ignore[union-attr]
                path = "off"
            else:
                return  # released: gravity does it
        if verb in ("roll", "slide", "bounce", "fall", "tumble") and path == "down" and \
                play.piece(a.target) is not None and play.piece(a.target).kind in SLOPES:  # type: ignore[union-attr]
            p = play.piece(a.target)
            assert p is not None
            if verb == "slide" and p.angle_deg:  # it slides: the plan says so, so it is slippery enough
                for sb in bodies:
                    for sh in sb.shapes:
                        sh.friction = min(sh.friction, 0.5 * math.tan(math.radians(p.angle_deg)))
            if p.kind == "stairs":
                for sb in bodies:
                    edge = p.x0 + 0.5
                    d = max(edge - sb.position[0], 0.0) + 0.05
                    mu = max(sb.shapes[0].friction if sb.shapes else 0.5, 0.05)
                    v = math.sqrt(2 * mu * g_ * d) * 1.3 + 0.3 if g_ > 0 else 0.8
                    sb.body.velocity = (v * a.pace, 0.0)  # type: ignore[union-attr]
            elif a.pace > 1.2:
                for sb in bodies:
                    ang = math.radians(p.angle_deg) if p else 0.4
                    v = 0.8 * (a.pace - 1)
                    sb.body.velocity = (v * math.cos(ang), -v * math.sin(ang))  # type: ignore[union-attr]
            return
        support = self._support(bodies)
        if path in ("from", "out of"):
            path = "off"
        if path == "off" or verb in ("topple", "collapse", "fall") or (verb in ("push", "knock over") and aim is None):
            self._push_off(bodies, support, verb, a)
            return
        if verb in ("scatter",):
            if any(b.body is not None and b.body.velocity.length > 0.3 for b in bodies):
                return  # something already sent them flying
            for k, sb in enumerate(bodies):
                ang = math.pi * (0.2 + 0.6 * ((k * 0.618) % 1.0))
                sb.body.velocity = (2.0 * math.cos(ang), 2.0 * math.sin(ang))  # type: ignore[union-attr]
            return
        if verb in PUSH_VERBS or verb in ("drift", "jump"):
            if verb == "drift" and aim is None:
                return  # the current carries it
            for sb in bodies:
                body = sb.body
                assert body is not None
                x0, y0 = body.position
                if verb == "jump":
                    body.velocity = (0.5, math.sqrt(2 * g_ * 0.5) if g_ > 0 else 1.0)
                    continue
                tx = aim[0] if aim else x0 + 1.5 * win
                dist = tx - x0 - (aim[2] if aim else 0.0) - sb.size_m[0] / 2
                reach = max(0.6 * win, 0.3)
                mu = max(sb.shapes[0].friction if sb.shapes else 0.5, 0.05)
                if g_ > 0 and (sb.kind.shape == "circle" or g.shape == "circle") and verb != "slide":
                    v = dist / reach + 0.3
                    body.angular_velocity = -v / (sb.size_m[0] / 2)
                elif g_ > 0:
                    v = math.sqrt(2 * mu * 0.5 * g_ * max(dist, 0.1)) + dist / reach
                    v = max(v, math.sqrt(2 * mu * g_ * max(dist, 0.1)) * 1.15)
                else:
                    v = dist / reach
                body.velocity = (math.copysign(min(abs(v), 25.0), dist or 1.0), 0.0)
            return

    def _walk(self, walkers: list[SubjectBody], a: SpecAction) -> None:
        """A living subject goes where the action says, at its own pace, through the window."""
        aim = _aim_point(self.play, goal(self.play.spec, a))
        win = max(a.t1 - a.t0, 0.3)
        for sb in walkers:
            body = sb.body
            assert body is not None
            x0, y0 = body.position
            if aim is not None:
                tx, ty = aim[0] - aim[2] - sb.size_m[0] / 2, (aim[1] if a.verb in ("fly", "land") else y0)
            else:
                speed = {"run": 4.0, "fly": 3.0}.get(a.verb, 1.4) * a.pace
                tx, ty = x0 + speed * win * 0.8, y0 + (1.0 if a.verb == "fly" else 0.0)
            body.velocity = ((tx - x0) / (0.9 * win), (ty - y0) / (0.9 * win))
            self.stops.append((sb, a.t0 + 0.9 * win))

    def _support(self, bodies: list[SubjectBody]) -> Piece | None:
        x, _y = bodies[0].position
        best = None
        for p in self.play.pieces:
            if p.top is None or p.span is None:
                continue
            if p.span[0] - 0.05 <= x <= p.span[1] + 0.05 and abs(min(b.position[1] - b.size_m[1] / 2
                                                                      for b in bodies) - p.top) < 0.05:
                best = p
        return best

    def _push_off(self, bodies: list[SubjectBody], support: Piece | None, verb: str, a: SpecAction) -> None:
        """Topple a group (or a body) over the edge of its support, or over where it stands."""
        g_ = self.g
        ys = [b.position[1] for b in bodies]
        lo, hi = min(ys), max(ys)
        n = len(bodies)
        if support is not None and support.span is not None:
            edge = support.span[1]
            far = max(edge - (b.position[0] - b.size_m[0] / 2) for b in bodies)
            mu = max(bodies[0].material.friction, 0.05)
            v_base = math.sqrt(2 * mu * g_ * max(far, 0.05)) * 1.2 + 0.25
        else:
            v_base = 1.2
        if support is None and n > 1 and hi - lo < 0.5 * bodies[0].size_m[1] and \
                self.play.groups[a.subject].spec.arrangement == "row":
            first = min(bodies, key=lambda b: b.position[0])  # a row falls in sequence: tip the first
            _w, h = first.size_m
            first.body.angular_velocity = -3.0 * math.sqrt(0.25 / max(h, 0.02))  # type: ignore[union-attr]
            first.body.velocity = (0.4 * math.sqrt(h / 0.25 + 0.1), 0.0)  # type: ignore[union-attr]
            return
        for sb in bodies:
            body = sb.body
            assert body is not None
            u = (body.position.y - lo) / (hi - lo) if hi > lo else 1.0
            if support is not None:
                v = v_base * (0.75 + 0.6 * u)  # the top goes first: the stack leans as it goes
            elif n > 1 and a.verb in ("topple", "collapse", "knock over", "push"):
                v = v_base * u * 1.4 if hi > lo else (v_base if sb is bodies[0] else 0.0)
            else:
                v = v_base
            body.velocity = (v * a.pace, body.velocity.y)
            if sb.kind.shape != "circle":
                body.angular_velocity = -2.5 * (0.5 + u) if n > 1 or support is None else -1.0

    def draw(self, canvas: Canvas) -> None:
        for pd in self.play.pendulums:
            body = self.play.groups[pd.group].bodies[0].body
            if body is None:
                continue
            px, py = pd.pivot
            canvas.draw.line([canvas.to_px(px, py), canvas.to_px(*body.position)], fill=(40, 40, 40),
                             width=max(1, int(canvas.length_px(0.025))))
            # a crane's jib over the pivot
            canvas.draw.line([canvas.to_px(px - 3.0, py + 0.6), canvas.to_px(px + 0.3, py)],
                             fill=(220, 170, 40), width=max(2, int(canvas.length_px(0.12))))


_PLACE_CACHE: dict[tuple, object] = {}


def draw_set_back(canvas: Canvas, stage: Stage, t: float) -> None:
    """The place, the channel of any water, and the scenery behind the subjects.

    The place depends only on the view: a still camera draws it once and pastes it after."""
    from filmcrew.tools.video.previz.places import draw_place

    pieces = getattr(stage, "pieces", [])
    water = any(p.surface is not None for p in pieces)
    key = (stage.place, stage.time_of_day, stage.floor_y, water, canvas.image.size,
           tuple(round(v, 6) for v in canvas.view),
           tuple((p.kind, p.x0, p.x1, p.surface, p.bottom) for p in pieces if p.surface is not None))
    cached = _PLACE_CACHE.get(key)
    if cached is not None:
        canvas.image.paste(cached)  # type: ignore[arg-type]
    else:
        draw_place(canvas, getattr(stage, "place", None), stage.time_of_day, stage.floor_y, water)
        _draw_channel(canvas, stage, pieces, water)
        if len(_PLACE_CACHE) > 4:
            _PLACE_CACHE.clear()
        _PLACE_CACHE[key] = canvas.image.copy()
    for p in pieces:
        draw_back(canvas, p, t)


def _draw_channel(canvas: Canvas, stage: Stage, pieces: list[Piece], water: bool) -> None:
    if water and stage.floor_y is not None:  # the channel cut into the ground, in cross-section
        for p in pieces:
            if p.surface is None:
                continue
            if p.kind == "waterfall":  # below the lip the far bank steps down to the plunge pool
                a, b = canvas.to_px(p.x0, stage.floor_y), canvas.to_px(p.x1 + 100.0, p.surface)
                canvas.draw.rectangle((a, b), fill=(70, 118, 62))
                a, b = canvas.to_px(p.x0, p.surface), canvas.to_px(p.x1 + 100.0, p.bottom - 0.3)
            else:
                a, b = canvas.to_px(p.x0 - 0.5, stage.floor_y), canvas.to_px(p.x1, p.bottom - 0.3)
            canvas.draw.rectangle((a, b), fill=(120, 95, 70))


def draw_set_front(canvas: Canvas, stage: Stage, t: float) -> None:
    for p in getattr(stage, "pieces", []):
        draw_front(canvas, p, t)


def indoor(place: str | None) -> bool:
    return is_indoor(place)


GRAVITY_M_S2 = GRAVITY
_ = (_body_kind, CT_GROUND)


# --------------------------------------------------------------------------------------------------
# Camera


MIN_ROOM_H = 2.6  # an indoor place is framed at least this tall, so the room reads (wall, window)


def set_frame(play: Play, shot: Shot, aspect: float) -> Box:
    """The staging frame: the whole set as it stands at the start, with margin, at the frame's aspect."""
    x0, y0, x1, y1 = play.set_box()
    floor = 0.0
    water = any(p.surface is not None for p in play.pieces)
    if not water and shot.setting != "space":
        y0 = min(y0, floor)
    bw, bh = (x1 - x0) * 1.25, (y1 - y0) * 1.3
    least = MIN_ROOM_H if is_indoor(play.places) and shot.camera.scale != "close-up" else 0.8
    vh = max(bh, bw / aspect, least)
    cx = (x0 + x1) / 2
    if not water and shot.setting != "space":
        cy = floor - 0.12 * vh + vh / 2
        vh = max(vh, (y1 - floor) * 1.15 / 0.88)
        cy = floor - 0.12 * vh + vh / 2
    else:
        cy = (y0 + y1) / 2
    vw = vh * aspect
    return (cx - vw / 2, cy - vh / 2, cx + vw / 2, cy + vh / 2)


def scenery_tracks(play: Play, total: int) -> dict[str, tuple[np.ndarray, tuple[float, float], str]]:
    """Still 'tracks' of the scenery pieces for the camera: where they stand, their size and a role
    (the long water is background: the camera follows what floats on it instead)."""
    out = {}
    for p in play.pieces:
        if p.kind == "floor":
            continue
        x0, y0, x1, y1 = p.box
        role = "background" if p.surface is not None else "static"
        centre = np.tile([(x0 + x1) / 2, (y0 + y1) / 2], (total, 1))
        out[f"§{p.name}"] = (centre, (x1 - x0, max(y1 - y0, 0.05)), role)
    for pd in play.pendulums:
        out[f"§pivot:{pd.group}"] = (np.tile(pd.pivot, (total, 1)), (0.3, 0.3), "static")
    return out


# --------------------------------------------------------------------------------------------------
# The record scene fidelity is measured from


@dataclass
class PlayRecord:
    """Every body's state per frame of a staged shot, re-simulated (no drawing)."""

    spec: SceneSpec
    pieces: list[Piece]
    groups: dict[str, list[str]]  # plan subject -> its body names
    sizes: dict[str, tuple[float, float]]
    pos: dict[str, np.ndarray]  # body -> (T, 2) centre, metres (NaN once it has no body)
    angle: dict[str, np.ndarray]  # body -> (T,) radians
    broken: dict[str, np.ndarray]  # body -> (T,) bool: shattered into fragments
    scale: dict[str, np.ndarray]  # body -> (T,) 1 = intact, shrinking as it melts
    pendulums: dict[str, tuple[float, float]]  # plan subject -> pivot
    times: np.ndarray  # (T,) world seconds of each frame
    gravity: float
    substances: set[str] = field(default_factory=set)  # plan subjects that are liquids or gases
