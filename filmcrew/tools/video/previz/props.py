"""Props: the subject a phenomenon acts on, and the annotated time and temperature curves.

Every phenomenon needs something to happen to (a solid to melt, a fuel to burn, a surface to reflect
in). It takes it from the plan's subjects when one of the right kind exists and otherwise brings its own
prop, sized to be seen, so an annotated phenomenon is never invisible. Phase changes run on the
annotation's clock: a temperature ramp across `scene.time_range_s` in world seconds.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np

from filmcrew.catalog import kind as catalog_kind
from filmcrew.catalog import material as catalog_material
from filmcrew.tools.video.previz.scene import Scene, SubjectBody

# A prop brought in by a phenomenon is at least this fraction of the framed width, so it reads on screen.
MIN_PROP_FRACTION = 0.12
# ...and at most this fraction of the framed width and height, so it fits the shot it was added to.
MAX_PROP_FRACTION = 0.4


def floor_y(scene: Scene) -> float:
    """Where a prop stands: the ground when it is in frame, else low in the framed area (sky, space)."""
    _, y0, _, y1 = scene.world
    if y0 - 1e-9 <= scene.ground_y < y1:
        return scene.ground_y
    return y0 + 0.1 * (y1 - y0)


def gravity(scene: Scene) -> float:
    """Downward acceleration of the scene in m/s²: 9.81, or 0 in space (no fall and no buoyancy)."""
    return float(-scene.space.gravity[1])


def world_size(scene: Scene) -> tuple[float, float]:
    """Width and height of the framed area in metres."""
    x0, y0, x1, y1 = scene.world
    return (x1 - x0, y1 - y0)


def free_subject(scene: Scene, test: Callable[[SubjectBody], bool]) -> SubjectBody | None:
    """The first visible subject passing `test` that no other phenomenon has claimed."""
    for s in scene.subjects:
        if s.visible and s.drawn_by is None and test(s):
            return s
    return None


def subject_box(scene: Scene, s: SubjectBody) -> tuple[float, float, float, float]:
    """Centre x, centre y, width and height of a subject in world metres.

    A subject without a rigid body has no position of its own; it is taken to stand on the ground at
    the centre of the frame (or at the position a phenomenon stored when it created the prop).
    """
    w, h = s.size_m
    w, h = w * s.scale, h * s.scale
    if s.body is not None:
        x, y = s.position
        return (x, y, w, h)
    placed = _placed(s)
    if placed is not None:
        return (placed[0], placed[1], w, h)
    x0, _, x1, _ = scene.world
    return ((x0 + x1) / 2, floor_y(scene) + h / 2, w, h)


# Positions of props created without a rigid body. SubjectBody is an unhashable dataclass, so the key
# is its id, checked against a weak reference so a recycled id never inherits a stale position.
_PLACED: dict[int, tuple[weakref.ref[SubjectBody], tuple[float, float]]] = {}


def place(s: SubjectBody, x: float, y: float) -> None:
    """Remember where a body-less prop stands (its centre), for `subject_box`."""
    for key in [k for k, (ref, _) in _PLACED.items() if ref() is None]:  # props of finished shots
        del _PLACED[key]
    _PLACED[id(s)] = (weakref.ref(s), (x, y))


def _placed(s: SubjectBody) -> tuple[float, float] | None:
    entry = _PLACED.get(id(s))
    if entry is None or entry[0]() is not s:
        return None
    return entry[1]


def free_x(scene: Scene, width: float) -> float:
    """An x on the ground where a prop of this width overlaps no subject with a known position."""
    x0, _, x1, _ = scene.world
    taken = []
    for s in scene.subjects:
        if s.visible and (s.body is not None or _placed(s) is not None):
            cx, _, w, _ = subject_box(scene, s)
            taken.append((cx - w / 2, cx + w / 2))
    for f in (0.5, 0.3, 0.7, 0.18, 0.82):
        x = x0 + f * (x1 - x0)
        if all(x + width / 2 < a or x - width / 2 > b for a, b in taken):
            return x
    return x0 + 0.5 * (x1 - x0)


def add_prop(
    scene: Scene,
    name: str,
    kind_name: str,
    material_name: str,
    drawn_by: str,
    x: float | None = None,
    y: float | None = None,
    min_fraction: float = MIN_PROP_FRACTION,
) -> SubjectBody:
    """Create a catalog subject for a phenomenon, scaled to be visible and to fit, and add it to the scene.

    It stands on the ground at a free x unless a position is given; the phenomenon draws it itself.
    """
    k = catalog_kind(kind_name)
    m = catalog_material(material_name)
    w, h = k.size_m
    ww, wh = world_size(scene)
    grow = max(1.0, min_fraction * ww / max(w, h))
    grow = min(grow, MAX_PROP_FRACTION * ww / w, MAX_PROP_FRACTION * wh / h)  # and it fits the frame
    size = (w * grow, h * grow)
    s = SubjectBody(name=name, kind=k, material=m, size_m=size, color=m.color, drawn_by=drawn_by,
                    label=name)
    scene.subjects.append(s)
    cx = free_x(scene, size[0]) if x is None else x
    cy = floor_y(scene) + size[1] / 2 if y is None else y
    place(s, cx, cy)
    return s


def phase_window(scene: Scene) -> tuple[float, float]:
    """The annotated time span in world seconds, moved to the shot's start if it begins after the end.

    An annotation of "120 to 300 seconds" on a 10 s shot describes the phenomenon itself, not when in
    the shot it happens, so the shot is taken to show it from its start.
    """
    t0, t1 = scene.time_range_s
    if t0 >= scene.duration_world_s:
        t0, t1 = 0.0, t1 - t0
    return (t0, max(t1, t0 + 1e-3))


def temperature_at(scene: Scene, t: float, rising: bool = True) -> float:
    """The ambient temperature at world time t: a linear ramp across the window, up or down."""
    lo, hi = scene.temperature_c
    t0, t1 = phase_window(scene)
    u = float(np.clip((t - t0) / (t1 - t0), 0, 1))
    return lo + (hi - lo) * u if rising else hi + (lo - hi) * u


def phase_curve(scene: Scene, point_c: float, rising: bool) -> Callable[[float], float]:
    """Transformed fraction f(t) in [0, 1], monotonic in t, complete at the end of the window.

    The rate is the driving temperature difference (heat flow), max(T - point, 0) when heating or
    max(point - T, 0) when cooling, plus a small floor so an annotated change still happens when the
    annotated range only touches the transition point.
    """
    t0, t1 = phase_window(scene)
    ts = np.linspace(t0, t1, 257)
    temps = np.array([temperature_at(scene, t, rising) for t in ts])
    drive = np.maximum(temps - point_c, 0) if rising else np.maximum(point_c - temps, 0)
    lo, hi = scene.temperature_c
    rate = drive + 0.02 * max(hi - lo, 1.0)
    cum = np.concatenate([[0.0], np.cumsum((rate[1:] + rate[:-1]) / 2 * np.diff(ts))])
    cum /= cum[-1]

    def f(t: float) -> float:
        return float(np.interp(t, ts, cum))

    return f


def crossing_time(scene: Scene, point_c: float, rising: bool = True) -> float:
    """World time when the temperature ramp crosses `point_c`; the window start if it never does."""
    t0, t1 = phase_window(scene)
    lo, hi = scene.temperature_c
    if not lo < point_c < hi:
        return t0
    u = (point_c - lo) / (hi - lo)
    return t0 + (u if rising else 1 - u) * (t1 - t0)


def lerp_color(a: tuple[int, int, int], b: tuple[int, int, int], u: float) -> tuple[int, int, int]:
    """Colour a..b at u in [0, 1]."""
    u = float(np.clip(u, 0, 1))
    return tuple(round(x + (y - x) * u) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def child_rng(scene: Scene) -> np.random.Generator:
    """An independent generator for one phenomenon, derived from the scene's seeded one."""
    return scene.rng.spawn(1)[0]


class SimClock:
    """Spends the world time handed to `step` in fixed particle sub-steps, at most `max_n` per frame.

    The renderer may call `step` many times per frame with tiny dt (rigid-body sub-steps) or with
    seconds of world time (a ×60 time-lapse). Particle looks need neither: they advance in steps of
    `h`, and `frame()` (called when a frame is drawn) resets the budget and drops time that did not
    fit, so a time-lapse shows what smoke looks like rather than streaks, at a bounded cost. Phase
    fractions still follow the true world clock.
    """

    def __init__(self, h: float, max_n: int = 4):
        if h <= 0 or max_n < 1:
            raise ValueError(f"SimClock(h={h}, max_n={max_n}); need h > 0 and max_n >= 1")
        self.h = h
        self.max_n = max_n
        self.pending = 0.0
        self.budget = max_n

    @classmethod
    def for_scene(cls, scene: Scene, h: float) -> SimClock:
        """Real-time particle motion up to 1/12 s of world time per frame (slow motion stays exact)."""
        per_frame = min(scene.time_scale / scene.fps, 1 / 12)
        return cls(h, max(1, int(np.ceil(per_frame / h - 1e-9))))

    def ticks(self, dt: float) -> int:
        """Add dt of world time; the number of sub-steps of length h to run now."""
        self.pending += max(dt, 0.0)
        n = min(int(self.pending / self.h + 1e-9), self.budget)
        self.pending -= n * self.h
        self.budget -= n
        return n

    def frame(self) -> None:
        """A frame was drawn: refill the budget and forget time beyond one sub-step."""
        self.budget = self.max_n
        self.pending = min(self.pending, self.h)
