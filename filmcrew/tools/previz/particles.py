"""Particle pools and the numpy compositing that draws them.

Fluids, fire, vapour and sparks are all clouds of point particles in world metres. Drawing thousands of
PIL ellipses per frame would cost more than the whole frame budget, so particles are splatted into a
small density grid around their bounding box, blurred once (cv2) and composited onto the frame in
numpy: a soft, smooth look for the price of one blur.
"""

from __future__ import annotations

import numpy as np

from filmcrew.tools.previz.scene import Canvas


class Particles:
    """A fixed-capacity pool of particles: position, velocity, age and lifetime, plus named extras.

    Capacity is a hard cap so a long shot never grows its per-frame cost; spawning into a full pool
    drops the newest particles rather than evicting living ones.
    """

    def __init__(self, capacity: int, extras: tuple[str, ...] = ()):
        if capacity <= 0:
            raise ValueError(f"particle capacity {capacity}; must be > 0")
        self.capacity = capacity
        self.pos = np.zeros((capacity, 2))
        self.vel = np.zeros((capacity, 2))
        self.age = np.zeros(capacity)
        self.life = np.ones(capacity)
        self.alive = np.zeros(capacity, dtype=bool)
        self.extra: dict[str, np.ndarray] = {name: np.zeros(capacity) for name in extras}

    @property
    def count(self) -> int:
        return int(self.alive.sum())

    def spawn(self, pos: np.ndarray, vel: np.ndarray, life: np.ndarray | float, **extras: np.ndarray | float) -> np.ndarray:
        """Fill free slots with new particles; returns the slot indices actually used."""
        pos = np.atleast_2d(np.asarray(pos, dtype=float))
        free = np.flatnonzero(~self.alive)[: len(pos)]
        n = len(free)
        if n == 0:
            return free
        self.pos[free] = pos[:n]
        self.vel[free] = np.broadcast_to(np.asarray(vel, dtype=float), pos.shape)[:n]
        self.life[free] = np.broadcast_to(np.asarray(life, dtype=float), (len(pos),))[:n]
        self.age[free] = 0.0
        self.alive[free] = True
        for name, value in extras.items():
            self.extra[name][free] = np.broadcast_to(np.asarray(value, dtype=float), (len(pos),))[:n]
        return free

    def age_by(self, dt: float) -> None:
        """Advance ages and retire particles past their lifetime."""
        self.age[self.alive] += dt
        self.alive &= self.age < self.life


def world_to_px(canvas: Canvas, xy: np.ndarray) -> np.ndarray:
    """Vectorised `canvas.to_px`: (N, 2) world metres, y up, to (N, 2) pixels, y down."""
    x0, _, _, y1 = canvas.view
    s = canvas.px_per_m
    return np.column_stack(((xy[:, 0] - x0) * s, (y1 - xy[:, 1]) * s))


def _roi(canvas: Canvas, px: np.ndarray, pad: float) -> tuple[int, int, int, int] | None:
    """Pixel box around the points plus padding, clipped to the frame; None when off screen."""
    if len(px) == 0:
        return None
    xa = max(int(np.floor(px[:, 0].min() - pad)), 0)
    ya = max(int(np.floor(px[:, 1].min() - pad)), 0)
    xb = min(int(np.ceil(px[:, 0].max() + pad)), canvas.width)
    yb = min(int(np.ceil(px[:, 1].max() + pad)), canvas.height)
    if xb - xa < 1 or yb - ya < 1:
        return None
    return xa, ya, xb, yb


def _accumulate(
    px: np.ndarray, weight: np.ndarray, color: np.ndarray, sigma_px: float, box: tuple[int, int, int, int]
) -> np.ndarray:
    """Blurred (h, w, 4) field of weighted colour (rgb*weight, weight) over the box.

    The grid is downsampled so the blur kernel stays a few cells wide; the field is normalised so a
    lone particle peaks at its weight whatever sigma is.
    """
    import cv2

    xa, ya, xb, yb = box
    w, h = xb - xa, yb - ya
    k = int(np.clip(sigma_px // 2, 1, 8))
    gw, gh = -(-w // k), -(-h // k)
    gx = ((px[:, 0] - xa) / k).astype(np.int64)
    gy = ((px[:, 1] - ya) / k).astype(np.int64)
    ok = (gx >= 0) & (gx < gw) & (gy >= 0) & (gy < gh)
    idx = gy[ok] * gw + gx[ok]
    wt = weight[ok]
    grid = np.empty((gh, gw, 4), dtype=np.float32)
    for c in range(3):
        grid[..., c] = np.bincount(idx, weights=wt * color[ok, c], minlength=gw * gh).reshape(gh, gw)
    grid[..., 3] = np.bincount(idx, weights=wt, minlength=gw * gh).reshape(gh, gw)
    s = max(sigma_px / k, 0.5)
    grid = cv2.GaussianBlur(grid, (0, 0), s) * np.float32(2 * np.pi * s * s)
    if k > 1:
        grid = cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)
    return grid[:h, :w]


def splat(
    canvas: Canvas,
    xy: np.ndarray,
    weight: np.ndarray,
    color: np.ndarray | tuple[int, int, int],
    sigma_px: float | np.ndarray,
    mode: str = "alpha",
    gain: float = 1.0,
) -> None:
    """Composite soft particles onto the canvas.

    mode "alpha": smoke-like, opacity 1 - exp(-gain * density) over the mean particle colour.
    mode "add": emissive (fire, sparks, glow), adds gain * colour * density, clipped at white.
    `sigma_px` may vary per particle (puffs grow as they age); it is bucketed into three blurs.
    """
    if mode not in ("alpha", "add"):
        raise ValueError(f"splat mode {mode!r}; must be 'alpha' or 'add'")
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        return
    weight = np.broadcast_to(np.asarray(weight, dtype=float), (len(xy),))
    color = np.broadcast_to(np.asarray(color, dtype=float), (len(xy), 3))
    sig = np.broadcast_to(np.asarray(sigma_px, dtype=float), (len(xy),))
    px = world_to_px(canvas, xy)
    box = _roi(canvas, px, 3 * float(sig.max()) + 2)
    if box is None:
        return
    if np.ptp(sig) < 0.5:
        buckets = np.zeros(len(sig), dtype=np.int64)
    else:
        buckets = np.digitize(sig, np.quantile(sig, [1 / 3, 2 / 3]))
    field = None
    for b in np.unique(buckets):
        sel = buckets == b
        part = _accumulate(px[sel], weight[sel], color[sel], float(sig[sel].mean()), box)
        field = part if field is None else field + part
    if field is None:
        return
    composite(canvas, box, field, mode, gain)


def composite(canvas: Canvas, box: tuple[int, int, int, int], field: np.ndarray, mode: str, gain: float) -> None:
    """Blend an (h, w, 4) premultiplied colour+weight field into the canvas inside box."""
    from PIL import Image

    roi = np.asarray(canvas.image.crop(box), dtype=np.float32)
    dens = field[..., 3:4]
    if mode == "add":
        out = roi + gain * field[..., :3]
    else:
        a = 1.0 - np.exp(-gain * np.maximum(dens, 0))
        col = field[..., :3] / np.maximum(dens, 1e-6)
        out = roi + (col - roi) * a
    canvas.image.paste(Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)), box[:2])


def surface(
    canvas: Canvas,
    xy: np.ndarray,
    radius_px: float,
    color: tuple[int, int, int],
    opacity: float = 0.9,
) -> None:
    """Draw particles as one smooth liquid body: blurred density, thresholded, with a bright rim.

    This is the metaball trick: neighbouring particles merge into a continuous surface while a lone
    droplet still shows as a small round blob.
    """
    from PIL import Image

    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        return
    px = world_to_px(canvas, xy)
    sigma = max(radius_px, 1.0)
    box = _roi(canvas, px, 3 * sigma + 2)
    if box is None:
        return
    field = _accumulate(px, np.ones(len(px)), np.zeros((len(px), 3)), sigma, box)[..., 3]
    # a lone particle peaks at 1; 0.45 keeps single droplets visible, neighbours fuse smoothly
    body = np.clip((field - 0.35) / 0.2, 0, 1)
    rim = body * (1 - np.clip((field - 0.55) / 0.5, 0, 1))
    roi = np.asarray(canvas.image.crop(box), dtype=np.float32)
    base = np.asarray(color, dtype=np.float32)
    light = base + (255 - base) * 0.55
    shade = base + (light - base) * rim[..., None]
    a = (opacity * body)[..., None]
    out = roi + (shade - roi) * a
    canvas.image.paste(Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)), box[:2])
