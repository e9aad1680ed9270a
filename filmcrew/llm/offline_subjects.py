"""Subjects from words: the catalog object kinds and materials a request names, by regex, no NLP.

'a steel ball' is a ball made of steel, 'an ice cube' is the catalog's ice cube, 'a glass of water' is
the glass and the water in it, 'the ball' later on is the ball named before. Shared by the offline
planner (who is in the film) and its event splitter (what reads as a verb).
"""

from __future__ import annotations

import re

from filmcrew.catalog import KIND_ALIASES, MATERIALS, OBJECT_KINDS, find_kind, find_material
from filmcrew.llm.offline_music import is_music_clause
from filmcrew.schemas import Subject

#: Kinds that stay put unless told otherwise: the set and the props things happen on or through.
FIXTURES = {"table", "chair", "building", "bridge", "tree", "mirror", "prism", "lens", "lamp",
            "pool", "volcano", "puddle"}
#: Kinds that hold a liquid: "a glass of water" puts the water in the glass's shape.
CONTAINERS = {"glass", "cup", "bottle", "vase", "pot", "pool", "barrel", "balloon", "bubble"}
#: Place words: a subject named right after one is acted on in place ("melting on a plate").
PLACES = {"on", "off", "from", "onto", "into", "over", "under", "at", "in", "across", "through",
          "against", "beside", "near", "behind", "above", "below", "inside", "toward", "towards"}
_VERB_STOP = {"its", "his", "hers", "this", "is", "was", "has", "as", "us", "yes", "less", "plus",
              "glass", "across", "always", "towards", "perhaps", "whereas", "the", "a", "an", "then"}
_VERBS = {"fall", "fly", "hit", "break", "melt", "burn", "run", "roll", "drop", "burst", "crash"}
#: Words that are not subjects next to these neighbours: "catches fire", "in spring", "pan left".
_IDIOM_BEFORE = {"fire": {"catch", "catches", "caught", "on", "set", "sets", "open", "opens"},
                 "spring": {"in"}}
_IDIOM_AFTER = {"pan": {"left", "right", "across", "over", "to", "up", "down"},
                "pans": {"left", "right", "across", "over", "to", "up", "down"},
                "wave": {"goodbye", "hello", "at"}, "waves": {"goodbye", "hello", "at"}}
_JOINERS = {"and", "or", "of", "is", "are", "was", "in", "on", "at", "to", "with", "from", "into", "onto",
            "the", "a", "an", "then", "as", "by", "off", "over", "under", "through", "while", "it"}

def tokens(text: str) -> list[str]:
    """Lower-case words, hyphenated ones kept whole ('slow-motion')."""
    return re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower())


def singular(phrase: str) -> str:
    """'glasses' -> 'glass', 'balls' -> 'ball'; catalog words and aliases stay as they are."""
    if phrase in OBJECT_KINDS or phrase in KIND_ALIASES or phrase in MATERIALS:
        return phrase
    for cut in (2, 1):
        stem = phrase[:-cut]
        if phrase.endswith("es"[-cut:]) and (find_kind(stem) or find_material(stem)):
            return stem
    return phrase


def verbish(word: str) -> bool:
    """A word that reads as a verb here: 'shatters', 'knocked', 'fall' (but not 'glass' or 'its')."""
    if word in _VERBS:
        return True
    return (word.endswith(("s", "ed", "ing")) and len(word) > 3 and word not in _VERB_STOP
            and not find_kind(word) and not find_material(word) and not is_music_clause(word))


def find_subjects(text: str) -> list[Subject]:
    """Catalog subjects named in `text`, in order: 'a steel ball' -> steel ball (kind ball, steel).

    Longest catalog phrase first ('ice cube' before 'ice'); a material word before a kind is its
    material ('rubber ball'); 'a glass of water' is the glass and the water in it.
    """
    words = tokens(text)
    found: dict[str, Subject] = {}
    adjective = ""  # a material word waiting for the noun it describes
    i = 0
    while i < len(words):
        w = words[i]
        prev, nxt = (words[i - 1] if i else ""), (words[i + 1] if i + 1 < len(words) else "")
        if prev in _IDIOM_BEFORE.get(w, ()) or nxt in _IDIOM_AFTER.get(w, ()):
            i, adjective = i + 1, ""
            continue
        hit = next(((" ".join(words[i : i + n]), n) for n in (3, 2, 1)
                    if i + n <= len(words) and find_kind(" ".join(words[i : i + n]))), None)
        mat = find_material(w)
        if mat and (hit is None or hit[1] == 1) and find_kind(nxt):
            adjective, i = w, i + 1  # "steel ball", "glass marble", "water balloon"
            continue
        if hit:
            phrase, n = hit
            if n == 3 and words[i + 1] == "of":  # "glass of water": the container, then its content
                phrase, n = w, 1
            k = find_kind(phrase)
            assert k is not None
            adj = find_material(adjective) if adjective else None
            noun = singular(phrase)
            _add(found, Subject(name=f"{adjective} {noun}" if adj else noun, kind=k.name,
                                material=adj.name if adj else k.material,
                                role="static" if k.name in FIXTURES else "moving"))
            i, adjective = i + n, ""
            continue
        if mat and (w != "light" or prev == "of" or nxt in ("beam", "ray", "beams", "rays")):
            container = find_kind(words[i - 2]) if i >= 2 and prev == "of" else None
            kind_name = {"fire": "campfire", "light": "lamp"}.get(mat.name) or (
                container.name if container and container.name in CONTAINERS
                else {"liquid": "puddle", "gas": "cloud"}.get(mat.state, "object"))
            name = singular(w)
            if nxt.isalpha() and nxt not in _JOINERS and not verbish(nxt) and mat.state == "solid":
                name, i = f"{w} {nxt}", i + 1  # "metal can", "sand castle": a thing made of it
            _add(found, Subject(name=name, kind=kind_name, material=mat.name, role="moving"))
        i, adjective = i + 1, ""
    return list(found.values())


def _add(found: dict[str, Subject], s: Subject) -> None:
    """Keep one subject per name; a bare noun ('the ball') is the modified one seen before ('steel ball')."""
    if s.name in found or any(e.name.endswith(" " + s.name) for e in found.values()):
        return
    found[s.name] = s


def mentioned(text: str, subjects: list[Subject]) -> list[str]:
    """Names of `subjects` the text shows: 'the rubber ball' is one ball, 'the ball' is every ball."""
    here = {s.name for s in find_subjects(text)}
    return [s.name for s in subjects if s.name in here or s.name.split()[-1] in here]


def in_place(text: str, name: str) -> bool:
    """True when every mention of `name` follows a place word: 'melting on a plate', 'off a table'."""
    words, head = tokens(text), name.split()[-1]
    spots = [i for i, w in enumerate(words) if singular(w) == head]
    return bool(spots) and all(set(words[max(0, i - 3) : i]) & PLACES for i in spots)
