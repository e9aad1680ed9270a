"""Fluids: liquid motion (cohesive particle liquid) and gas motion (buoyant advected puffs).

The liquid is a particle fluid with double-density relaxation (Clavet et al. 2005): a near-pressure
keeps particles apart, a negative pressure below rest density pulls a surface together (cohesion), and
pair viscosity from the material's friction makes lava ooze and water splash. Gases are puffs advected
by buoyancy, drag towards the wind, a divergence-free eddy field and diffusion; they grow and fade.
"""

from __future__ import annotations

import numpy as np

from filmcrew.tools.previz.particles import Particles, splat, surface
from filmcrew.tools.previz.props import (
    SimClock,
    add_prop,
    child_rng,
    floor_y,
    free_subject,
    phase_window,
    place,
    subject_box,
    world_size,
)
from filmcrew.tools.previz.scene import Canvas, Phenomenon, Scene, SubjectBody, register

G = 9.81
AIR_DENSITY = 0.0012  # g/cm³
GROUND_DRAG = 0.3  # fraction of sliding speed a liquid loses per sub-step touching the ground
PIN_SPEED = 0.12  # m/s: a film edge sliding slower than this is held by the contact line and stops


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
        b = 0.0 if self.windy else G * max(dens, heat, 0.15)
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


def _scatter(arr: np.ndarray, i: np.ndarray, j: np.ndarray, delta: np.ndarray) -> None:
    """Apply an equal and opposite pair correction: arr[i] -= delta/2, arr[j] += delta/2 (summed)."""
    n = len(arr)
    for c in range(arr.shape[1]):
        arr[:, c] += (np.bincount(j, delta[:, c], n) - np.bincount(i, delta[:, c], n)) / 2


def _push_out(x: np.ndarray, vy: np.ndarray, box: tuple[float, float, float, float], r: float) -> float:
    """Move particles that entered a solid box out through its nearest face; returns impact energy."""
    ox0, oy0, ox1, oy1 = box
    inside = (x[:, 0] > ox0 - r) & (x[:, 0] < ox1 + r) & (x[:, 1] > oy0 - r) & (x[:, 1] < oy1 + r)
    if not inside.any():
        return 0.0
    xi = x[inside]
    pushes = np.column_stack((ox0 - r - xi[:, 0], ox1 + r - xi[:, 0], oy0 - r - xi[:, 1], oy1 + r - xi[:, 1]))
    k = np.argmin(np.abs(pushes), axis=1)
    rows = np.arange(len(xi))
    xi[k < 2, 0] += pushes[rows, k][k < 2]
    xi[k >= 2, 1] += pushes[rows, k][k >= 2]
    x[inside] = xi
    down = vy[inside][k == 3]
    return float(np.sum(np.minimum(down, 0) ** 2 * (down < -1.0)))


def _contain(x: np.ndarray, prev: np.ndarray, vy: np.ndarray, box: tuple[float, float, float, float],
             r: float) -> float:
    """An open cup: what came in through the mouth stays between its walls and above its bottom,
    what comes from outside is kept out of its walls. Returns the impact energy on the bottom."""
    bx0, by0, bx1, by1 = box
    t = 0.08 * (bx1 - bx0)  # wall thickness
    ix0, ix1, floor = bx0 + t + r, bx1 - t - r, by0 + t + r
    held = (prev[:, 0] > bx0 + t) & (prev[:, 0] < bx1 - t) & (prev[:, 1] > by0) & (x[:, 1] < by1)
    x[held, 0] = np.clip(x[held, 0], ix0, max(ix0, ix1))
    low = held & (x[:, 1] < floor)
    impact = float(np.sum(np.minimum(vy[low], 0) ** 2 * (vy[low] < -1.0)))
    x[low, 1] = floor
    for wall in ((bx0, by0, bx0 + t, by1), (bx1 - t, by0, bx1, by1)):
        outside = ~held
        sub = x[outside]
        impact += _push_out(sub, vy[outside], wall, r)
        x[outside] = sub
    return impact


def _containers(scene: Scene, skip: SubjectBody | None) -> list[tuple[float, float, float, float, bool]]:
    """Axis-aligned obstacles (x0, y0, x1, y1, is_cup) from the subjects that have rigid bodies."""
    out = []
    for s in scene.subjects:
        if s is skip or s.body is None or not s.visible or s.kind.animate:
            continue
        cx, cy, w, h = subject_box(scene, s)
        out.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, s.kind.shape == "cup"))
    return out


@register
class LiquidMotion(Phenomenon):
    """A pour from the shot's liquid into a container or onto the ground, or a body of water flowing.

    Liquid kinds that are bodies of water (pool, puddle, wave: "plane" and "blob" shapes) are released
    as a column that collapses and sloshes; any other liquid is poured as a stream over the window.
    """

    name = "liquid motion"
    CAPACITY = 700

    def __init__(self, scene: Scene):
        super().__init__(scene)
        self.rng = child_rng(scene)
        ww, wh = world_size(scene)
        liq = free_subject(scene, lambda s: s.material.state == "liquid")
        if liq is None:
            liq = add_prop(scene, "water", "glass", "water", drawn_by=self.name, min_fraction=0.15)
        liq.drawn_by = self.name  # the particles are the liquid from now on
        self.liquid = liq
        self.color = liq.material.color
        cx, _, w, h = subject_box(scene, liq)
        area = max(w * h, 1e-6)
        self.flow = liq.kind.shape in ("plane", "blob")
        cups = [] if self.flow else [c for c in _containers(scene, liq) if c[4]]
        self.stream_w = 3
        if cups:  # pour into the shot's glass: fill it to about 70 %, with particles that fit inside
            bx0, by0, bx1, by1, _ = cups[0]
            inner = 0.84 * (bx1 - bx0)
            area = min(area, 0.7 * inner * 0.9 * (by1 - by0))
            self.spacing = min(max(np.sqrt(area / self.CAPACITY), ww / 400), inner / 5)
            self.stream_w = 1 if inner < 8 * self.spacing else 2
        else:
            self.spacing = max(np.sqrt(area / self.CAPACITY), ww / 180)  # particle spacing, m
        n_total = int(np.clip(area / self.spacing**2, 30, self.CAPACITY))
        self.h = 3.0 * self.spacing  # interaction radius: about 25 neighbours in the bulk
        self.visc = 0.05 + 2.0 * liq.material.friction  # lava (friction 0.3) oozes, water splashes
        self.rho0, self.k, self.k_near = 4.5, 0.03, 0.1  # rest density and stiffnesses, per pair sum
        self.p = Particles(self.CAPACITY)
        self.walls: tuple[float, float] | None = None
        if self.flow:
            # a column of the liquid's volume at the left of its extent, released at t = 0
            x0 = cx - w / 2
            col_w = max(w / 3, self.spacing * 4)
            col_h = area / col_w
            nx = max(int(col_w / self.spacing), 2)
            ny = max(int(n_total / nx), 2)
            gx, gy = np.meshgrid(np.arange(nx), np.arange(ny))
            pos = np.column_stack((x0 + (gx.ravel() + 0.5) * col_w / nx,
                                   scene.ground_y + (gy.ravel() + 0.5) * col_h / ny))
            self.p.spawn(pos[: self.CAPACITY], (0.0, 0.0), np.inf)
            self.walls = (x0, cx + w / 2)
            self.to_pour = 0
        else:
            target_x = (cups[0][0] + cups[0][2]) / 2 if cups else cx - 0.1 * w
            top = max([c[3] for c in cups] + [floor_y(scene) + h])
            self.nozzle = (target_x, min(top + max(0.3 * wh, h), scene.world[3] - 0.15 * wh))
            place(liq, self.nozzle[0], self.nozzle[1] + h / 2)
            size = max(np.sqrt(area), 8 * self.spacing, 0.04 * ww)
            self.vessel = (0.7 * size, size)
            self.to_pour = n_total
        self.t = scene.t
        self.clock = SimClock.for_scene(scene, 1 / 72)
        t0, t1 = phase_window(scene)
        self.pour_start = t0
        self.pour_len = float(np.clip(t1 - t0, 0.3, max(scene.duration_world_s * 0.6, 0.3)))
        self.poured = 0
        self.last_splash = -1e9
        # outflow speed and stream width so the whole volume pours over the window
        self.v_out = self.to_pour * self.spacing / (self.stream_w * self.pour_len)
        if self.v_out > 2.0:
            self.stream_w = int(np.ceil(self.to_pour * self.spacing / (2.0 * self.pour_len)))
            self.v_out = self.to_pour * self.spacing / (self.stream_w * self.pour_len)
        self.row_period = self.spacing / max(self.v_out, 1e-6)
        self.row_clock = 0.0

    def step(self, dt: float) -> None:
        h = self.clock.h
        for _ in range(self.clock.ticks(dt)):
            self.t += h
            self._emit(h)
            self._substep(h)

    def _emit(self, dt: float) -> None:
        """Release the stream as rows of `stream_w` particles one spacing apart: a laminar pour."""
        if self.poured >= self.to_pour or self.t < self.pour_start:
            return
        self.row_clock += dt
        while self.row_clock >= self.row_period and self.poured < self.to_pour:
            self.row_clock -= self.row_period
            k = min(self.stream_w, self.to_pour - self.poured)
            x = self.nozzle[0] + (np.arange(k) - (k - 1) / 2) * self.spacing
            y = np.full(k, self.nozzle[1]) - self.row_clock * self.v_out
            v = np.column_stack((self.rng.normal(0.0, 0.02, k), np.full(k, -self.v_out)))
            self.poured += len(self.p.spawn(np.column_stack((x, y)), v, np.inf))

    def _substep(self, dt: float) -> None:
        from scipy.spatial import cKDTree

        a = np.flatnonzero(self.p.alive)
        if len(a) == 0:
            return
        x, v = self.p.pos[a], self.p.vel[a]
        v[:, 1] -= G * dt
        prev = x.copy()
        pairs = cKDTree(x).query_pairs(self.h, output_type="ndarray")
        if len(pairs):
            i, j = pairs[:, 0], pairs[:, 1]
            r = x[j] - x[i]
            d = np.maximum(np.linalg.norm(r, axis=1), 1e-9)
            q = d / self.h
            rhat = r / d[:, None]
            # viscosity: damp the approaching part of the relative velocity of each pair
            u = np.sum((v[i] - v[j]) * rhat, axis=1)
            imp = (dt * self.visc * 8 * (1 - q) * u)[:, None] * rhat
            _scatter(v, i, j, imp)
        x += v * dt
        if len(pairs):
            r = x[j] - x[i]
            d = np.maximum(np.linalg.norm(r, axis=1), 1e-9)
            q = np.clip(d / self.h, 0, 1)
            rhat = r / d[:, None]
            n = len(x)
            rho = np.bincount(i, (1 - q) ** 2, n) + np.bincount(j, (1 - q) ** 2, n)
            rho_n = np.bincount(i, (1 - q) ** 3, n) + np.bincount(j, (1 - q) ** 3, n)
            press = self.k * (rho - self.rho0)  # below rest density this pulls: cohesion
            press_n = self.k_near * rho_n
            mag = self.h * ((press[i] + press[j]) / 2 * (1 - q) + (press_n[i] + press_n[j]) / 2 * (1 - q) ** 2)
            disp = np.clip(mag, -0.1 * self.h, 0.3 * self.h)[:, None] * rhat
            _scatter(x, i, j, disp)
        impact = self._collide(x, prev, dt)
        v[:] = (x - prev) / dt
        self.p.pos[a], self.p.vel[a] = x, v
        if impact > 0 and self.t - self.last_splash > 0.3 * self.scene.time_scale:
            strength = float(np.clip(impact / (0.04 * self.CAPACITY), 0, 1))
            if strength > 0.15:
                self.scene.emit("splash", strength)
                self.last_splash = self.t

    def _collide(self, x: np.ndarray, prev: np.ndarray, dt: float) -> float:
        """Keep particles above the ground and out of obstacles; returns the impact energy (∑v²)."""
        r = 0.5 * self.spacing
        floor = self.scene.ground_y + r
        vy = (x[:, 1] - prev[:, 1]) / dt
        hit = x[:, 1] < floor
        impact = float(np.sum(np.minimum(vy[hit], 0) ** 2 * (vy[hit] < -1.0)))
        x[hit, 1] = floor
        slide = (x[hit, 0] - prev[hit, 0]) * (1 - GROUND_DRAG - self.liquid.material.friction)
        slide[np.abs(slide) < PIN_SPEED * dt] = 0.0
        x[hit, 0] = prev[hit, 0] + slide
        if self.walls is not None:
            np.clip(x[:, 0], self.walls[0] + r, self.walls[1] - r, out=x[:, 0])
        for bx0, by0, bx1, by1, cup in _containers(self.scene, self.liquid):
            if cup:
                impact += _contain(x, prev, vy, (bx0, by0, bx1, by1), r)
            else:
                impact += _push_out(x, vy, (bx0, by0, bx1, by1), r)
        return impact

    def draw(self, canvas: Canvas) -> None:
        self.clock.frame()
        a = self.p.alive
        if self.to_pour and self.poured < self.to_pour:
            self._draw_source(canvas)
        surface(canvas, self.p.pos[a], canvas.length_px(0.75 * self.spacing) + 0.8, self.color)

    def _draw_source(self, canvas: Canvas) -> None:
        """The vessel the liquid pours from, tipped over the nozzle, emptier as it pours."""
        cw, ch = self.vessel
        lip = np.array(self.nozzle)
        ang = np.radians(-115.0)  # tipped clockwise: the mouth faces down and to the right
        rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        local = np.array([[cw / 2, 0.0], [-cw / 2, 0.0], [-cw / 2, -ch], [cw / 2, -ch]]) - [cw / 2, 0.0]
        pts = [canvas.to_px(*(lip + rot @ q)) for q in local]
        full = 1 - self.poured / max(self.to_pour, 1)
        canvas.draw.polygon(pts, fill=(*self.color, int(60 + 150 * full)))
        canvas.draw.line([pts[1], pts[2], pts[3], pts[0]], fill=(215, 225, 235), width=2)
