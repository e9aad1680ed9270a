"""Explosion: a blast that throws bodies, a fireball and debris; or a firework rocket and its burst.

The blast is a radial impulse to the rigid bodies around it, weaker with distance and on denser bodies;
the fireball is hot gas coloured by its blackbody temperature, cooling into smoke; debris flies
ballistically and bounces. A firework climbs to its apex and bursts into stars coloured by the
emission lines of their metal salts. The shock front travels at the speed of sound.
"""

from __future__ import annotations

import numpy as np

from filmcrew.tools.video.previz.fire import flame_rgb
from filmcrew.tools.video.previz.particles import Particles, splat
from filmcrew.tools.video.previz.props import (
    SimClock,
    add_prop,
    child_rng,
    floor_y,
    free_subject,
    gravity,
    lerp_color,
    phase_window,
    subject_box,
    world_size,
)
from filmcrew.tools.video.previz.rays import wavelength_rgb
from filmcrew.tools.video.previz.scene import Canvas, Phenomenon, Scene, register

G = 9.81
# Firework stars: emission lines of the metal salts (strontium red, sodium yellow, barium green,
# copper blue), in nanometres.
STAR_LINES_NM = (650.0, 589.0, 520.0, 455.0)


@register
class Explosion(Phenomenon):
    """A charge detonates: bodies around it are thrown outwards; or a firework rocket bursts in the sky."""

    name = "explosion"

    def __init__(self, scene: Scene):
        super().__init__(scene)
        self.rng = child_rng(scene)
        prompt = scene.shot.local_prompt.lower()
        src = free_subject(scene, lambda s: s.material.name == "gunpowder")
        self.firework = "firework" in prompt or scene.shot.setting == "sky" or (
            src is not None and src.kind.name == "firework")
        if src is None:
            kind = "firework" if self.firework else "barrel"
            src = add_prop(scene, kind, kind, "gunpowder", drawn_by=self.name,
                           min_fraction=0.05 if self.firework else 0.1)
        self.src = src
        # gunpowder's own colour is near-black; a charge reads as a red-painted barrel or rocket
        self.shell_color = (150, 40, 35) if src.material.name == "gunpowder" else src.color
        src.drawn_by = self.name  # we draw it until it blows
        cx, cy, w, h = subject_box(scene, src)
        self.centre = np.array([cx, cy])
        self.size = max(w, h)
        self.strength = float(np.clip(0.45 + scene.temperature_c[1] / 3000, 0.3, 1.0))
        t0, _ = phase_window(scene)
        d = scene.duration_world_s
        self.t_boom = t0 if 0 < t0 < 0.8 * d else 0.25 * d
        ww = world_size(scene)[0]
        self.t = scene.t
        self.done = False
        self.p = Particles(1400, extras=("temp", "hue"))
        self.debris = Particles(60, extras=("angle", "spin"))
        self.g = gravity(scene)
        if self.firework:
            top = scene.world[3]
            g = floor_y(scene)
            self.apex = g + 0.75 * (top - g)
            self.v0 = np.sqrt(2 * G * max(self.apex - cy, 0.1))
            self.t_launch = self.t_boom - self.v0 / G
            self.radius = 0.22 * min(ww, top - g) * (0.6 + 0.6 * self.strength)
        else:
            self.radius = float(np.clip(1.5 * self.size, 0.1 * ww, 0.3 * ww))
        self.prev = np.zeros((1400, 2))
        self.clock = SimClock.for_scene(scene, 1 / 60)

    def _rocket(self) -> np.ndarray:
        tau = self.t - self.t_launch
        return np.array([self.centre[0], self.centre[1] + self.v0 * tau - 0.5 * G * tau**2])

    def step(self, dt: float) -> None:
        self.t += dt
        if not self.done and self.t >= self.t_boom:
            self._detonate()
        for _ in range(self.clock.ticks(dt)):
            self._substep(self.clock.h)

    def _detonate(self) -> None:
        self.done = True
        self.src.visible = False
        self.scene.emit("explosion", self.strength)
        c = self._rocket() if self.firework else self.centre + np.array([0.0, 0.3 * self.size])
        self.burst_at = c
        n = 700 if self.firework else 500
        ang = self.rng.random(n) * 2 * np.pi
        if self.firework:
            # stars fly out on a sphere; seen from the side that is a disc, densest at its rim
            cos_polar = 2 * self.rng.random(n) - 1
            speed = self.radius * 2.0 * (0.9 + 0.2 * self.rng.random(n)) * np.sqrt(1 - cos_polar**2)
            line = self.rng.choice(STAR_LINES_NM, 2)
            hue = np.where(self.rng.random(n) < 0.7, line[0], line[1])
            temp = np.full(n, 2500.0)
        else:
            # drag 6/s stops the gas at speed/6: the fireball swells to about its blast radius
            speed = self.radius * 5.0 * np.sqrt(self.rng.random(n)) * (0.5 + 0.5 * self.strength)
            hue = np.zeros(n)
            temp = 2300 + 500 * self.rng.random(n)
        vel = np.column_stack((np.cos(ang), np.sin(ang))) * speed[:, None]
        self.p.spawn(np.tile(c, (n, 1)), vel, 1.2 + 1.3 * self.rng.random(n), temp=temp, hue=hue)
        self.prev[:] = self.p.pos
        if not self.firework:
            k = self.debris.capacity
            ang = self.rng.random(k) * np.pi  # thrown upwards and sideways, not into the ground
            sp = np.sqrt(3 * G * self.radius) * (0.5 + 0.5 * self.strength) * (0.4 + 0.8 * self.rng.random(k))
            self.debris.spawn(np.tile(c, (k, 1)), np.column_stack((np.cos(ang), np.sin(ang))) * sp[:, None],
                              np.inf, angle=self.rng.random(k) * 6.3, spin=self.rng.normal(0, 15, k))
        self._push_bodies(c)

    def _push_bodies(self, c: np.ndarray) -> None:
        """Blast impulse: Δv falls off as 1/(1 + (r/R)²) and scales as 1/√density of the body's material."""
        import pymunk

        owners = {id(s.body): s for s in self.scene.subjects if s.body is not None}
        v0 = 3.0 * np.sqrt(G * self.radius) * self.strength
        for body in self.scene.space.bodies:
            if body.body_type != pymunk.Body.DYNAMIC:
                continue
            d = np.array([body.position.x, body.position.y]) - c
            r = float(np.hypot(*d))
            if r > 4 * self.radius:
                continue
            u = d / r if r > 1e-6 else np.array([0.0, 1.0])
            u = u + np.array([0.0, 0.3])  # the ground reflects the blast upwards
            u = u / np.linalg.norm(u)
            owner = owners.get(id(body))
            rho = owner.material.density if owner is not None else 1.0
            dv = v0 / (1 + (r / self.radius) ** 2) / np.sqrt(max(rho, 0.05))
            j = body.mass * dv * u
            off = self.rng.normal(0, 0.1) * np.array([-u[1], u[0]])  # off-centre: bodies tumble
            body.apply_impulse_at_world_point((float(j[0]), float(j[1])),
                                              (body.position.x + off[0], body.position.y + off[1]))

    def _substep(self, h: float) -> None:
        p = self.p
        a = p.alive
        self.prev[a] = p.pos[a]
        if a.any():
            drag = 2.0 if self.firework else 6.0
            vel = p.vel[a]
            temp = p.extra["temp"][a]
            lift = 0.0 if self.firework else self.g * np.clip((temp - 300) / temp, 0, 1) * 0.6
            vel[:, 1] += h * (lift - self.g * (0.3 if self.firework else 0.05))
            vel -= h * drag * vel
            p.vel[a] = vel
            p.pos[a] += vel * h
            p.extra["temp"][a] = temp - h * (temp - 300) * (0.6 if self.firework else 1.4)
            p.pos[a, 1] = np.maximum(p.pos[a, 1], self.scene.ground_y)
            p.age_by(h)
        d = self.debris
        b = d.alive
        if b.any():
            d.vel[b, 1] -= self.g * h
            d.pos[b] += d.vel[b] * h
            d.extra["angle"][b] += d.extra["spin"][b] * h
            low = b & (d.pos[:, 1] < self.scene.ground_y)
            d.pos[low, 1] = self.scene.ground_y
            d.vel[low] *= [0.6, -0.3]  # restitution 0.3 and ground friction
            d.extra["spin"][low] *= 0.5

    def draw(self, canvas: Canvas) -> None:
        self.clock.frame()
        if not self.done:
            self._draw_before(canvas)
        self._draw_debris(canvas)
        p = self.p
        a = p.alive
        if a.any():
            if self.firework:
                self._draw_stars(canvas, a)
            else:
                self._draw_fireball(canvas, a)
        if self.done:
            since = self.t - self.t_boom
            flash = np.exp(-since / 0.06) * self.strength
            if flash > 0.02:
                splat(canvas, self.burst_at[None], 1.0, (255, 240, 200), canvas.width * 0.25, mode="add",
                      gain=0.8 * flash)
            ring = 343.0 * since  # the shock front at the speed of sound: visible in slow motion
            x, y = canvas.to_px(*self.burst_at)
            rp = canvas.length_px(ring)
            if rp < canvas.width and since < 0.5:
                canvas.draw.ellipse([x - rp, y - rp, x + rp, y + rp], outline=(255, 255, 255, 90), width=2)

    def _draw_before(self, canvas: Canvas) -> None:
        cx, cy, w, h = subject_box(self.scene, self.src)
        if self.firework and self.t >= self.t_launch:
            x, y = canvas.to_px(*self._rocket())
            canvas.draw.line([(x, y), (x, y + canvas.length_px(0.08 * self.radius + 0.02))],
                             fill=(255, 200, 120), width=2)
            splat(canvas, self._rocket()[None], 1.0, (255, 190, 90), 3.0, mode="add", gain=2.0)
            return
        x0, y0 = canvas.to_px(cx - w / 2, cy + h / 2)
        x1, y1 = canvas.to_px(cx + w / 2, cy - h / 2)
        canvas.draw.rectangle([x0, y0, x1, y1], fill=self.shell_color, outline=(30, 20, 20))
        canvas.draw.line([((x0 + x1) / 2, y0), ((x0 + x1) / 2, y0 - 6)], fill=(230, 220, 200), width=1)

    def _draw_stars(self, canvas: Canvas, a: np.ndarray) -> None:
        p = self.p
        idx = np.flatnonzero(a)
        fade = np.clip(1 - p.age[idx] / p.life[idx], 0, 1)
        twinkle = np.where(fade < 0.35, self.rng.random(len(idx)) < 0.6, 1.0)
        col = wavelength_rgb(p.extra["hue"][idx]) * 255
        col = col * 0.75 + 64  # hot stars are whiter than their line colour
        splat(canvas, p.pos[idx], 0.5 * fade * twinkle, col, 2.0, mode="add", gain=1.2)
        for i, f, cc in zip(idx[::3], fade[::3], col[::3], strict=True):
            c = tuple(int(v * f) for v in cc)
            canvas.draw.line([canvas.to_px(*self.prev[i]), canvas.to_px(*p.pos[i])], fill=(*c, 160), width=1)

    def _draw_fireball(self, canvas: Canvas, a: np.ndarray) -> None:
        p = self.p
        temp = p.extra["temp"][a]
        hot = temp > 1000
        sig_hot = canvas.length_px(0.15 * self.radius) + 2
        if (~hot).any():  # cooled fireball gas: the rising smoke cloud
            age = p.age[a][~hot] / p.life[a][~hot]
            splat(canvas, p.pos[a][~hot], 0.02 * (1 - age), (55, 50, 48), sig_hot * (1 + 2 * age), mode="alpha")
        if hot.any():
            heat = np.clip((temp[hot] - 1000) / 1800, 0, 1)
            splat(canvas, p.pos[a][hot], 0.05 * heat, flame_rgb(temp[hot]), sig_hot, mode="add")

    def _draw_debris(self, canvas: Canvas) -> None:
        d = self.debris
        color = lerp_color(self.shell_color, (20, 20, 20), 0.3)
        s = max(canvas.length_px(0.05 * self.size), 1.5)
        for i in np.flatnonzero(d.alive):
            x, y = canvas.to_px(*d.pos[i])
            ang = d.extra["angle"][i] + np.array([0, 2.2, 3.6, 5.0])
            pts = [(x + s * np.cos(q), y + s * 0.7 * np.sin(q)) for q in ang]
            canvas.draw.polygon(pts, fill=color)
