"""Framing from a rehearsal: where the camera looks in every frame of a shot.

The renderer simulates each shot once without drawing (same seed, same physics: a rehearsal) and
hands what happened here, so the camera knows where the action goes before it rolls:

- wide: every subject over its whole path, the table and the effects, with margin;
- medium: the main moving subject's whole path (a knocked glass from the table edge to the floor);
- close-up: the main subject around its key moment (first impact, shatter, explosion or ignition; its
  path when nothing happens) at about 3.5 times its size.

The camera holds that framing and moves only as far as it must to keep the main subject inside it,
smoothed like an operator's hand, and keeps the ground in frame where the action reaches it; the
plan's move (pan, tilt, dolly, track) is laid on top by `camera.apply_move`. When nothing moves the
staging frame stands: it is the frame the phenomena laid their props and effects out in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filmcrew.tools.video.previz.camera import Box, apply_move, zoom_factor
from filmcrew.tools.video.previz.scene import PrevizEvent

MARGIN = 0.15  # room around the framed action, as a share of its size on each side
CLOSE_UP_SIZES = 3.5  # a close-up is this many times the subject's size tall
WIDE_OVER_MEDIUM = 1.8  # a wide shot is at least this much bigger than the medium
MAX_ZOOM_OUT = 2.0  # a shot grows at most this much past its default size to hold a path; then it follows
SAFE = 0.06  # share of the view kept between the main subject and the frame edge
FLOOR_ROOM = 0.15  # share of the view below the ground line when the ground is framed
SMOOTH_S = 0.3  # screen seconds: how gently the camera follows (Gaussian sigma)
KEY_EVENTS = ("shatter", "impact", "explosion", "ignition")
MIN_MOVE = 0.02  # a subject moving less than this share of the staging width (or half its size) rests


@dataclass
class Rehearsal:
    """What the dry run of a shot saw, frame by frame."""

    tracks: dict[str, np.ndarray]  # subject -> (T, 2) centre in metres; NaN without a body or hidden
    sizes: dict[str, tuple[float, float]]  # subject -> width, height in metres
    roles: dict[str, str]  # subject -> its role in the plan: moving, static, background
    events: list[PrevizEvent]  # impacts, shatters, ... in screen time
    effects: np.ndarray  # (T, 4) box of the phenomena's particles per frame; NaN where there are none
    fps: float


@dataclass(frozen=True)
class Setup:
    """The shot as the camera department reads it."""

    scale: str  # wide | medium | close-up
    move: str  # static | pan-left | pan-right | tilt-up | tilt-down | dolly-in | dolly-out | track
    aspect: float  # width / height of the frame
    staging: Box  # the frame the motion was laid out in
    floor_y: float | None  # the ground to keep in frame where the action reaches it; None: no ground
    table: Box | None  # the table, floor to top, when there is one
    follow: str | None = None  # whom a tracking shot follows when nothing moves by itself


def main_mover(r: Rehearsal, staging: Box) -> str | None:
    """The subject the camera is about: the first plan subject marked moving that really moved,
    else the one that moved furthest; None when nothing moved."""
    moved = {}
    for name, track in r.tracks.items():
        ok = np.isfinite(track[:, 0])
        if not ok.any():
            continue
        first = track[np.argmax(ok)]
        reach = float(np.nanmax(np.hypot(*(track[ok] - first).T)))
        if reach > max(0.5 * max(r.sizes[name]), MIN_MOVE * (staging[2] - staging[0])):
            moved[name] = reach
    if not moved:
        return None
    return next((n for n in moved if r.roles.get(n) == "moving"), max(moved, key=moved.__getitem__))


def key_frame(r: Rehearsal, name: str) -> int | None:
    """The frame of the first impact, shatter, explosion or ignition while the subject is there."""
    track = r.tracks[name]
    for e in sorted(r.events, key=lambda e: e.time_s):
        i = min(round(e.time_s * r.fps), len(track) - 1)
        if e.kind in KEY_EVENTS and np.isfinite(track[i, 0]):
            return i
    return None


def plan_views(r: Rehearsal, setup: Setup) -> np.ndarray:
    """(T, 4) view rectangles x0, y0, x1, y1 in metres, at the frame's aspect ratio."""
    if setup.scale not in ("wide", "medium", "close-up"):
        raise ValueError(f"camera scale {setup.scale!r}; expected wide, medium or close-up")
    total = len(r.effects)
    main = main_mover(r, setup.staging)
    if main is None:
        still = np.tile(np.asarray(setup.staging, float), (total, 1))
        focus = _smooth(r.tracks[setup.follow], r.fps) if setup.follow in r.tracks else None
        return apply_move(still, setup.move, focus)
    track = r.tracks[main]
    w, h = r.sizes[main]
    size, radius = max(w, h), _radius(r, main)
    path = _path_box(track, radius)
    effects = _effects_box(r.effects, setup.staging)
    medium = zoom_factor(size) * size
    tracking = setup.move == "track"
    if setup.scale == "close-up":
        vh = CLOSE_UP_SIZES * size
        anchor = _close_up_anchor(r, main, path, vh, radius, setup)
    else:
        # the medium: the main subject's path, what it runs into, and the effects it sets off
        partners = [_path_box(r.tracks[n], _radius(r, n)) for n in _partners(r, main)]
        box = _union([path, *partners] + ([effects] if effects is not None else []))
        least = medium
        if setup.scale == "wide":  # the wide: a good deal more than the medium, and everyone's paths
            least = WIDE_OVER_MEDIUM * _fit(box, setup.aspect, medium, medium, setup.floor_y)[2]
            boxes = [_path_box(t, _radius(r, n)) for n, t in r.tracks.items()
                     if r.roles.get(n) != "background" and np.isfinite(t).any()]
            box = _union([box, *boxes] + ([setup.table] if setup.table else []))
        # a tracking shot keeps its size and lets the camera travel instead
        most = least if tracking else MAX_ZOOM_OUT * least
        cx, cy, vh = _fit(box, setup.aspect, least, most, setup.floor_y)
        anchor = np.array([cx, cy])
    vw = vh * setup.aspect
    centres = _follow(anchor, track, radius, vw, vh, setup.floor_y, r.fps)
    smooth = _smooth(track, r.fps)
    if tracking:
        centres[:, 0] = smooth[:, 0]
    views = np.column_stack((centres[:, 0] - vw / 2, centres[:, 1] - vh / 2,
                             centres[:, 0] + vw / 2, centres[:, 1] + vh / 2))
    return apply_move(views, setup.move, smooth)


# --------------------------------------------------------------------------------------------------


def _radius(r: Rehearsal, name: str) -> float:
    """Half the subject's diagonal: room for it to turn."""
    return float(np.hypot(*r.sizes[name])) / 2


def _partners(r: Rehearsal, main: str) -> list[str]:
    """The subjects the main one runs into (their boxes touch at some frame): the crate a ball rolls
    into belongs in the medium shot with it."""
    track, reach = r.tracks[main], _radius(r, main)
    out = []
    for name, other in r.tracks.items():
        if name == main or r.roles.get(name) == "background":
            continue
        gap = np.hypot(*(other - track).T) - reach - _radius(r, name)
        if np.isfinite(gap).any() and np.nanmin(gap) < 0.1 * max(r.sizes[main]):
            out.append(name)
    return out


def _path_box(track: np.ndarray, radius: float) -> Box:
    """The box a subject sweeps over the shot (its finite positions, grown by its radius)."""
    ok = np.isfinite(track[:, 0])
    lo, hi = track[ok].min(axis=0), track[ok].max(axis=0)
    return (lo[0] - radius, lo[1] - radius, hi[0] + radius, hi[1] + radius)


def _union(boxes: list[Box]) -> Box:
    a = np.array(boxes)
    return (a[:, 0].min(), a[:, 1].min(), a[:, 2].max(), a[:, 3].max())


def _effects_box(effects: np.ndarray, staging: Box) -> Box | None:
    """Where the particles went, over the shot, within a quarter frame around the staging frame (smoke
    drifting off for metres should not zoom the camera out to follow it)."""
    ok = np.isfinite(effects[:, 0])
    if not ok.any():
        return None
    x0, y0, x1, y1 = staging
    pw, ph = 0.25 * (x1 - x0), 0.25 * (y1 - y0)
    e = effects[ok]
    box = (max(e[:, 0].min(), x0 - pw), max(e[:, 1].min(), y0 - ph),
           min(e[:, 2].max(), x1 + pw), min(e[:, 3].max(), y1 + ph))
    return box if box[0] < box[2] and box[1] < box[3] else None


def _fit(box: Box, aspect: float, least_h: float, most_h: float, floor_y: float | None
         ) -> tuple[float, float, float]:
    """Centre and height of a view holding the box with margin, least_h to most_h tall (a bigger box
    is followed, not framed whole); the ground FLOOR_ROOM up from the bottom when the box comes
    down near it."""
    x0, y0, x1, y1 = box
    bw, bh = (x1 - x0) * (1 + 2 * MARGIN), (y1 - y0) * (1 + 2 * MARGIN)
    most_h = max(most_h, least_h)
    vh = min(max(bh, bw / aspect, least_h), most_h)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if floor_y is not None and y0 - floor_y < 0.5 * vh:
        top = y1 + MARGIN * (y1 - y0)
        vh = min(max(vh, (top - floor_y) / (1 - FLOOR_ROOM)), most_h)
        cy = floor_y - FLOOR_ROOM * vh + vh / 2
    return cx, cy, vh


def _close_up_anchor(r: Rehearsal, main: str, path: Box, vh: float, radius: float, setup: Setup
                     ) -> np.ndarray:
    """Where a close-up looks when it can: at the key moment, with the ground in the frame's lower
    part if it happens there; with no key moment, the middle of the path."""
    track = r.tracks[main]
    k = key_frame(r, main)
    if k is not None:
        anchor = track[k].copy()
    elif path[2] - path[0] < vh * setup.aspect and path[3] - path[1] < vh:
        anchor = np.array([(path[0] + path[2]) / 2, (path[1] + path[3]) / 2])
    else:
        ok = np.flatnonzero(np.isfinite(track[:, 0]))
        anchor = track[ok[len(ok) // 2]].copy()
    floor = setup.floor_y
    if floor is not None and anchor[1] - radius - floor < (0.5 - FLOOR_ROOM) * vh:
        anchor[1] = max(anchor[1], floor + (0.5 - FLOOR_ROOM) * vh)
    return anchor


def _fill_gaps(a: np.ndarray) -> np.ndarray:
    """Rows with NaN take the nearest earlier finite row (or the first finite one)."""
    out = a.copy()
    ok = np.isfinite(out[:, 0])
    if not ok.any():
        return out
    idx = np.where(ok, np.arange(len(out)), 0)
    np.maximum.accumulate(idx, out=idx)
    idx[: np.argmax(ok)] = np.argmax(ok)
    return out[idx]


def _smooth(track: np.ndarray, fps: float) -> np.ndarray:
    """The track smoothed over SMOOTH_S (gaps held), as an operator's hand follows it."""
    from scipy.ndimage import gaussian_filter1d

    filled = _fill_gaps(track)
    if not np.isfinite(filled).all():
        return filled
    return gaussian_filter1d(filled, SMOOTH_S * fps, axis=0, mode="nearest")


def _bounds(track: np.ndarray, radius: float, vw: float, vh: float, safe: float,
            floor_y: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the centres (lo, hi) that keep the subject `safe` of a view inside the frame and,
    while it is low, the ground in the frame's lower part."""
    half = np.array([vw, vh]) / 2
    room = half - safe * np.array([vw, vh])
    lo, hi = track + radius - room, track - radius + room
    big = lo > hi  # the subject is bigger than the safe area: centre on it
    lo[big] = hi[big] = track[big]
    if floor_y is not None:
        low = track[:, 1] - radius - floor_y < 0.5 * vh
        cap = floor_y + (0.5 - FLOOR_ROOM) * vh
        hi[low, 1] = np.maximum(np.minimum(hi[low, 1], cap), lo[low, 1])
    return lo, hi


def _follow(anchor: np.ndarray, track: np.ndarray, radius: float, vw: float, vh: float,
            floor_y: float | None, fps: float) -> np.ndarray:
    """(T, 2) view centres: the anchor, moved as little as keeps the subject in frame, smoothed."""
    from scipy.ndimage import gaussian_filter1d

    path = _fill_gaps(track)
    if not np.isfinite(path).all():
        return np.tile(anchor, (len(track), 1))
    lo, hi = _bounds(path, radius, vw, vh, SAFE, floor_y)
    centres = np.clip(anchor, lo, hi)
    centres = gaussian_filter1d(centres, SMOOTH_S * fps, axis=0, mode="nearest")
    lo, hi = _bounds(path, radius, vw, vh, SAFE / 2, None)  # smoothing may not push it out
    return np.clip(centres, lo, hi)
