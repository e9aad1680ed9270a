"""Places: a few strokes that make a kitchen, a classroom, a beach or a street look like itself.

Drawn world-attached behind the set (so a pan reads as movement) and the same in every shot of a
place: a kitchen has a tiled splash-back, wall cupboards and a window; a classroom a blackboard with
chalk, a clock and a tiled floor; a beach the sea's horizon over sand; a street kerb, pavement and a
skyline; a river bank grass and trees. Places the table does not know fall back to the setting's
ground, floor or sky.
"""

from __future__ import annotations

import math

from filmcrew.tools.video.previz.draw import PALETTES, _hash01, shade
from filmcrew.tools.video.previz.scene import Canvas

RGB = tuple[int, int, int]
INDOOR_PLACES = ("kitchen", "classroom", "living room", "bedroom", "bathroom", "office", "workshop",
                 "laboratory", "garage", "warehouse", "gym", "hall", "studio", "table top")
#: Floor colours of the places that have their own.
FLOORS: dict[str, RGB] = {
    "kitchen": (150, 110, 80), "classroom": (150, 120, 90), "beach": (222, 200, 150),
    "street": (72, 74, 80), "city": (72, 74, 80), "construction site": (140, 120, 95),
    "river bank": (95, 150, 75), "river": (95, 150, 75), "lake": (95, 150, 75), "park": (95, 150, 75),
    "garden": (95, 150, 75), "field": (110, 150, 70), "forest": (80, 120, 60), "desert": (215, 185, 130),
    "snowfield": (240, 244, 250), "playground": (170, 140, 110), "gym": (190, 150, 100),
}
WALLS: dict[str, RGB] = {"kitchen": (200, 172, 128), "classroom": (214, 222, 200),
                         "living room": (220, 200, 180), "office": (210, 212, 215)}


_OPAQUE: dict[int, tuple[object, object]] = {}


def is_indoor(place: str | None) -> bool:
    return place in INDOOR_PLACES


def _rect(canvas: Canvas, x0: float, y0: float, x1: float, y1: float, fill: tuple[int, ...],
          outline: RGB | None = None) -> None:
    a, b = canvas.to_px(x0, y1), canvas.to_px(x1, y0)
    if a[0] > canvas.width or b[0] < 0 or a[1] > canvas.height or b[1] < 0:
        return  # off screen
    opaque = _OPAQUE.get(id(canvas.image))
    if opaque is None or opaque[0] is not canvas.image:
        from PIL import ImageDraw

        _OPAQUE.clear()
        opaque = _OPAQUE[id(canvas.image)] = (canvas.image, ImageDraw.Draw(canvas.image))
    draw = opaque[1] if len(fill) == 3 else canvas.draw  # no alpha: the plain (fast) drawer
    draw.rectangle((min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])),
                          fill=fill, outline=outline)  # type: ignore[arg-type]


def draw_place(canvas: Canvas, place: str | None, time_of_day: str, floor_y: float | None,
               water: bool = False) -> None:
    """The place behind the set: back wall and its furniture, or the outdoor horizon, and the floor."""
    pal = PALETTES[time_of_day]
    x0, _y0, x1, y1 = canvas.view
    d = canvas.draw
    W, H = canvas.width, canvas.height
    fy = 0.0 if floor_y is None else floor_y
    indoor = is_indoor(place)
    if indoor:
        wall = WALLS.get(place or "", pal.wall_bottom)
        if time_of_day in ("dusk", "night"):
            wall = shade(wall, 0.7)
        _rect(canvas, x0 - 1, fy, x1 + 1, y1 + 1, wall)
        _rect(canvas, x0 - 1, fy, x1 + 1, fy + 0.12, shade(wall, 0.8))  # skirting board
    k0, k1 = math.floor(x0 / 4.0) - 1, math.ceil(x1 / 4.0) + 1
    if place == "kitchen":
        tile = (140, 178, 190)  # darker than white crockery, so plates read against it
        for k in range(k0, k1):  # splash-back tiles, wall cupboards and a window, every 4 m
            bx = k * 4.0
            _rect(canvas, bx, fy + 0.9, bx + 4.0, fy + 1.5, tile)
            for j in range(1, 4):
                y = fy + 0.9 + 0.15 * j
                d.line([canvas.to_px(bx, y), canvas.to_px(bx + 4.0, y)], fill=shade(tile, 0.85))
            for i in range(27):
                x = bx + 0.15 * i
                d.line([canvas.to_px(x, fy + 0.9), canvas.to_px(x, fy + 1.5)], fill=shade(tile, 0.85))
            if k % 2 == 0:
                _rect(canvas, bx + 2.3, fy + 1.6, bx + 3.6, fy + 2.5, (175, 210, 235), (150, 120, 90))
                d.line([canvas.to_px(bx + 2.95, fy + 1.6), canvas.to_px(bx + 2.95, fy + 2.5)],
                       fill=(150, 120, 90), width=3)
            for i in range(3):
                cx = bx + 0.2 + 0.65 * i
                _rect(canvas, cx, fy + 1.85, cx + 0.6, fy + 2.45, (120, 150, 110), (80, 100, 70))
                px, py = canvas.to_px(cx + 0.5, fy + 1.95)
                d.ellipse((px - 2, py - 2, px + 2, py + 2), fill=(90, 80, 70))
    elif place == "classroom":
        for k in range(k0, k1):
            bx = k * 4.0
            if k % 2 == 0:  # a blackboard with chalk, and a clock above it
                _rect(canvas, bx + 0.4, fy + 0.95, bx + 3.2, fy + 2.05, (40, 70, 55), (130, 95, 60))
                for j, (u, v) in enumerate(((0.6, 1.8), (0.6, 1.6), (0.6, 1.4))):
                    d.line([canvas.to_px(bx + u, fy + v), canvas.to_px(bx + u + 1.0 + 0.4 * j, fy + v)],
                           fill=(225, 230, 225), width=2)
                d.text(canvas.to_px(bx + 2.2, fy + 1.85), "2+2=4", fill=(235, 235, 235))
                cx, cy = canvas.to_px(bx + 1.8, fy + 2.4)
                r = canvas.length_px(0.15)
                d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(245, 245, 240), outline=(40, 40, 40))
                d.line([(cx, cy), (cx, cy - 0.8 * r)], fill=(40, 40, 40), width=2)
                d.line([(cx, cy), (cx + 0.6 * r, cy)], fill=(40, 40, 40), width=2)
            else:  # a window and a pin-board
                _rect(canvas, bx + 0.5, fy + 1.1, bx + 1.6, fy + 2.2, (175, 210, 235), (150, 150, 150))
                _rect(canvas, bx + 2.2, fy + 1.2, bx + 3.3, fy + 1.9, (190, 150, 100), (120, 90, 60))
                for i in range(4):
                    u = 2.3 + 0.25 * i
                    _rect(canvas, bx + u, fy + 1.45 + 0.1 * (i % 2), bx + u + 0.18, fy + 1.7 + 0.1 * (i % 2),
                          ((240, 230, 120), (150, 200, 240), (240, 160, 160), (200, 240, 180))[i])
    elif place in ("living room", "bedroom", "office", "hall", "studio", "workshop"):
        for k in range(k0, k1):
            if k % 2 == 0:
                bx = k * 4.0
                _rect(canvas, bx + 1.0, fy + 1.1, bx + 2.2, fy + 2.2, (175, 210, 235), (150, 120, 90))
    elif not indoor and floor_y is not None:
        if place in ("beach", "sea", "lake"):  # the sea's horizon behind
            sea = pal.water
            _rect(canvas, x0 - 1, fy, x1 + 1, fy + 1.2, shade(sea, 1.15))
            for k in range(math.floor(x0) - 1, math.ceil(x1) + 1):
                y = fy + 0.3 + 0.8 * _hash01(k, 5)
                d.line([canvas.to_px(k + 0.2, y), canvas.to_px(k + 0.5, y)], fill=(220, 235, 250), width=2)
            if time_of_day == "day":
                sx, sy = canvas.to_px(x0 + 0.8 * (x1 - x0), fy + 0.8 * (y1 - fy))
                d.ellipse((sx - 18, sy - 18, sx + 18, sy + 18), fill=(255, 235, 150))
        elif place in ("street", "city", "construction site"):
            sky = tuple((a + b) // 2 for a, b in zip(pal.sky_top, pal.sky_bottom, strict=True))
            for k in range(math.floor(x0 / 3) - 1, math.ceil(x1 / 3) + 1):
                bh = 4.0 + 8.0 * _hash01(k, 2)
                _rect(canvas, k * 3.0, fy + 0.3, k * 3.0 + 2.7, fy + bh, shade(sky, 0.75))  # type: ignore[arg-type]
                for j in range(int(bh / 1.2)):
                    for i in range(3):
                        wx = k * 3.0 + 0.3 + 0.8 * i
                        lit = _hash01(k * 31 + j * 7 + i, 4) < (0.6 if pal.stars else 0.15)
                        _rect(canvas, wx, fy + 0.8 + 1.2 * j, wx + 0.4, fy + 1.3 + 1.2 * j,
                              (240, 210, 120) if lit else shade(sky, 0.6))  # type: ignore[arg-type]
        elif place in ("river", "river bank", "park", "garden", "field", "forest", "playground", "yard"):
            for k in range(math.floor(x0 / 3) - 1, math.ceil(x1 / 3) + 1):  # trees on the far bank
                tx = k * 3.0 + 3.0 * _hash01(k, 9)
                th = 2.5 + 2.0 * _hash01(k, 8)
                _rect(canvas, tx - 0.1, fy, tx + 0.1, fy + 0.5 * th, (110, 80, 50))
                cx, cy = canvas.to_px(tx, fy + 0.7 * th)
                r = canvas.length_px(0.35 * th)
                d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=shade((70, 130, 60), 0.85 + 0.3 * _hash01(k, 1)))
    # the floor or ground
    if floor_y is None:
        return
    colour = FLOORS.get(place or "", pal.floor if indoor else pal.ground)
    if time_of_day in ("dusk", "night"):
        colour = shade(colour, 0.7)
    _, gy = canvas.to_px(0, fy)
    if gy < H:
        d.rectangle((0, max(gy, 0), W, H), fill=colour)
        d.line((0, gy, W, gy), fill=shade(colour, 0.6), width=max(1, H // 180))
        if place == "classroom" or place == "kitchen":  # floor tiles
            for k in range(math.floor(x0 / 0.5) - 1, math.ceil(x1 / 0.5) + 1):
                px, _ = canvas.to_px(k * 0.5, fy)
                d.line((px, gy, px - 0.3 * (H - gy), H), fill=shade(colour, 0.88))
        elif place in ("street", "city"):  # kerb and lane dashes
            _, ky = canvas.to_px(0, fy - 0.15)
            d.rectangle((0, gy, W, ky), fill=(150, 150, 145))
            for k in range(math.floor(x0 / 3) - 1, math.ceil(x1 / 3) + 1):
                a, b = canvas.to_px(k * 3.0, fy - 0.6), canvas.to_px(k * 3.0 + 1.5, fy - 0.6)
                d.line((a, b), fill=(230, 225, 200), width=max(1, H // 120))
        elif place == "beach":
            for k in range(math.floor(x0 / 0.4) - 1, math.ceil(x1 / 0.4) + 1):
                px, py = canvas.to_px(k * 0.4 + 0.4 * _hash01(k, 6), fy - 0.1 - 0.4 * _hash01(k, 7))
                d.point((px, py), fill=shade(colour, 0.8))
        elif not indoor:
            for k in range(math.floor(x0 / 0.5) - 1, math.ceil(x1 / 0.5) + 1):
                px, _ = canvas.to_px(k * 0.5 + 0.5 * _hash01(k), 0)
                d.line((px, gy, px - 2, gy - H / 90), fill=shade(colour, 1.25))
