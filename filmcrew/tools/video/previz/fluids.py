"""Fluids: gas motion (buoyant advected puffs), and the shared plume physics of smoke and vapour.

Gases are puffs advected by buoyancy, drag towards the wind, a divergence-free eddy field and
diffusion; they grow and fade with age. Liquid motion lives in `liquid.py` and is registered from
here, so importing this module brings both fluid phenomena.
"""

from __future__ import annotations

import numpy as np

from filmcrew.tools.video.previz import liquid  # noqa: F401  (registers liquid motion)
from filmcrew.tools.video.previz.particles import Particles, splat
from filmcrew.tools.video.previz.props import (
    SimClock,
    add_prop,
    child_rng,
    floor_y,
    free_subject,
    gravity,
    subject_box,
    world_size,
)
from filmcrew.tools.video.previz.scene import Canvas, Phenomenon, Scene, register

G = 9.81
AIR_DENSITY = 0.0012  # g/cm³


class Plume:
    """Buoyant gas puffs: the shared physics of smoke, steam, vapour and flame exhaust.

    Acceleration = buoyancy (decaying as the puff mixes with air) + drag towards the wind + eddies;
    position also takes a diffusive random walk. Puffs grow and fade with age.
    """

    def __init__(self, rng: np.random.Generator, capacity: int, scale_m: float, buoyancy: float,
                 life_s: float, color: tuple[int, int, int], wind: float = 0.0, opacity: float = 0.6,
                 floor: float | None = None):
        self.rng = rng
        self.p = Particles(capacity, extras=("seed",))
        self.scale = scale_m  # source size: sets the eddy size and the rise speed
        self.buoyancy = buoyancy  # m/s² at birth
        self.rise = np.sqrt(max(buoyancy, 1e-3) * scale_m) * 1.5  # plume velocity scale √(g' L)
        self.drag = max(buoyancy, 1e-3) / self.rise  # 1/s: terminal speed = rise
        self.life = life_s
        self.color = np.asarray(color, dtype=float)
        self.wind = wind
        self.opacity = opacity
        self.floor = floor
        self.t = 0.0

    def emit(self, n: int, centre: tuple[float, float], width: float, vel: tuple[float, float] = (0, 0)) -> None:
        if n <= 0:
            return
        x = centre[0] + (self.rng.random(n) - 0.5) * width
        y = np.full(n, centre[1]) + self.rng.random(n) * 0.1 * self.scale
        v = np.column_stack((vel[0] + self.rng.normal(0, 0.1, n) * self.rise, vel[1] + self.rng.normal(0, 0.1, n) * self.rise))
        life = self.life * (0.7 + 0.6 * self.rng.random(n))
        self.p.spawn(np.column_stack((x, y)), v, life, seed=self.rng.random(n) * 100)

    def step(self, dt: float) -> None:
        self.t += dt
        p = self.p
        a = p.alive
        if not a.any():
            return
        pos, vel, age = p.pos[a], p.vel[a], p.age[a]
        lift = self.buoyancy * np.exp(-age / (0.5 * self.life))
        # eddies: curl of a stream function ψ = A sin(kx + ωt) sin(ky - ωt) is divergence-free
        k = 2 * np.pi / (2.5 * self.scale)
        w = 0.7 * self.rise * k
        ph = p.extra["seed"][a]
        sx, cx = np.sin(k * pos[:, 0] + w * self.t + ph), np.cos(k * pos[:, 0] + w * self.t + ph)
        sy, cy = np.sin(k * pos[:, 1] - w * self.t), np.cos(k * pos[:, 1] - w * self.t)
        amp = 0.5 * self.rise
        eddy = np.column_stack((amp * sx * cy, -amp * cx * sy))
        target = eddy + np.array([self.wind, 0.0])
        vel += dt * (np.column_stack((np.zeros_like(lift), lift)) + self.drag * (target - vel))
        diff = 0.05 * self.scale * self.rise * (1 + age)  # eddy diffusivity grows as the puff spreads
        pos += vel * dt + np.sqrt(2 * diff * dt)[:, None] * self.rng.standard_normal(pos.shape)
        if self.floor is not None:  # gas does not sink into the ground
            low = pos[:, 1] < self.floor
            pos[low, 1] = self.floor
            vel[low, 1] = np.maximum(vel[low, 1], 0)
        p.pos[a], p.vel[a] = pos, vel
        p.age_by(dt)

    def draw(self, canvas: Canvas, color: np.ndarray | None = None, gain: float = 1.0) -> None:
        p = self.p
        a = p.alive
        if not a.any():
            return
        u = p.age[a] / p.life[a]
        sigma = canvas.length_px(0.08 * self.scale * (1 + 5 * u)) + 1.0
        weight = self.opacity * (1 - u) ** 1.5
        col = tuple(self.color) if color is None else color
        splat(canvas, p.pos[a], weight, col, sigma, mode="alpha", gain=gain)


def _gas_look(material_name: str) -> tuple[tuple[int, int, int], float, float]:
    """Colour, life in seconds and opacity of a gas by material."""
    if material_name == "steam":
        return (240, 242, 246), 2.0, 0.3
    if material_name == "air":
        return (225, 235, 245), 1.5, 0.12
    return (105, 105, 110), 4.0, 0.3  # smoke


@register
class GasMotion(Phenomenon):
    """Smoke, steam or wind: a plume from the shot's gas subject, or a smoke source on the ground."""

    name = "gas motion"

    def __init__(self, scene: Scene):
        super().__init__(scene)
        self.rng = child_rng(scene)
        src = free_subject(scene, lambda s: s.material.state == "gas" and not s.material.emissive)
        if src is None:
            src = add_prop(scene, "smoke", "object", "smoke", drawn_by=self.name, min_fraction=0.08)
        self.source = src
        cx, cy, w, h = subject_box(scene, src)
        self.centre = (cx, cy - h / 2)
        self.width = max(0.5 * w, 0.02)
        ww, _ = world_size(scene)
        mat = src.material.name if src.material.name in ("steam", "air") else "smoke"
        color, life, opacity = _gas_look(mat)
        self.windy = mat == "air"
        # buoyancy from the density deficit g (ρ_air - ρ_gas) / ρ_air, or from heat when not lighter
        hi = scene.temperature_c[1]
        dens = max((AIR_DENSITY - src.material.density) / AIR_DENSITY, 0.0)
        heat = max(hi - 20.0, 0.0) / (hi + 273.15)
        b = 0.0 if self.windy else gravity(scene) * max(dens, heat, 0.15)
        self.plume = Plume(self.rng, 1200, scale_m=max(self.width, 0.05 * ww), buoyancy=b, life_s=life,
                           color=color, wind=0.25 * ww if self.windy else 0.0, opacity=opacity,
                           floor=scene.ground_y)
        self.rate = 260.0 if not self.windy else 400.0  # puffs per world second
        self.clock = SimClock.for_scene(scene, 1 / 48)

    def step(self, dt: float) -> None:
        h = self.clock.h
        for _ in range(self.clock.ticks(dt)):
            n = self.rng.poisson(self.rate * h)
            if self.windy:
                x0, _, x1, y1 = self.scene.world
                g = floor_y(self.scene)
                ys = g + self.rng.random(n) * (y1 - g)
                self.plume.p.spawn(np.column_stack((np.full(n, x0), ys)),
                                   np.column_stack((np.full(n, self.plume.wind), np.zeros(n))),
                                   (x1 - x0) / self.plume.wind, seed=self.rng.random(n) * 100)
            else:
                self.plume.emit(n, self.centre, self.width)
            self.plume.step(h)

    def draw(self, canvas: Canvas) -> None:
        self.clock.frame()
        if self.windy:
            self._draw_streaks(canvas)
            return
        if self.source.drawn_by == self.name:  # our own vent: a dark slot the plume leaves from
            x, y = canvas.to_px(*self.centre)
            r = canvas.length_px(self.width / 2)
            canvas.draw.rectangle([x - r, y - 2, x + r, y + 1], fill=(50, 50, 55))
        self.plume.draw(canvas)

    def _draw_streaks(self, canvas: Canvas) -> None:
        p = self.plume.p
        idx = np.flatnonzero(p.alive)[:400]
        tail = 0.06 * (p.vel[idx] / np.maximum(np.linalg.norm(p.vel[idx], axis=1, keepdims=True), 1e-6))
        ww, _ = world_size(self.scene)
        for i, tl in zip(idx, tail, strict=True):
            a = canvas.to_px(*p.pos[i])
            b = canvas.to_px(*(p.pos[i] - tl * ww))
            canvas.draw.line([a, b], fill=(235, 240, 250, 110), width=1)
