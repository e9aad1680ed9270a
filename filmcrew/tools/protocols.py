"""Tool protocols: what every backend of a role must provide (ARCHITECTURE.md §6).

Tools take typed requests and return `ArtifactRef`s through the artifact store; they never import
LangGraph or the agents, so a script can use them directly. `progress(step, total)` is a plain callback
(the graph wires it to LangGraph's stream writer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from filmcrew.artifacts import ArtifactStore
from filmcrew.schemas import ArtifactRef, MusicBrief, PhysicsAnnotation, RhythmSpots, Shot

Progress = Callable[[int, int], None]


@runtime_checkable
class VideoGenerator(Protocol):
    """Renders one candidate clip of a shot (video only; H.264 MP4 in the store)."""

    name: str

    def generate(self, store: ArtifactStore, node: str, shot: Shot,
                 annotation: PhysicsAnnotation | None, *, seed: int, width: int, height: int,
                 fps: int, shot_number: int, style: str, global_prompt: str = "",
                 progress: Progress | None = None) -> ArtifactRef: ...


@runtime_checkable
class ClipScorer(Protocol):
    """Scores whole sequences of clips (higher = more coherent); one call per beam-search step."""

    name: str

    def score_batch(self, sequences: Sequence[Sequence[Any]]) -> list[float]: ...


@runtime_checkable
class MusicGenerator(Protocol):
    """Writes a score cut to the picture: returns (score JSON, stems WAV with one channel per stem)."""

    name: str

    def compose(self, store: ArtifactStore, node: str, brief: MusicBrief, spots: RhythmSpots,
                sections: list[tuple[float, float, float]], duration_s: float, *, seed: int,
                feedback: list[str], sample_rate: int,
                progress: Progress | None = None) -> tuple[ArtifactRef, ArtifactRef]: ...


@runtime_checkable
class VideoEmbedder(Protocol):
    """Encodes clips to compact latents and decodes them back, at the frame grid or at any frame time."""

    name: str

    def encode(self, frames: np.ndarray, fps: float | None = None) -> Any: ...

    def decode(self, latents: Any, *, steps: int = 1, seed: int = 0) -> np.ndarray: ...

    def decode_at(self, latents: Any, times: Sequence[float], *, unit: Literal["frames", "seconds"] = "frames",
                  steps: int = 1, seed: int = 0) -> np.ndarray: ...

    def interpolate(self, frames: np.ndarray, fps_in: float, fps_out: float, *, steps: int = 1,
                    seed: int = 0) -> np.ndarray: ...

    def save_latents(self, latents: Any, path: str | Path) -> Path: ...

    def load_latents(self, path: str | Path) -> Any: ...
