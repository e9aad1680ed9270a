"""REGEN embedder: chunked encode/decode, decoding at any time, latents files, the baseline, training."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from filmcrew.models.regen import TINY_REGEN_CONFIG
from filmcrew.tools.media import read_video
from filmcrew.tools.protocols import VideoEmbedder
from filmcrew.tools.video.regen.embedder import (
    RegenEmbedder,
    RegenLatents,
    keyframe_baseline,
    psnr,
    ssim,
)
from filmcrew.tools.video.regen.train import optimizer_path, train_regen
from filmcrew.trainsets import make_previz_clips


def _clip(t: int = 13, h: int = 36, w: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def test_encode_cuts_chunks_that_share_boundaries_and_decode_gives_every_frame_back() -> None:
    emb = RegenEmbedder.tiny(seed=0, k=4)
    assert isinstance(emb, VideoEmbedder)
    frames = _clip()  # 13 frames = 1 + 3·4; 36x40 is padded to 40x40 inside
    lat = emb.encode(frames, fps=12)
    assert lat.z.shape == (3, 2, 8, 5, 5)
    assert lat.numbers == 3 * 2 * 8 * 25
    out = emb.decode(lat, steps=2)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert emb.encode(_clip(14)).z.shape[0] == 4  # one frame past a boundary opens a (padded) chunk


def test_decode_at_fractional_frames_and_seconds() -> None:
    emb = RegenEmbedder.tiny(seed=0, k=4)
    lat = emb.encode(_clip(), fps=12)
    assert emb.decode_at(lat, [0, 0.5, 3.75, 12]).shape == (4, 36, 40, 3)
    in_seconds = emb.decode_at(lat, [0.5, 1.0], unit="seconds")
    in_frames = emb.decode_at(lat, [6.0, 12.0])
    np.testing.assert_array_equal(in_seconds, in_frames)  # 0.5 s at 12 fps is frame 6
    with pytest.raises(ValueError, match=r"0\.\.12"):
        emb.decode_at(lat, [12.5])
    with pytest.raises(ValueError, match="no fps"):
        emb.decode_at(emb.encode(_clip()), [0.1], unit="seconds")


def test_interpolate_raises_the_frame_rate_with_exact_frame_counts() -> None:
    emb = RegenEmbedder.tiny(seed=0, k=4)
    frames = _clip(12, 16, 24)
    out = emb.interpolate(frames, 12, 24)
    assert out.shape == (24, 16, 24, 3)
    kept = emb.interpolate(frames, 12, 30, keep_originals=True)
    assert len(kept) == 30
    np.testing.assert_array_equal(kept[::5], frames[::2])  # 0, 1/6 s, ... fall on input frames


def test_latents_round_trip_through_safetensors(tmp_path: Path) -> None:
    emb = RegenEmbedder.tiny(seed=0, k=4)
    lat = emb.encode(_clip(9), fps=24)
    path = emb.save_latents(lat, tmp_path / "clip.latents.safetensors")
    back = emb.load_latents(path)
    assert (back.k, back.num_frames, back.height, back.width, back.fps) == (4, 9, 36, 40, 24.0)
    torch.testing.assert_close(back.z, lat.z.half().float())
    assert path.stat().st_size < 2 * lat.numbers + 1024  # float16: 2 bytes a number plus a header
    assert np.abs(emb.decode(back).astype(int) - emb.decode(lat).astype(int)).mean() < 1.0
    with pytest.raises(ValueError, match="not a REGEN latents"):
        RegenLatents.load(_other_file(tmp_path))


def _other_file(tmp_path: Path) -> Path:
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    return tmp_path / "other.safetensors"


def test_keyframe_baseline_keeps_to_the_budget_and_rebuilds_linear_motion() -> None:
    t = np.linspace(0, 1, 9)[:, None, None, None]
    ramp = np.broadcast_to(40 + 160 * t, (9, 16, 24, 3)).round().astype(np.uint8)  # fades linearly
    out, used = keyframe_baseline(ramp, 4, numbers_budget=3 * 3 * 12)
    assert used <= 3 * 3 * 12 and out.shape == ramp.shape
    assert np.abs(out.astype(int) - ramp.astype(int)).max() <= 1
    frames = _clip(9, 16, 24)
    _, used = keyframe_baseline(frames, 4, 500)
    assert used <= 500
    assert psnr(frames, frames) == 99.0 and ssim(frames, frames) == pytest.approx(1.0)


def test_training_checkpoints_and_resumes_the_step_count(tmp_path: Path) -> None:
    clips = make_previz_clips(tmp_path / "clips", 2, size=(32, 32), seconds=0.5, fps=12, seed=0)
    assert [p.exists() for p in clips] == [True, True]
    config = replace(TINY_REGEN_CONFIG, train_size=(32, 32), enc_widths=(8, 8, 8), siren_width=8,
                     dit_hidden=16, dit_depth=1, dit_heads=2)
    out = tmp_path / "regen.safetensors"
    first = train_regen(tmp_path / "clips", out, config, minutes=1, steps=3, seed=0, batch=2, lr=1e-3)
    assert first["step"] == 3 and optimizer_path(out).is_file()
    second = train_regen(tmp_path / "clips", out, config, minutes=1, steps=5, seed=0, batch=2, lr=1e-3)
    assert (second["resumed_from"], second["step"], second["steps_run"]) == (3, 5, 2)
    assert second["losses"][:3] == first["losses"]  # the loss curve continues
    emb = RegenEmbedder.from_checkpoint(out)
    assert emb.meta["step"] == "5" and emb.k == 4
    with pytest.raises(ValueError, match="another config"):
        train_regen(tmp_path / "clips", out, replace(config, dit_depth=2), minutes=1, steps=6, seed=0,
                    batch=2, lr=1e-3)


# --------------------------------------------------------------------------------------------------
# The one training run: a tiny REGEN trained for 2500 steps (about 2.3 min on 2 cores), evaluated on
# held-out previz clips. Measured on the 6 held-out clips below (keyframes + linear interpolation at
# equal numbers: 26.40 dB): training seed 0, 2500 steps in 133 s → REGEN 27.38 dB; seed 1, 141 s →
# 27.39 dB. Step-bound, so the result does not depend on how busy the machine is. At 90 s (about 1100
# steps) REGEN only ties the baseline (26.3–26.7 dB); before the read-out skip, the cosine decay, lr 6e-3
# and the narrower encoder/DiT, 90 s gave 21.0 dB.

@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("regen")
    make_previz_clips(root / "train", 24, size=(32, 32), seconds=2.0, fps=12, seed=0)
    held = make_previz_clips(root / "held", 6, size=(32, 32), seconds=2.0, fps=12, seed=1)
    config = replace(TINY_REGEN_CONFIG, train_size=(32, 32))
    ckpt = root / "regen.safetensors"
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        result = train_regen(root / "train", ckpt, config, minutes=6, steps=2500, seed=0, batch=8,
                             lr=6e-3)
    finally:
        torch.set_num_threads(threads)
    trained_emb, untrained = RegenEmbedder.from_checkpoint(ckpt), RegenEmbedder.tiny(seed=0, k=4)
    scores: dict[str, list[float]] = {"regen": [], "keyframes": [], "untrained": [], "mean_colour": []}
    for path in held:
        frames = read_video(path)[:17]
        lat = trained_emb.encode(frames)
        scores["regen"].append(psnr(trained_emb.decode(lat, steps=1), frames))
        base, used = keyframe_baseline(frames, 4, lat.numbers)
        assert used <= lat.numbers  # equal compression: the baseline never gets more numbers
        scores["keyframes"].append(psnr(base, frames))
        scores["untrained"].append(psnr(untrained.decode(untrained.encode(frames)), frames))
        flat = np.broadcast_to(frames.mean((0, 1, 2), keepdims=True).round().astype(np.uint8), frames.shape)
        scores["mean_colour"].append(psnr(flat, frames))
    out = {name: float(np.mean(v)) for name, v in scores.items()}
    out.update(steps=result["step"], seconds=result["seconds"], loss_first=result["loss_first"],
               loss_last=result["loss_last"])
    print(f"\nREGEN 8x8x4, {out['steps']} steps in {out['seconds']:.0f} s, loss {out['loss_first']:.3f} -> "
          f"{out['loss_last']:.3f}; held-out PSNR: REGEN {out['regen']:.2f} dB, keyframes at equal numbers "
          f"{out['keyframes']:.2f} dB, untrained {out['untrained']:.2f} dB, mean colour {out['mean_colour']:.2f} dB")
    return out


def test_tiny_regen_learns_to_reconstruct_held_out_previz_clips(trained: dict) -> None:
    assert trained["steps"] == 2500  # step-bound; the 6-minute cap is only a guard
    assert trained["loss_last"] < trained["loss_first"] / 3
    assert trained["regen"] > trained["untrained"] + 5.0
    assert trained["regen"] > trained["mean_colour"] + 1.0  # it encodes the picture, not just its colour


def test_tiny_regen_beats_keyframes_at_equal_compression(trained: dict) -> None:
    # the same number of stored numbers; measured +0.99 / +1.00 dB for training seeds 0 / 1
    assert trained["regen"] > trained["keyframes"] + 0.5
