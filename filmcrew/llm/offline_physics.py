"""The offline physics annotator: a WISA-format annotation of one shot, by rules and zero-shot similarity.

It answers what WISA's annotation LLM answers (METHODS.md §1.3): a caption, a `phys_law` paragraph,
the qualitative groups (dynamics, thermodynamics, optics, camera motion, object state change) and the
quantities (densities of the main materials, the phenomenon's time range, its temperature range).
Phenomena come from `offline_phenomena` (similarity + keywords) plus rules on the subjects (a falling
solid is rigid body motion, the water of a broken glass moves as a liquid); quantities come from the
catalog and per-phenomenon rules, so the previz gets numbers it can simulate with.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from filmcrew.catalog import Material, kind, material
from filmcrew.llm.offline_phenomena import MARGIN, THRESHOLD, classify_phenomena, keyword_phenomena
from filmcrew.scene import describe_scene
from filmcrew.schemas import (
    DYNAMICS,
    OPTICS,
    PHENOMENA,
    STATE_CHANGES,
    THERMODYNAMICS,
    MaterialDensity,
    PhysicsAnnotation,
    Shot,
    StoryPlan,
    Subject,
)

__all__ = ["annotate_shot", "classify_phenomena"]

MAX_PHENOMENA = 4
_OPPOSITES = (("melting", "solidification"), ("vaporization", "liquefaction"))
_FRAMING = re.compile(
    r"\b(extreme |very )?(wide|medium|close-up|closeup|establishing|closing|insert)( shot)?\b"
    r"|\b(slow[- ]motion|time[- ]lapse|replay)\b",
    re.I,
)
_FRAME_PREFIX = re.compile(r"^[^:]*\b(shot|close-up|closeup)\b[^:]*:\s*", re.I)
_MOTION = re.compile(
    r"\b(mov|fall|fell|drop|roll|slid|tumbl|toppl|throw|thrown|knock|fly|flies|flew|launch|swing|"
    r"spin|walk|run|jump|kick|push|slam|crash|hit|bounc|land|shatter|break|broke)",
    re.I,
)
_HEAT = re.compile(
    r"\b(pan\b(?! (left|right|across|over|to|up|down))|stove|oven|hot|fire\b|flames?\b|heat|grill|kettle|boil)",
    re.I,
)
_SUN = re.compile(r"\b(sun|sunny|summer|warm|desert|heatwave|scorching)", re.I)
_HOT_WEATHER = re.compile(r"\b(desert|summer|heatwave|scorching|tropical)", re.I)
_PLACE = {"table": "on a table", "ground": "outdoors", "water": "on the water", "sky": "in the sky",
          "space": "in space", "indoor": "indoors", "street": "in the street"}
_COLD = re.compile(r"\b(snow|winter|frozen|freez|cold|icy|frost|arctic)", re.I)


def annotate_shot(shot: Shot, plan: StoryPlan) -> PhysicsAnnotation:
    """Annotate `shot` in WISA format: phenomena, state changes, materials, time and temperature.

    `plan` gives the context a shot alone lacks (the film's style and setting words in the global
    prompt), so that e.g. a shot of a snowy film is annotated at winter temperatures.
    """
    action = " ".join([shot.local_prompt, *shot.events])
    context = f"{action} {plan.global_prompt}"
    phenomena = _choose_phenomena(shot, action)
    world_s = shot.duration_s * shot.camera.time_scale
    ambient = _ambient_c(context)
    return PhysicsAnnotation(
        shot_id=shot.id,
        caption=_caption(shot),
        physics_text=_physics_text(shot, phenomena, ambient),
        dynamics=[p for p in DYNAMICS if p in phenomena],  # type: ignore[misc]
        thermodynamics=[p for p in THERMODYNAMICS if p in phenomena],  # type: ignore[misc]
        optics=[p for p in OPTICS if p in phenomena],  # type: ignore[misc]
        camera_motion=shot.camera.move != "static",
        state_changes=_state_changes(shot, phenomena, action),  # type: ignore[arg-type]
        materials=_materials(shot, phenomena),
        time_range_s=_time_range(shot, phenomena, world_s, ambient, action),
        temperature_c=_temperature(shot, phenomena, ambient, action, context),
    )


# --------------------------------------------------------------------------------------------------
# Phenomena


def _embedding_text(shot: Shot) -> str:
    """Shot text for the sentence model: framing words removed, since they say nothing physical."""
    parts = [shot.local_prompt, *shot.events]
    text = ". ".join(_FRAMING.sub("", p).strip(" :,.") for p in parts)
    names = ", ".join(s.name for s in shot.subjects)
    return f"{text}. {names}" if names else text


def _choose_phenomena(shot: Shot, action: str) -> list[str]:
    """At most MAX_PHENOMENA phenomena: rule hits first, then zero-shot scores above THRESHOLD and
    within MARGIN of the best one. A shot where nothing moves keeps only light phenomena (a mirror
    still reflects), since dynamics and phase changes need something to happen."""
    scores = dict(classify_phenomena(_embedding_text(shot) or shot.id))  # an empty prompt still scores
    best = max(scores.values())
    rank: dict[str, float] = {p: s for p, s in scores.items() if s >= max(THRESHOLD, best - MARGIN)}
    for p in keyword_phenomena(action):
        rank[p] = 1.0 + scores[p]

    def boost(p: str) -> None:  # a rule hit ranks with the keyword hits
        rank[p] = max(rank.get(p, 0.0), 1.0 + scores[p])

    mats = [(s, material(s.material)) for s in shot.subjects]
    moving = [m for s, m in mats if s.role == "moving"]
    has_action = bool(shot.events) or bool(moving)
    impact = {"collision", "rigid body motion"} & set(rank)
    if any(m.state == "solid" for m in moving) and (_MOTION.search(action) or not rank):
        boost("rigid body motion")
    if impact and any(m.state == "liquid" for _, m in mats):
        boost("liquid motion")
    if impact and any(m.elastic for m in moving):
        boost("elastic motion")
    if any(m.state == "gas" and m.density > 0 and not m.emissive for m in moving):
        boost("gas motion")  # smoke and steam, not flames or light
    for a, b in _OPPOSITES:  # ice melting is not also water freezing: keep the stronger
        if a in rank and b in rank:
            del rank[a if rank[a] < rank[b] else b]
    if not has_action:
        rank = {p: r for p, r in rank.items() if p in OPTICS}
    elif not rank:
        top = max(scores, key=lambda p: scores[p])
        rank[top] = scores[top]
    chosen = sorted(rank, key=lambda p: (-rank[p], PHENOMENA.index(p)))[:MAX_PHENOMENA]
    return [p for p in PHENOMENA if p in chosen]


def _state_changes(shot: Shot, phenomena: list[str], action: str) -> list[str]:
    """WISA's object-state-change group from the phenomena and the action's words."""
    low = action.lower()
    out: set[str] = set()
    if {"melting", "liquefaction"} & set(phenomena):
        out.add("liquids objects appearance")
    if "solidification" in phenomena:
        out.add("solid objects appearance")
    if {"vaporization", "combustion", "explosion"} & set(phenomena):
        out.add("gas objects appearance")
    brittle_hit = "collision" in phenomena and any(
        s.role == "moving" and material(s.material).brittle for s in shot.subjects
    )
    broken = re.search(r"\b(shatter|smash|break|broke|split|burst|crack)", low) and any(
        s.role == "moving" and material(s.material).state == "solid" for s in shot.subjects
    )
    if "explosion" in phenomena or brittle_hit or broken:
        out.add("object decomposition and splitting")
    if re.search(r"\b(mix|stir|dissolv|blend|swirls? into|poured? into)", low):
        out.add("mixing of multiple objects")
    gone = r"\b(vanish|disappear|dries up|dry up|to ash|burns? away|melts? away|evaporates? completely)"
    if re.search(gone, low):
        out.add("object disappearance")
    return [c for c in STATE_CHANGES if c in out] or ["no change"]


# --------------------------------------------------------------------------------------------------
# Quantities


def _materials(shot: Shot, phenomena: list[str]) -> list[MaterialDensity]:
    """Up to five materials with catalog densities: moving subjects first, then what the change makes."""
    ordered = sorted(shot.subjects, key=lambda s: {"moving": 0, "static": 1, "background": 2}[s.role])
    names = [material(s.material).name for s in ordered]
    products = {"melting": "water", "vaporization": "steam", "combustion": "smoke", "explosion": "smoke"}
    for p, m in products.items():
        if p in phenomena and (p != "melting" or "ice" in names or "snow" in names):
            names.append(m)
    out: list[MaterialDensity] = []
    for name in dict.fromkeys(names):
        m = material(name)
        if m.density > 0:  # light has no density; WISA lists matter only
            out.append(MaterialDensity(name=m.name, density_min=m.density, density_max=m.density))
    return out[:5]


def _ambient_c(text: str) -> float:
    """Surrounding temperature the words imply: a hot pan, summer sun, winter, or a room."""
    if _HEAT.search(text):
        return 150.0
    if _COLD.search(text):
        return -5.0
    if _SUN.search(text):
        return 35.0
    return 22.0


def _subject_with(shot: Shot, attr: str) -> tuple[Subject, Material] | None:
    """The first subject (moving first) whose material has `attr` set, e.g. a melting point."""
    for s in sorted(shot.subjects, key=lambda s: s.role != "moving"):
        m = material(s.material)
        if getattr(m, attr) is not None and m.state != "gas":
            return s, m
    return None


def _phase_time_s(shot: Shot, attr: str, ambient: float, base_s: float) -> float:
    """Seconds a phase change takes: grows with the subject's thickness, shrinks with the ΔT driving it.

    A 3 cm ice cube in a 22 °C room is `base_s`; heat must cross the thickness, so time ∝ size/ΔT.
    """
    found = _subject_with(shot, attr)
    size, point = (0.03, 0.0)
    if found is not None:
        size, point = min(kind(found[0].kind).size_m), getattr(found[1], attr)
    delta = max(abs(ambient - point), 5.0)
    return min(max(base_s * (size / 0.03) * (22.0 / delta), 30.0), 7200.0)


def _time_range(
    shot: Shot, phenomena: list[str], world_s: float, ambient: float, action: str
) -> tuple[float, float]:
    """The phenomenon's time span in world seconds; the union over the shot's phenomena."""
    spans = []
    for p in phenomena:
        if p == "explosion":
            spans.append((0.0, 5.0))
        elif p == "melting":
            t = _phase_time_s(shot, "melting_c", ambient, 240.0)
            spans.append((0.5 * t, 1.5 * t))
        elif p == "solidification":
            t = _phase_time_s(shot, "melting_c", min(ambient, -10.0), 600.0)
            spans.append((0.5 * t, 1.5 * t))
        elif p == "vaporization":
            boiling = _HEAT.search(action) is not None
            spans.append((60.0, 600.0) if boiling else (600.0, 7200.0))
        elif p == "liquefaction":
            spans.append((10.0, 120.0))
        elif p == "combustion":
            big = any(k.kind in ("campfire", "candle", "tree", "building") for k in shot.subjects)
            spans.append((300.0, 3600.0) if big else (10.0, 120.0))
        else:  # motion and light: what the shot shows, in world time
            spans.append((0.0, world_s))
    if not spans:
        spans = [(0.0, world_s)]
    lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
    return (round(lo, 2), round(hi, 2))


def _temperature(
    shot: Shot, phenomena: list[str], ambient: float, action: str, context: str
) -> tuple[float, float]:
    """Temperature range °C: set by the thermodynamic phenomena, else by the surroundings."""
    ranges = []
    for p in phenomena:
        if p == "melting":
            found = _subject_with(shot, "melting_c")
            mp = found[1].melting_c if found else 0.0
            ranges.append((mp, max(ambient, mp + 5.0)))
        elif p == "solidification":
            found = _subject_with(shot, "melting_c")
            mp = found[1].melting_c if found else 0.0
            ranges.append((mp - max(10.0, 0.2 * abs(mp)), mp))
        elif p == "vaporization":
            boiling = _HEAT.search(action) is not None
            ranges.append((90.0, 100.0) if boiling else (20.0, 40.0))
        elif p == "liquefaction":
            ranges.append((5.0, 20.0))
        elif p == "explosion":
            ranges.append((1000.0, 2000.0))
        elif p == "combustion":
            ranges.append((600.0, 1000.0))
    if ranges:
        return (min(a for a, _ in ranges), max(b for _, b in ranges))
    if ambient < 0:
        return (-10.0, 0.0)
    if _HOT_WEATHER.search(context):
        return (30.0, 40.0)
    return (20.0, 25.0)  # room temperature: a lit candle or a hot pan nearby does not heat the scene


# --------------------------------------------------------------------------------------------------
# Text


def _place_words(place: str) -> str:
    return "in space" if place == "space" else "underwater" if place == "underwater" else f"in the {place}"


def _caption(shot: Shot) -> str:
    """One descriptive sentence: framing, setting, time of day and what happens."""
    cam = shot.camera
    speed = " slow-motion" if cam.time_scale < 1 else " time-lapse" if cam.time_scale > 1 else ""
    move = "" if cam.move == "static" else f" with a {cam.move.replace('-', ' ')} camera move"
    what = "; then ".join(shot.events) if shot.events else _FRAME_PREFIX.sub("", shot.local_prompt)
    place = _PLACE[shot.setting]
    scene = describe_scene(shot)  # the scene fields: who, how many, where, doing what
    if scene and (shot.actions or shot.relations or any(s.count > 1 for s in shot.subjects)):
        what = scene.rstrip(".")
        what = what[:1].lower() + what[1:]
        if shot.place:
            place, what = _place_words(shot.place), what.replace(f", in the {shot.place}", "")
    frame = f"{speed} {cam.scale}".strip()
    article = "An" if frame[0] in "aeiou" else "A"
    return f"{article} {frame} shot{move}, {place} at {shot.time_of_day}: {what}."


#: WISA-style 'phys_law' sentences: the principle and what it makes visible. Placeholders name the
#: shot's subjects ({solid}, {liquid}, {elastic}, {melter}, {fuel}) and numbers ({ambient}, {mp}).
TEMPLATES: dict[str, str] = {
    "collision": "When {solid} strikes another surface, momentum is exchanged in a brief, large "
    "impulse.{shatter}",
    "rigid body motion": "Gravity accelerates {solid} downward at about 9.8 m/s², so it moves faster "
    "and faster along a parabolic arc, keeping its shape and turning with the angular momentum it "
    "was given.",
    "elastic motion": "{Elastic} is elastic: on impact it deforms, stores the energy and springs back, "
    "so each bounce is lower as some energy is lost to heat and sound.",
    "liquid motion": "{Liquid} flows under gravity and surface tension: it spills, breaks into "
    "splashes and droplets and spreads in a thin sheet before it settles.",
    "gas motion": "The warm gas is lighter than the air around it, so it rises by buoyancy while air "
    "currents curl it into swirls that spread and thin out as it diffuses.",
    "deformation": "The force on {solid} exceeds what it can bear elastically, so it bends, dents and "
    "crumples permanently instead of springing back.",
    "melting": "Heat flows from the warmer surroundings (about {ambient:.0f} °C) into {melter}; at its "
    "melting point of {mp:.0f} °C it absorbs latent heat and turns to liquid from the surface inward, "
    "shrinking and rounding while a pool of liquid grows around it.",
    "solidification": "As the liquid loses heat below its freezing point it releases latent heat and "
    "turns solid: crystals spread from the coldest surfaces inward until it sets hard.",
    "vaporization": "Heated to its boiling point, the liquid turns to vapour: bubbles form, rise and "
    "burst, and a plume of steam rises and fades as it mixes with the air.",
    "liquefaction": "Water vapour in the air cools below its dew point on the cold surface and "
    "condenses into tiny droplets that grow, merge and run down.",
    "explosion": "A rapid chemical reaction releases its energy in milliseconds: hot gases expand "
    "violently in a shock wave and a bright fireball, debris is flung outward, and smoke rises "
    "afterwards.",
    "combustion": "Above its ignition temperature {fuel} reacts with oxygen in the air, releasing heat "
    "and light as flickering flames; hot gases rise by convection and the fuel chars into ash and "
    "smoke.",
    "reflection": "Light bounces off the smooth surface with the angle of reflection equal to the "
    "angle of incidence, so a mirrored image of the scene appears on it.",
    "refraction": "Light slows and bends as it enters the transparent material; each colour bends by "
    "a different amount, so white light fans out into a spectrum and shapes behind it look displaced.",
    "scattering": "Tiny particles in the air scatter the light, so beams become visible as shafts and "
    "the sky takes on a coloured glow.",
    "interference and diffraction": "Light waves reflected from the two faces of a thin film "
    "interfere: where they add the colour is bright, where they cancel it vanishes, giving shifting "
    "iridescent bands.",
    "unnatural light source": "A source emits its own light, brightening nearby surfaces with a glow "
    "that falls off with distance and casting shadows away from it.",
}
assert set(TEMPLATES) == set(PHENOMENA)


def _name(shot: Shot, pred: Callable[[Subject, Material], bool]) -> str:
    """'the <name>' of the first subject satisfying pred (moving ones first), or 'the object'."""
    for s in sorted(shot.subjects, key=lambda s: s.role != "moving"):
        if pred(s, material(s.material)):
            return f"the {s.name}"
    return "the object"


def _slots(shot: Shot, ambient: float) -> dict[str, object]:
    """What the templates' placeholders stand for in this shot."""
    brittle = next((s for s in shot.subjects if s.role == "moving" and material(s.material).brittle), None)
    found = _subject_with(shot, "melting_c")
    elastic = _name(shot, lambda s, m: m.elastic)
    liquid = _name(shot, lambda s, m: m.state == "liquid")
    return {
        "solid": _name(shot, lambda s, m: s.role == "moving" and m.state == "solid"),
        "Liquid": liquid[0].upper() + liquid[1:],
        "Elastic": elastic[0].upper() + elastic[1:],
        "melter": _name(shot, lambda s, m: m.melting_c is not None and m.state == "solid"),
        "fuel": _name(shot, lambda s, m: m.ignition_c is not None),
        "ambient": ambient,
        "mp": found[1].melting_c if found else 0.0,
        "shatter": (
            f" The {brittle.name} is brittle {material(brittle.material).name}: the impact stress "
            "exceeds its fracture strength, so it breaks into sharp fragments that scatter outward."
            if brittle
            else " The impact stops it abruptly and the jolt travels through both bodies."
        ),
    }


def _physics_text(shot: Shot, phenomena: list[str], ambient: float) -> str:
    """WISA 'phys_law': the principles at work and what they make visible, in one paragraph."""
    if not phenomena:
        return ("The scene is at rest: gravity is balanced by the supporting surfaces, so nothing moves and "
                "no obvious physical change takes place.")
    slots = _slots(shot, ambient)
    text = " ".join(TEMPLATES[p].format(**slots) for p in phenomena)
    ts = shot.camera.time_scale
    if ts < 1:
        text += f" Shown in slow motion ({1 / ts:g}x slower), the motion is stretched so each stage is visible."
    elif ts > 1:
        text += f" Shown as a time-lapse ({ts:g}x faster), a slow change fits within the shot."
    return text
