"""Fitting a generated clip to a shot: the film's frame size and exactly round(duration × fps) frames.

Video models generate at their own native length, frame rate and size (CogVideoX-5B: 49 frames at
8 fps, 720×480; Wan2.1: 81 at 16 fps, 832×480). The film needs its own size and an exact frame
count per shot, so the edit and the score line up to the frame.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def source_frames(n_out: int, fps: float, n_native: int, native_fps: float) -> np.ndarray:
    """Which generated frame shows at each film frame.

    A shot no longer than the native clip plays it in real time (physics at the right speed) and
    ends early; a longer shot stretches the whole clip over its length.
    """
    if n_out < 1 or n_native < 1:
        raise ValueError(f"need at least one frame ({n_out} out, {n_native} generated)")
    speed = min(1.0, (n_native / native_fps) / (n_out / fps))
    t = np.arange(n_out) / fps * speed
    return np.minimum(np.floor(t * native_fps + 1e-9).astype(int), n_native - 1)


def fit_clip(frames: np.ndarray, *, n_out: int, width: int, height: int, fps: float,
             native_fps: float) -> Iterator[np.ndarray]:
    """Frames resized to cover width×height (centre crop) and resampled to exactly n_out frames."""
    import cv2

    _, h, w, _ = frames.shape
    scale = max(width / w, height / h)
    rw, rh = max(width, round(w * scale)), max(height, round(h * scale))
    x0, y0 = (rw - width) // 2, (rh - height) // 2
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    cache: dict[int, np.ndarray] = {}
    for k in source_frames(n_out, fps, len(frames), native_fps):
        if k not in cache:
            cache.clear()  # source indices only ever move forward
            big = cv2.resize(frames[k], (rw, rh), interpolation=interp)
            cache[k] = np.ascontiguousarray(big[y0:y0 + height, x0:x0 + width])
        yield cache[k]
