"""The previz camera: shot scale as zoom, the plan's camera move as a view rectangle per frame.

A view is (x0, y0, x1, y1) in metres with the frame's aspect ratio, so `Canvas` maps it to pixels with a
single scale. `frame` is the staging frame, from where the subjects start: a close-up fills the frame
with the main subject, a medium shot leaves room for it to move and keeps the ground in frame, a wide
shot takes in every subject. `framing` then frames what actually happens, and `apply_move` lays the
plan's pan, tilt, dolly or track over it.
"""

from __future__ import annotations

import math

import numpy as np

Box = tuple[float, float, float, float]

PAN_FRACTION = 0.5  # a pan travels half a frame width over the shot
TILT_FRACTION = 0.4
DOLLY_IN, DOLLY_OUT = 0.55, 1.8  # final view size relative to the start


def zoom_factor(size: float) -> float:
    """Medium-shot view height in subject sizes: six for a cup, one and a half for a person or car."""
    return min(6.0, max(1.5, 6.0 - 3.0 * math.log2(max(size, 1e-3) / 0.5)))


def frame(scale: str, focus: Box, scene_box: Box, floor_y: float | None, aspect: float) -> Box:
    """The view at the start of a shot.

    focus: the main subject's bounding box; scene_box: all foreground subjects (and the table);
    floor_y: the ground to keep at the bottom of medium and wide shots (None in space or the sky);
    aspect: width / height of the frame.
    """
    if scale not in ("wide", "medium", "close-up"):
        raise ValueError(f"camera scale {scale!r}; expected wide, medium or close-up")
    fx0, fy0, fx1, fy1 = focus
    size = max(fx1 - fx0, fy1 - fy0, 1e-3)
    cx, cy = (fx0 + fx1) / 2, (fy0 + fy1) / 2
    medium = zoom_factor(size) * size
    if floor_y is not None:
        medium = max(medium, (fy1 - floor_y) * 1.4)
    if scale == "close-up":
        vh = 0.4 * zoom_factor(size) * size
        cy = max(cy, fy1 - 0.45 * vh)  # tall subjects: frame the top (a face, not the knees)
        return _centred(cx, cy, vh, aspect)
    if scale == "medium":
        vh = medium
    else:
        sx0, sy0, sx1, sy1 = scene_box
        vh = max(2.2 * medium, (sx1 - sx0) * 1.2 / aspect, (sy1 - (floor_y or sy0)) * 1.3)
        cx = (sx0 + sx1) / 2
        cy = (sy0 + sy1) / 2
    if floor_y is None:
        return _centred(cx, cy, vh, aspect)
    y0 = floor_y - 0.08 * vh
    return (cx - vh * aspect / 2, y0, cx + vh * aspect / 2, y0 + vh)


def _centred(cx: float, cy: float, vh: float, aspect: float) -> Box:
    return (cx - vh * aspect / 2, cy - vh / 2, cx + vh * aspect / 2, cy + vh / 2)


def _ease(u: np.ndarray) -> np.ndarray:
    """Smoothstep: camera moves start and end gently, as an operator would."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3 - 2 * u)


MOVES = ("static", "pan-left", "pan-right", "tilt-up", "tilt-down", "dolly-in", "dolly-out", "track")


def apply_move(views: np.ndarray, move: str, focus: np.ndarray | None) -> np.ndarray:
    """The plan's camera move laid over a framed view per frame ((T, 4) x0, y0, x1, y1 in metres).

    Pans and tilts travel across the framing, centred on it, so the framed action stays in view;
    a dolly closes in on (or backs away from) `focus` ((T, 2), the followed subject), which keeps
    its place on screen. A tracking shot keeps `focus` centred left to right.
    """
    if move not in MOVES:
        raise ValueError(f"camera move {move!r}; expected one of {', '.join(MOVES)}")
    views = np.array(views, dtype=float)
    total = len(views)
    u = _ease(np.arange(total) / max(total - 1, 1))[:, None]
    vw = (views[:, 2] - views[:, 0])[:, None]
    vh = (views[:, 3] - views[:, 1])[:, None]
    if move in ("pan-left", "pan-right"):
        sign = 1 if move == "pan-right" else -1
        views[:, [0, 2]] += sign * PAN_FRACTION * vw * (u - 0.5)
    elif move in ("tilt-up", "tilt-down"):
        sign = 1 if move == "tilt-up" else -1
        views[:, [1, 3]] += sign * TILT_FRACTION * vh * (u - 0.5)
    elif move in ("dolly-in", "dolly-out"):
        end = DOLLY_IN if move == "dolly-in" else DOLLY_OUT
        s = 1 + (end - 1) * u
        centre = np.column_stack(((views[:, 0] + views[:, 2]) / 2, (views[:, 1] + views[:, 3]) / 2))
        fx = centre
        if focus is not None:
            inside = (np.isfinite(focus).all(axis=1) & (focus[:, 0] > views[:, 0])
                      & (focus[:, 0] < views[:, 2]) & (focus[:, 1] > views[:, 1])
                      & (focus[:, 1] < views[:, 3]))
            fx = np.where(inside[:, None], focus, centre)
        views[:, [0, 2]] = fx[:, :1] + (views[:, [0, 2]] - fx[:, :1]) * s
        views[:, [1, 3]] = fx[:, 1:] + (views[:, [1, 3]] - fx[:, 1:]) * s
    elif move == "track" and focus is not None and np.isfinite(focus).all():
        cx = (views[:, 0] + views[:, 2]) / 2  # the subject stays centred left to right
        views[:, [0, 2]] += focus[:, :1] - cx[:, None]
    return views
