"""The scene a shot asks the previz to stage, read from the plan's scene language (issue 17).

`scene_spec(shot)` turns the shot's scene fields (place, subjects with count and arrangement, scenery,
starting relations, timed actions) into plain records the stagecraft builds bodies from. It reads the
fields with `getattr`, so a shot from an older plan (no scene fields) gives None and the previz stages
it the old way (keyword staging). Times become world seconds here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Verbs the stagecraft performs by moving bodies (the rest are left to the phenomena).
MOTION_VERBS = frozenset({
    "roll", "slide", "drop", "fall", "topple", "swing", "throw", "launch", "push", "knock over", "hit",
    "drift", "float", "sink", "glide", "fly", "land", "bounce", "scatter", "collapse", "move", "jump",
})
#: Arrangements that mean many even when the count says one ("a brick wall"): the count they default to.
GROUP_DEFAULT = {"wall": 28, "stack": 5, "row": 5, "pile": 8, "ring": 8, "scattered": 6}

#: Named things whose size and material the catalog kind does not say (metres, side view).
NAMED: dict[str, tuple[tuple[float, float], str, str]] = {
    "wrecking ball": ((0.6, 0.6), "circle", "steel"),
    "toy boat": ((0.45, 0.16), "boat", "wood"),
    "boat": ((2.5, 0.8), "boat", "wood"),
    "paper plane": ((0.28, 0.06), "plane_toy", "paper"),
    "paper airplane": ((0.28, 0.06), "plane_toy", "paper"),
    "book": ((0.04, 0.24), "box", "paper"),
    "domino": ((0.02, 0.05), "box", "wood"),
    "leaf": ((0.08, 0.02), "box", "wood"),
    "coin": ((0.025, 0.004), "box", "gold"),
    "apple": ((0.08, 0.08), "circle", "flesh"),
    "orange": ((0.08, 0.08), "circle", "flesh"),
    "egg": ((0.045, 0.06), "circle", "ceramic"),
    "can": ((0.066, 0.12), "box", "aluminium"),
    "tin can": ((0.066, 0.12), "box", "aluminium"),
    "toy car": ((0.12, 0.05), "box", "plastic"),
    "log": ((1.2, 0.3), "box", "wood"),
    "crate": ((0.5, 0.4), "box", "wood"),
    "ice cube": ((0.03, 0.03), "box", "ice"),
}


@dataclass
class SpecSubject:
    name: str
    kind: str
    material: str
    count: int = 1
    arrangement: str = "single"
    role: str = "moving"  # the plan's physical role: moving | static | background
    story_role: str = "actor"
    colors: list[str] = field(default_factory=list)


@dataclass
class SpecScenery:
    name: str
    kind: str
    material: str = ""
    angle_deg: float | None = None
    steps: int | None = None
    height_m: float | None = None
    flow: str | None = None
    speed_m_s: float | None = None


@dataclass
class SpecRelation:
    subject: str
    relation: str
    object: str


@dataclass
class SpecAction:
    subject: str
    verb: str
    path: str | None
    target: str | None
    t0: float  # world seconds from the start of the shot
    t1: float
    pace: float = 1.0


@dataclass
class SceneSpec:
    place: str | None
    subjects: list[SpecSubject]
    scenery: list[SpecScenery]
    relations: list[SpecRelation]
    actions: list[SpecAction]
    shot_kind: str = "action"

    def subject(self, name: str) -> SpecSubject | None:
        return next((s for s in self.subjects if s.name == name), None)

    def scenery_named(self, name: str | None) -> SpecScenery | None:
        return next((s for s in self.scenery if s.name == name), None)

    def relations_of(self, name: str) -> list[SpecRelation]:
        return [r for r in self.relations if r.subject == name]

    def actions_of(self, name: str) -> list[SpecAction]:
        return [a for a in self.actions if a.subject == name]

    @property
    def staged(self) -> bool:
        """Whether there is anything to stage beyond single subjects on a plain ground."""
        return bool(self.scenery or self.relations or any(a.verb in MOTION_VERBS for a in self.actions)
                    or any(s.count > 1 or s.arrangement != "single" for s in self.subjects))


def count_of(s: SpecSubject) -> int:
    """Bodies to build: the count, or the arrangement's usual size when a group is counted as one."""
    if s.count == 1 and s.arrangement in GROUP_DEFAULT:
        return GROUP_DEFAULT[s.arrangement]
    return max(1, int(s.count))


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def scene_spec(shot: Any) -> SceneSpec | None:
    """The staged scene of a shot, or None when the plan does not speak the scene language."""
    scenery = list(_get(shot, "scenery", None) or [])
    relations = list(_get(shot, "relations", None) or [])
    actions = list(_get(shot, "actions", None) or [])
    place = _get(shot, "place", None)
    subjects = list(_get(shot, "subjects", None) or [])
    if not (scenery or relations or actions or place) and all(
            int(_get(s, "count", 1) or 1) == 1 and _get(s, "arrangement", "single") in (None, "single")
            for s in subjects):
        return None
    camera = _get(shot, "camera", None)
    time_scale = float(_get(camera, "time_scale", 1.0) or 1.0) if camera is not None else 1.0
    world = float(_get(shot, "duration_s", 1.0)) * time_scale
    spec = SceneSpec(
        place=place,
        subjects=[SpecSubject(name=_get(s, "name"), kind=_get(s, "kind", "object"),
                              material=_get(s, "material", "wood"), count=int(_get(s, "count", 1) or 1),
                              arrangement=_get(s, "arrangement", "single") or "single",
                              role=_get(s, "role", "moving") or "moving",
                              story_role=_get(s, "story_role", "actor") or "actor",
                              colors=list(_get(s, "colors", None) or []))
                  for s in subjects],
        scenery=[SpecScenery(name=_get(s, "name"), kind=_get(s, "kind"),
                             material=_get(s, "material", "") or "", angle_deg=_get(s, "angle_deg"),
                             steps=_get(s, "steps"), height_m=_get(s, "height_m"),
                             flow=_get(s, "flow"), speed_m_s=_get(s, "speed_m_s"))
                 for s in scenery],
        relations=[SpecRelation(_get(r, "subject"), _get(r, "relation"), _get(r, "object"))
                   for r in relations],
        actions=[SpecAction(subject=_get(a, "subject"), verb=_get(a, "verb"), path=_get(a, "path"),
                            target=_get(a, "target"),
                            t0=float(_get(a, "start", 0.0) or 0.0) * world,
                            t1=float(_get(a, "end", 1.0) if _get(a, "end", 1.0) is not None else 1.0) * world,
                            pace=float(_get(a, "pace", 1.0) or 1.0))
                 for a in actions],
        shot_kind=_get(shot, "kind", "action") or "action",
    )
    return spec
