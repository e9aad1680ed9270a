"""Optics: reflection, refraction and scattering as a few traced rays over the frame.

The geometry is in `rays.py` (law of reflection, Snell's law with Cauchy dispersion, Rayleigh colours)
and re-run every frame while the light source sweeps slowly, so what bends is computed, not drawn by
hand. Interference and artificial light sources live in `light.py` and are registered from here, so
importing this module brings all five optical phenomena.
"""

from __future__ import annotations

import itertools

import numpy as np

from filmcrew.tools.video.previz import light  # noqa: F401  (registers interference and light sources)
from filmcrew.tools.video.previz.particles import composite, splat
from filmcrew.tools.video.previz.props import (
    SimClock,
    add_prop,
    child_rng,
    floor_y,
    free_subject,
    subject_box,
    world_size,
)
from filmcrew.tools.video.previz.rays import (
    CAUCHY_B_UM2,
    cauchy_index,
    circle_polygon,
    prism_polygon,
    rayleigh_colors,
    reflect,
    trace_convex,
    wavelength_rgb,
)
from filmcrew.tools.video.previz.scene import Canvas, Phenomenon, Scene, register

SPECTRUM_NM = np.linspace(410.0, 680.0, 8)
SODIUM_MID = 589.3  # nm: the wavelength a material's refractive index is quoted at
SPECTRUM_RGB = {float(lam): tuple(int(255 * c) for c in wavelength_rgb(lam)) for lam in SPECTRUM_NM}
BEAM = (255, 244, 214)  # warm white light


def _unit(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([np.cos(a), np.sin(a)])


def _line(canvas: Canvas, a: np.ndarray, b: np.ndarray, color: tuple[int, ...], width: int = 2) -> None:
    canvas.draw.line([canvas.to_px(*a), canvas.to_px(*b)], fill=color, width=width)


def _exit_length(scene: Scene, p: np.ndarray, d: np.ndarray) -> float:
    """Distance from p along d to the edge of the framed area or the ground, whichever comes first."""
    x0, _, x1, y1 = scene.world
    ts = []
    if d[0] > 1e-9:
        ts.append((x1 - p[0]) / d[0])
    if d[0] < -1e-9:
        ts.append((x0 - p[0]) / d[0])
    if d[1] > 1e-9:
        ts.append((y1 - p[1]) / d[1])
    if d[1] < -1e-9:
        ts.append((scene.ground_y - p[1]) / d[1])
    pos = [t for t in ts if t > 1e-6]
    return min(pos) if pos else 0.0


@register
class Reflection(Phenomenon):
    """Light reflecting off water or a mirror: rays obey the law of reflection, the scene is mirrored."""

    name = "reflection"

    def __init__(self, scene: Scene):
        super().__init__(scene)
        ww, wh = world_size(scene)
        x0, _, x1, y1 = scene.world
        mirror = free_subject(scene, lambda s: s.kind.name == "mirror")
        water = free_subject(scene, lambda s: s.material.name == "water" and s.kind.shape in ("plane", "blob"))
        self.vertical = False
        self.own = False
        if mirror is None and water is None and scene.shot.setting in ("indoor", "table"):
            mirror = add_prop(scene, "mirror", "mirror", "glass", drawn_by=self.name, min_fraction=0.3)
            self.own = True
        if mirror is not None:
            mirror.drawn_by = self.name  # the pane shows the mirrored scene, so we draw it
            self.vertical, self.mirror = True, mirror
            cx, _, w, _ = subject_box(scene, mirror)
            # it faces the nearest subject that stands beside it (else the left of the frame)
            xs = [subject_box(scene, s)[0] for s in scene.subjects
                  if s is not mirror and s.visible and s.body is not None]
            near = min(xs, key=lambda x: abs(x - cx)) if xs else cx - 1.0
            self.facing = 1.0 if near > cx else -1.0
        elif water is not None or scene.shot.setting == "water":
            if water is not None:
                cx, cy, w, h = subject_box(scene, water)
                top = cy + h / 2 if water.body is not None else scene.ground_y
                self.surface = (cx - w / 2, top, cx + w / 2, top)
            else:
                self.surface = (x0, scene.ground_y, x1, scene.ground_y)
        else:
            p = add_prop(scene, "puddle", "puddle", "water", drawn_by=self.name, min_fraction=0.45)
            cx, _, w, _ = subject_box(scene, p)
            g = floor_y(scene)
            self.surface = (cx - w / 2, g, cx + w / 2, g)
            self.own = True
            self.puddle = p
        side = getattr(self, "facing", -1.0)
        self.source0 = np.array([(x0 + x1) / 2 + side * 0.38 * ww, y1 - 0.12 * wh])
        self.t = scene.t
        self.rays: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.normal = np.array([side, 0.0]) if self.vertical else np.array([0.0, 1.0])
        # other light makers in the shot (fireworks, fire, lamps) are the light: no extra sun rays
        others = set(scene.annotation.phenomena) if scene.annotation else set()
        self.show_rays = not others & {"explosion", "combustion", "unnatural light source"}

    def pane(self) -> tuple[float, float, float, float]:
        """The mirror's glass, x0, y0, x1, y1 in metres, where it stands now."""
        cx, cy, w, h = subject_box(self.scene, self.mirror)
        return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)

    def step(self, dt: float) -> None:
        self.t += dt

    def trace(self) -> None:
        """Trace the rays for the current time (once per drawn frame, not per physics sub-step)."""
        if self.vertical:  # the face of the pane towards the action
            px0, py0, px1, py1 = self.pane()
            fx = px1 if self.facing > 0 else px0
            self.surface = (fx, py0, fx, py1)
        sx0, sy0, sx1, sy1 = self.surface
        # the light sways slowly: the reflected rays must follow it at equal angles
        src = self.source0 + np.array([0.04, 0.03]) * world_size(self.scene)[0] * np.sin(0.6 * self.t)
        self.rays = []
        for u in (0.25, 0.45, 0.65, 0.85):
            hit = np.array([sx0 + u * (sx1 - sx0), sy0 + u * (sy1 - sy0)])
            d = (hit - src) / np.linalg.norm(hit - src)
            self.rays.append((src, hit, reflect(d, self.normal)))

    def draw(self, canvas: Canvas) -> None:
        self.trace()
        if self.vertical:
            self._mirror_image(canvas)
        else:
            if self.own and not self.vertical:  # our puddle: a thin sheet of water on the ground
                sx0, sy, sx1, _ = self.surface
                a, b = canvas.to_px(sx0, sy), canvas.to_px(sx1, sy)
                canvas.draw.ellipse([a[0], a[1] - 2, b[0], b[1] + 6], fill=(*self.puddle.color, 120))
            self._water_image(canvas)
        if not self.show_rays:
            return
        src = self.rays[0][0]
        for a, hit, out in self.rays:
            _line(canvas, a, hit, (*BEAM, 170), 2)
            _line(canvas, hit, hit + out * _exit_length(self.scene, hit, out), (*BEAM, 120), 2)
            n_len = 0.05 * world_size(self.scene)[0]
            _line(canvas, hit, hit + self.normal * n_len, (255, 255, 255, 110), 1)
        splat(canvas, src[None], 1.0, (255, 240, 190), 6.0, mode="add", gain=1.5)

    def _water_image(self, canvas: Canvas) -> None:
        """Everything above the surface, flipped below it, darkened and rippled."""
        import cv2
        from PIL import Image

        sx0, sy, sx1, _ = self.surface
        xa, ys = canvas.to_px(sx0, sy)
        xb, _ = canvas.to_px(sx1, sy)
        xa, xb, ys = max(int(xa), 0), min(int(xb), canvas.width), round(ys)
        depth = min(ys, canvas.height - ys)
        if xb - xa < 2 or depth < 2:
            return
        frame = np.asarray(canvas.image)
        above = frame[ys - depth:ys, xa:xb][::-1]
        rows = np.arange(depth, dtype=np.float32)
        off = 2.0 * np.sin(rows * 0.7 + self.t * 6.0) * (0.3 + rows / depth)  # ripples widen with depth
        mx = np.arange(xb - xa, dtype=np.float32)[None, :] + off[:, None]
        my = np.repeat(rows[:, None], xb - xa, axis=1)
        img = cv2.remap(np.ascontiguousarray(above), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        below = frame[ys:ys + depth, xa:xb]
        tint = np.empty_like(img)
        tint[:] = (40, 70, 110)
        fade = np.clip(1.0 - rows / depth, 0, 1)[:, None] * 0.65  # Fresnel-ish: fainter further down
        img = cv2.addWeighted(img, 0.75, tint, 0.25, 0)
        a = np.repeat(fade, xb - xa, axis=1).astype(np.float32)
        out = cv2.blendLinear(np.ascontiguousarray(below), img, 1 - a, a)
        canvas.image.paste(Image.fromarray(out), (xa, ys))
        canvas.draw.line([(xa, ys), (xb, ys)], fill=(220, 235, 255, 160), width=1)

    def _mirror_image(self, canvas: Canvas) -> None:
        """The pane shows what stands beside it on its facing side, flipped left to right."""
        from PIL import Image

        px0, py0, px1, py1 = self.pane()
        xa, ya = (int(v) for v in canvas.to_px(px0, py1))
        xb, yb = (int(v) for v in canvas.to_px(px1, py0))
        xa, ya, xb, yb = max(xa, 0), max(ya, 0), min(xb, canvas.width), min(yb, canvas.height)
        w = xb - xa
        if w < 2 or yb - ya < 2:
            return
        frame = np.asarray(canvas.image)
        if self.facing > 0:
            src = frame[ya:yb, xb:min(xb + w, canvas.width)]
        else:
            src = frame[ya:yb, max(xa - w, 0):xa]
        img = np.empty((yb - ya, w, 3), dtype=np.float32)
        img[:] = (170, 190, 205)  # bare silvering where the frame ends
        flipped = src[:, ::-1].astype(np.float32)
        if self.facing > 0:
            img[:, : flipped.shape[1]] = flipped  # the nearest scenery appears nearest the edge
        else:
            img[:, w - flipped.shape[1]:] = flipped
        img = img * 0.82 + np.array([170, 190, 205], dtype=np.float32) * 0.18  # silvered glass tint
        canvas.image.paste(Image.fromarray(img.astype(np.uint8)), (xa, ya))
        canvas.draw.rectangle([xa - 2, ya - 2, xb + 2, yb + 2], outline=(120, 100, 80), width=3)


@register
class Refraction(Phenomenon):
    """Rays bend through a transparent body by Snell's law; a prism fans white light into a spectrum."""

    name = "refraction"

    def __init__(self, scene: Scene):
        super().__init__(scene)
        body = free_subject(scene, lambda s: s.kind.name in ("prism", "lens")
                            and s.material.refractive_index is not None)
        body = body or free_subject(scene, lambda s: s.material.refractive_index is not None
                                    and s.material.state != "gas" and s.kind.shape not in ("plane",))
        self.own = body is None
        if body is None:  # a prism held up at mid-height, so its spectrum has room to spread
            y1 = scene.world[3]
            body = add_prop(scene, "prism", "prism", "glass", drawn_by=self.name, min_fraction=0.22,
                            y=floor_y(scene) + 0.45 * (y1 - floor_y(scene)))
        self.body = body
        m = body.material
        self.n_d = float(m.refractive_index or 1.5)
        self.prism = body.kind.name == "prism"
        # dispersing prisms are flint glass: same index, about 2.5x the dispersion of window glass
        self.b = CAUCHY_B_UM2["flint"] if self.prism and m.name == "glass" else CAUCHY_B_UM2.get(m.name, 0.0042)
        self.lens = body.kind.shape == "circle"
        self.t = scene.t
        self.paths: list[tuple[float, list[np.ndarray], np.ndarray]] = []

    def polygon(self) -> np.ndarray:
        """The body's outline in world metres, as it stands now."""
        cx, cy, w, h = subject_box(self.scene, self.body)
        if self.prism:
            return prism_polygon((cx, cy), w)
        if self.lens:
            return circle_polygon((cx, cy), min(w, h) / 2)
        return np.array([[cx - w / 2, cy - h / 2], [cx + w / 2, cy - h / 2], [cx + w / 2, cy + h / 2],
                         [cx - w / 2, cy + h / 2]])

    def step(self, dt: float) -> None:
        self.t += dt

    def trace(self) -> None:
        """Trace every ray through the body for the current time (once per drawn frame)."""
        poly = self.polygon()
        centre = poly.mean(axis=0)
        x0 = self.scene.world[0]
        sway = 4.0 * np.sin(0.8 * self.t)  # degrees: the beam swings, the exit rays follow Snell
        self.paths = []
        if self.prism:
            # aim at the left face's midpoint near minimum deviation (internal ray parallel to the base)
            face = (poly[0] + poly[2]) / 2
            n = float(cauchy_index(SODIUM_MID, self.n_d, self.b))
            i_min = np.degrees(np.arcsin(n * np.sin(np.radians(30.0))))
            d = _unit(-30.0 + i_min + sway)
            origin = face - d * max(face[0] - x0, 0.05) / max(d[0], 0.2)
            for lam in SPECTRUM_NM:
                path, out = trace_convex(origin, d, poly, float(cauchy_index(lam, self.n_d, self.b)))
                self.paths.append((float(lam), path, out))
        else:
            span = (poly[:, 1].max() - poly[:, 1].min()) * (0.5 if self.lens else 0.35)
            for k in (-1.0, 0.0, 1.0) if self.lens else (-1.0, 1.0):
                d = _unit(-12.0 + sway) if not self.lens else _unit(sway * 0.3)
                target = centre + np.array([0.0, k * span])
                origin = target - d * (target[0] - x0) / max(d[0], 0.2)
                path, out = trace_convex(origin, d, poly, self.n_d)
                self.paths.append((SODIUM_MID, path, out))

    def draw(self, canvas: Canvas) -> None:
        self.trace()
        poly = self.polygon()
        if self.own:
            canvas.draw.polygon([canvas.to_px(*p) for p in poly], fill=(*self.body.color, 90),
                                outline=(225, 240, 250, 220))
        first = self.paths[0][1]
        if len(first) > 1:
            _line(canvas, first[0], first[1], (*BEAM, 230), 3)  # the white beam in
        landing, colors = [], []
        for lam, path, out in self.paths:
            rgb = SPECTRUM_RGB[lam] if self.prism else BEAM
            for a, b in itertools.pairwise(path[1:]):
                _line(canvas, a, b, (*rgb, 170), 1 if self.prism else 2)
            if not self.prism and len(path) > 1:
                _line(canvas, path[0], path[1], (*BEAM, 200), 2)
            end = path[-1]
            length = _exit_length(self.scene, end, out)
            _line(canvas, end, end + out * length, (*rgb, 210), 2)
            if self.prism and length > 0:  # where each colour lands: the spectrum on the floor or wall
                landing.append(end + out * length)
                colors.append(rgb)
        if landing:
            splat(canvas, np.array(landing), 1.0, np.array(colors, dtype=float), 4.0, mode="add")



@register
class Scattering(Phenomenon):
    """A beam made visible by the particles it crosses: bluish side-scatter, a reddened spot where it lands."""

    name = "scattering"
    MOTES = 400

    def __init__(self, scene: Scene):
        super().__init__(scene)
        self.rng = child_rng(scene)
        ww, wh = world_size(scene)
        x0, _, _, y1 = scene.world
        lamp = free_subject(scene, lambda s: s.material.emissive and s.material.state == "gas"
                            and s.kind.name == "lamp")
        if lamp is not None:
            cx, cy, _, h = subject_box(scene, lamp)
            self.origin = np.array([cx, cy + 0.3 * h])
            target = np.array([cx + 0.3 * ww, floor_y(scene)])
        else:  # a shaft of light through a high window
            self.origin = np.array([x0 + 0.08 * ww, y1 - 0.02 * wh])
            target = np.array([x0 + 0.62 * ww, floor_y(scene)])
        self.dir = (target - self.origin) / np.linalg.norm(target - self.origin)
        self.length = float(np.linalg.norm(target - self.origin))
        self.half_angle = np.radians(7.0)
        haze = free_subject(scene, lambda s: s.material.state == "gas" and not s.material.emissive)
        # optical depth over the beam: haze or smoke scatters more than clear air
        self.tau = (1.6 if haze is not None else 0.9) / self.length
        s = np.linspace(0, self.length, 64)
        self.s_samples = s
        self.transmitted, self.scattered = rayleigh_colors(s, self.tau)
        self.motes = np.column_stack((x0 + self.rng.random(self.MOTES) * ww,
                                      floor_y(scene) + self.rng.random(self.MOTES) * (y1 - floor_y(scene))))
        self.t = scene.t
        self.clock = SimClock.for_scene(scene, 1 / 24)

    def step(self, dt: float) -> None:
        self.t += dt
        ww = world_size(self.scene)[0]
        for _ in range(self.clock.ticks(dt)):
            # dust: Brownian drift in slow air currents plus a little settling
            self.motes += self.rng.normal(0, 0.002 * ww, self.motes.shape)
            self.motes[:, 1] -= 0.002 * ww * self.clock.h
            self.motes[:, 0] += 0.01 * ww * np.sin(self.t * 0.3 + self.motes[:, 1] * 3) * self.clock.h
        x0, _, x1, y1 = self.scene.world
        low = self.motes[:, 1] < floor_y(self.scene)
        self.motes[low, 1] = y1
        self.motes[:, 0] = x0 + np.mod(self.motes[:, 0] - x0, x1 - x0)

    def beam_field(self, canvas: Canvas, cell: int = 4) -> tuple[tuple[int, int, int, int], np.ndarray]:
        """Side-scattered beam radiance on a coarse grid over the frame: (box, (gh, gw, 4) field)."""
        w, h = canvas.width, canvas.height
        gw, gh = -(-w // cell), -(-h // cell)
        xs = (np.arange(gw) + 0.5) * cell
        ys = (np.arange(gh) + 0.5) * cell
        x0v, _, _, y1v = canvas.view
        wx = x0v + xs / canvas.px_per_m
        wy = y1v - ys / canvas.px_per_m
        dx = wx[None, :] - self.origin[0]
        dy = wy[:, None] - self.origin[1]
        s = dx * self.dir[0] + dy * self.dir[1]
        d = np.abs(dx * self.dir[1] - dy * self.dir[0])
        width = 0.02 * self.length + s * np.tan(self.half_angle)
        inside = (s > 0) & (s < self.length)
        prof = np.exp(-2 * (d / np.maximum(width, 1e-6)) ** 2) * inside
        i = np.clip((s / self.length * 63).astype(int), 0, 63)
        col = self.scattered[i] * 255
        field = np.empty((gh, gw, 4), dtype=np.float32)
        field[..., :3] = col * prof[..., None]
        field[..., 3] = prof
        return (0, 0, w, h), field

    def draw(self, canvas: Canvas) -> None:
        self.clock.frame()
        box, field = self.beam_field(canvas)
        composite(canvas, box, field, "add", 0.22, cell=4)
        # motes inside the beam glint, the rest are barely there
        rel = self.motes - self.origin
        s = rel @ self.dir
        d = np.abs(rel[:, 0] * self.dir[1] - rel[:, 1] * self.dir[0])
        lit = (s > 0) & (s < self.length) & (d < 0.02 * self.length + s * np.tan(self.half_angle))
        sparkle = 0.5 + 0.5 * np.sin(self.t * 9 + np.arange(self.MOTES) * 1.7)
        i = np.clip((s / self.length * 63).astype(int), 0, 63)
        for k in np.flatnonzero(lit):  # only motes in the beam are seen: each a tiny glint
            x, y = canvas.to_px(*self.motes[k])
            c = tuple(int(v) for v in 255 * np.minimum(self.scattered[i[k]] * 0.5 + 0.5, 1.0))
            canvas.draw.ellipse([x - 1.2, y - 1.2, x + 1.2, y + 1.2], fill=(*c, int(80 + 170 * sparkle[k])))
        land = self.origin + self.dir * self.length
        spot = tuple(int(255 * c) for c in self.transmitted[-1])
        splat(canvas, land[None], 1.0, spot, canvas.length_px(0.04 * self.length) + 2, mode="add", gain=0.8)
