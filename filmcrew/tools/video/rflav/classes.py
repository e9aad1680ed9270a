"""Which Landscape class (if any) a shot's ambience is: the gate for the RFLAV backend.

RFLAV's Landscape model knows the nine natural-sound classes of MM-Diffusion's Landscape split. A
shot goes to RFLAV only when its physics annotation (WISA phenomena) or its words name one of them;
anything else (a ball on a table, a car in the street) is not ambience this model can make.
"""

from __future__ import annotations

import re

from filmcrew.schemas import PhysicsAnnotation, Shot

#: MM-Diffusion's Landscape classes, in their (alphabetical) order; the class index is the position.
LANDSCAPE_CLASSES: tuple[str, ...] = (
    "explosion",
    "fire crackling",
    "raining",
    "splashing water",
    "squishing water",
    "thunder",
    "underwater bubbling",
    "waterfall burbling",
    "wind noise",
)

# Words that name a class outright, checked in this order (the more specific sound first).
_WORDS: tuple[tuple[str, str], ...] = (
    ("explosion", r"explo\w*|blast\w*|detonat\w*|firework\w*|bomb\w*"),
    ("thunder", r"thunder\w*|lightning|thunderstorm\w*"),
    ("raining", r"rain\w*|drizzl\w*|downpour\w*|shower\w*"),
    ("underwater bubbling", r"underwater|bubbl\w*|scuba|diver\w*"),
    ("waterfall burbling", r"waterfall\w*|cascad\w*|brook\w*|creek\w*|river\w*|"
                           r"rapids|burbl\w*"),
    ("squishing water", r"squish\w*|squelch\w*|mud\w*|bog\w*|swamp\w*|puddle\w*"),
    ("fire crackling", r"fire|fires|flame\w*|campfire\w*|bonfire\w*|burn\w*|crackl\w*|ember\w*"),
    ("splashing water", r"splash\w*|wave\w*|surf\w*|ocean\w*|sea|lake\w*|pond\w*|pour\w*"),
    ("wind noise", r"wind|winds|windy|breeze\w*|gust\w*|gale\w*|storm\w*|blizzard\w*"),
)


def class_index(name: str) -> int:
    """Index of a Landscape class (the model's class label)."""
    try:
        return LANDSCAPE_CLASSES.index(name)
    except ValueError:
        raise ValueError(f"unknown Landscape class {name!r}; one of: "
                         f"{', '.join(LANDSCAPE_CLASSES)}") from None


def _text(annotation: PhysicsAnnotation | None, shot: Shot) -> str:
    parts = [shot.local_prompt, *shot.events]
    if annotation is not None:
        parts += [annotation.caption, annotation.physics_text]
    return " ".join(parts).lower()


def _named(text: str, classes: tuple[str, ...] | None = None) -> str | None:
    for cls, pattern in _WORDS:
        if (classes is None or cls in classes) and re.search(rf"\b(?:{pattern})\b", text):
            return cls
    return None


def landscape_class(annotation: PhysicsAnnotation | None, shot: Shot) -> str | None:
    """The Landscape class of the shot's ambience, or None: the shot does not go to RFLAV.

    Phenomena decide first (explosion → explosion, combustion → fire crackling, liquid motion →
    the water sound its words name, else splashing water; gas motion → wind noise unless the words
    say rain or thunder); without a matching phenomenon the shot's own words decide.
    """
    text = _text(annotation, shot)
    if annotation is not None:
        if "explosion" in annotation.thermodynamics:
            return "explosion"
        if "combustion" in annotation.thermodynamics:
            return "fire crackling"
        if "liquid motion" in annotation.dynamics:
            water = ("raining", "underwater bubbling", "waterfall burbling", "squishing water",
                     "splashing water", "thunder")
            return _named(text, water) or "splashing water"
        if "gas motion" in annotation.dynamics:
            return _named(text, ("thunder", "raining")) or "wind noise"
    named = _named(text)
    if named is None and shot.setting == "water" and annotation is not None \
            and "liquids objects appearance" in annotation.state_changes:
        return "splashing water"
    return named
