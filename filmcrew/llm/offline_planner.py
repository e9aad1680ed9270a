"""The offline planner: a StoryPlan from a request by regex and the catalog, when no LLM is configured.

The request is cut into clauses ("then", ";", "finally", sentence ends); a clause about the music goes
to the music brief, a "slow-motion replay" clause replays the action before it, every other clause is a
beat of action whose events are its verb phrases ("is knocked off a table and shatters" → two events).
Subjects are catalog object kinds and materials found in the words, named the same in every shot so
their identity holds. A film with fewer beats than `min_shots` gets the shots an editor would add: a
wide establishing shot, a close-up of the aftermath or a wide closing shot, a slow-motion replay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from filmcrew.catalog import OBJECT_KINDS, find_kind, find_material, material
from filmcrew.llm.offline_music import is_music_clause, write_music_brief
from filmcrew.llm.offline_scene import split_beats
from filmcrew.llm.offline_staging import (
    BeatScene,
    film_subjects,
    make_scenery,
    parse_beats,
    place_of,
    resolve,
    setting_for,
    story_roles,
    windows,
)
from filmcrew.llm.offline_subjects import find_subjects, in_place, mentioned, tokens, verbish
from filmcrew.scene import subject_phrase
from filmcrew.schemas import Action, Camera, SceneRelation, Scenery, Shot, StoryPlan, Subject

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
    "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90, "half a": 0.5,
}
_NUM_WORD = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
# "45s" and "1.5 min" take abbreviations; number words only full units, and never "a second" (an order)
_DURATION = re.compile(
    rf"\b(?:(\d+(?:\.\d+)?)[\s-]*(seconds?|secs?|s|minutes?|mins?)|"
    rf"(?!(?:a|an|one)[\s-]+second\b)({_NUM_WORD})[\s-]+(seconds?|minutes?))\b(?:[\s-]*long)?",
    re.I,
)
_SHOT_COUNT = re.compile(rf"\b(?:in\s+)?(\d+|{_NUM_WORD})\s+shots\b", re.I)
_SPLIT = re.compile(
    r"[.!?;]+\s*|\s*,?\s*\b(?:and then|then|after that|afterwards|finally|later|followed by|next(?! to))\b,?\s*"
    r"|,\s*(?=(?:slow[- ]motion|replay|close-up|cut to|wide shot|the camera)\b)",
    re.I,
)
_FILM = r"(?:film|video|movie|clip|animation|sequence|scene)"
_META = re.compile(
    rf"^(?:please\s+)?(?:make|create|generate|render|shoot|show)(?:\s+me)?\s+(?:(?:a|an|the)\s+)?"
    rf"(?:[a-z-]+\s+){{0,2}}{_FILM}\s*(?:of|where|in which|showing|about|:)?\s*"
    rf"|^(?:please\s+)?(?:make|create|generate|render|shoot|show)(?:\s+me)?\s+(?=(?:a|an|the)\s)"
    rf"|^(?:(?:a|an|the)\s+)?(?:[a-z-]+\s+){{0,2}}{_FILM}\s*(?:of|where|in which|showing|about|:)\s*"
    r"|^(?:of|showing|where)\s+",
    re.I,
)
_MUSIC_TAIL = re.compile(r"\s+(?:with|to|over|under|set to|scored with)\s+((?:[\w-]+\s+){0,3}[\w-]+)\s*$", re.I)
_REPLAY = re.compile(r"\breplay", re.I)
_SLOW = re.compile(r"\b(slow[- ]?mo(?:tion)?|slo-?mo|in slow)\b", re.I)
_SUPER_SLOW = re.compile(r"\b(super|ultra|extreme(?:ly)?) slow", re.I)
_LAPSE = re.compile(r"\btime[- ]?lapse\b", re.I)
_HOURS = re.compile(r"\bover (?:the )?(hours|days|weeks|the day|the night)\b", re.I)
_SLOW_CHANGE = re.compile(r"\b(melt|freez|froze|evaporat|rust|grow|wilt|rot|dries|condens)", re.I)
_ACTION = re.compile(
    r"\b(fall|fell|drop|shatter|melt|explod|burst|roll|bounc|crash|hit|break|broke|pour|spill|flow|"
    r"burn|fl(y|ies|ew)|rise|launch|knock|slid|tumbl|freez|boil|mov|walk|run|jump|collid)", re.I)
#: Editor's shots (establishing, closing…) are added only while shots stay this long on average.
MIN_PADDED_SHOT_S = 1.0
#: Materials as adjectives, for the global prompt ("a steel ball", "a golden ring").
_ADJECTIVE = {"wood": "wooden", "gold": "golden", "glass": "glass", "steel": "steel", "iron": "iron",
              "rubber": "rubber", "stone": "stone", "ceramic": "ceramic", "ice": "ice", "wax": "wax",
              "plastic": "plastic", "paper": "paper", "aluminium": "aluminium", "concrete": "concrete",
              "lead": "lead", "chocolate": "chocolate", "snow": "snow", "fabric": "cloth"}
_CAMERA_WORDS = re.compile(
    r"\b(shot|camera|close-?up|slow[- ]?motion|time[- ]?lapse|tracking|zoom\w*|pan(s|ning)?|tilt\w*)\b", re.I
)
_CAMERA_ONLY = re.compile(
    r"^(?:the\s+)?(?:camera\s+)?(?:slowly\s+)?(?:pans?|tilts?|dolly|dollies|push(?:es)?|pulls?|zooms?|"
    r"tracks?|follows?|moves?)\b[\w\s-]*$",
    re.I,
)


@dataclass
class _Beat:
    text: str  # the clause, request words only
    events: list[str] = field(default_factory=list)
    kind: str = "action"  # action | replay | establishing | closing | aftermath | detail
    names: list[str] = field(default_factory=list)  # subjects it shows, by name
    still: list[str] = field(default_factory=list)  # of those, the ones only acted on in place
    scale: str | None = None
    time_scale: float | None = None
    scene: BeatScene | None = None  # the parsed scene of an action beat
    numbers: list[int] = field(default_factory=list)  # the story beats it performs, 1-based
    source: _Beat | None = None  # what a replay replays
    extra: list[BeatScene] = field(default_factory=list)  # scenes of beats merged into this one


def plan_request(
    request: str,
    duration_s: float | None,
    *,
    default_duration_s: float = 12.0,
    min_shots: int = 3,
    seed: int = 0,
) -> StoryPlan:
    """Plan a film for `request` without an LLM: shots, events, cameras, subjects and a music brief.

    The duration is `duration_s`, else one stated in the request ("a 20-second film"), else the
    default; the shots' durations sum to it exactly (to 1/100 s).
    """
    text = " ".join(request.split())
    if not text:
        raise ValueError("empty request: describe the film to make")
    if min_shots < 1:
        raise ValueError(f"min_shots={min_shots}; must be >= 1")
    stated, text = stated_duration(text)
    target = duration_s if duration_s is not None else stated or default_duration_s
    if target <= 0:
        raise ValueError(f"duration {target} s; must be > 0")
    asked, text = _stated_shot_count(text)

    clauses = [c.strip(" ,:-") for c in _SPLIT.split(text) if c and c.strip(" ,:-")]
    music: list[str] = []
    story = [_META.sub("", _pull_music(c, music)).strip(" ,:-") for c in clauses]
    story = [c for c in story if c] or [text]
    # a clause's comma parts that act or go somewhere are beats of their own ("…, past two rocks")
    story = [b for c in story for b in ([c] if _REPLAY.search(c) or _CAMERA_ONLY.match(c)
                                         else split_beats(c))] or [text]  # "!!!", "...": one still beat
    subjects = find_subjects(" . ".join(story))
    beats: list[_Beat] = []
    for c in story:
        if beats and _CAMERA_ONLY.match(c) and not find_subjects(c):
            beats[-1].text += f", {c}"  # "the camera pans left" directs the shot before it
        else:
            beats.append(_beat(c, subjects))
    _resolve_references(beats)
    subjects = _parse_scenes(beats, subjects)
    beat_texts = {b.numbers[0]: b.text for b in beats if b.kind == "action" and b.numbers}
    if target < 0.1 * max(1, sum(1 for b in beats if b.numbers)):
        raise ValueError(f"duration {target} s is too short for the story's beats")
    count = max(min_shots, asked or 0)
    beats = _pad(beats, subjects, count, target)
    beats = _merge(beats, count if asked else max(count, int(target // 1.5)))

    setting, time_of_day, style = _setting(text), _time_of_day(text), _style(text)
    place = place_of([b.scene for b in beats if b.scene is not None], text)
    cents = _split_cents(target, [_weight(b) for b in beats])
    film = _film_scenery(beats, subjects)
    so_far: list[list[BeatScene]] = []  # the set stays: a shot shows the scenery of every beat so far
    for b in beats:
        so_far.append([*(so_far[-1] if so_far else []), *([b.scene] if b.scene else []), *b.extra])
    opening = next((b.scene for b in beats if b.scene is not None and b.kind == "action"), None)
    shots = [
        _shot(i, b, c / 100, subjects, _setting(b.text, setting), _time_of_day(b.text, time_of_day),
              place, film, so_far[i], opening)
        for i, (b, c) in enumerate(zip(beats, cents, strict=True))
    ]
    every_action = [a for s in shots for a in s.actions]
    acting = {a.subject for a in every_action}
    shots = [s.model_copy(update={"subjects": [  # a thing the catalog does not know stands still
        x.model_copy(update={"role": "static"}) if x.kind == "object" and x.name not in acting else x
        for x in story_roles(s.subjects, every_action)]}) for s in shots]
    shots, story_beats = _number_beats(shots, beat_texts)
    music_brief = write_music_brief(text, shots, music_text=" ; ".join(music), style=style, seed=seed)
    return StoryPlan(
        global_prompt=_global_prompt(subjects, setting if place is None else setting_for(place, setting),
                                     time_of_day, style, place),
        shots=shots,
        music_brief=music_brief,
        style=style,
        beats=story_beats,
    )


def _number_beats(shots: list[Shot], texts: dict[int, str]) -> tuple[list[Shot], list[str]]:
    """Number the story beats the shots perform 1..N, each in exactly one shot; return their texts.

    A parsed beat whose actions name nothing the film shows is performed nowhere and is left out;
    one that two shots both perform (a replay merged into an action shot) belongs to the first of
    them, and is a plain action elsewhere. A replay shot keeps the number of the beat it repeats.
    """
    owner: dict[int, str] = {}
    for s in shots:
        if s.kind != "replay":
            for a in s.actions:
                if a.beat is not None:
                    owner.setdefault(a.beat, s.id)
    new = {old: k + 1 for k, old in enumerate(sorted(owner))}
    out = []
    for s in shots:
        acts = [a.model_copy(update={"beat": new.get(a.beat) if a.beat is not None and (
            s.kind == "replay" or owner.get(a.beat) == s.id) else None}) for a in s.actions]
        out.append(s.model_copy(update={"actions": acts}))
    return out, [" ".join(texts.get(old, "").split()) or f"beat {new[old]}" for old in sorted(owner)]


def _parse_scenes(beats: list[_Beat], found: list[Subject]) -> list[Subject]:
    """Parse each action beat's scene; number the beats; return the film's subjects with counts."""
    action_beats = [b for b in beats if b.kind == "action"]
    scenes = parse_beats([b.text for b in action_beats])
    subjects = film_subjects(found, scenes)
    n = 0
    for b, sc in zip(action_beats, scenes, strict=True):
        b.scene = sc
        if sc.actions:
            n += 1
            b.numbers, sc.number = [n], n
        heads = {p.head for p in sc.subjects} | {a.subject for a in sc.actions}
        exact = {s.name for s in subjects} & heads
        loose = {h.split()[-1] for h in heads if h not in exact}
        extra = [s.name for s in subjects if s.name not in b.names and (
            s.name in exact or s.name.split()[-1] in loose)]
        b.names = [x for x in b.names if any(x == s.name for s in subjects)] + extra
    for b in beats:  # a replay shows the beat before it again
        if b.kind == "replay" and b.scene is None and b.source is not None:
            b.scene, b.names = b.source.scene, list(b.source.names)
            b.numbers = list(b.source.numbers)
    return subjects


def _is_music(part: str) -> bool:
    return is_music_clause(part) and not find_subjects(part) and not _ACTION.search(part)


def _pull_music(clause: str, music: list[str]) -> str:
    """Move what a clause says about the score into `music`; return the rest.

    'tense strings' is all music; 'a boat drifts, sad piano' and 'a glass falls with tense strings'
    end with it.
    """
    if _is_music(clause):
        music.append(clause)
        return ""
    parts, start = re.split(r",\s+", clause), len(music)
    while len(parts) > 1 and _is_music(parts[-1]):
        music.insert(start, parts.pop())  # keep the request's order
    rest = ", ".join(parts)
    m = _MUSIC_TAIL.search(rest)
    if m and _is_music(m.group(1)):
        music.append(m.group(1))
        rest = rest[: m.start()]
    return rest


# --------------------------------------------------------------------------------------------------
# Numbers in the request


def _number(word: str) -> float:
    return float(word) if word[0].isdigit() else float(_NUMBER_WORDS[word.lower()])


def stated_duration(text: str) -> tuple[float | None, str]:
    """('a 20-second film of …') -> (20.0, 'a film of …'); minutes become seconds."""
    m = _DURATION.search(text)
    if not m:
        return None, text
    number, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    value = _number(number) * (60 if unit.lower().startswith("m") else 1)
    return value, " ".join((text[: m.start()] + text[m.end() :]).split())


def _stated_shot_count(text: str) -> tuple[int | None, str]:
    m = _SHOT_COUNT.search(text)
    if not m:
        return None, text
    return max(2, int(_number(m.group(1)))), " ".join((text[: m.start()] + text[m.end() :]).split())


def _split_cents(target_s: float, weights: list[float]) -> list[int]:
    """Integer centiseconds proportional to `weights`, each >= 1, summing exactly to the target."""
    total = round(target_s * 100)
    if total < len(weights):
        raise ValueError(f"duration {target_s} s is too short for {len(weights)} shots")
    wsum = sum(weights)
    cents = [max(1, round(total * w / wsum)) for w in weights[:-1]]
    while sum(cents) > total - 1:  # rounding left the last shot nothing: take from the longest
        cents[cents.index(max(cents))] -= 1
    return [*cents, total - sum(cents)]


# --------------------------------------------------------------------------------------------------
# Beats and shots


def _events(clause: str, names: list[str]) -> list[str]:
    """Verb phrases of a clause: 'a glass is knocked off a table and shatters' -> 2 events.

    A part that starts with a verb gets the clause's first subject ('the glass shatters'); one that
    starts with a determiner and has a verb of its own is its own event ('the water spills'); anything
    else ('a cat, a dog') belongs to the part before.
    """
    events: list[str] = []
    for part in re.split(r",?\s+and\s+|,\s+", clause):
        words = tokens(part)
        if not words or (events and _CAMERA_WORDS.search(part) and not find_subjects(part)):
            continue  # "tracking shot", "in slow motion": direction, not an event
        own_subject = words[0] in ("a", "an", "the", "its", "his", "her", "their") and any(
            verbish(w) for w in words[1:]
        )
        if events and verbish(words[0]):
            events.append((f"the {names[0]} " if names else "") + part.strip())
        elif events and own_subject and any(verbish(w) for w in tokens(events[-1])):
            events.append(part.strip())
        elif events:
            events[-1] = f"{events[-1]} and {part.strip()}"
        else:
            events.append(part.strip())
    return events


def _beat(clause: str, subjects: list[Subject]) -> _Beat:
    names = mentioned(clause, subjects)
    b = _Beat(text=clause, names=names, events=_events(clause, names))
    b.still = [n for n in names if in_place(clause, n)]
    if _REPLAY.search(clause):
        b.kind, b.events, b.time_scale = "replay", [], 0.25
    if re.search(r"\b(establishing|wide shot|aerial|panorama)\b", clause, re.I):
        b.scale = "wide"
    elif re.search(r"\b(close-?up|closeup|macro|detail)\b", clause, re.I):
        b.scale = "close-up"
    if _SUPER_SLOW.search(clause):
        b.time_scale = 0.1
    elif _SLOW.search(clause):
        b.time_scale = 0.25
    elif _HOURS.search(clause):
        b.time_scale = 600.0
    elif _LAPSE.search(clause) or _SLOW_CHANGE.search(clause):
        b.time_scale = 60.0  # minutes of melting or freezing fit in a few seconds on screen
    return b


def _resolve_references(beats: list[_Beat]) -> None:
    """'it shatters' shows the subjects of the beat before; a replay shows that action again, slower."""
    last: _Beat | None = None
    for b in beats:
        if b.kind == "replay" and last is not None:
            b.source = last
            b.events, b.names, b.still = list(last.events), list(last.names), list(last.still)
            b.text = f"replay: {last.text}"
            b.scale = b.scale or "close-up"
        elif b.kind == "action" and b.events:
            if not b.names and last is not None:
                b.names = [n for n in last.names if n not in last.still] or list(last.names)
                first = (tokens(b.events[0]) or [""])[0]
                if b.names and verbish(first):  # "goes out" -> "the flame goes out"
                    b.events[0] = f"the {b.names[-1]} {b.events[0]}"
                    b.text = f"the {b.names[-1]} {b.text}"
            last = b


def _listing(names: list[str]) -> str:
    """'the glass, the water and the table'."""
    items = [f"the {n}" for n in names[:4]] or ["the scene"]
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _pad(beats: list[_Beat], subjects: list[Subject], count: int, target_s: float = 1e9) -> list[_Beat]:
    """Add the shots an editor would add until there are `count`, while time allows.

    In order: a wide establishing shot before the action, a close-up of the aftermath of an impact
    (else a wide closing shot), a slow-motion replay of the key action, then close-up details. No
    shot is added that would leave the shots shorter than MIN_PADDED_SHOT_S on average.
    """
    beats = list(beats)
    count = min(count, max(len(beats), int(target_s // MIN_PADDED_SHOT_S)))
    names = [s.name for s in subjects]
    listing = _listing(names)
    actions = [b for b in beats if b.kind == "action" and b.events]
    key = max(actions, key=lambda b: len(b.events)) if actions else beats[0]
    impact = re.search(r"\b(shatter|smash|crash|explo|burst|break|collid|collapse|hit)", key.text, re.I)
    if len(beats) < count and beats[0].scale != "wide":
        beats.insert(0, _Beat(f"establishing view of {listing}, all at rest", kind="establishing",
                              names=names, scale="wide"))
    if len(beats) < count and impact:
        beats.append(_Beat(f"the aftermath: {listing} at rest", kind="aftermath", names=names,
                           scale="close-up"))
    elif len(beats) < count:
        beats.append(_Beat(f"closing view of {listing}", kind="closing", names=names, scale="wide"))
    if len(beats) < count and key.events and not any(b.kind == "replay" for b in beats):
        beats.insert(beats.index(key) + 1, _Beat(f"replay: {key.text}", list(key.events), "replay",
                                                 list(key.names), list(key.still), "close-up", 0.25,
                                                 key.scene, list(key.numbers), key))
    for i in range(count - len(beats)):
        name = names[i % len(names)] if names else ""
        beats.insert(beats.index(key), _Beat(f"detail of the {name or 'setting'}", kind="detail",
                                             names=[name] if name else [], scale="close-up"))
    return beats


def _merge(beats: list[_Beat], most: int) -> list[_Beat]:
    """Join neighbouring action beats (fewest events first) until there are at most `most` shots.

    With no two action beats side by side, an editor's shot (a detail, the establishing, closing or
    aftermath view, then a replay) is dropped instead: joined to an action beat it would hide that
    beat's action (an editor's shot shows things at rest) or perform it twice (a replay).
    """
    beats = list(beats)
    while len(beats) > max(most, 1):
        pairs = [(len(beats[i].events) + len(beats[i + 1].events), i) for i in range(len(beats) - 1)
                 if beats[i].kind == beats[i + 1].kind == "action"]
        spare = [i for kind in ("detail", "establishing", "closing", "aftermath", "replay")
                 for i in range(len(beats) - 1, -1, -1) if beats[i].kind == kind]
        if not pairs and spare and any(b.kind == "action" for b in beats):
            del beats[spare[0]]
            continue
        _, i = min(pairs or [(0, len(beats) - 2)])
        a, b = beats[i], beats[i + 1]
        beats[i : i + 2] = [_Beat(f"{a.text}, then {b.text}", a.events + b.events, a.kind,
                                  list(dict.fromkeys(a.names + b.names)), a.still + b.still,
                                  a.scale or b.scale, a.time_scale or b.time_scale, a.scene,
                                  a.numbers + b.numbers, None,
                                  a.extra + ([b.scene] if b.scene else []) + b.extra)]
    return beats


def _weight(b: _Beat) -> float:
    """Relative screen time: more events need longer; slow motion needs room; inserts are short."""
    w = {"establishing": 0.8, "closing": 0.8, "aftermath": 0.7, "detail": 0.6}.get(b.kind, 1.0)
    w += 0.4 * max(len(b.events) - 1, 0)
    return w * (1.25 if b.time_scale is not None and b.time_scale < 1 else 1.0)


_MOVES = (
    (r"\bpans? left", "pan-left"),
    # "pan" alone is a cooking pan; the camera pans when it says so or pans somewhere
    (r"\b(camera\s+(slowly\s+)?pans?\b|pans?\s+(right|across|along|over|to)\b|panning)", "pan-right"),
    (r"\btilts? up", "tilt-up"),
    (r"\btilts? down", "tilt-down"),
    (r"\b(dolly in|push(es)? in|zoom(s)? in|moves? closer)", "dolly-in"),
    (r"\b(pull(s)? (back|out)|dolly out|zoom(s)? out)", "dolly-out"),
    (r"\b(track|follow)", "track"),
)
_TRAVEL = re.compile(r"\b(fall|fell|drop|knock|roll|throw|thrown|fl(y|ies|ew)|slid|bounc|launch|run|walk|drive)", re.I)


def _camera(b: _Beat, subjects: list[Subject]) -> Camera:
    """Framing from the words, else from the subjects: big things wide, a small still change close."""
    shown = [s for s in subjects if s.name in b.names and s.role == "moving" and s.name not in b.still
             and material(s.material).state == "solid"]  # a plume of steam is not a wide subject
    scale = b.scale
    if scale is None:
        sizes = [max(OBJECT_KINDS[s.kind].size_m) for s in shown] or [
            max(OBJECT_KINDS[s.kind].size_m) for s in subjects if s.name in b.names  # a volcano erupts
        ]
        if sizes and max(sizes) > 2.5:
            scale = "wide"
        elif sizes and max(sizes) <= 0.15 and not _TRAVEL.search(b.text):
            scale = "close-up"  # a melting cube or a lit candle: the change is small
        else:
            scale = "medium"
    move = next((m for rx, m in _MOVES if re.search(rx, b.text, re.I)), None)
    if move is None:
        move = "dolly-out" if b.kind == "closing" else "static"  # the closing shot pulls back
    return Camera(scale=scale, move=move, time_scale=b.time_scale or 1.0)  # type: ignore[arg-type]


def _shot(i: int, b: _Beat, duration: float, subjects: list[Subject], setting: str, time_of_day: str,
          place: str | None = None, film: dict[str, Scenery] | None = None,
          set_so_far: list[BeatScene] | None = None, opening: BeatScene | None = None) -> Shot:
    cam = _camera(b, subjects)
    names = b.names or [s.name for s in subjects if s.role == "moving"][:2]
    still = b.kind in ("establishing", "closing", "aftermath", "detail")
    scenes = ([b.scene] if b.scene else []) + b.extra
    film = film or {}
    # scenery: what the shot's beats name; an editor's shot shows the whole set
    scenery = dict(film) if still else {p.head: film[p.head] for sc in (set_so_far or scenes)
                                        for p in sc.scenery if p.head in film}
    actions: list[Action] = []
    relations: list[SceneRelation] = []
    parsed = [(sc.number, a) for sc in scenes for a in sc.actions]  # each action with its own beat
    wanted = set(names)
    for _, a in parsed:
        for n in (a.subject, a.target):
            r = resolve(n, subjects, scenery)
            if r is not None and r not in scenery:
                wanted.add(r)
    shot_subjects = [
        s.model_copy(update={"role": "static"}) if still or s.name in b.still else s
        for s in subjects
        if s.name in wanted or s.role == "static"  # fixtures stay in every shot: the table is still there
    ]
    if not still:
        for (n, a), (t0, t1) in zip(parsed, windows(len(parsed)), strict=True):
            who = resolve(a.subject, shot_subjects, scenery)
            if who is None:
                continue
            actions.append(Action(subject=who, verb=a.verb, path=a.path,  # type: ignore[arg-type]
                                  target=resolve(a.target, shot_subjects, scenery), start=t0, end=t1,
                                  beat=n if b.kind == "action" or b.kind == "replay" else None))
        for sc in scenes:
            for x, rel, y in sc.relations:
                rx, ry = resolve(x, shot_subjects, scenery), resolve(y, shot_subjects, scenery)
                if rx and ry and rx != ry and not any(r.subject == rx for r in relations):
                    relations.append(SceneRelation(subject=rx, relation=rel, object=ry))  # type: ignore[arg-type]
    if b.kind == "establishing" and opening is not None:  # at rest where the story starts them
        for x, rel, y in opening.relations:
            rx, ry = resolve(x, shot_subjects, scenery), resolve(y, shot_subjects, scenery)
            if rx and ry and rx != ry and not any(r.subject == rx for r in relations):
                relations.append(SceneRelation(subject=rx, relation=rel, object=ry))  # type: ignore[arg-type]
    speed = ", slow motion" if cam.time_scale < 1 else ", time-lapse" if cam.time_scale > 1 else ""
    frame = {"wide": "Wide shot", "medium": "Medium shot", "close-up": "Close-up"}[cam.scale]
    return Shot(
        id=f"shot-{i + 1}",
        local_prompt=f"{frame}{speed}: {b.text}",
        events=list(b.events),
        duration_s=duration,
        camera=cam,
        subjects=shot_subjects,
        setting=setting_for(place, setting),  # type: ignore[arg-type]
        time_of_day=time_of_day,  # type: ignore[arg-type]
        kind=b.kind,  # type: ignore[arg-type]
        place=place,  # type: ignore[arg-type]
        scenery=list(scenery.values()),
        relations=relations,
        actions=actions,
    )


def _film_scenery(beats: list[_Beat], subjects: list[Subject]) -> dict[str, Scenery]:
    """The set, named once for the film: every scenery word of the story that is not a subject."""
    out: dict[str, Scenery] = {}
    taken = {s.name for s in subjects} | {s.name.split()[-1] for s in subjects}
    for b in beats:
        for sc in ([b.scene] if b.scene else []) + b.extra:
            for p in sc.scenery:
                if p.head not in out and p.head not in taken:
                    out[p.head] = make_scenery(p, b.text)
    return out


# --------------------------------------------------------------------------------------------------
# Look


def _setting(text: str, default: str = "ground") -> str:
    low = text.lower()
    for setting, rx in (
        ("space", r"\b(space|orbit|asteroid|galaxy|zero gravity|on the moon)\b"),
        ("water", r"\b(pool|lake|sea|ocean|river|pond|underwater|in the water|on the water)\b"),
        ("sky", r"\b(sky|skies|clouds|flying|mid-air|midair|fireworks?|over the (?:city|town|lake|sea))\b"),
        ("table", r"\b(table|desk|counter|countertop|tabletop|workbench)\b"),
        ("street", r"\b(street|road|city|highway|intersection|alley|traffic|sidewalk)\b"),
        ("indoor", r"\b(room|kitchen|indoors?|inside|house|lab|laboratory|studio|hall|bathroom|stove|oven|fireplace)\b"),
        ("ground", r"\b(field|forest|yard|park|desert|meadow|garden|beach|mountain|hill|ground)\b"),
    ):
        if re.search(rx, low):
            return setting
    return default


def _time_of_day(text: str, default: str = "day") -> str:
    low = text.lower()
    for tod, rx in (("night", r"\b(night|midnight|moonlit|moonlight|starry|nighttime)\b"),
                    ("dusk", r"\b(sunset|dusk|twilight|evening|golden hour)\b"),
                    ("dawn", r"\b(sunrise|dawn|daybreak|early morning)\b"),
                    ("day", r"\b(noon|midday|daylight|sunny|afternoon|morning)\b")):
        if re.search(rx, low):
            return tod
    return default


def _style(text: str) -> str:
    low = text.lower()
    for style, rx in (("film noir", r"\bnoir\b"), ("documentary", r"\bdocumentar"),
                      ("cartoon", r"\b(cartoon|animated|anime|pixar)"), ("vintage film", r"\b(vintage|retro|8mm|super 8)"),
                      ("science fiction", r"\b(sci-fi|science fiction|futuristic)"), ("horror", r"\bhorror\b"),
                      ("photorealistic", r"\b(photoreal|realistic)")):
        if re.search(rx, low):
            return style
    return "cinematic"


def _global_prompt(subjects: list[Subject], setting: str, time_of_day: str, style: str,
                   place: str | None = None) -> str:
    """The time-invariant look every shot shares: style, subjects with their materials, place, light."""
    parts = []
    for s in subjects:
        # name the material only where it is not what the thing is usually made of ("a steel ball")
        adj = _ADJECTIVE.get(s.material, s.material) if s.material != OBJECT_KINDS[s.kind].material else ""
        desc = s.name if not adj or s.material in s.name or adj in s.name else f"{adj} {s.name}"
        mass_noun = find_kind(s.name) is None and find_material(s.name) is not None  # "water", "snow"
        plural = s.name.endswith("s") and not s.name.endswith("ss")
        if s.count > 1 or s.colors:
            parts.append(subject_phrase(s))  # "six plates stacked", "a red ball"
            continue
        parts.append(desc if mass_noun or plural else f"{'an' if desc[0] in 'aeiou' else 'a'} {desc}")
    things = ", ".join(parts) if parts else "the scene"
    where = {"table": "on a table", "ground": "outdoors", "water": "on the water", "sky": "in the open sky",
             "space": "in space", "indoor": "indoors", "street": "in a street"}[setting]
    if place is not None:
        where = "in space" if place == "space" else "underwater" if place == "underwater" else f"in the {place}"
    light = {"dawn": "soft dawn light", "day": "daylight", "dusk": "warm dusk light", "night": "night, low light"}
    return (f"{style[0].upper() + style[1:]} style. {things[0].upper() + things[1:]}, {where}, "
            f"{light[time_of_day]}; the same look, colours and lighting in every shot.")
