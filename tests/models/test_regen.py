"""REGEN model: encoder shapes and causality, the content-aware PE as the only position signal, decoding times."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from filmcrew.models.regen import (
    TINY_REGEN_CONFIG,
    RegenConfig,
    RegenModel,
    default_config,
    load_regen,
    patchify,
    save_regen,
)

torch.set_num_threads(1)


def _model(k: int = 4, seed: int = 0) -> RegenModel:
    torch.manual_seed(seed)
    return RegenModel(replace(TINY_REGEN_CONFIG, k=k)).eval()


def _trained_outputs(model: RegenModel) -> RegenModel:
    """The output layers start at zero (DiT practice); give them weights as the first updates would."""
    with torch.no_grad():
        for layer in (model.dit.head, model.skip):
            layer.weight.normal_(0, 0.02)
            layer.bias.normal_(0, 0.02)
    return model


def _video(k: int, h: int = 16, w: int = 24, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, k + 1, h, w, generator=g) * 2 - 1


@pytest.mark.parametrize("k", [4, 8, 16, 32])
def test_k_plus_one_frames_become_two_latent_frames_at_one_eighth_size(k: int) -> None:
    with torch.no_grad():
        z_c, z_m = _model(k).encode(_video(k))
    assert z_c.shape == z_m.shape == (2, 8, 2, 3)


def test_content_latent_depends_only_on_the_first_frame() -> None:
    model, v = _model(8), _video(8)
    later = v.clone()
    later[:, :, 1:] = torch.rand_like(later[:, :, 1:]) * 2 - 1  # frames 1..k replaced
    first = v.clone()
    first[:, :, 0] = -first[:, :, 0]  # frame 0 changed
    with torch.no_grad():
        zc, zm = model.encode(v)
        zc_later, zm_later = model.encode(later)
        zc_first, _ = model.encode(first)
    assert torch.equal(zc, zc_later)  # causal: bit-identical
    assert (zm - zm_later).abs().max() > 1e-3  # the motion latent does see the later frames
    assert (zc - zc_first).abs().max() > 1e-3


def test_decoder_has_no_positional_encoding_of_its_own() -> None:
    """Permuting tokens and conditioning together permutes the output: only the conditioning says where."""
    model = _trained_outputs(_model())
    g = torch.Generator().manual_seed(3)
    n, d = 24, TINY_REGEN_CONFIG.dit_hidden
    tokens, cond = torch.randn(1, n, 192, generator=g), torch.randn(1, n, d, generator=g)
    t = torch.tensor([0.7])
    perm = torch.randperm(n, generator=g)
    with torch.no_grad():
        out = model.dit(tokens, cond, t)
        out_perm = model.dit(tokens[:, perm], cond[:, perm], t)
        out_other = model.dit(tokens, cond.roll(1, dims=1), t)
    torch.testing.assert_close(out_perm, out[:, perm], atol=1e-5, rtol=1e-5)
    assert (out_other - out).abs().max() > 1e-3  # same tokens, other conditioning: other output


def test_moving_the_latents_moves_the_decoded_content() -> None:
    """Rolling z by one latent cell rolls the prediction by 8 pixels: no absolute position anywhere.

    Exact for the DiT; the read-out's 16-pixel windows see the (replicated) edge, so the check is on the
    patch column whose windows never reach the edge or the wrapped column.
    """
    model, v = _trained_outputs(_model()), _video(4, 24, 32)
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        z_c, z_m = model.encode(v)
        times = torch.arange(5.0)
        x_t = torch.randn(2, 5, 3, 24, 32, generator=g)
        t = torch.full((2,), 0.6)
        out = model.velocity(x_t, t, model.condition(z_c, z_m, times, (24, 32)))
        rolled = model.velocity(x_t.roll(8, dims=-1), t,
                                model.condition(z_c.roll(1, dims=-1), z_m.roll(1, dims=-1), times, (24, 32)))
    torch.testing.assert_close(rolled[..., 16:24], out.roll(8, dims=-1)[..., 16:24], atol=1e-5, rtol=1e-5)
    assert (rolled - out).abs().max() > 1e-3  # the conditioning does move the output


def test_decode_returns_the_frames_asked_for_at_any_size_and_time() -> None:
    model, v = _model(), _video(4)
    with torch.no_grad():
        z_c, z_m = model.encode(v)
    grid = model.decode(z_c, z_m, torch.arange(5.0), 1, (16, 24), torch.Generator().manual_seed(0))
    between = model.decode(z_c, z_m, torch.tensor([0.5, 1.25, 3.5]), 3, (16, 24), torch.Generator().manual_seed(0))
    bigger = model.decode(z_c, z_m, torch.tensor([2.0]), 2, (32, 48), torch.Generator().manual_seed(0))
    again = model.decode(z_c, z_m, torch.arange(5.0), 1, (16, 24), torch.Generator().manual_seed(0))
    assert grid.shape == (2, 5, 3, 16, 24)
    assert between.shape == (2, 3, 3, 16, 24)
    assert bigger.shape == (2, 1, 3, 32, 48)
    assert grid.abs().max() <= 1
    torch.testing.assert_close(grid, again)  # the seeded sampler is deterministic
    with pytest.raises(ValueError, match="multiples of 8"):
        model.decode(z_c, z_m, torch.arange(5.0), 1, (20, 24))
    with pytest.raises(ValueError, match="at least 1 step"):
        model.decode(z_c, z_m, torch.arange(5.0), 0, (16, 24))


def test_loss_is_finite_and_reaches_every_part(tmp_path) -> None:
    model = _trained_outputs(_model())
    model.train()
    loss = model.loss(_video(4), generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss)
    for part in (model.encoder, model.cpe, model.dit):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())
    path = save_regen(model, tmp_path / "m.safetensors", {"step": "7"})
    loaded, meta = load_regen(path)
    assert meta["step"] == "7" and loaded.config == model.config
    tok = patchify(_video(4).transpose(1, 2), 8)
    assert tok.shape == (2, 5 * 2 * 3, 192)


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="k=5"):
        RegenConfig(k=5)
    with pytest.raises(ValueError, match="patch size 8"):
        RegenConfig(patch=4)
    assert default_config(16, tiny=True).k == 16
    assert default_config(8, tiny=False).dit_depth == 24
