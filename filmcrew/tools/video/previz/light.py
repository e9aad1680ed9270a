"""Light: thin-film interference (soap bubble, oil film), slit diffraction, and artificial light sources.

Film colours come from `rays.thin_film_rgb` (two-interface Airy reflectance integrated over the visible
spectrum) for a film that drains under gravity and thins with time, so bands move as they would.
Light sources relight the frame: an inverse-square falloff multiplies the scene, a halo glows around
each source, and the source flickers by a random telegraph process.
"""

from __future__ import annotations

import numpy as np

from filmcrew.tools.video.previz.particles import splat
from filmcrew.tools.video.previz.props import (
    add_prop,
    child_rng,
    floor_y,
    free_subject,
    phase_window,
    place,
    subject_box,
    world_size,
)
from filmcrew.tools.video.previz.rays import thin_film_rgb, wavelength_rgb
from filmcrew.tools.video.previz.scene import Canvas, Phenomenon, Scene, SubjectBody, register

FILM_LUT_NM = np.linspace(0.0, 1600.0, 512)
_SOAP_LUT = thin_film_rgb(FILM_LUT_NM, n_film=1.33) * 255
_OIL_LUT = thin_film_rgb(FILM_LUT_NM, n_film=1.47, n_substrate=1.33, gain=12.0) * 255
# Neon and LED hues of artificial lights, sRGB.
LIGHT_HUES = ((255, 80, 200), (80, 220, 255), (255, 230, 170), (120, 255, 140))


def _film_color(thickness_nm: np.ndarray, lut: np.ndarray) -> np.ndarray:
    i = np.clip(thickness_nm / FILM_LUT_NM[-1] * (len(FILM_LUT_NM) - 1), 0, len(FILM_LUT_NM) - 1)
    return lut[i.astype(np.int64)]


@register
class Interference(Phenomenon):
    """Colour bands of a draining soap film (or an oil slick); light through a slit when one is named."""

    name = "interference and diffraction"

    def __init__(self, scene: Scene):
        super().__init__(scene)
        self.rng = child_rng(scene)
        prompt = scene.shot.local_prompt.lower()
        self.slit = any(w in prompt for w in ("slit", "grating", "laser", "diffraction"))
        oil = free_subject(scene, lambda s: s.material.name == "oil")
        bubble = free_subject(scene, lambda s: s.kind.name in ("bubble", "balloon"))
        self.mode = "slit" if self.slit else "oil" if oil is not None and bubble is None else "bubble"
        ww = world_size(scene)[0]
        if self.mode == "oil":
            assert oil is not None
            oil.drawn_by = self.name
            self.film = oil
            cx, _, w, _ = subject_box(scene, oil)
            self.oil_box = (cx, max(w, 0.3 * ww))
        elif self.mode == "bubble":
            if bubble is None:
                bubble = add_prop(scene, "bubble", "bubble", "water", drawn_by=self.name, min_fraction=0.2)
                x0, _, _, y1 = scene.world
                place(bubble, x0 + 0.35 * ww, floor_y(scene) + 0.45 * (y1 - floor_y(scene)))
            bubble.drawn_by = self.name
            self.film = bubble
        self.t = scene.t
        t0, t1 = phase_window(scene)
        self.drain_s = max(t1 - t0, 1.0)  # the film thins over the annotated time
        self.phase = self.rng.random() * 6.28
        self.drift = np.zeros(2)

    def thickness(self, height: np.ndarray, angle: np.ndarray) -> np.ndarray:
        """Film thickness (nm) at relative height (0 bottom .. 1 top) and azimuth, at the current time.

        Gravity drains the film: thinner at the top, thicker below; the whole film thins with time; a
        slow swirl of the surface flow bends the bands.
        """
        u = np.clip(self.t / self.drain_s, 0, 1.5)
        base = 900.0 * np.exp(-1.2 * u) + 60.0
        swirl = 1 + 0.18 * np.sin(3 * angle + 2.5 * height + 0.9 * self.t + self.phase)
        return base * (0.25 + 1.5 * (1 - height) ** 1.5) * swirl

    def step(self, dt: float) -> None:
        self.t += dt
        if self.mode == "bubble" and self.film.body is None:
            # a free bubble floats up slowly and sways in the air
            ww = world_size(self.scene)[0]
            self.drift = np.array([0.03 * ww * np.sin(0.9 * self.t), 0.02 * ww * self.t])

    def draw(self, canvas: Canvas) -> None:
        if self.mode == "slit":
            self._draw_slit(canvas)
        elif self.mode == "oil":
            self._draw_oil(canvas)
        else:
            self._draw_bubble(canvas)

    def _draw_bubble(self, canvas: Canvas) -> None:
        from PIL import Image

        cx, cy, w, h = subject_box(self.scene, self.film)
        x1w = self.scene.world[3]
        cy = min(cy + self.drift[1], x1w - 0.6 * w)
        px, py = canvas.to_px(cx + self.drift[0], cy)
        r = canvas.length_px(min(w, h) / 2)
        xa, ya = int(max(px - r - 1, 0)), int(max(py - r - 1, 0))
        xb, yb = int(min(px + r + 2, canvas.width)), int(min(py + r + 2, canvas.height))
        if xb - xa < 3 or yb - ya < 3:
            return
        yy, xx = np.mgrid[ya:yb, xa:xb].astype(np.float32)
        dx, dy = (xx - px) / r, (yy - py) / r
        rr = np.hypot(dx, dy)
        inside = rr < 1
        height = np.clip(0.5 - dy / 2, 0, 1)  # image y grows downwards
        angle = np.arctan2(dy, dx)
        # oblique view through the sphere: cos of the refraction angle in the film shortens the path
        sin_i = np.clip(rr, 0, 0.999)
        cos_t = np.sqrt(1 - (sin_i / 1.33) ** 2)
        col = _film_color(self.thickness(height, angle) * cos_t, _SOAP_LUT)
        alpha = np.where(inside, 0.25 + 0.6 * rr**4, 0.0)[..., None]  # Fresnel: the rim reflects more
        roi = np.asarray(canvas.image.crop((xa, ya, xb, yb))).astype(np.float32)
        out = roi * (1 - alpha) + col * alpha
        canvas.image.paste(Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)), (xa, ya))
        canvas.draw.ellipse([px - r, py - r, px + r, py + r], outline=(235, 240, 255, 150), width=1)
        hr = 0.22 * r
        canvas.draw.ellipse([px - 0.5 * r - hr, py - 0.5 * r - hr * 0.6, px - 0.5 * r + hr, py - 0.5 * r + hr * 0.6],
                            fill=(255, 255, 255, 170))

    def _draw_oil(self, canvas: Canvas) -> None:
        from PIL import Image

        cx, w = self.oil_box
        g = floor_y(self.scene)
        xa, ya = canvas.to_px(cx - w / 2, g + 0.04 * w)
        xb, yb = canvas.to_px(cx + w / 2, g)
        xa, ya, xb, yb = int(max(xa, 0)), int(max(ya, 0)), int(min(xb, canvas.width)), int(min(yb + 1, canvas.height))
        if xb - xa < 3 or yb - ya < 1:
            return
        yy, xx = np.mgrid[ya:yb, xa:xb].astype(np.float32)
        u = (xx - (xa + xb) / 2) / max((xb - xa) / 2, 1)
        v = (yy - ya) / max(yb - ya, 1)
        # the slick is thickest at its centre and spreads thinner outwards with time
        d = 700 * (1 - np.abs(u) ** 1.5) * np.exp(-0.3 * self.t / self.drain_s) + 60
        d = d * (1 + 0.2 * np.sin(9 * u + 3 * v + 0.6 * self.t + self.phase))
        col = _film_color(d, _OIL_LUT)
        roi = np.asarray(canvas.image.crop((xa, ya, xb, yb))).astype(np.float32)
        a = np.clip(1 - np.abs(u), 0, 1)[..., None] ** 0.3 * 0.85
        out = roi * (1 - a) + col * a
        canvas.image.paste(Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)), (xa, ya))

    def _draw_slit(self, canvas: Canvas) -> None:
        """Light through a double slit: I(θ) = sinc²(π a sinθ/λ) cos²(π d sinθ/λ) on a screen, per colour."""
        x0, _, x1, y1 = self.scene.world
        g = floor_y(self.scene)
        ww = x1 - x0
        ys = g + 0.5 * (y1 - g)
        barrier, screen = x0 + 0.35 * ww, x0 + 0.9 * ww
        a_slit, d_slit = 2.0e-6, 6.0e-6  # slit width and spacing in metres: fringes a few degrees apart
        _line = canvas.draw.line
        _line([canvas.to_px(x0, ys), canvas.to_px(barrier, ys)], fill=(255, 250, 235, 220), width=3)
        gap = 0.02 * ww
        _line([canvas.to_px(barrier, g), canvas.to_px(barrier, ys - gap)], fill=(90, 90, 100), width=4)
        _line([canvas.to_px(barrier, ys - gap / 3), canvas.to_px(barrier, ys + gap / 3)], fill=(90, 90, 100), width=4)
        _line([canvas.to_px(barrier, ys + gap), canvas.to_px(barrier, y1)], fill=(90, 90, 100), width=4)
        _line([canvas.to_px(screen, g), canvas.to_px(screen, y1)], fill=(200, 200, 205), width=2)
        yw = np.linspace(g, y1, 300)
        theta = np.arctan2(yw - ys, screen - barrier)
        pts, cols = [], []
        for lam in (460e-9, 530e-9, 620e-9):
            b = np.pi * a_slit * np.sin(theta) / lam
            inten = np.sinc(b / np.pi) ** 2 * np.cos(np.pi * d_slit * np.sin(theta) / lam) ** 2
            pts.append(np.column_stack((np.full_like(yw, screen - 0.005 * ww), yw)))
            cols.append(np.outer(inten, wavelength_rgb(lam * 1e9) * 255))
        splat(canvas, np.vstack(pts), 0.35, np.vstack(cols), 1.5, mode="add", gain=1.0)
        # wavefronts, Huygens-style: plane waves arrive, each slit re-emits circular ones that cross
        wave = 0.05 * ww
        shift = (0.12 * ww * self.t) % wave
        for xw in np.arange(x0 + shift, barrier, wave):
            _line([canvas.to_px(xw, ys - 0.015 * ww), canvas.to_px(xw, ys + 0.015 * ww)],
                  fill=(255, 250, 235, 120), width=1)
        for sy in (ys - gap * 2 / 3, ys + gap * 2 / 3):
            cx, cy = canvas.to_px(barrier, sy)
            for rad in np.arange(shift, screen - barrier, wave):
                rp = canvas.length_px(rad)
                canvas.draw.arc([cx - rp, cy - rp, cx + rp, cy + rp], -60, 60, fill=(255, 250, 235, 45))


@register
class UnnaturalLight(Phenomenon):
    """Artificial light: the scene dims to ambient and each source relights it with 1/r² falloff."""

    name = "unnatural light source"
    AMBIENT = 0.5

    def __init__(self, scene: Scene):
        super().__init__(scene)
        self.rng = child_rng(scene)
        found = [s for s in scene.subjects if s.visible and (s.material.emissive or s.kind.name == "lamp")]
        self.sources: list[SubjectBody] = found[:3]
        self.own = not self.sources
        if self.own:
            lamp = add_prop(scene, "neon", "lamp", "light", drawn_by=self.name, min_fraction=0.12)
            self.sources = [lamp]
        self.hues = [np.array(s.material.color if not self.own else LIGHT_HUES[int(self.rng.integers(0, 4))],
                              dtype=np.float32) for s in self.sources]
        self.on = np.ones(len(self.sources), dtype=bool)
        self.level = np.ones(len(self.sources))
        self.t = scene.t

    def step(self, dt: float) -> None:
        self.t += dt
        # random telegraph flicker: a failing tube drops out now and then and comes back quickly
        flip_off, flip_on = 0.25 * dt, 12.0 * dt
        r = self.rng.random(len(self.sources))
        self.on = np.where(self.on, r > flip_off, r < flip_on)
        buzz = 1 + 0.06 * np.sin(2 * np.pi * 9.7 * self.t + np.arange(len(self.sources)))
        target = np.where(self.on, buzz, 0.15)
        self.level += (target - self.level) * min(1.0, 30 * dt)

    def centre(self, s: SubjectBody) -> np.ndarray:
        cx, cy, _, h = subject_box(self.scene, s)
        return np.array([cx, cy + 0.25 * h])

    def draw(self, canvas: Canvas) -> None:
        import cv2
        from PIL import Image

        cell = 4
        gw, gh = -(-canvas.width // cell), -(-canvas.height // cell)
        xs = (np.arange(gw) + 0.5) * cell
        ys = (np.arange(gh) + 0.5) * cell
        light = np.full((gh, gw, 3), self.AMBIENT, dtype=np.float32)
        r0 = 0.08 * world_size(self.scene)[0]
        for s, hue, lvl in zip(self.sources, self.hues, self.level, strict=True):
            px, py = canvas.to_px(*self.centre(s))
            d2 = ((xs[None, :] - px) ** 2 + (ys[:, None] - py) ** 2) / canvas.length_px(r0) ** 2
            light += (1.6 * lvl / (1 + d2))[..., None] * (hue / 255.0)  # inverse-square with a soft core
        scale = cv2.resize(np.clip(light * 128, 0, 255).astype(np.uint8), (gw * cell, gh * cell),
                           interpolation=cv2.INTER_LINEAR)[: canvas.height, : canvas.width]
        frame = np.asarray(canvas.image)
        lit = cv2.multiply(frame, np.ascontiguousarray(scale), scale=1 / 128)
        canvas.image.paste(Image.fromarray(lit), (0, 0))
        for s, hue, lvl in zip(self.sources, self.hues, self.level, strict=True):
            c = self.centre(s)
            if self.own:
                self._draw_lamp(canvas, s, hue, lvl)
            splat(canvas, c[None], 1.0, tuple(hue), canvas.length_px(0.6 * r0) + 3, mode="add", gain=0.9 * lvl)

    def _draw_lamp(self, canvas: Canvas, s: SubjectBody, hue: np.ndarray, lvl: float) -> None:
        cx, cy, w, h = subject_box(self.scene, s)
        base = cy - h / 2
        canvas.draw.line([canvas.to_px(cx, base), canvas.to_px(cx, base + 0.75 * h)], fill=(70, 70, 75), width=3)
        tube = [canvas.to_px(cx - 0.5 * w, base + 0.75 * h), canvas.to_px(cx + 0.5 * w, base + h)]
        bright = tuple(int(min(255, v * (0.5 + 0.5 * lvl) + 80 * lvl)) for v in hue)
        canvas.draw.rounded_rectangle([tube[0][0], tube[1][1], tube[1][0], tube[0][1]], radius=3, fill=bright)
