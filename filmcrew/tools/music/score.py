"""The symbolic score: notes, chords and sections, with MIDI and ABC views (MUSIC.md).

The score is kept as an artifact so the reviewers read notes, not guesses: JSON for the pipeline,
MIDI for people and DAWs, ABC text (the melody with chord symbols) for the reviewers, as FilmComposer
gives its agents. What the composer and the reviewers share lives here too: scales, moods, and the
feedback phrases a reviewer writes and the composer acts on.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from filmcrew.schemas import MusicBrief

PARTS = ("melody", "harmony", "bass", "percussion")
KEY_PC = {"C": 0, "C#": 1, "D": 2, "Eb": 3, "E": 4, "F": 5, "F#": 6, "G": 7, "Ab": 8, "A": 9,
          "Bb": 10, "B": 11}
MODE_STEPS: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
#: Brighter modes raise more degrees; > 0 reads as bright, < 0 as dark.
MODE_BRIGHTNESS = {"lydian": 3, "major": 2, "mixolydian": 1, "dorian": -1, "minor": -2,
                   "phrygian": -3}
#: General MIDI programs per part (drums go on channel 10 instead).
GM_PROGRAMS = {"melody": 73, "harmony": 4, "bass": 33}  # flute, electric piano, finger bass
MOOD_WORDS = {
    "tense": ("tense", "tension", "suspense", "danger", "fear", "dread", "threat", "anxious",
              "ominous", "menac", "chase", "urgent", "dark", "eerie", "scary"),
    "sad": ("sad", "melanchol", "grief", "lonely", "somber", "sombre", "mourn", "loss", "wistful",
            "nostalg", "tragic"),
    "happy": ("happy", "joy", "playful", "cheer", "fun", "upbeat", "whimsic", "uplift",
              "light-hearted", "bright", "hopeful"),
    "epic": ("epic", "heroic", "triumph", "grand", "majestic", "powerful", "adventur"),
    "calm": ("calm", "peace", "serene", "tranquil", "gentle", "quiet", "relax", "dream", "soft"),
}
_ABC_MODE = {"major": "", "minor": "m", "dorian": "dor", "lydian": "lyd", "mixolydian": "mix",
             "phrygian": "phr"}


def scale_pcs(key: str, mode: str) -> set[int]:
    """Pitch classes of the natural scale of `key` `mode`."""
    if key not in KEY_PC or mode not in MODE_STEPS:
        raise ValueError(f"unknown key/mode {key!r} {mode!r}")
    return {(KEY_PC[key] + s) % 12 for s in MODE_STEPS[mode]}


def key_pcs(key: str, mode: str) -> set[int]:
    """Pitch classes that belong to the key: the scale, plus the raised seventh in minor (the
    harmonic-minor leading tone is part of the minor key, not a chromatic note)."""
    pcs = scale_pcs(key, mode)
    return pcs | {(KEY_PC[key] + 11) % 12} if mode == "minor" else pcs


def degree_pitch(tonic: int, steps: tuple[int, ...], idx: int) -> int:
    """MIDI pitch of scale position `idx` (0 = tonic, 7 = tonic an octave up, -1 = below)."""
    return tonic + 12 * (idx // 7) + steps[idx % 7]


def strong_beats(bar_starts: list[float], beats: list[float], duration_s: float) -> list[float]:
    """Beats 1 and 3 of every bar (the bar's start when it holds no beat): where the melody should
    sound a chord tone."""
    out: list[float] = []
    for i, a in enumerate(bar_starts):
        z = bar_starts[i + 1] if i + 1 < len(bar_starts) else duration_s
        in_bar = [b for b in beats if a - 1e-6 <= b < z]
        out += in_bar[0:3:2] if in_bar else [a]
    return out


def mood_of(brief: MusicBrief) -> str:
    """The mood family of a brief: tense, sad, happy, epic, calm or neutral.

    The emotional tone counts double; the description and theme break ties.
    """
    scores = dict.fromkeys(MOOD_WORDS, 0)
    for text, weight in ((brief.emotional_tone, 2), (brief.description, 1), (brief.theme, 1)):
        low = text.lower()
        for mood, words in MOOD_WORDS.items():
            scores[mood] += weight * sum(w in low for w in words)
    best = max(scores, key=lambda m: scores[m])
    return best if scores[best] > 0 else "neutral"


#: Scale-degree progressions (0 = tonic) per mood; the triads are diatonic to whatever mode is used.
PROGRESSIONS = {
    "tense": (0, 5, 2, 6),  # i–VI–III–VII
    "sad": (0, 3, 5, 4),  # i–iv–VI–v
    "happy": (0, 4, 5, 3),  # I–V–vi–IV
    "epic": (0, 5, 3, 4),  # i–VI–iv–v / I–vi–IV–V
    "calm": (0, 3, 0, 4),  # I–IV–I–V
    "neutral": (0, 5, 3, 4),
}
#: Melody notes per second at mid energy. In seconds, not beats: the tempo is fixed by the cut,
#: and a tense cue at 70 BPM still needs a busy line.
DENSITY = {"tense": 2.2, "epic": 2.0, "happy": 2.0, "neutral": 1.6, "sad": 1.0, "calm": 1.0}


@dataclass
class ComposerSettings:
    """The composer's knobs, from the mood and then the reviewers' feedback."""

    mode: str
    progression: tuple[int, ...]
    density: float  # melody notes per second at mid energy
    max_leap: int = 4  # scale steps between consecutive melody notes (4 = a fifth)
    range_steps: int = 11  # melody span in scale steps (11 ≈ an octave and a fourth)
    strict_scale: bool = False  # False lets a minor cadence use the raised leading tone
    chord_tones_every_beat: bool = False
    snap_to_spots: bool = False
    applied: list[str] = field(default_factory=list)


#: The phrases compose() acts on (matched case-insensitively inside a reviewer's reason). The
#: rule reviewers write them; an LLM critic's prompt can ask for them.
FEEDBACK_PHRASES = (
    "use smaller intervals", "range too wide", "notes outside the key", "use minor mode",
    "use major mode", "put chord tones on strong beats", "snap onsets to the spots",
    "use denser rhythm", "use sparser rhythm",
)


def composer_settings(brief: MusicBrief, feedback: list[str] | tuple[str, ...]) -> ComposerSettings:
    """Settings for the brief's mood, changed by each feedback reason that names a phrase;
    reasons that name none are recorded as ignored."""
    mood = mood_of(brief)
    s = ComposerSettings(mode=brief.mode, progression=PROGRESSIONS[mood], density=DENSITY[mood])
    for reason in feedback:
        r = reason.lower()
        before = len(s.applied)
        if "leaps too large" in r or "smaller intervals" in r:
            s.max_leap = 2
            s.applied.append("max_leap=2")
        if "range too wide" in r:
            s.range_steps = 7
            s.applied.append("range_steps=7")
        if "outside the key" in r or "stricter scale" in r:
            s.strict_scale = True
            s.applied.append("strict_scale")
        if "use minor mode" in r:
            s.mode = "minor"
            s.applied.append("mode=minor")
        if "use major mode" in r:
            s.mode = "major"
            s.applied.append("mode=major")
        if "chord tones" in r:
            s.chord_tones_every_beat = True
            s.applied.append("chord_tones_every_beat")
        if "off the spots" in r or "snap onsets" in r:
            s.snap_to_spots = True
            s.applied.append("snap_to_spots")
        if "denser rhythm" in r:
            s.density *= 1.6
            s.applied.append("density*1.6")
        if "sparser rhythm" in r:
            s.density *= 0.6
            s.applied.append("density*0.6")
        if "resolve to the tonic" in r or "move voices by step" in r:
            s.applied.append("already: tonic ending and nearest-voice harmony are always on")
        if len(s.applied) == before:
            s.applied.append(f"ignored: {reason}")
    return s


@dataclass
class Note:
    """One note; `pitch` is a General MIDI drum number when part is 'percussion'."""

    start_s: float
    dur_s: float
    pitch: int
    velocity: int
    part: str

    def __post_init__(self) -> None:
        if self.part not in PARTS:
            raise ValueError(f"note part {self.part!r}; must be one of {PARTS}")
        if not 1 <= self.velocity <= 127:
            raise ValueError(f"note velocity {self.velocity}; must be in 1..127")
        if not 0 <= self.pitch <= 127:
            raise ValueError(f"note pitch {self.pitch}; must be in 0..127")
        if self.dur_s <= 0 or self.start_s < 0:
            raise ValueError(f"note at {self.start_s} s lasting {self.dur_s} s; need start >= 0, dur > 0")


@dataclass
class Score:
    """A composed piece: notes of the four parts plus the structure the reviewers check against."""

    notes: list[Note]
    tempo_bpm: float
    key: str
    mode: str
    duration_s: float
    sections: list[tuple[float, float]]
    chords: list[tuple[float, list[int]]]  # (start_s, [bass root, voicing...]) per bar
    beat_times_s: list[float] = field(default_factory=list)
    feedback_applied: list[str] = field(default_factory=list)

    def part(self, name: str) -> list[Note]:
        """The notes of one part, in time order."""
        return sorted((n for n in self.notes if n.part == name), key=lambda n: (n.start_s, n.pitch))

    def chord_at(self, t: float) -> list[int]:
        """Pitches of the chord sounding at time t (the first chord before it starts)."""
        current = self.chords[0][1] if self.chords else []
        for start, pitches in self.chords:
            if start <= t + 1e-6:
                current = pitches
        return current

    def to_json(self) -> dict[str, Any]:
        """A plain, JSON-serialisable dict (from_json inverts it)."""
        d = asdict(self)
        d["sections"] = [list(s) for s in self.sections]
        d["chords"] = [[t, list(p)] for t, p in self.chords]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Score:
        """Rebuild a score from `to_json` output."""
        return cls(
            notes=[Note(**n) for n in d["notes"]],
            tempo_bpm=float(d["tempo_bpm"]), key=d["key"], mode=d["mode"],
            duration_s=float(d["duration_s"]),
            sections=[(float(a), float(b)) for a, b in d["sections"]],
            chords=[(float(t), [int(p) for p in ps]) for t, ps in d["chords"]],
            beat_times_s=[float(b) for b in d.get("beat_times_s", [])],
            feedback_applied=list(d.get("feedback_applied", [])),
        )

    def to_midi(self, path: str) -> None:
        """Write a standard MIDI file: one GM instrument per part, percussion on channel 10."""
        import pretty_midi

        pm = pretty_midi.PrettyMIDI(initial_tempo=float(self.tempo_bpm))
        tonic = KEY_PC[self.key]
        if self.mode == "minor":
            pm.key_signature_changes.append(pretty_midi.KeySignature(12 + tonic, 0.0))
        else:  # modes share the signature of their relative major
            rel = (tonic - MODE_STEPS[self.mode][_MODE_DEGREE[self.mode]]) % 12
            pm.key_signature_changes.append(pretty_midi.KeySignature(rel, 0.0))
        pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
        for name in PARTS:
            drums = name == "percussion"
            inst = pretty_midi.Instrument(program=0 if drums else GM_PROGRAMS[name],
                                          is_drum=drums, name=name)
            for n in self.part(name):
                inst.notes.append(pretty_midi.Note(velocity=n.velocity, pitch=n.pitch,
                                                   start=n.start_s, end=n.start_s + n.dur_s))
            pm.instruments.append(inst)
        pm.write(str(path))

    def to_abc(self, title: str = "filmcrew score") -> str:
        """The melody in ABC notation (L:1/16, 4/4) with chord symbols, for the reviewers."""
        return _abc(self, title)


# Which scale degree of the relative major each mode starts on (major 0, dorian 1, ...).
_MODE_DEGREE = {"major": 0, "dorian": 1, "phrygian": 2, "lydian": 3, "mixolydian": 4, "minor": 5}


def _spelling(key: str, mode: str) -> tuple[dict[int, tuple[str, int]], dict[str, int]]:
    """pc -> (letter, alter) for all 12 pcs, and the key signature as letter -> alter.

    Scale notes take consecutive letters from the tonic's; other pcs raise the scale note below
    (sharp keys) or lower the one above (flat keys), so A minor's leading tone is G#.
    """
    letters = "CDEFGAB"
    natural = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
    first = letters.index(key[0])
    spell: dict[int, tuple[str, int]] = {}
    for k, step in enumerate(MODE_STEPS[mode]):
        letter = letters[(first + k) % 7]
        pc = (KEY_PC[key] + step) % 12
        spell[pc] = (letter, (pc - natural[letter] + 6) % 12 - 6)
    sig = dict(spell.values())
    sharp_side = sum(sig.values()) >= 0
    for pc in range(12):
        if pc in spell:
            continue
        below, above = spell.get((pc - 1) % 12), spell.get((pc + 1) % 12)
        if below and (sharp_side or not above):
            spell[pc] = (below[0], below[1] + 1)
        else:
            assert above is not None
            spell[pc] = (above[0], above[1] - 1)
    return spell, sig


def _abc_pitch(midi: int, letter: str, alter: int) -> str:
    octave = (midi - alter) // 12 - 1
    return letter.lower() + "'" * (octave - 5) if octave >= 5 else letter + "," * (4 - octave)


def _abc(score: Score, title: str) -> str:
    spell, sig = _spelling(score.key, score.mode)
    period = 60.0 / score.tempo_bpm
    beats = score.beat_times_s if len(score.beat_times_s) >= 2 else [0.0, period]

    def units(t: float) -> int:  # sixteenths since the first beat, following the beat grid
        i = min(max(bisect.bisect_right(beats, t) - 1, 0), len(beats) - 2)
        return round(4 * (i + (t - beats[i]) / (beats[i + 1] - beats[i])))

    down = units(score.chords[1][0]) if len(score.chords) > 1 else units(0.0)
    base = math.floor((units(0.0) - down) / 16) * 16 + down  # bar lines at base + 16k
    mel = score.part("melody")
    spans: list[tuple[int, int, int]] = []  # (start unit, end unit, midi)
    for k, n in enumerate(mel):
        a = max(units(n.start_s) - base, spans[-1][0] + 1 if spans else 0)
        if spans and spans[-1][1] > a:
            spans[-1] = (spans[-1][0], a, spans[-1][2])
        nxt = units(mel[k + 1].start_s) - base if k + 1 < len(mel) else None
        b = max(a + 1, units(n.start_s + n.dur_s) - base)
        spans.append((a, b if nxt is None else max(a + 1, min(b, nxt)), n.pitch))
    total = max([units(score.duration_s) - base, *(b for _, b, _ in spans)])
    total = math.ceil(total / 16) * 16
    chord_at = {max(0, units(t) - base): _chord_name(p, spell) for t, p in score.chords}
    cuts = sorted({0, total, *range(16, total, 16), *chord_at, *(x for s in spans for x in s[:2])})

    out: list[str] = []
    symbol = ""
    used: dict[str, int] = {}  # letters already altered in this bar: write them out explicitly
    j = 0
    for a, b in itertools.pairwise(cuts):
        if a and a % 16 == 0:
            out.append("|\n" if a % 64 == 0 else "| ")
            used.clear()
        symbol = f'"{chord_at[a]}"' if a in chord_at else ""
        while j < len(spans) and spans[j][1] <= a:
            j += 1
        if j < len(spans) and spans[j][0] <= a:
            _, s1, midi = spans[j]
            letter, alter = spell[midi % 12]
            acc = ""
            if alter != sig.get(letter, 0) or letter in used:
                acc = {-2: "__", -1: "_", 0: "=", 1: "^", 2: "^^"}[alter]
                used[letter] = alter
            length = "" if b - a == 1 else str(b - a)
            tie = "-" if s1 > b else ""
            out.append(f"{symbol}{acc}{_abc_pitch(midi, letter, alter)}{length}{tie}")
        else:
            out.append(symbol + "z" + ("" if b - a == 1 else str(b - a)))
    head = [
        "X:1", f"T:{title}", "M:4/4", "L:1/16", f"Q:1/4={round(score.tempo_bpm)}",
        f"K:{score.key}{_ABC_MODE[score.mode]}",
    ]
    return "\n".join(head) + "\n" + " ".join(out) + " |]\n"


def _chord_name(pitches: list[int], spell: dict[int, tuple[str, int]]) -> str:
    root = pitches[0] % 12
    pcs = {(p - root) % 12 for p in pitches}
    letter, alter = spell[root]
    name = letter + {-1: "b", 0: "", 1: "#"}.get(alter, "")
    if 4 in pcs:
        return name
    return name + ("dim" if 6 in pcs and 7 not in pcs else "m")
