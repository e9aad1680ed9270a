"""Combustion: a flame of buoyant, cooling, incandescent particles over a burning fuel.

Flame colours are blackbody colours of each particle's temperature, which falls as the gas rises and
mixes with air, so flames are white-yellow at the root and red at the tips by construction. The fuel
catches when the annotated temperature ramp passes its ignition point; the hot air above it shimmers.
"""

from __future__ import annotations

import numpy as np

from filmcrew.tools.video.previz.fluids import Plume
from filmcrew.tools.video.previz.particles import Particles, splat
from filmcrew.tools.video.previz.props import (
    SimClock,
    add_prop,
    child_rng,
    crossing_time,
    free_subject,
    gravity,
    lerp_color,
    phase_window,
    subject_box,
    world_size,
)
from filmcrew.tools.video.previz.rays import blackbody_rgb
from filmcrew.tools.video.previz.scene import Canvas, Phenomenon, Scene, register

G = 9.81
K0 = 273.15
# Typical flame temperatures (°C) by fuel; a hotter annotated maximum overrides them.
FLAME_C = {"wood": 1100.0, "paper": 900.0, "wax": 1400.0, "oil": 1000.0, "gunpowder": 2000.0,
           "plastic": 1000.0, "fabric": 900.0, "rubber": 1000.0}
# Share of burnt-out flame gas that leaves as visible smoke: wax burns clean, oil and rubber are sooty.
SOOT = {"wax": 0.03, "paper": 0.15, "wood": 0.25, "fabric": 0.25, "gunpowder": 0.4, "oil": 0.5,
        "plastic": 0.5, "rubber": 0.6}
_BB_LUT_K = np.linspace(600.0, 3500.0, 256)
_BB_LUT = blackbody_rgb(_BB_LUT_K) * 255.0


def flame_rgb(temperature_k: np.ndarray) -> np.ndarray:
    """Blackbody colour (N, 3) in 0..255 of each particle temperature, from a lookup table."""
    i = np.clip((np.asarray(temperature_k) - _BB_LUT_K[0]) / (_BB_LUT_K[-1] - _BB_LUT_K[0]) * 255, 0, 255)
    return _BB_LUT[i.astype(np.int64)]


def heat_shimmer(canvas: Canvas, box: tuple[float, float, float, float], amp_px: float, t: float) -> None:
    """Refractive wobble of the air above a fire: rows shifted sideways by a travelling sine."""
    import cv2
    from PIL import Image

    xa, ya = max(int(box[0]), 0), max(int(box[1]), 0)
    xb, yb = min(int(box[2]), canvas.width), min(int(box[3]), canvas.height)
    if xb - xa < 4 or yb - ya < 4 or amp_px < 0.2:
        return
    roi = np.asarray(canvas.image.crop((xa, ya, xb, yb)))
    h, w = roi.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    fade = np.sin(np.pi * xx / max(w - 1, 1)) * (yy / max(h - 1, 1))  # strongest just above the flame
    off = amp_px * fade * np.sin(yy * 0.45 + t * 25.0)
    out = cv2.remap(roi, xx + off.astype(np.float32), yy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    canvas.image.paste(Image.fromarray(out), (xa, ya))


@register
class Combustion(Phenomenon):
    """A fuel catches fire when the temperature ramp passes its ignition point and burns."""

    name = "combustion"

    def __init__(self, scene: Scene):
        super().__init__(scene)
        self.rng = child_rng(scene)
        fuel = free_subject(scene, lambda s: s.material.ignition_c is not None and s.kind.name == "candle")
        fuel = fuel or free_subject(scene, lambda s: s.material.ignition_c is not None and not s.kind.animate)
        self.own = fuel is None
        if fuel is None:
            fuel = add_prop(scene, "campfire", "campfire", "wood", drawn_by=self.name)
        self.fuel = fuel
        self.base_color = fuel.color
        m = fuel.material
        cx, cy, w, h = subject_box(scene, fuel)
        if fuel.kind.name == "candle":
            self.base, self.width = (cx, cy + h / 2 + 0.01 * h), max(1.2 * w, 0.015)
        elif self.own:
            self.base, self.width = (cx, cy - h / 2 + 0.3 * h), 0.7 * w
        else:
            self.base, self.width = (cx, cy + h / 2), 0.8 * w
        self.offset = (self.base[0] - cx, self.base[1] - cy)
        lo, hi = scene.temperature_c
        self.flame_k = max(hi, FLAME_C.get(m.name, 1100.0)) + K0  # a hotter annotated range wins
        self.height = float(np.clip(2.2 * self.width, 0.03, 0.5 * world_size(scene)[1]))
        self.rise = np.sqrt(G * self.height) * 1.1  # buoyant plume speed scale
        self.t_ign = crossing_time(scene, m.ignition_c if m.ignition_c is not None else lo)
        self.t = scene.t
        self.t_end = phase_window(scene)[1]
        self.burning = False
        self.p = Particles(900, extras=("temp", "mix"))
        self.smoke = Plume(self.rng, 300, scale_m=self.width, buoyancy=3.0, life_s=2.5,
                           color=(60, 58, 58), opacity=0.2, floor=scene.ground_y)
        self.intensity = 0.0
        self.soot = SOOT.get(m.name, 0.25)
        self.g = gravity(scene)
        self.clock = SimClock.for_scene(scene, 1 / 48)

    def step(self, dt: float) -> None:
        self.t += dt
        if not self.burning and self.t >= self.t_ign:
            self.burning = True
            self.scene.emit("ignition", min(1.0, 0.4 + self.width / world_size(self.scene)[0]))
        cx, cy, _, _ = subject_box(self.scene, self.fuel)
        self.base = (cx + self.offset[0], cy + self.offset[1])
        for _ in range(self.clock.ticks(dt)):
            self._substep(self.clock.h)
        if self.burning:
            burnt = np.clip((self.t - self.t_ign) / max(self.t_end - self.t_ign, 1.0), 0, 1)
            self.fuel.color = lerp_color(self.base_color, (35, 28, 24), 0.8 * burnt)
            if self.fuel.material.name in ("paper", "fabric"):
                self.fuel.scale = float(1 - 0.7 * burnt)

    def _substep(self, h: float) -> None:
        p = self.p
        t = self.t
        if self.burning:
            catch = min(1.0, (t - self.t_ign) / 0.6)
            # flicker: two incommensurate sines plus noise modulate the fuel's gas release
            flick = 1 + 0.35 * np.sin(2 * np.pi * 7.3 * t) * np.sin(2 * np.pi * 2.1 * t + 1) + 0.2 * self.rng.normal()
            self.intensity = catch * max(flick, 0.2)
            n = self.rng.poisson(700 * h * self.intensity)
            x = self.base[0] + self.rng.normal(0, 0.28 * self.width, n)
            # gas leaves the fuel upwards only where buoyancy drives it; in space it spreads evenly
            up = (0.2 + 0.4 * self.rng.random(n)) * self.rise * self.g / G
            v = np.column_stack((self.rng.normal(0, 0.05 * self.rise, n), up + self.rng.normal(0, 0.05 * self.rise, n)))
            temp = self.flame_k * (0.92 + 0.12 * self.rng.random(n))
            mix = 1.0 + 1.4 * self.rng.random(n)
            p.spawn(np.column_stack((x, np.full(n, self.base[1]))), v, 1.5, temp=temp, mix=mix)
        a = p.alive
        if not a.any():
            self.smoke.step(h)
            return
        pos, vel, temp = p.pos[a], p.vel[a], p.extra["temp"][a]
        lift = self.g * (temp - K0 - 20) / temp  # buoyancy of hot gas: g Δρ/ρ = g ΔT/T; none in space
        sway = 0.3 * self.rise * np.sin(2 * np.pi * 3.0 * t + 10 * (pos[:, 1] - self.base[1]) / self.height)
        pull = -3.0 * (pos[:, 0] - self.base[0]) * self.rise / self.height  # entrainment narrows the tip
        drag = G / self.rise
        vel[:, 0] += h * (pull + sway - drag * vel[:, 0])
        vel[:, 1] += h * (lift - drag * vel[:, 1])
        pos += vel * h
        # mixing with cold air per distance travelled: dull red (900 K) about one flame height up;
        # each parcel mixes at its own rate, which tears the flame into tongues
        speed = np.hypot(vel[:, 0], vel[:, 1])
        temp -= h * (temp - K0 - 20) * speed / (p.extra["mix"][a] * self.height)
        p.pos[a], p.vel[a], p.extra["temp"][a] = pos, vel, temp
        cold = a & (p.extra["temp"] < 900)
        if cold.any():
            keep = np.flatnonzero(cold)[self.rng.random(int(cold.sum())) < self.soot]
            self.smoke.p.spawn(p.pos[keep], p.vel[keep] * 0.5, 2.5, seed=self.rng.random(len(keep)) * 100)
            p.alive &= ~cold
        p.age_by(h)
        self.smoke.step(h)

    def draw(self, canvas: Canvas) -> None:
        self.clock.frame()
        if self.own:
            self._draw_logs(canvas)
        p = self.p
        a = p.alive
        self.smoke.draw(canvas)
        if not a.any():
            return
        temp = p.extra["temp"][a]
        heat = np.clip((temp - 900) / (self.flame_k - 900), 0, 1)
        sigma = canvas.length_px(0.06 * self.width) + 1.2
        # the fire's light on its surroundings: even a candle lights a patch around it
        reach = max(0.8 * self.height, 0.06 * world_size(self.scene)[0])
        splat(canvas, np.array([self.base]), 1.0, (255, 140, 50), canvas.length_px(reach) + 4,
              mode="add", gain=0.12 * self.intensity)
        # the flame body is painted (so it reads on a bright sky), its incandescence then added on top
        colors = flame_rgb(temp)
        splat(canvas, p.pos[a], 0.12 * heat, colors, sigma, mode="alpha", gain=1.0)
        splat(canvas, p.pos[a], 0.05 * heat**1.3, colors, sigma, mode="add", gain=1.0)
        bx, by = canvas.to_px(self.base[0], self.base[1] + 0.6 * self.height)
        half = canvas.length_px(0.9 * self.width)
        heat_shimmer(canvas, (bx - half, by - canvas.length_px(1.6 * self.height), bx + half, by),
                     1.5 * self.intensity, self.t)

    def _draw_logs(self, canvas: Canvas) -> None:
        cx, cy, w, h = subject_box(self.scene, self.fuel)
        base = cy - h / 2
        for sgn in (-1, 1):
            a = canvas.to_px(cx - sgn * 0.45 * w, base + 0.02 * h)
            b = canvas.to_px(cx + sgn * 0.3 * w, base + 0.35 * h)
            canvas.draw.line([a, b], fill=self.fuel.color, width=max(3, int(canvas.length_px(0.12 * h))))
        ex0, ey = canvas.to_px(cx - 0.3 * w, base)
        ex1, _ = canvas.to_px(cx + 0.3 * w, base)
        canvas.draw.line([(ex0, ey - 1), (ex1, ey - 1)], fill=(255, 90, 20) if self.burning else (60, 50, 45),
                         width=2)
