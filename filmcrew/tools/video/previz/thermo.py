"""Thermodynamics, solid and liquid: melting and solidification along the annotated temperature ramp.

Each transformed fraction follows `props.phase_curve`: heat flows at a rate set by how far the ramp is
past the material's transition point (melting, boiling), integrated over the annotated window in world
time, so a 120 s melt in a ×60 time-lapse takes two screen seconds. Vaporization and liquefaction live
in `vapour.py`, explosion in `explosion.py` and combustion in `fire.py`; all are registered from here,
so importing this module brings the six thermodynamic phenomena.
"""

from __future__ import annotations

import numpy as np

from filmcrew.catalog import MATERIALS, Material
from filmcrew.tools.video.previz import explosion, fire, vapour  # noqa: F401  (register the other four)
from filmcrew.tools.video.previz.particles import Particles
from filmcrew.tools.video.previz.props import (
    SimClock,
    add_prop,
    child_rng,
    gravity,
    lerp_color,
    phase_curve,
    subject_box,
    temperature_at,
    world_size,
)
from filmcrew.tools.video.previz.rays import blackbody_rgb
from filmcrew.tools.video.previz.scene import Canvas, Phenomenon, Scene, SubjectBody, register
from filmcrew.tools.video.previz.vessels import liquid_vessel, puddle

# Props for a melt when the shot has no meltable solid, by material (chosen by the temperature range).
MELT_PROPS = {"ice": "ice cube", "butter": "butter", "chocolate": "chocolate", "wax": "candle",
              "lead": "block", "aluminium": "block", "gold": "block", "steel": "block"}


def melt_color(m: Material) -> tuple[int, int, int]:
    """Colour of a material's liquid phase: water for ice and snow, incandescent for hot metals."""
    if m.name in ("ice", "snow"):
        return MATERIALS["water"].color
    if m.melting_c is not None and m.melting_c > 500:
        glow = tuple(int(255 * c) for c in blackbody_rgb(m.melting_c + 273.15))
        return lerp_color(m.color, glow, 0.75)  # type: ignore[arg-type]
    return lerp_color(m.color, (0, 0, 0), 0.12)


def frozen_color(m: Material) -> tuple[int, int, int]:
    """Colour of a liquid's solid phase: ice for water, dark rock for lava, paler otherwise."""
    if m.name == "water":
        return MATERIALS["ice"].color
    if m.name == "lava":
        return MATERIALS["stone"].color
    return lerp_color(m.color, (255, 255, 255), 0.35)


def _nearest_point(lo: float, hi: float, point: float | None) -> float:
    """Distance of a transition point from the annotated range (0 inside it)."""
    if point is None:
        return np.inf
    return max(lo - point, point - hi, 0.0)


def _base(scene: Scene, s: SubjectBody) -> tuple[float, float]:
    """Centre x and bottom y of a subject as placed (unscaled), for drawing it ourselves."""
    cx, cy, _, _ = subject_box(scene, s)
    return cx, cy - s.size_m[1] / 2


@register
class Melting(Phenomenon):
    """A solid shrinks as the temperature passes its melting point and becomes a spreading puddle."""

    name = "melting"

    def __init__(self, scene: Scene):
        super().__init__(scene)
        self.rng = child_rng(scene)
        lo, hi = scene.temperature_c
        cands = [s for s in scene.subjects if s.visible and s.drawn_by is None and not s.kind.animate
                 and s.material.state == "solid" and s.material.melting_c is not None]
        if cands:
            s = min(cands, key=lambda c: _nearest_point(lo, hi, c.material.melting_c))
        else:
            mat = min(MELT_PROPS, key=lambda m: _nearest_point(lo, hi, MATERIALS[m].melting_c))
            s = add_prop(scene, mat, MELT_PROPS[mat], mat, drawn_by=self.name)
        s.drawn_by = self.name
        self.solid = s
        self.w0, self.h0 = s.size_m
        m = s.material
        self.liquid_color = melt_color(m)
        # a melt conserves mass: ice (0.917) gives 8 % less water by volume
        liquid = MATERIALS["water"] if m.name in ("ice", "snow") else m
        self.volume_ratio = m.density / liquid.density
        self.f = phase_curve(scene, float(m.melting_c if m.melting_c is not None else lo), rising=True)
        self.t = scene.t
        self.frac = self.f(self.t)
        self.drips = Particles(200)
        self.clock = SimClock.for_scene(scene, 1 / 30)

    def step(self, dt: float) -> None:
        self.t += dt
        frac = self.f(self.t)
        grown = max(frac - self.frac, 0.0)
        self.frac = frac
        self.solid.scale = float(np.sqrt(max(1 - frac, 0.0)))
        self.solid.temperature_c = temperature_at(self.scene, self.t)
        cx, base = _base(self.scene, self.solid)
        w, h = self._solid_size()
        n = self.rng.poisson(grown * 150) if frac < 0.995 else 0
        if n:
            side = self.rng.choice([-1.0, 1.0], n)
            x = cx + side * w / 2 * (0.9 + 0.1 * self.rng.random(n))
            y = base + h * self.rng.random(n)
            self.drips.spawn(np.column_stack((x, y)), (0.0, 0.0), 2.0)
        hh = self.clock.h
        for _ in range(self.clock.ticks(dt)):
            a = self.drips.alive
            self.drips.vel[a, 1] -= gravity(self.scene) * hh * 0.3  # slowed by the surface it runs on
            self.drips.pos[a] += self.drips.vel[a] * hh
            self.drips.alive &= self.drips.pos[:, 1] > base
            self.drips.age_by(hh)

    def _solid_size(self) -> tuple[float, float]:
        # height goes faster than width: a melting block slumps; area is exactly (1 - frac) A0
        r = max(1 - self.frac, 0.0)
        return self.w0 * r**0.4, self.h0 * r**0.6

    def _puddle(self, canvas: Canvas) -> tuple[float, float]:
        melted = self.frac * self.w0 * self.h0 * self.volume_ratio
        hp = max(0.12 * min(self.w0, self.h0), 2.5 / canvas.px_per_m)
        wmax = 0.8 * world_size(self.scene)[0]
        wp = 4 * melted / (np.pi * hp)
        if wp > wmax:
            wp, hp = wmax, 4 * melted / (np.pi * wmax)
        return wp, hp

    def draw(self, canvas: Canvas) -> None:
        self.clock.frame()
        cx, base = _base(self.scene, self.solid)
        wp, hp = self._puddle(canvas)
        puddle(canvas, cx, base, wp, hp, self.liquid_color)
        a = self.drips.alive
        for x, y in self.drips.pos[a]:
            px, py = canvas.to_px(x, y)
            canvas.draw.ellipse([px - 1.5, py - 1.5, px + 1.5, py + 1.5], fill=(*self.liquid_color, 230))
        if self.frac >= 0.999:
            return
        w, h = self._solid_size()
        bottom = base + 0.35 * hp
        x0, y0 = (round(v) for v in canvas.to_px(cx - w / 2, bottom + h))
        x1, y1 = (round(v) for v in canvas.to_px(cx + w / 2, bottom))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        # whole pixels and a radius under half the side: PIL's rounded_rectangle rejects less
        r = int((min(x1 - x0, y1 - y0) - 1) / 2 * min(1.0, 0.15 + self.frac))
        color = self.solid.color
        canvas.draw.rounded_rectangle([x0, y0, x1, y1], radius=r, fill=color,
                                      outline=lerp_color(color, (0, 0, 0), 0.15))
        hl = lerp_color(color, (255, 255, 255), 0.6)
        inset = max(2.0, 0.18 * (x1 - x0))
        if x1 - x0 > 3 * inset and y1 - y0 > 3 * inset:
            canvas.draw.line([(x0 + inset, y0 + inset), (x0 + inset, y1 - inset)], fill=hl, width=2)


@register
class Solidification(Phenomenon):
    """A liquid freezes: crystal grains nucleate at the surface and cold walls and grow until solid."""

    name = "solidification"
    GRID = (24, 96)  # rows, columns of the growth field, independent of the frame size

    def __init__(self, scene: Scene):
        super().__init__(scene)
        rng = child_rng(scene)
        self.vessel = liquid_vessel(scene, self.name, "melting_c", min_depth=0.18)
        self.liquid = self.vessel.liquid
        m = self.liquid.material
        lo, hi = scene.temperature_c
        self.f = phase_curve(scene, float(m.melting_c if m.melting_c is not None else (lo + hi) / 2),
                             rising=False)
        self.t = scene.t
        self.frac = self.f(self.t)
        self.solid_color = np.array(frozen_color(m), dtype=float)
        self.liquid_color = np.array(m.color, dtype=float)
        solid_density = 0.917 if m.name == "water" else m.density * 1.05
        self.expansion = m.density / solid_density - 1  # water expands 9 % as it freezes
        self.rank, self.grain = self._growth_field(rng)
        self.shade = 0.82 + 0.3 * rng.random(self.grain.max() + 1)

    def _growth_field(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Arrival order of the freezing front at each cell, and the grain each cell joins.

        Grains nucleate at the free surface and the walls (where heat leaves) at random times and grow
        with six-fold (dendritic) anisotropy; cells are ranked by arrival so that exactly the transformed
        fraction is solid at any time.
        """
        gh, gw = self.GRID
        n = 16
        side = rng.integers(0, 3, n)  # 0: surface, 1: left or right wall, 2: floor
        u = rng.random(n)
        sy = np.where(side == 0, 0.0, np.where(side == 2, 1.0, u))
        sx = np.where(side == 1, np.round(u), rng.random(n))
        yy, xx = np.mgrid[0:gh, 0:gw]
        dy = (yy[None] / (gh - 1) - sy[:, None, None]) * gh
        dx = (xx[None] / (gw - 1) - sx[:, None, None]) * gw
        theta = np.arctan2(dy, dx) + rng.random(n)[:, None, None] * np.pi
        dist = np.hypot(dx, dy) * (1 - 0.45 * np.abs(np.cos(3 * theta)) ** 6)
        arrival = dist / (0.8 + 0.4 * rng.random(n))[:, None, None] + 30 * rng.random(n)[:, None, None]
        grain = np.argmin(arrival, axis=0)
        first = np.min(arrival, axis=0) + rng.random((gh, gw)) * 0.5
        rank = np.empty(gh * gw)
        rank[np.argsort(first.ravel(), kind="stable")] = np.arange(gh * gw) / (gh * gw)
        return rank.reshape(gh, gw), grain

    def step(self, dt: float) -> None:
        self.t += dt
        self.frac = self.f(self.t)
        self.liquid.temperature_c = temperature_at(self.scene, self.t, rising=False)

    def draw(self, canvas: Canvas) -> None:
        import cv2
        from PIL import Image

        cx, base, w, h = self.vessel.box()
        if self.vessel.own_dish:
            h *= 0.6
        h *= 1 + self.expansion * self.frac
        x0, y0 = canvas.to_px(cx - w / 2, base + h)
        x1, y1 = canvas.to_px(cx + w / 2, base)
        xa, ya, xb, yb = round(x0), round(y0), round(x1), round(y1)
        xa, ya, xb, yb = max(xa, 0), max(ya, 0), min(xb, canvas.width), min(yb, canvas.height)
        if xb - xa < 2 or yb - ya < 2:
            return
        solid = self.rank < self.frac
        shade = self.shade[self.grain][..., None]
        edge = np.zeros_like(solid)
        edge[:, 1:] |= self.grain[:, 1:] != self.grain[:, :-1]
        edge[1:, :] |= self.grain[1:, :] != self.grain[:-1, :]
        ice = self.solid_color * shade * np.where(edge & solid, 0.8, 1.0)[..., None]
        ripple = 1 + 0.06 * np.sin(np.arange(self.GRID[1]) * 0.5 + self.t * 4)[None, :, None]
        water = self.liquid_color * ripple * np.ones((*self.GRID, 1))
        # the freezing front glints: cells just frozen are lighter
        front = solid & (self.rank > self.frac - 0.04)
        img = np.where(solid[..., None], ice, water)
        img[front] = img[front] * 0.5 + 127
        tile = cv2.resize(np.clip(img, 0, 255).astype(np.uint8), (xb - xa, yb - ya),
                          interpolation=cv2.INTER_NEAREST)
        canvas.image.paste(Image.fromarray(tile), (xa, ya))
        self.vessel.draw_dish(canvas, (120, 125, 135))
