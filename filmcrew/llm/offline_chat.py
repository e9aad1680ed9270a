"""The offline director's ear: reads a chat message as a new film, an edit of the current plan, or talk.

Rules, not a model: which shot ("the second shot", "shot 3", "the last one"), what to do with it
(slower, faster, longer, shorter, drop), and how the music should change ("darker music", "a faster
score"). A message that asks for no edit and describes something is a new film.
"""

from __future__ import annotations

import re

from filmcrew.schemas import ChatTurn, MusicEdit, SceneEdit, ShotEdit, StoryPlan

ORDINALS = {"first": 1, "opening": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
            "fourth": 4, "4th": 4, "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7,
            "eighth": 8}
LAST = ("last", "final", "closing", "ending")
#: phrase → shot operation; the first phrase found wins, so multi-word phrases come first
SHOT_OPS = (
    (("slow motion", "slow-motion", "slow down", "slow it down", "slower"), "slower"),
    (("speed up", "speed it up", "faster", "quicker"), "faster"),
    (("drop", "remove", "delete", "cut out", "get rid of", "lose the", "skip"), "drop"),
    (("longer", "extend", "lengthen", "hold"), "longer"),
    (("shorter", "trim", "tighten", "shorten"), "shorter"),
)
MUSIC_WORDS = ("music", "score", "soundtrack", "song", "tune", "strings", "melody")
#: mood word → brief changes
MOODS = (
    (("darker", "dark", "moodier", "ominous", "brooding"),
     MusicEdit(brightness="dark", mode="minor", emotional_tone="dark and brooding")),
    (("sadder", "sad", "melancholic", "melancholy"),
     MusicEdit(brightness="dim", mode="minor", emotional_tone="sad and melancholic")),
    (("tenser", "more tense", "scarier", "suspense"),
     MusicEdit(mode="minor", emotional_tone="tense and suspenseful")),
    (("brighter", "happier", "lighter", "cheerful", "joyful", "upbeat"),
     MusicEdit(brightness="bright", mode="major", emotional_tone="bright and joyful")),
    (("calmer", "softer", "gentler", "quieter", "peaceful"),
     MusicEdit(emotional_tone="calm and peaceful", tempo_factor=0.85)),
    (("epic", "bigger", "grander", "heroic"), MusicEdit(mode="major", emotional_tone="epic and heroic")),
)
GREETINGS = ("hi", "hello", "hey", "thanks", "thank you", "ok", "okay", "great", "cool", "nice")


def _has(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", text) is not None


def shot_position(text: str, n_shots: int) -> int | None:
    """The 1-based shot a message names ("shot 2", "the second shot", "the last one"), or None."""
    m = re.search(r"shot\s*#?\s*(\d+)", text)
    if m:
        return int(m.group(1))
    for word, pos in ORDINALS.items():
        if _has(text, word):
            return pos
    if any(_has(text, w) for w in LAST):
        return -1
    return None


def _music_edit(text: str) -> MusicEdit | None:
    for words, edit in MOODS:
        if any(_has(text, w) for w in words):
            update = {}
            if _has(text, "faster") or _has(text, "quicker"):
                update["tempo_factor"] = 1.2
            elif _has(text, "slower"):
                update["tempo_factor"] = 0.8
            return edit.model_copy(update=update)
    if _has(text, "faster") or _has(text, "quicker"):
        return MusicEdit(tempo_factor=1.2)
    if _has(text, "slower"):
        return MusicEdit(tempo_factor=0.8)
    return None


_ORDINAL_COUNT = {"second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                  "eighth": 8, "ninth": 9, "tenth": 10}
_COUNT_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "twenty": 20}


def scene_edits(text: str, plan: StoryPlan) -> list[SceneEdit]:
    """'make the boat faster' -> the boat's pace; 'add a third rock', 'two more plates', 'only one
    rock' -> a count. Subjects are the plan's, matched by name or by their last word."""
    subjects: dict[str, int] = {}
    for shot in plan.shots:
        for x in shot.subjects:
            subjects[x.name] = max(subjects.get(x.name, 0), x.count)
    out: list[SceneEdit] = []
    for name, count in subjects.items():
        words = {name, name.split()[-1]}
        plural = {w + ("es" if w.endswith(("s", "sh", "ch", "x")) else "s") for w in words}
        said = [w for w in (*words, *plural) if _has(text, w)]
        if not said:
            continue
        w = "|".join(re.escape(x) for x in sorted(said, key=len, reverse=True))
        if m := re.search(rf"\badd (?:an?|the) ({'|'.join(_ORDINAL_COUNT)}) (?:{w})\b", text):
            out.append(SceneEdit(op="count", subject=name, count=_ORDINAL_COUNT[m.group(1)]))
        elif m := re.search(rf"\b(?:add )?(\d+|{'|'.join(_COUNT_WORDS)}|another|an? extra|one more) "
                            rf"(?:more )?(?:{w})\b", text):
            n = m.group(1)
            more = "more" in m.group(0) or n in ("another", "an extra", "a extra", "one more") \
                or m.group(0).startswith("add")
            k = 1 if n in ("another", "an extra", "a extra", "one more") else (
                int(n) if n.isdigit() else _COUNT_WORDS[n])
            out.append(SceneEdit(op="count", subject=name, count=count + k if more else k))
        elif m := re.search(rf"\b(?:remove|take away|drop) (?:one|a|an) (?:of the )?(?:{w})\b", text):
            out.append(SceneEdit(op="count", subject=name, count=max(1, count - 1)))
        elif any(_has(text, x) for x in ("faster", "quicker", "speed up", "more quickly")):
            out.append(SceneEdit(op="faster", subject=name))
        elif any(_has(text, x) for x in ("slower", "slow down", "more slowly")) or re.search(
                r"\bslow (?:the |it )?[\w ]{0,20}\bdown\b", text):
            out.append(SceneEdit(op="slower", subject=name))
    return out


def interpret(message: str, plan: StoryPlan | None) -> ChatTurn:
    """Read `message` against the current plan (None before the first film)."""
    text = " ".join(message.lower().split())
    if plan is None:
        if text.strip(" .!?") in GREETINGS or len(text.split()) < 3:
            return ChatTurn(kind="talk", reply="Tell me what the film should show, e.g. "
                                               "'a fox runs through snow at dawn'.")
        return ChatTurn(kind="new", request=message.strip(), reply="Planning a new film.")
    music_words = any(_has(text, w) for w in MUSIC_WORDS)
    music = _music_edit(text) if music_words else None
    position = shot_position(text, len(plan.shots))
    shot_edits: list[ShotEdit] = []
    op = next((o for phrases, o in SHOT_OPS if any(_has(text, p) for p in phrases)), None)
    names_a_shot = position is not None or _has(text, "shot") or _has(text, "clip")
    if op and names_a_shot and not (music_words and position is None):
        shot_edits.append(ShotEdit(op=op, shot=position if position is not None else -1))
    edits = [] if _has(text, "shot") or _has(text, "clip") else scene_edits(text, plan)
    if edits and not shot_edits:
        what = [f"{e.subject} {e.op if e.op != 'count' else f'x{e.count}'}" for e in edits]
        return ChatTurn(kind="edit", scene_edits=edits, music=music,
                        reply="Editing the scene: " + ", ".join(what) + ".")
    if shot_edits or music:
        what = [f"{e.op} shot {e.shot if e.shot > 0 else len(plan.shots)}" for e in shot_edits]
        what += ["change the music"] if music else []
        return ChatTurn(kind="edit", shot_edits=shot_edits, music=music,
                        reply="Editing the cut: " + ", ".join(what) + ".")
    if text.strip(" .!?") in GREETINGS or len(text.split()) < 3:
        return ChatTurn(kind="talk", reply="Tell me how to change the cut (e.g. 'make the second "
                                           "shot slower', 'darker music', 'drop the last shot') "
                                           "or describe a new film.")
    return ChatTurn(kind="new", request=message.strip(), reply="Planning a new film.")
