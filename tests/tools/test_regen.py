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
    compression,
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


def test_interpolate_raises_the_frame_rate_and_decodes_only_the_in_between_frames(monkeypatch) -> None:
    emb = RegenEmbedder.tiny(seed=0, k=4)
    frames = _clip(12, 16, 24)
    decoded: list[np.ndarray] = []
    real = emb.decode_tensor
    monkeypatch.setattr(emb, "decode_tensor", lambda lat, times, **kw: (
        decoded.append(np.asarray(times)), real(lat, times, **kw))[1])
    out = emb.interpolate(frames, 12, 24)
    assert out.shape == (24, 16, 24, 3)
    np.testing.assert_array_equal(out[::2], frames)  # the originals are kept as they are
    np.testing.assert_array_equal(out[23], frames[11])  # held at the last frame past the end
    assert len(decoded) == 1 and len(decoded[0]) == 11  # only the 11 in-between frames decoded
    assert np.all(np.abs(decoded[0] - np.round(decoded[0])) > 0.1)
    kept = emb.interpolate(frames, 12, 30)
    assert len(kept) == 30
    np.testing.assert_array_equal(kept[::5], frames[::2])  # 0, 1/6 s, ... fall on input frames
    assert len(decoded[1]) == 30 - 6 - 2  # 6 on input frames, 2 held at the last one
    everything = emb.interpolate(frames, 12, 24, keep_originals=False)
    assert len(decoded[2]) == 24 and everything.shape == out.shape


def test_compression_counts_stored_latent_frames_honestly() -> None:
    c = compression(17, 4)
    # chunks share boundary frames: 4 chunks → 8 latent frames; disjoint 5-frame chunks: 4 → 8;
    # a standard causal 8x8x4 tokenizer: 1 + 16/4 = 5
    assert (c["shared"], c["disjoint"], c["standard"]) == (8, 8, 5)
    assert c["standard_ratio"] == pytest.approx(3 * 17 * 64 / 40)
    assert c["shared_ratio"] == pytest.approx(3 * 17 * 64 / 64)
    assert compression(33, 16)["shared"] == 4 and compression(33, 16)["standard"] == 3
    emb = RegenEmbedder.tiny(seed=0, k=4)
    lat = emb.encode(_clip(17))
    assert lat.latent_frames == c["shared"] and lat.numbers == 8 * 8 * 5 * 5
    assert lat.nbytes() == 2 * lat.numbers and lat.nbytes(torch.float32) == 4 * lat.numbers


def test_the_embedder_runs_where_it_is_put(tmp_path: Path, monkeypatch) -> None:
    # The model on `meta`: any input, noise or index tensor left on the CPU raises a device mismatch.
    emb = RegenEmbedder.tiny(seed=0, k=4, device="meta")
    lat = emb.encode(_clip(9, 16, 24))
    assert lat.z.device.type == "meta" and lat.z.shape == (2, 2, 8, 2, 3)
    out = emb.decode_tensor(lat, [0.0, 2.5, 8.0], steps=2)
    assert out.device.type == "meta" and out.shape == (3, 3, 16, 24)
    # a checkpoint loads onto the default device (CUDA when present), as the crew loads it
    from filmcrew.models.regen import save_regen
    from filmcrew.tools.video.regen import embedder as module

    path = save_regen(RegenEmbedder.tiny(seed=0, k=4, device="cpu").model, tmp_path / "m.safetensors")
    monkeypatch.setattr(module, "_default_device", lambda: torch.device("meta"))
    assert RegenEmbedder.from_checkpoint(path).model.skip.weight.device.type == "meta"
    half = RegenEmbedder.from_checkpoint(path, device="cpu", dtype=torch.bfloat16)
    assert half.model.skip.weight.dtype == torch.bfloat16
    assert half.decode(half.encode(_clip(5, 16, 16)), steps=2).shape == (5, 16, 16, 3)


def test_training_draws_noise_levels_over_the_whole_range() -> None:
    t = _model_times(20000)
    assert (t < 0.5).float().mean() > 0.2  # low noise is trained too (multi-step sampling)
    assert (t > 0.9).float().mean() > 0.4  # and much of it near pure noise (1-step decoding)
    assert float(t.min()) >= 0 and float(t.max()) <= 1


def _model_times(n: int) -> torch.Tensor:
    from filmcrew.models.regen import RegenModel

    torch.manual_seed(0)
    model = RegenModel(replace(TINY_REGEN_CONFIG, enc_widths=(8, 8, 8), siren_width=8, dit_hidden=16,
                                  dit_heads=2))
    return model.train_times(n, torch.Generator().manual_seed(0))


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
    first = train_regen(tmp_path / "clips", out, config, steps=3, seed=0, batch=2, lr=1e-3)
    assert first["step"] == 3 and optimizer_path(out).is_file()
    second = train_regen(tmp_path / "clips", out, config, steps=5, seed=0, batch=2, lr=1e-3)
    assert (second["resumed_from"], second["step"], second["steps_run"]) == (3, 5, 2)
    assert second["losses"][:3] == first["losses"]  # the loss curve continues
    emb = RegenEmbedder.from_checkpoint(out)
    assert emb.meta["step"] == "5" and emb.k == 4
    with pytest.raises(ValueError, match="another config"):
        train_regen(tmp_path / "clips", out, replace(config, dit_depth=2), steps=6, seed=0,
                    batch=2, lr=1e-3)


# --------------------------------------------------------------------------------------------------
# The one training run: a tiny REGEN trained for a fixed number of steps (no wall-clock cap, so the
# result is the same on a busy machine), evaluated on held-out previz clips. It checks that the model
# learns to encode the picture; the comparison with keyframes at equal values / equal bytes, over
# three training seeds and several decode step counts, is benchmarks/regen_compression.py (RESULTS.md).

TRAIN_STEPS = 200  # as the benchmark (2500 took 133 s on 2 cores before: ~20 s of training here)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("regen")
    make_previz_clips(root / "train", 12, size=(32, 32), seconds=2.0, fps=12, seed=0)
    held = make_previz_clips(root / "held", 3, size=(32, 32), seconds=2.0, fps=12, seed=1)
    config = replace(TINY_REGEN_CONFIG, train_size=(32, 32))
    ckpt = root / "regen.safetensors"
    result = train_regen(root / "train", ckpt, config, steps=TRAIN_STEPS, seed=0, batch=8, lr=6e-3)
    trained_emb = RegenEmbedder.from_checkpoint(ckpt, device="cpu")
    untrained = RegenEmbedder.tiny(seed=0, k=4, device="cpu")
    scores: dict[str, list[float]] = {"regen": [], "untrained": [], "mean_colour": [], "regen_4": []}
    for path in held:
        frames = read_video(path)[:17]
        lat = trained_emb.encode(frames)
        scores["regen"].append(psnr(trained_emb.decode(lat, steps=1), frames))
        scores["regen_4"].append(psnr(trained_emb.decode(lat, steps=4), frames))
        scores["untrained"].append(psnr(untrained.decode(untrained.encode(frames)), frames))
        flat = np.broadcast_to(frames.mean((0, 1, 2), keepdims=True).round().astype(np.uint8), frames.shape)
        scores["mean_colour"].append(psnr(flat, frames))
    out = {name: float(np.mean(v)) for name, v in scores.items()}
    out.update(steps=result["step"], loss_first=result["loss_first"], loss_last=result["loss_last"])
    print(f"\nREGEN 8x8x4, {out['steps']} steps, loss {out['loss_first']:.3f} -> {out['loss_last']:.3f}; "
          f"held-out PSNR: 1 step {out['regen']:.2f} dB, 4 steps {out['regen_4']:.2f} dB, untrained "
          f"{out['untrained']:.2f} dB, mean colour {out['mean_colour']:.2f} dB")
    return out


def test_tiny_regen_learns_to_reconstruct_held_out_previz_clips(trained: dict) -> None:
    assert trained["steps"] == TRAIN_STEPS
    assert trained["loss_last"] < trained["loss_first"] / 2
    assert trained["regen"] > trained["untrained"] + 2.0  # +3.1 dB measured in CI (200 steps)
    # it encodes the picture, not just its colour; after 200 tiny steps only just (18.38 vs 17.60 dB in
    # CI): REGEN's quality claims are a GPU-scale question (benchmarks/RESULTS.md)
    assert trained["regen"] > trained["mean_colour"] + 0.3
    # multi-step decoding is printed, not asserted: after 200 steps it is far worse than 1 step
    # (benchmarks/RESULTS.md: 12.6 vs 22.6 dB), the low-noise range is not learned yet
