"""The previz camera: shot scale as zoom, the plan's camera move as a view rectangle per frame.

A view is (x0, y0, x1, y1) in metres with the frame's aspect ratio, so `Canvas` maps it to pixels with a
single scale. Framing starts from the main subject: a close-up fills the frame with it, a medium shot
leaves room for it to move and keeps the ground in frame, a wide shot takes in every subject.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Box = tuple[float, float, float, float]

PAN_FRACTION = 0.5  # a pan travels half a frame width over the shot
TILT_FRACTION = 0.4
DOLLY_IN, DOLLY_OUT = 0.55, 1.8  # final view size relative to the start
TRACK_SMOOTHING = 0.3  # fraction of the gap to the followed subject closed per frame


def _zoom_factor(size: float) -> float:
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
    medium = _zoom_factor(size) * size
    if floor_y is not None:
        medium = max(medium, (fy1 - floor_y) * 1.4)
    if scale == "close-up":
        vh = 0.4 * _zoom_factor(size) * size
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


def _ease(u: float) -> float:
    """Smoothstep: camera moves start and end gently, as an operator would."""
    u = min(1.0, max(0.0, u))
    return u * u * (3 - 2 * u)


class CameraPath:
    """The view per frame for one shot's camera move.

    `follow` returns the current position of the subject a tracking shot follows; it is called once
    per frame, after the physics has been stepped.
    """

    def __init__(self, move: str, start: Box, follow: Callable[[], tuple[float, float]] | None):
        moves = ("static", "pan-left", "pan-right", "tilt-up", "tilt-down", "dolly-in",
                 "dolly-out", "track")
        if move not in moves:
            raise ValueError(f"camera move {move!r}; expected one of {', '.join(moves)}")
        self.move = move
        self.start = start
        self.follow = follow
        x0, y0, x1, y1 = start
        # A dolly closes in on the centre of the opening frame, where the framing put the action.
        self.focus = ((x0 + x1) / 2, (y0 + y1) / 2)
        self._cx = (x0 + x1) / 2

    def view(self, i: int, total: int) -> Box:
        """The view rectangle of frame i of total."""
        x0, y0, x1, y1 = self.start
        vw, vh = x1 - x0, y1 - y0
        u = _ease(i / max(total - 1, 1))
        if self.move in ("pan-left", "pan-right"):
            dx = PAN_FRACTION * vw * u * (1 if self.move == "pan-right" else -1)
            return (x0 + dx, y0, x1 + dx, y1)
        if self.move in ("tilt-up", "tilt-down"):
            dy = TILT_FRACTION * vh * u * (1 if self.move == "tilt-up" else -1)
            return (x0, y0 + dy, x1, y1 + dy)
        if self.move in ("dolly-in", "dolly-out"):
            end = DOLLY_IN if self.move == "dolly-in" else DOLLY_OUT
            s = 1 + (end - 1) * u
            fx, fy = self.focus  # the focus point keeps its place on screen
            return (fx + (x0 - fx) * s, fy + (y0 - fy) * s, fx + (x1 - fx) * s, fy + (y1 - fy) * s)
        if self.move == "track" and self.follow is not None:
            tx, _ = self.follow()
            if math.isfinite(tx):
                self._cx += (tx - self._cx) * (TRACK_SMOOTHING if i else 1.0)
            return (self._cx - vw / 2, y0, self._cx + vw / 2, y1)
        return self.start
