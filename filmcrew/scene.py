"""The scene language's rules and words: business-rule checks on a plan's scene fields, and the text
that the physics caption, the music brief and the video prompts read from them.

Pure functions of the schemas (no LLM, no tools), so every agent can import them.

Rules (checked in code after parsing; the messages go back to an LLM as repair text):
- every name in a shot's relations and actions is a subject or scenery of that shot;
- counts are at least 1; an action starts no later than it ends, inside the shot (fractions 0..1);
- every story beat of `plan.beats` is performed in exactly one shot (replays may show it again).
"""

from __future__ import annotations

from filmcrew.schemas import Action, Scenery, Shot, StoryPlan, Subject

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven",
                8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve", 20: "twenty"}
#: The arrangement as words after the count: "six plates stacked", "bricks in a wall".
_ARRANGED = {"row": "in a row", "stack": "stacked", "wall": "built into a wall", "pile": "in a pile",
             "ring": "in a ring", "scattered": "scattered"}
#: Verbs in the third person: "the plates topple", "the plate topples".
_THIRD = {"knock over": "knocks over", "fly": "flies", "push": "pushes", "splash": "splashes",
          "rest": "rests", "drift": "drifts"}


def shot_problems(shot: Shot) -> list[str]:
    """What breaks the scene rules in one shot, as sentences an LLM can act on."""
    out: list[str] = []
    names = shot.names()
    known = ", ".join(sorted(names)) or "none"
    seen: set[str] = set()
    for s in [*shot.subjects, *shot.scenery]:
        if s.name in seen:
            out.append(f"{shot.id}: the name {s.name!r} is used twice; subject and scenery names must be "
                       "unique within a shot")
        seen.add(s.name)
    for s in shot.subjects:
        if s.count < 1:
            out.append(f"{shot.id}: subject {s.name!r} has count {s.count}; counts are at least 1")
    for r in shot.relations:
        for n in (r.subject, r.object):
            if n not in names:
                out.append(f"{shot.id}: relation '{r.subject} {r.relation} {r.object}' names {n!r}, which "
                           f"is not a subject or scenery of the shot (they are: {known}); add it or "
                           "use one of those names")
    for i, a in enumerate(shot.actions):
        for n in (a.subject, a.target):
            if n is not None and n not in names:
                out.append(f"{shot.id}: action {i + 1} ({a.subject} {a.verb}) names {n!r}, which is not "
                           f"a subject or scenery of the shot (they are: {known}); add it or use one "
                           "of those names")
        if not 0 <= a.start <= a.end <= 1:
            out.append(f"{shot.id}: action {i + 1} ({a.subject} {a.verb}) runs from {a.start:g} to "
                       f"{a.end:g}; start and end are fractions of the shot, 0 <= start <= end <= 1")
    return out


def plan_problems(plan: StoryPlan) -> list[str]:
    """Every broken scene rule of the plan (empty when it is sound)."""
    out = [p for s in plan.shots for p in shot_problems(s)]
    if plan.beats:
        n = len(plan.beats)
        where: dict[int, list[str]] = {}
        for s in plan.shots:
            if s.kind == "replay":
                continue
            for b in dict.fromkeys(a.beat for a in s.actions if a.beat is not None):
                where.setdefault(b, []).append(s.id)
        for b, ids in sorted(where.items()):
            if b > n:
                out.append(f"beat {b} is performed in {', '.join(ids)}, but the plan has {n} beats; "
                           f"beat numbers run 1..{n}")
        for b in range(1, n + 1):
            ids = where.get(b, [])
            if not ids:
                out.append(f"beat {b} ({plan.beats[b - 1]!r}) is in no shot's actions; give it an action "
                           "(with beat set) in one shot")
            elif len(ids) > 1:
                out.append(f"beat {b} ({plan.beats[b - 1]!r}) is performed in {len(ids)} shots "
                           f"({', '.join(ids)}); it belongs in exactly one (a replay shot may repeat it)")
    return out


def check_scene(plan: StoryPlan) -> None:
    """Raise ValueError naming every broken scene rule (the LLM's repair text)."""
    problems = plan_problems(plan)
    if problems:
        raise ValueError("the scene breaks these rules: " + "; ".join(problems[:8]))


# --------------------------------------------------------------------------------------------------
# Words


def plural(name: str) -> str:
    """'plate' -> 'plates', 'glass' -> 'glasses', 'leaf' -> 'leaves'; a plural stays."""
    if name.endswith(("ss", "sh", "ch", "x")):
        return name + "es"
    if name.endswith("s"):
        return name
    if name.endswith("y") and name[-2:-1] not in ("a", "e", "o", "u"):
        return name[:-1] + "ies"
    if name.endswith("leaf"):
        return name[:-1] + "ves"
    return name + "s"


def subject_phrase(s: Subject) -> str:
    """'six red plates stacked', 'a wrecking ball', 'twelve bricks built into a wall'."""
    words = [*s.colors]
    if s.material and s.material not in s.name and s.material not in ("water", "fire", "light") \
            and s.kind != s.name and s.material not in _USUAL.get(s.kind, ()):
        words.append(s.material)
    noun = " ".join([*words, s.name])
    if s.count == 1:
        lead = "an" if noun[:1] in "aeiou" else "a"
        mass = s.name in _MASS
        text = noun if mass else f"{lead} {noun}"
    else:
        text = f"{NUMBER_WORDS.get(s.count, str(s.count))} {' '.join([*words, plural(s.name)])}"
    arranged = _ARRANGED.get(s.arrangement)
    return f"{text} {arranged}" if arranged and s.count > 1 else text


#: Things counted by the amount, with no article: "water", "sand".
_MASS = {"water", "milk", "oil", "juice", "sand", "snow", "rain", "lava", "smoke", "steam", "soup",
         "fire", "light", "ice", "mud", "honey", "paint", "wax", "butter", "chocolate"}
#: Materials a kind is usually made of, which the text need not repeat ("a ceramic plate").
_USUAL = {"plate": ("ceramic",), "glass": ("glass",), "ball": ("rubber",), "rock": ("stone",),
          "brick": ("ceramic",), "candle": ("wax",), "box": ("wood",), "block": ("wood",)}


def _the(name: str, shot: Shot) -> str:
    s = next((x for x in shot.subjects if x.name == name), None)
    return f"the {plural(name) if s is not None and s.count > 1 else name}"


def action_phrase(a: Action, shot: Shot) -> str:
    """'the plates topple off the shelf'."""
    s = next((x for x in shot.subjects if x.name == a.subject), None)
    many = s is not None and s.count > 1
    verb = a.verb if many else _THIRD.get(a.verb, a.verb + ("es" if a.verb.endswith(("sh", "ch", "ss", "x")) else "s"))
    if a.verb == "knock over" and a.path:  # "the glass is knocked off the table"
        verb = "are knocked" if many else "is knocked"
    pace = " quickly" if a.pace >= 1.5 else " slowly" if a.pace <= 0.67 else ""
    where = f" {a.path}" if a.path else ""
    target = f" {_the(a.target, shot)}" if a.target else ""
    if a.path is None and a.target:
        where = " at" if a.verb in ("throw", "launch") else ""
        if a.verb in ("hit", "push", "knock over", "reflect", "refract"):
            where = ""
    return f"{_the(a.subject, shot)} {verb}{pace}{where}{target}"


def relation_phrase(r_subject: str, relation: str, r_object: str, shot: Shot) -> str:
    s = next((x for x in shot.subjects if x.name == r_subject), None)
    subj = subject_phrase(s) if s is not None else f"the {r_subject}"
    obj = next((x for x in shot.scenery if x.name == r_object), None)
    obj_text = _scenery_phrase(obj) if obj is not None else f"the {r_object}"
    return f"{subj} {relation} {obj_text}"


def _scenery_phrase(sc: Scenery) -> str:
    bits = []
    if sc.kind in ("ramp", "hill") and sc.angle_deg is not None:
        bits.append(f"{sc.angle_deg:g}° ")
    if sc.kind == "waterfall" and sc.height_m is not None:
        bits.append(f"{sc.height_m:g} m ")
    mat = f"{sc.material} " if sc.material and sc.material not in sc.name else ""
    lead = "an" if (bits[0] if bits else mat + sc.name)[:1] in "aeiou" else "a"
    return f"{lead} {''.join(bits)}{mat}{sc.name}"


def describe_scene(shot: Shot) -> str:
    """The shot's scene in one plain sentence, from the scene fields only; '' when it has none.

    'Six plates stacked on a shelf, in a kitchen: the plates topple off the shelf, then the plates
    shatter onto the floor.'
    """
    if not (shot.subjects or shot.scenery or shot.actions):
        return ""
    placed = {r.subject for r in shot.relations}
    parts = [relation_phrase(r.subject, r.relation, r.object, shot) for r in shot.relations
             if any(x.name == r.subject for x in shot.subjects)][:3]
    named = {r.object for r in shot.relations} | {a.target for a in shot.actions}
    parts += [subject_phrase(s) for s in shot.subjects if s.name not in placed and s.name not in
              {r.object for r in shot.relations} and s.role != "background"][: max(0, 4 - len(parts))]
    parts += [_scenery_phrase(sc) for sc in shot.scenery if sc.name not in named][:2]
    where = f", in {'the ' if shot.place not in ('space',) else ''}{shot.place}" if shot.place else ""
    head = ", ".join(parts) + where
    acts = ", then ".join(action_phrase(a, shot) for a in shot.actions)
    text = f"{head}: {acts}" if acts else head
    return (text[:1].upper() + text[1:]).strip() + "."
