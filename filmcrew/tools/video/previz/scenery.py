"""Scenery pieces: the set an action needs, as static pymunk shapes plus their drawing.

A piece is laid out at an x (metres, the action flows to the right) on a floor at y = 0 and knows the
surface things stand on (`top`, over `span`), a box for the camera, and what it does: a bin catches,
a river carries what floats with its current, a waterfall drops it, a stove heats its pan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pymunk

from filmcrew.tools.video.previz.bodies import CT_GROUND
from filmcrew.tools.video.previz.draw import shade

if TYPE_CHECKING:
    from filmcrew.tools.video.previz.scene import Canvas
    from filmcrew.tools.video.previz.spec import SpecScenery

Box = tuple[float, float, float, float]
RGB = tuple[int, int, int]

WOOD, STEEL, STONE, WATER = (150, 100, 55), (120, 125, 135), (128, 122, 116), (60, 125, 200)
SUPPORTS = ("shelf", "ledge", "table", "counter", "desk", "stove", "cliff")
CONTAINERS = ("bin", "basket", "bucket", "bowl", "pan")
WATERS = ("river", "stream", "pond", "waterfall")
SLOPES = ("ramp", "hill", "stairs")
#: Height of a support's top surface in metres when the plan does not say.
TOP_M = {"shelf": 1.4, "ledge": 1.0, "table": 0.75, "counter": 0.9, "desk": 0.75, "stove": 0.9,
         "cliff": 2.5}
#: Containers: inner width, height.
CONTAINER_M = {"bin": (0.42, 0.5), "basket": (0.5, 0.35), "bucket": (0.3, 0.32), "bowl": (0.26, 0.1),
               "pan": (0.3, 0.06)}
CAT_SCENERY_BACK = 0b100  # rocks in a river: floating things pass them (in depth), nothing else does


@dataclass
class Piece:
    """One scenery piece as built: where it stands and what it does."""

    name: str
    kind: str
    x0: float  # left end, metres
    x1: float  # right end
    top: float | None = None  # y of the surface things stand on (None: nothing stands on it)
    span: tuple[float, float] | None = None  # x range of that surface
    height: float = 0.0  # how tall it stands (box top)
    bottom: float = 0.0  # box bottom (below the floor for a river bed, a pool)
    color: RGB = WOOD
    angle_deg: float = 0.0
    steps: int = 0
    surface: float | None = None  # water: the surface level
    current: float = 0.0  # water: current speed (m/s, + is to the right)
    lip: float | None = None  # waterfall: x of the edge
    drop: float = 0.0  # waterfall: how far the water falls
    shapes: list[pymunk.Shape] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def box(self) -> Box:
        return (self.x0, self.bottom, self.x1, self.height)

    def slope_at(self, x: float) -> float:
        """Height of a ramp's surface at x (the high end is on the left)."""
        run = self.x1 - self.x0
        u = min(max((x - self.x0) / run, 0.0), 1.0)
        return self.height * (1 - u)


def _static(space: pymunk.Space, shape: pymunk.Shape, friction: float = 0.7,
            elasticity: float = 0.5) -> pymunk.Shape:
    shape.friction, shape.elasticity, shape.collision_type = friction, elasticity, CT_GROUND
    space.add(shape)
    return shape


def _box(space: pymunk.Space, x0: float, y0: float, x1: float, y1: float, **kw: float) -> pymunk.Shape:
    return _static(space, pymunk.Poly(space.static_body, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]), **kw)


def width_of(sc: SpecScenery, content_w: float) -> float:
    """How wide a piece is laid out: enough for what stands on it."""
    k = sc.kind
    if k in CONTAINERS:
        return CONTAINER_M[k][0] + 0.04
    if k in ("shelf", "ledge"):
        return max(0.6, content_w + 0.12)
    if k in ("table", "counter", "desk"):
        return max(1.2, content_w + 0.4)
    if k == "stove":
        return 0.7
    if k == "cliff":
        return max(2.5, content_w + 1.0)
    if k in ("wall", "fence"):
        return 0.25
    if k in ("ramp", "hill"):
        a = math.radians(sc.angle_deg or (15.0 if k == "hill" else 25.0))
        return (6.0 if k == "hill" else 2.2) * math.cos(a)
    if k == "stairs":
        return 0.5 + 0.28 * (sc.steps or 5)
    if k in ("mirror", "window", "door"):
        return 0.9
    if k in ("track", "floor"):
        return max(2.0, content_w + 1.0)
    return 0.6


def build_piece(space: pymunk.Space, sc: SpecScenery, x: float, *, width: float | None = None,
                length: float | None = None, base: float = 0.0) -> Piece:
    """The piece `sc` with its left end at x, its foot at `base` (0: the floor)."""
    k = sc.kind
    w = width if width is not None else width_of(sc, 0.0)
    p = Piece(sc.name, k, x, x + w, bottom=base)
    if k in SUPPORTS:
        top = base + (sc.height_m or TOP_M[k])
        thick = 0.05 if k in ("shelf", "ledge") else 0.06
        p.top, p.span, p.height = top, (x, x + w), top
        p.color = {"stove": (235, 235, 232), "cliff": STONE, "counter": (205, 195, 180)}.get(k, WOOD)
        if k in ("shelf", "ledge"):
            p.shapes.append(_box(space, x, top - thick, x + w, top))
        else:  # a solid block: nothing rolls under a counter in a side view
            lo = base if k in ("stove", "cliff", "counter") else top - thick
            p.shapes.append(_box(space, x, lo, x + w, top))
    elif k in CONTAINERS:
        iw, ih = CONTAINER_M[k]
        wall = 0.02
        cx = x + w / 2
        floor = base
        p.shapes += [_box(space, cx - iw / 2 - wall, floor, cx - iw / 2, floor + ih, elasticity=0.2),
                     _box(space, cx + iw / 2, floor, cx + iw / 2 + wall, floor + ih, elasticity=0.2),
                     _box(space, cx - iw / 2, floor, cx + iw / 2, floor + wall, elasticity=0.1)]
        p.top, p.span, p.height = floor + wall, (cx - iw / 2, cx + iw / 2), floor + ih
        p.color = {"bin": (90, 110, 120), "basket": (185, 145, 80), "bucket": (170, 60, 50),
                   "bowl": (235, 225, 205), "pan": (60, 60, 66)}[k]
    elif k in ("wall", "fence"):
        h = sc.height_m or (2.2 if k == "wall" else 1.0)
        p.shapes.append(_box(space, x, base, x + w, base + h, elasticity=0.3))
        p.height, p.color = base + h, (175, 95, 70) if k == "wall" else WOOD
    elif k in ("ramp", "hill"):
        a = math.radians(sc.angle_deg or (15.0 if k == "hill" else 25.0))
        rise = w * math.tan(a)
        p.angle_deg, p.height = math.degrees(a), base + rise
        p.shapes.append(_static(space, pymunk.Poly(space.static_body, [(x, base), (x + w, base),
                                                                      (x, base + rise)]), friction=0.8))
        p.top, p.span = base + rise, (x, x + 0.05)
        p.color = (95, 150, 75) if k == "hill" else (170, 130, 85)
    elif k == "stairs":
        n = sc.steps or 5
        rise, run, landing = 0.17, 0.28, 0.5
        p.steps, p.height = n, base + n * rise
        p.shapes.append(_box(space, x, base, x + landing, base + n * rise))
        for i in range(n):  # step i from the top, going down to the right
            sx = x + landing + i * run
            p.shapes.append(_box(space, sx, base, sx + run, base + (n - 1 - i) * rise))
        p.top, p.span = base + n * rise, (x, x + landing)
        p.angle_deg = math.degrees(math.atan2(rise, run))
        p.color = (160, 150, 140)
    elif k in ("river", "stream", "pond"):
        depth = 0.6 if k == "river" else 0.35
        L = length if length is not None else w
        p.x1 = x + L
        p.surface, p.bottom = base, base - depth
        p.current = sc.speed_m_s or (0.6 if k == "river" else 0.45 if k == "stream" else 0.0)
        if sc.flow == "left":
            p.current = -p.current
        p.shapes.append(_box(space, x - 0.5, base - depth - 0.3, x + L, base - depth,
                             friction=0.5, elasticity=0.1))
        p.color = WATER
    elif k == "waterfall":
        drop = sc.height_m or 1.2
        L = length if length is not None else 3.0
        p.x1, p.lip, p.drop = x + L, x, drop
        p.surface, p.bottom, p.height = base - drop, base - drop - 0.6, base
        p.current = 0.5
        # the rock lip the river pours over, and the plunge pool's bed below
        p.shapes.append(_box(space, x - 0.3, base - drop - 0.6, x, base - 0.6, elasticity=0.1))
        p.shapes.append(_box(space, x, base - drop - 0.9, x + L + 100.0, base - drop - 0.6, elasticity=0.1))
        p.color = WATER
    elif k in ("track", "floor"):  # a strip of floor: things stand on it
        p.top, p.span, p.height = base, (x, x + w), base + 0.01
        p.color = (120, 100, 80)
    else:  # mirror, prism, window, door, pipe, spoon, jug: drawn, not in the way
        p.height = base + {"mirror": 1.5, "window": 1.9, "door": 2.0}.get(k, 0.3)
        p.color = {"mirror": (200, 220, 235), "window": (170, 205, 230)}.get(k, STEEL)
    return p


# --------------------------------------------------------------------------------------------------
# Drawing


def _rect(canvas: Canvas, x0: float, y0: float, x1: float, y1: float, fill: RGB | tuple[int, ...],
          outline: RGB | None = None) -> None:
    a, b = canvas.to_px(x0, y1), canvas.to_px(x1, y0)
    canvas.draw.rectangle((a, b), fill=fill, outline=outline)  # type: ignore[arg-type]


def draw_back(canvas: Canvas, p: Piece, t: float) -> None:
    """What stands behind the subjects: water bodies, walls, furniture."""
    d, ink = canvas.draw, shade(p.color, 0.6)
    k = p.kind
    if k in ("river", "stream", "pond"):
        assert p.surface is not None
        _rect(canvas, p.x0 - 0.5, p.bottom - 0.3, p.x1, p.bottom, (110, 90, 65))
    elif k == "waterfall":
        assert p.surface is not None
        _rect(canvas, p.x0 - 0.3, p.bottom - 0.3, p.x0, p.height - 0.6, shade(STONE, 0.9))
        _rect(canvas, p.x0, p.bottom - 0.3, p.x1, p.bottom, (110, 90, 65))
    elif k in ("shelf", "ledge"):
        assert p.top is not None
        _rect(canvas, p.x0, p.top - 0.05, p.x1, p.top, p.color, ink)
        for bx in (p.x0 + 0.08, p.x1 - 0.12):  # brackets to the wall
            d.polygon([canvas.to_px(bx, p.top - 0.05), canvas.to_px(bx + 0.04, p.top - 0.05),
                       canvas.to_px(bx + 0.04, p.top - 0.22)], fill=ink)
    elif k in ("table", "desk"):
        assert p.top is not None
        _rect(canvas, p.x0, p.top - 0.06, p.x1, p.top, p.color, ink)
        for lx in (p.x0 + 0.06, p.x1 - 0.12):
            _rect(canvas, lx, p.bottom, lx + 0.06, p.top - 0.06, shade(p.color, 0.8))
    elif k in ("counter", "stove", "cliff"):
        assert p.top is not None
        _rect(canvas, p.x0, p.bottom, p.x1, p.top, p.color, ink)
        if k == "counter":
            _rect(canvas, p.x0 - 0.02, p.top - 0.04, p.x1 + 0.02, p.top, (90, 90, 95))
            for i in range(max(1, int((p.x1 - p.x0) / 0.6))):  # cupboard doors
                cx = p.x0 + 0.05 + i * 0.6
                _rect(canvas, cx, p.bottom + 0.1, min(cx + 0.5, p.x1 - 0.05), p.top - 0.12,
                      shade(p.color, 0.92), ink)
        elif k == "stove":
            _rect(canvas, p.x0 + 0.1, p.bottom + 0.1, p.x1 - 0.1, p.top - 0.3, (40, 40, 44))
            for kx in (p.x0 + 0.15, p.x0 + 0.3, p.x0 + 0.45):
                px, py = canvas.to_px(kx, p.top - 0.12)
                r = canvas.length_px(0.03)
                d.ellipse((px - r, py - r, px + r, py + r), fill=(30, 30, 30))
            glow = 0.5 + 0.5 * math.sin(6 * t)
            _rect(canvas, p.x0 + 0.15, p.top, p.x1 - 0.15, p.top + 0.012,
                  (230, int(60 + 50 * glow), 30))
    elif k in ("ramp", "hill"):
        d.polygon([canvas.to_px(p.x0, p.bottom), canvas.to_px(p.x1, p.bottom),
                   canvas.to_px(p.x0, p.height)], fill=p.color, outline=ink)
    elif k == "stairs":
        rise, run, landing = 0.17, 0.28, 0.5
        n = p.steps
        pts = [(p.x0, p.bottom), (p.x0, p.bottom + n * rise), (p.x0 + landing, p.bottom + n * rise)]
        for i in range(n):
            sx = p.x0 + landing + i * run
            pts += [(sx, p.bottom + (n - 1 - i) * rise), (sx + run, p.bottom + (n - 1 - i) * rise)]
        pts.append((p.x0 + landing + n * run, p.bottom))
        d.polygon([canvas.to_px(*q) for q in pts], fill=p.color, outline=ink)
    elif k in ("wall", "fence"):
        if k == "wall":
            _rect(canvas, p.x0, p.bottom, p.x1, p.height, p.color, ink)
            for j in range(int((p.height - p.bottom) / 0.15)):  # brick courses
                y = p.bottom + j * 0.15
                d.line([canvas.to_px(p.x0, y), canvas.to_px(p.x1, y)], fill=ink)
        else:
            for fx in range(int((p.x1 - p.x0) / 0.12) + 1):
                _rect(canvas, p.x0 + fx * 0.12, p.bottom, p.x0 + fx * 0.12 + 0.08, p.height, p.color, ink)
    elif k in ("window", "mirror", "door"):
        y0 = p.bottom + (0.9 if k == "window" else 0.0)
        fill = {"window": (170, 205, 230), "mirror": (205, 225, 240), "door": (140, 95, 60)}[k]
        _rect(canvas, p.x0, y0, p.x1, p.height, fill, (90, 70, 55))
        if k == "window":
            mx, my = (p.x0 + p.x1) / 2, (y0 + p.height) / 2
            d.line([canvas.to_px(mx, y0), canvas.to_px(mx, p.height)], fill=(90, 70, 55), width=3)
            d.line([canvas.to_px(p.x0, my), canvas.to_px(p.x1, my)], fill=(90, 70, 55), width=3)
    elif k in ("jug", "spoon", "pipe", "prism"):
        _rect(canvas, p.x0 + 0.2, p.bottom, p.x0 + 0.4, p.height, p.color, ink)


def draw_front(canvas: Canvas, p: Piece, t: float) -> None:
    """What is drawn over the subjects: water (translucent), the front of a bin."""
    d = canvas.draw
    k = p.kind
    if k in ("river", "stream", "pond") and p.surface is not None:
        _rect(canvas, p.x0 - 0.5, p.bottom, p.x1, p.surface, (*WATER, 120))
        _ripples(canvas, p, p.x0 - 0.5, p.x1, p.surface, t)
    elif k == "waterfall" and p.surface is not None and p.lip is not None:
        _rect(canvas, p.x0, p.bottom, p.x1, p.surface, (*WATER, 120))
        top = p.height
        # the falling curtain: streaks that move down with time
        _rect(canvas, p.x0, p.surface, p.x0 + 0.25, top, (*shade(WATER, 1.3), 150))
        for j in range(6):
            u = (t * 1.5 + j / 6) % 1.0
            y = top - u * p.drop
            d.line([canvas.to_px(p.x0 + 0.03 + 0.035 * j, y), canvas.to_px(p.x0 + 0.03 + 0.035 * j,
                                                                              y - 0.2)],
                   fill=(230, 240, 255), width=2)
        _ripples(canvas, p, p.x0, p.x1, p.surface, t)
        # foam where the water lands
        fx, fy = canvas.to_px(p.x0 + 0.25, p.surface)
        r = canvas.length_px(0.25)
        d.ellipse((fx - r, fy - r / 3, fx + r, fy + r / 3), fill=(235, 245, 255, 180))
    elif k in CONTAINERS and p.span is not None:
        iw, ih = CONTAINER_M[k]
        cx = (p.span[0] + p.span[1]) / 2
        base = p.bottom
        pts = [(cx - iw / 2 - 0.02, base + ih), (cx + iw / 2 + 0.02, base + ih),
               (cx + iw / 2 - 0.02, base), (cx - iw / 2 + 0.02, base)]
        if k in ("bowl", "pan"):
            pts = [(cx - iw / 2, base + ih), (cx + iw / 2, base + ih), (cx + iw / 3, base),
                   (cx - iw / 3, base)]
        d.polygon([canvas.to_px(*q) for q in pts], fill=(*p.color, 235), outline=shade(p.color, 0.6))
        if k == "basket":
            for j in range(1, 4):
                y = base + ih * j / 4
                d.line([canvas.to_px(cx - iw / 2, y), canvas.to_px(cx + iw / 2, y)],
                       fill=shade(p.color, 0.7))
        if k == "pan":
            d.line([canvas.to_px(cx + iw / 2, base + ih), canvas.to_px(cx + iw / 2 + 0.2, base + ih + 0.02)],
                   fill=(40, 40, 40), width=max(1, int(canvas.length_px(0.015))))


def _ripples(canvas: Canvas, p: Piece, x0: float, x1: float, y: float, t: float) -> None:
    """Short crests drifting with the current, so the flow reads."""
    step = 0.5
    shift = (p.current * t) % step
    x = x0 + shift
    while x < x1 - 0.2:
        canvas.draw.line([canvas.to_px(x, y), canvas.to_px(x + 0.18, y)], fill=(215, 235, 250), width=2)
        x += step
    canvas.draw.line([canvas.to_px(x0, y), canvas.to_px(x1, y)], fill=shade(WATER, 1.2), width=1)
