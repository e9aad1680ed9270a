"""The offline scene parser: who, how many, where and doing what, from a request's words, by rules.

A hand parser, no NLP library: the words are tokens; noun phrases are a count (words or digits, "a
stack of", "a wall of", "a row of"…), adjectives (colours, materials, sizes) and a head noun from the
catalog, the scenery vocabulary or a small table of everyday things; verbs come from one table of
forms (tumbles, slid, knocked over, goes over) with the path word after them (down, off, into, past…)
and the noun phrase the path points at. The subject of a verb is the noun phrase before it (or the
last actor, for "it", "they" and a verb with none); a noun phrase followed by a place word and another
noun phrase with no verb between ("six plates stacked on a shelf") is a starting relation.

`split_beats` cuts a clause into story beats: "X drifts down a river, past two rocks, and goes over a
waterfall" is three; "X is knocked off a table and shatters" is one beat of two actions.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from filmcrew.catalog import OBJECT_KINDS, find_kind, find_material

# --------------------------------------------------------------------------------------------------
# Vocabulary

NUMBERS = {"a": 1, "an": 1, "one": 1, "single": 1, "lone": 1, "two": 2, "pair": 2, "couple": 2,
           "both": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
           "ten": 10, "eleven": 11, "twelve": 12, "dozen": 12, "thirteen": 13, "fourteen": 14,
           "fifteen": 15, "sixteen": 16, "twenty": 20, "thirty": 30, "fifty": 50, "hundred": 100}
#: Collective nouns: "a stack of plates" is a stack; the count when none is given.
COLLECTIVES = {"stack": ("stack", 5), "tower": ("stack", 6), "column": ("stack", 5),
               "pile": ("pile", 8), "heap": ("pile", 8), "mound": ("pile", 8),
               "row": ("row", 5), "line": ("row", 5), "wall": ("wall", 12), "ring": ("ring", 8),
               "circle": ("ring", 8), "handful": ("scattered", 6), "bunch": ("pile", 5),
               "shower": ("scattered", 12), "cloud": ("scattered", 20), "flock": ("scattered", 6),
               "set": ("row", 4)}
#: "a few", "several", "many" and bare plurals: counts a previz can draw.
VAGUE = {"few": 3, "several": 4, "some": 3, "many": 8, "lots": 10, "dozens": 24, "hundreds": 100}
COLORS = {"red", "orange", "yellow", "green", "blue", "purple", "violet", "pink", "white", "black",
          "grey", "gray", "brown", "golden", "silver", "gold", "crimson", "scarlet", "turquoise",
          "cyan", "magenta", "beige", "teal", "amber", "bronze", "navy", "colourful", "colorful"}
SIZES = {"small", "little", "tiny", "big", "large", "huge", "giant", "tall", "short", "long", "heavy",
         "light", "old", "new", "shiny", "empty", "full", "hot", "cold", "frozen", "burning", "lit",
         "toy", "wrecking", "wet", "dry", "round", "smooth", "rough", "wooden", "steep", "gentle",
         "narrow", "wide", "fast", "slow", "shallow", "deep", "high", "low", "entire", "whole",
         "metal", "paper", "plastic", "glass", "ceramic", "rubber", "stone", "brick", "porcelain",
         "crystal", "cardboard", "ice", "steel", "iron", "copper", "tin", "clay", "dark", "bright",
         "kitchen", "dinner", "tennis", "bowling", "beach", "golf", "soap", "snow", "water", "sand",
         "model", "remote-controlled", "rusty", "soft", "hard", "fresh", "ripe", "loose", "spare"}
#: Modifiers that stay in a subject's name ("toy boat", "wrecking ball", "paper plane").
NAME_MODIFIERS = {"toy", "wrecking", "paper", "tennis", "bowling", "beach", "golf", "soap", "snow",
                  "model", "remote-controlled", "water", "ping-pong", "dinner", "rubber", "glass",
                  "steel", "metal", "wooden", "stone", "ice", "sand", "plastic", "cardboard"}
#: Everyday things the catalog has no kind for: noun -> (catalog kind for size and shape, material).
EXTRA_NOUNS = {
    "boat": ("box", "wood"), "ship": ("truck", "steel"), "canoe": ("box", "wood"),
    "sailboat": ("box", "wood"), "raft": ("box", "wood"), "plane": ("bird", "paper"),
    "airplane": ("truck", "aluminium"), "kite": ("bird", "fabric"), "leaf": ("plate", "wood"),
    "leaves": ("plate", "wood"), "book": ("block", "paper"), "domino": ("block", "wood"),
    "coin": ("marble", "gold"), "can": ("cup", "aluminium"), "egg": ("ball", "ceramic"),
    "apple": ("ball", "flesh"), "orange": ("ball", "flesh"), "feather": ("bird", "fabric"),
    "pencil": ("spring", "wood"), "drone": ("bird", "plastic"), "toy": ("block", "plastic"),
    "ring": ("marble", "gold"), "die": ("block", "plastic"), "dice": ("block", "plastic"),
    "bead": ("marble", "glass"), "pin": ("bottle", "wood"), "skittle": ("bottle", "wood"),
    "cone": ("bottle", "plastic"), "tyre": ("ball", "rubber"), "tire": ("ball", "rubber"),
    "wheel": ("ball", "rubber"), "duck": ("bird", "rubber"), "jar": ("glass", "glass"),
    "tin": ("cup", "aluminium"), "snowball": ("ball", "snow"), "bowl": ("cup", "ceramic"),
    "spoon": ("spring", "steel"), "paper plane": ("bird", "paper"), "marshmallow": ("block", "flesh"),
    "cookie": ("plate", "chocolate"), "log": ("barrel", "wood"), "stick": ("spring", "wood"),
    "puck": ("plate", "rubber"), "card": ("plate", "paper"), "tray": ("plate", "steel"),
    "droplet": ("bubble", "water"), "drop": ("bubble", "water"), "robot": ("person", "steel"),
    "skier": ("person", "flesh"), "skateboard": ("box", "wood"), "sled": ("box", "wood"),
    "pendulum": ("ball", "steel"), "cannonball": ("ball", "iron"), "arrow": ("spring", "wood"),
    "frisbee": ("plate", "plastic"), "hat": ("cup", "fabric"), "umbrella": ("bird", "fabric"),
    "bubbles": ("bubble", "water"), "train": ("truck", "steel"), "lantern": ("lamp", "paper"), "spark": ("marble", "fire"), "sparks": ("marble", "fire"),
}
#: Scenery words: noun -> scenery kind of the schema.
SCENERY_WORDS = {
    "ramp": "ramp", "incline": "ramp", "slope": "ramp", "chute": "pipe", "slide": "ramp",
    "stairs": "stairs", "staircase": "stairs", "stairway": "stairs", "steps": "stairs",
    "shelf": "shelf", "bookshelf": "shelf", "shelves": "shelf", "ledge": "ledge", "windowsill": "ledge",
    "sill": "ledge", "table": "table", "counter": "counter", "countertop": "counter",
    "worktop": "counter", "desk": "desk", "floor": "floor", "bin": "bin", "wastebasket": "bin",
    "dustbin": "bin", "trash can": "bin", "basket": "basket", "bucket": "bucket", "bowl": "bowl",
    "wall": "wall", "fence": "fence", "stream": "stream", "creek": "stream", "brook": "stream",
    "river": "river", "waterfall": "waterfall", "pond": "pond",
    "stove": "stove", "hob": "stove", "cooker": "stove", "pan": "pan", "saucepan": "pan",
    "frying pan": "pan", "skillet": "pan", "spoon": "spoon", "jug": "jug", "pitcher": "jug",
    "mirror": "mirror", "prism": "prism", "window": "window", "door": "door", "cliff": "cliff",
    "hill": "hill", "track": "track", "pipe": "pipe", "gutter": "pipe", "tube": "pipe",
    "cliff edge": "cliff", "hillside": "hill",
}
#: Scenery that is only there when nothing else in the phrase makes it a subject ("a bowl of fruit").
PLACE_WORDS = {
    "kitchen": "kitchen", "classroom": "classroom", "school": "classroom", "living room": "living room",
    "lounge": "living room", "bedroom": "bedroom", "bathroom": "bathroom", "office": "office",
    "workshop": "workshop", "lab": "laboratory", "laboratory": "laboratory", "garage": "garage",
    "warehouse": "warehouse", "gym": "gym", "hall": "hall", "hallway": "hall", "studio": "studio",
    "street": "street", "road": "street", "alley": "street", "city": "city", "town": "city",
    "construction site": "construction site", "building site": "construction site",
    "playground": "playground", "park": "park", "garden": "garden", "yard": "yard",
    "backyard": "yard", "field": "field", "meadow": "field", "forest": "forest", "woods": "forest",
    "desert": "desert", "mountain": "mountain", "mountainside": "mountain", "cave": "cave",
    "beach": "beach", "shore": "beach", "river bank": "river bank", "riverbank": "river bank",
    "lake": "lake", "sea": "sea", "ocean": "sea", "pool": "pool", "swimming pool": "pool",
    "underwater": "underwater", "snowfield": "snowfield", "ski slope": "snowfield", "sky": "sky",
    "space": "space", "orbit": "space", "tabletop": "table top", "table top": "table top",
}
#: Scenery that says where the shot is when no place word does.
SCENERY_PLACE = {"stove": "kitchen", "counter": "kitchen", "pan": "kitchen", "desk": "classroom",
                 "river": "river", "stream": "river", "waterfall": "river", "pond": "park"}
PATH_WORDS = {"down": "down", "off": "off", "into": "into", "in": "into", "inside": "into",
              "onto": "onto", "on": "onto", "upon": "onto", "across": "across", "past": "past",
              "by": "past", "over": "over", "through": "through", "between": "through",
              "along": "along", "up": "up", "around": "around", "round": "around",
              "toward": "toward", "towards": "toward", "to": "toward", "at": "toward",
              "from": "from", "against": "against", "under": "under", "beneath": "under",
              "underneath": "under", "below": "under", "out": "out of", "away": "from", "above": "over"}
#: Participles that place a thing rather than act: "six plates stacked on a shelf".
PLACING = {"stacked", "sitting", "sits", "standing", "stands", "lying", "lies", "resting", "rests",
           "placed", "perched", "balanced", "hanging", "hangs", "piled", "lined", "arranged",
           "set", "parked", "waiting", "floating", "is", "are", "sat", "stood", "lay", "leaning",
           "leans", "propped", "kept", "left"}
RELATION_WORDS = {"on": "on", "onto": "on", "upon": "on", "on top of": "on", "atop": "on",
                  "in": "in", "inside": "in", "within": "in", "under": "under", "beneath": "under",
                  "below": "under", "underneath": "under", "beside": "beside", "next to": "beside",
                  "by": "beside", "near": "beside", "alongside": "beside", "above": "above",
                  "over": "above", "against": "against", "behind": "behind",
                  "in front of": "in front of", "at the top of": "at the top of",
                  "at the bottom of": "at the bottom of", "at the foot of": "at the bottom of",
                  "from": "hanging from"}
_SUBJECT_GAP = {"is", "are", "was", "were", "gets", "get", "got", "being", "been", "has", "have",
                "then", "also", "both", "all", "each", "now", "still", "suddenly", "slowly", "quickly",
                "gently", "finally", "begins", "starts", "to", "will", "can", "itself", "themselves",
                "which", "that", "who", "first", "soon", "just"}
PRONOUNS = {"it", "they", "he", "she", "them", "its", "their", "which", "that"}
DETERMINERS = {"a", "an", "the", "some", "his", "her", "its", "their", "this", "that", "these",
               "those", "each", "every", "another", "other", "all", "my", "our", "your"}
ADVERBS = {"slowly", "quickly", "gently", "softly", "suddenly", "finally", "then", "lazily",
           "gracefully", "rapidly", "steadily", "smoothly", "violently", "loudly", "quietly", "all",
           "the", "way", "straight", "right", "back", "fast", "hard", "just", "still", "almost",
           "immediately", "noisily", "neatly", "one", "by", "after", "another", "again", "away",
           "apart", "everywhere", "halfway", "nearly", "high", "far", "freely", "briskly", "twice",
           "once", "flat", "together", "forth", "and", "around", "about"}

_AFTER_ARRANGED = (("in a row", "row"), ("in a line", "row"), ("lined up", "row"), ("in a stack", "stack"),
                   ("stacked", "stack"), ("in a pile", "pile"), ("piled", "pile"), ("in a ring", "ring"),
                   ("in a circle", "ring"), ("scattered", "scattered"), ("in a tower", "stack"))
#: Verbs of state or change in place: 'on' and 'in' after them say where, not which way.
STAY_VERBS = {"melt", "burn", "boil", "freeze", "spin", "rest", "explode", "collapse", "float", "grow",
              "topple", "sink", "scatter", "swing", "drift", "glide", "fly", "walk",
              "run", "move", "roll", "slide", "bounce", "jump", "hit"}
LOCATION_WORDS = {"on": "on", "in": "in", "inside": "in", "at": None, "by": "beside", "beside": "beside",
                  "near": "beside", "under": "under", "above": "above", "within": "in"}
_V: dict[str, str] = {}


def _verb(canonical: str, *forms: str) -> None:
    for f in forms:
        _V[f] = canonical


_verb("roll", "roll", "rolls", "rolled", "rolling", "tumble", "tumbles", "tumbled", "tumbling",
      "trundle", "trundles", "wheel", "wheels")
_verb("slide", "slide", "slides", "slid", "sliding", "slip", "slips", "slipped", "skid", "skids",
      "skidded", "glides down", "skate", "skates", "sled", "sleds", "scoot", "scoots", "whoosh",
      "whooshes")
_verb("drop", "drop", "drops", "dropped", "dropping", "release", "released", "releases")
_verb("fall", "fall", "falls", "fell", "falling", "fallen", "plunge", "plunges", "plunged",
      "plummet", "plummets", "dive", "dives", "dived", "descend", "descends", "rain", "rains")
_verb("topple", "topple", "topples", "toppled", "toppling", "tip", "tips", "tipped", "keel", "keels",
      "overturn", "overturns", "capsize", "capsizes")
_verb("swing", "swing", "swings", "swung", "swinging", "sway", "sways", "oscillate", "oscillates")
_verb("throw", "throw", "throws", "threw", "thrown", "throwing", "toss", "tosses", "tossed", "hurl",
      "hurls", "hurled", "fling", "flings", "flung", "lob", "lobs", "lobbed", "pitch", "pitches")
_verb("launch", "launch", "launches", "launched", "fire", "fires", "fired", "shoot", "shoots",
      "catapult", "catapults", "catapulted", "flick", "flicks", "flicked")
_verb("push", "push", "pushes", "pushed", "shove", "shoves", "shoved", "nudge", "nudges", "nudged",
      "pull", "pulls", "pulled", "drag", "drags", "dragged", "kick", "kicks", "kicked")
_verb("knock over", "knock", "knocks", "knocked", "bump", "bumps", "bumped", "topples over")
_verb("hit", "clink", "clinks", "hit", "hits", "strike", "strikes", "struck", "collide", "collides", "collided",
      "slam", "slams", "slammed", "ram", "rams", "rammed", "punch", "punches")
_verb("pour", "pour", "pours", "poured", "pouring", "spill", "spills", "spilled", "spilt", "tip out")
_verb("drip", "drip", "drips", "dripped", "dripping", "trickle", "trickles", "dribble", "dribbles",
      "leak", "leaks", "leaked")
_verb("drift", "drift", "drifts", "drifted", "drifting", "sail", "sails", "sailed", "row", "rows",
      "paddle", "paddles", "cruise", "cruises", "wander", "wanders", "meander", "meanders")
_verb("float", "float", "floats", "floated", "bob", "bobs", "bobbed", "hover", "hovers", "hovered")
_verb("sink", "sink", "sinks", "sank", "sunk", "submerge", "submerges")
_verb("glide", "glide", "glides", "glided", "gliding", "soar", "soars", "soared", "swoop",
      "swoops", "skim", "skims", "skimmed", "coast", "coasts")
_verb("fly", "fly", "flies", "flew", "flown", "flying", "flutter", "flutters", "zoom", "zooms",
      "whizz", "whizzes", "streak", "streaks", "arc", "arcs", "sweep", "sweeps")
_verb("land", "land", "lands", "landed", "landing", "settle", "settles", "settled", "touch down",
      "come to rest", "comes to rest", "stop", "stops", "stopped", "ends up", "end up")
_verb("bounce", "bounce", "bounces", "bounced", "bouncing", "rebound", "rebounds", "ricochet",
      "ricochets", "hop", "hops", "hopped")
_verb("spin", "spin", "spins", "spun", "spinning", "twirl", "twirls", "rotate", "rotates", "whirl",
      "whirls", "wobble", "wobbles", "turn", "turns")
_verb("scatter", "scatter", "scatters", "scattered", "scattering", "fly apart", "flies apart",
      "spread", "spreads", "disperse", "disperses", "tumble down")
_verb("collapse", "collapse", "collapses", "collapsed", "crumble", "crumbles", "crumbled", "cave",
      "caves", "give way", "gives way", "fold", "folds")
_verb("melt", "melt", "melts", "melted", "melting", "thaw", "thaws", "thawed", "soften", "softens")
_verb("freeze", "freeze", "freezes", "froze", "frozen", "freezing", "ice over", "ices over",
      "solidify", "solidifies")
_verb("boil", "boil", "boils", "boiled", "boiling", "simmer", "simmers", "bubble", "bubbles",
      "steam", "steams", "evaporate", "evaporates")
_verb("burn", "burn", "burns", "burned", "burnt", "burning", "blaze", "blazes", "ignite",
      "ignites", "ignited", "flicker", "flickers", "catch fire", "catches fire", "smoulder",
      "smoulders", "light", "lights", "lit")
_verb("explode", "explode", "explodes", "exploded", "exploding", "burst", "bursts", "blow up",
      "blows up", "erupt", "erupts", "erupted", "detonate", "detonates", "pop", "pops", "popped")
_verb("shatter", "shatter", "shatters", "shattered", "shattering", "smash", "smashes", "smashed",
      "break", "breaks", "broke", "broken", "crack", "cracks", "cracked", "splinter", "splinters",
      "crash", "crashes", "crashed", "splits", "split")
_verb("splash", "splash", "splashes", "splashed", "splashing", "plop", "plops", "splat", "splats")
_verb("flow", "flow", "flows", "flowed", "flowing", "gush", "gushes", "stream", "streams",
      "cascade", "cascades", "rush", "rushes", "run down", "runs down")
_verb("rise", "rise", "rises", "rose", "risen", "rising", "climb", "climbs", "climbed", "ascend",
      "ascends", "lift", "lifts", "soar up", "float up", "floats up", "go up", "goes up")
_verb("grow", "grow", "grows", "grew", "grown", "sprout", "sprouts", "bloom", "blooms", "swell",
      "swells", "inflate", "inflates")
_verb("walk", "walk", "walks", "walked", "walking", "stroll", "strolls", "step", "steps", "march",
      "marches", "tiptoe", "tiptoes", "waddle", "waddles", "crawl", "crawls")
_verb("run", "run", "runs", "ran", "running", "race", "races", "raced", "dash", "dashes", "sprint",
      "sprints", "gallop", "gallops", "chase", "chases", "chased", "speed", "speeds", "rush off")
_verb("jump", "jump", "jumps", "jumped", "jumping", "leap", "leaps", "leapt", "leaped", "spring",
      "springs", "sprang", "vault", "vaults")
_verb("move", "blow", "blows", "blew", "blown", "move", "moves", "moved", "drive", "drives", "drove", "travel", "travels", "ride",
      "rides", "swim", "swims", "swam", "carry", "carries", "carried", "sweep along", "go", "goes",
      "went", "head", "heads", "pass", "passes", "passed", "come", "comes", "came", "swirl", "swirls")
_verb("reflect", "reflect", "reflects", "reflected", "bounce off")
_verb("refract", "refract", "refracts", "refracted", "bend", "bends", "split into")
_verb("shine", "shine", "shines", "shone", "glow", "glows", "glint", "glints", "sparkle", "sparkles",
      "beam", "beams", "shining")
_verb("rest", "sit", "sits", "stand", "stands", "rest", "rests", "lie", "lies", "wait", "waits",
      "hang", "hangs")
#: Phrasal verbs first: "goes over" the waterfall falls, "tips over" topples, "knocks over".
PHRASAL = {("go", "over"): "fall", ("goes", "over"): "fall", ("went", "over"): "fall",
           ("goes", "down"): "fall", ("go", "down"): "fall", ("went", "down"): "fall",
           ("tips", "over"): "topple", ("tip", "over"): "topple", ("falls", "over"): "topple",
           ("fall", "over"): "topple", ("fell", "over"): "topple", ("keels", "over"): "topple",
           ("knocks", "over"): "knock over", ("knocked", "over"): "knock over",
           ("blows", "up"): "explode", ("blow", "up"): "explode", ("catches", "fire"): "burn",
           ("catch", "fire"): "burn", ("caught", "fire"): "burn", ("comes", "to"): "land",
           ("flies", "apart"): "scatter", ("fly", "apart"): "scatter", ("gives", "way"): "collapse",
           ("touches", "down"): "land", ("touch", "down"): "land", ("ends", "up"): "land",
           ("lights", "up"): "shine", ("light", "up"): "shine", ("floats", "up"): "rise",
           ("goes", "up"): "rise", ("boils", "over"): "boil", ("boil", "over"): "boil",
           ("goes", "out"): "burn", ("go", "out"): "burn", ("went", "out"): "burn", ("go", "up"): "rise", ("shoots", "up"): "rise"}
#: Verbs a path changes: smashing *into* a wall is a hit, smashing *on* the floor shatters.
_BY_PATH = {("shatter", "into"): "hit", ("shatter", "against"): "hit", ("shatter", "through"): "hit",
            ("move", "down"): "move", ("flow", "over"): "fall",
            ("rain", "down"): "fall", ("move", "off"): "fall", ("burn", "down"): "burn", ("melt", "into"): "melt"}
#: Words that look like verbs here but are nouns or adjectives after a determiner.
_NOT_VERB_AFTER_DET = {"light", "step", "steps", "drop", "fire", "stream", "row", "set", "pitch",
                       "spring", "shot", "slide", "fall", "falls", "crack", "split", "swing",
                       "bubble", "bubbles", "race", "ring", "rain", "pop", "beam", "hop", "burst"}


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+(?:-[a-z]+)*|\d+(?:\.\d+)?", text.lower())


def singular(word: str) -> str:
    if word in ("glass", "grass", "dice", "falls", "stairs", "steps", "leaves", "bubbles", "sparks",
                "fireworks", "shelves"):
        return {"leaves": "leaf", "shelves": "shelf", "bubbles": "bubble", "sparks": "spark"}.get(word, word)
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "oes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _is_plural(word: str) -> bool:
    return singular(word) != word and word not in ("falls", "stairs", "steps", "glass", "dice")


# --------------------------------------------------------------------------------------------------
# Noun phrases


@dataclass
class NounPhrase:
    start: int
    end: int  # exclusive
    head: str  # singular head noun (or compound): 'plate', 'toy boat', 'river'
    kind: str  # 'subject' | 'scenery' | 'place'
    count: int = 1
    counted: bool = False  # a count was said ("six", "a stack of")
    arrangement: str = "single"
    colors: list[str] = field(default_factory=list)
    material: str = ""
    size: str = ""
    words: list[str] = field(default_factory=list)
    place: str = ""  # a place word inside the phrase: "the kitchen floor"


def _lookup(words: list[str], i: int) -> tuple[str, str, int] | None:
    """(head, 'subject'|'scenery'|'place', n words) of a noun at words[i:]."""
    for n in (3, 2, 1):
        if i + n > len(words) or (n == 3 and words[i + 1] == "of"):
            continue  # "a glass of water" is the glass, then the water
        phrase = " ".join(words[i : i + n])
        sing = " ".join([*words[i : i + n - 1], singular(words[i + n - 1])])
        for p in (phrase, sing):
            if p in PLACE_WORDS and not (False):
                return p, "place", n
            if p in SCENERY_WORDS:
                return p, "scenery", n
            if p in EXTRA_NOUNS:
                return p, "subject", n
            if n > 1 and find_kind(p) is not None:
                return p, "subject", n
        if n == 1:
            w = words[i]
            if find_kind(w) is not None or find_kind(singular(w)) is not None:
                return singular(w) if find_kind(singular(w)) else w, "subject", 1
            m = find_material(w)
            if w == "light" and (i + 1 == len(words) or words[i + 1] in _V or words[i + 1] in ("beam", "beams", "ray", "rays")):
                return w, "subject", 1  # "light passes through a prism"
            if m is not None and w not in SIZES - {"water", "sand", "snow", "ice", "glass", "paper"}:
                return w, "subject", 1
    return None


_STOP = {"and", "or", "of", "with", "the", "a", "an", "then", "is", "are", "was", "it", "they", "one",
         "another", "other", "like", "as", "while", "when", "until", "before", "after", "its", "their",
         "slowly", "quickly", "back", "forth", "together", "flat", "apart", "twice", "once", "again",
         "night", "day", "dawn", "dusk", "sunset", "sunrise", "noon", "midnight", "morning",
         "evening", "afternoon", "wind", "sunlight", "time", "moment", "rainbow", "spectrum", "rim",
         "edge", "way", "top", "bottom", "room", "scene", "film", "video", "shot", "camera", "side", "middle", "centre", "center", "end", "front", "air"}


def _generic(words: list[str], j: int) -> bool:
    """An unknown word that can be a noun here: alphabetic, not a verb, path, colour or stop word."""
    w = words[j]
    if _lookup(words, j) is not None or w in SIZES:
        return False
    return (w.isalpha() and w not in _STOP and w not in PATH_WORDS and w not in COLORS
            and w not in VAGUE and not w.endswith("ly") and (w not in _V or w in EXTRA_NOUNS))


def _ends_phrase(words: list[str], k: int) -> bool:
    """A noun phrase may end before words[k]: a verb, a path word, 'and', or the end."""
    if k >= len(words):
        return True
    w = words[k]
    return w in _V or w in PATH_WORDS or w in ("and", "is", "are", "was", "then", "with") or \
        (k + 1 < len(words) and (w, words[k + 1]) in PHRASAL)


def noun_phrases(words: list[str]) -> list[NounPhrase]:
    """Every noun phrase in the words, left to right, with its count, arrangement and adjectives."""
    out: list[NounPhrase] = []
    i = 0
    while i < len(words):
        start = i
        count, counted, arrangement = 1, False, "single"
        colors: list[str] = []
        mods: list[str] = []
        j = i
        # determiners and counts
        while j < len(words):
            w = words[j]
            if w in DETERMINERS:
                j += 1
            elif (w in NUMBERS and w not in ("a", "an")) or re.fullmatch(r"\d+", w):
                count, counted = (int(w) if w.isdigit() else NUMBERS[w]), True
                j += 1
                if j < len(words) and words[j] == "of" and w in ("pair", "couple", "dozen"):
                    j += 1
            elif w in ("a", "an"):
                j += 1
            elif w in VAGUE and j + 1 < len(words):
                count, counted = VAGUE[w], True
                j += 1 + (words[j + 1] == "of")
            elif w in COLLECTIVES and j + 1 < len(words) and words[j + 1] == "of":
                arrangement, default = COLLECTIVES[w]
                count = default if not counted else count
                counted = True
                j += 2
            else:
                break
        # adjectives
        while j < len(words):
            w = words[j]
            if w in COLORS or (w.endswith("-coloured") or w.endswith("-colored")):
                colors.append(w.split("-")[0])
                j += 1
            elif w in ("and", ",") and colors and j + 1 < len(words) and words[j + 1] in COLORS:
                j += 1
            elif (w in SIZES and _lookup(words, j) is None) or (
                    w in NAME_MODIFIERS and j + 1 < len(words) and _lookup(words, j + 1) is not None
                    and _lookup(words, j + 1)[1] in ("subject", "scenery")
                    and not (find_material(w) and find_kind(w) and words[j + 1] == "of")):
                mods.append(w)
                j += 1
            else:
                break
        if j + 1 < len(words) and words[j] in ("brick", "stone", "bricks", "stones") \
                and words[j + 1] in ("wall", "walls", "tower"):
            mat = find_material(singular(words[j]))
            out.append(NounPhrase(start, j + 2, singular(words[j]) if words[j] != "stone" else "stone",
                                  "subject", count if counted else 12, True,
                                  "wall" if words[j + 1] != "tower" else "stack", colors,
                                  mat.name if mat else "", words=words[start:j + 2]))
            i = j + 2
            continue
        hit = _lookup(words, j) if j < len(words) else None
        nxt_is_verb = j + 1 < len(words) and (words[j + 1] in _V or (words[j + 1], words[j + 2] if j + 2 < len(words) else "") in PHRASAL)
        if hit is not None and j == start and words[j] in _V and words[j] not in EXTRA_NOUNS and not (
                nxt_is_verb and (j == 0 or not out or out[-1].end < j)):
            hit = None  # "a skateboard slides", "…, drops into a cup": a verb, not a slide or a drop
            i = j + 1
            continue
        bare_ok = (j == start and (j == 0 or words[j - 1] == "of") and nxt_is_verb) or (
            j == start and j > 0 and words[j - 1] == "of")
        if hit is None and (j > start or bare_ok) and j < len(words) and words[j] not in _V and _generic(words, j):
            k = j
            while k + 1 < len(words) and _generic(words, k + 1) and words[k + 1] not in _V:
                k += 1
            if _ends_phrase(words, k + 1):
                out.append(NounPhrase(start, k + 1, singular(words[k]), "subject", count, counted,
                                      arrangement, colors, words=words[start:k + 1]))
                i = k + 1
                continue
        if hit is None:
            i = max(i + 1, start + 1)
            continue
        head, kind, n = hit
        place = ""
        if kind == "place" and j + n < len(words):
            nxt_hit = _lookup(words, j + n)
            if nxt_hit is not None and nxt_hit[1] == "scenery":  # "the kitchen floor"
                place = PLACE_WORDS[head]
                j, (head, kind, n) = j + n, nxt_hit
        last = words[j + n - 1]
        plural = _is_plural(last) or (n == 1 and last in ("dice", "leaves", "sparks", "bubbles"))
        material = ""
        for m in mods:
            if find_material(m) is not None and m not in ("light",):
                material = find_material(m).name  # type: ignore[union-attr]
        # "brick wall": a wall of bricks; "glass of water": the glass, then the water (next phrase)
        if kind == "scenery" and SCENERY_WORDS[head] == "wall" and mods and mods[-1] in ("brick", "stone"):
            out.append(NounPhrase(start, j + n, mods[-1], "subject", count if counted else 12, True,
                                  "wall", colors, find_material(mods[-1]).name, words=words[start:j + n]))  # type: ignore[union-attr]
            i = j + n
            continue
        if plural and not counted:
            count, counted = 3, False
        if kind == "subject" and head == "ice" and words[j - 1:j] != ["of"]:
            head = "ice"
        named = [m for m in mods if m in NAME_MODIFIERS] if kind == "subject" else []
        head = " ".join([*named[-1:], head]) if named else head
        head = " ".join([*head.split()[:-1], singular(head.split()[-1])])
        end = j + n
        skip = end
        while skip < len(words) and words[skip] in PLACING and words[skip] not in ("stacked", "piled", "scattered", "lined"):
            skip += 1
        after = " ".join(words[skip:skip + 3])
        for phrase, arr in _AFTER_ARRANGED:
            if after.startswith(phrase) and kind == "subject" and count > 1:
                arrangement = arr
                if phrase.startswith("in ") and skip == end:
                    end += len(phrase.split())
                break
        if (j > 0 and words[j - 1] in ("like", "as")) or (start > 0 and words[start - 1] in ("like", "as")):
            i = j + n  # "topple like dominoes": a comparison, not a thing in the scene
            continue
        out.append(NounPhrase(start, end, head, kind, count, counted, arrangement, colors, material,
                              words=words[start:j + n], place=place))
        i = end
    return out


# --------------------------------------------------------------------------------------------------
# Verbs, paths, relations


@dataclass
class ParsedAction:
    subject: str  # head of the actor phrase
    verb: str
    path: str | None = None
    target: str | None = None  # head of the phrase the path or the verb points at


@dataclass
class ParsedScene:
    phrases: list[NounPhrase]
    actions: list[ParsedAction]
    relations: list[tuple[str, str, str]]
    places: list[str]


def _find_verbs(words: list[str], phrases: list[NounPhrase]) -> list[tuple[int, int, str]]:
    """(start, end, canonical verb) of each verb, outside noun phrases."""
    inside = {k for p in phrases for k in range(p.start, p.end)}
    out = []
    i = 0
    while i < len(words):
        w = words[i]
        if i in inside:
            i += 1
            continue
        nxt = words[i + 1] if i + 1 < len(words) else ""
        prev = words[i - 1] if i else ""
        if (w, nxt) in PHRASAL:
            after = words[i + 2] if i + 2 < len(words) else ""
            keep_path = nxt in PATH_WORDS and PHRASAL[(w, nxt)] in ("fall", "rise") and (
                after in DETERMINERS or after in NUMBERS or after.isdigit())
            out.append((i, i + (1 if keep_path else 2), PHRASAL[(w, nxt)]))
            i += 1 if keep_path else 2
            continue
        two = f"{w} {nxt}"
        if two in _V and nxt:
            out.append((i, i + 2, _V[two]))
            i += 2
            continue
        if w in _V and not (prev in DETERMINERS and w in _NOT_VERB_AFTER_DET) and w not in PLACING - {"rests", "sits", "stands", "lies", "hangs"}:
            out.append((i, i + 1, _V[w]))
        i += 1
    return out


def _path_at(words: list[str], k: int) -> tuple[str | None, int]:
    """(path, index after the path words) at words[k], skipping adverbs first."""
    while k < len(words):
        if (words[k] in ADVERBS or words[k].endswith("ly")) and words[k] not in PATH_WORDS:
            k += 1
        elif any(" ".join(words[k:k + len(a.split())]) == a for a, _ in _AFTER_ARRANGED if a.startswith("in ")):
            k += 3
        else:
            break
    if k >= len(words) or words[k] not in PATH_WORDS:
        return None, k
    w, k = words[k], k + 1
    path = PATH_WORDS[w]
    if w == "out" and k < len(words) and words[k] == "of":
        k += 1
    elif w in ("down", "up", "off") and k < len(words) and words[k] in ("onto", "into", "to", "of"):
        path = {"onto": "onto", "into": "into"}.get(words[k], path)
        k += 1
    elif w == "on" and k + 1 < len(words) and words[k] == "top" and words[k + 1] == "of":
        k += 2
    return path, k


def _implied(subject: str, path: str | None, obj: NounPhrase | None) -> tuple[str, str, str] | None:
    """The starting relation an action implies: falling *off* a shelf starts *on* it."""
    if obj is None or obj.kind != "scenery" or path is None:
        return None
    sk = SCENERY_WORDS.get(obj.head, "")
    if path in ("off", "from"):
        return (subject, "on", obj.head)
    if path == "out of":
        return (subject, "in", obj.head)
    if path == "down" and sk in ("ramp", "stairs", "hill", "pipe", "track", "slide"):
        return (subject, "at the top of", obj.head)
    if path == "up" and sk in ("ramp", "stairs", "hill"):
        return (subject, "at the bottom of", obj.head)
    if path in ("down", "along", "across") and sk in ("river", "stream", "table", "counter", "desk",
                                                      "floor", "shelf", "track", "ledge"):
        return (subject, "on", obj.head)
    return None


def parse(text: str, actor: str | None = None, verb: str | None = None) -> ParsedScene:
    """Noun phrases, actions (in order) and starting relations of one beat's text.

    `actor` is who a verb with no subject of its own belongs to (the last actor of the story); `verb`
    is what a beat with a path and no verb of its own does ("…, past two rocks" drifts on).
    """
    words = tokens(text)
    phrases = noun_phrases(words)
    verbs = _find_verbs(words, phrases)
    places = [PLACE_WORDS[p.head] if p.kind == "place" else p.place for p in phrases
              if p.kind == "place" or p.place]
    actors = [p for p in phrases if p.kind == "subject"]
    actions: list[ParsedAction] = []
    relations: list[tuple[str, str, str]] = []
    last = actor
    last_object: str | None = None
    if not verbs and verb is not None and actor is not None:
        path, k = _path_at(words, 0)
        if path is not None:
            verbs = [(0, 0, verb)]
    for vi, (vs, ve, v) in enumerate(verbs):
        before = [p for p in phrases if p.end <= vs and p.kind in ("subject", "scenery")
                  and (vi == 0 or p.start >= verbs[vi - 1][1])
                  and not (p.start > 0 and (words[p.start - 1] in PATH_WORDS or words[p.start - 1] in _V
                                            or words[p.start - 1] in ("of", "like", "as", "with")))]
        subj_p = next((p for p in reversed(before) if p.kind == "subject"), None) or (
            before[-1] if before else None)  # "the river carries…", "the wall collapses"
        if subj_p is None and vi == 0 and actors and actors[0].start < vs and actor is None:
            subj_p = actors[0]
        pron = any(w in ("it", "they", "them") for w in words[(verbs[vi - 1][1] if vi else 0):vs])
        if subj_p is None and pron and last_object is not None:
            subject: str | None = last_object  # "kicks a ball … and it hits the fence": the ball does
        else:
            subject = subj_p.head if subj_p is not None else (last or (actors[0].head if actors else None))
        if subject is None:
            continue
        also: list[str] = []  # "a steel ball and a rubber ball fall": both do
        q = subj_p
        while q is not None:
            prev = next((p for p in reversed(phrases) if p.end <= q.start and p.kind == "subject"), None)
            if prev is None or words[prev.end:q.start] not in (["and"], [","], ["or"]) or (
                    vi and prev.start < verbs[vi - 1][1]) or prev.head == subject or (
                    prev.start > 0 and (words[prev.start - 1] in PATH_WORDS or words[prev.start - 1] in _V)):
                break
            also.insert(0, prev.head)
            q = prev
        nxt_verb = verbs[vi + 1][0] if vi + 1 < len(verbs) else len(words)
        after = [p for p in phrases if ve <= p.start < nxt_verb]
        path, k = _path_at(words, ve)
        # "melts on a plate", "burns at night": after a verb that stays put, on/in/at say where
        loc_word = words[k - 1] if path is not None and k - 1 < len(words) else ""
        if path is not None and loc_word in LOCATION_WORDS and (v in STAY_VERBS or loc_word == "at") and (
                v not in ("roll", "slide", "bounce", "jump", "move", "run", "walk", "fly", "drift", "hit")
                or loc_word in ("at", "by", "above")):
            where = next((p for p in after if p.start >= k), None)
            rel_word = LOCATION_WORDS[loc_word]
            if where is not None and where.start <= k + 3 and rel_word and where.kind in ("subject", "scenery"):
                relations.append((subject, rel_word, where.head))
            if loc_word == "at" and v in ("throw", "launch", "hit", "shoot", "swing") and where is not None:
                target_at = where.head if where.kind in ("subject", "scenery") else None
            else:
                target_at = None
            if v == "rest" and len(verbs) > 1:
                last = subject
                continue  # "bottles stand on a wall and a stone knocks them over": the stand is the setup
            actions.append(ParsedAction(subject, v, None, target_at))
            last = subject
            continue
        moved: str | None = None  # a direct object that the path moves: "knocks a vase off a shelf"
        obj: NounPhrase | None = None
        if path is None and after and after[0].start <= k + 1:
            obj = after[0]
            last_object = obj.head if obj.kind == "subject" else last_object
            p2, k2 = _path_at(words, obj.end)
            if p2 is not None and k2 <= nxt_verb:
                moved, path, k = obj.head, p2, k2
                obj = None
        if path is not None:
            obj = next((p for p in after if p.start >= k), None)
            if obj is not None and obj.start > k + 4:
                obj = None
        v = _BY_PATH.get((v, path or ""), v)
        if v == "move" and path == "down" and obj is not None and SCENERY_WORDS.get(obj.head) in ("waterfall", "cliff"):
            v = "fall"
        target = obj.head if obj is not None and obj.kind in ("subject", "scenery") else None
        if target is None and moved is not None:
            target = moved
        if path == "toward" and words[k - 1] == "at":
            path = None  # "throws a snowball at a fence": aimed at, no path
        if moved is not None:
            last_object = moved
        for who in [*also, subject]:
            actions.append(ParsedAction(who, v, path, target))
            rel = _implied(moved or who, path, obj)
            if rel is not None and v in ("pour", "drip", "flow") and rel[1] == "on" and path in ("from", "out of"):
                rel = (rel[0], "in", rel[2])
            if rel is not None:
                relations.append(rel)
        last = subject
        # a second path after the target: "rolls down a ramp into a bucket"
        if obj is not None:
            p3, k3 = _path_at(words, obj.end)
            obj3 = next((p for p in after if p.start >= k3), None) if p3 is not None else None
            if obj3 is not None and obj3.start <= k3 + 3 and p3 not in ("toward",) and obj3.kind != "place" \
                    and v not in ("pour", "drip", "flow"):
                actions.append(ParsedAction(moved or subject, "land" if p3 in ("into", "onto") else v, p3,
                                            obj3.head))
    # explicit relations: NP [placing word] prep NP, with no verb in between
    verb_at = {k for vs, ve, _ in verbs for k in range(vs, ve)}
    for a, b in itertools.pairwise(phrases):
        if a.kind != "subject" or b.kind not in ("subject", "scenery"):
            continue
        gap = [g for g in words[a.end : b.start] if g not in PLACING and g not in ("the", "a", "an", "neatly", "still")]
        rel = RELATION_WORDS.get(" ".join(gap))
        if rel and not any(k in verb_at for k in range(a.end, b.start)) and rel != "hanging from" \
                and not any(r[0] == a.head for r in relations):
            relations.append((a.head, rel, b.head))
    return ParsedScene(phrases, actions, list(dict.fromkeys(relations)), places)


# --------------------------------------------------------------------------------------------------
# Beats


_BEAT_SPLIT = re.compile(r",\s*(?:and\s+|but\s+|before\s+|until\s+|where\s+)?|\s+(?:before|until|while|as)\s+")


def split_beats(clause: str) -> list[str]:
    """'a boat drifts down a river, past two rocks, and goes over a waterfall' -> three beats.

    A comma part is a beat of its own when it acts (a verb) or goes somewhere (a path word first);
    anything else (a list of things, an adverb) stays with the part before. 'X and Y' is one beat.
    """
    parts = [p.strip() for p in _BEAT_SPLIT.split(clause) if p and p.strip()]
    beats: list[str] = []
    moving: list[bool] = []
    for p in parts:
        words = tokens(p)
        if not words:
            continue
        first = words[0]
        moves = bool(_find_verbs(words, noun_phrases(words))) or (
            first in PATH_WORDS and first not in ("by", "to", "at", "in", "on", "from", "up", "out"))
        if beats and moves and moving[-1]:
            beats.append(p)
            moving.append(True)
        elif beats:
            beats[-1] = f"{beats[-1]}, {p}"
            moving[-1] = moving[-1] or moves
        else:
            beats.append(p)
            moving.append(moves)
    return beats


def subject_entry(p: NounPhrase) -> tuple[str, str]:
    """(catalog kind, material) of a subject noun phrase."""
    if p.head in EXTRA_NOUNS or p.head.split()[-1] in EXTRA_NOUNS:
        kind, mat = EXTRA_NOUNS.get(p.head) or EXTRA_NOUNS[p.head.split()[-1]]
        return kind, p.material or mat
    k = find_kind(p.head) or find_kind(p.head.split()[-1])
    if k is not None:
        return k.name, p.material or k.material
    m = find_material(p.head.split()[-1])
    if m is not None and m.name in ("light", "fire"):
        return ("lamp" if m.name == "light" else "campfire"), m.name
    return ("puddle" if m and m.state == "liquid" else "object"), (m.name if m else "wood")


def is_scenery_word(word: str) -> bool:
    return word in SCENERY_WORDS or singular(word) in SCENERY_WORDS


def kind_size(kind: str) -> float:
    return max(OBJECT_KINDS[kind].size_m) if kind in OBJECT_KINDS else 0.3
