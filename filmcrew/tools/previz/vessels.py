"""Vessels: where a phase-changing liquid sits, and the puddles and dishes drawn for it.

A liquid of the shot goes inside the shot's container when there is one (water in the pot, milk in the
glass); a liquid brought in as a prop gets a dish of its own; a liquid subject with no container is a
pool on the floor. The geometry is re-read every frame, so a vessel that moves carries its contents.
"""

from __future__ import annotations

from dataclasses import dataclass

from filmcrew.tools.previz.props import add_prop, lerp_color, subject_box
from filmcrew.tools.previz.scene import Canvas, Scene, SubjectBody


@dataclass
class Vessel:
    """The box a liquid fills when full: centre x, bottom, width and height in world metres."""

    scene: Scene
    liquid: SubjectBody
    container: SubjectBody | None  # the shot's cup, glass or pot holding it, if any
    own_dish: bool  # we brought the liquid and draw its dish
    width: float
    height: float

    def box(self) -> tuple[float, float, float, float]:
        """(cx, base, w, h) now: inside the container's walls, or where the liquid stands."""
        if self.container is not None:
            cx, cy, w, h = subject_box(self.scene, self.container)
            return (cx, cy - h / 2 + 0.08 * h, 0.84 * w, 0.8 * h)
        cx, cy, _, h = subject_box(self.scene, self.liquid)
        return (cx, cy - self.liquid.size_m[1] / 2, self.width, self.height)

    def draw_dish(self, canvas: Canvas, color: tuple[int, int, int] = (150, 155, 165)) -> None:
        """Our own dish, drawn as an open U in front of its contents."""
        if not self.own_dish:
            return
        cx, base, w, h = self.box()
        dish(canvas, cx, base, w * 1.04, h * 1.1, color)


def container_of(scene: Scene) -> SubjectBody | None:
    """The shot's first open container with a rigid body (glass, cup, vase, pot)."""
    for s in scene.subjects:
        if s.visible and s.body is not None and s.kind.shape == "cup" and s.material.state == "solid":
            return s
    return None


def liquid_vessel(scene: Scene, name: str, key: str, min_depth: float) -> Vessel:
    """Claim the shot's liquid (preferring one with a `key` transition point) and place it.

    `min_depth` is the least depth of a pool or dish as a fraction of its width, so a puddle that is
    two centimetres thick in a two-metre frame still shows its phase change.
    """
    cands = [s for s in scene.subjects if s.visible and s.drawn_by is None and s.material.state == "liquid"]
    cands.sort(key=lambda s: getattr(s.material, key) is None)
    cup = container_of(scene)
    if cands:
        liquid, own = cands[0], False
    else:
        liquid, own = add_prop(scene, "water", "pot", "water", drawn_by=name, min_fraction=0.22), True
    liquid.drawn_by = name
    w, h = liquid.size_m
    if cup is not None:
        return Vessel(scene, liquid, cup, False, w, h)
    return Vessel(scene, liquid, None, own, w, max(h, min_depth * w))


def dish(canvas: Canvas, cx: float, base: float, w: float, h: float, wall: tuple[int, int, int]) -> None:
    """A container drawn as an open U."""
    pts = [canvas.to_px(cx - w / 2, base + h), canvas.to_px(cx - w / 2, base),
           canvas.to_px(cx + w / 2, base), canvas.to_px(cx + w / 2, base + h)]
    canvas.draw.line(pts, fill=wall, width=max(2, int(canvas.length_px(0.04 * w))), joint="curve")


def puddle(canvas: Canvas, cx: float, base: float, width: float, height: float,
           color: tuple[int, int, int], alpha: int = 235) -> None:
    """A puddle: the upper half of an ellipse resting on y = base, with a lighter rim."""
    if width <= 0 or height <= 0:
        return
    x0, y0 = canvas.to_px(cx - width / 2, base + height)
    x1, y1 = canvas.to_px(cx + width / 2, base - height)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return
    canvas.draw.chord([x0, y0, x1, y1], 180, 360, fill=(*color, alpha))
    rim = lerp_color(color, (255, 255, 255), 0.45)
    canvas.draw.arc([x0, y0, x1, y1], 200, 340, fill=(*rim, 200), width=1)

