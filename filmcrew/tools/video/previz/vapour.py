"""Thermodynamics, liquid and gas: vaporization and liquefaction.

A liquid boils away into rising vapour (its level falls as the transformed fraction grows, bubbles form
above the boiling point); a vapour cloud condenses into droplets that grow, fall at their terminal
speed and collect into a puddle. Both follow `props.phase_curve` around the boiling point.
"""

from __future__ import annotations

import numpy as np

from filmcrew.catalog import MATERIALS
from filmcrew.tools.video.previz.fluids import Plume
from filmcrew.tools.video.previz.particles import Particles, splat
from filmcrew.tools.video.previz.props import (
    SimClock,
    add_prop,
    child_rng,
    floor_y,
    free_subject,
    gravity,
    lerp_color,
    phase_curve,
    place,
    subject_box,
    temperature_at,
    world_size,
)
from filmcrew.tools.video.previz.scene import Canvas, Phenomenon, Scene, register
from filmcrew.tools.video.previz.vessels import liquid_vessel, puddle

G = 9.81


@register
class Vaporization(Phenomenon):
    """A liquid's level falls as it turns to vapour that rises; above boiling point it bubbles."""

    name = "vaporization"

    def __init__(self, scene: Scene):
        super().__init__(scene)
        self.rng = child_rng(scene)
        self.vessel = liquid_vessel(scene, self.name, "boiling_c", min_depth=0.5)
        self.liquid = self.vessel.liquid
        m = self.liquid.material
        self.boil_c = float(m.boiling_c if m.boiling_c is not None else 100.0)
        self.f = phase_curve(scene, self.boil_c, rising=True)
        self.t = scene.t
        self.frac = self.f(self.t)
        self.w = self.vessel.box()[2]
        vapour = (240, 242, 246) if m.name in ("water", "milk") else lerp_color(m.color, (255, 255, 255), 0.6)
        self.plume = Plume(self.rng, 900, scale_m=0.6 * self.w, buoyancy=4.0, life_s=1.8,
                           color=vapour, opacity=0.22, floor=scene.ground_y)
        self.bubbles = Particles(120)
        self.n_vapour = 1400  # puffs for the whole volume
        self.clock = SimClock.for_scene(scene, 1 / 48)

    def _shape(self) -> tuple[float, float, float, float]:
        """(cx, base, width, level) of the liquid now: a pool also shrinks sideways as it dries."""
        cx, base, w, h = self.vessel.box()
        walled = self.vessel.own_dish or self.vessel.container is not None
        width = w * (1.0 if walled else max(1 - self.frac, 0.05) ** 0.5)
        return cx, base, width, h * 0.85 * (1 - self.frac)

    def step(self, dt: float) -> None:
        self.t += dt
        frac = self.f(self.t)
        gone = max(frac - self.frac, 0.0)
        self.frac = frac
        temp = temperature_at(self.scene, self.t)
        self.liquid.temperature_c = temp
        self.liquid.scale = float(np.sqrt(max(1 - frac, 0.0)))
        cx, base, width, level = self._shape()
        self.plume.emit(self.rng.poisson(gone * self.n_vapour), (cx, base + level), width)
        boiling = temp >= self.boil_c - 1 and level > 0
        h = self.clock.h
        for _ in range(self.clock.ticks(dt)):
            if boiling:
                n = self.rng.poisson(60 * h)
                x = cx + (self.rng.random(n) - 0.5) * 0.8 * width
                self.bubbles.spawn(np.column_stack((x, np.full(n, base + 0.02 * level))), (0.0, 0.0), 5.0)
            a = self.bubbles.alive
            self.bubbles.vel[a, 1] += 3.0 * h  # buoyant bubbles accelerate upwards
            self.bubbles.pos[a] += self.bubbles.vel[a] * h
            self.bubbles.alive &= self.bubbles.pos[:, 1] < base + level
            self.bubbles.age_by(h)
            self.plume.step(h)

    def draw(self, canvas: Canvas) -> None:
        self.clock.frame()
        cx, base, width, level = self._shape()
        color = self.liquid.material.color
        if level > 0:
            x0, y0 = canvas.to_px(cx - width / 2, base + level)
            x1, y1 = canvas.to_px(cx + width / 2, base)
            if y1 - y0 >= 0.5:
                canvas.draw.rectangle([x0, y0, x1, y1], fill=(*color, 235))
                canvas.draw.line([(x0, y0), (x1, y0)], fill=lerp_color(color, (255, 255, 255), 0.5), width=1)
        r = max(1.0, canvas.length_px(0.03 * self.w))
        for x, y in self.bubbles.pos[self.bubbles.alive]:
            px, py = canvas.to_px(x, y)
            canvas.draw.ellipse([px - r, py - r, px + r, py + r], outline=(230, 240, 255, 200))
        if self.vessel.own_dish and self.scene.temperature_c[1] >= self.boil_c:
            gx0, gy = canvas.to_px(cx - 0.4 * width, base)  # the burner that brings it to the boil
            gx1, _ = canvas.to_px(cx + 0.4 * width, base)
            canvas.draw.line([(gx0, gy + 2), (gx1, gy + 2)], fill=(255, 110, 30), width=3)
        self.vessel.draw_dish(canvas)
        self.plume.draw(canvas)


@register
class Liquefaction(Phenomenon):
    """Vapour cools and condenses: the haze thins while droplets nucleate, grow, fall and collect."""

    name = "liquefaction"
    DROPS = 360

    def __init__(self, scene: Scene):
        super().__init__(scene)
        self.rng = child_rng(scene)
        ww = world_size(scene)[0]
        gas = free_subject(scene, lambda s: s.material.state == "gas" and s.material.name in ("steam", "smoke"))
        if gas is None:
            gas = add_prop(scene, "vapour", "cloud", "steam", drawn_by=self.name)
        gas.drawn_by = self.name
        self.gas = gas
        x0, _, x1, y1 = scene.world
        w = min(gas.size_m[0], 0.6 * ww)
        g = floor_y(scene)
        h = min(gas.size_m[1], 0.25 * (y1 - g))
        cx = float(np.clip(subject_box(scene, gas)[0], x0 + w / 2, x1 - w / 2))
        cy = g + 0.72 * (y1 - g)
        place(gas, cx, cy)
        self.box = (cx, cy, w, h)
        self.boil_c = float(gas.material.boiling_c if gas.material.boiling_c is not None else 100.0)
        self.f = phase_curve(scene, self.boil_c, rising=False)
        self.t = scene.t
        self.frac = self.f(self.t)
        # a cloud is a few overlapping lumps; each haze particle belongs to one and jitters around it
        lumps = self.rng.random((6, 2)) * [0.7 * w, 0.4 * h] + [cx - 0.35 * w, cy - 0.2 * h]
        sizes = (0.15 + 0.1 * self.rng.random(6)) * w
        which = self.rng.integers(0, 6, 500)
        self.home = lumps[which] + self.rng.normal(0, 1, (500, 2)) * sizes[which, None] * [1.0, 0.45]
        self.haze = self.home.copy()
        self.drops = Particles(self.DROPS, extras=("r",))
        self.r_max = max(0.012 * w, 0.004)
        self.water = 0.05 * w * h  # condensed water of the whole cloud, as a side-view area
        self.nucleated = 0
        self.collected = 0
        self.liquid_color = MATERIALS["water"].color
        self.g = gravity(scene)
        self.clock = SimClock.for_scene(scene, 1 / 48)

    def step(self, dt: float) -> None:
        self.t += dt
        self.frac = self.f(self.t)
        self.gas.temperature_c = temperature_at(self.scene, self.t, rising=False)
        want = int(self.frac * self.DROPS) - self.nucleated
        if want > 0:
            pick = self.haze[self.rng.integers(0, len(self.haze), want)]
            self.nucleated += len(self.drops.spawn(pick, (0.0, 0.0), np.inf, r=0.2 * self.r_max))
        p = self.drops
        ground = self.scene.ground_y
        hh = self.clock.h
        w = self.box[2]
        for _ in range(self.clock.ticks(dt)):
            # haze wanders around its lump (an Ornstein-Uhlenbeck walk) so the cloud churns in place
            self.haze += 0.5 * hh * (self.home - self.haze) + self.rng.normal(0, 0.004 * w, self.haze.shape)
            a = p.alive
            p.extra["r"][a] = np.minimum(p.extra["r"][a] + self.r_max * 2.0 * hh, self.r_max)
            falling = a & (p.extra["r"] >= self.r_max)
            # terminal speed grows with drop size (√r), drag relaxes towards it
            vt = 4.0 * np.sqrt(p.extra["r"][falling] / 0.001)
            p.vel[falling, 1] += hh * (-self.g - (G / np.maximum(vt, 1e-3)) * p.vel[falling, 1])
            p.pos[falling] += p.vel[falling] * hh
            landed = falling & (p.pos[:, 1] <= ground)
            self.collected += int(landed.sum())
            p.alive &= ~landed

    def draw(self, canvas: Canvas) -> None:
        self.clock.frame()
        cx, _, _, h = self.box
        if self.frac < 0.999:
            sigma = canvas.length_px(0.08 * h) + 2
            splat(canvas, self.haze, 0.3 * (1 - self.frac), (235, 238, 245), sigma, mode="alpha")
        hp = max(0.06 * h, 2.5 / canvas.px_per_m)
        area = self.water * self.collected / self.DROPS
        puddle(canvas, cx, self.scene.ground_y, 4 * area / (np.pi * hp), hp, self.liquid_color)
        p = self.drops
        light = lerp_color(self.liquid_color, (255, 255, 255), 0.5)
        for i in np.flatnonzero(p.alive):
            x, y = canvas.to_px(*p.pos[i])
            r = max(canvas.length_px(p.extra["r"][i]), 0.8)
            vy = p.vel[i, 1]
            if vy < -0.05:  # falling: a streak as long as a frame's travel
                tail = min(canvas.length_px(-vy * self.scene.time_scale / self.scene.fps), 25.0)
                canvas.draw.line([(x, y - tail), (x, y)], fill=(*light, 200), width=max(1, int(r)))
            else:
                canvas.draw.ellipse([x - r, y - r, x + r, y + r], fill=(*self.liquid_color, 220), outline=light)
