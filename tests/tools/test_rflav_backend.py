"""The rflav video backend with tiny random models through a real artifact store.

What a user would notice: an ambient shot comes back as an MP4 of exactly round(duration × fps)
frames at the film's size and rate, with its sound beside it as a 16 kHz mono WAV of exactly the
shot's length (found through the clip's meta, checksum matching); a second call re-renders nothing;
the shot's phenomena pick the Landscape class; a shot with no ambient sound is refused with
NoAmbientClass; without weights the backend names what to fetch before rendering.
"""

from __future__ import annotations

import dataclasses

import pytest
import soundfile as sf

from filmcrew.artifacts import ArtifactStore, sha256_file
from filmcrew.config import Settings
from filmcrew.schemas import PhysicsAnnotation, Shot
from filmcrew.tools.media import probe
from filmcrew.tools.protocols import VideoGenerator
from filmcrew.tools.video.rflav.backend import NoAmbientClass, RflavGenerator
from filmcrew.tools.video.rflav.classes import LANDSCAPE_CLASSES, class_index, landscape_class


def shot(prompt: str, duration: float = 1.3, **kw) -> Shot:
    return Shot(id="s1", local_prompt=prompt, duration_s=duration, **kw)


def ann(caption: str = "", **kw) -> PhysicsAnnotation:
    return PhysicsAnnotation(shot_id="s1", caption=caption, physics_text="", **kw)


def test_ambient_shot_gives_exact_clip_and_ambience(tmp_path):
    store = ArtifactStore(tmp_path)
    gen = RflavGenerator(debug_models=True)
    assert isinstance(gen, VideoGenerator) and gen.name == "rflav"
    s = shot("a campfire crackles at night", 1.3)
    ref = gen.generate(store, "generate", s, ann("a campfire", thermodynamics=["combustion"]),
                       seed=3, width=160, height=90, fps=24, shot_number=1, style="")
    info = probe(store.path(ref))
    assert (info.video_frames, info.fps, info.width, info.height) == (31, 24.0, 160, 90)
    assert ref.meta["rflav_class"] == "fire crackling" and ref.meta["license"] == "CC-BY-NC-4.0"
    wav_path = tmp_path / str(ref.meta["ambience_uri"])
    wave, sr = sf.read(str(wav_path))
    assert sr == ref.meta["ambience_sample_rate"] == 16000 and wave.ndim == 1
    assert len(wave) == round(1.3 * 16000)
    assert sha256_file(wav_path) == ref.meta["ambience_sha256"]
    assert wave.std() > 0
    assert all(isinstance(v, int | float | str | list) for v in ref.meta.values())
    again = gen.generate(store, "generate", s, ann("a campfire", thermodynamics=["combustion"]),
                         seed=3, width=160, height=90, fps=24, shot_number=1, style="")
    assert again == ref  # served from the store


def test_other_rates_and_lengths_are_exact(tmp_path):
    store = ArtifactStore(tmp_path)
    ref = RflavGenerator(debug_models=True).generate(
        store, "generate", shot("wind over the dunes", 0.75), ann(dynamics=["gas motion"]),
        seed=0, width=64, height=64, fps=30, shot_number=2, style="")
    assert probe(store.path(ref)).video_frames == round(0.75 * 30)
    wave, _ = sf.read(str(tmp_path / str(ref.meta["ambience_uri"])))
    assert len(wave) == 12000 and ref.meta["rflav_class"] == "wind noise"


@pytest.mark.parametrize(("annotation", "prompt", "expected"), [
    (ann(thermodynamics=["explosion"]), "fireworks over the bay", "explosion"),
    (ann(thermodynamics=["combustion"]), "a candle", "fire crackling"),
    (ann(dynamics=["liquid motion"]), "a waterfall pours into a pool", "waterfall burbling"),
    (ann(dynamics=["liquid motion"]), "a boot steps in the mud", "squishing water"),
    (ann(dynamics=["liquid motion"]), "a stone is dropped into a pond", "splashing water"),
    (ann(dynamics=["liquid motion"]), "a diver among bubbles underwater", "underwater bubbling"),
    (ann(dynamics=["gas motion"]), "leaves blow across a field", "wind noise"),
    (ann(dynamics=["gas motion"]), "heavy rain sweeps the street", "raining"),
    (None, "a thunderstorm over the plains", "thunder"),
    (ann(dynamics=["rigid body motion", "collision"]), "a ball falls onto a table", None),
    (None, "a car drives down an empty street", None),
])
def test_class_from_phenomena_and_words(annotation, prompt, expected):
    assert landscape_class(annotation, shot(prompt)) == expected


def test_class_indices_follow_mm_diffusion_order():
    assert len(LANDSCAPE_CLASSES) == 9 and class_index("explosion") == 0
    assert class_index("wind noise") == 8
    with pytest.raises(ValueError, match="unknown Landscape class"):
        class_index("birdsong")


def test_shot_without_ambience_is_refused_and_nothing_is_written(tmp_path):
    store = ArtifactStore(tmp_path)
    with pytest.raises(NoAmbientClass, match="shot s1: no Landscape ambience"):
        RflavGenerator(debug_models=True).generate(
            store, "generate", shot("a ball falls onto a table"),
            ann(dynamics=["rigid body motion"]), seed=0, width=64, height=64, fps=24,
            shot_number=1, style="")
    assert not list((tmp_path / "artifacts").rglob("*.mp4"))


def test_without_weights_the_backend_names_what_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match=r"MaverickAlex/R-FLAV-B-1-LS.*sd-vae-ft-ema"):
        RflavGenerator(settings=Settings(_env_file=None))


def test_an_unconditional_checkpoint_is_not_claimed_to_follow_the_class(tmp_path, monkeypatch):
    """The released Landscape checkpoint is most likely unconditional (its README samples without a
    class): the clip must say so and not claim the ambience class steered it."""
    import json

    from filmcrew.models.rflav.flav import FLAV, TINY_FLAV_CONFIG
    from filmcrew.models.rflav.keys import conditioning_note, randomize
    from filmcrew.models.rflav.vocoder import tiny_vocoder
    from filmcrew.tools.video.rflav import backend
    from filmcrew.tools.video.rflav.audio import tiny_vae

    cfg = dataclasses.replace(TINY_FLAV_CONFIG, num_classes=0)
    model = FLAV(cfg)
    randomize(model, seed=0)
    meta = {"model": "uncond", "dataset": "landscape", "license": "CC-BY-NC-4.0",
            "num_classes": 0, "conditional": False, "vocoder_dir": None}
    monkeypatch.setattr(backend, "_components",
                        lambda *a: (model.eval(), tiny_vae(0), tiny_vocoder(0), meta))
    ref = RflavGenerator(debug_models=True).generate(
        ArtifactStore(tmp_path), "generate", shot("a campfire crackles", 0.3),
        ann("a campfire", thermodynamics=["combustion"]), seed=3, width=64, height=36, fps=10,
        shot_number=1, style="")
    assert ref.meta["rflav_conditioning"] == "unconditional"
    assert "rflav_class" not in ref.meta and ref.meta["ambience"] == "fire crackling"
    # doctor reads it from the checkpoint's own config.json
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "config.json").write_text(json.dumps({"num_classes": 0}))
    assert "unconditional" in conditioning_note(str(folder))
    (folder / "config.json").write_text(json.dumps({"num_classes": 9}))
    assert "class-conditional (9 classes)" in conditioning_note(str(folder))
