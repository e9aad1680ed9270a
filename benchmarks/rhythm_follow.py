"""Does the score follow the cut? Spot hit rate, Rhythm and Dynamic on generated cuts (issue 20).

For each of `--cuts` random cut lists (a `--seconds` film, shots 1.2-4 s, a few impacts of strength
0.5-1, one energy per shot) the same spots and brief go through:
- procedural: the procedural composer (FluidSynth with a GM SoundFont when installed, else numpy);
- musicgen, first chroma: every spot incl. the beat grid on the tonic over a fifth drone, short
  windows padded with one-hot C, the brief's mid tempo in the text (the first version);
- musicgen, new chroma: cuts and impacts only, strength as tonic/fifth, over a bed in the key,
  repeated padding, the fitted tempo in the text;
- musicgen, new chroma + conform: the same take warped onto the cuts and impacts (music/conform.py).
Metrics (tools/music/metrics.py): spot hit rate (a strong onset within 50 ms of each cut and
impact), Rhythm (normalised cross-correlation with the strength-weighted cuts and impacts, ±50 ms),
Dynamic (1 - cos of 0.5 s-smoothed dB-change curves against the shots' energy; lower is better).

    .venv/bin/python benchmarks/rhythm_follow.py                   # tiny random MusicGen (--debug-models)
    .venv/bin/python benchmarks/rhythm_follow.py --model /path/to/musicgen-melody [--device cuda]
"""

from __future__ import annotations

import argparse
import itertools
import platform
import time

import numpy as np

from filmcrew.schemas import MusicBrief
from filmcrew.tools.music.conform import conform
from filmcrew.tools.music.fluid import render_score_stems
from filmcrew.tools.music.metrics import (
    dynamic_distance,
    energy_db_curve,
    rhythm_score,
    spot_hit_rate,
)
from filmcrew.tools.music.musicgen.composer import resample_exact
from filmcrew.tools.music.musicgen.model import (
    describe,
    generate_music,
    load_musicgen,
    rhythm_chroma,
)
from filmcrew.tools.music.procedural import compose
from filmcrew.tools.music.rhythm import rhythm_spots

SR = 48000
BRIEF = MusicBrief(scene="kitchen at night", brightness="dim", color_tone="blue",
                   action="a glass falls", emotional_tone="tense", shot_scale="close-up",
                   theme="accident", description="tense pizzicato strings and piano", key="D",
                   mode="minor", tempo_bpm_min=90, tempo_bpm_max=120,
                   instruments=["pizzicato strings", "piano", "cello", "percussion"])


def film(seed: int, seconds: float):
    rng = np.random.default_rng(seed)
    cuts, t = [], 0.0
    while True:
        t += float(rng.uniform(1.2, 4.0))
        if t >= seconds - 1.0:
            break
        cuts.append(round(t, 3))
    bounds = [0.0, *cuts, seconds]
    impacts = [(round(float(rng.uniform(a + 0.4, b - 0.4)), 3), round(float(rng.uniform(0.5, 1)), 2))
               for a, b in itertools.pairwise(bounds) if b - a > 1.5 and rng.random() < 0.6]
    sections = [(a, b, round(float(rng.uniform(0.2, 1.0)), 2))
                for a, b in itertools.pairwise(bounds)]
    spots = rhythm_spots(seconds, cuts, [], impacts, (BRIEF.tempo_bpm_min, BRIEF.tempo_bpm_max))
    return spots, sections


def measure(audio: np.ndarray, spots, sections, seconds: float) -> tuple[float, float, float]:
    return (spot_hit_rate(audio, SR, spots), rhythm_score(audio, SR, spots),
            dynamic_distance(audio, SR, energy_db_curve(sections, seconds)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="MusicGen-Melody folder or cached hub id; "
                                                  "default: the tiny random model")
    ap.add_argument("--device", default=None)
    ap.add_argument("--cuts", type=int, default=4, help="how many random cut lists")
    ap.add_argument("--seconds", type=float, default=12.0)
    args = ap.parse_args()
    bundle = load_musicgen(args.model, debug=args.model is None, device=args.device)
    rows: dict[str, list[tuple[float, float, float]]] = {}
    secs: dict[str, float] = {}
    synth = ""
    for seed in range(args.cuts):
        spots, sections = film(seed, args.seconds)

        t0 = time.perf_counter()
        score = compose(BRIEF, spots, sections, args.seconds, seed=seed)
        stems, synth, _ = render_score_stems(score, SR, list(BRIEF.instruments))
        mix = sum(stems.values())
        secs["procedural"] = secs.get("procedural", 0.0) + time.perf_counter() - t0
        rows.setdefault("procedural", []).append(measure(mix, spots, sections, args.seconds))

        for name, legacy in (("musicgen, first chroma", True), ("musicgen, new chroma", False)):
            t0 = time.perf_counter()
            chroma = rhythm_chroma(spots, args.seconds, BRIEF.key, bundle.chroma, mode=BRIEF.mode,
                                   legacy=legacy)
            text = describe(BRIEF) if legacy else describe(BRIEF, spots.tempo_bpm)
            audio, sr = generate_music(bundle, text, chroma, args.seconds, seed=seed,
                                       chroma_pad="c" if legacy else "repeat")
            y = resample_exact(audio, sr, SR, args.seconds)
            secs[name] = secs.get(name, 0.0) + time.perf_counter() - t0
            rows.setdefault(name, []).append(measure(y, spots, sections, args.seconds))
            if not legacy:
                t0 = time.perf_counter()
                res = conform(y, SR, spots)
                secs["conform"] = secs.get("conform", 0.0) + time.perf_counter() - t0
                rows.setdefault("musicgen, new chroma + conform", []).append(
                    measure(res.audio, spots, sections, args.seconds))

    print(f"machine: {platform.machine()}, {platform.python_version()}, model "
          f"{bundle.model_id} on {bundle.model.device}; procedural synth: {synth}")
    print(f"{args.cuts} random cut lists x {args.seconds:g} s\n")
    print("| composer | spot hit rate | Rhythm | Dynamic (lower better) | wall s per cue |")
    print("|---|---|---|---|---|")
    for name, vals in rows.items():
        v = np.mean(np.array(vals), axis=0)
        key = "musicgen, new chroma" if name.endswith("conform") else name
        extra = f" + {secs['conform'] / args.cuts:.2f} conform" if name.endswith("conform") else ""
        print(f"| {name} | {v[0]:.3f} | {v[1]:.3f} | {v[2]:.3f} | "
              f"{secs[key] / args.cuts:.2f}{extra} |")


if __name__ == "__main__":
    main()
