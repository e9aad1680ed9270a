"""REGEN in the crew: candidate clips kept as compact latents, and the film's frame rate raised by
decoding in-between frames (tools/video/regen/embedder.py, METHODS.md §4).

Both are cached tool calls keyed by the REGEN checkpoint's hash, like every other artifact. A clip kept
as latents is decoded once to the MP4 the rest of the crew reads (so what the editor, composer and
renderer see is exactly what the latents hold); the latents file is what a long-lived project keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from filmcrew.artifacts import ArtifactStore, sha256_file
from filmcrew.schemas import ArtifactRef

EMBED_VERSION = "2"  # 2: interpolation keeps the original frames; decode steps are a knob
#: clip meta that describes the picture's content and survives the round trip through latents
_CONTENT_META = ("event_times", "event_kinds", "event_strengths")


@dataclass(frozen=True)
class RegenSpec:
    """Which REGEN a call uses, as plain values: it travels with a GPU call (store gpu=True) and
    the embedder is loaded where the call runs, kept among the process's resident models."""

    checkpoint: str | None  # None: the tiny random REGEN (debug)
    debug: bool
    model_id: str  # what the cache keys record: "regen-tiny@0" or "regen@<checkpoint hash>"

    def load(self) -> Any:
        """The embedder (tools/resident.py: loaded once per process and kept under the budget)."""
        from filmcrew.tools.resident import RESIDENT

        def load() -> Any:
            from filmcrew.tools.video.regen.embedder import RegenEmbedder

            if self.checkpoint is None:
                return RegenEmbedder.tiny(seed=0)
            return RegenEmbedder.from_checkpoint(Path(self.checkpoint))

        return RESIDENT.get(("regen", self.checkpoint, self.debug), load)


def regen_spec(checkpoint: Path | None, *, debug_models: bool) -> RegenSpec:
    """The REGEN of a run, checked without loading it: the tiny random one with `debug_models`,
    else the trained checkpoint (hashed for the cache keys); without one, a clear error."""
    if debug_models:
        return RegenSpec(None, True, "regen-tiny@0")
    if checkpoint is None:
        raise ValueError("--store-latents and --interpolate-fps need a trained REGEN: set "
                         "FILMCREW_REGEN_CHECKPOINT (see `filmcrew train-regen`) or use --debug-models")
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"REGEN checkpoint {path} not found "
                                "(FILMCREW_REGEN_CHECKPOINT; see `filmcrew train-regen`)")
    st = path.stat()
    return RegenSpec(str(path), False, _checkpoint_id(str(path), st.st_mtime_ns, st.st_size))


@lru_cache(maxsize=8)
def _checkpoint_id(path: str, mtime_ns: int, size: int) -> str:
    return f"regen@{sha256_file(Path(path))[:16]}"


def store_as_latents(store: ArtifactStore, node: str, clip: ArtifactRef, regen: RegenSpec,
                     steps: int = 1) -> ArtifactRef:
    """Encode `clip` to REGEN latents (safetensors) and decode them to the MP4 the crew uses.

    The returned clip's meta names its latents file (`latents_uri`) and how many numbers it holds.
    Both are GPU calls: their `make` carries `regen` (plain values) and loads the embedder itself.
    """
    model_id = regen.model_id

    def encode(path: Path) -> dict:
        from filmcrew.tools.media import read_video

        embedder = regen.load()
        latents = embedder.encode(read_video(store.path(clip)), fps=clip.fps)
        embedder.save_latents(latents, path)
        return {"k": latents.k, "frames": latents.num_frames, "numbers": latents.numbers,
                "width": latents.width, "height": latents.height, "fps": clip.fps}

    latents = store.get_or_create(node, "regen_encode", EMBED_VERSION, {}, ext="safetensors",
                                  media_type="application/x-safetensors", model=model_id,
                                  make=encode, inputs=[clip], gpu=True)

    def decode(path: Path) -> dict:
        from filmcrew.tools.media import write_video

        embedder = regen.load()
        frames = embedder.decode(embedder.load_latents(store.path(latents)), steps=steps)
        n = write_video(path, frames, int(clip.fps or 24))
        kept = {k: v for k, v in clip.meta.items() if k in _CONTENT_META}
        return {**kept, "duration_s": n / (clip.fps or 24), "fps": clip.fps, "width": clip.width,
                "height": clip.height, "frames": n, "latents_uri": latents.uri,
                "latents_numbers": int(latents.meta["numbers"]),
                "latents_bytes": int(latents.meta["bytes"])}

    return store.get_or_create(node, "regen_decode", EMBED_VERSION, {"steps": steps}, ext="mp4",
                               media_type="video/mp4", model=model_id, make=decode, inputs=[latents],
                               gpu=True)


def interpolate_film(store: ArtifactStore, node: str, film: ArtifactRef, mix: ArtifactRef,
                     fps_out: int, regen: RegenSpec, steps: int = 1) -> ArtifactRef:
    """The film at `fps_out` by REGEN interpolation, exactly round(duration · fps_out) frames, muxed
    again with the mix. Frames that fall on an original frame are the original; only the in-between
    frames are decoded, with `steps` decoder steps. A GPU call, like `store_as_latents`."""

    def make(path: Path) -> dict:
        from filmcrew.tools.media import mux, read_audio, read_video

        embedder = regen.load()
        frames = embedder.interpolate(read_video(store.path(film)), float(film.fps), float(fps_out),
                                      steps=steps)
        audio, sr = read_audio(store.path(mix))
        info = mux(path, iter(frames), fps_out, audio, sr)
        return {"duration_s": info.video_frames / fps_out, "fps": fps_out, "width": film.width,
                "height": film.height, "frames": info.video_frames,
                "audio_duration_s": round(info.audio_duration_s or 0.0, 4),
                "interpolated_from_fps": film.fps}

    return store.get_or_create(node, "regen_interpolate", EMBED_VERSION, {"fps": fps_out, "steps": steps},
                               ext="mp4", media_type="video/mp4", model=regen.model_id, make=make,
                               inputs=[film, mix], gpu=True)
