"""Video backends behind the `VideoGenerator` protocol, and the registry the crew picks them from."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from filmcrew.artifacts import ArtifactStore
from filmcrew.schemas import ArtifactRef, PhysicsAnnotation, Shot
from filmcrew.tools.devices import gpu_missing
from filmcrew.tools.faces import lazy_face
from filmcrew.tools.protocols import Progress, VideoGenerator

PREVIZ_VERSION = "1"
WISA_VERSION = "1"
SYNCOS_VERSION = "2"  # 2: event-first prompts, descent stage 2, plain base models


def previz_request(shot: Shot, annotation: PhysicsAnnotation | None, *, width: int, height: int,
                   fps: int, shot_number: int, style: str, overlay: bool) -> dict[str, Any]:
    """What a previz clip is made from (and cached under); the evaluator re-simulates from it."""
    return {"shot": shot.model_dump(mode="json"),
            "annotation": annotation.model_dump(mode="json") if annotation else None,
            "width": width, "height": height, "fps": fps, "shot_number": shot_number,
            "style": style, "overlay": overlay}


class PrevizGenerator:
    """The CPU default: a 2D physics animatic of the shot (tools/previz)."""

    name = "previz"

    def __init__(self, overlay: bool = True):
        self.overlay = overlay

    def generate(self, store: ArtifactStore, node: str, shot: Shot,
                 annotation: PhysicsAnnotation | None, *, seed: int, width: int, height: int,
                 fps: int, shot_number: int, style: str, global_prompt: str = "",
                 progress: Progress | None = None) -> ArtifactRef:
        params = previz_request(shot, annotation, width=width, height=height, fps=fps,
                                shot_number=shot_number, style=style, overlay=self.overlay)

        def make(path: Path) -> dict:
            from filmcrew.tools.media import write_video
            from filmcrew.tools.video.previz import render_previz

            clip = render_previz(shot, annotation, width=width, height=height, fps=fps, seed=seed,
                                 shot_number=shot_number, style=style, overlay=self.overlay,
                                 progress=progress)
            n = write_video(path, clip.frames, fps)
            events = sorted(clip.events, key=lambda e: e.time_s)
            return {
                "duration_s": n / fps, "fps": fps, "width": width, "height": height,
                "frames": n,
                "event_times": [round(e.time_s, 4) for e in events],
                "event_kinds": [e.kind for e in events],
                "event_strengths": [round(e.strength, 4) for e in events],
            }

        return store.get_or_create(node, "previz", PREVIZ_VERSION, params, ext="mp4",
                                   media_type="video/mp4", make=make, seed=seed)


class WisaGenerator:
    """WISA physics-aware text-to-video (tools/video/wisa/pipeline.py) on CogVideoX-5B or Wan2.1.

    The text is the annotation's caption + physics paragraph, the 29 categories and 18 quantities
    condition the physical module. The clip is generated at the base model's native length and size,
    then fitted to the shot: cover-resized to the film's frame and resampled to exactly
    round(duration × fps) frames. A shot longer than the native clip with several events goes to
    SynCoS instead (SyncosGenerator: one coherent long video). With `debug_models` every component is
    tiny and random (noise pictures, CPU, no weights); without it the weights must be on disk, which is
    checked when the backend is made so a missing file fails before any rendering, naming what to fetch.
    """

    name = "wisa"
    DEBUG_STEPS = 4  # noise pictures do not improve with more steps
    GUIDANCE = 6.0

    def __init__(self, *, debug_models: bool = False, settings: Any | None = None):
        from filmcrew.tools.video.wisa.weights import DEFAULT_BASE, DEFAULT_STEPS

        # `settings` is the crew's Settings (or anything with these attributes); tools read no
        # environment themselves.
        self.debug = debug_models
        self.base = getattr(settings, "wisa_base", DEFAULT_BASE)
        self.model = getattr(settings, "wisa_model", None)
        self.wisa_dir = getattr(settings, "wisa_dir", None)
        self.steps = self.DEBUG_STEPS if debug_models else getattr(settings, "wisa_steps", DEFAULT_STEPS)
        if not debug_models:
            from filmcrew.tools.video.wisa.weights import locate_wisa

            locate_wisa(self.base, model=self.model, wisa_dir=self.wisa_dir)
            if gpu_missing(settings):
                raise ValueError("the wisa backend needs a CUDA GPU and none is available; "
                                 "--debug-models runs its tiny version on the CPU, "
                                 "--executor ray runs it on a cluster's GPUs")

    def generate(self, store: ArtifactStore, node: str, shot: Shot,
                 annotation: PhysicsAnnotation | None, *, seed: int, width: int, height: int,
                 fps: int, shot_number: int, style: str, global_prompt: str = "",
                 progress: Progress | None = None) -> ArtifactRef:
        from filmcrew.tools.video.wisa.weights import DEFAULT_MODELS, WISA_REPO

        if len(shot.events) >= 2 and shot.duration_s > self.native_seconds():
            # A long multi-event shot: one coherent long video by SynCoS instead of a stretched clip.
            return SyncosGenerator(wisa=self).generate(
                store, node, shot, annotation, seed=seed, width=width, height=height, fps=fps,
                shot_number=shot_number, style=style, global_prompt=global_prompt,
                progress=progress)
        model_id = "debug-tiny" if self.debug else (self.model or DEFAULT_MODELS[self.base])
        wisa_id = "debug-tiny" if self.debug else (self.wisa_dir or WISA_REPO)
        params = {
            "shot": shot.model_dump(mode="json"),
            "annotation": annotation.model_dump(mode="json") if annotation else None,
            "width": width, "height": height, "fps": fps, "base": self.base,
            "model": model_id, "wisa": wisa_id, "debug": self.debug, "steps": self.steps,
            "guidance": self.GUIDANCE,
        }

        # `make` may travel to a GPU worker (store gpu=True): it captures plain values and this
        # generator's settings only, and loads the pipeline where it runs (tools/resident.py).
        def make(path: Path) -> dict:
            import torch

            from filmcrew.tools.devices import DEVICE_LOCK
            from filmcrew.tools.media import write_video
            from filmcrew.tools.video.fit import fit_clip
            from filmcrew.tools.video.wisa.pipeline import text_for

            pipe = _wisa_pipeline(self.base, debug=self.debug, model=self.model,
                                  wisa_dir=self.wisa_dir)
            text = (text_for(annotation) if annotation else "") or shot.local_prompt
            cats = torch.tensor([annotation.qualitative]) if annotation else None
            quants = torch.tensor([annotation.quantitative]) if annotation else None
            with DEVICE_LOCK:  # one denoising loop on the accelerator at a time
                frames = pipe(text, cats, quants, num_inference_steps=self.steps,
                              guidance_scale=self.GUIDANCE,
                              generator=torch.Generator().manual_seed(seed),
                              gate_mode="reference", callback=progress)
            n_out = round(shot.duration_s * fps)
            n = write_video(path, fit_clip(frames, n_out=n_out, width=width, height=height, fps=fps,
                                           native_fps=pipe.native_fps), fps)
            return {"duration_s": n / fps, "fps": fps, "width": width, "height": height,
                    "frames": n, "generated_frames": len(frames), "base": self.base,
                    "steps": self.steps}

        return store.get_or_create(node, "wisa", WISA_VERSION, params, ext="mp4",
                                   media_type="video/mp4", make=make, seed=seed,
                                   model=f"{model_id} {wisa_id}", gpu=True)

    def ids(self) -> tuple[str, str]:
        """(base model, WISA weights) as recorded with each artifact."""
        from filmcrew.tools.video.wisa.weights import DEFAULT_MODELS, WISA_REPO

        if self.debug:
            return "debug-tiny", "debug-tiny"
        return self.model or DEFAULT_MODELS[self.base], self.wisa_dir or WISA_REPO

    def pipeline(self) -> Any:
        """The (process-wide, cached) WisaPipeline of this configuration."""
        return _wisa_pipeline(self.base, debug=self.debug, model=self.model, wisa_dir=self.wisa_dir)

    def native_seconds(self) -> float:
        """Length of the base model's native clip, without loading a real model."""
        if self.debug:  # the tiny pipeline is cheap and defines its own native clip
            p = self.pipeline()
            return p.native_frames / p.native_fps
        from filmcrew.tools.video.wisa.pipeline import NATIVE

        return NATIVE[self.base]["frames"] / NATIVE[self.base]["fps"]


class SyncosGenerator:
    """SynCoS long shots (tools/video/syncos/sampler.py) on the base model, physics-aware with WISA.

    A shot longer than the base model's native clip is generated as one long video of coupled
    native-length chunks: the global prompt (annotation caption + physics paragraph, or the shot's
    prompt, plus the film's style) with one local prompt per event, each chunk taking the event at its
    centre. With the WISA weights present the transformer is WISA's (the shot's physics condition
    applies, and shots no longer than a native clip are plain WISA clips); with only the base weights
    it is the plain CogVideoX / Wan transformer, the paper's own setting (a short shot is then one
    uncoupled chunk: the base model's own sampler). `--debug-models` runs SynCoS over a tiny plain
    transformer; the `wisa` backend sends its long multi-event shots here with its tiny or real WISA
    pipeline. Progress counts model evaluations (every chunk of every step).
    """

    name = "syncos"
    ITERS = 20  # CSD iterations per coupled step: the low end of the paper's 20–50 (METHODS.md §2.4)
    DEBUG_ITERS = 2  # on tiny models: exercise stage 2, stay fast
    GUIDANCE = WisaGenerator.GUIDANCE

    def __init__(self, *, debug_models: bool = False, settings: Any | None = None,
                 wisa: WisaGenerator | None = None):
        from filmcrew.tools.video.wisa.weights import (
            DEFAULT_BASE,
            DEFAULT_STEPS,
            WisaWeightsMissing,
            find_base_model,
        )

        if wisa is None and not debug_models:
            try:
                wisa = WisaGenerator(debug_models=False, settings=settings)
            except WisaWeightsMissing:  # base weights alone: SynCoS on the plain base model
                find_base_model(getattr(settings, "wisa_base", DEFAULT_BASE),
                                getattr(settings, "wisa_model", None))  # raises, naming what to fetch
                if gpu_missing(settings):
                    raise ValueError("the syncos backend needs a CUDA GPU and none is available; "
                                     "--debug-models runs its tiny version on the CPU") from None
        self.wisa = wisa
        self.physics = wisa is not None
        self.debug = wisa.debug if wisa is not None else debug_models
        self.base = wisa.base if wisa is not None else getattr(settings, "wisa_base", DEFAULT_BASE)
        self.model = wisa.model if wisa is not None else getattr(settings, "wisa_model", None)
        self.steps = (wisa.steps if wisa is not None else WisaGenerator.DEBUG_STEPS if debug_models
                      else getattr(settings, "wisa_steps", DEFAULT_STEPS))

    def ids(self) -> tuple[str, str]:
        """(base model, WISA weights or "none") as recorded with each artifact."""
        from filmcrew.tools.video.wisa.weights import DEFAULT_MODELS

        if self.wisa is not None:
            return self.wisa.ids()
        return ("debug-tiny-base" if self.debug else self.model or DEFAULT_MODELS[self.base]), "none"

    def pipeline(self) -> Any:
        """The WISA pipeline, or the plain base model's (cached per process like WISA's)."""
        if self.wisa is not None:
            return self.wisa.pipeline()
        return _base_pipeline(self.base, debug=self.debug, model=self.model)

    def native_seconds(self) -> float:
        if self.wisa is not None:
            return self.wisa.native_seconds()
        if self.debug:
            p = self.pipeline()
            return p.native_frames / p.native_fps
        from filmcrew.tools.video.wisa.pipeline import NATIVE

        return NATIVE[self.base]["frames"] / NATIVE[self.base]["fps"]

    def latent_frames(self, pipe: Any, duration_s: float) -> int:
        """Latent frames covering the shot at the native frame rate (at least one chunk).

        CogVideoX's VAE decodes an odd number T of latent frames to (T−1)·4+1 frames, so T is odd there.
        """
        import math

        need = max(pipe.native_frames, math.ceil(duration_s * pipe.native_fps))
        t = math.ceil((need - 1) / pipe.scale_temporal) + 1
        return t + 1 if pipe.base == "cogvideox" and t % 2 == 0 else t

    def generate(self, store: ArtifactStore, node: str, shot: Shot,
                 annotation: PhysicsAnnotation | None, *, seed: int, width: int, height: int,
                 fps: int, shot_number: int, style: str, global_prompt: str = "",
                 progress: Progress | None = None) -> ArtifactRef:
        wisa = self.wisa
        if wisa is not None and shot.duration_s <= wisa.native_seconds():  # one native clip covers it
            return wisa.generate(store, node, shot, annotation, seed=seed, width=width,
                                 height=height, fps=fps, shot_number=shot_number, style=style,
                                 global_prompt=global_prompt, progress=progress)
        from filmcrew.tools.video.wisa.pipeline import text_for

        model_id, wisa_id = self.ids()
        # SynCoS's global prompt holds what does not change: the film's look (the planner's global
        # prompt, else its style) and the shot's physics text; each event is a local prompt.
        global_prompt = " ".join(p for p in (
            global_prompt.strip() or style.strip(),
            (text_for(annotation) if annotation else "") or shot.local_prompt) if p)
        iters = self.DEBUG_ITERS if self.debug else self.ITERS
        params = {
            "shot": shot.model_dump(mode="json"),
            "annotation": annotation.model_dump(mode="json") if annotation else None,
            "global_prompt": global_prompt, "local_prompts": list(shot.events),
            "width": width, "height": height, "fps": fps, "base": self.base, "model": model_id,
            "wisa": wisa_id, "debug": self.debug, "steps": self.steps, "guidance": self.GUIDANCE,
            "iters": iters, "physics": self.physics,
        }

        def make(path: Path) -> dict:  # travels like WISA's: plain values, the model loaded here
            import torch

            from filmcrew.tools.devices import DEVICE_LOCK
            from filmcrew.tools.media import write_video
            from filmcrew.tools.video.fit import fit_clip
            from filmcrew.tools.video.syncos.sampler import SyncosSampler

            pipe = self.pipeline()
            sampler = SyncosSampler(pipe, guidance_scale=self.GUIDANCE, iters=iters)
            t = self.latent_frames(pipe, shot.duration_s)
            total = sampler.planned_calls(t, self.steps)
            done = [0]

            def on_chunk(step: int, steps: int, chunk: int) -> None:
                done[0] += 1
                if progress is not None:
                    progress(done[0], total)

            physics = self.physics and annotation is not None
            cats = torch.tensor([annotation.qualitative]) if physics else None
            quants = torch.tensor([annotation.quantitative]) if physics else None
            with DEVICE_LOCK:  # one denoising loop on the accelerator at a time
                frames = sampler(global_prompt, list(shot.events), t, categories=cats,
                                 quantities=quants, generator=torch.Generator().manual_seed(seed),
                                 num_inference_steps=self.steps, callback=on_chunk)
            n_out = round(shot.duration_s * fps)
            n = write_video(path, fit_clip(frames, n_out=n_out, width=width, height=height, fps=fps,
                                           native_fps=pipe.native_fps), fps)
            return {"duration_s": n / fps, "fps": fps, "width": width, "height": height,
                    "frames": n, "generated_frames": len(frames), "base": self.base,
                    "steps": self.steps, "sampler": "syncos", "latent_frames": t,
                    "physics": self.physics,
                    "chunk_len": sampler.chunk_len, "stride": sampler.stride,
                    "model_calls": sampler.model_calls}

        return store.get_or_create(node, "syncos", SYNCOS_VERSION, params, ext="mp4",
                                   media_type="video/mp4", make=make, seed=seed,
                                   model=f"{model_id} {wisa_id}", gpu=True)


def _wisa_pipeline(base: str, *, debug: bool, model: str | None, wisa_dir: str | None) -> Any:
    """The WISA pipeline of a configuration, loaded once and kept among the process's resident
    models (tools/resident.py: shared by parallel branches, evicted by the memory budget)."""
    from filmcrew.tools.resident import RESIDENT

    def load() -> Any:
        from filmcrew.tools.video.wisa.pipeline import load_wisa, tiny_wisa_pipeline

        return (tiny_wisa_pipeline(base, seed=0) if debug  # type: ignore[arg-type]
                else load_wisa(base, model=model, wisa_dir=wisa_dir))  # type: ignore[arg-type]

    return RESIDENT.get(("wisa", base, debug, model, wisa_dir), load)


def _base_pipeline(base: str, *, debug: bool, model: str | None) -> Any:
    """The plain base-model pipeline (no WISA module) of a configuration, for SynCoS; resident
    like WISA's."""
    from filmcrew.tools.resident import RESIDENT

    def load() -> Any:
        from filmcrew.tools.video.syncos.sampler import base_pipeline, tiny_base_pipeline

        return tiny_base_pipeline(base, seed=0) if debug else base_pipeline(base, model=model)

    return RESIDENT.get(("syncos-base", base, debug, model), load)


def video_backend(name: str, *, overlay: bool = True, debug_models: bool = False,
                  settings: Any | None = None) -> VideoGenerator:
    """The video generator called `name` (see `filmcrew doctor` for what is available).

    Building it checks that it can run here (weights, GPU), so a run can fail before any work.
    """
    if name == "previz":
        return PrevizGenerator(overlay=overlay)
    if name == "wisa":
        return WisaGenerator(debug_models=debug_models, settings=settings)
    if name == "syncos":
        return SyncosGenerator(debug_models=debug_models, settings=settings)
    if name == "rflav":
        from filmcrew.tools.video.rflav.backend import RflavGenerator

        return RflavGenerator(debug_models=debug_models, settings=settings)
    raise ValueError(f"unknown video backend {name!r}")


@lru_cache(maxsize=4)
def rflav_available(model: str | None, vae: str | None, vocoder: str | None) -> bool:
    """Whether real RFLAV can run here (weights on disk and a CUDA GPU), checked once per process
    without loading: then ambient shots go to it even when the run's backend is previz."""
    import importlib.util

    from filmcrew.tools.video.rflav.backend import locate_rflav

    try:
        locate_rflav(model, vae, vocoder)
    except FileNotFoundError:
        return False
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


#: What agents call, by name -> the module (and its name there) that defines it (tools/faces.py):
#: imported on first use, so importing the video face stays light (no torch until a backend runs).
_FACE = {
    "NoAmbientClass": "filmcrew.tools.video.rflav.backend",
    "regen_spec": "filmcrew.tools.video.regen.crew",
    "RegenSpec": "filmcrew.tools.video.regen.crew",
    "store_as_latents": "filmcrew.tools.video.regen.crew",
    "interpolate_film": "filmcrew.tools.video.regen.crew",
}


__getattr__ = lazy_face(__name__, _FACE)
