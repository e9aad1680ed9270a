"""Video backends behind the `VideoGenerator` protocol, and the registry the crew picks them from."""

from __future__ import annotations

from pathlib import Path

from filmcrew.artifacts import ArtifactStore
from filmcrew.schemas import ArtifactRef, PhysicsAnnotation, Shot
from filmcrew.tools.protocols import Progress, VideoGenerator

PREVIZ_VERSION = "1"


class PrevizGenerator:
    """The CPU default: a 2D physics animatic of the shot (tools/previz)."""

    name = "previz"

    def __init__(self, overlay: bool = True):
        self.overlay = overlay

    def generate(self, store: ArtifactStore, node: str, shot: Shot,
                 annotation: PhysicsAnnotation | None, *, seed: int, width: int, height: int,
                 fps: int, shot_number: int, style: str,
                 progress: Progress | None = None) -> ArtifactRef:
        params = {
            "shot": shot.model_dump(mode="json"),
            "annotation": annotation.model_dump(mode="json") if annotation else None,
            "width": width, "height": height, "fps": fps, "shot_number": shot_number,
            "style": style, "overlay": self.overlay,
        }

        def make(path: Path) -> dict:
            from filmcrew.tools.media import write_video
            from filmcrew.tools.previz import render_previz

            clip = render_previz(shot, annotation, width=width, height=height, fps=fps, seed=seed,
                                 shot_number=shot_number, style=style, overlay=self.overlay,
                                 progress=progress)
            n = write_video(path, clip.frames, fps)
            events = sorted(clip.events, key=lambda e: e.time_s)
            return {
                "duration_s": n / fps, "fps": fps, "width": width, "height": height,
                "frames": n,
                "event_times": [round(e.time_s, 4) for e in events],
                "event_kinds": [e.kind for e in events],
                "event_strengths": [round(e.strength, 4) for e in events],
            }

        return store.get_or_create(node, "previz", PREVIZ_VERSION, params, ext="mp4",
                                   media_type="video/mp4", make=make, seed=seed)


def video_backend(name: str, *, overlay: bool = True, debug_models: bool = False) -> VideoGenerator:
    """The video generator called `name` (see `filmcrew doctor` for what is available)."""
    if name == "previz":
        return PrevizGenerator(overlay=overlay)
    raise ValueError(f"unknown video backend {name!r}")
