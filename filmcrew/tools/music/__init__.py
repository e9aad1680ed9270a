"""Music backends behind the `MusicGenerator` protocol, plus the cached analysis and mix steps.

The procedural composer (tools/music/procedural.py) is the CPU default. Its outputs are two files: the
symbolic score as JSON (the reviewers read notes, not guesses) and the stems as one WAV with a channel
per stem, in `STEMS` order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from filmcrew.artifacts import ArtifactStore
from filmcrew.schemas import ArtifactRef, MixPlan, MusicBrief, RhythmSpots
from filmcrew.tools.faces import lazy_face
from filmcrew.tools.protocols import MusicGenerator, Progress

STEMS = ("melody", "harmony", "bass", "percussion")
COMPOSER_VERSION = "1"
ANALYSIS_VERSION = "1"
MIX_VERSION = "1"


class ProceduralComposer:
    """Rhythm-aligned symbolic composition in the brief's key, mode and tempo, synthesised to stems."""

    name = "procedural"

    def __init__(self, *, fluidsynth: bool = True, soundfont: str | None = None):
        """`fluidsynth`: render through FluidSynth with a GM SoundFont when this machine has
        both (music/fluid.py), else the numpy synthesizer."""
        self.fluidsynth, self.soundfont = fluidsynth, soundfont

    def compose(self, store: ArtifactStore, node: str, brief: MusicBrief, spots: RhythmSpots,
                sections: list[tuple[float, float, float]], duration_s: float, *, seed: int,
                feedback: list[str], sample_rate: int,
                progress: Progress | None = None) -> tuple[ArtifactRef, ArtifactRef]:
        from filmcrew.tools.music.procedural import Score, compose

        params = {"brief": brief.model_dump(mode="json"), "spots": spots.model_dump(mode="json"),
                  "sections": sections, "duration_s": duration_s, "feedback": list(feedback)}
        score_ref = store.get_or_create(
            node, "compose", COMPOSER_VERSION, params, ext="json", media_type="application/json",
            seed=seed,
            make=lambda p: ArtifactStore.json_writer(compose(
                brief, spots, sections, duration_s, seed=seed, feedback=list(feedback)).to_json())(p),
        )

        from filmcrew.tools.music.fluid import render_score_stems, synth_id

        synth = synth_id(self.soundfont) if self.fluidsynth else "numpy"

        def make_stems(path: Path) -> dict:
            from filmcrew.tools.media import write_audio

            score = Score.from_json(store.read_json(score_ref))
            stems, used, programs = render_score_stems(
                score, sample_rate, list(brief.instruments), soundfont=self.soundfont,
                use_fluidsynth=self.fluidsynth)
            if progress:
                progress(1, 1)
            write_audio(path, np.stack([stems[s] for s in STEMS], axis=1), sample_rate)
            return {"duration_s": duration_s, "sample_rate": sample_rate, "stems": list(STEMS),
                    "synth": used, "gm_programs": [f"{k}={v}" for k, v in programs.items()]}

        stems_ref = store.get_or_create(node, "synthesize", COMPOSER_VERSION,
                                        {"sample_rate": sample_rate, "synth": synth,
                                         "instruments": list(brief.instruments)}, ext="wav",
                                        media_type="audio/wav", make=make_stems,
                                        inputs=[score_ref])
        return score_ref, stems_ref


def music_backend(name: str, *, debug_models: bool = False, settings: Any | None = None) -> MusicGenerator:
    """The music generator called `name`: "procedural" (CPU default), "musicgen" (transformers
    MusicGen-Melody with rhythm conditioning; the tiny random model with `debug_models`, else
    `settings.musicgen_model` / `settings.musicgen_rhythm`) or "audiocraft" (the same composer on
    audiocraft, in its own environment). Nothing heavy loads until compose() runs."""
    if name == "procedural":
        return ProceduralComposer()
    model = getattr(settings, "musicgen_model", None)
    rhythm = getattr(settings, "musicgen_rhythm", None)
    if name == "musicgen":
        from filmcrew.tools.music.musicgen.composer import MusicgenComposer

        return MusicgenComposer(model, debug_models=debug_models, rhythm=rhythm)
    if name == "audiocraft":
        from filmcrew.tools.music.musicgen.audiocraft import AudiocraftComposer

        return AudiocraftComposer(model, debug_models=debug_models)
    raise ValueError(f"unknown music backend {name!r}")


def clip_motion(store: ArtifactStore, node: str, clip: ArtifactRef) -> list[float]:
    """Per-frame optical-flow energy of a clip (cached), for motion rhythm spots."""

    def make(path: Path) -> dict:
        from filmcrew.tools.media import read_video
        from filmcrew.tools.music.rhythm import motion_energy

        energy = motion_energy(read_video(store.path(clip)), clip.fps or 24.0)
        return ArtifactStore.json_writer([round(float(x), 5) for x in energy])(path)

    ref = store.get_or_create(node, "motion_energy", ANALYSIS_VERSION, {}, ext="json",
                              media_type="application/json", make=make, inputs=[clip])
    return list(store.read_json(ref))


def ambience_stem(store: ArtifactStore, node: str,
                  pieces: list[tuple[ArtifactRef, float, float, float]], duration_s: float,
                  sample_rate: int) -> ArtifactRef:
    """Lay shots' own sound (RFLAV's ambience WAVs) on the film's timeline as one mono stem (cached).

    Each piece is (wav, start in the film, in point, out point) in seconds: the trimmed part of the
    shot's sound starts where the shot starts, so the sound stays on its picture.
    """
    params = {"pieces": [[round(t, 6), round(a, 6), round(b, 6)] for _, t, a, b in pieces],
              "duration_s": duration_s, "sample_rate": sample_rate}

    def make(path: Path) -> dict:
        from filmcrew.tools.media import read_audio, resample, write_audio

        track = np.zeros(round(duration_s * sample_rate), np.float32)
        for wav, start, t_in, t_out in pieces:
            audio, sr = read_audio(store.path(wav))
            mono = audio.mean(axis=1) if audio.ndim == 2 else audio
            part = resample(mono[round(t_in * sr):round(t_out * sr)], sr, sample_rate)
            at = round(start * sample_rate)
            n = max(0, min(part.size, track.size - at))
            track[at:at + n] += part[:n]
        write_audio(path, track, sample_rate)
        return {"duration_s": duration_s, "sample_rate": sample_rate, "stems": ["ambience"]}

    return store.get_or_create(node, "ambience", MIX_VERSION, params, ext="wav",
                               media_type="audio/wav", make=make, inputs=[w for w, *_ in pieces])


def mix_stems(store: ArtifactStore, node: str, stems: ArtifactRef, plan: MixPlan,
              duration_s: float, sample_rate: int,
              ambience: ArtifactRef | None = None) -> ArtifactRef:
    """Mix the stems (and the ambience, ducked under them) to a stereo WAV at the plan's loudness
    (cached)."""
    params = {"plan": plan.model_dump(mode="json", exclude={"stems"}),
              "gains": {s.name: s.gain_db for s in plan.stems},
              "pans": {s.name: s.pan for s in plan.stems},
              "duration_s": duration_s, "sample_rate": sample_rate}

    def make(path: Path) -> dict:
        from filmcrew.tools.media import read_audio, write_audio
        from filmcrew.tools.music.mixer import mix

        audio, sr = read_audio(store.path(stems))
        audio = audio.reshape(audio.shape[0], -1)  # a one-stem WAV reads as (N,)
        names = stems.meta.get("stems", list(STEMS))
        amb = None
        if ambience is not None:
            amb_audio, amb_sr = read_audio(store.path(ambience))
            if amb_sr != sr:
                raise ValueError(f"ambience at {amb_sr} Hz, stems at {sr} Hz")
            amb = {"ambience": amb_audio.mean(axis=1) if amb_audio.ndim == 2 else amb_audio}
        result = mix({str(n): audio[:, i] for i, n in enumerate(names)}, sr, duration_s, plan=plan,
                     gains_db=params["gains"], pans=params["pans"], ambience=amb)
        write_audio(path, result.audio, sr)
        return {"duration_s": duration_s, "sample_rate": sr, "lufs": round(result.lufs, 2),
                "true_peak_db": round(result.true_peak_db, 2),
                "stems": [*map(str, names), *(["ambience"] if amb else [])]}

    return store.get_or_create(node, "mix", MIX_VERSION, params, ext="wav", media_type="audio/wav",
                               make=make, inputs=[stems, *([ambience] if ambience else [])])


#: What agents call, by name -> the module (and its name there) that defines it (tools/faces.py):
#: imported on first use, so importing the music face stays light (no torch until a backend runs).
_FACE = {
    "motion_peaks": "filmcrew.tools.music.rhythm",
    "rhythm_spots": "filmcrew.tools.music.rhythm",
    "review_music": "filmcrew.tools.music.review:review",
    "Score": "filmcrew.tools.music.procedural",
}


__getattr__ = lazy_face(__name__, _FACE)
