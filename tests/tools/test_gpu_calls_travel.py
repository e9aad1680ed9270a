"""Every GPU tool call can travel to a worker: its `make` pickles small, without a model.

What a user would notice: with `--executor ray` each GPU call (WISA, SynCoS, RFLAV, REGEN, MusicGen,
the LCA's clip vectors) is shipped to a GPU worker as a small pickle that names its model instead
of carrying it (the worker loads it, tools/resident.py), makes the byte-identical artifact the
local run makes, and its progress comes back to the driver's callback.

`ShippingExecutor` is the Ray executor's round trip without Ray: `ray.cloudpickle` inside the
executor's relay, a payload checked to hold no torch module, tensor, lock or tracer, unpickled and
run under a worker channel, and the channel's events forwarded to the driver's progress objects.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from filmcrew.artifacts import ArtifactStore
from filmcrew.executor import LocalExecutor
from filmcrew.relay import CURRENT_CHANNEL, Channel, StreamProgress, relay
from filmcrew.schemas import ArtifactRef, MusicBrief, PhysicsAnnotation, RhythmSpots, Shot

ray_cloudpickle = pytest.importorskip("ray.cloudpickle")

MAX_PAYLOAD = 64_000  # bytes: a call's plain values (2-4 kB measured), never weights


class Recorder(StreamProgress):
    """The driver's progress callback (a StreamProgress, so it travels as a RemoteProgress)."""

    def __init__(self) -> None:
        super().__init__("test", None, "test")
        self.calls: list[tuple[int, int]] = []

    def __call__(self, step: int, total: int) -> None:
        self.calls.append((step, total))


def _pickler_class() -> type:
    import threading

    import torch

    from filmcrew.tracing import Tracer

    lock_types = (type(threading.Lock()), type(threading.RLock()))

    class NoWeightsPickler(ray_cloudpickle.CloudPickler):
        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, (torch.nn.Module, torch.Tensor, Tracer, *lock_types)):
                raise AssertionError(f"a shipped call carries a {type(obj).__name__}")
            return super().reducer_override(obj)

    return NoWeightsPickler


class ShippingExecutor(LocalExecutor):
    """Runs each call as a worker would: pickled, checked, unpickled under a channel, run."""

    name = "shipping"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.pickler = _pickler_class()

    def run(self, model: str, make: Any, path: Path, *, label: str) -> Any:
        import io

        buf = io.BytesIO()
        with relay() as table:
            self.pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(make)
        blob = buf.getvalue()
        assert len(blob) < MAX_PAYLOAD, f"{label}: {len(blob)} bytes shipped"
        channel = Channel()
        token = CURRENT_CHANNEL.set(channel)
        try:
            shipped = pickle.loads(blob)  # the worker's copy: RemoteProgress in place of Recorder
            meta = shipped(path)
        finally:
            CURRENT_CHANNEL.reset(token)
        for tok, step, total in channel.events:  # what the driver does with the worker's events
            table[tok](step, total)
        self.calls.append({"model": model, "label": label, "bytes": len(blob),
                           "events": len(channel.events), "progress": len(table)})
        return meta

    def describe(self) -> dict[str, Any]:
        return {"executor": "shipping"}


def stores(tmp_path: Path) -> tuple[ArtifactStore, ArtifactStore, ShippingExecutor]:
    ex = ShippingExecutor()
    return ArtifactStore(tmp_path / "local"), ArtifactStore(tmp_path / "shipped", executor=ex), ex


def same_file(a: ArtifactStore, ra: ArtifactRef, b: ArtifactStore, rb: ArtifactRef) -> None:
    assert ra.sha256 == rb.sha256 and ra.params_hash == rb.params_hash
    assert a.path(ra).read_bytes() == b.path(rb).read_bytes()
    assert ra.meta == rb.meta


def put_clip(store: ArtifactStore, frames: np.ndarray, fps: int) -> ArtifactRef:
    """A CPU-made input clip (a plain store call, never shipped)."""
    from filmcrew.tools.media import write_video

    def make(path: Path) -> dict:
        n = write_video(path, frames, fps)
        return {"duration_s": n / fps, "fps": fps, "width": frames.shape[2],
                "height": frames.shape[1], "frames": n}

    return store.get_or_create("test", "clip", "1", {"fps": fps, "n": len(frames)}, ext="mp4",
                               media_type="video/mp4", make=make)


def moving_frames(n: int = 12, h: int = 32, w: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([((np.stack([xx * 7 + i * 9, yy * 5, (xx + yy + 3 * i) * 3], -1)) % 256)
                     .astype(np.uint8) for i in range(n)])


def ball_annotation(shot_id: str = "s1") -> PhysicsAnnotation:
    return PhysicsAnnotation(shot_id=shot_id, caption="A red ball falls onto a wooden floor.",
                             physics_text="Gravity accelerates the ball.",
                             dynamics=["collision", "rigid body motion"], time_range_s=(0.0, 1.0))


# -- video backends -------------------------------------------------------------------------------


def test_wisa_call_travels(tmp_path):
    from filmcrew.tools.video import WisaGenerator

    local, shipped, ex = stores(tmp_path)
    gen = WisaGenerator(debug_models=True)
    shot = Shot(id="s1", local_prompt="a red ball falls", duration_s=0.5)
    refs, progress = [], []
    for store in (local, shipped):
        p = Recorder()
        refs.append(gen.generate(store, "generate:s1#0", shot, ball_annotation(), seed=5, width=32,
                                 height=32, fps=8, shot_number=1, style="", progress=p))
        progress.append(p.calls)
    same_file(local, refs[0], shipped, refs[1])
    assert [c["model"] for c in ex.calls] == ["debug-tiny debug-tiny"]
    assert ex.calls[0]["events"] > 0 and progress[1] == progress[0] != []


def test_syncos_call_travels(tmp_path):
    from filmcrew.tools.video import SyncosGenerator

    local, shipped, ex = stores(tmp_path)
    gen = SyncosGenerator(debug_models=True)
    assert gen.native_seconds() < 1.5  # a long multi-event shot: coupled chunks
    shot = Shot(id="s2", local_prompt="a ball bounces twice", duration_s=1.5,
                events=["the ball hits the floor", "the ball hits the wall"])
    refs, progress = [], []
    for store in (local, shipped):
        p = Recorder()
        refs.append(gen.generate(store, "generate:s2#0", shot, None, seed=2, width=32, height=32,
                                 fps=8, shot_number=1, style="", progress=p))
        progress.append(p.calls)
    same_file(local, refs[0], shipped, refs[1])
    assert refs[1].meta["sampler"] == "syncos" and refs[1].meta["latent_frames"] > refs[1].meta["chunk_len"]
    assert [c["model"] for c in ex.calls] == ["debug-tiny-base none"]
    assert progress[1] == progress[0] and progress[1][-1] == (refs[1].meta["model_calls"],) * 2


def test_rflav_calls_travel_and_sample_once_per_worker(tmp_path, monkeypatch):
    from filmcrew.tools.video.rflav import backend
    from filmcrew.tools.video.rflav.backend import RflavGenerator

    samples: list[int] = []
    real = RflavGenerator._sample

    def counted(self, *a, **kw):
        samples.append(1)
        return real(self, *a, **kw)

    monkeypatch.setattr(RflavGenerator, "_sample", counted)
    local, shipped, ex = stores(tmp_path)
    gen = RflavGenerator(debug_models=True)
    shot = Shot(id="s3", local_prompt="a campfire crackles at night", duration_s=0.4)
    ann = PhysicsAnnotation(shot_id="s3", caption="a campfire", physics_text="",
                            thermodynamics=["combustion"])
    refs, progress = [], []
    for store in (local, shipped):
        backend._LAST_ROLLOUT.clear()  # each "machine" starts without a rollout
        samples.clear()
        p = Recorder()
        refs.append(gen.generate(store, "generate:s3#0", shot, ann, seed=3, width=32, height=24,
                                 fps=10, shot_number=1, style="", progress=p))
        progress.append(p.calls)
        assert samples == [1]  # the wav and the mp4 share one rollout, here and on the worker
    same_file(local, refs[0], shipped, refs[1])
    wav = local.ref_at(refs[0].meta["ambience_uri"]), shipped.ref_at(refs[1].meta["ambience_uri"])
    same_file(local, wav[0], shipped, wav[1])
    assert [c["label"] for c in ex.calls] == ["generate:s3#0 rflav-ambience", "generate:s3#0 rflav"]
    assert ex.calls[0]["events"] > 0 and ex.calls[1]["events"] == 0  # the mp4 call did not sample
    assert progress[1] == progress[0] != []


def test_rflav_memo_is_keyed_by_the_sampling_parameters(tmp_path):
    from filmcrew.tools.video.rflav import backend
    from filmcrew.tools.video.rflav.backend import RflavGenerator

    gen = RflavGenerator(debug_models=True)
    backend._LAST_ROLLOUT.clear()
    a = gen._sampled("fire crackling", 2, 0, 2.0, None)
    assert gen._sampled("fire crackling", 2, 0, 2.0, None) is a  # served from the memo
    b = gen._sampled("fire crackling", 2, 1, 2.0, None)  # another seed: sampled again
    assert b is not a and not np.array_equal(a["wave"], b["wave"])
    assert gen._sampled("fire crackling", 2, 0, 2.0, None) is not a  # only the last one is kept


# -- REGEN ----------------------------------------------------------------------------------------


def test_regen_calls_travel(tmp_path):
    from filmcrew.tools.media import write_audio
    from filmcrew.tools.video import interpolate_film, regen_spec, store_as_latents

    regen = regen_spec(None, debug_models=True)
    assert len(pickle.dumps(regen)) < 500
    local, shipped, ex = stores(tmp_path)
    out = []
    for store in (local, shipped):
        clip = put_clip(store, moving_frames(8, 32, 32), 8)
        kept = store_as_latents(store, "generate:s1#0", clip, regen)
        mix = store.get_or_create(
            "test", "mix", "1", {}, ext="wav", media_type="audio/wav",
            make=lambda p: (write_audio(p, np.zeros(16000, np.float32), 16000),
                            {"duration_s": 1.0, "sample_rate": 16000})[1])
        film = interpolate_film(store, "renderer", clip, mix, 16, regen)
        out.append((kept, film, store.ref_at(kept.meta["latents_uri"])))
    for a, b in zip(out[0], out[1], strict=True):
        same_file(local, a, shipped, b)
    assert [c["label"].split()[-1] for c in ex.calls] == ["regen_encode", "regen_decode",
                                                         "regen_interpolate"]
    assert {c["model"] for c in ex.calls} == {"regen-tiny@0"}
    assert out[1][1].meta["frames"] == 16


def test_regen_needs_a_checkpoint_or_debug(tmp_path):
    from filmcrew.tools.video import regen_spec

    with pytest.raises(ValueError, match="FILMCREW_REGEN_CHECKPOINT"):
        regen_spec(None, debug_models=False)
    with pytest.raises(FileNotFoundError, match="not found"):
        regen_spec(tmp_path / "none.safetensors", debug_models=False)


# -- music ----------------------------------------------------------------------------------------


BRIEF = MusicBrief(scene="harbour", brightness="dim", color_tone="amber", action="boats",
                   emotional_tone="tense", shot_scale="wide", theme="storm",
                   description="low strings", key="D", mode="minor", tempo_bpm_min=55,
                   tempo_bpm_max=65)


def test_musicgen_call_travels(tmp_path):
    from filmcrew.tools.music import music_backend

    local, shipped, ex = stores(tmp_path)
    composer = music_backend("musicgen", debug_models=True)
    spots = RhythmSpots(times_s=[0.3, 0.9], strengths=[1.0, 0.5], kinds=["cut", "impact"],
                        tempo_bpm=60)
    refs, progress = [], []
    for store in (local, shipped):
        p = Recorder()
        score, stems = composer.compose(store, "composer", BRIEF, spots, [(0.0, 1.0, 0.5)], 1.0,
                                        seed=1, feedback=[], sample_rate=16000, progress=p)
        refs.append((score, stems))
        progress.append(p.calls)
    for a, b in zip(refs[0], refs[1], strict=True):
        same_file(local, a, shipped, b)
    assert [c["label"] for c in ex.calls] == ["composer musicgen"]  # transcription stays local
    assert progress[1] == progress[0] == [(1, 1)]


def fake_audiocraft_model(name: str, device: str | None = None) -> Any:
    """audiocraft lives in its own environment; here its model is a stand-in loaded on the worker."""
    import torch

    return torch.nn.Linear(2, 2)  # a module: the payload check would catch it if it were shipped


def fake_audiocraft_generate(model: Any, description: str, wave: Any, wave_sr: int,
                             duration_s: float, *, seed: int, guidance_scale: float = 3.0,
                             progress: Any = None) -> tuple[np.ndarray, int]:
    t = np.arange(round(duration_s * 32000)) / 32000
    if progress is not None:
        progress(1, 1)
    return (0.3 * np.sin(2 * np.pi * (220 + seed % 50) * t)).astype(np.float32), 32000


def test_audiocraft_call_travels(tmp_path, monkeypatch):
    from filmcrew.tools.music.musicgen import audiocraft
    from filmcrew.tools.music.musicgen.audiocraft import AudiocraftComposer

    monkeypatch.setattr(audiocraft, "load_audiocraft", fake_audiocraft_model)
    monkeypatch.setattr(audiocraft, "generate_audiocraft", fake_audiocraft_generate)
    local, shipped, ex = stores(tmp_path)
    composer = AudiocraftComposer(debug_models=True)
    spots = RhythmSpots(times_s=[0.3], strengths=[1.0], kinds=["cut"], tempo_bpm=60)
    refs, progress = [], []
    for store in (local, shipped):
        p = Recorder()
        refs.append(composer.compose(store, "composer", BRIEF, spots, [(0.0, 0.5, 0.5)], 0.5,
                                     seed=1, feedback=[], sample_rate=16000, progress=p)[1])
        progress.append(p.calls)
    same_file(local, refs[0], shipped, refs[1])
    assert [(c["label"], c["model"]) for c in ex.calls] == [("composer audiocraft", "debug")]
    assert progress[1] == progress[0] == [(1, 1)]


# -- the LCA's clip vectors -----------------------------------------------------------------------


def test_lca_clip_vector_call_travels(tmp_path):
    from filmcrew.agents.shot_editor import clip_vector
    from filmcrew.tools.edit import load_image_encoder

    encoder = load_image_encoder("tiny-clip", debug_models=True)
    local, shipped, ex = stores(tmp_path)
    vecs, refs, clips = [], [], []
    for store in (local, shipped):
        clip = put_clip(store, moving_frames(6, 32, 32), 8)
        clips.append(clip)
        vecs.append(clip_vector(store, "shot_editor", clip, encoder))
        refs.append(store.lookup(next(r["params_hash"] for r in _sidecars(store)
                                      if r["producer"].startswith("lca_clip_vector"))))
    np.testing.assert_array_equal(vecs[0], vecs[1])
    same_file(local, refs[0], shipped, refs[1])
    assert vecs[0].shape == (3 * 16,) and np.abs(vecs[0]).sum() > 0
    assert [c["label"] for c in ex.calls] == ["shot_editor lca_clip_vector"]
    # by name too, and the tiny encoder only under --debug-models
    assert np.array_equal(clip_vector(local, "shot_editor", clips[0], "tiny-clip"), vecs[0])
    with pytest.raises(ValueError, match="debug-models"):
        load_image_encoder("tiny-clip", debug_models=False)


def _sidecars(store: ArtifactStore) -> list[dict]:
    import json

    return [json.loads(p.read_text()) for p in store.root.rglob("*.ref.json")]


# -- the same call gives the same bytes -----------------------------------------------------------


def test_float_wavs_carry_no_time_stamp(tmp_path):
    """libsndfile stamps a float WAV's PEAK chunk with the wall clock: write_audio zeroes it."""
    from filmcrew.tools.media import read_audio, write_audio

    x = np.linspace(-0.5, 0.5, 800, dtype=np.float32)
    write_audio(tmp_path / "a.wav", x, 16000)
    data = (tmp_path / "a.wav").read_bytes()
    at = data.index(b"PEAK")
    assert int.from_bytes(data[at + 4:at + 8], "little") >= 8
    assert data[at + 12:at + 16] == b"\0\0\0\0"
    y, sr = read_audio(tmp_path / "a.wav")
    assert sr == 16000 and np.array_equal(x, y)
    write_audio(tmp_path / "b.wav", np.stack([x, -x], 1), 16000, subtype="PCM_16")  # no PEAK chunk
    assert b"PEAK" not in (tmp_path / "b.wav").read_bytes()


def test_latents_files_have_a_sorted_header(tmp_path):
    """safetensors writes its metadata in a random order; the latents file's header is sorted."""
    import json

    from safetensors import safe_open

    from filmcrew.tools.video import regen_spec

    emb = regen_spec(None, debug_models=True).load()
    latents = emb.encode(moving_frames(5, 16, 16), fps=8)
    paths = [emb.save_latents(latents, tmp_path / f"{i}.safetensors") for i in range(3)]
    data = paths[0].read_bytes()
    n = int.from_bytes(data[:8], "little")
    assert n % 8 == 0
    header = data[8:8 + n].rstrip(b" ")
    assert header == json.dumps(json.loads(header), sort_keys=True, separators=(",", ":")).encode()
    assert all(p.read_bytes() == data for p in paths[1:])
    with safe_open(str(paths[0]), "pt") as f:
        assert f.metadata()["k"] == str(latents.k)
    assert np.array_equal(emb.load_latents(paths[0]).z.numpy(), latents.z.half().float().numpy())
