"""Real-time factor of the MusicGen composer (generation seconds / audio seconds).

Tiny random model on CPU always; on CUDA also the musicgen-melody size (1.5B decoder: 48 layers,
width 1536, T5-base text encoder, 32 kHz EnCodec) with random weights built from a config in code
(no download). Baseline in the same run: the procedural composer on the same brief and spots
(compose + synthesis), and the ratio. The full composer rows include writing the WAV and the
pYIN transcription the critics read.

    .venv/bin/python benchmarks/musicgen_rtf.py [--seconds 12] [--gpu-seconds 10]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from filmcrew.artifacts import ArtifactStore
from filmcrew.schemas import MusicBrief
from filmcrew.tools.music import ProceduralComposer
from filmcrew.tools.music.musicgen.composer import MusicgenComposer
from filmcrew.tools.music.musicgen.model import (
    MusicgenBundle,
    describe,
    generate_music,
    random_musicgen_melody,
    rhythm_chroma,
    tiny_musicgen_melody,
)
from filmcrew.tools.music.rhythm import rhythm_spots

BRIEF = MusicBrief(scene="kitchen at night", brightness="dim", color_tone="blue", action="a glass falls",
                   emotional_tone="tense", shot_scale="close-up", theme="accident",
                   description="tense low strings with pizzicato", key="D", mode="minor",
                   tempo_bpm_min=90, tempo_bpm_max=120)


def spots_for(seconds: float):
    cuts = [seconds * f for f in (0.3, 0.55, 0.8)]
    return rhythm_spots(seconds, cuts, [(seconds * 0.4, 0.7)], [(seconds * 0.62, 1.0)], (90, 120))


def time_generate(bundle: MusicgenBundle, seconds: float) -> float:
    spots = spots_for(seconds)
    chroma = rhythm_chroma(spots, seconds, BRIEF.key, bundle.chroma)
    generate_music(bundle, describe(BRIEF), chroma, min(1.0, seconds), seed=0)  # warm-up
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    audio, sr = generate_music(bundle, describe(BRIEF), chroma, seconds, seed=0)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    assert audio.shape == (round(seconds * sr),)
    return time.perf_counter() - t


def time_composer(composer, seconds: float) -> float:
    """Wall time of one cold-cache compose() (after a 2 s warm-up that loads the model and JITs)."""
    spots = spots_for(seconds)
    sections = [(0.0, seconds / 2, 0.4), (seconds / 2, seconds, 0.8)]
    with tempfile.TemporaryDirectory() as tmp:
        store = ArtifactStore(Path(tmp))
        composer.compose(store, "warmup", BRIEF, spots_for(2.0), [(0.0, 2.0, 0.5)], 2.0, seed=1,
                         feedback=[], sample_rate=48000)
        t = time.perf_counter()
        composer.compose(store, "composer", BRIEF, spots, sections, seconds, seed=0, feedback=[],
                         sample_rate=48000)
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12.0, help="audio length for the CPU rows")
    ap.add_argument("--gpu-seconds", type=float, default=10.0, help="audio length on CUDA")
    args = ap.parse_args()
    torch.set_num_threads(1)
    s = args.seconds
    print(f"# musicgen_rtf  torch {torch.__version__}  {platform.processor() or platform.machine()}  "
          f"CUDA {'yes: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no'}")
    proc = time_composer(ProceduralComposer(), s)
    print(f"{'what':48s} {'audio s':>8s} {'wall s':>8s} {'RTF':>8s}")
    print(f"{'procedural composer (baseline, CPU)':48s} {s:8.1f} {proc:8.2f} {proc / s:8.3f}")
    tiny = tiny_musicgen_melody(0, window_s=4.0)
    gen = time_generate(tiny, s)
    print(f"{'tiny musicgen generate_music (CPU, 4 s windows)':48s} {s:8.1f} {gen:8.2f} {gen / s:8.3f}")
    full = time_composer(MusicgenComposer(debug_models=True), s)
    print(f"{'tiny MusicgenComposer (CPU, 2 s windows, +pYIN)':48s} {s:8.1f} {full:8.2f} {full / s:8.3f}")
    print(f"ratio tiny composer / procedural: {full / proc:.2f}x")
    if torch.cuda.is_available():
        g = args.gpu_seconds
        big = random_musicgen_melody("cuda", torch.float16)
        n = sum(p.numel() for p in big.model.decoder.parameters()) / 1e9
        gen = time_generate(big, g)
        print(f"{f'melody-size ({n:.2f}B decoder, fp16, CUDA) generate':48s} {g:8.1f} {gen:8.2f} "
              f"{gen / g:8.3f}")
        pg = time_composer(ProceduralComposer(), g)
        print(f"ratio melody-size generate / procedural compose ({g:.0f} s): {gen / pg:.1f}x")


if __name__ == "__main__":
    main()
