"""Liquid motion: a cohesive particle liquid poured, spilled, splashing, flowing and coming to rest.

The liquid is a particle fluid with double-density relaxation (Clavet et al. 2005): a near-pressure
keeps particles apart, a negative pressure below rest density pulls a surface together (cohesion), and
pair viscosity from the material's friction makes lava ooze and water splash. It collides with the
floor, the table and the shot's solid bodies, and fills open containers (a glass, a pot) through their
mouth. A liquid the plan puts in a glass ("a glass of water") starts inside it with a level surface
and spills as particles when the glass tips or breaks (`vessels.Held`).
"""

from __future__ import annotations

import numpy as np
import pymunk

from filmcrew.tools.video.previz.particles import Particles, surface
from filmcrew.tools.video.previz.props import (
    SimClock,
    add_prop,
    child_rng,
    floor_y,
    free_subject,
    gravity,
    phase_window,
    place,
    subject_box,
    world_size,
)
from filmcrew.tools.video.previz.scene import Canvas, Phenomenon, Scene, SubjectBody, register
from filmcrew.tools.video.previz.vessels import Held, draw_held, held_pairs, interior

GROUND_DRAG = 0.3  # fraction of sliding speed a liquid loses per sub-step touching the ground
PIN_SPEED = 0.12  # m/s: a film edge sliding slower than this is held by the contact line and stops


def _scatter(arr: np.ndarray, i: np.ndarray, j: np.ndarray, delta: np.ndarray) -> None:
    """Apply an equal and opposite pair correction: arr[i] -= delta/2, arr[j] += delta/2 (summed)."""
    n = len(arr)
    for c in range(arr.shape[1]):
        arr[:, c] += (np.bincount(j, delta[:, c], n) - np.bincount(i, delta[:, c], n)) / 2


def _push_out(x: np.ndarray, vy: np.ndarray, box: tuple[float, float, float, float], r: float,
              prev: np.ndarray | None = None) -> float:
    """Move particles that entered a solid box out through its nearest face; returns impact energy.

    With `prev`, a particle that was above the box and is now below its top landed on it, however far
    it went in one step (a thin table top does not let a fast drop through).
    """
    ox0, oy0, ox1, oy1 = box
    over = (x[:, 0] > ox0 - r) & (x[:, 0] < ox1 + r)
    energy = 0.0
    if prev is not None:
        landed = over & (prev[:, 1] >= oy1 + r - 1e-9) & (x[:, 1] < oy1 + r)
        down = vy[landed]
        energy = float(np.sum(np.minimum(down, 0) ** 2 * (down < -1.0)))
        x[landed, 1] = oy1 + r
    inside = over & (x[:, 1] > oy0 - r) & (x[:, 1] < oy1 + r)
    if not inside.any():
        return energy
    xi = x[inside]
    pushes = np.column_stack((ox0 - r - xi[:, 0], ox1 + r - xi[:, 0], oy0 - r - xi[:, 1], oy1 + r - xi[:, 1]))
    k = np.argmin(np.abs(pushes), axis=1)
    rows = np.arange(len(xi))
    xi[k < 2, 0] += pushes[rows, k][k < 2]
    xi[k >= 2, 1] += pushes[rows, k][k >= 2]
    x[inside] = xi
    down = vy[inside][k == 3]
    return energy + float(np.sum(np.minimum(down, 0) ** 2 * (down < -1.0)))


def _contain(x: np.ndarray, prev: np.ndarray, vy: np.ndarray, box: tuple[float, float, float, float],
             r: float) -> float:
    """An open cup: what came in through the mouth stays between its walls and above its bottom,
    what comes from outside is kept out of its walls. Returns the impact energy on the bottom."""
    bx0, by0, bx1, by1 = box
    t = 0.08 * (bx1 - bx0)  # wall thickness
    ix0, ix1, floor = bx0 + t + r, bx1 - t - r, by0 + t + r
    held = (prev[:, 0] > bx0 + t) & (prev[:, 0] < bx1 - t) & (prev[:, 1] > by0) & (x[:, 1] < by1)
    # clamped particles land a hair inside at distinct spots, never on one point
    jitter = 0.05 * r * (np.arange(len(x)) % 7) / 7
    x[held, 0] = np.clip(x[held, 0], ix0 + jitter[held], max(ix0, ix1) - jitter[held])
    low = held & (x[:, 1] < floor)
    impact = float(np.sum(np.minimum(vy[low], 0) ** 2 * (vy[low] < -1.0)))
    x[low, 1] = floor + jitter[low]
    for wall in ((bx0, by0, bx0 + t, by1), (bx1 - t, by0, bx1, by1)):
        outside = ~held
        sub = x[outside]
        impact += _push_out(sub, vy[outside], wall, r)
        x[outside] = sub
    return impact


def _containers(scene: Scene, skip: SubjectBody | None) -> list[tuple[float, float, float, float]]:
    """Open cups a pour fills: (x0, y0, x1, y1) of each upright container subject with a body."""
    out = []
    for s in scene.subjects:
        if s is skip or s.body is None or not s.visible or s.kind.shape != "cup" or len(s.shapes) != 1:
            continue
        cx, cy, w, h = subject_box(scene, s)
        out.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    return out


Box = tuple[float, float, float, float]


def _stage(scene: Scene) -> tuple[list[float], list[float], list[tuple[pymunk.Shape, Box]]]:
    """The solid world a liquid meets: floor heights, wall positions and boxes of solid shapes (the
    table top, crates, shards), read from the pymunk space; the floor is the scene's ground when the
    space has none (a hand-built scene)."""
    floors: list[float] = []
    walls: list[float] = []
    boxes: list[tuple[pymunk.Shape, Box]] = []
    for shape in scene.space.shapes:
        if isinstance(shape, pymunk.Segment):
            a, b = shape.a, shape.b
            if abs(a.y - b.y) < 1e-9 and shape.body.body_type == pymunk.Body.STATIC:
                floors.append(float(a.y))
            elif abs(a.x - b.x) < 1e-9 and shape.body.body_type == pymunk.Body.STATIC:
                walls.append(float(a.x))
            continue
        bb = shape.bb
        boxes.append((shape, (bb.left, bb.bottom, bb.right, bb.top)))
    if scene.shot.setting == "water" or not floors:
        floors = [scene.ground_y]  # the water's surface is what a liquid lands on there
    return floors, walls, boxes


@register
class LiquidMotion(Phenomenon):
    """A glass of water spilling, a pour into a container or onto the ground, or a body of water flowing.

    A liquid the plan puts in a container stays in it, level, until the container tips or breaks
    ("held"); liquid kinds that are bodies of water (pool, puddle, wave: "plane" and "blob" shapes)
    are released as a column that collapses and sloshes; any other liquid is poured as a stream over
    the window.
    """

    name = "liquid motion"
    moves_bodies = False  # one-way coupling: bodies push the liquid, the liquid pushes no body
    CAPACITY = 700

    def __init__(self, scene: Scene):
        super().__init__(scene)
        self.rng = child_rng(scene)
        self.g = gravity(scene)
        ww, wh = world_size(scene)
        self.held: Held | None = None
        pairs = held_pairs(scene.subjects, scene.shot)
        pair = next(((liq, box) for liq, box in pairs if liq.drawn_by is None and box.body is not None),
                    None)
        # the glass's water is boiling or freezing under another phenomenon: that one draws it
        self.idle = bool(pairs) and pair is None
        liq = pair[0] if pair else free_subject(scene, lambda s: s.material.state == "liquid")
        if self.idle:
            return
        if liq is None:
            liq = add_prop(scene, "water", "glass", "water", drawn_by=self.name, min_fraction=0.15)
        liq.drawn_by = self.name  # the particles are the liquid from now on
        self.liquid = liq
        self.color = liq.material.color
        cx, _, w, h = subject_box(scene, liq)
        area = max(w * h, 1e-6)
        self.flow = pair is None and liq.kind.shape in ("plane", "blob")
        cups = [] if self.flow or pair else _containers(scene, liq)
        self.stream_w = 3
        if pair:  # a glass of water: the water is in the glass, a handful of particles across it
            self.held = Held.fill(*pair)
            inner = float(np.ptp(interior(pair[1])[:, 0]))
            self.spacing = max(inner / 8, ww / 500)
            area = self.held.volume
        elif cups:  # pour into the shot's glass: fill it to about 70 %, with particles that fit inside
            bx0, by0, bx1, by1 = cups[0]
            inner = 0.84 * (bx1 - bx0)
            area = min(area, 0.7 * inner * 0.9 * (by1 - by0))
            self.spacing = max(inner / 9, ww / 400)  # a handful of particles across the glass
            self.stream_w = 1 if inner < 8 * self.spacing else 2
        else:
            self.spacing = max(np.sqrt(area / self.CAPACITY), ww / 180)  # particle spacing, m
        n_total = int(np.clip(area / self.spacing**2, 30, self.CAPACITY))
        self.h = 3.0 * self.spacing  # interaction radius: about 25 neighbours in the bulk
        self.visc = 0.05 + 2.0 * liq.material.friction  # lava (friction 0.3) oozes, water splashes
        self.rho0, self.k, self.k_near = 4.5, 0.03, 0.1  # rest density and stiffnesses, per pair sum
        self.p = Particles(self.CAPACITY)
        self.walls: tuple[float, float] | None = None
        self.to_pour = 0
        floors, _, _ = _stage(scene)
        if self.held is not None:
            top = float(self.held.polygon()[:, 1].max())
        elif self.flow:
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
            top = scene.ground_y + col_h
        else:
            target_x = (cups[0][0] + cups[0][2]) / 2 if cups else cx - 0.1 * w
            top = max([c[3] for c in cups] + [floor_y(scene) + h])
            self.nozzle = (target_x, min(top + max(0.3 * wh, h), scene.world[3] - 0.15 * wh))
            place(liq, self.nozzle[0], self.nozzle[1] + h / 2)
            size = max(np.sqrt(area), 8 * self.spacing, 0.04 * ww)
            self.vessel = (0.7 * size, size)
            self.to_pour = n_total
            top = self.nozzle[1]
        self.v_max = np.sqrt(2 * max(self.g, 1.0) * max(top - min(floors), self.h)) * 1.1 + 0.5
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
        if self.idle:
            return
        if self.held is not None:  # every rigid sub-step: a glass breaks between two particle ticks
            pos, vel = self.held.spill(self.spacing, self.rng)
            if len(pos):
                self.p.spawn(pos, vel, np.inf)
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
        v[:, 1] -= self.g * dt
        prev = x.copy()
        pairs = cKDTree(x).query_pairs(self.h, output_type="ndarray")
        if len(pairs):
            i, j = pairs[:, 0], pairs[:, 1]
            r = x[j] - x[i]
            d, rhat = self._separation(r)
            q = d / self.h
            # viscosity: damp the approaching part of the relative velocity of each pair
            u = np.sum((v[i] - v[j]) * rhat, axis=1)
            imp = (dt * self.visc * 8 * (1 - q) * u)[:, None] * rhat
            _scatter(v, i, j, imp)
        x += v * dt
        if len(pairs):
            r = x[j] - x[i]
            d, rhat = self._separation(r)
            q = np.clip(d / self.h, 0, 1)
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
        # energy bound: nothing can move faster than a fall from the highest point of the liquid;
        # the relaxation's occasional over-push would otherwise fling spray far too high
        speed = np.hypot(v[:, 0], v[:, 1])
        fast = speed > self.v_max
        v[fast] *= (self.v_max / speed[fast])[:, None]
        self.p.pos[a], self.p.vel[a] = x, v
        if impact > 0 and self.t - self.last_splash > 0.3 * self.scene.time_scale:
            strength = float(np.clip(impact / (0.04 * self.CAPACITY), 0, 1))
            if strength > 0.15:
                self.scene.emit("splash", strength)
                self.last_splash = self.t

    def _separation(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pair distances and unit directions; coincident particles get a random direction, or
        pressure could never pull them apart again."""
        d = np.linalg.norm(r, axis=1)
        same = d < 1e-6 * self.h
        if same.any():
            ang = self.rng.random(int(same.sum())) * 2 * np.pi
            r = r.copy()
            r[same] = np.column_stack((np.cos(ang), np.sin(ang))) * 1e-6 * self.h
            d = np.linalg.norm(r, axis=1)
        return d, r / d[:, None]

    def _collide(self, x: np.ndarray, prev: np.ndarray, dt: float) -> float:
        """Keep particles above the floor and out of solid shapes; returns the impact energy (∑v²)."""
        r = 0.5 * self.spacing
        floors, walls, boxes = _stage(self.scene)
        vy = (x[:, 1] - prev[:, 1]) / dt
        # each particle lands on the highest floor it was above
        ground = np.full(len(x), min(floors))
        for f in floors:
            ground = np.where(prev[:, 1] >= f + r - 1e-9, np.maximum(ground, f), ground)
        floor = ground + r
        hit = x[:, 1] < floor
        impact = float(np.sum(np.minimum(vy[hit], 0) ** 2 * (vy[hit] < -1.0)))
        x[hit, 1] = floor[hit]
        for wx in walls:
            left = prev[:, 0] < wx
            x[:, 0] = np.where(left, np.minimum(x[:, 0], wx - r), np.maximum(x[:, 0], wx + r))
        if self.walls is not None:
            np.clip(x[:, 0], self.walls[0] + r, self.walls[1] - r, out=x[:, 0])
        mine = self._own_shapes()
        for bx0, by0, bx1, by1 in _containers(self.scene, self.liquid) if self.to_pour else []:
            impact += _contain(x, prev, vy, (bx0, by0, bx1, by1), r)
        for shape, box in boxes:
            if shape not in mine:
                on = (x[:, 1] < box[3] + r + 1e-9) & (prev[:, 1] >= box[3] + r - 1e-9)
                impact += _push_out(x, vy, box, r, prev)
                hit |= on & (x[:, 0] > box[0] - r) & (x[:, 0] < box[2] + r)
        # what lies on a surface slows (and a thin film edge stops, held by the contact line)
        slide = (x[hit, 0] - prev[hit, 0]) * (1 - GROUND_DRAG - self.liquid.material.friction)
        slide[np.abs(slide) < PIN_SPEED * dt] = 0.0
        x[hit, 0] = prev[hit, 0] + slide
        return impact

    def _own_shapes(self) -> set[pymunk.Shape]:
        """Shapes the particles pass: the glass they spill from while it is whole (its walls are the
        level-surface model's business), cups a pour fills (`_contain` owns them), and living things."""
        out: set[pymunk.Shape] = set()
        for s in self.scene.subjects:
            if s.kind.animate or (self.to_pour and s.kind.shape == "cup" and len(s.shapes) == 1):
                out.update(s.shapes)
        if self.held is not None and self.held.intact:
            out.update(self.held.container.shapes)
        return out

    def draw(self, canvas: Canvas) -> None:
        if self.idle:
            return
        self.clock.frame()
        if self.held is not None and self.held.intact:
            draw_held(canvas, self.held)
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
