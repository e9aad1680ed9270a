"""Vessels: where a liquid sits, and the puddles and dishes drawn for it.

A liquid of the shot goes inside the shot's container when there is one (water in the pot, milk in the
glass); a liquid brought in as a prop gets a dish of its own; a liquid subject with no container is a
pool on the floor. The geometry is re-read every frame, so a vessel that moves carries its contents.

`Held` is a liquid inside a container that can move: its surface stays level as the container tips,
what rises above the lower lip spills, and all of it is released when the container breaks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from filmcrew import catalog
from filmcrew.tools.video.previz.props import add_prop, lerp_color, subject_box
from filmcrew.tools.video.previz.scene import Canvas, Scene, SubjectBody

if TYPE_CHECKING:
    import pymunk

    from filmcrew.schemas import Shot

#: Box-shaped kinds that still hold a liquid (cups, glasses, vases and pots are "cup" shaped).
CONTAINER_KINDS = ("bottle",)
#: Liquid kinds that are a body of water themselves (pool, puddle, wave): never poured into a glass.
BODY_OF_WATER_SHAPES = ("plane", "blob")
#: Words saying the container starts empty and is filled on screen.
POUR = re.compile(r"\b(pour|fill|refill|top(s|ped)? up)")
FILL_FRACTION = 0.75  # a glass of water is three-quarters full
WALL = 0.08  # wall thickness as a fraction of the container's width


@dataclass
class Vessel:
    """The box a liquid fills when full: centre x, bottom, width and height in world metres."""

    scene: Scene
    liquid: SubjectBody
    container: SubjectBody | None  # the shot's cup, glass or pot holding it, if any
    own_dish: bool  # we brought the liquid and draw its dish
    width: float
    height: float

    def box(self) -> tuple[float, float, float, float]:
        """(cx, base, w, h) now: inside the container's walls, or where the liquid stands."""
        if self.container is not None:
            cx, cy, w, h = subject_box(self.scene, self.container)
            return (cx, cy - h / 2 + 0.08 * h, 0.84 * w, 0.8 * h)
        cx, cy, _, h = subject_box(self.scene, self.liquid)
        return (cx, cy - self.liquid.size_m[1] / 2, self.width, self.height)

    def draw_dish(self, canvas: Canvas, color: tuple[int, int, int] = (150, 155, 165)) -> None:
        """Our own dish, drawn as an open U in front of its contents."""
        if not self.own_dish:
            return
        cx, base, w, h = self.box()
        dish(canvas, cx, base, w * 1.04, h * 1.1, color)


def is_container(kind: catalog.ObjectKind, material: catalog.Material) -> bool:
    """Whether a subject of this kind and material can hold a liquid: a solid cup, glass, pot, bottle."""
    return material.state == "solid" and (kind.shape == "cup" or kind.name in CONTAINER_KINDS)


def is_holdable(kind: catalog.ObjectKind, material: catalog.Material) -> bool:
    """Whether a subject is a liquid that goes into a container (water, milk), not a pool or a wave."""
    return material.state == "liquid" and kind.shape not in BODY_OF_WATER_SHAPES


def _poured(shot: Shot) -> bool:
    return any(POUR.search(t.lower()) for t in [shot.local_prompt, *shot.events])


def holds_liquid(shot: Shot) -> bool:
    """Whether the plan puts a liquid subject inside a container subject ("a glass of water").

    Not when the text pours it in: then the container starts empty and the liquid phenomenon fills it.
    """
    pairs = [(catalog.kind(s.kind), catalog.find_material(s.material)) for s in shot.subjects]
    full = [(k, m or catalog.MATERIALS[k.material]) for k, m in pairs]
    return (not _poured(shot) and any(is_container(k, m) for k, m in full)
            and any(is_holdable(k, m) for k, m in full))


def held_pairs(subjects: Iterable[SubjectBody], shot: Shot) -> list[tuple[SubjectBody, SubjectBody]]:
    """(liquid, container) for every liquid subject the plan puts in a container: the first one.

    Only the plan's own subjects count: they come first in a scene, and the props phenomena bring
    (a pot of water to boil) come after them and hold their liquid themselves.
    """
    subjects = list(subjects)[: len(shot.subjects)]
    if _poured(shot):
        return []
    box = next((s for s in subjects if is_container(s.kind, s.material)), None)
    if box is None:
        return []
    return [(s, box) for s in subjects if is_holdable(s.kind, s.material)]


def container_of(scene: Scene) -> SubjectBody | None:
    """The shot's first open container with a rigid body (glass, cup, vase, pot, bottle)."""
    for s in scene.subjects:
        if s.visible and s.body is not None and is_container(s.kind, s.material):
            return s
    return None


def liquid_vessel(scene: Scene, name: str, key: str, min_depth: float) -> Vessel:
    """Claim the shot's liquid (preferring one with a `key` transition point) and place it.

    `min_depth` is the least depth of a pool or dish as a fraction of its width, so a puddle that is
    two centimetres thick in a two-metre frame still shows its phase change.
    """
    cands = [s for s in scene.subjects if s.visible and s.drawn_by is None and s.material.state == "liquid"]
    cands.sort(key=lambda s: getattr(s.material, key) is None)
    cup = container_of(scene)
    if cands:
        liquid, own = cands[0], False
    else:
        liquid, own = add_prop(scene, "water", "pot", "water", drawn_by=name, min_fraction=0.22), True
    liquid.drawn_by = name
    w, h = liquid.size_m
    if cup is not None:
        return Vessel(scene, liquid, cup, False, w, h)
    return Vessel(scene, liquid, None, own, w, max(h, min_depth * w))


def dish(canvas: Canvas, cx: float, base: float, w: float, h: float, wall: tuple[int, int, int]) -> None:
    """A container drawn as an open U."""
    pts = [canvas.to_px(cx - w / 2, base + h), canvas.to_px(cx - w / 2, base),
           canvas.to_px(cx + w / 2, base), canvas.to_px(cx + w / 2, base + h)]
    canvas.draw.line(pts, fill=wall, width=max(2, int(canvas.length_px(0.04 * w))), joint="curve")


def puddle(canvas: Canvas, cx: float, base: float, width: float, height: float,
           color: tuple[int, int, int], alpha: int = 235) -> None:
    """A puddle: the upper half of an ellipse resting on y = base, with a lighter rim."""
    if width <= 0 or height <= 0:
        return
    x0, y0 = canvas.to_px(cx - width / 2, base + height)
    x1, y1 = canvas.to_px(cx + width / 2, base - height)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return
    canvas.draw.chord([x0, y0, x1, y1], 180, 360, fill=(*color, alpha))
    rim = lerp_color(color, (255, 255, 255), 0.45)
    canvas.draw.arc([x0, y0, x1, y1], 200, 340, fill=(*rim, 200), width=1)



# --------------------------------------------------------------------------------------------------
# A liquid held in a container that moves


def interior(container: SubjectBody) -> np.ndarray:
    """The inside of a container in its body frame (metres, y up), counter-clockwise; the first two
    points are the mouth's corners. A cup narrows to 76 % at the bottom, as `draw.subject` draws it."""
    w, h = container.size_m[0] * container.scale, container.size_m[1] * container.scale
    t = WALL * w
    bottom = 0.38 * w if container.kind.shape == "cup" else w / 2
    return np.array([[w / 2 - t, h / 2], [-(w / 2 - t), h / 2], [-(bottom - t), -h / 2 + t],
                     [bottom - t, -h / 2 + t]])


def area(poly: np.ndarray) -> float:
    """Shoelace area of a polygon (N, 2)."""
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    twice = x[:-1] @ y[1:] - x[1:] @ y[:-1] + x[-1] * y[0] - x[0] * y[-1]
    return float(abs(twice)) / 2


def below(poly: np.ndarray, level: float) -> np.ndarray:
    """The part of a convex polygon below the horizontal line y = level (one Sutherland-Hodgman pass)."""
    out = []
    n = len(poly)
    for i in range(n):
        p, q = poly[i], poly[(i + 1) % n]
        pin, qin = p[1] <= level, q[1] <= level
        if pin:
            out.append(p)
        if pin != qin:
            u = (level - p[1]) / (q[1] - p[1])
            out.append(p + u * (q - p))
    return np.array(out) if out else np.empty((0, 2))


def level_for(poly: np.ndarray, volume: float) -> float:
    """The height of a level surface that leaves `volume` (an area, m²) of the polygon below it."""
    lo, hi = float(poly[:, 1].min()), float(poly[:, 1].max())
    for _ in range(24):  # a 2^-24 share of the container's height: far below a pixel
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if area(below(poly, mid)) < volume else (lo, mid)
    return (lo + hi) / 2


def inside(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Which points lie inside a convex counter-clockwise polygon."""
    ok = np.ones(len(points), dtype=bool)
    for i in range(len(poly)):
        a, b = poly[i], poly[(i + 1) % len(poly)]
        ok &= (b[0] - a[0]) * (points[:, 1] - a[1]) - (b[1] - a[1]) * (points[:, 0] - a[0]) >= 0
    return ok


@dataclass
class Held:
    """A liquid inside a container: an area of liquid (m², the side view) with a level surface.

    `spill` is called as the world advances: whatever no longer fits below the lower lip of the tipped
    container comes out there as particles, and everything comes out when the container breaks (its
    body is replaced by fragments) or disappears. The liquid keeps the container's velocity, so water
    thrown with a falling glass falls with it.
    """

    liquid: SubjectBody
    container: SubjectBody
    body: pymunk.Body  # the container's body while intact
    volume: float
    velocity: tuple[float, float] = (0.0, 0.0)  # the container's, one step ago: kept when it breaks
    carry: float = 0.0  # spilled area not yet a whole particle
    released: bool = False

    @classmethod
    def fill(cls, liquid: SubjectBody, container: SubjectBody, fraction: float = FILL_FRACTION) -> Held:
        """The container filled to `fraction` of its inside."""
        if container.body is None:
            raise ValueError(f"container {container.name!r} has no body to hold {liquid.name!r}")
        return cls(liquid, container, container.body, fraction * area(interior(container)))

    @property
    def intact(self) -> bool:
        return self.container.body is self.body and self.container.visible and self.body.space is not None

    def polygon(self) -> np.ndarray:
        """The container's inside in world metres at the body's current (or last) pose."""
        local = interior(self.container)
        c, s = math.cos(self.body.angle), math.sin(self.body.angle)
        rot = np.array([[c, -s], [s, c]])
        return local @ rot.T + np.array(self.body.position)

    def surface(self) -> np.ndarray:
        """The liquid's outline in world metres: the inside below the level surface; empty when gone."""
        if self.released or self.volume <= 0:
            return np.empty((0, 2))
        poly = self.polygon()
        return below(poly, level_for(poly, self.volume))

    def spill(self, spacing: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Particles (positions, velocities) leaving the container now, one per spacing² of area."""
        none = (np.empty((0, 2)), np.empty((0, 2)))
        if self.released or self.volume <= 0:
            return none
        if not self.intact:
            return self._release(spacing, rng)
        poly = self.polygon()
        v = self.body.velocity
        self.velocity = (float(v.x), float(v.y))
        mouth = poly[:2]
        lip = mouth[int(np.argmin(mouth[:, 1]))]
        excess = self.volume - area(below(poly, float(lip[1])))
        if excess <= 0:
            return none
        self.carry += excess
        self.volume -= excess
        n = int(self.carry / spacing**2)
        if n == 0:
            return none
        self.carry -= n * spacing**2
        up = np.array([-math.sin(self.body.angle), math.cos(self.body.angle)])
        side = lip - mouth.mean(axis=0)
        out = up + side / max(float(np.linalg.norm(side)), 1e-9)
        out /= max(float(np.linalg.norm(out)), 1e-9)
        # a small block of particles one spacing apart just outside the lip: packed closer, the
        # liquid's pressure would blow them apart as spray
        cols = math.ceil(math.sqrt(n))
        j = np.arange(n)
        across = np.array([-out[1], out[0]])
        pos = (lip + np.outer(0.6 + j // cols, out * spacing)
               + np.outer(j % cols - (cols - 1) / 2, across * spacing)
               + rng.normal(0.0, 0.05 * spacing, (n, 2)))
        vel = np.array(self.body.velocity_at_world_point(tuple(lip))) + 0.3 * out
        return pos, np.broadcast_to(vel, (n, 2)) + rng.normal(0.0, 0.03, (n, 2))

    def _release(self, spacing: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The container broke: the liquid where it stood, moving as the container moved before."""
        shape = self.surface()
        self.released, self.volume = True, 0.0
        lo, hi = shape.min(axis=0), shape.max(axis=0)
        gx, gy = np.meshgrid(np.arange(lo[0] + spacing / 2, hi[0], spacing),
                             np.arange(lo[1] + spacing / 2, hi[1], spacing))
        pts = np.column_stack((gx.ravel(), gy.ravel()))
        pts = pts[inside(pts, shape)] if len(pts) else pts
        if len(pts) == 0:
            pts = shape.mean(axis=0, keepdims=True)
        speed = math.hypot(*self.velocity)
        vel = np.array(self.velocity) + rng.normal(0.0, 0.25 * speed + 0.05, (len(pts), 2)) * [1.0, 0.3]
        return pts, vel


def draw_held(canvas: Canvas, held: Held, alpha: int = 225) -> None:
    """The liquid inside its container, its surface level however the container leans."""
    shape = held.surface()
    if len(shape) < 3:
        return
    color = held.liquid.color
    pts = [canvas.to_px(float(x), float(y)) for x, y in shape]
    canvas.draw.polygon(pts, fill=(*color, alpha))
    top = shape[shape[:, 1] > shape[:, 1].max() - 1e-7]
    if len(top) >= 2:  # a lighter line on the surface says "liquid", not "blue block"
        rim = lerp_color(color, (255, 255, 255), 0.45)
        a, b = top[np.argmin(top[:, 0])], top[np.argmax(top[:, 0])]
        canvas.draw.line([canvas.to_px(*a), canvas.to_px(*b)], fill=(*rim, 230),
                         width=max(1, round(canvas.length_px(0.04 * held.container.size_m[0]))))
