"""MusicGen behind the `MusicGenerator` protocol: FilmComposer's rhythm-controlled composer.

One call renders the rhythm spots to chroma, generates the whole cue (windowed continuation past
the model's 30 s), resamples it to the mix rate as a one-stem WAV ("music"), and transcribes it to
a `Score` so the rule reviewers and an LLM critic read notes (tools/music/transcribe.py). Both are
artifacts cached by their parameters, like the procedural composer's.

The reviewers' reasons change the next round through `feedback_knobs`: phrases from
music_score.FEEDBACK_PHRASES reword the description, raise the guidance scale (follow the text
more closely), thin the rhythm condition to the strongest cuts and impacts (more contrast, never
"accent everything"), or change the mode; and any feedback at all moves to a fresh sampling seed,
so a failing take is never regenerated identically.

Stock MusicGen-Melody reads the chroma as melody, not rhythm, so after generation the music is
conformed to the picture (tools/music/conform.py: strong onsets warped onto the cuts and impacts);
on by default, and the stems' metadata records the spot hit rate before and after.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from filmcrew.artifacts import ArtifactStore
from filmcrew.schemas import ArtifactRef, MusicBrief, RhythmSpots
from filmcrew.tools.protocols import Progress

MUSICGEN_VERSION = "2"
GUIDANCE_STEP = 1.5
MAX_GUIDANCE = 7.0


@dataclass
class Knobs:
    """What one round of generation uses, after the feedback."""

    brief: MusicBrief
    extra_words: list[str] = field(default_factory=list)
    guidance_scale: float = 3.0
    min_strength: float = 0.0  # cuts/impacts weaker than this are left out of the condition
    seed_offset: int = 0
    applied: list[str] = field(default_factory=list)


#: Spots kept in the condition after a failing rhythm review: the strong ones only.
RHYTHM_FLOOR = 0.5

#: phrase in a reviewer's reason → (words added to the description, guidance bump, spot floor)
RULES: tuple[tuple[tuple[str, ...], str, float, float], ...] = (
    (("off the spots", "snap onsets"), "clear rhythmic accents", 0.0, RHYTHM_FLOOR),
    (("outside the key", "stricter scale"), "simple diatonic melody", GUIDANCE_STEP, 0.0),
    (("smaller intervals", "leaps too large"), "smooth stepwise melody", 0.0, 0.0),
    (("range too wide",), "narrow melodic range", 0.0, 0.0),
    (("chord tones",), "consonant triadic harmony", 0.0, 0.0),
    (("resolve to the tonic",), "ending on the tonic", 0.0, 0.0),
    (("denser rhythm",), "busy fast-moving melody", 0.0, 0.0),
    (("sparser rhythm",), "sparse slow melody with long notes", 0.0, 0.0),
)


def feedback_knobs(brief: MusicBrief, feedback: list[str], *, guidance_scale: float = 3.0) -> Knobs:
    """The generation settings for a round: the reviewers' reasons, matched case-insensitively
    against the composer's phrases, reword the description, raise guidance (capped at 7), keep
    only the strong cuts/impacts in the rhythm condition, or switch the mode; a reason naming none is recorded as ignored. Any feedback
    changes the sampling seed (a hash of the reasons)."""
    k = Knobs(brief=brief, guidance_scale=guidance_scale)
    for reason in feedback:
        r = reason.lower()
        before = len(k.applied)
        for phrases, words, bump, floor in RULES:
            if any(p in r for p in phrases) and words not in k.extra_words:
                k.extra_words.append(words)
                k.guidance_scale = min(MAX_GUIDANCE, k.guidance_scale + bump)
                k.min_strength = max(k.min_strength, floor)
                k.applied.append(f"+{words!r}" + (f", guidance {k.guidance_scale:g}" if bump else "")
                                 + (f", spots >= {floor:g}" if floor else ""))
        for mode in ("minor", "major"):
            if f"use {mode} mode" in r and k.brief.mode != mode:
                k.brief = k.brief.model_copy(update={"mode": mode})
                k.applied.append(f"mode={mode}")
        if len(k.applied) == before:
            k.applied.append(f"ignored: {reason}")
    if feedback:
        digest = hashlib.sha256("\n".join(feedback).encode()).hexdigest()
        k.seed_offset = int(digest[:6], 16)
    return k


class MusicgenComposer:
    """MusicGen(-Melody) conditioned on the brief's description and the picture's rhythm spots."""

    name = "musicgen"

    def __init__(self, model: str | None = None, *, debug_models: bool = False,
                 rhythm: Path | None = None, device: str | None = None, guidance_scale: float = 3.0,
                 window_s: float | None = None, overlap_s: float | None = None,
                 conform: bool = True):
        self.model, self.debug, self.rhythm, self.device = model, debug_models, rhythm, device
        self.guidance_scale, self.window_s, self.overlap_s = guidance_scale, window_s, overlap_s
        self.conform = conform

    def model_id(self) -> str:
        """What the artifact keys record as the model (tiny model, checkpoint, rhythm weights)."""
        from filmcrew.tools.music.musicgen.model import DEFAULT_MODEL

        base = "tiny-musicgen-melody@0" if self.debug else (self.model or DEFAULT_MODEL)
        return base + (f"+rhythm:{Path(self.rhythm).name}" if self.rhythm else "")

    def compose(self, store: ArtifactStore, node: str, brief: MusicBrief, spots: RhythmSpots,
                sections: list[tuple[float, float, float]], duration_s: float, *, seed: int,
                feedback: list[str], sample_rate: int,
                progress: Progress | None = None) -> tuple[ArtifactRef, ArtifactRef]:
        """(score JSON transcribed from the music, stems WAV with one channel "music" at
        `sample_rate`, exactly `duration_s` long). Both cached by their parameters."""
        knobs, description, params, gen_seed = plan_take(
            brief, spots, feedback, seed, guidance_scale=self.guidance_scale, duration_s=duration_s,
            sample_rate=sample_rate, window_s=self.window_s, overlap_s=self.overlap_s,
            conform=self.conform)

        # a GPU call: `make_stems` carries plain values and loads the model where it runs
        def make_stems(path: Path) -> dict:
            from filmcrew.tools.media import write_audio
            from filmcrew.tools.music.musicgen.model import (
                generate_music,
                load_musicgen,
                rhythm_chroma,
            )

            bundle = load_musicgen(self.model, debug=self.debug, rhythm=self.rhythm,
                                   device=self.device)
            chroma = None
            if bundle.melody:
                chroma = rhythm_chroma(spots, duration_s, knobs.brief.key, bundle.chroma,
                                       mode=knobs.brief.mode, min_strength=knobs.min_strength)
            audio, sr = generate_music(bundle, description, chroma, duration_s, seed=gen_seed,
                                       guidance_scale=knobs.guidance_scale, window_s=self.window_s,
                                       overlap_s=self.overlap_s, progress=progress)
            music, conformed = finish_take(audio, sr, sample_rate, duration_s, spots, self.conform)
            write_audio(path, music[:, None], sample_rate)
            return take_meta(duration_s, sample_rate, description, knobs, sr, conformed)

        stems_ref = store.get_or_create(node, "musicgen", MUSICGEN_VERSION, params, ext="wav",
                                        media_type="audio/wav", make=make_stems,
                                        model=self.model_id(), seed=gen_seed, gpu=True)

        return transcribed_score(store, node, MUSICGEN_VERSION, stems_ref, knobs, spots,
                                 sections), stems_ref


def plan_take(brief: MusicBrief, spots: RhythmSpots, feedback: list[str], seed: int, *,
              guidance_scale: float, duration_s: float, sample_rate: int,
              **extra: float | bool | None) -> tuple[Knobs, str, dict, int]:
    """One round's generation: the knobs the feedback sets, the text description, the parameters
    the music is cached under, and the sampling seed."""
    from filmcrew.tools.music.musicgen.model import describe

    if duration_s <= 0 or sample_rate <= 0:
        raise ValueError(f"duration {duration_s} s at {sample_rate} Hz; both must be > 0")
    knobs = feedback_knobs(brief, list(feedback), guidance_scale=guidance_scale)
    description = ", ".join([describe(knobs.brief, spots.tempo_bpm), *knobs.extra_words])
    params = {"description": description, "spots": spots.model_dump(mode="json"),
              "tonic": knobs.brief.key, "mode": knobs.brief.mode, "min_strength": knobs.min_strength,
              "guidance_scale": knobs.guidance_scale, "duration_s": duration_s,
              "sample_rate": sample_rate, "seed_offset": knobs.seed_offset, **extra}
    return knobs, description, params, seed + knobs.seed_offset


def transcribed_score(store: ArtifactStore, node: str, version: str, stems: ArtifactRef,
                      knobs: Knobs, spots: RhythmSpots,
                      sections: list[tuple[float, float, float]]) -> ArtifactRef:
    """The generated music transcribed to a `Score` (cached), for the critics to read as notes."""

    def make(path: Path) -> dict:
        from filmcrew.tools.media import read_audio
        from filmcrew.tools.music.transcribe import transcribe

        audio, sr = read_audio(store.path(stems))
        score = transcribe(audio.reshape(audio.shape[0], -1)[:, 0], sr, brief=knobs.brief,
                           spots=spots, sections=[(a, b) for a, b, _ in sections] or None)
        score.feedback_applied = [*knobs.applied, *score.feedback_applied]
        return ArtifactStore.json_writer(score.to_json())(path) or {}

    return store.get_or_create(node, "transcribe", version,
                               {"brief": knobs.brief.model_dump(mode="json"),
                                "spots": spots.model_dump(mode="json"), "sections": sections},
                               ext="json", media_type="application/json", make=make,
                               inputs=[stems])


def finish_take(audio: np.ndarray, sr: int, sample_rate: int, duration_s: float,
                spots: RhythmSpots, conform: bool) -> tuple[np.ndarray, dict | None]:
    """A generated take at the mix rate, exactly `duration_s` long, conformed to the cuts and
    impacts when `conform` (tools/music/conform.py); returns (audio, the conform report or None)."""
    y = resample_exact(audio, sr, sample_rate, duration_s)
    if not conform:
        return y, None
    from filmcrew.tools.music.conform import conform as conform_audio

    res = conform_audio(y, sample_rate, spots)
    return res.audio.astype(np.float32), res.report()


def take_meta(duration_s: float, sample_rate: int, description: str, knobs: Knobs, sr: int,
              conformed: dict | None) -> dict:
    """The stems metadata of one generated take (MusicGen or audiocraft): what was asked, what the
    reviewers' feedback changed, and the conform report when the take was conformed."""
    return {"duration_s": duration_s, "sample_rate": sample_rate, "stems": ["music"],
            "description": description, "guidance_scale": knobs.guidance_scale,
            "model_sample_rate": sr, "feedback_applied": list(knobs.applied),
            "conform": conformed is not None, **(conformed or {})}


def resample_exact(audio: np.ndarray, sr: int, target_sr: int, duration_s: float) -> np.ndarray:
    """`audio` at `target_sr` (soxr, high quality), cut or zero-padded to exactly
    round(duration_s * target_sr) samples."""
    from filmcrew.tools.media import resample

    y = resample(audio, sr, target_sr)
    n = round(duration_s * target_sr)
    return np.pad(y, (0, max(0, n - y.size)))[:n].astype(np.float32)
