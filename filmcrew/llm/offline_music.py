"""The offline music-brief writer: FilmComposer's seven visual attributes and the musical choices, by rules.

What the request says about the music wins ("tense strings", "upbeat piano", "in E minor", "100 bpm");
what it says about the picture fills the rest: the mood from mood words and from the action (a shatter
or an explosion is tense, a bounce is playful), brightness from the time of day, colour from the
materials. The mood then picks mode, tempo range, default instruments and a key (the seed chooses
among a few keys that suit the mood, so two runs with different seeds are not scored identically).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from filmcrew.scene import action_phrase, subject_phrase
from filmcrew.schemas import MusicBrief, Shot


@dataclass(frozen=True)
class Mood:
    words: str  # regex alternation of the words that name or imply the mood
    implied_by: str  # regex of action words that suggest it when nothing names a mood
    mode: str
    tempo: tuple[float, float]
    instruments: tuple[str, ...]
    keys: tuple[str, ...]
    adjectives: str


MOODS: dict[str, Mood] = {
    "tense": Mood(r"tense|tension|suspense\w*|thrill\w*|ominous|anxious|nervous|danger\w*|dread",
                  r"shatter|(?<!fireworks )(?<!firework )explo|crash|smash|collapse|burst|break|knocked off|detonat",
                  "minor", (90, 120), ("strings", "low brass", "timpani", "bass"), ("D", "C", "F#"),
                  "tense, suspenseful"),
    "sad": Mood(r"sad|sadness|melanchol\w*|sorrow\w*|grief|lonely|mourn\w*|tragic|funeral|tearful",
                r"wilt|fade|alone", "minor", (60, 75), ("piano", "cello", "strings"), ("A", "E", "D"),
                "sad, melancholic"),
    "dark": Mood(r"dark|gloomy|grim|sinister|horror|noir|menac\w*", r"volcano|lava|storm",
                 "minor", (70, 95), ("low strings", "synth pad", "bass", "percussion"), ("C", "Eb", "B"),
                 "dark, brooding"),
    "joyful": Mood(r"joy\w*|happy|playful|cheerful|fun|whimsical|upbeat|bouncy|festive|party|celebrat\w*",
                   r"bounc|danc|play|jump|balloon|bubble|firework", "major", (100, 130),
                   ("piano", "pizzicato strings", "glockenspiel", "percussion"), ("C", "G", "D"),
                   "joyful, playful"),
    "calm": Mood(r"calm|peaceful|serene|gentle|quiet|tranquil|relax\w*|sooth\w*|meditative",
                 r"melt|drift|float|flow|ripple|candle|dew|sunrise", "major", (60, 80),
                 ("piano", "strings", "harp"), ("F", "C", "G"), "calm, gentle"),
    "mysterious": Mood(r"myster\w*|eerie|strange|enigmatic|uncanny", r"fog|mist|shadow|moonlit",
                       "dorian", (70, 95), ("celesta", "strings", "synth pad", "bass"), ("D", "E", "A"),
                       "mysterious, curious"),
    "dreamy": Mood(r"dream\w*|ethereal|magical|wonder\w*|enchant\w*",
                   r"rainbow|prism|refract|reflect|mirror|shimmer|glow", "lydian", (65, 85),
                   ("harp", "synth pad", "piano", "strings"), ("F", "C", "Eb"), "dreamy, ethereal"),
    "epic": Mood(r"epic|heroic|grand|triumph\w*|majestic|massive", r"launch|rocket|erupt|avalanche",
                 "minor", (80, 110), ("orchestra", "brass", "drums", "choir"), ("D", "C", "E"),
                 "epic, heroic"),
    "energetic": Mood(r"energetic|action|chase|race|racing|driving|exciting|intense|fight\w*|fast",
                      r"speed|race|chase|crash into", "mixolydian", (120, 150),
                      ("drums", "electric guitar", "bass", "synth"), ("E", "A", "G"), "energetic, driving"),
}
NEUTRAL = Mood("", "", "major", (80, 110), ("strings", "piano", "bass", "percussion"), ("C", "G", "F"),
               "restrained, atmospheric")

#: Instrument words a request may name, and the name the composer gets.
INSTRUMENTS: dict[str, str] = {
    r"string quartet|string section|strings": "strings", r"violins?": "violin", r"cellos?": "cello",
    r"violas?": "viola", r"double bass|bass guitar|bass\b(?! drum)": "bass", r"pianos?": "piano",
    r"drums?|drumming|bass drum": "drums", r"percussion": "percussion", r"timpani": "timpani",
    r"synth\w*": "synth", r"electric guitar": "electric guitar", r"(?<!electric )guitars?": "guitar",
    r"brass": "brass", r"horns?": "horns", r"trumpets?": "trumpet", r"trombones?": "trombone",
    r"flutes?": "flute", r"clarinets?": "clarinet", r"oboes?": "oboe", r"choir|choral|voices": "choir",
    r"organ": "organ", r"harps?": "harp", r"bells": "bells", r"glockenspiel": "glockenspiel",
    r"marimba": "marimba", r"celesta": "celesta", r"sax\w*": "saxophone", r"orchestra\w*": "orchestra",
}
MUSIC_WORDS = re.compile(
    r"\b(music|musical|score|soundtrack|song|melody|tune|bpm|tempo|key of|major|minor|"
    + "|".join(INSTRUMENTS)
    + r")\b",
    re.I,
)
_KEYS = {"C": "C", "C#": "C#", "DB": "C#", "D": "D", "D#": "Eb", "EB": "Eb", "E": "E", "F": "F",
         "F#": "F#", "GB": "F#", "G": "G", "G#": "Ab", "AB": "Ab", "A": "A", "A#": "Bb", "BB": "Bb",
         "B": "B"}
_MODES = ("major", "minor", "dorian", "lydian", "mixolydian", "phrygian")


def is_music_clause(text: str) -> bool:
    """True when a clause is about the score ("tense strings", "music: upbeat piano")."""
    return MUSIC_WORDS.search(text) is not None


def _mood(music_text: str, request: str) -> str:
    """The mood: named in the music words (x3), named in the request (x2), implied by the action (x1)."""
    score: dict[str, int] = {}
    for name, m in MOODS.items():
        s = 3 * len(re.findall(rf"\b({m.words})\b", music_text, re.I))
        s += 2 * len(re.findall(rf"\b({m.words})\b", request, re.I))
        s += len(re.findall(rf"\b({m.implied_by})", request, re.I))
        if s:
            score[name] = s
    if not score:
        return "neutral"
    order = list(MOODS)
    return max(score, key=lambda k: (score[k], -order.index(k)))


def _instruments(music_text: str) -> list[str]:
    found: list[tuple[int, str]] = []
    for rx, name in INSTRUMENTS.items():
        m = re.search(rf"\b({rx})", music_text, re.I)
        if m and name not in (n for _, n in found):
            found.append((m.start(), name))
    return [n for _, n in sorted(found)]


def _tempo(music_text: str, base: tuple[float, float]) -> tuple[float, float]:
    m = re.search(r"(\d{2,3})\s*(bpm|beats per minute)", music_text, re.I)
    if m:
        bpm = min(max(float(m.group(1)), 21.0), 299.0)
        return (bpm, bpm)
    if re.search(r"\b(fast|upbeat|driving|quick|uptempo)\b", music_text, re.I):
        return (max(base[0], 120.0), max(base[1], 150.0))
    if re.search(r"\b(slow|gentle|languid)\b", music_text, re.I):
        return (min(base[0], 60.0), min(base[1], 80.0))
    return base


def _brightness(request: str, shots: Sequence[Shot], mood: str) -> str:
    times = {s.time_of_day for s in shots}
    if "night" in times or re.search(r"\b(dark|noir|gloomy|midnight)\b", request, re.I):
        return "dark"
    if times & {"dusk", "dawn"} or re.search(r"\b(dim|candle\w*|twilight)\b", request, re.I):
        return "dim"
    if re.search(r"\b(bright|sunny|sunlit|dazzling)\b", request, re.I) or mood in (
        "joyful", "calm", "dreamy", "energetic"
    ):
        return "bright"
    return "neutral"


def _color_tone(request: str, shots: Sequence[Shot], style: str) -> str:
    low = request.lower()
    times = {s.time_of_day for s in shots}
    if "noir" in style or "noir" in low or "black and white" in low:
        return "black and white, high contrast"
    if re.search(r"\b(fire|flame|explo|lava|sunset|firework|burn|erupt|volcan)", low):
        return "warm red and orange"
    if "night" in times:
        return "cold blue"
    if "dusk" in times:
        return "warm orange and purple"
    if "dawn" in times:
        return "soft pink and gold"
    if re.search(r"\b(ice|snow|water|glass|frost|ocean|sea|rain)", low):
        return "cool blue and grey"
    return "natural"


def _theme(request: str) -> str:
    low = request.lower()
    for rx, theme in (
        (r"shatter|break|smash|crack", "fragility and sudden loss"),
        (r"firework", "celebration and spectacle"),
        (r"explo|detonat|erupt", "destruction and release"),
        (r"melt|freez|evaporat|boil|condens", "transformation over time"),
        (r"bounc|play|danc|balloon", "play and motion"),
        (r"rainbow|prism|mirror|reflect|light|glow", "light and wonder"),
        (r"fire|flame|burn|candle", "warmth and danger"),
        (r"wave|ocean|sea|river|rain|water|lake|pond|waterfall", "the power of water"),
        (r"crash|collid|race|chase", "speed and impact"),
    ):
        if re.search(rf"\b({rx})", low):
            return theme
    return "a small moment of physics"


def _shot_scale(shots: Sequence[Shot]) -> str:
    seq: list[str] = []
    for s in shots:
        if not seq or seq[-1] != s.camera.scale:
            seq.append(s.camera.scale)
    return " to ".join(seq)


def _key_mode(music_text: str, mood: Mood, seed: int) -> tuple[str, str]:
    key = mood.keys[seed % len(mood.keys)]
    mode = mood.mode
    # The key letter is matched case-sensitively so "in a bright mood" is not "in A".
    m = re.search(
        r"\b(?i:in|key of)\s+([A-G])\s*(#|b|(?i:sharp|flat))?\s*"
        r"(?i:(major|minor|dorian|lydian|mixolydian|phrygian))?\b",
        music_text,
    )
    if m:
        acc = {"#": "#", "sharp": "#", "b": "B", "flat": "B"}.get((m.group(2) or "").lower(), "")
        key = _KEYS.get(m.group(1).upper() + acc, key)
        mode = (m.group(3) or mode).lower()
    else:
        named = [md for md in _MODES if re.search(rf"\b{md}\b", music_text, re.I)]
        if named:
            mode = named[0]
    return key, mode


def write_music_brief(
    request: str,
    shots: Sequence[Shot],
    *,
    music_text: str = "",
    style: str = "cinematic",
    seed: int = 0,
) -> MusicBrief:
    """A MusicBrief for a film of `shots` made from `request`.

    `music_text` holds the request's clauses about the music ("tense strings"); they outrank what the
    picture implies. Deterministic for a given seed.
    """
    if not shots:
        raise ValueError("write_music_brief: no shots")
    mood_name = _mood(music_text, request)
    mood = MOODS.get(mood_name, NEUTRAL)
    key, mode = _key_mode(music_text, mood, seed)
    tmin, tmax = _tempo(music_text, mood.tempo)
    instruments = _instruments(music_text) or list(mood.instruments)
    brightness = _brightness(request, shots, mood_name)
    color = _color_tone(request, shots, style)
    theme = _theme(request)
    action_shot = next((s for s in shots if s.events), shots[0])
    action = "; ".join(action_shot.events) or action_shot.local_prompt
    acted = [s for s in shots if s.actions and s.kind != "replay"]
    if acted:  # the scene language: "the plates topple off the shelf; the plates shatter onto the floor"
        action = "; ".join(action_phrase(a, s) for s in acted for a in s.actions)
    firsts = {x.name: x for s in shots for x in s.subjects}
    names = [subject_phrase(x) if (x.count > 1 or x.colors) else x.name for x in firsts.values()]
    where = {"table": "on a table", "ground": "outdoors", "water": "on the water", "sky": "in the sky",
             "space": "in space", "indoor": "indoors", "street": "in a street"}[shots[0].setting]
    place = next((s.place for s in shots if s.place), None)
    if place is not None:
        where = "in space" if place == "space" else f"in the {place}"
    scene = f"{', '.join(names[:4]) or 'an empty scene'} {where}, {shots[0].time_of_day}"
    tempo = f"{tmin:.0f} bpm" if tmin == tmax else f"{tmin:.0f}-{tmax:.0f} bpm"
    description = (
        f"{mood.adjectives.capitalize()} {style} score in {key} {mode}, {tempo}, "
        f"featuring {', '.join(instruments)}; {brightness} and {color} in feel, "
        f"theme of {theme}, accents on the cuts and impacts."
    )
    return MusicBrief(
        scene=scene,
        brightness=brightness,  # type: ignore[arg-type]
        color_tone=color,
        action=action,
        emotional_tone=mood.adjectives,
        shot_scale=_shot_scale(shots),
        theme=theme,
        description=description,
        key=key,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        tempo_bpm_min=tmin,
        tempo_bpm_max=tmax,
        instruments=instruments,
    )
