"""Drawing the previz frame: the stage behind, the subjects as shapes, the overlay on top.

Everything world-attached goes through `Canvas.to_px`, so camera moves and zoom come for free. Subjects
are flat shapes in their material colour (the same in every shot, so identity holds through a cut) with a
darker outline. Text (labels, caption, timecode, tags, time-scale mark) is `overlay.py`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from filmcrew.tools.video.previz.bodies import Stage
    from filmcrew.tools.video.previz.scene import Canvas, SubjectBody

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Palette:
    """Colours of a time of day. Chosen away from the catalog's material colours so subjects read."""

    sky_top: RGB
    sky_bottom: RGB
    wall_top: RGB  # indoor and table settings: the back wall instead of the sky
    wall_bottom: RGB
    ground: RGB  # grass / earth
    street: RGB
    floor: RGB  # indoor floor
    water: RGB
    table: RGB
    stars: bool


PALETTES: dict[str, Palette] = {
    "dawn": Palette((95, 105, 160), (235, 160, 120), (170, 165, 175), (195, 180, 170), (85, 120, 70),
                    (75, 74, 82), (100, 82, 72), (50, 85, 140), (125, 85, 50), False),
    "day": Palette((70, 130, 205), (160, 195, 235), (176, 186, 170), (196, 204, 188), (95, 150, 75),
                   (72, 74, 80), (100, 84, 74), (40, 95, 160), (125, 85, 50), False),
    "dusk": Palette((55, 50, 105), (225, 125, 85), (150, 135, 145), (175, 150, 140), (70, 95, 60),
                    (62, 60, 70), (88, 72, 66), (45, 70, 120), (110, 75, 45), False),
    "night": Palette((8, 12, 35), (35, 45, 85), (70, 75, 95), (90, 92, 110), (30, 50, 35),
                     (40, 40, 48), (55, 48, 45), (20, 40, 75), (80, 55, 35), True),
}
SPACE_TOP, SPACE_BOTTOM = (4, 4, 14), (16, 16, 38)
INDOOR = ("indoor", "table")


def shade(c: RGB, f: float) -> RGB:
    """Darken (f < 1) or lighten (f > 1) a colour, clipped to 0..255."""
    return tuple(int(min(255, max(0, v * f))) for v in c)  # type: ignore[return-value]


@lru_cache(maxsize=8)
def _background(setting: str, time_of_day: str, width: int, height: int) -> Image.Image:
    """Screen-space backdrop (sky, wall or space) as a vertical gradient, with stars at night."""
    pal = PALETTES[time_of_day]
    if setting == "space":
        top, bottom, stars = SPACE_TOP, SPACE_BOTTOM, True
    elif setting in INDOOR:
        top, bottom, stars = pal.wall_top, pal.wall_bottom, False
    else:
        top, bottom, stars = pal.sky_top, pal.sky_bottom, pal.stars
    u = np.linspace(0.0, 1.0, height)[:, None]
    col = (1 - u) * np.array(top, float) + u * np.array(bottom, float)
    arr = np.repeat(col[:, None, :], width, axis=1).astype(np.uint8)
    if stars:
        rng = np.random.default_rng(7)  # fixed: the same sky in every shot
        n = width * height // 900
        ys, xs = rng.integers(0, int(height * 0.7), n), rng.integers(0, width, n)
        arr[ys, xs] = rng.integers(150, 255, (n, 1))
    return Image.fromarray(arr, "RGB")


def backdrop(stage: Stage, width: int, height: int) -> Image.Image:
    """A fresh copy of the shot's backdrop, to draw one frame on."""
    return _background(stage.setting, stage.time_of_day, width, height).copy()


def backdrop_colour(stage: Stage) -> RGB:
    """The backdrop's colour near the horizon, which distant subjects fade toward."""
    pal = PALETTES[stage.time_of_day]
    if stage.setting == "space":
        return SPACE_BOTTOM
    return pal.wall_bottom if stage.setting in INDOOR else pal.sky_bottom


def water_front(canvas: Canvas, stage: Stage) -> None:
    """Water setting: a translucent layer over whatever is below the surface."""
    if stage.setting != "water":
        return
    _, gy = canvas.to_px(0, stage.ground_y)
    if gy < canvas.height:
        canvas.draw.rectangle((0, max(gy, 0), canvas.width, canvas.height),
                              fill=(*PALETTES[stage.time_of_day].water, 110))


def _hash01(k: int, salt: int = 0) -> float:
    """Deterministic pseudo-random in [0, 1) for decoration number k (no RNG state across frames)."""
    return ((k * 2654435761 + salt * 40503) % 4294967296) / 4294967296


def stage(canvas: Canvas, st: Stage) -> None:
    """World-attached scenery: ground or floor band, horizon decor, table, walls."""
    pal = PALETTES[st.time_of_day]
    d = canvas.draw
    x0, _, x1, _ = canvas.view
    W, H = canvas.width, canvas.height
    step = st.decor_m
    k0, k1 = math.floor(x0 / step) - 1, math.ceil(x1 / step) + 1
    if st.setting == "street" and st.floor_y is not None:
        # A low skyline behind the street, world-attached so a pan reads as movement.
        sky = tuple((a + b) // 2 for a, b in zip(pal.sky_top, pal.sky_bottom, strict=True))
        for k in range(k0, k1):
            bh = step * (1.0 + 2.0 * _hash01(k, 2))
            a, b = canvas.to_px(k * step, st.floor_y + bh)
            c, e = canvas.to_px((k + 1) * step - step * 0.1, st.floor_y)
            d.rectangle((a, b, c, e), fill=shade(sky, 0.75))  # type: ignore[arg-type]
    if st.setting in ("ground", "sky") and st.floor_y is not None:
        pts = [canvas.to_px(x, st.floor_y + step * (0.6 + 0.5 * math.sin(x / (3.1 * step)))
                            + step * 0.3 * math.sin(x / (1.3 * step)))
               for x in np.linspace(x0, x1, 24)]
        d.polygon([*pts, canvas.to_px(x1, st.floor_y), canvas.to_px(x0, st.floor_y)],
                  fill=shade(pal.ground, 0.75))
    if st.floor_y is not None:
        gy = canvas.to_px(0, st.floor_y)[1]
        if gy < H:
            colour = {"street": pal.street, "water": pal.water}.get(st.setting, pal.ground)
            if st.setting in INDOOR:
                colour = pal.floor
            d.rectangle((0, gy, W, H), fill=colour)
            d.line((0, gy, W, gy), fill=shade(colour, 0.6), width=max(1, H // 180))
            if st.seabed_y is not None:
                _, by = canvas.to_px(0, st.seabed_y)
                if by < H:
                    d.rectangle((0, by, W, H), fill=shade(PALETTES["day"].ground, 0.6))
            for k in range(k0, k1):
                px, _ = canvas.to_px(k * step + step * _hash01(k), 0)
                if st.setting == "ground":  # grass tufts
                    d.line((px, gy, px - 2, gy - H / 90), fill=shade(colour, 1.25))
                elif st.setting == "street" and k % 2 == 0:  # lane dashes
                    _, ly = canvas.to_px(0, st.floor_y - step * 0.4)
                    qx, _ = canvas.to_px(k * step + step * 0.8, 0)
                    d.line((px, ly, qx, ly), fill=(210, 210, 200), width=max(1, H // 120))
                elif st.setting == "water":  # wave crests
                    _, wy = canvas.to_px(0, st.floor_y - step * (0.3 + _hash01(k, 3)))
                    d.arc((px, wy, px + canvas.length_px(step * 0.6), wy + H / 60), 200, 340,
                          fill=shade(colour, 1.4))
                elif st.setting in INDOOR and k % 3 == 0:  # floorboard joints
                    d.line((px, gy, px, H), fill=shade(colour, 0.85))
    if st.walls is not None:
        for wx, side in ((st.walls[0], -1), (st.walls[1], 1)):
            px, _ = canvas.to_px(wx, 0)
            if -W < px < 2 * W:
                a, b = sorted((px, px + side * W))
                d.rectangle((a, 0, b, H), fill=shade(pal.wall_top, 0.8))
    if st.table is not None:
        tx0, tx1 = st.table
        top = st.ground_y
        thick = 0.04
        a = canvas.to_px(tx0, top)
        b = canvas.to_px(tx1, top - thick)
        leg = max(0.05, (tx1 - tx0) * 0.04)
        for lx in (tx0 + 0.06, tx1 - 0.06 - leg):
            c = canvas.to_px(lx, top - thick)
            e = canvas.to_px(lx + leg, st.floor_y if st.floor_y is not None else top - 0.75)
            d.rectangle((c, e), fill=shade(pal.table, 0.8))
        d.rectangle((a, b), fill=pal.table, outline=shade(pal.table, 0.6))


# --------------------------------------------------------------------------------------------------
# Subjects


def _pose(sb: SubjectBody) -> tuple[float, float, float]:
    if sb.body is None:
        return (0.0, 0.0, 0.0)
    p = sb.body.position
    return (float(p.x), float(p.y), float(sb.body.angle))


def _local(canvas: Canvas, pose: tuple[float, float, float], pts: list[tuple[float, float]]
           ) -> list[tuple[float, float]]:
    """Subject-frame points (metres, y up, rotated with the body) to pixels."""
    x, y, a = pose
    c, s = math.cos(a), math.sin(a)
    return [canvas.to_px(x + px * c - py * s, y + px * s + py * c) for px, py in pts]


def _disc(canvas: Canvas, cx: float, cy: float, r: float, fill: RGB, outline: RGB | None = None
          ) -> None:
    px, py = canvas.to_px(cx, cy)
    rp = max(canvas.length_px(r), 0.5)
    canvas.draw.ellipse((px - rp, py - rp, px + rp, py + rp), fill=fill, outline=outline)


def haze(c: RGB, toward: RGB, amount: float) -> RGB:
    """Blend a colour toward the backdrop: distant things look paler (aerial perspective)."""
    return tuple(int(a + (b - a) * amount) for a, b in zip(c, toward, strict=True))  # type: ignore[return-value]


def subject(canvas: Canvas, sb: SubjectBody, background: RGB | None = None) -> None:
    """Draw one subject as its kind's shape, at its body's pose, scaled by `sb.scale`.

    `background`: the backdrop colour a background subject is hazed toward (None: foreground).
    """
    if sb.body is None or not sb.visible or sb.scale <= 0:
        return
    w, h = sb.size_m[0] * sb.scale, sb.size_m[1] * sb.scale
    pose = _pose(sb)
    fill = sb.color if background is None else haze(sb.color, background, 0.45)
    ink = shade(fill, 0.55)
    d = canvas.draw
    shape = sb.kind.shape
    if sb.kind.name == "bird":
        _bird(canvas, pose, w, h, fill, ink)
    elif shape == "circle":
        _disc(canvas, pose[0], pose[1], w / 2, fill, ink)
        # A spot near the rim shows rotation (rolling versus sliding).
        ang = pose[2]
        _disc(canvas, pose[0] + 0.6 * w / 2 * math.cos(ang), pose[1] + 0.6 * w / 2 * math.sin(ang),
              w * 0.08, ink)
    elif shape == "cup":
        pts = _local(canvas, pose, [(-w / 2, h / 2), (w / 2, h / 2), (w * 0.38, -h / 2),
                                    (-w * 0.38, -h / 2)])
        d.polygon(pts, fill=fill, outline=ink)
        d.line([pts[0], pts[1]], fill=shade(fill, 1.2), width=max(1, int(canvas.length_px(h) / 12)))
    elif shape == "car":
        _car(canvas, sb, pose, w, h, fill, ink)
    elif shape == "figure":
        _figure(canvas, sb, pose, w, h, fill, ink)
    elif shape == "blob":
        n = 18
        seed = sum(map(ord, sb.name))
        pts = [(w / 2 * math.cos(t) * (1 + 0.08 * math.sin(3 * t + seed)),
                h / 2 * math.sin(t) * (1 + 0.08 * math.sin(5 * t + seed)))
               for t in np.linspace(0, 2 * math.pi, n, endpoint=False)]
        d.polygon(_local(canvas, pose, pts), fill=fill, outline=ink)
    elif shape == "boat":  # a hull, a mast and a sail
        hull = [(-w / 2, 0.0), (w / 2, 0.0), (w * 0.4, -h / 2), (-w * 0.35, -h / 2)]
        d.polygon(_local(canvas, pose, hull), fill=fill, outline=ink)
        d.line(_local(canvas, pose, [(0.0, 0.0), (0.0, 1.6 * h)]), fill=ink,
               width=max(1, int(canvas.length_px(w) / 40)))
        d.polygon(_local(canvas, pose, [(0.01 * w, 1.5 * h), (0.01 * w, 0.15 * h), (0.38 * w, 0.15 * h)]),
                  fill=(245, 240, 230), outline=ink)
    elif shape == "plane_toy":  # a folded paper dart, nose first
        dart = [(w / 2, 0.0), (-w / 2, h / 2), (-w * 0.3, 0.0), (-w / 2, -h / 2)]
        d.polygon(_local(canvas, pose, dart), fill=fill, outline=ink)
        d.line(_local(canvas, pose, [(w / 2, 0.0), (-w * 0.3, 0.0)]), fill=ink)
    elif sb.kind.name == "spring":
        zig = [(((-1) ** i) * w / 2, -h / 2 + h * i / 10) for i in range(11)]
        d.line(_local(canvas, pose, zig), fill=fill, width=max(1, int(canvas.length_px(w) / 6)))
    else:  # box, plane, bar
        pts = _local(canvas, pose, [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)])
        d.polygon(pts, fill=fill, outline=ink)
        if sb.kind.name == "building":  # a window grid says "building", not "grey slab"
            for i in range(1, 5):
                for j in range(1, 10):
                    u0, u1 = -w / 2 + w * (i - 0.3) / 5, -w / 2 + w * i / 5
                    v0, v1 = -h / 2 + h * (j - 0.3) / 10, -h / 2 + h * j / 10
                    d.polygon(_local(canvas, pose, [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]),
                              fill=shade(fill, 0.75))
        if shape == "plane" and sb.material.refractive_index:  # a sheen says "glass / mirror"
            d.line(_local(canvas, pose, [(-w * 0.3, -h * 0.3), (w * 0.1, h * 0.3)]),
                   fill=shade(fill, 1.3), width=2)


def _car(canvas: Canvas, sb: SubjectBody, pose: tuple[float, float, float], w: float, h: float,
         fill: RGB, ink: RGB) -> None:
    d = canvas.draw
    body = [(-w / 2, -h * 0.3), (w / 2, -h * 0.3), (w / 2, h * 0.1), (-w / 2, h * 0.1)]
    cabin = [(-w * 0.28, h * 0.1), (w * 0.25, h * 0.1), (w * 0.12, h / 2), (-w * 0.2, h / 2)]
    d.polygon(_local(canvas, pose, cabin), fill=shade(fill, 0.8), outline=ink)
    d.polygon(_local(canvas, pose, body), fill=fill, outline=ink)
    r = h * 0.2
    spin = -pose[0] / r  # wheels turn with distance travelled
    x, y, a = pose
    for wx in (-w * 0.3, w * 0.3):
        cx, cy = x + wx * math.cos(a) - (-h / 2 + r) * math.sin(a), y + wx * math.sin(a) + (-h / 2 + r) * math.cos(a)
        _disc(canvas, cx, cy, r, (30, 30, 32))
        d.line([canvas.to_px(cx, cy), canvas.to_px(cx + r * math.cos(spin), cy + r * math.sin(spin))],
               fill=(150, 150, 150))


def _bird(canvas: Canvas, pose: tuple[float, float, float], w: float, h: float, fill: RGB,
          ink: RGB) -> None:
    """A body and two wings flapping with distance flown."""
    x, y, _ = pose
    flap = math.sin(x / max(w, 0.05) * math.pi * 1.5)
    a, b = canvas.to_px(x - w * 0.3, y + h * 0.15), canvas.to_px(x + w * 0.3, y - h * 0.15)
    canvas.draw.ellipse((a, b), fill=fill, outline=ink)
    tip = canvas.to_px(x - w * 0.05, y + h * 0.9 * flap)
    canvas.draw.polygon([canvas.to_px(x - w * 0.15, y), canvas.to_px(x + w * 0.1, y), tip],
                        fill=shade(fill, 0.85), outline=ink)


def _figure(canvas: Canvas, sb: SubjectBody, pose: tuple[float, float, float], w: float, h: float,
            fill: RGB, ink: RGB) -> None:
    """Bipeds, quadrupeds, trees and snowmen; animate kinds swing their legs with distance walked."""
    d = canvas.draw
    x, y, _ = pose
    foot = y - h / 2
    lw = max(1, int(canvas.length_px(h) * 0.06))
    name = sb.kind.name
    if name == "tree":
        d.rectangle((canvas.to_px(x - w * 0.06, foot + h * 0.45), canvas.to_px(x + w * 0.06, foot)),
                    fill=fill)
        _disc(canvas, x, foot + h * 0.68, w * 0.45, (55, 110, 55), (35, 75, 35))
        return
    if name == "snowman":
        for cy, r in ((0.18, 0.2), (0.5, 0.15), (0.78, 0.11)):
            _disc(canvas, x, foot + h * cy, w * r / 0.4, fill, ink)
        return
    vx = float(sb.body.velocity.x) if sb.body is not None else 0.0
    face = -1.0 if vx < 0 else 1.0
    walking = sb.kind.animate and abs(vx) > 0.05
    phase = x / max(0.4 * h, 0.05) * math.pi if walking else 0.0
    swing = 0.45 * math.sin(phase) if walking else 0.0

    def line(a: tuple[float, float], b: tuple[float, float]) -> None:
        d.line([canvas.to_px(*a), canvas.to_px(*b)], fill=fill, width=lw)

    if w > h:  # quadruped: body, head, four legs, tail
        bx0, bx1, by = x - w * 0.35, x + w * 0.3, foot + h * 0.55
        a, b = canvas.to_px(min(bx0, bx1), by + h * 0.18), canvas.to_px(max(bx0, bx1), by - h * 0.15)
        d.ellipse((a, b), fill=fill, outline=ink)
        _disc(canvas, x + face * w * 0.42, foot + h * 0.8, h * 0.16, fill, ink)
        leg = h * 0.45
        for i, lx in enumerate((-0.28, -0.18, 0.18, 0.26)):
            s = swing if i % 2 == 0 else -swing
            line((x + lx * w, by - h * 0.1), (x + lx * w + leg * math.sin(s), foot))
        line((x - face * w * 0.36, by + h * 0.05), (x - face * w * 0.5, by + h * 0.3))
        return
    # A person: head an eighth of the height, a torso with shoulders, limbs as thick strokes.
    hip, shoulder, head_r = foot + h * 0.5, foot + h * 0.81, h * 0.065
    leg, arm = h * 0.5, h * 0.36
    lw = max(1, int(canvas.length_px(h) * 0.07))
    for s in (swing, -swing):
        line((x, hip), (x + leg * math.sin(s), hip - leg * math.cos(s)))
        line((x, shoulder - h * 0.02), (x - arm * math.sin(s) * 0.8, shoulder - arm * math.cos(s)))
    torso = [(x - w * 0.32, shoulder), (x + w * 0.32, shoulder), (x + w * 0.22, hip),
             (x - w * 0.22, hip)]
    d.polygon([canvas.to_px(*p) for p in torso], fill=fill, outline=ink)
    line((x, shoulder), (x, foot + h - 2 * head_r))  # neck
    _disc(canvas, x, foot + h - head_r, head_r, fill, ink)
