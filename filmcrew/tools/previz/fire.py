"""Fire: combustion (a flame of buoyant, cooling, incandescent particles) and explosion.

Flame and fireball colours are blackbody colours of each particle's temperature, which falls as the
gas rises and mixes, so flames are white-yellow at the root and red at the tips by construction. An
explosion is a radial impulse to the rigid bodies around it (weaker with distance, and on denser
bodies), a fireball, debris and a flash; a firework is a rocket and a burst of coloured stars.
"""

from __future__ import annotations

import numpy as np

from filmcrew.tools.previz.fluids import Plume
from filmcrew.tools.previz.particles import Particles, splat
from filmcrew.tools.previz.props import (
    SimClock,
    add_prop,
    child_rng,
    crossing_time,
    floor_y,
    free_subject,
    lerp_color,
    phase_window,
    subject_box,
    world_size,
)
from filmcrew.tools.previz.rays import blackbody_rgb, wavelength_rgb
from filmcrew.tools.previz.scene import Canvas, Phenomenon, Scene, register

G = 9.81
K0 = 273.15
# Typical flame temperatures (°C) by fuel; a hotter annotated maximum overrides them.
FLAME_C = {"wood": 1100.0, "paper": 900.0, "wax": 1400.0, "oil": 1000.0, "gunpowder": 2000.0,
           "plastic": 1000.0, "fabric": 900.0, "rubber": 1000.0}
# Firework stars: emission lines of the metal salts (strontium red, sodium yellow, barium green,
# copper blue), in nanometres.
STAR_LINES_NM = (650.0, 589.0, 520.0, 455.0)
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
            v = np.column_stack((self.rng.normal(0, 0.05 * self.rise, n), (0.2 + 0.4 * self.rng.random(n)) * self.rise))
            temp = self.flame_k * (0.92 + 0.12 * self.rng.random(n))
            mix = 1.0 + 1.4 * self.rng.random(n)
            p.spawn(np.column_stack((x, np.full(n, self.base[1]))), v, 1.5, temp=temp, mix=mix)
        a = p.alive
        if not a.any():
            self.smoke.step(h)
            return
        pos, vel, temp = p.pos[a], p.vel[a], p.extra["temp"][a]
        lift = G * (temp - K0 - 20) / temp  # buoyancy of hot gas: g Δρ/ρ = g ΔT/T
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
            keep = np.flatnonzero(cold)[self.rng.random(int(cold.sum())) < 0.25]
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
        splat(canvas, np.array([self.base]), 1.0, (255, 140, 50), canvas.length_px(0.8 * self.height) + 4,
              mode="add", gain=0.12 * self.intensity)  # the fire's light on its surroundings
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
            speed = self.radius * 2.0 * (0.85 + 0.3 * self.rng.random(n))
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
            lift = 0.0 if self.firework else G * np.clip((temp - 300) / temp, 0, 1) * 0.6
            vel[:, 1] += h * (lift - G * (0.3 if self.firework else 0.05))
            vel -= h * drag * vel
            p.vel[a] = vel
            p.pos[a] += vel * h
            p.extra["temp"][a] = temp - h * (temp - 300) * (0.6 if self.firework else 1.4)
            p.pos[a, 1] = np.maximum(p.pos[a, 1], self.scene.ground_y)
            p.age_by(h)
        d = self.debris
        b = d.alive
        if b.any():
            d.vel[b, 1] -= G * h
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
            splat(canvas, p.pos[a][~hot], 0.12 * (1 - age), (55, 50, 48), sig_hot * (1 + 2 * age), mode="alpha")
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
