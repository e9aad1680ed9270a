"""The `rflav` video backend: ambient shots with their own synchronous sound (METHODS.md §6.7).

For a shot whose ambience is one of the Landscape classes (tools/video/rflav/classes.py), FLAV-B/1 rolls out
10 fps latent frames and their audio together for the shot's length; the frames go through the SD-VAE,
the audio through the vocoder. The picture is fitted to the film (cover-resize, frames repeated to
exactly round(duration × fps)) and written as the MP4; the sound is written beside it as a 16 kHz
mono WAV of exactly the shot's duration, which the MP4's meta points to (ambience_uri/_sha256) so the
mixer can lay it under the music. A shot with no ambient class raises NoAmbientClass: the crew sends
it to another backend. The released weights are CC-BY-NC-4.0; the licence travels in the meta.
"""

from __future__ import annotations

import math
import threading
import weakref
from pathlib import Path
from typing import Any

from filmcrew.artifacts import ArtifactStore
from filmcrew.schemas import ArtifactRef, PhysicsAnnotation, Shot
from filmcrew.tools.protocols import Progress

RFLAV_VERSION = "1"
NATIVE_FPS = 10  # RFLAV's frame rate: ten mel frames (1600 samples at 16 kHz) per video frame


class NoAmbientClass(ValueError):
    """The shot's ambience is none of the Landscape classes, so RFLAV cannot make it."""


class RflavGenerator:
    """RFLAV joint audio+video for ambient shots (VideoGenerator protocol; audio as a side WAV).

    With `debug_models` the FLAV model, VAE and vocoder are tiny and random (noise, CPU, seconds).
    Without it the weights must be on disk (FILMCREW_RFLAV_MODEL / _VAE / _VOCODER or the HF cache)
    and a CUDA GPU present, checked here so the run fails before any rendering, naming what to fetch.
    """

    name = "rflav"
    STEPS = 2  # n: window passes per output frame (the paper's --num-timesteps 2)
    CFG_SCALE = 1.0  # [ours] class guidance off for the released models; the tiny one exercises it
    DEBUG_CFG_SCALE = 2.0

    def __init__(self, *, debug_models: bool = False, settings: Any | None = None):
        # `settings` is the crew's Settings (or anything with these attributes); tools read no
        # environment themselves.
        self.debug = debug_models
        self.model_spec = getattr(settings, "rflav_model", None)
        self.vae_spec = getattr(settings, "rflav_vae", None)
        self.vocoder_spec = getattr(settings, "rflav_vocoder", None)
        if not debug_models:
            from filmcrew.tools.devices import gpu_missing

            locate_rflav(self.model_spec, self.vae_spec, self.vocoder_spec)
            if gpu_missing(settings):
                raise ValueError("the rflav backend needs a CUDA GPU and none is available; "
                                 "--debug-models runs its tiny version on the CPU")

    def model_id(self) -> str:
        from filmcrew.models.rflav.keys import DEFAULT_REPO
        from filmcrew.tools.video.rflav.audio import VAE_REPO

        if self.debug:
            return "debug-tiny"
        return f"{self.model_spec or DEFAULT_REPO} {self.vae_spec or VAE_REPO}"

    def generate(self, store: ArtifactStore, node: str, shot: Shot,
                 annotation: PhysicsAnnotation | None, *, seed: int, width: int, height: int,
                 fps: int, shot_number: int, style: str, global_prompt: str = "",
                 progress: Progress | None = None) -> ArtifactRef:
        from filmcrew.models.rflav.keys import RFLAV_LICENSE
        from filmcrew.tools.video.rflav.audio import SAMPLE_RATE
        from filmcrew.tools.video.rflav.classes import landscape_class

        cls = landscape_class(annotation, shot)
        if cls is None:
            raise NoAmbientClass(f"shot {shot.id}: no Landscape ambience (explosion, fire, rain, "
                                 "water, thunder, wind…) in its physics or words; not an RFLAV shot")
        native = max(1, math.ceil(shot.duration_s * NATIVE_FPS - 1e-9))
        n_samples = round(shot.duration_s * SAMPLE_RATE)
        cfg_scale = self.DEBUG_CFG_SCALE if self.debug else self.CFG_SCALE
        params = {"shot_id": shot.id, "duration_s": shot.duration_s, "class": cls,
                  "native_frames": native, "steps": self.STEPS, "cfg_scale": cfg_scale,
                  "debug": self.debug}
        model_id = self.model_id()
        done: dict[str, Any] = {}

        # make_wav and make_mp4 share one rollout. Here (local executor) `done` holds it; shipped to
        # a GPU worker as two calls, each carries its own copy of `done`, and the worker's
        # process memo (`_last_rollout`) serves the second call the first one's rollout.
        def sampled() -> dict[str, Any]:
            if not done:
                done.update(self._sampled(cls, native, seed, cfg_scale, progress))
            return done

        def make_wav(path: Path) -> dict:
            import numpy as np

            from filmcrew.tools.media import write_audio

            wave = sampled()["wave"]
            out = np.zeros(n_samples, np.float32)
            out[: min(n_samples, len(wave))] = wave[:n_samples]
            write_audio(path, out, SAMPLE_RATE)
            return {"duration_s": n_samples / SAMPLE_RATE, "sample_rate": SAMPLE_RATE,
                    **_class_meta(cls, sampled()["conditioning"]), "license": RFLAV_LICENSE}

        wav = store.get_or_create(node, "rflav-ambience", RFLAV_VERSION, params, ext="wav",
                                  media_type="audio/wav", make=make_wav, seed=seed, model=model_id,
                                  gpu=True)

        def make_mp4(path: Path) -> dict:
            from filmcrew.tools.media import write_video
            from filmcrew.tools.video.fit import fit_clip

            s = sampled()
            n_out = round(shot.duration_s * fps)
            n = write_video(path, fit_clip(s["frames"], n_out=n_out, width=width, height=height,
                                           fps=fps, native_fps=NATIVE_FPS), fps)
            return {"duration_s": n / fps, "fps": fps, "width": width, "height": height,
                    "frames": n, "generated_frames": len(s["frames"]),
                    **_class_meta(cls, s["conditioning"]), "license": RFLAV_LICENSE,
                    "ambience_uri": wav.uri, "ambience_sha256": wav.sha256,
                    "ambience_sample_rate": SAMPLE_RATE, "model_passes": s["passes"]}

        video_params = {**params, "width": width, "height": height, "fps": fps}
        return store.get_or_create(node, "rflav", RFLAV_VERSION, video_params, ext="mp4",
                                   media_type="video/mp4", make=make_mp4, seed=seed,
                                   model=model_id, inputs=[wav], gpu=True)

    def _sampled(self, cls: str, native: int, seed: int, cfg_scale: float,
                 progress: Progress | None) -> dict[str, Any]:
        """`_sample`, served from this process's last rollout when it had the same parameters."""
        key = (self.debug, self.model_spec, self.vae_spec, self.vocoder_spec, self.STEPS, cls,
               native, seed, cfg_scale)
        model = _components(self.debug, self.model_spec, self.vae_spec, self.vocoder_spec)[0]
        with _LAST_LOCK:  # the same parameters on the same loaded model (not a reloaded one)
            if _LAST_ROLLOUT and _LAST_ROLLOUT[0][0] == key and _LAST_ROLLOUT[0][1]() is model:
                return _LAST_ROLLOUT[0][2]
        out = self._sample(cls, native, seed, cfg_scale, progress)
        with _LAST_LOCK:
            _LAST_ROLLOUT[:] = [(key, weakref.ref(model), out)]
        return out

    def _sample(self, cls: str, native: int, seed: int, cfg_scale: float,
                progress: Progress | None) -> dict[str, Any]:
        """Roll out `native` frames; decode pictures frame by frame and the audio in one go."""
        import numpy as np
        import torch

        from filmcrew.tools.devices import DEVICE_LOCK
        from filmcrew.tools.video.rflav.audio import decode_latents, latents_to_wave
        from filmcrew.tools.video.rflav.classes import LANDSCAPE_CLASSES, class_index
        from filmcrew.tools.video.rflav.sampler import StreamStats, stream

        model, vae, vocoder, meta = _components(self.debug, self.model_spec, self.vae_spec,
                                                self.vocoder_spec)
        # the class steers only a class-conditional Landscape checkpoint (its own config.json says)
        conditioned = (bool(meta.get("conditional", model.config.num_classes > 0))
                       and meta["dataset"] == "landscape"
                       and model.config.num_classes >= len(LANDSCAPE_CLASSES))
        y = class_index(cls) if conditioned else None
        stats = StreamStats()
        frames, audio = [], []
        with DEVICE_LOCK:  # one sampler on the device at a time
            for v, a in stream(model, n=self.STEPS, frames=native, y=y,
                               cfg_scale=cfg_scale if conditioned else 1.0, seed=seed,
                               progress=progress, stats=stats):
                frames.append(decode_latents(vae, v)[0])  # decoded as it comes: constant memory
                audio.append(a[0].cpu())
            wave = latents_to_wave(torch.stack(audio), vocoder, meta["dataset"])
        return {"frames": np.stack(frames), "wave": wave, "passes": stats.passes,
                "conditioning": "class" if conditioned else "unconditional"}


def _class_meta(cls: str, conditioning: str) -> dict[str, str]:
    """What a clip says about its class: claimed as RFLAV's class only when it steered the model."""
    out = {"ambience": cls, "rflav_conditioning": conditioning}
    if conditioning == "class":
        out["rflav_class"] = cls
    return out


def locate_rflav(model: str | None, vae: str | None, vocoder: str | None) -> None:
    """Raise one error naming everything the real backend lacks (no loading, no download)."""
    from filmcrew.models.rflav.keys import FlavWeightsMissing, locate_flav
    from filmcrew.tools.video.rflav.audio import VAE_REPO

    errors = []
    folder = None
    try:
        folder = locate_flav(model)
    except FlavWeightsMissing as e:
        errors.append(str(e))
    voc = Path(vocoder).expanduser() if vocoder else (folder / "vocoder" if folder else None)
    if voc is not None and not ((voc / "vocoder.pt").exists() or voc.is_file()):
        errors.append(f"vocoder.pt not found in {voc} (set FILMCREW_RFLAV_VOCODER to the folder "
                      "with vocoder.pt and config.json)")
    if not _vae_present(vae or VAE_REPO):
        errors.append(f"SD-VAE {vae or VAE_REPO} not found (`huggingface-cli download {VAE_REPO}`, "
                      "or set FILMCREW_RFLAV_VAE to its folder)")
    if errors:
        raise FileNotFoundError("rflav: " + "; ".join(errors))


def _vae_present(spec: str) -> bool:
    path = Path(spec).expanduser()
    if path.is_dir():
        return (path / "config.json").exists()
    from filmcrew.models.hub import cached_snapshots

    return any((s / "config.json").exists() for s in cached_snapshots(spec))


#: The last rollout this process made: (its parameters, a weak reference to the FLAV model that
#: made it, the result), at most one; it never keeps an evicted model alive.
_LAST_ROLLOUT: list[tuple[tuple, Any, dict[str, Any]]] = []
_LAST_LOCK = threading.Lock()


def _components(debug: bool, model: str | None, vae: str | None,
                vocoder: str | None) -> tuple[Any, Any, Any, dict[str, Any]]:
    """(FLAV, VAE, vocoder, meta) of a configuration, kept among the process's resident models
    (tools/resident.py)."""
    from filmcrew.tools.resident import RESIDENT

    def load() -> tuple[Any, Any, Any, dict[str, Any]]:
        import torch

        from filmcrew.models.rflav.keys import load_flav
        from filmcrew.models.rflav.vocoder import load_vocoder, tiny_vocoder
        from filmcrew.tools.video.rflav.audio import load_vae, tiny_vae

        if debug:
            flav, _, meta = load_flav(None, debug=True)
            return flav, tiny_vae(0), tiny_vocoder(0), meta
        dev = "cuda" if torch.cuda.is_available() else "cpu"
        flav, _, meta = load_flav(model, debug=False, device=dev)
        voc_path = vocoder or meta["vocoder_dir"]
        if voc_path is None:
            raise FileNotFoundError("rflav: no vocoder (set FILMCREW_RFLAV_VOCODER)")
        return flav, load_vae(vae, device=dev), load_vocoder(voc_path, device=dev), meta

    return RESIDENT.get(("rflav", debug, model, vae, vocoder), load)
