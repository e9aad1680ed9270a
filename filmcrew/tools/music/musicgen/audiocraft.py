"""The same composer on Meta's audiocraft (FilmComposer's own stack), behind `MusicGenerator`.

audiocraft pins torch 2.1, so it lives in its own environment (`make test-audiocraft` builds
`.venv-audiocraft`); it is imported only when compose() runs, and a clear error says so when it
is missing. Conditioning is audiocraft's MusicGen-Melody API: `generate_with_chroma` with the
rendered rhythm waveform (tools/musicgen.rhythm_waveform), which audiocraft turns into its
`self_wav` chroma; longer pieces use audiocraft's own windowed extension (`extend_stride`).
Models without the chroma conditioner (audiocraft's tiny 'debug' model, musicgen-small) are
text-only. Artifacts, feedback handling and transcription are the transformers composer's.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from filmcrew.artifacts import ArtifactStore
from filmcrew.schemas import ArtifactRef, MusicBrief, RhythmSpots
from filmcrew.tools.protocols import Progress

AUDIOCRAFT_VERSION = "2"
DEFAULT_MODEL = "facebook/musicgen-melody"


def load_audiocraft(name: str, device: str | None = None) -> Any:
    """audiocraft's MusicGen `name` ('debug' = its tiny random model), kept among the process's
    resident models (tools/resident.py). Hub ids must already be in the HF cache: downloads are
    switched off while loading."""
    try:
        from audiocraft.models import MusicGen
    except ImportError as e:
        raise ImportError("music backend 'audiocraft' needs the audiocraft package (it pins torch "
                          "2.1: use its own environment, e.g. `make test-audiocraft` builds "
                          ".venv-audiocraft), or use --music-backend musicgen") from e
    import torch

    from filmcrew.tools.resident import RESIDENT

    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")

    def load() -> Any:
        old = os.environ.get("HF_HUB_OFFLINE")
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            return MusicGen.get_pretrained(name, device=dev)
        except Exception as e:
            if name == "debug":
                raise
            raise FileNotFoundError(
                f"audiocraft model {name} is not available offline ({e}); fetch it with "
                f"`huggingface-cli download {name}` or set FILMCREW_MUSICGEN_MODEL") from e
        finally:
            if old is None:
                os.environ.pop("HF_HUB_OFFLINE", None)
            else:
                os.environ["HF_HUB_OFFLINE"] = old

    return RESIDENT.get(("audiocraft", name, dev), load)


def generate_audiocraft(model: Any, description: str, rhythm_wave: Any | None, wave_sr: int,
                        duration_s: float, *, seed: int, guidance_scale: float = 3.0,
                        progress: Progress | None = None) -> tuple[Any, int]:
    """Mono float32 audio of exactly `duration_s` s at the model's rate, with the rhythm waveform
    as chroma conditioning when the model has a `self_wav` conditioner."""
    import numpy as np
    import torch

    model.set_generation_params(duration=duration_s, cfg_coef=guidance_scale,
                                extend_stride=min(18.0, model.max_duration * 0.6))
    total = math.ceil(duration_s)
    reported = [0]

    def step(done: int, _todo: int) -> None:  # done counts tokens across extension windows
        sec = min(total, int(done / model.frame_rate))
        while progress and reported[0] < sec:
            reported[0] += 1
            progress(reported[0], total)

    model.set_custom_progress_callback(step)
    torch.manual_seed(seed)
    chroma_ok = "self_wav" in model.lm.condition_provider.conditioners
    if rhythm_wave is not None and chroma_ok:
        wav = torch.from_numpy(np.asarray(rhythm_wave, np.float32))[None, None]
        out = model.generate_with_chroma([description], wav, wave_sr, progress=True)
    else:
        out = model.generate([description], progress=True)
    step(round(total * model.frame_rate), 0)  # the last partial second
    audio = out[0].mean(dim=0).float().cpu().numpy()
    n = round(duration_s * model.sample_rate)
    return np.pad(audio, (0, max(0, n - audio.size)))[:n].astype(np.float32), int(model.sample_rate)


class AudiocraftComposer:
    """MusicGen-Melody through audiocraft, conditioned on the description and the rhythm spots."""

    name = "audiocraft"

    def __init__(self, model: str | None = None, *, debug_models: bool = False,
                 device: str | None = None, guidance_scale: float = 3.0, conform: bool = True):
        self.model = "debug" if debug_models else (model or DEFAULT_MODEL)
        self.device, self.guidance_scale, self.conform = device, guidance_scale, conform

    def compose(self, store: ArtifactStore, node: str, brief: MusicBrief, spots: RhythmSpots,
                sections: list[tuple[float, float, float]], duration_s: float, *, seed: int,
                feedback: list[str], sample_rate: int,
                progress: Progress | None = None) -> tuple[ArtifactRef, ArtifactRef]:
        """(score JSON transcribed from the music, one-stem "music" WAV at `sample_rate`)."""
        from filmcrew.tools.music.musicgen.composer import (
            finish_take,
            plan_take,
            take_meta,
            transcribed_score,
        )

        knobs, description, params, gen_seed = plan_take(
            brief, spots, feedback, seed, guidance_scale=self.guidance_scale, duration_s=duration_s,
            sample_rate=sample_rate, conform=self.conform)

        def make_stems(path: Path) -> dict:
            from filmcrew.tools.media import write_audio
            from filmcrew.tools.music.musicgen.model import rhythm_waveform

            model = load_audiocraft(self.model, self.device)
            wave = rhythm_waveform(spots, duration_s, knobs.brief.key, 32000,
                                   mode=knobs.brief.mode, min_strength=knobs.min_strength)
            audio, sr = generate_audiocraft(model, description, wave, 32000, duration_s,
                                            seed=gen_seed, guidance_scale=knobs.guidance_scale,
                                            progress=progress)
            music, conformed = finish_take(audio, sr, sample_rate, duration_s, spots, self.conform)
            write_audio(path, music, sample_rate)
            return take_meta(duration_s, sample_rate, description, knobs, sr, conformed)

        stems_ref = store.get_or_create(node, "audiocraft", AUDIOCRAFT_VERSION, params, ext="wav",
                                        media_type="audio/wav", make=make_stems,
                                        model=self.model, seed=gen_seed, gpu=True)

        return transcribed_score(store, node, AUDIOCRAFT_VERSION, stems_ref, knobs, spots,
                                 sections), stems_ref
