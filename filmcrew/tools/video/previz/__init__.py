"""Previz: the CPU default video backend, a 2D physics animatic of one shot.

`render_previz(shot, annotation)` simulates the shot's subjects and annotated phenomena in a pymunk
world and draws each frame with PIL: stage, labelled subjects, camera move, overlay. Nothing heavy is
imported until it is called, so `import filmcrew` stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from filmcrew.tools.video.previz.scene import PrevizEvent

if TYPE_CHECKING:
    from filmcrew.schemas import PhysicsAnnotation, Shot

__all__ = ["PrevizClip", "PrevizEvent", "render_previz"]


@dataclass
class PrevizClip:
    """A rendered shot: frames plus what happened in it."""

    frames: np.ndarray  # (T, H, W, 3) uint8, T == round(shot.duration_s * fps)
    events: list[PrevizEvent]  # impacts, shatters, ... in screen time, sorted
    tracks: dict[str, np.ndarray]  # subject name -> (T, 2) world positions in metres (NaN: no body)
    views: np.ndarray = field(default_factory=lambda: np.empty((0, 4)))  # (T, 4) camera view
    # rectangle x0, y0, x1, y1 in metres per frame: pixels per metre = W / (x1 - x0)
    fps: int = 24


def render_previz(
    shot: Shot,
    annotation: PhysicsAnnotation | None,
    *,
    width: int = 640,
    height: int = 360,
    fps: int = 24,
    seed: int = 0,
    shot_number: int = 1,
    style: str = "",
    overlay: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> PrevizClip:
    """Render one shot as a physics animatic.

    The world advances `shot.camera.time_scale / fps` seconds per frame, so slow motion and time-lapse
    are real changes of playback speed, not retimed frames. `seed` picks the initial-condition jitter;
    the same seed gives identical frames. `progress(done, total)` is called after each frame, with the count of frames made.
    `style` is accepted for interface parity with the generative backends; the previz look is fixed.
    """
    if width < 16 or height < 16:
        raise ValueError(f"frame size {width}x{height}; both sides must be >= 16 px")
    if fps <= 0:
        raise ValueError(f"fps {fps}; must be > 0")
    if annotation is not None and annotation.shot_id != shot.id:
        raise ValueError(f"annotation is for {annotation.shot_id!r}, not shot {shot.id!r}")
    from filmcrew.tools.video.previz.render import render_shot

    frames, scene, tracks, views = render_shot(
        shot, annotation, width=width, height=height, fps=fps, seed=seed,
        shot_number=shot_number, overlay=overlay, progress=progress,
    )
    events = sorted(scene.events, key=lambda e: e.time_s)
    return PrevizClip(frames=frames, events=events, tracks=tracks, views=views, fps=fps)
