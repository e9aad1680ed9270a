"""Domain types: the contract between agents, tools and the graph.

Everything here is a pydantic model that round-trips through JSON, so it can live in graph state,
checkpoints, traces and artifact sidecars. Nothing here holds media: clips, audio and scores are files
referenced by `ArtifactRef`.

The physics annotation follows WISA (METHODS.md §1.2-1.3): a 29-way qualitative vector in WISA's exact
order and an 18-float quantitative vector with a scientific-notation split for time and temperature.
Both vectors are *derived* from the parsed lists and values, never stored independently, so they cannot
disagree with them.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

# --------------------------------------------------------------------------------------------------
# WISA categories, in the order the reference code uses (groups q0..q4 of sizes 7, 7, 6, 2, 7).

DYNAMICS = (
    "collision",
    "rigid body motion",
    "elastic motion",
    "liquid motion",
    "gas motion",
    "deformation",
)
THERMODYNAMICS = (
    "melting",
    "solidification",
    "vaporization",
    "liquefaction",
    "explosion",
    "combustion",
)
OPTICS = (
    "reflection",
    "refraction",
    "scattering",
    "interference and diffraction",
    "unnatural light source",
)
STATE_CHANGES = (
    "liquids objects appearance",
    "solid objects appearance",
    "gas objects appearance",
    "object decomposition and splitting",
    "mixing of multiple objects",
    "object disappearance",
    "no change",
)
NO_DYNAMICS = "no obvious dynamic phenomenon"
NO_THERMO = "no obvious thermodynamic phenomenon"
NO_OPTICS = "no obvious optical phenomenon"

#: The 17 phenomena of the paper (dynamics, thermodynamics, optics).
PHENOMENA: tuple[str, ...] = DYNAMICS + THERMODYNAMICS + OPTICS

#: The 29 qualitative categories, index i of the WISA vector is QUALITATIVE_LABELS[i].
QUALITATIVE_LABELS: tuple[str, ...] = (
    DYNAMICS
    + (NO_DYNAMICS,)
    + THERMODYNAMICS
    + (NO_THERMO,)
    + OPTICS
    + (NO_OPTICS,)
    + ("yes", "no")
    + STATE_CHANGES
)
assert len(QUALITATIVE_LABELS) == 29

Dynamics = Literal[
    "collision", "rigid body motion", "elastic motion", "liquid motion", "gas motion", "deformation"
]
Thermodynamics = Literal[
    "melting", "solidification", "vaporization", "liquefaction", "explosion", "combustion"
]
Optics = Literal[
    "reflection", "refraction", "scattering", "interference and diffraction", "unnatural light source"
]
StateChange = Literal[
    "liquids objects appearance",
    "solid objects appearance",
    "gas objects appearance",
    "object decomposition and splitting",
    "mixing of multiple objects",
    "object disappearance",
    "no change",
]


def sci(x: float) -> tuple[float, float]:
    """Split x into (coefficient, exponent) with x = c * 10**e, |c| in [1, 10); 0 -> (0, 0)."""
    if x == 0 or not math.isfinite(x):
        return (0.0, 0.0)
    e = math.floor(math.log10(abs(x)))
    c = x / 10**e
    if abs(c) >= 10:  # guard against floating point at exact powers of ten
        c, e = c / 10, e + 1
    return (float(c), float(e))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------------------------------
# Artifacts


class ArtifactRef(_Model):
    """A file in the content-addressed store; what graph state holds instead of media."""

    uri: str = Field(description="path relative to the run directory, e.g. artifacts/ab/abcd….mp4")
    sha256: str = Field(description="sha256 of the file bytes")
    media_type: str = Field(description="MIME type, e.g. video/mp4, audio/wav, audio/midi")
    params_hash: str = Field(description="the cache key the file was produced under")
    producer: str = Field(description='"tool@version model@revision"')
    duration_s: float | None = None
    fps: float | None = None
    sample_rate: int | None = None
    width: int | None = None
    height: int | None = None
    seed: int | None = None
    meta: dict[str, float | int | str | list[float] | list[str]] = Field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# The plan


class Camera(_Model):
    scale: Literal["wide", "medium", "close-up"] = "medium"
    move: Literal[
        "static", "pan-left", "pan-right", "tilt-up", "tilt-down", "dolly-in", "dolly-out", "track"
    ] = "static"
    time_scale: float = Field(
        default=1.0,
        gt=0,
        description="world seconds per screen second: 0.25 = slow motion, 60 = time-lapse",
    )


# The scene language (issue 17): who, how many, where, doing what. Flat lists of small records that
# name each other by `name`, so a function-calling LLM can write them; every field has a default, so
# plans written before these fields existed still load (and resume and replay).

#: Where a shot happens; the previz, the music brief and the video prompt all read this vocabulary.
Place = Literal[
    "kitchen", "classroom", "living room", "bedroom", "bathroom", "office", "workshop", "laboratory",
    "garage", "warehouse", "gym", "hall", "studio", "table top", "street", "city", "construction site",
    "playground", "park", "garden", "yard", "field", "forest", "desert", "mountain", "cave", "beach",
    "river", "river bank", "lake", "sea", "pool", "underwater", "snowfield", "sky", "space",
]
PLACES: tuple[str, ...] = Place.__args__  # type: ignore[attr-defined]
#: The older, coarser `Shot.setting` each place implies (what the previz stage reads today).
PLACE_SETTING: dict[str, str] = {
    **{p: "indoor" for p in ("kitchen", "classroom", "living room", "bedroom", "bathroom", "office",
                             "workshop", "laboratory", "garage", "warehouse", "gym", "hall", "studio")},
    "table top": "table", "street": "street", "city": "street", "construction site": "street",
    **{p: "ground" for p in ("playground", "park", "garden", "yard", "field", "forest", "desert",
                             "mountain", "cave", "beach", "river bank", "snowfield")},
    **{p: "water" for p in ("river", "lake", "sea", "pool", "underwater")},
    "sky": "sky", "space": "space",
}
INDOOR_PLACES = frozenset(p for p, s in PLACE_SETTING.items() if s == "indoor") | {"table top"}

Arrangement = Literal["single", "row", "stack", "wall", "pile", "ring", "scattered"]
StoryRole = Literal["actor", "target", "scenery", "container", "heat source", "light source",
                    "pourer", "support"]
SceneryKind = Literal[
    "ramp", "stairs", "shelf", "ledge", "table", "counter", "desk", "floor", "bin", "basket",
    "bucket", "bowl", "wall", "fence", "stream", "river", "waterfall", "pond", "stove", "pan",
    "spoon", "jug", "mirror", "prism", "window", "door", "cliff", "hill", "track", "pipe",
]
SCENERY_KINDS: tuple[str, ...] = SceneryKind.__args__  # type: ignore[attr-defined]
Relation = Literal["on", "in", "under", "beside", "above", "against", "behind", "in front of",
                   "at the top of", "at the bottom of", "hanging from"]
RELATIONS: tuple[str, ...] = Relation.__args__  # type: ignore[attr-defined]
Verb = Literal[
    "rest", "roll", "slide", "drop", "fall", "topple", "swing", "throw", "launch", "push",
    "knock over", "hit", "pour", "drip", "drift", "float", "sink", "glide", "fly", "land",
    "bounce", "spin", "scatter", "collapse", "melt", "freeze", "boil", "burn", "explode", "shatter",
    "splash", "flow", "rise", "grow", "walk", "run", "jump", "move", "reflect", "refract", "shine",
]
VERBS: tuple[str, ...] = Verb.__args__  # type: ignore[attr-defined]
Path = Literal["down", "off", "into", "onto", "across", "past", "over", "through", "along", "up",
               "around", "toward", "out of", "from", "against", "under"]
PATHS: tuple[str, ...] = Path.__args__  # type: ignore[attr-defined]
ShotKind = Literal["action", "establishing", "closing", "aftermath", "replay", "detail"]


class Subject(_Model):
    name: str = Field(description="what the plan calls it (one thing or one group): 'plate', 'toy boat'")
    kind: str = Field(description="catalog kind used for size and shape, e.g. 'glass', 'ball', 'car'")
    material: str = Field(description="catalog material, e.g. 'glass', 'water', 'steel'")
    role: Literal["moving", "static", "background"] = "moving"
    count: int = Field(default=1, ge=1, le=1000, description="how many: 'six plates' is 6")
    arrangement: Arrangement = Field(
        default="single", description="how a group stands: a stack of plates, a wall of bricks, a row of books")
    colors: list[str] = Field(default_factory=list, description="colour words, e.g. ['red', 'gold']")
    story_role: StoryRole = Field(default="actor", description="the part it plays in the action")


class Scenery(_Model):
    """A piece of set the action needs: a shelf to fall off, a river to drift down, a bin to land in."""

    name: str = Field(description="what relations and actions call it, e.g. 'shelf', 'river'")
    kind: SceneryKind
    material: str = Field(default="", description="catalog material; '' = the usual one")
    angle_deg: float | None = Field(default=None, ge=0, le=90, description="ramp or incline slope")
    steps: int | None = Field(default=None, ge=1, le=100, description="stairs: number of steps")
    height_m: float | None = Field(default=None, gt=0,
                                   description="shelf, ledge or table height; waterfall drop")
    flow: Literal["left", "right", "down"] | None = Field(default=None,
                                                          description="stream or river direction")
    speed_m_s: float | None = Field(default=None, ge=0, description="stream or river current")


class SceneRelation(_Model):
    """Where things are when the shot starts: `subject` `relation` `object` ('plate' on 'shelf')."""

    subject: str = Field(description="a subject or scenery name of this shot")
    relation: Relation
    object: str = Field(description="a subject or scenery name of this shot")


class Action(_Model):
    """One thing that happens, in time order within the shot."""

    subject: str = Field(description="who acts: a subject (or scenery) name of this shot")
    verb: Verb
    path: Path | None = Field(default=None, description="which way: down, off, into, past, over…")
    target: str | None = Field(default=None,
                               description="what the path or verb is about: a subject or scenery name")
    start: float = Field(default=0.0, ge=0, le=1, description="when it starts, as a fraction of the shot")
    end: float = Field(default=1.0, ge=0, le=1, description="when it ends, as a fraction of the shot")
    pace: float = Field(default=1.0, gt=0, le=10,
                        description="speed relative to natural: 2 = twice as fast, 0.5 = half")
    beat: int | None = Field(default=None, ge=1, description="the 1-based plan beat it performs")

    def window_s(self, duration_s: float) -> tuple[float, float]:
        """(start, end) in seconds from the start of a shot `duration_s` long."""
        return (self.start * duration_s, self.end * duration_s)


class Shot(_Model):
    id: str = Field(description="stable id, e.g. 'shot-1'")
    local_prompt: str
    events: list[str] = Field(default_factory=list, description="ordered events within the shot")
    duration_s: float = Field(gt=0)
    camera: Camera = Field(default_factory=Camera)
    subjects: list[Subject] = Field(default_factory=list)
    setting: Literal["table", "ground", "water", "sky", "space", "indoor", "street"] = "ground"
    time_of_day: Literal["dawn", "day", "dusk", "night"] = "day"
    backend: str | None = Field(default=None, description="backend hint; None = the run's default")
    kind: ShotKind = Field(default="action", description="an action shot, or an editor's shot around one")
    place: Place | None = Field(default=None, description="where: kitchen, classroom, river, sky…")
    scenery: list[Scenery] = Field(default_factory=list, description="the set the action needs")
    relations: list[SceneRelation] = Field(default_factory=list, description="as the shot starts")
    actions: list[Action] = Field(default_factory=list, description="what happens, in time order")

    @model_validator(mode="before")
    @classmethod
    def _setting_from_place(cls, data: object) -> object:
        """A shot that names its place but no setting gets the setting the place implies."""
        if isinstance(data, dict) and data.get("place") in PLACE_SETTING and "setting" not in data:
            data = {**data, "setting": PLACE_SETTING[data["place"]]}
        return data

    def names(self) -> set[str]:
        """Every subject and scenery name of the shot: what relations and actions may name."""
        return {s.name for s in self.subjects} | {s.name for s in self.scenery}


class MusicBrief(_Model):
    """FilmComposer's seven visual attributes plus the musical decisions drawn from them."""

    scene: str
    brightness: Literal["dark", "dim", "neutral", "bright"]
    color_tone: str
    action: str
    emotional_tone: str
    shot_scale: str
    theme: str
    description: str = Field(description="text description of the music, MusicGen style")
    key: Literal["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"] = "C"
    mode: Literal["major", "minor", "dorian", "lydian", "mixolydian", "phrygian"] = "major"
    tempo_bpm_min: float = Field(default=80, gt=20, lt=300)
    tempo_bpm_max: float = Field(default=120, gt=20, lt=300)
    instruments: list[str] = Field(default_factory=lambda: ["strings", "piano", "bass", "percussion"])

    @model_validator(mode="after")
    def _tempo_order(self) -> MusicBrief:
        if self.tempo_bpm_min > self.tempo_bpm_max:
            raise ValueError(
                f"tempo_bpm_min {self.tempo_bpm_min} > tempo_bpm_max {self.tempo_bpm_max}"
            )
        return self


class StoryPlan(_Model):
    global_prompt: str = Field(description="time-invariant look: subjects, setting, style")
    shots: list[Shot] = Field(min_length=1)
    music_brief: MusicBrief
    style: str = ""
    beats: list[str] = Field(
        default_factory=list,
        description="the request's story beats in order; each is performed in exactly one shot",
    )

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.shots)

    def shot(self, shot_id: str) -> Shot:
        for s in self.shots:
            if s.id == shot_id:
                return s
        raise KeyError(f"no shot {shot_id!r} in the plan")


# --------------------------------------------------------------------------------------------------
# Physics (WISA format)


class MaterialDensity(_Model):
    name: str
    density_min: float = Field(ge=0, description="g/cm³")
    density_max: float = Field(ge=0, description="g/cm³")


class PhysicsAnnotation(_Model):
    shot_id: str
    caption: str
    physics_text: str = Field(description="WISA phys_law: a paragraph naming principles and effects")
    dynamics: list[Dynamics] = Field(default_factory=list)
    thermodynamics: list[Thermodynamics] = Field(default_factory=list)
    optics: list[Optics] = Field(default_factory=list)
    camera_motion: bool = False
    state_changes: list[StateChange] = Field(default_factory=list)
    materials: list[MaterialDensity] = Field(default_factory=list, max_length=5)
    time_range_s: tuple[float, float] = (0.0, 5.0)
    temperature_c: tuple[float, float] = (20.0, 25.0)

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: object) -> object:
        """Accept our own dumps: the derived vectors are recomputed, and must agree if given."""
        if isinstance(data, dict) and ("qualitative" in data or "quantitative" in data):
            data = {k: v for k, v in data.items() if k not in ("qualitative", "quantitative")}
        return data

    @field_validator("time_range_s", "temperature_c")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = v
        if lo > hi:
            raise ValueError(f"range ({lo}, {hi}) has min > max")
        return v

    @property
    def phenomena(self) -> list[str]:
        """The annotated phenomena among the 17, in WISA order."""
        chosen = set(self.dynamics) | set(self.thermodynamics) | set(self.optics)
        return [p for p in PHENOMENA if p in chosen]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def qualitative(self) -> list[float]:
        """The 29-way binary vector P_c in WISA order."""
        active: set[str] = set(self.dynamics) | set(self.thermodynamics) | set(self.optics)
        active |= set(self.state_changes) or {"no change"}
        vec = []
        for i, label in enumerate(QUALITATIVE_LABELS):
            if i == 6:
                on = not self.dynamics
            elif i == 13:
                on = not self.thermodynamics
            elif i == 19:
                on = not self.optics
            elif i == 20:
                on = self.camera_motion
            elif i == 21:
                on = not self.camera_motion
            else:
                on = label in active
            vec.append(1.0 if on else 0.0)
        return vec

    @computed_field  # type: ignore[prop-decorator]
    @property
    def quantitative(self) -> list[float]:
        """The 18-float vector P_p: 5 density ranges, then sci() of t_min, t_max, T_min, T_max."""
        vec: list[float] = []
        for i in range(5):
            if i < len(self.materials):
                m = self.materials[i]
                vec += [m.density_min, m.density_max]
            else:
                vec += [0.0, 0.0]
        for x in (*self.time_range_s, *self.temperature_c):
            vec += list(sci(x))
        return vec

    @classmethod
    def from_wisa_record(cls, shot_id: str, record: dict[str, str]) -> PhysicsAnnotation:
        """Build from a WISA annotation record (keys en_caption, phys_law, q0..q4, n0..n2).

        Categories are matched as exact tokens after lower-casing and stripping numbering, not by
        substring as the reference loader does (which would, e.g., match "motion" inside any label).
        """

        def tokens(key: str) -> set[str]:
            parts = re.split(r"[,\n;]+", record.get(key, ""))
            return {re.sub(r"^\s*\d+[.)]\s*", "", p).strip().strip(".").lower() for p in parts} - {""}

        q0, q1, q2, q3, q4 = (tokens(f"q{i}") for i in range(5))
        return cls(
            shot_id=shot_id,
            caption=record.get("en_caption", ""),
            physics_text=record.get("phys_law", ""),
            dynamics=[d for d in DYNAMICS if d in q0],  # type: ignore[misc]
            thermodynamics=[t for t in THERMODYNAMICS if t in q1],  # type: ignore[misc]
            optics=[o for o in OPTICS if o in q2],  # type: ignore[misc]
            camera_motion="yes" in q3,
            state_changes=[s for s in STATE_CHANGES if s in q4],  # type: ignore[misc]
            materials=parse_densities(record.get("n0", "")),
            time_range_s=parse_range(record.get("n1", ""), default=(0.0, 5.0)),
            temperature_c=parse_range(record.get("n2", ""), default=(20.0, 25.0)),
        )


_NUM = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"


def parse_range(text: str, default: tuple[float, float]) -> tuple[float, float]:
    """'0 to 5 seconds' -> (0, 5); '-10 to 0 degrees celsius' -> (-10, 0); '3 s' -> (3, 3)."""
    nums = [float(x) for x in re.findall(_NUM, text.replace("−", "-"))]
    if not nums:
        return default
    lo, hi = nums[0], nums[1] if len(nums) > 1 else nums[0]
    return (min(lo, hi), max(lo, hi))


def parse_densities(text: str) -> list[MaterialDensity]:
    """'water: 0.998 g/cm³ \\n soil: 1.2 to 1.6 g/cm³' -> up to 5 MaterialDensity."""
    out: list[MaterialDensity] = []
    for line in re.split(r"[\n;]+", text):
        if ":" not in line:
            continue
        name, rest = line.split(":", 1)
        nums = [float(x) for x in re.findall(_NUM, rest.split("g/")[0])]
        if not nums:
            continue
        lo, hi = nums[0], nums[1] if len(nums) > 1 else nums[0]
        out.append(MaterialDensity(name=name.strip(), density_min=min(lo, hi), density_max=max(lo, hi)))
    return out[:5]


# --------------------------------------------------------------------------------------------------
# Generation and editing


class Candidate(_Model):
    shot_id: str
    index: int = Field(ge=0)
    seed: int
    backend: str
    clip: ArtifactRef


class EditEntry(_Model):
    shot_id: str
    candidate: int = Field(ge=0)
    in_s: float = Field(ge=0)
    out_s: float = Field(gt=0)


class Transition(_Model):
    kind: Literal["cut", "crossfade"] = "cut"
    duration_s: float = Field(default=0.0, ge=0)


class EditDecision(_Model):
    order: list[EditEntry]
    transitions: list[Transition] = Field(
        default_factory=list, description="len(order) - 1 transitions, between consecutive entries"
    )
    score: float = 0.0
    scorer: str = "continuity"
    scorer_calls: int = 0

    @property
    def cut_times_s(self) -> list[float]:
        """Times of the cuts in the assembled film (crossfades count at their midpoint)."""
        t, out = 0.0, []
        for i, e in enumerate(self.order[:-1]):
            t += e.out_s - e.in_s
            if i < len(self.transitions) and self.transitions[i].kind == "crossfade":
                t -= self.transitions[i].duration_s / 2
            out.append(t)
        return out


# --------------------------------------------------------------------------------------------------
# Music


class RhythmSpots(_Model):
    times_s: list[float]
    strengths: list[float]
    kinds: list[Literal["cut", "motion", "impact", "beat"]] = Field(default_factory=list)
    tempo_bpm: float
    beat_times_s: list[float] = Field(default_factory=list)
    source: str = "cut"

    @model_validator(mode="after")
    def _lengths(self) -> RhythmSpots:
        if len(self.times_s) != len(self.strengths):
            raise ValueError("times_s and strengths differ in length")
        if self.kinds and len(self.kinds) != len(self.times_s):
            raise ValueError("kinds and times_s differ in length")
        return self


class Critique(_Model):
    reviewer: Literal["mode", "melody", "harmony", "rhythm", "emotion"]
    passed: bool
    reasons: list[str] = Field(default_factory=list)
    measured: dict[str, float] = Field(default_factory=dict)


class Stem(_Model):
    name: str
    audio: ArtifactRef
    gain_db: float = 0.0
    pan: float = Field(default=0.0, ge=-1, le=1)


class MixPlan(_Model):
    stems: list[Stem]
    duck_db: float = Field(default=-9.0, le=0, description="ambience gain under the score")
    target_lufs: float = -14.0
    true_peak_db: float = -1.0
    fade_in_s: float = 0.5
    fade_out_s: float = 1.5


# --------------------------------------------------------------------------------------------------
# Chat: what one turn of a conversation asks the crew to do


class ShotEdit(_Model):
    """A change to one shot of the current plan."""

    op: Literal["slower", "faster", "longer", "shorter", "drop", "reprompt"]
    shot: int = Field(description="1-based position in the current plan; -1 = the last shot")
    factor: float = Field(default=1.5, gt=1, le=4, description="how much slower/faster/longer/shorter")
    prompt: str = Field(default="", description="the new description of the shot, for reprompt")


class MusicEdit(_Model):
    """A change to the music brief; None leaves a field as it is."""

    brightness: Literal["dark", "dim", "neutral", "bright"] | None = None
    mode: Literal["major", "minor", "dorian", "lydian", "mixolydian", "phrygian"] | None = None
    emotional_tone: str | None = None
    tempo_factor: float | None = Field(default=None, gt=0.25, lt=4,
                                       description="multiplies the tempo range (0.8 = slower)")
    description: str | None = None


class SceneEdit(_Model):
    """A change to the scene of the current plan: one subject's pace or count, in every shot it is in."""

    op: Literal["faster", "slower", "count"]
    subject: str = Field(description="the subject's name in the plan, e.g. 'toy boat', 'rock'")
    factor: float = Field(default=1.5, gt=1, le=4, description="how much faster or slower")
    count: int | None = Field(default=None, ge=1, le=1000, description="the new count, for op count")


class ChatTurn(_Model):
    """How the crew reads one chat message: a new film, an edit of the current one, or talk."""

    kind: Literal["new", "edit", "talk"]
    request: str = Field(default="", description="the film to make, for kind new")
    shot_edits: list[ShotEdit] = Field(default_factory=list)
    music: MusicEdit | None = None
    scene_edits: list[SceneEdit] = Field(default_factory=list)
    reply: str = Field(default="", description="one sentence back to the user")
