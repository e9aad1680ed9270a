"""Particle pools and the numpy compositing that draws them.

Fluids, fire, vapour and sparks are all clouds of point particles in world metres. Drawing thousands of
PIL ellipses per frame would cost more than the whole frame budget, so particles are splatted into a
small density grid around their bounding box, blurred once (cv2) and composited onto the frame in
numpy: a soft, smooth look for the price of one blur.
"""

from __future__ import annotations

import numpy as np

from filmcrew.tools.video.previz.scene import Canvas


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


def _cell(sigma_px: float, cells_per_sigma: float = 2.0) -> int:
    """Grid cell size in pixels for a blur of sigma_px: the kernel stays a few cells wide."""
    return int(np.clip(sigma_px // cells_per_sigma, 1, 8))


def _accumulate(
    px: np.ndarray,
    weight: np.ndarray,
    color: np.ndarray | None,
    sigma_px: float,
    box: tuple[int, int, int, int],
    k: int,
) -> np.ndarray:
    """Blurred field on a grid of k-pixel cells over the box: (gh, gw, 4) of (rgb*weight, weight),
    or (gh, gw) of weight when there is no per-particle colour.

    The field is normalised so that a lone particle peaks at its weight whatever sigma is.
    """
    import cv2

    xa, ya, xb, yb = box
    gw, gh = -(-(xb - xa) // k), -(-(yb - ya) // k)
    gx = ((px[:, 0] - xa) / k).astype(np.int64)
    gy = ((px[:, 1] - ya) / k).astype(np.int64)
    ok = (gx >= 0) & (gx < gw) & (gy >= 0) & (gy < gh)
    idx = gy[ok] * gw + gx[ok]
    wt = weight[ok]
    if color is None:
        grid = np.bincount(idx, weights=wt, minlength=gw * gh).reshape(gh, gw).astype(np.float32)
    else:
        grid = np.empty((gh, gw, 4), dtype=np.float32)
        for c in range(3):
            grid[..., c] = np.bincount(idx, weights=wt * color[ok, c], minlength=gw * gh).reshape(gh, gw)
        grid[..., 3] = np.bincount(idx, weights=wt, minlength=gw * gh).reshape(gh, gw)
    s = max(sigma_px / k, 0.5)
    return cv2.GaussianBlur(grid, (0, 0), s) * np.float32(2 * np.pi * s * s)


def splat(
    canvas: Canvas,
    xy: np.ndarray,
    weight: np.ndarray | float,
    color: np.ndarray | tuple[int, int, int],
    sigma_px: float | np.ndarray,
    mode: str = "alpha",
    gain: float = 1.0,
) -> None:
    """Composite soft particles onto the canvas.

    mode "alpha": smoke-like, opacity 1 - exp(-gain * density) over the mean particle colour.
    mode "add": emissive (fire, sparks, glow), adds gain * colour * density, clipped at white.
    `color` is one RGB for all particles or one per particle. `sigma_px` may vary per particle
    (puffs grow as they age); it is bucketed into three blurs on one shared grid.
    """
    if mode not in ("alpha", "add"):
        raise ValueError(f"splat mode {mode!r}; must be 'alpha' or 'add'")
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        return
    weight = np.broadcast_to(np.asarray(weight, dtype=float), (len(xy),))
    uniform = np.ndim(color) == 1  # one colour for all: blur a single channel, 4x cheaper
    colors = None if uniform else np.broadcast_to(np.asarray(color, dtype=float), (len(xy), 3))
    sig = np.broadcast_to(np.asarray(sigma_px, dtype=float), (len(xy),))
    px = world_to_px(canvas, xy)
    box = _roi(canvas, px, 4 * float(sig.max()) + 2)  # 4 sigma: saturated glows show no box edge
    if box is None:
        return
    if np.ptp(sig) < 0.5:
        buckets = np.zeros(len(sig), dtype=np.int64)
    else:
        buckets = np.digitize(sig, np.quantile(sig, [1 / 3, 2 / 3]))
    k = _cell(float(sig.min()))
    field = None
    for b in np.unique(buckets):
        sel = buckets == b
        sb = float(sig[sel].mean())
        kb = _cell(sb)
        part = _accumulate(px[sel], weight[sel], None if colors is None else colors[sel], sb, box, kb)
        if field is not None and part.shape[:2] != field.shape[:2]:
            part = _resize(part, field.shape[1], field.shape[0])
        elif field is None and kb != k:
            xa, ya, xb, yb = box
            part = _resize(part, -(-(xb - xa) // k), -(-(yb - ya) // k))
        field = part if field is None else field + part
    if field is not None:
        composite(canvas, box, field, mode, gain, color=color if uniform else None, cell=k)


def _resize(a: np.ndarray, w: int, h: int) -> np.ndarray:
    import cv2

    return cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)


def composite(
    canvas: Canvas,
    box: tuple[int, int, int, int],
    field: np.ndarray,
    mode: str,
    gain: float,
    color: tuple[int, int, int] | np.ndarray | None = None,
    cell: int = 1,
) -> None:
    """Blend a field, on a grid of `cell`-pixel cells covering box, into the canvas inside box.

    With `color`, field is an (gh, gw) weight density of that one colour; without, it is (gh, gw, 4)
    of weighted colour sums and weight. Blending math runs on the coarse grid; only the final
    increment or opacity is upsampled, and the blend itself is one saturating cv2 call.
    """
    import cv2
    from PIL import Image

    xa, ya, xb, yb = box
    w, h = xb - xa, yb - ya
    roi = np.asarray(canvas.image.crop(box))
    g = np.float32(gain)
    if mode == "add":
        if color is not None:
            inc = field[..., None] * (g * np.asarray(color, dtype=np.float32))
        else:
            inc = field[..., :3] * g
        out = cv2.add(roi, _fit(cv2.convertScaleAbs(inc), w, h, cell))
    else:
        dens = field if color is not None else field[..., 3]
        a = _fit((1 - np.exp(-g * np.maximum(dens, 0))).astype(np.float32), w, h, cell)
        if color is not None:
            top = np.empty_like(roi)
            top[:] = np.asarray(color, dtype=np.uint8)
        else:
            top = _fit(cv2.convertScaleAbs(field[..., :3] / np.maximum(dens, np.float32(1e-6))[..., None]), w, h, cell)
        out = cv2.blendLinear(roi, top, 1 - a, a)
    canvas.image.paste(Image.fromarray(out), (xa, ya))


def _fit(a: np.ndarray, w: int, h: int, cell: int) -> np.ndarray:
    """Upsample a grid of cell-pixel cells to w x h pixels (grids are rounded up, so crop after)."""
    gh, gw = a.shape[:2]
    big = _resize(a, gw * cell, gh * cell) if cell > 1 else a
    return np.ascontiguousarray(big[:h, :w])


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
    xa, ya, xb, yb = box
    k = _cell(sigma, 1.2)
    field = _fit(_accumulate(px, np.ones(len(px)), None, sigma, box, k), xb - xa, yb - ya, k)
    # a lone particle peaks at 1: the 0.35 threshold keeps single droplets visible as small beads
    # while neighbours fuse into one smooth body; the band just above threshold is the bright rim
    body = np.clip((field - np.float32(0.35)) * np.float32(5.0), 0, 1)
    rows, cols = np.nonzero(body)
    if len(rows) == 0:
        return
    b = body[rows, cols][:, None]
    rim = b * (1 - np.clip((field[rows, cols, None] - np.float32(0.55)) * np.float32(2.0), 0, 1))
    roi = np.array(canvas.image.crop(box), dtype=np.uint8)
    base = np.asarray(color, dtype=np.float32)
    shade = base + (base + (255 - base) * np.float32(0.55) - base) * rim
    px_old = roi[rows, cols].astype(np.float32)
    roi[rows, cols] = np.clip(px_old + (shade - px_old) * (opacity * b), 0, 255).astype(np.uint8)
    canvas.image.paste(Image.fromarray(roi), box[:2])
