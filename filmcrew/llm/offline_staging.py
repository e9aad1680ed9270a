"""The offline planner's scene fields: subjects with counts, scenery, starting relations and timed
actions for each shot, from the parsed story beats (`offline_scene`).

The film's subjects are found once (so a thing is the same in every shot); each action beat's parse
gives its actions and relations; each shot shows the scenery and subjects its beats name (an
editor's establishing, closing or aftermath shot shows them all, at rest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from filmcrew.catalog import find_kind
from filmcrew.llm.offline_scene import _V as _VERB_FORMS
from filmcrew.llm.offline_scene import (
    PLACE_WORDS,
    SCENERY_PLACE,
    SCENERY_WORDS,
    NounPhrase,
    ParsedAction,
    parse,
    subject_entry,
    tokens,
)
from filmcrew.schemas import PLACE_SETTING, Action, Scenery, Subject

#: Catalog fixtures the previz already draws as subjects: they stay subjects, never scenery too.
FIXTURE_SUBJECTS = {"table", "mirror", "prism", "lens", "pot", "lamp", "pool", "tree", "building",
                    "bridge", "chair", "volcano", "campfire", "candle"}
_HEAT = {"campfire", "candle", "stove", "lava", "volcano"}
_CONTAINERS = {"glass", "cup", "bottle", "vase", "pot", "barrel", "balloon", "bucket", "jar", "bowl"}
_LIQUIDS = {"water", "milk", "oil", "lava", "mercury", "juice", "coffee", "tea", "paint", "honey"}


@dataclass
class BeatScene:
    actions: list[ParsedAction] = field(default_factory=list)
    relations: list[tuple[str, str, str]] = field(default_factory=list)
    scenery: list[NounPhrase] = field(default_factory=list)
    subjects: list[NounPhrase] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    number: int | None = None  # the story beat it performs (1-based), when it has actions


def parse_beats(texts: list[str]) -> list[BeatScene]:
    """Each beat's scene, the actor and verb carried from beat to beat ('…, past two rocks')."""
    out: list[BeatScene] = []
    actor: str | None = None
    verb: str | None = None
    for t in texts:
        p = parse(t, actor, verb)
        out.append(BeatScene(p.actions, p.relations, [x for x in p.phrases if x.kind == "scenery"],
                             [x for x in p.phrases if x.kind == "subject"], p.places))
        if p.actions:
            actor, verb = p.actions[-1].subject, p.actions[-1].verb
        elif out[-1].subjects:
            actor = out[-1].subjects[0].head
    return out


def _head(name: str) -> str:
    return name.split()[-1]


def film_subjects(found: list[Subject], scenes: list[BeatScene]) -> list[Subject]:
    """The old catalog subjects, less scenery words, with counts, arrangements and colours; plus the
    things the catalog lacks that the story names (a toy boat, a paper plane)."""
    phrases: dict[str, NounPhrase] = {}
    for sc in scenes:
        for p in sc.subjects:
            q = phrases.get(p.head)
            if q is None or (p.counted and not q.counted):
                if q is not None:
                    p.colors = list(dict.fromkeys(q.colors + p.colors))
                phrases[p.head] = p
            elif p.colors:
                q.colors = list(dict.fromkeys(q.colors + p.colors))
    out: list[Subject] = []
    used: set[str] = set()
    colours = {c for p in phrases.values() for c in p.colors}
    for s in found:
        if s.name in colours or s.name.split()[-1] in _VERB_FORMS:
            continue  # "stones crumble" is stones that crumble  # "red and gold sparks": gold is a colour here, not a subject
        if (s.name in SCENERY_WORDS or _head(s.name) in SCENERY_WORDS) and s.kind not in FIXTURE_SUBJECTS:
            continue  # a river or a waterfall is scenery, not a puddle
        if s.name in PLACE_WORDS and s.kind not in FIXTURE_SUBJECTS:
            continue
        p = phrases.get(s.name) or next((q for h, q in phrases.items() if h not in used and (
            _head(h) == _head(s.name) or h == s.kind)), None)
        if p is None:  # "ice block" ~ "ice cube": the same catalog kind and material
            p = next((q for h, q in phrases.items() if h not in used and find_kind(_head(h)) is not None
                      and find_kind(_head(h)) == find_kind(_head(s.name))
                      and (q.material or s.material) == s.material), None)
        if p is None and any(s.name in q.words[:-1] and s.name != _head(q.head) for q in phrases.values()):
            continue  # "paper lanterns": paper is what they are made of, not a subject
        if p is not None:
            used.add(p.head)
            update = {"count": max(1, p.count), "arrangement": p.arrangement, "colors": list(p.colors)}
            if p.head.endswith(" " + s.name) or (find_kind(_head(p.head)) == find_kind(_head(s.name))
                                                 and _head(p.head) != _head(s.name)):  # "toy boat", "ice cube"
                update["name"] = p.head
            s = s.model_copy(update=update)
        if any(o.name == s.name for o in out):
            continue  # "a pan" took the pot's phrase before "a pot" came: one pot, named once
        out.append(s)
    for h, p in phrases.items():
        if h in used or any(s.name == h or _head(s.name) == _head(h) for s in out):
            continue
        kind, mat = subject_entry(p)
        if find_kind(kind) is None:
            kind = "object"
        out.append(Subject(name=h, kind=kind, material=mat, count=max(1, p.count),
                           arrangement=p.arrangement, colors=list(p.colors)))  # type: ignore[arg-type]
    return out


def resolve(name: str | None, subjects: list[Subject], scenery: dict[str, Scenery]) -> str | None:
    """The subject or scenery name a parsed head refers to ('bricks' -> 'brick', 'ball' -> 'steel ball')."""
    if name is None:
        return None
    if name in scenery:
        return name
    for s in subjects:
        if s.name == name:
            return s.name
    for s in subjects:
        if _head(s.name) == _head(name) or s.kind == name:
            return s.name
    return None


def story_roles(subjects: list[Subject], actions: list[Action]) -> list[Subject]:
    actors = {a.subject for a in actions}
    targets = {a.target for a in actions}
    out = []
    for s in subjects:
        if s.name in actors:
            role = "pourer" if any(a.verb == "pour" and a.subject == s.name for a in actions) else "actor"
        elif s.kind in _HEAT or s.material in ("fire", "lava"):
            role = "heat source"
        elif s.kind == "lamp" or s.material == "light":
            role = "light source"
        elif s.name in targets:
            role = "target"
        elif s.kind in _CONTAINERS and any(x.material in _LIQUIDS for x in subjects):
            role = "container"
        elif s.kind in ("table", "chair"):
            role = "support"
        elif s.role == "static":
            role = "scenery"
        else:
            role = "actor"
        out.append(s.model_copy(update={"story_role": role}))
    return out


def make_scenery(p: NounPhrase, text: str) -> Scenery:
    """A scenery item with the measures its words give ('a 30-degree ramp', 'a tall shelf')."""
    kind = SCENERY_WORDS[p.head]
    words = set(p.words)
    low = text.lower()
    kw: dict[str, object] = {}
    if kind == "ramp":
        m = re.search(r"(\d+)[\s-]*(?:degree|°|deg)", low)
        kw["angle_deg"] = float(m.group(1)) if m else 35.0 if "steep" in words else 10.0 if "gentle" in words else 20.0
    elif kind == "stairs":
        m = re.search(r"(\d+|\w+)\s+(?:steps|stairs)", low)
        n = m.group(1) if m else ""
        from filmcrew.llm.offline_scene import NUMBERS

        kw["steps"] = int(n) if n.isdigit() else NUMBERS.get(n, 8) if NUMBERS.get(n, 8) > 1 else 8
    elif kind in ("shelf", "ledge", "table", "counter", "desk", "waterfall", "cliff", "window"):
        base = {"shelf": 1.5, "ledge": 1.0, "table": 0.75, "counter": 0.9, "desk": 0.75,
                "waterfall": 3.0, "cliff": 10.0, "window": 1.0}[kind]
        scale = 0.5 if words & {"small", "little", "tiny", "low"} else 2.0 if words & {"tall", "high", "huge", "giant", "big"} else 1.0
        m = re.search(r"(\d+(?:\.\d+)?)[\s-]*(?:m|metre|meter)s?\b", low)
        kw["height_m"] = float(m.group(1)) if m and kind in ("waterfall", "cliff", "shelf", "ledge") else base * scale
    elif kind in ("river", "stream"):
        kw["flow"] = "left" if re.search(r"\b(to the left|leftward)", low) else "right"
        kw["speed_m_s"] = 1.5 if words & {"fast", "rushing", "raging"} or re.search(r"\bfast\b|rapids", low) else 0.5
    mat = p.material or ""
    return Scenery(name=p.head, kind=kind, material=mat, **kw)  # type: ignore[arg-type]


def place_of(scenes: list[BeatScene], text: str) -> str | None:
    """The place the words name ('a classroom', 'the kitchen floor'), else what the scenery implies."""
    for sc in scenes:
        if sc.places:
            return sc.places[0]
    low = " ".join(tokens(text))
    for word, place in sorted(PLACE_WORDS.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b{word}\b", low):
            return place
    for sc in scenes:
        for p in sc.scenery:
            if SCENERY_WORDS[p.head] in SCENERY_PLACE:
                return SCENERY_PLACE[SCENERY_WORDS[p.head]]
    return None


def setting_for(place: str | None, old: str) -> str:
    """The coarse setting: the place's, but a table-top shot indoors stays on the table."""
    if place is None:
        return old
    new = PLACE_SETTING[place]
    return "table" if old == "table" and new in ("indoor", "table") else new


def windows(n: int) -> list[tuple[float, float]]:
    """n consecutive action windows in a shot, after a short lead-in: (start, end) fractions."""
    lead, span = 0.08, 0.88
    return [(round(lead + span * k / n, 3), round(lead + span * (k + 1) / n, 3)) for k in range(n)]
