"""The previz contract: the scene every phenomenon simulates in and the canvas it draws on.

World units are metres with y pointing up; the ground (or table top) is at `scene.ground_y`; gravity
is (0, -9.81) except in space. Sim time is
world time: a slow-motion shot advances the world by `camera.time_scale / fps` seconds per frame.

A phenomenon is a class registered under one of the 17 WISA phenomenon names. The renderer builds one
instance per annotated phenomenon of a shot, after the subjects' bodies exist, then each frame calls
`step(dt)` (possibly several sub-steps per frame) and `draw(canvas)`. Phenomena act on subjects through
`scene.subjects` (push bodies, shrink a melting solid, hide a vaporised one) and report audible or
visible moments through `scene.emit(...)`, which the music uses as rhythm spots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    import pymunk
    from PIL import Image, ImageDraw

    from filmcrew.catalog import Material, ObjectKind
    from filmcrew.schemas import PhysicsAnnotation, Shot


@dataclass
class PrevizEvent:
    """A moment worth a rhythm spot: an impact, a shatter, an explosion, an ignition, a splash."""

    time_s: float  # screen time from the start of the shot
    kind: str
    strength: float  # 0..1


@dataclass
class SubjectBody:
    """One subject of the plan, as simulated and drawn."""

    name: str
    kind: ObjectKind
    material: Material
    size_m: tuple[float, float]  # width, height
    color: tuple[int, int, int]
    body: pymunk.Body | None = None  # None for subjects that are not rigid bodies
    shapes: list[pymunk.Shape] = field(default_factory=list)
    scale: float = 1.0  # 1 = intact; a melting solid shrinks towards 0
    visible: bool = True
    drawn_by: str | None = None  # name of a phenomenon that draws this subject itself
    temperature_c: float = 20.0
    label: str = ""

    @property
    def position(self) -> tuple[float, float]:
        if self.body is None:
            return (0.0, 0.0)
        p = self.body.position
        return (float(p.x), float(p.y))


@dataclass
class Scene:
    shot: Shot
    annotation: PhysicsAnnotation | None
    space: pymunk.Space  # gravity (0, -9.81); (0, 0) in space
    rng: np.random.Generator
    world: tuple[float, float, float, float]  # x0, y0, x1, y1: the framed area at the start, metres
    ground_y: float
    fps: float
    time_scale: float  # world seconds per screen second
    subjects: list[SubjectBody] = field(default_factory=list)
    t: float = 0.0  # world time since the start of the shot
    events: list[PrevizEvent] = field(default_factory=list)
    play: Any = None  # the staged scene (stagecraft.Play) when the plan speaks the scene language

    @property
    def time_range_s(self) -> tuple[float, float]:
        """The annotated time span of the phenomenon, in world seconds."""
        return self.annotation.time_range_s if self.annotation else (0.0, self.duration_world_s)

    @property
    def temperature_c(self) -> tuple[float, float]:
        return self.annotation.temperature_c if self.annotation else (20.0, 25.0)

    @property
    def duration_world_s(self) -> float:
        return self.shot.duration_s * self.time_scale

    def emit(self, kind: str, strength: float) -> None:
        """Record an event at the current time (converted to screen time)."""
        self.events.append(PrevizEvent(self.t / self.time_scale, kind, float(np.clip(strength, 0, 1))))

    def subject(self, name: str) -> SubjectBody | None:
        for s in self.subjects:
            if s.name == name:
                return s
        return None


class Canvas:
    """An RGB frame plus the world-to-pixel transform of the current camera."""

    def __init__(self, image: Image.Image, view: tuple[float, float, float, float]):
        from PIL import ImageDraw

        self.image = image
        self.draw: ImageDraw.ImageDraw = ImageDraw.Draw(image, "RGBA")
        self.view = view  # x0, y0, x1, y1 in metres currently on screen
        x0, _, x1, _ = view
        self.width, self.height = image.size
        self.px_per_m = self.width / (x1 - x0)

    def to_px(self, x: float, y: float) -> tuple[float, float]:
        """World metres (y up) to pixel coordinates (y down)."""
        x0, _, _, y1 = self.view
        return ((x - x0) * self.px_per_m, (y1 - y) * self.px_per_m)

    def length_px(self, metres: float) -> float:
        return metres * self.px_per_m


class Phenomenon:
    """Base class of a simulated phenomenon; subclasses set `name` and override the three hooks."""

    name: ClassVar[str] = ""
    # False for a phenomenon whose step moves no rigid body, hides or reshapes no subject and draws
    # nothing from the scene's own rng: the renderer's framing rehearsal may then skip stepping it.
    moves_bodies: ClassVar[bool] = True

    def __init__(self, scene: Scene):
        self.scene = scene

    def step(self, dt: float) -> None:
        """Advance the simulation by dt world seconds (the renderer steps the pymunk space itself)."""

    def draw(self, canvas: Canvas) -> None:
        """Draw this phenomenon's particles, rays and effects onto the frame."""

    # Optional hook, called by the renderer when a subject first touches another body or the ground:
    # def on_impact(self, subject, other, impulse: float, speed: float) -> None


REGISTRY: dict[str, type[Phenomenon]] = {}


def register(cls: type[Phenomenon]) -> type[Phenomenon]:
    """Class decorator: make `cls` the simulation of the phenomenon `cls.name`."""
    from filmcrew.schemas import PHENOMENA

    if cls.name not in PHENOMENA:
        raise ValueError(f"{cls.__name__}.name={cls.name!r} is not one of the 17 WISA phenomena")
    REGISTRY[cls.name] = cls
    return cls
