"""Material and object tables: what the annotator fills in and what the previz simulates with.

Pure data, no imports of the package. Values are room-temperature handbook figures, rounded; where a
material has no melting or boiling point in the usual sense (wood burns first) the field is None.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Material:
    name: str
    state: str  # "solid" | "liquid" | "gas"
    density: float  # g/cm³
    restitution: float  # coefficient of restitution against a hard floor
    friction: float
    color: tuple[int, int, int]  # drawing colour (sRGB), constant across shots so identity holds
    refractive_index: float | None = None  # None = opaque
    melting_c: float | None = None
    boiling_c: float | None = None
    ignition_c: float | None = None  # burns above this temperature
    brittle: bool = False  # shatters above an impact threshold
    elastic: bool = False  # deforms and springs back (rubber, jelly)
    emissive: bool = False


MATERIALS: dict[str, Material] = {
    m.name: m
    for m in [
        Material("glass", "solid", 2.5, 0.55, 0.4, (170, 215, 230), refractive_index=1.52,
                 melting_c=1400, brittle=True),
        Material("ceramic", "solid", 2.4, 0.45, 0.5, (235, 225, 205), melting_c=1600, brittle=True),
        Material("ice", "solid", 0.917, 0.3, 0.05, (200, 235, 255), refractive_index=1.31,
                 melting_c=0, boiling_c=100, brittle=True),
        Material("water", "liquid", 0.998, 0.1, 0.01, (60, 130, 220), refractive_index=1.33,
                 melting_c=0, boiling_c=100),
        Material("steam", "gas", 0.0006, 0.0, 0.0, (235, 235, 240), melting_c=0, boiling_c=100),
        Material("steel", "solid", 7.85, 0.6, 0.6, (150, 155, 165), melting_c=1450, boiling_c=2860),
        Material("iron", "solid", 7.87, 0.55, 0.6, (120, 110, 105), melting_c=1538, boiling_c=2862),
        Material("aluminium", "solid", 2.7, 0.6, 0.6, (200, 200, 210), melting_c=660, boiling_c=2470),
        Material("gold", "solid", 19.3, 0.4, 0.5, (230, 190, 60), melting_c=1064, boiling_c=2970),
        Material("lead", "solid", 11.34, 0.2, 0.7, (90, 95, 105), melting_c=327, boiling_c=1749),
        Material("wood", "solid", 0.6, 0.45, 0.6, (150, 100, 55), ignition_c=300),
        Material("paper", "solid", 0.8, 0.2, 0.6, (245, 240, 225), ignition_c=233),
        Material("rubber", "solid", 1.1, 0.85, 0.9, (210, 60, 50), elastic=True, ignition_c=400),
        Material("plastic", "solid", 1.0, 0.6, 0.4, (60, 180, 120), melting_c=160, ignition_c=350),
        Material("stone", "solid", 2.6, 0.35, 0.7, (130, 125, 120), melting_c=1200),
        Material("concrete", "solid", 2.4, 0.3, 0.8, (165, 165, 160)),
        Material("soil", "solid", 1.4, 0.1, 0.9, (115, 85, 55)),
        Material("sand", "solid", 1.6, 0.1, 0.8, (220, 195, 140)),
        Material("snow", "solid", 0.3, 0.05, 0.3, (245, 248, 255), melting_c=0, boiling_c=100),
        Material("wax", "solid", 0.9, 0.3, 0.5, (245, 230, 190), melting_c=60, ignition_c=250),
        Material("chocolate", "solid", 1.3, 0.2, 0.6, (95, 55, 30), melting_c=34),
        Material("butter", "solid", 0.91, 0.1, 0.3, (250, 230, 140), melting_c=32),
        Material("jelly", "solid", 1.05, 0.5, 0.8, (230, 60, 110), elastic=True, melting_c=35),
        Material("flesh", "solid", 1.05, 0.3, 0.8, (225, 180, 150), elastic=True),
        Material("fur", "solid", 0.9, 0.3, 0.8, (200, 110, 50)),
        Material("fabric", "solid", 0.3, 0.2, 0.8, (120, 90, 170), ignition_c=250),
        Material("oil", "liquid", 0.92, 0.1, 0.01, (200, 170, 40), boiling_c=300, ignition_c=210),
        Material("milk", "liquid", 1.03, 0.1, 0.02, (250, 250, 245), melting_c=-0.5, boiling_c=100),
        Material("lava", "liquid", 2.6, 0.1, 0.3, (255, 90, 20), melting_c=1000, emissive=True),
        Material("mercury", "liquid", 13.53, 0.2, 0.01, (190, 190, 200), melting_c=-39,
                 boiling_c=357),
        Material("air", "gas", 0.0012, 0.0, 0.0, (210, 225, 240)),
        Material("smoke", "gas", 0.0012, 0.0, 0.0, (90, 90, 95)),
        Material("gunpowder", "solid", 1.7, 0.1, 0.7, (40, 40, 40), ignition_c=300),
        Material("fire", "gas", 0.0003, 0.0, 0.0, (255, 150, 40), emissive=True),
        Material("light", "gas", 0.0, 0.0, 0.0, (255, 250, 200), emissive=True),
    ]
}

#: Words that name a catalog material ("glassy" is not matched; "a glass of water" matches both).
MATERIAL_ALIASES: dict[str, str] = {
    "aluminum": "aluminium", "metal": "steel", "tin": "aluminium", "brick": "ceramic",
    "porcelain": "ceramic", "pottery": "ceramic", "rock": "stone", "boulder": "stone",
    "pebble": "stone", "marble": "stone", "mud": "soil", "dirt": "soil", "earth": "soil",
    "timber": "wood", "log": "wood", "wooden": "wood", "cardboard": "paper", "vapour": "steam",
    "vapor": "steam", "mist": "steam", "fog": "steam", "cloud": "steam", "candle": "wax",
    "flame": "fire", "flames": "fire", "cloth": "fabric", "silk": "fabric", "cotton": "fabric",
    "petrol": "oil", "gasoline": "oil", "magma": "lava", "jello": "jelly", "gelatin": "jelly",
    "skin": "flesh", "body": "flesh", "tnt": "gunpowder", "dynamite": "gunpowder",
    "firework": "gunpowder", "fireworks": "gunpowder", "bomb": "gunpowder", "rain": "water",
    "sea": "water", "ocean": "water", "river": "water", "lake": "water", "waterfall": "water",
    "plastic": "plastic", "crystal": "glass", "mirror": "glass", "prism": "glass", "lens": "glass",
}


@dataclass(frozen=True)
class ObjectKind:
    name: str
    size_m: tuple[float, float]  # width, height in metres as seen from the side
    shape: str  # "circle" | "box" | "cup" | "figure" | "car" | "blob" | "plane" | "bar"
    material: str  # default material
    animate: bool = False  # a living subject (figure animation rather than rigid body)


OBJECT_KINDS: dict[str, ObjectKind] = {
    k.name: k
    for k in [
        ObjectKind("glass", (0.08, 0.12), "cup", "glass"),
        ObjectKind("cup", (0.09, 0.10), "cup", "ceramic"),
        ObjectKind("bottle", (0.08, 0.28), "box", "glass"),
        ObjectKind("vase", (0.15, 0.30), "cup", "ceramic"),
        ObjectKind("plate", (0.25, 0.03), "box", "ceramic"),
        ObjectKind("ball", (0.22, 0.22), "circle", "rubber"),
        ObjectKind("marble", (0.02, 0.02), "circle", "glass"),
        ObjectKind("ice cube", (0.03, 0.03), "box", "ice"),
        ObjectKind("candle", (0.03, 0.15), "box", "wax"),
        ObjectKind("block", (0.3, 0.3), "box", "wood"),
        ObjectKind("box", (0.5, 0.4), "box", "wood"),
        ObjectKind("brick", (0.22, 0.07), "box", "ceramic"),
        ObjectKind("rock", (0.5, 0.4), "circle", "stone"),
        ObjectKind("table", (1.4, 0.75), "box", "wood"),
        ObjectKind("chair", (0.5, 0.9), "box", "wood"),
        ObjectKind("car", (4.5, 1.5), "car", "steel"),
        ObjectKind("truck", (7.0, 3.0), "car", "steel"),
        ObjectKind("person", (0.5, 1.75), "figure", "flesh", animate=True),
        ObjectKind("child", (0.4, 1.2), "figure", "flesh", animate=True),
        ObjectKind("dog", (0.8, 0.6), "figure", "fur", animate=True),
        ObjectKind("cat", (0.5, 0.3), "figure", "fur", animate=True),
        ObjectKind("fox", (0.7, 0.4), "figure", "fur", animate=True),
        ObjectKind("bird", (0.3, 0.2), "figure", "flesh", animate=True),
        ObjectKind("horse", (2.2, 1.6), "figure", "fur", animate=True),
        ObjectKind("tree", (3.0, 8.0), "figure", "wood"),
        ObjectKind("mirror", (1.0, 1.5), "plane", "glass"),
        ObjectKind("prism", (0.15, 0.13), "box", "glass"),
        ObjectKind("lens", (0.1, 0.1), "circle", "glass"),
        ObjectKind("lamp", (0.2, 0.4), "box", "light"),
        ObjectKind("campfire", (1.0, 0.6), "blob", "wood"),
        ObjectKind("pot", (0.3, 0.2), "cup", "steel"),
        ObjectKind("pool", (3.0, 0.5), "plane", "water"),
        ObjectKind("puddle", (0.6, 0.02), "plane", "water"),
        ObjectKind("wave", (4.0, 1.0), "blob", "water"),
        ObjectKind("firework", (0.05, 0.3), "bar", "gunpowder"),
        ObjectKind("barrel", (0.6, 0.9), "box", "wood"),
        ObjectKind("bubble", (0.1, 0.1), "circle", "water"),
        ObjectKind("balloon", (0.3, 0.35), "circle", "rubber"),
        ObjectKind("spring", (0.1, 0.3), "bar", "steel"),
        ObjectKind("bridge", (10.0, 1.0), "box", "concrete"),
        ObjectKind("building", (10.0, 20.0), "box", "concrete"),
        ObjectKind("volcano", (20.0, 10.0), "blob", "stone"),
        ObjectKind("cloud", (5.0, 2.0), "blob", "steam"),
        ObjectKind("snowman", (0.6, 1.5), "figure", "snow"),
        ObjectKind("chocolate", (0.1, 0.02), "box", "chocolate"),
        ObjectKind("butter", (0.08, 0.04), "box", "butter"),
        ObjectKind("jelly", (0.12, 0.1), "blob", "jelly"),
        ObjectKind("object", (0.3, 0.3), "box", "wood"),
    ]
}

KIND_ALIASES: dict[str, str] = {
    "tumbler": "glass", "goblet": "glass", "wineglass": "glass", "mug": "cup", "teacup": "cup",
    "football": "ball", "basketball": "ball", "tennis ball": "ball", "bowling ball": "ball",
    "billiard ball": "ball", "sphere": "ball", "orb": "ball", "stone": "rock", "boulder": "rock",
    "pebble": "rock", "cube": "block", "crate": "box", "man": "person", "woman": "person",
    "girl": "child", "boy": "child", "dancer": "person", "runner": "person", "chef": "person",
    "puppy": "dog", "kitten": "cat", "wolf": "dog", "deer": "horse", "eagle": "bird",
    "seagull": "bird", "van": "car", "bus": "truck", "lantern": "lamp", "torch": "lamp",
    "bulb": "lamp", "fire": "campfire", "bonfire": "campfire", "kettle": "pot", "pan": "pot",
    "ocean": "wave", "sea": "wave", "rocket": "firework", "fireworks": "firework",
    "bomb": "barrel", "keg": "barrel", "ice": "ice cube", "icicle": "ice cube", "wax": "candle",
    "glass of water": "glass", "ice cream": "butter", "trampoline": "spring",
}


def find_material(word: str) -> Material | None:
    """The catalog material a word names, or None."""
    w = word.strip().lower()
    w = MATERIAL_ALIASES.get(w, w)
    if w in MATERIALS:
        return MATERIALS[w]
    if w.endswith("s") and w[:-1] in MATERIALS:
        return MATERIALS[w[:-1]]
    return None


def find_kind(word: str) -> ObjectKind | None:
    """The catalog object kind a word or phrase names, or None."""
    w = word.strip().lower()
    w = KIND_ALIASES.get(w, w)
    if w in OBJECT_KINDS:
        return OBJECT_KINDS[w]
    if w.endswith("es") and w[:-2] in OBJECT_KINDS:
        return OBJECT_KINDS[w[:-2]]
    if w.endswith("s") and w[:-1] in OBJECT_KINDS:
        return OBJECT_KINDS[w[:-1]]
    return None


def material(name: str) -> Material:
    """The material called `name` (or an alias); unknown names fall back to wood, a neutral solid."""
    return find_material(name) or MATERIALS["wood"]


def kind(name: str) -> ObjectKind:
    """The object kind called `name` (or an alias); unknown names fall back to a generic object."""
    return find_kind(name) or OBJECT_KINDS["object"]
