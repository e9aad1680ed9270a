"""A request corpus no developer tuned for: varied film requests, reproducible from a seed.

`corpus(n, seed)` mixes the 17 phenomena with many subjects and settings (indoor, kitchen, street,
sea, sky, space, ...), counts ("seven bottles"), durations in words and digits, one to eight story
beats, music words or none, very short ("rain") and very long (several paragraphs) requests, other
languages, emoji, odd punctuation and typos. Each request carries the kinds it was built from, so a
failure can be traced to what made it unusual. The same (n, seed) always gives the same list.

`tests/eval/test_corpus.py` pushes a subset through the whole crew; `benchmarks/soak.py` (make soak)
runs all of them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

#: One or more action clauses per phenomenon; {s} is the subject, {p} the place.
ACTIONS: dict[str, list[str]] = {
    "collision": ["{s} slams into a wall {p}", "two {pl} collide head-on {p}",
                  "{s} is hit by a swinging hammer {p}"],
    "rigid body motion": ["{s} tumbles down a flight of stairs {p}", "{s} rolls across the floor {p}",
                          "{s} slides down a ramp {p}"],
    "elastic motion": ["{s} bounces three times {p}", "a rubber band snaps against {s} {p}",
                       "{s} springs back after being pressed {p}"],
    "liquid motion": ["water is poured over {s} {p}", "{s} falls into a pool and splashes {p}",
                      "honey drips slowly onto {s} {p}"],
    "gas motion": ["smoke curls around {s} {p}", "steam rises past {s} {p}",
                   "a gust of wind blows dust over {s} {p}"],
    "deformation": ["{s} is crushed by a press {p}", "{s} bends under a heavy weight {p}",
                    "{s} is squashed flat {p}"],
    "melting": ["{s} melts in the sun {p}", "an ice cube melts beside {s} {p}",
                "a chocolate bar melts on {s} {p}"],
    "solidification": ["water freezes into ice around {s} {p}", "molten wax hardens on {s} {p}",
                       "lava cools and sets next to {s} {p}"],
    "vaporization": ["a puddle evaporates next to {s} {p}", "water boils away in a pot beside {s} {p}",
                     "dry ice turns to fog around {s} {p}"],
    "liquefaction": ["steam condenses into droplets on {s} {p}", "butter turns liquid in a pan {p}",
                     "frost on {s} turns to water {p}"],
    "explosion": ["{s} explodes in a burst of sparks {p}", "a balloon pops next to {s} {p}",
                  "fireworks burst above {s} {p}"],
    "combustion": ["{s} catches fire and burns {p}", "a match is struck and lights {s} {p}",
                   "a candle burns down beside {s} {p}"],
    "reflection": ["{s} is reflected in a mirror {p}", "sunlight glints off {s} {p}",
                   "{s} mirrored in a still puddle {p}"],
    "refraction": ["a straw looks bent in a glass of water beside {s} {p}",
                   "light passes through a prism onto {s} {p}", "{s} seen through a magnifying glass {p}"],
    "scattering": ["a laser beam shows in the fog around {s} {p}", "sunbeams cut through dust over {s} {p}",
                   "the sky turns red at sunset behind {s} {p}"],
    "interference and diffraction": ["a soap bubble shimmers with colours near {s} {p}",
                                     "a CD throws rainbow bands onto {s} {p}",
                                     "an oil film swirls with colours under {s} {p}"],
    "unnatural light source": ["{s} glows with an eerie green light {p}", "a neon sign flickers over {s} {p}",
                               "{s} lights up from inside {p}"],
}

SUBJECTS = [
    ("a glass", "glasses"), ("a steel ball", "steel balls"), ("a paper plane", "paper planes"),
    ("a kite", "kites"), ("a wooden chair", "wooden chairs"), ("a bottle", "bottles"),
    ("a teapot", "teapots"), ("an apple", "apples"), ("a robot", "robots"), ("a cat", "cats"),
    ("a snowman", "snowmen"), ("a violin", "violins"), ("a red car", "red cars"), ("a candle", "candles"),
    ("a rubber duck", "rubber ducks"), ("an astronaut", "astronauts"), ("a sailing boat", "sailing boats"),
    ("a stone", "stones"), ("an ice sculpture", "ice sculptures"), ("a lamp", "lamps"),
    ("a tin can", "tin cans"), ("a drone", "drones"), ("a pumpkin", "pumpkins"), ("a crystal vase", "crystal vases"),
]
SETTINGS = [
    "indoors", "in a kitchen", "on a busy street", "at sea", "in the sky", "in outer space",
    "in a classroom", "on a beach", "in a forest", "in a desert", "on a rooftop at night", "in a garage",
    "under water", "on the moon", "in a snowy field", "in a laboratory", "in a cathedral", "",
]
COUNTS = ["two", "three", "seven", "twelve", "5", "10", "a dozen", "forty"]
DURATIONS = ["3 seconds", "5s", "8 seconds long", "ten seconds", "twelve seconds", "15 s", "20-second",
             "half a minute", "1.5 min", "30 seconds", "one minute", "4.5 seconds", "2 seconds"]
MUSIC = ["tense strings", "with a gentle piano", "epic orchestral score", "set to jazz drums",
         "music: ambient synth pads", "sad cello", "upbeat 120 bpm electronic", "no music",
         "a lullaby in D minor", "heavy metal guitars", "with a playful marimba"]
CAMERA = ["slow-motion replay of the fall", "close-up", "wide shot", "the camera pans left",
          "time-lapse over hours", "then a tracking shot follows it", "super slow motion"]
SHORT = ["rain", "fire", "ice", "boom", "a ball", "sunset", "waves", "smoke", "glass", "light",
         "melt", "x", "?", "!!!", "...", "ok"]
FOREIGN = [
    "Ein Glas fällt vom Tisch und zerbricht auf dem Boden.",
    "Une bougie brûle lentement dans une pièce sombre, musique douce.",
    "Una pelota de goma rebota en la calle y cae al agua.",
    "Un aquilone sale sopra la spiaggia e il vento strappa il filo.",
    "Лёд тает на солнце, капли падают на стол.",
    "一个玻璃杯从桌子上掉下来摔碎了。",
    "氷が溶けて水になる、ゆっくりしたピアノ。",
    "풍선이 터지고 색종이가 날린다.",
    "كرة تتدحرج على الطاولة وتسقط على الأرض",
    "Um barco navega no mar durante uma tempestade.",
    "Een kaars brandt en de was smelt, 10 seconden.",
    "Bir bardak su dökülüyor ve yere yayılıyor.",
]
EMOJI = ["🔥", "💥", "🌊", "❄️", "🎈", "🚀", "🌈", "🕯️", "🎻", "🍎", "💧", "⚡", "🌪️", "🫧"]
PUNCT = ["!!!", "?!", "...", " — ", ";;", " :) ", "\"", "'", "(", ")", " / ", " & ", " #", "***", "~", "«»"]


@dataclass
class CorpusRequest:
    """One request of the corpus and the kinds it was built from."""

    text: str
    kinds: list[str] = field(default_factory=list)
    index: int = 0


def _typo(rng: random.Random, text: str, n: int) -> str:
    chars = list(text)
    for _ in range(n):
        if len(chars) < 3:
            break
        i = rng.randrange(1, len(chars) - 1)
        op = rng.randrange(4)
        if op == 0:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif op == 1:
            del chars[i]
        elif op == 2:
            chars.insert(i, chars[i])
        else:
            chars[i] = rng.choice("qwertyuiopasdfghjklzxcvbnm")
    return "".join(chars)


def _clause(rng: random.Random, phenomenon: str | None = None, count: str | None = None) -> str:
    ph = phenomenon or rng.choice(list(ACTIONS))
    one, many = rng.choice(SUBJECTS)
    subject = f"{count} {many}" if count else one
    place = rng.choice(SETTINGS)
    text = rng.choice(ACTIONS[ph]).format(s=subject, pl=many, p=place)
    return " ".join(text.split())


def _story(rng: random.Random, beats: int, phenomenon: str) -> str:
    joins = ["; ", ", then ", ". Then ", ". After that, ", ". Finally, ", " and then ", ". Next, ", ". "]
    text = _clause(rng, phenomenon)
    for _ in range(beats - 1):
        text += rng.choice(joins) + _clause(rng)
    return text


def _long(rng: random.Random, k: int) -> str:
    paras = []
    for _ in range(rng.randint(3, 5)):
        sents = [_clause(rng).capitalize() + rng.choice([".", "!", "..."]) for _ in range(rng.randint(3, 6))]
        paras.append(" ".join(sents))
    paras.append(f"The whole film should take {rng.choice(DURATIONS)}, {rng.choice(MUSIC)}.")
    return "\n\n".join(paras)


def make_request(rng: random.Random, i: int) -> CorpusRequest:
    """Request number i of a corpus: a kind picked by i (so every kind appears), details by rng."""
    phenomena = list(ACTIONS)
    ph = phenomena[i % len(phenomena)]
    kind = ["story", "count", "duration", "music", "short", "long", "foreign", "emoji", "punct",
            "typo", "camera", "mixed"][(i // len(phenomena) + i) % 12]
    kinds = [kind, f"phenomenon:{ph}"]
    if kind == "short":
        text = rng.choice(SHORT) + rng.choice(["", "", ".", "!", " " + rng.choice(EMOJI), "  "])
    elif kind == "long":
        text = _long(rng, i)
    elif kind == "foreign":
        text = rng.choice(FOREIGN) + rng.choice(["", "", " " + rng.choice(EMOJI), " (10 s)",
                                                  " " + rng.choice(MUSIC), " " + _clause(rng, ph)])
    elif kind == "count":
        text = _clause(rng, ph, count=rng.choice(COUNTS))
    else:
        beats = rng.randint(1, 8)
        kinds.append(f"beats:{beats}")
        text = _story(rng, beats, ph)
        if kind in ("duration", "mixed"):
            d = rng.choice(DURATIONS)
            text = rng.choice([f"A {d} film: {text}", f"{text}, {d}", f"Make a {d} clip where {text}"])
        if kind in ("music", "mixed"):
            text = f"{text}; {rng.choice(MUSIC)}"
        if kind in ("camera", "mixed"):
            text = f"{text}, {rng.choice(CAMERA)}"
        if kind == "emoji":
            text = " ".join(w + (rng.choice(EMOJI) if rng.random() < 0.2 else "") for w in text.split())
            text = rng.choice(EMOJI) + " " + text
        if kind == "punct":
            text = "".join(c + (rng.choice(PUNCT) if c == " " and rng.random() < 0.15 else "") for c in text)
            text = text.upper() if rng.random() < 0.3 else text
        if kind in ("typo", "mixed"):
            text = _typo(rng, text, rng.randint(1, 4))
    return CorpusRequest(text=text, kinds=kinds, index=i)


def corpus(n: int = 340, seed: int = 0) -> list[CorpusRequest]:
    """`n` requests, the same for the same seed; every kind and phenomenon appears when n ≥ 204."""
    if n < 0:
        raise ValueError(f"n {n}; must be >= 0")
    rng = random.Random(seed)
    return [make_request(rng, i) for i in range(n)]


def subset(requests: list[CorpusRequest], k: int) -> list[CorpusRequest]:
    """k requests taken round-robin over the kinds, spread along each kind's list."""
    if k >= len(requests):
        return list(requests)
    by_kind: dict[str, list[CorpusRequest]] = {}
    for r in requests:
        by_kind.setdefault(r.kinds[0], []).append(r)
    per = -(-k // len(by_kind))
    out: list[CorpusRequest] = []
    for j in range(per):
        for kind in sorted(by_kind):
            rs = by_kind[kind]
            if len(out) < k and j < len(rs):
                out.append(rs[j * len(rs) // per])
    return sorted(out, key=lambda r: r.index)


#: The tiny format the CI subset and the soak run at: fast, yet every node runs for real.
TINY = {"width": 96, "height": 64, "fps": 8, "candidates": 1, "beam": 1, "sample_rate": 16000,
        "max_critic_rounds": 1, "overlay": False}


def run_request(text: str, run_dir: str, **options: object) -> dict:
    """Make the film of `text` in `run_dir` with the whole crew (plan auto-approved) and check it.

    Returns {"ok", "seconds", "error", "frames", "planned_frames", "audio_s", "picture_s"}; never
    raises for a failing request (the error is the result), so a soak counts every failure.
    """
    import time
    import traceback
    from pathlib import Path

    from filmcrew.config import RunOptions
    from filmcrew.runner import start
    from filmcrew.timing import frames_of
    from filmcrew.tools.media import probe

    t0 = time.perf_counter()
    out: dict = {"ok": False, "error": None}
    try:
        opts = RunOptions(**{**TINY, **options})
        result = start(text, opts, Path(run_dir))
        if result.final is None:
            raise RuntimeError(f"run ended {result.status!r} without a film")
        info = probe(result.final)
        plan = result.state["plan"]
        planned = sum(frames_of(s["duration_s"], opts.fps) for s in plan["shots"])
        out.update(frames=info.video_frames, planned_frames=planned, picture_s=info.duration_s,
                   audio_s=info.audio_duration_s, codecs=info.codecs)
        problems = []
        if info.video_frames != planned:
            problems.append(f"{info.video_frames} frames; the plan has {planned}")
        if info.audio_duration_s is None or abs(info.audio_duration_s - info.duration_s) > 1 / opts.fps:
            problems.append(f"audio {info.audio_duration_s} s vs picture {info.duration_s} s")
        if info.codecs.get("video") != "h264" or info.codecs.get("audio") != "aac":
            problems.append(f"codecs {info.codecs}")
        if problems:
            raise AssertionError("; ".join(problems))
        out["ok"] = True
    except Exception as e:  # the soak records every failure, whatever it is
        out["error"] = f"{type(e).__name__}: {e}"
        out["traceback"] = traceback.format_exc(limit=6)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out
