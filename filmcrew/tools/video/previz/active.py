"""Which registered phenomena a previz shot runs, and in what order (dynamics first).

Shared by the renderer, the staging and the dynamics so none of them imports another for it.
"""

from __future__ import annotations

from filmcrew.schemas import PhysicsAnnotation, Shot
from filmcrew.tools.video.previz.scene import REGISTRY
from filmcrew.tools.video.previz.vessels import holds_liquid

#: Dynamics first, so subjects are staged (thrown, dropped, aimed) before other phenomena look at them.
ORDER = ("rigid body motion", "collision", "elastic motion", "deformation")


def active_phenomena(shot: Shot, annotation: PhysicsAnnotation | None) -> list[str]:
    """The registered phenomena to run, dynamics first.

    Without an annotation a moving subject still moves: rigid body motion and collision run.
    A shot annotated as splitting objects gets collision (which owns fracture) even if not listed.
    A glass of water that moves gets liquid motion, so what it holds can spill.
    """
    if annotation is None:
        names = ["rigid body motion", "collision"]
    else:
        names = list(annotation.phenomena)
        if "object decomposition and splitting" in annotation.state_changes:
            names.append("collision")
    if any(n in ORDER for n in names) and holds_liquid(shot):
        names.append("liquid motion")
    names = [n for n in dict.fromkeys(names) if n in REGISTRY]
    return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))
